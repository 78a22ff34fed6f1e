"""An edit made in Anki, back into its note's Markdown: Anki's HTML converted with the
inputs the build rendered it with, then written over the card's lines only.

Pure but for the rendering context it is given: note text and Anki's fields in, the new
note text (or why a card cannot take its edit) out. Nothing here writes a file.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass

from paperdeck.cards.note_render import RenderContext, field_inputs
from paperdeck.cards.unrender import Lossy, field_markdown
from paperdeck.notes.model import Card
from paperdeck.notes.vault import SourceNote
from paperdeck.notes.writeback import CannotWriteBack, replace_card_text


@dataclass(frozen=True)
class AnkiEdit:
    """A card of the note and its question and answer fields as Anki holds them (HTML;
    ``None``: a field Anki cannot say apart, taken as unchanged)."""

    card: Card
    question: str | None
    answer: str | None


@dataclass(frozen=True)
class PulledCard:
    """A card whose note text now says what Anki says."""

    card: Card
    question: str
    answer: str


@dataclass(frozen=True)
class Refused:
    """A card whose edit in Anki cannot come back into the note, and why."""

    card: Card
    reason: str


@dataclass(frozen=True)
class PulledNote:
    """One note with Anki's edits written in: its new text, and what became of each card."""

    source: SourceNote
    text: str
    pulled: list[PulledCard]
    refused: list[Refused]


def pull_note(
    source: SourceNote,
    edits: Sequence[AnkiEdit],
    context: RenderContext,
    reparse: Callable[[str], Sequence[Card]],
) -> PulledNote:
    """``source``'s text with each card of ``edits`` saying what Anki says, cards that
    cannot take their edit left as they are (and listed, with the reason).

    Cards are written bottom-up, so the line numbers of the ones above still hold."""
    text = source.text
    pulled: list[PulledCard] = []
    refused: list[Refused] = []
    for edit in sorted(edits, key=lambda e: e.card.line, reverse=True):
        card = edit.card
        converted = _card_markdown(source, edit, context)
        if isinstance(converted, str):
            refused.append(Refused(card, converted))
            continue
        question, answer = converted
        try:
            text = replace_card_text(text, card, question=question, answer=answer, reparse=reparse)
        except CannotWriteBack as exc:
            refused.append(Refused(card, str(exc)))
            continue
        pulled.append(PulledCard(card, question.rstrip(), answer.rstrip()))
    return PulledNote(source, text, pulled[::-1], refused[::-1])


def _card_markdown(
    source: SourceNote, edit: AnkiEdit, context: RenderContext
) -> tuple[str, str] | str:
    """The card's question and answer as Markdown for the note, or why there is none."""
    card = edit.card
    if card.note_type is not None:
        return (
            "a card that names a note type (Obsidian_to_Anki's block syntax) cannot take "
            "text from Anki"
        )
    out = []
    for html, markdown, line, as_clozes in (
        (edit.question, card.question, card.line, card.cloze),
        (edit.answer, card.answer, card.answer_line, False),
    ):
        if html is None:
            out.append(markdown)
            continue
        inputs = field_inputs(source, context, markdown, line, cloze=card.cloze)
        media = {name: target for target, name in inputs.names.items() if name is not None}
        result = field_markdown(
            html,
            original_markdown=markdown,
            media=media,
            cloze=card.cloze,
            highlights_as_clozes=as_clozes,
            link=inputs.link,
            widths=inputs.widths,
            renderer=inputs.render,
        )
        if isinstance(result, Lossy):
            return f"its Anki HTML cannot be written as Markdown without loss: {result.reason}"
        out.append(result.text)
    return out[0], out[1]
