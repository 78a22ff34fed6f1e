"""From a vault on disk to a complete ``.apkg``: the steps of ``paperdeck build``.

Each step takes data and returns data plus diagnostics; only :func:`write_missing_ids`
and :func:`write_deck` touch the disk, and both replace files atomically.
"""

from __future__ import annotations

import hashlib
import html
import os
import time
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field, replace
from pathlib import Path, PurePosixPath
from urllib.parse import quote

from paperdeck.anki_deck import (
    AnkiNote,
    NoteKind,
    guid_for,
    keep_unchanged_mods,
    read_apkg_notes,
    write_apkg,
)
from paperdeck.cloze import highlights_to_clozes
from paperdeck.config import Config
from paperdeck.diagnostics import Diagnostic, error, has_errors, warning
from paperdeck.figures.cache import Progress
from paperdeck.figures.cache import render as render_figures
from paperdeck.figures.spec import FigureSpec, duplicate_name_errors, read_figure_specs
from paperdeck.fileio import atomic_path, atomic_write_bytes
from paperdeck.ids import insert_ids, new_ids
from paperdeck.media import OutsideVault, VaultIndex, find_embeds, media_name
from paperdeck.model import Card, Note
from paperdeck.parse import card_ids, parse_note
from paperdeck.render import render_field
from paperdeck.tags import anki_tag, unique
from paperdeck.vault import SourceNote, list_vault_files, load_note


@dataclass
class Vault:
    """Every note of a vault, parsed, with what was wrong with them."""

    root: Path
    files: list[PurePosixPath]
    sources: list[SourceNote]
    diagnostics: list[Diagnostic] = field(default_factory=list)
    figures: list[FigureSpec] = field(default_factory=list)
    """Figure specs from every note, checked."""

    @property
    def cards(self) -> int:
        return sum(len(s.note.cards) for s in self.sources)


def read_vault(root: Path, config: Config) -> Vault:
    """Parse every ``.md`` note under ``root`` (minus ignored ones) and check IDs are unique."""
    ignore = (*config.ignore, *config.extra_ignore)
    files = list_vault_files(root, ignore)
    vault = Vault(root, files, [])
    for rel in files:
        if rel.suffix.lower() != ".md":
            continue
        source, diagnostics = load_note(root, rel, highlight_cloze=config.highlight_cloze)
        vault.diagnostics.extend(diagnostics)
        if source is not None:
            vault.sources.append(source)
            specs, problems = read_figure_specs(source.note)
            vault.figures.extend(specs)
            vault.diagnostics.extend(problems)
    vault.diagnostics.extend(duplicate_id_errors([s.note for s in vault.sources]))
    vault.diagnostics.extend(duplicate_name_errors(vault.figures))
    return vault


def figure_paths(vault: Vault, figures_dir: Path) -> dict[str, Path]:
    """Where each figure the vault defines lives (or will, once rendered), by embed name."""
    return {spec.name: figures_dir / spec.name for spec in vault.figures}


def duplicate_id_errors(notes: Sequence[Note]) -> list[Diagnostic]:
    """Two cards with one ID would be one Anki note: an error at each place, naming the other."""
    found: list[Diagnostic] = []
    for card_id, places in card_ids(notes).items():
        if len(places) < 2:
            continue
        for path, line in places:
            others = ", ".join(f"{p}:{n}" for p, n in places if (p, n) != (path, line))
            found.append(error(path, line, f"duplicate card ID {card_id} (also at {others})"))
    return found


@dataclass(frozen=True)
class IdWriteResult:
    """What :func:`write_missing_ids` did."""

    written: list[tuple[str, int, int]]
    """(note path, card line, new ID) for each ID written into a note."""
    diagnostics: list[Diagnostic]


