"""Obsidian_to_Anki's own note syntax: ``START``/``END`` blocks, ``STARTI ... ENDI`` inline
notes and ``FROZEN`` fields, read as the plugin reads them (see its wiki), into cards that
name their note type and fields.

Any note type name is accepted; an unknown one only means its fields are known by the
labels the note writes (see :mod:`paperdeck.notes.fields`).
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass, field, replace

from paperdeck.diagnostics import warning
from paperdeck.notes.cloze import curly_to_clozes
from paperdeck.notes.comments import find_comments
from paperdeck.notes.fields import ALIASES, FIRST_FIELD, is_cloze_type, known_fields, label
from paperdeck.notes.model import Card
from paperdeck.notes.scan import FROZEN_RE, Scan
from paperdeck.notes.tags import find_tags, split_tag_list, unique

INLINE_RE = re.compile(r"(?<!\w)STARTI(.*?)ENDI(?!\w)")
"""An inline note; it must fit on one line."""
INLINE_ID_RE = re.compile(r"(?:<!--\s*)?(?<!\w)ID:[ \t]*(\d+)(?:\s*-->)?")
"""The ID inside an inline note: everything from it to ``ENDI`` is cut off."""
_INLINE_START_RE = re.compile(r"(?<!\w)STARTI(?!\w)")
_INLINE_CODE_RE = re.compile(r"(`+).*?\1")
_INLINE_TAGS_RE = re.compile(r"(?<!\S)Tags: (.*)")
_INLINE_TYPE_RE = re.compile(r"^\s*\[([^\[\]]*)\]")
_INLINE_FREE_LABEL_RE = re.compile(r"(?<!\S)([^\W\d_][\w-]*):(?=\s|$)")
_TAGS_LINE_RE = re.compile(r"^Tags:(?:[ \t]+|$)(.*)$")
_DELETE_WORD_RE = re.compile(r"(?:^|\s)DELETE\s*$")

Frozen = dict[str, dict[str, str]]
"""FROZEN fields of one file: note type (case-folded) -> field -> text to append."""


@dataclass
class _Fields:
    """The fields of one block as they are read, line by line."""

    first: str
    lines: dict[str, list[int]] = field(default_factory=dict)
    texts: dict[str, list[str]] = field(default_factory=dict)
    tags: list[str] = field(default_factory=list)
    card_id: int | None = None
    id_line: int | None = None
    delete: bool = False

    def add(self, name: str, line: int, text: str) -> None:
        self.lines.setdefault(name, []).append(line)
        self.texts.setdefault(name, []).append(text)

    def text(self, name: str) -> str:
        return "\n".join(self.texts.get(name, [])).strip("\n").rstrip()


def inline_notes(bare: str) -> list[re.Match[str]]:
    """The inline notes on one line (comments already blanked), outside inline code; each
    match is of the line with its inline code blanked."""
    return list(INLINE_RE.finditer(_without_code(bare)))


def _without_code(bare: str) -> str:
    return _INLINE_CODE_RE.sub(lambda m: " " * len(m.group(0)), bare)


def inline_id_slots(line: str) -> list[int]:
    """Columns of ``ENDI`` of each inline note on ``line`` that has no ID yet."""
    bare = find_comments([line]).bare[0]
    return [m.end() - 4 for m in inline_notes(bare) if not INLINE_ID_RE.search(m.group(1))]


# --- blocks ---------------------------------------------------------------------------------


def read_block(
    scan: Scan, start: int, configured: Mapping[str, tuple[str, ...]]
) -> tuple[Card | None, int]:
    """The block whose ``START`` is on line index ``start``; return it and the next line."""
    ends = (k for k in range(start + 1, len(scan.lines)) if k not in scan.excluded)
    end = next((k for k in ends if scan.bare[k].strip() == "END"), None)
    if end is None:
        scan.error(start, "START with no END after it")
        return None, start + 1
    scan.claimed.update(range(start, end + 1))
    kind = start + 1
    while kind < end and scan.is_blank(kind):
        kind += 1
    if kind >= end:
        _warn(scan, start, "block has no note type; no card")
        return None, end + 1
    note_type = scan.text(kind).strip()
    read = _read_fields(scan, range(kind + 1, end), note_type, configured)
    card = _card(scan, read, note_type, configured, type_line=kind, end_line=end)
    if card is None:
        _warn(scan, start, f"block of type {note_type!r} has no fields; no card")
    return card, end + 1


def _read_fields(
    scan: Scan, lines: range, note_type: str, configured: Mapping[str, tuple[str, ...]]
) -> _Fields:
    """Field lines by ``Name:`` labels; the first field may be unlabelled."""
    known = known_fields(note_type, configured)
    read = _Fields(first=known[0] if known else FIRST_FIELD)
    current = read.first
    for k in lines:
        text, bare = scan.content(k), scan.bare[k]
        if k in scan.excluded:
            read.add(current, k, text)
        elif scan.is_id_like(k):
            read.card_id, read.id_line = scan.read_id(k)
        elif scan.deletes(k):
            read.delete = True
        elif (m := _TAGS_LINE_RE.match(bare)) is not None:
            current = "Tags"
            read.tags.extend(split_tag_list(text[m.start(1) :]))
        elif current == "Tags":
            read.tags.extend(split_tag_list(text))
        elif (found := label(bare, known, note_type)) is not None:
            current = found[0]
            read.add(current, k, scan.content(k, len(bare) - len(found[1])))
        else:
            read.add(current, k, text)
    return read


def _card(
    scan: Scan,
    read: _Fields,
    note_type: str,
    configured: Mapping[str, tuple[str, ...]],
    *,
    type_line: int,
    end_line: int,
) -> Card | None:
    """The card of a block's fields, or ``None`` when it has no text and no ID."""
    known = known_fields(note_type, configured)
    names = list(known) if known else [n for n in read.lines if n != FIRST_FIELD]
    if not known and read.text(FIRST_FIELD):
        names.insert(0, FIRST_FIELD)
    fields = tuple((name, read.text(name)) for name in names)
    if not any(text for _, text in fields) and read.card_id is None and not read.delete:
        return None
    first_lines = [read.lines[n][0] + 1 if n in read.lines else type_line + 1 for n in names]
    line = first_lines[0] if first_lines else type_line + 1
    line = min(line, end_line)
    answer = first_lines[1] if len(first_lines) > 1 else line
    card = Card(
        question=fields[0][1] if fields else "",
        answer=fields[1][1] if len(fields) > 1 else "",
        line=line,
        answer_line=min(max(answer, line), end_line),
        end_line=end_line,
        card_id=read.card_id,
        id_line=read.id_line,
        reverse=note_type.casefold() == "basic (and reversed card)",
        cloze=is_cloze_type(note_type),
        tags=unique(read.tags),
        note_type=note_type,
        fields=fields,
        field_lines=tuple(first_lines),
        delete=read.delete,
    )
    _check_first_field(scan, card)
    return card


