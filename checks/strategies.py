"""Hypothesis strategies shared by every check (nouns: what they draw).

Instances are drawn structurally (keys, values, queries as lists), so that a failure shrinks to
the smallest configuration and the simplest instance; randomized *batches* draw a configuration
and a seed, and the seeded generator of :mod:`constructions.tasks` fills the batch.
"""

from __future__ import annotations

import torch
from hypothesis import strategies as st

from constructions.ssm import DenseSSM, DiagonalSSM, ShiftSSM, SSMBank
from constructions.tasks.associative_recall import ARConfig, assemble

seeds = st.integers(min_value=0, max_value=2**32 - 1)

#: A trivial size (one key, one value, one pair, an alphabet of one symbol) is drawn about once in
#: this many draws of a size that may be 1 (measured share: tests/test_strategies.py). Left to
#: itself hypothesis starts from the simplest example and keeps returning to it: 19% to 49% of the
#: quick profile's 25 examples were such formats. The trivial formats stay covered, exhaustively,
#: by the tiny formats of each check.
TRIVIAL_ONE_IN = 64


def rarely(usual: st.SearchStrategy, rare: st.SearchStrategy, one_in: int = TRIVIAL_ONE_IN) -> st.SearchStrategy:
    """``usual``, and about once in ``one_in`` draws ``rare``; failures shrink towards ``usual``."""
    return st.integers(0, one_in - 1).flatmap(lambda i: rare if i == one_in // 2 else usual)


def counts(lo: int, hi: int) -> st.SearchStrategy[int]:
    """Integers in ``[lo, hi]``; 1, if in range and not alone, is drawn rarely (:data:`TRIVIAL_ONE_IN`)."""
    if lo <= 1 < hi:
        return rarely(st.integers(2, hi), st.just(1))
    return st.integers(lo, hi)


def vocab_sizes(lo: int, hi: int) -> st.SearchStrategy[int]:
    """Sizes in ``[lo, hi]``, with powers of two and their neighbours (code-width edges) favoured;
    a vocabulary of one is drawn rarely (:data:`TRIVIAL_ONE_IN`)."""
    if lo <= 1 < hi:
        return rarely(vocab_sizes(2, hi), st.just(1))
    edges = sorted({v for k in range(0, hi.bit_length() + 1) for v in (2**k - 1, 2**k, 2**k + 1) if lo <= v <= hi})
    return st.one_of(st.sampled_from(edges), st.integers(lo, hi)) if edges else st.integers(lo, hi)


@st.composite
def ar_configs(
    draw,
    *,
    query: str,
    max_keys: int,
    max_values: int,
    max_length: int,
    key_lengths: tuple[int, ...] = (1,),
    max_queries: int = 1,
    min_keys: int = 1,
    min_values: int = 1,
) -> ARConfig:
    """Feasible AR formats: enough distinct keys for the pairs, length at most ``max_length``;
    one key, one value or one pair only rarely (:data:`TRIVIAL_ONE_IN`)."""
    n = draw(st.sampled_from(key_lengths))
    K = draw(vocab_sizes(min_keys, max_keys))
    V = draw(vocab_sizes(min_values, max_values))
    Q = draw(st.integers(1, max_queries)) if query == "last" else 1
    query_tokens = n if query == "first" else Q * n
    max_pairs = min(K**n, (max_length - query_tokens) // (n + 1))
    Q = min(Q, max(1, max_pairs))
    N = draw(counts(Q, max(Q, max_pairs)))
    return ARConfig(num_keys=K, num_values=V, num_pairs=N, num_queries=Q, key_length=n, query=query)


@st.composite
def ar_instances(draw, configs: st.SearchStrategy[ARConfig]):
    """One instance, drawn element by element: ``(config, ARBatch of size 1)``."""
    config = draw(configs)
    codes = draw(st.lists(st.integers(0, config.key_space - 1), min_size=config.num_pairs, max_size=config.num_pairs, unique=True))
    values = draw(st.lists(st.integers(0, config.num_values - 1), min_size=config.num_pairs, max_size=config.num_pairs))
    order = draw(st.permutations(range(config.num_pairs)))
    codes_t = torch.tensor(codes, dtype=torch.long)
    powers = config.num_keys ** torch.arange(config.key_length - 1, -1, -1)
    keys = (codes_t.unsqueeze(-1) // powers) % config.num_keys
    batch = assemble(
        config,
        keys.unsqueeze(0),
        torch.tensor(values, dtype=torch.long).unsqueeze(0),
        torch.tensor(order[: config.num_queries], dtype=torch.long).unsqueeze(0),
    )
    return config, batch


@st.composite
def token_sequences(draw, vocabulary: int, *, max_batch: int = 3, max_length: int = 40) -> torch.Tensor:
    """``(batch, length)`` token ids in ``[0, vocabulary)`` in any order, not only a task's layout: for
    comparing two ways of running one network on everything it accepts."""
    B = draw(st.integers(1, max_batch))
    L = draw(st.integers(1, max_length))
    ids = draw(st.lists(st.integers(0, vocabulary - 1), min_size=B * L, max_size=B * L))
    return torch.tensor(ids, dtype=torch.long).reshape(B, L)


@st.composite
def wide_networks(draw):
    """One of the two wide constructions the structured path runs (the outer-product memory, the n-gram
    copier) at a small format: its network."""
    from constructions.associative_recall import outer_product
    from constructions.copying import ngram
    from constructions.tasks.copying import CopyConfig

    if draw(st.booleans()):
        return outer_product.build(draw(ar_configs(query="last", max_keys=9, max_values=6, max_queries=4, max_length=40))).network
    return ngram.build(CopyConfig(draw(st.integers(1, 4)), draw(st.integers(1, 8))), draw(st.integers(1, 3))).network


# ----------------------------------------------------------------------------- long instances, packed draws
#: bits of one integer draw of :func:`packed_ints`: one draw carries many small symbols
PACKED_BITS = 256


def accuracy_curves(max_records: int = 30) -> st.SearchStrategy[list[float]]:
    """Held-out accuracies of a training run, one per record, oldest first: values on a grid of 1/1024
    (the monitored accuracies are counts over instances), with runs of equal values (plateaus) likely."""
    grid = st.integers(0, 1024).map(lambda k: k / 1024)
    return st.lists(st.tuples(grid, st.integers(1, 4)), min_size=1, max_size=max_records).map(
        lambda runs: [v for v, times in runs for _ in range(times)])


def packed_ints(count: int, base: int) -> st.SearchStrategy[list[int]]:
    """``count`` integers in ``[0, base)``, drawn as base-``base`` digits of ``PACKED_BITS``-bit
    integers: 4096 symbols take ~5 ms a draw where one draw per symbol takes ~1 s (and shrinking a
    failure seconds where it took minutes). All zeros is the simplest example; failures shrink towards it."""
    per_draw = max(1, PACKED_BITS // max(1, (base - 1).bit_length()))
    draws = -(-count // per_draw)

    def unpack(words: list[int]) -> list[int]:
        digits = []
        for w in words:
            for _ in range(per_draw):
                w, d = divmod(w, base)
                digits.append(d)
        return digits[:count]

    return st.lists(st.integers(0, base**per_draw - 1), min_size=draws, max_size=draws).map(unpack)


def distinct(values: list[int], modulus: int) -> list[int]:
    """``values`` made distinct: each repeat moves to the next unused value (mod ``modulus``; needs
    ``len(values) <= modulus``). Amortised O(1) per value (the next-free pointers are compressed)."""
    following: dict[int, int] = {}
    out = []
    for v in values:
        path = []
        while v in following:
            path.append(v)
            v = following[v]
        for p in path:
            following[p] = v
        out.append(v)
        following[v] = (v + 1) % modulus
    return out


def packed_ar_instances(config: ARConfig) -> st.SearchStrategy:
    """One instance (``ARBatch`` of size 1) of ``config`` from packed draws (:func:`packed_ints`): for
    long formats, where :func:`ar_instances` draws three lists element by element. The simplest
    example has keys 0, 1, 2, ..., every value 0 and the first pairs queried."""
    N, Q, n = config.num_pairs, config.num_queries, config.key_length

    def build(parts):
        codes, values, queried = parts
        codes_t = torch.tensor(distinct(codes, config.key_space), dtype=torch.long)
        powers = config.num_keys ** torch.arange(n - 1, -1, -1)
        keys = (codes_t.unsqueeze(-1) // powers) % config.num_keys
        return assemble(config, keys.unsqueeze(0), torch.tensor([values], dtype=torch.long),
                        torch.tensor([distinct(queried, N)], dtype=torch.long))

    return st.tuples(packed_ints(N, config.key_space), packed_ints(N, config.num_values), packed_ints(Q, N)).map(build)


# ----------------------------------------------------------------------------- SSM layers
def _real(draw, shape, scale=1.0):
    flat = draw(st.lists(st.floats(-scale, scale, allow_nan=False, allow_subnormal=False), min_size=_numel(shape), max_size=_numel(shape)))
    return torch.tensor(flat, dtype=torch.float64).reshape(shape)


def _numel(shape):
    n = 1
    for s in shape:
        n *= s
    return n


#: spectral regimes of ``ssm_layers(spectrum=...)``: the largest |lambda| (or dense spectral radius) is
#: below 1, exactly 1, or in (1, 1.5] -- growing kernels, whose outputs still fit float32 at 200 tokens
SPECTRAL_REGIMES = ("stable", "marginal", "unstable")


@st.composite
def ssm_layers(draw, *, max_channels: int = 3, max_state: int = 6, allow_lookahead: bool = True, spectrum: str = "stable"):
    """A random depthwise layer of any parameterization, or a bank. ``spectrum``: one of
    :data:`SPECTRAL_REGIMES`, ``"marginal-or-unstable"`` or ``"any"`` (one drawn per layer) -- ``stable``: spectral radius at most
    0.99; ``marginal``: the largest |lambda| exactly 1 (real lambda = +-1, prefix sums among them;
    complex on the unit circle; dense radius 1); ``unstable``: the largest in [1.01, 1.5]. Shift layers
    are nilpotent whatever the spectrum."""
    kind = draw(st.sampled_from(["shift", "diagonal-real", "diagonal-complex", "dense", "bank"]))
    if kind == "bank":
        parts = [draw(ssm_layers(max_channels=2, max_state=max_state, allow_lookahead=allow_lookahead, spectrum=spectrum)
                      .filter(lambda l: not isinstance(l, SSMBank))) for _ in range(draw(st.integers(1, 3)))]
        return SSMBank(parts)
    regimes = {"any": SPECTRAL_REGIMES, "marginal-or-unstable": SPECTRAL_REGIMES[1:]}.get(spectrum, (spectrum,))
    regime = draw(st.sampled_from(regimes))
    top = {"stable": 0.99, "marginal": 1.0}.get(regime) or draw(st.floats(1.01, 1.5))
    D = draw(st.integers(1, max_channels))
    N = draw(st.integers(1, max_state))
    F = draw(st.integers(0, 3)) if allow_lookahead else 0
    skip = _real(draw, (D,))
    if kind == "shift":
        return ShiftSSM(_real(draw, (D, N)), skip=skip, lookahead=F)
    if kind == "dense":
        A = _real(draw, (D, N, N))
        radius = torch.linalg.eigvals(A).abs().amax(-1).clamp(min=1e-12)
        scale = draw(st.floats(0.0, 0.99)) if regime == "stable" else top
        A = A / radius[:, None, None] * scale
        return DenseSSM(A, _real(draw, (D, N)), _real(draw, (D, N)), skip=skip, lookahead=F)
    radius = _real(draw, (D, N)).abs() * top
    if regime != "stable":
        radius.view(-1)[draw(st.integers(0, D * N - 1))] = top  # the largest |lambda| is exactly top
    if kind == "diagonal-real":
        lam = radius * torch.sign(_real(draw, (D, N)) + 0.5)
        return DiagonalSSM(lam, _real(draw, (D, N)), _real(draw, (D, N)), skip=skip, lookahead=F)
    phase = _real(draw, (D, N), scale=3.14159)
    lam = torch.polar(radius, phase)
    B = torch.complex(_real(draw, (D, N)), _real(draw, (D, N)))
    C = torch.complex(_real(draw, (D, N)), _real(draw, (D, N)))
    return DiagonalSSM(lam, B, C, skip=skip, lookahead=F)


@st.composite
def ssm_inputs(draw, channels: int, *, max_batch: int = 3, max_length: int = 200):
    """``(batch, length, channels)`` float64 input; lengths straddle the direct/FFT switch."""
    B = draw(st.integers(1, max_batch))
    L = draw(st.one_of(st.integers(1, 16), st.integers(1, max_length)))
    seed = draw(seeds)
    g = torch.Generator().manual_seed(seed)
    return torch.randn(B, L, channels, generator=g, dtype=torch.float64)


@st.composite
def ssm_networks(draw, *, max_blocks: int = 3, max_vocab: int = 5, spectrum: str = "stable", allow_lookahead: bool = False):
    """A random SSM+FNN network (float64): a table embedding of 1..``max_vocab`` tokens (entries in
    [-1, 1]), sometimes a pre-FNN, 1..``max_blocks`` blocks of (:func:`ssm_layers` with ``spectrum``, a
    dense ReLU FNN of depth 1-2, hidden width 1-4, weights in [-1, 1]) ending in 1-3 outputs, sometimes
    clipped to [-1, 1]."""
    from constructions.embedding import TableEmbedding
    from constructions.fnn import FNN
    from constructions.network import SSMNetwork
    from constructions.vocabulary import Vocabulary

    def fnn(d_in: int, d_out: int) -> FNN:
        widths = [d_in] + [draw(st.integers(1, 4)) for _ in range(draw(st.integers(0, 1)))] + [d_out]
        return FNN([(_real(draw, (b, a)), _real(draw, (b,))) for a, b in zip(widths, widths[1:])])

    layers = [draw(ssm_layers(spectrum=spectrum, allow_lookahead=allow_lookahead)) for _ in range(draw(st.integers(1, max_blocks)))]
    vocab = Vocabulary.of(token=draw(st.integers(1, max_vocab)))
    pre = draw(st.booleans())
    width = draw(st.integers(1, 3)) if pre else layers[0].channels
    embedding = TableEmbedding(vocab, _real(draw, (vocab.size, width)))
    pre_fnn = fnn(width, layers[0].channels) if pre else None
    outs = [l.channels for l in layers[1:]] + [draw(st.integers(1, 3))]
    blocks = [(layer, fnn(layer.channels, out)) for layer, out in zip(layers, outs)]
    return SSMNetwork(embedding, blocks, pre_fnn=pre_fnn, clip=(-1.0, 1.0) if draw(st.booleans()) else None)


@st.composite
def network_tokens(draw, vocab_size: int, *, max_batch: int = 3, max_length: int = 60):
    """``(batch, length)`` token ids below ``vocab_size``, seeded."""
    B = draw(st.integers(1, max_batch))
    L = draw(st.one_of(st.integers(1, 8), st.integers(1, max_length)))
    g = torch.Generator().manual_seed(draw(seeds))
    return torch.randint(0, vocab_size, (B, L), generator=g)


@st.composite
def prefilled_networks(draw, *, max_length: int = 30):
    """``(network, tokens, split, state)``: a drawn SSM network (stable or marginal spectrum), token ids, a
    split point, and the step-mode state after ``tokens[:, :split]`` read at once (the initial state for 0):
    a decoder's starting point, for steppers compared token by token from ``split`` on."""
    network = draw(ssm_networks(spectrum=draw(st.sampled_from(["stable", "marginal"]))))
    tokens = draw(network_tokens(network.embedding.vocabulary.size, max_length=max_length))
    split = draw(st.integers(0, tokens.shape[1] - 1))
    _, state = network.prefill(tokens[:, :split]) if split else (None, network.initial_state(tokens.shape[0]))
    return network, tokens, split, tuple(state)


# ----------------------------------------------------------------------------- copying
@st.composite
def copy_configs(draw, *, max_alphabet: int, max_length: int, min_alphabet: int = 1):
    from constructions.tasks.copying import CopyConfig

    return CopyConfig(draw(vocab_sizes(min_alphabet, max_alphabet)), draw(st.integers(1, max_length)))


@st.composite
def strings_without_repeated_ngram(draw, *, alphabet: int, n: int, max_length: int) -> list[int]:
    """A string in which no n-gram occurs twice, drawn symbol by symbol among the symbols that keep
    it so (it ends early if none does); shrinks towards short strings of small symbols."""
    target = draw(st.integers(1, max_length))
    string: list[int] = []
    seen: set[tuple[int, ...]] = set()
    while len(string) < target:
        tail = string[len(string) - n + 1 :] if n > 1 else []
        options = [a for a in range(alphabet) if len(string) < n - 1 or tuple(tail + [a]) not in seen]
        if not options:
            break
        string.append(draw(st.sampled_from(options)))
        if len(string) >= n:
            seen.add(tuple(string[-n:]))
    return string


@st.composite
def fixed_length_strings(draw, configs: st.SearchStrategy):
    """``(config, string)``: a copy format and one string of its length, drawn symbol by symbol."""
    config = draw(configs)
    return config, draw(st.lists(st.integers(0, config.alphabet - 1), min_size=config.length, max_size=config.length))


@st.composite
def ngram_strings(draw, alphabets: st.SearchStrategy[int] | None = None, ns: st.SearchStrategy[int] | None = None,
                  max_length: int = 40):
    """``(alphabet, n, string)``: a string without a repeated n-gram (alphabets 1..5 and n = 1..4 by
    default; an alphabet of one symbol rarely)."""
    alphabet = draw(vocab_sizes(1, 5) if alphabets is None else alphabets, label="alphabet")
    n = draw(st.integers(1, 4) if ns is None else ns, label="n")
    return alphabet, n, draw(strings_without_repeated_ngram(alphabet=alphabet, n=n, max_length=max_length), label="string")


@st.composite
def perturbed_copiers(draw, *, max_length: int = 10):
    """``(construction, tokens)``: a copier (the fixed-length shift, or the n-gram lookup with a string without a
    repeated n-gram) with every bias of its last FNN moved by up to a drawn scale (0: exact; larger: wrong and
    no-token predictions, which a free-running decoder feeds back), and one sequence ``(1, L)`` of its format."""
    from constructions.copying import fixed_length, ngram
    from constructions.tasks.copying import CopyConfig
    from constructions.tasks.copying import assemble as assemble_copy

    if draw(st.booleans(), label="n-gram copier"):
        alphabet, n, string = draw(ngram_strings(vocab_sizes(1, 3), st.integers(1, 3), max_length=max_length))
        config = CopyConfig(alphabet, len(string))
        construction = ngram.build(config, n)
    else:
        config, string = draw(fixed_length_strings(copy_configs(max_alphabet=5, max_length=max_length)))
        construction = fixed_length.build(config)
    scale = draw(st.sampled_from([0.0, 0.3, 1.0, 3.0]), label="perturbation")
    bias = construction.network.blocks[-1].fnn.biases[-1]
    g = torch.Generator().manual_seed(draw(st.integers(0, 2**16), label="perturbation seed"))
    bias.data += scale * (2 * torch.rand(bias.shape, generator=g, dtype=bias.dtype) - 1)
    return construction, assemble_copy(config, torch.tensor([string])).tokens


# ----------------------------------------------------------------------------- regression
@st.composite
def smoothness(draw, *, max_dim: int = 3):
    """A :class:`~constructions.regression.smooth_functions.Smoothness` with ``a_i`` in ``[0.5, 3]``."""
    from constructions.regression.smooth_functions import Smoothness

    d = draw(st.integers(1, max_dim))
    a = tuple(draw(st.sampled_from((0.5, 1.0, 1.5, 2.0, 3.0))) for _ in range(d))
    return Smoothness(draw(st.sampled_from(("mixed", "anisotropic"))), a)


@st.composite
def gamma_smooth_configs(draw, *, max_dim: int = 3, max_level: float = 5.0):
    """Seeded gamma-smooth function configs, small enough to evaluate exhaustively."""
    from constructions.regression.smooth_functions import GammaSmoothConfig

    smooth = draw(smoothness(max_dim=max_dim))
    level = draw(st.sampled_from([x / 2 for x in range(0, int(2 * max_level) + 1)]))
    norm = draw(st.sampled_from((0.5, 1.0, 3.0)))
    return GammaSmoothConfig(smooth, level, norm, draw(seeds))


@st.composite
def extraction_settings(draw, *, max_levels: int = 8, max_window: int = 6, max_top: int = 3, max_bits: int = 3):
    """``(TokenGrid, window U, top J)`` whose extraction network float64 holds exactly."""
    from constructions.regression.extraction import FLOAT64_EXACT_BITS, radix_bits_needed
    from constructions.regression.piecewise import TokenGrid

    feasible = [(Q, b, U) for Q in (2, 4, 8, 16) if Q <= max_levels for b in range(1, max_bits + 1)
                for U in range(1, max_window + 1) if Q * radix_bits_needed(U, b) + 1 <= FLOAT64_EXACT_BITS]
    Q, b, U = draw(st.sampled_from(feasible))
    J = draw(st.integers(1, max(1, min(max_top, U, Q - 1))))
    return TokenGrid(Q, b, draw(st.integers(1, 2))), U, J


# ----------------------------------------------------------------------------- drawing examples
def sample_examples(strategy: st.SearchStrategy, count: int, seed: int = 0) -> list:
    """``count`` examples of ``strategy`` as a check with ``count`` examples would draw them
    (generation only: no shrinking, no database); deterministic for a given ``seed``. Fewer when
    the strategy has fewer distinct examples. For replaying a check's draws against many
    constructions (mutation campaigns) and for measuring what a strategy draws."""
    from hypothesis import HealthCheck, Phase, given, settings
    from hypothesis import seed as fixed_seed

    drawn = []

    @settings(max_examples=count, derandomize=False, database=None, deadline=None, phases=[Phase.generate],
              suppress_health_check=list(HealthCheck))
    @fixed_seed(seed)
    @given(strategy)
    def collect(example):
        drawn.append(example)

    from hypothesis import core

    forced, core.global_force_seed = core.global_force_seed, None  # a --suite-seed run forces every seed: ours is explicit
    try:
        collect()
    finally:
        core.global_force_seed = forced
    return drawn


def trivial_share(strategy: st.SearchStrategy, trivial, examples: int, seeds_: range = range(8)) -> float:
    """The share of draws for which ``trivial(example)`` holds: ``examples`` examples per check (a
    profile's ``max_examples``), averaged over the draws of ``len(seeds_)`` seeds."""
    drawn = [example for s in seeds_ for example in sample_examples(strategy, examples, s)]
    return sum(map(trivial, drawn)) / len(drawn)


# -- external formats (constructions/tasks/external): records drawn in the file's own terms ---------------


@st.composite
def zoology_mqar_arrays(draw, *, max_rows: int = 4, max_pairs: int = 4, max_length: int = 40, passes: int = 1):
    """``(inputs, labels, vocab_size)`` as Zoology writes them: distinct keys ``1..H-1`` and values
    ``H..vocab-1`` (``H = vocab // 2``), the pairs ``passes`` times, each key queried once at a distinct
    position of the query region (label = its value, -100 elsewhere), fillers 0 or random ids."""
    import numpy as np

    pairs = draw(st.integers(1, max_pairs))
    vocab = draw(st.integers(2 * pairs + 2, 200))
    half = vocab // 2
    context = 2 * pairs * passes
    length = draw(st.integers(context + pairs, max(context + pairs, max_length)))
    rows = draw(st.integers(1, max_rows))
    random_fillers = draw(st.booleans())
    inputs = np.zeros((rows, length), dtype=np.int64)
    labels = np.full((rows, length), -100, dtype=np.int64)
    for r in range(rows):
        keys = draw(st.lists(st.integers(1, half - 1), min_size=pairs, max_size=pairs, unique=True))
        values = draw(st.lists(st.integers(half, vocab - 1), min_size=pairs, max_size=pairs))
        where = draw(st.lists(st.integers(context, length - 1), min_size=pairs, max_size=pairs, unique=True))
        if random_fillers:
            inputs[r] = draw(st.lists(st.integers(0, vocab - 1), min_size=length, max_size=length))
        inputs[r, :context] = np.tile(np.stack([keys, values], 1).reshape(-1), passes)
        inputs[r, where], labels[r, where] = keys, values
    return inputs, labels, vocab


@st.composite
def jelassi_copy_lines(draw, *, max_lines: int = 6, max_length: int = 30):
    """``(lines, alphabet)``: ``$s|s.`` over the first ``alphabet`` letters, sometimes ``*``-padded."""
    alphabet = draw(st.integers(1, 26))
    letters = "abcdefghijklmnopqrstuvwxyz"[:alphabet]
    strings = draw(st.lists(st.text(letters, min_size=1, max_size=max_length), min_size=1, max_size=max_lines))
    pads = draw(st.lists(st.integers(0, 3), min_size=len(strings), max_size=len(strings)))
    return [f"${s}|{s}." + "*" * p for s, p in zip(strings, pads)], alphabet


@st.composite
def ar_text_lines(draw, *, max_lines: int = 6, max_pairs: int = 12):
    """Lines ``k1v1..kNvN q a``: distinct letters as keys, digits as values, the query among the keys."""
    lines = []
    for _ in range(draw(st.integers(1, max_lines))):
        keys = draw(st.lists(st.sampled_from("abcdefghijklmnopqrstuvwxyz"), min_size=1, max_size=max_pairs, unique=True))
        values = draw(st.lists(st.sampled_from("0123456789"), min_size=len(keys), max_size=len(keys)))
        q = draw(st.integers(0, len(keys) - 1))
        lines.append("".join(k + v for k, v in zip(keys, values)) + keys[q] + values[q])
    return lines


@st.composite
def jelassi_lookup_lines(draw, *, key: str, max_lines: int = 6, max_length: int = 16):
    """``(lines, alphabet, n)``: ``$s|ga.`` (suffix) or ``$g|s|a.`` (prefix) lines over the first ``alphabet``
    letters, one ``n`` per file, ``g`` an n-gram of ``s`` and ``a`` what follows its first occurrence (any
    length that fits, empty included), sometimes ``*``-padded."""
    alphabet = draw(st.integers(1, 26), label="alphabet")
    n = draw(st.integers(1, 3), label="n")
    letters = "abcdefghijklmnopqrstuvwxyz"[:alphabet]
    lines = []
    for _ in range(draw(st.integers(1, max_lines))):
        s = draw(st.text(letters, min_size=n, max_size=max(n, max_length)))
        g = s[(start := draw(st.integers(0, len(s) - n))) : start + n]
        first = s.find(g)
        a = s[first + n : first + n + draw(st.integers(0, len(s) - n - start))]
        body = f"${s}|{g}{a}." if key == "suffix" else f"${g}|{s}|{a}."
        lines.append(body + "*" * draw(st.integers(0, 2)))
    return lines, alphabet, n

# -- n-gram lookup (constructions/tasks/ngram_lookup.py) ---------------------------------------------------
@st.composite
def ngram_lookup_instances(draw, *, key: str, max_alphabet: int = 4, max_n: int = 3, max_length: int = 16,
                           unambiguous: bool = True, architecture: tuple[int, int, int] | None = None):
    """``(config, strings (1, L), grams (1, n))``: a lookup instance with key ``key``; with ``unambiguous`` the
    string has no repeated n-gram (so every continuation is unambiguous), else any string. ``architecture``
    ``(alphabet, n, answer length)`` pins the format up to ``L`` (a mutation campaign's replay; strings too
    short for it are rejected)."""
    from hypothesis import assume

    from constructions.tasks.ngram_lookup import NgramLookupConfig

    if architecture is None:
        alphabet = draw(vocab_sizes(1, max_alphabet), label="alphabet")
        n = draw(st.integers(1, max_n), label="n")
    else:
        alphabet, n, pinned_answer = architecture
    if unambiguous:
        string = draw(strings_without_repeated_ngram(alphabet=alphabet, n=n, max_length=max_length), label="string")
    else:
        string = draw(st.lists(st.integers(0, alphabet - 1), min_size=1, max_size=max_length), label="string")
    if architecture is not None:
        assume(len(string) >= n + pinned_answer)
        start = draw(st.integers(0, len(string) - n - pinned_answer), label="start")
        config = NgramLookupConfig(alphabet, len(string), n, pinned_answer, key)
        strings = torch.tensor([string])
        return config, strings, strings[:, start : start + n]
    n = min(n, len(string))  # a drawn string may stop short
    start = draw(st.integers(0, len(string) - n), label="start")
    answer = draw(st.integers(0, len(string) - n - start), label="answer_length")
    config = NgramLookupConfig(alphabet, len(string), n, answer, key)
    strings = torch.tensor([string])
    return config, strings, strings[:, start : start + n]


@st.composite
def site_configs(draw, *, max_length: int = 160):
    """Planted-JASPAR-site task configurations (:class:`training.genomic.SiteConfig`): two or three
    class TFs and up to two decoy TFs of the shipped matrices, 1-3 sites, 0-3 decoys, a length that
    fits them and keeps ``k / L <= 1/4``."""
    from training.genomic import SiteConfig, load_motifs

    names = list(load_motifs().names)
    classes = draw(st.lists(st.sampled_from(names[3:]), min_size=2, max_size=3, unique=True))  # 9..12 bases
    decoys = draw(st.lists(st.sampled_from([n for n in names if n not in classes]), max_size=2, unique=True))
    min_sites = draw(st.integers(1, 2))
    max_sites = draw(st.integers(min_sites, 3))
    max_decoys = draw(st.integers(0, 3))
    longest = max(load_motifs()[n].length for n in classes + decoys)
    k = max_sites * max(load_motifs()[n].length for n in classes)
    shortest = max(4 * k, (max_sites + max_decoys) * longest)
    return SiteConfig(length=draw(st.integers(shortest, max(shortest, max_length))), classes=tuple(classes),
                      decoys=tuple(decoys), min_sites=min_sites, max_sites=max_sites, max_decoys=max_decoys,
                      decoy_mutations=draw(st.integers(1, 3)), site_p_value=draw(st.sampled_from([1e-4, 1e-5])),
                      background=draw(st.sampled_from(["uniform", "markov"])))
