"""Lemma 5.1 (reconstructed): SSM+FNN extracts the top-J tokens of a window in order of importance.

**Claim** (``regression.extract-topJ``; our reconstruction -- the paper's statement was not
recovered, PAPER.md §7). For grid tokens ``x_s = (q_s / Q, m_s / 2^b)`` (:mod:`.piecewise`) and any
window ``[t-U+1, t]`` whose top ``J`` importance levels are distinct and above the rest (the margin
``1/Q``), the network's output at ``t`` is exactly::

    (mu_(1), phi_(1), mu_(2), phi_(2), ..., mu_(J), phi_(J))        mu_(1) > ... > mu_(J)

**Mechanism: exponential pooling, then masking by subtraction, repeated J times.**

* pre-FNN: token -> ``(R^q m, R^q)``, i.e. ``(e^(beta mu) m, e^(beta mu))`` with ``beta = Q ln R``:
  G1's pooling weights at a temperature where one margin step multiplies the weight by the radix
  ``R = 2^r``. ReLU-exact on the grid: hat functions pick the level, ``relu(m + 2^b hat_q - 2^b)``
  gates the digits.
* SSM: the window sums ``N = sum_s R^(q_s) m_s`` and ``D = sum_s R^(q_s)`` (shift SSM, ``U`` ones).
  With ``R > max(U (2^b - 1), 2U)`` these are base-``R`` numerals whose digit at place ``q`` is the sum over
  the tokens of level ``q``: no carries, so ``N`` and ``D`` determine the window's level histogram
  and the features of every token alone on its level -- in particular of the top ``J``.
* post-FNN, round ``j``: the most important remaining token is the leading digit. Its weight
  ``w = R^(q_j)`` comes from the steps ``[D >= R^q]`` (exact on integers:
  ``(relu(D - R^q / 2) - relu(D - R^q)) 2 / R^q``, exact because a lower sum stays below
  ``R^q / 2``; made a unit of its own by one more ReLU), and
  ``mu_(j) = (1/Q) sum_q [D >= R^q]``; its digits ``m`` are read bit by bit, ``s = [N >= 2^p w]``
  from the top bit down, subtracting each bit found (``relu(N - M s) + relu(N - 2^p w - M (1 - s))``
  is ``N - 2^p w s`` for a bit ``s``, ``M = R^Q``): three ReLU layers per bit. What is
  left, ``N - m w`` and ``D - w``, are the pooled sums **with token j masked out**, and round
  ``j + 1`` pools them again.

Why rounding is needed: without it (a real temperature, soft read-outs ``N/D``) masking by
subtraction fails -- to first order the remainder after round 1 re-weights the rest by
``1 + beta (mu_(1) - mu_s)`` and points back at token 1 (``checks/test_regression_extraction.py`` shows it).
The soft read-out ``N / D`` is within ``U / R = U e^(-beta / Q)`` of the top token's features
(select.hard-selection-bound); digit extraction makes it exact.

**Resources** (measured in the checks; ``eps = 2^-b`` the feature resolution, ``r`` radix bits):
post-FNN depth ``J (2 + 3b) + 1``, width ``O(J d + Q)`` (independent of ``U`` and ``eps``), state
and weights up to ``R^Q`` (``Q r = Q (b + ceil(log2 U))`` bits: the exponential weight's dynamic
range; float64 holds the construction exactly while it is at most 52 bits, the exact rational twin
beyond). The precision grows linearly in ``Q`` (one over the margin) and logarithmically in ``U``
and ``1/eps``; nothing grows polynomially in ``U``.

**Faults.** :func:`mutations` lists single-weight changes that ``--inject-fault extraction:INDEX``
applies to every network :func:`build_extraction` builds in a run.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import torch

from ..embedding import FeatureInput
from ..exact_arithmetic import ExactNetwork
from ..fnn import FNN
from ..layout import Layout
from ..mutation import injectable
from ..network import SSMNetwork
from ..ssm import ShiftSSM
from .piecewise import TokenGrid, windows, top_tokens

#: float64 represents every integer up to 2^53; the construction's largest value is below R^Q * 2.
FLOAT64_EXACT_BITS = 52


def radix_bits_needed(window: int, feature_bits: int) -> int:
    """Smallest ``r`` with ``R = 2^r > U (2^b - 1)``, so that no digit of ``N`` carries, and
    ``R > 2U``, so that a sum of lower levels stays below half the next place (the level steps)."""
    need = max(window * (2**feature_bits - 1), 2 * window)
    return need.bit_length()


@dataclass(frozen=True)
class ExtractionSpec:
    grid: TokenGrid
    window: int
    top: int
    radix_bits: int

    @property
    def radix(self) -> int:
        return 2**self.radix_bits

    @property
    def state_bits(self) -> int:
        """Bits of the largest pooled weight ``R^(Q-1)`` plus the features' digits: ``Q r``."""
        return self.grid.levels * self.radix_bits

    @property
    def float64_exact(self) -> bool:
        return self.state_bits + 1 <= FLOAT64_EXACT_BITS


