"""What the last build of a vault read, parsed and rendered, so that a rebuild redoes only
what changed, and a rebuild where nothing changed only looks at file stamps.

One SQLite file per vault under ``.paperdeck-cache/``, holding:

- an index: each note's :class:`~paperdeck.notes.vault.FileStamp` and the digest of its
  bytes. A note whose stamp is unchanged (and was settled when it was taken, see
  :data:`~paperdeck.notes.vault.RACY_NS`) is neither read nor hashed; any other note is
  read, and its digest tells whether it changed;
- per note, a small summary (card IDs, figure specs, messages), its parse and its
  rendering, each keyed by what it depends on, and each unpickled only when needed;
- the outcome of the last build that wrote (or kept) a deck (:class:`LastBuild`): when
  nothing it depended on has changed, the next build is over once stamps are compared;
- that deck, note by note, and its collection file as compressed runs of pages (see
  :mod:`paperdeck.deckrecord`): when some notes changed, the next build renders those and
  rewrites only their pages. It is read only by a build that has a deck to write.

The cache is an accelerator only: a missing, corrupt, foreign or outdated file means a full
build, never a wrong one or an error, and a cache that cannot be written is a warning. A
build that may not keep a cache (``--no-cache``, an unusable folder) still uses a
throwaway one, so that parsed notes wait on disk rather than in memory.
"""

from __future__ import annotations

import contextlib
import functools
import hashlib
import io
import os
import pickle
import sqlite3
import tempfile
from array import array
from collections.abc import Iterable, Iterator, Mapping, MutableMapping, Sequence
from dataclasses import dataclass
from importlib.metadata import version
from pathlib import Path
from typing import TYPE_CHECKING, Any

from paperdeck.cards.media import MediaNames
from paperdeck.diagnostics import Diagnostic, warning
from paperdeck.fileio import remove_stale_temps
from paperdeck.notes.vault import FileStamp

if TYPE_CHECKING:
    from paperdeck.anki.deckimage import Image
    from paperdeck.anki.segments import SegmentStore
    from paperdeck.deckrecord import DeckLedger, DeckRecord, NotePart
    from paperdeck.vaultread import KnownNotes

CACHE_DIR = Path(".paperdeck-cache")
_PACKAGE = Path(__file__).resolve().parent
_FORMAT = "paperdeck build cache 3"
_BATCH = 256
"""Notes fetched per query when a build walks every note's rendering."""


@functools.cache
def code_version() -> str:
    """What parse and render results depend on: this package's source (code and card CSS),
    its Markdown parser, its HTML sanitizer, its code highlighter and its BibTeX parser;
    data files too (the TeX commands Anki's MathJax knows decide which warnings a note
    gets)."""
    digest = hashlib.sha256()
    for path in sorted(
        [*_PACKAGE.rglob("*.py"), *_PACKAGE.rglob("*.css"), *_PACKAGE.rglob("*.txt")]
    ):
        digest.update(path.relative_to(_PACKAGE).as_posix().encode() + path.read_bytes())
    for dist in ("markdown-it-py", "mdit-py-plugins", "genanki", "nh3", "Pygments", "bibtexparser"):
        digest.update(version(dist).encode())
    return digest.hexdigest()


@dataclass(frozen=True)
class Known:
    """A note's file as the last build saw it."""

    stamp: FileStamp
    settled: bool
    """Whether the stamp was settled when the file was read: only then does an equal stamp
    vouch for equal bytes."""
    digest: bytes
    """SHA-256 of the bytes."""


