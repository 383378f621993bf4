"""Malformed model files for fuzzing ``python -m reports verify``: valid seeds, mutated.

A case starts from a valid exported file of one of the suite's constructions (:data:`SEEDS`, tiny
formats, so that every instance can be checked), in either container, and applies one to three
mutations drawn by :func:`malformed_files`:

* **tensors** -- drop, add, reshape, change the dtype (float32/16, bfloat16, float8, ints, bool,
  complex), poke a value (NaN, inf, 1e308, 2^60 ...), store as ``.complex`` pairs;
* **metadata** -- replace, delete or add a value anywhere in the ``format``/``architecture``/``task``
  JSON (any JSON value, task sizes such as ``key_length = 2e9``), replace a whole entry by non-JSON,
  ``null``, a list, deep nesting, duplicate keys or NaN;
* **.pt containers** -- a stride-0 expanded view that stands for gigabytes, a transposed
  (non-contiguous) view of the same values, a sparse tensor, a list or a string where a tensor or
  the dict belongs, extra entries, metadata that is not a string;
* **bytes** -- truncate, flip a byte (in the header or anywhere), rewrite the header length, edit the
  safetensors header (huge shapes, offsets past the end, unknown dtypes, duplicate keys), append junk.

:meth:`MalformedFile.write` makes the file; :func:`independent_tensors` reads one back with the
reference readers (safetensors, ``torch.load``), keeping complex values complex, so that a test can
check that whatever ``verify`` passes is the network the file really holds; :func:`run_verify` runs
``verify`` on a file in-process under a time guard and measures its peak memory.
"""

from __future__ import annotations

import contextlib
import functools
import io
import json
import re
import signal
import struct
import time
from dataclasses import dataclass, field
from pathlib import Path

import torch
from hypothesis import strategies as st

SEEDS = ("outer-product", "binary-query-first", "precision-route", "fixed-length")
CONTAINERS = (".safetensors", ".pt")


@functools.cache
def seed_construction(name: str):
    from constructions.associative_recall import binary_query_first, outer_product, precision_route
    from constructions.copying import fixed_length
    from constructions.tasks.associative_recall import ARConfig
    from constructions.tasks.copying import CopyConfig

    return {"outer-product": lambda: outer_product.build(ARConfig(3, 3, 2)),
            "binary-query-first": lambda: binary_query_first.build(ARConfig(4, 4, 2, query="first")),
            "precision-route": lambda: precision_route.build(ARConfig(3, 3, 2)),
            "fixed-length": lambda: fixed_length.build(CopyConfig(2, 3))}[name]()


def seed_task(name: str) -> str:
    return "copying" if name == "fixed-length" else "associative-recall"


@functools.cache
def _decoded(name: str) -> tuple[dict[str, str], dict[str, torch.Tensor]]:
    from constructions.serialization import FORMAT, describe

    architecture, task, tensors = describe(seed_construction(name))
    return {"format": FORMAT, "architecture": json.dumps(architecture), "task": json.dumps(task)}, tensors


# ----------------------------------------------------------------------------- mutations
@dataclass(frozen=True)
class Mutation:
    kind: str
    args: tuple = ()

    def __repr__(self) -> str:  # short: hypothesis prints falsifying cases
        return f"{self.kind}{self.args!r}"[:300]


def _json_paths(value, prefix=()):
    yield prefix
    if isinstance(value, dict):
        for k, v in value.items():
            yield from _json_paths(v, (*prefix, k))
    elif isinstance(value, list):
        for i, v in enumerate(value):
            yield from _json_paths(v, (*prefix, i))


def _at(value, path):
    for p in path:
        value = value[p]
    return value


SIZES = [0, -1, 1, 2, 3, 4095, 4096, 4097, 2**20 + 1, 2**31, 2 * 10**9, 2**62, 2**64, 10**30]
POKES = [float("nan"), float("inf"), -float("inf"), 1e308, -1e308, 2.0**60, 1e-300, 0.0, 1.0, -1.0, 0.5]
DTYPES = ["float32", "float16", "bfloat16", "float8_e4m3fn", "int64", "int32", "int8", "uint8", "bool",
          "complex64", "complex128"]

