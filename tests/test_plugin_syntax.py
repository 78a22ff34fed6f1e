"""Obsidian_to_Anki's syntax, read from fixtures written after the plugin's documentation.

Each ``fixtures/plugin/X.md`` is read with the options of ``X.toml`` (a ``paperdeck.toml``)
when there is one; the expected cards are spelled out below: note type, fields, tags, ID,
DELETE, and the note's deck.
"""

from __future__ import annotations

import shutil
from pathlib import Path
from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from paperdeck.config import Config, load_config
from paperdeck.diagnostics import PaperdeckError, has_errors
from paperdeck.notes.cloze import curly_to_clozes
from paperdeck.notes.comments import find_comments
from paperdeck.notes.ids import assign_ids, insert_ids, insert_ids_checked
from paperdeck.notes.model import Card, Note
from paperdeck.notes.options import ParseOptions
from paperdeck.notes.parse import parse_note, split_lines
from paperdeck.notes.styles import PRESETS, NoteStyle, exponential_risk, make_style

from conftest import cli, cli_ok

FIXTURES = Path(__file__).parent / "fixtures" / "plugin"


def options_for(name: str, tmp_path: Path) -> ParseOptions:
    """The reading options a vault with the fixture's ``.toml`` as its config has."""
    toml = FIXTURES / f"{name}.toml"
    if toml.exists():
        shutil.copy(toml, tmp_path / "paperdeck.toml")
    return load_config(tmp_path).parse_options()


def read(name: str, tmp_path: Path) -> tuple[Note, list[str]]:
    text = (FIXTURES / f"{name}.md").read_text(encoding="utf-8")
    note, diagnostics = parse_note(text, path=f"{name}.md", options=options_for(name, tmp_path))
    return note, [str(d) for d in diagnostics]


def card(
    note_type: str | None,
    fields: dict[str, str] | tuple[str, str],
    *,
    tags: tuple[str, ...] = (),
    card_id: int | None = None,
    delete: bool = False,
) -> dict[str, Any]:
    """What a test says about a card; a ``(question, answer)`` pair for paperdeck's Q/A."""
    shown = fields if isinstance(fields, dict) else {"Q": fields[0], "A": fields[1]}
    return {"type": note_type, "fields": shown, "tags": tags, "id": card_id, "delete": delete}


def seen(c: Card) -> dict[str, Any]:
    fields = dict(c.fields) if c.note_type else {"Q": c.question, "A": c.answer}
    return card(c.note_type, fields, tags=c.tags, card_id=c.card_id, delete=c.delete)


