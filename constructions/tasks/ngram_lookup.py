"""n-gram lookup (Jelassi et al. 2024, "Repeat After Me", §4): typed format, seeded generator, reference.

A string ``s`` of ``L`` symbols and an n-gram ``g`` of ``s`` are given; the answer is the ``A`` symbols
that follow the *first* occurrence of ``g`` in ``s``, then EOS. Two layouts (vocabulary as in
:mod:`.copying`: symbols ``0..D-1``, then BOS, SEP, EOS; Jelassi's ``$ | .``)::

    suffix key ("suffix"):  BOS s_1..s_L SEP g_1..g_n a_1..a_A EOS          length L + n + A + 3
    prefix key ("prefix"):  BOS g_1..g_n SEP s_1..s_L SEP a_1..a_A EOS      length L + n + A + 4

A model predicts the next token at the ``A + 1`` answer positions: from the last token of ``g``
(suffix) or the second SEP (prefix) to the last answer symbol, i.e. ``a_1..a_A`` then EOS.

Jelassi et al.'s data: ``n = 3`` and the answer runs to the end of ``s`` (``length_answer = -1``:
``A = L - n - i`` with ``i`` the first occurrence), or has a fixed length ``k`` (``A = k``); both are
formats here (``A`` is part of the format, so the first occurrence ``i`` satisfies ``i + n + A <= L``).

**Exactness condition** (:func:`continuation_ambiguous`). A lookup by n-gram reads the n-grams
``w_j = s[i+j .. i+j+n-1]`` for ``j = 0..A-1`` and must return ``s[i+j+n]``; it can only do so when every
occurrence of ``w_j`` in ``s`` is followed by that same symbol (the end of ``s`` counting as a follower
of its own). A string with no repeated n-gram satisfies this for every ``g``.

Worked example, ``NgramLookupConfig(alphabet=3, length=5, ngram=2, answer_length=2, key="suffix")``,
``s = (0, 1, 2, 0, 2)``, ``g = (0, 1)`` (first at ``i = 0``)::

    tokens       3  0 1 2 0 2  4  0 1  2 0  5        (BOS 3, SEP 4, EOS 5)
    predictions                     2  0  5          at positions 8, 9, 10
"""

from __future__ import annotations

from dataclasses import dataclass

import torch

from ..errors import InfeasibleTaskError, SequenceLayoutError, ShapeError, UnknownOptionError, require_positive_int, require_rank
from .copying import SymbolsAndMarkers
from .sampling import as_generator

KEYS = ("suffix", "prefix")


@dataclass(frozen=True)
class NgramLookupConfig(SymbolsAndMarkers):
    alphabet: int
    length: int
    ngram: int = 3
    answer_length: int = 1
    key: str = "suffix"

    def __post_init__(self):
        require_positive_int("alphabet", self.alphabet)
        require_positive_int("length", self.length)
        require_positive_int("ngram", self.ngram)
        require_positive_int("answer_length", self.answer_length, minimum=0)
        if self.key not in KEYS:
            raise UnknownOptionError(f"key must be one of {KEYS}, got {self.key!r}")
        if self.ngram + self.answer_length > self.length:
            raise InfeasibleTaskError(f"an n-gram of {self.ngram} and an answer of {self.answer_length} symbols do not fit "
                                      f"in a string of {self.length}")

    @property
    def sequence_length(self) -> int:
        return self.length + self.ngram + self.answer_length + (3 if self.key == "suffix" else 4)

    @property
    def answer_start(self) -> int:
        """The first answer position: the last token of ``g`` (suffix) or the second SEP (prefix)."""
        return self.length + self.ngram + 1 if self.key == "suffix" else self.length + self.ngram + 2

    def answer_positions(self) -> torch.Tensor:
        return torch.arange(self.answer_start, self.answer_start + self.answer_length + 1)

    def string_slice(self) -> slice:
        return slice(1, 1 + self.length) if self.key == "suffix" else slice(self.ngram + 2, self.ngram + 2 + self.length)

    def gram_slice(self) -> slice:
        return slice(self.length + 2, self.length + 2 + self.ngram) if self.key == "suffix" else slice(1, 1 + self.ngram)

    def position_roles(self) -> list[tuple[str, int, int]]:
        sym = ("symbol", 0, self.alphabet)
        bos, sep, eos = ("BOS", self.bos, self.bos + 1), ("SEP", self.sep, self.sep + 1), ("EOS", self.eos, self.eos + 1)
        L, n, A = self.length, self.ngram, self.answer_length
        if self.key == "suffix":
            return [bos, *[sym] * L, sep, *[sym] * (n + A), eos]
        return [bos, *[sym] * n, sep, *[sym] * L, sep, *[sym] * A, eos]

    def check_tokens(self, tokens: torch.Tensor) -> None:
        """:class:`~constructions.errors.SequenceLayoutError` unless ``tokens`` has this layout and, in
        every instance, ``g`` occurs in ``s`` with ``A`` symbols after its first occurrence."""
        from .sequences import check_layout

        check_layout(self, tokens, self.position_roles(), self.vocabulary().size)
        if tokens.numel() and not tokens.dtype.is_floating_point and bool(((tokens >= 0) & (tokens < self.vocabulary().size)).all()):
            first_occurrence(self, tokens[:, self.string_slice()], tokens[:, self.gram_slice()])


