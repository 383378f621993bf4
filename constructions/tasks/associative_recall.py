"""Associative recall (AR) and multi-query AR (MQAR): typed format, seeded generator, reference.

Vocabulary (ids in this order): ``key`` tokens ``0..K-1``, ``value`` tokens ``K..K+V-1`` (disjoint
key and value vocabularies, as in Zoology's MQAR), and in the query-first format one segment of
query tokens per key position, ``query0``, ``query1``, ... (a query token is a key written as a
question; its segment says which token of the n-gram key it is).

A key is an n-gram of key tokens (``key_length = n``, n = 1 is ordinary AR). Two formats:

* ``query="last"`` (standard AR/MQAR)::

      k_1 v_1  k_2 v_2 ... k_N v_N  q_1 q_2 ... q_Q        (each k_i, q_j an n-gram)

  answer j is the value paired with key ``q_j``, read at the last token of ``q_j``.

* ``query="first"`` (the query is seen before the keys)::

      q  k_1 v_1 ... k_N v_N                                (q in the query segments)

  one answer, the value paired with key ``q``, read at the last position.

Worked example, ``ARConfig(num_keys=4, num_values=4, num_pairs=3, num_queries=2)``::

    ids      1 6   3 4   0 6   3 1
    roles    k v   k v   k v   q q
    answers                    4 6        (v(3) = 4, v(1) = 6) at positions 6 and 7

Keys within an instance are distinct; values may repeat; the queried pairs are distinct. The
generator is a pure function of (config, batch size, seed).
"""

from __future__ import annotations

import itertools
import math
from dataclasses import dataclass, field
from typing import Literal

import torch

from ..errors import InfeasibleTaskError, ShapeError, require_positive_int, require_rank
from ..vocabulary import Vocabulary
from .sampling import as_generator, sample_distinct

QueryPosition = Literal["last", "first"]

#: Largest number of distinct n-gram keys the generator handles (int64 arithmetic).
MAX_KEY_SPACE = 1 << 62


@dataclass(frozen=True)
class ARConfig:
    num_keys: int
    num_values: int
    num_pairs: int
    num_queries: int = 1
    key_length: int = 1
    query: QueryPosition = "last"

    def __post_init__(self):
        for name in ("num_keys", "num_values", "num_pairs", "num_queries", "key_length"):
            require_positive_int(name, getattr(self, name))
        if self.query not in ("last", "first"):
            raise InfeasibleTaskError(f"query must be 'last' or 'first', got {self.query!r}")
        if self.key_space >= MAX_KEY_SPACE:
            raise InfeasibleTaskError(f"num_keys ** key_length = {self.key_space} is too large (limit 2^62)")
        if self.num_pairs > self.key_space:
            raise InfeasibleTaskError(
                f"{self.num_pairs} pairs need {self.num_pairs} distinct keys, but only "
                f"{self.num_keys}^{self.key_length} = {self.key_space} exist"
            )
        if self.num_queries > self.num_pairs:
            raise InfeasibleTaskError(f"{self.num_queries} distinct queries need at least as many pairs, got {self.num_pairs}")
        if self.query == "first" and self.num_queries != 1:
            raise InfeasibleTaskError("the query-first format has exactly one query (num_queries=1)")

    @property
    def key_space(self) -> int:
        return self.num_keys**self.key_length

    @property
    def pair_length(self) -> int:
        return self.key_length + 1

    @property
    def length(self) -> int:
        n = self.key_length
        return self.num_pairs * (n + 1) + self.num_queries * n

    def vocabulary(self) -> Vocabulary:
        segments = [("key", self.num_keys), ("value", self.num_values)]
        if self.query == "first":
            segments += [(f"query{j}", self.num_keys) for j in range(self.key_length)]
        return Vocabulary(tuple(segments))

    def pairs_start(self) -> int:
        return self.key_length if self.query == "first" else 0

    def position_roles(self) -> list[tuple[str, int, int]]:
        """Per position, the role and the ids ``lo .. hi - 1`` that may stand there (module docstring)."""
        vocab = self.vocabulary()

        def role(name: str) -> tuple[str, int, int]:
            return (name, vocab.offset(name), vocab.offset(name) + vocab.segment_size(name))

        pair = [role("key")] * self.key_length + [role("value")]
        if self.query == "first":
            return [role(f"query{j}") for j in range(self.key_length)] + pair * self.num_pairs
        return pair * self.num_pairs + [role("key")] * (self.key_length * self.num_queries)

    def check_tokens(self, tokens: torch.Tensor) -> None:
        """:class:`~constructions.errors.SequenceLayoutError` unless ``tokens: (B, length)`` has this layout."""
        from .sequences import check_layout

        check_layout(self, tokens, self.position_roles(), self.vocabulary().size)

    def answer_positions(self) -> torch.Tensor:
        n = self.key_length
        if self.query == "first":
            return torch.tensor([self.length - 1])
        start = self.num_pairs * (n + 1)
        return start + torch.arange(self.num_queries) * n + (n - 1)


