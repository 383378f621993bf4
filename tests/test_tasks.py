"""The associative-recall task format: invariants of the seeded generator, the reference answers,
exhaustive enumeration and the distinct-sampling helper (both of its branches)."""

from __future__ import annotations

import pytest
import torch
from hypothesis import assume, example, given, settings
from hypothesis import strategies as st

from checks.strategies import ar_configs, seeds
from constructions.tasks.associative_recall import (
    ARBatch,
    ARConfig,
    enumerate_instances,
    generate,
    instance_count,
    reference_answers,
)
from constructions.tasks.sampling import as_generator, sample_distinct

#: Both formats, n-gram keys, several queries; small enough that a batch costs milliseconds.
CONFIGS = st.one_of(
    ar_configs(query="last", max_keys=16, max_values=16, max_length=48, key_lengths=(1, 2, 3), max_queries=4),
    ar_configs(query="first", max_keys=16, max_values=16, max_length=48, key_lengths=(1, 2, 3)),
)
#: Formats with at most a few thousand instances, for exhaustive enumeration.
TINY_CONFIGS = st.one_of(
    ar_configs(query="last", max_keys=3, max_values=3, max_length=10, key_lengths=(1, 2), max_queries=2),
    ar_configs(query="first", max_keys=3, max_values=3, max_length=10, key_lengths=(1, 2)),
)
#: Key spaces far beyond a permutation table (2^60 n-gram keys): the generator's redraw branch.
HUGE_KEY_SPACES = [
    ARConfig(num_keys=2**20, num_values=7, num_pairs=20, num_queries=3, key_length=3),
    ARConfig(num_keys=2**20, num_values=7, num_pairs=20, key_length=3, query="first"),
]


def segment_ok(config: ARConfig, ids: torch.Tensor, segment: str) -> bool:
    vocab = config.vocabulary()
    lo = vocab.offset(segment)
    return bool(((ids >= lo) & (ids < lo + vocab.segment_size(segment))).all())


def check_batch(config: ARConfig, batch: ARBatch) -> None:
    """Every invariant of the format, read off the tokens (and compared with the batch's bookkeeping)."""
    tokens = batch.tokens
    B, T = tokens.shape
    n, N, Q = config.key_length, config.num_pairs, config.num_queries
    vocab = config.vocabulary()
    assert T == config.length == N * (n + 1) + Q * n
    assert tokens.dtype == torch.long
    # Segments at the right positions.
    start = config.pairs_start()
    pairs = tokens[:, start : start + N * (n + 1)].reshape(B, N, n + 1)
    pair_keys, pair_values = pairs[..., :n], pairs[..., n]
    assert segment_ok(config, pair_keys, "key") and segment_ok(config, pair_values, "value")
    if config.query == "first":
        assert start == n
        for j in range(n):
            assert segment_ok(config, tokens[:, j], f"query{j}")
        query_keys = torch.stack([tokens[:, j] - vocab.offset(f"query{j}") for j in range(n)], dim=-1).unsqueeze(1)
    else:
        assert start == 0
        queries = tokens[:, N * (n + 1) :]
        assert segment_ok(config, queries, "key")
        query_keys = queries.reshape(B, Q, n) - vocab.offset("key")
    pair_keys = pair_keys - vocab.offset("key")
    # Keys are distinct n-grams within an instance; queries ask for distinct keys.
    same_key = (pair_keys.unsqueeze(2) == pair_keys.unsqueeze(1)).all(-1)  # (B, N, N)
    assert torch.equal(same_key, torch.eye(N, dtype=torch.bool).expand(B, N, N))
    same_query = (query_keys.unsqueeze(2) == query_keys.unsqueeze(1)).all(-1)
    assert torch.equal(same_query, torch.eye(Q, dtype=torch.bool).expand(B, Q, Q))
    # Every query's key occurs exactly once among the pairs; its answer is the value paired with it.
    match = (query_keys.unsqueeze(2) == pair_keys.unsqueeze(1)).all(-1)  # (B, Q, N)
    assert torch.equal(match.sum(-1), torch.ones(B, Q, dtype=torch.long))
    expected = torch.gather(pair_values, 1, match.long().argmax(-1))
    assert torch.equal(batch.answers, expected)
    assert torch.equal(reference_answers(config, tokens), expected)
    assert segment_ok(config, batch.answers, "value")
    # Answer positions: the last token of each query (the last token of the sequence when query-first).
    if config.query == "first":
        positions = [T - 1]
    else:
        positions = [N * (n + 1) + q * n + n - 1 for q in range(Q)]
    assert batch.answer_positions.tolist() == config.answer_positions().tolist() == positions
    # The bookkeeping agrees with the tokens.
    assert torch.equal(batch.keys, pair_keys)
    assert torch.equal(vocab.ids("value", batch.values), pair_values)
    assert torch.equal(batch.queried, match.long().argmax(-1))


