"""Token vocabularies made of named segments (keys, values, query tokens, separators ...).

Token ids are laid out segment after segment: ``Vocabulary.of(key=8, value=8)`` gives keys the
ids ``0..7`` and values ``8..15``. Tasks describe their tokens this way, and embeddings (one-hot,
binary codes) read the segments to know which channels a token writes.
"""

from __future__ import annotations

from dataclasses import dataclass

import torch

from .errors import InfeasibleTaskError, TokenRangeError


@dataclass(frozen=True)
class Vocabulary:
    segments: tuple[tuple[str, int], ...]

    def __post_init__(self):
        names = [n for n, _ in self.segments]
        if len(set(names)) != len(names):
            raise InfeasibleTaskError(f"vocabulary segment names must be unique, got {names}")
        for name, size in self.segments:
            if not isinstance(size, int) or size < 1:
                raise InfeasibleTaskError(f"vocabulary segment {name!r} needs a positive size, got {size!r}")

    @classmethod
    def of(cls, **sizes: int) -> "Vocabulary":
        return cls(tuple(sizes.items()))

    @property
    def size(self) -> int:
        return sum(s for _, s in self.segments)

    @property
    def names(self) -> tuple[str, ...]:
        return tuple(n for n, _ in self.segments)

    def segment_size(self, name: str) -> int:
        return dict(self.segments)[name]

    def offset(self, name: str) -> int:
        start = 0
        for n, s in self.segments:
            if n == name:
                return start
            start += s
        raise KeyError(f"no segment {name!r} in vocabulary {self.names}")

    def ids(self, name: str, index):
        """Token ids of ``index`` (int or tensor) within segment ``name``."""
        return self.offset(name) + index

    def index(self, name: str, ids):
        """Index within segment ``name`` of token ids ``ids``."""
        return ids - self.offset(name)

    def check(self, tokens: torch.Tensor) -> None:
        """Raise :class:`TokenRangeError` naming the first id outside ``[0, size)``."""
        if tokens.numel() == 0:
            return
        bad = (tokens < 0) | (tokens >= self.size)
        if bool(bad.any()):
            where = tuple(int(i) for i in bad.nonzero()[0])
            raise TokenRangeError(
                f"token id {int(tokens[where])} at position {where} is outside the vocabulary [0, {self.size})"
            )
