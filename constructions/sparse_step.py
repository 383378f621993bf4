"""Step mode on the structured path: one generated token of a wide network in work independent of its width
where its signals are sparse, with the same weights as :meth:`~constructions.network.SSMNetwork.step`.

Claim (tested, ``tests/test_sparse_step.py``): ``SparseStepper(network, state)(ids_t)`` equals
``network.step(ids_t, state)[0]``, its dense reference twin, and ``stepper.state()`` the state that step
returns -- exactly wherever every weight and partial sum is an integer below 2^53 (the suite's exact
constructions and their single-weight faults), within the round-off of a different summation order otherwise.

Why. The dense step multiplies every channel of every stage: the n-gram copier's memory has
``(D+2)^n (D+1)`` cells (47,250 at L = 4096), so a generated token costs as much work as the memory is
wide, and the memory grows with the length. Here each stage of one token is held as
:mod:`constructions.sparse_path` holds it (dense narrow blocks, sparse nonzeros, lazy memory reads) and
each affine map runs as a plan made once (:func:`~constructions.sparse_path._classify`: which outputs are
dead, found by key lookup, by fan-in, or dense), applied per token (:func:`~constructions.sparse_path._apply`):

* **memories**: a prefix-sum layer's state ``h`` (``(batch, channels, 1)``, the dense step's own) is
  updated only at the cells the token writes, ``h_c <- lam_c h_c + B_c x_c`` (``lam = 1``), and read lazily,
  ``y_c = C_c h_c``, at the cells the next maps ask for: ``O(writes + reads)`` per token;
* **finite windows** on narrow channels: the layer's own step (a shift layer's ring buffer);
* **plans need bounds that hold for the tokens they serve**. A plan decides from bounds on its inputs
  (``sparse_path``'s rule: dead, lookup, fan-in), so each stage keeps an *envelope*, one interval per layout
  block (a memory cell never written before is no new bound), grown from the values seen; every stage of
  every token is checked against it (a clamp and a comparison) before the plan reading it runs, and a
  value outside grows the envelope and remakes that plan. A memory's envelope is its current values plus
  ``headroom`` further writes of the largest input, checked at every write (outside: headroom doubled,
  new envelopes and plans downstream). A block a plan takes for a one-hot group (at most one nonzero per
  row, judged from the token it was made on) that holds two is dropped from the groups and the plan remade.

What is not ``O(1)`` per token: making a plan (``O(nnz)`` of its weights: at the first tokens and after each
widening, 19 plans in a whole decode of the n-gram copier at L = 4095) and a memory's bounds (``O(cells)``,
as often). Per token the work is in the nonzeros and candidates, but it is a few hundred torch operations
(about 500 for the n-gram copier), each a few microseconds of dispatch whatever its size.

Errors as the dense step: a value that is not finite falls outside every envelope; then (or when the
structured path declines mid-way, :class:`~constructions.errors.SparsePathUnavailableError`) the token's
state changes are undone and the token is stepped by ``network.step``, which raises the named
:class:`~constructions.errors.NumericalRangeError` (finite outputs whose sum overflows are no error, as
for :class:`~constructions.network.NetworkStepper`); a declined path stays on the dense step from then on.
Token ids are the caller's to check (a decoder feeding back ids it decoded), as for ``NetworkStepper``.
"""

from __future__ import annotations

import torch

from .errors import SparsePathUnavailableError
from .sparse_path import (
    DENSE,
    LAZY,
    NARROW_MAX,
    _apply,
    _classify,
    _embed,
    _forms,
    _groups,
    _NotOneHot,
    _plan,
    _Stage,
    supports,
)

#: a memory's bounds allow this many further writes of the largest value before they are remade
HEADROOM = 64


