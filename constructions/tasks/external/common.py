"""What every external-format reader shares: limits, the token map, the batch wrapper, line reading.

**Token map.** A file's tokens (ids of a vocabulary of 8192, characters) become the suite's ids
segment by segment (keys, values, ...). ``mapping="full"`` keeps every token of the file's vocabulary
(one map for the whole file); ``mapping="compact"`` keeps, per instance, only the tokens that occur in
it, each segment in increasing order, so a one-hot construction pays for the ids used (16 keys, not
4096). Both are bijections within segments on the tokens that occur, so an instance means the same
in either: its keys are distinct, its repeats, its queries and answers correspond. The
constructions compare tokens only for equality and give absent tokens zero channels, so the
answers agree (tested). :class:`TokenMap` records the map: internal id ``i`` of instance ``r`` is the
file's token ``external[r, i]`` (row 0 when shared; ``-1`` unused); text formats record code points.

**Limits** (:data:`LIMITS`) are checked before anything of that size is allocated; a file over one
raises :class:`~constructions.errors.ExternalFormatLimitError`. Readers yield batches of at most
``chunk_rows`` instances, so a file of any length is read in bounded memory.
"""

from __future__ import annotations

import io
import os
from dataclasses import dataclass
from typing import Iterable, Iterator

import torch

from ...errors import ExternalFormatError, ExternalFormatLimitError

#: One table of limits (the same sequence and vocabulary limits as model files).
LIMITS = {
    "line_bytes": 1 << 20,  # one line of a text or JSON-lines file
    "file_bytes": 1 << 28,  # a whole-file JSON array (.json); stream larger data as .jsonl or .npz
    "sequence_length": 4096,  # tokens of one instance
    "vocabulary": 1 << 20,  # ids of an external vocabulary
    "rows": 1 << 24,  # instances in one file
    "chunk_rows": 1 << 16,  # instances of one batch
}

DEFAULT_CHUNK_ROWS = 1024


def check_limit(name: str, value: int, where: str | None = None, what: str | None = None) -> None:
    if value > LIMITS[name]:
        raise ExternalFormatLimitError(f"{what or name} is {value}, over the limit {LIMITS[name]} ({name})", where)


def check_chunk_rows(chunk_rows: int) -> int:
    if isinstance(chunk_rows, bool) or not isinstance(chunk_rows, int) or chunk_rows < 1:
        raise ExternalFormatError(f"chunk_rows must be an integer >= 1, got {chunk_rows!r}")
    check_limit("chunk_rows", chunk_rows)
    return chunk_rows


def check_mapping(mapping: str) -> str:
    if mapping not in ("full", "compact"):
        raise ExternalFormatError(f"mapping must be 'full' or 'compact', got {mapping!r}")
    return mapping


@dataclass(frozen=True)
class TokenMap:
    """Internal id ``i`` of instance ``r`` stands for the file's token ``external[r, i]`` (``external``
    has one row, shared, or one per instance; ``-1``: unused). ``kind``: ``"full"`` or ``"compact"``;
    ``text``: the external tokens are characters (code points stored)."""

    kind: str
    external: torch.Tensor
    text: bool = False

    def to_external(self, ids: torch.Tensor) -> torch.Tensor:
        """``ids: (B, ...)`` internal -> the file's ids (code points for text)."""
        table = self.external if self.external.shape[0] == ids.shape[0] else self.external.expand(ids.shape[0], -1)
        flat = ids.reshape(ids.shape[0], -1)
        return torch.gather(table, 1, flat).reshape(ids.shape)

    def select(self, rows) -> "TokenMap":
        return self if self.external.shape[0] == 1 else TokenMap(self.kind, self.external[rows], self.text)

    def summary(self) -> dict:
        """JSON-ready: the kind, the internal vocabulary size, and a shared table in full."""
        out = {"kind": self.kind, "internal_size": int(self.external.shape[1]), "per_instance": self.external.shape[0] > 1}
        if self.external.shape[0] == 1:
            ids = self.external[0].tolist()
            out["external"] = "".join(chr(c) for c in ids) if self.text else ids
        return out


@dataclass
class External:
    """A batch read from a file: the suite's own typed ``instances`` (``ARBatch``, ``CopyBatch``,
    ``ScatteredARBatch``; ``.config`` their format), the :class:`TokenMap`, and ``origin``: per instance
    its line (text, JSON lines: 1-based) or row (arrays: 0-based) in the file, ``unit`` saying which."""

    format: str
    instances: object
    mapping: TokenMap
    origin: torch.Tensor
    unit: str

    @property
    def config(self):
        return self.instances.config

    def __len__(self) -> int:
        return len(self.origin)

    def where(self, i: int) -> str:
        return f"{self.unit} {int(self.origin[i])}"


