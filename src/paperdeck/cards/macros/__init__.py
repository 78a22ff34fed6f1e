"""A vault's LaTeX macros: macros.tex in, every card's math expanded and checked out.

``define`` reads the definitions, ``expand`` replaces their uses, ``check`` finds commands
nothing defines, against ``known`` (Anki's MathJax, listed by ``scripts/known_tex_commands.py``);
``vault_tex`` puts them together for a build and ``source`` reads the file.
"""

from paperdeck.cards.macros.define import Macro, MacroSet, parse_macros
from paperdeck.cards.macros.expand import MacroError, expand
from paperdeck.cards.macros.source import MacrosFile, read_macros_file
from paperdeck.cards.macros.vault_tex import FieldTex, TexProblem, VaultTex

__all__ = [
    "FieldTex",
    "Macro",
    "MacroError",
    "MacroSet",
    "MacrosFile",
    "TexProblem",
    "VaultTex",
    "expand",
    "parse_macros",
    "read_macros_file",
]
