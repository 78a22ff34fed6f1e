"""A live Anki collection: import a built deck into it, or sync a vault into it in place.

Everything here goes through Anki's own Python package (``pip install 'paperdeck[anki]'``),
imported only when a function needs it. A card's ID is its Anki note id, so ``sync``
finds the note of each card directly; notes that paperdeck creates get the same guid a
built ``.apkg`` gives them, so a later ``paperdeck import`` and ``paperdeck sync`` agree on
which note is which.

Library code: nothing is printed; problems are :class:`CollectionError` exceptions (the
collection cannot be used at all) or diagnostics (one card could not be synced).
"""

from __future__ import annotations

import contextlib
import dataclasses
import html
import json
import re
import tempfile
import unicodedata
from collections.abc import Callable, Iterable, Iterator, Mapping, Sequence
from collections.abc import Collection as Collection_
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Literal

from paperdeck.anki.adopt import (
    DEFAULT_ADOPT,
    KEPT_TAGS,
    AdoptOptions,
    adopted_tags,
    map_fields,
)
from paperdeck.anki.apkg import AnkiNote, content_digest, write_apkg
from paperdeck.anki.note_types import PAPERDECK_MODEL_IDS, NoteType
from paperdeck.anki.package_adopt import PackageNote, adopt_before_import
from paperdeck.build import DeckContent, Vault
from paperdeck.diagnostics import Diagnostic, PaperdeckError, error, warning
from paperdeck.notes.model import Card
from paperdeck.notes.state import AnkiBase
from paperdeck.notes.vault import SourceNote
from paperdeck.twoway.base import deck_digest, fields_digest
from paperdeck.twoway.decide import DEFAULT_POLICY, SyncPolicy, decide

if TYPE_CHECKING:
    from anki.cards import Card as AnkiCard
    from anki.collection import Collection, ImportAnkiPackageOptions
    from anki.notes import Note as AnkiCollectionNote

UpdateRule = Literal["if-newer", "always", "never"]
UPDATE_RULES: tuple[UpdateRule, ...] = ("if-newer", "always", "never")
_PLACEHOLDER_DECK = "paperdeck note types (temporary)"


class CollectionError(PaperdeckError):
    """The collection cannot be used, or Anki refused what was asked of it."""


class CollectionMissing(CollectionError):
    """No collection at that path (and creating one was not asked for)."""


class CollectionLocked(CollectionError):
    """Anki (or another program) has the collection open."""


# -- opening ---------------------------------------------------------------------------------


@contextlib.contextmanager
def open_collection(path: Path, *, create: bool = False) -> Iterator[Collection]:
    """Open the collection at ``path`` and close it afterwards.

    A missing path is :class:`CollectionMissing` unless ``create``; a collection that Anki
    holds open is :class:`CollectionLocked`. Anki errors while the collection is in use
    that say it is locked become :class:`CollectionLocked` too.
    """
    require_anki()
    from anki.collection import Collection
    from anki.errors import AnkiException, DBError

    if not check_collection_path(path, missing_ok=True):
        if not create:
            raise CollectionMissing(
                f"{path}: no such collection (pass --create to make a new, empty one)"
            )
        path.parent.mkdir(parents=True, exist_ok=True)
    try:
        col = Collection(str(path))
    except DBError as exc:
        raise _db_error(path, exc) from exc
    try:
        yield col
    except DBError as exc:
        raise _db_error(path, exc) from exc
    except AnkiException as exc:
        raise CollectionError(f"{path}: Anki reported a problem: {exc}") from exc
    finally:
        col.close()


def require_anki() -> None:
    """Raise :class:`CollectionError` saying how to install Anki's package if it is missing."""
    try:
        import anki.collection  # noqa: F401
    except ImportError as exc:  # pragma: no cover - anki is a test dependency
        raise CollectionError(
            "this needs Anki's Python package: pip install 'paperdeck[anki]'"
        ) from exc


def check_collection_path(path: Path, *, missing_ok: bool = False) -> bool:
    """Whether a collection file is at ``path``; a folder there is a :class:`CollectionError`
    (the user gave the profile folder), and unless ``missing_ok`` so is nothing there."""
    if path.is_dir():
        raise CollectionError(f"{path} is a folder; give the path of its collection.anki2")
    if path.exists():
        return True
    if not missing_ok:
        raise CollectionMissing(f"{path}: no such collection")
    return False


