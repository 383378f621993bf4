"""The smooth part ``f_T`` as a ReLU network: exact on the ``b``-bit grid by gated rotations.

**Claim** (part of ``regression.approximation``; our construction -- the paper's realization of the
smooth part was not recovered, PAPER.md §7). For a trigonometric polynomial
``f_T(y) = sum_m c_m psi_(l_m)(y)`` on ``[0,1]^D`` (:mod:`.smooth_functions`) and ``b``-bit inputs
``y_i = m_i / 2^b``, the ReLU FNN built here computes ``f_T(y)`` exactly (up to float64 rounding)
with

    depth D b + 2 affine maps,   width 4 F + D + 3,   F <= 2^(D-1) M frequency pairs (M coefficients)
    nonzeros <= 24 F (D b - 1) + 12 F + (D + 12)(D b + 2)                    (:func:`nonzero_bound`)

so its size is ``poly(T) 2^(T / a_dagger)`` when ``b = T + O(1)`` and ``M = 2^(T / a_dagger)`` up to
poly(T) (:func:`.rates.coefficient_count`): the approximation's size claim covers the smooth part
with measured tensors, not a count of coefficients.

**Mechanism.**

* *Product to sum.* ``psi_l(y) = prod_i psi_(l_i)(y_i)`` with ``sqrt 2 cos = (e^+ + e^-)/sqrt 2`` and
  ``sqrt 2 sin = (e^+ - e^-)/(i sqrt 2)``, so ``f_T = W_0 + sum_w (alpha_w cos 2 pi w.y + beta_w sin
  2 pi w.y)`` over integer frequencies ``w`` (one of each pair ``+-w``): :func:`real_fourier_form`.
* *Phases from bits.* ``w . y = sum_(i,p) bit_(i,p) w_i 2^p / 2^b``, so ``(cos, sin)(2 pi w.y)`` is
  ``(1, 0)`` rotated by ``theta_(w,i,p) = 2 pi frac(w_i 2^p / 2^b)`` for every bit that is set: a
  chain of ``D b`` **gated rotations**, one per hidden layer.
* *A gate is one ReLU.* For ``beta in {0, 1}`` and ``|v| <= K``: ``beta v = relu(v + K - 2K(1 - beta))
  - K beta`` (``K = 4 > |(R_theta - I)(c, s)| = 2|sin(theta/2)|``, with room for rounding). The
  rotated point is ``(c, s) + beta (R_theta - I)(c, s)``; ``c`` and ``s`` ride along as
  ``relu(c + K) - K``. Per frequency and layer: 4 units.
* *Bits.* ``m_i = 2^b y_i`` is carried as a residual; the bit ``[r >= 2^p] = relu(r - 2^p + 1) -
  relu(r - 2^p)`` (exact on integers) is read one layer before the rotation that uses it, and
  subtracted from the residual; the bit in use is carried as ``relu(bit)``.

Exact on the grid in exact arithmetic; in float64 each rotation rounds, so the network is within
``~1e-15 D b sum |alpha, beta|`` of ``f_T`` (:func:`check_smooth_realization` states its tolerance).
The rotations' ``cos theta, sin theta`` are irrational weights: ``bits`` of the weights is not
small, ``weight_bound`` is ``max(2^b, 2K)``.

Weights are sparse (COO): with ``F`` in the thousands a dense hidden layer would not fit. The slow,
clear twin is :meth:`.smooth_functions.GammaSmoothFunction.__call__` (direct ``cos``/``sin``).
"""

from __future__ import annotations

import itertools
import math
from dataclasses import dataclass

import torch

from ..errors import ShapeError
from ..fnn import FNN
from ..mutation import injectable
from .smooth_functions import GammaSmoothFunction

#: the gate's bound on ``|v|`` (a power of two, so the gate's weights are exact)
GATE_BOUND = 4.0


@dataclass(frozen=True)
class RealFourierForm:
    """``f(y) = constant + sum_f alpha_f cos(2 pi w_f . y) + beta_f sin(2 pi w_f . y)``; ``w (F, D)``."""

    constant: float
    frequencies: torch.Tensor  # (F, D) long, first nonzero entry positive
    cos_coefficients: torch.Tensor  # (F,) float64
    sin_coefficients: torch.Tensor  # (F,) float64

    def __call__(self, y: torch.Tensor) -> torch.Tensor:
        phase = 2 * math.pi * y.to(torch.float64) @ self.frequencies.to(torch.float64).T
        return self.constant + torch.cos(phase) @ self.cos_coefficients + torch.sin(phase) @ self.sin_coefficients


