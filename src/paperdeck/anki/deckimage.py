"""Anki's collection file as runs of compressed pages, brought up to date by what changed.

:mod:`~paperdeck.anki.sqlfile` packs each b-tree of Anki's schema (the notes, the cards
and their indexes; rows from :mod:`~paperdeck.anki.deckrows`) into runs of pages. Each run
is compressed on its own (:mod:`~paperdeck.anki.segments`), so the package's
``collection.anki2`` entry is the runs' bytes one after another. An :class:`Image` keeps
each run's place and compressed bytes (in a
:class:`~paperdeck.anki.segments.SegmentStore`): :meth:`Image.update` with a few
changed notes re-packs only their runs, then the interior pages and page 1, which are
rebuilt on every write. An image updated note by note is the image built from scratch
with the same notes, byte for byte (tested), because a run is a function of its entries
and where runs start is a function of the entries next to it.

Page layout: page 1 (file header and schema), the roots of the four empty b-trees, the
``col`` row (with the deck list, overflowing over many pages), the runs whose rows
overflow (their pages hold page numbers), then every other run, in schema and key order,
and last the interior pages and the free-page list. A run is padded with free pages to a
multiple of :data:`~paperdeck.anki.sqlfile.ROUND` pages, so that an edit rarely moves the
runs after it; and a run that moves without holding page numbers keeps its bytes.
"""

from __future__ import annotations

import hashlib
from array import array
from bisect import bisect_left, bisect_right
from collections import Counter
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from paperdeck.anki import sqlfile
from paperdeck.anki.deckrows import (
    Columns,
    NeedsFullBuild,
    NoteRow,
    NoteShape,
    RowSpool,
    card_ids,
    card_record,
    col_record,
    deck_id_of,
    index_record,
    schema,
    serial_width,
    type_json_key,
    with_mod,
)
from paperdeck.anki.segments import Segment, SegmentStore
from paperdeck.anki.sqlfile import Pages

if TYPE_CHECKING:
    from paperdeck.anki.note_types import NoteType

Key = Any
"""A b-tree entry's key: the rowid of a table row, the values of an index entry."""
Entry = tuple[Any, bytes]
"""(key, record) of one b-tree entry."""


@dataclass(frozen=True)
class Tree:
    """One b-tree of the schema that holds rows."""

    name: str
    index: bool
    every: int
    """About one entry in this many starts a run (a power of two): runs of some 25 pages."""


TREES = (
    Tree("notes", False, 128),
    Tree("cards", False, 2048),
    Tree("ix_notes_usn", True, 8192),
    Tree("ix_notes_csum", True, 8192),
    Tree("ix_cards_usn", True, 8192),
    Tree("ix_cards_nid", True, 8192),
    Tree("ix_cards_sched", True, 8192),
)


_BY_NAME = {t.name: t for t in TREES}


EMPTY = ("revlog", "graves", "ix_revlog_usn", "ix_revlog_cid")
"""B-trees that stay empty: their roots are pages 2 to 5."""


_COL_PAGE = 2 + len(EMPTY)


@dataclass
class _Pending:
    """A run's entries, to be packed once its place is known."""

    entries: list[Entry]
    first_of_tree: bool

    @property
    def first(self) -> Key:
        return _key(self.entries[0])


@dataclass
class Run:
    """A run of one b-tree: its first key, its pages and where its bytes are stored."""

    first: Key
    count: int
    """Entries, the leading divider of an index run included."""
    pages: int
    used: int
    leaves: int
    dividers: list[bytes]
    last: bytes
    """A table run: the divider after its last leaf (its largest rowid)."""
    lead: bytes
    """An index run after the first: the entry before its first leaf (as a cell body)."""
    spills: bool
    base: int
    """The page it was packed at (its bytes depend on it only if it ``spills``)."""
    segment: Segment


@dataclass
class Cards:
    """Every card of a collection, as arrays."""

    cids: array[int] = field(default_factory=lambda: array("q"))
    nids: array[int] = field(default_factory=lambda: array("q"))
    dids: array[int] = field(default_factory=lambda: array("q"))
    ords: array[int] = field(default_factory=lambda: array("l"))
    mods: array[int] = field(default_factory=lambda: array("q"))


