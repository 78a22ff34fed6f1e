"""Vault configuration: ``paperdeck.toml`` in the vault, or ``[tool.paperdeck]`` in pyproject.

CLI flags override what is read here. Reading is explicit (``load_config``), never done at
import time.
"""

from __future__ import annotations

import os
import sys
from dataclasses import dataclass, field, fields, replace
from pathlib import Path
from typing import Any

from paperdeck.diagnostics import PaperdeckError
from paperdeck.fileio import read_regular_file

if sys.version_info >= (3, 11):
    import tomllib
else:  # pragma: no cover
    import tomli as tomllib

_BOOLEANS = {"highlight_cloze", "reverse", "move_adopted"}
_CHOICES = {"adopted_source": ("append", "omit")}
DEFAULT_IGNORE = (".obsidian/**", ".trash/**", "**/.*/**", "templates/**", "Templates/**")


@dataclass(frozen=True)
class Config:
    """Settings for one vault; defaults give ``cards/<vault>.apkg`` with ``Papers::<Title>``."""

    deck_prefix: str = "Papers"
    """Parent deck for every note's subdeck."""
    deck: str | None = None
    """Deck name template for every note, e.g. ``"Reading::{title}"``; front matter wins."""
    ignore: tuple[str, ...] = DEFAULT_IGNORE
    """Glob patterns, relative to the vault, of notes to skip."""
    out: str | None = None
    """Output ``.apkg``; relative paths are taken from the working directory."""
    vault_name: str | None = None
    """Obsidian vault name for ``obsidian://`` links (default: the notes folder's name)."""
    figures_dir: str = "figures"
    """Where generated figures go, relative to the working directory."""
    highlight_cloze: bool = False
    """Make every paragraph with ``==highlights==`` a cloze card (opt-in)."""
    reverse: bool = False
    """Make every Q/A card go both ways (question to answer and back)."""
    move_adopted: bool = False
    """Move notes adopted from another tool (Obsidian_to_Anki) into paperdeck's decks."""
    adopted_source: str = "append"
    """Where an adopted note whose type has no ``Source`` (or free ``Extra``) field gets the
    Source line: ``append`` it to the answer field, or ``omit`` it."""
    extra_ignore: tuple[str, ...] = field(default=())
    """Patterns added on the command line."""

    def with_overrides(self, **values: Any) -> Config:
        """A copy with the given non-``None`` values replaced (CLI flags)."""
        return replace(self, **{k: v for k, v in values.items() if v is not None})


def load_config(vault: Path, *, search_from: Path | None = None) -> Config:
    """Read ``vault/paperdeck.toml``, else ``[tool.paperdeck]`` from the nearest pyproject."""
    own = vault / "paperdeck.toml"
    if os.path.lexists(own):  # a folder or dangling link of that name is an error, not absent
        return _from_mapping(_read_toml(own), own)
    start = (search_from or Path.cwd()).resolve()
    for folder in (vault.resolve(), *vault.resolve().parents, start, *start.parents):
        pyproject = folder / "pyproject.toml"
        if pyproject.is_file():
            section = _read_toml(pyproject).get("tool", {}).get("paperdeck")
            if section is not None:
                return _from_mapping(section, pyproject)
    return Config()


def _read_toml(path: Path) -> dict[str, Any]:
    """The parsed file; any problem reading it is a :class:`PaperdeckError` naming it."""
    try:
        data, _ = read_regular_file(path)
    except OSError as exc:
        why = exc.strerror or str(exc)
        raise PaperdeckError(f"{path}: cannot read configuration: {why}") from exc
    try:
        return tomllib.loads(data.decode("utf-8"))
    except UnicodeDecodeError as exc:
        line = data.count(b"\n", 0, exc.start) + 1
        problem = f"not valid UTF-8 (byte 0x{data[exc.start]:02x} on line {line})"
        raise PaperdeckError(f"{path}: invalid configuration: {problem}") from exc
    except tomllib.TOMLDecodeError as exc:
        raise PaperdeckError(f"{path}: invalid configuration: {exc}") from exc
    except RecursionError as exc:  # tomllib recurses into nested arrays and tables
        raise PaperdeckError(f"{path}: invalid configuration: nested too deeply") from exc


def _from_mapping(data: Any, path: Path) -> Config:
    if not isinstance(data, dict):
        raise PaperdeckError(f"{path}: [tool.paperdeck] must be a table")
    known = {f.name for f in fields(Config)} - {"extra_ignore"}
    values: dict[str, Any] = {}
    for key, value in data.items():
        name = key.replace("-", "_")
        if name not in known:
            raise PaperdeckError(
                f"{path}: unknown setting {key!r}; known: {', '.join(sorted(known))}"
            )
        if name == "ignore":
            if not isinstance(value, list) or not all(isinstance(v, str) for v in value):
                raise PaperdeckError(f"{path}: 'ignore' must be a list of glob patterns")
            value = (*DEFAULT_IGNORE, *value)
        elif name in _BOOLEANS:
            if not isinstance(value, bool):
                raise PaperdeckError(f"{path}: {key!r} must be true or false")
        elif not isinstance(value, str):
            raise PaperdeckError(f"{path}: {key!r} must be a string")
        elif name in _CHOICES and value not in _CHOICES[name]:
            choices = " or ".join(repr(c) for c in _CHOICES[name])
            raise PaperdeckError(f"{path}: {key!r} must be {choices}, not {value!r}")
        values[name] = value
    config = Config(**values)
    if config.deck is not None:
        try:
            config.deck.format(title="Title", folder="folder")
        except (KeyError, IndexError, ValueError) as exc:
            raise PaperdeckError(
                f"{path}: 'deck' template {config.deck!r} is invalid ({exc!r}); "
                "it may use {title} and {folder}"
            ) from exc
    return config
