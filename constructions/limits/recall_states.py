"""How many states query-last recall needs after the pairs (claim ``limits.query-last-state``).

**Setting.** The query-last format ``k_1 v_1 ... k_N v_N q`` with ``N`` distinct keys out of ``K``
and values out of ``V`` (:class:`~constructions.tasks.associative_recall.ARConfig`, one-token keys).
A prefix ``P`` (the pairs) has the *answer function* ``f_P: keys(P) -> values``; the valid queries
after ``P`` are the keys of ``P``. A causal model whose state after the pairs is all it keeps of
them -- an SSM+FNN network with its sketch (:mod:`constructions.limits.sketch`), any recurrent
model, any GSSM -- answers ``q`` after ``P`` from ``(state(P), q)`` alone. Two prefixes *conflict*
when a query valid after both gets different answers (``q`` in ``keys(P) & keys(P')``,
``f_P(q) != f_P'(q)``); conflicting prefixes need different states, or the model is wrong on one.

**The count** (every step checked exhaustively on small formats by :func:`certify`):

1. *Answer classes.* Prefixes with one answer function are interchangeable (pair order does not
   matter): there are ``C(K, N) V^N`` classes. This is *not* a lower bound on the states: classes
   with different key sets need different states only when they disagree on a common key.
2. *Extension sets.* ``E(P)``, the total functions ``g: [K] -> [V]`` that agree with ``f_P`` on
   ``keys(P)``, has ``V^(K - N)`` members, and ``P, P'`` conflict **iff** ``E(P)`` and ``E(P')``
   are disjoint (agreeing on every common key, the two answer functions have a common extension).
3. *Largest conflicting family.* Pairwise-conflicting prefixes have pairwise-disjoint extension
   sets inside the ``V^K`` total functions, so there are at most ``V^K / V^(K-N) = V^N`` of them;
   the prefixes with keys ``0..N-1`` and every value assignment are ``V^N`` of them. So the clique
   number of the conflict graph is exactly ``V^N``, and a model whose state after the pairs takes
   fewer than ``V^N`` values confuses two conflicting prefixes (pigeonhole): **it needs at least
   ``N log2 V`` bits of state** (for every ``N <= K``).
4. *Exact minimum.* The fewest states that suffice is the chromatic number of the conflict graph:
   a set of pairwise non-conflicting prefixes is jointly consistent, so one state can serve exactly
   the prefixes whose answer functions are restrictions of one total function. It is the
   covering-array number ``CAN(N; K, V)`` -- the fewest total functions such that every answer
   function is a restriction of one -- which is ``>= V^N``, equals ``V^N`` for ``N`` in
   ``{1, K-1, K}`` (constant functions; the rows with sum 0 mod ``V``; all functions) and for
   ``N = 2, K <= V + 1``, ``V`` a prime power (Latin squares), and exceeds it in general: for
   ``V = N = 2`` it is the smallest ``n`` with ``C(n-1, ceil(n/2)) >= K`` (Kleitman-Spencer,
   Katona), e.g. 5 for ``K = 4``. :func:`fewest_states` computes it by exact
   search on tiny formats.

Several queries after the pairs (MQAR) read the same state, so the same counts bound it.

Source: PAPER.md §5 (the pre-query sketch must hold about ``N log2 |V|`` bits); related context:
Arora et al. 2024 ("Based", Theorem 3.1: any causal recurrent model needs Omega(N) bits of state
for MQAR) and Zoology (Arora et al., ICLR 2024). The counting, the exact minimum and the checks
are reconstructed (ours).
"""

from __future__ import annotations

import itertools
import math
from dataclasses import dataclass

import sympy as sp
import torch

from ..errors import InfeasibleTaskError
from ..tasks.associative_recall import ARConfig
from .families import recall_query_last
from .sketch import UNDEFINED

K_, V_, N_ = sp.symbols("K V N", positive=True, integer=True)


def closed_forms() -> dict[str, sp.Expr]:
    """The counts of the module docstring in ``K``, ``V``, ``N``."""
    return {
        "answer_classes": sp.binomial(K_, N_) * V_**N_,
        "extensions_per_prefix": V_ ** (K_ - N_),
        "largest_conflicting_family": V_**N_,
        "state_bits_needed": N_ * sp.log(V_, 2),
    }


def fewest_states_closed_form(K: int, V: int, N: int) -> int | None:
    """``CAN(N; K, V)`` where a closed form is known: ``V^N`` for ``N`` in ``{1, K-1, K}`` and for
    ``N = 2``, ``K <= V + 1`` with ``V`` a prime power (an orthogonal array from ``V - 1`` mutually
    orthogonal Latin squares, Bose 1938); the Kleitman-Spencer value for ``V = N = 2``; else ``None``."""
    if N in (1, K - 1, K) or V == 1 or (N == 2 and K <= V + 1 and len(sp.factorint(V)) == 1):
        return V**N
    if V == 2 and N == 2:
        n = 4
        while math.comb(n - 1, math.ceil(n / 2)) < K:
            n += 1
        return n
    return None


