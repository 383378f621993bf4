"""The library of the Fig. C.1 experiment (``training/appendix_c/``): training tensors against
the task generators' answers, masks, accuracies, the verdicts' edge cases, the probe, the sweep's
determinism and cache, and configuration errors that name the problem."""

from __future__ import annotations

import pytest
import torch
from hypothesis import given, settings
from hypothesis import strategies as st

from checks.strategies import ar_configs, seeds
from claims.statistics import Interval, mean_interval
from constructions.errors import InfeasibleTaskError
from constructions.tasks import associative_recall as ar
from constructions.tasks import copying
from training import ConfigError, TrainConfig
from training.appendix_c import (
    IGNORE,
    TRANSFORMER,
    ModelSpec,
    SweepSetup,
    accuracies,
    answer_mask,
    chance_accuracy,
    copy_format,
    decisive_sizes,
    downgrade_if_still_improving,
    every_instance,
    figure_spec,
    free_running_accuracy,
    free_running_copies,
    is_still_improving,
    nonlinearity_verdict,
    ordering_verdict,
    previous_key_probe,
    previous_key_rows,
    probe_accuracy,
    recall_format,
    run_sweep,
    scored_positions,
    ssm,
    summary,
    task_tensors,
    train_one,
)
from training.models import SSMFNN, SSMFNNConfig
from training.trainer import set_seed

pytestmark = pytest.mark.usefixtures("training_sandbox")  # one thread, global RNG restored


# ----------------------------------------------------------------------------- data
def test_recall_format_is_letters_and_digits_with_the_query_last():
    config = recall_format(5)
    assert (config.num_keys, config.num_values, config.num_pairs, config.num_queries, config.query) == (26, 10, 5, 1, "last")
    assert config.length == 11 and chance_accuracy(config) == 0.1


@settings(max_examples=30, deadline=None)
@given(config=ar_configs(query="last", max_keys=8, max_values=8, max_length=20, key_lengths=(1, 2), max_queries=3)
       | ar_configs(query="first", max_keys=8, max_values=8, max_length=20, key_lengths=(1, 2)), seed=seeds)
def test_recall_targets_are_the_generators_answers_at_its_answer_positions(config, seed):
    tensors = task_tensors(config, 16, seed)
    batch = ar.generate(config, 16, seed)
    assert torch.equal(tensors.tokens, batch.tokens)
    mask = answer_mask(tensors.tokens, tensors.targets)
    assert torch.equal(mask.nonzero()[:, 1].reshape(16, -1)[0], config.answer_positions())
    assert torch.equal(tensors.targets[mask].reshape(16, -1), ar.reference_answers(config, tensors.tokens))
    assert (tensors.targets[~mask] == IGNORE).all()


@settings(max_examples=20, deadline=None)
@given(alphabet=st.integers(1, 6), length=st.integers(1, 8), seed=seeds)
def test_copy_targets_are_the_next_tokens_at_the_copied_positions(alphabet, length, seed):
    config = copy_format(length, alphabet)
    tensors = task_tensors(config, 8, seed)
    mask = answer_mask(tensors.tokens, tensors.targets)
    assert mask.sum(1).eq(length).all()
    expected = copying.reference_next_tokens(config, tensors.tokens)[:, :length]  # the copied symbols, not EOS
    assert torch.equal(tensors.targets[mask].reshape(8, length), expected)
    assert torch.equal(tensors.targets[:, scored_positions(config)], tensors.instances.strings)


def test_every_instance_enumerates_small_formats_and_refuses_large_ones():
    assert len(every_instance(recall_format(2, 3, 2))) == ar.instance_count(recall_format(2, 3, 2))
    assert len(every_instance(copy_format(3, 3))) == 27
    with pytest.raises(InfeasibleTaskError, match="more than"):
        every_instance(copy_format(10, 10), limit=1000)


