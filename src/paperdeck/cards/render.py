"""Card Markdown to Anki HTML with markdown-it-py (pure: text in, HTML out).

Math is passed through verbatim for Anki's MathJax: ``$x$`` becomes ``\\(x\\)`` and
``$$x$$`` becomes ``\\[x\\]``, with only ``<``, ``>`` and ``&`` escaped (the browser undoes
that before MathJax reads it), so ``\\text{one\\_hot}`` reaches Anki untouched.
As in Obsidian, a closing ``$`` followed by a digit closes nothing, so ``$5-$10`` stays text.
Obsidian's wikilinks become links (when the caller can say where a note is) or readable
text, ``==highlights==`` become ``<mark>``, image embeds become ``<img>`` tags and audio or
video embeds ``[sound:...]``, both naming the media files the deck ships.
"""

from __future__ import annotations

import html
import re
from collections.abc import Callable, Mapping, Sequence
from pathlib import PurePosixPath
from typing import Any, Literal
from urllib.parse import quote, unquote

from markdown_it import MarkdownIt
from markdown_it.common.utils import unescapeAll
from markdown_it.renderer import RendererHTML
from markdown_it.rules_core import StateCore
from markdown_it.rules_inline import StateInline
from markdown_it.rules_inline.state_inline import Delimiter
from markdown_it.token import Token
from markdown_it.utils import EnvType, OptionsDict
from mdit_py_plugins.dollarmath import dollarmath_plugin
from mdit_py_plugins.dollarmath.index import math_inline_dollar

from paperdeck.cards.highlight import highlighted_block
from paperdeck.cards.pages import PageLinks, page_links_plugin, pdf_page_link
from paperdeck.cards.tex import escapes_out_of_text
from paperdeck.notes.cloze import space_double_braces

IMAGE_SUFFIXES = (".png", ".jpg", ".jpeg", ".gif", ".svg", ".webp", ".bmp", ".avif")
# What Anki plays as ``[sound:...]`` (through mpv): Obsidian_to_Anki's audio list (.wav .m4a
# .flac .mp3 .wma .aac .webm) plus Obsidian's other audio and video formats.
AUDIO_SUFFIXES = (".mp3", ".wav", ".m4a", ".flac", ".ogg", ".oga", ".opus", ".aac", ".wma", ".3gp")
VIDEO_SUFFIXES = (".mp4", ".webm", ".mov", ".mkv", ".ogv", ".m4v", ".avi", ".mpg", ".mpeg")
MediaKind = Literal["image", "audio", "video"]
_COMMENT_RE = re.compile(r"%%.*?%%", re.DOTALL)
_SIZE_RE = re.compile(r"^([0-9]+)(?:x([0-9]+))?$")
_URL_RE = re.compile(r"^[a-zA-Z][a-zA-Z0-9+.-]*:")  # http(s), data:, ... never vault media
_DIGITS = frozenset("0123456789")


def media_kind(target: str) -> MediaKind | None:
    """What an embed target is, by its suffix as Obsidian decides; ``None``: not media."""
    lower = target.lower()
    if lower.endswith(IMAGE_SUFFIXES):
        return "image"
    if lower.endswith(AUDIO_SUFFIXES):
        return "audio"
    return "video" if lower.endswith(VIDEO_SUFFIXES) else None


def is_image(target: str) -> bool:
    """Does an embed target name an image (by its suffix, as Obsidian decides)?"""
    return media_kind(target) == "image"


def is_sound(target: str) -> bool:
    """Is it audio or video, which Anki plays from ``[sound:name]`` rather than ``<img>``?"""
    return media_kind(target) in ("audio", "video")


def is_url(target: str) -> bool:
    """A link with a scheme (``https:``, ``data:``): shown as is, never looked up in the vault."""
    return bool(_URL_RE.match(target))


def obsidian_url(vault_name: str, rel: PurePosixPath) -> str:
    """``obsidian://open`` for a vault file; a note is named without ``.md``, as Obsidian does."""
    path = rel.with_suffix("") if rel.suffix.lower() == ".md" else rel
    target = quote(path.as_posix(), safe="")
    return f"obsidian://open?vault={quote(vault_name, safe='')}&file={target}"


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


