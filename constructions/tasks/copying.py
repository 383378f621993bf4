"""Input copying (Jelassi et al. 2024): typed format, seeded generator, reference, decoding.

Vocabulary (ids in this order): ``symbol`` tokens ``0..D-1`` (the alphabet), then ``BOS``, ``SEP``,
``EOS``. A string ``s`` of length ``n`` is laid out as::

    position  0    1 .. n      n+1   n+2 .. 2n+1   2n+2
    token     BOS  s_1 .. s_n  SEP   s_1 .. s_n    EOS

A model predicts the next token: at every position ``p`` from ``n+1`` (SEP) to ``2n+1`` it must
output ``x_{p+1}``, i.e. ``s_1, ..., s_n`` and finally ``EOS``. Error is string-level: one wrong
prediction and the copy fails.

* **Teacher forcing**: feed the whole sequence once, read the ``n+1`` predictions.
* **Free-running greedy decoding**: feed ``BOS s SEP``, append the model's prediction, repeat.

Worked example, ``CopyConfig(alphabet=3, length=2)``, ``s = (2, 0)``::

    tokens       3  2  0  4  2  0  5        (BOS = 3, SEP = 4, EOS = 5)
    predictions           2  0  5           at positions 3, 4, 5
"""

from __future__ import annotations

from dataclasses import dataclass
from functools import lru_cache

import torch

from ..errors import InfeasibleTaskError, ShapeError, require_positive_int, require_rank
from ..vocabulary import Vocabulary
from .sampling import as_generator, sample_distinct


class SymbolsAndMarkers:
    """The vocabulary of Jelassi et al.'s string tasks: ``alphabet`` symbols, then BOS, SEP and EOS
    (``$ | .``); shared by copying and n-gram lookup."""

    alphabet: int

    def vocabulary(self) -> Vocabulary:
        return Vocabulary.of(symbol=self.alphabet, bos=1, sep=1, eos=1)

    @property
    def bos(self) -> int:
        return self.alphabet

    @property
    def sep(self) -> int:
        return self.alphabet + 1

    @property
    def eos(self) -> int:
        return self.alphabet + 2


@dataclass(frozen=True)
class CopyConfig(SymbolsAndMarkers):
    alphabet: int
    length: int

    def __post_init__(self):
        require_positive_int("alphabet", self.alphabet)
        require_positive_int("length", self.length)

    @property
    def sequence_length(self) -> int:
        return 2 * self.length + 3

    def answer_positions(self) -> torch.Tensor:
        """Positions whose next token must be predicted: SEP and the copied symbols."""
        return torch.arange(self.length + 1, 2 * self.length + 2)

    def position_roles(self) -> list[tuple[str, int, int]]:
        """Per position, the role and the ids ``lo .. hi - 1`` that may stand there: BOS, symbols, SEP, symbols, EOS."""
        symbol = ("symbol", 0, self.alphabet)
        return [("BOS", self.bos, self.bos + 1), *[symbol] * self.length, ("SEP", self.sep, self.sep + 1),
                *[symbol] * self.length, ("EOS", self.eos, self.eos + 1)]

    def check_tokens(self, tokens: torch.Tensor) -> None:
        """:class:`~constructions.errors.SequenceLayoutError` unless ``tokens: (B, 2n+3)`` has this layout."""
        from .sequences import check_layout

        check_layout(self, tokens, self.position_roles(), self.vocabulary().size)


@dataclass
class CopyBatch:
    """``strings: (B, n)`` symbols; ``tokens: (B, 2n+3)``; ``targets: (B, n+1)`` = s then EOS."""

    config: CopyConfig
    strings: torch.Tensor
    tokens: torch.Tensor
    targets: torch.Tensor
    seed: int | None = None

    def __len__(self) -> int:
        return self.tokens.shape[0]

    def __repr__(self) -> str:
        shown = self.strings.tolist() if self.strings.numel() <= 256 else f"<{tuple(self.strings.shape)} tensor>"
        return f"CopyBatch({self.config}, strings={shown})"

    def prompts(self) -> torch.Tensor:
        """``BOS s SEP``: what free-running decoding starts from, ``(B, n+2)``."""
        return self.tokens[:, : self.config.length + 2]


def assemble(config: CopyConfig, strings: torch.Tensor) -> CopyBatch:
    require_rank("strings", strings, 2)
    if strings.shape[1] != config.length:
        raise ShapeError(f"strings have length {strings.shape[1]}, the format {config} needs {config.length}")
    B = strings.shape[0]
    col = lambda v: torch.full((B, 1), v, dtype=torch.long, device=strings.device)  # noqa: E731
    tokens = torch.cat([col(config.bos), strings, col(config.sep), strings, col(config.eos)], dim=1)
    targets = torch.cat([strings, col(config.eos)], dim=1)
    return CopyBatch(config, strings, tokens, targets)