class _Oracle(torch.nn.Module):
    """Predicts the next token exactly (copying), except on instances whose first symbol is 0."""

    def __init__(self, vocab):
        super().__init__()
        self.vocab = vocab
        self.dummy = torch.nn.Parameter(torch.zeros(1))

    def forward(self, tokens):
        nxt = torch.cat([tokens[:, 1:], tokens[:, :1]], dim=1)
        nxt = torch.where(tokens[:, 1:2] == 0, (nxt + 1) % self.vocab, nxt)
        return torch.nn.functional.one_hot(nxt, self.vocab).float()


def test_accuracies_per_token_and_per_instance():
    config = copy_format(3, 2)
    tensors = every_instance(config)
    token, instance = accuracies(_Oracle(config.vocabulary().size), tensors)
    assert (token, instance) == (0.5, 0.5)  # half the strings start with 0: every answer of those is wrong


def test_bad_inputs_raise_with_clear_messages():
    with pytest.raises(ConfigError, match="ARConfig or a CopyConfig"):
        task_tensors("recall", 4, 0)
    with pytest.raises(ConfigError, match="count"):
        task_tensors(recall_format(2), 0, 0)
    with pytest.raises(ConfigError, match="task"):
        SweepSetup("sorting", (2,))
    with pytest.raises(InfeasibleTaskError, match="distinct keys"):
        SweepSetup("recall", (30,))  # 30 pairs need 30 distinct letters
    with pytest.raises(ConfigError, match="model family"):
        ModelSpec("rnn")
    with pytest.raises(ConfigError, match="repeat"):
        SweepSetup("copy", (2,), models=(ssm(1, 1), ssm(1, 1)))
    with pytest.raises(ConfigError, match="not in the setup"):
        run_sweep(SweepSetup("copy", (2,), models=(ssm(1, 1),)), models=(ssm(2, 1),))
    with pytest.raises(ValueError, match="two values"):
        mean_interval([0.5])
    with pytest.raises(ValueError, match="no rows"):
        ordering_verdict({}, one_layer="a", two_layer=["b"], transformer="c", chance=0.1)


def test_model_names_and_the_positions_callback_is_recorded_by_name():
    assert [m.name for m in (ssm(1, 2), ssm(2, 0), ssm(2, 4, "dense"), TRANSFORMER)] == \
        ["ssm1-fnn2", "ssm2-linear", "ssm2-fnn4-dense", "transformer"]
    assert isinstance(SweepSetup("recall", (2,)).train_config(0), TrainConfig)
    assert "answer_mask" in SweepSetup("recall", (2,)).train_config(0).as_dict()["positions"]


# ----------------------------------------------------------------------------- verdicts
def test_mean_interval_and_decisive_sizes():
    i = mean_interval([0.1, 0.3])
    assert isinstance(i, Interval) and i.mean == pytest.approx(0.2) and i.low < 0.1 and i.high > 0.3
    assert mean_interval([0.5, 0.5, 0.5]).low == 0.5
    assert decisive_sizes([5, 15, 10]) == [10, 15] and decisive_sizes([2]) == [2] and decisive_sizes([1, 2, 3, 4]) == [3, 4]


def _rows(values_by_size):
    return {size: list(values) for size, values in values_by_size.items()}


def test_ordering_verdict_uses_the_larger_sizes_and_reports_the_best_depth():
    small_gap_at_small_sizes = {
        "one": _rows({2: [1.0, 1.0], 8: [0.3, 0.32]}),
        "two-a": _rows({2: [1.0, 1.0], 8: [0.6, 0.62]}),
        "two-b": _rows({2: [1.0, 1.0], 8: [0.9, 0.92]}),
        "tf": _rows({2: [1.0, 1.0], 8: [0.91, 0.93]}),
    }
    v = ordering_verdict(small_gap_at_small_sizes, one_layer="one", two_layer=["two-a", "two-b"], transformer="tf", chance=0.1)
    assert v.verdict == "holds" and v.details["best_two_layer"] == "two-b" and v.details["sizes"] == [8]


