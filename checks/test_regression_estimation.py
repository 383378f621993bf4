"""The estimation experiment (claim ``regression.estimation-slope``; :mod:`training.regression_estimation`).

An SSM+FNN and a Transformer of matched size are trained on the same ``n`` noisy samples of a
piecewise gamma-smooth target for several ``n`` and seeds; the excess risk is measured on fresh
noiseless windows. Only the sizes where a model has learned (risk at most half the constant
predictor's, every seed) and converged (risk moved by at most 5% over the last quarter of the
steps, every seed) are fitted, at least three of them. Three checks, each two-sided
(``training.regression_estimation``):

* per model, the 95% interval of the log-log slope against ``-2a/(2a+1) + delta``, ``delta`` the
  slope a ``(log n)^2`` factor adds over the fitted range: at or below holds, wholly above fails,
  across inconclusive;
* the two slopes' difference, paired by sample set (the slope of ``log(risk_SSM / risk_TF)``),
  within ``+-delta``: the claim is that the two rates are equal.

Quick scale: window 3, 4 importance levels, n = 512, 1024, 2048, 2 seeds, AdamW with batch 256 and
lr 1e-2 for 150 passes over the sample and at least 600 steps (600, 600, 1200 steps), one CPU
thread. That is where both networks learn: the excess risk falls from the constant predictor's 0.14
to about 0.015 at n = 2048. Below n = 512 they sit at 0.56-1.24 of the constant predictor's risk (not
learned; the grid starts at 512 so that no training time is spent there); with 600 steps at
n = 2048 (the setup before) they were still improving (risk down 4-17% in the last quarter), with
300 steps at n = 512 (150 passes) they stopped short of the 600-step risk. What the curve shows is
the rate of networks trained for a fixed number of passes in the range where they learn, so a slope
steeper than the claimed one is no surprise; ``regression.estimation-sieve`` measures the theory's
own estimator.

Each model's runs are cached per process (``_RUNS``); the module is one xdist group, so the
equality check and the controls reuse the models the slope checks trained.
"""

from __future__ import annotations

import dataclasses

import pytest

from training.regression_estimation import (
    EstimationSetup,
    build,
    equality_verdict,
    figure_specs,
    fitted_sizes,
    held_out_windows,
    rate_verdict,
    run_estimation,
    summary,
)
from training.trainer import evaluate, set_seed

MODELS = ("ssm_fnn", "transformer")

SETUPS = {
    "tiny": EstimationSetup(sample_sizes=(32, 64, 128), seeds=(0, 1), steps=60, test_samples=256),
    # CPU trials (2026-12-01, constant predictor 0.142): SSM+FNN 0.043-0.047 (n = 512), 0.025-0.031 (1024),
    # 0.013-0.016 (2048), slope -0.82 [-1.06, -0.58]; Transformer 0.049-0.060, 0.028-0.034, 0.009-0.012, slope
    # -1.18 [-1.71, -0.65]; slope difference +0.36 [+0.03, +0.69] against +-0.29 (inconclusive). A third seed
    # costs 50 s of one core more (151 s for both models; its Transformer learns early at n = 512 and widens its
    # slope interval to [-1.60, -0.29]); two seeds cost about 100 s, as the 600-steps-at-n = 128..2048 setup before
    "quick": EstimationSetup(sample_sizes=(512, 1024, 2048), seeds=(0, 1), steps=600, epochs=150,
                             batch_size=256, lr=1e-2, window=3, levels=4, test_samples=1024),
    # meant for a GPU; with 3000 steps at every n run on 2 CPU cores on 2026-11-23 (14.5 min with
    # regression.approximation): SSM+FNN 0.069 -> 0.0036, slope -0.878 [-0.929, -0.826]; Transformer
    # 0.094 -> 0.0038, -0.949 [-1.07, -0.83]. Each seed now has its own target function (not yet run).
    "thorough": EstimationSetup(sample_sizes=(256, 512, 1024, 2048, 4096, 8192), seeds=(0, 1, 2), steps=3000,
                                batch_size=128, lr=5e-3, window=3, levels=4, width=32, fnn_hidden=64,
                                target_per_seed=True),
}

