"""Anki's rows as SQLite records: a note's row of the notes table, its cards' rows, the
index entries, and the ``col`` row (note types and decks as genanki writes them), each
made from a few numbers and strings without SQLite; and notes' rows kept on disk
(:class:`RowSpool`) while a deck of many notes is made.
"""

from __future__ import annotations

import functools
import hashlib
import json
import mmap
import re
import sqlite3
import tempfile
from array import array
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, NamedTuple, overload

from paperdeck.anki import sqlfile

if TYPE_CHECKING:
    from paperdeck.anki.apkg import AnkiNote
    from paperdeck.anki.note_types import NoteType


class NeedsFullBuild(Exception):
    """The image cannot be updated in place for these notes (one has no ID yet, or a note
    type has no time): build it from scratch."""


NoteShape = tuple[int, str, int, tuple[int, ...]]
"""What the image must know of a note to remove it: (note id, deck, note type id, the
ords of its cards)."""


class NoteRow(NamedTuple):
    """A note as the collection file holds it: its row of the notes table, and what its
    cards' rows are made of."""

    nid: int
    deck: str
    note_type: NoteType
    ords: tuple[int, ...]
    """The ord of each card it makes."""
    mod: int
    record: bytes
    """Its row of the notes table (with ``mod``)."""


@dataclass
class Columns:
    """Rows as arrays: note ids, and each row's deck and kind (note type and ords) by
    number."""

    nids: array[int]
    deck: array[int]
    decks: list[str]
    kind: array[int]
    kinds: list[tuple[NoteType, tuple[int, ...]]]


def note_row(note: AnkiNote) -> NoteRow:
    """The row of a note that has an ID (:class:`NeedsFullBuild` if it has none)."""
    if note.note_id is None:
        raise NeedsFullBuild
    note_type = note.note_type
    ords = _fixed_ords(note_type)
    if ords is None:
        from paperdeck.anki.note_types import card_ords

        ords = tuple(card_ords(note_type, note.fields))
    return NoteRow(note.note_id, note.deck, note_type, ords, note.mod, note_record(note))


def shape(row: NoteRow) -> NoteShape:
    return row.nid, row.deck, row.note_type.model_id, row.ords


def with_mod(row: NoteRow, mod: int) -> NoteRow:
    """The row with another ``mod`` (its record changed in place when the new value takes
    as many bytes, else made again)."""
    if mod == row.mod:
        return row
    record = row.record
    size, pos = sqlfile.read_varint(record, 0)
    serials = []
    for _ in range(4):  # id, guid, mid, mod
        serial, pos = sqlfile.read_varint(record, pos)
        serials.append(serial)
    old_serial, old_width = _int_serial(row.mod)
    new_serial, new_width = _int_serial(mod)
    if serials[3] != old_serial or new_serial != old_serial:
        values = sqlfile.record_values(record)
        values[3] = mod
        return row._replace(mod=mod, record=sqlfile.record(values))
    at = size + serial_width(serials[1]) + serial_width(serials[2])
    data = mod.to_bytes(new_width, "big", signed=True) if new_width else b""
    return row._replace(mod=mod, record=record[:at] + data + record[at + old_width :])


def _int_serial(value: int) -> tuple[int, int]:
    payload = sqlfile.record([value])
    serial = payload[1]
    return serial, len(payload) - 2


def serial_width(serial: int) -> int:
    if serial >= 12:
        return (serial - 12) // 2
    return (0, 1, 2, 3, 4, 6, 8, 8, 0, 0)[serial]


