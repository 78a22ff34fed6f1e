"""ID write-back changes nothing but the inserted ID lines (property-based)."""

from __future__ import annotations

from hypothesis import given, settings
from hypothesis import strategies as st

from paperdeck.notes.ids import insert_ids, new_ids
from paperdeck.notes.parse import parse_note, split_lines

ENDINGS = st.sampled_from(["\n", "\r\n", "\r"])
# Prose that can't be mistaken for structure: it starts with a letter other than Q/A.
WORDS = st.text(
    alphabet=st.characters(blacklist_categories=("Cc", "Cs", "Zl", "Zp")), min_size=0, max_size=20
)
PROSE = WORDS.map(lambda s: "p " + s.replace("$", "").replace("<", "").replace("`", "").strip())


@st.composite
def notes(draw: st.DrawFn) -> str:
    """A note of prose blocks and cards, some with IDs, with one kind of line ending."""
    nl = draw(ENDINGS)
    blocks: list[str] = []
    next_id = 1_600_000_000_000
    for _ in range(draw(st.integers(1, 6))):
        if draw(st.booleans()):
            blocks.append(nl.join(draw(st.lists(PROSE, min_size=1, max_size=3))))
        else:
            card = f"Q: {draw(PROSE)}{nl}A: {draw(PROSE)}"
            if draw(st.booleans()):
                card += f"{nl}A second answer line $x_{{1}}$"
            if draw(st.booleans()):
                next_id += 1
                card += f"{nl}<!--ID: {next_id}-->"
            blocks.append(card)
    text = (nl + nl).join(blocks)
    if draw(st.booleans()):
        text += nl
    if draw(st.booleans()):
        text = "\ufeff" + text
    return text


def remove_ids(text: str, ids: list[int]) -> str:
    """``text`` without the given ID lines, checking each has the ending it must have: that
    of the line it follows (or, as the last line with none, it gave that line the file's
    first ending)."""
    lines = split_lines(text)
    first_ending = next(
        (line[len(line.rstrip("\r\n")) :] for line in lines if line != line.rstrip("\r\n")), "\n"
    )
    for card_id in ids:
        comment = f"<!--ID: {card_id}-->"
        index = next(i for i, line in enumerate(lines) if line.rstrip("\r\n") == comment)
        assert index > 0, card_id
        ending = lines[index][len(comment) :]
        before = lines[index - 1]
        before_ending = before[len(before.rstrip("\r\n")) :]
        if ending:
            assert ending == before_ending, (card_id, ending, before_ending)
        else:
            assert index == len(lines) - 1 and before_ending == first_ending, card_id
            lines[index - 1] = before.rstrip("\r\n")
        del lines[index]
    return "".join(lines)


@settings(max_examples=300, deadline=None)
@given(notes())
def test_write_back_changes_only_the_id_lines(text: str) -> None:
    note, diagnostics = parse_note(text, path="n.md")
    assert not diagnostics
    missing = [c for c in note.cards if c.card_id is None]
    fresh = new_ids({c.card_id for c in note.cards if c.card_id}, now_ms=1_700_000_000_000)
    assigned = {c.end_line: next(fresh) for c in missing}

    written = insert_ids(text, assigned)

    assert remove_ids(written, list(assigned.values())) == text
    reparsed, problems = parse_note(written, path="n.md")
    assert not problems
    assert all(c.card_id is not None for c in reparsed.cards)
    assert [(c.question, c.answer) for c in reparsed.cards] == [
        (c.question, c.answer) for c in note.cards
    ]
    assert {c.card_id for c in reparsed.cards} >= set(assigned.values())


def test_new_line_takes_the_ending_of_the_line_it_follows() -> None:
    text = "Q: a\r\nA: b\r\n\r\nQ: c\nA: d"
    out = insert_ids(text, {2: 1_700_000_000_001, 5: 1_700_000_000_002})
    assert out == (
        "Q: a\r\nA: b\r\n<!--ID: 1700000000001-->\r\n\r\nQ: c\nA: d\r\n<!--ID: 1700000000002-->"
    )


def test_new_ids_are_13_digits_unique_and_skip_taken() -> None:
    ids = new_ids({1_700_000_000_000, 1_700_000_000_002}, now_ms=1_700_000_000_000)
    got = [next(ids) for _ in range(3)]
    assert got == [1_700_000_000_001, 1_700_000_000_003, 1_700_000_000_004]
    assert all(len(str(i)) == 13 for i in got)


def test_an_inline_note_on_a_first_line_with_a_bom_takes_its_id_before_endi() -> None:
    text = "\ufeffSTARTI [Basic] Front? Back: x ENDI\nmore\n"
    assert insert_ids(text, {1: [1700000000001]}) == (
        "\ufeffSTARTI [Basic] Front? Back: x <!--ID: 1700000000001--> ENDI\nmore\n"
    )


def test_only_the_line_ending_is_split_off_a_line_that_ends_in_any_letter() -> None:
    for last in "XxA\\":
        text = f"Q: a\nA: b{last}\n"
        assert insert_ids(text, {2: 1700000000001}) == text + "<!--ID: 1700000000001-->\n"


def test_a_card_s_guid_and_deck_id_are_the_ones_already_in_users_collections() -> None:
    """Anki recognises a note by its guid and a deck by its id: these values are in
    collections since paperdeck's first release, and changing how they are made would
    duplicate every card and deck on the next import."""
    from paperdeck.anki.apkg import deck_id, guid_for

    assert guid_for(1683650871138) == "uO*=7`yt,+"
    papers = "Papers::Categorical reparameterization with gumbel-softmax"
    assert deck_id(papers) == 1293207941383271
