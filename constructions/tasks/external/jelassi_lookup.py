"""What the two lookup formats of Jelassi et al. 2024 share (``jelassi-suffix``, ``jelassi-prefix``).

A line is the token sequence of an instance of
:class:`~constructions.tasks.ngram_lookup.NgramLookupConfig`, character for character: ``$ | .`` are
BOS, SEP, EOS and the letters are the symbols, so

    suffix key:  $ s | g a .      = BOS s SEP g a EOS
    prefix key:  $ g | s | a .    = BOS g SEP s SEP a EOS

(no spaces; trailing ``*``, their padding token, accepted and dropped). The config is read from the
line: ``length = len(s)``, ``ngram = len(g)``, ``answer_length = len(a)``; in the suffix layout ``g`` and
``a`` are not separated, so ``n`` is the reader's ``ngram`` (3 in Jelassi et al.'s data). The answer must
be what follows the *first* occurrence of ``g`` in ``s`` (the reference of
:func:`~constructions.tasks.ngram_lookup.assemble`). ``mapping="full"``: the ``alphabet`` letters keep ids
``0..D-1``; ``"compact"``: the letters each line uses, renumbered in alphabetical order (a bijection: the
first occurrence and every repeated n-gram stay where they are). Lines of different ``(len(s), n,
len(a))`` go to different batches (grouped within each chunk); :attr:`External.origin` keeps each
line's number.
"""

from __future__ import annotations

from dataclasses import replace
from typing import Iterable, Iterator

import torch

from ...errors import ExternalFormatError, require_positive_int
from ..ngram_lookup import KEYS, NgramLookupConfig, assemble
from .common import (DEFAULT_CHUNK_ROWS, External, check_chunk_rows, check_limit, check_mapping, chunks, codes,
                     map_segments, read_lines, token_line, write_lines)

BOS, SEP, EOS, PAD = "$", "|", ".", "*"
LETTERS = "abcdefghijklmnopqrstuvwxyz"
#: Jelassi et al.'s n (their data: 3-grams)
DEFAULT_NGRAM = 3
LAYOUT = {"suffix": "$s|ga.", "prefix": "$g|s|a."}


def parse_line(line: str, key: str, alphabet: int, ngram: int | None, where: str) -> tuple[str, str, str]:
    """``(s, g, a)`` of one line (trailing ``*`` dropped), or :class:`ExternalFormatError` naming what is wrong."""
    layout = LAYOUT[key]
    body = line.rstrip(PAD)
    if not body.startswith(BOS):
        raise ExternalFormatError(f"a {key} lookup line starts with {BOS!r}, got {line[:20]!r}", where)
    if not body.endswith(EOS):
        tail = body.split(EOS, 1)
        detail = f"after the {EOS!r} only {PAD!r} may follow, got {tail[1][:20]!r}" if len(tail) == 2 else f"no {EOS!r} at the end"
        raise ExternalFormatError(f"{detail} (format {layout})", where)
    letters = LETTERS[:alphabet]
    for column, c in enumerate(body, start=1):
        if c not in letters and c not in (BOS, SEP, EOS):
            raise ExternalFormatError(f"character {c!r} at column {column} is not one of the {alphabet} letters "
                                      f"{letters[0]}..{letters[-1]} or $ | .", where)
    parts = body[1:-1].split(SEP)
    want = 2 if key == "suffix" else 3
    if len(parts) != want:
        raise ExternalFormatError(f"a {key} lookup line has {want - 1} {SEP!r}, got {len(parts) - 1} (format {layout})", where)
    if key == "suffix":
        s, rest = parts
        if len(rest) < ngram:
            raise ExternalFormatError(f"after the {SEP!r} come the n-gram and the answer, but {rest!r} has fewer "
                                      f"than {ngram} letters (format {layout}, n = {ngram})", where)
        g, a = rest[:ngram], rest[ngram:]
    else:
        g, s, a = parts
        if not g:
            raise ExternalFormatError(f"the n-gram before the first {SEP!r} is empty (format {layout})", where)
        if ngram is not None and len(g) != ngram:
            raise ExternalFormatError(f"the n-gram {g!r} has {len(g)} letters, not n = {ngram}", where)
    if not s:
        raise ExternalFormatError(f"the string is empty (format {layout})", where)
    check_limit("sequence_length", len(body), where, "the line's token count")
    first = s.find(g)
    if first < 0:
        raise ExternalFormatError(f"the n-gram {g!r} does not occur in the string {s[:40]!r}", where)
    follows = s[first + len(g) : first + len(g) + len(a)]
    if len(follows) < len(a):
        raise ExternalFormatError(f"the n-gram {g!r} first occurs at character {first + 1} of the string, leaving "
                                  f"{len(follows)} letters after it, fewer than the answer's {len(a)}", where)
    if a != follows:
        at = next(i for i, (x, y) in enumerate(zip(a, follows)) if x != y)
        raise ExternalFormatError(f"the answer {a!r} differs at its character {at + 1} from {follows!r}, what follows "
                                  f"the first occurrence of {g!r} (character {first + 1} of the string)", where)
    return s, g, a


