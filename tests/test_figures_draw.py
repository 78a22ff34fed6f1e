"""The figure functions: what each figure shows is checked on its data, then its PNG bytes."""

from __future__ import annotations

import inspect
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
from matplotlib.collections import LineCollection, PathCollection, PolyCollection
from matplotlib.colors import LogNorm
from matplotlib.figure import Figure
from matplotlib.lines import Line2D
from matplotlib.patches import Rectangle
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


def test_simplex_has_one_panel_per_tau_and_a_colorbar(simplex: Figure) -> None:
    taus = SIMPLEX["taus"]
    assert len(simplex.axes) == len(taus) + 1
    panels, colorbar = simplex.axes[:-1], simplex.axes[-1]
    assert [ax.get_title() for ax in panels] == ["τ = 0", "τ = 0.5", "τ = 1", "τ = 2"]
    assert colorbar.get_ylabel() == "density (log scale)"
    assert simplex.get_suptitle().startswith("Gumbel-Softmax on the simplex")
    labels = [t.get_text() for t in panels[1].texts]
    assert labels == ["1 (π=0.57)", "2 (π=0.14)", "3 (π=0.29)"]


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
        assert isinstance(mesh.norm, LogNorm)
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


def test_simplex_density_panels_share_one_log_colour_scale(simplex: Figure) -> None:
    norms = [artist(ax, "density").norm for ax in simplex.axes[1:-1]]
    assert all(n is norms[0] for n in norms)
    assert norms[0].vmin > 0
    assert norms[0].vmax / norms[0].vmin >= 100


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
    assert fig.get_figwidth() <= 11


def test_simplex_draws_a_readable_number_of_dots() -> None:
    many = draw._MAX_DOTS + 500
    fig = draw.draw_simplex(pi=[1, 2, 3], taus=[1.0], samples=many, seed=0, grid=10)
    assert len(artist(fig.axes[0], "samples").get_offsets()) == draw._MAX_DOTS
    title = " ".join(fig.get_suptitle().split())  # as read: wrapping and spacing aside
    assert f"the first of {many}" in title


# --------------------------------------------------------------------------- segment


def test_segment_has_one_labelled_panel_per_tau(segment: Figure) -> None:
    assert len(segment.axes) == len(SEGMENT["taus"])
    assert [ax.get_title() for ax in segment.axes] == ["τ = 0", "τ = 0.5", "τ = 2"]
    assert all(ax.get_xlabel() == "y₁" for ax in segment.axes)
    assert segment.axes[0].get_ylabel() == "probability"
    assert segment.axes[1].get_ylabel() == "density"


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
    assert top[0].get_ylabel() == "expectation"
    assert bottom[0].get_ylabel() == "one sample"
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
    assert ax_bias.get_title().startswith("|bias|")
    assert ax_var.get_title() == "variance"
    for ax in gradient.axes:
        assert ax.get_xscale() == ax.get_yscale() == "log"
        assert ax.get_xlabel() == "temperature τ"
    legend = ax_var.get_legend()
    assert legend is not None
    assert [t.get_text() for t in legend.get_texts()] == ["Gumbel-Softmax", "straight-through"]
    for key in ("gs", "st"):
        ts, _ = curve(ax_var, f"variance-{key}")
        np.testing.assert_allclose(ts, GRADIENT["taus"])
        np.testing.assert_allclose(curve(ax_bias, f"bias-{key}")[0], GRADIENT["taus"])


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
    assert 600 <= width <= 1250, width
    assert 300 <= height <= 800, height
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

    def broken(*args: Any, **kwargs: Any) -> None:
        raise RuntimeError("disk full")

    monkeypatch.setattr(fig, "savefig", broken)
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
