"""Selection by key-query match with SSM layers between FNNs (Lemma 3.3, reconstructed).

Both the recall and the copying constructions are built from the two mechanisms here, which is the
code form of a reviewer's remark that the proofs of Theorems 3.1 and 3.2 share one structure:
layer 1 brings what must be compared to the same token, layer 2 selects by key-query match.

**Broadcast query** (the query comes first; PAPER.md §4 G3). An SSM has brought a query code ``Q``
and a key code ``K`` (0/1 vectors of the same length) to the same token, with that token's value
bits ``v`` and a gate bit ``g``. :func:`hamming_select_fnn` outputs ``v`` if ``g = 1`` and
``Q = K``, zeros otherwise; a prefix-sum SSM then adds the selected values::

    and_r  = relu(Q_r + K_r - 1)                      Q_r AND K_r
    total  = relu(sum_r (Q_r + K_r))                  sum of both codes (non-negative)
    H      = total - 2 sum_r and_r                    Hamming distance, an integer >= 0
    match  = relu(g - H)                              1 iff g = 1 and H = 0
    out_r  = relu(v_r + match - 1)                    v_r AND match

Exact on 0/1 inputs; weights in {0, +-1, +-2}; depth 4, width ``|Q| + |v| + 2``, nonzeros
``6|Q| + 6|v| + 3``.

**Feature memory** (the query comes last; PAPER.md §4 G2, the H3/Hyena outer-product memory). At
each token a key made of ``n`` one-hot slots ``k_1..k_n`` and a one-hot value ``v`` are written as
one memory cell per (key, value) pair; a prefix-sum SSM accumulates them; at a query token the
one-hot query slots read the cells of their key::

    write   Z_{(a_1..a_n), j} = relu(sum_i k_i[a_i] + v[j] - n)             (memory_write_fnn)
    SSM     M = prefix sum of Z                                             M_{a, j} = #(a, j) seen
    read    out_j = sum_a relu(M_{a, j} + sum_i q_i[a_i] - n) = M_{q, j}     (memory_read_fnn)

Exact whenever each key was written with one value only; with ``clip_counts`` the read-out first
takes ``min(M, 1) = 1 - relu(1 - M)``, so writing the same pair again (as a copier does when it
re-reads its own output) changes nothing; without it a count of 2 would leak into cells that
match the query in all but one slot. Width ``prod |k_i| x |v|``: this is the
selection by the exact key-query kernel ``<phi(q), phi(k)> = [q = k]`` with one-hot features, and
its width is what such a kernel costs (polynomial in the vocabulary, exponential in ``n``).
Large memories are built as sparse weights.
"""

from __future__ import annotations

import math
from typing import Sequence

import torch

from .errors import ShapeError
from .fnn import FNN
from .layout import AffineMap, Layout


def hamming_select_fnn(
    source: Layout,
    pairs: Sequence[tuple[str, str]],
    value: str,
    gate: str,
    *,
    out_name: str = "selected",
    dtype=torch.float64,
    device=None,
) -> FNN:
    """The broadcast-query gadget, reading from ``source``: ``pairs`` lists (query block, key block)
    name pairs compared bit by bit (together they form ``Q`` and ``K``), ``value`` the value-bit
    block and ``gate`` a one-channel block."""
    v_bits = source.size(value)
    for q, k in pairs:
        if source.size(q) != source.size(k):
            raise ShapeError(f"query block {q!r} and key block {k!r} differ in width")
    kw = dict(dtype=dtype, device=device)
    hidden1 = Layout((*[(f"and_{q}", source.size(q)) for q, _ in pairs], ("total", 1), ("value", v_bits), ("gate", 1)))
    hidden2 = Layout.of(match=1, value=v_bits)
    hidden3 = Layout.of(selected=v_bits)
    out = Layout(((out_name, v_bits),))

    first = AffineMap(source, hidden1, **kw)
    for q, k in pairs:
        first.connect(f"and_{q}", q, 1).connect(f"and_{q}", k, 1).add_bias(f"and_{q}", -1)
        first.connect("total", q, torch.ones(source.size(q), **kw)).connect("total", k, torch.ones(source.size(k), **kw))
    first.connect("value", value, 1).connect("gate", gate, 1)

    second = AffineMap(hidden1, hidden2, **kw)
    second.connect("match", "gate", 1).connect("match", "total", -1)
    for q, _ in pairs:
        second.connect("match", f"and_{q}", 2 * torch.ones(source.size(q), **kw))
    second.connect("value", "value", 1)

    third = AffineMap(hidden2, hidden3, **kw)
    third.connect("selected", "value", 1).connect("selected", "match", torch.ones(v_bits, **kw)).add_bias("selected", -1)

    read_out = AffineMap(hidden3, out, **kw).connect(out_name, "selected", 1)
    return FNN.from_maps(first, second, third, read_out, origin="selection.hamming_select")


