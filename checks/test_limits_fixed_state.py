"""Checks of what fixed-state models cannot copy, and of the repeated n-gram bound (related work:
Jelassi, Brandfonbrener, Kakade, Malach 2024, "Repeat After Me"; PAPER.md §5-§6).

* ``limits.gssm-2.7`` (Theorem 2.7, success <= |S|/D^L, i.e. error >= 1 - |S|/D^L) -- every
  deterministic finite-state copier with ``|S|`` states is simulated on every string for tiny
  ``(D, L, |S|)`` (:func:`exhaustive_best`); beyond, every reading table bounds success through the
  reached states (:func:`exhaustive_reached_states`); a ``min(|S|, D^L)``-string witness
  (:func:`cycle_witness`) is simulated, so the optimum is exactly ``min(|S|, D^L)/D^L``. The paper's
  strict ``>`` is *not* what holds: the witness attains ``error = 1 - |S|/D^L`` for every
  ``|S| <= D^L`` (recorded as ``strict_inequality_holds``).
* ``limits.gssm-2.8`` (Corollary 2.8) -- ``log2|S| < L log2 D - 1  =>  error > 1/2`` proved in sympy
  for symbolic ``L, D, |S|`` and confirmed on the searched configurations; controls show the margin 1
  is needed (margin 0 proves nothing and is violated).
* ``limits.ngram-2.4`` (Lemma 2.4) -- ``P(repeated n-gram) < L^2 D^-n``: exactly by enumeration
  (with the union bound ``C(L-n+1, 2) D^-n`` in between and the per-pair probability ``D^-n``
  measured), in sympy for symbolic ``L, n``, and by Monte Carlo with an exact 95% upper bound.

Sizes per profile are in the tables below (``sizes.row`` picks the row).
"""

from __future__ import annotations

from fractions import Fraction
from functools import cache

import pytest
import sympy as sp
import torch

from claims.statistics import clopper_pearson_upper
from constructions.limits.fixed_state import (
    FiniteStateCopier,
    cycle_witness,
    exhaustive_best,
    exhaustive_reached_states,
    measured_success,
    optimum,
    success_bound,
)
from constructions.limits.ngram_repeats import (
    exact_repeat_probability,
    jelassi_bound,
    monte_carlo_repeat,
    pair_collision_counts,
    union_bound,
)


def _grid(alphabets_lengths_states) -> tuple[tuple[int, int, int], ...]:
    return tuple((D, L, k) for D, lengths, states in alphabets_lengths_states for L in lengths for k in states)


#: every copier simulated on every string: (D, L, |S|), initial states, cell limit
FULL_SEARCH = {
    "tiny": (_grid([(2, (1, 2), (1, 2, 3)), (3, (1,), (1, 2))]), "all", 1 << 24),
    "quick": (_grid([(2, (1, 2, 3), (1, 2, 3)), (3, (1, 2), (1, 2))]), "all", 1 << 25),
    "thorough": (_grid([(2, (1, 2, 3, 4), (1, 2, 3)), (3, (1, 2), (1, 2, 3))]), "zero", 1 << 28),
}
#: every reading table, success bounded by the distinct states reached: (D, L, |S|), initial states, limit
RELAXED_SEARCH = {
    "tiny": (_grid([(2, (1, 2, 3), (1, 2, 3, 4)), (3, (1, 2), (1, 2, 3))]), "all", 1 << 24),
    "quick": (_grid([(2, (1, 2, 3, 4), (1, 2, 3, 4)), (3, (1, 2), (1, 2, 3))]), "all", 1 << 25),
    "thorough": (_grid([(2, (1, 2, 3, 4), (1, 2, 3, 4, 5)), (3, (1, 2), (1, 2, 3, 4))]), "zero", 1 << 28),
}
#: cycle witness simulated for every |S| in 1..D^L + 1: (D, L)
WITNESS_GRID = {
    "tiny": ((2, 3), (3, 2)),
    "quick": ((2, 5), (3, 3), (4, 2), (5, 2)),
    "thorough": ((2, 8), (3, 4), (4, 3), (5, 3), (7, 2)),
}
#: exact enumeration of P(repeated n-gram): every (D, L, n) with D in the list, D^L <= cap, n <= L + 1
ENUMERATION = {
    "tiny": ((2, 3, 4), 1 << 8),
    "quick": ((2, 3, 4, 5, 8), 1 << 12),
    "thorough": ((2, 3, 4, 5, 6, 8, 16), 1 << 18),
}
#: per-pair window collision counts by enumeration: (D, L, n)
PAIR_GRID = {
    "tiny": ((2, 4, 2), (3, 3, 1)),
    "quick": ((2, 8, 3), (3, 5, 2), (4, 4, 1), (2, 9, 5)),
    "thorough": ((2, 14, 4), (3, 8, 3), (4, 6, 2), (5, 5, 2)),
}
#: Monte Carlo settings where L^2 D^-n < 1: (D, L, n), and samples per setting
MONTE_CARLO = {
    "tiny": (((8, 10, 3), (4, 16, 5)), 1000),
    "quick": (((8, 10, 3), (4, 16, 5), (2, 40, 12), (26, 64, 3)), 4000),
    "thorough": (((8, 10, 3), (4, 16, 5), (2, 40, 12), (26, 64, 3), (16, 256, 5)), 100_000),
}
CONFIDENCE = 0.95


