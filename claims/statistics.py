"""Statistics for evidence (no extra dependency): exact binomial confidence bounds for Monte Carlo
counts, Student-t intervals of means over seeds, log-log slopes of learning curves with Student-t
intervals, and the two-sided verdicts the experiments draw from such intervals.

**Two-sided verdicts.** A claim about a measured quantity is decided from its 95% interval
``[low, high]``, never from its mean alone, and each of ``holds`` / ``fails`` / ``inconclusive`` is
reachable:

* :func:`side_verdict`, "the quantity is at least (at most) ``threshold``": ``holds`` when the whole
  interval lies on the claimed side (the threshold included), ``fails`` when it lies wholly on the
  other side, ``inconclusive`` when it reaches across the threshold;
* :func:`margin_verdict`, "the quantity is within ``+-margin`` of 0" (two things are about equal):
  ``holds`` when the interval lies inside ``[-margin, margin]``, ``fails`` when it lies wholly
  outside, ``inconclusive`` otherwise;
* :func:`rate_bound_verdict`, a claimed *upper-bound* rate ``n^(-r)`` up to poly-log factors:
  :func:`side_verdict` of the log-log slope against ``-r + delta`` ("at most"), ``delta`` the
  slope a poly-log factor adds over the fitted range (:func:`polylog_slope`).

:func:`slope_verdict` is the older one-sided rule (``holds`` when the interval *reaches* ``-r``),
kept for ``regression.estimation-sieve`` only.
"""

from __future__ import annotations

import math
import statistics
from dataclasses import dataclass


def binomial_cdf(k: int, n: int, p: float) -> float:
    """P(X <= k) for X ~ Binomial(n, p), summed in log space."""
    if p <= 0.0:
        return 1.0
    if p >= 1.0:
        return 1.0 if k >= n else 0.0
    logs = [math.lgamma(n + 1) - math.lgamma(i + 1) - math.lgamma(n - i + 1) + i * math.log(p) + (n - i) * math.log1p(-p)
            for i in range(0, k + 1)]
    top = max(logs)
    return min(1.0, math.exp(top) * sum(math.exp(v - top) for v in logs))


def clopper_pearson_upper(k: int, n: int, confidence: float = 0.95) -> float:
    """One-sided exact (Clopper-Pearson) upper bound for a binomial proportion: the largest p with
    P(X <= k | p) >= 1 - confidence, found by bisection."""
    if not 0 <= k <= n or n == 0:
        raise ValueError(f"need 0 <= k <= n and n > 0, got k={k}, n={n}")
    if k == n:
        return 1.0
    lo, hi, alpha = k / n, 1.0, 1.0 - confidence
    for _ in range(100):
        mid = (lo + hi) / 2
        if binomial_cdf(k, n, mid) > alpha:
            lo = mid
        else:
            hi = mid
    return hi


#: two-sided 97.5% quantiles of Student's t for 1..30 degrees of freedom (then the normal 1.96)
T_975 = (12.706, 4.303, 3.182, 2.776, 2.571, 2.447, 2.365, 2.306, 2.262, 2.228, 2.201, 2.179, 2.160, 2.145,
         2.131, 2.120, 2.110, 2.101, 2.093, 2.086, 2.080, 2.074, 2.069, 2.064, 2.060, 2.056, 2.052, 2.048,
         2.045, 2.042)


def t_quantile(dof: int) -> float:
    """The two-sided 95% quantile of Student's t with ``dof`` degrees of freedom."""
    if dof < 1:
        raise ValueError(f"a confidence interval needs at least one degree of freedom, got {dof}")
    return T_975[dof - 1] if dof <= len(T_975) else 1.96


@dataclass(frozen=True)
class Interval:
    """Mean of ``count`` values with a two-sided Student-t 95% interval ``[low, high]``."""

    mean: float
    low: float
    high: float
    count: int

    def __str__(self) -> str:
        return f"{self.mean:+.3f} [{self.low:+.3f}, {self.high:+.3f}] (n={self.count})"


