"""A built construction: the network, the task format it solves, and how its outputs are read.

``Construction.answer(tokens)`` runs the network and decodes the outputs at the task's answer
positions into token ids; ``target(answers)`` gives the exact output vectors an exact construction
must produce. Verification compares both with the task's reference answers
(:func:`constructions.verification.verify`).
"""

from __future__ import annotations

import functools
from dataclasses import dataclass, field
from typing import Any, Callable, Literal

import torch

from . import sparse_path
from .errors import ShapeError, SparsePathUnavailableError, UnknownOptionError
from .network import SSMNetwork
from .resources import Resources, measure, measure_state
from .ssm import Mode

#: how :meth:`Construction.outputs` runs the network: its dense forward pass, the structured fast path, or the choice
Path = Literal["auto", "dense", "sparse"]
PATHS: tuple[str, ...] = ("auto", "dense", "sparse")


@dataclass(frozen=True)
class OneHotCode:
    """Output channel ``j`` stands for answer token ``tokens[j]``: token ``tokens[j]`` is ``e_j``."""

    tokens: tuple[int, ...]

    @classmethod
    def range(cls, offset: int, size: int) -> "OneHotCode":
        return cls(tuple(range(offset, offset + size)))

    def target(self, ids: torch.Tensor, dtype=torch.float64) -> torch.Tensor:
        table = torch.full((max(self.tokens) + 1,), -1, dtype=torch.long, device=ids.device)
        table[torch.tensor(self.tokens, device=ids.device)] = torch.arange(len(self.tokens), device=ids.device)
        channel = table[ids.clamp(0, len(table) - 1)]
        if bool(((ids < 0) | (ids >= len(table)) | (channel < 0)).any()):
            raise ValueError(f"answers {ids.unique().tolist()} include tokens outside this code's {self.tokens}")
        return torch.nn.functional.one_hot(channel, len(self.tokens)).to(dtype)

    def decode(self, outputs: torch.Tensor) -> torch.Tensor:
        return torch.take(_token_table(self.tokens, outputs.device), outputs.argmax(-1))


@functools.lru_cache(maxsize=64)
def _token_table(tokens: tuple[int, ...], device: torch.device) -> torch.Tensor:
    """``tokens`` as a tensor, made once per code and device (a decoder reads it once per generated token)."""
    return torch.tensor(tokens, device=device)


@dataclass(frozen=True)
class SignCode:
    """Output channel ``r`` is ``+1`` or ``-1``, bit ``r`` of a class index; ``classes[token]`` is the
    class of an answer token and ``tokens[class]`` the token a class decodes to (``-1``: none)."""

    bits: int
    classes: dict
    tokens: tuple[int, ...]

    def target(self, ids: torch.Tensor, dtype=torch.float64) -> torch.Tensor:
        table = torch.full((max(self.classes) + 1,), -1, dtype=torch.long, device=ids.device)
        for token, cls in self.classes.items():
            table[token] = cls
        cls = table[ids]
        if bool((cls < 0).any()):
            raise ValueError(f"answers {ids.unique().tolist()} include tokens without a class")
        shifts = torch.arange(self.bits, device=ids.device)
        return (2 * ((cls.unsqueeze(-1) >> shifts) & 1) - 1).to(dtype)

    def decode(self, outputs: torch.Tensor) -> torch.Tensor:
        weights = 2 ** torch.arange(self.bits, device=outputs.device)
        cls = ((outputs > 0).long() * weights).sum(-1)
        lookup = torch.tensor(self.tokens, device=outputs.device)
        return torch.where(cls < len(self.tokens), lookup[cls.clamp(max=len(self.tokens) - 1)], torch.full_like(cls, -1))


@dataclass(frozen=True)
class BinaryCode:
    """Answer token ``offset + j`` is the little-endian bit vector of ``j`` (``bits`` channels)."""

    offset: int
    bits: int

    def target(self, ids: torch.Tensor, dtype=torch.float64) -> torch.Tensor:
        shifts = torch.arange(self.bits, device=ids.device)
        return (((ids - self.offset).unsqueeze(-1) >> shifts) & 1).to(dtype)

    def decode(self, outputs: torch.Tensor) -> torch.Tensor:
        weights = 2 ** torch.arange(self.bits, device=outputs.device)
        return ((outputs > 0.5).long() * weights).sum(-1) + self.offset