# ============================================================================= Theorem 2.7
def bound_violations(rows, bound=success_bound) -> list[dict]:
    """Rows ``(D, L, |S|, best_success)`` whose best success exceeds ``bound(D, L, |S|)``."""
    return [dict(alphabet=D, length=L, states=k, best_success=str(best), bound=str(bound(D, L, k)))
            for D, L, k, best in rows if best > bound(D, L, k)]


def witness_shortfalls(configs, build=cycle_witness) -> list[dict]:
    """Configurations where the witness's *measured* success differs from ``min(|S|, D^L)/D^L``."""
    out = []
    for D, L, k in configs:
        got = measured_success(build(D, L, k), L)
        if got != optimum(D, L, k):
            out.append(dict(alphabet=D, length=L, states=k, measured=str(got), optimum=str(optimum(D, L, k))))
    return out


@cache
def _search_rows(kind: str, profile: str) -> tuple:
    """``(D, L, |S|, SearchResult)`` for every configuration of the profile's grid (cached: two
    claims read the same searches)."""
    table, search = {"full": (FULL_SEARCH, exhaustive_best), "relaxed": (RELAXED_SEARCH, exhaustive_reached_states)}[kind]
    configs, initial, limit = table[profile]
    return tuple((D, L, k, search(D, L, k, initial_states=initial, limit=limit)) for D, L, k in configs)


@pytest.mark.claim("limits.gssm-2.7")
def test_no_copier_beats_states_over_D_to_the_L(sizes, evidence):
    """Every copier with |S| states, simulated on all D^L strings: best success <= |S|/D^L, and the
    best equals the witness's measured success min(|S|, D^L)/D^L (so the bound is attained)."""
    results = _search_rows("full", sizes.row)
    rows = [(D, L, k, r.best_success) for D, L, k, r in results]
    violations = bound_violations(rows)
    shortfalls = witness_shortfalls([(D, L, k) for D, L, k, _ in rows])
    best_vs_witness = [(D, L, k, str(best)) for D, L, k, best in rows if best != measured_success(cycle_witness(D, L, k), L)]
    attained = [r for D, L, k, r in results if r.best_success == success_bound(D, L, k)]
    evidence.record(
        exhaustive={f"D{D}_L{L}_S{k}": r.to_dict() for D, L, k, r in results},
        copiers_simulated=sum(r.searched for *_, r in results),
        configurations=len(rows),
        bound_attained_exactly=len(attained),
        strict_inequality_holds=not attained,
        strict_counterexample=None if not attained else dict(
            alphabet=attained[-1].alphabet, length=attained[-1].length, states=attained[-1].states,
            min_error=str(1 - attained[-1].best_success), copier=repr(attained[-1].best)),
    )
    assert not violations, f"copiers beat |S|/D^L: {violations}"
    assert not shortfalls, f"the witness misses the optimum: {shortfalls}"
    assert not best_vs_witness, f"exhaustive best differs from the witness: {best_vs_witness}"


