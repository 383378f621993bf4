"""Windows too short for the task (claim ``limits.window``).

:func:`truncated` rebuilds a network with every SSM layer cut to its first ``U`` taps (a nilpotent
shift SSM holding exactly those taps, skip included at lag 0), so a layer's window becomes at most
``U`` while everything inside the window is unchanged. A network of layers with windows ``U_m`` has
receptive field ``R = 1 + sum_m (U_m - 1)``: its output at position ``t`` is a function of tokens
``t - R + 1 .. t`` alone (:func:`receptive_field`, measured from the layers' windows).

**The failing input, proof-carrying.** When an answer at position ``t`` depends on a token farther
back than ``R - 1``, two instances that agree on the last ``R`` tokens before ``t`` but have different
answers exist; the network gives both the same output, so it is wrong on one.
:func:`window_witness` searches a batch for such a pair (with the exhaustive grouping of
:func:`~constructions.limits.sketch.find_collision`, the token window being the sketch) and then
*measures* the claim on the network: equal outputs at ``t``, and at least one decoded answer wrong.

Source: PAPER.md §5 (the window must cover the distance to the selected token); reconstructed.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import torch

from ..construction import Construction
from ..errors import ShapeError, require_positive_int
from ..network import SSMNetwork
from ..ssm import ShiftSSM, SSMBank
from .sketch import find_collision


def truncated(network: SSMNetwork, window: int) -> SSMNetwork:
    """``network`` with every SSM layer cut to the taps at lags ``0 .. window - 1``."""
    require_positive_int("window", window)
    blocks = []
    for block in network.blocks:
        layer = block.ssm
        if any(getattr(g, "lookahead", 0) for g in (layer.groups if isinstance(layer, SSMBank) else [layer])):
            raise ShapeError("cannot truncate a two-sided layer (lookahead > 0) to a causal window")
        blocks.append((ShiftSSM(layer.kernel(window).detach().clone()), block.fnn))
    return SSMNetwork(network.embedding, blocks, pre_fnn=network.pre_fnn, clip=network.clip)


def receptive_field(network: SSMNetwork) -> float:
    """``1 + sum_m (U_m - 1)`` over the measured windows (``inf`` if one is infinite)."""
    windows = [block.ssm.window() for block in network.blocks]
    return 1 + sum(max(w, 1) - 1 for w in windows)


def _last_tokens(tokens: torch.Tensor, position: int, R: int) -> torch.Tensor:
    """The ``R`` tokens up to ``position`` (fewer at the start), as a sketch for :func:`find_collision`."""
    return tokens[:, max(0, position - R + 1) : position + 1].to(torch.float64)


@dataclass(frozen=True)
class WindowWitness:
    """Instances ``rows`` agree on the ``receptive`` tokens up to answer position ``position`` but
    their correct answers differ; ``outputs_equal`` and ``decoded`` are measured on the network."""

    rows: tuple[int, int]
    answer_index: int
    position: int
    receptive: int
    correct: tuple[int, int]
    decoded: tuple[int, int]
    outputs_equal: bool

    @property
    def proves_failure(self) -> bool:
        """Equal outputs for different correct answers: at least one of the two is answered wrong."""
        return self.outputs_equal and self.correct[0] != self.correct[1] and any(
            d != c for d, c in zip(self.decoded, self.correct))

    def to_dict(self) -> dict:
        return {**self.__dict__, "proves_failure": self.proves_failure}


def window_witness(construction: Construction, tokens: torch.Tensor) -> WindowWitness | None:
    """A pair of instances in ``tokens: (B, T)`` that the construction's network must answer alike
    but whose answers differ (see the module docstring); ``None`` if the batch holds none."""
    R = receptive_field(construction.network)
    if R == math.inf:
        return None
    R = int(R)
    answers = construction.reference(tokens)  # (B, Q)
    for q, position in enumerate(construction.answer_positions.tolist()):
        search = find_collision(_last_tokens(tokens, position, R), answers[:, q : q + 1])
        if search.collision is None:
            continue
        rows = (search.collision.first, search.collision.second)
        pair = tokens[list(rows)]
        with torch.no_grad():
            out = construction.network(pair)[:, position]
            decoded = construction.code.decode(out.unsqueeze(1)).squeeze(1)
        return WindowWitness(rows, q, position, R, tuple(int(a) for a in answers[list(rows), q]),
                             tuple(int(d) for d in decoded), bool(torch.equal(out[0], out[1])))
    return None


def needed_receptive_field(construction: Construction, tokens: torch.Tensor) -> int:
    """The task's own requirement on the family ``tokens``: the smallest ``R`` such that no two
    instances agree on the last ``R`` tokens before an answer position yet need different answers
    there. Any network with a smaller receptive field fails on the family (:func:`window_witness`)."""
    answers = construction.reference(tokens)
    T = tokens.shape[1]
    for R in range(1, T + 1):
        clash = False
        for q, position in enumerate(construction.answer_positions.tolist()):
            if find_collision(_last_tokens(tokens, position, R), answers[:, q : q + 1]).collision is not None:
                clash = True
                break
        if not clash:
            return R
    raise ShapeError("the answers are not a function of the tokens: two identical instances need different answers")
