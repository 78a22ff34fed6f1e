r"""Formulas between the two spellings: as paperdeck renders them, and as a note holds them.

:mod:`paperdeck.cards.tex` moves escapes out of ``\text{}`` (``\text{a}\_\text{b}``) and a
cloze note spaces ``}}`` in math (``} }``): what the card holds. Comparing two formulas needs
the rendered spelling (:func:`normal_tex`); writing one back into a note needs the note's
(:func:`note_tex`), where the two show the same glyphs.
"""

from __future__ import annotations

import re

from paperdeck.cards.tex import TEXT_COMMANDS, closing_brace, escapes_out_of_text
from paperdeck.cards.unrender.structure import NBSP, WHITE_SPACE
from paperdeck.notes.cloze import space_double_braces

_TEXT_GROUP_RE = re.compile(r"\\(" + "|".join(TEXT_COMMANDS) + r")\{")


def normal_tex(tex: str, cloze: bool) -> str:
    """A formula as paperdeck renders it: what two spellings of it must share."""
    tex = escapes_out_of_text(tex.replace(NBSP, " ").strip(WHITE_SPACE))
    return space_double_braces(tex) if cloze else tex


def note_tex(tex: str, cloze: bool) -> str:
    """A formula as the note would hold it: cloze braces joined, text escapes back in."""
    if cloze:
        while "} }" in tex:
            tex = tex.replace("} }", "}}")
    joined = escapes_into_text(tex)
    return joined if escapes_out_of_text(joined) == escapes_out_of_text(tex) else tex


def escapes_into_text(tex: str) -> str:
    """``\\text{a}\\_\\text{b}`` -> ``\\text{a\\_b}``: the inverse of
    :func:`~paperdeck.cards.tex.escapes_out_of_text` for escapes between two groups of the
    same text command, or after the last group that ends the formula. Other escapes stay
    outside (``\\{\\text{a}``: the same glyphs either way)."""
    out: list[str] = []
    pos = 0
    while match := _TEXT_GROUP_RE.search(tex, pos):
        end = closing_brace(tex, match.end())
        if end is None:
            break
        command, body, after = match.group(1), tex[match.end() : end], end + 1
        while True:
            k = after
            escapes = ""
            while tex[k : k + 1] == "\\" and tex[k + 1 : k + 2] in "_%&#${}" and k + 1 < len(tex):
                escapes += tex[k : k + 2]
                k += 2
            opening = f"\\{command}{{"
            if escapes and k == len(tex):  # ``\text{a}\}`` ending the formula
                body += escapes
                after = k
                break
            if not escapes or not tex.startswith(opening, k):
                break
            close = closing_brace(tex, k + len(opening))
            if close is None:
                break
            body += escapes + tex[k + len(opening) : close]
            after = close + 1
        out.append(tex[pos : match.start()] + f"\\{command}{{{body}}}")
        pos = after
    out.append(tex[pos:])
    return "".join(out)