class RowSpool(Sequence[NoteRow]):
    """Rows kept on disk, in a temporary file, but for the little that ordering and settling
    them needs: a deck of 100,000 cards holds a few MB of them in memory, not its text."""

    def __init__(self) -> None:
        self._file = tempfile.TemporaryFile()  # noqa: SIM115 - closed by close()
        self._size = 0
        self._view: mmap.mmap | None = None
        self.nids = array("q")
        self.mods = array("q")
        self._at = array("q")
        self._decks: list[str] = []
        self._deck_index: dict[str, int] = {}
        self._kinds: list[tuple[NoteType, tuple[int, ...]]] = []
        self._kind_index: dict[tuple[int, tuple[int, ...]], int] = {}
        self._deck = array("l")
        self._kind = array("l")
        self.digests = bytearray()
        """Each row's content digest (8 bytes; see :func:`~paperdeck.anki.apkg.content_digest`)."""

    def append(self, row: NoteRow, digest: str) -> None:
        self._file.write(row.record)
        self._at.append(self._size)
        self._size += len(row.record)
        self.nids.append(row.nid)
        self.mods.append(row.mod)
        deck = self._deck_index.setdefault(row.deck, len(self._decks))
        if deck == len(self._decks):
            self._decks.append(row.deck)
        key = (row.note_type.model_id, row.ords)
        kind = self._kind_index.setdefault(key, len(self._kinds))
        if kind == len(self._kinds):
            self._kinds.append((row.note_type, row.ords))
        self._deck.append(deck)
        self._kind.append(kind)
        self.digests += bytes.fromhex(digest)

    def digest(self, index: int) -> str:
        return self.digests[8 * index : 8 * index + 8].hex()

    def columns(self) -> Columns:
        return Columns(self.nids, self._deck, self._decks, self._kind, self._kinds)

    def note_types(self) -> dict[int, NoteType]:
        return {t.model_id: t for t, _ in self._kinds}

    def __len__(self) -> int:
        return len(self.nids)

    @overload
    def __getitem__(self, index: int) -> NoteRow: ...

    @overload
    def __getitem__(self, index: slice) -> Sequence[NoteRow]: ...

    def __getitem__(self, index: int | slice) -> NoteRow | Sequence[NoteRow]:
        if isinstance(index, slice):
            return [self[i] for i in range(*index.indices(len(self)))]
        start = self._at[index]
        end = self._at[index + 1] if index + 1 < len(self._at) else self._size
        note_type, ords = self._kinds[self._kind[index]]
        record = self._read(start, end)
        return NoteRow(
            self.nids[index],
            self._decks[self._deck[index]],
            note_type,
            ords,
            self.mods[index],
            record,
        )

    def _read(self, start: int, end: int) -> bytes:
        if self._view is None or len(self._view) < self._size:
            self._file.flush()
            if self._view is not None:
                self._view.close()
            self._view = mmap.mmap(self._file.fileno(), self._size, access=mmap.ACCESS_READ)
        return self._view[start:end]

    def close(self) -> None:
        if self._view is not None:
            self._view.close()
            self._view = None
        self._file.close()


@functools.lru_cache(maxsize=256)
def _fixed_ords(note_type: NoteType) -> tuple[int, ...] | None:
    """The cards every note of a type makes, if they do not depend on its fields (no cloze,
    no template shown only when a field is filled)."""
    if note_type.cloze or any(front.startswith("{{#") for _, front, _ in note_type.templates):
        return None
    return tuple(range(len(note_type.templates))) or (0,)


def note_record(note: AnkiNote) -> bytes:
    tags = f" {' '.join(note.tags)} " if note.tags else ""
    sort_field = numeric_affinity(note.fields[0])
    mid, mod = note.note_type.model_id, note.mod
    if type(sort_field) is not str or not (_ID[0] <= mid < _ID[1] and _MOD[0] <= mod < _MOD[1]):
        return sqlfile.record(
            (None, note.guid, mid, mod, -1, tags, "\x1f".join(note.fields), sort_field, 0, 0, "")
        )
    guid, tag_bytes = note.guid.encode(), tags.encode()
    fields, first = "\x1f".join(note.fields).encode(), sort_field.encode()
    varint = sqlfile.varint
    head = (
        b"\x00"
        + varint(13 + 2 * len(guid))
        + b"\x05\x04\x01"
        + varint(13 + 2 * len(tag_bytes))
        + varint(13 + 2 * len(fields))
        + varint(13 + 2 * len(first))
        + b"\x08\x08\x0d"
    )
    size = len(head) + 1 if len(head) < 0x7F else len(head) + 2
    if size >= 0x4000:
        return sqlfile.record(
            (None, note.guid, mid, mod, -1, tags, "\x1f".join(note.fields), sort_field, 0, 0, "")
        )
    body = (
        guid
        + mid.to_bytes(6, "big")
        + mod.to_bytes(4, "big")
        + b"\xff"
        + tag_bytes
        + fields
        + first
    )
    return varint(size) + head + body


_ID = (1 << 31, 1 << 47)
"""Integers in this range take six bytes in a record (Anki's ids, paperdeck's card IDs)."""


_WIDE = (1 << 47, 1 << 63)
"""Integers in this range take eight (deck ids)."""


_MOD = (1 << 23, 1 << 31)
"""Integers in this range take four (a time in seconds, from 1970-04 to 2038)."""


def index_record(key: tuple[int, ...]) -> bytes:
    """The record of an index entry (its values, rowid last); the usual shapes of Anki's
    indexes without :func:`~paperdeck.anki.sqlfile.record`'s general work."""
    if len(key) == 2:
        a, b = key
        if _ID[0] <= b < _ID[1]:
            if a == -1:
                return b"\x03\x01\x05\xff" + b.to_bytes(6, "big")
            if a == 0:
                return b"\x03\x08\x05" + b.to_bytes(6, "big")
            if _ID[0] <= a < _ID[1]:
                return b"\x03\x05\x05" + a.to_bytes(6, "big") + b.to_bytes(6, "big")
    elif len(key) == 4:
        did, queue, due, cid = key
        if queue == due == 0 and _WIDE[0] <= did < _WIDE[1] and _ID[0] <= cid < _ID[1]:
            return b"\x05\x06\x08\x08\x05" + did.to_bytes(8, "big") + cid.to_bytes(6, "big")
    return sqlfile.record(key)


_CARD_TAIL = bytes((1, *(8,) * 11, 13))


