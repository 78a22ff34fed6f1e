"""The size of every text a matplotlib figure draws, read from the renderer.

Both the card figures and the study report's plots must stay readable on a phone, and
both write their smallest text into the PNG (:mod:`paperdeck.figures.display`). This
needs matplotlib but not torch, so the report can use it without loading torch.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from matplotlib.backends.backend_agg import FigureCanvasAgg

if TYPE_CHECKING:
    from matplotlib.backend_bases import GraphicsContextBase
    from matplotlib.figure import Figure
    from matplotlib.font_manager import FontProperties
    from matplotlib.text import Text


def text_sizes(fig: Figure) -> list[tuple[str, float]]:
    """Draw ``fig`` on its Agg canvas; every text actually drawn, with its size in points.

    Read from the renderer, not from the figure's text artists: a tick label outside the
    axis range, an empty or invisible text is not drawn and does not count. Mathtext counts
    at the size of its sub- and superscripts (70 %), its smallest glyphs.
    """
    canvas: Any = FigureCanvasAgg(fig)  # Any: matplotlib's Agg canvas is untyped
    renderer = canvas.get_renderer()
    drawn: list[tuple[str, float]] = []
    draw_text = renderer.draw_text

    def record(
        gc: GraphicsContextBase,
        x: float,
        y: float,
        s: str,
        prop: FontProperties,
        angle: float,
        ismath: bool | str = False,
        mtext: Text | None = None,
    ) -> None:
        if s.strip():
            scale = 0.7 if ismath and any(c in s for c in "^_") else 1.0
            drawn.append((s, scale * float(prop.get_size_in_points())))
        draw_text(gc, x, y, s, prop, angle, ismath=ismath, mtext=mtext)

    renderer.draw_text = record
    try:
        canvas.draw()
    finally:
        del renderer.draw_text
    return drawn
