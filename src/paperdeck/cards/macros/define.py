"""A vault's ``macros.tex`` read into macro definitions (pure: text in, definitions and
warnings out).

It reads what LaTeX preambles and MathJax configurations share: ``\\newcommand``,
``\\renewcommand`` and ``\\providecommand`` (with ``*``, a number of arguments and a
default for the first), ``\\DeclareMathOperator`` (and ``*``), and ``\\def`` with simple
``#1#2`` parameters, with ``%`` comments anywhere. They mean what they mean in LaTeX: a
``\\newcommand`` for a command that exists (earlier in the file, or in Anki's MathJax) is
refused, ``\\renewcommand`` replaces, ``\\providecommand`` defines only what does not exist,
``\\def`` always defines. Anything else is a warning at its line and is skipped.
"""

from __future__ import annotations

import bisect
from collections.abc import Callable
from dataclasses import dataclass, field

from paperdeck.cards.macros.check import unknown_commands
from paperdeck.cards.macros.known import KnownTex, mathjax_known
from paperdeck.cards.macros.lexer import (
    command,
    comment_end,
    group_end,
    optional,
    skip_space,
    without_comments,
)
from paperdeck.diagnostics import Diagnostic, clip, warning

READ = "\\newcommand, \\renewcommand, \\providecommand, \\DeclareMathOperator and \\def"
"""What macros.tex may hold, for messages."""


@dataclass(frozen=True)
class Macro:
    """One definition: ``\\name`` takes ``params`` arguments (the first optional, with
    ``default``, when that is not None) and becomes ``body`` with ``#1``... replaced."""

    name: str
    """Without its backslash."""
    params: int
    default: str | None
    body: str
    line: int
    """Where macros.tex defines it."""


@dataclass
class MacroSet:
    """Every definition of a macros file, by name, with what was wrong in the file."""

    macros: dict[str, Macro] = field(default_factory=dict)
    diagnostics: list[Diagnostic] = field(default_factory=list)


def parse_macros(text: str, *, path: str, known: KnownTex | None = None) -> MacroSet:
    """The definitions in ``text`` (macros.tex, shown as ``path`` in warnings); ``known`` is
    what MathJax defines already (default: Anki's MathJax)."""
    reader = _Reader(text, path, known or mathjax_known())
    reader.read()
    reader.check_bodies()
    reader.out.diagnostics.sort(key=lambda d: d.line)
    return reader.out


