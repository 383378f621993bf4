"""Draft-and-verify decoding (``constructions/copying/draft_and_verify.py``) gives the tokens of step-mode decoding,
its sequential twin: on the copiers exactly and with perturbed weights (drafts the network disagrees with,
no-token predictions), when the passes run out and step mode finishes, and on a Transformer (whose
sequential decoder re-runs the prefix); a decoder that trusted its draft unverified is caught; the context
lookup drafts what its docstring says; the copiers need the two passes the module promises."""

from __future__ import annotations

import numpy as np
import pytest
import torch
from hypothesis import given, settings

from checks.strategies import perturbed_copiers
from constructions.copying import draft_and_verify as dv
from constructions.copying import fixed_length, greedy_decode, ngram
from constructions.copying.decoding import NO_TOKEN
from constructions.errors import DecodingError, ShapeError, UnknownOptionError
from constructions.tasks import copying
from constructions.transformer import copy_jelassi


def both_ways(construction, tokens, **kw):
    s = construction.config.length
    prompts = tokens[:, : s + 2]
    return (greedy_decode(construction, prompts, s + 1, decoder="draft", **kw),
            greedy_decode(construction, prompts, s + 1, decoder="step", **kw))


# ----------------------------------------------------------------------------- the context lookup
@pytest.mark.parametrize("context, length, draft", [
    ([7, 1, 2, 3, 9, 1], 4, [2, 3, 9, 1]),        # after the only earlier 1: 2 3 9, then periodically
    ([1, 5, 2, 1, 6, 8, 1], 3, [5, 2, 1]),        # no earlier "8 1": the earliest of the 1s
    ([4, 2, 1, 6, 2, 1, 8, 2, 1], 2, [6, 2]),     # "2 1" twice: the earliest of the longest matches
    ([3, 3], 5, [3, 3, 3, 3, 3]),                 # period 1
    ([1, 2, 3], 2, None),                         # the last token never occurred before
    ([5], 2, None),
])
def test_the_lookup_draft_continues_the_earliest_longest_match(context, length, draft):
    got = dv.lookup_draft(np.array(context), length)
    assert (got is None and draft is None) or got.tolist() == draft


def test_the_lookup_matches_no_longer_suffix_than_lookup_max(monkeypatch):
    context = np.array([9, 1, 2, 6, 0, 1, 2, 7, 0, 1, 2])  # "1 2" first at 1, "0 1 2" first at 4
    monkeypatch.setattr(dv, "LOOKUP_MAX", 2)
    assert dv.lookup_draft(context, 1).tolist() == [6]
    monkeypatch.setattr(dv, "LOOKUP_MAX", 3)
    assert dv.lookup_draft(context, 1).tolist() == [7]


# ----------------------------------------------------------------------------- the same tokens as step mode
@settings(max_examples=60, deadline=None)
@given(case=perturbed_copiers())
def test_draft_and_verify_decodes_the_tokens_step_mode_decodes(case):
    construction, tokens = case
    drafted, stepped = both_ways(construction, tokens)
    assert torch.equal(drafted, stepped)


@settings(max_examples=30, deadline=None)
@given(case=perturbed_copiers())
def test_prompts_left_after_the_last_pass_finish_in_step_mode_with_the_same_tokens(case):
    construction, tokens = case
    with pytest.MonkeyPatch.context() as patch:
        patch.setattr(dv, "MAX_PASSES", 1)
        drafted, stepped = both_ways(construction, tokens)
    assert torch.equal(drafted, stepped)


def wrong_copier():
    """The n-gram copier (n = 2) with symbol 2's output raised by 0.75, and 6 strings it copies wrong at
    different steps."""
    config = copying.CopyConfig(4, 12)
    construction = ngram.build(config, 2)
    construction.network.blocks[-1].fnn.biases[-1].data[2] += 0.75
    batch = copying.generate(config, 6, 3)
    wrong = greedy_decode(construction, batch.prompts(), config.length + 1, decoder="step") != batch.targets
    assert bool(wrong.any(-1).all()) and len(set(wrong.int().argmax(-1).tolist())) > 1
    return construction, batch


def test_a_batch_with_different_accepted_lengths_resumes_from_their_common_prefix(monkeypatch):
    construction, batch = wrong_copier()
    monkeypatch.setattr(dv, "MAX_PASSES", 0)  # the prompts' pass only, then step mode from the common prefix
    drafted, stepped = both_ways(construction, batch.tokens)
    assert torch.equal(drafted, stepped)


def test_the_copiers_take_the_prompt_pass_and_one_whole_pass(monkeypatch):
    passes = []
    predictions = dv._predictions
    monkeypatch.setattr(dv, "_predictions", lambda c, tokens, *a: passes.append(tokens.shape) or predictions(c, tokens, *a))
    config = copying.CopyConfig(8, 40)
    for construction in (fixed_length.build(config), ngram.build(config, 3)):
        passes.clear()
        batch = copying.assemble(config, copying.distinct_ngram_strings(config.alphabet, 3, config.length, 4, 0))
        drafted, stepped = both_ways(construction, batch.tokens)
        assert torch.equal(drafted, batch.targets) and torch.equal(drafted, stepped)
        assert [tuple(p) for p in passes] == [(4, 42), (4, 82)], construction.name


