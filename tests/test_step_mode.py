"""Step mode keeps issue 15's guarantees and refuses what it cannot serve (library unit tests; its equality
with the convolutional modes is claim ``model.step-mode``, checks/test_ssm_model.py)."""

from __future__ import annotations

import math

import pytest
import torch
from hypothesis import given, settings

from checks.strategies import prefilled_networks
from constructions.copying import fixed_length, greedy_decode, greedy_decode_rerunning
from constructions.errors import NonCausalError, NonFiniteInputError, NumericalRangeError, ShapeError
from constructions.ssm import DiagonalSSM, SSMBank, ShiftSSM, accumulator, shifts
from constructions.embedding import TableEmbedding
from constructions.fnn import FNN
from constructions.network import SSMNetwork
from constructions.tasks import copying
from constructions.vocabulary import Vocabulary

F64 = torch.float64


@pytest.mark.parametrize("bad", [math.nan, math.inf, -math.inf])
@pytest.mark.parametrize("layer", [shifts([0, 2]), accumulator(2), SSMBank([accumulator(1), shifts([1])])], ids=["shift", "accumulator", "bank"])
def test_a_non_finite_token_is_refused_before_the_state_changes(layer, bad):
    state = layer.initial_state(1)
    _, state = layer.step(torch.ones(1, 2, dtype=F64), state)
    before = layer.state_vector(state).clone()
    x = torch.tensor([[1.0, bad]], dtype=F64)
    with pytest.raises(NonFiniteInputError, match=r"non-finite .* index \(0, 1\)"):
        layer.step(x, state)
    assert torch.equal(layer.state_vector(state), before)


def test_an_overflowing_state_raises_a_numerical_range_error_at_the_step_it_happens():
    layer = accumulator(1, 10.0)  # y_t = 10^t on ones: beyond float64 from t = 309
    state, x = layer.initial_state(1), torch.ones(1, 1, dtype=F64)
    for t in range(308):
        y, state = layer.step(x, state)
    assert math.isfinite(float(y))
    with pytest.raises(NumericalRangeError, match="overflows torch.float64 in step mode.*rho = 10"):
        for _ in range(3):
            y, state = layer.step(x, state)


def test_a_network_overflowing_in_step_mode_names_where():
    construction = fixed_length.build(copying.CopyConfig(3, 4))
    construction.network.blocks[0].fnn.weights[0].data *= 1e308
    tokens = copying.generate(construction.config, 1, 0).tokens
    with pytest.raises(NumericalRangeError, match="the FNN of block 0"):
        construction.network.steps(tokens)


@pytest.mark.parametrize("layer", [ShiftSSM(torch.ones(1, 3, dtype=F64), lookahead=1),
                                   DiagonalSSM(torch.ones(1, 1, dtype=F64), torch.ones(1, 1, dtype=F64), torch.ones(1, 1, dtype=F64), lookahead=2),
                                   SSMBank([shifts([1]), ShiftSSM(torch.ones(1, 2, dtype=F64), lookahead=1)])])
def test_a_two_sided_layer_has_no_step_mode(layer):
    with pytest.raises(NonCausalError, match="looks ahead"):
        layer.initial_state(1)
    with pytest.raises(NonCausalError):
        layer.state_after(torch.zeros(1, 3, layer.channels, dtype=F64))


def test_a_network_with_a_two_sided_layer_refuses_step_mode_and_prefill():
    construction = fixed_length.build(copying.CopyConfig(3, 4))
    network = construction.network
    network.blocks[0].ssm.lookahead = 1
    tokens = copying.generate(construction.config, 1, 0).tokens
    for run in (lambda: network.initial_state(1), lambda: network.prefill(tokens), lambda: network.steps(tokens)):
        with pytest.raises(NonCausalError):
            run()


def test_a_state_of_another_layer_or_batch_is_refused():
    layer, x = shifts([0, 2]), torch.ones(2, 2, dtype=F64)
    with pytest.raises(ShapeError, match="for 2 sequences"):
        layer.step(x, layer.initial_state(3))
    with pytest.raises(ShapeError, match="ShiftState"):
        layer.step(x, accumulator(2).initial_state(2))
    with pytest.raises(ShapeError, match="shape \\(batch, channels\\)"):
        layer.step(torch.ones(2, 1, 2, dtype=F64), layer.initial_state(2))
    with pytest.raises(ShapeError, match="batch >= 1"):
        layer.initial_state(0)
    network = fixed_length.build(copying.CopyConfig(3, 4)).network
    with pytest.raises(ShapeError, match="tuple of 1 SSM states"):
        network.step(torch.tensor([0]), ())


