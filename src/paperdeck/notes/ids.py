"""Card IDs: making new ones and writing them back into a note's text.

An ID is a 13-digit millisecond timestamp, the form Obsidian_to_Anki and Anki's own note
ids use, so a vault that already has such IDs keeps working.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Iterable, Iterator, Mapping

from paperdeck.diagnostics import Diagnostic, has_errors
from paperdeck.notes.model import Note
from paperdeck.notes.parse import split_lines

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


def insert_ids(text: str, ids_after_line: Mapping[int, int]) -> str:
    """Insert ``<!--ID: N-->`` after the given 1-based lines; every other byte stays.

    The new line uses the ending of the line it follows (or the file's first ending when
    that line is the last and has none), so CRLF notes stay CRLF. A BOM at the start is
    kept as part of the first line.
    """
    lines = split_lines(text)
    out: list[str] = []
    for number, line in enumerate(lines, start=1):
        out.append(line)
        card_id = ids_after_line.get(number)
        if card_id is None:
            continue
        ending = line[len(line.rstrip("\r\n")) :]
        comment = ID_TEMPLATE.format(card_id)
        if ending:
            out.append(comment + ending)
        else:
            out[-1] = line + _first_ending(lines) + comment
    return "".join(out)


def _first_ending(lines: list[str]) -> str:
    for line in lines:
        ending = line[len(line.rstrip("\r\n")) :]
        if ending:
            return ending
    return "\n"


def insert_ids_checked(
    text: str,
    note: Note,
    ids_after_line: Mapping[int, int],
    reparse: Callable[[str], tuple[Note, list[Diagnostic]]],
) -> tuple[str, Note] | None:
    """:func:`insert_ids`, then prove it: the new text must parse without errors to the
    same cards, each with its old or newly assigned ID. ``None`` when it does not, so the
    caller leaves the note alone. (Warnings, such as an empty question, the note had
    before too; they do not make the rewrite unsafe.)"""
    new_text = insert_ids(text, ids_after_line)
    new_note, problems = reparse(new_text)
    expected = [c.card_id or ids_after_line.get(c.end_line) for c in note.cards]
    if has_errors(problems) or [c.card_id for c in new_note.cards] != expected:
        return None
    return new_text, new_note
