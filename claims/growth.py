"""Growth verdicts for resource counts: the symbolic leading order plus the measured trend.

A scaling claim ("parameters are poly-logarithmic in |V|", "width grows like |V|^2") is judged from
two independent pieces of evidence:

1. **Symbolic**: the construction's closed form (a sympy expression that a check has shown equal to
   the measured counts on a grid) gives the polynomial degree ``d = lim log f / log x`` and, when
   ``d = 0``, the poly-log degree ``k = lim log f / log log x``. For these limits ``ceiling(a)`` is
   replaced by ``a`` and each ``Max`` by its eventually largest argument: both change ``f`` by at
   most a bounded factor for large x.
2. **Empirical**: the measured counts' local log-log slopes ``d log y / d log x`` between grid
   points. A polynomial of degree ``p`` has slopes tending to ``p``; a poly-log count has slopes
   tending to 0 like ``k / ln x``.

Slopes are averaged over the first and the last third of the grid (``early_slope``,
``late_slope``): ceilings in the counts make single steps jumpy. Thresholds (module constants,
reported with every verdict):

* poly-log **holds** when the measured late slope is below ``POLYLOG_SLOPE_MAX`` (0.2) and no larger
  than the early one (and, judged from measurements alone, ``log y`` is close to linear in
  ``log log x``), and the symbolic class, where there is one, is poly-log or constant;
* poly-log **fails** when the measured late slope stays at or above ``POLYLOG_SLOPE_MAX`` and does not
  fall (late >= ``NOT_FALLING`` x early) over a *decisive* grid: at least ``DECISIVE_POINTS`` (5)
  sizes with ``ln x_max >= 2 ln x_min``. A ``(ln x)^k`` count has slope ``k / ln x``, which falls by
  ``ln x_min / ln x_max`` (at least halves over such a grid); ``x^p`` keeps ``p``. The measured counts are the built network's, so they decide even against a closed form (a
  network with dead units added stays exact while its parameters grow linearly);
* polynomial of degree ``p`` **holds** when the symbolic degree is ``p`` and the late slope is within
  ``POLY_SLOPE_RTOL * p`` of ``p``;
* everything else is ``inconclusive`` (or ``fails`` when both pieces of evidence contradict the claim).
"""

from __future__ import annotations

import functools
import math
from dataclasses import dataclass

import numpy as np
import sympy as sp

POLYLOG_SLOPE_MAX = 0.2
POLY_SLOPE_RTOL = 0.15


@dataclass(frozen=True)
class SymbolicGrowth:
    expression: str
    variable: str
    poly_degree: float  # lim log f / log x
    polylog_degree: float | None  # lim log f / log log x, when poly_degree == 0
    growth_class: str  # constant | polylog | polynomial | superpolynomial


