"""From a vault on disk to a complete ``.apkg``: the steps of ``paperdeck build``.

Each step takes data and returns data plus diagnostics; only :func:`write_missing_ids`
and :func:`write_deck` touch the disk, and both replace files atomically.
"""

from __future__ import annotations

import hashlib
import os
import time
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field, replace
from pathlib import Path, PurePosixPath

from paperdeck.anki.apkg import (
    AnkiNote,
    WrittenNote,
    keep_unchanged_mods,
    read_apkg_notes,
    write_apkg,
    written_notes,
)
from paperdeck.buildcache import BuildCache
from paperdeck.cards.media import VaultIndex
from paperdeck.cards.note_render import MediaNames, RenderContext, render_note
from paperdeck.config import Config
from paperdeck.diagnostics import Diagnostic, error, has_errors, warning
from paperdeck.figures.cache import Progress
from paperdeck.figures.cache import render as render_figures
from paperdeck.figures.spec import FigureSpec, duplicate_name_errors, read_figure_specs
from paperdeck.fileio import atomic_path, atomic_write_bytes
from paperdeck.notes.ids import insert_ids_checked, new_ids
from paperdeck.notes.model import Note
from paperdeck.notes.parse import card_ids
from paperdeck.notes.vault import Parser, SourceNote, list_vault_files, load_note, parser

_PROGRESS_EVERY = 100
"""Notes between progress updates (a vault smaller than this shows none)."""


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


def read_vault(
    root: Path,
    config: Config,
    cache: BuildCache | None = None,
    progress: Progress | None = None,
) -> Vault:
    """Parse every ``.md`` note under ``root`` (minus ignored ones) and check IDs are unique."""
    ignore = (*config.ignore, *config.extra_ignore)
    files = list_vault_files(root, ignore)
    vault = Vault(root, files, [])
    flag = config.highlight_cloze
    parse = cache.parser(highlight_cloze=flag) if cache else parser(highlight_cloze=flag)
    notes = [rel for rel in files if rel.suffix.lower() == ".md"]
    for done, rel in enumerate(notes):
        if progress is not None and done % _PROGRESS_EVERY == 0:
            progress("Reading notes", done, len(notes), rel.as_posix())
        source, diagnostics = load_note(root, rel, parse=parse)
        vault.diagnostics.extend(diagnostics)
        if source is not None:
            vault.sources.append(source)
            specs, problems = read_figure_specs(source.note)
            vault.figures.extend(specs)
            vault.diagnostics.extend(problems)
    if progress is not None and len(notes) >= _PROGRESS_EVERY:
        progress("Reading notes", len(notes), len(notes), "")
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
    vault: Vault, *, write: bool, parse: Parser | None = None, now_ms: int | None = None
) -> IdWriteResult:
    """Give each card without an ID a new one, written back into its note atomically.

    With ``write=False``, or for a read-only note, nothing is written and each such card is
    reported. The vault's sources are replaced by the re-read notes.
    """
    taken = set(card_ids([s.note for s in vault.sources]))
    fresh = new_ids(taken, now_ms=now_ms)
    written: list[tuple[str, int, int]] = []
    diagnostics: list[Diagnostic] = []
    parse_one = parse or parser()
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
        checked = insert_ids_checked(
            source.text,
            source.note,
            assigned,
            _reparser(parse_one, source.rel, shown),
        )
        if checked is None:
            diagnostics.append(error(shown, missing[0].line, "could not add IDs safely; unchanged"))
            continue
        new_text, new_note = checked
        new_data = new_text.encode("utf-8")
        atomic_write_bytes(source.path, new_data)
        vault.sources[index] = replace(
            source,
            data=new_data,
            text=new_text,
            note=new_note,
            mtime=source.path.stat().st_mtime,
        )
        written.extend((shown, c.line, assigned[c.end_line]) for c in missing)
    return IdWriteResult(written, diagnostics)


def _reparser(
    parse: Parser, rel: PurePosixPath, shown: str
) -> Callable[[str], tuple[Note, list[Diagnostic]]]:
    """Parse new text of the note at ``rel`` the way the vault was parsed."""
    return lambda text: parse(rel, shown, text.encode("utf-8"), text)


@dataclass
class DeckContent:
    """The Anki notes and media files a deck will hold."""

    notes: list[AnkiNote] = field(default_factory=list)
    media: dict[str, Path] = field(default_factory=dict)
    diagnostics: list[Diagnostic] = field(default_factory=list)


