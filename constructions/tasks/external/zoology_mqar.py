"""Zoology's multi-query associative recall arrays (Arora et al. 2024): reader and writer (format ``zoology-mqar``).

Format: two integer arrays of shape ``(rows, T)``, ``inputs`` and ``labels``. With a vocabulary of
``vocab_size`` ids (8192 by default) keys come from ``1 .. vocab_size/2 - 1`` and values from
``vocab_size/2 .. vocab_size - 1``; a row is ``N`` key-value pairs (repeated ``num_passes`` times),
then a query region where each of the ``N`` keys stands once, at an even offset, and 0 elsewhere;
``labels`` is -100 except at a query, where it is the queried key's value (labels already shifted:
``labels[t]`` is the answer for ``inputs[t]``). With ``random_non_queries=True`` every 0 of the
inputs is a uniform random id of the whole vocabulary, so a filler may be a key or a value. Example
(``vocab_size=12``, two pairs; the second row with random fillers)::

    inputs  2 8 4 7 0 0 4 0 0 0 0 0 2 0        labels  -100 x6, 7, -100 x5, 8, -100
    inputs  2 8 4 7 9 3 4 1 4 6 0 5 2 11       labels  the same

Accepted: a pair ``(inputs, labels)`` of numpy arrays, torch tensors or nested lists; a dict with
those keys; a path to ``.npz`` (members ``inputs`` and ``labels``, read row by row, never unpickled),
``.json`` (an object with ``inputs`` and ``labels``, read whole, at most ``LIMITS["file_bytes"]``) or
``.jsonl`` (one object per line with ``inputs`` and ``labels`` of one row, streamed).

Read as :class:`~constructions.tasks.scattered_recall.ScatteredARBatch`: keys, values and the filler
id 0 become the key, value and filler segments (``mapping="compact"``, the default: per row only the
ids it uses, so 16 keys cost 16 one-hot channels, not 4095; ``"full"``: all of them, internal key
``k - 1``, value ``u - vocab_size/2``, filler 0 last). The number of pairs is the number of labels
of the first row unless given (Zoology queries every key once); ``num_passes`` is given (default 1).

Errors (:class:`~constructions.errors.ExternalFormatError` naming the row, 0-based, or the JSON line):
shapes that differ, a non-integer dtype, an id outside the vocabulary, a label that is neither -100
nor an id, a row with another number of labels, a label inside the pairs region, a key or value out
of its half where the pairs stand, a key written twice, passes that differ, a labelled token that is
no key of the pairs, a label that is not that key's value. Sizes are checked before allocating
(:class:`~constructions.errors.ExternalFormatLimitError`).
"""

from __future__ import annotations

import json
import os
import zipfile
from typing import Iterable, Iterator

import numpy as np
import torch

from ...errors import ExternalFormatError, require_positive_int
from ..scattered_recall import ScatteredARBatch, ScatteredARConfig, reference_answers_at
from .common import (DEFAULT_CHUNK_ROWS, LIMITS, External, TokenMap, check_chunk_rows, check_limit, check_mapping,
                     map_segments, read_lines)

FORMAT = "zoology-mqar"
IGNORE = -100


def read(source, *, vocab_size: int = 8192, num_pairs: int | None = None, num_passes: int = 1,
         mapping: str = "compact", chunk_rows: int = DEFAULT_CHUNK_ROWS) -> Iterator[External]:
    """Batches of at most ``chunk_rows`` rows, in the file's order."""
    require_positive_int("vocab_size", vocab_size, 4)
    check_limit("vocabulary", vocab_size)
    require_positive_int("num_passes", num_passes)
    if num_pairs is not None:
        require_positive_int("num_pairs", num_pairs)
    check_mapping(mapping)
    rows = check_chunk_rows(chunk_rows)
    shape = {"pairs": num_pairs}
    for first, unit, inputs, labels in _row_blocks(source, rows):
        yield _batch(first, unit, inputs, labels, vocab_size, shape, num_passes, mapping)


# -- sources ------------------------------------------------------------------------------------------


