"""Each card's two sides exactly as Anki renders them, read from a real collection.

The deck is written as an ``.apkg`` and imported into a temporary collection by Anki's own
importer, then every card's ``question()`` and ``answer()`` are taken from Anki: the
templates, cloze numbering, ``{{FrontSide}}`` and the note type's CSS are Anki's doing,
not a guess of ours. The text is then prepared as Anki's reviewer prepares it (media file
names percent-encoded, ``[anki:play:...]`` references shown as play buttons).
"""

from __future__ import annotations

import re
import shutil
import tempfile
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING

from paperdeck.anki.apkg import AnkiNote, write_apkg
from paperdeck.anki.collection import import_package, open_collection, plain_text

if TYPE_CHECKING:
    from anki.cards import Card as AnkiCard
    from anki.collection import Collection

_AV_REF = re.compile(r"\[anki:play:[qa]:\d+\]")
"""Anki's placeholder for a sound or video on a card (``anki.sound.AV_REF_RE``)."""

PLAY_BUTTON = (
    '<a class="replay-button soundLink" href="#" title="Plays in Anki" draggable="false">'
    '<svg class="playImage" viewBox="0 0 64 64" version="1.1"><circle cx="32" cy="32" r="29" />'
    '<path d="M56.502,32.301l-37.502,20.101l0.329,-40.804l37.173,20.703Z" /></svg></a>'
)
"""The reviewer's play button (``aqt.sound.av_refs_to_play_icons``), without its action."""


@dataclass(frozen=True)
class CardView:
    """One card, both sides, as the reviewer would show them."""

    place: str
    """``path:line`` of the card in the vault, or ``""`` if it cannot be told."""
    title: str
    """The card's first field as plain text, shortened: how a reader recognises it."""
    deck: str
    note_type: str
    template: str
    """The card template's name (``Card 2`` is the reverse of a reversed note)."""
    ordinal: int
    """Anki's ``card.ord``: the reviewer gives the page's body the class ``card{ord+1}``."""
    question: str
    """The front's HTML, the note type's ``<style>`` first, as ``card.question()`` gives it."""
    answer: str
    """The back's HTML, as ``card.answer()`` gives it."""


def read_cards(
    notes: Sequence[AnkiNote],
    media: Sequence[tuple[str, Path]],
    places: Mapping[str, str],
    media_out: Path,
) -> list[CardView]:
    """Import ``notes`` and ``media`` into a new temporary collection; return every card.

    Cards come in the order of ``notes``, each note's cards by template. ``places`` maps a
    note's guid to where its card is in the vault. The media files, as the collection holds
    them after the import, are copied into ``media_out`` for the page to load.
    """
    with tempfile.TemporaryDirectory(prefix="paperdeck-preview-") as tmp:
        apkg = Path(tmp) / "deck.apkg"
        write_apkg(notes, media, apkg)
        with open_collection(Path(tmp) / "anki" / "collection.anki2", create=True) as col:
            import_package(col, apkg)
            by_guid = {col.get_note(nid).guid: nid for nid in col.find_notes("")}
            views: list[CardView] = []
            for note in notes:
                if note.guid not in by_guid:
                    continue
                cards = sorted(col.get_note(by_guid[note.guid]).cards(), key=lambda c: c.ord)
                views.extend(_view(col, card, places.get(note.guid, "")) for card in cards)
            _copy_media(Path(col.media.dir()), media_out)
    return views


def _view(col: Collection, card: AnkiCard, place: str) -> CardView:
    first = card.note().fields[0] if card.note().fields else ""
    title = plain_text(first)
    return CardView(
        place=place,
        title=title if len(title) <= 90 else title[:87] + "...",
        deck=col.decks.name(card.did),
        note_type=str(card.note_type()["name"]),
        template=str(card.template()["name"]),
        ordinal=int(card.ord),
        question=_for_display(col, card.question()),
        answer=_for_display(col, card.answer()),
    )


def _for_display(col: Collection, text: str) -> str:
    """What the reviewer does to a side before showing it (``prepare_card_text_for_display``)."""
    escaped = str(col.media.escape_media_filenames(text))
    return _AV_REF.sub(PLAY_BUTTON, escaped)


def _copy_media(folder: Path, target: Path) -> None:
    target.mkdir(parents=True, exist_ok=True)
    for path in sorted(folder.iterdir()):
        if path.is_file():
            shutil.copyfile(path, target / path.name)
