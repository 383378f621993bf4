"""Mutation campaigns: every nonzero weight of a built network perturbed in turn, and a few
structural mutations, each judged by a claim's own checks (mutation testing with weights as the
code under test).

**Mutants.** A :class:`Mutant` changes a network *in place* and returns the function that undoes
it, so a campaign visits thousands of mutants without copying or rebuilding anything. A mutant is
named by parameter (or module) path and index, so it applies to every network of the same
architecture (e.g. the recall network for K = V = 2 keys and values, whatever the number of pairs).

* :func:`weight_mutants` -- every nonzero entry ``w`` of every parameter (FNN weights and biases,
  SSM tensors ``B, C, skip, lam, A``, attention matrices, embedding tables), dense or sparse, set to
  ``0`` and to ``w + 1`` (``w - 1`` where ``w = -1``, so that the two perturbations differ). Not
  mutated: the ``B = e_1`` of a :class:`~constructions.ssm.ShiftSSM`, which belongs to its
  parameterization like ``A = J_N`` (the layer's kernel reads only its taps ``C``, and the file
  format stores only ``C``); the off-by-one lag mutants below change that structure instead.
* :func:`structural_mutants` -- off-by-one windows and lags, swapped channels and rows:
  per shift-SSM channel its lag ``+1`` and ``-1`` (when its first tap is 0); per shift-SSM layer
  its window ``+1`` (every channel's oldest tap repeated one step further back) and ``-1`` (the
  oldest tap dropped, in channels with at least two taps); per SSM layer the first two adjacent
  channels with different parameters swapped; per FNN affine map the first two adjacent distinct
  rows (weights and bias) swapped; per attention head with an exact lag, the lag ``+1`` and ``-1``.

**Campaign** (:func:`run_campaign`). A mutant that stays exact on every instance of the
equivalence *domain* (an exhaustive small format: the same judge as the claim's exactness, e.g.
:func:`constructions.verification.verify`) is **equivalent** and counted apart. Every other mutant
is run against every one of the claim's checks (:class:`Probe`: cases and an assertion, stopping
at the first case that fails); a check whose assertion fails has **caught** it (the result counts,
per check, the mutants it catches and those it catches first, in the order given); a mutant no
check catches is **missed**. Before and after the mutants the unbroken network must pass the
domain: the campaign undoes every mutant exactly, and shows it.
"""

from __future__ import annotations

from collections import Counter
from dataclasses import dataclass, field
from typing import Any, Callable, Iterable, Sequence

import torch
from torch import nn

from .mutation import Mutation, apply_in_place
from .threads import single_threaded

Undo = Callable[[], None]


# ----------------------------------------------------------------------------- mutants
@dataclass(frozen=True)
class Mutant:
    """One change of a network: ``apply(network)`` makes it in place and returns its undo."""

    kind: str  # "weight" or "structural"
    description: str
    parameter: str  # parameter or module path
    index: tuple
    change: Callable[[nn.Module], Undo] = field(repr=False, compare=False)

    def apply(self, network: nn.Module) -> Undo:
        return self.change(network)

    def to_dict(self) -> dict:
        return {"kind": self.kind, "description": self.description, "parameter": self.parameter, "index": list(self.index)}


def perturbations(w: float) -> tuple[float, float]:
    """The two perturbed values of a nonzero weight ``w``: ``0`` and ``w + 1`` (``w - 1`` if ``w = -1``)."""
    return 0.0, (w - 1.0 if w == -1.0 else w + 1.0)


def _owned_parameters(network: nn.Module) -> Iterable[tuple[str, nn.Module, str, torch.Tensor]]:
    """``(dotted name, module, attribute, tensor)`` of every parameter, with the module owning it."""
    for prefix, module in network.named_modules():
        for attr, tensor in module.named_parameters(recurse=False):
            yield (f"{prefix}.{attr}" if prefix else attr), module, attr, tensor