def _seeds(**models) -> dict:
    """A table with one task size (6): each model's accuracy per seed."""
    return {name: {6: list(values)} for name, values in models.items()}


ONE, TWO, TF = [0.40, 0.42, 0.41], [0.95, 0.96, 0.94], [0.97, 0.96, 0.98]


def _ordering(table, still_improving=()):
    return ordering_verdict(table, one_layer="one", two_layer=["two"], transformer="tf", chance=0.1,
                            still_improving=still_improving)


def test_ordering_verdict_holds_fails_and_is_inconclusive_on_synthetic_tables():
    assert _ordering(_seeds(one=ONE, two=TWO, tf=TF)).verdict == "holds"
    assert _ordering(_seeds(one=ONE, two=TWO, tf=[0.90, 0.91, 0.89])).verdict == "holds"  # 0.05 above: comparable
    assert _ordering(_seeds(one=[0.90, 0.91, 0.92], two=[0.50, 0.52, 0.51], tf=TF)).verdict == "fails"  # one layer better
    assert _ordering(_seeds(one=[0.60, 0.61, 0.62], two=[0.61, 0.62, 0.63], tf=TF)).verdict == "fails"  # no clear gain
    assert _ordering(_seeds(one=ONE, two=[0.70, 0.71, 0.72], tf=TF)).verdict == "fails"  # far below the Transformer
    assert _ordering(_seeds(one=[0.99] * 3, two=[1.0] * 3, tf=[1.0] * 3)).verdict == "inconclusive"  # ceiling
    assert _ordering(_seeds(one=[0.15, 0.16], two=[0.20, 0.21], tf=[0.18, 0.2])).verdict == "inconclusive"  # nothing learned
    assert _ordering(_seeds(one=ONE[:1], two=TWO[:1], tf=TF[:1])).verdict == "inconclusive"  # one seed


def test_a_failed_gain_stands_only_if_the_better_models_runs_stopped_at_the_ceiling_could_not_close_it():
    one, two = [0.944, 0.945, 0.943], [0.985, 0.985, 0.985]
    table = _seeds(one=one, two=two, tf=[1.0, 1.0, 1.0])
    capped = {"two": {6: [True, True, True]}}
    assert _ordering(table).verdict == "fails"  # +0.041 [+0.039, +0.043]; at accuracy 1: +0.056 [+0.053, +0.058]
    reopened = ordering_verdict(table, one_layer="one", two_layer=["two"], transformer="tf", chance=0.1, stopped_at_ceiling=capped)
    assert reopened.verdict == "inconclusive" and "stopped at the ceiling 0.98 in 3 run(s)" in reopened.reason
    closer = _seeds(one=[0.965, 0.966, 0.964], two=two, tf=[1.0, 1.0, 1.0])  # at accuracy 1: +0.035 [+0.033, +0.037]
    assert ordering_verdict(closer, one_layer="one", two_layer=["two"], transformer="tf", chance=0.1,
                            stopped_at_ceiling=capped).verdict == "fails"
    uncapped = {"two": {6: [False] * 3}, "one": {6: [True] * 3}}  # only the better model's runs can reopen it
    assert ordering_verdict(table, one_layer="one", two_layer=["two"], transformer="tf", chance=0.1,
                            stopped_at_ceiling=uncapped).verdict == "fails"
    assert nonlinearity_verdict(_seeds(lin=one, non=two), linear="lin", nonlinear="non", chance=0.1,
                                stopped_at_ceiling={"non": {6: [True] * 3}}).verdict == "inconclusive"