def _tree_order(
    tree: Tree, columns: Columns, cards: Cards, record: Callable[[int], bytes]
) -> tuple[list[int], Callable[[int], Key], Callable[[int], bytes]]:
    """A b-tree's entries, in order, as numbers (of rows, or of cards), with how to make
    the key and the record of each."""
    nids, cids = columns.nids, cards.cids
    if tree.name in ("notes", "ix_notes_usn", "ix_notes_csum"):
        order = sorted(range(len(nids)), key=nids.__getitem__)
        if tree.name == "notes":
            return order, nids.__getitem__, record
        value = -1 if tree.name == "ix_notes_usn" else 0
        return order, lambda i: (value, nids[i]), lambda i: index_record((value, nids[i]))
    if tree.name in ("cards", "ix_cards_usn"):
        order = sorted(range(len(cids)), key=cids.__getitem__)
        if tree.name == "cards":
            c = cards
            return (
                order,
                cids.__getitem__,
                lambda i: card_record(c.nids[i], c.dids[i], c.ords[i], c.mods[i]),
            )
        return order, lambda i: (-1, cids[i]), lambda i: index_record((-1, cids[i]))
    if tree.name == "ix_cards_nid":
        by_note = cards.nids
        order = sorted(range(len(cids)), key=lambda i: (by_note[i], cids[i]))
        return order, lambda i: (by_note[i], cids[i]), lambda i: index_record((by_note[i], cids[i]))
    dids = cards.dids
    order = sorted(range(len(cids)), key=lambda i: (dids[i], cids[i]))
    return (
        order,
        lambda i: (dids[i], 0, 0, cids[i]),
        lambda i: index_record((dids[i], 0, 0, cids[i])),
    )


def _rowid(key: Key) -> int:
    """The rowid an entry's key ends with (a table's key is its rowid)."""
    return key[-1] if isinstance(key, tuple) else int(key)


