"""Every bad input to the library fails early with the specific error of ``constructions.errors``
and a message that names the problem (the offending value, shape, dtype, id or position)."""

from __future__ import annotations

import re

import pytest
import torch

from claims.registry import Registry, claim, load
from constructions.embedding import BinaryEmbedding, OneHotEmbedding, TableEmbedding
from constructions.errors import (
    DeviceMismatchError,
    DTypeMismatchError,
    InfeasibleTaskError,
    NonFiniteWeightError,
    RegistryError,
    ShapeError,
    SuiteError,
    TokenRangeError,
    UnknownClaimError,
)
from constructions.fnn import FNN
from constructions.layout import AffineMap, Layout
from constructions.network import SSMNetwork
from constructions.ssm import DenseSSM, DiagonalSSM, ShiftSSM, SSMBank, accumulator, shifts
from constructions.tasks.associative_recall import ARConfig, enumerate_instances, generate, reference_answers
from constructions.tasks.sampling import as_generator, sample_distinct
from constructions.vocabulary import Vocabulary

F64 = torch.float64
NAN, INF = float("nan"), float("inf")


def ones(*shape, dtype=F64):
    return torch.ones(*shape, dtype=dtype)


def raises(error: type[BaseException], *fragments: str):
    """``pytest.raises(error)`` whose message must contain every fragment (literally)."""
    pattern = "".join(f"(?=.*{re.escape(f)})" for f in fragments)
    return pytest.raises(error, match=re.compile(pattern, re.DOTALL))


def test_every_suite_error_is_a_value_error():
    for error in (ShapeError, TokenRangeError, NonFiniteWeightError, DTypeMismatchError, DeviceMismatchError,
                  InfeasibleTaskError, UnknownClaimError, RegistryError):
        assert issubclass(error, SuiteError) and issubclass(error, ValueError)


# ----------------------------------------------------------------------------- SSM layers
def layers_with_two_channels():
    """One layer of each parameterization, 2 channels, float64 (a bank of two 1-channel groups last)."""
    return [
        ShiftSSM(ones(2, 3)),
        DiagonalSSM(ones(2, 2) * 0.5, ones(2, 2), ones(2, 2)),
        DiagonalSSM(torch.full((2, 2), 0.5j), ones(2, 2, dtype=torch.complex128), ones(2, 2, dtype=torch.complex128)),
        DenseSSM(torch.zeros(2, 3, 3, dtype=F64), ones(2, 3), ones(2, 3)),
        SSMBank([ShiftSSM(ones(1, 2)), accumulator(1)]),
    ]


LAYER_IDS = ["shift", "diagonal-real", "diagonal-complex", "dense", "bank"]


@pytest.mark.parametrize("layer", layers_with_two_channels(), ids=LAYER_IDS)
@pytest.mark.parametrize("shape", [(4, 2), (2,), (1, 1, 4, 2)], ids=["rank2", "rank1", "rank4"])
def test_ssm_input_of_wrong_rank_is_a_shape_error_naming_the_shape(layer, shape):
    with raises(ShapeError, "(batch, length, 2)", str(shape)):
        layer(ones(*shape))


@pytest.mark.parametrize("layer", layers_with_two_channels(), ids=LAYER_IDS)
def test_ssm_input_that_is_not_a_tensor_is_a_shape_error(layer):
    with raises(ShapeError, "list"):
        layer([[[1.0, 2.0]]])


@pytest.mark.parametrize("layer", layers_with_two_channels(), ids=LAYER_IDS)
def test_ssm_input_with_wrong_channel_count_is_a_shape_error_naming_both_counts(layer):
    with raises(ShapeError, "3 channels", "has 2"):
        layer(ones(1, 4, 3))


@pytest.mark.parametrize("layer", layers_with_two_channels(), ids=LAYER_IDS)
def test_float32_input_to_float64_ssm_layer_is_a_dtype_mismatch(layer):
    with raises(DTypeMismatchError, "torch.float32", "torch.float64"):
        layer(ones(1, 4, 2, dtype=torch.float32))