def test_ordering_verdict_is_two_sided_about_the_transformer():
    # clearly *better* than the Transformer is not "about as accurate" either
    better = _ordering(_seeds(one=ONE, two=TWO, tf=[0.80, 0.81, 0.79]))
    assert better.verdict == "fails" and "+-0.1" in better.reason
    # the Transformer must itself have learned: mean below chance + half the way to 1 (0.55 here)
    unlearned = _ordering(_seeds(one=ONE, two=TWO, tf=[0.30, 0.32, 0.31]))
    assert unlearned.verdict == "inconclusive" and "Transformer did not learn" in unlearned.reason
    # an interval across an end of the +-0.10 band decides nothing
    assert _ordering(_seeds(one=ONE, two=[0.90, 0.85, 0.80], tf=TF)).verdict == "inconclusive"


def test_a_clear_gain_needs_the_whole_interval_at_or_above_the_threshold():
    # mean gain 0.05 with interval [0.025, 0.075]: consistent with 0.025, so not "clearly better by 0.05"
    two = [0.45, 0.47, 0.47]
    assert _ordering(_seeds(one=[0.41, 0.42, 0.41], two=two, tf=[0.50, 0.52, 0.52])).verdict == "inconclusive"
    table = {"lin": {6: [0.41, 0.42, 0.41]}, "non": {6: two}}
    assert nonlinearity_verdict(table, linear="lin", nonlinear="non", chance=0.1).verdict == "inconclusive"


def test_still_improving_downgrades_holds_as_well_as_fails():
    holds = _seeds(one=ONE, two=TWO, tf=TF)
    for model in ("one", "two", "tf"):  # the gain over one layer, or the match with the Transformer, could move
        assert _ordering(holds, {model}).verdict == "inconclusive"
    below = _seeds(one=ONE, two=[0.70, 0.71, 0.72], tf=TF)
    v = _ordering(below, {"two"})
    assert v.verdict == "inconclusive" and "still improving" in v.reason
    assert _ordering(below, {"tf"}).verdict == "fails"  # a Transformer still improving only widens the gap
    # two failing parts: one layer better (overturned by "two") and far above the Transformer (by "tf")
    both = _seeds(one=[0.96, 0.97, 0.98], two=TWO, tf=[0.60, 0.61, 0.62])
    assert _ordering(both, {"tf"}).verdict == "fails" and _ordering(both, {"two", "tf"}).verdict == "inconclusive"


def test_downgrade_combines_parts():
    from training.appendix_c import Part

    ok, bad = Part("a", "holds", ("x",)), Part("b", "fails", ("y",))
    assert downgrade_if_still_improving([ok, ok], ()) == ("holds", "")
    assert downgrade_if_still_improving([ok, bad], {"x"}) == ("fails", "")
    assert downgrade_if_still_improving([ok, bad], {"y"})[0] == "inconclusive"
    assert downgrade_if_still_improving([ok, Part("c", "inconclusive", ())], {"x"}) == ("inconclusive", "")


def test_is_still_improving_asks_for_a_new_best_monitored_accuracy():
    assert is_still_improving([(50, 0.40), (100, 0.60), (150, 0.70), (200, 0.72)])
    assert not is_still_improving([(50, 0.40), (100, 0.60), (150, 0.70), (200, 0.705)])
    # an oscillating plateau (the linear model on recall) is not improving, though it rose by 0.031
    assert not is_still_improving([(50, 0.594), (100, 0.631), (150, 0.597), (200, 0.628)])
    assert not is_still_improving([(200, 0.7)]) and not is_still_improving([])


