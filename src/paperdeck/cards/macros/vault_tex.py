"""A vault's math, card by card: expanded with its macros, checked against what is known.

:class:`VaultTex` is made once per build (from macros.tex, see :mod:`.source`) and travels
with the render context; each field gets a :class:`FieldTex`, which the Markdown renderer
calls on every piece of math in order and which gathers the problems at their lines.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field

from paperdeck.cards.macros.check import unknown_commands
from paperdeck.cards.macros.define import Macro
from paperdeck.cards.macros.expand import MacroError, expand
from paperdeck.cards.macros.known import KnownTex, mathjax_known
from paperdeck.diagnostics import Diagnostic


@dataclass(frozen=True)
class VaultTex:
    """What every card's math is expanded with and checked against."""

    macros: Mapping[str, Macro] = field(default_factory=dict)
    """By name, without the backslash."""
    known: KnownTex = field(default_factory=mathjax_known)
    digest: str = ""
    """Of the macros file's bytes (``""``: there is none)."""
    diagnostics: tuple[Diagnostic, ...] = ()
    """What was wrong with the macros file, at its lines."""

    def fingerprint(self) -> str:
        """Changes whenever the macros file or MathJax's list does (every card re-renders)."""
        return f"{self.digest}:{self.known.digest}"

    def field(self) -> FieldTex:
        """A fresh checker for the math of one field."""
        return FieldTex(self)


@dataclass(frozen=True)
class TexProblem:
    """Something wrong in one piece of math."""

    line: int
    """The line within the field (0: its first)."""
    message: str
    error: bool
    """An error (the math cannot be made right), or a warning (it shows, partly in red)."""


class FieldTex:
    """The math of one field, in order: each piece expanded, its problems kept."""

    def __init__(self, tex: VaultTex) -> None:
        self.tex = tex
        self.local: set[str] = set()
        self.problems: list[TexProblem] = []

    def __call__(self, math: str, line: int) -> str:
        """``math`` (found at ``line`` of the field) as Anki's MathJax gets it; when its
        macros cannot be expanded, as written (with the problem kept)."""
        tex = self.tex
        for name in unknown_commands(math, tex.macros, tex.known, local=self.local):
            shows = "an error" if name.startswith("\\begin{") else "it in red"
            message = (
                f"{name} is neither defined in macros.tex nor known to Anki's MathJax "
                f"(the card shows {shows})"
            )
            self.problems.append(TexProblem(line, message, False))
        try:
            return expand(math, tex.macros)
        except MacroError as exc:
            self.problems.append(TexProblem(line, str(exc), exc.runaway))
            return math
