"""LaTeX as Obsidian shows it, rewritten for the MathJax that Anki ships.

Obsidian's MathJax reads ``\\_``, ``\\%``, ``\\&``, ``\\#``, ``\\$``, ``\\{`` and ``\\}`` inside
``\\text{...}`` as the characters they escape. Anki's MathJax has its ``textmacros`` extension
off, so there they show as written: ``\\text{one\\_hot}`` reads "one\\_hot" on the card. Every
one of those escapes is also a math-mode command, so each is moved out of the text box into the
math around it (``\\text{one}\\_\\text{hot}``): the same glyphs in every MathJax, whatever its
settings, and the note's own LaTeX is left as the user wrote it.
"""

from __future__ import annotations

import re

__all__ = ["TEXT_COMMANDS", "escapes_out_of_text"]

TEXT_COMMANDS = (
    "text",
    "textrm",
    "textbf",
    "textit",
    "textsf",
    "texttt",
    "textup",
    "textnormal",
    "mbox",
    "hbox",
)
"""The commands whose argument MathJax typesets as text (not math)."""

_TEXT_START_RE = re.compile(r"\\(" + "|".join(TEXT_COMMANDS) + r")\s*\{")
_ESCAPED = frozenset("_%&#${}")


def closing_brace(tex: str, start: int, closer: str = "}") -> int | None:
    """The index of the ``}`` closing the group opened just before ``start``, or None; a
    backslash escapes the character after it (``\\{`` opens nothing). With ``closer="]"``:
    the ``]`` that ends an optional argument, the first outside any braces."""
    depth = 0
    i = start
    while i < len(tex):
        char = tex[i]
        if char == "\\":
            i += 2
            continue
        if char == closer and depth == 0:
            return i
        if char == "{":
            depth += 1
        elif char == "}":
            depth -= 1
        i += 1
    return None


def _top_level_escapes(body: str) -> list[int] | None:
    """Where ``body`` has an escape outside any inner group; None when splitting it is unsafe:
    an escape inside an inner group, or a ``$`` that opens math inside the text."""
    found: list[int] = []
    depth = 0
    i = 0
    while i < len(body):
        char = body[i]
        if char == "\\":
            if body[i + 1 : i + 2] in _ESCAPED:
                if depth:
                    return None
                found.append(i)
            i += 2
            continue
        if char == "$":
            return None
        depth += {"{": 1, "}": -1}.get(char, 0)
        i += 1
    return found


def _split_text(command: str, body: str, escapes: list[int]) -> str:
    pieces: list[str] = []
    last = 0
    for at in escapes:
        if at > last:
            pieces.append(f"\\{command}{{{body[last:at]}}}")
        pieces.append(body[at : at + 2])
        last = at + 2
    if last < len(body):
        pieces.append(f"\\{command}{{{body[last:]}}}")
    return "".join(pieces)


def escapes_out_of_text(tex: str) -> str:
    """``tex`` with every character escape inside a text command moved out into math mode.

    A text command whose braces never close is left as it is (MathJax reports it), and so
    is one with math inside (``\\text{if $x$}``) or an escape in an inner group: rare, and
    not worth a TeX parser.
    """
    out: list[str] = []
    pos = 0
    while match := _TEXT_START_RE.search(tex, pos):
        end = closing_brace(tex, match.end())
        if end is None:
            break
        body = tex[match.end() : end]
        out.append(tex[pos : match.start()])
        escapes = _top_level_escapes(body)
        if escapes:
            out.append(_split_text(match.group(1), body, escapes))
        else:
            out.append(tex[match.start() : end + 1])
        pos = end + 1
    out.append(tex[pos:])
    return "".join(out)