def _obsidian_math_rule() -> Callable[[StateInline, bool], bool]:
    """dollarmath's inline rule with Obsidian's extra condition: a single ``$`` followed by
    a digit does not close math, so ``$5-$10`` and ``$5/$10`` are prices, not math.

    (dollarmath's own ``allow_digits=False`` would also refuse a digit before the opening
    ``$``, as in ``2$x$``, which that rule does not.) As in dollarmath, the first ``$`` that
    could close decides: ``$x$5`` is text, not math that runs on to a later ``$``.
    """
    inner = math_inline_dollar(allow_space=False, allow_digits=True, allow_double=True)

    def rule(state: StateInline, silent: bool) -> bool:
        start = state.pos
        matched = inner(state, True)
        end, state.pos = state.pos, start
        if not matched:
            return False
        if not state.src.startswith("$$", start) and state.src[end : end + 1] in _DIGITS:
            return False
        return inner(state, silent)

    return rule


def _mark_tokenize(state: StateInline, silent: bool) -> bool:
    """``==`` runs as delimiters, exactly as markdown-it's ``~~`` (markdown-it-mark's rule)."""
    start = state.pos
    if silent or state.src[start] != "=":
        return False
    scanned = state.scanDelims(start, True)
    length = scanned.length
    if length < 2:
        return False
    if length % 2:
        state.push("text", "", 0).content = "="
        length -= 1
    for _ in range(0, length, 2):
        state.push("text", "", 0).content = "=="
        state.delimiters.append(
            Delimiter(
                marker=ord("="),
                length=0,  # no "rule of 3", as for ``~~``
                token=len(state.tokens) - 1,
                end=-1,
                open=scanned.can_open,
                close=scanned.can_close,
            )
        )
    state.pos += scanned.length
    return True


def _mark_pairs(state: StateInline, delimiters: list[Delimiter]) -> None:
    lone: list[int] = []
    for opener in delimiters:
        if opener.marker != ord("=") or opener.end == -1:
            continue
        closer = delimiters[opener.end]
        opening, closing = state.tokens[opener.token], state.tokens[closer.token]
        opening.type, opening.nesting = "mark_open", 1
        closing.type, closing.nesting = "mark_close", -1
        for token in (opening, closing):
            token.tag, token.markup, token.content = "mark", "==", ""
        before = state.tokens[closer.token - 1]
        if before.type == "text" and before.content == "=":
            lone.append(closer.token - 1)
    # A lone ``=`` of an odd run belongs after the ``</mark>`` tags that follow it.
    while lone:
        i = lone.pop()
        j = i + 1
        while j < len(state.tokens) and state.tokens[j].type == "mark_close":
            j += 1
        j -= 1
        if i != j:
            state.tokens[i], state.tokens[j] = state.tokens[j], state.tokens[i]


def _mark_post_process(state: StateInline) -> None:
    """Turn matched ``==`` delimiters into ``<mark>`` tags (at every nesting level)."""
    _mark_pairs(state, state.delimiters)
    for meta in state.tokens_meta:
        if meta and "delimiters" in meta:
            _mark_pairs(state, meta["delimiters"])


def _math_lines(state: StateCore) -> None:
    """Each math token's line in the source, in ``meta["line"]``, for messages about it."""
    for token in state.tokens:
        if token.type.startswith("math_block") and token.map:
            token.meta["line"] = token.map[0]
        elif token.type == "inline" and token.map and token.children:
            cursor = 0
            for child in token.children:
                if child.type.startswith("math_inline"):
                    written = child.markup + child.content
                    found = token.content.find(written, cursor)
                    cursor = max(cursor, found)
                    child.meta["line"] = token.map[0] + token.content.count("\n", 0, cursor)
                    cursor += len(written) if found >= 0 else 0


def _math_source(token: Token, env: EnvType) -> str:
    tex = token.content.strip()
    macros: Callable[[str, int], str] | None = env.get("tex")
    if macros is not None:
        tex = macros(tex, token.meta.get("line", 0))
    math = html.escape(escapes_out_of_text(tex), quote=False)
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


