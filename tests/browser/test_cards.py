"""Every card of the example vault and of the hard-cases vault, as a student sees it: Anki's
MathJax and reviewer CSS, in Chromium, at 390 px (a phone) and 900 px, light and night.

Each test checks one property over every view of every card and lists each view that
breaks it, with what was found, so that one run says what to fix where.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable

from paperdeck.figures.display import read_figure_display
from paperdeck.preview.page import PHONE

from .conftest import Measured, View

LEAST_FIGURE_TEXT = {390: 9.0, 900: 11.0}
"""The smallest text of a generated figure, in CSS px, on a card this wide."""
LEAST_CONTRAST = 4.5
"""WCAG AA for body text."""


def problems(views: Iterable[View], check: Callable[[View], list[str]]) -> str:
    """Every view's problems, one line each, for an assertion message."""
    lines = [f"{view}: {problem}" for view in views for problem in check(view)]
    return "\n".join(lines)


def test_every_card_is_measured_at_its_width(measured: Measured) -> None:
    expected = {"notes": 5, "hard_cards": 21}[measured.name]
    assert len(measured.preview.cards) == expected
    assert len(measured.views) == expected * 8

    def check(view: View) -> list[str]:
        data = view.data
        found = []
        if (data["innerWidth"], data["clientWidth"]) != (view.width, view.width):
            found.append(f"laid out {data['clientWidth']} px wide, not {view.width}")
        if data["ready"]["mathjax"] is None:
            found.append("MathJax did not run")
        return found

    assert not (found := problems(measured.views, check)), found


def test_pages_load_cleanly(measured: Measured) -> None:
    """No script error, no missing file (media or Anki's assets), no broken image."""

    def check(view: View) -> list[str]:
        broken = [f"image did not load: {src}" for src in view.data["ready"]["brokenImages"]]
        return [
            *(f"script error: {e}" for e in view.page_errors),
            *(f"failed to load {f}" for f in view.failed_loads),
            *broken,
        ]

    assert not (found := problems(measured.views, check)), found


def test_math_typesets_without_errors(measured: Measured) -> None:
    def check(view: View) -> list[str]:
        error = view.data["ready"]["mathjaxError"]
        return [*([f"MathJax failed: {error}"] if error else []), *view.data["errors"]]

    assert not (found := problems(measured.views, check)), found
    assert sum(v.data["mathCount"] for v in measured.views) > 0


def test_no_raw_tex_delimiters_in_the_text(measured: Measured) -> None:
    def check(view: View) -> list[str]:
        return [f"raw delimiter in {text!r}" for text in view.data["raw"]]

    assert not (found := problems(measured.views, check)), found


def test_no_literal_escapes_in_typeset_text(measured: Measured) -> None:
    r"""``\text{one\_hot}`` must read "one_hot", as in Obsidian, not "one\_hot"."""

    def check(view: View) -> list[str]:
        return [f"{e['text']!r} shown in {e['tex']!r}" for e in view.data["escapes"]]

    assert not (found := problems(measured.views, check)), found


def test_nothing_runs_past_the_card(measured: Measured) -> None:
    """Only a box that scrolls sideways, itself within the card, may hold wider content."""

    def check(view: View) -> list[str]:
        return list(view.data["overflow"])

    assert not (found := problems(measured.views, check)), found


def test_the_card_never_scrolls_sideways(measured: Measured) -> None:
    def check(view: View) -> list[str]:
        data = view.data
        if data["scrollWidth"] > data["clientWidth"]:
            return [f"the page is {data['scrollWidth']} px wide in a {data['clientWidth']} px view"]
        return []

    assert not (found := problems(measured.views, check)), found


def test_scrolling_boxes_show_that_they_scroll(measured: Measured) -> None:
    """A box wider inside than outside scrolls (overflow-x auto or scroll) and shows a cue:
    a shadow (background gradient or box-shadow) or a mask at the hidden side."""

    def check(view: View) -> list[str]:
        found = []
        for box in view.data["scrollBoxes"]:
            if box["overflowX"] not in ("auto", "scroll"):
                continue  # not a scroll box: whatever sticks out is test_nothing_runs_past_...
            cue = (
                "gradient" in box["backgroundImage"]
                or box["boxShadow"] != "none"
                or box["maskImage"] != "none"
            )
            if not cue:
                found.append(f"{box['element']} hides {box['hidden']} px with no cue")
        return found

    assert not (found := problems(measured.views, check)), found


