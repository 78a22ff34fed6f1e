"""Obsidian ``#tags``: finding them in prose and making them safe for Anki.

Obsidian's rules: a tag has at least one non-digit character (``#2017`` is not a tag, in
prose, the ``Tags:`` header or front matter alike), and a ``#`` in code, math or a link is
no tag.
"""

from __future__ import annotations

import re
from collections.abc import Iterable

# An Obsidian tag: letters (any script), digits, ``_``, ``-`` and ``/`` for nesting.
# It starts after whitespace or an opening bracket, so ``a#b`` and URL fragments are not tags.
_TAG_RE = re.compile(r"(?:(?<=^)|(?<=[\s(\[{,;]))#([\w/-]*[^\W\d][\w/-]*)", re.UNICODE)

_VALID_RE = re.compile(r"[^\W\d]")  # the one non-digit (a letter or ``_``) a tag needs

# Spans inside which a ``#`` is never a tag.
_NON_PROSE_RES = (
    re.compile(r"(`+).*?\1"),  # inline code
    re.compile(r"\$\$.*?\$\$"),  # display math on one line
    re.compile(r"\$(?=\S)(?:\\.|[^$\\])*?(?<=\S)\$(?![0-9])"),  # inline math, Obsidian's rule
    re.compile(r"<!--.*?-->"),  # HTML comments (card IDs)
    re.compile(r"!?\[(?:\\.|[^\]\\])*\]\([^)]*\)"),  # Markdown links: their text and URL
    re.compile(r"\]\([^)]*\)"),  # Markdown link targets
    re.compile(r"\[\[[^\]]*\]\]"),  # wikilinks and embeds
    re.compile(r"<[a-zA-Z][a-zA-Z0-9+.-]*:[^>\s]*>"),  # autolinks
    re.compile(r"\b[a-zA-Z][a-zA-Z0-9+.-]*://\S+"),  # bare URLs
)


def mask_non_prose(line: str) -> str:
    """Blank out code, math, links and comments so that only prose is scanned for tags."""
    for pattern in _NON_PROSE_RES:
        line = pattern.sub(lambda m: " " * len(m.group(0)), line)
    return line


def find_tags(line: str) -> list[str]:
    """The tags in one line of prose, without ``#`` (``#VQ-VAE's`` gives ``VQ-VAE``)."""
    if "#" not in line:  # most lines: nothing to mask
        return []
    return [m.group(1).strip("/") for m in _TAG_RE.finditer(mask_non_prose(line))]


def split_tag_list(value: str) -> list[str]:
    """Parse a header value such as ``#Google_Brain #ICLR`` or ``a, b`` into tag names.

    Every name is kept: Obsidian_to_Anki's ``Tags:`` and ``FILE TAGS`` are Anki tags, where
    ``2017`` is fine. For Obsidian's tags use :func:`header_tags` or :func:`front_matter_tags`.
    """
    parts = re.split(r"[\s,]+", value.strip())
    return [p.lstrip("#") for p in parts if p.lstrip("#")]


def is_obsidian_tag(name: str) -> bool:
    """Would Obsidian take this as a tag? It needs a non-digit: ``2017`` is no tag, ``y2017`` is."""
    return bool(_VALID_RE.search(name))


def header_tags(value: str) -> list[str]:
    """The tags of a ``Tags: #Google_Brain #ICLR`` header line, by Obsidian's rules."""
    return [t for t in split_tag_list(value) if is_obsidian_tag(t)]


def front_matter_tags(value: object) -> list[str]:
    """The tags of a front matter ``tags:`` value, as Obsidian reads them.

    A list gives one tag per item; a string is split at spaces and commas (``alpha beta``
    and ``alpha, beta`` are two tags); a leading ``#`` is dropped; all-digit values
    (``- 2017``, which YAML reads as a number) are no tags. Anything else gives none.
    """
    if isinstance(value, str):
        return header_tags(value)
    if isinstance(value, list):
        items = (str(v).strip().lstrip("#") for v in value if isinstance(v, str | int | float))
        return [t for t in items if t and is_obsidian_tag(t)]
    return []


def anki_tag(tag: str) -> str:
    """Anki's form of an Obsidian tag: nesting ``a/b`` becomes ``a::b``, no spaces."""
    cleaned = re.sub(r"\s+", "_", tag.strip().lstrip("#"))
    return "::".join(part for part in cleaned.split("/") if part)


def unique(items: Iterable[str]) -> tuple[str, ...]:
    """Items without repeats, first occurrence first (case-insensitive, as Anki compares tags)."""
    seen: set[str] = set()
    out: list[str] = []
    for item in items:
        key = item.casefold()
        if item and key not in seen:
            seen.add(key)
            out.append(item)
    return tuple(out)
