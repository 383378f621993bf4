"""n-gram lookup, suffix and prefix key (Jelassi et al. 2024's lookup tasks), SSM+FNN.

Claims (``lookup.suffix.exact``, ``lookup.prefix.exact``, reconstructed): for the format
:class:`~constructions.tasks.ngram_lookup.NgramLookupConfig` (``D`` symbols, strings of ``L``, n-grams of
``n``, answers of ``A`` symbols), the network predicts every answer token exactly, i.e.

    out_t = e_{a_{j+1}}  at the j-th answer position (j = 0..A-1),   out_t = e_EOS  at the last,

for every instance whose continuation is unambiguous: with ``i`` the first occurrence of ``g`` in ``s``,
every n-gram ``w_j = s[i+j .. i+j+n-1]`` (``j < A``) is followed by ``s[i+j+n]`` wherever it occurs in ``s``
(the end of ``s`` is a follower too). It errs on every other instance
(:func:`~constructions.tasks.ngram_lookup.continuation_ambiguous`). Strings without a repeated n-gram
satisfy the condition for every ``g``.

Input format (suffix): ``BOS s SEP g a EOS``; (prefix): ``BOS g SEP s SEP a EOS``.

Mechanism (the n-gram copier's, :mod:`constructions.copying.ngram`, through the feature memory of
:mod:`constructions.selection`):

* **Layer 1** (shifts ``0..n``; an end flag: SEP delayed to the last answer position, lag ``n + A``
  (suffix) or ``A`` (prefix); prefix only: BOS delayed by ``n + 1``) and an FNN: the one-hot query
  n-gram ``x_{t-n+1..t}`` and key n-gram ``x_{t-n..t-1}`` with value ``x_t``, both cut at their latest
  BOS/SEP; one memory cell per (key, value) written. *Prefix*: at the first SEP (SEP with BOS at lag
  ``n + 1``) the key slots hold ``g``; they are written once into a *query memory* of ``n (D + 2)``
  channels, and that SEP writes no memory cell (its key is ``g``, its value no symbol).
* **Layer 2**: prefix sums of both memories. *Suffix*: the query is the local n-gram (at the last
  token of ``g`` it is ``g``, then the n-grams of the answer). *Prefix*: ``k`` tokens after the second
  SEP (``k < n``) the local query has START in slot ``n - 1 - k`` and PAD before it; the FNN fills slot
  ``i <= n - 1 - k`` with ``g_{i + k}`` from the broadcast ``g``:
  ``q_i[a] = sym_i[a] + sum_{i' >= i} relu(q_{i'}[START] + G_{i + n - 1 - i'}[a] - 1)``.
  Read-out ``min(M, 1)`` of the query's cells (a copied pair is written twice), then the end flag
  forces EOS: ``out_a = relu(r_a - end)``, ``out_EOS = relu(r_EOS + end) - relu(r_EOS + end - 1)``.

Resources (measured): 2 SSM layers (windows ``n + A + 1`` suffix, ``max(n + 2, A + 1)`` prefix, and
infinite), memory ``(D + 2)^n (D + 1)`` cells as in the copier, ``n (D + 2)`` more prefix-sum channels
for the prefix key; weights in {0, +-1}, biases in {0, +-1, .., -n}.

Source: Jelassi, Brandfonbrener, Kakade, Malach 2024 (the lookup tasks of §4, the n-gram mechanism of
Theorem 2.3), cast as SSM+FNN; the prefix query broadcast as in PAPER.md §4 G3; reconstructed.
"""

from __future__ import annotations

import torch

from ..construction import Construction, OneHotCode
from ..copying.ngram import _slot_encoder
from ..embedding import OneHotEmbedding
from ..fnn import FNN
from ..layout import AffineMap, Layout
from ..mutation import injectable
from ..network import SSMNetwork
from .. import selection  # looked up at build time, as the copier does
from ..ssm import SSMBank, accumulator, shifts
from ..tasks.ngram_lookup import NgramLookupConfig, reference_next_tokens

NAME = "suffix-prefix-lookup"  # ("ngram-lookup" is the n-gram copier)
SOURCE = "Jelassi et al. 2024 lookup tasks, n-gram mechanism as SSM+FNN (PAPER.md §4 G3/G4); reconstructed"
START = 1  # slot one-hot: PAD 0, START 1, symbols 2..


