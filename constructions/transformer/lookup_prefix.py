"""A depth-3 Transformer for prefix n-gram lookup (Jelassi et al. 2024's lookup task, the query n-gram first).

Claim (``transformer.lookup-prefix``, reconstructed): for the format
:class:`~constructions.tasks.ngram_lookup.NgramLookupConfig` with ``key="prefix"`` (``BOS g SEP s SEP a EOS``,
``D`` symbols, n-grams of ``n``, answers of ``A``), the network with hardmax heads predicts every answer
token exactly (``a_1..a_A`` from the second SEP on, then EOS) on every instance whose continuation is
unambiguous (:func:`~constructions.tasks.ngram_lookup.continuation_ambiguous` false: every n-gram ``w_j``
read during the answer has one follower in ``s``). Like the suffix counterpart it may also answer ambiguous
instances (ties go to the earliest match), so its failures are a subset of the ambiguous instances.

Why a third layer: the query ``g`` sits *before* the string, so ``k < n`` tokens after the second SEP
the local n-gram ``(START, a_1..a_k)`` lacks its first ``n - k`` symbols ``g_k..g_{n-1}``; the copier
(:mod:`.copy_jelassi`) would match the string's start instead. Heads see no absolute positions, and a
head can find the first SEP (the earliest SEP) but not the tokens of ``g``; so ``g`` is broadcast
from the first SEP's key slots (layer 2) and composed into the query before the match (layer 3).

Mechanism (+-1 codes of ``m = ceil(log2(D + 3))`` bits, as in the copier):

* layer 1: the copier's layer 1 unchanged (heads at lags ``1..n``, the slot MLP writing the query
  n-gram ``q`` = ``x_{t-n+1..t}`` and the key n-gram ``k`` = ``x_{t-n..t-1}``, both cut at their latest
  BOS/SEP, and the value ``x_t``); one more head at lag ``A`` copies the SEP flag into ``end`` (1 at
  the last answer position: the second SEP is ``A`` back);
* layer 2: a *broadcast* head (query: the constant channel ``one``; key: the SEP flag; hardmax takes
  the earliest of the tied SEPs, the first) copies that SEP's key slots, which hold ``g``, into ``g``
  slots at every later position; an MLP composes the query: with the START (the second SEP) at lag
  ``k <= n - 1 - i`` (flag ``start_k``),
  ``cq_i = relu(q_i - 2 c_i) - relu(-q_i - 2 c_i) + sum_k [relu(g_{i+k} + 2 start_k - 2) - relu(-g_{i+k} + 2 start_k - 2)]``
  with ``c_i = sum_{k <= n-1-i} start_k``: at an answer position at most one ``start_k`` is 1, so
  ``cq = (g_k..g_{n-1}, a_1..a_k)``, the n-gram ``w_k`` of the answer so far;
* layer 3: one head matching ``cq`` against the key slots and copying the value: score
  ``beta (<cq_t, k_s> - 2 START_s)``: ``n m`` for the matching n-gram in ``s`` (its follower is the
  answer), at most ``n m - 2`` otherwise; the ``-2 START_s`` keeps the first SEP (whose key is ``g``
  and whose value is SEP) from being the earliest match. Its MLP forces EOS at ``end`` as in
  :mod:`.lookup_suffix`.

Resources (:func:`closed_form`, checked against the built tensors): 3 layers, ``n + 3`` heads,
``d_model`` of the copier plus ``2 n m + m + 3`` (the ``g`` and ``cq`` slots, the final code, the SEP
flag, ``one``, ``end``); the compose MLP has width ``n m (n + 3)``: ``O(n^2 log D)``, independent of ``L``.

Source: Jelassi, Brandfonbrener, Kakade, Malach 2024 (the prefix lookup task of §4; the copier's
mechanism of Theorem 2.3); the broadcast, the composed query and the end flag are ours
(reconstructed: Jelassi et al. state no Transformer construction for this task).
"""

from __future__ import annotations

import torch

from ..construction import Construction, SignCode
from ..embedding import TableEmbedding, code_bits
from ..errors import UnknownOptionError
from ..fnn import FNN
from ..layout import AffineMap, Layout
from ..mutation import injectable
from ..tasks.ngram_lookup import NgramLookupConfig, reference_next_tokens
from .copy_jelassi import _codes, _slot_mlp, _stack
from .lookup_suffix import EOS_CLASS, _end_forces_eos
from .model import Block, Head, Transformer

NAME = "jelassi-prefix-transformer"
SOURCE = "Jelassi et al. 2024 prefix lookup task, the copier of Theorem 2.3 with a broadcast query (reconstructed)"


