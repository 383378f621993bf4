"""What a network remembers of a prefix, and two inputs it must answer alike (claim ``limits.single-layer``).

**Sufficiency.** An SSM+FNN network is a stack of LTI layers and token-wise FNNs, so everything it
computes after a prefix ``P`` depends on ``P`` only through the states of its SSM layers after
reading ``P`` (the *sketch* of ``P``). If two prefixes ``P, P'`` have equal sketches, then for every
continuation ``c`` the outputs on ``P c`` and ``P' c`` agree at every position of ``c``, and
free-running generation from ``P`` and ``P'`` writes the same tokens. If the correct answers after
``P c`` and ``P' c`` differ, the network is wrong on one of them: the pair is a proof of failure.

**Finite precision.** A network that keeps each of its ``S`` state entries in ``b`` bits has at most
``2^(b S)`` distinguishable sketches. When a family of prefixes has more pairwise-conflicting answer
classes than that, two of them collide (pigeonhole); :func:`find_collision` exhibits the pair. The
``b``-bit reading used here rounds every state entry to ``2^b`` evenly spaced levels over the range
it takes on the family (any ``b``-bit code has at most ``2^b`` values, so the pigeonhole bound holds
for every code; this one is a concrete representative). ``bits=None`` compares exact float64 states.

**Why one layer is the case that matters.** For a single layer with a token-wise pre-FNN, the sketch
is a fixed linear function of the prefix's token features: the query, whether it comes first or
last, cannot steer what is stored, so the sketch must hold the whole memory (``N log2 |V|`` bits for
recall with ``N`` pairs, ``L log2 D`` bits for copying). Two layers escape this: layer 1 puts the
query (or the key) beside each pair, and layer 2 stores only what matches.

Source: PAPER.md §5 (the single-layer limitation the paper's two-layer results are compared with),
the GSSM argument of Jelassi et al. 2024 (Theorem 2.7) applied to one network; reconstructed.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import torch

from ..errors import ShapeError
from ..network import SSMNetwork

#: the answer table's mark for "no answer is defined for this continuation"
UNDEFINED = -1


def prefix_states(network: SSMNetwork, prefixes: torch.Tensor) -> torch.Tensor:
    """The sketch of each prefix: every SSM layer's state after reading it, concatenated, as real
    numbers (complex states as real and imaginary parts): ``(B, S)``."""
    if prefixes.dim() != 2:
        raise ShapeError(f"prefixes must have shape (batch, length), got {tuple(prefixes.shape)}")
    with torch.no_grad():
        x = network.embedding(prefixes)
        if network.pre_fnn is not None:
            x = network.pre_fnn(x)
        states = []
        for block in network.blocks:
            h = block.ssm.final_state(x)
            h = h.flatten(1)
            states.append(torch.view_as_real(h).flatten(1) if h.is_complex() else h)
            x = block.fnn(block.ssm(x))
    return torch.cat(states, dim=1).to(torch.float64)


def state_codes(states: torch.Tensor, bits: int | None) -> torch.Tensor:
    """Each sketch as integers: ``b``-bit levels per entry over the entry's range on the family, or
    (``bits=None``) the exact float64 values' bit patterns. ``(B, S)`` int64."""
    if bits is None:
        return (states + 0.0).contiguous().view(torch.int64)  # + 0.0 turns -0.0 into 0.0
    if isinstance(bits, bool) or not isinstance(bits, int) or bits < 0:
        raise ValueError(f"bits must be a non-negative integer or None, got {bits!r}")
    lo, hi = states.amin(0, keepdim=True), states.amax(0, keepdim=True)
    span = torch.where(hi > lo, hi - lo, torch.ones_like(hi))
    return torch.round((states - lo) / span * (2**bits - 1)).to(torch.int64)


@dataclass(frozen=True)
class Collision:
    """Prefixes ``first`` and ``second`` (row indices) have the same sketch, but after
    ``continuation`` their correct answers ``answers[0] != answers[1]``."""

    first: int
    second: int
    continuation: int
    answers: tuple[int, int]


@dataclass(frozen=True)
class CollisionSearch:
    """Outcome of :func:`find_collision` with the counts that make it a proof (or not)."""

    collision: Collision | None
    prefixes: int
    distinct_sketches: int
    state_entries: int
    bits: int | None

    @property
    def capacity_bits(self) -> float:
        """``b S``: the most information a ``b``-bit sketch can hold (``inf`` for exact states)."""
        return math.inf if self.bits is None else float(self.bits * self.state_entries)

    def to_dict(self) -> dict:
        c = self.collision
        return {"found": c is not None, "prefixes": self.prefixes, "distinct_sketches": self.distinct_sketches,
                "state_entries": self.state_entries, "bits": self.bits, "capacity_bits": self.capacity_bits,
                "collision": None if c is None else {"first": c.first, "second": c.second,
                                                     "continuation": c.continuation, "answers": list(c.answers)}}


def find_collision(states: torch.Tensor, answers: torch.Tensor, bits: int | None = None) -> CollisionSearch:
    """Two prefixes with one sketch and conflicting answers, if the family has any.

    ``states: (B, S)`` from :func:`prefix_states`; ``answers: (B, C)``: the correct answer after
    each of ``C`` continuations (:data:`UNDEFINED` where none is defined). Exhaustive over the
    family: rows are grouped by sketch, and a group conflicts at continuation ``c`` when its
    defined answers at ``c`` are not all equal.
    """
    if states.dim() != 2 or answers.dim() != 2 or states.shape[0] != answers.shape[0]:
        raise ShapeError(f"states (B, S) and answers (B, C) must share B, got {tuple(states.shape)} and {tuple(answers.shape)}")
    codes = state_codes(states, bits)
    _, group = torch.unique(codes, dim=0, return_inverse=True)
    groups = int(group.max()) + 1 if group.numel() else 0
    result = dict(prefixes=states.shape[0], distinct_sketches=groups, state_entries=states.shape[1], bits=bits)
    defined = answers != UNDEFINED
    big = torch.iinfo(torch.int64).max
    index = group.unsqueeze(1).expand_as(answers)
    lowest = torch.full((groups, answers.shape[1]), big).scatter_reduce(0, index, torch.where(defined, answers, big), "amin")
    highest = torch.full((groups, answers.shape[1]), -1).scatter_reduce(0, index, torch.where(defined, answers, -1), "amax")
    conflicts = ((highest > lowest) & (lowest != big)).nonzero()
    if conflicts.numel() == 0:
        return CollisionSearch(None, **result)
    g, c = (int(v) for v in conflicts[0])
    rows = (group == g).nonzero().squeeze(1)
    first = int(rows[answers[rows, c] == lowest[g, c]][0])
    second = int(rows[answers[rows, c] == highest[g, c]][0])
    collision = Collision(first, second, c, (int(answers[first, c]), int(answers[second, c])))
    return CollisionSearch(collision, **result)


def one_layer(network: SSMNetwork) -> SSMNetwork:
    """The network cut after its first block: embedding, pre-FNN, SSM layer 1 and its post-FNN."""
    return SSMNetwork(network.embedding, [(network.blocks[0].ssm, network.blocks[0].fnn)], pre_fnn=network.pre_fnn)
