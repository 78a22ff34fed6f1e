"""The figure functions: Gumbel-Softmax pictures computed with :mod:`paperdeck.gumbel`.

Each ``draw_*`` function takes its parameters by keyword (already checked by
:mod:`paperdeck.figures.spec`), is deterministic given ``seed`` and returns a
:class:`matplotlib.figure.Figure` built without pyplot (no global figure registry, no GUI
backend). :func:`save_figure` writes it as a PNG through the Agg canvas, byte-identical from
one render to the next.

Every panel draws its noise from a generator freshly seeded with ``seed``: the panels of a
figure share their random numbers (common random numbers), so what changes from one
temperature to the next is the temperature's doing, not the noise's.

Artists that tests (or curious readers) look for carry a ``gid``: ``"density"``,
``"samples"``, ``"point-masses"`` (simplex, segment); ``"stems"``, ``"histogram"`` (segment);
``"expectation"``, ``"pi"``, ``"sample"`` (bars); ``"bias-gs"``, ``"bias-st"`` (biases told
apart from zero), ``"bias-gs-unresolved"``, ``"bias-st-unresolved"`` (the others),
``"mc-error"``, ``"variance-gs"``, ``"variance-st"`` (gradient-variance).
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
from matplotlib.colors import LogNorm
from matplotlib.figure import Figure
from matplotlib.ticker import MaxNLocator, NullLocator
from matplotlib.tri import Triangulation
from numpy.typing import NDArray

from paperdeck.fileio import atomic_path
from paperdeck.gumbel import gumbel_noise, gumbel_softmax, log_prob, log_prob_binary
from paperdeck.wording import plural

if TYPE_CHECKING:
    from matplotlib.typing import RcKeyType

__all__ = [
    "DPI",
    "DRAWERS",
    "VERTICES",
    "draw_bars",
    "draw_gradient_variance",
    "draw_segment",
    "draw_simplex",
    "save_figure",
]

Array = NDArray[np.float64]
_P = ParamSpec("_P")

DPI = 110
"""Pixels per inch of the saved PNGs (a 9.5-inch-wide figure is 1045 px)."""

VERTICES: Array = np.array([[0.5, math.sqrt(3) / 2], [0.0, 0.0], [1.0, 0.0]])
"""The drawn simplex: category 1 at the top, 2 bottom left, 3 bottom right (equilateral)."""

# The same look whatever the user's matplotlibrc says, and white behind everything: the card
# CSS puts a white background behind images in light and dark themes alike.
_RC: dict[RcKeyType, Any] = {
    "figure.facecolor": "white",
    "axes.facecolor": "white",
    "savefig.facecolor": "white",
    "font.size": 11,
    "axes.titlesize": 12,
    "axes.labelsize": 11,
    "xtick.labelsize": 10,
    "ytick.labelsize": 10,
    "legend.fontsize": 10,
    "figure.titlesize": 13,
    "axes.spines.top": False,
    "axes.spines.right": False,
}

_COLS = 4  # panels per row; more temperatures wrap onto further rows
_CMAP = "viridis"  # perceptually uniform, dark to light, no white: fine on any card theme
_DECADES = 6.0  # the density colour scale spans at most this many powers of ten
_SAMPLE_COLOR = "#e4002b"  # a red that stands out on every viridis shade
_BLUE = "#1f77b4"
_ORANGE = "#ff7f0e"
_INK = "#222222"
_MASS_AREA = 600.0  # marker area (points^2) of a point mass of probability 1
_MAX_DOTS = 3000  # samples drawn on a simplex panel, at most


@contextmanager
def _style() -> Iterator[None]:
    """matplotlib's default style plus :data:`_RC`, restored on exit."""
    with matplotlib.style.context("default"), matplotlib.rc_context(_RC):
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


def _suptitle(fig: Figure, text: str) -> None:
    """A figure title that fits: lines too wide for a narrow figure (few panels) are wrapped."""
    title = fig.suptitle(text)
    FigureCanvasAgg(fig)  # measure with the renderer the PNG is drawn with
    limit = max(len(line) for line in text.split("\n"))
    while title.get_window_extent().width > 0.97 * fig.bbox.width and limit > 30:
        limit -= 4
        wrapped = [textwrap.fill(line, limit) for line in text.split("\n")]
        title.set_text("\n".join(wrapped))


def _figure(width: float, height: float) -> Figure:
    fig = Figure(figsize=(width, height), dpi=DPI)
    fig.set_layout_engine("constrained", w_pad=0.1, h_pad=0.06)
    return fig


