"""Reading a file that may not be a file: a FIFO, socket or device in a vault must not hang us.

Opening a FIFO for reading blocks until a writer comes, and reading a device may never end,
so only regular files are read: checked before opening, and again on the open descriptor
(opened non-blocking) in case the path was swapped in between.
"""

from __future__ import annotations

import errno
import os
import stat
from pathlib import Path

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