class _Reader:
    """One pass over macros.tex; each definition method returns where reading goes on."""

    def __init__(self, text: str, path: str, known: KnownTex) -> None:
        self.text = text
        self.path = path
        self.known = known
        self.out = MacroSet()
        self.line_starts = [0, *(i + 1 for i, c in enumerate(text) if c == "\n")]
        self.definers: dict[str, Callable[[str, int, int], int]] = {
            "newcommand": self.newcommand,
            "renewcommand": self.newcommand,
            "providecommand": self.newcommand,
            "DeclareMathOperator": self.operator,
            "def": self.define,
            "gdef": self.define,
        }

    def line(self, at: int) -> int:
        return bisect.bisect_right(self.line_starts, at)

    def warn(self, at: int, message: str) -> None:
        self.out.diagnostics.append(warning(self.path, self.line(at), message))

    def next_line(self, at: int) -> int:
        """Where reading resumes after a problem at ``at``: the next line."""
        return comment_end(self.text, at)

    def read(self) -> None:
        text, at = self.text, 0
        while at < len(text):
            char = text[at]
            if char.isspace():
                at += 1
            elif char == "%":
                at = comment_end(text, at)
            elif char == "\\":
                name, end = command(text, at)
                definer = self.definers.get(name)
                at = definer(name, at, end) if definer else self.ignore(name, at, end)
            else:
                snippet = clip(text[at : self.next_line(at)].strip(), 30)
                self.warn(at, f"unexpected text {snippet!r}: macros.tex holds only {READ}")
                at = self.next_line(at)

    def ignore(self, name: str, start: int, at: int) -> int:
        """Skip another command with its ``[...]`` and ``{...}`` arguments (``\\usepackage``)."""
        self.warn(start, f"\\{name} is ignored: macros.tex holds only {READ}")
        while True:
            nxt = skip_space(self.text, at)
            if self.text[nxt : nxt + 1] == "{":
                end = group_end(self.text, nxt)
            elif (bracket := optional(self.text, nxt)) is not None:
                end = bracket[1]
            else:
                return at
            if end is None:
                return self.next_line(start)
            at = end

    def name(self, definer: str, start: int, at: int) -> tuple[str, int] | None:
        """The command a definition defines: ``{\\name}`` or ``\\name``."""
        at = skip_space(self.text, at)
        if self.text[at : at + 1] == "{" and (end := group_end(self.text, at)) is not None:
            inner = without_comments(self.text[at + 1 : end - 1]).strip()
            if inner.startswith("\\") and len(inner) > 1 and command(inner, 0)[1] == len(inner):
                return command(inner, 0)[0], end
        elif self.text[at : at + 1] == "\\":
            found, end = command(self.text, at)
            if found:
                return found, end
        self.warn(start, f"\\{definer} needs the name of a command, as in \\{definer}{{\\R}}")
        return None

    def body(self, what: str, start: int, at: int) -> tuple[str, int] | None:
        """A definition's ``{body}``, without comments."""
        at = skip_space(self.text, at)
        if self.text[at : at + 1] != "{":
            self.warn(start, f"{what}: the definition must follow in braces {{...}}")
            return None
        end = group_end(self.text, at)
        if end is None:
            self.warn(start, f"{what}: the {{ opening its definition is never closed")
            return None
        return without_comments(self.text[at + 1 : end - 1]), end

    def newcommand(self, definer: str, start: int, at: int) -> int:
        """``\\newcommand*{\\name}[n][default]{body}`` and its siblings."""
        if self.text[at : at + 1] == "*":
            at += 1
        named = self.name(definer, start, at)
        if named is None:
            return self.next_line(start)
        name, at = named
        what = f"\\{definer}{{\\{name}}}"
        params, default = 0, None
        if (count := optional(self.text, at)) is not None:
            if not (count[0].strip().isdigit() and len(count[0].strip()) == 1):
                self.warn(start, f"{what}: [{clip(count[0], 20)}] must be a number from 0 to 9")
                return self.next_line(start)
            params, at = int(count[0]), count[1]
            if params and (given := optional(self.text, at)) is not None:
                default, at = without_comments(given[0]), given[1]
        body = self.body(what, start, at)
        if body is None:
            return self.next_line(start)
        self.add(definer, Macro(name, params, default, body[0], self.line(start)), start)
        return body[1]

    def operator(self, definer: str, start: int, at: int) -> int:
        """``\\DeclareMathOperator{\\name}{text}``: ``\\operatorname{text}`` (``*``: limits
        go below and above, ``\\operatorname*``)."""
        star = self.text[at : at + 1] == "*"
        named = self.name(definer, start, at + star)
        if named is None:
            return self.next_line(start)
        name, at = named
        body = self.body(f"\\{definer}{{\\{name}}}", start, at)
        if body is None:
            return self.next_line(start)
        shown = f"\\operatorname{'*' if star else ''}{{{body[0].strip()}}}"
        self.add("newcommand", Macro(name, 0, None, shown, self.line(start)), start)
        return body[1]

    def define(self, definer: str, start: int, at: int) -> int:
        """``\\def\\name#1#2{body}``: parameters numbered in order, nothing between them."""
        at = skip_space(self.text, at)
        if self.text[at : at + 1] != "\\" or not (named := command(self.text, at))[0]:
            self.warn(
                start, f"\\{definer} needs the name of a command, as in \\{definer}\\R{{...}}"
            )
            return self.next_line(start)
        name, at = named
        params = 0
        while (at := skip_space(self.text, at)) < len(self.text) and self.text[at] == "#":
            if self.text[at + 1 : at + 2] != str(params + 1):
                break
            params, at = params + 1, at + 2
        if self.text[at : at + 1] != "{":
            self.warn(
                start,
                f"\\{definer}\\{name}: only parameters #1#2... right before the {{definition}} "
                "are read (TeX's delimited parameters are not)",
            )
            return self.next_line(start)
        body = self.body(f"\\{definer}\\{name}", start, at)
        if body is None:
            return self.next_line(start)
        self.add("def", Macro(name, params, None, body[0], self.line(start)), start)
        return body[1]

    def add(self, definer: str, macro: Macro, start: int) -> None:
        """Record a definition, as LaTeX would take it."""
        name = macro.name
        problem = _parameter_problem(macro)
        if problem:
            self.warn(start, f"\\{name}: {problem}")
            return
        earlier = self.out.macros.get(name)
        exists = earlier is not None or self.known.knows(name)
        if definer == "providecommand" and exists:
            return
        if definer == "newcommand" and exists:
            where = f"on line {earlier.line}" if earlier else "in Anki's MathJax"
            self.warn(
                start, f"\\{name} is already defined {where}; \\renewcommand would replace it"
            )
            return
        if definer == "renewcommand" and not exists:
            self.warn(
                start, f"\\{name} was not defined (\\renewcommand replaces); defined all the same"
            )
        self.out.macros[name] = macro

    def check_bodies(self) -> None:
        """Each definition may use only MathJax's commands and the file's own macros."""
        defined = self.out.macros
        for macro in defined.values():
            for unknown in unknown_commands(macro.body, defined, self.known):
                self.out.diagnostics.append(
                    warning(
                        self.path,
                        macro.line,
                        f"{unknown}, used by \\{macro.name}, is neither defined in macros.tex "
                        "nor known to Anki's MathJax",
                    )
                )


def _parameter_problem(macro: Macro) -> str | None:
    """What is wrong with the ``#`` parameters in a body, if anything."""
    body, i = macro.body, 0
    while i < len(body):
        if body[i] == "\\":
            i += 2
            continue
        if body[i] == "#":
            after = body[i + 1 : i + 2]
            if after == "#":
                i += 2
                continue
            if not after.isdigit() or not 1 <= int(after) <= macro.params:
                takes = f"takes {macro.params} argument{'s' if macro.params != 1 else ''}"
                return f"#{after} in its definition, but it {takes}"
        i += 1
    return None
