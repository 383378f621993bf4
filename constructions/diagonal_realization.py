"""Finite kernels realized by diagonal SSMs, and what the realization does outside its window.

Claim ``model.diagonal-realizes`` (provenance: **reconstructed**; a reviewer asked what changes when
``A`` must be diagonal, PAPER.md §2). The suite's constructions use shift filters
(``c = e_k`` on ``[0, U)``) realized by the nilpotent :class:`~constructions.ssm.ShiftSSM`, whose
kernel is exactly ``c`` and then exactly 0. A :class:`~constructions.ssm.DiagonalSSM` has kernel
``K_s = Re(sum_j C_j B_j lambda_j^s)``; to make it equal a given ``c`` on ``[0, L)`` one solves the
(transposed) Vandermonde system ``sum_j lambda_j^s w_j = c_s`` (``s < L``) for ``w = B * C``.
This module builds two such realizations (``B = 1``, so ``w = C``):

* **DFT nodes** (:func:`realize_dft`): ``lambda_j = exp(2 pi i j / N)``, ``j < N``, ``N >= L``.
  With ``c`` padded by zeros to length ``N``, ``C = fft(c) / N`` (the inverse DFT written with
  ``exp(-2 pi i j s / N)``), so ``sum_j C_j lambda_j^s = c_{s mod N}``: the kernel equals ``c`` on
  ``[0, L)``, is 0 on ``[L, N)`` and is **N-periodic** after. ``V_{s j} = lambda_j^s`` has
  orthogonal rows of equal norm, so ``cond_2(V) = 1``, and ``|C_j| <= ||c||_1 / N <= max|c|``.
  Resources: ``N`` complex states per channel, weights bounded by ``max|c|``.
* **Real nodes** (:func:`realize_real`): ``N = L`` distinct nodes in ``(0, 1)``, by default the
  equispaced ``lambda_j = j / (L + 1)``, ``j = 1..L`` (chosen because they are rational, so the
  exact weights are computable with :func:`exact_inverse_vandermonde`); ``C`` solves
  ``V C = c`` in float64. ``cond(V)`` and ``max|C|`` grow exponentially in ``L`` (measured by
  the checks). For *any* real nodes in ``[0, 1]`` (any ``N``), realizing the shift at lag ``L - 1``
  forces ``sum_j |B_j C_j| >= 2^(2L-3)`` (Chebyshev: :func:`chebyshev_weight_bound`).

Measurement (:func:`kernel_report`, :func:`vandermonde`,
:func:`condition_numbers`) reads everything off a built layer: its ``kernel(length)`` and its
stored ``lam, B, C`` -- never the formulas above.

Shape legend: ``kernel (D, L)`` real, one target filter per channel; layers have ``D`` channels and
state ``N``; ``vandermonde (D, length, N)``.

:func:`diagonalize_shifts` swaps every ``ShiftSSM`` of a built construction for its DFT-diagonal
realization, so the checks can run a real construction (the fixed-length copier) on a diagonal
``A``.

Source: reconstructed (our answer to the reviewer's question); the DFT/Vandermonde facts are
classical linear algebra, the bound 2^(2L-3) is the Chebyshev extremal property.
"""

from __future__ import annotations

import copy
import math
from dataclasses import dataclass
from fractions import Fraction
from typing import Sequence

import numpy as np
import torch

from .construction import Construction
from .errors import DTypeMismatchError, InfeasibleTaskError, ShapeError, require_finite, require_rank
from .ssm import DiagonalSSM, ShiftSSM, SSMBank, SSMLayer

#: Float64 realizations are compared with their target within ``REALIZATION_RTOL * L * max|c|``
#: (round-off of ``lambda^s`` grows about linearly in ``s``; see the checks for the measured size).
REALIZATION_RTOL = 1e-12


