"""A single SSM layer with pre- and post-FNN cannot hold what recall and copying need (claim ``limits.single-layer``).

The check (``constructions.limits.sketch``): every layer's state after a prefix is the network's whole
memory of it; two prefixes with one (b-bit) sketch and different correct answers after a common
continuation prove that the network fails on one of them. It is run on

* generic one-layer networks whose sketch has fewer bits than the family needs (pigeonhole: a
  collision must exist, and the exhaustive search must exhibit it),
* the suite's two-layer constructions cut after their first layer (collisions even in exact
  arithmetic: the token-wise pre-FNN cannot see the query),
* the two-layer constructions themselves, and the one-layer fixed-length copier whose window holds
  the whole string: no collision may exist (they are exact).
"""

from __future__ import annotations


import pytest
import torch

from constructions.associative_recall import binary_query_first, outer_product
from constructions.copying import fixed_length, ngram
from constructions.limits import families
from constructions.limits.sketch import find_collision, one_layer, prefix_states
from constructions.limits.single_layer import random_single_layer
from constructions.limits.window import truncated
from constructions.tasks.associative_recall import ARConfig
from constructions.tasks.copying import CopyConfig, all_strings, repeated_ngram

CLAIM = "limits.single-layer"

#: per profile: query-last, query-first and copying formats searched exhaustively, and the generic
#: one-layer sketches (channels, state size, bits) run on the fixed-key recall family
GRID = {
    "tiny": dict(last=ARConfig(3, 3, 2), first=ARConfig(3, 3, 2, query="first"), copy=CopyConfig(3, 4),
                 fixed_keys=ARConfig(4, 4, 3), sketches=((1, 2, 2),)),
    "quick": dict(last=ARConfig(4, 4, 3), first=ARConfig(4, 4, 3, query="first"), copy=CopyConfig(3, 8),
                  fixed_keys=ARConfig(8, 8, 4), sketches=((1, 2, 2), (2, 2, 2), (1, 5, 2), (3, 1, 3))),
    "thorough": dict(last=ARConfig(5, 5, 4), first=ARConfig(5, 4, 4, query="first"), copy=CopyConfig(4, 9),
                     fixed_keys=ARConfig(16, 16, 5), sketches=((1, 2, 4), (2, 4, 2), (4, 3, 1), (1, 8, 2), (5, 3, 1))),
}


@pytest.fixture
def grid(sizes):
    return GRID[sizes.row]


def recall_families(grid):
    return {"outer-product (query last)": (outer_product, families.recall_query_last(grid["last"]), grid["last"]),
            "binary-query-first": (binary_query_first, families.recall_query_first(grid["first"]), grid["first"])}


def copy_family_without_repeats(config: CopyConfig, n: int):
    strings = all_strings(config.alphabet, config.length)
    return families.copying(config, strings[~repeated_ngram(strings, n, config.alphabet)])


def search(network, family, bits=None):
    return find_collision(prefix_states(network, family.prefixes), family.answers, bits)


# ----------------------------------------------------------------------------- one layer fails
@pytest.mark.claim(CLAIM)
def test_generic_one_layer_sketches_below_the_information_collide(grid, evidence):
    config = grid["fixed_keys"]
    family = families.recall_query_last(config, fixed_keys=True)
    copy_config = grid["copy"]
    copies = families.copying(copy_config)
    rows = []
    for seed, (channels, state, bits) in enumerate(grid["sketches"]):
        for name, fam, vocab in (("recall", family, config.vocabulary()), ("copying", copies, copy_config.vocabulary())):
            network = random_single_layer(vocab, channels, state, seed)
            result = search(network, fam, bits)
            rows.append({"family": name, "sketch_entries": channels * state, "bits": bits,
                         "capacity_bits": result.capacity_bits, "information_bits": fam.information_bits,
                         "collision_found": result.collision is not None, "distinct_sketches": result.distinct_sketches})
            assert result.capacity_bits < fam.information_bits, "grid entry does not test the limit"
            assert result.collision is not None, f"{name}: {result.to_dict()} -- pigeonhole says a collision exists"
            evidence.count("one-layer networks shown to fail")
    evidence.record(generic_one_layer=rows, recall_format=str(config), copy_format=str(copy_config))


