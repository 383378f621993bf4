"""Dead-unit padding (constructions.padding): the padded network computes the same outputs and its
measured resources grow by exactly the units added."""

from __future__ import annotations

import pytest
import torch

from constructions.associative_recall import binary_query_first
from constructions.errors import InfeasibleTaskError, ShapeError
from constructions.fnn import FNN
from constructions.padding import SPARSE_FROM, dead_mlp, pad_with_dead_units, with_dead_units
from constructions.tasks.associative_recall import ARConfig, generate
from constructions.transformer import binary_attention

F64 = torch.float64


def random_fnn(widths, seed=0):
    g = torch.Generator().manual_seed(seed)
    return FNN([(torch.randn(o, i, generator=g, dtype=F64), torch.randn(o, generator=g, dtype=F64)) for i, o in zip(widths, widths[1:])])


@pytest.mark.parametrize("widths", [(3, 5, 2), (4, 2), (2, 6, 6, 3)])
@pytest.mark.parametrize("count", [1, 7, SPARSE_FROM + 3])
def test_dead_units_change_no_output_and_add_width_and_two_nonzeros_each(widths, count):
    fnn = random_fnn(widths)
    base = fnn if fnn.depth > 1 else fnn.deepened(2)
    padded = with_dead_units(fnn, count)
    x = torch.randn(4, 9, widths[0], dtype=F64)
    assert torch.allclose(padded(x), fnn(x), atol=1e-12)
    assert padded.widths[1] == base.widths[1] + count
    nonzeros = lambda f: sum(int((t.to_dense() if t.is_sparse else t).ne(0).sum()) for t in f.parameter_tensors().values())  # noqa: E731
    assert nonzeros(padded) == nonzeros(base) + 2 * count


def test_a_dead_mlp_adds_zero():
    mlp = dead_mlp(5, SPARSE_FROM)
    assert torch.equal(mlp(torch.randn(3, 5, dtype=F64)), torch.zeros(3, 5, dtype=F64))
    assert dead_mlp(5, 3)(torch.ones(1, 5, dtype=F64)).abs().max() == 0


@pytest.mark.parametrize("module, config", [(binary_query_first, ARConfig(8, 8, 3, query="first")),
                                            (binary_attention, ARConfig(8, 8, 3, num_queries=2))])
def test_padded_constructions_answer_alike_and_count_the_units(module, config):
    original = module.build(config)
    padded, one = pad_with_dead_units(original, 40), pad_with_dead_units(original, 1)
    tokens = generate(config, 8, 0).tokens
    assert torch.equal(padded.network(tokens), original.network(tokens))
    assert padded.resources().parameters == one.resources().parameters + 2 * 39  # (a depth-1 FNN first gets a hidden layer)
    assert padded.resources().parameters > original.resources().parameters
    assert "dead units" in padded.name and "dead units" not in original.name


def test_padding_rejects_bad_counts_and_networks():
    with pytest.raises(InfeasibleTaskError, match="count"):
        with_dead_units(random_fnn((2, 2)), 0)
    construction = binary_query_first.build(ARConfig(4, 4, 2, query="first"))
    construction.network = torch.nn.Identity()
    with pytest.raises(ShapeError, match="Identity"):
        pad_with_dead_units(construction, 3)