def test_nonlinearity_verdict_holds_fails_and_is_inconclusive_on_synthetic_tables():
    def verdict(linear, nonlinear, still_improving=()):
        return nonlinearity_verdict({"lin": {6: linear}, "non": {6: nonlinear}}, linear="lin", nonlinear="non",
                                    chance=0.1, still_improving=still_improving).verdict

    assert verdict([0.30, 0.31, 0.32], [0.95, 0.96, 0.94]) == "holds"
    assert verdict([0.94, 0.95, 0.96], [0.95, 0.96, 0.97]) == "fails"
    assert verdict([0.95, 0.96, 0.95], [0.60, 0.61, 0.62]) == "fails"
    assert verdict([0.50, 0.60, 0.30], [0.60, 0.50, 0.70]) == "inconclusive"  # the interval reaches across
    assert verdict([0.10, 0.11, 0.12], [0.15, 0.16, 0.17]) == "inconclusive"  # the nonlinear model did not learn
    assert verdict([0.30], [0.95]) == "inconclusive"  # one seed
    # still improving: the linear model could catch up (holds), the nonlinear one could pull ahead (fails)
    assert verdict([0.30, 0.31, 0.32], [0.95, 0.96, 0.94], {"lin"}) == "inconclusive"
    assert verdict([0.30, 0.31, 0.32], [0.95, 0.96, 0.94], {"non"}) == "holds"
    assert verdict([0.94, 0.95, 0.96], [0.95, 0.96, 0.97], {"non"}) == "inconclusive"
    assert verdict([0.94, 0.95, 0.96], [0.95, 0.96, 0.97], {"lin"}) == "fails"


def test_verdicts_refuse_unpaired_tables():
    table = {"a": _rows({2: [0.5, 0.6]}), "b": _rows({2: [0.5]})}
    with pytest.raises(ValueError, match="paired"):
        nonlinearity_verdict(table, linear="a", nonlinear="b", chance=0.1)


def test_nonlinearity_verdict_is_inconclusive_when_only_the_linear_model_learned():
    table = {"lin": _rows({4: [0.9, 0.92]}), "non": _rows({4: [0.2, 0.22]})}
    assert nonlinearity_verdict(table, linear="lin", nonlinear="non", chance=0.1).verdict == "inconclusive"


# ----------------------------------------------------------------------------- probe
def test_previous_key_rows_pick_the_value_positions_and_the_keys_before_them():
    config = recall_format(3, 4, 4)
    tensors = task_tensors(config, 5, 0)
    stream = tensors.tokens.unsqueeze(-1).double()  # the token id itself as a one-feature stream
    rows, keys = previous_key_rows(config, tensors.tokens, stream)
    assert torch.equal(rows.squeeze(-1).long(), tensors.instances.tokens[:, [1, 3, 5]].reshape(-1))
    assert torch.equal(keys, tensors.instances.keys.reshape(-1))


def test_probe_accuracy_is_chance_on_noise_and_exact_on_one_hot_features():
    g = torch.Generator().manual_seed(0)
    labels = torch.randint(0, 5, (2000,), generator=g)
    noise = torch.randn(2000, 8, generator=g)
    assert probe_accuracy(noise[:1000], labels[:1000], noise[1000:], labels[1000:], 5) < 0.35
    onehot = torch.nn.functional.one_hot(labels, 5).double()
    assert probe_accuracy(onehot[:1000], labels[:1000], onehot[1000:], labels[1000:], 5) == 1.0
    with pytest.raises(ValueError, match="must match"):
        probe_accuracy(noise[:10], labels[:9], noise, labels, 5)


def test_previous_key_probe_is_chance_on_the_embedding_and_exact_on_a_stream_that_holds_the_key():
    """The probe can fail (the embedding of a value says nothing about its key: about chance) and can
    pass (a stream that holds the previous token's one-hot is read exactly)."""
    config = recall_format(2, 4, 4)
    set_seed(0)
    model = SweepSetup("recall", (2,), letters=4, digits=4, width=16, state_size=4, fnn_hidden=16).build(ssm(2, 2), 2)
    probe = previous_key_probe(model, config, train_count=512, test_count=256)
    assert probe["embedding"] <= probe["chance"] + 0.1 and probe["chance"] == 0.25, probe
    tokens = torch.randint(0, config.num_keys, (4096,), generator=torch.Generator().manual_seed(0))
    features = torch.nn.functional.one_hot(tokens, config.num_keys).double() + 0.01 * torch.randn(4096, config.num_keys)
    assert probe_accuracy(features[:2048], tokens[:2048], features[2048:], tokens[2048:], config.num_keys) == 1.0


