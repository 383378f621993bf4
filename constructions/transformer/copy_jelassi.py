"""A depth-2 Transformer that copies by n-gram lookup (Jelassi et al. 2024, Theorem 2.3).

Claim (``transformer.copy-jelassi-2.3``, related): a depth-2 Transformer with "hard ALiBi" heads
and width ``O(n log D)`` copies every string without a repeated n-gram; on the uniform
distribution its error is below ``P(repeated n-gram) < L^2 D^{-n}`` (for ``2n <= L <= D^n``).

Format: :mod:`constructions.tasks.copying` (``BOS s SEP s EOS``, next-token predictions).

Mechanism (same n-grams as the SSM copier :mod:`constructions.copying.ngram`, in +-1 codes):

* token classes: PAD 0, START 1 (BOS and SEP), symbol ``a`` -> ``a + 2``, EOS -> ``D + 2``; each
  token is embedded as the +-1 code of its class (``m = ceil(log2(D + 3))`` bits) and a START flag.
* layer 1: heads ``l = 1..n`` attend exactly ``l`` back (hard ALiBi; the first token while
  ``t < l``) and copy code and flag; the MLP cuts both n-grams at their latest START (older slots
  become the PAD code; at BOS, flagged in the embedding, the whole key is PAD, since every lag
  there lies before the sequence) and writes the query slots (lags ``n-1..0``), the key slots
  (lags ``n..1``) and the value (the current token's code).
* layer 2: one head with query = query slots, key = key slots, value = value, score
  ``beta <q_t, k_s>``: ``n m`` for the matching n-gram, at most ``n m - 2`` otherwise. With
  ``hardmax`` the copy is exact; with ``softmax`` the output is within ``(L-1) e^{-2 beta} 2 sqrt(m)``.

Resources: 2 layers, ``n + 1`` heads, ``d_model = (n + 1)(m + 1) + 1 + (2n + 2) m``: ``O(n log D)``.

Source: Jelassi, Brandfonbrener, Kakade, Malach 2024, Theorem 2.3 (mechanism of its proof);
weights written out here (related).
"""

from __future__ import annotations

import torch

from ..construction import Construction, SignCode
from ..embedding import TableEmbedding, code_bits
from ..errors import require_positive_int
from ..fnn import FNN
from ..layout import AffineMap, Layout
from ..mutation import injectable
from ..tasks.copying import CopyConfig, reference_next_tokens
from .model import Block, Head, Transformer

NAME = "jelassi-transformer"
SOURCE = "Jelassi et al. 2024, Theorem 2.3 (related)"


def _codes(classes: int, bits: int, **kw) -> torch.Tensor:
    """``(classes, bits)`` +-1 codes of the class indices."""
    c = torch.arange(classes).unsqueeze(1) >> torch.arange(bits)
    return (2 * (c & 1) - 1).to(**kw)


@injectable(NAME)
def build(config: CopyConfig, n: int = 2, *, kind: str = "hardmax", beta: float = 8.0, dtype=torch.float64, device=None) -> Construction:
    require_positive_int("n", n)
    D = config.alphabet
    kw = dict(dtype=dtype, device=device)
    m = code_bits(D + 3)
    vocab = config.vocabulary()
    token_class = torch.tensor([*range(2, D + 2), 1, 1, D + 2])  # symbols, BOS, SEP, EOS
    codes = _codes(D + 3, m, **kw)
    start_flag = torch.tensor([0.0] * D + [1.0, 1.0, 0.0], **kw).unsqueeze(1)
    bos_flag = torch.tensor([0.0] * D + [1.0, 0.0, 0.0], **kw).unsqueeze(1)
    table = torch.cat([codes[token_class], start_flag, bos_flag], dim=1)
    embedding = TableEmbedding(vocab, table, Layout.of(code0=m, start0=1, bos0=1))

    query = {f"q{i}": n - 1 - i for i in range(n)}  # slot -> lag
    key = {f"k{i}": n - i for i in range(n)}
    lag_blocks = [(f"{part}{l}", w) for l in range(1, n + 1) for part, w in (("code", m), ("start", 1))]
    stream = Layout((("code0", m), ("start0", 1), ("bos0", 1), *lag_blocks, *[(s, m) for s in (*query, *key)], ("value", m), ("out", m)))

    def select(target: Layout, pairs) -> torch.Tensor:
        a = AffineMap(stream, target, **kw) if target is not stream else None
        for t, s in pairs:
            a.connect(t, s, 1)
        return a.build(sparse=False)[0]

    # layer 1: head l copies (code0, start0) from exactly l back into (code_l, start_l)
    token = Layout.of(code=m, start=1)
    heads1 = []
    for l in range(1, n + 1):
        W_V = select(token, [("code", "code0"), ("start", "start0")])
        W_O = AffineMap(token, stream, **kw).connect(f"code{l}", "code", 1).connect(f"start{l}", "start", 1).build(sparse=False)[0]
        none = torch.zeros(1, stream.width, **kw)
        heads1.append(Head(none, none, W_V, W_O, kind="hardmax", lag=l))

    mlp = _slot_mlp(stream, m, query, key, codes[0], **kw)
    slots = Layout.of(x=n * m)
    qk = lambda names: AffineMap(stream, slots, **kw).connect("x", None, 0) if False else _stack(stream, slots, names, m, **kw)  # noqa: E731
    W_V2 = select(Layout.of(v=m), [("v", "value")])
    W_O2 = AffineMap(Layout.of(v=m), stream, **kw).connect("out", "v", 1).build(sparse=False)[0]
    match = Head(qk(list(query)), qk(list(key)), W_V2, W_O2, kind=kind, scale=beta)
    readout = FNN([(select(Layout.of(o=m), [("o", "out")]), torch.zeros(m, **kw))], origin="transformer.readout")
    network = Transformer(embedding, stream.width, [Block(heads1, mlp), Block([match])], readout)
    classes = {a: a + 2 for a in range(D)} | {config.eos: 1}
    decoded = tuple([-1, config.eos] + list(range(D)) + [-1] * (2**m - D - 2))
    return Construction(NAME, network, config, SignCode(m, classes, decoded), config.answer_positions(),
                        lambda tokens: reference_next_tokens(config, tokens), SOURCE, notes={"ngram": n, "kind": kind, "beta": beta})


