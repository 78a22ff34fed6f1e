"""What a vault's configuration changes about how its notes are read."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field

from paperdeck.notes.styles import NoteStyle


@dataclass(frozen=True)
class ParseOptions:
    """The reading options of one vault (all off by default: the syntax paperdeck reads
    without configuration never changes under a vault's feet)."""

    highlight_cloze: bool = False
    """A paragraph with ``==highlights==`` is a cloze card."""
    curly_cloze: bool = False
    """Obsidian_to_Anki's CurlyCloze: ``{text}`` is a cloze in note types named "Cloze"."""
    card_tags: bool = False
    """A ``#tag`` inside a card tags that card only (and stays in its text)."""
    add_context: bool = False
    """Fill :attr:`~paperdeck.notes.model.Card.context` with the headings above each card."""
    qa_basic: bool = False
    """The ``question-answer`` style: ``Q:``/``A:`` cards are ``Basic`` notes (Front/Back),
    and a last answer line ``Tags: a b`` tags the card."""
    cloze_paragraph: bool = False
    """The ``cloze-paragraph`` style: cloze paragraphs are ``Cloze`` notes (Text), and with
    ``curly_cloze`` a paragraph with ``{...}`` is one too."""
    styles: tuple[NoteStyle, ...] = ()
    """Regex styles, tried in order; a match is a card unless an earlier one took its text."""
    note_fields: Mapping[str, tuple[str, ...]] = field(default_factory=dict)
    """Field names of note types, as Anki has them (for labels and regex groups)."""

    def cache_key(self) -> str:
        """A text that changes whenever these options could change a parse."""
        flags = (self.highlight_cloze, self.curly_cloze, self.card_tags, self.add_context)
        parts = [repr(flags), repr((self.qa_basic, self.cloze_paragraph))]
        parts += [repr((s.name, s.regex, s.note_type, s.fields)) for s in self.styles]
        parts += [repr(item) for item in sorted(self.note_fields.items())]
        return "\0".join(parts)
