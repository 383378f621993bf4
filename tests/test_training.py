"""The trainable models and the trainer (``training/``): the FFT path against its loop-over-time
twin, causality, parameter counts and matched sizes, a small regression problem that must be
learned, seeded determinism, and configuration errors that name the problem."""

from __future__ import annotations

import dataclasses

import pytest
import torch

from constructions.errors import ShapeError
from training import (
    SSMFNN,
    CausalTransformer,
    ConfigError,
    SSMFNNConfig,
    TrainConfig,
    TransformerConfig,
    accuracy,
    count_parameters,
    evaluate,
    matched_transformer_config,
    set_seed,
    ssm_fnn_parameter_count,
    train,
    transformer_parameter_count,
)
from training.models import DIRECT_CONV_MAX_LENGTH, direct_causal_conv, fft_causal_conv
from training.trainer import eval_mode, loss_and_accuracy

F64 = torch.float64
SSM_KINDS = ["diagonal", "dense"]

#: a small multi-layer SSM+FNN touching every option (layer norm, deep FNN, residual)
DEEP = {"in_features": 3, "width": 6, "state_size": 5, "layers": 2, "fnn_depth": 2, "fnn_hidden": 7,
        "out_features": 2, "layer_norm": True}


@pytest.fixture(autouse=True)
def _restore_rng_and_threads():
    """Tests seed the global RNG (model initialisation); put it back so nothing leaks. The models
    are tiny, so one thread is faster than several (which only contend); restored afterwards."""
    state, threads = torch.random.get_rng_state(), torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(threads)
    torch.random.set_rng_state(state)


def features(batch: int, length: int, dim: int, seed: int = 0, dtype=torch.float32) -> torch.Tensor:
    return torch.randn(batch, length, dim, generator=torch.Generator().manual_seed(seed), dtype=dtype)


def lag_data(n: int, lag: int = 2, length: int = 8, seed: int = 0):
    """Regression: the target is the feature ``lag`` positions before the last one."""
    x = features(n, length, 1, seed)
    return x, x[:, -1 - lag]


def build(kind: str, **overrides) -> torch.nn.Module:
    """A small model of each kind: ``"diagonal"``/``"dense"`` SSM+FNN or ``"transformer"``."""
    if kind == "transformer":
        config = {"in_features": 3, "width": 8, "heads": 2, "layers": 2, "mlp_hidden": 16, "max_len": 32,
                  "out_features": 2}
        return CausalTransformer(TransformerConfig(**(config | overrides)))
    return SSMFNN(SSMFNNConfig(**(DEEP | {"ssm_kind": kind} | overrides)))


# ----------------------------------------------------------------------------- convolution = recurrence
@pytest.mark.parametrize("length", [17, DIRECT_CONV_MAX_LENGTH + 9])  # the Toeplitz path, then the FFT path
@pytest.mark.parametrize("stability", ["softplus", "sigmoid"])
@pytest.mark.parametrize("kind", SSM_KINDS)
def test_convolution_path_equals_the_recurrence_in_float64(kind, stability, length):
    set_seed(1)
    model = build(kind, stability=stability).to(F64)
    x = features(3, length, 3, seed=2, dtype=F64)
    assert (model(x) - model.recurrence_forward(x)).abs().max() < 1e-9


@pytest.mark.parametrize("length", [1, 3, 40, 130])
def test_direct_and_fft_convolutions_agree(length):
    g = torch.Generator().manual_seed(length)
    x = torch.randn(4, length, 5, generator=g, dtype=F64)
    kernel = torch.randn(5, length, generator=g, dtype=F64)
    assert torch.allclose(direct_causal_conv(x, kernel), fft_causal_conv(x, kernel), atol=1e-10)


@pytest.mark.parametrize("kind", SSM_KINDS)
def test_convolution_path_equals_the_recurrence_on_tokens_without_residual(kind):
    set_seed(2)
    model = build(kind, input="tokens", in_features=None, vocab_size=5, residual=False, fnn_depth=0).to(F64)
    tokens = torch.randint(0, 5, (2, 12), generator=torch.Generator().manual_seed(3))
    assert (model(tokens) - model.recurrence_forward(tokens)).abs().max() < 1e-9


