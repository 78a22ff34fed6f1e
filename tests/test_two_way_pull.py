"""Property: whatever Anki holds for a card, pulling it into the note either gives a note
whose card renders to exactly Anki's card, with every byte outside the card kept, or is
refused with a reason; it never guesses."""

from __future__ import annotations

from pathlib import Path, PurePosixPath

import pytest
from hypothesis import HealthCheck, assume, event, given, settings

from paperdeck.build import read_vault, render_context
from paperdeck.cards.note_render import RenderContext, render_note
from paperdeck.cards.unrender import card_structure
from paperdeck.config import Config
from paperdeck.notes.model import Card
from paperdeck.notes.vault import SourceNote, parse_note
from paperdeck.twoway.pull import AnkiEdit, pull_note
from test_unrender import CARDS

BEFORE = "Title: Pulled\nTags: #t\n\nSome prose $x$ with ![[fig.png]].\n\n"
AFTER = "\n\nQ: Another?\nA: Untouched.\n<!--ID: 1700000000902-->\n"


@pytest.fixture(scope="module")
def context(tmp_path_factory: pytest.TempPathFactory) -> RenderContext:
    root = tmp_path_factory.mktemp("vault")
    (root / "fig.png").write_bytes(b"\x89PNG\r\n\x1a\nfig")
    (root / "talk.mp3").write_bytes(b"ID3talk")
    (root / "Other note.md").write_text("Prose.\n")
    (root / "Gumbel.md").write_text("Prose.\n")
    vault = read_vault(root, Config())
    return render_context(vault, Config(), {})


def one_line_blocks(markdown: str) -> str:
    """A card's answer cannot hold a blank line (it would end the card): blocks as lines."""
    return "\n".join(line for line in markdown.split("\n") if line.strip())


def source_of(text: str, root: Path) -> SourceNote:
    note, _ = parse_note(text, path="notes/Pulled.md")
    return SourceNote(root / "Pulled.md", PurePosixPath("Pulled.md"), text.encode(), text, note, 0)


def anki_html(source: SourceNote, context: RenderContext, card_id: int) -> str:
    notes = render_note(source, context).notes
    return next(n.fields[1] for n in notes if n.note_id == card_id)


def answer_of(source: SourceNote) -> str | None:
    found = [c.answer for c in source.note.cards if c.card_id == 1700000000901]
    return found[0] if found else None


def reparse(text: str) -> list[Card]:
    return list(parse_note(text, path="notes/Pulled.md")[0].cards)


@settings(
    max_examples=80, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
)
@given(CARDS.map(one_line_blocks), CARDS.map(one_line_blocks))
def test_a_pull_gives_anki_s_card_or_a_reason(context: RenderContext, old: str, new: str) -> None:
    root = context.index.root
    card = f"Q: What?\nA: {old}\n<!--ID: 1700000000901-->"
    note = source_of(BEFORE + card + AFTER, root)
    edited = source_of(BEFORE + card.replace(old, new, 1) + AFTER, root)
    # Both must be one answer in a note (a card cannot open with a fence, say).
    assume(answer_of(note) == old and answer_of(edited) == new)
    wanted = anki_html(edited, context, 1700000000901)
    target = next(c for c in note.note.cards if c.card_id == 1700000000901)

    pulled = pull_note(note, [AnkiEdit(target, None, wanted)], context, reparse)

    event("refused" if pulled.refused else "pulled")
    if pulled.refused:
        assert pulled.refused[0].reason and pulled.text == note.text
        return
    assert pulled.text.startswith(BEFORE) and pulled.text.endswith(AFTER)
    again = source_of(pulled.text, root)
    got = anki_html(again, context, 1700000000901)
    assert card_structure(got) == card_structure(wanted)
    assert [c.answer for c in again.note.cards if c.card_id == 1700000000902] == ["Untouched."]
