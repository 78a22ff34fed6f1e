"""Parse one note's text into a :class:`~paperdeck.notes.model.Note` (pure: text in, data out).

The note format, in the order it is read:

1. optional YAML front matter between ``---`` lines;
2. optional header lines ``Title:``, ``Authors:``, ``Tags:``, ``Year:``, ``Link:``, ``Deck:``;
3. prose with ``#tags``, math, embeds and fenced code;
4. cards: a ``Q:`` line (the question may continue on following lines), an ``A:`` line
   (the answer may continue), closed by ``<!--ID: N-->`` (or a plain ``ID: N`` line). A
   card without an ID ends at a blank line, the next ``Q:`` or a heading; a card with one
   runs to it, over blank lines and over headings written right under its text;
5. cloze paragraphs (``{{c1::...}}``), each closed by its ID;
6. Obsidian_to_Anki's syntax (:mod:`paperdeck.notes.plugin`): ``START``/``END`` blocks,
   ``STARTI ... ENDI`` inline notes, ``FROZEN`` fields, ``TARGET DECK``, ``FILE TAGS``,
   ``DELETE`` above an ID, and the regex styles the vault configures
   (:mod:`paperdeck.notes.regex_notes`).

markdown-it finds the block structure (fences, indented code, math blocks) so that a
``Q:`` or ``$$`` inside code is never mistaken for a card or math; nothing inside an HTML
``<!-- -->`` or Obsidian ``%% %%`` comment is a card either (:mod:`paperdeck.notes.comments`).
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
from paperdeck.diagnostics import Diagnostic, error, warning
from paperdeck.notes.citekey import front_matter_key, is_front_matter_key_line, split_title
from paperdeck.notes.cloze import cloze_problems, has_cloze, has_curly_cloze, has_highlight
from paperdeck.notes.comments import find_comments
from paperdeck.notes.model import Card, FencedBlock, Note, NoteMeta
from paperdeck.notes.options import ParseOptions
from paperdeck.notes.plugin import find_inline, finish, read_block, read_frozen, read_inline
from paperdeck.notes.regex_notes import style_cards
from paperdeck.notes.scan import (
    A_RE,
    ID_RE,
    Q_RE,
    SETTING_RE,
    Scan,
    heading,
    split_lines,
)
from paperdeck.notes.tags import find_tags, front_matter_tags, header_tags, split_tag_list, unique

__all__ = ["ParseOptions", "card_ids", "parse_note", "split_lines"]

HEADER_RE = re.compile(r"^(title|authors?|tags|year|link|deck)[ \t]*:[ \t]*(.*?)[ \t]*$", re.I)
FENCE_LINE_RE = re.compile(r"^ {0,3}(?:---|\.\.\.)\s*$")
_QA_TAGS_RE = re.compile(r"^Tags: (.*)$")

# Block structure only: inline parsing is not needed to find fences and math blocks.
_BLOCK_PARSER = MarkdownIt("commonmark").use(dollarmath_plugin, allow_space=False).disable("inline")


@dataclass
class _Reader:
    """What one parse has found besides the cards."""

    scan: Scan
    options: ParseOptions
    start: int
    """First line of the body (after front matter and header lines)."""
    target_deck: str | None = None
    file_tags: list[str] = field(default_factory=list)
    orphans: set[int] = field(default_factory=set)
    """ID lines that no card has taken (yet: a regex style may take them)."""
    open_cards: dict[int, int] = field(default_factory=dict)
    """Q/A cards without an ID: last line of the answer -> the ``Q:`` line."""


def parse_note(
    text: str,
    *,
    path: str,
    highlight_cloze: bool = False,
    options: ParseOptions | None = None,
) -> tuple[Note, list[Diagnostic]]:
    """Parse a note. Problems come back as diagnostics; this never raises for bad input.

    ``options`` are the vault's reading options (regex styles, CurlyCloze, ...);
    ``highlight_cloze`` makes a paragraph with ``==highlights==`` a cloze card (opt-in, since
    many people highlight without meaning a card), as does ``options.highlight_cloze``.
    """
    options = options or ParseOptions()
    if highlight_cloze:
        options = replace(options, highlight_cloze=True)
    text = text.removeprefix("\ufeff")
    scan = Scan(path, split_lines(text))
    meta, body_start = _read_front_matter(scan)
    meta, body_start = _read_header_lines(scan, meta, body_start)
    scan.claimed.update(range(body_start))
    fences = _mark_code_and_math(scan, body_start)
    _mark_comments(scan, body_start)
    _check_display_math(scan, body_start)
    reader = _Reader(scan, options, body_start)
    body = range(body_start, len(scan.lines))
    frozen = read_frozen(scan, body, options.note_fields)
    find_inline(scan, body)
    cards = _read_cards(reader)
    found, taken = style_cards(scan, options.styles, body_start, curly_cloze=options.curly_cloze)
    cards.extend(found)
    cards.extend(_leftover_ids(reader, reader.orphans - taken))
    cards.sort(key=lambda c: c.line)
    cards = [
        finish(c, frozen, curly_cloze=options.curly_cloze, card_tags=options.card_tags)
        for c in cards
    ]
    if options.add_context:
        cards = _with_context(scan, cards, body_start)
    inline_tags = _read_inline_tags(scan, body_start, card_tags=options.card_tags)
    if reader.target_deck and not meta.deck:
        meta = replace(meta, deck=reader.target_deck)
    if reader.file_tags:
        meta = replace(meta, tags=unique([*meta.tags, *reader.file_tags]))
    note = Note(path, meta, tuple(cards), inline_tags, tuple(fences))
    return note, sorted(scan.diagnostics, key=lambda d: d.line)


# --- front matter and header lines -------------------------------------------------------


def _read_front_matter(scan: Scan) -> tuple[NoteMeta, int]:
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
    return _front_matter_citekey(scan, _meta_from_mapping(scan, data), data, end), end + 1


def _front_matter_citekey(scan: Scan, meta: NoteMeta, data: dict[Any, Any], end: int) -> NoteMeta:
    """``citekey: key`` (or ``"@key"``), with the line it is written on."""
    value = next((v for k, v in data.items() if str(k).lower() == "citekey"), None)
    if value is None:
        return meta
    where = (i for i in range(1, end) if is_front_matter_key_line(scan.text(i)))
    line = next(where, 0) + 1
    key = front_matter_key(value)
    if key is None:
        message = "front matter 'citekey' must be one citation key, such as jang2017categorical"
        scan.diagnostics.append(warning(scan.path, line, message))
        return meta
    return replace(meta, citekey=key, citekey_line=line)


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


def _meta_from_mapping(scan: Scan, data: dict[Any, Any]) -> NoteMeta:
    keys = {str(k).lower(): v for k, v in data.items()}
    tags = keys.get("tags", keys.get("tag"))
    if tags is not None and not isinstance(tags, str | list):
        scan.diagnostics.append(error(scan.path, 1, "front matter 'tags' must be a list"))
        tags = None
    return NoteMeta(
        title=_as_text(keys.get("title")),
        authors=tuple(_as_list(keys.get("authors", keys.get("author")))),
        tags=tuple(front_matter_tags(tags)),
        year=_as_text(keys.get("year")),
        link=_as_text(keys.get("link", keys.get("url"))),
        deck=_as_text(keys.get("deck")),
        reverse=keys.get("reverse") is True,
    )


def _read_header_lines(scan: Scan, meta: NoteMeta, start: int) -> tuple[NoteMeta, int]:
    i = start
    while i < len(scan.lines) and scan.is_blank(i):
        i += 1
    values: dict[str, str] = {}
    title_line = 0
    while i < len(scan.lines) and (m := HEADER_RE.match(scan.text(i))):
        key = m.group(1).lower().rstrip("s") if m.group(1).lower() != "tags" else "tags"
        values[key] = m.group(2)
        title_line = i + 1 if key == "title" else title_line
        i += 1
    if not values:
        return meta, start
    authors = values.get("author")
    title, citekey = split_title(values.get("title", ""))
    return (
        NoteMeta(
            title=title or meta.title,
            authors=tuple(_split_authors(authors)) if authors else meta.authors,
            tags=unique([*meta.tags, *header_tags(values.get("tags", ""))]),
            year=values.get("year") or meta.year,
            link=values.get("link") or meta.link,
            deck=values.get("deck") or meta.deck,
            reverse=meta.reverse,
            citekey=citekey or meta.citekey,
            citekey_line=title_line if citekey else meta.citekey_line,
        ),
        i,
    )


def _split_authors(value: str) -> list[str]:
    """``#Eric_Jang #Ben_Poole`` or ``Eric Jang, Ben Poole``: authors as tag-safe names."""
    if "#" in value:
        return split_tag_list(value)
    return [re.sub(r"\s+", "_", a.strip()) for a in re.split(r",|;| and ", value) if a.strip()]


