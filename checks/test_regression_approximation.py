"""Approximation of piecewise gamma-smooth targets (claim ``regression.approximation``;
:mod:`constructions.regression.approximation`).

The approximant is the built extraction network on quantized tokens followed by the built ReLU
network of the level-``T`` truncation ``f_T`` of the smooth part (:mod:`constructions.regression.smooth_relu`).
Measured per ``T``: the root-mean-square error on fresh windows (with its standard error), the
extraction network's parameters and the smooth network's nonzeros (from their tensors) and the
number of coefficients kept. The claim holds when every error is below ``2^(-T) (||f||_gamma + 1/2)``
(the truncation budget plus the quantization budget), the fitted error slope in ``T`` is at most
``-0.8`` (``-1`` claimed), the coefficients follow ``2^(T / a_dagger)`` (the exact count) and the
total size is ``poly(T) 2^(T / a_dagger)``: the log-log degree in ``T`` of the extraction network,
of the smooth network's nonzeros per coefficient and of ``size / 2^(T / a_dagger)`` are at most 2.

The smooth network is exact on the grid: a hypothesis test compares it with ``f_T`` evaluated
directly (float64 tolerance :func:`~constructions.regression.smooth_relu.realization_tolerance`,
``2^-46 (D b + 1)(1 + l1 norm)``) over random functions, levels and bit counts, and its nonzeros
with the closed form. Controls: an approximant that takes the *last* J tokens instead of the most
important ones does not approximate; gates too narrow for the rotations, and one rotation with a
flipped sign, are caught by the realization check.
"""

from __future__ import annotations

import functools

import numpy as np
import pytest
import torch
from hypothesis import given
from hypothesis import strategies as st

from checks import strategies
from constructions.fnn import FNN
from constructions.regression.extraction import build_extraction, radix_bits_needed
from constructions.regression.approximation import (
    ApproximationSetup,
    approximation_curve,
    fitted_slopes,
    sample_continuous_windows,
)
from claims.statistics import fit_slope
from constructions.regression.rates import balanced_exponent, coefficient_count, log2_count_slope, rate_exponent
from constructions.regression.smooth_functions import (
    GammaSmoothConfig,
    Smoothness,
    sample_gamma_smooth,
)
from constructions.regression.smooth_relu import (
    build_smooth_network,
    check_smooth_realization,
    nonzero_bound,
    random_grid_points,
)
from constructions.resources import fnn_resources

#: per profile: levels T and Monte Carlo windows
GRID = {
    "tiny": dict(levels=(2, 3, 4, 5, 6, 7), samples=128),  # T = 2..5 or 2..6 was too short for the slope (-0.74, -0.78)
    "quick": dict(levels=(2, 3, 4, 5, 6, 7), samples=384),
    "thorough": dict(levels=(2, 3, 4, 5, 6, 7, 8, 9, 10), samples=2048),
}

SETUPS = {
    "anisotropic": Smoothness("anisotropic", (2.0, 2.0)),  # a_dagger = 1
    "mixed": Smoothness("mixed", (1.0, 2.0)),  # a_dagger = 1
}


@functools.cache
def measured_curve(kind: str, profile: str) -> tuple[ApproximationSetup, list[dict]]:
    """The approximation curve of one target over the profile's levels (computed once per process:
    the rate check reads the same curve, and shares this module's xdist group)."""
    grid = GRID[profile]
    setup = ApproximationSetup(SETUPS[kind], samples=grid["samples"], function_level=grid["levels"][-1] + 4)
    return setup, approximation_curve(setup, grid["levels"])


pytestmark = pytest.mark.xdist_group("regression-approximation")


def rows_above_the_bound(rows: list[dict]) -> list[dict]:
    """Levels whose error exceeds ``2^(-T) (||f||_gamma + 1/2)`` by more than 3 standard errors (the
    Monte Carlo estimate may exceed the true error by its noise)."""
    return [r for r in rows if r["rmse"] - 3 * r["rmse_stderr"] > r["bound"]]


