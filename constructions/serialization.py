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
        | {"kind": "bank", "groups": [LAYER, ...]} tensors <p>.groups.<i>....  (LAYER: shift, diagonal or dense)

``task`` (JSON): ``{"name": "associative-recall", "config": {ARConfig fields}}``,
``{"name": "copying", "config": {CopyConfig fields}}``, ``{"name": "scattered-recall", "config":
{ScatteredARConfig fields}}`` (queries anywhere, answer positions per instance: Zoology's MQAR) or
``{"name": "suffix-lookup" | "prefix-lookup", "config": {"alphabet", "length", "ngram", "answer_length"}}``
(:class:`~constructions.tasks.ngram_lookup.NgramLookupConfig`, its ``key`` given by the name). Complex SSM tensors (``lam``, ``B``, ``C`` of a
diagonal layer, ``A``, ``B``, ``C`` of a dense one; shift taps are real) are stored as real tensors
with a trailing dimension of 2 and the suffix ``.complex``; sparse
weights are stored dense. ``pre_fnn`` and ``clip`` may be left out (null); ``lookahead`` defaults to 0.

:func:`save` writes a construction; :func:`load` reads a file back into a
:class:`~constructions.construction.Construction` whose reference answers come from the task, so
the suite's property checks apply to it as to its own constructions. A file is untrusted input:
:mod:`constructions.model_file` checks every size against a stated limit before allocating it
(:data:`~constructions.model_file.limits.LIMITS`), converts stored dtypes to float64 only where
that is exact (:mod:`~constructions.model_file.containers`) and checks the JSON against the format
(:mod:`~constructions.model_file.schema`). Every problem raises a subclass of
:class:`~constructions.errors.ModelFileError` naming it.
"""

from __future__ import annotations

import json
from dataclasses import asdict
from pathlib import Path

import torch

from .construction import BinaryCode, Construction, OneHotCode
from .embedding import BinaryEmbedding, OneHotEmbedding, TableEmbedding
from .errors import (
    ModelFileAccessError,
    ModelFileError,
    ModelFileMetadataError,
    ModelFileTensorError,
    SuiteError,
)
from .fnn import FNN
from .layout import Layout
from .model_file import containers, limits, schema
from .model_file.schema import TASKS
from .network import SSMNetwork
from .ssm import DenseSSM, DiagonalSSM, ShiftSSM, SSMBank
from .tasks.associative_recall import ARConfig, reference_answers
from .tasks import ngram_lookup
from .tasks.copying import CopyConfig, reference_next_tokens
from .tasks.scattered_recall import ScatteredARConfig, reference_answers_at
from .vocabulary import Vocabulary

FORMAT = "ssm-suite-network/1"

#: task name in the file -> its config type (``scattered-recall``: queries anywhere, Zoology's MQAR layout)
CONFIG_TYPES = {"associative-recall": ARConfig, "copying": CopyConfig, "scattered-recall": ScatteredARConfig,
                "suffix-lookup": ngram_lookup.NgramLookupConfig, "prefix-lookup": ngram_lookup.NgramLookupConfig}


def task_of(config) -> tuple[str, dict]:
    """(task name, config fields) as a file holds them: a lookup's key is in the name, not the fields."""
    if isinstance(config, ngram_lookup.NgramLookupConfig):
        fields = asdict(config)
        return f"{fields.pop('key')}-lookup", fields
    name = next((n for n, t in CONFIG_TYPES.items() if isinstance(config, t)), None)
    if name is None:
        raise ModelFileError(f"no task format for a config of type {type(config).__name__}")
    return name, asdict(config)


# ----------------------------------------------------------------------------- writing
def _fnn(prefix: str, fnn: FNN, tensors: dict) -> dict:
    for i, (W, b) in enumerate(zip(fnn.weights, fnn.biases), start=1):
        tensors[f"{prefix}.W{i}"] = W.detach().to_dense() if W.is_sparse else W.detach()
        tensors[f"{prefix}.b{i}"] = b.detach()
    return {"layers": fnn.depth}


def _ssm(prefix: str, ssm, tensors: dict, in_bank: bool = False) -> dict:
    if isinstance(ssm, SSMBank) and not in_bank:
        return {"kind": "bank", "groups": [_ssm(f"{prefix}.groups.{i}", g, tensors, True) for i, g in enumerate(ssm.groups)]}
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
    name, fields = task_of(construction.config)
    task = {"name": name, "config": fields}
    tensors = {k: v.detach().cpu().contiguous() for k, v in tensors.items()}
    return architecture, task, tensors


def save(construction: Construction, path: str | Path) -> Path:
    """Write ``construction`` to ``path`` (``.safetensors`` or ``.pt``), atomically, and only a file that
    :func:`load` takes back: the written file is read back under the model-file limits
    (:mod:`constructions.model_file.limits`) before it replaces ``path``; a construction past them raises
    :class:`ModelFileError` naming the limit, and nothing is written."""
    import os
    import tempfile

    path = Path(path)
    if path.suffix not in (".safetensors", ".pt"):
        raise ModelFileError(f"unknown model file type {path.suffix!r}: use .safetensors or .pt")
    architecture, task, tensors = describe(construction)
    header = {"format": FORMAT, "architecture": json.dumps(architecture), "task": json.dumps(task)}
    fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.", suffix=path.suffix)
    os.close(fd)
    try:
        if path.suffix == ".safetensors":
            from safetensors.torch import save_file

            save_file(tensors, tmp, metadata=header)
        else:
            torch.save({**header, "tensors": tensors}, tmp)
        try:
            load(tmp)
        except ModelFileError as error:
            raise type(error)(f"the model file of this construction would be refused on loading, so none is "
                              f"written: {error}") from None
        os.replace(tmp, path)
    finally:
        Path(tmp).unlink(missing_ok=True)
    return path


# ----------------------------------------------------------------------------- reading
#: the SSM tensors that may be complex (stored as real pairs under ``<name>.complex``), by layer kind;
#: a dense layer with one complex tensor computes with all three complex (as a diagonal one does)
COMPLEX_FIELDS = {"shift": (), "diagonal": ("lam", "B", "C"), "dense": ("A", "B", "C")}

#: what a constructor may raise on tensors that do not fit (beyond the suite's own errors)
_BUILD_ERRORS = (SuiteError, RuntimeError, IndexError)


class _Tensors:
    """Hands out named tensors once each and reports missing and unused names."""

    def __init__(self, tensors: dict[str, torch.Tensor], dtype: torch.dtype):
        self.tensors, self.used, self.dtype = tensors, set(), dtype

    def get(self, name: str, complex_ok: bool = False) -> torch.Tensor:
        if name + ".complex" in self.tensors:
            if not complex_ok:
                raise ModelFileTensorError(f"tensor {name}.complex: {name} is real in the format (complex: "
                                           f"{', '.join(f'{k} {v}' for k, v in COMPLEX_FIELDS.items() if v)})")
            self.used.add(name + ".complex")
            t = self.tensors[name + ".complex"]
            if t.dim() == 0 or t.shape[-1] != 2:
                raise ModelFileTensorError(f"tensor {name}.complex must end in a dimension of 2 (real, imaginary), "
                                           f"got shape {tuple(t.shape)}")
            return torch.view_as_complex(t.to(self.dtype).contiguous())
        if name not in self.tensors:
            raise ModelFileTensorError(f"tensor {name!r} is missing from the file")
        self.used.add(name)
        return self.tensors[name].to(self.dtype)

    def unused(self) -> list[str]:
        return sorted(set(self.tensors) - self.used)


def _built(where: str, make):
    """``make()``, with a constructor's complaint about the tensors raised as a named file error."""
    try:
        return make()
    except ModelFileError:
        raise
    except _BUILD_ERRORS as err:
        raise ModelFileTensorError(f"{where}: {err}") from None


def _read_fnn(prefix: str, layers: int, tensors: _Tensors) -> FNN:
    weights = [(tensors.get(f"{prefix}.W{i}"), tensors.get(f"{prefix}.b{i}")) for i in range(1, layers + 1)]
    return _built(prefix, lambda: FNN(weights))


def _read_ssm(prefix: str, spec: dict, tensors: _Tensors):
    kind = spec["kind"]
    if kind == "bank":
        groups = [_read_ssm(f"{prefix}.groups.{i}", g, tensors) for i, g in enumerate(spec["groups"])]
        return _built(prefix, lambda: SSMBank(groups))
    get = lambda field: tensors.get(f"{prefix}.{field}", complex_ok=field in COMPLEX_FIELDS[kind])  # noqa: E731
    F = spec["lookahead"]
    if kind == "shift":
        C, skip = get("C"), get("skip")
        return _built(prefix, lambda: ShiftSSM(C, skip=skip, lookahead=F))
    if kind == "diagonal":
        lam, B, C, skip = get("lam"), get("B"), get("C"), get("skip")
        return _built(prefix, lambda: DiagonalSSM(lam, B, C, skip=skip, lookahead=F))
    A, B, C, skip = get("A"), get("B"), get("C"), get("skip")
    if any(t.is_complex() for t in (A, B, C)):
        A, B, C = (torch.complex(t, torch.zeros_like(t)) if not t.is_complex() else t for t in (A, B, C))
    return _built(prefix, lambda: DenseSSM(A, B, C, skip=skip, lookahead=F))


def _answer_tokens(config) -> list[range]:
    """The token ids the task's reference answers take: recall answers values, copying the symbols and EOS."""
    if isinstance(config, (ARConfig, ScatteredARConfig)):
        return [range(config.num_keys, config.num_keys + config.num_values)]
    return [range(config.alphabet), range(config.eos, config.eos + 1)]


def _read_code(spec: dict, width: int, config, vocabulary: Vocabulary):
    """The output code, checked to fit the network's output width and to express every answer."""
    answers = _answer_tokens(config)
    if spec["kind"] == "one-hot":
        tokens = spec["tokens"]
        outside = [t for t in tokens if t >= vocabulary.size]
        if outside:
            raise ModelFileMetadataError(f"output code tokens {outside[:5]} are outside the vocabulary [0, {vocabulary.size})")
        if len(tokens) != width:
            raise ModelFileMetadataError(f"the one-hot output code has {len(tokens)} tokens, but the network gives "
                                         f"{width} output channels")
        missing = sorted(set().union(*answers) - set(tokens))
        if missing:
            raise ModelFileMetadataError(f"the one-hot output code has no channel for answer tokens {missing[:5]}"
                                         f"{' ...' if len(missing) > 5 else ''} of the task")
        return OneHotCode(tokens)
    offset, bits = spec["offset"], spec["bits"]
    if bits != width:
        raise ModelFileMetadataError(f"the binary output code has {bits} bits, but the network gives {width} output channels")
    lowest, highest = min(r.start for r in answers), max(r.stop - 1 for r in answers)
    if offset > lowest or highest - offset >= 1 << bits:
        raise ModelFileMetadataError(f"the binary output code (offset {offset}, {bits} bits) covers tokens "
                                     f"[{offset}, {offset + (1 << bits)}), not every answer token in [{lowest}, {highest}]")
    return BinaryCode(offset, bits)


def _embedding(spec: dict, vocabulary: Vocabulary, tensors: _Tensors, dtype):
    if spec["kind"] == "one-hot":
        return OneHotEmbedding(vocabulary, dtype=dtype)
    if spec["kind"] == "binary":
        try:
            return BinaryEmbedding(vocabulary, spec["flags"], dtype=dtype)
        except SuiteError as err:
            raise ModelFileMetadataError(f"architecture.embedding.flags: {err}") from None
    table = tensors.get("embedding.table")
    try:
        layout = Layout(spec["layout"])
    except SuiteError as err:
        raise ModelFileMetadataError(f"architecture.embedding.layout: {err}") from None
    return _built("embedding", lambda: TableEmbedding(vocabulary, table, layout))


def _config(name: str, fields: dict):
    try:
        key = {"key": name.removesuffix("-lookup")} if name.endswith("-lookup") else {}
        return CONFIG_TYPES[name](**fields, **key)
    except SuiteError as err:
        raise ModelFileMetadataError(f"task.config: {err}") from None


def task_construction(name: str, network, config, code, source: str) -> Construction:
    """A construction of ``network`` for a named task format (its answers and reference)."""
    if name == "associative-recall":
        return Construction(name, network, config, code, config.answer_positions(),
                            lambda tokens: reference_answers(config, tokens), source)
    if name == "scattered-recall":  # answer positions per instance: read with outputs_at / reference_at
        return Construction(name, network, config, code, None, None, source,
                            reference_at=lambda tokens, positions: reference_answers_at(config, tokens, positions))
    if name.endswith("-lookup"):
        return Construction(name, network, config, code, config.answer_positions(),
                            lambda tokens: ngram_lookup.reference_next_tokens(config, tokens), source)
    return Construction(name, network, config, code, config.answer_positions(),
                        lambda tokens: reference_next_tokens(config, tokens), source)


def _load(path: Path, dtype, device) -> Construction:
    raw = containers.read(path)
    if raw.metadata.get("format") != FORMAT:
        raise ModelFileMetadataError(f"format is {raw.metadata.get('format')!r}, expected {FORMAT!r}")
    missing = [k for k in ("architecture", "task") if k not in raw.metadata]
    if missing:
        raise ModelFileMetadataError(f"the metadata lacks {missing}")
    arch = schema.architecture(containers.parse_json(raw.metadata["architecture"], "the architecture metadata"))
    name, fields, length = schema.task(containers.parse_json(raw.metadata["task"], "the task metadata"))
    config = _config(name, fields)
    try:
        vocabulary = Vocabulary(arch["embedding"]["vocabulary"])
    except SuiteError as err:
        raise ModelFileMetadataError(f"architecture.embedding.vocabulary: {err}") from None
    if vocabulary != config.vocabulary():
        raise ModelFileMetadataError(f"the embedding's vocabulary {vocabulary.segments} is not the task's "
                                     f"{config.vocabulary().segments}")
    tensors = _Tensors(raw.tensors, dtype)
    embedding = _embedding(arch["embedding"], vocabulary, tensors, dtype)
    pre = _read_fnn("pre_fnn", arch["pre_fnn"], tensors) if arch["pre_fnn"] is not None else None
    blocks = [(_read_ssm(f"blocks.{m}.ssm", b["ssm"], tensors), _read_fnn(f"blocks.{m}.fnn", b["fnn"], tensors))
              for m, b in enumerate(arch["blocks"])]
    if tensors.unused():
        raise ModelFileTensorError(f"tensors not used by the architecture: {tensors.unused()[:10]}"
                                   f"{' ...' if len(tensors.unused()) > 10 else ''}")
    network = _built("network", lambda: SSMNetwork(embedding, blocks, pre_fnn=pre, clip=arch["clip"]))
    code = _read_code(arch["code"], network.out_features, config, vocabulary)
    cost = limits.check_network(network, length, raw.elements)
    construction = task_construction(name, network.to(device) if device else network, config, code, f"model file {path}")
    construction.notes["file"] = {**raw.summary(), "tokens_per_instance": length,
                                  "forward_pass_estimate": {"floats": cost.values, "multiply_adds": cost.work}}
    return construction


def load(path: str | Path, *, dtype=torch.float64, device=None) -> Construction:
    """Read a model file (see the module docstring) into a checkable construction.

    Every size is checked against :data:`~constructions.model_file.limits.LIMITS` before it is
    allocated; every problem raises a :class:`~constructions.errors.ModelFileError` subclass naming
    it and the file. ``construction.notes["file"]`` records the container, the dtype conversions
    made and the estimated cost of a forward pass."""
    path = Path(path)
    try:
        return _load(path, dtype, device)
    except ModelFileAccessError:
        raise
    except ModelFileError as err:
        raise type(err)(f"{path}: {err}") from None
