"""The experiment runner: setup, training the SSM+FNN, explaining it, the result.

:class:`GenomicSetup` (data, model and training sizes; the check's profiles) gives the
:class:`~training.models.SSMFNNConfig` and :class:`~training.trainer.TrainConfig`;
:func:`run_experiment` generates the data, trains the model on one CPU thread, measures test
accuracy and both importance measures of the trained and an untrained twin (:func:`explain`,
:class:`ModelReport`) and returns a :class:`GenomicResult` with the single-run verdict.
"""

from __future__ import annotations

import time
from dataclasses import asdict, dataclass, field

import torch
from torch import nn

from constructions.threads import one_thread

from ..models import SSMFNN, SSMFNNConfig, count_parameters, require_int
from ..plateau import STOP_REASONS, Plateau
from ..result_cache import ResultCache, code_version, decode_state, encode_state, settings_hash
from ..trainer import TrainConfig, accuracy, set_seed, train
from .data import ALPHABET, GenomicConfig, GenomicData, generate
from .sites import SiteConfig, SiteData, generate_sites
from .measures import MEASURES, importance
from .metrics import ImportanceSummary, summarize, top_k_share
from .verdicts import verdict

#: The final training loss (of :func:`~training.trainer.train`; the genomic result does not record it)
#: is measured on the first this many training sequences, not on all of them: i.i.d. draws, so a
#: uniform sample. At the thorough setup (16,384 sequences of L = 1024) the full pass took 235 s on a
#: loaded CPU, 2048 sequences 16.5 s; up to 2048 training sequences (tiny, quick) nothing changes.
FINAL_TRAIN_SAMPLES = 2048


