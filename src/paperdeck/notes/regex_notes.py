"""Cards from regex styles: each match of a style's regex in text that no other card took.

The regexes see the note with every line that is already a card, a setting, an ID, or
only a comment emptied, so a paragraph regex stops there, as the plugin's paragraph
idiom stops at ``<!--``. The ID goes on the line right after the match, where the plugin
writes it; ``DELETE`` may stand between the two.
"""

from __future__ import annotations

import bisect
import re
from collections.abc import Sequence
from dataclasses import dataclass

from paperdeck.diagnostics import warning
from paperdeck.notes.cloze import curly_to_clozes, has_cloze
from paperdeck.notes.fields import is_cloze_type
from paperdeck.notes.model import Card
from paperdeck.notes.scan import Scan
from paperdeck.notes.styles import NoteStyle
from paperdeck.notes.tags import split_tag_list, unique


@dataclass(frozen=True)
class _View:
    """The text the regexes run on, one entry of ``starts`` per line of the note."""

    text: str
    starts: list[int]

    def line_of(self, offset: int) -> int:
        return bisect.bisect_right(self.starts, offset) - 1


def style_cards(
    scan: Scan, styles: Sequence[NoteStyle], start: int, *, curly_cloze: bool
) -> tuple[list[Card], set[int]]:
    """The cards of every style, in the order the styles are given; and the ID lines
    they took."""
    cards: list[Card] = []
    id_lines: set[int] = set()
    if not styles or start >= len(scan.lines):
        return cards, id_lines
    view = _view(scan, start)
    taken: list[tuple[int, int]] = []
    for style in styles:
        for pattern, tagged in ((style.with_tags, True), (style.pattern, False)):
            for match in pattern.finditer(view.text, view.starts[start]):
                card = _match_card(scan, view, style, match, tagged, taken, curly_cloze)
                if card is not None:
                    cards.append(card)
                    id_lines.update(k - 1 for k in (card.id_line,) if k is not None)
                    if card.delete and card.id_line is not None:
                        id_lines.add(card.id_line - 2)
    return cards, id_lines


def _view(scan: Scan, start: int) -> _View:
    lines: list[str] = []
    for i, bare in enumerate(scan.bare):
        hidden = i in scan.excluded and i not in scan.code
        if i < start or i in scan.claimed or hidden or scan.is_id_like(i) or scan.deletes(i):
            lines.append("")
            continue
        line = bare
        for a, b in scan.inline.get(i, []):
            line = line[:a] + " " * (b - a) + line[b:]
        lines.append(line if line.strip() or not bare.strip() else "")
    starts: list[int] = []
    offset = 0
    for line in lines:
        starts.append(offset)
        offset += len(line) + 1
    return _View("\n".join(lines), starts)


def _match_card(
    scan: Scan,
    view: _View,
    style: NoteStyle,
    match: re.Match[str],
    tagged: bool,
    taken: list[tuple[int, int]],
    curly_cloze: bool,
) -> Card | None:
    s, e = match.span()
    while e > s and view.text[e - 1] == "\n":
        e -= 1
    while s < e and view.text[s] == "\n":
        s += 1
    if s >= e or any(s < b and a < e for a, b in taken):
        return None
    first, last = view.line_of(s), view.line_of(e - 1)
    if first in scan.code:
        return None
    where = f"{style.name!r} matched here"
    if _ends_in_code(scan, last):
        _warn(scan, first, f"{where} but ends inside code, where its ID cannot go; no card")
        return None
    groups = match.re.groups - (1 if tagged else 0)
    texts: list[str] = []
    lines: list[int] = []
    for g in range(1, groups + 1):
        gs, ge = match.span(g)
        texts.append(_original(scan, view, gs, ge).strip() if gs >= 0 else "")
        lines.append(_first_line(view, gs, ge, first))
    names = style.fields
    fields = tuple((name, texts[k] if k < len(texts) else "") for k, name in enumerate(names))
    field_lines = tuple(lines[k] + 1 if k < len(lines) else first + 1 for k in range(len(names)))
    if not any(text for _, text in fields):
        _warn(scan, first, f"{where} but every field is empty; no card")
        return None
    if is_cloze_type(style.note_type):
        convert = curly_to_clozes if curly_cloze else str
        if not any(has_cloze(convert(text)) for _, text in fields):
            _warn(scan, first, f"{where} but the {style.note_type} note has no cloze; no card")
            return None
    taken.append((s, e))
    scan.claimed.update(range(first, last + 1))
    _mark_syntax(scan, view, match, s, e, groups)
    tags = split_tag_list(match.group(groups + 1)[len("Tags: ") :]) if tagged else []
    card_id, id_line, delete = _id_after(scan, last)
    card = Card(
        question=fields[0][1],
        answer=fields[1][1] if len(fields) > 1 else "",
        line=first + 1,
        answer_line=min(max(field_lines[1] if len(fields) > 1 else first + 1, first + 1), last + 1),
        end_line=last + 1,
        card_id=card_id,
        id_line=id_line,
        reverse=style.note_type.casefold() == "basic (and reversed card)",
        cloze=is_cloze_type(style.note_type),
        tags=unique(tags),
        note_type=style.note_type,
        fields=fields,
        field_lines=field_lines,
        delete=delete,
    )
    if not fields[0][1]:
        _warn(scan, first, f"card has an empty {fields[0][0]} field")
    return card