def _row_blocks(source, rows: int) -> Iterator[tuple[int, str, np.ndarray, np.ndarray]]:
    """``(first origin, unit, inputs, labels)`` blocks of at most ``rows`` rows."""
    if isinstance(source, (str, os.PathLike)):
        path = os.fspath(source)
        if path.endswith(".npz"):
            yield from _npz_blocks(path, rows)
        elif path.endswith(".jsonl"):
            yield from _jsonl_blocks(path, rows)
        elif path.endswith(".json"):
            size = os.path.getsize(path)
            check_limit("file_bytes", size, path, "the JSON file's size")
            with open(path, "rb") as f:
                try:
                    data = json.load(f)
                except (ValueError, UnicodeDecodeError) as e:
                    raise ExternalFormatError(f"not JSON: {e}", path) from None
            yield from _array_blocks(data, rows)
        else:
            raise ExternalFormatError(f"a Zoology MQAR file ends in .npz, .json or .jsonl, got {path!r}")
        return
    yield from _array_blocks(source, rows)


def _as_array(x, name: str) -> np.ndarray:
    if isinstance(x, torch.Tensor):
        x = x.detach().cpu().numpy()
    if isinstance(x, np.ndarray):
        arr = x
    else:
        try:
            arr = np.asarray(x)
        except (ValueError, TypeError) as e:
            raise ExternalFormatError(f"{name} is not a rectangular array: {e}") from None
    if arr.dtype.kind not in "iu":
        raise ExternalFormatError(f"{name} must hold integers, got dtype {arr.dtype} (ragged rows or non-integers)")
    if arr.ndim != 2:
        raise ExternalFormatError(f"{name} must have shape (rows, length), got {arr.shape}")
    return arr


def _array_blocks(source, rows: int):
    if isinstance(source, dict):
        missing = {"inputs", "labels"} - set(source)
        if missing:
            raise ExternalFormatError(f"the MQAR data needs 'inputs' and 'labels', missing {sorted(missing)}")
        source = (source["inputs"], source["labels"])
    if not isinstance(source, (tuple, list)) or len(source) != 2:
        raise ExternalFormatError("MQAR data is (inputs, labels), a dict with those keys, or a .npz/.json/.jsonl path")
    inputs, labels = _as_array(source[0], "inputs"), _as_array(source[1], "labels")
    _check_shapes(inputs.shape, labels.shape)
    for start in range(0, inputs.shape[0], rows):
        yield start, "row", inputs[start : start + rows], labels[start : start + rows]


def _check_shapes(inputs_shape, labels_shape, where=None) -> None:
    if tuple(inputs_shape) != tuple(labels_shape):
        raise ExternalFormatError(f"inputs {tuple(inputs_shape)} and labels {tuple(labels_shape)} differ in shape", where)
    check_limit("rows", int(inputs_shape[0]), where, "the number of rows")
    check_limit("sequence_length", int(inputs_shape[1]), where, "the row length")


def _npz_member(zf: zipfile.ZipFile, name: str):
    """An open ``.npy`` member and its ``(shape, dtype)``, read from its header (no pickle, nothing big)."""
    try:
        f = zf.open(f"{name}.npy")
    except KeyError:
        raise ExternalFormatError(f"the .npz has no member {name!r} (members: {sorted(zf.namelist())})") from None
    try:
        version = np.lib.format.read_magic(f)
        shape, fortran, dtype = (np.lib.format.read_array_header_1_0 if version == (1, 0) else
                                 np.lib.format.read_array_header_2_0)(f)
    except ValueError as e:
        raise ExternalFormatError(f"member {name!r} is not a .npy array: {e}") from None
    if dtype.hasobject or dtype.kind not in "iu":
        raise ExternalFormatError(f"member {name!r} must hold integers, got dtype {dtype}")
    if len(shape) != 2:
        raise ExternalFormatError(f"member {name!r} must have shape (rows, length), got {shape}")
    if fortran and shape[0] > 1 and shape[1] > 1:
        raise ExternalFormatError(f"member {name!r} is stored in Fortran order; store it C-contiguous to be read row by row")
    return f, shape, dtype


