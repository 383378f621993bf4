"""The structured fast path (``constructions/sparse_path.py``) equals its dense reference twin.

float64, exact equality (every weight and partial sum of these networks is an integer): on
hypothesis-drawn task instances, on arbitrary token sequences, with every layout block kept sparse
(``narrow_max=0``) or narrow blocks dense, on networks with one weight changed at random (0 or
w + 1, as the mutation campaign does) and with each listed fault of both constructions
(``--list-faults``); both paths refuse the same bad inputs with the same named errors.
"""

from __future__ import annotations

import pytest
import torch
from hypothesis import given
from hypothesis import strategies as st

from checks.strategies import ar_configs, ar_instances, ngram_strings, token_sequences
from constructions import sparse_path
from constructions.associative_recall import outer_product
from constructions.copying import ngram
from constructions.errors import (
    NumericalRangeError,
    SequenceLayoutError,
    ShapeError,
    SparsePathUnavailableError,
    TokenRangeError,
    UnknownOptionError,
)
from constructions.mutation import apply_in_place, faults_of, mutate, Mutation
from constructions.tasks.associative_recall import ARConfig, generate
from constructions.tasks.copying import CopyConfig, assemble
from constructions.verification import verify

NARROW = st.sampled_from([0, sparse_path.NARROW_MAX])


def assert_same(network, tokens, narrow_max=sparse_path.NARROW_MAX):
    dense = network(tokens)
    fast = sparse_path.forward(network, tokens, narrow_max=narrow_max)
    assert fast.dtype == dense.dtype == torch.float64 and fast.shape == dense.shape
    assert torch.equal(fast, dense), f"max |fast - dense| = {(fast - dense).abs().max().item()}"


RECALL_FORMATS = ar_configs(query="last", max_keys=9, max_values=6, max_queries=4, max_length=40)


@given(case=ar_instances(RECALL_FORMATS), narrow_max=NARROW)
def test_outer_product_fast_path_equals_dense_on_drawn_instances(case, narrow_max):
    config, batch = case
    assert_same(outer_product.build(config).network, batch.tokens, narrow_max)


@given(case=ngram_strings(max_length=24), narrow_max=NARROW)
def test_ngram_fast_path_equals_dense_on_drawn_strings(case, narrow_max):
    alphabet, n, string = case
    config = CopyConfig(alphabet, len(string))
    assert_same(ngram.build(config, n).network, assemble(config, torch.tensor([string])).tokens, narrow_max)


@st.composite
def networks_and_tokens(draw):
    """One of the two wide constructions at a small format, and any token sequences of its vocabulary."""
    if draw(st.booleans()):
        config = draw(RECALL_FORMATS)
        network = outer_product.build(config).network
    else:
        config = CopyConfig(draw(st.integers(1, 4)), draw(st.integers(1, 8)))
        network = ngram.build(config, draw(st.integers(1, 3))).network
    return network, draw(token_sequences(config.vocabulary().size))


@given(case=networks_and_tokens(), narrow_max=NARROW)
def test_fast_path_equals_dense_on_any_token_sequence(case, narrow_max):
    network, tokens = case
    assert_same(network, tokens, narrow_max)


@given(case=networks_and_tokens(), narrow_max=NARROW, pick=st.integers(0, 2**31), plus_one=st.booleans())
def test_fast_path_equals_dense_with_one_weight_changed(case, narrow_max, pick, plus_one):
    """The fast path reads the network's own tensors: any single weight set to 0 or w + 1 changes both alike."""
    network, tokens = case
    entries = [(name, tuple(int(i) for i in idx), float(v))
               for name, p in network.named_parameters()
               for idx, v in zip(*((p.coalesce().indices().T, p.coalesce().values()) if p.is_sparse
                                   else (p.nonzero(), p[p != 0])))]
    name, index, value = entries[pick % len(entries)]
    apply_in_place(network, Mutation("drawn", name, index, 0.0 if not plus_one else (value - 1 if value == -1 else value + 1)))
    try:
        assert_same(network, tokens, narrow_max)
    except SparsePathUnavailableError:  # a change that leaves too many channels without a sparse marker: declined, never wrong
        pass


FAULTED = [("outer-product", outer_product, ARConfig(5, 4, 4, num_queries=3)),
           ("ngram-lookup", ngram, CopyConfig(3, 6))]


@pytest.mark.parametrize("name, module, config", FAULTED, ids=[f[0] for f in FAULTED])
def test_every_listed_fault_changes_both_paths_alike(name, module, config):
    """Each fault of ``--list-faults`` (single weights and growth faults): the faulted network's fast and
    dense outputs are equal, and differ from the intact network's where the fault breaks it."""
    intact = module.build(config)
    tokens = (generate(config, 64, 3) if isinstance(config, ARConfig)
              else assemble(config, torch.tensor([[0, 1, 2, 0, 2, 1], [2, 2, 1, 0, 0, 1]]))).tokens
    changed = 0
    for fault in faults_of(module, config):
        broken = mutate(intact, fault)
        for narrow_max in (0, sparse_path.NARROW_MAX):
            assert_same(broken.network, tokens, narrow_max)
        changed += not torch.equal(broken.network(tokens), intact.network(tokens))
    assert changed >= 1, f"no fault of {name} changed the outputs on these tokens: the test would not see a difference"