# ----------------------------------------------------------------------------- exhaustive objects
def answer_classes(answers: torch.Tensor) -> torch.Tensor:
    """The distinct rows of a ``(prefixes, queries)`` answer table (:data:`UNDEFINED` where the
    query is not valid): one row per answer function, ``(M, queries)``."""
    return torch.unique(answers, dim=0)


def conflicts(answers: torch.Tensor) -> torch.Tensor:
    """``(M, M)`` bool: rows ``i, j`` give different defined answers to some query."""
    a, b = answers.unsqueeze(1), answers.unsqueeze(0)
    return ((a != UNDEFINED) & (b != UNDEFINED) & (a != b)).any(-1)


def total_functions(keys: int, values: torch.Tensor) -> torch.Tensor:
    """Every total function ``[keys] -> values``: ``(len(values)^keys, keys)`` (values as given, e.g. token ids)."""
    index = torch.tensor(list(itertools.product(range(len(values)), repeat=keys)), dtype=torch.long).reshape(-1, keys)
    return values[index]


def extensions(answers: torch.Tensor, functions: torch.Tensor) -> torch.Tensor:
    """``(M, F)`` bool: total function ``g`` agrees with row ``i`` wherever row ``i`` is defined."""
    a = answers.unsqueeze(1)
    return ((a == UNDEFINED) | (a == functions.unsqueeze(0))).all(-1)


def largest_clique(adjacent: torch.Tensor) -> int:
    """Clique number of a small graph (Bron-Kerbosch with pivoting, on bit sets): exact."""
    n = adjacent.shape[0]
    neighbours = [sum(1 << j for j in range(n) if bool(adjacent[i, j]) and j != i) for i in range(n)]
    best = 0

    def expand(size: int, candidates: int, excluded: int) -> None:
        nonlocal best
        if not candidates and not excluded:
            best = max(best, size)
            return
        if size + bin(candidates).count("1") <= best:
            return
        pivot = max(_bits(candidates | excluded), key=lambda u: bin(candidates & neighbours[u]).count("1"))
        for v in _bits(candidates & ~neighbours[pivot]):
            expand(size + 1, candidates & neighbours[v], excluded & neighbours[v])
            candidates &= ~(1 << v)
            excluded |= 1 << v

    expand(0, (1 << n) - 1, 0)
    return best


def _bits(mask: int):
    while mask:
        low = mask & -mask
        yield low.bit_length() - 1
        mask ^= low


def fewest_states(ext: torch.Tensor, lower: int, *, upper: int = 64, node_limit: int = 2_000_000) -> int:
    """The chromatic number of the conflict graph, as the fewest total functions (columns of
    ``ext``) covering every answer class (rows): exact search by iterative deepening from
    ``lower``, branching on the extensions of the first uncovered class. Value relabelling per key
    maps covers to covers, so the first function is fixed to the all-first-value one."""
    M, F = ext.shape
    cover = [sum(1 << i for i in range(M) if bool(ext[i, g])) for g in range(F)]
    extending = [[g for g in range(F) if bool(ext[i, g])] for i in range(M)]
    widest = max(bin(c).count("1") for c in cover)
    everything = (1 << M) - 1
    nodes = 0

    def search(covered: int, left: int) -> bool:
        nonlocal nodes
        nodes += 1
        if nodes > node_limit:
            raise InfeasibleTaskError(f"the exact cover search passed {node_limit} nodes; use a smaller format")
        if covered == everything:
            return True
        if left == 0 or bin(everything & ~covered).count("1") > left * widest:
            return False
        first = (everything & ~covered & -(everything & ~covered)).bit_length() - 1
        return any(search(covered | cover[g], left - 1) for g in extending[first])

    for size in range(max(1, lower), upper + 1):
        if search(cover[0], size - 1):
            return size
    raise InfeasibleTaskError(f"no cover with at most {upper} states")