json_values = st.recursive(
    st.none() | st.booleans() | st.sampled_from(SIZES) | st.integers(-5, 70)
    | st.floats(-1e6, 1e6, allow_nan=False) | st.sampled_from(["", "bank", "shift", "one-hot", "binary", "x" * 40]),
    lambda inner: st.lists(inner, max_size=3) | st.dictionaries(st.sampled_from(["kind", "layers", "groups", "x"]), inner, max_size=3),
    max_leaves=6,
)

RAW_TEXTS = ["{not json", "null", "[]", "[1, 2]", '"a string"', "1e999", "[" * 5000 + "]" * 5000,
             "[" * 40 + "]" * 40, '{"a": 1, "a": 2}', '{"x": NaN}', "9" * 5000]


def _config_fields(name: str) -> list[str]:
    return ["alphabet", "length"] if name == "fixed-length" else ["num_keys", "num_values", "num_pairs", "num_queries",
                                                                  "key_length", "query"]


@st.composite
def mutations(draw, seed: str, container: str) -> Mutation:
    metadata, tensors = _decoded(seed)
    names = sorted(tensors)
    kinds = ["drop", "add", "reshape", "retype", "poke", "complex", "replace", "delete", "add_key", "raw",
             "task_size", "truncate", "flip", "header_length", "append"]
    kinds += ["pt_expand", "pt_transpose", "pt_sparse", "pt_shape"] if container == ".pt" else ["st_header"]
    kind = draw(st.sampled_from(kinds))
    name = draw(st.sampled_from(names))
    if kind == "add":
        return Mutation(kind, (draw(st.sampled_from([f"{name}x", "surplus", f"{name}.complex", "blocks.99.fnn.W1"])),
                               tuple(draw(st.lists(st.integers(0, 4), max_size=3)))))
    if kind == "reshape":
        return Mutation(kind, (name, tuple(draw(st.lists(st.integers(0, 6), max_size=5)))))
    if kind == "retype":
        return Mutation(kind, (name, draw(st.sampled_from(DTYPES))))
    if kind == "poke":
        return Mutation(kind, (name, draw(st.integers(0, 10**6)), draw(st.sampled_from(POKES))))
    if kind == "complex":
        return Mutation(kind, (name, draw(st.sampled_from([0.0, 0.0, 1e-3, 1.0]))))
    if kind in ("replace", "delete", "add_key"):
        key = draw(st.sampled_from(["format", "architecture", "task"]))
        paths = list(_json_paths(json.loads(metadata[key]))) if key != "format" else [()]
        path = draw(st.sampled_from(paths))
        return Mutation(kind, (key, path, draw(json_values)))
    if kind == "raw":
        return Mutation(kind, (draw(st.sampled_from(["format", "architecture", "task"])), draw(st.sampled_from(RAW_TEXTS))))
    if kind == "task_size":
        return Mutation(kind, (draw(st.sampled_from(_config_fields(seed))),
                               draw(st.sampled_from(SIZES + ["3", 3.0, True, None, "first", "last"]))))
    if kind in ("truncate", "flip"):
        return Mutation(kind, (draw(st.floats(0, 1)), draw(st.integers(1, 255)), draw(st.booleans())))
    if kind == "header_length":
        return Mutation(kind, (draw(st.sampled_from([0, 1, 7, 10**12, 2**64 - 1, -1, 1, 100])),))
    if kind == "append":
        return Mutation(kind, (draw(st.binary(min_size=1, max_size=64)),))
    if kind == "pt_expand":
        return Mutation(kind, (name, draw(st.sampled_from([(10**5, 10**5), (2**40,), (3, 2**31), (1,)]))))
    if kind == "pt_shape":
        return Mutation(kind, (name, draw(st.sampled_from(["list", "int", "str", "top-list", "tensors-list",
                                                           "extra-key", "meta-list", "meta-tensor", "int-key"]))))
    if kind == "st_header":
        return Mutation(kind, (draw(st.sampled_from(["huge-shape", "offsets-past-end", "dtype", "duplicate", "entry",
                                                     "metadata-type", "overlap", "negative"])), name))
    return Mutation(kind, (name,))


