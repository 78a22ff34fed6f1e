"""Reading a vault: every note's summary, and the bytes and parse of those that changed.

A build reads through its cache (:mod:`paperdeck.buildcache`): a note whose file stamp is
as the cache last saw it is not read at all, and stands in the vault as a deferred
:class:`~paperdeck.notes.vault.SourceNote` whose parse is fetched only if needed; a note
whose bytes are unchanged is not parsed again; the others are read and parsed on every
core (:mod:`paperdeck.buildwork`). Without a cache every note is read and held in memory.
"""

from __future__ import annotations

import hashlib
import os
import time
from collections.abc import Callable, Iterator, Mapping, Sequence
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
    summaries: dict[str, NoteSummary] = field(default_factory=dict, repr=False)
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
    if cache is not None:
        cache.prefetch_summaries()
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
                source = _deferred(cache, root, rel, key, digest, mtime, options)
            vault.parse_keys[rel] = key
        assert summary is not None
        sources.append(source)
        digests[rel] = digest
        vault.summaries[rel] = summary
        vault.diagnostics.extend(summary.diagnostics)
        vault.figures.extend(summary.figures)
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


def _deferred(
    cache: BuildCache,
    root: Path,
    rel: str,
    key: str,
    digest: bytes,
    mtime: float,
    options: ParseOptions,
) -> SourceNote:
    """A note the cache vouches for: read again, or its parse fetched, only if asked."""
    path = os.path.join(root, rel)

    def fetch_data() -> tuple[bytes, str]:
        data, _ = read_regular_file(Path(path))
        if hashlib.sha256(data).digest() != digest:
            raise OSError(f"{path}: changed since it was read")
        return data, data.decode("utf-8")

    return SourceNote.deferred(
        path,
        rel,
        mtime,
        fetch_data=fetch_data,
        fetch_note=lambda: _cached_note(cache, root, rel, key, options),
    )


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
    return {i for s in vault.sources for i, _ in summary_of(vault, s).card_ids}
