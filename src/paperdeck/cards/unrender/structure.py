r"""The normalised structure of a card: what Anki's HTML and the note's rendering are both
read into, so that two spellings of one card compare equal (``==``) and one is not an edit.

Also the few constants every stage shares: white space as a browser sees it, and the
private-use characters that mark places while text is worked on (no card holds them).
"""

from __future__ import annotations

import re
from dataclasses import dataclass


@dataclass(frozen=True)
class Math:
    """A formula, as the renderer writes it (``\\text{}`` escapes moved out, cloze braces
    spaced), so that two spellings of one formula compare equal."""

    tex: str
    display: bool


@dataclass(frozen=True)
class Sound:
    """``[sound:name]``: audio or video, by media name."""

    name: str


@dataclass(frozen=True)
class El:
    """An element: ``p``, ``strong``, ``img``, ``wikilink``, ... with sorted attributes."""

    tag: str
    attrs: tuple[tuple[str, str], ...] = ()
    children: tuple[Node, ...] = ()

    def attr(self, name: str) -> str | None:
        return dict(self.attrs).get(name)


Node = str | Math | Sound | El

BR = El("br")

RAW_INLINE_TAGS = frozenset(
    {"u", "sub", "sup", "kbd", "ins", "small", "big", "q", "cite", "dfn", "var", "samp", "tt"}
)
"""Inline tags with no Markdown of their own: written back as HTML, which notes may hold."""

WHITE_SPACE = " \t\n\r\f\u00a0"
WHITE_SPACE_RE = re.compile(r"[ \t\n\r\f\u00a0]+")
NBSP = "\u00a0"

# Stand-ins while a formula is found across text and line breaks, and the mark of an
# optional backslash while text is written: private-use characters no card holds.
ESCAPE_MARK = "\ue000"
STAND_IN_BR, STAND_IN_LINE, STAND_IN_OBJECT = "\ue001", "\ue002", "\ue003"
PRIVATE_USE_RE = re.compile("[\ue000-\ue003]")
