"""Tests for paperdeck.gumbel: statistics (seeded), densities, gradients, robustness.

Statistical thresholds: a p-value above 1e-4 (chi-square) or 1e-3 (KS) for the sampler under
test, with sample sizes at which the negative controls (deliberately wrong samplers) get
p-values far below those thresholds.
"""

from __future__ import annotations

import itertools
import math
from collections.abc import Callable

import numpy as np
import pytest
import torch
import torch.nn.functional as F
from hypothesis import given, settings
from hypothesis import strategies as st
from scipy import stats
from torch.distributions import RelaxedBernoulli, RelaxedOneHotCategorical

from paperdeck import gumbel
from paperdeck.gumbel import (
    anneal_tau,
    gumbel_max,
    gumbel_noise,
    gumbel_softmax,
    log_prob,
    log_prob_binary,
)

PI = torch.tensor([0.05, 0.1, 0.15, 0.3, 0.4], dtype=torch.float64)
N_CHI2 = 200_000
P_CHI2 = 1e-4
P_KS = 1e-3
HALF_DTYPES = [torch.float16, torch.bfloat16]
ALL_DTYPES = [torch.float32, torch.float64, *HALF_DTYPES]


def gen(seed: int = 0) -> torch.Generator:
    return torch.Generator().manual_seed(seed)


def batch_logits(n: int, dtype: torch.dtype = torch.float32) -> torch.Tensor:
    """``n`` rows of log(PI) plus a row-dependent shift (sampling must not care)."""
    shift = torch.linspace(-3.0, 3.0, n, dtype=torch.float64).unsqueeze(-1)
    return (PI.log() + shift).to(dtype)


def chi2_p(indices: torch.Tensor, pi: torch.Tensor) -> float:
    """Chi-square p-value of class counts against ``pi``; impossible classes must be absent."""
    counts = torch.bincount(indices.flatten(), minlength=len(pi)).double()
    possible = pi > 0
    assert (counts[~possible] == 0).all()
    expected = pi[possible] * counts.sum()
    return float(stats.chisquare(counts[possible].numpy(), expected.numpy()).pvalue)


def ks_logistic_p(y: torch.Tensor, logits: torch.Tensor, tau: float, i: int, j: int) -> float:
    """KS p-value of log(y_i / y_j) against Logistic((l_i - l_j) / tau, 1 / tau)."""
    r = (torch.log(y[:, i]) - torch.log(y[:, j])).double().numpy()
    assert np.isfinite(r).all()
    loc = float(logits[..., i].flatten()[0] - logits[..., j].flatten()[0]) / tau
    return float(stats.kstest(r, stats.logistic(loc=loc, scale=1.0 / tau).cdf).pvalue)


# --------------------------------------------------------------------------- noise


@pytest.mark.parametrize("dtype", [torch.float32, torch.float64])
def test_gumbel_noise_is_standard_gumbel(dtype: torch.dtype) -> None:
    g = gumbel_noise((100_000,), generator=gen(1), dtype=dtype)
    assert g.dtype == dtype
    assert float(stats.kstest(g.double().numpy(), stats.gumbel_r.cdf).pvalue) > P_KS
    # Negative control: exponential noise (-log u) is rejected.
    e = -torch.rand(100_000, generator=gen(1), dtype=dtype).log()
    assert float(stats.kstest(e.double().numpy(), stats.gumbel_r.cdf).pvalue) < 1e-10


@pytest.mark.parametrize("dtype", ALL_DTYPES)
def test_gumbel_noise_finite_for_million_draws(dtype: torch.dtype) -> None:
    g = gumbel_noise(1_000_000, generator=gen(2), dtype=dtype)
    assert g.dtype == dtype and g.shape == (1_000_000,)
    assert torch.isfinite(g).all()
    gd = g.double()
    assert abs(float(gd.mean()) - 0.5772156649) < 0.01  # Euler-Mascheroni
    assert abs(float(gd.var()) - math.pi**2 / 6) < 0.02


def test_gumbel_noise_never_infinite_at_uniform_extremes(monkeypatch: pytest.MonkeyPatch) -> None:
    """u = 0 and u = 1 (which rand can or might return) still give finite noise."""
    for dtype in (torch.float32, torch.float64):
        extremes = torch.tensor([0.0, 1.0, 0.5, 1.0 - torch.finfo(dtype).eps / 2], dtype=dtype)

        def fake_rand(*args: object, _u: torch.Tensor = extremes, **kw: object) -> torch.Tensor:
            return _u.clone()

        monkeypatch.setattr(torch, "rand", fake_rand)
        g = gumbel_noise(4, dtype=dtype)
        monkeypatch.undo()
        assert torch.isfinite(g).all(), g


def test_gumbel_noise_reproducible() -> None:
    a = gumbel_noise((3, 4), generator=gen(5))
    b = gumbel_noise((3, 4), generator=gen(5))
    assert torch.equal(a, b)


# --------------------------------------------------------------------------- Gumbel-Max


def test_gumbel_max_chisquare() -> None:
    s = gumbel_max(batch_logits(N_CHI2), generator=gen(10))
    assert s.indices.shape == (N_CHI2,)
    assert torch.equal(s.one_hot, F.one_hot(s.indices, 5).float())
    assert chi2_p(s.indices, PI) > P_CHI2


def test_chisquare_rejects_wrong_samplers() -> None:
    """Negative controls: the chi-square check has the power to catch plausible bugs."""
    logits = batch_logits(N_CHI2)
    u = torch.rand(logits.shape, generator=gen(11))
    no_noise = logits.argmax(-1)
    exponential = (logits - u.log()).argmax(-1)  # -log u instead of -log(-log u)
    scaled = (logits - 1.1 * (-u.log()).log()).argmax(-1)  # Gumbel with scale 1.1
    for wrong in (no_noise, exponential, scaled):
        assert chi2_p(wrong, PI) < 1e-12


def test_gumbel_max_never_picks_masked() -> None:
    logits = PI.log().float().repeat(50_000, 1)
    logits[:, 3] = -math.inf
    logits[::2, 0] = -math.inf
    s = gumbel_max(logits, generator=gen(12))
    assert not (s.indices == 3).any()
    assert not (s.indices[::2] == 0).any()
    # The unmasked classes keep their renormalised probabilities.
    pi = PI.clone()
    pi[3] = 0
    pi /= pi.sum()
    assert chi2_p(s.indices[1::2], pi) > P_CHI2


def test_gumbel_max_dim_and_dtype() -> None:
    logits = batch_logits(20_000).T.contiguous().half()  # classes along dim 0
    s = gumbel_max(logits, dim=0, generator=gen(13))
    assert s.indices.shape == (20_000,)
    assert s.one_hot.dtype == torch.float16 and s.one_hot.shape == logits.shape
    assert torch.equal(s.one_hot.sum(0), torch.ones(20_000, dtype=torch.float16))
    assert chi2_p(s.indices, PI) > P_CHI2


