"""Exact evaluation of SSM+FNN networks with rational numbers: the slow exact twin of ``forward``.

``ExactNetwork(network).run(tokens)`` computes the same map as :class:`~constructions.network.
SSMNetwork` with :class:`fractions.Fraction` arithmetic: every weight is read exactly from its
float tensor (``Fraction(float)`` is exact), every sum and product is exact, and the SSM layers run
their recurrence ``h_t = A h_{t-1} + B x_t`` step by step. It decides what a construction computes
when floating point cannot (a memory state with more significant bits than a float64 holds), and it
measures the precision the states need: the largest number of significant bits and the largest
denominator exponent of every SSM state entry (dyadic rationals; ``inf`` for any other denominator).

With ``state_bits=p`` every SSM state entry is rounded to ``p`` significant bits after each step
(``rounding="nearest"``: ties to even, like IEEE arithmetic; ``"truncate"``: toward zero): a
machine whose state registers have a ``p``-bit significand and whose other arithmetic is exact.

Scope: real SSM layers (shift, real diagonal, dense, banks of them, lookahead), FNNs (dense or
sparse weights), clipping, and any embedding (its outputs are stored entries, no arithmetic). It is
deliberately simple -- Python loops over instances, positions and nonzero weights -- so it is slow
(milliseconds per instance for the recall constructions) and meant for small batches; only the last
FNN is restricted to the positions asked for.

Format: ``run`` returns, per instance and requested position, a tuple of ``Fraction`` outputs.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass, field
from fractions import Fraction

import torch

from .construction import Construction
from .errors import DTypeMismatchError, ShapeError, UnknownOptionError
from .fnn import FNN
from .network import SSMNetwork
from .ssm import DenseSSM, DiagonalSSM, ShiftSSM, SSMBank

ROUNDINGS = ("nearest", "truncate")
ZERO = Fraction(0)


# ----------------------------------------------------------------------------- numbers
def significant_bits(x: Fraction) -> float:
    """Bits of the odd part of a dyadic ``x`` (0 for 0); ``inf`` if the denominator is not a power of 2."""
    q = x.denominator
    if q & (q - 1):
        return math.inf
    p = abs(x.numerator)
    return 0 if p == 0 else (p // (p & -p)).bit_length()


def denominator_bits(x: Fraction) -> float:
    """``k`` for a dyadic ``x = p / 2^k`` in lowest terms; ``inf`` for any other denominator."""
    q = x.denominator
    return math.inf if q & (q - 1) else q.bit_length() - 1


def round_to_bits(x: Fraction, bits: int, rounding: str = "nearest") -> Fraction:
    """``x`` rounded to ``bits`` significant bits (binary, unbounded exponent)."""
    if isinstance(bits, bool) or not isinstance(bits, int) or bits < 1:
        raise ShapeError(f"state_bits must be a positive integer, got {bits!r}")
    if rounding not in ROUNDINGS:
        raise UnknownOptionError(f"unknown rounding {rounding!r}; choose one of {ROUNDINGS}")
    if x == 0:
        return x
    p, q = abs(x.numerator), x.denominator
    e = p.bit_length() - q.bit_length()  # 2^e <= |x| < 2^(e+2); make it 2^e <= |x| < 2^(e+1)
    if (p << max(0, -e)) < (q << max(0, e)):
        e -= 1
    scale = Fraction(2) ** (bits - 1 - e)  # |x| * scale in [2^(bits-1), 2^bits)
    y = x * scale
    n = round(y) if rounding == "nearest" else math.trunc(y)
    return Fraction(n) / scale


def to_fractions(t: torch.Tensor) -> list:
    """A real tensor as nested lists of exact Fractions."""
    if t.is_complex():
        raise DTypeMismatchError(f"exact evaluation needs real tensors, got dtype {t.dtype}")
    t = t.detach()
    if t.is_sparse:
        t = t.to_dense()
    values = t.to(torch.float64).cpu().tolist() if t.is_floating_point() else t.cpu().tolist()

    memo: dict = {}  # most entries repeat (0, 1, a few weights)

    def convert(v):
        if isinstance(v, list):
            return [convert(u) for u in v]
        if v not in memo:
            memo[v] = Fraction(v)
        return memo[v]

    return convert(values)


# ----------------------------------------------------------------------------- layers
class _ExactFNN:
    """An FNN as rows of (column, Fraction) nonzeros per affine map."""

    def __init__(self, fnn: FNN):
        self.maps = []
        for W, b in zip(fnn.weights, fnn.biases):
            W = W.detach()
            W = W.coalesce() if W.is_sparse else W.to_sparse().coalesce()
            rows: list[list[tuple[int, Fraction]]] = [[] for _ in range(W.shape[0])]
            idx, vals = W.indices().tolist(), W.values().to(torch.float64).tolist()
            for r, c, v in zip(idx[0], idx[1], vals):
                rows[r].append((c, Fraction(v)))
            self.maps.append((rows, to_fractions(b)))

    def __call__(self, x: list[Fraction]) -> list[Fraction]:
        last = len(self.maps) - 1
        for i, (rows, bias) in enumerate(self.maps):
            y = [_dot(row, x, b) for row, b in zip(rows, bias)]
            x = y if i == last else [v if v > 0 else ZERO for v in y]
        return x


def _dot(row: list[tuple[int, Fraction]], x: list[Fraction], start: Fraction) -> Fraction:
    """``start + sum_c v_c x_c`` over the nonzeros of a row, skipping zero inputs (most units of a
    gated network are zero) and multiplications by +-1."""
    acc = start
    for c, v in row:
        xc = x[c]
        if xc:
            acc += xc if v == 1 else (-xc if v == -1 else v * xc)
    return acc


@dataclass
class _StateStats:
    significant_bits: float = 0
    denominator_bits: float = 0

    def note(self, values) -> None:
        for v in values:
            if v:
                self.significant_bits = max(self.significant_bits, significant_bits(v))
                self.denominator_bits = max(self.denominator_bits, denominator_bits(v))


class _ExactSSM:
    """One SSM group (shift, real diagonal or dense) run by its recurrence, channel by channel."""

    def __init__(self, layer):
        if isinstance(layer, (DiagonalSSM, DenseSSM)) and any(t.is_complex() for t in layer.parameter_tensors().values()):
            raise DTypeMismatchError(f"exact evaluation needs real SSM weights; this {type(layer).__name__} is complex")
        if not isinstance(layer, (ShiftSSM, DiagonalSSM, DenseSSM)):
            raise ShapeError(f"exact evaluation does not know SSM layers of type {type(layer).__name__}")
        self.kind = type(layer)
        self.channels, self.lookahead = layer.channels, layer.lookahead
        self.skip = to_fractions(layer.skip)
        self.C = [_nonzeros(c) for c in to_fractions(layer.C)]  # per channel: [(n, C_n)] where C_n != 0
        self.B = [_nonzeros(b) for b in to_fractions(layer.B)]
        self.N = layer.state_size
        if isinstance(layer, DiagonalSSM):
            self.A = to_fractions(layer.lam)  # (D, N): the diagonal
        elif isinstance(layer, DenseSSM):
            self.A = [[_nonzeros(row) for row in a] for a in to_fractions(layer.A)]  # (D, N, nonzeros)

    def __call__(self, xs: list[list[Fraction]], stats: _StateStats, bits: int | None, rounding: str) -> list[list[Fraction]]:
        """``xs``: (length, channels) -> same shape."""
        L, F = len(xs), self.lookahead
        xs = xs + [[ZERO] * self.channels for _ in range(F)]
        out = [[ZERO] * self.channels for _ in range(L)]
        for d in range(self.channels):
            h = [ZERO] * self.N
            for t, x in enumerate(xs):
                u = x[d]
                if self.kind is ShiftSSM:  # A = J_N: every entry moves one slot down
                    h = [ZERO] + h[:-1]
                elif self.kind is DiagonalSSM:
                    h = [a * hn for a, hn in zip(self.A[d], h)]
                else:
                    h = [_dot(row, h, ZERO) for row in self.A[d]]
                if u:
                    for n, bn in self.B[d]:
                        h[n] += bn * u
                if bits is not None:
                    h = [round_to_bits(v, bits, rounding) for v in h]
                stats.note(h)
                if t >= F:
                    out[t - F][d] = _dot(self.C[d], h, self.skip[d] * u)
        return out


def _nonzeros(values: list[Fraction]) -> list[tuple[int, Fraction]]:
    return [(i, v) for i, v in enumerate(values) if v]


class _ExactBank:
    def __init__(self, ssm):
        groups = list(ssm.groups) if isinstance(ssm, SSMBank) else [ssm]
        self.groups = [_ExactSSM(g) for g in groups]

    def __call__(self, xs, stats, bits, rounding):
        parts, start = [], 0
        for g in self.groups:
            parts.append(g([x[start : start + g.channels] for x in xs], stats, bits, rounding))
            start += g.channels
        return [[v for p in parts for v in p[t]] for t in range(len(xs))]


# ----------------------------------------------------------------------------- network
@dataclass
class ExactRun:
    """``outputs[i][k]``: the output vector of instance ``i`` at ``positions[k]``; per SSM layer
    (in network order) the largest significant bits and denominator exponent of any state entry."""

    positions: list[int]
    outputs: list[list[tuple[Fraction, ...]]]
    state_significant_bits: list[float]
    state_denominator_bits: list[float]


class ExactNetwork:
    """The exact twin of an :class:`SSMNetwork` (weights read once, at construction)."""

    def __init__(self, network: SSMNetwork):
        if not isinstance(network, SSMNetwork):
            raise ShapeError(f"exact evaluation needs an SSMNetwork, got {type(network).__name__}")
        self.network = network
        self.pre = _ExactFNN(network.pre_fnn) if network.pre_fnn is not None else None
        self.blocks = [(_ExactBank(b.ssm), _ExactFNN(b.fnn)) for b in network.blocks]
        self.clip = None if network.clip is None else tuple(Fraction(c) for c in network.clip)

    def run(
        self,
        tokens: torch.Tensor,
        positions: Sequence[int] | None = None,
        *,
        state_bits: int | None = None,
        rounding: str = "nearest",
    ) -> ExactRun:
        """Exact outputs at ``positions`` (default: all) for ``tokens: (batch, length)``."""
        if rounding not in ROUNDINGS:
            raise UnknownOptionError(f"unknown rounding {rounding!r}; choose one of {ROUNDINGS}")
        if state_bits is not None and (isinstance(state_bits, bool) or not isinstance(state_bits, int) or state_bits < 1):
            raise ShapeError(f"state_bits must be a positive integer or None, got {state_bits!r}")
        with torch.no_grad():
            embedded = self.network.embedding(tokens)  # stored entries only: exact
        L = embedded.shape[1]
        positions = list(range(L)) if positions is None else [int(p) for p in positions]
        bad = [p for p in positions if not 0 <= p < L]
        if bad:
            raise ShapeError(f"positions {bad} lie outside the sequence of length {L}")
        stats = [_StateStats() for _ in self.blocks]
        outputs = []
        for seq in to_fractions(embedded):
            xs = [self.pre(x) for x in seq] if self.pre is not None else seq
            for m, (ssm, fnn) in enumerate(self.blocks):
                ys = ssm(xs, stats[m], state_bits, rounding)
                last = m == len(self.blocks) - 1
                xs = [fnn(ys[p]) for p in positions] if last else [fnn(y) for y in ys]
            if not self.blocks:
                xs = [xs[p] for p in positions]
            if self.clip is not None:
                lo, hi = self.clip
                xs = [[min(max(v, lo), hi) for v in x] for x in xs]
            outputs.append([tuple(x) for x in xs])
        return ExactRun(positions, outputs, [s.significant_bits for s in stats], [s.denominator_bits for s in stats])


# ----------------------------------------------------------------------------- constructions
@dataclass
class ExactVerification:
    """Like :class:`~constructions.verification.Verification`, with zero tolerance: an answer is
    right when its output vector *equals* the target code."""

    instances: int
    answers: int
    wrong_answers: int
    state_significant_bits: list[float]
    state_denominator_bits: list[float]
    first_failure: dict | None = field(default=None)

    @property
    def ok(self) -> bool:
        return self.wrong_answers == 0

    def describe(self) -> str:
        if self.ok:
            return f"{self.instances} instances, {self.answers} answers exact in rational arithmetic"
        f = self.first_failure or {}
        return (f"{self.wrong_answers}/{self.answers} answers not equal to their target code; first failing instance "
                f"#{f.get('index')}: tokens={f.get('tokens')} expected={f.get('expected')} outputs={f.get('outputs')}")


def verify_exact(
    construction: Construction,
    tokens: torch.Tensor,
    *,
    state_bits: int | None = None,
    rounding: str = "nearest",
    exact: ExactNetwork | None = None,
) -> ExactVerification:
    """Every answer of ``construction`` on ``tokens``, computed exactly, equals the target code."""
    construction.check_tokens(tokens)
    exact = exact or ExactNetwork(construction.network)
    positions = construction.answer_positions.tolist()
    run = exact.run(tokens, positions, state_bits=state_bits, rounding=rounding)
    expected = construction.reference(tokens)
    target = construction.code.target(expected, torch.float64)  # 0/1 (or +-1) codes: exact in float64
    wrong, first = 0, None
    for i, (outs, tgt) in enumerate(zip(run.outputs, target.tolist())):
        bad = [tuple(o) != tuple(Fraction(v) for v in t) for o, t in zip(outs, tgt)]
        wrong += sum(bad)
        if any(bad) and first is None:
            first = {"index": i, "tokens": tokens[i].tolist(), "expected": expected[i].tolist(),
                     "outputs": [[str(v) if v.denominator < 1 << 20 else float(v) for v in o] for o in outs]}
    return ExactVerification(len(run.outputs), len(run.outputs) * len(positions), wrong,
                             run.state_significant_bits, run.state_denominator_bits, first)


def significand_bits(dtype: torch.dtype) -> int:
    """Significant bits a floating dtype holds, the implicit one included (float64: 53, float32: 24)."""
    return 1 - int(math.log2(torch.finfo(dtype).eps))  # eps = 2^-(bits - 1)


@dataclass
class PrecisionShortfall:
    """A failure floating point explains: in exact arithmetic the instance is answered right, but an SSM
    state entry needs ``state_bits`` significant bits where the network's dtype holds ``dtype_bits``."""

    tokens: list[int]
    state_bits: float
    dtype_bits: int
    dtype: str

    def describe(self, rerun: str | None = None) -> str:
        text = (f"the SSM state needs {self.state_bits:g} significant bits, {self.dtype} holds {self.dtype_bits}: "
                f"{self.dtype} rounds it, while in exact rational arithmetic the network answers instance {self.tokens} "
                "correctly (constructions.exact_arithmetic.verify_exact)")
        return text + (f"; run the exact rational twin: {rerun}" if rerun else "")


#: the exact twin runs Python Fraction arithmetic: diagnose only where tokens x parameters stays below this
PRECISION_DIAGNOSIS_WORK = 5_000_000


def precision_shortfall(construction: Construction, tokens: torch.Tensor) -> PrecisionShortfall | None:
    """Whether the float failure of ``construction`` on ``tokens: (1, T)`` (one instance) is one of precision:
    the exact twin answers it correctly and some SSM state needs more significant bits than the dtype has.
    ``None`` otherwise, and where the twin would take too long (more than :data:`PRECISION_DIAGNOSIS_WORK`
    tokens x parameters) or does not apply (not an SSM network, complex weights)."""
    from .resources import measure

    network = construction.network
    if not isinstance(network, SSMNetwork) or tokens.shape[1] * measure(network).parameters > PRECISION_DIAGNOSIS_WORK:
        return None
    try:
        exact = verify_exact(construction, tokens[:1])
    except (DTypeMismatchError, ShapeError):
        return None
    need, have = max(exact.state_significant_bits, default=0), significand_bits(network.dtype)
    if not exact.ok or need <= have:
        return None
    return PrecisionShortfall(tokens[0].tolist(), need, have, str(network.dtype).replace("torch.", ""))