#: trained points by (profile, model), reused by the tests of one process (training is deterministic)
_RUNS: dict = {}

pytestmark = [pytest.mark.xdist_group("estimation"), pytest.mark.usefixtures("training_sandbox")]


def _points(sizes, model: str):
    key = (sizes.row, model)
    if key not in _RUNS:
        _RUNS[key] = run_estimation(SETUPS[sizes.row], models=(model,))
    return _RUNS[key]


def _decide(evidence, verdict: dict) -> None:
    if verdict["verdict"] == "inconclusive":
        evidence.inconclusive(verdict["reason"])
    assert verdict["verdict"] == "holds", verdict["reason"]


@pytest.mark.trains(order=3)
@pytest.mark.claim("regression.estimation-slope")
@pytest.mark.parametrize("model", MODELS)
def test_excess_risk_slope_against_n(model, sizes, evidence):
    setup = SETUPS[sizes.row]
    points = _points(sizes, model)
    result = summary(setup, points)
    evidence.record(estimation=result, **figure_specs(setup, points, result))
    _decide(evidence, result["models"][model])


@pytest.mark.trains(order=3)
@pytest.mark.claim("regression.estimation-slope")
def test_ssm_fnn_and_transformer_slopes_are_equal(sizes, evidence):
    """The claim is an equality of rates: the paired difference of the two slopes within +-delta."""
    verdict = equality_verdict(_points(sizes, "ssm_fnn"), _points(sizes, "transformer"))
    evidence.record(slope_difference=verdict)
    _decide(evidence, verdict)


# ----------------------------------------------------------------------------- controls
@pytest.mark.claim("regression.estimation-slope", role="control",
                   breaks="the SSM+FNN estimator's use of its sample: it trains on the first n0 samples whatever n")
def test_an_estimator_that_ignores_all_but_its_first_samples_does_not_attain_the_rate(sizes, evidence):
    """The trained SSM+FNN made blind to the sample size: at every n >= n0 (n0 the smallest size it
    is fitted at, else the smallest size) it is the model trained on n0 samples -- the same
    distribution as the first n0 of any larger sample, so nothing is retrained. Its risk cannot
    fall with n; neither the rate nor the equality with the Transformer may hold."""
    setup = SETUPS[sizes.row]
    ssm = _points(sizes, "ssm_fnn")
    n0 = min(fitted_sizes(ssm) or setup.sample_sizes)
    starved = [dataclasses.replace(p, n=n) for n in setup.sample_sizes if n >= n0 for p in ssm if p.n == n0]
    rate = rate_verdict(starved, setup.exponent)
    equal = equality_verdict(starved, _points(sizes, "transformer"))
    evidence.record(n0=n0, starved_rate=rate, starved_slope_difference=equal)
    assert rate["verdict"] != "holds", rate["reason"]
    assert equal["verdict"] != "holds", equal["reason"]


@pytest.mark.claim("regression.estimation-slope", role="control",
                   breaks="the SSM+FNN estimator's training: the network at its initialisation, every parameter frozen")
def test_an_untrained_network_is_not_fitted_and_does_not_attain_the_rate(sizes, evidence):
    """The SSM+FNN of every seed with its trained parts frozen at initialisation (no step taken):
    the same function at every n, far from the target; the check must not find the rate. Costs one
    evaluation per seed (no training)."""
    setup = SETUPS[sizes.row]
    frozen = []
    for p in _points(sizes, "ssm_fnn"):
        set_seed(p.seed)
        x, y = held_out_windows(setup, p.seed)
        risk = evaluate(build(setup, "ssm_fnn"), (x, y.unsqueeze(-1)), loss="mse", positions="last")
        frozen.append(dataclasses.replace(p, excess_risk=risk, curve=[[0, None, risk], [1, None, risk]]))
    rate = rate_verdict(frozen, setup.exponent)
    evidence.record(untrained_rate=rate, untrained_risks={p.seed: p.excess_risk for p in frozen if p.n == frozen[0].n})
    assert rate["verdict"] != "holds", rate["reason"]