EXPECTED: dict[str, tuple[str | None, list[dict[str, Any]]]] = {
    "blocks": (
        "Biology::Cells",  # the first TARGET DECK wins
        [
            card(
                "Basic",
                {
                    "Front": "What does the mitochondrion make?",
                    "Back": "ATP,\nby oxidative phosphorylation.",
                },
                tags=("organelles", "energy"),
                card_id=1566052191670,
            ),
            card(
                "Basic (and reversed card)",
                {"Front": "Ribosome", "Back": "Site of protein synthesis"},
            ),
            card(
                "Basic (optional reversed card)",
                {"Front": "Golgi apparatus", "Back": "Packages proteins", "Add Reverse": "y"},
            ),
            card(
                "Basic (type in the answer)",
                {"Front": "Powerhouse of the cell?", "Back": "mitochondrion"},
                card_id=1566052191671,
            ),
            card(
                "Cloze",
                {
                    "Text": "The {{c1::nucleus}} holds the {{c2::DNA}}.",
                    "Back Extra": "Eukaryotes only.",
                },
            ),
            card(
                "Vocabulary",
                {"": "Zelle", "Meaning": "cell", "Example": "Die Zelle teilt sich."},
                card_id=1566052191672,
            ),
        ],
    ),
    "inline": (
        "Inline",
        [
            card("Basic", {"Front": "What is the capital of Peru?", "Back": "Lima"}),
            card(
                "Basic",
                {"Front": "Largest ocean?", "Back": "Pacific"},
                tags=("geo", "water"),
                card_id=1566052191680,
            ),
            card("Basic", {"Front": "2+2?", "Back": "4"}),
            card("Basic (and reversed card)", {"Front": "Hund", "Back": "dog"}),
            card("Cloze", {"Text": "The {{c1::Nile}} is long.", "Back Extra": "Africa"}),
            card("Vocabulary", {"": "Katze", "Meaning": "cat"}),
            card("Basic", {"Front": "Plain ID?", "Back": "yes"}, card_id=1566052191681),
        ],
    ),
    "ids_and_delete": (
        None,
        [
            card(
                None,
                ("A card whose ID is a plain line?", "Read like a comment."),
                card_id=1566052191690,
            ),
            card(None, ("A cloze paragraph with a {{c1::plain}} ID.", ""), card_id=1566052191691),
            card("Basic", {"Front": "Block front", "Back": "Block back"}, card_id=1566052191692),
            card(
                None,
                ("This card is to be deleted.", "Its note goes on sync."),
                card_id=1566052191693,
                delete=True,
            ),
            card(
                "Basic",
                {"Front": "Deleted block", "Back": "gone"},
                card_id=1566052191694,
                delete=True,
            ),
            card(
                "Basic",
                {"Front": "Deleted inline", "Back": "gone"},
                card_id=1566052191695,
                delete=True,
            ),
            card(None, ("", ""), card_id=1566052191696, delete=True),
        ],
    ),
    "frozen": (
        None,
        [
            card("Basic", {"Front": "India", "Back": "New Delhi<br/>(capital city)"}),
            card("Basic", {"Front": "France", "Back": "Paris<br/>(capital city)"}),
            card(
                "Question with context",
                {
                    "Question": "What is the capital?",
                    "Context": "Country: Japan.Asked in geography class.",
                },
            ),
        ],
    ),
    "comments": (
        "Comments",
        [
            card("Cloze", {"Text": "This is a {{c1::cloze}} in a block.", "Back Extra": ""}),
            card("Cloze", {"Text": "Second {{c1::block}}.", "Back Extra": ""}),
            card(None, ("A visible {{c1::cloze}}  here.", "")),
            card(None, ("Does a comment inside a card stay out of it?", "Yes.  It does.")),
        ],
    ),
    "curly_cloze": (
        None,
        [
            card(
                "Cloze",
                {
                    "Text": "This is a {{c1::cloze}} note with {{c2::multiple}} non-id clozes, "
                    "as well as {{c2::some clozes}} with {{c1::other styles}}",
                    "Back Extra": "",
                },
            ),
            card(
                "Cloze",
                {
                    "Text": "Numbered {{c3::three}}, then {{c1::first}} and {{c2::second}}; "
                    "also {{c2::pipe}} and {{c4::four}}.",
                    "Back Extra": r"Math stays: $\frac{a}{b}$, $$\sum_{i} x_i$$, "
                    r"\(\sqrt{x}\) and `{code}` and \{escaped\}.",
                },
            ),
            card("Cloze", {"Text": "Inline {{c1::curly}} cloze", "Back Extra": ""}),
            card(
                "Basic", {"Front": "A {brace} in a Basic note is no cloze.", "Back": "{nor} here"}
            ),
        ],
    ),
    "remnote": (
        "RemNote",
        [
            card("Basic", {"Front": "This is how to use", "Back": "RemNote single-line style"}),
            card("Basic", {"Front": "Capital of Italy", "Back": "Rome"}, tags=("geo", "europe")),
            card(
                "Basic",
                {"Front": "Speed of light", "Back": "about 300 000 km/s"},
                card_id=1566052191700,
            ),
            card(
                None,
                (
                    "Not a remnote card::even with two colons",
                    "it is a Q/A card\n```\ncode::is never a card\n```",
                ),
            ),
        ],
    ),
    "header_paragraph": (
        None,
        [
            card(
                "Basic",
                {
                    "Front": "Photosynthesis",
                    "Back": "Plants turn light into chemical energy.\nIt happens in chloroplasts.",
                },
                card_id=1566052191710,
            ),
            card("Basic", {"Front": "Calvin cycle", "Back": "Fixes carbon dioxide into sugar."}),
        ],
    ),
    "neuracache": (
        None,
        [
            card(
                "Basic",
                {
                    "Front": "What is the chemical symbol of gold?",
                    "Back": "Au, from the Latin aurum.",
                },
            ),
            card(
                "Basic",
                {"Front": "Which planet is largest?", "Back": "Jupiter."},
                card_id=1566052191720,
            ),
        ],
    ),
    "ruled": (
        None,
        [
            card(
                "Basic",
                {
                    "Front": "What is the boiling point of water at sea level?",
                    "Back": "100 degrees Celsius.",
                },
                card_id=1566052191730,
            ),
            card("Basic", {"Front": "Who wrote Hamlet?", "Back": "William Shakespeare."}),
        ],
    ),
    "table": (
        None,
        [
            card("Basic", {"Front": "What is the square root of 16?", "Back": "4"}),
            card(
                "Basic", {"Front": "Largest desert?", "Back": "Antarctica"}, card_id=1566052191740
            ),
        ],
    ),
    "question_answer": (
        None,
        [
            card(
                "Basic",
                {"Front": "How is this possible? #tag2", "Back": "The tags go to this card."},
                tags=("tag1", "tag2"),
                card_id=1566052191750,
            ),
            card("Basic", {"Front": "A question over\ntwo lines", "Back": "and an answer"}),
        ],
    ),
    "cloze_paragraph": (
        None,
        [
            card(
                "Cloze",
                {
                    "Text": "The {{c1::mitochondrion}} is the {{c2::powerhouse}} of the cell.",
                    "Back Extra": "",
                },
            ),
            card(
                "Cloze",
                {"Text": "An Anki {{c1::cloze}} paragraph is a Cloze note too.", "Back Extra": ""},
                card_id=1566052191760,
            ),
        ],
    ),
    "custom_style": (
        None,
        [
            card("Vocabulary", {"German": "Hund", "English": "dog"}),
            card("Vocabulary", {"German": "Katze", "English": "cat"}, card_id=1566052191770),
            card("Vocabulary", {"German": "Vogel", "English": "bird"}, tags=("animals",)),
        ],
    ),
    "card_tags": (
        None,
        [
            card(None, ("What is #meow?", "A cat's #sound."), tags=("meow", "sound")),
            card("Basic", {"Front": "Front with #blocktag", "Back": "plain"}, tags=("blocktag",)),
            card("Basic", {"Front": "inline #inlinetag", "Back": "x"}, tags=("inlinetag",)),
        ],
    ),
}


