"""The vault's card state: what was last built for each card, kept beside the notes.

Anki updates a note on import only when the incoming modification time is newer, so a card
whose content did not change must keep the time it was first given, on every machine, in
every clone and whatever the output path. That time (and a digest of the built note, to
tell whether it changed) is kept here, in ``.paperdeck/state.tsv`` inside the notes
folder, so it travels with the notes through git or file sync.

The file is plain text, one line per card, sorted by ID, so that it diffs and merges line
by line. Loading is forgiving: comments, blank lines, merge-conflict markers and lines it
cannot read are skipped, and a card that appears twice (both sides of a merge) keeps its
newest entry. A lost or broken file costs one full update on the next import, never an
error.

``sync`` also records here the IDs it has written into notes but not yet added to Anki
(``pending``), so a sync killed in between adds exactly those cards on its next run, and
the base of its three-way merge: the digest of each card as the vault gave it at the last
sync (``synced``), and the note as that sync left it in Anki (``anki``: a digest of its
fields, a digest of the deck the vault gave it, its tags, and the tags the vault gave). A
card whose vault digest is still the base was not changed in the notes; a note whose
fields are still the base was not edited in Anki.

Note types are kept the same way (``type`` lines, by note type id): Anki updates a note
type's templates and styling on import only when its incoming time is newer, so a type
whose definition changed (a new paperdeck's card CSS) is given the build's time, and an
unchanged one keeps its own.
"""

from __future__ import annotations

import contextlib
import copy
import gc
import re
from collections.abc import Iterable, Iterator
from dataclasses import dataclass, field, fields
from itertools import repeat
from pathlib import Path
from typing import NamedTuple

from paperdeck.fileio import atomic_write_bytes, read_regular_file
from paperdeck.notes.lock import ensure_state_dir, state_dir

STATE_NAME = "state.tsv"
_HEADER = (
    "# paperdeck card state: for each card ID, a digest of the Anki note last built for it\n"
    "# and the modification time Anki was given, so an unchanged card keeps its time on every\n"
    "# machine. Commit it with your notes. If it is lost, the next import updates every card.\n"
)
_CARD_RE = re.compile(r"^([0-9]{1,19})\tcard\t([0-9a-f]{16})\t([0-9]{1,12})$")
_PENDING_RE = re.compile(r"^([0-9]{1,19})\tpending$")
_SYNCED_RE = re.compile(r"^([0-9]{1,19})\tsynced\t([0-9a-f]{16})$")
_TYPE_RE = re.compile(r"^([0-9]{1,19})\ttype\t([0-9a-f]{16})\t([0-9]{1,12})$")
_CARD_RUN_RE = re.compile(r"^(?:[0-9]{1,19}\tcard\t[0-9a-f]{16}\t[0-9]{1,12}\n)+", re.MULTILINE)
"""Card lines in a row, each as :data:`_CARD_RE` reads it: the bulk of a file."""
_ANKI_RE = re.compile(r"^([0-9]{1,19})\tanki\t([0-9a-f]{16})\t([0-9a-f]{16})\t([^\t]*)\t([^\t]*)$")


class CardRecord(NamedTuple):
    """What the last build made of one card: when Anki was told it changed, and a digest.
    Records order by time, then digest (the newer of two wins a merge)."""

    mod: int
    """Seconds since the epoch, as written into the deck."""
    digest: str
    """16 hex digits identifying the note's fields and tags."""


@dataclass(frozen=True)
class AnkiBase:
    """A card's note as the last sync left it in Anki: the base that tells an edit made in
    Anki (fields or tags) and a move of the deck in the notes."""

    fields: str
    """16 hex digits of the note's fields (see :func:`paperdeck.twoway.base.fields_digest`)."""
    deck: str
    """16 hex digits of the deck name the vault gave the card."""
    tags: tuple[str, ...]
    """The note's tags in Anki (Anki tags hold no spaces)."""
    given: tuple[str, ...]
    """The tags the vault gave the card: a tag in Anki that the vault did not give was
    added there, and is kept."""


