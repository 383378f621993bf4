"""The experiment runner: one sweep's setup, training every (size, seed, model), and its points.

:class:`SweepSetup` fixes a task, its sizes, the models, seeds, network sizes and training budget,
and builds each model, its :class:`~training.trainer.TrainConfig` and its data (training, fresh
test and fresh monitoring instances, the same for every model of a size and seed).
:func:`run_sweep` trains and measures each (size, seed, model) (:func:`train_one`) on one CPU
thread, deterministically, and returns a :class:`Sweep` of :class:`SweepPoint` records.
"""

from __future__ import annotations

import time
from dataclasses import asdict, dataclass, field, fields

import torch
from torch import nn

from constructions.tasks.associative_recall import ARConfig
from constructions.tasks.copying import CopyConfig
from constructions.threads import one_thread

from ..models import (
    SSMFNN,
    CausalTransformer,
    ConfigError,
    SSMFNNConfig,
    count_parameters,
    matched_transformer_config,
    require_int,
    require_option,
)
from ..plateau import STOP_REASONS, Plateau
from ..result_cache import ResultCache, code_version, decode_state, encode_state, settings_hash
from ..ensemble import train_ensemble
from ..trainer import TrainConfig, TrainResult, set_seed, train
from .metrics import accuracies
from .models import FIG_C1_MODELS, MATCHED_TO, ModelSpec
from .tasks import (
    DIGITS,
    LETTERS,
    TASKS,
    TaskTensors,
    answer_mask,
    copy_format,
    recall_format,
    scored_positions,
    sequence_length,
    task_tensors,
    vocab_size,
)
from .verdicts import CEILING, is_still_improving


#: fresh instances whose accuracy is monitored during training (:meth:`SweepSetup.data`)
MONITORED_INSTANCES = 1024
#: offset of the monitoring instances' seeds (far from the training and test seeds)
MONITOR_SEED_OFFSET = 10**12
#: The final training loss (:attr:`SweepPoint.final_train_loss`, a diagnostic that no verdict reads)
#: is measured on the first this many training instances, not on all of them. The instances are
#: i.i.d. draws, so the first ones are a uniform sample; on 4096 the standard error of the mean loss
#: is at most 1/64 of the per-instance spread (of an accuracy, <= 0.008), finer than the test
#: accuracy the verdicts use (2048 instances in the thorough profile). Up to 4096 training
#: instances (the tiny and quick profiles) this is the whole set, so nothing changes there.
FINAL_TRAIN_INSTANCES = 4096

#: The stopping rule of the sweeps that stop on a plateau (:mod:`training.plateau`): its defaults (4
#: evaluations without a new best by more than 0.01, the verdicts' :data:`STILL_IMPROVING`), with the
#: target at :data:`~training.appendix_c.verdicts.CEILING`: where both compared models reach it, nothing is
#: left to learn that the verdicts could separate (both "at the ceiling"); where only the better one does, a
#: gain it fails to show is judged as if that run had gone on to accuracy 1
#: (:func:`~training.appendix_c.verdicts.beats`, :meth:`Sweep.stopped_at_ceiling`).
SWEEP_PLATEAU = Plateau(target=CEILING)


