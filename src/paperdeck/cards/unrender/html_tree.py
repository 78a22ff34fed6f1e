"""Anki's HTML read into a small element tree (stdlib :mod:`html.parser`), with the checks
every reader of it makes: an attribute, class or tag paperdeck does not write is lossy.

Anki and the sanitizer both write well-formed HTML, so a forgiving tree is enough; no
HTML library is needed.
"""

from __future__ import annotations

import unicodedata
from collections.abc import Sequence
from dataclasses import dataclass, field
from html.parser import HTMLParser

from paperdeck.cards.unrender.results import LossyError
from paperdeck.cards.unrender.structure import PRIVATE_USE_RE, WHITE_SPACE, WHITE_SPACE_RE

_VOID = frozenset({"area", "base", "br", "col", "embed", "hr", "img", "input", "link", "meta"})
_VOID |= {"source", "track", "wbr"}
BLOCK_TAGS = frozenset(
    {"p", "ul", "ol", "pre", "table", "blockquote", "hr", "details", "h1", "h2", "h3"}
    | {"h4", "h5", "h6", "div", "li", "summary", "thead", "tbody", "tr", "td", "th"}
)


@dataclass
class HtmlElement:
    """An element as written: its tag, attributes and children (text or elements)."""

    tag: str
    attrs: dict[str, str]
    children: list[HtmlElement | str] = field(default_factory=list)


class _TreeBuilder(HTMLParser):
    """A forgiving element tree: Anki and the sanitizer both write well-formed HTML."""

    def __init__(self) -> None:
        super().__init__(convert_charrefs=True)
        self.root = HtmlElement("#root", {})
        self.stack = [self.root]

    def _add(self, node: HtmlElement | str) -> None:
        children = self.stack[-1].children
        if isinstance(node, str) and children and isinstance(children[-1], str):
            children[-1] += node
        else:
            children.append(node)

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        element = HtmlElement(tag, {name: value or "" for name, value in attrs})
        self._add(element)
        if tag not in _VOID:
            self.stack.append(element)

    def handle_startendtag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        self._add(HtmlElement(tag, {name: value or "" for name, value in attrs}))

    def handle_endtag(self, tag: str) -> None:
        for depth in range(len(self.stack) - 1, 0, -1):
            if self.stack[depth].tag == tag:
                del self.stack[depth:]
                return

    def handle_data(self, data: str) -> None:
        self._add(data)

    def handle_comment(self, data: str) -> None:
        self._add(HtmlElement("#comment", {}))

    def handle_decl(self, decl: str) -> None:
        self._add(HtmlElement("#declaration", {}))

    def handle_pi(self, data: str) -> None:
        self._add(HtmlElement("#declaration", {}))

    def unknown_decl(self, data: str) -> None:
        self._add(HtmlElement("#declaration", {}))


def parse_html(html: str) -> HtmlElement:
    """The field's HTML as a tree under a ``#root`` element, in Unicode NFC."""
    if PRIVATE_USE_RE.search(html):
        raise LossyError("the field holds private-use characters")
    builder = _TreeBuilder()
    builder.feed(unicodedata.normalize("NFC", html))  # as Anki stores every field
    builder.close()
    return builder.root


def is_blank(node: HtmlElement | str) -> bool:
    return isinstance(node, str) and not node.strip(WHITE_SPACE)


def is_plain_div(raw: HtmlElement) -> bool:
    """A ``<div>`` as Anki's editor writes a line: no attributes (or empty ones)."""
    return raw.tag == "div" and all(
        k in ("style", "class") and not v.strip() for k, v in raw.attrs.items()
    )


def has_block(raw: HtmlElement) -> bool:
    return any(
        isinstance(c, HtmlElement)
        and (c.tag in BLOCK_TAGS - {"div"} or (c.tag == "div" and has_block(c)))
        for c in raw.children
    )


def checked_attrs(
    raw: HtmlElement, allowed: frozenset[str], classes: Sequence[str] = ()
) -> dict[str, str]:
    """The element's attributes, checked: anything paperdeck does not write is lossy.

    ``classes`` lists the class names allowed (one ending in ``-`` is a prefix)."""
    attrs = {k: v for k, v in raw.attrs.items() if not (k in ("style", "class") and not v.strip())}
    extra = sorted(set(attrs) - allowed)
    if "style" in extra:
        raise LossyError(f"styled text (<{raw.tag} style={attrs['style']!r}>)")
    if extra:
        raise LossyError(f"<{raw.tag}> with {', '.join(extra)}")
    if "class" in attrs:
        for name in attrs["class"].split():
            if not any(name == w or (w.endswith("-") and name.startswith(w)) for w in classes):
                raise LossyError(f'<{raw.tag} class="{attrs["class"]}">')
    return attrs


def plain_text(raw: HtmlElement) -> str:
    """The text of an element that must hold nothing but text (a wikilink's label)."""
    if any(isinstance(c, HtmlElement) for c in raw.children):
        raise LossyError(f"formatting inside <{raw.tag} class={raw.attrs.get('class')!r}>")
    text = "".join(c for c in raw.children if isinstance(c, str))
    return WHITE_SPACE_RE.sub(" ", text).strip(" ")


def code_text(raw: HtmlElement) -> str:
    """The text of code, Pygments' highlighting spans and ``<br>`` lines read through."""
    parts: list[str] = []
    for child in raw.children:
        if isinstance(child, str):
            parts.append(child)
        elif child.tag == "br":
            parts.append("\n")
        elif child.tag in ("span", "code"):
            checked_attrs(child, frozenset({"class"}), ("pd-hl-",))
            parts.append(code_text(child))
        else:
            raise LossyError(f"<{child.tag}> inside code")
    return "".join(parts)
