"""Reading a vault: every note's summary, and the bytes and parse of those that changed.

A build reads through its cache (:mod:`paperdeck.buildcache`): a note whose file stamp is
as the cache last saw it is not read at all, and stands in the vault as a deferred
:class:`~paperdeck.notes.vault.SourceNote` whose parse is fetched only if needed; a note
whose bytes are unchanged is not parsed again; the others are read and parsed on every
core (:mod:`paperdeck.buildwork`). Without a cache every note is read and held in memory.
"""

from __future__ import annotations

import functools
import hashlib
import os
import time
from array import array
from collections.abc import Callable, Iterable, Iterator, Mapping, MutableMapping, Sequence
from dataclasses import dataclass, field, replace
from pathlib import Path, PurePosixPath
from typing import TYPE_CHECKING, TypeVar, overload

from paperdeck.buildcache import BuildCache, Known, NoteSummary, dumps, loads
from paperdeck.buildwork import ParseDone, ParseJob, available_cores, run_parses, summarize
from paperdeck.config import Config
from paperdeck.diagnostics import Diagnostic, error
from paperdeck.fileio import TEMP_MARK, read_regular_file, remove_if_stale_temp
from paperdeck.notes.model import Note
from paperdeck.notes.vault import (
    NOTE_SUFFIX,
    SourceNote,
    display_path,
    file_stamp,
    load_note,
    parser,
    scan_files,
)

if TYPE_CHECKING:
    from paperdeck.figures.cache import Progress
    from paperdeck.figures.spec import FigureSpec
    from paperdeck.notes.options import ParseOptions

T = TypeVar("T")

PROGRESS_EVERY = 100
"""Notes between progress updates (a vault smaller than this shows none)."""


@dataclass
class Vault:
    """Every note of a vault, parsed, with what was wrong with them."""

    root: Path
    files: Sequence[PurePosixPath]
    sources: Sequence[SourceNote]
    """Every note, in order; a build cache may stand in for the ones it knows unchanged
    (their bytes and parse are then fetched only if asked for)."""
    diagnostics: list[Diagnostic] = field(default_factory=list)
    figures: list[FigureSpec] = field(default_factory=list)
    """Figure specs from every note, checked."""
    summaries: MutableMapping[str, NoteSummary] = field(default_factory=dict, repr=False)
    """Of a build's read: each note's summary, by its vault-relative path."""
    parse_keys: dict[str, str] = field(default_factory=dict, repr=False)
    """Of a build's read: the cache key of each note's parse."""

    @property
    def cards(self) -> int:
        return sum(summary_of(self, s).cards for s in self.sources)


def summary_of(vault: Vault, source: SourceNote) -> NoteSummary:
    """The summary of one of the vault's notes (made from its parse if the read kept none)."""
    found = vault.summaries.get(source.rel_text)
    return found if found is not None else summarize(source.note, ())


def has_missing(vault: Vault, source: SourceNote) -> bool:
    """Whether a card of the note has no ID (known without a summary for most notes)."""
    summaries = vault.summaries
    if isinstance(summaries, Summaries) and summaries.plain(source.rel_text):
        return False
    return bool(summary_of(vault, source).missing)


class KnownNotes:
    """The summaries of a vault's notes as the last build read them, kept compactly: most
    notes have only card IDs to tell (no card without one, no figure, no message), and a
    build that reads few notes takes the others from here, unpacking none of them."""

    def __init__(self) -> None:
        self.index: dict[str, int] = {}
        self.keys: list[str] = []
        """The parse key each note's summary is of."""
        self.cards = array("l")
        self.starts = array("l", [0])
        """Where each note's IDs start in ``ids`` and ``lines``."""
        self.ids = array("q")
        self.lines = array("l")
        self.extras: dict[str, NoteSummary] = {}
        """The whole summary of each note that has more to tell."""

    def find(self, rel: str, key: str) -> int | None:
        """Where the note's summary is, if it is of the parse ``key``."""
        at = self.index.get(rel)
        return at if at is not None and self.keys[at] == key else None

    def add(self, rel: str, key: str, summary: NoteSummary) -> None:
        self.index[rel] = len(self.keys)
        self.keys.append(key)
        self.cards.append(summary.cards)
        self.ids.extend([i for i, _ in summary.card_ids])
        self.lines.extend([line for _, line in summary.card_ids])
        self.starts.append(len(self.ids))
        if summary.missing or summary.figures or summary.diagnostics:
            self.extras[rel] = summary

    def copy(self, rel: str, other: KnownNotes, at: int) -> None:
        """Take a note's summary over from another record (as it is)."""
        self.index[rel] = len(self.keys)
        self.keys.append(other.keys[at])
        self.cards.append(other.cards[at])
        a, b = other.starts[at], other.starts[at + 1]
        self.ids.extend(other.ids[a:b])
        self.lines.extend(other.lines[a:b])
        self.starts.append(len(self.ids))
        extra = other.extras.get(rel)
        if extra is not None:
            self.extras[rel] = extra

    def summary(self, at: int, rel: str, shown: str) -> NoteSummary:
        extra = self.extras.get(rel)
        if extra is not None:
            return extra
        a, b = self.starts[at], self.starts[at + 1]
        ids = tuple(zip(self.ids[a:b], self.lines[a:b], strict=True))
        return NoteSummary(shown, self.cards[at], ids, (), (), ())