def mean_interval(values: list[float]) -> Interval:
    """Student-t 95% interval of the mean; needs two values (raises ValueError otherwise)."""
    if len(values) < 2:
        raise ValueError(f"a t-interval needs at least two values, got {len(values)}")
    mean = statistics.fmean(values)
    half = t_quantile(len(values) - 1) * statistics.stdev(values) / math.sqrt(len(values))
    return Interval(mean, mean - half, mean + half, len(values))


@dataclass(frozen=True)
class SlopeFit:
    slope: float
    low: float
    high: float
    points: int

    @property
    def width(self) -> float:
        return self.high - self.low


def fit_slope(xs, ys, groups=None) -> SlopeFit:
    """Least squares ``y = slope x + c`` over paired points, with a 95% Student-t interval for the
    slope.

    ``groups`` (one label per point, e.g. the seed): each group gets its own intercept ``c_g`` and
    the slope is fitted to the variation *within* the groups (a paired design: a seed's offset,
    whether from its initialisation or its target function, does not widen the interval);
    ``k - 1 - groups`` residual degrees of freedom. Without it one intercept, ``k - 2``."""
    xs, ys = [float(x) for x in xs], [float(y) for y in ys]
    labels = [0] * len(xs) if groups is None else list(groups)
    if len(labels) != len(xs) or len(ys) != len(xs):
        raise ValueError(f"x, y and groups must have one entry per point, got {len(xs)}, {len(ys)}, {len(labels)}")
    members: dict = {}
    for i, g in enumerate(labels):
        members.setdefault(g, []).append(i)
    dof = len(xs) - 1 - len(members)
    if dof < 1 or len(set(xs)) < 2:
        raise ValueError(f"a slope interval needs at least three points at two distinct x (and one more point "
                         f"per extra group), got {len(xs)} points in {len(members)} group(s)")
    dx, dy = [0.0] * len(xs), [0.0] * len(xs)
    for idx in members.values():
        mx, my = sum(xs[i] for i in idx) / len(idx), sum(ys[i] for i in idx) / len(idx)
        for i in idx:
            dx[i], dy[i] = xs[i] - mx, ys[i] - my
    sxx = sum(x * x for x in dx)
    if sxx == 0:
        raise ValueError("a slope needs two distinct x within some group")
    slope = sum(x * y for x, y in zip(dx, dy)) / sxx
    resid = [y - slope * x for x, y in zip(dx, dy)]
    se = math.sqrt(sum(r * r for r in resid) / dof / sxx)
    half = t_quantile(dof) * se
    return SlopeFit(slope, slope - half, slope + half, len(xs))


def fit_log_slope(sizes, values, groups=None) -> SlopeFit:
    """:func:`fit_slope` of ``log value`` against ``log size``: the log-log slope of a learning curve
    (values must be positive)."""
    return fit_slope([math.log(n) for n in sizes], [math.log(v) for v in values], groups)


def mean_by_size(sizes, values) -> tuple[list, list[float]]:
    """The distinct sizes, sorted, and the mean of the values at each (a learning curve over seeds)."""
    groups: dict = {}
    for n, v in zip(sizes, values):
        groups.setdefault(n, []).append(v)
    ns = sorted(groups)
    return ns, [sum(groups[n]) / len(groups[n]) for n in ns]


def power_line(sizes, values, slope: float) -> list[float]:
    """``c size^slope`` at every size, with ``c`` putting the line through the geometric centre of the
    points: a fitted slope drawn beside the points it was fitted to."""
    centre = math.exp(sum(math.log(v) for v in values) / len(values))
    mid = math.exp(sum(math.log(n) for n in sizes) / len(sizes))
    return [centre * (n / mid) ** slope for n in sizes]


