"""Display hints in generated PNGs: read back in plain Python, and every figure readable.

The rule (issue 10): a figure's smallest text is at least 9 CSS px high on a phone card
(367 px of content) and 11 px on a desktop one (780 px), shown at ``min(css_width, card)``.
"""

from __future__ import annotations

import math
import struct
import subprocess
import sys
import zlib
from pathlib import Path
from typing import Any

import pytest

from paperdeck.figures.display import (
    CSS_WIDTH_KEY,
    MIN_TEXT_KEY,
    READABLE,
    FigureDisplay,
    read_figure_display,
)

# --------------------------------------------------------------------------- the reader


def chunk(kind: bytes, data: bytes) -> bytes:
    return struct.pack(">I", len(data)) + kind + data + struct.pack(">I", zlib.crc32(kind + data))


def png(
    *texts: tuple[str, str], width: int = 4, height: int = 3, after_idat: bool = False
) -> bytes:
    """A real (tiny, grey) PNG with ``texts`` as tEXt chunks, before or after the pixels."""
    ihdr = chunk(b"IHDR", struct.pack(">IIBBBBB", width, height, 8, 0, 0, 0, 0))
    pixels = chunk(b"IDAT", zlib.compress(b"".join(b"\0" + b"\x80" * width for _ in range(height))))
    text = b"".join(
        chunk(b"tEXt", k.encode("latin-1") + b"\0" + v.encode("latin-1")) for k, v in texts
    )
    body = pixels + text if after_idat else text + pixels
    return b"\x89PNG\r\n\x1a\n" + ihdr + body + chunk(b"IEND", b"")


def read(tmp_path: Path, data: bytes) -> FigureDisplay | None:
    path = tmp_path / "figure.png"
    path.write_bytes(data)
    return read_figure_display(path)


def test_reads_the_two_chunks_and_the_pixel_size(tmp_path: Path) -> None:
    data = png((CSS_WIDTH_KEY, "605"), (MIN_TEXT_KEY, "34.2"), width=1210, height=1600)
    assert read(tmp_path, data) == FigureDisplay(605, 34.2, 1210, 1600)


def test_the_test_png_is_one_pillow_reads_alike(tmp_path: Path) -> None:
    """The hand-made PNGs here are valid: Pillow (a test dependency only) agrees."""
    image_module = pytest.importorskip("PIL.Image")
    path = tmp_path / "figure.png"
    path.write_bytes(png((CSS_WIDTH_KEY, "605"), (MIN_TEXT_KEY, "34.2"), width=7, height=5))
    with image_module.open(path) as image:
        image.load()
        assert image.size == (7, 5)
        assert image.text == {CSS_WIDTH_KEY: "605", MIN_TEXT_KEY: "34.2"}


def test_chunks_after_the_pixels_and_other_chunks_are_read_past(tmp_path: Path) -> None:
    data = png(
        ("Comment", "x" * 5000), (CSS_WIDTH_KEY, "500"), (MIN_TEXT_KEY, "30"), after_idat=True
    )
    assert read(tmp_path, data) == FigureDisplay(500, 30.0, 4, 3)


@pytest.mark.parametrize(
    "texts",
    [
        [],
        [(CSS_WIDTH_KEY, "605")],
        [(MIN_TEXT_KEY, "34.2")],
        [(CSS_WIDTH_KEY, "wide"), (MIN_TEXT_KEY, "34.2")],
        [(CSS_WIDTH_KEY, "0"), (MIN_TEXT_KEY, "34.2")],
        [(CSS_WIDTH_KEY, "-5"), (MIN_TEXT_KEY, "34.2")],
        [(CSS_WIDTH_KEY, "60.5"), (MIN_TEXT_KEY, "34.2")],
        [(CSS_WIDTH_KEY, "605"), (MIN_TEXT_KEY, "nan")],
        [(CSS_WIDTH_KEY, "605"), (MIN_TEXT_KEY, "inf")],
        [(CSS_WIDTH_KEY, "605"), (MIN_TEXT_KEY, "0")],
        [(CSS_WIDTH_KEY, "605"), (MIN_TEXT_KEY, "small")],
        [(CSS_WIDTH_KEY, "60²"), (MIN_TEXT_KEY, "34.2")],  # a digit to Python, not to CSS
    ],
)
def test_a_png_without_both_valid_hints_gives_none(tmp_path: Path, texts: Any) -> None:
    assert read(tmp_path, png(*texts)) is None


