"""HTML ``<!-- -->`` and Obsidian ``%% %%`` comments: text the reader never sees.

Nothing inside a comment becomes a card or gets an ID, so comments are blanked out of the
text that card markers are looked for in. ``<!--ID: N-->`` is the one comment that is
markup, not a comment: it is left alone.
"""

from __future__ import annotations

import re
from collections.abc import Iterable
from dataclasses import dataclass

_OPEN_RE = re.compile(r"<!--|%%")
_ID_COMMENT_RE = re.compile(r"<!--\s*ID\b[^\n]*?(?:-->|$)", re.IGNORECASE)
_INLINE_CODE_RE = re.compile(r"(`+).*?\1")
_CLOSERS = {"<!--": "-->", "%%": "%%"}


@dataclass(frozen=True)
class Comments:
    """Where the comments of a note are."""

    bare: list[str]
    """Each line with comment text (delimiters included) replaced by spaces."""
    only: set[int]
    """Lines that hold nothing but comment (and spaces)."""
    spans: dict[int, list[tuple[int, int]]]
    """(start, end) columns of the comment text on each line that has some."""
    unclosed: list[tuple[int, str]]
    """(line, opener) of a comment never closed: it hides the rest of the note."""


def find_comments(lines: list[str], skip: Iterable[int] = ()) -> Comments:
    """Blank the comments of ``lines`` (without endings). Lines in ``skip`` (code, front
    matter) open no comment, but one that is already open runs on through them."""
    skipped = set(skip)
    bare: list[str] = []
    only: set[int] = set()
    spans: dict[int, list[tuple[int, int]]] = {}
    closer: str | None = None
    opened: tuple[int, str] | None = None
    for i, line in enumerate(lines):
        if closer is None and (i in skipped or ("<!--" not in line and "%%" not in line)):
            bare.append(line)  # code, front matter, or most lines: no comment opens here
            continue
        detect = _INLINE_CODE_RE.sub(lambda m: " " * len(m.group(0)), line)
        out = list(line)
        pos, start, touched = 0, 0, closer is not None
        while pos <= len(line):
            if closer is None:
                found = _next_opener(detect, pos)
                if found is None:
                    break
                start, opener = found
                closer, opened, touched = _CLOSERS[opener], (i, opener), True
                pos = start + len(opener)
            else:
                end = detect.find(closer, pos)
                stop = len(line) if end < 0 else end + len(closer)
                out[start:stop] = " " * (stop - start)
                if stop > start:
                    spans.setdefault(i, []).append((start, stop))
                if end < 0:
                    break
                closer, pos = None, stop
        bare.append("".join(out))
        if touched and line.strip() and not bare[-1].strip():
            only.add(i)
    unclosed = [opened] if closer is not None and opened is not None else []
    return Comments(bare, only, spans, unclosed)


def _next_opener(text: str, pos: int) -> tuple[int, str] | None:
    """The next comment opener at or after ``pos``; ID comments are skipped over."""
    while (m := _OPEN_RE.search(text, pos)) is not None:
        if m.group(0) == "<!--" and (idm := _ID_COMMENT_RE.match(text, m.start())) is not None:
            pos = max(idm.end(), m.end())
            continue
        return m.start(), m.group(0)
    return None
