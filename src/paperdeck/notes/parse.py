"""Parse one note's text into a :class:`~paperdeck.notes.model.Note` (pure: text in, data out).

The note format, in the order it is read:

1. optional YAML front matter between ``---`` lines;
2. optional header lines ``Title:``, ``Authors:``, ``Tags:``, ``Year:``, ``Link:``, ``Deck:``;
3. prose with ``#tags``, math, embeds and fenced code;
4. cards: a ``Q:`` line (the question may continue on following lines), an ``A:`` line
   (the answer may continue), closed by ``<!--ID: N-->``. A card without an ID ends at a
   blank line, the next ``Q:`` or a heading.

markdown-it finds the block structure (fences, indented code, math blocks) so that a
``Q:`` or ``$$`` inside code is never mistaken for a card or math.
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from dataclasses import dataclass, field, replace
from typing import Any

import yaml
from markdown_it import MarkdownIt
from markdown_it.token import Token
from mdit_py_plugins.dollarmath import dollarmath_plugin

from paperdeck import yamlsafe
from paperdeck.diagnostics import Diagnostic, clip, error, warning
from paperdeck.notes.cloze import cloze_problems, has_cloze, has_highlight
from paperdeck.notes.model import Card, FencedBlock, Note, NoteMeta
from paperdeck.notes.tags import find_tags, split_tag_list, unique

LINE_RE = re.compile(r"[^\r\n]*(?:\r\n|\r|\n)|[^\r\n]+$")
Q_RE = re.compile(r"^Q:(?:[ \t]|$)")
A_RE = re.compile(r"^A:(?:[ \t]|$)")
# ASCII digits only: ``\d`` would also take Arabic-Indic and other digits.
ID_RE = re.compile(r"^\s*<!--\s*ID:\s*([0-9]{1,19})\s*-->\s*$")
ID_LIKE_RE = re.compile(r"^\s*<!--\s*ID\b", re.IGNORECASE)
HEADING_RE = re.compile(r"^ {0,3}#{1,6}(?:[ \t]|$)")
HEADER_RE = re.compile(r"^(title|authors?|tags|year|link|deck)[ \t]*:[ \t]*(.*?)[ \t]*$", re.I)
FENCE_LINE_RE = re.compile(r"^ {0,3}(?:---|\.\.\.)\s*$")
# Obsidian_to_Anki's syntax: START / note type / fields / END, and file-level settings.
SETTING_RE = re.compile(r"^(TARGET DECK|FILE TAGS)\s*:?\s*(.*?)\s*$")
BLOCK_FIELD_RE = re.compile(r"^(Front|Back|Text|Back Extra|Extra|Tags):(?:[ \t]|$)(.*)$")
BLOCK_TYPES: dict[str, tuple[str, str, bool]] = {
    # note type (lower case) -> (question field, answer field, reversed)
    "basic": ("Front", "Back", False),
    "basic (and reversed card)": ("Front", "Back", True),
    "cloze": ("Text", "Back Extra", False),
}
MAX_ID = 2**63 - 1

# Block structure only: inline parsing is not needed to find fences and math blocks.
_BLOCK_PARSER = MarkdownIt("commonmark").use(dollarmath_plugin, allow_space=False).disable("inline")


def split_lines(text: str) -> list[str]:
    """Lines with their own endings kept, so that joining them gives back ``text``."""
    return LINE_RE.findall(text)


@dataclass
class _Scan:
    """Working state of one parse: the lines and what has been found so far."""

    path: str
    lines: list[str]
    highlight_cloze: bool = False
    excluded: set[int] = field(default_factory=set)
    open_fence: int | None = None
    """A fence that is never closed and so runs to the end of the note: its first line."""
    diagnostics: list[Diagnostic] = field(default_factory=list)
    target_deck: str | None = None
    file_tags: list[str] = field(default_factory=list)

    def text(self, i: int) -> str:
        return self.lines[i].rstrip("\r\n")

    def is_blank(self, i: int) -> bool:
        return not self.text(i).strip()


def parse_note(
    text: str, *, path: str, highlight_cloze: bool = False
) -> tuple[Note, list[Diagnostic]]:
    """Parse a note. Problems come back as diagnostics; this never raises for bad input.

    ``highlight_cloze`` makes a paragraph with ``==highlights==`` a cloze card (opt-in, since
    many people highlight without meaning a card).
    """
    text = text.removeprefix("\ufeff")
    scan = _Scan(path, split_lines(text), highlight_cloze)
    meta, body_start = _read_front_matter(scan)
    meta, body_start = _read_header_lines(scan, meta, body_start)
    fences = _mark_code_and_math(scan, body_start)
    _check_display_math(scan, body_start)
    cards = _read_cards(scan, body_start)
    inline_tags = _read_inline_tags(scan, body_start)
    if scan.target_deck and not meta.deck:
        meta = replace(meta, deck=scan.target_deck)
    if scan.file_tags:
        meta = replace(meta, tags=unique([*meta.tags, *scan.file_tags]))
    note = Note(path, meta, tuple(cards), inline_tags, tuple(fences))
    return note, sorted(scan.diagnostics, key=lambda d: d.line)


# --- front matter and header lines -------------------------------------------------------


def _read_front_matter(scan: _Scan) -> tuple[NoteMeta, int]:
    lines = scan.lines
    if not lines or scan.text(0).rstrip() != "---":
        return NoteMeta(), 0
    end = next((i for i in range(1, len(lines)) if FENCE_LINE_RE.match(scan.text(i))), None)
    if end is None:
        scan.diagnostics.append(error(scan.path, 1, "front matter has no closing '---'"))
        return NoteMeta(), len(lines)
    source = "".join(lines[1:end])
    try:
        data = yamlsafe.load(source)
    except yaml.YAMLError as exc:
        offset, problem = yamlsafe.describe(exc)
        line = 2 + offset if offset is not None else 1
        scan.diagnostics.append(error(scan.path, line, f"invalid front matter: {problem}"))
        return NoteMeta(), end + 1
    if data is None:
        return NoteMeta(), end + 1
    if not isinstance(data, dict):
        scan.diagnostics.append(error(scan.path, 1, "front matter must be a mapping of keys"))
        return NoteMeta(), end + 1
    return _meta_from_mapping(scan, data), end + 1


def _as_text(value: Any) -> str | None:
    return None if value is None else str(value).strip() or None


def _as_list(value: Any) -> list[str]:
    if value is None:
        return []
    if isinstance(value, str):
        return split_tag_list(value) if "#" in value else [v.strip() for v in value.split(",")]
    if isinstance(value, list):
        return [str(v).strip().lstrip("#") for v in value if v is not None and str(v).strip()]
    return [str(value)]


def _meta_from_mapping(scan: _Scan, data: dict[Any, Any]) -> NoteMeta:
    keys = {str(k).lower(): v for k, v in data.items()}
    tags = keys.get("tags", keys.get("tag"))
    if tags is not None and not isinstance(tags, str | list):
        scan.diagnostics.append(error(scan.path, 1, "front matter 'tags' must be a list"))
        tags = None
    return NoteMeta(
        title=_as_text(keys.get("title")),
        authors=tuple(_as_list(keys.get("authors", keys.get("author")))),
        tags=tuple(t for t in _as_list(tags) if t),
        year=_as_text(keys.get("year")),
        link=_as_text(keys.get("link", keys.get("url"))),
        deck=_as_text(keys.get("deck")),
        reverse=keys.get("reverse") is True,
    )


def _read_header_lines(scan: _Scan, meta: NoteMeta, start: int) -> tuple[NoteMeta, int]:
    i = start
    while i < len(scan.lines) and scan.is_blank(i):
        i += 1
    values: dict[str, str] = {}
    while i < len(scan.lines) and (m := HEADER_RE.match(scan.text(i))):
        key = m.group(1).lower().rstrip("s") if m.group(1).lower() != "tags" else "tags"
        values[key] = m.group(2)
        i += 1
    if not values:
        return meta, start
    authors = values.get("author")
    return (
        NoteMeta(
            title=values.get("title") or meta.title,
            authors=tuple(_split_authors(authors)) if authors else meta.authors,
            tags=unique([*meta.tags, *split_tag_list(values.get("tags", ""))]),
            year=values.get("year") or meta.year,
            link=values.get("link") or meta.link,
            deck=values.get("deck") or meta.deck,
            reverse=meta.reverse,
        ),
        i,
    )


def _split_authors(value: str) -> list[str]:
    """``#Eric_Jang #Ben_Poole`` or ``Eric Jang, Ben Poole``: authors as tag-safe names."""
    if "#" in value:
        return split_tag_list(value)
    return [re.sub(r"\s+", "_", a.strip()) for a in re.split(r",|;| and ", value) if a.strip()]


