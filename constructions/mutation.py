"""Deliberately broken constructions: one weight changed, or resources made to grow.

Every check must be able to fail. A :class:`Mutation` names one entry of one parameter tensor of a
construction's network and the value to put there; :func:`mutate` returns a deep copy with that
single change. Construction modules list mutations that break them subtly (only some instances go
wrong), and the checks show that each is caught, with the counterexample found.

Growth faults break a *resource* claim instead of exactness: the network still answers every
instance exactly, but one of its measured resources grows polynomially where the claim says it
does not. :class:`DeadUnits` adds hidden units that never fire (width and nonzeros grow with the
count), :class:`LongWindow` replaces a prefix sum (one parameter per channel) by an explicit window
as long as the sequence (parameters grow with the length). Modules list them in
``growth_faults(config)``, sized by the config, and ``--inject-fault`` reaches them after the
module's mutations (same ``NAME:INDEX`` numbering, see :func:`faults_of`).
"""

from __future__ import annotations

import copy
import functools
import os
import sys
from dataclasses import dataclass
from typing import Callable

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


@dataclass(frozen=True)
class DeadUnits:
    """``count`` dead hidden units (:func:`constructions.padding.with_dead_units`: zero input weights,
    bias ``-1``, output weight 1) added to the FNN of block ``block`` (``-1``: the pre-FNN): the
    network computes the same function, its width grows by ``count`` and its nonzeros by ``2 count``."""

    description: str
    block: int
    count: int

    def __str__(self) -> str:
        return f"{self.description} [{self.count} dead hidden units in the FNN of block {self.block}]"

    def apply(self, network) -> None:
        from .padding import with_dead_units

        if self.block == -1:
            network.pre_fnn = with_dead_units(network.pre_fnn, self.count)
        else:
            network.blocks[self.block].fnn = with_dead_units(network.blocks[self.block].fnn, self.count)


@dataclass(frozen=True)
class LongWindow:
    """Group ``group`` of the SSM bank of block ``block`` -- a prefix sum -- replaced by a shift SSM
    with ``length`` taps, all one: the same outputs on sequences of at most ``length`` tokens, but
    ``length`` taps per channel (and a window of ``length``) instead of one parameter per channel."""

    description: str
    block: int
    group: int
    length: int

    def __str__(self) -> str:
        return f"{self.description} [prefix sum of block {self.block}, group {self.group} -> {self.length} taps]"

    def apply(self, network) -> None:
        from .ssm import ShiftSSM, SSMBank

        bank = network.blocks[self.block].ssm
        if not isinstance(bank, SSMBank):
            raise ValueError(f"{self}: the SSM of block {self.block} is not a bank")
        old = bank.groups[self.group]
        taps = torch.ones(old.channels, self.length, dtype=old.dtype, device=old.device)
        groups = [ShiftSSM(taps) if i == self.group else g for i, g in enumerate(bank.groups)]
        network.blocks[self.block].ssm = SSMBank(groups)


def mutate(construction: Construction, mutation: Mutation | DeadUnits | LongWindow) -> Construction:
    """A deep copy of ``construction`` (anything with a ``network``) with ``mutation`` (one weight) or a
    growth fault applied."""
    broken = _deepcopy(construction)
    name = getattr(construction, "name", type(construction).__name__)
    if isinstance(mutation, (DeadUnits, LongWindow)):
        mutation.apply(broken.network)
        broken.name = f"{name} (grown: {mutation.description})"
    else:
        apply_in_place(broken.network, mutation)
        broken.name = f"{name} (mutated: {mutation.description})"
    return broken


def apply_in_place(network: torch.nn.Module, mutation: Mutation) -> Callable[[], None]:
    """Apply ``mutation`` to ``network`` itself (no copy) and return the function that undoes it.

    For campaigns that visit thousands of mutants of one network (:mod:`.mutation_campaign`)."""
    params = dict(network.named_parameters())
    if mutation.parameter not in params:
        raise KeyError(f"no parameter {mutation.parameter!r}; the network has {sorted(params)}")
    tensor = params[mutation.parameter]
    with torch.no_grad():
        if tensor.is_sparse:
            old = _set_sparse_entry(tensor, mutation)
        else:
            old = tensor[mutation.index].item()
            if old == mutation.value:
                raise ValueError(f"mutation {mutation} does not change anything (the entry is already {old})")
            tensor[mutation.index] = mutation.value

    def undo() -> None:
        with torch.no_grad():
            if tensor.is_sparse:
                _set_sparse_entry(tensor, Mutation("undo", mutation.parameter, mutation.index, old))
            else:
                tensor[mutation.index] = old

    return undo


