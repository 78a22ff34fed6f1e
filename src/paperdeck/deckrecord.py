"""The deck the last build wrote, note by note: a build in which a few notes changed takes
the others over as they are, neither rendering them nor reading their renderings again.

For each note the record keeps what it added to the deck (a :class:`NotePart`: the shapes
of its Anki notes, its media files, embeds, links and messages), and for the deck as a
whole what those parts add up to and the collection file's
:class:`~paperdeck.anki.deckimage.Image`. A note stands unchanged when the record holds its
current parse and nothing else its rendering depends on has changed: the render settings,
the card state that gave each card its time (as the last build saved it), and the file
behind each of its embeds and links (all of them at once by their stamps, or, when the
vault's files changed, note by note). Writing the deck then costs what changed: the
changed notes' runs of pages and the few pages above them (see
:mod:`~paperdeck.anki.deckimage`). The deck is the one a build from nothing writes, byte
for byte.
"""

from __future__ import annotations

import hashlib
import os
import pickle
import zlib
from array import array
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path, PurePosixPath
from typing import TYPE_CHECKING

from paperdeck.anki.deckimage import Image
from paperdeck.anki.deckrows import (
    NeedsFullBuild,
    NoteRow,
    NoteShape,
    RowSpool,
    note_row,
    shape,
    with_mod,
)
from paperdeck.anki.segments import Segment, SegmentStore
from paperdeck.diagnostics import Diagnostic

if TYPE_CHECKING:
    from paperdeck.anki.apkg import AnkiNote
    from paperdeck.anki.note_types import NoteType
    from paperdeck.build import DeckContent
    from paperdeck.buildcache import BuildCache
    from paperdeck.cards.note_render import RenderContext, RenderedNote
    from paperdeck.notes.state import CardState
    from paperdeck.notes.vault import SourceNote
    from paperdeck.vaultread import Vault

EmbedKey = tuple[str, str, str]
"""An embed's target, style (``md`` or ``wiki``) and the folder of the note showing it."""
Where = tuple[str | None, bool]
"""The file an embed points to (``None``: none) and whether it is a generated figure."""


@dataclass(frozen=True)
class NotePart:
    """What one note added to the deck."""

    key: str
    """The cache key of the parse it was rendered from."""
    shapes: tuple[NoteShape, ...]
    media: tuple[tuple[str, str], ...]
    """(media name, path) of each file it shows."""
    embeds: tuple[EmbedKey, ...]
    diagnostics: tuple[Diagnostic, ...]
    """What rendering it reported."""
    resolved: tuple[tuple[tuple[str, bool], str], ...] = ()
    """How each embed ``(target, Markdown style)`` resolved (see
    :attr:`~paperdeck.cards.note_render.RenderedNote.embeds`)."""
    links: tuple[tuple[str, str | None], ...] = ()
    """Each wikilink's target and the URL it became."""


def note_part(
    key: str, rendered: RenderedNote, rows: Sequence[NoteRow] | None, folder: str
) -> NotePart | None:
    """The part of a rendered note (``rows``: its notes', ``None`` if a card has no ID: a
    deck holding such a card is always written in full)."""
    if rows is None:
        return None
    return NotePart(
        key,
        tuple(shape(r) for r in rows),
        tuple((name, os.fspath(path)) for name, path in rendered.media.items()),
        tuple((t, "md" if style else "wiki", folder) for t, style in rendered.embeds),
        tuple(rendered.diagnostics),
        tuple(rendered.embeds.items()),
        tuple(rendered.links.items()),
    )


@dataclass
class DeckRecord:
    """The last deck written, as the build cache keeps it."""

    settings: str
    """The render settings' fingerprint."""
    files: str
    """A digest of the vault's file list."""
    keys: dict[str, str]
    """The parse key of each note in the deck, by vault-relative path."""
    diagnostics: dict[str, tuple[Diagnostic, ...]]
    """What rendering each note reported, for the notes that reported anything."""
    media: dict[str, tuple[str, int]]
    """Each media file's path and how many notes show it, by media name."""
    embeds: dict[EmbedKey, tuple[Where, str, int]]
    """Where each embed points, how it resolved, and how many notes show it."""
    image: Image


@dataclass
class Reuse:
    """The last deck, with what this build takes over from it."""

    record: DeckRecord
    kept: set[int]
    """The notes taken over, by index in the vault."""
    old: dict[str, NotePart]
    """The last parts of the notes that changed or left the vault."""


