"""Per-note cache of parse and render results, so a rebuild only redoes the notes that changed.

One pickle per vault under ``.paperdeck-cache/``. A note is re-parsed when its bytes (or the
parse options) change, and re-rendered when its parse, the vault settings, the figure paths
or any image it embeds change. The cache is an accelerator only: a missing, corrupt,
wrong-typed or outdated cache file means a full build, never a wrong one, and a cache that
cannot be written is a warning, never a failed build.
"""

from __future__ import annotations

import hashlib
import os
import pickle
from dataclasses import dataclass, field
from importlib.metadata import version
from pathlib import Path, PurePosixPath

from paperdeck.cards.note_render import MediaNames, RenderContext, RenderedNote, cached_still_valid
from paperdeck.diagnostics import Diagnostic, warning
from paperdeck.fileio import atomic_write_bytes, remove_stale_temps
from paperdeck.notes.model import Note
from paperdeck.notes.options import ParseOptions
from paperdeck.notes.vault import Parser, SourceNote, parser

CACHE_DIR = Path(".paperdeck-cache")
_PACKAGE = Path(__file__).resolve().parent


def code_version() -> str:
    """What parse and render results depend on: this package's source, its Markdown parser,
    its HTML sanitizer and its code highlighter."""
    digest = hashlib.sha256()
    for path in sorted(_PACKAGE.rglob("*.py")):
        digest.update(path.relative_to(_PACKAGE).as_posix().encode() + path.read_bytes())
    for dist in ("markdown-it-py", "mdit-py-plugins", "genanki", "nh3", "Pygments"):
        digest.update(version(dist).encode())
    return digest.hexdigest()


@dataclass
class _Entry:
    """One note's cached parse and, once rendered, its rendering."""

    parse_key: str
    note: Note
    diagnostics: list[Diagnostic]
    render_key: str | None = None
    rendered: RenderedNote | None = None