# ----------------------------------------------------------------------------- validation
def _validated_kernel(kernel) -> torch.Tensor:
    """``kernel`` as a float64 ``(D, L)`` tensor with ``D, L >= 1``, finite and real."""
    if not isinstance(kernel, torch.Tensor):
        raise ShapeError(f"kernel must be a tensor of shape (channels, L), got {type(kernel).__name__}")
    require_rank("kernel", kernel, 2)
    if kernel.is_complex() or not kernel.is_floating_point():
        raise DTypeMismatchError(f"kernel must be a real floating tensor, got dtype {kernel.dtype}")
    D, L = kernel.shape
    if L < 1:
        raise ShapeError(f"kernel must have at least one tap (L >= 1), got shape {tuple(kernel.shape)}")
    if D < 1:
        raise ShapeError(f"kernel must have at least one channel, got shape {tuple(kernel.shape)}")
    require_finite("kernel", kernel)
    return kernel.to(torch.float64)


def _int_at_least(name: str, value, minimum: int) -> int:
    if isinstance(value, bool) or not isinstance(value, int) or value < minimum:
        raise InfeasibleTaskError(f"{name} must be an integer >= {minimum}, got {value!r}")
    return value


# ----------------------------------------------------------------------------- nodes
def dft_nodes(state_size: int, *, device=None) -> torch.Tensor:
    """``lambda_j = exp(2 pi i j / N)`` for ``j < N``: complex128 ``(N,)``."""
    N = _int_at_least("state_size", state_size, 1)
    j = torch.arange(N, dtype=torch.float64, device=device)
    return torch.polar(torch.ones_like(j), 2 * math.pi * j / N)


def equispaced_fractions(count: int) -> list[Fraction]:
    """The real nodes this module uses by default, exactly: ``j / (count + 1)``, ``j = 1..count``."""
    L = _int_at_least("count", count, 1)
    return [Fraction(j, L + 1) for j in range(1, L + 1)]


def equispaced_nodes(count: int, *, device=None) -> torch.Tensor:
    """:func:`equispaced_fractions` in float64, ``(count,)``: nodes in ``(0, 1)``."""
    L = _int_at_least("count", count, 1)
    return torch.arange(1, L + 1, dtype=torch.float64, device=device) / (L + 1)


# ----------------------------------------------------------------------------- builders
def realize_dft(kernel: torch.Tensor, state_size: int | None = None, *, lookahead: int = 0) -> DiagonalSSM:
    """A diagonal SSM with DFT nodes whose kernel is ``kernel`` on ``[0, L)``.

    ``kernel: (D, L)`` real; ``state_size`` ``N >= L`` (default ``L``). Returns a complex
    :class:`DiagonalSSM` with ``lam[d] = exp(2 pi i j / N)``, ``B = 1`` and
    ``C[d] = fft(kernel[d] padded to N) / N``; its kernel is ``kernel`` on ``[0, L)``, 0 on
    ``[L, N)`` and N-periodic (up to float64 round-off). Weight bound ``max|C| <= max|kernel|``.
    """
    c = _validated_kernel(kernel)
    D, L = c.shape
    N = L if state_size is None else _int_at_least("state_size", state_size, 1)
    if N < L:
        raise InfeasibleTaskError(f"DFT realization needs state_size N >= L = {L} (one node per tap), got N = {N}")
    lam = dft_nodes(N, device=c.device).expand(D, N).clone()
    C = torch.fft.fft(c, n=N, dim=-1) / N  # sum_s c_s exp(-2 pi i j s / N) / N
    B = torch.ones_like(C)
    return DiagonalSSM(lam, B, C, lookahead=lookahead)


