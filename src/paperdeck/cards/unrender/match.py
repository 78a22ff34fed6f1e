r"""The note's blocks matched against Anki's, so that what Anki did not change keeps the
note's own bytes: an unedited field, block or line never changes the note.

An unchanged block is the note's text as it is. In an edited block the lines Anki did not
change are the note's, and a changed line is the note's line with Anki's change made to it
(its ``_em_``, double spaces or ``%%comments%%`` stay); a new line takes the note's
indentation and list markers (``\t* item``, ``1) item``). Only what Anki changed is written
anew, by :class:`~paperdeck.cards.unrender.markdown_out.MarkdownWriter`.
"""

from __future__ import annotations

import difflib
import re
from dataclasses import dataclass

from paperdeck.cards.render import parse_field
from paperdeck.cards.unrender.cloze_highlights import clozes_to_highlights, highlight_numbers
from paperdeck.cards.unrender.markdown_out import MarkdownWriter, alternations
from paperdeck.cards.unrender.note_spellings import apply_edit
from paperdeck.cards.unrender.results import LossyError
from paperdeck.cards.unrender.roundtrip import RoundTrip
from paperdeck.cards.unrender.structure import El
from paperdeck.notes.cloze import highlights_to_clozes

BLOCKS, LINES, CHARS = 0, 1, 2
"""How much of an edited block keeps the note's own text: none, unchanged lines, or all
but the characters Anki changed."""
_STRUCTURE_RE = re.compile(r"^[ \t]*(?:(?:[-*+]|[0-9]{1,9}[.)]|>)(?:[ \t]+|$))*")


@dataclass
class _SourceBlock:
    """Lines ``start:end`` of the field's Markdown and the blocks they render to."""

    start: int
    end: int
    blocks: tuple[El, ...] = ()


@dataclass
class _Piece:
    """A stretch of the Markdown being written: the note's block ``source``, or new text
    standing where the note's block ``at`` was (``None``: inserted)."""

    lines: list[str]
    at: int | None
    first: El | None = None
    last: El | None = None


def aligned(
    source: str, writer: MarkdownWriter, trip: RoundTrip, *, refine: int, clozes: bool
) -> str:
    """The note's Markdown with the blocks and lines Anki changed written anew: with
    ``refine`` (:data:`BLOCKS`, :data:`LINES` or :data:`CHARS`) of an edited block kept,
    and with ``clozes``, a cloze question's clozes that were highlights written back so."""
    lines = source.split("\n") if source else []
    rendered = "\n".join(lines)
    if trip.highlights_as_clozes:
        rendered = highlights_to_clozes(rendered)
    rendered_lines = rendered.split("\n") if lines else []
    blocks = _source_blocks(rendered_lines) if lines else []
    for block in blocks:
        text = "\n".join(rendered_lines[block.start : block.end])
        try:
            block.blocks = trip.structure(text)
        except LossyError:
            block.blocks = (El("#unreadable", (("at", str(block.start)),)),)
    ours = [(i, b) for i, block in enumerate(blocks) for b in block.blocks]
    matcher = difflib.SequenceMatcher(None, [b for _, b in ours], trip.target, autojunk=False)
    equal: set[int] = set()
    for tag, i1, i2, _, _ in matcher.get_opcodes():
        if tag == "equal":
            equal.update(range(i1, i2))
    kept = {
        i
        for i, block in enumerate(blocks)
        if block.blocks and all(k in equal for k, (j, _) in enumerate(ours) if j == i)
    }
    generated = highlight_numbers(source) if clozes and trip.highlights_as_clozes else set()
    pieces: list[_Piece] = []
    placed: set[int] = set()

    def place_until(index: int) -> None:
        for i in range(index):
            if i not in placed and (not blocks[i].blocks or i in kept):
                placed.add(i)
                ir = blocks[i].blocks
                piece = _Piece(lines[blocks[i].start : blocks[i].end], i)
                piece.first, piece.last = (ir[0], ir[-1]) if ir else (None, None)
                pieces.append(piece)

    alternate = alternations(trip.target)

    def new(j: int, at: int | None) -> None:
        block = trip.target[j]
        text = clozes_to_highlights(writer.block(block, alternate=alternate[j]), generated)
        if at is not None:
            place_until(at)
            placed.add(at)
            if refine > BLOCKS and len(blocks[at].blocks) == 1:
                text = "\n".join(_refined(blocks[at], text, lines, writer, refine))
        pieces.append(_Piece(text.split("\n"), at, block, block))

    for tag, i1, i2, j1, j2 in matcher.get_opcodes():
        if tag == "equal":
            for k, j in zip(range(i1, i2), range(j1, j2), strict=True):
                index = ours[k][0]
                if index in kept:
                    place_until(index + 1)
                else:
                    new(j, None)
            continue
        for offset, j in enumerate(range(j1, j2)):
            k = i1 + offset
            pair = ours[k][0] if k < i2 else None
            if pair in placed or (pair is not None and ours[k][1].tag != trip.target[j].tag):
                pair = None
            new(j, pair)
    place_until(len(blocks))
    return _join(pieces, blocks, lines, writer)


