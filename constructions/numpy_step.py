"""Step mode of small dense networks in numpy: the per-token dispatch cost of a decoder at small batches.

Claim (tested, ``tests/test_numpy_step.py``): for a network :func:`numpy_stepper` accepts,
``NumpyStepper(network, state)(ids_t)`` equals :class:`~constructions.network.NetworkStepper`'s output
(``network.step(ids_t, state)[0]``) and ``stepper.state()`` its state -- the same weights, the same
float64 operations token-wise (``h <- lam h + B x``, ``y = Re(C h) + skip x``, ``W x + b``, ReLU), so
exactly wherever the sums are exact (every exact construction of the suite), within the round-off of
another summation order (a BLAS product) otherwise.

Why. One generated token of a narrow network (the fixed-length copier: one shift channel, an FNN of
width 51) is a dozen operations on a handful of numbers. A torch operation costs microseconds of
dispatch each whatever its size, numpy's a fraction of that, so the step of such a network is mostly
dispatch; this stepper makes the same operations in numpy (the state's tensors shared, not copied:
``Tensor.numpy()`` is a view). It pays at small batches only (``greedy_decode`` takes it up to
:data:`NUMPY_MAX_BATCH` prompts) and on CPU.

Supported: a token embedding (read as its table of every token's vector), dense FNN weights, SSM
layers that are shift, diagonal or dense with real parameters, and banks of them; :func:`numpy_stepper`
returns ``None`` for anything else (sparse weights, complex layers, features as inputs, a GPU). Errors as
:class:`NetworkStepper`: one finiteness check per token, the named :class:`NumericalRangeError` from
``network.step`` when it fails (the token's state changes undone first).
"""

from __future__ import annotations

import numpy as np
import torch

from .embedding import Embedding
from .ssm import DenseSSM, DiagonalSSM, ShiftSSM, ShiftState, SSMBank

#: ``greedy_decode`` steps in numpy up to this many prompts (beyond, torch's per-operation cost is amortized)
NUMPY_MAX_BATCH = 16


def numpy_stepper(network, state: tuple) -> "NumpyStepper | None":
    """A :class:`NumpyStepper` of ``network`` from ``state``, or ``None`` where it does not apply (module docstring)."""
    if network.device.type != "cpu" or not isinstance(network.embedding, Embedding) or network.dtype != torch.float64:
        return None
    fnns = ([network.pre_fnn] if network.pre_fnn is not None else []) + [b.fnn for b in network.blocks]
    if any(W.is_sparse for f in fnns for W in f.weights):
        return None
    for block in network.blocks:
        groups = block.ssm.groups if isinstance(block.ssm, SSMBank) else [block.ssm]
        if any(type(g) not in (ShiftSSM, DiagonalSSM, DenseSSM) or g.C.is_complex() for g in groups):
            return None
    network.check_step_state(state)
    return NumpyStepper(network, state)


def _fnn(fnn):
    maps = [(W.detach().numpy().T.copy(), b.detach().numpy()) for W, b in zip(fnn.weights, fnn.biases)]

    def apply(x):
        for W, b in maps[:-1]:
            x = x @ W
            x += b
            np.maximum(x, 0, out=x)
        W, b = maps[-1]
        x = x @ W
        x += b
        return x
    return apply


class _Shift:
    """A shift layer's ring buffer (:class:`~constructions.ssm.ShiftSSM` step mode) on the state's own memory."""

    def __init__(self, layer: ShiftSSM, state: ShiftState):
        self.shift, self.N, self.position = state, layer.state_size, state.position
        self.window = state.window.numpy()
        self.flat = self.window.reshape(self.window.shape[0], -1)
        self.taps = state.taps.numpy()
        self.reads = [state.read.numpy() + p for p in range(self.N)] if self.N * len(self.taps) <= 1 << 20 else None
        self.read = state.read.numpy()
        self.channel, self.one = state.channel.numpy(), state.one_per_channel
        skip = layer.skip.detach().numpy()
        self.skip = skip if skip.any() else None

    def __call__(self, x):
        p = self.position
        old = self.window[..., p].copy()
        self.window[..., p] = x[..., None]
        terms = self.flat.take(self.reads[p] if self.reads is not None else self.read + p, axis=1)
        terms *= self.taps
        self.position = (p + 1) % self.N
        if self.one:
            y = terms if self.skip is None else terms + self.skip * x
        else:
            y = self.skip * x if self.skip is not None else np.zeros_like(x)
            np.add.at(y, (slice(None), self.channel), terms)
        return y, (p, old)

    def undo(self, saved):
        p, old = saved
        self.window[..., p] = old
        self.position = p

    def state(self):
        from dataclasses import replace

        return replace(self.shift, position=self.position)


