"""The per-note work of a build, in this process or spread over every core.

Reading and parsing a note and rendering its cards take all of a cold build's time, and
each note's work is independent of the others': jobs go to a pool of worker processes
(when there are enough of them to pay for starting it), and results come back in the
order the jobs were given, so a deck is the same, byte for byte, however many processes
made it. Parses and renderings travel pickled, so the process that writes the deck never
holds every parsed note in memory at once.
"""

from __future__ import annotations

import contextlib
import ctypes
import gc
import hashlib
import itertools
import multiprocessing
import os
import signal
import sys
import time
from collections import deque
from collections.abc import Callable, Iterable, Iterator, Sequence
from concurrent.futures import Future, ProcessPoolExecutor
from dataclasses import dataclass
from pathlib import Path, PurePosixPath
from typing import TYPE_CHECKING, Any, TypeVar

from paperdeck.buildcache import NoteSummary, dumps, loads
from paperdeck.diagnostics import Diagnostic
from paperdeck.notes.vault import FileStamp, SourceNote, file_stamp, parser, read_note

if TYPE_CHECKING:
    from paperdeck.cards.media import MediaNames
    from paperdeck.cards.note_render import RenderContext, RenderedNote
    from paperdeck.notes.model import Note
    from paperdeck.notes.options import ParseOptions

POOL_MIN_JOBS = 64
"""Fewer jobs than this are done in this process: starting workers would cost more."""

J = TypeVar("J")
R = TypeVar("R")


@contextlib.contextmanager
def fewer_collections() -> Iterator[None]:
    """Run the cycle collector less often: a build makes its objects by the hundred
    thousand (card records, summaries, sources) and keeps most of them to the end, so at
    Python's default it walks them again and again (a quarter of a one-note rebuild of a
    20,000-note vault). Garbage without cycles is freed as before, at once."""
    before = gc.get_threshold()
    gc.set_threshold(max(before[0], 10_000), *before[1:])
    try:
        yield
    finally:
        gc.set_threshold(*before)


def available_cores() -> int:
    """The cores this process may run on."""
    if hasattr(os, "sched_getaffinity"):
        return max(1, len(os.sched_getaffinity(0)))
    return max(1, os.cpu_count() or 1)


# -- reading and parsing -------------------------------------------------------------------


@dataclass(frozen=True)
class ParseJob:
    """Read one note; parse it unless its bytes are those of a parse already stored."""

    rel: str
    path: str
    shown: str
    stored: bytes | None
    """The digest of the bytes whose parse the cache holds: equal bytes are not parsed."""
    keep_text: bool
    """Hand the bytes and text back even when not parsed (a note that gets new IDs)."""


@dataclass(frozen=True)
class ParseDone:
    """A note as read, with its parse when it needed one."""

    rel: str
    stamp: FileStamp | None
    """``None``: it could not be read (see ``diagnostics``)."""
    settled: bool
    digest: bytes
    mtime: float
    diagnostics: tuple[Diagnostic, ...]
    """Why it could not be read, or what parsing it said."""
    parsed: bytes | None = None
    """The pickled ``(note, diagnostics)`` when parsed here; ``None`` when the stored parse
    stands (or the note could not be read)."""
    summary: NoteSummary | None = None
    data: bytes | None = None
    text: str | None = None
    """The bytes and text, for a note whose cards lack IDs (or when asked)."""


def summarize(note: Note, diagnostics: Sequence[Diagnostic]) -> NoteSummary:
    """What a later build needs to know of a note without reading it."""
    from paperdeck.figures.spec import read_figure_specs

    specs, problems = read_figure_specs(note)
    return NoteSummary(
        path=note.path,
        cards=len(note.cards),
        card_ids=tuple(
            (c.card_id, c.id_line)
            for c in note.cards
            if c.card_id is not None and c.id_line is not None
        ),
        missing=tuple(c.line for c in note.cards if c.card_id is None),
        figures=tuple(specs),
        diagnostics=(*diagnostics, *problems),
    )


def parse_one(job: ParseJob, options: ParseOptions | None) -> ParseDone:
    """Read and (if needed) parse one note."""
    now = time.time_ns()
    read = read_note(Path(job.path), job.shown)
    if read.text is None or read.status is None:
        return ParseDone(job.rel, None, False, b"", 0.0, read.diagnostics)
    stamp = file_stamp(read.status)
    digest = hashlib.sha256(read.data).digest()
    settled = stamp.settled(now)
    mtime = read.status.st_mtime
    if digest == job.stored:
        if job.keep_text:
            return ParseDone(
                job.rel, stamp, settled, digest, mtime, (), data=read.data, text=read.text
            )
        return ParseDone(job.rel, stamp, settled, digest, mtime, ())
    rel = PurePosixPath(job.rel)
    note, diagnostics = parser(options)(rel, job.shown, read.data, read.text)
    summary = summarize(note, diagnostics)
    keep = job.keep_text or bool(summary.missing)
    return ParseDone(
        job.rel,
        stamp,
        settled,
        digest,
        mtime,
        tuple(diagnostics),
        parsed=dumps((note, list(diagnostics))),
        summary=summary,
        data=read.data if keep else None,
        text=read.text if keep else None,
    )


# -- rendering -------------------------------------------------------------------------------


@dataclass(frozen=True)
class RenderJob:
    """Render one note's cards from its pickled parse."""

    rel: str
    path: str
    mtime: float
    parsed: bytes
    """The pickled ``(note, diagnostics)``."""