def _panels(fig: Figure, n: int) -> list[Axes]:
    """``n`` axes, at most :data:`_COLS` to a row, in reading order (no empty slots left)."""
    rows = math.ceil(n / _COLS)
    cols = min(n, _COLS)
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


def _simplex_axes(ax: Axes, p: Array, gap: Sequence[float] | Array = (4.0, 4.0, 4.0)) -> None:
    """Equal aspect, no ticks or spines, the outline and the vertex labels.

    ``gap`` is the distance in points from each vertex to its label (room for a disk).
    """
    ax.set_aspect("equal")
    ax.set_axis_off()
    ax.set_xlim(-0.03, 1.03)
    ax.set_ylim(-0.03, VERTICES[0, 1] + 0.03)
    outline = np.vstack([VERTICES, VERTICES[:1]])
    ax.plot(outline[:, 0], outline[:, 1], color=_INK, lw=0.9, zorder=3, clip_on=False)
    # The top label above its vertex; the bottom ones below, within the triangle's width.
    placement = [(1, "center", "bottom"), (-1, "left", "top"), (-1, "right", "top")]
    for i, (up, ha, va) in enumerate(placement):
        ax.annotate(
            f"{i + 1} (π={p[i]:.2f})",
            xy=(float(VERTICES[i, 0]), float(VERTICES[i, 1])),
            xytext=(0.0, up * gap[i]),
            textcoords="offset points",
            ha=ha,
            va=va,
            fontsize=10,
            color=_INK,
            annotation_clip=False,
        )


def _log_norm(densities: Sequence[Array]) -> LogNorm:
    """A colour scale shared by the panels: robust percentiles, at most :data:`_DECADES`."""
    logs = np.log10(np.concatenate(list(densities)))
    logs = logs[np.isfinite(logs)]
    if logs.size == 0:
        return LogNorm(vmin=0.1, vmax=10.0)
    lo, hi = (float(v) for v in np.percentile(logs, [0.5, 99.5]))
    hi = max(hi, 1.0)
    lo = min(max(lo, hi - _DECADES), -1.0)  # always at least 0.1 to 10
    return LogNorm(vmin=10.0**lo, vmax=10.0**hi)