class _Lin:
    """A linear expression ``w . units + c`` in the units of one network stage."""

    def __init__(self, w: torch.Tensor, c: float = 0.0):
        self.w, self.c = w, float(c)

    def __add__(self, other):
        if isinstance(other, _Lin):
            return _Lin(self.w + other.w, self.c + other.c)
        return _Lin(self.w.clone(), self.c + float(other))

    __radd__ = __add__

    def __sub__(self, other):
        return self + (-1.0) * other if isinstance(other, _Lin) else self + (-float(other))

    def __rsub__(self, other):
        return (-1.0) * self + other

    def __mul__(self, k):
        return _Lin(self.w * float(k), self.c * float(k))

    __rmul__ = __mul__


class _Stage:
    """The units of one hidden layer, and the quantities (linear expressions in them) it carries."""

    def __init__(self, width: int):
        self.width = width
        self.quantities: dict[str, list[_Lin]] = {}

    def unit(self, k: int) -> _Lin:
        w = torch.zeros(self.width, dtype=torch.float64)
        w[k] = 1.0
        return _Lin(w)

    def zero(self) -> _Lin:
        return _Lin(torch.zeros(self.width, dtype=torch.float64))


def _layer(pre_activations: list[_Lin]) -> tuple[tuple[torch.Tensor, torch.Tensor], _Stage]:
    """One affine map whose rows are ``pre_activations``; returns it and the stage of its outputs."""
    W = torch.stack([p.w for p in pre_activations])
    b = torch.tensor([p.c for p in pre_activations], dtype=torch.float64)
    return (W, b), _Stage(len(pre_activations))


class _Builder:
    """Adds hidden layers one at a time: ``hidden({name: [pre-activations]})`` makes a ReLU layer of
    the named unit groups and returns, per name, the expressions of those units in the new stage."""

    def __init__(self, inputs: int):
        self.layers: list[tuple[torch.Tensor, torch.Tensor]] = []
        self.stage = _Stage(inputs)

    def hidden(self, groups: dict[str, list[_Lin]]) -> dict[str, list[_Lin]]:
        flat = [p for group in groups.values() for p in group]
        layer, stage = _layer(flat)
        self.layers.append(layer)
        self.stage = stage
        out, k = {}, 0
        for name, group in groups.items():
            out[name] = [stage.unit(k + i) for i in range(len(group))]
            k += len(group)
        return out

    def output(self, values: list[_Lin], origin: str) -> FNN:
        layer, _ = _layer(values)
        return FNN(self.layers + [layer], origin=origin)