@dataclass
class DeckLedger:
    """What one build's deck is made of, note by note: the notes rendered (or whose
    rendering was reused) in this build, kept on disk rather than in memory, and what it
    takes over from the last deck."""

    settings: str
    files: str
    parts: dict[str, bytes | None] = field(default_factory=dict)
    """The part of each note rendered in this build (pickled, see :meth:`part`; ``None``
    for a note with a card without an ID), by vault-relative path."""
    rows: RowSpool = field(default_factory=RowSpool)
    """The rows of the Anki notes that have an ID, with their content digests."""
    unplaced: list[tuple[AnkiNote, str]] = field(default_factory=list)
    """The Anki notes whose card has no ID yet, with their content digests."""
    reuse: Reuse | None = None

    def take(
        self, rel: str, key: str, rendered: RenderedNote, digests: Sequence[str], folder: str
    ) -> None:
        """Keep a rendered note's Anki notes (their rows, on disk) and its part."""
        rows: list[NoteRow] | None = []
        for note, digest in zip(rendered.notes, digests, strict=True):
            if note.note_id is None:
                self.unplaced.append((note, digest))
                rows = None
                continue
            row = note_row(note)
            self.rows.append(row, digest)
            if rows is not None:
                rows.append(row)
        part = note_part(key, rendered, rows, folder)
        self.parts[rel] = pickle.dumps(part, pickle.HIGHEST_PROTOCOL) if part else None

    def part(self, rel: str) -> NotePart | None:
        blob = self.parts[rel]
        return None if blob is None else pickle.loads(blob)

    def take_all(self, notes: Sequence[AnkiNote], digests: Sequence[str]) -> None:
        """Keep Anki notes that belong to no part (a deck made afresh, in full)."""
        for note, digest in zip(notes, digests, strict=True):
            if note.note_id is None:
                self.unplaced.append((note, digest))
            else:
                self.rows.append(note_row(note), digest)


def files_digest(files: Iterable[PurePosixPath]) -> str:
    return hashlib.sha256("\n".join(map(str, files)).encode()).hexdigest()


def deck_ledger(
    vault: Vault, keys: Sequence[str], settings: str, context: RenderContext, cache: BuildCache
) -> DeckLedger:
    """A build's ledger: with the notes it may take over from the last deck (``keys``: the
    parse key of each of the vault's notes; ``context``: what this build renders with)."""
    from paperdeck.vaultread import has_missing

    ledger = DeckLedger(settings, files_digest(vault.files))
    if cache.keep:
        missing = lambda source: has_missing(vault, source)  # noqa: E731
        ledger.reuse = _reusable(vault, keys, ledger, cache, context, missing)
        if ledger.reuse is None:
            cache.let_go_of_deck()  # a deck made anew: the last one need not stay in memory
    return ledger


def _reusable(
    vault: Vault,
    keys: Sequence[str],
    ledger: DeckLedger,
    cache: BuildCache,
    context: RenderContext,
    missing_ids: Callable[[SourceNote], bool],
) -> Reuse | None:
    """The last deck and the notes this build may take over from it, or ``None`` (nothing
    to take over: every note is rendered and the deck written in full).

    A note is taken over when its parse is the one the last deck was made from and its
    rendering would come out the same: when the vault's files and every embedded file are
    as they were, that is every such note; else each note's embeds and links are looked up
    again, as a cached rendering's are (a note added, deleted or renamed, an image
    changed, changes only the notes that show it or link to it)."""
    from paperdeck.cards.note_render import RenderedNote, cached_still_valid
    from paperdeck.notes.lock import state_dir
    from paperdeck.notes.state import STATE_NAME
    from paperdeck.uptodate import embeds_hold, same_file

    record = cache.deck_record()
    last = cache.last
    root = vault.root
    if (
        record is None
        or last is None
        or not last.files
        or record.settings != ledger.settings
        or not same_file(last.files[0], state_dir(root) / STATE_NAME)
    ):
        return None
    sources = vault.sources
    kept = {
        i
        for i, (source, key) in enumerate(zip(sources, keys, strict=True))
        if key and record.keys.get(source.rel_text) == key
    }
    embeds = {key: (*where, state) for key, (where, state, _) in record.embeds.items()}
    parts: dict[str, NotePart] = {}
    if record.files != ledger.files or not embeds_hold(
        embeds, Path(os.path.realpath(root)), context.media_names
    ):
        parts = cache.note_parts([sources[i].rel_text for i in kept])
        seen: dict[tuple[str, ...], str | None] = {}
        kept = {
            i
            for i in kept
            if (part := parts.get(sources[i].rel_text)) is not None
            and cached_still_valid(
                RenderedNote([], {}, [], dict(part.resolved), dict(part.links)),
                sources[i],
                context,
                seen,
            )
        }
    here = {s.rel_text for s in sources}
    changed = [s for i, s in enumerate(sources) if i not in kept]
    if not kept or any(missing_ids(s) for s in changed):
        return None
    wanted = [s.rel_text for s in changed if s.rel_text in record.keys]
    wanted += [rel for rel in record.keys if rel not in here]
    old = {rel: parts[rel] for rel in wanted if rel in parts}
    old.update(cache.note_parts([rel for rel in wanted if rel not in old]))
    if len(old) != len(wanted) or not cache.has_segments(record.image):
        return None
    return Reuse(record, kept, old)