@pytest.mark.claim("limits.gssm-2.7")
def test_reached_states_bound_success_on_larger_configurations(sizes, evidence):
    """Over every reading table: (distinct states reached after the separator)/D^L <= |S|/D^L. By the
    argument of constructions/limits/fixed_state.py this bounds every copier; with the witness below
    it, the optimum min(|S|, D^L)/D^L is pinned on every configuration of the grid."""
    results = _search_rows("relaxed", sizes.row)
    rows = [(D, L, k, r.best_success) for D, L, k, r in results]
    violations = bound_violations(rows)
    not_pinned = [(D, L, k, str(best)) for D, L, k, best in rows if best != measured_success(cycle_witness(D, L, k), L)]
    evidence.record(
        relaxed={f"D{D}_L{L}_S{k}": r.to_dict() for D, L, k, r in results},
        reading_tables_searched=sum(r.searched for *_, r in results),
        largest_search=max(r.searched for *_, r in results),
    )
    assert not violations, f"reading tables reach more than |S| states: {violations}"
    assert not not_pinned, f"relaxed bound and witness disagree: {not_pinned}"


@pytest.mark.claim("limits.gssm-2.7")
def test_search_reductions_agree_with_the_full_search(evidence):
    """The reductions used above change nothing on tiny sizes: fixing the initial state, fixing the
    separator column to the identity, and relaxing generation all give the full search's maximum."""
    configs = ((2, 1, 2), (2, 2, 2), (2, 2, 3), (3, 1, 2), (2, 3, 2))
    table = {}
    for D, L, k in configs:
        values = {
            "full_all_initial": exhaustive_best(D, L, k).best_success,
            "full_initial_zero": exhaustive_best(D, L, k, initial_states="zero").best_success,
            "relaxed_separator_enumerated": exhaustive_reached_states(D, L, k, include_separator_column=True).best_success,
            "relaxed_separator_identity": exhaustive_reached_states(D, L, k).best_success,
        }
        table[f"D{D}_L{L}_S{k}"] = {name: str(v) for name, v in values.items()}
        assert len(set(values.values())) == 1, f"D={D}, L={L}, |S|={k}: {values}"
    evidence.record(reductions=table)


@pytest.mark.claim("limits.gssm-2.7")
def test_cycle_witness_attains_the_optimum_for_every_state_count(sizes, evidence):
    """For every |S| from 1 to D^L + 1 the cycle witness, simulated on all D^L strings, copies exactly
    min(|S|, D^L) of them: error 1 - |S|/D^L exactly for |S| <= D^L (Theorem 2.7 is tight)."""
    configs = [(D, L, k) for D, L in WITNESS_GRID[sizes.row] for k in range(1, D**L + 2)]
    shortfalls = witness_shortfalls(configs)
    attained = sum(1 for D, L, k in configs if k <= D**L)
    evidence.record(bound_attained_exactly=attained, witness_configurations=len(configs),
                    largest_D_to_the_L=max(D**L for D, L, _ in configs))
    assert not shortfalls, f"the witness misses the optimum: {shortfalls}"


@pytest.mark.claim("limits.gssm-2.7", role="control",
                  breaks="the bound's premise: exhaustive-search copiers given |S| + 1 states, compared with the |S|-state bound")
def test_bound_check_catches_a_copier_with_one_state_too_many(evidence):
    """A 'cheating' copier given |S|+1 states, compared with the |S|-state bound, is caught."""
    rows = [(D, L, k, exhaustive_best(D, L, k + 1).best_success) for D, L, k in ((2, 1, 1), (2, 2, 1), (2, 2, 2))]
    caught = bound_violations(rows)
    evidence.record(caught=caught)
    assert caught


@pytest.mark.claim("limits.gssm-2.7", role="control",
                  breaks="the bound: |S|/D^L halved")