@dataclass
class CardState:
    """Card records and pending sync IDs of one vault."""

    cards: dict[int, CardRecord] = field(default_factory=dict)
    pending: set[int] = field(default_factory=set)
    synced: dict[int, str] = field(default_factory=dict)
    """The digest of each card as ``sync`` last wrote (or found) it in Anki: a card whose
    digest is still this has not changed in the vault since, so a difference in Anki is an
    edit made there, which ``sync`` keeps."""
    anki: dict[int, AnkiBase] = field(default_factory=dict)
    """Each card's note as the last sync left it in Anki."""
    types: dict[int, CardRecord] = field(default_factory=dict)
    """What the last build wrote for each note type, by note type id."""
    forgotten: set[int] = field(default_factory=set)
    """IDs dropped on purpose (pruned): not brought back from the file when saving."""
    changed: bool = False
    """Whether a card record was added, changed or dropped since loading."""
    _disk: tuple[bytes, CardState] | None = field(default=None, repr=False, compare=False)
    """The file's bytes when last loaded or saved, and a copy of what they hold: saving
    merges with the file, which need not be read and parsed again if it is still these."""

    @classmethod
    def load(cls, vault: Path) -> CardState:
        """The vault's state, or an empty one if there is none or it cannot be read."""
        try:
            data, _ = read_regular_file(state_dir(vault) / STATE_NAME)
        except OSError:
            return cls()
        state = parse_state(data.decode("utf-8", errors="replace"))
        state._disk = (data, state._copy())
        return state

    def _copy(self) -> CardState:
        """The records, in containers of their own (the records themselves are frozen)."""
        kept = (f.name for f in fields(self) if f.name != "_disk")
        return CardState(**{name: copy.copy(getattr(self, name)) for name in kept})

    def _on_disk(self, vault: Path) -> CardState:
        """What the file holds now: the copy kept if its bytes are still those, else read."""
        if self._disk is not None:
            try:
                data, _ = read_regular_file(state_dir(vault) / STATE_NAME)
            except OSError:
                data = None
            if data == self._disk[0]:
                return self._disk[1]._copy()
        return CardState.load(vault)

    def record(self, card_id: int, digest: str, mod: int) -> None:
        """Remember what was built for a card."""
        record = CardRecord(mod, digest)
        if self.cards.get(card_id) != record:
            self.cards[card_id] = record
            self.changed = True
        self.forgotten.discard(card_id)

    def record_type(self, model_id: int, digest: str, mod: int) -> None:
        """Remember what was built for a note type."""
        record = CardRecord(mod, digest)
        if self.types.get(model_id) != record:
            self.types[model_id] = record
            self.changed = True

    def forget(self, card_ids: Iterable[int]) -> None:
        """Drop cards (and pending IDs) that are gone for good."""
        for card_id in card_ids:
            self.changed |= self.cards.pop(card_id, None) is not None
            self.pending.discard(card_id)
            self.synced.pop(card_id, None)
            self.anki.pop(card_id, None)
            self.forgotten.add(card_id)

    def save(self, vault: Path) -> None:
        """Write the state atomically (only under the vault's lock), merged with the file.

        Merging keeps a record that another machine (through git or file sync) added since
        this state was loaded; for a card in both, the newer record wins. Raises
        :class:`OSError` when the folder is not writable.
        """
        merged = self._on_disk(vault)
        for card_id, record in self.cards.items():
            before = merged.cards.get(card_id)
            if before is not record and (before is None or before < record):
                merged.cards[card_id] = record
        if self.forgotten:
            merged.cards = {k: v for k, v in merged.cards.items() if k not in self.forgotten}
        for model_id, record in self.types.items():
            if model_id not in merged.types or merged.types[model_id] < record:
                merged.types[model_id] = record
        merged.synced.update(self.synced)
        merged.synced = {k: v for k, v in merged.synced.items() if k not in self.forgotten}
        merged.anki.update(self.anki)
        merged.anki = {k: v for k, v in merged.anki.items() if k not in self.forgotten}
        merged.pending = set(self.pending)  # only this vault's own syncs add or clear these
        data = format_state(merged).encode("utf-8")
        path = ensure_state_dir(vault) / STATE_NAME
        with contextlib.suppress(OSError):
            if path.read_bytes() == data:
                self._disk = (data, merged)
                return
        atomic_write_bytes(path, data)
        self._disk = (data, merged)


