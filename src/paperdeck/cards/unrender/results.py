"""What a conversion returns: the note's Markdown, or why it cannot come back.

Two-way sync needs the difference spelled out: Markdown goes into the note, a
:class:`Lossy` is shown to the user as a conflict with its reason.
"""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class Markdown:
    """The field's Markdown, as the note should now hold it."""

    text: str
    unchanged: bool = False
    """The field in Anki still shows what the note renders to: ``text`` is the note's own."""


@dataclass(frozen=True)
class Lossy:
    """The field cannot be written back as Markdown without guessing: a conflict."""

    reason: str


Converted = Markdown | Lossy


class LossyError(Exception):
    """Raised inside the converter; :func:`field_markdown` returns it as :class:`Lossy`."""
