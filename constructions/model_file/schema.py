"""The ``architecture`` and ``task`` JSON of a model file, checked against the format before any
object is built from them (the format itself: :mod:`constructions.serialization`).

Every value is checked for its JSON type, its range and its limit (:mod:`.limits`); a problem raises
:class:`~constructions.errors.ModelFileMetadataError` (or :class:`~constructions.errors.ModelFileLimitError`)
naming where it is, e.g. ``architecture.blocks[1].ssm.groups[0].lookahead``. Unknown keys are errors
too: a misspelt key would otherwise be silently ignored.
"""

from __future__ import annotations

import math

from ..errors import ModelFileMetadataError
from .limits import check

TASKS = ("associative-recall", "copying", "scattered-recall", "suffix-lookup", "prefix-lookup")
LAYER_KINDS = ("shift", "diagonal", "dense")

#: task config fields: (required, optional with defaults); int fields and the limit bounding each
AR_FIELDS = {"num_keys": "vocabulary", "num_values": "vocabulary", "num_pairs": "sequence_length",
             "num_queries": "sequence_length", "key_length": "sequence_length"}
COPY_FIELDS = {"alphabet": "vocabulary", "length": "sequence_length"}
SCATTERED_FIELDS = {"num_keys": "vocabulary", "num_values": "vocabulary", "num_pairs": "sequence_length",
                    "num_queries": "sequence_length", "length": "sequence_length", "num_passes": "sequence_length",
                    "fillers": "vocabulary"}
#: n-gram lookup (``suffix-lookup``: BOS s SEP g a EOS, ``prefix-lookup``: BOS g SEP s SEP a EOS); the key is the task's name
LOOKUP_FIELDS = {"alphabet": "vocabulary", "length": "sequence_length", "ngram": "sequence_length",
                 "answer_length": "sequence_length"}
#: the least value of a config field (every other field is at least 1)
MINIMUM = {"answer_length": 0}


def _type_name(value) -> str:
    return {dict: "an object", list: "a list", str: "a string", bool: "a boolean", type(None): "null",
            int: "an integer", float: "a number"}.get(type(value), type(value).__name__)


def obj(value, where: str, required=(), optional=()) -> dict:
    if not isinstance(value, dict):
        raise ModelFileMetadataError(f"{where} must be a JSON object, got {_type_name(value)}")
    missing = [k for k in required if k not in value]
    if missing:
        raise ModelFileMetadataError(f"{where} lacks {missing}")
    unknown = sorted(set(value) - set(required) - set(optional))
    if unknown:
        raise ModelFileMetadataError(f"{where} has unknown keys {unknown}; it takes {sorted({*required, *optional})}")
    return value


def integer(value, where: str, lo: int, limit_name: str | None = None, hi: int | None = None) -> int:
    if type(value) is not int:
        raise ModelFileMetadataError(f"{where} must be an integer, got {_type_name(value)} {value!r}")
    if value < lo:
        raise ModelFileMetadataError(f"{where} must be at least {lo}, got {value}")
    if limit_name is not None:
        check(limit_name, value, where)
    if hi is not None and value > hi:
        raise ModelFileMetadataError(f"{where} must be at most {hi}, got {value}")
    return value


def string(value, where: str, choices=None) -> str:
    if not isinstance(value, str):
        raise ModelFileMetadataError(f"{where} must be a string, got {_type_name(value)}")
    if choices is not None and value not in choices:
        raise ModelFileMetadataError(f"{where} is {value!r}; use one of {list(choices)}")
    return value


def array(value, where: str, limit_name: str | None = None) -> list:
    if not isinstance(value, list):
        raise ModelFileMetadataError(f"{where} must be a list, got {_type_name(value)}")
    if limit_name is not None:
        check(limit_name, len(value), f"length of {where}")
    return value


