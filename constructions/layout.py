"""Named channel blocks, so that weight builders read like the proofs they implement.

A :class:`Layout` is an ordered list of ``(name, width)`` blocks of a token vector. Builders write
``W.connect("match", "query_bits", -1)`` instead of index arithmetic, and a reader can see which
channels hold what at every stage of a network.
"""

from __future__ import annotations

from dataclasses import dataclass

import torch

from .errors import ShapeError


@dataclass(frozen=True)
class Layout:
    """Ordered named blocks of channels: ``Layout.of(key=4, value=3)`` has width 7."""

    blocks: tuple[tuple[str, int], ...]

    def __post_init__(self):
        names = [n for n, _ in self.blocks]
        if len(set(names)) != len(names):
            raise ShapeError(f"layout block names must be unique, got {names}")
        for name, width in self.blocks:
            if isinstance(width, bool) or not isinstance(width, int) or width < 0:
                raise ShapeError(f"block {name!r} must have a non-negative integer width, got {width!r}")

    @classmethod
    def of(cls, **widths: int) -> "Layout":
        return cls(tuple(widths.items()))

    @property
    def width(self) -> int:
        return sum(w for _, w in self.blocks)

    @property
    def names(self) -> tuple[str, ...]:
        return tuple(n for n, _ in self.blocks)

    def size(self, name: str) -> int:
        return self[name].stop - self[name].start

    def __getitem__(self, name: str) -> slice:
        start = 0
        for n, w in self.blocks:
            if n == name:
                return slice(start, start + w)
            start += w
        raise ShapeError(f"no block {name!r} in layout {self.names}")

    def __contains__(self, name: str) -> bool:
        return name in self.names

    def split(self, x: torch.Tensor) -> dict[str, torch.Tensor]:
        """The blocks of ``x`` (last dimension = this layout) by name."""
        if x.shape[-1] != self.width:
            raise ShapeError(f"tensor has {x.shape[-1]} channels, layout {self.names} has {self.width}")
        return {n: x[..., self[n]] for n in self.names}


class AffineMap:
    """Builds one affine map ``y = W x + b`` between two layouts, block by block.

    ``connect(target, source, M)`` adds ``M`` into the ``(target, source)`` block of ``W``; a scalar
    ``M`` means ``M`` times the identity (square blocks) and a 1-D ``M`` a row (``target`` of width
    one) or a column (``source`` of width one); anything else must be a matrix of the block's shape.
    """

    def __init__(self, source: Layout, target: Layout, *, dtype=torch.float64, device=None):
        self.source, self.target = source, target
        self.weight = torch.zeros(target.width, source.width, dtype=dtype, device=device)
        self.bias = torch.zeros(target.width, dtype=dtype, device=device)

    def connect(self, target: str, source: str, value) -> "AffineMap":
        rows, cols = self.target[target], self.source[source]
        block = self.weight[rows, cols]
        value = torch.as_tensor(value, dtype=self.weight.dtype, device=self.weight.device)
        if value.dim() == 0:
            if block.shape[0] != block.shape[1]:
                raise ShapeError(f"scalar connection {source!r}->{target!r} needs square blocks, got {tuple(block.shape)}")
            value = value * torch.eye(block.shape[0], dtype=block.dtype, device=block.device)
        elif value.dim() == 1:
            if block.shape[0] == 1:
                value = value.reshape(1, -1)  # one target channel reads several sources
            elif block.shape[1] == 1:
                value = value.reshape(-1, 1)  # several target channels read one source
            else:
                raise ShapeError(f"connection {source!r}->{target!r}: a 1-D value needs a block with one row or one "
                                 f"column, got {tuple(block.shape)}; pass a matrix")
        try:
            block += value.expand_as(block)
        except RuntimeError as err:
            raise ShapeError(f"connection {source!r}->{target!r}: block {tuple(block.shape)}, value {tuple(value.shape)}") from err
        return self

    def add_bias(self, target: str, value) -> "AffineMap":
        self.bias[self.target[target]] += torch.as_tensor(value, dtype=self.bias.dtype, device=self.bias.device)
        return self

    def build(self) -> tuple[torch.Tensor, torch.Tensor]:
        return self.weight, self.bias
