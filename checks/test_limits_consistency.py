"""Every copying construction respects the fixed-state bound (claim ``limits.consistency``).

Each SSM+FNN copier of the suite is read as a fixed-state model (``constructions.limits.consistency``):
its measured copy error, receptive field, state entries and bits per entry must satisfy Jelassi et
al.'s Theorem 2.7 -- error below 1/2 only with ``log2|S| >= L log2 D - 1`` -- and on every decoded
family the share of strings copied is at most the number of distinct sketches over the number of
strings. The Transformer copier is not an SSM and is not read here.
"""

from __future__ import annotations

import pytest
import torch

from constructions.copying import fixed_length, ngram
from constructions.limits.consistency import gssm_reading
from constructions.limits.sketch import one_layer
from constructions.tasks.copying import CopyConfig, all_strings, generate

CLAIM = "limits.consistency"

#: per profile: (construction, config, n-gram size or None, strings: "all" or a sample size)
GRID = {
    "tiny": [(fixed_length, CopyConfig(2, 4), None, "all"), (ngram, CopyConfig(3, 4), 2, "all")],
    "quick": [(fixed_length, CopyConfig(2, 8), None, "all"), (fixed_length, CopyConfig(4, 16), None, 128),
              (fixed_length, CopyConfig(4, 32), None, 128), (ngram, CopyConfig(3, 5), 2, "all"),
              (ngram, CopyConfig(4, 8), 3, 64)],
    "thorough": [(fixed_length, CopyConfig(2, 14), None, "all"), (fixed_length, CopyConfig(4, 64), None, 256),
                 (fixed_length, CopyConfig(8, 128), None, 256), (ngram, CopyConfig(3, 8), 2, "all"),
                 (ngram, CopyConfig(4, 12), 3, 256), (ngram, CopyConfig(8, 16), 3, 64)],
}


def build(module, config, n):
    return module.build(config) if n is None else module.build(config, n=n)


def family(config, strings, seed=0):
    if strings == "all":
        return all_strings(config.alphabet, config.length)
    return generate(config, strings, seed).strings


@pytest.mark.claim(CLAIM)
def test_every_copying_construction_has_the_state_the_fixed_state_bound_demands(sizes, evidence):
    rows = []
    for module, config, n, strings in GRID[sizes.row]:
        reading = gssm_reading(build(module, config, n), family(config, strings))
        rows.append({**reading.to_dict(), "ngram": n})
        assert reading.consistent, reading.to_dict()
    decided = [r for r in rows if r["error"] < 0.5]
    assert decided, "no construction copied with error below 1/2: the bound was never exercised"
    evidence.record(readings=rows, rows_with_error_below_half=len(decided))
    evidence.count("constructions read as fixed-state models", len(rows))


@pytest.mark.claim(CLAIM, role="control",
                  breaks="the sketch: the n-gram copier read from its first layer only (the memory layer left out)")
def test_consistency_check_catches_a_sketch_that_misses_a_layer(sizes, evidence):
    """Reading the n-gram copier's sketch from its first layer alone (the memory layer left out)
    gives fewer sketches than strings copied: the bound is violated, so the check can fail."""
    module, config, n, strings = next(row for row in GRID[sizes.row] if row[0] is ngram)
    construction = build(module, config, n)
    reading = gssm_reading(construction, family(config, strings), sketch_network=one_layer(construction.network))
    assert not reading.consistent, reading.to_dict()
    evidence.record(partial_sketch=reading.to_dict())
