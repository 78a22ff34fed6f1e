"""Vault configuration: ``paperdeck.toml`` in the vault, or ``[tool.paperdeck]`` in pyproject.

CLI flags override what is read here. Reading is explicit (``load_config``), never done at
import time.
"""

from __future__ import annotations

import os
import re
import sys
from collections.abc import Mapping
from dataclasses import dataclass, field, fields, replace
from pathlib import Path
from typing import Any

from paperdeck.diagnostics import PaperdeckError
from paperdeck.fileio import read_regular_file
from paperdeck.notes.options import ParseOptions
from paperdeck.notes.styles import PRESETS, NoteStyle, StyleError, make_style, preset

if sys.version_info >= (3, 11):
    import tomllib
else:  # pragma: no cover
    import tomli as tomllib

_BOOLEANS = {
    *("highlight_cloze", "reverse", "move_adopted"),
    *("curly_cloze", "card_tags", "add_context"),
}
_STYLE_KEYS = {"regex", "note_type", "fields", "name"}
_CHOICES = {
    "adopted_source": ("append", "omit"),
    "sync_deck": ("anki", "notes"),
    "sync_tags": ("added", "notes"),
}
DEFAULT_IGNORE = (".obsidian/**", ".trash/**", "**/.*/**", "templates/**", "Templates/**")
DEFAULT_PAGE_PATTERN = r"\bpp?\.[ \t]?(\d+)(?:[-\u2013]\d+)?"
"""``p. 5``, ``p.5``, ``pp. 5`` and ``pp. 5-7`` (linked to the first page)."""


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
    macros: str | None = None
    """The LaTeX macros file every card's math uses, from the vault's root (default:
    ``macros.tex`` there, if there is one)."""
    highlight_cloze: bool = False
    """Make every paragraph with ``==highlights==`` a cloze card (opt-in)."""
    reverse: bool = False
    """Make every Q/A card go both ways (question to answer and back)."""
    move_adopted: bool = False
    """Move notes adopted from another tool (Obsidian_to_Anki) into paperdeck's decks."""
    adopted_source: str = "append"
    """Where an adopted note whose type has no ``Source`` (or free ``Extra``) field gets the
    Source line: ``append`` it to the answer field, or ``omit`` it."""
    curly_cloze: bool = False
    """Obsidian_to_Anki's CurlyCloze: in note types named "...Cloze...", ``{text}``,
    ``{2:text}`` and ``{c1|text}`` are clozes (opt-in, as in the plugin)."""
    card_tags: bool = False
    """A ``#tag`` inside a card tags that card only (its text keeps the tag); without it,
    every ``#tag`` of a note tags all its cards."""
    add_context: bool = False
    """Give each card the headings above it (file > heading > subheading), for a context
    line on the card."""
    styles: tuple[str, ...] = ()
    """Named card styles to read, from :data:`~paperdeck.notes.styles.PRESETS`:
    ``question-answer``, ``cloze-paragraph``, ``remnote``, ``header-paragraph``,
    ``subheader-paragraph``, ``neuracache``, ``ruled``, ``table``."""
    custom_styles: tuple[NoteStyle, ...] = ()
    """Regex styles of the vault's own (``[[custom_styles]]`` tables with ``regex``,
    ``note_type`` and optional ``fields`` and ``name``), tried after ``styles``."""
    note_fields: Mapping[str, tuple[str, ...]] = field(default_factory=dict)
    """Field names of note types paperdeck cannot know (``{"Vocab" = ["Word", "Meaning"]}``),
    in Anki's order: block and inline labels, regex groups and FROZEN fields use them."""
    folder_decks: Mapping[str, str] = field(default_factory=dict)
    """Deck for the notes under a folder (``{"Maths/Algebra" = "Maths::Algebra"}``), as
    Obsidian_to_Anki's folder decks: the nearest folder with an entry wins."""
    folder_tags: Mapping[str, tuple[str, ...]] = field(default_factory=dict)
    """Tags for the cards of every note under a folder (``{"Maths" = ["maths"]}``); the
    tags of all enclosing folders add up."""
    bibliography: tuple[str, ...] = ()
    """BibTeX files (a Better BibTeX auto-export works as is), relative to the vault, in
    which notes' citation keys are looked up; the first file holding a key wins."""
    page_pattern: str = DEFAULT_PAGE_PATTERN
    """A regex for a page reference on a card of a cited note (``p. 5``): its first group
    is the page the link opens the paper's PDF at."""
    sync_deck: str = "anki"
    """Two-way sync: ``anki`` keeps a card where it was moved in Anki until the note's deck
    changes; ``notes`` moves it back to the note's deck on every sync."""
    sync_tags: str = "added"
    """Two-way sync: ``added`` keeps tags added in Anki (and writes those on every card of
    a note into the note); ``notes``: the note's tags win (``leech``/``marked`` stay)."""
    extra_ignore: tuple[str, ...] = field(default=())
    """Patterns added on the command line."""

    def with_overrides(self, **values: Any) -> Config:
        """A copy with the given non-``None`` values replaced (CLI flags)."""
        return replace(self, **{k: v for k, v in values.items() if v is not None})

    def parse_options(self) -> ParseOptions:
        """How notes are read under this configuration."""
        named = [preset(name, self.note_fields) for name in self.styles if PRESETS[name]]
        return ParseOptions(
            highlight_cloze=self.highlight_cloze,
            curly_cloze=self.curly_cloze,
            card_tags=self.card_tags,
            add_context=self.add_context,
            qa_basic="question-answer" in self.styles,
            cloze_paragraph="cloze-paragraph" in self.styles,
            styles=(*named, *self.custom_styles),
            note_fields=self.note_fields,
        )


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
        elif name == "custom_styles":
            continue  # read below, once note_fields is known
        elif name in _READERS:
            value = _READERS[name](value, f"{path}: {key!r}")
        elif not isinstance(value, str):
            raise PaperdeckError(f"{path}: {key!r} must be a string")
        elif name in _CHOICES and value not in _CHOICES[name]:
            choices = " or ".join(repr(c) for c in _CHOICES[name])
            raise PaperdeckError(f"{path}: {key!r} must be {choices}, not {value!r}")
        values[name] = value
    for key in ("custom_styles", "custom-styles"):
        if key in data:
            values["custom_styles"] = _custom_styles(
                data[key], values.get("note_fields", {}), f"{path}: {key!r}"
            )
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