@pytest.mark.parametrize("kind", SSM_KINDS)
def test_every_ssm_parameter_gets_a_gradient(kind):
    set_seed(3)
    model = build(kind)
    model(features(2, 9, 3)).square().mean().backward()
    ssm = model.blocks[0].ssm
    for name, p in ssm.named_parameters():
        assert p.grad is not None and torch.isfinite(p.grad).all() and p.grad.abs().sum() > 0, name


def test_diagonal_eigenvalues_stay_in_the_unit_interval():
    set_seed(4)
    model = build("diagonal")
    ssm = model.blocks[0].ssm
    with torch.no_grad():
        ssm.raw.mul_(100)  # whatever the raw parameter, lambda = exp(-softplus(raw)) is in (0, 1]
    lam = torch.exp(ssm.log_lambda())
    assert ((lam > 0) & (lam <= 1)).all()


# ----------------------------------------------------------------------------- causality
@pytest.mark.parametrize("kind", SSM_KINDS + ["transformer"])
def test_changing_position_t_changes_nothing_before_t(kind):
    set_seed(5)
    model = build(kind).to(F64)
    x = features(2, 16, 3, seed=6, dtype=F64)
    for t in (0, 5, 15):
        changed = x.clone()
        changed[:, t] += 3.0
        y, y_changed = model(x), model(changed)
        assert t == 0 or (y[:, :t] - y_changed[:, :t]).abs().max() < 1e-12
        assert (y[:, t] - y_changed[:, t]).abs().max() > 1e-6  # the change is seen from t on


# ----------------------------------------------------------------------------- sizes
SIZE_CASES = [
    {"in_features": 4, "width": 16, "state_size": 8, "layers": 2, "ssm_kind": "diagonal"},
    {"in_features": 1, "width": 32, "state_size": 16, "layers": 3, "ssm_kind": "dense", "layer_norm": True},
    {"input": "tokens", "vocab_size": 20, "width": 24, "state_size": 8, "layers": 2, "fnn_depth": 0,
     "out_features": 20},
    {"input": "tokens", "vocab_size": 64, "width": 64, "state_size": 32, "layers": 4, "fnn_depth": 2,
     "fnn_hidden": 128, "out_features": 64},
]


@pytest.mark.parametrize("case", SIZE_CASES)
def test_closed_form_counts_equal_the_built_models(case):
    config = SSMFNNConfig(**case)
    assert ssm_fnn_parameter_count(config) == count_parameters(SSMFNN(config))
    matched = matched_transformer_config(config, max_len=64)
    assert transformer_parameter_count(matched) == count_parameters(CausalTransformer(matched))


@pytest.mark.parametrize("case", SIZE_CASES)
def test_matched_transformer_is_within_25_percent(case):
    config = SSMFNNConfig(**case)
    matched = matched_transformer_config(config, max_len=64)
    ssm, transformer = ssm_fnn_parameter_count(config), transformer_parameter_count(matched)
    assert abs(transformer - ssm) <= 0.25 * ssm
    assert (matched.layers, matched.input, matched.out_features) == (config.layers, config.input, config.out_features)


def test_an_unmatchable_size_is_an_error_naming_the_gap():
    tiny = SSMFNNConfig(in_features=1, width=1, state_size=1, layers=1, fnn_hidden=1)
    with pytest.raises(ConfigError, match="within 25%"):
        matched_transformer_config(tiny, max_len=512, heads=8)


