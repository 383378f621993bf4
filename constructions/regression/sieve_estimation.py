"""The theory's estimator, run: built top-J extraction + least squares at the balancing level.

**Claim** (``regression.estimation-sieve``; reconstructed, PAPER.md §7). The rate
``n^(-2 a_dagger / (2 a_dagger + 1))`` of the paper comes from an estimator whose network first
extracts the important tokens (Lemma 5.1) and then fits the smooth part in a class of size about
``2^(T / a_dagger)``, with ``T`` balancing the approximation error ``2^(-2T)`` against the
estimation term ``sigma^2 2^(T / a_dagger) / n`` (:func:`constructions.regression.rates.balanced_level`).
This module runs exactly that estimator, so that its rate is *measured* rather than assumed:

    F_hat_n(X) = sum_{gamma(s) <= T(n)} c_hat_l psi_l( extraction network (quantize_b(X)) )

* the **built** extraction network (:mod:`.extraction`, exact under the margin) returns the top-J
  tokens of the window, sorted by importance; its feature digits (``b`` bits) are the coordinates;
* ``psi_l`` are the trigonometric basis functions of the blocks with ``gamma(s) <= T(n)``
  (:meth:`~.smooth_functions.GammaSmoothFunction.basis`), ``T(n) = a/(2a+1) log2(n / sigma^2)``
  (the balancing level with noise variance ``sigma^2``);
* the coefficients ``c_hat`` are the least-squares fit to ``n`` noisy samples ``F(X_i) + sigma eps_i``.

**Measured**: the excess risk ``E (F_hat_n(X) - F(X))^2`` on fresh windows (continuous features;
``F`` is the true target, not its quantization), for several ``n`` and seeds, and the log-log slope
with a Student-t 95% interval (:func:`training.regression_estimation.fit_slope`).

**Front ends** (``SieveSetup.front_end``): ``"extraction"`` (the network above) or
``"last-tokens"`` -- the control, which feeds the *last* J tokens of the window instead of the most
important ones: a fixed, input-independent selection cannot represent ``F``, its risk stays at a
floor and its slope is flat. ``fixed_level`` pins ``T`` (no balancing), for the second control.

What this does *not* show: that SGD-trained networks find this estimator (that is
``regression.estimation-slope``). The fit is made in coefficient form; the fitted trigonometric
polynomial is of the kind :mod:`.smooth_relu` builds as a ReLU network, exactly on the grid
(checked in ``regression.approximation``), so the estimator is an SSM+FNN.
"""

from __future__ import annotations

import functools
import math
from dataclasses import dataclass, replace

import torch

from claims.statistics import fit_log_slope, mean_by_size, power_line, slope_verdict

from ..threads import single_threaded
from .approximation import feature_bits_for
from .extraction import build_extraction
from .piecewise import (
    PiecewiseSmoothConfig,
    PiecewiseSmoothTarget,
    TokenGrid,
    check_learning_curve,
    continuous_margin_windows,
)
from .smooth_functions import GammaSmoothConfig, GammaSmoothFunction, Smoothness

FRONT_ENDS: tuple[str, ...] = ("extraction", "last-tokens")


@dataclass(frozen=True)
class SieveSetup:
    """One estimation experiment. ``smoothness`` acts on the ``top`` features (one per top token);
    the true ``f`` has every block up to ``function_level`` (far above any fitted level, so the
    target is not in any fitted class) and norm ``norm``; ``noise`` is ``sigma``."""

    sample_sizes: tuple[int, ...]
    seeds: tuple[int, ...] = (0, 1, 2)
    smoothness: Smoothness = Smoothness("mixed", (1.0, 1.0))  # a_dagger = 1: exponent 2/3
    window: int = 4
    top: int = 2
    levels: int = 4  # importance levels Q (Q r <= 52 bits keeps the network exact in float64)
    function_level: float = 7.0
    norm: float = 1.0
    noise: float = 0.5
    test_samples: int = 4096
    front_end: str = "extraction"
    fixed_level: float | None = None
    target_seed: int = 0

    def __post_init__(self):
        check_learning_curve(self.sample_sizes, self.smoothness, self.top)
        if self.front_end not in FRONT_ENDS:
            raise ValueError(f"unknown front end {self.front_end!r}; choose one of {FRONT_ENDS}")
        if not (math.isfinite(self.noise) and self.noise > 0):
            raise ValueError(f"noise must be finite and positive, got {self.noise}")

    @property
    def exponent(self) -> float:
        a = self.smoothness.effective
        return 2 * a / (2 * a + 1)

    def level(self, n: int) -> float:
        """``T(n) = a/(2a+1) log2(n / sigma^2)`` (or ``fixed_level``), at least 0."""
        if self.fixed_level is not None:
            return self.fixed_level
        a = self.smoothness.effective
        return max(0.0, a / (2 * a + 1) * math.log2(n / self.noise**2))

    def target(self) -> PiecewiseSmoothTarget:
        grid = TokenGrid(self.levels, 1, 1)  # importances on the grid; features stay continuous
        smooth = GammaSmoothConfig(self.smoothness, self.function_level, self.norm, self.target_seed)
        return PiecewiseSmoothTarget.sample(PiecewiseSmoothConfig(self.window, self.top, grid, smooth))

    def feature_bits(self, f: GammaSmoothFunction) -> int:
        """Enough bits that quantization costs at most ``2^(-T-1)`` at the largest level fitted."""
        return feature_bits_for(max(self.level(n) for n in self.sample_sizes), f, self.top)