def same_batch(a: ARBatch, b: ARBatch) -> bool:
    names = ("tokens", "keys", "values", "queried", "answers", "answer_positions")
    return all(torch.equal(getattr(a, k), getattr(b, k)) for k in names)


# ----------------------------------------------------------------------------- generator invariants
@given(config=CONFIGS, seed=seeds, size=st.integers(1, 8))
def test_generated_batches_satisfy_every_format_invariant(config, seed, size):
    batch = generate(config, size, seed)
    assert len(batch) == size and batch.seed == seed and batch.config == config
    check_batch(config, batch)


@pytest.mark.parametrize("config", HUGE_KEY_SPACES, ids=["query-last", "query-first"])
def test_generated_batches_with_huge_key_spaces_satisfy_every_format_invariant(config):
    check_batch(config, generate(config, 16, 5))


def test_reference_answers_of_the_docstring_example():
    config = ARConfig(num_keys=4, num_values=4, num_pairs=3, num_queries=2)
    tokens = torch.tensor([[1, 6, 3, 4, 0, 6, 3, 1]])
    assert config.length == 8
    assert reference_answers(config, tokens).tolist() == [[4, 6]]
    assert config.answer_positions().tolist() == [6, 7]


def test_reference_answers_are_minus_one_for_a_query_without_a_matching_key():
    config = ARConfig(num_keys=4, num_values=4, num_pairs=2, num_queries=1)
    assert reference_answers(config, torch.tensor([[0, 5, 1, 6, 2]])).tolist() == [[-1]]


# ----------------------------------------------------------------------------- determinism
@settings(max_examples=15)
@given(config=CONFIGS, seed=seeds)
def test_same_seed_gives_an_identical_batch(config, seed):
    a, b = generate(config, 6, seed), generate(config, 6, seed)
    assert same_batch(a, b)
    assert same_batch(a, generate(config, 6, torch.Generator().manual_seed(seed)))


@settings(max_examples=15)
@given(config=CONFIGS, seed=st.integers(0, 2**31))
def test_different_seeds_give_different_batches_when_there_is_more_than_one_instance(config, seed):
    # Instances are uniform, so two 32-instance batches coincide with probability count^-32 <= 2^-32.
    assume(instance_count(config) >= 2)
    assert not torch.equal(generate(config, 32, seed).tokens, generate(config, 32, seed + 1).tokens)


def test_a_format_with_a_single_instance_gives_it_for_every_seed():
    config = ARConfig(num_keys=1, num_values=1, num_pairs=1)
    assert instance_count(config) == 1
    assert torch.equal(generate(config, 3, 0).tokens, generate(config, 3, 99).tokens)


@settings(max_examples=10)
@given(config=CONFIGS, seed=seeds)
def test_generate_does_not_touch_the_global_random_state(config, seed):
    before = torch.random.get_rng_state()
    generate(config, 4, seed)
    assert torch.equal(torch.random.get_rng_state(), before)


def test_generate_with_a_generator_advances_that_generator_only():
    config = ARConfig(8, 8, 4)
    g = as_generator(3)
    first, second = generate(config, 4, g), generate(config, 4, g)
    assert first.seed is None  # a generator is not a reproducible seed
    assert not torch.equal(first.tokens, second.tokens)
    assert same_batch(first, generate(config, 4, 3))


def test_batch_select_keeps_rows_and_answer_positions():
    batch = generate(ARConfig(8, 8, 4, num_queries=2), 5, 0)
    picked = batch.select(torch.tensor([3, 1]))
    assert torch.equal(picked.tokens, batch.tokens[[3, 1]])
    assert torch.equal(picked.answers, batch.answers[[3, 1]])
    assert torch.equal(picked.answer_positions, batch.answer_positions)
    check_batch(batch.config, picked)


