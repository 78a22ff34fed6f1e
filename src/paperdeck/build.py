"""From a vault on disk to a complete ``.apkg``: the steps of ``paperdeck build``.

Each step takes data and returns data plus diagnostics. Nothing is written until every
step has succeeded; then :func:`commit_ids` writes new IDs into the notes (each only if
unchanged since it was read) and the deck replaces the old one atomically, all under the
vault's lock.

A build costs what changed: notes are read through a cache (:mod:`paperdeck.vaultread`),
a note whose parse, settings and embeds are unchanged is not rendered again, notes are
parsed and rendered on every core (:mod:`paperdeck.buildwork`), and when nothing the last
build depended on changed (:mod:`paperdeck.uptodate`) the build is over once file stamps
are compared, with no parse or rendering loaded.
"""

from __future__ import annotations

import contextlib
import hashlib
import os
import time
from collections.abc import Callable, Iterable, Iterator, Mapping, Sequence
from dataclasses import dataclass, field, replace
from pathlib import Path, PurePosixPath
from typing import TYPE_CHECKING

from paperdeck.buildcache import BuildCache, Known, LastBuild, dumps, loads
from paperdeck.buildwork import (
    RenderJob,
    available_cores,
    fewer_collections,
    run_renders,
    summarize,
    unpickled_rendering,
)
from paperdeck.cards.macros.source import MacrosFile, read_macros_file
from paperdeck.cards.media import Embed, MediaNames, OutsideVault, VaultIndex
from paperdeck.citations.load import BibFiles, read_bibliography
from paperdeck.config import Config
from paperdeck.diagnostics import Diagnostic, error, has_errors, warning
from paperdeck.fileio import (
    check_output_path,
    remove_stale_temps,
    replace_if_unchanged,
)
from paperdeck.notes.lock import STATE_DIR, state_dir, vault_lock
from paperdeck.notes.model import Note
from paperdeck.notes.state import STATE_NAME, CardState
from paperdeck.notes.vault import (
    Parser,
    SourceNote,
    display_path,
    file_stamp,
    hard_link_warning,
    parser,
)
from paperdeck.uptodate import file_check, inputs_digest, still_holds
from paperdeck.vaultread import (
    PROGRESS_EVERY,
    Deferred,
    Scan,
    Vault,
    all_card_ids,
    figure_paths,
    has_missing,
    look,
    read_changed,
    read_vault,
    scan_notes,
    vouch_by_content,
)

if TYPE_CHECKING:
    from paperdeck.anki.apkg import AnkiNote
    from paperdeck.cards.note_render import RenderContext, RenderedNote
    from paperdeck.deckrecord import DeckLedger
    from paperdeck.figures.cache import Progress
    from paperdeck.figures.spec import FigureSpec

__all__ = ["Vault", "figure_paths", "read_vault"]


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
    from paperdeck.notes.ids import assign_ids, insert_ids_checked, new_ids

    fresh = new_ids({*all_card_ids(vault), *taken}, now_ms=now_ms)
    writes: list[IdWrite] = []
    diagnostics: list[Diagnostic] = []
    parse_one = parse or parser()
    sources = list(vault.sources)
    for index, source in enumerate(sources):
        if not has_missing(vault, source):
            continue
        missing = [c for c in source.note.cards if c.card_id is None]
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
        after = SourceNote(
            source.path, source.rel, new_text.encode("utf-8"), new_text, new_note, source.mtime
        )
        ids = tuple(
            (old.line, new.card_id)
            for old, new in zip(source.note.cards, new_note.cards, strict=True)
            if old.card_id is None and new.card_id is not None
        )
        writes.append(IdWrite(source, after, ids))
        sources[index] = after
        rel = source.rel_text
        if rel in vault.summaries:
            vault.summaries[rel] = summarize(new_note, ())
            vault.parse_keys.pop(rel, None)  # a parse of text no file holds yet
    vault.sources = sources
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
    mtimes: dict[Path, int] = field(default_factory=dict)
    """Each note written (its real path): ``st_mtime_ns`` taken right after the write."""
    digests: dict[Path, str] = field(default_factory=dict)
    """Each note written (its real path): a hash of the bytes written, so that a watcher
    can tell its own write from an edit made just after it (an mtime can be the same)."""


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
            target = Path(os.path.realpath(item.before.path))
            result.digests[target] = hashlib.sha256(item.after.data).hexdigest()
            with contextlib.suppress(OSError):
                result.mtimes[target] = target.stat().st_mtime_ns
        else:
            result.changed.append(item)
    return result


