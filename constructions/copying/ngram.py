"""Copying strings of any length by n-gram lookup (Jelassi et al. 2024's mechanism, SSM+FNN).

Claim (``copy.ngram.exact``, reconstructed): for the format ``BOS s SEP s EOS`` over ``D``
symbols and any length, the network predicts every next token exactly on every string ``s`` in
which no n-gram occurs twice; teacher-forced and free-running greedy decoding then agree.

Mechanism (the feature-memory selection of :mod:`constructions.selection`):

* **Layer 1** (SSM with shifts ``0..n``, window ``n + 1``, then an FNN) builds two one-hot
  n-grams at each token ``t``: the *query* ``x_{t-n+1} .. x_t`` and the *key* ``x_{t-n} .. x_{t-1}``
  with its *value* ``x_t``. Both n-grams are cut at their latest start token (BOS or SEP, written
  START): older slots read PAD, and so do slots before the sequence. Thus the query at SEP, and at
  the first copied tokens, equals the key at BOS and the first original tokens.
  Each slot is one-hot over {PAD, START, symbols}; the value over {symbols, SEP}.
* The FNN writes one memory cell per (key n-gram, value) (``memory_write_fnn``).
* **Layer 2**: a prefix sum accumulates the memory; the read-out returns the value stored under
  the query n-gram (``memory_read_fnn``, counts clipped at 1: the copy writes its pairs a second
  time). At the last position the stored value is SEP, read out as EOS.

Exact when every key is written once, i.e. when no n-gram of ``s`` repeats; on the uniform
distribution the error is at most ``P(repeated n-gram) < L^2 D^{-n}`` (Jelassi, Lemma 2.4).

Resources: 2 SSM layers (windows ``n + 1`` and infinite), FNN widths ``(D + 2)^n (D + 1)`` memory
cells: the key-query kernel's one-hot features. With ``n ~ log(L^2/eps) / log D`` the width grows
polynomially in ``L / eps``: copying is poly-log here in nothing but depth and weight bound.

Source: Jelassi, Brandfonbrener, Kakade, Malach 2024 (n-gram hashing, Theorem 2.3's mechanism)
cast as SSM+FNN; PAPER.md §4 G4; reconstructed.
"""

from __future__ import annotations

import sympy as sp
import torch

from ..construction import Construction
from ..embedding import OneHotEmbedding
from ..errors import require_positive_int
from ..fnn import FNN
from ..layout import AffineMap, Layout
from ..mutation import injectable
from ..network import SSMNetwork
from .. import selection  # looked up at build time: breaking the shared builder breaks every user
from ..ssm import SSMBank, accumulator, shifts
from ..tasks.copying import CopyConfig
from .common import copy_construction

NAME = "ngram-lookup"
SOURCE = "Jelassi et al. 2024 n-gram lookup as SSM+FNN (PAPER.md §4 G4); reconstructed"


def _slot_encoder(D: int, n: int, lags: Layout, carry: tuple[str, ...] = (), **kw) -> FNN:
    """From the one-hot tokens at lags ``0..n`` to the cut query/key slots and the value; the ``carry``
    blocks of ``lags`` (non-negative) pass through, after them.

    Slot ``i`` (oldest first) of the query reads lag ``n-1-i``, of the key lag ``n-i``. A lag is
    kept while no START lies at a more recent lag of the same n-gram."""
    carried = tuple((c, lags.size(c)) for c in carry)
    query_lags = {f"q{i}": n - 1 - i for i in range(n)}
    key_lags = {f"k{i}": n - i for i in range(n)}
    newest = {**{s: 0 for s in query_lags}, **{s: 1 for s in key_lags}}  # most recent lag of each n-gram
    slots = {**query_lags, **key_lags}

    # Layer A: every lag's symbols and START flag pass; keep_s = relu(1 - #START more recent than s).
    a = Layout((*[(f"sym{l}", D) for l in range(n + 1)], *[(f"start{l}", 1) for l in range(n + 1)],
                ("sep0", 1), *[(f"keep_{s}", 1) for s in slots], *carried))
    A = AffineMap(lags, a, **kw)
    for l in range(n + 1):
        A.connect(f"sym{l}", f"lag{l}_symbol", 1)
        A.connect(f"start{l}", f"lag{l}_bos", 1).connect(f"start{l}", f"lag{l}_sep", 1)
    A.connect("sep0", "lag0_sep", 1)
    for s, lag in slots.items():
        A.add_bias(f"keep_{s}", 1)
        for newer in range(newest[s], lag):
            A.connect(f"keep_{s}", f"lag{newer}_bos", -1).connect(f"keep_{s}", f"lag{newer}_sep", -1)

    # Layer B: slot symbols and START gated by keep.
    b = Layout((*[(f"{s}_sym", D) for s in slots], *[(f"{s}_start", 1) for s in slots], ("value_sym", D), ("value_sep", 1), *carried))
    B = AffineMap(a, b, **kw)
    for s, lag in slots.items():
        B.connect(f"{s}_sym", f"sym{lag}", 1).connect(f"{s}_sym", f"keep_{s}", torch.ones(D, **kw)).add_bias(f"{s}_sym", -1)
        B.connect(f"{s}_start", f"start{lag}", 1).connect(f"{s}_start", f"keep_{s}", 1).add_bias(f"{s}_start", -1)
    B.connect("value_sym", "sym0", 1).connect("value_sep", "sep0", 1)

    # Layer C: PAD = relu(1 - START - sum symbols); slots become one-hot over {PAD, START, symbols}.
    c = Layout((*[(f"{s}_pad", 1) for s in slots], *b.blocks))
    C = AffineMap(b, c, **kw)
    for s in slots:
        C.add_bias(f"{s}_pad", 1).connect(f"{s}_pad", f"{s}_start", -1).connect(f"{s}_pad", f"{s}_sym", -torch.ones(D, **kw))
    for name in b.names:
        C.connect(name, name, 1)

    out = Layout((*[(s, D + 2) for s in slots], ("value", D + 1), *carried))
    O = AffineMap(c, out, **kw)
    for s in slots:  # slot one-hot: PAD, START, then the symbols
        O.connect(s, f"{s}_pad", _placed(D + 2, 1, 0, **kw))
        O.connect(s, f"{s}_start", _placed(D + 2, 1, 1, **kw))
        O.connect(s, f"{s}_sym", _placed(D + 2, D, 2, **kw))
    O.connect("value", "value_sym", _placed(D + 1, D, 0, **kw)).connect("value", "value_sep", _placed(D + 1, 1, D, **kw))
    for c in carry:
        A.connect(c, c, 1)
        B.connect(c, c, 1)
        O.connect(c, c, 1)
    return FNN.from_maps(A, B, C, O, origin="copying.ngram_slots")


