"""The built deck in real Anki: import, re-import, edit and re-import."""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any

from click.testing import CliRunner

from paperdeck.cli import main

from conftest import import_apkg


def build(vault: Path, *args: str) -> Path:
    result = CliRunner().invoke(main, ["build", str(vault), *args], catch_exceptions=False)
    assert result.exit_code == 0, result.output
    return Path("cards") / f"{vault.name}.apkg"


def notes_by_id(col: Any) -> dict[int, Any]:
    return {nid: col.get_note(nid) for nid in col.find_notes("")}


def test_seed_deck_imports_into_real_anki(vault: Path, collection: Any) -> None:
    log = import_apkg(collection, build(vault))

    assert (len(log.new), len(log.updated), len(log.conflicting)) == (5, 0, 0)
    assert (collection.note_count(), collection.card_count()) == (5, 5)
    notes = notes_by_id(collection)
    assert sorted(notes) == [
        1683650871138,
        1683650871147,
        1683650871150,
        1683650871153,
        1683650871155,
    ]
    first = notes[1683650871138]
    assert first.note_type()["name"] == "paperdeck Q/A"
    assert first["Question"] == "<p>What is the Gumbel-Max trick?</p>"
    assert (
        r"\[z = \text{one}\_\text{hot}\left(\text{argmax}_i [g_i + \log \pi_i])\right)\]"
        in (first["Answer"])
    )
    assert r"where \(g_i\)'s are drawn" in first["Answer"]
    assert 'href="https://arxiv.org/pdf/1611.01144.pdf"' in first["Source"]
    obsidian = "obsidian://open?vault=notes&amp;file=Categorical%20reparameterization"
    assert obsidian in first["Source"]
    assert set(first.tags) >= {"Google_Brain", "ICLR", "simplex", "VQ-VAE", "author::Eric_Jang"}
    deck = collection.decks.name(first.cards()[0].did)
    assert deck == "Papers::Categorical reparameterization with gumbel-softmax"
    assert first.mod == int(os.stat(vault / next(os.walk(vault))[2][0]).st_mtime)
    missing = collection.media.check().missing
    assert list(missing) == []


def test_reimport_changes_nothing(vault: Path, collection: Any) -> None:
    apkg = build(vault)
    import_apkg(collection, apkg)
    before = {nid: (n.mod, tuple(n.fields)) for nid, n in notes_by_id(collection).items()}

    log = import_apkg(collection, apkg)

    assert (len(log.new), len(log.updated), len(log.duplicate)) == (0, 0, 5)
    after = {nid: (n.mod, tuple(n.fields)) for nid, n in notes_by_id(collection).items()}
    assert after == before


def test_editing_one_answer_updates_exactly_that_note(vault: Path, collection: Any) -> None:
    import_apkg(collection, build(vault))
    note_file = next(vault.glob("*.md"))
    text = note_file.read_text(encoding="utf-8")
    edited = text.replace("become uniform.", "become uniform (edited).")
    assert edited != text
    note_file.write_text(edited, encoding="utf-8")
    stat = note_file.stat()
    os.utime(note_file, (stat.st_atime, stat.st_mtime + 60))  # a save a minute later

    log = import_apkg(collection, build(vault))

    assert (len(log.new), len(log.updated), len(log.duplicate)) == (0, 1, 4)
    assert collection.note_count() == 5
    changed = collection.get_note(1683650871150)
    assert "become uniform (edited)." in changed["Answer"]


def test_new_card_gets_id_written_back_and_imports(vault: Path, collection: Any) -> None:
    note_file = next(vault.glob("*.md"))
    original = note_file.read_bytes()
    note_file.write_bytes(original + b"\nQ: A new card?\nA: Yes.\n")

    import_apkg(collection, build(vault))

    written = note_file.read_bytes()
    assert written.startswith(original + b"\nQ: A new card?\nA: Yes.\n<!--ID: ")
    new_id = int(written.split(b"<!--ID: ")[-1].split(b"-->")[0])
    assert len(str(new_id)) == 13
    assert collection.note_count() == 6
    assert collection.get_note(new_id)["Question"] == "<p>A new card?</p>"
