"""Named channel layouts, the block-wise affine-map builder, and the token-wise ReLU FNN."""

from __future__ import annotations

import pytest
import torch
from hypothesis import given, settings
from hypothesis import strategies as st

from constructions.errors import ShapeError
from constructions.fnn import FNN
from constructions.layout import AffineMap, Layout
from constructions.selection import hamming_select_fnn

F64 = torch.float64


def t64(rows):
    return torch.tensor(rows, dtype=F64)


# ----------------------------------------------------------------------------- Layout
def test_layout_slices_blocks_in_order_including_empty_ones():
    layout = Layout.of(key=2, empty=0, value=3, flag=1)
    assert layout.width == 6
    assert layout.names == ("key", "empty", "value", "flag")
    assert layout["key"] == slice(0, 2)
    assert layout["empty"] == slice(2, 2)
    assert layout["value"] == slice(2, 5)
    assert layout["flag"] == slice(5, 6)
    assert [layout.size(n) for n in layout.names] == [2, 0, 3, 1]


def test_layout_membership_and_missing_block():
    layout = Layout.of(a=1, b=2)
    assert "a" in layout and "b" in layout and "c" not in layout
    with pytest.raises(ShapeError, match="no block 'c'"):
        layout["c"]


def test_layout_split_returns_each_block_of_the_last_dimension():
    layout = Layout.of(a=1, b=2, c=0)
    x = torch.arange(12, dtype=F64).reshape(2, 2, 3)
    parts = layout.split(x)
    assert list(parts) == ["a", "b", "c"]
    assert torch.equal(parts["a"], x[..., 0:1])
    assert torch.equal(parts["b"], x[..., 1:3])
    assert parts["c"].shape == (2, 2, 0)


def test_layout_of_and_explicit_blocks_are_equal_and_hashable():
    assert Layout.of(a=1, b=2) == Layout((("a", 1), ("b", 2)))
    assert len({Layout.of(a=1, b=2), Layout((("a", 1), ("b", 2)))}) == 1


# ----------------------------------------------------------------------------- AffineMap
SOURCE = Layout.of(u=2, s=1, w=3)
TARGET = Layout.of(p=2, q=1, r=3)


def block(m: AffineMap, target: str, source: str) -> torch.Tensor:
    return m.weight[m.target[target], m.source[source]]


def only_block_set(m: AffineMap, target: str, source: str) -> bool:
    rest = m.weight.clone()
    rest[m.target[target], m.source[source]] = 0
    return bool((rest == 0).all())


def test_connect_with_a_scalar_writes_a_multiple_of_the_identity_into_a_square_block():
    m = AffineMap(SOURCE, TARGET).connect("p", "u", 3.0)
    assert torch.equal(block(m, "p", "u"), 3.0 * torch.eye(2, dtype=F64))
    assert only_block_set(m, "p", "u")


def test_connect_with_a_vector_into_a_one_wide_target_writes_a_row():
    m = AffineMap(SOURCE, TARGET).connect("q", "w", [1.0, -2.0, 0.5])
    assert torch.equal(block(m, "q", "w"), t64([[1.0, -2.0, 0.5]]))
    assert only_block_set(m, "q", "w")


def test_connect_with_a_vector_from_a_one_wide_source_writes_a_column():
    m = AffineMap(SOURCE, TARGET).connect("r", "s", t64([1.0, 2.0, 3.0]))
    assert torch.equal(block(m, "r", "s"), t64([[1.0], [2.0], [3.0]]))
    assert only_block_set(m, "r", "s")


def test_connect_with_a_matrix_writes_it_into_the_block():
    M = t64([[1.0, 2.0, 3.0], [4.0, 5.0, 6.0]])
    m = AffineMap(SOURCE, TARGET).connect("p", "w", M)
    assert torch.equal(block(m, "p", "w"), M)
    assert only_block_set(m, "p", "w")


def test_connect_adds_to_what_is_already_there_and_chains():
    m = AffineMap(SOURCE, TARGET)
    assert m.connect("p", "u", 1.0).connect("p", "u", 2.0) is m
    assert torch.equal(block(m, "p", "u"), 3.0 * torch.eye(2, dtype=F64))


def test_add_bias_writes_the_target_block_of_the_bias_only():
    m = AffineMap(SOURCE, TARGET).add_bias("r", [1.0, 2.0, 3.0]).add_bias("q", -1.0)
    W, b = m.build()
    assert torch.equal(b, t64([0.0, 0.0, -1.0, 1.0, 2.0, 3.0]))
    assert W.shape == (TARGET.width, SOURCE.width) and not W.any()


def test_affine_map_keeps_the_requested_dtype():
    W, b = AffineMap(SOURCE, TARGET, dtype=torch.float32).connect("p", "u", 1).build()
    assert W.dtype == b.dtype == torch.float32