@dataclass
class BuildCache:
    """Parse and render results by vault-relative path, valid for one code version."""

    path: Path
    code: str
    entries: dict[str, _Entry] = field(default_factory=dict)
    media_names: MediaNames = field(default_factory=MediaNames)
    deck: tuple[str, str] = ("", "")
    """The last deck written: its content fingerprint and the output file's stamp."""
    hits: int = 0
    misses: int = 0
    changed: bool = False
    """Set when something other than a rendering was stored (a parse, a written deck)."""
    usable: bool = True
    """False when the cache folder cannot be used: nothing is saved."""

    @classmethod
    def load(cls, vault: Path, cache_dir: Path = CACHE_DIR) -> tuple[BuildCache, list[Diagnostic]]:
        """The vault's cache, or an empty one if there is none or it cannot be used.

        A cache folder that cannot be used at all is a warning (the build goes on without
        keeping a cache); a cache file that cannot be read or is not what this version
        wrote is silently replaced.
        """
        name = hashlib.sha256(str(vault.resolve()).encode()).hexdigest()[:16]
        path = cache_dir / f"{name}.pickle"
        code = code_version()
        problem = _unusable_folder(cache_dir)
        if problem:
            return cls(path, code, usable=False), [warning(str(cache_dir), 0, problem)]
        remove_stale_temps(cache_dir, targets=[path.name])
        try:
            stored = pickle.loads(path.read_bytes())
        except Exception:  # any unpickling failure only means there is no cache
            return cls(path, code), []
        if _well_formed(stored) and stored.code == code:
            stored.path, stored.hits, stored.misses, stored.changed = path, 0, 0, False
            stored.usable = True
            return stored, []
        return cls(path, code), []

    def save(self, keep: set[str]) -> list[Diagnostic]:
        """Write the cache atomically, forgetting notes that are no longer in the vault.

        Nothing is written when nothing changed since it was loaded. A cache that cannot be
        written is a warning.
        """
        if not self.usable:
            return []
        if self.misses == 0 and keep == set(self.entries) and not self.changed:
            return []
        self.entries = {rel: e for rel, e in self.entries.items() if rel in keep}
        try:
            self.path.parent.mkdir(parents=True, exist_ok=True)
            gitignore = self.path.parent / ".gitignore"
            if not gitignore.exists():
                gitignore.write_text("*\n")
            atomic_write_bytes(self.path, pickle.dumps(self, protocol=pickle.HIGHEST_PROTOCOL))
        except OSError as exc:
            why = exc.strerror or str(exc)
            return [warning(str(self.path.parent), 0, f"build cache not saved: {why}")]
        return []

    @staticmethod
    def parse_key(shown: str, data: bytes, options: ParseOptions) -> str:
        """A note's parse depends on its bytes, its shown path and the parse options."""
        head = f"{shown}\0{options.cache_key()}\0".encode()
        return hashlib.sha256(head + data).hexdigest()

    def parser(self, options: ParseOptions) -> Parser:
        """A parser that reuses the cached parse of every note whose bytes are unchanged."""
        plain = parser(options)

        def parse(
            rel: PurePosixPath, shown: str, data: bytes, text: str
        ) -> tuple[Note, list[Diagnostic]]:
            key = self.parse_key(shown, data, options)
            cached = self.parsed(rel, key)
            if cached is not None:
                return cached
            note, diagnostics = plain(rel, shown, data, text)
            self.remember_parse(rel, key, note, diagnostics)
            return note, diagnostics

        return parse

    def parsed(self, rel: PurePosixPath, key: str) -> tuple[Note, list[Diagnostic]] | None:
        """The cached parse of a note whose bytes are unchanged."""
        entry = self.entries.get(rel.as_posix())
        if entry is None or entry.parse_key != key:
            return None
        return entry.note, entry.diagnostics

    def remember_parse(
        self, rel: PurePosixPath, key: str, note: Note, diagnostics: list[Diagnostic]
    ) -> None:
        """Store a fresh parse (dropping the note's old rendering)."""
        self.entries[rel.as_posix()] = _Entry(key, note, diagnostics)
        self.changed = True

    def rendered(
        self, source: SourceNote, settings: str, context: RenderContext
    ) -> RenderedNote | None:
        """The cached rendering of a note, if its parse, settings and images are unchanged."""
        entry = self.entries.get(source.rel.as_posix())
        if (
            entry is not None
            and entry.rendered is not None
            and (entry.note is source.note or entry.note == source.note)
            and entry.render_key == settings
            and cached_still_valid(entry.rendered, source.rel, context)
        ):
            self.hits += 1
            return entry.rendered
        self.misses += 1
        return None

    def remember_render(self, source: SourceNote, settings: str, rendered: RenderedNote) -> None:
        """Store a fresh rendering next to the parse it came from."""
        entry = self.entries.get(source.rel.as_posix())
        if entry is not None and entry.note == source.note:
            entry.render_key, entry.rendered = settings, rendered
            self.changed = True


def _unusable_folder(cache_dir: Path) -> str:
    """Why the cache folder cannot hold a cache, or ``""``."""
    if cache_dir.exists() and not cache_dir.is_dir():
        return "not a folder; building without a cache"
    if cache_dir.is_dir() and not os.access(cache_dir, os.W_OK | os.X_OK):
        return "not writable; building without a cache"
    return ""


def _well_formed(stored: object) -> bool:
    """Is ``stored`` a cache with the types this version writes (a pickle may hold anything)?"""
    if not isinstance(stored, BuildCache):
        return False
    deck = getattr(stored, "deck", None)
    entries = getattr(stored, "entries", None)
    return (
        isinstance(getattr(stored, "code", None), str)
        and isinstance(entries, dict)
        and all(isinstance(k, str) and _entry_ok(v) for k, v in entries.items())
        and isinstance(getattr(stored, "media_names", None), MediaNames)
        and isinstance(stored.media_names.known, dict)
        and isinstance(deck, tuple)
        and len(deck) == 2
        and all(isinstance(part, str) for part in deck)
    )


def _entry_ok(entry: object) -> bool:
    return (
        isinstance(entry, _Entry)
        and isinstance(entry.parse_key, str)
        and isinstance(entry.note, Note)
        and isinstance(entry.diagnostics, list)
        and (entry.rendered is None or isinstance(entry.rendered, RenderedNote))
    )