def slope_verdict(fit: SlopeFit, exponent: float, max_width: float = 0.6) -> tuple[str, str]:
    """``(verdict, reason)`` for a claimed upper-bound rate ``n^-exponent`` (module docstring)."""
    text = f"slope {fit.slope:.3f}, 95% interval [{fit.low:.3f}, {fit.high:.3f}] vs claimed -{exponent:.3f}"
    if fit.width > max_width:
        return "inconclusive", f"{text}: interval wider than {max_width}"
    if fit.low <= -exponent:
        return "holds", text
    return "fails", f"{text}: slower than the claimed rate over the whole interval"


VERDICT_SIDES = ("above", "below")


def side_verdict(low: float, high: float, threshold: float, side: str) -> str:
    """``holds`` / ``fails`` / ``inconclusive`` for "the quantity is at least ``threshold``"
    (``side="above"``) or "at most ``threshold``" (``side="below"``), from its 95% interval
    ``[low, high]`` (module docstring)."""
    if side not in VERDICT_SIDES:
        raise ValueError(f"side must be one of {VERDICT_SIDES}, got {side!r}")
    if not low <= high:
        raise ValueError(f"an interval needs low <= high, got [{low}, {high}]")
    ok, wrong = (low >= threshold, high < threshold) if side == "above" else (high <= threshold, low > threshold)
    return "holds" if ok else "fails" if wrong else "inconclusive"


def margin_verdict(low: float, high: float, margin: float) -> str:
    """``holds`` / ``fails`` / ``inconclusive`` for "``|quantity| <= margin``" from its 95% interval
    ``[low, high]``: inside ``[-margin, margin]`` holds, wholly outside fails (module docstring)."""
    if not margin > 0:
        raise ValueError(f"an equality margin must be positive, got {margin!r}")
    if not low <= high:
        raise ValueError(f"an interval needs low <= high, got [{low}, {high}]")
    if -margin <= low and high <= margin:
        return "holds"
    return "fails" if high < -margin or low > margin else "inconclusive"


def polylog_slope(sizes, power: float) -> float:
    """The log-log slope a factor ``(log n)^power`` adds between the smallest and the largest size:
    ``power (ln ln n_max - ln ln n_min) / (ln n_max - ln n_min)`` (the chord of ``power ln ln n``
    against ``ln n``). A bound ``C n^-r (log n)^power`` has this chord slope plus ``-r`` over the
    range: how far a finite-range slope may lie above ``-r`` while the rate still holds."""
    lo, hi = min(sizes), max(sizes)
    if not (lo > math.e and hi > lo):
        raise ValueError(f"need sizes above e spanning a range, got {sorted(set(sizes))}")
    return power * (math.log(math.log(hi)) - math.log(math.log(lo))) / (math.log(hi) - math.log(lo))


def rate_bound_verdict(fit: SlopeFit, exponent: float, delta: float) -> tuple[str, str]:
    """``(verdict, reason)`` for an upper-bound rate ``n^-exponent`` up to poly-log factors: the
    slope's interval against ``-exponent + delta`` (:func:`side_verdict`, "at most"). A slope steeper
    than the bound is consistent with it; ``delta`` (>= 0) is the poly-log allowance."""
    if not delta >= 0:
        raise ValueError(f"the poly-log allowance delta must be >= 0, got {delta!r}")
    bound = -exponent + delta
    verdict = side_verdict(fit.low, fit.high, bound, "below")
    text = (f"slope {fit.slope:.3f}, 95% interval [{fit.low:.3f}, {fit.high:.3f}] ({fit.points} points) vs the "
            f"claimed -{exponent:.3f} + delta {delta:.3f} = {bound:.3f}")
    why = {"holds": "the whole interval lies at or below it",
           "fails": "the whole interval lies above it: slower than the rate even with its poly-log allowance",
           "inconclusive": "the interval reaches across it"}[verdict]
    return verdict, f"{text}: {why}"
