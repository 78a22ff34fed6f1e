"""One field's conversion, end to end: Anki's HTML and the note's Markdown in, the Markdown
the note should now hold (or why there is none) out.

Ways to write the field are tried best first, from the note's own bytes kept nearly
everywhere to all of it written anew; the first whose Markdown renders back to Anki's card,
and loses none of the note's comments, is the answer.
"""

from __future__ import annotations

import re
from collections import Counter
from collections.abc import Callable, Mapping
from dataclasses import replace

from paperdeck.cards.unrender.escapes import settle
from paperdeck.cards.unrender.markdown_out import MarkdownWriter
from paperdeck.cards.unrender.match import BLOCKS, CHARS, LINES, aligned
from paperdeck.cards.unrender.note_spellings import note_spellings
from paperdeck.cards.unrender.read_blocks import read_card
from paperdeck.cards.unrender.results import Converted, Lossy, LossyError, Markdown
from paperdeck.cards.unrender.roundtrip import RoundTrip

_COMMENT_RE = re.compile(r"%%.*?%%|<!--.*?-->", re.DOTALL)


def field_markdown(
    html: str,
    *,
    original_markdown: str,
    media: Mapping[str, str],
    cloze: bool = False,
    highlights_as_clozes: bool = False,
    link: Callable[[str], str | None] | None = None,
    widths: Mapping[str, int] | None = None,
    renderer: Callable[[str], str] | None = None,
) -> Converted:
    """One card field's HTML, as it is in Anki, back to the Markdown the note should hold.

    ``original_markdown`` is the field as the note holds it now (the last synced version);
    ``media`` maps each media name the deck ships (``fig-70ca7dc822.png``) to the embed
    target the note wrote (``fig.png``; for ``![..](..)`` the destination as markdown-it
    reads it, URL-encoded). ``cloze``, ``link`` and ``widths`` are what
    :func:`~paperdeck.cards.render.render_field` was given; ``highlights_as_clozes`` says
    the field is a cloze question, whose ``==highlights==`` were rendered as clozes.
    ``renderer``, when given, is how the build renders this field (vault macros and page
    links included): answers are checked with it.
    """
    try:
        target = read_card(html, cloze=cloze)
        trip = RoundTrip(
            target, media, cloze, highlights_as_clozes, link, dict(widths or {}), renderer
        )
        return _convert(html, original_markdown, trip)
    except LossyError as exc:
        return Lossy(str(exc))


def _convert(html: str, original: str, trip: RoundTrip) -> Converted:
    if html == trip.render(original) or trip.same_card(original):
        return Markdown(original, unchanged=True)
    crlf = "\r\n" in original
    source = original.replace("\r\n", "\n")
    writer = MarkdownWriter(
        note_spellings(source, trip.structure),
        trip.media,
        trip.cloze,
        trip.link,
        trip.widths,
        block_math=bool(re.search(r"^[ \t]*\$\$[ \t]*$", source, re.MULTILINE)),
    )
    generic = "the Markdown it would write does not render back to the same card"
    reason = generic
    seen: set[str] = set()
    for note, each, refine, clozes in _attempts(source, writer):
        try:
            candidate = aligned(note, each, trip, refine=refine, clozes=clozes)
        except LossyError as exc:
            reason = str(exc) if reason == generic else reason
            continue
        if candidate in seen:
            continue
        seen.add(candidate)
        settled = settle(candidate, trip.same_card)
        if settled is None:
            continue
        lost = _lost_comments(source, settled)
        if lost:
            reason = f"an edit over a comment Anki never showed ({lost})"
            continue
        return Markdown(settled.replace("\n", "\r\n") if crlf else settled)
    return Lossy(reason)


def _attempts(source: str, writer: MarkdownWriter) -> list[tuple[str, MarkdownWriter, int, bool]]:
    """Ways to write the field, best first, as (note, writer, refine, clozes): the
    note's own blocks and lines kept, then fewer of them, then all of it written anew;
    with blank lines between all blocks; then emphasis as HTML tags."""
    spacious = replace(writer, compact=False)
    html = replace(spacious, html_emphasis=True)
    tries: list[tuple[str, MarkdownWriter, int, bool]] = []
    for each in (writer, spacious):
        tries += [(source, each, CHARS, True), (source, each, LINES, True)]
        tries += [(source, each, BLOCKS, True), (source, each, BLOCKS, False)]
        tries += [("", each, BLOCKS, False)]
    return [*tries, (source, html, LINES, True), ("", html, BLOCKS, False)]


def _lost_comments(source: str, written: str) -> str | None:
    """A comment of the note that ``written`` no longer has, if any."""
    wanted = Counter(_COMMENT_RE.findall(source))
    have = Counter(_COMMENT_RE.findall(written))
    missing = wanted - have
    return next(iter(missing), None)