def _db_error(path: Path, exc: Exception) -> CollectionError:
    text = str(exc)
    lowered = text.lower()
    if "locked" in lowered or "already open" in lowered or "busy" in lowered:
        return CollectionLocked(
            f"{path} is locked: Anki has it open. Close Anki (or switch it to another "
            "profile) and run this again; nothing was changed."
        )
    return CollectionError(f"{path}: cannot use this Anki collection: {text}")


# -- importing a package ---------------------------------------------------------------------


@dataclass(frozen=True)
class ImportedNote:
    """One note of Anki's import log: its id and first field (HTML)."""

    note_id: int
    first_field: str


@dataclass(frozen=True)
class ImportResult:
    """What Anki's importer did with each note of the package."""

    new: list[ImportedNote]
    updated: list[ImportedNote]
    unchanged: list[ImportedNote]
    """Anki's ``duplicate``: the note exists and was left as it is."""
    conflicting: list[ImportedNote]
    """The note exists with another note type, or could not be updated."""
    adopted: list[ImportedNote] = field(default_factory=list)
    """Notes whose id the collection held under another guid (another tool's note):
    updated in place, never imported as a second note."""


def import_package(
    col: Collection,
    apkg: Path,
    update: UpdateRule = "if-newer",
    adopt: AdoptOptions = DEFAULT_ADOPT,
) -> ImportResult:
    """Import ``apkg`` with Anki's own importer, merging note types and keeping scheduling.

    ``update`` is Anki's rule for notes and note types that already exist: ``if-newer``
    (the package's copy is more recently modified), ``always`` or ``never``. Notes whose
    id exists under another guid are adopted first (:mod:`paperdeck.anki.package_adopt`).
    """
    from anki.collection import ImportAnkiPackageRequest
    from anki.errors import AnkiException, DBError

    with adopt_before_import(col, apkg, update, adopt) as (package, adoption):
        request = ImportAnkiPackageRequest(
            package_path=str(package.resolve()), options=_import_options(update)
        )
        try:
            log = col.import_anki_package(request).log
        except DBError:
            raise  # open_collection says whether the collection is locked
        except AnkiException as exc:
            raise CollectionError(f"{apkg}: Anki could not import it: {exc}") from exc

    def notes(entries: Iterable[object]) -> list[ImportedNote]:
        found: list[ImportedNote] = []
        for entry in entries:
            note_id = int(entry.id.nid)  # type: ignore[attr-defined]
            fields = list(entry.fields)  # type: ignore[attr-defined]
            found.append(ImportedNote(note_id, fields[0] if fields else ""))
        return found

    def package_notes(entries: Iterable[PackageNote]) -> list[ImportedNote]:
        return [ImportedNote(n.note_id, n.fields[0] if n.fields else "") for n in entries]

    return ImportResult(
        new=notes(log.new),
        updated=notes(log.updated) + package_notes(adoption.updated),
        unchanged=notes(log.duplicate)
        + package_notes(n for n in adoption.adopted if n not in adoption.updated),
        conflicting=notes(
            [
                *log.conflicting,
                *log.missing_notetype,
                *log.missing_deck,
                *log.first_field_match,
                *log.empty_first_field,
            ]
        )
        + package_notes(adoption.conflicting),
        adopted=package_notes(adoption.adopted),
    )


def update_rule(text: str) -> UpdateRule:
    """``text`` as an update rule, or :class:`ValueError` naming the known ones."""
    for rule in UPDATE_RULES:
        if text == rule:
            return rule
    raise ValueError(f"unknown update rule {text!r}; known: {', '.join(UPDATE_RULES)}")


_INLINE_TAG_RE = re.compile(
    r"</?(?:a|abbr|b|cite|code|del|em|i|ins|kbd|mark|q|s|small|span|strong|sub|sup|u)\b[^>]*>",
    re.IGNORECASE,
)
"""Tags that run within text: dropped without a space, so ``(<a>p. 3</a>)`` reads
``(p. 3)``; any other tag (a paragraph, a line break) parts words."""


def plain_text(field_html: str) -> str:
    """A field's text without HTML, on one line (for listings)."""
    text = html.unescape(re.sub(r"<[^>]*>", " ", _INLINE_TAG_RE.sub("", field_html)))
    return " ".join(text.split())