def rank_within_rows(x: torch.Tensor, lo: int, hi: int) -> tuple[torch.Tensor, torch.Tensor]:
    """Per row, the rank of each id in ``[lo, hi)`` among the distinct such ids of its row (others: -1),
    and the table ``(B, size)`` of those ids in increasing order (``-1`` padded; ``size >= 1``)."""
    B = x.shape[0]
    inside = (x >= lo) & (x < hi)
    ordered, order = torch.where(inside, x, hi).sort(dim=1)
    first = torch.ones_like(ordered, dtype=torch.bool)
    first[:, 1:] = ordered[:, 1:] != ordered[:, :-1]
    first &= ordered < hi
    rank_sorted = first.long().cumsum(1) - 1
    rank = torch.empty_like(rank_sorted).scatter_(1, order, rank_sorted)
    size = max(1, int(first.sum(1).max())) if x.numel() else 1
    table = torch.full((B, size), -1, dtype=torch.long)
    rows = torch.arange(B).unsqueeze(1).expand_as(first)
    table[rows[first], rank_sorted[first]] = ordered[first]
    return torch.where(inside, rank, torch.full_like(rank, -1)), table


def map_segments(x: torch.Tensor, segments: list[tuple[int, int]], mapping: str,
                 fixed: tuple[int, ...] = ()) -> tuple[torch.Tensor, TokenMap, list[int]]:
    """The file's ids ``x: (B, T)`` (every id must lie in a segment's ``[lo, hi)`` or in ``fixed``) ->
    internal ids, the map, and the segment sizes; ``fixed`` ids get one internal id each, after the
    segments (separators, a filler)."""
    internal = torch.full_like(x, -1)
    tables, sizes, offset = [], [], 0
    for lo, hi in segments:
        if mapping == "full":
            inside = (x >= lo) & (x < hi)
            internal = torch.where(inside, x - lo + offset, internal)
            table, size = torch.arange(lo, hi).unsqueeze(0), hi - lo
        else:
            rank, table = rank_within_rows(x, lo, hi)
            internal = torch.where(rank >= 0, rank + offset, internal)
            size = table.shape[1]
        tables.append(table)
        sizes.append(size)
        offset += size
    for i, f in enumerate(fixed):
        internal = torch.where(x == f, torch.full_like(x, offset + i), internal)
    if fixed:
        tables.append(torch.tensor([list(fixed)]))
    rows = max(t.shape[0] for t in tables)
    external = torch.cat([t.expand(rows, -1) for t in tables], dim=1)
    return internal, TokenMap(mapping, external), sizes


def read_lines(source, *, encoding: str = "utf-8") -> Iterator[tuple[int, str]]:
    """``(line number, text without the line break)`` of a path, a text or binary file, or an iterable
    of strings; a line over ``LIMITS["line_bytes"]`` raises before it is read whole."""
    limit = LIMITS["line_bytes"]
    if isinstance(source, (str, os.PathLike)):
        with open(source, "rb") as f:
            yield from read_lines(f, encoding=encoding)
        return
    if isinstance(source, (io.RawIOBase, io.BufferedIOBase, io.TextIOBase)) or hasattr(source, "readline"):
        number = 0
        while True:
            raw = source.readline(limit + 1)
            if not raw:
                return
            number += 1
            if len(raw) > limit and not raw.endswith(b"\n" if isinstance(raw, bytes) else "\n"):
                raise ExternalFormatLimitError(f"a line is longer than {limit} bytes (line_bytes)", f"line {number}")
            if isinstance(raw, bytes):
                try:
                    raw = raw.decode(encoding)
                except UnicodeDecodeError as e:
                    raise ExternalFormatError(f"not {encoding} text: {e.reason} at byte {e.start}", f"line {number}") from None
            yield number, raw.rstrip("\r\n")
        return
    for number, line in enumerate(source, start=1):
        if not isinstance(line, str):
            raise ExternalFormatError(f"expected a string, got {type(line).__name__}", f"line {number}")
        if len(line) > limit:
            raise ExternalFormatLimitError(f"a line is longer than {limit} characters (line_bytes)", f"line {number}")
        yield number, line.rstrip("\r\n")


def chunks(items: Iterable, size: int) -> Iterator[list]:
    batch = []
    for item in items:
        batch.append(item)
        if len(batch) == size:
            yield batch
            batch = []
    if batch:
        yield batch


def codes(text: str) -> list[int]:
    return [ord(c) for c in text]


def write_text(lines: Iterable[str], destination) -> None:
    """Lines (``\\n``-terminated) to a path or a text file."""
    if isinstance(destination, (str, os.PathLike)):
        with open(destination, "w", encoding="utf-8", newline="\n") as f:
            write_text(lines, f)
        return
    for line in lines:
        destination.write(line + "\n")


def token_line(batch: External, i: int) -> str:
    """Instance ``i`` of ``batch`` as the characters of its external token ids (text formats whose line is
    the instance's token sequence)."""
    ids = batch.mapping.select([i]).to_external(batch.instances.tokens[i : i + 1])[0]
    return "".join(chr(c) for c in ids.tolist())


def write_lines(batches: Iterable[External], destination, to_line) -> None:
    """Every instance as ``to_line(batch, i)``, in the order of its origin, to a path or a text file."""
    write_text((to_line(b, i) for _, b, i in in_origin_order(batches)), destination)


def in_origin_order(batches: Iterable[External]) -> list[tuple[int, External, int]]:
    """``(origin, batch, index)`` of every instance, in the file's order."""
    rows = [(int(b.origin[i]), b, i) for b in batches for i in range(len(b))]
    return sorted(rows, key=lambda r: r[0])