# ----------------------------------------------------------------------------- enumeration
@settings(max_examples=15)
@given(config=TINY_CONFIGS)
def test_enumeration_lists_every_instance_once(config):
    count = instance_count(config)
    assume(count <= 3000)
    batch = enumerate_instances(config)
    assert len(batch) == count
    assert torch.unique(batch.tokens, dim=0).shape[0] == count
    check_batch(config, batch)


def test_instance_count_of_a_hand_counted_format():
    # 3 * 2 ordered distinct keys, 2^2 value assignments, 2 ordered queries: 48.
    config = ARConfig(num_keys=3, num_values=2, num_pairs=2, num_queries=2)
    assert instance_count(config) == 48
    assert len(enumerate_instances(config)) == 48


# ----------------------------------------------------------------------------- sample_distinct
def boom(*args, **kwargs):
    raise AssertionError("this branch of sample_distinct must not draw this way")


def check_rows(draws: torch.Tensor, batch: int, k: int, population: int) -> None:
    assert draws.shape == (batch, k) and draws.dtype == torch.long
    assert bool((draws >= 0).all()) and bool((draws < population).all())
    if k:
        assert torch.equal(torch.sort(draws, dim=1).values.diff(dim=1) > 0, torch.ones(batch, k - 1, dtype=torch.bool))


@given(batch=st.integers(1, 20), population=st.integers(1, 60), data=st.data(), seed=seeds)
def test_sample_distinct_small_population_rows_are_distinct(batch, population, data, seed):
    k = data.draw(st.integers(0, population))
    with pytest.MonkeyPatch.context() as mp:
        mp.setattr(torch, "randint", boom)  # the permutation branch only
        draws = sample_distinct(batch, k, population, torch.Generator().manual_seed(seed))
    check_rows(draws, batch, k, population)


@given(batch=st.integers(1, 20), population=st.sampled_from([5000, 2**40, 2**62]), k=st.integers(1, 64), seed=seeds)
@example(batch=4097, population=4096, k=3, seed=0)  # small population, but batch x population > 2^24
def test_sample_distinct_huge_population_rows_are_distinct(batch, population, k, seed):
    with pytest.MonkeyPatch.context() as mp:
        mp.setattr(torch, "rand", boom)  # the redraw branch only
        draws = sample_distinct(batch, k, population, torch.Generator().manual_seed(seed))
    check_rows(draws, batch, k, population)


def test_sample_distinct_redraws_until_no_duplicate_is_left():
    # 1000 draws from 5000 collide in almost every row, so the loop must redraw.
    draws = sample_distinct(8, 1000, 5000, torch.Generator().manual_seed(1))
    check_rows(draws, 8, 1000, 5000)


def test_sample_distinct_is_a_function_of_the_generator_state():
    for population in (50, 2**40):
        a = sample_distinct(4, 10, population, torch.Generator().manual_seed(7))
        b = sample_distinct(4, 10, population, torch.Generator().manual_seed(7))
        assert torch.equal(a, b)


def test_sample_distinct_of_nothing_is_empty():
    assert sample_distinct(3, 0, 5, torch.Generator()).shape == (3, 0)
    assert sample_distinct(0, 2, 5, torch.Generator()).shape == (0, 2)


def test_the_invariant_check_rejects_broken_batches():
    """Control: the checker above is able to fail (duplicate key; answer that is not the paired value)."""
    config = ARConfig(num_keys=4, num_values=4, num_pairs=3, num_queries=2)
    good = generate(config, 1, 0)
    check_batch(config, good)
    duplicate = generate(config, 1, 0)
    duplicate.tokens[0, 2] = duplicate.tokens[0, 0]  # pair 2 gets pair 1's key
    with pytest.raises(AssertionError):
        check_batch(config, duplicate)
    wrong_answer = generate(config, 1, 0)
    wrong_answer.answers[0, 0] = 4 + (wrong_answer.answers[0, 0] - 4 + 1) % 4
    with pytest.raises(AssertionError):
        check_batch(config, wrong_answer)