# ----------------------------------------------------------------------------- training
def test_a_one_layer_ssm_fnn_learns_a_lag_two_regression():
    set_seed(0)
    config = SSMFNNConfig(in_features=1, width=8, state_size=8, layers=1, fnn_hidden=32, ssm_kind="dense",
                          dt_min=0.1, dt_max=1.0)
    model = SSMFNN(config)
    result = train(model, lag_data(512), TrainConfig(steps=300, batch_size=64, lr=1e-2, eval_every=100),
                   eval_data=lag_data(256, seed=1))
    assert result.final_eval_loss < 0.05
    assert [step for step, _, _ in result.curve] == [100, 200, 300]
    assert result.curve[-1][1] < result.curve[0][1]
    assert result.parameters == count_parameters(model) and result.device == "cpu" and not result.autocast


def run_small(seed: int, data_seed: int = 0):
    set_seed(seed)
    model = build("diagonal", in_features=1, out_features=1, layers=1)
    return train(model, lag_data(128, seed=data_seed), TrainConfig(steps=30, batch_size=16, seed=seed, eval_every=10),
                 eval_data=lag_data(32, seed=9))


def test_the_same_seed_gives_an_identical_learning_curve():
    first, second = run_small(7), run_small(7)
    assert first.curve == second.curve and first.final_eval_loss == second.final_eval_loss
    assert run_small(8).curve != first.curve


def test_a_monitor_is_called_at_every_record_and_changes_nothing():
    plain = run_small(7)
    set_seed(7)
    model = build("diagonal", in_features=1, out_features=1, layers=1)
    calls = []

    def monitor(m):
        calls.append(m.training)
        return evaluate(m, lag_data(32, seed=9))

    watched = train(model, lag_data(128), TrainConfig(steps=30, batch_size=16, seed=7, eval_every=10),
                    eval_data=lag_data(32, seed=9), monitor=monitor)
    assert watched.curve == plain.curve and watched.final_eval_loss == plain.final_eval_loss
    assert [step for step, _ in watched.monitored] == [10, 20, 30] == [step for step, _, _ in watched.curve]
    assert [value for _, value in watched.monitored] == [loss for _, _, loss in watched.curve]
    assert calls == [True, True, True] and plain.monitored == []


def token_data(n: int, length: int = 10, vocab: int = 6, seed: int = 0):
    """Next-token style: the target at position t is the input token at t (identity)."""
    tokens = torch.randint(0, vocab, (n, length), generator=torch.Generator().manual_seed(seed))
    return tokens, tokens.clone()


@pytest.mark.parametrize("positions", ["all", "last", "even"])
def test_cross_entropy_on_tokens_with_each_kind_of_positions(positions):
    if positions == "even":
        def positions(inputs, targets):
            mask = torch.zeros(targets.shape, dtype=torch.bool, device=targets.device)
            mask[:, ::2] = True
            return mask
    set_seed(10)
    model = build("transformer", input="tokens", in_features=None, vocab_size=6, out_features=6)
    config = TrainConfig(steps=40, batch_size=None, lr=1e-2, loss="cross_entropy", positions=positions,
                         schedule="constant", eval_every=20)
    result = train(model, token_data(64), config, eval_data=token_data(32, seed=1))
    assert result.final_train_loss < result.curve[0][1]
    assert 0 <= result.final_eval_accuracy <= 1
    assert isinstance(result.config["positions"], str) and result.to_dict()["curve"] == result.curve


def test_loss_and_accuracy_in_one_pass_equal_evaluate_and_accuracy():
    set_seed(12)
    model = build("transformer", input="tokens", in_features=None, vocab_size=6, out_features=6)
    data = token_data(50)
    assert loss_and_accuracy(model, data, "cross_entropy", "all", batch_size=16) == (
        evaluate(model, data, "cross_entropy", "all", batch_size=16), accuracy(model, data, "all", batch_size=16))
    regression = build("diagonal", in_features=1, out_features=1)
    assert loss_and_accuracy(regression, lag_data(20)) == (evaluate(regression, lag_data(20)), None)


