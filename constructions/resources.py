"""Resources of a network, measured from the tensors it is built from.

Nothing here is declared by a builder: every count reads the tensors as built. A construction's
closed-form counts are claims checked against these numbers.

* ``num_layers`` M -- SSM layers; ``window`` U -- largest measured window (``inf`` for an infinite
  kernel such as a prefix sum); ``channels`` D -- largest channel count of an SSM layer;
  ``state_size`` -- total state dimension of all layers.
* ``fnn_depth`` L and ``fnn_width`` W -- largest depth (affine maps) and width (largest of
  p_0..p_L) over the FNNs (pre-FNN included); ``fnn_nonzeros`` S -- nonzero weights and biases of
  all FNNs; ``ssm_nonzeros`` -- nonzero entries of all SSM tensors (A, B, C, skip), of which
  ``shift_structure_nonzeros`` are the fixed sub-diagonals ``J_U`` of shift SSMs: the structure
  that makes a window ``U`` (``U - 1`` per channel), counted apart because whether a window counts
  as parameters is exactly what the poly-log claims leave open.
* ``weight_bound`` B -- largest absolute entry of any tensor; ``bits`` -- width of the signed
  fixed-point format (integer bits + fractional bits + sign) that holds every entry exactly.
* ``parameters`` -- nonzero entries of all tensors (FNN + SSM + embedding table, if any);
  ``entries`` -- all stored entries, zeros included.

Complex tensors count as their real and imaginary parts.
"""

from __future__ import annotations

import math
from dataclasses import asdict, dataclass

import numpy as np
import torch

from .embedding import Embedding, TableEmbedding
from .fnn import FNN
from .network import SSMNetwork
from .ssm import ShiftSSM, SSMBank, SSMLayer


@dataclass(frozen=True)
class TensorStats:
    entries: int
    nonzeros: int
    max_abs: float
    int_bits: int
    frac_bits: int

    @staticmethod
    def combine(stats) -> "TensorStats":
        stats = list(stats)
        return TensorStats(
            entries=sum(s.entries for s in stats),
            nonzeros=sum(s.nonzeros for s in stats),
            max_abs=max((s.max_abs for s in stats), default=0.0),
            int_bits=max((s.int_bits for s in stats), default=0),
            frac_bits=max((s.frac_bits for s in stats), default=0),
        )

    @property
    def bits(self) -> int:
        """Signed fixed-point width that represents every entry exactly."""
        return self.int_bits + self.frac_bits + 1 if self.nonzeros else 0


def tensor_stats(t: torch.Tensor) -> TensorStats:
    """Entries, nonzeros, largest magnitude and exact fixed-point bits of one tensor."""
    entries = t.numel() if not t.is_sparse else math.prod(t.shape)
    values = t.coalesce().values() if t.is_sparse else t
    values = values.detach()
    if values.is_complex():
        values = torch.view_as_real(values)
        entries *= 2
    v = values.reshape(-1).to(torch.float64).cpu().numpy()
    v = np.abs(v[v != 0])
    if v.size == 0:
        return TensorStats(entries, 0, 0.0, 0, 0)
    mant, expo = np.frexp(v)  # v = mant * 2**expo, mant in [0.5, 1)
    ints = (mant * 2.0**53).astype(np.int64)  # exact: 53-bit significand
    trailing = np.log2(ints & -ints).round().astype(np.int64)  # lowest set bit, exact for powers of 2
    lowest_exponent = expo - 53 + trailing  # value = odd * 2**lowest_exponent
    return TensorStats(
        entries=entries,
        nonzeros=int(v.size),
        max_abs=float(v.max()),
        int_bits=int(max(0, expo.max())),
        frac_bits=int(max(0, -lowest_exponent.min())),
    )


@dataclass(frozen=True)
class FNNResources:
    role: str
    depth: int
    widths: tuple[int, ...]
    width: int
    nonzeros: int
    entries: int
    weight_bound: float
    bits: int


@dataclass(frozen=True)
class SSMResources:
    parameterization: str
    channels: int
    state_size: int
    window: float
    nonzeros: int
    shift_structure_nonzeros: int
    entries: int
    weight_bound: float
    bits: int