def _import_options(update: UpdateRule) -> ImportAnkiPackageOptions:
    """Anki's import options: merge note types, no scheduling, ``update`` for existing ones."""
    from anki.collection import ImportAnkiPackageOptions
    from anki.import_export_pb2 import ImportAnkiPackageUpdateCondition as Condition

    update = update_rule(update)
    conditions = {
        "if-newer": Condition.IMPORT_ANKI_PACKAGE_UPDATE_CONDITION_IF_NEWER,
        "always": Condition.IMPORT_ANKI_PACKAGE_UPDATE_CONDITION_ALWAYS,
        "never": Condition.IMPORT_ANKI_PACKAGE_UPDATE_CONDITION_NEVER,
    }
    return ImportAnkiPackageOptions(
        merge_notetypes=True,
        with_scheduling=False,
        update_notes=conditions[update],
        update_notetypes=conditions[update],
    )


# -- sync: the plan --------------------------------------------------------------------------


@dataclass(frozen=True)
class PlannedCard:
    """One card of the vault with the Anki note it becomes."""

    source: SourceNote
    card: Card
    note: AnkiNote

    @property
    def where(self) -> str:
        """``path:line`` of the card's ``Q:``."""
        return f"{self.source.note.path}:{self.card.line}"


@dataclass(frozen=True)
class PlannedUpdate:
    """A card whose note exists and differs: what differs (field names, ``tags``, ``deck``)
    and what to write."""

    planned: PlannedCard
    changes: tuple[str, ...]
    values: tuple[tuple[str, str], ...]
    """``(field, value)`` for each field of the existing note that the card sets."""
    tags: tuple[str, ...]
    deck: str | None
    """The deck to move the note's cards to, or ``None`` to leave them where they are."""
    before: tuple[str, ...] = ()
    """What the note holds now in each field of ``values`` (for a dry run's diff)."""


@dataclass(frozen=True)
class AnkiSide:
    """A card whose note was edited in Anki: the plan for its tags and deck (fields left
    out), and the card's fields as Anki holds them (HTML, in the card's order; ``None`` for
    one that Anki keeps mixed with another, such as an answer with the Source line)."""

    update: PlannedUpdate
    fields: tuple[str | None, ...]

    @property
    def planned(self) -> PlannedCard:
        """The card."""
        return self.update.planned


@dataclass(frozen=True)
class PruneCandidate:
    """A paperdeck note in one of the vault's decks whose ID is no longer in the vault."""

    note_id: int
    deck: str
    first_field: str


@dataclass
class SyncPlan:
    """What a sync would do; computed without changing anything."""

    add: list[PlannedCard] = field(default_factory=list)
    update: list[PlannedUpdate] = field(default_factory=list)
    unchanged: list[PlannedCard] = field(default_factory=list)
    missing: list[PlannedCard] = field(default_factory=list)
    """Cards whose ID is no note in the collection: left alone."""
    conflicting: list[PlannedCard] = field(default_factory=list)
    """Cards whose note exists with a note type they do not fit: left alone."""
    kept: list[PlannedUpdate] = field(default_factory=list)
    """One-way sync: cards unchanged in the vault since the last sync whose note was
    edited in Anki: the edit is kept in Anki, and not brought back."""
    pull: list[AnkiSide] = field(default_factory=list)
    """Cards edited in Anki only (or ``--prefer anki``): the note takes the edit."""
    conflicts: list[AnkiSide] = field(default_factory=list)
    """Cards changed both in the vault and in Anki since the last sync: neither is written."""
    added_tags: dict[int, tuple[str, ...]] = field(default_factory=dict)
    """By card ID: tags its note gained in Anki since the last sync, which it keeps."""
    adopted: list[PlannedCard] = field(default_factory=list)
    """Cards whose note another tool made (any note type their fields map onto): updated
    in place, keeping the note's type, history and (by default) deck."""
    prune: list[PruneCandidate] = field(default_factory=list)
    delete: list[PruneCandidate] = field(default_factory=list)
    """Notes of cards marked ``DELETE`` in the vault (Obsidian_to_Anki's syntax)."""
    media: dict[str, Path] = field(default_factory=dict)
    """Media files the cards reference that the collection lacks (or has different)."""
    restyle: list[NoteType] = field(default_factory=list)
    """paperdeck's note types whose templates or CSS in the collection are not the built
    ones (an older paperdeck made them): brought up to date in place."""
    diagnostics: list[Diagnostic] = field(default_factory=list)