# --- block structure ----------------------------------------------------------------------


def _mark_code_and_math(scan: Scan, start: int) -> list[FencedBlock]:
    """Record which lines are code or math blocks; return the fenced blocks."""
    body = "".join(["\n"] * start + scan.lines[start:])
    fences: list[FencedBlock] = []
    for token in _BLOCK_PARSER.parse(body):
        if token.map is None or token.type not in {"fence", "code_block", "math_block"}:
            continue
        first, last = token.map
        scan.code.update(range(first, last))
        if token.type == "fence":
            fences.append(FencedBlock(token.info.strip(), token.content, first + 1))
            if last >= len(scan.lines) and not _fence_closed(token):
                scan.open_fence = first
    scan.excluded.update(scan.code)
    return fences


def _fence_closed(token: Token) -> bool:
    """markdown-it maps a fence over its opening line, its content and its closing line, if any."""
    assert token.map is not None
    first, last = token.map
    content = token.content
    content_lines = content.count("\n") + (1 if content and not content.endswith("\n") else 0)
    return last - first - 1 > content_lines


def _mark_comments(scan: Scan, start: int) -> None:
    """Blank comments out of the text markers are looked for in; skip comment-only lines."""
    lines = [scan.text(i) for i in range(len(scan.lines))]
    comments = find_comments(lines, skip={*range(start), *scan.code})
    scan.bare = comments.bare
    scan.comments = comments.spans
    scan.excluded.update(comments.only)
    for line, opener in comments.unclosed:
        message = f"comment {opener!r} is never closed: the rest of the note is hidden"
        scan.diagnostics.append(warning(scan.path, line + 1, message))


