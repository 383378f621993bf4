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
* ``weight_bound`` B -- largest absolute entry of any tensor; ``weight_bits`` -- width of the
  signed fixed-point format (integer bits + fractional bits + sign) that holds every weight exactly.
  These are bits of the *weights*, fixed once the network is built; they say nothing about the
  state (PAPER.md §5 is a statement about state bits).
* ``parameters`` -- nonzero entries of all tensors (FNN + SSM + embedding table, if any);
  ``entries`` -- all stored entries, zeros included.

Complex tensors count as their real and imaginary parts.

**State** (:func:`measure_state`): what a network must *store* while it runs, measured from a run on
given instances -- per SSM layer the state entries and, per entry, the width of the narrowest
fixed-point format holding every value that entry reaches at every position of every instance
(integer bits + fractional bits, plus a sign bit only for an entry that goes negative).
``state_bits`` is the **sum of the per-entry widths**: a register file with one format per entry
holds every state reached exactly with that many bits, and the states reached number at most
``2^state_bits``. The entries of one network differ widely (a shift register holds a 0/1 code, a
packing memory a ``2 N w``-bit number), so a single format for all (``state_bits_uniform`` =
entries x widest entry, also reported) would charge every register with the widest one's width.
The values are read from a float64 run: exact for the suite's exact constructions (their states
are dyadic and float64 adds them exactly while they fit); ``float64_limited`` flags a run where
some value uses 52 or 53 significand bits: its width may then be that of a float64 rounding.
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


def binary_exponents(v: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """For nonzero float64 ``|v|``: ``expo`` with ``|v| < 2**expo <= 2|v|`` and ``lowest`` with
    ``|v| = odd * 2**lowest``; ``expo`` is the integer bits and ``-lowest`` the fractional bits a
    fixed-point format needs for ``v``, ``expo - lowest`` its significant bits."""
    mant, expo = np.frexp(np.abs(v))  # v = mant * 2**expo, mant in [0.5, 1)
    ints = (mant * 2.0**53).astype(np.int64)  # exact: 53-bit significand
    trailing = np.log2(ints & -ints).round().astype(np.int64)  # lowest set bit, exact for powers of 2
    return expo.astype(np.int64), expo - 53 + trailing


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
    expo, lowest_exponent = binary_exponents(v)  # value = odd * 2**lowest_exponent
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
    weight_bits: int


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
    weight_bits: int


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
    weight_bits: int
    parameters: int
    entries: int
    ssm_layers: tuple[SSMResources, ...]
    fnns: tuple[FNNResources, ...]

    def summary(self) -> dict:
        """The headline numbers, JSON-ready (``inf`` as the string ``"inf"``)."""
        keys = ("num_layers", "window", "channels", "state_size", "fnn_depth", "fnn_width", "fnn_nonzeros",
                "ssm_nonzeros", "shift_structure_nonzeros", "embedding_parameters", "weight_bound", "weight_bits", "parameters")
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
        weight_bits=max([f.weight_bits for f in fnns] + [s.weight_bits for s in ssms] + [emb_stats.bits]),
        parameters=sum(f.nonzeros for f in fnns) + sum(s.nonzeros for s in ssms) + emb_stats.nonzeros,
        entries=sum(f.entries for f in fnns) + sum(s.entries for s in ssms) + emb_stats.entries,
        ssm_layers=tuple(ssms),
        fnns=tuple(fnns),
    )


# ----------------------------------------------------------------------------- state
@dataclass(frozen=True)
class EntryWidths:
    """Per column of a ``(values, entries)`` table: the narrowest fixed-point width holding every
    value of the column exactly (0 for a column that is always 0), and its most significant bits."""

    bits: tuple[int, ...]
    significant_bits: tuple[int, ...]