@dataclass(frozen=True)
class SweepSetup:
    """One sweep: a task, its sizes (recall: pairs ``K``; copy: string length ``n``), the models,
    seeds, network sizes and training budget. Validated on construction (:class:`ConfigError`)."""

    task: str
    sizes: tuple[int, ...]
    models: tuple[ModelSpec, ...] = FIG_C1_MODELS
    seeds: tuple[int, ...] = (0, 1)
    letters: int = LETTERS
    digits: int = DIGITS
    alphabet: int = DIGITS
    width: int = 32
    state_size: int = 8
    fnn_hidden: int = 64
    dt_min: float = 0.01
    dt_max: float = 1.0
    layer_norm: bool = False
    matched_to: ModelSpec = MATCHED_TO
    heads: int = 2
    train_instances: int = 8192
    test_instances: int = 1024
    steps: int = 400
    batch_size: int = 64
    lr: float = 3e-3
    #: the Transformer's learning rate (None: ``lr``); Transformers diverge at rates SSMs train well with
    transformer_lr: float | None = None
    autocast: bool = False
    #: the plateau stopping rule (:mod:`training.plateau`) on the monitored accuracy, the same for every
    #: model; ``steps`` is then the cap. ``None``: every model trains ``steps`` steps.
    plateau: Plateau | None = None
    #: steps between curve records (monitored accuracy, plateau rule); ``None``: a quarter of ``steps``
    eval_every: int | None = None
    #: train the seeds of one (size, model) as one batched ensemble (:mod:`training.ensemble`): the same
    #: results as one by one up to float rounding (tests/test_ensemble.py); off: one model at a time
    ensemble: bool = False

    def __post_init__(self):
        require_option("task", self.task, TASKS)
        if not self.sizes or not self.seeds or not self.models:
            raise ConfigError(f"a sweep needs sizes, seeds and models, got sizes={self.sizes}, seeds={self.seeds}, "
                              f"models={self.models}")
        for size in self.sizes:
            require_int("task size", size, 1)
        for seed in self.seeds:
            require_int("seed", seed, 0)
        if len(set(self.models)) != len(self.models):
            raise ConfigError(f"models repeat: {[m.name for m in self.models]}")
        for name in ("train_instances", "test_instances", "steps", "batch_size", "width", "state_size", "fnn_hidden"):
            require_int(name, getattr(self, name), 1)
        if self.eval_every is not None:
            require_int("eval_every", self.eval_every, 1)
        if self.plateau is not None and not isinstance(self.plateau, Plateau):
            raise ConfigError(f"plateau must be a training.plateau.Plateau or None, got {type(self.plateau).__name__}")
        for size in self.sizes:
            self.task_config(size)  # InfeasibleTaskError (a ValueError) for impossible sizes

    def task_config(self, size: int) -> ARConfig | CopyConfig:
        if self.task == "recall":
            return recall_format(size, self.letters, self.digits)
        return copy_format(size, self.alphabet)

    def ssm_config(self, spec: ModelSpec, size: int) -> SSMFNNConfig:
        vocab = vocab_size(self.task_config(size))
        return SSMFNNConfig(input="tokens", vocab_size=vocab, width=self.width, state_size=self.state_size,
                            layers=spec.layers, fnn_depth=spec.fnn_depth, fnn_hidden=self.fnn_hidden,
                            ssm_kind=spec.ssm_kind, out_features=vocab, layer_norm=self.layer_norm,
                            dt_min=self.dt_min, dt_max=self.dt_max)

    def build(self, spec: ModelSpec, size: int) -> nn.Module:
        """The model, initialised from torch's global RNG (seed it first)."""
        if spec.family == "ssm":
            return SSMFNN(self.ssm_config(spec, size))
        matched = matched_transformer_config(self.ssm_config(self.matched_to, size),
                                             max_len=sequence_length(self.task_config(size)), heads=self.heads)
        return CausalTransformer(matched)

    def train_config(self, seed: int, spec: ModelSpec | None = None, size: int | None = None) -> TrainConfig:
        """The training configuration of ``spec`` for ``seed``; with the task ``size``, its answer positions
        are the trainer's ``columns`` (a step then computes the outputs there only, where the model can)."""
        lr = self.transformer_lr if spec is not None and spec.family == "transformer" and self.transformer_lr else self.lr
        return TrainConfig(steps=self.steps, batch_size=self.batch_size, lr=lr, weight_decay=0.0, seed=seed,
                           loss="cross_entropy", positions=answer_mask, warmup_steps=min(50, self.steps // 10),
                           eval_every=self.eval_every or max(1, self.steps // 4), autocast=self.autocast,
                           final_train_examples=FINAL_TRAIN_INSTANCES, plateau=self.plateau,
                           columns=None if size is None else tuple(scored_positions(self.task_config(size)).tolist()))

    def data(self, size: int, seed: int) -> tuple[TaskTensors, TaskTensors, TaskTensors]:
        """Training, (fresh) test and (fresh) monitoring instances of one size and seed; the same for
        every model. The :data:`MONITORED_INSTANCES` monitoring instances come from a seed of their
        own, so neither the training nor the scored test instances decide :func:`is_still_improving`."""
        config = self.task_config(size)
        return (task_tensors(config, self.train_instances, 1_000_003 * seed + 2 * size),
                task_tensors(config, self.test_instances, 1_000_003 * seed + 2 * size + 1),
                task_tensors(config, MONITORED_INSTANCES, MONITOR_SEED_OFFSET + 1_000_003 * seed + size))


@dataclass
class SweepPoint:
    """One trained model: its test accuracies (per answer token, per instance) on fresh instances."""

    task: str
    size: int
    model: str
    seed: int
    token_accuracy: float
    instance_accuracy: float
    parameters: int
    #: mean training loss of the final model on the first :data:`FINAL_TRAIN_INSTANCES` training instances
    final_train_loss: float
    wall_time_s: float
    #: the training-loss curve (step, mean loss since the previous record), the accuracy on the
    #: monitoring instances at the same steps, and whether the model was still improving at the end
    #: (:func:`still_improving`)
    curve: list = field(default_factory=list)
    accuracy_curve: list = field(default_factory=list)
    still_improving: bool = False
    #: optimizer steps taken and why training stopped (``"max-steps"``, ``"plateau"``, ``"target"``)
    steps_used: int = 0
    stop_reason: str = "max-steps"


@dataclass
class Sweep:
    """The points of a sweep and the trained models by ``(model name, size, seed)`` (not serialised)."""

    setup: SweepSetup
    points: list[SweepPoint]
    models: dict = field(default_factory=dict, repr=False)

    def table(self, metric: str = "token_accuracy") -> dict[str, dict[int, list[float]]]:
        """``{model: {size: [accuracy of each seed, in seed order]}}``."""
        return accuracy_table(self.points, metric)

    def still_improving(self) -> set[str]:
        """Models still improving (:data:`STILL_IMPROVING`) for some size and seed."""
        return {p.model for p in self.points if p.still_improving}

    def stopped_at_ceiling(self) -> dict[str, dict[int, list[bool]]]:
        """``{model: {size: [did the plateau rule stop this seed's run at the target, in seed order]}}`` (the
        verdicts' :data:`~training.appendix_c.verdicts.CEILING`: such a run had not plateaued)."""
        table: dict[str, dict[int, list[bool]]] = {}
        for p in sorted(self.points, key=lambda p: (p.model, p.size, p.seed)):
            table.setdefault(p.model, {}).setdefault(p.size, []).append(p.stop_reason == "target")
        return table


def still_improving(result: TrainResult, rule: Plateau | None) -> bool:
    """Was the model still improving when its training ended? Without a plateau rule:
    :func:`is_still_improving` of the monitored accuracy (a new best at the end). With one: the run
    hit the step cap before the rule judged it plateaued (a run the rule stopped, or that reached the
    target accuracy, is by definition not still improving; :mod:`training.plateau`)."""
    if rule is None:
        return is_still_improving(result.monitored)
    return result.stop_reason == "max-steps"


def measure(setup: SweepSetup, spec: ModelSpec, size: int, seed: int, model: nn.Module, result: TrainResult,
            data: tuple[TaskTensors, TaskTensors, TaskTensors], seconds: float) -> SweepPoint:
    """The :class:`SweepPoint` of a trained model: its accuracies on the test instances ``data[1]``."""
    token, instance = accuracies(model, data[1])
    curve = [(step, loss) for step, loss, _ in result.curve]
    return SweepPoint(setup.task, size, spec.name, seed, token, instance, count_parameters(model),
                      result.final_train_loss, seconds, curve, result.monitored,
                      still_improving(result, setup.plateau), result.steps_used, result.stop_reason)


def train_one(setup: SweepSetup, spec: ModelSpec, size: int, seed: int, device: torch.device,
              data: tuple[TaskTensors, TaskTensors, TaskTensors]) -> tuple[SweepPoint, nn.Module]:
    """Initialise ``spec`` from ``seed``, train it on ``data[0]``, measure it on ``data[1]``; its
    accuracy on ``data[2]`` is monitored at every curve record."""
    set_seed(seed)
    model = setup.build(spec, size).to(device)
    monitored = data[2]
    start = time.perf_counter()
    result = train(model, data[0].data, setup.train_config(seed, spec, size),
                   monitor=lambda m: accuracies(m, monitored)[0])
    return measure(setup, spec, size, seed, model, result, data, time.perf_counter() - start), model


def train_seeds(setup: SweepSetup, spec: ModelSpec, size: int, seeds: list[int], device: torch.device,
                datas: dict) -> dict[int, tuple[SweepPoint, nn.Module]]:
    """:func:`train_one` for every seed of ``seeds`` at once, as one batched ensemble
    (:func:`~training.ensemble.train_ensemble`); each point's ``wall_time_s`` is its share of the
    ensemble's time."""
    models = []
    for seed in seeds:
        set_seed(seed)
        models.append(setup.build(spec, size).to(device))
    monitors = [(lambda tensors: (lambda m: accuracies(m, tensors)[0]))(datas[seed][2]) for seed in seeds]
    start = time.perf_counter()
    results = train_ensemble(models, [datas[seed][0].data for seed in seeds],
                             [setup.train_config(seed, spec) for seed in seeds], monitors)
    share = (time.perf_counter() - start) / len(seeds)
    return {seed: (measure(setup, spec, size, seed, model, result, datas[seed], share), model)
            for seed, model, result in zip(seeds, models, results)}


def cache_key(setup: SweepSetup, spec: ModelSpec, size: int, seed: int, device: torch.device) -> dict:
    """The disk-cache key of one trained model (:mod:`training.result_cache`): its task, size, model,
    seed, the hash of the setup's other settings (its lists of sizes, seeds and models aside: another
    size or seed does not change this model), the device and the code version."""
    settings = {k: v for k, v in asdict(setup).items() if k not in ("sizes", "seeds", "models")}
    return {"experiment": "appendix-c", "task": setup.task, "size": size, "model": asdict(spec), "seed": seed,
            "settings": settings_hash(settings), "device": str(device), "code": code_version()}


_POINT_TYPES = {"task": str, "model": str, "size": int, "seed": int, "token_accuracy": float,
                "instance_accuracy": float, "parameters": int, "final_train_loss": float, "wall_time_s": float,
                "curve": list, "accuracy_curve": list, "still_improving": bool, "steps_used": int, "stop_reason": str}


def point_from_dict(record: dict, setup: SweepSetup, spec: ModelSpec, size: int, seed: int) -> SweepPoint:
    """A :class:`SweepPoint` from a cached record, checked field by field against the expected model
    (``ValueError`` naming the problem)."""
    names = {f.name for f in fields(SweepPoint)}
    if not isinstance(record, dict) or set(record) != names:
        raise ValueError(f"a cached point needs exactly the fields {sorted(names)}")
    for name, kind in _POINT_TYPES.items():
        value = record[name]
        ok = isinstance(value, (int, float)) and not isinstance(value, bool) if kind is float else (
            isinstance(value, kind) and (kind is bool or not isinstance(value, bool)))
        if not ok:
            raise ValueError(f"cached field {name!r} is {value!r}, expected {kind.__name__}")
    if (record["task"], record["size"], record["model"], record["seed"]) != (setup.task, size, spec.name, seed):
        raise ValueError("the cached point is of another task, size, model or seed")
    if record["stop_reason"] not in STOP_REASONS:
        raise ValueError(f"cached stop_reason {record['stop_reason']!r} is not one of {STOP_REASONS}")
    curves = {name: [tuple(entry) for entry in record[name]] for name in ("curve", "accuracy_curve")}
    return SweepPoint(**{**record, **curves})


def load_cached(store: ResultCache, key: dict, setup: SweepSetup, spec: ModelSpec, size: int, seed: int,
                device: torch.device) -> tuple[SweepPoint, nn.Module] | None:
    """The cached (point, model) of ``key``, or ``None`` (a miss, or an entry that does not fit: noted)."""
    payload = store.load(key)
    if payload is None:
        return None
    try:
        point = point_from_dict(payload.get("point"), setup, spec, size, seed)
        set_seed(seed)
        model = setup.build(spec, size).to(device)
        decode_state(payload.get("weights"), model)
    except (ValueError, TypeError, RuntimeError) as error:
        store.reject(key, f"unusable payload ({error})")
        return None
    return point, model


def progress_line(point: SweepPoint, origin: str) -> str:
    return (f"{point.task} size {point.size} seed {point.seed} {point.model}: {origin}, {point.steps_used} steps "
            f"({point.stop_reason}), token accuracy {point.token_accuracy:.3f}, {point.wall_time_s:.1f} s")


def run_sweep(setup: SweepSetup, device: torch.device | str = "cpu", models: tuple[ModelSpec, ...] | None = None,
              cache: dict | None = None, store: ResultCache | None = None, progress=None) -> Sweep:
    """Train and measure every (size, seed, model) of ``setup`` (or only ``models``): the protocol of
    :mod:`training.appendix_c`.

    ``cache``: a dict reused across calls with the same setup and device; a (model, size, seed)
    already trained is taken from it (training is deterministic, so this changes nothing but the
    time). ``store``: a disk cache (:class:`~training.result_cache.ResultCache`): a model found there
    (same settings and code, validated) is loaded instead of trained, every model trained is written
    there as soon as it is done, so an interrupted sweep resumes with the next model (with
    ``setup.ensemble``, the seeds of one size and model are trained together and stored together).
    ``progress(line)``: called with one line per model trained or loaded. On the CPU torch runs on
    one thread (tiny models: more threads only contend).
    """
    device = torch.device(device)
    wanted = setup.models if models is None else models
    unknown = [m.name for m in wanted if m not in setup.models]
    if unknown:
        raise ConfigError(f"models {unknown} are not in the setup's models {[m.name for m in setup.models]}")
    cache = {} if cache is None else cache
    with one_thread(device):
        sweep = Sweep(setup, [])
        for size in setup.sizes:
            datas: dict[int, tuple] = {}

            def data(seed: int) -> tuple:
                if seed not in datas:
                    datas[seed] = setup.data(size, seed)
                return datas[seed]

            def obtain(spec: ModelSpec, seeds: list[int]) -> None:
                """Every (spec, seed) not in ``cache``: from the disk cache, or trained (as an ensemble)."""
                todo = []
                for seed in seeds:
                    key = (setup, spec, size, seed, str(device))
                    if key in cache:
                        continue
                    found = None if store is None else load_cached(
                        store, cache_key(setup, spec, size, seed, device), setup, spec, size, seed, device)
                    if found is None:
                        todo.append(seed)
                        continue
                    cache[key] = found
                    if progress is not None:
                        progress(progress_line(found[0], "from the disk cache"))
                if not todo:
                    return
                if setup.ensemble:
                    trained = train_seeds(setup, spec, size, todo, device, {seed: data(seed) for seed in todo})
                else:
                    trained = {seed: train_one(setup, spec, size, seed, device, data(seed)) for seed in todo}
                for seed, found in trained.items():
                    cache[(setup, spec, size, seed, str(device))] = found
                    if store is not None:
                        store.store(cache_key(setup, spec, size, seed, device),
                                    {"point": asdict(found[0]), "weights": encode_state(found[1])})
                    if progress is not None:
                        progress(progress_line(found[0], "trained" + (" in an ensemble" if setup.ensemble else "")))

            if setup.ensemble:
                for spec in wanted:
                    obtain(spec, list(setup.seeds))
            for seed in setup.seeds:
                for spec in wanted:
                    obtain(spec, [seed])
                    point, model = cache[(setup, spec, size, seed, str(device))]
                    sweep.points.append(point)
                    sweep.models[(spec.name, size, seed)] = model
        return sweep


def accuracy_table(points: list[SweepPoint], metric: str = "token_accuracy") -> dict[str, dict[int, list[float]]]:
    require_option("accuracy metric", metric, ("token_accuracy", "instance_accuracy"))
    table: dict[str, dict[int, list[float]]] = {}
    for p in sorted(points, key=lambda p: (p.model, p.size, p.seed)):
        table.setdefault(p.model, {}).setdefault(p.size, []).append(getattr(p, metric))
    return table
