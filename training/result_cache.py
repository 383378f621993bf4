"""Trained results cached on disk, so that an interrupted sweep resumes and a finished one is reused.

**Key.** One entry per trained model: ``(experiment, task, size, model, seed)``, the hash of every
setting that shapes that model's training (:func:`settings_hash`: the sweep's setup without its lists
of sizes, seeds and models, which the key names one by one), the device, and :func:`code_version`: a
SHA-256 over the source of the training modules (``training/``) and of the task generators that make
their data (``constructions/tasks/``), plus the torch version. Change a setting, a line of that code or
torch, and the entry is not found (a miss, retrained), never reused.

**Files.** ``<directory>/<sha256 of the key>.json``, one JSON object (never pickle)::

    {"format": "ssm-suite-training-result/1", "key": {...}, "payload": {...}, "sha256": "<of the payload>"}

written atomically (a temporary file in the same directory, flushed to disk, then renamed over the
name), so a reader sees a whole entry or none, and a run killed while writing leaves at most a
temporary ``.tmp`` file. The payload is the caller's (for Fig. C.1: the :class:`SweepPoint` fields and
the model's weights, float32 bytes in base64 with their shapes: :func:`encode_state`).

**Reading is validation.** An entry is used only when it parses, has this format, holds exactly the
requested key (a file copied or renamed from another setting is *foreign*), and its payload's SHA-256
matches; the caller then checks the payload's fields and loads the weights strictly into a freshly
built model. Anything else is ignored with a note (:attr:`ResultCache.notes`) and the model is
retrained and its entry rewritten: a cache entry is never trusted blindly.

**Where.** Nowhere by default: the checks use a cache only when :data:`CACHE_ENV` names a directory
(``python -m reports --training-cache DIR`` sets it for its run). Resuming is per trained model: an
interrupted sweep, run again with the same directory, code and settings, retrains only the models
that had not finished.
"""

from __future__ import annotations

import base64
import hashlib
import json
import os
import tempfile
from dataclasses import asdict, is_dataclass
from pathlib import Path

import torch

#: environment variable naming the cache directory (unset or empty: no disk cache)
CACHE_ENV = "SSM_SUITE_TRAINING_CACHE"
FORMAT = "ssm-suite-training-result/1"
_ROOT = Path(__file__).resolve().parent.parent
#: source folders whose code shapes a trained result (training code and the data generators)
CODE_FOLDERS = (_ROOT / "training", _ROOT / "constructions" / "tasks")


def canonical(value) -> str:
    """Canonical JSON (sorted keys, no spaces) of a JSON-ready value; dataclasses as dicts."""
    return json.dumps(value, sort_keys=True, separators=(",", ":"), default=_jsonable)


def _jsonable(value):
    if is_dataclass(value) and not isinstance(value, type):
        return asdict(value)
    if isinstance(value, (tuple, set, frozenset)):
        return list(value)
    if callable(value):
        return f"<callable {getattr(value, '__module__', '?')}.{getattr(value, '__qualname__', repr(value))}>"
    raise TypeError(f"cannot put {type(value).__name__} into a cache key")


def sha256_text(text: str) -> str:
    return hashlib.sha256(text.encode()).hexdigest()


def settings_hash(settings: dict) -> str:
    """SHA-256 of the canonical JSON of ``settings`` (a dict of the settings that shape a result)."""
    return sha256_text(canonical(settings))


_CODE_VERSION: str | None = None


def code_version() -> str:
    """SHA-256 over the paths and contents of every ``.py`` file under :data:`CODE_FOLDERS`, and the
    torch version (computed once per process)."""
    global _CODE_VERSION
    if _CODE_VERSION is None:
        digest = hashlib.sha256(f"torch {torch.__version__}\n".encode())
        for folder in CODE_FOLDERS:
            for path in sorted(folder.rglob("*.py")):
                digest.update(f"{path.relative_to(_ROOT).as_posix()}\n".encode())
                digest.update(path.read_bytes())
        _CODE_VERSION = digest.hexdigest()
    return _CODE_VERSION


# ----------------------------------------------------------------------------- weights as JSON
def encode_state(module: torch.nn.Module) -> dict:
    """``{name: {"shape": [...], "float32": base64}}`` of the module's state (parameters and buffers,
    converted to float32 on the CPU, little-endian)."""
    out = {}
    for name, tensor in module.state_dict().items():
        t = tensor.detach().to("cpu", torch.float32).contiguous()
        out[name] = {"shape": list(t.shape), "float32": base64.b64encode(t.numpy().astype("<f4").tobytes()).decode()}
    return out