def write_missing_ids(
    vault: Vault, *, write: bool, now_ms: int | None = None, highlight_cloze: bool = False
) -> IdWriteResult:
    """Give each card without an ID a new one, written back into its note atomically.

    With ``write=False``, or for a read-only note, nothing is written and each such card is
    reported. The vault's sources are replaced by the re-read notes.
    """
    taken = set(card_ids([s.note for s in vault.sources]))
    fresh = new_ids(taken, now_ms=now_ms)
    written: list[tuple[str, int, int]] = []
    diagnostics: list[Diagnostic] = []
    for index, source in enumerate(vault.sources):
        missing = [c for c in source.note.cards if c.card_id is None]
        if not missing:
            continue
        shown = source.note.path
        if not write or not os.access(source.path, os.W_OK):
            why = "--no-write" if not write else "the note is read-only"
            diagnostics.extend(
                warning(shown, c.line, f"card has no ID yet (not written: {why})") for c in missing
            )
            continue
        assigned = {c.end_line: next(fresh) for c in missing}
        new_text = insert_ids(source.text, assigned)
        new_note, problems = parse_note(new_text, path=shown, highlight_cloze=highlight_cloze)
        expected = [c.card_id or assigned[c.end_line] for c in source.note.cards]
        if problems or [c.card_id for c in new_note.cards] != expected:
            diagnostics.append(error(shown, missing[0].line, "could not add IDs safely; unchanged"))
            continue
        atomic_write_bytes(source.path, new_text.encode("utf-8"))
        vault.sources[index] = replace(
            source,
            data=new_text.encode("utf-8"),
            text=new_text,
            note=new_note,
            mtime=source.path.stat().st_mtime,
        )
        written.extend((shown, c.line, assigned[c.end_line]) for c in missing)
    return IdWriteResult(written, diagnostics)


@dataclass
class DeckContent:
    """The Anki notes and media files a deck will hold."""

    notes: list[AnkiNote] = field(default_factory=list)
    media: dict[str, Path] = field(default_factory=dict)
    diagnostics: list[Diagnostic] = field(default_factory=list)


def deck_name(note: Note, rel: PurePosixPath, config: Config) -> str:
    """Front matter ``deck:`` wins, then the vault's ``deck`` template, then ``Papers::<Title>``."""
    title = note.meta.title or rel.stem
    if note.meta.deck:
        return note.meta.deck
    if config.deck:
        return config.deck.format(title=title, folder=rel.parent.as_posix().strip("."))
    return f"{config.deck_prefix}::{title}" if config.deck_prefix else title


def note_tags(note: Note) -> tuple[str, ...]:
    """Header, front matter and inline tags, Anki-safe; authors as ``author::Name``."""
    tags = [anki_tag(t) for t in (*note.meta.tags, *note.inline_tags)]
    tags += [f"author::{anki_tag(a)}" for a in note.meta.authors]
    return unique(t for t in tags if t)


def source_html(note: Note, rel: PurePosixPath, vault_name: str) -> str:
    """The Source field: title (linked to the paper), authors, year, and a link to the note."""
    meta = note.meta
    title = html.escape(meta.title or rel.stem)
    parts = [f'<a href="{html.escape(meta.link)}">{title}</a>' if meta.link else title]
    if meta.authors:
        parts.append(html.escape(", ".join(a.replace("_", " ") for a in meta.authors)))
    if meta.year:
        parts.append(html.escape(meta.year))
    target = quote(rel.with_suffix("").as_posix(), safe="")
    url = f"obsidian://open?vault={quote(vault_name, safe='')}&file={target}"
    parts.append(f'<a href="{html.escape(url)}">Open in Obsidian</a>')
    return " · ".join(parts)


def collect_deck(vault: Vault, config: Config, generated: Mapping[str, Path]) -> DeckContent:
    """Render every card and resolve its images; missing images are warnings, escapes errors."""
    index = VaultIndex(vault.root, vault.files, generated)
    vault_name = config.vault_name or vault.root.resolve().name
    content = DeckContent()
    for source in vault.sources:
        note, rel = source.note, source.rel
        deck = deck_name(note, rel, config)
        tags = note_tags(note)
        source_field = source_html(note, rel, vault_name)
        for card in note.cards:
            question_md = highlights_to_clozes(card.question) if card.cloze else card.question
            question = _render(question_md, card.line, source, index, content, card.cloze)
            answer = _render(card.answer, card.answer_line, source, index, content, card.cloze)
            content.notes.append(
                AnkiNote(
                    guid=_guid(card, rel),
                    note_id=card.card_id,
                    deck=deck,
                    fields=(question, answer, source_field),
                    tags=unique([*tags, *(anki_tag(t) for t in card.tags)]),
                    mod=int(source.mtime),
                    kind=card_kind(card, note, config),
                )
            )
    return content


