"""The parsed form of a note: plain data, no behaviour."""

from __future__ import annotations

from dataclasses import dataclass, field


@dataclass(frozen=True)
class Card:
    """One ``Q:`` / ``A:`` flashcard, with the source lines it came from."""

    question: str
    """Markdown source of the question (math untouched, line endings normalised to ``\\n``)."""
    answer: str
    """Markdown source of the answer."""
    line: int
    """1-based line of the ``Q:``."""
    answer_line: int
    """1-based line of the ``A:``."""
    end_line: int
    """1-based last line of the answer: a new ID comment is inserted after it."""
    card_id: int | None = None
    """The number in ``<!--ID: N-->``, or ``None`` for a card that has none yet."""
    id_line: int | None = None
    """1-based line of the ID comment."""
    reverse: bool = False
    """Also make the answer-to-question card."""
    cloze: bool = False
    """A cloze note: ``question`` holds the text with ``{{c1::...}}``, ``answer`` the extra."""
    tags: tuple[str, ...] = ()
    """Tags of this card alone (an Obsidian_to_Anki block's ``Tags:`` line)."""
    note_type: str | None = None
    """The Anki note type the card names (Obsidian_to_Anki syntax: ``Basic``, ``Cloze``,
    ``Basic (type in the answer)``, a custom type), or ``None`` for paperdeck's own Q/A."""
    fields: tuple[tuple[str, str], ...] = ()
    """With ``note_type``: every field the card gives, ``(name, Markdown)``, in the note
    type's order as written (``question``/``answer`` repeat the first two)."""
    field_lines: tuple[int, ...] = ()
    """1-based first line of each of ``fields`` (for messages about their content)."""
    delete: bool = False
    """Obsidian_to_Anki's ``DELETE`` above the ID: remove this card's note on ``sync``."""
    context: tuple[str, ...] = ()
    """The headings above the card, outermost first (for the optional Context line)."""


@dataclass(frozen=True)
class FencedBlock:
    """A fenced code block, kept so that plugins (figure specs) can read their own fences."""

    info: str
    content: str
    line: int
    """1-based line of the opening fence."""


@dataclass(frozen=True)
class NoteMeta:
    """What the header lines or the YAML front matter say about the paper."""

    title: str | None = None
    authors: tuple[str, ...] = ()
    tags: tuple[str, ...] = ()
    year: str | None = None
    link: str | None = None
    deck: str | None = None
    reverse: bool = False
    """Front matter ``reverse: true``: every Q/A card of the note goes both ways."""
    citekey: str | None = None
    """The citation key naming the paper (front matter ``citekey:``, or ``@key`` in the
    ``Title:`` line), looked up in the vault's bibliography when the note is rendered."""
    citekey_line: int = 0
    """1-based line the citation key is written on."""


@dataclass(frozen=True)
class Note:
    """A parsed note: its metadata, cards, tags and fenced blocks."""

    path: str
    """Path as shown in messages."""
    meta: NoteMeta
    cards: tuple[Card, ...]
    inline_tags: tuple[str, ...] = ()
    """``#tags`` found in the prose, in order of first appearance, without ``#``."""
    fences: tuple[FencedBlock, ...] = field(default=())