@dataclass
class ARBatch:
    """A batch of instances. ``tokens: (B, T)``; ``keys: (B, N, n)`` key-token indices;
    ``values: (B, N)`` value indices; ``queried: (B, Q)`` which pair each query asks for;
    ``answers: (B, Q)`` answer token ids at ``answer_positions: (Q,)``."""

    config: ARConfig
    tokens: torch.Tensor
    keys: torch.Tensor
    values: torch.Tensor
    queried: torch.Tensor
    answers: torch.Tensor
    answer_positions: torch.Tensor
    seed: int | None = None
    meta: dict = field(default_factory=dict)

    def __len__(self) -> int:
        return self.tokens.shape[0]

    def __repr__(self) -> str:  # compact: hypothesis prints it in falsifying examples
        shown = self.tokens.tolist() if self.tokens.numel() <= 256 else f"<{tuple(self.tokens.shape)} tensor>"
        return f"ARBatch({self.config}, tokens={shown}, answers={self.answers.tolist() if len(self) <= 16 else '...'})"

    def to(self, device) -> "ARBatch":
        moved = {k: getattr(self, k).to(device) for k in ("tokens", "keys", "values", "queried", "answers", "answer_positions")}
        return ARBatch(self.config, **moved, seed=self.seed, meta=self.meta)

    def select(self, rows) -> "ARBatch":
        picked = {k: getattr(self, k)[rows] for k in ("tokens", "keys", "values", "queried", "answers")}
        return ARBatch(self.config, **picked, answer_positions=self.answer_positions, seed=self.seed, meta=self.meta)