# --------------------------------------------------------------------------- Gumbel-Softmax


def test_gumbel_softmax_argmax_chisquare() -> None:
    """The argmax of a sample is categorical(pi) whatever tau (tau only rescales), so one tau
    checks the distribution; how tau shapes the sample is the log-ratio test below."""
    y = gumbel_softmax(batch_logits(N_CHI2), 1.0, generator=gen(20))
    assert torch.isfinite(y).all()
    torch.testing.assert_close(y.sum(-1), torch.ones(N_CHI2))
    assert chi2_p(y.argmax(-1), PI) > P_CHI2


def test_argmax_does_not_depend_on_tau_for_the_same_noise() -> None:
    logits = batch_logits(2_000, torch.float64)
    g = gumbel_noise(logits.shape, generator=gen(24), dtype=torch.float64)
    expected = (logits + g).argmax(-1)
    for tau in (0.05, 0.5, 1.0, 10.0):
        assert torch.equal(gumbel_softmax(logits, tau, noise=g).argmax(-1), expected)


@pytest.mark.parametrize("tau", [0.1, 0.5, 1.0, 10.0])
def test_log_ratio_is_logistic(tau: float) -> None:
    logits = batch_logits(1, torch.float64).expand(30_000, 5)
    y = gumbel_softmax(logits, tau, generator=gen(21))
    for i, j in [(4, 0), (1, 2)]:
        assert ks_logistic_p(y, logits, tau, i, j) > P_KS


def test_log_ratio_is_logistic_float32() -> None:
    logits = batch_logits(1).expand(30_000, 5)
    y = gumbel_softmax(logits, 1.0, generator=gen(22))
    assert ks_logistic_p(y, logits, 1.0, 3, 1) > P_KS


def test_ks_rejects_wrong_sampler() -> None:
    """Negative control: noise not divided by tau (softmax(l / tau + g)) is caught."""
    tau = 0.5
    logits = batch_logits(1, torch.float64).expand(30_000, 5)
    g = gumbel_noise(logits.shape, generator=gen(23), dtype=torch.float64)
    wrong = torch.softmax(logits / tau + g, -1)
    assert ks_logistic_p(wrong, logits, tau, 4, 0) < 1e-12
    right = gumbel_softmax(logits, tau, noise=g)
    assert ks_logistic_p(right, logits, tau, 4, 0) > P_KS


@pytest.mark.parametrize("shape_dim", [((7, 5), -1), ((6, 3), -1), ((4, 40), 1), ((30, 4, 2), 0)])
@pytest.mark.parametrize("tau", [0.05, 0.5, 1.0, 3.0])
def test_matches_torch_formula_given_same_noise(
    shape_dim: tuple[tuple[int, ...], int], tau: float
) -> None:
    shape, dim = shape_dim
    logits = torch.randn(shape, generator=gen(30)) * 3
    g = gumbel_noise(shape, generator=gen(31))
    ref = torch.softmax((logits + g) / tau, dim)  # what F.gumbel_softmax computes
    torch.testing.assert_close(gumbel_softmax(logits, tau, dim=dim, noise=g), ref)
    xg = logits.clone().requires_grad_()
    torch.testing.assert_close(gumbel_softmax(xg, tau, dim=dim, noise=g), ref)


def test_matches_torch_sampler_distribution() -> None:
    """Same distribution as F.gumbel_softmax (argmax frequencies agree with PI for both)."""
    logits = batch_logits(N_CHI2)
    torch.manual_seed(32)
    assert chi2_p(F.gumbel_softmax(logits, tau=0.5).argmax(-1), PI) > P_CHI2
    assert chi2_p(gumbel_softmax(logits, 0.5, generator=gen(32)).argmax(-1), PI) > P_CHI2


def test_reproducible_with_generator() -> None:
    logits = torch.randn(8, 6)
    for hard in (False, True):
        a = gumbel_softmax(logits, 0.7, hard=hard, generator=gen(33))
        b = gumbel_softmax(logits, 0.7, hard=hard, generator=gen(33))
        assert torch.equal(a, b)


def test_tau_zero_is_gumbel_max() -> None:
    logits = batch_logits(N_CHI2)
    y = gumbel_softmax(logits, 0.0, generator=gen(40))
    s = gumbel_max(logits, generator=gen(40))
    assert torch.equal(y, s.one_hot)
    assert chi2_p(y.argmax(-1), PI) > P_CHI2
    assert torch.equal(gumbel_softmax(logits, torch.tensor(0.0), generator=gen(40)), y)


def test_hard_forward_is_gumbel_max_sample() -> None:
    """hard=True gives exactly the Gumbel-Max sample of the same noise, grad or no grad."""
    logits = torch.randn(500, 7, generator=gen(41))
    g = gumbel_noise(logits.shape, generator=gen(42))
    expected = F.one_hot((logits + g).argmax(-1), 7).float()
    assert torch.equal(gumbel_softmax(logits, 0.3, hard=True, noise=g), expected)
    y = gumbel_softmax(logits.clone().requires_grad_(), 0.3, hard=True, noise=g)
    assert y.requires_grad
    assert torch.equal(y.detach(), expected)


@pytest.mark.parametrize("dtype", ALL_DTYPES)
@pytest.mark.parametrize("tau", [1e-6, 0.3, 5.0])
def test_hard_exactly_one_hot_and_soft_gradient(dtype: torch.dtype, tau: float) -> None:
    logits = (torch.randn(64, 9, generator=gen(43)) * 2).to(dtype)
    g = gumbel_noise(logits.shape, generator=gen(44), dtype=dtype)
    weights = torch.randn(64, 9, generator=gen(45)).to(dtype)

    x_h = logits.clone().requires_grad_()
    y_h = gumbel_softmax(x_h, tau, hard=True, noise=g)
    assert y_h.dtype == dtype
    assert torch.equal(y_h.detach(), F.one_hot(y_h.detach().argmax(-1), 9).to(dtype))
    (grad_h,) = torch.autograd.grad((y_h * weights).sum(), x_h)

    x_s = logits.clone().requires_grad_()
    y_s = gumbel_softmax(x_s, tau, noise=g)
    (grad_s,) = torch.autograd.grad((y_s * weights).sum(), x_s)
    assert torch.equal(grad_h, grad_s)
    assert torch.isfinite(grad_h).all()


@pytest.mark.parametrize("tau", [0.5, 2.0])
@pytest.mark.parametrize("dim", [-1, 0])
def test_gradcheck_soft_with_noise(tau: float, dim: int) -> None:
    logits = torch.randn(3, 4, dtype=torch.float64, generator=gen(50)).requires_grad_()
    g = gumbel_noise((3, 4), generator=gen(51), dtype=torch.float64)
    assert torch.autograd.gradcheck(lambda x: gumbel_softmax(x, tau, dim=dim, noise=g), logits)
    assert torch.autograd.gradgradcheck(lambda x: gumbel_softmax(x, tau, dim=dim, noise=g), logits)


