"""The sketch, window and fixed-state machinery of ``constructions.limits`` on hand-made cases."""

from __future__ import annotations

import pytest
import torch

from constructions.associative_recall import outer_product
from constructions.copying import fixed_length
from constructions.errors import InfeasibleTaskError, ShapeError
from constructions.limits import families
from constructions.limits.sketch import UNDEFINED, find_collision, prefix_states, state_codes
from constructions.limits.single_layer import random_single_layer
from constructions.limits.window import needed_receptive_field, receptive_field, truncated
from constructions.tasks.associative_recall import ARConfig
from constructions.tasks.copying import CopyConfig, all_strings, assemble

F64 = torch.float64


def test_find_collision_reports_two_rows_with_one_sketch_and_different_answers():
    states = torch.tensor([[0.0], [1.0], [0.0]], dtype=F64)
    answers = torch.tensor([[5, UNDEFINED], [6, 1], [7, 2]])
    result = find_collision(states, answers)
    assert result.collision is not None
    assert {result.collision.first, result.collision.second} == {0, 2}
    assert result.collision.continuation == 0 and sorted(result.collision.answers) == [5, 7]
    assert result.distinct_sketches == 2


def test_undefined_answers_never_conflict():
    states = torch.zeros(3, 2, dtype=F64)
    answers = torch.tensor([[UNDEFINED, 1], [4, UNDEFINED], [UNDEFINED, 1]])
    assert find_collision(states, answers).collision is None


def test_b_bit_codes_merge_nearby_states_and_exact_codes_keep_them_apart():
    states = torch.tensor([[0.0], [0.1], [1.0]], dtype=F64)
    assert state_codes(states, 1).squeeze(1).tolist() == [0, 0, 1]
    assert len(set(state_codes(states, None).squeeze(1).tolist())) == 3
    assert state_codes(torch.tensor([[0.0], [-0.0]], dtype=F64), None)[0] == state_codes(torch.tensor([[0.0]], dtype=F64), None)[0]


@pytest.mark.parametrize("bits", [-1, 1.5, True])
def test_bits_must_be_a_non_negative_integer(bits):
    with pytest.raises(ValueError, match="bits"):
        state_codes(torch.zeros(2, 1, dtype=F64), bits)


def test_states_and_answers_must_share_the_batch():
    with pytest.raises(ShapeError, match="share B"):
        find_collision(torch.zeros(3, 1, dtype=F64), torch.zeros(2, 1, dtype=torch.long))


def test_prefix_states_need_a_token_matrix():
    network = fixed_length.build(CopyConfig(2, 3)).network
    with pytest.raises(ShapeError, match="prefixes"):
        prefix_states(network, torch.zeros(5, dtype=torch.long))


def test_prefix_states_of_the_fixed_length_copier_are_the_last_window_of_tokens():
    config = CopyConfig(2, 3)
    prompts = assemble(config, all_strings(2, 3)).prompts()
    states = prefix_states(fixed_length.build(config).network, prompts)
    assert states.shape == (8, 4)  # one channel, window n + 1 = 4
    assert torch.unique(states, dim=0).shape[0] == 8


def test_random_single_layer_has_the_asked_sketch_size_and_rejects_bad_sizes():
    vocab = ARConfig(3, 3, 2).vocabulary()
    net = random_single_layer(vocab, 2, 3, seed=1)
    assert prefix_states(net, torch.zeros(4, 5, dtype=torch.long)).shape == (4, 6)
    with pytest.raises(ValueError, match="channels"):
        random_single_layer(vocab, 0, 3, seed=1)


def test_families_reject_formats_they_do_not_cover_and_oversized_enumerations():
    with pytest.raises(InfeasibleTaskError, match="query='last'"):
        families.recall_query_last(ARConfig(3, 3, 2, query="first"))
    with pytest.raises(InfeasibleTaskError, match="query='first'"):
        families.recall_query_first(ARConfig(3, 3, 2))
    with pytest.raises(InfeasibleTaskError, match="enumeration limit"):
        families.copying(CopyConfig(4, 12), limit=1000)


def test_fixed_key_recall_family_conflicts_pairwise():
    family = families.recall_query_last(ARConfig(4, 3, 2), fixed_keys=True)
    assert family.prefixes.shape == (9, 4) and family.conflicting == 9
    assert (family.answers[:, 2:] == UNDEFINED).all() and (family.answers[:, :2] != UNDEFINED).all()


def test_truncation_keeps_the_taps_inside_the_window_and_sets_the_receptive_field():
    network = outer_product.build(ARConfig(3, 2, 2)).network
    assert receptive_field(network) == float("inf")
    short = truncated(network, 3)
    assert receptive_field(short) == 1 + (2 - 1) + (3 - 1)  # layer 1 is a shift by one (window 2)
    for full, cut in zip(network.blocks, short.blocks):
        torch.testing.assert_close(cut.ssm.kernel(3), full.ssm.kernel(3), rtol=0, atol=0)
        assert cut.ssm.window() <= 3
    with pytest.raises(ValueError, match="window"):
        truncated(network, 0)


def test_needed_receptive_field_of_fixed_length_copying_reaches_back_to_the_first_symbol():
    config = CopyConfig(2, 3)
    construction = fixed_length.build(config)
    tokens = assemble(config, all_strings(2, 3)).tokens
    assert needed_receptive_field(construction, tokens) == config.length + 1  # lag n from SEP back to s_1
