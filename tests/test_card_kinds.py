"""Cloze, reversed and Obsidian_to_Anki cards, checked in real Anki."""

from __future__ import annotations

import shutil
from pathlib import Path
from typing import Any

from click.testing import CliRunner

from paperdeck.cli import main

from conftest import import_apkg

FIXTURES = Path(__file__).parent / "fixtures" / "parse"


def build(notes: Path) -> Path:
    result = CliRunner().invoke(main, ["build", str(notes)])
    assert result.exit_code == 0, result.output
    return Path("cards") / f"{notes.name}.apkg"


def make_vault(tmp_path: Path, monkeypatch: Any, **files: str) -> Path:
    monkeypatch.chdir(tmp_path)
    notes = tmp_path / "notes"
    notes.mkdir()
    for name, text in files.items():
        (notes / f"{name}.md").write_text(text, encoding="utf-8")
    return notes


def note_with(col: Any, text: str) -> Any:
    (nid,) = col.find_notes(text)
    return col.get_note(nid)


def test_cloze_paragraphs_become_cloze_notes(
    tmp_path: Path, monkeypatch: Any, collection: Any
) -> None:
    notes = make_vault(
        tmp_path,
        monkeypatch,
        clozes="Title: Clozes\n\nThe {{c1::Gumbel}} trick adds {{c2::noise $e^{x^{2}}$}}.\n",
    )
    import_apkg(collection, build(notes))

    note = note_with(collection, "Gumbel")
    assert note.note_type()["name"] == "paperdeck Cloze"
    assert note["Text"] == r"<p>The {{c1::Gumbel}} trick adds {{c2::noise \(e^{x^{2} }\)}}.</p>"
    assert len(note.cards()) == 2
    question = note.cards()[1].question()
    # c2 is hidden whole, math and all: the cloze ends at the last }}, right before the "."
    assert 'data-ordinal="2">[...]</span>.</p>' in question
    assert r"\(e^{x^{2} }\)" in note.cards()[1].answer()
    assert "<!--ID: " in (notes / "clozes.md").read_text()


def test_highlights_are_clozes_only_when_the_vault_opts_in(
    tmp_path: Path, monkeypatch: Any, collection: Any
) -> None:
    notes = make_vault(tmp_path, monkeypatch, hl="A ==highlight== and ==another== one.\n")
    import_apkg(collection, build(notes))
    assert collection.note_count() == 0

    (notes / "paperdeck.toml").write_text("highlight_cloze = true\n")
    import_apkg(collection, build(notes))
    note = note_with(collection, "highlight")
    assert note["Text"] == "<p>A {{c1::highlight}} and {{c2::another}} one.</p>"
    assert len(note.cards()) == 2


def test_reversed_cards_go_both_ways(tmp_path: Path, monkeypatch: Any, collection: Any) -> None:
    notes = make_vault(
        tmp_path,
        monkeypatch,
        both="---\nreverse: true\n---\nQ: Capital of France?\nA: Paris\n",
        one="Q: One way?\nA: Yes\n",
    )
    import_apkg(collection, build(notes))
    both = note_with(collection, "Paris")
    assert both.note_type()["name"] == "paperdeck Q/A (and reversed)"
    assert len(both.cards()) == 2
    assert "Paris" in both.cards()[1].question()
    assert len(note_with(collection, "One way").cards()) == 1


def test_obsidian_to_anki_vault_builds_unchanged(
    tmp_path: Path, monkeypatch: Any, collection: Any
) -> None:
    notes = make_vault(tmp_path, monkeypatch)
    source = FIXTURES / "obsidian_to_anki.md"
    text = source.read_text().split("START\nMystery type")[0]  # the valid part of the fixture
    (notes / "o2a.md").write_text(text)

    import_apkg(collection, build(notes))

    basic = collection.get_note(1566052191670)
    assert basic["Answer"] == "<p>Test successful!<br />\nIt spans two lines.</p>"
    assert set(basic.tags) >= {"o2a", "imported", "one", "two"}
    assert collection.decks.name(basic.cards()[0].did) == "Reading::Imported"
    assert len(note_with(collection, "France").cards()) == 2
    cloze = note_with(collection, "Gumbel-Max")
    assert cloze["Extra"] == "<p>Jang et al. 2017</p>"
    written = (notes / "o2a.md").read_text()
    assert written.count("<!--ID: ") == 3
    assert "Back: Paris\n<!--ID: " in written and written.count("END") == 3


def test_fixture_problems_fail_the_build(tmp_path: Path, monkeypatch: Any) -> None:
    notes = make_vault(tmp_path, monkeypatch)
    shutil.copy(FIXTURES / "obsidian_to_anki.md", notes)
    result = CliRunner().invoke(main, ["build", str(notes)])
    assert result.exit_code == 1
    # A note type paperdeck has never heard of is a card like any other (issue 9) ...
    assert "Mystery type" not in result.output
    # ... but a block that never ends is still an error at its START.
    assert "notes/obsidian_to_anki.md:32: error: START with no END after it" in result.output
