"""The two model-file containers, read with every size checked before it is allocated.

* **safetensors**: the 8-byte header length and the JSON header are read and checked here (length,
  nesting, duplicate keys, dtypes, shapes, offsets inside the file, total elements) before the
  safetensors library turns the bytes into tensors.
* **.pt**: only torch.save's zip archive, with stored (uncompressed) entries that fit in the file, is
  handed to ``torch.load(weights_only=True)`` (no pickled code runs). What it returns must be a dict
  of JSON strings and plain dense tensors; every tensor's *logical* size is counted before any is
  copied, so a stride-0 view of a few bytes that stands for gigabytes is refused, not materialised.

**dtype policy** (what :func:`to_float64` does with each stored dtype; the loaded network is float64):

=============================================  ================================================
stored dtype                                   loaded as
=============================================  ================================================
float64                                        as is
float32, float16, bfloat16, float8 (4 kinds)   float64, exactly (every value is a float64)
int8/16/32, uint8/16/32                        float64, exactly
int64, uint64                                  float64 if every value is within +-2^53 (then
                                               exact), else refused
bool, complex (any), quantized, sub-byte       refused (:class:`ModelFileDTypeError`); complex
                                               values are stored as real pairs (``.complex``)
=============================================  ================================================

Every conversion is listed in :attr:`RawFile.conversions` (``verify.json`` reports them).
"""

from __future__ import annotations

import json
import math
import os
import stat
import zipfile
from dataclasses import dataclass, field
from pathlib import Path

import torch

from ..errors import (
    ModelFileAccessError,
    ModelFileContainerError,
    ModelFileDTypeError,
    ModelFileError,
    ModelFileLimitError,
    ModelFileMetadataError,
)
from .limits import check, check_memory, limit

#: the metadata entries of the format (JSON strings); any other safetensors metadata is ignored
METADATA_KEYS = ("format", "architecture", "task")

#: safetensors dtype names the format reads, with their sizes in bytes
SAFETENSORS_DTYPES = {"F64": 8, "F32": 4, "F16": 2, "BF16": 2, "F8_E4M3": 1, "F8_E4M3FNUZ": 1, "F8_E5M2": 1,
                      "F8_E5M2FNUZ": 1, "I64": 8, "I32": 4, "I16": 2, "I8": 1, "U64": 8, "U32": 4, "U16": 2,
                      "U8": 1, "BOOL": 1, "C64": 8}

EXACT_FLOATS = (torch.float64, torch.float32, torch.float16, torch.bfloat16, torch.float8_e4m3fn,
                torch.float8_e4m3fnuz, torch.float8_e5m2, torch.float8_e5m2fnuz)
EXACT_INTS = (torch.int8, torch.int16, torch.int32, torch.uint8, torch.uint16, torch.uint32)
WIDE_INTS = (torch.int64, torch.uint64)  # exact while |value| <= 2^53
MAX_EXACT_INT = 1 << 53


@dataclass
class RawFile:
    """A container's content: the three metadata strings and the tensors, already float64."""

    container: str
    bytes: int
    metadata: dict[str, str]
    tensors: dict[str, torch.Tensor]
    elements: int
    conversions: list[dict] = field(default_factory=list)
    ignored_metadata: list[str] = field(default_factory=list)

    def summary(self) -> dict:
        return {"container": self.container, "bytes": self.bytes, "tensors": len(self.tensors),
                "elements": self.elements, "conversions": self.conversions,
                "ignored_metadata": self.ignored_metadata}


# ----------------------------------------------------------------------------- JSON
def _pairs_without_duplicates(pairs):
    keys = [k for k, _ in pairs]
    if len(set(keys)) != len(keys):
        duplicated = sorted({k for k in keys if keys.count(k) > 1})
        raise ModelFileMetadataError(f"duplicate JSON keys {duplicated}")
    return dict(pairs)


def _no_constant(name):
    raise ModelFileMetadataError(f"JSON constant {name} is not a number the format accepts")