def _check_display_math(scan: Scan, start: int) -> None:
    """An unclosed ``$$`` swallows the rest of a card in Anki: report where it opened."""
    opened_at: int | None = None
    for i in range(start, len(scan.lines)):
        if i in scan.excluded and opened_at is None:
            continue
        text = re.sub(r"\\\$", "", scan.bare[i])
        for _ in re.finditer(r"\$\$", text):
            opened_at = i if opened_at is None else None
        if opened_at is not None and _ends_block(scan, i + 1):
            scan.diagnostics.append(error(scan.path, opened_at + 1, "unclosed '$$' display math"))
            opened_at = None
    if opened_at is not None:
        scan.diagnostics.append(error(scan.path, opened_at + 1, "unclosed '$$' display math"))


def _ends_block(scan: Scan, i: int) -> bool:
    """Display math never runs past a card boundary or a heading."""
    if i >= len(scan.lines):
        return False
    bare = scan.bare[i]
    return bool(Q_RE.match(bare) or heading(bare) or ID_RE.match(bare))


# --- cards ------------------------------------------------------------------------------------


def _read_cards(reader: _Reader) -> list[Card]:
    """Q/A cards, cloze paragraphs, blocks and inline notes, in the order they are written."""
    scan, options = reader.scan, reader.options
    cards: list[Card] = []
    i = reader.start
    while i < len(scan.lines):
        bare = scan.bare[i]
        card: Card | None = None
        if i in scan.excluded or i in scan.claimed:
            i += 1
        elif i in scan.inline:
            cards.extend(read_inline(scan, i, options.note_fields))
            scan.claimed.add(i)
            i += 1
        elif Q_RE.match(bare):
            card, i = _read_card(reader, i)
        elif scan.is_id_like(i):
            reader.orphans.add(i)
            i += 1
        elif scan.deletes(i):
            i += 1  # taken with its ID line, by a regex card or as a card of its own
        elif A_RE.match(bare):
            scan.error(i, "'A:' with no 'Q:' above it")
            i += 1
        elif bare.strip() == "START":
            card, i = read_block(scan, i, options.note_fields)
        elif bare.strip() == "END":
            scan.diagnostics.append(warning(scan.path, i + 1, "END with no START above it"))
            scan.claimed.add(i)
            i += 1
        elif m := SETTING_RE.match(bare):
            i = _read_setting(reader, i, m.group(1), m.group(2))
        elif scan.is_blank(i) or heading(bare):
            i += 1
        else:
            card, i = _read_paragraph(reader, i)
        if card is not None:
            cards.append(card)
    return cards