@dataclass(frozen=True)
class RenderDone:
    """One note's rendering, pickled with the content digest of each of its Anki notes (see
    :func:`~paperdeck.anki.apkg.content_digest`), and the media files hashed on the way."""

    rel: str
    rendered: bytes
    media_names: dict[str, Any]


def render_one(job: RenderJob, context: RenderContext) -> RenderDone:
    """Render one note (``mod`` set from its file's time, as the deck needs it)."""
    from dataclasses import replace

    from paperdeck.anki.apkg import content_digest
    from paperdeck.cards import note_render

    note: Note = loads(job.parsed)[0]
    source = SourceNote.deferred(
        job.path,
        job.rel,
        job.mtime,
        fetch_data=_unreadable,
        fetch_note=lambda: note,
    )
    rendered = note_render.render_note(source, context)
    mod = int(job.mtime)
    rendered = replace(rendered, notes=[replace(n, mod=mod) for n in rendered.notes])
    digests = tuple(content_digest(n) for n in rendered.notes)
    return RenderDone(job.rel, dumps((rendered, digests)), context.media_names.take_added())


def _unreadable() -> tuple[bytes, str]:
    raise RuntimeError("rendering never needs a note's bytes")


def unpickled_rendering(
    done: RenderDone, names: MediaNames
) -> tuple[RenderedNote, tuple[str, ...]]:
    """The rendering a job made and its digests, with the media names it learnt added to
    ``names``."""
    names.learn(done.media_names)
    rendered: tuple[RenderedNote, tuple[str, ...]] = loads(done.rendered)
    return rendered


# -- running jobs ----------------------------------------------------------------------------

_WORKER: dict[str, Any] = {}
"""In a worker process: what every job of its pool shares (parse options, render context)."""


def _start_worker(shared: Any, parent: int) -> None:
    _die_with(parent)
    _WORKER["shared"] = shared


def _die_with(parent: int) -> None:
    """A worker must not outlive its build: one left behind by a killed build would hold
    the vault's lock and the build's output pipe forever. Linux kills it with its parent;
    elsewhere (``spawn``) its job queue closes when the parent dies, which ends it."""
    if sys.platform == "linux":
        with contextlib.suppress(OSError, AttributeError):
            libc = ctypes.CDLL(None, use_errno=True)
            libc.prctl(_PR_SET_PDEATHSIG, signal.SIGKILL)
    if os.getppid() != parent:  # it died before the line above
        os._exit(1)


_PR_SET_PDEATHSIG = 1


def run_parses(
    jobs: Iterable[ParseJob], count: int, options: ParseOptions | None, *, processes: int
) -> Iterator[ParseDone]:
    """:func:`parse_one` for each of ``count`` jobs, results in the jobs' order."""
    return _run(jobs, count, options, processes, inline=parse_one, remote=_parse_chunk)


def run_renders(
    jobs: Iterable[RenderJob], count: int, context: RenderContext, *, processes: int
) -> Iterator[RenderDone]:
    """:func:`render_one` for each of ``count`` jobs, results in the jobs' order."""
    return _run(jobs, count, context, processes, inline=render_one, remote=_render_chunk)


def _parse_chunk(jobs: list[ParseJob]) -> list[ParseDone]:
    return [parse_one(job, _WORKER["shared"]) for job in jobs]


def _render_chunk(jobs: list[RenderJob]) -> list[RenderDone]:
    return [render_one(job, _WORKER["shared"]) for job in jobs]


def _run(
    jobs: Iterable[J],
    count: int,
    shared: Any,
    processes: int,
    *,
    inline: Callable[[J, Any], R],
    remote: Callable[[list[J]], list[R]],
) -> Iterator[R]:
    workers = min(processes, count // (POOL_MIN_JOBS // 2))
    if workers <= 1 or count < POOL_MIN_JOBS:
        return (inline(job, shared) for job in jobs)
    return _pooled(jobs, count, shared, workers, remote)


def _pooled(
    jobs: Iterable[J],
    count: int,
    shared: Any,
    workers: int,
    remote: Callable[[list[J]], list[R]],
) -> Iterator[R]:
    """Jobs sent in chunks, a few chunks ahead of the results taken (so that neither the
    jobs nor the results of a large vault pile up in memory), results in order."""
    size = max(1, min(32, count // (workers * 8)))
    chunks = _chunked(jobs, size)
    with ProcessPoolExecutor(
        max_workers=workers,
        mp_context=multiprocessing.get_context(_start_method()),
        initializer=_start_worker,
        initargs=(shared, os.getpid()),
    ) as pool:
        ahead: deque[Future[list[R]]] = deque(
            pool.submit(remote, chunk) for chunk in itertools.islice(chunks, workers * 3)
        )
        while ahead:
            done = ahead.popleft().result()
            for chunk in itertools.islice(chunks, 1):
                ahead.append(pool.submit(remote, chunk))
            yield from done


def _chunked(items: Iterable[J], size: int) -> Iterator[list[J]]:
    iterator = iter(items)
    while chunk := list(itertools.islice(iterator, size)):
        yield chunk


def _start_method() -> str:
    """``fork`` where it is safe and cheap (Linux, no other thread in this process: a fork
    copies only the calling thread, and a lock another thread held would stay held), else
    ``spawn``."""
    if sys.platform == "linux" and _threads() == 1:
        return "fork"
    return "spawn"


def _threads() -> int:
    try:
        with open("/proc/self/status", encoding="ascii", errors="replace") as status:
            for line in status:
                if line.startswith("Threads:"):
                    return int(line.split()[1])
    except (OSError, ValueError):
        pass
    return 2