def card_kind(card: Card, note: Note, config: Config) -> NoteKind:
    """Which note type a card uses: cloze, both directions (by block, note or vault), or basic."""
    if card.cloze:
        return "cloze"
    return "reversed" if card.reverse or note.meta.reverse or config.reverse else "basic"


def _guid(card: Card, rel: PurePosixPath) -> str:
    if card.card_id is not None:
        return guid_for(card.card_id)
    return guid_for(hash_text(f"{rel.as_posix()}\0{card.question}"))


def hash_text(text: str) -> int:
    """A stable integer for text (Python's ``hash`` is salted per process)."""
    return int.from_bytes(hashlib.sha256(text.encode()).digest()[:8], "big")


def _render(
    markdown: str,
    first_line: int,
    source: SourceNote,
    index: VaultIndex,
    content: DeckContent,
    cloze: bool = False,
) -> str:
    names: dict[str, str | None] = {}
    for embed in find_embeds(markdown):
        line = first_line + embed.line_offset
        try:
            path = index.resolve(embed, source.rel)
        except OutsideVault as exc:
            content.diagnostics.append(error(source.note.path, line, str(exc)))
            names[embed.target] = None
            continue
        if path is None:
            content.diagnostics.append(
                warning(source.note.path, line, f"missing image {embed.target!r}")
            )
            names[embed.target] = None
            continue
        try:
            data = path.read_bytes()
        except OSError as exc:
            if path in index.generated.values():  # `check` does not render figures
                names[embed.target] = path.name
                continue
            problem = f"cannot read image {embed.target!r}: {exc.strerror or exc}"
            content.diagnostics.append(error(source.note.path, line, problem))
            continue
        name = media_name(path, data)
        content.media[name] = path
        names[embed.target] = name
    return render_field(markdown, names, cloze=cloze)


def write_deck(content: DeckContent, out: Path) -> None:
    """Write the deck; the previous file is replaced only once the new one is complete."""
    notes = (
        keep_unchanged_mods(content.notes, read_apkg_notes(out)) if out.exists() else content.notes
    )
    with atomic_path(out) as tmp:
        write_apkg(notes, sorted(content.media.items()), tmp)


@dataclass
class BuildResult:
    """Everything ``paperdeck build`` reports."""

    vault: Vault
    out: Path
    diagnostics: list[Diagnostic]
    ids: IdWriteResult | None = None
    content: DeckContent | None = None
    rendered: list[FigureSpec] = field(default_factory=list)
    wrote_deck: bool = False
    seconds: float = 0.0
    """Wall time of the whole build."""


def build(
    root: Path,
    out: Path,
    config: Config,
    *,
    write_ids: bool = True,
    strict: bool = False,
    progress: Progress | None = None,
) -> BuildResult:
    """Parse, add missing IDs, render stale figures and write the deck.

    Stops at the first step that finds errors, before anything is written.
    """
    started = time.perf_counter()
    result = _build(root, out, config, write_ids=write_ids, strict=strict, progress=progress)
    result.seconds = time.perf_counter() - started
    return result


def _build(
    root: Path,
    out: Path,
    config: Config,
    *,
    write_ids: bool,
    strict: bool,
    progress: Progress | None,
) -> BuildResult:
    vault = read_vault(root, config)
    result = BuildResult(vault, out, list(vault.diagnostics))
    if has_errors(result.diagnostics, strict=strict):
        return result
    figures_dir = Path(config.figures_dir)
    result.rendered = render_figures(vault.figures, figures_dir, progress=progress)
    result.ids = write_missing_ids(vault, write=write_ids, highlight_cloze=config.highlight_cloze)
    result.diagnostics.extend(result.ids.diagnostics)
    if has_errors(result.ids.diagnostics):
        return result
    result.content = collect_deck(vault, config, figure_paths(vault, figures_dir))
    result.diagnostics.extend(result.content.diagnostics)
    if has_errors(result.diagnostics, strict=strict):
        return result
    write_deck(result.content, out)
    result.wrote_deck = True
    return result