def test_final_train_examples_measures_the_final_training_loss_on_the_first_examples_only():
    data = token_data(64)
    config = dict(steps=5, batch_size=16, lr=1e-2, loss="cross_entropy", positions="all", eval_every=5)
    results, models = [], []
    for first in (None, 20, 64, 1000):
        set_seed(13)
        models.append(build("transformer", input="tokens", in_features=None, vocab_size=6, out_features=6))
        results.append(train(models[-1], data, TrainConfig(**config, final_train_examples=first)))
    everything, twenty, all_64, beyond = results
    assert everything.curve == twenty.curve  # training itself is unchanged
    assert (twenty.final_train_loss, twenty.final_train_accuracy) == loss_and_accuracy(
        models[1], (data[0][:20], data[1][:20]), "cross_entropy", "all")
    assert twenty.final_train_loss != everything.final_train_loss
    for same in (all_64, beyond):  # the whole set, or more than it holds: every example
        assert (same.final_train_loss, same.final_train_accuracy) == (everything.final_train_loss,
                                                                     everything.final_train_accuracy)
    assert twenty.config["final_train_examples"] == 20
    for bad in (0, -1, 2.5, True):
        with pytest.raises(ConfigError, match="final_train_examples"):
            TrainConfig(final_train_examples=bad)


def test_eval_mode_restores_the_training_flag_also_when_the_block_raises():
    model = build("diagonal", in_features=1, out_features=1)
    for flag in (True, False):
        model.train(flag)
        with pytest.raises(RuntimeError, match="inside"):
            with eval_mode(model) as inside:
                assert inside is model and not model.training
                raise RuntimeError("inside")
        assert model.training is flag


def test_last_position_targets_may_be_given_alone():
    set_seed(11)
    model = build("diagonal", in_features=1, out_features=1)
    x, y_last = lag_data(16)
    y_all = torch.zeros(16, 8, 1)
    y_all[:, -1] = y_last
    assert evaluate(model, (x, y_last)) == evaluate(model, (x, y_all))
    with pytest.raises(ShapeError, match="every position"):
        evaluate(model, (x, y_last), positions="all")


def test_accuracy_of_a_perfect_predictor_is_one():
    class Echo(torch.nn.Module):
        def __init__(self):
            super().__init__()
            self.w = torch.nn.Parameter(torch.zeros(()))

        def forward(self, tokens):
            return torch.nn.functional.one_hot(tokens, 6).float() + self.w

    assert accuracy(Echo(), token_data(8), positions="all") == 1.0


@pytest.mark.gpu
def test_training_on_cuda_with_autocast():
    set_seed(12)
    model = build("dense", in_features=1, out_features=1).cuda()
    result = train(model, lag_data(64), TrainConfig(steps=10, batch_size=16, autocast=True, eval_every=5))
    assert result.autocast and result.device.startswith("cuda")
    assert torch.isfinite(torch.tensor(result.final_train_loss))


# ----------------------------------------------------------------------------- errors
@pytest.mark.parametrize(
    ("make", "fragment"),
    [
        (lambda: SSMFNNConfig(in_features=1, width=-3), "width"),
        (lambda: SSMFNNConfig(in_features=1, ssm_kind="complex"), "ssm_kind 'complex'"),
        (lambda: SSMFNNConfig(in_features=1, fnn_depth=-1), "fnn_depth"),
        (lambda: SSMFNNConfig(input="tokens"), "vocab_size"),
        (lambda: SSMFNNConfig(input="pixels", in_features=1), "input kind 'pixels'"),
        (lambda: SSMFNNConfig(in_features=1, stability="tanh"), "stability 'tanh'"),
        (lambda: TransformerConfig(in_features=1, width=10, heads=4), "multiple of heads"),
        (lambda: TrainConfig(loss="hinge"), "loss 'hinge'"),
        (lambda: TrainConfig(positions="first"), "positions 'first'"),
        (lambda: TrainConfig(schedule="linear"), "schedule 'linear'"),
        (lambda: TrainConfig(lr=0.0), "lr"),
        (lambda: TrainConfig(batch_size=0), "batch_size"),
    ],
)
def test_invalid_configs_raise_a_value_error_naming_the_problem(make, fragment):
    with pytest.raises(ValueError, match=fragment):
        make()


