"""The steps of ``paperdeck preview``: read the vault, render stale figures, build the deck,
read its cards back from a real Anki collection, write the page.

The build is ``paperdeck build``'s own (:func:`~paperdeck.build.read_vault`,
:func:`~paperdeck.build.collect_deck`, :func:`~paperdeck.anki.apkg.write_apkg`) except that
no ID is written into a note and no deck into ``cards/``: a preview changes nothing the
user keeps (figures apart, which it draws as ``paperdeck figures`` would).
"""

from __future__ import annotations

from dataclasses import dataclass, field, replace
from pathlib import Path

from paperdeck.build import collect_deck, figure_paths, read_vault
from paperdeck.cards.note_render import card_guid
from paperdeck.config import Config
from paperdeck.diagnostics import Diagnostic, PaperdeckError, has_errors
from paperdeck.figures.cache import render as render_figures
from paperdeck.figures.spec import FigureSpec
from paperdeck.fileio import atomic_write_bytes, check_output_path
from paperdeck.preview.assets import anki_version, copy_assets, find_anki_assets, install_command
from paperdeck.preview.cards import CardView, read_cards
from paperdeck.preview.page import card_documents, preview_page


class NoteNotInVault(PaperdeckError):
    """``--note`` names a file that is not one of the vault's notes."""


@dataclass
class PreviewResult:
    """What ``paperdeck preview`` did."""

    page: Path
    files: Path
    """The folder next to the page with the media and Anki's files."""
    cards: list[CardView] = field(default_factory=list)
    diagnostics: list[Diagnostic] = field(default_factory=list)
    rendered: list[FigureSpec] = field(default_factory=list)
    anki_assets: bool = False
    """Anki's MathJax and reviewer CSS were found (``aqt`` is installed)."""
    written: bool = False


def files_folder(page: Path) -> Path:
    """``cards/notes-preview_files`` for ``cards/notes-preview.html``, as browsers save pages."""
    return page.with_name(f"{page.stem}_files")


def missing_assets_notice() -> str:
    """What the page and the command say when ``aqt`` is not installed."""
    return (
        "Anki's MathJax and reviewer CSS were not found, so math shows as TeX source and the "
        f"styles only approximate Anki's. Install them with `{install_command(anki_version())}` "
        "(the aqt package without Qt), then preview again."
    )


def make_preview(
    root: Path,
    page: Path,
    config: Config,
    *,
    note: Path | None = None,
    strict: bool = False,
) -> PreviewResult:
    """Write the preview page of every card in ``root`` (only ``note``'s, if given).

    Nothing is written when the notes have errors (or warnings, with ``strict``). Raises
    :class:`NoteNotInVault` if ``note`` is not one of the vault's notes, and the
    :class:`~paperdeck.diagnostics.PaperdeckError` of a figure that cannot be drawn or a
    collection that cannot be made.
    """
    check_output_path(page)
    result = PreviewResult(page, files_folder(page))
    vault = read_vault(root, config)
    sources = vault.sources
    diagnostics = vault.diagnostics
    if note is not None:
        wanted = note.resolve()
        sources = [s for s in sources if s.path.resolve() == wanted]
        diagnostics = [d for d in diagnostics if Path(d.path).resolve() == wanted]
        if not sources and not has_errors(diagnostics):
            raise NoteNotInVault(f"{note} is not a note of this vault (or it is ignored)")
    result.diagnostics.extend(diagnostics)
    if has_errors(result.diagnostics, strict=strict):
        return result
    figures_dir = Path(config.figures_dir)
    result.rendered = render_figures(vault.figures, figures_dir)
    content = collect_deck(
        replace(vault, sources=sources), config, figure_paths(vault, figures_dir)
    )
    result.diagnostics.extend(content.diagnostics)
    if has_errors(result.diagnostics, strict=strict):
        return result
    places = {
        card_guid(card, source.rel): f"{source.note.path}:{card.line}"
        for source in sources
        for card in source.note.cards
    }
    result.cards = read_cards(content.notes, sorted(content.media.items()), places, result.files)
    assets = find_anki_assets()
    if assets is not None:
        copy_assets(assets, result.files)
    result.anki_assets = assets is not None
    for name, document in card_documents(result.cards, anki=result.anki_assets).items():
        atomic_write_bytes(result.files / name, document.encode("utf-8"))
    html = preview_page(
        result.cards,
        title=f"paperdeck preview: {root.resolve().name}",
        files=result.files.name,
        notice="" if result.anki_assets else missing_assets_notice(),
    )
    atomic_write_bytes(page, html.encode("utf-8"))
    result.written = True
    return result
