"""The vault on disk: which files are notes, and reading them safely (the I/O edge)."""

from __future__ import annotations

import fnmatch
import functools
import os
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path, PurePosixPath

from paperdeck.diagnostics import Diagnostic, error
from paperdeck.fileio import read_regular_file
from paperdeck.notes.model import Note
from paperdeck.notes.parse import parse_note

NOTE_SUFFIX = ".md"


@dataclass(frozen=True)
class SourceNote:
    """A note file as read: where it is, its exact bytes, and its parse."""

    path: Path
    rel: PurePosixPath
    """Path relative to the vault root, with ``/`` separators."""
    data: bytes
    text: str
    note: Note
    mtime: float


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
    text = rel.as_posix()
    for pattern in patterns:
        if fnmatch.fnmatchcase(text, pattern):
            return True
        if pattern.endswith("/**") and (text + "/").startswith(pattern[:-2]):
            return True
        if pattern.startswith("**/") and fnmatch.fnmatchcase(text, pattern[3:]):
            return True
    return False


def scan_vault(
    vault: Path, ignore: tuple[str, ...]
) -> tuple[list[PurePosixPath], list[Diagnostic]]:
    """Every file in the vault (not only notes: embeds resolve against these), sorted, and
    an error for each folder that cannot be read (never skipped silently). A note that is
    not a regular file is reported when it is read (:func:`load_note`)."""
    problems: list[Diagnostic] = []

    def unreadable(exc: OSError) -> None:
        folder = Path(exc.filename) if exc.filename else vault
        why = exc.strerror or str(exc)
        problems.append(error(display_path(folder), 0, f"cannot read folder: {why}"))

    return sorted(_walk(vault, ignore, unreadable)), problems


def _walk(
    vault: Path, ignore: tuple[str, ...], onerror: Callable[[OSError], None]
) -> Iterator[PurePosixPath]:
    for root, dirs, files in os.walk(vault, onerror=onerror):
        rel_root = PurePosixPath(Path(root).relative_to(vault).as_posix())
        dirs[:] = sorted(d for d in dirs if not is_ignored(rel_root / d / "x", ignore))
        for name in files:
            rel = rel_root / name if str(rel_root) != "." else PurePosixPath(name)
            if not is_ignored(rel, ignore):
                yield rel


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


def parser(*, highlight_cloze: bool = False) -> Parser:
    """The plain, uncached parser."""

    def parse(
        rel: PurePosixPath, shown: str, data: bytes, text: str
    ) -> tuple[Note, list[Diagnostic]]:
        return parse_note(text, path=shown, highlight_cloze=highlight_cloze)

    return parse


def load_note(
    vault: Path, rel: PurePosixPath, *, parse: Parser | None = None
) -> tuple[SourceNote | None, list[Diagnostic]]:
    """Read and parse one note; unreadable or undecodable files give a diagnostic.

    Only a regular file is read: a FIFO named ``x.md`` would block the build forever.
    """
    path = vault / rel
    shown = display_path(path)
    try:
        data, status = read_regular_file(path)
    except OSError as exc:
        return None, [error(shown, 0, f"cannot read: {exc.strerror or exc}")]
    mtime = status.st_mtime
    text, problem = decode_note(data, shown)
    if text is None:
        return None, [problem] if problem else []
    note, diagnostics = (parse or parser())(rel, shown, data, text)
    return SourceNote(path, rel, data, text, note, mtime), list(diagnostics)