def test_gradcheck_soft_with_reseeded_generator() -> None:
    logits = torch.randn(4, 5, dtype=torch.float64, generator=gen(52)).requires_grad_()

    def f(x: torch.Tensor) -> torch.Tensor:
        return gumbel_softmax(x, 0.7, generator=gen(53))

    assert torch.autograd.gradcheck(f, logits)


def test_gradcheck_tensor_tau() -> None:
    logits = torch.randn(3, 4, dtype=torch.float64, generator=gen(54)).requires_grad_()
    tau = torch.tensor([0.5, 1.0, 2.5], dtype=torch.float64, requires_grad=True)
    g = gumbel_noise((3, 4), generator=gen(55), dtype=torch.float64)
    assert torch.autograd.gradcheck(lambda x, t: gumbel_softmax(x, t, noise=g), (logits, tau))


def test_tensor_tau_per_row() -> None:
    logits = torch.randn(4, 6, generator=gen(56))
    g = gumbel_noise(logits.shape, generator=gen(57))
    taus = [0.2, 0.0, 1.0, 4.0]
    expected = torch.stack(
        [gumbel_softmax(logits[i : i + 1], t, noise=g[i : i + 1])[0] for i, t in enumerate(taus)]
    )
    for tau in (torch.tensor(taus), torch.tensor(taus).unsqueeze(-1)):
        torch.testing.assert_close(gumbel_softmax(logits, tau, noise=g), expected)
    # Rows with tau = 0 are one-hot and pass zero (not NaN) gradient.
    x = logits.clone().requires_grad_()
    y = gumbel_softmax(x, torch.tensor(taus), noise=g)
    (y * torch.randn(4, 6, generator=gen(58))).sum().backward()
    assert x.grad is not None and torch.isfinite(x.grad).all()
    assert torch.equal(x.grad[1], torch.zeros(6))
    # Batch-shaped tau for 3-d logits with classes in the middle.
    x3 = torch.randn(2, 5, 3, generator=gen(59))
    g3 = gumbel_noise(x3.shape, generator=gen(60))
    t3 = torch.tensor([[0.5, 1.0, 2.0], [3.0, 0.1, 1.0]])
    ref = torch.softmax((x3 + g3) / t3.unsqueeze(1), 1)
    torch.testing.assert_close(gumbel_softmax(x3, t3, dim=1, noise=g3), ref)


# --------------------------------------------------------------------------- robustness


@pytest.mark.parametrize("dtype", ALL_DTYPES)
@pytest.mark.parametrize("tau", [0.0, 1e-6, 1e-3, 1.0, 100.0, 1e39])
@pytest.mark.parametrize("hard", [False, True])
@pytest.mark.parametrize("k", [3, 50])
def test_no_nan_or_inf(dtype: torch.dtype, tau: float, hard: bool, k: int) -> None:
    sign = torch.where(torch.rand(256, k, generator=gen(60)) < 0.5, -1.0, 1.0)
    logits = (sign * 1e4).to(dtype)
    logits[0] = 1e4  # all tied at the top
    logits[1, 1:] = -math.inf  # all but one masked
    logits[2, ::2] = -math.inf  # some masked
    logits[3, 0] = -math.inf
    for requires_grad in (False, True):
        x = logits.clone().requires_grad_(requires_grad)
        y = gumbel_softmax(x, tau, hard=hard, generator=gen(61))
        assert y.dtype == dtype and y.shape == logits.shape
        assert torch.isfinite(y).all()
        sums = y.sum(-1, dtype=torch.float64)
        eps = torch.finfo(dtype).eps
        torch.testing.assert_close(sums, torch.ones_like(sums), rtol=0, atol=k * eps)
        assert torch.equal(y[1], F.one_hot(torch.tensor(0), k).to(dtype))
        assert (y[2, ::2] == 0).all() and y[3, 0] == 0
        if requires_grad and y.requires_grad:
            (y * torch.randn(256, k, generator=gen(62)).to(dtype)).sum().backward()
            assert x.grad is not None and torch.isfinite(x.grad).all()


@pytest.mark.parametrize("dtype", HALF_DTYPES)
def test_half_precision_distribution(dtype: torch.dtype) -> None:
    y = gumbel_softmax(batch_logits(N_CHI2, dtype), 1.0, generator=gen(63))
    assert y.dtype == dtype
    assert chi2_p(y.argmax(-1), PI) > P_CHI2


def test_million_draws() -> None:
    logits = torch.tensor([2.0, -1.0, 0.5]).expand(1_000_000, 3)
    for tau, hard in [(0.5, False), (1e-6, False), (2.0, True), (0.0, False)]:
        y = gumbel_softmax(logits, tau, hard=hard, generator=gen(64))
        assert torch.isfinite(y).all()
        assert torch.allclose(y.sum(-1), torch.ones(1_000_000))


def test_float64_stays_float64() -> None:
    logits = torch.randn(10, 4, dtype=torch.float64)
    assert gumbel_softmax(logits, 0.5).dtype == torch.float64
    assert gumbel_noise(3, dtype=torch.float64).dtype == torch.float64


@settings(max_examples=60, deadline=None)
@given(
    shape=st.lists(st.integers(1, 6), min_size=1, max_size=3),
    dim_seed=st.integers(0, 10),
    tau=st.one_of(st.just(0.0), st.floats(1e-6, 1e3)),
    hard=st.booleans(),
    scale=st.sampled_from([1.0, 1e2, 1e4]),
    seed=st.integers(0, 2**31 - 1),
)
def test_property_on_simplex(
    shape: list[int], dim_seed: int, tau: float, hard: bool, scale: float, seed: int
) -> None:
    dim = dim_seed % len(shape) - len(shape) * (dim_seed % 2)
    logits = torch.randn(shape, generator=gen(seed)) * scale
    y = gumbel_softmax(logits, tau, hard=hard, dim=dim, generator=gen(seed + 1))
    assert y.shape == logits.shape and torch.isfinite(y).all()
    assert ((y >= 0) & (y <= 1)).all()
    torch.testing.assert_close(y.sum(dim), torch.ones(y.sum(dim).shape))
    if hard or tau == 0:
        assert set(y.unique().tolist()) <= {0.0, 1.0}


# --------------------------------------------------------------------------- errors


@pytest.mark.parametrize("bad", [-0.1, -1e-30, math.nan, math.inf, -math.inf])
def test_invalid_tau_raises(bad: float) -> None:
    logits = torch.randn(4, 3)
    with pytest.raises(ValueError, match="tau"):
        gumbel_softmax(logits, bad)
    with pytest.raises(ValueError, match="tau"):
        gumbel_softmax(logits, torch.tensor([1.0, bad, 1.0, 1.0]))
    with pytest.raises(ValueError, match="tau"):
        gumbel_softmax(logits, torch.tensor([1.0, bad, 1.0, 1.0], requires_grad=True))