def _complex(z: complex) -> torch.Tensor:
    return torch.tensor(z, dtype=torch.complex128)


def real_fourier_form(f: GammaSmoothFunction) -> RealFourierForm:
    """The product-to-sum expansion of the module docstring (complex weights summed per frequency)."""
    l = f.frequencies
    M, D = l.shape
    root = math.sqrt(0.5)
    total: dict[tuple[int, ...], complex] = {}
    for signs in itertools.product((1, -1), repeat=D):
        sigma = torch.tensor(signs, dtype=torch.long)
        used = ((l != 0) | (sigma > 0)).all(dim=1)  # a zero frequency has one term, taken with sign +
        # per coordinate: 1 (l = 0), 1/sqrt2 (cos), sigma/(i sqrt2) = -i sigma/sqrt2 (sin)
        weight = torch.ones(M, dtype=torch.complex128)
        for i in range(D):
            factor = torch.where(l[:, i] > 0, _complex(root), _complex(-1j * root * signs[i]))
            weight = weight * torch.where(l[:, i] == 0, _complex(1), factor)
        weight = weight * f.coefficients.to(torch.complex128)
        omega = sigma * l.abs()
        for w, c in zip(omega[used].tolist(), weight[used].tolist()):
            total[tuple(w)] = total.get(tuple(w), 0j) + c
    constant = total.pop((0,) * D, 0j).real
    keys = sorted(w for w in total if next(x for x in w if x != 0) > 0)
    W = torch.tensor([total[w] for w in keys], dtype=torch.complex128)
    freqs = torch.tensor(keys, dtype=torch.long).reshape(-1, D)
    # W e^(i phi) + conj(W) e^(-i phi) = 2 Re W cos phi - 2 Im W sin phi
    return RealFourierForm(constant, freqs, 2 * W.real, -2 * W.imag)


@dataclass
class SmoothPartNetwork:
    """The built ReLU network: ``fnn`` maps ``(..., D)`` grid inputs ``m / 2^b`` to ``(..., 1)``."""

    form: RealFourierForm
    bits: int
    fnn: FNN

    @property
    def dim(self) -> int:
        return self.form.frequencies.shape[1]

    @property
    def network(self) -> FNN:
        """The network itself (what a mutation changes)."""
        return self.fnn

    def __call__(self, y: torch.Tensor) -> torch.Tensor:
        """``f_T(y)`` for ``y (..., D)`` on the ``b``-bit grid in ``[0, 1)``: shape ``(...)``."""
        if not isinstance(y, torch.Tensor) or y.dim() < 1 or y.shape[-1] != self.dim:
            shape = tuple(y.shape) if isinstance(y, torch.Tensor) else type(y).__name__
            raise ShapeError(f"inputs must have shape (..., {self.dim}), got {shape}")
        m = y.to(torch.float64) * 2**self.bits
        if not bool(((m == m.round()) & (m >= 0) & (m < 2**self.bits)).all()):
            raise ValueError(f"inputs must be on the {self.bits}-bit grid m / 2^{self.bits}, 0 <= m < 2^{self.bits}")
        return self.fnn(y.to(self.fnn.dtype)).squeeze(-1)


def _bit_order(dim: int, bits: int) -> list[tuple[int, int]]:
    """The order bits are read and applied in: coordinate by coordinate, most significant first."""
    return [(i, p) for i in range(dim) for p in reversed(range(bits))]


class _SparseLayer:
    """Rows of one affine map collected as COO triplets."""

    def __init__(self, rows: int, cols: int):
        self.shape = (rows, cols)
        self.r, self.c, self.v = [], [], []
        self.bias = torch.zeros(rows, dtype=torch.float64)

    def add(self, rows, cols, values):
        rows, cols = torch.as_tensor(rows, dtype=torch.long), torch.as_tensor(cols, dtype=torch.long)
        values = torch.as_tensor(values, dtype=torch.float64).expand(rows.shape)
        keep = values != 0
        self.r.append(rows[keep]), self.c.append(cols[keep]), self.v.append(values[keep])

    def build(self) -> tuple[torch.Tensor, torch.Tensor]:
        idx = torch.stack([torch.cat(self.r), torch.cat(self.c)]) if self.r else torch.zeros(2, 0, dtype=torch.long)
        vals = torch.cat(self.v) if self.v else torch.zeros(0, dtype=torch.float64)
        return torch.sparse_coo_tensor(idx, vals, self.shape, check_invariants=True).coalesce(), self.bias


