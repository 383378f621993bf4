"""Multi-query AR with the queries anywhere after the pairs (Zoology's MQAR layout): format, generator, reference.

:class:`~constructions.tasks.associative_recall.ARConfig` puts the queries right after the pairs, one
per position. Zoology's MQAR (Arora et al. 2024) puts them at scattered positions of a query region
and fills the rest with a filler token (``random_non_queries=False``) or with uniform random tokens
of the whole vocabulary (``True``), so a filler may be a key or a value. The answer positions differ
per instance, so they are data: an instance carries its query positions.

Vocabulary (ids in this order): ``key`` ``0..K-1``, ``value`` ``K..K+V-1``, ``filler``
``K+V..K+V+F-1`` (tokens that are neither; Zoology's 0). Layout, ``P = num_passes`` copies of the
pairs then the query region::

    position   0   1   ...  2N-2  2N-1 | (P - 1 more copies) | 2NP ........................ T-1
    token      k_1 v_1 ...  k_N   v_N  |                     | any token; Q of them are queries

Worked example, ``ScatteredARConfig(num_keys=4, num_values=4, num_pairs=2, num_queries=2, length=8)``::

    ids        1 5   3 4   8 3 6 1          (filler 8, value token 6 as a random filler)
    queries                  ^   ^          positions 5 and 7: keys 3 and 1
    answers                  4   5

**The exact answer** at a query position ``t`` holding key ``q`` is the value paired with ``q`` in the
pairs region: the value after the *first* occurrence of ``q``. A random filler may repeat ``q`` earlier
in the query region, followed by some token ``u``; that occurrence is not a pair and does not change
the answer. Which constructions deliver it (``reference_answers_at`` is the rule; tests check each):

* selecting the **first** match: the binary-code attention (hardmax, ties to the earliest position,
  key positions ruled out by its value bonus) answers every instance exactly;
* **summing** the matches: the outer-product memory with ``clip_counts=True`` (``min(count, 1)``) is
  exact exactly where no occurrence of ``q`` before ``t`` is followed by a value token other than the
  answer (:func:`foreign_value_after_query`); unclipped, exactly where moreover no (key, value) cell
  was written twice before ``t`` (:func:`repeated_cells`: a count of 2 leaks into every answer);
* the linear Zoology attention (no softmax, the proposition's form) returns the *count* of each value
  after ``q``: exact exactly where ``q`` is followed by a value token once before ``t``
  (:func:`values_after_query`).

No SSM+FNN construction of the suite delivers the answer where a filler repeats ``q`` with another
value: that needs a write gate closed after the pairs region (not built).

Keys within the pairs are distinct; values may repeat. The generator is a pure function of
(config, batch size, seed).
"""

from __future__ import annotations

from dataclasses import dataclass, field

import torch

from ..errors import InfeasibleTaskError, ShapeError, require_positive_int, require_rank
from ..vocabulary import Vocabulary
from .sampling import as_generator, sample_distinct


@dataclass(frozen=True)
class ScatteredARConfig:
    num_keys: int
    num_values: int
    num_pairs: int
    num_queries: int
    length: int
    num_passes: int = 1
    fillers: int = 1

    def __post_init__(self):
        for name in ("num_keys", "num_values", "num_pairs", "num_queries", "length", "num_passes", "fillers"):
            require_positive_int(name, getattr(self, name))
        if self.num_pairs > self.num_keys:
            raise InfeasibleTaskError(f"{self.num_pairs} pairs need distinct keys, only {self.num_keys} exist")
        if self.num_queries > self.length - self.context_length:
            raise InfeasibleTaskError(f"{self.num_queries} queries do not fit in a query region of "
                                      f"{self.length - self.context_length} positions (length {self.length}, "
                                      f"pairs {self.context_length})")

    @property
    def context_length(self) -> int:
        """Positions of the pairs region: ``2 N P``."""
        return 2 * self.num_pairs * self.num_passes

    def vocabulary(self) -> Vocabulary:
        return Vocabulary.of(key=self.num_keys, value=self.num_values, filler=self.fillers)

    def position_roles(self) -> list[tuple[str, int, int]]:
        K, V = self.num_keys, self.num_values
        pair = [("key", 0, K), ("value", K, K + V)]
        return pair * (self.num_pairs * self.num_passes) + [("query region", 0, self.vocabulary().size)] * (
            self.length - self.context_length)

    def check_tokens(self, tokens: torch.Tensor) -> None:
        """:class:`~constructions.errors.SequenceLayoutError` unless ``tokens: (B, length)`` has this layout."""
        from .sequences import check_layout

        check_layout(self, tokens, self.position_roles(), self.vocabulary().size)

    def check_positions(self, positions: torch.Tensor, batch: int) -> None:
        """``positions: (B, Q)`` query positions inside the query region: :class:`ShapeError` otherwise."""
        require_rank("query positions", positions, 2)
        if tuple(positions.shape) != (batch, self.num_queries):
            raise ShapeError(f"query positions have shape {tuple(positions.shape)}, the format {self} needs "
                             f"({batch}, {self.num_queries})")
        bad = (positions < self.context_length) | (positions >= self.length)
        if bool(bad.any()):
            row, j = (int(i) for i in bad.nonzero()[0])
            raise ShapeError(f"instance {row}: query {j} at position {int(positions[row, j])} is outside the query "
                             f"region {self.context_length}..{self.length - 1}")


