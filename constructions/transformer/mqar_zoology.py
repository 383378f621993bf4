"""Attention solves MQAR exactly with one-hot triples (Zoology, Arora et al. 2024, Prop. 4.3).

Claim (``transformer.mqar-zoology-4.3``, related): attention, even without softmax, solves MQAR on
one-hot token codes with a residual stream of ``d = 3c`` (keys, values, previous key) and
``O(c^2)`` parameters in ``O(1)`` layers, independently of the number of pairs N.

Format: as :mod:`constructions.tasks.associative_recall` with ``query="last"``
(``k_1 v_1 .. k_N v_N q_1 .. q_Q``, disjoint key and value vocabularies of ``c`` tokens each).

Mechanism::

    stream        key (c) | value (c) | prev_key (c) | answer (c)
    layer 1       one head attending exactly 1 back copies the key block into prev_key
    layer 2       linear attention: query = key block at t, key = prev_key at s, value = value at s
                  answer_t = sum_{s <= t} <key_t, prev_key_s> value_s = one-hot of v(q_t)

Resources: 2 layers, 2 heads, ``d_model = 4c`` here (the three one-hot blocks of the proposition
plus the answer block the read-out reads), weight matrices of ``O(c^2)`` entries with ``O(c)``
nonzeros, weight bound 1; nothing depends on N or the length.

Source: Arora et al. 2024 (Zoology), Proposition 4.3; weights written out here (related).
"""

from __future__ import annotations

import torch

from ..construction import Construction, OneHotCode
from ..embedding import OneHotEmbedding
from ..fnn import FNN
from ..layout import AffineMap, Layout
from ..mutation import injectable
from ..associative_recall.common import check_query_last, recall_construction
from ..tasks.associative_recall import ARConfig
from ..tasks.scattered_recall import ScatteredARConfig
from .model import Block, Head, Transformer

NAME = "zoology-attention"
SOURCE = "Arora et al. 2024 (Zoology), Proposition 4.3 (related)"


def _selector(stream: Layout, target: Layout, pairs, **kw) -> torch.Tensor:
    m = AffineMap(stream, target, **kw)
    for t, s in pairs:
        m.connect(t, s, 1)
    return m.build(sparse=False)[0]


@injectable(NAME)
def build(config: ARConfig | ScatteredARConfig, *, kind: str = "linear", dtype=torch.float64, device=None) -> Construction:
    """``kind="linear"`` is the proposition's attention without softmax: at a query it returns the sum of
    the values that followed the query key, so a key met again before its query (a random filler of
    :class:`ScatteredARConfig`) adds its value (``constructions.tasks.scattered_recall``)."""
    check_query_last("Zoology attention", config)
    K, V = config.num_keys, config.num_values
    kw = dict(dtype=dtype, device=device)
    vocab = config.vocabulary()
    embedding = OneHotEmbedding(vocab, **kw)
    stream = Layout((*embedding.layout.blocks, ("prev_key", K), ("answer", V)))  # key | value [| filler] | ...
    keys, values = Layout.of(k=K), Layout.of(v=V)
    zero_qk = torch.zeros(1, stream.width, **kw)
    previous = Head(zero_qk, zero_qk, _selector(stream, keys, [("k", "key")], **kw),
                    _selector(keys, stream, [("prev_key", "k")], **kw), kind="hardmax", lag=1)
    recall = Head(_selector(stream, keys, [("k", "key")], **kw), _selector(stream, keys, [("k", "prev_key")], **kw),
                  _selector(stream, values, [("v", "value")], **kw), _selector(values, stream, [("answer", "v")], **kw),
                  kind=kind)
    readout = FNN([(_selector(stream, values, [("v", "answer")], **kw), torch.zeros(V, **kw))], origin="transformer.readout")
    network = Transformer(embedding, stream.width, [Block([previous]), Block([recall])], readout)
    return recall_construction(NAME, network, config, OneHotCode.range(vocab.offset("value"), V), SOURCE)


def closed_form() -> dict:
    """Resources in terms of ``c`` keys = values (``K = V = c``). Entries: the previous-token head
    ``8c^2 + 8c`` (one-row W_Q, W_K), the recall head ``16c^2``, the read-out ``4c^2 + c``."""
    import sympy as sp

    c = sp.Symbol("c", positive=True, integer=True)
    return {"d_model": 4 * c, "parameters": 7 * c + 1, "entries": 28 * c**2 + 9 * c, "weight_bound": sp.Integer(1),
            "num_layers": sp.Integer(2), "heads": sp.Integer(2), "mlp_depth": sp.Integer(0), "mlp_width": sp.Integer(0),
            "weight_bits": sp.Integer(2)}


def mutations(config: ARConfig):
    from ..mutation import Mutation

    return [
        Mutation("key 0 is not copied forward", "blocks.0.heads.0.W_O", (2 * 0 + config.num_keys + config.num_values, 0), 0.0),
        Mutation("the query of key 0 is dropped", "blocks.1.heads.0.W_Q", (0, 0), 0.0),
    ]
