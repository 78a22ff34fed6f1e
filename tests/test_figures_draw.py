"""The figure functions: what each figure shows is checked on its data, then its PNG bytes."""

from __future__ import annotations

import inspect
import itertools
import math
import struct
import subprocess
import sys
from collections.abc import Mapping
from pathlib import Path
from typing import Any

import numpy as np
import pytest

pytest.importorskip("torch")
pytest.importorskip("matplotlib")

import matplotlib
import torch
from matplotlib.axes import Axes
from matplotlib.backends.backend_agg import FigureCanvasAgg
from matplotlib.collections import LineCollection, PathCollection, PolyCollection
from matplotlib.colors import BoundaryNorm, to_rgb
from matplotlib.figure import Figure
from matplotlib.lines import Line2D
from matplotlib.patches import Rectangle
from PIL import Image
from scipy import stats

from paperdeck.figures import draw
from paperdeck.gumbel import gumbel_noise, log_prob, log_prob_binary

SIMPLEX: dict[str, Any] = {
    "pi": (2.0, 0.5, 1.0),
    "taus": (0.0, 0.5, 1.0, 2.0),
    "samples": 300,
    "seed": 3,
    "grid": 24,
}
SEGMENT: dict[str, Any] = {
    "pi": (2.0, 1.0),
    "taus": (0.0, 0.5, 2.0),
    "samples": 4000,
    "seed": 3,
    "bins": 20,
}
BARS: dict[str, Any] = {
    "pi": (0.1, 0.05, 0.3, 0.35, 0.2),
    "taus": (0.1, 0.5, 1.0, 10.0),
    "samples": 2000,
    "seed": 3,
}
GRADIENT: dict[str, Any] = {
    "theta": 0.0,
    "taus": (0.1, 0.3, 1.0, 3.0, 10.0),
    "samples": 4000,
    "seed": 3,
    "target": 0.499,
}
SPECS: dict[str, dict[str, Any]] = {
    "simplex": SIMPLEX,
    "segment": SEGMENT,
    "bars": BARS,
    "gradient-variance": GRADIENT,
}


def artists(ax: Axes, gid: str) -> list[Any]:
    return [a for a in ax.get_children() if a.get_gid() == gid]


def artist(ax: Axes, gid: str) -> Any:
    found = artists(ax, gid)
    assert len(found) == 1, f"expected one artist {gid!r}, found {len(found)}"
    return found[0]


def barycentric(xy: np.ndarray) -> np.ndarray:
    """Points of the drawn triangle back to the simplex, solving with its vertex matrix."""
    system = np.vstack([draw.VERTICES.T, np.ones(3)])  # [x; y; 1] = system @ b
    rhs = np.vstack([np.asarray(xy, dtype=np.float64).T, np.ones(len(xy))])
    return np.linalg.solve(system, rhs).T


def concrete_density(y: np.ndarray, pi: np.ndarray, tau: float) -> np.ndarray:
    """Jang et al. Eq. (3), written out in numpy."""
    k = y.shape[-1]
    pi = pi / pi.sum()
    density: np.ndarray = (
        math.gamma(k)
        * tau ** (k - 1)
        * np.sum(pi / y**tau, axis=-1) ** (-k)
        * np.prod(pi / y ** (tau + 1), axis=-1)
    )
    return density


def as_read(text: str) -> str:
    """A title as a reader reads it: line breaks and non-breaking spaces as plain spaces."""
    return " ".join(text.replace("\u00a0", " ").split())


def draw_image(fig: Figure) -> np.ndarray:
    """The figure's pixels (RGBA, top row first), drawn on its Agg canvas."""
    canvas = FigureCanvasAgg(fig)
    canvas.draw()
    return np.asarray(canvas.buffer_rgba())


# --- colour science, written out here (sRGB, WCAG 2, CIELAB, Machado et al. 2009) ---------


def linear_rgb(rgb: Any) -> np.ndarray:
    c = np.asarray(rgb, dtype=np.float64)[..., :3]
    return np.where(c <= 0.04045, c / 12.92, ((c + 0.055) / 1.055) ** 2.4)


def srgb(linear: np.ndarray) -> np.ndarray:
    c = np.clip(linear, 0.0, 1.0)
    return np.where(c <= 0.0031308, 12.92 * c, 1.055 * c ** (1 / 2.4) - 0.055)


def luminance(rgb: Any) -> np.ndarray:
    return linear_rgb(rgb) @ np.array([0.2126, 0.7152, 0.0722])


def contrast(a: Any, b: Any) -> float:
    """WCAG 2 contrast ratio: 3 is the least for graphical objects (success criterion 1.4.11)."""
    la, lb = float(luminance(a)), float(luminance(b))
    return (max(la, lb) + 0.05) / (min(la, lb) + 0.05)


