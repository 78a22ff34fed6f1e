"""The TeX commands and environments Anki's MathJax knows, as MathJax itself lists them.

``mathjax_commands.txt`` is made by ``scripts/known_tex_commands.py`` from the tables of the
MathJax that Anki ships, configured as Anki configures it; it is never written by hand. A
command outside it (and outside the vault's macros) shows on a card as red text.
"""

from __future__ import annotations

import functools
import hashlib
from dataclasses import dataclass
from importlib.resources import files

LIST_NAME = "mathjax_commands.txt"


@dataclass(frozen=True)
class KnownTex:
    """What MathJax defines: command names without their backslash, environment names."""

    commands: frozenset[str]
    environments: frozenset[str]
    made_by: str
    """The list's header: which MathJax, configured how, made by what."""
    digest: str
    """Of the list, so that a new list re-renders every card."""

    def knows(self, name: str) -> bool:
        """Is ``\\name`` a MathJax command? (A backslash before white space always is.)"""
        return name in self.commands or not name.strip()


def parse_known(text: str) -> KnownTex:
    """The list's text (``# header`` lines, then ``\\name`` and ``\\begin{name}`` lines)."""
    commands: set[str] = set()
    environments: set[str] = set()
    header: list[str] = []
    for line in text.splitlines():
        if line.startswith("#"):
            header.append(line.lstrip("# "))
        elif line.startswith("\\begin{") and line.endswith("}"):
            environments.add(line[len("\\begin{") : -1])
        elif line.startswith("\\"):
            commands.add(line[1:])
    digest = hashlib.sha256(text.encode()).hexdigest()
    return KnownTex(frozenset(commands), frozenset(environments), " ".join(header), digest)


@functools.cache
def mathjax_known() -> KnownTex:
    """The list shipped with the package (read once per process)."""
    return parse_known(
        files("paperdeck.cards.macros").joinpath(LIST_NAME).read_text(encoding="utf-8")
    )