class SparseStepper:
    """``out_t = stepper(ids_t)``: :meth:`~constructions.network.SSMNetwork.step` of ``network`` from ``state``
    on the structured path (module docstring); ``stepper.state()`` the state after the tokens read, in the
    dense step's format. Made from the network's tensors as they are when it is built (as
    :class:`~constructions.network.NetworkStepper`). Raises :class:`~constructions.errors.SparsePathUnavailableError`
    when the network is not one this path runs (:func:`~constructions.sparse_path.supports`)."""

    def __init__(self, network, state: tuple, *, narrow_max: int = NARROW_MAX, headroom: int = HEADROOM):
        if not supports(network):
            raise SparsePathUnavailableError(f"the structured step runs one-hot embeddings and SSM layers with a finite "
                                             f"window or prefix sums; this {type(network).__name__} has others")
        network.check_step_state(state)
        self.network, self.narrow_max, self.headroom = network, narrow_max, headroom
        self.items = _plan(network)
        self.dense = None  # the dense NetworkStepper, once this path declined
        self.plans: dict = {}  # stage number -> the _AffinePlan of the map reading that stage
        self.excluded: dict = {}  # stage number -> its blocks seen holding two nonzeros in a row
        self.envelopes: dict = {}  # stage number -> (lo, hi), per layout block
        self.fresh: set = set()  # stages whose envelope has not yet met this path's own values
        self.dense_bounds: dict = {}  # stage number -> (forms, envelope, its bounds at the dense columns)
        V = network.embedding.vocabulary.size
        ids = torch.arange(V, device=network.device)
        self.vocab = _embed(network, ids.unsqueeze(1), narrow_max)  # row i: token i's embedded stage, made once
        self.wide = self.vocab.kind[ids] != DENSE  # tokens whose one-hot channel is a sparse one
        self.all_narrow = not bool(self.wide.any())
        self._adopt(state)

    def _adopt(self, state: tuple) -> None:
        blocks = [item for kind, item, _ in self.items if kind == "ssm"]
        self.layers = [_LayerStep(layer, h, self.headroom) for layer, h in zip(blocks, state)]
        self.fresh = set(range(1 + sum(len(item) if kind == "fnn" else 1 for kind, item, _ in self.items)))

    def state(self) -> tuple:
        """Every block's SSM state after the tokens read, as :meth:`SSMNetwork.step` returns it."""
        return self.dense.state() if self.dense is not None else tuple(layer.state() for layer in self.layers)

    def __call__(self, ids_t: torch.Tensor) -> torch.Tensor:
        if self.dense is not None:
            return self.dense(ids_t)
        undo: list = []
        try:
            out = self._token(ids_t, undo)
        except (_NotFinite, SparsePathUnavailableError) as e:
            for restore in reversed(undo):
                restore()
            if isinstance(e, SparsePathUnavailableError):  # declined: the dense step from here on
                self.dense = self.network.stepper(self.state())
                return self.dense(ids_t)
            out, state = self.network.step(ids_t, self.state())  # raises the dense step's named error
            self._adopt(state)
            return out
        clip = self.network.clip
        return out.clamp(*clip) if clip is not None else out

    def _token(self, ids_t: torch.Tensor, undo: list) -> torch.Tensor:
        with torch.no_grad():
            stage = self._embed(ids_t)
            k = self._enveloped(0, stage)
            m = 0
            for kind, item, where in self.items:
                if kind == "ssm":
                    layer = self.layers[m]
                    m += 1
                    stage, remade = layer.step(stage, self.envelopes[k], undo)
                    if remade:  # a memory's bounds changed: so do the envelopes of what reads it, and their plans
                        self.fresh.update(n for n in self.envelopes if n > k)
                    k = self._enveloped(k + 1, stage)
                    continue
                for A, _, layout in item:
                    stage = self._affine(k, stage, A, layout, where)
                    k = self._enveloped(k + 1, stage)
            return stage.to_dense()[:, 0]

    def _embed(self, ids_t: torch.Tensor) -> _Stage:
        """``sparse_path._embed`` of one token per sequence, read off the vocabulary's embedded rows."""
        v = self.vocab
        dense = v.dense.index_select(0, ids_t)
        if self.all_narrow:
            code, val = v.code[:0], v.val[:0]
        else:
            wide = self.wide[ids_t]
            code = torch.arange(len(ids_t), device=ids_t.device)[wide] * v.width + ids_t[wide]
            val = torch.ones(len(code), dtype=v.dtype, device=v.device)
        like = _Stage(len(ids_t), 1, v.width, v.layout, v.dtype, v.device)
        return _Stage.build(like, v.width, v.layout, dense_cols=v.dense_cols, dense=dense, code=code, val=val,
                            forms=(v.kind, v.pos))

    def _enveloped(self, k: int, stage: _Stage) -> int:
        """Stage ``k``'s values are within its envelope, the bounds its reader's plan was made for; else the
        envelope grows to take them and the plan is remade. A value that is not finite is the dense step's to name."""
        env = self.envelopes.get(k)
        if env is not None and k not in self.fresh:
            lo, hi = env
            d = stage.dense
            cols = self.dense_bounds.get(k)
            if cols is None or cols[0] is not stage.kind or cols[1] is not lo:  # the envelope at the dense columns, per form
                dc = stage.channels(DENSE)
                cols = self.dense_bounds[k] = (stage.kind, lo, lo[dc], hi[dc])
            ok = not d.numel() or torch.equal(torch.clamp(d, cols[2], cols[3]), d)
            if ok and stage.val.numel():
                c = stage.code % stage.width
                ok = torch.equal(torch.clamp(stage.val, lo[c], hi[c]), stage.val)
            if ok:
                return k
        lo, hi = stage.ranges()  # lazy channels: their memory's bounds
        if not (bool(torch.isfinite(lo).all()) and bool(torch.isfinite(hi).all())):
            raise _NotFinite
        if env is not None:
            lo, hi = torch.minimum(lo, env[0]), torch.maximum(hi, env[1])
        widths, block_of = stage.blocks()  # one envelope per layout block: a new cell of a memory is no new bound
        nb = len(widths)
        lo = lo.new_zeros(nb).scatter_reduce_(0, block_of, lo, "amin", include_self=False)[block_of]
        hi = hi.new_zeros(nb).scatter_reduce_(0, block_of, hi, "amax", include_self=False)[block_of]
        stage._ranges = None
        self.envelopes[k] = (lo, hi)
        self.fresh.discard(k)
        self.plans.pop(k, None)
        return k

    def _affine(self, k: int, stage, A, layout, where):
        plan = self.plans.get(k)
        for _ in range(64):
            if plan is None:
                excluded = self.excluded.setdefault(k, set())
                members = [b for b in stage.members() if b not in excluded]
                plan = self.plans[k] = _classify(stage, A, layout, self.narrow_max, where, *self.envelopes[k], members)
            try:
                return _apply(stage, plan)
            except _NotOneHot as e:  # those blocks are not one-hot groups after all
                self.excluded[k].update(plan.members[g] for g in e.args[0])
                plan = None
        raise SparsePathUnavailableError(f"{where}: the one-hot groups of its input keep changing")