class Index(MutableMapping[str, Known]):
    """How the last build read each note (:class:`Known`, by vault-relative path), kept in
    a few arrays: a build looks at every note's entry, and 20,000 objects would take it
    longer to load than to use."""

    def __init__(self) -> None:
        self._at: dict[str, int] = {}
        self._times = array("q")
        """Size, modification and change time of each entry's stamp."""
        self._ids = array("Q")
        """Inode and device of each entry's stamp."""
        self._settled = bytearray()
        self._digests = bytearray()
        self._free: list[int] = []

    def vouch(self, rel: str, stamp: FileStamp) -> bytes | None:
        """The note's digest if it was read settled and its stamp is ``stamp``."""
        at = self._at.get(rel)
        if (
            at is None
            or not self._settled[at]
            or self._times[3 * at : 3 * at + 3] != _times(stamp)
            or self._ids[2 * at : 2 * at + 2] != _ids(stamp)
        ):
            return None
        return bytes(self._digests[32 * at : 32 * at + 32])

    def whole(self) -> bool:
        """Whether the arrays agree with each other (a cache file may be damaged)."""
        count = len(self._at) + len(self._free)
        return (
            len(self._times) == 3 * count
            and len(self._ids) == 2 * count
            and len(self._settled) == count
            and len(self._digests) == 32 * count
            and all(0 <= at < count for at in self._at.values())
        )

    def __getitem__(self, rel: str) -> Known:
        at = self._at[rel]
        size, mtime, ctime = self._times[3 * at : 3 * at + 3]
        ino, dev = self._ids[2 * at : 2 * at + 2]
        digest = bytes(self._digests[32 * at : 32 * at + 32])
        return Known(FileStamp(size, mtime, ctime, ino, dev), bool(self._settled[at]), digest)

    def __setitem__(self, rel: str, known: Known) -> None:
        if len(known.digest) != 32:
            raise ValueError("a note's digest is a SHA-256")
        at = self._at.get(rel)
        if at is None:
            at = self._free.pop() if self._free else len(self._settled)
            if at == len(self._settled):
                self._times.extend((0, 0, 0))
                self._ids.extend((0, 0))
                self._settled.append(0)
                self._digests.extend(bytes(32))
            self._at[rel] = at
        self._times[3 * at : 3 * at + 3] = _times(known.stamp)
        self._ids[2 * at : 2 * at + 2] = _ids(known.stamp)
        self._settled[at] = known.settled
        self._digests[32 * at : 32 * at + 32] = known.digest

    def __delitem__(self, rel: str) -> None:
        self._free.append(self._at.pop(rel))

    def __iter__(self) -> Iterator[str]:
        return iter(self._at)

    def __len__(self) -> int:
        return len(self._at)

    def __contains__(self, rel: object) -> bool:
        return rel in self._at


def _times(stamp: FileStamp) -> array[int]:
    return array("q", (stamp.size, stamp.mtime_ns, stamp.ctime_ns))


def _ids(stamp: FileStamp) -> array[int]:
    return array("Q", (stamp.ino, stamp.dev))


@dataclass(frozen=True)
class FileCheck:
    """A file the last build's outcome depends on (the card state, the deck), as it was."""

    path: str
    stamp: FileStamp | None
    """``None``: there was no such file."""
    settled: bool
    digest: bytes


@dataclass(frozen=True)
class LastBuild:
    """A build that ended with its deck written or already up to date: what it depended
    on, and what it reported. The next build with all of this unchanged is the same build."""

    inputs: str
    """Digest of the settings, paths, flags, the vault's file list and every note's bytes."""
    real_root: str
    """Where the vault really is (every link followed)."""
    embeds: Mapping[tuple[str, str, str], tuple[str | None, bool, str]]
    """By ``(target, style, folder)``: the file each embed pointed to (``None``: none, by
    its text and the file list alone), whether it is a generated figure, and its state
    (see :func:`~paperdeck.cards.media.embed_state`)."""
    figures: tuple[Any, ...]
    """The figure specs (:class:`~paperdeck.figures.spec.FigureSpec`) of the vault."""
    files: tuple[FileCheck, ...]
    """The card state and the deck, as the build left them."""
    diagnostics: tuple[Diagnostic, ...]
    notes: int
    cards: int
    media: Mapping[str, str]
    """The deck's media files: name to path."""
    fingerprint: str
    """Of the deck's content (:func:`~paperdeck.deckrecord.deck_fingerprint`)."""


