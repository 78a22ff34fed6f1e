"""The figure functions: Gumbel-Softmax pictures computed with :mod:`paperdeck.gumbel`.

Each ``draw_*`` function takes its parameters by keyword (already checked by
:mod:`paperdeck.figures.spec`), is deterministic given ``seed`` and returns a
:class:`matplotlib.figure.Figure` built without pyplot (no global figure registry, no GUI
backend). :func:`save_figure` writes it as a PNG through the Agg canvas, byte-identical from
one render to the next, with the display hints of :mod:`paperdeck.figures.display`.

Figures are read on phones: each is at most :data:`WIDTH` inches wide, shown
:data:`CSS_PX_PER_INCH` CSS px to the inch (two image pixels to the CSS pixel), and its
smallest text is :data:`MIN_FONT` points, so that on a 367-px phone card (where a wide figure
shrinks to the card) every label is still at least 9 CSS px high. More panels make a figure
taller, never wider.

Every panel draws its noise from a generator freshly seeded with ``seed``: the panels of a
figure share their random numbers (common random numbers), so what changes from one
temperature to the next is the temperature's doing, not the noise's.

Artists that tests (or curious readers) look for carry a ``gid``: ``"density"``,
``"samples"``, ``"point-masses"`` (simplex, segment); ``"one-hot-share"`` (a simplex panel's
caption), ``"mass-key"`` (the simplex's colour bar); ``"stems"``, ``"histogram"``
(segment); ``"expectation"``, ``"pi"``, ``"sample"`` (bars); ``"bias-gs"``, ``"bias-st"``
(biases told apart from zero), ``"bias-gs-unresolved"``, ``"bias-st-unresolved"`` (the
others, hollow markers), ``"mc-error"``, ``"variance-gs"``, ``"variance-st"``, ``"legend"``
(gradient-variance: one legend for both panels).
"""

from __future__ import annotations

import functools
import math
import textwrap
from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager
from pathlib import Path
from typing import TYPE_CHECKING, Any, ParamSpec

import matplotlib
import matplotlib.style
import numpy as np
import torch
from matplotlib.axes import Axes
from matplotlib.backends.backend_agg import FigureCanvasAgg
from matplotlib.cm import ScalarMappable
from matplotlib.colors import BoundaryNorm, ListedColormap
from matplotlib.figure import Figure
from matplotlib.legend_handler import HandlerTuple
from matplotlib.lines import Line2D
from matplotlib.patches import Patch
from matplotlib.ticker import FuncFormatter, MaxNLocator, NullFormatter, NullLocator
from matplotlib.tri import Triangulation
from numpy.typing import NDArray
from PIL import Image, PngImagePlugin

from paperdeck.figures.display import CSS_WIDTH_KEY, MIN_TEXT_KEY
from paperdeck.figures.look import MIN_FONT, house_style
from paperdeck.figures.text_sizes import text_sizes
from paperdeck.fileio import atomic_path
from paperdeck.gumbel import gumbel_noise, gumbel_softmax, log_prob, log_prob_binary
from paperdeck.wording import plural

if TYPE_CHECKING:
    from matplotlib.typing import RcKeyType

__all__ = [
    "CMAP",
    "CSS_PX_PER_INCH",
    "DOT_COLOR",
    "DPI",
    "DRAWERS",
    "MASS_LEVELS",
    "MIN_FONT",
    "ONE_HOT",
    "VERTICES",
    "WIDTH",
    "band_colors",
    "draw_bars",
    "draw_gradient_variance",
    "draw_segment",
    "draw_simplex",
    "save_figure",
    "text_sizes",
]

Array = NDArray[np.float64]
_P = ParamSpec("_P")

CSS_PX_PER_INCH = 112
"""CSS pixels per inch of figure: a :data:`WIDTH`-inch figure is meant to be 602 px wide."""

DPI = 2 * CSS_PX_PER_INCH
"""Pixels per inch of the saved PNGs: two image pixels per CSS pixel, sharp on phones."""

WIDTH = 5.375
"""The width in inches of a figure of several panels (1204 px; 602 CSS px)."""


VERTICES: Array = np.array([[0.5, math.sqrt(3) / 2], [0.0, 0.0], [1.0, 0.0]])
"""The drawn simplex: category 1 at the top, 2 bottom left, 3 bottom right (equilateral)."""

