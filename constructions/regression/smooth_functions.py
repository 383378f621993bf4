"""gamma-smooth functions on ``[0,1]^d``: seeded generators with a controlled norm (PAPER.md §7).

**Definition** (Okumoto & Suzuki 2022; related). With the trigonometric basis on ``[0,1]``::

    psi_0(x) = 1,   psi_l(x) = sqrt(2) cos(2 pi l x)  (l > 0),   psi_l(x) = sqrt(2) sin(2 pi |l| x)  (l < 0)

(orthonormal in ``L^2[0,1]``) and ``psi_l(x) = prod_i psi_{l_i}(x_i)`` on ``[0,1]^d``, the frequency
block ``s in N^d`` holds the frequencies ``l`` with ``l_i = 0`` where ``s_i = 0`` and
``2^(s_i - 1) <= |l_i| < 2^(s_i)`` elsewhere: ``2^(s_1 + ... + s_d)`` of them. ``delta_s f`` is the part
of ``f`` on block ``s``, and (``p = theta = 2``)::

    ||f||_gamma = ( sum_s 2^(2 gamma(s)) ||delta_s f||_2^2 )^(1/2)

with ``gamma(s) = sum_i a_i s_i`` (mixed) or ``max_i a_i s_i`` (anisotropic). A generated function has
finitely many blocks (those with ``gamma(s) <= level``), and its norm is exactly ``config.norm``.

**Invariants** (property-tested in ``checks/test_regression_functions.py``): the basis is
orthonormal; ``||delta_s f||_2`` is the norm of the block's coefficients; the norm is the one asked
for; and truncation to the blocks with ``gamma(s) <= T`` leaves an ``L^2`` error of at most
``2^(-T) ||f||_gamma`` -- the approximation rate of ``regression.approximation`` -- since each block
dropped has ``2^(2 gamma(s)) > 2^(2T)``. The number of coefficients kept is
:func:`constructions.regression.rates.coefficient_count`'s ``2^(T / a_dagger)`` up to poly(T).

Evaluation is batched: per coordinate the basis values of every frequency used, then a product over
coordinates and a matrix product with the coefficients (inputs taken in chunks to bound memory).
"""

from __future__ import annotations

import itertools
import math
from dataclasses import dataclass, field

import torch

from ..errors import ShapeError
from .rates import KINDS

#: Inputs evaluated at once by :meth:`GammaSmoothFunction.__call__` (bounds its memory).
EVAL_CHUNK = 4096


@dataclass(frozen=True)
class Smoothness:
    """``gamma(s)`` of one kind with per-coordinate smoothness ``a = (a_1, ..., a_d)``, all ``> 0``."""

    kind: str
    a: tuple[float, ...]

    def __post_init__(self):
        if self.kind not in KINDS:
            raise ValueError(f"unknown smoothness kind {self.kind!r}; choose one of {KINDS}")
        if len(self.a) == 0 or not all(isinstance(x, (int, float)) and math.isfinite(x) and x > 0 for x in self.a):
            raise ValueError(f"smoothness needs finite positive a_i, got {self.a!r}")

    @property
    def dim(self) -> int:
        return len(self.a)

    @property
    def effective(self) -> float:
        """``a_dagger``: ``min a_i`` (mixed) or ``(sum 1/a_i)^(-1)`` (anisotropic)."""
        return min(self.a) if self.kind == "mixed" else 1.0 / sum(1.0 / x for x in self.a)

    def gamma(self, s: tuple[int, ...]) -> float:
        terms = [ai * si for ai, si in zip(self.a, s)]
        return sum(terms) if self.kind == "mixed" else max(terms)

    def blocks(self, level: float) -> list[tuple[int, ...]]:
        """Every block ``s`` with ``gamma(s) <= level``, in lexicographic order."""
        if not math.isfinite(level) or level < 0:
            raise ValueError(f"level must be finite and >= 0, got {level}")
        ranges = [range(int(math.floor(level / ai + 1e-12)) + 1) for ai in self.a]
        return [s for s in itertools.product(*ranges) if self.gamma(s) <= level + 1e-12]


