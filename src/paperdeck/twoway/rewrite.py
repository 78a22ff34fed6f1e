"""Which notes take what from Anki in a sync: edited cards' text, and tags added in Anki.

Each note is rewritten at most once per sync, with all of its cards' edits and its new
tags together; the caller writes the text only if the file still holds what was read.
"""

from __future__ import annotations

import unicodedata
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field

from paperdeck.anki.collection import AnkiSide
from paperdeck.cards.note_render import RenderContext
from paperdeck.notes.model import Card, Note
from paperdeck.notes.vault import SourceNote
from paperdeck.twoway.note_tags import with_tags
from paperdeck.twoway.pull import AnkiEdit, PulledCard, Refused, pull_note

Reparse = Callable[[SourceNote], Callable[[str], Note]]
"""For a note, how to parse new text of it the way the vault was parsed."""


@dataclass(frozen=True)
class NoteRewrite:
    """A note's new text, with the cards and tags that came from Anki."""

    source: SourceNote
    text: str
    pulled: list[PulledCard]
    tags: tuple[str, ...]


@dataclass
class Rewrites:
    """Every note a sync rewrites, and the cards whose edit in Anki cannot come back."""

    notes: list[NoteRewrite] = field(default_factory=list)
    refused: list[tuple[SourceNote, Refused]] = field(default_factory=list)
    tags_kept_in_anki: list[tuple[SourceNote, tuple[str, ...]]] = field(default_factory=list)
    """Tags added in Anki that stay there only: on some of a note's cards, or not tags
    that Obsidian can write."""
    settled: list[int] = field(default_factory=list)
    """Cards edited in Anki in a way that says the same in Markdown (``<b>`` for
    ``<strong>``, a trailing ``<br>``): nothing to write, Anki's version is the new base."""


def plan_rewrites(
    sources: Sequence[SourceNote],
    pulls: Sequence[AnkiSide],
    added_tags: Mapping[int, tuple[str, ...]],
    context: RenderContext,
    reparse: Reparse,
) -> Rewrites:
    """The rewrite of each note that has pulled cards or tags added in Anki to all of its
    cards (``added_tags``: by card ID, the tags each card's note gained in Anki)."""
    by_source: dict[str, list[AnkiEdit]] = {}
    out = Rewrites()
    for side in pulls:
        fields, item = side.fields, side.planned
        edited = _edited_beyond_the_text(side)
        if edited:
            reason = (
                f"its {', '.join(edited)} field was edited in Anki, and paperdeck writes it "
                "from the note's header, never into the note"
            )
            out.refused.append((item.source, Refused(item.card, reason)))
            continue
        edit = AnkiEdit(item.card, fields[0], fields[1] if len(fields) > 1 else None)
        by_source.setdefault(item.source.rel_text, []).append(edit)
    for source in sources:
        edits = by_source.get(source.rel_text, [])
        common = _common_tags(source, added_tags)
        if not edits and not common:
            continue
        parse = reparse(source)
        pulled = pull_note(source, edits, context, _cards_of(parse))
        out.refused += [(source, refused) for refused in pulled.refused]
        text, tags = pulled.text, tuple[str, ...]()
        if common:
            tagged = with_tags(text, common, parse)
            if tagged is None:
                out.tags_kept_in_anki.append((source, common))
            else:
                text, tags = tagged, common
        partial = _partial_tags(source, added_tags, common)
        if partial:
            out.tags_kept_in_anki.append((source, partial))
        if text != source.text:
            out.notes.append(NoteRewrite(source, text, pulled.pulled, tags))
        else:
            out.settled += [p.card.card_id for p in pulled.pulled if p.card.card_id is not None]
    return out


def _edited_beyond_the_text(side: AnkiSide) -> list[str]:
    """The fields after the question and answer (the Source line) that Anki holds otherwise
    than the vault renders them."""
    item = side.planned
    names, built = item.note.note_type.fields, item.note.fields
    return [
        name
        for index, (name, anki) in enumerate(zip(names, side.fields, strict=True))
        if index >= 2 and anki is not None and _nfc(anki) != _nfc(built[index])
    ]


def _nfc(text: str) -> str:
    return unicodedata.normalize("NFC", text)


def _cards_of(parse: Callable[[str], Note]) -> Callable[[str], Sequence[Card]]:
    return lambda text: parse(text).cards


def _card_ids(source: SourceNote) -> list[int]:
    return [c.card_id for c in source.note.cards if c.card_id is not None and not c.delete]


def _common_tags(source: SourceNote, added: Mapping[int, tuple[str, ...]]) -> tuple[str, ...]:
    """Tags added in Anki to every card of the note (in the first card's order)."""
    ids = _card_ids(source)
    if not ids or any(card_id not in added for card_id in ids):
        return ()
    first, *rest = (added[card_id] for card_id in ids)
    others = [{t.casefold() for t in tags} for tags in rest]
    return tuple(t for t in first if all(t.casefold() in tags for tags in others))


def _partial_tags(
    source: SourceNote, added: Mapping[int, tuple[str, ...]], common: tuple[str, ...]
) -> tuple[str, ...]:
    shared = {t.casefold() for t in common}
    seen: dict[str, str] = {}
    for card_id in _card_ids(source):
        for tag in added.get(card_id, ()):
            if tag.casefold() not in shared:
                seen.setdefault(tag.casefold(), tag)
    return tuple(seen.values())