def realize_real(kernel: torch.Tensor, nodes: torch.Tensor | None = None, *, lookahead: int = 0) -> DiagonalSSM:
    """A real diagonal SSM with ``N = L`` nodes in ``(0, 1)`` whose kernel is ``kernel`` on ``[0, L)``
    (up to the float64 solve's error, which grows with ``cond(V)``).

    ``kernel: (D, L)`` real; ``nodes: (L,)`` distinct reals in ``(0, 1)``, default
    :func:`equispaced_nodes` ``(L)``. ``B = 1``; ``C[d]`` solves ``sum_j nodes_j^s C[d, j] =
    kernel[d, s]`` (``s < L``) by LU in float64. Same nodes on every channel.
    """
    c = _validated_kernel(kernel)
    D, L = c.shape
    if nodes is None:
        lam = equispaced_nodes(L, device=c.device)
    else:
        if not isinstance(nodes, torch.Tensor):
            raise ShapeError(f"nodes must be a tensor of shape ({L},), got {type(nodes).__name__}")
        require_rank("nodes", nodes, 1)
        if nodes.shape[0] != L:
            raise ShapeError(f"need one node per tap: kernel has L = {L} taps, nodes has shape {tuple(nodes.shape)}")
        if nodes.is_complex() or not nodes.is_floating_point():
            raise DTypeMismatchError(f"real nodes must be a real floating tensor, got dtype {nodes.dtype}")
        require_finite("nodes", nodes)
        lam = nodes.to(device=c.device, dtype=torch.float64)
        if bool(((lam <= 0) | (lam >= 1)).any()):
            raise InfeasibleTaskError(f"real nodes must lie in the open interval (0, 1), got {lam.tolist()}")
        if torch.unique(lam).numel() != L:
            raise InfeasibleTaskError(f"real nodes must be distinct (the Vandermonde system is singular otherwise), got {lam.tolist()}")
    V = lam.unsqueeze(0) ** torch.arange(L, dtype=torch.float64, device=c.device).unsqueeze(1)  # (L, L): V[s, j]
    C = torch.linalg.solve(V, c.T).T  # (D, L)
    if not bool(torch.isfinite(C).all()):
        raise InfeasibleTaskError(f"the float64 Vandermonde solve for L = {L} real nodes overflowed (C is not finite)")
    lam = lam.expand(D, L).clone()
    return DiagonalSSM(lam, torch.ones_like(C), C, lookahead=lookahead)


# ----------------------------------------------------------------------------- measurement
@dataclass(frozen=True)
class KernelReport:
    """What a layer's measured kernel does inside and outside the target window ``[0, L)``.

    ``window_error`` -- ``max_{d, s < L} |K_{d,s} - c_{d,s}|``; ``channel_errors`` -- the same per
    channel; ``scale`` -- ``max |c|``; ``tolerance`` -- ``REALIZATION_RTOL * L * scale`` (what
    counts as round-off); ``tail_max`` -- ``max_{d, L <= s < horizon} |K_{d,s}|``;
    ``first_tail_lag`` -- per channel, the first ``s >= L`` with ``|K_{d,s}| > tolerance``
    (``None``: none before ``horizon``); ``measured_window`` -- ``layer.window()``. With a
    ``period`` P: ``gap_max`` -- ``max |K_s|`` on ``[L, P)`` (0 if ``P <= L``) and
    ``period_error`` -- ``max_{s + P < horizon} |K_{s+P} - K_s|``; both ``None`` without one.
    """

    length: int
    horizon: int
    window_error: float
    channel_errors: tuple[float, ...]
    scale: float
    tolerance: float
    tail_max: float
    first_tail_lag: tuple[int | None, ...]
    measured_window: float
    period: int | None = None
    gap_max: float | None = None
    period_error: float | None = None

    @property
    def exact(self) -> bool:
        """The window error is within round-off."""
        return self.window_error <= self.tolerance

    def to_dict(self) -> dict:
        return {k: getattr(self, k) for k in ("length", "horizon", "window_error", "scale", "tolerance", "tail_max",
                                              "first_tail_lag", "measured_window", "period", "gap_max", "period_error")}


def kernel_report(layer: SSMLayer, target: torch.Tensor, horizon: int, period: int | None = None) -> KernelReport:
    """Compare ``layer.kernel(horizon)`` with ``target (D, L)`` on ``[0, L)``; describe ``[L, horizon)``
    (and, with ``period`` P < horizon, the gap ``[L, P)`` and the period)."""
    c = _validated_kernel(target)
    D, L = c.shape
    if layer.channels != D:
        raise ShapeError(f"target has {D} channels, the layer has {layer.channels}")
    H = _int_at_least("horizon", horizon, L)
    P = None if period is None else _int_at_least("period", period, 1)
    if P is not None and P >= H:
        raise InfeasibleTaskError(f"period {P} must be shorter than the horizon {H} to be measured")
    K = layer.kernel(H).to(torch.float64)
    c = c.to(K.device)
    errors = (K[:, :L] - c).abs().amax(dim=1)
    scale = float(c.abs().max())
    tol = REALIZATION_RTOL * L * scale
    tail = K[:, L:].abs()
    above = tail > tol  # (D, H - L)
    if H > L:
        first = torch.where(above.any(dim=1), above.float().argmax(dim=1) + L, torch.full((D,), -1, device=K.device))
    else:
        first = torch.full((D,), -1, device=K.device)
    gap = period_error = None
    if P is not None:
        gap = float(K[:, L:P].abs().max()) if P > L else 0.0
        period_error = float((K[:, P:] - K[:, : H - P]).abs().max())
    return KernelReport(
        length=L,
        horizon=H,
        window_error=float(errors.max()),
        channel_errors=tuple(map(float, errors.tolist())),
        scale=scale,
        tolerance=tol,
        tail_max=float(tail.max()) if tail.numel() else 0.0,
        first_tail_lag=tuple(None if f < 0 else int(f) for f in first.tolist()),
        measured_window=layer.window(),
        period=P,
        gap_max=gap,
        period_error=period_error,
    )