def test_anything_but_a_whole_png_gives_none(tmp_path: Path) -> None:
    whole = png((CSS_WIDTH_KEY, "605"), (MIN_TEXT_KEY, "34.2"))
    assert read(tmp_path, whole) is not None
    assert read(tmp_path, b"GIF89a" + whole[6:]) is None
    assert read(tmp_path, b"") is None
    # Cut short anywhere: in a chunk, or before IEND.
    for end in (10, 20, 40, len(whole) - 12, len(whole) - 1):
        assert read(tmp_path, whole[:end]) is None, end
    # A damaged hint (its CRC no longer matches) is not trusted.
    at = whole.index(CSS_WIDTH_KEY.encode() + b"\x00605") + len(CSS_WIDTH_KEY) + 1
    assert read(tmp_path, whole[:at] + b"905" + whole[at + 3 :]) is None
    assert read_figure_display(tmp_path / "missing.png") is None
    assert read_figure_display(tmp_path) is None  # a folder


def test_shown_size_follows_the_card_width() -> None:
    hints = FigureDisplay(css_width=600, min_text_px=36.0, pixel_width=1200, pixel_height=900)
    assert hints.shown_width(367) == 367
    assert hints.shown_width(780) == 600  # never wider than it is drawn for
    assert hints.text_css_px(367) == pytest.approx(36 * 367 / 1200)  # 11.0
    assert hints.text_css_px(780) == pytest.approx(18.0)
    assert hints.readable()
    small = FigureDisplay(css_width=600, min_text_px=28.0, pixel_width=1200, pixel_height=900)
    assert small.text_css_px(367) < 9
    assert not small.readable()
    assert READABLE == ((367.0, 9.0), (780.0, 11.0))


def test_reading_hints_imports_no_image_or_array_library() -> None:
    code = (
        "import sys\n"
        "from pathlib import Path\n"
        "from paperdeck.figures.display import read_figure_display\n"
        "read_figure_display(Path('nothing.png'))\n"
        "heavy = {'PIL', 'matplotlib', 'numpy', 'torch'} & {m.split('.')[0] for m in sys.modules}\n"
        "assert not heavy, heavy\n"
    )
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True)
    assert done.returncode == 0, done.stderr


# --------------------------------------------------------------------------- the figures


def test_the_example_figures_carry_readable_hints(seed_figures: Path) -> None:
    """The example vault's figures, as a build renders them."""
    pngs = sorted(seed_figures.glob("*.png"))
    assert [p.name for p in pngs] == [
        "gumbel-softmax-gradient-variance.png",
        "gumbel-softmax-simplex.png",
    ]
    for path in pngs:
        hints = read_figure_display(path)
        assert hints is not None, path.name
        assert hints.readable(), (path.name, hints)


# Each kind as in the example, and at its extremes: one temperature (the narrow layout),
# eight (the most a spec allows), twenty categories.
SPECS: list[tuple[str, dict[str, Any]]] = [
    ("simplex", {"pi": (2, 0.5, 1), "taus": (0, 0.5, 1, 2), "samples": 500, "seed": 0, "grid": 40}),
    ("simplex", {"pi": (1, 2, 3), "taus": (0.5,), "samples": 100, "seed": 0, "grid": 20}),
    ("simplex", {"pi": (1, 1, 1), "taus": (0,), "samples": 10, "seed": 0, "grid": 10}),
    (
        "simplex",
        {
            "pi": (1, 2, 3),
            "taus": (0, 0.1, 0.3, 1, 2, 5, 10, 1000),
            "samples": 3,
            "seed": 0,
            "grid": 20,
        },
    ),
    ("segment", {"pi": (2, 1), "taus": (0, 0.5, 1, 2), "samples": 2000, "seed": 0, "bins": 60}),
    ("segment", {"pi": (1, 3), "taus": (0.3,), "samples": 0, "seed": 0, "bins": 5}),
    (
        "segment",
        {
            "pi": (2, 1),
            "taus": (0, 0.1, 0.3, 1, 2, 5, 10, 1000),
            "samples": 100,
            "seed": 0,
            "bins": 500,
        },
    ),
    (
        "bars",
        {"pi": (0.1, 0.05, 0.3, 0.35, 0.2), "taus": (0.1, 0.5, 1, 10), "samples": 500, "seed": 0},
    ),
    ("bars", {"pi": (1, 2), "taus": (1.0,), "samples": 10, "seed": 0}),
    (
        "bars",
        {
            "pi": tuple(range(1, 21)),
            "taus": (0, 0.1, 0.3, 1, 2, 5, 10, 1000),
            "samples": 10,
            "seed": 0,
        },
    ),
    (
        "gradient-variance",
        {
            "theta": 0,
            "taus": (0.1, 0.2, 0.5, 1, 2, 5, 10),
            "samples": 2000,
            "seed": 0,
            "target": 0.499,
        },
    ),
    ("gradient-variance", {"theta": -30, "taus": (1000,), "samples": 100, "seed": 0, "target": 10}),
    (
        "gradient-variance",
        {
            "theta": 30,
            "taus": (0.01, 0.1, 0.3, 1, 3, 10, 100, 1000),
            "samples": 100,
            "seed": 0,
            "target": -10,
        },
    ),
]