def plan_sync(
    col: Collection,
    vault: Vault,
    content: DeckContent,
    *,
    to_add: Collection_[int] = frozenset(),
    known: Collection_[int] = frozenset(),
    prune: bool = False,
    adopt: AdoptOptions = DEFAULT_ADOPT,
    synced: Mapping[int, str] | None = None,
    anki: Mapping[int, AnkiBase] | None = None,
    policy: SyncPolicy = DEFAULT_POLICY,
) -> SyncPlan:
    """Compare the vault's cards with the collection's notes; change nothing.

    ``to_add`` are the IDs that are new to Anki: just chosen for cards that had none, or
    written into notes by a sync that was interrupted before it added them. Any other ID
    that is no note in the collection is reported as missing. ``known`` are the IDs this
    vault has built or synced before: those no longer in the vault are prune candidates
    wherever they are in the collection. A note of another tool's type is adopted when the
    card's fields map onto its fields by name (:mod:`paperdeck.anki.adopt`).

    ``synced`` and ``anki`` are the base of the three-way merge (see
    :mod:`paperdeck.twoway`): each card's digest as the vault gave it at the last sync, and
    its note as that sync left it in Anki. Without an ``anki`` base, a note that differs
    from a card unchanged in the vault was edited in Anki (the last sync left the two
    equal); a card changed in the vault with no base is pushed, as a one-way sync would.
    """
    from anki.errors import NotFoundError
    from anki.notes import NoteId

    plan = SyncPlan()
    planned = _planned_cards(vault, content)
    for item in planned:
        card_id = item.card.card_id
        if card_id is None:  # not given an ID: plan_ids said why
            continue
        try:
            existing = col.get_note(NoteId(card_id))
        except NotFoundError:
            if card_id in to_add:
                plan.add.append(item)
                continue
            plan.missing.append(item)
            plan.diagnostics.append(
                warning(
                    item.source.note.path,
                    item.card.id_line or item.card.line,
                    f"ID {card_id} is no note in the collection (deleted in Anki?); not "
                    "synced. `paperdeck import` of a built deck adds it back with this ID",
                )
            )
            continue
        base = anki.get(card_id) if anki is not None else None
        update, problem = plan_update(col, existing, item, adopt, base=base, policy=policy)
        if update is None:
            plan.conflicting.append(item)
            plan.diagnostics.append(
                warning(item.source.note.path, item.card.line, f"note {card_id} {problem}")
            )
            continue
        if int(existing.mid) not in PAPERDECK_MODEL_IDS:
            plan.adopted.append(item)
        _place(plan, update, existing, synced, base, policy, adopt)
    kept = [*plan.add, *(u.planned for u in plan.update), *plan.unchanged]
    used = "\x1f".join(f for item in kept for f in item.note.fields)
    referenced = {name: path for name, path in content.media.items() if name in used}
    plan.media = _media_to_add(col, referenced)
    if prune:
        found = _prune_candidates(col, vault, content, known)
        plan.prune = [p for p in found if not _edited_in_anki(col, p.note_id, anki)]
        plan.diagnostics += [
            warning(
                str(vault.root),
                0,
                f"note {p.note_id} ({_short_text(p.first_field)}) was edited in Anki since "
                "the last sync, but its card is gone from the notes: not pruned (delete it "
                "in Anki if it should go)",
            )
            for p in found
            if p not in plan.prune
        ]
    plan.delete = _marked_for_deletion(col, vault)
    plan.restyle = outdated_note_types(col, [item.note.note_type for item in planned])
    return plan