# --- block structure ----------------------------------------------------------------------


def _mark_code_and_math(scan: _Scan, start: int) -> list[FencedBlock]:
    """Record which lines are code or math blocks; return the fenced blocks."""
    body = "".join(["\n"] * start + scan.lines[start:])
    fences: list[FencedBlock] = []
    for token in _BLOCK_PARSER.parse(body):
        if token.map is None or token.type not in {"fence", "code_block", "math_block"}:
            continue
        first, last = token.map
        scan.excluded.update(range(first, last))
        if token.type == "fence":
            fences.append(FencedBlock(token.info.strip(), token.content, first + 1))
            if last >= len(scan.lines) and not _fence_closed(token):
                scan.open_fence = first
    return fences


def _fence_closed(token: Token) -> bool:
    """markdown-it maps a fence over its opening line, its content and its closing line, if any."""
    assert token.map is not None
    first, last = token.map
    content = token.content
    content_lines = content.count("\n") + (1 if content and not content.endswith("\n") else 0)
    return last - first - 1 > content_lines


def _check_display_math(scan: _Scan, start: int) -> None:
    """An unclosed ``$$`` swallows the rest of a card in Anki: report where it opened."""
    opened_at: int | None = None
    for i in range(start, len(scan.lines)):
        if i in scan.excluded and opened_at is None:
            continue
        text = re.sub(r"\\\$", "", scan.text(i))
        for _ in re.finditer(r"\$\$", text):
            opened_at = i if opened_at is None else None
        if opened_at is not None and _ends_block(scan, i + 1):
            scan.diagnostics.append(error(scan.path, opened_at + 1, "unclosed '$$' display math"))
            opened_at = None
    if opened_at is not None:
        scan.diagnostics.append(error(scan.path, opened_at + 1, "unclosed '$$' display math"))