CMAP = "viridis"
"""The simplex's colour map: perceptually uniform, readable with any colour vision."""

MASS_LEVELS = (0.5, 0.75, 0.9)
"""The simplex's colour bands: where the likeliest half of the draws fall, the next quarter,
the next 15 %, and the last 10 %."""

DOT_COLOR = "#000000"
"""The simplex's sample dots: black, at least 3:1 against every band colour (WCAG 1.4.11)."""

# The bands use the map's lighter part only, so black dots stand out on each of them.
_CMAP_FROM = 0.35

# The house look (figures/look.py), with legends and titles of the card figures.
_RC: dict[RcKeyType, Any] = {
    "legend.fontsize": MIN_FONT,
    "figure.titlesize": 13,
    "axes.linewidth": 1.0,
}

# Okabe and Ito's colour-blind-safe palette; each series also has its own marker and line.
_BLUE = "#0072b2"
_VERMILLION = "#d55e00"
_ORANGE = "#e69f00"
_INK = "#222222"
_GREY_BAND = "#dcdcdc"
_MASS_AREA = 420.0  # marker area (points^2) of a point mass of probability 1
_MAX_DOTS = 3000  # samples drawn on a simplex panel, at most
_MASS_DRAWS = 40_000  # draws that place a simplex panel's colour bands (to about 0.5 %)
ONE_HOT = 0.9
"""A simplex draw is *nearly one-hot* when one of its coordinates exceeds this."""
_NARROW = 4.25  # the width in inches of a figure of one column of panels (952 px)


@contextmanager
def _style() -> Iterator[None]:
    """The house look plus :data:`_RC`, restored on exit."""
    with house_style(_RC):
        yield


def _styled(draw: Callable[_P, Figure]) -> Callable[_P, Figure]:
    @functools.wraps(draw)
    def wrapper(*args: _P.args, **kwargs: _P.kwargs) -> Figure:
        with _style():
            return draw(*args, **kwargs)

    return wrapper


# --------------------------------------------------------------------------- helpers


def _normalise(pi: Sequence[float]) -> Array:
    p = np.asarray(pi, dtype=np.float64)
    out: Array = p / p.sum()
    return out


def _logits(p: Array) -> torch.Tensor:
    return torch.from_numpy(np.log(p))


def _generator(seed: int) -> torch.Generator:
    return torch.Generator().manual_seed(seed)


def _tau_text(tau: float) -> str:
    return f"τ = {tau:g}"


def _pi_text(p: Array) -> str:
    """``(0.57, 0.14, 0.29)`` with non-breaking spaces, so a wrapped title keeps it whole."""
    return "(" + ",\u00a0".join(f"{v:.2f}" for v in p) + ")"


def _draws(n: int) -> str:
    """``2000 draws``, kept on one line when a title is wrapped."""
    return plural(n, "draw").replace(" ", "\u00a0")


def _number_text(value: float, _pos: object = None) -> str:
    """A log-axis tick without mathtext (whose raised exponents are too small to read)."""
    if value <= 0:
        return ""
    if 1e-3 <= value < 1e4:
        return f"{value:g}"
    mantissa, exponent = f"{value:.0e}".split("e")
    return f"{mantissa}e{int(exponent)}"


def _suptitle(fig: Figure, text: str) -> None:
    """A figure title that fits: a line too wide for the figure is cut between its clauses
    (after ``;``) into as few lines as fit, and a clause still too wide into even lines."""
    title = fig.suptitle(text)
    FigureCanvasAgg(fig)  # measure with the renderer the PNG is drawn with

    def fits(line: str) -> bool:
        title.set_text(line)
        return bool(title.get_window_extent().width <= 0.97 * fig.bbox.width)

    lines: list[str] = []
    for line in text.split("\n"):
        filled: list[str] = []
        for clause in line.split(";  "):
            if filled and fits(f"{filled[-1]};  {clause}"):
                filled[-1] += f";  {clause}"
            else:
                if filled:
                    filled[-1] += ";"
                filled.append(clause)
        for part in filled:
            pieces, wrapped = 1, part
            while not fits(wrapped) and pieces < len(part):
                pieces += 1
                wrapped = _even_lines(part, pieces)
            lines.append(wrapped)
    title.set_text("\n".join(lines))


