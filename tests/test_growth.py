"""The growth classifier (claims.growth) on known series and known closed forms: it tests the
judge, not a claim."""

from __future__ import annotations

import math

import pytest
import sympy as sp

from claims.growth import _asymptotic, growth_class, symbolic_growth

X = sp.Symbol("x", positive=True)


def test_growth_classes_of_known_series():
    """The classifier names known growth right and says 'unclear' when a closed form contradicts
    the measurements."""
    xs, wide = [2**e for e in range(4, 15)], [2**e for e in range(4, 31)]
    cases = {
        "x^2": (growth_class(xs, [x * x for x in xs], X**2, X)["class"], "polynomial"),
        "log x": (growth_class(xs, [math.log2(x) for x in xs], sp.log(X), X)["class"], "polylog"),
        "constant": (growth_class(xs, [7 for _ in xs])["class"], "constant"),
        "x measured only": (growth_class(xs, [3 * x for x in xs])["class"], "polynomial"),
        # log^2 x has slope 2 / ln x: below 0.2 only past x = e^10, so it needs a longer grid
        "log^2 x measured only": (growth_class(wide, [math.log2(x) ** 2 for x in wide])["class"], "polylog"),
        "log^2 x on the short grid": (growth_class(xs, [math.log2(x) ** 2 for x in xs])["class"], "unclear"),
        "x^2 claimed for log x": (growth_class(xs, [math.log2(x) for x in xs], X**2, X)["class"], "unclear"),
    }
    assert all(got == want for got, want in cases.values()), cases


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