@dataclass
class LookupBatch:
    """``strings: (B, L)``, ``grams: (B, n)``, ``first: (B,)`` first occurrence, ``tokens: (B, T)``,
    ``targets: (B, A + 1)`` = the answer then EOS."""

    config: NgramLookupConfig
    strings: torch.Tensor
    grams: torch.Tensor
    first: torch.Tensor
    tokens: torch.Tensor
    targets: torch.Tensor
    seed: int | None = None

    def __len__(self) -> int:
        return self.tokens.shape[0]

    def __repr__(self) -> str:
        return f"LookupBatch({self.config}, strings={self.strings.tolist()}, grams={self.grams.tolist()})"


def first_occurrence(config: NgramLookupConfig, strings: torch.Tensor, grams: torch.Tensor) -> torch.Tensor:
    """``(B,)``: where ``g`` first occurs in ``s``; :class:`SequenceLayoutError` naming the first instance
    where it does not occur or leaves fewer than ``A`` symbols after it."""
    require_rank("strings", strings, 2)
    require_rank("grams", grams, 2)
    n, L, A = config.ngram, config.length, config.answer_length
    if strings.shape[1] != L or grams.shape[1] != n or strings.shape[0] != grams.shape[0]:
        raise ShapeError(f"strings {tuple(strings.shape)} and grams {tuple(grams.shape)} do not fit the format {config}")
    match = (strings.unfold(1, n, 1) == grams.unsqueeze(1)).all(-1)  # (B, L - n + 1)
    first = torch.where(match.any(1), match.long().argmax(1), torch.full_like(match[:, 0], L, dtype=torch.long))
    bad = first + n + A > L
    if bool(bad.any()):
        row = int(bad.nonzero()[0])
        what = "does not occur in the string" if int(first[row]) == L else f"first occurs at {int(first[row])}, leaving fewer than {A} symbols after it"
        raise SequenceLayoutError(f"instance {row}: the n-gram {grams[row].tolist()} {what} (format {config})")
    return first


def assemble(config: NgramLookupConfig, strings: torch.Tensor, grams: torch.Tensor) -> LookupBatch:
    """The instances of ``(s, g)``: answers are what follows the first occurrence of ``g``."""
    first = first_occurrence(config, strings, grams)
    B, dev = strings.shape[0], strings.device
    col = lambda v: torch.full((B, 1), v, dtype=torch.long, device=dev)  # noqa: E731
    answers = torch.gather(strings, 1, first.unsqueeze(1) + config.ngram + torch.arange(config.answer_length, device=dev))
    if config.key == "suffix":
        tokens = torch.cat([col(config.bos), strings, col(config.sep), grams, answers, col(config.eos)], dim=1)
    else:
        tokens = torch.cat([col(config.bos), grams, col(config.sep), strings, col(config.sep), answers, col(config.eos)], dim=1)
    return LookupBatch(config, strings, grams, first, tokens, torch.cat([answers, col(config.eos)], dim=1))


def generate(config: NgramLookupConfig, batch: int, seed: int | torch.Generator) -> LookupBatch:
    """``batch`` strings uniform over ``alphabet^length``; ``g`` the n-gram at a position drawn uniformly
    from ``0 .. L - n - A`` (its first occurrence is there or earlier)."""
    require_positive_int("batch", batch)
    gen = as_generator(seed)
    strings = torch.randint(0, config.alphabet, (batch, config.length), generator=gen)
    start = torch.randint(0, config.length - config.ngram - config.answer_length + 1, (batch, 1), generator=gen)
    grams = torch.gather(strings, 1, start + torch.arange(config.ngram))
    out = assemble(config, strings, grams)
    out.seed = seed if isinstance(seed, int) else None
    return out


def reference_next_tokens(config: NgramLookupConfig, tokens: torch.Tensor) -> torch.Tensor:
    """``(B, A + 1)``: the answer computed from ``s`` and ``g`` (what follows the first occurrence), then EOS."""
    config.check_tokens(tokens)
    return assemble(config, tokens[:, config.string_slice()], tokens[:, config.gram_slice()]).targets


def continuation_ambiguous(config: NgramLookupConfig, strings: torch.Tensor, grams: torch.Tensor) -> torch.Tensor:
    """``(B,)`` bool: does some n-gram ``w_j = s[i+j .. i+j+n-1]`` (``j < A``, ``i`` the first occurrence of
    ``g``) occur in ``s`` followed by another symbol, or at the end of ``s``? The exactness condition of
    the lookup constructions is its negation."""
    first = first_occurrence(config, strings, grams)
    n, L, A = config.ngram, config.length, config.answer_length
    B = strings.shape[0]
    if A == 0:
        return torch.zeros(B, dtype=torch.bool, device=strings.device)
    windows = strings.unfold(1, n, 1)  # (B, P, n), P = L - n + 1
    follower = torch.cat([strings[:, n:], torch.full((B, 1), config.alphabet, dtype=strings.dtype, device=strings.device)], 1)
    read = first.unsqueeze(1) + torch.arange(A, device=strings.device)  # (B, A) window starts read
    w = torch.gather(windows, 1, read.unsqueeze(-1).expand(-1, -1, n))  # (B, A, n)
    same = (w.unsqueeze(2) == windows.unsqueeze(1)).all(-1)  # (B, A, P)
    other = follower.unsqueeze(1) != torch.gather(follower, 1, read).unsqueeze(2)
    return (same & other).any(-1).any(-1)
