"""Resource accounting: per-tensor statistics (exact fixed-point bits), ``measure`` (weights) and
``measure_state`` (the states a run reaches) on hand-built networks whose counts are worked out by
hand below."""

from __future__ import annotations

import json
import math

import pytest
import torch

from constructions.embedding import OneHotEmbedding, TableEmbedding
from constructions.fnn import FNN
from constructions.network import SSMNetwork
from constructions.resources import TensorStats, entry_widths, measure, measure_state, tensor_stats
from constructions.ssm import DiagonalSSM, ShiftSSM, SSMBank, accumulator
from constructions.vocabulary import Vocabulary

F64 = torch.float64


def t64(rows):
    return torch.tensor(rows, dtype=F64)


# ----------------------------------------------------------------------------- tensor_stats
@pytest.mark.parametrize(
    "values, entries, nonzeros, max_abs, int_bits, frac_bits, bits",
    [
        ([0.0, 1.0, -2.0], 3, 2, 2.0, 2, 0, 3),  # |2| = 10b: 2 integer bits, + sign
        ([0.5], 1, 1, 0.5, 0, 1, 2),  # 0.1b
        ([0.75], 1, 1, 0.75, 0, 2, 3),  # 0.11b
        ([3.0], 1, 1, 3.0, 2, 0, 3),  # 11b
        ([1.0], 1, 1, 1.0, 1, 0, 2),
        ([-0.375, 4.0], 2, 2, 4.0, 3, 3, 7),  # 100b and 0.011b: integer and fractional parts from different entries
        ([2.0**-20], 1, 1, 2.0**-20, 0, 20, 21),
        ([2.0**40 + 1], 1, 1, 2.0**40 + 1, 41, 0, 42),
        ([0.1], 1, 1, 0.1, 0, 55, 56),  # the double nearest 0.1 is odd * 2^-55
        ([0.0, 0.0], 2, 0, 0.0, 0, 0, 0),
        ([], 0, 0, 0.0, 0, 0, 0),
    ],
)
def test_tensor_stats_of_hand_computed_cases(values, entries, nonzeros, max_abs, int_bits, frac_bits, bits):
    s = tensor_stats(torch.tensor(values, dtype=F64))
    assert (s.entries, s.nonzeros, s.max_abs, s.int_bits, s.frac_bits, s.bits) == (
        entries, nonzeros, max_abs, int_bits, frac_bits, bits)


def test_tensor_stats_counts_a_complex_entry_as_two_reals():
    s = tensor_stats(torch.tensor([3 + 4j, 0.5j, 0], dtype=torch.complex128))
    assert s.entries == 6  # three complex entries, two reals each
    assert s.nonzeros == 3  # 3, 4 and 0.5; the zero real part of 0.5j and the zero entry do not count
    assert s.max_abs == 4.0  # the largest real component, not the modulus 5
    assert (s.int_bits, s.frac_bits, s.bits) == (3, 1, 5)


def test_tensor_stats_of_a_sparse_tensor_counts_its_shape_as_entries_and_its_values_as_nonzeros():
    indices = torch.tensor([[0, 1, 2], [1, 0, 2]])
    sparse = torch.sparse_coo_tensor(indices, t64([0.5, -2.0, 0.0]), (3, 4), check_invariants=True)
    s = tensor_stats(sparse)
    assert (s.entries, s.nonzeros, s.max_abs, s.int_bits, s.frac_bits) == (12, 2, 2.0, 2, 1)
    assert s == tensor_stats(sparse.to_dense())


def test_tensor_stats_of_float32_values_are_exact_for_float32():
    s = tensor_stats(torch.tensor([0.1], dtype=torch.float32))
    assert s.frac_bits == 27  # float32(0.1) = 13421773 * 2^-27


def test_tensor_stats_combine_sums_counts_and_takes_maxima():
    a, b = tensor_stats(t64([0.0, 0.5])), tensor_stats(t64([3.0, 0.0, 0.0]))
    c = TensorStats.combine([a, b])
    assert (c.entries, c.nonzeros, c.max_abs, c.int_bits, c.frac_bits, c.bits) == (5, 2, 3.0, 2, 1, 4)
    assert TensorStats.combine([]) == TensorStats(0, 0, 0.0, 0, 0)


