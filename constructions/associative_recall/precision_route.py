"""Associative recall, query last, poly-log width: the precision route (PAPER.md §5, route (1)).

Claim (``limits.precision-route``, reconstructed; a statement about THIS construction): in the
query-last format the token-wise FNNs before the query cannot see it, so everything about the N
pairs must sit in the SSM state when the query arrives. This construction keeps width
poly-logarithmic in the vocabulary by *packing*: all N pairs live in ONE memory channel, as one
number with ``2 N w`` binary digits (``w = m + b`` code bits per pair), so the precision its state
needs grows linearly in N: ``2 N w - 1`` significant bits.
For every instance of ``ARConfig(num_keys=K, num_values=V, num_pairs=N, query="last")`` (one query,
keys of one token) the network's output at the query is exactly the binary code of the answer, in
exact arithmetic for every N; in a floating format with a ``p``-bit significand it is exact while
``2 N w - 1 <= p`` (:func:`float_exact`).

Format: ``k_1 v_1 ... k_N v_N q`` (keys and values from disjoint vocabularies; binary token codes,
``m = ceil(log2 K)`` key bits and ``b = ceil(log2 V)`` value bits, little-endian).

Mechanism (digits are base-4 digits restricted to {0, 1}: every data bit is followed by a guard 0
in binary, so the ReLU step that reads a digit has a gap and bounded weights)::

    embedding (fixed binary code)  key bits k (m), value bits v (b)
    pre-FNN (linear)     copy the key bits: (prev_key, key, value)
    SSM 1 (shifts)       prev_key <- key bits of x_{t-1}; key, value <- x_t
    FNN 1 (linear)       write = sum_j c_j 4^-(j+1), c = (prev_key bits, value bits): the pair's
                         block X in [0, 1/3); it is 0 at every non-value token (the token before a
                         key is a value, whose key bits are 0, and a key has no value bits)
                         query <- key bits of x_t
    SSM 2 (memory)       a 2x2 dense state A = [[0, 4^-w], [1, 0]], B = e_1, C = e_2: kernel
                         K_s = 4^(-w (s-1)/2) for odd s, 0 for even s ("shift + geometric filter").
                         At the query (t = 2N) the value of pair i sits at odd distance 2(N-i)+1:
                             S = sum_i 4^(-w (N-i)) X_i = 0.c_N c_{N-1} ... c_1   (base 4, c_i a block)
                         the most recent pair is the most significant block
    FNN 2 (deep)         bit extraction, one hidden layer per digit t = 0 .. N w - 1:
                             z = 4 R_t,  d_t = relu(2z - 1) - relu(2z - 2),  R_{t+1} = z - d_t
                         (exact: z lies in [0, 1/3) or [1, 4/3)); alongside it, per pair,
                             mismatches = sum_r relu(q_r - k_r) + relu(k_r - q_r)   (Hamming distance)
                             answer_r  += relu(v_r - mismatches)                  (v_r if the key matches)
                         the query bits, the answer bits and the running count ride along in
                         channels of their own.

Resources (measured; closed forms in :func:`closed_form`): 2 SSM layers, windows 2 and infinite,
FNN width ``max(2m + b, m + b + 7)`` = O(log |V|), FNN depth ``N w + 2`` (**grows linearly with N**:
one layer per extracted digit), weight bound ``B = 8`` whatever N and |V| (guard digits instead of
steep steps), weights with ``2w + 2`` fixed-point bits (the filter ``4^-w``), independent of N. The
precision that grows is the *state's*: the memory holds a dyadic number with denominator
``2^(2 N w)`` and up to ``2 N w - 1`` significant bits (:func:`memory_bits`), measured by the exact
evaluator (:mod:`constructions.exact_arithmetic`). That *some* linear growth in N is forced for every
model whose state after the pairs is all it keeps -- at least ``V^N`` states, ``N log2 V`` bits -- is
a separate claim with its own proof (``limits.query-last-state``, :mod:`constructions.limits.recall_states`);
this construction spends ``2(m + b)`` bits per pair.
A deep read-out is also needed here (reconstructed reasoning, not checked): with one memory channel
the read-out for a query on the oldest pair is a piecewise-linear function of one number which, along
the states sorted by size (lexicographic in the blocks, most recent first), must change its answer at
least ``V^(N-1)`` times, and a ReLU net of width W and depth L has at most ``(2W)^L`` linear pieces.

Only one query (``num_queries = 1``): the kernel gives the pair blocks weight only at odd distances,
so a second query, one token later, would see the memory scaled by ``4^-w`` (or not at all).

Source: PAPER.md §5, route (1) "precision that grows (packing digits with a filter b^-l and
extracting them with sawtooth ReLU nets)"; the digit extraction is the Siegelmann-Sontag base-4
encoding. Reconstructed, not the paper's own construction.
"""