@dataclass
class DeckContent:
    """The Anki notes and media files a deck will hold."""

    notes: Sequence[AnkiNote] = field(default_factory=list)
    media: dict[str, Path] = field(default_factory=dict)
    diagnostics: list[Diagnostic] = field(default_factory=list)
    digests: list[str] = field(default_factory=list, repr=False)
    """The :func:`~paperdeck.anki.apkg.content_digest` of each of ``notes``."""
    embeds: dict[tuple[str, str, str], tuple[tuple[str | None, bool], str]] = field(
        default_factory=dict, repr=False
    )
    """By ``(target, style, folder)``: where each embed points (see :func:`_located`) and
    how it resolved (see :class:`~paperdeck.buildcache.LastBuild`)."""
    ledger: DeckLedger | None = field(default=None, repr=False)
    """With a cache: the deck's notes, note by note (on disk: ``notes`` stays empty until
    :func:`~paperdeck.deckrecord.write_deck`), and what it takes over from the last deck."""


def render_context(
    vault: Vault,
    config: Config,
    generated: Mapping[str, Path],
    cache: BuildCache | None = None,
    *,
    macros: MacrosFile | None = None,
    bibliography: BibFiles | None = None,
) -> RenderContext:
    """What rendering the vault's notes depends on besides each note (one per build);
    ``macros``: the vault's macros file as the build read it (default: read it now), and
    ``bibliography`` its BibTeX files likewise."""
    from paperdeck.cards.note_render import RenderContext
    from paperdeck.citations.load import load_bibliography

    vault_name = config.vault_name or vault.root.resolve().name
    return RenderContext(
        config=config,
        vault_name=vault_name,
        index=VaultIndex(vault.root, vault.files, generated),
        media_names=cache.media_names if cache is not None else MediaNames(),
        tex=(macros or read_macros_file(vault.root, config.macros)).tex,
        bibliography=load_bibliography(vault.root, vault_name, config, bibliography),
    )


def collect_deck(
    vault: Vault,
    config: Config,
    generated: Mapping[str, Path],
    cache: BuildCache | None = None,
    progress: Progress | None = None,
    *,
    processes: int | None = None,
    macros: MacrosFile | None = None,
    bibliography: BibFiles | None = None,
) -> DeckContent:
    """Render every card and resolve its images; missing images are warnings, escapes errors.

    With a cache, a note whose parse, settings and images are as last time is not rendered
    again. The notes to render are rendered on every core (``processes``: at most this many).
    """
    from paperdeck.deckrecord import deck_ledger

    context = render_context(
        vault, config, generated, cache, macros=macros, bibliography=bibliography
    )
    settings = context.fingerprint()
    keys = [vault.parse_keys.get(s.rel_text, "") for s in vault.sources]
    ledger = deck_ledger(vault, keys, settings, context, cache) if cache else None
    kept = ledger.reuse.kept if ledger is not None and ledger.reuse is not None else set()
    reuse = _still_valid(vault, keys, settings, context, cache, kept) if cache else _Reused(None)
    todo = [i for i in range(len(vault.sources)) if i not in reuse and i not in kept]
    jobs = (_render_job(vault.sources[i], keys[i], cache) for i in todo)
    fresh = run_renders(jobs, len(todo), context, processes=processes or available_cores())
    content = DeckContent(diagnostics=list(context.tex.diagnostics), ledger=ledger)  # macros.tex's
    content.diagnostics += context.bibliography.diagnostics  # the .bib files' own
    notes: list[AnkiNote] = []
    total = len(vault.sources)
    for done, source in enumerate(vault.sources):
        if progress is not None and done % PROGRESS_EVERY == 0:
            progress("Rendering cards", done, total, source.rel_text)
        if done in kept:  # as the last deck has it: only its messages are needed here
            assert ledger is not None and ledger.reuse is not None
            content.diagnostics.extend(ledger.reuse.record.diagnostics.get(source.rel_text, ()))
            continue
        rendered, digests = reuse.pop(done, None) or (None, ())
        blob: bytes | None = None  # the rendering to store, pickled; b"": pickle it here
        if rendered is None:
            made = next(fresh)
            rendered, digests = unpickled_rendering(made, context.media_names)
            blob = made.rendered
        mod = int(source.mtime)
        if any(n.mod != mod for n in rendered.notes):
            rendered, blob = _with_mod(rendered, mod), b""
        if blob is not None and cache is not None and keys[done]:
            cache.remember_render(source.rel_text, settings, blob or dumps((rendered, digests)))
        if ledger is not None:  # its notes wait on disk: a vault's 100,000 would not fit
            ledger.take(source.rel_text, keys[done], rendered, digests, source.folder)
        else:
            notes.extend(rendered.notes)
            content.digests.extend(digests)
        content.media.update(rendered.media)
        content.diagnostics.extend(rendered.diagnostics)
        for (target, style), state in rendered.embeds.items():
            key = (target, "md" if style else "wiki", source.folder)
            if key not in content.embeds:
                content.embeds[key] = (_located(context.index, target, style, source.rel), state)
    if progress is not None and total >= PROGRESS_EVERY:
        progress("Rendering cards", total, total, "")
    content.notes = notes
    return content