def test_bound_check_catches_a_bound_off_by_a_factor_two(evidence):
    rows = [(D, L, k, exhaustive_best(D, L, k).best_success) for D, L, k in ((2, 1, 1), (2, 2, 2), (2, 2, 3))]
    caught = bound_violations(rows, bound=lambda D, L, k: success_bound(D, L, k) / 2)
    evidence.record(caught=caught)
    assert caught


@pytest.mark.claim("limits.gssm-2.7", role="control",
                  breaks="the cycle witness: its separator column rotated by one state")
def test_witness_check_catches_a_broken_separator(evidence):
    """A witness whose separator column is rotated by one state is caught as missing the optimum."""

    def broken(D, L, k):
        w = cycle_witness(D, L, k)
        transition = w.transition.copy()
        m = min(k, D**L)
        transition[:m, D] = (transition[:m, D] + 1) % m
        return FiniteStateCopier(D, w.initial, transition, w.output)

    caught = witness_shortfalls(((2, 3, 5), (3, 2, 4), (2, 2, 4)), build=broken)
    evidence.record(caught=caught)
    assert caught


# ============================================================================= Corollary 2.8
def corollary_28_proof(margin) -> dict:
    """Try to prove ``log2|S| < L log2 D - margin  =>  error >= 1 - |S|/D^L > 1/2`` for symbolic
    positive ``L, D`` in sympy.

    Step 1: ``2^(L log2 D - margin) = D^L 2^-margin`` (sympy simplifies the difference to 0), so by
    monotonicity of ``2^x`` the hypothesis is ``|S| = D^L 2^-margin - t`` with ``t > 0``.
    Step 2: the Theorem 2.7 error bound minus 1/2 simplifies to ``t/D^L + 1/2 - 2^-margin``; sympy's
    assumptions must decide it is positive. Returns the expressions and ``proven``.
    """
    L, D, t = sp.symbols("L D t", positive=True)
    margin = sp.nsimplify(margin)
    identity = sp.simplify(sp.powsimp(sp.expand_log(2 ** (L * sp.log(D, 2) - margin), force=True)) - D**L * 2 ** (-margin))
    states = D**L * 2 ** (-margin) - t
    gap = sp.simplify((1 - states / D**L) - sp.Rational(1, 2))
    return dict(margin=str(margin), identity_residual=str(identity), error_bound_minus_half=str(gap),
                proven=bool(identity == 0 and gap.is_positive is True))


def corollary_28_failures(rows, margin=1) -> tuple[int, list[dict]]:
    """Among rows ``(D, L, |S|, best_success)`` whose memory satisfies ``log2|S| < L log2 D - margin``
    (decided exactly by sympy), those whose smallest error ``1 - best_success`` is not ``> 1/2``.
    Returns (number of rows meeting the hypothesis, failures)."""
    hypothesis_rows, failures = 0, []
    for D, L, k, best in rows:
        meets = bool(sp.log(k, 2) < L * sp.log(D, 2) - sp.nsimplify(margin))
        if isinstance(margin, int):  # the same test in integers: |S| 2^margin < D^L
            assert meets == (k * 2**margin < D**L), (D, L, k, margin)
        if not meets:
            continue
        hypothesis_rows += 1
        if not 1 - best > Fraction(1, 2):
            failures.append(dict(alphabet=D, length=L, states=k, min_error=str(1 - best)))
    return hypothesis_rows, failures


@pytest.mark.claim("limits.gssm-2.8")
def test_corollary_28_holds_symbolically(evidence):
    proof = corollary_28_proof(1)
    evidence.record(proof=proof)
    assert proof["proven"], proof


@pytest.mark.claim("limits.gssm-2.8")
def test_corollary_28_holds_on_every_searched_configuration(sizes, evidence):
    """Smallest error over all copiers (full search) or its lower bound (relaxed search) exceeds 1/2
    wherever log2|S| < L log2 D - 1."""
    rows = [(D, L, k, r.best_success) for kind in ("full", "relaxed") for D, L, k, r in _search_rows(kind, sizes.row)]
    meeting, failures = corollary_28_failures(rows)
    evidence.record(configurations_meeting_hypothesis=meeting, configurations=len(rows))
    assert meeting > 0, "no configuration meets the hypothesis: the check would be vacuous"
    assert not failures, failures


