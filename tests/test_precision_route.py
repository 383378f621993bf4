"""The precision-route construction's input checks and the exact (rational) evaluator: formats it
does not solve are refused with errors naming the problem; the exact twin computes what the torch
network computes (exactly, where float64 is exact); rounding and bit counting are right."""

from __future__ import annotations

import re
from fractions import Fraction

import pytest
import torch
from hypothesis import given, settings
from hypothesis import strategies as st

from constructions.associative_recall import precision_route as route
from constructions.embedding import OneHotEmbedding
from constructions.errors import DTypeMismatchError, InfeasibleTaskError, ShapeError, UnknownOptionError
from constructions.exact_arithmetic import (
    ExactNetwork,
    denominator_bits,
    round_to_bits,
    significant_bits,
    verify_exact,
)
from constructions.fnn import FNN
from constructions.layout import Layout
from constructions.network import SSMNetwork
from constructions.ssm import DenseSSM, DiagonalSSM, ShiftSSM, SSMBank, accumulator
from constructions.tasks.associative_recall import ARConfig, enumerate_instances, generate
from constructions.vocabulary import Vocabulary

F64 = torch.float64


def raises(error, *fragments):
    pattern = "".join(f"(?=.*{re.escape(f)})" for f in fragments)
    return pytest.raises(error, match=re.compile(pattern, re.DOTALL))


# ----------------------------------------------------------------------------- formats refused
@pytest.mark.parametrize("config, fragments", [
    (ARConfig(4, 4, 2, query="first"), ("query='last'", "query='first'")),
    (ARConfig(4, 4, 2, key_length=2), ("key_length=1", "key_length=2")),
    (ARConfig(4, 4, 3, num_queries=2), ("num_queries=1", "num_queries=2")),
])
def test_unsupported_formats_are_refused_by_name(config, fragments):
    with raises(InfeasibleTaskError, *fragments):
        route.build(config)
    with raises(InfeasibleTaskError, *fragments):
        route.mutations(config)


def test_build_refuses_something_that_is_not_a_format():
    with raises(InfeasibleTaskError, "ARConfig", "dict"):
        route.build({"num_keys": 4})


def test_widest_state_instance_needs_two_keys_and_two_values():
    with raises(InfeasibleTaskError, "K=1", "V=3"):
        route.widest_state_instance(ARConfig(1, 3, 1))
    with raises(InfeasibleTaskError, "K=4", "V=1"):
        route.widest_state_instance(ARConfig(4, 1, 2))


def test_dense_map_refuses_blocks_that_do_not_fit():
    source, target = Layout.of(a=2, b=3), Layout.of(c=2, d=1)
    with raises(ShapeError, "square", "'b'->'c'"):
        route.DenseMap(source, target).connect("c", "b", 1)
    with raises(ShapeError, "'a'->'c'", "(2, 2)", "(3, 3)"):
        route.DenseMap(source, target).connect("c", "a", torch.ones(3, 3))
    with raises(ShapeError, "no block 'e'"):
        route.DenseMap(source, target).connect("e", "a", 1)


def test_float_capacity_formulas():
    config = ARConfig(16, 2, 4)  # m = 4, b = 1: w = 5, 2 N w = 40
    assert route.block_digits(config) == 5 and route.memory_bits(config) == 40
    assert route.float_exact(config, 53) and not route.float_exact(config, 24)
    assert route.largest_exact_pairs(16, 2, 53) == 5  # 2*5*5 - 1 = 49 <= 53 < 2*6*5 - 1
    assert route.largest_exact_pairs(16, 2, 24) == 2
    assert route.largest_exact_pairs(4096, 4096, 24) == 0  # one pair needs 47 bits
    assert route.largest_exact_pairs(2, 2, 53) == 2  # capped by the number of keys


def test_mutations_each_change_one_existing_weight():
    config = ARConfig(4, 4, 3)
    params = dict(route.build(config).network.named_parameters())
    for mutation in route.mutations(config):
        assert params[mutation.parameter][mutation.index].item() != mutation.value