def _vandermonde(lam: torch.Tensor, B: torch.Tensor, length: int) -> torch.Tensor:
    s = torch.arange(length, device=lam.device, dtype=torch.float64).reshape(1, length, 1)
    return B.unsqueeze(1) * lam.unsqueeze(1) ** s.to(lam.dtype)


def vandermonde(layer: DiagonalSSM, length: int) -> torch.Tensor:
    """``V[d, s, j] = B[d, j] lam[d, j]^s`` for ``s < length`` from the layer's stored tensors:
    ``K_{d,s} = Re(sum_j V[d, s, j] C[d, j])``. ``(D, length, N)``, the layer's complex or real dtype."""
    if not isinstance(layer, DiagonalSSM):
        raise ShapeError(f"vandermonde needs a DiagonalSSM, got {type(layer).__name__}")
    return _vandermonde(layer.lam.detach(), layer.B.detach(), _int_at_least("length", length, 1))


def condition_numbers(layer: DiagonalSSM, length: int) -> np.ndarray:
    """``cond_2`` of each channel's ``(length, N)`` Vandermonde matrix, ``(D,)`` (numpy, float64
    SVD: values beyond ~1e16 are not resolved and only mean "numerically singular"). Channels with
    the same ``(lam, B)`` share the matrix, which is built and decomposed once."""
    if not isinstance(layer, DiagonalSSM):
        raise ShapeError(f"condition_numbers needs a DiagonalSSM, got {type(layer).__name__}")
    n = _int_at_least("length", length, 1)
    lam, B = layer.lam.detach(), layer.B.detach()
    keys = torch.cat([lam, B], dim=1).cpu().numpy()
    _, first, inverse = np.unique(keys, axis=0, return_index=True, return_inverse=True)
    pick = torch.as_tensor(first, device=lam.device)
    V = _vandermonde(lam[pick], B[pick], n).cpu().numpy()
    return np.linalg.cond(V)[inverse.reshape(-1)]


# ----------------------------------------------------------------------------- exact real weights
def exact_inverse_vandermonde(nodes: Sequence[Fraction]) -> list[list[Fraction]]:
    """Exact ``V^{-1}`` for ``V[s, j] = nodes_j^s`` (``s, j < n``), as ``W[j][s]``.

    ``W[j][s]`` is the coefficient of ``x^s`` in the Lagrange polynomial
    ``l_j(x) = prod_{m != j} (x - nodes_m) / (nodes_j - nodes_m)``, so the weights realizing a kernel
    ``c`` on these nodes are ``C_j = sum_s W[j][s] c_s``; for the shift at lag ``k``,
    ``C_j = W[j][k]``. A small exact-arithmetic reference (Python loops over ``Fraction``s,
    ``O(n^2)`` operations): meant for ``n`` up to a few dozen.
    """
    xs = [Fraction(x) for x in nodes]
    if not xs:
        raise InfeasibleTaskError("need at least one node")
    if len(set(xs)) != len(xs):
        raise InfeasibleTaskError(f"nodes must be distinct, got {[str(x) for x in xs]}")
    P = [Fraction(1)]  # prod_m (x - x_m), coefficients low degree first
    for xm in xs:
        Q = [Fraction(0)] * (len(P) + 1)
        for i, a in enumerate(P):
            Q[i + 1] += a
            Q[i] -= a * xm
        P = Q
    n = len(xs)
    rows = []
    for j, xj in enumerate(xs):
        q, acc = [Fraction(0)] * n, Fraction(0)  # P(x) / (x - x_j) by synthetic division
        for i in range(n, 0, -1):
            acc = P[i] + acc * xj
            q[i - 1] = acc
        denom = Fraction(1)
        for m, xm in enumerate(xs):
            if m != j:
                denom *= xj - xm
        rows.append([a / denom for a in q])
    return rows


