"""From a vault on disk to a complete ``.apkg``: the steps of ``paperdeck build``.

Each step takes data and returns data plus diagnostics. Nothing is written until every
step has succeeded; then :func:`commit_ids` writes new IDs into the notes (each only if
unchanged since it was read) and the deck replaces the old one atomically, all under the
vault's lock.
"""

from __future__ import annotations

import hashlib
import os
import time
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass, field, replace
from pathlib import Path, PurePosixPath

from paperdeck.anki.apkg import (
    AnkiNote,
    content_digest,
    keep_unchanged_mods,
    note_types,
    settle_type_mods,
    type_digest,
    write_apkg,
)
from paperdeck.buildcache import BuildCache
from paperdeck.cards.media import VaultIndex
from paperdeck.cards.note_render import MediaNames, RenderContext, render_note
from paperdeck.config import Config
from paperdeck.diagnostics import Diagnostic, error, has_errors, warning
from paperdeck.figures.cache import MANIFEST, Progress
from paperdeck.figures.cache import render as render_figures
from paperdeck.figures.spec import FigureSpec, duplicate_name_errors, read_figure_specs
from paperdeck.fileio import (
    atomic_path,
    check_output_path,
    remove_if_stale_temp,
    remove_stale_temps,
    replace_if_unchanged,
)
from paperdeck.notes.ids import assign_ids, insert_ids_checked, new_ids
from paperdeck.notes.lock import STATE_DIR, vault_lock
from paperdeck.notes.model import Note
from paperdeck.notes.parse import card_ids
from paperdeck.notes.state import CardState
from paperdeck.notes.vault import (
    NOTE_SUFFIX,
    Parser,
    SourceNote,
    display_path,
    hard_link_warning,
    load_note,
    parser,
    scan_vault,
)

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
    *,
    remove_temps: bool = False,
) -> Vault:
    """Parse every ``.md`` note under ``root`` (minus ignored ones) and check IDs are unique.

    With ``remove_temps`` (only under the vault's lock), temporary files that a killed run
    left in the vault are deleted.
    """
    ignore = (*config.ignore, *config.extra_ignore)
    files, scanned = scan_vault(root, ignore)
    if remove_temps:
        files = [rel for rel in files if not remove_if_stale_temp(root / rel)]
    vault = Vault(root, files, [], scanned)
    options = config.parse_options()
    parse = cache.parser(options) if cache else parser(options)
    notes = [rel for rel in files if rel.suffix.lower() == NOTE_SUFFIX]
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
class IdWrite:
    """A note that gets new IDs: the file as it was read, and as it will be written."""

    before: SourceNote
    after: SourceNote
    ids: tuple[tuple[int, int], ...]
    """(card line, new ID) for each card that gets one."""


@dataclass(frozen=True)
class IdPlan:
    """The IDs chosen for cards that had none, not yet written into their notes."""

    writes: list[IdWrite]
    diagnostics: list[Diagnostic]


def plan_ids(
    vault: Vault,
    *,
    write: bool,
    parse: Parser | None = None,
    taken: Iterable[int] = (),
    now_ms: int | None = None,
) -> IdPlan:
    """Choose an ID for each card that has none and the note text holding it; write nothing.

    The vault's sources are replaced by the planned ones, so the deck is rendered with the
    IDs the notes will hold; :func:`commit_ids` writes them once the whole build is known
    to succeed. With ``write=False``, or for a note that cannot be written, each card
    without an ID is reported and keeps none. ``taken`` are IDs to avoid besides the
    vault's own (a collection's note ids).
    """
    fresh = new_ids({*card_ids([s.note for s in vault.sources]), *taken}, now_ms=now_ms)
    writes: list[IdWrite] = []
    diagnostics: list[Diagnostic] = []
    parse_one = parse or parser()
    for index, source in enumerate(vault.sources):
        missing = [c for c in source.note.cards if c.card_id is None]
        if not missing:
            continue
        shown = source.note.path
        why = "--no-write" if not write else _unwritable(source.path)
        if why:
            diagnostics.extend(
                warning(shown, c.line, f"card has no ID yet (not written: {why})") for c in missing
            )
            continue
        assigned = assign_ids(missing, fresh)
        checked = insert_ids_checked(
            source.text, source.note, assigned, _reparser(parse_one, source.rel, shown)
        )
        if checked is None:
            diagnostics.append(error(shown, missing[0].line, "could not add IDs safely; unchanged"))
            continue
        new_text, new_note = checked
        after = replace(source, data=new_text.encode("utf-8"), text=new_text, note=new_note)
        ids = tuple(
            (old.line, new.card_id)
            for old, new in zip(source.note.cards, new_note.cards, strict=True)
            if old.card_id is None and new.card_id is not None
        )
        writes.append(IdWrite(source, after, ids))
        vault.sources[index] = after
    return IdPlan(writes, diagnostics)