def card_record(nid: int, did: int, ord_: int, mod: int) -> bytes:
    if (
        _ID[0] <= nid < _ID[1]
        and _WIDE[0] <= did < _WIDE[1]
        and ord_ in (0, 1)
        and _MOD[0] <= mod < _MOD[1]
    ):
        head = bytes((19, 0, 5, 6, 8 + ord_, 4)) + _CARD_TAIL
        return (
            head
            + nid.to_bytes(6, "big")
            + did.to_bytes(8, "big")
            + mod.to_bytes(4, "big")
            + b"\xff"
        )
    return sqlfile.record((None, nid, did, ord_, mod, -1, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, ""))


def card_ids(nids: set[int], pairs: Iterable[tuple[int, int]]) -> dict[tuple[int, int], int]:
    """The card id of each (note id, ord) whose ord is not 0 (a card of ord 0 takes its note's
    id): ``note id + ord``, moved on by 999 (as Anki's importer does) while another card
    or note has it. A card's id stands for when it was added, so it stays close to its
    note's, and depends on nothing else unless ids collide."""
    used = set(nids)
    found = {}
    for nid, ord_ in sorted(pairs):
        cid = nid + ord_
        while cid in used:
            cid += 999
        used.add(cid)
        found[(nid, ord_)] = cid
    return found


_NUMERIC_START = re.compile(r"[ \t\n\v\f\r]*[+\-.0-9]")


def numeric_affinity(text: str) -> int | float | str:
    """The value SQLite stores for ``text`` in a column of INTEGER affinity (Anki's
    ``sfld``): a number if the text reads as one, else the text."""
    if not _NUMERIC_START.match(text):
        return text
    db = _affinity_db()
    db.execute("DELETE FROM t")
    db.execute("INSERT INTO t VALUES (?)", (text,))
    value: int | float | str = db.execute("SELECT x FROM t").fetchone()[0]
    return value


@functools.cache
def _affinity_db() -> sqlite3.Connection:
    db = sqlite3.connect(":memory:", check_same_thread=False)
    db.execute("CREATE TABLE t (x integer)")
    return db


@functools.cache
def schema() -> tuple[tuple[str, str, str, str], ...]:
    """(type, name, table, SQL) of each object of genanki's schema, as SQLite stores them."""
    from genanki.apkg_schema import APKG_SCHEMA

    db = sqlite3.connect(":memory:")
    db.executescript(APKG_SCHEMA)
    rows = db.execute(
        "SELECT type, name, tbl_name, sql FROM sqlite_master ORDER BY rowid"
    ).fetchall()
    db.close()
    return tuple(rows)


@functools.cache
def _col_values() -> tuple[Any, ...]:
    from genanki.apkg_col import APKG_COL
    from genanki.apkg_schema import APKG_SCHEMA

    db = sqlite3.connect(":memory:")
    db.executescript(APKG_SCHEMA)
    db.executescript(APKG_COL)
    row = db.execute("SELECT * FROM col").fetchone()
    db.close()
    return tuple(row)


@functools.lru_cache(maxsize=65536)
def deck_id_of(name: str) -> int:
    from paperdeck.anki.apkg import deck_id

    return deck_id(name)


def col_record(
    decks: Iterable[str], types: Sequence[NoteType], type_mods: Mapping[int, int], first_deck: int
) -> bytes:
    """The ``col`` row: genanki's, with the note types and every deck."""
    values = list(_col_values())
    models = json.loads(values[9])
    models.update({str(t.model_id): t.to_json(type_mods[t.model_id], first_deck) for t in types})
    values[9] = json.dumps(models)
    values[10] = _decks_json(values[10], decks)
    values[0] = None  # the rowid
    return sqlfile.record(values)


def _decks_json(stock: str, decks: Iterable[str]) -> str:
    """``json.dumps`` of genanki's decks (the default deck) and one per name (sorted by
    name), as genanki's ``Deck.to_json`` gives them; made from one template, for speed."""
    before, middle, after = _deck_json_parts()
    items = [f"{json.dumps(k)}: {json.dumps(v)}" for k, v in json.loads(stock).items()]
    for name in sorted(decks):
        did = deck_id_of(name)
        items.append(f'"{did}": {before}{did}{middle}{json.dumps(name)}{after}')
    return "{" + ", ".join(items) + "}"


@functools.cache
def _deck_json_parts() -> tuple[str, str, str]:
    import genanki

    template = dict(genanki.Deck(0, "").to_json())
    if list(template).index("id") > list(template).index("name"):
        raise RuntimeError("genanki's deck JSON names the deck before its id")
    text = json.dumps({**template, "id": 123454321, "name": "NAME-1234"})
    before, rest = text.split("123454321")
    middle, after = rest.split('"NAME-1234"')
    return before, middle, after


def type_json_key(note_type: NoteType) -> bytes:
    return hashlib.sha256(json.dumps(note_type.to_json(0, 0), sort_keys=True).encode()).digest()
