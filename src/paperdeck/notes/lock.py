"""One writer per vault: an advisory file lock that the OS releases when its holder dies.

``build``, ``sync`` and each rebuild of ``watch`` hold it while they read notes and write
IDs, state and decks, so two of them never interleave. The lock file lives in the vault's
``.paperdeck/`` folder and holds a line saying who has it, which a second command shows
while it waits. POSIX systems use ``flock``; Windows locks one byte with ``msvcrt``.
"""

from __future__ import annotations

import contextlib
import os
import socket
import sys
import time
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import BinaryIO

from paperdeck.fileio import remove_stale_temps

STATE_DIR = ".paperdeck"
"""The vault's own folder: hidden, so Obsidian ignores it; git and file sync carry it."""
LOCK_NAME = "lock"
_WINDOWS_LOCK_OFFSET = 1 << 30
"""Windows locks byte ranges and refuses reads inside them: lock a byte past the text."""
_POLL_SECONDS = 0.1


def state_dir(vault: Path) -> Path:
    """The vault's ``.paperdeck/`` folder (made on demand, with a ``.gitignore`` for the lock)."""
    return vault / STATE_DIR


def ensure_state_dir(vault: Path) -> Path:
    """Make ``.paperdeck/`` with a ``.gitignore`` that keeps the lock and temp files out of git."""
    folder = state_dir(vault)
    folder.mkdir(exist_ok=True)
    ignore = folder / ".gitignore"
    if not ignore.exists():
        ignore.write_text(f"{LOCK_NAME}\n*.tmp\n", encoding="utf-8")
    return folder


@contextlib.contextmanager
def vault_lock(
    vault: Path, *, command: str, on_wait: Callable[[str], None] | None = None
) -> Iterator[bool]:
    """Hold the vault's lock for the ``with`` block; yields whether a lock is held.

    If another process holds it, ``on_wait`` is told who (once) and this waits until it is
    released. Once it is held, temporary files that a killed holder left in ``.paperdeck/``
    are removed. A vault where the lock file cannot be made (a read-only folder) is used
    unlocked: nothing in it can be written then, by this process or another paperdeck.
    """
    try:
        path = ensure_state_dir(vault) / LOCK_NAME
        handle = open(path, "a+b")  # noqa: SIM115 - closed in the finally below
    except OSError:
        yield False
        return
    try:
        if not _try_lock(handle):
            if on_wait is not None:
                on_wait(_holder(handle) or "another paperdeck command")
            _wait_for_lock(handle)
        _write_holder(handle, command)
        remove_stale_temps(path.parent)  # what a killed holder was writing here
        try:
            yield True
        finally:
            _unlock(handle)
    finally:
        handle.close()


def _holder(handle: BinaryIO) -> str:
    handle.seek(0)
    return handle.read(500).decode("utf-8", "replace").strip()


def _write_holder(handle: BinaryIO, command: str) -> None:
    since = time.strftime("%H:%M:%S")
    line = f"paperdeck {command} (pid {os.getpid()} on {socket.gethostname()}, since {since})"
    handle.seek(0)
    handle.truncate()
    handle.write(line.encode() + b"\n")
    handle.flush()


if sys.platform == "win32":  # pragma: no cover - exercised on Windows only
    import msvcrt

    def _try_lock(handle: BinaryIO) -> bool:
        handle.seek(_WINDOWS_LOCK_OFFSET)
        try:
            msvcrt.locking(handle.fileno(), msvcrt.LK_NBLCK, 1)
        except OSError:
            return False
        return True

    def _wait_for_lock(handle: BinaryIO) -> None:
        while not _try_lock(handle):
            time.sleep(_POLL_SECONDS)

    def _unlock(handle: BinaryIO) -> None:
        handle.seek(_WINDOWS_LOCK_OFFSET)
        with contextlib.suppress(OSError):
            msvcrt.locking(handle.fileno(), msvcrt.LK_UNLCK, 1)

else:
    import fcntl

    def _try_lock(handle: BinaryIO) -> bool:
        try:
            fcntl.flock(handle.fileno(), fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            return False
        return True

    def _wait_for_lock(handle: BinaryIO) -> None:
        fcntl.flock(handle.fileno(), fcntl.LOCK_EX)

    def _unlock(handle: BinaryIO) -> None:
        fcntl.flock(handle.fileno(), fcntl.LOCK_UN)