def _depth(value) -> int:
    deepest, stack = 0, [(value, 1)]
    while stack:
        v, d = stack.pop()
        if isinstance(v, (dict, list)):
            deepest = max(deepest, d)
            stack.extend((c, d + 1) for c in (v.values() if isinstance(v, dict) else v))
    return deepest


def parse_json(text, what: str, error=ModelFileMetadataError):
    """``text`` (str or bytes) as JSON, within ``header_bytes`` and ``json_depth``; duplicate keys and
    NaN/Infinity are refused. Problems raise ``error`` (or :class:`ModelFileLimitError`) naming ``what``."""
    if not isinstance(text, (str, bytes)):
        raise ModelFileMetadataError(f"{what} must be a JSON string, got {type(text).__name__}")
    check("header_bytes", len(text), f"length of {what}")
    try:
        value = json.loads(text, object_pairs_hook=_pairs_without_duplicates, parse_constant=_no_constant)
    except ModelFileError as err:
        raise type(err)(f"{what}: {err}") from None
    except RecursionError:
        raise ModelFileLimitError(f"{what} is nested deeper than the limit {limit('json_depth')} (json_depth)") from None
    except (ValueError, UnicodeDecodeError) as err:
        raise error(f"{what} is not valid JSON ({err})") from None
    check("json_depth", _depth(value), f"nesting depth of {what}")
    return value


# ----------------------------------------------------------------------------- dtypes
def to_float64(name: str, t: torch.Tensor) -> tuple[torch.Tensor, dict | None]:
    """``t`` as a contiguous float64 tensor per the dtype policy, and the conversion made (or None)."""
    dtype = t.dtype
    if dtype.is_complex:
        raise ModelFileDTypeError(
            f"tensor {name!r} holds complex values ({dtype}) under a real name: the format stores complex "
            f"tensors as real (real, imaginary) pairs with a last dimension of 2 under '<name>.complex'")
    if dtype == torch.bool:
        raise ModelFileDTypeError(f"tensor {name!r} is bool: store weights as float (or integer) values")
    if dtype in WIDE_INTS:
        signed = t.view(torch.int64) if dtype == torch.uint64 else t
        if signed.numel() and (bool((signed < -MAX_EXACT_INT).any()) or bool((signed > MAX_EXACT_INT).any())):
            raise ModelFileDTypeError(f"tensor {name!r} ({dtype}) holds integers beyond +-2^53, which float64 "
                                      "cannot represent exactly")
        t = signed
    elif dtype not in EXACT_FLOATS + EXACT_INTS:
        raise ModelFileDTypeError(f"tensor {name!r} has dtype {dtype}, which the format does not read; use float64 "
                                  "(or a float or integer dtype that converts to it exactly)")
    converted = t.to(torch.float64).contiguous()
    if dtype == torch.float64:
        return converted, None
    return converted, {"tensor": name, "stored_as": str(dtype).removeprefix("torch."), "loaded_as": "float64",
                       "exact": True}


def _convert_all(raw: dict[str, torch.Tensor]) -> tuple[dict[str, torch.Tensor], list[dict]]:
    tensors, conversions = {}, []
    for name, t in raw.items():
        tensors[name], conversion = to_float64(name, t)
        if conversion:
            conversions.append(conversion)
    return tensors, conversions


def _check_shape(name: str, shape, total: int) -> int:
    """Elements of a tensor of ``shape`` (ints), checked; returns the running total."""
    check("tensor_rank", len(shape), f"rank of tensor {name!r}")
    numel = math.prod(shape)
    return check("weight_elements", total + numel, f"tensor elements up to {name!r} (logical shapes)")


# ----------------------------------------------------------------------------- access
def _open_checked(path: Path) -> int:
    """Size of ``path`` after checking it is a readable regular file within ``file_bytes``."""
    try:
        info = path.stat()
    except FileNotFoundError:
        kind = "is a broken link" if path.is_symlink() else "does not exist"
        raise ModelFileAccessError(f"model file {str(path)!r} {kind}") from None
    except OSError as err:
        raise ModelFileAccessError(f"model file {str(path)!r} is not readable ({err.strerror or err})") from None
    if stat.S_ISDIR(info.st_mode):
        raise ModelFileAccessError(f"{str(path)!r} is a directory, not a model file")
    if not stat.S_ISREG(info.st_mode):
        raise ModelFileAccessError(f"{str(path)!r} is not a regular file (a device, pipe or socket)")
    if not os.access(path, os.R_OK):
        raise ModelFileAccessError(f"model file {str(path)!r} is not readable (permission denied)")
    check("file_bytes", info.st_size, "file size in bytes")
    return info.st_size


