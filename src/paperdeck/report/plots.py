"""The report's plots: retention per paper, the review load of the coming days, a calendar of
reviews. Each is a :class:`matplotlib.figure.Figure` made without pyplot, then a PNG.

matplotlib is imported when a plot is drawn, never when this module is loaded, so a command
that draws nothing does not pay for it. The plots are read on phones: each is
:data:`WIDTH` inches wide and meant to be shown :data:`CSS_PX_PER_INCH` CSS px to the inch
(CSS's own inch, 346 px, which a 390-px phone shows whole), so that a font of
:data:`MIN_FONT` points is that many CSS points on screen. More papers or days make a plot
taller, never wider. The PNG has two pixels per CSS pixel, and carries the display hints of
:mod:`paperdeck.figures.display`, as the card figures do.
"""

from __future__ import annotations

import base64
import io
import math
import textwrap
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import date, timedelta
from typing import TYPE_CHECKING, Any

from paperdeck.diagnostics import PaperdeckError
from paperdeck.figures.display import CSS_WIDTH_KEY, MIN_TEXT_KEY
from paperdeck.figures.look import MIN_FONT, house_style
from paperdeck.report.model import Plot, StudyReport
from paperdeck.report.stats import FORECAST_DAYS, WINDOW_DAYS
from paperdeck.wording import plural

if TYPE_CHECKING:
    from matplotlib.figure import Figure
    from matplotlib.typing import RcKeyType

WIDTH = 3.6
"""Inches; 346 CSS px."""
CSS_PX_PER_INCH = 96
DPI = 2 * CSS_PX_PER_INCH

_BLUE = "#0072b2"  # Okabe and Ito's colour-blind-safe palette
_INK = "#222222"
_EMPTY = "#eeeeee"
_RC: dict[RcKeyType, Any] = {  # the house look (figures/look.py) in the report's ink
    "text.color": _INK,
    "axes.labelcolor": _INK,
    "xtick.color": _INK,
    "ytick.color": _INK,
}


class MissingMatplotlib(PaperdeckError):
    """The plots need matplotlib, which is not installed."""


@contextmanager
def _style() -> Iterator[None]:
    try:
        import matplotlib  # noqa: F401
    except ImportError as exc:
        raise MissingMatplotlib(
            "the report's plots need matplotlib: pip install 'paperdeck[report]'"
        ) from exc
    with house_style(_RC):
        yield


def _figure(height: float) -> Figure:
    from matplotlib.figure import Figure

    return Figure(figsize=(WIDTH, height), dpi=DPI, layout="constrained")


def draw_plots(report: StudyReport) -> list[Plot]:
    """The three plots of the report, as PNGs to embed."""
    with _style():
        return [
            _plot(
                "retention",
                f"Retention in the last {WINDOW_DAYS} days",
                _retention_alt(report),
                retention_figure(report),
            ),
            _plot(
                "load",
                f"Cards due in the next {FORECAST_DAYS} days",
                _load_alt(report),
                load_figure(report),
            ),
            _plot("calendar", "Reviews per day", _calendar_alt(report), calendar_figure(report)),
        ]


def _plot(name: str, title: str, alt: str, fig: Figure) -> Plot:
    png, width, height = png_bytes(fig)
    uri = "data:image/png;base64," + base64.b64encode(png).decode("ascii")
    return Plot(name, title, alt, uri, width, height)


# --------------------------------------------------------------------------- retention


def retention_figure(report: StudyReport) -> Figure:
    """One bar per paper, its title above it, the share of reviews passed at the bar's end."""
    slots = []  # (title lines, paper)
    for paper in report.papers:
        lines = textwrap.wrap(paper.paper.title, 36) or [paper.paper.title]
        slots.append((lines[:3] if len(lines) <= 3 else [*lines[:2], lines[2][:33] + "..."], paper))
    line_in, bar_in, gap_in = 0.22, 0.3, 0.2
    body = sum(len(lines) * line_in + bar_in + gap_in for lines, _ in slots) or 0.6
    fig = _figure(body + 0.75)
    ax = fig.add_subplot()
    y = 0.0
    for lines, paper in slots:
        ax.text(0, y, "\n".join(lines), va="top", ha="left", fontsize=MIN_FONT, linespacing=1.25)
        y += len(lines) * line_in + bar_in / 2 + 0.04
        share = paper.retention
        if share is None:
            ax.text(
                0,
                y,
                f"no reviews in {WINDOW_DAYS} days",
                va="center",
                fontsize=MIN_FONT,
                color="#555555",
                gid="no-reviews",
            )
        else:
            ax.barh(y, 100 * share, height=bar_in, color=_BLUE, gid="retention-bar")
            label = f"{100 * share:.0f} % of {plural(paper.reviews, 'review')}"
            inside = share > 0.55
            ax.text(
                100 * share + (-1.5 if inside else 1.5),
                y,
                label,
                va="center",
                ha="right" if inside else "left",
                fontsize=MIN_FONT,
                color="white" if inside else _INK,
            )
        y += bar_in / 2 + gap_in
    ax.set_ylim(max(y, 0.6), 0)
    ax.set_xlim(0, 100)
    ax.set_xticks([0, 25, 50, 75, 100], ["0", "25", "50", "75", "100 %"])
    ax.set_yticks([])
    ax.spines["left"].set_visible(False)
    ax.set_xlabel("reviews answered Hard, Good or Easy")
    return fig


