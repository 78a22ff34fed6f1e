"""Tags added in Anki go into the note's own tag list, every other byte kept (pure)."""

from __future__ import annotations

import pytest

from paperdeck.notes.model import Note
from paperdeck.notes.vault import parse_note
from paperdeck.twoway.note_tags import obsidian_tag, with_tags

CARD = "Q: Why?\nA: Because.\n<!--ID: 1700000000001-->\n"


def reparse(text: str) -> Note:
    return parse_note(text, path="n.md")[0]


@pytest.mark.parametrize(
    ("before", "after"),
    [
        ("Title: T\nTags: #a  \n\n", "Title: T\nTags: #a #new/sub  \n\n"),
        ("Title: T\nYear: 2020\n\n", "Title: T\nYear: 2020\nTags: #new/sub\n\n"),
        ("---\ntags: [a, b]\n---\n", "---\ntags: [a, b, new/sub]\n---\n"),
        ("---\ntags: a b\n---\n", "---\ntags: a b new/sub\n---\n"),
        ("---\ntags: a, b\n---\n", "---\ntags: a, b, new/sub\n---\n"),
        ("---\ntags:\n  - a\n---\n", "---\ntags:\n  - a\n  - new/sub\n---\n"),
        ("---\ntitle: T\n---\n", "---\ntitle: T\ntags: [new/sub]\n---\n"),
        ("---\r\ntags:\r\n  - a\r\n---\r\n", "---\r\ntags:\r\n  - a\r\n  - new/sub\r\n---\r\n"),
    ],
)
def test_a_tag_goes_where_the_note_keeps_its_tags(before: str, after: str) -> None:
    card = CARD.replace("\n", "\r\n") if "\r\n" in before else CARD
    assert with_tags(before + card, ["new::sub"], reparse) == after + card


def test_a_note_with_no_header_keeps_the_tag_in_anki_only() -> None:
    assert with_tags("Prose.\n\n" + CARD, ["new"], reparse) is None


@pytest.mark.parametrize(("anki", "obsidian"), [("a::b", "a/b"), ("x", "x"), ("2020", None)])
def test_anki_tags_in_obsidian_s_spelling(anki: str, obsidian: str | None) -> None:
    assert obsidian_tag(anki) == obsidian