@injectable(NAME)
def build(config: NgramLookupConfig, *, dtype=torch.float64, device=None) -> Construction:
    D, n, A, prefix = config.alphabet, config.ngram, config.answer_length, config.key == "prefix"
    kw = dict(dtype=dtype, device=device)
    vocab = config.vocabulary()
    embedding = OneHotEmbedding(vocab, **kw)
    extra = [("end", "sep", n + A if not prefix else A)] + ([("bos_far", "bos", n + 1)] if prefix else [])
    lags = Layout((*[(f"lag{l}_{part}", size) for l in range(n + 1) for part, size in vocab.segments], *[(e, 1) for e, _, _ in extra]))
    route = AffineMap(embedding.layout, lags, **kw)
    for l in range(n + 1):
        for part, _ in vocab.segments:
            route.connect(f"lag{l}_{part}", part, 1)
    for name, part, _ in extra:
        route.connect(name, part, 1)
    ssm1 = shifts([l for l in range(n + 1) for _ in range(vocab.size)] + [lag for _, _, lag in extra], **kw)

    carry = tuple(e for e, _, _ in extra)
    slots = _slot_encoder(D, n, lags, carry=carry, **kw)
    query, key = [f"q{i}" for i in range(n)], [f"k{i}" for i in range(n)]
    if prefix:
        slots = slots.then(_first_sep_gate(slots.layouts[-1], D, n, **kw))
    broadcast = [f"g{i}" for i in range(n)] if prefix else []
    write = selection.memory_write_fnn(slots.layouts[-1], key, "value", carry=[*query, *broadcast, "end"], **kw)
    fnn1 = slots.then(write)
    cells = (D + 2) ** n * (D + 1)
    groups = [accumulator(cells, **kw), shifts([0] * (n * (D + 2)), **kw)]
    if prefix:
        groups.append(accumulator(n * (D + 2), **kw))
    groups.append(shifts([0], **kw))
    ssm2 = SSMBank(groups)

    stored = write.layouts[-1]
    reader = selection.memory_read_fnn
    if prefix:
        compose = _compose_query(stored, D, n, **kw)
        read = reader(compose.layouts[-1], "memory", query, D + 1, clip_counts=True, carry=["end"], **kw)
        fnn2 = compose.then(read)
    else:
        fnn2 = reader(stored, "memory", query, D + 1, clip_counts=True, carry=["end"], **kw)
    fnn2 = fnn2.then(_end_forces_eos(fnn2.layouts[-1], D, **kw))
    network = SSMNetwork(embedding, [(ssm1, fnn1), (ssm2, fnn2)], pre_fnn=FNN.from_maps(route))
    return Construction(NAME, network, config, OneHotCode((*range(D), config.eos)), config.answer_positions(),
                        lambda tokens: reference_next_tokens(config, tokens), SOURCE, notes={"ngram": n, "key": config.key})


def _first_sep_gate(source: Layout, D: int, n: int, **kw) -> FNN:
    """Prefix key: ``first = relu(SEP_0 + BOS_{n+1} - 1)``; the key slots gated by it become the query
    memory's input ``g_i = relu(k_i + first - 1)``; the value's SEP channel is dropped there."""
    keys = [f"k{i}" for i in range(n)]
    passed = [b for b in source.names if b not in ("value", "bos_far")]
    h1 = Layout((*[(b, source.size(b)) for b in passed], ("value", D + 1), ("first", 1)))
    P = AffineMap(source, h1, **kw)
    for b in passed:
        P.connect(b, b, 1)
    P.connect("value", "value", 1).connect("value", "bos_far", -torch.eye(D + 1, **kw)[:, D:])  # SEP - first_sep_flag
    P.connect("first", "value", torch.eye(D + 1, **kw)[D:]).connect("first", "bos_far", 1).add_bias("first", -1)
    out = Layout((*[(b, source.size(b)) for b in passed], ("value", D + 1), *[(f"g{i}", D + 2) for i in range(n)]))
    G = AffineMap(h1, out, **kw)
    for b in (*passed, "value"):
        G.connect(b, b, 1)
    for i, k in enumerate(keys):
        G.connect(f"g{i}", k, 1).connect(f"g{i}", "first", torch.ones(D + 2, 1, **kw)).add_bias(f"g{i}", -1)
    return FNN.from_maps(P, G, origin="lookup.first_sep_gate")


