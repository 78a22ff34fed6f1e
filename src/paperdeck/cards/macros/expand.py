"""Math with the vault's macros replaced by what they stand for (pure: TeX in, TeX out).

Expansion works as MathJax's own ``\\newcommand`` does: a macro and its arguments are
replaced by its body, ``#1``... by the arguments, and reading goes on at the start of what
was put in, so that macros using macros (and a macro whose body takes the arguments that
follow it) expand in turn. Everything else is copied byte for byte: math without macros
comes out exactly as it went in, and a ``%`` comment is left alone. A space goes in only
where a control word would otherwise run into a letter (``\\alpha`` then ``x``).

A macro that uses itself would never finish: after :data:`EXPANSION_LIMIT` replacements in
one piece of math (where MathJax stops too), or once it has grown by :data:`SIZE_LIMIT`
characters, expansion stops with a :class:`MacroError` that names the cycle.
"""

from __future__ import annotations

import re
from collections.abc import Mapping

from paperdeck.cards.macros.check import DEFINING
from paperdeck.cards.macros.define import Macro
from paperdeck.cards.macros.lexer import (
    argument,
    command,
    comment_end,
    join,
    optional,
    skip_space,
)

EXPANSION_LIMIT = 10_000
"""Macro replacements allowed in one piece of math."""
SIZE_LIMIT = 100_000
"""Characters one piece of math may grow to."""

_WORD = re.compile(r"\\[A-Za-z]+")
_SPECIAL = re.compile(r"[\\%]")


class MacroError(ValueError):
    """A piece of math whose macros cannot be expanded; ``runaway``: it never ends."""

    def __init__(self, message: str, *, runaway: bool = False) -> None:
        super().__init__(message)
        self.runaway = runaway


def expand(tex: str, macros: Mapping[str, Macro]) -> str:
    """``tex`` with every use of ``macros`` (by name, without backslash) expanded."""
    if not macros or "\\" not in tex:
        return tex
    return _Expansion(tex, macros).run()


class _Expansion:
    """Reads ``text`` from ``at``, then the rest of the math, ``tail`` from ``tail_at``.

    What a macro puts in becomes ``text`` and is read before the rest of the math, which is
    joined to it only when an argument has to be read across the two: each expansion costs
    the size of what it put in, not of the whole math."""

    def __init__(self, tex: str, macros: Mapping[str, Macro]) -> None:
        self.macros = macros
        self.original = len(tex)
        self.text, self.at = tex, 0
        self.tail, self.tail_at = "", 0
        self.done: list[str] = []
        self.size = 0
        self.used: list[str] = []

    def run(self) -> str:
        while True:
            if self.at >= len(self.text):
                if self.tail_at >= len(self.tail):
                    return "".join(self.done)
                self.text, self.at, self.tail, self.tail_at = self.tail, self.tail_at, "", 0
            text, at = self.text, self.at
            if text[at] == "%":
                self.copy(comment_end(text, at))
            elif text[at] != "\\":
                self.copy(_next_special(text, at))
            else:
                name, end = command(text, at)
                macro = self.macros.get(name)
                if macro is not None:
                    self.expand(macro, end)
                elif name in DEFINING:  # the math defines a command of its own: keep its name
                    self.copy(_defined_name_end(text, end))
                else:
                    self.copy(end)

    def copy(self, end: int) -> None:
        """Take ``text[at:end]`` as it is, with a space first where a control word would run
        into a letter (which only happens where what a macro put in meets what follows)."""
        piece = self.text[self.at : end]
        letter = piece[:1].isascii() and piece[:1].isalpha()
        if letter and self.done and _WORD.fullmatch(self.done[-1]):
            self.done.append(" ")
        self.done.append(piece)
        self.size += len(piece)
        self.at = end

    def expand(self, macro: Macro, end: int) -> None:
        """Put in what ``macro``, whose name ends at ``end``, stands for."""
        self.used.append(macro.name)
        waiting = len(self.text) - self.at + len(self.tail) - self.tail_at
        _check_limits(self.used, self.size + waiting, self.original)
        if macro.name[-1:].isascii() and macro.name[-1:].isalpha():
            end = skip_space(self.text, end)  # TeX ignores spaces after a control word
        found = None
        if self.tail_at < len(self.tail) and (macro.params or macro.default is not None):
            found = self.within_text(macro, end)
            if found is None:  # its arguments run on into the rest of the math
                end -= self.at
                self.text = join(self.text[self.at :], self.tail[self.tail_at :])
                self.at, self.tail, self.tail_at = 0, "", 0
        put, end = found or _replacement(macro, self.text, end)
        if self.tail_at >= len(self.tail):  # the rest of the math waits as the tail
            self.tail, self.tail_at = self.text, end
            self.text, self.at = put, 0
        else:  # within what a macro put in (small): join them
            self.text, self.at = join(put, self.text[end:]), 0

    def within_text(self, macro: Macro, end: int) -> tuple[str, int] | None:
        """The use of ``macro`` read within ``text`` alone; None if it may need more."""
        if macro.default is not None and skip_space(self.text, end) == len(self.text):
            return None  # its [option] may follow
        try:
            return _replacement(macro, self.text, end)
        except MacroError:
            return None


def _next_special(text: str, at: int) -> int:
    """The next ``\\`` or ``%`` from ``at`` (or the end)."""
    found = _SPECIAL.search(text, at)
    return found.start() if found else len(text)


def _defined_name_end(text: str, at: int) -> int:
    """Past the name a defining command (``\\newcommand{\\R}``, ``\\def\\R``) names."""
    if text[at : at + 1] == "*":
        at += 1
    arg = argument(text, at)
    return at if arg is None else arg[1]


def _replacement(macro: Macro, text: str, at: int) -> tuple[str, int]:
    """What the use of ``macro`` whose arguments start at ``at`` becomes, and its end."""
    args: list[str] = []
    if macro.default is not None:
        given = optional(text, at)
        args.append(given[0] if given else macro.default)
        at = given[1] if given else at
    while len(args) < macro.params:
        arg = argument(text, at)
        if arg is None:
            count = f"{macro.params} argument{'s' if macro.params != 1 else ''}"
            raise MacroError(f"\\{macro.name} takes {count}, but the math ends before them")
        args.append(arg[0])
        at = arg[1]
    return _substitute(macro.body, args), at


def _substitute(body: str, args: list[str]) -> str:
    """``body`` with ``#n`` replaced by the n-th argument and ``##`` by ``#``."""
    if "#" not in body:
        return body
    out, i, start = "", 0, 0
    while i < len(body):
        if body[i] == "\\":
            i += 2
        elif body[i] == "#" and i + 1 < len(body):
            out = join(out, body[start:i])
            after = body[i + 1]
            out = out + "#" if after == "#" else join(out, args[int(after) - 1])
            i = start = i + 2
        else:
            i += 1
    return join(out, body[start:])


def _check_limits(used: list[str], size: int, original: int) -> None:
    if len(used) > EXPANSION_LIMIT:
        raise MacroError(
            f"macros expand without end ({_cycle(used)}): does one use itself?", runaway=True
        )
    if size > SIZE_LIMIT + original:
        raise MacroError(
            f"macros make the math more than {SIZE_LIMIT:,} characters longer (\\{used[-1]} last)",
            runaway=True,
        )


def _cycle(used: list[str]) -> str:
    """The loop at the end of the macros expanded, as ``\\a → \\b → \\a``."""
    last = used[-1]
    before = len(used) - 2 - used[-2::-1].index(last) if last in used[:-1] else 0
    loop = used[before:][-8:]
    return " → ".join(f"\\{name}" for name in loop)
