"""The vault on disk: which files are notes, and reading them safely (the I/O edge)."""

from __future__ import annotations

import fnmatch
import functools
import os
import re
from collections.abc import Callable, Iterator, Mapping
from dataclasses import dataclass
from pathlib import Path, PurePosixPath
from typing import TYPE_CHECKING

from paperdeck.diagnostics import Diagnostic, error, warning
from paperdeck.fileio import read_regular_file
from paperdeck.notes.model import Note

if TYPE_CHECKING:
    from paperdeck.notes.options import ParseOptions

NOTE_SUFFIX = ".md"


class SourceNote:
    """A note file as read: where it is, its exact bytes, and its parse.

    A build cache may stand in for a note it knows to be unchanged (:meth:`deferred`): the
    bytes and the parse are then only fetched if something asks for them, so that a
    rebuild of a large vault holds (and reads) only the notes that changed.
    """

    __slots__ = (
        "_data",
        "_fetch_data",
        "_fetch_note",
        "_note",
        "_path",
        "_rel",
        "_text",
        "mtime",
        "rel_text",
    )

    mtime: float
    rel_text: str
    """:attr:`rel` as text (``a/b.md``)."""

    def __init__(
        self, path: Path, rel: PurePosixPath, data: bytes, text: str, note: Note, mtime: float
    ) -> None:
        self._path: Path | str = path
        self._rel: PurePosixPath | None = rel
        self.rel_text, self.mtime = rel.as_posix(), mtime
        self._data: bytes | None = data
        self._text: str | None = text
        self._note: Note | None = note
        self._fetch_data: Callable[[], tuple[bytes, str]] | None = None
        self._fetch_note: Callable[[], Note] | None = None

    @classmethod
    def deferred(
        cls,
        path: Path | str,
        rel: str,
        mtime: float,
        *,
        fetch_data: Callable[[], tuple[bytes, str]],
        fetch_note: Callable[[], Note],
    ) -> SourceNote:
        """A note known unchanged, at ``path`` (``rel`` in the vault): ``fetch_data`` gives
        its bytes and text, ``fetch_note`` its parse, each called once, when first needed."""
        source = cls.__new__(cls)
        source._path, source._rel, source.rel_text, source.mtime = path, None, rel, mtime
        source._data = source._text = source._note = None
        source._fetch_data, source._fetch_note = fetch_data, fetch_note
        return source

    @property
    def path(self) -> Path:
        """Where the note is (the vault's root joined with :attr:`rel`)."""
        if not isinstance(self._path, Path):
            self._path = Path(self._path)
        return self._path

    @property
    def rel(self) -> PurePosixPath:
        """Path relative to the vault root, with ``/`` separators."""
        if self._rel is None:
            self._rel = PurePosixPath(self.rel_text)
        return self._rel

    @property
    def folder(self) -> str:
        """The folder of :attr:`rel`, as text (``""`` for the vault's top)."""
        return self.rel_text.rpartition("/")[0]

    @property
    def data(self) -> bytes:
        """The file's exact bytes."""
        if self._data is None:
            self._load_data()
        assert self._data is not None
        return self._data

    @property
    def text(self) -> str:
        """The bytes decoded (a BOM kept as ``\\ufeff``)."""
        if self._text is None:
            self._load_data()
        assert self._text is not None
        return self._text

    @property
    def note(self) -> Note:
        """The parse."""
        if self._note is None:
            assert self._fetch_note is not None
            self._note = self._fetch_note()
            self._fetch_note = None
        return self._note

    @property
    def loaded(self) -> bool:
        """Whether the parse is in memory (read or fetched), not only promised."""
        return self._note is not None

    def _load_data(self) -> None:
        assert self._fetch_data is not None
        self._data, self._text = self._fetch_data()
        self._fetch_data = None

    def _fields(self) -> tuple[object, ...]:
        return (self.path, self.rel, self.data, self.text, self.note, self.mtime)

    def __eq__(self, other: object) -> bool:
        if not isinstance(other, SourceNote):
            return NotImplemented
        return self is other or self._fields() == other._fields()

    def __hash__(self) -> int:
        return hash((self.path, self.rel, self.mtime))

    def __repr__(self) -> str:
        return f"SourceNote({self.rel_text!r}, loaded={self.loaded})"

    def __reduce__(self) -> tuple[type[SourceNote], tuple[object, ...]]:
        """Pickled (to a worker process) with everything fetched."""
        return (SourceNote, self._fields())


RACY_NS = 2_000_000_000
"""How long after a file's last change its status can be trusted to show the next one.

A file system keeps times in ticks (2 s on FAT, 1 s on some network file systems, a few
ms elsewhere): an edit in the same tick as the status a build saw, leaving the size as it
was, would look like no edit at all. A status is only trusted once this long has passed
since the file's modification and change times (git's "racily clean" entries)."""


