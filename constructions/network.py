"""SSM+FNN networks: embedding, optional pre-FNN, then M blocks of (SSM layer, FNN).

PAPER.md §2's class S(M, U, D, L, W, S, B)::

    tokens (batch, length) --embedding--> (batch, length, d_0) --[pre-FNN]-->
        for each block m = 1..M:   x <- FNN_m(SSM_m(x))          (SSM over time, FNN per token)
    --[clip to [lo, hi]]--> outputs (batch, length, d_out)

The pre-FNN (or the embedding) is the "pre-FNN" of the first SSM in Lemma 3.3's sense; the FNN of
block m is the post-FNN of SSM_m and the pre-FNN of SSM_{m+1}. Residual paths are identity
channels (an SSM tap ``K_0 = 1``), so a network is exactly the composition written above.

**Step mode** (recurrent inference, claim ``model.step-mode``): every SSM layer carries its state and
everything else acts on the one token, so reading token ``t`` costs the same whatever ``t`` is::

    state = network.initial_state(batch)                 # h^m_{-1} = 0 for every block m
    out_t, state = network.step(tokens_t, state)         # x^0_t = [pre-FNN](embed(tokens_t))
                                                         # y^m_t, h^m_t = SSM_m.step(x^{m-1}_t, h^m_{t-1})
                                                         # x^m_t = FNN_m(y^m_t);  out_t = [clip](x^M_t)
    outputs, state = network.steps(tokens, state)        # step over every token of (batch, L) tokens
    outputs, state = network.prefill(tokens)             # the same, by a convolutional mode: one pass

``out_t`` equals ``network(tokens)[:, t]`` in every convolutional mode. A network with a two-sided
layer has no step mode (:class:`~constructions.errors.NonCausalError`).
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Sequence

import torch
from torch import nn

from .embedding import Embedding
from .errors import DTypeMismatchError, NumericalRangeError, ShapeError
from .fnn import FNN
from .ssm import Mode, SSMBank, SSMLayer, step_overflow


class Block(nn.Module):
    def __init__(self, ssm: SSMLayer | SSMBank, fnn: FNN):
        super().__init__()
        if ssm.channels != fnn.in_features:
            raise ShapeError(f"SSM gives {ssm.channels} channels but its post-FNN takes {fnn.in_features}")
        self.ssm, self.fnn = ssm, fnn

    def forward(self, x: torch.Tensor, mode: Mode = "auto") -> torch.Tensor:
        return self.fnn(self.ssm(x, mode))


@dataclass
class Trace:
    """Every intermediate of a forward pass, for probing and counterexample reports."""

    embedded: torch.Tensor
    ssm_outputs: list[torch.Tensor]
    block_outputs: list[torch.Tensor]


class SSMNetwork(nn.Module):
    def __init__(
        self,
        embedding: Embedding,
        blocks: Sequence[tuple[SSMLayer | SSMBank, FNN]],
        *,
        pre_fnn: FNN | None = None,
        clip: tuple[float, float] | None = None,
    ):
        super().__init__()
        self.embedding = embedding
        self.pre_fnn = pre_fnn
        self.blocks = nn.ModuleList([Block(s, f) for s, f in blocks])
        self.clip = clip
        width, where = embedding.out_features, "the embedding"
        if pre_fnn is not None:
            if pre_fnn.in_features != width:
                raise ShapeError(f"{where} gives {width} channels but the pre-FNN takes {pre_fnn.in_features}")
            width, where = pre_fnn.out_features, "the pre-FNN"
        for m, block in enumerate(self.blocks, start=1):
            if block.ssm.channels != width:
                raise ShapeError(f"{where} gives {width} channels but SSM layer {m} has {block.ssm.channels}")
            width, where = block.fnn.out_features, f"the FNN of block {m}"
        dtypes = {p.real.dtype for p in self.parameters()} | {embedding.dtype}
        if len(dtypes) > 1:
            raise DTypeMismatchError(f"network parts have different dtypes: {sorted(map(str, dtypes))}")
        if clip is not None and not clip[0] <= clip[1]:
            raise ShapeError(f"clip interval must satisfy lo <= hi, got {clip}")

    @property
    def out_features(self) -> int:
        if self.blocks:
            return self.blocks[-1].fnn.out_features
        return self.pre_fnn.out_features if self.pre_fnn is not None else self.embedding.out_features

    @property
    def dtype(self) -> torch.dtype:
        return self.embedding.dtype

    @property
    def device(self) -> torch.device:
        return self.embedding.device

    def forward(self, tokens: torch.Tensor, mode: Mode = "auto") -> torch.Tensor:
        return self.run(tokens, mode).block_outputs[-1]

    def run(self, tokens: torch.Tensor, mode: Mode = "auto") -> Trace:
        """Forward pass keeping every intermediate; the last block output is clipped if asked."""
        x = self.embedding(tokens)  # continuous features: finite (FeatureInput); token ids: always
        trace = Trace(embedded=x, ssm_outputs=[], block_outputs=[])
        if self.pre_fnn is not None:
            x = _in_range(self.pre_fnn(x), "the pre-FNN")
        for m, block in enumerate(self.blocks):
            s = block.ssm(x, mode)  # refuses an overflow itself
            x = _in_range(block.fnn(s), f"the FNN of block {m}")
            trace.ssm_outputs.append(s)
            trace.block_outputs.append(x)
        if self.clip is not None:
            x = x.clamp(*self.clip)
        if not trace.block_outputs:
            trace.block_outputs.append(x)
        else:
            trace.block_outputs[-1] = x
        return trace


    # ---------------------------------------------------------------- step mode
    def initial_state(self, batch: int) -> tuple:
        """Every block's SSM state before the first token (``h^m_{-1} = 0``), in block order."""
        return tuple(block.ssm.initial_state(batch) for block in self.blocks)

    def step(self, inputs_t: torch.Tensor, state: tuple) -> tuple[torch.Tensor, tuple]:
        """Read one token per sequence: ``inputs_t`` is ``(batch,)`` token ids (or ``(batch, d_0)``
        features for a feature input); returns ``(out_t: (batch, d_out), state)``, the network's output
        at this token and every block's state after it (module docstring). Errors as in :meth:`run`."""
        if not isinstance(state, tuple) or len(state) != len(self.blocks):
            raise ShapeError(f"a state of this network is a tuple of {len(self.blocks)} SSM states (initial_state)")
        if not isinstance(inputs_t, torch.Tensor):
            raise ShapeError(f"a step reads a tensor of one token per sequence, got {type(inputs_t).__name__}")
        x = self.embedding(inputs_t.unsqueeze(1))[:, 0]  # the embedding's own checks, on a sequence of one
        if self.pre_fnn is not None:
            x = _in_range(self.pre_fnn(x), "the pre-FNN")
        after = []
        for m, (block, h) in enumerate(zip(self.blocks, state)):
            y, h = block.ssm.step(x, h)
            x = _in_range(block.fnn(y), f"the FNN of block {m}")
            after.append(h)
        if self.clip is not None:
            x = x.clamp(*self.clip)
        return x, tuple(after)

    def stepper(self, state: tuple) -> "NetworkStepper":
        """A :class:`NetworkStepper` continuing from ``state``: :meth:`step` for a decoder that feeds token ids
        it has checked, with the per-layer checks made once per token instead."""
        self._check_blocks(state)  # each layer's stepper checks its own
        return NetworkStepper(self, state)

    def check_step_state(self, state) -> None:
        """``state`` is one of this network's step-mode states: a tuple of every block's SSM state (what the
        steppers check once, for a stepper that makes no layer stepper of its own)."""
        self._check_blocks(state)
        for block, h in zip(self.blocks, state):
            block.ssm.check_step_state(h)

    def _check_blocks(self, state) -> None:
        if not isinstance(state, tuple) or len(state) != len(self.blocks):
            raise ShapeError(f"a state of this network is a tuple of {len(self.blocks)} SSM states (initial_state)")

    def prefill(self, inputs: torch.Tensor, mode: Mode = "auto") -> tuple[torch.Tensor, tuple]:
        """Read a whole prompt at once: ``(network(inputs, mode), state)`` with every block's state after
        the last token (``SSM_m.state_after`` of that layer's inputs), equal to :meth:`steps` from the
        initial state; decoding goes on with :meth:`step`."""
        self.initial_state(1)  # a two-sided layer has no step mode: refused before the pass
        trace = self.run(inputs, mode)
        if inputs.shape[1] == 0:
            return trace.block_outputs[-1], self.initial_state(inputs.shape[0])
        x = trace.embedded if self.pre_fnn is None else self.pre_fnn(trace.embedded)
        layer_inputs = [x] + trace.block_outputs[:-1]  # the last block output may be clipped; no SSM reads it
        state = tuple(block.ssm.state_after(x) for block, x in zip(self.blocks, layer_inputs))
        return trace.block_outputs[-1], state

    def steps(self, inputs: torch.Tensor, state: tuple | None = None) -> tuple[torch.Tensor, tuple]:
        """:meth:`step` over every token of ``inputs`` (``(batch, L)`` ids or ``(batch, L, d_0)``
        features), from ``state`` (the initial one if ``None``): ``(outputs (batch, L, d_out), state)``."""
        if not isinstance(inputs, torch.Tensor) or inputs.dim() < 2:
            shape = tuple(inputs.shape) if isinstance(inputs, torch.Tensor) else type(inputs).__name__
            raise ShapeError(f"inputs must have shape (batch, length[, features]), got {shape}")
        state = self.initial_state(inputs.shape[0]) if state is None else state
        outputs = []
        for t in range(inputs.shape[1]):
            out, state = self.step(inputs[:, t], state)
            outputs.append(out)
        if not outputs:
            return torch.zeros(inputs.shape[0], 0, self.out_features, dtype=self.dtype, device=self.device), state
        return torch.stack(outputs, dim=1), state