def _add_point(layer: _SparseLayer, rows, coef, which: str, prev: dict | None, K: float) -> None:
    """Add ``coef * c`` (``which = "c"``) or ``coef * s`` of every frequency's point, as the
    previous stage holds it, into ``rows`` of ``layer``: ``carry + gate - K bit - K`` (the carry
    ``relu(c + K)`` and the gate ``relu(v + K - 2K(1 - bit))``, whose ``- K bit`` and ``- K``
    corrections are applied here), or the start ``(1, 0)`` when ``prev`` is ``None``."""
    rows = torch.as_tensor(rows)
    coef = torch.as_tensor(coef, dtype=torch.float64).expand(rows.shape)
    if prev is None:
        if which == "c":
            layer.bias.index_add_(0, rows, coef)
        return
    f_idx = torch.arange(rows.numel())
    layer.add(rows, prev["c" + which] + f_idx, coef)
    layer.add(rows, prev["g" + which] + f_idx, coef)
    layer.add(rows, torch.full(rows.shape, prev["bit"]), -K * coef)
    layer.bias.index_add_(0, rows, -K * coef)


def nonzero_bound(frequency_pairs: int, dim: int, bits: int) -> int:
    """The closed-form count of the module docstring: per frequency 24 nonzeros in each rotation
    layer after the first (4 units with 3, 3, 7, 7 weights and a bias), 8 in the first, 4 in the
    output; at most ``D + 12`` per layer for residuals, the bit in use and the next bit's ramps."""
    F, Db = frequency_pairs, dim * bits
    return 24 * F * (Db - 1) + 12 * F + (dim + 12) * (Db + 2)


NAME = "smooth-relu"


@injectable(NAME)
def build_smooth_network(f: GammaSmoothFunction, bits: int, gate_bound: float = GATE_BOUND) -> SmoothPartNetwork:
    """The ReLU network of the module docstring for ``f`` (usually a truncation ``f_T``) on
    ``bits``-bit inputs.

    Stage ``k`` (hidden layer ``k``, ``k = 1..Db+1``) holds, in order: per frequency ``carry_c,
    carry_s, gate_c, gate_s`` (``F`` each; from stage 2 on), the residuals ``r_i`` (``D``), the bit in
    use (from stage 2 on) and the ``hi, lo`` ramps of the next bit (up to stage ``Db``). Stage ``k``
    reads bit ``k-1`` of the order and applies bit ``k-2``. ``gate_bound`` below 2 breaks the gates
    (a control: the check must then fail)."""
    if bits < 1:
        raise ValueError(f"need at least one input bit, got {bits}")
    form = real_fourier_form(f)
    F, D = form.frequencies.shape
    order = _bit_order(D, bits)
    K = float(gate_bound)
    scale = float(2**bits)
    # theta per frequency and bit, reduced exactly: 2 pi ((w_i 2^p) mod 2^b) / 2^b
    theta = torch.stack([2 * math.pi * torch.remainder(form.frequencies[:, i] * 2**p, 2**bits).to(torch.float64) / scale
                         for i, p in order], dim=1)  # (F, Db)
    layers = []
    f_idx = torch.arange(F)

    def offsets(stage: int) -> dict[str, int]:
        """Unit offsets of stage ``stage`` (1-based)."""
        rot = F if stage >= 2 else 0
        o = {"cc": 0, "cs": rot, "gc": 2 * rot, "gs": 3 * rot, "res": 4 * rot}
        o["bit"] = o["res"] + D
        o["hi"] = o["bit"] + (1 if stage >= 2 else 0)
        o["lo"] = o["hi"] + 1
        o["width"] = o["hi"] + (2 if stage <= len(order) else 0)
        return o

    # stage 1: r_i = relu(2^b y_i); ramps of bit 0 on r_(i0)
    o = offsets(1)
    layer = _SparseLayer(o["width"], D)
    layer.add(o["res"] + torch.arange(D), torch.arange(D), scale)
    i0, p0 = order[0]
    layer.add([o["hi"], o["lo"]], [i0, i0], scale)
    layer.bias[o["hi"]], layer.bias[o["lo"]] = 1.0 - 2**p0, -float(2**p0)
    layers.append(layer.build())

    for stage in range(2, len(order) + 2):
        prev, o = offsets(stage - 1), offsets(stage)
        layer = _SparseLayer(o["width"], prev["width"])
        i_read, p_read = order[stage - 2]  # the bit prev read: applied now, subtracted from its residual

        def add_c(rows, coef, which):
            _add_point(layer, rows, coef, which, prev if stage > 2 else None, K)

        def add_bit(rows, coef):
            """``coef * beta``, the bit read at the previous stage (``hi - lo`` there)."""
            rows = torch.as_tensor(rows)
            layer.add(rows, torch.full(rows.shape, prev["hi"]), coef)
            layer.add(rows, torch.full(rows.shape, prev["lo"]), -coef)

        cos_t, sin_t = torch.cos(theta[:, stage - 2]), torch.sin(theta[:, stage - 2])
        cc, cs, gc, gs = (o[k] + f_idx for k in ("cc", "cs", "gc", "gs"))
        add_c(cc, 1.0, "c"), add_c(cs, 1.0, "s")
        layer.bias[cc] += K
        layer.bias[cs] += K
        # gates: v + 2K beta - K with v = (R - I)(c, s)
        add_c(gc, cos_t - 1, "c"), add_c(gc, -sin_t, "s")
        add_c(gs, sin_t, "c"), add_c(gs, cos_t - 1, "s")
        add_bit(torch.cat([gc, gs]), 2 * K)
        layer.bias[gc] -= K
        layer.bias[gs] -= K
        add_bit([o["bit"]], 1.0)

        def residual(rows, i, coef=1.0, constant=0.0):
            """``coef * r_i`` after subtracting the bit just read (if it was coordinate ``i``'s)."""
            layer.add([rows], [prev["res"] + i], coef)
            if i == i_read:
                add_bit([rows], -coef * 2**p_read)
            layer.bias[rows] += constant

        for i in range(D):
            residual(o["res"] + i, i)
        if stage <= len(order):
            i_next, p_next = order[stage - 1]
            residual(o["hi"], i_next, constant=1.0 - 2**p_next)
            residual(o["lo"], i_next, constant=-float(2**p_next))
        layers.append(layer.build())

    # output: constant + sum alpha c + beta s of the last stage (duplicate entries of row 0 add up)
    last = offsets(len(order) + 1)
    out = _SparseLayer(1, last["width"])
    zeros = torch.zeros(F, dtype=torch.long)
    _add_point(out, zeros, form.cos_coefficients, "c", last, K)
    _add_point(out, zeros, form.sin_coefficients, "s", last, K)
    out.bias[0] += form.constant
    layers.append(out.build())
    return SmoothPartNetwork(form, bits, FNN(layers, origin="regression.smooth_relu"))


