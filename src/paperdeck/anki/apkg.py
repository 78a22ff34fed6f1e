"""Writing the ``.apkg``: paperdeck's note types, one subdeck per note, reproducible bytes.

The collection file is written page by page (:mod:`~paperdeck.anki.deckimage`, with
genanki's schema, note types and decks as JSON), and the zip here, entry by entry, with
fixed times and sorted media: unchanged input gives an identical file, however the
collection was made (afresh, or brought up to date from the last build's). What matters
for re-import: each note's ``mod`` comes from its source file (Anki updates a note on
import only when the incoming ``mod`` is newer), note ids are the cards' IDs, and a card's
id is its note's (see :func:`~paperdeck.anki.deckrows.card_ids`).
"""

from __future__ import annotations

import hashlib
import itertools
import json
import struct
import zlib
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, replace
from pathlib import Path
from typing import BinaryIO

import genanki

from paperdeck.anki.deckimage import Image
from paperdeck.anki.deckrows import RowSpool, note_row
from paperdeck.anki.note_types import BASIC, NoteType
from paperdeck.anki.segments import END, Segment, SegmentStore, combined


@dataclass(frozen=True)
class AnkiNote:
    """One Anki note as it will be written: fields already rendered to HTML."""

    guid: str
    note_id: int | None
    """The card's ID, used as Anki's note id; ``None`` for a card that has no ID yet."""
    deck: str
    fields: tuple[str, ...]
    """One value per field of ``note_type``, in its order."""
    tags: tuple[str, ...]
    mod: int
    """Seconds since the epoch: the source note's modification time."""
    note_type: NoteType = BASIC


def guid_for(card_id: int) -> str:
    """The note's guid, from its ID alone: editing the card keeps the guid, so Anki updates it."""
    return genanki.guid_for("paperdeck", card_id)  # type: ignore[no-any-return]


def deck_id(name: str) -> int:
    """A stable deck id from the deck's full name."""
    return int.from_bytes(hashlib.sha256(name.encode()).digest()[:6], "big") + (1 << 50)


def write_apkg(
    notes: Sequence[AnkiNote],
    media: Sequence[tuple[str, Path]],
    out: Path,
    type_mods: Mapping[int, int] | None = None,
) -> None:
    """Write the package to ``out`` (the caller makes that path temporary and atomic).

    ``type_mods`` gives a note type's modification time by its id (see
    :func:`settle_type_mods`); a type without one gets the newest note's ``mod``.
    """
    image, store = package_image(notes, type_mods or {})
    write_package(out, image, store, media)


def package_image(
    notes: Sequence[AnkiNote], type_mods: Mapping[int, int]
) -> tuple[Image, SegmentStore]:
    """The collection file of a package holding ``notes``. A note type without a time in
    ``type_mods`` gets the newest note's."""
    timestamp = max((n.mod for n in notes), default=0)
    mods = {n.note_type.model_id: timestamp for n in notes}
    mods.update(type_mods)
    store = SegmentStore()
    rows = RowSpool()
    try:
        for note in with_note_ids(notes):
            rows.append(note_row(note), content_digest(note))
        return Image.build(rows, rows.mods, mods, store), store
    finally:
        rows.close()


def with_note_ids(notes: Sequence[AnkiNote], taken: Iterable[int] = ()) -> list[AnkiNote]:
    """The notes, each card without an ID given a note id no other note has (``taken``:
    ids the notes do not hold but that are taken), in order of deck and guid."""
    used = {n.note_id for n in notes if n.note_id is not None}
    used.update(taken)
    spare = (i for i in itertools.count(1_000_000_000_000) if i not in used)
    return [
        n if n.note_id is not None else replace(n, note_id=next(spare))
        for n in sorted(notes, key=lambda n: (n.deck, n.guid))
    ]


def write_package(
    out: Path,
    image: Image,
    store: SegmentStore,
    media: Sequence[tuple[str, Path]],
    segments: Sequence[Segment] | None = None,
) -> None:
    """Write the zip of a collection image (its ``segments``, if already made) and its
    media files to ``out``."""
    parts = image.segments(store) if segments is None else segments
    store.prefetch(parts)
    crc, size = combined(parts)
    ordered = sorted(media)
    with open(out, "wb") as file:
        archive = _Zip(file)
        archive.add("collection.anki2", crc, size, [*(store.get(s) for s in parts), END])
        index = {str(i): name for i, (name, _) in enumerate(ordered)}
        archive.add_bytes("media", json.dumps(index, sort_keys=True).encode())
        for i, (_, path) in enumerate(ordered):
            archive.add_bytes(str(i), path.read_bytes())
        archive.close()


def content_digest(note: AnkiNote) -> str:
    """What a note says (fields and tags), hashed: equal digests mean Anki would see no change."""
    text = "\x1f".join(note.fields) + "\0" + " ".join(note.tags)
    return hashlib.sha256(text.encode()).hexdigest()[:16]


