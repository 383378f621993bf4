"""Jelassi et al. 2024 ("Repeat After Me") copy strings: reader and writer (format ``jelassi-copy``).

Format: one instance per line, ``$`` the string ``s`` ``|`` the string again ``.``, with ``s`` over the
first ``alphabet`` lowercase letters (26 in their data), no spaces; trailing ``*`` (their padding
token) is accepted and dropped. Example (two lines)::

    $hello|hello.
    $abcab|abcab.***

Their tokenizer gives the letters ids ``0..D-1`` and ``$ | .`` the ids ``D, D+1, D+2``: exactly the
suite's :class:`~constructions.tasks.copying.CopyConfig` (``BOS s SEP s EOS``), so a line is read as
the instance of ``CopyConfig(alphabet=D, length=len(s))`` whose tokens are the line's. ``mapping="full"``
keeps the ``D`` letters; ``"compact"`` the letters each line uses, renumbered in alphabetical order
(a bijection: repeated n-grams stay repeated). Lines of different lengths go to different batches
(grouped within each chunk); :attr:`External.origin` keeps each line's number.

Errors (:class:`~constructions.errors.ExternalFormatError`, naming the line): a missing ``$``, ``|`` or
``.``, an empty string, a character outside the alphabet (named, with its column), a copy that is
not ``s`` (the first differing column), anything after the ``.`` but ``*``.
"""

from __future__ import annotations

from dataclasses import replace
from typing import Iterable, Iterator

import torch

from ...errors import ExternalFormatError, require_positive_int
from ..copying import CopyConfig, assemble
from .common import (DEFAULT_CHUNK_ROWS, External, check_chunk_rows, check_limit, check_mapping, chunks, codes,
                     map_segments, read_lines, token_line, write_lines)

FORMAT = "jelassi-copy"
BOS, SEP, EOS, PAD = "$", "|", ".", "*"


def parse_line(line: str, alphabet: int, where: str) -> str:
    """The string ``s`` of one line, or :class:`ExternalFormatError` naming what is wrong."""
    body = line.rstrip(PAD) if line.endswith(PAD) else line
    if not body.startswith(BOS):
        raise ExternalFormatError(f"a copy line starts with {BOS!r}, got {line[:20]!r}", where)
    if not body.endswith(EOS):
        tail = body.split(EOS, 1)
        detail = f"after the {EOS!r} only {PAD!r} may follow, got {tail[1][:20]!r}" if len(tail) == 2 else f"no {EOS!r} at the end"
        raise ExternalFormatError(f"{detail} (format $s|s.)", where)
    inner = body[1:-1]
    if inner.count(SEP) != 1:
        raise ExternalFormatError(f"a copy line has one {SEP!r}, got {inner.count(SEP)} (format $s|s.)", where)
    s, copy = inner.split(SEP)
    if not s:
        raise ExternalFormatError("the string before '|' is empty", where)
    letters = "abcdefghijklmnopqrstuvwxyz"[:alphabet]
    for column, c in enumerate(body, start=1):
        if c not in letters and c not in (BOS, SEP, EOS):
            raise ExternalFormatError(f"character {c!r} at column {column} is not one of the {alphabet} letters "
                                      f"{letters[0]}..{letters[-1]} or $ | .", where)
    if copy != s:
        at = next((i for i, (a, b) in enumerate(zip(s, copy)) if a != b), min(len(s), len(copy)))
        raise ExternalFormatError(f"the copy differs from the string at its character {at + 1} "
                                  f"(string {len(s)}, copy {len(copy)} characters)", where)
    check_limit("sequence_length", 2 * len(s) + 3, where, "the line's token count")
    return s


def read(source, *, alphabet: int = 26, mapping: str = "full", chunk_rows: int = DEFAULT_CHUNK_ROWS) -> Iterator[External]:
    """Batches of :class:`~constructions.tasks.copying.CopyBatch` from a path, a file or an iterable of
    lines; empty lines are skipped; at most ``chunk_rows`` lines are held at once."""
    require_positive_int("alphabet", alphabet)
    if alphabet > 26:
        raise ExternalFormatError(f"the copy format's alphabet is at most the 26 letters, got {alphabet}")
    check_mapping(mapping)
    rows = check_chunk_rows(chunk_rows)
    lines = ((n, line) for n, line in read_lines(source) if line.strip())
    for chunk in chunks(lines, rows):
        parsed = [(n, parse_line(line.strip(), alphabet, f"line {n}")) for n, line in chunk]
        for length in sorted({len(s) for _, s in parsed}):
            group = [(n, s) for n, s in parsed if len(s) == length]
            yield _batch(group, alphabet, mapping)


def _batch(group: list[tuple[int, str]], alphabet: int, mapping: str) -> External:
    text = torch.tensor([codes(f"{BOS}{s}{SEP}{s}{EOS}") for _, s in group], dtype=torch.long)
    internal, token_map, (size,) = map_segments(text, [(ord("a"), ord("a") + alphabet)], mapping,
                                                fixed=(ord(BOS), ord(SEP), ord(EOS)))
    config = CopyConfig(alphabet=size, length=len(group[0][1]))
    instances = assemble(config, internal[:, 1 : config.length + 1])
    assert torch.equal(instances.tokens, internal)  # the line is the instance's token sequence
    return External(FORMAT, instances, replace(token_map, text=True), torch.tensor([n for n, _ in group]), "line")


to_line = token_line


def write(batches: Iterable[External], destination) -> None:
    """The instances as lines ``$s|s.`` in the order of their origin (a path or a text file)."""
    write_lines(batches, destination, to_line)