def cielab(rgb: Any) -> np.ndarray:
    xyz = (
        linear_rgb(rgb)
        @ np.array([[0.4124, 0.3576, 0.1805], [0.2126, 0.7152, 0.0722], [0.0193, 0.1192, 0.9505]]).T
    )
    xyz = xyz / np.array([0.95047, 1.0, 1.08883])
    f = np.where(xyz > (6 / 29) ** 3, np.cbrt(xyz), xyz / (3 * (6 / 29) ** 2) + 4 / 29)
    return np.stack(
        [116 * f[..., 1] - 16, 500 * (f[..., 0] - f[..., 1]), 200 * (f[..., 1] - f[..., 2])],
        axis=-1,
    )


def delta_e(a: Any, b: Any) -> float:
    return float(np.linalg.norm(cielab(a) - cielab(b)))


# Machado, Oliveira and Fernandes (2009), severity 1.0: what a dichromat sees.
COLOUR_VISION = {
    "typical": np.eye(3),
    "protanopia": np.array(
        [
            [0.152286, 1.052583, -0.204868],
            [0.114503, 0.786281, 0.099216],
            [-0.003882, -0.048116, 1.051998],
        ]
    ),
    "deuteranopia": np.array(
        [
            [0.367322, 0.860646, -0.227968],
            [0.280085, 0.672501, 0.047413],
            [-0.011820, 0.042940, 0.968881],
        ]
    ),
    "tritanopia": np.array(
        [
            [1.255528, -0.076749, -0.178779],
            [-0.078411, 0.930809, 0.147602],
            [0.004733, 0.691367, 0.303900],
        ]
    ),
}


def seen(rgb: Any, vision: str) -> np.ndarray:
    return srgb(linear_rgb(rgb) @ COLOUR_VISION[vision].T)


@pytest.fixture(scope="module")
def simplex() -> Figure:
    return draw.draw_simplex(**SIMPLEX)


@pytest.fixture(scope="module")
def segment() -> Figure:
    return draw.draw_segment(**SEGMENT)


@pytest.fixture(scope="module")
def bars() -> Figure:
    return draw.draw_bars(**BARS)


@pytest.fixture(scope="module")
def gradient() -> Figure:
    return draw.draw_gradient_variance(**GRADIENT)


# --------------------------------------------------------------------------- interface


def test_drawers_match_the_spec_kinds() -> None:
    from paperdeck.figures.spec import KINDS

    assert set(draw.DRAWERS) == set(KINDS)
    for kind, params in KINDS.items():
        signature = inspect.signature(draw.DRAWERS[kind])
        assert all(p.kind is inspect.Parameter.KEYWORD_ONLY for p in signature.parameters.values())
        assert set(signature.parameters) == {p.keyword for p in params.values()}
        assert set(SPECS[kind]) == set(signature.parameters)


def test_figures_are_built_without_pyplot_in_a_fresh_interpreter(tmp_path: Path) -> None:
    code = (
        "import sys\n"
        "from pathlib import Path\n"
        "from paperdeck.figures.draw import draw_bars, save_figure\n"
        "fig = draw_bars(pi=[1, 2], taus=[1.0], samples=10, seed=0)\n"
        f"save_figure(fig, Path({str(tmp_path / 'a.png')!r}))\n"
        "assert 'matplotlib.pyplot' not in sys.modules, 'pyplot imported'\n"
    )
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True)
    assert done.returncode == 0, done.stderr
    assert (tmp_path / "a.png").read_bytes().startswith(b"\x89PNG\r\n\x1a\n")


def test_drawing_leaves_the_global_rc_params_alone() -> None:
    before = dict(matplotlib.rcParams)
    draw.draw_bars(pi=[1, 2], taus=[1.0], samples=10, seed=0)
    assert dict(matplotlib.rcParams) == before


# --------------------------------------------------------------------------- simplex


def test_simplex_has_one_panel_per_tau_and_one_colour_key(simplex: Figure) -> None:
    taus = SIMPLEX["taus"]
    assert len(simplex.axes) == len(taus) + 1
    panels, key = simplex.axes[:-1], simplex.axes[-1]
    assert [ax.get_title() for ax in panels] == ["τ = 0", "τ = 0.5", "τ = 1", "τ = 2"]
    assert key.get_gid() == "mass-key"
    assert key.get_xlabel() == "share of the draws, likeliest places first"
    assert [t.get_text() for t in key.get_xticklabels()] == ["0%", "50%", "75%", "90%", "100%"]
    assert as_read(simplex.get_suptitle()).startswith("Gumbel-Softmax, π = (0.57, 0.14, 0.29)")
    labels = [t.get_text() for t in panels[1].texts]
    assert labels[:3] == ["1", "2", "3"]
    assert panels[0].texts[3].get_text() == "one-hot, area ∝ π"