@pytest.mark.parametrize("name", sorted(EXPECTED))
def test_fixture_gives_the_expected_cards(name: str, tmp_path: Path) -> None:
    deck, expected = EXPECTED[name]
    note, diagnostics = read(name, tmp_path)
    assert [seen(c) for c in note.cards] == expected
    assert note.meta.deck == deck
    assert diagnostics == []


def test_every_fixture_is_checked() -> None:
    others = {"context", "never_silent", "heading_in_answer"}
    assert {p.stem for p in FIXTURES.glob("*.md")} == set(EXPECTED) | others


def test_question_and_answer_repeat_the_first_two_fields(tmp_path: Path) -> None:
    for name in EXPECTED:
        for c in read(name, tmp_path)[0].cards:
            if c.note_type is not None:
                texts = [text for _, text in c.fields]
                assert (c.question, c.answer) == (*texts, "", "")[:2]
                assert len(c.field_lines) == len(c.fields)
                assert 1 <= c.line <= c.answer_line <= c.end_line


def test_file_tags_and_card_kinds_of_blocks(tmp_path: Path) -> None:
    note, _ = read("blocks", tmp_path)
    assert note.meta.tags == ("biology", "cells")
    assert [c.reverse for c in note.cards] == [False, True, False, False, False, False]
    assert [c.cloze for c in note.cards] == [False, False, False, False, True, False]
    assert [c.id_line for c in note.cards] == [13, None, None, 33, None, 47]