def _cell_reads(sizes: Sequence[int], value_size: int, device=None) -> tuple[list[torch.Tensor], torch.Tensor, int]:
    """For every memory cell ``c = ((a_1 s_2 + a_2) s_3 + ...) |v| + j``: the slot digits ``a_i(c)``
    and the value ``j(c)``."""
    cells = math.prod(sizes) * value_size
    c = torch.arange(cells, device=device)
    j, rest = c % value_size, c // value_size
    digits = []
    for size in reversed(sizes):
        digits.append(rest % size)
        rest = rest // size
    return digits[::-1], j, cells


def _selector(rows: torch.Tensor, cols: torch.Tensor, shape, dtype) -> torch.Tensor:
    """The sparse 0/1 matrix with ones at ``(rows[i], cols[i])``."""
    return torch.sparse_coo_tensor(
        torch.stack([rows, cols]), torch.ones(len(rows), dtype=dtype, device=rows.device), shape, check_invariants=True
    )


def memory_write_fnn(
    source: Layout,
    key_slots: Sequence[str],
    value: str,
    carry: Sequence[str] = (),
    *,
    out_name: str = "memory",
    dtype=torch.float64,
    device=None,
) -> FNN:
    """``Z_{(a_1..a_n), j} = relu(sum_i key_i[a_i] + value[j] - n)``, one cell per (key, value);
    the ``carry`` blocks (non-negative, e.g. the query slots) pass through. Depth 2."""
    sizes = [source.size(k) for k in key_slots]
    digits, j, cells = _cell_reads(sizes, source.size(value), device)
    rows = torch.arange(cells, device=device)
    hidden = Layout(((out_name, cells), *[(c, source.size(c)) for c in carry]))
    write = AffineMap(source, hidden, dtype=dtype, device=device)
    for slot, digit, size in zip(key_slots, digits, sizes):
        write.connect(out_name, slot, _selector(rows, digit, (cells, size), dtype))
    write.connect(out_name, value, _selector(rows, j, (cells, source.size(value)), dtype))
    write.add_bias(out_name, -len(key_slots))
    for c in carry:
        write.connect(c, c, 1)
    keep = AffineMap(hidden, hidden, dtype=dtype, device=device)
    for name in hidden.names:
        keep.connect(name, name, 1)
    return FNN.from_maps(write, keep, origin="selection.memory_write")


def memory_read_fnn(
    source: Layout,
    memory: str,
    query_slots: Sequence[str],
    value_size: int,
    *,
    clip_counts: bool = False,
    carry: Sequence[str] = (),
    out_name: str = "answer",
    dtype=torch.float64,
    device=None,
) -> FNN:
    """``out_j = sum_a relu(M_{a, j} + sum_i query_i[a_i] - n)``: the memory cells of the query's
    key. ``memory`` must be laid out as :func:`memory_write_fnn` writes it. Depth 2, or 3 with
    ``clip_counts`` (``M`` replaced by ``min(M, 1)``); the ``carry`` blocks (non-negative) pass through
    after the answer."""
    sizes = [source.size(q) for q in query_slots]
    digits, j, cells = _cell_reads(sizes, value_size, device)
    if source.size(memory) != cells:
        raise ShapeError(f"memory block has {source.size(memory)} cells, slots {sizes} x {value_size} values need {cells}")
    kw = dict(dtype=dtype, device=device)
    rows = torch.arange(cells, device=device)
    maps = []
    if clip_counts:  # unseen = relu(1 - M); then min(M, 1) = 1 - unseen
        unseen = Layout((("unseen", cells), *[(q, source.size(q)) for q in (*query_slots, *carry)]))
        clip = AffineMap(source, unseen, **kw).connect("unseen", memory, -1).add_bias("unseen", 1)
        for q in (*query_slots, *carry):
            clip.connect(q, q, 1)
        maps.append(clip)
        source, memory, sign, offset = unseen, "unseen", -1, 1
    else:
        sign, offset = 1, 0
    reads = Layout((("read", cells), *[(c, source.size(c)) for c in carry]))
    read = AffineMap(source, reads, **kw).connect("read", memory, sign)
    for slot, digit, size in zip(query_slots, digits, sizes):
        read.connect("read", slot, _selector(rows, digit, (cells, size), dtype))
    read.add_bias("read", offset - len(query_slots))
    collect = AffineMap(reads, Layout(((out_name, value_size), *[(c, source.size(c)) for c in carry])), **kw)
    collect.connect(out_name, "read", _selector(j, rows, (value_size, cells), dtype))
    for c in carry:
        read.connect(c, c, 1)
        collect.connect(c, c, 1)
    return FNN.from_maps(*maps, read, collect, origin="selection.memory_read")