from __future__ import annotations

from dataclasses import dataclass

import sympy as sp
import torch

from ..construction import BinaryCode, Construction
from ..embedding import BinaryEmbedding, code_bits
from ..errors import InfeasibleTaskError, ShapeError
from ..fnn import FNN
from ..layout import Layout
from ..mutation import injectable
from ..network import SSMNetwork
from ..ssm import DenseSSM, SSMBank, shifts
from ..tasks.associative_recall import ARConfig
from .common import recall_construction

NAME = "precision-route"
SOURCE = "PAPER.md §5 route (1): digits packed by a geometric filter, read back by ReLU bit extraction; reconstructed"

#: significand bits (implicit bit included) of the IEEE formats the checks run in
SIGNIFICAND_BITS = {torch.float64: 53, torch.float32: 24}


# ----------------------------------------------------------------------------- sizes
def code_widths(config: ARConfig) -> tuple[int, int]:
    """``(m, b)``: key bits and value bits of the binary token code."""
    return code_bits(config.num_keys), code_bits(config.num_values)


def block_digits(config: ARConfig) -> int:
    """``w = m + b``: base-4 digits (= data bits) per pair block."""
    m, b = code_widths(config)
    return m + b


def memory_bits(config: ARConfig) -> int:
    """``2 N w``: the exponent of the largest denominator of the memory state (a dyadic number).
    Its significant bits are at most ``2 N w - 1`` (first digit at 2^-2, last at 2^-(2Nw))."""
    return 2 * config.num_pairs * block_digits(config)


def float_exact(config: ARConfig, significand_bits: int) -> bool:
    """Whether a float format with ``significand_bits`` holds every memory state exactly."""
    return memory_bits(config) - 1 <= significand_bits