def segments(value, where: str, limit_name: str) -> tuple[tuple[str, int], ...]:
    """A list of ``[name, size]`` pairs."""
    pairs = []
    for i, item in enumerate(array(value, where)):
        if not (isinstance(item, list) and len(item) == 2):
            raise ModelFileMetadataError(f"{where}[{i}] must be a [name, size] pair, got {item!r}")
        pairs.append((string(item[0], f"{where}[{i}][0]"), integer(item[1], f"{where}[{i}][1]", 1, limit_name)))
    return tuple(pairs)


# ----------------------------------------------------------------------------- task
def task(value) -> tuple[str, dict, int]:
    """``(name, config fields, tokens per instance)`` of the task JSON, every size within its limit."""
    spec = obj(value, "task", required=("name", "config"))
    name = string(spec["name"], "task.name")
    if name not in TASKS:
        raise ModelFileMetadataError(f"unknown task {name!r}; use one of {TASKS}")
    lookup = name in ("suffix-lookup", "prefix-lookup")
    fields = LOOKUP_FIELDS if lookup else {"associative-recall": AR_FIELDS, "copying": COPY_FIELDS,
                                           "scattered-recall": SCATTERED_FIELDS}[name]
    required = tuple(fields) if lookup else {"associative-recall": ("num_keys", "num_values", "num_pairs"), "copying": tuple(fields),
                                             "scattered-recall": ("num_keys", "num_values", "num_pairs", "num_queries", "length")}[name]
    optional = () if lookup else {"associative-recall": (*fields, "query"), "copying": (), "scattered-recall": ("num_passes", "fillers")}[name]
    config = dict(obj(spec["config"], "task.config", required, optional))
    for key, limit_name in fields.items():
        if key in config:
            integer(config[key], f"task.config.{key}", MINIMUM.get(key, 1), limit_name)
    if name == "associative-recall":
        query = string(config.get("query", "last"), "task.config.query", ("last", "first"))
        n, N, Q = config.get("key_length", 1), config["num_pairs"], config.get("num_queries", 1)
        length = N * (n + 1) + Q * n
        vocabulary = config["num_keys"] + config["num_values"] + (n * config["num_keys"] if query == "first" else 0)
    elif name == "scattered-recall":
        length, vocabulary = config["length"], config["num_keys"] + config["num_values"] + config.get("fillers", 1)
    elif lookup:
        length = config["length"] + config["ngram"] + config["answer_length"] + (3 if name == "suffix-lookup" else 4)
        vocabulary = config["alphabet"] + 3
    else:
        length, vocabulary = 2 * config["length"] + 3, config["alphabet"] + 3
    check("sequence_length", length, f"tokens per instance of the task {name!r}")
    check("vocabulary", vocabulary, f"tokens in the vocabulary of the task {name!r}")
    return name, config, length


# ----------------------------------------------------------------------------- architecture
def fnn(value, where: str) -> int:
    return integer(obj(value, where, required=("layers",))["layers"], f"{where}.layers", 1, "fnn_layers")


def ssm(value, where: str, in_bank: bool = False) -> dict:
    spec = obj(value, where, required=("kind",), optional=("lookahead", "groups"))
    kind = string(spec["kind"], f"{where}.kind")
    if kind == "bank":
        if in_bank:
            raise ModelFileMetadataError(f"{where}: a bank's groups are {LAYER_KINDS} layers, not banks")
        obj(spec, where, required=("kind", "groups"))
        groups = array(spec["groups"], f"{where}.groups", "bank_groups")
        if not groups:
            raise ModelFileMetadataError(f"{where}.groups is empty; a bank has at least one group")
        return {"kind": "bank", "groups": [ssm(g, f"{where}.groups[{i}]", True) for i, g in enumerate(groups)]}
    if kind not in LAYER_KINDS:
        raise ModelFileMetadataError(f"{where}: unknown SSM kind {kind!r}; use shift, diagonal, dense or bank")
    obj(spec, where, required=("kind",), optional=("lookahead",))
    return {"kind": kind, "lookahead": integer(spec.get("lookahead", 0), f"{where}.lookahead", 0, "sequence_length")}