@pytest.mark.claim("limits.gssm-2.8", role="control",
                  breaks="the corollary's premise: the one-bit margin dropped (log2|S| < L log2 D); the proof must fail and real copiers reach error <= 1/2")
def test_corollary_28_needs_the_one_bit_margin(evidence):
    """With margin 0 (log2|S| < L log2 D) the symbolic proof fails and real copiers reach error <= 1/2
    (e.g. |S| = D^L/2: error exactly 1/2)."""
    proof = corollary_28_proof(0)
    rows = [(D, L, k, exhaustive_best(D, L, k).best_success) for D, L, k in ((2, 1, 1), (2, 2, 2), (2, 2, 3), (3, 1, 2))]
    _, failures = corollary_28_failures(rows, margin=0)
    evidence.record(proof_margin_0=proof, failures_margin_0=failures)
    assert not proof["proven"] and failures


# ============================================================================= Lemma 2.4
def enumeration_grid(alphabets, cap) -> list[tuple[int, int, int]]:
    return [(D, L, n) for D in alphabets for L in range(1, 64) if D**L <= cap for n in range(1, L + 2)]


def probability_violations(probabilities: dict, bound=jelassi_bound, *, strict: bool = True) -> list[dict]:
    """Settings ``(D, L, n) -> P`` where ``P < bound(D, L, n)`` (``P <= bound`` unless ``strict``) fails."""
    holds = (lambda p, b: p < b) if strict else (lambda p, b: p <= b)
    return [dict(alphabet=D, length=L, n=n, probability=str(p), bound=str(bound(D, L, n)))
            for (D, L, n), p in probabilities.items() if not holds(p, bound(D, L, n))]


def exact_probabilities(alphabets, cap) -> dict:
    return {(D, L, n): exact_repeat_probability(D, L, n) for D, L, n in enumeration_grid(alphabets, cap)}


@pytest.mark.claim("limits.ngram-2.4")
def test_exact_repeat_probability_is_below_L2_D_minus_n(sizes, evidence):
    """Over all D^L strings: P(repeated n-gram) <= C(L-n+1, 2) D^-n < L^2 D^-n, exactly."""
    probabilities = exact_probabilities(*ENUMERATION[sizes.row])
    violations = probability_violations(probabilities)
    above_union = probability_violations(probabilities, bound=union_bound, strict=False)
    nontrivial = {s: p for s, p in probabilities.items() if jelassi_bound(*s) < 1}

    def ratio(s):
        return probabilities[s] / jelassi_bound(*s)

    tightest = max(probabilities, key=ratio)
    tightest_nontrivial = max(nontrivial, key=ratio) if nontrivial else None
    evidence.record(
        settings=len(probabilities),
        settings_with_bound_below_1=len(nontrivial),
        strings_enumerated=sum(D**L for D, L, _ in probabilities),
        tightest=dict(setting=tightest, probability=str(probabilities[tightest]), ratio_to_bound=float(ratio(tightest))),
        tightest_with_bound_below_1=None if tightest_nontrivial is None else dict(
            setting=tightest_nontrivial, probability=str(probabilities[tightest_nontrivial]),
            bound=str(jelassi_bound(*tightest_nontrivial)), ratio_to_bound=float(ratio(tightest_nontrivial))),
    )
    assert not violations, violations
    assert not above_union, f"above the union bound: {above_union}"


@pytest.mark.claim("limits.ngram-2.4")
def test_each_pair_of_windows_collides_with_probability_D_minus_n(sizes, evidence):
    """The union bound's ingredient, by enumeration: every pair of windows (overlapping or not) is equal
    on exactly D^(L-n) of the D^L strings."""
    checked = 0
    for D, L, n in PAIR_GRID[sizes.row]:
        counts = pair_collision_counts(D, L, n)
        W = L - n + 1
        off = counts[~torch.eye(W, dtype=torch.bool)]
        assert bool((off == D ** (L - n)).all()), f"D={D}, L={L}, n={n}: pair counts {counts.tolist()}"
        assert bool((counts.diagonal() == D**L).all())
        checked += W * (W - 1) // 2
    evidence.record(window_pairs_checked=checked, settings=PAIR_GRID[sizes.row])