@pytest.mark.parametrize("layer", layers_with_two_channels(), ids=LAYER_IDS)
def test_ssm_input_on_meta_device_is_a_device_mismatch(layer):
    with raises(DeviceMismatchError, "meta", "cpu"):
        layer(torch.empty(1, 4, 2, dtype=F64, device="meta"))


@pytest.mark.parametrize("layer", layers_with_two_channels(), ids=LAYER_IDS)
def test_unknown_ssm_mode_is_rejected_naming_the_mode_and_the_choices(layer):
    with raises(ValueError, "'bogus'", "recurrence", "fft"):
        layer(ones(1, 4, 2), "bogus")


def test_unknown_ssm_mode_is_a_suite_error():
    with pytest.raises(SuiteError):
        ShiftSSM(ones(1, 2))(ones(1, 4, 1), "bogus")


@pytest.mark.parametrize(
    "build, name",
    [
        (lambda: ShiftSSM(torch.tensor([[1.0, NAN]], dtype=F64)), "C"),
        (lambda: ShiftSSM(torch.tensor([[1.0, 0.5j * INF]])), "C"),
        (lambda: ShiftSSM(ones(1, 2), skip=torch.tensor([INF], dtype=F64)), "skip"),
        (lambda: DiagonalSSM(torch.full((1, 2), NAN, dtype=F64), ones(1, 2), ones(1, 2)), "lam"),
        (lambda: DiagonalSSM(ones(1, 2), torch.full((1, 2), -INF, dtype=F64), ones(1, 2)), "B"),
        (lambda: DiagonalSSM(ones(1, 2), ones(1, 2), torch.full((1, 2), INF, dtype=F64)), "C"),
        (lambda: DenseSSM(torch.full((1, 2, 2), NAN, dtype=F64), ones(1, 2), ones(1, 2)), "A"),
        (lambda: DenseSSM(torch.zeros(1, 2, 2, dtype=F64), ones(1, 2) * NAN, ones(1, 2)), "B"),
    ],
    ids=["shift-taps-nan", "shift-taps-complex-inf", "skip-inf", "diag-lam-nan", "diag-B-inf", "diag-C-inf",
         "dense-A-nan", "dense-B-nan"],
)
def test_non_finite_ssm_weights_are_rejected_at_construction_naming_the_tensor(build, name):
    with raises(NonFiniteWeightError, f"{name} contains non-finite"):
        build()


@pytest.mark.parametrize("lookahead", [-1, 1.5, "2", None])
def test_bad_lookahead_is_a_shape_error_naming_the_value(lookahead):
    with raises(ShapeError, "lookahead", repr(lookahead)):
        ShiftSSM(ones(2, 2), lookahead=lookahead)


def test_mismatched_b_and_c_shapes_are_a_shape_error_naming_both_shapes():
    with raises(ShapeError, "B and C", "(2, 2)", "(2, 3)"):
        DenseSSM(torch.zeros(2, 3, 3, dtype=F64), ones(2, 2), ones(2, 3))
    with raises(ShapeError, "B and C", "(2, 2)", "(2, 3)"):
        DiagonalSSM(ones(2, 3), ones(2, 2), ones(2, 3))


def test_b_or_c_of_wrong_rank_is_a_shape_error():
    with raises(ShapeError, "B must have rank 2", "(3,)"):
        DiagonalSSM(ones(2, 3), ones(3), ones(2, 3))


def test_diagonal_lam_of_wrong_shape_is_a_shape_error_naming_both_shapes():
    with raises(ShapeError, "lam must have shape (2, 3)", "(2, 2)"):
        DiagonalSSM(ones(2, 2), ones(2, 3), ones(2, 3))
    with raises(ShapeError, "lam must have rank 2"):
        DiagonalSSM(ones(3), ones(2, 3), ones(2, 3))


