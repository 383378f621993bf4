"""Checks of n-gram lookup with a suffix or a prefix key (claims ``lookup.suffix.exact``, ``lookup.prefix.exact``;
the Transformer counterparts ``transformer.lookup-suffix``, ``transformer.lookup-prefix``).

* drawn strings without a repeated n-gram, drawn n-grams and answer lengths: exact;
* seeded uniform batches: the failing instances are exactly the ambiguous ones
  (:func:`~constructions.tasks.ngram_lookup.continuation_ambiguous`), and each has a repeated n-gram;
* controls: single-weight mutations of the construction (the end flag, a memory gate) are caught.
"""

from __future__ import annotations

import pytest
import torch
from hypothesis import given

from checks import profiles
from checks.assertions import assert_exact, exception_report
from checks.strategies import ngram_lookup_instances
from constructions.lookup import ngram_lookup
from constructions.mutation import mutate
from constructions.tasks.copying import repeated_ngram
from constructions.tasks.ngram_lookup import NgramLookupConfig, assemble, continuation_ambiguous, generate
from constructions.verification import exact_answers

SIZES = profiles.current()
CLAIM = {"suffix": "lookup.suffix.exact", "prefix": "lookup.prefix.exact"}


def by_key(*extra):
    """Parametrize over the two keys, each test linked to its own claim."""
    return [pytest.param(key, *e, id="-".join([key, *map(str, e)]), marks=pytest.mark.claim(CLAIM[key]))
            for key in CLAIM for e in (extra or [()])]


@pytest.mark.parametrize("key", by_key())
def test_lookup_answers_drawn_instances_without_repeats_exactly(key, evidence, device):
    exact_on_drawn_instances(ngram_lookup.build, key, evidence, device)


def exact_on_drawn_instances(build, key: str, evidence, device) -> None:
    """``build(config)`` answers hypothesis-drawn instances of ``key`` (strings without a repeated n-gram) exactly."""
    @given(case=ngram_lookup_instances(key=key, max_length=12))
    def exact(case):
        config, strings, grams = case
        assert_exact(build(config, device=device), assemble(config, strings, grams).tokens.to(device), evidence)
        evidence.note_max("largest_n", config.ngram)
        evidence.note_max("longest_answer", config.answer_length)

    exact()


#: (alphabet, length, n, answer length): n = 3 as in Jelassi et al.'s data; (2, 9, 2, 5) mostly ambiguous
LOOKUP_FORMATS = [(4, 12, 3, 3), (6, 16, 3, 6), (2, 9, 2, 5)]


def failures_match_ambiguity(construction, batch, evidence=None) -> None:
    """The check of both claims on a batch: an instance fails iff some n-gram read during its answer has
    two followers in s (``continuation_ambiguous``), and every such instance has a repeated n-gram."""
    config = batch.config
    failed = ~exact_answers(construction, batch.tokens.to(construction.network.device)).all(-1).cpu()
    ambiguous = continuation_ambiguous(config, batch.strings, batch.grams)
    if evidence is not None:
        evidence.count("instances_checked", len(batch))
        evidence.count("ambiguous_instances", int(ambiguous.sum()))
        evidence.count("failed_instances", int(failed.sum()))
    assert not bool((failed & ~ambiguous).any()), f"{int((failed & ~ambiguous).sum())} unambiguous instances failed"
    assert not bool((ambiguous & ~failed).any()), f"{int((ambiguous & ~failed).sum())} ambiguous instances were answered"
    assert bool(repeated_ngram(batch.strings[ambiguous], config.ngram, config.alphabet).all())


@pytest.mark.parametrize("key, alphabet, length, n, answer", [
    pytest.param(key, *f, id=f"{key}-{'-'.join(map(str, f))}", marks=pytest.mark.claim(CLAIM[key]))
    for key in CLAIM for f in LOOKUP_FORMATS])
def test_lookup_fails_exactly_where_the_continuation_is_ambiguous(key, alphabet, length, n, answer, evidence, device):
    """Uniform strings (repeated n-grams included), seeded."""
    config = NgramLookupConfig(alphabet, length, n, answer, key)
    failures_match_ambiguity(ngram_lookup.build(config, device=device), generate(config, SIZES.batch, length + n), evidence)


#: (alphabet, n, answer length, longest string) checked on every instance: every string of every length from
#: ``n + A`` to the longest, every position of ``g`` (the mutation campaigns' architectures,
#: checks/test_mutation_campaign.py)
LOOKUP_TINY = [(2, 1, 1, 5)]


def every_lookup_instance(key: str, alphabet: int, n: int, answer: int, longest: int) -> list:
    """One :class:`~constructions.tasks.ngram_lookup.LookupBatch` per length: every string, every start of ``g``."""
    from constructions.tasks.copying import all_strings

    batches = []
    for length in range(n + answer, longest + 1):
        config = NgramLookupConfig(alphabet, length, n, answer, key)
        strings = all_strings(alphabet, length)
        starts = range(length - n - answer + 1)
        grams = torch.cat([strings[:, p : p + n] for p in starts])
        batches.append(assemble(config, strings.repeat(len(starts), 1), grams))
    return batches


@pytest.mark.parametrize("key, alphabet, n, answer, longest", by_key(*LOOKUP_TINY))
def test_lookup_fails_exactly_where_ambiguous_on_every_instance_of_tiny_formats(key, alphabet, n, answer, longest, evidence, device):
    for batch in every_lookup_instance(key, alphabet, n, answer, longest):
        failures_match_ambiguity(ngram_lookup.build(batch.config, device=device), batch, evidence)