@dataclass(frozen=True)
class NoteSummary:
    """What a build needs to know of a note it does not read again."""

    path: str
    """The note's path as messages show it."""
    cards: int
    card_ids: tuple[tuple[int, int], ...]
    """``(ID, line of the ID)`` for each card that has one."""
    missing: tuple[int, ...]
    """The ``Q:`` line of each card without an ID."""
    figures: tuple[Any, ...]
    """Its figure specs (:class:`~paperdeck.figures.spec.FigureSpec`)."""
    diagnostics: tuple[Diagnostic, ...]
    """What parsing it and its figure specs reported, in that order."""


class _Unusable(Exception):
    """The cache file cannot be read as this version's cache."""


class BuildCache:
    """Per-note results and the last build's outcome, by vault-relative path."""

    def __init__(self, path: Path, code: str, *, keep: bool = True) -> None:
        self.path = path
        self.code = code
        self.keep = keep
        """Whether the cache is saved (else it is thrown away after the build)."""
        self.index = Index()
        self.last: LastBuild | None = None
        self.media_names = MediaNames()
        self.hits = 0
        self.misses = 0
        self.changed = False
        """Set when something was stored since loading."""
        self._db: sqlite3.Connection | None = None
        self._fresh = True
        """The file holds nothing usable: it is made anew on the first write."""
        self._summaries: dict[str, tuple[str, bytes]] | None = None
        self._spill: dict[str, dict[str, Any]] = {}
        """Rows kept in memory once the file cannot be written."""
        self._broken = ""
        self._tmp: tempfile.TemporaryDirectory[str] | None = None
        self._deck: DeckRecord | None = None
        self._deck_read = False
        self._deck_changed = False
        self._deck_dropped = False
        """The record read was let go of (but is still in the file)."""
        self._known: KnownNotes | None = None
        self._known_read = False
        self._known_changed = False
        self._written: set[str] = set()
        """Notes whose rows this build wrote."""

    # -- loading and saving ------------------------------------------------------------------

    @classmethod
    def load(cls, vault: Path, cache_dir: Path = CACHE_DIR) -> tuple[BuildCache, list[Diagnostic]]:
        """The vault's cache, or an empty one if there is none or it cannot be used.

        A cache folder that cannot be used at all is a warning (the build goes on with a
        throwaway cache); a cache file that cannot be read or is not what this version
        wrote is silently replaced.
        """
        name = hashlib.sha256(str(vault.resolve()).encode()).hexdigest()[:16]
        code = code_version()
        problem = _unusable_folder(cache_dir)
        if problem:
            return cls.throwaway(), [warning(str(cache_dir), 0, problem)]
        remove_stale_temps(cache_dir, targets=[f"{name}.pickle"])
        cache = cls(cache_dir / f"{name}.sqlite", code)
        with contextlib.suppress(_Unusable):
            cache._read()
        return cache, []

    @classmethod
    def throwaway(cls) -> BuildCache:
        """An empty cache in a temporary folder, deleted when the build is done."""
        tmp = tempfile.TemporaryDirectory(prefix="paperdeck-cache-")
        cache = cls(Path(tmp.name) / "cache.sqlite", code_version(), keep=False)
        cache._tmp = tmp
        return cache

    def _read(self) -> None:
        if not self.path.is_file():
            raise _Unusable
        try:  # not read-only: a build killed mid-save left a journal to roll back
            db = sqlite3.connect(self.path)
        except sqlite3.Error as exc:
            raise _Unusable from exc
        try:
            keys = ("format", "code", "index", "last", "media")  # not the deck: not every build
            wanted = f"SELECT key, value FROM meta WHERE key IN ({', '.join('?' * len(keys))})"
            meta = dict(db.execute(wanted, keys).fetchall())
            if meta.get("format") != _FORMAT.encode() or meta.get("code") != self.code.encode():
                raise _Unusable
            index = _loads(meta["index"])
            last = _loads(meta["last"]) if meta.get("last") else None
            media = _loads(meta["media"])
        except (sqlite3.Error, KeyError) as exc:
            raise _Unusable from exc
        finally:
            db.close()
        if not (
            isinstance(index, Index)
            and index.whole()
            and (last is None or isinstance(last, LastBuild))
            and isinstance(media, MediaNames)
            and isinstance(media.known, dict)
        ):
            raise _Unusable
        self.index, self.last, self.media_names = index, last, media
        self._fresh = False

    def remember_build(self, last: LastBuild | None) -> None:
        """Keep (or, with ``None``, forget) the outcome of this build."""
        if last != self.last:
            self.last = last
            self.changed = True

    def close(self) -> None:
        """Let go of the file (without saving) and of a throwaway cache's folder."""
        if self._db is not None:
            with contextlib.suppress(sqlite3.Error):
                self._db.rollback()
                self._db.close()
            self._db = None
        if self._tmp is not None:
            self._tmp.cleanup()
            self._tmp = None

    def save(self, keep: Iterable[str]) -> list[Diagnostic]:
        """Store what this build learnt, forgetting notes no longer in the vault, in one
        transaction; nothing is written when nothing changed. A cache that cannot be
        written is a warning (and is removed, so that the next build starts afresh)."""
        if not self.keep:
            self.close()
            return []
        kept = set(keep)
        gone = [rel for rel in self.index if rel not in kept]
        for rel in gone:
            del self.index[rel]
        if not (self.changed or gone):
            self.close()
            return []
        try:
            self._write_meta(gone)
        except sqlite3.OperationalError as exc:
            self._broken = self._broken or str(exc)
        except (sqlite3.DatabaseError, OSError):
            self._start_afresh()  # damaged: keep at least the index, which stays true
            try:
                self._write_meta(gone)
            except (sqlite3.Error, OSError) as exc:
                self._broken = self._broken or str(exc)
        problems = self._unsaved()
        self.close()
        if not problems:
            with contextlib.suppress(OSError):  # the one-pickle cache of earlier versions
                self.path.with_suffix(".pickle").unlink()
        return problems

    def _write_meta(self, gone: list[str]) -> None:
        db = self._writable()
        db.executemany("DELETE FROM entries WHERE rel = ?", [(rel,) for rel in gone])
        meta = {"index": self.index, "last": self.last, "media": self.media_names}
        db.executemany(
            "INSERT OR REPLACE INTO meta VALUES (?, ?)",
            [(key, _dumps(value)) for key, value in meta.items()],
        )
        if self._deck_changed:
            self._write_deck(db)
        if self._known_changed and self._known is not None:
            db.execute("INSERT OR REPLACE INTO meta VALUES ('notes', ?)", (_dumps(self._known),))
        db.commit()

    def _unsaved(self) -> list[Diagnostic]:
        if not self._broken:
            return []
        self.close()
        for stale in (self.path, self.path.with_name(self.path.name + "-journal")):
            with contextlib.suppress(OSError):
                stale.unlink()
        return [warning(str(self.path.parent), 0, f"build cache not saved: {self._broken}")]

    def _writable(self) -> sqlite3.Connection:
        if self._broken:
            raise sqlite3.OperationalError(self._broken)
        if self._db is not None:
            return self._db
        self.path.parent.mkdir(parents=True, exist_ok=True)
        gitignore = self.path.parent / ".gitignore"
        if self.keep and not gitignore.exists():
            gitignore.write_text("*\n")
        if self._fresh:
            for stale in (self.path, self.path.with_name(self.path.name + "-journal")):
                stale.unlink(missing_ok=True)
        db = sqlite3.connect(self.path)
        if self._fresh:
            db.executescript(
                "CREATE TABLE meta (key TEXT PRIMARY KEY, value BLOB);"
                "CREATE TABLE entries (rel TEXT PRIMARY KEY, parse_key TEXT, summary BLOB,"
                " parse BLOB, render_key TEXT, render BLOB);"
                "CREATE TABLE parts (rel TEXT PRIMARY KEY, part BLOB);"
                "CREATE TABLE segments (digest BLOB PRIMARY KEY, data BLOB);"
            )
            db.executemany(
                "INSERT INTO meta VALUES (?, ?)",
                [("format", _FORMAT.encode()), ("code", self.code.encode())],
            )
            self._fresh = False
        self._db = db
        return db

    def _readable(self) -> sqlite3.Connection | None:
        if self._db is not None:
            return self._db
        if self._fresh or self._broken:
            return None
        try:
            self._db = sqlite3.connect(self.path)
        except sqlite3.Error:
            return None
        return self._db

    def __getstate__(self) -> dict[str, Any]:
        state = dict(self.__dict__)
        state.update(_db=None, _tmp=None, _deck=None, _deck_read=False, _known=None)
        return state

    # -- notes: stamps, summaries, parses and renderings -----------------------------------

    def vouch(self, rel: str, stamp: FileStamp) -> bytes | None:
        """The digest of a note whose stamp says it is as last read, or ``None``: read it."""
        return self.index.vouch(rel, stamp)

    def record(self, rel: str, known: Known) -> None:
        """Remember how a note's file was read."""
        if self.index.get(rel) != known:
            self.index[rel] = known
            self.changed = True

    @staticmethod
    def parse_key(shown: str, digest: bytes, options_key: str) -> str:
        """A parse depends on the note's bytes, its shown path and the parse options."""
        head = f"{shown}\0{options_key}\0".encode()
        return hashlib.sha256(head + digest).hexdigest()

    def forget_summaries(self) -> None:
        """Let go of the summaries fetched or stored so far (a build has them elsewhere)."""
        self._summaries = None

    def prefetch_summaries(self) -> None:
        """Fetch every note's summary in one query (a build about to ask for most)."""
        if self._summaries is None:
            self._summaries = self._fetch_summaries()

    def summary(self, rel: str, parse_key: str) -> NoteSummary | None:
        """The summary of a note parsed with this key."""
        found: tuple[str, bytes] | None = None
        if self._summaries is not None and rel not in self._spill:
            found = self._summaries.get(rel)
        else:
            row = self._row(rel, "parse_key, summary")
            found = (row[0], row[1]) if row is not None and row[1] is not None else None
        if found is None or found[0] != parse_key:
            return None
        summary = loads(found[1])
        return summary if isinstance(summary, NoteSummary) else None

    def _fetch_summaries(self) -> dict[str, tuple[str, bytes]]:
        db = self._readable()
        if db is None:
            return {}
        try:
            rows = db.execute("SELECT rel, parse_key, summary FROM entries").fetchall()
        except sqlite3.Error:
            return {}
        return {rel: (key, blob) for rel, key, blob in rows if blob is not None}

    def parsed(self, rel: str, parse_key: str) -> Any | None:
        """The stored parse (a ``(Note, diagnostics)`` pickle's contents) for this key."""
        row = self._row(rel, "parse_key, parse")
        if row is None or row[0] != parse_key or row[1] is None:
            return None
        return loads(row[1])

    def parse_blob(self, rel: str, parse_key: str) -> bytes | None:
        """The stored parse, still pickled (for a worker process to unpickle); one stored by
        an earlier build is unpickled here first, to be sure it still can be."""
        row = self._row(rel, "parse_key, parse")
        if row is None or row[0] != parse_key or row[1] is None:
            return None
        blob = bytes(row[1])
        if rel not in self._written and not isinstance(loads(blob), tuple):
            return None
        return blob

    def remember_parse(self, rel: str, parse_key: str, summary: NoteSummary, parsed: bytes) -> None:
        """Store a note's parse (pickled) and summary, dropping its old rendering."""
        blob = _dumps(summary)
        self._put(
            rel, parse_key=parse_key, summary=blob, parse=parsed, render_key=None, render=None
        )
        if self._summaries is not None:
            self._summaries[rel] = (parse_key, blob)

    def renderings(self, wanted: list[tuple[str, str, str]]) -> Iterator[tuple[str, bytes | None]]:
        """For each ``(rel, parse key, render key)`` in order, the stored rendering made
        from that parse with those settings (pickled), or ``None``."""
        for start in range(0, len(wanted), _BATCH):
            batch = wanted[start : start + _BATCH]
            rows = self._rows([rel for rel, _, _ in batch], "parse_key, render_key, render")
            for rel, parse_key, render_key in batch:
                row = rows.get(rel)
                ok = row is not None and row[0] == parse_key and row[1] == render_key
                yield rel, bytes(row[2]) if ok and row is not None and row[2] else None

    def remember_render(self, rel: str, render_key: str, rendered: bytes) -> None:
        """Store a note's rendering (pickled) next to the parse it came from."""
        self._put(rel, render_key=render_key, render=rendered)

    def _row(self, rel: str, columns: str) -> tuple[Any, ...] | None:
        return self._rows([rel], columns).get(rel)

    def _rows(self, rels: list[str], columns: str) -> dict[str, tuple[Any, ...]]:
        names = [c.strip() for c in columns.split(",")]
        found: dict[str, tuple[Any, ...]] = {}
        db = self._readable()
        asked = [rel for rel in rels if rel not in self._spill]
        if db is not None and asked:
            marks = ",".join("?" * len(asked))
            query = f"SELECT rel, {columns} FROM entries WHERE rel IN ({marks})"
            with contextlib.suppress(sqlite3.Error):
                found = {row[0]: tuple(row[1:]) for row in db.execute(query, asked)}
        for rel in rels:
            if rel in self._spill:
                found[rel] = tuple(self._spill[rel].get(name) for name in names)
        return found

    def _put(self, rel: str, **values: Any) -> None:
        self.changed = True
        self._written.add(rel)
        if rel not in self._spill and not self._broken:
            for attempt in (1, 2):
                try:
                    self._write_row(rel, values)
                    return
                except sqlite3.OperationalError as exc:  # disk full, read-only: give up
                    self._broken = str(exc)
                except (sqlite3.DatabaseError, OSError) as exc:  # damaged: start afresh, once
                    self._start_afresh()
                    if attempt == 2:
                        self._broken = str(exc)
        self._spill.setdefault(rel, {}).update(values)

    def _write_row(self, rel: str, values: Mapping[str, Any]) -> None:
        db = self._writable()
        if "parse_key" in values:
            row = (rel, *(values[k] for k in _COLUMNS))
            db.execute("INSERT OR REPLACE INTO entries VALUES (?, ?, ?, ?, ?, ?)", row)
        else:
            db.execute(
                "UPDATE entries SET render_key = ?, render = ? WHERE rel = ?",
                (values["render_key"], values["render"], rel),
            )

    def known_notes(self) -> KnownNotes | None:
        """Every note's summary as the last build read it, compactly (read when asked for)."""
        from paperdeck.vaultread import KnownNotes

        if not self._known_read:
            self._known_read = True
            found = loads(blob) if (blob := self._meta_value("notes")) is not None else None
            self._known = found if isinstance(found, KnownNotes) else None
        return self._known

    def remember_known(self, known: KnownNotes) -> None:
        self._known, self._known_read, self._known_changed = known, True, True
        self.changed = True

    def _meta_value(self, key: str) -> bytes | None:
        db = self._readable()
        if db is None:
            return None
        with contextlib.suppress(sqlite3.Error):
            row = db.execute("SELECT value FROM meta WHERE key = ?", (key,)).fetchone()
            if row is not None and row[0] is not None:
                return bytes(row[0])
        return None

    # -- the last deck ---------------------------------------------------------------------

    def deck_record(self) -> DeckRecord | None:
        """The last deck written, note by note (read once, when first asked for)."""
        from paperdeck.deckrecord import DeckRecord

        if not self._deck_read:
            self._deck_read = True
            found = loads(blob) if (blob := self._meta_value("deck")) is not None else None
            self._deck = found if isinstance(found, DeckRecord) else None
        return self._deck

    def note_parts(self, rels: list[str]) -> dict[str, NotePart]:
        """The last deck's part of each of these notes (those it has)."""
        from paperdeck.deckrecord import NotePart

        found: dict[str, NotePart] = {}
        db = self._readable()
        if db is None:
            return found
        for start in range(0, len(rels), _BATCH):
            batch = rels[start : start + _BATCH]
            query = f"SELECT rel, part FROM parts WHERE rel IN ({','.join('?' * len(batch))})"
            with contextlib.suppress(sqlite3.Error):
                for rel, blob in db.execute(query, batch):
                    part = loads(blob)
                    if isinstance(part, NotePart):
                        found[rel] = part
        return found

    def segments(self, digests: Sequence[bytes]) -> dict[bytes, bytes]:
        """The compressed pages stored under these digests (those there are)."""
        found: dict[bytes, bytes] = {}
        db = self._readable()
        if db is None:
            return found
        for start in range(0, len(digests), _BATCH):
            batch = list(digests[start : start + _BATCH])
            query = (
                f"SELECT digest, data FROM segments WHERE digest IN ({','.join('?' * len(batch))})"
            )
            with contextlib.suppress(sqlite3.Error):
                found.update((bytes(d), bytes(data)) for d, data in db.execute(query, batch))
        return found

    def has_segments(self, image: Image) -> bool:
        """Whether every run of the image is stored."""
        db = self._readable()
        if db is None:
            return False
        try:
            stored = {bytes(d) for (d,) in db.execute("SELECT digest FROM segments")}
        except sqlite3.Error:
            return False
        return _referenced(image) <= stored

    def remember_deck(self, record: DeckRecord, store: SegmentStore, ledger: DeckLedger) -> None:
        """Keep the deck just written: its record, the parts of the notes rendered for it,
        and the pages made for it."""
        if not self.keep:
            return
        self._deck, self._deck_read, self._deck_changed = record, True, True
        self.changed = True
        try:
            db = self._writable()
            if ledger.reuse is None:
                db.execute("DELETE FROM parts")
            else:
                gone = [(rel,) for rel in ledger.reuse.old if rel not in ledger.parts]
                db.executemany("DELETE FROM parts WHERE rel = ?", gone)
            db.executemany("INSERT OR REPLACE INTO parts VALUES (?, ?)", list(ledger.parts.items()))
            wanted = _referenced(record.image)
            db.executemany(
                "INSERT OR IGNORE INTO segments VALUES (?, ?)",
                [(d, data) for d, data in store.made.items() if d in wanted],
            )
        except (sqlite3.Error, OSError) as exc:
            self._broken = self._broken or str(exc)

    def let_go_of_deck(self) -> None:
        """Drop the last deck's record from memory (it stays in the file unless this build
        remembers or forgets a deck)."""
        if not self._deck_changed and self._deck is not None:
            self._deck, self._deck_dropped = None, True

    def forget_deck(self) -> None:
        """Keep no deck: the next build writes its deck in full."""
        if self._deck is not None or not self._deck_read or self._deck_dropped:
            self._deck, self._deck_read, self._deck_changed = None, True, True
            self.changed = True

    def _write_deck(self, db: sqlite3.Connection) -> None:
        if self._deck is None:
            db.execute("DELETE FROM meta WHERE key = 'deck'")
            db.execute("DELETE FROM parts")
            db.execute("DELETE FROM segments")
            return
        db.execute("INSERT OR REPLACE INTO meta VALUES ('deck', ?)", (_dumps(self._deck),))
        wanted = _referenced(self._deck.image)
        stored = {bytes(d) for (d,) in db.execute("SELECT digest FROM segments")}
        db.executemany("DELETE FROM segments WHERE digest = ?", [(d,) for d in stored - wanted])

    def _start_afresh(self) -> None:
        """Drop a damaged file: what it held is read again from the notes."""
        self._deck, self._deck_read, self._deck_changed = None, True, True
        self._known, self._known_read = None, True
        if self._db is not None:
            with contextlib.suppress(sqlite3.Error):
                self._db.close()
            self._db = None
        self._fresh = True
        self._summaries = {}