def _even_lines(line: str, parts: int) -> str:
    """``line`` cut at spaces into ``parts`` lines (or fewer) of about the same length."""
    for width in range(math.ceil(len(line) / parts), len(line) + 1):
        wrapped = textwrap.wrap(line, width, break_long_words=False, break_on_hyphens=False)
        if len(wrapped) <= parts:
            return "\n".join(wrapped)
    return line


def _figure(width: float, height: float) -> Figure:
    fig = Figure(figsize=(width, height), dpi=DPI)
    fig.set_layout_engine("constrained", w_pad=0.06, h_pad=0.06, wspace=0.04, hspace=0.04)
    return fig


def _shape(n: int) -> tuple[int, int]:
    """Rows and columns for ``n`` panels: two to a row up to four, then three; never wider."""
    cols = 1 if n == 1 else 2 if n <= 4 else 3
    return math.ceil(n / cols), cols


def _panels(fig: Figure, n: int) -> list[Axes]:
    """``n`` axes laid out by :func:`_shape`, in reading order (no empty slots left)."""
    rows, cols = _shape(n)
    grid = fig.subplots(rows, cols, squeeze=False)
    axes = [ax for row in grid for ax in row]
    for ax in axes[n:]:
        fig.delaxes(ax)
    return axes[:n]


def _soft_samples(p: Array, tau: float, samples: int, seed: int) -> Array:
    """``samples`` Gumbel-Softmax draws of ``Concrete(p, tau)``, shape ``(samples, k)``."""
    logits = _logits(p).expand(samples, len(p))
    with torch.no_grad():
        y = gumbel_softmax(logits, tau, generator=_generator(seed))
    return y.numpy()


# --------------------------------------------------------------------------- simplex


def _simplex_mesh(grid: int) -> tuple[Triangulation, Array]:
    """The triangle cut into ``grid**2`` small triangles, and their barycentric centroids.

    The mesh vertices are the lattice points ``(a, b, grid - a - b) / grid``; every small
    triangle's centroid lies strictly inside the simplex (``grid`` of them along each side).
    All small triangles have the same area, so a density at the centroids weighs them alike.
    """
    n = grid
    a, b = (v.ravel() for v in np.meshgrid(np.arange(n + 1), np.arange(n + 1), indexing="ij"))
    keep = a + b <= n
    a, b = a[keep], b[keep]
    index = np.full((n + 1, n + 1), -1, dtype=np.int64)
    index[a, b] = np.arange(a.size)
    bary = np.stack([a, b, n - a - b], axis=-1) / n
    xy = bary @ VERTICES

    ua, ub = a[a + b <= n - 1], b[a + b <= n - 1]
    up = np.stack([index[ua, ub], index[ua + 1, ub], index[ua, ub + 1]], axis=-1)
    da, db = a[a + b <= n - 2], b[a + b <= n - 2]
    down = np.stack([index[da + 1, db], index[da + 1, db + 1], index[da, db + 1]], axis=-1)
    triangles = np.concatenate([up, down])
    centroids = bary[triangles].mean(axis=1)
    return Triangulation(xy[:, 0], xy[:, 1], triangles), centroids


def band_colors() -> list[tuple[float, float, float, float]]:
    """The simplex's colours, likeliest band first: :data:`CMAP` from bright to mid."""
    cmap = matplotlib.colormaps[CMAP]
    stops = np.linspace(1.0, _CMAP_FROM, len(MASS_LEVELS) + 1)
    return [cmap(float(s)) for s in stops]


def _mass_norm(at_draws: Array) -> BoundaryNorm:
    """Cut the densities where the likeliest places hold each of :data:`MASS_LEVELS`.

    ``at_draws`` is the density at Gumbel-Softmax draws: the region where the density is at
    least ``t`` holds the share of the draws whose density is at least ``t`` (a highest-density
    region, Hyndman 1996), so each cut is a quantile of ``at_draws``. Each panel gets its own
    cuts and all panels the same meaning: where half the draws fall is coloured alike at every
    temperature, whatever the densities' scale. A density that is not a number (a draw that
    rounded onto the boundary, at a tiny temperature) counts as the highest.
    """
    f = np.where(np.isnan(at_draws), math.inf, at_draws)
    quantiles = np.quantile(f, [1.0 - level for level in MASS_LEVELS], method="inverted_cdf")
    edges = [0.0]
    for cut in sorted(float(q) for q in quantiles):  # strictly increasing, even where tied
        edges.append(max(cut, float(np.nextafter(edges[-1], math.inf))))
    edges.append(math.inf)
    return BoundaryNorm(edges, len(edges) - 1)


