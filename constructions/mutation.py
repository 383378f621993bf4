"""Deliberately broken constructions: one weight changed.

Every exactness check must be able to fail. A :class:`Mutation` names one entry of one parameter
tensor of a construction's network and the value to put there; :func:`mutate` returns a deep copy
with that single change. Construction modules list mutations that break them subtly (only some
instances go wrong), and the checks show that each is caught, with the counterexample found.
"""

from __future__ import annotations

import copy
from dataclasses import dataclass

import torch

from .construction import Construction


@dataclass(frozen=True)
class Mutation:
    description: str
    parameter: str  # dotted name in network.named_parameters()
    index: tuple[int, ...]
    value: float

    def __str__(self) -> str:
        return f"{self.description} [{self.parameter}{list(self.index)} := {self.value}]"


def _deepcopy(construction: Construction) -> Construction:
    """``copy.deepcopy``, with sparse parameters cloned by hand (torch cannot deep-copy them)."""
    memo = {}
    for p in construction.network.parameters():
        if p.is_sparse:
            memo[id(p)] = torch.nn.Parameter(p.data.clone(), requires_grad=p.requires_grad)
    return copy.deepcopy(construction, memo)


def mutate(construction: Construction, mutation: Mutation) -> Construction:
    broken = _deepcopy(construction)
    params = dict(broken.network.named_parameters())
    if mutation.parameter not in params:
        raise KeyError(f"no parameter {mutation.parameter!r}; the network has {sorted(params)}")
    tensor = params[mutation.parameter]
    with torch.no_grad():
        if tensor.is_sparse:
            _set_sparse_entry(tensor, mutation)
            broken.name = f"{construction.name} (mutated: {mutation.description})"
            return broken
        old = tensor[mutation.index].item()
        if old == mutation.value:
            raise ValueError(f"mutation {mutation} does not change anything (the entry is already {old})")
        tensor[mutation.index] = mutation.value
    broken.name = f"{construction.name} (mutated: {mutation.description})"
    return broken


def _set_sparse_entry(tensor: torch.nn.Parameter, mutation: Mutation) -> None:
    """Change one stored entry of a sparse (coalesced) parameter; the entry must be stored."""
    coalesced = tensor.data.coalesce()
    where = (coalesced.indices() == torch.tensor(mutation.index, device=tensor.device).unsqueeze(1)).all(0).nonzero()
    if where.numel() == 0:
        raise ValueError(f"mutation {mutation}: the sparse entry {mutation.index} is not stored (it is 0)")
    values = coalesced.values().clone()
    values[int(where[0])] = mutation.value
    tensor.data = torch.sparse_coo_tensor(coalesced.indices(), values, coalesced.shape).coalesce()