def test_per_card_tags_stay_in_the_text_and_leave_the_note(tmp_path: Path) -> None:
    note, _ = read("card_tags", tmp_path)
    assert note.inline_tags == ("everywhere",)
    default, _ = parse_note((FIXTURES / "card_tags.md").read_text(), path="n.md")
    assert set(default.inline_tags) == {"everywhere", "meow", "sound", "blocktag", "inlinetag"}
    assert all(c.tags == () for c in default.cards)


def test_context_lists_the_headings_above_each_card(tmp_path: Path) -> None:
    note, diagnostics = read("context", tmp_path)
    assert diagnostics == []
    assert [c.context for c in note.cards] == [
        ("Overall point", "Subheading 2"),
        ("Overall point", "Subheading 2", "Deeper"),
        ("New top",),
    ]
    plain, _ = parse_note((FIXTURES / "context.md").read_text(), path="n.md")
    assert all(c.context == () for c in plain.cards)


def test_markers_without_a_card_are_never_silent(tmp_path: Path) -> None:
    note, diagnostics = read("never_silent", tmp_path)
    assert note.cards == ()
    assert diagnostics == [
        "never_silent.md:1: warning: block has no note type; no card",
        "never_silent.md:4: warning: block of type 'Basic' has no fields; no card",
        "never_silent.md:8: warning: STARTI with no ENDI on its line "
        "(an inline note fits on one line)",
        "never_silent.md:10: warning: inline note has no [note type] after STARTI; no card",
        "never_silent.md:12: warning: END with no START above it",
        "never_silent.md:14: error: START with no END after it",
    ]


def test_a_regex_match_without_a_card_is_never_silent() -> None:
    options = ParseOptions(curly_cloze=True, styles=(_style("clozes", r"^Cloze: (.+)", "Cloze"),))
    text = "Cloze: has no deletion\nCloze: has {one}\n"
    note, diagnostics = parse_note(text, path="n.md", options=options)
    assert [c.question for c in note.cards] == ["has {{c1::one}}"]
    assert [str(d) for d in diagnostics] == [
        "n.md:1: warning: 'clozes' matched here but the Cloze note has no cloze; no card"
    ]


def _style(name: str, regex: str, note_type: str) -> NoteStyle:
    return make_style(name, regex, note_type)


def test_a_heading_under_the_answer_runs_to_the_id(tmp_path: Path) -> None:
    note, diagnostics = read("heading_in_answer", tmp_path)
    first = note.cards[0]
    assert first.card_id == 1566052191780
    assert first.answer == (
        "That the sum converges.\n### Proof\nBy comparison with a geometric series."
    )
    assert diagnostics == [
        "heading_in_answer.md:10: error: this heading ends the card at line 7 before its ID "
        "at line 12 (a heading after a blank line ends an answer: remove the blank line above "
        "the heading, or move the ID above it)"
    ]


def test_a_heading_after_a_blank_line_still_ends_a_card_without_id() -> None:
    text = "Q: a\nA: b\n\n## Next\nPara {{c1::x}}\n<!--ID: 1700000000001-->\n"
    note, diagnostics = parse_note(text, path="n.md")
    assert [(c.question, c.card_id) for c in note.cards] == [
        ("a", None),
        ("Para {{c1::x}}", 1700000000001),
    ]
    assert diagnostics == []


def test_comment_lines_make_no_cards_in_a_cloze_file() -> None:
    """The issue's case: a commented-out copy above each block gave 13 notes for 7."""
    blocks = [
        f"<!-- - This is a {{{{c1::cloze}}}} number {n} -->\nSTART\nCloze\n"
        f"Cloze number {{{{c1::{n}}}}}\nEND\n"
        for n in range(7)
    ]
    note, diagnostics = parse_note("\n".join(blocks), path="n.md")
    assert len(note.cards) == 7 and diagnostics == []
    assert all(c.note_type == "Cloze" for c in note.cards)


