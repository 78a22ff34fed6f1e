"""Writing a card's new question or answer into the note's text, every other byte kept.

Two-way sync brings an edit made in Anki back into the note (a ``Q:``/``A:`` card, or a
cloze paragraph). Only the lines that hold the card's text change: the ``Q:``/``A:``
markers as the user wrote them (tab or space), the line endings of the card's lines (CRLF
notes stay CRLF), the spaces ending its last line, blank lines between question and
answer, the ID comment and everything around the card are kept. The result is checked by
parsing it again: if the card would not read back as exactly the new text (a line that
starts a new card, an ID comment, a blank line that would end the card early), nothing is
written and the caller reports why, rather than reshaping the note.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Sequence

from paperdeck.notes.model import Card
from paperdeck.notes.scan import split_lines

__all__ = ["CannotWriteBack", "replace_card_text"]

_MARKER_RE = re.compile(r"^[QA]:[ \t]?")
_NO_MARKER_RE = re.compile(r"")


class CannotWriteBack(ValueError):
    """The new text cannot go into the note without changing how the note reads."""


def _ending(line: str) -> str:
    return line[len(line.rstrip("\r\n")) :]


def _region(lines: Sequence[str], first: int, last: int) -> tuple[int, int]:
    """``first``..``last`` (0-based, inclusive) without the blank lines at its end."""
    while last > first and not lines[last].strip():
        last -= 1
    return first, last


def _replaced(
    lines: list[str], first: int, last: int, new_text: str, *, marker: bool = True
) -> list[str]:
    """Lines ``first``..``last`` hold a field's text, after a ``Q:``/``A:`` marker unless
    ``marker`` is false: give them ``new_text``."""
    found = _MARKER_RE.match(lines[first]) if marker else _NO_MARKER_RE.match(lines[first])
    if found is None:
        raise CannotWriteBack(f"line {first + 1} does not start with Q: or A:")
    inner = _ending(lines[first]) or "\n"
    last_body = lines[last].rstrip("\r\n")
    # The parsed field drops the spaces that end its last line; they stay in the note.
    last_ending = last_body[len(last_body.rstrip(" \t")) :] + _ending(lines[last])
    new_lines = new_text.split("\n")
    out = [found.group(0) + new_lines[0], *new_lines[1:]]
    written = [line + inner for line in out[:-1]] + [out[-1] + last_ending]
    return lines[:first] + written + lines[last + 1 :]


def replace_card_text(
    text: str,
    card: Card,
    *,
    question: str | None = None,
    answer: str | None = None,
    reparse: Callable[[str], Sequence[Card]],
) -> str:
    """``text`` with the Q/A card ``card`` (as parsed from it) saying ``question`` and
    ``answer`` (``None``: as it is). ``reparse`` parses a note's text into its cards (with
    the vault's options); raises :class:`CannotWriteBack` if the card would not read back
    as exactly the new text, under its own ID."""
    if card.card_id is None or card.note_type is not None:
        raise CannotWriteBack(
            "only a Q:/A: card or a cloze paragraph with an ID can take text from Anki "
            "(not a card that names a note type)"
        )
    question = card.question if question is None else question.rstrip()
    answer = card.answer if answer is None else answer.rstrip()
    if (question, answer) == (card.question, card.answer):
        return text
    lines = split_lines(text)
    if card.answer_line == card.line:  # a cloze paragraph: no markers, no answer
        if answer:
            raise CannotWriteBack(
                "a cloze paragraph has no place for text added to its Extra field"
            )
        lines = _replaced(lines, card.line - 1, card.end_line - 1, question, marker=False)
    else:
        q_first, q_last = _region(lines, card.line - 1, card.answer_line - 2)
        a_first, a_last = card.answer_line - 1, card.end_line - 1
        # The answer comes after the question in the file: replace it first, so the
        # question's line numbers still hold.
        lines = _replaced(lines, a_first, a_last, answer)
        lines = _replaced(lines, q_first, q_last, question)
    new_text = "".join(lines)
    again = [c for c in reparse(new_text) if c.card_id == card.card_id]
    if len(again) != 1 or (again[0].question, again[0].answer) != (question, answer):
        raise CannotWriteBack(
            "the new text would change how the note reads (a line starting with Q:, A: or "
            "#, a blank line or an ID comment in it)"
        )
    return new_text