class _Advance:
    """Diagonal and dense layers: ``h <- A h + B x``, ``y = C h + skip x`` (:meth:`SSMLayer._advance`)."""

    def __init__(self, layer, h: torch.Tensor):
        self.h = h.numpy().copy()
        self.B, self.C, self.skip = (t.detach().numpy() for t in (layer.B, layer.C, layer.skip))
        self.lam = layer.lam.detach().numpy() if isinstance(layer, DiagonalSSM) else None
        self.A = layer.A.detach().numpy() if isinstance(layer, DenseSSM) else None

    def __call__(self, x):
        old = self.h
        moved = self.lam * old if self.lam is not None else np.einsum("dij,bdj->bdi", self.A, old)
        self.h = moved + self.B * x[..., None]
        return (self.C * self.h).sum(-1) + self.skip * x, old

    def undo(self, old):
        self.h = old

    def state(self):
        return torch.from_numpy(self.h.copy())


class _Bank:
    def __init__(self, layers: list, widths: list[int]):
        self.layers, self.cuts = layers, np.cumsum(widths)[:-1]

    def __call__(self, x):
        outs = [layer(part) for layer, part in zip(self.layers, np.split(x, self.cuts, axis=-1))]
        return np.concatenate([y for y, _ in outs], axis=-1), [s for _, s in outs]

    def undo(self, saved):
        for layer, s in zip(self.layers, saved):
            layer.undo(s)

    def state(self):
        return tuple(layer.state() for layer in self.layers)


def _layer(layer, state):
    if isinstance(layer, SSMBank):
        return _Bank([_layer(g, h) for g, h in zip(layer.groups, state)], [g.channels for g in layer.groups])
    return _Shift(layer, state) if isinstance(layer, ShiftSSM) else _Advance(layer, state)


class NumpyStepper:
    """``out_t = stepper(ids_t)`` for token ids ``ids_t`` (a numpy or torch ``(batch,)`` array the caller has
    checked), as a numpy ``(batch, d_out)`` array; ``stepper.state()`` the state in the torch step's format.
    Made from the network's tensors as they are when it is built (as :class:`NetworkStepper`)."""

    def __init__(self, network, state: tuple):
        emb = network.embedding
        self.network = network
        self.table = emb.encode(torch.arange(emb.vocabulary.size, device=network.device)).detach().numpy()
        self.pre = _fnn(network.pre_fnn) if network.pre_fnn is not None else None
        self.layers = [(_layer(b.ssm, h), _fnn(b.fnn)) for b, h in zip(network.blocks, state)]
        self.clip = network.clip

    def __call__(self, ids_t) -> np.ndarray:
        ids = ids_t.numpy() if isinstance(ids_t, torch.Tensor) else ids_t
        x = self.table[ids]
        total = 0.0
        if self.pre is not None:
            x = self.pre(x)
            total += float(x.sum())
        saved = []
        for ssm, fnn in self.layers:
            y, s = ssm(x)
            saved.append(s)
            x = fnn(y)
            total += float(y.sum()) + float(x.sum())
        if not np.isfinite(total):  # the torch step names what overflowed (or, finite outputs whose sum did, goes on)
            for (ssm, _), s in zip(reversed(self.layers), reversed(saved)):
                ssm.undo(s)
            out, state = self.network.step(torch.as_tensor(ids), self.state())
            self.layers = [(_layer(b.ssm, h), fnn) for b, (_, fnn), h in zip(self.network.blocks, self.layers, state)]
            return out.numpy()
        return np.clip(x, *self.clip) if self.clip is not None else x

    def state(self) -> tuple:
        return tuple(ssm.state() for ssm, _ in self.layers)