_COLUMNS = ("parse_key", "summary", "parse", "render_key", "render")


def _referenced(image: Image) -> set[bytes]:
    """The digests of the image's stored segments (its runs)."""
    from paperdeck.anki.deckimage import Run

    found = {image.col.segment.digest} if image.col is not None else set()
    for runs in image.runs.values():
        found.update(r.segment.digest for r in runs if isinstance(r, Run))
    return found


class _Pickler(pickle.Pickler):
    """Pickles paperdeck's own note types by name: nearly every rendering holds one of
    three, and 20,000 copies of their templates would make the cache several times larger
    (and each unpickled copy would take memory of its own)."""

    def __init__(self, file: io.BytesIO, shared: Mapping[int, str]) -> None:
        super().__init__(file, protocol=pickle.HIGHEST_PROTOCOL)
        self.shared = shared

    def reducer_override(self, obj: Any) -> Any:
        name = self.shared.get(id(obj))
        if name is not None:
            return shared_note_type, (name,)
        if type(obj) is _LocalPath:  # the images a vault's notes share: made once each
            return shared_path, (os.fspath(obj),)
        return NotImplemented


@functools.cache
def _shared_types() -> dict[str, Any]:
    from paperdeck.anki.note_types import BASIC, CLOZE, REVERSED

    return {"basic": BASIC, "reversed": REVERSED, "cloze": CLOZE}


