"""Token-wise ReLU feed-forward networks built from explicit weight lists.

``FNN([(W_1, b_1), ..., (W_L, b_L)])`` computes, on the last dimension of its input,
``x -> W_L relu(... relu(W_1 x + b_1) ...) + b_L``: ReLU between the affine maps, none after the
last. Its size in the class Psi(L, W, S, B) of PAPER.md §2 is measured from the tensors: depth
``L`` (number of affine maps), width ``W`` (largest of p_0, ..., p_L), nonzeros ``S`` (weights and
biases) and weight bound ``B`` (largest absolute entry). See :mod:`constructions.resources`.
Weights may be dense or sparse (COO); both compute the same map.
"""

from __future__ import annotations

import warnings
from typing import Sequence

import torch
from torch import nn

from .errors import DeviceMismatchError, DTypeMismatchError, ShapeError, require_finite, require_rank
from .layout import Layout


class FNN(nn.Module):
    """A ReLU network applied independently at every token. ``layers``: ``[(W (out, in), b (out,))]``.

    ``layouts`` optionally names the channels at each stage (input, hidden..., output), which makes
    probing and error messages readable; ``origin`` names the builder that made it (e.g.
    ``"selection.memory_write"``), so checks can see which constructions share a mechanism.
    """

    def __init__(
        self,
        layers: Sequence[tuple[torch.Tensor, torch.Tensor]],
        layouts: Sequence[Layout] | None = None,
        origin: str = "",
    ):
        super().__init__()
        if len(layers) == 0:
            raise ShapeError("an FNN needs at least one affine layer")
        weights, biases = [], []
        for i, (W, b) in enumerate(layers):
            require_rank(f"layer {i} weight", W, 2)
            require_rank(f"layer {i} bias", b, 1)
            if b.shape[0] != W.shape[0]:
                raise ShapeError(f"layer {i}: bias has {b.shape[0]} entries, weight has {W.shape[0]} rows")
            if i and W.shape[1] != weights[-1].shape[0]:
                raise ShapeError(f"layer {i} takes {W.shape[1]} inputs but layer {i-1} gives {weights[-1].shape[0]}")
            if b.dtype != W.dtype:
                raise DTypeMismatchError(f"layer {i}: bias has dtype {b.dtype}, its weight {W.dtype}")
            if W.dtype != layers[0][0].dtype:
                raise DTypeMismatchError(f"layer {i} has dtype {W.dtype}, layer 0 {layers[0][0].dtype}")
            if W.device != layers[0][0].device or b.device != W.device:
                raise DeviceMismatchError(f"layer {i} is on another device than layer 0")
            require_finite(f"layer {i} weight", W)
            require_finite(f"layer {i} bias", b)
            weights.append(W)
            biases.append(b)
        self.weights = nn.ParameterList([nn.Parameter(W, requires_grad=False) for W in weights])
        self.biases = nn.ParameterList([nn.Parameter(b, requires_grad=False) for b in biases])
        if layouts is not None:
            widths = [self.weights[0].shape[1]] + [W.shape[0] for W in self.weights]
            if len(layouts) != len(widths) or any(l.width != w for l, w in zip(layouts, widths)):
                raise ShapeError(f"layouts {[l.width for l in layouts]} do not match the stage widths {widths}")
        self.layouts = tuple(layouts) if layouts is not None else None
        self.origin = origin

    @classmethod
    def from_maps(cls, *maps, origin: str = "") -> "FNN":
        """An FNN from :class:`~constructions.layout.AffineMap` builders, layouts kept."""
        layouts = [maps[0].source] + [m.target for m in maps]
        return cls([m.build() for m in maps], layouts, origin)

    def then(self, after: "FNN") -> "FNN":
        """The FNN computing ``after(self(x))``: this one's last (linear) map and ``after``'s first
        are multiplied into one, so no ReLU is added between them."""
        if after.in_features != self.out_features:
            raise ShapeError(f"cannot chain an FNN giving {self.out_features} features into one taking {after.in_features}")
        W1, b1 = self.weights[-1].detach(), self.biases[-1].detach()
        W2, b2 = after.weights[0].detach(), after.biases[0].detach()
        if W2.is_sparse:  # sparse x sparse stays sparse (a wide sparse map times a small dense one would be dense)
            with warnings.catch_warnings():  # torch's "sparse CSR support is in beta", raised inside the product
                warnings.simplefilter("ignore", UserWarning)
                W = torch.sparse.mm(W2, W1 if W1.is_sparse else W1.to_sparse())
            b = torch.sparse.mm(W2, b1.unsqueeze(1)).squeeze(1) + b2
        else:
            W = W2 @ (W1.to_dense() if W1.is_sparse else W1)
            b = W2 @ b1 + b2
        layers = [(W.detach(), b.detach()) for W, b in zip(self.weights[:-1], self.biases[:-1])]
        layers += [(W.coalesce() if W.is_sparse else W, b)]
        layers += [(W.detach(), b.detach()) for W, b in zip(after.weights[1:], after.biases[1:])]
        layouts = None
        if self.layouts is not None and after.layouts is not None:
            layouts = self.layouts[:-1] + after.layouts[1:]
        origin = "+".join(o for o in (self.origin, after.origin) if o)
        return FNN(layers, layouts, origin)

    @classmethod
    def identity(cls, width: int, *, dtype=torch.float64, device=None) -> "FNN":
        return cls([(torch.eye(width, dtype=dtype, device=device), torch.zeros(width, dtype=dtype, device=device))])

    @classmethod
    def affine(cls, W, b, *, dtype=torch.float64, device=None, origin: str = "") -> "FNN":
        """A single affine map (no ReLU) from nested lists or tensors."""
        W = torch.as_tensor(W, dtype=dtype, device=device)
        return cls([(W.reshape(W.shape[0], -1), torch.as_tensor(b, dtype=dtype, device=device).reshape(-1))], origin=origin)

    def deepened(self, depth: int) -> "FNN":
        """The same map with ``depth`` affine maps: identity layers ``x = relu(x) - relu(-x)`` are
        inserted before the output (width doubles there). For running FNNs side by side."""
        if depth < self.depth:
            raise ShapeError(f"cannot make an FNN of depth {self.depth} shallower ({depth})")
        if depth == self.depth:
            return self
        W, b = self.weights[-1].detach().to_dense(), self.biases[-1].detach()
        d = W.shape[0]
        eye = torch.eye(d, dtype=W.dtype, device=W.device)
        split = torch.cat([eye, -eye])  # relu(y), relu(-y)
        layers = [(w.detach(), c.detach()) for w, c in zip(self.weights[:-1], self.biases[:-1])]
        layers.append((split @ W, split @ b))
        for _ in range(depth - self.depth - 1):
            layers.append((torch.eye(2 * d, dtype=W.dtype, device=W.device), torch.zeros(2 * d, dtype=W.dtype, device=W.device)))
        layers.append((torch.cat([eye, -eye], dim=1), torch.zeros(d, dtype=W.dtype, device=W.device)))
        return FNN(layers, origin=self.origin)

    @staticmethod
    def parallel(*fnns: "FNN") -> "FNN":
        """Side by side: inputs and outputs concatenated in order, block-diagonal weights; shallower
        networks are deepened to the deepest one first."""
        depth = max(f.depth for f in fnns)
        fnns = [f.deepened(depth) for f in fnns]
        layers = []
        for i in range(depth):
            layers.append((torch.block_diag(*[f.weights[i].detach().to_dense() for f in fnns]),
                           torch.cat([f.biases[i].detach() for f in fnns])))
        return FNN(layers, origin="+".join(sorted({f.origin for f in fnns if f.origin})))

    @property
    def in_features(self) -> int:
        return self.weights[0].shape[1]

    @property
    def out_features(self) -> int:
        return self.weights[-1].shape[0]

    @property
    def depth(self) -> int:
        return len(self.weights)

    @property
    def widths(self) -> tuple[int, ...]:
        """``(p_0, p_1, ..., p_L)``: input, hidden and output widths."""
        return (self.in_features, *(W.shape[0] for W in self.weights))

    @property
    def dtype(self) -> torch.dtype:
        return self.weights[0].dtype

    @property
    def device(self) -> torch.device:
        return self.weights[0].device

    def parameter_tensors(self) -> dict[str, torch.Tensor]:
        out = {}
        for i, (W, b) in enumerate(zip(self.weights, self.biases)):
            out[f"W{i + 1}"] = W.detach()
            out[f"b{i + 1}"] = b.detach()
        return out

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        if not isinstance(x, torch.Tensor) or x.dim() < 1 or x.shape[-1] != self.in_features:
            shape = tuple(x.shape) if isinstance(x, torch.Tensor) else type(x).__name__
            raise ShapeError(f"FNN input must end in {self.in_features} features, got {shape}")
        if x.dtype != self.dtype:
            raise DTypeMismatchError(f"FNN input dtype {x.dtype} does not match the network's {self.dtype}")
        if x.device != self.device:
            raise DeviceMismatchError(f"FNN input is on {x.device}, the network on {self.device}")
        return self.tokenwise()(x)

    def tokenwise(self):
        """This FNN as a function of ``x`` (no input checks), each map's way of applying it (dense product,
        gather, sparse product: :func:`_linear`) chosen once from the weights as they are now: what
        :meth:`forward` applies, for a caller that applies it to one token after another."""
        # the registered tensors in order: a ParameterList's own iteration costs microseconds per item
        maps = [_linear(W, b) for W, b in zip(self.weights._parameters.values(), self.biases._parameters.values())]
        last, hidden = maps[-1], maps[:-1]

        def apply(x: torch.Tensor) -> torch.Tensor:
            for f in hidden:
                x = torch.relu(f(x))
            return last(x)

        return apply