def _digits(codes: torch.Tensor, base: int, count: int) -> torch.Tensor:
    """Base-``base`` digits of ``codes``, most significant first: ``(..., count)``."""
    powers = base ** torch.arange(count - 1, -1, -1, dtype=torch.long)
    return (codes.unsqueeze(-1) // powers) % base


def assemble(config: ARConfig, keys: torch.Tensor, values: torch.Tensor, queried: torch.Tensor, seed=None) -> ARBatch:
    """Lay out token sequences for given keys ``(B, N, n)``, values ``(B, N)``, queried pairs ``(B, Q)``."""
    B, N, n = keys.shape
    if (N, n) != (config.num_pairs, config.key_length) or values.shape != (B, N) or queried.shape != (B, config.num_queries):
        raise ShapeError(
            f"keys {tuple(keys.shape)}, values {tuple(values.shape)}, queried {tuple(queried.shape)} "
            f"do not fit {config}"
        )
    vocab = config.vocabulary()
    pair_tokens = torch.cat([vocab.ids("key", keys), vocab.ids("value", values).unsqueeze(-1)], dim=-1)  # (B, N, n+1)
    query_keys = torch.gather(keys, 1, queried.unsqueeze(-1).expand(-1, -1, n))  # (B, Q, n)
    if config.query == "first":
        query_tokens = torch.stack([vocab.ids(f"query{j}", query_keys[:, 0, j]) for j in range(n)], dim=-1)
        tokens = torch.cat([query_tokens, pair_tokens.reshape(B, -1)], dim=1)
    else:
        tokens = torch.cat([pair_tokens.reshape(B, -1), vocab.ids("key", query_keys).reshape(B, -1)], dim=1)
    answers = vocab.ids("value", torch.gather(values, 1, queried))
    return ARBatch(config, tokens, keys, values, queried, answers, config.answer_positions(), seed)


def generate(config: ARConfig, batch: int, seed: int | torch.Generator) -> ARBatch:
    """``batch`` instances drawn uniformly: distinct keys, i.i.d. values, distinct queried pairs."""
    require_positive_int("batch", batch)
    gen = as_generator(seed)
    codes = sample_distinct(batch, config.num_pairs, config.key_space, gen)
    keys = _digits(codes, config.num_keys, config.key_length)
    values = torch.randint(0, config.num_values, (batch, config.num_pairs), generator=gen)
    queried = sample_distinct(batch, config.num_queries, config.num_pairs, gen)
    return assemble(config, keys, values, queried, seed if isinstance(seed, int) else None)


def instance_count(config: ARConfig) -> int:
    """Number of distinct instances: ordered distinct keys x values x ordered distinct queries."""
    return math.perm(config.key_space, config.num_pairs) * config.num_values**config.num_pairs * math.perm(
        config.num_pairs, config.num_queries
    )


def enumerate_instances(config: ARConfig, limit: int = 1 << 20) -> ARBatch:
    """Every instance of a tiny configuration (for exhaustive checks)."""
    total = instance_count(config)
    if total > limit:
        raise InfeasibleTaskError(f"{config} has {total} instances, more than the enumeration limit {limit}")
    key_orders = torch.tensor(list(itertools.permutations(range(config.key_space), config.num_pairs)), dtype=torch.long)
    value_sets = torch.tensor(list(itertools.product(range(config.num_values), repeat=config.num_pairs)), dtype=torch.long)
    query_sets = torch.tensor(list(itertools.permutations(range(config.num_pairs), config.num_queries)), dtype=torch.long)
    ki, vi, qi = torch.meshgrid(
        torch.arange(len(key_orders)), torch.arange(len(value_sets)), torch.arange(len(query_sets)), indexing="ij"
    )
    keys = _digits(key_orders[ki.reshape(-1)], config.num_keys, config.key_length)
    return assemble(config, keys, value_sets[vi.reshape(-1)], query_sets[qi.reshape(-1)])


def reference_answers(config: ARConfig, tokens: torch.Tensor) -> torch.Tensor:
    """The answers read directly off the token sequences, without the generator's bookkeeping.

    For every query, compare its n-gram with every pair's key n-gram and return the value token of
    the (unique) match; ``-1`` where no key matches. ``tokens: (B, T)`` -> ``(B, Q)``.
    """
    require_rank("tokens", tokens, 2)
    B, T = tokens.shape
    if T != config.length:
        raise ShapeError(f"tokens have length {T}, the format {config} has length {config.length}")
    n, N = config.key_length, config.num_pairs
    vocab = config.vocabulary()
    start = config.pairs_start()
    pairs = tokens[:, start : start + N * (n + 1)].reshape(B, N, n + 1)
    pair_keys, pair_values = pairs[..., :n] - vocab.offset("key"), pairs[..., n]
    if config.query == "first":
        query_keys = torch.stack([tokens[:, j] - vocab.offset(f"query{j}") for j in range(n)], dim=-1).unsqueeze(1)
    else:
        query_keys = tokens[:, N * (n + 1) :].reshape(B, config.num_queries, n) - vocab.offset("key")
    match = (query_keys.unsqueeze(2) == pair_keys.unsqueeze(1)).all(-1)  # (B, Q, N)
    found = match.any(-1)
    which = match.float().argmax(-1)
    answers = torch.gather(pair_values, 1, which)
    return torch.where(found, answers, torch.full_like(answers, -1))