@_styled
def draw_simplex(
    *, pi: Sequence[float], taus: Sequence[float], samples: int, seed: int, grid: int
) -> Figure:
    """Gumbel-Softmax on the 2-simplex (3 categories), one panel per temperature.

    Each panel shades the exact density (:func:`paperdeck.gumbel.log_prob`) on a log colour
    scale shared by the panels, one value per small triangle of a ``grid``-per-side mesh (at
    its centroid), and overlays ``samples`` draws of :func:`paperdeck.gumbel.gumbel_softmax`
    (at most :data:`_MAX_DOTS`: more would hide the shading).
    ``tau = 0`` draws the categorical point masses at the vertices, areas proportional to pi.
    """
    p = _normalise(pi)
    logits = _logits(p)
    mesh, centroids = _simplex_mesh(grid)
    y_grid = torch.from_numpy(centroids)
    densities = {
        i: torch.exp(log_prob(y_grid, logits, tau)).numpy() for i, tau in enumerate(taus) if tau > 0
    }
    norm = _log_norm(list(densities.values())) if densities else None
    # A density that underflows to 0 is "bad" to a log scale: paint it like the lowest value.
    cmap = matplotlib.colormaps[_CMAP]
    cmap = cmap.with_extremes(bad=cmap(0.0))
    dots = min(samples, _MAX_DOTS)

    cols, rows = min(len(taus), _COLS), math.ceil(len(taus) / _COLS)
    fig = _figure(max(2.1 * cols + (0.8 if densities else 0.2), 5.6), 0.9 + 2.5 * rows)
    axes = _panels(fig, len(taus))
    # Titles clear the top vertex label (and the top point mass, when there is one).
    top_radius = math.sqrt(_MASS_AREA * p[0] / math.pi) if 0 in taus else 0.0
    title_pad = 21.0 + top_radius
    mappable = None
    for i, (ax, tau) in enumerate(zip(axes, taus, strict=True)):
        ax.set_title(_tau_text(tau), pad=title_pad)
        if tau == 0:
            sizes = _MASS_AREA * p
            _simplex_axes(ax, p, gap=np.sqrt(sizes / math.pi) + 3.0)
            ax.scatter(
                VERTICES[:, 0],
                VERTICES[:, 1],
                s=sizes,
                color=_BLUE,
                edgecolors=_INK,
                linewidths=0.8,
                zorder=4,
                clip_on=False,
                gid="point-masses",
            )
            continue
        _simplex_axes(ax, p)
        mappable = ax.tripcolor(
            mesh, facecolors=densities[i], cmap=cmap, norm=norm, gid="density", zorder=1
        )
        if dots > 0:
            xy = _soft_samples(p, tau, dots, seed) @ VERTICES
            ax.scatter(
                xy[:, 0],
                xy[:, 1],
                s=2.5,
                color=_SAMPLE_COLOR,
                alpha=0.3,
                linewidths=0,
                zorder=2,
                gid="samples",
            )
    if mappable is not None:
        bar = fig.colorbar(mappable, ax=axes, shrink=0.8, aspect=25 * rows, pad=0.01, extend="both")
        bar.set_label("density (log scale)")
    parts = ["shading: exact density"] if densities else []
    if dots > 0 and densities:
        of = f" (the first of {samples})" if dots < samples else ""
        parts.append(f"red dots: {plural(dots, 'sample')}{of}")
    if 0 in taus:
        parts.append("τ = 0: the categorical's point masses, areas ∝ π")
    _suptitle(
        fig, f"Gumbel-Softmax on the simplex, π\u00a0=\u00a0{_pi_text(p)}\n" + ";  ".join(parts)
    )
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

    cols, rows = min(len(taus), _COLS), math.ceil(len(taus) / _COLS)
    fig = _figure(max(2.4 * cols + 0.5, 6.0), 0.75 + 2.6 * rows)
    axes = _panels(fig, len(taus))
    for i, (ax, tau) in enumerate(zip(axes, taus, strict=True)):
        ax.set_title(_tau_text(tau))
        ax.set_xlim(-0.04, 1.04)
        ax.set_xticks([0, 0.5, 1], ["0", "0.5", "1"])
        ax.set_xlabel("y₁")
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
                    fontsize=10,
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
        ax.plot(x, density, color=_INK, lw=1.6, gid="density")
        ax.set_ylim(0, 1.08 * top)
        if i % _COLS == 0 or (i % _COLS == 1 and taus[i - 1] == 0):
            ax.set_ylabel("density")
    detail = "line: exact density"
    if samples > 0 and any(t > 0 for t in taus):
        detail += f";  bars: histogram of {plural(samples, 'sample')}"
    if 0 in taus:
        detail += ";  τ = 0: point masses"
    _suptitle(
        fig,
        f"Binary Gumbel-Softmax on the segment y₁ + y₂ = 1, π\u00a0=\u00a0{_pi_text(p)}\n{detail}",
    )
    return fig


# --------------------------------------------------------------------------- bars