def _place(
    plan: SyncPlan,
    update: PlannedUpdate,
    existing: AnkiCollectionNote,
    synced: Mapping[int, str] | None,
    base: AnkiBase | None,
    policy: SyncPolicy,
    adopt: AdoptOptions,
) -> None:
    """Put an existing card's update where the three-way decision says it belongs."""
    item = update.planned
    card_id = item.card.card_id
    differ = any(change not in ("tags", "deck") for change in update.changes)
    last = synced.get(card_id) if synced is not None and card_id is not None else None
    vault_changed = last != content_digest(item.note)
    if base is not None:
        anki_changed = base.fields != fields_digest(existing.fields)
    else:  # the last sync (if any) left Anki as the vault was
        anki_changed = last is not None and not vault_changed and differ
    decision = decide(
        differ=differ, vault_changed=vault_changed, anki_changed=anki_changed, policy=policy
    )
    known = {t.casefold() for t in (*item.note.tags, *(base.tags if base else ()))} | KEPT_TAGS
    added = tuple(t for t in update.tags if t.casefold() not in known)
    if added and card_id is not None and decision != "conflict":
        plan.added_tags[card_id] = added  # new in Anki since the last sync
    rest = dataclasses.replace(
        update,
        changes=tuple(c for c in update.changes if c in ("tags", "deck")),
        values=(),
        before=(),
    )
    if decision == "push":
        plan.update.append(update)
    elif decision == "keep":
        plan.kept.append(update)
    elif decision in ("pull", "conflict"):
        side = AnkiSide(rest, _card_fields_in_anki(update, existing, adopt))
        (plan.pull if decision == "pull" else plan.conflicts).append(side)
    elif rest.changes:
        plan.update.append(rest)
    else:
        plan.unchanged.append(item)


def _card_fields_in_anki(
    update: PlannedUpdate, existing: AnkiCollectionNote, adopt: AdoptOptions
) -> tuple[str | None, ...]:
    """Anki's HTML for each of the card's fields: where the card's fields went in the note
    (by name, or mapped onto another tool's type), ``None`` where one shares its field."""
    card_type = update.planned.note.note_type
    by_name = dict(existing.items())
    markers = [f"\x00{index}\x00" for index in range(len(card_type.fields))]
    homes = map_fields(card_type.fields, markers, list(by_name), source=adopt.source) or {}
    where = {value: name for name, value in homes.items()}
    return tuple(by_name.get(where[marker]) if marker in where else None for marker in markers)


def _edited_in_anki(col: Collection, note_id: int, anki: Mapping[int, AnkiBase] | None) -> bool:
    """Has the note's content changed in Anki since the last sync left it?"""
    from anki.notes import NoteId

    base = anki.get(note_id) if anki is not None else None
    return base is not None and base.fields != fields_digest(col.get_note(NoteId(note_id)).fields)


def _short_text(text: str, width: int = 40) -> str:
    return text if len(text) <= width else text[: width - 1] + "…"


def _looks(model: Mapping[str, object]) -> tuple[object, ...]:
    templates = model.get("tmpls")
    shown = [(t["qfmt"], t["afmt"]) for t in templates] if isinstance(templates, list) else []
    return (model.get("css"), shown)


def _schema(model: Mapping[str, object]) -> tuple[object, ...]:
    fields, templates = model.get("flds"), model.get("tmpls")
    names = [f["name"] for f in fields] if isinstance(fields, list) else []
    return (names, [t["name"] for t in templates] if isinstance(templates, list) else [])


def outdated_note_types(col: Collection, types: Iterable[NoteType]) -> list[NoteType]:
    """The note types paperdeck defines whose collection copy shows cards differently.

    Only a type with the same fields and templates (by name, in order) is listed: changing
    those would force a full sync, and adopting a note type is not paperdeck's to do.
    """
    from anki.models import NotetypeId

    outdated: dict[int, NoteType] = {}
    for note_type in types:
        if note_type.collection_json is not None or note_type.model_id in outdated:
            continue
        model = col.models.get(NotetypeId(note_type.model_id))
        if model is None:
            continue
        built = note_type.to_json(0, 0)
        if _schema(model) == _schema(built) and _looks(model) != _looks(built):
            outdated[note_type.model_id] = note_type
    return [outdated[k] for k in sorted(outdated)]


def restyle_note_types(col: Collection, types: Iterable[NoteType]) -> list[str]:
    """Give each note type in the collection the built templates and CSS; their names."""
    from anki.models import NotetypeId

    names = []
    for note_type in types:
        model = col.models.get(NotetypeId(note_type.model_id))
        if model is None:
            continue
        built = note_type.to_json(0, 0)
        model["css"] = built["css"]
        for template, new in zip(model["tmpls"], built["tmpls"], strict=True):
            template["qfmt"], template["afmt"] = new["qfmt"], new["afmt"]
        col.models.update_dict(model)
        names.append(str(model["name"]))
    return names


