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


def vocab_sizes(lo: int, hi: int) -> st.SearchStrategy[int]:
    """Sizes in ``[lo, hi]``, with powers of two and their neighbours (code-width edges) favoured."""
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
) -> ARConfig:
    """Feasible AR formats: enough distinct keys for the pairs, length at most ``max_length``."""
    n = draw(st.sampled_from(key_lengths))
    K = draw(vocab_sizes(min_keys, max_keys))
    V = draw(vocab_sizes(1, max_values))
    Q = draw(st.integers(1, max_queries)) if query == "last" else 1
    query_tokens = n if query == "first" else Q * n
    max_pairs = min(K**n, (max_length - query_tokens) // (n + 1))
    Q = min(Q, max(1, max_pairs))
    N = draw(st.integers(Q, max(Q, max_pairs)))
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


# ----------------------------------------------------------------------------- SSM layers
def _real(draw, shape, scale=1.0):
    flat = draw(st.lists(st.floats(-scale, scale, allow_nan=False, allow_subnormal=False), min_size=_numel(shape), max_size=_numel(shape)))
    return torch.tensor(flat, dtype=torch.float64).reshape(shape)


def _numel(shape):
    n = 1
    for s in shape:
        n *= s
    return n


@st.composite
def ssm_layers(draw, *, max_channels: int = 3, max_state: int = 6, allow_lookahead: bool = True):
    """A random depthwise layer of any parameterization (stable: spectral radius below 1), or a bank."""
    kind = draw(st.sampled_from(["shift", "diagonal-real", "diagonal-complex", "dense", "bank"]))
    if kind == "bank":
        parts = [draw(ssm_layers(max_channels=2, max_state=max_state, allow_lookahead=allow_lookahead).filter(lambda l: not isinstance(l, SSMBank))) for _ in range(draw(st.integers(1, 3)))]
        return SSMBank(parts)
    D = draw(st.integers(1, max_channels))
    N = draw(st.integers(1, max_state))
    F = draw(st.integers(0, 3)) if allow_lookahead else 0
    skip = _real(draw, (D,))
    if kind == "shift":
        return ShiftSSM(_real(draw, (D, N)), skip=skip, lookahead=F)
    if kind == "dense":
        A = _real(draw, (D, N, N))
        radius = torch.linalg.eigvals(A).abs().amax(-1).clamp(min=1e-12)
        A = A / radius[:, None, None] * draw(st.floats(0.0, 0.99))  # stable
        return DenseSSM(A, _real(draw, (D, N)), _real(draw, (D, N)), skip=skip, lookahead=F)
    radius = _real(draw, (D, N)).abs() * 0.99
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