def write_deck(
    content: DeckContent,
    state: CardState,
    cache: BuildCache,
    out: Path,
    *,
    write_ids: bool,
    everything: Callable[[], DeckContent],
) -> tuple[str, bool]:
    """Give each card its time, record it in the card state (with ``write_ids``), and write
    the deck to ``out`` unless the file there is already it.

    The notes are those of ``content.ledger``: every note of the deck, or, when it takes
    notes over from the last deck, the notes that changed (``content``'s media and embeds
    are then brought up to date here). ``content.notes`` becomes the whole deck's, made
    again (by ``everything``) only if asked for; ``everything`` also makes the deck afresh
    when the last deck cannot be updated after all. Returns the deck's fingerprint and
    whether the file at ``out`` already was this deck.
    """
    from paperdeck.anki.apkg import write_package
    from paperdeck.fileio import atomic_path
    from paperdeck.uptodate import same_file
    from paperdeck.vaultread import Deferred

    ledger = content.ledger
    assert ledger is not None
    mods = _settle(ledger, state, write_ids)
    store = SegmentStore(cache.segments)
    record: DeckRecord | None = None
    segments: list[Segment] = []
    if ledger.reuse is not None:
        try:
            record = _update(ledger, mods, content.media, content.embeds, state, store)
            segments = record.image.segments(store)
            store.prefetch(segments)  # every page there and as stored, before writing
        except (KeyError, OSError, zlib.error, NeedsFullBuild):  # lost from the cache: all
            record = None
            ledger.rows.close()
            fresh = everything()
            content.media, content.embeds = fresh.media, fresh.embeds
            ledger = DeckLedger(ledger.settings, ledger.files)
            ledger.take_all(fresh.notes, fresh.digests)
            mods = _settle(ledger, state, write_ids)
            store = SegmentStore()
    if record is None:
        _place(ledger, mods)
        type_mods = _type_mods(ledger.rows, mods, state, write_ids)
        image = Image.build(ledger.rows, mods, type_mods, store)
        if write_ids and ledger.parts and all(p is not None for p in ledger.parts.values()):
            record = _full_record(ledger, image, content.embeds)
        count = len(ledger.rows)
        segments = image.segments(store)
    else:
        image = record.image
        count = len(image.nids)
    ledger.rows.close()
    content.notes = Deferred(count, lambda: settle_all(everything(), state))
    fingerprint = deck_fingerprint(segments, content.media)
    last = cache.last
    up_to_date = (
        last is not None and last.fingerprint == fingerprint and same_file(last.files[-1], out)
    )
    if not up_to_date:
        with atomic_path(out) as tmp:
            write_package(tmp, image, store, sorted(content.media.items()), segments)
    if record is not None and write_ids:
        cache.remember_deck(record, store, ledger)
    else:
        cache.forget_deck()
    return fingerprint, up_to_date


def settle_all(content: DeckContent, state: CardState) -> list[AnkiNote]:
    """Every note of a deck collected afresh, with the time the card state gives it."""
    from paperdeck.build import settle_mods

    return settle_mods(content.notes, state, content.digests)


def _settle(ledger: DeckLedger, state: CardState, write_ids: bool) -> array[int]:
    """Each row's ``mod`` from the card state (see
    :func:`~paperdeck.anki.apkg.keep_unchanged_mods`), recorded there with ``write_ids``."""
    from paperdeck.anki.apkg import settled_mod

    rows, cards = ledger.rows, state.cards
    mods = array("q")
    for index, (nid, mod) in enumerate(zip(rows.nids, rows.mods, strict=True)):
        before = cards.get(nid)
        digest = rows.digest(index)
        if before is not None:
            mod = settled_mod(mod, digest, (before.mod, before.digest))
        mods.append(mod)
        if write_ids:
            state.record(nid, digest, mod)
    return mods