def _ends_block(scan: _Scan, i: int) -> bool:
    """Display math never runs past a card boundary or a heading."""
    if i >= len(scan.lines):
        return False
    text = scan.text(i)
    return bool(Q_RE.match(text) or HEADING_RE.match(text) or ID_RE.match(text))


# --- cards ------------------------------------------------------------------------------------


def _read_cards(scan: _Scan, start: int) -> list[Card]:
    cards: list[Card] = []
    i = start
    while i < len(scan.lines):
        text = scan.text(i)
        if i in scan.excluded:
            i += 1
        elif Q_RE.match(text):
            card, i = _read_card(scan, i)
            if card is not None:
                cards.append(card)
        elif ID_RE.match(text):
            scan.diagnostics.append(error(scan.path, i + 1, "ID comment with no card above it"))
            i += 1
        elif ID_LIKE_RE.match(text):
            _malformed_id(scan, i)
            i += 1
        elif A_RE.match(text):
            scan.diagnostics.append(error(scan.path, i + 1, "'A:' with no 'Q:' above it"))
            i += 1
        elif text.strip() == "START":
            card, i = _read_block(scan, i)
            if card is not None:
                cards.append(card)
        elif m := SETTING_RE.match(text):
            i = _read_setting(scan, i, m.group(1), m.group(2))
        elif scan.is_blank(i) or HEADING_RE.match(text):
            i += 1
        else:
            card, i = _read_paragraph(scan, i)
            if card is not None:
                cards.append(card)
    return cards


def _is_structural(scan: _Scan, i: int) -> bool:
    """Lines that end a paragraph: cards, IDs, headings, blocks and settings."""
    text = scan.text(i)
    return bool(
        scan.is_blank(i)
        or _is_boundary(scan, i)
        or A_RE.match(text)
        or ID_LIKE_RE.match(text)
        or text.strip() in ("START", "END")
        or SETTING_RE.match(text)
    )