def _reparser(
    parse: Parser, rel: PurePosixPath, shown: str
) -> Callable[[str], tuple[Note, list[Diagnostic]]]:
    """Parse new text of the note at ``rel`` the way the vault was parsed."""
    return lambda text: parse(rel, shown, text.encode("utf-8"), text)


def _unwritable(path: Path) -> str:
    """Why the note at ``path`` cannot be replaced, or ``""``: the file and its folder must
    be writable (a symlinked note is written where it points), and it must have no other
    hard links, which an atomic rename would silently separate from it."""
    target = Path(os.path.realpath(path))
    if not os.access(target, os.W_OK):
        return "the note is read-only"
    try:
        linked = hard_link_warning(target, target.stat())
    except OSError as exc:
        return f"cannot inspect it: {exc.strerror or exc}"
    if linked:
        return linked
    if not os.access(target.parent, os.W_OK | os.X_OK):
        return f"its folder {display_path(target.parent)} is read-only"
    return ""


@dataclass
class IdWriteResult:
    """What :func:`commit_ids` did."""

    written: list[tuple[str, int, int]] = field(default_factory=list)
    """(note path, card line, new ID) for each ID written into a note."""
    changed: list[IdWrite] = field(default_factory=list)
    """Notes that were edited since they were read: left alone, to be read again."""
    diagnostics: list[Diagnostic] = field(default_factory=list)


def commit_ids(plan: IdPlan) -> IdWriteResult:
    """Write the planned IDs, each note only if it is still exactly what was read.

    A note edited in the meantime is left as it is and listed in ``changed``; the caller
    reads it again rather than overwrite the edit.
    """
    result = IdWriteResult()
    for item in plan.writes:
        shown = item.before.note.path
        try:
            done = replace_if_unchanged(item.before.path, item.before.data, item.after.data)
        except OSError as exc:
            why = exc.strerror or str(exc)
            result.diagnostics.append(error(shown, item.ids[0][0], f"cannot write IDs: {why}"))
            continue
        if done:
            result.written.extend((shown, line, card_id) for line, card_id in item.ids)
        else:
            result.changed.append(item)
    return result


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


def deck_fingerprint(
    notes: Sequence[AnkiNote], media: Mapping[str, Path], type_mods: Mapping[int, int]
) -> str:
    """A hash of everything that goes into the package."""
    digest = hashlib.sha256(repr(sorted(type_mods.items())).encode())
    for note in sorted(notes, key=lambda n: n.guid):
        digest.update(repr(note).encode())
    for name, path in sorted(media.items()):
        digest.update(f"{name}\0{path}\0".encode())
    return digest.hexdigest()


def settle_mods(notes: Sequence[AnkiNote], state: CardState) -> list[AnkiNote]:
    """Each note's ``mod`` from the vault's card state: kept while its content is unchanged."""
    previous = {card_id: (r.mod, r.digest) for card_id, r in state.cards.items()}
    return keep_unchanged_mods(notes, previous)


def record_built(notes: Sequence[AnkiNote], state: CardState) -> None:
    """Remember what was built for every card that has an ID."""
    for note in notes:
        if note.note_id is not None:
            state.record(note.note_id, content_digest(note), note.mod)


def settle_types(notes: Sequence[AnkiNote], state: CardState, *, record: bool) -> dict[int, int]:
    """Each note type's ``mod`` from the vault's card state (recorded there when ``record``).

    A changed note type gets the time of this build, so that Anki takes its new templates
    and CSS; without recording, that time would differ on every build, so an unrecorded
    type gets the newest note's time instead.
    """
    types = note_types(notes)
    previous = {model_id: (r.mod, r.digest) for model_id, r in state.types.items()}
    now = int(time.time()) if record else max((n.mod for n in notes), default=0)
    mods = settle_type_mods(types, previous, now)
    if record:
        for model_id, note_type in types.items():
            state.record_type(model_id, type_digest(note_type), mods[model_id])
    return mods


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


WRITE_ATTEMPTS = 3
"""Builds in a row that may find a note edited while its IDs were being written."""