def test_unclosed_comment_hides_the_rest_with_a_warning() -> None:
    note, diagnostics = parse_note("Q: a\nA: b\n\n<!-- open\nQ: c\nA: d\n", path="n.md")
    assert [c.question for c in note.cards] == ["a"]
    assert [str(d) for d in diagnostics] == [
        "n.md:4: warning: comment '<!--' is never closed: the rest of the note is hidden"
    ]


def test_find_comments_blanks_comments_but_not_ids_or_code() -> None:
    lines = [
        "a <!-- x --> b %%y%% c",
        "<!--ID: 1700000000001-->",
        "`<!--` and %% open",
        "still hidden %%",
        "shown",
    ]
    found = find_comments(lines)
    assert found.bare[0] == "a            b       c"
    assert found.bare[1] == lines[1]
    assert found.bare[2] == "`<!--` and " + " " * len("%% open")
    assert found.only == {3}


# --- CurlyCloze -------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("{a} {3:b} {c}", "{{c1::a}} {{c3::b}} {{c2::c}}"),
        ("{2|x} {c1:y} {c1|z}", "{{c2::x}} {{c1::y}} {{c1::z}}"),
        (r"$\frac{a}{b}$ and {x}", r"$\frac{a}{b}$ and {{c1::x}}"),
        (r"$$e^{x^{2}}$$ \(\{a\}\) \[{b}\]", r"$$e^{x^{2}}$$ \(\{a\}\) \[{b}\]"),
        ("`{code}` and\n```\n{fenced}\n```", "`{code}` and\n```\n{fenced}\n```"),
        ("{{c1::kept}} {{c2::a {b} c}}", "{{c1::kept}} {{c2::a {b} c}}"),
        ("{over\na line}", "{{c1::over\na line}}"),
        ("{not\n\nacross paragraphs}", "{not\n\nacross paragraphs}"),
        (r"\{escaped\}", r"\{escaped\}"),
    ],
)
def test_curly_clozes(text: str, expected: str) -> None:
    assert curly_to_clozes(text) == expected


# --- IDs written into inline notes ------------------------------------------------------------


def test_inline_ids_go_before_endi_and_nothing_else_changes() -> None:
    text = "- STARTI [Basic] a Back: b ENDI tail\r\nSTARTI [Basic] c Back: dENDI\r\n"
    out = insert_ids(text, {1: 1700000000001, 2: 1700000000002})
    assert out == (
        "- STARTI [Basic] a Back: b <!--ID: 1700000000001--> ENDI tail\r\n"
        "STARTI [Basic] c Back: d <!--ID: 1700000000002--> ENDI\r\n"
    )


def test_several_inline_notes_on_a_line_get_one_id_each() -> None:
    text = (
        "STARTI [Basic] a Back: b ENDI, STARTI [Basic] c Back: d <!--ID: 1700000000009--> ENDI, "
        "STARTI [Basic] e Back: f ENDI\n"
    )
    note, _ = parse_note(text, path="n.md")
    fresh = iter(range(1700000000001, 1700000000100))
    assigned = assign_ids(note.cards, fresh)
    assert assigned == {1: (1700000000001, 1700000000002)}
    checked = insert_ids_checked(text, note, assigned, reparse)
    assert checked is not None
    new_text, new_note = checked
    assert [c.card_id for c in new_note.cards] == [1700000000001, 1700000000009, 1700000000002]
    assert (
        new_text.replace("<!--ID: 1700000000001--> ", "").replace("<!--ID: 1700000000002--> ", "")
        == text
    )


def test_one_id_for_two_inline_notes_is_refused() -> None:
    text = "STARTI [Basic] a Back: b ENDI STARTI [Basic] c Back: d ENDI\n"
    note, _ = parse_note(text, path="n.md")
    assert insert_ids_checked(text, note, {1: 1700000000001}, reparse) is None