@dataclass(frozen=True)
class FileStamp:
    """What ``stat()`` says about a file's version: an edit changes at least one of these,
    unless it falls in the same clock tick as the status (see :data:`RACY_NS`)."""

    size: int
    mtime_ns: int
    ctime_ns: int
    """The inode change time, which no program can set back (unlike ``mtime``)."""
    ino: int
    dev: int

    def settled(self, now_ns: int) -> bool:
        """Whether a later edit would show in the status: the file's last change is at least
        :data:`RACY_NS` older than ``now_ns`` (a time no later than when it was read)."""
        return max(self.mtime_ns, self.ctime_ns) + RACY_NS <= now_ns


def file_stamp(status: os.stat_result) -> FileStamp:
    """The stamp of a file's status."""
    return FileStamp(
        status.st_size, status.st_mtime_ns, status.st_ctime_ns, status.st_ino, status.st_dev
    )


def display_path(path: Path) -> str:
    """The path as the user would type it: relative to the working directory when inside it."""
    absolute = os.path.abspath(path)
    cwd = os.getcwd()
    if absolute.startswith(cwd + os.sep):
        return absolute[len(cwd) + 1 :]
    try:
        return str(path.resolve().relative_to(_real_cwd(cwd)))
    except ValueError:
        return str(path)


@functools.lru_cache(maxsize=4)
def _real_cwd(cwd: str) -> Path:
    return Path(cwd).resolve()


def is_ignored(rel: PurePosixPath, patterns: tuple[str, ...]) -> bool:
    """Glob match against the vault-relative path; ``dir/**`` matches everything below."""
    return _ignore_rule(patterns)(rel.as_posix())


@functools.lru_cache(maxsize=16)
def _ignore_rule(patterns: tuple[str, ...]) -> Callable[[str], bool]:
    """:func:`is_ignored` for one set of patterns, compiled once: a vault of 20,000 files
    checks every path against every pattern."""
    globs = [fnmatch.translate(p) for p in patterns]
    globs += [fnmatch.translate(p[3:]) for p in patterns if p.startswith("**/")]
    matcher = re.compile("|".join(globs)).match if globs else None
    prefixes = tuple(p[:-2] for p in patterns if p.endswith("/**"))

    def ignored(text: str) -> bool:
        if matcher is not None and matcher(text):
            return True
        return bool(prefixes) and (text + "/").startswith(prefixes)

    return ignored


def scan_vault(
    vault: Path, ignore: tuple[str, ...]
) -> tuple[list[PurePosixPath], list[Diagnostic]]:
    """Every file in the vault (not only notes: embeds resolve against these), sorted, and
    an error for each folder that cannot be read (never skipped silently). A note that is
    not a regular file is reported when it is read (:func:`load_note`).

    Symlinked folders are followed, as Obsidian does, with a warning at the link when it
    is not followed (a loop, or a folder already in the vault, which would list its notes
    twice) or when it leads out of the vault (its notes are read; files there cannot be
    embedded, see :class:`~paperdeck.cards.media.VaultIndex`)."""
    files, problems = scan_files(vault, ignore)
    return [PurePosixPath(rel) for rel in files], problems


def scan_files(vault: Path, ignore: tuple[str, ...]) -> tuple[list[str], list[Diagnostic]]:
    """:func:`scan_vault`'s files as ``/``-separated strings, in the same order (that of
    :class:`~pathlib.PurePosixPath`): what a build needs to tell whether anything changed."""
    problems: list[Diagnostic] = []

    def unreadable(exc: OSError) -> None:
        folder = Path(exc.filename) if exc.filename else vault
        why = exc.strerror or str(exc)
        problems.append(error(display_path(folder), 0, f"cannot read folder: {why}"))

    def linked(rel: str, message: str) -> None:
        problems.append(warning(display_path(vault / rel), 0, message))

    files = sorted(_walk(vault, _ignore_rule(ignore), unreadable, linked), key=_path_order)
    return files, problems


def _path_order(rel: str) -> list[str]:
    return rel.split("/")


def _walk(
    vault: Path,
    ignored: Callable[[str], bool],
    onerror: Callable[[OSError], None],
    onlink: Callable[[str, str], None],
) -> Iterator[str]:
    vault_real = Path(os.path.realpath(vault))
    top = os.fspath(vault)
    real_of = {top: vault_real}  # each folder os.walk enters: where it really is
    rel_of = {top: ""}
    walked: dict[Path, PurePosixPath] = {vault_real: PurePosixPath(".")}
    for root, dirs, files in os.walk(vault, onerror=onerror, followlinks=True):
        root_real = real_of[root]
        prefix = rel_of[root]
        kept: list[str] = []
        for name in sorted(dirs):
            rel = prefix + name
            if ignored(rel + "/x"):
                continue
            path = os.path.join(root, name)
            if os.path.islink(path):
                real = Path(os.path.realpath(path))
                problem = folder_link_problem(real, root_real, vault_real, walked)
                if problem is None and vault_real not in real.parents:
                    onlink(
                        rel, f"folder link leads out of the vault, to {real}: its notes are read"
                    )
            else:
                real = root_real / name
                problem = _already_walked(real, walked)
            if problem is not None:
                onlink(rel, problem)
                continue
            kept.append(name)
            real_of[path] = real
            rel_of[path] = rel + "/"
            walked[real] = PurePosixPath(rel)
        dirs[:] = kept
        for name in files:
            rel = prefix + name
            if not ignored(rel):
                yield rel