# ----------------------------------------------------------------------------- the exact twin
@pytest.mark.parametrize("config", [ARConfig(2, 2, 2), ARConfig(3, 2, 3), ARConfig(4, 4, 3), ARConfig(16, 2, 5), ARConfig(5, 9, 1)])
def test_exact_twin_equals_the_float64_network_where_float64_is_exact(config):
    construction = route.build(config)
    batch = enumerate_instances(config, limit=300) if config.num_pairs <= 2 or config.num_keys <= 3 else generate(config, 16, 3)
    tokens = batch.tokens[:40]
    run = ExactNetwork(construction.network).run(tokens)
    expected = construction.network(tokens)
    got = torch.tensor([[[float(v) for v in out] for out in seq] for seq in run.outputs], dtype=F64)
    assert torch.equal(got, expected)
    assert verify_exact(construction, tokens).ok


def test_exact_twin_answers_where_float64_fails():
    config = ARConfig(32, 4, 8)  # 2 N w - 1 = 111 bits
    construction = route.build(config)
    tokens = generate(config, 16, 0).tokens
    from constructions.verification import verify

    assert not verify(construction, tokens).ok
    result = verify_exact(construction, tokens)
    assert result.ok, result.describe()
    assert result.state_denominator_bits[1] <= route.memory_bits(config)


def _dyadic(shape, seed, scale=4):
    g = torch.Generator().manual_seed(seed)
    return torch.randint(-scale, scale + 1, shape, generator=g).to(F64) / scale


def generic_network(seed: int, clip=None) -> SSMNetwork:
    """Every layer kind the exact twin knows, with small dyadic weights (float64 is exact on them)."""
    vocab = Vocabulary.of(a=4)
    bank = SSMBank([
        ShiftSSM(_dyadic((1, 3), seed), skip=_dyadic((1,), seed + 1), lookahead=1),
        DiagonalSSM(_dyadic((1, 2), seed + 2) * 0.5, _dyadic((1, 2), seed + 3), _dyadic((1, 2), seed + 4)),
        DenseSSM(_dyadic((1, 2, 2), seed + 5) * 0.5, _dyadic((1, 2), seed + 6), _dyadic((1, 2), seed + 7)),
        accumulator(1),
    ])
    pre = FNN([(_dyadic((4, 4), seed + 8), _dyadic((4,), seed + 9))])
    post = FNN([(_dyadic((5, 4), seed + 10), _dyadic((5,), seed + 11)), (_dyadic((2, 5), seed + 12), _dyadic((2,), seed + 13))])
    return SSMNetwork(OneHotEmbedding(vocab), [(bank, post)], pre_fnn=pre, clip=clip)


@settings(max_examples=20, deadline=None)
@given(seed=st.integers(0, 10_000), length=st.integers(1, 12), clip=st.sampled_from([None, (-0.5, 0.75)]))
def test_exact_twin_equals_torch_on_every_layer_kind(seed, length, clip):
    network = generic_network(seed, clip)
    tokens = torch.randint(0, 4, (2, length), generator=torch.Generator().manual_seed(seed))
    run = ExactNetwork(network).run(tokens)
    got = torch.tensor([[[float(v) for v in out] for out in seq] for seq in run.outputs], dtype=F64)
    for mode in ("recurrence", "direct"):
        assert torch.allclose(got, network(tokens, mode), rtol=0, atol=1e-12), mode


def test_exact_twin_restricts_the_last_fnn_to_the_positions_asked_for():
    network = generic_network(7)
    tokens = torch.randint(0, 4, (3, 9), generator=torch.Generator().manual_seed(1))
    every = ExactNetwork(network).run(tokens)
    some = ExactNetwork(network).run(tokens, positions=[8, 2])
    assert some.positions == [8, 2]
    assert all(s == [e[8], e[2]] for s, e in zip(some.outputs, every.outputs))