def generate(config: CopyConfig, batch: int, seed: int | torch.Generator) -> CopyBatch:
    """``batch`` strings drawn uniformly from ``alphabet^length`` (the uniform copy distribution)."""
    require_positive_int("batch", batch)
    strings = torch.randint(0, config.alphabet, (batch, config.length), generator=as_generator(seed))
    out = assemble(config, strings)
    out.seed = seed if isinstance(seed, int) else None
    return out


def reference_next_tokens(config: CopyConfig, tokens: torch.Tensor) -> torch.Tensor:
    """The correct predictions, read directly off teacher-forced sequences: the token after each
    answer position, ``(B, n+1)``."""
    require_rank("tokens", tokens, 2)
    if tokens.shape[1] != config.sequence_length:
        raise ShapeError(f"tokens have length {tokens.shape[1]}, the format {config} has {config.sequence_length}")
    return tokens[:, config.answer_positions().to(tokens.device) + 1]


def all_strings(alphabet: int, length: int) -> torch.Tensor:
    """Every string of ``length`` symbols, ``(alphabet^length, length)``, in lexicographic order."""
    require_positive_int("alphabet", alphabet)
    grid = torch.cartesian_prod(*[torch.arange(alphabet)] * length) if length > 1 else torch.arange(alphabet).unsqueeze(1)
    return grid.reshape(-1, length)


def repeated_ngram(strings: torch.Tensor, n: int, alphabet: int) -> torch.Tensor:
    """``(B,)`` bool: does some n-gram occur twice in the string (Jelassi's failure event)?

    Each n-gram is coded as an integer in base ``alphabet``; duplicates are found by sorting.
    """
    require_rank("strings", strings, 2)
    require_positive_int("n", n)
    B, L = strings.shape
    if n > L:
        return torch.zeros(B, dtype=torch.bool, device=strings.device)
    if alphabet**n >= 1 << 62:
        raise ShapeError(f"alphabet^n = {alphabet}^{n} does not fit in int64 codes")
    powers = alphabet ** torch.arange(n - 1, -1, -1, device=strings.device)
    codes = (strings.unfold(1, n, 1) * powers).sum(-1).sort(dim=1).values  # (B, L-n+1)
    return (codes[:, 1:] == codes[:, :-1]).any(-1)


def strings_without_repeated_ngram(alphabet: int, n: int, length: int) -> torch.Tensor:
    """Every string of ``length`` symbols in which no n-gram occurs twice, ``(count, length)``; none
    is longer than :func:`longest_without_repeated_ngram`."""
    strings = all_strings(alphabet, length)
    return strings[~repeated_ngram(strings, n, alphabet)]


def longest_without_repeated_ngram(alphabet: int, n: int) -> int:
    """``D^n + n - 1``: a string with ``D^n + 1`` n-grams repeats one (a de Bruijn sequence attains it)."""
    return alphabet**n + n - 1


@lru_cache(maxsize=16)
def de_bruijn(k: int, n: int) -> torch.Tensor:
    """The lexicographically least de Bruijn sequence B(k, n) (FKM algorithm): every n-gram over
    ``k`` symbols occurs exactly once cyclically. Built once per (k, n), not on a hot path."""
    a, seq = [0] * (n + 1), []
    t = 1
    while True:  # generate Lyndon words of length dividing n, in order
        if n % t == 0:
            seq.extend(a[1 : t + 1])
        t = n
        while t > 0 and a[t] == k - 1:
            t -= 1
        if t == 0:
            return torch.tensor(seq, dtype=torch.long)
        a[t] += 1
        for j in range(t + 1, n + 1):
            a[j] = a[j - t]


def distinct_ngram_strings(alphabet: int, n: int, length: int, instances: int, seed: int) -> torch.Tensor:
    """``(instances, length)`` strings without a repeated n-gram: distinct symbols when the alphabet
    allows, else random windows of a de Bruijn sequence with the symbols randomly relabelled."""
    gen = as_generator(seed)
    if alphabet >= length:
        return sample_distinct(instances, length, alphabet, gen)
    seq = de_bruijn(alphabet, n)
    if length - n + 1 > len(seq):
        raise InfeasibleTaskError(f"strings of length {length} over {alphabet} symbols must repeat a {n}-gram")
    start = torch.randint(0, len(seq), (instances, 1), generator=gen)
    windows = seq[(start + torch.arange(length)) % len(seq)]
    relabel = torch.rand(instances, alphabet, generator=gen).argsort(dim=1)
    return torch.gather(relabel, 1, windows)