def stream_layout(D: int, n: int) -> Layout:
    m = code_bits(D + 3)
    lag_blocks = [(f"{part}{l}", w) for l in range(1, n + 1) for part, w in (("code", m), ("start", 1))]
    slots = [(f"q{i}", m) for i in range(n)] + [(f"k{i}", m) for i in range(n)]
    return Layout((("code0", m), ("start0", 1), ("bos0", 1), ("sep0", 1), ("one", 1), *lag_blocks, *slots, ("value", m),
                   ("end", 1), *[(f"g{i}", m) for i in range(n)], *[(f"cq{i}", m) for i in range(n)], ("out", m), ("final", m)))


@injectable(NAME)
def build(config: NgramLookupConfig, *, kind: str = "hardmax", beta: float = 8.0, dtype=torch.float64, device=None) -> Construction:
    if config.key != "prefix":
        raise UnknownOptionError(f"{NAME} answers the prefix key (BOS g SEP s SEP a EOS), got key={config.key!r}")
    D, n, A = config.alphabet, config.ngram, config.answer_length
    kw = dict(dtype=dtype, device=device)
    m = code_bits(D + 3)
    token_class = torch.tensor([*range(2, D + 2), 1, 1, D + 2])  # symbols, BOS, SEP, EOS
    codes = _codes(D + 3, m, **kw)
    flag = lambda *on: torch.tensor([0.0] * D + list(on), **kw).unsqueeze(1)  # noqa: E731  (BOS, SEP, EOS)
    table = torch.cat([codes[token_class], flag(1, 1, 0), flag(1, 0, 0), flag(0, 1, 0), torch.ones(D + 3, 1, **kw)], dim=1)
    stream = stream_layout(D, n)
    embedding = TableEmbedding(config.vocabulary(), table, Layout.of(code0=m, start0=1, bos0=1, sep0=1, one=1))

    def head(pairs: list[tuple[str, str, int]], *, lag: int | None = None, query: str | None = None, key: str | None = None) -> Head:
        """A hardmax head copying stream blocks ``source -> target`` (width ``w``): at exactly ``lag`` back,
        or at the earliest position where the 1-wide block ``key`` is largest (``query`` constant)."""
        inner = Layout(tuple((f"c{i}", w) for i, (_, _, w) in enumerate(pairs)))
        V, O = AffineMap(stream, inner, **kw), AffineMap(inner, stream, **kw)
        for i, (source, target, _) in enumerate(pairs):
            V.connect(f"c{i}", source, 1)
            O.connect(target, f"c{i}", 1)
        read = lambda block: torch.zeros(1, stream.width, **kw) if block is None else _stack(stream, Layout.of(x=1), [block], 1, **kw)  # noqa: E731
        return Head(read(query), read(key), V.build(sparse=False)[0], O.build(sparse=False)[0], kind="hardmax", lag=lag)

    heads1 = [head([("code0", f"code{l}", m), ("start0", f"start{l}", 1)], lag=l) for l in range(1, n + 1)]
    heads1.append(head([("sep0", "end", 1)], lag=A))
    query = {f"q{i}": n - 1 - i for i in range(n)}
    key = {f"k{i}": n - i for i in range(n)}
    broadcast = head([(f"k{i}", f"g{i}", m) for i in range(n)], query="one", key="sep0")
    match = Head(*_match_query_key(stream, n, m, **kw), *_value_out(stream, m, **kw), kind=kind, scale=beta)
    readout = FNN([(_stack(stream, Layout.of(o=m), ["final"], m, **kw), torch.zeros(m, **kw))], origin="transformer.readout")
    network = Transformer(embedding, stream.width, [
        Block(heads1, _slot_mlp(stream, m, query, key, codes[0], **kw)),
        Block([broadcast], _compose_query(stream, n, m, **kw)),
        Block([match], _end_forces_eos(stream, m, codes[EOS_CLASS], **kw))], readout)
    classes = {a: a + 2 for a in range(D)} | {config.eos: EOS_CLASS}
    decoded = tuple([-1, config.eos] + list(range(D)) + [-1] * (2**m - D - 2))
    return Construction(NAME, network, config, SignCode(m, classes, decoded), config.answer_positions(),
                        lambda tokens: reference_next_tokens(config, tokens), SOURCE, notes={"ngram": n, "kind": kind, "beta": beta})


def _match_query_key(stream: Layout, n: int, m: int, **kw) -> tuple[torch.Tensor, torch.Tensor]:
    """``W_Q``, ``W_K`` of the match: ``<cq_t, k_s>`` plus ``one_t * (-2 START_s)``."""
    W_Q = torch.cat([_stack(stream, Layout.of(x=n * m), [f"cq{i}" for i in range(n)], m, **kw),
                     _stack(stream, Layout.of(x=1), ["one"], 1, **kw)])
    W_K = torch.cat([_stack(stream, Layout.of(x=n * m), [f"k{i}" for i in range(n)], m, **kw),
                     -2 * _stack(stream, Layout.of(x=1), ["start0"], 1, **kw)])
    return W_Q, W_K