def _styles(value: Any, where: str) -> tuple[str, ...]:
    """Names of preset styles."""
    names = ", ".join(PRESETS)
    if not isinstance(value, list) or not all(isinstance(v, str) for v in value):
        raise PaperdeckError(f"{where} must be a list of style names ({names})")
    for name in value:
        if name not in PRESETS:
            raise PaperdeckError(f"{where}: unknown style {name!r}; known: {names}")
    return tuple(dict.fromkeys(value))


def _custom_styles(
    value: Any, note_fields: Mapping[str, tuple[str, ...]], where: str
) -> tuple[NoteStyle, ...]:
    """``[[custom_styles]]`` tables, each checked (its regex compiled) now."""
    if not isinstance(value, list) or not all(isinstance(v, dict) for v in value):
        raise PaperdeckError(f"{where} must be a list of tables ([[custom_styles]])")
    styles: list[NoteStyle] = []
    for number, table in enumerate(value, start=1):
        name = table.get("name", f"custom_styles[{number}]")
        here = f"{where} entry {number}" + (f" ({name!r})" if "name" in table else "")
        unknown = sorted(set(table) - _STYLE_KEYS)
        if unknown:
            known = ", ".join(sorted(_STYLE_KEYS))
            raise PaperdeckError(f"{here}: unknown key {unknown[0]!r}; known: {known}")
        for key in ("regex", "note_type", "name"):
            if key in table and not (isinstance(table[key], str) and table[key].strip()):
                raise PaperdeckError(f"{here}: {key!r} must be a non-empty string")
        for key in ("regex", "note_type"):
            if key not in table:
                raise PaperdeckError(f"{here}: {key!r} is missing")
        names = _names(table["fields"], f"{here}: 'fields'") if "fields" in table else None
        try:
            styles.append(
                make_style(name, table["regex"], table["note_type"].strip(), names, note_fields)
            )
        except StyleError as exc:
            raise PaperdeckError(f"{here}: {exc}") from exc
    return tuple(styles)


