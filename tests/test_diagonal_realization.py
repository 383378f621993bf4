"""Input validation and small exact facts of :mod:`constructions.diagonal_realization`: every bad
input fails early with the specific error of ``constructions.errors`` and a message naming it."""

from __future__ import annotations

import math
import re
from fractions import Fraction

import pytest
import torch

from constructions.copying import fixed_length
from constructions.diagonal_realization import (
    chebyshev_weight_bound,
    condition_numbers,
    diagonalize_shifts,
    dft_nodes,
    equispaced_fractions,
    equispaced_nodes,
    exact_condition_1,
    exact_inverse_vandermonde,
    kernel_report,
    realize_dft,
    realize_real,
    vandermonde,
)
from constructions.errors import DTypeMismatchError, InfeasibleTaskError, NonFiniteWeightError, ShapeError
from constructions.ssm import DiagonalSSM, shifts
from constructions.tasks.copying import CopyConfig

F64 = torch.float64
NAN, INF = float("nan"), float("inf")


def raises(error: type[BaseException], *fragments: str):
    """``pytest.raises(error)`` whose message must contain every fragment (literally)."""
    pattern = "".join(f"(?=.*{re.escape(f)})" for f in fragments)
    return pytest.raises(error, match=re.compile(pattern, re.DOTALL))


BUILDERS = [realize_dft, realize_real]


# ----------------------------------------------------------------------------- kernels
@pytest.mark.parametrize("build", BUILDERS)
def test_an_empty_kernel_is_rejected(build):
    with raises(ShapeError, "at least one tap", "L >= 1", "(1, 0)"):
        build(torch.zeros(1, 0, dtype=F64))
    with raises(ShapeError, "at least one channel", "(0, 3)"):
        build(torch.zeros(0, 3, dtype=F64))


@pytest.mark.parametrize("build", BUILDERS)
def test_a_kernel_of_the_wrong_rank_or_type_is_rejected(build):
    with raises(ShapeError, "kernel", "rank 2", "(3,)"):
        build(torch.ones(3, dtype=F64))
    with raises(ShapeError, "kernel", "list"):
        build([[1.0, 0.0]])


@pytest.mark.parametrize("build", BUILDERS)
@pytest.mark.parametrize("bad", [NAN, INF, -INF])
def test_a_non_finite_kernel_is_rejected(build, bad):
    k = torch.ones(2, 4, dtype=F64)
    k[1, 2] = bad
    with raises(NonFiniteWeightError, "kernel", "non-finite"):
        build(k)


@pytest.mark.parametrize("build", BUILDERS)
def test_complex_or_integer_kernels_are_rejected(build):
    with raises(DTypeMismatchError, "real floating", "complex128"):
        build(torch.ones(1, 3, dtype=torch.complex128))
    with raises(DTypeMismatchError, "real floating", "int64"):
        build(torch.ones(1, 3, dtype=torch.long))


# ----------------------------------------------------------------------------- DFT
def test_dft_needs_at_least_one_node_per_tap():
    with raises(InfeasibleTaskError, "N >= L = 5", "N = 4"):
        realize_dft(torch.ones(1, 5, dtype=F64), 4)


@pytest.mark.parametrize("bad", [0, -1, 2.0, True, "3"])
def test_dft_state_size_must_be_a_positive_integer(bad):
    with raises(InfeasibleTaskError, "state_size", repr(bad)):
        realize_dft(torch.ones(1, 1, dtype=F64), bad)
    with raises(InfeasibleTaskError, "state_size"):
        dft_nodes(bad)


