"""Synthetic planted-motif DNA: the alphabet, the task format and the seeded generator.

:class:`GenomicConfig` (length, one motif per class, background, optional fixed start) and
:func:`generate` (background over ``ACGT``, i.i.d. or a first-order Markov chain; the class motif
planted once at a uniform or fixed start; redrawn until it is the only occurrence of any class
motif), returning :class:`GenomicData` with the ground truth (labels, starts, motif masks).
:func:`encode`/:func:`decode` map ``"ACGT"`` strings to token ids; :func:`check_tokens` validates ids.
"""

from __future__ import annotations

from dataclasses import dataclass

import torch

from constructions.errors import ShapeError, TokenRangeError

from ..models import ConfigError, require_int, require_option


ALPHABET = "ACGT"
BACKGROUNDS: tuple[str, ...] = ("uniform", "markov")


#: A GC-rich first-order Markov chain (rows: previous base A, C, G, T; columns: next base); the
#: ``"markov"`` background. Any row-stochastic 4 x 4 matrix may be given instead.
GC_RICH_TRANSITIONS: tuple[tuple[float, ...], ...] = (
    (0.20, 0.30, 0.30, 0.20),
    (0.15, 0.35, 0.35, 0.15),
    (0.15, 0.35, 0.35, 0.15),
    (0.20, 0.30, 0.30, 0.20),
)


def encode(sequence: str) -> torch.Tensor:
    """``"ACGT..."`` -> token ids ``(len,)`` int64 (A=0, C=1, G=2, T=3); other letters raise."""
    bad = sorted(set(sequence) - set(ALPHABET))
    if bad:
        raise TokenRangeError(f"DNA sequences use the letters {ALPHABET}; got {bad} in {sequence!r}")
    return torch.tensor([ALPHABET.index(ch) for ch in sequence], dtype=torch.int64)


def decode(tokens: torch.Tensor) -> str:
    """Token ids ``(len,)`` -> ``"ACGT..."``."""
    check_tokens(tokens.reshape(1, -1))
    return "".join(ALPHABET[int(t)] for t in tokens.reshape(-1))


def check_tokens(tokens: torch.Tensor, vocab_size: int = len(ALPHABET)) -> None:
    """Raise unless ``tokens`` are integer ids ``(batch, L)`` in ``[0, vocab_size)``."""
    if not isinstance(tokens, torch.Tensor) or tokens.dim() != 2 or tokens.dtype not in (torch.int32, torch.int64):
        raise ShapeError(f"tokens must be integer ids of shape (batch, L), got "
                         f"{getattr(tokens, 'dtype', type(tokens).__name__)} {tuple(getattr(tokens, 'shape', ()))}")
    if tokens.numel() and (int(tokens.min()) < 0 or int(tokens.max()) >= vocab_size):
        raise TokenRangeError(f"token ids must lie in [0, {vocab_size}), got range "
                              f"[{int(tokens.min())}, {int(tokens.max())}]")


def check_background(background: str, transitions) -> None:
    """A background name of :data:`BACKGROUNDS` and ``transitions`` ``None`` or a row-stochastic 4 x 4
    matrix (:class:`ConfigError` naming the problem); shared by both generators' configs."""
    require_option("background", background, BACKGROUNDS)
    if transitions is not None:
        P = torch.tensor(transitions, dtype=torch.float64)
        if P.shape != (4, 4) or (P < 0).any() or not torch.allclose(P.sum(1), torch.ones(4, dtype=torch.float64)):
            raise ConfigError(f"transitions must be a row-stochastic 4 x 4 matrix, got {transitions!r}")


@dataclass(frozen=True)
class GenomicConfig:
    """Synthetic planted-motif DNA classification; validated on construction (:class:`ConfigError`).

    ``length``: L. ``motifs``: one motif per class (strings over ``ACGT``, all of one length ``m``,
    distinct). ``background``: ``"uniform"`` (i.i.d. bases) or ``"markov"`` (first-order chain with
    ``transitions``, default :data:`GC_RICH_TRANSITIONS`; the first base uniform).
    ``fixed_start``: ``None`` (the motif's start is uniform over ``0 .. L - m``, the experiment) or
    a start used for every sequence (the fixed-position control).
    """

    length: int = 96
    motifs: tuple[str, ...] = ("TATAAT", "CAGCTG")
    background: str = "uniform"
    transitions: tuple[tuple[float, ...], ...] | None = None
    fixed_start: int | None = None

    def __post_init__(self):
        require_int("length", self.length, 2)
        if not isinstance(self.motifs, tuple) or len(self.motifs) < 2:
            raise ConfigError(f"motifs must be a tuple of at least two motifs (one per class), got {self.motifs!r}")
        for motif in self.motifs:
            if not isinstance(motif, str) or not motif or set(motif) - set(ALPHABET):
                raise ConfigError(f"a motif must be a non-empty string over {ALPHABET}, got {motif!r}")
        if len({len(m) for m in self.motifs}) != 1 or len(set(self.motifs)) != len(self.motifs):
            raise ConfigError(f"motifs must be distinct and of one length, got {self.motifs!r}")
        if self.motif_length > self.length:
            raise ConfigError(f"motif length {self.motif_length} exceeds the sequence length {self.length}")
        check_background(self.background, self.transitions)
        if self.fixed_start is not None:
            require_int("fixed_start", self.fixed_start, 0)
            if self.fixed_start > self.length - self.motif_length:
                raise ConfigError(f"fixed_start {self.fixed_start} leaves no room for a motif of length "
                                  f"{self.motif_length} in L = {self.length}")

    @property
    def motif_length(self) -> int:
        return len(self.motifs[0])

    @property
    def classes(self) -> int:
        return len(self.motifs)

    @property
    def n_classes(self) -> int:
        return len(self.motifs)

    @property
    def k(self) -> int:
        """The ``k`` of the importance metrics: the motif length (one planted motif a sequence)."""
        return self.motif_length

    def motif_tokens(self) -> torch.Tensor:
        """``(classes, m)`` int64 token ids of the motifs."""
        return torch.stack([encode(m) for m in self.motifs])