@dataclass(frozen=True)
class Resources:
    num_layers: int
    window: float
    channels: int
    state_size: int
    fnn_depth: int
    fnn_width: int
    fnn_nonzeros: int
    ssm_nonzeros: int
    shift_structure_nonzeros: int
    embedding_parameters: int
    embedding_kind: str
    input_features: int
    weight_bound: float
    bits: int
    parameters: int
    entries: int
    ssm_layers: tuple[SSMResources, ...]
    fnns: tuple[FNNResources, ...]

    def summary(self) -> dict:
        """The headline numbers, JSON-ready (``inf`` as the string ``"inf"``)."""
        keys = ("num_layers", "window", "channels", "state_size", "fnn_depth", "fnn_width", "fnn_nonzeros",
                "ssm_nonzeros", "shift_structure_nonzeros", "embedding_parameters", "weight_bound", "bits", "parameters")
        return {k: _jsonable(getattr(self, k)) for k in keys}

    def to_dict(self) -> dict:
        return _jsonable(asdict(self))


def _jsonable(x):
    if isinstance(x, float) and math.isinf(x):
        return "inf"
    if isinstance(x, float) and x.is_integer():
        return int(x)
    if isinstance(x, dict):
        return {k: _jsonable(v) for k, v in x.items()}
    if isinstance(x, (list, tuple)):
        return [_jsonable(v) for v in x]
    return x


def fnn_resources(fnn: FNN, role: str) -> FNNResources:
    s = TensorStats.combine(tensor_stats(t) for t in fnn.parameter_tensors().values())
    return FNNResources(role, fnn.depth, fnn.widths, max(fnn.widths), s.nonzeros, s.entries, s.max_abs, s.bits)


def ssm_resources(ssm: SSMLayer | SSMBank) -> SSMResources:
    groups = list(ssm.groups) if isinstance(ssm, SSMBank) else [ssm]
    s = TensorStats.combine(tensor_stats(t) for g in groups for t in g.parameter_tensors().values())
    a_nonzeros = sum(tensor_stats(g.state_matrix()).nonzeros for g in groups if isinstance(g, ShiftSSM))
    kinds = "+".join(sorted({type(g).__name__ for g in groups}))
    state = sum(g.channels * g.state_size for g in groups)
    return SSMResources(kinds, ssm.channels, state, ssm.window(), s.nonzeros, a_nonzeros, s.entries, s.max_abs, s.bits)


def measure(network: SSMNetwork) -> Resources:
    """Every resource of ``network``, read off its tensors."""
    fnns = []
    if network.pre_fnn is not None:
        fnns.append(fnn_resources(network.pre_fnn, "pre"))
    fnns += [fnn_resources(b.fnn, f"block{m}") for m, b in enumerate(network.blocks, start=1)]
    ssms = [ssm_resources(b.ssm) for b in network.blocks]
    emb: Embedding = network.embedding
    emb_stats = TensorStats.combine(tensor_stats(t) for t in emb.parameter_tensors().values())
    all_bounds = [f.weight_bound for f in fnns] + [s.weight_bound for s in ssms] + [emb_stats.max_abs]
    return Resources(
        num_layers=len(ssms),
        window=max((s.window for s in ssms), default=0),
        channels=max((s.channels for s in ssms), default=0),
        state_size=sum(s.state_size for s in ssms),
        fnn_depth=max((f.depth for f in fnns), default=0),
        fnn_width=max((f.width for f in fnns), default=0),
        fnn_nonzeros=sum(f.nonzeros for f in fnns),
        ssm_nonzeros=sum(s.nonzeros for s in ssms),
        shift_structure_nonzeros=sum(s.shift_structure_nonzeros for s in ssms),
        embedding_parameters=emb_stats.nonzeros,
        embedding_kind=type(emb).__name__ + ("" if isinstance(emb, TableEmbedding) else " (fixed code, no parameters)"),
        input_features=emb.out_features,
        weight_bound=max(all_bounds),
        bits=max([f.bits for f in fnns] + [s.bits for s in ssms] + [emb_stats.bits]),
        parameters=sum(f.nonzeros for f in fnns) + sum(s.nonzeros for s in ssms) + emb_stats.nonzeros,
        entries=sum(f.entries for f in fnns) + sum(s.entries for s in ssms) + emb_stats.entries,
        ssm_layers=tuple(ssms),
        fnns=tuple(fnns),
    )