def test_dense_a_of_wrong_shape_is_a_shape_error_naming_the_expected_shape():
    with raises(ShapeError, "A must have shape (2, 3, 3)", "(2, 3, 2)"):
        DenseSSM(torch.zeros(2, 3, 2, dtype=F64), ones(2, 3), ones(2, 3))
    with raises(ShapeError, "A must have rank 3"):
        DenseSSM(torch.zeros(3, 3, dtype=F64), ones(2, 3), ones(2, 3))


def test_dense_c_of_rank_one_is_a_shape_error():
    with raises(ShapeError, "C must have rank 2"):
        DenseSSM(torch.zeros(2, 3, 3, dtype=F64), ones(2, 3), ones(3))


def test_skip_of_wrong_shape_is_a_shape_error():
    with raises(ShapeError, "skip must have shape (2,)", "(3,)"):
        ShiftSSM(ones(2, 2), skip=torch.zeros(3, dtype=F64))


def test_skip_of_another_dtype_is_a_dtype_mismatch():
    with pytest.raises(DTypeMismatchError):
        ShiftSSM(ones(2, 2), skip=torch.zeros(2, dtype=torch.float32))


def test_shift_taps_of_wrong_rank_or_without_columns_are_shape_errors():
    with raises(ShapeError, "taps must have rank 2", "(2,)"):
        ShiftSSM(ones(2))
    with raises(ShapeError, "at least one column"):
        ShiftSSM(ones(2, 0))


@pytest.mark.parametrize("amounts", [[], [1, -1]])
def test_shifts_with_empty_or_negative_amounts_is_a_shape_error_naming_them(amounts):
    with raises(ShapeError, "shift amounts", str(amounts)):
        shifts(amounts)


def test_empty_ssm_bank_is_a_shape_error():
    with raises(ShapeError, "at least one group"):
        SSMBank([])


def test_ssm_bank_of_groups_with_different_dtypes_is_a_dtype_mismatch_naming_them():
    with raises(DTypeMismatchError, "torch.float32", "torch.float64"):
        SSMBank([ShiftSSM(ones(1, 2)), ShiftSSM(ones(1, 2, dtype=torch.float32))])


# ----------------------------------------------------------------------------- FNN
def two_layer_fnn():
    return FNN([(ones(3, 2), ones(3)), (ones(1, 3), ones(1))])


def test_fnn_without_layers_is_a_shape_error():
    with raises(ShapeError, "at least one affine layer"):
        FNN([])


def test_fnn_weight_of_wrong_rank_is_a_shape_error_naming_the_layer():
    with raises(ShapeError, "layer 0 weight must have rank 2", "(3,)"):
        FNN([(ones(3), ones(3))])


def test_fnn_bias_of_wrong_rank_is_a_shape_error_naming_the_layer():
    with raises(ShapeError, "layer 1 bias must have rank 1", "(1, 1)"):
        FNN([(ones(3, 2), ones(3)), (ones(1, 3), ones(1, 1))])


def test_fnn_bias_length_differing_from_weight_rows_is_a_shape_error_naming_both():
    with raises(ShapeError, "layer 0", "bias has 2 entries", "3 rows"):
        FNN([(ones(3, 2), ones(2))])


def test_fnn_layers_that_do_not_chain_are_a_shape_error_naming_both_widths():
    with raises(ShapeError, "layer 1 takes 4 inputs", "layer 0 gives 3"):
        FNN([(ones(3, 2), ones(3)), (ones(1, 4), ones(1))])


@pytest.mark.parametrize("which", ["weight", "bias"])
def test_fnn_non_finite_weights_are_rejected_naming_the_layer_and_tensor(which):
    W, b = ones(1, 3), ones(1)
    if which == "weight":
        W = W * NAN
    else:
        b = b * INF
    with raises(NonFiniteWeightError, f"layer 1 {which} contains non-finite"):
        FNN([(ones(3, 2), ones(3)), (W, b)])


def test_fnn_layers_of_different_dtypes_are_a_dtype_mismatch_naming_the_layer():
    with raises(DTypeMismatchError, "layer 1", "torch.float64"):
        FNN([(ones(3, 2), ones(3)), (ones(1, 3, dtype=torch.float32), ones(1, dtype=torch.float32))])