@dataclass
class GenomicData:
    """Generated sequences with their ground truth.

    ``tokens: (n, L)`` int64 ids, ``labels: (n,)`` classes, ``starts: (n,)`` planted motif starts;
    ``config`` and ``seed`` say how they were made.
    """

    tokens: torch.Tensor
    labels: torch.Tensor
    starts: torch.Tensor
    config: GenomicConfig
    seed: int

    def motif_mask(self) -> torch.Tensor:
        """Bool ``(n, L)``: the planted motif's positions (the ground-truth important tokens)."""
        positions = torch.arange(self.config.length, device=self.starts.device)
        offset = positions.unsqueeze(0) - self.starts.unsqueeze(1)
        return (offset >= 0) & (offset < self.config.motif_length)

    def to(self, device) -> GenomicData:
        return GenomicData(self.tokens.to(device), self.labels.to(device), self.starts.to(device), self.config, self.seed)

    def __len__(self) -> int:
        return self.tokens.shape[0]


def _background(config: GenomicConfig, n: int, generator: torch.Generator) -> torch.Tensor:
    if config.background == "uniform":
        return torch.randint(0, 4, (n, config.length), generator=generator)
    P = torch.tensor(config.transitions or GC_RICH_TRANSITIONS, dtype=torch.float64)
    out = torch.empty(n, config.length, dtype=torch.int64)
    out[:, 0] = torch.randint(0, 4, (n,), generator=generator)
    uniforms = torch.rand(config.length, n, 1, generator=generator, dtype=torch.float64)
    cumulative = P.cumsum(1)  # (4, 4)
    cumulative[:, -1] = 1.0 + 1e-12
    for t in range(1, config.length):  # vectorised over the n sequences
        out[:, t] = torch.searchsorted(cumulative[out[:, t - 1]], uniforms[t]).squeeze(1)
    return out


def motif_occurrences(tokens: torch.Tensor, motifs: torch.Tensor) -> torch.Tensor:
    """Bool ``(n, L - m + 1, classes)``: whether motif ``c`` starts at each window of each sequence."""
    windows = tokens.unfold(1, motifs.shape[1], 1)  # (n, L - m + 1, m)
    return (windows.unsqueeze(2) == motifs.to(tokens.device)).all(-1)


def _plant(config: GenomicConfig, n: int, generator: torch.Generator):
    tokens = _background(config, n, generator)
    labels = torch.randint(0, config.classes, (n,), generator=generator)
    m = config.motif_length
    if config.fixed_start is None:
        starts = torch.randint(0, config.length - m + 1, (n,), generator=generator)
    else:
        starts = torch.full((n,), config.fixed_start, dtype=torch.int64)
    columns = starts.unsqueeze(1) + torch.arange(m)  # (n, m)
    tokens.scatter_(1, columns, config.motif_tokens()[labels])
    return tokens, labels, starts


def generate(config: GenomicConfig, n: int, seed: int, max_rounds: int = 1000) -> GenomicData:
    """``n`` sequences, pure in ``(config, n, seed)``: same arguments, same tensors.

    Each sequence: background, a class drawn uniformly, its motif written at the start; redrawn
    (background, class and start together) until it contains exactly one occurrence of any class
    motif -- the planted one. ``max_rounds`` bounds the redraws (a motif the background almost
    always contains, e.g. a one-letter motif in a long sequence, raises :class:`ConfigError`).

    Example (``length=12, motifs=("TATA", "CGCG")``): label 1, start 5 ->
    ``"GATTA" + "CGCG" + "AAT"``: positions 5..8 are the important ones.
    """
    require_int("n", n, 1)
    generator = torch.Generator().manual_seed(seed)
    motifs = config.motif_tokens()
    tokens, labels, starts = _plant(config, n, generator)
    pending = torch.arange(n)  # rows not yet checked
    for _ in range(max_rounds):
        bad = pending[motif_occurrences(tokens[pending], motifs).sum((1, 2)) != 1]
        if not len(bad):
            return GenomicData(tokens, labels, starts, config, seed)
        tokens[bad], labels[bad], starts[bad] = _plant(config, len(bad), generator)
        pending = bad
    raise ConfigError(f"after {max_rounds} redraws some sequences still contain a second motif occurrence; "
                      f"the motifs {config.motifs} are too likely in a background of length {config.length}")