def decode_state(encoded: dict, module: torch.nn.Module) -> None:
    """Load :func:`encode_state`'s output into ``module`` (in place, strictly: every name and shape
    must match the module's). Raises ``ValueError`` naming the problem."""
    if not isinstance(encoded, dict):
        raise ValueError(f"weights must be an object, got {type(encoded).__name__}")
    expected = module.state_dict()
    if set(encoded) != set(expected):
        raise ValueError(f"weights name {sorted(set(encoded) ^ set(expected))[:5]} differently from the model")
    state = {}
    for name, target in expected.items():
        entry = encoded[name]
        if not (isinstance(entry, dict) and isinstance(entry.get("shape"), list) and isinstance(entry.get("float32"), str)):
            raise ValueError(f"weight {name!r} is not a {{shape, float32}} object")
        shape = tuple(entry["shape"])
        if shape != tuple(target.shape):
            raise ValueError(f"weight {name!r} has shape {shape}, the model {tuple(target.shape)}")
        raw = base64.b64decode(entry["float32"], validate=True)
        if len(raw) != 4 * target.numel():
            raise ValueError(f"weight {name!r} holds {len(raw)} bytes, expected {4 * target.numel()}")
        values = torch.frombuffer(bytearray(raw), dtype=torch.float32).reshape(shape)
        state[name] = values.to(target.device, target.dtype)
    module.load_state_dict(state, strict=True)


# ----------------------------------------------------------------------------- the cache
class ResultCache:
    """JSON entries under ``directory`` (created on first write); see the module docstring."""

    def __init__(self, directory: str | os.PathLike):
        self.directory = Path(directory)
        #: one line per entry that was ignored (unreadable, foreign, tampered) or could not be written
        self.notes: list[str] = []
        self.hits = 0
        self.misses = 0

    def path(self, key: dict) -> Path:
        return self.directory / f"{sha256_text(canonical(key))}.json"

    def load(self, key: dict) -> dict | None:
        """The payload stored under ``key``, or ``None`` (a miss; an invalid entry is noted)."""
        path = self.path(key)
        try:
            text = path.read_text(encoding="utf-8")
        except FileNotFoundError:
            self.misses += 1
            return None
        except OSError as error:
            return self._ignore(path, f"unreadable ({error})")
        try:
            entry = json.loads(text)
        except ValueError as error:
            return self._ignore(path, f"not JSON ({error})")
        if not isinstance(entry, dict) or entry.get("format") != FORMAT:
            return self._ignore(path, f"not a {FORMAT} entry")
        if canonical(entry.get("key")) != canonical(key):
            return self._ignore(path, "foreign: its key is not the requested one")
        payload = entry.get("payload")
        if not isinstance(payload, dict) or entry.get("sha256") != sha256_text(canonical(payload)):
            return self._ignore(path, "its payload does not match its SHA-256")
        self.hits += 1
        return payload

    def reject(self, key: dict, why: str) -> None:
        """The caller found the payload of ``key`` unusable (a field missing, weights that do not fit):
        noted and counted as a miss; the caller retrains and :meth:`store` overwrites the entry."""
        self.hits -= 1
        self._ignore(self.path(key), why)

    def store(self, key: dict, payload: dict) -> None:
        """Write the entry atomically; a failure to write is noted, never raised (the run goes on)."""
        entry = {"format": FORMAT, "key": json.loads(canonical(key)), "payload": payload,
                 "sha256": sha256_text(canonical(payload))}
        try:
            self.directory.mkdir(parents=True, exist_ok=True)
            fd, temporary = tempfile.mkstemp(prefix=".entry-", suffix=".tmp", dir=self.directory)
            try:
                with os.fdopen(fd, "w", encoding="utf-8") as handle:
                    handle.write(canonical(entry))
                    handle.flush()
                    os.fsync(handle.fileno())
                os.replace(temporary, self.path(key))
            except BaseException:
                Path(temporary).unlink(missing_ok=True)
                raise
        except OSError as error:
            self.notes.append(f"could not write the cache entry {self.path(key).name}: {error}")

    def _ignore(self, path: Path, why: str) -> None:
        self.misses += 1
        self.notes.append(f"cache entry {path.name} ignored: {why}")
        return None

    def summary(self) -> dict:
        return {"directory": str(self.directory), "hits": self.hits, "misses": self.misses, "notes": list(self.notes)}


def cache_from_environment() -> ResultCache | None:
    """The cache in the directory :data:`CACHE_ENV` names, or ``None`` when it is unset or empty."""
    directory = os.environ.get(CACHE_ENV, "").strip()
    return ResultCache(directory) if directory else None
