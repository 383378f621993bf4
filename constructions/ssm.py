"""Linear time-invariant state space layers, depthwise over channels.

Channel ``d`` of a layer with state size ``N`` runs, from ``h_{-1} = 0``::

    h_t = A_d h_{t-1} + B_d x_t,        y_t = Re(C_d h_t) + D_d x_t

so that ``y_t = sum_{s >= 0} K_s x_{t-s}`` with the kernel ``K_0 = Re(C_d B_d) + D_d`` and
``K_s = Re(C_d A_d^s B_d)`` for ``s >= 1``. The layer's **window** ``U`` is the smallest ``U`` with
``K_s = 0`` for every ``s >= U`` (infinite when no such ``U`` exists); it is measured from the
kernel, never declared.

Shape legend: ``x, y: (batch, length, D)``; kernel ``(D, length)``; state ``h: (batch, D, N)``.

Parameterizations (PAPER.md §2):

* :class:`ShiftSSM` -- nilpotent shift ``A = J_N`` (ones on the sub-diagonal), ``B = e_1``,
  ``C = c``: the kernel is the filter ``c`` itself, an exact window ``U <= N``.
* :class:`DiagonalSSM` -- ``A = diag(lambda)``, real or complex: accumulators (``lambda = 1``,
  prefix sum), geometric filters ``lambda^s``, S4D/Mamba-like layers.
* :class:`DenseSSM` -- a general ``N x N`` matrix per channel.
* :class:`SSMBank` -- several of the above side by side (channel groups of one layer).

Every layer computes its output three ways that must agree (``model.modes-agree``):
``"recurrence"`` (the clear, slow reference: a loop over time), ``"direct"`` (causal convolution with
the materialized kernel, ``O(L U)``) and ``"fft"`` (``O(L log L)``). Prefix sums (a diagonal
layer with ``N = 1`` and ``lambda = 1``: the memories of the constructions) also have ``"scan"``,
a cumulative sum (``O(L)``). ``"auto"`` takes ``scan`` where it applies, ``direct`` for short
windows and ``fft`` otherwise -- unless the kernel grows.

**Growing kernels.** The recurrence and the direct convolution compute every output ``y_t`` as its
own sum: its error is a few ulps of ``sum_s |K_s x_{t-s}|``. The FFT's round-off is a few ulps of
the *largest* output instead. With a spectral radius ``rho = max |eig(A)| > 1`` the kernel grows like
``rho^s``, the outputs span ``rho^L``, and the FFT loses the early ones (``lambda = 1.2, L = 200``:
``y_0 = 6`` instead of 1). Rule: a layer is *growing* on a sequence of length ``L`` when
``rho^(L-1) > FFT_MAX_GROWTH`` (16: at most 4 of float64's 53 bits lost at the earliest output);
on a growing layer ``"fft"`` raises :class:`IllConditionedModeError` and ``"auto"`` takes ``direct``
for kernels up to ``GROWING_DIRECT_MAX`` taps, the recurrence beyond (or when a tap overflows).
Every mode refuses non-finite inputs (:class:`NonFiniteInputError`) and raises
:class:`NumericalRangeError` when an output overflows the dtype (``lambda = 10, L = 400``:
``10^399``), instead of returning ``inf`` or ``NaN``.

A layer may look ahead: with ``lookahead = F`` it returns ``y_t = z_{t+F}`` where ``z`` is the
causal output, which makes a two-sided window ``[t-U+1+F, t+F]``.

**Step mode** (recurrent inference): ``state = layer.initial_state(batch)`` gives ``h_{-1} = 0`` and
``y_t, state = layer.step(x_t, state)`` reads one token ``x_t: (batch, D)``, one step of the recurrence
above: ``O(D N)`` work per token whatever the length (a shift layer keeps its last ``N`` inputs in a
ring buffer and reads only its non-zero taps: ``O(D + nnz(taps))``). It equals the convolutional modes
(claim ``model.step-mode``), refuses a non-finite ``x_t`` (:class:`NonFiniteInputError`, before the
state is touched) and raises :class:`NumericalRangeError` when an output overflows. A state is a
decoding cache: ``step`` may update it in place (the ring buffer), so use the state it returns and
not the one passed in. A two-sided layer has no step mode (:class:`NonCausalError`): its output at
``t`` needs inputs after ``t``. ``state_vector(state)`` gives ``h_t`` as :meth:`SSMLayer.states` does.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, replace
from typing import Iterable, Literal, Sequence

import torch
import torch.nn.functional as F
from torch import nn

from .errors import (
    DeviceMismatchError,
    DTypeMismatchError,
    IllConditionedModeError,
    NonCausalError,
    NonFiniteInputError,
    NumericalRangeError,
    ShapeError,
    UnknownOptionError,
    require_finite,
    require_finite_input,
    require_rank,
)

Mode = Literal["auto", "recurrence", "direct", "fft", "scan"]
MODES: tuple[str, ...] = ("auto", "recurrence", "direct", "fft", "scan")

#: ``auto`` uses direct convolution up to this kernel length, FFT beyond.
DIRECT_MAX_KERNEL = 64

#: the FFT computes a layer only while its kernel grows by at most this factor over the sequence,
#: ``rho^(L-1) <= FFT_MAX_GROWTH`` (``rho`` the spectral radius): at most 4 bits of the earliest output lost
FFT_MAX_GROWTH = 16.0

#: on a growing layer ``auto`` convolves directly up to this many taps, and runs the recurrence beyond
#: (``O(L K)`` against ``O(L)`` Python steps of about 20 us: equal near a few thousand taps)
GROWING_DIRECT_MAX = 2048


def _frozen(t: torch.Tensor) -> nn.Parameter:
    return nn.Parameter(t, requires_grad=False)


class SSMLayer(nn.Module):
    """Common machinery of every depthwise LTI layer; subclasses define ``A``.

    Subclasses provide ``_transition(h)`` (``A h`` for a batch of states), ``state_matrix()``
    (``A`` as a tensor, dense or sparse, for accounting and proofs) and may override ``kernel``
    with a closed form. ``B``, ``C`` (``(D, N)``) and ``skip`` (``(D,)``) live here.
    """

    def __init__(self, B: torch.Tensor, C: torch.Tensor, skip: torch.Tensor | None, lookahead: int):
        super().__init__()
        require_rank("B", B, 2)
        require_rank("C", C, 2)
        if B.shape != C.shape:
            raise ShapeError(f"B and C must have the same shape (D, N), got {tuple(B.shape)} and {tuple(C.shape)}")
        if skip is None:
            skip = torch.zeros(C.shape[0], dtype=C.real.dtype, device=C.device)
        require_rank("skip", skip, 1)
        if skip.shape[0] != C.shape[0]:
            raise ShapeError(f"skip must have shape ({C.shape[0]},), got {tuple(skip.shape)}")
        if skip.dtype != C.real.dtype:
            raise DTypeMismatchError(f"skip has dtype {skip.dtype}, the layer's C has real dtype {C.real.dtype}")
        for name, t in (("B", B), ("C", C), ("skip", skip)):
            require_finite(name, t)
        if isinstance(lookahead, bool) or not isinstance(lookahead, int) or lookahead < 0:
            raise ShapeError(f"lookahead must be a non-negative integer, got {lookahead!r}")
        self.B = _frozen(B)
        self.C = _frozen(C)
        self.skip = _frozen(skip)
        self.lookahead = lookahead

    # ------------------------------------------------------------------ sizes
    @property
    def channels(self) -> int:
        return self.C.shape[0]

    @property
    def state_size(self) -> int:
        """State dimension N of one channel."""
        return self.C.shape[1]

    @property
    def dtype(self) -> torch.dtype:
        return self.C.real.dtype

    @property
    def device(self) -> torch.device:
        return self.C.device

    # --------------------------------------------------------------- subclass
    def _transition(self, h: torch.Tensor) -> torch.Tensor:  # h: (batch, D, N)
        raise NotImplementedError

    def state_matrix(self) -> torch.Tensor:
        """``A`` for every channel, ``(D, N, N)``; sparse where the structure allows."""
        raise NotImplementedError

    def kernel(self, length: int) -> torch.Tensor:
        """``K_s`` for ``0 <= s < length``, shape ``(D, length)``; generic doubling algorithm."""
        k = torch.einsum("dn,dns->ds", self.C, self.state_kernel(length)).real
        return self._add_skip(k.to(self.dtype))

    def state_kernel(self, length: int) -> torch.Tensor:
        """``A^s B`` for ``0 <= s < length``: ``(D, N, length)`` (doubling, as :meth:`kernel`)."""
        A = self.state_matrix()
        A = A.to_dense() if A.is_sparse else A
        columns, A_pow = self.B.detach().unsqueeze(-1), A
        while columns.shape[-1] < length:
            columns = torch.cat([columns, A_pow @ columns], dim=-1)
            A_pow = A_pow @ A_pow
        return columns[..., :length]

    def final_state(self, x: torch.Tensor) -> torch.Tensor:
        """The state after reading all of ``x`` (``(batch, L, D)``): ``h_L = sum_s A^s B x_{L-1-s}``,
        ``(batch, D, N)`` (complex for complex layers).

        Everything the layer outputs later depends on the past only through this state: it is what
        a fixed-state (GSSM) reading of the layer counts (claims ``limits.*``). Computed as one
        contraction with :meth:`state_kernel`; the per-token recurrence is its slow twin.
        """
        self.check_input(x)
        require_finite_input("SSM input", x)  # what a state is read from
        self._require_causal("a causal state to read")
        S = self.state_kernel(x.shape[1])  # (D, N, L)
        return torch.einsum("dns,bsd->bdn", S, x.flip(1).to(S.dtype))

    def states(self, x: torch.Tensor) -> torch.Tensor:
        """The state after every token of ``x`` (``(batch, L, D)``): ``h_t = sum_{s <= t} A^s B x_{t-s}``,
        ``(batch, L, D, N)`` (complex for complex layers); ``states(x)[:, -1]`` is :meth:`final_state`.

        What a layer must store to run as a recurrence (``constructions.resources.measure_state``
        reads its precision). A direct causal convolution of each channel with the columns of
        :meth:`state_kernel` (no FFT: exact wherever the sums are, as for the constructions' dyadic
        states), over the state's window: ``N`` taps when ``A^N B = 0`` (nilpotent ``A``), else ``L``.
        """
        self.check_input(x)
        require_finite_input("SSM input", x)  # what a state is read from
        self._require_causal("a causal state to read")
        batch, L, D = x.shape
        N = self.state_size
        S = self.state_kernel(min(L, N + 1))  # (D, N, K)
        if L > N:  # A^s B = A^(s-N) A^N B: zero for every s >= N once it is zero at s = N
            S = self.state_kernel(L) if bool((S[..., N] != 0).any()) else S[..., :N]
        xs = x.unsqueeze(-1).expand(batch, L, D, N).reshape(batch, L, D * N)
        k = S.reshape(D * N, -1)

        def conv(kernel):
            return causal_conv_direct(xs.to(kernel.dtype), kernel).reshape(batch, L, D, N)

        return torch.complex(conv(k.real), conv(k.imag)) if k.is_complex() else conv(k)

    def _add_skip(self, k: torch.Tensor) -> torch.Tensor:
        if k.shape[-1] > 0:
            k = k.clone()
            k[:, 0] += self.skip
        return k

    # ----------------------------------------------------------------- window
    def window(self) -> float:
        """Measured window: smallest U with K_s = 0 for all s >= U (``math.inf`` if none).

        If the window is finite it is at most N (the non-nilpotent part of ``A`` contributes
        independent sequences ``mu^s`` that cannot cancel, and the nilpotent part dies after N
        steps), and Cayley-Hamilton gives: K vanishing on ``[U, U+N)`` implies vanishing for all
        ``s >= U``; an infinite kernel is a non-zero solution of a linear recurrence of order
        ``<= N`` with invertible leading part, so it has a non-zero tap in every ``N`` consecutive
        ones. Hence the kernel on ``[0, 2N)`` decides: a non-zero tap at ``s >= N`` means infinite.
        """
        k = self.kernel(2 * self.state_size)
        nonzero = (k != 0).any(dim=0).nonzero()
        if nonzero.numel() == 0:
            return 0
        last = int(nonzero.max())
        return math.inf if last >= self.state_size else last + 1

    def kernel_length(self, length: int) -> int:
        """How many taps matter for a sequence of ``length`` (window, capped by the length)."""
        w = self.window()
        return length if w == math.inf else max(1, min(int(w), length))

    # --------------------------------------------------------------- tensors
    def parameter_tensors(self) -> dict[str, torch.Tensor]:
        """The tensors that define the layer, as built (``A`` may be sparse)."""
        return {"A": self.state_matrix(), "B": self.B.detach(), "C": self.C.detach(), "skip": self.skip.detach()}

    def matrices(self) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor, torch.Tensor]:
        """Dense ``(A, B, C, D)``: ``(D, N, N), (D, N), (D, N), (D,)``; for proofs and tiny sizes."""
        A = self.state_matrix()
        return (A.to_dense() if A.is_sparse else A), self.B.detach(), self.C.detach(), self.skip.detach()

    # ---------------------------------------------------------------- forward
    def check_input(self, x: torch.Tensor) -> None:
        if not isinstance(x, torch.Tensor):
            raise ShapeError(f"SSM input must be a tensor, got {type(x).__name__}")
        if x.dim() != 3:
            raise ShapeError(f"SSM input must have shape (batch, length, {self.channels}), got {tuple(x.shape)}")
        if x.shape[-1] != self.channels:
            raise ShapeError(f"SSM input has {x.shape[-1]} channels, the layer has {self.channels}")
        if x.dtype != self.dtype:
            raise DTypeMismatchError(f"SSM input dtype {x.dtype} does not match the layer's {self.dtype}")
        if x.device != self.device:
            raise DeviceMismatchError(f"SSM input is on {x.device}, the layer on {self.device}")

    # ------------------------------------------------------------- conditioning
    def spectral_radius(self) -> float:
        """``rho = max |eig(A)|`` over every channel: the kernel grows (or decays) like ``rho^s``."""
        A = self.state_matrix()
        A = A.to_dense() if A.is_sparse else A
        return float(torch.linalg.eigvals(A.detach().to(torch.complex128).cpu()).abs().max()) if A.numel() else 0.0

    def growth(self, length: int) -> float:
        """``rho^(length - 1)``: how much the kernel can grow over a sequence of ``length`` (``inf``
        past float64's range)."""
        rho = self.spectral_radius()
        if length <= 1 or rho == 0:
            return 1.0 if length <= 1 else 0.0
        exponent = (length - 1) * math.log(rho)
        return math.inf if exponent > 700 else math.exp(exponent)

    def is_growing(self, length: int) -> bool:
        """Whether the FFT would lose the early outputs on a sequence of ``length`` (module docstring):
        ``rho^(length-1) > FFT_MAX_GROWTH`` and an infinite window (a finite one cannot grow)."""
        return self.growth(length) > FFT_MAX_GROWTH and self.window() == math.inf

    def forward(self, x: torch.Tensor, mode: Mode = "auto") -> torch.Tensor:
        self.check_input(x)
        if mode not in MODES:
            raise UnknownOptionError(f"unknown SSM mode {mode!r}; choose one of {MODES}")
        L, F_ = x.shape[1], self.lookahead
        if L == 0:
            return x.clone()
        if F_:
            x = F.pad(x, (0, 0, 0, F_))  # zeros after the end: the future beyond the input
        if mode == "scan" or (mode == "auto" and self.prefix_sum_weight() is not None):
            y = self._scan(x)
        elif mode == "recurrence":
            y = self._recurrence(x)
        else:
            K = self.kernel_length(x.shape[1])
            growing = self.is_growing(x.shape[1])
            if mode == "fft" and growing:
                raise IllConditionedModeError(
                    f"mode 'fft' cannot compute this {type(self).__name__} on {x.shape[1]} tokens: its kernel grows like "
                    f"rho^s with rho = {self.spectral_radius():.6g} > 1 (by {self.growth(x.shape[1]):.3g} over the sequence, "
                    f"more than {FFT_MAX_GROWTH:g}), and the FFT's round-off, a few ulps of the largest output, swamps the "
                    "early ones; use 'auto', 'direct' or 'recurrence'")
            k = self.kernel(K) if mode != "auto" or not growing or K <= GROWING_DIRECT_MAX else None
            if mode == "auto":
                if not growing:
                    mode = "direct" if K <= DIRECT_MAX_KERNEL else "fft"
                else:  # every output its own sum: direct while short and finite, else the recurrence
                    mode = "direct" if k is not None and _all_finite(k) else "recurrence"
            if mode == "recurrence":
                y = self._recurrence(x)
            else:
                if growing:  # a bounded kernel of finite weights is finite
                    self._check_kernel(k, mode)
                y = causal_conv_direct(x, k) if mode == "direct" else causal_conv_fft(x, k)
        y = y[:, F_ : F_ + L]
        self._check_output(y, x)
        return y

    def _check_kernel(self, k: torch.Tensor, mode: str) -> None:
        """A convolution multiplies every tap (an infinite one makes NaN of every output); the recurrence does not."""
        if not _all_finite(k):
            tap = int((~torch.isfinite(k)).any(0).nonzero()[0])
            raise NumericalRangeError(
                f"the kernel of this {type(self).__name__} overflows {k.dtype} at tap {tap} (rho = {self.spectral_radius():.6g}): "
                f"mode {mode!r} convolves with every tap; 'recurrence' or 'auto' compute the outputs as far as they fit")

    def _check_output(self, y: torch.Tensor, x: torch.Tensor) -> None:
        """No output is inf or NaN (one sum when none is): a non-finite input reaches some output in every
        mode (NaN and inf times 0 are NaN), so it is found here, and named; finite inputs that give a
        non-finite output overflowed, which is refused."""
        if _all_finite(y):
            return
        require_finite_input("SSM input", x)
        bad = ~torch.isfinite(y)
        first = int(bad.any(-1).any(0).nonzero()[0])
        raise NumericalRangeError(
            f"{type(self).__name__} output overflows {y.dtype} at position {first} (the first; largest finite value "
            f"{torch.finfo(y.dtype).max:.3g}): its kernel grows like rho^s with rho = {self.spectral_radius():.6g}; "
            "the true outputs cannot be represented in this dtype")

    def supported_modes(self) -> tuple[str, ...]:
        """The concrete modes this layer computes (``scan`` only for prefix sums)."""
        return ("recurrence", "direct", "fft") + (("scan",) if self.prefix_sum_weight() is not None else ())

    def prefix_sum_weight(self) -> torch.Tensor | None:
        """``w`` if the layer is ``y_t = w * sum_{s <= t} x_s + skip * x_t`` (else ``None``)."""
        return None

    def _scan(self, x: torch.Tensor) -> torch.Tensor:
        w = self.prefix_sum_weight()
        if w is None:
            raise UnknownOptionError(f"mode 'scan' needs a prefix-sum layer (N = 1, lambda = 1); this is a {type(self).__name__}")
        return torch.cumsum(x * w, dim=1) + self.skip * x

    def _recurrence(self, x: torch.Tensor) -> torch.Tensor:
        """The reference: one step of ``h_t = A h_{t-1} + B x_t`` per token (the dense state, for
        every parameterization: the slow twin of the shift layer's ring buffer too)."""
        batch, L, D = x.shape
        h = torch.zeros(batch, D, self.state_size, dtype=self.C.dtype, device=x.device)
        ys = []
        for t in range(L):
            y, h = self._advance(x[:, t, :], h)
            ys.append(y)
        return torch.stack(ys, dim=1) if ys else x.new_zeros(batch, 0, D)

    def _advance(self, x_t: torch.Tensor, h: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        """One step on the dense state: ``h_t = A h_{t-1} + B x_t``, ``y_t = Re(C h_t) + skip x_t``.
        ``x_t: (batch, D)``, ``h: (batch, D, N)``."""
        h = self._transition(h) + self.B * x_t.unsqueeze(-1)
        return (self.C * h).sum(-1).real + self.skip * x_t, h

    # -------------------------------------------------------------- step mode
    def _require_causal(self, what: str) -> None:
        if self.lookahead:
            raise NonCausalError(f"this {type(self).__name__} looks ahead (lookahead = {self.lookahead}, two-sided): its "
                                 f"output at t needs inputs up to t + {self.lookahead}, so it has no {what}")

    def initial_state(self, batch: int):
        """``h_{-1} = 0`` for ``batch`` sequences: ``(batch, D, N)``, complex for complex layers."""
        self._require_causal("step mode")
        return torch.zeros(_batch_size(batch), self.channels, self.state_size, dtype=self.C.dtype, device=self.device)

    def step(self, x_t: torch.Tensor, state):
        """Read one token: ``h_t = A h_{t-1} + B x_t``, ``y_t = Re(C h_t) + skip x_t``.

        ``x_t: (batch, D)``; returns ``(y_t: (batch, D), h_t)``. A non-finite ``x_t`` raises
        :class:`NonFiniteInputError` before the state is touched, an output beyond the dtype's range
        :class:`NumericalRangeError` (a state that overflowed reaches the output as inf or NaN)."""
        self._require_causal("step mode")
        self.check_input(_one_token(x_t))
        require_finite_input("SSM input", x_t)
        self._check_state(state, x_t.shape[0])
        y, state = self._step(x_t, state)
        if not _all_finite(y):
            raise step_overflow(self, y)
        return y, state

    def _step(self, x_t: torch.Tensor, state):
        return self._advance(x_t, state)

    def stepper(self, state) -> "Stepper":
        """A :class:`Stepper` continuing from ``state`` (this layer's, checked once here): :meth:`step` without
        the per-call checks, for a caller that checks its inputs and outputs itself (a network's decoder)."""
        self.check_step_state(state)
        return self._stepper(state)

    def check_step_state(self, state) -> None:
        """``state`` is one of this layer's step-mode states, for as many sequences as it holds (what
        :meth:`stepper` checks once); a two-sided layer has none (:class:`NonCausalError`)."""
        self._require_causal("step mode")
        tensor = state.window if isinstance(state, ShiftState) else state
        self._check_state(state, tensor.shape[0] if isinstance(tensor, torch.Tensor) and tensor.dim() else 0)

    def _stepper(self, state) -> "Stepper":
        return _AdvanceStepper(self, state)

    def _check_state(self, state, batch: int) -> None:
        """``state`` is one of this layer's (:meth:`initial_state`'s type and shape) for ``batch`` sequences."""
        kind = ShiftState if isinstance(self, ShiftSSM) else torch.Tensor
        tensor = state.window if isinstance(state, ShiftState) else state
        shape = (batch, self.channels) + ((2,) if kind is ShiftState else ()) + (self.state_size,)
        if not isinstance(state, kind) or tuple(tensor.shape) != shape:
            got = tuple(tensor.shape) if isinstance(tensor, torch.Tensor) else type(state).__name__
            raise ShapeError(f"not a step-mode state of this {type(self).__name__} for {batch} sequences: expected "
                             f"{kind.__name__} of shape {shape}, got {type(state).__name__} {got}")

    def state_vector(self, state) -> torch.Tensor:
        """``h_t`` of a step-mode state as :meth:`states` gives it: ``(batch, D, N)``."""
        return state

    def state_after(self, x: torch.Tensor):
        """The step-mode state after reading all of ``x`` (``(batch, L, D)``, ``L >= 1``), computed at once
        (:meth:`final_state`): a prompt read by a convolutional mode, then decoded by :meth:`step`."""
        return self.final_state(x).to(self.C.dtype)


class ShiftSSM(SSMLayer):
    """Nilpotent shift realization of an arbitrary causal filter of length ``N``.

    ``A = J_N`` (``A[i+1, i] = 1``), ``B = e_1``, ``C = taps``: then ``C A^s B = taps[s]`` for
    ``s < N`` and ``0`` for ``s >= N`` (claim ``model.shift-kernel``, proved in sympy).
    ``taps: (D, N)``.
    """

    def __init__(self, taps: torch.Tensor, skip: torch.Tensor | None = None, lookahead: int = 0):
        require_rank("taps", taps, 2)
        if taps.shape[1] < 1:
            raise ShapeError("taps must have at least one column (window >= 1)")
        B = torch.zeros_like(taps)
        B[:, 0] = 1
        super().__init__(B, taps, skip, lookahead)

    def _transition(self, h):
        return F.pad(h[..., :-1], (1, 0))  # J_N h: every entry moves one slot down

    def spectral_radius(self) -> float:
        return 0.0  # J_N is nilpotent

    def state_matrix(self):
        D, N = self.channels, self.state_size
        rows = torch.arange(1, N, device=self.device)
        d = torch.arange(D, device=self.device).repeat_interleave(N - 1)
        idx = torch.stack([d, rows.repeat(D), (rows - 1).repeat(D)])
        vals = torch.ones(idx.shape[1], dtype=self.dtype, device=self.device)
        return torch.sparse_coo_tensor(idx, vals, (D, N, N), check_invariants=True).coalesce()

    def state_kernel(self, length):
        """``J^s e_1 = e_{s+1}`` for ``s < N``, then 0: the state is the last ``N`` inputs."""
        eye = torch.eye(self.state_size, dtype=self.C.dtype, device=self.device)[:, :length]
        eye = F.pad(eye, (0, max(0, length - self.state_size)))
        return eye.expand(self.channels, -1, -1)

    def states(self, x):
        """The state is the last ``N`` inputs, ``h_t[n] = x_{t-n}`` (0 before the start): read off directly."""
        self.check_input(x)
        require_finite_input("SSM input", x)  # what a state is read from
        self._require_causal("a causal state to read")
        N = self.state_size
        padded = F.pad(x, (0, 0, N - 1, 0))  # (batch, N - 1 + L, D)
        return padded.unfold(1, N, 1).flip(-1)  # (batch, L, D, N): entry n is x_{t-n}

    def initial_state(self, batch):
        """The last ``N`` inputs, all 0, in a ring buffer held twice, ``(batch, D, 2, N)``; the non-zero
        taps listed once."""
        self._require_causal("step mode")
        C = self.C.detach()
        D, N = C.shape
        channel, lag = C.nonzero(as_tuple=True)
        one_per_channel = bool(torch.equal(channel, torch.arange(D, device=self.device)))
        window = torch.zeros(_batch_size(batch), D, 2, N, dtype=self.dtype, device=self.device)
        return ShiftState(window, 0, channel, channel * 2 * N + N - lag, C[channel, lag], one_per_channel)

    def _step(self, x_t, state):
        """``x_t`` into slot ``p`` of both copies (the oldest input's), then ``y_t = sum_{taps s} c_s x_{t-s}
        + skip x_t`` with ``x_{t-s}`` in slot ``N + p - s`` of the doubled buffer (no wrap-around):
        ``O(D + nnz)`` per token, the buffer written in place."""
        p = state.position
        state.window[..., p] = x_t.unsqueeze(-1)
        terms = state.window.view(x_t.shape[0], -1)[:, state.read + p] * state.taps  # (batch, nnz)
        if state.one_per_channel:  # shift layers: one tap per channel, in channel order
            y = terms + self.skip * x_t
        else:
            y = (self.skip * x_t).index_add(1, state.channel, terms)
        return y, replace(state, position=(p + 1) % self.state_size)

    def _stepper(self, state):
        return _ShiftStepper(self, state)

    def state_after(self, x, length: int | None = None):
        """The last ``N`` inputs of ``x`` in their slots: ``x_{L-1-n}`` in slot ``(L - 1 - n) mod N``. With
        ``length``: ``x`` holds the last ``min(length, N)`` (or more) inputs of a sequence of ``length`` tokens."""
        self.check_input(x)
        require_finite_input("SSM input", x)
        state = self.initial_state(x.shape[0])
        L, N = x.shape[1], self.state_size
        if length is not None:
            if not min(length, N) <= L <= length:
                raise ShapeError(f"the last tokens of a sequence of {length} must be at least min({length}, {N}) "
                                 f"and at most {length} tokens, got {L}")
            x, L = x[:, L - min(length, N) :], length
        last = min(L, N)
        slots = torch.arange(L - last, L, device=self.device) % N
        state.window[..., slots] = x[:, x.shape[1] - last :].transpose(1, 2).unsqueeze(2)
        return replace(state, position=L % N)

    def state_vector(self, state):
        """``h_t[n] = x_{t-n}``, read from slot ``(p - 1 - n) mod N``."""
        N = self.state_size
        order = (state.position - 1 - torch.arange(N, device=self.device)) % N
        return state.window[:, :, 0, order]

    def kernel(self, length):
        k = self.C.detach()[:, :length]
        if length > self.state_size:
            k = F.pad(k, (0, length - self.state_size))
        return self._add_skip(k)


class DiagonalSSM(SSMLayer):
    """``A = diag(lam)`` per channel, real or complex: ``K_s = Re(sum_n C_n lam_n^s B_n)``.

    ``lam, B, C: (D, N)``. With ``N = 1``, ``lam = 1``, ``B = C = 1`` this is the prefix sum
    (claim ``model.accumulator``); ``lam`` in ``(0, 1)`` gives the geometric filter ``lam^s``.
    """

    def __init__(self, lam: torch.Tensor, B: torch.Tensor, C: torch.Tensor, skip=None, lookahead: int = 0):
        require_rank("lam", lam, 2)
        require_finite("lam", lam)
        if lam.shape != C.shape:
            raise ShapeError(f"lam must have shape {tuple(C.shape)}, got {tuple(lam.shape)}")
        dtype = torch.promote_types(torch.promote_types(lam.dtype, B.dtype), C.dtype)
        super().__init__(B.to(dtype), C.to(dtype), skip, lookahead)
        self.lam = _frozen(lam.to(dtype))

    def _transition(self, h):
        return self.lam * h

    def spectral_radius(self) -> float:
        return float(self.lam.detach().abs().max()) if self.lam.numel() else 0.0

    def prefix_sum_weight(self):
        if self.state_size == 1 and bool((self.lam == 1).all()):
            return (self.C * self.B).detach()[:, 0].real
        return None

    def states(self, x):
        """Accumulators (every ``lam = 1``) as a cumulative sum of ``B x``; otherwise the generic convolution."""
        if not bool((self.lam == 1).all()) or self.lookahead:
            return super().states(x)
        self.check_input(x)
        require_finite_input("SSM input", x)  # what a state is read from
        return torch.cumsum(x.unsqueeze(-1).to(self.B.dtype) * self.B, dim=1)

    def final_state(self, x):
        """Accumulators (every ``lam = 1``): ``h_L = B sum_t x_t``, one sum; otherwise the generic contraction."""
        if not bool((self.lam == 1).all()) or self.lookahead:
            return super().final_state(x)
        self.check_input(x)
        require_finite_input("SSM input", x)
        return x.sum(1).unsqueeze(-1).to(self.B.dtype) * self.B

    def state_matrix(self):
        return torch.diag_embed(self.lam.detach())

    def parameter_tensors(self):
        tensors = super().parameter_tensors()
        tensors["A"] = self.lam.detach()  # the diagonal is what is stored
        return tensors

    #: kernel taps computed at once; bounds the (D, N, chunk) table of powers
    KERNEL_CHUNK = 1 << 14

    def kernel(self, length):
        lam, weight = self.lam.detach().unsqueeze(-1), (self.C * self.B).detach().unsqueeze(1)  # (D,N,1), (D,1,N)
        chunk = max(1, min(length, self.KERNEL_CHUNK))
        base = lam.new_ones(*lam.shape[:2], chunk)  # lam^0 .. lam^(chunk-1), by doubling
        width, power = 1, lam  # power = lam^width
        while width < chunk:
            take = min(width, chunk - width)
            base[..., width : width + take] = base[..., :take] * power
            width, power = width + take, power * power
        step = lam.transpose(1, 2) ** chunk  # (D, 1, N)
        parts, w = [], weight
        for start in range(0, length, chunk):
            width = min(chunk, length - start)
            parts.append((w @ base[..., :width]).squeeze(1).real)  # sum_n w_n lam_n^start lam_n^s
            w = w * step
        k = torch.cat(parts, dim=-1) if parts else weight.real.new_zeros(self.channels, 0)
        return self._add_skip(k.to(self.dtype))


class DenseSSM(SSMLayer):
    """A general state matrix per channel: ``A: (D, N, N)``, ``B, C: (D, N)``."""

    def __init__(self, A: torch.Tensor, B: torch.Tensor, C: torch.Tensor, skip=None, lookahead: int = 0):
        require_rank("A", A, 3)
        require_rank("C", C, 2)
        require_finite("A", A)
        if A.shape != (*C.shape, C.shape[1]):
            raise ShapeError(f"A must have shape {(*C.shape, C.shape[1])}, got {tuple(A.shape)}")
        super().__init__(B, C, skip, lookahead)
        self.A = _frozen(A)

    def _transition(self, h):
        return torch.einsum("dij,bdj->bdi", self.A, h)

    def state_matrix(self):
        return self.A.detach()


class SSMBank(nn.Module):
    """One SSM layer made of channel groups with their own parameterizations, side by side.

    Input channels are split in order among the groups; outputs are concatenated in the same
    order. The bank has the interface of a layer: ``channels``, ``kernel``, ``window`` (the largest
    of its groups), ``forward(x, mode)``.
    """

    def __init__(self, groups: Sequence[SSMLayer]):
        super().__init__()
        if not groups:
            raise ShapeError("an SSMBank needs at least one group")
        dtypes = {g.dtype for g in groups}
        if len(dtypes) != 1:
            raise DTypeMismatchError(f"SSM groups have different dtypes: {sorted(map(str, dtypes))}")
        self.groups = nn.ModuleList(groups)

    @property
    def channels(self) -> int:
        return sum(g.channels for g in self.groups)

    @property
    def dtype(self) -> torch.dtype:
        return self.groups[0].dtype

    @property
    def device(self) -> torch.device:
        return self.groups[0].device

    @property
    def state_size(self) -> int:
        """Total state dimension, summed over channels."""
        return sum(g.channels * g.state_size for g in self.groups)

    def window(self) -> float:
        return max(g.window() for g in self.groups)

    def supported_modes(self) -> tuple[str, ...]:
        """Modes every group computes."""
        common = set(self.groups[0].supported_modes()).intersection(*(g.supported_modes() for g in self.groups))
        return tuple(m for m in MODES if m in common)

    def kernel(self, length: int) -> torch.Tensor:
        return torch.cat([g.kernel(length) for g in self.groups], dim=0)

    def final_state(self, x: torch.Tensor) -> torch.Tensor:
        """Every group's state after reading ``x``, flattened and concatenated: ``(batch, state_size)``."""
        self.check_input(x)
        require_finite_input("SSM input", x)  # what a state is read from
        parts = torch.split(x, [g.channels for g in self.groups], dim=-1)
        states = [g.final_state(part) for g, part in zip(self.groups, parts)]
        dtype = torch.complex128 if any(s.is_complex() for s in states) else states[0].dtype
        return torch.cat([s.reshape(s.shape[0], -1).to(dtype) for s in states], dim=1)

    def states(self, x: torch.Tensor) -> torch.Tensor:
        """Every group's states after every token, flattened and concatenated: ``(batch, L, state_size)``."""
        self.check_input(x)
        require_finite_input("SSM input", x)  # what a state is read from
        parts = torch.split(x, [g.channels for g in self.groups], dim=-1)
        states = [g.states(part) for g, part in zip(self.groups, parts)]
        dtype = torch.complex128 if any(s.is_complex() for s in states) else states[0].dtype
        return torch.cat([s.reshape(*s.shape[:2], -1).to(dtype) for s in states], dim=2)

    def initial_state(self, batch: int) -> tuple:
        """Every group's initial state, in group order."""
        return tuple(g.initial_state(batch) for g in self.groups)

    def step(self, x_t: torch.Tensor, state: tuple):
        """Every group reads its channels of ``x_t: (batch, channels)``; outputs concatenated in order."""
        self.check_input(_one_token(x_t))
        if not isinstance(state, tuple) or len(state) != len(self.groups):
            raise ShapeError(f"a state of this SSMBank is a tuple of {len(self.groups)} group states")
        require_finite_input("SSM input", x_t)  # named at the bank's own index
        parts = torch.split(x_t, [g.channels for g in self.groups], dim=-1)
        stepped = [g.step(part, h) for g, part, h in zip(self.groups, parts, state)]
        return torch.cat([y for y, _ in stepped], dim=-1), tuple(h for _, h in stepped)

    def stepper(self, state: tuple) -> "Stepper":
        """Every group's :meth:`SSMLayer.stepper`, on its channels; outputs concatenated in order."""
        self._check_groups(state)
        return _BankStepper([g.stepper(h) for g, h in zip(self.groups, state)], [g.channels for g in self.groups])

    def check_step_state(self, state) -> None:
        """``state`` is one of this bank's step-mode states: a tuple of every group's."""
        self._check_groups(state)
        for g, h in zip(self.groups, state):
            g.check_step_state(h)

    def _check_groups(self, state) -> None:
        if not isinstance(state, tuple) or len(state) != len(self.groups):
            raise ShapeError(f"a state of this SSMBank is a tuple of {len(self.groups)} group states")

    def state_after(self, x: torch.Tensor) -> tuple:
        """Every group's step-mode state after reading its channels of ``x``."""
        self.check_input(x)
        parts = torch.split(x, [g.channels for g in self.groups], dim=-1)
        return tuple(g.state_after(part) for g, part in zip(self.groups, parts))

    def state_vector(self, state: tuple) -> torch.Tensor:
        """Every group's ``h_t``, flattened and concatenated as :meth:`states` does: ``(batch, state_size)``."""
        parts = [g.state_vector(h) for g, h in zip(self.groups, state)]
        dtype = torch.complex128 if any(s.is_complex() for s in parts) else parts[0].dtype
        return torch.cat([s.reshape(s.shape[0], -1).to(dtype) for s in parts], dim=1)

    def check_input(self, x: torch.Tensor) -> None:
        if not isinstance(x, torch.Tensor) or x.dim() != 3:
            shape = tuple(x.shape) if isinstance(x, torch.Tensor) else type(x).__name__
            raise ShapeError(f"SSM input must have shape (batch, length, {self.channels}), got {shape}")
        if x.shape[-1] != self.channels:
            raise ShapeError(f"SSM input has {x.shape[-1]} channels, the layer has {self.channels}")

    def forward(self, x: torch.Tensor, mode: Mode = "auto") -> torch.Tensor:
        self.check_input(x)
        parts = torch.split(x, [g.channels for g in self.groups], dim=-1)
        try:
            return torch.cat([g(part, mode) for g, part in zip(self.groups, parts)], dim=-1)
        except NonFiniteInputError:
            require_finite_input("SSM input", x)  # named at the bank's own index
            raise

    def named_parameter_tensors(self) -> Iterable[tuple[str, torch.Tensor]]:
        for i, g in enumerate(self.groups):
            for name, t in g.parameter_tensors().items():
                yield f"group{i}.{type(g).__name__}.{name}", t


@dataclass(frozen=True)
class ShiftState:
    """A shift layer's step-mode state: ``window[b, d, k, (position - 1 - n) mod N] = x_{t-n}`` for both
    copies ``k`` (the ring buffer, written in place), and the layer's non-zero taps
    ``taps[i] = C[channel[i], lag[i]]``, read at flat index ``read[i] + position`` once ``x_t`` is written
    (``read[i] = channel[i] 2N + N - lag[i]``: copy 1 at slot ``p - lag``, copy 0 where that wraps)."""

    window: torch.Tensor  # (batch, D, 2, N)
    position: int  # the slot the next input goes to: tokens read, mod N
    channel: torch.Tensor  # (nnz,)
    read: torch.Tensor  # (nnz,)
    taps: torch.Tensor  # (nnz,)
    one_per_channel: bool  # channel == arange(D): the output is the gathered terms


class Stepper:
    """A layer's step mode with the state held inside: ``y_t = stepper(x_t)`` is ``layer.step(x_t, state)``
    without its per-call checks (input shape, finiteness, state type, output range), which the caller
    makes instead, once per token for the whole network (:class:`~constructions.network.NetworkStepper`);
    ``stepper.state()`` is the layer's step-mode state after the tokens read. Built by ``layer.stepper(state)``
    from the layer's tensors as they are then; the state is updated in place where ``step`` would."""

    def __call__(self, x_t: torch.Tensor) -> torch.Tensor:
        raise NotImplementedError

    def state(self):
        raise NotImplementedError


class _AdvanceStepper(Stepper):
    """Diagonal and dense layers: one :meth:`SSMLayer._advance` per token."""

    def __init__(self, layer: SSMLayer, h: torch.Tensor):
        self.advance, self.h = layer._advance, h

    def __call__(self, x_t):
        y, self.h = self.advance(x_t, self.h)
        return y

    def state(self):
        return self.h


class _ShiftStepper(Stepper):
    """A shift layer's ring buffer (:meth:`ShiftSSM._step`), with the write views and read indices of every
    position made once: per token one copy into the buffer, one gather, one product (plus the skip term
    where the layer has one)."""

    #: read indices precomputed for every position while they take at most this many entries
    TABLE_MAX = 1 << 20

    def __init__(self, layer: "ShiftSSM", state: "ShiftState"):
        self.shift, self.N, self.position = state, layer.state_size, state.position
        window = state.window
        self.flat = window.view(window.shape[0], -1)
        self.slots = window.unbind(-1)  # slot p of both copies: (batch, D, 2) views
        self.taps, self.channel, self.read = state.taps, state.channel, state.read
        self.reads = ([state.read + p for p in range(self.N)] if self.N * state.read.numel() <= self.TABLE_MAX else None)
        skip = layer.skip.detach()
        self.skip = skip if bool(skip.any()) else None
        self.one_per_channel = state.one_per_channel

    def __call__(self, x_t):
        p = self.position
        self.slots[p].copy_(x_t.unsqueeze(-1))
        read = self.reads[p] if self.reads is not None else self.read + p
        terms = torch.index_select(self.flat, 1, read).mul_(self.taps)  # (batch, nnz)
        self.position = (p + 1) % self.N
        if self.one_per_channel:
            return terms if self.skip is None else terms.add_(self.skip * x_t)
        base = self.skip * x_t if self.skip is not None else x_t.new_zeros(x_t.shape)
        return base.index_add_(1, self.channel, terms)

    def state(self):
        return replace(self.shift, position=self.position)


class _BankStepper(Stepper):
    def __init__(self, steppers: list, widths: list[int]):
        self.steppers, self.widths = steppers, widths

    def __call__(self, x_t):
        return torch.cat([s(part) for s, part in zip(self.steppers, torch.split(x_t, self.widths, dim=-1))], dim=-1)

    def state(self):
        return tuple(s.state() for s in self.steppers)


def step_overflow(layer: SSMLayer | SSMBank, y: torch.Tensor) -> NumericalRangeError:
    """The error of a step-mode output ``y: (batch, channels)`` of ``layer`` that is not finite, naming the
    layer (the group of a bank) of its first non-finite channel."""
    if isinstance(layer, SSMBank):
        channel = int((~torch.isfinite(y)).any(0).nonzero()[0])
        ends = torch.tensor([g.channels for g in layer.groups]).cumsum(0)
        layer = layer.groups[int((ends <= channel).sum())]
    return NumericalRangeError(
        f"{type(layer).__name__} output overflows {y.dtype} in step mode (largest finite value "
        f"{torch.finfo(y.dtype).max:.3g}): its state grows like rho^t with rho = {layer.spectral_radius():.6g}")


def _batch_size(batch) -> int:
    if isinstance(batch, bool) or not isinstance(batch, int) or batch < 1:
        raise ShapeError(f"a step-mode state is for batch >= 1 sequences, got {batch!r}")
    return batch


def _one_token(x_t) -> torch.Tensor:
    """``x_t: (batch, D)`` as a sequence of one token, for the layers' input checks."""
    if not isinstance(x_t, torch.Tensor) or x_t.dim() != 2:
        shape = tuple(x_t.shape) if isinstance(x_t, torch.Tensor) else type(x_t).__name__
        raise ShapeError(f"a step reads one token per sequence, shape (batch, channels), got {shape}")
    return x_t.unsqueeze(1)


def _all_finite(t: torch.Tensor) -> bool:
    """Every entry finite: one sum when they are (a NaN or an infinity makes it non-finite), a full
    check only when the sum is not (it may overflow on finite entries)."""
    return bool(torch.isfinite(t.sum())) or bool(torch.isfinite(t).all())


# ----------------------------------------------------------------------------- convolutions
def causal_conv_direct(x: torch.Tensor, k: torch.Tensor) -> torch.Tensor:
    """``y_t = sum_{s < K} k_s x_{t-s}`` per channel. ``x: (B, L, D)``, ``k: (D, K)``."""
    K = k.shape[-1]
    xc = F.pad(x.transpose(1, 2), (K - 1, 0))  # (B, D, L + K - 1)
    y = F.conv1d(xc, k.flip(-1).unsqueeze(1), groups=k.shape[0])
    return y.transpose(1, 2)


def causal_conv_fft(x: torch.Tensor, k: torch.Tensor) -> torch.Tensor:
    """Same as :func:`causal_conv_direct` in ``O(L log L)``: zero-padded to ``n >= L + K - 1``."""
    L, K = x.shape[1], k.shape[-1]
    n = 1 << max(0, (L + K - 2)).bit_length()
    X = torch.fft.rfft(x.transpose(1, 2), n=n)
    Kf = torch.fft.rfft(k, n=n)
    y = torch.fft.irfft(X * Kf, n=n)[..., :L]
    return y.transpose(1, 2)


# ----------------------------------------------------------------------------- builders
def fir(taps: torch.Tensor, lookahead: int = 0) -> ShiftSSM:
    """Any causal filter of length ``U`` (``taps: (D, U)``) as a nilpotent shift SSM."""
    return ShiftSSM(taps, lookahead=lookahead)


def shifts(amounts: Sequence[int], *, dtype=torch.float64, device=None) -> ShiftSSM:
    """Channel ``d`` outputs ``x_{t - amounts[d]}`` (0 = identity). Window ``max(amounts) + 1``."""
    if not amounts or min(amounts) < 0:
        raise ShapeError(f"shift amounts must be non-empty and non-negative, got {list(amounts)}")
    taps = torch.zeros(len(amounts), max(amounts) + 1, dtype=dtype, device=device)
    taps[torch.arange(len(amounts)), torch.as_tensor(amounts)] = 1
    return ShiftSSM(taps)


def accumulator(channels: int, lam: float | complex = 1.0, *, dtype=torch.float64, device=None) -> DiagonalSSM:
    """``y_t = sum_{s <= t} lam^s x_{t-s}`` on every channel (prefix sum for ``lam = 1``)."""
    ones = torch.ones(channels, 1, dtype=dtype, device=device)
    return DiagonalSSM(ones * lam, ones, ones.clone())
