"""Associative recall as text lines, the first author's AR splits: reader and writer (format ``ar-text``).

Format: one instance per line, key-value pairs written as a lowercase letter and a digit, then the
query key, then its answer; no spaces. The answer is the last character. Example (two lines)::

    t4a2c4o1k2c4
    x7b3b3

(first line: pairs t-4 a-2 c-4 o-1 k-2, query c, answer 4.) A line of ``N`` pairs is the instance of
``ARConfig(num_keys=K, num_values=V, num_pairs=N, num_queries=1, query="last")`` with tokens
``k_1 v_1 .. k_N v_N q`` (the answer is not a token: it is checked against the pairs and kept as
the instance's answer). ``mapping="full"``: keys are the 26 letters ``a..z`` (ids 0..25), values the
10 digits (ids 26..35); ``"compact"``: the letters and digits each line uses, renumbered in order.
Lines with different ``N`` go to different batches (grouped within each chunk).

Errors (:class:`~constructions.errors.ExternalFormatError`, naming the line): a character that is no
letter or digit where one is due (named, with its column), an odd number of characters or fewer than
four, a key written twice among the pairs (its answer would be ambiguous), a query key that is not
among the pairs, an answer that is not the value paired with the query.
"""

from __future__ import annotations

from dataclasses import replace
from typing import Iterable, Iterator

import torch

from ...errors import ExternalFormatError
from ..associative_recall import ARConfig, assemble
from .common import (DEFAULT_CHUNK_ROWS, External, check_chunk_rows, check_limit, check_mapping, chunks, codes,
                     map_segments, read_lines, write_lines)

FORMAT = "ar-text"
LETTERS, DIGITS = (ord("a"), ord("z") + 1), (ord("0"), ord("9") + 1)


def parse_line(line: str, where: str) -> tuple[str, str, str]:
    """``(pairs, query, answer)`` of one line, or :class:`ExternalFormatError` naming what is wrong."""
    if len(line) < 4 or len(line) % 2:
        raise ExternalFormatError(f"an AR line has 2N + 2 characters (N >= 1 pairs, the query key, the answer), "
                                  f"got {len(line)}", where)
    check_limit("sequence_length", len(line) - 1, where, "the line's token count")
    for column, c in enumerate(line, start=1):
        want, (lo, hi) = (("a letter (key)", LETTERS) if column % 2 else ("a digit (value)", DIGITS))
        if not lo <= ord(c) < hi:
            raise ExternalFormatError(f"character {c!r} at column {column}: {want} is due there", where)
    pairs, query, answer = line[:-2], line[-2], line[-1]
    keys = pairs[0::2]
    if len(set(keys)) != len(keys):
        twice = next(k for k in keys if keys.count(k) > 1)
        raise ExternalFormatError(f"key {twice!r} is written twice among the pairs: its answer would be ambiguous", where)
    if query not in keys:
        raise ExternalFormatError(f"the query key {query!r} is not among the pairs' keys {keys!r}", where)
    paired = pairs[2 * keys.index(query) + 1]
    if answer != paired:
        raise ExternalFormatError(f"the answer {answer!r} is not {paired!r}, the value paired with {query!r}", where)
    return pairs, query, answer


def read(source, *, mapping: str = "full", chunk_rows: int = DEFAULT_CHUNK_ROWS) -> Iterator[External]:
    """Batches of :class:`~constructions.tasks.associative_recall.ARBatch` from a path, a file or an
    iterable of lines; empty lines are skipped; at most ``chunk_rows`` lines are held at once."""
    check_mapping(mapping)
    rows = check_chunk_rows(chunk_rows)
    lines = ((n, line) for n, line in read_lines(source) if line.strip())
    for chunk in chunks(lines, rows):
        parsed = [(n, line.strip()) for n, line in chunk]
        for n, line in parsed:
            parse_line(line, f"line {n}")
        for length in sorted({len(line) for _, line in parsed}):
            yield _batch([(n, line) for n, line in parsed if len(line) == length], mapping)


def _batch(group: list[tuple[int, str]], mapping: str) -> External:
    text = torch.tensor([codes(line) for _, line in group], dtype=torch.long)
    internal, token_map, (K, V) = map_segments(text, [LETTERS, DIGITS], mapping)
    N = (text.shape[1] - 2) // 2
    config = ARConfig(num_keys=K, num_values=V, num_pairs=N, num_queries=1)
    keys, values = internal[:, 0 : 2 * N : 2], internal[:, 1 : 2 * N : 2] - K
    queried = (keys == internal[:, 2 * N : 2 * N + 1]).long().argmax(-1, keepdim=True)
    instances = assemble(config, keys.unsqueeze(-1), values, queried)
    assert torch.equal(instances.tokens, internal[:, :-1]) and torch.equal(instances.answers, internal[:, -1:])
    return External(FORMAT, instances, replace(token_map, text=True), torch.tensor([n for n, _ in group]), "line")


def to_line(batch: External, i: int) -> str:
    inst = batch.instances
    ids = torch.cat([inst.tokens[i], inst.answers[i]]).unsqueeze(0)
    return "".join(chr(c) for c in batch.mapping.select([i]).to_external(ids)[0].tolist())


def write(batches: Iterable[External], destination) -> None:
    """The instances as lines ``k1v1..kNvNqa`` in the order of their origin (a path or a text file)."""
    write_lines(batches, destination, to_line)
