"""Gumbel-Max, Gumbel-Softmax (Concrete) sampling and densities, in torch.

Implements what the cards of the seed note teach, after

* E. Jang, S. Gu, B. Poole, "Categorical Reparameterization with Gumbel-Softmax",
  ICLR 2017, arXiv:1611.01144, and
* C. J. Maddison, A. Mnih, Y. W. Teh, "The Concrete Distribution: A Continuous Relaxation
  of Discrete Random Variables", ICLR 2017, arXiv:1611.00712 (the same distribution).

Equations of Jang et al. as they appear in the paper:

* Gumbel noise: ``g = -log(-log u)``, ``u ~ Uniform(0, 1)``.
* Eq. (1), Gumbel-Max: ``z = one_hot(argmax_i (g_i + log pi_i))`` is an exact sample of
  ``Categorical(pi)``  -> :func:`gumbel_max`.
* Eq. (2), Gumbel-Softmax: ``y_i = softmax((log pi + g) / tau)_i``, a differentiable sample
  on the simplex (the reparameterization trick)  -> :func:`gumbel_softmax`.
* Eq. (3), its density on the simplex,
  ``p(y) = Gamma(k) tau^(k-1) (sum_i pi_i / y_i^tau)^(-k) prod_i pi_i / y_i^(tau+1)``
  -> :func:`log_prob` (and :func:`log_prob_binary`, Maddison et al.'s binary Concrete).
* Straight-Through Gumbel-Softmax (Sec. 2.2): forward the one-hot ``argmax``, backward the
  gradient of the soft sample  -> ``gumbel_softmax(..., hard=True)``.
* Annealing (experiments): ``tau = max(0.5, exp(-r t))`` updated every ``N`` steps
  -> :func:`anneal_tau`.

Differences from :func:`torch.nn.functional.gumbel_softmax`: ``tau = 0`` gives the Gumbel-Max
sample instead of NaN; the noise is never infinite; half-precision inputs are sampled and
normalised in float32; ``hard=True`` returns an exactly one-hot forward; the noise comes from
``torch.rand`` and two logs, several times cheaper on CPU than ``exponential_``.
Everything is device-agnostic: tensors are created on ``logits.device``.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from typing import Any, NamedTuple, cast

import torch
from torch import Tensor

__all__ = [
    "GumbelMaxSample",
    "anneal_tau",
    "gumbel_max",
    "gumbel_noise",
    "gumbel_softmax",
    "log_prob",
    "log_prob_binary",
]

Tau = float | Tensor

# Below this many classes the no-grad path normalises with exp/sum/div instead of
# torch.softmax, whose CPU kernel is slow on short rows (measured: ~4x at k = 3).
_SHORT_ROW = 16


class GumbelMaxSample(NamedTuple):
    """An exact categorical sample (Eq. 1): class ``indices`` and their ``one_hot`` encoding."""

    indices: Tensor
    one_hot: Tensor


# --------------------------------------------------------------------------- helpers


def _compute_dtype(dtype: torch.dtype) -> torch.dtype:
    """Precision the noise and softmax are computed in: float64 stays, the rest use float32."""
    if not dtype.is_floating_point:
        raise TypeError(f"expected a floating-point dtype, got {dtype}")
    return torch.float64 if dtype == torch.float64 else torch.float32


def _broadcast_shapes(*shapes: Sequence[int]) -> torch.Size:
    """Typed ``torch.broadcast_shapes`` (RuntimeError when the shapes do not broadcast)."""
    return cast(torch.Size, torch.broadcast_shapes(*shapes))  # type: ignore[no-untyped-call]


def _canonical_dim(dim: int, ndim: int) -> int:
    if ndim == 0:
        raise ValueError("logits must have at least one dimension (the classes)")
    if not -ndim <= dim < ndim:
        raise ValueError(f"dim {dim} out of range for a tensor with {ndim} dimensions")
    return dim % ndim


def _class_dim(logits: Tensor, dim: int) -> int:
    """Canonical class dimension of ``logits``; it must hold at least one class."""
    dim = _canonical_dim(dim, logits.ndim)
    if logits.shape[dim] == 0:
        raise ValueError("logits have no classes along dim (size 0)")
    return dim


def _log_exponential(
    shape: Sequence[int],
    generator: torch.Generator | None,
    dtype: torch.dtype,
    device: torch.device | str | None,
) -> Tensor:
    """``log(-log u)`` = ``-g`` for ``u`` uniform strictly inside (0, 1); always finite.

    ``torch.rand`` is in [0, 1); clamping to ``[tiny, 1 - eps/2]`` (the largest float below 1)
    keeps both logs finite on any backend. ``rand`` plus two in-place logs is several times
    cheaper on CPU than ``exponential_`` and exact to the resolution of ``rand``.
    """
    u = torch.rand(tuple(shape), generator=generator, dtype=dtype, device=device)
    fi = torch.finfo(dtype)
    return u.clamp_(min=fi.tiny, max=1.0 - fi.eps / 2).log_().neg_().log_()


def _needs_grad(*tensors: object) -> bool:
    return torch.is_grad_enabled() and any(
        isinstance(t, Tensor) and t.requires_grad for t in tensors
    )


def _check_row_max(m: Tensor) -> float:
    """Largest ``|max_i (logits + g)_i|`` over rows; ValueError if a row has no valid class."""
    if m.numel() == 0:
        return 0.0
    mabs = float(m.abs().amax())
    if not math.isfinite(mabs):
        raise ValueError(
            "every row of logits needs at least one finite entry and no NaN or +inf "
            "(a row of all -inf has no class to sample)"
        )
    return mabs


def _validate_tau_number(tau: float, *, allow_zero: bool) -> float:
    tau = float(tau)
    if math.isnan(tau) or math.isinf(tau) or tau < 0 or (tau == 0 and not allow_zero):
        need = ">= 0" if allow_zero else "> 0"
        raise ValueError(f"tau must be finite and {need}, got {tau}")
    return tau


def _prepare_tau(
    tau: Tau,
    shape: torch.Size,
    dim: int,
    dtype: torch.dtype,
    device: torch.device,
    *,
    allow_zero: bool,
) -> float | Tensor:
    """Validate ``tau``; return a float, or a tensor shaped to broadcast per row of ``shape``.

    A tensor ``tau`` is either in "keepdim" form (same number of dims as the logits, size 1
    along ``dim``) or in "batch" form (broadcasts against the logits' shape without ``dim``).
    A one-element tensor that needs no gradient is turned into a float (the fast path).
    """
    if isinstance(tau, bool):
        raise TypeError("tau must be a number or a tensor, not bool")
    if not isinstance(tau, Tensor):
        return _validate_tau_number(tau, allow_zero=allow_zero)
    if tau.is_complex():
        raise TypeError("tau must be real")
    if tau.numel() == 1 and tau.ndim <= len(shape) and not _needs_grad(tau):
        return _validate_tau_number(float(tau), allow_zero=allow_zero)
    bad = torch.isnan(tau) | torch.isinf(tau) | (tau < 0 if allow_zero else tau <= 0)
    if bool(bad.any()):
        need = ">= 0" if allow_zero else "> 0"
        raise ValueError(f"every tau must be finite and {need}")
    ndim = len(shape)
    row_shape = list(shape)
    row_shape[dim] = 1
    t = tau.clamp(max=torch.finfo(dtype).max).to(device=device, dtype=dtype)
    try:
        if t.ndim == ndim:
            if t.shape[dim] != 1 or _broadcast_shapes(t.shape, shape) != shape:
                raise RuntimeError
        elif t.ndim < ndim:
            batch = row_shape[:dim] + row_shape[dim + 1 :]
            t = t.expand(batch).unsqueeze(dim)
        else:
            raise RuntimeError
    except RuntimeError:
        raise ValueError(
            f"tau of shape {tuple(tau.shape)} does not broadcast per row of logits of shape "
            f"{tuple(shape)} along dim {dim}: give one tau per row (the shape without dim, "
            "or the full shape with size 1 at dim)"
        ) from None
    return t


def _one_hot(index: Tensor, like: Tensor, dim: int, dtype: torch.dtype) -> Tensor:
    return torch.zeros(like.shape, dtype=dtype, device=like.device).scatter_(dim, index, 1.0)


class _StraightThrough(torch.autograd.Function):
    """Forward: the exact one-hot at ``index``. Backward: the gradient goes to ``y_soft``."""

    @staticmethod
    def forward(ctx: Any, y_soft: Tensor, index: Tensor, dim: int) -> Tensor:
        return torch.zeros_like(y_soft).scatter_(dim, index, 1.0)

    @staticmethod
    def backward(ctx: Any, grad: Tensor) -> tuple[Tensor, None, None]:
        return grad, None, None


# --------------------------------------------------------------------------- public API


def gumbel_noise(
    shape: int | Sequence[int],
    generator: torch.Generator | None = None,
    dtype: torch.dtype = torch.float32,
    device: torch.device | str | None = None,
) -> Tensor:
    """Standard Gumbel(0, 1) samples ``g = -log(-log u)``, never infinite.

    Generated in float32 (float64 when asked for) and then cast, so float16/bfloat16 callers
    get noise from a full-precision uniform rather than from a 10- or 7-bit one.
    The tails are cut where ``rand`` runs out of bits: in float32 g lies in about [-2.8, 16.6]
    (``u = 0`` is mapped to the smallest normal float, g = -4.5), each cut tail holding ~6e-8.
    """
    shape_t = (shape,) if isinstance(shape, int) else tuple(shape)
    gen_dtype = _compute_dtype(dtype)
    g = _log_exponential(shape_t, generator, gen_dtype, device).neg_()
    return g if g.dtype == dtype else g.to(dtype)


def gumbel_max(
    logits: Tensor, dim: int = -1, generator: torch.Generator | None = None
) -> GumbelMaxSample:
    """Exact sample of ``Categorical(softmax(logits))`` by the Gumbel-Max trick (Eq. 1).

    ``logits`` may be unnormalised; ``-inf`` entries (masked classes) are never chosen.
    Returns the indices (``logits``' shape without ``dim``) and the one-hot (``logits``' shape
    and dtype). Raises ValueError if a row has no finite logit or holds NaN/+inf.
    This is a sample, not a relaxation: it carries no gradient.
    """
    dim = _class_dim(logits, dim)
    cdtype = _compute_dtype(logits.dtype)
    with torch.no_grad():
        le = _log_exponential(logits.shape, generator, cdtype, logits.device)
        w = torch.sub(logits, le, out=le)
        values, index = torch.max(w, dim, keepdim=True)
        _check_row_max(values)
        one_hot = _one_hot(index, w, dim, logits.dtype)
    return GumbelMaxSample(index.squeeze(dim), one_hot)


def gumbel_softmax(
    logits: Tensor,
    tau: Tau,
    hard: bool = False,
    dim: int = -1,
    generator: torch.Generator | None = None,
    *,
    noise: Tensor | None = None,
) -> Tensor:
    """Gumbel-Softmax (Concrete) sample ``softmax((logits + g) / tau)`` along ``dim`` (Eq. 2).

    The reparameterized sample: differentiable in ``logits`` (and in ``tau`` if it is a tensor).
    ``tau`` is a float, or a tensor with one temperature per row (the logits' shape without
    ``dim``, or with size 1 at ``dim``); negative or NaN ``tau`` raises ValueError.
    ``tau = 0`` gives the Gumbel-Max one-hot (the limit of the relaxation; no gradient there).
    ``hard=True`` is the Straight-Through Gumbel-Softmax estimator (Sec. 2.2): the forward value
    is exactly ``one_hot(argmax(logits + g))``, the backward is the soft sample's gradient.
    ``noise`` (standard Gumbel, logits' shape) replaces the internal draw, e.g. to reuse one
    draw across temperatures or for gradcheck. Computed in float32 (float64 for float64 input)
    with the row maximum subtracted when ``(logits + g) / tau`` would overflow; the result has
    the dtype of ``logits``. Rows whose logits are all ``-inf`` raise ValueError.
    """
    dim = _class_dim(logits, dim)
    cdtype = _compute_dtype(logits.dtype)
    shape = logits.shape
    t = _prepare_tau(tau, shape, dim, cdtype, logits.device, allow_zero=True)
    grad = _needs_grad(logits, t, noise)

    # w = logits + g, in the compute dtype (in place when autograd allows it).
    if noise is not None:
        if noise.shape != shape:
            raise ValueError(f"noise shape {tuple(noise.shape)} != logits shape {tuple(shape)}")
        w = logits + noise.to(cdtype)
        if w.dtype != cdtype:
            w = w.to(cdtype)
    else:
        le = _log_exponential(shape, generator, cdtype, logits.device)
        w = logits - le if grad else torch.sub(logits, le, out=le)

    out_dtype = logits.dtype
    if isinstance(t, float) and t == 0.0:
        # Gumbel-Max: the tau -> 0 limit. A sample, no gradient.
        with torch.no_grad():
            values, index = torch.max(w, dim, keepdim=True)
            _check_row_max(values)
            return _one_hot(index, w, dim, out_dtype)

    if hard and not grad:
        # Forward only: argmax((l + g) / tau) = argmax(l + g) for tau > 0; no softmax needed.
        values, index = torch.max(w, dim, keepdim=True)
        _check_row_max(values)
        return _one_hot(index, w, dim, out_dtype)

    # Row maxima (overflow guard and validity check) and, for the straight-through estimator,
    # the Gumbel-Max index, both taken before w is overwritten.
    st_index: Tensor | None = None
    if hard:
        m, st_index = torch.max(w.detach(), dim, keepdim=True)
    else:
        m = w.detach().amax(dim, keepdim=True)
    mabs = _check_row_max(m)
    big = torch.finfo(cdtype).max / 8
    if isinstance(t, float):
        t = min(t, torch.finfo(cdtype).max)  # a larger tau would round to inf: -inf/inf = NaN
        if grad:
            if mabs > big * t:  # (l + g) / tau would overflow: shift first (softmax-invariant)
                w = w - m
            if t != 1.0:
                w = w / t
            y_soft = torch.softmax(w, dim)
        elif shape[dim] < _SHORT_ROW:
            # torch.softmax is several times slower than these passes on short rows.
            w.sub_(m)
            if t != 1.0:
                w.div_(t)
            w.exp_()
            y_soft = w.div_(w.sum(dim, keepdim=True))
        else:
            if mabs > big * t:
                w.sub_(m)
            if t != 1.0:
                w.div_(t)
            y_soft = torch.softmax(w, dim, out=w)
    else:
        zero_rows = t == 0
        safe_t = torch.where(zero_rows, torch.ones_like(t), t)
        w_soft = (w - m) / safe_t
        y_soft = torch.softmax(w_soft, dim)
        if bool(zero_rows.any()):
            index = st_index if st_index is not None else w.detach().argmax(dim, keepdim=True)
            hot = _one_hot(index, w, dim, cdtype)
            y_soft = torch.where(zero_rows, hot, y_soft)

    if y_soft.dtype != out_dtype:
        y_soft = y_soft.to(out_dtype)
    if st_index is None:
        return y_soft
    return cast(Tensor, _StraightThrough.apply(y_soft, st_index, dim))  # type: ignore[no-untyped-call]


def log_prob(y: Tensor, logits: Tensor, tau: Tau, dim: int = -1) -> Tensor:
    """Log-density of the Gumbel-Softmax / Concrete distribution at ``y`` (Eq. 3).

    ``log p(y) = lgamma(k) + (k-1) log tau + sum_i log_softmax(log pi - tau log y)_i
    - sum_i log y_i``, which equals the paper's
    ``lgamma(k) + (k-1) log tau - k logsumexp(log pi - tau log y) + sum(log pi - (tau+1) log y)``
    with ``log pi = log_softmax(logits)``. It is a density w.r.t. Lebesgue measure on the first
    ``k-1`` coordinates (as in ``torch.distributions.RelaxedOneHotCategorical``); for ``k = 2``
    it is the binary Concrete density of ``y_1`` (see :func:`log_prob_binary`). Finite wherever
    ``y`` is inside the simplex; ``tau`` must be > 0 (float or one per row).
    """
    out_dtype = torch.promote_types(y.dtype, logits.dtype)
    cdtype = _compute_dtype(out_dtype)
    try:
        shape = _broadcast_shapes(y.shape, logits.shape)
    except RuntimeError:
        raise ValueError(
            f"y {tuple(y.shape)} and logits {tuple(logits.shape)} do not broadcast"
        ) from None
    dim = _canonical_dim(dim, len(shape))
    k = shape[dim]
    t = _prepare_tau(tau, shape, dim, cdtype, y.device, allow_zero=False)
    log_pi = torch.log_softmax(logits.to(cdtype).expand(shape), dim)
    log_y = torch.log(y.to(cdtype).expand(shape))
    a = log_pi - t * log_y
    lp = torch.log_softmax(a, dim).sum(dim) - log_y.sum(dim) + math.lgamma(k)
    if isinstance(t, float):
        lp = lp + (k - 1) * math.log(t)
    else:
        lp = lp + (k - 1) * torch.log(t).squeeze(dim)
    return lp.to(out_dtype)


def log_prob_binary(x: Tensor, logit: Tensor | float, tau: Tau) -> Tensor:
    """Log-density of the binary Concrete (k = 2 Gumbel-Softmax) at ``x = y_1`` in (0, 1).

    Maddison et al.: ``p(x) = tau a x^(-tau-1) (1-x)^(-tau-1) / (a x^-tau + (1-x)^-tau)^2``
    with ``a = pi_1 / pi_2 = exp(logit)``; the same as :func:`log_prob` at ``y = (x, 1-x)``
    and as ``torch.distributions.RelaxedBernoulli(tau, logits=logit)``.
    ``tau`` (> 0) and ``logit`` broadcast elementwise with ``x``.
    """
    if isinstance(tau, bool):
        raise TypeError("tau must be a number or a tensor, not bool")
    if isinstance(tau, Tensor):
        if bool((torch.isnan(tau) | torch.isinf(tau) | (tau <= 0)).any()):
            raise ValueError("every tau must be finite and > 0")
    else:
        tau = _validate_tau_number(tau, allow_zero=False)
    out_dtype = x.dtype
    for arg in (logit, tau):
        if isinstance(arg, Tensor):
            out_dtype = torch.promote_types(out_dtype, arg.dtype)
    cdtype = _compute_dtype(out_dtype)
    xc = x.to(cdtype)
    lg = torch.as_tensor(logit, dtype=cdtype, device=x.device)
    tt = torch.as_tensor(tau, dtype=cdtype, device=x.device)
    log_x, log_1mx = torch.log(xc), torch.log1p(-xc)
    lp = (
        torch.log(tt)
        + lg
        - (tt + 1) * (log_x + log_1mx)
        - 2 * torch.logaddexp(lg - tt * log_x, -tt * log_1mx)
    )
    return lp.to(out_dtype)


def anneal_tau(
    step: int, *, tau0: float = 1.0, rate: float, every: int, tau_min: float = 0.5
) -> float:
    """Temperature schedule of Jang et al.: ``max(tau_min, tau0 * exp(-rate * t))``.

    ``t = every * floor(step / every)``: tau changes only every ``every`` steps. The paper
    used ``rate`` in 1e-5..1e-4, ``every`` in 500..1000 and ``tau_min = 0.5``.
    """
    if step < 0:
        raise ValueError(f"step must be >= 0, got {step}")
    if every < 1:
        raise ValueError(f"every must be >= 1, got {every}")
    if not (math.isfinite(rate) and rate >= 0):
        raise ValueError(f"rate must be finite and >= 0, got {rate}")
    if not (math.isfinite(tau0) and tau0 > 0):
        raise ValueError(f"tau0 must be finite and > 0, got {tau0}")
    if not (math.isfinite(tau_min) and tau_min >= 0):
        raise ValueError(f"tau_min must be finite and >= 0, got {tau_min}")
    t = every * (int(step) // every)
    return max(tau_min, tau0 * math.exp(-rate * t))
