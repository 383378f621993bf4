"""Symbolic facts of the regression side (claims ``regression.effective-smoothness``,
``regression.balance``; PAPER.md §7). The rate claim ``regression.rate-equals-transformer`` is
decided from measured curves in checks/test_regression_approximation.py.

The effective smoothness is derived, not looked up: the largest block exponent over the region
``gamma(s) <= T`` is solved in sympy for symbolic smoothness coefficients, and the exact count of
coefficients kept at level ``T`` grows like ``2^(T / a_dagger)`` (fitted slope). The balancing level
is solved for, then its rate simplified.
"""

from __future__ import annotations

import itertools

import pytest
import sympy as sp

from constructions.regression.rates import (
    KINDS,
    balanced_exponent,
    balanced_level,
    coefficient_count,
    effective_smoothness,
    log2_count_slope,
    rate_exponent,
    vertex_values,
)

T, n = sp.symbols("T n", positive=True)

#: per profile: dimensions of the symbolic proof; smoothness vectors and levels of the exact count
#: (levels are multiples of every T/a_i's denominator, so the lattice count has no floor jitter)
GRID = {
    "tiny": dict(dims=(1, 2), vectors=((1, 2),), levels=(12, 18, 24, 30)),
    "quick": dict(dims=(1, 2, 3), vectors=((1, 2), (sp.Rational(3, 2), 1, 3), (2, 2)), levels=(12, 18, 24, 30, 36)),
    "thorough": dict(dims=(1, 2, 3, 4), vectors=((1, 2), (sp.Rational(3, 2), 1, 3), (2, 2), (1, 2, 4)),
                     levels=(24, 36, 48, 60)),
}


def ordered_symbols(d):
    """Positive ``a_1 <= ... <= a_d`` written as ``a_1 + sum of positive increments`` (so sympy can
    compare them)."""
    a1 = sp.Symbol("a1", positive=True)
    steps = sp.symbols(f"e2:{d + 1}", nonnegative=True) if d > 1 else ()
    return [a1 + sum(steps[:i]) for i in range(d)]


def closed_form_is_the_lp_optimum(kind, a, closed=None):
    """``T / a_dagger`` is at least the objective at every vertex and equal to it at one."""
    closed = T / effective_smoothness(kind, a) if closed is None else closed
    gaps = [sp.simplify(sp.factor(closed - value)) for value in vertex_values(kind, a, T)]
    return all(g.is_nonnegative for g in gaps) and any(g == 0 for g in gaps)


# ----------------------------------------------------------------------------- effective smoothness
@pytest.mark.claim("regression.effective-smoothness")
@pytest.mark.parametrize("kind", KINDS)
def test_effective_smoothness_is_the_largest_block_exponent_per_level(kind, sizes, evidence):
    dims = GRID[sizes.row]["dims"]
    for d in dims:
        a = ordered_symbols(d)
        assert closed_form_is_the_lp_optimum(kind, a), (kind, d)
        # and for every ordering of the coordinates (the closed form must not depend on it)
        for perm in itertools.permutations(a):
            assert closed_form_is_the_lp_optimum(kind, list(perm))
    evidence.record(**{f"{kind}_dimensions_proved": list(dims)})


@pytest.mark.claim("regression.effective-smoothness")
@pytest.mark.parametrize("kind", KINDS)
def test_kept_coefficients_grow_like_two_to_the_level_over_a_dagger(kind, sizes, evidence):
    grid = GRID[sizes.row]
    rows = []
    for a in grid["vectors"]:
        slope = log2_count_slope(kind, a, grid["levels"])
        expected = float(1 / effective_smoothness(kind, a))
        rows.append({"a": [str(x) for x in a], "fitted_slope": slope, "one_over_a_dagger": expected})
        assert abs(slope - expected) <= 0.02 * expected, rows[-1]
    evidence.record(**{f"{kind}_count_slopes": rows})


@pytest.mark.claim("regression.effective-smoothness", role="control",
                  breaks="the closed form: the other smoothness kind's a_dagger in place of this kind's")
def test_smoothness_check_rejects_the_other_kinds_formula():
    a = ordered_symbols(3)
    assert not closed_form_is_the_lp_optimum("mixed", a, closed=T / effective_smoothness("anisotropic", a))
    assert not closed_form_is_the_lp_optimum("anisotropic", a, closed=T / effective_smoothness("mixed", a))
    slope = log2_count_slope("anisotropic", (1, 2), (12, 18, 24, 30, 36))
    assert abs(slope - float(1 / effective_smoothness("mixed", (1, 2)))) > 0.02


# ----------------------------------------------------------------------------- balance
def balance_gaps(level, a) -> dict[str, sp.Expr]:
    """What ``regression.balance`` says of a level ``T(n)``, as simplified differences that must be 0:
    the two error terms ``2^(-2T)`` and ``2^(T/a)/n`` are equal there, and the squared error is the
    Takakura & Suzuki rate ``n^(-2a/(2a+1))``."""
    target = n ** (-rate_exponent(a))

    def log_gap(x, y):
        return sp.simplify(sp.expand_log(sp.log(x) - sp.log(y), force=True))

    return {"terms_equal": log_gap(2 ** (-2 * level), 2 ** (level / a) / n), "rate": log_gap(2 ** (-2 * level), target)}


@pytest.mark.claim("regression.balance")
def test_balancing_level_is_a_over_2a_plus_1_log2_n_and_gives_the_rate(evidence):
    a = sp.Symbol("a", positive=True)
    level, error = balanced_level(a, n)
    assert sp.simplify(level - a / (2 * a + 1) * sp.log(n, 2)) == 0
    assert all(g == 0 for g in balance_gaps(level, a).values())
    assert sp.simplify(sp.expand_log(sp.log(error) - sp.log(n ** (-rate_exponent(a))), force=True)) == 0
    # and the derivation from general decay e and growth s reduces to it at e = 1, s = 1/a
    assert sp.simplify(balanced_exponent(1, 1 / a) - rate_exponent(a)) == 0
    evidence.record(level=str(level), squared_error_at_level=str(sp.simplify(error)))


@pytest.mark.claim("regression.balance", role="control",
                   breaks="the balancing level: log2(n)/2 in place of a/(2a+1) log2 n; the same gaps must not vanish")
def test_balance_check_rejects_an_unbalanced_level(evidence):
    a = sp.Symbol("a", positive=True)
    gaps = balance_gaps(sp.log(n, 2) / 2, a)
    assert all(g != 0 for g in gaps.values()), gaps
    evidence.record(gaps={k: str(g) for k, g in gaps.items()})


# ----------------------------------------------------------------------------- counting itself
def test_coefficient_count_by_hand():
    assert coefficient_count("mixed", (1,), 2) == 1 + 2 + 4
    assert coefficient_count("anisotropic", (1, 1), 1) == 1 + 2 + 2 + 4
    with pytest.raises(ValueError, match="positive"):
        coefficient_count("mixed", (0, 1), 3)
    with pytest.raises(ValueError, match="kind"):
        effective_smoothness("isotropic", (1,))
