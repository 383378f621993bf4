"""Hand-built models whose important positions are known exactly: the judge's controls.

:class:`MotifScanner` (detects a class motif wherever it is: importance at the planted window
only), :class:`PositionReader` (reads one fixed position), :class:`CompositionCounter` (a
bag-of-bases vote: importance spread evenly; :data:`AT_VERSUS_GC` is its table for the default
motifs). Each embeds tokens by a frozen one-hot ``embed`` (:func:`one_hot_embedding`), so the
importance measures apply to them as to a trained SSM+FNN (``tests/test_genomic.py``).
"""

from __future__ import annotations

import torch
import torch.nn.functional as F
from torch import nn

from constructions.errors import ShapeError

from ..models import require_int
from .data import ALPHABET, check_tokens


def one_hot_embedding(vocab_size: int = len(ALPHABET)) -> nn.Embedding:
    """A frozen ``nn.Embedding`` whose rows are the one-hot codes (``e_t`` is the token's indicator)."""
    embed = nn.Embedding(vocab_size, vocab_size)
    embed.weight.data.copy_(torch.eye(vocab_size))
    embed.weight.requires_grad_(False)
    return embed


class MotifScanner(nn.Module):
    """A hand-built detector whose important positions are known exactly (controls).

    ``logit_c(x) = relu(max_w matches_c(x, w) - (m - 1))`` at every position, ``matches_c(x, w)``
    the number of positions where motif ``c`` agrees with ``x`` in window ``w``: 1 when motif ``c``
    occurs, else 0. On :func:`generate`'s data it is always right; the true class's margin has
    gradient only at the planted window (``<grad, e_t> = 1`` there, 0 elsewhere) and occluding a
    planted base drops it by 1, any other base by at most 1/3. ``inputs (batch, L)`` ->
    ``(batch, L, classes)`` (the same logits at every position, like a model read at the last one).
    """

    def __init__(self, motifs: torch.Tensor):
        super().__init__()
        self.embed = one_hot_embedding()
        self.register_buffer("motifs", F.one_hot(motifs, len(ALPHABET)).float())  # (classes, m, 4)

    def forward(self, inputs: torch.Tensor) -> torch.Tensor:
        check_tokens(inputs)
        e = self.embed(inputs)  # (batch, L, 4)
        m = self.motifs.shape[1]
        windows = e.unfold(1, m, 1)  # (batch, L - m + 1, 4, m)
        matches = torch.einsum("bwvm,cmv->bwc", windows, self.motifs)
        logits = torch.relu(matches.max(1).values - (m - 1))  # (batch, classes)
        return logits.unsqueeze(1).expand(-1, inputs.shape[1], -1)


class PositionReader(nn.Module):
    """A hand-built model whose logits depend on the token at one fixed ``position`` only.

    ``logits = table[x_position]`` (``table: (V, classes)``, the embedded token's one-hot code times
    ``table``), the same at every output position. Its importance is known exactly: for the margin
    ``s``, ``<d s / d e_t, e_t> = s(x)`` at ``t = position`` and 0 elsewhere, and occluding any
    other position changes nothing.
    """

    def __init__(self, position: int, table: torch.Tensor):
        super().__init__()
        require_int("position", position, 0)
        self.position = position
        self.embed = one_hot_embedding(table.shape[0])
        self.register_buffer("table", table.float())

    def forward(self, inputs: torch.Tensor) -> torch.Tensor:
        check_tokens(inputs, self.table.shape[0])
        if self.position >= inputs.shape[1]:
            raise ShapeError(f"position {self.position} is outside sequences of length {inputs.shape[1]}")
        logits = self.embed(inputs)[:, self.position] @ self.table  # (batch, classes)
        return logits.unsqueeze(1).expand(-1, inputs.shape[1], -1)


class CompositionCounter(nn.Module):
    """A hand-built bag-of-bases model: ``logits = mean_t table[x_t]`` -- importance spread evenly.

    Every position contributes ``table[x_t] / L`` whatever its place, so its importance is as
    spread as base composition allows: the control for the sparsity metric. With ``table`` scoring
    A/T for class 0 and C/G for class 1 it is the composition shortcut of the default motifs
    (``TATAAT`` is A/T-rich, ``CAGCTG`` C/G-rich): better than chance, far from the motif detector.
    """

    def __init__(self, table: torch.Tensor):
        super().__init__()
        self.embed = one_hot_embedding(table.shape[0])
        self.register_buffer("table", table.float())

    def forward(self, inputs: torch.Tensor) -> torch.Tensor:
        check_tokens(inputs, self.table.shape[0])
        logits = self.embed(inputs).mean(1) @ self.table  # (batch, classes)
        return logits.unsqueeze(1).expand(-1, inputs.shape[1], -1)


#: ``CompositionCounter`` table for the default motifs: A and T vote class 0, C and G class 1.
AT_VERSUS_GC = ((1.0, -1.0), (-1.0, 1.0), (-1.0, 1.0), (1.0, -1.0))