class Summaries(MutableMapping[str, NoteSummary]):
    """Every note's summary, those of notes taken over from :class:`KnownNotes` made only
    when asked for."""

    def __init__(self, known: KnownNotes | None, shown: Callable[[str], str]) -> None:
        self.known = known
        self.shown = shown
        self.made: dict[str, NoteSummary] = {}
        self.lazy: dict[str, int] = {}
        """Notes whose summary is in ``known`` (at this place) and has nothing but IDs."""

    def take(self, rel: str, at: int) -> None:
        self.made.pop(rel, None)
        self.lazy[rel] = at

    def compact(self, known: KnownNotes) -> None:
        """Hold the summaries ``known`` holds in full there, not as objects of their own."""
        self.known = known
        self.lazy = {rel: known.index[rel] for rel in self.lazy}  # places in the new record
        for rel in [r for r in self.made if r in known.index and r not in known.extras]:
            self.lazy[rel] = known.index[rel]
            del self.made[rel]

    def plain(self, rel: str) -> bool:
        """Whether the note has nothing to tell but card IDs (known without its summary)."""
        return rel in self.lazy

    def card_ids(self) -> Iterable[int]:
        """Every card ID of every note."""
        known = self.known
        if known is not None:
            starts, ids = known.starts, known.ids
            for at in self.lazy.values():
                yield from ids[starts[at] : starts[at + 1]]
        for summary in self.made.values():
            yield from (i for i, _ in summary.card_ids)

    def __getitem__(self, rel: str) -> NoteSummary:
        found = self.made.get(rel)
        if found is not None:
            return found
        at = self.lazy.pop(rel, None)
        if at is None or self.known is None:
            raise KeyError(rel)
        found = self.made[rel] = self.known.summary(at, rel, self.shown(rel))
        return found

    def __setitem__(self, rel: str, summary: NoteSummary) -> None:
        self.lazy.pop(rel, None)
        self.made[rel] = summary

    def __delitem__(self, rel: str) -> None:
        if self.lazy.pop(rel, None) is None:
            del self.made[rel]

    def __contains__(self, rel: object) -> bool:
        return rel in self.made or rel in self.lazy

    def __iter__(self) -> Iterator[str]:
        yield from self.made
        yield from self.lazy

    def __len__(self) -> int:
        return len(self.made) + len(self.lazy)


class Deferred(Sequence[T]):
    """A sequence whose length is known and whose items are only made if asked for: a build
    with nothing to redo keeps counts, not 20,000 parsed notes and 100,000 cards."""

    def __init__(self, count: int, make: Callable[[], Sequence[T]]) -> None:
        self._count = count
        self._make: Callable[[], Sequence[T]] | None = make
        self._items: Sequence[T] = ()

    def _made(self) -> Sequence[T]:
        if self._make is not None:
            self._items, self._make = self._make(), None
        return self._items

    def __len__(self) -> int:
        return self._count if self._make is not None else len(self._items)

    @overload
    def __getitem__(self, index: int) -> T: ...

    @overload
    def __getitem__(self, index: slice) -> Sequence[T]: ...

    def __getitem__(self, index: int | slice) -> T | Sequence[T]:
        return self._made()[index]

    def __iter__(self) -> Iterator[T]:
        return iter(self._made())


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
    left in the vault are deleted. With a cache, unchanged notes are not read again (see
    :func:`read_changed`); without one, every note is read and held in memory.
    """
    scan = scan_notes(root, config, remove_temps=remove_temps)
    looked = look(root, scan, cache)
    vault, _ = read_changed(root, scan, looked, cache, config, progress)
    return vault


@dataclass
class Scan:
    """The vault's files, as listed."""

    files: list[str]
    notes: list[str]
    diagnostics: list[Diagnostic]
    shown: Callable[[str], str]
    """A note's path as messages show it."""