def _still_valid(
    vault: Vault,
    keys: list[str],
    settings: str,
    context: RenderContext,
    cache: BuildCache,
    skip: set[int],
) -> _Reused:
    """The cached renderings (with their digests) that still stand, by note index: same
    parse and settings, and every embed and link resolving as it did (``skip``: notes not
    to look at)."""
    from paperdeck.cards.note_render import RenderedNote, cached_still_valid

    seen: dict[tuple[str, ...], str | None] = {}
    asked = [i for i in range(len(vault.sources)) if i not in skip]
    wanted = [(vault.sources[i].rel_text, keys[i], settings) for i in asked]
    reuse = _Reused(cache)
    for index, (_, blob) in zip(asked, cache.renderings(wanted), strict=True):
        stored = loads(blob) if blob is not None and keys[index] else None
        if not (isinstance(stored, tuple) and len(stored) == 2):
            continue
        rendered, digests = stored
        if (
            isinstance(rendered, RenderedNote)
            and isinstance(digests, tuple)
            and len(digests) == len(rendered.notes)
            and cached_still_valid(rendered, vault.sources[index], context, seen)
        ):
            reuse.add(index, (vault.sources[index].rel_text, keys[index], settings))
    cache.hits += len(reuse) + len(skip)
    cache.misses += len(asked) - len(reuse)
    return reuse


class _Reused:
    """The cached renderings that still stand, by note index, read again when taken (in
    order, a batch at a time): 20,000 of them would not fit in memory at once."""

    def __init__(self, cache: BuildCache | None) -> None:
        self._cache = cache
        self._wanted: dict[int, tuple[str, str, str]] = {}
        self._order: list[int] = []
        self._next = 0
        self._ahead: dict[int, tuple[RenderedNote, tuple[str, ...]]] = {}

    def add(self, index: int, wanted: tuple[str, str, str]) -> None:
        self._wanted[index] = wanted
        self._order.append(index)

    def __contains__(self, index: object) -> bool:
        return index in self._wanted

    def __len__(self) -> int:
        return len(self._wanted)

    def pop(self, index: int, default: None = None) -> tuple[RenderedNote, tuple[str, ...]] | None:
        if index not in self._wanted:
            return default
        if index not in self._ahead:
            while self._next < len(self._order) and self._order[self._next] < index:
                self._next += 1
            batch = self._order[self._next : self._next + 256]
            wanted = [self._wanted[i] for i in batch]
            assert self._cache is not None  # nothing was added without one
            for i, (_, blob) in zip(batch, self._cache.renderings(wanted), strict=True):
                stored = loads(blob) if blob is not None else None
                if isinstance(stored, tuple) and len(stored) == 2:
                    self._ahead[i] = stored
        del self._wanted[index]
        found = self._ahead.pop(index, None)
        if found is None:  # read a moment ago, under the vault's lock: cannot happen
            raise RuntimeError(f"the build cache lost the rendering of {index}")
        return found


def _located(
    index: VaultIndex, target: str, style: bool, note_rel: PurePosixPath
) -> tuple[str | None, bool]:
    """Where an embed points by its text and the file list (``None``: nowhere, or a path
    that leaves the vault by its text), and whether that is a generated figure."""
    try:
        found = index.locate(Embed(target, 0, style), note_rel)
    except OutsideVault:
        return None, False
    return (os.fspath(found.path), found.generated) if found is not None else (None, False)