def exact_condition_1(nodes: Sequence[Fraction]) -> Fraction:
    """Exact ``cond_1(V) = ||V||_1 ||V^{-1}||_1`` for ``V[s, j] = nodes_j^s`` (max column sums)."""
    xs = [Fraction(x) for x in nodes]
    W = exact_inverse_vandermonde(xs)
    n = len(xs)
    norm_V = max(sum(abs(x) ** s for s in range(n)) for x in xs)
    norm_W = max(sum(abs(W[j][s]) for j in range(n)) for s in range(n))
    return norm_V * norm_W


def chebyshev_weight_bound(length: int) -> int:
    """``2^(2L-3)``: for ``L >= 2`` every diagonal SSM with real nodes in ``[0, 1]`` (any number
    ``N`` of them, any ``B, C``) whose kernel is the shift ``e_{L-1}`` on ``[0, L)`` has
    ``sum_j |B_j C_j| >= 2^(2L-3)``, hence ``max_j |B_j C_j| >= 2^(2L-3) / N``.

    Proof: ``p(x) = T_{L-1}(2x - 1)`` has degree ``L - 1``, leading coefficient ``2^(2L-3)`` and
    ``|p| <= 1`` on ``[0, 1]``. With ``w = B C`` and ``K_s = sum_j w_j lambda_j^s``,
    ``sum_j w_j p(lambda_j) = sum_s p_s K_s = p_{L-1}``, and the left side is at most
    ``sum_j |w_j|`` in absolute value. (The checks prove the Chebyshev facts in sympy.)
    """
    L = _int_at_least("length", length, 2)
    return 2 ** (2 * L - 3)


# ----------------------------------------------------------------------------- constructions
def _dft_of_shift(layer: ShiftSSM, extra_state: int) -> DiagonalSSM:
    U = layer.state_size
    taps = layer.kernel(U)  # the built layer's filter (skip folded into tap 0)
    return realize_dft(taps, U + extra_state, lookahead=layer.lookahead)


def diagonalize_shifts(construction: Construction, extra_state: int = 0) -> Construction:
    """A copy of ``construction`` with every :class:`ShiftSSM` (also inside banks) replaced by its
    DFT-diagonal realization with ``N = U + extra_state`` states, ``U`` the shift's state size.

    The kernel is kept exactly on ``[0, N)`` (up to round-off) and repeats with period ``N``:
    the copy computes the same outputs as the original on sequences of length ``<= N`` and may
    differ beyond (lag ``s`` and ``s + N`` are summed).
    """
    extra = _int_at_least("extra_state", extra_state, 0)
    memo = {}  # torch cannot deep-copy sparse parameters (sparse FNN weights): clone those by hand
    for p in construction.network.parameters():
        if p.is_sparse:
            memo[id(p)] = torch.nn.Parameter(p.data.clone(), requires_grad=p.requires_grad)
    swapped = copy.deepcopy(construction, memo)
    replaced = 0
    for block in swapped.network.blocks:
        if isinstance(block.ssm, ShiftSSM):
            block.ssm = _dft_of_shift(block.ssm, extra)
            replaced += 1
        elif isinstance(block.ssm, SSMBank):
            groups = []
            for g in block.ssm.groups:
                groups.append(_dft_of_shift(g, extra) if isinstance(g, ShiftSSM) else g)
                replaced += isinstance(g, ShiftSSM)
            block.ssm = SSMBank(groups)
    if replaced == 0:
        raise InfeasibleTaskError(f"construction {construction.name!r} has no ShiftSSM layer to replace")
    swapped.name = f"{construction.name} (shifts realized by DFT-diagonal SSMs, N = U + {extra})"
    return swapped
