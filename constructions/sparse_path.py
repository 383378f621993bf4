"""The structured fast path of an SSM+FNN network whose signals are sparse: the same weights, applied
only where they can give a nonzero.

Claim (tested, ``tests/test_sparse_path.py``): for a network it accepts, ``forward(network, tokens)``
equals ``network(tokens)``, its dense reference twin, in float64 -- exactly wherever every weight and
every partial sum is an integer below 2^53 (every exact construction of the suite and their
single-weight faults), within the round-off of a different summation order otherwise.

Why it is fast. The wide constructions (the outer-product memory, ``|K| |V|`` cells; the n-gram
lookup, ``(D+2)^n (D+1)`` cells) hold one-hot rows and indicator memories: per token, a handful of
their channels is nonzero. The dense path multiplies every channel at every token (``O(L x width)``,
with ``width`` itself growing with ``L``); this path keeps each channel of each stage in one of three
forms and never materializes the wide ones:

* **dense** -- narrow layout blocks (at most ``narrow_max`` channels) and the few *irregular*
  channels below: a ``(rows, channels)`` tensor, computed as the dense path computes it;
* **sparse** -- the nonzeros only, as sorted ``row x width + channel`` codes and values;
* **lazy** -- a prefix sum of sparse inputs (the memory ``M_c(t) = sum_{t' <= t} Z_c(t')``), stored as
  its events and read by an **index-based prefix sum** (a binary search in the sorted events) at the
  rows that need it, possibly through channel-wise maps ``relu(a M + b)`` (the read-out's
  ``unseen = relu(1 - M)``).

A layer ``y = relu(W x + b)`` decides, from its own weights and the input's measured ranges, where an
output channel ``o`` can be nonzero (interval bounds: ``upper_o = b_o + sum_k max(W_ok lo_k, W_ok hi_k)``):

* *dead*: ``upper_o <= 0``, zero everywhere;
* *lookup*: input channels are grouped (layout blocks that never hold two nonzeros in one row,
  merged while they never share a row); a group ``g`` is *required* by ``o`` when ``o``
  reads exactly one channel ``k`` of ``g`` and ``upper_o - max(W_ok lo_k, W_ok hi_k) <= 0``, so
  ``o > 0`` only where ``k`` is the active channel of ``g``. A row's candidates are the channels
  whose required channels are that row's active ones: one mixed-radix code, looked up in the sorted
  codes of the channels (the key-value conjunction of a memory write or read: one cell per row,
  not the ``|V|`` or ``(D+2)^(n-1) (D+1)`` cells each input reaches);
* *fan-in*: with every sparse input zero ``o`` is zero (bound ``<= 0``, or no bias and no dense input
  on a linear layer), so ``o`` is evaluated only at rows where one of its sparse inputs is nonzero;
* *irregular*: none of these (a fault that opens a memory gate makes its cell fire without its key):
  computed densely at every row, at most :data:`IRREGULAR_MAX` channels.

Candidates are then evaluated exactly, ``b_o + sum_k W_ok x_k(r)`` over the nonzeros of row ``o`` of
``W``. Every number comes from the network's own tensors (FNN weights and biases, SSM kernels and
prefix-sum weights), so a fault injected into them (``constructions/mutation.py``) changes both paths
alike. The bounds only decide *where* to evaluate; a wrong bound would make the two paths differ,
which the property tests would find.

Supported: a one-hot embedding, FNNs (dense or sparse weights), SSM layers with a finite window (shift
SSMs; convolved) or prefix sums (``N = 1``, ``lambda = 1``, no skip on sparse channels), no lookahead.
:func:`supports` says so from the network; a run it cannot do within its caps raises
:class:`~constructions.errors.SparsePathUnavailableError` (``Construction.outputs(path="auto")`` then
takes the dense path). Inputs are checked exactly as the dense path checks them (the embedding's
:class:`ShapeError`, :class:`TokenRangeError`, :class:`DeviceMismatchError`, and the task format's
:class:`SequenceLayoutError` in ``Construction.outputs``); an overflow raises
:class:`NumericalRangeError` naming the stage.
"""

from __future__ import annotations

import math
import weakref
from dataclasses import dataclass, field

import torch

from .embedding import OneHotEmbedding
from .errors import NumericalRangeError, SparsePathUnavailableError
from .fnn import FNN
from .layout import Layout
from .ssm import SSMBank, SSMLayer, causal_conv_direct

#: layout blocks of at most this many channels are kept dense
NARROW_MAX = 256
#: wide channels computed densely at every row (irregular ones), at most
IRREGULAR_MAX = 256
#: tokens (batch x length) run at once; rows of one instance are never split
CHUNK_TOKENS = 1 << 18
#: (candidate, weight) pairs or (entry, fan-out) pairs one step may form
PAIRS_MAX = 1 << 27
#: ``Construction.outputs(path="auto")`` takes this path from this many dense values per stage on
AUTO_MIN_VALUES = 1 << 24

DENSE, SPARSE, LAZY = 0, 1, 2


# ----------------------------------------------------------------------------- applicability
def _groups(layer):
    return list(layer.groups) if isinstance(layer, SSMBank) else [layer]


def supports(network) -> bool:
    """Whether the network's parts are ones this path runs (see the module docstring)."""
    from .network import SSMNetwork

    if not isinstance(network, SSMNetwork) or not isinstance(network.embedding, OneHotEmbedding):
        return False
    for block in network.blocks:
        for g in _groups(block.ssm):
            if not isinstance(g, SSMLayer) or g.lookahead or g.C.is_complex():
                return False
            if g.prefix_sum_weight() is None and g.window() == math.inf:
                return False
    return True


def dense_values(network, tokens: torch.Tensor) -> int:
    """Values of the widest stage of a dense forward pass on ``tokens``: what the dense path holds at once."""
    widths = [network.embedding.out_features]
    fnns = ([network.pre_fnn] if network.pre_fnn is not None else []) + [b.fnn for b in network.blocks]
    widths += [w for f in fnns for w in f.widths]
    return int(tokens.numel()) * max(widths)


