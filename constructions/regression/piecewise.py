"""Piecewise gamma-smooth sequence targets: a smooth function of the top-J tokens by importance.

**Setting** (Takakura & Suzuki 2023, as read in PAPER.md §7; our reconstruction). A token is
``x = (mu, phi) in [0,1]^(1+d)``: its *importance* ``mu`` (the importance function is the first
coordinate) and its *features* ``phi``. At position ``t`` the window ``[t-U+1, t]`` is re-ordered by
importance and the target is a gamma-smooth function of the features of its ``J`` most important
tokens::

    F(X)_t = f(phi_(1), ..., phi_(J)),     mu_(1) > mu_(2) > ... > mu_(J) > every other mu in the window

so *which* tokens matter changes with the input: the function is smooth only piecewise, on the
regions where the ordering is fixed. ``f`` is a :class:`~.smooth_functions.GammaSmoothFunction` on
``[0,1]^(J d)``.

**Grid and margin.** Tokens are dyadic (so float64 holds them exactly): ``mu = q / Q`` for an
importance level ``q in {0..Q-1}`` (``Q`` a power of two) and ``phi_i = m_i / 2^b`` for ``b``-bit
integers ``m_i``. The **margin** is the paper's separation of importances, on this grid: the top
``J`` levels of a window are distinct and above every other level, so consecutive top importances
differ by at least ``1/Q``. Lower tokens may share levels. :func:`margin_mask` says where it holds.

Everything is batched: windows are ``(n, U, 1+d)`` tensors; sequences ``(batch, L, 1+d)``.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import torch

from ..errors import ShapeError
from .smooth_functions import GammaSmoothConfig, GammaSmoothFunction, Smoothness, sample_gamma_smooth


@dataclass(frozen=True)
class TokenGrid:
    """Dyadic tokens ``(q / Q, m / 2^b)`` with ``features`` value coordinates."""

    levels: int  # Q, a power of two
    feature_bits: int  # b
    features: int  # d

    def __post_init__(self):
        if self.levels < 2 or self.levels & (self.levels - 1):
            raise ValueError(f"importance levels must be a power of two >= 2 (dyadic grid), got {self.levels}")
        if not 1 <= self.feature_bits <= 20:
            raise ValueError(f"feature bits must be in 1..20, got {self.feature_bits}")
        if self.features < 1:
            raise ValueError(f"need at least one feature coordinate, got {self.features}")

    @property
    def width(self) -> int:
        return 1 + self.features

    @property
    def margin(self) -> float:
        """The smallest gap between distinct importances: ``1/Q``."""
        return 1.0 / self.levels

    @property
    def resolution(self) -> float:
        """The feature grid step ``2^-b`` (the quantization error of a continuous feature is half of it)."""
        return 2.0 ** -self.feature_bits

    def tokens(self, levels: torch.Tensor, digits: torch.Tensor) -> torch.Tensor:
        """Tokens from integer levels ``(...)`` and digits ``(..., d)``: ``(..., 1+d)`` float64."""
        if digits.shape[-1] != self.features or digits.shape[:-1] != levels.shape:
            raise ShapeError(f"levels {tuple(levels.shape)} and digits {tuple(digits.shape)} do not fit {self.features} features")
        if bool(((levels < 0) | (levels >= self.levels)).any()) or bool(((digits < 0) | (digits >= 2**self.feature_bits)).any()):
            raise ValueError("token levels or digits out of range")
        return torch.cat([levels.unsqueeze(-1) / self.levels, digits * self.resolution], dim=-1).to(torch.float64)

    def split(self, tokens: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        """Integer ``(levels, digits)`` of grid tokens; raises on tokens off the grid."""
        if tokens.shape[-1] != self.width:
            raise ShapeError(f"tokens must have {self.width} coordinates, got shape {tuple(tokens.shape)}")
        q = tokens[..., 0] * self.levels
        m = tokens[..., 1:] * 2**self.feature_bits
        if not (bool((q == q.round()).all()) and bool((m == m.round()).all())):
            raise ValueError("tokens are not on the dyadic grid")
        q, m = q.round().long(), m.round().long()
        if bool(((q < 0) | (q >= self.levels)).any()) or bool(((m < 0) | (m >= 2**self.feature_bits)).any()):
            raise ValueError("token levels or digits out of range")
        return q, m

    def quantize(self, x: torch.Tensor) -> torch.Tensor:
        """Continuous tokens in ``[0,1]^(1+d)`` rounded down onto the grid."""
        q = (x[..., 0] * self.levels).floor().clamp(0, self.levels - 1)
        m = (x[..., 1:] * 2**self.feature_bits).floor().clamp(0, 2**self.feature_bits - 1)
        return torch.cat([q.unsqueeze(-1) / self.levels, m * self.resolution], dim=-1).to(torch.float64)


def random_tokens(grid: TokenGrid, shape: tuple[int, ...], generator: torch.Generator) -> torch.Tensor:
    """I.i.d. uniform grid tokens: ``shape + (1+d,)``."""
    q = torch.randint(grid.levels, shape, generator=generator)
    m = torch.randint(2**grid.feature_bits, shape + (grid.features,), generator=generator)
    return grid.tokens(q, m)


def windows(tokens: torch.Tensor, window: int) -> torch.Tensor:
    """The window ending at each position, left-padded with importance ``-1`` tokens (never in the
    top): ``(batch, L, U, width)``; entry ``u`` is position ``t - U + 1 + u``."""
    B, L, W = tokens.shape
    pad = torch.zeros(B, window - 1, W, dtype=tokens.dtype, device=tokens.device)
    pad[..., 0] = -1.0
    return torch.cat([pad, tokens], dim=1).unfold(1, window, 1).permute(0, 1, 3, 2)


def top_tokens(win: torch.Tensor, top: int) -> tuple[torch.Tensor, torch.Tensor]:
    """Reference re-ordering (sort, the slow clear twin of the extraction network): the ``top`` most
    important tokens of each window ``(..., U, width)`` -> ``(..., top, width)``, and the margin mask
    ``(...)``: the top levels are distinct and above all others, and are real tokens."""
    mu = win[..., 0]
    order = torch.sort(mu, dim=-1, descending=True, stable=True)
    sorted_tokens = torch.gather(win, -2, order.indices.unsqueeze(-1).expand(*order.indices.shape, win.shape[-1]))
    ranked = order.values
    k = min(top + 1, ranked.shape[-1])
    strictly = (ranked[..., : k - 1] > ranked[..., 1:k]).all(dim=-1)
    real = ranked[..., top - 1] >= 0
    return sorted_tokens[..., :top, :], strictly & real


def margin_mask(tokens: torch.Tensor, window: int, top: int) -> torch.Tensor:
    """``(batch, L)``: where the window ending at ``t`` satisfies the margin for ``top`` tokens."""
    return top_tokens(windows(tokens, window), top)[1]


@dataclass(frozen=True)
class PiecewiseSmoothConfig:
    """``F(X) = f(phi_(1..J))`` on windows of ``U`` grid tokens; ``f`` has smoothness on ``J d`` coordinates
    (coordinate ``(j, i)`` is feature ``i`` of the ``j``-th most important token)."""

    window: int
    top: int
    grid: TokenGrid
    smooth: GammaSmoothConfig

    def __post_init__(self):
        if self.window < 1 or not 1 <= self.top <= self.window:
            raise ValueError(f"need 1 <= top <= window, got top={self.top}, window={self.window}")
        if self.smooth.smoothness.dim != self.top * self.grid.features:
            raise ValueError(f"the smooth part acts on top x features = {self.top * self.grid.features} "
                             f"coordinates, its smoothness has {self.smooth.smoothness.dim}")
        if self.top >= self.grid.levels:
            raise ValueError(f"the margin needs more importance levels ({self.grid.levels}) than top tokens ({self.top})")


@dataclass
class PiecewiseSmoothTarget:
    config: PiecewiseSmoothConfig
    smooth: GammaSmoothFunction

    @classmethod
    def sample(cls, config: PiecewiseSmoothConfig) -> "PiecewiseSmoothTarget":
        return cls(config, sample_gamma_smooth(config.smooth))

    def of_windows(self, win: torch.Tensor) -> torch.Tensor:
        """``F`` on windows ``(n, U, 1+d)`` that satisfy the margin: ``(n,)``; raises otherwise."""
        top, ok = top_tokens(win, self.config.top)
        if not bool(ok.all()):
            raise ValueError(f"{int((~ok).sum())} windows violate the importance margin")
        return self.smooth(top[..., 1:].reshape(*top.shape[:-2], -1))

    def sample_windows(self, n: int, generator: torch.Generator) -> tuple[torch.Tensor, torch.Tensor]:
        """``n`` i.i.d. windows drawn uniformly from those that satisfy the margin (by rejection), and
        their targets: ``(n, U, 1+d)``, ``(n,)``."""
        cfg = self.config
        win = sample_margin_windows(lambda count: random_tokens(cfg.grid, (count, cfg.window), generator), n, cfg.top)
        return win, self.of_windows(win)


def sample_margin_windows(draw, n: int, top: int) -> torch.Tensor:
    """``n`` windows from ``draw(count) -> (count, U, width)``, keeping those where the margin for
    ``top`` tokens holds (rejection sampling: uniform over the margin windows of ``draw``'s law)."""
    out, have = [], 0
    while have < n:
        win = draw(max(2 * (n - have), 64))
        keep = top_tokens(win, top)[1]
        out.append(win[keep])
        have += int(keep.sum())
    return torch.cat(out)[:n]


def continuous_margin_windows(levels: int, window: int, top: int, features: int, n: int,
                              generator: torch.Generator) -> torch.Tensor:
    """``n`` windows with importances on the grid ``q / Q`` satisfying the margin and continuous
    uniform features: ``(n, U, 1+d)`` float64 (the regression experiments' inputs)."""
    def draw(count):
        q = torch.randint(levels, (count, window), generator=generator)
        phi = torch.rand(count, window, features, generator=generator, dtype=torch.float64)
        return torch.cat([(q / levels).unsqueeze(-1).to(torch.float64), phi], dim=-1)

    return sample_margin_windows(draw, n, top)


def margin_probability_floor(grid: TokenGrid, window: int, top: int) -> float:
    """A lower bound on the share of i.i.d. windows that satisfy the margin (all ``U`` levels distinct
    suffices): ``prod_{u<U} (1 - u/Q)``; the sampler's expected cost is at most its inverse."""
    if window > grid.levels:
        return 0.0
    return math.prod(1 - u / grid.levels for u in range(window))


def smoothness_for(top: int, features: int, kind: str, a: float | tuple[float, ...]) -> Smoothness:
    """The same smoothness ``a`` on every coordinate (a number) or per coordinate (a tuple)."""
    coords = top * features
    a = (float(a),) * coords if isinstance(a, (int, float)) else tuple(a)
    return Smoothness(kind, a)


def check_learning_curve(sample_sizes: tuple[int, ...], smoothness: Smoothness, top: int) -> None:
    """A learning-curve experiment needs two sample sizes ``>= 2`` and a smooth part on the ``top``
    features (one per top token); raises :class:`ValueError` naming what is wrong."""
    if len(sample_sizes) < 2 or min(sample_sizes) < 2:
        raise ValueError(f"need at least two sample sizes >= 2, got {sample_sizes}")
    if smoothness.dim != top:
        raise ValueError(f"the smooth part acts on {top} features (one per top token); "
                         f"the smoothness has {smoothness.dim} coordinates")