def _nonzero_entries(tensor: torch.Tensor) -> list[tuple[tuple[int, ...], float]]:
    if tensor.is_complex():
        raise TypeError("mutation campaigns need real weights")
    if tensor.is_sparse:
        t = tensor.detach().coalesce()
        keep = t.values() != 0
        return [(tuple(i), float(v)) for i, v in zip(t.indices()[:, keep].T.tolist(), t.values()[keep].tolist())]
    t = tensor.detach()
    where = (t != 0).nonzero()
    return [(tuple(i), float(t[tuple(i)])) for i in where.tolist()]


def weight_mutants(network: nn.Module) -> list[Mutant]:
    """Every nonzero weight set to 0 and to w + 1 (module docstring)."""
    from .ssm import ShiftSSM

    mutants = []
    for name, module, attr, tensor in _owned_parameters(network):
        if isinstance(module, ShiftSSM) and attr == "B":
            continue  # B = e_1 is the shift realization's structure, not a weight its kernel reads
        for index, w in _nonzero_entries(tensor):
            for value in perturbations(w):
                mutation = Mutation(f"{name}{list(index)}: {w:g} -> {value:g}", name, index, value)
                mutants.append(Mutant("weight", mutation.description, name, index,
                                      lambda net, m=mutation: apply_in_place(net, m)))
    return mutants


# ----------------------------------------------------------------------------- structural mutants
def _module(network: nn.Module, path: str) -> nn.Module:
    return network.get_submodule(path) if path else network


def _replace(network: nn.Module, path: str, new: nn.Module) -> Undo:
    parent_path, _, name = path.rpartition(".")
    parent = _module(network, parent_path)
    old = getattr(parent, name) if not name.isdigit() else parent[int(name)]
    if name.isdigit():
        parent[int(name)] = new
    else:
        setattr(parent, name, new)

    def undo() -> None:
        if name.isdigit():
            parent[int(name)] = old
        else:
            setattr(parent, name, old)

    return undo


def _retapped(layer, taps_of: Callable[[torch.Tensor], torch.Tensor]):
    """A :class:`ShiftSSM` like ``layer`` with taps ``taps_of(C)`` (any number of columns)."""
    from .ssm import ShiftSSM

    return ShiftSSM(taps_of(layer.C.detach().clone()), skip=layer.skip.detach().clone(), lookahead=layer.lookahead)


def _shift_channel(C: torch.Tensor, channel: int, by: int) -> torch.Tensor:
    """Taps with channel ``channel`` delayed by ``by`` steps (advanced for ``by < 0``); the state
    grows by a column where a tap moves past the last one."""
    D, N = C.shape
    out = torch.zeros(D, N + max(0, by), dtype=C.dtype, device=C.device)
    out[:, :N] = C
    row = torch.zeros(N + max(0, by), dtype=C.dtype, device=C.device)
    if by >= 0:
        row[by : by + N] = C[channel]
    else:
        row[: N + by] = C[channel, -by:]
    out[channel] = row
    return out


def _window_changed(C: torch.Tensor, longer: bool) -> torch.Tensor:
    """Every channel's oldest nonzero tap repeated one step further back (``longer``) or dropped
    (channels with at least two nonzero taps)."""
    D, N = C.shape
    out = torch.zeros(D, N + (1 if longer else 0), dtype=C.dtype, device=C.device)
    out[:, :N] = C
    for d in range(D):
        taps = C[d].nonzero().flatten()
        if taps.numel() == 0 or (not longer and taps.numel() < 2):
            continue
        last = int(taps[-1])
        out[d, last + 1 if longer else last] = C[d, last] if longer else 0.0
    return out


def _swap_rows(tensor: nn.Parameter, i: int, j: int) -> None:
    with torch.no_grad():
        if tensor.is_sparse:
            t = tensor.data.coalesce()
            idx = t.indices().clone()
            rows = idx[0].clone()
            idx[0][rows == i], idx[0][rows == j] = j, i
            tensor.data = torch.sparse_coo_tensor(idx, t.values(), t.shape).coalesce()
        else:
            tensor[[i, j]] = tensor[[j, i]]


def _first_distinct_adjacent(rows: Sequence[torch.Tensor]) -> int | None:
    """The first ``r`` whose rows ``r`` and ``r + 1`` differ in some tensor of ``rows`` (``(n, ...)`` each)."""
    n = rows[0].shape[0]
    for r in range(n - 1):
        if any(not torch.equal(t[r], t[r + 1]) for t in rows):
            return r
    return None