@dataclass(frozen=True)
class GenomicSetup:
    """One run of the experiment: data, model and training sizes (the check's profiles)."""

    data: GenomicConfig | SiteConfig = GenomicConfig(length=64)
    train_samples: int = 2048
    test_samples: int = 512
    explained_samples: int = 32
    width: int = 32
    state_size: int = 8
    layers: int = 2
    fnn_depth: int = 2
    fnn_hidden: int = 64
    ssm_kind: str = "dense"
    layer_norm: bool = False
    dt_min: float = 1e-2
    dt_max: float = 1.0
    steps: int = 300
    batch_size: int = 64
    lr: float = 1e-2
    seed: int = 0
    top_k_grid: tuple[int, ...] = (1, 2, 4, 6, 8, 12, 16, 24)
    #: plateau early stopping (:mod:`training.plateau`) on the accuracy of ``monitor_samples`` held-out
    #: sequences (neither trained on nor scored), every ``eval_every`` steps; ``steps`` is then the cap
    plateau: Plateau | None = None
    monitor_samples: int = 512
    eval_every: int | None = None

    def __post_init__(self):
        for name in ("train_samples", "test_samples", "steps", "batch_size"):
            require_int(name, getattr(self, name), 1)
        require_int("explained_samples", self.explained_samples, 2)

    def model_config(self) -> SSMFNNConfig:
        return SSMFNNConfig(input="tokens", vocab_size=len(ALPHABET), width=self.width, state_size=self.state_size,
                            layers=self.layers, fnn_depth=self.fnn_depth, fnn_hidden=self.fnn_hidden,
                            ssm_kind=self.ssm_kind, out_features=self.data.n_classes, layer_norm=self.layer_norm,
                            dt_min=self.dt_min,
                            dt_max=self.dt_max)

    def train_config(self) -> TrainConfig:
        return TrainConfig(steps=self.steps, batch_size=self.batch_size, lr=self.lr, seed=self.seed,
                           loss="cross_entropy", positions="last", warmup_steps=min(20, self.steps // 10),
                           eval_every=self.eval_every or max(1, self.steps // 10),
                           final_train_examples=FINAL_TRAIN_SAMPLES, plateau=self.plateau)


@dataclass
class ModelReport:
    """What one model (trained or untrained) gave: accuracy, per-measure summaries, importance."""

    name: str
    test_accuracy: float
    summaries: dict[str, ImportanceSummary]
    scores: dict[str, torch.Tensor] = field(repr=False)
    top_k_curve: dict[str, list[float]] = field(default_factory=dict)
    #: why the model counts as diverged (:func:`diverged_report`), else ``None``
    diverged: str | None = None

    def to_dict(self) -> dict:
        return {"name": self.name, "test_accuracy": self.test_accuracy, "diverged": self.diverged,
                "summaries": {m: s.to_dict() for m, s in self.summaries.items()}, "top_k_curve": self.top_k_curve}


def make_data(config: GenomicConfig | SiteConfig, n: int, seed: int) -> GenomicData | SiteData:
    """``n`` sequences of either task (:func:`~training.genomic.data.generate` or
    :func:`~training.genomic.sites.generate_sites`), pure in ``(config, n, seed)``."""
    return (generate_sites if isinstance(config, SiteConfig) else generate)(config, n, seed)


def diverged_report(name: str, why: str) -> ModelReport:
    """The report of a model whose training diverged (non-finite weights or importance): accuracy NaN, so
    it never counts as learned (``nan >= ACCURACY_MIN`` is false), and no importance to summarise."""
    return ModelReport(name, float("nan"), {}, {}, {}, diverged=why)


def explain(name: str, model: nn.Module, data: GenomicData | SiteData, test_accuracy: float,
            k_grid: tuple[int, ...] = ()) -> ModelReport:
    """Both importance measures of ``model`` on ``data`` (true labels), their summaries at ``k``
    (``data.config.k``: the motif length, or the most positions planted sites occupy) and the mean top-``k`` share for each ``k`` in ``k_grid`` (those ``<= L``)."""
    k = data.config.k
    scores, summaries, curve = {}, {}, {}
    for measure in MEASURES:
        s = importance(model, measure, data.tokens, data.labels).cpu()
        if not torch.isfinite(s).all():
            return diverged_report(name, f"its {measure} importance is not finite")
        scores[measure] = s
        summaries[measure] = summarize(measure, s, k, data.motif_mask().cpu())
        curve[measure] = [float(top_k_share(s, kk).mean()) for kk in k_grid if kk <= s.shape[1]]
    return ModelReport(name, test_accuracy, summaries, scores, curve)


@dataclass
class GenomicResult:
    """The experiment's outcome: both models' reports, the verdict, timings and setup; ``model`` is
    the trained network (not serialised)."""

    setup: GenomicSetup
    trained: ModelReport
    untrained: ModelReport
    explained: GenomicData
    verdict: str
    reason: str
    parameters: int
    train_seconds: float
    importance_seconds: float
    curve: list = field(default_factory=list)
    model: nn.Module | None = field(default=None, repr=False)
    steps_used: int = 0
    stop_reason: str = "max-steps"
    #: the trained weights came from the disk cache (``train_seconds`` is then the original training's)
    cached: bool = False

    def summary(self) -> dict:
        return {"setup": asdict(self.setup), "parameters": self.parameters, "verdict": self.verdict,
                "reason": self.reason, "trained": self.trained.to_dict(), "untrained": self.untrained.to_dict(),
                "steps_used": self.steps_used, "stop_reason": self.stop_reason, "from_cache": self.cached,
                "train_seconds": round(self.train_seconds, 2), "importance_seconds": round(self.importance_seconds, 2),
                "learning_curve": self.curve, "data": describe_data(self.setup.data)}


def describe_data(config: GenomicConfig | SiteConfig) -> str:
    """What the data are, for the records: always synthetic, never the paper's genomic data."""
    if isinstance(config, SiteConfig):
        return config.describe() + " (training/genomic/sites.py), not the paper's genomic data"
    return "synthetic planted-motif DNA (training/genomic/data.py), not the paper's genomic data"


def model_accuracy(model: nn.Module, data: GenomicData) -> float:
    return accuracy(model, (data.tokens, data.labels), positions="last")


def run_experiment(setup: GenomicSetup, device: torch.device | str = "cpu",
                   store: ResultCache | None = None) -> GenomicResult:
    """Generate data, train the SSM+FNN, measure accuracy and importance (trained and untrained).

    On the CPU torch runs on one thread (restored after): the models are tiny, more threads only
    contend. Data and model live on ``device``. ``store``: a disk cache (:mod:`training.result_cache`):
    a trained model found there (same setup, seed, device and code) is loaded instead of trained, and a
    model trained here is written there; the explanation is recomputed from the weights either way
    (``GenomicResult.cached`` says which).
    """
    device = torch.device(device)
    with one_thread(device):
        return _run(setup, device, store)


def cache_key(setup: GenomicSetup, device: torch.device) -> dict:
    """The disk-cache key of one trained genomic model: every setting of the setup (its seed included),
    the device and the code version."""
    return {"experiment": "genomic", "seed": setup.seed, "settings": settings_hash(asdict(setup)),
            "device": str(device), "code": code_version()}


@dataclass(frozen=True)
class _Trained:
    """What training gave, as the cache stores it beside the weights."""

    final_eval_accuracy: float
    curve: list
    steps_used: int
    stop_reason: str
    train_seconds: float

    @classmethod
    def from_record(cls, record) -> "_Trained":
        """Checked field by field (``ValueError`` naming the problem)."""
        names = list(cls.__dataclass_fields__)
        if not isinstance(record, dict) or sorted(record) != sorted(names):
            raise ValueError(f"a cached training record needs exactly the fields {sorted(names)}")
        number = lambda v: isinstance(v, (int, float)) and not isinstance(v, bool)  # noqa: E731
        if not (number(record["final_eval_accuracy"]) and number(record["train_seconds"])
                and isinstance(record["steps_used"], int) and isinstance(record["curve"], list)
                and record["stop_reason"] in STOP_REASONS):
            raise ValueError("a cached training record has a field of the wrong type or value")
        return cls(**record)


def _train(setup: GenomicSetup, device: torch.device, model: nn.Module, train_data, test_data,
           store: ResultCache | None) -> tuple[_Trained, bool]:
    """Train ``model`` in place, or load it from ``store``: ``(what training gave, loaded from the cache)``."""
    key = None if store is None else cache_key(setup, device)
    payload = None if store is None else store.load(key)
    if payload is not None:
        try:
            trained = _Trained.from_record(payload.get("training"))
            decode_state(payload.get("weights"), model)
            return trained, True
        except (ValueError, TypeError, RuntimeError) as error:
            store.reject(key, f"unusable payload ({error})")
    monitor = None
    if setup.plateau is not None:
        monitored = make_data(setup.data, setup.monitor_samples, seed=setup.seed * 1000 + 4).to(device)
        monitor = lambda m: model_accuracy(m, monitored)  # noqa: E731
    start = time.perf_counter()
    result = train(model, (train_data.tokens, train_data.labels), setup.train_config(),
                   eval_data=(test_data.tokens, test_data.labels), monitor=monitor)
    # the test accuracy train() measured at the end (model_accuracy's value, without a second pass)
    trained = _Trained(result.final_eval_accuracy, [list(c) for c in result.curve], result.steps_used,
                       result.stop_reason, time.perf_counter() - start)
    if store is not None:
        store.store(key, {"training": asdict(trained), "weights": encode_state(model)})
    return trained, False


def _run(setup: GenomicSetup, device: torch.device, store: ResultCache | None) -> GenomicResult:
    train_data = make_data(setup.data, setup.train_samples, seed=setup.seed * 1000 + 1).to(device)
    test_data = make_data(setup.data, setup.test_samples, seed=setup.seed * 1000 + 2).to(device)
    explained = make_data(setup.data, setup.explained_samples, seed=setup.seed * 1000 + 3).to(device)
    set_seed(setup.seed)
    untrained_model = SSMFNN(setup.model_config()).to(device)
    set_seed(setup.seed)
    model = SSMFNN(setup.model_config()).to(device)
    training, cached = _train(setup, device, model, train_data, test_data, store)
    start = time.perf_counter()
    if all(bool(torch.isfinite(p).all()) for p in model.parameters()):
        trained = explain("trained", model, explained, training.final_eval_accuracy, setup.top_k_grid)
    else:
        trained = diverged_report("trained", f"its weights are not finite after {training.steps_used} steps")
    untrained = explain("untrained", untrained_model, explained, model_accuracy(untrained_model, test_data),
                        setup.top_k_grid)
    importance_seconds = time.perf_counter() - start
    if trained.diverged:
        decision, reason = "inconclusive", f"training diverged ({trained.diverged}): a seed that did not learn"
    else:
        decision, reason = verdict(trained.test_accuracy, list(trained.summaries.values()))
    return GenomicResult(setup, trained, untrained, explained.to("cpu"), decision, reason, count_parameters(model),
                         training.train_seconds, importance_seconds, training.curve, model,
                         training.steps_used, training.stop_reason, cached)
