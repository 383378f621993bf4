"""The hypothesis strategies spend few examples on trivial formats (issue 14, §8).

Measured with the quick profile's number of examples per check (25), over the draws of 8 seeds:
one key, one value or one pair (recall), an alphabet of one symbol (copying). Before the strategies
drew those rarely, hypothesis returned to them in 0.19 (MQAR batches) to 0.49 (precision-route
formats) of the draws measured this way; now 0.00 to 0.035. The trivial formats stay covered by the
checks' exhaustive tiny formats, which this module also checks.
"""

from __future__ import annotations

import pytest
from hypothesis import strategies as st

from checks.profiles import PROFILES
from checks.strategies import (
    TRIVIAL_ONE_IN,
    ar_configs,
    copy_configs,
    counts,
    ngram_strings,
    sample_examples,
    seeds,
    trivial_share,
    vocab_sizes,
)
from checks.test_associative_recall import FAMILIES
from checks.test_copying import FIXED_LENGTH_TINY, NGRAM_TINY
from checks.test_precision_route import GRID as ROUTE_GRID
from checks.test_precision_route import float_exact_formats
from checks.test_transformers import JELASSI_TINY, MQAR_BATCHES, MQAR_DRAWN, MQAR_TINY

QUICK_EXAMPLES = PROFILES["quick"].max_examples
MOST = 0.10  # the share of trivial formats a strategy may draw


def trivial_recall(config) -> bool:
    return config.num_keys == 1 or config.num_values == 1 or config.num_pairs == 1


RECALL_STRATEGIES = {
    **{f"{f.claim} drawn": f.drawn() for f in FAMILIES},
    **{f"{f.claim} batches": f.batches() for f in FAMILIES},
    "transformer.mqar-zoology-4.3 drawn": ar_configs(**MQAR_DRAWN),
    "transformer.mqar-zoology-4.3 batches": ar_configs(**MQAR_BATCHES),
    "limits.precision-route drawn": float_exact_formats(max_vocab=16),
}


@pytest.mark.parametrize("name", list(RECALL_STRATEGIES))
def test_recall_strategies_rarely_draw_one_key_value_or_pair(name):
    share = trivial_share(RECALL_STRATEGIES[name], trivial_recall, QUICK_EXAMPLES)
    assert share <= MOST, f"{name}: {share:.2f} of the draws have one key, one value or one pair"


@pytest.mark.parametrize("name, strategy, trivial", [
    ("copy formats", copy_configs(max_alphabet=64, max_length=1024), lambda c: c.alphabet == 1),
    ("n-gram strings", ngram_strings(), lambda case: case[0] == 1),
    ("Jelassi strings", ngram_strings(alphabets=vocab_sizes(1, 6)), lambda case: case[0] == 1),
])
def test_copy_strategies_rarely_draw_an_alphabet_of_one(name, strategy, trivial):
    share = trivial_share(strategy, trivial, QUICK_EXAMPLES)
    assert share <= MOST, f"{name}: {share:.2f} of the draws have an alphabet of one symbol"


def test_trivial_sizes_are_still_drawn_and_shrink_away():
    """1 stays reachable (about 1 / TRIVIAL_ONE_IN), and the simplest draw is the smallest non-trivial size."""
    drawn = sample_examples(st.tuples(vocab_sizes(1, 64), counts(1, 64), seeds), 1000, 0)  # ~16 ones expected
    assert any(v == 1 for v, _, _ in drawn) and any(c == 1 for _, c, _ in drawn)
    assert sum(v == 1 for v, _, _ in drawn) <= 3 * len(drawn) / TRIVIAL_ONE_IN
    from hypothesis import find

    assert find(vocab_sizes(1, 64), lambda v: True) == 2
    assert find(counts(1, 64), lambda v: True) == 2


def test_sample_examples_is_deterministic_per_seed():
    assert sample_examples(vocab_sizes(1, 4096), 25, 3) == sample_examples(vocab_sizes(1, 4096), 25, 3)
    assert sample_examples(vocab_sizes(1, 4096), 25, 3) != sample_examples(vocab_sizes(1, 4096), 25, 4)


def test_trivial_formats_remain_in_the_exhaustive_tiny_lists():
    for family in FAMILIES:
        assert any(c.num_values == 1 for c in family.tiny) and any(c.num_pairs == 1 for c in family.tiny), family.claim
    assert any(c.num_keys == 1 for f in FAMILIES[:2] for c in f.tiny)
    assert any(c.num_keys == 1 for c in MQAR_TINY) and any(c.num_values == 1 for c in MQAR_TINY)
    assert any(c.num_pairs == 1 for g in ROUTE_GRID.values() for c in g.exhaustive)
    assert all(any(c.num_values == 1 for c in g.exhaustive) for g in ROUTE_GRID.values())
    assert any(alphabet == 1 for alphabet, _ in FIXED_LENGTH_TINY)
    assert any(alphabet == 1 for alphabet, _, _ in NGRAM_TINY) and any(alphabet == 1 for alphabet, _, _ in JELASSI_TINY)