_LocalPath = type(Path())


@functools.lru_cache(maxsize=4096)
def shared_path(text: str) -> Path:
    """A path the cache pickled, one object per path (200 notes that show one image)."""
    return Path(text)


def shared_note_type(name: str) -> Any:
    """One of paperdeck's own note types, by the name the cache pickles it under."""
    return _shared_types()[name]


def dumps(value: object) -> bytes:
    """Pickle a parse or a rendering for the cache (or for a worker process)."""
    buffer = io.BytesIO()
    shared = {id(t): name for name, t in _shared_types().items()}
    _Pickler(buffer, shared).dump(value)
    return buffer.getvalue()


def _dumps(value: object) -> bytes:
    return pickle.dumps(value, protocol=pickle.HIGHEST_PROTOCOL)


def _loads(data: bytes) -> Any:
    try:
        return pickle.loads(data)
    except Exception as exc:  # any unpickling failure only means there is no cache
        raise _Unusable from exc


def loads(data: bytes) -> Any:
    """Unpickle a cache entry; ``None`` if it cannot be (a damaged entry is a miss)."""
    try:
        return pickle.loads(data)
    except Exception:  # any unpickling failure
        return None


def _unusable_folder(cache_dir: Path) -> str:
    """Why the cache folder cannot hold a cache, or ``""``."""
    if cache_dir.exists() and not cache_dir.is_dir():
        return "not a folder; building without a cache"
    if cache_dir.is_dir() and not os.access(cache_dir, os.W_OK | os.X_OK):
        return "not writable; building without a cache"
    return ""
