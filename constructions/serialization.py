"""The suite's network file format: an SSM+FNN network, its task format and its output code.

Two containers, neither of which executes code when read:

* **safetensors** (``.safetensors``): every tensor under its name; the header metadata holds three
  JSON strings, ``format`` (``"ssm-suite-network/1"``), ``architecture`` and ``task``.
* **state dict** (``.pt``), read with ``torch.load(weights_only=True)``: a dict with the same three
  JSON strings and ``"tensors"``: ``{name: tensor}``.

``architecture`` (JSON)::

    {"embedding": {"kind": "one-hot" | "binary" | "table", "vocabulary": [[segment, size], ...],
                   "flags": [segment, ...],              # binary only
                   "layout": [[block, width], ...]},     # table only: tensor "embedding.table"
     "pre_fnn": {"layers": k} | null,                    # tensors "pre_fnn.W1", "pre_fnn.b1", ...
     "blocks": [{"ssm": SSM, "fnn": {"layers": k}}, ...],  # tensors "blocks.<m>.ssm...", "blocks.<m>.fnn.W1", ...
     "clip": [lo, hi] | null,
     "code": {"kind": "one-hot", "tokens": [...]} | {"kind": "binary", "offset": o, "bits": b}}

    SSM = {"kind": "shift", "lookahead": F}      tensors <p>.C (taps, (D, U)), <p>.skip
        | {"kind": "diagonal", "lookahead": F}   tensors <p>.lam, <p>.B, <p>.C, <p>.skip
        | {"kind": "dense", "lookahead": F}      tensors <p>.A, <p>.B, <p>.C, <p>.skip
        | {"kind": "bank", "groups": [SSM, ...]} tensors <p>.groups.<i>....

``task`` (JSON): ``{"name": "associative-recall", "config": {ARConfig fields}}`` or
``{"name": "copying", "config": {CopyConfig fields}}``. Complex tensors are stored as real
tensors with a trailing dimension of 2 and the suffix ``.complex``; sparse weights are stored dense.

:func:`save` writes a construction; :func:`load` reads a file back into a
:class:`~constructions.construction.Construction` whose reference answers come from the task, so
the suite's property checks apply to it as to its own constructions. Every problem with a file
raises :class:`~constructions.errors.ModelFileError` naming it.
"""

from __future__ import annotations

import json
from dataclasses import asdict
from pathlib import Path

import torch

from .construction import BinaryCode, Construction, OneHotCode
from .embedding import BinaryEmbedding, OneHotEmbedding, TableEmbedding
from .errors import ModelFileError, SuiteError
from .fnn import FNN
from .layout import Layout
from .network import SSMNetwork
from .ssm import DenseSSM, DiagonalSSM, ShiftSSM, SSMBank
from .tasks.associative_recall import ARConfig, reference_answers
from .tasks.copying import CopyConfig, reference_next_tokens
from .vocabulary import Vocabulary

FORMAT = "ssm-suite-network/1"
TASKS = ("associative-recall", "copying")


# ----------------------------------------------------------------------------- writing
def _fnn(prefix: str, fnn: FNN, tensors: dict) -> dict:
    for i, (W, b) in enumerate(zip(fnn.weights, fnn.biases), start=1):
        tensors[f"{prefix}.W{i}"] = W.detach().to_dense() if W.is_sparse else W.detach()
        tensors[f"{prefix}.b{i}"] = b.detach()
    return {"layers": fnn.depth}


def _ssm(prefix: str, ssm, tensors: dict) -> dict:
    if isinstance(ssm, SSMBank):
        return {"kind": "bank", "groups": [_ssm(f"{prefix}.groups.{i}", g, tensors) for i, g in enumerate(ssm.groups)]}
    names = {ShiftSSM: ("shift", ("C", "skip")), DiagonalSSM: ("diagonal", ("lam", "B", "C", "skip")),
             DenseSSM: ("dense", ("A", "B", "C", "skip"))}
    if type(ssm) not in names:
        raise ModelFileError(f"cannot store an SSM layer of type {type(ssm).__name__}")
    kind, fields = names[type(ssm)]
    for name in fields:
        t = getattr(ssm, name).detach()
        if t.is_complex():
            tensors[f"{prefix}.{name}.complex"] = torch.view_as_real(t).contiguous()
        else:
            tensors[f"{prefix}.{name}"] = t
    return {"kind": kind, "lookahead": ssm.lookahead}


def _code(code) -> dict:
    if isinstance(code, OneHotCode):
        return {"kind": "one-hot", "tokens": list(code.tokens)}
    if isinstance(code, BinaryCode):
        return {"kind": "binary", "offset": code.offset, "bits": code.bits}
    raise ModelFileError(f"cannot store an output code of type {type(code).__name__}")


