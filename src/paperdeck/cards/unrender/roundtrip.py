"""The check behind every answer: Markdown rendered again as a build renders it, and
compared with the card Anki holds.

The converter never guesses: a Markdown it returns is one this says gives the same card.
Rendering is :func:`~paperdeck.cards.render.render_field` then
:func:`~paperdeck.cards.sanitize.sanitize`, as in a build, with what the build was given.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from urllib.parse import quote, unquote

from paperdeck.cards.render import render_field
from paperdeck.cards.sanitize import sanitize
from paperdeck.cards.unrender.read_blocks import read_card
from paperdeck.cards.unrender.results import LossyError
from paperdeck.cards.unrender.structure import El
from paperdeck.notes.cloze import highlights_to_clozes


@dataclass
class RoundTrip:
    """How the build renders the field, and the card Anki holds, to check Markdown against."""

    target: tuple[El, ...]
    """The field in Anki, as :func:`~paperdeck.cards.unrender.card_structure` reads it."""
    media: Mapping[str, str]
    cloze: bool
    highlights_as_clozes: bool
    link: Callable[[str], str | None] | None
    widths: Mapping[str, int]
    renderer: Callable[[str], str] | None = None
    """The build's own rendering of this field, when the caller has it (a vault's macros
    and page links are part of it); otherwise :func:`render_field` with the above."""
    _checked: dict[str, bool] = field(default_factory=dict)
    _by_target: dict[str, str | None] = field(default_factory=dict)

    def __post_init__(self) -> None:
        for name, target in self.media.items():
            for spelling in (target, unquote(target), quote(unquote(target))):
                self._by_target.setdefault(spelling, name)

    def render(self, markdown: str) -> str:
        """The field as a build renders it: what the card in Anki holds."""
        if self.highlights_as_clozes:
            markdown = highlights_to_clozes(markdown)
        if self.renderer is not None:
            return sanitize(self.renderer(markdown))
        html = render_field(
            markdown, self._by_target, cloze=self.cloze, link=self.link, widths=self.widths
        )
        return sanitize(html)

    def structure(self, markdown: str) -> tuple[El, ...]:
        return read_card(self.render(markdown), cloze=self.cloze)

    def same_card(self, markdown: str) -> bool:
        if markdown not in self._checked:
            try:
                self._checked[markdown] = self.structure(markdown) == self.target
            except LossyError:
                self._checked[markdown] = False
        return self._checked[markdown]
