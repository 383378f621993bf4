"""Associative recall, query first, binary codes, n-gram keys (PAPER.md §4 G3).

Claim (``ar.query-first.exact``, reconstructed): for every instance of
``ARConfig(num_keys=K, num_values=V, num_pairs=N, key_length=n, query="first")`` the network's
output at the last position is exactly the binary code of the queried value.

Format: ``q^1..q^n  k_1^1..k_1^n v_1  ...  k_N^1..k_N^n v_N``; the query's tokens come from the
query segments (a key written as a question), so a token-wise map can route them.

Mechanism (``m = ceil(log2 K)`` key bits, ``b = ceil(log2 V)`` value bits; all codes 0/1)::

    embedding (fixed binary code)  key bits, value bits, query_j bits, is_value
    pre-FNN (linear)               copy the key bits n times, one copy per key position j
    SSM 1   key_j  <- shift by n - j     the pair's j-th key token lands on its value token
            query_j <- prefix sum        the query's j-th token is broadcast to every later token
            value, is_value <- identity
    FNN 1   selection gadget (constructions.selection): out = value bits if is_value and
            Hamming(query, key) = 0, else 0
    SSM 2   prefix sum                    the one matching value's bits reach the last token
    FNN 2   identity

Resources (measured; closed forms in :func:`closed_form`): 2 SSM layers, windows ``n + 1`` and
infinite, FNN width ``n m + b + 2``, depth 4, ``n^2 m + 13 n m + 13 b + 6`` nonzero parameters,
weights in {0, +-1, +-2}: poly-logarithmic in the vocabulary and independent of N and the length
(claim ``ar.query-first.polylog``). The embedding is a fixed binary code with no parameters.

Source: PAPER.md §4 G3, our reading of "two-layer SSM+FNN mimics key-query attention" (Lemma
3.3); reconstructed, not the paper's own construction.
"""

from __future__ import annotations

import sympy as sp
import torch

from ..construction import BinaryCode, Construction
from ..embedding import BinaryEmbedding, code_bits
from ..errors import InfeasibleTaskError
from ..fnn import FNN
from ..layout import AffineMap, Layout
from ..mutation import injectable
from ..network import SSMNetwork
from ..selection import hamming_select_fnn
from ..ssm import SSMBank, accumulator, shifts
from ..tasks.associative_recall import ARConfig
from .common import recall_construction

NAME = "binary-query-first"
SOURCE = "PAPER.md §4 G3 (key-query matching by Hamming distance); reconstructed"


@injectable(NAME)
def build(config: ARConfig, *, dtype=torch.float64, device=None) -> Construction:
    if config.query != "first":
        raise InfeasibleTaskError(f"the binary query-first construction needs query='first', got {config.query!r}")
    n, m, b = config.key_length, code_bits(config.num_keys), code_bits(config.num_values)
    kw = dict(dtype=dtype, device=device)
    vocab = config.vocabulary()
    embedding = BinaryEmbedding(vocab, flags=["value"], **kw)

    key_blocks = [f"key{j}" for j in range(n)]
    query_blocks = [f"query{j}" for j in range(n)]
    routed = Layout((*[(k, m) for k in key_blocks], *[(q, m) for q in query_blocks], ("value", b), ("is_value", 1)))
    pre = AffineMap(embedding.layout, routed, **kw)
    for key, query in zip(key_blocks, query_blocks):
        pre.connect(key, "key", 1).connect(query, query, 1)
    pre.connect("value", "value", 1).connect("is_value", "is_value", 1)

    ssm1 = SSMBank(
        [
            shifts([n - j for j in range(n) for _ in range(m)], **kw),  # key_j: token j of the pair's key
            accumulator(n * m, **kw),  # query_j broadcast forward
            shifts([0] * (b + 1), **kw),  # value bits and is_value stay
        ]
    )
    fnn1 = hamming_select_fnn(routed, list(zip(query_blocks, key_blocks)), "value", "is_value", **kw)
    ssm2 = accumulator(b, **kw)
    fnn2 = FNN.identity(b, **kw)
    network = SSMNetwork(embedding, [(ssm1, fnn1), (ssm2, fnn2)], pre_fnn=FNN.from_maps(pre))
    return recall_construction(NAME, network, config, BinaryCode(vocab.offset("value"), b), SOURCE)


def closed_form() -> dict[str, sp.Expr]:
    """Resource counts in terms of ``K``, ``V`` and the key length ``n`` (independent of N)."""
    K, V, n = sp.symbols("K V n", positive=True, integer=True)
    m = sp.Max(1, sp.ceiling(sp.log(K, 2)))
    b = sp.Max(1, sp.ceiling(sp.log(V, 2)))
    return {
        "num_layers": sp.Integer(2),
        "window": sp.oo,
        "channels": 2 * n * m + b + 1,
        "fnn_depth": sp.Integer(4),
        "fnn_width": 2 * n * m + b + 1,
        "fnn_nonzeros": (2 * n * m + b + 1) + (6 * n * m + 6 * b + 3) + b,
        "ssm_nonzeros": n * m * (n + 2) + 3 * n * m + 2 * (b + 1) + 3 * b,
        "shift_structure_nonzeros": n**2 * m,  # J_{n+1} of the n m key channels
        "parameters": n**2 * m + 13 * n * m + 13 * b + 6,
        "weight_bound": sp.Integer(2),
        "weight_bits": sp.Integer(3),
    }


def mutations(config: ARConfig):
    """Single-weight changes that break the construction on some instances only."""
    from ..mutation import Mutation

    b = code_bits(config.num_values)
    and_bit0 = 0  # hidden unit and_query0[0] of the selection gadget
    return [
        Mutation("Hamming distance counts an agreement on bit 0 as half a mismatch", "blocks.0.fnn.weights.1", (0, and_bit0), 1.0),
        Mutation("the highest value bit is never summed", "blocks.1.ssm.C", (b - 1, 0), 0.0),
        Mutation("query bit 0 decays instead of being broadcast", "blocks.0.ssm.groups.1.lam", (0, 0), 0.5),
    ]


def growth_faults(config: ARConfig):
    """Changes that keep the network exact but make a resource grow where ``ar.query-first.polylog``
    says it does not: dead hidden units, one per value (parameters linear in |V|), and the query
    broadcast by an explicit window as long as the sequence (parameters linear in N and the length)."""
    from ..mutation import DeadUnits, LongWindow

    return [
        DeadUnits("|V| dead hidden units in the selection FNN (exact; parameters grow linearly in |V|)", 0, config.num_values),
        LongWindow("query broadcast by a window as long as the sequence (exact; parameters grow with N)", 0, 1, config.length),
    ]