def reparse(text: str) -> tuple[Note, list[Any]]:
    note, diagnostics = parse_note(text, path="n.md")
    return note, list(diagnostics)


def test_commented_or_coded_inline_note_takes_no_id() -> None:
    text = "A {{c1::cloze}} with `STARTI [Basic] x ENDI` in code <!-- STARTI [B] y ENDI -->\n"
    note, _ = parse_note(text, path="n.md")
    assert [c.note_type for c in note.cards] == [None]
    out = insert_ids(text, {1: 1700000000001})
    assert out == text + "<!--ID: 1700000000001-->\n"


def test_plain_id_digits_must_be_ascii() -> None:
    note, diagnostics = parse_note("Q: a\nA: b\nID: \u0661\u0662\n", path="n.md")
    assert note.cards[0].card_id is None
    assert [str(d) for d in diagnostics] == ["n.md:3: error: malformed card ID: ID: \u0661\u0662"]


def test_plain_id_in_prose_is_text_but_an_orphan_id_comment_is_an_error() -> None:
    _, diagnostics = parse_note("Some prose.\nID: 1700000000001\n", path="n.md")
    assert diagnostics == []
    _, diagnostics = parse_note("Some prose.\n<!--ID: 1700000000001-->\n", path="n.md")
    assert [str(d) for d in diagnostics] == ["n.md:2: error: ID comment with no card above it"]


# --- configuration ----------------------------------------------------------------------------


def write_config(tmp_path: Path, text: str) -> Path:
    (tmp_path / "paperdeck.toml").write_text(text, encoding="utf-8")
    return tmp_path


@pytest.mark.parametrize(
    ("toml", "message"),
    [
        ('styles = ["remnote", "nope"]', "'styles': unknown style 'nope'"),
        ("styles = 3", "'styles' must be a list of style names"),
        (
            '[[custom_styles]]\nregex = "("\nnote_type = "Basic"',
            "'custom_styles' entry 1: invalid regex: missing ), unterminated subpattern",
        ),
        (
            '[[custom_styles]]\nname = "evil"\nregex = "(a+)+b"\nnote_type = "Basic"',
            "'custom_styles' entry 1 ('evil'): regex may take exponential time",
        ),
        (
            "[[custom_styles]]\nregex = 'x*(y*)'\nnote_type = \"Basic\"",
            "regex matches empty text",
        ),
        (
            "[[custom_styles]]\nregex = 'Q=(.+)'\nnote_type = \"Mine\"",
            "the fields of note type 'Mine' are not known: give 'fields'",
        ),
        (
            "[[custom_styles]]\nregex = '(a)(b)(c)'\nnote_type = \"Basic\"",
            "regex has 3 groups but 'Basic' has 2 fields",
        ),
        ("[[custom_styles]]\nregex = 'no group'\nnote_type = \"Basic\"", "has no capture group"),
        ("[[custom_styles]]\nregex = '(x)'", "'note_type' is missing"),
        ("[[custom_styles]]\nregex = '(x)'\nnote_type = 'Basic'\ncolour = 1", "unknown key"),
        ('folder_decks = { "/abs" = "X" }', "'folder_decks': '/abs' must be a folder inside"),
        ('folder_decks = { "a/../b" = "X" }', "must be a folder inside the vault"),
        ('folder_decks = { "a" = "X::" }', "the deck of 'a' must be a name like 'A::B'"),
        ('folder_tags = { "a" = ["b c"] }', "the tags of 'a' must be words without spaces"),
        ('folder_tags = { "a" = 3 }', "the tags of 'a' must be a list of tags"),
        ('note_fields = { "X" = [] }', "'note_fields'.'X' must be a non-empty list"),
        ('note_fields = { "X" = ["a", "a"] }', "names must be non-empty and different"),
        ("curly_cloze = 1", "'curly_cloze' must be true or false"),
    ],
)
def test_bad_configuration_is_a_clean_error_naming_the_key(
    tmp_path: Path, toml: str, message: str
) -> None:
    with pytest.raises(PaperdeckError, match=None) as caught:
        load_config(write_config(tmp_path, toml))
    assert message in str(caught.value)
    assert str(tmp_path / "paperdeck.toml") in str(caught.value)