def test_simplex_shading_is_the_exact_density_on_a_grid_inside_the_simplex(
    simplex: Figure,
) -> None:
    pi = np.array(SIMPLEX["pi"])
    grid = SIMPLEX["grid"]
    for ax, tau in zip(simplex.axes, SIMPLEX["taus"], strict=False):
        if tau == 0:
            assert artists(ax, "density") == []
            continue
        mesh = artist(ax, "density")
        assert isinstance(mesh, PolyCollection)
        triangles = np.array([np.asarray(p.vertices)[:3] for p in mesh.get_paths()])
        assert triangles.shape == (grid**2, 3, 2)
        # The small triangles tile the big one.
        a, b, c = triangles[:, 0], triangles[:, 1], triangles[:, 2]
        u, v = b - a, c - a
        areas = 0.5 * np.abs(u[:, 0] * v[:, 1] - u[:, 1] * v[:, 0])
        assert areas.sum() == pytest.approx(math.sqrt(3) / 4, rel=1e-9)
        # Each value is the density at its triangle's centroid, strictly inside the simplex.
        y = barycentric(triangles.mean(axis=1))
        assert y.min() > 0.0
        np.testing.assert_allclose(y.sum(axis=1), 1.0, atol=1e-12)
        values = np.asarray(mesh.get_array())
        expected = torch.exp(log_prob(torch.from_numpy(y), torch.log(torch.tensor(pi)), tau))
        np.testing.assert_allclose(values, expected.numpy(), rtol=1e-9)
        np.testing.assert_allclose(values, concrete_density(y, pi, tau), rtol=1e-8)


def gumbel_softmax_draws(pi: np.ndarray, tau: float, n: int, seed: int) -> np.ndarray:
    """Draws made here with numpy (not paperdeck's sampler): softmax((log pi + g) / tau)."""
    g = np.random.default_rng(seed).gumbel(size=(n, len(pi)))
    z = (np.log(pi / pi.sum()) + g) / tau
    z -= z.max(axis=1, keepdims=True)
    y: np.ndarray = np.exp(z) / np.exp(z).sum(axis=1, keepdims=True)
    return y


@pytest.fixture(scope="module")
def fine_simplex() -> Figure:
    """The example's simplex on a finer grid and without dots: the shading as it is seen."""
    return draw.draw_simplex(**{**SIMPLEX, "samples": 0, "grid": 120})


def test_simplex_colour_bands_hold_the_shares_the_key_names(fine_simplex: Figure) -> None:
    """Fresh draws (numpy's, another seed) land in the bands in the key's proportions."""
    pi = np.array(SIMPLEX["pi"])
    mesh, _ = draw._simplex_mesh(120)
    find = mesh.get_trifinder()
    levels = draw.MASS_LEVELS
    for ax, tau in zip(fine_simplex.axes, SIMPLEX["taus"], strict=False):
        if tau == 0:
            continue
        shading = artist(ax, "density")
        assert isinstance(shading.norm, BoundaryNorm)
        assert len(shading.norm.boundaries) - 1 == len(levels) + 1
        band = np.asarray(shading.norm(np.asarray(shading.get_array())))
        xy = gumbel_softmax_draws(pi, tau, 40_000, seed=99) @ draw.VERTICES
        cell = find(xy[:, 0], xy[:, 1])
        assert (cell >= 0).all()
        # The brightest band holds the likeliest 50 %, the two brightest 75 %, and so on:
        # within 2.5 % (sampling error about 0.25 %; the rest is cells the cut crosses).
        for rank, level in enumerate(levels):
            inside = band[cell] >= len(levels) - rank
            assert np.mean(inside) == pytest.approx(level, abs=0.025), (tau, level)


def test_simplex_captions_give_the_share_of_nearly_one_hot_draws(fine_simplex: Figure) -> None:
    pi = np.array(SIMPLEX["pi"])
    shares = []
    for ax, tau in zip(fine_simplex.axes, SIMPLEX["taus"], strict=False):
        if tau == 0:
            continue
        caption = artist(ax, "one-hot-share").get_text()
        shown = float(caption.removesuffix("% nearly one-hot")) / 100
        y = gumbel_softmax_draws(pi, tau, 200_000, seed=7)
        # Rounded to 1 % (0.5 %), from 40 000 draws (standard error at most 0.25 %).
        assert shown == pytest.approx(np.mean(y.max(axis=1) > draw.ONE_HOT), abs=0.015)
        shares.append(shown)
    assert shares[0] > 2.5 * shares[1] > 2.5 * shares[2]  # 44 %, 14 %, 1 %: mass leaves the corners


def lightness(rgb: np.ndarray) -> np.ndarray:
    """CIELAB L* of sRGB colours (0-1)."""
    return cielab(rgb)[..., 0]


def panel_pixels(fig: Figure, ax: Axes, bary: np.ndarray) -> np.ndarray:
    """The rendered colours (0-1) at barycentric points of a simplex panel."""
    image = np.asarray(draw_image(fig), dtype=np.float64)[..., :3] / 255
    xy = ax.transData.transform(bary @ draw.VERTICES)
    rows = image.shape[0] - 1 - np.round(xy[:, 1]).astype(int)
    pixels: np.ndarray = image[rows, np.round(xy[:, 0]).astype(int)]
    return pixels


def interior_points(n: int = 80) -> np.ndarray:
    a, b = np.meshgrid(np.arange(1, n), np.arange(1, n), indexing="ij")
    keep = a + b < n
    return np.stack([a[keep], b[keep], n - a[keep] - b[keep]], axis=-1) / n