def test_dft_realization_of_a_small_kernel_by_every_mode():
    c = torch.tensor([[1.0, -2.0, 0.5], [0.0, 0.0, 3.0]], dtype=F64)
    layer = realize_dft(c, 5)
    assert layer.lam.dtype == torch.complex128 and layer.state_size == 5
    assert torch.allclose(layer.lam[0] ** 5, torch.ones(5, dtype=torch.complex128), atol=1e-14)
    x = torch.randn(2, 5, 2, dtype=F64, generator=torch.Generator().manual_seed(0))
    conv = torch.stack([sum(c[d, s] * torch.nn.functional.pad(x[..., d], (s, 0))[:, :5] for s in range(3)) for d in range(2)], -1)
    for mode in ("recurrence", "direct", "fft"):
        assert torch.allclose(layer(x, mode), conv, atol=1e-13), mode
    report = kernel_report(layer, c, horizon=13, period=5)
    assert report.exact and report.gap_max < 1e-14 and report.period_error < 1e-14
    assert report.first_tail_lag == (5, 7) and report.measured_window == math.inf


# ----------------------------------------------------------------------------- real nodes
def test_real_nodes_must_fit_the_kernel():
    k = torch.eye(3, dtype=F64)
    with raises(ShapeError, "one node per tap", "L = 3", "(2,)"):
        realize_real(k, torch.tensor([0.2, 0.4], dtype=F64))
    with raises(ShapeError, "nodes", "rank 1"):
        realize_real(k, torch.full((1, 3), 0.5, dtype=F64))
    with raises(DTypeMismatchError, "real floating", "complex128"):
        realize_real(k, torch.tensor([0.2, 0.4, 0.6], dtype=torch.complex128))
    with raises(NonFiniteWeightError, "nodes"):
        realize_real(k, torch.tensor([0.2, NAN, 0.6], dtype=F64))


@pytest.mark.parametrize("nodes", [[0.0, 0.5, 0.7], [0.2, 1.0, 0.7], [-0.5, 0.2, 0.3], [0.2, 0.4, 1.5]])
def test_real_nodes_must_lie_in_the_open_unit_interval(nodes):
    with raises(InfeasibleTaskError, "open interval (0, 1)"):
        realize_real(torch.eye(3, dtype=F64), torch.tensor(nodes, dtype=F64))


def test_real_nodes_must_be_distinct():
    with raises(InfeasibleTaskError, "distinct", "0.5"):
        realize_real(torch.eye(3, dtype=F64), torch.tensor([0.5, 0.25, 0.5], dtype=F64))


def test_real_realization_uses_the_equispaced_nodes_and_matches_exact_weights():
    L = 4
    layer = realize_real(torch.eye(L, dtype=F64))
    assert torch.equal(layer.lam[0], equispaced_nodes(L))
    assert equispaced_nodes(L).tolist() == [float(f) for f in equispaced_fractions(L)]
    W = exact_inverse_vandermonde(equispaced_fractions(L))
    exact = torch.tensor([[float(W[j][k]) for j in range(L)] for k in range(L)], dtype=F64)  # channel k = lag k
    assert torch.allclose(layer.C, exact, rtol=1e-10)
    assert kernel_report(layer, torch.eye(L, dtype=F64), horizon=L).exact


# ----------------------------------------------------------------------------- exact helpers
def test_exact_inverse_vandermonde_is_the_inverse():
    nodes = [Fraction(1, 3), Fraction(1, 2), Fraction(5, 7)]
    W = exact_inverse_vandermonde(nodes)
    n = len(nodes)
    for j in range(n):
        for i in range(n):  # (W V)_{j i} = sum_s W[j][s] nodes_i^s = delta_{ij}
            assert sum(W[j][s] * nodes[i] ** s for s in range(n)) == (1 if i == j else 0)
    assert exact_condition_1([Fraction(1, 2)]) == 1


def test_exact_inverse_vandermonde_rejects_repeated_or_no_nodes():
    with raises(InfeasibleTaskError, "distinct", "1/2"):
        exact_inverse_vandermonde([Fraction(1, 2), Fraction(1, 3), Fraction(1, 2)])
    with raises(InfeasibleTaskError, "at least one node"):
        exact_inverse_vandermonde([])