class SieveFrontEnd:
    """Windows ``(n, U, 2)`` (importance, continuous feature) -> the ``top`` coordinates ``(n, J)``
    the smooth part is fitted on: the extraction network's sorted top-J feature digits, or (control)
    the features of the last J tokens."""

    def __init__(self, setup: SieveSetup, bits: int):
        self.setup = setup
        self.grid = TokenGrid(setup.levels, bits, 1)
        self.extraction = build_extraction(self.grid, setup.window, setup.top)
        if not self.extraction.spec.float64_exact:
            raise ValueError(f"{self.extraction.spec.state_bits} state bits exceed float64's 52: "
                             "use fewer importance levels or feature bits")

    def __call__(self, win: torch.Tensor) -> torch.Tensor:
        tokens = self.grid.quantize(win)
        if self.setup.front_end == "last-tokens":
            return tokens[:, -self.setup.top:, 1]
        return self.extraction.extract(tokens, [tokens.shape[1] - 1])[:, 0, :, 1]


@dataclass(frozen=True)
class SievePoint:
    n: int
    seed: int
    level: float
    coefficients: int
    excess_risk: float


@functools.lru_cache(maxsize=64)
def _samples(setup: SieveSetup, n: int, seed: int) -> tuple[torch.Tensor, torch.Tensor]:
    """``n`` margin windows and their noisy targets for ``seed`` (the noise is ``sigma eps``; with
    ``seed < 0`` the targets are noiseless). They depend on the target and the window law only, so
    the controls (other front ends, fixed levels) reuse them: cached."""
    target = setup.target()
    gen = torch.Generator().manual_seed(1000 * seed + n if seed >= 0 else 10_000)
    win = continuous_margin_windows(setup.levels, setup.window, setup.top, 1, n, gen)
    y = target.of_windows(win)
    if seed >= 0:
        y = y + setup.noise * torch.randn(n, generator=gen, dtype=torch.float64)
    return win, y


def _sample_key(setup: SieveSetup) -> SieveSetup:
    """The setup with the fields that do not change the samples reset (the cache key)."""
    return replace(setup, sample_sizes=(2, 2), seeds=(0,), front_end="extraction", fixed_level=None)


@single_threaded
def run_sieve(setup: SieveSetup) -> list[SievePoint]:
    """Fit ``F_hat_n`` for every ``(n, seed)`` and measure its excess risk on the same fresh windows
    (on one CPU thread: :mod:`constructions.threads`)."""
    target = setup.target()
    front = SieveFrontEnd(setup, setup.feature_bits(target.smooth))
    key = _sample_key(setup)
    test, test_y = _samples(key, setup.test_samples, -1)
    test_z = front(test)
    points = []
    for seed in setup.seeds:
        for n in setup.sample_sizes:
            win, noisy = _samples(key, n, seed)
            level = setup.level(n)
            sieve = target.smooth.truncate(level)  # its frequencies are the fitted class
            design = sieve.basis(front(win))
            coef = torch.linalg.lstsq(design, noisy.unsqueeze(-1), driver="gelsd").solution.squeeze(-1)
            risk = float(((sieve.basis(test_z) @ coef - test_y) ** 2).mean())
            points.append(SievePoint(n, seed, level, sieve.size, risk))
    return points


def sieve_summary(setup: SieveSetup, points: list[SievePoint]) -> dict:
    """JSON-ready evidence: the fitted log-log slope, its 95% interval and the verdict against
    ``-2a/(2a+1)`` (:func:`claims.statistics.slope_verdict`), and every point."""
    fit = fit_log_slope([p.n for p in points], [p.excess_risk for p in points])
    verdict, reason = slope_verdict(fit, setup.exponent)
    return {"front_end": setup.front_end, "fixed_level": setup.fixed_level, "noise": setup.noise,
            "smoothness": {"kind": setup.smoothness.kind, "a": list(setup.smoothness.a)},
            "claimed_slope": -setup.exponent, "slope": fit.slope, "interval": [fit.low, fit.high],
            "verdict": verdict, "reason": reason, "seeds": list(setup.seeds),
            "points": [{"n": p.n, "seed": p.seed, "T": round(p.level, 3), "coefficients": p.coefficients,
                        "excess_risk": p.excess_risk} for p in points]}


def sieve_figure(results: dict[str, dict]) -> dict:
    """Report figure (``reports/figures.py`` format): mean excess risk against ``n`` per estimator,
    each with its fitted line, and the claimed rate through the first estimator's first point."""
    spec = {"name": "estimation-sieve-risk-vs-n", "title": "Extraction + least squares at the balancing level",
            "xlabel": "n", "ylabel": "excess risk", "xscale": "log", "yscale": "log", "series": [], "fits": []}
    for label, res in results.items():
        ns, mean = mean_by_size([p["n"] for p in res["points"]], [p["excess_risk"] for p in res["points"]])
        name = f"{label} (slope {res['slope']:.2f})"
        spec["series"].append({"label": name, "x": ns, "y": mean})
        spec["fits"].append({"label": "fit", "of": name, "x": ns, "y": power_line(ns, mean, res["slope"])})
    first = next(iter(spec["series"]))
    claimed = next(iter(results.values()))["claimed_slope"]
    spec["series"].append({"label": f"claimed rate (slope {claimed:.2f})", "style": ":", "x": first["x"],
                           "y": [first["y"][0] * (n / first["x"][0]) ** claimed for n in first["x"]]})
    return spec
