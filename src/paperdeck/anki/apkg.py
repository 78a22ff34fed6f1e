"""Writing the ``.apkg``: paperdeck's note types, one subdeck per note, reproducible bytes.

genanki writes the collection; this module fixes what genanki leaves variable or wrong for
re-import: each note's ``mod`` comes from its source file (Anki updates a note on import
only when the incoming ``mod`` is newer), note ids are the cards' IDs, and the zip has
fixed entry times and sorted media, so unchanged input gives an identical file.
"""

from __future__ import annotations

import hashlib
import itertools
import json
import sqlite3
import tempfile
import zipfile
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, replace
from pathlib import Path

import genanki
from genanki.apkg_col import APKG_COL
from genanki.apkg_schema import APKG_SCHEMA

from paperdeck.anki.note_types import BASIC, NoteType, card_ords

_ZIP_TIME = (1980, 1, 1, 0, 0, 0)


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

    genanki gives the schema, the note types and decks as JSON, and each note's cards; the
    rows are inserted here in one batch, because genanki's per-deck writer re-encodes the
    collection's JSON for every deck (quadratic in the number of subdecks) and sets every
    note's ``mod`` and id from one timestamp.
    """
    timestamp = max((n.mod for n in notes), default=0)
    with tempfile.TemporaryDirectory() as tmp:
        db_path = Path(tmp) / "collection.anki2"
        conn = sqlite3.connect(db_path)
        try:
            _write_collection(conn.cursor(), notes, timestamp, type_mods or {})
            conn.commit()
        finally:
            conn.close()
        _write_zip(out, db_path, media)


def _write_collection(
    cursor: sqlite3.Cursor,
    notes: Sequence[AnkiNote],
    timestamp: int,
    type_mods: Mapping[int, int],
) -> None:
    cursor.executescript(APKG_SCHEMA)
    cursor.executescript(APKG_COL)
    decks = {name: genanki.Deck(deck_id(name), name) for name in sorted({n.deck for n in notes})}
    first_deck = next(iter(decks.values())).deck_id if decks else 1
    types = {n.note_type.model_id: n.note_type for n in notes}
    models_json, decks_json = cursor.execute("SELECT models, decks FROM col").fetchone()
    models = json.loads(models_json)
    models.update(
        {
            str(i): t.to_json(type_mods.get(i, timestamp), first_deck)
            for i, t in sorted(types.items())
        }
    )
    all_decks = json.loads(decks_json)
    all_decks.update({str(d.deck_id): d.to_json() for d in decks.values()})
    cursor.execute(
        "UPDATE col SET models = ?, decks = ?", (json.dumps(models), json.dumps(all_decks))
    )

    taken = {n.note_id for n in notes if n.note_id is not None}
    spare = (i for i in itertools.count(1_000_000_000_000) if i not in taken)
    card_ids = itertools.count(timestamp * 1000 + 1)
    note_rows: list[tuple[object, ...]] = []
    card_rows: list[tuple[object, ...]] = []
    for note in sorted(notes, key=lambda n: (n.deck, n.guid)):
        note_id = note.note_id if note.note_id is not None else next(spare)
        tags = f" {' '.join(note.tags)} " if note.tags else ""
        note_rows.append(
            (
                note_id,
                note.guid,
                note.note_type.model_id,
                note.mod,
                -1,
                tags,
                "\x1f".join(note.fields),
                note.fields[0],
                0,
                0,
                "",
            )
        )
        did = decks[note.deck].deck_id
        card_rows.extend(
            (next(card_ids), note_id, did, ord_, note.mod, -1, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, "")
            for ord_ in card_ords(note.note_type, note.fields)
        )
    cursor.executemany("INSERT INTO notes VALUES (?,?,?,?,?,?,?,?,?,?,?)", note_rows)
    cursor.executemany("INSERT INTO cards VALUES (?,?,?,?,?,?,?,?,?,?,?,?,?,?,?,?,?,?)", card_rows)


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
        if before is None:
            settled.append(note)
        elif before[1] == content_digest(note):
            settled.append(replace(note, mod=before[0]))
        else:
            settled.append(replace(note, mod=max(note.mod, before[0] + 1)))
    return settled


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


def _write_zip(out: Path, db_path: Path, media: Sequence[tuple[str, Path]]) -> None:
    ordered = sorted(media)
    with zipfile.ZipFile(out, "w", compression=zipfile.ZIP_DEFLATED) as archive:
        _add(archive, "collection.anki2", db_path.read_bytes())
        index = {str(i): name for i, (name, _) in enumerate(ordered)}
        _add(archive, "media", json.dumps(index, sort_keys=True).encode())
        for i, (_, path) in enumerate(ordered):
            _add(archive, str(i), path.read_bytes())


def _add(archive: zipfile.ZipFile, name: str, data: bytes) -> None:
    info = zipfile.ZipInfo(name, date_time=_ZIP_TIME)
    info.compress_type = zipfile.ZIP_DEFLATED
    info.external_attr = 0o644 << 16
    archive.writestr(info, data)