def _set_sparse_entry(tensor: torch.nn.Parameter, mutation: Mutation) -> float:
    """Change one stored entry of a sparse (coalesced) parameter; the entry must be stored.
    Returns the entry's old value."""
    coalesced = tensor.data.coalesce()
    where = (coalesced.indices() == torch.tensor(mutation.index, device=tensor.device).unsqueeze(1)).all(0).nonzero()
    if where.numel() == 0:
        raise ValueError(f"mutation {mutation}: the sparse entry {mutation.index} is not stored (it is 0)")
    values = coalesced.values().clone()
    old = float(values[int(where[0])])
    values[int(where[0])] = mutation.value
    tensor.data = torch.sparse_coo_tensor(coalesced.indices(), values, coalesced.shape, check_invariants=False).coalesce()  # indices of a valid tensor
    return old


# ----------------------------------------------------------------------------- fault injection
#: ``NAME:INDEX[,NAME:INDEX...]``: builders decorated with :func:`injectable` return their
#: construction with mutation ``INDEX`` of their module applied. ``python -m reports
#: --inject-fault`` sets it, so a reviewer can watch a claim's verdict flip to ``fails``.
FAULTS_ENV = "SSM_SUITE_FAULTS"

#: construction name -> (module of the builder): every injectable construction
INJECTABLE: dict[str, str] = {}


def parse_faults(text: str) -> dict[str, int]:
    faults = {}
    for item in filter(None, (part.strip() for part in text.split(","))):
        name, sep, index = item.rpartition(":")
        if not sep or not index.isdigit() or name not in INJECTABLE:
            known = ", ".join(sorted(INJECTABLE))
            raise ValueError(f"fault {item!r} must be NAME:INDEX with NAME one of: {known}")
        faults[name] = int(index)
    return faults


def active_faults() -> dict[str, int]:
    return parse_faults(os.environ.get(FAULTS_ENV, ""))


def injectable(name: str):
    """Register a builder ``build(config, *args, **kwargs)`` under ``name``; while a fault names it,
    the built construction gets fault ``faults_of(module, config, *args)[index]`` of the same module."""

    def wrap(build):
        INJECTABLE[name] = build.__module__

        @functools.wraps(build)
        def built(config, *args, **kwargs):
            construction = build(config, *args, **kwargs)
            index = active_faults().get(name)
            if index is None:
                return construction
            faults = faults_of(sys.modules[build.__module__], config, *args)
            if index >= len(faults):
                raise ValueError(f"fault {name}:{index}: {name} has faults 0..{len(faults) - 1} for {config}")
            return mutate(construction, faults[index])

        return built

    return wrap


def faults_of(module, config, *args) -> list:
    """A construction module's faults: its single-weight ``mutations``, then its ``growth_faults``."""
    growth = getattr(module, "growth_faults", None)
    return list(module.mutations(config, *args)) + (list(growth(config, *args)) if growth else [])


def example_faults(name: str) -> list:
    """The faults of injectable construction ``name`` at its catalogue format: the arguments of its
    module's ``fault_example()``, or the first tiny format its ``mutations`` accept."""
    import importlib

    from .regression.piecewise import TokenGrid
    from .tasks.associative_recall import ARConfig
    from .tasks.copying import CopyConfig

    module = importlib.import_module(INJECTABLE[name])
    examples = [module.fault_example()] if hasattr(module, "fault_example") else [
        (config,) for config in (ARConfig(4, 4, 2), ARConfig(4, 4, 2, query="first"), CopyConfig(3, 4), TokenGrid(8, 2, 1))]
    for args in examples:
        try:
            return faults_of(module, *args)
        except Exception:  # noqa: BLE001 -- this format does not fit this construction
            continue
    return []


def check_fault_indices(faults: dict[str, int]) -> None:
    """Every ``NAME:INDEX`` names one of NAME's faults (``--list-faults``); a ``ValueError`` naming
    the range otherwise. Checked when the command line is read, before any check runs (a builder
    given a bad index raises only once a check builds it)."""
    for name, index in faults.items():
        count = len(example_faults(name))
        if index >= count:
            raise ValueError(f"fault {name}:{index} does not exist: {name} has faults {name}:0 .. {name}:{count - 1} "
                             "(python -m reports --list-faults)")


def fault_catalogue() -> list[str]:
    """Every ``NAME:INDEX  description`` that can be injected (with a tiny example format, or the
    arguments of the module's ``fault_example()``)."""
    return [f"{name}:{i}  {m.description}" for name in sorted(INJECTABLE) for i, m in enumerate(example_faults(name))]