def test_step_mode_decoding_equals_rerunning_at_length_255():
    config = copying.CopyConfig(16, 126)
    construction = fixed_length.build(config)
    batch = copying.generate(config, 4, 1)
    fast = greedy_decode(construction, batch.prompts(), config.length + 1, decoder="step")
    assert torch.equal(fast, batch.targets)
    assert torch.equal(fast, greedy_decode_rerunning(construction, batch.prompts(), config.length + 1))


def test_verify_decodes_a_copier_free_running_in_step_mode(tmp_path):
    from constructions.serialization import save
    from reports.verify import verify_file

    construction = fixed_length.build(copying.CopyConfig(3, 5))
    good = verify_file(save(construction, tmp_path / "good.safetensors"), "copying", examples=3, batch=8, seed=0, ngram=None)
    free = next(c for c in good["checks"] if c["check"].startswith("free-running"))
    assert free["passed"] and free["instances"] == 8 and good["exit_code"] == 0
    construction.network.blocks[0].ssm.C.data[0, -1] = 0.5  # reads half the symbol: wrong copies
    bad = verify_file(save(construction, tmp_path / "bad.safetensors"), "copying", examples=3, batch=8, seed=0, ngram=None)
    free = next(c for c in bad["checks"] if c["check"].startswith("free-running"))
    assert free["passed"] is False and free["wrong_answers"] > 0 and len(free["first_failure"]["generated"]) == 6
    exact = verify_file(tmp_path / "good.safetensors", "copying", examples=3, batch=8, seed=0, ngram=None, exact=True)
    assert next(c for c in exact["checks"] if c["check"].startswith("free-running"))["passed"] is None


# ----------------------------------------------------------------------------- the lean stepper of decoders
@settings(max_examples=40, deadline=None)
@given(case=prefilled_networks())
def test_the_network_stepper_equals_step_token_by_token(case):
    network, tokens, split, state = case
    stepper = network.stepper(state)
    for t in range(split, tokens.shape[1]):
        out, state = network.step(tokens[:, t], state)
        assert torch.equal(stepper(tokens[:, t]), out), f"token {t}"
    for block, lean, checked in zip(network.blocks, stepper.state(), state):
        assert torch.equal(block.ssm.state_vector(lean), block.ssm.state_vector(checked))


def test_the_network_stepper_names_an_fnn_overflow_as_step_does():
    construction = fixed_length.build(copying.CopyConfig(3, 4))
    network = construction.network
    network.blocks[0].fnn.weights[0].data *= 1e308
    stepper = network.stepper(network.initial_state(1))
    with pytest.raises(NumericalRangeError, match="the FNN of block 0"):
        for token in copying.generate(construction.config, 1, 0).tokens[0]:
            stepper(token.view(1))


def test_the_network_stepper_names_an_overflowing_ssm_layer():
    ssm = DiagonalSSM(torch.full((1, 1), 1e100, dtype=F64), torch.ones(1, 1, dtype=F64), torch.ones(1, 1, dtype=F64))
    network = SSMNetwork(TableEmbedding(Vocabulary.of(token=2), torch.ones(2, 1, dtype=F64)), [(ssm, FNN.identity(1))])
    stepper = network.stepper(network.initial_state(1))
    with pytest.raises(NumericalRangeError, match="DiagonalSSM output overflows"):
        for _ in range(5):
            stepper(torch.tensor([1]))


def test_the_network_stepper_takes_finite_outputs_whose_sum_overflows():
    big = torch.full((2, 1), 1e308, dtype=F64)
    network = SSMNetwork(TableEmbedding(Vocabulary.of(token=2), torch.ones(2, 1, dtype=F64)),
                         [(shifts([0]), FNN([(big, torch.zeros(2, dtype=F64))]))])
    out = network.stepper(network.initial_state(1))(torch.tensor([1]))
    assert torch.equal(out, torch.full((1, 2), 1e308, dtype=F64))
