"""How cards look reaches Anki: templates, CSS and the LaTeX Anki's MathJax is given.

A new paperdeck's CSS or templates must reach a collection that already has the note types
(Anki keeps its own copy unless the incoming one is newer), through a rebuilt deck and
through ``sync``; and what the card says must not depend on MathJax extensions that Anki
leaves off.
"""

from __future__ import annotations

import os
import re
import struct
import time
import zlib
from pathlib import Path
from typing import Any

import pytest
from hypothesis import given
from hypothesis import strategies as st

from paperdeck.anki import note_types
from paperdeck.anki.note_types import BASIC_MODEL_ID, CLOZE_MODEL_ID, REVERSED_MODEL_ID
from paperdeck.cards.render import render_field
from paperdeck.cards.tex import TEXT_COMMANDS, escapes_out_of_text
from paperdeck.figures.display import CSS_WIDTH_KEY, MIN_TEXT_KEY
from paperdeck.notes.state import CardState, format_state, parse_state

from conftest import cli_ok as ok
from conftest import import_apkg, opened

# -- \text{} escapes --------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("tex", "expected"),
    [
        (r"z = \text{one\_hot}(y)", r"z = \text{one}\_\text{hot}(y)"),
        (r"\text{50\% of } n", r"\text{50}\%\text{ of } n"),
        (r"\textbf{A\&B}", r"\textbf{A}\&\textbf{B}"),
        (r"\mbox {\{x\}}", r"\{\mbox{x}\}"),
        (r"\text{\#1}", r"\#\text{1}"),
        (r"a\_b + \text{plain}", r"a\_b + \text{plain}"),  # outside \text: untouched
        (r"\text{a \\ b}", r"\text{a \\ b}"),  # a line break is no escape
        (r"\text{if $x\_1$}", r"\text{if $x\_1$}"),  # math inside text: left alone
        (r"\text{a {b\_c}}", r"\text{a {b\_c}}"),  # escape in an inner group: left alone
        (r"\text{open\_", r"\text{open\_"),  # unclosed: MathJax reports it
        (r"\textit{x}\text{y\_z}", r"\textit{x}\text{y}\_\text{z}"),
    ],
)
def test_escapes_leave_text_boxes(tex: str, expected: str) -> None:
    assert escapes_out_of_text(tex) == expected


_TEXT_BODY_RE = re.compile(r"\\(?:" + "|".join(TEXT_COMMANDS) + r")\{([^{}$]*)\}")


@given(
    st.lists(
        st.one_of(
            st.sampled_from([r"\_", r"\%", r"\&", r"\#", r"\{", r"\}", " ", "x", "1"]),
            st.text(alphabet="abc _-", max_size=3),
        ),
        max_size=8,
    ),
    st.sampled_from(TEXT_COMMANDS),
)
def test_no_text_box_keeps_an_escape(pieces: list[str], command: str) -> None:
    body = "".join(pieces)
    out = escapes_out_of_text(rf"a + \{command}{{{body}}} = b")
    assert out.startswith("a + ") and out.endswith(" = b")
    for inner in _TEXT_BODY_RE.findall(out):
        assert "\\" not in inner, out
    # What the text said is all still there, in order, escapes included.
    assert _TEXT_BODY_RE.sub(r"\1", out[4:-4]) == body


def test_card_math_has_no_escape_inside_text() -> None:
    html = render_field(r"$$z = \text{one\_hot}(\arg\max_i [g_i + \log \pi_i])$$")
    assert r"\text{one}\_\text{hot}" in html
    assert r"one\_hot" not in html


def test_display_math_in_a_paragraph_has_no_line_break_beside_it() -> None:
    html = render_field("The sample is\n$$z = x$$\nwhere x is\nan input.")
    assert html == "<p>The sample is\n\\[z = x\\]\nwhere x is<br />\nan input.</p>"


# -- templates --------------------------------------------------------------------------------