def _ends_in_code(scan: Scan, last: int) -> bool:
    """Does the code block holding line ``last`` go on after it (the ID would be code)?"""
    if last not in scan.code:
        return False
    unclosed = scan.open_fence is not None and last >= scan.open_fence
    return unclosed or last + 1 in scan.code


def _original(scan: Scan, view: _View, start: int, end: int) -> str:
    """The note's text (comments left out) for a span of the view."""
    pieces: list[str] = []
    for i in range(view.line_of(start), view.line_of(max(start, end - 1)) + 1):
        line_start = view.starts[i]
        line_end = view.starts[i + 1] - 1 if i + 1 < len(view.starts) else len(view.text)
        width = line_end - line_start
        if width == 0:
            pieces.append("")
            continue
        a = max(start - line_start, 0)
        b = min(end - line_start, width)
        pieces.append(scan.content(i, a, b))
    return "\n".join(pieces)


def _first_line(view: _View, start: int, end: int, default: int) -> int:
    """The line of the first visible character of a group (0-based)."""
    if start < 0:
        return default
    text = view.text[start:end]
    skipped = len(text) - len(text.lstrip())
    return view.line_of(start + skipped) if text.strip() else default


def _mark_syntax(
    scan: Scan, view: _View, match: re.Match[str], s: int, e: int, groups: int
) -> None:
    """Record the match's own text outside its field groups (``#flashcard``, ``::``) as
    syntax, so it is not read as prose (``#tags``)."""
    spans = sorted(match.span(g) for g in range(1, groups + 1) if match.span(g)[0] >= 0)
    position = s
    for a, b in [*spans, (e, e)]:
        if a > position:
            _mark(scan, view, position, min(a, e))
        position = max(position, b)


def _mark(scan: Scan, view: _View, start: int, end: int) -> None:
    for i in range(view.line_of(start), view.line_of(max(start, end - 1)) + 1):
        a = max(start - view.starts[i], 0)
        b = end - view.starts[i]
        if b > a:
            scan.syntax.setdefault(i, []).append((a, b))


def _id_after(scan: Scan, last: int) -> tuple[int | None, int | None, bool]:
    """The ID right after a match (``DELETE`` may come first): (ID, its line, delete)."""
    k = last + 1
    delete = k < len(scan.lines) and k not in scan.claimed and scan.deletes(k)
    if delete:
        k += 1
    if k < len(scan.lines) and k not in scan.claimed and scan.is_id_like(k):
        scan.claimed.add(k)
        if delete:
            scan.claimed.add(k - 1)
        card_id, id_line = scan.read_id(k)
        return card_id, id_line, delete
    return None, None, False


def _warn(scan: Scan, i: int, message: str) -> None:
    scan.diagnostics.append(warning(scan.path, i + 1, message))
