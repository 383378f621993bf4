"""Effective smoothness and estimation rates of gamma-smooth regression, derived in sympy (PAPER.md §7).

**gamma-smooth classes** (Okumoto & Suzuki 2022; related). A function on ``[0,1]^d`` is split into
dyadic frequency blocks ``delta_s f``, ``s in N^d``, block ``s`` holding ``2^(s_1 + ... + s_d)``
trigonometric coefficients; the norm weighs block ``s`` by ``2^gamma(s)`` with

* mixed smoothness        ``gamma(s) = sum_i a_i s_i``,
* anisotropic smoothness  ``gamma(s) = max_i a_i s_i``.

Approximating to error ``2^(-T)`` keeps the blocks with ``gamma(s) < T``; their number of
coefficients is ``2^(T / a_dagger)`` up to poly(T) factors, which *defines* the effective smoothness
``a_dagger``: the largest ``sum_i s_i`` over the region ``gamma(s) <= T`` is ``T / a_dagger``.
:func:`vertex_values` gives that linear programme's objective at every vertex (the checks prove in
sympy that the closed form is the largest of them), and
:func:`coefficient_count` counts the coefficients exactly, so the fitted slope of
``log2 count`` against ``T`` can be compared with ``1 / a_dagger``.

**Rates.** Takakura & Suzuki (2023; Transformers) and the paper (SSM+FNN) give the exponent
``2 a_dagger / (2 a_dagger + 1)``; Okumoto & Suzuki's CNN rate has ``a_dagger - v`` in its place,
``v = (1/p - 1/2)_+``. :func:`balanced_exponent` derives the exponent from an error decay and a
size growth (so the SSM+FNN exponent can be computed from measured curves); :func:`balanced_level`
derives the ``T`` at which the squared approximation
error ``2^(-2T)`` equals the estimation term ``2^(T / a_dagger) / n`` (network size over samples),
and the rate it gives. Only the exponent and the "up to poly-log" qualifier are safe to encode
(PAPER.md §7); constants are not.
"""

from __future__ import annotations

import itertools
from fractions import Fraction

import sympy as sp

KINDS = ("mixed", "anisotropic")


def _check_kind(kind: str) -> None:
    if kind not in KINDS:
        raise ValueError(f"unknown smoothness kind {kind!r}; choose one of {KINDS}")


def effective_smoothness(kind: str, a) -> sp.Expr:
    """The closed form of ``a_dagger`` (PAPER.md §7): ``min a_i`` or ``(sum 1/a_i)^(-1)``."""
    _check_kind(kind)
    a = list(a)
    if not a:
        raise ValueError("smoothness needs at least one coordinate")
    return sp.Min(*a) if kind == "mixed" else 1 / sum(1 / ai for ai in a)


def vertex_values(kind: str, a, T) -> list[sp.Expr]:
    """``sum_i s_i`` at every vertex of the region ``{s >= 0 : gamma(s) <= T}`` (a linear objective
    attains its maximum over a polytope at a vertex).

    Mixed: the simplex with vertices ``0`` and ``(T / a_i) e_i``. Anisotropic: the box
    ``0 <= s_i <= T / a_i``, whose vertices are its ``2^d`` corners."""
    _check_kind(kind)
    a = list(a)
    if kind == "mixed":
        return [sp.Integer(0)] + [T / ai for ai in a]
    return [sum((T / ai for ai, on in zip(a, corner) if on), sp.Integer(0))
            for corner in itertools.product((0, 1), repeat=len(a))]


def coefficient_count(kind: str, a, T) -> int:
    """Exact number of trigonometric coefficients in the blocks with ``gamma(s) <= T`` (integer
    ``s >= 0``; block ``s`` has ``2^(sum s)`` of them). ``a``: positive rationals."""
    _check_kind(kind)
    a = [Fraction(x) for x in a]
    if not a or any(x <= 0 for x in a):
        raise ValueError(f"smoothness coefficients must be positive, got {a}")
    if T < 0:
        raise ValueError(f"the level T must be non-negative, got {T}")
    T = Fraction(T)
    ranges = [range(int(T / ai) + 1) for ai in a]
    total = 0
    for s in itertools.product(*ranges):
        gamma = sum(ai * si for ai, si in zip(a, s)) if kind == "mixed" else max(ai * si for ai, si in zip(a, s))
        if gamma <= T:
            total += 2 ** sum(s)
    return total


def rate_exponent(a_dagger, v=0) -> sp.Expr:
    """Exponent ``r`` of the rate ``n^(-r)``: ``2(a - v) / (2(a - v) + 1)``; ``v = 0`` for the
    Transformer (Takakura & Suzuki) and SSM+FNN (this paper), ``v = (1/p - 1/2)_+`` for the CNN of
    Okumoto & Suzuki."""
    b = a_dagger - v
    return 2 * b / (2 * b + 1)


def balanced_level(a_dagger, n) -> tuple[sp.Expr, sp.Expr]:
    """Solve ``2^(-2T) = 2^(T / a_dagger) / n`` for ``T`` (derived, not asserted): returns
    ``(T, 2^(-2T))`` simplified."""
    T = sp.Symbol("T", positive=True)
    solutions = sp.solve(sp.Eq(-2 * T, T / a_dagger - sp.log(n, 2)), T)
    if len(solutions) != 1:
        raise ValueError(f"expected one balancing level, got {solutions}")
    level = sp.simplify(solutions[0])
    return level, sp.simplify(sp.powsimp(sp.expand_log(2 ** (-2 * level), force=True), force=True))


def balanced_exponent(error_decay, size_growth) -> sp.Expr:
    """The rate exponent an approximation family gives, derived by balancing: if error ``2^(-e T)`` is
    reached with ``2^(s T)`` parameters (up to poly(T) factors), solving ``2^(-2 e T) = 2^(s T) / n``
    gives the squared error ``n^(-r)``; returns ``r`` (``2 e / (2 e + s)``) as sympy derives it, for
    symbols or numbers. With ``e = 1``, ``s = 1 / a_dagger`` it is :func:`rate_exponent`."""
    T, n = sp.symbols("T n", positive=True)
    e, s = sp.Symbol("e", positive=True), sp.Symbol("s", positive=True)
    (level,) = sp.solve(sp.Eq(-2 * e * T, s * T - sp.log(n, 2)), T)
    squared_error = sp.expand_log(sp.log(2 ** (-2 * e * level), n), force=True)  # log_n of 2^(-2 e T)
    return sp.simplify(-squared_error).subs({e: error_decay, s: size_growth})


def log2_count_slope(kind: str, a, levels) -> float:
    """Coefficient of ``T`` in the least-squares fit ``log2 count = c_1 T + c_2 log2 T + c_0`` over
    ``levels`` (the ``log2 T`` term absorbs the poly(T) factor of ties between coordinates)."""
    import numpy as np

    levels = [int(t) for t in levels]
    if len(levels) < 3:
        raise ValueError("need at least three levels to fit the slope and the polynomial factor")
    ys = np.log2([float(coefficient_count(kind, a, t)) for t in levels])
    X = np.column_stack([levels, np.log2(levels), np.ones(len(levels))])
    return float(np.linalg.lstsq(X, ys, rcond=None)[0][0])