def _band_cmap() -> ListedColormap:
    """The band colours in the order :func:`_mass_norm` counts them (least likely first)."""
    return ListedColormap(band_colors()[::-1], name="paperdeck-mass")


def _simplex_axes(ax: Axes, gap: Sequence[float] | Array = (3.0, 3.0, 3.0)) -> None:
    """Equal aspect, no ticks or spines, the outline and the vertex numbers.

    ``gap`` is the distance in points from each vertex to its label (room for a disk).
    """
    ax.set_aspect("equal")
    ax.set_axis_off()
    ax.set_xlim(-0.02, 1.02)
    ax.set_ylim(-0.02, VERTICES[0, 1] + 0.02)
    outline = np.vstack([VERTICES, VERTICES[:1]])
    ax.plot(outline[:, 0], outline[:, 1], color=_INK, lw=1.0, zorder=3, clip_on=False)
    # The top label above its vertex, the bottom ones beside theirs: under the triangle is
    # the panel's caption.
    placement = [(0.0, 1.0, "center", "bottom"), (-1.0, 0.0, "right", "center")]
    placement.append((1.0, 0.0, "left", "center"))
    for i, (dx, dy, ha, va) in enumerate(placement):
        ax.annotate(
            str(i + 1),
            xy=(float(VERTICES[i, 0]), float(VERTICES[i, 1])),
            xytext=(dx * gap[i], dy * gap[i]),
            textcoords="offset points",
            ha=ha,
            va=va,
            fontsize=12,
            fontweight="bold",
            color=_INK,
            annotation_clip=False,
        )


def _mass_key(fig: Figure, axes: Sequence[Axes]) -> None:
    """One colour bar under the panels: which colour holds which share of the draws."""
    edges = [0.0, *(100.0 * level for level in MASS_LEVELS), 100.0]
    key = ScalarMappable(
        norm=BoundaryNorm(edges, len(edges) - 1),
        cmap=ListedColormap(band_colors(), name="paperdeck-mass-key"),
    )
    bar = fig.colorbar(
        key, ax=list(axes), location="bottom", shrink=0.95, aspect=22, pad=0.02, spacing="uniform"
    )
    bar.set_ticks(edges, labels=[f"{e:g}%" for e in edges])
    bar.minorticks_off()
    bar.set_label("share of the draws, likeliest places first")
    bar.ax.set_gid("mass-key")


def _caption(ax: Axes, text: str, gid: str | None = None) -> None:
    """A line under the triangle: how much of the mass is (nearly) one-hot."""
    ax.annotate(
        text,
        xy=(0.5, 0.0),
        xytext=(0.0, -3.0),
        textcoords="offset points",
        ha="center",
        va="top",
        fontsize=MIN_FONT,
        color=_INK,
        annotation_clip=False,
        gid=gid,
    )