def test_reverse_card_asks_a_question_and_cloze_text_is_not_bold(
    empty_vault: Path, col_path: Path
) -> None:
    (empty_vault / "r.md").write_text(
        "---\nreverse: true\n---\n\nQ: Forward?\nA: Backward.\n\nThe ==Gumbel== trick.\n",
        encoding="utf-8",
    )
    (empty_vault / "paperdeck.toml").write_text("highlight_cloze = true\n", encoding="utf-8")
    ok("sync", str(empty_vault), "--collection", str(col_path))
    with opened(col_path) as col:
        cards = [col.get_card(c) for c in col.find_cards("")]
        by_kind = {(c.note().mid, c.ord): c for c in cards}
        forward = by_kind[(REVERSED_MODEL_ID, 0)]
        backward = by_kind[(REVERSED_MODEL_ID, 1)]
        cloze = by_kind[(CLOZE_MODEL_ID, 0)]
        assert "Which question has this answer?" in backward.question()
        assert "Backward." in backward.question()
        assert "Which question" not in forward.question()
        assert 'class="cloze-text"' in cloze.question()
        assert 'class="question"' not in cloze.question()
        assert re.search(r'class="cloze"[^>]*>Gumbel<', cloze.answer())


# -- note types reach a collection that has older ones ----------------------------------------

NOTE = "Q: What is $\\tau$?\nA: The temperature.\n<!--ID: 1700000000001-->\n"


def _model(col_path: Path, model_id: int = BASIC_MODEL_ID) -> dict[str, Any]:
    with opened(col_path) as col:
        return dict(col.models.get(model_id))


def _restyle(col_path: Path, css: str, *, age: int = 0) -> None:
    """Change the collection's Q/A type, as its user might in Anki; ``age`` seconds back
    makes it look like an older paperdeck's type, imported a while ago (Anki stamps a
    note type with the time of the import that brought it)."""
    with opened(col_path) as col:
        model = col.models.get(BASIC_MODEL_ID)
        model["css"] = css
        model["tmpls"][0]["qfmt"] = "{{Question}}"
        col.models.update_dict(model)
        col.db.execute("update notetypes set mtime_secs = mtime_secs - ?", age)