def _place(ledger: DeckLedger, mods: array[int]) -> None:
    """Give each note whose card has no ID an unused note id, and add its row (its time
    as it was: there is no record of it in the card state)."""
    from paperdeck.anki.apkg import with_note_ids

    if not ledger.unplaced:
        return
    digests = {(n.deck, n.guid): d for n, d in ledger.unplaced}
    for note in with_note_ids([n for n, _ in ledger.unplaced], ledger.rows.nids):
        ledger.rows.append(note_row(note), digests[(note.deck, note.guid)])
        mods.append(note.mod)
    ledger.unplaced = []


def _type_mods(
    rows: RowSpool, mods: Sequence[int], state: CardState, write_ids: bool
) -> dict[int, int]:
    """Each note type's time (see :func:`~paperdeck.build.settle_types`)."""
    from paperdeck.anki.apkg import AnkiNote
    from paperdeck.build import settle_types

    newest = max(mods, default=0)
    shown = [AnkiNote("", None, "", (), (), newest, t) for t in rows.note_types().values()]
    return settle_types(shown, state, record=write_ids)


def deck_fingerprint(segments: Iterable[Segment], media: Mapping[str, Path]) -> str:
    """What the package holds: its collection file's segments and its media (by name,
    which holds a hash of the content)."""
    digest = hashlib.sha256(b"paperdeck package 2\0")
    for segment in segments:
        digest.update(segment.digest)
    digest.update("\0".join(sorted(media)).encode())
    return digest.hexdigest()


def _update(
    ledger: DeckLedger,
    mods: Sequence[int],
    media: dict[str, Path],
    embeds: dict[EmbedKey, tuple[Where, str]],
    state: CardState,
    store: SegmentStore,
) -> DeckRecord:
    """The last deck's record brought up to date with the notes that changed."""
    from paperdeck.anki.apkg import AnkiNote
    from paperdeck.build import settle_types

    assert ledger.reuse is not None
    if ledger.unplaced:
        raise NeedsFullBuild
    record, old = ledger.reuse.record, ledger.reuse.old
    rows = [with_mod(ledger.rows[i], mod) for i, mod in enumerate(mods)]
    counts = {model_id: n for model_id, (_, n) in record.image.types.items()}
    types: dict[int, NoteType] = {model_id: t for model_id, (t, _) in record.image.types.items()}
    for part in old.values():
        for _, _, model_id, _ in part.shapes:
            counts[model_id] -= 1
    for row in rows:
        counts[row.note_type.model_id] = counts.get(row.note_type.model_id, 0) + 1
        types[row.note_type.model_id] = row.note_type
    in_use = [AnkiNote("", None, "", (), (), 0, types[i]) for i, n in counts.items() if n > 0]
    type_mods = settle_types(in_use, state, record=True)
    removed = [s for part in old.values() for s in part.shapes]
    record.image.update(removed, rows, type_mods, store)
    for rel, part in old.items():
        _add(record, rel, part, -1, embeds)
        del record.keys[rel]
    for rel in ledger.parts:
        new = ledger.part(rel)
        if new is None:
            raise NeedsFullBuild
        _add(record, rel, new, 1, embeds)
        record.keys[rel] = new.key
    record.files = ledger.files
    media.clear()
    media.update((name, Path(path)) for name, (path, _) in record.media.items())
    embeds.clear()
    embeds.update((key, (where, state)) for key, (where, state, _) in record.embeds.items())
    return record


def _add(
    record: DeckRecord,
    rel: str,
    part: NotePart,
    step: int,
    embeds: Mapping[EmbedKey, tuple[Where, str]],
) -> None:
    """Count a note's part in (``step`` 1) or out (-1) of the record's totals."""
    if step > 0 and part.diagnostics:
        record.diagnostics[rel] = part.diagnostics
    elif step < 0:
        record.diagnostics.pop(rel, None)
    for name, path in part.media:
        before = record.media.get(name)
        count = (before[1] if before else 0) + step
        if count > 0:
            record.media[name] = (before[0] if before else path, count)
        else:
            record.media.pop(name, None)
    for key in part.embeds:
        found = record.embeds.get(key)
        count = (found[2] if found else 0) + step
        if count <= 0:
            record.embeds.pop(key, None)
        elif found is not None:
            record.embeds[key] = (found[0], found[1], count)
        else:
            where, state = embeds[key]
            record.embeds[key] = (where, state, count)


def _full_record(
    ledger: DeckLedger, image: Image, embeds: Mapping[EmbedKey, tuple[Where, str]]
) -> DeckRecord:
    record = DeckRecord(ledger.settings, ledger.files, {}, {}, {}, {}, image)
    for rel in ledger.parts:
        part = ledger.part(rel)
        assert part is not None
        _add(record, rel, part, 1, embeds)
        record.keys[rel] = part.key
    return record