def folder_link_problem(
    real: Path, parent_real: Path, vault_real: Path, walked: Mapping[Path, PurePosixPath]
) -> str | None:
    """Why a symlinked folder that leads to ``real``, met in the folder ``parent_real``,
    must not be followed; ``None`` if it may.

    A link to an enclosing folder (or the vault) never ends; one to a folder that is (or
    will be) walked anyway would list the same notes twice, under two names, and so give
    every card ID twice.
    """
    if real == vault_real or real in vault_real.parents:
        return f"folder link loops back to the vault or a folder above it ({real}): not followed"
    if real == parent_real or real in parent_real.parents:
        return f"folder link loops back to an enclosing folder ({real}): not followed"
    if vault_real in real.parents:
        return f"folder link to {real}, which is read where it is in the vault: not followed"
    return _already_walked(real, walked)


def _already_walked(real: Path, walked: Mapping[Path, PurePosixPath]) -> str | None:
    if real in walked:
        return f"folder {real} is already read as {walked[real].as_posix()}/: not read again"
    return None


def hard_link_warning(path: Path, status: os.stat_result) -> str | None:
    """Why writing IDs into this note by atomic rename would be wrong, or ``None``.

    A rename gives the path a new file: a note with other hard links (``st_nlink > 1``)
    would silently stop being the same file as its other names.
    """
    if status.st_nlink <= 1:
        return None
    others = status.st_nlink - 1
    names = "another name" if others == 1 else f"{others} other names"
    return (
        f"{path.name} is hard-linked ({names}); writing its IDs by atomic rename would "
        "separate it from them"
    )


def decode_note(data: bytes, shown: str) -> tuple[str | None, Diagnostic | None]:
    """Decode a note's bytes as UTF-8 (BOM kept as ``\\ufeff``), or say why it can't be."""
    if b"\x00" in data:
        return None, error(shown, 0, "binary file, not a Markdown note")
    try:
        return data.decode("utf-8"), None
    except UnicodeDecodeError as exc:
        line = data.count(b"\n", 0, exc.start) + 1
        return None, error(shown, line, f"not valid UTF-8 (byte 0x{data[exc.start]:02x})")


Parser = Callable[[PurePosixPath, str, bytes, str], tuple[Note, list[Diagnostic]]]
"""``(rel, shown path, bytes, text) -> (note, diagnostics)``: a parse, possibly cached."""


def parser(options: ParseOptions | None = None) -> Parser:
    """The plain, uncached parser, reading notes with the vault's options."""

    def parse(
        rel: PurePosixPath, shown: str, data: bytes, text: str
    ) -> tuple[Note, list[Diagnostic]]:
        return parse_note(text, path=shown, options=options)

    return parse


def parse_note(
    text: str, *, path: str, options: ParseOptions | None = None
) -> tuple[Note, list[Diagnostic]]:
    """:func:`paperdeck.notes.parse.parse_note`, imported when first needed: a build with
    nothing to parse never loads the Markdown parser."""
    from paperdeck.notes.parse import parse_note as parse_text

    return parse_text(text, path=path, options=options)


def load_note(
    vault: Path, rel: PurePosixPath, *, parse: Parser | None = None
) -> tuple[SourceNote | None, list[Diagnostic]]:
    """Read and parse one note; unreadable or undecodable files give a diagnostic.

    Only a regular file is read: a FIFO named ``x.md`` would block the build forever.
    """
    path = vault / rel
    shown = display_path(path)
    read = read_note(path, shown)
    if read.text is None or read.status is None:
        return None, list(read.diagnostics)
    note, diagnostics = (parse or parser())(rel, shown, read.data, read.text)
    return SourceNote(path, rel, read.data, read.text, note, read.status.st_mtime), list(
        diagnostics
    )


@dataclass(frozen=True)
class ReadNote:
    """A note file's bytes as read, the status of the file they were read from, and its
    text, or why it has none."""

    data: bytes
    status: os.stat_result | None
    """``None`` when the file could not be read."""
    text: str | None
    diagnostics: tuple[Diagnostic, ...]


def read_note(path: Path, shown: str) -> ReadNote:
    """The bytes and text of the note at ``path`` (shown as ``shown`` in messages)."""
    try:
        data, status = read_regular_file(path)
    except OSError as exc:
        return ReadNote(b"", None, None, (error(shown, 0, f"cannot read: {exc.strerror or exc}"),))
    text, problem = decode_note(data, shown)
    return ReadNote(data, status, text, (problem,) if problem else ())