def _value_out(stream: Layout, m: int, **kw) -> tuple[torch.Tensor, torch.Tensor]:
    v = Layout.of(v=m)
    return (AffineMap(stream, v, **kw).connect("v", "value", 1).build(sparse=False)[0],
            AffineMap(v, stream, **kw).connect("out", "v", 1).build(sparse=False)[0])


def _compose_query(stream: Layout, n: int, m: int, **kw) -> FNN:
    """``cq_i``: the query slot ``q_i`` where no START is at a lag ``<= n - 1 - i``, else ``g_{i+k}`` for the
    START at lag ``k`` (module docstring). Inputs are +-1 codes and {0, 1} flags; one hidden layer."""
    start = lambda k: "start0" if k == 0 else f"start{k}"  # noqa: E731
    terms = [(i, k) for i in range(n) for k in range(n - i)]
    hidden = Layout((*[(f"p{i}", m) for i in range(n)], *[(f"n{i}", m) for i in range(n)],
                     *[(f"u{i}_{k}", m) for i, k in terms], *[(f"v{i}_{k}", m) for i, k in terms]))
    H = AffineMap(stream, hidden, **kw)
    twos = -2 * torch.ones(m, 1, **kw)
    for i in range(n):
        H.connect(f"p{i}", f"q{i}", 1).connect(f"n{i}", f"q{i}", -1)
        for k in range(n - i):
            H.connect(f"p{i}", start(k), twos).connect(f"n{i}", start(k), twos)
    for i, k in terms:
        H.connect(f"u{i}_{k}", f"g{i + k}", 1).connect(f"u{i}_{k}", start(k), -twos).add_bias(f"u{i}_{k}", -2)
        H.connect(f"v{i}_{k}", f"g{i + k}", -1).connect(f"v{i}_{k}", start(k), -twos).add_bias(f"v{i}_{k}", -2)
    O = AffineMap(hidden, stream, **kw)
    for i in range(n):
        O.connect(f"cq{i}", f"p{i}", 1).connect(f"cq{i}", f"n{i}", -1)
    for i, k in terms:
        O.connect(f"cq{i}", f"u{i}_{k}", 1).connect(f"cq{i}", f"v{i}_{k}", -1)
    return FNN.from_maps(H, O, origin="transformer.lookup_compose_query")


def closed_form() -> dict:
    """Shape resources in terms of the alphabet size ``D`` and ``n`` (nothing depends on ``L`` or ``A``
    but the end head's lag): 3 layers, ``n + 3`` heads, the copier's ``d_model`` plus ``2 n m + m + 3``;
    the widest MLP layer is the copier's slot MLP, the compose MLP's ``n m (n + 3)`` or ``d_model``."""
    import sympy as sp

    from .copy_jelassi import closed_form as copier

    D, n = sp.symbols("D n", positive=True, integer=True)
    m = sp.Max(1, sp.ceiling(sp.log(D + 3, 2)))
    d_model = copier()["d_model"] + 2 * n * m + m + 3
    return {
        "num_layers": sp.Integer(3),
        "heads": n + 3,
        "d_model": d_model,
        "mlp_depth": sp.Integer(3),
        "mlp_width": sp.Max(d_model, 2 * m * (n + 1) + 2 * n, 4 * n * m + 2 * n + 2 * m, n * m * (n + 3)),
    }


def mutations(config: NgramLookupConfig):
    """Single-weight changes that break the construction on some unambiguous instances."""
    from ..mutation import Mutation

    stream = stream_layout(config.alphabet, config.ngram)
    m, n = code_bits(config.alphabet + 3), config.ngram
    return [
        Mutation("the value's lowest bit is read negated", "blocks.2.heads.0.W_V", (0, stream["value"].start), -1.0),
        Mutation("the broadcast copies g's first symbol with its lowest bit negated", "blocks.1.heads.0.W_V",
                 (0, stream["k0"].start), -1.0),
        Mutation("the match no longer penalises START keys (the first SEP, key g, value SEP, wins)", "blocks.2.heads.0.W_K",
                 (n * m, stream["start0"].start), 0.0),
        Mutation("the final MLP never writes the EOS code (its end unit ignores the end flag)", "blocks.2.mlp.weights.0",
                 (2 * m, stream["end"].start), 0.0),
    ]


def fault_example():
    return (NgramLookupConfig(3, 8, 2, 2, "prefix"),)