def test_simplex_panels_show_where_the_mass_is_not_a_flat_colour(fine_simplex: Figure) -> None:
    """Read from the pixels. The old log-scale panels at tau = 0.5 and 1 were one flat green
    (the lightness of their middle 90 % spanned 15 and 17 L*); here each spans over 25."""
    points = interior_points()
    for ax, tau in zip(fine_simplex.axes, SIMPLEX["taus"], strict=False):
        if tau == 0:
            continue
        light = lightness(panel_pixels(fine_simplex, ax, points))
        assert np.percentile(light, 95) - np.percentile(light, 5) > 25, tau


def test_simplex_tau_half_and_one_look_clearly_different(fine_simplex: Figure) -> None:
    """The brightest band (where half the draws fall) is what the eye finds first: at
    tau = 0.5 it is slivers at the corners, at tau = 1 a broad band, at tau = 2 the middle.
    Counted in the pixels: its area grows over five times from tau = 0.5 to tau = 1, and its
    points sit at the corners (largest coordinate) at 0.5, not in the middle as at 2."""
    points = interior_points()
    brightest = np.array(draw.band_colors()[0][:3])
    areas, spots = [], []
    for ax, tau in zip(fine_simplex.axes, SIMPLEX["taus"], strict=False):
        if tau == 0:
            continue
        pixels = panel_pixels(fine_simplex, ax, points)
        bright = np.linalg.norm(cielab(pixels) - cielab(brightest), axis=-1) < 5
        areas.append(float(np.mean(bright)))
        spots.append(float(np.median(points[bright].max(axis=1))) if bright.any() else 1.0)
    assert areas[1] > 5 * areas[0] > 0
    assert spots[0] > 0.8 and spots[2] < 0.6, spots


def test_simplex_samples_are_gumbel_softmax_draws_inside_the_triangle(simplex: Figure) -> None:
    pi = np.array(SIMPLEX["pi"])
    for ax, tau in zip(simplex.axes, SIMPLEX["taus"], strict=False):
        if tau == 0:
            continue
        dots = artist(ax, "samples")
        assert isinstance(dots, PathCollection)
        xy = np.asarray(dots.get_offsets())
        assert xy.shape == (SIMPLEX["samples"], 2)
        y = barycentric(xy)
        assert y.min() >= -1e-12
        # Checked against the distribution, not against paperdeck's sampler: for a
        # Gumbel-Softmax draw, tau * log(y_i / y_j) - log(pi_i / pi_j) is Logistic(0, 1).
        for i, j in [(0, 1), (2, 0)]:
            shifted = tau * np.log(y[:, i] / y[:, j]) - np.log(pi[i] / pi[j])
            assert stats.kstest(shifted, stats.logistic.cdf).pvalue > 1e-3


def test_simplex_tau_zero_draws_three_point_masses_sized_like_pi(simplex: Figure) -> None:
    pi = np.array(SIMPLEX["pi"])
    panel = simplex.axes[0]
    masses = artist(panel, "point-masses")
    assert isinstance(masses, PathCollection)
    np.testing.assert_allclose(np.asarray(masses.get_offsets()), draw.VERTICES)
    sizes = masses.get_sizes()
    assert len(sizes) == 3
    assert list(np.argsort(sizes)) == list(np.argsort(pi))
    np.testing.assert_allclose(sizes / sizes.sum(), pi / pi.sum())
    assert artists(panel, "samples") == []


def test_simplex_without_positive_tau_has_no_colorbar() -> None:
    fig = draw.draw_simplex(pi=[1, 1, 1], taus=[0.0], samples=50, seed=0, grid=10)
    assert len(fig.axes) == 1
    assert fig.axes[0].get_title() == "τ = 0"


def test_simplex_with_many_taus_wraps_onto_rows() -> None:
    taus = [0.5, 1, 2, 3, 4, 5]
    fig = draw.draw_simplex(pi=[1, 2, 3], taus=taus, samples=0, seed=0, grid=10)
    assert len(fig.axes) == len(taus) + 1  # the panels and one colorbar, no empty slots
    assert [ax.get_title() for ax in fig.axes[:-1]] == [f"τ = {t:g}" for t in taus]
    assert all(artists(ax, "samples") == [] for ax in fig.axes[:-1])
    assert fig.get_figwidth() <= draw.WIDTH  # more panels make it taller, never wider
    assert [ax.get_subplotspec().colspan.start for ax in fig.axes[:-1]] == [0, 1, 2, 0, 1, 2]


def test_simplex_draws_a_readable_number_of_dots() -> None:
    many = draw._MAX_DOTS + 500
    fig = draw.draw_simplex(pi=[1, 2, 3], taus=[1.0], samples=many, seed=0, grid=10)
    assert len(artist(fig.axes[0], "samples").get_offsets()) == draw._MAX_DOTS
    assert f"the first of {many}" in as_read(fig.get_suptitle())


PERCEPTUALLY_UNIFORM = {"viridis", "cividis", "plasma", "inferno", "magma"}