def collect_deck(
    vault: Vault,
    config: Config,
    generated: Mapping[str, Path],
    cache: BuildCache | None = None,
    progress: Progress | None = None,
) -> DeckContent:
    """Render every card and resolve its images; missing images are warnings, escapes errors.

    With a cache, a note whose text, settings and images are as last time is not rendered
    again.
    """
    context = RenderContext(
        config=config,
        vault_name=config.vault_name or vault.root.resolve().name,
        index=VaultIndex(vault.root, vault.files, generated),
        media_names=cache.media_names if cache is not None else MediaNames(),
    )
    settings = context.fingerprint()
    content = DeckContent()
    for done, source in enumerate(vault.sources):
        if progress is not None and done % _PROGRESS_EVERY == 0:
            progress("Rendering cards", done, len(vault.sources), source.rel.as_posix())
        rendered = cache.rendered(source, settings, context) if cache is not None else None
        mod = int(source.mtime)
        if rendered is None or any(n.mod != mod for n in rendered.notes):
            rendered = rendered or render_note(source, context)
            rendered = replace(rendered, notes=[replace(n, mod=mod) for n in rendered.notes])
            if cache is not None:
                cache.remember_render(source, settings, rendered)
        content.notes.extend(rendered.notes)
        content.media.update(rendered.media)
        content.diagnostics.extend(rendered.diagnostics)
    if progress is not None and len(vault.sources) >= _PROGRESS_EVERY:
        progress("Rendering cards", len(vault.sources), len(vault.sources), "")
    return content


def deck_fingerprint(content: DeckContent) -> str:
    """A hash of everything that goes into the package (mods as their sources give them)."""
    digest = hashlib.sha256()
    for note in sorted(content.notes, key=lambda n: n.guid):
        digest.update(repr(note).encode())
    for name, path in sorted(content.media.items()):
        digest.update(f"{name}\0{path}\0".encode())
    return digest.hexdigest()


def write_deck(
    content: DeckContent, out: Path, previous: Mapping[str, WrittenNote] | None = None
) -> dict[str, WrittenNote]:
    """Write the deck; the previous file is replaced only once the new one is complete.

    ``previous`` is what the last build wrote to ``out`` (read from ``out`` when not given);
    unchanged notes keep their ``mod``. Returns what this build wrote.
    """
    if previous is None:
        previous = read_apkg_notes(out) if out.exists() else {}
    notes = keep_unchanged_mods(content.notes, previous)
    with atomic_path(out) as tmp:
        write_apkg(notes, sorted(content.media.items()), tmp)
    return written_notes(notes)


def _output_stamp(out: Path) -> str:
    try:
        stat = out.stat()
    except OSError:
        return ""
    return f"{out.resolve()}\0{stat.st_size}\0{stat.st_mtime_ns}"


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
    up_to_date: bool = False
    """The deck on disk already held exactly this content, so it was left as it was."""
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
    use_cache: bool = True,
) -> BuildResult:
    """Parse, add missing IDs, render stale figures and write the deck.

    Stops at the first step that finds errors, before anything is written. With
    ``use_cache``, unchanged notes are neither parsed nor rendered again, and a deck that
    would come out the same is not rewritten.
    """
    started = time.perf_counter()
    cache = BuildCache.load(root) if use_cache else None
    result = _build(
        root, out, config, write_ids=write_ids, strict=strict, progress=progress, cache=cache
    )
    if cache is not None:
        cache.save({s.rel.as_posix() for s in result.vault.sources})
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
    cache: BuildCache | None,
) -> BuildResult:
    vault = read_vault(root, config, cache, progress)
    result = BuildResult(vault, out, list(vault.diagnostics))
    if has_errors(result.diagnostics, strict=strict):
        return result
    figures_dir = Path(config.figures_dir)
    result.rendered = render_figures(vault.figures, figures_dir, progress=progress)
    flag = config.highlight_cloze
    parse = cache.parser(highlight_cloze=flag) if cache else parser(highlight_cloze=flag)
    result.ids = write_missing_ids(vault, write=write_ids, parse=parse)
    result.diagnostics.extend(result.ids.diagnostics)
    if has_errors(result.ids.diagnostics):
        return result
    generated = figure_paths(vault, figures_dir)
    result.content = collect_deck(vault, config, generated, cache, progress)
    result.diagnostics.extend(result.content.diagnostics)
    if has_errors(result.diagnostics, strict=strict):
        return result
    fingerprint, stamp = deck_fingerprint(result.content), _output_stamp(out)
    known = cache is not None and cache.deck[1] == stamp and stamp != ""
    if cache is not None and known and cache.deck[0] == fingerprint:
        result.wrote_deck = result.up_to_date = True
        return result
    written = write_deck(result.content, out, cache.written if cache and known else None)
    result.wrote_deck = True
    if cache is not None:
        cache.deck, cache.written = (fingerprint, _output_stamp(out)), written
        cache.changed = True
    return result
