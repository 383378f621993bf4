"""Metrics of an importance table ``(n, L)``: sparsity, input dependence, agreement with the motif.

:func:`top_k_share` (share of ``|importance|`` in the top-``k`` positions; uniform gives ``k / L``),
:func:`top_k_overlap` (mean pairwise Jaccard overlap of the top-``k`` sets; :func:`random_overlap`
for independent random sets), :func:`motif_agreement` (share of the top-``k`` inside the planted
motif), and :func:`summarize` into an :class:`ImportanceSummary`. All batched.
"""

from __future__ import annotations

import math
from dataclasses import asdict, dataclass

import torch

from constructions.errors import ShapeError

from ..models import ConfigError


#: ``k / L`` above which the sparsity metric cannot separate concentrated from uniform importance
#: (uniform importance would already pass :data:`SPARSE_MIN_SHARE` at ``k / L = 1/2``).
MAX_TOP_FRACTION = 0.25


def _check_scores(scores: torch.Tensor, k: int) -> None:
    if not isinstance(scores, torch.Tensor) or scores.dim() != 2 or not scores.is_floating_point():
        raise ShapeError(f"importance must be a float tensor (n, L), got "
                         f"{getattr(scores, 'dtype', type(scores).__name__)} {tuple(getattr(scores, 'shape', ()))}")
    if isinstance(k, bool) or not isinstance(k, int) or not 1 <= k <= scores.shape[1]:
        raise ConfigError(f"k must be an integer in [1, L = {scores.shape[1]}], got {k!r}")
    if not torch.isfinite(scores).all():
        raise ShapeError("importance contains non-finite values")


def top_k_mask(scores: torch.Tensor, k: int) -> torch.Tensor:
    """Bool ``(n, L)``: the ``k`` positions of largest ``|importance|`` of each row."""
    _check_scores(scores, k)
    idx = scores.abs().topk(k, dim=1).indices
    return torch.zeros_like(scores, dtype=torch.bool).scatter_(1, idx, True)


def top_k_share(scores: torch.Tensor, k: int) -> torch.Tensor:
    """``(n,)``: share of the row's total ``|importance|`` held by its top ``k`` positions.

    Uniform importance gives ``k / L``; so does an all-zero row (nothing stands out).
    """
    _check_scores(scores, k)
    a = scores.abs().double()
    total = a.sum(1)
    top = a.topk(k, dim=1).values.sum(1)
    uniform = torch.full_like(total, k / scores.shape[1])
    return torch.where(total > 0, top / total.clamp_min(1e-300), uniform)


def top_k_overlap(scores: torch.Tensor, k: int) -> float:
    """Mean Jaccard overlap ``|S_i & S_j| / |S_i | S_j|`` of the top-``k`` sets over all pairs ``i < j``.

    1 for a model that always uses the same positions; about ``k / (2L - k)`` for independent
    random sets. Needs at least two rows.
    """
    mask = top_k_mask(scores, k).double()
    n = mask.shape[0]
    if n < 2:
        raise ShapeError(f"an overlap across inputs needs at least two inputs, got {n}")
    return float(jaccard_matrix(mask)[torch.triu_indices(n, n, 1).unbind()].mean())


def jaccard_matrix(mask: torch.Tensor) -> torch.Tensor:
    """``(n, n)`` Jaccard overlaps of the rows of a 0/1 matrix ``(n, L)`` (empty pairs: 1)."""
    inter = mask @ mask.T
    sizes = mask.sum(1)
    union = sizes.unsqueeze(0) + sizes.unsqueeze(1) - inter
    return torch.where(union > 0, inter / union.clamp_min(1), torch.ones_like(inter))


def motif_agreement(scores: torch.Tensor, motif_mask: torch.Tensor, k: int) -> torch.Tensor:
    """``(n,)``: share of the top-``k`` positions that lie in the planted motif (``motif_mask (n, L)``)."""
    mask = top_k_mask(scores, k)
    if motif_mask.shape != scores.shape or motif_mask.dtype != torch.bool:
        raise ShapeError(f"motif_mask must be bool {tuple(scores.shape)}, got {motif_mask.dtype} {tuple(motif_mask.shape)}")
    return (mask & motif_mask.to(mask.device)).sum(1).double() / k


def random_overlap(length: int, k: int) -> float:
    """Expected Jaccard overlap of two independent uniformly random ``k``-subsets of ``L`` positions."""
    # E|S & T| = k^2 / L; the exact expectation of the ratio, by the hypergeometric law of |S & T|
    total = 0.0
    for i in range(max(0, 2 * k - length), k + 1):
        p = math.comb(k, i) * math.comb(length - k, k - i) / math.comb(length, k)
        total += p * i / (2 * k - i)
    return total


@dataclass
class ImportanceSummary:
    """The metrics of one importance measure on a set of inputs (all means over the inputs)."""

    measure: str
    k: int
    length: int
    top_k_share: float
    uniform_share: float
    top_k_overlap: float
    random_overlap: float
    motif_agreement: float | None
    chance_agreement: float | None

    def to_dict(self) -> dict:
        return asdict(self)


def summarize(measure: str, scores: torch.Tensor, k: int, motif_mask: torch.Tensor | None = None) -> ImportanceSummary:
    """:class:`ImportanceSummary` of importance ``scores (n, L)`` at ``k`` (``k / L <= 1/4``)."""
    _check_scores(scores, k)
    L = scores.shape[1]
    if k / L > MAX_TOP_FRACTION:
        raise ConfigError(f"k / L = {k}/{L} exceeds {MAX_TOP_FRACTION}: uniform importance would look sparse")
    agreement = None if motif_mask is None else float(motif_agreement(scores, motif_mask, k).mean())
    chance = None if motif_mask is None else float(motif_mask.sum(1).double().mean()) / L
    return ImportanceSummary(measure, k, L, float(top_k_share(scores, k).mean()), k / L, top_k_overlap(scores, k),
                             random_overlap(L, k), agreement, chance)