class _NotFinite(Exception):
    """A stage of this token holds a value that is not finite (the dense step names it)."""


class _StateMemory:
    """Prefix-sum outputs read from step-mode states: channel ``c`` of group ``(start, end, h, C)`` is
    ``Re(C_c h_c)`` (the dense step's ``(C * h).sum(-1).real`` with ``N = 1``); ``bounds``: the layer's
    memory bounds, which :meth:`ranges` gives (what ``_Stage.ranges`` reads for lazy channels)."""

    def __init__(self, parts: list, bounds: tuple):
        self.parts, self.bounds = parts, bounds

    def ranges(self, dtype):
        return self.bounds

    def at(self, rows: torch.Tensor, chans: torch.Tensor) -> torch.Tensor:
        if len(self.parts) == 1:
            start, _, h, C = self.parts[0]
            c = chans - start
            return (C[c, 0] * h[rows, c, 0]).real
        out = None
        for start, end, h, C in self.parts:
            inside = (chans >= start) & (chans < end)
            c = (chans - start).clamp(0, end - start - 1)
            v = torch.where(inside, (C[c, 0] * h[rows, c, 0]).real, 0)
            out = v if out is None else out + v
        return out


class _LayerStep:
    """One SSM layer (or bank) of a :class:`SparseStepper`: its groups' states and how each reads the stage."""

    def __init__(self, layer, state, headroom: int):
        self.layer, self.headroom = layer, headroom
        self.groups = _groups(layer)
        self.steppers, self.h = [], []  # a finite-window group's own stepper, or a prefix-sum group's state
        for g, h in zip(self.groups, state if _is_bank(layer) else (state,)):
            prefix = g.prefix_sum_weight() is not None
            self.steppers.append(None if prefix else g.stepper(h))
            self.h.append(h if prefix else None)
        self.forms_of = None  # the input forms the layout below was made for
        self.bounds_of = None  # the input bounds the output bounds were made for

    def state(self):
        parts = [s.state() if s is not None else h for s, h in zip(self.steppers, self.h)]
        return tuple(parts) if _is_bank(self.layer) else parts[0]

    # ------------------------------------------------------------------ layout of one form
    def _layout(self, stage: _Stage) -> None:
        """Which input channels each group reads densely and which become lazy memory outputs."""
        dev, kind = stage.device, stage.kind
        self.dense_cols = (kind == DENSE).nonzero().squeeze(1)
        if bool((kind == LAZY).any()):
            raise SparsePathUnavailableError("an SSM reads prefix sums (only FNNs read them on this path)")
        self.parts, lazy, start = [], [], 0
        for gi, g in enumerate(self.groups):
            chans = torch.arange(start, start + g.channels, device=dev)
            dense = kind[chans] == DENSE
            cols = stage.pos[chans[dense]]  # their columns of stage.dense
            if self.steppers[gi] is not None and not bool(dense.all()):
                raise SparsePathUnavailableError(f"a {type(g).__name__} reads sparse channels (the structured step "
                                                 "steps finite windows on narrow channels only)")
            if self.steppers[gi] is None:
                sparse = chans[~dense]
                if len(sparse) and bool((g.skip.detach()[sparse - start] != 0).any()):
                    raise SparsePathUnavailableError("a prefix sum with a skip term on sparse channels")
                lazy.append(sparse)
            self.parts.append((start, start + g.channels, cols, dense.nonzero().squeeze(1)))
            start += g.channels
        self.width = start
        self.lazy_cols = torch.cat(lazy) if lazy else None
        if self.lazy_cols is not None and not len(self.lazy_cols):
            self.lazy_cols = None
        self.forms = _forms(start, self.dense_cols, self.lazy_cols, dev)
        self.whole = len(self.groups) == 1 or all(len(c) == 0 or bool(torch.equal(
            c, torch.arange(int(c[0]), int(c[0]) + len(c), device=dev))) for _, _, c, _ in self.parts)
        self.forms_of = kind

    # ------------------------------------------------------------------ a memory's bounds
    def _bounds(self, lo: torch.Tensor, hi: torch.Tensor) -> None:
        """Bounds of every prefix-sum output for inputs in ``[lo, hi]``: its current values plus ``headroom``
        writes of the largest step (and the skip term); ``O(batch x channels)``, made again only when a value
        leaves them or the input envelope changes."""
        out_lo = torch.zeros(self.width, dtype=lo.dtype, device=lo.device)
        out_hi = out_lo.clone()
        for g, h, (start, end, _, _) in zip(self.groups, self.h, self.parts):
            if h is None:
                continue
            a, b = lo[start:end].clamp(max=0), hi[start:end].clamp(min=0)
            w, skip = g.prefix_sum_weight(), g.skip.detach()
            now = (g.C.detach()[:, 0] * h[:, :, 0]).real  # (batch, channels)
            step_lo, step_hi = torch.minimum(w * a, w * b), torch.maximum(w * a, w * b)
            skip_lo, skip_hi = torch.minimum(skip * a, skip * b), torch.maximum(skip * a, skip * b)
            out_lo[start:end] = now.amin(0).clamp(max=0) + self.headroom * step_lo + skip_lo
            out_hi[start:end] = now.amax(0).clamp(min=0) + self.headroom * step_hi + skip_hi
        self.out = out_lo, out_hi
        self.bounds_of = (lo, hi)

    # ------------------------------------------------------------------ one token
    def step(self, stage: _Stage, envelope: tuple, undo: list):
        """``(output stage, whether the memory bounds were made anew)`` for one token's input ``stage`` whose
        values lie in ``envelope``."""
        if self.forms_of is not stage.kind:
            self._layout(stage)
        lo, hi = envelope
        remade = self.bounds_of is None or self.bounds_of[0] is not lo or self.bounds_of[1] is not hi
        if remade:
            self._bounds(lo, hi)
        outside = False
        if self.whole and len(self.groups) == 1 and self.steppers[0] is not None:  # one narrow finite-window layer
            y = self._finite(0, stage.dense, undo)
        else:
            y = torch.empty(stage.T, len(self.dense_cols), dtype=stage.dtype, device=stage.device)
            c_code = stage.code % stage.width
            r_code = stage.code // stage.width
            for gi, (start, end, cols, local) in enumerate(self.parts):
                x = stage.dense[:, cols]
                if self.steppers[gi] is not None:
                    y[:, cols] = self._finite(gi, x, undo)
                    continue
                if len(cols):
                    y[:, cols] = self._dense_prefix(gi, local, x, undo)
                    lo_c, hi_c = self.out[0][start + local], self.out[1][start + local]
                    outside |= not torch.equal(torch.clamp(y[:, cols], lo_c, hi_c), y[:, cols])
                inside = (c_code >= start) & (c_code < end)
                if bool(inside.any()):
                    c = c_code[inside] - start
                    written = self._write(gi, r_code[inside], c, stage.val[inside], undo)
                    outside |= not torch.equal(torch.clamp(written, self.out[0][start + c], self.out[1][start + c]), written)
        if outside:  # a memory left its bounds (or is not finite): new ones from the values now, with more room
            self.headroom *= 2
            self._bounds(lo, hi)
            remade = True
        parts = [(start, end, h, g.C.detach()) for g, h, (start, end, _, _) in zip(self.groups, self.h, self.parts)
                 if h is not None]
        lazy = {}
        if self.lazy_cols is not None:
            lazy = dict(lazy_cols=self.lazy_cols, lazy_src=self.lazy_cols, prefix=_StateMemory(parts, self.out))
        out = _Stage.build(stage, self.width, stage.layout, dense_cols=self.dense_cols, dense=y, code=stage.code[:0],
                           val=stage.val[:0], forms=self.forms, **lazy)
        return out, remade

    def _finite(self, gi: int, x: torch.Tensor, undo: list) -> torch.Tensor:
        """A finite-window group's own step on its (dense) channels; undone by restoring what it overwrote."""
        s = self.steppers[gi]
        if hasattr(s, "slots"):  # a shift layer's ring buffer: one slot written in place
            p, old = s.position, s.slots[s.position].clone()

            def restore():
                s.slots[p].copy_(old)
                s.position = p
        else:
            h = s.h

            def restore():
                s.h = h
        undo.append(restore)
        return s(x)

    def _dense_prefix(self, gi: int, local: torch.Tensor, x: torch.Tensor, undo: list) -> torch.Tensor:
        """Dense channels ``local`` of a prefix-sum group: the dense step's ``_advance`` on them."""
        g, h = self.groups[gi], self.h[gi]
        old = h[:, local].clone()
        undo.append(lambda: h.__setitem__((slice(None), local), old))
        new = g.lam.detach()[local] * old + g.B.detach()[local] * x.unsqueeze(-1).to(h.dtype)
        h[:, local] = new
        return (g.C.detach()[local] * new).sum(-1).real + g.skip.detach()[local] * x

    def _write(self, gi: int, rows, c, v, undo: list) -> torch.Tensor:
        """The cells a token writes: ``h <- lam h + B x`` there (elsewhere ``x = 0`` and ``lam = 1`` keep ``h``);
        returns their outputs ``Re(C h)``."""
        g, h = self.groups[gi], self.h[gi]
        old = h[rows, c, 0].clone()
        undo.append(lambda: h.__setitem__((rows, c, 0), old))
        new = g.lam.detach()[c, 0] * old + g.B.detach()[c, 0] * v.to(h.dtype)
        h[rows, c, 0] = new
        return (g.C.detach()[c, 0] * new).real


def _is_bank(layer) -> bool:
    from .ssm import SSMBank

    return isinstance(layer, SSMBank)