def test_a_decoder_that_trusts_its_draft_unverified_is_caught(monkeypatch):
    """The control: accept every draft token as proved. The drafts of a perturbed copier are wrong somewhere,
    and the decoded tokens then differ from step mode's."""
    construction, batch = wrong_copier()
    honest, stepped = both_ways(construction, batch.tokens)
    assert torch.equal(honest, stepped)
    monkeypatch.setattr(dv, "_accept", lambda generated, rows, _, drafts, predicted: _trusting(generated, rows, drafts, predicted))
    trusting, _ = both_ways(construction, batch.tokens)
    assert not torch.equal(trusting, stepped)


def _trusting(generated, rows, drafts, predicted):
    generated[rows, :-1], generated[rows, -1] = drafts[:, :-1], predicted[:, -1]
    return np.full(len(rows), generated.shape[1])


# ----------------------------------------------------------------------------- Transformers and no-token predictions
def jelassi_softmax_case():
    """The n = 2 Jelassi Transformer (softmax heads), strings of 6 over 3 symbols: strings with a repeated 2-gram
    meet outputs that decode to no token."""
    config = copying.CopyConfig(3, 6)
    return config, copy_jelassi.build(config, 2, kind="softmax"), copying.assemble(config, copying.all_strings(3, 6))


def test_a_transformer_decodes_the_tokens_its_prefix_rerunning_decodes_but_at_exact_ties():
    """Strings without a repeated 2-gram: the same tokens. The others average two symbols (a +-1 code with a
    channel at exactly 0 in exact arithmetic), and which side of 0 a pass rounds to depends on the length it
    runs at: where the two decoders part, the sequential one's output has a channel within 1e-9 of 0."""
    config, construction, batch = jelassi_softmax_case()
    drafted, stepped = both_ways(construction, batch.tokens)
    clean = ~copying.repeated_ngram(batch.strings, 2, config.alphabet)
    assert bool((stepped == NO_TOKEN).any()) and torch.equal(drafted[clean], stepped[clean])
    P = batch.prompts().shape[1]
    for row in (drafted != stepped).any(-1).nonzero()[:, 0].tolist():
        step = int((drafted[row] != stepped[row]).int().argmax())
        fed = torch.cat([batch.prompts()[row], stepped[row, :step]]).unsqueeze(0)
        assert float(construction.network_outputs(fed)[0, P - 1 + step].abs().min()) < 1e-9, (row, step)


def test_a_no_token_raises_the_error_step_by_step_decoding_raises():
    config, construction, batch = jelassi_softmax_case()
    messages = []
    for decoder in ("draft", "step"):
        with pytest.raises(DecodingError) as error:
            greedy_decode(construction, batch.prompts(), config.length + 1, on_no_token="raise", decoder=decoder)
        messages.append(str(error.value))
    assert messages[0] == messages[1]


# ----------------------------------------------------------------------------- options and input
def test_greedy_decode_names_an_unknown_decoder_and_prompts_of_the_wrong_shape():
    construction = fixed_length.build(copying.CopyConfig(3, 4))
    with pytest.raises(UnknownOptionError, match="decoder must be one of"):
        greedy_decode(construction, torch.zeros(1, 6, dtype=torch.long), 5, decoder="beam")
    for prompts in (torch.zeros(6, dtype=torch.long), torch.zeros(2, 0, dtype=torch.long), [[0, 1]]):
        with pytest.raises(ShapeError, match="prompts must be token ids of shape"):
            greedy_decode(construction, prompts, 5)
    for steps in (-1, 2.0):
        with pytest.raises(ShapeError, match="steps must be a whole number"):
            greedy_decode(construction, torch.zeros(1, 6, dtype=torch.long), steps)


@pytest.mark.parametrize("steps", [0, 1, 2])
def test_short_decodes_agree(steps):
    config = copying.CopyConfig(3, 4)
    construction = ngram.build(config, 2)
    prompts = copying.generate(config, 3, 0).prompts()
    drafted = greedy_decode(construction, prompts, steps, decoder="draft")
    assert drafted.shape == (3, steps) and torch.equal(drafted, greedy_decode(construction, prompts, steps, decoder="step"))


def test_auto_drafts_small_batches_and_steps_large_ones(monkeypatch):
    from constructions.copying import decoding

    used = []
    monkeypatch.setattr(decoding, "draft_and_verify", lambda *a, **k: used.append("draft") or torch.zeros(1))
    monkeypatch.setattr(decoding, "_sequential", lambda *a, **k: used.append("step") or torch.zeros(1))
    construction = fixed_length.build(copying.CopyConfig(3, 4))
    for batch in (1, decoding.DRAFT_MAX_BATCH, decoding.DRAFT_MAX_BATCH + 1):
        greedy_decode(construction, torch.zeros(batch, 6, dtype=torch.long), 5)
    assert used == ["draft", "draft", "step"]
