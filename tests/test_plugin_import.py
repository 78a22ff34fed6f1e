"""The Obsidian_to_Anki syntax, built and imported into real Anki: what a student gets.

Each fixture in ``tests/fixtures/plugin/`` (written from the plugin's documentation, with
its ``.toml`` settings beside it) is built with the real CLI and imported with Anki's own
importer; the notes are then checked as Anki holds them: note type, fields, deck, tags,
cards and media. ``tests/test_plugin_syntax.py`` checks the same fixtures as parsed.
"""

from __future__ import annotations

import shutil
from pathlib import Path
from typing import Any

import pytest

from conftest import add_note_type, cli_ok, import_apkg, opened

FIXTURES = Path(__file__).parent / "fixtures" / "plugin"


def built_into_anki(fixture: str, empty_vault: Path, collection: Any) -> dict[str, Any]:
    """Build the fixture's note (with its settings), import it; notes by first field text."""
    shutil.copy(FIXTURES / f"{fixture}.md", empty_vault / f"{fixture}.md")
    settings = FIXTURES / f"{fixture}.toml"
    if settings.exists():
        shutil.copy(settings, empty_vault / "paperdeck.toml")
    cli_ok("build", str(empty_vault))
    import_apkg(collection, Path("cards/notes.apkg"))
    notes = {}
    for nid in collection.find_notes(""):
        note = collection.get_note(nid)
        notes[note.fields[0]] = note
    return notes


def described(collection: Any, note: Any) -> tuple[str, list[str], int]:
    """A note's type name, its cards' decks, and how many cards it has."""
    notetype = collection.models.get(note.mid)
    decks = sorted({collection.decks.name(c.did) for c in note.cards()})
    return notetype["name"], decks, len(note.cards())


def find(notes: dict[str, Any], text: str) -> Any:
    matches = [note for first, note in notes.items() if text in first]
    assert len(matches) == 1, (text, list(notes))
    return matches[0]


def test_blocks_of_every_note_type(empty_vault: Path, collection: Any) -> None:
    notes = built_into_anki("blocks", empty_vault, collection)
    basic = find(notes, "mitochondrion make")
    assert described(collection, basic) == ("paperdeck Q/A", ["Biology::Cells"], 1)
    assert basic.id == 1566052191670
    assert basic["Answer"] == "<p>ATP,<br />\nby oxidative phosphorylation.</p>"
    assert {"biology", "cells", "organelles", "energy"} <= set(basic.tags)
    assert described(collection, find(notes, "Ribosome"))[0::2] == (
        "paperdeck Q/A (and reversed)",
        2,
    )
    optional = find(notes, "Golgi")
    name = "paperdeck Basic (optional reversed card)"  # not Anki's own: no "...+" on import
    assert described(collection, optional)[0::2] == (name, 2)
    typed = find(notes, "Powerhouse")
    assert typed.id == 1566052191671  # a plain `ID:` line
    assert "{{type:Back}}" in collection.models.get(typed.mid)["tmpls"][0]["qfmt"]
    cloze = find(notes, "nucleus")
    assert described(collection, cloze)[0::2] == ("paperdeck Cloze", 2)
    assert cloze["Extra"] == "<p>Eukaryotes only.</p>"
    vocabulary = find(notes, "Zelle")
    assert collection.models.get(vocabulary.mid)["name"] == "Vocabulary"
    assert vocabulary["Meaning"] == "<p>cell</p>"
    assert vocabulary["Example"] == "<p>Die Zelle teilt sich.</p>"
    assert "Open in Obsidian" in vocabulary["Source"]


