"""Golden tests for the parser: each ``fixtures/parse/X.md`` has its parse in ``X.json``.

Regenerate after an intended change with ``PAPERDECK_UPDATE_GOLDEN=1 pytest tests/test_parse.py``
and review the diff.
"""

from __future__ import annotations

import dataclasses
import json
import os
from pathlib import Path
from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from paperdeck.cards.render import render_field
from paperdeck.notes.parse import parse_note, split_lines
from paperdeck.notes.vault import decode_note

FIXTURES = Path(__file__).parent / "fixtures" / "parse"
CASES = sorted(FIXTURES.glob("*.md"))


def snapshot(path: Path) -> dict[str, Any]:
    text, problem = decode_note(path.read_bytes(), path.name)
    assert text is not None, problem
    note, diagnostics = parse_note(text, path=path.name)
    data = dataclasses.asdict(note)
    data["diagnostics"] = [str(d) for d in diagnostics]
    return json.loads(json.dumps(data))  # tuples become lists, as in the golden files


@pytest.mark.parametrize("case", CASES, ids=[c.stem for c in CASES])
def test_parse_matches_golden(case: Path) -> None:
    golden = case.with_suffix(".json")
    got = snapshot(case)
    expected = json.loads(golden.read_text(encoding="utf-8")) if golden.exists() else None
    if os.environ.get("PAPERDECK_UPDATE_GOLDEN") and got != expected:
        golden.write_text(json.dumps(got, indent=2, ensure_ascii=False) + "\n", encoding="utf-8")
        pytest.fail(f"{golden.name} rewritten: review `git diff {golden}`, then run again")
    assert got == expected


def test_seed_note_has_five_cards_with_ids_and_exact_math() -> None:
    data = snapshot(FIXTURES / "seed.md")
    cards = data["cards"]
    assert [c["card_id"] for c in cards] == [
        1683650871138,
        1683650871147,
        1683650871150,
        1683650871153,
        1683650871155,
    ]
    assert (
        r"$$z = \text{one\_hot}\left(\text{argmax}_i [g_i + \log \pi_i])\right)$$"
        in (cards[0]["answer"])
    )
    assert data["meta"]["authors"] == ["Eric_Jang", "Shixiang_Gu", "Ben_Poole"]
    assert data["meta"]["tags"] == ["Google_Brain", "ICLR"]
    assert data["inline_tags"] == ["simplex", "VQ-VAE", "gumbel-softmax"]
    assert data["diagnostics"] == []


def test_line_numbers_survive_crlf_and_bom() -> None:
    cards = snapshot(FIXTURES / "crlf_bom.md")["cards"]
    assert [(c["line"], c["answer_line"], c["end_line"], c["id_line"]) for c in cards] == [
        (7, 8, 8, 9),
        (11, 12, 13, None),
    ]
    assert "\r" not in cards[1]["answer"]


def test_code_fences_hide_cards_and_math() -> None:
    data = snapshot(FIXTURES / "code_fences.md")
    assert len(data["cards"]) == 1
    assert 'print("$x$")' in data["cards"][0]["answer"]
    assert data["diagnostics"] == []


def test_every_problem_has_its_line() -> None:
    diagnostics = snapshot(FIXTURES / "errors.md")["diagnostics"]
    assert diagnostics == [
        "errors.md:3: error: 'Q:' with no 'A:' after it",
        "errors.md:7: error: malformed card ID: <!--ID: abc-->",
        "errors.md:9: error: ID comment with no card above it",
        "errors.md:11: error: 'A:' with no 'Q:' above it",
        "errors.md:14: error: unclosed '$$' display math",
        "errors.md:19: error: malformed card ID: <!--ID: 99999999999999999999-->",
    ]


PIECES = [
    "Q: ",
    "A: ",
    "$",
    "$$",
    "```",
    "~~~",
    "---",
    "<!--ID: 1700000000001-->",
    "<!--ID: x-->",
    "#tag",
    "# Head",
    "{{c1::",
    "}}",
    "==",
    "START",
    "END",
    "Basic",
    "Cloze",
    "Front: ",
    "Back: ",
    "TARGET DECK",
    "FILE TAGS",
    "Title: t",
    "![[a.png]]",
    "[[b]]",
    "    ",
    "\t",
    "text",
    "é",
    "\ufeff",
    "\n",
    "\r\n",
    "\r",
    "\n\n",
    "%%",
    "`",
]


