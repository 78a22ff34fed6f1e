r"""Inline HTML read into the card structure: emphasis, code, links, wikilinks, embeds,
images, and the formulas (``\(..\)``, ``\[..\]``) and ``[sound:...]`` found in the text.

Anki's editor writes a line as a ``<div>`` and emphasis as ``<b>``/``<i>``; both are read as
what paperdeck writes (line edges, ``strong``/``em``), so they compare equal to it.
"""

from __future__ import annotations

import re
from collections.abc import Iterator, Sequence

from markdown_it.common.normalize_url import normalizeLink

from paperdeck.cards.unrender.html_tree import (
    BLOCK_TAGS,
    HtmlElement,
    checked_attrs,
    code_text,
    has_block,
    is_plain_div,
    plain_text,
)
from paperdeck.cards.unrender.results import LossyError
from paperdeck.cards.unrender.structure import (
    BR,
    NBSP,
    RAW_INLINE_TAGS,
    STAND_IN_BR,
    STAND_IN_LINE,
    STAND_IN_OBJECT,
    El,
    Math,
    Node,
    Sound,
)
from paperdeck.cards.unrender.tex import normal_tex


class LineEdge:
    """Where a ``<div>`` starts or ends: a line break, unless the line is still empty."""


LINE_EDGE = LineEdge()
Item = Node | LineEdge

_EMPHASIS = {"b": "strong", "strong": "strong", "i": "em", "em": "em", "s": "s"}
_EMPHASIS |= {"strike": "s", "del": "s", "mark": "mark"}
_MATH_RE = re.compile(r"\\\((.*?)\\\)|\\\[(.*?)\\\]", re.DOTALL)
_SOUND_RE = re.compile(r"\[sound:([^\]\[]+)\]")


def inline_items(children: Sequence[HtmlElement | str], *, lines: bool, cloze: bool) -> list[Item]:
    """Inline HTML as items, formulas and sounds found in the text (across line breaks);
    ``cloze`` spaces ``}}`` in math, as the renderer does."""
    items: list[Item] = []
    for child in children:
        if isinstance(child, str):
            items.append(child)
        elif child.tag == "br":
            checked_attrs(child, frozenset())
            items.append(BR)
        elif child.tag == "div" and is_plain_div(child) and not has_block(child):
            if not lines:
                raise LossyError("a line (<div>) inside formatting")
            inner = inline_items(child.children, lines=True, cloze=cloze)
            items.extend((LINE_EDGE, *inner, LINE_EDGE))
        elif child.tag == "span" and not child.attrs.get("class", "").strip():
            checked_attrs(child, frozenset())
            items.extend(inline_items(child.children, lines=lines, cloze=cloze))
        else:
            items.append(_inline_element(child, cloze))
    return _atoms(items, cloze)


def _inline_element(raw: HtmlElement, cloze: bool) -> Node:
    tag = raw.tag
    if tag in _EMPHASIS or tag in RAW_INLINE_TAGS:
        checked_attrs(raw, frozenset({"title"}) if tag in ("abbr", "dfn", "q") else frozenset())
        inner = inline_items(raw.children, lines=False, cloze=cloze)
        if any(isinstance(i, LineEdge) for i in inner):
            raise LossyError(f"a line (<div>) inside <{tag}>")
        return El(_EMPHASIS.get(tag, tag), (), tuple(i for i in inner if isinstance(i, Node)))
    if tag == "code":
        checked_attrs(raw, frozenset())
        return El("code", (), (code_text(raw).replace("\n", " ").replace(NBSP, " "),))
    if tag == "a":
        attrs = checked_attrs(raw, frozenset({"href", "title", "class"}), ("wikilink",))
        if attrs.get("class") == "wikilink":
            if "title" in attrs:
                raise LossyError("a wikilink with a title")
            return El("wikilink", (("href", attrs.get("href", "")),), (plain_text(raw),))
        inner = inline_items(raw.children, lines=False, cloze=cloze)
        if "href" in attrs:  # as markdown-it writes it: ``a b`` is ``a%20b``
            attrs["href"] = normalizeLink(attrs["href"])
        kept = tuple(sorted((k, v) for k, v in attrs.items() if k != "class"))
        return El("a", kept, tuple(i for i in inner if isinstance(i, Node)))
    if tag == "span":
        kinds = {"wikilink": "wikilink", "missing-media": "missing", "embed": "embed"}
        attrs = checked_attrs(raw, frozenset({"class"}), tuple(kinds))
        return El(kinds[attrs["class"].strip()], (), (plain_text(raw),))
    if tag == "img":
        attrs = checked_attrs(raw, frozenset({"src", "alt", "width", "height", "title"}))
        if attrs.get("alt") == "":
            del attrs["alt"]  # ``alt=""`` is no alt
        return El("img", tuple(sorted(attrs.items())))
    if tag in ("#comment", "#declaration"):
        raise LossyError("an HTML comment in the field")
    if tag in BLOCK_TAGS:
        raise LossyError(f"<{tag}> inside a line")
    raise LossyError(f"<{tag}>, which paperdeck does not write")


def _atoms(items: list[Item], cloze: bool) -> list[Item]:
    """Formulas (``\\(..\\)``, ``\\[..\\]``, across line breaks) and ``[sound:...]`` in text."""
    text = "".join(i if isinstance(i, str) else "" for i in items)
    if "\\(" not in text and "\\[" not in text and "[sound:" not in text:
        return items
    parts: list[str] = []
    objects: list[Item] = []
    for item in items:
        if isinstance(item, str):
            parts.append(item)
        elif item == BR:
            parts.append(STAND_IN_BR)
        elif isinstance(item, LineEdge):
            parts.append(STAND_IN_LINE)
        else:
            parts.append(STAND_IN_OBJECT)
            objects.append(item)
    joined = "".join(parts)
    pending = iter(objects)
    out: list[Item] = []
    end = 0
    for match in _MATH_RE.finditer(joined):
        display = match.group(2) is not None
        body = match.group(2) if display else match.group(1)
        if STAND_IN_OBJECT in body:
            raise LossyError("a formula split by formatting")
        out.extend(_unjoin(joined[end : match.start()], pending))
        tex = body.replace(STAND_IN_BR, "\n").replace(STAND_IN_LINE, "\n")
        out.append(Math(normal_tex(tex, cloze), display))
        end = match.end()
    out.extend(_unjoin(joined[end:], pending))
    return out


def _unjoin(text: str, objects: Iterator[Item]) -> list[Item]:
    out: list[Item] = []
    for piece in re.split(f"([{STAND_IN_BR}{STAND_IN_LINE}{STAND_IN_OBJECT}])", text):
        if piece == STAND_IN_BR:
            out.append(BR)
        elif piece == STAND_IN_LINE:
            out.append(LINE_EDGE)
        elif piece == STAND_IN_OBJECT:
            out.append(next(objects))
        elif piece:
            last = 0
            for match in _SOUND_RE.finditer(piece):
                out.append(piece[last : match.start()])
                out.append(Sound(match.group(1)))
                last = match.end()
            out.append(piece[last:])
    return [i for i in out if i != ""]