def test_inline_notes(empty_vault: Path, collection: Any) -> None:
    notes = built_into_anki("inline", empty_vault, collection)
    peru = find(notes, "Peru")
    assert described(collection, peru) == ("paperdeck Q/A", ["Inline"], 1)
    assert peru["Answer"] == "<p>Lima</p>"
    ocean = find(notes, "ocean")
    assert ocean.id == 1566052191680 and {"geo", "water"} <= set(ocean.tags)
    assert find(notes, "2+2")["Answer"] == "<p>4</p>"
    assert described(collection, find(notes, "Hund"))[2] == 2
    assert find(notes, "Nile")["Extra"] == "<p>Africa</p>"
    assert find(notes, "Katze")["Meaning"] == "<p>cat</p>"
    assert find(notes, "Plain ID").id == 1566052191681
    written = (empty_vault / "inline.md").read_text(encoding="utf-8")
    assert written.count("<!--ID: ") == 6  # one per inline note, written inline
    assert "Back: 4 <!--ID: " in written and "Back: dog <!--ID: " in written


def test_plain_ids_and_deleted_cards(empty_vault: Path, collection: Any) -> None:
    notes = built_into_anki("ids_and_delete", empty_vault, collection)
    ids = sorted(note.id for note in notes.values())
    assert ids == [1566052191690, 1566052191691, 1566052191692]  # DELETE: none of 93..96


def test_frozen_fields(empty_vault: Path, collection: Any) -> None:
    notes = built_into_anki("frozen", empty_vault, collection)
    assert find(notes, "India")["Answer"] == "<p>New Delhi<br />(capital city)</p>"
    assert find(notes, "France")["Answer"] == "<p>Paris<br />(capital city)</p>"
    japan = find(notes, "capital?")
    assert collection.models.get(japan.mid)["name"] == "Question with context"
    assert japan["Context"] == "<p>Country: Japan.Asked in geography class.</p>"


def test_curly_clozes(empty_vault: Path, collection: Any) -> None:
    notes = built_into_anki("curly_cloze", empty_vault, collection)
    numbered = find(notes, "Numbered")
    assert described(collection, numbered)[2] == 4
    assert "{{c3::three}}" in numbered["Text"] and "{{c4::four}}" in numbered["Text"]
    assert "\\frac{a}{b}" in numbered["Extra"] and "{code}" in numbered["Extra"]
    assert "{{c" not in find(notes, "brace")["Question"]
    assert "{{c1::curly}}" in find(notes, "Inline")["Text"]


def test_comments_never_become_cards(empty_vault: Path, collection: Any) -> None:
    notes = built_into_anki("comments", empty_vault, collection)
    firsts = sorted(notes)
    assert len(firsts) == 4, firsts
    assert not any("commented" in f or "Hidden" in f or "hidden" in f for f in firsts)
    visible = find(notes, "visible")
    assert described(collection, visible)[2] == 1  # the hidden {{c2::}} makes no card
    assert find(notes, "Does a comment")["Answer"] == "<p>Yes.  It does.</p>"


def test_context_breadcrumb(empty_vault: Path, collection: Any) -> None:
    notes = built_into_anki("context", empty_vault, collection)
    deeper = find(notes, "three headings")
    assert (
        '<div class="context">context &gt; Overall point &gt; Subheading 2 &gt; Deeper</div>'
        in (deeper["Question"])
    )
    assert "context &gt; New top</div>" in find(notes, "Inline under")["Question"]


def test_card_tags(empty_vault: Path, collection: Any) -> None:
    notes = built_into_anki("card_tags", empty_vault, collection)
    meow = find(notes, "meow")
    assert {"meow", "sound", "everywhere"} <= set(meow.tags)
    assert "blocktag" not in meow.tags
    block = find(notes, "blocktag")
    assert {"blocktag", "everywhere"} <= set(block.tags) and "meow" not in block.tags
    assert "#blocktag" in block["Question"]  # the tag stays in the text


@pytest.mark.parametrize(
    ("fixture", "front", "back"),
    [
        ("remnote", "Capital of Italy", "Rome"),
        ("header_paragraph", "Photosynthesis", "chloroplasts"),
        ("neuracache", "chemical symbol of gold", "aurum"),
        ("ruled", "boiling point", "100 degrees"),
        ("table", "square root of 16", "4"),
        ("custom_style", "Katze", "cat"),
        ("question_answer", "How is this possible?", "The tags go to this card."),
        ("cloze_paragraph", "{{c1::mitochondrion}}", ""),
    ],
)
def test_regex_styles(
    fixture: str, front: str, back: str, empty_vault: Path, collection: Any
) -> None:
    notes = built_into_anki(fixture, empty_vault, collection)
    note = find(notes, front)
    assert back in "".join(note.fields[1:]), note.fields
    written = (empty_vault / f"{fixture}.md").read_text(encoding="utf-8")
    assert f"<!--ID: {note.id}-->" in written