def scan_notes(root: Path, config: Config, *, remove_temps: bool) -> Scan:
    """List the vault (removing what a killed run left, with ``remove_temps``)."""
    ignore = (*config.ignore, *config.extra_ignore)
    files, problems = scan_files(root, ignore)
    if remove_temps:
        files = [r for r in files if TEMP_MARK not in r or not remove_if_stale_temp(root / r)]
    notes = [r for r in files if r[-len(NOTE_SUFFIX) :].lower() == NOTE_SUFFIX]
    return Scan(files, notes, problems, _shower(root))


def _shower(root: Path) -> Callable[[str], str]:
    """:func:`display_path` of each note, without working it out 20,000 times."""
    absolute, cwd = os.path.abspath(root), os.getcwd()
    if absolute == cwd:
        return lambda rel: rel.replace("/", os.sep)
    if absolute.startswith(cwd + os.sep):
        prefix = absolute[len(cwd) + 1 :] + os.sep
        return lambda rel: prefix + rel.replace("/", os.sep)
    return lambda rel: display_path(root / rel)


@dataclass
class Looked:
    """Each note's modification time now, and its digest where the cache vouches for it."""

    mtimes: dict[str, float]
    vouched: dict[str, bytes]


def look(root: Path, scan: Scan, cache: BuildCache | None) -> Looked:
    """``stat()`` every note: all that a build reads of a note the cache knows unchanged."""
    looked = Looked({}, {})
    if cache is None:
        return looked
    base = os.fspath(root) + os.sep
    for rel in scan.notes:
        try:
            status = os.stat(base + rel)
        except OSError:
            continue
        looked.mtimes[rel] = status.st_mtime
        digest = cache.vouch(rel, file_stamp(status))
        if digest is not None:
            looked.vouched[rel] = digest
    return looked


def vouch_by_content(root: Path, scan: Scan, looked: Looked, cache: BuildCache) -> None:
    """Read the notes whose stamps cannot vouch for them (touched, or read too soon after
    an edit) and vouch for those whose bytes are as the cache knows them, until one is not:
    then the build has work to do anyway, and its workers read the rest."""
    for rel in scan.notes:
        if rel in looked.vouched:
            continue
        known = cache.index.get(rel)
        if known is None:
            return
        now = time.time_ns()
        try:
            data, status = read_regular_file(root / rel)
        except OSError:
            return
        digest = hashlib.sha256(data).digest()
        if digest != known.digest:
            return
        stamp = file_stamp(status)
        cache.record(rel, Known(stamp, stamp.settled(now), digest))
        looked.vouched[rel] = digest
        looked.mtimes[rel] = status.st_mtime