def test_simplex_palette_reads_for_every_colour_vision(simplex: Figure) -> None:
    """A named perceptually uniform map, cut into bands whose lightness falls step by step
    for typical, protan, deutan and tritan vision alike; the dots contrast at least 3:1
    (WCAG's least for graphics) with every band, for every vision."""
    assert draw.CMAP in PERCEPTUALLY_UNIFORM
    bands = [to_rgb(c) for c in draw.band_colors()]
    assert len(bands) == len(draw.MASS_LEVELS) + 1
    shading = artist(simplex.axes[1], "density")
    shown = [to_rgb(shading.cmap(i)) for i in range(shading.cmap.N)]
    assert shown == bands[::-1]  # the shading uses exactly these colours, least likely first
    key = simplex.axes[-1]
    (bar,) = [c for c in key.collections if c.get_array() is not None]
    assert [to_rgb(bar.cmap(i)) for i in range(bar.cmap.N)] == bands
    dots = artist(simplex.axes[1], "samples")
    assert to_rgb(dots.get_facecolor()[0]) == to_rgb(draw.DOT_COLOR)
    assert dots.get_alpha() is None and dots.get_facecolor()[0][3] == 1.0
    for vision in COLOUR_VISION:
        light = [float(cielab(seen(c, vision))[0]) for c in bands]
        assert all(a - b > 8 for a, b in itertools.pairwise(light)), (vision, light)
        dot = seen(to_rgb(draw.DOT_COLOR), vision)
        assert min(contrast(dot, seen(c, vision)) for c in bands) >= 3.0, vision


# --------------------------------------------------------------------------- segment


def test_segment_has_one_labelled_panel_per_tau(segment: Figure) -> None:
    assert len(segment.axes) == len(SEGMENT["taus"])
    assert [ax.get_title() for ax in segment.axes] == ["τ = 0", "τ = 0.5", "τ = 2"]
    # Two to a row; the x axis named under each column's last panel only.
    assert [ax.get_xlabel() for ax in segment.axes] == ["", "y₁", "y₁"]
    assert [ax.get_ylabel() for ax in segment.axes] == ["probability", "density", "density"]


def test_segment_curve_is_the_binary_concrete_density(segment: Figure) -> None:
    pi = np.array(SEGMENT["pi"]) / sum(SEGMENT["pi"])
    for ax, tau in zip(segment.axes[1:], SEGMENT["taus"][1:], strict=True):
        line = artist(ax, "density")
        assert isinstance(line, Line2D)
        x = np.asarray(line.get_xdata(), dtype=np.float64)
        y = np.asarray(line.get_ydata(), dtype=np.float64)
        assert x.min() > 0.0 and x.max() < 1.0
        xt = torch.from_numpy(x)
        binary = torch.exp(log_prob_binary(xt, math.log(pi[0] / pi[1]), tau)).numpy()
        simplex = torch.stack([xt, 1 - xt], dim=-1)
        general = torch.exp(log_prob(simplex, torch.log(torch.tensor(pi)), tau)).numpy()
        np.testing.assert_allclose(y, binary, rtol=1e-9)
        np.testing.assert_allclose(y, general, rtol=1e-6)
        np.testing.assert_allclose(y, concrete_density(np.stack([x, 1 - x], -1), pi, tau))


def test_segment_histogram_is_a_density_of_the_samples(segment: Figure) -> None:
    for ax, tau in zip(segment.axes[1:], SEGMENT["taus"][1:], strict=True):
        bars = artists(ax, "histogram")
        assert len(bars) == SEGMENT["bins"]
        assert all(isinstance(b, Rectangle) for b in bars)
        widths = np.array([b.get_width() for b in bars])
        heights = np.array([b.get_height() for b in bars])
        assert float(np.sum(widths * heights)) == pytest.approx(1.0)
        assert bars[0].get_x() == pytest.approx(0.0)
        assert bars[-1].get_x() + bars[-1].get_width() == pytest.approx(1.0)
        if tau >= 1:  # away from the divergent ends the histogram follows the density
            line = artist(ax, "density")
            centers = np.array([b.get_x() + b.get_width() / 2 for b in bars])
            curve = np.interp(centers, line.get_xdata(), line.get_ydata())
            assert np.abs(heights - curve).max() < 0.35


def test_segment_tau_zero_draws_the_two_point_masses(segment: Figure) -> None:
    pi = np.array(SEGMENT["pi"]) / sum(SEGMENT["pi"])
    masses = artist(segment.axes[0], "point-masses")
    np.testing.assert_allclose(masses.get_xdata(), [0.0, 1.0])
    np.testing.assert_allclose(masses.get_ydata(), [pi[1], pi[0]])  # y_1 = 1 is category 1
    assert artists(segment.axes[0], "histogram") == []


def test_segment_without_samples_draws_only_the_density() -> None:
    fig = draw.draw_segment(pi=[1, 3], taus=[0.3], samples=0, seed=0, bins=10)
    (ax,) = fig.axes
    assert artists(ax, "histogram") == []
    assert isinstance(artist(ax, "density"), Line2D)