def _render_job(source: SourceNote, key: str, cache: BuildCache | None) -> RenderJob:
    rel = source.rel_text
    blob = None
    if cache is not None and key and not source.loaded:
        blob = cache.parse_blob(rel, key)
    if blob is None:
        blob = dumps((source.note, []))
    return RenderJob(rel, os.fspath(source.path), source.mtime, blob)


def _with_mod(rendered: RenderedNote, mod: int) -> RenderedNote:
    if all(n.mod == mod for n in rendered.notes):
        return rendered
    return replace(rendered, notes=[replace(n, mod=mod) for n in rendered.notes])


def settle_mods(
    notes: Sequence[AnkiNote], state: CardState, digests: Sequence[str] | None = None
) -> list[AnkiNote]:
    """Each note's ``mod`` from the vault's card state: kept while its content is unchanged.

    With ``digests`` (each note's content digest), a note whose digest and ``mod`` are
    those the state records is taken as it is, without working anything out again."""
    from paperdeck.anki.apkg import keep_unchanged_mods

    previous = _Previous(state)
    if digests is None:
        return keep_unchanged_mods(notes, previous)
    settled = list(notes)
    todo = []
    for index, (note, said) in enumerate(zip(notes, digests, strict=True)):
        before = state.cards.get(note.note_id) if note.note_id is not None else None
        if before is not None and (before.digest, before.mod) != (said, note.mod):
            todo.append(index)
    settled_now = keep_unchanged_mods([notes[i] for i in todo], previous)
    for index, note in zip(todo, settled_now, strict=True):
        settled[index] = note
    return settled


class _Previous(Mapping[int, tuple[int, str]]):
    """The card state as :func:`~paperdeck.anki.apkg.keep_unchanged_mods` reads it."""

    def __init__(self, state: CardState) -> None:
        self.cards = state.cards

    def __getitem__(self, card_id: int) -> tuple[int, str]:
        record = self.cards[card_id]
        return record.mod, record.digest

    def __iter__(self) -> Iterator[int]:
        return iter(self.cards)

    def __len__(self) -> int:
        return len(self.cards)


def record_built(
    notes: Sequence[AnkiNote], state: CardState, digests: Sequence[str] | None = None
) -> None:
    """Remember what was built for every card that has an ID."""
    from paperdeck.anki.apkg import content_digest

    says = digests if digests is not None else [content_digest(n) for n in notes]
    for note, said in zip(notes, says, strict=True):
        if note.note_id is not None:
            state.record(note.note_id, said, note.mod)


