"""Unit tests of ``constructions.limits.fixed_state`` and ``constructions.limits.ngram_repeats``:
input validation (each bad input raises the specific error, naming the problem) and small values
computed by hand."""

from __future__ import annotations

import re
from fractions import Fraction

import numpy as np
import pytest
import torch
from hypothesis import given, settings
from hypothesis import strategies as st

from constructions.errors import InfeasibleTaskError, ShapeError, SuiteError, TokenRangeError
from constructions.limits.fixed_state import (
    FiniteStateCopier,
    all_strings,
    copy_success_mask,
    cycle_witness,
    de_bruijn_sequence,
    distinct_window_cycle,
    exhaustive_best,
    exhaustive_reached_states,
    generated_strings,
    measured_success,
    optimum,
    reference_generate,
    success_bound,
)
from constructions.limits.ngram_repeats import (
    exact_repeat_probability,
    jelassi_bound,
    monte_carlo_repeat,
    pair_collision_counts,
    string_block,
    union_bound,
)
from constructions.tasks.copying import all_strings as task_all_strings


def raises(error, *fragments):
    return pytest.raises(error, match=".*".join(re.escape(f) for f in fragments))


# ----------------------------------------------------------------------------- validation
@pytest.mark.parametrize("alphabet, length, states, name", [(0, 2, 2, "alphabet"), (2, 0, 2, "length"),
                                                            (2, 2, 0, "states"), (-1, 2, 2, "alphabet")])
def test_searches_and_closed_forms_reject_nonpositive_sizes(alphabet, length, states, name):
    for fn in (exhaustive_best, exhaustive_reached_states, success_bound, optimum, cycle_witness):
        with raises(InfeasibleTaskError, name, ">= 1"):
            fn(alphabet, length, states)


def test_non_integer_sizes_are_rejected():
    with raises(InfeasibleTaskError, "states", "2.0"):
        optimum(2, 2, 2.0)
    with raises(InfeasibleTaskError, "alphabet", "True"):
        optimum(True, 2, 2)


def test_too_large_exhaustive_search_names_its_size():
    # 2 * 2^(2*3) * 2^2 = 512 copiers x 4 strings = 2048 simulations
    with raises(InfeasibleTaskError, "512 candidates", "4 strings", "2,048 simulations", "limit of 1,000"):
        exhaustive_best(2, 2, 2, limit=1000)
    with raises(InfeasibleTaskError, "reading tables", "limit of 10"):
        exhaustive_reached_states(2, 3, 3, limit=10)
    with raises(InfeasibleTaskError, "1,073,741,824 candidates"):  # 4 * 4^12 * 2^4 -- refused before any work
        exhaustive_best(2, 3, 4)


def test_bad_initial_state_option_is_rejected():
    with raises(InfeasibleTaskError, "initial_states", "'some'"):
        exhaustive_best(2, 1, 1, initial_states="some")
    with raises(InfeasibleTaskError, "initial_states"):
        exhaustive_reached_states(2, 1, 1, initial_states="one")


def test_copier_rejects_malformed_tables():
    ok_t, ok_o = np.zeros((2, 3), dtype=np.int64), np.zeros(2, dtype=np.int64)
    with raises(ShapeError, "transition", "(k, 3)", "(2, 2)"):
        FiniteStateCopier(2, 0, np.zeros((2, 2), dtype=np.int64), ok_o)
    with raises(ShapeError, "output", "(2,)", "(3,)"):
        FiniteStateCopier(2, 0, ok_t, np.zeros(3, dtype=np.int64))
    with raises(TokenRangeError, "transition", "[0, 2)", "[0, 2]"):
        FiniteStateCopier(2, 0, np.array([[0, 1, 2], [0, 0, 0]]), ok_o)
    with raises(TokenRangeError, "output", "[0, 2)", "[0, 5]"):
        FiniteStateCopier(2, 0, ok_t, np.array([0, 5]))
    with raises(TokenRangeError, "initial state", "[0, 2)", "2"):
        FiniteStateCopier(2, 2, ok_t, ok_o)
    with raises(TokenRangeError, "integer arrays", "float"):
        FiniteStateCopier(2, 0, ok_t.astype(float), ok_o)
    with raises(InfeasibleTaskError, "states", ">= 1"):
        FiniteStateCopier(2, 0, np.zeros((0, 3), dtype=np.int64), np.zeros(0, dtype=np.int64))


def test_simulators_reject_bad_strings():
    w = cycle_witness(2, 2, 2)
    with raises(ShapeError, "rank 2", "(4,)"):
        generated_strings(w, np.zeros(4, dtype=np.int64))
    with raises(TokenRangeError, "[0, 2)", "[0, 3]"):
        generated_strings(w, np.array([[0, 3]]))
    with raises(ShapeError, "length >= 1"):
        copy_success_mask(np.array([0]), w.transition[None], w.output[None], np.zeros((2, 0), dtype=np.int64))


def test_cycle_search_rejects_impossible_and_over_budget_requests():
    with raises(InfeasibleTaskError, "5 distinct 2-windows", "only 4"):
        distinct_window_cycle(2, 2, 5)
    with raises(InfeasibleTaskError, "126", "D=2, L=7", "10 visits"):
        distinct_window_cycle(2, 7, 126, budget=10)


