"""The estimation experiment of ``regression.estimation-slope``: excess risk against the sample size.

**Claim** (paper abstract, C5): SSM+FNN estimators of piecewise gamma-smooth targets reach the
Transformer's rate ``n^(-2 a_dagger / (2 a_dagger + 1))`` (up to poly-log factors). The rate is an
*upper bound* on the excess risk of a suitably sized estimator; what can be measured is the slope
of ``log excess risk`` against ``log n`` for networks trained by AdamW.

**Protocol.** A piecewise gamma-smooth target (:mod:`constructions.regression.piecewise`: grid
importances with the margin, continuous features, ``f`` of the top-J features) with noise
``sigma``; for each ``n`` and seed, an SSM+FNN and a Transformer of matched size
(:func:`training.models.matched_transformer_config`) are trained on ``n`` noisy samples, and the
excess risk ``E (model(X) - F(X))^2`` is measured on fresh noiseless windows. The slope is fitted
by least squares on ``log excess risk`` against ``log n`` over every (n, seed) point, with a
Student-t 95% interval.

**Verdict** (:func:`claims.statistics.slope_verdict`): the claimed exponent is an upper bound, so a
slope *steeper* than ``-r`` is consistent with it. ``holds`` when the interval reaches ``-r`` or lies
below it; ``fails`` when the whole interval lies above ``-r`` (slower decay) and is narrower than
``max_width``; ``inconclusive`` when it is wider than ``max_width``. A failure at small ``n`` and
fixed training budget says the trained network did not show the rate in this range, which the
report states with its numbers.
"""

from __future__ import annotations

import time
from dataclasses import asdict, dataclass, field

import torch

from claims.statistics import (  # noqa: F401 (SlopeFit, slope_verdict, t_quantile re-exported)
    SlopeFit,
    fit_log_slope,
    mean_by_size,
    power_line,
    slope_verdict,
    t_quantile,
)
from constructions.regression.piecewise import (
    PiecewiseSmoothConfig,
    PiecewiseSmoothTarget,
    TokenGrid,
    check_learning_curve,
    continuous_margin_windows,
)
from constructions.regression.smooth_functions import GammaSmoothConfig, Smoothness
from constructions.threads import single_threaded

from .models import (
    SSMFNN,
    CausalTransformer,
    SSMFNNConfig,
    count_parameters,
    matched_transformer_config,
)
from .trainer import TrainConfig, evaluate, set_seed, train


@dataclass(frozen=True)
class EstimationSetup:
    sample_sizes: tuple[int, ...]
    seeds: tuple[int, ...] = (0, 1)
    smoothness: Smoothness = Smoothness("anisotropic", (2.0, 2.0))  # a_dagger = 1: exponent 2/3
    window: int = 4
    top: int = 2
    levels: int = 8
    function_level: float = 8.0
    norm: float = 4.0
    noise: float = 0.05
    test_samples: int = 2048
    width: int = 16
    state_size: int = 8
    layers: int = 2
    fnn_hidden: int = 32
    steps: int = 400
    batch_size: int = 64
    lr: float = 3e-3
    target_seed: int = 0

    def __post_init__(self):
        check_learning_curve(self.sample_sizes, self.smoothness, self.top)

    @property
    def exponent(self) -> float:
        a = self.smoothness.effective
        return 2 * a / (2 * a + 1)

    def target(self) -> PiecewiseSmoothTarget:
        grid = TokenGrid(self.levels, 1, 1)  # the grid of importances; features stay continuous
        smooth = GammaSmoothConfig(self.smoothness, self.function_level, self.norm, self.target_seed)
        return PiecewiseSmoothTarget.sample(PiecewiseSmoothConfig(self.window, self.top, grid, smooth))

    def ssm_config(self) -> SSMFNNConfig:
        return SSMFNNConfig(input="features", in_features=2, width=self.width, state_size=self.state_size,
                            layers=self.layers, fnn_depth=2, fnn_hidden=self.fnn_hidden, ssm_kind="dense",
                            out_features=1, dt_min=0.1, dt_max=1.0)


@dataclass
class EstimationPoint:
    model: str
    n: int
    seed: int
    excess_risk: float
    parameters: int
    wall_time_s: float
    curve: list = field(default_factory=list)


def _windows(setup: EstimationSetup, target: PiecewiseSmoothTarget, n: int, seed: int) -> tuple[torch.Tensor, torch.Tensor]:
    win = continuous_margin_windows(setup.levels, setup.window, setup.top, 1, n, torch.Generator().manual_seed(seed))
    return win.to(torch.float32), target.of_windows(win).to(torch.float32)


