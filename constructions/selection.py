"""The selection gadget shared by the recall and copying constructions (Lemma 3.3's FNN side).

Once an SSM layer has brought a query code ``Q`` and a key code ``K`` (both 0/1 vectors of the same
length) to the same token, together with that token's value bits ``v`` and a gate bit ``g``, the
post-FNN below outputs ``v`` if ``g = 1`` and ``Q = K``, and zeros otherwise::

    and_r  = relu(Q_r + K_r - 1)                      Q_r AND K_r
    total  = relu(sum_r (Q_r + K_r))                  sum of both codes (non-negative)
    H      = total - 2 sum_r and_r                    Hamming distance, an integer >= 0
    match  = relu(g - H)                              1 iff g = 1 and H = 0
    out_r  = relu(v_r + match - 1)                    v_r AND match

Exact on 0/1 inputs; weights in {0, +-1, +-2}, biases in {0, -1}; depth 4 (three ReLU layers and
a linear read-out), width ``|Q| + 2 + |v|``, nonzeros ``6|Q| + 6|v| + 3``. A following prefix-sum
SSM then adds the selected values (PAPER.md §4 G3: "layer 1 brings key and query to the same
token, layer 2 selects").
"""

from __future__ import annotations

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
    """The gadget above, reading from ``source``: ``pairs`` lists (query block, key block) name pairs
    compared bit by bit (together they form ``Q`` and ``K``), ``value`` the value-bit block and
    ``gate`` a one-channel block."""
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
    return FNN.from_maps(first, second, third, read_out)
