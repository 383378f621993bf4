"""Checks of the Transformer counterparts (claims ``transformer.*``, related results).

* ``transformer.mqar-zoology-4.3`` -- Zoology's attention (no softmax) solves MQAR exactly; its
  resources do not depend on the number of pairs; its weight matrices have ``O(c^2)`` entries.
* ``transformer.copy-jelassi-2.3`` -- Jelassi et al.'s depth-2 copier is exact (hard attention) on
  strings without a repeated n-gram, within the softmax bound otherwise identical, its error on
  uniform strings stays below ``L^2 D^-n``, and its width is ``O(n log D)``.
"""

from __future__ import annotations

import math

import pytest
import sympy as sp
import torch
from hypothesis import given
from hypothesis import strategies as st

from checks import profiles
from checks.assertions import assert_exact, exception_report
from checks.strategies import ar_configs, ar_instances, ngram_strings, seeds, strings_without_repeated_ngram, vocab_sizes
from claims.growth import empirical_growth, judge_polylog, judge_polynomial, symbolic_growth
from claims.statistics import clopper_pearson_upper
from constructions.copying import greedy_decode, teacher_forced
from constructions.copying.decoding import copy_error_run
from constructions.embedding import code_bits
from constructions.mutation import mutate
from constructions.tasks.associative_recall import ARConfig, enumerate_instances, generate
from constructions.tasks.copying import CopyConfig, all_strings, assemble, repeated_ngram
from constructions.transformer import copy_jelassi, mqar_zoology
from constructions.verification import verify

SIZES = profiles.current()
X = sp.Symbol("x", positive=True)


# ----------------------------------------------------------------------------- Zoology MQAR
#: ar_configs arguments of the drawn instances and of the seeded batches
MQAR_DRAWN = dict(query="last", max_keys=32, max_values=32, max_queries=6, max_length=96)
MQAR_BATCHES = dict(query="last", max_keys=64, max_values=64, max_queries=16, max_length=SIZES.length_max)
#: every instance checked; (1, 3, 1) and (3, 1, 2): one key and one pair, one value
MQAR_TINY = (ARConfig(2, 2, 2, num_queries=2), ARConfig(3, 3, 3, num_queries=2), ARConfig(1, 3, 1), ARConfig(3, 1, 2))


@pytest.mark.claim("transformer.mqar-zoology-4.3")
@given(case=ar_instances(ar_configs(**MQAR_DRAWN)))
def test_attention_answers_drawn_mqar_instances_exactly(case, evidence, device):
    config, batch = case
    assert_exact(mqar_zoology.build(config, device=device), batch.tokens.to(device), evidence)


@pytest.mark.claim("transformer.mqar-zoology-4.3")
@given(config=ar_configs(**MQAR_BATCHES), seed=seeds)
def test_attention_answers_random_mqar_batches_exactly(config, seed, evidence, device):
    assert_exact(mqar_zoology.build(config, device=device), generate(config, SIZES.batch, seed).tokens.to(device), evidence)
    evidence.note_max("most_pairs", config.num_pairs)


@pytest.mark.claim("transformer.mqar-zoology-4.3")
def test_attention_answers_every_tiny_mqar_instance(evidence):
    for config in MQAR_TINY:
        assert_exact(mqar_zoology.build(config), enumerate_instances(config).tokens, evidence)


@pytest.mark.claim("transformer.mqar-zoology-4.3")
def test_attention_resources_do_not_depend_on_pairs_and_entries_grow_like_c_squared(evidence):
    by_pairs = {N: mqar_zoology.build(ARConfig(64, 64, N, num_queries=1)).resources().summary() for N in (1, 8, 64)}
    assert len({str(r) for r in by_pairs.values()}) == 1, by_pairs
    cs = [4, 8, 16, 32, 64, 128]
    entries = [mqar_zoology.build(ARConfig(c, c, 1)).resources().entries for c in cs]
    closed = mqar_zoology.closed_form()["entries"]
    c_ = sp.Symbol("c", positive=True, integer=True)
    assert entries == [int(closed.subs(c_, c)) for c in cs], (entries, closed)
    fit = empirical_growth(cs, entries)
    verdict = judge_polynomial(symbolic_growth(closed.subs(c_, X), X), fit, degree=2)
    evidence.record(resources_by_pairs=by_pairs["1"] if "1" in by_pairs else by_pairs[1], entries_by_c=dict(zip(cs, entries)),
                    entries_growth=verdict, layers=by_pairs[1]["num_layers"], d_model_over_c=by_pairs[1]["d_model"] / 64)
    assert verdict.verdict == "holds", verdict.reason


@pytest.mark.claim("transformer.mqar-zoology-4.3", role="control",
                  breaks="one weight of the Zoology attention network, one mutation per case")
@pytest.mark.parametrize("index", range(2))
def test_mqar_attention_check_catches_single_weight_mutation(index, evidence):
    @profiles.control_settings()
    @given(case=ar_instances(ar_configs(query="last", min_keys=2, max_keys=4, max_values=4, max_queries=3, max_length=16)))
    def exact(case):
        config, batch = case
        assert_exact(mutate(mqar_zoology.build(config), mqar_zoology.mutations(config)[index]), batch.tokens)

    with pytest.raises(AssertionError) as caught:
        exact()
    evidence.record(mutation=str(mqar_zoology.mutations(ARConfig(2, 2, 1))[index]), counterexample=exception_report(caught.value))


