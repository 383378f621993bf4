"""Statistics for evidence (no extra dependency): exact binomial confidence bounds for Monte Carlo
counts, Student-t intervals of means over seeds, and log-log slopes of learning curves with
Student-t intervals.

**Slope verdicts** (:func:`slope_verdict`): a claimed rate ``n^(-r)`` is an *upper bound* on an
error, so a measured slope *steeper* than ``-r`` is consistent with it. ``holds`` when the 95%
interval reaches ``-r`` or lies below it; ``fails`` when the whole interval lies above ``-r`` and is
narrower than ``max_width``; ``inconclusive`` when it is wider.
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


def fit_slope(xs, ys) -> SlopeFit:
    """Least squares ``y = slope x + c`` over paired points, with a 95% Student-t interval for the
    slope (needs three points at two distinct x at least)."""
    xs, ys = [float(x) for x in xs], [float(y) for y in ys]
    k = len(xs)
    if k < 3 or len(set(xs)) < 2:
        raise ValueError("a slope interval needs at least three points at two distinct x")
    mx, my = sum(xs) / k, sum(ys) / k
    sxx = sum((x - mx) ** 2 for x in xs)
    slope = sum((x - mx) * (y - my) for x, y in zip(xs, ys)) / sxx
    resid = [y - (my + slope * (x - mx)) for x, y in zip(xs, ys)]
    se = math.sqrt(sum(r * r for r in resid) / (k - 2) / sxx)
    half = t_quantile(k - 2) * se
    return SlopeFit(slope, slope - half, slope + half, k)


def fit_log_slope(sizes, values) -> SlopeFit:
    """:func:`fit_slope` of ``log value`` against ``log size``: the log-log slope of a learning curve
    (values must be positive)."""
    try:
        return fit_slope([math.log(n) for n in sizes], [math.log(v) for v in values])
    except ValueError:
        raise ValueError("a slope interval needs at least three points at two sample sizes") from None


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