@dataclass
class Image:
    """Every run of the collection file, and what the ``col`` row is made from."""

    runs: dict[str, list[Run | _Pending]] = field(
        default_factory=lambda: {t.name: [] for t in TREES}
    )
    col: Run | None = None
    col_key: str = ""
    """A digest of what the ``col`` row was made from."""
    decks: dict[str, int] = field(default_factory=dict)
    """Notes in each deck."""
    types: dict[int, tuple[NoteType, int]] = field(default_factory=dict)
    """Each note type in use, and its notes."""
    type_mods: dict[int, int] = field(default_factory=dict)
    nids: set[int] = field(default_factory=set)
    extra: dict[tuple[int, int], int] = field(default_factory=dict)
    """The card id of each card whose ord is not 0 (see :func:`card_ids`)."""

    # -- building and updating ----------------------------------------------------------------

    @classmethod
    def build(
        cls,
        rows: RowSpool,
        mods: Sequence[int],
        type_mods: Mapping[int, int],
        store: SegmentStore,
    ) -> Image:
        """The image of a collection holding ``rows`` with these ``mods``, made one b-tree
        at a time from a few arrays: only one b-tree's order is in memory at once, and the
        rows' records are read from disk a run at a time."""
        image = cls()
        columns = rows.columns()
        for deck, count in Counter(columns.decks[d] for d in columns.deck).items():
            image.decks[deck] = count
        for kind, count in Counter(columns.kind).items():
            note_type = columns.kinds[kind][0]
            before = image.types.get(note_type.model_id)
            image.types[note_type.model_id] = (note_type, (before[1] if before else 0) + count)
        image.nids = set(columns.nids)
        if len(image.nids) != len(columns.nids):
            raise ValueError("two notes with one id")
        kinds = columns.kinds
        pairs = [
            (nid, o)
            for nid, kind in zip(columns.nids, columns.kind, strict=True)
            for o in kinds[kind][1]
            if o
        ]
        image._set_type_mods(type_mods)
        image.extra = card_ids(image.nids, pairs)
        image._settle_col(store)
        assert image.col is not None
        cards = image._cards(columns, mods)
        base = _COL_PAGE + image.col.pages  # runs holding page numbers first: see _relayout
        later: list[Run] = []
        for tree in TREES:
            order, key, payload = _tree_order(
                tree, columns, cards, lambda i: with_mod(rows[i], mods[i]).record
            )
            marks = bytes(sqlfile.mix(_rowid(key(i))) & (tree.every - 1) == 0 for i in order)
            starts = [0, *sqlfile.marked_cuts(marks)]
            runs: list[Run | _Pending] = []
            for n, start in enumerate(starts):
                part = [
                    (key(i), payload(i))
                    for i in order[start : starts[n + 1] if n + 1 < len(starts) else len(order)]
                ]
                if not part:
                    continue
                spills = _spills(tree, _Pending(part, n == 0))
                run = _pack(tree, part, n == 0, base if spills else 0, store)
                if spills:
                    base += run.pages
                else:
                    later.append(run)
                runs.append(run)
            image.runs[tree.name] = runs
        for run in later:
            run.base = base
            base += run.pages
        return image

    def _cards(self, columns: Columns, mods: Sequence[int]) -> Cards:
        """Every card's id, note id, deck id, ord and time, as arrays."""
        cards = Cards()
        dids = [deck_id_of(name) for name in columns.decks]
        kinds = columns.kinds
        for nid, deck, kind, mod in zip(
            columns.nids, columns.deck, columns.kind, mods, strict=True
        ):
            for o in kinds[kind][1]:
                cards.cids.append(self._cid(nid, o))
                cards.nids.append(nid)
                cards.dids.append(dids[deck])
                cards.ords.append(o)
                cards.mods.append(mod)
        return cards

    def update(
        self,
        removed: Iterable[NoteShape],
        added: Iterable[NoteRow],
        type_mods: Mapping[int, int],
        store: SegmentStore,
    ) -> None:
        """Take out the notes ``removed`` describes and put in ``added`` (a changed note is
        in both); ``type_mods`` gives every note type in use its time."""
        old = list(removed)
        new = list(added)
        gone: dict[str, set[Key]] = {t.name: set() for t in TREES}
        put: dict[str, dict[Key, bytes]] = {t.name: {} for t in TREES}
        old_pairs = {(s[0], o) for s in old for o in s[3] if o}
        for nid, deck, model_id, ords in old:
            self._count(self.decks, deck, -1)
            count = self.types[model_id][1] - 1
            if count:
                self.types[model_id] = (self.types[model_id][0], count)
            else:
                del self.types[model_id]
            self.nids.discard(nid)
            did = deck_id_of(deck)
            _drop_note(gone, nid)
            for o in ords:
                _drop_card(gone, nid, did, self._cid(nid, o))
        for row in new:
            self._count(self.decks, row.deck, 1)
            before = self.types.get(row.note_type.model_id)
            self.types[row.note_type.model_id] = (row.note_type, (before[1] if before else 0) + 1)
            self.nids.add(row.nid)
        self._set_type_mods(type_mods)
        new_pairs = {(row.nid, o) for row in new for o in row.ords if o}
        if old_pairs or new_pairs or self.extra:
            changed = {row.nid for row in new} | {s[0] for s in old}
            self._move_cards(old_pairs, new_pairs, changed, gone, put, store)
        for row in new:
            did = deck_id_of(row.deck)
            put["notes"][row.nid] = row.record
            _put_note(put, row.nid)
            for o in row.ords:
                cid = self._cid(row.nid, o)
                _put_card(put, row.nid, did, cid, card_record(row.nid, did, o, row.mod))
        for tree in TREES:
            name = tree.name
            changes: dict[Key, bytes | None] = {k: None for k in gone[name] if k not in put[name]}
            if tree.index:  # an entry is its key: one both gone and put is as it was
                changes.update((k, index_record(k)) for k in put[name] if k not in gone[name])
            else:
                changes.update(put[name])
            if changes:
                self._apply(tree, changes, store)
        self._settle_col(store)
        self._relayout(store)

    def _set_type_mods(self, type_mods: Mapping[int, int]) -> None:
        if any(model_id not in type_mods for model_id in self.types):
            raise NeedsFullBuild
        self.type_mods = {i: type_mods[i] for i in self.types}

    def _move_cards(
        self,
        old_pairs: set[tuple[int, int]],
        new_pairs: set[tuple[int, int]],
        changed: set[int],
        gone: dict[str, set[Key]],
        put: dict[str, dict[Key, bytes]],
        store: SegmentStore,
    ) -> None:
        """Give every card of ord above 0 its id again (see :func:`card_ids`); a card of an
        unchanged note whose id moved (an id it took is now a note's) moves in the image."""
        before = self.extra
        self.extra = card_ids(self.nids, (set(before) - old_pairs) | new_pairs)
        for pair, cid in before.items():
            after = self.extra.get(pair)
            if after is None or after == cid or pair[0] in changed:
                continue
            row = self._lookup(_BY_NAME["cards"], cid, store)
            did = int(sqlfile.record_values(row)[2] or 0)
            _drop_card(gone, pair[0], did, cid)
            _put_card(put, pair[0], did, after, row)

    def _cid(self, nid: int, ord_: int) -> int:
        return self.extra[(nid, ord_)] if ord_ else nid

    @staticmethod
    def _count(counts: dict[str, int], key: str, step: int) -> None:
        value = counts.get(key, 0) + step
        if value:
            counts[key] = value
        else:
            counts.pop(key, None)

    # -- runs -----------------------------------------------------------------------------------

    def _apply(self, tree: Tree, changes: Mapping[Key, bytes | None], store: SegmentStore) -> None:
        """Bring the runs of ``tree`` in line with ``changes`` (key to record, or ``None``
        to remove), re-packing only the runs they fall in (and the one before each)."""
        runs = self.runs[tree.name]
        firsts = [r.first for r in runs]
        touched = sorted({max(0, bisect_right(firsts, k) - 1) for k in changes}) if runs else []
        regions: list[list[int]] = []
        for i in touched:
            lo = max(0, i - 1)
            if regions and lo <= regions[-1][1] + 1:
                regions[-1][1] = i
            else:
                regions.append([lo, i])
        if not runs:
            regions = [[0, -1]]
        ordered = sorted(changes)
        for lo, hi in reversed(regions):
            low_key = runs[lo].first if runs and lo > 0 else None
            high_key = runs[hi + 1].first if hi + 1 < len(runs) else None
            a = 0 if low_key is None else bisect_left(ordered, low_key)
            b = len(ordered) if high_key is None else bisect_left(ordered, high_key)
            old_entries = [self._entries(tree, runs[k], store, k == 0) for k in range(lo, hi + 1)]
            merged = _merge([e for part in old_entries for e in part], ordered[a:b], changes)
            next_hash = (
                _hash(tree, self._first_entry(tree, runs[hi + 1], store))
                if high_key is not None
                else None
            )
            made = self._make_runs(tree, merged, lo == 0, next_hash, old_entries, runs[lo : hi + 1])
            runs[lo : hi + 1] = made
        if tree.index and runs and isinstance(runs[0], Run) and runs[0].lead:
            runs[0] = _Pending(self._entries(tree, runs[0], store, False), True)  # now first

    def _first_entry(self, tree: Tree, run: Run | _Pending, store: SegmentStore) -> Entry:
        if isinstance(run, _Pending):
            return run.entries[0]
        if tree.index:
            payload = _body_payload(run.lead)
            return sqlfile.record_ints(payload), payload
        return run.first, b""

    def _entries(
        self, tree: Tree, run: Run | _Pending, store: SegmentStore, first: bool
    ) -> list[Entry]:
        if isinstance(run, _Pending):
            return run.entries
        raw = store.raw(run.segment)
        if not tree.index:
            return list(sqlfile.read_table_run(raw, run.base, run.leaves))
        payloads = sqlfile.read_index_run(raw, run.leaves, run.dividers)
        if not first:
            payloads.insert(0, _body_payload(run.lead))
        return [(None, p) for p in payloads]

    def _make_runs(
        self,
        tree: Tree,
        entries: list[Entry],
        at_start: bool,
        next_hash: int | None,
        old_entries: list[list[Entry]],
        old_runs: list[Run | _Pending],
    ) -> list[Run | _Pending]:
        """The runs of ``entries`` (a stretch of the tree that starts a run); an old run
        whose entries are all still together, and still first or not, is kept."""
        hashes = [_hash(tree, e) for e in entries]
        if next_hash is not None:
            hashes.append(next_hash)
        starts = [0, *(c for c in sqlfile.cuts(hashes, tree.every) if c < len(entries))]
        kept: dict[int, tuple[int, Run | _Pending]] = {
            id(part[0]): (k, run)
            for k, (part, run) in enumerate(zip(old_entries, old_runs, strict=True))
            if part
        }
        made: list[Run | _Pending] = []
        for n, start in enumerate(starts):
            end = starts[n + 1] if n + 1 < len(starts) else len(entries)
            part = entries[start:end]
            if not part:
                continue
            first_of_tree = at_start and n == 0
            found = kept.get(id(part[0]))
            if found is not None:
                k, run = found
                old = old_entries[k]
                was_first = at_start and k == 0
                if (
                    was_first == first_of_tree
                    and len(old) == len(part)
                    and all(a is b for a, b in zip(old, part, strict=True))
                ):
                    made.append(run)
                    continue
            made.append(_Pending(part, first_of_tree))
        return made

    def _lookup(self, tree: Tree, key: Key, store: SegmentStore) -> bytes:
        runs = self.runs[tree.name]
        index = max(0, bisect_right([r.first for r in runs], key) - 1)
        for entry in self._entries(tree, runs[index], store, index == 0):
            if _key(entry) == key:
                return entry[1]
        raise KeyError(key)

    # -- the col row and the layout ------------------------------------------------------

    def _settle_col(self, store: SegmentStore) -> None:
        first_deck = deck_id_of(min(self.decks)) if self.decks else 1
        key = hashlib.sha256(
            repr((sorted(self.decks), first_deck, sorted(self.type_mods.items()))).encode()
            + b"".join(type_json_key(t) for _, (t, _) in sorted(self.types.items()))
        ).hexdigest()
        if key == self.col_key and self.col is not None:
            return
        row = col_record(
            self.decks, [t for _, (t, _) in sorted(self.types.items())], self.type_mods, first_deck
        )
        pages = sqlfile.table_run([(1, row)], _COL_PAGE)
        self.col = _run_of(pages, 1, 1, b"", _COL_PAGE, store)
        self.col_key = key

    def _relayout(self, store: SegmentStore) -> None:
        """Give every run its place, packing new runs there, and re-pack a run whose pages
        hold page numbers (a row overflows) if it moved. Such runs come first, after the
        ``col`` row, so that a run that grows or shrinks moves only those after it that hold
        no page number, and need not be packed again; see :func:`place`."""
        assert self.col is not None
        order = place(
            (tree, run, _spills(tree, run)) for tree in TREES for run in self.runs[tree.name]
        )
        where = {id(run): i for runs in self.runs.values() for i, run in enumerate(runs)}
        base = _COL_PAGE + self.col.pages
        for tree, run, _ in order:
            runs = self.runs[tree.name]
            i = where[id(run)]
            if isinstance(run, _Pending):
                run = runs[i] = _pack(tree, run.entries, run.first_of_tree, base, store)
            elif run.base != base:
                if run.spills:
                    entries = self._entries(tree, run, store, i == 0)
                    run = runs[i] = _pack(tree, entries, i == 0, base, store)
                else:
                    run.base = base
            base += run.pages

    def placed(self) -> list[Run]:
        """Every run, in the order of its pages in the file."""
        runs = [r for tree in TREES for r in self.runs[tree.name] if isinstance(r, Run)]
        return sorted(runs, key=lambda r: r.base)

    # -- writing ------------------------------------------------------------------------------

    def segments(self, store: SegmentStore) -> list[Segment]:
        """The collection file's segments in order; page 1 and the interior pages are made
        now (into ``store``), every run's are already there."""
        assert self.col is not None
        tail, roots, free, total = self._tail()
        head = self._page_one(roots, free, total) + b"".join(_empty_root(n) for n in EMPTY)
        parts = [store.put(head), self.col.segment, *(run.segment for run in self.placed())]
        if tail:
            parts.append(store.put(tail))
        return parts

    def _tail(self) -> tuple[bytes, dict[str, int], tuple[int, int], int]:
        """Interior pages of every tree and the free-page list; each tree's root; (first
        trunk page, free pages); the pages in the file."""
        assert self.col is not None
        pages: list[bytes] = []
        roots: dict[str, int] = {}
        free: list[int] = list(range(_COL_PAGE + self.col.used, _COL_PAGE + self.col.pages))
        placed = self.placed()
        number = placed[-1].base + placed[-1].pages if placed else _COL_PAGE + self.col.pages
        for run in placed:
            free.extend(range(run.base + run.used, run.base + run.pages))
        leaves: dict[str, tuple[list[int], list[bytes]]] = {}
        for tree in TREES:
            children: list[int] = []
            dividers: list[bytes] = []
            runs = self.runs[tree.name]
            for i, some in enumerate(runs):
                assert isinstance(some, Run)
                run = some
                if i and tree.index:
                    dividers.append(run.lead)
                children.extend(range(run.base, run.base + run.leaves))
                dividers.extend(run.dividers)
                if not tree.index and i + 1 < len(runs):
                    dividers.append(run.last)
            leaves[tree.name] = (children, dividers)
        for tree in TREES:
            children, dividers = leaves[tree.name]
            if not children:
                pages.append(
                    sqlfile.page(sqlfile.INDEX_LEAF if tree.index else sqlfile.TABLE_LEAF, [])
                )
                roots[tree.name] = number
                number += 1
                continue
            kind = sqlfile.INDEX_INTERIOR if tree.index else sqlfile.TABLE_INTERIOR
            made, root = sqlfile.interior(kind, children, dividers, number)
            pages.extend(made)
            number += len(made)
            roots[tree.name] = root
        trunks = sqlfile.freelist(free, number) if free else []
        pages.extend(trunks)
        first_trunk = number if trunks else 0
        number += len(trunks)
        return b"".join(pages), roots, (first_trunk, len(free) + len(trunks)), number - 1

    def _page_one(self, roots: Mapping[str, int], free: tuple[int, int], total: int) -> bytes:
        placed = {name: 2 + i for i, name in enumerate(EMPTY)}
        placed["col"] = _COL_PAGE
        placed.update(roots)
        cells = []
        for rowid, (kind, name, table, sql) in enumerate(schema(), start=1):
            row = sqlfile.record((kind, name, table, placed[name], sql))
            cells.append(sqlfile.varint(len(row)) + sqlfile.varint(rowid) + row)
        body = sqlfile.page(sqlfile.TABLE_LEAF, cells, first=True)
        header = sqlfile.file_header(total, free[0], free[1], len(cells))
        return header + body[len(header) :]