@dataclass
class ScatteredARBatch:
    """``tokens: (B, T)``; ``query_positions: (B, Q)``; ``answers: (B, Q)`` value ids."""

    config: ScatteredARConfig
    tokens: torch.Tensor
    query_positions: torch.Tensor
    answers: torch.Tensor
    seed: int | None = None
    meta: dict = field(default_factory=dict)

    def __len__(self) -> int:
        return self.tokens.shape[0]

    def __repr__(self) -> str:
        shown = self.tokens.tolist() if self.tokens.numel() <= 256 else f"<{tuple(self.tokens.shape)} tensor>"
        return (f"ScatteredARBatch({self.config}, tokens={shown}, query_positions="
                f"{self.query_positions.tolist() if len(self) <= 16 else '...'})")


def reference_answers_at(config: ScatteredARConfig, tokens: torch.Tensor, positions: torch.Tensor) -> torch.Tensor:
    """The value paired, in the first copy of the pairs, with the key at each query position; ``-1``
    where that token is no key of the pairs. ``tokens: (B, T)``, ``positions: (B, Q)`` -> ``(B, Q)``."""
    require_rank("tokens", tokens, 2)
    config.check_positions(positions, tokens.shape[0])
    B, N = tokens.shape[0], config.num_pairs
    pairs = tokens[:, : 2 * N].reshape(B, N, 2)
    asked = torch.gather(tokens, 1, positions)  # (B, Q)
    match = asked.unsqueeze(-1) == pairs[..., 0].unsqueeze(1)  # (B, Q, N)
    answers = torch.gather(pairs[..., 1], 1, match.long().argmax(-1))
    return torch.where(match.any(-1), answers, torch.full_like(answers, -1))


def foreign_value_after_query(config: ScatteredARConfig, tokens: torch.Tensor, positions: torch.Tensor) -> torch.Tensor:
    """``(B, Q)`` bool: before query position ``t`` (key ``q``), some occurrence of ``q`` is followed by
    a value token other than the answer: the instances no summing memory answers exactly."""
    K, V = config.num_keys, config.num_values
    answers = reference_answers_at(config, tokens, positions)
    asked = torch.gather(tokens, 1, positions)
    prev, cur = tokens[:, :-1].unsqueeze(1), tokens[:, 1:].unsqueeze(1)  # adjacent pairs (s-1, s), s = 1..T-1
    s = torch.arange(1, tokens.shape[1], device=tokens.device)
    before = s.view(1, 1, -1) < positions.unsqueeze(-1)
    is_value = (cur >= K) & (cur < K + V)
    foreign = (prev == asked.unsqueeze(-1)) & is_value & (cur != answers.unsqueeze(-1)) & before
    return foreign.any(-1)


def values_after_query(config: ScatteredARConfig, tokens: torch.Tensor, positions: torch.Tensor) -> torch.Tensor:
    """``(B, Q)``: how often, before query position ``t`` (key ``q``), ``q`` is followed by a value token."""
    K, V = config.num_keys, config.num_values
    asked = torch.gather(tokens, 1, positions)
    prev, cur = tokens[:, :-1].unsqueeze(1), tokens[:, 1:].unsqueeze(1)
    s = torch.arange(1, tokens.shape[1], device=tokens.device)
    hit = (prev == asked.unsqueeze(-1)) & (cur >= K) & (cur < K + V) & (s.view(1, 1, -1) < positions.unsqueeze(-1))
    return hit.sum(-1)


def repeated_cells(config: ScatteredARConfig, tokens: torch.Tensor, positions: torch.Tensor) -> torch.Tensor:
    """``(B, Q)`` bool: before query position ``t``, some (key, value) adjacency occurred twice (a
    memory cell counted 2, which an unclipped outer-product read-out leaks into every answer)."""
    K, V = config.num_keys, config.num_values
    prev, cur = tokens[:, :-1], tokens[:, 1:]
    written = (prev < K) & (cur >= K) & (cur < K + V)
    cell = torch.where(written, prev * V + (cur - K), torch.full_like(prev, -1))  # (B, T-1), adjacency ending at s
    ordered, order = cell.sort(dim=1, stable=True)  # equal cells together, earliest first
    again = (ordered[:, 1:] == ordered[:, :-1]) & (ordered[:, 1:] >= 0)
    T = tokens.shape[1]
    ends = torch.where(again, order[:, 1:] + 1, torch.full_like(order[:, 1:], T))  # position s of a second write
    first_repeat = ends.min(-1).values if ends.shape[1] else torch.full((tokens.shape[0],), T, device=tokens.device)
    return first_repeat.unsqueeze(-1) < positions


def generate(config: ScatteredARConfig, batch: int, seed: int | torch.Generator, *, random_fillers: bool = True) -> ScatteredARBatch:
    """``batch`` instances: distinct keys, i.i.d. values, every pass the same pairs, ``Q`` distinct
    queried pairs at ``Q`` distinct positions of the query region drawn uniformly (in increasing order),
    the other positions the first filler or (``random_fillers``) a uniform token of the vocabulary."""
    require_positive_int("batch", batch)
    gen = as_generator(seed)
    K, V, N, Q, T = config.num_keys, config.num_values, config.num_pairs, config.num_queries, config.length
    keys = sample_distinct(batch, N, K, gen)
    values = K + torch.randint(0, V, (batch, N), generator=gen)
    queried = sample_distinct(batch, Q, N, gen)
    region = T - config.context_length
    positions = config.context_length + sample_distinct(batch, Q, region, gen).sort(dim=1).values
    if random_fillers:
        tokens = torch.randint(0, config.vocabulary().size, (batch, T), generator=gen)
    else:
        tokens = torch.full((batch, T), K + V, dtype=torch.long)
    pairs = torch.stack([keys, values], dim=-1).reshape(batch, 2 * N)
    tokens[:, : config.context_length] = pairs.repeat(1, config.num_passes)
    tokens.scatter_(1, positions, torch.gather(keys, 1, queried))
    return ScatteredARBatch(config, tokens, positions, torch.gather(values, 1, queried),
                            seed=seed if isinstance(seed, int) else None)
