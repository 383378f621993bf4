"""Step mode on the structured path (``constructions/sparse_step.py``, ``sparse_path.prefill``) equals the dense
step mode, its reference twin: outputs and states, token by token, exactly (float64; every weight and partial
sum of these networks is an integer); with every layout block sparse (``narrow_max=0``: the shift layers then
read sparse channels, which the structured step declines, so it hands over to the dense step mid-way), with a
memory headroom of one write (its bounds are remade every few tokens), with one weight changed at random, and
through the greedy decoder at a length where it takes this path."""

from __future__ import annotations

import pytest
import torch
from hypothesis import given, settings
from hypothesis import strategies as st

from checks.strategies import token_sequences, wide_networks
from constructions import sparse_path
from constructions.copying import greedy_decode, greedy_decode_rerunning, ngram
from constructions.errors import NumericalRangeError, SparsePathUnavailableError
from constructions.mutation import Mutation, apply_in_place
from constructions.sparse_step import SparseStepper
from constructions.tasks.copying import CopyConfig, assemble, distinct_ngram_strings


def assert_same_states(network, fast, dense):
    for block, a, b in zip(network.blocks, fast, dense):
        assert torch.equal(block.ssm.state_vector(a), block.ssm.state_vector(b))


def assert_steps_alike(network, tokens, split, **kw):
    """Prefill ``tokens[:, :split]`` both ways (same outputs and states), then step on both ways to the end."""
    narrow_max = kw.get("narrow_max", sparse_path.NARROW_MAX)
    out, state = network.prefill(tokens[:, :split])
    fast_out, fast_state = sparse_path.prefill(network, tokens[:, :split], narrow_max=narrow_max)
    assert torch.equal(fast_out, out)
    assert_same_states(network, fast_state, state)
    stepper = SparseStepper(network, fast_state, **kw)
    for t in range(split, tokens.shape[1]):
        out, state = network.step(tokens[:, t], state)
        assert torch.equal(stepper(tokens[:, t]), out), f"token {t}"
    assert_same_states(network, stepper.state(), state)


@settings(max_examples=15, deadline=None)
@given(data=st.data())
def test_the_structured_step_equals_the_dense_step_token_by_token(data):
    network = data.draw(wide_networks())
    tokens = data.draw(token_sequences(network.embedding.vocabulary.size))
    split = data.draw(st.integers(1, tokens.shape[1]), label="prompt length")
    assert_steps_alike(network, tokens, split, narrow_max=data.draw(st.sampled_from([0, sparse_path.NARROW_MAX])),
                       headroom=data.draw(st.sampled_from([1, 64]), label="headroom"))


@settings(max_examples=10, deadline=None)
@given(data=st.data())
def test_the_structured_step_equals_the_dense_step_with_one_weight_changed(data):
    """It reads the network's own tensors: a weight set to 0 or w + 1 changes both steps alike."""
    network = data.draw(wide_networks())
    entries = [(name, tuple(int(i) for i in idx), float(v))
               for name, p in network.named_parameters()
               for idx, v in zip(*((p.coalesce().indices().T, p.coalesce().values()) if p.is_sparse
                                   else (p.nonzero(), p[p != 0])))]
    name, index, value = entries[data.draw(st.integers(0, len(entries) - 1), label="weight")]
    apply_in_place(network, Mutation("drawn", name, index, 0.0 if data.draw(st.booleans()) else value + 1))
    tokens = data.draw(token_sequences(network.embedding.vocabulary.size, max_length=20))
    try:
        assert_steps_alike(network, tokens, data.draw(st.integers(1, tokens.shape[1]), label="prompt length"))
    except SparsePathUnavailableError:  # the prefill declined (too many channels without a sparse marker): never wrong
        pass


def test_a_long_decode_stays_on_the_structured_path_with_few_plans(monkeypatch):
    """The n-gram copier at |s| = 60: every copied token exact, equal to the rerunning twin, the structured step
    never declining, and its plans made a bounded number of times (not once per token)."""
    import constructions.sparse_step as sparse_step

    config, n = CopyConfig(5, 60), 3
    construction = ngram.build(config, n)
    tokens = assemble(config, distinct_ngram_strings(config.alphabet, n, config.length, 2, 0)).tokens
    prompts = tokens[:, : config.length + 2]
    monkeypatch.setattr(sparse_path, "AUTO_MIN_VALUES", 1)  # this small format takes the structured path too
    plans, steppers = [], []
    classify, init = sparse_step._classify, SparseStepper.__init__
    monkeypatch.setattr(sparse_step, "_classify", lambda *a: plans.append(1) or classify(*a))
    monkeypatch.setattr(SparseStepper, "__init__", lambda self, *a, **k: steppers.append(self) or init(self, *a, **k))
    fast = greedy_decode(construction, prompts, config.length + 1, decoder="step")
    assert torch.equal(fast, tokens[:, config.length + 2 :])
    assert steppers and all(s.dense is None for s in steppers)
    assert len(plans) <= 30, f"{len(plans)} plans made for {config.length + 1} tokens"
    assert torch.equal(fast, greedy_decode_rerunning(construction, prompts, config.length + 1))


def test_the_structured_step_names_an_overflow_as_the_dense_step_does():
    config = CopyConfig(3, 4)
    network = ngram.build(config, 2).network
    tokens = assemble(config, torch.tensor([[0, 1, 2, 0]])).tokens
    _, fast_state = sparse_path.prefill(network, tokens[:, :6])
    _, state = network.prefill(tokens[:, :6])
    for W in network.blocks[0].fnn.weights[:2]:  # then the slot encoder's first two maps: 1e308^2 overflows
        W.data *= 1e308
    stepper = SparseStepper(network, fast_state)
    with pytest.raises(NumericalRangeError, match="the FNN of block 0") as fast:
        stepper(tokens[:, 6])
    with pytest.raises(NumericalRangeError) as dense:
        network.step(tokens[:, 6], state)
    assert str(fast.value) == str(dense.value)
