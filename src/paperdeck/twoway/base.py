"""What a sync records of each card's note in Anki: the base for the next sync's merge."""

from __future__ import annotations

import hashlib
import unicodedata
from collections.abc import Iterable

from paperdeck.notes.state import AnkiBase


def fields_digest(fields: Iterable[str]) -> str:
    """A note's fields, hashed as Anki shows them: Unicode NFC, as Anki stores text, so a
    field Anki only re-normalised is no edit."""
    text = "\x1f".join(unicodedata.normalize("NFC", value) for value in fields)
    return hashlib.sha256(text.encode()).hexdigest()[:16]


def deck_digest(deck: str) -> str:
    """The deck the vault gives a card, hashed (Anki compares deck names without case)."""
    return hashlib.sha256(deck.casefold().encode()).hexdigest()[:16]


def anki_base(
    fields: Iterable[str], tags: Iterable[str], vault_deck: str, vault_tags: Iterable[str]
) -> AnkiBase:
    """The base to record for a note that Anki now holds with these fields and tags, for a
    card the vault gives ``vault_deck`` and ``vault_tags``."""
    return AnkiBase(
        fields_digest(fields),
        deck_digest(vault_deck),
        tuple(sorted(set(tags))),
        tuple(sorted(set(vault_tags))),
    )
