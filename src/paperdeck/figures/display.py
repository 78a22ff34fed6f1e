"""How wide a generated figure wants to be shown, read back from its PNG.

:func:`paperdeck.figures.draw.save_figure` writes two ``tEXt`` chunks into every PNG: the
width in CSS pixels the figure is drawn for (:data:`CSS_WIDTH_KEY`; the PNG has about two
image pixels per CSS pixel, sharp on phones) and the height in image pixels of its smallest
text (:data:`MIN_TEXT_KEY`). A card shows the figure at ``min(css_width, card width)``, so
its smallest text is ``min_text_px * shown / pixel_width`` CSS pixels high:
:data:`READABLE` says how high that must be. Reading is plain Python over the PNG's chunks
(no Pillow, no matplotlib): card rendering imports this and must stay light.
"""

from __future__ import annotations

import math
import struct
import zlib
from dataclasses import dataclass
from pathlib import Path
from typing import BinaryIO

__all__ = [
    "CSS_WIDTH_KEY",
    "MIN_TEXT_KEY",
    "READABLE",
    "FigureDisplay",
    "read_figure_display",
]

CSS_WIDTH_KEY = "paperdeck:css-width"
MIN_TEXT_KEY = "paperdeck:min-text-px"

READABLE: tuple[tuple[float, float], ...] = ((367.0, 9.0), (780.0, 11.0))
"""``(card content width, smallest text)`` in CSS px: a phone (390-px viewport less the
card's padding) and a desktop (the card's max-width); every figure's text must reach these."""

_SIGNATURE = b"\x89PNG\r\n\x1a\n"
_MAX_TEXT_CHUNK = 4096  # ours are a few dozen bytes: a larger tEXt is someone else's
_MAX_CHUNKS = 10_000  # a PNG with more chunks before IEND is not one we wrote


@dataclass(frozen=True)
class FigureDisplay:
    """What a card needs to show a generated figure at a readable size."""

    css_width: int
    """The width, in CSS px, the figure is drawn for; a card shows it at most this wide."""
    min_text_px: float
    """The font size, in image pixels, of the smallest text drawn in the figure."""
    pixel_width: int
    """The PNG's width in pixels (from IHDR)."""
    pixel_height: int
    """The PNG's height in pixels (from IHDR)."""

    def shown_width(self, card_width: float) -> float:
        """The width in CSS px the figure takes on a card whose content is ``card_width``."""
        return min(float(self.css_width), card_width)

    def text_css_px(self, card_width: float) -> float:
        """The smallest text's height in CSS px on a card whose content is ``card_width``."""
        return self.min_text_px * self.shown_width(card_width) / self.pixel_width

    def readable(self) -> bool:
        """Whether the smallest text reaches :data:`READABLE` on a phone and a desktop."""
        return all(self.text_css_px(width) >= least for width, least in READABLE)


def read_figure_display(path: Path) -> FigureDisplay | None:
    """The display hints of a PNG written by paperdeck; None for any other file.

    A file that is not a PNG, is cut short, or lacks either chunk (a figure drawn by
    another tool, or by an older paperdeck) gives None: the card then shows it as any image.
    """
    try:
        with Path(path).open("rb") as stream:
            return _read(stream)
    except OSError:
        return None


def _read(stream: BinaryIO) -> FigureDisplay | None:
    if stream.read(8) != _SIGNATURE:
        return None
    size: tuple[int, int] | None = None
    texts: dict[str, str] = {}
    for _ in range(_MAX_CHUNKS):
        head = stream.read(8)
        if len(head) < 8:
            return None
        length, kind = struct.unpack(">I4s", head)
        if kind == b"IEND":  # the end, if whole: a file cut short is not trusted
            if length != 0 or stream.read(4) != struct.pack(">I", zlib.crc32(kind)):
                return None
            break
        if kind in (b"IHDR", b"tEXt") and length <= _MAX_TEXT_CHUNK:
            data = stream.read(length)
            crc = stream.read(4)
            if len(data) < length or crc != struct.pack(">I", zlib.crc32(kind + data)):
                return None
            if kind == b"IHDR":
                size = _ihdr(data)
            else:
                key, _, value = data.partition(b"\0")
                texts[key.decode("latin-1")] = value.decode("latin-1")
        else:
            stream.seek(length + 4, 1)  # the data and the CRC, unread
    else:
        return None
    return _display(size, texts)


def _ihdr(data: bytes) -> tuple[int, int] | None:
    if len(data) != 13:
        return None
    width, height = struct.unpack(">II", data[:8])
    return (width, height) if width > 0 and height > 0 else None


def _display(size: tuple[int, int] | None, texts: dict[str, str]) -> FigureDisplay | None:
    if size is None or CSS_WIDTH_KEY not in texts or MIN_TEXT_KEY not in texts:
        return None
    css = texts[CSS_WIDTH_KEY]
    if not (css.isascii() and css.isdigit()) or int(css) <= 0:
        return None
    try:
        text_px = float(texts[MIN_TEXT_KEY])
    except ValueError:
        return None
    if not (math.isfinite(text_px) and text_px > 0):
        return None
    return FigureDisplay(int(css), text_px, size[0], size[1])