def test_rebuilt_deck_brings_new_css_and_templates_into_anki(
    empty_vault: Path, col_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    note = empty_vault / "n.md"
    note.write_text(NOTE, encoding="utf-8")
    two_days_ago = time.time() - 2 * 86400
    os.utime(note, (two_days_ago, two_days_ago))  # a note not edited for a while
    apkg = Path("cards") / f"{empty_vault.name}.apkg"
    ok("build", str(empty_vault))
    ok("import", str(apkg), "--collection", str(col_path))
    built = _model(col_path)

    # Styled by its user in Anki since: rebuilding changes nothing (the same bytes), and
    # importing again does not undo it.
    _restyle(col_path, ".card { color: red; }")
    first = apkg.read_bytes()
    ok("build", str(empty_vault))
    assert apkg.read_bytes() == first
    ok("import", str(apkg), "--collection", str(col_path))
    assert _model(col_path)["css"] == ".card { color: red; }"

    # An older paperdeck's type, then a newer paperdeck with other CSS: the rebuilt deck
    # carries the new CSS and templates into the collection.
    _restyle(col_path, ".card { color: blue; }", age=3600)
    new_css = note_types.card_css() + "\n.question { letter-spacing: 0.01em; }\n"
    monkeypatch.setattr(note_types, "card_css", lambda: new_css)
    ok("build", str(empty_vault))
    assert apkg.read_bytes() != first
    ok("import", str(apkg), "--collection", str(col_path))
    model = _model(col_path)
    assert model["css"] == new_css
    assert model["tmpls"][0]["qfmt"] == built["tmpls"][0]["qfmt"]

    # And the next build keeps that time: the same bytes again.
    again = apkg.read_bytes()
    ok("build", str(empty_vault))
    assert apkg.read_bytes() == again


def test_sync_brings_note_types_up_to_date(empty_vault: Path, col_path: Path) -> None:
    (empty_vault / "n.md").write_text("Q: What is $\\tau$?\nA: The temperature.\n", "utf-8")
    ok("sync", str(empty_vault), "--collection", str(col_path))
    built = _model(col_path)
    _restyle(col_path, ".card { color: red; }", age=3600)

    planned = ok("sync", str(empty_vault), "--collection", str(col_path), "--dry-run")
    assert "update the templates and styling of note type 'paperdeck Q/A'" in planned.output
    assert _model(col_path)["css"] == ".card { color: red; }"

    done = ok("sync", str(empty_vault), "--collection", str(col_path))
    assert "updated the templates and styling of note type 'paperdeck Q/A'" in done.output
    model = _model(col_path)
    assert (model["css"], model["tmpls"]) == (built["css"], built["tmpls"])
    assert "styling" not in ok("sync", str(empty_vault), "--collection", str(col_path)).output
    with opened(col_path) as col:
        assert col.models.get(REVERSED_MODEL_ID) is None  # only types in use are touched


def test_note_type_records_round_trip_and_merge() -> None:
    state = CardState()
    state.record_type(BASIC_MODEL_ID, "0123456789abcdef", 1_700_000_000)
    text = format_state(state)
    assert f"{BASIC_MODEL_ID}\ttype\t0123456789abcdef\t1700000000\n" in text
    assert parse_state(text).types == state.types
    merged = parse_state(text + f"{BASIC_MODEL_ID}\ttype\tfedcba9876543210\t1700000500\n")
    assert merged.types[BASIC_MODEL_ID].digest == "fedcba9876543210"  # the newer one wins
    assert merged.changed


# -- generated figures are shown at the width they were drawn for -----------------------------


def _png(path: Path, width: int, height: int, texts: dict[str, str]) -> None:
    """A real (tiny-content) PNG with ``tEXt`` chunks, as paperdeck's figures carry."""

    def chunk(kind: bytes, data: bytes) -> bytes:
        body = kind + data
        return struct.pack(">I", len(data)) + body + struct.pack(">I", zlib.crc32(body))

    rows = b"".join(b"\0" + b"\xff" * (3 * width) for _ in range(height))
    path.write_bytes(
        b"\x89PNG\r\n\x1a\n"
        + chunk(b"IHDR", struct.pack(">IIBBBBB", width, height, 8, 2, 0, 0, 0))
        + b"".join(chunk(b"tEXt", f"{k}\0{v}".encode("latin-1")) for k, v in texts.items())
        + chunk(b"IDAT", zlib.compress(rows))
        + chunk(b"IEND", b"")
    )


def test_a_figure_is_shown_at_its_drawn_width_unless_the_note_asks(
    empty_vault: Path, collection: Any
) -> None:
    _png(empty_vault / "fig.png", 1200, 800, {CSS_WIDTH_KEY: "600", MIN_TEXT_KEY: "24"})
    _png(empty_vault / "photo.png", 1200, 800, {})
    (empty_vault / "n.md").write_text(
        "Q: Drawn?\nA: ![[fig.png]] ![[fig.png|300]] ![f](fig.png) ![[photo.png]]\n"
        "<!--ID: 1700000000001-->\n",
        encoding="utf-8",
    )
    ok("build", str(empty_vault))
    import_apkg(collection, Path("cards") / f"{empty_vault.name}.apkg")
    answer = collection.get_note(1700000000001)["Answer"]
    images = re.sub(r"(fig|photo)-[0-9a-f]{10}\.png", r"\1.png", answer)  # content-named
    assert re.findall(r"<img [^>]*>", images) == [
        '<img src="fig.png" alt="fig.png" width="600">',
        '<img src="fig.png" alt="fig.png" width="300">',
        '<img src="fig.png" alt="f" width="600">',
        '<img src="photo.png" alt="photo.png">',
    ]