def test_bad_inputs_are_shape_errors():
    with pytest.raises(ShapeError, match=r"\(batch, L, 3\)"):
        build("diagonal")(torch.zeros(2, 5, 4))
    with pytest.raises(ShapeError, match="max_len"):
        build("transformer")(torch.zeros(1, 33, 3))
    with pytest.raises(ShapeError, match="same, non-zero number"):
        train(build("diagonal"), (torch.zeros(4, 5, 3), torch.zeros(3, 2)), TrainConfig(steps=1))


def test_configs_are_frozen():
    with pytest.raises(dataclasses.FrozenInstanceError):
        SSMFNNConfig(in_features=1).width = 3


# ----------------------------------------------------------------------------- outputs at a few positions
@pytest.mark.parametrize("kind", [*SSM_KINDS, "transformer"])
@pytest.mark.parametrize("layers", [1, 2])
@pytest.mark.parametrize("length", [15, 40])  # the direct and the FFT convolution
@pytest.mark.parametrize("at", [[3, 7, 14], [14], list(range(12))])  # few positions (Toeplitz rows) and many
def test_outputs_at_selected_positions_equal_the_full_outputs_there(kind, layers, length, at):
    set_seed(5)
    extra = {"max_len": 64} if kind == "transformer" else {"layer_norm": True}
    model = build(kind, input="tokens", in_features=None, vocab_size=6, layers=layers, **extra).to(F64)
    tokens = torch.randint(0, 6, (4, length), generator=torch.Generator().manual_seed(6))
    at = torch.tensor(at)
    assert (model(tokens, at=at) - model(tokens)[:, at]).abs().max() < 1e-12


def test_training_on_scored_columns_follows_the_masked_training_step_for_step():
    """``columns`` changes the work of a step, not the step: the same losses and weights (float64)."""
    tokens = torch.randint(0, 6, (64, 9), generator=torch.Generator().manual_seed(7))
    targets = torch.full_like(tokens, -100)
    targets[:, [4, 8]] = tokens[:, [0, 1]]
    mask = lambda inputs, t: t != -100  # noqa: E731
    config = TrainConfig(steps=6, batch_size=16, lr=1e-2, loss="cross_entropy", positions=mask, eval_every=2)
    results = []
    for columns in (None, (4, 8)):
        set_seed(8)
        model = build("diagonal", input="tokens", in_features=None, vocab_size=6, out_features=6).to(F64)
        result = train(model, (tokens, targets), dataclasses.replace(config, columns=columns))
        results.append(([loss for _, loss, _ in result.curve], torch.cat([p.detach().flatten() for p in model.parameters()])))
    assert results[0][0] == pytest.approx(results[1][0], rel=1e-12)
    assert torch.allclose(results[0][1], results[1][1], rtol=0, atol=1e-12)
    with pytest.raises(ConfigError, match="not the positions"):
        train(build("diagonal", input="tokens", in_features=None, vocab_size=6, out_features=6).to(F64), (tokens, targets),
            dataclasses.replace(config, columns=(4,)))


def test_training_on_the_last_position_asks_the_model_for_it_alone_and_changes_nothing():
    """positions='last': a model that selects positions computes only the last output; the same run."""
    x, y = features(32, 11, 3, seed=9, dtype=F64), torch.randn(32, 2, generator=torch.Generator().manual_seed(9), dtype=F64)
    config = TrainConfig(steps=5, batch_size=8, lr=1e-2, eval_every=5)
    runs = []
    for selects in (True, False):
        set_seed(10)
        model = build("diagonal").to(F64)
        model.selects_positions = selects
        result = train(model, (x, y), config)
        runs.append((result.curve[-1][1], torch.cat([p.detach().flatten() for p in model.parameters()])))
    assert runs[0][0] == pytest.approx(runs[1][0], rel=1e-12)
    assert torch.allclose(runs[0][1], runs[1][1], rtol=0, atol=1e-12)
