"""The estimation experiment's judges (``training/regression_estimation.py``) on synthetic learning
curves: which sizes are fitted, the two-sided rate and equality verdicts, the budget, and a tiny
end-to-end run. Tests of the judge, not controls of ``regression.estimation-slope`` (those break
the trained estimator: ``checks/test_regression_estimation.py``)."""

from __future__ import annotations

import pytest

from training.regression_estimation import (
    BEATS_CONSTANT,
    CONVERGED,
    EstimationPoint,
    EstimationSetup,
    converged,
    equality_verdict,
    figure_specs,
    fit_slope,
    fitted_sizes,
    last_quarter_change,
    learned,
    rate_verdict,
    run_estimation,
    summary,
)

SIZES = (512, 1024, 2048, 4096)
CONSTANT = 0.14


def _curve(risk: float, change: float = 0.0) -> list:
    """Eight records; the risk fell by ``change`` (relative to its value at 3/4) over the last quarter."""
    return [[100 * i, None, risk / (1 - change) if i <= 6 else risk] for i in range(1, 9)]


def _points(slope: float, noise: float = 0.0, model: str = "m", sizes=SIZES, seeds=(0, 1, 2), level: float = 0.05):
    """Risks ``level (n / 512)^slope``, alternately scaled by ``1 +- noise`` over sizes and seeds."""
    return [EstimationPoint(model, n, s, level * (n / 512) ** slope * (1 + noise * (-1) ** (i + s)), 1, 0.0,
                            _curve(level * (n / 512) ** slope), CONSTANT)
            for i, n in enumerate(sizes) for s in seeds]


def test_learned_and_converged_criteria():
    p = EstimationPoint("m", 512, 0, BEATS_CONSTANT * CONSTANT, 1, 0.0, _curve(0.07, CONVERGED), CONSTANT)
    assert learned(p) and converged(p) and last_quarter_change(p) == pytest.approx(CONVERGED)
    above = EstimationPoint("m", 512, 0, 0.08, 1, 0.0, _curve(0.08), CONSTANT)
    moving = EstimationPoint("m", 512, 0, 0.03, 1, 0.0, _curve(0.03, 0.10), CONSTANT)
    assert not learned(above) and not converged(moving)
    with pytest.raises(ValueError, match="two held-out records"):
        last_quarter_change(EstimationPoint("m", 512, 0, 0.03, 1, 0.0, [[100, 0.1, 0.03]], CONSTANT))


def test_a_size_is_fitted_only_when_every_seed_learned_and_converged():
    points = _points(-0.8)
    points[0].excess_risk = 0.9 * CONSTANT  # n = 512, seed 0: not learned
    points[4].curve = _curve(points[4].excess_risk, 0.2)  # n = 1024, seed 1: still falling 20%
    assert fitted_sizes(points) == [2048, 4096]
    verdict = rate_verdict(points, 2 / 3)
    assert verdict["verdict"] == "inconclusive" and "not learned" in verdict["reason"] and "[1024]" in verdict["reason"]


def test_rate_verdict_holds_fails_and_is_inconclusive():
    assert rate_verdict(_points(-2 / 3, 0.05), 2 / 3)["verdict"] == "holds"
    assert rate_verdict(_points(-1.0, 0.05), 2 / 3)["verdict"] == "holds"  # faster: consistent with a bound
    slow = rate_verdict(_points(-0.15, 0.05), 2 / 3)
    assert slow["verdict"] == "fails" and slow["interval"][0] > -2 / 3 + slow["delta"]
    assert rate_verdict(_points(-0.4, 0.9), 2 / 3)["verdict"] == "inconclusive"  # noise: the interval reaches across
    # the rate with a poly-log allowance: -r + delta is not a failure
    assert rate_verdict(_points(-2 / 3 + 0.25, 0.01), 2 / 3)["verdict"] == "holds"


def test_equality_verdict_pairs_the_two_models_by_size_and_seed():
    # same slope, different levels and a common seed effect: the paired difference is exact
    a, b = _points(-0.8, 0.3, "a"), _points(-0.8, 0.3, "b", level=0.03)
    same = equality_verdict(a, b)
    assert same["verdict"] == "holds" and abs(same["difference"]) < 1e-9
    apart = equality_verdict(_points(-0.2, 0.02, "a"), _points(-1.0, 0.02, "b"))
    assert apart["verdict"] == "fails" and apart["difference"] == pytest.approx(0.8, abs=0.05)
    noisy = equality_verdict(_points(-0.8, 0.5, "a"), _points(-0.6, 0.0, "b"))
    assert noisy["verdict"] == "inconclusive"
    few = equality_verdict(_points(-0.8, model="a"), _points(-0.8, model="b", sizes=(512, 1024)))
    assert few["verdict"] == "inconclusive" and few["fitted_sizes"] == [512, 1024]


def test_fit_slope_recovers_an_exact_power_law():
    fit = fit_slope(_points(-0.5))
    assert abs(fit.slope + 0.5) < 1e-12 and fit.width < 1e-9
    with pytest.raises(ValueError, match="three points"):
        fit_slope(_points(-0.5)[:2])


def test_budget_in_passes_over_the_sample():
    setup = EstimationSetup(sample_sizes=(512, 2048), steps=600, epochs=150, batch_size=256)
    assert [setup.steps_at(n) for n in (256, 512, 1024, 2048, 4096)] == [600, 600, 600, 1200, 2400]
    assert EstimationSetup(sample_sizes=(512, 2048), steps=400).steps_at(8192) == 400
    assert EstimationSetup(sample_sizes=(8, 16), seeds=(0, 1), target_per_seed=True).target_of(1) == 1
    with pytest.raises(ValueError, match="repeat"):
        EstimationSetup(sample_sizes=(512, 512))
    with pytest.raises(ValueError, match="epochs"):
        EstimationSetup(sample_sizes=(512, 1024), epochs=0)


def test_a_tiny_run_gives_a_summary_and_figures():
    setup = EstimationSetup(sample_sizes=(8, 16), seeds=(0, 1), steps=3, test_samples=32, width=4, state_size=2,
                            fnn_hidden=4, target_per_seed=True)
    points = run_estimation(setup, models=("ssm_fnn",))
    assert [(p.n, p.seed, p.target_seed, p.steps) for p in points] == [(8, 0, 0, 3), (16, 0, 0, 3), (8, 1, 1, 3),
                                                                     (16, 1, 1, 3)]
    assert points[0].constant_risk != points[2].constant_risk  # each seed its own target
    result = summary(setup, points)
    assert result["models"]["ssm_fnn"]["verdict"] == "inconclusive"
    specs = figure_specs(setup, points, result)
    assert all(len(s["x"]) == len(s["y"]) for spec in specs.values() for s in spec["series"])
