"""Reading TeX source the way TeX and MathJax read it: control sequences, groups, arguments.

Positions are indexes into a string; every function returns where reading stopped, so the
callers can copy everything they do not rewrite byte for byte. A control word is a
backslash and ASCII letters (``\\alpha``), a control symbol a backslash and one other
character (``\\,``), as in MathJax (``@`` is no letter here either).
"""

from __future__ import annotations

import re

from paperdeck.cards.tex import closing_brace

_LETTERS = re.compile(r"[A-Za-z]+")
_SPACE = " \t\r\n"
_ENDS_WITH_WORD = re.compile(r"(?:^|[^\\])(?:\\\\)*\\[A-Za-z]+$")


def command(text: str, at: int) -> tuple[str, int]:
    """The name of the control sequence whose backslash is at ``at`` (``""`` for a backslash
    that ends the text), and the index just after the name."""
    word = _LETTERS.match(text, at + 1)
    if word:
        return word.group(), word.end()
    return text[at + 1 : at + 2], min(at + 2, len(text))


def skip_space(text: str, at: int) -> int:
    """The first index from ``at`` that is not white space."""
    while at < len(text) and text[at] in _SPACE:
        at += 1
    return at


def comment_end(text: str, at: int) -> int:
    """Just past the line break ending the ``%`` comment at ``at`` (or the end of text)."""
    end = text.find("\n", at)
    return len(text) if end < 0 else end + 1


def group_end(text: str, at: int) -> int | None:
    """Just past the ``}`` that closes the ``{`` at ``at``; None when it never closes."""
    close = closing_brace(text, at + 1)
    return None if close is None else close + 1


def argument(text: str, at: int) -> tuple[str, int] | None:
    """An undelimited macro argument from ``at`` (spaces before it skipped): a group's content
    without its braces, a control sequence, or one character; None when there is none (the
    text ends, a ``}`` comes first, or a group never closes)."""
    at = skip_space(text, at)
    if at >= len(text) or text[at] == "}":
        return None
    if text[at] == "{":
        end = group_end(text, at)
        return None if end is None else (text[at + 1 : end - 1], end)
    if text[at] == "\\":
        _, end = command(text, at)
        return text[at:end], end
    return text[at], at + 1


def optional(text: str, at: int) -> tuple[str, int] | None:
    """A ``[...]`` argument from ``at`` (spaces before it skipped): its content and the index
    past ``]``, which closes it only outside braces; None when there is none."""
    at = skip_space(text, at)
    if at >= len(text) or text[at] != "[":
        return None
    end = closing_brace(text, at + 1, closer="]")
    return None if end is None else (text[at + 1 : end], end + 1)


def join(before: str, after: str) -> str:
    """``before + after``, with a space between when ``before`` ends with a control word and
    ``after`` starts with a letter (``\\alpha`` + ``x`` must not become ``\\alphax``)."""
    if after[:1].isascii() and after[:1].isalpha() and _ENDS_WITH_WORD.search(before):
        return before + " " + after
    return before + after


def without_comments(text: str) -> str:
    """``text`` without its ``%`` comments; as in TeX, a comment also takes its line break
    and the next line's leading spaces (``{%`` at a line's end joins two lines)."""
    out: list[str] = []
    i = start = 0
    while i < len(text):
        char = text[i]
        if char == "\\":
            i += 2
            continue
        if char == "%":
            out.append(text[start:i])
            i = start = len(text) - len(text[comment_end(text, i) :].lstrip(" \t"))
            continue
        i += 1
    out.append(text[start:])
    return "".join(out)
