"""A Transformer with explicit weights, for the constructions the paper compares SSMs with.

Residual-stream form (as in tracr): a token's state is a vector of width ``d_model`` laid out in
named blocks (:class:`~constructions.layout.Layout`); the embedding writes some blocks, and every
attention head and MLP *adds* its output into blocks that were zero, so each component's job is
visible in the layout. Shape legend: tokens ``(B, L)``; stream ``(B, L, d_model)``.

Attention head ``h`` at position ``t`` over positions ``s <= t`` (causal)::

    score(t, s) = scale * <W_Q x_t, W_K x_s>  +  position(t - s)
    out_t       = W_O  sum_s  a(t, s) W_V x_s

with ``a`` the softmax of the scores (``"softmax"``), the one-hot of their argmax (``"hardmax"``,
ties to the earliest position), or the raw content scores with no normalization (``"linear"``,
Zoology's attention "without softmax"). ``position`` is either absent or an exact-lag bias
``-|t - s - lag|`` (a head that attends exactly ``lag`` back, or to the first token while
``t < lag``): the "hard ALiBi" heads of Jelassi et al. 2024.

Resources are measured from the tensors (:meth:`Transformer.resources`): layers, heads,
``d_model``, head widths, MLP depth/width, nonzeros, weight bound, weight bits. What a Transformer
keeps while it runs is its context, not a state: :meth:`Transformer.kv_cache` measures the keys and
values a standard causal-attention run caches (every head, every earlier position), with the widths
of :func:`~constructions.resources.measure_state`.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Literal, Sequence

import torch
from torch import nn

from ..embedding import Embedding
from ..errors import ShapeError, UnknownOptionError
from ..fnn import FNN
from ..resources import TensorStats, _jsonable, entry_widths, tensor_stats

Kind = Literal["softmax", "hardmax", "linear"]
QUERY_CHUNK = 1024  # attention rows computed at once


class Head(nn.Module):
    def __init__(self, W_Q: torch.Tensor, W_K: torch.Tensor, W_V: torch.Tensor, W_O: torch.Tensor, *,
                 kind: Kind = "softmax", scale: float = 1.0, lag: int | None = None):
        super().__init__()
        if kind not in ("softmax", "hardmax", "linear"):
            raise UnknownOptionError(f"attention kind must be softmax, hardmax or linear, got {kind!r}")
        if W_Q.shape != W_K.shape or W_V.shape[1] != W_Q.shape[1] or W_O.shape[1] != W_V.shape[0]:
            raise ShapeError(f"head shapes do not fit: W_Q {tuple(W_Q.shape)}, W_K {tuple(W_K.shape)}, "
                             f"W_V {tuple(W_V.shape)}, W_O {tuple(W_O.shape)}")
        for name, W in (("W_Q", W_Q), ("W_K", W_K), ("W_V", W_V), ("W_O", W_O)):
            self.register_parameter(name, nn.Parameter(W, requires_grad=False))
        self.kind, self.scale, self.lag = kind, float(scale), lag

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        q, k, v = x @ self.W_Q.T, x @ self.W_K.T, x @ self.W_V.T  # (B, L, dh), (B, L, dh), (B, L, dv)
        L = x.shape[1]
        if self.kind == "hardmax" and self.lag is not None and not (self.W_Q.any() and self.W_K.any()):
            # no content scores: the argmax of -|t - s - lag| over s <= t is t - lag, or 0 while t < lag
            picked = (torch.arange(L, device=x.device) - self.lag).clamp(min=0)
            return v[:, picked] @ self.W_O.T
        outs = []
        s = torch.arange(L, device=x.device)
        for start in range(0, L, QUERY_CHUNK):
            t = torch.arange(start, min(L, start + QUERY_CHUNK), device=x.device)
            scores = self.scale * (q[:, t] @ k.transpose(1, 2))  # (B, T, L)
            lag = (t.unsqueeze(1) - s.unsqueeze(0)).to(x.dtype)
            if self.lag is not None:
                scores = scores - (lag - self.lag).abs()
            causal = lag >= 0
            if self.kind == "linear":
                outs.append((scores * causal) @ v)
                continue
            scores = scores.masked_fill(~causal, float("-inf"))
            if self.kind == "softmax":
                outs.append(torch.softmax(scores, dim=-1) @ v)
            else:  # the one-hot of the argmax times v, i.e. the row of v at the argmax (first of ties)
                picked = scores.argmax(-1)  # (B, T)
                outs.append(torch.gather(v, 1, picked.unsqueeze(-1).expand(-1, -1, v.shape[-1])))
        return torch.cat(outs, dim=1) @ self.W_O.T

    def parameter_tensors(self) -> dict[str, torch.Tensor]:
        return {n: getattr(self, n).detach() for n in ("W_Q", "W_K", "W_V", "W_O")}


class Block(nn.Module):
    """Attention heads then an optional MLP, both added to the stream."""

    def __init__(self, heads: Sequence[Head], mlp: FNN | None = None):
        super().__init__()
        self.heads = nn.ModuleList(heads)
        self.mlp = mlp

    def forward(self, x):
        for head in self.heads:
            x = x + head(x)
        if self.mlp is not None:
            x = x + self.mlp(x)
        return x


@dataclass(frozen=True)
class TransformerResources:
    num_layers: int
    heads: int
    d_model: int
    head_width: int  # largest query/key width
    mlp_depth: int
    mlp_width: int
    attention_nonzeros: int
    mlp_nonzeros: int
    embedding_parameters: int
    readout_nonzeros: int
    parameters: int  # nonzeros of every tensor, plus one integer per exact-lag head
    entries: int  # stored entries of every tensor, zeros included
    weight_bound: float
    weight_bits: int
    positional: str

    def summary(self) -> dict:
        return _jsonable(self.__dict__)

    def to_dict(self) -> dict:
        return self.summary()


@dataclass(frozen=True)
class ContextResources:
    """The KV cache of a causal-attention run on ``instances`` inputs of ``length`` tokens: per
    token, ``entries_per_token`` cached numbers (key and value of every head of every layer), each
    with the narrowest fixed-point width holding every value it takes (as for SSM states,
    :func:`~constructions.resources.entry_widths`); ``bits_per_token`` their sum. The cache grows
    with the context: ``kv_cache_bits = length * bits_per_token`` at the last position.

    This is what the standard implementation keeps, not a lower bound: an exact-lag head needs only
    its last ``lag`` positions, and linear attention (no softmax) can run as a recurrence with a
    ``d_k x d_v`` state instead."""

    instances: int
    length: int
    entries_per_token: int
    bits_per_token: int
    widest_entry_bits: int
    float64_limited: bool

    @property
    def kv_cache_entries(self) -> int:
        return self.length * self.entries_per_token

    @property
    def kv_cache_bits(self) -> int:
        return self.length * self.bits_per_token

    def summary(self) -> dict:
        return {"kv_cache_entries": self.kv_cache_entries, "kv_cache_bits": self.kv_cache_bits,
                "kv_entries_per_token": self.entries_per_token, "kv_bits_per_token": self.bits_per_token,
                "widest_kv_entry_bits": self.widest_entry_bits, "float64_limited": self.float64_limited,
                "measured_on": f"{self.instances} instances x {self.length} tokens"}


class Transformer(nn.Module):
    """embedding -> blocks -> read-out FNN (from the stream to the output code)."""

    def __init__(self, embedding: Embedding, d_model: int, blocks: Sequence[Block], readout: FNN):
        super().__init__()
        if embedding.out_features > d_model:
            raise ShapeError(f"embedding width {embedding.out_features} exceeds d_model {d_model}")
        if readout.in_features != d_model:
            raise ShapeError(f"read-out takes {readout.in_features} features, d_model is {d_model}")
        self.embedding, self.d_model = embedding, d_model
        self.blocks = nn.ModuleList(blocks)
        self.readout = readout

    @property
    def dtype(self) -> torch.dtype:
        return self.embedding.dtype

    @property
    def device(self) -> torch.device:
        return self.embedding.device

    def stream(self, tokens: torch.Tensor) -> torch.Tensor:
        x = self.embedding(tokens)
        x = torch.nn.functional.pad(x, (0, self.d_model - x.shape[-1]))
        for block in self.blocks:
            x = block(x)
        return x

    def forward(self, tokens: torch.Tensor, mode: str = "auto") -> torch.Tensor:  # mode: SSM API parity
        return self.readout(self.stream(tokens))

    def kv_cache(self, tokens: torch.Tensor) -> ContextResources:
        """Run on ``tokens: (batch, L)`` and measure the keys and values every head caches."""
        from ..resources import FLOAT64_ROUNDING_BITS

        if not isinstance(tokens, torch.Tensor) or tokens.dim() != 2 or tokens.shape[0] == 0:
            shape = tuple(tokens.shape) if isinstance(tokens, torch.Tensor) else type(tokens).__name__
            raise ValueError(f"tokens must be a non-empty (batch, length) tensor, got {shape}")
        cached = []
        with torch.no_grad():
            x = torch.nn.functional.pad(self.embedding(tokens), (0, self.d_model - self.embedding.out_features))
            for block in self.blocks:
                cached += [x @ W.T for h in block.heads for W in (h.W_K, h.W_V)]
                x = block(x)
        if not cached:
            return ContextResources(tokens.shape[0], tokens.shape[1], 0, 0, 0, False)
        table = torch.cat(cached, dim=-1)
        widths = entry_widths(table.reshape(-1, table.shape[-1]))
        return ContextResources(tokens.shape[0], tokens.shape[1], table.shape[-1], sum(widths.bits), max(widths.bits),
                                max(widths.significant_bits) >= FLOAT64_ROUNDING_BITS)

    def resources(self) -> TransformerResources:
        heads = [h for b in self.blocks for h in b.heads]
        mlps = [b.mlp for b in self.blocks if b.mlp is not None]
        att = TensorStats.combine(tensor_stats(t) for h in heads for t in h.parameter_tensors().values())
        mlp = TensorStats.combine(tensor_stats(t) for m in mlps for t in m.parameter_tensors().values())
        emb = TensorStats.combine(tensor_stats(t) for t in self.embedding.parameter_tensors().values())
        out = TensorStats.combine(tensor_stats(t) for t in self.readout.parameter_tensors().values())
        lags = sorted({h.lag for h in heads if h.lag is not None})
        everything = TensorStats.combine([att, mlp, emb, out])
        return TransformerResources(
            num_layers=len(self.blocks),
            heads=len(heads),
            d_model=self.d_model,
            head_width=max((h.W_Q.shape[0] for h in heads), default=0),
            mlp_depth=max((m.depth for m in mlps), default=0),
            mlp_width=max((max(m.widths) for m in mlps), default=0),
            attention_nonzeros=att.nonzeros,
            mlp_nonzeros=mlp.nonzeros,
            embedding_parameters=emb.nonzeros,
            readout_nonzeros=out.nonzeros,
            parameters=everything.nonzeros + len(lags),
            entries=everything.entries,
            weight_bound=everything.max_abs,
            weight_bits=everything.bits,
            positional=f"exact-lag heads {lags} (one integer each), full causal context" if lags else "full causal context",
        )