# ----------------------------------------------------------------------------- measure
def one_hot_shift_network() -> SSMNetwork:
    """One-hot embedding (width 2) -> ShiftSSM (D = 2, N = 2) -> FNN 2 -> 3 -> 1.

    SSM tensors: A sparse (2, 2, 2) with 2 ones (entries 8); B (2, 2) with 2 ones; C = taps with 3
    nonzeros (1, 0.5, 2); skip (2,) zeros: 7 nonzeros, 18 entries, bound 2, bits 2 + 1 + 1 = 4.
    FNN: W1 has 3 nonzeros (1, -1, 0.25), b1 1 (-1), W2 2 (1, 2), b2 1 (0.5): 7 nonzeros,
    6 + 3 + 3 + 1 = 13 entries, bound 2, bits 2 + 2 + 1 = 5 (0.25 needs two fractional bits).
    """
    embedding = OneHotEmbedding(Vocabulary.of(a=2))
    ssm = ShiftSSM(t64([[1.0, 0.5], [0.0, 2.0]]))
    fnn = FNN([(t64([[1.0, -1.0], [0.25, 0.0], [0.0, 0.0]]), t64([0.0, -1.0, 0.0])),
               (t64([[1.0, 2.0, 0.0]]), t64([0.5]))])
    return SSMNetwork(embedding, [(ssm, fnn)])


def test_measure_of_a_hand_built_shift_network_equals_hand_counts():
    r = measure(one_hot_shift_network())
    assert r.num_layers == 1
    assert r.window == 2  # channel 0 has taps at lags 0 and 1
    assert r.channels == 2
    assert r.state_size == 4
    assert (r.fnn_depth, r.fnn_width, r.fnn_nonzeros) == (2, 3, 7)
    assert r.ssm_nonzeros == 7
    assert r.embedding_parameters == 0
    assert r.embedding_kind == "OneHotEmbedding (fixed code, no parameters)"
    assert r.input_features == 2
    assert r.weight_bound == 2.0
    assert r.weight_bits == 5
    assert r.parameters == 14
    assert r.entries == 31
    (ssm,) = r.ssm_layers
    assert (ssm.parameterization, ssm.channels, ssm.state_size, ssm.window) == ("ShiftSSM", 2, 4, 2)
    assert (ssm.nonzeros, ssm.entries, ssm.weight_bound, ssm.weight_bits) == (7, 18, 2.0, 4)
    (fnn,) = r.fnns
    assert (fnn.role, fnn.depth, fnn.widths, fnn.width) == ("block1", 2, (2, 3, 1), 3)
    assert (fnn.nonzeros, fnn.entries, fnn.weight_bound, fnn.weight_bits) == (7, 13, 2.0, 5)


def table_accumulator_network() -> SSMNetwork:
    """Table embedding [[1, 0], [0, -3]] (2 parameters, bound 3, bits 2 + 0 + 1 = 3) -> identity
    pre-FNN (2 nonzeros, 6 entries) -> accumulator (lam, B, C: 2 ones each; skip 2 zeros: 6 nonzeros,
    8 entries, window infinite, state 2) -> identity FNN."""
    embedding = TableEmbedding(Vocabulary.of(a=2), t64([[1.0, 0.0], [0.0, -3.0]]))
    return SSMNetwork(embedding, [(accumulator(2), FNN.identity(2))], pre_fnn=FNN.identity(2))


def test_measure_counts_the_pre_fnn_and_the_embedding_table():
    r = measure(table_accumulator_network())
    assert r.window == math.inf
    assert (r.channels, r.state_size) == (2, 2)
    assert (r.fnn_depth, r.fnn_width, r.fnn_nonzeros) == (1, 2, 4)
    assert [f.role for f in r.fnns] == ["pre", "block1"]
    assert r.ssm_nonzeros == 6
    assert r.embedding_parameters == 2
    assert r.embedding_kind == "TableEmbedding"
    assert r.weight_bound == 3.0
    assert r.weight_bits == 3
    assert r.parameters == 4 + 6 + 2
    assert r.entries == 12 + 8 + 4


def test_measure_summary_is_json_ready_with_infinite_window_as_a_string():
    summary = measure(table_accumulator_network()).summary()
    assert summary["window"] == "inf"
    assert summary["weight_bound"] == 3 and isinstance(summary["weight_bound"], int)
    json.dumps(summary)
    json.dumps(measure(one_hot_shift_network()).to_dict())


def test_measure_of_a_bank_sums_its_groups_and_names_their_kinds():
    lam = torch.full((1, 2), 0.5j)
    complex_group = DiagonalSSM(lam, torch.ones(1, 2, dtype=torch.complex128), torch.ones(1, 2, dtype=torch.complex128))
    bank = SSMBank([ShiftSSM(t64([[1.0, 0.0, 0.0]])), complex_group])
    network = SSMNetwork(OneHotEmbedding(Vocabulary.of(a=2)), [(bank, FNN.identity(2))])
    (ssm,) = measure(network).ssm_layers
    assert ssm.parameterization == "DiagonalSSM+ShiftSSM"
    assert ssm.channels == 2 and ssm.state_size == 3 + 2
    assert ssm.window == math.inf  # lam = 0.5i is not nilpotent
    # shift: A 2 of 9, B 1 of 3, C 1 of 3, skip 0 of 1 -> 4 nonzeros, 16 entries.
    # complex diagonal (two reals per entry): lam 2 of 4, B 2 of 4, C 2 of 4, skip 0 of 1 -> 6, 13.
    assert (ssm.nonzeros, ssm.entries) == (4 + 6, 16 + 13)