def test_configuration_of_styles_folders_and_options(tmp_path: Path) -> None:
    config = load_config(
        write_config(
            tmp_path,
            'styles = ["question-answer", "remnote", "table"]\n'
            "curly_cloze = true\ncard_tags = true\nadd_context = true\n"
            'note_fields = { "Vocabulary" = ["German", "English"] }\n'
            'folder_decks = { "Languages/German/" = "Languages::German" }\n'
            'folder_tags = { "Languages" = ["lang", "#vocab"], "Languages/German" = "de" }\n'
            "[[custom_styles]]\nregex = '^(.+) => (.+)'\nnote_type = \"Vocabulary\"\n",
        )
    )
    assert config.folder_decks == {"Languages/German": "Languages::German"}
    assert config.folder_tags == {"Languages": ("lang", "vocab"), "Languages/German": ("de",)}
    options = config.parse_options()
    assert options.qa_basic and not options.cloze_paragraph
    assert options.curly_cloze and options.card_tags and options.add_context
    assert [s.name for s in options.styles] == ["remnote", "table", "custom_styles[1]"]
    assert options.styles[-1].fields == ("German", "English")
    assert options.cache_key() != config.with_overrides(card_tags=False).parse_options().cache_key()


def test_presets_are_safe_and_documented_names() -> None:
    assert set(PRESETS) == {
        "question-answer",
        "cloze-paragraph",
        "remnote",
        "header-paragraph",
        "subheader-paragraph",
        "neuracache",
        "ruled",
        "table",
    }
    for spec in PRESETS.values():
        assert spec is None or exponential_risk(spec[0]) is None


@pytest.mark.parametrize(
    ("regex", "risky"),
    [
        (r"(a+)+b", True),
        (r"(\w+\s?)+$", True),
        (r"(.*)*x", True),
        (r"(?s:(?:.+\n)*)", True),
        (r"(?:.+\n)*", False),
        (r"(\w+\s)+", False),
        (r"((?:[^\n][\n]?)+)", False),
    ],
)
def test_exponential_regexes_are_spotted(regex: str, risky: bool) -> None:
    assert (exponential_risk(regex) is not None) == risky


def test_zero_width_matches_make_no_cards() -> None:
    options = ParseOptions(styles=(_style("after-a", r"(?<=a)(b*)", "Basic"),))
    note, diagnostics = parse_note("ab\na\n", path="n.md", options=options)
    assert [(c.question, c.line) for c in note.cards] == [("b", 1)]
    assert diagnostics == []


# --- the real CLI -----------------------------------------------------------------------------


def test_check_and_build_agree_and_ids_are_written(empty_vault: Path) -> None:
    shutil.copy(FIXTURES / "ids_and_delete.md", empty_vault)
    shutil.copy(FIXTURES / "comments.md", empty_vault)
    (empty_vault / "inline.md").write_text(
        "TARGET DECK: Inline\n\n"
        "- STARTI [Basic] What is the capital of Peru? Back: Lima ENDI\n"
        "STARTI [Basic (and reversed card)] Hund Back: dog Tags: de "
        "<!--ID: 1566052191680--> ENDI\n",
        encoding="utf-8",
    )
    before = {p.name: p.read_text() for p in empty_vault.glob("*.md")}
    check = cli_ok("check", str(empty_vault))
    assert "13 cards in 3 notes" in check.output
    build = cli_ok("build", str(empty_vault))
    warnings = [line for line in check.output.splitlines() if ": warning: " in line]
    assert warnings == [line for line in build.output.splitlines() if ": warning: " in line]

    inline = (empty_vault / "inline.md").read_text()
    assert inline.startswith("TARGET DECK: Inline\n\n- STARTI [Basic] What is the capital of Peru?")
    written = next(line for line in inline.splitlines() if "Peru" in line)
    assert written.startswith("- STARTI [Basic] What is the capital of Peru? Back: Lima <!--ID: ")
    assert written.endswith("--> ENDI")
    assert (empty_vault / "ids_and_delete.md").read_text() == before["ids_and_delete.md"]
    comments = (empty_vault / "comments.md").read_text()
    assert comments.count("<!--ID: ") == 4  # the four cards; no comment got one
    again = cli_ok("check", str(empty_vault))
    assert "[no ID yet]" not in again.output


