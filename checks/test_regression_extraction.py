"""Lemma 5.1, reconstructed (claim ``regression.extract-topJ``): SSM+FNN extracts the top-J tokens
of every window in order of importance (:mod:`constructions.regression.extraction`).

* exactness: hypothesis draws grids, windows, J and sequences; wherever the margin holds, the
  network's output equals the sorted reference exactly (float64 while the construction's ``Q r``
  bits fit, the exact rational twin beyond, where float64 is shown to fail);
* resources: depth, width, weight bits and state bits read off the tensors against the closed
  forms ``J (2 + 3b) + 1``, a width independent of ``U`` and ``eps = 2^-b``, and ``Q r`` bits;
* controls: a radix too small (carries), one weight changed, and masking without rounding (the
  naive soft mechanism returns token 1 in round 2) are all caught.
"""

from __future__ import annotations

import pytest
import torch
from hypothesis import given
from hypothesis import strategies as st

from checks import strategies
from constructions.regression.extraction import (
    build_extraction,
    check_extraction,
    extraction_rounds_fnn,
    naive_masking_readout,
    radix_bits_needed,
    resource_row,
    soft_readout,
)
from constructions.regression.piecewise import TokenGrid, random_tokens, top_tokens, windows

#: per profile: (batch, length) of the drawn sequences; J, U, b values of the resource tables
GRID = {
    "tiny": dict(batch=8, length=12, tops=(1, 2, 3), windows=(2, 4, 8), bits=(1, 2, 3)),
    "quick": dict(batch=32, length=24, tops=(1, 2, 3, 4), windows=(2, 4, 8, 16), bits=(1, 2, 3, 4)),
    "thorough": dict(batch=128, length=64, tops=(1, 2, 3, 4, 6), windows=(2, 4, 8, 16, 32), bits=(1, 2, 3, 4, 6)),
}


@st.composite
def extraction_cases(draw):
    grid, window, top = draw(strategies.extraction_settings())
    return grid, window, top, draw(strategies.seeds)


def random_sequences(grid: TokenGrid, seed: int, profile: str) -> torch.Tensor:
    """The profile's batch of i.i.d. grid-token sequences for ``seed``."""
    shape = GRID[profile]
    return random_tokens(grid, (shape["batch"], shape["length"]), torch.Generator().manual_seed(seed))


def assert_extracts_exactly(extraction, tokens: torch.Tensor):
    """The network's output equals the sorted reference wherever the margin holds."""
    result = check_extraction(extraction, tokens)
    assert result.exact, (extraction.spec, result)
    return result


# ----------------------------------------------------------------------------- exactness
@pytest.mark.claim("regression.extract-topJ")
@given(case=extraction_cases())
def test_extraction_returns_the_top_j_tokens_in_order_wherever_the_margin_holds(case, sizes, evidence):
    grid, window, top, seed = case
    extraction = build_extraction(grid, window, top)
    assert extraction.spec.float64_exact
    result = assert_extracts_exactly(extraction, random_sequences(grid, seed, sizes.row))
    evidence.count("positions_exact", result.positions)
    evidence.note_max("largest_state_bits_in_float64", extraction.spec.state_bits)


@pytest.mark.claim("regression.extract-topJ")
def test_beyond_float64_the_exact_twin_is_exact_where_float64_fails(evidence):
    grid = TokenGrid(16, 2, 1)
    extraction = build_extraction(grid, 4, 2)
    assert not extraction.spec.float64_exact  # 16 levels x 4 radix bits = 64 bits
    tokens = random_tokens(grid, (6, 10), torch.Generator().manual_seed(1))
    in_float64 = check_extraction(extraction, tokens)
    exact = check_extraction(extraction, tokens, extraction.exact(tokens))
    assert exact.exact, exact
    assert not in_float64.exact  # measured: float64 runs out of significand, as predicted
    evidence.record(beyond_float64={"state_bits": extraction.spec.state_bits, "positions": exact.positions,
                                    "float64_wrong_positions": in_float64.wrong})


# ----------------------------------------------------------------------------- resources
def resources_table(tops, windows_, bits, grid_levels=8, features=1):
    rows = []
    for J in tops:
        for U in windows_:
            for b in bits:
                grid = TokenGrid(grid_levels, b, features)
                rows.append(resource_row(build_extraction(grid, U, min(J, U, grid_levels - 1))))
    return rows


