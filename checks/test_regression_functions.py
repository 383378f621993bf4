"""Invariants of the regression function classes (PAPER.md §7): gamma-smooth functions and
piecewise gamma-smooth sequence targets (:mod:`constructions.regression.smooth_functions`,
:mod:`constructions.regression.piecewise`).

The truncation bound ``||f - f_T||_2 <= 2^(-T) ||f||_gamma`` is the function-class half of
``regression.approximation`` and is linked to it; the rest are the generators' own invariants
(orthonormal basis, exact norm, seeded determinism, the margin, permutation invariance).
"""

from __future__ import annotations

import math

import pytest
import torch
from hypothesis import assume, given

from checks import strategies
from constructions.regression.piecewise import (
    PiecewiseSmoothConfig,
    PiecewiseSmoothTarget,
    TokenGrid,
    margin_mask,
    random_tokens,
    smoothness_for,
    top_tokens,
    windows,
)
from constructions.regression.rates import coefficient_count
from constructions.regression.smooth_functions import (
    GammaSmoothConfig,
    Smoothness,
    basis_1d,
    sample_gamma_smooth,
)


def test_trigonometric_basis_is_orthonormal_by_exact_quadrature():
    # a trigonometric polynomial of degree < n is integrated exactly by the n-point rule
    l = torch.arange(-16, 17)
    x = torch.arange(128, dtype=torch.float64) / 128
    psi = basis_1d(x, l)
    gram = psi.T @ psi / 128
    assert torch.allclose(gram, torch.eye(len(l), dtype=torch.float64), atol=1e-12)


@given(strategies.gamma_smooth_configs(max_level=4.0))
def test_generated_function_has_the_requested_norm_and_block_sizes(config):
    f = sample_gamma_smooth(config)
    assert math.isclose(f.norm(), config.norm, rel_tol=1e-12)
    assert bool((f.block_norms() <= 2.0 ** (-f.block_gammas()) * config.norm * (1 + 1e-12)).all())
    a = config.smoothness.a
    assert f.size == coefficient_count(config.smoothness.kind, a, config.level)


@given(strategies.gamma_smooth_configs(max_dim=2, max_level=4.0))
def test_parseval_holds_on_an_exact_quadrature_grid(config):
    f = sample_gamma_smooth(config)
    top = int(f.frequencies.abs().max())
    n = 2 * top + 2
    assume(n ** f.dim <= 1 << 16)
    axes = [torch.arange(n, dtype=torch.float64) / n] * f.dim
    grid = torch.stack(torch.meshgrid(*axes, indexing="ij"), dim=-1).reshape(-1, f.dim)
    assert math.isclose(float(f(grid).pow(2).mean().sqrt()), f.l2_norm(), rel_tol=1e-9, abs_tol=1e-12)


@pytest.mark.claim("regression.approximation")
@given(strategies.gamma_smooth_configs())
def test_truncation_at_level_t_leaves_at_most_two_to_minus_t_times_the_norm(config):
    f = sample_gamma_smooth(config)
    for T in [x / 2 for x in range(0, int(2 * config.level) + 2)]:
        assert f.l2_distance(f.truncate(T)) <= 2.0 ** (-T) * f.norm() * (1 + 1e-12), T


def test_generation_is_deterministic_in_the_seed():
    cfg = GammaSmoothConfig(Smoothness("mixed", (1.0, 2.0)), 4.0, seed=3)
    assert torch.equal(sample_gamma_smooth(cfg).coefficients, sample_gamma_smooth(cfg).coefficients)
    other = GammaSmoothConfig(Smoothness("mixed", (1.0, 2.0)), 4.0, seed=4)
    assert not torch.equal(sample_gamma_smooth(cfg).coefficients, sample_gamma_smooth(other).coefficients)


def test_invalid_smoothness_and_configs_are_rejected():
    with pytest.raises(ValueError, match="kind"):
        Smoothness("isotropic", (1.0,))
    with pytest.raises(ValueError, match="positive"):
        Smoothness("mixed", (1.0, -1.0))
    with pytest.raises(ValueError, match="norm"):
        GammaSmoothConfig(Smoothness("mixed", (1.0,)), 2.0, norm=float("nan"))
    with pytest.raises(ValueError, match="power of two"):
        TokenGrid(6, 2, 1)
    grid = TokenGrid(8, 2, 1)
    with pytest.raises(ValueError, match="coordinates"):
        PiecewiseSmoothConfig(4, 2, grid, GammaSmoothConfig(Smoothness("mixed", (1.0,)), 2.0))


# ----------------------------------------------------------------------------- piecewise targets
def small_target(seed: int = 0, top: int = 2, window: int = 5) -> PiecewiseSmoothTarget:
    grid = TokenGrid(16, 3, 1)
    smooth = GammaSmoothConfig(smoothness_for(top, 1, "mixed", 1.0), 3.0, seed=seed)
    return PiecewiseSmoothTarget.sample(PiecewiseSmoothConfig(window, top, grid, smooth))


@given(strategies.seeds)
def test_sampled_windows_satisfy_the_margin_and_their_targets_sort_by_importance(seed):
    target = small_target()
    win, y = target.sample_windows(64, torch.Generator().manual_seed(seed))
    mu = win[..., 0]
    ranked = mu.sort(dim=-1, descending=True).values
    assert bool((ranked[:, 0] > ranked[:, 1]).all() and (ranked[:, 1] > ranked[:, 2]).all())
    top_features = []
    for i in range(win.shape[0]):  # the slow twin: argmax twice, by hand
        first = int(mu[i].argmax())
        rest = mu[i].clone()
        rest[first] = -1
        top_features.append([float(win[i, first, 1]), float(win[i, int(rest.argmax()), 1])])
    assert torch.allclose(y, target.smooth(torch.tensor(top_features, dtype=torch.float64)), atol=0, rtol=0)


@given(strategies.seeds)
def test_target_ignores_token_order_within_the_window_but_not_importance(seed):
    target = small_target()
    g = torch.Generator().manual_seed(seed)
    win, y = target.sample_windows(32, g)
    perm = torch.randperm(win.shape[1], generator=g)
    assert torch.equal(target.of_windows(win[:, perm]), y)
    # swapping the importances of the two top tokens swaps their roles: a different piece
    swapped = win.clone()
    order = win[..., 0].argsort(dim=-1, descending=True)
    rows = torch.arange(win.shape[0])
    swapped[rows, order[:, 0], 0], swapped[rows, order[:, 1], 0] = win[rows, order[:, 1], 0], win[rows, order[:, 0], 0]
    differs = target.of_windows(swapped) != y
    distinct_features = win[rows, order[:, 0], 1] != win[rows, order[:, 1], 1]
    assert bool(differs[distinct_features].all())


def test_margin_mask_matches_a_brute_force_count():
    grid = TokenGrid(4, 1, 1)
    tokens = random_tokens(grid, (200, 7), torch.Generator().manual_seed(0))
    mask = margin_mask(tokens, 3, 2)
    for i in range(0, 200, 7):
        for t in range(7):
            levels = sorted((float(tokens[i, s, 0]) for s in range(max(0, t - 2), t + 1)), reverse=True)
            ok = len(levels) >= 2 and levels[0] > levels[1] and (len(levels) == 2 or levels[1] > levels[2])
            assert bool(mask[i, t]) == ok, (i, t, levels)
    assert top_tokens(windows(tokens, 3), 2)[0].shape == (200, 7, 2, 2)
