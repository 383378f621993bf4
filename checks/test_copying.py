"""Checks of the input-copying family (Theorem 3.1; claims ``copy.*`` and ``select.shared-structure``).

* ``copy.fixed-length.exact`` -- the one-channel shift copier on random strings up to the profile's
  longest, on every string of tiny formats, with single-weight mutations that must be caught.
* ``copy.ngram.exact`` -- the n-gram copier on strings without a repeated n-gram (drawn symbol by
  symbol, random, and all of tiny formats); teacher-forced and free-running greedy decoding agree.
* ``copy.ngram.error-bound`` -- on uniform strings, failures happen only on strings with a repeated
  n-gram, and the error rate (exact 95% upper bound) stays below ``L^2 D^-n``.
* ``select.shared-structure`` -- the recall (outer product) and copying (n-gram) networks select
  through the same memory builder: breaking it (one weight) breaks both.
"""

from __future__ import annotations

import types

import pytest
import torch
from hypothesis import given

from checks import profiles
from checks.assertions import assert_exact, exception_report
from checks.strategies import copy_configs, fixed_length_strings, ngram_strings, seeds
from claims.statistics import clopper_pearson_upper
from constructions import selection
from constructions.associative_recall import outer_product
from constructions.copying import fixed_length, greedy_decode, ngram, teacher_forced
from constructions.copying.decoding import copy_error_run
from constructions.mutation import mutate
from constructions.tasks.associative_recall import ARConfig, enumerate_instances
from constructions.tasks.copying import (
    CopyConfig,
    all_strings,
    assemble,
    generate,
    longest_without_repeated_ngram,
    repeated_ngram,
    strings_without_repeated_ngram,
)
from constructions.verification import verify

SIZES = profiles.current()


def _assert_decodings_agree(construction, batch, evidence):
    forced = teacher_forced(construction, batch.tokens)
    free = greedy_decode(construction, batch.prompts(), batch.config.length + 1, decoder="step")
    evidence.count("strings_decoded_both_ways", len(batch))
    assert torch.equal(forced, free), f"teacher-forced {forced.tolist()} != free-running {free.tolist()}"


# ----------------------------------------------------------------------------- fixed length
@pytest.mark.claim("copy.fixed-length.exact")
@given(config=copy_configs(max_alphabet=64, max_length=SIZES.copy_length_max), seed=seeds)
def test_fixed_length_copies_random_strings_exactly(config, seed, evidence, device):
    batch = generate(config, SIZES.batch, seed)
    assert_exact(fixed_length.build(config, device=device), batch.tokens.to(device), evidence)
    evidence.note_max("longest_string", config.length)


@pytest.mark.claim("copy.fixed-length.exact")
def test_fixed_length_copies_the_profiles_longest_strings(evidence, device):
    config = CopyConfig(16, SIZES.copy_length_max)
    batch = generate(config, SIZES.batch, 0)
    construction = fixed_length.build(config, device=device)
    assert_exact(construction, batch.tokens.to(device), evidence)
    evidence.record(longest_string=config.length, window=construction.resources().window)


#: every string of these formats is checked; (1, 3): the alphabet of one symbol strategies draw rarely
FIXED_LENGTH_TINY = [(2, 6), (3, 4), (5, 2), (1, 3)]
#: every string without a repeated n-gram: (alphabet, length, n); (1, 2, 2): one symbol
NGRAM_TINY = [(2, 8, 3), (3, 6, 2), (2, 9, 4), (1, 2, 2)]
#: (alphabet, n): every string without a repeated n-gram, of every length
NGRAM_EVERY_LENGTH = [(2, 1), (2, 2), (3, 1)]


@pytest.mark.claim("copy.fixed-length.exact")
@pytest.mark.parametrize("alphabet, length", FIXED_LENGTH_TINY)
def test_fixed_length_copies_every_tiny_string(alphabet, length, evidence):
    config = CopyConfig(alphabet, length)
    construction = fixed_length.build(config)
    batch = assemble(config, all_strings(alphabet, length))
    assert_exact(construction, batch.tokens, evidence)
    _assert_decodings_agree(construction, batch, evidence)


def fixed_length_property(build):
    @profiles.control_settings()
    @given(case=fixed_length_strings(copy_configs(max_alphabet=6, max_length=6, min_alphabet=2)))
    def copies(case):
        config, string = case
        assert_exact(build(config), assemble(config, torch.tensor([string])).tokens)

    return copies