def _npz_blocks(path: str, rows: int):
    try:
        zf = zipfile.ZipFile(path)
    except (zipfile.BadZipFile, OSError) as e:
        raise ExternalFormatError(f"not a readable .npz: {e}", path) from None
    with zf:
        fi, shape, di = _npz_member(zf, "inputs")
        fl, shape_l, dl = _npz_member(zf, "labels")
        _check_shapes(shape, shape_l, path)
        R, T = shape
        for start in range(0, R, rows):
            n = min(rows, R - start)
            blocks = []
            for f, dt, name in ((fi, di, "inputs"), (fl, dl, "labels")):
                data = f.read(n * T * dt.itemsize)
                if len(data) != n * T * dt.itemsize:
                    raise ExternalFormatError(f"member {name!r} is truncated before row {start + len(data) // max(1, T * dt.itemsize)}", path)
                blocks.append(np.frombuffer(data, dtype=dt).reshape(n, T))
            yield start, "row", blocks[0], blocks[1]


def _jsonl_blocks(path: str, rows: int):
    block, first, width = [], None, None
    for number, line in read_lines(path):
        if not line.strip():
            continue
        where = f"line {number}"
        try:
            record = json.loads(line)
        except ValueError as e:
            raise ExternalFormatError(f"not JSON: {e}", where) from None
        if not isinstance(record, dict) or not {"inputs", "labels"} <= set(record):
            raise ExternalFormatError("each line is an object with 'inputs' and 'labels'", where)
        pair = []
        for name in ("inputs", "labels"):
            value = record[name]
            if not isinstance(value, list) or not all(isinstance(v, int) and not isinstance(v, bool) for v in value):
                raise ExternalFormatError(f"{name!r} must be a list of integers", where)
            pair.append(value)
        if len(pair[0]) != len(pair[1]) or (width is not None and len(pair[0]) != width):
            raise ExternalFormatError(f"inputs ({len(pair[0])}) and labels ({len(pair[1])}) must have the length of "
                                      f"the first row ({width if width is not None else len(pair[0])})", where)
        check_limit("sequence_length", len(pair[0]), where, "the row length")
        width = len(pair[0])
        first = number if first is None else first
        block.append((number, pair))
        if len(block) == rows:
            yield _jsonl_block(block)
            block = []
    if block:
        yield _jsonl_block(block)


def _jsonl_block(block):
    inputs = np.array([p[0] for _, p in block], dtype=np.int64)
    labels = np.array([p[1] for _, p in block], dtype=np.int64)
    return np.array([n for n, _ in block]), "line", inputs, labels


# -- checking and mapping -----------------------------------------------------------------------------


def _fail(bad: torch.Tensor, origin: torch.Tensor, unit: str, message) -> None:
    """Raise for the first row where ``bad: (B,)`` or ``(B, T)`` holds; ``message(row, col)``."""
    if bool(bad.any()):
        where = bad.nonzero()[0].tolist()
        row, col = where[0], (where[1] if len(where) > 1 else None)
        raise ExternalFormatError(message(row, col), f"{unit} {int(origin[row])}")


