"""Problems found in a vault, reported as ``path:line: message``.

Library code never prints or exits: it collects :class:`Diagnostic` values and
the CLI decides how to show them and which exit code they mean.
"""

from __future__ import annotations

import enum
from collections.abc import Iterable
from dataclasses import dataclass


class Severity(enum.Enum):
    """How bad a problem is; ``--strict`` promotes warnings to errors."""

    WARNING = "warning"
    ERROR = "error"


@dataclass(frozen=True, order=True)
class Diagnostic:
    """One problem at one place in one note."""

    path: str
    """The note's path as the user named it (relative to the working directory when possible)."""
    line: int
    """1-based source line; 0 when the problem concerns the whole file."""
    message: str
    severity: Severity = Severity.ERROR

    def __str__(self) -> str:
        where = f"{self.path}:{self.line}" if self.line else self.path
        return f"{where}: {self.severity.value}: {self.message}"


def error(path: str, line: int, message: str) -> Diagnostic:
    """Shorthand for an error diagnostic."""
    return Diagnostic(path, line, message, Severity.ERROR)


def warning(path: str, line: int, message: str) -> Diagnostic:
    """Shorthand for a warning diagnostic."""
    return Diagnostic(path, line, message, Severity.WARNING)


def clip(text: str, limit: int = 60) -> str:
    """``text`` cut to ``limit`` characters: a message must never echo a huge value."""
    return text if len(text) <= limit else text[: limit - 3] + "..."


def has_errors(diagnostics: Iterable[Diagnostic], *, strict: bool = False) -> bool:
    """True when a build must fail: any error, or any warning under ``--strict``."""
    return any(d.severity is Severity.ERROR or strict for d in diagnostics)


class PaperdeckError(Exception):
    """A problem that stops a command as a whole (bad config, unwritable output)."""