@pytest.mark.claim("copy.fixed-length.exact", role="control",
                  breaks="one weight of the fixed-length shift copier, one mutation per case")
@pytest.mark.parametrize("index", range(2))
def test_fixed_length_check_catches_single_weight_mutation(index, evidence):
    def broken(config):
        return mutate(fixed_length.build(config), fixed_length.mutations(config)[index])

    with pytest.raises(AssertionError) as caught:
        fixed_length_property(broken)()
    evidence.record(mutation=str(fixed_length.mutations(CopyConfig(2, 2))[index]), counterexample=exception_report(caught.value))


# ----------------------------------------------------------------------------- n-gram lookup
def ngram_property(build):
    """'build(config, n) copies this drawn string without a repeated n-gram exactly'."""

    @profiles.control_settings()
    @given(case=ngram_strings(max_length=24))
    def copies(case):
        alphabet, n, string = case
        config = CopyConfig(alphabet, len(string))
        assert_exact(build(config, n), assemble(config, torch.tensor([string])).tokens)

    return copies


#: at these short strings free-running decoding takes the dense step (the structured one, sparse_step.py,
#: pays off only for long wide passes), one pass over the memory's width per token, about what re-running
#: a short prefix costs (seconds for one string at D = 5, n = 4): drawn strings are decoded up to this many
#: memory cells; the exhaustive tests below decode every string
DECODED_MEMORY_MAX = 2500


@pytest.mark.claim("copy.ngram.exact")
@given(case=ngram_strings())
def test_ngram_copies_drawn_strings_without_repeats_exactly(case, evidence, device):
    alphabet, n, string = case
    config = CopyConfig(alphabet, len(string))
    construction = ngram.build(config, n, device=device)
    batch = assemble(config, torch.tensor([string], device=device))
    assert_exact(construction, batch.tokens, evidence)
    if (alphabet + 2) ** n * (alphabet + 1) <= DECODED_MEMORY_MAX:
        _assert_decodings_agree(construction, batch, evidence)
    evidence.note_max("longest_string", len(string))
    evidence.note_max("largest_n", n)


@pytest.mark.claim("copy.ngram.exact")
@pytest.mark.parametrize("alphabet, length, n", [(4, 12, 3), (8, 16, 3), (3, 16, 4)])
def test_ngram_copies_random_strings_without_repeats_exactly(alphabet, length, n, evidence, device):
    """Memories of 1080, 9000 and 2500 cells; free-running decoding (step mode) on 4 strings."""
    config = CopyConfig(alphabet, length)
    strings = generate(config, SIZES.batch, length).strings
    batch = assemble(config, strings[~repeated_ngram(strings, n, alphabet)].to(device))
    construction = ngram.build(config, n, device=device)
    assert_exact(construction, batch.tokens, evidence)
    _assert_decodings_agree(construction, assemble(config, batch.strings[:4]), evidence)


@pytest.mark.claim("copy.ngram.exact")
@pytest.mark.parametrize("alphabet, length, n", NGRAM_TINY)
def test_ngram_copies_every_tiny_string_without_repeats(alphabet, length, n, evidence):
    config = CopyConfig(alphabet, length)
    strings = all_strings(alphabet, length)
    strings = strings[~repeated_ngram(strings, n, alphabet)]
    construction = ngram.build(config, n)
    batch = assemble(config, strings)
    assert_exact(construction, batch.tokens, evidence)
    _assert_decodings_agree(construction, batch, evidence)
    evidence.count("exhaustive_formats")


@pytest.mark.claim("copy.ngram.exact")
@pytest.mark.parametrize("alphabet, n", NGRAM_EVERY_LENGTH)
def test_ngram_copies_every_string_without_repeats_of_every_length(alphabet, n, evidence):
    """Small alphabets and n: every string the claim covers, the shortest included (the mutation
    campaign found weights whose change breaks only the one-symbol string "1" at D = n = 2, which 25
    drawn strings did not contain)."""
    for length in range(1, longest_without_repeated_ngram(alphabet, n) + 1):
        config = CopyConfig(alphabet, length)
        batch = assemble(config, strings_without_repeated_ngram(alphabet, n, length))
        construction = ngram.build(config, n)
        assert_exact(construction, batch.tokens, evidence)
        _assert_decodings_agree(construction, batch, evidence)
    evidence.count("exhaustive_formats")