def read(key: str, fmt: str, source, *, alphabet: int = 26, ngram: int | None = None, mapping: str = "full",
         chunk_rows: int = DEFAULT_CHUNK_ROWS) -> Iterator[External]:
    """Batches of :class:`~constructions.tasks.ngram_lookup.LookupBatch` with key ``key`` from a path, a
    file or an iterable of lines; empty lines are skipped; at most ``chunk_rows`` lines are held at once."""
    if key not in KEYS:
        raise ExternalFormatError(f"key must be one of {KEYS}, got {key!r}")
    require_positive_int("alphabet", alphabet)
    if alphabet > 26:
        raise ExternalFormatError(f"the lookup formats' alphabet is at most the 26 letters, got {alphabet}")
    if ngram is not None:
        require_positive_int("ngram", ngram)
    elif key == "suffix":
        ngram = DEFAULT_NGRAM
    check_mapping(mapping)
    rows = check_chunk_rows(chunk_rows)
    lines = ((n, line) for n, line in read_lines(source) if line.strip())
    for chunk in chunks(lines, rows):
        parsed = [(n, parse_line(line.strip(), key, alphabet, ngram, f"line {n}")) for n, line in chunk]
        shape = lambda sga: tuple(map(len, sga))  # noqa: E731
        for lengths in sorted({shape(sga) for _, sga in parsed}):
            group = [(n, sga) for n, sga in parsed if shape(sga) == lengths]
            yield _batch(group, key, fmt, alphabet, mapping)


def _batch(group: list[tuple[int, tuple[str, str, str]]], key: str, fmt: str, alphabet: int, mapping: str) -> External:
    def text(s, g, a):
        return f"{BOS}{s}{SEP}{g}{a}{EOS}" if key == "suffix" else f"{BOS}{g}{SEP}{s}{SEP}{a}{EOS}"

    ids = torch.tensor([codes(text(*sga)) for _, sga in group], dtype=torch.long)
    internal, token_map, (size,) = map_segments(ids, [(ord("a"), ord("a") + alphabet)], mapping,
                                                fixed=(ord(BOS), ord(SEP), ord(EOS)))
    s, g, a = group[0][1]
    config = NgramLookupConfig(alphabet=size, length=len(s), ngram=len(g), answer_length=len(a), key=key)
    instances = assemble(config, internal[:, config.string_slice()], internal[:, config.gram_slice()])
    assert torch.equal(instances.tokens, internal)  # the line is the instance's token sequence
    return External(fmt, instances, replace(token_map, text=True), torch.tensor([n for n, _ in group]), "line")


to_line = token_line


def write(batches: Iterable[External], destination) -> None:
    """The instances as lines in the order of their origin (a path or a text file)."""
    write_lines(batches, destination, to_line)