def plan_update(
    col: Collection,
    existing: AnkiCollectionNote,
    item: PlannedCard,
    adopt: AdoptOptions,
    *,
    base: AnkiBase | None = None,
    policy: SyncPolicy = DEFAULT_POLICY,
) -> tuple[PlannedUpdate | None, str]:
    """How an existing note takes the card: its own type's fields, or (another tool's
    note) the card's fields mapped by name; ``(None, why)`` when the card does not fit.

    With the last sync's ``base``: tags added in Anki since are kept (``policy.tags``), and
    the note is moved to the card's deck only if the vault's deck changed since
    (``policy.deck``); without one, the vault's tags and deck are the note's."""
    wanted = item.note.note_type
    notetype = col.models.get(existing.mid)
    name = notetype["name"] if notetype else "unknown"
    target = [f["name"] for f in notetype["flds"]] if notetype else list(existing.keys())
    own = int(existing.mid) in PAPERDECK_MODEL_IDS
    if own and int(existing.mid) != wanted.model_id:
        return None, (
            f"is a {name!r} note but the card needs {wanted.name!r}: not synced "
            "(change the note's type in Anki's browser, or delete the note and the card's ID)"
        )
    values = map_fields(wanted.fields, item.note.fields, target, source=adopt.source)
    if values is None:
        return None, (
            f"is a {name!r} note whose fields ({', '.join(target)}) have no place for the "
            f"card's ({', '.join(f for f in wanted.fields if f != 'Source')}): not synced"
        )
    tags = tuple(adopted_tags(item.note.tags, existing.tags))
    if base is not None and policy.tags == "added":
        tags = (*tags, *anki_only_tags(existing.tags, base.given, tags))
    deck = item.note.deck if own or adopt.move else None
    if deck is not None and base is not None and policy.deck == "anki":
        deck = deck if base.deck != deck_digest(deck) else None  # moved in the vault?
    changes = [f for f, value in values.items() if _nfc(existing[f]) != _nfc(value)]
    if {t.casefold() for t in existing.tags} != {t.casefold() for t in tags}:
        changes.append("tags")
    if deck is not None:
        target_deck = col.decks.id_for_name(deck)
        if target_deck is None or any(_home_deck(c) != target_deck for c in existing.cards()):
            changes.append("deck")
    before = tuple(existing[name] for name in values)
    update = PlannedUpdate(item, tuple(changes), tuple(values.items()), tags, deck, before)
    return update, ""


def anki_only_tags(now: Sequence[str], given: Sequence[str], vault: Sequence[str]) -> list[str]:
    """Tags the note has in Anki that the vault neither gives now nor gave at the last sync:
    added in Anki, so kept (Anki's own ``leech`` and ``marked`` are kept anyway). A tag the
    vault gave and no longer gives was removed in the notes, and goes."""
    known = {t.casefold() for t in (*given, *vault)} | KEPT_TAGS
    return [t for t in now if t.casefold() not in known]


def _planned_cards(vault: Vault, content: DeckContent) -> list[PlannedCard]:
    """Pair each card with its Anki note (``collect_deck`` makes one note per card, in order)."""
    cards = [
        (source, card) for source in vault.sources for card in source.note.cards if not card.delete
    ]
    if len(cards) != len(content.notes):  # pragma: no cover - collect_deck's contract
        raise PaperdeckError("internal error: cards and rendered notes do not match")
    return [PlannedCard(s, c, n) for (s, c), n in zip(cards, content.notes, strict=True)]


def _nfc(text: str) -> str:
    return unicodedata.normalize("NFC", text)


def _home_deck(card: AnkiCard) -> int:
    """The card's own deck, also while it is borrowed by a filtered deck."""
    return int(card.odid or card.did)


def _media_to_add(col: Collection, media: dict[str, Path]) -> dict[str, Path]:
    folder = Path(col.media.dir())
    needed: dict[str, Path] = {}
    for name, path in sorted(media.items()):
        stored = folder / name
        try:
            same = stored.is_file() and stored.read_bytes() == path.read_bytes()
        except OSError:
            same = False
        if not same:
            needed[name] = path
    return needed


def _marked_for_deletion(col: Collection, vault: Vault) -> list[PruneCandidate]:
    """The notes in the collection of cards marked ``DELETE`` above their ID."""
    from anki.decks import DeckId
    from anki.errors import NotFoundError
    from anki.notes import NoteId

    found: list[PruneCandidate] = []
    for source in vault.sources:
        for card in source.note.cards:
            if not card.delete or card.card_id is None:
                continue
            try:
                note = col.get_note(NoteId(card.card_id))
            except NotFoundError:
                continue  # already gone
            homes = [_home_deck(c) for c in note.cards()]
            deck = col.decks.name(DeckId(homes[0])) if homes else "?"
            first = plain_text(note.fields[0]) if note.fields else ""
            found.append(PruneCandidate(card.card_id, deck, first))
    return found


