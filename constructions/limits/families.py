"""Prefix families for the sketch arguments of :mod:`constructions.limits.sketch`.

A family is a batch of prefixes and, for each, the correct answer after each continuation
(``answers: (B, C)``, :data:`~constructions.limits.sketch.UNDEFINED` where none is defined):

* :func:`recall_query_last` -- the pairs ``k_1 v_1 ... k_N v_N`` of query-last recall; continuation
  ``c`` is the query key ``c``, answered by its value (undefined for keys not in the prefix).
  With ``fixed_keys`` the keys are ``0..N-1`` in order and only the values vary: all ``V^N``
  prefixes then conflict pairwise, so a sketch must tell ``N log2 V`` bits apart.
* :func:`recall_query_first` -- ``q k_1 v_1 ... k_N`` (everything but the last value); the
  continuation is the last value token, the answer the value paired with ``q``.
* :func:`copying` -- ``BOS s SEP``; one continuation (free-running generation), answered by the
  string's index: all ``D^L`` prefixes conflict pairwise (``L log2 D`` bits).
"""

from __future__ import annotations

import itertools
import math
from dataclasses import dataclass

import torch

from ..errors import InfeasibleTaskError
from ..tasks import associative_recall as ar
from ..tasks.copying import CopyConfig, all_strings
from ..tasks.copying import assemble as assemble_copies
from .sketch import UNDEFINED


@dataclass(frozen=True)
class PrefixFamily:
    prefixes: torch.Tensor  # (B, T)
    answers: torch.Tensor  # (B, C)
    #: size of the largest pairwise-conflicting set in the family (pigeonhole: a sketch of fewer
    #: than log2(conflicting) bits must collide), or None when not known in closed form
    conflicting: int | None
    description: str

    @property
    def information_bits(self) -> float | None:
        return None if self.conflicting is None else math.log2(self.conflicting)


def _require_enumerable(count: int, limit: int, what: str) -> None:
    if count > limit:
        raise InfeasibleTaskError(f"{what} has {count} prefixes, more than the enumeration limit {limit}")


def recall_query_last(config: ar.ARConfig, *, fixed_keys: bool = False, limit: int = 1 << 20) -> PrefixFamily:
    """Every pairs-part of a query-last, single-token-key format (see module docstring)."""
    if config.query != "last" or config.key_length != 1:
        raise InfeasibleTaskError(f"recall_query_last needs query='last' and key_length=1, got {config}")
    K, V, N = config.num_keys, config.num_values, config.num_pairs
    key_orders = [tuple(range(N))] if fixed_keys else list(itertools.permutations(range(K), N))
    _require_enumerable(len(key_orders) * V**N, limit, str(config))
    keys = torch.tensor(key_orders, dtype=torch.long)
    values = torch.tensor(list(itertools.product(range(V), repeat=N)), dtype=torch.long)
    ki, vi = torch.meshgrid(torch.arange(len(keys)), torch.arange(len(values)), indexing="ij")
    keys, values = keys[ki.reshape(-1)], values[vi.reshape(-1)]
    batch = ar.assemble(config, keys.unsqueeze(-1), values, torch.zeros(len(keys), config.num_queries, dtype=torch.long))
    answers = torch.full((len(keys), K), UNDEFINED, dtype=torch.long)
    answers.scatter_(1, keys, config.vocabulary().ids("value", values))
    prefixes = batch.tokens[:, : 2 * N]
    return PrefixFamily(prefixes, answers, V**N if fixed_keys else None,
                        f"pairs of {config} ({'keys 0..N-1, ' if fixed_keys else ''}every value assignment)")


def recall_query_first(config: ar.ARConfig, *, limit: int = 1 << 20) -> PrefixFamily:
    """Every query-first instance of a single-token-key format, cut before its last value token."""
    if config.query != "first" or config.key_length != 1:
        raise InfeasibleTaskError(f"recall_query_first needs query='first' and key_length=1, got {config}")
    batch = ar.enumerate_instances(config, limit)
    tokens = batch.tokens
    answers = torch.full((len(tokens), config.vocabulary().size), UNDEFINED, dtype=torch.long)
    answers.scatter_(1, tokens[:, -1:], batch.answers[:, :1])
    prefixes, rows = torch.unique(tokens[:, :-1], dim=0, return_inverse=True)
    merged = torch.full((len(prefixes), answers.shape[1]), UNDEFINED, dtype=torch.long)
    merged.scatter_reduce_(0, rows.unsqueeze(1).expand_as(answers), answers, "amax")
    return PrefixFamily(prefixes, merged, None, f"query-first instances of {config} before the last value")


def copying(config: CopyConfig, strings: torch.Tensor | None = None, *, limit: int = 1 << 20) -> PrefixFamily:
    """``BOS s SEP`` for every string (or the given ``strings: (B, L)``), answered by the string."""
    if strings is None:
        _require_enumerable(config.alphabet**config.length, limit, str(config))
        strings = all_strings(config.alphabet, config.length)
    strings = torch.unique(strings, dim=0)
    prompts = assemble_copies(config, strings).prompts()
    answers = torch.arange(len(strings)).unsqueeze(1)
    return PrefixFamily(prompts, answers, len(strings), f"BOS s SEP for {len(strings)} strings of {config}")