def settle_types(notes: Sequence[AnkiNote], state: CardState, *, record: bool) -> dict[int, int]:
    """Each note type's ``mod`` from the vault's card state (recorded there when ``record``).

    A changed note type gets the time of this build, so that Anki takes its new templates
    and CSS; without recording, that time would differ on every build, so an unrecorded
    type gets the newest note's time instead.
    """
    from paperdeck.anki.apkg import note_types, settle_type_mods, type_digest

    types = note_types(notes)
    previous = {model_id: (r.mod, r.digest) for model_id, r in state.types.items()}
    now = int(time.time()) if record else max((n.mod for n in notes), default=0)
    mods = settle_type_mods(types, previous, now)
    if record:
        for model_id, note_type in types.items():
            state.record_type(model_id, type_digest(note_type), mods[model_id])
    return mods


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
    outcome: LastBuild | None = field(default=None, repr=False)
    """What a later build may take over unchanged (set for a build that kept a deck)."""


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
    processes: int | None = None,
) -> BuildResult:
    """Parse, add missing IDs, render stale figures and write the deck, holding the vault lock.

    Nothing is written unless the whole build succeeds: IDs go into the notes only once the
    deck is known to be complete, and a note edited meanwhile is never overwritten (the
    build starts again, reading it anew). With ``use_cache``, unchanged notes are neither
    read, parsed nor rendered again, and a deck that would come out the same is not
    rewritten (without it, every note is parsed and rendered, and the deck written).
    ``on_wait`` is told who holds the vault's lock when this has to wait for it.
    ``processes`` caps the processes that parse and render (default: one per core).
    Raises :class:`OutputPathError` for an output that is not a regular file.
    """
    started = time.perf_counter()
    check_output_path(out)
    with vault_lock(root, command="build", on_wait=on_wait), fewer_collections():
        remove_stale_temps(out.parent, targets=[out.name])
        cache, problems = BuildCache.load(root) if use_cache else (BuildCache.throwaway(), [])
        try:
            state = _State(root)
            for attempt in range(1, WRITE_ATTEMPTS + 1):
                result, notes = _build(
                    root,
                    out,
                    config,
                    write_ids=write_ids,
                    strict=strict,
                    progress=progress,
                    cache=cache,
                    state=state,
                    processes=processes,
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
            if result.wrote_deck and write_ids and state.loaded and state.get().changed:
                saved = save_state(root, state.get())
                if saved:  # the last deck's record counts on the card state it was built with
                    cache.forget_deck()
                problems += saved
            cache.remember_build(_finished(result, cache.last, root, out))
            problems += cache.save(notes)
        finally:
            cache.close()
    result.diagnostics.extend(problems)
    result.seconds = time.perf_counter() - started
    return result


class _State:
    """The vault's card state, read only when a build has cards' times to settle."""

    def __init__(self, root: Path) -> None:
        self.root = root
        self._state: CardState | None = None

    @property
    def loaded(self) -> bool:
        return self._state is not None

    def get(self) -> CardState:
        if self._state is None:
            self._state = CardState.load(self.root)
        return self._state


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
    cache: BuildCache,
    state: _State,
    processes: int | None,
) -> tuple[BuildResult, list[str]]:
    """One attempt; returns its result and the notes it saw (what the cache keeps)."""
    scan = scan_notes(root, config, remove_temps=True)
    macros = read_macros_file(root, config.macros)  # read once: what this build renders with
    bibliography = read_bibliography(root, config)  # likewise
    looked = look(root, scan, cache)
    vouch_by_content(root, scan, looked, cache)
    if len(looked.vouched) == len(scan.notes):
        inputs = inputs_digest(
            root,
            out,
            config,
            scan,
            looked.vouched,
            looked.mtimes,
            write_ids=write_ids,
            strict=strict,
            macros=macros.digest,
            bibliography=bibliography.digest,
        )
        kept = _unchanged(root, out, config, scan, cache, inputs)
        if kept is not None:
            return kept, scan.notes
    vault, digests = read_changed(root, scan, looked, cache, config, progress, processes=processes)
    seen = [s.rel_text for s in vault.sources]
    result = BuildResult(vault, out, list(vault.diagnostics))
    if has_errors(result.diagnostics, strict=strict):
        return result, seen
    options = config.parse_options()
    reparsed: dict[bytes, tuple[Note, list[Diagnostic]]] = {}
    planned = plan_ids(vault, write=write_ids, parse=_recording(parser(options), reparsed))
    result.diagnostics.extend(planned.diagnostics)
    if has_errors(planned.diagnostics):
        return result, seen
    from paperdeck.figures.cache import MANIFEST
    from paperdeck.figures.cache import render as render_figures

    figures_dir = Path(config.figures_dir)
    remove_stale_temps(figures_dir, targets=[MANIFEST, *(spec.name for spec in vault.figures)])
    result.rendered = render_figures(vault.figures, figures_dir, progress=progress)
    for write in planned.writes:  # the notes will hold these parses once written: keep them
        rel, digest = write.after.rel_text, hashlib.sha256(write.after.data).digest()
        if digest in reparsed:
            note, found = reparsed[digest]
            summary = vault.summaries[rel] = summarize(note, found)
            key = cache.parse_key(note.path, digest, options.cache_key())
            cache.remember_parse(rel, key, summary, dumps((note, found)))
            vault.parse_keys[rel] = key
        digests[rel] = digest
    result.content = collect_deck(
        vault,
        config,
        figure_paths(vault, figures_dir),
        cache,
        progress,
        processes=processes,
        macros=macros,
        bibliography=bibliography,
    )
    result.diagnostics.extend(result.content.diagnostics)
    if has_errors(result.diagnostics, strict=strict):
        return result, seen
    result.ids = commit_ids(planned)
    result.diagnostics.extend(result.ids.diagnostics)
    if result.ids.changed or has_errors(result.ids.diagnostics):
        return result, seen
    _record_written(cache, planned, result.ids)
    from paperdeck.deckrecord import write_deck

    fingerprint, result.up_to_date = write_deck(
        result.content,
        state.get(),
        cache,
        out,
        write_ids=write_ids,
        everything=lambda: collect_deck(
            vault,
            config,
            figure_paths(vault, figures_dir),
            macros=macros,
            bibliography=bibliography,
        ),
    )
    result.wrote_deck = True
    if not write_ids or not any(has_missing(vault, s) for s in vault.sources):
        mtimes = {s.rel_text: s.mtime for s in vault.sources}
        inputs = inputs_digest(
            root,
            out,
            config,
            scan,
            digests,
            mtimes,
            write_ids=write_ids,
            strict=strict,
            macros=macros.digest,
            bibliography=bibliography.digest,
        )
        result.outcome = _outcome(inputs, result, vault, fingerprint)
    return result, seen


