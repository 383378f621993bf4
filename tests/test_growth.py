"""The growth judges of :mod:`claims.growth` on known series and known closed forms: tests of the judge,
not of any claim."""

from __future__ import annotations

import math

import pytest
import sympy as sp

from claims.growth import (
    _asymptotic,
    decisive_grid,
    empirical_growth,
    growth_class,
    judge_polylog,
    judge_polylog_measured,
    judge_polynomial,
    symbolic_growth,
)

X = sp.Symbol("x", positive=True)
LONG = [2.0**e for e in range(2, 21)]  # 19 sizes, ln x_max = 10 ln x_min: decisive
SHORT = [2.0**e for e in range(2, 6)]  # 4 sizes: not decisive
NARROW = [2.0**e for e in range(10, 16)]  # 6 sizes, ln x_max = 1.5 ln x_min: not decisive


def series(f, xs=LONG):
    return empirical_growth(xs, [f(x) for x in xs])


def test_growth_classes_of_known_series():
    """The classifier names known growth right and says 'unclear' when a closed form contradicts the
    measurements or a short grid does not settle them."""
    xs, wide = [2**e for e in range(4, 15)], [2**e for e in range(4, 31)]
    assert growth_class(xs, [x * x for x in xs], X**2, X)["class"] == "polynomial"
    assert growth_class(xs, [math.log2(x) for x in xs], sp.log(X), X)["class"] == "polylog"
    assert growth_class(xs, [7 for _ in xs])["class"] == "constant"
    assert growth_class(xs, [3 * x for x in xs])["class"] == "polynomial"
    # log^2 x has slope 2 / ln x: below 0.2 only past x = e^10, so it needs a longer grid
    assert growth_class(wide, [math.log2(x) ** 2 for x in wide])["class"] == "polylog"
    assert growth_class(xs, [math.log2(x) ** 2 for x in xs])["class"] == "unclear"
    assert growth_class(xs, [math.log2(x) for x in xs], X**2, X)["class"] == "unclear"


@pytest.mark.parametrize("f, verdict", [
    (lambda x: 27 * math.log2(x) + 6, "holds"),  # the query-first construction's parameters
    (lambda x: 27 * math.log2(x) + 6 + 2 * x, "fails"),  # ... with dead units linear in x
    (lambda x: x**0.5, "fails"),
    (lambda x: math.log2(x) ** 6, "inconclusive"),  # slope 6 / ln x falls, but stays above 0.2 up to 2^20
])
def test_measured_polylog_judge_reaches_every_verdict(f, verdict):
    assert judge_polylog_measured(series(f)).verdict == verdict


def test_a_polynomial_on_a_short_grid_is_inconclusive_not_failing():
    measured = series(lambda x: 3 * x, SHORT)
    assert not decisive_grid(measured)
    result = judge_polylog_measured(measured)
    assert result.verdict == "inconclusive" and "too short" in result.reason
    # six sizes far from 1: ln^6 x there has slope 6 / ln x ~ 0.6 falling only to 0.85 of it: undecided too
    assert not decisive_grid(series(lambda x: 3 * x, NARROW))
    assert judge_polylog_measured(series(lambda x: math.log(x) ** 6, NARROW)).verdict == "inconclusive"


def test_measured_growth_fails_a_polylog_claim_even_when_the_closed_form_says_polylog():
    """The measurements are the network's own: a closed form that says poly-log does not save a network
    whose counts grow linearly (a dead-unit mutant stays exact)."""
    closed = symbolic_growth(27 * sp.log(X, 2) + 6, X)
    grown = series(lambda x: 27 * math.log2(x) + 6 + 2 * x)
    result = judge_polylog(closed, grown)
    assert result.verdict == "fails" and "does not describe the built network" in result.reason
    assert judge_polylog(closed, series(lambda x: 27 * math.log2(x) + 6)).verdict == "holds"


def test_polylog_judge_with_a_polynomial_closed_form():
    quadratic = symbolic_growth(X**2, X)
    assert judge_polylog(quadratic, series(lambda x: x * x)).verdict == "fails"
    assert judge_polylog(quadratic, series(lambda x: math.log2(x))).verdict == "inconclusive"


def test_degree_judge_tells_the_degree():
    quadratic = symbolic_growth(11 * X**2 + 16 * X, X)
    assert judge_polynomial(quadratic, series(lambda x: 11 * x * x + 16 * x), degree=2).verdict == "holds"
    assert judge_polynomial(quadratic, series(lambda x: x**3), degree=2).verdict == "inconclusive"
    assert judge_polynomial(symbolic_growth(X**3, X), series(lambda x: x**3), degree=2).verdict == "fails"


M = sp.Max(1, sp.ceiling(sp.log(X, 2)))  # bits of a binary code of X symbols
NGRAM = sp.log(100 * X**2) / sp.log(4)


@pytest.mark.parametrize("expr", [
    6 * M + 3 * M + 3, 16 * M**2 + 179 * M - 14, sp.Max(2 * M + M, M + M + 7), 11 * X**2 + 12 * X + 4 * X,
    sp.Max(3 * X, X**2 + X), 7 * X + 1, X * sp.log(X) ** 2, sp.sqrt(X) + sp.log(X), sp.Integer(5),
    (NGRAM + 1) * (M + 1) + 1 + (2 * NGRAM + 2) * M, sp.Max(5 * (100 * X**2) ** (sp.log(6) / sp.log(4)) + 6 * NGRAM, 7 * NGRAM + 7),
])
def test_the_leading_term_shortcut_agrees_with_sympy_limits(expr):
    """Sums of c x^a (log x)^k are classified without limits; the limits give the same degrees."""
    fast = symbolic_growth(expr, X)
    f = _asymptotic(expr, X)
    d = sp.limit(sp.log(f) / sp.log(X), X, sp.oo)
    assert fast.poly_degree == pytest.approx(float(d))
    if d == 0:
        assert fast.polylog_degree == pytest.approx(float(sp.limit(sp.log(f) / sp.log(sp.log(X)), X, sp.oo)))


@pytest.mark.parametrize("expr, cls", [(sp.exp(X), "superpolynomial"), (2**X, "superpolynomial"), (sp.oo, "superpolynomial")])
def test_what_is_not_a_sum_of_powers_and_logs_goes_to_the_limits(expr, cls):
    assert symbolic_growth(expr, X).growth_class == cls
