"""The judges of the experiments (``claims/statistics.py``): two-sided verdicts from intervals,
slopes with per-group intercepts, and the poly-log allowance. Tests of the judge on synthetic
numbers, not controls of any claim."""

from __future__ import annotations

import math

import pytest

from claims.statistics import (
    SlopeFit,
    fit_log_slope,
    margin_verdict,
    polylog_slope,
    rate_bound_verdict,
    side_verdict,
)


@pytest.mark.parametrize("low, high, side, expected", [
    (0.06, 0.20, "above", "holds"), (0.05, 0.20, "above", "holds"),  # the threshold counts as reached
    (0.01, 0.04, "above", "fails"), (0.02, 0.08, "above", "inconclusive"),
    (0.01, 0.05, "below", "holds"), (0.06, 0.20, "below", "fails"), (0.02, 0.08, "below", "inconclusive"),
])
def test_side_verdict_is_decided_by_the_whole_interval(low, high, side, expected):
    assert side_verdict(low, high, 0.05, side) == expected


@pytest.mark.parametrize("low, high, expected", [
    (-0.05, 0.08, "holds"), (-0.10, 0.10, "holds"),
    (-0.30, -0.11, "fails"), (0.11, 0.40, "fails"),  # clearly worse or clearly better: not "about equal"
    (-0.15, 0.0, "inconclusive"), (0.05, 0.15, "inconclusive"), (-0.2, 0.2, "inconclusive"),
])
def test_margin_verdict_is_two_sided(low, high, expected):
    assert margin_verdict(low, high, 0.10) == expected


def test_verdicts_refuse_bad_intervals_and_margins():
    with pytest.raises(ValueError, match="side"):
        side_verdict(0.0, 1.0, 0.5, "between")
    with pytest.raises(ValueError, match="low <= high"):
        side_verdict(1.0, 0.0, 0.5, "above")
    with pytest.raises(ValueError, match="positive"):
        margin_verdict(-0.1, 0.1, 0.0)
    with pytest.raises(ValueError, match="delta"):
        rate_bound_verdict(SlopeFit(-1.0, -1.1, -0.9, 6), 2 / 3, -0.1)


def test_polylog_slope_is_the_chord_of_power_log_log_n():
    assert polylog_slope([512, 1024, 2048], 2) == pytest.approx(2 * math.log(math.log(2048) / math.log(512)) / math.log(4))
    assert polylog_slope([512, 2048], 2) == pytest.approx(0.2895, abs=1e-4)
    # a (log n)^k factor seen through a least-squares fit of exact points lies close to the chord
    ns = [512, 1024, 2048]
    fit = fit_log_slope(ns, [n ** (-2 / 3) * math.log(n) ** 2 for n in ns])
    assert fit.slope == pytest.approx(-2 / 3 + polylog_slope(ns, 2), abs=0.01)
    with pytest.raises(ValueError, match="range"):
        polylog_slope([512], 1)


def test_rate_bound_verdict_on_the_cases_of_issue_14():
    delta = polylog_slope([512, 2048], 2)
    # a slope of -0.40 with interval [-0.69, -0.11] against -0.667: consistent with both sides, so not holds
    assert rate_bound_verdict(SlopeFit(-0.40, -0.69, -0.11, 10), 2 / 3, delta)[0] == "inconclusive"
    assert rate_bound_verdict(SlopeFit(-0.40, -0.69, -0.11, 10), 2 / 3, 0.0)[0] == "inconclusive"
    assert rate_bound_verdict(SlopeFit(-0.84, -0.97, -0.71, 9), 2 / 3, delta)[0] == "holds"
    assert rate_bound_verdict(SlopeFit(-1.5, -1.7, -1.3, 9), 2 / 3, delta)[0] == "holds"  # faster than a bound
    verdict, reason = rate_bound_verdict(SlopeFit(-0.15, -0.30, 0.0, 9), 2 / 3, delta)
    assert verdict == "fails" and "slower" in reason
    # at the poly-log allowance's edge: the bound -r + delta itself counts as holding
    bound = -2 / 3 + delta
    assert rate_bound_verdict(SlopeFit(bound - 0.1, bound - 0.2, bound, 9), 2 / 3, delta)[0] == "holds"


def test_fit_with_group_intercepts_removes_the_groups_offsets():
    ns = [512, 1024, 2048]
    values = [c * n ** -0.8 for c in (1.0, 3.0) for n in ns]  # two seeds, the same slope, different levels
    groups = [s for s in (0, 1) for _ in ns]
    paired = fit_log_slope(ns * 2, values, groups)
    assert paired.slope == pytest.approx(-0.8) and paired.width < 1e-9
    pooled = fit_log_slope(ns * 2, values)
    assert pooled.slope == pytest.approx(-0.8) and pooled.width > 0.5  # the offset is noise to one intercept
    with pytest.raises(ValueError, match="one entry per point"):
        fit_log_slope(ns, values[:3], [0, 1])
    with pytest.raises(ValueError, match="three points"):
        fit_log_slope([512, 1024], [1.0, 0.5], [0, 0])
