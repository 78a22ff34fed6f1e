"""Card HTML made safe with nh3 (ammonia): what Obsidian would show, and nothing that runs.

A note is Markdown with raw HTML allowed, so ``<script>``, ``onerror=`` or a
``javascript:`` link in a note (or in its front matter's ``link:``) would otherwise run
inside Anki, on every device the deck syncs to. Every field of every card passes through
:func:`sanitize` once it is assembled, Source line and heading context included.

Kept: text formatting, headings, lists, tables, ``<details>``, ``<mark>``, ruby, images
(``src``, ``alt``, ``width``, ``height``) and links to ``http``, ``https``, ``mailto``,
``obsidian`` and ``zotero`` URLs and to ``file:`` URLs of PDFs (a cited paper), ``class``
(paperdeck's own and the highlighter's) and a few harmless ``style`` properties
(markdown-it aligns table cells with ``text-align``). Math, cloze ``{{c1::...}}`` and
``[sound:...]`` are text and stay as they are.
Dropped with their content: ``<script>``, ``<style>`` (one field's style sheet would
restyle the whole card and the reviewer around it, and can fetch URLs), ``<template>``,
``<noscript>``, ``<title>``. Dropped, their text kept: every other tag (``<iframe>``,
``<svg>``, ``<form>``, ...). Dropped: event handlers, ``id`` (Anki's own page uses ids)
and every other attribute, comments, and URLs of any other scheme. ``data:`` URLs are
kept only as an image's ``src`` and only for raster images: an ``<img>`` never runs
script, while a ``data:`` link or SVG opens as a document that can.

The sanitizer's output spells a line break ``<br>``, a quote in text ``"`` and
``<details open>`` as ``<details open="">``, where markdown-it and note authors write
``<br />``, ``&quot;`` and ``open``; those are written back the usual way (the same
document either way), so a card that was already safe comes out exactly as before and Anki
does not see every card as changed on the next import.
"""

from __future__ import annotations

import re
from urllib.parse import unquote, urlsplit

import nh3

TAGS = frozenset(
    {
        *("a", "abbr", "acronym", "b", "bdi", "bdo", "big", "blockquote", "br", "center"),
        *("cite", "code", "data", "del", "dfn", "em", "i", "ins", "kbd", "mark", "q", "rp"),
        *("rt", "rtc", "ruby", "s", "samp", "small", "span", "strike", "strong", "sub"),
        *("sup", "time", "tt", "u", "var", "wbr"),
        *("article", "aside", "div", "footer", "header", "hgroup", "nav", "p", "pre", "hr"),
        *("section", "h1", "h2", "h3", "h4", "h5", "h6", "ul", "ol", "li", "dl", "dt", "dd"),
        *("details", "summary", "figure", "figcaption"),
        *("table", "caption", "colgroup", "col", "thead", "tbody", "tfoot", "tr", "th", "td"),
        "img",
    }
)
"""Tags a card keeps (any other tag is removed and its text kept)."""

DROPPED_WITH_CONTENT = frozenset({"script", "style", "template", "noscript", "title"})
"""Tags removed together with what they hold: their content is code, not card text."""

ATTRIBUTES = {
    "*": {"class", "title", "style", "lang", "dir"},
    "a": {"href"},
    "img": {"src", "alt", "width", "height"},
    "ol": {"start", "type", "reversed"},
    "li": {"value"},
    "td": {"colspan", "rowspan", "align"},
    "th": {"colspan", "rowspan", "align", "scope"},
    "col": {"span"},
    "colgroup": {"span"},
    "details": {"open"},
    "time": {"datetime"},
    "data": {"value"},
}
"""Attributes kept, by tag (``*``: on every tag). No event handlers, no ``id``."""

STYLE_PROPERTIES = frozenset(
    {"color", "background-color", "font-weight", "font-style", "text-decoration", "text-align"}
)
"""``style`` properties kept: colour and emphasis only, nothing that loads a URL or moves
text over the rest of the card."""

LINK_SCHEMES = frozenset({"http", "https", "mailto", "obsidian", "zotero"})
"""URL schemes a link may have (``obsidian``: paperdeck's links back to the vault;
``zotero``: a cited paper in Zotero)."""

FILE_LINK_SUFFIXES = (".pdf",)
"""A ``file:`` link is kept only to these (a cited paper's PDF outside the vault): a link
to any other local file might open a program."""

IMAGE_SCHEMES = frozenset({"http", "https"})
"""URL schemes an image may have, besides ``data:`` for a raster image and a media name."""

DATA_IMAGE_TYPES = frozenset(
    {"image/png", "image/jpeg", "image/gif", "image/webp", "image/avif", "image/bmp"}
)
"""The ``data:`` URL types an ``<img>`` may show (not ``image/svg+xml``: a document)."""

