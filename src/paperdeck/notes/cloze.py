"""Cloze deletions: ``{{c1::...}}`` as Anki writes them, ``==highlights==`` as clozes, and
Obsidian_to_Anki's CurlyCloze ``{...}``.

Math is opaque here: a ``}}`` inside ``$e^{x^{2}}$`` never closes a cloze, and in the
rendered field such braces are spaced (``} }``) so that Anki's own cloze parser, which
stops at the first ``}}``, cannot end the cloze early either.
"""

from __future__ import annotations

import re

# Math as Obsidian reads it: a closing ``$`` followed by a digit closes nothing ($5-$10).
_MATH_OR_CODE_RE = re.compile(
    r"\$\$.*?\$\$|\$(?=\S)(?:\\.|[^$\\])*?(?<=\S)\$(?![0-9])|(`+).*?\1", re.DOTALL
)
_OPEN_RE = re.compile(r"\{\{c([0-9]+)::")  # ASCII digits, as Anki reads them
_HIGHLIGHT_RE = re.compile(r"==(?=\S)(.+?)(?<=\S)==")
# CurlyCloze as the plugin reads it: one ``{`` (not ``{{``, not ``\{``), an optional
# ``N:``, ``N|``, ``cN:`` or ``cN|``, text that may span single line breaks, one ``}``.
_CURLY_RE = re.compile(r"(?<![{\\])\{(?:c?([0-9]+)[:|])?(?!\{)((?:[^\n][\n]?)+?)(?<!\})\}(?!\})")
# What CurlyCloze leaves alone besides ``$`` math and code: Anki's own ``\(..\)`` and
# ``\[..\]`` math, and clozes already written the Anki way.
_CURLY_OPAQUE_RE = re.compile(r"\\\(.*?\\\)|\\\[.*?\\\]|\{\{c[0-9]+::.*?\}\}", re.DOTALL)


def _masked(text: str) -> str:
    """``text`` with math and code replaced by spaces (same length, same offsets)."""
    return _MATH_OR_CODE_RE.sub(lambda m: " " * len(m.group(0)), text)


def has_cloze(text: str) -> bool:
    """Does the text hold a ``{{cN::`` deletion outside math and code?"""
    return bool(_OPEN_RE.search(_masked(text)))


def has_highlight(text: str) -> bool:
    """Does the text hold an ``==highlight==`` outside math and code?"""
    return bool(_HIGHLIGHT_RE.search(_masked(text)))


def highlights_to_clozes(text: str) -> str:
    """Turn each ``==x==`` into the next free ``{{cN::x}}`` (math and code left alone)."""
    masked = _masked(text)
    used = [int(n) for n in _OPEN_RE.findall(masked)]
    number = max(used, default=0)
    out: list[str] = []
    last = 0
    for match in _HIGHLIGHT_RE.finditer(masked):
        number += 1
        out.append(text[last : match.start()])
        out.append(f"{{{{c{number}::{text[match.start(1) : match.end(1)]}}}}}")
        last = match.end()
    out.append(text[last:])
    return "".join(out)


def curly_to_clozes(text: str) -> str:
    """CurlyCloze: ``{a}`` to ``{{c1::a}}``, ``{2:b}``/``{c2|b}`` to ``{{c2::b}}``.

    Numbering is the plugin's: unnumbered clozes count c1, c2, ... in order, whatever the
    numbered ones say (``{a} {3:b} {c}`` gives c1, c3, c2). Braces inside math (``$...$``,
    ``$$...$$``, ``\\(...\\)``, ``\\[...\\]``), inline or fenced code, an Anki cloze, or
    escaped as ``\\{`` are never clozes, so ``$\\frac{a}{b}$`` stays as it is.
    """
    masked = _CURLY_OPAQUE_RE.sub(lambda m: " " * len(m.group(0)), _masked(text))
    counter = 0
    out: list[str] = []
    last = 0
    for match in _CURLY_RE.finditer(masked):
        if match.group(1) is not None:
            number = int(match.group(1))
        else:
            counter += 1
            number = counter
        out.append(text[last : match.start()])
        out.append(f"{{{{c{number}::{text[match.start(2) : match.end(2)]}}}}}")
        last = match.end()
    out.append(text[last:])
    return "".join(out)


def has_curly_cloze(text: str) -> bool:
    """Does the text hold a CurlyCloze ``{...}`` outside math and code?"""
    masked = _CURLY_OPAQUE_RE.sub(lambda m: " " * len(m.group(0)), _masked(text))
    return bool(_CURLY_RE.search(masked))


def cloze_problems(text: str) -> list[tuple[int, str]]:
    """Unclosed or stray cloze markers, as (0-based line offset, message)."""
    masked = _masked(text)
    problems: list[tuple[int, str]] = []
    depth: list[int] = []
    i = 0
    while i < len(masked):
        if (m := _OPEN_RE.match(masked, i)) is not None:
            depth.append(i)
            i = m.end()
        elif masked.startswith("}}", i) and depth:
            depth.pop()
            i += 2
        else:
            i += 1
    for start in depth:
        problems.append((masked.count("\n", 0, start), "cloze '{{c...::' is never closed by '}}'"))
    return problems


def space_double_braces(math: str) -> str:
    """``}}`` to ``} }`` inside math that sits in a cloze note (same TeX, safe for Anki)."""
    while "}}" in math:
        math = math.replace("}}", "} }")
    return math
