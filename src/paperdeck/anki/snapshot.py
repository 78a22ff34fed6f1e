"""A collection opened for reading only: a private copy, so that the user's file is never
written.

Anki's Python package has no read-only mode (``Collection(path, backend, server)``), and
opening a collection through it may write to the file: its backend switches the journal to
WAL, upgrades an older schema, fixes what its checks find, and creates a media database
beside it. So the collection is copied (its bytes read, nothing else) into a temporary
folder, and Anki opens the copy, with its own scheduler, day cutoff and deck options intact.

A collection that Anki has open is refused, as :func:`~paperdeck.anki.collection.open_collection`
refuses it: Anki keeps a ``-wal`` file beside the collection for as long as it has it open
(and removes it on closing), so the file alone may lack the latest reviews. A ``-journal``
file (an older Anki, or one that was not closed cleanly) is refused the same way. A copy
made while the file changed under it is refused too.
"""

from __future__ import annotations

import contextlib
import os
import shutil
import tempfile
from collections.abc import Iterator
from pathlib import Path
from typing import TYPE_CHECKING

from paperdeck.anki.collection import (
    CollectionError,
    CollectionLocked,
    check_collection_path,
    require_anki,
)

if TYPE_CHECKING:
    from anki.collection import Collection

JOURNALS = ("-wal", "-journal")
"""What SQLite keeps beside a database it has open (or was not closed cleanly)."""


def in_use_error(path: Path) -> CollectionLocked:
    """What a command says about a collection that Anki has open."""
    return CollectionLocked(
        f"{path} is locked: Anki has it open (or was not closed cleanly). Close Anki (or "
        "switch it to another profile) and run this again; nothing was changed."
    )


@contextlib.contextmanager
def open_read_only(path: Path) -> Iterator[Collection]:
    """The collection at ``path`` as Anki opens it, from a private copy; ``path`` is only read.

    Raises :class:`CollectionMissing`, :class:`CollectionLocked` (Anki has it open, or it
    changed while it was copied) or :class:`CollectionError` (not a collection).
    """
    require_anki()
    from anki.collection import Collection
    from anki.errors import AnkiException

    check_collection_path(path)
    with tempfile.TemporaryDirectory(prefix="paperdeck-read-") as folder:
        copy = Path(folder) / "collection.anki2"
        _copy_at_rest(path, copy)
        try:
            col = Collection(str(copy))
        except AnkiException as exc:
            raise CollectionError(f"{path}: cannot use this Anki collection: {exc}") from exc
        try:
            yield col
        except AnkiException as exc:
            raise CollectionError(f"{path}: Anki reported a problem: {exc}") from exc
        finally:
            col.close()


def _copy_at_rest(path: Path, copy: Path) -> None:
    """Copy ``path`` to ``copy`` if no program has it open, and it stays unchanged meanwhile."""
    if _journal(path):
        raise in_use_error(path)
    try:
        before = os.stat(path)
        shutil.copyfile(path, copy)
        after = os.stat(path)
    except OSError as exc:
        raise CollectionError(f"{path}: cannot read it: {exc.strerror or exc}") from exc
    if _stamp(before) != _stamp(after) or _journal(path):
        raise in_use_error(path)


def _journal(path: Path) -> bool:
    return any(Path(f"{path}{suffix}").exists() for suffix in JOURNALS)


def _stamp(status: os.stat_result) -> tuple[int, int, int, int]:
    return (status.st_ino, status.st_dev, status.st_size, status.st_mtime_ns)
