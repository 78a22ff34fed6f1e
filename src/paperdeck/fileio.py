"""Safe file I/O: a note or a deck is either the old file or the complete new one, and
only regular files are ever read (a FIFO, socket or device in a vault must not hang us).

Every temporary file paperdeck makes is named ``.<target>.paperdeck-<random>.tmp`` next to
its target, so that the next run can find and remove what a killed run left behind without
touching anyone else's files.
"""

from __future__ import annotations

import contextlib
import errno
import os
import re
import stat
import tempfile
from collections.abc import Iterable, Iterator
from pathlib import Path
from typing import BinaryIO

TEMP_MARK = ".paperdeck-"
_TEMP_RE = re.compile(r"^\.(?P<target>.+)\.paperdeck-[A-Za-z0-9_]+\.tmp$")


class OutputPathError(ValueError):
    """An output path that must not be replaced by a regular file (a folder, a device, ...)."""


@contextlib.contextmanager
def atomic_path(target: Path) -> Iterator[Path]:
    """Yield a temporary path next to ``target``; on success it replaces ``target``.

    The temporary file is fsynced before the rename and removed on failure, so a crash or
    an error mid-write never leaves a half-written note or deck behind (a SIGKILL can leave
    the temporary file itself: :func:`remove_stale_temps` clears it on the next run).
    """
    target.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp_name = tempfile.mkstemp(
        prefix=f".{target.name}{TEMP_MARK}", suffix=".tmp", dir=target.parent
    )
    os.close(fd)
    tmp = Path(tmp_name)
    try:
        yield tmp
        with open(tmp, "rb+") as handle:
            os.fsync(handle.fileno())
        if target.exists():
            os.chmod(tmp, target.stat().st_mode & 0o7777)
        else:
            os.chmod(tmp, 0o666 & ~_umask())
        os.replace(tmp, target)
    finally:
        tmp.unlink(missing_ok=True)


def atomic_write_bytes(target: Path, data: bytes) -> None:
    """Replace ``target`` with ``data`` atomically, keeping its permission bits."""
    with atomic_path(target) as tmp:
        tmp.write_bytes(data)


class _ChangedMeanwhile(Exception):
    """The file no longer holds the bytes the caller based its new content on."""


def replace_if_unchanged(path: Path, expected: bytes, data: bytes) -> bool:
    """Atomically replace the file at ``path`` with ``data`` only if it still holds ``expected``.

    The check is repeated right before the rename, and once more after it on the file that
    was replaced: an editor that wrote into the old file in that instant would otherwise
    lose its edit, so its version is put back and ``False`` returned, as for any other
    change. A symlink is written through to the file it points to. Returns whether
    ``data`` was written; raises :class:`OSError` if the file cannot be read or written.
    """
    target = Path(os.path.realpath(path))
    with open(target, "rb") as old:
        if old.read() != expected:
            return False
        try:
            with atomic_path(target) as tmp:
                tmp.write_bytes(data)
                if _reread(old) != expected:
                    raise _ChangedMeanwhile
        except _ChangedMeanwhile:
            return False
        newer = _reread(old)
    if newer == expected:
        return True
    # Someone wrote into the file we just replaced: theirs is the newest text.
    with contextlib.suppress(OSError):
        replace_if_unchanged(target, data, newer)
    return False


def _reread(handle: BinaryIO) -> bytes:
    handle.seek(0)
    return handle.read()


def remove_stale_temps(folder: Path, *, targets: Iterable[str] | None = None) -> list[Path]:
    """Remove the temporary files a killed run left in ``folder`` (not below it).

    With ``targets``, only the temporary files of those file names are removed (for a
    folder shared with other vaults' builds, such as ``cards/``). Returns what was removed.
    """
    wanted = set(targets) if targets is not None else None
    removed: list[Path] = []
    try:
        names = os.listdir(folder)
    except OSError:
        return removed
    for name in names:
        match = _TEMP_RE.match(name)
        if match is None or (wanted is not None and match["target"] not in wanted):
            continue
        with contextlib.suppress(OSError):
            (folder / name).unlink()
            removed.append(folder / name)
    return removed


def remove_if_stale_temp(path: Path) -> bool:
    """Remove ``path`` if it is a temporary file of paperdeck's (a killed run's); say if it was.

    Call only while holding the lock of the folder's vault, so the file is no live run's.
    """
    if _TEMP_RE.match(path.name) is None:
        return False
    with contextlib.suppress(FileNotFoundError):
        path.unlink()
    return True


def check_output_path(path: Path) -> None:
    """Refuse an output path that is not a regular file (or not yet there), before any work.

    A folder, a device such as ``/dev/null``, a FIFO or a socket would be replaced by a
    regular file (or the temporary file would land in its parent); a symlink is followed.
    """
    try:
        info = path.stat()
    except FileNotFoundError:
        if path.parent.exists() and not path.parent.is_dir():
            raise OutputPathError(f"{path}: {path.parent} is not a folder") from None
        return
    except OSError as exc:
        raise OutputPathError(f"{path}: cannot use as output: {exc.strerror or exc}") from exc
    if stat.S_ISDIR(info.st_mode):
        raise OutputPathError(f"{path} is a folder; give the path of the .apkg file to write")
    if not stat.S_ISREG(info.st_mode):
        raise OutputPathError(f"{path} is not a regular file but {file_kind(info.st_mode)}")


# -- reading only regular files ------------------------------------------------------------

_KINDS = (
    (stat.S_ISDIR, "a folder"),
    (stat.S_ISFIFO, "a FIFO"),
    (stat.S_ISSOCK, "a socket"),
    (stat.S_ISCHR, "a character device"),
    (stat.S_ISBLK, "a block device"),
)


class NotRegularFile(OSError):
    """A path that is something other than a regular file (its ``strerror`` says what)."""


def file_kind(mode: int) -> str:
    """``a FIFO``, ``a folder``, ...: what a non-regular file is, for messages."""
    return next((name for test, name in _KINDS if test(mode)), "not a regular file")


def check_regular(status: os.stat_result, path: Path) -> None:
    """Raise :class:`NotRegularFile` unless ``status`` is a regular file's."""
    if not stat.S_ISREG(status.st_mode):
        kind = file_kind(status.st_mode)
        raise NotRegularFile(errno.EINVAL, f"not a regular file ({kind})", str(path))


def read_regular_file(path: Path) -> tuple[bytes, os.stat_result]:
    """The bytes of a regular file and its status; raises OSError (:class:`NotRegularFile`)."""
    check_regular(os.stat(path), path)
    flags = os.O_RDONLY | getattr(os, "O_NONBLOCK", 0) | getattr(os, "O_NOCTTY", 0)
    fd = os.open(path, flags | getattr(os, "O_BINARY", 0))
    with open(fd, "rb") as handle:
        status = os.fstat(fd)
        check_regular(status, path)
        return handle.read(), status


def _umask() -> int:
    mask = os.umask(0)
    os.umask(mask)
    return mask