def _linear(W: torch.Tensor, b: torch.Tensor):
    """``x -> x W^T + b`` on the last dimension of ``x``; a dense ``W`` by ``torch.nn.functional.linear``.

    A sparse COO weight with at most one nonzero per row (a scaled selection of inputs: the identities
    and copies that route channels) is applied as a gather, which is many times faster than a sparse
    product; any other sparse weight as a compressed-row (CSR) product."""
    if not W.is_sparse:
        return lambda x: torch.nn.functional.linear(x, W, b)
    W = W.coalesce()
    (rows, cols), values = W.indices(), W.values()
    if rows.numel() == W.shape[0] and bool((rows == torch.arange(W.shape[0], device=rows.device)).all()):
        return lambda x: torch.index_select(x, -1, cols) * values + b  # exactly one nonzero in every row
    if rows.numel() == 0 or bool((rows[1:] > rows[:-1]).all()):  # coalesced: sorted; strict = one per row
        def gather(x):
            y = b.expand(*x.shape[:-1], W.shape[0]).clone()
            return y.index_add_(-1, rows, torch.index_select(x, -1, cols) * values)
        return gather

    with warnings.catch_warnings():  # torch's "sparse CSR support is in beta"
        warnings.simplefilter("ignore", UserWarning)
        csr = W.to_sparse_csr()  # compressed rows: several times faster than a COO product, whatever the batch

    def product(x):
        flat = x.reshape(-1, x.shape[-1])
        # contiguous result: a transposed view would make the next dense layer many times slower
        y = (csr @ flat.T).T.contiguous() + b
        return y.reshape(*x.shape[:-1], W.shape[0])
    return product