def test_state_rounding_with_enough_bits_changes_nothing_and_too_few_do():
    config = ARConfig(16, 4, 3)
    construction = route.build(config)
    widest = route.widest_state_instance(config).tokens
    need = route.memory_bits(config) - 1
    exact = ExactNetwork(construction.network)
    plain = exact.run(widest)
    assert plain.state_significant_bits[1] == need and plain.state_denominator_bits[1] == need + 1
    assert exact.run(widest, state_bits=need).outputs == plain.outputs
    assert exact.run(widest, state_bits=need - 1, rounding="truncate").outputs != plain.outputs


# ----------------------------------------------------------------------------- errors of the twin
def test_exact_twin_refuses_complex_layers_and_bad_options():
    lam = torch.full((1, 1), 0.5j)
    ones = torch.ones(1, 1, dtype=torch.complex128)
    complex_net = SSMNetwork(OneHotEmbedding(Vocabulary.of(a=1)), [(DiagonalSSM(lam, ones, ones), FNN.identity(1))])
    with raises(DTypeMismatchError, "complex", "DiagonalSSM"):
        ExactNetwork(complex_net)
    with raises(ShapeError, "SSMNetwork", "FNN"):
        ExactNetwork(FNN.identity(2))
    exact = ExactNetwork(generic_network(0))
    tokens = torch.zeros(1, 4, dtype=torch.long)
    with raises(ShapeError, "state_bits", "0"):
        exact.run(tokens, state_bits=0)
    with raises(ShapeError, "state_bits", "2.5"):
        exact.run(tokens, state_bits=2.5)
    with raises(UnknownOptionError, "'up'", "nearest"):
        exact.run(tokens, rounding="up")
    with raises(ShapeError, "positions [4]", "length 4"):
        exact.run(tokens, positions=[0, 4])


# ----------------------------------------------------------------------------- numbers
def test_bit_counts_of_fractions():
    assert significant_bits(Fraction(3, 8)) == 2 and denominator_bits(Fraction(3, 8)) == 3
    assert significant_bits(Fraction(6)) == 2 and denominator_bits(Fraction(6)) == 0
    assert significant_bits(Fraction(0)) == 0
    assert significant_bits(Fraction(1, 3)) == float("inf") and denominator_bits(Fraction(1, 3)) == float("inf")
    assert significant_bits(Fraction(-5, 16)) == 3


def test_rounding_to_bits_examples():
    assert round_to_bits(Fraction(5, 8), 2) == Fraction(1, 2)  # 0.101 -> tie -> even 0.10
    assert round_to_bits(Fraction(7, 8), 2) == 1  # 0.111 -> tie -> even 1.00
    assert round_to_bits(Fraction(7, 8), 2, "truncate") == Fraction(3, 4)
    assert round_to_bits(Fraction(-7, 8), 2) == -1
    assert round_to_bits(Fraction(1, 3), 4) == Fraction(11, 32)  # 0.0101|0101.. -> 0.01011
    assert round_to_bits(Fraction(0), 3) == 0
    with raises(ShapeError, "state_bits", "0"):
        round_to_bits(Fraction(1), 0)
    with raises(UnknownOptionError, "'ceil'"):
        round_to_bits(Fraction(1), 3, "ceil")


@given(num=st.integers(-(10**12), 10**12).filter(bool), den=st.integers(1, 10**9), bits=st.integers(1, 60),
       rounding=st.sampled_from(["nearest", "truncate"]))
def test_rounding_keeps_the_bits_asked_for_within_one_unit_in_the_last_place(num, den, bits, rounding):
    x = Fraction(num, den)
    r = round_to_bits(x, bits, rounding)
    assert significant_bits(r) <= bits
    e = 0  # 2^e <= |x| < 2^(e+1)
    while Fraction(2) ** e > abs(x):
        e -= 1
    while Fraction(2) ** (e + 1) <= abs(x):
        e += 1
    ulp = Fraction(2) ** (e - bits + 1)
    assert abs(r - x) <= (ulp / 2 if rounding == "nearest" else ulp)
    if rounding == "truncate":
        assert abs(r) <= abs(x)
    if significant_bits(x) <= bits:
        assert r == x
