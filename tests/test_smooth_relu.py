"""Unit tests of the smooth part's ReLU network (constructions/regression/smooth_relu.py): the
product-to-sum form (proved with sympy on one mixed cos/sin product), the gate identity, the
network's layout and its errors on bad input."""

from __future__ import annotations

import math

import pytest
import sympy as sp
import torch

from constructions.errors import ShapeError
from constructions.regression.smooth_functions import (
    GammaSmoothConfig,
    GammaSmoothFunction,
    Smoothness,
    sample_gamma_smooth,
)
from constructions.regression.smooth_relu import (
    GATE_BOUND,
    build_smooth_network,
    nonzero_bound,
    random_grid_points,
    real_fourier_form,
)
from constructions.resources import fnn_resources


def _single_term(frequency: list[int]) -> GammaSmoothFunction:
    l = torch.tensor([frequency])
    return GammaSmoothFunction(Smoothness("mixed", (1.0,) * len(frequency)), [(0,) * len(frequency)], l,
                               torch.ones(1, dtype=torch.float64), torch.zeros(1, dtype=torch.long))


def test_product_to_sum_form_of_a_cos_sin_sin_term_is_an_identity_sympy():
    """psi_(2,-1,-3) = 2^(3/2) cos(2 pi 2 y1) sin(2 pi y2) sin(2 pi 3 y3), rewritten by the module,
    is proved equal to the product with sympy (coefficients rationalized from their float64 values)."""
    form = real_fourier_form(_single_term([2, -1, -3]))
    y = sp.symbols("y1:4", real=True)
    rebuilt = sp.nsimplify(form.constant)
    for w, a, b in zip(form.frequencies.tolist(), form.cos_coefficients.tolist(), form.sin_coefficients.tolist()):
        phase = 2 * sp.pi * sum(wi * yi for wi, yi in zip(w, y))
        rebuilt += sp.nsimplify(a, [sp.sqrt(2)]) * sp.cos(phase) + sp.nsimplify(b, [sp.sqrt(2)]) * sp.sin(phase)
    product = 2 * sp.sqrt(2) * sp.cos(4 * sp.pi * y[0]) * sp.sin(2 * sp.pi * y[1]) * sp.sin(6 * sp.pi * y[2])
    assert sp.simplify(sp.expand_trig(sp.expand(rebuilt - product))) == 0
    assert form.frequencies.shape[0] == 4  # 8 exponentials (2, +-1, +-3) up to the overall sign


def test_real_form_has_canonical_frequencies_and_matches_the_function():
    f = sample_gamma_smooth(GammaSmoothConfig(Smoothness("anisotropic", (1.0, 2.0)), 4.0, 1.0, 7))
    form = real_fourier_form(f)
    first_nonzero = [next(x for x in w if x != 0) for w in form.frequencies.tolist()]
    assert all(x > 0 for x in first_nonzero)
    assert len(set(map(tuple, form.frequencies.tolist()))) == form.frequencies.shape[0]
    x = torch.rand(100, 2, generator=torch.Generator().manual_seed(1), dtype=torch.float64)
    assert torch.allclose(form(x), f(x), atol=1e-13)


def test_one_relu_gate_multiplies_by_the_bit_for_every_bounded_value_sympy():
    """relu(v + K - 2K(1 - beta)) - K beta = beta v for beta in {0, 1} and |v| <= K: with v = u - K
    (bit 1) or v = K - u (bit 0), u >= 0, sympy simplifies both sides to the same expression."""
    u = sp.symbols("u", nonnegative=True)
    K = sp.Integer(int(GATE_BOUND))

    def gate(v, beta):
        return sp.Max(v + K - 2 * K * (1 - beta), 0) - K * beta

    assert sp.simplify(gate(u - K, 1) - (u - K)) == 0
    assert sp.simplify(gate(K - u, 0)) == 0


def test_network_layout_depth_width_and_nonzeros():
    f = sample_gamma_smooth(GammaSmoothConfig(Smoothness("mixed", (1.0, 2.0)), 3.0, 1.0, 0))
    net = build_smooth_network(f, bits=4)
    F, D = net.form.frequencies.shape
    size = fnn_resources(net.fnn, "smooth")
    assert size.depth == D * 4 + 2
    assert max(net.fnn.widths[1:-1]) == 4 * F + D + 3
    assert size.nonzeros <= nonzero_bound(F, D, 4)
    assert all(W.is_sparse for W in net.fnn.weights)


def test_constant_function_needs_no_frequencies():
    net = build_smooth_network(_single_term([0, 0]), bits=2)
    assert net.form.frequencies.shape[0] == 0
    y = random_grid_points(2, 2, 10, torch.Generator().manual_seed(0))
    assert torch.equal(net(y), torch.ones(10, dtype=torch.float64))


def test_bad_inputs_are_named():
    net = build_smooth_network(_single_term([1, 2]), bits=3)
    with pytest.raises(ShapeError, match=r"\(\.\.\., 2\)"):
        net(torch.zeros(4, 3, dtype=torch.float64))
    with pytest.raises(ValueError, match="3-bit grid"):
        net(torch.full((4, 2), 1 / 16, dtype=torch.float64))
    with pytest.raises(ValueError, match="3-bit grid"):
        net(torch.ones(1, 2, dtype=torch.float64))
    with pytest.raises(ValueError, match="at least one input bit"):
        build_smooth_network(_single_term([1]), bits=0)


def test_grid_points_are_on_the_grid():
    y = random_grid_points(3, 5, 200, torch.Generator().manual_seed(2))
    m = y * 32
    assert y.shape == (200, 3) and torch.equal(m, m.round()) and bool(((m >= 0) & (m < 32)).all())
    assert math.isclose(float(y.max()), 31 / 32) or float(y.max()) < 31 / 32


def test_the_injected_fault_breaks_the_network_where_the_realization_check_looks(monkeypatch):
    """``--inject-fault smooth-relu:0`` (``SSM_SUITE_FAULTS``) changes one weight of every built network;
    the realization check of ``regression.approximation`` then fails, and passes without it."""
    from constructions.mutation import FAULTS_ENV
    from constructions.regression.smooth_relu import check_smooth_realization, fault_example

    f, bits = fault_example()
    points = random_grid_points(f.dim, bits, 64, torch.Generator().manual_seed(0))
    assert check_smooth_realization(build_smooth_network(f, bits), f, points).exact
    monkeypatch.setenv(FAULTS_ENV, "smooth-relu:0")
    assert not check_smooth_realization(build_smooth_network(f, bits), f, points).exact