def _source_blocks(lines: list[str]) -> list[_SourceBlock]:
    """Top-level blocks by line, with every line that is neither blank nor in a block
    (a whole-line ``%%comment%%``) as a block of its own, so it is never lost."""
    found: list[_SourceBlock] = []
    for token in parse_field("\n".join(lines)):
        if token.level == 0 and token.nesting >= 0 and token.map:
            start, end = token.map
            while end > start + 1 and not lines[end - 1].strip():
                end -= 1
            found.append(_SourceBlock(start, end))
    covered = {i for b in found for i in range(b.start, b.end)}
    for i, line in enumerate(lines):
        if line.strip() and i not in covered:
            found.append(_SourceBlock(i, i + 1))
    return sorted(found, key=lambda b: b.start)


def _refined(
    block: _SourceBlock, text: str, lines: list[str], writer: MarkdownWriter, refine: int
) -> list[str]:
    """The new block's lines, with each line that Anki did not change as the note had
    it; on a line it changed, with :data:`CHARS` the change made to the note's line
    (where it maps onto it), else the note's indentation and list markers kept."""
    try:
        canon = writer.block(block.blocks[0]).split("\n")
    except LossyError:
        return text.split("\n")
    written = text.split("\n")
    source = lines[block.start : block.end]
    if len(canon) != len(source):
        return written
    out: list[str] = []
    styles = _StructureStyle(canon, source)
    matcher = difflib.SequenceMatcher(None, canon, written, autojunk=False)
    for tag, i1, i2, j1, j2 in matcher.get_opcodes():
        if tag == "equal":
            out.extend(source[i1:i2])
        elif tag == "replace" and i2 - i1 == j2 - j1:
            for was, now, note in zip(canon[i1:i2], written[j1:j2], source[i1:i2], strict=True):
                edited = apply_edit(note, was, now) if refine >= CHARS else None
                out.append(edited if edited is not None else styles.line(now))
        else:
            out.extend(styles.line(now) for now in written[j1:j2])
    return out


def _join(
    pieces: list[_Piece], blocks: list[_SourceBlock], lines: list[str], writer: MarkdownWriter
) -> str:
    """The pieces in order: the note's own lines between two of its blocks that stay
    side by side, else the separator the writer would put there."""
    out = lines[: blocks[0].start] if blocks else []
    for k, piece in enumerate(pieces):
        if k:
            before = pieces[k - 1]
            if before.at is not None and piece.at == before.at + 1:
                out.extend(lines[blocks[before.at].end : blocks[piece.at].start])
            elif writer.separator(before.last, piece.first) == "\n\n":
                out.append("")
        out.extend(piece.lines)
    out.extend(lines[blocks[-1].end :] if blocks else [])
    return "\n".join(out)


class _StructureStyle:
    """How the note writes the indentation and list or quote markers of a block, learnt
    from its lines beside the converter's own: ``  - `` is ``\\t* ``, ``3. `` is ``3) ``."""

    def __init__(self, canon: list[str], source: list[str]) -> None:
        self.styles: dict[str, str] = {}
        for ours, theirs in zip(canon, source, strict=True):
            mine, noted = _STRUCTURE_RE.match(ours), _STRUCTURE_RE.match(theirs)
            if mine and noted and mine.group(0).strip():
                key = re.sub("[0-9]+", "#", mine.group(0))
                self.styles.setdefault(key, re.sub("[0-9]+", "#", noted.group(0)))

    def line(self, written: str) -> str:
        """A new or rewritten line in the note's style (as written where it has none)."""
        found = _STRUCTURE_RE.match(written)
        assert found
        style = self.styles.get(re.sub("[0-9]+", "#", found.group(0)))
        if style is None:
            return written
        number = re.search("[0-9]+", found.group(0))
        return style.replace("#", number.group(0) if number else "") + written[found.end() :]
