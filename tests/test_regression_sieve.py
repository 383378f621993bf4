"""Unit tests of the sieve estimator's parts (constructions/regression/sieve_estimation.py), the basis
design matrix, the log-log slope statistics and the one-thread helper."""

from __future__ import annotations

import math

import pytest
import torch

from claims.statistics import fit_log_slope, mean_by_size, power_line, slope_verdict
from constructions.regression.piecewise import continuous_margin_windows, top_tokens
from constructions.regression.sieve_estimation import SieveFrontEnd, SieveSetup, run_sieve, sieve_summary
from constructions.regression.smooth_functions import GammaSmoothConfig, Smoothness, sample_gamma_smooth
from constructions.threads import one_thread, single_threaded

SMALL = SieveSetup(sample_sizes=(64, 128, 256), seeds=(0,), function_level=4.0, test_samples=256)


def test_basis_times_coefficients_is_the_function():
    f = sample_gamma_smooth(GammaSmoothConfig(Smoothness("mixed", (1.0, 2.0)), 5.0, 1.0, 3))
    x = torch.rand(50, 2, generator=torch.Generator().manual_seed(0), dtype=torch.float64)
    assert f.basis(x).shape == (50, f.size)
    assert torch.allclose(f.basis(x) @ f.coefficients, f(x), atol=1e-12)


def test_balancing_level_follows_the_formula_and_a_fixed_level_overrides_it():
    assert math.isclose(SMALL.level(1024), 1 / 3 * math.log2(1024 / 0.25))
    assert SieveSetup(sample_sizes=(4, 8), fixed_level=2.0).level(10**6) == 2.0


def test_extraction_front_end_returns_the_sorted_top_features_and_the_control_the_last_ones():
    setup = SMALL
    front = SieveFrontEnd(setup, bits=6)
    win = continuous_margin_windows(setup.levels, setup.window, setup.top, 1, 200, torch.Generator().manual_seed(1))
    reference = top_tokens(front.grid.quantize(win), setup.top)[0][..., 1]
    assert torch.equal(front(win), reference)
    last = SieveFrontEnd(SieveSetup(sample_sizes=(4, 8), front_end="last-tokens"), bits=6)
    assert torch.equal(last(win), last.grid.quantize(win)[:, -2:, 1])


def test_sieve_run_is_deterministic_and_summarised():
    first, second = run_sieve(SMALL), run_sieve(SMALL)
    assert first == second and len(first) == 3
    summary = sieve_summary(SMALL, first)
    assert summary["verdict"] in ("holds", "fails", "inconclusive") and len(summary["points"]) == 3


@pytest.mark.parametrize("changes, message", [
    ({"front_end": "first-tokens"}, "unknown front end"),
    ({"noise": 0.0}, "noise must be finite and positive"),
    ({"smoothness": Smoothness("mixed", (1.0,))}, "acts on 2 features"),
    ({"sample_sizes": (8,)}, "at least two sample sizes"),
])
def test_bad_setups_are_rejected_with_the_field_named(changes, message):
    with pytest.raises(ValueError, match=message):
        SieveSetup(**{"sample_sizes": (4, 8), **changes})


def test_a_front_end_beyond_float64_is_refused():
    with pytest.raises(ValueError, match="exceed float64"):
        SieveFrontEnd(SieveSetup(sample_sizes=(4, 8), levels=16), bits=12)


def test_log_slope_of_an_exact_power_law_and_its_verdicts():
    ns = [64, 128, 256, 512]
    fit = fit_log_slope(ns, [3.0 * n**-0.5 for n in ns])
    assert math.isclose(fit.slope, -0.5) and fit.width < 1e-9
    assert slope_verdict(fit, 0.4)[0] == "holds" and slope_verdict(fit, 0.6)[0] == "fails"
    with pytest.raises(ValueError, match="three points"):
        fit_log_slope([64, 128], [1.0, 0.5])


def test_one_thread_restores_the_thread_count_even_on_error():
    before = torch.get_num_threads()
    with pytest.raises(RuntimeError):
        with one_thread():
            assert torch.get_num_threads() == 1
            raise RuntimeError("inside")
    assert torch.get_num_threads() == before
    assert single_threaded(torch.get_num_threads)() == 1
    with one_thread("cuda"):  # work on a GPU: the CPU's threads are left alone
        assert torch.get_num_threads() == before


def test_mean_by_size_and_the_drawn_power_line():
    assert mean_by_size([4, 2, 4, 2], [1.0, 3.0, 3.0, 5.0]) == ([2, 4], [4.0, 2.0])
    line = power_line([1, 4], [2.0, 1.0], -0.5)
    assert math.isclose(line[0] / line[1], 2.0) and math.isclose(math.sqrt(line[0] * line[1]), math.sqrt(2.0))
