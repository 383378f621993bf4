"""Does a token sequence have the layout of a task format? The check every construction runs first.

A format lays its tokens out by position: a role per position (``key``, ``value``, ``BOS`` ...) and
the token ids that may stand there. A construction reads its answers at the format's fixed
positions, so a sequence of another length or layout would be answered at the wrong places (a
128-token row through a 48-token recall format answered at positions 32-47). :func:`check_layout`
refuses it with a :class:`~constructions.errors.SequenceLayoutError` naming the first mismatch.

Format: ``roles`` is a list, one ``(name, lo, hi)`` per position: the ids ``lo .. hi - 1`` may stand
there. Cost: two comparisons per token (batched).
"""

from __future__ import annotations

import torch

from ..errors import SequenceLayoutError, require_rank

Role = tuple[str, int, int]


def check_layout(config, tokens: torch.Tensor, roles: list[Role], vocabulary_size: int) -> None:
    """``tokens: (B, T)`` fits ``roles`` (``T = len(roles)``); ids outside ``[0, vocabulary_size)`` are left
    to the network, which names them (:class:`~constructions.errors.TokenRangeError`)."""
    require_rank("tokens", tokens, 2)
    if tokens.shape[1] != len(roles):
        raise SequenceLayoutError(f"tokens have length {tokens.shape[1]}, the format {config} has length {len(roles)}: "
                                  "its answers are read at fixed positions")
    if tokens.numel() == 0 or tokens.dtype.is_floating_point or tokens.dtype.is_complex or tokens.dtype == torch.bool:
        return  # nothing to read, or not token ids (the embedding names that)
    lo = torch.tensor([r[1] for r in roles], device=tokens.device)
    hi = torch.tensor([r[2] for r in roles], device=tokens.device)
    known = (tokens >= 0) & (tokens < vocabulary_size)
    misplaced = known & ((tokens < lo) | (tokens >= hi))
    if bool(misplaced.any()):
        row, pos = (int(i) for i in misplaced.nonzero()[0])
        name, a, b = roles[pos]
        raise SequenceLayoutError(f"instance {row}: position {pos} holds token {int(tokens[row, pos])}, but the format "
                                  f"{config} has a {name} token there (ids {a}..{b - 1})")
