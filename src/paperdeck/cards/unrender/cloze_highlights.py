"""A cloze question's ``==highlights==``, rendered as clozes, written back as highlights.

In a cloze question paperdeck turns each ``==highlight==`` into ``{{cN::...}}``; a new text
for such a field would otherwise bring the cloze syntax into a note that never had it.
"""

from __future__ import annotations

import re

from paperdeck.notes.cloze import highlights_to_clozes

_CLOZE_OPEN_RE = re.compile(r"\{\{c([0-9]+)::")


def highlight_numbers(source: str) -> set[int]:
    """The cloze numbers :func:`highlights_to_clozes` gives the note's ``==highlights==``."""
    before = set(_CLOZE_OPEN_RE.findall(source))
    after = set(_CLOZE_OPEN_RE.findall(highlights_to_clozes(source)))
    return {int(n) for n in after - before}


def clozes_to_highlights(text: str, numbers: set[int]) -> str:
    """``{{cN::x}}`` back to ``==x==`` for the numbers that were highlights in the note."""
    if not numbers:
        return text
    out: list[str] = []
    pos = 0
    for match in _CLOZE_OPEN_RE.finditer(text):
        if match.start() < pos or int(match.group(1)) not in numbers:
            continue
        end = _cloze_end(text, match.end())
        if end is None or "::" in text[match.end() : end]:
            continue
        out.append(text[pos : match.start()] + "==" + text[match.end() : end] + "==")
        pos = end + 2
    out.append(text[pos:])
    return "".join(out)


def _cloze_end(text: str, start: int) -> int | None:
    """Where the cloze opened before ``start`` closes (``}}`` outside ``$...$`` math)."""
    i = start
    in_math = False
    while i < len(text):
        if text[i] == "\\":
            i += 2
            continue
        if text[i] == "$":
            in_math = not in_math
        elif not in_math and text.startswith("}}", i):
            return i
        i += 1
    return None
