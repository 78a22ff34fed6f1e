"""Tags added in Anki, written into the note's own tag list, every other byte kept.

A tag goes where the note keeps its tags: the ``Tags:`` header line (as ``#tag``), or the
front matter's ``tags:`` (an inline list, words, or a block list). A note with header
lines but no ``Tags:`` line gets one after them; front matter without ``tags:`` gets one
before its closing ``---``. Anki's nesting ``a::b`` is Obsidian's ``a/b``. The new text is
parsed again and must read as the same cards with exactly the added tags; otherwise
nothing is written and the tags stay in Anki only.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Sequence

from paperdeck.notes.model import Note
from paperdeck.notes.scan import split_lines
from paperdeck.notes.tags import anki_tag

_HEADER_RE = re.compile(r"^(title|authors?|tags|year|link|deck)[ \t]*:", re.IGNORECASE)
_TAGS_HEADER_RE = re.compile(r"^tags[ \t]*:", re.IGNORECASE)
_FM_TAGS_RE = re.compile(r"^tags[ \t]*:[ \t]*(.*?)[ \t]*$")
_ITEM_RE = re.compile(r"^([ \t]*-[ \t]+)")
_OBSIDIAN_TAG_RE = re.compile(r"^[^\s#,\[\]{}\"'`|]*[^\s#,\[\]{}\"'`|0-9][^\s#,\[\]{}\"'`|]*$")


def obsidian_tag(anki: str) -> str | None:
    """Anki's tag as Obsidian writes it (``a::b`` is ``a/b``), or ``None`` if Obsidian has
    no such tag (a space, a comma, only digits...)."""
    tag = anki.replace("::", "/")
    return tag if _OBSIDIAN_TAG_RE.match(tag) and "//" not in tag else None


def with_tags(text: str, anki_tags: Sequence[str], reparse: Callable[[str], Note]) -> str | None:
    """``text`` with ``anki_tags`` added to the note's tags, or ``None`` if they cannot be."""
    tags = [obsidian_tag(t) for t in anki_tags]
    if not tags or any(t is None for t in tags):
        return None
    wanted = [t for t in tags if t is not None]
    lines = split_lines(text)
    changed = _into_front_matter(lines, wanted) if _front_matter_end(lines) else None
    if changed is None:
        changed = _into_header(lines, wanted)
    if changed is None:
        return None
    new_text = "".join(changed)
    before, after = reparse(text), reparse(new_text)
    added = {anki_tag(t).casefold() for t in wanted}
    had = {anki_tag(t).casefold() for t in before.meta.tags}
    now = {anki_tag(t).casefold() for t in after.meta.tags}
    if _said(after) != _said(before) or now != had | added:
        return None
    return new_text


def _said(note: Note) -> list[tuple[object, ...]]:
    """What the note's cards say, wherever their lines now are."""
    return [
        (c.card_id, c.question, c.answer, c.tags, c.note_type, c.fields, c.cloze, c.reverse)
        for c in note.cards
    ]


def _ending(line: str) -> str:
    return line[len(line.rstrip("\r\n")) :]


def _front_matter_end(lines: Sequence[str]) -> int | None:
    """The index of the closing ``---`` of the front matter, if the note has one."""
    if not lines or lines[0].lstrip("\ufeff").rstrip() != "---":
        return None
    for index in range(1, len(lines)):
        if lines[index].rstrip() in ("---", "..."):
            return index
    return None


def _into_front_matter(lines: list[str], tags: Sequence[str]) -> list[str] | None:
    end = _front_matter_end(lines)
    assert end is not None
    newline = _ending(lines[0]) or "\n"
    for index in range(1, end):
        found = _FM_TAGS_RE.match(lines[index].rstrip("\r\n"))
        if found is None:
            continue
        value, body = found[1], lines[index].rstrip("\r\n")
        cut = len(body.rstrip())  # the spaces ending the line stay after the new tags
        if value.startswith("[") and value.endswith("]"):
            inner = value[1:-1].strip()
            joined = ", ".join(tags)
            new_value = f"[{inner}, {joined}]" if inner else f"[{joined}]"
            head = body[: body.index(value)]
            lines[index] = head + new_value + body[cut:] + _ending(lines[index])
            return lines
        if value:
            sep = ", " if "," in value else " "
            lines[index] = body[:cut] + sep + sep.join(tags) + _ending(lines[index])
            return lines
        items = index + 1
        while items < end and _ITEM_RE.match(lines[items]):
            items += 1
        if items == index + 1:
            return None  # ``tags:`` with nothing after it: not a shape to guess at
        marker = _ITEM_RE.match(lines[items - 1])
        assert marker is not None
        ending = _ending(lines[items - 1]) or newline
        return [*lines[:items], *(marker[1] + t + ending for t in tags), *lines[items:]]
    return [*lines[:end], f"tags: [{', '.join(tags)}]{newline}", *lines[end:]]


def _into_header(lines: list[str], tags: Sequence[str]) -> list[str] | None:
    last = -1
    for index, line in enumerate(lines):
        if not _HEADER_RE.match(line.lstrip("\ufeff")):
            break
        last = index
        if _TAGS_HEADER_RE.match(line.lstrip("\ufeff")):
            body = line.rstrip("\r\n")
            kept = body.rstrip()
            added = " ".join(f"#{t}" for t in tags)
            lines[index] = f"{kept} {added}{body[len(kept) :]}{_ending(line)}"
            return lines
    if last < 0:
        return None
    ending = _ending(lines[last]) or "\n"
    if not _ending(lines[last]):
        lines[last] += ending
    header = "Tags: " + " ".join(f"#{t}" for t in tags) + ending
    return [*lines[: last + 1], header, *lines[last + 1 :]]