def place(runs: Iterable[tuple[Tree, Any, bool]]) -> list[tuple[Tree, Any, bool]]:
    """The order of runs in the file, given in schema and key order with whether each
    spills: those that spill first (in that order), then the others (likewise)."""
    ordered = list(runs)
    return [r for r in ordered if r[2]] + [r for r in ordered if not r[2]]


def _spills(tree: Tree, run: Run | _Pending) -> bool:
    """Whether a run's pages hold page numbers: a row too large for its cell overflows."""
    if isinstance(run, Run):
        return run.spills
    return not tree.index and any(len(p) > sqlfile.TABLE_MAX_LOCAL for _, p in run.entries)


# -- entries ---------------------------------------------------------------------------------


def _drop_note(gone: dict[str, set[Key]], nid: int) -> None:
    gone["notes"].add(nid)
    gone["ix_notes_usn"].add((-1, nid))
    gone["ix_notes_csum"].add((0, nid))


def _put_note(put: dict[str, dict[Key, bytes]], nid: int) -> None:
    put["ix_notes_usn"][(-1, nid)] = b""
    put["ix_notes_csum"][(0, nid)] = b""


def _drop_card(gone: dict[str, set[Key]], nid: int, did: int, cid: int) -> None:
    gone["cards"].add(cid)
    gone["ix_cards_usn"].add((-1, cid))
    gone["ix_cards_nid"].add((nid, cid))
    gone["ix_cards_sched"].add((did, 0, 0, cid))