@dataclass(frozen=True)
class EmpiricalGrowth:
    xs: tuple[float, ...]
    ys: tuple[float, ...]
    local_slopes: tuple[float, ...]
    polylog_fit_degree: float  # k in log y = k log log x + c (least squares)
    polylog_fit_r2: float
    power_fit_degree: float  # p in log y = p log x + c over the upper half of the grid

    @property
    def first_slope(self) -> float:
        return self.local_slopes[0]

    @property
    def last_slope(self) -> float:
        return self.local_slopes[-1]

    @property
    def early_slope(self) -> float:
        """Mean local slope over the first third of the grid (ceilings make single steps jumpy)."""
        k = max(1, len(self.local_slopes) // 3)
        return float(np.mean(self.local_slopes[:k]))

    @property
    def late_slope(self) -> float:
        """Mean local slope over the last third of the grid."""
        k = max(1, len(self.local_slopes) // 3)
        return float(np.mean(self.local_slopes[-k:]))


@dataclass(frozen=True)
class GrowthVerdict:
    verdict: str  # holds | fails | inconclusive
    reason: str
    symbolic: SymbolicGrowth | None  # None: judged from the measurements alone
    empirical: EmpiricalGrowth

    def to_dict(self) -> dict:
        return {
            "verdict": self.verdict,
            "reason": self.reason,
            "symbolic": self.symbolic.__dict__ if self.symbolic else None,
            "empirical": {**self.empirical.__dict__, "last_slope": self.empirical.last_slope,
                          "early_slope": self.empirical.early_slope, "late_slope": self.empirical.late_slope},
            "thresholds": {"polylog_slope_max": POLYLOG_SLOPE_MAX, "poly_slope_rtol": POLY_SLOPE_RTOL,
                           "not_falling": NOT_FALLING, "decisive_points": DECISIVE_POINTS,
                           "decisive_log_ratio": DECISIVE_LOG_RATIO},
        }


def _leading_term(expr: sp.Expr, x: sp.Symbol) -> tuple[float, float, float] | None:
    """Without limits, when ``expr`` is a finite sum of terms ``c x^a (log x)^k`` (as closed forms
    of resource counts are, once ceilings and maxima are resolved): ``(a, k, c)`` of the eventually
    largest term (tuples order the growth; equal ``(a, k)`` add up). ``None`` when ``expr`` is not
    of that form, or when the leading coefficient is not positive."""
    t = sp.Dummy("t", positive=True)
    e = sp.expand_log(sp.sympify(expr), force=True).xreplace({sp.log(x): t})
    e = sp.expand(sp.expand_power_base(sp.powdenest(e, force=True), force=True))
    terms: dict[tuple, sp.Expr] = {}
    for term in sp.Add.make_args(e):
        powers = term.as_powers_dict()
        a, k = powers.get(x, sp.Integer(0)), powers.get(t, sp.Integer(0))
        c = sp.simplify(term / (x**a * t**k))
        if not (a.is_number and k.is_number and c.is_number and c.is_finite) or c.has(x, t):
            return None
        terms[(a, k)] = terms.get((a, k), sp.Integer(0)) + c
    if not terms:
        return None
    (a, k), c = max(terms.items(), key=lambda item: (float(item[0][0]), float(item[0][1])))
    if not c.is_positive or float(a) < 0:
        return None
    return float(a), float(k), float(c)


def _asymptotic(expr: sp.Expr, x: sp.Symbol) -> sp.Expr:
    """``expr`` up to a bounded factor for large ``x``: ceilings dropped, each ``Max`` resolved to
    its eventually largest argument."""
    expr = expr.replace(sp.ceiling, lambda a: a)

    def dominant(*args):
        args = [_asymptotic(a, x) for a in args]
        orders = [_leading_term(a, x) for a in args]
        if all(o is not None for o in orders):  # sums of c x^a (log x)^k: ordered without limits
            return args[max(range(len(args)), key=lambda i: orders[i])]
        for a in args:
            if all(sp.limit(a / b, x, sp.oo) >= 1 for b in args if b is not a):
                return a
        raise ValueError(f"cannot order the arguments of Max{tuple(args)} as {x} -> oo")

    return expr.replace(lambda e: isinstance(e, sp.Max), lambda e: dominant(*e.args))


@functools.lru_cache(maxsize=1024)
def symbolic_growth(expr: sp.Expr, x: sp.Symbol) -> SymbolicGrowth:
    """Growth class of ``expr`` as ``x -> oo`` (other symbols must be substituted first). Cached:
    sympy's limits take up to a second, and the same closed form is classified by several checks."""
    f = _asymptotic(sp.sympify(expr), x)
    if f.free_symbols - {x}:
        raise ValueError(f"{f} has free symbols besides {x}: substitute them first")
    leading = _leading_term(f, x)
    if leading is not None:  # the limits below, read off the leading term c x^a (log x)^k
        a, k, _ = leading
        if a > 0:
            return SymbolicGrowth(str(expr), str(x), a, None, "polynomial")
        return SymbolicGrowth(str(expr), str(x), 0.0, k, "constant" if k == 0 else "polylog")
    d = sp.limit(sp.log(f) / sp.log(x), x, sp.oo)
    if d == 0:
        k = sp.limit(sp.log(f) / sp.log(sp.log(x)), x, sp.oo)
        cls = "constant" if k == 0 else ("polylog" if k.is_finite else "polynomial")
        return SymbolicGrowth(str(expr), str(x), 0.0, float(k) if k.is_finite else float("inf"), cls)
    cls = "polynomial" if d.is_finite else "superpolynomial"
    return SymbolicGrowth(str(expr), str(x), float(d) if d.is_finite else float("inf"), None, cls)


def empirical_growth(xs, ys) -> EmpiricalGrowth:
    """Local log-log slopes and least-squares fits of measured counts ``ys`` at sizes ``xs``."""
    x = np.asarray(xs, dtype=float)
    y = np.asarray(ys, dtype=float)
    if x.size < 3 or np.any(x <= 1) or np.any(y <= 0) or np.any(np.diff(x) <= 0):
        raise ValueError("need at least 3 increasing sizes > 1 and positive counts")
    lx, ly = np.log(x), np.log(y)
    slopes = np.diff(ly) / np.diff(lx)
    llx = np.log(lx)
    k, c = np.polyfit(llx, ly, 1)
    resid = ly - (k * llx + c)
    total = np.sum((ly - ly.mean()) ** 2)
    r2 = 1.0 - float(np.sum(resid**2) / total) if total > 0 else 1.0
    upper = slice(x.size // 2, None)
    p, _ = np.polyfit(lx[upper], ly[upper], 1)
    return EmpiricalGrowth(
        tuple(map(float, x)), tuple(map(float, y)), tuple(map(float, slopes)), float(k), r2, float(p)
    )


def judge_polylog(symbolic: SymbolicGrowth, empirical: EmpiricalGrowth) -> GrowthVerdict:
    """Is the count poly-logarithmic (or constant) in x? The measured counts are the network's own
    resources, so they rule: a measured polynomial growth (:func:`judge_polylog_measured` says
    ``fails``) fails the claim whatever the closed form says -- the closed form then does not
    describe the built network. Otherwise the verdict holds when the closed form's class and the
    measurements both say poly-log, fails when both say polynomial, and is inconclusive when they
    disagree or the grid does not decide."""
    sym_ok = symbolic.growth_class in ("constant", "polylog")
    measured = judge_polylog_measured(empirical)
    desc = "symbolic class %s; %s" % (symbolic.growth_class, measured.reason)
    if measured.verdict == "fails":
        tail = "" if not sym_ok else " (the closed form says %s: it does not describe the built network)" % symbolic.growth_class
        return GrowthVerdict("fails", desc + tail, symbolic, empirical)
    if sym_ok and measured.verdict == "holds":
        return GrowthVerdict("holds", desc, symbolic, empirical)
    if not sym_ok and not _flattens(empirical):
        return GrowthVerdict("fails", desc + ": both say it grows faster than poly-log", symbolic, empirical)
    return GrowthVerdict("inconclusive", desc + ": the closed form and the measurements do not settle it together", symbolic, empirical)


#: the measured rule's grid: at least this many sizes, and ln x_max at least this multiple of ln x_min
DECISIVE_POINTS, DECISIVE_LOG_RATIO = 5, 2.0
#: a late slope at least this fraction of the early one "does not fall"
NOT_FALLING = 0.8


def decisive_grid(empirical: EmpiricalGrowth) -> bool:
    """Long enough to tell poly-log from polynomial growth by the slopes: a count ``(ln x)^k`` has
    local log-log slope ``k / ln x``, which falls by the factor ``ln x_min / ln x_max`` along the grid
    -- at least halves once ``ln x_max >= 2 ln x_min`` (``x_max >= x_min^2``), so between the grid's
    first and last thirds it falls well below ``NOT_FALLING`` -- while ``x^p`` keeps slope ``p``."""
    xs = empirical.xs
    return len(xs) >= DECISIVE_POINTS and math.log(xs[-1]) >= DECISIVE_LOG_RATIO * math.log(xs[0])


def judge_polylog_measured(empirical: EmpiricalGrowth) -> GrowthVerdict:
    """Poly-log from the measurements alone (no closed form). ``holds``: the local log-log slope has
    fallen below ``POLYLOG_SLOPE_MAX``, is no larger than at the start, and ``log y`` is close to
    linear in ``log log x`` (R^2 >= 0.9). ``fails``: on a decisive grid (:func:`decisive_grid`) the
    late slope stays at or above ``POLYLOG_SLOPE_MAX`` and does not fall (late >= ``NOT_FALLING`` x
    early): polynomial growth. Anything else: ``inconclusive``."""
    last, first = empirical.late_slope, empirical.early_slope
    desc = "measured slopes %.3f (early) -> %.3f (late), poly-log fit degree %.2f (R^2 %.3f)" % (
        first, last, empirical.polylog_fit_degree, empirical.polylog_fit_r2)
    if _flattens(empirical) and empirical.polylog_fit_r2 >= 0.9:
        return GrowthVerdict("holds", desc, None, empirical)
    if last >= POLYLOG_SLOPE_MAX and last >= NOT_FALLING * first:
        if decisive_grid(empirical):
            return GrowthVerdict("fails", desc + ": the slope stays above %.1f and does not fall (polynomial)" % POLYLOG_SLOPE_MAX,
                                 None, empirical)
        return GrowthVerdict("inconclusive", desc + ": the slope does not fall, but the grid (%d sizes, %g..%g) is "
                             "too short to decide" % (len(empirical.xs), empirical.xs[0], empirical.xs[-1]), None, empirical)
    return GrowthVerdict("inconclusive", desc, None, empirical)


def _flattens(empirical: EmpiricalGrowth) -> bool:
    """The late slope is below the poly-log threshold and no steeper than the early one."""
    return empirical.late_slope < POLYLOG_SLOPE_MAX and empirical.late_slope <= empirical.early_slope + 1e-12


def growth_class(xs, ys, expr: sp.Expr | None = None, x: sp.Symbol | None = None) -> dict:
    """One resource's growth class from measurements (and a closed form, if there is one):
    ``constant``, ``polylog``, ``polynomial`` (with its degree) or ``unclear`` when the closed
    form and the measurements disagree or the measurements alone do not settle it."""
    if len(set(ys)) == 1:
        return {"class": "constant", "source": "measured (all equal)", "late_slope": 0.0, "early_slope": 0.0}
    emp = empirical_growth(xs, ys)
    row = {"late_slope": round(emp.late_slope, 4), "early_slope": round(emp.early_slope, 4)}
    if expr is not None:
        sym = symbolic_growth(expr, x)
        row["symbolic"] = sym.growth_class
        if sym.growth_class in ("constant", "polylog"):
            agree = _flattens(emp)
        elif sym.growth_class == "polynomial":
            agree = abs(emp.late_slope - sym.poly_degree) <= POLY_SLOPE_RTOL * sym.poly_degree
            row["degree"] = round(sym.poly_degree, 4)
        else:
            agree = emp.late_slope > 1
        return {**row, "class": sym.growth_class if agree else "unclear",
                "source": "closed form and measurements" + ("" if agree else " disagree")}
    verdict = judge_polylog_measured(emp)
    if verdict.verdict == "holds":
        return {**row, "class": "polylog", "source": "measurements"}
    if verdict.verdict == "fails":
        return {**row, "class": "polynomial", "degree": round(emp.late_slope, 2), "source": "measurements"}
    return {**row, "class": "unclear", "source": "measurements"}


def fitted_curve(xs, ys, row: dict) -> list[float]:
    """The curve of a growth class through measured counts (for figures): ``C x^p`` with the
    class's degree, ``C (ln x)^k`` with ``k`` fitted, or the constant; least squares in log space."""
    x, y = np.asarray(xs, dtype=float), np.asarray(ys, dtype=float)
    if row["class"] == "polynomial":
        p = row.get("degree", row.get("late_slope", 1.0))
        c = np.mean(np.log(y) - p * np.log(x))
        return list(map(float, np.exp(c) * x**p))
    if row["class"] == "polylog":
        k, c = np.polyfit(np.log(np.log(x)), np.log(y), 1)
        return list(map(float, np.exp(c) * np.log(x) ** k))
    return [float(np.mean(y))] * len(xs)


def judge_polynomial(symbolic: SymbolicGrowth, empirical: EmpiricalGrowth, degree: float) -> GrowthVerdict:
    """Does the count grow like x^degree?"""
    sym_ok = symbolic.growth_class == "polynomial" and abs(symbolic.poly_degree - degree) < 1e-12
    emp_ok = abs(empirical.late_slope - degree) <= POLY_SLOPE_RTOL * degree
    desc = "symbolic degree %s, late measured slope %.3f (claimed %s)" % (symbolic.poly_degree, empirical.late_slope, degree)
    if sym_ok and emp_ok:
        return GrowthVerdict("holds", desc, symbolic, empirical)
    if not sym_ok and not emp_ok:
        return GrowthVerdict("fails", desc, symbolic, empirical)
    return GrowthVerdict("inconclusive", desc + ": symbolic and measured disagree", symbolic, empirical)