def test_bad_inputs_raise() -> None:
    logits = torch.randn(4, 3)
    with pytest.raises(ValueError, match="broadcast"):
        gumbel_softmax(logits, torch.ones(3) * 0.5 + torch.arange(3))  # per class, not per row
    with pytest.raises(ValueError, match="broadcast"):
        gumbel_softmax(logits, torch.ones(4, 3))
    masked = logits.clone()
    masked[2] = -math.inf
    for fn in (
        lambda: gumbel_softmax(masked, 1.0),
        lambda: gumbel_softmax(masked, 1.0, hard=True),
        lambda: gumbel_softmax(masked, 0.0),
        lambda: gumbel_max(masked),
    ):
        with pytest.raises(ValueError, match="finite"):
            fn()
    nan = logits.clone()
    nan[0, 0] = math.nan
    with pytest.raises(ValueError, match="NaN"):
        gumbel_softmax(nan, 1.0)
    with pytest.raises(TypeError):
        gumbel_softmax(torch.ones(3, 2, dtype=torch.int64), 1.0)
    with pytest.raises(ValueError):
        gumbel_softmax(torch.tensor(1.0), 1.0)
    with pytest.raises(ValueError):
        gumbel_softmax(logits, 1.0, dim=2)
    with pytest.raises(ValueError):
        gumbel_softmax(logits, 1.0, noise=torch.zeros(3, 4))


# --------------------------------------------------------------------------- densities


def integrate_k2(logits: torch.Tensor, tau: float) -> float:
    """Integral of p(y_1) dy_1 over (0, 1), as an integral over z = logit(y_1)."""
    reach = (16.0 + float((logits[0] - logits[1]).abs())) / tau
    z = torch.arange(-reach, reach, 0.05 / tau, dtype=torch.float64)
    y = torch.stack([torch.sigmoid(z), torch.sigmoid(-z)], -1)  # both coordinates accurate
    log_jac = F.logsigmoid(z) + F.logsigmoid(-z)  # dy_1 / dz = y_1 y_2
    dens = torch.exp(log_prob(y, logits, tau) + log_jac)
    return float(torch.trapezoid(dens, z))


LogDensity = Callable[[torch.Tensor, torch.Tensor, float], torch.Tensor]


def integrate_k3(logits: torch.Tensor, tau: float, density: LogDensity = log_prob) -> float:
    """Integral of p(y_1, y_2) over the simplex, in z_i = log(y_i / y_3) (Jacobian y1 y2 y3)."""
    spread = float((logits - logits[2]).abs().max())
    reach = (18.0 + spread) / tau
    z = torch.arange(-reach, reach, 0.1 / tau, dtype=torch.float64)
    z1, z2 = torch.meshgrid(z, z, indexing="ij")
    zz = torch.stack([z1, z2, torch.zeros_like(z1)], -1)
    log_y = torch.log_softmax(zz, -1)
    dens = torch.exp(density(log_y.exp(), logits, tau) + log_y.sum(-1))
    return float(torch.trapezoid(torch.trapezoid(dens, z, dim=-1), z))


@pytest.mark.parametrize("tau", [0.5, 1.0, 2.0])
def test_log_prob_integrates_to_one(tau: float) -> None:
    l2 = torch.tensor([0.7, -0.4], dtype=torch.float64)
    assert integrate_k2(l2, tau) == pytest.approx(1.0, rel=1e-5)
    l3 = torch.tensor([0.3, -1.0, 0.5], dtype=torch.float64)
    assert integrate_k3(l3, tau) == pytest.approx(1.0, rel=1e-5)


def test_integration_rejects_wrong_density() -> None:
    """Negative control: exponent tau instead of tau + 1 on y (a typo-sized bug) is caught."""

    def wrong(y: torch.Tensor, logits: torch.Tensor, tau: float) -> torch.Tensor:
        log_pi, log_y = torch.log_softmax(logits, -1), torch.log(y)
        k = y.shape[-1]
        return (
            math.lgamma(k)
            + (k - 1) * math.log(tau)
            - k * torch.logsumexp(log_pi - tau * log_y, -1)
            + (log_pi - tau * log_y).sum(-1)
        )

    def right(y: torch.Tensor, logits: torch.Tensor, tau: float) -> torch.Tensor:
        return wrong(y, logits, tau) - torch.log(y).sum(-1)

    l3 = torch.tensor([0.3, -1.0, 0.5], dtype=torch.float64)
    assert integrate_k3(l3, 1.0, right) == pytest.approx(1.0, rel=1e-5)
    assert integrate_k3(l3, 1.0, wrong) != pytest.approx(1.0, rel=0.05)


@pytest.mark.parametrize("k", [2, 3, 5])
@pytest.mark.parametrize("tau", [0.5, 1.0, 2.0])
def test_log_prob_matches_torch(k: int, tau: float) -> None:
    logits = torch.randn(k, dtype=torch.float64, generator=gen(70))
    y = gumbel_softmax(logits.expand(2000, k), tau, generator=gen(71))
    ref = RelaxedOneHotCategorical(
        torch.tensor(tau, dtype=torch.float64), logits=logits, validate_args=False
    ).log_prob(y)
    ours = log_prob(y, logits, tau)
    assert torch.isfinite(ours[(y > 0).all(-1)]).all()
    finite = torch.isfinite(ref)
    assert finite.float().mean() > 0.9
    torch.testing.assert_close(ours[finite], ref[finite], rtol=1e-9, atol=1e-9)
    # Unnormalised logits give the same density.
    torch.testing.assert_close(log_prob(y, logits + 3.0, tau), ours)


def test_log_prob_tensor_tau_and_dim() -> None:
    logits = torch.randn(3, 4, dtype=torch.float64, generator=gen(72))
    taus = torch.tensor([0.5, 1.0, 2.0], dtype=torch.float64)
    y = gumbel_softmax(logits, taus, generator=gen(73))
    expected = torch.stack([log_prob(y[i], logits[i], float(taus[i])) for i in range(3)])
    torch.testing.assert_close(log_prob(y, logits, taus), expected)
    torch.testing.assert_close(log_prob(y.T, logits.T, taus, dim=0), expected)
    with pytest.raises(ValueError, match="tau"):
        log_prob(y, logits, 0.0)


def test_log_prob_half_and_finite_inside() -> None:
    y = torch.tensor([[1e-30, 1.0 - 1e-30], [0.5, 0.5]], dtype=torch.float64)
    lp = log_prob(y, torch.zeros(2, dtype=torch.float64), 0.5)
    assert torch.isfinite(lp).all()
    yh = torch.tensor([[0.25, 0.75]], dtype=torch.float16)
    out = log_prob(yh, torch.zeros(2, dtype=torch.float16), 1.0)
    assert out.dtype == torch.float16
    torch.testing.assert_close(
        out.double(),
        log_prob(yh.double(), torch.zeros(2, dtype=torch.float64), 1.0),
        rtol=1e-3,
        atol=1e-3,
    )