def _placed(rows: int, cols: int, first_row: int, **kw) -> torch.Tensor:
    """``(rows, cols)`` matrix copying ``cols`` channels into rows ``first_row, first_row + 1, ...``."""
    m = torch.zeros(rows, cols, **kw)
    m[first_row + torch.arange(cols), torch.arange(cols)] = 1
    return m


@injectable(NAME)
def build(config: CopyConfig, n: int = 2, *, dtype=torch.float64, device=None) -> Construction:
    require_positive_int("n", n)
    D = config.alphabet
    kw = dict(dtype=dtype, device=device)
    vocab = config.vocabulary()
    embedding = OneHotEmbedding(vocab, **kw)

    lags = Layout(tuple((f"lag{l}_{part}", size) for l in range(n + 1) for part, size in vocab.segments))
    route = AffineMap(embedding.layout, lags, **kw)
    for l in range(n + 1):
        for part, _ in vocab.segments:
            route.connect(f"lag{l}_{part}", part, 1)
    ssm1 = shifts([l for l in range(n + 1) for _ in range(vocab.size)], **kw)

    slots = _slot_encoder(D, n, lags, **kw)
    query, key = [f"q{i}" for i in range(n)], [f"k{i}" for i in range(n)]
    write = selection.memory_write_fnn(slots.layouts[-1], key, "value", carry=query, **kw)
    fnn1 = slots.then(write)
    cells = (D + 2) ** n * (D + 1)
    ssm2 = SSMBank([accumulator(cells, **kw), shifts([0] * (n * (D + 2)), **kw)])
    fnn2 = selection.memory_read_fnn(write.layouts[-1], "memory", query, D + 1, clip_counts=True, **kw)
    network = SSMNetwork(embedding, [(ssm1, fnn1), (ssm2, fnn2)], pre_fnn=FNN.from_maps(route))
    return copy_construction(NAME, network, config, SOURCE, ngram=n)


def narrowest_format(length: int, max_n: int = 12) -> tuple[int, int]:
    """``(D, n)`` of the narrowest copier (fewest memory cells ``(D+2)^n (D+1)``) whose strings of
    ``length`` symbols can avoid repeating an n-gram (``D^n + n - 1 >= length``, ``D >= 2``): the
    format of the long-length checks and benchmark."""
    import math

    options = []
    for n in range(1, max_n + 1):
        D = max(2, math.ceil(max(1, length - n + 1) ** (1 / n)))
        while D**n + n - 1 < length:
            D += 1
        while D > 2 and (D - 1) ** n + n - 1 >= length:
            D -= 1
        options.append(((D + 2) ** n * (D + 1), D, n))
    _, D, n = min(options)
    return D, n


def closed_form() -> dict[str, sp.Expr]:
    """Headline resources in terms of the alphabet size ``D`` and the n-gram length ``n``."""
    D, n = sp.symbols("D n", positive=True, integer=True)
    cells = (D + 2) ** n * (D + 1)
    return {
        "num_layers": sp.Integer(2),
        "window": sp.oo,
        "channels": sp.Max(cells + n * (D + 2), (n + 1) * (D + 3)),
        "fnn_width": sp.Max(cells + n * (D + 2), (n + 1) * (D + 3)),
    }


def mutations(config: CopyConfig, n: int = 2):
    from ..mutation import Mutation

    start_then_symbol0 = config.alphabet + 1  # cell of key (PAD, .., PAD, START) with value symbol 0
    return [
        Mutation("the memory gate of (PAD..START -> symbol 0) is always open", "blocks.0.fnn.biases.3", (start_then_symbol0,), 0.0),
        Mutation("query slot 0 is never PAD", "blocks.0.fnn.biases.2", (0,), 0.0),
    ]