@pytest.mark.claim("regression.extract-topJ")
def test_resources_follow_their_closed_forms_in_j_u_and_eps(sizes, evidence):
    shape = GRID[sizes.row]
    rows = resources_table(shape["tops"], shape["windows"], shape["bits"])
    for row in rows:
        J, b, Q, d = row["J"], row["b"], row["Q"], row["d"]
        assert row["post_depth"] == J * (2 + 3 * b) + 1, row
        assert row["radix_bits"] == radix_bits_needed(row["U"], b), row
        assert row["state_bits"] == Q * row["radix_bits"], row
        assert row["weight_bound_log2"] == row["state_bits"], row  # M = R^Q is the largest weight
        # width: carries (N, D, w, found) plus the level steps; no term in U or eps
        assert row["post_width"] <= d + 3 + J * (1 + d) + 2 * (Q - 1), row
    by_j = {}
    for row in rows:
        by_j.setdefault((row["J"], row["Q"], row["d"]), set()).add(row["post_width"])
    assert all(len(w) == 1 for w in by_j.values()), by_j  # width independent of U and eps
    evidence.record(resources=[{k: r[k] for k in ("J", "U", "eps", "post_depth", "post_width", "parameters", "state_bits")}
                               for r in rows])


# ----------------------------------------------------------------------------- controls
@pytest.mark.claim("regression.extract-topJ", role="control",
                  breaks="the extraction network's radix R: too small for the window")
def test_a_radix_too_small_for_the_window_is_caught(evidence):
    grid = TokenGrid(8, 2, 2)
    broken = build_extraction(grid, 6, 3, radix_bits=2)  # R = 4 < U (2^b - 1) = 18: digits carry
    tokens = random_tokens(grid, (32, 24), torch.Generator().manual_seed(0))
    result = check_extraction(broken, tokens)
    assert not result.exact
    evidence.record(small_radix_wrong_positions=result.wrong, first=result.first_wrong)


def _shorter_window(net):
    net.blocks[0].ssm.C[:, -1] = 0.0  # the window (C = taps) loses its oldest token


def _ramp_slope(net):
    net.pre_fnn.weights[0][1, 0] += 1.0  # one level's ramp misreads mu = q / Q


def _digit_weight(net):
    W = net.blocks[0].fnn.weights[-1]
    W[1] *= 0.5  # the output of phi_(1) halved


@pytest.mark.claim("regression.extract-topJ", role="control",
                  breaks="one weight of the extraction network, one change per case")
@pytest.mark.parametrize("fault", [_shorter_window, _ramp_slope, _digit_weight], ids=lambda f: f.__name__.strip("_"))
def test_a_single_changed_weight_is_caught(fault):
    grid = TokenGrid(8, 2, 1)
    extraction = build_extraction(grid, 4, 2)
    with torch.no_grad():
        fault(extraction.network)
    tokens = random_tokens(grid, (64, 16), torch.Generator().manual_seed(2))
    assert not check_extraction(extraction, tokens).exact


@pytest.mark.claim("regression.extract-topJ", role="control",
                  breaks="the extraction's masking: subtracting the soft (unrounded) read-out")
def test_masking_without_rounding_returns_the_first_token_again(evidence):
    grid = TokenGrid(16, 4, 1)
    tokens = random_tokens(grid, (256, 12), torch.Generator().manual_seed(3))
    ref, ok = top_tokens(windows(tokens, 4), 2)
    naive = naive_masking_readout(tokens, 4, beta=24.0, rounds=2)
    to_first = (naive[..., 1, :] - ref[..., 0, :]).abs().amax(-1)[ok]
    to_second = (naive[..., 1, :] - ref[..., 1, :]).abs().amax(-1)[ok]
    assert float(to_first.median()) < float(to_second.median()) / 10
    evidence.record(naive_round2={"median_distance_to_token1": float(to_first.median()),
                                  "median_distance_to_token2": float(to_second.median())})


@pytest.mark.claim("regression.extract-topJ")
@given(strategies.seeds)
def test_soft_readout_is_within_u_over_r_of_the_top_token(seed):
    grid, U = TokenGrid(8, 3, 2), 4
    r = radix_bits_needed(U, grid.feature_bits)
    tokens = random_tokens(grid, (64, 16), torch.Generator().manual_seed(seed))
    ref, ok = top_tokens(windows(tokens, U), 1)
    err = (soft_readout(tokens, grid, U, r) - ref[..., 0, 1:]).abs().amax(-1)[ok]
    assert float(err.max()) <= U / 2**r


def test_builder_rejects_infeasible_settings():
    with pytest.raises(ValueError, match="top"):
        build_extraction(TokenGrid(8, 2, 1), 3, 4)
    with pytest.raises(ValueError, match="levels"):
        build_extraction(TokenGrid(2, 2, 1), 3, 2)
    assert extraction_rounds_fnn(TokenGrid(4, 1, 1), 1, 3).depth == 1 * (2 + 3) + 1