def _softbreak(
    self: RendererHTML, tokens: Sequence[Token], idx: int, options: OptionsDict, env: EnvType
) -> str:
    """A line break beside ``$$display math$$`` in a paragraph is dropped: the math is a block
    of its own, and a ``<br>`` after it would add an empty line below it but not above."""
    beside = (tokens[idx - 1] if idx else None, tokens[idx + 1] if idx + 1 < len(tokens) else None)
    if any(t is not None and t.type == "math_inline_double" for t in beside):
        return "\n"
    rendered: str = self.softbreak(tokens, idx, options, env)
    return rendered


def _wikilink(
    self: RendererHTML, tokens: Sequence[Token], idx: int, options: OptionsDict, env: EnvType
) -> str:
    target, label = tokens[idx].meta["target"], tokens[idx].meta["label"]
    note, _, heading = target.partition("#")
    text = html.escape(
        label or (f"{note} > {heading.lstrip('^')}" if heading and note else note or heading)
    )
    link: Callable[[str], str | None] | None = env.get("link")
    url = link(note) if link is not None else None
    if url and (pdf := pdf_page_link(url, target, label)):  # [[paper.pdf#page=5]]
        url, text = pdf[0], html.escape(pdf[1])
    if url:
        return f'<a class="wikilink" href="{html.escape(url)}">{text}</a>'
    return f'<span class="wikilink">{text}</span>'


def _img(src: str, alt: str, size: str | None) -> str:
    attrs = f'src="{html.escape(src)}" alt="{html.escape(alt)}"'
    if size and (m := _SIZE_RE.match(size)):
        attrs += f' width="{m.group(1)}"' + (f' height="{m.group(2)}"' if m.group(2) else "")
    return f"<img {attrs}>"


def _size(asked: str | None, name: str, env: EnvType) -> str | None:
    """The size the note asks for, or else the width a generated figure is drawn for (so a
    desktop shows it no larger than its text was made for; a phone shrinks it to fit)."""
    if asked and _SIZE_RE.match(asked):
        return asked
    widths: Mapping[str, int] = env.get("widths", {})
    return str(widths[name]) if name in widths else asked


def _missing(target: str, kind: MediaKind) -> str:
    return f'<span class="missing-media">[missing {kind}: {html.escape(target)}]</span>'


def _sound(name: str) -> str:
    """Anki plays ``[sound:name]`` (audio and video alike) and ships ``name`` with the deck."""
    return f"[sound:{html.escape(name, quote=False)}]"


def _embed(
    self: RendererHTML, tokens: Sequence[Token], idx: int, options: OptionsDict, env: EnvType
) -> str:
    target, label = tokens[idx].meta["target"], tokens[idx].meta["label"]
    kind = media_kind(target)
    if kind is None:
        return f'<span class="embed">{html.escape(label or target)}</span>'
    media: Mapping[str, str | None] = env.get("media", {})
    name = media.get(target)
    if not name:
        return _missing(target, kind)
    return _img(name, target, _size(label, name, env)) if kind == "image" else _sound(name)


def _image(
    self: RendererHTML, tokens: Sequence[Token], idx: int, options: OptionsDict, env: EnvType
) -> str:
    token = tokens[idx]
    src = str(token.attrGet("src") or "")
    alt = self.renderInlineAsText(token.children or [], options, env)
    if is_url(src):
        return _img(src, alt, None)
    media: Mapping[str, str | None] = env.get("media", {})
    name = media.get(src)
    sound = is_sound(src)
    if not name:
        return _missing(unquote(src), media_kind(src) or "image")
    if sound:
        return _sound(name)
    size = alt.rpartition("|")[2] if "|" in alt else None
    return _img(name, alt.partition("|")[0], _size(size, name, env))


def _fence(
    self: RendererHTML, tokens: Sequence[Token], idx: int, options: OptionsDict, env: EnvType
) -> str:
    """Figure specs are instructions to paperdeck, never card content. Code in a language
    Pygments knows is highlighted, except code holding ``{{`` or ``}}`` in a cloze note:
    Anki must find a cloze's braces in one piece, not split among highlighted tokens."""
    token = tokens[idx]
    if token.info.strip().split()[:1] == ["paperdeck-figure"]:
        return ""
    language = unescapeAll(token.info).split(maxsplit=1)[:1]
    braces = "{{" in token.content or "}}" in token.content
    if language and not (env.get("cloze") and braces):
        block = highlighted_block(token.content, language[0])
        if block is not None:
            return block
    rendered: str = self.fence(tokens, idx, options, env)
    return rendered