def test_measure_of_a_network_without_blocks():
    r = measure(SSMNetwork(OneHotEmbedding(Vocabulary.of(a=3)), []))
    assert (r.num_layers, r.window, r.channels, r.fnn_depth, r.parameters) == (0, 0, 0, 0, 0)


# ----------------------------------------------------------------------------- state
def test_entry_widths_of_hand_computed_columns():
    # columns: 0/1 flag (1 bit, no sign); {0.5, 3} (2 integer + 1 fractional); {-3, 1} (2 + sign);
    # always 0 (0 bits); the double nearest 0.1 (55 fractional bits: a 52-bit odd number times 2^-55)
    values = t64([[0.0, 0.5, -3.0, 0.0, 0.1], [1.0, 3.0, 1.0, 0.0, 0.1]])
    widths = entry_widths(values)
    assert widths.bits == (1, 3, 3, 0, 55)
    assert widths.significant_bits == (1, 2, 2, 0, 52)


def test_entry_widths_refuse_a_table_that_is_not_two_dimensional():
    with pytest.raises(ValueError, match="shape"):
        entry_widths(t64([1.0, 2.0]))


def test_measure_state_of_a_hand_built_shift_network_equals_hand_counts():
    """Tokens a=0, b=1 embed as e_0, e_1; the shift layer's state (D = 2, N = 2) holds the last two
    values of each channel: 0/1 entries, 1 bit each, 4 entries -> 4 bits (uniform: 4 x 1)."""
    network = one_hot_shift_network()
    state = measure_state(network, torch.tensor([[0, 1, 1], [1, 0, 0]]))
    assert (state.instances, state.length, state.state_entries) == (2, 3, 4)
    (layer,) = state.layers
    assert layer.entry_bits == (1, 1, 1, 1) and layer.bits == 4
    assert (state.state_bits, state.widest_entry_bits, state.state_bits_uniform, state.float64_limited) == (4, 1, 4, False)
    # an entry that is never reached costs nothing: only token a -> channel 1 stays 0
    assert measure_state(network, torch.tensor([[0, 0, 0]])).layers[0].entry_bits == (1, 1, 0, 0)
    json.dumps(state.summary())


def test_measure_state_reads_an_accumulator_and_a_table_embedding():
    """Table [[1, 0], [0, -3]] into prefix sums: channel 0 counts a's (0..3: 2 bits), channel 1 sums
    -3 per b (down to -9: 4 integer bits + sign = 5)."""
    state = measure_state(table_accumulator_network(), torch.tensor([[0, 1, 0, 1, 1, 0]]))
    assert state.layers[0].entry_bits == (2, 5)
    assert state.state_bits == 7 and state.state_bits_uniform == 10


def test_measure_state_flags_values_that_use_the_whole_float64_significand():
    lam = torch.full((1, 1), 0.1, dtype=F64)
    network = SSMNetwork(OneHotEmbedding(Vocabulary.of(a=1)), [(DiagonalSSM(lam, torch.ones_like(lam), torch.ones_like(lam)),
                                                               FNN.identity(1))])
    assert measure_state(network, torch.zeros(1, 4, dtype=torch.long)).float64_limited


@pytest.mark.parametrize("tokens", [torch.zeros(3, dtype=torch.long), torch.zeros(0, 4, dtype=torch.long), [[0, 1]]])
def test_measure_state_refuses_tokens_that_are_not_a_batch(tokens):
    with pytest.raises(ValueError, match="tokens"):
        measure_state(one_hot_shift_network(), tokens)


def test_kv_cache_of_the_zoology_attention_counts_keys_and_values_of_every_head():
    from constructions.tasks.associative_recall import ARConfig, generate
    from constructions.transformer import mqar_zoology

    config = ARConfig(4, 4, 2)
    construction = mqar_zoology.build(config)
    tokens = generate(config, 8, 0).tokens
    cache = construction.network.kv_cache(tokens)
    heads = [h for b in construction.network.blocks for h in b.heads]
    assert cache.entries_per_token == sum(h.W_K.shape[0] + h.W_V.shape[0] for h in heads)
    assert cache.kv_cache_entries == tokens.shape[1] * cache.entries_per_token
    assert cache.kv_cache_bits == tokens.shape[1] * cache.bits_per_token and not cache.float64_limited
    summary = construction.memory(tokens)
    assert "kv_cache_bits" in summary and "state_bits" not in summary  # a context, not a state