def _check_first_field(scan: Scan, card: Card) -> None:
    if card.fields and not card.fields[0][1].strip() and not card.delete:
        name = card.fields[0][0] or "first"
        _warn(scan, card.line - 1, f"card has an empty {name} field")


def _warn(scan: Scan, i: int, message: str) -> None:
    scan.diagnostics.append(warning(scan.path, i + 1, message))


# --- inline notes ---------------------------------------------------------------------------


def find_inline(scan: Scan, lines: range) -> None:
    """Record where the inline notes are (``scan.inline``) and warn of an unclosed one."""
    for i in lines:
        if i in scan.excluded or "STARTI" not in scan.bare[i]:  # most lines: no regex at all
            continue
        found = inline_notes(scan.bare[i])
        spans = [m.span() for m in found]
        if spans:
            scan.inline[i] = spans
        starts = [m.start() for m in _INLINE_START_RE.finditer(_without_code(scan.bare[i]))]
        if any(not any(a <= s < b for a, b in spans) for s in starts):
            _warn(scan, i, "STARTI with no ENDI on its line (an inline note fits on one line)")


def read_inline(scan: Scan, i: int, configured: Mapping[str, tuple[str, ...]]) -> list[Card]:
    """The inline notes on line index ``i``, left to right."""
    cards: list[Card] = []
    for m in inline_notes(scan.bare[i]):
        card = _inline_card(scan, i, m, configured)
        if card is not None:
            cards.append(card)
    return cards


