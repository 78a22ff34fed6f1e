r"""The card structure written as Markdown, as a person would write it: ``*em*``,
``**strong**``, ``-`` bullets, fenced code, ``$..$`` math, GFM tables, ``#`` headings.

Text comes out with :data:`~paperdeck.cards.unrender.structure.ESCAPE_MARK` before every
character that might need a backslash; :func:`~paperdeck.cards.unrender.escapes.settle`
keeps the backslashes rendering shows are needed. What the note wrote is reused where the
node is as it was (:class:`~paperdeck.cards.unrender.note_spellings.NoteSpellings`).
"""

from __future__ import annotations

import re
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from html import escape

from paperdeck.cards.unrender.embeds import image_embed, sound_embed, wikilink_embed
from paperdeck.cards.unrender.escapes import mark_specials
from paperdeck.cards.unrender.note_spellings import NoteSpellings, edited_formula
from paperdeck.cards.unrender.results import LossyError
from paperdeck.cards.unrender.structure import (
    ESCAPE_MARK,
    RAW_INLINE_TAGS,
    El,
    Math,
    Node,
    Sound,
)
from paperdeck.cards.unrender.tex import note_tex


@dataclass
class MarkdownWriter:
    """The normalised structure as Markdown; text carries optional-escape marks."""

    spellings: NoteSpellings
    media: Mapping[str, str]
    cloze: bool
    link: Callable[[str], str | None] | None
    widths: Mapping[str, int]
    block_math: bool = False
    """The note writes display math on lines of its own (``$$`` alone on a line)."""
    html_emphasis: bool = False
    """Write emphasis as HTML tags: the last resort where ``*`` cannot say it."""
    compact: bool = True
    """No blank line next to a fence or after display math, as notes write cards."""

    def document(self, blocks: Sequence[El]) -> str:
        texts = self.block_texts(blocks)
        out = texts[:1]
        for k in range(1, len(texts)):
            out.append(self.separator(blocks[k - 1], blocks[k]) + texts[k])
        return "".join(out)

    def separator(self, before: El | None, after: El | None) -> str:
        """What goes between two blocks: a line break where no blank line is needed (a
        fence starts and ends a block of its own; so does a ``$$...$$`` line)."""
        if not (self.compact and before is not None and after is not None):
            return "\n\n"
        return "\n" if "pre" in (before.tag, after.tag) or _display_only(before) else "\n\n"

    def block_texts(self, blocks: Sequence[El]) -> list[str]:
        return [
            self.block(b, alternate=a) for b, a in zip(blocks, alternations(blocks), strict=True)
        ]

    def block(self, el: El, *, alternate: bool = False) -> str:
        tag = el.tag
        if tag == "p":
            return self.paragraph(el.children)
        if tag in ("h1", "h2", "h3", "h4", "h5", "h6"):
            text = self.inline(el.children, "heading")
            return "#" * int(tag[1]) + (" " + text if text else "")
        if tag in ("ul", "ol"):
            return self.list_block(el, alternate)
        if tag == "blockquote":
            inner = self.document([c for c in el.children if isinstance(c, El)])
            return "\n".join("> " + line if line else ">" for line in inner.split("\n"))
        if tag == "pre":
            return self.code_block(el)
        if tag == "table":
            return self.table(el)
        if tag == "hr":
            return "---"
        if tag == "details":
            return self.details(el)
        raise LossyError(f"a <{tag}> block")

    def paragraph(self, nodes: Sequence[Node]) -> str:
        if len(nodes) == 1 and isinstance(nodes[0], Math) and nodes[0].display:
            math = nodes[0]
            if math in self.spellings.source:
                return self.spellings.source[math]
            tex = note_tex(math.tex, self.cloze)
            if self.block_math or "\n" in tex:
                return f"$$\n{tex}\n$$"
            return f"$${tex}$$"
        return self.inline(nodes, "p")

    def list_block(self, el: El, alternate: bool) -> str:
        ordered = el.tag == "ol"
        start = int(el.attr("start") or "1")
        tight = el.attr("tight") is not None
        lines: list[str] = []
        for k, item in enumerate(el.children):
            assert isinstance(item, El)
            if ordered:
                marker = f"{start + k}{')' if alternate else '.'}"
            else:
                marker = "*" if alternate else "-"
            blocks = [c for c in item.children if isinstance(c, El)]
            body = ("\n" if tight else "\n\n").join(self.block_texts(blocks))
            item_lines = body.split("\n")
            pad = " " * (len(marker) + 1)
            if k and not tight:
                lines.append("")
            lines.append(marker + (" " + item_lines[0] if item_lines[0] else ""))
            lines.extend(pad + line if line else "" for line in item_lines[1:])
        return "\n".join(lines)

    def code_block(self, el: El) -> str:
        code = str(el.children[0]) if el.children else ""
        language = el.attr("lang") or ""
        longest = max((len(run) for run in re.findall("`+", code)), default=0)
        fence = "`" * max(3, longest + 1)
        if "`" in language:
            longest = max((len(run) for run in re.findall("~+", code)), default=0)
            fence = "~" * max(3, longest + 1)
        return f"{fence}{language}\n{code}{fence}"

    def table(self, el: El) -> str:
        rows = [r for r in el.children if isinstance(r, El)]
        if not rows or rows[0].attr("head") is None or any(r.attr("head") for r in rows[1:]):
            raise LossyError("a table without exactly one header row")
        header = [c for c in rows[0].children if isinstance(c, El)]
        width = len(header)
        if width == 0 or any(len(r.children) > width for r in rows[1:]):
            raise LossyError("a table row longer than its header")
        delimiters = {"left": ":---", "center": ":---:", "right": "---:"}
        lines = [self.row(header)]
        lines.append(
            "| " + " | ".join(delimiters.get(c.attr("align") or "", "---") for c in header) + " |"
        )
        lines.extend(self.row([c for c in r.children if isinstance(c, El)]) for r in rows[1:])
        return "\n".join(lines)

    def row(self, cells: Sequence[El]) -> str:
        texts = []
        for cell in cells:
            text = self.inline(cell.children, "cell")
            texts.append(text.replace(ESCAPE_MARK + "|", "|").replace("|", "\\|"))
        return "| " + " | ".join(texts) + " |"

    def details(self, el: El) -> str:
        summary, *blocks = el.children
        assert isinstance(summary, El)
        opening = "<details open>" if el.attr("open") is not None else "<details>"
        head = f"{opening}\n<summary>{self.inline(summary.children, 'html')}</summary>"
        body = self.document([b for b in blocks if isinstance(b, El)])
        return f"{head}\n\n{body}\n\n</details>" if body else f"{head}\n\n</details>"

    # Inline

    def inline(self, nodes: Sequence[Node], context: str, *, parent: str = "") -> str:
        return "".join(
            self.text(node, context)
            if isinstance(node, str)
            else self.atom(node, context, parent, nodes, k)
            for k, node in enumerate(nodes)
        )

    def text(self, text: str, context: str) -> str:
        if context == "html":
            return escape(text, quote=False)
        return mark_specials(text)

    def atom(
        self, node: Node, context: str, parent: str, siblings: Sequence[Node], index: int
    ) -> str:
        if isinstance(node, Math):
            return self.math(node, context)
        if isinstance(node, Sound):
            return self.sound(node, context)
        assert isinstance(node, El)
        tag = node.tag
        if tag == "br":
            if context == "p":
                return "\n"
            if context in ("cell", "html"):
                return "<br>"
            raise LossyError("a line break in a heading")
        if tag == "code":
            return self.code(str(node.children[0]) if node.children else "", context)
        if tag in ("strong", "em", "s", "mark"):
            return self.emphasis(node, context, parent, siblings, index)
        if tag in RAW_INLINE_TAGS:
            attrs = "".join(f' {k}="{escape(v)}"' for k, v in node.attrs)
            return f"<{tag}{attrs}>{self.inline(node.children, context, parent=tag)}</{tag}>"
        if tag == "a":
            return self.hyperlink(node, context)
        if context == "html":
            raise LossyError(f"an embed or link inside <summary> ({tag})")
        if node in self.spellings.source:
            return self.written(node, context)
        if tag == "wikilink":
            return wikilink_embed(node, self.spellings, self.link)
        if tag == "img":
            return image_embed(node, self.spellings, self.media, self.widths)
        if tag == "embed":
            return f"![[{node.children[0]}]]"
        raise LossyError(f"{tag} that the note did not have ({node.children[0]!s})")

    def emphasis(
        self, node: El, context: str, parent: str, siblings: Sequence[Node], index: int
    ) -> str:
        tag = node.tag
        inner = self.inline(node.children, context, parent=tag)
        if context == "html" or self.html_emphasis:
            return f"<{tag}>{inner}</{tag}>"
        mark = {"strong": "**", "em": "*", "s": "~~", "mark": "=="}[tag]
        edges = (node.children[:1] + node.children[-1:]) if node.children else ()
        if tag == "em" and (
            (parent == "strong" and index in (0, len(siblings) - 1))
            or any(isinstance(n, El) and n.tag == "strong" for n in edges)
            or inner.startswith(("*", ESCAPE_MARK))
            or inner.endswith("*")
        ):
            mark = "_"  # beside a ``**``: ``**_a_ b**``, never ``***a* b**``
        return f"{mark}{inner}{mark}"

    def code(self, code: str, context: str) -> str:
        if context == "html":
            return f"<code>{escape(code, quote=False)}</code>"
        longest = max((len(run) for run in re.findall("`+", code)), default=0)
        fence = "`" * (longest + 1)
        pad = code.startswith(("`", " ")) or code.endswith(("`", " "))
        if pad and code.strip(" "):
            code = f" {code} "
        return f"{fence}{code}{fence}"

    def hyperlink(self, node: El, context: str) -> str:
        href = node.attr("href") or ""
        title = node.attr("title")
        inner = self.inline(node.children, context)
        if context == "html":
            extra = f' title="{escape(title)}"' if title is not None else ""
            return f'<a href="{escape(href)}"{extra}>{inner}</a>'
        if re.search(r"[<>\n\\]", href):
            raise LossyError(f"a link Markdown cannot hold ({href!r})")
        if (
            title is None
            and node.children == (href,)
            and re.match(r"^[a-zA-Z][a-zA-Z0-9+.-]{1,31}:[^\s<>]*$", href)
        ):
            return f"<{href}>"
        destination = f"<{href}>" if re.search(r"[\s()]", href) or not href else href
        if title is not None:
            destination += ' "' + title.replace("\\", "\\\\").replace('"', '\\"') + '"'
        return f"[{inner}]({destination})"

    def written(self, node: Node, context: str) -> str:
        """How the note wrote ``node`` (a table's ``\\|`` is the row's to add)."""
        source = self.spellings.source[node]
        return source.replace("\\|", "|") if context == "cell" else source

    def math(self, math: Math, context: str) -> str:
        if math in self.spellings.source and context != "html":
            return self.written(math, context)
        edited = edited_formula(math, self.spellings, self.cloze) if context != "html" else None
        if edited is not None:
            return edited
        tex = note_tex(math.tex, self.cloze)
        if context == "html":
            opening, closing = ("\\[", "\\]") if math.display else ("\\(", "\\)")
            return escape(f"{opening}{math.tex}{closing}", quote=False)
        if "\n\n" in tex.replace(" ", "") or re.search(r"(?<!\\)\$", tex):
            raise LossyError("a formula that $...$ cannot hold")
        return f"$${tex}$$" if math.display else f"${tex}$"

    def sound(self, sound: Sound, context: str) -> str:
        if context == "html":
            raise LossyError("a sound inside <summary>")
        if sound in self.spellings.source:
            return self.written(sound, context)
        return sound_embed(sound, self.media)


def alternations(blocks: Sequence[El]) -> list[bool]:
    """Which lists take the other marker (``*``, ``1)``): a list right after a list of its
    kind, which the same marker would join into one."""
    out: list[bool] = []
    for k, block in enumerate(blocks):
        after_list = k > 0 and block.tag in ("ul", "ol") and blocks[k - 1].tag == block.tag
        out.append(after_list and not out[-1])
    return out


def _display_only(block: El) -> bool:
    """A paragraph that is one display formula: a ``$$...$$`` line of its own."""
    if block.tag != "p" or len(block.children) != 1:
        return False
    only = block.children[0]
    return isinstance(only, Math) and only.display