def embedding(value) -> dict:
    spec = obj(value, "architecture.embedding", required=("kind", "vocabulary"), optional=("flags", "layout"))
    kind = string(spec["kind"], "architecture.embedding.kind", ("one-hot", "binary", "table"))
    out = {"kind": kind, "vocabulary": segments(spec["vocabulary"], "architecture.embedding.vocabulary", "vocabulary")}
    if kind == "binary":
        flags = array(spec.get("flags", []), "architecture.embedding.flags", "vocabulary")
        out["flags"] = tuple(string(f, f"architecture.embedding.flags[{i}]") for i, f in enumerate(flags))
    elif "flags" in spec:
        raise ModelFileMetadataError(f"architecture.embedding.flags is for binary embeddings, not {kind!r}")
    if kind == "table":
        if "layout" not in spec:
            raise ModelFileMetadataError("architecture.embedding lacks 'layout' (a table embedding's column blocks)")
        out["layout"] = segments(spec["layout"], "architecture.embedding.layout", "weight_elements")
    elif "layout" in spec:
        raise ModelFileMetadataError(f"architecture.embedding.layout is for table embeddings, not {kind!r}")
    return out


def clip(value) -> tuple[float, float] | None:
    if value is None:
        return None
    bounds = array(value, "architecture.clip")
    if len(bounds) != 2 or not all(type(b) in (int, float) and math.isfinite(b) for b in bounds):
        raise ModelFileMetadataError(f"architecture.clip must be null or [lo, hi] with two finite numbers, got {value!r}")
    if bounds[0] > bounds[1]:
        raise ModelFileMetadataError(f"architecture.clip must have lo <= hi, got {value!r}")
    return float(bounds[0]), float(bounds[1])


def code(value) -> dict:
    spec = obj(value, "architecture.code", required=("kind",), optional=("tokens", "offset", "bits"))
    kind = string(spec["kind"], "architecture.code.kind")
    if kind == "one-hot":
        obj(spec, "architecture.code", required=("kind", "tokens"))
        tokens = array(spec["tokens"], "architecture.code.tokens", "vocabulary")
        tokens = [integer(t, f"architecture.code.tokens[{i}]", 0, "vocabulary") for i, t in enumerate(tokens)]
        if not tokens or len(set(tokens)) != len(tokens):
            raise ModelFileMetadataError(f"architecture.code.tokens must be distinct token ids, at least one; got "
                                         f"{len(tokens)} with {len(tokens) - len(set(tokens))} repeated")
        return {"kind": kind, "tokens": tuple(tokens)}
    if kind == "binary":
        obj(spec, "architecture.code", required=("kind", "offset", "bits"))
        return {"kind": kind, "offset": integer(spec["offset"], "architecture.code.offset", 0, "vocabulary"),
                "bits": integer(spec["bits"], "architecture.code.bits", 1, hi=62)}
    raise ModelFileMetadataError(f"unknown output code {kind!r}; use one-hot or binary")


def architecture(value) -> dict:
    """The architecture JSON, checked and normalised (defaults filled in, tuples for pairs)."""
    spec = obj(value, "architecture", required=("embedding", "blocks", "code"), optional=("pre_fnn", "clip"))
    blocks = array(spec["blocks"], "architecture.blocks", "blocks")
    checked = []
    for m, b in enumerate(blocks):
        where = f"architecture.blocks[{m}]"
        b = obj(b, where, required=("ssm", "fnn"))
        checked.append({"ssm": ssm(b["ssm"], f"{where}.ssm"), "fnn": fnn(b["fnn"], f"{where}.fnn")})
    pre = spec.get("pre_fnn")
    return {"embedding": embedding(spec["embedding"]),
            "pre_fnn": fnn(pre, "architecture.pre_fnn") if pre is not None else None,
            "blocks": checked, "clip": clip(spec.get("clip")), "code": code(spec["code"])}