@_styled
def draw_simplex(
    *, pi: Sequence[float], taus: Sequence[float], samples: int, seed: int, grid: int
) -> Figure:
    """Gumbel-Softmax on the 2-simplex (3 categories), one panel per temperature.

    Each panel shades the exact density (:func:`paperdeck.gumbel.log_prob`), one value per
    small triangle of a ``grid``-per-side mesh (at its centroid), by the share of the draws
    it is among (:data:`MASS_LEVELS`: where the likeliest half fall is brightest), and says
    under it how many draws are nearly one-hot (:data:`ONE_HOT`): the mass leaving the
    corners for the middle as ``tau`` grows is the point. It overlays ``samples`` draws of
    :func:`paperdeck.gumbel.gumbel_softmax` (at most :data:`_MAX_DOTS`: more would hide the
    shading). ``tau = 0`` draws the categorical point masses at the vertices, areas
    proportional to pi, on the colour of no mass.
    """
    p = _normalise(pi)
    logits = _logits(p)
    mesh, centroids = _simplex_mesh(grid)
    y_grid = torch.from_numpy(centroids)
    cmap = _band_cmap()
    dots = min(samples, _MAX_DOTS)
    rows, cols = _shape(len(taus))
    width = WIDTH if cols > 1 else _NARROW
    fig = _figure(width, 1.1 + (0.9 + 0.8 * width / cols) * rows)
    axes = _panels(fig, len(taus))
    top_radius = math.sqrt(_MASS_AREA * p[0] / math.pi) if 0 in taus else 0.0
    for ax, tau in zip(axes, taus, strict=True):
        # The title clears the top vertex's label (and its point mass, when there is one).
        ax.set_title(_tau_text(tau), pad=18.0 + top_radius, fontweight="bold")
        if tau == 0:
            sizes = _MASS_AREA * p
            _simplex_axes(ax, gap=np.sqrt(sizes / math.pi) + 2.0)
            _caption(ax, "one-hot, area ∝ π")
            ax.fill(VERTICES[:, 0], VERTICES[:, 1], color=cmap(0), lw=0, zorder=1)  # no mass
            ax.scatter(
                VERTICES[:, 0],
                VERTICES[:, 1],
                s=sizes,
                color=band_colors()[0],
                edgecolors=_INK,
                linewidths=1.2,
                zorder=4,
                clip_on=False,
                gid="point-masses",
            )
            continue
        _simplex_axes(ax)
        density = torch.exp(log_prob(y_grid, logits, tau)).numpy()
        draws = _soft_samples(p, tau, max(_MASS_DRAWS, dots), seed)
        share = float(np.mean(draws.max(axis=1) > ONE_HOT))
        _caption(ax, f"{100 * share:.0f}% nearly one-hot", gid="one-hot-share")
        ax.tripcolor(
            mesh,
            facecolors=density,
            cmap=cmap,
            norm=_mass_norm(torch.exp(log_prob(torch.from_numpy(draws), logits, tau)).numpy()),
            gid="density",
            zorder=1,
        )
        if dots > 0:
            xy = draws[:dots] @ VERTICES
            ax.scatter(
                xy[:, 0], xy[:, 1], s=1.2, color=DOT_COLOR, linewidths=0, zorder=2, gid="samples"
            )
    if any(t > 0 for t in taus):
        _mass_key(fig, axes)
    title = f"Gumbel-Softmax, π\u00a0=\u00a0{_pi_text(p)}"
    if any(t > 0 for t in taus):
        parts = [f"nearly\u00a0one-hot: a\u00a0coordinate\u00a0>\u00a0{ONE_HOT:g}"]
        if dots > 0:
            of = f" (the first of {samples})" if dots < samples else ""
            parts.insert(0, f"dots: {_draws(dots)}{of}")
        title += "\n" + ";  ".join(parts)
    _suptitle(fig, title)
    return fig


# --------------------------------------------------------------------------- segment


@_styled
def draw_segment(
    *, pi: Sequence[float], taus: Sequence[float], samples: int, seed: int, bins: int
) -> Figure:
    """Binary Gumbel-Softmax (2 categories) on the segment ``y_1 + y_2 = 1``, per temperature.

    The x axis is ``y_1`` (``y = (1, 0)`` at the right end). Each panel draws the exact
    density (:func:`paperdeck.gumbel.log_prob_binary`) over a density-normalised histogram of
    ``samples`` draws (``bins`` bins); ``tau = 0`` draws the two point masses as stems.
    """
    p = _normalise(pi)
    logit = math.log(p[0] / p[1])
    m = 2000
    x = (np.arange(m, dtype=np.float64) + 0.5) / m  # strictly inside (0, 1)

    rows, cols = _shape(len(taus))
    width = WIDTH if cols > 1 else _NARROW
    fig = _figure(width, 1.0 + 2.3 * rows)
    axes = _panels(fig, len(taus))
    for i, (ax, tau) in enumerate(zip(axes, taus, strict=True)):
        ax.set_title(_tau_text(tau), fontweight="bold")
        ax.set_xlim(-0.04, 1.04)
        ax.set_xticks([0, 0.5, 1], ["0", "0.5", "1"])
        if i + cols >= len(taus):  # nothing below it: the bottom of its column
            ax.set_xlabel("y₁")
        ax.yaxis.set_major_locator(MaxNLocator(nbins=4))
        if tau == 0:
            heights = [p[1], p[0]]  # y_1 = 0 is category 2, y_1 = 1 is category 1
            ax.vlines([0.0, 1.0], 0, heights, color=_BLUE, lw=3, gid="stems")
            ax.plot([0.0, 1.0], heights, "o", color=_BLUE, ms=8, clip_on=False, gid="point-masses")
            for xe, h, dx, ha in ((0.0, heights[0], 7, "left"), (1.0, heights[1], -7, "right")):
                ax.annotate(
                    f"{h:.2f}",
                    (xe, h),
                    xytext=(dx, 0),
                    textcoords="offset points",
                    ha=ha,
                    va="center",
                    fontsize=MIN_FONT,
                )
            ax.set_ylim(0, 1.05)
            ax.set_ylabel("probability")
            continue
        density = torch.exp(log_prob_binary(torch.from_numpy(x), logit, tau)).numpy()
        top = float(np.max(density[(x > 0.1) & (x < 0.9)]))
        if samples > 0:
            y1 = _soft_samples(p, tau, samples, seed)[:, 0]
            heights_, _, _ = ax.hist(
                y1,
                bins=bins,
                range=(0.0, 1.0),
                density=True,
                color=_BLUE,
                alpha=0.45,
                gid="histogram",
            )
            top = max(top, float(np.max(heights_)))
        ax.plot(x, density, color=_INK, lw=1.8, gid="density")
        ax.set_ylim(0, 1.08 * top)
        if i % cols == 0 or taus[i - 1] == 0:
            ax.set_ylabel("density")
    title = f"Binary Gumbel-Softmax, π\u00a0=\u00a0{_pi_text(p)}"
    if any(t > 0 for t in taus):
        title += "\nline: exact density" + (f";  bars: {_draws(samples)}" if samples > 0 else "")
    _suptitle(fig, title)
    return fig