def _names(value: Any, where: str) -> tuple[str, ...]:
    """A non-empty list of distinct, non-empty names."""
    if not isinstance(value, list) or not value or not all(isinstance(v, str) for v in value):
        raise PaperdeckError(f"{where} must be a non-empty list of names")
    names = tuple(v.strip() for v in value)
    if not all(names) or len(set(names)) != len(names):
        raise PaperdeckError(f"{where}: names must be non-empty and different")
    return names


def _note_fields(value: Any, where: str) -> dict[str, tuple[str, ...]]:
    """``{note type = [field names]}``."""
    if not isinstance(value, dict):
        raise PaperdeckError(f"{where} must be a table of note type = [field names]")
    out: dict[str, tuple[str, ...]] = {}
    for note_type, names in value.items():
        if not note_type.strip():
            raise PaperdeckError(f"{where}: a note type name is empty")
        out[note_type.strip()] = _names(names, f"{where}.{note_type!r}")
    return out


def _folder(key: str, where: str) -> str:
    """A vault-relative folder, ``a/b``, without leading or trailing slashes."""
    folder = key.strip().replace("\\", "/").strip("/")
    if not folder or key.strip().startswith("/") or ".." in folder.split("/"):
        raise PaperdeckError(f"{where}: {key!r} must be a folder inside the vault, like 'a/b'")
    return folder


def _folder_decks(value: Any, where: str) -> dict[str, str]:
    """``{folder = "Deck::Name"}``."""
    if not isinstance(value, dict):
        raise PaperdeckError(f"{where} must be a table of folder = deck name")
    out: dict[str, str] = {}
    for key, deck in value.items():
        if not isinstance(deck, str) or not all(p.strip() for p in deck.split("::")):
            raise PaperdeckError(f"{where}: the deck of {key!r} must be a name like 'A::B'")
        out[_folder(key, where)] = deck.strip()
    return out


def _folder_tags(value: Any, where: str) -> dict[str, tuple[str, ...]]:
    """``{folder = ["tag", ...]}`` (or a space-separated string, as the plugin keeps them)."""
    if not isinstance(value, dict):
        raise PaperdeckError(f"{where} must be a table of folder = [tags]")
    out: dict[str, tuple[str, ...]] = {}
    for key, tags in value.items():
        items = tags.split() if isinstance(tags, str) else tags
        if not isinstance(items, list) or not all(isinstance(t, str) for t in items):
            raise PaperdeckError(f"{where}: the tags of {key!r} must be a list of tags")
        cleaned = tuple(t.strip().lstrip("#") for t in items)
        if not all(cleaned) or any(any(c.isspace() for c in t) for t in cleaned):
            raise PaperdeckError(f"{where}: the tags of {key!r} must be words without spaces")
        out[_folder(key, where)] = cleaned
    return out


def _bibliography(value: Any, where: str) -> tuple[str, ...]:
    """``["refs.bib", ...]`` (or one path as a string)."""
    items = [value] if isinstance(value, str) else value
    if not isinstance(items, list) or not all(isinstance(v, str) and v.strip() for v in items):
        raise PaperdeckError(f"{where} must be a list of BibTeX file paths")
    return tuple(v.strip() for v in items)


def _page_pattern(value: Any, where: str) -> str:
    """A regex with a group for the page number, that cannot match empty text."""
    if not isinstance(value, str):
        raise PaperdeckError(f"{where} must be a regular expression (a string)")
    try:
        compiled = re.compile(value)
    except re.error as exc:
        raise PaperdeckError(f"{where} is not a valid regular expression: {exc}") from exc
    if compiled.groups < 1 or compiled.match("") is not None:
        raise PaperdeckError(f"{where} needs a group for the page number and some text to match")
    return value


_READERS = {
    "bibliography": _bibliography,
    "page_pattern": _page_pattern,
    "styles": _styles,
    "note_fields": _note_fields,
    "folder_decks": _folder_decks,
    "folder_tags": _folder_tags,
}