def _put_card(put: dict[str, dict[Key, bytes]], nid: int, did: int, cid: int, row: bytes) -> None:
    put["cards"][cid] = row
    put["ix_cards_usn"][(-1, cid)] = b""
    put["ix_cards_nid"][(nid, cid)] = b""
    put["ix_cards_sched"][(did, 0, 0, cid)] = b""


def _hash(tree: Tree, entry: Entry) -> int:
    """What decides whether an entry starts a run: its rowid's hash (an index entry read
    back from its pages has its rowid only in its record)."""
    key = entry[0]
    if key is None:
        return sqlfile.mix(_rowid_of(entry[1]))
    return sqlfile.mix(_rowid(key))


def _rowid_of(payload: bytes) -> int:
    """The last value of an index entry's record (all its values integers)."""
    serial = payload[payload[0] - 1]
    width = serial_width(serial)
    if not width:
        return serial - 8
    return int.from_bytes(payload[len(payload) - width :], "big", signed=True)


def _body_payload(body: bytes) -> bytes:
    size, pos = sqlfile.read_varint(body, 0)
    return body[pos : pos + size]


def _key(entry: Entry) -> Key:
    """An entry's key (an index entry read back from its pages has it only in its record)."""
    key = entry[0]
    return sqlfile.record_ints(entry[1]) if key is None else key