@pytest.mark.parametrize("name, module, config", FAULTED, ids=[f[0] for f in FAULTED])
def test_a_fault_injected_after_the_plan_was_cached_is_seen(name, module, config):
    """The fast path keeps its per-network plan between calls; every way of changing the network afterwards
    -- a listed fault applied in place (and undone), an entry written through ``.data`` (no version bump),
    a growth fault replacing a module -- is seen: fast equals dense on the changed network each time."""
    construction = module.build(config)
    network = construction.network
    tokens = (generate(config, 64, 3) if isinstance(config, ARConfig)
              else assemble(config, torch.tensor([[0, 1, 2, 0, 2, 1], [2, 2, 1, 0, 0, 1]]))).tokens
    intact = network(tokens)
    assert_same(network, tokens)  # the plan is cached now
    assert sparse_path._plan(network) is sparse_path._plan(network)
    changed = 0
    for fault in module.mutations(config):
        undo = apply_in_place(network, fault)
        assert_same(network, tokens)
        changed += not torch.equal(network(tokens), intact)
        undo()
        assert_same(network, tokens)
    assert changed >= 1, "no listed fault changed the outputs: the test would not see a stale plan"
    network.blocks[-1].fnn.biases[-1].data[0] += 1  # in place, behind autograd's version counter
    assert_same(network, tokens)
    assert not torch.equal(network(tokens), intact)
    for W in network.blocks[0].fnn.weights:  # every weight, sparse ones through their values
        (W.data._values() if W.is_sparse else W.data.view(-1))[0] += 1
        assert_same(network, tokens)
    growth = getattr(module, "growth_faults", lambda c: [])(config)
    for fault in growth[:1]:
        fault.apply(network)
        assert_same(network, tokens)


def test_verify_chooses_the_fast_path_for_long_wide_inputs_and_the_dense_one_stays_selectable(monkeypatch):
    config = ARConfig(40, 4, 40, num_queries=20)
    construction = outer_product.build(config)
    tokens = generate(config, 4, 0).tokens
    calls = []
    real = sparse_path.forward
    monkeypatch.setattr(sparse_path, "forward", lambda *a, **k: calls.append(1) or real(*a, **k))
    monkeypatch.setattr(sparse_path, "AUTO_MIN_VALUES", 1)
    fast = verify(construction, tokens)
    assert calls and fast.ok
    calls.clear()
    dense = verify(construction, tokens, path="dense")
    assert not calls and dense.ok and dense.max_abs_error == fast.max_abs_error
    monkeypatch.setattr(sparse_path, "AUTO_MIN_VALUES", 1 << 62)
    verify(construction, tokens)
    assert not calls  # small inputs stay on the dense path


BAD_INPUTS = [
    ("wrong layout", lambda t: t[:, :-1], SequenceLayoutError),
    ("token out of range", lambda t: t.index_fill(1, torch.tensor([0]), 10**6), TokenRangeError),
    ("negative token", lambda t: t.index_fill(1, torch.tensor([1]), -1), TokenRangeError),
    ("non-finite float tokens", lambda t: t.double().index_fill(1, torch.tensor([0]), float("nan")), TokenRangeError),
    ("one-dimensional", lambda t: t[0], ShapeError),
]


@pytest.mark.parametrize("what, spoil, error", BAD_INPUTS, ids=[b[0] for b in BAD_INPUTS])
@pytest.mark.parametrize("path", ["dense", "sparse", "auto"])
def test_both_paths_refuse_bad_inputs_with_the_same_named_error(what, spoil, error, path):
    for construction, tokens in ((outer_product.build(ARConfig(4, 4, 3)), generate(ARConfig(4, 4, 3), 2, 0).tokens),
                                 (ngram.build(CopyConfig(3, 4), 2), assemble(CopyConfig(3, 4), torch.tensor([[0, 1, 2, 0]])).tokens)):
        with pytest.raises(error):
            construction.outputs(spoil(tokens), path=path)
        if error is SequenceLayoutError:
            continue  # the task format is the construction's: a network reads any length
        with pytest.raises(error):  # the network-level entry point too
            (construction.network if path == "dense" else lambda t: sparse_path.forward(construction.network, t))(spoil(tokens))


def test_both_paths_refuse_an_overflow_with_numerical_range_error():
    construction = outer_product.build(ARConfig(4, 4, 3))
    with torch.no_grad():
        construction.network.pre_fnn.weights[0].mul_(1e308)  # the memory sums two of them: inf
    tokens = generate(ARConfig(4, 4, 3), 2, 0).tokens
    for path in ("dense", "sparse"):
        with pytest.raises(NumericalRangeError):
            construction.outputs(tokens, path=path)


def test_unknown_path_is_refused_and_unsupported_networks_are_declined():
    from constructions.associative_recall import binary_query_first

    construction = outer_product.build(ARConfig(4, 4, 3))
    with pytest.raises(UnknownOptionError):
        construction.outputs(generate(ARConfig(4, 4, 3), 1, 0).tokens, path="fast")
    binary = binary_query_first.build(ARConfig(4, 4, 2, query="first"))  # binary embedding
    assert not sparse_path.supports(binary.network)
    with pytest.raises(SparsePathUnavailableError):
        binary.outputs(generate(ARConfig(4, 4, 2, query="first"), 1, 0).tokens, path="sparse")


@pytest.mark.parametrize("build, tokens", [
    (lambda: outer_product.build(ARConfig(300, 4, 300, num_queries=200)), lambda: generate(ARConfig(300, 4, 300, num_queries=200), 2, 1).tokens),
    (lambda: ngram.build(CopyConfig(6, 40), 3), lambda: assemble(CopyConfig(6, 40), torch.randperm(216)[:40].reshape(1, 40) % 6).tokens),
], ids=["outer-product K=300", "ngram D=6 n=3"])
def test_fast_path_equals_dense_at_a_wide_format(build, tokens):
    """Widths where the fast path's sparse machinery, not its dense blocks, does the work (1500 and 3000+ cells)."""
    assert_same(build().network, tokens())
