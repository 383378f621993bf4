"""Associative recall, query last, one-hot tokens: the outer-product memory (PAPER.md §4 G2).

Claim (``ar.outer-product.exact``, reconstructed): for every instance of
``ARConfig(num_keys=K, num_values=V, num_pairs=N, num_queries=Q, query="last")``, the network
outputs at each query position exactly the one-hot vector ``e_j`` of the queried value.

Format: ``k_1 v_1 ... k_N v_N q_1 ... q_Q`` (keys and values from disjoint vocabularies).

Mechanism, with ``e_K(x)``, ``e_V(x)`` the key and value parts of the one-hot code of token ``x``::

    pre-FNN (linear)   (e_K, e_V)         -> (e_K, e_K, e_V)            copy the key code
    SSM 1 (window 2)                      -> (e_K(x_{t-1}), e_K(x_t), e_V(x_t))
    FNN 1              Z_ij = relu(e_K(x_{t-1})_i + e_V(x_t)_j - 1)      key (x) value, at value tokens
    SSM 2 (prefix sum) M_ij = sum_{t' <= t} Z_ij(t')                     memory: 1 iff pair (i, j) seen
    FNN 2              out_j = sum_i relu(M_ij + e_K(x_t)_i - 1) = M_{q j} at a query q

Resources (measured; closed forms in :func:`closed_form`): 2 SSM layers, windows 2 and infinite
(a prefix sum), FNN width ``K V + K``, ``11 K V + 12 K + 4 V`` nonzero parameters, weights in {0, 1}
and biases in {0, -1}: the width grows like ``|V|^2`` (claim ``ar.outer-product.polynomial``).

Source: the H3 / MultiHyena outer-product associative memory (Poli et al. 2023; Massaroli et al.
2023), cast in the paper's SSM+FNN class; reconstructed, not the paper's own construction.
"""

from __future__ import annotations

import sympy as sp
import torch

from ..construction import Construction, OneHotCode
from ..embedding import OneHotEmbedding
from ..fnn import FNN
from ..layout import AffineMap, Layout
from ..mutation import injectable
from ..network import SSMNetwork
from .. import selection  # looked up at build time: breaking the shared builder breaks every user
from ..ssm import SSMBank, accumulator, shifts
from ..tasks.associative_recall import ARConfig
from ..tasks.scattered_recall import ScatteredARConfig
from .common import check_query_last, recall_construction

NAME = "outer-product"
SOURCE = "PAPER.md §4 G2 (H3/MultiHyena outer-product memory); reconstructed"


@injectable(NAME)
def build(config: ARConfig | ScatteredARConfig, *, clip_counts: bool = False, dtype=torch.float64, device=None) -> Construction:
    """``clip_counts``: the read-out takes ``min(M, 1)`` (one more FNN layer, :func:`closed_form`), so a
    (key, value) pair written twice (repeated passes, a random filler repeating a pair) counts once;
    without it a count of 2 leaks into every query's answer. Filler tokens (a ``ScatteredARConfig``'s
    filler segment) get no channel beyond the embedding's and write nothing."""
    check_query_last("outer-product", config)
    K, V = config.num_keys, config.num_values
    kw = dict(dtype=dtype, device=device)
    vocab = config.vocabulary()
    embedding = OneHotEmbedding(vocab, **kw)

    routed = Layout.of(prev_key=K, key=K, value=V)
    pre = AffineMap(embedding.layout, routed, **kw)
    pre.connect("prev_key", "key", 1).connect("key", "key", 1).connect("value", "value", 1)

    ssm1 = shifts([1] * K + [0] * (K + V), **kw)  # prev_key <- x_{t-1}; key, value <- x_t

    fnn1 = selection.memory_write_fnn(routed, ["prev_key"], "value", carry=["key"], **kw)  # Z_ij = key_i (x) value_j
    ssm2 = SSMBank([accumulator(K * V, **kw), shifts([0] * K, **kw)])  # memory M; query key passes
    fnn2 = selection.memory_read_fnn(Layout.of(memory=K * V, key=K), "memory", ["key"], V, clip_counts=clip_counts, **kw)

    network = SSMNetwork(embedding, [(ssm1, fnn1), (ssm2, fnn2)], pre_fnn=FNN.from_maps(pre))
    return recall_construction(NAME, network, config, OneHotCode.range(vocab.offset("value"), V), SOURCE)


def closed_form(clip_counts: bool = False) -> dict[str, sp.Expr]:
    """Resource counts as functions of the numbers of keys ``K`` and values ``V`` (N, Q free). With
    ``clip_counts`` the read-out FNN has one more layer, ``unseen = relu(1 - M)`` (``K V`` weights -1 and
    ``K V`` biases +1, the query key passed on: ``K``), and reads ``relu(q - unseen)`` without biases:
    ``K V + K`` more parameters and depth 3; weights still in {0, +-1} (biases in {0, +-1})."""
    K, V = sp.symbols("K V", positive=True, integer=True)
    if clip_counts:
        counts = closed_form()
        extra = K * V + K
        return {**counts, "fnn_depth": sp.Integer(3), "fnn_nonzeros": counts["fnn_nonzeros"] + extra,
                "parameters": counts["parameters"] + extra}
    return {
        "num_layers": sp.Integer(2),
        "window": sp.oo,
        "channels": sp.Max(2 * K + V, K * V + K),
        "fnn_depth": sp.Integer(2),
        "fnn_width": sp.Max(2 * K + V, K * V + K),
        "fnn_nonzeros": (2 * K + V) + (4 * K * V + 2 * K) + 4 * K * V,
        "ssm_nonzeros": 3 * (2 * K + V) + (3 * K * V + 2 * K),
        "shift_structure_nonzeros": 2 * K + V,  # J_2 of every layer-1 channel (window 2)
        "parameters": 11 * K * V + 12 * K + 4 * V,
        "weight_bound": sp.Integer(1),
        "weight_bits": sp.Integer(2),
    }


def mutations(config: ARConfig):
    """Single-weight changes that break the construction on some instances only."""
    from ..mutation import Mutation

    K, V = config.num_keys, config.num_values
    return [
        Mutation("memory gate of pair (key 0, value 0) always open", "blocks.0.fnn.biases.0", (0,), 0.0),
        Mutation("key 0 is not shifted onto its value", "blocks.0.ssm.C", (0, 1), 0.0),
        Mutation("read-out of (last key, last value) ignores the memory", "blocks.1.fnn.weights.0", ((K - 1) * V + V - 1, (K - 1) * V + V - 1), 0.0),
    ]


def growth_faults(config: ARConfig):
    """A change that keeps the network exact but makes its parameters grow like |V|^3 where
    ``ar.outer-product.polynomial`` says |V|^2: |K| |V|^2 dead hidden units in the read-out FNN."""
    from ..mutation import DeadUnits

    count = config.num_keys * config.num_values**2
    return [DeadUnits("|K| |V|^2 dead hidden units in the read-out FNN (exact; parameters grow like |V|^3)", 1, count)]
