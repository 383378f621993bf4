"""Token embeddings: one-hot, binary codes (fixed, no parameters) and explicit tables.

Shape legend: ``tokens: (batch, length)`` integer ids; output ``(batch, length, d)``.

* :class:`OneHotEmbedding` -- ``e(x) = onehot(x)``, ``d = |vocabulary|``.
* :class:`BinaryEmbedding` -- per vocabulary segment, the ``m = ceil(log2 size)`` bits of the
  token's index within its segment, written in that segment's block and zero elsewhere; an optional
  0/1 flag block per segment. A fixed code (like a tokenizer), ``d = O(log |V|)``, no parameters.
* :class:`TableEmbedding` -- ``e(x) = E[x]`` for an explicit table ``E: (|V|, d)``.
"""

from __future__ import annotations

from typing import Iterable

import torch
from torch import nn

from .errors import (
    DeviceMismatchError,
    DTypeMismatchError,
    ShapeError,
    TokenRangeError,
    require_finite,
    require_finite_input,
    require_rank,
)
from .layout import Layout
from .vocabulary import Vocabulary


def code_bits(size: int) -> int:
    """Bits of a binary code for ``size`` symbols (at least one)."""
    return max(1, (size - 1).bit_length())


class NetworkInput(nn.Module):
    """What every network input stage shares: a layout of output channels, a dtype and a device."""

    layout: Layout

    def __init__(self, layout: Layout, dtype: torch.dtype, device=None):
        super().__init__()
        self.layout = layout
        self.register_buffer("_device_marker", torch.zeros(0, dtype=dtype, device=device), persistent=False)

    @property
    def out_features(self) -> int:
        return self.layout.width

    @property
    def device(self) -> torch.device:
        return self._device_marker.device

    @property
    def dtype(self) -> torch.dtype:
        return self._device_marker.dtype

    def parameter_tensors(self) -> dict[str, torch.Tensor]:
        return {}


class Embedding(NetworkInput):
    """Token ids in, ``(batch, length, d)`` features out."""

    vocabulary: Vocabulary

    def __init__(self, vocabulary: Vocabulary, layout: Layout, dtype: torch.dtype):
        super().__init__(layout, dtype)
        self.vocabulary = vocabulary

    def check_tokens(self, tokens: torch.Tensor) -> None:
        if not isinstance(tokens, torch.Tensor):
            raise ShapeError(f"tokens must be a tensor of shape (batch, length), got {type(tokens).__name__}")
        if tokens.dim() != 2:
            raise ShapeError(f"tokens must have shape (batch, length), got {tuple(tokens.shape)}")
        if tokens.dtype.is_floating_point or tokens.dtype.is_complex or tokens.dtype == torch.bool:
            raise TokenRangeError(f"tokens must be integer ids, got dtype {tokens.dtype}")
        if tokens.device != self.device:
            raise DeviceMismatchError(f"tokens are on {tokens.device}, the network on {self.device}")
        self.vocabulary.check(tokens)

    def forward(self, tokens: torch.Tensor) -> torch.Tensor:
        self.check_tokens(tokens)
        return self.encode(tokens.long())

    def encode(self, tokens: torch.Tensor) -> torch.Tensor:
        raise NotImplementedError


class OneHotEmbedding(Embedding):
    def __init__(self, vocabulary: Vocabulary, *, dtype=torch.float64, device=None):
        layout = Layout(tuple(vocabulary.segments))
        super().__init__(vocabulary, layout, dtype)
        self.to(device)

    def encode(self, tokens):
        return torch.nn.functional.one_hot(tokens, self.vocabulary.size).to(self.dtype)


class BinaryEmbedding(Embedding):
    """Binary code of the index within the token's segment, in that segment's block.

    ``flags`` names the segments that also get a 0/1 indicator block ``is_<segment>``.
    """

    def __init__(self, vocabulary: Vocabulary, flags: Iterable[str] = (), *, dtype=torch.float64, device=None):
        flags = tuple(flags)
        for f in flags:
            if f not in vocabulary.names:
                raise ShapeError(f"flag segment {f!r} is not in the vocabulary {vocabulary.names}")
        blocks = [(name, code_bits(size)) for name, size in vocabulary.segments]
        blocks += [(f"is_{f}", 1) for f in flags]
        super().__init__(vocabulary, Layout(tuple(blocks)), dtype)
        self.flags = flags
        self.to(device)

    def encode(self, tokens):
        parts = []
        for name, size in self.vocabulary.segments:
            index = tokens - self.vocabulary.offset(name)
            inside = (index >= 0) & (index < size)
            shifts = torch.arange(code_bits(size), device=tokens.device)
            bits = (index.clamp(min=0).unsqueeze(-1) >> shifts) & 1
            parts.append(bits * inside.unsqueeze(-1))
        for name in self.flags:
            index = tokens - self.vocabulary.offset(name)
            parts.append(((index >= 0) & (index < self.vocabulary.segment_size(name))).unsqueeze(-1).long())
        return torch.cat(parts, dim=-1).to(self.dtype)


class TableEmbedding(Embedding):
    """``e(x) = table[x]``; ``table: (|V|, d)`` counts as parameters."""

    def __init__(self, vocabulary: Vocabulary, table: torch.Tensor, layout: Layout | None = None):
        require_rank("embedding table", table, 2)
        require_finite("embedding table", table)
        if table.shape[0] != vocabulary.size:
            raise ShapeError(f"embedding table has {table.shape[0]} rows, the vocabulary {vocabulary.size} tokens")
        layout = layout or Layout.of(embedding=table.shape[1])
        if layout.width != table.shape[1]:
            raise ShapeError(f"layout width {layout.width} != table width {table.shape[1]}")
        super().__init__(vocabulary, layout, table.dtype)
        self.table = nn.Parameter(table, requires_grad=False)
        self.to(table.device)

    @property
    def dtype(self) -> torch.dtype:
        return self.table.dtype

    def parameter_tensors(self):
        return {"E": self.table.detach()}

    def encode(self, tokens):
        return self.table[tokens]


class FeatureInput(NetworkInput):
    """Not an embedding: continuous token features ``(batch, length, width)`` pass straight in.

    For constructions whose tokens are vectors (scores and values in Lemma 3.3's pooling)."""

    def __init__(self, layout: Layout, *, dtype=torch.float64, device=None):
        super().__init__(layout, dtype, device)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        if not isinstance(x, torch.Tensor) or x.dim() != 3 or x.shape[-1] != self.out_features:
            shape = tuple(x.shape) if isinstance(x, torch.Tensor) else type(x).__name__
            raise ShapeError(f"features must have shape (batch, length, {self.out_features}), got {shape}")
        if x.dtype != self.dtype:
            raise DTypeMismatchError(f"features have dtype {x.dtype}, the network {self.dtype}")
        if x.device != self.device:
            raise DeviceMismatchError(f"features are on {x.device}, the network on {self.device}")
        require_finite_input("features", x)
        return x
