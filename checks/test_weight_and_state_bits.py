"""Weight bits and state bits of every construction, side by side (claim ``transformer.vs-ssm.resources``).

``weight_bits`` (:func:`constructions.resources.measure`) is the fixed-point width of the weights,
fixed when a network is built. PAPER.md §5 is a statement about the *state*: what a network stores
while it reads the input. That is measured here from runs on seeded batches
(:meth:`constructions.construction.Construction.memory`): for SSM+FNN networks ``state_bits``, the
sum over every SSM state entry of the fixed-point width holding every value it reaches
(:func:`constructions.resources.measure_state`); for Transformers the keys and values a causal run
caches, ``kv_cache_bits`` (the context they keep, labelled as such: it is not a state).

Each construction is measured over the size its state must grow with (PAPER.md §5): the number of
pairs N for recall (|V| fixed), the string length L for copying. The checks: every batch is answered
exactly (the states measured are those of a working network), the run reads every state entry of
every layer (as many as the built layers have), and no state value may be a float64 rounding (none
uses 52 or more significand bits). The control drops a layer from the state read and is caught.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Callable

import pytest
import torch

from checks import profiles
from constructions.associative_recall import binary_query_first, outer_product, precision_route
from constructions.copying import fixed_length, ngram
from constructions.resources import StateResources, measure_state
from constructions.tasks import associative_recall as ar
from constructions.tasks import copying
from constructions.transformer import copy_jelassi, mqar_zoology
from constructions.verification import verify

CLAIM = "transformer.vs-ssm.resources"
SIZES = profiles.current()

#: recall: |V| (= keys = values) and the numbers of pairs; copying: alphabet, lengths, n-gram order
GRID = {
    "tiny": dict(vocab=4, pairs=(1, 2), alphabet=4, lengths=(4, 8), grams=3, batch=16),
    "quick": dict(vocab=8, pairs=(1, 2, 4), alphabet=4, lengths=(4, 8, 16), grams=3, batch=32),
    "thorough": dict(vocab=16, pairs=(1, 2, 4, 8), alphabet=4, lengths=(4, 8, 16, 32), grams=4, batch=64),
}
G = GRID[SIZES.row]


@dataclass(frozen=True)
class Subject:
    """A construction, the size its state must grow with, and how to build it and draw a batch."""

    name: str
    kind: str  # "SSM+FNN" or "Transformer"
    axis: str
    sizes: tuple[int, ...]
    build: Callable[[int], object]
    batch: Callable[[int], torch.Tensor]


def _recall(query: str = "last"):
    def config(N: int) -> ar.ARConfig:
        return ar.ARConfig(G["vocab"], G["vocab"], N, query=query)

    return config, lambda N: ar.generate(config(N), G["batch"], N).tokens


def _copies(grams: int | None):
    """Uniform strings (for an n-gram copier: the first ``batch`` of 8 x ``batch`` drawn without a
    repeated n-gram, the strings it copies exactly)."""
    def tokens(L: int) -> torch.Tensor:
        config = copying.CopyConfig(G["alphabet"], L)
        if not grams:
            return copying.generate(config, G["batch"], L).tokens
        batch = copying.generate(config, 8 * G["batch"], L)
        kept = batch.tokens[~copying.repeated_ngram(batch.strings, grams, config.alphabet)][: G["batch"]]
        assert len(kept), f"no string of length {L} without a repeated {grams}-gram among {8 * G['batch']} drawn"
        return kept

    return tokens


LAST, LAST_BATCH = _recall("last")
FIRST, FIRST_BATCH = _recall("first")
COPY = lambda L: copying.CopyConfig(G["alphabet"], L)  # noqa: E731

SUBJECTS = (
    Subject("outer-product (query last)", "SSM+FNN", "pairs N", G["pairs"], lambda N: outer_product.build(LAST(N)), LAST_BATCH),
    Subject("precision-route (query last)", "SSM+FNN", "pairs N",
            tuple(N for N in G["pairs"] if precision_route.float_exact(LAST(N), precision_route.SIGNIFICAND_BITS[torch.float64])),
            lambda N: precision_route.build(LAST(N)), LAST_BATCH),
    Subject("binary-query-first", "SSM+FNN", "pairs N", G["pairs"], lambda N: binary_query_first.build(FIRST(N)), FIRST_BATCH),
    Subject("Zoology attention (query last)", "Transformer", "pairs N", G["pairs"], lambda N: mqar_zoology.build(LAST(N)), LAST_BATCH),
    Subject("fixed-length shift (copying)", "SSM+FNN", "length L", G["lengths"], lambda L: fixed_length.build(COPY(L)), _copies(None)),
    Subject(f"n-gram lookup, n = {G['grams']} (copying)", "SSM+FNN", "length L", G["lengths"],
            lambda L: ngram.build(COPY(L), G["grams"]), _copies(G["grams"])),
    Subject(f"Jelassi Transformer, n = {G['grams']} (copying)", "Transformer", "length L", G["lengths"],
            lambda L: copy_jelassi.build(COPY(L), G["grams"]), _copies(G["grams"])),
)


def weight_and_state_row(subject: Subject, size: int, read_memory=lambda construction, tokens: construction.memory(tokens)) -> dict:
    """One construction at one size: exact on the batch, its weight bits and its measured memory."""
    construction = subject.build(size)
    tokens = subject.batch(size)
    result = verify(construction, tokens)
    assert result.ok, f"{subject.name} at {subject.axis} = {size}: {result.describe()}"
    resources = construction.resources()
    memory = read_memory(construction, tokens)
    row = {subject.axis: size, "weight_bits": resources.weight_bits, "weight_bound": resources.weight_bound, **memory}
    assert not memory["float64_limited"], f"{subject.name}: a state value may be a float64 rounding: {memory}"
    if subject.kind == "SSM+FNN":
        assert memory["state_entries"] == resources.state_size, (
            f"{subject.name}: the run read {memory['state_entries']} state entries, the layers have {resources.state_size}")
        assert memory["state_bits"] <= memory["state_bits_uniform"], memory
    return row


@pytest.mark.claim(CLAIM)
@pytest.mark.parametrize("subject", SUBJECTS, ids=[s.name for s in SUBJECTS])
def test_weight_bits_and_state_bits_side_by_side(subject, evidence):
    rows = [weight_and_state_row(subject, size) for size in subject.sizes]
    kept = ("state_bits", "state_entries", "widest_state_entry_bits") if subject.kind == "SSM+FNN" else (
        "kv_cache_bits", "kv_cache_entries", "widest_kv_entry_bits")
    columns = (subject.axis, "weight_bits", *kept, "measured_on")
    evidence.record(**{f"weight_and_memory_bits: {subject.name} ({subject.kind})": {c: [r[c] for r in rows] for c in columns}})


@pytest.mark.claim(CLAIM, role="control", breaks="the state measurement: a read that skips the last SSM layer's states")
def test_state_read_missing_a_layer_is_caught(evidence):
    def without_last_layer(construction, tokens):
        full = measure_state(construction.network, tokens)
        return StateResources(full.instances, full.length, full.layers[:-1]).summary()

    subject = SUBJECTS[1]  # precision route: its packing memory is the second layer
    with pytest.raises(AssertionError, match="state entries") as caught:
        weight_and_state_row(subject, subject.sizes[-1], without_last_layer)
    evidence.record(caught=str(caught.value).splitlines()[0])