@dataclass
class MalformedFile:
    """A seed, a container and the mutations to apply, in order."""

    seed: str
    container: str
    changes: tuple[Mutation, ...] = field(default_factory=tuple)

    @property
    def task(self) -> str:
        return seed_task(self.seed)

    def write(self, directory: Path, stem: str = "case") -> Path:
        metadata, tensors = _decoded(self.seed)
        metadata, tensors = dict(metadata), {k: v.clone() for k, v in tensors.items()}
        wrap = {}  # .pt only: how the dict itself is broken
        byte_changes = []
        for m in self.changes:
            if m.kind in ("truncate", "flip", "header_length", "append", "st_header"):
                byte_changes.append(m)
            else:
                try:
                    _apply(m, metadata, tensors, wrap)
                except Exception:  # noqa: BLE001 -- it does not apply to what earlier ones left (a path into null, a sparse tensor)
                    pass
        path = Path(directory) / f"{stem}{self.container}"
        if self.container == ".safetensors":
            from safetensors.torch import save

            plain = {k: (v.contiguous() if v.layout == torch.strided else v.to_dense()) for k, v in tensors.items()}
            plain = {k: v.to(torch.complex64) if v.dtype == torch.complex128 else v for k, v in plain.items()}  # C64 only
            blob = save(plain, metadata={k: str(v) for k, v in metadata.items()})
        else:
            import io

            content = {**metadata, "tensors": tensors}
            content = _wrap(content, wrap)
            buffer = io.BytesIO()
            torch.save(content, buffer)
            blob = buffer.getvalue()
        for m in byte_changes:
            blob = _apply_bytes(m, blob, self.container)
        path.write_bytes(blob)
        return path


def _apply(m: Mutation, metadata: dict, tensors: dict, wrap: dict) -> None:
    a = m.args
    if m.kind == "drop":
        tensors.pop(a[0], None)
    elif m.kind == "add":
        tensors[a[0]] = torch.zeros(a[1], dtype=torch.float64)
    elif m.kind == "reshape":
        numel = 1
        for s in a[1]:
            numel *= s
        if a[0] in tensors:
            tensors[a[0]] = torch.arange(numel, dtype=torch.float64).reshape(a[1])
    elif m.kind == "retype" and a[0] in tensors:
        tensors[a[0]] = tensors[a[0]].to(getattr(torch, a[1]))
    elif m.kind == "poke" and a[0] in tensors and tensors[a[0]].numel() and tensors[a[0]].dtype.is_floating_point:
        t = tensors[a[0]].clone()
        t.view(-1)[a[1] % t.numel()] = a[2]
        tensors[a[0]] = t
    elif m.kind == "complex" and a[0] in tensors and tensors[a[0]].dtype.is_floating_point:
        t = tensors.pop(a[0])
        tensors[a[0] + ".complex"] = torch.stack([t, torch.full_like(t, a[1])], dim=-1)
    elif m.kind in ("replace", "delete", "add_key"):
        key, path, value = a
        if key == "format":
            metadata[key] = value if isinstance(value, str) else json.dumps(value)
            return
        doc = json.loads(metadata[key]) if key in metadata else {}
        if m.kind == "replace":
            if not path:
                doc = value
            else:
                _at(doc, path[:-1])[path[-1]] = value
        elif m.kind == "delete" and path:
            parent = _at(doc, path[:-1])
            del parent[path[-1]]
        elif m.kind == "add_key":
            target = _at(doc, path)
            if isinstance(target, dict):
                target["unknown_key"] = value
            elif isinstance(target, list):
                target.append(value)
        metadata[key] = json.dumps(doc)
    elif m.kind == "raw":
        metadata[a[0]] = a[1]
    elif m.kind == "task_size":
        doc = json.loads(metadata["task"])
        doc["config"][a[0]] = a[1]
        metadata["task"] = json.dumps(doc)
    elif m.kind == "pt_expand" and a[0] in tensors:
        tensors[a[0]] = torch.zeros(1, dtype=torch.float64).expand(*a[1])
    elif m.kind == "pt_transpose" and a[0] in tensors and tensors[a[0]].dim() == 2:
        tensors[a[0]] = tensors[a[0]].t().contiguous().t()  # same values, column-major strides
    elif m.kind == "pt_sparse" and a[0] in tensors and tensors[a[0]].dim() >= 1:
        tensors[a[0]] = tensors[a[0]].to_sparse()
    elif m.kind == "pt_shape":
        wrap[a[1]] = a[0]