@single_threaded
def run_estimation(setup: EstimationSetup, models: tuple[str, ...] = ("ssm_fnn", "transformer")) -> list[EstimationPoint]:
    """Train every model on every ``(n, seed)``; excess risk on fresh noiseless windows. Runs torch
    on one thread (:mod:`constructions.threads`: these models are tiny)."""
    target = setup.target()
    test_x, test_y = _windows(setup, target, setup.test_samples, 10_000)
    points = []
    for seed in setup.seeds:
        for n in setup.sample_sizes:
            x, y = _windows(setup, target, n, 1000 * seed + n)
            noisy = y + setup.noise * torch.randn(y.shape, generator=torch.Generator().manual_seed(seed + 7 * n))
            for name in models:
                set_seed(seed)
                model = SSMFNN(setup.ssm_config()) if name == "ssm_fnn" else \
                    CausalTransformer(matched_transformer_config(setup.ssm_config(), max_len=setup.window))
                config = TrainConfig(steps=setup.steps, batch_size=min(setup.batch_size, n), lr=setup.lr, seed=seed,
                                     loss="mse", positions="last", eval_every=max(1, setup.steps // 8))
                start = time.perf_counter()
                result = train(model, (x, noisy.unsqueeze(-1)), config, eval_data=(test_x, test_y.unsqueeze(-1)))
                risk = evaluate(model, (test_x, test_y.unsqueeze(-1)), loss="mse", positions="last")
                points.append(EstimationPoint(name, n, seed, float(risk), count_parameters(model),
                                              time.perf_counter() - start, [list(c) for c in result.curve]))
    return points


def fit_slope(points: list[EstimationPoint]) -> SlopeFit:
    """Least squares ``log excess risk = slope log n + c`` over every point, 95% Student-t interval."""
    return fit_log_slope([p.n for p in points], [p.excess_risk for p in points])


def trivial_risk(setup: EstimationSetup) -> float:
    """The excess risk of the best constant predictor (the variance of ``F`` on fresh windows)."""
    _, y = _windows(setup, setup.target(), setup.test_samples, 10_000)
    return float(y.double().var())


def summary(setup: EstimationSetup, points: list[EstimationPoint]) -> dict:
    """JSON-ready evidence: setup, per-model fits and verdicts, per-point risks and curves."""
    out = {"setup": {k: (v if not isinstance(v, Smoothness) else asdict(v)) for k, v in asdict(setup).items()},
           "claimed_slope": -setup.exponent, "models": {}}
    for name in sorted({p.model for p in points}):
        mine = [p for p in points if p.model == name]
        fit = fit_slope(mine)
        verdict, reason = slope_verdict(fit, setup.exponent)
        out["models"][name] = {"slope": fit.slope, "interval": [fit.low, fit.high], "verdict": verdict,
                               "reason": reason, "parameters": mine[0].parameters,
                               "points": [{"n": p.n, "seed": p.seed, "excess_risk": p.excess_risk,
                                           "seconds": round(p.wall_time_s, 2)} for p in mine]}
    return out


def figure_specs(setup: EstimationSetup, points: list[EstimationPoint], result: dict) -> dict:
    """Report figures (``reports/figures.py`` format): excess risk against n with the fitted lines
    and the claimed slope, and the learning curves (test risk against step) of the first seed. The
    names end in the models shown, so one figure per model when each model is its own test."""
    models = "-".join(result["models"])
    risk = {"name": f"estimation-risk-vs-n-{models}", "title": f"Excess risk against n (log-log): {models}",
            "xlabel": "n", "ylabel": "excess risk", "xscale": "log", "yscale": "log", "series": [], "fits": [],
            "note": f"claimed slope -{setup.exponent:.3f} (upper bound); seeds {list(setup.seeds)}"}
    for name, m in result["models"].items():
        mine = [p for p in points if p.model == name]
        ns, mean = mean_by_size([p.n for p in mine], [p.excess_risk for p in mine])
        label = f"{name} (slope {m['slope']:.2f})"
        risk["series"].append({"label": label, "x": ns, "y": mean})
        risk["fits"].append({"label": "fit", "of": label, "x": ns, "y": power_line(ns, mean, m["slope"])})
        risk["fits"].append({"label": f"claimed slope -{setup.exponent:.2f}", "of": label, "x": ns,
                             "y": power_line(ns, mean, -setup.exponent), "style": ":", "legend": True})
    curves = {"name": f"estimation-learning-curves-{models}", "title": f"Learning curves (test excess risk, first seed): {models}",
              "xlabel": "step", "ylabel": "test MSE", "yscale": "log", "series": []}
    first = setup.seeds[0]
    for p in points:
        if p.seed == first and p.curve and p.curve[0][2] is not None:
            curves["series"].append({"label": f"{p.model} n={p.n}", "x": [c[0] for c in p.curve],
                                     "y": [c[2] for c in p.curve]})
    return {f"figure:{risk['name']}": risk, f"figure:{curves['name']}": curves}
