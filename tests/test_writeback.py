"""A card's new text goes into its note with every other byte kept, or not at all."""

from __future__ import annotations

from collections.abc import Sequence

import pytest
from hypothesis import given
from hypothesis import strategies as st

from paperdeck.notes.model import Card
from paperdeck.notes.parse import parse_note
from paperdeck.notes.writeback import CannotWriteBack, replace_card_text

from conftest import SEED_NOTE


def cards(text: str) -> Sequence[Card]:
    note, _ = parse_note(text, path="n.md")
    return note.cards


def card(text: str, card_id: int) -> Card:
    return next(c for c in cards(text) if c.card_id == card_id)


def write(text: str, card_id: int, **new: str) -> str:
    return replace_card_text(text, card(text, card_id), reparse=cards, **new)


def test_only_the_answer_s_text_changes_in_the_example_note() -> None:
    text = SEED_NOTE.read_text(encoding="utf-8")
    before = card(text, 1683650871150)
    fixed = before.answer.replace("distrubtion", "distribution", 1)  # a typo fixed in Anki
    assert fixed != before.answer

    after = write(text, 1683650871150, answer=fixed)

    assert card(after, 1683650871150).answer == fixed
    assert text.count(before.answer) == 1 and after == text.replace(before.answer, fixed)
    others = [(c.card_id, c.question, c.answer) for c in cards(text) if c.card_id != before.card_id]
    again = [(c.card_id, c.question, c.answer) for c in cards(after) if c.card_id != before.card_id]
    assert again == others


def test_markers_line_endings_and_the_blank_before_the_answer_are_kept() -> None:
    text = (
        "Intro\r\n\r\nQ:\tWhat is\r\nthe question?\r\n\r\nA: old\r\nanswer\r\n"
        "<!--ID: 1700000000001-->\r\nAfter"
    )
    after = write(text, 1700000000001, question="What is it?", answer="a new\nlonger\nanswer")
    assert after == (
        "Intro\r\n\r\nQ:\tWhat is it?\r\n\r\nA: a new\r\nlonger\r\nanswer\r\n"
        "<!--ID: 1700000000001-->\r\nAfter"
    )


def test_unchanged_text_is_returned_as_it_is() -> None:
    text = "Q: q\nA: a\n<!--ID: 1700000000001-->\n"
    assert write(text, 1700000000001, question="q", answer="a") is text


@pytest.mark.parametrize(
    "answer",
    [
        "first\nQ: a new card",
        "first\n<!--ID: 1700000000009-->",
        "first\n\nQ: other\nA: c",
    ],
)
def test_text_that_would_change_how_the_note_reads_is_refused(answer: str) -> None:
    text = "Q: q\nA: a\n<!--ID: 1700000000001-->\n\nQ: other\nA: b\n<!--ID: 1700000000002-->\n"
    with pytest.raises(CannotWriteBack):
        write(text, 1700000000001, answer=answer)


def test_cards_of_other_kinds_are_refused() -> None:
    text = "START\nBasic\nFront: f\nBack: b\n<!--ID: 1700000000001-->\nEND\n"
    with pytest.raises(CannotWriteBack, match="only a Q:/A: card"):
        write(text, 1700000000001, answer="x")


_WORDS = st.text(alphabet="abc xyz$\\_{}*=.", min_size=1, max_size=12).filter(
    lambda s: s.strip() != "" and not s.startswith((" ", "#"))
)


@given(st.lists(_WORDS, min_size=1, max_size=4), st.sampled_from(["\n", "\r\n"]))
def test_any_plain_answer_reads_back_exactly_and_nothing_else_moves(
    new_lines: list[str], ending: str
) -> None:
    text = ending.join(
        ["Title: T", "", "Q: q", "A: old", "<!--ID: 1700000000001-->", "", "Prose.", ""]
    )
    answer = "\n".join(line.rstrip() for line in new_lines)
    try:
        after = write(text, 1700000000001, answer=answer)
    except CannotWriteBack:
        return  # refused: the note is left as it was
    assert card(after, 1700000000001).answer == answer.rstrip()
    head, tail = text.split("A: old")
    assert after.startswith(head) and after.endswith(tail)
    assert ending == "\n" or "\n" not in after.replace("\r\n", "")