def build(
    root: Path,
    out: Path,
    config: Config,
    *,
    write_ids: bool = True,
    strict: bool = False,
    progress: Progress | None = None,
    use_cache: bool = True,
    on_wait: Callable[[str], None] | None = None,
) -> BuildResult:
    """Parse, add missing IDs, render stale figures and write the deck, holding the vault lock.

    Nothing is written unless the whole build succeeds: IDs go into the notes only once the
    deck is known to be complete, and a note edited meanwhile is never overwritten (the
    build starts again, reading it anew). With ``use_cache``, unchanged notes are neither
    parsed nor rendered again, and a deck that would come out the same is not rewritten.
    ``on_wait`` is told who holds the vault's lock when this has to wait for it.
    Raises :class:`OutputPathError` for an output that is not a regular file.
    """
    started = time.perf_counter()
    check_output_path(out)
    with vault_lock(root, command="build", on_wait=on_wait):
        remove_stale_temps(out.parent, targets=[out.name])
        cache, problems = BuildCache.load(root) if use_cache else (None, [])
        state = CardState.load(root)
        for attempt in range(1, WRITE_ATTEMPTS + 1):
            result = _build(
                root,
                out,
                config,
                write_ids=write_ids,
                strict=strict,
                progress=progress,
                cache=cache,
                state=state,
            )
            changed = result.ids.changed if result.ids is not None else []
            if not changed:
                break
            if attempt == WRITE_ATTEMPTS:
                result.diagnostics.extend(
                    error(
                        c.before.note.path,
                        c.ids[0][0],
                        f"the note was edited while its IDs were being written "
                        f"({WRITE_ATTEMPTS} times); left as it is, deck not written",
                    )
                    for c in changed
                )
        if result.wrote_deck and write_ids and state.changed:
            problems += save_state(root, state)
        if cache is not None:
            problems += cache.save({s.rel.as_posix() for s in result.vault.sources})
    result.diagnostics.extend(problems)
    result.seconds = time.perf_counter() - started
    return result


def save_state(root: Path, state: CardState) -> list[Diagnostic]:
    """Save the vault's card state; a warning, not a failure, when it cannot be written."""
    try:
        state.save(root)
    except OSError as exc:
        shown = display_path(root / STATE_DIR)
        why = exc.strerror or str(exc)
        message = f"card state not saved ({why}); unchanged cards may be updated in Anki once"
        return [warning(shown, 0, message)]
    return []


def _build(
    root: Path,
    out: Path,
    config: Config,
    *,
    write_ids: bool,
    strict: bool,
    progress: Progress | None,
    cache: BuildCache | None,
    state: CardState,
) -> BuildResult:
    vault = read_vault(root, config, cache, progress, remove_temps=True)
    result = BuildResult(vault, out, list(vault.diagnostics))
    if has_errors(result.diagnostics, strict=strict):
        return result
    options = config.parse_options()
    parse = cache.parser(options) if cache else parser(options)
    planned = plan_ids(vault, write=write_ids, parse=parse)
    result.diagnostics.extend(planned.diagnostics)
    if has_errors(planned.diagnostics):
        return result
    figures_dir = Path(config.figures_dir)
    remove_stale_temps(figures_dir, targets=[MANIFEST, *(spec.name for spec in vault.figures)])
    result.rendered = render_figures(vault.figures, figures_dir, progress=progress)
    generated = figure_paths(vault, figures_dir)
    result.content = collect_deck(vault, config, generated, cache, progress)
    result.diagnostics.extend(result.content.diagnostics)
    if has_errors(result.diagnostics, strict=strict):
        return result
    result.ids = commit_ids(planned)
    result.diagnostics.extend(result.ids.diagnostics)
    if result.ids.changed or has_errors(result.ids.diagnostics):
        return result
    notes = settle_mods(result.content.notes, state)
    result.content.notes = notes
    if write_ids:
        record_built(notes, state)
    type_mods = settle_types(notes, state, record=write_ids)
    fingerprint = deck_fingerprint(notes, result.content.media, type_mods)
    stamp = _output_stamp(out)
    if cache is not None and stamp != "" and cache.deck == (fingerprint, stamp):
        result.wrote_deck = result.up_to_date = True
        return result
    with atomic_path(out) as tmp:
        write_apkg(notes, sorted(result.content.media.items()), tmp, type_mods)
    result.wrote_deck = True
    if cache is not None:
        cache.deck = (fingerprint, _output_stamp(out))
        cache.changed = True
    return result