def test_fnn_bias_dtype_differing_from_its_weight_is_a_dtype_mismatch():
    with raises(DTypeMismatchError, "layer 0"):
        FNN([(ones(3, 2), ones(3, dtype=torch.float32))])


def test_fnn_bias_dtype_mismatch_message_names_the_bias_and_its_dtype():
    with raises(DTypeMismatchError, "bias", "torch.float32"):
        FNN([(ones(3, 2), ones(3, dtype=torch.float32))])


def test_fnn_layouts_that_do_not_match_the_stage_widths_are_a_shape_error():
    with raises(ShapeError, "[2, 2]", "[2, 3]"):
        FNN([(ones(3, 2), ones(3))], [Layout.of(a=2), Layout.of(b=2)])
    with raises(ShapeError, "[2]", "[2, 3]"):
        FNN([(ones(3, 2), ones(3))], [Layout.of(a=2)])


@pytest.mark.parametrize("x", [ones(4, 3), ones(4, 1), torch.tensor(1.0, dtype=F64), [1.0, 2.0]],
                         ids=["too-wide", "too-narrow", "scalar", "list"])
def test_fnn_input_of_wrong_width_is_a_shape_error_naming_the_expected_width(x):
    with raises(ShapeError, "must end in 2 features"):
        two_layer_fnn()(x)


def test_float32_input_to_float64_fnn_is_a_dtype_mismatch():
    with raises(DTypeMismatchError, "torch.float32", "torch.float64"):
        two_layer_fnn()(ones(4, 2, dtype=torch.float32))


def test_fnn_input_on_meta_device_is_a_device_mismatch():
    with raises(DeviceMismatchError, "meta", "cpu"):
        two_layer_fnn()(torch.empty(4, 2, dtype=F64, device="meta"))


def test_fnn_built_from_layers_on_two_devices_is_a_device_mismatch(monkeypatch):
    # The finiteness check cannot read a meta tensor (see the xfail below); skip it to reach the device check.
    monkeypatch.setattr("constructions.fnn.require_finite", lambda name, t: None)
    meta = dict(dtype=F64, device="meta")
    with raises(DeviceMismatchError, "layer 1", "another device"):
        FNN([(ones(3, 2), ones(3)), (torch.empty(1, 3, **meta), torch.empty(1, **meta))])


def test_fnn_with_a_meta_layer_is_a_device_mismatch():
    meta = dict(dtype=F64, device="meta")
    with pytest.raises(DeviceMismatchError):
        FNN([(ones(3, 2), ones(3)), (torch.empty(1, 3, **meta), torch.empty(1, **meta))])


# ----------------------------------------------------------------------------- layouts
def test_layout_with_duplicate_names_or_bad_widths_is_a_shape_error():
    with raises(ShapeError, "unique", "['a', 'a']"):
        Layout((("a", 1), ("a", 2)))
    with raises(ShapeError, "'a'", "-1"):
        Layout.of(a=-1)
    with raises(ShapeError, "'a'", "1.5"):
        Layout.of(a=1.5)


def test_layout_split_of_a_tensor_with_the_wrong_width_is_a_shape_error():
    with raises(ShapeError, "3 channels", "has 1"):
        Layout.of(a=1).split(ones(2, 3))


def test_affine_map_connection_with_an_unfitting_value_is_a_shape_error_naming_the_blocks():
    m = AffineMap(Layout.of(a=2, b=1), Layout.of(c=3, d=1))
    with raises(ShapeError, "'a'->'c'", "square", "(3, 2)"):
        m.connect("c", "a", 1.0)
    with raises(ShapeError, "'a'->'c'", "(3, 2)"):
        m.connect("c", "a", ones(4))
    with raises(ShapeError, "'a'->'c'", "(3, 2)"):
        m.connect("c", "a", ones(2, 3))


# ----------------------------------------------------------------------------- embeddings and network
VOCAB = Vocabulary.of(key=3, value=2)  # ids 0..4