def pair_count_proof(bound_in_L) -> dict:
    """Try to prove ``C(L-n+1, 2) < bound_in_L(L)`` for all integers ``1 <= n <= L`` in sympy:
    substitute ``n = 1 + a``, ``L = n + m`` (``a, m >= 0``); proven when the difference is a
    polynomial in ``a, m`` with nonnegative coefficients and a positive constant term."""
    a, m = sp.symbols("a m", integer=True, nonnegative=True)
    n = 1 + a
    L = n + m
    diff = sp.expand(bound_in_L(L) - sp.binomial(L - n + 1, 2).expand(func=True))
    poly = sp.Poly(diff, a, m)
    coefficients = poly.coeffs()
    constant = poly.coeff_monomial(1)
    proven = all(c >= 0 for c in coefficients) and constant > 0
    return dict(difference=str(diff), proven=bool(proven))


@pytest.mark.claim("limits.ngram-2.4")
def test_union_bound_is_below_L2_D_minus_n_symbolically(evidence):
    """C(L-n+1, 2) D^-n < L^2 D^-n for all 1 <= n <= L (D^-n > 0 cancels), proved in sympy."""
    proof = pair_count_proof(lambda L: L**2)
    evidence.record(proof=proof)
    assert proof["proven"], proof


@pytest.mark.claim("limits.ngram-2.4")
def test_monte_carlo_upper_bound_is_below_L2_D_minus_n(sizes, evidence, suite_seed):
    settings, samples = MONTE_CARLO[sizes.row]
    runs = []
    for i, (D, L, n) in enumerate(settings):
        run = monte_carlo_repeat(D, L, n, samples, seed=1000 * (suite_seed + 1) + i)
        upper = clopper_pearson_upper(run.hits, run.samples, CONFIDENCE)
        runs.append({**run.to_dict(), "upper_95": upper})
    evidence.record(monte_carlo=runs)
    failing = [r for r in runs if not r["upper_95"] < r["bound_L2_D_minus_n"]]
    assert all(r["bound_L2_D_minus_n"] < 1 for r in runs)
    assert not failing, failing


@pytest.mark.claim("limits.ngram-2.4", role="control",
                  breaks="the bound: D^-n without the factor L^2 (exact enumeration)")
def test_exact_check_catches_a_bound_that_is_too_small(sizes, evidence):
    """The bound D^-n (missing the L^2) is exceeded by the exact probability somewhere on the grid."""
    probabilities = exact_probabilities(*ENUMERATION["tiny"])
    caught = probability_violations(probabilities, bound=lambda D, L, n: Fraction(1, D**n))
    exceeding = [c for c in caught if Fraction(c["probability"]) > Fraction(c["bound"])]
    evidence.record(first_strictly_above=exceeding[0] if exceeding else None, caught_settings=caught[:5])
    assert exceeding


@pytest.mark.claim("limits.ngram-2.4", role="control",
                  breaks="the bound: D^-n without the factor L^2 (Monte Carlo)")
def test_monte_carlo_check_catches_a_bound_that_is_too_small(evidence):
    D, L, n = 8, 10, 3
    run = monte_carlo_repeat(D, L, n, 1000, seed=5)
    upper = clopper_pearson_upper(run.hits, run.samples, CONFIDENCE)
    too_small = 1 / D**n
    evidence.record(estimate=run.estimate, upper_95=upper, too_small_bound=too_small)
    assert not upper < too_small


@pytest.mark.claim("limits.ngram-2.4", role="control",
                  breaks="the proof's pair count: L in place of L^2")
def test_symbolic_check_rejects_a_linear_pair_count(evidence):
    """Claiming C(L-n+1, 2) < L (instead of L^2) is not proven (and false: L = 10, n = 1 gives 45)."""
    proof = pair_count_proof(lambda L: L)
    evidence.record(proof=proof)
    assert not proof["proven"]