def block_frequencies(s: tuple[int, ...]) -> torch.Tensor:
    """The ``2^(sum s_i)`` integer frequencies ``l`` of block ``s``: ``(count, d)``."""
    per_axis = []
    for si in s:
        if si < 0:
            raise ValueError(f"block indices must be >= 0, got {s}")
        if si == 0:
            per_axis.append([0])
        else:
            pos = list(range(2 ** (si - 1), 2**si))
            per_axis.append(pos + [-l for l in pos])
    return torch.tensor(list(itertools.product(*per_axis)), dtype=torch.long).reshape(-1, len(s))


def basis_1d(x: torch.Tensor, frequencies: torch.Tensor) -> torch.Tensor:
    """``psi_l(x)`` for every ``x`` (any shape) and frequency ``l`` (1-D): shape ``x.shape + (len(l),)``."""
    l = frequencies.to(x.dtype)
    angle = 2 * math.pi * x.unsqueeze(-1) * l.abs()
    root2 = math.sqrt(2.0)
    return torch.where(l == 0, torch.ones_like(angle), torch.where(l > 0, root2 * torch.cos(angle), root2 * torch.sin(angle)))


@dataclass(frozen=True)
class GammaSmoothConfig:
    """A random gamma-smooth function: blocks with ``gamma(s) <= level``, norm ``norm``, seed ``seed``.

    Block ``s`` gets coefficients in a uniformly random direction and an ``L^2`` size
    ``2^(-gamma(s)) u_s``, where the ``u_s > 0`` are random and rescaled so that ``||f||_gamma = norm``."""

    smoothness: Smoothness
    level: float
    norm: float = 1.0
    seed: int = 0

    def __post_init__(self):
        if not (math.isfinite(self.norm) and self.norm > 0):
            raise ValueError(f"norm must be finite and positive, got {self.norm}")
        if not (math.isfinite(self.level) and self.level >= 0):
            raise ValueError(f"level must be finite and >= 0, got {self.level}")