def describe(construction: Construction) -> tuple[dict, dict, dict[str, torch.Tensor]]:
    """(architecture, task, tensors) of a construction, as :func:`save` writes them."""
    network = construction.network
    if not isinstance(network, SSMNetwork):
        raise ModelFileError(f"the file format holds SSM+FNN networks, not {type(network).__name__}")
    tensors: dict[str, torch.Tensor] = {}
    emb = network.embedding
    vocabulary = [list(s) for s in emb.vocabulary.segments]
    if isinstance(emb, TableEmbedding):
        embedding = {"kind": "table", "vocabulary": vocabulary, "layout": [list(b) for b in emb.layout.blocks]}
        tensors["embedding.table"] = emb.table.detach()
    elif isinstance(emb, BinaryEmbedding):
        embedding = {"kind": "binary", "vocabulary": vocabulary, "flags": list(emb.flags)}
    elif isinstance(emb, OneHotEmbedding):
        embedding = {"kind": "one-hot", "vocabulary": vocabulary}
    else:
        raise ModelFileError(f"cannot store an embedding of type {type(emb).__name__}")
    architecture = {
        "embedding": embedding,
        "pre_fnn": _fnn("pre_fnn", network.pre_fnn, tensors) if network.pre_fnn is not None else None,
        "blocks": [{"ssm": _ssm(f"blocks.{m}.ssm", b.ssm, tensors), "fnn": _fnn(f"blocks.{m}.fnn", b.fnn, tensors)}
                   for m, b in enumerate(network.blocks)],
        "clip": list(network.clip) if network.clip is not None else None,
        "code": _code(construction.code),
    }
    config = construction.config
    name = "associative-recall" if isinstance(config, ARConfig) else "copying" if isinstance(config, CopyConfig) else None
    if name is None:
        raise ModelFileError(f"no task format for a config of type {type(config).__name__}")
    task = {"name": name, "config": asdict(config)}
    tensors = {k: v.detach().cpu().contiguous() for k, v in tensors.items()}
    return architecture, task, tensors


def save(construction: Construction, path: str | Path) -> Path:
    """Write ``construction`` to ``path`` (``.safetensors`` or ``.pt``), atomically."""
    import os
    import tempfile

    path = Path(path)
    architecture, task, tensors = describe(construction)
    header = {"format": FORMAT, "architecture": json.dumps(architecture), "task": json.dumps(task)}
    fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.")
    os.close(fd)
    try:
        if path.suffix == ".safetensors":
            from safetensors.torch import save_file

            save_file(tensors, tmp, metadata=header)
        elif path.suffix == ".pt":
            torch.save({**header, "tensors": tensors}, tmp)
        else:
            raise ModelFileError(f"unknown model file type {path.suffix!r}: use .safetensors or .pt")
        os.replace(tmp, path)
    finally:
        Path(tmp).unlink(missing_ok=True)
    return path


# ----------------------------------------------------------------------------- reading
def _read(path: Path) -> tuple[dict, dict[str, torch.Tensor]]:
    if not path.is_file():
        raise ModelFileError(f"model file {str(path)!r} does not exist")
    try:
        if path.suffix == ".safetensors":
            from safetensors import safe_open

            with safe_open(str(path), framework="pt") as f:
                header = dict(f.metadata() or {})
                tensors = {k: f.get_tensor(k) for k in f.keys()}
        elif path.suffix == ".pt":
            content = torch.load(path, map_location="cpu", weights_only=True)
            if not isinstance(content, dict) or not isinstance(content.get("tensors"), dict):
                raise ModelFileError(f"{path}: a .pt model file must hold a dict with a 'tensors' dict")
            header = {k: v for k, v in content.items() if k != "tensors"}
            tensors = content["tensors"]
        else:
            raise ModelFileError(f"unknown model file type {path.suffix!r}: use .safetensors or .pt")
    except ModelFileError:
        raise
    except Exception as err:  # noqa: BLE001 -- any reader failure is a malformed file
        raise ModelFileError(f"cannot read {str(path)!r}: {type(err).__name__}: {err}") from None
    if header.get("format") != FORMAT:
        raise ModelFileError(f"{path}: format is {header.get('format')!r}, expected {FORMAT!r}")
    try:
        spec = {"architecture": json.loads(header["architecture"]), "task": json.loads(header["task"])}
    except (KeyError, TypeError, json.JSONDecodeError) as err:
        raise ModelFileError(f"{path}: missing or malformed 'architecture'/'task' metadata ({err})") from None
    return spec, tensors


class _Tensors:
    """Hands out named tensors once each and reports missing and unused names."""

    def __init__(self, tensors: dict[str, torch.Tensor], dtype: torch.dtype):
        self.tensors, self.used, self.dtype = tensors, set(), dtype

    def get(self, name: str) -> torch.Tensor:
        if name + ".complex" in self.tensors:
            self.used.add(name + ".complex")
            t = self.tensors[name + ".complex"]
            if t.dim() == 0 or t.shape[-1] != 2:
                raise ModelFileError(f"tensor {name}.complex must end in a dimension of 2 (real, imaginary)")
            return torch.view_as_complex(t.to(self.dtype).contiguous())
        if name not in self.tensors:
            raise ModelFileError(f"tensor {name!r} is missing from the file")
        self.used.add(name)
        return self.tensors[name].to(self.dtype)

    def unused(self) -> list[str]:
        return sorted(set(self.tensors) - self.used)