def _read_bytes(path: Path) -> bytes:
    try:
        with open(path, "rb") as f:
            blob = f.read(limit("file_bytes") + 1)
    except OSError as err:
        raise ModelFileAccessError(f"model file {str(path)!r} is not readable ({err.strerror or err})") from None
    check("file_bytes", len(blob), "file size in bytes")
    return blob


def read(path: Path) -> RawFile:
    """The content of a ``.safetensors`` or ``.pt`` model file, every size checked first."""
    path = Path(path)
    size = _open_checked(path)
    if path.suffix == ".safetensors":
        raw = _read_safetensors(path, _read_bytes(path))
    elif path.suffix == ".pt":
        raw = _read_pt(path, size)
    else:
        raise ModelFileContainerError(f"unknown model file type {path.suffix!r}: use .safetensors or .pt")
    return raw


# ----------------------------------------------------------------------------- safetensors
def _safetensors_header(path: Path, blob: bytes) -> tuple[dict, dict[str, str], int]:
    """(tensor entries, metadata, elements) of a safetensors file, checked against the file's length."""
    if len(blob) < 8:
        raise ModelFileContainerError(f"cannot read the file: {len(blob)} bytes, shorter than a safetensors header")
    n = int.from_bytes(blob[:8], "little")
    check("header_bytes", n, "declared length of the safetensors header")
    if 8 + n > len(blob):
        raise ModelFileContainerError(f"cannot read the file: the safetensors header declares {n} bytes, but only "
                                      f"{len(blob) - 8} follow the length (truncated, or not safetensors)")
    header = parse_json(blob[8 : 8 + n], "the safetensors header", ModelFileContainerError)
    if not isinstance(header, dict):
        raise ModelFileContainerError("the safetensors header must be a JSON object")
    metadata = header.pop("__metadata__", {})
    if not isinstance(metadata, dict) or not all(isinstance(v, str) for v in metadata.values()):
        raise ModelFileContainerError("the safetensors metadata must map names to strings")
    check("tensors", len(header), "number of tensors")
    data = len(blob) - 8 - n
    total, spans = 0, []
    for name, entry in header.items():
        where = f"tensor {name!r}"
        if not isinstance(entry, dict) or set(entry) != {"dtype", "shape", "data_offsets"}:
            raise ModelFileContainerError(f"{where}: a header entry has exactly 'dtype', 'shape', 'data_offsets'")
        dtype, shape, offsets = entry["dtype"], entry["shape"], entry["data_offsets"]
        if dtype not in SAFETENSORS_DTYPES:
            raise ModelFileDTypeError(f"{where} has dtype {dtype!r}, which the format does not read; "
                                      f"use one of {sorted(SAFETENSORS_DTYPES)}")
        if not isinstance(shape, list) or not all(type(s) is int and s >= 0 for s in shape):
            raise ModelFileContainerError(f"{where}: shape must be a list of non-negative integers, got {shape!r}")
        total = _check_shape(name, shape, total)
        if not (isinstance(offsets, list) and len(offsets) == 2 and all(type(o) is int for o in offsets)
                and 0 <= offsets[0] <= offsets[1] <= data):
            raise ModelFileContainerError(f"{where}: data offsets {offsets!r} are not a span inside the "
                                          f"{data} data bytes of the file")
        if offsets[1] - offsets[0] != math.prod(shape) * SAFETENSORS_DTYPES[dtype]:
            raise ModelFileContainerError(f"{where}: shape {shape} of {dtype} needs "
                                          f"{math.prod(shape) * SAFETENSORS_DTYPES[dtype]} bytes, its offsets span "
                                          f"{offsets[1] - offsets[0]}")
        spans.append(tuple(offsets))
    spans.sort()
    if any(a[1] > b[0] for a, b in zip(spans, spans[1:])):
        raise ModelFileContainerError("tensors overlap in the data section")
    return header, metadata, total