def embeddings():
    return [OneHotEmbedding(VOCAB), BinaryEmbedding(VOCAB, flags=["key"]), TableEmbedding(VOCAB, ones(5, 2))]


def tiny_network():
    return SSMNetwork(OneHotEmbedding(VOCAB), [(shifts([0, 1, 0, 1, 0]), FNN.identity(5))])


EMBEDDERS = [*embeddings(), tiny_network()]
EMBEDDER_IDS = ["onehot", "binary", "table", "network"]


@pytest.mark.parametrize("module", EMBEDDERS, ids=EMBEDDER_IDS)
def test_negative_token_id_is_a_token_range_error_naming_id_and_position(module):
    with raises(TokenRangeError, "token id -1", "position (0, 2)", "[0, 5)"):
        module(torch.tensor([[0, 1, -1]]))


@pytest.mark.parametrize("module", EMBEDDERS, ids=EMBEDDER_IDS)
def test_token_id_equal_to_vocabulary_size_is_a_token_range_error_naming_id_and_position(module):
    with raises(TokenRangeError, "token id 5", "position (1, 0)", "[0, 5)"):
        module(torch.tensor([[0, 4], [5, 1]]))


@pytest.mark.parametrize("module", EMBEDDERS, ids=EMBEDDER_IDS)
@pytest.mark.parametrize("dtype", [torch.float32, torch.float64, torch.bool])
def test_non_integer_tokens_are_a_token_range_error_naming_the_dtype(module, dtype):
    with raises(TokenRangeError, "integer ids", str(dtype)):
        module(torch.zeros(1, 2, dtype=dtype))


@pytest.mark.parametrize("module", EMBEDDERS, ids=EMBEDDER_IDS)
@pytest.mark.parametrize("shape", [(3,), (1, 1, 3)], ids=["rank1", "rank3"])
def test_tokens_of_wrong_rank_are_a_shape_error_naming_the_shape(module, shape):
    with raises(ShapeError, "(batch, length)", str(shape)):
        module(torch.zeros(*shape, dtype=torch.long))


@pytest.mark.parametrize("module", EMBEDDERS, ids=EMBEDDER_IDS)
def test_tokens_on_meta_device_are_a_device_mismatch(module):
    with raises(DeviceMismatchError, "meta", "cpu"):
        module(torch.empty(1, 3, dtype=torch.long, device="meta"))


def test_binary_embedding_flag_of_unknown_segment_is_a_shape_error_naming_it():
    with raises(ShapeError, "'nope'", "('key', 'value')"):
        BinaryEmbedding(VOCAB, flags=["nope"])


def test_table_embedding_of_wrong_shape_or_non_finite_is_rejected():
    with raises(ShapeError, "4 rows", "5 tokens"):
        TableEmbedding(VOCAB, ones(4, 2))
    with raises(ShapeError, "rank 2"):
        TableEmbedding(VOCAB, ones(5))
    with raises(ShapeError, "layout width 3", "table width 2"):
        TableEmbedding(VOCAB, ones(5, 2), Layout.of(a=3))
    with raises(NonFiniteWeightError, "embedding table"):
        TableEmbedding(VOCAB, ones(5, 2) * NAN)


def test_network_whose_embedding_and_first_ssm_widths_differ_is_a_shape_error():
    with raises(ShapeError, "the embedding gives 5 channels", "SSM layer 1 has 2"):
        SSMNetwork(OneHotEmbedding(VOCAB), [(shifts([0, 1]), FNN.identity(2))])


def test_network_whose_ssm_and_post_fnn_widths_differ_is_a_shape_error():
    with raises(ShapeError, "SSM gives 5 channels", "post-FNN takes 3"):
        SSMNetwork(OneHotEmbedding(VOCAB), [(shifts([0] * 5), FNN.identity(3))])