def _read_fnn(prefix: str, spec, tensors: _Tensors) -> FNN:
    layers = spec.get("layers") if isinstance(spec, dict) else None
    if not isinstance(layers, int) or layers < 1:
        raise ModelFileError(f"{prefix}: 'layers' must be a positive integer, got {layers!r}")
    layers = [(tensors.get(f"{prefix}.W{i}"), tensors.get(f"{prefix}.b{i}")) for i in range(1, layers + 1)]
    try:
        return FNN(layers)
    except SuiteError as err:
        raise ModelFileError(f"{prefix}: {err}") from None


def _read_ssm(prefix: str, spec: dict, tensors: _Tensors):
    kind = spec.get("kind") if isinstance(spec, dict) else None
    lookahead = spec.get("lookahead", 0) if isinstance(spec, dict) else 0
    if kind == "bank":
        return SSMBank([_read_ssm(f"{prefix}.groups.{i}", g, tensors) for i, g in enumerate(spec.get("groups", []))])
    if kind == "shift":
        return ShiftSSM(tensors.get(f"{prefix}.C"), skip=tensors.get(f"{prefix}.skip"), lookahead=lookahead)
    if kind == "diagonal":
        return DiagonalSSM(tensors.get(f"{prefix}.lam"), tensors.get(f"{prefix}.B"), tensors.get(f"{prefix}.C"),
                           skip=tensors.get(f"{prefix}.skip"), lookahead=lookahead)
    if kind == "dense":
        return DenseSSM(tensors.get(f"{prefix}.A"), tensors.get(f"{prefix}.B"), tensors.get(f"{prefix}.C"),
                        skip=tensors.get(f"{prefix}.skip"), lookahead=lookahead)
    raise ModelFileError(f"{prefix}: unknown SSM kind {kind!r}; use shift, diagonal, dense or bank")


def _read_code(spec: dict):
    kind = spec.get("kind") if isinstance(spec, dict) else None
    if kind == "one-hot":
        return OneHotCode(tuple(int(t) for t in spec["tokens"]))
    if kind == "binary":
        return BinaryCode(int(spec["offset"]), int(spec["bits"]))
    raise ModelFileError(f"unknown output code {kind!r}; use one-hot or binary")


def task_construction(name: str, network, config, code, source: str) -> Construction:
    """A construction of ``network`` for a named task format (its answers and reference)."""
    if name == "associative-recall":
        return Construction(name, network, config, code, config.answer_positions(),
                            lambda tokens: reference_answers(config, tokens), source)
    return Construction(name, network, config, code, config.answer_positions(),
                        lambda tokens: reference_next_tokens(config, tokens), source)


def load(path: str | Path, *, dtype=torch.float64, device=None) -> Construction:
    """Read a model file (see the module docstring) into a checkable construction."""
    path = Path(path)
    spec, raw = _read(path)
    arch, task = spec["architecture"], spec["task"]
    if task.get("name") not in TASKS:
        raise ModelFileError(f"{path}: unknown task {task.get('name')!r}; use one of {TASKS}")
    try:
        config = (ARConfig if task["name"] == "associative-recall" else CopyConfig)(**task["config"])
        tensors = _Tensors(raw, dtype)
        emb = arch["embedding"]
        vocabulary = Vocabulary(tuple((str(n), int(s)) for n, s in emb["vocabulary"]))
        if vocabulary != config.vocabulary():
            raise ModelFileError(f"{path}: the embedding's vocabulary {vocabulary.segments} is not the task's "
                                 f"{config.vocabulary().segments}")
        if emb["kind"] == "one-hot":
            embedding = OneHotEmbedding(vocabulary, dtype=dtype)
        elif emb["kind"] == "binary":
            embedding = BinaryEmbedding(vocabulary, emb.get("flags", []), dtype=dtype)
        elif emb["kind"] == "table":
            embedding = TableEmbedding(vocabulary, tensors.get("embedding.table"), Layout(tuple((n, int(w)) for n, w in emb["layout"])))
        else:
            raise ModelFileError(f"{path}: unknown embedding kind {emb['kind']!r}")
        pre = _read_fnn("pre_fnn", arch["pre_fnn"], tensors) if arch.get("pre_fnn") else None
        blocks = [(_read_ssm(f"blocks.{m}.ssm", b["ssm"], tensors), _read_fnn(f"blocks.{m}.fnn", b["fnn"], tensors))
                  for m, b in enumerate(arch["blocks"])]
        network = SSMNetwork(embedding, blocks, pre_fnn=pre, clip=tuple(arch["clip"]) if arch.get("clip") else None)
        code = _read_code(arch["code"])
    except ModelFileError:
        raise
    except SuiteError as err:
        raise ModelFileError(f"{path}: {err}") from None
    except (KeyError, TypeError, ValueError) as err:
        raise ModelFileError(f"{path}: malformed architecture ({type(err).__name__}: {err})") from None
    if tensors.unused():
        raise ModelFileError(f"{path}: tensors not used by the architecture: {tensors.unused()}")
    return task_construction(task["name"], network.to(device) if device else network, config, code, f"model file {path}")
