"""Anki's HTML read into the card structure, block by block: paragraphs and lines, lists,
code, tables, headings, quotes and ``<details>``.

This is where two HTMLs are compared (:func:`card_structure`): what Anki's editor writes
(``<div>`` lines, ``<br><br>``, ``&nbsp;``) and what paperdeck renders come out the same
wherever a reader sees the same card.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

from paperdeck.cards.unrender.html_tree import (
    BLOCK_TAGS,
    HtmlElement,
    checked_attrs,
    code_text,
    has_block,
    is_blank,
    is_plain_div,
    parse_html,
)
from paperdeck.cards.unrender.read_inline import Item, LineEdge, inline_items
from paperdeck.cards.unrender.results import LossyError
from paperdeck.cards.unrender.structure import BR, NBSP, WHITE_SPACE, El, Math, Node
from paperdeck.cards.unrender.whitespace import tidy


def card_structure(html: str, *, cloze: bool = False) -> tuple[El, ...]:
    """A field's HTML as the blocks a reader sees: what two HTMLs must share to show the
    same card (see the package's *Normalisations*); raises ``ValueError`` for HTML this
    package does not read (the reason is the message)."""
    try:
        return read_card(html, cloze=cloze)
    except LossyError as exc:
        raise ValueError(str(exc)) from exc


def read_card(html: str, *, cloze: bool) -> tuple[El, ...]:
    """:func:`card_structure`, raising :class:`LossyError` for the converter."""
    return _Reader(cloze).root(html)


@dataclass
class _Reader:
    """HTML to the normalised structure; ``cloze`` spaces ``}}`` in math, as the renderer."""

    cloze: bool

    def root(self, html: str) -> tuple[El, ...]:
        raw = parse_html(html)
        children = list(raw.children)
        while children and is_blank(children[-1]):
            children.pop()
        last = children[-1] if children else None
        if (
            isinstance(last, HtmlElement)
            and last.tag == "div"
            and last.attrs.get("class") == "context"
        ):
            children.pop()  # the heading trail paperdeck appends to a first field
        return tuple(self.blocks(children))

    # Blocks

    def blocks(self, children: Sequence[HtmlElement | str]) -> list[El]:
        out: list[El] = []
        run: list[HtmlElement | str] = []

        def flush() -> None:
            items = self.inline_items(run, lines=True)
            out.extend(El("p", (), p) for p in self.paragraphs(items, split=True))
            run.clear()

        for child in children:
            if isinstance(child, HtmlElement) and (
                (child.tag in BLOCK_TAGS and child.tag != "div")
                or (child.tag == "div" and (has_block(child) or not is_plain_div(child)))
            ):
                flush()
                out.extend(self.block(child))
            else:
                run.append(child)
        flush()
        return out

    def block(self, raw: HtmlElement) -> list[El]:
        tag = raw.tag
        if tag == "div":
            checked_attrs(raw, frozenset())  # a classed div (paperdeck's trail misplaced)
            return self.blocks(raw.children)
        if tag == "p":
            checked_attrs(raw, frozenset())
            items = self.inline_items(raw.children, lines=True)
            return [El("p", (), p) for p in self.paragraphs(items, split=True)]
        if tag in ("h1", "h2", "h3", "h4", "h5", "h6"):
            checked_attrs(raw, frozenset())
            return [El(tag, (), self.line_content(raw.children))]
        if tag in ("ul", "ol"):
            return [self.list_block(raw)]
        if tag == "blockquote":
            checked_attrs(raw, frozenset())
            return [El("blockquote", (), tuple(self.blocks(raw.children)))]
        if tag == "pre":
            return [self.code_block(raw)]
        if tag == "table":
            return [self.table(raw)]
        if tag == "hr":
            checked_attrs(raw, frozenset())
            return [El("hr")]
        if tag == "details":
            return [self.details(raw)]
        raise LossyError(f"<{tag}> where paperdeck writes none")

    def list_block(self, raw: HtmlElement) -> El:
        attrs = checked_attrs(raw, frozenset({"start"}) if raw.tag == "ol" else frozenset())
        items: list[El] = []
        loose = False
        for child in raw.children:
            if is_blank(child):
                continue
            if not isinstance(child, HtmlElement) or child.tag != "li":
                raise LossyError(f"<{raw.tag}> holding something other than list items")
            checked_attrs(child, frozenset())
            loose |= any(isinstance(c, HtmlElement) and c.tag == "p" for c in child.children)
            items.append(El("li", (), tuple(self.blocks(child.children))))
        kept: list[tuple[str, str]] = []
        if raw.tag == "ol" and attrs.get("start", "1").strip() not in ("", "1"):
            start = attrs["start"].strip()
            if not start.isdigit():
                raise LossyError(f'<ol start="{start}">')
            kept.append(("start", str(int(start))))
        if not loose:
            kept.append(("tight", "1"))
        return El(raw.tag, tuple(kept), tuple(items))

    def code_block(self, raw: HtmlElement) -> El:
        checked_attrs(raw, frozenset({"class"}), ("pd-highlight",))
        language = ""
        parts: list[str] = []
        for child in raw.children:
            if isinstance(child, HtmlElement) and child.tag == "code":
                code_attrs = checked_attrs(child, frozenset({"class"}), ("language-",))
                for name in code_attrs.get("class", "").split():
                    language = language or name.removeprefix("language-")
                parts.append(code_text(child))
            elif isinstance(child, str):
                parts.append(child)
            else:
                parts.append(code_text(HtmlElement("code", {}, [child])))
        code = "".join(parts).replace(NBSP, " ").rstrip("\n")
        return El("pre", (("lang", language),) if language else (), (code + "\n" if code else "",))

    def table(self, raw: HtmlElement) -> El:
        checked_attrs(raw, frozenset())
        rows: list[El] = []

        def add_rows(section: HtmlElement, head: bool) -> None:
            for row in section.children:
                if is_blank(row):
                    continue
                if not isinstance(row, HtmlElement) or row.tag != "tr":
                    raise LossyError("a table with something other than rows")
                checked_attrs(row, frozenset())
                cells = tuple(self.cell(c) for c in row.children if not is_blank(c))
                rows.append(El("tr", (("head", "1"),) if head else (), cells))

        for child in raw.children:
            if is_blank(child):
                continue
            if isinstance(child, HtmlElement) and child.tag in ("thead", "tbody"):
                checked_attrs(child, frozenset())
                add_rows(child, child.tag == "thead")
            elif isinstance(child, HtmlElement) and child.tag == "tr":
                add_rows(HtmlElement("tbody", {}, [child]), False)
            else:
                what = child.tag if isinstance(child, HtmlElement) else "text"
                raise LossyError(f"a table with <{what}>")
        return El("table", (), tuple(rows))

    def cell(self, raw: HtmlElement | str) -> El:
        if not isinstance(raw, HtmlElement) or raw.tag not in ("td", "th"):
            raise LossyError("a table row with something other than cells")
        attrs = checked_attrs(raw, frozenset({"style"}))
        align = ""
        for declaration in attrs.get("style", "").split(";"):
            if not declaration.strip():
                continue
            name, _, value = declaration.partition(":")
            if name.strip().lower() != "text-align" or value.strip().lower() not in (
                "left",
                "center",
                "right",
            ):
                raise LossyError(f"styled table cell ({attrs['style']!r})")
            align = value.strip().lower()
        return El(raw.tag, (("align", align),) if align else (), self.line_content(raw.children))

    def details(self, raw: HtmlElement) -> El:
        attrs = checked_attrs(raw, frozenset({"open"}))
        children = [c for c in raw.children if not is_blank(c)]
        first = children[0] if children else None
        if not isinstance(first, HtmlElement) or first.tag != "summary":
            raise LossyError("<details> without a <summary> first")
        checked_attrs(first, frozenset())
        summary = El("summary", (), self.line_content(first.children))
        rest = raw.children[raw.children.index(first) + 1 :]
        kept = (("open", ""),) if "open" in attrs else ()
        return El("details", kept, (summary, *self.blocks(rest)))

    # Lines and paragraphs

    def inline_items(self, children: Sequence[HtmlElement | str], *, lines: bool) -> list[Item]:
        return inline_items(children, lines=lines, cloze=self.cloze)

    def line_content(self, children: Sequence[HtmlElement | str]) -> tuple[Node, ...]:
        """The inline content of a cell, heading or summary (empty lines kept as breaks)."""
        items = self.inline_items(children, lines=True)
        found = self.paragraphs(items, split=False)
        return found[0] if found else ()

    def paragraphs(self, items: Sequence[Item], *, split: bool) -> list[tuple[Node, ...]]:
        """Inline items cut into lines at breaks; with ``split``, an empty line ends a
        paragraph (as a blank line does in Markdown)."""
        lines: list[list[Node]] = [[]]
        content = False
        for item in items:
            if isinstance(item, LineEdge):
                if content:
                    lines.append([])
                    content = False
            elif item == BR:
                lines.append([])
                content = False
            else:
                lines[-1].append(item)
                content = content or not (isinstance(item, str) and not item.strip(WHITE_SPACE))
        groups: list[list[list[Node]]] = [[]]
        for line in lines:
            blank = all(isinstance(n, str) and not n.strip(WHITE_SPACE) for n in line)
            if blank and split:
                if groups[-1]:
                    groups.append([])
            else:
                groups[-1].append([] if blank else line)
        out: list[tuple[Node, ...]] = []
        for group in groups:
            while group and not group[-1]:
                group.pop()
            while group and not group[0]:
                group.pop(0)
            if not group:
                continue
            joined: list[Node] = []
            for k, line in enumerate(group):
                if k:
                    joined.append(BR)
                joined.extend(line)
            tidied = tidy(joined)
            while split and len(tidied) > 1 and _display_line(tidied):
                out.append(tidied[:1])  # ``$$x$$`` on a line of its own is a block of its own
                rest = str(tidied[1]).removeprefix("\n")
                tidied = (rest, *tidied[2:]) if rest else tidied[2:]
            if tidied:
                out.append(tidied)
        return out


def _display_line(nodes: tuple[Node, ...]) -> bool:
    """Does a paragraph start with display math alone on its first line? Markdown cannot
    write that (a ``$$...$$`` line starting a paragraph is a math block)."""
    return (
        isinstance(nodes[0], Math)
        and nodes[0].display
        and isinstance(nodes[1], str)
        and nodes[1].startswith("\n")
    )
