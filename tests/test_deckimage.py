"""The collection file written page by page: a valid SQLite database holding exactly the
notes it was given, and, updated note by note, the same bytes as one written afresh."""

from __future__ import annotations

import json
import random
import sqlite3
import zipfile
import zlib
from collections.abc import Iterable
from dataclasses import replace
from pathlib import Path

import pytest
from hypothesis import given
from hypothesis import strategies as st

import paperdeck.anki.deckimage as deckimage
from paperdeck.anki import deckrows, sqlfile
from paperdeck.anki.apkg import (
    AnkiNote,
    content_digest,
    deck_id,
    guid_for,
    write_apkg,
    write_package,
)
from paperdeck.anki.deckimage import Image
from paperdeck.anki.deckrows import RowSpool, card_ids, note_row, shape
from paperdeck.anki.note_types import BASIC, CLOZE, REVERSED, custom_note_type
from paperdeck.anki.segments import SegmentStore, crc32_combine

OPTIONAL = custom_note_type("Basic (optional reversed card)", ("Front", "Back", "Add Reverse"))
TYPES = (BASIC, REVERSED, CLOZE, OPTIONAL)
MODS = {t.model_id: 1_700_000_000 + i for i, t in enumerate(TYPES)}


def a_note(note_id: int, rng: random.Random, *, deck: str | None = None) -> AnkiNote:
    """A note of any type, with a field that now and then overflows a page."""
    note_type = rng.choice(TYPES)
    size = rng.choice([0, 10, 300, 3000, 9000]) if rng.random() < 0.3 else rng.randrange(400)
    first = f"<p>Q {note_id} " + "x" * size + "</p>"
    if note_type.cloze:
        first = "{{c1::one}} " + ("{{c3::three}} " if rng.random() < 0.5 else "") + first
    fields = (first, f"A {rng.random()}", rng.choice(["", "yes"]), "src")[: len(note_type.fields)]
    return AnkiNote(
        guid_for(note_id),
        note_id,
        deck or f"Papers::T{rng.randrange(40)} ü",
        fields,
        tuple(f"t{i}" for i in range(rng.randrange(3))),
        1_700_000_000 + rng.randrange(10**6),
        note_type,
    )


def build(notes: Iterable[AnkiNote], store: SegmentStore) -> Image:
    """The image of a collection holding ``notes``, made afresh."""
    rows = RowSpool()
    for note in notes:
        rows.append(note_row(note), content_digest(note))
    image = Image.build(rows, rows.mods, MODS, store)
    rows.close()
    return image


def package_bytes(image: Image, store: SegmentStore, tmp_path: Path) -> bytes:
    out = tmp_path / "deck.apkg"
    write_package(out, image, store, [])
    return out.read_bytes()


def collection(apkg: Path, tmp_path: Path) -> sqlite3.Connection:
    with zipfile.ZipFile(apkg) as archive:
        assert archive.testzip() is None
        (tmp_path / "collection.anki2").write_bytes(archive.read("collection.anki2"))
    return sqlite3.connect(tmp_path / "collection.anki2")


@pytest.fixture
def small_runs(monkeypatch: pytest.MonkeyPatch) -> None:
    """Runs of a few entries, so that a small deck has many of them."""
    trees = tuple(replace(t, every=16 if t.index else 2) for t in deckimage.TREES)
    monkeypatch.setattr(deckimage, "TREES", trees)
    monkeypatch.setattr(deckimage, "_BY_NAME", {t.name: t for t in trees})


def test_a_written_collection_is_a_valid_database_holding_the_notes(tmp_path: Path) -> None:
    rng = random.Random(1)
    notes = [a_note(1_700_000_000_000 + 3 * i, rng) for i in range(400)]
    notes.append(replace(a_note(1_700_000_009_999, rng), fields=("42", "x", "s"), note_type=BASIC))
    write_apkg(notes, [], tmp_path / "deck.apkg", MODS)
    db = collection(tmp_path / "deck.apkg", tmp_path)

    assert db.execute("PRAGMA integrity_check").fetchall() == [("ok",)]
    rows = db.execute("SELECT id, guid, mid, mod, usn, tags, flds, sfld FROM notes").fetchall()
    assert rows == [
        (
            n.note_id,
            n.guid,
            n.note_type.model_id,
            n.mod,
            -1,
            f" {' '.join(n.tags)} " if n.tags else "",
            "\x1f".join(n.fields),
            42 if n.fields[0] == "42" else n.fields[0],  # sfld has integer affinity
        )
        for n in sorted(notes, key=lambda n: n.note_id or 0)
    ]
    cards = db.execute("SELECT nid, ord, did, mod FROM cards ORDER BY nid, ord").fetchall()
    assert cards == sorted(
        (n.note_id, o, deck_id(n.deck), n.mod) for n in notes for o in shape(note_row(n))[3]
    )
    ids = [cid for (cid,) in db.execute("SELECT id FROM cards")]
    assert len(set(ids)) == len(ids)
    by_index = {
        "ix_cards_nid": "SELECT count(*) FROM cards INDEXED BY ix_cards_nid WHERE nid > 0",
        "ix_cards_sched": "SELECT count(*) FROM cards INDEXED BY ix_cards_sched WHERE did > 0",
        "ix_cards_usn": "SELECT count(*) FROM cards INDEXED BY ix_cards_usn WHERE usn = -1",
    }
    for query in by_index.values():
        assert db.execute(query).fetchone() == (len(ids),)
    query = "SELECT count(*) FROM notes INDEXED BY ix_notes_usn WHERE usn = -1"
    assert db.execute(query).fetchone() == (len(notes),)
    models, decks = db.execute("SELECT models, decks FROM col").fetchone()
    assert {n.deck for n in notes} == {d["name"] for d in json.loads(decks).values()} - {"Default"}
    assert {str(t.model_id) for t in TYPES} == set(json.loads(models))