def worth_it(network, tokens: torch.Tensor) -> bool:
    """``path="auto"``: this path when it supports the network and the dense pass is large."""
    return isinstance(tokens, torch.Tensor) and tokens.dim() == 2 and supports(network) \
        and dense_values(network, tokens) >= AUTO_MIN_VALUES


# ----------------------------------------------------------------------------- weights
@dataclass
class _Affine:
    """One affine map's nonzeros, by row (CSR) and by column; explicit zeros dropped."""

    n_out: int
    n_in: int
    rows: torch.Tensor
    cols: torch.Tensor
    vals: torch.Tensor
    row_ptr: torch.Tensor
    bias: torch.Tensor
    relu: bool

    @classmethod
    def of(cls, W: torch.Tensor, b: torch.Tensor, relu: bool) -> "_Affine":
        W = W.detach()
        W = (W if W.is_sparse else W.to_sparse()).coalesce()
        rows, cols = W.indices()
        vals = W.values()
        keep = vals != 0
        rows, cols, vals = rows[keep], cols[keep], vals[keep]
        row_ptr = torch.zeros(W.shape[0] + 1, dtype=torch.long, device=W.device)
        row_ptr[1:] = torch.cumsum(torch.bincount(rows, minlength=W.shape[0]), 0)
        return cls(W.shape[0], W.shape[1], rows, cols, vals, row_ptr, b.detach(), relu)


def _fnn_plan(fnn: FNN, input_layout: Layout | None) -> list[tuple[_Affine, Layout | None, Layout | None]]:
    layouts = list(fnn.layouts) if fnn.layouts is not None else [input_layout] + [None] * fnn.depth
    last = fnn.depth - 1
    return [(_Affine.of(W, b, i < last), layouts[i] if i else input_layout, layouts[i + 1])
            for i, (W, b) in enumerate(zip(fnn.weights, fnn.biases))]