@pytest.mark.parametrize("bad", [0, -3, 1.5, True])
def test_counts_must_be_positive_integers(bad):
    with raises(InfeasibleTaskError, "count"):
        equispaced_nodes(bad)
    with raises(InfeasibleTaskError, "count"):
        equispaced_fractions(bad)


def test_chebyshev_bound_needs_two_taps():
    assert chebyshev_weight_bound(2) == 2 and chebyshev_weight_bound(5) == 128
    with raises(InfeasibleTaskError, "length", ">= 2", "1"):
        chebyshev_weight_bound(1)


# ----------------------------------------------------------------------------- measurement
def test_kernel_report_rejects_bad_horizons_and_shapes():
    layer = realize_dft(torch.eye(3, dtype=F64))
    with raises(InfeasibleTaskError, "horizon", ">= 3", "2"):
        kernel_report(layer, torch.eye(3, dtype=F64), horizon=2)
    with raises(ShapeError, "2 channels", "3"):
        kernel_report(layer, torch.eye(2, 3, dtype=F64), horizon=6)
    with raises(InfeasibleTaskError, "period 6", "horizon 6"):
        kernel_report(layer, torch.eye(3, dtype=F64), horizon=6, period=6)


def test_kernel_report_of_a_shift_is_exact_with_no_tail():
    report = kernel_report(shifts([0, 2]), torch.tensor([[1.0, 0, 0], [0, 0, 1.0]], dtype=F64), horizon=10)
    assert report.window_error == 0 and report.tail_max == 0 and report.first_tail_lag == (None, None)
    assert report.measured_window == 3 and report.gap_max is None


def test_vandermonde_tools_need_a_diagonal_layer():
    with raises(ShapeError, "DiagonalSSM", "ShiftSSM"):
        vandermonde(shifts([1]), 2)
    with raises(ShapeError, "DiagonalSSM", "ShiftSSM"):
        condition_numbers(shifts([1]), 2)
    with raises(InfeasibleTaskError, "length"):
        vandermonde(realize_dft(torch.eye(2, dtype=F64)), 0)


def test_condition_numbers_are_per_channel():
    lam = torch.tensor([[0.5, 0.25], [0.5, 0.25], [0.9, 0.1]], dtype=F64)
    layer = DiagonalSSM(lam, torch.ones(3, 2, dtype=F64), torch.ones(3, 2, dtype=F64))
    cond = condition_numbers(layer, 2)
    assert cond.shape == (3,) and cond[0] == cond[1] and cond[2] != cond[0]


# ----------------------------------------------------------------------------- constructions
def test_diagonalize_shifts_rejects_bad_requests():
    copier = fixed_length.build(CopyConfig(2, 3))
    with raises(InfeasibleTaskError, "extra_state", "-1"):
        diagonalize_shifts(copier, extra_state=-1)
    swapped = diagonalize_shifts(copier, extra_state=1)
    assert swapped.network.blocks[0].ssm.state_size == 5
    assert isinstance(copier.network.blocks[0].ssm, type(shifts([1])))  # the original is untouched
    with raises(InfeasibleTaskError, "no ShiftSSM"):
        diagonalize_shifts(swapped)


# ----------------------------------------------------------------------------- the growth judge
def test_exponential_growth_judge_does_not_call_polynomials_exponential():
    """A test of the judge (checks.test_diagonal_realization.semilog_growth) on known series."""
    from checks.profiles import PROFILES
    from checks.test_diagonal_realization import grid, semilog_growth

    xs = list(grid(PROFILES["quick"]).real_lengths)
    verdicts = {f"L^{p}": semilog_growth(xs, [x**p for x in xs]) for p in (1, 3, 10, 20)}
    assert not any(v["exponential"] for v in verdicts.values()), verdicts
    assert semilog_growth(xs, [2.0**x for x in xs])["exponential"]  # and it does see an exponential
