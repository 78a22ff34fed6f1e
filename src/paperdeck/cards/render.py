"""Card Markdown to Anki HTML with markdown-it-py (pure: text in, HTML out).

Math is passed through verbatim for Anki's MathJax: ``$x$`` becomes ``\\(x\\)`` and
``$$x$$`` becomes ``\\[x\\]``, with only ``<``, ``>`` and ``&`` escaped (the browser undoes
that before MathJax reads it), so ``\\text{one\\_hot}`` reaches Anki untouched.
Obsidian's wikilinks become readable text and embeds become ``<img>`` tags that name the
media files the deck ships.
"""

from __future__ import annotations

import html
import re
from collections.abc import Mapping, Sequence
from typing import Any

from markdown_it import MarkdownIt
from markdown_it.renderer import RendererHTML
from markdown_it.rules_inline import StateInline
from markdown_it.token import Token
from markdown_it.utils import EnvType, OptionsDict
from mdit_py_plugins.dollarmath import dollarmath_plugin

from paperdeck.notes.cloze import space_double_braces

IMAGE_SUFFIXES = (".png", ".jpg", ".jpeg", ".gif", ".svg", ".webp", ".bmp", ".avif")
_COMMENT_RE = re.compile(r"%%.*?%%", re.DOTALL)
_SIZE_RE = re.compile(r"^([0-9]+)(?:x([0-9]+))?$")


def is_image(target: str) -> bool:
    """Does an embed target name an image (by its suffix, as Obsidian decides)?"""
    return target.lower().endswith(IMAGE_SUFFIXES)


def split_link(inner: str) -> tuple[str, str | None]:
    """``file.png|300`` -> (``file.png``, ``300``); ``Note|alias`` -> (``Note``, ``alias``)."""
    target, _, label = inner.partition("|")
    return target.strip(), (label.strip() or None) if label else None


def _wikilink_rule(state: StateInline, silent: bool) -> bool:
    """Inline rule for ``[[target|label]]`` and ``![[target|label]]``."""
    start = state.pos
    embed = state.src.startswith("![[", start)
    if not embed and not state.src.startswith("[[", start):
        return False
    open_len = 3 if embed else 2
    end = state.src.find("]]", start + open_len)
    if end < 0 or "\n" in state.src[start:end]:
        return False
    if not silent:
        target, label = split_link(state.src[start + open_len : end])
        token = state.push("wikilink_embed" if embed else "wikilink", "", 0)
        token.meta = {"target": target, "label": label}
    state.pos = end + 2
    return True


def _math_source(token: Token, env: EnvType) -> str:
    math = html.escape(token.content.strip(), quote=False)
    return space_double_braces(math) if env.get("cloze") else math


def _math(open_: str, close: str) -> Any:
    def render(
        self: RendererHTML, tokens: Sequence[Token], idx: int, options: OptionsDict, env: EnvType
    ) -> str:
        return f"{open_}{_math_source(tokens[idx], env)}{close}"

    return render


def _math_block(
    self: RendererHTML, tokens: Sequence[Token], idx: int, options: OptionsDict, env: EnvType
) -> str:
    return f"\\[{_math_source(tokens[idx], env)}\\]\n"


def _wikilink(self: RendererHTML, tokens: Sequence[Token], idx: int, *_: Any) -> str:
    target, label = tokens[idx].meta["target"], tokens[idx].meta["label"]
    note, _, heading = target.partition("#")
    text = label or (f"{note} > {heading.lstrip('^')}" if heading and note else note or heading)
    return f'<span class="wikilink">{html.escape(text)}</span>'


def _img(src: str, alt: str, size: str | None) -> str:
    attrs = f'src="{html.escape(src)}" alt="{html.escape(alt)}"'
    if size and (m := _SIZE_RE.match(size)):
        attrs += f' width="{m.group(1)}"' + (f' height="{m.group(2)}"' if m.group(2) else "")
    return f"<img {attrs}>"


def _missing(target: str) -> str:
    return f'<span class="missing-media">[missing image: {html.escape(target)}]</span>'


def _embed(
    self: RendererHTML, tokens: Sequence[Token], idx: int, options: OptionsDict, env: EnvType
) -> str:
    target, label = tokens[idx].meta["target"], tokens[idx].meta["label"]
    if not is_image(target):
        return f'<span class="embed">{html.escape(label or target)}</span>'
    media: Mapping[str, str | None] = env.get("media", {})
    name = media.get(target)
    return _img(name, target, label) if name else _missing(target)


def _image(
    self: RendererHTML, tokens: Sequence[Token], idx: int, options: OptionsDict, env: EnvType
) -> str:
    token = tokens[idx]
    src = str(token.attrGet("src") or "")
    alt = self.renderInlineAsText(token.children or [], options, env)
    if re.match(r"^[a-zA-Z][a-zA-Z0-9+.-]*:", src):  # http(s), data: — not vault media
        return _img(src, alt, None)
    media: Mapping[str, str | None] = env.get("media", {})
    name = media.get(src)
    size = alt.rpartition("|")[2] if "|" in alt else None
    return _img(name, alt.partition("|")[0], size) if name else _missing(src)


def _fence(
    self: RendererHTML, tokens: Sequence[Token], idx: int, options: OptionsDict, env: EnvType
) -> str:
    """Figure specs are instructions to paperdeck, never card content."""
    if tokens[idx].info.strip().split()[:1] == ["paperdeck-figure"]:
        return ""
    rendered: str = self.fence(tokens, idx, options, env)
    return rendered


def make_markdown() -> MarkdownIt:
    """The one Markdown dialect of cards: CommonMark + tables, math, Obsidian links."""
    md = MarkdownIt("commonmark", {"breaks": True, "html": True})
    md.enable(["table", "strikethrough"])
    md.use(dollarmath_plugin, allow_space=False, double_inline=True)
    md.inline.ruler.before("link", "wikilink", _wikilink_rule)
    md.add_render_rule("math_inline", _math("\\(", "\\)"))
    md.add_render_rule("math_inline_double", _math("\\[", "\\]"))
    md.add_render_rule("math_block", _math_block)
    md.add_render_rule("math_block_label", _math_block)
    md.add_render_rule("wikilink", _wikilink)
    md.add_render_rule("wikilink_embed", _embed)
    md.add_render_rule("image", _image)
    md.add_render_rule("fence", _fence)
    return md


_MD = make_markdown()


def render_field(
    markdown: str, media: Mapping[str, str | None] | None = None, *, cloze: bool = False
) -> str:
    """Render one card field; ``media`` maps each embed target to its media name (None: missing).

    In a cloze note, ``}}`` inside math is spaced out so that it cannot close a cloze.
    """
    source = _COMMENT_RE.sub("", markdown)
    rendered: str = _MD.render(source, {"media": dict(media or {}), "cloze": cloze})
    return rendered.strip()
