"""Fenced code is highlighted with Pygments classes that read in light and night mode."""

from __future__ import annotations

import html
import re
from importlib.resources import files
from pathlib import Path
from typing import Any

import pytest
from click.testing import CliRunner
from markdown_it import MarkdownIt
from pygments.token import STANDARD_TYPES

from paperdeck.anki.note_types import card_css
from paperdeck.cards.render import render_field
from paperdeck.cards.sanitize import sanitize
from paperdeck.cli import main

from conftest import import_apkg

PYTHON = '''

@cache
def f(x: int = 0x1F) -> str:
\t"""Tabs, <tags> & 'quotes' stay."""
    return f"{x!r}" if x else None  # a comment

'''


def fence(language: str, code: str) -> str:
    return f"```{language}\n{code}```"


def visible_text(block: str) -> str:
    return html.unescape(re.sub(r"<[^>]*>", "", block))


def span_classes(block: str) -> set[str]:
    return set(re.findall(r'<span class="([^"]*)"', block))


def test_python_is_highlighted_with_prefixed_classes_and_no_styles() -> None:
    block = render_field(fence("python", PYTHON))

    assert block.startswith('<pre class="pd-highlight"><code class="language-python">\n\n<span ')
    assert block.endswith("</code></pre>")
    assert "style=" not in block
    classes = span_classes(block)
    assert {"pd-hl-k", "pd-hl-nf", "pd-hl-sd", "pd-hl-c1", "pd-hl-mh", "pd-hl-nd"} <= classes
    assert all(c.startswith("pd-hl-") for c in classes)
    # Every character of the code is shown, blank lines and tabs included.
    assert visible_text(block) == PYTHON


@pytest.mark.parametrize("language", ["py", "Python", "python3"])
def test_a_language_is_found_by_any_of_its_names(language: str) -> None:
    assert "pd-hl-k" in render_field(fence(language, "import os\n"))


@pytest.mark.parametrize(
    "info", ["", "nosuchlanguage", "text", "plaintext", "nosuchlanguage {.class}"]
)
def test_no_language_or_an_unknown_one_is_plain_escaped_code(info: str) -> None:
    markdown = fence(info, "if a < b: print('x & \"y\"')\n")
    # Exactly markdown-it's own rendering: no guessing at the language.
    assert render_field(markdown) == MarkdownIt("commonmark").render(markdown).strip()
    assert "pd-hl" not in render_field(markdown)


def test_figure_specs_still_render_nothing() -> None:
    spec = "```paperdeck-figure\nname: plot.png\nkind: simplex\n```"
    assert render_field(f"Before\n\n{spec}\n\nAfter") == "<p>Before</p>\n<p>After</p>"


def test_code_holding_a_cloze_is_not_split_into_tokens() -> None:
    code = fence("python", "x = '{{c1::secret}}'\n")
    assert "{{c1::secret}}" in render_field(code, cloze=True)
    assert "pd-hl" not in render_field(code, cloze=True)
    assert "pd-hl" in render_field(fence("python", "x = 1\n"), cloze=True)
    assert "pd-hl" in render_field(code)  # outside a cloze note braces are only code


def test_sanitizing_keeps_the_highlighting() -> None:
    block = render_field(fence("python", PYTHON))
    clean = sanitize(block)
    assert span_classes(clean) == span_classes(block)
    assert clean.startswith('<pre class="pd-highlight"><code class="language-python">')
    assert visible_text(clean) == PYTHON


# --- The style sheet -------------------------------------------------------------------------

CSS = files("paperdeck.cards").joinpath("highlight.css").read_text(encoding="utf-8")
CARD_CSS = files("paperdeck.cards").joinpath("card.css").read_text(encoding="utf-8")
RULE_RE = re.compile(r"([^{}]+)\{([^}]*)\}")


def rules(css: str = CSS) -> list[tuple[list[str], dict[str, str]]]:
    """Each rule's selectors and declarations, comments left out."""
    text = re.sub(r"/\*.*?\*/", "", css, flags=re.DOTALL)
    out = []
    for selectors, body in RULE_RE.findall(text):
        declarations = dict(
            (name.strip(), value.strip())
            for name, _, value in (d.partition(":") for d in body.split(";") if d.strip())
        )
        out.append(([s.strip() for s in selectors.split(",")], declarations))
    return out


def declared(css: str, selector: str, prefix: str) -> dict[str, str]:
    """The declarations whose name starts with ``prefix`` that rules for ``selector`` make."""
    found: dict[str, str] = {}
    for selectors, declarations in rules(css):
        if selector in selectors:
            found.update({k: v for k, v in declarations.items() if k.startswith(prefix)})
    return found