def _prune_candidates(
    col: Collection, vault: Vault, content: DeckContent, known: Collection_[int]
) -> list[PruneCandidate]:
    """paperdeck notes gone from the vault: in one of its decks, or known to its card state
    (which also covers every card of a deleted note file)."""
    from anki.decks import DeckId
    from anki.models import NotetypeId

    kept = {c.card_id for s in vault.sources for c in s.note.cards if c.card_id is not None}
    decks = {col.decks.id_for_name(n.deck) for n in content.notes} - {None}
    found: list[PruneCandidate] = []
    for model_id in sorted(PAPERDECK_MODEL_IDS):
        for nid in col.models.nids(NotetypeId(model_id)):
            if int(nid) in kept:
                continue
            note = col.get_note(nid)
            homes = [_home_deck(c) for c in note.cards()]
            inside = [h for h in homes if h in decks]
            if not inside and int(nid) not in known:
                continue
            deck = col.decks.name(DeckId((inside or homes)[0])) if homes else "?"
            first = plain_text(note.fields[0]) if note.fields else ""
            found.append(PruneCandidate(int(nid), deck, first))
    return sorted(found, key=lambda p: p.note_id)


def note_ids(col: Collection) -> set[int]:
    """Every note id in the collection (new IDs must avoid them)."""
    return {int(nid) for nid in col.find_notes("")}


# -- sync: applying it -----------------------------------------------------------------------


@dataclass
class SyncResult:
    """What a sync changed."""

    added: list[tuple[PlannedCard, int]] = field(default_factory=list)
    """Each added card with its new note id (now written into the note as its ID)."""
    updated: list[PlannedUpdate] = field(default_factory=list)
    pruned: list[PruneCandidate] = field(default_factory=list)
    """Notes deleted: gone from the vault (``--prune``) or marked ``DELETE`` in it."""
    media: list[str] = field(default_factory=list)
    """Names of the media files written to the collection's media folder."""
    note_types: list[str] = field(default_factory=list)
    """Names of paperdeck's note types that had to be added."""
    restyled: list[str] = field(default_factory=list)
    """Names of paperdeck's note types whose templates and CSS were brought up to date."""
    diagnostics: list[Diagnostic] = field(default_factory=list)


def apply_sync(
    col: Collection,
    plan: SyncPlan,
    *,
    write_ids: Callable[[set[int]], tuple[set[int], list[Diagnostic]]],
    prune: bool = False,
    delete_marked: bool = False,
    adopt: AdoptOptions = DEFAULT_ADOPT,
) -> SyncResult:
    """Carry out ``plan``: note types' looks, media, in-place updates, additions, pruning.

    Updates change fields, tags and deck only, so review history stays. New cards are
    added crash-safely: ``write_ids`` first writes their IDs into the notes (it is given
    the IDs to add, records them as pending, and returns those now in the vault), then the
    notes are created with exactly those ids through Anki's importer. A sync killed in
    between leaves IDs that the next sync adds; it never leaves an Anki note whose ID is
    not in the vault. Notes are deleted only when asked: ``prune`` (notes whose cards left
    the vault) and ``delete_marked`` (cards marked ``DELETE``).
    """
    from anki.models import NotetypeId

    result = SyncResult()
    result.restyled = restyle_note_types(col, plan.restyle)
    renamed: dict[str, str] = {}
    for name, path in plan.media.items():
        stored = col.media.write_data(name, path.read_bytes())
        result.media.append(stored)
        if stored != name:
            renamed[name] = stored
    for update in plan.update:
        _update_note(col, update, renamed)
        result.updated.append(update)
    for side in plan.pull:
        if side.update.changes:
            _update_note(col, side.update, renamed)
    if plan.add:
        wanted = {item.note.note_id for item in plan.add if item.note.note_id is not None}
        in_vault, problems = write_ids(wanted)
        result.diagnostics.extend(problems)
        adding = [
            dataclasses.replace(item, note=_in_collection_type(col, item.note, adopt))
            for item in plan.add
            if item.note.note_id in in_vault
        ]
        result.note_types = sorted(
            {
                i.note.note_type.name
                for i in adding
                if col.models.get(NotetypeId(i.note.note_type.model_id)) is None
            }
        )
        result.added, failed = _add_notes(col, adding, renamed)
        result.diagnostics.extend(failed)
    doomed = [*(plan.prune if prune else []), *(plan.delete if delete_marked else [])]
    if doomed:
        from anki.notes import NoteId

        col.remove_notes([NoteId(p.note_id) for p in doomed])
        result.pruned = doomed
    return result