def parse_state(text: str) -> CardState:
    """Read the state file's text; lines that are not records are skipped.

    A file that needs tidying (merge-conflict markers, a card twice, unreadable lines) comes
    back marked ``changed``, so the next save writes it clean.
    """
    state = CardState()
    with _collector_paused():
        run = _CARD_RUN_RE.search(text)
        if run is not None:  # the card lines (one per card of the vault) in one piece
            state.cards, state.changed = _card_run(run.group())
            text = text[: run.start()] + text[run.end() :]
        for line in text.splitlines():
            _read_line(state, line)
    return state


@contextlib.contextmanager
def _collector_paused() -> Iterator[None]:
    """A large vault's file holds 100,000 records, and no cycle among them: Python's cycle
    collector would walk them again and again as they are made."""
    was_enabled = gc.isenabled()
    gc.disable()
    try:
        yield
    finally:
        if was_enabled:
            gc.enable()


def _card_run(run: str) -> tuple[dict[int, CardRecord], bool]:
    """The records of well-formed card lines, and whether a card was there twice."""
    cells = run.replace("\n", "\t").split("\t")  # id, "card", digest, mod, id, ... and ""
    ids, digests, mods = cells[0:-1:4], cells[2::4], cells[3::4]
    # What CardRecord._make does, without a Python call per record.
    records = map(tuple.__new__, repeat(CardRecord), zip(map(int, mods), digests, strict=True))
    cards: dict[int, CardRecord] = dict(zip(map(int, ids), records, strict=True))
    if len(cards) == len(ids):
        return cards, False
    cards = {}
    for key, digest, mod in zip(ids, digests, mods, strict=True):  # both sides of a merge
        _keep_newest(cards, int(key), mod, digest)
    return cards, True


def _read_line(state: CardState, line: str) -> None:
    if match := _CARD_RE.match(line):
        state.changed |= _keep_newest(state.cards, int(match[1]), match[3], match[2])
    elif match := _TYPE_RE.match(line):
        state.changed |= _keep_newest(state.types, int(match[1]), match[3], match[2])
    elif match := _PENDING_RE.match(line):
        state.pending.add(int(match[1]))
    elif match := _SYNCED_RE.match(line):
        state.changed |= int(match[1]) in state.synced
        state.synced[int(match[1])] = match[2]
    elif match := _ANKI_RE.match(line):
        state.changed |= int(match[1]) in state.anki
        tags, given = tuple(match[4].split()), tuple(match[5].split())
        state.anki[int(match[1])] = AnkiBase(match[2], match[3], tags, given)
    elif line.strip() and not line.startswith("#"):
        state.changed = True


def _keep_newest(records: dict[int, CardRecord], key: int, mod: str, digest: str) -> bool:
    """Keep the newer of two records for ``key``; whether there were two (a merge's)."""
    record = CardRecord(int(mod), digest)
    seen = key in records
    if not seen or records[key] < record:
        records[key] = record
    return seen


def format_state(state: CardState) -> str:
    """The file's text: a header, then one line per card, note type and pending ID, sorted."""
    lines = [
        f"{card_id}\tcard\t{record.digest}\t{record.mod}\n"
        for card_id, record in sorted(state.cards.items())
    ]
    lines += [f"{card_id}\tsynced\t{d}\n" for card_id, d in sorted(state.synced.items())]
    lines += [
        f"{card_id}\tanki\t{base.fields}\t{base.deck}\t{' '.join(base.tags)}"
        f"\t{' '.join(base.given)}\n"
        for card_id, base in sorted(state.anki.items())
    ]
    lines += [
        f"{model_id}\ttype\t{record.digest}\t{record.mod}\n"
        for model_id, record in sorted(state.types.items())
    ]
    lines += [f"{card_id}\tpending\n" for card_id in sorted(state.pending)]
    return _HEADER + "".join(lines)