# --------------------------------------------------------------------------- bars


_BAR_COLS = 4  # temperatures per block of two rows; more wrap onto another block


@_styled
def draw_bars(*, pi: Sequence[float], taus: Sequence[float], samples: int, seed: int) -> Figure:
    """Jang et al.'s figure 1: expectation and one sample of a Gumbel-Softmax, across tau.

    For each temperature, on top the Monte Carlo mean of ``samples`` draws per category with
    ``pi`` marked on it, below it one draw (from the same noise at every temperature). More
    than :data:`_BAR_COLS` temperatures wrap onto a further pair of rows.
    """
    p = _normalise(pi)
    k = len(p)
    cats = np.arange(1, k + 1)
    n = len(taus)
    cols, blocks = min(n, _BAR_COLS), math.ceil(n / _BAR_COLS)
    width = WIDTH if cols > 1 else _NARROW
    fig = _figure(width, 1.0 + 3.7 * blocks)
    grid = fig.subplots(2 * blocks, cols, squeeze=False, sharey=True)
    for j in range(n, blocks * cols):  # the empty slots of the last block
        fig.delaxes(grid[2 * (j // cols), j % cols])
        fig.delaxes(grid[2 * (j // cols) + 1, j % cols])
    for j, tau in enumerate(taus):
        y = _soft_samples(p, tau, samples, seed)
        top, bottom = grid[2 * (j // cols), j % cols], grid[2 * (j // cols) + 1, j % cols]
        top.bar(cats, y.mean(axis=0), color=_BLUE, width=0.7, gid="expectation")
        top.hlines(p, cats - 0.42, cats + 0.42, color=_INK, lw=2.2, zorder=3, gid="pi")
        bottom.bar(cats, y[0], color=_ORANGE, width=0.7, gid="sample")
        top.set_title(_tau_text(tau), fontweight="bold")
        for ax in (top, bottom):
            ax.set_ylim(0, 1)
            ax.set_xlim(0.4, k + 0.6)
            ax.set_yticks([0, 0.5, 1], ["0", "0.5", "1"])
            ax.set_xticks(cats if k <= 5 else [1, (k + 1) // 2, k])
        if j % cols == 0:
            top.set_ylabel("mean")
            bottom.set_ylabel("one draw")
    what = f"π\u00a0=\u00a0{_pi_text(p)}" if k <= 5 else f"{k} categories"
    _suptitle(
        fig,
        f"Gumbel-Softmax, {what}\nmean of {_draws(samples)} (black:\u00a0π);  one draw below",
    )
    return fig


# --------------------------------------------------------------------------- gradients


def _gradients(theta: float, tau: float, pairs: int, target: float, hard: bool, seed: int) -> Array:
    """Per-draw estimates of ``d/dtheta E[(b - target)^2]``, ``b ~ Bernoulli(sigmoid(theta))``.

    ``b`` is relaxed as ``y_1`` of a 2-class Gumbel-Softmax with logits ``[theta, 0]``
    (``hard``: the straight-through estimator). One row per draw, each with its own copy of
    ``theta``, so one backward pass gives every row's gradient. The ``2 * pairs`` draws come
    in antithetic pairs: the second half swaps the two Gumbel variables of the first (the same
    distribution; the odd part of the estimator cancels within a pair, which makes the mean,
    hence the bias, far more accurate than independent draws would).
    """
    noise = gumbel_noise((pairs, 2), generator=_generator(seed), dtype=torch.float64)
    noise = torch.cat([noise, noise.flip(-1)])
    th = torch.full((2 * pairs,), theta, dtype=torch.float64, requires_grad=True)
    logits = torch.stack([th, torch.zeros_like(th)], dim=-1)
    y = gumbel_softmax(logits, tau, hard=hard, noise=noise)
    loss = ((y[:, 0] - target) ** 2).sum()
    (grad,) = torch.autograd.grad(loss, th)
    return grad.numpy()


# key, label, straight-through?, colour, marker, line style, marker size (points), line width.
# Gumbel-Softmax is drawn under straight-through with a bigger marker and a wider line, so
# where the two coincide a square sits in a circle and dashes run over a solid line.
_ESTIMATORS = (
    ("gs", "Gumbel-Softmax", False, _BLUE, "o", "-", 10.0, 2.6),
    ("st", "straight-through", True, _VERMILLION, "s", (0, (3.0, 1.6)), 5.5, 1.6),
)


def _gradient_legend(fig: Figure) -> None:
    """One legend under both panels: each series, the hollow markers and the grey band."""
    series = [
        Line2D([], [], color=c, ls=ls, lw=lw, marker=m, ms=ms)
        for _, _, _, c, m, ls, ms, lw in _ESTIMATORS
    ]
    hollow = tuple(
        Line2D([], [], ls="", marker=m, ms=min(ms, 8.0), mfc="white", mec=c, mew=1.6)
        for _, _, _, c, m, _, ms, _ in _ESTIMATORS
    )
    band = Patch(facecolor=_GREY_BAND, edgecolor="none")
    handles: list[Any] = [*series, band, hollow]  # a tuple is drawn by HandlerTuple
    legend = fig.legend(
        handles,
        [*(e[1] for e in _ESTIMATORS), "Monte Carlo error", "hollow: within the error"],
        handler_map={tuple: HandlerTuple(ndivide=None, pad=0.6)},
        loc="outside lower center",
        ncols=2,
        frameon=False,
        handlelength=2.6,
        columnspacing=1.2,
    )
    legend.set_gid("legend")


@_styled
def draw_gradient_variance(
    *, theta: float, taus: Sequence[float], samples: int, seed: int, target: float
) -> Figure:
    """Bias and variance of the Gumbel-Softmax and straight-through gradients against tau.

    Toy objective ``E[(b - target)^2]``, ``b ~ Bernoulli(sigmoid(theta))``, exact gradient
    ``sigmoid'(theta) ((1 - target)^2 - target^2)``. ``samples`` draws per temperature
    (rounded down to an even number: antithetic pairs); a hollow marker is a bias within two
    Monte Carlo standard errors of zero (the grey band). ``tau = 0`` has no gradient and is
    left out. The panels are stacked, sharing the tau axis, under one legend.
    """
    ts = np.array(sorted({float(t) for t in taus if t > 0}))
    s = 1.0 / (1.0 + math.exp(-theta))
    exact = s * (1.0 - s) * ((1.0 - target) ** 2 - target**2)
    pairs = max(samples // 2, 1)

    fig = _figure(WIDTH, 7.2)
    ax_bias, ax_var = fig.subplots(2, 1, sharex=True)
    biases: list[Array] = []
    errors: list[Array] = []
    for key, label, hard, color, marker, ls, size, lw in _ESTIMATORS:
        bias, se, var = [], [], []
        for tau in ts:
            g = _gradients(theta, float(tau), pairs, target, hard, seed)
            pair_means = 0.5 * (g[:pairs] + g[pairs:])
            bias.append(float(g.mean()) - exact)
            se.append(float(pair_means.std(ddof=1)) / math.sqrt(pairs) if pairs > 1 else 0.0)
            var.append(float(g.var(ddof=1)))
        abs_bias = np.maximum(np.abs(np.array(bias)), np.finfo(np.float64).tiny)
        biases.append(abs_bias)
        errors.append(2.0 * np.array(se))
        resolved = abs_bias > errors[-1]
        line: dict[str, Any] = {"color": color, "ls": ls, "lw": lw, "marker": marker, "ms": size}
        # The line joins the biases told apart from 0; the others get hollow markers only.
        ax_bias.plot(
            ts, np.where(resolved, abs_bias, np.nan), label=label, gid=f"bias-{key}", **line
        )
        ax_bias.plot(
            ts[~resolved],
            abs_bias[~resolved],
            ls="",
            marker=marker,
            ms=size,
            mfc="white",
            mec=color,
            mew=1.6,
            gid=f"bias-{key}-unresolved",
        )
        ax_var.plot(ts, var, label=label, gid=f"variance-{key}", **line)
    for ax, name in ((ax_bias, "|bias|"), (ax_var, "variance")):
        ax.set_xscale("log")
        ax.set_yscale("log")
        ax.set_ylabel(name)
        ax.grid(True, which="major", color="#dddddd", lw=0.8)
        ax.yaxis.set_major_locator(matplotlib.ticker.LogLocator(numticks=5))
        ax.yaxis.set_major_formatter(FuncFormatter(_number_text))
        ax.yaxis.set_minor_formatter(NullFormatter())
        ax.set_xticks(ts, [f"{t:g}" for t in ts])
        ax.xaxis.set_minor_locator(NullLocator())
    ax_bias.tick_params(labelbottom=True)
    ax_var.set_xlabel("temperature τ")
    band = np.maximum(errors[0], errors[1])
    shown = np.concatenate([*biases, band[band > 0]])
    low, high = float(shown.min()) / 3.0, float(shown.max()) * 2.0
    ax_bias.fill_between(
        ts, low, np.maximum(band, low), color=_GREY_BAND, lw=0, zorder=0, gid="mc-error"
    )
    ax_bias.set_ylim(low, high)
    ax_bias.set_title("|bias| of the gradient estimate", loc="left")
    ax_var.set_title("variance of the gradient estimate", loc="left")
    same = np.allclose(biases[0], biases[1], rtol=1e-6, atol=0.0)
    _suptitle(
        fig,
        f"d/dθ E[(b − {target:g})²], b ~ Bernoulli(σ(θ)), θ = {theta:g}\n"  # noqa: RUF001
        f"exact {exact:.3g};  {2 * pairs} draws per τ" + (";  same bias for both" if same else ""),
    )
    _gradient_legend(fig)
    return fig


# --------------------------------------------------------------------------- output


def save_figure(fig: Figure, path: Path) -> None:
    """Write ``fig`` as a PNG at :data:`DPI` through the Agg canvas, atomically.

    The PNG carries the display hints that :mod:`paperdeck.figures.display` reads: the CSS
    width it is drawn for (half its pixel width) and the pixel size of its smallest text, as
    drawn. No software tag or timestamp goes into the file, so the same figure gives the same
    bytes.
    """
    fig.set_dpi(DPI)
    with _style():
        sizes = text_sizes(fig)  # draws the figure once, on its canvas
        canvas: Any = fig.canvas  # the Agg canvas text_sizes drew on (untyped)
        width, height = canvas.get_width_height(physical=True)
        rgba = canvas.buffer_rgba()
        pixels = Image.frombuffer("RGBA", (width, height), rgba, "raw", "RGBA", 0, 1)
    info = PngImagePlugin.PngInfo()
    info.add_text(CSS_WIDTH_KEY, str(round(width * CSS_PX_PER_INCH / DPI)))
    smallest = min((size for _, size in sizes), default=0.0) * DPI / 72.0
    info.add_text(MIN_TEXT_KEY, f"{math.floor(smallest * 10) / 10:.1f}")
    # 256 colours, chosen from the figure's own (flat fills, text and its anti-aliasing): no
    # visible change at 40 % of the bytes, which every card's deck carries.
    indexed = pixels.convert("RGB").quantize(256, dither=Image.Dither.NONE)
    with atomic_path(Path(path)) as tmp:
        indexed.save(tmp, format="png", pnginfo=info, dpi=(DPI, DPI))


DRAWERS: dict[str, Callable[..., Figure]] = {
    "simplex": draw_simplex,
    "segment": draw_segment,
    "bars": draw_bars,
    "gradient-variance": draw_gradient_variance,
}
