"""A depth-2 Transformer for suffix n-gram lookup (Jelassi et al. 2024's lookup task, their copier's mechanism).

Claim (``transformer.lookup-suffix``, reconstructed): for the format
:class:`~constructions.tasks.ngram_lookup.NgramLookupConfig` with ``key="suffix"`` (``BOS s SEP g a EOS``,
``D`` symbols, n-grams of ``n``, answers of ``A``), the network with hardmax heads predicts every answer
token exactly (``a_1..a_A`` from the last token of ``g`` on, then EOS) on every instance whose
continuation is unambiguous (:func:`~constructions.tasks.ngram_lookup.continuation_ambiguous` false:
every n-gram ``w_j`` read during the answer has one follower in ``s``). It may also answer ambiguous
instances (ties go to the earliest match, which for ``w_0 = g`` is its first occurrence), so its
failures are a subset of the ambiguous instances, not all of them.

Mechanism: the copier of :mod:`.copy_jelassi`, unchanged (+-1 codes of ``m = ceil(log2(D + 3))`` bits;
layer 1: heads at lags ``1..n`` and an MLP writing the query n-gram ``x_{t-n+1..t}`` and the key n-gram
``x_{t-n..t-1}``, both cut at their latest BOS/SEP; layer 2: one head matching query against keys and
copying the value ``x_s``). At the last token of ``g`` the query is ``g`` and its earliest match is the
first occurrence, so the value is ``a_1``; then the query is the n-gram of the answer so far, as in
copying. Added: one more layer-1 head at lag ``n + A`` copies a SEP flag into ``end`` (1 exactly at the
last answer position, since SEP is at ``L + 1`` only), and layer 2's MLP forces the EOS code there:
``final_b = relu(out_b - 2 end) - relu(-out_b - 2 end) + end * c_b`` with ``c`` the code the copier
decodes as EOS (``|out_b| <= 1``).

Resources (:func:`closed_form`, checked against the built tensors): 2 layers, ``n + 2`` heads, ``d_model``
of the copier plus ``m + 2`` (the SEP flag, ``end``, the ``final`` code); the copier's slot MLP and a
final MLP of width ``2m + 1``.

Source: Jelassi, Brandfonbrener, Kakade, Malach 2024 (the lookup tasks of §4; the mechanism of Theorem
2.3); the end flag and the lookup use are ours (reconstructed).
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
from .model import Block, Head, Transformer

NAME = "jelassi-suffix-transformer"
SOURCE = "Jelassi et al. 2024 lookup tasks, the mechanism of Theorem 2.3 with an end flag (reconstructed)"
EOS_CLASS = 1  # the copier's START class, decoded as EOS


def stream_layout(D: int, n: int) -> Layout:
    m = code_bits(D + 3)
    lag_blocks = [(f"{part}{l}", w) for l in range(1, n + 1) for part, w in (("code", m), ("start", 1))]
    slots = [(f"q{i}", m) for i in range(n)] + [(f"k{i}", m) for i in range(n)]
    return Layout((("code0", m), ("start0", 1), ("bos0", 1), ("sep0", 1), *lag_blocks, *slots, ("value", m), ("out", m),
                   ("end", 1), ("final", m)))


@injectable(NAME)
def build(config: NgramLookupConfig, *, kind: str = "hardmax", beta: float = 8.0, dtype=torch.float64, device=None) -> Construction:
    if config.key != "suffix":
        raise UnknownOptionError(f"{NAME} answers the suffix key (BOS s SEP g a EOS), got key={config.key!r}")
    D, n, A = config.alphabet, config.ngram, config.answer_length
    kw = dict(dtype=dtype, device=device)
    m = code_bits(D + 3)
    vocab = config.vocabulary()
    token_class = torch.tensor([*range(2, D + 2), 1, 1, D + 2])  # symbols, BOS, SEP, EOS
    codes = _codes(D + 3, m, **kw)
    flag = lambda *on: torch.tensor([0.0] * D + list(on), **kw).unsqueeze(1)  # noqa: E731  (BOS, SEP, EOS)
    table = torch.cat([codes[token_class], flag(1, 1, 0), flag(1, 0, 0), flag(0, 1, 0)], dim=1)
    stream = stream_layout(D, n)
    embedding = TableEmbedding(vocab, table, Layout.of(code0=m, start0=1, bos0=1, sep0=1))

    def copy_head(pairs: list[tuple[str, str, int]], lag: int) -> Head:
        """A hard-ALiBi head at ``lag`` copying stream blocks ``source -> target`` (width ``w``)."""
        inner = Layout(tuple((f"c{i}", w) for i, (_, _, w) in enumerate(pairs)))
        V, O = AffineMap(stream, inner, **kw), AffineMap(inner, stream, **kw)
        for i, (source, target, _) in enumerate(pairs):
            V.connect(f"c{i}", source, 1)
            O.connect(target, f"c{i}", 1)
        none = torch.zeros(1, stream.width, **kw)
        return Head(none, none, V.build(sparse=False)[0], O.build(sparse=False)[0], kind="hardmax", lag=lag)

    heads1 = [copy_head([("code0", f"code{l}", m), ("start0", f"start{l}", 1)], l) for l in range(1, n + 1)]
    heads1.append(copy_head([("sep0", "end", 1)], n + A))
    query = {f"q{i}": n - 1 - i for i in range(n)}
    key = {f"k{i}": n - i for i in range(n)}
    mlp1 = _slot_mlp(stream, m, query, key, codes[0], **kw)
    slots = Layout.of(x=n * m)
    match = Head(_stack(stream, slots, list(query), m, **kw), _stack(stream, slots, list(key), m, **kw),
                 *_value_out(stream, m, **kw), kind=kind, scale=beta)
    readout = FNN([(_stack(stream, Layout.of(o=m), ["final"], m, **kw), torch.zeros(m, **kw))], origin="transformer.readout")
    network = Transformer(embedding, stream.width, [Block(heads1, mlp1), Block([match], _end_forces_eos(stream, m, codes[EOS_CLASS], **kw))], readout)
    classes = {a: a + 2 for a in range(D)} | {config.eos: EOS_CLASS}
    decoded = tuple([-1, config.eos] + list(range(D)) + [-1] * (2**m - D - 2))
    return Construction(NAME, network, config, SignCode(m, classes, decoded), config.answer_positions(),
                        lambda tokens: reference_next_tokens(config, tokens), SOURCE, notes={"ngram": n, "kind": kind, "beta": beta})


def _value_out(stream: Layout, m: int, **kw) -> tuple[torch.Tensor, torch.Tensor]:
    v = Layout.of(v=m)
    return (AffineMap(stream, v, **kw).connect("v", "value", 1).build(sparse=False)[0],
            AffineMap(v, stream, **kw).connect("out", "v", 1).build(sparse=False)[0])


def _end_forces_eos(stream: Layout, m: int, eos_code: torch.Tensor, **kw) -> FNN:
    """``final_b = relu(out_b - 2 end) - relu(-out_b - 2 end) + end * c_b`` (``end`` in {0, 1}, ``|out_b| <= 1``)."""
    hidden = Layout.of(p=m, q=m, e=1)
    H = AffineMap(stream, hidden, **kw)
    H.connect("p", "out", 1).connect("p", "end", -2 * torch.ones(m, 1, **kw))
    H.connect("q", "out", -1).connect("q", "end", -2 * torch.ones(m, 1, **kw))
    H.connect("e", "end", 1)
    O = AffineMap(hidden, stream, **kw)
    O.connect("final", "p", 1).connect("final", "q", -1).connect("final", "e", eos_code.unsqueeze(1))
    return FNN.from_maps(H, O, origin="transformer.lookup_end")


def closed_form() -> dict:
    """Shape resources in terms of the alphabet size ``D`` and ``n`` (nothing depends on ``L`` or ``A``
    but the end head's lag): the copier's (:func:`.copy_jelassi.closed_form`) with one more head and
    ``m + 2`` more stream channels; the final MLP (width ``2m + 1``) is narrower than the slot MLP."""
    import sympy as sp

    from .copy_jelassi import closed_form as copier

    D, n = sp.symbols("D n", positive=True, integer=True)
    m = sp.Max(1, sp.ceiling(sp.log(D + 3, 2)))
    base = copier()
    d_model = base["d_model"] + m + 2
    return {
        "num_layers": sp.Integer(2),
        "heads": n + 2,
        "d_model": d_model,
        "mlp_depth": sp.Integer(3),
        "mlp_width": sp.Max(d_model, 2 * m * (n + 1) + 2 * n, 4 * n * m + 2 * n + 2 * m),
    }


def mutations(config: NgramLookupConfig):
    """Single-weight changes that break the construction on some unambiguous instances."""
    from ..mutation import Mutation

    stream = stream_layout(config.alphabet, config.ngram)
    m = code_bits(config.alphabet + 3)
    value, newest_query = stream["value"].start, stream[f"q{config.ngram - 1}"].start
    return [
        Mutation("the value's lowest bit is read negated", "blocks.1.heads.0.W_V", (0, value), -1.0),
        Mutation("the matching head ignores the newest query slot's lowest bit", "blocks.1.heads.0.W_Q",
                 ((config.ngram - 1) * m, newest_query), 0.0),
        Mutation("the final MLP never writes the EOS code (its end unit ignores the end flag)", "blocks.1.mlp.weights.0",
                 (2 * m, stream["end"].start), 0.0),
    ]


def fault_example():
    return (NgramLookupConfig(3, 8, 2, 2),)