@pytest.mark.claim("copy.ngram.exact", role="control",
                  breaks="one weight of the n-gram lookup copier, one mutation per case")
@pytest.mark.parametrize("index", range(2))
def test_ngram_check_catches_single_weight_mutation(index, evidence):
    def broken(config, n):
        return mutate(ngram.build(config, n), ngram.mutations(config, n)[index])

    with pytest.raises(AssertionError) as caught:
        ngram_property(broken)()
    evidence.record(mutation=str(ngram.mutations(CopyConfig(2, 2))[index]), counterexample=exception_report(caught.value))


@pytest.mark.claim("copy.ngram.exact")
def test_ngram_copies_at_the_profiles_long_length(evidence, device):
    """A string of ``(wide_length - 3) / 2`` symbols without a repeated n-gram (a window of a de Bruijn
    sequence, symbols relabelled), copied by the narrowest n-gram copier for that length
    (``ngram.narrowest_format``: D = 8, n = 5, 900,000 memory cells at 2^16): verified on the
    structured fast path, which ``verify`` takes for such inputs; the dense twin agrees on the outputs
    at a sixteenth of the length."""
    import time

    from constructions import sparse_path
    from constructions.tasks.copying import distinct_ngram_strings

    def case(L, seed):
        s = (L - 3) // 2
        D, n = ngram.narrowest_format(s)
        config = CopyConfig(D, s)
        return ngram.build(config, n, device=device), assemble(config, distinct_ngram_strings(D, n, s, 1, seed).to(device)).tokens

    start = time.perf_counter()
    construction, tokens = case(SIZES.wide_length, SIZES.wide_length)
    assert_exact(construction, tokens, evidence)
    evidence.record(long_length=tokens.shape[1], long_length_format=f"{construction.config}, n = {construction.notes['ngram']}",
                    long_length_seconds=round(time.perf_counter() - start, 2),
                    long_length_path="sparse" if sparse_path.worth_it(construction.network, tokens) else "dense")
    twin, tokens = case(SIZES.wide_length // 16, 1)
    assert torch.equal(twin.outputs(tokens, path="sparse"), twin.outputs(tokens, path="dense"))


# ----------------------------------------------------------------------------- error bound
def bound_verdict(construction, n, strings, evidence, label):
    """Monte Carlo of the copy error; records it and returns (unexplained failures, 95% upper bound
    of the error rate, L^2 D^-n)."""
    config = construction.config
    run = copy_error_run(construction, n, strings, seed=1000)
    bound = config.length**2 / config.alphabet**n
    upper = clopper_pearson_upper(run["failures"], strings, 0.95)
    evidence.record(**{label: dict(alphabet=config.alphabet, length=config.length, n=n, **run,
                                   error_rate=run["failures"] / strings, error_rate_upper_95=upper, bound_L2_D_minus_n=bound)})
    return run["failures_without_repeated_ngram"], upper, bound


@pytest.mark.claim("copy.ngram.error-bound")
def test_ngram_error_on_uniform_strings_is_below_the_repeated_ngram_bound(evidence):
    D, L, n, strings = SIZES.copy_error_run
    config = CopyConfig(D, L)
    unexplained, upper, bound = bound_verdict(ngram.build(config, n), n, strings, evidence, "monte_carlo")
    assert unexplained == 0, f"{unexplained} strings failed without a repeated {n}-gram"
    assert upper < bound, f"error rate upper bound {upper:.4f} is not below L^2 D^-n = {bound:.4f}"


@pytest.mark.claim("copy.ngram.error-bound")
@pytest.mark.parametrize("alphabet, length, n", [(3, 6, 3), (4, 5, 2)])
def test_ngram_error_probability_by_enumeration(alphabet, length, n, evidence):
    """Exactly, over all D^L strings: error <= P(repeated n-gram) < L^2 D^-n."""
    config = CopyConfig(alphabet, length)
    strings = all_strings(alphabet, length)
    batch = assemble(config, strings)
    wrong = (teacher_forced(ngram.build(config, n), batch.tokens) != batch.targets).any(-1)
    rep = repeated_ngram(strings, n, alphabet)
    error, p_repeat, bound = float(wrong.double().mean()), float(rep.double().mean()), length**2 / alphabet**n
    evidence.record(**{f"exact_D{alphabet}_L{length}_n{n}": dict(error=error, p_repeated_ngram=p_repeat, bound=bound)})
    assert not bool((wrong & ~rep).any())
    assert error <= p_repeat < bound


@pytest.mark.claim("copy.ngram.error-bound", role="control",
                  breaks="the copier: the n-gram copier with one weight changed; its errors must exceed what repeated n-grams explain, or the bound")
def test_error_bound_check_catches_a_broken_copier(evidence):
    D, L, n, _ = SIZES.copy_error_run
    config = CopyConfig(D, L)
    broken = mutate(ngram.build(config, n), ngram.mutations(config, n)[0])
    unexplained, upper, bound = bound_verdict(broken, n, 256, evidence, "mutated_copier")
    assert unexplained > 0 or upper >= bound


# ----------------------------------------------------------------------------- shared structure
def _gates_one_short(memory_write_fnn):
    """``memory_write_fnn`` broken in its gate: every memory cell's bias raised by one (``-n`` to
    ``-n + 1``), so a cell is written when all but one of its key slots and value are present."""

    def broken(source, key_slots, *args, **kwargs):
        fnn = memory_write_fnn(source, key_slots, *args, **kwargs)
        cells = fnn.layouts[1].size(kwargs.get("out_name", "memory"))
        with torch.no_grad():
            fnn.biases[0][:cells] += 1.0
        return fnn

    return broken


def _users_of_the_memory_builders():
    """The recall and the copying construction built on the feature memory, with the instances of a
    tiny format each: every instance, built afresh on each call (so a patched builder is used)."""
    recall = ARConfig(3, 3, 2, num_queries=2)
    copying, n = CopyConfig(3, 6), 2
    strings = all_strings(copying.alphabet, copying.length)
    return {
        "ar outer product (query last)": (lambda: outer_product.build(recall), enumerate_instances(recall).tokens),
        "copy n-gram lookup": (lambda: ngram.build(copying, n),
                               assemble(copying, strings[~repeated_ngram(strings, n, copying.alphabet)]).tokens),
    }


def breaking_the_shared_builder_breaks_every_user(monkeypatch, users) -> dict:
    """The check of ``select.shared-structure``: every user is exact with the intact memory builder
    and answers some instance wrong once the one shared ``selection.memory_write_fnn`` is broken.
    Raises AssertionError naming a user the broken builder does not reach."""
    intact = {name: verify(build(), tokens) for name, (build, tokens) in users.items()}
    assert all(r.ok for r in intact.values()), {k: r.describe() for k, r in intact.items()}
    monkeypatch.setattr(selection, "memory_write_fnn", _gates_one_short(selection.memory_write_fnn))
    broken = {name: verify(build(), tokens) for name, (build, tokens) in users.items()}
    monkeypatch.undo()
    untouched = [name for name, r in broken.items() if r.ok]
    assert not untouched, f"breaking the shared memory builder left {untouched} exact: not built from it"
    return {name: {"wrong_answers": r.wrong_answers, "answers": r.answers} for name, r in broken.items()}


@pytest.mark.claim("select.shared-structure")
def test_breaking_the_shared_memory_builder_breaks_recall_and_copying(monkeypatch, evidence):
    """The gate of ``selection.memory_write_fnn`` broken, and the recall and the copying networks,
    rebuilt, both fail: they select through the same builder, not through look-alike copies."""
    wrong = breaking_the_shared_builder_breaks_every_user(monkeypatch, _users_of_the_memory_builders())
    evidence.record(broken_builder="selection.memory_write_fnn with every cell's gate one input short",
                    wrong_answers_with_the_broken_builder=wrong)


@pytest.mark.claim("select.shared-structure", role="control",
                   breaks="the sharing: the n-gram copier given its own copy of the memory builders, so breaking the "
                          "shared one leaves it exact; the check must report it")
def test_shared_structure_check_catches_a_copier_with_its_own_memory_builder(monkeypatch, evidence):
    own = types.SimpleNamespace(memory_write_fnn=selection.memory_write_fnn, memory_read_fnn=selection.memory_read_fnn)
    with monkeypatch.context() as patch:
        patch.setattr(ngram, "selection", own)
        with pytest.raises(AssertionError, match="copy n-gram lookup") as caught:
            breaking_the_shared_builder_breaks_every_user(patch, _users_of_the_memory_builders())
    evidence.record(caught=str(caught.value)[:300])