def _record_written(cache: BuildCache, planned: IdPlan, done: IdWriteResult) -> None:
    """Tell the cache what the notes that got IDs now hold: their stamp is taken after
    writing, so it is never trusted alone (the next build checks their bytes)."""
    written = {path for path, _, _ in done.written}
    for write in planned.writes:
        if write.before.note.path not in written:
            continue
        try:
            status = os.stat(write.after.path)
        except OSError:
            continue
        digest = hashlib.sha256(write.after.data).digest()
        cache.record(write.after.rel_text, Known(file_stamp(status), False, digest))


def _recording(parse: Parser, found: dict[bytes, tuple[Note, list[Diagnostic]]]) -> Parser:
    """``parse``, keeping each result by the digest of the bytes parsed."""

    def recorded(
        rel: PurePosixPath, shown: str, data: bytes, text: str
    ) -> tuple[Note, list[Diagnostic]]:
        note, diagnostics = parse(rel, shown, data, text)
        found[hashlib.sha256(data).digest()] = (note, diagnostics)
        return note, diagnostics

    return recorded


def _outcome(inputs: str, result: BuildResult, vault: Vault, fingerprint: str) -> LastBuild:
    """What the next build may take over if nothing it depends on changed (the card state
    and the deck are added once they are written, see :func:`_finished`)."""
    assert result.content is not None
    return LastBuild(
        inputs=inputs,
        real_root=os.path.realpath(vault.root),
        embeds={key: (*where, state) for key, (where, state) in result.content.embeds.items()},
        figures=tuple(vault.figures),
        files=(),
        diagnostics=tuple(result.diagnostics),
        notes=len(vault.sources),
        cards=len(result.content.notes),
        media={name: os.fspath(path) for name, path in result.content.media.items()},
        fingerprint=fingerprint,
    )


def _finished(
    result: BuildResult, last: LastBuild | None, root: Path, out: Path
) -> LastBuild | None:
    """The build's outcome, with the card state and the deck as they now are on disk."""
    if result.outcome is None or not result.wrote_deck:
        return None
    if result.outcome is last and last is not None and all(c.settled for c in last.files):
        return last  # nothing changed, and the files were checked by their stamps
    files = (file_check(state_dir(root) / STATE_NAME), file_check(out))
    return replace(result.outcome, files=files)


def _unchanged(
    root: Path, out: Path, config: Config, scan: Scan, cache: BuildCache, inputs: str
) -> BuildResult | None:
    """The result of a build in which nothing the last one depended on has changed (so its
    deck is up to date), found without reading a note; ``None`` if anything did change."""
    last = cache.last
    if last is None or not still_holds(last, root, config, inputs, cache.media_names):
        return None
    vault = Vault(
        root,
        Deferred(len(scan.files), lambda: [PurePosixPath(f) for f in scan.files]),
        Deferred(last.notes, lambda: read_vault(root, config).sources),
        [],
        list(last.figures),
    )
    media = {name: Path(path) for name, path in last.media.items()}
    content = DeckContent(Deferred(last.cards, lambda: _deck_notes(root, config)), media)
    result = BuildResult(vault, out, list(last.diagnostics), IdWriteResult(), content)
    result.wrote_deck = result.up_to_date = True
    result.outcome = last
    return result


def _deck_notes(root: Path, config: Config) -> list[AnkiNote]:
    """The cards of a deck found up to date, made again from the vault (only if asked)."""
    vault = read_vault(root, config)
    content = collect_deck(vault, config, figure_paths(vault, Path(config.figures_dir)))
    return settle_mods(content.notes, CardState.load(root))