def read_changed(
    root: Path,
    scan: Scan,
    looked: Looked,
    cache: BuildCache | None,
    config: Config,
    progress: Progress | None,
    *,
    processes: int | None = None,
) -> tuple[Vault, dict[str, bytes]]:
    """Read the notes the cache does not vouch for, parse those whose bytes are new (on
    every core), and check the vault as a whole; returns the vault and each note's digest.

    With a cache, each note read is remembered there (stamp, digest, summary, parse) and
    every note stands in the vault as a :class:`SourceNote` whose parse is fetched from
    the cache when first needed, so that the build never holds every parse at once.
    """
    from paperdeck.figures.spec import duplicate_name_errors

    options = config.parse_options()
    options_key = options.cache_key()
    vault = Vault(root, [PurePosixPath(r) for r in scan.files], [], list(scan.diagnostics))
    digests: dict[str, bytes] = {}
    to_read = [rel for rel in scan.notes if rel not in looked.vouched]
    known = cache.known_notes() if cache is not None else None
    summaries = vault.summaries = Summaries(known, scan.shown)
    if cache is not None and len(to_read) * 4 > len(scan.notes):
        cache.prefetch_summaries()
    jobs = (_parse_job(root, rel, scan.shown(rel), cache, options_key) for rel in to_read)
    done = run_parses(jobs, len(to_read), options, processes=processes or available_cores())
    read: dict[str, ParseDone] = {}
    notes: dict[str, Note] = {}
    for count, one in enumerate(done):
        if progress is not None and count % PROGRESS_EVERY == 0:
            progress("Reading notes", count, len(to_read), one.rel)
        if one.parsed is not None and one.summary is not None:  # keep parses out of memory
            if cache is None:
                notes[one.rel] = loads(one.parsed)[0]
            else:
                key = cache.parse_key(scan.shown(one.rel), one.digest, options_key)
                cache.remember_parse(one.rel, key, one.summary, one.parsed)
            one = replace(one, parsed=None)
        read[one.rel] = one
        if cache is not None and one.stamp is not None:
            cache.record(one.rel, Known(one.stamp, one.settled, one.digest))
    if progress is not None and len(to_read) >= PROGRESS_EVERY:
        progress("Reading notes", len(to_read), len(to_read), "")
    if cache is not None and (known is None or len(known.index) * 4 < len(scan.notes) * 3):
        cache.prefetch_summaries()
    fresh = KnownNotes()
    fetcher = _Fetcher(cache, root, options) if cache is not None else None
    sources: list[SourceNote] = []
    for rel in scan.notes:
        result: ParseDone | None = read.pop(rel, None)
        if result is not None and result.stamp is None:
            vault.diagnostics.extend(result.diagnostics)
            continue
        digest = result.digest if result is not None else looked.vouched[rel]
        mtime = result.mtime if result is not None else looked.mtimes[rel]
        summary = result.summary if result is not None else None
        if cache is None:
            assert result is not None and result.data is not None and result.text is not None
            path, note = root / rel, notes.pop(rel)
            source = SourceNote(path, PurePosixPath(rel), result.data, result.text, note, mtime)
        else:
            key = cache.parse_key(scan.shown(rel), digest, options_key)
            at = known.find(rel, key) if known is not None and summary is None else None
            bare = at is not None and known is not None and rel not in known.extras
            if bare and (result is None or result.data is None):  # nothing to tell but IDs
                assert fetcher is not None and known is not None and at is not None
                sources.append(fetcher.deferred(rel, key, digest, mtime))
                vault.parse_keys[rel] = key
                digests[rel] = digest
                summaries.take(rel, at)
                fresh.copy(rel, known, at)
                continue
            if summary is None and at is not None and known is not None:
                summary = known.summary(at, rel, scan.shown(rel))
            if summary is None:
                summary = cache.summary(rel, key)
            if summary is None:  # the cache lost it meanwhile: read it as a plain build would
                plain, summary, key = _read_plainly(root, rel, cache, options)
                if plain is None:
                    vault.diagnostics.extend(summary.diagnostics)
                    continue
                source = plain
            elif result is not None and result.data is not None and result.text is not None:
                note = _cached_note(cache, root, rel, key, options)
                path = root / rel
                source = SourceNote(path, PurePosixPath(rel), result.data, result.text, note, mtime)
            else:
                assert fetcher is not None
                source = fetcher.deferred(rel, key, digest, mtime)
            vault.parse_keys[rel] = key
            fresh.add(rel, key, summary)
        assert summary is not None
        sources.append(source)
        digests[rel] = digest
        vault.summaries[rel] = summary
        vault.diagnostics.extend(summary.diagnostics)
        vault.figures.extend(summary.figures)
    if cache is not None:
        cache.remember_known(fresh)
        cache.forget_summaries()
        summaries.compact(fresh)
    vault.sources = sources
    vault.diagnostics.extend(duplicate_id_errors_of(vault))
    vault.diagnostics.extend(duplicate_name_errors(vault.figures))
    return vault, digests


def _parse_job(
    root: Path, rel: str, shown: str, cache: BuildCache | None, options_key: str
) -> ParseJob:
    known = cache.index.get(rel) if cache is not None else None
    if cache is None or known is None:
        return ParseJob(rel, os.fspath(root / rel), shown, None, keep_text=cache is None)
    summary = cache.summary(rel, cache.parse_key(shown, known.digest, options_key))
    if summary is None:
        return ParseJob(rel, os.fspath(root / rel), shown, None, keep_text=False)
    return ParseJob(rel, os.fspath(root / rel), shown, known.digest, bool(summary.missing))