def test_math_and_tables_that_scroll_sit_on_the_page_s_own_background(
    measured: Measured,
) -> None:
    """The scroll cue paints a background; for math and tables it must be the page's own,
    or they would sit on a slab of another shade (code has a shaded box on purpose)."""

    def check(view: View) -> list[str]:
        return [
            f"{box['element']} on {box['backgroundColor']}, page {box['pageColor']}"
            for box in view.data["scrollBoxes"]
            if box["tag"] in ("mjx-container", "table")
            and box["backgroundColor"] != box["pageColor"]
        ]

    assert not (found := problems(measured.views, check)), found


def test_every_image_loads_within_the_card(measured: Measured) -> None:
    def check(view: View) -> list[str]:
        card = view.data["card"]
        found = []
        for image in view.data["images"]:
            if not image["loaded"]:
                found.append(f"{image['name']} did not load")
            elif image["left"] < card["left"] - 0.5 or image["right"] > card["right"] + 0.5:
                found.append(
                    f"{image['name']} spans {image['left']:.0f}..{image['right']:.0f} px, "
                    f"the card {card['left']:.0f}..{card['right']:.0f} px"
                )
        return found

    assert not (found := problems(measured.views, check)), found


def test_figure_text_is_readable(measured: Measured) -> None:
    """A drawn figure's smallest text, as shown: at least 9 px on a phone, 11 px at 900 px."""
    shown = 0

    def check(view: View) -> list[str]:
        nonlocal shown
        found = []
        least = LEAST_FIGURE_TEXT[view.width]
        for image in view.data["images"]:
            if image["name"] not in measured.figures or not image["loaded"]:
                continue
            shown += 1
            display = read_figure_display(measured.preview.files / image["name"])
            if display is None:
                found.append(f"{image['name']} has no paperdeck display hints (tEXt chunks)")
                continue
            text = display.min_text_px * image["clientWidth"] / display.pixel_width
            if text < least:
                found.append(
                    f"{image['name']} shown {image['clientWidth']} px wide: its smallest text "
                    f"is {text:.1f} px high, needs {least:g}"
                )
        return found

    assert not (found := problems(measured.views, check)), found
    assert shown == {"notes": 2, "hard_cards": 4}[measured.name] * 4  # per figure: 4 views


def test_night_mode_text_has_contrast(measured: Measured) -> None:
    def check(view: View) -> list[str]:
        if not view.night:
            return []
        return [
            f"{c['element']}: {c['color']} on {c['background']} is {c['ratio']:.2f}:1"
            for c in view.data["contrast"]
            if c["ratio"] < LEAST_CONTRAST
        ]

    night = [v for v in measured.views if v.night]
    assert all(v.data["contrast"] for v in night)  # every card side has text to judge
    assert not (found := problems(night, check)), found


def test_phone_views_are_phone_sized(measured: Measured) -> None:
    """The views really differ: a phone's card is narrower than a desktop's."""
    phone = [
        v.data["card"]["right"] - v.data["card"]["left"] for v in measured.views if v.width == PHONE
    ]
    desktop = [
        v.data["card"]["right"] - v.data["card"]["left"] for v in measured.views if v.width != PHONE
    ]
    assert max(phone) <= PHONE < min(desktop)


def test_display_math_sits_evenly_in_its_paragraph(measured: Measured) -> None:
    """As much space above a display formula as below it, from the text around it (a stray
    line break after it, as ``\\]<br />`` gives, adds a whole empty line below)."""

    def check(view: View) -> list[str]:
        return [
            f"{m['tex'][:50]!r}: {m['above']:.0f} px above, {m['below']:.0f} px below"
            for m in view.data["displayMath"]
            if abs(m["above"] - m["below"]) > 0.5 * m["fontSize"]
        ]

    assert any(v.data["displayMath"] for v in measured.views)  # formulas inside text exist
    assert not (found := problems(measured.views, check)), found