def test_ngram_functions_reject_bad_input():
    for fn in (exact_repeat_probability, jelassi_bound, union_bound):
        with raises(InfeasibleTaskError, "alphabet", ">= 1"):
            fn(0, 3, 1)
        with raises(InfeasibleTaskError, "length", ">= 1"):
            fn(2, 0, 1)
        with raises(InfeasibleTaskError, "n must", ">= 1"):
            fn(2, 3, 0)
    with raises(InfeasibleTaskError, "2^30", "1,073,741,824 strings", "limit"):
        exact_repeat_probability(2, 30, 3)
    with raises(InfeasibleTaskError, "samples", ">= 1"):
        monte_carlo_repeat(2, 5, 2, 0, seed=0)
    with raises(InfeasibleTaskError, "seed", "1.5"):
        monte_carlo_repeat(2, 5, 2, 10, seed=1.5)
    with raises(InfeasibleTaskError, "n = 4 exceeds the length 3"):
        pair_collision_counts(2, 3, 4)


def test_every_error_is_a_suite_error():
    with pytest.raises(SuiteError):
        optimum(0, 1, 1)
    with pytest.raises(ValueError):
        exact_repeat_probability(2, 2, 0)


# ----------------------------------------------------------------------------- hand-computed values
def test_repeat_probabilities_computed_by_hand():
    assert exact_repeat_probability(2, 3, 1) == 1  # three binary symbols: some symbol repeats
    assert exact_repeat_probability(2, 2, 1) == Fraction(1, 2)  # 00, 11 of 00 01 10 11
    assert exact_repeat_probability(3, 2, 1) == Fraction(1, 3)
    assert exact_repeat_probability(2, 3, 2) == Fraction(2, 8)  # windows x1x2 = x2x3: 000, 111
    assert exact_repeat_probability(2, 3, 4) == 0  # n > L: no window at all
    assert exact_repeat_probability(5, 1, 1) == 0


def test_bounds_computed_by_hand():
    assert jelassi_bound(2, 3, 1) == Fraction(9, 2)
    assert union_bound(2, 3, 1) == Fraction(3, 2)  # C(3, 2) / 2
    assert union_bound(2, 3, 4) == 0
    assert success_bound(2, 3, 3) == Fraction(3, 8)
    assert optimum(2, 2, 7) == 1 and optimum(3, 2, 2) == Fraction(2, 9)


def test_pair_collision_counts_by_hand():
    # D = 2, L = 3, n = 1: symbols x_i = x_j on 4 of the 8 strings for every pair i != j
    assert pair_collision_counts(2, 3, 1).tolist() == [[8, 4, 4], [4, 8, 4], [4, 4, 8]]


def test_exhaustive_searches_match_hand_values():
    assert exhaustive_best(2, 1, 1).best_success == Fraction(1, 2)  # one state: one constant output
    assert exhaustive_best(2, 2, 3).best_success == Fraction(3, 4)
    assert exhaustive_best(2, 2, 3).searched == 3 * 3**9 * 2**3
    assert exhaustive_reached_states(2, 2, 4).best_success == 1
    assert exhaustive_reached_states(2, 2, 4).searched == 4 * 4**8


def test_best_copier_found_by_the_search_is_verified_by_simulation():
    result = exhaustive_best(2, 2, 3)
    assert measured_success(result.best, 2) == result.best_success


def test_one_state_witness_copies_one_constant_string():
    w = cycle_witness(3, 4, 1)
    assert measured_success(w, 4) == Fraction(1, 81)
    assert generated_strings(w, np.array([[0, 0, 0, 0], [1, 2, 0, 1]])).tolist() == [[0, 0, 0, 0], [0, 0, 0, 0]]


def test_de_bruijn_sequences_have_every_window_once():
    for D, L in ((2, 3), (3, 2), (2, 5), (4, 2)):
        x = de_bruijn_sequence(D, L)
        assert len(x) == D**L
        windows = {tuple(x[(i + j) % len(x)] for j in range(L)) for i in range(len(x))}
        assert len(windows) == D**L


def test_string_enumerations_agree_with_the_task_module():
    assert np.array_equal(all_strings(3, 3), task_all_strings(3, 3).numpy())
    assert torch.equal(string_block(3, 3, 0, 27), task_all_strings(3, 3))
    assert torch.equal(string_block(2, 4, 5, 9), task_all_strings(2, 4)[5:9])


def test_monte_carlo_is_reproducible_and_seed_dependent():
    a, b = monte_carlo_repeat(4, 12, 3, 3000, seed=7), monte_carlo_repeat(4, 12, 3, 3000, seed=7, block=1000)
    assert a.hits == b.hits  # blocks draw the same stream from one generator
    assert len({monte_carlo_repeat(4, 12, 3, 3000, seed=s).hits for s in range(4)}) > 1
    assert 0 < a.estimate < 1


@st.composite
def copiers(draw):
    D, k = draw(st.integers(1, 3)), draw(st.integers(1, 4))
    transition = draw(st.lists(st.integers(0, k - 1), min_size=k * (D + 1), max_size=k * (D + 1)))
    output = draw(st.lists(st.integers(0, D - 1), min_size=k, max_size=k))
    return FiniteStateCopier(D, draw(st.integers(0, k - 1)), np.array(transition).reshape(k, D + 1), np.array(output))


@settings(max_examples=60)
@given(copier=copiers(), length=st.integers(1, 4))
def test_batched_simulation_matches_the_reference_loop(copier, length):
    strings = all_strings(copier.alphabet, length)
    expected = np.array([reference_generate(copier, s) for s in strings.tolist()])
    assert np.array_equal(generated_strings(copier, strings), expected)
    mask = copy_success_mask(np.array([copier.initial]), copier.transition[None], copier.output[None], strings)[0]
    assert np.array_equal(mask, (expected == strings).all(axis=1))