def keep_unchanged_mods(
    notes: Sequence[AnkiNote], previous: Mapping[int, tuple[int, str]]
) -> list[AnkiNote]:
    """Give each note the ``mod`` it was last built with, unless its content changed.

    ``previous`` maps a card ID to the ``(mod, digest)`` of its last build (the vault's
    card state). Anki's importer updates a note whose incoming ``mod`` is newer. A note file
    holds many cards, and its mtime differs between machines and clones, so it cannot say
    which cards changed: a card whose digest is as before keeps its old ``mod`` (and so
    any edit made to it in Anki), a changed one gets the newer of the file's mtime and the
    old ``mod + 1``, and a card never built before keeps the file's mtime.
    """
    settled: list[AnkiNote] = []
    for note in notes:
        before = previous.get(note.note_id) if note.note_id is not None else None
        mod = settled_mod(note.mod, content_digest(note), before) if before else note.mod
        settled.append(note if mod == note.mod else replace(note, mod=mod))
    return settled


def settled_mod(mod: int, digest: str, before: tuple[int, str] | None) -> int:
    """A note's ``mod`` (see :func:`keep_unchanged_mods`): its last one if its content is
    unchanged, else the newer of ``mod`` and the last one plus a second."""
    if before is None:
        return mod
    return before[0] if before[1] == digest else max(mod, before[0] + 1)


def note_types(notes: Sequence[AnkiNote]) -> dict[int, NoteType]:
    """The note types ``notes`` use, by id."""
    return {n.note_type.model_id: n.note_type for n in notes}


def type_digest(note_type: NoteType) -> str:
    """16 hex digits identifying what a note type shows: fields, templates and CSS."""
    text = json.dumps(note_type.to_json(0, 0), sort_keys=True)
    return hashlib.sha256(text.encode()).hexdigest()[:16]


def settle_type_mods(
    types: Mapping[int, NoteType], previous: Mapping[int, tuple[int, str]], now: int
) -> dict[int, int]:
    """Each note type's ``mod``: kept while its definition is unchanged, else ``now``.

    Anki's importer replaces a note type's templates and CSS only when the incoming ``mod``
    is newer than its own, which is the time of the last import, so a note type whose
    definition changed (or that has no record yet) must carry the build's time; one that
    did not keeps its old time, so the deck's bytes stay the same from build to build.
    """
    mods: dict[int, int] = {}
    for model_id, note_type in types.items():
        before = previous.get(model_id)
        if before is not None and before[1] == type_digest(note_type):
            mods[model_id] = before[0]
        else:
            mods[model_id] = max(now, before[0] + 1) if before is not None else now
    return mods


class _Zip:
    """A zip file written entry by entry, each entry deflated, with fixed times and modes
    (the bytes depend on the content alone). Entries over 4 GiB are refused."""

    def __init__(self, file: BinaryIO) -> None:
        self.file = file
        self.offset = 0
        self.central: list[bytes] = []

    def add_bytes(self, name: str, data: bytes) -> None:
        packer = zlib.compressobj(_LEVEL, zlib.DEFLATED, -15)
        self.add(name, zlib.crc32(data), len(data), [packer.compress(data) + packer.flush()])

    def add(self, name: str, crc: int, size: int, chunks: Sequence[bytes]) -> None:
        packed = sum(len(c) for c in chunks)
        if max(size, packed, self.offset) >= _ZIP_LIMIT:
            raise ValueError(f"{name}: too large for a zip file without ZIP64")
        encoded = name.encode("utf-8")
        common = struct.pack("<HHHHHIII", 20, 0, 8, 0, _ZIP_DATE, crc, packed, size)
        local = struct.pack("<I", 0x04034B50) + common + struct.pack("<HH", len(encoded), 0)
        self.central.append(
            struct.pack("<IH", 0x02014B50, 0x0314)
            + common
            + struct.pack("<HHHHHI", len(encoded), 0, 0, 0, 0, 0o644 << 16)
            + struct.pack("<I", self.offset)
            + encoded
        )
        self.file.write(local + encoded)
        for chunk in chunks:
            self.file.write(chunk)
        self.offset += len(local) + len(encoded) + packed

    def close(self) -> None:
        directory = b"".join(self.central)
        self.file.write(directory)
        count = len(self.central)
        end = struct.pack(
            "<IHHHHIIH", 0x06054B50, 0, 0, count, count, len(directory), self.offset, 0
        )
        self.file.write(end)


_LEVEL = 6
_ZIP_DATE = (0 << 9) | (1 << 5) | 1
"""1980-01-01, the earliest date a zip entry can hold (at 00:00:00)."""
_ZIP_LIMIT = 0xFFFFFFFF