def test_network_whose_pre_fnn_does_not_fit_the_embedding_is_a_shape_error():
    with raises(ShapeError, "the embedding gives 5 channels", "pre-FNN takes 4"):
        SSMNetwork(OneHotEmbedding(VOCAB), [(shifts([0] * 4), FNN.identity(4))], pre_fnn=FNN.identity(4))


def test_network_whose_block_output_does_not_fit_the_next_ssm_is_a_shape_error():
    narrowing = FNN([(ones(3, 5), ones(3))])
    with raises(ShapeError, "the FNN of block 1 gives 3 channels", "SSM layer 2 has 5"):
        SSMNetwork(OneHotEmbedding(VOCAB), [(shifts([0] * 5), narrowing), (shifts([0] * 5), FNN.identity(5))])


def test_network_with_parts_of_different_dtypes_is_a_dtype_mismatch():
    f32 = dict(dtype=torch.float32)
    with raises(DTypeMismatchError, "torch.float32", "torch.float64"):
        SSMNetwork(OneHotEmbedding(VOCAB), [(shifts([0] * 5, **f32), FNN.identity(5, **f32))])


def test_network_with_an_empty_clip_interval_is_a_shape_error():
    with raises(ShapeError, "clip", "(1.0, 0.0)"):
        SSMNetwork(OneHotEmbedding(VOCAB), [(shifts([0] * 5), FNN.identity(5))], clip=(1.0, 0.0))


# ----------------------------------------------------------------------------- vocabularies and tasks
def test_vocabulary_with_duplicate_or_empty_segments_is_infeasible():
    with raises(InfeasibleTaskError, "unique", "['a', 'a']"):
        Vocabulary((("a", 1), ("a", 2)))
    with raises(InfeasibleTaskError, "'a'", "0"):
        Vocabulary.of(a=0)


def test_ar_config_with_more_pairs_than_distinct_keys_is_infeasible_naming_the_counts():
    with raises(InfeasibleTaskError, "3 pairs", "2^1 = 2"):
        ARConfig(num_keys=2, num_values=2, num_pairs=3)
    with raises(InfeasibleTaskError, "5 pairs", "2^2 = 4"):
        ARConfig(num_keys=2, num_values=2, num_pairs=5, key_length=2)


def test_ar_config_with_more_queries_than_pairs_is_infeasible():
    with raises(InfeasibleTaskError, "3 distinct queries", "got 2"):
        ARConfig(num_keys=4, num_values=2, num_pairs=2, num_queries=3)


def test_query_first_ar_config_with_two_queries_is_infeasible():
    with raises(InfeasibleTaskError, "query-first", "num_queries=1"):
        ARConfig(num_keys=4, num_values=2, num_pairs=2, num_queries=2, query="first")


@pytest.mark.parametrize("field", ["num_keys", "num_values", "num_pairs", "num_queries", "key_length"])
@pytest.mark.parametrize("value", [0, -1, 2.0, True, "2", None])
def test_ar_config_size_that_is_not_a_positive_integer_is_infeasible_naming_field_and_value(field, value):
    sizes = dict(num_keys=4, num_values=4, num_pairs=2, num_queries=1, key_length=1)
    sizes[field] = value
    with raises(InfeasibleTaskError, field, repr(value)):
        ARConfig(**sizes)


def test_ar_config_with_unknown_query_position_is_infeasible():
    with raises(InfeasibleTaskError, "'middle'"):
        ARConfig(num_keys=4, num_values=2, num_pairs=2, query="middle")


def test_ar_config_with_too_many_ngram_keys_is_infeasible():
    with raises(InfeasibleTaskError, "too large"):
        ARConfig(num_keys=2**31, num_values=2, num_pairs=2, key_length=2)


@pytest.mark.parametrize("batch", [0, -3, 2.0])
def test_generate_with_a_batch_that_is_not_positive_is_infeasible(batch):
    with raises(InfeasibleTaskError, "batch", repr(batch)):
        generate(ARConfig(4, 4, 2), batch, 0)