def _read_plainly(
    root: Path, rel: str, cache: BuildCache, options: ParseOptions
) -> tuple[SourceNote | None, NoteSummary, str]:
    """Read and parse a note without the cache's help, and remember it there."""
    source, problems = load_note(root, PurePosixPath(rel), parse=parser(options))
    if source is None:
        return None, NoteSummary(display_path(root / rel), 0, (), (), (), tuple(problems)), ""
    summary = summarize(source.note, problems)
    digest = hashlib.sha256(source.data).digest()
    key = cache.parse_key(source.note.path, digest, options.cache_key())
    cache.remember_parse(rel, key, summary, dumps((source.note, problems)))
    return source, summary, key


def _cached_note(cache: BuildCache, root: Path, rel: str, key: str, options: ParseOptions) -> Note:
    """The parse the cache holds under ``key``, or a fresh one of the file if it lost it."""
    parsed = cache.parsed(rel, key)
    if isinstance(parsed, tuple) and parsed and isinstance(parsed[0], Note):
        return parsed[0]
    source, problems = load_note(root, PurePosixPath(rel), parse=parser(options))
    if source is None:
        raise OSError(f"{root / rel}: cannot be read again ({problems[0].message})")
    return source.note


class _Fetcher:
    """What a build fetches a note it did not read with: its bytes (checked against the
    digest the cache vouched for) or its parse (from the cache, else from the file)."""

    def __init__(self, cache: BuildCache, root: Path, options: ParseOptions) -> None:
        self.cache, self.root, self.options = cache, root, options
        self.base = os.path.join(root, "")

    def deferred(self, rel: str, key: str, digest: bytes, mtime: float) -> SourceNote:
        return SourceNote.deferred(
            self.base + rel,
            rel,
            mtime,
            fetch_data=functools.partial(self.data, rel, digest),
            fetch_note=functools.partial(self.note, rel, key),
        )

    def data(self, rel: str, digest: bytes) -> tuple[bytes, str]:
        path = self.base + rel
        data, _ = read_regular_file(Path(path))
        if hashlib.sha256(data).digest() != digest:
            raise OSError(f"{path}: changed since it was read")
        return data, data.decode("utf-8")

    def note(self, rel: str, key: str) -> Note:
        return _cached_note(self.cache, self.root, rel, key, self.options)


def figure_paths(vault: Vault, figures_dir: Path) -> dict[str, Path]:
    """Where each figure the vault defines lives (or will, once rendered), by embed name."""
    return {spec.name: figures_dir / spec.name for spec in vault.figures}


def duplicate_id_errors(notes: Sequence[Note]) -> list[Diagnostic]:
    """Two cards with one ID would be one Anki note: an error at each place, naming the other."""
    places: dict[int, list[tuple[str, int]]] = {}
    for note in notes:
        for card in note.cards:
            if card.card_id is not None and card.id_line is not None:
                places.setdefault(card.card_id, []).append((note.path, card.id_line))
    return _duplicates(places)


def duplicate_id_errors_of(vault: Vault) -> list[Diagnostic]:
    """:func:`duplicate_id_errors` of a vault, from its notes' summaries."""
    summaries = vault.summaries
    if isinstance(summaries, Summaries):
        ids = list(summaries.card_ids())
        if len(set(ids)) == len(ids):
            return []
    places: dict[int, list[tuple[str, int]]] = {}
    for source in vault.sources:
        summary = summary_of(vault, source)
        for card_id, line in summary.card_ids:
            places.setdefault(card_id, []).append((summary.path, line))
    return _duplicates(places)


def _duplicates(places: Mapping[int, list[tuple[str, int]]]) -> list[Diagnostic]:
    found: list[Diagnostic] = []
    for card_id, where in places.items():
        if len(where) < 2:
            continue
        for path, line in where:
            others = ", ".join(f"{p}:{n}" for p, n in where if (p, n) != (path, line))
            found.append(error(path, line, f"duplicate card ID {card_id} (also at {others})"))
    return found


def all_card_ids(vault: Vault) -> set[int]:
    """Every card ID in the vault."""
    summaries = vault.summaries
    if isinstance(summaries, Summaries) and len(summaries) == len(vault.sources):
        return set(summaries.card_ids())
    return {i for s in vault.sources for i, _ in summary_of(vault, s).card_ids}