@pytest.mark.parametrize("tau", [0.3, 1.0, 2.5])
def test_log_prob_binary(tau: float) -> None:
    x = torch.linspace(1e-4, 1 - 1e-4, 301, dtype=torch.float64)
    logit = torch.tensor(0.8, dtype=torch.float64)
    ours = log_prob_binary(x, logit, tau)
    ref = RelaxedBernoulli(torch.tensor(tau, dtype=torch.float64), logits=logit).log_prob(x)
    torch.testing.assert_close(ours, ref, rtol=1e-9, atol=1e-9)
    general = log_prob(torch.stack([x, 1 - x], -1), torch.stack([logit, torch.zeros(())]), tau)
    torch.testing.assert_close(ours, general, rtol=1e-9, atol=1e-9)
    assert log_prob_binary(x, 0.8, torch.tensor(tau)).shape == x.shape
    with pytest.raises(ValueError, match="tau"):
        log_prob_binary(x, logit, -1.0)


# --------------------------------------------------------------------------- annealing


def test_anneal_tau_schedule() -> None:
    assert anneal_tau(0, rate=1e-4, every=1000) == 1.0
    assert anneal_tau(999, rate=1e-4, every=1000) == 1.0  # held for `every` steps
    assert anneal_tau(1000, rate=1e-4, every=1000) == pytest.approx(math.exp(-0.1))
    assert anneal_tau(1999, rate=1e-4, every=1000) == pytest.approx(math.exp(-0.1))
    assert anneal_tau(5500, rate=1e-4, every=500) == pytest.approx(math.exp(-0.55))
    assert anneal_tau(10**6, rate=1e-4, every=1000) == 0.5  # floor tau_min
    assert anneal_tau(30_000, tau0=2.0, rate=1e-5, every=1000, tau_min=0.1) == pytest.approx(
        2.0 * math.exp(-0.3)
    )
    assert anneal_tau(10**6, tau0=2.0, rate=1e-5, every=1000, tau_min=0.1) == 0.1
    taus = [anneal_tau(s, rate=1e-4, every=500) for s in range(0, 20_000, 37)]
    assert all(a >= b for a, b in itertools.pairwise(taus))
    assert min(taus) >= 0.5


@pytest.mark.parametrize(
    "kwargs",
    [
        {"step": -1, "rate": 1e-4, "every": 10},
        {"step": 1, "rate": 1e-4, "every": 0},
        {"step": 1, "rate": -1e-4, "every": 10},
        {"step": 1, "rate": 1e-4, "every": 10, "tau0": 0.0},
        {"step": 1, "rate": 1e-4, "every": 10, "tau_min": -1.0},
    ],
)
def test_anneal_tau_invalid(kwargs: dict[str, float]) -> None:
    fn: Callable[..., float] = anneal_tau
    with pytest.raises(ValueError):
        fn(**kwargs)


# --------------------------------------------------------------------------- fast paths


def test_noise_from_extreme_bits_is_finite_and_bounded() -> None:
    """The bit patterns at both ends of the uniform give the documented, finite extremes."""
    for dtype, lo, hi in [(torch.float32, -2.8116, 16.6355), (torch.float64, -3.6038, 36.7368)]:
        words = torch.tensor([0, -1], dtype=torch.int64)  # all-zero and all-one bits
        if dtype == torch.float64:
            words.bitwise_and_(gumbel._F64_MANTISSA).bitwise_or_(gumbel._F64_MINUS_ONE)
        else:
            words.bitwise_and_(gumbel._F32_MANTISSA).bitwise_or_(gumbel._F32_MINUS_ONE)
        g = -gumbel._log_exponential_from(words.view(dtype))
        assert torch.isfinite(g).all()
        assert float(g.min()) == pytest.approx(lo, abs=1e-4)
        assert float(g.max()) == pytest.approx(hi, abs=1e-4)