class NetworkStepper:
    """``out_t = stepper(ids_t)`` is ``network.step(ids_t, state)[0]`` with the state held inside
    (``stepper.state()`` gives it, as :meth:`SSMNetwork.step` would have returned it), for token ids
    ``ids_t: (batch,)`` the caller has checked to lie in the vocabulary (a decoder feeding back tokens it
    decoded). The work per token is the same; what is lean is the bookkeeping: every layer's step
    function (:meth:`SSMLayer.stepper`, :meth:`FNN.tokenwise`) is made once, from the network's tensors
    as they are when the stepper is built, and instead of checking every SSM and FNN output apart, one
    sum over all of them is checked per token. It is finite when they all are; when it is not, each is
    checked in the order :meth:`SSMNetwork.step` checks them and the same :class:`NumericalRangeError`
    is raised, naming where (a finite sum of finite outputs that overflows is no error)."""

    def __init__(self, network: SSMNetwork, state: tuple):
        self.embedding = network.embedding
        table = getattr(network.embedding, "table", None)
        self.table = table.detach() if table is not None else None
        self.pre = network.pre_fnn.tokenwise() if network.pre_fnn is not None else None
        self.layers = [(block.ssm.stepper(h), block.fnn.tokenwise()) for block, h in zip(network.blocks, state)]
        self.ssms = [block.ssm for block in network.blocks]
        self.clip = network.clip

    def __call__(self, ids_t: torch.Tensor) -> torch.Tensor:
        x = torch.index_select(self.table, 0, ids_t) if self.table is not None else self.embedding.encode(ids_t)
        outputs = []
        if self.pre is not None:
            x = self.pre(x)
            outputs.append(x)
        for ssm, fnn in self.layers:
            y = ssm(x)
            x = fnn(y)
            outputs += (y, x)
        total = outputs[0].sum()
        for out in outputs[1:]:
            total = total + out.sum()
        if not math.isfinite(total.item()):
            self._name_the_overflow(outputs)
        return x.clamp(*self.clip) if self.clip is not None else x

    def _name_the_overflow(self, outputs: list) -> None:
        """The first non-finite output, in :meth:`SSMNetwork.step`'s order, as its error."""
        if self.pre is not None:
            _in_range(outputs.pop(0), "the pre-FNN")
        for m, (y, x) in enumerate(zip(outputs[::2], outputs[1::2])):
            if not bool(torch.isfinite(y).all()):
                raise step_overflow(self.ssms[m], y)
            _in_range(x, f"the FNN of block {m}")

    def state(self) -> tuple:
        """Every block's SSM state after the tokens read, as :meth:`SSMNetwork.step` returns it."""
        return tuple(ssm.state() for ssm, _ in self.layers)


def _in_range(x: torch.Tensor, where: str) -> torch.Tensor:
    """``x`` if every entry is finite; :class:`NumericalRangeError` naming ``where`` the overflow happened
    (finite inputs and weights give finite values unless the dtype's range is left)."""
    if not bool(torch.isfinite(x.sum())) and not bool(torch.isfinite(x).all()):
        raise NumericalRangeError(f"{where} overflows {x.dtype} (largest finite value {torch.finfo(x.dtype).max:.3g}): "
                                  "its outputs cannot be represented in this dtype")
    return x
