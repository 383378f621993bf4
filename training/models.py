"""Trainable SSM+FNN networks and a small causal Transformer, for the paper's experiments.

Unlike ``constructions/`` (exact, frozen, hand-set weights) every weight here is learned.

Shape legend: inputs ``(batch, L, in_features)`` floats (``input="features"``) or ``(batch, L)``
token ids (``input="tokens"``); the stream inside ``(batch, L, width)``; an SSM kernel
``(width, L)``; outputs ``(batch, L, out_features)``.

**SSM+FNN** (:class:`SSMFNN`, the paper's model)::

    z = embed(inputs)                                  # Linear (features) or nn.Embedding (tokens)
    for each of the `layers` blocks:
        h = FNN(SSM(norm(z)))                          # norm = LayerNorm or identity
        z = z + h  if residual  else  h
    outputs = readout(final_norm(z))                   # Linear(width, out_features)

Each SSM layer is depthwise over the ``width`` channels: channel ``d`` runs, from ``h_{-1} = 0``,
``h_t = A_d h_{t-1} + B_d x_t``, ``y_t = C_d h_t + D_d x_t`` (state size ``N``), i.e. the causal
convolution ``y_t = sum_s K_s x_{t-s}`` with ``K_0 = C_d B_d + D_d`` and ``K_s = C_d A_d^s B_d``.
The forward pass materialises ``K`` for the sequence length and applies it by FFT convolution
(``torch.fft.rfft`` with ``n = 2L``: no wrap-around), differentiably, or, for sequences of at most
``DIRECT_CONV_MAX_LENGTH`` tokens, as a product with the ``L x L`` Toeplitz matrix (1.3-2.6x faster
there on one CPU thread, forward and backward); :meth:`SSMFNN.recurrence_forward`
is the slow, clear twin (a loop over time) that the tests compare it with.

* ``ssm_kind="diagonal"``: real ``A_d = diag(lambda_d)``, ``lambda = exp(-softplus(r))`` (or
  ``sigmoid(r)``), always in ``(0, 1)``: stable whatever ``r`` is. S4D-real initialisation:
  ``lambda_{d,n} = exp(-dt_d (n + 1))`` with ``dt_d`` log-uniform in ``[dt_min, dt_max]``,
  ``B = 1 - lambda`` (every state an average with gain 1), ``C ~ N(0, 1/N)``, ``D ~ N(0, 1)``.
* ``ssm_kind="dense"``: a general learnable ``N x N`` matrix per channel, initialised as
  ``Q diag(lambda) Q^T`` (a random rotation of the diagonal initialisation: the same, stable,
  spectrum). It is *not* constrained during training; the kernel is only materialised over the
  sequence length, so it stays finite, but an ``A`` that grows past spectral radius 1 will show as
  a diverging loss.

The token-wise FNN has ``fnn_depth`` hidden ReLU layers of width ``fnn_hidden``; ``fnn_depth=0``
is a single ``Linear(width, width)`` with no nonlinearity (the "SSM layers without FNN
nonlinearity" ablation).

**Transformer** (:class:`CausalTransformer`): the same input and output conventions, learned
positional embedding (``max_len`` positions), pre-LN blocks ``z = z + Attn(LN(z))``,
``z = z + MLP(LN(z))``, final LayerNorm, linear readout. Attention is a plain implementation with
a causal mask.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import torch
import torch.nn.functional as F
from torch import nn

from constructions.errors import ShapeError, SuiteError

INPUT_KINDS: tuple[str, ...] = ("features", "tokens")
SSM_KINDS: tuple[str, ...] = ("diagonal", "dense")
STABILITY: tuple[str, ...] = ("softplus", "sigmoid")


class ConfigError(SuiteError):
    """A model or training configuration is invalid; the message names the field and its value.

    A :class:`ValueError` (through :class:`constructions.errors.SuiteError`).
    """


# ----------------------------------------------------------------------------- validation
def require_int(name: str, value, minimum: int) -> None:
    """``value`` must be an ``int`` (not a ``bool``) that is ``>= minimum``."""
    if isinstance(value, bool) or not isinstance(value, int) or value < minimum:
        raise ConfigError(f"{name} must be an integer >= {minimum}, got {value!r}")


def require_option(name: str, value, options: tuple[str, ...]) -> None:
    if value not in options:
        raise ConfigError(f"unknown {name} {value!r}; choose one of {options}")


def _check_input_kind(config) -> None:
    require_option("input kind", config.input, INPUT_KINDS)
    if config.input == "features":
        require_int("in_features (input='features')", config.in_features, 1)
    else:
        require_int("vocab_size (input='tokens')", config.vocab_size, 1)


# ----------------------------------------------------------------------------- configs
@dataclass(frozen=True)
class SSMFNNConfig:
    """Architecture of an :class:`SSMFNN`; validated on construction (:class:`ConfigError`).

    ``input``: ``"features"`` (needs ``in_features``) or ``"tokens"`` (needs ``vocab_size``).
    ``width``: channels D. ``state_size``: N per channel. ``layers``: SSM+FNN blocks M.
    ``fnn_depth``: hidden ReLU layers per FNN (0 = linear map). ``fnn_hidden``: their width.
    ``ssm_kind``: ``"diagonal"`` or ``"dense"``. ``residual``: ``z + block(z)`` instead of
    ``block(z)``. ``layer_norm``: LayerNorm before each SSM and before the readout.
    ``stability``: the diagonal ``lambda`` map, ``"softplus"`` (``exp(-softplus(r))``) or
    ``"sigmoid"``. ``dt_min``, ``dt_max``: range of the S4D-real initialisation (module docstring);
    the default (S4D's) gives long memories, ``(0.1, 1.0)`` suits short sequences (L of about 10).
    """

    input: str = "features"
    in_features: int | None = None
    vocab_size: int | None = None
    width: int = 16
    state_size: int = 8
    layers: int = 2
    fnn_depth: int = 1
    fnn_hidden: int = 64
    ssm_kind: str = "diagonal"
    out_features: int = 1
    residual: bool = True
    layer_norm: bool = False
    stability: str = "softplus"
    dt_min: float = 1e-3
    dt_max: float = 1e-1

    def __post_init__(self):
        _check_input_kind(self)
        for name in ("width", "state_size", "layers", "fnn_hidden", "out_features"):
            require_int(name, getattr(self, name), 1)
        require_int("fnn_depth", self.fnn_depth, 0)
        require_option("ssm_kind", self.ssm_kind, SSM_KINDS)
        require_option("stability", self.stability, STABILITY)
        if not 0 < self.dt_min <= self.dt_max:
            raise ConfigError(f"need 0 < dt_min <= dt_max, got dt_min={self.dt_min!r}, dt_max={self.dt_max!r}")


@dataclass(frozen=True)
class TransformerConfig:
    """Architecture of a :class:`CausalTransformer`; validated on construction.

    ``input``/``in_features``/``vocab_size``/``out_features`` as in :class:`SSMFNNConfig`.
    ``width``: d_model, a multiple of ``heads``. ``mlp_hidden``: the MLP's hidden width.
    ``max_len``: positions of the learned positional embedding (longest sequence accepted).
    """

    input: str = "features"
    in_features: int | None = None
    vocab_size: int | None = None
    width: int = 32
    heads: int = 2
    layers: int = 2
    mlp_hidden: int = 128
    max_len: int = 256
    out_features: int = 1

    def __post_init__(self):
        _check_input_kind(self)
        for name in ("width", "heads", "layers", "mlp_hidden", "max_len", "out_features"):
            require_int(name, getattr(self, name), 1)
        if self.width % self.heads:
            raise ConfigError(f"width must be a multiple of heads, got width={self.width}, heads={self.heads}")


# ----------------------------------------------------------------------------- shared pieces
def input_embedding(config) -> nn.Module:
    """``Linear(in_features, width)`` for features, ``Embedding(vocab_size, width)`` for tokens."""
    if config.input == "features":
        return nn.Linear(config.in_features, config.width)
    return nn.Embedding(config.vocab_size, config.width)


def check_inputs(config, inputs: torch.Tensor) -> None:
    """Raise :class:`ShapeError` unless ``inputs`` fit the config's input kind."""
    if config.input == "features":
        if inputs.dim() != 3 or inputs.shape[-1] != config.in_features:
            raise ShapeError(f"features must have shape (batch, L, {config.in_features}), got {tuple(inputs.shape)}")
    elif inputs.dim() != 2 or inputs.dtype not in (torch.int32, torch.int64):
        raise ShapeError(f"tokens must be integer ids of shape (batch, L), got {inputs.dtype} {tuple(inputs.shape)}")


def embed(module: nn.Module, config, inputs: torch.Tensor) -> torch.Tensor:
    """Inputs -> ``(batch, L, width)``; features are cast to the embedding's dtype."""
    check_inputs(config, inputs)
    if config.input == "features":
        return module(inputs.to(module.weight.dtype))
    return module(inputs)


def count_parameters(model: nn.Module) -> int:
    """Number of trainable scalars (``requires_grad`` parameters) of ``model``."""
    return sum(p.numel() for p in model.parameters() if p.requires_grad)


# ----------------------------------------------------------------------------- SSM layers
def fft_causal_conv(x: torch.Tensor, kernel: torch.Tensor) -> torch.Tensor:
    """``y_t = sum_{s <= t} kernel[:, s] x_{t-s}`` per channel, by FFT with ``n = 2L``.

    ``x: (batch, L, D)``, ``kernel: (D, L)`` -> ``(batch, L, D)``. Half-precision inputs (autocast)
    are computed in float32 (``torch.fft`` does not take bfloat16).
    """
    L = x.shape[1]
    dtype = x.dtype if x.dtype in (torch.float32, torch.float64) else torch.float32
    X = torch.fft.rfft(x.transpose(1, 2).to(dtype), n=2 * L)  # (batch, D, L + 1)
    Kf = torch.fft.rfft(kernel.to(dtype), n=2 * L)  # (D, L + 1)
    return torch.fft.irfft(X * Kf, n=2 * L)[..., :L].transpose(1, 2)


#: up to this length the Toeplitz product beats the FFT (forward and backward, batch 256, 16 channels, one
#: CPU thread: 0.79 vs 1.0 ms at L = 3, 2.4 vs 4.8 ms at L = 32); at L = 64 it won at that shape (6.3 vs 11.8
#: ms) but tied with the FFT for the genomic model (batch 64, width 32), so the switch stays at 32
DIRECT_CONV_MAX_LENGTH = 32


def direct_causal_conv(x: torch.Tensor, kernel: torch.Tensor) -> torch.Tensor:
    """:func:`fft_causal_conv`'s map as a product with the Toeplitz matrix ``T[d, t, s] = kernel[d, t - s]``
    (zero for ``s > t``): ``O(L^2)`` per channel, for short sequences."""
    L = x.shape[1]
    dtype = x.dtype if x.dtype in (torch.float32, torch.float64) else torch.float32
    lag = torch.arange(L, device=x.device).unsqueeze(1) - torch.arange(L, device=x.device)  # t - s
    toeplitz = kernel.to(dtype)[:, lag.clamp(min=0)] * (lag >= 0)  # (D, L, L)
    return torch.einsum("dts,bsd->btd", toeplitz, x.to(dtype))


#: up to this many selected positions a block computes its SSM's outputs there only (Toeplitz rows,
#: ``O(P L D)``) instead of the whole convolution; beyond, the convolution and a selection
SELECTED_OUTPUTS_MAX = 8


def causal_conv(x: torch.Tensor, kernel: torch.Tensor) -> torch.Tensor:
    """The causal convolution by the faster path for the length (the two agree to rounding)."""
    return direct_causal_conv(x, kernel) if x.shape[1] <= DIRECT_CONV_MAX_LENGTH else fft_causal_conv(x, kernel)


class TrainableSSM(nn.Module):
    """Depthwise LTI layer with learnable ``B, C: (D, N)`` and skip ``D: (D,)``; subclasses give ``A``.

    ``forward`` (convolution with the materialised kernel) and ``recurrence`` (loop over time)
    compute the same map ``(batch, L, D) -> (batch, L, D)``.
    """

    def __init__(self, decay: torch.Tensor):  # decay: (D, N), -log of the initial eigenvalues, > 0
        super().__init__()
        D, N = decay.shape
        self.B = nn.Parameter(-torch.expm1(-decay))  # 1 - lambda
        self.C = nn.Parameter(torch.randn(D, N) / math.sqrt(N))
        self.skip = nn.Parameter(torch.randn(D))

    def state_kernel(self, length: int) -> torch.Tensor:
        """``A^s B`` for ``0 <= s < length``: ``(D, N, length)``."""
        raise NotImplementedError

    def transition(self, h: torch.Tensor) -> torch.Tensor:
        """``A h`` for states ``h: (batch, D, N)``."""
        raise NotImplementedError

    def kernel(self, length: int) -> torch.Tensor:
        """``K_s`` for ``0 <= s < length``, ``(D, length)``: ``C A^s B``, plus the skip at ``s = 0``."""
        K = torch.einsum("dn,dns->ds", self.C, self.state_kernel(length))
        return torch.cat([K[:, :1] + self.skip.unsqueeze(-1), K[:, 1:]], dim=-1)

    def forward(self, x: torch.Tensor) -> torch.Tensor:  # x: (batch, L, D)
        return causal_conv(x, self.kernel(x.shape[1]))

    def outputs_at(self, x: torch.Tensor, at: torch.Tensor) -> torch.Tensor:
        """``forward(x)[:, at]`` without the other outputs: ``y_p = sum_{s <= p} K_s x_{p-s}`` for the
        positions ``at: (P,)``, as ``P`` rows of the Toeplitz matrix, ``O(P L D)`` per sequence instead
        of a whole convolution (a step scored at the last position reads one output of the last layer)."""
        L = x.shape[1]
        lag = at.to(x.device).unsqueeze(1) - torch.arange(L, device=x.device)  # (P, L): p - s
        rows = self.kernel(L)[:, lag.clamp(min=0)] * (lag >= 0)  # (D, P, L)
        return torch.einsum("dps,bsd->bpd", rows.to(x.dtype), x)

    def initial_state(self, batch: int) -> torch.Tensor:
        """``h_{-1} = 0``: ``(batch, D, N)``."""
        return self.C.new_zeros(batch, *self.C.shape)

    def step(self, x_t: torch.Tensor, h: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        """One token: ``h_t = A h_{t-1} + B x_t``, ``y_t = C h_t + D x_t``; ``x_t: (batch, D)`` -> ``(y_t, h_t)``."""
        h = self.transition(h) + self.B * x_t.unsqueeze(-1)
        return (self.C * h).sum(-1) + self.skip * x_t, h

    def recurrence(self, x: torch.Tensor) -> torch.Tensor:
        """The reference: :meth:`step` over the tokens, one at a time."""
        h = self.initial_state(x.shape[0])
        ys = []
        for t in range(x.shape[1]):
            y, h = self.step(x[:, t, :], h)
            ys.append(y)
        return torch.stack(ys, dim=1)


def initial_decays(config: SSMFNNConfig) -> torch.Tensor:
    """S4D-real: ``-log lambda_{d,n} = dt_d (n + 1)``, ``dt_d`` log-uniform; ``(width, state_size)``.

    Returned as the decay ``-log lambda`` (not ``lambda``) so that fast decays do not underflow.
    """
    lo, hi = math.log(config.dt_min), math.log(config.dt_max)
    dt = torch.exp(lo + (hi - lo) * torch.rand(config.width, 1))
    return dt * torch.arange(1, config.state_size + 1)


class DiagonalTrainableSSM(TrainableSSM):
    """``A = diag(lambda)``, ``lambda = exp(-softplus(r))`` or ``sigmoid(r)`` in ``(0, 1)``; ``r: (D, N)``."""

    def __init__(self, decay: torch.Tensor, stability: str = "softplus"):
        super().__init__(decay)
        require_option("stability", stability, STABILITY)
        self.stability = stability
        log_expm1 = decay + torch.log(-torch.expm1(-decay))  # log(e^a - 1), stable for large a
        self.raw = nn.Parameter(log_expm1 if stability == "softplus" else -log_expm1)  # inverse of the map

    def log_lambda(self) -> torch.Tensor:
        """``log lambda``, ``(D, N)``, computed without forming ``lambda`` (exact, stable)."""
        return -F.softplus(self.raw) if self.stability == "softplus" else F.logsigmoid(self.raw)

    def state_kernel(self, length):
        s = torch.arange(length, device=self.raw.device, dtype=self.raw.dtype)
        return torch.exp(self.log_lambda().unsqueeze(-1) * s) * self.B.unsqueeze(-1)

    def transition(self, h):
        return torch.exp(self.log_lambda()) * h


class DenseTrainableSSM(TrainableSSM):
    """A general ``A: (D, N, N)`` per channel, initialised as ``Q diag(lambda) Q^T``; unconstrained."""

    def __init__(self, decay: torch.Tensor):
        super().__init__(decay)
        Q, _ = torch.linalg.qr(torch.randn(*decay.shape, decay.shape[1]))  # (D, N, N) orthogonal
        self.A = nn.Parameter(Q @ torch.diag_embed(torch.exp(-decay)) @ Q.transpose(1, 2))

    def state_kernel(self, length):
        columns, A_pow = self.B.unsqueeze(-1), self.A  # (D, N, 1), A^1
        while columns.shape[-1] < length:  # columns = A^0 B .. A^(k-1) B and A_pow = A^k:
            columns = torch.cat([columns, A_pow @ columns], dim=-1)  # append A^k B .. A^(2k-1) B
            A_pow = A_pow @ A_pow
        return columns[..., :length]

    def transition(self, h):
        return torch.einsum("dnm,bdm->bdn", self.A, h)


def make_ssm(config: SSMFNNConfig) -> TrainableSSM:
    decay = initial_decays(config)
    if config.ssm_kind == "diagonal":
        return DiagonalTrainableSSM(decay, config.stability)
    return DenseTrainableSSM(decay)


def make_fnn(width: int, hidden: int, depth: int) -> nn.Sequential:
    """Token-wise ``width -> width`` network with ``depth`` hidden ReLU layers (0: one Linear)."""
    if depth == 0:
        return nn.Sequential(nn.Linear(width, width))
    layers: list[nn.Module] = [nn.Linear(width, hidden), nn.ReLU()]
    for _ in range(depth - 1):
        layers += [nn.Linear(hidden, hidden), nn.ReLU()]
    return nn.Sequential(*layers, nn.Linear(hidden, width))


# ----------------------------------------------------------------------------- SSM+FNN
class SSMFNNBlock(nn.Module):
    """``z -> [z +] FNN(SSM(norm(z)))``, ``(batch, L, width) -> (batch, L, width)``."""

    def __init__(self, config: SSMFNNConfig):
        super().__init__()
        self.norm = nn.LayerNorm(config.width) if config.layer_norm else nn.Identity()
        self.ssm = make_ssm(config)
        self.fnn = make_fnn(config.width, config.fnn_hidden, config.fnn_depth)
        self.residual = config.residual

    def forward(self, z: torch.Tensor, recurrent: bool = False, at: torch.Tensor | None = None) -> torch.Tensor:
        """``at``: only the tokens at these positions leave the block (the SSM reads every token; for a few
        positions it computes its outputs there only, :meth:`TrainableSSM.outputs_at`; the token-wise FNN
        runs on the selected ones)."""
        h = self.norm(z)
        if at is not None and not recurrent and len(at) <= SELECTED_OUTPUTS_MAX:
            h = self.ssm.outputs_at(h, at)
        else:
            h = self.ssm.recurrence(h) if recurrent else self.ssm(h)
            h = h if at is None else h[:, at]
        if at is not None:
            z = z[:, at]
        h = self.fnn(h)
        return z + h if self.residual else h

    def step(self, z_t: torch.Tensor, h: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        """One token ``z_t: (batch, width)`` through the block, the SSM state ``h`` carried."""
        y, h = self.ssm.step(self.norm(z_t), h)
        y = self.fnn(y)
        return (z_t + y if self.residual else y), h


class SSMFNN(nn.Module):
    """The paper's SSM+FNN network, trainable. ``inputs -> (batch, L, out_features)``, causal.

    Parameters are created in float32 on the CPU from torch's global RNG (seed it with
    :func:`training.trainer.set_seed`); move or cast with ``.to(...)`` as usual.
    """

    def __init__(self, config: SSMFNNConfig):
        super().__init__()
        self.config = config
        self.embed = input_embedding(config)
        self.blocks = nn.ModuleList(SSMFNNBlock(config) for _ in range(config.layers))
        self.final_norm = nn.LayerNorm(config.width) if config.layer_norm else nn.Identity()
        self.readout = nn.Linear(config.width, config.out_features)

    #: :meth:`forward` takes ``at`` (the trainer's ``columns``, :class:`~training.trainer.TrainConfig`)
    selects_positions = True

    def _run(self, inputs: torch.Tensor, recurrent: bool, at: torch.Tensor | None = None) -> torch.Tensor:
        z = embed(self.embed, self.config, inputs)  # (batch, L, width)
        last = len(self.blocks) - 1
        for i, block in enumerate(self.blocks):
            z = block(z, recurrent, at if i == last else None)
        return self.readout(self.final_norm(z))  # (batch, L, out_features)

    def forward(self, inputs: torch.Tensor, at: torch.Tensor | None = None) -> torch.Tensor:
        """The fast path: every SSM layer by FFT convolution with its materialised kernel. ``at``:
        positions ``(P,)``; then only the outputs there, ``(batch, P, out_features)``, equal to
        ``forward(inputs)[:, at]`` (the last block's token-wise FNN and the readout run at those
        tokens only: a training step scored at a few answer positions skips the rest)."""
        return self._run(inputs, recurrent=False, at=at)

    def recurrence_forward(self, inputs: torch.Tensor) -> torch.Tensor:
        """The slow reference (loop over time in every SSM layer); for tests only."""
        return self._run(inputs, recurrent=True)

    def initial_state(self, batch: int) -> tuple[torch.Tensor, ...]:
        """The step mode's state before the first token: every block's SSM state, zero."""
        return tuple(block.ssm.initial_state(batch) for block in self.blocks)

    def step(self, inputs_t: torch.Tensor, state: tuple[torch.Tensor, ...]) -> tuple[torch.Tensor, tuple]:
        """Step (recurrent) mode: one token per sequence, ``inputs_t: (batch,)`` token ids (or
        ``(batch, in_features)``), and the state after the previous tokens -> ``(outputs_t (batch,
        out_features), state)``. ``O(1)`` work per token in the sequence length; feeding a sequence
        token by token gives :meth:`forward`'s outputs (tests/test_training.py). The FNNs act token-wise."""
        z = embed(self.embed, self.config, inputs_t.unsqueeze(1))[:, 0]  # (batch, width)
        hs = []
        for block, h in zip(self.blocks, state):
            z, h = block.step(z, h)
            hs.append(h)
        return self.readout(self.final_norm(z)), tuple(hs)

    def kernels(self, length: int) -> list[torch.Tensor]:
        """Each block's SSM kernel ``(width, length)`` (skip included), detached; for inspection."""
        return [block.ssm.kernel(length).detach() for block in self.blocks]


# ----------------------------------------------------------------------------- Transformer
class CausalSelfAttention(nn.Module):
    """Multi-head softmax attention over positions ``s <= t``; ``(batch, L, width)`` both ways."""

    def __init__(self, width: int, heads: int):
        super().__init__()
        self.heads = heads
        self.qkv = nn.Linear(width, 3 * width)
        self.out = nn.Linear(width, width)

    def forward(self, x: torch.Tensor, at: torch.Tensor | None = None) -> torch.Tensor:
        """``at``: positions ``(P,)`` whose outputs are wanted (queries there only, keys everywhere)."""
        batch, L, W = x.shape
        dh = W // self.heads
        q, k, v = self.qkv(x).view(batch, L, 3, self.heads, dh).permute(2, 0, 3, 1, 4)  # (batch, H, L, dh)
        rows = torch.arange(L, device=x.device) if at is None else at
        if at is not None:
            q = q[:, :, at]
        scores = q @ k.transpose(-1, -2) / math.sqrt(dh)  # (batch, H, P, L)
        future = torch.arange(L, device=x.device).unsqueeze(0) > rows.unsqueeze(1)
        weights = torch.softmax(scores.masked_fill(future, float("-inf")), dim=-1)
        y = (weights.to(v.dtype) @ v).transpose(1, 2).reshape(batch, len(rows), W)
        return self.out(y)


class TransformerBlock(nn.Module):
    """Pre-LN: ``z = z + Attn(LN(z))``, then ``z = z + MLP(LN(z))`` (one ReLU hidden layer)."""

    def __init__(self, config: TransformerConfig):
        super().__init__()
        self.norm1 = nn.LayerNorm(config.width)
        self.attn = CausalSelfAttention(config.width, config.heads)
        self.norm2 = nn.LayerNorm(config.width)
        self.mlp = make_fnn(config.width, config.mlp_hidden, 1)

    def forward(self, z: torch.Tensor, at: torch.Tensor | None = None) -> torch.Tensor:
        """``at``: only the tokens at these positions leave the block (attention reads every token)."""
        z = (z if at is None else z[:, at]) + self.attn(self.norm1(z), at)
        return z + self.mlp(self.norm2(z))


class CausalTransformer(nn.Module):
    """Small pre-LN causal Transformer. ``inputs -> (batch, L, out_features)``, ``L <= max_len``."""

    def __init__(self, config: TransformerConfig):
        super().__init__()
        self.config = config
        self.embed = input_embedding(config)
        self.position = nn.Embedding(config.max_len, config.width)
        self.blocks = nn.ModuleList(TransformerBlock(config) for _ in range(config.layers))
        self.final_norm = nn.LayerNorm(config.width)
        self.readout = nn.Linear(config.width, config.out_features)

    #: :meth:`forward` takes ``at`` (the trainer's ``columns``, :class:`~training.trainer.TrainConfig`)
    selects_positions = True

    def forward(self, inputs: torch.Tensor, at: torch.Tensor | None = None) -> torch.Tensor:
        """``at``: positions ``(P,)``; then only the outputs there, ``(batch, P, out_features)``, equal to
        ``forward(inputs)[:, at]`` (the last block's queries, MLP and the readout at those tokens only)."""
        L = inputs.shape[1]
        if L > self.config.max_len:
            raise ShapeError(f"sequence length {L} exceeds the Transformer's max_len {self.config.max_len}")
        z = embed(self.embed, self.config, inputs)
        z = z + self.position(torch.arange(L, device=z.device))  # (batch, L, width)
        last = len(self.blocks) - 1
        for i, block in enumerate(self.blocks):
            z = block(z, at if i == last else None)
        return self.readout(self.final_norm(z))


# ----------------------------------------------------------------------------- sizes
def _embedding_count(config) -> int:
    if config.input == "features":
        return config.in_features * config.width + config.width
    return config.vocab_size * config.width


def _fnn_count(width: int, hidden: int, depth: int) -> int:
    if depth == 0:
        return width * width + width
    return (width + 1) * hidden + (depth - 1) * (hidden + 1) * hidden + (hidden + 1) * width


def ssm_fnn_parameter_count(config: SSMFNNConfig) -> int:
    """Closed form of ``count_parameters(SSMFNN(config))`` (checked against it in the tests)."""
    D, N = config.width, config.state_size
    a = D * N if config.ssm_kind == "diagonal" else D * N * N
    norms = 2 * D * (config.layers + 1) if config.layer_norm else 0
    block = a + 2 * D * N + D + _fnn_count(D, config.fnn_hidden, config.fnn_depth)
    return _embedding_count(config) + config.layers * block + norms + (D + 1) * config.out_features


def transformer_parameter_count(config: TransformerConfig) -> int:
    """Closed form of ``count_parameters(CausalTransformer(config))``."""
    W = config.width
    block = 4 * W + (3 * W * W + 3 * W) + (W * W + W) + _fnn_count(W, config.mlp_hidden, 1)
    return (_embedding_count(config) + config.max_len * W + config.layers * block + 2 * W
            + (W + 1) * config.out_features)


def matched_transformer_config(ssm_config: SSMFNNConfig, *, max_len: int, heads: int = 2,
                               layers: int | None = None, mlp_ratio: int = 4,
                               tolerance: float = 0.25) -> TransformerConfig:
    """A Transformer with about as many parameters as ``SSMFNN(ssm_config)``.

    Rule: same input kind, ``in_features``/``vocab_size`` and ``out_features``; ``layers`` as the
    SSM+FNN unless given; ``mlp_hidden = mlp_ratio * width``; ``width`` is the multiple of
    ``heads`` whose parameter count (positional embedding of ``max_len`` included) is closest to
    the SSM+FNN's, ties to the smaller. Raises :class:`ConfigError` when even that count differs
    by more than ``tolerance`` (relative to the SSM+FNN's) -- e.g. a tiny SSM+FNN and many heads.
    """
    target = ssm_fnn_parameter_count(ssm_config)

    def config(width: int) -> TransformerConfig:
        return TransformerConfig(input=ssm_config.input, in_features=ssm_config.in_features,
                                 vocab_size=ssm_config.vocab_size, width=width, heads=heads,
                                 layers=ssm_config.layers if layers is None else layers,
                                 mlp_hidden=mlp_ratio * width, max_len=max_len,
                                 out_features=ssm_config.out_features)

    below = config(heads)  # counts grow with the width: walk up until the target is passed
    while transformer_parameter_count(above := config(below.width + heads)) < target:
        below = above
    best = min((below, above), key=lambda c: abs(transformer_parameter_count(c) - target))
    gap = abs(transformer_parameter_count(best) - target) / target
    if gap > tolerance:
        raise ConfigError(f"no Transformer width within {tolerance:.0%} of the SSM+FNN's {target} parameters "
                          f"(closest: width {best.width}, {transformer_parameter_count(best)}); "
                          f"try fewer heads, layers or a shorter max_len")
    return best
