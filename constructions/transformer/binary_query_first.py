"""Attention solves query-first AR with binary codes: width O(log |V|) (reconstructed).

Claim (``transformer.binary-query-first.exact``, reconstructed): for every instance of
``ARConfig(num_keys=K, num_values=V, num_pairs=N, query="first")`` (keys of one token), the
two-layer hard-attention Transformer below outputs at the last position exactly the binary code of
the queried value; its resources are ``O(log |V|)`` and independent of N and the length. It is the
Transformer counterpart, in the same format and token code, of the SSM+FNN construction
:mod:`constructions.associative_recall.binary_query_first`.

Format: ``q k_1 v_1 ... k_N v_N`` with ``q`` from the query segment (a key written as a question);
the answer is read at the last position.

Mechanism (``m = ceil(log2 K)``, ``b = ceil(log2 V)``; the fixed binary embedding writes the 0/1 bits
of the token's index in its segment's block and the flags ``is_key``, ``is_value``, ``is_query0``,
whose sum is 1 on every token; sign codes ``2 bits - flag`` as in
:mod:`constructions.transformer.binary_attention`)::

    stream     key (m) | value (b) | query0 (m) | is_key | is_value | is_query0 | prev_key (m) | query (m) | answer (b)
    layer 1    head 1 attends exactly 1 back: prev_key = sign code of x_{t-1}'s key bits
               head 2 scores is_query0_s (query = the constant 1): it attends to the query token at
               position 0 and writes its sign code into query, at every position
    layer 2    one hardmax head: score = <query_t, prev_key_s> + 2 is_value_s
               (m + 2 at the matching pair's value, at most m elsewhere); value = value bits
    read-out   the answer block

Resources (measured; closed forms in :func:`closed_form`): 2 layers, 3 heads, ``d_model = 4m + 2b +
3``, no MLP, ``8m + 3b + 9`` parameters (nonzeros, plus one integer for the exact-lag head),
weights in {0, +-1, +-2}: ``O(log |V|)``, independent of N and the sequence length.

Source: as :mod:`constructions.transformer.binary_attention`, with a broadcast head bringing the
query to the answer position (the role of the SSM's prefix sum in the SSM+FNN construction);
reconstructed, weights written out here.
"""

from __future__ import annotations

import sympy as sp
import torch

from ..construction import BinaryCode, Construction
from ..embedding import BinaryEmbedding, code_bits
from ..errors import InfeasibleTaskError
from ..fnn import FNN
from ..layout import Layout
from ..mutation import injectable
from ..tasks.associative_recall import ARConfig, reference_answers
from .binary_attention import BONUS, matrix, sign_code
from .model import Block, Head, Transformer

NAME = "binary-attention-query-first"
SOURCE = "binary-code attention with a query-broadcast head (Zoology / Jelassi mechanisms); reconstructed"

FLAGS = ("is_key", "is_value", "is_query0")


def check_format(config: ARConfig) -> None:
    if not isinstance(config, ARConfig):
        raise InfeasibleTaskError(f"the query-first attention construction needs an ARConfig, got {type(config).__name__}")
    if config.query != "first" or config.key_length != 1:
        raise InfeasibleTaskError(
            f"the query-first attention construction needs query='first' and key_length=1, got {config.query!r}, {config.key_length}")


def stream_layout(m: int, b: int) -> Layout:
    return Layout.of(key=m, value=b, query0=m, is_key=1, is_value=1, is_query0=1, prev_key=m, query=m, answer=b)


@injectable(NAME)
def build(config: ARConfig, *, dtype=torch.float64, device=None) -> Construction:
    check_format(config)
    m, b = code_bits(config.num_keys), code_bits(config.num_values)
    kw = dict(dtype=dtype, device=device)
    vocab = config.vocabulary()
    embedding = BinaryEmbedding(vocab, flags=["key", "value", "query0"], **kw)
    stream = stream_layout(m, b)
    if stream.blocks[: len(embedding.layout.blocks)] != embedding.layout.blocks:
        raise AssertionError(f"embedding layout {embedding.layout} is not a prefix of the stream {stream}")
    code, bits, one, score = Layout.of(c=m), Layout.of(v=b), Layout.of(s=1), Layout.of(c=m, bonus=1)
    none = torch.zeros(1, stream.width, **kw)
    constant = [("s", flag, 1) for flag in FLAGS]  # 1 on every token

    previous = Head(none, none, matrix(stream, code, sign_code("key", "is_key", "c", m), **kw),
                    matrix(code, stream, [("prev_key", "c", 1)], **kw), kind="hardmax", lag=1)
    broadcast = Head(matrix(stream, one, constant, **kw), matrix(stream, one, [("s", "is_query0", 1)], **kw),
                     matrix(stream, code, sign_code("query0", "is_query0", "c", m), **kw),
                     matrix(code, stream, [("query", "c", 1)], **kw), kind="hardmax")
    recall = Head(
        matrix(stream, score, [("c", "query", 1), *[("bonus", flag, BONUS) for flag in FLAGS]], **kw),
        matrix(stream, score, [("c", "prev_key", 1), ("bonus", "is_value", 1)], **kw),
        matrix(stream, bits, [("v", "value", 1)], **kw),
        matrix(bits, stream, [("answer", "v", 1)], **kw),
        kind="hardmax",
    )
    readout = FNN([(matrix(stream, bits, [("v", "answer", 1)], **kw), torch.zeros(b, **kw))], origin="transformer.readout")
    network = Transformer(embedding, stream.width, [Block([previous, broadcast]), Block([recall])], readout)
    return Construction(NAME, network, config, BinaryCode(vocab.offset("value"), b), config.answer_positions(),
                        lambda tokens: reference_answers(config, tokens), SOURCE)


def closed_form() -> dict[str, sp.Expr]:
    """Resources in terms of the numbers of keys ``K`` and values ``V`` (independent of N)."""
    K, V = sp.symbols("K V", positive=True, integer=True)
    m = sp.Max(1, sp.ceiling(sp.log(K, 2)))
    b = sp.Max(1, sp.ceiling(sp.log(V, 2)))
    return {
        "num_layers": sp.Integer(2),
        "heads": sp.Integer(3),
        "d_model": 4 * m + 2 * b + 3,
        "head_width": m + 1,
        "mlp_depth": sp.Integer(0),
        "mlp_width": sp.Integer(0),
        "parameters": 8 * m + 3 * b + 9,
        "weight_bound": sp.Integer(2),
        "weight_bits": sp.Integer(3),
    }


def mutations(config: ARConfig):
    """Single-weight changes that break the construction on some instances only."""
    from ..mutation import Mutation

    check_format(config)
    m, b = code_bits(config.num_keys), code_bits(config.num_values)
    stream = stream_layout(m, b)
    return [
        Mutation("query bit 0 is not broadcast", "blocks.0.heads.1.W_O", (stream["query"].start, 0), 0.0),
        Mutation("key bit 0 is not copied onto the value position", "blocks.0.heads.0.W_O", (stream["prev_key"].start, 0), 0.0),
        Mutation("the highest value bit is never read", "blocks.1.heads.0.W_V", (b - 1, stream["value"].start + b - 1), 0.0),
    ]