@pytest.mark.claim("regression.approximation")
@pytest.mark.parametrize("kind", sorted(SETUPS))
def test_error_falls_like_two_to_minus_t_at_size_poly_t_two_to_t_over_a_dagger(kind, sizes, evidence):
    setup, rows = measured_curve(kind, sizes.row)
    slopes = fitted_slopes(rows)
    assert not rows_above_the_bound(rows), rows_above_the_bound(rows)
    for row in rows:
        assert row["coefficients"] == coefficient_count(setup.smoothness.kind, setup.smoothness.a, row["T"])
        assert row["smooth_vs_trigonometric"] <= row["smooth_tolerance"], row
    assert slopes["error_slope"] <= -0.8, slopes
    T = np.array([r["T"] for r in rows])
    a_dagger = setup.smoothness.effective

    def degree_in_T(values) -> float:
        return float(np.polyfit(np.log2(T), np.log2(np.asarray(values, dtype=float)), 1)[0])

    degrees = {
        "extraction": degree_in_T([r["extraction_parameters"] for r in rows]),
        "smooth_per_coefficient": degree_in_T([r["smooth_parameters"] / r["coefficients"] for r in rows]),
        "size_over_2^(T/a_dagger)": degree_in_T([r["size"] / 2.0 ** (r["T"] / a_dagger) for r in rows]),
    }
    assert max(degrees.values()) <= 2.0, degrees
    columns = ("T", "rmse", "bound", "extraction_parameters", "coefficients", "frequency_pairs", "smooth_parameters",
               "smooth_depth", "size", "smooth_vs_trigonometric", "float64")
    evidence.record(**{f"{kind}_curve": {"rows": [{k: r[k] for k in columns} for r in rows],
                                         "error_slope": slopes["error_slope"], "degrees_in_T": degrees,
                                         "a_dagger": a_dagger}},
                    **{f"figure:approximation-{kind}": {
                        "name": f"approximation-{kind}", "title": f"Approximation error against T ({kind})",
                        "xlabel": "T", "ylabel": "RMSE", "yscale": "log",
                        "series": [{"label": "measured RMSE", "x": [r["T"] for r in rows], "y": [r["rmse"] for r in rows]},
                                   {"label": "2^-T (norm + 1/2)", "x": [r["T"] for r in rows],
                                    "y": [r["bound"] for r in rows], "style": "--"}]}})


@pytest.mark.claim("regression.approximation")
@given(config=strategies.gamma_smooth_configs(max_dim=3, max_level=4.0), level=st.floats(0.0, 4.0),
       bits=st.integers(1, 6), seed=strategies.seeds)
def test_smooth_network_equals_the_truncation_on_the_grid_with_closed_form_nonzeros(config, level, bits, seed):
    f_T = sample_gamma_smooth(config).truncate(level)
    network = build_smooth_network(f_T, bits)
    points = random_grid_points(f_T.dim, bits, 64, torch.Generator().manual_seed(seed))
    check = check_smooth_realization(network, f_T, points)
    assert check.exact, check
    size = fnn_resources(network.fnn, "smooth")
    pairs = network.form.frequencies.shape[0]
    assert size.nonzeros <= nonzero_bound(pairs, f_T.dim, bits), (size.nonzeros, pairs)
    assert size.depth == f_T.dim * bits + 2
    assert size.width <= 4 * pairs + f_T.dim + 3


