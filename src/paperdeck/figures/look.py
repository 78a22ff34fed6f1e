"""The look every paperdeck plot shares, card figures and report plots alike: matplotlib's
default style whatever the user's matplotlibrc says, white behind everything (the card CSS
puts white behind images in light and dark themes alike), and no text below
:data:`MIN_FONT`.

Needs matplotlib only when a style is entered, never torch.
"""

from __future__ import annotations

from collections.abc import Iterator, Mapping
from contextlib import contextmanager
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from matplotlib.typing import RcKeyType

MIN_FONT = 11.0
"""The smallest font size in points: 11 * 367 / (72 * 5.375) = 10.4 CSS px on a phone card."""

BASE_RC: dict[RcKeyType, Any] = {
    "figure.facecolor": "white",
    "axes.facecolor": "white",
    "savefig.facecolor": "white",
    "font.size": 12,
    "axes.titlesize": 13,
    "axes.labelsize": 12,
    "xtick.labelsize": MIN_FONT,
    "ytick.labelsize": MIN_FONT,
    "axes.spines.top": False,
    "axes.spines.right": False,
}


@contextmanager
def house_style(extra: Mapping[RcKeyType, Any]) -> Iterator[None]:
    """matplotlib's default style plus :data:`BASE_RC` and ``extra``, restored on exit."""
    import matplotlib
    import matplotlib.style

    with matplotlib.style.context("default"), matplotlib.rc_context({**BASE_RC, **extra}):
        yield
