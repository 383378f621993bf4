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


#: ``AffineMap.build`` returns a sparse weight when it has more entries than this and is sparse.
SPARSE_MIN_ENTRIES = 1 << 20


class AffineMap:
    """Builds one affine map ``y = W x + b`` between two layouts, block by block.

    ``connect(target, source, M)`` adds ``M`` into the ``(target, source)`` block of ``W``; a scalar
    ``M`` means ``M`` times the identity (square blocks) and a 1-D ``M`` a row (``target`` of width
    one) or a column (``source`` of width one); anything else must be a matrix of the block's shape,
    dense or sparse (COO). Entries are collected as (row, column, value) triplets, so very large,
    very sparse maps (outer-product memories) never exist as dense matrices: ``build`` returns a
    sparse COO weight when the map has more than :data:`SPARSE_MIN_ENTRIES` entries and at most 10%
    of them are non-zero (``sparse=True/False`` forces the choice).
    """

    def __init__(self, source: Layout, target: Layout, *, dtype=torch.float64, device=None):
        self.source, self.target = source, target
        self.dtype, self.device = dtype, torch.device(device) if device is not None else torch.device("cpu")
        self._rows: list[torch.Tensor] = []
        self._cols: list[torch.Tensor] = []
        self._vals: list[torch.Tensor] = []
        self.bias = torch.zeros(target.width, dtype=dtype, device=device)

    def connect(self, target: str, source: str, value) -> "AffineMap":
        rows, cols = self.target[target], self.source[source]
        shape = (rows.stop - rows.start, cols.stop - cols.start)
        r, c, v = _triplets(value, shape, f"connection {source!r}->{target!r}", self.dtype, self.device)
        self._rows.append(r + rows.start)
        self._cols.append(c + cols.start)
        self._vals.append(v)
        return self

    def add_bias(self, target: str, value) -> "AffineMap":
        self.bias[self.target[target]] += torch.as_tensor(value, dtype=self.bias.dtype, device=self.bias.device)
        return self

    @property
    def weight(self) -> torch.Tensor:
        """The weight as a dense matrix (for small maps and inspection)."""
        return self.build(sparse=False)[0]

    def build(self, sparse: bool | None = None) -> tuple[torch.Tensor, torch.Tensor]:
        shape = (self.target.width, self.source.width)
        W = _coalesced(self._rows, self._cols, self._vals, shape, self.dtype, self.device)
        if sparse is None:
            entries = shape[0] * shape[1]
            sparse = entries > SPARSE_MIN_ENTRIES and W._nnz() <= entries // 10
        return (W if sparse else W.to_dense()), self.bias


def _coalesced(rows: list[torch.Tensor], cols: list[torch.Tensor], vals: list[torch.Tensor], shape: tuple[int, int],
               dtype, device) -> torch.Tensor:
    """The coalesced sparse COO matrix of the connections' triplets (duplicates summed), in row-major order.

    Without a sort where it can: when each connection touches every row at most once in ascending order
    (identities, selections), an entry's place is its row's start plus the number of earlier connections
    in that row (a counting sort, ``O(entries)``); when that order is row-major (each row's columns
    ascending with the connections: blocks connected in layout order) it is the result. Otherwise one
    sort by the key ``row x width + column``."""
    if not rows:
        return torch.sparse_coo_tensor(torch.zeros(2, 0, dtype=torch.long, device=device),
                                       torch.zeros(0, dtype=dtype, device=device), shape, is_coalesced=True,
                                       check_invariants=False)
    r, c, v = torch.cat(rows), torch.cat(cols), torch.cat(vals)
    if r.numel() and (int(r.min()) < 0 or int(c.min()) < 0 or int(r.max()) >= shape[0] or int(c.max()) >= shape[1]):
        raise ShapeError(f"sparse entries outside the {shape} weight")
    placed = _counting_order(rows, shape[0]) if r.numel() else None
    if placed is not None:
        r, c, v = (torch.empty_like(t).index_copy_(0, placed, t) for t in (r, c, v))
    key = r * shape[1] + c
    if not bool((key[1:] > key[:-1]).all()):
        key, order = torch.sort(key)
        v = v[order]
        if not bool((key[1:] > key[:-1]).all()):  # repeated entries: summed
            key, inverse = torch.unique_consecutive(key, return_inverse=True)
            v = torch.zeros(len(key), dtype=v.dtype, device=v.device).index_add_(0, inverse, v)
        r, c = key // shape[1], key % shape[1]
    return torch.sparse_coo_tensor(torch.stack([r, c]), v, shape, is_coalesced=True, check_invariants=False)


def _counting_order(rows: list[torch.Tensor], height: int) -> torch.Tensor | None:
    """Where each triplet goes when the triplets are placed row by row, connection by connection within a
    row; ``None`` unless every connection's rows strictly ascend (a sort is needed then)."""
    if not all(bool((r[1:] > r[:-1]).all()) for r in rows):
        return None
    start = torch.cumsum(torch.bincount(torch.cat(rows), minlength=height), 0)
    start = torch.cat([start.new_zeros(1), start[:-1]])
    fill = torch.zeros_like(start)
    places = []
    for r in rows:
        places.append(start[r] + fill[r])
        fill[r] += 1  # rows distinct within a connection
    return torch.cat(places)


def _triplets(value, shape, what, dtype, device):
    """(rows, cols, values) of ``value`` placed in a block of ``shape`` (see ``AffineMap.connect``)."""
    if isinstance(value, torch.Tensor) and value.is_sparse:
        if tuple(value.shape) != shape:
            raise ShapeError(f"{what}: block {shape}, value {tuple(value.shape)}")
        indices, values = value._indices(), value._values()  # repeated entries are summed by AffineMap.build
        if indices.numel() and (bool((indices < 0).any()) or bool((indices >= torch.tensor(shape, device=indices.device).unsqueeze(1)).any())):
            raise ShapeError(f"{what}: a sparse value has entries outside its {shape} block")
        return indices[0].to(device), indices[1].to(device), values.to(dtype=dtype, device=device)
    value = torch.as_tensor(value, dtype=dtype, device=device)
    if value.dim() == 0:
        if shape[0] != shape[1]:
            raise ShapeError(f"scalar {what} needs square blocks, got {shape}")
        i = torch.arange(shape[0], device=device)
        return i, i, value.expand(shape[0]).clone()
    if value.dim() == 1:
        if shape[0] == 1:
            value = value.reshape(1, -1)  # one target channel reads several sources
        elif shape[1] == 1:
            value = value.reshape(-1, 1)  # several target channels read one source
        else:
            raise ShapeError(f"{what}: a 1-D value needs a block with one row or one column, got {shape}; pass a matrix")
    if value.dim() != 2:
        raise ShapeError(f"{what}: block {shape}, value {tuple(value.shape)}")
    try:
        value = value.expand(shape)
    except RuntimeError as err:
        raise ShapeError(f"{what}: block {shape}, value {tuple(value.shape)}") from err
    r, c = value.nonzero(as_tuple=True)
    return r, c, value[r, c]
