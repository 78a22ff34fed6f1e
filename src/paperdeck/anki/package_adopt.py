"""Before Anki imports a package: notes whose id the collection already has under another
guid are adopted in place, so an import never makes a second note for one ID.

Anki's importer matches notes by guid. A note the Obsidian_to_Anki plugin made has a random
guid but the same id as the card's ID, so the importer would add the card again as a new
note beside it (and its review history). Such notes are updated here through the same
field mapping ``sync`` uses, and taken out of the package that Anki then imports.
"""

from __future__ import annotations

import json
import sqlite3
import tempfile
import zipfile
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Literal

from paperdeck.anki.adopt import AdoptOptions, adopted_tags, map_fields

if TYPE_CHECKING:
    from anki.collection import Collection

PACKAGE_DB = "collection.anki2"


@dataclass(frozen=True)
class PackageNote:
    """One note of a package, with its note type's field names and its deck's name."""

    note_id: int
    guid: str
    mod: int
    field_names: tuple[str, ...]
    fields: tuple[str, ...]
    tags: tuple[str, ...]
    deck: str | None


@dataclass
class Adoption:
    """What was done before the import: adopted notes, and notes that fit nowhere."""

    adopted: list[PackageNote] = field(default_factory=list)
    updated: list[PackageNote] = field(default_factory=list)
    """The adopted notes whose fields, tags or deck changed."""
    conflicting: list[PackageNote] = field(default_factory=list)
    """Notes whose id is taken by a note they cannot be mapped onto: not imported."""


def read_package_notes(db_path: Path) -> list[PackageNote]:
    """Every note of an unpacked package database, with field names and deck names."""
    db = sqlite3.connect(db_path)
    try:
        models_json, decks_json = db.execute("SELECT models, decks FROM col").fetchone()
        models = {int(k): v for k, v in json.loads(models_json).items()}
        decks = {int(k): v["name"] for k, v in json.loads(decks_json).items()}
        home = dict(db.execute("SELECT nid, min(did) FROM cards GROUP BY nid").fetchall())
        rows = db.execute("SELECT id, guid, mid, mod, flds, tags FROM notes").fetchall()
    finally:
        db.close()
    found = []
    for note_id, guid, mid, mod, flds, tags in rows:
        names = tuple(f["name"] for f in models.get(int(mid), {}).get("flds", []))
        found.append(
            PackageNote(
                int(note_id),
                str(guid),
                int(mod),
                names,
                tuple(str(flds).split("\x1f")),
                tuple(str(tags).split()),
                decks.get(home.get(note_id, -1)),
            )
        )
    return found


@contextmanager
def adopt_before_import(
    col: Collection,
    apkg: Path,
    update: Literal["if-newer", "always", "never"],
    adopt: AdoptOptions,
) -> Iterator[tuple[Path, Adoption]]:
    """Adopt the package's notes whose ids the collection holds under other guids; yield
    the package Anki should import (without them) and what was adopted.

    ``update`` is applied as Anki applies it: ``if-newer`` changes an adopted note only
    when the package's copy is more recently modified. A package paperdeck cannot read
    (not written by paperdeck or genanki) is yielded unchanged.
    """
    adoption = Adoption()
    with tempfile.TemporaryDirectory() as tmp:
        db_path = Path(tmp) / PACKAGE_DB
        try:
            with zipfile.ZipFile(apkg) as archive:
                db_path.write_bytes(archive.read(PACKAGE_DB))
            notes = read_package_notes(db_path)
        except (OSError, KeyError, zipfile.BadZipFile, sqlite3.DatabaseError, ValueError):
            yield apkg, adoption
            return
        taken = [n for n in notes if _other_guid(col, n)]
        if not taken:
            yield apkg, adoption
            return
        for note in taken:
            _adopt_one(col, note, update, adopt, adoption)
        filtered = Path(tmp) / apkg.name
        _without_notes(apkg, db_path, {n.note_id for n in taken}, filtered)
        yield filtered, adoption


def _other_guid(col: Collection, note: PackageNote) -> bool:
    from anki.errors import NotFoundError
    from anki.notes import NoteId

    try:
        return str(col.get_note(NoteId(note.note_id)).guid) != note.guid
    except NotFoundError:
        return False


def _adopt_one(
    col: Collection,
    note: PackageNote,
    update: Literal["if-newer", "always", "never"],
    adopt: AdoptOptions,
    adoption: Adoption,
) -> None:
    from anki.cards import CardId
    from anki.decks import DeckId
    from anki.notes import NoteId

    existing = col.get_note(NoteId(note.note_id))
    notetype = col.models.get(existing.mid)
    target = [f["name"] for f in notetype["flds"]] if notetype else list(existing.keys())
    values = map_fields(note.field_names, note.fields, target, source=adopt.source)
    if values is None:
        adoption.conflicting.append(note)
        return
    adoption.adopted.append(note)
    if update == "never" or (update == "if-newer" and note.mod <= int(existing.mod)):
        return
    tags = adopted_tags(note.tags, existing.tags)
    changed = [f for f, v in values.items() if existing[f] != v]
    if changed or {t.casefold() for t in tags} != {t.casefold() for t in existing.tags}:
        for name, value in values.items():
            existing[name] = value
        existing.tags = tags
        col.update_note(existing)
        adoption.updated.append(note)
    if adopt.move and note.deck:
        target_deck = col.decks.id(note.deck, create=True)
        assert target_deck is not None
        moving = [CardId(c.id) for c in existing.cards() if int(c.odid or c.did) != target_deck]
        if moving:
            col.set_deck(moving, DeckId(target_deck))
            if note not in adoption.updated:
                adoption.updated.append(note)


def _without_notes(apkg: Path, db_path: Path, note_ids: set[int], out: Path) -> None:
    """Write a copy of the package without the given notes (and their cards)."""
    db = sqlite3.connect(db_path)
    try:
        marks = ",".join("?" * len(note_ids))
        db.execute(f"DELETE FROM cards WHERE nid IN ({marks})", sorted(note_ids))
        db.execute(f"DELETE FROM notes WHERE id IN ({marks})", sorted(note_ids))
        db.commit()
    finally:
        db.close()
    with zipfile.ZipFile(apkg) as source, zipfile.ZipFile(out, "w", zipfile.ZIP_DEFLATED) as dest:
        for info in source.infolist():
            data = db_path.read_bytes() if info.filename == PACKAGE_DB else source.read(info)
            dest.writestr(info, data)