def pooling_weights_fnn(grid: TokenGrid, radix_bits: int) -> FNN:
    """pre-FNN: ``(mu, phi) -> (R^q m_1, ..., R^q m_d, R^q)`` on grid tokens, exactly."""
    Q, d, scale = grid.levels, grid.features, 2**grid.feature_bits
    R = 2**radix_bits
    build = _Builder(1 + d)
    x = build.stage
    # layer 1: ramps relu(Q mu - k), k = -1..Q (hat_q = ramp_{q-1} - 2 ramp_q + ramp_{q+1}), and m = 2^b phi
    ramps = [Q * x.unit(0) - k for k in range(-1, Q + 1)]
    digits = [scale * x.unit(1 + i) for i in range(d)]
    h = build.hidden({"ramp": ramps, "digit": digits})
    hat = [h["ramp"][q] - 2 * h["ramp"][q + 1] + h["ramp"][q + 2] for q in range(Q)]
    weight = sum((R**q * hat[q] for q in range(Q)), build.stage.zero())
    # layer 2: the weight R^q (non-negative, carried) and the gated digits relu(m_i + 2^b hat_q - 2^b)
    gated = [h["digit"][i] + scale * hat[q] - scale for i in range(d) for q in range(Q)]
    g = build.hidden({"weight": [weight], "gated": gated})
    N = [sum((R**q * g["gated"][i * Q + q] for q in range(Q)), build.stage.zero()) for i in range(d)]
    return build.output(N + g["weight"], origin="extraction.pooling_weights")


