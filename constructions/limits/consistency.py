"""A fixed-window or finite-precision SSM+FNN copier is a fixed-state model (claim ``limits.consistency``).

Jelassi et al. (2024, Theorem 2.7): a model whose state after ``BOS s SEP`` takes at most ``|S|``
values copies a uniform string of length ``L`` over ``D`` symbols with success at most
``|S| / D^L``; so error below 1/2 needs ``log2 |S| >= L log2 D - 1``. An SSM+FNN network is such a
model twice over (:mod:`constructions.limits.sketch`): its sketch after the prompt is

* a function of the last ``R`` tokens when its receptive field ``R`` is finite: ``log2|S| <= R log2 |vocab|``;
* ``S`` state entries of ``b`` bits each at finite precision: ``log2|S| <= S b``.

:func:`gssm_reading` measures all of it on a construction -- the receptive field and state size from
the built layers, ``b`` from the states the prompts actually produce (the fixed-point width holding
every value exactly), the error by free-running greedy decoding, and (on a small family) the number
of distinct sketches reached -- and :attr:`GSSMReading.consistent` applies the theorem. A
construction that copied with error below 1/2 from less state than that would contradict it.

Source: Jelassi, Brandfonbrener, Kakade, Malach 2024, Theorem 2.7; PAPER.md §5 (the window or the
precision must grow with L); reconstructed for this model class.
"""

from __future__ import annotations

import math
from dataclasses import asdict, dataclass

import torch

from ..construction import Construction
from ..copying.decoding import greedy_decode
from ..resources import tensor_stats
from ..tasks.copying import assemble
from .sketch import prefix_states, state_codes
from .window import receptive_field


@dataclass(frozen=True)
class GSSMReading:
    construction: str
    alphabet: int
    length: int
    strings: int
    error: float  # share of strings not copied exactly by free-running decoding
    receptive_field: float
    state_entries: int
    bits_per_entry: int  # fixed-point width holding every state value reached exactly
    distinct_sketches: int  # on the strings decoded
    vocabulary: int

    @property
    def needed_bits(self) -> float:
        """``L log2 D - 1``: the state any copier with error below 1/2 needs (Theorem 2.7)."""
        return self.length * math.log2(self.alphabet) - 1

    @property
    def capacity_bits(self) -> float:
        """Upper bound on ``log2 |S|``: the smaller of the window and the precision bound."""
        window = self.receptive_field * math.log2(self.vocabulary) if self.receptive_field != math.inf else math.inf
        return min(window, float(self.state_entries * self.bits_per_entry))

    @property
    def success_bound(self) -> float:
        """Theorem 2.7 on the decoded family: success <= distinct sketches / strings."""
        return self.distinct_sketches / self.strings

    @property
    def consistent(self) -> bool:
        return (self.error >= 0.5 or self.capacity_bits >= self.needed_bits) and 1 - self.error <= self.success_bound + 1e-12

    def to_dict(self) -> dict:
        return {**asdict(self), "needed_bits": self.needed_bits, "capacity_bits": self.capacity_bits,
                "success_bound": self.success_bound, "consistent": self.consistent}


def gssm_reading(construction: Construction, strings: torch.Tensor, *, sketch_network=None) -> GSSMReading:
    """Measure ``construction`` (a copier) as a fixed-state model on ``strings: (B, L)``.

    ``sketch_network`` (default: the construction's own network) is what the sketch is read from;
    the controls pass a part of the network to show that a sketch missing a layer is caught."""
    config = construction.config
    strings = torch.unique(strings, dim=0)  # counting sketches against strings needs distinct strings
    prompts = assemble(config, strings).prompts()
    written = greedy_decode(construction, prompts, config.length)
    error = float((written != strings).any(-1).double().mean())
    states = prefix_states(sketch_network or construction.network, prompts)
    distinct = int(torch.unique(state_codes(states, None), dim=0).shape[0])
    return GSSMReading(
        construction=construction.name,
        alphabet=config.alphabet,
        length=config.length,
        strings=len(strings),
        error=error,
        receptive_field=receptive_field(construction.network),
        state_entries=states.shape[1],
        bits_per_entry=tensor_stats(states).bits,
        distinct_sketches=distinct,
        vocabulary=config.vocabulary().size,
    )