_SCHEME_RE = re.compile(r"^([a-zA-Z][a-zA-Z0-9+.-]*):")
_TAB_OR_NEWLINE = str.maketrans("", "", "\t\n\r")
_C0_OR_SPACE = "".join(chr(c) for c in range(0x21))
# A tag as the sanitizer writes it: attribute values always in double quotes (inside which
# ``"`` is ``&quot;``), and text never holds a raw ``<``, so this finds every tag.
_TAG_RE = re.compile(r'<[^<>"]*(?:"[^"]*"[^<>"]*)*>')
_TAG_OR_QUOTE_RE = re.compile(_TAG_RE.pattern + '|"')
"""A tag, else a ``"`` of the text between tags (a tag never starts with one)."""
_MARKDOWN_IT_TAGS = {"<br>": "<br />", "<hr>": "<hr />"}
_EMPTY_FLAG_RE = re.compile(r' (open|reversed)=""(?=[ >])')  # inside a tag: not a value


def url_scheme(url: str) -> str | None:
    """The scheme a browser reads in ``url`` (lower case), or ``None`` for a relative URL.

    As the WHATWG URL parser does: leading and trailing control characters and spaces
    are ignored and tabs and newlines anywhere are removed before the scheme is read, so
    ``" java\\tscript:"`` is ``javascript``.
    """
    cleaned = url.strip(_C0_OR_SPACE).translate(_TAB_OR_NEWLINE)
    match = _SCHEME_RE.match(cleaned)
    return match.group(1).lower() if match else None


def _data_type(url: str) -> str:
    """The media type a ``data:`` URL declares, lower case (``""`` if none)."""
    cleaned = url.strip(_C0_OR_SPACE).translate(_TAB_OR_NEWLINE)
    header = cleaned.partition(":")[2].partition(",")[0]
    return header.partition(";")[0].strip().lower()


def _file_path(url: str) -> str:
    """The path a ``file:`` URL names, without its query or fragment (``#page=5``)."""
    cleaned = url.strip(_C0_OR_SPACE).translate(_TAB_OR_NEWLINE)
    return unquote(urlsplit(cleaned).path)


def _allowed_url(tag: str, attribute: str, value: str) -> str | None:
    """A second check on every kept URL, after nh3's own scheme check: a link may only use
    :data:`LINK_SCHEMES`, an image :data:`IMAGE_SCHEMES` or a raster ``data:`` URL."""
    if attribute not in ("href", "src"):
        return value
    scheme = url_scheme(value)
    if scheme is None:
        return value  # relative: a media file of the deck, or a path that goes nowhere
    if tag == "a" and attribute == "href":
        if scheme == "file":
            return value if _file_path(value).lower().endswith(FILE_LINK_SUFFIXES) else None
        return value if scheme in LINK_SCHEMES else None
    if tag == "img" and attribute == "src":
        if scheme == "data":
            return value if _data_type(value) in DATA_IMAGE_TYPES else None
        return value if scheme in IMAGE_SCHEMES else None
    return None


_CLEANER = nh3.Cleaner(
    tags=set(TAGS),
    clean_content_tags=set(DROPPED_WITH_CONTENT),
    attributes={tag: set(names) for tag, names in ATTRIBUTES.items()},
    attribute_filter=_allowed_url,
    strip_comments=True,
    link_rel=None,  # no ``rel`` added: a card's links open outside Anki, never in a tab
    url_schemes={*LINK_SCHEMES, *IMAGE_SCHEMES, "data", "file"},
    filter_style_properties=set(STYLE_PROPERTIES),
)


def sanitize(html: str) -> str:
    """``html`` with everything that could run, load or restyle the card removed."""
    return _markdown_it_spelling(_CLEANER.clean(html))


def _markdown_it_spelling(clean: str) -> str:
    """The sanitizer's output with ``<br>``, ``<hr>``, ``"`` in text and ``open=""``
    written as markdown-it and note authors write them; the parsed document is the same."""
    if '"' not in clean and "<br>" not in clean and "<hr>" not in clean:
        return clean  # no attribute, no quote in text: nothing to respell
    return _TAG_OR_QUOTE_RE.sub(_respelled, clean)


def _respelled(found: re.Match[str]) -> str:
    """A tag as markdown-it writes it; a ``"`` in text (never inside a tag) as ``&quot;``."""
    written = found.group(0)
    if written == '"':
        return "&quot;"
    written = _MARKDOWN_IT_TAGS.get(written, written)
    return _EMPTY_FLAG_RE.sub(r" \1", written) if '=""' in written else written