def _flip_one_rotation(network, layer: int):
    """The built network with the sine terms of one rotation layer negated (rotation by -theta)."""
    layers = [(W.detach(), b.detach()) for W, b in zip(network.fnn.weights, network.fnn.biases)]
    W, b = layers[layer]
    F = network.form.frequencies.shape[0]
    rows, cols = W.indices()
    values = W.values().clone()
    # gate rows gc (2F..3F) take -sin from s; gate rows gs (3F..4F) take +sin from c: flip both
    from_c = (cols < F) | ((cols >= 2 * F) & (cols < 3 * F))
    from_s = ((cols >= F) & (cols < 2 * F)) | ((cols >= 3 * F) & (cols < 4 * F))
    sin_terms = (((rows >= 2 * F) & (rows < 3 * F)) & from_s) | (((rows >= 3 * F) & (rows < 4 * F)) & from_c)
    assert bool(sin_terms.any())
    values[sin_terms] = -values[sin_terms]
    layers[layer] = (torch.sparse_coo_tensor(W.indices(), values, W.shape, check_invariants=True).coalesce(), b)
    return type(network)(network.form, network.bits, FNN(layers))


@pytest.mark.claim("regression.approximation", role="control",
                  breaks="the smooth ReLU network: gates too narrow (K = 1), and one rotation's sine terms flipped")
def test_broken_smooth_networks_are_caught_by_the_realization_check(evidence):
    f_T = sample_gamma_smooth(GammaSmoothConfig(SETUPS["mixed"], 4.0, 1.0, 3))
    bits = 5
    points = random_grid_points(2, bits, 256, torch.Generator().manual_seed(0))
    good = check_smooth_realization(build_smooth_network(f_T, bits), f_T, points)
    narrow = check_smooth_realization(build_smooth_network(f_T, bits, gate_bound=1.0), f_T, points)
    flipped = check_smooth_realization(_flip_one_rotation(build_smooth_network(f_T, bits), layer=3), f_T, points)
    assert good.exact, good
    assert not narrow.exact, narrow
    assert not flipped.exact, flipped
    evidence.record(realization_errors={"built": good.max_error, "gate_bound_1": narrow.max_error,
                                        "one_rotation_flipped": flipped.max_error, "tolerance": good.tolerance})


@pytest.mark.claim("regression.approximation", role="control",
                   breaks="the extraction network's window U -> U + 1 (its SSM sums one token too many)")
def test_an_extraction_window_one_too_long_is_caught_by_the_error_check(evidence):
    """The approximation reads every window inside a sequence, half of them after U tokens outside
    the window: an extraction network with window U + 1 (same weights otherwise) reads one of those
    and misses the bound at the finer levels (its error stays near 0.06; the bound at T = 6 is 0.023).
    Read at the end of sequences exactly U long, as before, it passed."""
    setup = ApproximationSetup(SETUPS["anisotropic"], samples=128, function_level=10)

    def window_one_too_long(grid, window, top):
        return build_extraction(grid, window + 1, top, radix_bits=radix_bits_needed(window, grid.feature_bits))

    rows = approximation_curve(setup, (6, 7), build=window_one_too_long)
    caught = rows_above_the_bound(rows)
    evidence.record(window_one_too_long={f"T={r['T']:g}": {"rmse": r["rmse"], "rmse_stderr": r["rmse_stderr"],
                                                           "bound": r["bound"]} for r in rows})
    assert caught, rows


@pytest.mark.claim("regression.approximation", role="control",
                  breaks="the extraction: the last J tokens in place of the top-J by importance")
def test_taking_the_last_tokens_instead_of_the_most_important_does_not_approximate(evidence):
    setup = ApproximationSetup(SETUPS["anisotropic"], samples=256)
    target = setup.target()
    win = sample_continuous_windows(setup, setup.samples, torch.Generator().manual_seed(5))
    last = win[:, -setup.top:, 1:].flip(1).reshape(win.shape[0], -1)  # by position, not importance
    rmse = float((target.of_windows(win) - target.smooth.truncate(6.0)(last)).pow(2).mean().sqrt())
    assert rmse > 2.0 ** -6 * (target.smooth.norm() + 0.5)
    evidence.record(position_based_rmse_at_T6=rmse)


