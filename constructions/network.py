"""SSM+FNN networks: embedding, optional pre-FNN, then M blocks of (SSM layer, FNN).

PAPER.md §2's class S(M, U, D, L, W, S, B)::

    tokens (batch, length) --embedding--> (batch, length, d_0) --[pre-FNN]-->
        for each block m = 1..M:   x <- FNN_m(SSM_m(x))          (SSM over time, FNN per token)
    --[clip to [lo, hi]]--> outputs (batch, length, d_out)

The pre-FNN (or the embedding) is the "pre-FNN" of the first SSM in Lemma 3.3's sense; the FNN of
block m is the post-FNN of SSM_m and the pre-FNN of SSM_{m+1}. Residual paths are identity
channels (an SSM tap ``K_0 = 1``), so a network is exactly the composition written above.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Sequence

import torch
from torch import nn

from .embedding import Embedding
from .errors import DTypeMismatchError, NumericalRangeError, ShapeError
from .fnn import FNN
from .ssm import Mode, SSMBank, SSMLayer


class Block(nn.Module):
    def __init__(self, ssm: SSMLayer | SSMBank, fnn: FNN):
        super().__init__()
        if ssm.channels != fnn.in_features:
            raise ShapeError(f"SSM gives {ssm.channels} channels but its post-FNN takes {fnn.in_features}")
        self.ssm, self.fnn = ssm, fnn

    def forward(self, x: torch.Tensor, mode: Mode = "auto") -> torch.Tensor:
        return self.fnn(self.ssm(x, mode))


@dataclass
class Trace:
    """Every intermediate of a forward pass, for probing and counterexample reports."""

    embedded: torch.Tensor
    ssm_outputs: list[torch.Tensor]
    block_outputs: list[torch.Tensor]


class SSMNetwork(nn.Module):
    def __init__(
        self,
        embedding: Embedding,
        blocks: Sequence[tuple[SSMLayer | SSMBank, FNN]],
        *,
        pre_fnn: FNN | None = None,
        clip: tuple[float, float] | None = None,
    ):
        super().__init__()
        self.embedding = embedding
        self.pre_fnn = pre_fnn
        self.blocks = nn.ModuleList([Block(s, f) for s, f in blocks])
        self.clip = clip
        width, where = embedding.out_features, "the embedding"
        if pre_fnn is not None:
            if pre_fnn.in_features != width:
                raise ShapeError(f"{where} gives {width} channels but the pre-FNN takes {pre_fnn.in_features}")
            width, where = pre_fnn.out_features, "the pre-FNN"
        for m, block in enumerate(self.blocks, start=1):
            if block.ssm.channels != width:
                raise ShapeError(f"{where} gives {width} channels but SSM layer {m} has {block.ssm.channels}")
            width, where = block.fnn.out_features, f"the FNN of block {m}"
        dtypes = {p.real.dtype for p in self.parameters()} | {embedding.dtype}
        if len(dtypes) > 1:
            raise DTypeMismatchError(f"network parts have different dtypes: {sorted(map(str, dtypes))}")
        if clip is not None and not clip[0] <= clip[1]:
            raise ShapeError(f"clip interval must satisfy lo <= hi, got {clip}")

    @property
    def out_features(self) -> int:
        if self.blocks:
            return self.blocks[-1].fnn.out_features
        return self.pre_fnn.out_features if self.pre_fnn is not None else self.embedding.out_features

    @property
    def dtype(self) -> torch.dtype:
        return self.embedding.dtype

    @property
    def device(self) -> torch.device:
        return self.embedding.device

    def forward(self, tokens: torch.Tensor, mode: Mode = "auto") -> torch.Tensor:
        return self.run(tokens, mode).block_outputs[-1]

    def run(self, tokens: torch.Tensor, mode: Mode = "auto") -> Trace:
        """Forward pass keeping every intermediate; the last block output is clipped if asked."""
        x = self.embedding(tokens)  # continuous features: finite (FeatureInput); token ids: always
        trace = Trace(embedded=x, ssm_outputs=[], block_outputs=[])
        if self.pre_fnn is not None:
            x = _in_range(self.pre_fnn(x), "the pre-FNN")
        for m, block in enumerate(self.blocks):
            s = block.ssm(x, mode)  # refuses an overflow itself
            x = _in_range(block.fnn(s), f"the FNN of block {m}")
            trace.ssm_outputs.append(s)
            trace.block_outputs.append(x)
        if self.clip is not None:
            x = x.clamp(*self.clip)
        if not trace.block_outputs:
            trace.block_outputs.append(x)
        else:
            trace.block_outputs[-1] = x
        return trace


def _in_range(x: torch.Tensor, where: str) -> torch.Tensor:
    """``x`` if every entry is finite; :class:`NumericalRangeError` naming ``where`` the overflow happened
    (finite inputs and weights give finite values unless the dtype's range is left)."""
    if not bool(torch.isfinite(x.sum())) and not bool(torch.isfinite(x).all()):
        raise NumericalRangeError(f"{where} overflows {x.dtype} (largest finite value {torch.finfo(x.dtype).max:.3g}): "
                                  "its outputs cannot be represented in this dtype")
    return x