def _inline_card(
    scan: Scan, i: int, note: re.Match[str], configured: Mapping[str, tuple[str, ...]]
) -> Card | None:
    """``[Type] fields... Tags: ... <!--ID: N-->`` between ``STARTI`` and ``ENDI``."""
    bare, offset = note.group(1), note.start(1)

    def text(a: int, b: int) -> str:
        """The note's own text between two columns of ``bare``, comments cut out."""
        return scan.content(i, offset + a, offset + b).strip()

    card_id: int | None = None
    delete = False
    if (m := INLINE_ID_RE.search(bare)) is not None:
        card_id, cut = scan.check_id(i, m.group(1)), m.start()
        if (d := _DELETE_WORD_RE.search(bare[:cut])) is not None:
            delete, cut = True, d.start()
        bare = bare[:cut]
    tags: list[str] = []
    if (m := _INLINE_TAGS_RE.search(bare)) is not None:
        tags = split_tag_list(text(m.start(1), len(bare)))
        bare = bare[: m.start()]
    kind = _INLINE_TYPE_RE.match(bare)
    if kind is None or not kind.group(1).strip():
        _warn(scan, i, "inline note has no [note type] after STARTI; no card")
        return None
    note_type = kind.group(1).strip()
    known = known_fields(note_type, configured)
    names: list[str] = [known[0] if known else FIRST_FIELD]
    values: dict[str, list[str]] = {}
    position = kind.end()
    for found in _inline_labels(bare, position, known, note_type):
        values.setdefault(names[-1], []).append(text(position, found.start()))
        names.append(_alias(found.group(1), note_type))
        position = found.end()
    values.setdefault(names[-1], []).append(text(position, len(bare)))
    order = list(known) if known else list(dict.fromkeys(names))
    if not known and not any(values.get(FIRST_FIELD, [])):
        order = [n for n in order if n != FIRST_FIELD]
    fields = tuple((n, " ".join(v for v in values.get(n, []) if v)) for n in order)
    if not any(t for _, t in fields) and card_id is None and not delete:
        _warn(scan, i, f"inline note of type {note_type!r} has no fields; no card")
        return None
    card = Card(
        question=fields[0][1] if fields else "",
        answer=fields[1][1] if len(fields) > 1 else "",
        line=i + 1,
        answer_line=i + 1,
        end_line=i + 1,
        card_id=card_id,
        id_line=i + 1 if card_id is not None else None,
        reverse=note_type.casefold() == "basic (and reversed card)",
        cloze=is_cloze_type(note_type),
        tags=unique(tags),
        note_type=note_type,
        fields=fields,
        field_lines=(i + 1,) * len(fields),
        delete=delete,
    )
    _check_first_field(scan, card)
    return card


def _inline_labels(
    bare: str, position: int, known: tuple[str, ...] | None, note_type: str
) -> list[re.Match[str]]:
    """``Name:`` labels standing as their own words in an inline note's text."""
    if known is None:
        return [m for m in _INLINE_FREE_LABEL_RE.finditer(bare, position) if m.group(1) != "Tags"]
    names = sorted({*known, *_aliases(note_type)}, key=len, reverse=True)
    pattern = re.compile(r"(?<!\S)(" + "|".join(map(re.escape, names)) + r"):(?=\s|$)")
    return list(pattern.finditer(bare, position))


def _aliases(note_type: str) -> dict[str, str]:
    return ALIASES.get(note_type.casefold(), {})


def _alias(name: str, note_type: str) -> str:
    return _aliases(note_type).get(name, name)


# --- FROZEN fields --------------------------------------------------------------------------


def read_frozen(scan: Scan, lines: range, configured: Mapping[str, tuple[str, ...]]) -> Frozen:
    """``FROZEN - Type:`` and the field lines under it, up to a blank line; a later block
    for the same type replaces an earlier one, as in the plugin."""
    frozen: Frozen = {}
    i = lines.start
    while i < lines.stop:
        m = FROZEN_RE.match(scan.bare[i]) if i not in scan.excluded else None
        if m is None:
            i += 1
            continue
        last = i
        while last + 1 < lines.stop and not scan.is_blank(last + 1):
            last += 1
        scan.claimed.update(range(i, last + 1))
        note_type = m.group(1).strip()
        read = _read_fields(scan, range(i + 1, last + 1), note_type, configured)
        texts = {name: read.text(name) for name in read.lines if read.text(name)}
        if not texts:
            _warn(scan, i, f"FROZEN block for {note_type!r} has no fields")
        frozen[note_type.casefold()] = texts
        i = last + 1
    return frozen


# --- finishing a card -----------------------------------------------------------------------


def finish(card: Card, frozen: Frozen, *, curly_cloze: bool, card_tags: bool) -> Card:
    """Apply what depends on the whole file or the options: FROZEN text appended to its
    field (no separator, as the plugin does), CurlyCloze in Cloze types, per-card
    ``#tags``; ``question``/``answer`` then repeat the first two fields."""
    if card.note_type is None:
        if card_tags:
            tags = [t for text in (card.question, card.answer) for t in _tags_in(text)]
            return replace(card, tags=unique([*card.tags, *tags]))
        return card
    curly = curly_cloze and is_cloze_type(card.note_type)
    convert = curly_to_clozes if curly else _same
    extra = dict(frozen.get(card.note_type.casefold(), {}))
    fields: list[tuple[str, str]] = []
    lines = list(card.field_lines)
    for name, text in card.fields:
        fields.append((name, convert(text) + convert(extra.pop(name, ""))))
    for name, text in extra.items():
        fields.append((name, convert(text)))
        lines.append(card.line)
    tags = list(card.tags)
    if card_tags:
        tags.extend(t for _, text in card.fields for t in _tags_in(text))
    return replace(
        card,
        question=fields[0][1] if fields else "",
        answer=fields[1][1] if len(fields) > 1 else "",
        fields=tuple(fields),
        field_lines=tuple(lines),
        tags=unique(tags),
    )


def _same(text: str) -> str:
    return text


def _tags_in(text: str) -> list[str]:
    return [t for line in text.split("\n") for t in find_tags(line)]
