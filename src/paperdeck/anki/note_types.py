"""Anki note types: paperdeck's own three, and one made for any type a card names.

Anki recognises a note type by its id, so every id here is fixed forever: paperdeck's own
types have hard-coded ids, and a type made for a card (``Basic (type in the answer)``, a
custom type of the Obsidian_to_Anki syntax) gets an id derived from its name and fields,
the same on every machine and in every build.
"""

from __future__ import annotations

import hashlib
import json
import re
from dataclasses import dataclass
from importlib.resources import files
from typing import Any

import genanki

# Fixed forever: changing one duplicates every card of that type on the next import.
BASIC_MODEL_ID = 1_732_857_600_001
REVERSED_MODEL_ID = 1_732_857_600_002
CLOZE_MODEL_ID = 1_732_857_600_003
SOURCE = "Source"
"""The field holding the Source line (paper, authors, year, link to the note)."""
FIELDS = ("Question", "Answer", SOURCE)
CLOZE_FIELDS = ("Text", "Extra", SOURCE)


def card_css() -> str:
    """The note types' CSS: readable in Anki's light and night modes; code highlighting's
    colours (``highlight.css``) after the card's own."""
    folder = files("paperdeck.cards")
    return "\n".join(
        folder.joinpath(name).read_text(encoding="utf-8") for name in ("card.css", "highlight.css")
    )


@dataclass(frozen=True)
class NoteType:
    """A note type as paperdeck writes it: id, name, fields and card templates."""

    model_id: int
    name: str
    fields: tuple[str, ...]
    templates: tuple[tuple[str, str, str], ...]
    """``(name, front template, back template)`` for each card the type can make."""
    cloze: bool = False
    requested: str = ""
    """The note type name the card asked for (the same as ``name`` unless that is one of
    Anki's stock types, which paperdeck's own version must not collide with on import)."""
    collection_json: str | None = None
    """A collection's own note type, as JSON, written as it is (so Anki maps onto it)."""

    def to_model(self) -> genanki.Model:
        """The genanki model, for its JSON."""
        return genanki.Model(
            self.model_id,
            self.name,
            fields=[{"name": f} for f in self.fields],
            templates=[{"name": n, "qfmt": q, "afmt": a} for n, q, a in self.templates],
            css=card_css(),
            sort_field_index=0,
            model_type=genanki.Model.CLOZE if self.cloze else genanki.Model.FRONT_BACK,
        )

    def to_json(self, timestamp: int, deck_id: int) -> dict[str, Any]:
        """The note type as an ``.apkg`` stores it."""
        if self.collection_json is not None:
            return dict(json.loads(self.collection_json))
        return self.to_model().to_json(timestamp, deck_id)  # type: ignore[no-any-return]


def _div(css_class: str, field: str) -> str:
    return f'<div class="{css_class}">{{{{{field}}}}}</div>'


_SOURCE_DIV = _div("source", SOURCE)
_REVERSE_PROMPT = '<div class="prompt">Which question has this answer?</div>'
"""Shown above a reverse card's front, which is otherwise a bare answer with nothing asked."""


def _reverse_front(answer_field: str) -> str:
    return _REVERSE_PROMPT + _div("question", answer_field)


def _back(*answer_fields: str) -> str:
    answers = "".join(
        f"{{{{#{f}}}}}{_div('answer', f)}{{{{/{f}}}}}" if i else _div("answer", f)
        for i, f in enumerate(answer_fields)
    )
    return f'{{{{FrontSide}}}}<hr id="answer">{answers}{_SOURCE_DIV}'


BASIC = NoteType(
    BASIC_MODEL_ID,
    "paperdeck Q/A",
    FIELDS,
    (("Card 1", _div("question", "Question"), _back("Answer")),),
)
REVERSED = NoteType(
    REVERSED_MODEL_ID,
    "paperdeck Q/A (and reversed)",
    FIELDS,
    (
        ("Card 1", _div("question", "Question"), _back("Answer")),
        ("Card 2", _reverse_front("Answer"), _back("Question")),
    ),
)
CLOZE = NoteType(
    CLOZE_MODEL_ID,
    "paperdeck Cloze",
    CLOZE_FIELDS,
    (
        (
            "Cloze",
            _div("cloze-text", "cloze:Text"),
            f'{_div("cloze-text", "cloze:Text")}<hr id="answer">{_div("answer", "Extra")}'
            f"{_SOURCE_DIV}",
        ),
    ),
    cloze=True,
)
PAPERDECK_TYPES = (BASIC, REVERSED, CLOZE)
PAPERDECK_MODEL_IDS = frozenset(t.model_id for t in PAPERDECK_TYPES)