# --------------------------------------------------------------------------- bars


def bar_heights(ax: Axes, gid: str) -> np.ndarray:
    return np.array([b.get_height() for b in artists(ax, gid)])


def test_bars_have_an_expectation_row_and_a_sample_row(bars: Figure) -> None:
    n, k = len(BARS["taus"]), len(BARS["pi"])
    assert len(bars.axes) == 2 * n
    top, bottom = bars.axes[:n], bars.axes[n:]
    assert [ax.get_title() for ax in top] == ["τ = 0.1", "τ = 0.5", "τ = 1", "τ = 10"]
    assert top[0].get_ylabel() == "mean"
    assert bottom[0].get_ylabel() == "one draw"
    assert as_read(bars.get_suptitle()).endswith("mean of 2000 draws (black: π); one draw below")
    for ax in bars.axes:
        assert ax.get_ylim() == (0.0, 1.0)
        assert list(ax.get_xticks()) == list(range(1, k + 1))


def test_bars_expectations_sum_to_one_and_drift_to_uniform(bars: Figure) -> None:
    n, k = len(BARS["taus"]), len(BARS["pi"])
    pi = np.array(BARS["pi"]) / sum(BARS["pi"])
    means = []
    for ax in bars.axes[:n]:
        heights = bar_heights(ax, "expectation")
        assert len(heights) == k
        assert heights.sum() == pytest.approx(1.0, abs=1e-9)
        marks = artist(ax, "pi")
        assert isinstance(marks, LineCollection)
        np.testing.assert_allclose([s[0, 1] for s in marks.get_segments()], pi)
        means.append(heights)
    # Low tau: the categorical's probabilities; high tau: close to uniform.
    np.testing.assert_allclose(means[0], pi, atol=0.04)
    spread = [float(np.abs(m - 1 / k).max()) for m in means]
    assert spread == sorted(spread, reverse=True)
    assert spread[-1] < 0.05


def test_bars_sample_row_holds_one_point_of_the_simplex(bars: Figure) -> None:
    n = len(BARS["taus"])
    pi = np.array(BARS["pi"]) / sum(BARS["pi"])
    rows = []
    for ax, tau in zip(bars.axes[n:], BARS["taus"], strict=True):
        heights = bar_heights(ax, "sample")
        assert heights.min() >= 0
        assert heights.sum() == pytest.approx(1.0, abs=1e-9)
        rows.append((tau, heights))
    # One draw of noise g for every panel, shown at each tau: tau * log(y_i / y_0) is
    # log(pi_i / pi_0) + g_i - g_0 whatever tau, so it must agree across the panels.
    noise = [tau * np.log(h / h[0]) - np.log(pi / pi[0]) for tau, h in rows]
    for other in noise[1:]:
        np.testing.assert_allclose(other, noise[0], atol=1e-6)


def test_bars_with_tau_zero_show_one_hot_samples() -> None:
    fig = draw.draw_bars(pi=[1, 1, 2], taus=[0.0], samples=20, seed=5)
    top, bottom = fig.axes
    assert sorted(bar_heights(bottom, "sample")) == [0.0, 0.0, 1.0]
    assert np.all(bar_heights(top, "expectation") * 20 % 1 == 0)  # frequencies of 20 draws


# --------------------------------------------------------------------------- gradients


def curve(ax: Axes, gid: str) -> tuple[np.ndarray, np.ndarray]:
    line = artist(ax, gid)
    assert isinstance(line, Line2D)
    return np.asarray(line.get_xdata(), float), np.asarray(line.get_ydata(), float)


def full_bias(ax: Axes, key: str) -> np.ndarray:
    """|bias| per tau: the joined points and the hollow (within-error) ones together."""
    ts, joined = curve(ax, f"bias-{key}")
    hollow_t, hollow = curve(ax, f"bias-{key}-unresolved")
    out = joined.copy()
    for t, b in zip(hollow_t, hollow, strict=True):
        i = int(np.flatnonzero(ts == t)[0])
        assert np.isnan(out[i])
        out[i] = b
    assert not np.isnan(out).any()
    return out


def test_gradient_figure_has_bias_and_variance_panels(gradient: Figure) -> None:
    ax_bias, ax_var = gradient.axes
    assert len(gradient.axes) == 2
    assert ax_bias.get_title(loc="left") == "|bias| of the gradient estimate"
    assert ax_var.get_title(loc="left") == "variance of the gradient estimate"
    assert (ax_bias.get_ylabel(), ax_var.get_ylabel()) == ("|bias|", "variance")
    for ax in gradient.axes:
        assert ax.get_xscale() == ax.get_yscale() == "log"
    assert ax_var.get_xlabel() == "temperature τ"
    # Stacked on one tau axis, each with its tick labels.
    assert ax_bias.get_position().y0 > ax_var.get_position().y1
    assert ax_bias.get_xlim() == ax_var.get_xlim()
    draw_image(gradient)
    for ax in gradient.axes:
        shown = [t.get_text() for t in ax.get_xticklabels() if t.get_visible()]
        assert shown == [f"{t:g}" for t in GRADIENT["taus"]]
    for key in ("gs", "st"):
        ts, _ = curve(ax_var, f"variance-{key}")
        np.testing.assert_allclose(ts, GRADIENT["taus"])
        np.testing.assert_allclose(curve(ax_bias, f"bias-{key}")[0], GRADIENT["taus"])