def _is_boundary(scan: Scan, i: int) -> bool:
    """Lines that end a question, or an answer without an ID."""
    bare = scan.bare[i]
    return bool(Q_RE.match(bare) or heading(bare) or scan.is_marker(i) or i in scan.claimed)


def _is_structural(scan: Scan, i: int) -> bool:
    """Lines that end a paragraph: cards, IDs, headings, blocks and settings."""
    return bool(
        scan.is_blank(i)
        or _is_boundary(scan, i)
        or A_RE.match(scan.bare[i])
        or scan.is_id_like(i)
        or scan.deletes(i)
    )


def _read_paragraph(reader: _Reader, first: int) -> tuple[Card | None, int]:
    """A prose paragraph; it is a cloze card when it holds ``{{c1::...}}`` (or highlights,
    or with the ``cloze-paragraph`` style and CurlyCloze, ``{...}``)."""
    scan, options = reader.scan, reader.options
    last = first
    while last + 1 < len(scan.lines) and not (
        last + 1 in scan.excluded or _is_structural(scan, last + 1)
    ):
        last += 1
    bare = "\n".join(scan.bare[k] for k in range(first, last + 1))
    curly = options.cloze_paragraph and options.curly_cloze and has_curly_cloze(bare)
    if not (has_cloze(bare) or curly or (options.highlight_cloze and has_highlight(bare))):
        return None, last + 1
    for offset, message in cloze_problems(bare):
        scan.diagnostics.append(error(scan.path, first + 1 + offset, message))
    card_id, id_line, delete, after = _id_after(scan, last)
    scan.claimed.update(range(first, after))
    text = "\n".join(scan.content(k) for k in range(first, last + 1)).rstrip()
    card = Card(
        question=text,
        answer="",
        line=first + 1,
        answer_line=first + 1,
        end_line=last + 1,
        card_id=card_id,
        id_line=id_line,
        cloze=True,
        delete=delete,
    )
    if options.cloze_paragraph:
        card = replace(
            card,
            note_type="Cloze",
            fields=(("Text", text), ("Back Extra", "")),
            field_lines=(first + 1, first + 1),
        )
    return card, after


def _id_after(scan: Scan, last: int) -> tuple[int | None, int | None, bool, int]:
    """The ID line right after line ``last`` (``DELETE`` may come first): the ID, its
    line, whether the card is deleted, and the next line to read."""
    after = last + 1
    delete = after < len(scan.lines) and scan.deletes(after)
    if delete:
        after += 1
    if not scan.is_id_like(after):
        return None, None, False, last + 1
    return (*scan.read_id(after), delete, after + 1)


def _read_setting(reader: _Reader, i: int, name: str, inline: str) -> int:
    """``TARGET DECK`` / ``FILE TAGS``, with the value on the same line or the next one.
    The first ``TARGET DECK`` wins, as in Obsidian_to_Anki."""
    scan = reader.scan
    value, after = inline, i + 1
    if not value and after < len(scan.lines) and not scan.is_blank(after):
        value, after = scan.text(after).strip(), after + 1
    scan.claimed.update(range(i, after))
    if not value:
        scan.error(i, f"{name} is not followed by a value")
    elif name == "TARGET DECK":
        reader.target_deck = reader.target_deck or value
    else:
        reader.file_tags.extend(split_tag_list(value))
    return after


