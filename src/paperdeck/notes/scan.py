"""The working state of one parse, and the line patterns every card syntax shares.

Each line is kept twice: as written (card text comes from it) and *bare*, with comments
blanked out (markers are looked for in it), so that nothing inside ``<!-- -->`` or
``%% %%`` is ever mistaken for a card while the text of a card keeps its comments.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field

from paperdeck.diagnostics import Diagnostic, clip, error

LINE_RE = re.compile(r"[^\r\n]*(?:\r\n|\r|\n)|[^\r\n]+$")
Q_RE = re.compile(r"^Q:(?:[ \t]|$)")
A_RE = re.compile(r"^A:(?:[ \t]|$)")
# ASCII digits only: ``\d`` would also take Arabic-Indic and other digits. The plain form
# ``ID: N`` is what Obsidian_to_Anki writes with its "ID comments" setting off.
ID_RE = re.compile(r"^\s*(?:<!--\s*ID:\s*([0-9]{1,19})\s*-->|ID:[ \t]*([0-9]{1,19}))\s*$")
ID_LIKE_RE = re.compile(r"^\s*(?:(?i:<!--\s*ID\b)|ID:[ \t]*\d+\s*$)")
DELETE_RE = re.compile(r"^\s*DELETE\s*$")
HEADING_RE = re.compile(r"^ {0,3}(#{1,6})(?:[ \t]+(.*?))?(?:[ \t]+#+)?[ \t]*$")
SETTING_RE = re.compile(r"^(TARGET DECK|FILE TAGS)\s*:?\s*(.*?)\s*$")
FROZEN_RE = re.compile(r"^FROZEN - (.+):[ \t]*$")
MAX_ID = 2**63 - 1


def split_lines(text: str) -> list[str]:
    """Lines with their own endings kept, so that joining them gives back ``text``."""
    return LINE_RE.findall(text)


@dataclass
class Scan:
    """Working state of one parse: the lines and what has been found so far."""

    path: str
    lines: list[str]
    bare: list[str] = field(default_factory=list)
    """Each line without its ending and with comment text blanked (same length)."""
    code: set[int] = field(default_factory=set)
    """Fenced and indented code and ``$$`` math blocks."""
    excluded: set[int] = field(default_factory=set)
    """Code, math and comment-only lines: never card markers."""
    claimed: set[int] = field(default_factory=set)
    """Lines that belong to a card or a file setting (regex styles skip them)."""
    comments: dict[int, list[tuple[int, int]]] = field(default_factory=dict)
    """(start, end) columns of comment text on each line that has some."""
    inline: dict[int, list[tuple[int, int]]] = field(default_factory=dict)
    """Lines holding ``STARTI ... ENDI`` notes, with the (start, end) column of each."""
    syntax: dict[int, list[tuple[int, int]]] = field(default_factory=dict)
    """Column ranges that are a regex style's own text (``#flashcard``), not prose."""
    open_fence: int | None = None
    """A fence that is never closed and so runs to the end of the note: its first line."""
    diagnostics: list[Diagnostic] = field(default_factory=list)

    def __post_init__(self) -> None:
        if not self.bare:
            self.bare = [line.rstrip("\r\n") for line in self.lines]

    def text(self, i: int) -> str:
        """Line ``i`` as written, without its ending."""
        return self.lines[i].rstrip("\r\n")

    def content(self, i: int, start: int = 0, end: int | None = None) -> str:
        """Line ``i`` (or its columns ``start:end``) as it goes into a card: comments cut
        out, since Obsidian hides them and a ``{{c2::...}}`` inside one must make no card."""
        text = self.text(i)
        end = len(text) if end is None else end
        spans = self.comments.get(i)
        if not spans:
            return text[start:end]
        pieces: list[str] = []
        position = start
        for a, b in spans:
            if b > position and a < end:
                pieces.append(text[position : max(a, position)])
                position = min(b, end)
        pieces.append(text[position:end])
        return "".join(pieces).rstrip()

    def is_blank(self, i: int) -> bool:
        return not self.text(i).strip()

    def is_id_like(self, i: int) -> bool:
        """An ID line, valid or not, outside code."""
        return (
            0 <= i < len(self.lines)
            and i not in self.excluded
            and bool(ID_LIKE_RE.match(self.bare[i]))
        )

    def deletes(self, i: int) -> bool:
        """``DELETE`` on line ``i`` with an ID line right under it."""
        if i in self.excluded or not DELETE_RE.match(self.bare[i]):
            return False
        return self.is_id_like(i + 1)

    def is_marker(self, i: int) -> bool:
        """Lines of the plugin's syntax that no Q/A card or paragraph runs through."""
        bare = self.bare[i]
        stripped = bare.strip()
        return bool(
            stripped in ("START", "END")
            or i in self.inline
            or SETTING_RE.match(bare)
            or FROZEN_RE.match(bare)
        )

    def error(self, i: int, message: str) -> None:
        """An error at 0-based line ``i``."""
        self.diagnostics.append(error(self.path, i + 1, message))

    def read_id(self, i: int) -> tuple[int | None, int | None]:
        """The ID on line ``i`` (which must be ID-like) and its 1-based line, the line being
        ``None`` when it is malformed; problems are reported there."""
        m = ID_RE.match(self.bare[i])
        if m is None:
            self.error(i, f"malformed card ID: {clip(self.text(i).strip())}")
            return None, None
        return self.check_id(i, m.group(1) or m.group(2)), i + 1

    def check_id(self, i: int, digits: str) -> int | None:
        """An ID's digits as a number, or ``None`` (reported) when out of range or not ASCII."""
        if not digits.isascii() or not digits.isdigit() or len(digits) > 19:
            self.error(i, f"malformed card ID: ID: {clip(digits)}")
            return None
        value = int(digits)
        if not 0 < value <= MAX_ID:
            self.error(i, f"card ID out of range: {value}")
            return None
        return value


def heading(text: str) -> tuple[int, str] | None:
    """``(level, text)`` of an ATX heading line, else ``None``."""
    m = HEADING_RE.match(text)
    if m is None:
        return None
    return len(m.group(1)), (m.group(2) or "").strip()