def legend_entries(fig: Figure) -> dict[str, list[Any]]:
    """The one figure legend's entries: label to the artists drawn as its key."""
    (legend,) = fig.legends
    entries = {}
    for column in legend._legend_handle_box.get_children():
        for entry in column.get_children():
            key, text = entry.get_children()
            entries[text.get_text()] = key.get_children()
    return entries


def test_gradient_legend_explains_every_mark_for_both_panels(gradient: Figure) -> None:
    """One legend for the figure (no panel has its own): both series, the grey band and the
    hollow markers, each key drawn as in the panels."""
    ax_bias, ax_var = gradient.axes
    assert [ax.get_legend() for ax in gradient.axes] == [None, None]
    assert gradient.legends[0].get_gid() == "legend"
    entries = legend_entries(gradient)
    assert list(entries) == [
        "Gumbel-Softmax",
        "straight-through",
        "Monte Carlo error",
        "hollow: within the error",
    ]
    for label, key in (("Gumbel-Softmax", "gs"), ("straight-through", "st")):
        (shown,) = entries[label]
        for line in (artist(ax_bias, f"bias-{key}"), artist(ax_var, f"variance-{key}")):
            assert shown.get_color() == line.get_color()
            assert shown.get_marker() == line.get_marker()
            assert shown.get_linestyle() == line.get_linestyle()
            assert shown.get_markerfacecolor() == line.get_markerfacecolor()
    (band,) = entries["Monte Carlo error"]
    fill = artist(ax_bias, "mc-error")
    np.testing.assert_allclose(band.get_facecolor(), fill.get_facecolor()[0])
    hollow = entries["hollow: within the error"]
    assert len(hollow) == 2
    for shown, key in zip(hollow, ("gs", "st"), strict=True):
        drawn = artist(ax_bias, f"bias-{key}-unresolved")
        assert len(drawn.get_xdata()) > 0  # the example has hollow markers to explain
        white = to_rgb(drawn.get_markerfacecolor())
        assert white == to_rgb(shown.get_markerfacecolor()) == (1, 1, 1)
        assert shown.get_marker() == drawn.get_marker()
        assert shown.get_markeredgecolor() == drawn.get_markeredgecolor()
        assert shown.get_linestyle() == drawn.get_linestyle() == "None"


def test_gradient_series_differ_without_colour_and_for_every_colour_vision(
    gradient: Figure,
) -> None:
    """Marker and line style tell the series apart in greyscale; their colours differ for
    every kind of colour vision (CIELAB distance over 30, 2.3 being just noticeable)."""
    ax_bias, ax_var = gradient.axes
    gs, st = artist(ax_var, "variance-gs"), artist(ax_var, "variance-st")
    assert gs.get_marker() != st.get_marker()
    assert gs.get_linestyle() != st.get_linestyle()
    # Where both have the same bias (here) one is drawn inside the other: both stay visible.
    bias_gs, bias_st = artist(ax_bias, "bias-gs"), artist(ax_bias, "bias-st")
    assert bias_gs.get_markersize() > 1.5 * bias_st.get_markersize()
    assert bias_gs.get_zorder() == bias_st.get_zorder()
    assert ax_bias.lines.index(bias_gs) < ax_bias.lines.index(bias_st)  # drawn first, under
    assert bias_gs.get_linewidth() > bias_st.get_linewidth()
    for vision in COLOUR_VISION:
        a, b = (seen(to_rgb(line.get_color()), vision) for line in (gs, st))
        assert delta_e(a, b) > 30, vision


def test_gradient_variance_falls_and_bias_grows_with_tau(gradient: Figure) -> None:
    ax_bias, ax_var = gradient.axes
    _, var_gs = curve(ax_var, "variance-gs")
    _, var_st = curve(ax_var, "variance-st")
    assert np.all(np.diff(var_gs) < 0)
    assert var_gs[0] > 100 * var_gs[-1]
    assert np.all(var_st > var_gs)  # straight-through: the noisier estimator here
    bias_gs = full_bias(ax_bias, "gs")
    assert bias_gs[-1] > 5 * bias_gs[0]  # the smallest tau: below the Monte Carlo error
    # At high tau the relaxed gradient vanishes, so the bias tends to the whole gradient.
    exact = 0.25 * ((1 - GRADIENT["target"]) ** 2 - GRADIENT["target"] ** 2)
    assert 0.8 * exact < bias_gs[-1] < exact


