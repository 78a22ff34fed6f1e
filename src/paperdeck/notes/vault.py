"""The vault on disk: which files are notes, and reading them safely (the I/O edge)."""

from __future__ import annotations

import fnmatch
import functools
import os
from collections.abc import Callable, Iterator, Mapping
from dataclasses import dataclass
from pathlib import Path, PurePosixPath

from paperdeck.diagnostics import Diagnostic, error, warning
from paperdeck.fileio import read_regular_file
from paperdeck.notes.model import Note
from paperdeck.notes.options import ParseOptions
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
    not a regular file is reported when it is read (:func:`load_note`).

    Symlinked folders are followed, as Obsidian does, with a warning at the link when it
    is not followed (a loop, or a folder already in the vault, which would list its notes
    twice) or when it leads out of the vault (its notes are read; files there cannot be
    embedded, see :class:`~paperdeck.cards.media.VaultIndex`)."""
    problems: list[Diagnostic] = []

    def unreadable(exc: OSError) -> None:
        folder = Path(exc.filename) if exc.filename else vault
        why = exc.strerror or str(exc)
        problems.append(error(display_path(folder), 0, f"cannot read folder: {why}"))

    def linked(rel: PurePosixPath, message: str) -> None:
        problems.append(warning(display_path(vault / rel), 0, message))

    return sorted(_walk(vault, ignore, unreadable, linked)), problems


def _walk(
    vault: Path,
    ignore: tuple[str, ...],
    onerror: Callable[[OSError], None],
    onlink: Callable[[PurePosixPath, str], None],
) -> Iterator[PurePosixPath]:
    vault_real = Path(os.path.realpath(vault))
    real_of = {os.fspath(vault): vault_real}  # each folder os.walk enters: where it really is
    walked: dict[Path, PurePosixPath] = {vault_real: PurePosixPath(".")}
    for root, dirs, files in os.walk(vault, onerror=onerror, followlinks=True):
        root_real = real_of[root]
        rel_root = PurePosixPath(Path(root).relative_to(vault).as_posix())
        kept: list[str] = []
        for name in sorted(dirs):
            rel = rel_root / name
            if is_ignored(rel / "x", ignore):
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
            walked[real] = rel
        dirs[:] = kept
        for name in files:
            rel = rel_root / name if str(rel_root) != "." else PurePosixPath(name)
            if not is_ignored(rel, ignore):
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