def _wrap(content: dict, wrap: dict):
    for how, name in sorted(wrap.items(), key=lambda item: item[0] == "top-list"):  # the list around it last
        tensors = content["tensors"]
        if how in ("list", "int", "str") and name in tensors:
            tensors[name] = {"list": [1.0, 2.0], "int": 3, "str": "weights"}[how]
        elif how == "top-list":
            content = [content]
        elif how == "tensors-list" and isinstance(content, dict):
            content["tensors"] = list(tensors.values())
        elif how == "extra-key" and isinstance(content, dict):
            content["notes"] = "extra"
        elif how == "meta-list" and isinstance(content, dict):
            content["architecture"] = [content["architecture"]]
        elif how == "meta-tensor" and isinstance(content, dict):
            content["task"] = torch.zeros(2)
        elif how == "int-key" and isinstance(content, dict):
            tensors[7] = torch.zeros(1)
    return content


def _apply_bytes(m: Mutation, blob: bytes, container: str) -> bytes:
    a = m.args
    if m.kind == "truncate":
        return blob[: int(a[0] * len(blob))]
    if m.kind == "flip":
        header = 8 + int.from_bytes(blob[:8], "little") if container == ".safetensors" and len(blob) >= 8 else len(blob)
        span = min(header, len(blob)) if a[2] else len(blob)
        i = min(int(a[0] * span), len(blob) - 1)
        return blob[:i] + bytes([blob[i] ^ a[1]]) + blob[i + 1 :] if blob else blob
    if m.kind == "header_length":
        return struct.pack("<Q", a[0] % 2**64) + blob[8:]
    if m.kind == "append":
        return blob + a[0]
    if m.kind == "st_header":
        n = int.from_bytes(blob[:8], "little")
        try:
            header, data = json.loads(blob[8 : 8 + n]), blob[8 + n :]
        except ValueError:  # an earlier mutation broke the header already
            return blob
        if not isinstance(header, dict):
            return blob
        how, name = a
        entries = [k for k in header if k != "__metadata__"]
        target = name if name in header else (entries[0] if entries else None)
        if target is None:
            return blob
        entry = header[target]
        if how == "huge-shape":
            entry["shape"] = [2**31, 2**31]
        elif how == "offsets-past-end":
            entry["data_offsets"] = [entry["data_offsets"][0], len(data) + 10**9]
        elif how == "dtype":
            entry["dtype"] = "F128"
        elif how == "entry":
            header[target] = [1, 2, 3]
        elif how == "metadata-type":
            header["__metadata__"] = {"format": 1}
        elif how == "overlap" and len(entries) > 1:
            header[entries[1]]["data_offsets"] = list(header[entries[0]]["data_offsets"])
            header[entries[1]]["shape"] = list(header[entries[0]]["shape"])
            header[entries[1]]["dtype"] = header[entries[0]]["dtype"]
        elif how == "negative":
            entry["shape"] = [-1]
        text = json.dumps(header)
        if how == "duplicate":
            text = text[:-1] + ", " + json.dumps(target) + ": " + json.dumps(entry) + "}"
        raw = text.encode()
        raw += b" " * (-len(raw) % 8)
        return struct.pack("<Q", len(raw)) + raw + data
    return blob


