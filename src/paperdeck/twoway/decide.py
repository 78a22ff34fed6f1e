"""The three-way decision for one card's fields: pure, from what changed since the base."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Literal

Decision = Literal["same", "push", "pull", "conflict", "keep"]
"""``same``: nothing to do for the fields; ``push``: Anki takes the vault's card; ``pull``:
the note takes Anki's edit; ``conflict``: both changed, neither is written; ``keep``: Anki's
edit stays in Anki and the note stays as it is (a one-way sync)."""
Prefer = Literal["notes", "anki"]


@dataclass(frozen=True)
class SyncPolicy:
    """How a sync settles what the two sides did (command-line flags and configuration)."""

    two_way: bool = True
    """``False`` (``--one-way``): the vault is pushed; an edit made in Anki to a card that
    did not change in the vault is kept in Anki and not brought back."""
    prefer: Prefer | None = None
    """Which side wins a conflict in this run; ``None``: report it and write neither."""
    deck: Literal["anki", "notes"] = "anki"
    """``anki``: a card moved to another deck in Anki stays there until the note's deck
    changes; ``notes``: every sync moves cards back to the note's deck."""
    tags: Literal["added", "notes"] = "added"
    """``added``: tags added in Anki are kept there and, when on every card of a note,
    written into the note; ``notes``: the note's tags win (Anki's own ``leech`` and
    ``marked`` are always kept)."""


DEFAULT_POLICY = SyncPolicy()


def decide(
    *, differ: bool, vault_changed: bool, anki_changed: bool, policy: SyncPolicy = DEFAULT_POLICY
) -> Decision:
    """What to do with a card whose fields ``differ`` between the vault and Anki.

    ``vault_changed``: the vault's card is not what the last sync recorded (or nothing
    was recorded); ``anki_changed``: the note in Anki is not what the last sync left.
    Fields that differ with neither side changed are the same card written two ways (a
    pulled edit keeps Anki's spelling): nothing to do.
    """
    if not differ or not (vault_changed or anki_changed):
        return "same"
    if not anki_changed:
        return "push"
    if not policy.two_way:
        return "push" if vault_changed else "keep"
    if not vault_changed:
        return "pull"
    if policy.prefer is None:
        return "conflict"
    return "push" if policy.prefer == "notes" else "pull"