def palettes() -> dict[str, tuple[dict[str, str], str]]:
    """Each mode's token colours, with the background (card.css's ``<pre>`` box) and plain
    text colour (the card's) they are read against."""
    light_box = declared(CARD_CSS, "pre", "--box-bg")["--box-bg"]
    night_box = declared(CARD_CSS, ".nightMode pre", "--box-bg")["--box-bg"]
    assert declared(CARD_CSS, ".night_mode pre", "--box-bg")["--box-bg"] == night_box
    light_text = declared(CARD_CSS, ".card", "color")["color"]
    night_text = declared(CARD_CSS, ".nightMode.card", "color")["color"]
    light = declared(CSS, "pre.pd-highlight", "--pd-hl-") | {"text": light_text}
    night = declared(CSS, ".nightMode pre.pd-highlight", "--pd-hl-") | {"text": night_text}
    # Anki desktop marks night mode with .nightMode, AnkiDroid with .night_mode.
    assert declared(CSS, ".night_mode pre.pd-highlight", "--pd-hl-") | {"text": night_text} == night
    return {"light": (light, light_box), "night": (night, night_box)}


def luminance(colour: str) -> float:
    channels = [int(colour[i : i + 2], 16) / 255 for i in (1, 3, 5)]
    linear = [c / 12.92 if c <= 0.03928 else ((c + 0.055) / 1.055) ** 2.4 for c in channels]
    return 0.2126 * linear[0] + 0.7152 * linear[1] + 0.0722 * linear[2]


def contrast(a: str, b: str) -> float:
    high, low = sorted((luminance(a), luminance(b)), reverse=True)
    return (high + 0.05) / (low + 0.05)


def test_contrast_helper_matches_known_ratios() -> None:
    assert contrast("#000000", "#ffffff") == pytest.approx(21.0)
    assert contrast("#777777", "#ffffff") == pytest.approx(4.48, abs=0.01)


def test_every_colour_reads_in_light_and_night_mode() -> None:
    modes = palettes()
    (light, light_box), (night, night_box) = modes["light"], modes["night"]
    assert set(light) == set(night)
    assert len(light) >= 9
    assert contrast(light_box, night_box) > 8
    for palette, background in modes.values():
        for name, colour in palette.items():
            assert re.fullmatch(r"#[0-9a-f]{6}", colour), (name, colour)
            assert contrast(colour, background) >= 4.5, (name, colour, background)


def test_rules_use_only_defined_colours_and_real_token_classes() -> None:
    defined = set(palettes()["light"][0]) - {"text"}
    used = set(re.findall(r"var\((--pd-hl-[a-z-]+)\)", CSS))
    assert used == defined  # nothing undefined, nothing defined for no use
    real = {f"pd-hl-{c}" for c in STANDARD_TYPES.values() if c}
    classes = set(re.findall(r"\.(pd-hl-[a-z0-9]+)", CSS))
    assert classes <= real
    coloured = {
        c
        for selectors, declarations in rules()
        if "color" in declarations
        for s in selectors
        for c in re.findall(r"\.(pd-hl-[a-z0-9]+)", s)
    }
    plain = {"pd-hl-n", "pd-hl-p", "pd-hl-o", "pd-hl-w"}  # names, punctuation: text colour
    assert span_classes(render_field(fence("python", PYTHON))) - plain <= coloured


def test_the_note_types_css_carries_the_highlighting() -> None:
    css = card_css()
    card = files("paperdeck.cards").joinpath("card.css").read_text(encoding="utf-8")
    assert css.startswith(card)
    assert css.endswith(CSS)


def test_a_highlighted_card_in_real_anki(empty_vault: Path, collection: Any) -> None:
    code = fence("python", "print(1 < 2)  # yes\n")
    (empty_vault / "code.md").write_text(
        f"Q: What does this print?\n{code}\nA: True\n", encoding="utf-8"
    )
    result = CliRunner().invoke(main, ["build", str(empty_vault)], catch_exceptions=False)
    assert result.exit_code == 0, result.output
    import_apkg(collection, Path("cards") / "notes.apkg")

    (nid,) = collection.find_notes("")
    note = collection.get_note(nid)
    question = note["Question"]
    assert '<pre class="pd-highlight"><code class="language-python">' in question
    assert '<span class="pd-hl-nb">print</span>' in question
    assert '<span class="pd-hl-c1"># yes</span>' in question
    assert ".nightMode pre.pd-highlight" in note.note_type()["css"]
    assert '<span class="pd-hl-nb">print</span>' in note.cards()[0].question()