@st.composite
def malformed_files(draw) -> MalformedFile:
    """A seed file in a container with one to three mutations (see the module docstring)."""
    seed = draw(st.sampled_from(SEEDS))
    container = draw(st.sampled_from(CONTAINERS))
    changes = draw(st.lists(mutations(seed, container), min_size=1, max_size=3))
    return MalformedFile(seed, container, tuple(changes))


# ----------------------------------------------------------------------------- reading back
def independent_tensors(path: Path) -> dict[str, torch.Tensor]:
    """The file's tensors as the reference readers give them, complex kept complex (no checks)."""
    if path.suffix == ".safetensors":
        from safetensors.torch import load_file

        return load_file(str(path))
    return torch.load(path, map_location="cpu", weights_only=True)["tensors"]


def as_values(tensors: dict[str, torch.Tensor]) -> dict[str, torch.Tensor]:
    """Named tensors as complex128 values under their base names: ``X.complex`` (real pairs) and a
    real ``X`` alike, so that a real tensor and a complex one with zero imaginary part compare equal.
    A tensor stored with a complex dtype keeps its imaginary part."""
    values = {}
    for name, t in tensors.items():
        t = t.to_dense() if t.layout != torch.strided else t
        if name.endswith(".complex") and not t.is_complex() and t.dim() and t.shape[-1] == 2:
            values[name.removesuffix(".complex")] = torch.view_as_complex(t.to(torch.float64).contiguous()).to(torch.complex128)
        else:
            values[name] = t.to(torch.complex128) if t.is_complex() else t.to(torch.float64).to(torch.complex128)
    return values


# ----------------------------------------------------------------------------- running verify, guarded
#: seconds a guarded verify run may take before :class:`TookTooLong` stops it
SECONDS = 30


class TookTooLong(BaseException):
    """Raised by the time guard: a BaseException, so that no ``except Exception`` swallows it."""


def _memory_kib(field: str) -> int | None:
    try:
        return int(re.search(rf"{field}:\s+(\d+)", Path("/proc/self/status").read_text()).group(1))
    except (OSError, AttributeError):
        return None


def _reset_peak() -> None:
    with contextlib.suppress(OSError):
        Path("/proc/self/clear_refs").write_text("5")  # resets VmHWM (Linux >= 4.0)


def run_verify(path: Path, task: str, out: Path, seconds: float = SECONDS, args: tuple = ("--examples", "3", "--batch", "10")) -> dict:
    """``verify_main`` on ``path`` in-process under a time guard (:class:`TookTooLong`): exit code,
    output, seconds and the growth of peak resident memory (Linux ``VmHWM``, reset first; 0 elsewhere)."""
    from reports.verify import verify_main

    def expire(signum, frame):
        raise TookTooLong(f"verify ran past {seconds} s")

    before = _memory_kib("VmRSS")
    _reset_peak()
    stdout, stderr = io.StringIO(), io.StringIO()
    previous = signal.signal(signal.SIGALRM, expire)
    signal.setitimer(signal.ITIMER_REAL, seconds)
    start = time.perf_counter()
    try:
        with contextlib.redirect_stdout(stdout), contextlib.redirect_stderr(stderr):
            rc = verify_main(["--task", task, "--weights", str(path), *args, "--out", str(out)])
    except TookTooLong:  # an outcome of the case (so that hypothesis reports it), not an exit code
        rc = f"still running after {seconds} s"
    finally:
        signal.setitimer(signal.ITIMER_REAL, 0)
        signal.signal(signal.SIGALRM, previous)
    elapsed = time.perf_counter() - start
    peak = _memory_kib("VmHWM")
    growth = (peak - before) * 1024 if peak is not None and before is not None else 0
    return {"rc": rc, "stdout": stdout.getvalue(), "stderr": stderr.getvalue(), "seconds": elapsed, "rss_growth": growth}