def _merge(
    entries: list[Entry], keys: Sequence[Key], changes: Mapping[Key, bytes | None]
) -> list[Entry]:
    """``entries`` (sorted) with the changes at ``keys`` (sorted) made."""
    if not entries:
        return [(k, v) for k in keys if (v := changes[k]) is not None]
    out = list(entries)
    for key in reversed(keys):
        pos = bisect_left(out, key, key=_key)
        value = changes[key]
        if pos < len(out) and _key(out[pos]) == key:
            if value is None:
                del out[pos]
            else:
                out[pos] = (key, value)
        elif value is not None:
            out.insert(pos, (key, value))
    return out


def _pack(
    tree: Tree, entries: Sequence[Entry], first_of_tree: bool, base: int, store: SegmentStore
) -> Run:
    if tree.index:
        pages = sqlfile.index_run([p for _, p in entries], divider=not first_of_tree)
        lead = b"" if first_of_tree else sqlfile.varint(len(entries[0][1])) + entries[0][1]
        return _run_of(pages, _key(entries[0]), len(entries), lead, base, store)
    pages = sqlfile.table_run(entries, base)
    return _run_of(pages, entries[0][0], len(entries), b"", base, store)


def _run_of(
    pages: Pages, first: Key, count: int, lead: bytes, base: int, store: SegmentStore
) -> Run:
    return Run(
        first,
        count,
        pages.pages,
        pages.used,
        pages.leaves,
        pages.dividers,
        pages.last,
        lead,
        pages.spills,
        base,
        store.put(pages.data),
    )


# -- the schema and the col row ---------------------------------------------------------------


def _empty_root(name: str) -> bytes:
    kind = sqlfile.INDEX_LEAF if name.startswith("ix_") else sqlfile.TABLE_LEAF
    return sqlfile.page(kind, [])


# -- the CRC of runs one after another --------------------------------------------------------
