"""The commands in a piece of math that nothing defines (pure: TeX in, names out).

A command is known when Anki's MathJax defines it, the vault's macros.tex does, or the math
itself does before using it (``\\newcommand``, ``\\def``, ``\\let``, ``\\DeclareMathOperator``
in a card, which MathJax runs). What MathJax reads as text or as a name is not math and is
not looked at: the argument of ``\\text`` and its siblings (but for math inside it,
``\\text{if $\\x$}``), the names of ``\\label``, ``\\color`` and the like, ``\\verb``.
"""

from __future__ import annotations

import re
from collections.abc import Container

from paperdeck.cards.macros.known import KnownTex
from paperdeck.cards.macros.lexer import argument, command, comment_end, group_end, skip_space
from paperdeck.cards.tex import TEXT_COMMANDS

NAME_ARGUMENT = frozenset(
    {
        *("label", "ref", "eqref", "tag", "require", "unicode"),
        *("color", "textcolor", "colorbox", "fcolorbox", "definecolor"),
        *("href", "class", "cssId", "style"),
    }
)
"""Commands whose first argument is a name, a URL or a number: never math."""

DEFINING = frozenset(
    {"newcommand", "renewcommand", "providecommand", "DeclareMathOperator", "def", "gdef", "let"}
)
"""Commands whose next argument is the name of a command they define."""

ENVIRONMENT_DEFINING = frozenset({"newenvironment", "renewenvironment"})
MAX_DEPTH = 32
"""Text in math in text...: deeper than this is not looked into (never a recursion error)."""
_SPECIAL = re.compile(r"[\\%]")
_COMMAND_RE = re.compile(r"\\([A-Za-z]+|.)", re.DOTALL)
"""Each control sequence's name, read as :func:`~.lexer.command` reads it."""
_LOOKED_INTO = frozenset(
    {*TEXT_COMMANDS, "begin", "end", "verb", *NAME_ARGUMENT, *ENVIRONMENT_DEFINING, *DEFINING}
)
"""Commands after which the walk reads an argument rather than the next command."""


def unknown_commands(
    tex: str, defined: Container[str], known: KnownTex, *, local: set[str] | None = None
) -> list[str]:
    """Each command (``\\foo``) or environment (``\\begin{foo}``) that ``tex`` uses and
    nothing defines, once, in order; ``defined`` are the vault's macro names. ``local``
    gathers what the math defines for itself (``foo``, ``\\begin{foo}``), for the math that
    follows it on the same card."""
    if "%" not in tex:  # most math: commands that are only names to look up
        names = _COMMAND_RE.findall(tex)
        if _LOOKED_INTO.isdisjoint(names):
            gathered = set() if local is None else local
            unknown = (n for n in names if not (known.knows(n) or n in defined or n in gathered))
            return list(dict.fromkeys(f"\\{n}" for n in unknown))
    walk = _Walk(defined, known, set() if local is None else local)
    walk.math(tex)
    return list(walk.found)


class _Walk:
    def __init__(self, defined: Container[str], known: KnownTex, local: set[str]) -> None:
        self.defined = defined
        self.known = known
        self.local = local
        self.found: dict[str, None] = {}
        self.depth = 0

    def math(self, tex: str) -> None:
        at = 0
        while found := _SPECIAL.search(tex, at):
            at = found.start()
            at = comment_end(tex, at) if tex[at] == "%" else self.command(tex, at)

    def command(self, tex: str, at: int) -> int:
        """Look at the command at ``at``; returns where the math goes on."""
        name, end = command(tex, at)
        if name in TEXT_COMMANDS:
            return self.text(tex, end)
        if name in ("begin", "end") or name in NAME_ARGUMENT or name in ENVIRONMENT_DEFINING:
            if tex[end : end + 1] == "*":
                end += 1
            arg = argument(tex, end)
            if arg is None:
                return end
            if name == "begin":
                self.environment(arg[0].strip())
            elif name in ENVIRONMENT_DEFINING:
                self.local.add(f"\\begin{{{arg[0].strip()}}}")
            return arg[1]
        if name == "verb":
            close = tex.find(tex[end : end + 1], end + 1) if end < len(tex) else -1
            return len(tex) if close < 0 else close + 1
        if name in DEFINING:
            if tex[end : end + 1] == "*":
                end += 1
            arg = argument(tex, end)
            if arg is not None and arg[0].strip().startswith("\\"):
                self.local.add(command(arg[0].strip(), 0)[0])
                return arg[1]
            return end
        if not (self.known.knows(name) or name in self.defined or name in self.local):
            self.found[f"\\{name}"] = None
        return end

    def environment(self, name: str) -> None:
        shown = f"\\begin{{{name}}}"
        if name not in self.known.environments and shown not in self.local:
            self.found[shown] = None

    def text(self, tex: str, at: int) -> int:
        """Skip a text argument, looking only at the math inside it (``$...$``, ``\\(...\\)``)."""
        start = skip_space(tex, at)
        if tex[start : start + 1] != "{":
            arg = argument(tex, at)
            return at if arg is None else arg[1]
        end = group_end(tex, start)
        if end is None:
            return len(tex)
        if self.depth >= MAX_DEPTH:  # math in text in math ...: no note nests this deep
            return end
        self.depth += 1
        body, i = tex[start + 1 : end - 1], 0
        while i < len(body):
            if body.startswith("\\(", i):
                close = body.find("\\)", i + 2)
                close = len(body) if close < 0 else close
                self.math(body[i + 2 : close])
                i = close + 2
            elif body[i] == "\\":
                i += 2
            elif body[i] == "$":
                close = _unescaped(body, "$", i + 1)
                self.math(body[i + 1 : close])
                i = close + 1
            else:
                i += 1
        self.depth -= 1
        return end


def _unescaped(text: str, char: str, at: int) -> int:
    """The index of the next ``char`` from ``at`` that no backslash escapes (or the end)."""
    while at < len(text):
        if text[at] == "\\":
            at += 2
        elif text[at] == char:
            return at
        else:
            at += 1
    return len(text)