def _read_card(reader: _Reader, q: int) -> tuple[Card | None, int]:
    """Read the card whose ``Q:`` is on line index ``q``; return it and the next line to scan."""
    scan = reader.scan
    n = len(scan.lines)
    a = q + 1
    while a < n and (a in scan.excluded or not A_RE.match(scan.bare[a])):
        if a not in scan.excluded and (
            _is_boundary(scan, a)
            or scan.is_id_like(a)
            or scan.deletes(a)
            or _blank_before_other(scan, a)
        ):
            break
        a += 1
    if a >= n or not A_RE.match(scan.bare[a]) or a in scan.excluded:
        scan.error(q, "'Q:' with no 'A:' after it")
        return None, max(a, q + 1)

    end = a  # last line of the answer
    j = a + 1
    card_id: int | None = None
    id_line: int | None = None
    delete = False
    while j < n:
        bare = scan.bare[j]
        if j in scan.excluded:
            if j == scan.open_fence:  # the card and any ID after it would end inside the code
                message = "code fence in a card is never closed (it runs to the end of the note)"
                scan.error(j, message)
            end = j
        elif scan.is_id_like(j):
            card_id, id_line = scan.read_id(j)
            j += 1
            break
        elif scan.deletes(j):
            delete = True
        elif heading(bare) and not scan.is_blank(j - 1) and _id_follows(scan, j):
            end = j  # a heading right under the answer's text, with the card's ID below
        elif _is_boundary(scan, j) or (scan.is_blank(j) and not _id_follows(scan, j)):
            break
        elif not scan.is_blank(j):
            end = j
        j += 1

    tags: tuple[str, ...] = ()
    if reader.options.qa_basic and end > a and (m := _QA_TAGS_RE.match(scan.bare[end])):
        tags = tuple(split_tag_list(scan.content(end)[m.start(1) :]))
        end -= 1
    question = _field(scan, q, a - 1, prefix_len=2)
    answer = _field(scan, a, end, prefix_len=2)
    if not question.strip():
        scan.diagnostics.append(warning(scan.path, q + 1, "card has an empty question"))
    scan.claimed.update(range(q, j))
    if card_id is None and id_line is None:
        reader.open_cards[end] = q
    card = Card(
        question=question,
        answer=answer,
        line=q + 1,
        answer_line=a + 1,
        end_line=end + 1,
        card_id=card_id,
        id_line=id_line,
        tags=tags,
        delete=delete,
    )
    if reader.options.qa_basic:
        card = replace(
            card,
            note_type="Basic",
            fields=(("Front", question), ("Back", answer)),
            field_lines=(q + 1, a + 1),
        )
    return card, j


def _blank_before_other(scan: Scan, i: int) -> bool:
    """A blank line inside a question ends it unless the ``A:`` comes next."""
    if not scan.is_blank(i):
        return False
    k = i
    while k < len(scan.lines) and scan.is_blank(k):
        k += 1
    return k >= len(scan.lines) or not A_RE.match(scan.bare[k])


def _id_follows(scan: Scan, i: int) -> bool:
    """Does an ID close this card before the next card, marker, or heading that follows a
    blank line?

    This lets an answer that has an ID span blank lines, and headings written right under
    its text, while an answer without one ends at its first blank line or heading.
    """
    for k in range(i, len(scan.lines)):
        if k in scan.excluded:
            continue
        bare = scan.bare[k]
        if scan.is_id_like(k):
            return True
        if Q_RE.match(bare) or A_RE.match(bare) or scan.is_marker(k) or k in scan.claimed:
            return False
        if heading(bare) and k > i and scan.is_blank(k - 1):
            return False
    return False


