"""The numpy stepper of small dense networks (``constructions/numpy_step.py``) equals the torch step mode, its
reference twin: on drawn networks (random float weights: equal within round-off of another summation order,
states too), on the fixed-length copier exactly (integer sums) token by token and through ``greedy_decode``
(which takes it for small batches) against the rerunning twin; it names an overflow as the torch step does and
declines what it does not run."""

from __future__ import annotations

import numpy as np
import pytest
import torch
from hypothesis import assume, given, settings

from checks.strategies import copy_configs, fixed_length_strings, prefilled_networks
from constructions.copying import fixed_length, greedy_decode, greedy_decode_rerunning
from constructions.embedding import TableEmbedding
from constructions.errors import NumericalRangeError
from constructions.fnn import FNN
from constructions.network import SSMNetwork
from constructions.numpy_step import numpy_stepper
from constructions.ssm import DiagonalSSM, shifts
from constructions.tasks import copying
from constructions.vocabulary import Vocabulary


@settings(max_examples=40, deadline=None)
@given(case=prefilled_networks())
def test_the_numpy_stepper_equals_the_torch_step_on_drawn_networks(case):
    network, tokens, split, state = case
    lean = numpy_stepper(network, state)
    assume(lean is not None)  # complex layers: the torch step only
    for t in range(split, tokens.shape[1]):
        out, state = network.step(tokens[:, t], state)
        torch.testing.assert_close(torch.from_numpy(lean(tokens[:, t])), out, rtol=1e-12, atol=1e-12)
    for block, a, b in zip(network.blocks, lean.state(), state):
        torch.testing.assert_close(block.ssm.state_vector(a), block.ssm.state_vector(b), rtol=1e-12, atol=1e-12)


@settings(max_examples=20, deadline=None)
@given(case=fixed_length_strings(copy_configs(max_alphabet=6, max_length=40)))
def test_the_numpy_stepper_equals_the_torch_step_exactly_on_the_fixed_length_copier(case):
    config, string = case
    network = fixed_length.build(config).network
    tokens = copying.assemble(config, torch.tensor([string])).tokens
    _, state = network.prefill(tokens[:, :1])
    lean = numpy_stepper(network, state)
    for t in range(1, tokens.shape[1]):
        out, state = network.step(tokens[:, t], state)
        assert torch.equal(torch.from_numpy(lean(tokens[:, t])), out), f"token {t}"


def test_greedy_decoding_in_numpy_equals_rerunning_at_length_255(monkeypatch):
    import constructions.copying.decoding as decoding

    config = copying.CopyConfig(16, 126)
    construction = fixed_length.build(config)
    batch = copying.generate(config, 4, 1)
    calls = []
    real = decoding._decode_numpy
    monkeypatch.setattr(decoding, "_decode_numpy", lambda *a: calls.append(1) or real(*a))
    fast = greedy_decode(construction, batch.prompts(), config.length + 1, decoder="step")
    assert calls and torch.equal(fast, batch.targets)
    assert torch.equal(fast, greedy_decode_rerunning(construction, batch.prompts(), config.length + 1))


def test_the_numpy_stepper_names_an_overflow_as_the_torch_step_does():
    construction = fixed_length.build(copying.CopyConfig(3, 4))
    network = construction.network
    network.blocks[0].fnn.weights[0].data *= 1e308
    tokens = copying.generate(construction.config, 1, 0).tokens[0]
    lean = numpy_stepper(network, network.initial_state(1))
    with pytest.raises(NumericalRangeError, match="the FNN of block 0") as fast, np.errstate(over="ignore",
                                                                                         invalid="ignore"):
        for token in tokens:
            lean(token.view(1))
    state = network.initial_state(1)
    with pytest.raises(NumericalRangeError) as dense:
        for token in tokens:
            _, state = network.step(token.view(1), state)
    assert str(fast.value) == str(dense.value)


def test_the_numpy_stepper_declines_sparse_weights_and_complex_layers():
    embedding = TableEmbedding(Vocabulary.of(token=2), torch.ones(2, 1, dtype=torch.float64))
    one = torch.ones(1, 1, dtype=torch.float64)
    sparse = SSMNetwork(embedding, [(shifts([0]), FNN([(one.to_sparse(), torch.zeros(1, dtype=torch.float64))]))])
    complex_layer = SSMNetwork(embedding, [(DiagonalSSM(one * 0.5j, one, one), FNN.identity(1))])
    for network in (sparse, complex_layer):
        assert numpy_stepper(network, network.initial_state(1)) is None