# ----------------------------------------------------------------------------- activations
@dataclass
class _Prefix:
    """Prefix sums of sparse events per (instance, channel): ``M_c(r) = sum of events (r', c), r' <= r``
    in ``r``'s instance. ``key = (instance * width + channel) * L + t``, sorted; ``total`` the prefix
    sum after each event."""

    L: int
    width: int
    key: torch.Tensor
    total: torch.Tensor

    @classmethod
    def of(cls, rows: torch.Tensor, chans: torch.Tensor, vals: torch.Tensor, L: int, width: int) -> "_Prefix":
        key = ((rows // L) * width + chans) * L + rows % L
        key, order = torch.sort(key)
        vals = vals[order]
        csum = torch.cumsum(vals, 0)
        group = key // L
        first = torch.ones_like(group, dtype=torch.bool)
        first[1:] = group[1:] != group[:-1]
        start = torch.cumsum(first.long(), 0) - 1  # group index of each event
        base = (csum - vals)[first]  # prefix before each group's first event
        return cls(L, width, key, csum - base[start])

    def at(self, rows: torch.Tensor, chans: torch.Tensor) -> torch.Tensor:
        q = ((rows // self.L) * self.width + chans) * self.L + rows % self.L
        i = torch.searchsorted(self.key, q, right=True) - 1
        ok = i >= 0
        i = i.clamp(min=0)
        if self.key.numel():
            ok &= (self.key[i] // self.L) == (q // self.L)
            return torch.where(ok, self.total[i], self.total.new_zeros(()))
        return torch.zeros(q.shape, dtype=self.total.dtype, device=q.device)

    def ranges(self, dtype) -> tuple[torch.Tensor, torch.Tensor]:
        """Per channel ``[min(0, sums), max(0, sums)]`` (0: before a channel's first event)."""
        chans = (self.key // self.L) % self.width
        lo = torch.zeros(self.width, dtype=dtype, device=self.key.device)
        hi = lo.clone()
        lo.scatter_reduce_(0, chans, self.total, "amin")
        hi.scatter_reduce_(0, chans, self.total, "amax")
        return lo, hi


@dataclass
class _Stage:
    """The activations of one stage (``B`` instances of length ``L``, ``T = B L`` rows) in three forms."""

    B: int
    L: int
    width: int
    layout: Layout | None
    dtype: torch.dtype
    device: torch.device
    kind: torch.Tensor = None
    pos: torch.Tensor = None
    dense: torch.Tensor = None  # (T, nd), columns = channels with kind DENSE, ascending
    code: torch.Tensor = None  # sorted row * width + channel of the sparse nonzeros
    val: torch.Tensor = None
    lazy_src: torch.Tensor = None  # (nl,) the prefix channel each lazy channel reads
    lazy_steps: list = field(default_factory=list)  # [(a (nl,), b (nl,), relu)]: x <- relu?(a x + b)
    prefix: _Prefix | None = None
    _ranges: tuple | None = None
    dense_cols: torch.Tensor | None = None  # the channels of kind DENSE, ascending (the columns of dense)

    @property
    def T(self) -> int:
        return self.B * self.L

    @classmethod
    def build(cls, like: "_Stage", width: int, layout, *, dense_cols, dense, code, val, lazy_cols=None, lazy_src=None,
              lazy_steps=(), prefix=None, forms=None) -> "_Stage":
        """``forms``: ``(kind, pos)`` made by :func:`_forms` from the same (ascending) ``dense_cols`` and
        ``lazy_cols``, for a caller that builds many stages of one form (a plan)."""
        dev = like.device
        s = cls(like.B, like.L, width, layout, like.dtype, dev)
        if forms is None:
            order = torch.argsort(dense_cols)
            dense_cols, dense = dense_cols[order], dense[:, order]
            forms = _forms(width, dense_cols, lazy_cols if lazy_cols is not None and len(lazy_cols) else None, dev)
        s.kind, s.pos = forms
        s.dense, s.dense_cols = dense, dense_cols
        if code.numel():
            keep = val != 0
            code, val = code[keep], val[keep]
            order = torch.argsort(code)
            code, val = code[order], val[order]
        s.code, s.val = code, val
        if lazy_cols is not None and len(lazy_cols):
            s.lazy_src, s.lazy_steps, s.prefix = lazy_src, list(lazy_steps), prefix
        else:
            s.lazy_src = torch.zeros(0, dtype=torch.long, device=dev)
        return s

    def channels(self, kind: int) -> torch.Tensor:
        if kind == DENSE and self.dense_cols is not None:
            return self.dense_cols
        return (self.kind == kind).nonzero().squeeze(1)

    # ------------------------------------------------------------------ reading
    def lazy_values(self, rows: torch.Tensor, lazy: torch.Tensor) -> torch.Tensor:
        """Values of lazy channels number ``lazy`` (positions among the lazy ones) at ``rows``."""
        x = self.prefix.at(rows, self.lazy_src[lazy])
        for a, b, relu in self.lazy_steps:
            x = a[lazy] * x + b[lazy]
            if relu:
                x = torch.relu(x)
        return x

    def values_at(self, rows: torch.Tensor, chans: torch.Tensor) -> torch.Tensor:
        kind = self.kind[chans]
        out = torch.zeros(rows.shape, dtype=self.dtype, device=self.device)
        d = kind == DENSE
        if bool(d.any()):
            out[d] = self.dense[rows[d], self.pos[chans[d]]]
        s = kind == SPARSE
        if bool(s.any()) and self.code.numel():
            q = rows[s] * self.width + chans[s]
            i = torch.searchsorted(self.code, q).clamp(max=self.code.numel() - 1)
            out[s] = torch.where(self.code[i] == q, self.val[i], self.val.new_zeros(()))
        z = kind == LAZY
        if bool(z.any()):
            out[z] = self.lazy_values(rows[z], self.pos[chans[z]])
        return out

    def column(self, chans: torch.Tensor) -> torch.Tensor:
        """Channels ``chans`` at every row, ``(T, len(chans))`` (for dense outputs and irregular channels)."""
        rows = torch.arange(self.T, device=self.device).repeat_interleave(len(chans))
        return self.values_at(rows, chans.repeat(self.T)).reshape(self.T, len(chans))

    def to_dense(self) -> torch.Tensor:
        return self.column(torch.arange(self.width, device=self.device)).reshape(self.B, self.L, self.width)

    def ranges(self) -> tuple[torch.Tensor, torch.Tensor]:
        """Per channel ``[lo, hi]`` containing every value it takes (sparse and lazy ones: 0 too)."""
        if self._ranges is not None:
            return self._ranges
        lo = torch.zeros(self.width, dtype=self.dtype, device=self.device)
        hi = lo.clone()
        dc = self.channels(DENSE)
        if len(dc) and self.T:
            lo[dc], hi[dc] = self.dense.amin(0), self.dense.amax(0)
        chans = self.code % self.width
        lo.scatter_reduce_(0, chans, self.val, "amin")
        hi.scatter_reduce_(0, chans, self.val, "amax")
        lc = self.channels(LAZY)
        if len(lc):
            plo, phi = self.prefix.ranges(self.dtype)
            a_lo, a_hi = plo[self.lazy_src], phi[self.lazy_src]
            for a, b, relu in self.lazy_steps:  # monotone maps: the interval's image is between its ends' images
                x, y = a * a_lo + b, a * a_hi + b
                a_lo, a_hi = torch.minimum(x, y), torch.maximum(x, y)
                if relu:
                    a_lo, a_hi = a_lo.clamp(min=0), a_hi.clamp(min=0)
            lo[lc], hi[lc] = a_lo, a_hi
        self._ranges = (lo, hi)
        return lo, hi

    def check_finite(self, where: str) -> None:
        lo, hi = self.ranges()
        if not (bool(torch.isfinite(lo).all()) and bool(torch.isfinite(hi).all())):
            raise NumericalRangeError(f"{where} overflows {self.dtype} (largest finite value {torch.finfo(self.dtype).max:.3g}): "
                                      "its outputs cannot be represented in this dtype")

    # ------------------------------------------------------------------ one-hot groups
    def blocks(self) -> tuple[torch.Tensor, torch.Tensor]:
        """``(widths, block of each channel)`` of the layout's blocks (one block of every channel without one)."""
        blocks = self.layout.blocks if self.layout is not None else (("all", self.width),)
        widths = torch.tensor([w for _, w in blocks], device=self.device)
        return widths, torch.repeat_interleave(torch.arange(len(blocks), device=self.device), widths)

    def members(self) -> list[int]:
        """The layout blocks (not lazy ones) that hold at most one nonzero per row of this stage: its *groups*
        (at most 62, for bit masks), by block index."""
        widths, block_of = self.blocks()
        nb = len(widths)
        rows, chans = self._nonzeros()
        counts = torch.bincount(rows * nb + block_of[chans], minlength=self.T * nb).reshape(self.T, nb)
        has_lazy = torch.zeros(nb, dtype=torch.bool, device=self.device)
        has_lazy[block_of[self.kind == LAZY]] = True
        return ((counts <= 1).all(0) & ~has_lazy & (widths > 0)).nonzero().squeeze(1)[:62].tolist()

    def group_of(self, members: list[int]) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
        """For the groups ``members`` (block indices): ``(group of each channel or -1, index within its group,
        group sizes)``."""
        widths, _ = self.blocks()
        starts = torch.cat([widths.new_zeros(1), widths.cumsum(0)])
        group = torch.full((self.width,), -1, dtype=torch.long, device=self.device)
        local = torch.full((self.width,), -1, dtype=torch.long, device=self.device)
        for gi, b in enumerate(members):
            group[starts[b] : starts[b + 1]] = gi
            local[starts[b] : starts[b + 1]] = torch.arange(int(widths[b]), device=self.device)
        return group, local, widths[members] if members else widths[:0]

    def active(self, group: torch.Tensor, G: int) -> torch.Tensor:
        """The nonzero channel of every group in every row, ``(T, G)`` (-1: none); :class:`_NotOneHot` where a
        group has two in one row (the groups of a stage's own :meth:`members` never have)."""
        rows, chans = self._nonzeros()
        g_of = group[chans]
        sel = g_of >= 0
        rows, g_of, chans = rows[sel], g_of[sel], chans[sel]
        active = torch.full((self.T, G), -1, dtype=torch.long, device=self.device)
        if rows.numel() > 1 and int(torch.unique(rows * G + g_of).numel()) < rows.numel():
            count = torch.bincount(rows * G + g_of, minlength=self.T * G)[rows * G + g_of]
            raise _NotOneHot(torch.unique(g_of[count > 1]).tolist())
        active[rows, g_of] = chans
        return active

    def _nonzeros(self) -> tuple[torch.Tensor, torch.Tensor]:
        """(row, channel) of every nonzero dense or sparse entry."""
        r, j = (self.dense != 0).nonzero(as_tuple=True)
        dc = self.channels(DENSE)
        return torch.cat([r, self.code // self.width]), torch.cat([dc[j], self.code % self.width])


# ----------------------------------------------------------------------------- helpers
def _expand(starts: torch.Tensor, counts: torch.Tensor, limit_what: str) -> tuple[torch.Tensor, torch.Tensor]:
    """For segments ``[starts_i, starts_i + counts_i)``: (segment index, position) of every element."""
    total = int(counts.sum()) if counts.numel() else 0
    if total > PAIRS_MAX:
        raise SparsePathUnavailableError(f"{limit_what}: {total} pairs > {PAIRS_MAX}; the dense path computes it")
    seg = torch.repeat_interleave(torch.arange(len(counts), device=counts.device), counts)
    offsets = torch.cumsum(counts, 0) - counts
    return seg, starts[seg] + torch.arange(total, device=counts.device) - offsets[seg]


def _evaluate(stage: _Stage, A: _Affine, rows: torch.Tensor, outs: torch.Tensor) -> torch.Tensor:
    """``act(b_o + sum_k W_ok x_k(r))`` at the pairs ``(rows, outs)``, exactly from the weights."""
    starts = A.row_ptr[outs]
    seg, j = _expand(starts, A.row_ptr[outs + 1] - starts, "candidate evaluation")
    pre = A.bias[outs].clone()
    if j.numel():
        pre.index_add_(0, seg, A.vals[j] * stage.values_at(rows[seg], A.cols[j]))
    return torch.relu(pre) if A.relu else pre


# ----------------------------------------------------------------------------- FNN layers
class _NotOneHot(Exception):
    """A stage's row has two nonzeros in a block a plan took for a one-hot group (``args[0]``: the groups)."""


@dataclass
class _AffinePlan:
    """How one affine map runs on stages of given forms (which input channels are dense, sparse or lazy),
    ranges and one-hot groups: the form each output channel takes and how its candidates are found,
    decided once from the weights (:func:`_classify`: ``O(nnz(W))``), then applied to the rows of any
    stage of those forms whose values lie in the ranges and whose groups are one-hot (:func:`_apply`:
    work in the stage's nonzeros and the candidates, not in the width)."""

    A: _Affine
    layout: Layout | None
    where: str
    members: list
    out_lo: torch.Tensor  # bounds of every output over inputs within the ranges (interval arithmetic)
    out_hi: torch.Tensor
    forms: tuple = None  # (kind, pos) of the output stage
    dense_out: torch.Tensor = None
    Wd: torch.Tensor | None = None  # (dense outputs, dense inputs)
    sparse_join: tuple | None = None  # (sorted columns, weight entries): sparse inputs of dense outputs
    lazy_read: tuple | None = None  # (lazy input channels, weights (dense outputs, those))
    group: torch.Tensor = None
    local: torch.Tensor = None
    sizes: torch.Tensor = None
    lookups: list = field(default_factory=list)  # [(signature, groups, sorted codes, outputs)]
    merged: tuple | None = None  # every signature's codes in one table (_merged_lookups)
    fanin_join: tuple | None = None  # (sorted columns, weight entries): sparse inputs of fan-in outputs
    lazy_out: tuple | None = None  # (lazy output channels, their prefix channels, steps)
    dense_only: bool = False  # dense inputs to dense outputs only: one product


def _weight_columns(A: _Affine, mask: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
    """The weight entries in ``mask``, sorted by column: ``(columns, entries)`` for :func:`_join`."""
    idx = mask.nonzero().squeeze(1)
    cols, order = torch.sort(A.cols[idx], stable=True)
    return cols, idx[order]


def _join(entry_chans: torch.Tensor, columns: tuple[torch.Tensor, torch.Tensor], what: str):
    """Pairs (entry i, weight j) with ``A.cols[j] == entry_chans[i]`` among the weights ``columns`` lists."""
    cols, idx = columns
    lo = torch.searchsorted(cols, entry_chans)
    hi = torch.searchsorted(cols, entry_chans, right=True)
    seg, at = _expand(lo, hi - lo, what)
    return seg, idx[at]


def _classify(stage: _Stage, A: _Affine, out_layout: Layout | None, narrow_max: int, where: str,
              lo: torch.Tensor, hi: torch.Tensor, members: list[int]) -> _AffinePlan:
    """The plan of ``A`` on stages of ``stage``'s forms whose channels lie in ``[lo, hi]`` and whose blocks
    ``members`` hold at most one nonzero per row (module docstring: dead, lookup, fan-in, irregular)."""
    dev = stage.device
    kind_in = stage.kind[A.cols]
    contrib = torch.maximum(A.vals * lo[A.cols], A.vals * hi[A.cols])  # largest each weight can add
    upper = A.bias.clone().index_add_(0, A.rows, contrib)
    lower = A.bias.clone().index_add_(0, A.rows, torch.minimum(A.vals * lo[A.cols], A.vals * hi[A.cols]))
    n_out = A.n_out
    nnz = A.row_ptr[1:] - A.row_ptr[:-1]
    plan = _AffinePlan(A, out_layout, where, members, lower.clamp(min=0) if A.relu else lower,
                       upper.clamp(min=0) if A.relu else upper)

    def per_out(mask):
        return torch.zeros(n_out, dtype=contrib.dtype, device=dev).index_add_(0, A.rows, mask.to(contrib.dtype))

    reads_lazy = per_out(kind_in == LAZY) > 0
    reads_dense = per_out(kind_in == DENSE) > 0
    dense_upper = A.bias.clone().index_add_(0, A.rows, torch.where(kind_in == DENSE, contrib, contrib.new_zeros(())))

    # the outputs' forms
    narrow = torch.zeros(n_out, dtype=torch.bool, device=dev)
    blocks = out_layout.blocks if out_layout is not None else (("all", n_out),)
    start = 0
    for _, w in blocks:
        if w <= narrow_max:
            narrow[start : start + w] = True
        start += w
    wide = ~narrow
    lazy_local = wide & (nnz == 1) & reads_lazy
    undecided = wide & ~lazy_local
    dead = undecided & A.relu & (upper <= 0) if A.relu else torch.zeros_like(undecided)
    undecided &= ~dead

    lookup = torch.zeros_like(undecided)
    plan.group, plan.local, plan.sizes = stage.group_of(members)
    G = len(members)
    if A.relu and bool(undecided.any()) and G:
        group, local, sizes = plan.group, plan.local, plan.sizes
        has = (group[A.cols] >= 0).nonzero().squeeze(1)
        e_row, e_group = A.rows[has], group[A.cols[has]]
        key = e_row * G + e_group  # sorted: rows ascend, and groups with the columns within a row
        _, inverse, count = torch.unique_consecutive(key, return_inverse=True, return_counts=True)
        req = has[(count[inverse] == 1) & (upper[e_row] - contrib[has] <= 0)]  # required (output, group) entries
        req_row = A.rows[req]
        masks = torch.zeros(n_out, dtype=torch.long, device=dev).index_add_(0, req_row, 1 << group[A.cols[req]])
        req_start = torch.searchsorted(req_row, torch.arange(n_out, device=dev))
        lookup = undecided & (masks != 0)
        looked = lookup.nonzero().squeeze(1)
        sig, order = torch.sort(masks[looked], stable=True)
        looked = looked[order]
        kinds, counts = torch.unique_consecutive(sig, return_counts=True)
        for m, outs in zip(kinds.tolist(), torch.split(looked, counts.tolist())):  # one signature at a time
            gs = [g for g in range(G) if m >> g & 1]
            if math.prod(int(sizes[g]) for g in gs) >= 1 << 62:
                raise SparsePathUnavailableError(f"{where}: lookup codes over groups {gs} overflow 64 bits")
            cols = A.cols[req[req_start[outs].unsqueeze(1) + torch.arange(len(gs), device=dev)]]  # (outs, groups ascending)
            ocode = torch.zeros(len(outs), dtype=torch.long, device=dev)
            for i, g in enumerate(gs):  # mixed-radix code of the required channels
                ocode = ocode * sizes[g] + local[cols[:, i]]
            ocode, order = torch.sort(ocode)
            plan.lookups.append((m, gs, ocode, outs[order]))
        plan.merged = _merged_lookups(plan.lookups, plan.sizes, G, dev)
    undecided &= ~lookup
    fanin = undecided & ~reads_lazy & ((dense_upper <= 0) if A.relu else ((A.bias == 0) & ~reads_dense))
    irregular = undecided & ~fanin
    if int(irregular.sum()) > IRREGULAR_MAX:
        raise SparsePathUnavailableError(f"{where}: {int(irregular.sum())} wide channels can be nonzero without a sparse "
                                         f"input that marks where (at most {IRREGULAR_MAX} are computed densely)")

    # dense outputs: narrow and irregular channels, at every row
    dense_out = (narrow | irregular).nonzero().squeeze(1)
    plan.dense_out = dense_out
    if len(dense_out):
        opos = torch.full((n_out,), -1, dtype=torch.long, device=dev)
        opos[dense_out] = torch.arange(len(dense_out), device=dev)
        into = opos[A.rows] >= 0
        d = into & (kind_in == DENSE)
        if bool(d.any()):
            plan.Wd = torch.zeros(len(dense_out), stage.dense.shape[1], dtype=stage.dtype, device=dev)
            plan.Wd[opos[A.rows[d]], stage.pos[A.cols[d]]] = A.vals[d]
        s = into & (kind_in == SPARSE)
        if bool(s.any()):
            plan.sparse_join = _weight_columns(A, s), opos
        z = into & (kind_in == LAZY)
        if bool(z.any()):
            lazy_cols = torch.unique(A.cols[z])
            Wz = torch.zeros(len(dense_out), len(lazy_cols), dtype=stage.dtype, device=dev)
            Wz[opos[A.rows[z]], torch.searchsorted(lazy_cols, A.cols[z])] = A.vals[z]
            plan.lazy_read = lazy_cols, Wz
    if bool(fanin.any()):
        plan.fanin_join = _weight_columns(A, fanin[A.rows] & (kind_in == SPARSE))

    # lazy outputs: x <- act(w x + b) on the one memory channel they read
    lazy_out = lazy_local.nonzero().squeeze(1)
    if len(lazy_out):
        entry = A.row_ptr[lazy_out]
        src_pos = stage.pos[A.cols[entry]]
        steps = [(a[src_pos], b[src_pos], r) for a, b, r in stage.lazy_steps]
        steps.append((A.vals[entry], A.bias[lazy_out], A.relu))
        plan.lazy_out = lazy_out, stage.lazy_src[src_pos], steps
    plan.forms = _forms(n_out, dense_out, lazy_out if len(lazy_out) else None, dev)
    plan.dense_only = (len(dense_out) == n_out and plan.sparse_join is None and plan.lazy_read is None)
    return plan


def _apply(stage: _Stage, plan: _AffinePlan) -> _Stage:
    """``plan``'s map on the rows of ``stage`` (of the forms the plan was made for)."""
    A, dev, T, where = plan.A, stage.device, stage.T, plan.where
    n_out, dense_out = A.n_out, plan.dense_out
    if plan.dense_only:  # a narrow map of narrow inputs: the product the dense path makes
        y = torch.nn.functional.linear(stage.dense, plan.Wd, A.bias) if plan.Wd is not None else A.bias.expand(T, -1).clone()
        y = torch.relu(y) if A.relu else y
        return _Stage.build(stage, n_out, plan.layout, dense_cols=dense_out, dense=y, code=stage.code[:0], val=stage.val[:0],
                            forms=plan.forms)
    y = A.bias[dense_out].expand(T, -1).clone()
    if len(dense_out):
        if plan.Wd is not None:
            y += stage.dense @ plan.Wd.T
        if plan.sparse_join is not None and stage.code.numel():
            columns, opos = plan.sparse_join
            seg, j = _join(stage.code % stage.width, columns, f"{where}: sparse inputs of dense channels")
            y.index_put_((stage.code[seg] // stage.width, opos[A.rows[j]]), stage.val[seg] * A.vals[j], accumulate=True)
        if plan.lazy_read is not None:
            lazy_cols, Wz = plan.lazy_read
            if len(lazy_cols) * T > PAIRS_MAX:
                raise SparsePathUnavailableError(f"{where}: dense channels read {len(lazy_cols)} memory channels at every row")
            y += stage.column(lazy_cols) @ Wz.T
        if A.relu:
            y = torch.relu(y)

    # sparse outputs: candidates (row, channel), then evaluated exactly
    cand_rows, cand_outs = [], []
    if plan.lookups:
        G = len(plan.members)
        active = stage.active(plan.group, G)
        bit = 1 << torch.arange(G, device=dev)
        row_masks = ((active >= 0).long() * bit).sum(1)  # the groups active in each row
        local_active = plan.local[active.clamp(min=0)]
        if plan.merged is not None and T * len(plan.lookups) * G <= MERGED_MAX:  # all signatures at once
            signatures, radix, offset, codes, outs = plan.merged
            r, sig = (((row_masks.unsqueeze(1) & signatures) == signatures)).nonzero(as_tuple=True)
            q = (local_active[r] * radix[sig]).sum(1) + offset[sig]
            first = torch.searchsorted(codes, q)
            seg, at = _expand(first, torch.searchsorted(codes, q, right=True) - first, f"{where}: lookup candidates")
            cand_rows.append(r[seg])
            cand_outs.append(outs[at])
        for m, gs, ocode, outs in plan.lookups if not cand_rows else ():
            rows = ((row_masks & m) == m).nonzero().squeeze(1)  # rows where every required group is active
            rcode = torch.zeros(len(rows), dtype=torch.long, device=dev)
            for g in gs:
                rcode = rcode * plan.sizes[g] + local_active[rows, g]
            first = torch.searchsorted(ocode, rcode)
            last = torch.searchsorted(ocode, rcode, right=True)
            seg, at = _expand(first, last - first, f"{where}: lookup candidates")
            cand_rows.append(rows[seg])
            cand_outs.append(outs[at])
    if plan.fanin_join is not None and stage.code.numel():
        seg, j = _join(stage.code % stage.width, plan.fanin_join, f"{where}: fan-out of sparse inputs")
        pair = torch.unique((stage.code[seg] // stage.width) * n_out + A.rows[j])
        cand_rows.append(pair // n_out)
        cand_outs.append(pair % n_out)
    if cand_rows:
        rows, outs = torch.cat(cand_rows), torch.cat(cand_outs)
        vals = _evaluate(stage, A, rows, outs)
        code = rows * n_out + outs
    else:
        code = torch.zeros(0, dtype=torch.long, device=dev)
        vals = torch.zeros(0, dtype=stage.dtype, device=dev)
    lazy_kw = {}
    if plan.lazy_out is not None:
        lazy_out, src, steps = plan.lazy_out
        lazy_kw = dict(lazy_cols=lazy_out, lazy_src=src, lazy_steps=steps, prefix=stage.prefix)
    return _Stage.build(stage, n_out, plan.layout, dense_cols=dense_out, dense=y, code=code, val=vals, forms=plan.forms,
                        **lazy_kw)


#: rows x signatures x groups up to which :func:`_apply` looks every signature up at once (a step's few rows)
MERGED_MAX = 1 << 16


def _merged_lookups(lookups: list, sizes: torch.Tensor, G: int, dev):
    """Every lookup signature's sorted codes in one sorted table: ``(signatures (S,), radix (S, G), offset (S,),
    codes, outputs)``; a row's code under signature ``s`` is ``offset_s + sum_g radix_sg local_g`` (the
    mixed-radix code of :func:`_classify`, its range shifted past the previous signatures'). ``None`` when
    the table's codes would pass 2^62."""
    if not lookups:
        return None
    radix = torch.zeros(len(lookups), G, dtype=torch.long, device=dev)
    offsets, codes, outs, start = [], [], [], 0
    for s, (m, gs, ocode, o) in enumerate(lookups):
        weight = 1
        for g in reversed(gs):
            radix[s, g] = weight
            weight *= int(sizes[g])
        offsets.append(start)
        codes.append(ocode + start)
        outs.append(o)
        start += weight
        if start >= 1 << 62:
            return None
    signatures = torch.tensor([m for m, _, _, _ in lookups], dtype=torch.long, device=dev)
    return signatures, radix, torch.tensor(offsets, dtype=torch.long, device=dev), torch.cat(codes), torch.cat(outs)


def _forms(width: int, dense_cols: torch.Tensor, lazy_cols: torch.Tensor | None, dev) -> tuple[torch.Tensor, torch.Tensor]:
    """``(kind, pos)`` of a stage with these dense (ascending) and lazy channels, every other one sparse."""
    kind = torch.full((width,), SPARSE, dtype=torch.long, device=dev)
    pos = torch.full((width,), -1, dtype=torch.long, device=dev)
    kind[dense_cols] = DENSE
    pos[dense_cols] = torch.arange(len(dense_cols), device=dev)
    if lazy_cols is not None:
        kind[lazy_cols] = LAZY
        pos[lazy_cols] = torch.arange(len(lazy_cols), device=dev)
    return kind, pos


def _affine(stage: _Stage, A: _Affine, out_layout: Layout | None, narrow_max: int, where: str) -> _Stage:
    """``A`` on a whole stage: planned for the stage's own ranges and groups, then applied."""
    plan = _classify(stage, A, out_layout, narrow_max, where, *stage.ranges(), stage.members())
    out = _apply(stage, plan)
    out.check_finite(where)
    return out


# ----------------------------------------------------------------------------- SSM layers
def _ssm(stage: _Stage, layer, where: str) -> _Stage:
    dev, L, B, width = stage.device, stage.L, stage.B, stage.width
    if bool((stage.kind == LAZY).any()):
        raise SparsePathUnavailableError(f"{where}: an SSM reads prefix sums (only FNNs read them on this path)")
    y = torch.zeros_like(stage.dense)
    dc = stage.channels(DENSE)
    codes, vals, events, memory = [stage.code[:0]], [stage.val[:0]], [], []
    srow, schan = stage.code // width, stage.code % width
    offset = 0
    for g in _groups(layer):
        lo_c, hi_c = offset, offset + g.channels
        offset = hi_c
        in_d = (dc >= lo_c) & (dc < hi_c)
        in_s = (schan >= lo_c) & (schan < hi_c)
        w = g.prefix_sum_weight()
        if w is not None:
            skip = g.skip.detach()
            if bool(in_d.any()):
                x = stage.dense[:, in_d].reshape(B, L, -1)
                c = dc[in_d] - lo_c
                y[:, in_d] = (torch.cumsum(x * w[c], dim=1) + skip[c] * x).reshape(B * L, -1)
            chans = torch.arange(lo_c, hi_c, device=dev)
            memory.append(chans[stage.kind[chans] != DENSE])  # every other channel: a prefix sum (0 without events)
            if bool(in_s.any()):
                c = schan[in_s] - lo_c
                if bool((skip[c] != 0).any()):
                    raise SparsePathUnavailableError(f"{where}: a prefix sum with a skip term on sparse channels")
                events.append((srow[in_s], schan[in_s], stage.val[in_s] * w[c]))
            continue
        U = g.kernel_length(L)
        k = g.kernel(U).detach()  # (channels, U): taps and skip
        if bool(in_d.any()):
            x = stage.dense[:, in_d].reshape(B, L, -1)
            y[:, in_d] = causal_conv_direct(x, k[dc[in_d] - lo_c]).reshape(B * L, -1)
        if bool(in_s.any()):
            ch, s = k.nonzero(as_tuple=True)  # taps, sorted by channel
            e = in_s.nonzero().squeeze(1)
            lo = torch.searchsorted(ch, schan[e] - lo_c)
            hi = torch.searchsorted(ch, schan[e] - lo_c, right=True)
            seg, j = _expand(lo, hi - lo, f"{where}: shifted sparse inputs")
            rows, lag = srow[e[seg]], s[j]
            ok = rows % L + lag < L
            codes.append(((rows + lag) * width + schan[e[seg]])[ok])
            vals.append((stage.val[e[seg]] * k[ch[j], lag])[ok])
    code, val = torch.cat(codes), torch.cat(vals)
    code, inverse = torch.unique(code, return_inverse=True)
    val = torch.zeros(len(code), dtype=stage.dtype, device=dev).index_add_(0, inverse, val)
    lazy_kw = {}
    if memory:
        r, c, v = (torch.cat(p) for p in zip(*events)) if events else (stage.code[:0],) * 2 + (stage.val[:0],)
        lazy_cols = torch.cat(memory)
        lazy_kw = dict(lazy_cols=lazy_cols, lazy_src=lazy_cols, prefix=_Prefix.of(r, c, v, L, width))
    out = _Stage.build(stage, width, stage.layout, dense_cols=dc, dense=y, code=code, val=val, **lazy_kw)
    out.check_finite(where)
    return out


# ----------------------------------------------------------------------------- the network
def _embed(network, tokens: torch.Tensor, narrow_max: int) -> _Stage:
    emb = network.embedding
    B, L = tokens.shape
    V = emb.out_features
    like = _Stage(B, L, V, emb.layout, emb.dtype, emb.device)
    narrow = torch.zeros(V, dtype=torch.bool, device=emb.device)
    start = 0
    for _, w in emb.layout.blocks:
        narrow[start : start + w] = w <= narrow_max
        start += w
    flat = tokens.reshape(-1).long()
    rows = torch.arange(B * L, device=emb.device)
    dense_cols = narrow.nonzero().squeeze(1)
    pos = torch.full((V,), -1, dtype=torch.long, device=emb.device)
    pos[dense_cols] = torch.arange(len(dense_cols), device=emb.device)
    dense = torch.zeros(B * L, len(dense_cols), dtype=emb.dtype, device=emb.device)
    d = narrow[flat]
    dense[rows[d], pos[flat[d]]] = 1
    code = rows[~d] * V + flat[~d]
    return _Stage.build(like, V, emb.layout, dense_cols=dense_cols, dense=dense, code=code,
                        val=torch.ones(len(code), dtype=emb.dtype, device=emb.device))


#: network -> its cached plan (weak: a network's cache goes with it, and a deep copy has none)
_PLANS: "weakref.WeakKeyDictionary" = weakref.WeakKeyDictionary()


@dataclass
class _CachedPlan:
    """A network's plan with what it was made from: its embedding, FNN and SSM modules (by identity) and a
    copy of every FNN tensor (sparse ones: indices and values)."""

    plan: list
    modules: list
    tensors: list
    copies: list


def _plan_sources(network) -> tuple[list, list]:
    """The modules a plan reads (their identity) and the FNN tensors it converts (their content)."""
    fnns = ([network.pre_fnn] if network.pre_fnn is not None else []) + [b.fnn for b in network.blocks]
    modules = [network.embedding, network.pre_fnn] + [m for b in network.blocks for m in (b.ssm, b.fnn)]
    tensors = [t for f in fnns for pair in zip(f.weights, f.biases) for t in pair]
    return modules, tensors


def _content(t: torch.Tensor) -> tuple[torch.Tensor, ...]:
    t = t.detach()
    return (t._indices(), t._values()) if t.is_sparse else (t,)


def _same(t: torch.Tensor, copy: tuple[torch.Tensor, ...]) -> bool:
    now = _content(t)
    return len(now) == len(copy) and all(a.shape == b.shape and a.dtype == b.dtype and torch.equal(a, b) for a, b in zip(now, copy))


def _plan(network):
    """The network's plan (every FNN map as an :class:`_Affine`), made once and kept while the network is
    unchanged: the same modules and FNN tensors of the same content, compared entry by entry on every call
    (a fault injected after the plan was made, in place or by replacing a tensor or a module, makes a new one)."""
    modules, tensors = _plan_sources(network)
    cached = _PLANS.get(network)
    if cached is not None and len(cached.modules) == len(modules) and all(a is b for a, b in zip(cached.modules, modules)) \
            and all(a is b for a, b in zip(cached.tensors, tensors)) and all(_same(t, c) for t, c in zip(tensors, cached.copies)):
        return cached.plan
    plan = _make_plan(network)
    _PLANS[network] = _CachedPlan(plan, modules, tensors, [tuple(x.clone() for x in _content(t)) for t in tensors])
    return plan


def _make_plan(network):
    layout = network.embedding.layout
    plan = []
    if network.pre_fnn is not None:
        steps = _fnn_plan(network.pre_fnn, layout)
        plan.append(("fnn", steps, "the pre-FNN"))
        layout = steps[-1][2]
    for m, block in enumerate(network.blocks):
        plan.append(("ssm", block.ssm, f"the SSM of block {m}"))
        steps = _fnn_plan(block.fnn, layout)
        plan.append(("fnn", steps, f"the FNN of block {m}"))
        layout = steps[-1][2]
    return plan


def forward(network, tokens: torch.Tensor, *, narrow_max: int = NARROW_MAX, chunk_tokens: int = CHUNK_TOKENS) -> torch.Tensor:
    """``network(tokens)`` on the structured path: ``(batch, length, d_out)``, as the dense forward pass
    returns it. Raises what the dense path raises on bad tokens, and
    :class:`~constructions.errors.SparsePathUnavailableError` where this path does not apply."""
    return _run(network, tokens, narrow_max, chunk_tokens, states=False)[0]


def prefill(network, tokens: torch.Tensor, *, narrow_max: int = NARROW_MAX, chunk_tokens: int = CHUNK_TOKENS):
    """:meth:`~constructions.network.SSMNetwork.prefill` on the structured path: ``(network(tokens), state)``
    with every block's step-mode state after the last token, read from the stages this path holds: a
    prefix sum's state is the sum of its inputs over the sequence (``h = B sum_t x_t``), a shift layer's
    the last ``N`` inputs; other layers raise :class:`~constructions.errors.SparsePathUnavailableError`."""
    network.initial_state(1)  # a two-sided layer has no step mode: refused before the pass
    return _run(network, tokens, narrow_max, chunk_tokens, states=True)


def _run(network, tokens, narrow_max, chunk_tokens, states: bool):
    if not supports(network):
        raise SparsePathUnavailableError(
            f"the structured path needs a one-hot embedding and SSM layers with a finite window or prefix sums "
            f"(no lookahead); this {type(network).__name__} has others")
    network.embedding.check_tokens(tokens)  # ShapeError, TokenRangeError, DeviceMismatchError as the dense path
    B, L = tokens.shape
    if B == 0 or L == 0:
        return network.prefill(tokens) if states else (network(tokens), None)
    plan = _plan(network)
    rows = max(1, chunk_tokens // L)
    parts, chunk_states = [], []
    with torch.no_grad():
        for chunk in torch.split(tokens, rows):
            stage = _embed(network, chunk, narrow_max)
            after = []
            for kind, item, where in plan:
                if kind == "ssm":
                    if states:
                        after.append(_state_after(stage, item, where))
                    stage = _ssm(stage, item, where)
                else:
                    for A, _, out_layout in item:
                        stage = _affine(stage, A, out_layout, narrow_max, where)
            out = stage.to_dense()
            if network.clip is not None:
                out = out.clamp(*network.clip)
            parts.append(out)
            chunk_states.append(tuple(after))
    state = _cat_states(chunk_states) if states else None
    return (torch.cat(parts) if len(parts) > 1 else parts[0]), state


def _state_after(stage: _Stage, layer, where: str):
    """``layer.state_after(x)`` for the stage ``x`` it reads (:func:`prefill`)."""
    from .ssm import ShiftSSM

    B, L, dev = stage.B, stage.L, stage.device
    states, start = [], 0
    for g in _groups(layer):
        chans = torch.arange(start, start + g.channels, device=dev)
        start += g.channels
        if g.prefix_sum_weight() is not None:
            sums = torch.zeros(B, g.channels, dtype=stage.dtype, device=dev)
            dense = stage.kind[chans] == DENSE
            if bool(dense.any()):
                sums[:, dense] = stage.dense[:, stage.pos[chans[dense]]].reshape(B, L, -1).sum(1)
            c = stage.code % stage.width - (start - g.channels)  # channel within the group
            s = (c >= 0) & (c < g.channels)
            sums.index_put_((stage.code[s] // stage.width // L, c[s]), stage.val[s], accumulate=True)
            states.append((sums.unsqueeze(-1).to(g.B.dtype) * g.B).to(g.C.dtype))  # as DiagonalSSM.final_state
        elif isinstance(g, ShiftSSM):
            last = min(L, g.state_size)
            rows = (torch.arange(B, device=dev) * L).unsqueeze(1) + torch.arange(L - last, L, device=dev)  # (B, last)
            tail = stage.values_at(rows.reshape(-1, 1).expand(-1, g.channels).reshape(-1), chans.repeat(B * last))
            states.append(g.state_after(tail.reshape(B, last, g.channels), length=L))
        else:
            raise SparsePathUnavailableError(f"{where}: the state of a {type(g).__name__} is read by the dense prefill only")
    return tuple(states) if isinstance(layer, SSMBank) else states[0]


def _cat_states(parts: list):
    """Step-mode states of consecutive chunks of instances as one (batch concatenated)."""
    from dataclasses import replace

    from .ssm import ShiftState

    first = parts[0]
    if len(parts) == 1:
        return first
    if isinstance(first, tuple):
        return tuple(_cat_states([p[i] for p in parts]) for i in range(len(first)))
    if isinstance(first, ShiftState):
        return replace(first, window=torch.cat([p.window for p in parts]))
    return torch.cat(parts)