def _batch(first, unit, inputs_np, labels_np, vocab_size, shape, num_passes, mapping) -> External:
    inputs, labels = (torch.from_numpy(np.array(a, dtype=np.int64)) for a in (inputs_np, labels_np))  # copies: views may be read-only
    B, T = inputs.shape
    origin = torch.as_tensor(first) if unit == "line" else first + torch.arange(B)
    H = vocab_size // 2
    _fail((inputs < 0) | (inputs >= vocab_size), origin, unit,
          lambda r, c: f"input id {int(inputs[r, c])} at position {c} is outside the vocabulary 0..{vocab_size - 1}")
    labelled = labels != IGNORE
    _fail(labelled & ((labels < 0) | (labels >= vocab_size)), origin, unit,
          lambda r, c: f"label {int(labels[r, c])} at position {c} is neither -100 nor an id of the vocabulary")
    Q = labelled.sum(1)
    if shape["pairs"] is None:
        shape["pairs"] = int(Q[0])
        if shape["pairs"] < 1:
            raise ExternalFormatError("the first row has no label, so the number of pairs is unknown (give num_pairs)",
                                      f"{unit} {int(origin[0])}")
    N = shape["pairs"]
    shape.setdefault("queries", int(Q[0]))
    _fail(Q != shape["queries"], origin, unit, lambda r, c: f"{int(Q[r])} labels, the first row has {shape['queries']}")
    if shape["queries"] < 1:
        raise ExternalFormatError("no labelled position: nothing to answer", f"{unit} {int(origin[0])}")
    C = 2 * N * num_passes
    if C >= T:
        raise ExternalFormatError(f"{N} pairs x {num_passes} passes need {C} positions before the queries, rows have {T}")
    _fail(labelled[:, :C], origin, unit, lambda r, c: f"a label at position {c}, inside the pairs region 0..{C - 1}")
    keys, values = inputs[:, 0:C:2], inputs[:, 1:C:2]
    _fail((keys < 1) | (keys >= H), origin, unit,
          lambda r, c: f"position {2 * c} of the pairs holds {int(keys[r, c])}, not a key (1..{H - 1})")
    _fail(values < H, origin, unit,
          lambda r, c: f"position {2 * c + 1} of the pairs holds {int(values[r, c])}, not a value ({H}..{vocab_size - 1})")
    if num_passes > 1:
        _fail(inputs[:, : 2 * N].repeat(1, num_passes) != inputs[:, :C], origin, unit,
              lambda r, c: f"pass {c // (2 * N) + 1} of the pairs differs from the first at position {c}")
    ordered = keys[:, :N].sort(dim=1).values
    _fail(ordered[:, 1:] == ordered[:, :-1], origin, unit,
          lambda r, c: f"key {int(ordered[r, c])} is written twice among the pairs")
    positions = labelled.long().argsort(dim=1, descending=True, stable=True)[:, : shape["queries"]].sort(dim=1).values
    internal, token_map, (K, V) = map_segments(inputs, [(1, H), (H, vocab_size)], mapping, fixed=(0,))
    config = ScatteredARConfig(num_keys=K, num_values=V, num_pairs=N, num_queries=shape["queries"], length=T,
                               num_passes=num_passes)
    answers = reference_answers_at(config, internal, positions)
    asked = torch.gather(inputs, 1, positions)
    _fail(answers < 0, origin, unit, lambda r, c: f"the labelled position {int(positions[r, c])} holds "
          f"{int(asked[r, c])}, which is no key of the pairs")
    given = torch.gather(labels, 1, positions)
    expected = token_map.to_external(answers)
    _fail(given != expected, origin, unit, lambda r, c: f"the label at position {int(positions[r, c])} is "
          f"{int(given[r, c])}, but key {int(asked[r, c])} is paired with {int(expected[r, c])}")
    instances = ScatteredARBatch(config, internal, positions, answers)
    return External(FORMAT, instances, token_map, origin, unit)


# -- writing ------------------------------------------------------------------------------------------


def to_arrays(batches: Iterable[External]) -> tuple[np.ndarray, np.ndarray]:
    """``(inputs, labels)`` in the file's ids, rows in the order of their origin."""
    parts = []
    for b in batches:
        inst = b.instances
        inputs = b.mapping.to_external(inst.tokens)
        labels = torch.full_like(inputs, IGNORE)
        labels.scatter_(1, inst.query_positions, b.mapping.to_external(inst.answers))
        parts.append((b.origin, inputs, labels))
    if not parts:
        return np.zeros((0, 0), dtype=np.int64), np.zeros((0, 0), dtype=np.int64)
    origin = torch.cat([p[0] for p in parts])
    order = origin.argsort()
    return (torch.cat([p[1] for p in parts])[order].numpy(), torch.cat([p[2] for p in parts])[order].numpy())


def write(batches: Iterable[External], destination) -> None:
    """To ``.npz`` (``inputs``, ``labels``, int64), ``.json`` or ``.jsonl``, by the path's suffix."""
    inputs, labels = to_arrays(batches)
    path = os.fspath(destination)
    if path.endswith(".npz"):
        with open(path, "wb") as f:
            np.savez(f, inputs=inputs, labels=labels)
    elif path.endswith(".jsonl"):
        with open(path, "w", encoding="utf-8") as f:
            for i, l in zip(inputs.tolist(), labels.tolist()):
                f.write(json.dumps({"inputs": i, "labels": l}, separators=(",", ":")) + "\n")
    elif path.endswith(".json"):
        with open(path, "w", encoding="utf-8") as f:
            json.dump({"inputs": inputs.tolist(), "labels": labels.tolist()}, f, separators=(",", ":"))
    else:
        raise ExternalFormatError(f"a Zoology MQAR file ends in .npz, .json or .jsonl, got {path!r}")


__all__ = ["FORMAT", "IGNORE", "read", "write", "to_arrays", "TokenMap", "LIMITS"]