def largest_exact_pairs(num_keys: int, num_values: int, significand_bits: int) -> int:
    """The largest N (at most ``num_keys``) for which :func:`float_exact` holds, 0 if none."""
    w = code_bits(num_keys) + code_bits(num_values)
    return max(0, min(num_keys, (significand_bits + 1) // (2 * w)))


def _check_format(config: ARConfig) -> None:
    if not isinstance(config, ARConfig):
        raise InfeasibleTaskError(f"the precision-route construction needs an ARConfig, got {type(config).__name__}")
    if config.query != "last":
        raise InfeasibleTaskError(f"the precision-route construction needs query='last', got query={config.query!r}")
    if config.key_length != 1:
        raise InfeasibleTaskError(f"the precision-route construction needs key_length=1, got key_length={config.key_length}")
    if config.num_queries != 1:
        raise InfeasibleTaskError(
            f"the precision-route construction answers one query (num_queries=1), got num_queries={config.num_queries}: "
            "its memory kernel weighs the pairs only at odd distances from the query"
        )


# ----------------------------------------------------------------------------- digit schedule
@dataclass(frozen=True)
class Digit:
    """Digit ``index`` of the memory (0 = most significant): ``kind`` 'key' or 'value', ``bit`` of
    that code, ``rank`` of its pair (0 = the most recent pair)."""

    index: int
    rank: int
    kind: str
    bit: int


def digit_schedule(m: int, b: int, pairs: int) -> list[Digit]:
    """The order in which FNN 2 reads the digits: most recent pair first, key bits then value bits."""
    w = m + b
    return [Digit(t, t // w, "key" if t % w < m else "value", t % w if t % w < m else t % w - m) for t in range(pairs * w)]


# ----------------------------------------------------------------------------- weight builders
def routed_layout(m: int, b: int) -> Layout:
    return Layout.of(prev_key=m, key=m, value=b)


def memory_input_layout(m: int) -> Layout:
    return Layout.of(write=1, query=m)


def stage_layout(m: int, b: int) -> Layout:
    """One hidden layer of FNN 2: ``remainder4 = 4 R``, the two step units, the carried query and
    answer bits, the running mismatch count and the three per-digit units."""
    return Layout.of(remainder4=1, step_half=1, step_one=1, query=m, answer=b, mismatches=1, above=1, below=1, selected=1)


def block_code_weights(m: int, b: int, *, dtype=torch.float64, device=None) -> tuple[torch.Tensor, torch.Tensor]:
    """``4^-(j+1)`` for digit j of a block: key bits ``j < m``, then value bits."""
    w = m + b
    weights = torch.tensor([4.0 ** -(j + 1) for j in range(w)], dtype=dtype, device=device)
    return weights[:m], weights[m:]


def memory_encoder(m: int, b: int, *, dtype=torch.float64, device=None) -> FNN:
    """FNN 1 (linear): ``write = sum_j c_j 4^-(j+1)`` over (prev_key bits, value bits); query = key."""
    key_w, value_w = block_code_weights(m, b, dtype=dtype, device=device)
    encode = DenseMap(routed_layout(m, b), memory_input_layout(m), dtype=dtype, device=device)
    encode.connect("write", "prev_key", key_w).connect("write", "value", value_w).connect("query", "key", 1)
    return FNN.from_maps(encode, origin="precision_route.memory_encoder")


def memory_filter(m: int, b: int, *, dtype=torch.float64, device=None) -> SSMBank:
    """SSM 2: the packing filter ``K_s = 4^(-w (s-1)/2)`` (odd s) on ``write``; identity on the query."""
    w = m + b
    A = torch.zeros(1, 2, 2, dtype=dtype, device=device)
    A[0, 0, 1] = 4.0**-w
    A[0, 1, 0] = 1.0
    B = torch.tensor([[1.0, 0.0]], dtype=dtype, device=device)
    C = torch.tensor([[0.0, 1.0]], dtype=dtype, device=device)
    return SSMBank([DenseSSM(A, B, C), shifts([0] * m, dtype=dtype, device=device)])


class DenseMap:
    """A dense affine map between two layouts, filled block by block like
    :class:`~constructions.layout.AffineMap` (``connect`` adds a scalar times the identity, a row,
    a column or a matrix into a block). The extraction network has hundreds of small maps; writing
    them densely (no sparse triplets) keeps a build well under a millisecond per map."""

    def __init__(self, source: Layout, target: Layout, *, dtype=torch.float64, device=None):
        self.source, self.target = source, target
        self.weight = torch.zeros(target.width, source.width, dtype=dtype, device=device)
        self.bias = torch.zeros(target.width, dtype=dtype, device=device)

    def connect(self, target: str, source: str, value) -> "DenseMap":
        block = self.weight[self.target[target], self.source[source]]  # a view
        value = torch.as_tensor(value, dtype=block.dtype, device=block.device)
        if value.dim() == 0:
            if block.shape[0] != block.shape[1]:
                raise ShapeError(f"scalar connection {source!r}->{target!r} needs a square block, got {tuple(block.shape)}")
            value = value * torch.eye(block.shape[0], dtype=block.dtype, device=block.device)
        elif value.dim() == 1:
            value = value.reshape(1, -1) if block.shape[0] == 1 else value.reshape(-1, 1)
        if value.shape != block.shape:
            raise ShapeError(f"connection {source!r}->{target!r}: block {tuple(block.shape)}, value {tuple(value.shape)}")
        block += value
        return self

    def add_bias(self, target: str, value) -> "DenseMap":
        self.bias[self.target[target]] += value
        return self

    def build(self) -> tuple[torch.Tensor, torch.Tensor]:
        return self.weight, self.bias


def _remainder_rows(step: DenseMap, source_is_stage: bool) -> None:
    """Rows of ``remainder4``, ``step_half``, ``step_one`` for the next digit: with ``R`` the
    remainder (``memory`` at the first stage, ``remainder4 - step_half + step_one`` after),
    ``remainder4 = 4R``, ``step_half = 8R - 1``, ``step_one = 8R - 2``."""
    for target, scale, bias in (("remainder4", 4, 0), ("step_half", 8, -1), ("step_one", 8, -2)):
        if source_is_stage:
            step.connect(target, "remainder4", scale).connect(target, "step_half", -scale).connect(target, "step_one", scale)
        else:
            step.connect(target, "write", scale)
        if bias:
            step.add_bias(target, bias)


def _unit(layout: Layout, block: str, offset: int = 0) -> int:
    return layout[block].start + offset


def _stage_map(m: int, b: int, digit: Digit, previous: Digit | None, more_digits: bool, *, dtype, device) -> DenseMap:
    """The affine map from stage ``digit.index`` to the next one: it reads ``digit`` off the step
    units and, if ``more_digits``, prepares the next digit's step units."""
    kw = dict(dtype=dtype, device=device)
    stage = stage_layout(m, b)
    step = DenseMap(stage, stage, **kw)
    if more_digits:
        _remainder_rows(step, source_is_stage=True)
    step.connect("query", "query", 1).connect("answer", "answer", 1)
    if digit.kind == "key":  # above = relu(q_r - d), below = relu(d - q_r)
        q = torch.zeros(m, **kw)
        q[digit.bit] = 1
        step.connect("above", "query", q).connect("above", "step_half", -1).connect("above", "step_one", 1)
        step.connect("below", "query", -q).connect("below", "step_half", 1).connect("below", "step_one", -1)
    else:  # selected = relu(d - mismatches of this pair)
        step.connect("selected", "step_half", 1).connect("selected", "step_one", -1)
        for unit in ("mismatches", "above", "below"):
            step.connect("selected", unit, -1)
    if digit.index % (m + b):  # same pair as the previous digit: keep counting
        for unit in ("mismatches", "above", "below"):
            step.connect("mismatches", unit, 1)
    if previous is not None and previous.kind == "value":  # the previous stage selected value bit r
        col = torch.zeros(b, **kw)
        col[previous.bit] = 1
        step.connect("answer", "selected", col)
    return step


def extraction_fnn(m: int, b: int, pairs: int, *, dtype=torch.float64, device=None) -> FNN:
    """FNN 2: reads the ``pairs * (m + b)`` digits of the memory one per layer and returns the value
    bits of the pair whose key bits equal the query bits. Depth ``pairs (m + b) + 2``.

    Map ``s`` (``1 <= s <= N w``) takes stage ``s - 1`` to stage ``s`` and reads digit ``s - 1``;
    maps that differ only in the pair they read are equal, so each distinct one is built once and
    copied (every layer owns its tensors: a one-weight mutation changes one layer)."""
    kw = dict(dtype=dtype, device=device)
    schedule = digit_schedule(m, b, pairs)
    D = len(schedule)
    source, stage, out = memory_input_layout(m), stage_layout(m, b), Layout.of(answer=b)

    first = DenseMap(source, stage, **kw)
    _remainder_rows(first, source_is_stage=False)
    first.connect("query", "query", 1)
    layers, built = [first.build()], {}
    for s in range(1, D + 1):
        digit, previous = schedule[s - 1], schedule[s - 2] if s >= 2 else None
        same_pair = digit.index % (m + b) != 0
        key = (digit.kind, digit.bit, same_pair, previous and (previous.kind, previous.bit), s < D)
        if key not in built:
            built[key] = _stage_map(m, b, digit, previous, s < D, **kw).build()
        layers.append(tuple(t.clone() for t in built[key]))
    last = DenseMap(stage, out, **kw).connect("answer", "answer", 1)
    col = torch.zeros(b, **kw)
    col[schedule[-1].bit] = 1  # the last digit is a value bit: its selection is still pending
    last.connect("answer", "selected", col)
    layers.append(last.build())
    return FNN(layers, [source] + [stage] * (D + 1) + [out], origin="precision_route.bit_extraction")


@injectable(NAME)
def build(config: ARConfig, *, dtype=torch.float64, device=None) -> Construction:
    """The construction for ``config`` (query last, key length 1, one query); see the module docstring."""
    _check_format(config)
    m, b = code_widths(config)
    kw = dict(dtype=dtype, device=device)
    vocab = config.vocabulary()
    embedding = BinaryEmbedding(vocab, **kw)
    pre = DenseMap(embedding.layout, routed_layout(m, b), **kw)
    pre.connect("prev_key", "key", 1).connect("key", "key", 1).connect("value", "value", 1)
    ssm1 = shifts([1] * m + [0] * (m + b), **kw)
    network = SSMNetwork(
        embedding,
        [(ssm1, memory_encoder(m, b, **kw)), (memory_filter(m, b, **kw), extraction_fnn(m, b, config.num_pairs, **kw))],
        pre_fnn=FNN.from_maps(pre),
    )
    construction = recall_construction(NAME, network, config, BinaryCode(vocab.offset("value"), b), SOURCE)
    construction.notes.update(memory_bits=memory_bits(config), block_digits=m + b, memory_channels=1,
                              state_bits_needed=memory_bits(config) - 1)  # read by verify() to explain a float failure
    return construction


# ----------------------------------------------------------------------------- accounting
def closed_form() -> dict[str, sp.Expr]:
    """Resource counts in terms of ``K``, ``V`` and the number of pairs ``N``."""
    K, V, N = sp.symbols("K V N", positive=True, integer=True)
    m = sp.Max(1, sp.ceiling(sp.log(K, 2)))
    b = sp.Max(1, sp.ceiling(sp.log(V, 2)))
    w = m + b
    D = N * w
    extraction = (m + 5) + 11 * (D - 1) + (m + b) * D + (N * b - 1) + 6 * N * m + 5 * N * b + 3 * N * (w - 1) + (b + 1)
    fnn = (2 * m + b) + (2 * m + b) + extraction
    ssm = 3 * (2 * m + b) + 4 + 2 * m
    return {
        "num_layers": sp.Integer(2),
        "window": sp.oo,
        "channels": 2 * m + b,
        "state_size": 5 * m + 2 * b + 2,
        "fnn_depth": D + 2,
        "fnn_width": sp.Max(2 * m + b, m + b + 7),
        "fnn_nonzeros": fnn,
        "ssm_nonzeros": ssm,
        "shift_structure_nonzeros": 2 * m + b,  # J_2 of every layer-1 channel (window 2)
        "parameters": fnn + ssm,
        "weight_bound": sp.Integer(8),
        "weight_bits": 2 * w + 2,
    }


def state_closed_form() -> dict[str, sp.Expr]:
    """Precision of the memory state at the query (worst case over instances): denominator
    exponent ``2 N w`` and significant bits ``2 N w - 1``."""
    K, V, N = sp.symbols("K V N", positive=True, integer=True)
    w = sp.Max(1, sp.ceiling(sp.log(K, 2))) + sp.Max(1, sp.ceiling(sp.log(V, 2)))
    return {"denominator_bits": 2 * N * w, "significant_bits": 2 * N * w - 1}


def mutations(config: ARConfig):
    """Single-weight changes that break the construction on some instances only."""
    from ..mutation import Mutation

    _check_format(config)
    m, b = code_widths(config)
    w = m + b
    stage = stage_layout(m, b)
    pending = m + 2  # map that adds value bit 0 of the most recent pair (digit m) into the answer
    if pending == config.num_pairs * w + 1:  # that digit is the last one: the output map adds it
        answer_row = 0
    else:
        answer_row = _unit(stage, "answer", 0)
    return [
        Mutation("key bit 0 is not written into the memory", "blocks.0.fnn.weights.0", (0, 0), 0.0),
        Mutation("the memory's pair stride is one digit too short", "blocks.1.ssm.groups.0.A", (0, 0, 1), 4.0 ** -(w - 1)),
        Mutation(
            "a key-bit-0 disagreement with query bit 1 is not counted for the most recent pair",
            "blocks.1.fnn.weights.1", (_unit(stage, "above"), _unit(stage, "query", 0)), 0.0,
        ),
        Mutation(
            "value bit 0 of the most recent pair never reaches the answer",
            f"blocks.1.fnn.weights.{pending}", (answer_row, _unit(stage, "selected")), 0.0,
        ),
    ]


def widest_state_instance(config: ARConfig):
    """An instance whose memory state has the most significant bits, ``2 N w - 1``: the most recent
    key is odd (first digit 1) and the oldest value has its top bit set (last digit 1); the query
    asks for the oldest pair, whose bits are the last to be read. Needs ``K >= 2`` and ``V >= 2``."""
    from ..tasks.associative_recall import assemble

    _check_format(config)
    K, V, N = config.num_keys, config.num_values, config.num_pairs
    if K < 2 or V < 2:
        raise InfeasibleTaskError(f"the widest state needs at least 2 keys and 2 values, got K={K}, V={V}")
    _, b = code_widths(config)
    keys = list(range(N))
    if N == 1:
        keys = [1]
    elif keys[-1] % 2 == 0:
        keys[1], keys[-1] = keys[-1], keys[1]  # an odd key (1) goes last
    values = [2 ** (b - 1)] + [V - 1] * (N - 1)
    return assemble(config, torch.tensor(keys).reshape(1, N, 1), torch.tensor([values]), torch.tensor([[0]]))