def _read_safetensors(path: Path, blob: bytes) -> RawFile:
    header, metadata, elements = _safetensors_header(path, blob)
    check_memory(16 * elements, "the tensors (float64)")
    from safetensors.torch import load as load_safetensors

    try:
        raw = load_safetensors(blob)
    except Exception as err:  # noqa: BLE001 -- whatever the reader says, after our checks, is a bad container
        raise ModelFileContainerError(f"cannot read the file: {type(err).__name__}: {err}") from None
    if set(raw) != set(header):
        raise ModelFileContainerError("cannot read the file: the reader found other tensors than the header lists")
    tensors, conversions = _convert_all(raw)
    known = {k: v for k, v in metadata.items() if k in METADATA_KEYS}
    return RawFile("safetensors", len(blob), known, tensors, elements, conversions,
                   sorted(set(metadata) - set(METADATA_KEYS)))


# ----------------------------------------------------------------------------- .pt
def _check_zip(path: Path, size: int) -> None:
    try:
        with zipfile.ZipFile(path) as archive:
            entries = archive.infolist()
    except (zipfile.BadZipFile, zipfile.LargeZipFile, OSError, ValueError, EOFError) as err:
        raise ModelFileContainerError(
            f"cannot read the file: not a zip archive ({err}); a .pt model file is what torch.save writes "
            "(its zip format, the default since torch 1.6)") from None
    check("tensors", len(entries), "entries in the zip archive")
    for entry in entries:
        if entry.compress_type != zipfile.ZIP_STORED:
            raise ModelFileContainerError(f"cannot read the file: entry {entry.filename!r} is compressed; "
                                          "torch.save stores entries uncompressed")
    declared = sum(entry.file_size for entry in entries)
    if declared > size:
        raise ModelFileContainerError(f"cannot read the file: its entries declare {declared} bytes, more than "
                                      f"the file's {size}")


def _read_pt(path: Path, size: int) -> RawFile:
    _check_zip(path, size)
    try:
        content = torch.load(path, map_location="cpu", weights_only=True)
    except Exception as err:  # noqa: BLE001 -- any reader failure (pickled objects included) is a bad container
        first = str(err).strip().splitlines()[0] if str(err).strip() else ""
        raise ModelFileContainerError(f"cannot read the file: {type(err).__name__}: {first}") from None
    if not isinstance(content, dict) or not all(isinstance(k, str) for k in content):
        raise ModelFileContainerError(f"a .pt model file holds a dict with string keys, got "
                                      f"{type(content).__name__}")
    expected = set(METADATA_KEYS) | {"tensors"}
    if set(content) - expected:
        raise ModelFileContainerError(f"a .pt model file holds exactly {sorted(expected)}; this one also has "
                                      f"{sorted(set(content) - expected)}")
    tensors = content.get("tensors")
    if not isinstance(tensors, dict):
        raise ModelFileContainerError(f"'tensors' must be a dict of named tensors, got {type(tensors).__name__}")
    check("tensors", len(tensors), "number of tensors")
    total = 0
    for name, t in tensors.items():
        if not isinstance(name, str):
            raise ModelFileContainerError(f"tensor names must be strings, got {name!r}")
        if type(t) not in (torch.Tensor, torch.nn.Parameter):
            raise ModelFileContainerError(f"'tensors'[{name!r}] is a {type(t).__name__}, not a tensor")
        if t.layout != torch.strided or t.is_quantized or t.is_nested:
            raise ModelFileContainerError(f"tensor {name!r} has layout {t.layout}; the format stores plain "
                                          "dense tensors")
        total = _check_shape(name, tuple(t.shape), total)  # logical size: a stride-0 view counts in full
    check_memory(16 * total, "the tensors (float64)")
    metadata = {k: content[k] for k in METADATA_KEYS if k in content}
    converted, conversions = _convert_all({name: t.detach() for name, t in tensors.items()})
    return RawFile("pt", size, metadata, converted, total, conversions)