# ----------------------------------------------------------------------------- the certificate
@dataclass(frozen=True)
class Counting:
    """The exhaustive counts of one format and the problems found checking them (none: the
    counting argument holds on this format)."""

    config: ARConfig
    prefixes: int
    answer_classes: int
    extensions_per_prefix: tuple[int, ...]
    fixed_key_family: int
    fixed_key_family_conflicts_pairwise: bool
    conflict_iff_disjoint_extensions: bool
    largest_conflicting_family: int | None  # exact clique search (tiny formats), else None
    fewest_states: int | None  # exact cover search (tiny formats), else None
    problems: tuple[str, ...]

    def to_dict(self) -> dict:
        return {"format": f"K={self.config.num_keys}, V={self.config.num_values}, N={self.config.num_pairs}",
                "prefixes": self.prefixes, "answer_classes": self.answer_classes,
                "extensions_per_prefix": sorted(set(self.extensions_per_prefix)),
                "fixed_key_family": self.fixed_key_family,
                "fixed_key_family_conflicts_pairwise": self.fixed_key_family_conflicts_pairwise,
                "conflict_iff_disjoint_extensions": self.conflict_iff_disjoint_extensions,
                "largest_conflicting_family": self.largest_conflicting_family, "fewest_states": self.fewest_states,
                "state_bits_needed": math.log2(self.fixed_key_family) if self.fixed_key_family else 0.0,
                "problems": list(self.problems)}


def certify(config: ARConfig, answers: torch.Tensor | None = None, *, clique_limit: int = 0, cover_limit: int = 0,
            forms: dict[str, sp.Expr] | None = None) -> Counting:
    """Check the counting argument on every prefix of ``config`` (query last, one-token keys).

    ``answers`` (default: :func:`~constructions.limits.families.recall_query_last`'s table, one
    column per query key) is the proof's object: the controls pass a broken one. Exact clique and
    cover searches run when there are at most ``clique_limit`` (``cover_limit``) answer classes.
    ``forms`` (default :func:`closed_forms`) are the closed forms the counts must equal."""
    family = recall_query_last(config)
    table = family.answers if answers is None else answers
    K, V, N = config.num_keys, config.num_values, config.num_pairs
    forms = closed_forms() if forms is None else forms
    at = {K_: K, V_: V, N_: N}
    problems = []

    classes = answer_classes(table)
    if classes.shape[0] != forms["answer_classes"].subs(at):
        problems.append(f"answer classes: counted {classes.shape[0]}, closed form {forms['answer_classes']} = "
                        f"{forms['answer_classes'].subs(at)}")
    functions = total_functions(table.shape[1], config.vocabulary().ids("value", torch.arange(V)))
    ext = extensions(classes, functions)
    sizes = tuple(int(s) for s in ext.sum(1).tolist())
    if set(sizes) != {int(forms["extensions_per_prefix"].subs(at))}:
        problems.append(f"extension sets have sizes {sorted(set(sizes))}, closed form {forms['extensions_per_prefix'].subs(at)}")
    conflict = conflicts(classes)
    disjoint = ~((ext.double() @ ext.double().T) > 0)
    iff = bool(torch.equal(conflict, disjoint))
    if not iff:
        i, j = (conflict != disjoint).nonzero()[0].tolist()
        problems.append(f"conflict and disjoint extensions differ for answer classes {classes[i].tolist()} and "
                        f"{classes[j].tolist()}: conflict {bool(conflict[i, j])}, disjoint {bool(disjoint[i, j])}")
    # the fixed-key family: keys 0..N-1 defined, every other key undefined
    fixed = ((classes[:, :N] != UNDEFINED).all(1) & (classes[:, N:] == UNDEFINED).all(1)).nonzero().squeeze(1)
    sub = conflict[fixed][:, fixed]
    pairwise = bool((sub | torch.eye(len(fixed), dtype=torch.bool)).all())
    expected_family = forms["largest_conflicting_family"].subs(at)
    if len(fixed) != expected_family or not pairwise:
        problems.append(f"fixed-key family: {len(fixed)} classes (closed form {expected_family}), pairwise conflicting: {pairwise}")
    if len(fixed) and math.log2(len(fixed)) < N * math.log2(V) - 1e-12:
        problems.append(f"log2 of the conflicting family {math.log2(len(fixed)):.4f} < N log2 V = {N * math.log2(V):.4f}")
    clique = largest_clique(conflict) if classes.shape[0] <= clique_limit else None
    if clique is not None and clique != expected_family:
        problems.append(f"largest conflicting family by exact search: {clique}, closed form {expected_family}")
    fewest = None
    if classes.shape[0] <= cover_limit and not problems:
        fewest = fewest_states(ext, int(expected_family))
        known = fewest_states_closed_form(K, V, N)
        if fewest < expected_family or (known is not None and fewest != known):
            problems.append(f"fewest states by exact search: {fewest}, lower bound {expected_family}, known value {known}")
    return Counting(config, family.prefixes.shape[0], classes.shape[0], sizes, len(fixed), pairwise, iff, clique, fewest,
                    tuple(problems))
