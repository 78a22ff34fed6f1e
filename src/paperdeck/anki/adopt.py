"""Adopting notes another tool made: a card's fields onto an existing note type, by name.

An Obsidian_to_Anki user's cards are already in Anki as ``Basic`` (Front/Back), ``Cloze``
(Text/Back Extra) or custom notes, with their review history. paperdeck updates such a
note in place through its own note type rather than make a second note: changing the
type would be a schema change (a forced full AnkiWeb sync) and would lose nothing less
than the user's trust. Pure functions: names and values in, the fields to write out.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Literal

from paperdeck.anki.note_types import SOURCE
from paperdeck.config import Config

SourcePolicy = Literal["append", "omit"]


@dataclass(frozen=True)
class AdoptOptions:
    """How notes of other tools' types are adopted (from the vault's configuration)."""

    move: bool = False
    """Move adopted notes into paperdeck's decks (default: leave them where they are)."""
    source: SourcePolicy = "append"


DEFAULT_ADOPT = AdoptOptions()


def adopt_options(config: Config) -> AdoptOptions:
    """The vault's settings for adopted notes (``move_adopted``, ``adopted_source``)."""
    source: SourcePolicy = "omit" if config.adopted_source == "omit" else "append"
    return AdoptOptions(move=config.move_adopted, source=source)


ALIASES: dict[str, tuple[str, ...]] = {
    "Question": ("Front", "Text"),
    "Answer": ("Back", "Back Extra", "Extra"),
    "Text": ("Front",),
    "Extra": ("Back Extra", "Back"),
    "Front": ("Question", "Text"),
    "Back": ("Answer", "Back Extra", "Extra"),
    "Back Extra": ("Extra", "Back", "Answer"),
}
"""paperdeck's field names and the plugin's for the same content, in order of preference."""
_SOURCE_HOMES = ("Extra", "Back Extra")
"""Fields that can take the Source line when the note type has no ``Source`` field."""
KEPT_TAGS = frozenset({"leech", "marked", "obsidian_to_anki"})
"""Tags Anki (or the plugin) puts on a note, kept when paperdeck sets the note's tags."""


def map_fields(
    names: Sequence[str],
    values: Sequence[str],
    target: Sequence[str],
    *,
    source: SourcePolicy = "append",
) -> dict[str, str] | None:
    """The fields of a note of type ``target`` (its field names) that a card sets.

    Each card field goes to the target field of its own name, else to its first free alias
    (``Question`` to ``Front``, ``Answer`` to ``Back``, ...); the card's first field, failing
    both, goes to the type's first field. ``None`` when the card's
    first field, or any field with content, has no place: the note cannot be adopted.
    The Source line goes into a ``Source`` field, else a free ``Extra``/``Back Extra``,
    else (``source="append"``) at the end of the answer field. Target fields the card
    does not set are left out, so they keep what they hold.
    """
    out: dict[str, str] = {}
    source_line = ""
    for index, (name, value) in enumerate(zip(names, values, strict=True)):
        if name == SOURCE:
            source_line = value
            continue
        home = _home(name, target, out)
        if home is None and index == 0 and target and target[0] not in out:
            home = target[0]  # the first field is the type's first, whatever its name
        if home is None:
            if index == 0 or value.strip():
                return None
            continue
        out[home] = value
    if not out:
        return None
    if source_line:
        _place_source(out, target, source_line, source)
    return out


def _home(name: str, target: Sequence[str], taken: dict[str, str]) -> str | None:
    if name in target and name not in taken:
        return name
    return next((a for a in ALIASES.get(name, ()) if a in target and a not in taken), None)


def _place_source(
    out: dict[str, str], target: Sequence[str], source_line: str, policy: SourcePolicy
) -> None:
    home = next((f for f in (SOURCE, *_SOURCE_HOMES) if f in target and f not in out), None)
    if home is not None:
        out[home] = source_line
    elif policy == "append":
        answer = list(out)[-1]
        out[answer] = f'{out[answer]}<div class="source">{source_line}</div>'


def adopted_tags(card_tags: Sequence[str], existing: Sequence[str]) -> list[str]:
    """The card's tags, plus the ones Anki or the plugin set that a note must keep."""
    kept = [t for t in existing if t.casefold() in KEPT_TAGS]
    seen = {t.casefold() for t in card_tags}
    return [*card_tags, *(t for t in kept if t.casefold() not in seen)]