# ----------------------------------------------------------------------------- sweep
def test_a_tiny_sweep_is_deterministic_reuses_its_cache_and_makes_a_figure():
    setup = SweepSetup("copy", (2, 3), models=(ssm(1, 1), ssm(2, 0)), seeds=(0, 1), width=8, state_size=2,
                       fnn_hidden=8, steps=3, batch_size=16, train_instances=32, test_instances=16, alphabet=3)
    cache = {}
    first = run_sweep(setup, cache=cache)
    again = run_sweep(setup)
    strip = lambda pts: [(p.model, p.size, p.seed, p.token_accuracy, p.final_train_loss) for p in pts]
    assert strip(first.points) == strip(again.points)
    assert len(cache) == 8 and strip(run_sweep(setup, cache=cache).points) == strip(first.points)
    assert run_sweep(setup, models=(ssm(2, 0),), cache=cache).models.keys() == {("ssm2-linear", s, k) for s in (2, 3) for k in (0, 1)}
    assert set(first.table()) == {"ssm1-fnn1", "ssm2-linear"} and first.table()["ssm1-fnn1"][2].__len__() == 2
    spec = figure_spec(first)["figure:fig-c1-copy-token-accuracy"]
    assert [s["label"] for s in spec["series"]] == ["ssm1-fnn1", "ssm2-linear"] and len(spec["fits"]) == 4
    out = summary(first)
    assert out["models"]["ssm2-linear"]["by_size"][3]["seeds"] == 2 and out["chance"][2] == pytest.approx(1 / 3)


# ----------------------------------------------------------------------------- step mode, free running
@settings(max_examples=25, deadline=None)
@given(kind=st.sampled_from(["diagonal", "dense"]), layers=st.integers(1, 3), fnn_depth=st.integers(0, 2),
       layer_norm=st.booleans(), residual=st.booleans(), length=st.integers(1, 40), seed=seeds)
def test_step_mode_of_a_trainable_ssm_fnn_gives_the_convolution_outputs(kind, layers, fnn_depth, layer_norm, residual,
                                                                         length, seed):
    set_seed(seed)
    model = SSMFNN(SSMFNNConfig(input="tokens", vocab_size=7, width=6, state_size=3, layers=layers, fnn_depth=fnn_depth,
                                fnn_hidden=8, ssm_kind=kind, out_features=5, layer_norm=layer_norm, residual=residual,
                                dt_min=0.01, dt_max=1.0)).double()
    tokens = torch.randint(0, 7, (3, length), generator=torch.Generator().manual_seed(seed))
    state, outputs = model.initial_state(3), []
    for t in range(length):
        out, state = model.step(tokens[:, t], state)
        outputs.append(out)
    assert (torch.stack(outputs, 1) - model(tokens)).abs().max() < 1e-9


@pytest.mark.parametrize("family", ["ssm", "transformer"])
def test_free_running_copying_is_right_on_a_string_exactly_when_teacher_forcing_is(family):
    """The decoding module's identity, on a model trained a few steps (right on some strings, not all)."""
    setup = SweepSetup("copy", (3,), (ssm(2, 2), TRANSFORMER), (0,), alphabet=3, width=16, state_size=4, fnn_hidden=32,
                       steps=60, batch_size=64, lr=2e-2, transformer_lr=1e-2, train_instances=512, test_instances=256)
    spec = ssm(2, 2) if family == "ssm" else TRANSFORMER
    _, model = train_one(setup, spec, 3, 0, torch.device("cpu"), setup.data(3, 0))
    test = setup.data(3, 0)[1]
    result = free_running_accuracy(model, test)
    generated = free_running_copies(model, test)
    assert generated.shape == test.instances.strings.shape
    assert result["disagreements_with_teacher_forcing"] == 0
    assert result["instance_accuracy"] == pytest.approx(accuracies(model, test)[1])