@pytest.mark.claim(CLAIM)
def test_two_layer_constructions_cut_to_one_layer_collide_even_in_exact_arithmetic(grid, evidence):
    found = {}
    for name, (module, family, config) in recall_families(grid).items():
        cut = one_layer(module.build(config).network)
        result = search(cut, family)
        assert result.collision is not None, f"{name} cut to one layer: {result.to_dict()}"
        c = result.collision
        # sufficiency, measured: the same continuation gives the same output after both prefixes
        cont = torch.full((2, 1), c.continuation, dtype=torch.long)
        pair = torch.cat([family.prefixes[[c.first, c.second]], cont], dim=1)
        out = cut(pair)[:, -1]
        assert torch.equal(out[0], out[1])
        found[name] = {**result.to_dict(), "prefixes_shown": family.prefixes[[c.first, c.second]].tolist()}
    config = grid["copy"]
    cut = one_layer(ngram.build(config, n=2).network)
    result = search(cut, copy_family_without_repeats(config, 2))
    assert result.collision is not None
    found["ngram-lookup (copying)"] = result.to_dict()
    evidence.record(cut_constructions=found)


# ----------------------------------------------------------------------------- two layers (or a long window) do not
@pytest.mark.claim(CLAIM)
def test_exact_constructions_have_no_colliding_prefixes(grid, evidence):
    checked = {}
    for name, (module, family, config) in recall_families(grid).items():
        result = search(module.build(config).network, family)
        assert result.collision is None, f"{name}: {result.to_dict()}"
        checked[name] = result.to_dict()
    config = grid["copy"]
    result = search(ngram.build(config, n=2).network, copy_family_without_repeats(config, 2))
    assert result.collision is None, result.to_dict()
    checked["ngram-lookup (strings without repeated bigrams)"] = result.to_dict()
    fixed = fixed_length.build(config).network
    result = search(fixed, families.copying(config))
    assert result.collision is None, result.to_dict()
    checked["fixed-length-shift (ONE layer, window L+1)"] = result.to_dict()
    evidence.record(exact_constructions=checked,
                    note="the one-layer fixed-length copier escapes the limit only through its window: its sketch holds L+1 tokens")


# ----------------------------------------------------------------------------- controls
@pytest.mark.claim(CLAIM, role="control",
                  breaks="the outer-product network: its prefix-sum memory cut to a window of 2; the no-collision check must find a collision")
def test_no_collision_check_catches_a_construction_whose_memory_window_is_cut(grid, evidence):
    module, family, config = recall_families(grid)["outer-product (query last)"]
    broken = truncated(module.build(config).network, 2)  # the prefix-sum memory keeps one step
    result = search(broken, family)
    assert result.collision is not None
    evidence.record(broken=result.to_dict())


@pytest.mark.claim(CLAIM, role="control",
                  breaks="the bit budget: a one-layer sketch in exact arithmetic (premise S b < N log2|V| removed); the collision search must find none")
def test_a_generic_one_layer_sketch_in_exact_arithmetic_does_not_collide(grid, evidence):
    """The collisions above come from the bit budget: the same networks with exact states keep
    every prefix apart, so "a collision was found" is not automatic."""
    family = families.recall_query_last(grid["fixed_keys"], fixed_keys=True)
    channels, state, _ = grid["sketches"][0]
    result = search(random_single_layer(grid["fixed_keys"].vocabulary(), channels, state, 0), family, bits=None)
    assert result.collision is None, result.to_dict()
    evidence.record(exact=result.to_dict())