def _add_notes(
    col: Collection, items: Sequence[PlannedCard], renamed: dict[str, str]
) -> tuple[list[tuple[PlannedCard, int]], list[Diagnostic]]:
    """Create the notes of ``items`` with their cards' IDs as note ids, via Anki's importer.

    Only the importer keeps the note id (and guid) a package gives, and it brings in
    paperdeck's note types with their fixed ids when the collection lacks them.
    """
    from anki.errors import NotFoundError
    from anki.notes import NoteId

    if not items:
        return [], []
    notes = [
        dataclasses.replace(item.note, fields=_fields_with_media(item.note.fields, renamed))
        for item in items
    ]
    with tempfile.TemporaryDirectory() as tmp:
        apkg = Path(tmp) / "new-cards.apkg"
        write_apkg(notes, [], apkg)
        import_package(col, apkg, update="never")
    added: list[tuple[PlannedCard, int]] = []
    problems: list[Diagnostic] = []
    for item in items:
        note_id = item.note.note_id
        assert note_id is not None  # plan_ids gave every added card an ID
        try:
            found = col.get_note(NoteId(note_id))
        except NotFoundError:
            found = None
        if found is not None and found.guid == item.note.guid:
            added.append((item, note_id))
        else:
            problems.append(
                error(item.source.note.path, item.card.line, f"Anki did not add note {note_id}")
            )
    return added, problems


def _in_collection_type(col: Collection, note: AnkiNote, adopt: AdoptOptions) -> AnkiNote:
    """A card of a named type is added with the collection's type of that name (its id and
    templates), its fields mapped by name; paperdeck's own types are used as they are."""
    if note.note_type.model_id in PAPERDECK_MODEL_IDS:
        return note
    existing = col.models.by_name(note.note_type.requested or note.note_type.name)
    if existing is None:
        return note
    target = tuple(f["name"] for f in existing["flds"])
    values = map_fields(note.note_type.fields, note.fields, target, source=adopt.source)
    if values is None:
        return note  # does not fit: paperdeck's own type of that name (a new type)
    templates = tuple((str(t["name"]), str(t["qfmt"]), str(t["afmt"])) for t in existing["tmpls"])
    note_type = NoteType(
        int(existing["id"]),
        str(existing["name"]),
        target,
        templates,
        cloze=existing.get("type") == 1,
        collection_json=json.dumps(existing, sort_keys=True),
    )
    fields = tuple(values.get(name, "") for name in target)
    return dataclasses.replace(note, note_type=note_type, fields=fields)


def _fields_with_media(fields: Iterable[str], renamed: dict[str, str]) -> tuple[str, ...]:
    """The fields with media names that Anki stored under another name replaced."""
    out = []
    for value in fields:
        for old, new in renamed.items():
            value = value.replace(old, new)
        out.append(value)
    return tuple(out)


def _deck_for(col: Collection, name: str) -> int:
    deck = col.decks.id(name, create=True)
    if deck is None:  # pragma: no cover - create=True always gives an id
        raise CollectionError(f"could not create deck {name!r}")
    return int(deck)


def _update_note(col: Collection, update: PlannedUpdate, renamed: dict[str, str]) -> None:
    """Write the planned fields and tags into the existing note; move it if planned."""
    from anki.cards import CardId
    from anki.decks import DeckId
    from anki.notes import NoteId

    note_id = update.planned.note.note_id
    assert note_id is not None
    existing = col.get_note(NoteId(note_id))
    names = [name for name, _ in update.values]
    values = _fields_with_media((value for _, value in update.values), renamed)
    for name, value in zip(names, values, strict=True):
        existing[name] = value
    existing.tags = list(update.tags)
    col.update_note(existing)
    if update.deck is None:
        return
    target = _deck_for(col, update.deck)
    moving = [CardId(c.id) for c in existing.cards() if _home_deck(c) != target]
    if moving:
        col.set_deck(moving, DeckId(target))