#: the controls' format and batch: both mutations are caught on it (71 and 7 unambiguous instances fail)
CONTROL_FORMAT, CONTROL_BATCH = (3, 10, 2, 2), 256


@pytest.mark.parametrize("key, index", [
    pytest.param(key, i, id=f"{key}-{i}", marks=pytest.mark.claim(
        CLAIM[key], role="control", breaks="one weight of the lookup construction (the end flag's route, a memory gate)"))
    for key in CLAIM for i in range(2)])
def test_lookup_check_catches_single_weight_mutation(key, index, evidence):
    config = NgramLookupConfig(*CONTROL_FORMAT, key=key)
    mutation = ngram_lookup.mutations(config)[index]
    with pytest.raises(AssertionError) as caught:
        failures_match_ambiguity(mutate(ngram_lookup.build(config), mutation), generate(config, CONTROL_BATCH, 12))
    evidence.record(mutation=str(mutation), caught=exception_report(caught.value))


# -- the Transformer counterparts: claims transformer.lookup-suffix, transformer.lookup-prefix ---------------
TRANSFORMER = {"suffix": "transformer.lookup-suffix", "prefix": "transformer.lookup-prefix"}


def transformer_module(key: str):
    from constructions.transformer import lookup_prefix, lookup_suffix

    return {"suffix": lookup_suffix, "prefix": lookup_prefix}[key]


def by_transformer_key(*extra):
    """Parametrize over the two keys, each test linked to its own Transformer claim."""
    return [pytest.param(key, *e, id="-".join([key, *map(str, e)]), marks=pytest.mark.claim(TRANSFORMER[key]))
            for key in TRANSFORMER for e in (extra or [()])]


@pytest.mark.parametrize("key", by_transformer_key())
def test_transformer_lookup_answers_drawn_instances_without_repeats_exactly(key, evidence, device):
    exact_on_drawn_instances(transformer_module(key).build, key, evidence, device)


def failures_only_where_ambiguous(construction, batch, evidence=None) -> None:
    """The Transformers' check: no unambiguous instance fails (their hardmax takes the earliest match, so
    they may answer ambiguous instances too: a subset, not the equivalence of the SSM+FNN's check)."""
    failed = ~exact_answers(construction, batch.tokens.to(construction.network.device)).all(-1).cpu()
    ambiguous = continuation_ambiguous(batch.config, batch.strings, batch.grams)
    if evidence is not None:
        evidence.count("instances_checked", len(batch))
        evidence.count("ambiguous_instances", int(ambiguous.sum()))
        evidence.count("failed_instances", int(failed.sum()))
    assert not bool((failed & ~ambiguous).any()), f"{int((failed & ~ambiguous).sum())} unambiguous instances failed"


@pytest.mark.parametrize("key, alphabet, length, n, answer", by_transformer_key(*LOOKUP_FORMATS))
def test_transformer_lookup_fails_only_where_the_continuation_is_ambiguous(key, alphabet, length, n, answer, evidence, device):
    config = NgramLookupConfig(alphabet, length, n, answer, key)
    failures_only_where_ambiguous(transformer_module(key).build(config, device=device), generate(config, SIZES.batch, length + n), evidence)


@pytest.mark.parametrize("key, alphabet, n, answer, longest", by_transformer_key(*LOOKUP_TINY))
def test_transformer_lookup_fails_only_where_ambiguous_on_every_instance_of_tiny_formats(key, alphabet, n, answer, longest,
                                                                                         evidence, device):
    for batch in every_lookup_instance(key, alphabet, n, answer, longest):
        failures_only_where_ambiguous(transformer_module(key).build(batch.config, device=device), batch, evidence)


#: the Transformers' mutations: (key, index); every one is caught on the control batch (suffix: 3;
#: prefix: 4, among them the broadcast of g and the START penalty that keeps the first SEP from matching)
TRANSFORMER_MUTATIONS = [("suffix", i) for i in range(3)] + [("prefix", i) for i in range(4)]


@pytest.mark.parametrize("key, index", [pytest.param(key, i, id=f"{key}-{i}", marks=pytest.mark.claim(
    TRANSFORMER[key], role="control", breaks="one weight of the Transformer lookup (the value read, a query bit or the "
    "broadcast of g, the START penalty, the EOS writer)")) for key, i in TRANSFORMER_MUTATIONS])
def test_transformer_lookup_check_catches_single_weight_mutation(key, index, evidence):
    module = transformer_module(key)
    config = NgramLookupConfig(*CONTROL_FORMAT, key=key)
    mutation = module.mutations(config)[index]
    with pytest.raises(AssertionError) as caught:
        failures_only_where_ambiguous(mutate(module.build(config), mutation), generate(config, CONTROL_BATCH, 12))
    evidence.record(mutation=str(mutation), caught=exception_report(caught.value))


@pytest.mark.parametrize("key, alphabet, n, answer", by_transformer_key((1, 1, 0), (4, 3, 3), (13, 2, 5), (30, 3, 1)))
def test_transformer_lookup_resources_equal_its_closed_form(key, alphabet, n, answer, evidence):
    import sympy as sp

    module = transformer_module(key)
    config = NgramLookupConfig(alphabet, n + answer + 2, n, answer, key)
    measured = module.build(config).network.resources()
    values = {sp.Symbol("D", positive=True, integer=True): alphabet, sp.Symbol("n", positive=True, integer=True): n}
    for name, form in module.closed_form().items():
        assert getattr(measured, name) == form.subs(values), name
    evidence.note_max("largest_d_model", measured.d_model)