def _swap_mutant(path: str, kind: str, tensors: dict[str, nn.Parameter], r: int) -> Mutant:
    names = sorted(tensors)

    def change(network: nn.Module) -> Undo:
        module = _module(network, path)

        def swap() -> None:
            for name in names:
                _swap_rows(getattr(module, name), r, r + 1)

        swap()
        return swap  # a swap is its own undo

    return Mutant("structural", f"{path}: {kind} {r} and {r + 1} swapped", path, (r, r + 1), change)


def structural_mutants(network: nn.Module) -> list[Mutant]:
    """Off-by-one lags and windows, swapped channels and rows (module docstring)."""
    from .fnn import FNN
    from .ssm import DenseSSM, DiagonalSSM, ShiftSSM
    from .transformer.model import Head

    mutants = []
    for path, module in network.named_modules():
        if isinstance(module, ShiftSSM):
            C = module.C.detach()
            for c in range(C.shape[0]):
                if bool((C[c] != 0).any()):
                    lag = int((C[c] != 0).nonzero()[0])
                    mutants += [_retap_mutant(path, f"channel {c} lag {lag} -> {lag + by} (taps shifted one step "
                                                    f"{'later' if by > 0 else 'earlier'})", (c, by),
                                              lambda C, c=c, by=by: _shift_channel(C, c, by))
                                for by in (1, -1) if by > 0 or C[c, 0] == 0]
            mutants.append(_retap_mutant(path, f"window {C.shape[1]} -> {C.shape[1] + 1} (every channel's oldest tap "
                                               "repeated one step further back)", (1,), lambda C: _window_changed(C, True)))
            if not torch.equal(_window_changed(C, False), C):  # some channel has two taps
                mutants.append(_retap_mutant(path, f"window {C.shape[1]} -> {C.shape[1] - 1} (the oldest tap of every "
                                                   "channel with two or more dropped)", (-1,), lambda C: _window_changed(C, False)))
        if isinstance(module, (ShiftSSM, DiagonalSSM, DenseSSM)):
            tensors = {n: t for n, t in module.named_parameters(recurse=False) if not (isinstance(module, ShiftSSM) and n == "B")}
            r = _first_distinct_adjacent([t.detach() for t in tensors.values()])
            if r is not None:
                mutants.append(_swap_mutant(path, "channels", tensors, r))
        if isinstance(module, FNN):
            for i, (W, b) in enumerate(zip(module.weights, module.biases)):
                r = _first_distinct_adjacent([W.detach().to_dense() if W.is_sparse else W.detach(), b.detach().unsqueeze(1)])
                if r is not None:
                    mutants.append(_layer_swap_mutant(path, i, r))
        if isinstance(module, Head) and module.lag is not None:
            for by in (1, -1):
                if module.lag + by >= 0:
                    mutants.append(Mutant("structural", f"{path}: exact lag {module.lag} -> {module.lag + by}", path, (by,),
                                          lambda net, p=path, by=by: _relag(_module(net, p), by)))
    return mutants


def _retap_mutant(path: str, what: str, index: tuple, taps_of: Callable[[torch.Tensor], torch.Tensor]) -> Mutant:
    """The shift SSM at ``path`` replaced by one with taps ``taps_of(C)``."""
    return Mutant("structural", f"{path}: {what}", path, index,
                  lambda network: _replace(network, path, _retapped(_module(network, path), taps_of)))


def _layer_swap_mutant(path: str, layer: int, r: int) -> Mutant:
    def change(network: nn.Module) -> Undo:
        fnn = _module(network, path)

        def swap() -> None:
            _swap_rows(fnn.weights[layer], r, r + 1)
            _swap_rows(fnn.biases[layer], r, r + 1)

        swap()
        return swap  # a swap is its own undo

    where = f"{path}.weights.{layer}" if path else f"weights.{layer}"
    return Mutant("structural", f"{where}: rows {r} and {r + 1} swapped (weights and bias)", where, (r, r + 1), change)


def _relag(head, by: int) -> Undo:
    head.lag += by

    def undo() -> None:
        head.lag -= by

    return undo