def _stack(stream: Layout, slots: Layout, names, m, **kw) -> torch.Tensor:
    """The ``(n m, d_model)`` matrix reading the slot blocks ``names`` in order."""
    W = torch.zeros(slots.width, stream.width, **kw)
    for i, name in enumerate(names):
        W[i * m : (i + 1) * m, stream[name]] = torch.eye(m, **kw)
    return W


def _slot_mlp(stream: Layout, m: int, query: dict, key: dict, pad_code: torch.Tensor, **kw) -> FNN:
    """Writes the cut slots and the value (see the module docstring). Depth 3, width O(n m)."""
    slots = {**query, **key}
    newest = {s: 0 for s in query} | {s: 1 for s in key}
    lags = sorted(set(slots.values()) | {0})
    code = lambda l: f"code{l}"  # noqa: E731
    start = lambda l: f"start{l}"  # noqa: E731

    hidden1 = Layout((*[(f"pos{l}", m) for l in lags], *[(f"neg{l}", m) for l in lags], *[(f"keep_{s}", 1) for s in slots]))
    A = AffineMap(stream, hidden1, **kw)
    for l in lags:
        A.connect(f"pos{l}", code(l), 1).connect(f"neg{l}", code(l), -1)
    for s, l in slots.items():
        A.add_bias(f"keep_{s}", 1)
        for newer in range(newest[s], l):
            A.connect(f"keep_{s}", start(newer), -1)
        if s in key:  # at the first token every key lag is before the sequence: all PAD
            A.connect(f"keep_{s}", "bos0", -1)

    hidden2 = Layout((*[(f"{s}_p", m) for s in slots], *[(f"{s}_n", m) for s in slots], *[(f"{s}_keep", 1) for s in slots],
                      ("value_p", m), ("value_n", m)))
    B = AffineMap(hidden1, hidden2, **kw)
    ones = torch.ones(m, **kw)
    for s, l in slots.items():  # kept code bit: relu(c + keep - 1) - relu(-c + keep - 1)
        B.connect(f"{s}_p", f"pos{l}", 1).connect(f"{s}_p", f"neg{l}", -1).connect(f"{s}_p", f"keep_{s}", ones).add_bias(f"{s}_p", -1)
        B.connect(f"{s}_n", f"pos{l}", -1).connect(f"{s}_n", f"neg{l}", 1).connect(f"{s}_n", f"keep_{s}", ones).add_bias(f"{s}_n", -1)
        B.connect(f"{s}_keep", f"keep_{s}", 1)
    B.connect("value_p", "pos0", 1).connect("value_n", "neg0", 1)

    out = AffineMap(hidden2, stream, **kw)
    for s in slots:  # slot = pad (1 - keep) + kept code
        out.connect(s, f"{s}_p", 1).connect(s, f"{s}_n", -1).connect(s, f"{s}_keep", -pad_code).add_bias(s, pad_code)
    out.connect("value", "value_p", 1).connect("value", "value_n", -1)
    return FNN.from_maps(A, B, out, origin="transformer.ngram_slots")


def closed_form() -> dict:
    """Shape resources in terms of the alphabet size ``D`` and the n-gram length ``n`` (nothing
    depends on the string length L but through n): ``d_model`` as above; the slot MLP's hidden widths
    ``2m(n + 1) + 2n`` and ``4nm + 2n + 2m``."""
    import sympy as sp

    D, n = sp.symbols("D n", positive=True, integer=True)
    m = sp.Max(1, sp.ceiling(sp.log(D + 3, 2)))
    d_model = (n + 1) * (m + 1) + 1 + (2 * n + 2) * m
    return {
        "num_layers": sp.Integer(2),
        "heads": n + 1,
        "d_model": d_model,
        "mlp_depth": sp.Integer(3),
        "mlp_width": sp.Max(d_model, 2 * m * (n + 1) + 2 * n, 4 * n * m + 2 * n + 2 * m),
    }


def mutations(config: CopyConfig, n: int = 2):
    from ..mutation import Mutation

    m = code_bits(config.alphabet + 3)
    value_start = m + 2 + n * (m + 1) + 2 * n * m  # code0, start0, bos0, lags, query and key slots
    return [
        Mutation("the value's lowest bit is read negated", "blocks.1.heads.0.W_V", (0, value_start), -1.0),
        Mutation("the matching head ignores the newest query slot's lowest bit", "blocks.1.heads.0.W_Q",
                 ((n - 1) * m, value_start - n * m - m), 0.0),
    ]