@settings(max_examples=400, deadline=None)
@given(st.lists(st.sampled_from(PIECES), max_size=60), st.booleans())
def test_any_text_parses_without_raising(pieces: list[str], highlight: bool) -> None:
    text = "".join(pieces)
    note, diagnostics = parse_note(text, path="f.md", highlight_cloze=highlight)
    lines = max(1, len(split_lines(text)))
    assert all(0 <= d.line <= lines for d in diagnostics)
    for card in note.cards:
        assert 1 <= card.line <= card.answer_line <= card.end_line <= lines
        for field in (card.question, card.answer):
            html = render_field(field, cloze=card.cloze)
            assert "<script" not in html and "\x00" not in html
            # Every dollar-math span of the card reaches Anki as MathJax, never as raw text
            # a later field could unbalance: the rendered delimiters pair up.
            assert html.count("\\(") == html.count("\\)")
            assert html.count("\\[") == html.count("\\]")


# -- front matter: every key and the forms YAML gives it ------------------------------------


def _meta(front_matter: str) -> tuple[Any, list[str]]:
    note, diagnostics = parse_note(f"---\n{front_matter}---\n\nQ: q\nA: a\n", path="f.md")
    return note.meta, [str(d) for d in diagnostics]


@pytest.mark.parametrize(
    ("front_matter", "expected"),
    [
        ("title: '  Concrete  '\n", {"title": "Concrete"}),
        ("title: '   '\n", {"title": None}),
        ("year: 2017\n", {"year": "2017"}),
        ("url: https://arxiv.org/abs/1611.01144\n", {"link": "https://arxiv.org/abs/1611.01144"}),
        ("link: a\nurl: b\n", {"link": "a"}),
        ("deck: Papers::ML\n", {"deck": "Papers::ML"}),
        ("reverse: true\n", {"reverse": True}),
        ("reverse: 'yes'\n", {"reverse": False}),
        ("tag: single\n", {"tags": ("single",)}),
        ("tags: [a, b]\ntag: c\n", {"tags": ("a", "b")}),
        ("author: Eric Jang\n", {"authors": ("Eric Jang",)}),
        ("authors: Eric Jang, Ben Poole\n", {"authors": ("Eric Jang", "Ben Poole")}),
        ("authors: '#Eric_Jang #Ben_Poole'\n", {"authors": ("Eric_Jang", "Ben_Poole")}),
        (
            "authors: [' Eric Jang ', '#Ben_Poole', null, '']\n",
            {"authors": ("Eric Jang", "Ben_Poole")},
        ),
        ("authors: 42\n", {"authors": ("42",)}),
        ("Title: Upper\nAUTHORS: [X]\n", {"title": "Upper", "authors": ("X",)}),
    ],
)
def test_front_matter_keys(front_matter: str, expected: dict[str, Any]) -> None:
    meta, diagnostics = _meta(front_matter)
    assert diagnostics == []
    for key, value in expected.items():
        assert getattr(meta, key) == value, key


def test_front_matter_tags_of_the_wrong_type_are_an_error_at_line_1() -> None:
    meta, diagnostics = _meta("tags: 5\n")
    assert diagnostics == ["f.md:1: error: front matter 'tags' must be a list"]
    assert meta.tags == ()


def test_an_a_marker_after_a_blank_line_ends_a_card_that_has_no_id() -> None:
    note, diagnostics = parse_note(
        "Q: q1\nA: a1\n\nA: stray\n<!--ID: 1700000000001-->\n", path="n.md"
    )
    assert [(c.answer, c.card_id) for c in note.cards] == [("a1", None)]
    assert [str(d) for d in diagnostics] == [
        "n.md:4: error: 'A:' with no 'Q:' above it",
        "n.md:5: error: ID comment with no card above it",
    ]


def test_header_authors_without_hashes_are_split_on_commas_semicolons_and_and() -> None:
    note, diagnostics = parse_note(
        "Authors: Eric  Jang, Ben Poole and Shixiang Gu; Chris J. Maddison\n\nQ: q\nA: a\n",
        path="n.md",
    )
    assert diagnostics == []
    assert note.meta.authors == ("Eric_Jang", "Ben_Poole", "Shixiang_Gu", "Chris_J._Maddison")


def test_front_matter_errors_name_their_line() -> None:
    _, broken = parse_note("---\ntitle: a\nbad: [unclosed\n---\nQ: q\nA: a\n", path="n.md")
    assert [str(d) for d in broken] == [
        "n.md:3: error: invalid front matter: expected ',' or ']', but got '<stream end>'"
    ]
    _, listed = parse_note("---\n- a list\n---\nQ: q\nA: a\n", path="n.md")
    assert [str(d) for d in listed] == ["n.md:1: error: front matter must be a mapping of keys"]
