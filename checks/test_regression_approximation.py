"""Approximation of piecewise gamma-smooth targets (claim ``regression.approximation``;
:mod:`constructions.regression.approximation`).

The approximant is the built extraction network on quantized tokens followed by the level-``T``
truncation of the smooth part. Measured per ``T``: the root-mean-square error on fresh windows
(with its standard error), the extraction network's parameters (from its tensors) and the number
of coefficients kept. The claim holds when every error is below ``2^(-T) (||f||_gamma + 1/2)`` (the
truncation budget plus the quantization budget), the fitted error slope in ``T`` is at most
``-0.8`` (``-1`` claimed), the network grows polynomially in ``T`` (its log-log degree at most 2)
and the coefficients as ``2^(T / a_dagger)`` (the exact count). Control: an approximant that takes
the *last* J tokens instead of the most important ones does not approximate.
"""

from __future__ import annotations

import math

import numpy as np
import pytest
import torch

from constructions.regression.approximation import (
    ApproximationSetup,
    approximation_curve,
    fitted_slopes,
    sample_continuous_windows,
)
from constructions.regression.rates import coefficient_count
from constructions.regression.smooth_functions import Smoothness

#: per profile: levels T and Monte Carlo windows
GRID = {
    "tiny": dict(levels=(2, 3, 4, 5), samples=128),
    "quick": dict(levels=(2, 3, 4, 5, 6, 7), samples=384),
    "thorough": dict(levels=(2, 3, 4, 5, 6, 7, 8, 9, 10), samples=2048),
}

SETUPS = {
    "anisotropic": Smoothness("anisotropic", (2.0, 2.0)),  # a_dagger = 1
    "mixed": Smoothness("mixed", (1.0, 2.0)),  # a_dagger = 1
}


@pytest.mark.claim("regression.approximation")
@pytest.mark.parametrize("kind", sorted(SETUPS))
def test_error_falls_like_two_to_minus_t_at_size_poly_t_two_to_t_over_a_dagger(kind, sizes, evidence):
    grid = GRID[sizes.name]
    setup = ApproximationSetup(SETUPS[kind], samples=grid["samples"], function_level=grid["levels"][-1] + 4)
    rows = approximation_curve(setup, grid["levels"])
    slopes = fitted_slopes(rows)
    for row in rows:
        # the Monte Carlo estimate may exceed the true error by its noise: 3 standard errors
        assert row["rmse"] - 3 * row["rmse_stderr"] <= row["bound"], row
        assert row["coefficients"] == coefficient_count(setup.smoothness.kind, setup.smoothness.a, row["T"])
    assert slopes["error_slope"] <= -0.8, slopes
    T = np.array([r["T"] for r in rows])
    params = np.array([r["extraction_parameters"] for r in rows], dtype=float)
    degree = float(np.polyfit(np.log2(T), np.log2(params), 1)[0])
    assert degree <= 2.0, degree
    evidence.record(**{f"{kind}_curve": {"rows": [{k: r[k] for k in ("T", "rmse", "bound", "extraction_parameters",
                                                                        "coefficients", "float64")} for r in rows],
                                         "error_slope": slopes["error_slope"], "network_degree_in_T": degree,
                                         "a_dagger": setup.smoothness.effective}},
                    **{f"figure:approximation-{kind}": {
                        "name": f"approximation-{kind}", "title": f"Approximation error against T ({kind})",
                        "xlabel": "T", "ylabel": "RMSE", "yscale": "log",
                        "series": [{"label": "measured RMSE", "x": [r["T"] for r in rows], "y": [r["rmse"] for r in rows]},
                                   {"label": "2^-T (norm + 1/2)", "x": [r["T"] for r in rows],
                                    "y": [r["bound"] for r in rows], "style": "--"}]}})


@pytest.mark.claim("regression.approximation", role="control")
def test_taking_the_last_tokens_instead_of_the_most_important_does_not_approximate(evidence):
    setup = ApproximationSetup(SETUPS["anisotropic"], samples=256)
    target = setup.target()
    win = sample_continuous_windows(setup, setup.samples, torch.Generator().manual_seed(5))
    last = win[:, -setup.top:, 1:].flip(1).reshape(win.shape[0], -1)  # by position, not importance
    rmse = float((target.of_windows(win) - target.smooth.truncate(6.0)(last)).pow(2).mean().sqrt())
    assert rmse > 2.0 ** -6 * (target.smooth.norm() + 0.5)
    evidence.record(position_based_rmse_at_T6=rmse)
