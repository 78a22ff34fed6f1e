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
normalised in float32; ``hard=True`` returns an exactly one-hot forward; on CPU a row with no
finite logit (or a NaN or +inf) raises ValueError instead of giving NaN.

Speed (``bench/bench_gumbel.py``): the uniforms are raw random bits (``random_`` on int64:
two 23-bit uniforms per 64-bit word, made floats by bit masks) and the noise two ``log1p``;
``torch.rand`` converts each 32-bit draw in a scalar loop, and ``exponential_`` is slower
still on CPU. For a float ``tau`` on CPU the softmax is ``exp2`` after one shift for the whole
tensor, in place, with matrix-vector row sums: no per-row broadcast but the final division,
where ``torch.softmax`` spends tens of ns a row on short rows; many rows of 2 to 6 divide
by their sums spread to full size by a matrix product instead (exact, 2x faster). Rows that
shift would leave too small are redone with their own maxima. Row sums go to buffers each
thread keeps (fresh memory can cost more in page faults than the sums take), so that a soft
forward allocates nothing but its result, and Gumbel-Max writes its one-hot over the noise.
Forward and backward are one autograd node that keeps only the soft sample. Checks read
back single numbers: the smallest and largest entry (which the shift needs anyway; all
finite and close enough means every row is valid and fits), else the sum of the row maxima
(NaN, +inf or all -inf rows raise ValueError) and the number of rows too far down; for
``hard`` also that sum and the number of ones in the one-hot (tied maxima).
On CPU that is no device sync. On other devices nothing is read back, so no call waits for
the device, and invalid rows give NaN as in torch. No ``torch.compile``: its random numbers
would not come from the caller's ``generator``.
Everything is device-agnostic: tensors are created on ``logits.device``.
"""

from __future__ import annotations

import functools
import math
import threading
from collections.abc import Sequence
from typing import Any, NamedTuple, cast

import torch
import torch.nn.functional as F
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

# Rows shorter than this (along the last dim) take their maxima with max_pool1d and their
# backward row sums with a matrix-vector product: below 16 lanes torch's row reductions and
# softmax kernels stop vectorising (CPU, 10^6 rows of 3: amax 1.9 ms, max_pool1d 0.9 ms;
# softmax backward 14 ms, with mv 3 ms).
_SHORT_ROW = 16

# With one shift for the whole tensor, a row is kept when its sum of exp2 is at least this
# (its maximum at most 30 bits below 2^0): only entries below 2^-96 of their row (subnormal
# exp2) lose bits. Rows further down are redone with their own maxima.
_MIN_ROW_SUM = 2.0**-30

# Below this |log2(e) max(w) / tau|, exp2's argument is one pass ``c w + b``: it rounds to
# ulps of c w, as ``(logits + g) / tau`` does in torch; above it, ``w - max`` comes first.
_ONE_PASS_RANGE = 2.0**10

# Per-thread buffers of at most this many elements are kept between calls (see _scratch):
# 16 MiB (float32) or 32 MiB (float64) at most for each of the two kinds of scratch.
_SCRATCH_LIMIT = 2**22

# Rows of k entries (key) divide by their sums through sums spread by a matrix product in
# blocks of this many rows (value; fastest here), when there are at least
# _SPREAD_MIN_ROWS of them, _SPREAD_ROWS at a time (see _normalise_rows).
_SPREAD_BLOCK = {2: 8, 3: 8, 4: 4, 5: 4, 6: 4}
# The same when the sums themselves come from a product (float32 only; see _normalise_rows).
_SUM_BLOCK = {2: 8, 3: 4, 4: 4}
_SPREAD_MIN_ROWS = 2**13
_SPREAD_ROWS = 2**18

_LOG2E = 1.0 / math.log(2.0)
_MINUS_ONE = {dtype: torch.tensor(-1.0, dtype=dtype) for dtype in (torch.float32, torch.float64)}
_FMAX = {dtype: torch.finfo(dtype).max for dtype in (torch.float32, torch.float64)}
_TINY = {dtype: torch.finfo(dtype).tiny for dtype in (torch.float32, torch.float64)}
# 1 - 2^-(p+1), p the mantissa bits (see _uniform_minus_one).
_ONE_MINUS_HALF_BIN = {
    dtype: torch.tensor(1.0 - torch.finfo(dtype).eps / 2, dtype=dtype)
    for dtype in (torch.float32, torch.float64)
}

# Random int64 words -> floats -(1 + m 2^-p) in (-2, -1]: keep the p mantissa bits, set the
# sign and the exponent of 1. float32 masks act on both 32-bit halves of a word at once.
_F32_MANTISSA = 0x007FFFFF_007FFFFF
_F32_MINUS_ONE = 0xBF800000_BF800000 - 2**64
_F64_MANTISSA = 0x000FFFFF_FFFFFFFF
_F64_MINUS_ONE = 0xBFF00000_00000000 - 2**64
# The same as 0-dim tensors: an in-place op given a Python number first copies it into a
# tensor of its own (a microsecond, a tenth of the whole call at 4096x10 for the few ops).
_MASKS = {
    torch.float32: (torch.tensor(_F32_MANTISSA), torch.tensor(_F32_MINUS_ONE)),
    torch.float64: (torch.tensor(_F64_MANTISSA), torch.tensor(_F64_MINUS_ONE)),
}


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


def _minus_ones_from_words(words: Tensor, dtype: torch.dtype) -> Tensor:
    """Floats ``-(1 + m 2^-p)`` in (-2, -1] made in place from random int64 ``words``: keep
    the ``p`` = 23 (float32: both 32-bit halves of each word) or 52 mantissa bits, set the
    sign and the exponent of 1. Every bit pattern gives such a float; bits outside the
    mantissas (a word's top bit, which ``random_`` leaves 0) are ignored."""
    mantissa, minus_one = _MASKS[dtype]
    return words.bitwise_and_(mantissa).bitwise_or_(minus_one).view(dtype)


def _random_minus_ones(
    shape: tuple[int, ...],
    dtype: torch.dtype,
    generator: torch.Generator | None,
    device: torch.device | str | None,
) -> Tensor:
    """:func:`_minus_ones_from_words` of ``shape`` (contiguous), ``m`` uniform.

    ``random_`` on int64 fills 63 uniform bits per word from the generator (two 32-bit draws),
    so one word holds two float32 uniforms; masking the bits costs two cheap passes where
    ``torch.rand`` converts each draw in a scalar loop. The words are laid out so that one
    view gives ``shape`` when it can (an even last dimension), in the same order either way.
    """
    if dtype == torch.float64:
        words = torch.empty(shape, dtype=torch.int64, device=device)
    elif shape and shape[-1] % 2 == 0:
        words = torch.empty((*shape[:-1], shape[-1] // 2), dtype=torch.int64, device=device)
    else:
        n = math.prod(shape)
        words = torch.empty((n + 1) // 2, dtype=torch.int64, device=device)
        floats = _minus_ones_from_words(words.random_(generator=generator), dtype)
        return (floats if n % 2 == 0 else floats[:n]).view(shape)
    return _minus_ones_from_words(words.random_(generator=generator), dtype)


def _uniform_minus_one(minus_ones: Tensor) -> Tensor:
    """``u - 1`` in place from :func:`_minus_ones_from_words`' ``-(1 + m 2^-p)``.

    ``x = f + (1 - 2^-(p+1)) = -(2m + 1) 2^-(p+1)`` is exact, so ``u = 1 + x`` is the
    midpoint of one of ``2^p`` equal bins of (0, 1): from ``2^-(p+1)`` to ``1 - 2^-(p+1)``,
    never 0 or 1, mean exactly 1/2. ``torch.rand`` has one more bit (24, float64 53) but
    gives ``m 2^-(p+1)``, 0 included (whose noise is infinite), and costs more.
    """
    return minus_ones.add_(_ONE_MINUS_HALF_BIN[minus_ones.dtype])


def _log_exponential_from(minus_ones: Tensor) -> Tensor:
    """``log E = -g`` (``E ~ Exp(1)``) from :func:`_random_minus_ones`' output, in place.

    ``E = -log1p(x)`` with ``x = u - 1`` (:func:`_uniform_minus_one`), never 0 or infinite;
    ``log E = log1p(E - 1)`` (``log1p`` is ~1.6x cheaper than ``log`` on CPU), where
    ``E - 1`` rounds only for ``E < 1/2``, to a multiple of ``2^-(p+1)``: it moves ``E`` by
    at most a quarter of the gap between two of its possible values there.
    """
    log_u = _uniform_minus_one(minus_ones).log1p_()
    minus_one = _MINUS_ONE[log_u.dtype]  # a CPU scalar: fine on any device
    return torch.add(minus_one, log_u, alpha=-1, out=log_u).log1p_()  # log1p(E - 1)


def _log_exponential(
    shape: Sequence[int],
    generator: torch.Generator | None,
    dtype: torch.dtype,
    device: torch.device | str | None,
) -> Tensor:
    """``log(-log u)`` = ``-g`` for ``u`` uniform strictly inside (0, 1), a fresh contiguous
    tensor of ``shape``; always finite (float32: ``-g`` in [-16.64, 2.81])."""
    return _log_exponential_from(_random_minus_ones(tuple(shape), dtype, generator, device))


def _needs_grad(*tensors: object) -> bool:
    return torch.is_grad_enabled() and any(
        isinstance(t, Tensor) and t.requires_grad for t in tensors
    )


def _invalid_rows() -> ValueError:
    return ValueError(
        "every row of logits needs at least one finite entry and no NaN or +inf "
        "(a row of all -inf has no class to sample)"
    )


def _check_row_max(m: Tensor) -> None:
    """ValueError if a row maximum of ``logits + g`` is not finite (NaN, +inf, all -inf).

    On CPU this reads one sum of the row maxima (no device sync; one more pass over them only
    when the sum is not finite). On other devices it checks nothing, so that no call waits.
    """
    if not m.is_cpu or m.numel() == 0 or math.isfinite(float(m.sum())):
        return
    if not bool(torch.isfinite(m).all()):  # the sum may also overflow from finite maxima
        raise _invalid_rows()


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


@functools.lru_cache(maxsize=64)
def _ones(k: int, dtype: torch.dtype) -> Tensor:
    """A CPU vector of ``k`` ones, for row sums as matrix-vector products (never written)."""
    return torch.ones(k, dtype=dtype)


@functools.lru_cache(maxsize=256)
def _shift_window(k: int, dtype: torch.dtype) -> tuple[int, float]:
    """``(head, window)`` of :func:`_soft_last_cpu` for rows of ``k``: the exponent given to
    the largest entry, and how many bits below it a row's maximum may lie."""
    head = math.floor(math.log2(torch.finfo(dtype).max)) - 1 - math.ceil(math.log2(k))
    return head, head - math.log2(_MIN_ROW_SUM)


_SCRATCH = threading.local()


def _scratch(key: str, n: int, dtype: torch.dtype) -> Tensor:
    """A 1-D CPU buffer of at least ``n`` elements, this thread's own for ``key``, for values
    that never leave a call (row sums and the like).

    Reused because fresh memory is not free: the 4 MB of sums of 10^6 rows, freshly
    allocated, cost ~1000 page faults (1.5 ms here) whenever the allocator has just handed
    memory back to the system, more than the sums themselves. Buffers over
    ``_SCRATCH_LIMIT`` elements are not kept. A buffer serves one use at a time: whoever
    takes it is done with it before calling anything that takes the same ``key``.
    """
    bufs: dict[tuple[str, torch.dtype], Tensor] = _SCRATCH.__dict__.setdefault("bufs", {})
    buf = bufs.get((key, dtype))
    if buf is None or buf.numel() < n:
        buf = torch.empty(max(n, 4096), dtype=dtype)
        if n <= _SCRATCH_LIMIT:
            bufs[(key, dtype)] = buf
            _SCRATCH.__dict__.get("views", {}).clear()  # they would keep the old one alive
    return buf


def _row_sums(y: Tensor) -> Tensor:
    """Row sums ``(rows, 1)`` of a contiguous CPU ``y`` of shape ``(rows, k)``, as a
    matrix-vector product with ones, in :func:`_scratch` ``"sums"``."""
    rows, k = y.shape
    views: dict[tuple[torch.dtype, int], tuple[Tensor, Tensor]]
    views = _SCRATCH.__dict__.setdefault("views", {})
    pair = views.get((y.dtype, rows))  # cached: two views cost as much as a small sum
    if pair is None:
        vec = _scratch("sums", rows, y.dtype)[:rows]
        pair = (vec, vec.view(rows, 1))
        if rows <= _SCRATCH_LIMIT:
            if len(views) >= 16:
                views.clear()
            views[(y.dtype, rows)] = pair
    torch.mv(y, _ones(k, y.dtype), out=pair[0])
    return pair[1]


@functools.lru_cache(maxsize=16)
def _spread_matrix(k: int, block: int, dtype: torch.dtype) -> Tensor:
    """``(block, block k)`` 0/1: row ``i`` has ones in columns ``i k`` to ``i k + k - 1``."""
    return torch.kron(torch.eye(block, dtype=dtype), torch.ones(1, k, dtype=dtype))


def _exact_matmul(dtype: torch.dtype) -> bool:
    """Whether float matrix products round as IEEE does, as :func:`_normalise_rows` needs (a
    user may let float32 ones use TF32 or bfloat16: then no, and also when unsure)."""
    if dtype != torch.float32:
        return dtype == torch.float64
    try:
        legacy = torch.get_float32_matmul_precision()
    except RuntimeError:  # raised when the legacy and the new precision settings were mixed
        return False
    onednn = getattr(getattr(torch.backends.mkldnn, "matmul", None), "fp32_precision", "none")
    return legacy == "highest" and onednn in ("none", "ieee")


def _normalise_rows(y2: Tensor) -> None:
    """Divide each row of a contiguous CPU ``y2`` ``(rows, k)`` of finite entries, row sums
    positive, by its sum, in place (not ``* (1 / s)``: a lone entry gives exactly 1).

    A broadcast division loops per row (2 ns a row; 10^6 rows of 3: 1.9 ms). Many rows of 2
    to 6 entries (``_SPREAD_BLOCK``) instead divide by a full-size copy of their sums, a
    matrix product of blocks of sums with :func:`_spread_matrix`, exact as each entry is one
    sum times 1 plus zeros (0.7 ms), then a flat division (0.3 ms). In float32, rows of 2 to
    4 (``_SUM_BLOCK``) also take their sums by a product with that matrix, blocks of rows
    against it (0.45 ms for 10^6 rows of 3, against 0.75 ms for the matrix-vector product).
    The entries must be finite: a product would spread an infinite sum's NaN (0 times inf)
    over its block.
    """
    rows, k = y2.shape
    by_product = _SUM_BLOCK.get(k, 0) if y2.dtype == torch.float32 else 0
    block = by_product or _SPREAD_BLOCK.get(k, 0)
    if rows < _SPREAD_MIN_ROWS or not block or not _exact_matmul(y2.dtype):
        y2.div_(_row_sums(y2))
        return
    spread = _spread_matrix(k, block, y2.dtype)
    whole = rows - rows % block
    step = min(whole, _SPREAD_ROWS - _SPREAD_ROWS % block)
    full_buf = _scratch("spread", step * k, y2.dtype)
    if by_product:
        sums_buf = _scratch("sums", step, y2.dtype)
    else:
        sums = _row_sums(y2).view(rows)
    for r0 in range(0, whole, step):
        r1 = min(whole, r0 + step)
        part = y2[r0:r1]
        n = (r1 - r0) // block
        if by_product:  # (block, n): row i holds the sums of rows i, i + block, ...
            blocks = torch.mm(
                spread, part.view(n, block * k).T, out=sums_buf[: r1 - r0].view(block, n)
            ).T
        else:
            blocks = sums[r0:r1].view(n, block)
        full = torch.mm(blocks, spread, out=full_buf[: (r1 - r0) * k].view(n, block * k))
        part.div_(full.view(-1, k))
    if whole < rows:
        tail = y2[whole:]
        tail.div_(_row_sums(tail))


def _is_short(w: Tensor, dim: int) -> bool:
    return w.is_cpu and dim == w.ndim - 1 and w.shape[dim] < _SHORT_ROW


def _perturbed(logits: Tensor, noise: Tensor | None, generator: torch.Generator | None) -> Tensor:
    """A fresh contiguous ``logits + g`` in the compute dtype (plain ops: no autograd)."""
    cdtype = _compute_dtype(logits.dtype)
    if noise is None:
        le = _log_exponential(logits.shape, generator, cdtype, logits.device)
        return torch.sub(logits, le, out=le)
    w = torch.empty(logits.shape, dtype=cdtype, device=logits.device)
    return torch.add(logits, noise.to(cdtype), out=w)


def _row_max(w: Tensor, dim: int) -> Tensor:
    """Row maxima of a contiguous ``w`` along ``dim`` (kept as a size-1 dim); NaN propagates."""
    k = w.shape[dim]
    if k > 1 and _is_short(w, dim):
        return F.max_pool1d(w.view(1, 1, -1), k, k).view(*w.shape[:-1], 1)
    return w.amax(dim, keepdim=True)


def _one_hot_of_max(w: Tensor, m: Tensor, dim: int, *, in_place: bool = False) -> Tensor:
    """One-hot (``w``'s dtype) of the first maximum of each row, given the row maxima ``m``;
    written over ``w`` when ``in_place``.

    ``w >= m`` marks the maxima in one pass; only a row where two entries tie for the
    maximum needs more, and on CPU one sum tells whether any row does.
    """
    hot = torch.ge(w, m, out=w if in_place else torch.empty_like(w))
    if hot.is_cpu:
        # A float32 sum of 0s and 1s is exact below 2^24 terms.
        total = hot.sum() if hot.numel() < 2**24 else hot.sum(dtype=torch.float64)
        if float(total) * w.shape[dim] == hot.numel():
            return hot
    return hot.mul_(hot.cumsum(dim) == 1)  # keep the first of tied maxima, as argmax does


def _gumbel_max_one_hot(
    logits: Tensor, noise: Tensor | None, generator: torch.Generator | None, dim: int
) -> Tensor:
    """One-hot (compute dtype) of ``argmax(logits + g)`` along ``dim``, over the noise."""
    w = _perturbed(logits, noise, generator)
    m = _row_max(w, dim)
    _check_row_max(m)
    return _one_hot_of_max(w, m, dim, in_place=True)


def _exp_rows(w: Tensor, m: Tensor, scale: float) -> Tensor:
    """``exp2(scale (w - m))`` over its row sums along the last dim, in ``w``'s memory; ``m``:
    finite row maxima, so every row sum is at least 1."""
    y = torch.sub(w, m, out=w).mul_(scale).exp2_()
    y2 = y.view(-1, w.shape[-1])
    y2.div_(_row_sums(y2))  # not * (1 / s): a lone entry must give exactly 1
    return y


def _soft_last_cpu(w: Tensor, tau: float, m: Tensor | None) -> Tensor:
    """``softmax(w / tau)`` along the last dim of a contiguous CPU ``w``, in ``w``'s memory.
    ``m``: the row maxima, checked, if known.

    One shift for the whole tensor: ``exp2(c w + b)`` with ``c = log2(e) / tau`` and ``b``
    putting the largest entry just below overflow (``c (w - top) + head`` when ``c w`` would
    round away differences): scalar passes, where a per-row shift broadcasts over short rows
    at several times the cost. A row whose maximum lies more than ``window`` bits below the
    largest one would lose precision (or underflow to 0) with it: when the spread of the
    entries cannot rule that out (small tau, -inf entries), the row maxima decide; such
    rows are redone with their own maxima, alone when they are few, all rows when many.
    """
    k = w.shape[-1]
    rows = w.numel() // k
    scale = min(_LOG2E / tau, _FMAX[w.dtype])
    # Row sums stay below half the largest float: the largest entry is about 2^head.
    head, window = _shift_window(k, w.dtype)
    x = w if m is None else m
    low, top = float(x.amin()), float(x.amax())  # 3x faster than torch.aminmax here
    far = None
    if not (top - low) * scale <= window:  # also for NaN and infinities
        if m is None:
            m = _row_max(w, w.ndim - 1)
            _check_row_max(m)
            top = float(m.amax())
        index = m.view(rows).sub(top).mul_(-scale).gt_(window).nonzero().squeeze(1)
        if 8 * index.numel() > rows:
            return _exp_rows(w, m, scale)
        if index.numel() > 0:  # copied out before w is overwritten
            far = (index, w.view(rows, k)[index], m.view(rows, 1)[index])
    if abs(scale * top) <= _ONE_PASS_RANGE:
        shift = torch.scalar_tensor(head - scale * top, dtype=w.dtype)
    else:  # c w would round away the differences: shift first
        shift = torch.scalar_tensor(head, dtype=w.dtype)
        w.sub_(top)
    torch.add(shift, w, alpha=scale, out=w).exp2_()
    y2 = w if w.ndim == 2 else w.view(rows, k)
    _normalise_rows(y2)
    if far is not None:
        index, part, part_m = far
        y2.index_copy_(0, index, _exp_rows(part, part_m, scale))
    return w


def _soft(w: Tensor, tau: float, dim: int, m: Tensor | None) -> Tensor:
    """``softmax(w / tau)`` along ``dim``, consuming ``w``; ``m``: the row maxima if known.

    On CPU along the last dim :func:`_soft_last_cpu`; elsewhere ``softmax((w - m) / tau)``.
    Every path shifts by a maximum before dividing, so a tau far below 1 cannot overflow.
    """
    if w.is_cpu and dim == w.ndim - 1:
        return _soft_last_cpu(w, tau, m)
    if m is None:
        m = w.amax(dim, keepdim=True)
    _check_row_max(m)
    y = torch.sub(w, m, out=w).div_(tau)
    return torch.softmax(y, dim, out=y)


def _soft_backward(grad: Tensor, y: Tensor, tau: float, dim: int) -> Tensor:
    """Gradient w.r.t. ``w`` of ``y = softmax(w / tau)``: ``y * (grad - sum(grad * y)) / tau``."""
    if torch.is_grad_enabled():  # double backward: differentiable, out-of-place ops
        return y * (grad - (grad * y).sum(dim, keepdim=True)) / tau
    k = y.shape[dim]
    if _is_short(y, dim):
        out = torch.mul(grad, y, out=torch.empty_like(y))  # y's contiguous layout
        s = _row_sums(out.view(-1, k)).view(*y.shape[:-1], 1)
        out = torch.sub(grad, s, out=out).mul_(y)
    else:
        out = torch._softmax_backward_data(grad, y, dim, y.dtype)
    return out if tau == 1.0 else out.div_(tau)


class _GumbelSoftmax(torch.autograd.Function):
    """``softmax((logits + g) / tau)`` as one autograd node that saves only that soft sample.

    With ``hard`` it returns ``(one_hot(argmax), soft sample)``; the backward sends the
    one-hot's gradient to the soft sample (straight-through), whose Jacobian-vector product
    is :func:`_soft_backward`. The soft sample is an output, so double backward works too.
    """

    @staticmethod
    def forward(
        ctx: Any,
        logits: Tensor,
        tau: float,
        hard: bool,
        dim: int,
        generator: torch.Generator | None,
        noise: Tensor | None,
    ) -> Tensor | tuple[Tensor, Tensor]:
        ctx.tau, ctx.dim, ctx.in_dtype = tau, dim, logits.dtype
        ctx.set_materialize_grads(False)
        w = _perturbed(logits, noise, generator)
        if not hard:
            y = _soft(w, tau, dim, None)
            ctx.save_for_backward(y)
            return y
        m = _row_max(w, dim)
        _check_row_max(m)
        hot = _one_hot_of_max(w, m, dim)
        y = _soft(w, tau, dim, m)
        ctx.save_for_backward(y)
        return hot, y

    @staticmethod
    def backward(
        ctx: Any, *grads: Tensor | None
    ) -> tuple[Tensor | None, None, None, None, None, None]:
        (y,) = ctx.saved_tensors
        given = [g for g in grads if g is not None]
        if not given:
            return None, None, None, None, None, None
        grad = given[0] if len(given) == 1 else given[0] + given[1]
        dw = _soft_backward(grad, y, ctx.tau, ctx.dim)
        return dw.to(ctx.in_dtype), None, None, None, None, None


def _gumbel_softmax_autograd(
    logits: Tensor,
    t: float | Tensor,
    hard: bool,
    dim: int,
    generator: torch.Generator | None,
    noise: Tensor | None,
) -> Tensor:
    """Plain-autograd Gumbel-Softmax: a tensor ``tau`` (one temperature per row, maybe with a
    gradient), noise that needs a gradient, or empty logits. Not the fast path."""
    cdtype = _compute_dtype(logits.dtype)
    if noise is not None:
        w = logits + noise.to(cdtype)
        if w.dtype != cdtype:
            w = w.to(cdtype)
    else:
        w = logits - _log_exponential(logits.shape, generator, cdtype, logits.device)
    wd = w.detach()
    m = wd.amax(dim, keepdim=True)
    _check_row_max(m)
    index = wd.argmax(dim, keepdim=True)
    if isinstance(t, float):
        if t == 0.0:  # Gumbel-Max: the tau -> 0 limit; a sample, no gradient.
            return _one_hot(index, wd, dim, logits.dtype)
        y_soft = torch.softmax((w - m) / t, dim)
    else:
        # Rows with tau = 0 are their Gumbel-Max one-hot, with zero (not NaN) gradient.
        zero_rows = t == 0
        safe_t = torch.where(zero_rows, torch.ones_like(t), t)
        y_soft = torch.softmax((w - m) / safe_t, dim)
        y_soft = torch.where(zero_rows, _one_hot(index, wd, dim, cdtype), y_soft)
    if y_soft.dtype != logits.dtype:
        y_soft = y_soft.to(logits.dtype)
    if not hard:
        return y_soft
    return cast(Tensor, _StraightThrough.apply(y_soft, index, dim))  # type: ignore[no-untyped-call]


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
    ``u`` is the midpoint of one of 2^23 (float64: 2^52) equal bins of (0, 1), so the tails
    are cut where the uniform runs out of bits: in float32 g lies in [-2.81, 16.64], each cut
    tail holding ~6e-8. The same noise as :func:`gumbel_softmax` draws from ``generator``.
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
    and dtype). Raises ValueError (on CPU) if a row has no finite logit or holds NaN/+inf.
    This is a sample, not a relaxation: it carries no gradient.
    """
    dim = _class_dim(logits, dim)
    with torch.no_grad():
        w = _perturbed(logits, None, generator)
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
    draw across temperatures or for gradcheck. Computed in float32 (float64 for float64 input),
    shifted by a maximum so that no ``tau`` overflows; the result has the dtype of ``logits``.
    On CPU, rows whose logits are all ``-inf`` (or hold NaN or +inf) raise ValueError; on other
    devices nothing is checked (no call waits for the device) and such rows come out NaN.
    """
    dim = _class_dim(logits, dim)
    cdtype = _compute_dtype(logits.dtype)
    shape = logits.shape
    t = _prepare_tau(tau, shape, dim, cdtype, logits.device, allow_zero=True)
    if noise is not None and noise.shape != shape:
        raise ValueError(f"noise shape {tuple(noise.shape)} != logits shape {tuple(shape)}")
    if not isinstance(t, float) or _needs_grad(noise) or logits.numel() == 0:
        if isinstance(t, float):
            fi = torch.finfo(cdtype)
            t = 0.0 if t == 0.0 else min(max(t, fi.tiny), fi.max)
        return _gumbel_softmax_autograd(logits, t, hard, dim, generator, noise)

    out_dtype = logits.dtype
    grad = torch.is_grad_enabled() and logits.requires_grad
    if t == 0.0 or (hard and not grad):
        # Gumbel-Max: argmax((l + g) / tau) = argmax(l + g); a sample, no gradient.
        if grad:
            with torch.no_grad():
                y = _gumbel_max_one_hot(logits, noise, generator, dim)
        else:
            y = _gumbel_max_one_hot(logits, noise, generator, dim)
    else:
        t = min(max(t, _TINY[cdtype]), _FMAX[cdtype])  # beyond these tau rounds to 0 or inf
        if grad:
            out = _GumbelSoftmax.apply(logits, t, hard, dim, generator, noise)  # type: ignore[no-untyped-call]
            y = cast(Tensor, out[0] if hard else out)
        else:
            y = _soft(_perturbed(logits, noise, generator), t, dim, None)
    return y if y.dtype == out_dtype else y.to(out_dtype)


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