# ----------------------------------------------------------------------------- Jelassi copying
#: every string without a repeated n-gram: (alphabet, length, n); (1, 2, 2): one symbol
JELASSI_TINY = [(2, 9, 4), (3, 7, 3), (1, 2, 2)]


@pytest.mark.claim("transformer.copy-jelassi-2.3")
@given(case=ngram_strings(alphabets=vocab_sizes(1, 6)))
def test_jelassi_copier_copies_drawn_strings_without_repeats_exactly(case, evidence, device):
    alphabet, n, string = case
    config = CopyConfig(alphabet, len(string))
    construction = copy_jelassi.build(config, n, device=device)
    batch = assemble(config, torch.tensor([string], device=device))
    assert_exact(construction, batch.tokens, evidence)
    free = greedy_decode(construction, batch.prompts(), config.length + 1, decoder="step")
    assert torch.equal(free, teacher_forced(construction, batch.tokens))


@pytest.mark.claim("transformer.copy-jelassi-2.3")
@pytest.mark.parametrize("alphabet, length, n", JELASSI_TINY)
def test_jelassi_copier_copies_every_tiny_string_without_repeats(alphabet, length, n, evidence):
    config = CopyConfig(alphabet, length)
    strings = all_strings(alphabet, length)
    batch = assemble(config, strings[~repeated_ngram(strings, n, alphabet)])
    assert_exact(copy_jelassi.build(config, n), batch.tokens, evidence)


@pytest.mark.claim("transformer.copy-jelassi-2.3")
@pytest.mark.parametrize("beta", [4.0, 8.0, 12.0])
def test_softmax_copier_stays_within_the_selection_bound(beta, evidence):
    """Scores differ by at least 2 between the match and any other n-gram: softmax output within
    (L_seq - 1) e^{-2 beta} * 2 sqrt(m) of the exact code."""
    config, n = CopyConfig(8, 24), 3
    strings = generate_strings(config, 4 * SIZES.batch, n)
    batch = assemble(config, strings)
    construction = copy_jelassi.build(config, n, kind="softmax", beta=beta)
    result = verify(construction, batch.tokens, tolerance=math.inf)
    m = code_bits(config.alphabet + 3)
    bound = (config.sequence_length - 1) * math.exp(-2 * beta) * 2 * math.sqrt(m)
    evidence.record(**{f"beta_{beta:g}": {"max_abs_error": result.max_abs_error, "bound": bound, "wrong": result.wrong_answers}})
    assert result.max_abs_error <= bound
    if bound < 1:
        assert result.wrong_answers == 0


def generate_strings(config: CopyConfig, count: int, n: int) -> torch.Tensor:
    from constructions.tasks.copying import generate as generate_copies

    strings = generate_copies(config, count, 7).strings
    return strings[~repeated_ngram(strings, n, config.alphabet)]


@pytest.mark.claim("transformer.copy-jelassi-2.3")
def test_jelassi_error_on_uniform_strings_is_below_the_repeated_ngram_bound(evidence):
    D, L, n, strings = SIZES.copy_error_run
    construction = copy_jelassi.build(CopyConfig(D, L), n)
    run = copy_error_run(construction, n, 2 * strings, seed=2000)
    upper = clopper_pearson_upper(run["failures"], run["strings"], 0.95)
    bound = L**2 / D**n
    evidence.record(monte_carlo={**run, "error_rate_upper_95": upper, "bound_L2_D_minus_n": bound})
    assert run["failures_without_repeated_ngram"] == 0 and upper < bound


@pytest.mark.claim("transformer.copy-jelassi-2.3")
def test_jelassi_width_is_n_log_d(evidence):
    rows, widths = {}, []
    alphabets = [2**e for e in range(1, 17)]
    for D in alphabets:
        r = copy_jelassi.build(CopyConfig(D, 2), 3).resources()
        m = code_bits(D + 3)
        assert r.d_model == 4 * (m + 1) + 1 + 8 * m, (D, r.d_model)
        rows[str(D)] = {"d_model": r.d_model, "head_width": r.head_width, "parameters": r.parameters}
        widths.append(r.d_model)
    D = sp.Symbol("x", positive=True)
    verdict = judge_polylog(symbolic_growth(12 * sp.log(D + 3, 2) + 5, D), empirical_growth(alphabets, widths))
    evidence.record(by_alphabet_n3=rows, d_model_growth=verdict)
    assert verdict.verdict == "holds", verdict.reason


@pytest.mark.claim("transformer.copy-jelassi-2.3", role="control",
                  breaks="one weight of the Jelassi Transformer, one mutation per case")
@pytest.mark.parametrize("index", range(2))
def test_jelassi_check_catches_single_weight_mutation(index, evidence):
    @profiles.control_settings()
    @given(alphabet=st.integers(2, 5), n=st.integers(1, 3), data=st.data())
    def exact(alphabet, n, data):
        string = data.draw(strings_without_repeated_ngram(alphabet=alphabet, n=n, max_length=16))
        config = CopyConfig(alphabet, len(string))
        broken = mutate(copy_jelassi.build(config, n), copy_jelassi.mutations(config, n)[index])
        assert_exact(broken, assemble(config, torch.tensor([string])).tokens)

    with pytest.raises(AssertionError) as caught:
        exact()
    evidence.record(mutation=str(copy_jelassi.mutations(CopyConfig(2, 2), 2)[index]), counterexample=exception_report(caught.value))