@dataclass
class GammaSmoothFunction:
    """``f(x) = sum_m c_m psi_{l_m}(x)``; ``frequencies (M, d)``, ``coefficients (M,)`` float64, and
    ``block_of (M,)`` the index into ``blocks`` of every coefficient."""

    smoothness: Smoothness
    blocks: list[tuple[int, ...]]
    frequencies: torch.Tensor
    coefficients: torch.Tensor
    block_of: torch.Tensor
    config: GammaSmoothConfig | None = field(default=None, repr=False)

    @property
    def dim(self) -> int:
        return self.smoothness.dim

    @property
    def size(self) -> int:
        """The number of coefficients (the size of the exact representation)."""
        return int(self.coefficients.numel())

    def block_gammas(self) -> torch.Tensor:
        return torch.tensor([self.smoothness.gamma(s) for s in self.blocks], dtype=torch.float64)

    def block_norms(self) -> torch.Tensor:
        """``||delta_s f||_2`` of every block (the coefficients' norm: the basis is orthonormal)."""
        sq = torch.zeros(len(self.blocks), dtype=torch.float64).index_add_(0, self.block_of, self.coefficients**2)
        return sq.sqrt()

    def norm(self) -> float:
        """``||f||_gamma`` (``p = theta = 2``)."""
        return float(((2.0 ** (2 * self.block_gammas())) * self.block_norms() ** 2).sum().sqrt())

    def l2_norm(self) -> float:
        return float(self.coefficients.norm())

    def truncate(self, level: float) -> "GammaSmoothFunction":
        """The blocks with ``gamma(s) <= level`` only: the level-``T`` approximant."""
        keep_blocks = [i for i, g in enumerate(self.block_gammas().tolist()) if g <= level + 1e-12]
        remap = torch.full((len(self.blocks),), -1, dtype=torch.long)
        remap[keep_blocks] = torch.arange(len(keep_blocks))
        keep = remap[self.block_of] >= 0
        return GammaSmoothFunction(self.smoothness, [self.blocks[i] for i in keep_blocks], self.frequencies[keep],
                                   self.coefficients[keep], remap[self.block_of[keep]], self.config)

    def l2_distance(self, other: "GammaSmoothFunction") -> float:
        """``||f - g||_2`` from the coefficients (Parseval): coefficients of equal frequencies are
        subtracted, the others count alone."""
        freqs = torch.cat([self.frequencies, other.frequencies.to(self.frequencies.device)])
        coefs = torch.cat([self.coefficients, -other.coefficients.to(self.coefficients.device)])
        low = freqs.min(dim=0).values if freqs.numel() else torch.zeros(freqs.shape[1], dtype=torch.long)
        base = int((freqs - low).max()) + 1 if freqs.numel() else 1
        if base ** freqs.shape[1] >= 2**62:
            raise ValueError(f"frequencies span too much to pair up ({base}^{freqs.shape[1]} keys)")
        keys = ((freqs - low) * base ** torch.arange(freqs.shape[1])).sum(dim=1)  # one integer per frequency
        unique, index = torch.unique(keys, return_inverse=True)
        difference = torch.zeros(unique.shape[0], dtype=torch.float64).index_add_(0, index, coefs)
        return float(difference.norm())

    def basis(self, x: torch.Tensor) -> torch.Tensor:
        """The basis values ``psi_l(x)`` of every frequency ``l`` of ``f``: ``x (n, d)`` -> ``(n, M)``
        float64 (the design matrix of a least-squares fit on these frequencies)."""
        freqs = self.frequencies.to(x.device)
        values = None
        for i in range(self.dim):
            used, index = torch.unique(freqs[:, i], return_inverse=True)
            factor = basis_1d(x[:, i].to(torch.float64), used).index_select(1, index)
            values = factor if values is None else values.mul_(factor)
        return values

    def __call__(self, x: torch.Tensor) -> torch.Tensor:
        """``f(x)`` for ``x: (..., d)`` in ``[0,1]^d``: shape ``(...)``, float64."""
        if not isinstance(x, torch.Tensor) or x.dim() < 1 or x.shape[-1] != self.dim:
            shape = tuple(x.shape) if isinstance(x, torch.Tensor) else type(x).__name__
            raise ShapeError(f"inputs must have shape (..., {self.dim}), got {shape}")
        flat = x.reshape(-1, self.dim).to(torch.float64)
        out = torch.empty(flat.shape[0], dtype=torch.float64, device=x.device)
        coef = self.coefficients.to(x.device)
        for start in range(0, flat.shape[0], EVAL_CHUNK):
            out[start:start + EVAL_CHUNK] = self.basis(flat[start:start + EVAL_CHUNK]) @ coef
        return out.reshape(x.shape[:-1])


def sample_gamma_smooth(config: GammaSmoothConfig) -> GammaSmoothFunction:
    """The function ``config`` describes (deterministic in ``config.seed``)."""
    smooth = config.smoothness
    blocks = smooth.blocks(config.level)
    g = torch.Generator().manual_seed(config.seed)
    freqs, coefs, owner = [], [], []
    u = torch.rand(len(blocks), generator=g, dtype=torch.float64) + 0.5
    u = u * (config.norm / u.norm())  # sum_s u_s^2 = norm^2, hence ||f||_gamma = norm
    for b, s in enumerate(blocks):
        l = block_frequencies(s)
        direction = torch.randn(l.shape[0], generator=g, dtype=torch.float64)
        direction = direction / direction.norm()
        freqs.append(l)
        coefs.append(direction * (2.0 ** (-smooth.gamma(s))) * u[b])
        owner.append(torch.full((l.shape[0],), b, dtype=torch.long))
    return GammaSmoothFunction(smooth, blocks, torch.cat(freqs), torch.cat(coefs), torch.cat(owner), config)