ANKI_STOCK_TYPES = frozenset(
    {
        "basic (optional reversed card)",
        "basic (type in the answer)",
        "image occlusion",
    }
)
"""Anki's stock note types that paperdeck has no type of its own for (Basic, Basic (and
reversed card) and Cloze map onto paperdeck's). A built deck names its version
``paperdeck <name>``: a type of Anki's own name but another id would be imported as a
second type called ``<name>+``."""


def custom_note_type(name: str, field_names: tuple[str, ...]) -> NoteType:
    """A note type for a card that names one paperdeck has no type for.

    Its fields are the card's, plus ``Source`` when the card has none. Anki's stock types
    keep their behaviour: ``Basic (type in the answer)`` asks for the answer to be typed,
    ``Basic (optional reversed card)`` makes the reverse card when ``Add Reverse`` is
    filled. Any other type shows its first field on the front and the rest on the back.
    """
    fields = field_names if SOURCE in field_names else (*field_names, SOURCE)
    first, *rest = [f for f in fields if f != SOURCE] or ["Front"]
    lowered = name.lower()
    if lowered == "basic (type in the answer)" and rest:
        front = f"{_div('question', first)}{{{{type:{rest[0]}}}}}"
        back = f'{_div("question", first)}<hr id="answer">{{{{type:{rest[0]}}}}}{_SOURCE_DIV}'
        templates: tuple[tuple[str, str, str], ...] = (("Card 1", front, back),)
    elif lowered == "basic (optional reversed card)" and rest:
        answer, flag = rest[0], next((f for f in rest if f.lower() == "add reverse"), None)
        templates = (("Card 1", _div("question", first), _back(answer)),)
        if flag is not None:
            reverse_front = f"{{{{#{flag}}}}}{_reverse_front(answer)}{{{{/{flag}}}}}"
            templates += (("Card 2", reverse_front, _back(first)),)
    else:
        templates = (("Card 1", _div("question", first), _back(*rest)),)
    digest = hashlib.sha256(f"paperdeck note type\0{name}\0{chr(31).join(fields)}".encode())
    model_id = int.from_bytes(digest.digest()[:6], "big") + (1 << 49)
    shown = f"paperdeck {name}" if lowered in ANKI_STOCK_TYPES else name
    return NoteType(model_id, shown, fields, templates, requested=name)


def cloze_note_type(name: str, field_names: tuple[str, ...]) -> NoteType:
    """A cloze type for a card of a named cloze type whose fields differ from paperdeck's."""
    base = custom_note_type(name, field_names)
    first, *rest = [f for f in base.fields if f != SOURCE]
    front = _div("cloze-text", f"cloze:{first}")
    back = f'{front}<hr id="answer">' + "".join(_div("answer", f) for f in rest) + _SOURCE_DIV
    return NoteType(base.model_id, base.name, base.fields, (("Cloze", front, back),), True, name)


_CLOZE_NUMBER_RE = re.compile(r"\{\{c(\d+)::")
_OPTIONAL_RE = re.compile(r"^\{\{#([^}]+)\}\}")


def card_ords(note_type: NoteType, fields: tuple[str, ...]) -> list[int]:
    """The cards a note makes: one per cloze number, or one per template whose front is
    not empty (a ``{{#Field}}`` front needs that field filled)."""
    if note_type.cloze:
        numbers = {int(n) for n in _CLOZE_NUMBER_RE.findall(fields[0]) if int(n) > 0}
        return sorted(n - 1 for n in numbers) or [0]
    values = dict(zip(note_type.fields, fields, strict=False))
    ords = []
    for ord_, (_, front, _) in enumerate(note_type.templates):
        condition = _OPTIONAL_RE.match(front)
        if condition is None or values.get(condition.group(1), "").strip():
            ords.append(ord_)
    return ords or [0]
