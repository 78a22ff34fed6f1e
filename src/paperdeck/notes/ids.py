"""Card IDs: making new ones and writing them back into a note's text.

An ID is a 13-digit millisecond timestamp, the form Obsidian_to_Anki and Anki's own note
ids use, so a vault that already has such IDs keeps working.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Iterable, Iterator, Mapping, Sequence

from paperdeck.diagnostics import Diagnostic, has_errors
from paperdeck.notes.model import Card, Note
from paperdeck.notes.plugin import inline_id_slots
from paperdeck.notes.scan import split_lines

ID_TEMPLATE = "<!--ID: {}-->"
_MIN_13_DIGITS = 10**12


def new_ids(taken: Iterable[int], *, now_ms: int | None = None) -> Iterator[int]:
    """Yield fresh 13-digit IDs, increasing, never one in ``taken``."""
    used = set(taken)
    candidate = max(now_ms if now_ms is not None else int(time.time() * 1000), _MIN_13_DIGITS)
    while True:
        if candidate not in used:
            used.add(candidate)
            yield candidate
        candidate += 1


def assign_ids(cards: Iterable[Card], fresh: Iterator[int]) -> dict[int, tuple[int, ...]]:
    """A fresh ID for each card without one, keyed by the line it is written after (or, for
    inline notes, on): the mapping :func:`insert_ids` takes. Several inline notes on one
    line get one ID each, left to right."""
    assigned: dict[int, tuple[int, ...]] = {}
    for card in cards:
        if card.card_id is None:
            assigned[card.end_line] = (*assigned.get(card.end_line, ()), next(fresh))
    return assigned


def insert_ids(text: str, ids_after_line: Mapping[int, int | Sequence[int]]) -> str:
    """Insert ``<!--ID: N-->`` after the given 1-based lines; every other byte stays.

    The new line uses the ending of the line it follows (or the file's first ending when
    that line is the last and has none), so CRLF notes stay CRLF. A BOM at the start is
    kept as part of the first line. On a line with Obsidian_to_Anki inline notes
    (``STARTI ... ENDI``) the ID goes inside the note, before ``ENDI``, as the plugin writes
    it; the line's inline notes without an ID take the line's IDs in order.
    """
    lines = split_lines(text)
    out: list[str] = []
    for number, line in enumerate(lines, start=1):
        value = ids_after_line.get(number)
        if value is None:
            out.append(line)
            continue
        ids = [value] if isinstance(value, int) else list(value)
        body = line.rstrip("\r\n")
        ending = line[len(body) :]
        slots = inline_id_slots(body.removeprefix("\ufeff") if number == 1 else body)
        if slots:
            shift = len(body) - len(body.removeprefix("\ufeff")) if number == 1 else 0
            out.append(_into_inline(body, [s + shift for s in slots], ids) + ending)
            continue
        out.append(line)
        for card_id in ids:
            comment = ID_TEMPLATE.format(card_id)
            if ending:
                out.append(comment + ending)
            else:
                out[-1] = out[-1] + _first_ending(lines) + comment
    return "".join(out)


def _into_inline(body: str, slots: list[int], ids: list[int]) -> str:
    """``body`` with each ID put before the ``ENDI`` at its slot (a space on either side)."""
    for slot, card_id in reversed(list(zip(slots, ids, strict=False))):
        before = "" if slot > 0 and body[slot - 1] in " \t" else " "
        body = body[:slot] + before + ID_TEMPLATE.format(card_id) + " " + body[slot:]
    return body


def _first_ending(lines: list[str]) -> str:
    for line in lines:
        ending = line[len(line.rstrip("\r\n")) :]
        if ending:
            return ending
    return "\n"


def insert_ids_checked(
    text: str,
    note: Note,
    ids_after_line: Mapping[int, int | Sequence[int]],
    reparse: Callable[[str], tuple[Note, list[Diagnostic]]],
) -> tuple[str, Note] | None:
    """:func:`insert_ids`, then prove it: the new text must parse without errors to the
    same cards, each with its old or newly assigned ID. ``None`` when it does not, so the
    caller leaves the note alone. (Warnings, such as an empty question, the note had
    before too; they do not make the rewrite unsafe.)"""
    new_text = insert_ids(text, ids_after_line)
    new_note, problems = reparse(new_text)
    if has_errors(problems) or [c.card_id for c in new_note.cards] != _expected(
        note, ids_after_line
    ):
        return None
    return new_text, new_note


def _expected(note: Note, ids_after_line: Mapping[int, int | Sequence[int]]) -> list[int | None]:
    """Each card's ID once the new ones are written. A line's IDs go to its cards without
    one, in order; a single ID is expected on every such card of its line, and a card
    left over expects an ID that no parse gives (-1), so a partial write is refused."""
    queues = {line: list(v) for line, v in ids_after_line.items() if not isinstance(v, int)}
    expected: list[int | None] = []
    for card in note.cards:
        single = ids_after_line.get(card.end_line)
        if card.card_id is not None or single is None:
            expected.append(card.card_id)
        elif isinstance(single, int):
            expected.append(single)
        else:
            queue = queues[card.end_line]
            expected.append(queue.pop(0) if queue else -1)
    return expected