def _read_paragraph(scan: _Scan, first: int) -> tuple[Card | None, int]:
    """A prose paragraph; it is a cloze card when it holds ``{{c1::...}}`` (or highlights)."""
    last = first
    while last + 1 < len(scan.lines) and not (
        last + 1 in scan.excluded or _is_structural(scan, last + 1)
    ):
        last += 1
    text = "\n".join(scan.text(k) for k in range(first, last + 1))
    if not (has_cloze(text) or (scan.highlight_cloze and has_highlight(text))):
        return None, last + 1
    for offset, message in cloze_problems(text):
        scan.diagnostics.append(error(scan.path, first + 1 + offset, message))
    card_id: int | None = None
    id_line: int | None = None
    after = last + 1
    if after < len(scan.lines) and after not in scan.excluded:
        if ID_RE.match(scan.text(after)):
            card_id, id_line = _parse_id(scan, after)
            after += 1
        elif ID_LIKE_RE.match(scan.text(after)):
            _malformed_id(scan, after)
            after += 1
    card = Card(
        question=text.rstrip(),
        answer="",
        line=first + 1,
        answer_line=first + 1,
        end_line=last + 1,
        card_id=card_id,
        id_line=id_line,
        cloze=True,
    )
    return card, after


def _read_setting(scan: _Scan, i: int, name: str, inline: str) -> int:
    """``TARGET DECK`` / ``FILE TAGS``, with the value on the same line or the next one."""
    value, after = inline, i + 1
    if not value and after < len(scan.lines) and not scan.is_blank(after):
        value, after = scan.text(after).strip(), after + 1
    if not value:
        scan.diagnostics.append(error(scan.path, i + 1, f"{name} is not followed by a value"))
    elif name == "TARGET DECK":
        scan.target_deck = value
    else:
        scan.file_tags.extend(split_tag_list(value))
    return after


def _read_block(scan: _Scan, start: int) -> tuple[Card | None, int]:
    """An Obsidian_to_Anki block: START, note type, ``Field:`` lines, optional ID, END."""
    n = len(scan.lines)
    end = next(
        (
            k
            for k in range(start + 1, n)
            if k not in scan.excluded and scan.text(k).strip() == "END"
        ),
        None,
    )
    if end is None:
        scan.diagnostics.append(error(scan.path, start + 1, "START with no END after it"))
        return None, start + 1
    kind = scan.text(start + 1).strip() if start + 1 < end else ""
    if kind.lower() not in BLOCK_TYPES:
        known = "'Basic', 'Basic (and reversed card)', 'Cloze'"
        scan.diagnostics.append(
            error(scan.path, start + 2, f"unsupported note type {kind!r}; supported: {known}")
        )
        return None, end + 1
    question_field, answer_field, reverse = BLOCK_TYPES[kind.lower()]
    fields: dict[str, list[int]] = {}
    current = question_field
    card_id: int | None = None
    id_line: int | None = None
    for k in range(start + 2, end):
        text = scan.text(k)
        if k not in scan.excluded and ID_RE.match(text):
            card_id, id_line = _parse_id(scan, k)
            continue
        if k not in scan.excluded and ID_LIKE_RE.match(text):
            _malformed_id(scan, k)
            continue
        m = BLOCK_FIELD_RE.match(text) if k not in scan.excluded else None
        if m is not None:
            current = "Back Extra" if m.group(1) == "Extra" else m.group(1)
        fields.setdefault(current, []).append(k)
    if question_field not in fields:
        scan.diagnostics.append(error(scan.path, start + 1, f"block has no {question_field} field"))
        return None, end + 1
    tags = [t for k in fields.get("Tags", []) for t in split_tag_list(_block_line(scan, k))]
    question_lines = fields[question_field]
    answer_lines = fields.get(answer_field, [])
    card = Card(
        question=_block_field(scan, question_lines),
        answer=_block_field(scan, answer_lines),
        line=question_lines[0] + 1,
        answer_line=(answer_lines or question_lines)[0] + 1,
        end_line=end,
        card_id=card_id,
        id_line=id_line,
        reverse=reverse,
        cloze=answer_field == "Back Extra",
        tags=unique(tags),
    )
    return card, end + 1


def _block_line(scan: _Scan, k: int) -> str:
    text = scan.text(k)
    m = BLOCK_FIELD_RE.match(text) if k not in scan.excluded else None
    return m.group(2) if m is not None else text


def _block_field(scan: _Scan, lines: list[int]) -> str:
    return "\n".join(_block_line(scan, k) for k in lines).strip("\n").rstrip()


def _is_boundary(scan: _Scan, i: int) -> bool:
    text = scan.text(i)
    return bool(Q_RE.match(text) or HEADING_RE.match(text))