@dataclass
class Construction:
    """``network`` solves ``config`` exactly; ``reference(tokens) -> (B, Q)`` gives the right answers.

    Formats whose answer positions differ per instance (queries anywhere:
    :class:`~constructions.tasks.scattered_recall.ScatteredARConfig`) have ``answer_positions = None``
    and ``reference = None``; they are read with :meth:`outputs_at` / :meth:`answer_at` and
    ``reference_at(tokens, positions)``."""

    name: str
    network: SSMNetwork
    config: Any
    code: OneHotCode | BinaryCode | SignCode
    answer_positions: torch.Tensor | None
    reference: Callable[[torch.Tensor], torch.Tensor] | None
    source: str
    notes: dict = field(default_factory=dict)
    reference_at: Callable[[torch.Tensor, torch.Tensor], torch.Tensor] | None = None

    def check_tokens(self, tokens: torch.Tensor) -> None:
        """The format's own check (``config.check_tokens``: length and layout), where it has one: a
        :class:`~constructions.errors.SequenceLayoutError` instead of answers read at the wrong places."""
        check = getattr(self.config, "check_tokens", None)
        if check is not None:
            check(tokens)

    def outputs(self, tokens: torch.Tensor, mode: Mode = "auto", path: Path = "auto") -> torch.Tensor:
        """Raw network outputs at the answer positions: ``(B, Q, d_out)``; ``tokens`` must have the
        format's length and layout (:meth:`check_tokens`).

        ``path``: ``"dense"`` runs the network's own forward pass (in SSM ``mode``); ``"sparse"`` the
        structured fast path on the same weights (:mod:`constructions.sparse_path`: one-hot rows and
        prefix-sum memories, for the wide constructions at long lengths); ``"auto"`` takes the fast
        path where it applies and pays (``mode="auto"``, a supported network and a dense pass of at
        least ``sparse_path.AUTO_MIN_VALUES`` values), else the dense one, which also computes
        anything the fast path declines (:class:`~constructions.errors.SparsePathUnavailableError`)."""
        if self.answer_positions is None:
            raise ShapeError(f"{self.name}: the format {self.config} has answer positions per instance; read it "
                             "with outputs_at(tokens, positions)")
        self.check_tokens(tokens)
        out = self.network_outputs(tokens, mode, path)
        return out[:, self.answer_positions.to(out.device)]

    def network_outputs(self, tokens: torch.Tensor, mode: Mode = "auto", path: Path = "auto") -> torch.Tensor:
        """The network's outputs at every position ``(B, L, d_out)``, by the ``path`` :meth:`outputs` describes
        (no format check: any length, as a decoder's prefixes have)."""
        if path not in PATHS:
            raise UnknownOptionError(f"unknown forward path {path!r}; choose one of {PATHS}")
        if path == "sparse" or (path == "auto" and mode == "auto" and sparse_path.worth_it(self.network, tokens)):
            try:
                return sparse_path.forward(self.network, tokens)
            except SparsePathUnavailableError:
                if path == "sparse":
                    raise
        return self.network(tokens, mode)

    def outputs_at(self, tokens: torch.Tensor, positions: torch.Tensor, mode: Mode = "auto", path: Path = "auto") -> torch.Tensor:
        """Raw network outputs at per-instance positions ``positions: (B, Q)``: ``(B, Q, d_out)``; the
        tokens are checked as in :meth:`outputs`, the positions by the format (``check_positions``)."""
        self.check_tokens(tokens)
        check = getattr(self.config, "check_positions", None)
        if check is not None:
            check(positions, tokens.shape[0])
        elif positions.dim() != 2 or positions.shape[0] != tokens.shape[0]:
            raise ShapeError(f"positions must have shape (B, Q) with B = {tokens.shape[0]}, got {tuple(positions.shape)}")
        out = self.network_outputs(tokens, mode, path)
        index = positions.to(out.device).unsqueeze(-1).expand(-1, -1, out.shape[-1])
        return torch.gather(out, 1, index)

    def answer_at(self, tokens: torch.Tensor, positions: torch.Tensor, mode: Mode = "auto", path: Path = "auto") -> torch.Tensor:
        """Decoded answer token ids ``(B, Q)`` at ``positions: (B, Q)``."""
        return self.code.decode(self.outputs_at(tokens, positions, mode, path))

    def answer(self, tokens: torch.Tensor, mode: Mode = "auto", path: Path = "auto") -> torch.Tensor:
        """Decoded answer token ids ``(B, Q)``."""
        return self.code.decode(self.outputs(tokens, mode, path))

    def target(self, answers: torch.Tensor) -> torch.Tensor:
        return self.code.target(answers, self.network.dtype)

    def resources(self):
        """Measured resources: :class:`~constructions.resources.Resources` for SSM networks, the
        network's own ``resources()`` for others (Transformers)."""
        if hasattr(self.network, "resources"):
            return self.network.resources()
        return measure(self.network)

    def memory(self, tokens: torch.Tensor) -> dict:
        """What the network stores while it runs on ``tokens``, measured: the SSM states it reaches
        (:func:`~constructions.resources.measure_state`: ``state_bits``) or, for Transformers, the
        keys and values it caches (``kv_cache_bits``). A summary dict, JSON-ready."""
        if hasattr(self.network, "kv_cache"):
            return self.network.kv_cache(tokens).summary()
        return measure_state(self.network, tokens).summary()
