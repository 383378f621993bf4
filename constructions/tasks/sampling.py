"""Seeded sampling helpers. No global random state is read or written."""

from __future__ import annotations

import torch

from ..errors import InfeasibleTaskError


def as_generator(seed: int | torch.Generator) -> torch.Generator:
    """A CPU ``torch.Generator``: ``seed`` itself if it is one, else a fresh one seeded with it."""
    if isinstance(seed, torch.Generator):
        return seed
    if isinstance(seed, bool) or not isinstance(seed, int):
        raise TypeError(f"seed must be an int or a torch.Generator, got {type(seed).__name__}")
    g = torch.Generator()
    g.manual_seed(seed)
    return g


def sample_distinct(batch: int, k: int, population: int, gen: torch.Generator) -> torch.Tensor:
    """``(batch, k)`` int64: each row ``k`` distinct draws from ``range(population)``, in random order.

    Small populations use a random permutation per row; large ones draw with replacement and redraw
    the duplicates until none are left (fast while ``k`` is far below ``population``).
    """
    if k > population:
        raise InfeasibleTaskError(f"cannot draw {k} distinct items from a population of {population}")
    if k == 0 or batch == 0:
        return torch.zeros(batch, k, dtype=torch.long)
    if population <= max(4 * k, 1 << 12) and batch * population <= (1 << 24):
        return torch.rand(batch, population, generator=gen).argsort(dim=1)[:, :k]
    draws = torch.randint(0, population, (batch, k), generator=gen)
    while True:
        sorted_draws, order = draws.sort(dim=1)
        dup_sorted = torch.zeros_like(sorted_draws, dtype=torch.bool)
        dup_sorted[:, 1:] = sorted_draws[:, 1:] == sorted_draws[:, :-1]
        if not bool(dup_sorted.any()):
            return draws
        dup = torch.zeros_like(dup_sorted).scatter(1, order, dup_sorted)
        draws[dup] = torch.randint(0, population, (int(dup.sum()),), generator=gen)