def test_gradient_rows_are_the_analytic_per_draw_gradients() -> None:
    theta, tau, target, pairs, seed = 0.7, 0.5, 0.3, 64, 11
    gen = torch.Generator().manual_seed(seed)
    noise = gumbel_noise((pairs, 2), generator=gen, dtype=torch.float64)
    noise = torch.cat([noise, noise.flip(-1)])
    y1 = torch.sigmoid((theta + noise[:, 0] - noise[:, 1]) / tau).numpy()
    dy = y1 * (1 - y1) / tau
    soft = draw._gradients(theta, tau, pairs, target, hard=False, seed=seed)
    np.testing.assert_allclose(soft, 2 * (y1 - target) * dy, rtol=1e-9)
    hard = draw._gradients(theta, tau, pairs, target, hard=True, seed=seed)
    np.testing.assert_allclose(hard, 2 * ((y1 > 0.5) - target) * dy, rtol=1e-9)


def test_gradient_figure_leaves_out_tau_zero() -> None:
    fig = draw.draw_gradient_variance(theta=1.0, taus=[0.0, 1.0], samples=100, seed=0, target=0.2)
    ts, _ = curve(fig.axes[1], "variance-gs")
    assert list(ts) == [1.0]


# --------------------------------------------------------------------------- PNG output


def png_size(data: bytes) -> tuple[int, int]:
    assert data[:8] == b"\x89PNG\r\n\x1a\n"
    width, height = struct.unpack(">II", data[16:24])
    return width, height


def render(kind: str, params: Mapping[str, Any], path: Path) -> bytes:
    draw.save_figure(draw.DRAWERS[kind](**params), path)
    return path.read_bytes()


@pytest.mark.parametrize("kind", list(SPECS))
def test_png_is_byte_identical_for_a_spec_and_differs_for_another_seed(
    kind: str, tmp_path: Path
) -> None:
    params = SPECS[kind]
    first = render(kind, params, tmp_path / "a.png")
    second = render(kind, params, tmp_path / "b.png")
    assert first == second
    assert render(kind, {**params, "seed": params["seed"] + 1}, tmp_path / "c.png") != first
    assert b"Software" not in first
    width, height = png_size(first)
    assert width == int(draw.WIDTH * draw.DPI), width  # no wider for more panels
    assert 0.8 * width <= height <= 1.5 * width, height  # taller instead
    assert sorted(p.name for p in tmp_path.iterdir()) == ["a.png", "b.png", "c.png"]


def test_user_rc_params_do_not_change_the_picture(tmp_path: Path) -> None:
    plain = render("bars", BARS, tmp_path / "plain.png")
    loud: dict[Any, Any] = {"lines.linewidth": 6.0, "figure.facecolor": "black", "font.size": 20.0}
    with matplotlib.rc_context(loud):
        styled = render("bars", BARS, tmp_path / "styled.png")
    assert styled == plain


def test_save_figure_replaces_a_file_and_leaves_no_temporary(tmp_path: Path) -> None:
    target = tmp_path / "figs" / "out.png"
    target.parent.mkdir()
    target.write_bytes(b"old")
    data = render("bars", {**BARS, "samples": 10}, target)
    assert png_size(data)[0] > 0
    assert [p.name for p in target.parent.iterdir()] == ["out.png"]


def test_save_figure_failure_keeps_the_old_file(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    target = tmp_path / "out.png"
    target.write_bytes(b"old")
    fig = draw.draw_bars(pi=[1, 2], taus=[1.0], samples=10, seed=0)

    def broken(image: Image.Image, fp: Any, *args: Any, **kwargs: Any) -> None:
        Path(fp).write_bytes(b"\x89PNG half")
        raise RuntimeError("disk full")

    monkeypatch.setattr(Image.Image, "save", broken)
    with pytest.raises(RuntimeError, match="disk full"):
        draw.save_figure(fig, target)
    assert target.read_bytes() == b"old"
    assert [p.name for p in tmp_path.iterdir()] == ["out.png"]


def test_every_drawer_returns_a_figure() -> None:
    small: dict[str, dict[str, Any]] = {
        "simplex": {**SIMPLEX, "samples": 10, "grid": 10},
        "segment": {**SEGMENT, "samples": 10},
        "bars": {**BARS, "samples": 10},
        "gradient-variance": {**GRADIENT, "samples": 100},
    }
    for kind, fn in draw.DRAWERS.items():
        fig = fn(**small[kind])
        assert isinstance(fig, Figure)
        assert fig.get_suptitle()
        assert fig.get_layout_engine() is not None
        assert fig.dpi == draw.DPI


@pytest.mark.parametrize("kind", ["simplex", "segment", "bars"])
def test_title_fits_a_one_panel_figure(kind: str) -> None:
    from paperdeck.figures.draw import DRAWERS

    params: dict[str, object] = {"samples": 10, "seed": 0, "taus": (0.5,)}
    params["pi"] = {"simplex": (2.0, 0.5, 1.0), "segment": (3.0, 1.0), "bars": (1.0, 2.0)}[kind]
    params.update({"simplex": {"grid": 10}, "segment": {"bins": 5}, "bars": {}}[kind])
    fig = DRAWERS[kind](**params)
    title = fig._suptitle
    assert title is not None
    extent = title.get_window_extent()
    assert extent.x0 >= 0 and extent.x1 <= fig.bbox.width
