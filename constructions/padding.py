"""Wasteful but still exact: constructions padded with dead hidden units.

A *dead* unit is a hidden ReLU unit that is never active: no inputs, bias ``-1`` (so ``relu(-1) = 0``
on every token) and weight ``1`` into the next layer's first output. It changes no output, and it is
counted like any other unit: one more unit of width and two more nonzero parameters. Padding a
construction with a number of dead units that grows with the task size (``|V|``, ``|V|^2``, ``L``)
turns a poly-log resource into a polynomial one while the network stays exact: the mutant a growth
or comparison check must catch.

* :func:`with_dead_units` -- an FNN with ``count`` dead units in its first hidden layer (a depth-1
  FNN first gets a hidden layer: :meth:`~constructions.fnn.FNN.deepened`).
* :func:`pad_with_dead_units` -- a copy of a construction whose last FNN (SSM+FNN network) or last
  MLP (Transformer; a dead MLP is added to the last block if it has none) has ``count`` dead units.
"""

from __future__ import annotations

import torch

from .construction import Construction
from .errors import ShapeError, require_positive_int
from .fnn import FNN

#: from this many dead units on, the padded layers are stored sparse (memory O(count), not O(count x width))
SPARSE_FROM = 1024


def _append_rows(W: torch.Tensor, count: int) -> torch.Tensor:
    """``W`` with ``count`` zero rows below it (sparse stays sparse)."""
    if W.is_sparse:
        W = W.coalesce()
        return torch.sparse_coo_tensor(W.indices(), W.values(), (W.shape[0] + count, W.shape[1]), check_invariants=False).coalesce()
    return torch.cat([W, W.new_zeros(count, W.shape[1])])


def _append_unit_columns(W: torch.Tensor, count: int) -> torch.Tensor:
    """``W`` with ``count`` columns on its right that are 1 in row 0 and 0 elsewhere."""
    rows = W.shape[0]
    if W.is_sparse:
        W = W.coalesce()
        extra = torch.stack([torch.zeros(count, dtype=torch.long, device=W.device),
                             W.shape[1] + torch.arange(count, device=W.device)])
        indices = torch.cat([W.indices(), extra], dim=1)
        values = torch.cat([W.values(), W.values().new_ones(count)])
        return torch.sparse_coo_tensor(indices, values, (rows, W.shape[1] + count), check_invariants=False).coalesce()
    extra = W.new_zeros(rows, count)
    extra[0] = 1
    return torch.cat([W, extra], dim=1)


def with_dead_units(fnn: FNN, count: int) -> FNN:
    """The same map as ``fnn`` with ``count`` dead units added to its first hidden layer."""
    require_positive_int("count", count)
    if fnn.depth == 1:
        fnn = fnn.deepened(2)
    layers = [(W.detach(), b.detach()) for W, b in zip(fnn.weights, fnn.biases)]
    (W1, b1), (W2, b2) = layers[0], layers[1]
    if count >= SPARSE_FROM:
        W1, W2 = (W if W.is_sparse else W.to_sparse() for W in (W1, W2))
    layers[0] = (_append_rows(W1, count), torch.cat([b1, -b1.new_ones(count)]))
    layers[1] = (_append_unit_columns(W2, count), b2)
    return FNN(layers, origin=(fnn.origin + "+" if fnn.origin else "") + "dead_units")


def dead_mlp(width: int, count: int, *, dtype=torch.float64, device=None) -> FNN:
    """A residual MLP ``width -> count -> width`` whose ``count`` units are all dead: it adds 0."""
    require_positive_int("count", count)
    kw = dict(dtype=dtype, device=device)
    if count >= SPARSE_FROM:
        zero_in = torch.sparse_coo_tensor(torch.zeros(2, 0, dtype=torch.long, device=device), torch.zeros(0, **kw), (count, width),
                                          check_invariants=False)
        units = torch.arange(count, device=device)
        out = torch.sparse_coo_tensor(torch.stack([torch.zeros_like(units), units]), torch.ones(count, **kw), (width, count),
                                      check_invariants=False)
    else:
        zero_in, out = torch.zeros(count, width, **kw), torch.zeros(width, count, **kw)
        out[0] = 1
    return FNN([(zero_in.coalesce() if zero_in.is_sparse else zero_in, -torch.ones(count, **kw)),
                (out.coalesce() if out.is_sparse else out, torch.zeros(width, **kw))], origin="dead_units")


def pad_with_dead_units(construction: Construction, count: int) -> Construction:
    """A copy of ``construction`` with ``count`` dead units (see the module docstring); it computes
    exactly what the original computes."""
    from .mutation import _deepcopy
    from .network import SSMNetwork
    from .transformer.model import Transformer

    padded = _deepcopy(construction)
    network = padded.network
    if isinstance(network, SSMNetwork):
        if not network.blocks:
            raise ShapeError("an SSM network without blocks has no FNN to pad")
        network.blocks[-1].fnn = with_dead_units(network.blocks[-1].fnn, count)
    elif isinstance(network, Transformer):
        block = network.blocks[-1]
        block.mlp = (with_dead_units(block.mlp, count) if block.mlp is not None
                     else dead_mlp(network.d_model, count, dtype=network.dtype, device=network.device))
    else:
        raise ShapeError(f"cannot pad a {type(network).__name__}: expected an SSMNetwork or a Transformer")
    padded.name = f"{construction.name} (+{count} dead units)"
    return padded