@settings(max_examples=60, deadline=None)
@given(data=st.data())
def test_affine_map_build_equals_torch_coalesce_of_its_triplets(data):
    """``build`` places triplets without a sort where it can (connections touching each row once, in
    order); whatever the connections, it is torch's coalesce of all of them (duplicates summed)."""
    source = Layout.of(a=data.draw(st.integers(1, 4)), b=data.draw(st.integers(1, 4)), c=1)
    target = Layout.of(x=data.draw(st.integers(1, 4)), y=data.draw(st.integers(1, 4)))
    m = AffineMap(source, target)
    g = torch.Generator().manual_seed(data.draw(st.integers(0, 2**16)))
    for _ in range(data.draw(st.integers(0, 6))):
        t, src = data.draw(st.sampled_from(target.names)), data.draw(st.sampled_from(source.names))
        shape = (target.size(t), source.size(src))
        kind = data.draw(st.sampled_from(["dense", "selector", "sparse"]))
        if kind == "dense":
            value = torch.randint(-2, 3, shape, generator=g).to(F64)
        else:  # a selection (each row once, ascending) or any sparse matrix, repeated entries included
            rows = (torch.arange(shape[0]) if kind == "selector" else torch.randint(0, shape[0], (5,), generator=g))
            cols = torch.randint(0, shape[1], rows.shape, generator=g)
            value = torch.sparse_coo_tensor(torch.stack([rows, cols]), torch.randint(1, 3, rows.shape, generator=g).to(F64), shape,
                                            check_invariants=True)
        m.connect(t, src, value)
    W, _ = m.build(sparse=True)
    expected = torch.sparse_coo_tensor(torch.stack([torch.cat(m._rows), torch.cat(m._cols)]) if m._rows else torch.zeros(2, 0, dtype=torch.long),
                                       torch.cat(m._vals) if m._vals else torch.zeros(0, dtype=F64),
                                       (target.width, source.width), check_invariants=True).coalesce()
    assert W.is_coalesced()
    assert torch.equal(W.indices(), expected.indices()) and torch.equal(W.values(), expected.values())
    assert torch.equal(m.weight, expected.to_dense())


def test_a_sparse_value_with_entries_outside_its_block_is_refused():
    bad = torch.sparse_coo_tensor(torch.tensor([[0], [5]]), t64([1.0]), (2, 3), check_invariants=False)
    with pytest.raises(ShapeError, match="outside"):
        AffineMap(SOURCE, TARGET).connect("p", "w", bad)


# ----------------------------------------------------------------------------- FNN
def three_layer_fnn():
    g = torch.Generator().manual_seed(0)
    shapes = [(3, 2), (4, 3), (1, 4)]
    return FNN([(torch.randn(o, i, generator=g, dtype=F64), torch.randn(o, generator=g, dtype=F64)) for o, i in shapes])


def test_fnn_depth_is_the_number_of_affine_maps_and_widths_are_p0_to_pL():
    f = three_layer_fnn()
    assert f.depth == 3
    assert f.widths == (2, 3, 4, 1)
    assert f.in_features == 2 and f.out_features == 1
    assert list(f.parameter_tensors()) == ["W1", "b1", "W2", "b2", "W3", "b3"]
    assert f.dtype == F64 and f.device == torch.device("cpu")


def test_fnn_applies_relu_between_layers_and_none_after_the_last():
    f = three_layer_fnn()
    x = torch.randn(5, 7, 2, generator=torch.Generator().manual_seed(1), dtype=F64)
    (W1, b1), (W2, b2), (W3, b3) = zip(f.weights, f.biases)
    expected = torch.relu(torch.relu(x @ W1.T + b1) @ W2.T + b2) @ W3.T + b3
    torch.testing.assert_close(f(x), expected, rtol=1e-12, atol=1e-12)


def test_single_layer_fnn_is_affine_so_outputs_can_be_negative():
    f = FNN([(t64([[1.0], [-1.0]]), t64([0.0, -5.0]))])
    assert torch.equal(f(t64([[2.0]])), t64([[2.0, -7.0]]))


def test_relu_clips_a_negative_hidden_unit_to_zero():
    # hidden = relu(-x) is 0 for x > 0; the output layer then adds -1 without a ReLU.
    f = FNN([(t64([[-1.0]]), t64([0.0])), (t64([[1.0]]), t64([-1.0]))])
    assert torch.equal(f(t64([[3.0], [-3.0]])), t64([[-1.0], [2.0]]))


def test_fnn_identity_returns_its_input():
    x = torch.randn(2, 3, 4, generator=torch.Generator().manual_seed(2), dtype=F64)
    f = FNN.identity(4)
    assert f.depth == 1 and f.widths == (4, 4)
    assert torch.equal(f(x), x)


def test_fnn_from_maps_keeps_the_layouts_of_every_stage():
    hidden = Layout.of(h=2)
    out = Layout.of(o=1)
    first = AffineMap(SOURCE, hidden).connect("h", "u", 1.0)
    second = AffineMap(hidden, out).connect("o", "h", [1.0, 1.0])
    f = FNN.from_maps(first, second)
    assert f.layouts == (SOURCE, hidden, out)
    assert f.widths == (SOURCE.width, 2, 1)
    assert torch.equal(f.weights[0], first.weight) and torch.equal(f.biases[1], second.bias)


def test_fnn_without_layouts_has_none():
    assert three_layer_fnn().layouts is None


def test_hamming_select_fnn_outputs_the_value_only_on_a_gated_exact_match():
    source = Layout.of(q=2, k=2, v=3, g=1)
    f = hamming_select_fnn(source, [("q", "k")], "v", "g")
    assert f.depth == 4
    assert f.layouts[0] == source and f.layouts[-1] == Layout.of(selected=3)
    v = [1.0, 0.0, 1.0]
    rows = {  # q, k, gate -> expected output
        ((1.0, 0.0), (1.0, 0.0), 1.0): v,
        ((1.0, 0.0), (0.0, 0.0), 1.0): [0.0] * 3,
        ((0.0, 1.0), (1.0, 0.0), 1.0): [0.0] * 3,
        ((1.0, 1.0), (1.0, 1.0), 0.0): [0.0] * 3,
        ((0.0, 0.0), (0.0, 0.0), 1.0): v,
    }
    for (q, k, g), expected in rows.items():
        assert f(t64([[*q, *k, *v, g]])).tolist() == [expected]