def _field(scan: Scan, first: int, last: int, *, prefix_len: int) -> str:
    """Join the lines of a question or answer, dropping the ``Q:``/``A:`` marker."""
    lines = [scan.content(k) for k in range(first, last + 1)]
    lines[0] = lines[0][prefix_len:]
    if lines[0].startswith((" ", "\t")):
        lines[0] = lines[0][1:]
    return "\n".join(lines).rstrip()


def _leftover_ids(reader: _Reader, lines: set[int]) -> list[Card]:
    """ID lines no card took: ``DELETE`` above one makes a card that only deletes its note
    (the plugin's way to delete a note whose text is gone); a plain ``ID: N`` line is
    just text; any other is an error."""
    scan = reader.scan
    cards: list[Card] = []
    for k in sorted(lines):
        if scan.deletes(k - 1) and k - 1 not in scan.claimed:
            card_id, id_line = scan.read_id(k)
            cards.append(Card("", "", k, k, k + 1, card_id, id_line, delete=True))
        elif not scan.bare[k].lstrip().startswith("<"):
            continue  # plain "ID: 12": prose, unless it closes a card
        elif ID_RE.match(scan.bare[k]) is None:
            scan.read_id(k)  # reports it as malformed
        elif (cut := _heading_cut(reader, k)) is not None:
            h, q = cut
            scan.error(
                h,
                f"this heading ends the card at line {q + 1} before its ID at line {k + 1} "
                "(a heading after a blank line ends an answer: remove the blank line above "
                "the heading, or move the ID above it)",
            )
        else:
            scan.error(k, "ID comment with no card above it")
    return cards


def _heading_cut(reader: _Reader, k: int) -> tuple[int, int] | None:
    """(heading line, ``Q:`` line) when a heading is what separates the ID on line ``k``
    from the Q/A card above it."""
    scan = reader.scan
    ends = [end for end in reader.open_cards if end < k]
    if not ends:
        return None
    end = max(ends)
    between = range(end + 1, k)
    if any(i in scan.claimed and not scan.is_blank(i) for i in between):
        return None
    headings = [i for i in between if i not in scan.excluded and heading(scan.bare[i])]
    return (headings[0], reader.open_cards[end]) if headings else None


# --- context and tags -----------------------------------------------------------------------


def _with_context(scan: Scan, cards: list[Card], start: int) -> list[Card]:
    """Each card with the headings above it, outermost first: a new heading replaces every
    heading of its level or deeper, as Obsidian_to_Anki's Add Context does."""
    headings = [
        (i, found)
        for i in range(start, len(scan.lines))
        if i not in scan.excluded and (found := heading(scan.bare[i])) is not None
    ]
    out: list[Card] = []
    for card in cards:
        stack: list[tuple[int, str]] = []
        for i, (level, text) in headings:
            if i >= card.line - 1:
                break
            stack = [(lv, t) for lv, t in stack if lv < level] + [(level, text)]
        out.append(replace(card, context=tuple(t for _, t in stack if t)))
    return out


def _read_inline_tags(scan: Scan, start: int, *, card_tags: bool) -> tuple[str, ...]:
    """``#tags`` of the prose. With ``card_tags``, those inside a card are the card's own
    (see :func:`~paperdeck.notes.plugin.finish`), not the note's."""
    tags: list[str] = []
    for i in range(start, len(scan.lines)):
        if i in scan.excluded or heading(scan.bare[i]) or (card_tags and i in scan.claimed):
            continue
        line = scan.bare[i]
        hidden = scan.syntax.get(i, []) + (scan.inline.get(i, []) if card_tags else [])
        for a, b in hidden:
            line = line[:a] + " " * (b - a) + line[b:]
        tags.extend(find_tags(line))
    return unique(tags)


def card_ids(notes: Sequence[Note]) -> dict[int, list[tuple[str, int]]]:
    """Every card ID in the vault with the places it appears (for duplicate checks)."""
    places: dict[int, list[tuple[str, int]]] = {}
    for note in notes:
        for card in note.cards:
            if card.card_id is not None and card.id_line is not None:
                places.setdefault(card.card_id, []).append((note.path, card.id_line))
    return places