def test_an_empty_deck_is_a_valid_database(tmp_path: Path) -> None:
    write_apkg([], [], tmp_path / "deck.apkg")
    db = collection(tmp_path / "deck.apkg", tmp_path)
    assert db.execute("PRAGMA integrity_check").fetchall() == [("ok",)]
    assert db.execute("SELECT count(*) FROM notes").fetchone() == (0,)


@pytest.mark.parametrize("seed", range(6))
def test_an_image_updated_note_by_note_is_the_image_written_afresh(
    seed: int, small_runs: None, tmp_path: Path
) -> None:
    rng = random.Random(seed)
    notes: dict[int, AnkiNote] = {}
    note_id = 1_700_000_000_000
    for _ in range(120):
        note_id += rng.choice([1, 1, 2, 1000])  # neighbours: a card of ord 1 may collide
        notes[note_id] = a_note(note_id, rng)
    store = SegmentStore()
    image = build(notes.values(), store)
    for _ in range(25):
        before = dict(notes)
        for _ in range(rng.choice([1, 1, 3, 12])):
            keys = sorted(notes)
            pick = rng.random()
            if pick < 0.5:
                old = notes[rng.choice(keys)]
                notes[old.note_id or 0] = a_note(old.note_id or 0, rng, deck=old.deck)
            elif pick < 0.8:
                new_id = rng.choice(keys) + rng.choice([-1, 1, 2, 999, 5000])
                notes.setdefault(new_id, a_note(new_id, rng))
            elif len(notes) > 1:
                del notes[rng.choice(keys)]
        touched = {i for i in before.keys() | notes.keys() if before.get(i) is not notes.get(i)}
        removed = [shape(note_row(before[i])) for i in sorted(touched) if i in before]
        added = [note_row(notes[i]) for i in sorted(touched) if i in notes]
        image.update(removed, added, MODS, store)

        fresh = SegmentStore()
        afresh = package_bytes(build(notes.values(), fresh), fresh, tmp_path)
        assert package_bytes(image, store, tmp_path) == afresh
    db = collection(tmp_path / "deck.apkg", tmp_path)
    assert db.execute("PRAGMA integrity_check").fetchall() == [("ok",)]
    assert db.execute("SELECT count(*) FROM notes").fetchone() == (len(notes),)


def test_an_update_rewrites_only_the_runs_it_touches() -> None:
    rng = random.Random(7)
    notes = [a_note(1_700_000_000_000 + i, rng, deck="d") for i in range(3000)]
    notes = [replace(n, note_type=BASIC, fields=(n.fields[0][:3000], "a", "s")) for n in notes]
    store = SegmentStore()
    image = build(notes, store)
    before = {id(r) for runs in image.runs.values() for r in runs}
    made = set(store.made)
    note = notes[1500]
    edited = replace(note, fields=("edited", *note.fields[1:]), mod=note.mod + 100)

    image.update([shape(note_row(note))], [note_row(edited)], MODS, store)

    after = [r for runs in image.runs.values() for r in runs]
    assert sum(id(r) not in before for r in after) == 2  # its notes run and its cards run
    assert len(set(store.made) - made) == 2


def test_card_ids_stay_near_their_note_and_never_collide() -> None:
    nids = {100, 101, 102, 1100, 5000}
    found = card_ids(nids, [(100, 1), (100, 2), (101, 1), (1100, 1), (5000, 1)])
    assert found == {
        (100, 1): 2099,  # 101, then 1100, are notes' ids
        (100, 2): 1101,
        (101, 1): 2100,  # 102 is a note's, 1101 a card's
        (1100, 1): 3099,
        (5000, 1): 5001,
    }


@given(st.lists(st.binary(max_size=9000), max_size=6))
def test_crcs_combine_into_the_crc_of_the_whole(parts: list[bytes]) -> None:
    crc = 0
    for part in parts:
        crc = crc32_combine(crc, zlib.crc32(part), len(part))
    assert crc == zlib.crc32(b"".join(parts))


VALUES = st.one_of(
    st.none(),
    st.integers(min_value=-(2**63), max_value=2**63 - 1),
    st.floats(allow_nan=False),
    st.text(),
    st.binary(),
)


@given(st.lists(VALUES, max_size=12))
def test_a_record_reads_back_as_sqlite_reads_it(values: list[object]) -> None:
    payload = sqlfile.record(values)  # type: ignore[arg-type]
    assert sqlfile.record_values(payload) == values


@given(st.lists(st.integers(min_value=-(2**63), max_value=2**63 - 1), min_size=2, max_size=4))
def test_the_quick_encodings_are_the_general_one(key: list[int]) -> None:
    entry = tuple(key) if len(key) != 3 else (key[0], 0, 0, key[2])
    assert deckrows.index_record(entry) == sqlfile.record(entry)
    nid, did, mod = key[0], key[-1], key[1]
    for ord_ in (0, 1, 2):
        assert deckrows.card_record(nid, did, ord_, mod) == sqlfile.record(
            (None, nid, did, ord_, mod, -1, *(0,) * 11, "")
        )


@given(
    st.integers(min_value=-(2**40), max_value=2**40),
    st.integers(min_value=-(2**40), max_value=2**40),
)
def test_a_rows_time_changes_in_place(old: int, new: int) -> None:
    note = AnkiNote("g", 1_700_000_000_001, "d", ("q", "a", "s"), ("t",), old, BASIC)
    moved = deckrows.with_mod(note_row(note), new)
    assert moved == note_row(replace(note, mod=new))
