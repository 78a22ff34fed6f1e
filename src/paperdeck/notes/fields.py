"""Which fields a note type has, as far as a note file can tell.

Obsidian_to_Anki asks Anki for every note type's fields. paperdeck reads notes without
Anki, so it knows Anki's stock types, and any type the vault's configuration lists
(``note_fields``); for any other type a field is whatever a ``Name:`` label says.
"""

from __future__ import annotations

import re
from collections.abc import Mapping

STOCK_FIELDS: dict[str, tuple[str, ...]] = {
    "basic": ("Front", "Back"),
    "basic (and reversed card)": ("Front", "Back"),
    "basic (optional reversed card)": ("Front", "Back", "Add Reverse"),
    "basic (type in the answer)": ("Front", "Back"),
    "cloze": ("Text", "Back Extra"),
}
ALIASES: dict[str, dict[str, str]] = {"cloze": {"Extra": "Back Extra"}}
"""Labels paperdeck has always read besides the field's own name."""

FIRST_FIELD = ""
"""The name given to the unlabelled first field of a note type whose fields are unknown:
it means "the type's first field, whatever Anki calls it"."""

# A label of a type whose fields are unknown: a short name, no Markdown, no URL scheme.
_FREE_LABEL_RE = re.compile(r"^([^\W\d_][^:`$#*\[\]<>|{}\\]{0,39}?):(?:[ \t]+|$)(.*)$")


def known_fields(
    note_type: str, configured: Mapping[str, tuple[str, ...]] | None = None
) -> tuple[str, ...] | None:
    """The fields of ``note_type`` in Anki's order, or ``None`` when they are not known.

    The configuration wins (exact name first, then any case), then Anki's stock types."""
    configured = configured or {}
    if note_type in configured:
        return configured[note_type]
    folded = {name.casefold(): fields for name, fields in configured.items()}
    return folded.get(note_type.casefold(), STOCK_FIELDS.get(note_type.casefold()))


def is_cloze_type(note_type: str) -> bool:
    """A type with "Cloze" in its name: CurlyCloze applies, the card is a cloze."""
    return "cloze" in note_type.casefold()


def label(line: str, fields: tuple[str, ...] | None, note_type: str) -> tuple[str, str] | None:
    """``(field, rest of the line)`` when ``line`` starts with a field label, else ``None``.

    With known fields a label is ``Name:`` exactly as the plugin reads it (case-sensitive,
    no space needed after the colon); with unknown fields, any short ``Name: ``.
    """
    if fields is None:
        m = _FREE_LABEL_RE.match(line)
        if m is None or m.group(1).strip() == "Tags":
            return None
        return m.group(1).strip(), m.group(2)
    aliases = ALIASES.get(note_type.casefold(), {})
    for name in sorted((*fields, *aliases), key=len, reverse=True):
        if line.startswith(name + ":"):
            return aliases.get(name, name), line[len(name) + 1 :].lstrip(" \t")
    return None
