"""Approximation of piecewise gamma-smooth targets: extraction, then the smooth part at level T.

**Claim** (``regression.approximation``; reconstructed, PAPER.md §7). For ``F(X) = f(phi_(1..J))``
with ``||f||_gamma <= 1``, an SSM+FNN of size ``poly(T) 2^(T / a_dagger)`` reaches ``L^2`` error
``<~ 2^(-T)``. The approximant measured here is

    F_T(X) = f_T( extraction network (quantize_b(X)) )

* the token features are quantized to ``b`` bits and the **built** extraction network
  (:mod:`.extraction`) returns the top-``J`` tokens exactly; ``b = T + ceil(log2(G sqrt(J d))) + 1``
  with ``G = ||grad f||_2`` makes the quantization error at most ``2^(-T-1)``;
* ``f_T`` keeps the blocks with ``gamma(s) <= T``: ``||f - f_T||_2 <= 2^(-T) ||f||_gamma``.

**Size** = the extraction network's parameters + the smooth part's ReLU network's nonzeros, both
measured from their tensors. The smooth part ``f_T`` is **built** as a ReLU FNN
(:mod:`.smooth_relu`: gated rotations, exact on the ``b``-bit grid up to float64 rounding) whose
nonzeros are ``O(F D b)`` for ``F <= 2^(D-1)`` times the ``2^(T / a_dagger)`` coefficients: poly(T)
``2^(T / a_dagger)``. The approximant evaluated is that network's output, and the trigonometric
form is kept beside it as the slow twin (their difference is recorded). Composed, the two are one
SSM+FNN whose post-FNN is the extraction rounds followed by the smooth network (depths add); they
are run apart here, since beyond 52 state bits the extraction runs in the exact rational twin.

**Error** is the root mean square of ``F - F_T`` over fresh windows (importances on the grid with
the margin, features continuous uniform), with the standard error of that estimate. The network
reads each window inside a sequence: windows are laid end to end in pairs, so half of them start
their sequence and half follow ``U`` tokens outside the window (a network whose window is longer
than ``U`` reads those and is caught). It runs in float64 while its ``Q r`` bits fit, otherwise in
the exact rational twin at the two positions that end a window.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import torch

from ..errors import ShapeError
from .extraction import build_extraction
from .piecewise import PiecewiseSmoothConfig, PiecewiseSmoothTarget, TokenGrid, continuous_margin_windows
from .smooth_functions import GammaSmoothConfig, GammaSmoothFunction, Smoothness
from .smooth_relu import build_smooth_network, realization_tolerance


@dataclass(frozen=True)
class ApproximationSetup:
    smoothness: Smoothness  # on J * d coordinates
    window: int = 4
    top: int = 2
    features: int = 1
    levels: int = 8  # importance levels Q
    function_level: float = 12.0  # the true f has every block with gamma(s) <= this
    norm: float = 1.0
    samples: int = 512
    seed: int = 0

    def target(self, feature_bits: int = 1) -> PiecewiseSmoothTarget:
        grid = TokenGrid(self.levels, feature_bits, self.features)
        smooth = GammaSmoothConfig(self.smoothness, self.function_level, self.norm, self.seed)
        return PiecewiseSmoothTarget.sample(PiecewiseSmoothConfig(self.window, self.top, grid, smooth))


def gradient_norm(f: GammaSmoothFunction) -> float:
    """``||grad f||_2 = 2 pi (sum_l c_l^2 |l|^2)^(1/2)`` (Parseval; each derivative maps psi_l to
    ``2 pi |l_i|`` times a unit basis function)."""
    return 2 * math.pi * float((f.coefficients**2 * (f.frequencies.to(torch.float64) ** 2).sum(-1)).sum().sqrt())


def feature_bits_for(level: float, f: GammaSmoothFunction, coordinates: int) -> int:
    """``b`` with ``G sqrt(J d) 2^-b <= 2^(-T-1)``: quantization costs at most half the budget."""
    return max(1, int(math.ceil(level + 1 + math.log2(max(gradient_norm(f) * math.sqrt(coordinates), 1e-300)))))


def sample_continuous_windows(setup: ApproximationSetup, n: int, generator: torch.Generator) -> torch.Tensor:
    """``n`` windows with grid importances satisfying the margin and continuous uniform features."""
    return continuous_margin_windows(setup.levels, setup.window, setup.top, setup.features, n, generator)


def windows_in_sequences(windows_: torch.Tensor) -> tuple[torch.Tensor, list[int]]:
    """The windows ``(n, U, 1+d)`` laid end to end in pairs, ``(n/2, 2U, 1+d)``, and the two
    positions ``U - 1`` and ``2U - 1`` where the network reads them: the first window of a pair
    starts its sequence, the second follows ``U`` tokens that lie outside it, which a network with
    a window longer than ``U`` would read. Output ``(n/2, 2, ...)`` reshaped to ``(n, ...)`` is in
    the windows' order."""
    n, U, width = windows_.shape
    if n % 2:
        raise ShapeError(f"windows are paired into sequences: need an even number, got {n}")
    return windows_.reshape(n // 2, 2 * U, width), [U - 1, 2 * U - 1]


def approximation_point(setup: ApproximationSetup, level: float, windows_: torch.Tensor,
                        target: PiecewiseSmoothTarget, build=build_extraction) -> dict:
    """Error and size of ``F_T`` at one level ``T`` on the given continuous windows, each read by the
    network inside a sequence (:func:`windows_in_sequences`). ``build(grid, window, top)`` builds the
    extraction network (a broken one, for a control)."""
    f = target.smooth
    coords = setup.top * setup.features
    bits = feature_bits_for(level, f, coords)
    grid = TokenGrid(setup.levels, bits, setup.features)
    extraction = build(grid, setup.window, setup.top)
    sequences, positions = windows_in_sequences(grid.quantize(windows_))
    extracted = extraction.extract(sequences, positions).reshape(windows_.shape[0], setup.top, grid.width)
    f_T = f.truncate(level)
    smooth = build_smooth_network(f_T, bits)
    features = extracted[..., 1:].reshape(extracted.shape[0], coords)
    approx = smooth(features)
    exact = target.of_windows(windows_)
    sq = (exact - approx) ** 2
    rmse = float(sq.mean().sqrt())
    stderr = float(sq.std() / (2 * max(rmse, 1e-300) * math.sqrt(sq.numel())))  # delta method
    from ..resources import fnn_resources, measure

    network_params = measure(extraction.network).parameters
    smooth_size = fnn_resources(smooth.fnn, "smooth")
    return {
        "T": level, "feature_bits": bits, "rmse": rmse, "rmse_stderr": stderr,
        "truncation_l2": f.l2_distance(f_T), "bound": 2.0 ** (-level) * (f.norm() + 0.5),
        "extraction_parameters": network_params, "coefficients": f_T.size,
        "frequency_pairs": int(smooth.form.frequencies.shape[0]),
        "smooth_parameters": smooth_size.nonzeros, "smooth_depth": smooth_size.depth, "smooth_width": smooth_size.width,
        "smooth_vs_trigonometric": float((approx - f_T(features)).abs().max()),
        "smooth_tolerance": realization_tolerance(smooth),
        "size": network_params + smooth_size.nonzeros, "float64": extraction.spec.float64_exact,
    }


def approximation_curve(setup: ApproximationSetup, levels, build=build_extraction) -> list[dict]:
    target = setup.target()
    windows_ = sample_continuous_windows(setup, setup.samples, torch.Generator().manual_seed(setup.seed + 1))
    return [approximation_point(setup, float(T), windows_, target, build) for T in levels]


def fitted_slopes(rows: list[dict]) -> dict:
    """Least squares: ``log2 rmse = e T + c`` and ``log2 size = s T + p log2 T + c``."""
    import numpy as np

    T = np.array([r["T"] for r in rows], dtype=float)
    err = np.log2([r["rmse"] for r in rows])
    size = np.log2([r["size"] for r in rows])
    e = float(np.polyfit(T, err, 1)[0])
    X = np.column_stack([T, np.log2(T), np.ones_like(T)])
    s = float(np.linalg.lstsq(X, size, rcond=None)[0][0])
    return {"error_slope": e, "size_slope": s}