def make_markdown() -> MarkdownIt:
    """The one Markdown dialect of cards: CommonMark + tables, math, Obsidian links."""
    md = MarkdownIt("commonmark", {"breaks": True, "html": True})
    md.enable(["table", "strikethrough"])
    md.use(dollarmath_plugin, allow_space=False, double_inline=True)
    md.inline.ruler.at("math_inline", _obsidian_math_rule())
    md.inline.ruler.before("link", "wikilink", _wikilink_rule)
    md.inline.ruler.after("strikethrough", "mark", _mark_tokenize)
    md.inline.ruler2.after("strikethrough", "mark", _mark_post_process)
    md.core.ruler.push("math_lines", _math_lines)
    md.add_render_rule("math_inline", _math("\\(", "\\)"))
    md.add_render_rule("math_inline_double", _math("\\[", "\\]"))
    md.add_render_rule("math_block", _math_block)
    md.add_render_rule("math_block_label", _math_block)
    md.add_render_rule("softbreak", _softbreak)
    md.add_render_rule("wikilink", _wikilink)
    md.add_render_rule("wikilink_embed", _embed)
    md.add_render_rule("image", _image)
    md.add_render_rule("fence", _fence)
    md.use(page_links_plugin)
    return md


_MD = make_markdown()


def parse_field(markdown: str, pages: PageLinks | None = None) -> list[Token]:
    """The tokens :func:`render_field` renders, with ``%%comments%%`` blanked out but their
    line breaks kept, so each token's ``map`` still gives its line within the field.
    ``pages``: page references become links, as the field is rendered with them."""
    return _MD.parse(without_comments(markdown), {"pages": pages})


def without_comments(markdown: str) -> str:
    """``%%comments%%`` removed, keeping their line breaks, so lines keep their numbers and
    finding embeds and rendering see the same block structure."""
    return _COMMENT_RE.sub(lambda m: "\n" * m.group(0).count("\n"), markdown)


def render_field(
    markdown: str,
    media: Mapping[str, str | None] | None = None,
    *,
    cloze: bool = False,
    link: Callable[[str], str | None] | None = None,
    widths: Mapping[str, int] | None = None,
    tex: Callable[[str, int], str] | None = None,
    pages: PageLinks | None = None,
) -> str:
    """Render one card field; ``media`` maps each embed target to its media name (None: missing).

    In a cloze note, ``}}`` inside math is spaced out so that it cannot close a cloze.
    ``link`` maps the note a ``[[wikilink]]`` names (``""`` for the note itself) to a URL;
    without it, or where it gives ``None`` (no such note), the link shows as plain text.
    ``widths`` gives the CSS width of an image by media name, used where the note asks for
    none (a generated figure's own width). ``tex`` is given each piece of math and its line
    in the field, and returns the TeX to show (the vault's macros expanded). ``pages`` links
    page references to the cited paper.
    """
    tokens = parse_field(markdown, pages)
    return render_tokens(tokens, media, cloze=cloze, link=link, widths=widths, tex=tex)


def render_tokens(
    tokens: Sequence[Token],
    media: Mapping[str, str | None] | None = None,
    *,
    cloze: bool = False,
    link: Callable[[str], str | None] | None = None,
    widths: Mapping[str, int] | None = None,
    tex: Callable[[str, int], str] | None = None,
) -> str:
    """:func:`render_field`'s second half, for tokens from :func:`parse_field`: a build
    finds a field's embeds in the same tokens it renders, so each field is parsed once."""
    env = {
        "media": dict(media or {}),
        "cloze": cloze,
        "link": link,
        "widths": widths or {},
        "tex": tex,
    }
    rendered: str = _MD.renderer.render(tokens, _MD.options, env)
    return rendered.strip()