def test_heading_error_fails_check_and_build_alike(empty_vault: Path) -> None:
    shutil.copy(FIXTURES / "heading_in_answer.md", empty_vault)
    message = "notes/heading_in_answer.md:10: error: this heading ends the card at line 7"
    for command in ("check", "build"):
        result = cli(command, str(empty_vault))
        assert result.exit_code == 1 and message in result.output


# --- any mix of the syntax --------------------------------------------------------------------

PIECES = [
    *("START\n", "END\n", "Basic\n", "Cloze\n", "Vocab\n", "Front: ", "Back: ", "Text: "),
    *("Tags: t\n", "STARTI [Basic] ", "STARTI ", " ENDI", "[Cloze] ", "DELETE\n"),
    *("ID: 1700000000001\n", "<!--ID: 1700000000002-->\n", "FROZEN - Basic:\n"),
    *("TARGET DECK: D\n", "a::b", "---\n", "| x |\n|---|\n| y |\n", "# H\n", "## H2\n"),
    *("{c}", "{2:d}", "{{c1::e}}", "$\\frac{a}{b}$", " #flashcard", "Q: ", "A: ", "text "),
    *("\n", "\n\n", "\r\n", "`", "```\n", "==h=="),
]
COMMENTS = ["<!-- ", " -->", "%%"]


def all_on(style: str) -> ParseOptions:
    on = {"curly_cloze": True, "card_tags": True, "add_context": True, "highlight_cloze": True}
    return Config(styles=(style,), **on).parse_options()


OPTIONS = {style: all_on(style) for style in PRESETS}


@settings(max_examples=300, deadline=None)
@given(st.lists(st.sampled_from([*PIECES, *COMMENTS]), max_size=40), st.sampled_from(list(PRESETS)))
def test_any_mix_parses_with_lines_in_range(pieces: list[str], style: str) -> None:
    text = "".join(pieces)
    note, diagnostics = parse_note(text, path="f.md", options=OPTIONS[style])
    lines = max(1, len(split_lines(text)))
    assert all(0 <= d.line <= lines for d in diagnostics)
    for c in note.cards:
        assert 1 <= c.line <= c.answer_line <= c.end_line <= lines
        assert len(c.field_lines) == len(c.fields)


@settings(max_examples=300, deadline=None)
@given(st.lists(st.sampled_from(PIECES), max_size=40), st.sampled_from(sorted(PRESETS)))
def test_any_mix_without_errors_takes_its_ids(pieces: list[str], style: str) -> None:
    """Every card without an ID gets one, where the plugin would write it, and the note
    reads back to the same cards (the write-back check never has to refuse)."""
    text = "".join(pieces)

    def parse(new: str) -> tuple[Note, list[Any]]:
        note, diagnostics = parse_note(new, path="f.md", options=OPTIONS[style])
        return note, list(diagnostics)

    note, diagnostics = parse(text)
    ids = [c.card_id for c in note.cards if c.card_id is not None]
    if has_errors(diagnostics) or len(ids) != len(set(ids)):
        return
    assigned = assign_ids(note.cards, iter(range(1800000000000, 1800000001000)))
    checked = insert_ids_checked(text, note, assigned, parse)
    assert checked is not None
    assert all(c.card_id is not None for c in checked[1].cards)
