"""The vault's bibliography, read once a build (the I/O edge of :mod:`paperdeck.citations`).

The files come from the configuration's ``bibliography`` list, relative to the vault.
Their bytes are a build input like the notes: :func:`bibliography_digest` is part of the
up-to-date check and of the render settings, so an edited ``.bib`` re-renders the notes.
Every problem is a warning naming the file (and line): a bibliography that cannot be read
never stops a build.
"""

from __future__ import annotations

import hashlib
import os
from dataclasses import dataclass, field
from pathlib import Path

from paperdeck.citations.bibtex import BibFile, RawEntry, read_bibtex
from paperdeck.citations.links import VaultPlace
from paperdeck.config import Config
from paperdeck.diagnostics import Diagnostic, warning
from paperdeck.fileio import read_regular_file
from paperdeck.notes.vault import display_path


@dataclass(frozen=True)
class Source:
    """One BibTeX file of the bibliography, as read."""

    shown: str
    """Its path as messages show it."""
    folder: str
    """Its folder (absolute): relative attachment paths start there."""
    parsed: BibFile


@dataclass(frozen=True)
class Found:
    """Where a key was found: its entry (``None``: the block could not be read)."""

    source: Source
    line: int
    entry: RawEntry | None
    why: str = ""


@dataclass(frozen=True)
class Bibliography:
    """Every entry of the vault's BibTeX files, and what was wrong with the files."""

    configured: bool = False
    """Whether the configuration names any BibTeX file."""
    sources: tuple[Source, ...] = ()
    place: VaultPlace = field(default_factory=lambda: VaultPlace("", ()))
    digest: str = ""
    """What the rendering of a cited note depends on: every file's path and bytes, and
    where the vault is (a PDF inside it is linked otherwise than one outside)."""
    diagnostics: tuple[Diagnostic, ...] = ()

    def find(self, key: str) -> Found | None:
        """The first file's entry for ``key``, or the first block meant to define it that
        could not be read; ``None`` when no file has it."""
        for source in self.sources:
            entry = source.parsed.entries.get(key)
            if entry is not None:
                return Found(source, entry.line, entry)
            broken = next((p for p in source.parsed.problems if p.key == key), None)
            if broken is not None:
                return Found(source, broken.line, None, broken.message)
        return None

    @property
    def names(self) -> str:
        """The files, as a message lists them."""
        return ", ".join(s.shown for s in self.sources) or "the bibliography"


def bib_paths(root: Path, config: Config) -> list[Path]:
    """The configured BibTeX files, relative paths taken from the vault."""
    return [root / os.path.expanduser(p) for p in config.bibliography]


@dataclass(frozen=True)
class BibFiles:
    """The bibliography's files as one build read them: read once, at the start, so that
    what the build renders and what its up-to-date check records are the same bytes."""

    files: tuple[tuple[Path, bytes | None, str], ...] = ()
    """``(path, bytes, why)``: ``bytes`` is ``None`` when the file cannot be read (``why``)."""
    digest: str = ""
    """A digest of every file's path and bytes (``""``: no bibliography configured)."""


def read_bibliography(root: Path, config: Config) -> BibFiles:
    """Read the configured BibTeX files (their bytes only: splitting them into entries
    waits until a note is rendered)."""
    if not config.bibliography:
        return BibFiles()
    files = tuple((path, *_read(path)) for path in bib_paths(root, config))
    digest = hashlib.sha256()
    for path, data, why in files:
        digest.update(f"\n{os.path.abspath(path)}\0{why}\0".encode())
        digest.update(data if data is not None else b"-")
    return BibFiles(files, digest.hexdigest())


def _read(path: Path) -> tuple[bytes | None, str]:
    """The file's bytes, or ``None`` and why it cannot be read."""
    try:
        data, _ = read_regular_file(path)
    except OSError as exc:
        return None, exc.strerror or str(exc)
    return data, ""


def load_bibliography(
    root: Path, vault_name: str, config: Config, read: BibFiles | None = None
) -> Bibliography:
    """Split every BibTeX file into entries (once a build; ``read``: the files as the build
    read them, default: read them now). A file that cannot be read, is not UTF-8 or holds
    blocks that cannot be read is a warning at its line."""
    place = VaultPlace(
        vault_name, tuple(dict.fromkeys((os.path.abspath(root), os.path.realpath(root))))
    )
    read = read if read is not None else read_bibliography(root, config)
    if not config.bibliography:
        return Bibliography(place=place)
    sources: list[Source] = []
    problems: list[Diagnostic] = []
    for path, data, why in read.files:
        shown = display_path(path)
        if data is None:
            problems.append(warning(shown, 0, f"cannot read bibliography: {why}"))
            continue
        text, bad_line = _decode(data)
        if bad_line:
            message = "bibliography is not valid UTF-8; undecodable bytes are shown as \ufffd"
            problems.append(warning(shown, bad_line, message))
        parsed = read_bibtex(text)
        problems += [warning(shown, p.line, p.message) for p in parsed.problems]
        folder = os.path.dirname(os.path.abspath(path))
        sources.append(Source(shown, folder, parsed))
    digest = hashlib.sha256(repr((read.digest, place)).encode()).hexdigest()
    return Bibliography(True, tuple(sources), place, digest, tuple(problems))


def _decode(data: bytes) -> tuple[str, int]:
    """The text, and the line of the first byte that is not UTF-8 (0: none)."""
    data = data.removeprefix(b"\xef\xbb\xbf")
    try:
        return data.decode("utf-8"), 0
    except UnicodeDecodeError as exc:
        return data.decode("utf-8", errors="replace"), data.count(b"\n", 0, exc.start) + 1