def _read_card(scan: _Scan, q: int) -> tuple[Card | None, int]:
    """Read the card whose ``Q:`` is on line index ``q``; return it and the next line to scan."""
    n = len(scan.lines)
    a = q + 1
    while a < n and (a in scan.excluded or not A_RE.match(scan.text(a))):
        if a not in scan.excluded and (
            _is_boundary(scan, a) or ID_LIKE_RE.match(scan.text(a)) or _blank_before_other(scan, a)
        ):
            break
        a += 1
    if a >= n or not A_RE.match(scan.text(a)) or a in scan.excluded:
        scan.diagnostics.append(error(scan.path, q + 1, "'Q:' with no 'A:' after it"))
        return None, max(a, q + 1)

    end = a  # last line of the answer
    j = a + 1
    card_id: int | None = None
    id_line: int | None = None
    while j < n:
        text = scan.text(j)
        if j in scan.excluded:
            if j == scan.open_fence:  # the card and any ID after it would end inside the code
                message = "code fence in a card is never closed (it runs to the end of the note)"
                scan.diagnostics.append(error(scan.path, j + 1, message))
            end = j
        elif ID_RE.match(text):
            card_id, id_line = _parse_id(scan, j)
            j += 1
            break
        elif ID_LIKE_RE.match(text):
            _malformed_id(scan, j)
            j += 1
            break
        elif _is_boundary(scan, j) or (scan.is_blank(j) and not _id_follows(scan, j)):
            break
        elif not scan.is_blank(j):
            end = j
        j += 1

    question = _field(scan, q, a - 1, prefix_len=2)
    answer = _field(scan, a, end, prefix_len=2)
    if not question.strip():
        scan.diagnostics.append(warning(scan.path, q + 1, "card has an empty question"))
    card = Card(
        question=question,
        answer=answer,
        line=q + 1,
        answer_line=a + 1,
        end_line=end + 1,
        card_id=card_id,
        id_line=id_line,
    )
    return card, j


def _blank_before_other(scan: _Scan, i: int) -> bool:
    """A blank line inside a question ends it unless the ``A:`` comes next."""
    if not scan.is_blank(i):
        return False
    k = i
    while k < len(scan.lines) and scan.is_blank(k):
        k += 1
    return k >= len(scan.lines) or not A_RE.match(scan.text(k))


def _id_follows(scan: _Scan, i: int) -> bool:
    """Does an ID comment close this card before the next card or heading?

    This lets an answer that has an ID span blank lines, while an answer without one
    ends at its first blank line.
    """
    for k in range(i, len(scan.lines)):
        if k in scan.excluded:
            continue
        text = scan.text(k)
        if ID_LIKE_RE.match(text):
            return True
        if _is_boundary(scan, k) or A_RE.match(text):
            return False
    return False


def _parse_id(scan: _Scan, i: int) -> tuple[int | None, int]:
    m = ID_RE.match(scan.text(i))
    assert m is not None
    value = int(m.group(1))
    if not 0 < value <= MAX_ID:
        scan.diagnostics.append(error(scan.path, i + 1, f"card ID out of range: {value}"))
        return None, i + 1
    return value, i + 1


def _malformed_id(scan: _Scan, i: int) -> None:
    """An ID comment that is no valid ID (letters, non-ASCII digits): an error at its line."""
    message = f"malformed card ID: {clip(scan.text(i).strip())}"
    scan.diagnostics.append(error(scan.path, i + 1, message))


def _field(scan: _Scan, first: int, last: int, *, prefix_len: int) -> str:
    """Join the lines of a question or answer, dropping the ``Q:``/``A:`` marker."""
    lines = [scan.text(k) for k in range(first, last + 1)]
    lines[0] = lines[0][prefix_len:]
    if lines[0].startswith((" ", "\t")):
        lines[0] = lines[0][1:]
    return "\n".join(lines).rstrip()


# --- inline tags --------------------------------------------------------------------------


def _read_inline_tags(scan: _Scan, start: int) -> tuple[str, ...]:
    tags: list[str] = []
    for i in range(start, len(scan.lines)):
        if i in scan.excluded or HEADING_RE.match(scan.text(i)):
            continue
        tags.extend(find_tags(scan.text(i)))
    return unique(tags)


def card_ids(notes: Sequence[Note]) -> dict[int, list[tuple[str, int]]]:
    """Every card ID in the vault with the places it appears (for duplicate checks)."""
    places: dict[int, list[tuple[str, int]]] = {}
    for note in notes:
        for card in note.cards:
            if card.card_id is not None and card.id_line is not None:
                places.setdefault(card.card_id, []).append((note.path, card.id_line))
    return places
