"""The probability that a uniformly random string repeats an n-gram, exactly and by Monte Carlo.

Source: Jelassi, Brandfonbrener, Kakade, Malach 2024, "Repeat After Me" (related work), Lemma 2.4:
for a uniformly random string of length ``L`` over ``[D]``,
``P(some n-gram occurs twice) < L^2 D^(-n)``. This is the failure event of their n-gram copier
(Theorem 2.3) and of the suite's (``constructions/copying/ngram.py``).

Why it holds (the union bound, the suite's reconstruction of the proof)
-----------------------------------------------------------------------
There are ``W = L - n + 1`` windows. For two windows starting at ``i < j`` the event
``x_{i..i+n-1} = x_{j..j+n-1}`` has probability exactly ``D^-n``, overlapping or not: with
``d = j - i`` it says the stretch ``x_i..x_{j+n-1}`` (``n + d`` symbols) has period ``d`` (when
``d < n``) or that ``n`` symbol pairs agree (when ``d >= n``); either way ``n`` symbols are
determined by the others. Summing over pairs, ``P <= C(W, 2) D^-n`` and
``C(W, 2) = (L-n+1)(L-n)/2 < L^2``. (:func:`pair_collision_counts` measures the per-pair
probability by enumeration.)

What is computed
----------------
* :func:`exact_repeat_probability` -- every one of the ``D^L`` strings is enumerated (in blocks) and
  tested with :func:`constructions.tasks.copying.repeated_ngram`; an exact :class:`Fraction`.
* :func:`monte_carlo_repeat` -- seeded draws (a ``torch.Generator``, no global seeding): the count
  of strings with a repeated n-gram. The checks bound the probability with the exact one-sided
  Clopper-Pearson bound of :mod:`claims.statistics` (library code does not import the claims layer).
* :func:`jelassi_bound` ``L^2 D^-n`` and :func:`union_bound` ``C(L-n+1, 2) D^-n`` as fractions.
"""

from __future__ import annotations

from dataclasses import dataclass
from fractions import Fraction
from math import comb

import torch

from ..errors import InfeasibleTaskError, require_positive_int
from ..tasks.copying import repeated_ngram
from ..tasks.sampling import as_generator

#: default cap on the number of strings an exact enumeration may visit
DEFAULT_STRING_LIMIT = 1 << 22
#: strings tested at once
DEFAULT_BLOCK = 1 << 16


def _validate(alphabet: int, length: int, n: int) -> None:
    require_positive_int("alphabet", alphabet)
    require_positive_int("length", length)
    require_positive_int("n", n)


def jelassi_bound(alphabet: int, length: int, n: int) -> Fraction:
    """Lemma 2.4's bound ``L^2 D^-n`` (exact)."""
    _validate(alphabet, length, n)
    return Fraction(length**2, alphabet**n)


def union_bound(alphabet: int, length: int, n: int) -> Fraction:
    """The union bound over pairs of windows, ``C(L-n+1, 2) D^-n`` (0 when ``n > L``)."""
    _validate(alphabet, length, n)
    return Fraction(comb(max(length - n + 1, 0), 2), alphabet**n)


def string_block(alphabet: int, length: int, start: int, stop: int) -> torch.Tensor:
    """Strings number ``start..stop-1`` of the lexicographic enumeration of ``[alphabet]^length``
    (row ``i`` is ``i`` in base ``alphabet``), ``(stop - start, length)`` int64."""
    index = torch.arange(start, stop, dtype=torch.int64)
    powers = alphabet ** torch.arange(length - 1, -1, -1, dtype=torch.int64)
    return torch.div(index[:, None], powers[None, :], rounding_mode="floor") % alphabet


def _require_enumerable(alphabet: int, length: int, limit: int) -> int:
    total = alphabet**length
    if total > limit:
        raise InfeasibleTaskError(f"exact enumeration of D^L = {alphabet}^{length} = {total:,} strings exceeds the "
                                  f"limit of {limit:,}; use monte_carlo_repeat or raise the limit")
    return total


def exact_repeat_probability(alphabet: int, length: int, n: int, *, limit: int = DEFAULT_STRING_LIMIT,
                             block: int = DEFAULT_BLOCK) -> Fraction:
    """``P(some n-gram occurs twice)`` for a uniform string of ``length`` over ``[alphabet]``, exactly:
    the number of the ``D^L`` strings with a repeated n-gram over ``D^L`` (enumerated in blocks)."""
    _validate(alphabet, length, n)
    total = _require_enumerable(alphabet, length, limit)
    hits = 0
    for start in range(0, total, block):
        strings = string_block(alphabet, length, start, min(total, start + block))
        hits += int(repeated_ngram(strings, n, alphabet).sum())
    return Fraction(hits, total)


def pair_collision_counts(alphabet: int, length: int, n: int, *, limit: int = DEFAULT_STRING_LIMIT,
                          block: int = DEFAULT_BLOCK) -> torch.Tensor:
    """``(W, W)`` int64, ``W = L - n + 1``: entry ``[i, j]`` counts the strings whose windows at
    ``i`` and ``j`` are equal (by enumeration). The union-bound argument needs ``D^(L-n)`` off the
    diagonal, i.e. probability ``D^-n`` per pair."""
    _validate(alphabet, length, n)
    if n > length:
        raise InfeasibleTaskError(f"n = {n} exceeds the length {length}: there are no windows")
    total = _require_enumerable(alphabet, length, limit)
    W = length - n + 1
    powers = alphabet ** torch.arange(n - 1, -1, -1, dtype=torch.int64)
    counts = torch.zeros(W, W, dtype=torch.int64)
    for start in range(0, total, block):
        strings = string_block(alphabet, length, start, min(total, start + block))
        codes = (strings.unfold(1, n, 1) * powers).sum(-1)  # (B, W)
        counts += (codes[:, :, None] == codes[:, None, :]).sum(0)
    return counts


@dataclass(frozen=True)
class MonteCarloRepeat:
    """Seeded count of strings with a repeated n-gram among ``samples`` uniform draws."""

    alphabet: int
    length: int
    n: int
    samples: int
    hits: int
    seed: int

    @property
    def estimate(self) -> float:
        return self.hits / self.samples

    def to_dict(self) -> dict:
        return dict(alphabet=self.alphabet, length=self.length, n=self.n, samples=self.samples, hits=self.hits,
                    seed=self.seed, estimate=self.estimate,
                    bound_L2_D_minus_n=float(jelassi_bound(self.alphabet, self.length, self.n)),
                    union_bound=float(union_bound(self.alphabet, self.length, self.n)))


def monte_carlo_repeat(alphabet: int, length: int, n: int, samples: int, seed: int, *,
                       block: int = DEFAULT_BLOCK) -> MonteCarloRepeat:
    """Draw ``samples`` uniform strings (a fresh ``torch.Generator`` seeded with ``seed``; drawn in
    blocks of ``block``) and count those with a repeated n-gram."""
    _validate(alphabet, length, n)
    require_positive_int("samples", samples)
    require_positive_int("block", block)
    if isinstance(seed, bool) or not isinstance(seed, int):
        raise InfeasibleTaskError(f"seed must be an integer, got {seed!r}")
    generator = as_generator(seed)
    hits = 0
    for start in range(0, samples, block):
        size = min(block, samples - start)
        strings = torch.randint(0, alphabet, (size, length), generator=generator)
        hits += int(repeated_ngram(strings, n, alphabet).sum())
    return MonteCarloRepeat(alphabet, length, n, samples, hits, seed)