def _retention_alt(report: StudyReport) -> str:
    parts = []
    for paper in report.papers:
        share = paper.retention
        shown = "no reviews" if share is None else f"{100 * share:.0f} % of {paper.reviews}"
        parts.append(f"{paper.paper.title}: {shown}")
    return "Retention per paper: " + "; ".join(parts) if parts else "No papers."


# --------------------------------------------------------------------------- load


def load_figure(report: StudyReport) -> Figure:
    """A bar per day, today at the top, with its count; a date every week."""
    from matplotlib.ticker import MaxNLocator

    days = len(report.load)
    fig = _figure(0.19 * days + 0.9)
    ax = fig.add_subplot()
    ax.barh(range(days), report.load, height=0.72, color=_BLUE, gid="load-bars")
    top = max(report.load, default=0)
    for day, count in enumerate(report.load):
        if count:
            ax.text(count + top * 0.02, day, str(count), va="center", fontsize=MIN_FONT)
    ticks = list(range(0, days, 7))
    ax.set_yticks(ticks, [_day_label(report.today_date, d) for d in ticks])
    ax.set_ylim(days - 0.5, -0.5)
    ax.set_xlim(0, max(1, top) * 1.18)
    ax.xaxis.set_major_locator(MaxNLocator(integer=True))
    ax.set_xlabel("cards due (today: with the overdue)")
    return fig


def _day_label(today: date, offset: int) -> str:
    return "today" if offset == 0 else _short_date(today + timedelta(days=offset))


def _short_date(day: date) -> str:
    return f"{day.day} {day.strftime('%b')}"


def _load_alt(report: StudyReport) -> str:
    busiest = max(range(len(report.load)), key=lambda d: report.load[d], default=0)
    return (
        f"Cards due per day over the next {len(report.load)} days: {report.load[0]} today, "
        f"{sum(report.load)} in all, most on "
        f"{_day_label(report.today_date, busiest)} ({report.load[busiest]})."
        if report.load
        else "No cards due."
    )


# --------------------------------------------------------------------------- calendar


def calendar_figure(report: StudyReport) -> Figure:
    """A week per row (oldest at the top), Monday to Sunday, each day's answers in its cell."""
    from matplotlib.colors import LinearSegmentedColormap

    days = report.calendar
    weeks = math.ceil(len(days) / 7) if days else 1
    fig = _figure(0.3 * weeks + 0.85)
    ax = fig.add_subplot()
    top = max((n for _, n in days), default=0)
    scale = LinearSegmentedColormap.from_list("reviews", ["#c6dbef", "#08306b"])
    for index, (day, count) in enumerate(days):
        row, col = divmod(index, 7)
        shade = _EMPTY if count == 0 else scale(count / top if top else 0.0)
        ax.add_patch(_cell(col, row, shade))
        if count:
            dark = count / top > 0.45 if top else False
            ax.text(
                col + 0.5,
                row + 0.5,
                str(count),
                ha="center",
                va="center",
                fontsize=MIN_FONT,
                color="white" if dark else _INK,
            )
        if day == report.today_date:
            ax.add_patch(_cell(col, row, "none", edge=_INK))
    ax.set_xlim(0, 7)
    ax.set_ylim(weeks, 0)
    ax.set_aspect("auto")
    ax.xaxis.tick_top()
    ax.set_xticks([c + 0.5 for c in range(7)], list("MTWTFSS"))
    mondays = [days[r * 7][0] for r in range(weeks)] if days else []
    ax.set_yticks([r + 0.5 for r in range(weeks)], [_short_date(d) for d in mondays])
    ax.tick_params(length=0)
    for side in ("left", "bottom", "top", "right"):
        ax.spines[side].set_visible(False)
    ax.set_xlabel("answers per day (outlined: today)")
    return fig


def _cell(col: int, row: int, face: Any, edge: str = "white") -> Any:
    from matplotlib.patches import Rectangle

    return Rectangle((col, row), 1, 1, facecolor=face, edgecolor=edge, linewidth=1.5)


def _calendar_alt(report: StudyReport) -> str:
    total = sum(n for _, n in report.calendar)
    active = sum(1 for _, n in report.calendar if n)
    if not report.calendar:
        return "No reviews."
    first = report.calendar[0][0]
    return f"Answers per day since {first.isoformat()}: {total} answers on {plural(active, 'day')}."


# --------------------------------------------------------------------------- PNG


def png_bytes(fig: Figure) -> tuple[bytes, int, int]:
    """The figure as a PNG, with its CSS size; the same figure gives the same bytes.

    The PNG carries the CSS width it is drawn for and the pixel height of its smallest text
    (:mod:`paperdeck.figures.display`); no software tag or time.
    """
    from paperdeck.figures.text_sizes import text_sizes

    sizes = [size for _, size in text_sizes(fig)]
    smallest = min(sizes, default=0.0) * DPI / 72.0
    canvas: Any = fig.canvas
    width, height = canvas.get_width_height(physical=True)
    css_width, css_height = round(width / 2), round(height / 2)
    buffer = io.BytesIO()
    fig.savefig(
        buffer,
        format="png",
        dpi=DPI,
        metadata={
            "Software": None,
            CSS_WIDTH_KEY: str(css_width),
            MIN_TEXT_KEY: f"{math.floor(smallest * 10) / 10:.1f}",
        },
    )
    return buffer.getvalue(), css_width, css_height