def mutations(f: GammaSmoothFunction, bits: int):
    """Single-weight changes that break the network for every ``f`` that depends on its first
    coordinate (``--inject-fault``)."""
    from ..mutation import Mutation

    return [Mutation("the first coordinate's residual reads 2^b y + y instead of 2^b y", "weights.0", (0, 0),
                     float(2**bits + 1))]


def fault_example() -> tuple:
    """Arguments of :func:`mutations` for the fault catalogue: a level-2 truncation on 2 coordinates, 3 bits."""
    from .smooth_functions import GammaSmoothConfig, Smoothness, sample_gamma_smooth

    return sample_gamma_smooth(GammaSmoothConfig(Smoothness("mixed", (1.0, 2.0)), 2.0, 1.0, 0)).truncate(2.0), 3


@dataclass(frozen=True)
class SmoothRealizationCheck:
    max_error: float
    tolerance: float
    points: int

    @property
    def exact(self) -> bool:
        return self.max_error <= self.tolerance


def realization_tolerance(network: SmoothPartNetwork) -> float:
    """float64 rounding budget: ``2^-46 (D b + 1) (1 + sum |alpha| + sum |beta| + |constant|)``."""
    form = network.form
    l1 = float(form.cos_coefficients.abs().sum() + form.sin_coefficients.abs().sum()) + abs(form.constant)
    return 2.0**-46 * (network.dim * network.bits + 1) * (1.0 + l1)


def check_smooth_realization(network: SmoothPartNetwork, f: GammaSmoothFunction, y: torch.Tensor) -> SmoothRealizationCheck:
    """The network against ``f`` evaluated directly (the slow twin) on grid points ``y (n, D)``."""
    err = (network(y) - f(y)).abs()
    return SmoothRealizationCheck(float(err.max()) if err.numel() else 0.0, realization_tolerance(network), int(err.numel()))


def random_grid_points(dim: int, bits: int, n: int, generator: torch.Generator) -> torch.Tensor:
    """``n`` uniform points of the ``bits``-bit grid in ``[0,1)^dim``: ``(n, dim)`` float64."""
    return torch.randint(2**bits, (n, dim), generator=generator).to(torch.float64) / 2**bits