def entry_widths(values: torch.Tensor) -> EntryWidths:
    """``values: (M, S)`` real (complex: pass real and imaginary parts as columns). Width of column
    ``j`` = integer bits + fractional bits + (1 if some value is negative)."""
    v = values.detach().to(torch.float64).cpu().numpy()
    if v.ndim != 2:
        raise ValueError(f"values must have shape (values, entries), got {v.shape}")
    nonzero = v != 0
    expo, lowest = binary_exponents(np.where(nonzero, v, 1.0))
    int_bits = np.where(nonzero, np.maximum(expo, 0), 0).max(0, initial=0)
    frac_bits = np.where(nonzero, np.maximum(-lowest, 0), 0).max(0, initial=0)
    sign = (v < 0).any(0)
    used = nonzero.any(0)
    bits = np.where(used, int_bits + frac_bits + sign, 0)
    significant = np.where(nonzero, expo - lowest, 0).max(0, initial=0)
    return EntryWidths(tuple(int(b) for b in bits), tuple(int(b) for b in significant))


@dataclass(frozen=True)
class LayerState:
    """SSM layer ``layer`` (1-based): ``entries`` real state entries (a complex entry is two) and
    the measured width of each; ``bits`` their sum."""

    layer: int
    entries: int
    entry_bits: tuple[int, ...]
    bits: int
    widest_entry_bits: int
    most_significant_bits: int


#: a float64 value with at least this many significant bits may be a rounding of a wider number:
#: a rounded significand has 53 bits, or fewer when its last bits happen to be 0 (the double
#: nearest 0.1 is a 52-bit odd number times 2^-55)
FLOAT64_ROUNDING_BITS = 52


@dataclass(frozen=True)
class StateResources:
    """The SSM states a network reaches on ``instances`` inputs of ``length`` tokens (every
    position), and the bits that hold them exactly (module docstring: why the sum over entries)."""

    instances: int
    length: int
    layers: tuple[LayerState, ...]

    @property
    def state_entries(self) -> int:
        return sum(layer.entries for layer in self.layers)

    @property
    def state_bits(self) -> int:
        """Sum over every state entry of its measured fixed-point width."""
        return sum(layer.bits for layer in self.layers)

    @property
    def widest_entry_bits(self) -> int:
        return max((layer.widest_entry_bits for layer in self.layers), default=0)

    @property
    def state_bits_uniform(self) -> int:
        """Entries x widest entry: one fixed-point format for every entry."""
        return self.state_entries * self.widest_entry_bits

    @property
    def float64_limited(self) -> bool:
        return any(layer.most_significant_bits >= FLOAT64_ROUNDING_BITS for layer in self.layers)

    def summary(self) -> dict:
        return {"state_entries": self.state_entries, "state_bits": self.state_bits,
                "state_bits_per_layer": [layer.bits for layer in self.layers],
                "widest_state_entry_bits": self.widest_entry_bits, "state_bits_uniform": self.state_bits_uniform,
                "float64_limited": self.float64_limited, "measured_on": f"{self.instances} instances x {self.length} tokens"}


def _real_columns(states: torch.Tensor) -> torch.Tensor:
    """``(batch, L, ...)`` states as a ``(batch * L, entries)`` real table."""
    flat = states.reshape(states.shape[0] * states.shape[1], -1)
    return torch.view_as_real(flat).flatten(1) if flat.is_complex() else flat


def measure_state(network: SSMNetwork, tokens: torch.Tensor) -> StateResources:
    """Run ``network`` on ``tokens: (batch, L)`` and measure the states every SSM layer reaches."""
    if not isinstance(tokens, torch.Tensor) or tokens.dim() != 2 or tokens.shape[0] == 0:
        shape = tuple(tokens.shape) if isinstance(tokens, torch.Tensor) else type(tokens).__name__
        raise ValueError(f"tokens must be a non-empty (batch, length) tensor, got {shape}")
    layers = []
    with torch.no_grad():
        x = network.embedding(tokens)
        if network.pre_fnn is not None:
            x = network.pre_fnn(x)
        for m, block in enumerate(network.blocks, start=1):
            widths = entry_widths(_real_columns(block.ssm.states(x)))
            layers.append(LayerState(m, len(widths.bits), widths.bits, sum(widths.bits), max(widths.bits, default=0),
                                     max(widths.significant_bits, default=0)))
            x = block.fnn(block.ssm(x))
    return StateResources(tokens.shape[0], tokens.shape[1], tuple(layers))