def all_mutants(network: nn.Module) -> list[Mutant]:
    return weight_mutants(network) + structural_mutants(network)


# ----------------------------------------------------------------------------- campaign
@dataclass
class Probe:
    """A check of a claim: ``check(subject, inputs)`` raises AssertionError when it catches a broken
    subject; ``cases()`` lists ``(config, inputs)`` (computed once, when first needed)."""

    name: str
    cases: Callable[[], Sequence[tuple[Any, Any]]]
    check: Callable[[Any, Any], None]
    _cached: list | None = field(default=None, repr=False)

    def all_cases(self) -> list:
        if self._cached is None:
            self._cached = list(self.cases())
        return self._cached

    def passes(self, subject_for: Callable[[Any], Any]) -> bool:
        for config, inputs in self.all_cases():
            try:
                self.check(subject_for(config), inputs)
            except AssertionError:
                return False
        return True


@dataclass(frozen=True)
class Outcome:
    mutant: Mutant
    verdict: str  # "equivalent", "caught", "missed"
    caught_by: tuple[str, ...] = ()  # every check that catches it, in the campaign's order


@dataclass
class CampaignResult:
    outcomes: list[Outcome]
    checks: list[str]
    domain: str

    def count(self, verdict: str) -> int:
        return sum(o.verdict == verdict for o in self.outcomes)

    @property
    def missed(self) -> list[Outcome]:
        return [o for o in self.outcomes if o.verdict == "missed"]

    def summary(self, **context) -> dict:
        """The row of the mutation table: counts, which check caught how many, the missed ones."""
        kinds = Counter(o.mutant.kind for o in self.outcomes)
        first = Counter(o.caught_by[0] for o in self.outcomes if o.caught_by)
        each = Counter(name for o in self.outcomes for name in o.caught_by)
        return {
            **context,
            "mutants": len(self.outcomes),
            "weight_mutants": kinds.get("weight", 0),
            "structural_mutants": kinds.get("structural", 0),
            "caught": self.count("caught"),
            "equivalent": self.count("equivalent"),
            "missed": self.count("missed"),
            "caught_first_by": {name: first.get(name, 0) for name in self.checks},
            "caught_by_each_check": {name: each.get(name, 0) for name in self.checks},
            "equivalence_domain": self.domain,
            "missed_list": [o.mutant.to_dict() for o in self.missed],
            "equivalent_structural": [o.mutant.description for o in self.outcomes
                                      if o.verdict == "equivalent" and o.mutant.kind == "structural"],
        }


@single_threaded  # thousands of tiny forward passes: more threads only contend
def run_campaign(build: Callable[[Any], Any], mutants: Sequence[Mutant], domain: Probe, checks: Sequence[Probe],
                 network_of: Callable[[Any], nn.Module] = lambda subject: subject.network) -> CampaignResult:
    """Judge every mutant (module docstring). ``build(config)`` builds the unbroken subject (a
    construction, or anything whose network ``network_of`` returns) for each format the probes
    name; subjects are built once and mutated in place."""
    subjects: dict[Any, Any] = {}

    def pristine(config):
        if config not in subjects:
            subjects[config] = build(config)
        return subjects[config]

    if not domain.passes(pristine):
        raise AssertionError(f"the unbroken construction is not exact on the equivalence domain {domain.name}")
    outcomes = []
    for mutant in mutants:
        undo: dict[Any, Undo] = {}

        def mutated(config, mutant=mutant, undo=undo):
            subject = pristine(config)
            if config not in undo:
                undo[config] = mutant.apply(network_of(subject))
            return subject

        try:
            if domain.passes(mutated):
                outcomes.append(Outcome(mutant, "equivalent"))
            else:
                caught_by = tuple(probe.name for probe in checks if not probe.passes(mutated))
                outcomes.append(Outcome(mutant, "caught" if caught_by else "missed", caught_by))
        finally:
            for restore in reversed(list(undo.values())):
                restore()
    if not domain.passes(pristine):
        raise AssertionError("a mutant was not undone: the unbroken construction no longer passes the domain")
    return CampaignResult(outcomes, [p.name for p in checks], domain.name)
