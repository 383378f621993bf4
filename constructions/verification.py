"""Checking a construction against the task's reference answers, batched.

``verify(construction, tokens)`` runs the network once on the whole batch and compares, at every
answer position, (a) the decoded token with the reference answer and (b) the raw output vector with
the exact target code, within the tolerance of the dtype (:data:`EXACT_TOLERANCE`). It returns
counts, the largest deviation, and the first failing instance spelled out.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import torch

from .construction import Construction, Path
from .ssm import Mode

#: Absolute tolerance on the outputs of exact constructions (targets are 0/1 codes). float64 runs
#: see only FFT round-off (~1e-12 at L = 2^14); float32 runs see ~1e-6 per operation.
EXACT_TOLERANCE = {torch.float64: 1e-9, torch.float32: 1e-4}


@dataclass
class Verification:
    instances: int
    answers: int
    wrong_answers: int
    max_abs_error: float
    tolerance: float
    first_failure: dict | None
    note: str | None = None  # what explains a failure, where the construction says (its state's precision)

    @property
    def ok(self) -> bool:
        return self.wrong_answers == 0 and self.max_abs_error <= self.tolerance

    def describe(self) -> str:
        if self.ok:
            return f"{self.instances} instances, {self.answers} answers exact (max |error| {self.max_abs_error:.2e})"
        f = self.first_failure or {}
        return (
            f"{self.wrong_answers}/{self.answers} answers wrong or off target by more than {self.tolerance:g} "
            f"(max |error| {self.max_abs_error:.3e}); first failing instance #{f.get('index')}: "
            f"tokens={f.get('tokens')} expected={f.get('expected')} got={f.get('got')} "
            f"outputs={f.get('outputs')}" + (f"; {self.note}" if self.note else "")
        )


#: instances are run in chunks of at most this many tokens (rows x length), bounding memory
MAX_TOKENS_PER_CHUNK = 1 << 21


def chunk_rows(length: int) -> int:
    """How many sequences of ``length`` tokens run at once: at most :data:`MAX_TOKENS_PER_CHUNK` tokens, one
    sequence at least."""
    return max(1, MAX_TOKENS_PER_CHUNK // max(1, length))


def verify(construction: Construction, tokens: torch.Tensor, *, mode: Mode = "auto", tolerance: float | None = None,
           rows_per_chunk: int | None = None, path: Path = "auto", positions: torch.Tensor | None = None) -> Verification:
    """``rows_per_chunk`` lowers the rows run at once below :data:`MAX_TOKENS_PER_CHUNK` tokens (for
    wide networks, whose activations per token are many). ``path`` chooses the forward pass
    (:meth:`Construction.outputs`: ``"auto"`` takes the structured fast path for wide networks on long
    inputs, ``"dense"`` the network's own). ``positions: (B, Q)``: the answer positions of each
    instance, for formats that have them per instance (read with ``outputs_at`` and ``reference_at``)."""
    dtype = construction.network.dtype
    tol = EXACT_TOLERANCE.get(dtype, 1e-4) if tolerance is None else tolerance
    if tokens.dim() != 2 or tokens.shape[0] == 0:
        parts = [_run(construction, tokens, mode, path, positions)]  # the network names what is wrong with the shape
    else:
        rows = chunk_rows(tokens.shape[1])
        rows = min(rows, rows_per_chunk) if rows_per_chunk else rows
        where = [None] * len(range(0, tokens.shape[0], rows)) if positions is None else torch.split(positions, rows)
        parts = [_run(construction, chunk, mode, path, at) for chunk, at in zip(torch.split(tokens, rows), where)]
    outputs, expected, got, error = parts[0] if len(parts) == 1 else (torch.cat(p) for p in zip(*parts))
    bad = (got != expected) | ~(error <= tol)  # (B, Q); a NaN output is off target, never within it
    first = None
    if bool(bad.any()):
        i = int(bad.any(-1).nonzero()[0])
        first = {
            "index": i,
            "tokens": tokens[i].tolist(),
            "expected": expected[i].tolist(),
            "got": got[i].tolist(),
            "outputs": [[round(v, 6) for v in row] for row in outputs[i].tolist()],
        }
        if positions is not None:
            first["positions"] = positions[i].tolist()
    return Verification(
        instances=tokens.shape[0],
        answers=bad.numel(),
        wrong_answers=int(bad.sum()),
        max_abs_error=float(error.nan_to_num(nan=math.inf).max()) if error.numel() else 0.0,
        tolerance=tol,
        first_failure=first,
        note=_precision_note(construction) if first is not None else None,
    )


def exact_answers(construction: Construction, tokens: torch.Tensor, *, mode: Mode = "auto",
                  tolerance: float | None = None, positions: torch.Tensor | None = None, path: Path = "auto") -> torch.Tensor:
    """``(B, Q)`` bool: which answers are exact (decoded right and within ``tolerance`` of the target
    code), for reports of which instances fail (one chunk: the caller bounds ``B``)."""
    return checked_answers(construction, tokens, mode=mode, tolerance=tolerance, positions=positions, path=path)[2]


def checked_answers(construction: Construction, tokens: torch.Tensor, *, mode: Mode = "auto", tolerance: float | None = None,
                    positions: torch.Tensor | None = None, path: Path = "auto") -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
    """``(expected, got, exact)``, each ``(B, Q)``: the reference answers, the decoded ones, and which are
    exact as in :func:`exact_answers` (one chunk: the caller bounds ``B``)."""
    tol = EXACT_TOLERANCE.get(construction.network.dtype, 1e-4) if tolerance is None else tolerance
    _, expected, got, error = _run(construction, tokens, mode, path, positions)
    return expected, got, (got == expected) & (error <= tol)


def _precision_note(construction: Construction) -> str | None:
    """Where a construction states how many significant bits its SSM state needs (``notes["state_bits_needed"]``,
    the precision route's ``2 N w - 1``) and its dtype holds fewer: that is why a float run fails."""
    need = construction.notes.get("state_bits_needed")
    dtype = construction.network.dtype
    have = 1 - int(math.log2(torch.finfo(dtype).eps))
    if need is None or need <= have:
        return None
    name = str(dtype).replace("torch.", "")
    return (f"the SSM state needs up to {need} significant bits, {name} holds {have}: {name} rounds it; run the exact "
            "rational twin (constructions.exact_arithmetic.verify_exact; for a file: python -m reports verify ... --exact)")


def _run(construction: Construction, tokens: torch.Tensor, mode: Mode, path: Path, positions: torch.Tensor | None = None):
    """Outputs ``(B, Q, d)``, expected and decoded answers ``(B, Q)``, deviation from target ``(B, Q)``."""
    with torch.no_grad():
        if positions is None:
            outputs = construction.outputs(tokens, mode, path)
            expected = construction.reference(tokens).to(outputs.device)
        else:
            outputs = construction.outputs_at(tokens, positions, mode, path)
            expected = construction.reference_at(tokens, positions).to(outputs.device)
        got = construction.code.decode(outputs)
        error = (outputs - construction.target(expected)).abs().amax(-1)
    return outputs, expected, got, error