def test_noise_bits_are_all_used() -> None:
    """Each of the 23 mantissa bits behind a float32 uniform is a fair coin (no stuck bit)."""
    n = 400_000
    words = torch.empty((n + 1) // 2, dtype=torch.int64).random_(generator=gen(80))
    words.bitwise_and_(gumbel._F32_MANTISSA)
    m = words.view(torch.int32)[:n].long()
    for bit in range(23):
        ones = int(((m >> bit) & 1).sum())
        assert abs(ones - n / 2) < 5 * math.sqrt(n / 4), bit  # 5 sigma


def uniform_from_words(words: torch.Tensor, dtype: torch.dtype) -> torch.Tensor:
    """The uniforms ``u`` (float64, exact) the sampler makes from int64 ``words``."""
    x = gumbel._uniform_minus_one(gumbel._minus_ones_from_words(words.clone(), dtype))
    return 1.0 + x.double()  # x is a multiple of 2^-(p+1) in (-1, 0): no rounding


@pytest.mark.parametrize(("dtype", "p"), [(torch.float32, 23), (torch.float64, 52)])
def test_uniform_from_extreme_bit_patterns_is_inside_the_open_interval(
    dtype: torch.dtype, p: int
) -> None:
    """All-zero and all-one mantissas give the two outermost bin midpoints, never 0 or 1;
    bits outside the mantissas (the sign and exponent positions, the word's top bit) are
    ignored."""
    mantissa = gumbel._F64_MANTISSA if dtype == torch.float64 else gumbel._F32_MANTISSA
    outside = ~mantissa  # every bit the mask drops
    patterns = [0, -1, mantissa, outside, 2**63 - 1, -(2**63), 0x5555_5555_5555_5555, 1]
    u = uniform_from_words(torch.tensor(patterns, dtype=torch.int64), dtype)
    assert ((u > 0) & (u < 1)).all(), u
    half_bin = 2.0 ** -(p + 1)
    top, bottom = 1.0 - half_bin, half_bin
    per_word = u.view(len(patterns), -1)  # float32: both halves of a word
    for i in (0, 3):  # no mantissa bit set: the largest u
        assert (per_word[i] == top).all()
    for i in (1, 2):  # every mantissa bit set: the smallest u
        assert (per_word[i] == bottom).all()
    assert float(u.min()) == bottom and float(u.max()) == top


def test_uniform_from_every_float32_mantissa_is_an_exact_bin_midpoint() -> None:
    """All 2^23 mantissas, in both halves of a word and with the other bits set at random,
    give exactly ``1 - (2m + 1) 2^-24``: 2^23 distinct values strictly inside (0, 1),
    evenly spaced, with mean exactly 1/2 (no bias)."""
    total = 0.0
    for m in torch.arange(2**23, dtype=torch.int64).chunk(8):  # ~100 MB at a time
        junk = torch.randint(0, 2**9, m.shape, generator=gen(110), dtype=torch.int64)
        low = m | (junk << 23)  # bits 23..31: the low float's sign and exponent
        high = m | (junk.flip(0) << 23)  # bits 55..63: the high float's (and the top bit)
        u = uniform_from_words(low | (high << 32), torch.float32).view(-1, 2)
        expected = 1.0 - (2 * m + 1).double() * 2.0**-24
        assert torch.equal(u[:, 0], expected) and torch.equal(u[:, 1], expected)
        assert float(u.min()) > 0 and float(u.max()) < 1
        total += float(u[:, 0].sum())  # exact: multiples of 2^-24 below 2^23
    assert total == 2**22  # 2^23 midpoints: mean exactly 1/2


@pytest.mark.parametrize("dtype", [torch.float32, torch.float64])
def test_noise_does_not_depend_on_the_shape_asked_for(dtype: torch.dtype) -> None:
    """The same generator state gives the same draws in the same order, whether the words
    are laid out in the shape (an even last dim) or flat (odd sizes)."""
    flat = gumbel_noise(60, generator=gen(111), dtype=dtype)
    for shape in [(6, 10), (60, 1), (3, 4, 5), (5, 12), (2, 30)]:
        g = gumbel_noise(shape, generator=gen(111), dtype=dtype)
        assert g.is_contiguous() and torch.equal(g, flat.view(shape)), shape
    odd = gumbel_noise((3, 5), generator=gen(111), dtype=dtype)
    assert torch.equal(odd, flat[:15].view(3, 5))


@pytest.mark.parametrize("shape", [(25_000, 4), (33_333, 3)])
def test_noise_is_standard_gumbel_in_even_and_odd_rows(shape: tuple[int, int]) -> None:
    """Both layouts of the random words (shaped for an even last dim, flat otherwise)."""
    g = gumbel_noise(shape, generator=gen(112)).double()
    assert float(stats.kstest(g.flatten().numpy(), stats.gumbel_r.cdf).pvalue) > P_KS
    for column in range(shape[1]):  # every position in a row, each its own uniform
        assert float(stats.kstest(g[:, column].numpy(), stats.gumbel_r.cdf).pvalue) > P_KS


def reference_softmax(
    logits: torch.Tensor, g: torch.Tensor, tau: float, dim: int = -1
) -> torch.Tensor:
    """What F.gumbel_softmax computes from the same noise: ``logits + g`` rounded to the
    logits' dtype (as any sampler in that dtype must), the rest in float64."""
    return torch.softmax((logits + g.to(logits.dtype)).double() / tau, dim)


@pytest.mark.parametrize("k", [3, 10, 200])
@pytest.mark.parametrize("tau", [0.05, 0.5, 4.0])
def test_soft_matches_reference_when_rows_are_far_apart(k: int, tau: float) -> None:
    """Rows hundreds of nats below the largest (the one-shift path cannot keep them) are
    redone: a few alone, or all of them when they are many."""
    for far_rows in (slice(0, 3), slice(0, None, 2)):
        logits = torch.randn(64, k, generator=gen(81), dtype=torch.float64) * 2
        logits[far_rows] -= 500.0
        g = gumbel_noise(logits.shape, generator=gen(82), dtype=torch.float64)
        for dtype in (torch.float32, torch.float64):
            ref = reference_softmax(logits.to(dtype), g, tau)
            y = gumbel_softmax(logits.to(dtype), tau, noise=g.to(dtype))
            tol = 1e-5 if dtype == torch.float32 else 1e-12
            torch.testing.assert_close(y.double(), ref, rtol=tol, atol=tol)


@pytest.mark.parametrize("k", [3, 40])
@pytest.mark.parametrize("hard", [False, True])
def test_masked_classes_match_reference(k: int, hard: bool) -> None:
    """-inf entries hide the spread of the rows: the row maxima decide, the sample is exact."""
    logits = torch.randn(500, k, generator=gen(103), dtype=torch.float64)
    logits[torch.rand(500, k, generator=gen(104)) < 0.3] = -math.inf
    logits[:, 0] = logits[:, 0].clamp(min=-5.0)  # at least one class left in every row
    g = gumbel_noise(logits.shape, generator=gen(105), dtype=torch.float64)
    x = logits.clone().requires_grad_()
    y = gumbel_softmax(x, 0.3, hard=hard, noise=g)
    ref = reference_softmax(logits, g, 0.3)
    expected = F.one_hot(ref.argmax(-1), k).double() if hard else ref
    torch.testing.assert_close(y.detach(), expected, rtol=1e-12, atol=1e-12)
    (y * torch.arange(k, dtype=torch.float64)).sum().backward()
    x_ref = logits.clone().requires_grad_()
    (torch.softmax((x_ref + g) / 0.3, -1) * torch.arange(k, dtype=torch.float64)).sum().backward()
    assert x.grad is not None and x_ref.grad is not None
    torch.testing.assert_close(x.grad, x_ref.grad.nan_to_num(0.0), rtol=1e-10, atol=1e-12)


def test_few_far_rows_are_redone_alone(monkeypatch: pytest.MonkeyPatch) -> None:
    calls: list[int] = []
    exp_rows = gumbel._exp_rows

    def spy(w: torch.Tensor, m: torch.Tensor, scale: float) -> torch.Tensor:
        calls.append(w.shape[0])
        return exp_rows(w, m, scale)

    monkeypatch.setattr(gumbel, "_exp_rows", spy)
    logits = torch.randn(100, 3, generator=gen(83))
    logits[7] -= 1000.0
    gumbel_softmax(logits, 0.5, generator=gen(84))
    assert calls == [1]  # only row 7
    logits[::2] -= 1000.0
    gumbel_softmax(logits, 0.5, generator=gen(84))
    assert calls == [1, 100]  # half the rows: all redone with their own maxima


@pytest.mark.parametrize("scale", [1.0, 1e4, 1e30])
@pytest.mark.parametrize("tau", [1e-6, 0.1, 1e3, 1e39])
def test_soft_large_logits_and_extreme_tau(scale: float, tau: float) -> None:
    """Large |logits| / tau takes the two-pass shift: the sample still matches the reference."""
    logits = torch.randn(50, 6, generator=gen(85)) * scale
    g = gumbel_noise(logits.shape, generator=gen(86))
    ref = reference_softmax(logits, g, min(tau, torch.finfo(torch.float32).max))
    y = gumbel_softmax(logits, tau, noise=g)
    torch.testing.assert_close(y.double(), ref, rtol=1e-5, atol=1e-6)


@pytest.mark.parametrize("k", [3, 100])
@pytest.mark.parametrize("requires_grad", [False, True])
def test_hard_ties_take_the_first_maximum(k: int, requires_grad: bool) -> None:
    """Exact ties in logits + g (zero noise here) give one 1, at argmax's first maximum."""
    logits = torch.randint(0, 3, (300, k), generator=gen(87)).float()
    logits[:, -1] = logits.max(-1).values  # the last class ties with the row's maximum
    x = logits.clone().requires_grad_(requires_grad)
    y = gumbel_softmax(x, 0.5, hard=True, noise=torch.zeros_like(logits))
    assert torch.equal(y.detach(), F.one_hot(logits.argmax(-1), k).float())
    y0 = gumbel_softmax(logits, 0.0, noise=torch.zeros_like(logits))
    assert torch.equal(y0, F.one_hot(logits.argmax(-1), k).float())


@pytest.mark.parametrize(("shape", "dim"), [((500, 3), -1), ((40, 300), -1), ((6, 4, 5), 1)])
@pytest.mark.parametrize("hard", [False, True])
@pytest.mark.parametrize("tau", [0.3, 1.0, 3.0])
def test_gradient_matches_autograd_of_the_formula(
    shape: tuple[int, ...], dim: int, hard: bool, tau: float
) -> None:
    """The custom backward equals autograd through softmax((l + g) / tau) (straight-through
    for hard), for short rows, long rows and a middle class dim."""
    logits = torch.randn(shape, generator=gen(88), dtype=torch.float64) * 2
    g = gumbel_noise(shape, generator=gen(89), dtype=torch.float64)
    weights = torch.randn(shape, generator=gen(90), dtype=torch.float64)
    x = logits.clone().requires_grad_()
    y = gumbel_softmax(x, tau, hard=hard, dim=dim, noise=g)
    (y * weights).sum().backward()
    x_ref = logits.clone().requires_grad_()
    (torch.softmax((x_ref + g) / tau, dim) * weights).sum().backward()
    assert x.grad is not None and x_ref.grad is not None
    torch.testing.assert_close(x.grad, x_ref.grad, rtol=1e-10, atol=1e-12)


@pytest.mark.parametrize("far_rows", [slice(0, 1), slice(0, None, 2)])
def test_hard_gradient_when_rows_are_far_apart(far_rows: slice) -> None:
    """Straight-through with rows hundreds of nats apart: the soft sample saved for the
    backward takes each row's own maximum."""
    logits = torch.randn(64, 5, generator=gen(100), dtype=torch.float64)
    logits[far_rows] -= 700.0
    g = gumbel_noise(logits.shape, generator=gen(101), dtype=torch.float64)
    weights = torch.randn(64, 5, generator=gen(102), dtype=torch.float64)
    x = logits.clone().requires_grad_()
    y = gumbel_softmax(x, 0.2, hard=True, noise=g)
    assert torch.equal(y.detach(), F.one_hot((logits + g).argmax(-1), 5).double())
    (y * weights).sum().backward()
    x_ref = logits.clone().requires_grad_()
    (torch.softmax((x_ref + g) / 0.2, -1) * weights).sum().backward()
    assert x.grad is not None
    torch.testing.assert_close(x.grad, x_ref.grad)


@pytest.mark.parametrize("k", [3, 40])
@pytest.mark.parametrize("hard", [False, True])
def test_gradient_with_a_non_contiguous_upstream_gradient(k: int, hard: bool) -> None:
    """The backward takes any layout of the incoming gradient (here a transposed view)."""
    logits = torch.randn(200, k, generator=gen(113), dtype=torch.float64)
    g = gumbel_noise(logits.shape, generator=gen(114), dtype=torch.float64)
    weights = torch.randn(k, 200, generator=gen(115), dtype=torch.float64).T  # strides (1, 200)
    x = logits.clone().requires_grad_()
    (gumbel_softmax(x, 0.4, hard=hard, noise=g) * weights).sum().backward()
    x_ref = logits.clone().requires_grad_()
    (torch.softmax((x_ref + g) / 0.4, -1) * weights).sum().backward()
    assert x.grad is not None and x_ref.grad is not None
    torch.testing.assert_close(x.grad, x_ref.grad, rtol=1e-10, atol=1e-12)


def test_row_sum_scratch_gives_the_same_samples(monkeypatch: pytest.MonkeyPatch) -> None:
    """Row sums go to buffers each thread reuses (grown as needed, shared by shapes and
    dtypes in turn) or, beyond their size limit, to fresh ones: the samples and gradients
    are the same bits either way."""
    cases = [(5, 3, torch.float32), (9000, 3, torch.float64), (7, 20, torch.float32)]
    cases += [(3, 3, torch.float64), (9000, 5, torch.float32), (1, 4, torch.float32)]

    def run() -> list[torch.Tensor]:
        out = []
        for i, (rows, k, dtype) in enumerate(cases):
            x = torch.randn(rows, k, generator=gen(120 + i), dtype=dtype).requires_grad_()
            y = gumbel_softmax(x, 0.3, generator=gen(130 + i))
            (y * torch.arange(k, dtype=dtype)).sum().backward()
            assert x.grad is not None
            out += [y.detach(), x.grad, gumbel_softmax(x.detach(), 0.3, generator=gen(140 + i))]
        return out

    reused = run()
    again = run()
    monkeypatch.setattr(gumbel, "_SCRATCH_LIMIT", 0)  # no buffer kept: fresh ones
    fresh = run()
    for a, b, c in zip(reused, again, fresh, strict=True):
        assert torch.equal(a, b) and torch.equal(a, c)


@pytest.mark.parametrize("k", [2, 3, 4, 5, 6])
@pytest.mark.parametrize("dtype", [torch.float32, torch.float64])
def test_short_rows_divide_by_spread_sums(
    k: int, dtype: torch.dtype, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Many short rows divide by their sums spread by a matrix product (in float32 rows of
    at most 4 also sum by one), in several chunks and a tail of rows: each entry of a row is
    divided by the same sum, a lone entry gives exactly 1, and where the sums come from the
    matrix-vector product the bits are those of a broadcast division; the same when float32
    products may round (then it divides by broadcasting)."""
    monkeypatch.setattr(gumbel, "_SPREAD_ROWS", 1003)  # chunks, not a multiple of a block
    rows = 3 * 4096 + 5  # a tail of rows outside the blocks
    e = torch.rand(rows, k, generator=gen(116), dtype=torch.float64) * 1e3
    e[::7] *= 1e-30  # rows far below the others
    e[1::5, 1:] = 0.0  # rows with a lone entry
    e[2::5] = e[2::5, :1]  # rows of equal entries
    e = e.to(dtype)
    reference = e.double() / e.double().sum(1, keepdim=True)
    by_mv = dtype == torch.float64 or k > 4
    mkldnn = torch.backends.mkldnn.matmul
    for legacy, new in [("highest", "none"), ("medium", "none"), ("highest", "bf16")]:
        torch.set_float32_matmul_precision(legacy)
        mkldnn.fp32_precision = new  # both set: the legacy getter raises, no product is used
        try:
            broadcast = e / torch.mv(e, torch.ones(k, dtype=dtype)).unsqueeze(1)
            y = e.clone()
            gumbel._normalise_rows(y)
        finally:
            mkldnn.fp32_precision = "none"
            torch.set_float32_matmul_precision("highest")
        if by_mv or (legacy, new) != ("highest", "none"):
            assert torch.equal(y, broadcast), (legacy, new)
        eps = torch.finfo(dtype).eps
        torch.testing.assert_close(y.double(), reference, rtol=k * eps, atol=0)  # k roundings
        assert (y[1::5, 0] == 1).all() and (y[1::5, 1:] == 0).all()
        assert (y[2::5] == y[2::5, :1]).all()


@pytest.mark.parametrize("dtype", [torch.float32, torch.float64])
def test_many_short_rows_are_concrete(dtype: torch.dtype) -> None:
    """The spread-sum division (many rows of 3): log-ratios are Logistic((l_i - l_j) / tau,
    1 / tau), the argmax is categorical(pi), every row sums to 1 (ratios and argmax would
    not see a row divided by another row's sum) and, given the noise, it is the formula."""
    pi = torch.tensor([0.2, 0.5, 0.3], dtype=torch.float64)
    logits = pi.log().to(dtype).expand(60_000, 3)
    eps = torch.finfo(dtype).eps
    for tau in (0.3, 1.0):
        y = gumbel_softmax(logits, tau, generator=gen(117))
        assert ks_logistic_p(y, logits, tau, 1, 0) > P_KS
        assert ks_logistic_p(y, logits, tau, 2, 1) > P_KS
        sums = y.double().sum(-1)
        torch.testing.assert_close(sums, torch.ones_like(sums), rtol=0, atol=4 * eps)
        g = gumbel_noise(logits.shape, generator=gen(117), dtype=dtype)
        tol = 1e-5 if dtype == torch.float32 else 1e-12  # exp2 after one shift: see above
        torch.testing.assert_close(y.double(), reference_softmax(logits, g, tau), rtol=tol, atol=0)
    assert chi2_p(y.argmax(-1), pi) > P_CHI2


@pytest.mark.parametrize("k", [2, 3, 4])
@pytest.mark.parametrize("hard", [False, True])
def test_gradient_of_many_short_rows_matches_autograd(k: int, hard: bool) -> None:
    """Enough rows for the spread-sum division; the backward uses the sample it saved."""
    rows = 2 * gumbel._SPREAD_MIN_ROWS + 3
    logits = torch.randn(rows, k, generator=gen(118), dtype=torch.float64) * 2
    g = gumbel_noise(logits.shape, generator=gen(119), dtype=torch.float64)
    weights = torch.randn(rows, k, generator=gen(120), dtype=torch.float64)
    x = logits.clone().requires_grad_()
    y = gumbel_softmax(x, 0.6, hard=hard, noise=g)
    ref = torch.softmax((logits + g) / 0.6, -1)
    expected = F.one_hot(ref.argmax(-1), k).double() if hard else ref
    torch.testing.assert_close(y.detach(), expected, rtol=1e-12, atol=1e-14)
    (y * weights).sum().backward()
    x_ref = logits.clone().requires_grad_()
    (torch.softmax((x_ref + g) / 0.6, -1) * weights).sum().backward()
    assert x.grad is not None and x_ref.grad is not None
    torch.testing.assert_close(x.grad, x_ref.grad, rtol=1e-10, atol=1e-12)


def test_threads_sampling_at_once_get_their_own_samples() -> None:
    """Threads sampling at the same time (each with its own generator and shapes) get
    exactly what they get alone: no scratch is shared between threads."""
    from concurrent.futures import ThreadPoolExecutor

    shapes = [(20_000, 3), (3_000, 10), (500, 7), (40, 300)]

    def work(i: int) -> list[torch.Tensor]:
        logits = torch.randn(shapes[i], generator=gen(150 + i))
        return [gumbel_softmax(logits, 0.5, generator=gen(160 + i)) for _ in range(20)]

    alone = [work(i) for i in range(len(shapes))]
    with ThreadPoolExecutor(len(shapes)) as pool:
        together = list(pool.map(work, range(len(shapes))))
    for a, b in zip(alone, together, strict=True):
        assert all(torch.equal(x, y) for x, y in zip(a, b, strict=True))


def test_gradient_through_the_generator_path() -> None:
    """With a generator (no noise given) the same draw is used in forward and backward."""
    logits = torch.randn(200, 3, generator=gen(91), dtype=torch.float64)
    weights = torch.randn(200, 3, generator=gen(92), dtype=torch.float64)
    x = logits.clone().requires_grad_()
    y = gumbel_softmax(x, 0.5, generator=gen(93))
    (y * weights).sum().backward()
    g = gumbel_noise(logits.shape, generator=gen(93), dtype=torch.float64)
    torch.testing.assert_close(y.detach(), reference_softmax(logits, g, 0.5))
    x_ref = logits.clone().requires_grad_()
    (torch.softmax((x_ref + g) / 0.5, -1) * weights).sum().backward()
    assert x.grad is not None
    torch.testing.assert_close(x.grad, x_ref.grad)


def test_generator_path_double_backward() -> None:
    logits = torch.randn(3, 4, dtype=torch.float64, generator=gen(94)).requires_grad_()
    for hard in (False, True):

        def f(x: torch.Tensor, h: bool = hard) -> torch.Tensor:
            return gumbel_softmax(x, 0.7, hard=h, generator=gen(95))

        assert torch.autograd.gradgradcheck(f, logits)


def test_same_noise_with_and_without_grad() -> None:
    """The sample does not depend on whether logits need a gradient."""
    logits = torch.randn(300, 7, generator=gen(96))
    for hard in (False, True):
        a = gumbel_softmax(logits, 0.4, hard=hard, generator=gen(97))
        b = gumbel_softmax(logits.clone().requires_grad_(), 0.4, hard=hard, generator=gen(97))
        assert torch.equal(a, b.detach())
    soft = gumbel_softmax(logits, 0.4, generator=gen(97))
    hard_y = gumbel_softmax(logits, 0.4, hard=True, generator=gen(97))
    assert torch.equal(hard_y, F.one_hot(soft.argmax(-1), 7).float())


@pytest.mark.parametrize("hard", [False, True])
@pytest.mark.parametrize("requires_grad", [False, True])
@pytest.mark.parametrize("bad", [math.nan, math.inf, "masked"])
def test_one_bad_row_among_many_raises(hard: bool, requires_grad: bool, bad: object) -> None:
    logits = torch.randn(5000, 3, generator=gen(98))
    if bad == "masked":
        logits[1234] = -math.inf
    else:
        logits[1234, 1] = float(bad)  # type: ignore[arg-type]
    with pytest.raises(ValueError, match="finite"):
        gumbel_softmax(logits.requires_grad_(requires_grad), 0.5, hard=hard, generator=gen(99))
