"""Attention solves query-last AR and MQAR with binary codes: width O(log |V|) (reconstructed).

Claim (``transformer.binary-recall.exact``, reconstructed): for every instance of
``ARConfig(num_keys=K, num_values=V, num_pairs=N, num_queries=Q, query="last")`` (keys of one
token), the two-layer hard-attention Transformer below outputs at each query position exactly the
binary code of the queried value. Its resources are ``O(log |V|)`` and independent of N, Q and the
length: the Transformer counterpart, in the same format and the same binary token code, of the SSM+FNN
constructions for query-last recall (:mod:`constructions.associative_recall.outer_product`,
:mod:`constructions.associative_recall.precision_route`).

Format: ``k_1 v_1 ... k_N v_N q_1 ... q_Q`` (:mod:`constructions.tasks.associative_recall`, disjoint
key and value vocabularies); answers at the query positions.

Mechanism (``m = ceil(log2 K)`` key bits, ``b = ceil(log2 V)`` value bits; the fixed binary embedding
writes 0/1 bits and the flags ``is_key``, ``is_value``; ``c(k) = 2 bits(k) - 1`` in {-1, +1}^m is the
sign code of a key, read linearly as ``2 key - is_key``, which is 0 at non-key tokens)::

    stream     key (m) | value (b) | is_key | is_value | prev_key (m) | answer (b)
    layer 1    a head attending exactly 1 back (hard ALiBi) writes c(x_{t-1}) into prev_key: at a
               value token, the sign code of its pair's key
    layer 2    one hardmax head:  query  = (c(x_t), 2 is_key_t)
                                  key    = (prev_key_s, is_value_s)
                                  score  = <c(q), prev_key_s> + 2 is_value_s
                                         = m + 2 at the value of the matching pair, m - 2 H + 2 <= m at
                                           a value whose key differs in H >= 1 bits, <= m elsewhere
                                  value  = value bits at s, written into answer
    read-out   the answer block (0/1 bits of the answer's index)

The matching value is the unique maximum (gap 2), so hard attention is exact; every query position
attends on its own, so any number of queries works (MQAR).

Resources (measured; closed forms in :func:`closed_form`): 2 layers, 2 heads, ``d_model = 2m + 2b +
2``, no MLP, ``6m + 3b + 3`` parameters (nonzeros, plus one integer for the exact-lag head), weights
in {0, +-1, +-2} (3 bits), no embedding parameters (a fixed code, as for the SSM+FNN binary
constructions): ``O(log |V|)``, independent of N, Q and the sequence length.

Source: the Zoology construction (Arora et al. 2024, Prop. 4.3: a previous-token head, then
key-query matching) with Jelassi et al. 2024's hard-ALiBi head and +-1 codes in place of one-hot
ones; reconstructed, weights written out here.
"""

from __future__ import annotations

import sympy as sp
import torch

from ..construction import BinaryCode, Construction
from ..embedding import BinaryEmbedding, code_bits
from ..fnn import FNN
from ..layout import AffineMap, Layout
from ..mutation import injectable
from ..associative_recall.common import check_query_last, recall_construction
from ..tasks.associative_recall import ARConfig
from ..tasks.scattered_recall import ScatteredARConfig
from .model import Block, Head, Transformer

NAME = "binary-attention"
SOURCE = "Zoology Prop. 4.3 mechanism with hard-ALiBi and +-1 codes (Arora et al. 2024; Jelassi et al. 2024); reconstructed"

#: score added at value positions: the match scores m + BONUS, anything else at most m
BONUS = 2


def matrix(source: Layout, target: Layout, connections, **kw) -> torch.Tensor:
    """The dense ``(target.width, source.width)`` matrix with ``connections``: ``(target block,
    source block, value)`` triples, a scalar value meaning that multiple of the identity."""
    a = AffineMap(source, target, **kw)
    for t, s, value in connections:
        a.connect(t, s, value)
    return a.build(sparse=False)[0]


def sign_code(block: str, flag: str, target: str, width: int) -> list:
    """Connections writing the +-1 code ``2 bits - flag`` of ``block`` (``width`` bits) into
    ``target``: +-1 where the flag is 1 (the bits are a code), 0 where it is 0 (the bits are 0 there
    too)."""
    return [(target, block, 2), (target, flag, -torch.ones(width))]


def check_format(config: ARConfig | ScatteredARConfig) -> None:
    check_query_last("binary attention", config)


@injectable(NAME)
def build(config: ARConfig, *, dtype=torch.float64, device=None) -> Construction:
    check_format(config)
    m, b = code_bits(config.num_keys), code_bits(config.num_values)
    kw = dict(dtype=dtype, device=device)
    vocab = config.vocabulary()
    embedding = BinaryEmbedding(vocab, flags=["key", "value"], **kw)
    stream = Layout((*embedding.layout.blocks, ("prev_key", m), ("answer", b)))
    code, bits, score = Layout.of(c=m), Layout.of(v=b), Layout.of(c=m, bonus=1)
    none = torch.zeros(1, stream.width, **kw)

    previous = Head(none, none, matrix(stream, code, sign_code("key", "is_key", "c", m), **kw),
                    matrix(code, stream, [("prev_key", "c", 1)], **kw), kind="hardmax", lag=1)
    recall = Head(
        matrix(stream, score, [*sign_code("key", "is_key", "c", m), ("bonus", "is_key", BONUS)], **kw),
        matrix(stream, score, [("c", "prev_key", 1), ("bonus", "is_value", 1)], **kw),
        matrix(stream, bits, [("v", "value", 1)], **kw),
        matrix(bits, stream, [("answer", "v", 1)], **kw),
        kind="hardmax",
    )
    readout = FNN([(matrix(stream, bits, [("v", "answer", 1)], **kw), torch.zeros(b, **kw))], origin="transformer.readout")
    network = Transformer(embedding, stream.width, [Block([previous]), Block([recall])], readout)
    return recall_construction(NAME, network, config, BinaryCode(vocab.offset("value"), b), SOURCE)


def closed_form() -> dict[str, sp.Expr]:
    """Resources in terms of the numbers of keys ``K`` and values ``V`` (independent of N, Q)."""
    K, V = sp.symbols("K V", positive=True, integer=True)
    m = sp.Max(1, sp.ceiling(sp.log(K, 2)))
    b = sp.Max(1, sp.ceiling(sp.log(V, 2)))
    return {
        "num_layers": sp.Integer(2),
        "heads": sp.Integer(2),
        "d_model": 2 * m + 2 * b + 2,
        "head_width": m + 1,
        "mlp_depth": sp.Integer(0),
        "mlp_width": sp.Integer(0),
        "parameters": 6 * m + 3 * b + 3,
        "weight_bound": sp.Integer(2),
        "weight_bits": sp.Integer(3),
    }


def mutations(config: ARConfig):
    """Single-weight changes that break the construction on some instances only."""
    from ..mutation import Mutation

    check_format(config)
    m, b = code_bits(config.num_keys), code_bits(config.num_values)
    stream = Layout.of(key=m, value=b, is_key=1, is_value=1, prev_key=m, answer=b)
    return [
        Mutation("key bit 0 is not copied onto the value position", "blocks.0.heads.0.W_O", (stream["prev_key"].start, 0), 0.0),
        Mutation("value positions get no bonus: a key position with the query's code ties with the match",
                 "blocks.1.heads.0.W_K", (m, stream["is_value"].start), 0.0),
        Mutation("the highest value bit is never read", "blocks.1.heads.0.W_V", (b - 1, stream["value"].start + b - 1), 0.0),
    ]
