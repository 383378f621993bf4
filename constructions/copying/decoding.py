"""Reading a copying construction two ways: teacher forcing and free-running greedy decoding."""

from __future__ import annotations

import torch

from ..construction import Construction
from ..ssm import Mode


def teacher_forced(construction: Construction, tokens: torch.Tensor, mode: Mode = "auto") -> torch.Tensor:
    """Predictions at the answer positions of whole sequences: ``(B, n+1)`` token ids."""
    return construction.answer(tokens, mode)


def greedy_decode(construction: Construction, prompts: torch.Tensor, steps: int, mode: Mode = "auto") -> torch.Tensor:
    """Feed ``prompts`` (``BOS s SEP``), append the network's prediction at the last position,
    ``steps`` times; returns the ``(B, steps)`` generated tokens. Each step reruns the network on
    the whole prefix (batched over instances): ``O(steps x length)`` work, a reference, not a
    fast decoder."""
    sequence = prompts
    generated = []
    with torch.no_grad():
        for _ in range(steps):
            out = construction.network(sequence, mode)[:, -1:]
            nxt = construction.code.decode(out)
            generated.append(nxt)
            sequence = torch.cat([sequence, nxt], dim=1)
    return torch.cat(generated, dim=1)