def test_audio_is_a_sound_packed_and_imported(empty_vault: Path, collection: Any) -> None:
    (empty_vault / "talk.mp3").write_bytes(b"ID3 fake audio")
    (empty_vault / "a.md").write_text("START\nBasic\nListen\nBack: ![[talk.mp3]]\nEND\n")
    cli_ok("build", str(empty_vault))
    import_apkg(collection, Path("cards/notes.apkg"))
    [nid] = collection.find_notes("")
    back = collection.get_note(nid)["Answer"]
    assert back.startswith("<p>[sound:talk-") and back.endswith(".mp3]</p>")
    name = back.removeprefix("<p>[sound:").removesuffix("]</p>")
    assert (Path(collection.media.dir()) / name).read_bytes() == b"ID3 fake audio"


def test_sync_adds_a_custom_type_card_with_the_collections_type(
    empty_vault: Path, tmp_path: Path
) -> None:
    path = tmp_path / "anki" / "collection.anki2"
    path.parent.mkdir()
    type_id = add_note_type(path, "Vocabulary", ("Word", "Meaning"))
    (empty_vault / "v.md").write_text("STARTI [Vocabulary] Hund Meaning: dog ENDI\n")

    result = cli_ok("sync", str(empty_vault), "--collection", str(path))

    assert "1 added" in result.output
    with opened(path) as col:
        [nid] = col.find_notes("")
        note = col.get_note(nid)
        assert note.mid == type_id  # the collection's own type: no new note type
        assert note["Word"] == "<p>Hund</p>"
        assert note["Meaning"].startswith("<p>dog</p>")
        assert len(col.models.all_names_and_ids()) == 7  # Anki's six stock types + Vocabulary
    written = (empty_vault / "v.md").read_text(encoding="utf-8")
    assert f"<!--ID: {nid}--> ENDI" in written


def test_folder_decks_and_tags(empty_vault: Path, collection: Any) -> None:
    (empty_vault / "paperdeck.toml").write_text(
        'folder_decks = { "Maths/Algebra" = "Maths::Algebra", "Maths" = "Maths" }\n'
        'folder_tags = { "Maths" = ["maths"], "Maths/Algebra" = "algebra linear" }\n'
    )
    (empty_vault / "Maths" / "Algebra" / "Groups").mkdir(parents=True)
    (empty_vault / "Maths" / "Algebra" / "Groups" / "g.md").write_text("Q: Group?\nA: Yes.\n")
    (empty_vault / "Maths" / "m.md").write_text("Q: Maths?\nA: Yes.\n")
    (empty_vault / "Maths" / "t.md").write_text("TARGET DECK: Own\n\nQ: Target?\nA: Yes.\n")
    (empty_vault / "top.md").write_text("Q: Top?\nA: Yes.\n")
    cli_ok("build", str(empty_vault))
    import_apkg(collection, Path("cards/notes.apkg"))
    notes = {n.fields[0]: n for n in map(collection.get_note, collection.find_notes(""))}

    group = notes["<p>Group?</p>"]
    assert described(collection, group)[1] == ["Maths::Algebra"]  # the nearest folder
    assert {"maths", "algebra", "linear"} <= set(group.tags)
    maths = notes["<p>Maths?</p>"]
    assert described(collection, maths)[1] == ["Maths"]
    assert "maths" in maths.tags and "algebra" not in maths.tags
    assert described(collection, notes["<p>Target?</p>"])[1] == ["Own"]  # TARGET DECK wins
    assert described(collection, notes["<p>Top?</p>"])[1] == ["Papers::top"]