# ----------------------------------------------------------------------------- the rate (C5)
#: |SSM exponent - Transformer exponent| allowed: a fit over T = 2..7 of errors that follow 2^-T only up
#: to poly(T) factors moves the fitted decay by log2(7/2)/5 = 0.36 per power of T, the exponent
#: 2e/(2e + s) by about 0.36 x 0.22 = 0.08 near e = s = 1; 0.1 covers one such factor
RATE_MARGIN = 0.1
#: levels of the exact coefficient count whose slope gives the size growth (multiples of every 1/a_i)
COUNT_LEVELS = (12, 18, 24, 30, 36)


def derived_rate(rmse_by_level: dict[float, float], smoothness: Smoothness) -> dict:
    """The SSM+FNN rate exponent derived from measurements: the error decay ``e`` (95% interval of the
    slope of ``-log2 RMSE`` against ``T``), the size growth ``s`` (slope of ``log2`` of the exact
    coefficient count, the size being that count times poly(T) as regression.approximation checks),
    balanced by :func:`~constructions.regression.rates.balanced_exponent`; compared with the
    Transformer's ``2 a / (2 a + 1)`` (Takakura & Suzuki) with margin ``RATE_MARGIN``: holds when the
    derived interval lies within it, fails when it lies wholly outside, inconclusive otherwise."""
    decay = fit_slope(list(rmse_by_level), [-np.log2(v) for v in rmse_by_level.values()])
    growth = log2_count_slope(smoothness.kind, smoothness.a, COUNT_LEVELS)
    ssm = [float(balanced_exponent(e, growth)) for e in (decay.low, decay.slope, decay.high)]
    transformer = float(rate_exponent(smoothness.effective))
    low, high = transformer - RATE_MARGIN, transformer + RATE_MARGIN
    if low <= ssm[0] and ssm[2] <= high:
        verdict = "holds"
    elif ssm[2] < low or ssm[0] > high:
        verdict = "fails"
    else:
        verdict = "inconclusive"
    return {"verdict": verdict, "error_decay": [decay.low, decay.slope, decay.high], "size_growth": growth,
            "ssm_exponent": ssm, "transformer_exponent": transformer, "margin": RATE_MARGIN}


@pytest.mark.claim("regression.rate-equals-transformer")
@pytest.mark.parametrize("kind", sorted(SETUPS))
def test_rate_exponent_derived_from_the_measured_curve_equals_the_transformers(kind, sizes, evidence):
    setup, rows = measured_curve(kind, sizes.row)
    rate = derived_rate({r["T"]: r["rmse"] for r in rows}, setup.smoothness)
    evidence.record(**{f"{kind}_rate": rate})
    reason = (f"SSM+FNN exponent {rate['ssm_exponent'][1]:.3f} [{rate['ssm_exponent'][0]:.3f}, {rate['ssm_exponent'][2]:.3f}] "
              f"vs Transformer {rate['transformer_exponent']:.3f} +- {RATE_MARGIN}")
    if rate["verdict"] == "inconclusive":
        evidence.inconclusive(reason)
    assert rate["verdict"] == "holds", reason


@pytest.mark.claim("regression.rate-equals-transformer", role="control",
                   breaks="the SSM+FNN approximant: the last J tokens in place of the top-J by importance, at every "
                          "level; the derived exponent must not match the Transformer's")
def test_rate_check_catches_an_approximant_that_selects_by_position(evidence):
    setup = ApproximationSetup(SETUPS["anisotropic"], samples=256)
    target = setup.target()
    win = sample_continuous_windows(setup, setup.samples, torch.Generator().manual_seed(5))
    last = win[:, -setup.top:, 1:].flip(1).reshape(win.shape[0], -1)  # by position, not importance
    exact = target.of_windows(win)
    rmse = {T: float((exact - target.smooth.truncate(T)(last)).pow(2).mean().sqrt()) for T in (2.0, 3.0, 4.0, 5.0, 6.0, 7.0)}
    rate = derived_rate(rmse, setup.smoothness)
    evidence.record(position_based_rate=rate)
    assert rate["verdict"] == "fails", rate