@pytest.fixture(scope="module")
def draw_module() -> Any:
    pytest.importorskip("torch")
    pytest.importorskip("matplotlib")
    from paperdeck.figures import draw

    return draw


@pytest.mark.parametrize(("kind", "params"), SPECS, ids=lambda v: v if isinstance(v, str) else "")
def test_every_figure_is_readable_on_a_phone_and_a_desktop(
    draw_module: Any, tmp_path: Path, kind: str, params: dict[str, Any]
) -> None:
    from PIL import Image

    fig = draw_module.DRAWERS[kind](**params)
    path = tmp_path / "figure.png"
    draw_module.save_figure(fig, path)
    hints = read_figure_display(path)
    assert hints is not None
    with Image.open(path) as image:
        assert (hints.pixel_width, hints.pixel_height) == image.size
    # Two image pixels per CSS pixel: sharp on a phone's screen.
    assert hints.css_width == round(hints.pixel_width / 2)
    assert 360 <= hints.css_width <= 720
    # The hint is the smallest text drawn, in image pixels (points * dpi / 72) ...
    drawn = draw_module.text_sizes(fig)
    assert drawn and all("$" not in text for text, _ in drawn)  # no mathtext: no tiny scripts
    smallest = min(size for _, size in drawn)
    assert hints.min_text_px == pytest.approx(smallest * draw_module.DPI / 72, abs=0.1)
    assert hints.min_text_px <= smallest * draw_module.DPI / 72
    # ... and it reaches the rule at both card widths.
    for card, least in READABLE:
        assert hints.text_css_px(card) >= least, (card, hints)


def test_the_hint_is_measured_from_the_text_drawn(draw_module: Any, tmp_path: Path) -> None:
    """A smaller text lowers it; a text that is not drawn (hidden, empty) does not."""
    params: dict[str, Any] = {"pi": (1, 2), "taus": (1.0,), "samples": 10, "seed": 0}

    def hint(extra: dict[str, Any] | None) -> float:
        fig = draw_module.draw_bars(**params)
        if extra is not None:
            fig.text(0.5, 0.5, **extra)
        draw_module.save_figure(fig, tmp_path / "f.png")
        hints = read_figure_display(tmp_path / "f.png")
        assert hints is not None
        return hints.min_text_px

    plain = hint(None)
    assert plain == pytest.approx(draw_module.MIN_FONT * draw_module.DPI / 72, abs=0.1)
    assert hint({"s": "tiny", "fontsize": 6}) == pytest.approx(6 * draw_module.DPI / 72, abs=0.1)
    assert hint({"s": "hidden", "fontsize": 6, "visible": False}) == plain
    assert hint({"s": "", "fontsize": 6}) == plain
    # Mathtext counts at its scripts' size (70 %): 12 points with a superscript is 8.4.
    assert hint({"s": "$x^2$", "fontsize": 12}) == pytest.approx(
        8.4 * draw_module.DPI / 72, abs=0.1
    )
    assert hint({"s": "$x$", "fontsize": 12}) == plain
    assert math.isclose(hint({"s": "big", "fontsize": 30}), plain)
