"""The vault's macros file on disk: read once per build, parsed only when cards are rendered.

It is ``macros.tex`` at the vault's root, or the file the configuration names (``macros =
"tex/preamble.tex"``, from the vault's root). Its bytes count among the build's inputs, so a
build whose macros changed renders every card again.
"""

from __future__ import annotations

import functools
import hashlib
from dataclasses import dataclass
from pathlib import Path

from paperdeck.cards.macros.define import parse_macros
from paperdeck.cards.macros.vault_tex import VaultTex
from paperdeck.diagnostics import Diagnostic, warning
from paperdeck.fileio import read_regular_file
from paperdeck.notes.vault import display_path

DEFAULT_NAME = "macros.tex"


@dataclass(frozen=True)
class MacrosFile:
    """The macros file as one build read it."""

    shown: str
    """Its path as messages show it."""
    data: bytes
    """Its bytes (empty when there is none)."""
    problem: Diagnostic | None = None
    """Why it could not be read, if it could not."""

    @functools.cached_property
    def digest(self) -> str:
        """Of its bytes, ``""`` when there is no file: part of the build's inputs."""
        if not self.data and self.problem is None:
            return ""
        return hashlib.sha256(self.data).hexdigest() + ("!" if self.problem else "")

    @functools.cached_property
    def tex(self) -> VaultTex:
        """The file parsed (once), for rendering."""
        if self.problem is not None:
            return VaultTex(digest=self.digest, diagnostics=(self.problem,))
        try:
            text = self.data.decode("utf-8")
        except UnicodeDecodeError as exc:
            line = self.data.count(b"\n", 0, exc.start) + 1
            problem = warning(self.shown, line, "macros file is not valid UTF-8; not used")
            return VaultTex(digest=self.digest, diagnostics=(problem,))
        parsed = parse_macros(text.removeprefix("\ufeff"), path=self.shown)
        return VaultTex(parsed.macros, digest=self.digest, diagnostics=tuple(parsed.diagnostics))


def read_macros_file(root: Path, configured: str | None) -> MacrosFile:
    """Read the vault's macros file; a missing ``macros.tex`` is no problem, a missing
    configured file or an unreadable one is a warning (and no macros)."""
    path = root / (configured or DEFAULT_NAME)
    shown = display_path(path)
    try:
        data, _ = read_regular_file(path)
    except FileNotFoundError:
        if configured is None:
            return MacrosFile(shown, b"")
        return MacrosFile(shown, b"", warning(shown, 0, "macros file not found"))
    except OSError as exc:
        why = exc.strerror or str(exc)
        return MacrosFile(shown, b"", warning(shown, 0, f"cannot read the macros file: {why}"))
    return MacrosFile(shown, data)