@_styled
def draw_bars(*, pi: Sequence[float], taus: Sequence[float], samples: int, seed: int) -> Figure:
    """Jang et al.'s figure 1: expectation and one sample of a Gumbel-Softmax, across tau.

    Top row: the Monte Carlo mean of ``samples`` draws per category, ``pi`` marked on it;
    bottom row: one draw (from the same noise at every temperature).
    """
    p = _normalise(pi)
    k = len(p)
    cats = np.arange(1, k + 1)
    n = len(taus)
    fig = _figure(min(max(2.3 * n + 0.8, 6.0), 11.0), 4.9)
    axes = fig.subplots(2, n, squeeze=False, sharey=True)
    for j, tau in enumerate(taus):
        y = _soft_samples(p, tau, samples, seed)
        top, bottom = axes[0, j], axes[1, j]
        top.bar(cats, y.mean(axis=0), color=_BLUE, width=0.7, gid="expectation")
        top.hlines(p, cats - 0.42, cats + 0.42, color=_INK, lw=2, zorder=3, gid="pi")
        bottom.bar(cats, y[0], color=_ORANGE, width=0.7, gid="sample")
        top.set_title(_tau_text(tau))
        for ax in (top, bottom):
            ax.set_ylim(0, 1)
            ax.set_xlim(0.4, k + 0.6)
            if k <= 8:
                ax.set_xticks(cats)
            else:
                ax.xaxis.set_major_locator(MaxNLocator(nbins=4, integer=True))
        bottom.set_xlabel("category")
    axes[0, 0].set_ylabel("expectation")
    axes[1, 0].set_ylabel("one sample")
    what = f"π\u00a0=\u00a0{_pi_text(p)}" if k <= 6 else f"{k} categories"
    _suptitle(
        fig,
        f"Gumbel-Softmax, {what}\n"
        f"top: mean of {plural(samples, 'sample')} (black lines: π);  bottom: one sample",
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


@_styled
def draw_gradient_variance(
    *, theta: float, taus: Sequence[float], samples: int, seed: int, target: float
) -> Figure:
    """Bias and variance of the Gumbel-Softmax and straight-through gradients against tau.

    Toy objective ``E[(b - target)^2]``, ``b ~ Bernoulli(sigmoid(theta))``, exact gradient
    ``sigmoid'(theta) ((1 - target)^2 - target^2)``. ``samples`` draws per temperature
    (rounded down to an even number: antithetic pairs); a hollow marker is a bias within two
    Monte Carlo standard errors of zero. ``tau = 0`` has no gradient and is left out.
    """
    ts = np.array(sorted({float(t) for t in taus if t > 0}))
    s = 1.0 / (1.0 + math.exp(-theta))
    exact = s * (1.0 - s) * ((1.0 - target) ** 2 - target**2)
    pairs = max(samples // 2, 1)

    fig = _figure(9.6, 4.2)
    ax_bias, ax_var = fig.subplots(1, 2)
    estimators = [
        ("gs", "Gumbel-Softmax", False, _BLUE, "o", "-", 7.5),
        ("st", "straight-through", True, _ORANGE, "s", "--", 5.5),
    ]
    biases: list[Array] = []
    errors: list[Array] = []
    for key, label, hard, color, marker, ls, size in estimators:
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
        # The line joins the biases told apart from 0; the others get hollow markers only.
        ax_bias.plot(
            ts,
            np.where(resolved, abs_bias, np.nan),
            color=color,
            ls=ls,
            lw=1.6,
            marker=marker,
            ms=size,
            label=label,
            gid=f"bias-{key}",
        )
        ax_bias.plot(
            ts[~resolved],
            abs_bias[~resolved],
            ls="",
            marker=marker,
            ms=size,
            mfc="white",
            mec=color,
            mew=1.4,
            gid=f"bias-{key}-unresolved",
        )
        ax_var.plot(
            ts,
            var,
            color=color,
            ls=ls,
            lw=1.6,
            marker=marker,
            ms=size,
            label=label,
            gid=f"variance-{key}",
        )
    for ax, name in ((ax_bias, "|bias|"), (ax_var, "variance")):
        ax.set_xscale("log")
        ax.set_yscale("log")
        ax.set_xlabel("temperature τ")
        ax.set_ylabel(f"{name} of the gradient estimate")
        ax.grid(True, which="major", color="#dddddd", lw=0.7)
        ax.set_xticks(ts, [f"{t:g}" for t in ts])
        ax.xaxis.set_minor_locator(NullLocator())
    band = np.maximum(errors[0], errors[1])
    shown = np.concatenate([*biases, band[band > 0]])
    low, high = float(shown.min()) / 3.0, float(shown.max()) * 2.0
    ax_bias.fill_between(
        ts,
        low,
        np.maximum(band, low),
        color="#e6e6e6",
        lw=0,
        zorder=0,
        gid="mc-error",
    )
    ax_bias.set_ylim(low, high)
    ax_bias.set_title("|bias|  (grey: Monte Carlo error, 2 s.e.)", fontsize=11)
    ax_var.set_title("variance", fontsize=11)
    ax_var.legend(frameon=False, loc="best")
    same = np.allclose(biases[0], biases[1], rtol=1e-6, atol=0.0)
    _suptitle(
        fig,
        f"Gradient of E[(b - {target:g})²] w.r.t. θ, b ~ Bernoulli(σ(θ)), θ = {theta:g}\n"  # noqa: RUF001
        f"exact gradient {exact:.3g};  {2 * pairs} draws per τ"
        + (";  both estimators have the same bias here" if same else ""),
    )
    return fig


# --------------------------------------------------------------------------- output


def save_figure(fig: Figure, path: Path) -> None:
    """Write ``fig`` as a PNG at :data:`DPI` through the Agg canvas, atomically.

    No software tag or timestamp goes into the file, so the same figure gives the same bytes.
    """
    FigureCanvasAgg(fig)
    with _style(), atomic_path(Path(path)) as tmp:
        fig.savefig(tmp, format="png", dpi=DPI, metadata={"Software": None})


DRAWERS: dict[str, Callable[..., Figure]] = {
    "simplex": draw_simplex,
    "segment": draw_segment,
    "bars": draw_bars,
    "gradient-variance": draw_gradient_variance,
}