@pytest.mark.parametrize("seed", [1.0, "0", True, None])
def test_generate_with_a_seed_that_is_not_an_int_or_generator_is_a_type_error(seed):
    with raises(TypeError, "seed", type(seed).__name__):
        generate(ARConfig(4, 4, 2), 1, seed)
    with pytest.raises(TypeError):
        as_generator(seed)


@pytest.mark.parametrize("length", [4, 6, 0])
def test_reference_answers_of_tokens_with_the_wrong_length_is_a_shape_error_naming_it(length):
    config = ARConfig(4, 4, 2)  # length 5
    with raises(ShapeError, f"length {length}", "has length 5"):
        reference_answers(config, torch.zeros(2, length, dtype=torch.long))


def test_reference_answers_of_rank_one_tokens_is_a_shape_error():
    with pytest.raises(ShapeError):
        reference_answers(ARConfig(4, 4, 2), torch.zeros(5, dtype=torch.long))


def test_enumerating_more_instances_than_the_limit_is_infeasible_naming_both_counts():
    with raises(InfeasibleTaskError, "4608 instances", "limit 10"):
        enumerate_instances(ARConfig(4, 4, 3), limit=10)


def test_sampling_more_distinct_items_than_the_population_is_infeasible():
    with raises(InfeasibleTaskError, "5 distinct", "population of 3"):
        sample_distinct(2, 5, 3, torch.Generator())


# ----------------------------------------------------------------------------- registry
def a_claim(**changes):
    record = dict(id="test.example", title="An example", stated="Something holds.", checked_as="Checked so.", provenance="reconstructed",
                  source="tests", kind="exact", paper_claims=["model"])
    record.update(changes)
    return claim(**record)


def test_unknown_claim_id_is_an_unknown_claim_error_suggesting_the_close_match():
    registry = load()
    with raises(UnknownClaimError, "'model.shift-kernal'", "did you mean", "model.shift-kernel"):
        registry.get("model.shift-kernal")
    with raises(UnknownClaimError, "'model.shift-kernal'", "model.shift-kernel"):
        registry.select(["model.accumulator", "model.shift-kernal"])


def test_unknown_claim_id_without_close_match_points_to_the_list():
    with raises(UnknownClaimError, "'zzzz'", "--list"):
        load().get("zzzz")


def test_claim_with_a_misspelt_field_is_a_registry_error_naming_it_and_the_known_fields():
    with raises(RegistryError, "test.example", "['titel']", "'title'"):
        claim(id="test.example", titel="An example", stated="s", checked_as="s", provenance="paper", source="s", kind="exact",
              paper_claims=["model"])


def test_claim_with_a_missing_field_is_a_registry_error():
    with raises(RegistryError, "test.example", "source"):
        claim(id="test.example", title="An example", stated="s", checked_as="s", provenance="paper", kind="exact",
              paper_claims=["model"])


@pytest.mark.parametrize(
    "changes, fragments",
    [
        (dict(provenance="rumour"), ("provenance", "'rumour'")),
        (dict(kind="vibes"), ("kind", "'vibes'")),
        (dict(expected="not-run"), ("expected", "'not-run'")),
        (dict(paper_claims=["C9"]), ("paper_claims",)),
        (dict(paper_claims=[]), ("paper_claims",)),
        (dict(title="  "), ("'title'", "non-empty")),
        (dict(stated=""), ("'stated'", "non-empty")),
        (dict(checked_as=" "), ("'checked_as'", "non-empty")),
        (dict(id="NoDots"), ("'NoDots'", "family.name")),
    ],
    ids=["provenance", "kind", "expected", "paper-claims-unknown", "paper-claims-empty", "blank-title", "blank-stated",
         "blank-checked-as", "bad-id"],
)
def test_claim_violating_the_schema_is_a_registry_error_naming_the_field(changes, fragments):
    with raises(RegistryError, *fragments):
        a_claim(**changes)


def test_registry_with_duplicate_ids_is_a_registry_error_naming_the_id():
    with raises(RegistryError, "'test.example'", "twice"):
        Registry([a_claim(), a_claim(title="Another")])