def _compose_query(source: Layout, D: int, n: int, **kw) -> FNN:
    """Prefix key: the query slots ``q_i`` with their cut part filled from the broadcast ``g`` (module
    docstring); symbols only (PAD and START channels 0)."""
    terms = [(i, j) for i in range(n) for j in range(i, n)]  # slot i, START in slot j: g_{i + n - 1 - j}
    cells = source.size("memory")
    hidden = Layout((*[(f"sym{i}", D) for i in range(n)], *[(f"t{i}_{j}", D) for i, j in terms], ("end", 1), ("memory", cells)))
    H = AffineMap(source, hidden, **kw)
    sym = torch.eye(D + 2, **kw)[2:]  # (D, D + 2): the symbol channels of a slot
    start = torch.zeros(D, D + 2, **kw)
    start[:, START] = 1
    for i in range(n):
        H.connect(f"sym{i}", f"q{i}", sym)
    for i, j in terms:
        H.connect(f"t{i}_{j}", f"g{i + n - 1 - j}", sym).connect(f"t{i}_{j}", f"q{j}", start).add_bias(f"t{i}_{j}", -1)
    H.connect("end", "end", 1).connect("memory", "memory", 1)  # the memory is non-negative: it passes the ReLU
    out = Layout((("memory", cells), *[(f"q{i}", D + 2) for i in range(n)], ("end", 1)))
    O = AffineMap(hidden, out, **kw)
    for i in range(n):
        O.connect(f"q{i}", f"sym{i}", sym.T)
        for j in range(i, n):
            O.connect(f"q{i}", f"t{i}_{j}", sym.T)
    O.connect("end", "end", 1).connect("memory", "memory", 1)
    return FNN.from_maps(H, O, origin="lookup.compose_query")


def _end_forces_eos(source: Layout, D: int, **kw) -> FNN:
    """``out_a = relu(r_a - end)`` for symbols, ``out_EOS = relu(r_EOS + end) - relu(r_EOS + end - 1)``."""
    hidden = Layout.of(sym=D, eos=1, over=1)
    H = AffineMap(source, hidden, **kw)
    H.connect("sym", "answer", torch.eye(D + 1, **kw)[:D]).connect("sym", "end", -torch.ones(D, 1, **kw))
    H.connect("eos", "answer", torch.eye(D + 1, **kw)[D:]).connect("eos", "end", 1)
    H.connect("over", "answer", torch.eye(D + 1, **kw)[D:]).connect("over", "end", 1).add_bias("over", -1)
    out = Layout.of(answer=D + 1)
    O = AffineMap(hidden, out, **kw)
    O.connect("answer", "sym", torch.eye(D + 1, **kw)[:, :D]).connect("answer", "eos", torch.eye(D + 1, **kw)[:, D:])
    O.connect("answer", "over", -torch.eye(D + 1, **kw)[:, D:])
    return FNN.from_maps(H, O, origin="lookup.end_forces_eos")


def mutations(config: NgramLookupConfig):
    """Single-weight changes that break the construction on some instances only (``D >= 2``)."""
    from ..mutation import Mutation

    D, n = config.alphabet, config.ngram
    vocab = config.vocabulary()
    end_row = (n + 1) * vocab.size  # the end flag's channel after the lag blocks
    zeros_then_1 = sum(2 * (D + 2) ** k for k in range(n)) * (D + 1) + 1  # cell (key 0^n, value symbol 1)
    write = 4 if config.key == "prefix" else 3
    return [
        Mutation("the end flag never reads SEP (EOS only where the answer reaches the end of s)", "pre_fnn.weights.0",
                 (end_row, vocab.offset("sep")), 0.0),
        Mutation("the memory gate of (0^n -> symbol 1) is always open", f"blocks.0.fnn.biases.{write}", (zeros_then_1,), 0.0),
    ]


def fault_example():
    return (NgramLookupConfig(3, 8, 2, 2),)