def extraction_rounds_fnn(grid: TokenGrid, top: int, radix_bits: int) -> FNN:
    """post-FNN: ``(N_1..N_d, D) -> (mu_(1), phi_(1), ..., mu_(J), phi_(J))`` by ``J`` rounds of
    leading-digit extraction and masking (module docstring)."""
    Q, d, b = grid.levels, grid.features, grid.feature_bits
    R = 2**radix_bits
    big = float(R**Q)  # M > every remaining numerator
    build = _Builder(d + 1)
    x = build.stage
    N = [x.unit(i) for i in range(d)]
    D = x.unit(d)
    found = [x.zero() for _ in range(top * (1 + d))]
    for j in range(top):
        # level: steps [D >= R^q], q = 1..Q-1, as units (a product of a large weight and a
        # difference of two large ramps would lose float64 exactness); D < R^q means D <= U R^(q-1)
        # < R^q / 2, so the ramp may rise over [R^q / 2, R^q]: every weight and bias is then a power
        # of two or has at most r significant bits, and the exact rational twin reads them exactly
        h = build.hidden({
            "N": N, "D": [D], "found": found,
            "hi": [D - R**q // 2 for q in range(1, Q)],
            "lo": [D - R**q for q in range(1, Q)],
        })
        h = build.hidden({"N": h["N"], "D": h["D"], "found": h["found"],
                          "step": [(2.0 / R**q) * (hi - lo) for q, hi, lo in zip(range(1, Q), h["hi"], h["lo"])]})
        w = 1 + sum((R**q - R ** (q - 1)) * h["step"][q - 1] for q in range(1, Q))
        found = list(h["found"])
        found[j * (1 + d)] = found[j * (1 + d)] + (1.0 / Q) * sum(h["step"], build.stage.zero())
        residual, D = h["N"], h["D"][0] - w
        # digits, most significant bit first: s = [N >= 2^p w], then N -= 2^p w s
        for p in reversed(range(b)):
            h = build.hidden({
                "N": residual, "D": [D], "w": [w], "found": found,
                "hi": [n - 2**p * w + 1 for n in residual],
                "lo": [n - 2**p * w for n in residual],
            })
            h = build.hidden({"N": h["N"], "D": h["D"], "w": h["w"], "found": h["found"],
                              "bit": [hi - lo for hi, lo in zip(h["hi"], h["lo"])]})
            bits, n_now, w = h["bit"], h["N"], h["w"][0]
            found = list(h["found"])
            for i in range(d):
                found[j * (1 + d) + 1 + i] = found[j * (1 + d) + 1 + i] + (2.0**p / 2**b) * bits[i]
            h = build.hidden({
                "D": h["D"], "w": [w], "found": found,
                "keep": [n_now[i] - big * bits[i] for i in range(d)],
                "drop": [n_now[i] - 2**p * w - big * (1 - bits[i]) for i in range(d)],
            })
            residual = [keep + drop for keep, drop in zip(h["keep"], h["drop"])]
            D, w, found = h["D"][0], h["w"][0], list(h["found"])
        N = residual
    return build.output(found, origin="extraction.rounds")


NAME = "extraction"


@injectable(NAME)
def build_extraction(grid: TokenGrid, window: int, top: int, radix_bits: int | None = None) -> "Extraction":
    """The network of the module docstring. ``radix_bits`` defaults to :func:`radix_bits_needed`
    (a smaller radix is allowed, to show that the check catches the carries it causes)."""
    if window < 1 or not 1 <= top <= window:
        raise ValueError(f"need 1 <= top <= window, got top={top}, window={window}")
    if top >= grid.levels:
        raise ValueError(f"the margin needs more importance levels ({grid.levels}) than top tokens ({top})")
    r = radix_bits_needed(window, grid.feature_bits) if radix_bits is None else radix_bits
    if r < 1:
        raise ValueError(f"radix bits must be >= 1, got {r}")
    spec = ExtractionSpec(grid, window, top, r)
    pre = pooling_weights_fnn(grid, r)
    ssm = ShiftSSM(torch.ones(grid.features + 1, window, dtype=torch.float64))
    post = extraction_rounds_fnn(grid, top, r)
    network = SSMNetwork(FeatureInput(Layout.of(importance=1, features=grid.features)), [(ssm, post)], pre_fnn=pre)
    return Extraction(spec, network)


def mutations(grid: TokenGrid, window: int = 4, top: int = 2, radix_bits: int | None = None):
    """Single-weight changes that break the extraction on some windows only (``--inject-fault``)."""
    from ..mutation import Mutation

    return [
        Mutation("the oldest token of the window is left out of the first feature's pooled sum",
                 "blocks.0.ssm.C", (0, window - 1), 0.0),
        Mutation("the importance ramps read mu one level too steeply", "pre_fnn.weights.0", (1, 0), float(grid.levels + 1)),
    ]


@dataclass
class Extraction:
    spec: ExtractionSpec
    network: SSMNetwork

    def __call__(self, tokens: torch.Tensor) -> torch.Tensor:
        """``(batch, L, 1+d)`` grid tokens -> ``(batch, L, J, 1+d)``: the extracted tokens, in order."""
        out = self.network(tokens)
        return out.reshape(*out.shape[:-1], self.spec.top, self.spec.grid.width)

    def exact(self, tokens: torch.Tensor, positions: list[int] | None = None) -> torch.Tensor:
        """The same outputs from the exact rational twin, at ``positions`` (default: all):
        ``(batch, len(positions), J, 1+d)``; for constructions beyond float64's 52 bits."""
        run = ExactNetwork(self.network).run(tokens, positions)
        flat = torch.tensor([[[float(v) for v in o] for o in inst] for inst in run.outputs], dtype=torch.float64)
        return flat.reshape(tokens.shape[0], len(run.positions), self.spec.top, self.spec.grid.width)

    def extract(self, tokens: torch.Tensor, positions: list[int]) -> torch.Tensor:
        """Exact outputs at ``positions``: float64 while it holds the construction, the twin beyond."""
        if self.spec.float64_exact:
            return self(tokens)[:, positions]
        return self.exact(tokens, positions)

    def reference(self, tokens: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        """The sorted top-J of every window (slow clear twin) and the margin mask ``(batch, L)``."""
        return top_tokens(windows(tokens, self.spec.window), self.spec.top)


@dataclass(frozen=True)
class ExtractionCheck:
    positions: int  # positions where the margin holds (checked)
    wrong: int  # of those, positions where some extracted coordinate differs
    max_error: float
    first_wrong: tuple[int, int] | None  # (instance, position)

    @property
    def exact(self) -> bool:
        return self.wrong == 0


def check_extraction(extraction: Extraction, tokens: torch.Tensor, outputs: torch.Tensor | None = None) -> ExtractionCheck:
    """Compare the network (or given ``outputs``, e.g. from the exact rational twin) with the sort
    reference at every position where the margin holds; exact comparison."""
    ref, ok = extraction.reference(tokens)
    got = extraction(tokens) if outputs is None else outputs
    err = (got - ref).abs().amax(dim=(-2, -1))
    err = torch.where(ok, err, torch.zeros_like(err))
    bad = (err > 0) & ok
    first = None
    if bool(bad.any()):
        i, t = (int(v) for v in bad.nonzero()[0])
        first = (i, t)
    return ExtractionCheck(int(ok.sum()), int(bad.sum()), float(err.max()) if err.numel() else 0.0, first)


def _window_sums(weighted: torch.Tensor, window: int) -> torch.Tensor:
    """Window sums of per-token rows ``(batch, L, C)`` whose first entry is a positive pooling
    weight; the left padding of :func:`.piecewise.windows` (first entry -1) counts as zero."""
    win = windows(weighted, window)
    return torch.where(win[..., :1] < 0, torch.zeros_like(win), win).sum(dim=-2)


def soft_readout(tokens: torch.Tensor, grid: TokenGrid, window: int, radix_bits: int) -> torch.Tensor:
    """The soft (un-rounded) read-out of the top token, ``N / D`` on the features: ``(batch, L, d)``.
    Within ``U / R`` of the top token's features under the margin (float64; ``Q r`` must stay small)."""
    R = 2.0**radix_bits
    w = (R ** (tokens[..., 0] * grid.levels)).unsqueeze(-1)
    sums = _window_sums(torch.cat([w, w * tokens[..., 1:]], dim=-1), window)
    return sums[..., 1:] / sums[..., :1]


def naive_masking_readout(tokens: torch.Tensor, window: int, beta: float, rounds: int) -> torch.Tensor:
    """The control mechanism *without* rounding: real weights ``e^(beta mu)``, soft read-outs, and
    masking by subtracting ``e^(beta mu^) phi^`` of the soft estimate. ``(batch, L, rounds, 1+d)``.
    Under any margin, round 2 returns (nearly) token 1 again, not token 2 (module docstring)."""
    w = torch.exp(beta * tokens[..., 0]).unsqueeze(-1)
    sums = _window_sums(torch.cat([w, w * tokens], dim=-1), window)
    D, N = sums[..., 0], sums[..., 1:]
    found = []
    for _ in range(rounds):
        estimate = N / D.unsqueeze(-1)
        found.append(estimate)
        weight = torch.exp(beta * estimate[..., 0])
        N = N - weight.unsqueeze(-1) * estimate
        D = D - weight
    return torch.stack(found, dim=-2)


def resource_row(extraction: Extraction) -> dict:
    """The measured resources of one built extraction network (from its tensors)."""
    from ..resources import measure

    res = measure(extraction.network)
    post = extraction.network.blocks[0].fnn
    spec = extraction.spec
    return {
        "J": spec.top, "U": spec.window, "b": spec.grid.feature_bits, "eps": spec.grid.resolution,
        "Q": spec.grid.levels, "d": spec.grid.features, "radix_bits": spec.radix_bits,
        "post_depth": post.depth, "post_width": max(post.widths), "fnn_width": res.fnn_width,
        "parameters": res.parameters, "weight_bound_log2": math.log2(res.weight_bound), "weight_bits": res.weight_bits,
        "state_bits": spec.state_bits, "channels": res.channels,
    }
