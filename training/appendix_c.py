"""Appendix C, Fig. C.1: trained SSM+FNN networks beside a Transformer on associative recall and copying.

**Claims** (``experiment.fig-c1``, C6(b), provenance *summary*): on copying and associative recall, a
two-layer SSM+FNN with an expressive FNN is about as accurate as a Transformer of comparable size,
and clearly more accurate than a one-layer SSM+FNN. (``experiment.nonlinearity-needed``,
*reconstructed*): the same two SSM layers without the FNN nonlinearity (``fnn_depth=0``: the whole
network is then a linear time-invariant map of the one-hot tokens) are clearly less accurate.

**Tasks** (the suite's generators in :mod:`constructions.tasks`, turned into training tensors):

* associative recall with the query last, in the paper's format: keys from 26 letters, values
  from 10 digits (:func:`recall_format`; ``K`` pairs, one query, the answer read at the query)::

      a 3  q 7  c 1  q  ->  7

  any :class:`~constructions.tasks.associative_recall.ARConfig` (MQAR, n-gram keys, query first)
  is accepted as well: every answer position is scored.
* input copying, ``BOS x_1..x_n SEP x_1..x_n EOS`` (:func:`copy_format`), next-token prediction with
  teacher forcing; the ``n`` copied symbols are scored (the predictions at ``SEP .. x_{n-1}``; the
  trivial final ``EOS`` is not).

Targets are ``(count, L)`` token ids with :data:`IGNORE` off the answer positions, so the trainer's
``positions`` callback is :func:`answer_mask` and the same tensors give per-answer-token accuracy
(argmax = target over every scored position) and instance accuracy (every answer of an instance
right: the string-level copy success of Jelassi et al.).

**Models** (:class:`ModelSpec`): SSM+FNN with ``layers`` blocks of FNN depth ``fnn_depth``
(0 = no nonlinearity) and a diagonal or dense state matrix, and a causal Transformer whose size is
matched (:func:`~training.models.matched_transformer_config`) to the two-layer SSM+FNN named by
``SweepSetup.matched_to``. Parameter counts are recorded with every result.

**Protocol** (:func:`run_sweep`): for every task size, seed and model, a model initialised from the
seed is trained by AdamW on ``train_instances`` seeded instances and measured on
``test_instances`` fresh ones (another seed); its accuracy on a third, fresh set is monitored
during training (:data:`STILL_IMPROVING`). The sets depend on (size, seed) only, so all models of
one seed see the same data (paired comparisons). One CPU thread, deterministic.

**Verdicts** (:func:`ordering_verdict`, :func:`nonlinearity_verdict`) are two-sided: each claimed
relation ("A beats B by at least 0.05", "A is within 0.10 of B") is decided from the Student-t 95%
interval of the paired (same size, same seed) differences on the larger half of the task sizes
(:func:`claims.statistics.side_verdict`, :func:`~claims.statistics.margin_verdict`), and a verdict
that a model still improving at the end of its budget could overturn is inconclusive
(:func:`downgrade_if_still_improving`); the thresholds are the named constants below, each with
its rationale.
"""

from __future__ import annotations

import statistics
import time
from dataclasses import asdict, dataclass, field

import torch
from torch import nn

from claims.statistics import Interval, margin_verdict, mean_interval, side_verdict
from constructions.errors import InfeasibleTaskError
from constructions.tasks import associative_recall as ar
from constructions.tasks import copying
from constructions.tasks.associative_recall import ARConfig
from constructions.tasks.copying import CopyConfig
from constructions.threads import one_thread

from .models import (
    SSMFNN,
    CausalTransformer,
    ConfigError,
    SSMFNNConfig,
    count_parameters,
    matched_transformer_config,
    require_int,
    require_option,
)
from .trainer import TrainConfig, set_seed, train

#: target id of the positions that are not scored
IGNORE = -1
#: the paper's recall alphabet: letters as keys, digits as values
LETTERS, DIGITS = 26, 10
TASKS: tuple[str, ...] = ("recall", "copy")

#: A model has *learned* a task size when its mean accuracy is at least this fraction of the way
#: from chance to 1 (for recall with 10 digits: 0.55). Below it on every size, no model learned the
#: task and an ordering says nothing about dynamic token selection; the Transformer below it on the
#: decisive sizes leaves nothing to be "comparable to" (Fig. C.1 is inconclusive then).
LEARNED_FRACTION = 0.5
#: Smallest accuracy advantage (absolute, per answer token) that counts as "clearly better": the
#: claim "A beats B" holds when the paired 95% interval of (A - B) lies at or above it and fails when
#: it lies wholly below it (:func:`claims.statistics.side_verdict`). 0.05 is well above the binomial
#: noise of 1024 test answers (standard error <= 0.016) and far below the gaps Fig. C.1 shows
#: between one and two layers.
MIN_ADVANTAGE = 0.05
#: "About as accurate as the Transformer", two-sided: the paired 95% interval of
#: (two-layer - Transformer) lies inside ``[-TRANSFORMER_MARGIN, +TRANSFORMER_MARGIN]`` (holds),
#: wholly outside it (fails: clearly worse *or* clearly better), or across an end (inconclusive)
#: (:func:`claims.statistics.margin_verdict`). 0.10 is twice :data:`MIN_ADVANTAGE`: a gap that
#: small is not what Fig. C.1 separates models by.
TRANSFORMER_MARGIN = 0.10
#: Accuracy at which a model is at the task's ceiling; when the one-layer and the two-layer models
#: both reach it the task size is too easy to separate them (inconclusive, not a contradiction).
CEILING = 0.98
#: A model is *still improving* when its accuracy on :data:`MONITORED_INSTANCES` fresh instances
#: (neither training nor test instances) at the end of training exceeds its best earlier record (the
#: records are a quarter of the steps apart) by more than this (:func:`is_still_improving`). The cosine
#: schedule runs the last quarter at under 15% of the peak rate, so a new best by a fifth of
#: :data:`MIN_ADVANTAGE` there has not plateaued: more training could move it by more than the
#: verdicts' margins. A new *best*, not a rise from the record before: a model at its plateau
#: oscillates (the linear two-layer model on recall: 0.594, 0.631, 0.597, 0.628, and 0.63 test
#: accuracy at 200 and at 400 steps alike), a learning one exceeds every earlier level. The training
#: loss is no test either: cross entropy keeps falling by a few percent per quarter on models whose
#: accuracy no longer moves; nor is the accuracy on training instances, which that model raised by
#: 0.011-0.016 in the last quarter by fitting them. A verdict that a still-improving model could
#: overturn is inconclusive, ``holds`` as well as ``fails`` (:func:`downgrade_if_still_improving`).
STILL_IMPROVING = 0.01
#: fresh instances whose accuracy is monitored during training (:meth:`SweepSetup.data`)
MONITORED_INSTANCES = 1024
#: offset of the monitoring instances' seeds (far from the training and test seeds)
MONITOR_SEED_OFFSET = 10**12
#: Fewest seeds for an interval (a t-interval needs two paired differences at least).
MIN_SEEDS = 2
#: Probe thresholds: layer 1 *carries* the previous token when a linear probe decodes it with at
#: least this accuracy on fresh instances ...
PROBE_CARRIES = 0.9
#: ... and the control (the same probe on the token embedding alone) stays within this of chance.
PROBE_CONTROL_SLACK = 0.1


# ----------------------------------------------------------------------------- task formats and data
def recall_format(pairs: int, letters: int = LETTERS, digits: int = DIGITS) -> ARConfig:
    """Query-last recall with ``pairs`` key-value pairs, keys from ``letters``, values from ``digits``."""
    return ARConfig(num_keys=letters, num_values=digits, num_pairs=pairs, num_queries=1, query="last")


def copy_format(length: int, alphabet: int = DIGITS) -> CopyConfig:
    """Copying of strings of ``length`` symbols from ``alphabet``."""
    return CopyConfig(alphabet=alphabet, length=length)


def check_format(config) -> None:
    if not isinstance(config, (ARConfig, CopyConfig)):
        raise ConfigError(f"task format must be an ARConfig or a CopyConfig, got {type(config).__name__}")


def vocab_size(config: ARConfig | CopyConfig) -> int:
    check_format(config)
    return config.vocabulary().size


def sequence_length(config: ARConfig | CopyConfig) -> int:
    check_format(config)
    return config.length if isinstance(config, ARConfig) else config.sequence_length


def chance_accuracy(config: ARConfig | CopyConfig) -> float:
    """Per-answer accuracy of guessing uniformly among the possible answers (values or symbols)."""
    check_format(config)
    return 1.0 / (config.num_values if isinstance(config, ARConfig) else config.alphabet)


def scored_positions(config: ARConfig | CopyConfig) -> torch.Tensor:
    """Positions whose prediction is scored: the recall answer positions, or the copy positions
    ``n+1 .. 2n`` (SEP and the first ``n-1`` copied symbols) that predict ``x_1 .. x_n``."""
    check_format(config)
    if isinstance(config, ARConfig):
        return config.answer_positions()
    return config.answer_positions()[:-1]


@dataclass
class TaskTensors:
    """Training tensors of a batch of instances: ``tokens (count, L)``, ``targets (count, L)`` with
    :data:`IGNORE` off the scored positions; ``instances`` is the generator's batch."""

    config: ARConfig | CopyConfig
    tokens: torch.Tensor
    targets: torch.Tensor
    instances: object

    @property
    def data(self) -> tuple[torch.Tensor, torch.Tensor]:
        return self.tokens, self.targets

    def __len__(self) -> int:
        return self.tokens.shape[0]


def answer_mask(inputs: torch.Tensor, targets: torch.Tensor) -> torch.Tensor:
    """The trainer's ``positions`` callback: the scored positions are those with a target."""
    return targets != IGNORE


def instance_tensors(config: ARConfig | CopyConfig, instances) -> TaskTensors:
    """Tensors of given instances (an ``ARBatch`` or ``CopyBatch`` of ``config``)."""
    check_format(config)
    tokens = instances.tokens
    targets = torch.full_like(tokens, IGNORE)
    positions = scored_positions(config)
    if isinstance(config, ARConfig):
        targets[:, positions] = instances.answers
    else:
        targets[:, positions] = instances.strings
    return TaskTensors(config, tokens, targets, instances)


def task_tensors(config: ARConfig | CopyConfig, count: int, seed: int) -> TaskTensors:
    """``count`` instances from the suite's seeded generator, as training tensors."""
    check_format(config)
    require_int("count", count, 1)
    module = ar if isinstance(config, ARConfig) else copying
    return instance_tensors(config, module.generate(config, count, seed))


@torch.no_grad()
def answer_correctness(model: nn.Module, tensors: TaskTensors, batch_size: int = 1024) -> torch.Tensor:
    """``(count, answers)`` bool: is the argmax prediction at each scored position the target?"""
    device = next(model.parameters()).device
    positions = scored_positions(tensors.config).to(device)
    was_training, rows = model.training, []
    model.eval()
    try:
        for start in range(0, len(tensors), batch_size):
            tokens = tensors.tokens[start : start + batch_size].to(device)
            targets = tensors.targets[start : start + batch_size].to(device)
            predicted = model(tokens)[:, positions].argmax(-1)  # (batch, answers)
            rows.append((predicted == targets[:, positions]).cpu())
    finally:
        model.train(was_training)
    return torch.cat(rows)


def accuracies(model: nn.Module, tensors: TaskTensors) -> tuple[float, float]:
    """``(per-answer-token accuracy, instance accuracy)`` of ``model`` on ``tensors``."""
    correct = answer_correctness(model, tensors)
    return float(correct.float().mean()), float(correct.all(-1).float().mean())


# ----------------------------------------------------------------------------- models
@dataclass(frozen=True)
class ModelSpec:
    """One model of the comparison. ``family``: ``"ssm"`` or ``"transformer"`` (size-matched;
    ``layers``/``fnn_depth``/``ssm_kind`` then unused)."""

    family: str
    layers: int = 2
    fnn_depth: int = 1
    ssm_kind: str = "diagonal"

    def __post_init__(self):
        require_option("model family", self.family, ("ssm", "transformer"))
        require_int("layers", self.layers, 1)
        require_int("fnn_depth", self.fnn_depth, 0)
        require_option("ssm_kind", self.ssm_kind, ("diagonal", "dense"))

    @property
    def name(self) -> str:
        if self.family == "transformer":
            return "transformer"
        kind = "" if self.ssm_kind == "diagonal" else "-dense"
        return f"ssm{self.layers}-" + ("linear" if self.fnn_depth == 0 else f"fnn{self.fnn_depth}") + kind


def ssm(layers: int, fnn_depth: int, ssm_kind: str = "diagonal") -> ModelSpec:
    return ModelSpec("ssm", layers, fnn_depth, ssm_kind)


TRANSFORMER = ModelSpec("transformer")
#: the two-layer SSM+FNN a Transformer is size-matched to (FNN depth 2)
MATCHED_TO = ssm(2, 2)
#: every model of Fig. C.1 and the ablations
FIG_C1_MODELS = (ssm(1, 2), ssm(2, 1), ssm(2, 2), ssm(2, 4), TRANSFORMER)
ABLATION_MODELS = (ssm(2, 0), ssm(2, 2, "dense"))


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

    def train_config(self, seed: int, spec: ModelSpec | None = None) -> TrainConfig:
        lr = self.transformer_lr if spec is not None and spec.family == "transformer" and self.transformer_lr else self.lr
        return TrainConfig(steps=self.steps, batch_size=self.batch_size, lr=lr, weight_decay=0.0, seed=seed,
                           loss="cross_entropy", positions=answer_mask, warmup_steps=min(50, self.steps // 10),
                           eval_every=max(1, self.steps // 4), autocast=self.autocast)

    def data(self, size: int, seed: int) -> tuple[TaskTensors, TaskTensors, TaskTensors]:
        """Training, (fresh) test and (fresh) monitoring instances of one size and seed; the same for
        every model. The :data:`MONITORED_INSTANCES` monitoring instances come from a seed of their
        own, so neither the training nor the scored test instances decide :func:`is_still_improving`."""
        config = self.task_config(size)
        return (task_tensors(config, self.train_instances, 1_000_003 * seed + 2 * size),
                task_tensors(config, self.test_instances, 1_000_003 * seed + 2 * size + 1),
                task_tensors(config, MONITORED_INSTANCES, MONITOR_SEED_OFFSET + 1_000_003 * seed + size))


# ----------------------------------------------------------------------------- the sweep
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
    final_train_loss: float
    wall_time_s: float
    #: the training-loss curve (step, mean loss since the previous record), the accuracy on the
    #: monitoring instances at the same steps, and :func:`is_still_improving` of the latter
    curve: list = field(default_factory=list)
    accuracy_curve: list = field(default_factory=list)
    still_improving: bool = False


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


def is_still_improving(accuracy_curve) -> bool:
    """Does the last monitored accuracy of ``[(step, accuracy), ...]`` exceed every earlier one by
    more than :data:`STILL_IMPROVING`?"""
    return len(accuracy_curve) >= 2 and accuracy_curve[-1][1] - max(a for _, a in accuracy_curve[:-1]) > STILL_IMPROVING


def train_one(setup: SweepSetup, spec: ModelSpec, size: int, seed: int, device: torch.device,
              data: tuple[TaskTensors, TaskTensors, TaskTensors]) -> tuple[SweepPoint, nn.Module]:
    """Initialise ``spec`` from ``seed``, train it on ``data[0]``, measure it on ``data[1]``; its
    accuracy on ``data[2]`` is monitored at every curve record."""
    set_seed(seed)
    model = setup.build(spec, size).to(device)
    monitored = data[2]
    start = time.perf_counter()
    result = train(model, data[0].data, setup.train_config(seed, spec), monitor=lambda m: accuracies(m, monitored)[0])
    token, instance = accuracies(model, data[1])
    curve = [(step, loss) for step, loss, _ in result.curve]
    point = SweepPoint(setup.task, size, spec.name, seed, token, instance, count_parameters(model),
                       result.final_train_loss, time.perf_counter() - start, curve, result.monitored,
                       is_still_improving(result.monitored))
    return point, model


def run_sweep(setup: SweepSetup, device: torch.device | str = "cpu", models: tuple[ModelSpec, ...] | None = None,
              cache: dict | None = None) -> Sweep:
    """Train and measure every (size, seed, model) of ``setup`` (or only ``models``), module docstring.

    ``cache``: a dict reused across calls with the same setup and device; a (model, size, seed)
    already trained is taken from it (training is deterministic, so this changes nothing but the
    time). On the CPU torch runs on one thread (tiny models: more threads only contend).
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
            for seed in setup.seeds:
                data = None
                for spec in wanted:
                    key = (setup, spec, size, seed, str(device))
                    if key not in cache:
                        data = data or setup.data(size, seed)
                        cache[key] = train_one(setup, spec, size, seed, device, data)
                    point, model = cache[key]
                    sweep.points.append(point)
                    sweep.models[(spec.name, size, seed)] = model
        return sweep


def accuracy_table(points: list[SweepPoint], metric: str = "token_accuracy") -> dict[str, dict[int, list[float]]]:
    require_option("accuracy metric", metric, ("token_accuracy", "instance_accuracy"))
    table: dict[str, dict[int, list[float]]] = {}
    for p in sorted(points, key=lambda p: (p.model, p.size, p.seed)):
        table.setdefault(p.model, {}).setdefault(p.size, []).append(getattr(p, metric))
    return table


# ----------------------------------------------------------------------------- verdicts
def decisive_sizes(sizes) -> list[int]:
    """The larger half of the task sizes (the largest one at least): where the claim should show."""
    ordered = sorted(sizes)
    return ordered[len(ordered) // 2 :]


def _check_table(table: dict, names: list[str]) -> list[int]:
    missing = [n for n in names if n not in table]
    if missing:
        raise ValueError(f"the accuracy table has no rows for {missing}; it has {sorted(table)}")
    sizes = sorted(table[names[0]])
    for n in names:
        if sorted(table[n]) != sizes or any(len(table[n][s]) != len(table[names[0]][s]) for s in sizes):
            raise ValueError(f"models {names} must have the same sizes and number of seeds to be paired")
    return sizes


def paired_difference(table: dict, better: str, worse: str, sizes: list[int]) -> Interval:
    """Interval of ``acc(better) - acc(worse)`` over the (size, seed) pairs of ``sizes``."""
    return mean_interval([b - w for s in sizes for b, w in zip(table[better][s], table[worse][s])])


def mean_over(table: dict, name: str, sizes: list[int]) -> float:
    return statistics.fmean(v for s in sizes for v in table[name][s])


@dataclass
class Verdict:
    verdict: str  # "holds" | "fails" | "inconclusive"
    reason: str
    details: dict = field(default_factory=dict)


def learned_accuracy(chance: float) -> float:
    """The mean accuracy from which a model counts as having learned a task (:data:`LEARNED_FRACTION`)."""
    return chance + LEARNED_FRACTION * (1 - chance)


def _seeds_and_learning(table: dict, names: list[str], sizes: list[int], chance: float) -> str | None:
    """The reason the comparison cannot be decided at all (too few seeds, nothing learned), or None."""
    seeds = min(len(table[names[0]][s]) for s in sizes)
    if seeds < MIN_SEEDS:
        return f"{seeds} seed(s): an interval needs at least {MIN_SEEDS}"
    learned = learned_accuracy(chance)
    if max(mean_over(table, n, [s]) for n in names for s in sizes) < learned:
        return f"no model learned the task (no mean accuracy reached {learned:.3f}, chance {chance:.3f})"
    return None


def best_two_layer(table: dict, candidates: list[str], sizes: list[int]) -> str:
    """The two-layer model (FNN depth) with the highest mean accuracy on ``sizes`` (ties: first)."""
    return max(candidates, key=lambda n: mean_over(table, n, sizes))


@dataclass(frozen=True)
class Part:
    """One paired comparison inside a verdict: its text, its own verdict, and the models whose further
    training could overturn that verdict (more training is taken to raise a model's accuracy)."""

    text: str
    verdict: str
    overturned_by: tuple[str, ...]


def beats(table: dict, better: str, worse: str, sizes: list[int]) -> Part:
    """"``better`` is more accurate than ``worse`` by at least :data:`MIN_ADVANTAGE`": the paired
    interval at or above it holds (``worse`` still improving could overturn that), wholly below it
    fails (``better`` still improving could overturn that)."""
    gain = paired_difference(table, better, worse, sizes)
    verdict = side_verdict(gain.low, gain.high, MIN_ADVANTAGE, "above")
    return Part(f"{better} - {worse} = {gain} against >= {MIN_ADVANTAGE} ({verdict})", verdict,
                (worse,) if verdict == "holds" else (better,) if verdict == "fails" else ())


def matches(table: dict, model: str, reference: str, sizes: list[int]) -> Part:
    """"``model`` is about as accurate as ``reference``": the paired interval of the difference
    inside ``+-TRANSFORMER_MARGIN`` holds (either still improving could pull them apart), wholly below
    or above it fails (the one behind still improving could overturn that)."""
    gap = paired_difference(table, model, reference, sizes)
    verdict = margin_verdict(gap.low, gap.high, TRANSFORMER_MARGIN)
    behind = model if gap.high < 0 else reference
    return Part(f"{model} - {reference} = {gap} against +-{TRANSFORMER_MARGIN} ({verdict})", verdict,
                (model, reference) if verdict == "holds" else (behind,) if verdict == "fails" else ())


def downgrade_if_still_improving(parts: list[Part], still_improving) -> tuple[str, str]:
    """``(verdict, note)`` of the parts together: ``fails`` when some part fails, ``holds`` when all
    hold, else ``inconclusive``; then a ``holds`` becomes ``inconclusive`` when a model that could
    overturn some part is still improving (:data:`STILL_IMPROVING`), and a ``fails`` when every failing
    part could be overturned so. ``note`` names those models (empty when nothing was downgraded)."""
    verdicts = [p.verdict for p in parts]
    verdict = "fails" if "fails" in verdicts else "holds" if all(v == "holds" for v in verdicts) else "inconclusive"
    improving = set(still_improving)
    if verdict == "holds":
        risky = sorted({m for p in parts for m in p.overturned_by if m in improving})
    elif verdict == "fails":
        failing = [p for p in parts if p.verdict == "fails"]
        at_risk = [sorted(m for m in p.overturned_by if m in improving) for p in failing]
        risky = sorted({m for ms in at_risk for m in ms}) if all(at_risk) else []
    else:
        risky = []
    if not risky:
        return verdict, ""
    return "inconclusive", (f"it would {'hold' if verdict == 'holds' else 'fail'}, but {', '.join(risky)} "
                            f"{'was' if len(risky) == 1 else 'were'} still improving (monitored accuracy at the end "
                            f"above every earlier record by more than {STILL_IMPROVING}), so more training could "
                            "overturn it")


def ordering_verdict(table: dict, *, one_layer: str, two_layer: list[str], transformer: str,
                     chance: float, still_improving=()) -> Verdict:
    """Fig. C.1's ordering, two-layer SSM+FNN (best FNN depth) ~ Transformer > one-layer SSM+FNN.

    On :func:`decisive_sizes`, from paired 95% intervals over (size, seed): (two - one) at least
    :data:`MIN_ADVANTAGE` (:func:`beats`) and (two - Transformer) within ``+-TRANSFORMER_MARGIN``
    (:func:`matches`, two-sided); ``holds`` when both hold, ``fails`` when either fails,
    ``inconclusive`` otherwise, then :func:`downgrade_if_still_improving`. ``inconclusive`` before
    any of that with fewer than :data:`MIN_SEEDS` seeds, when no model learned the task, when the
    Transformer did not (its mean below :func:`learned_accuracy`: nothing to be comparable to), or
    when the one- and two-layer models are both at :data:`CEILING`. Selecting the best depth on the
    test accuracies favours the two-layer side slightly; the selected depth is reported.
    """
    if not two_layer:
        raise ValueError("ordering_verdict needs at least one two-layer model")
    names = [one_layer, *two_layer, transformer]
    sizes = decisive_sizes(_check_table(table, names))
    blocker = _seeds_and_learning(table, names, sizes, chance)
    if blocker:
        return Verdict("inconclusive", blocker, {"sizes": sizes})
    best = best_two_layer(table, two_layer, sizes)
    means = {n: mean_over(table, n, sizes) for n in names}
    parts = [beats(table, best, one_layer, sizes), matches(table, best, transformer, sizes)]
    details = {"sizes": sizes, "best_two_layer": best, "means": means,
               "two_minus_one": asdict(paired_difference(table, best, one_layer, sizes)),
               "two_minus_transformer": asdict(paired_difference(table, best, transformer, sizes)),
               "parts": [asdict(p) for p in parts], "still_improving": sorted(still_improving)}
    text = (f"sizes {sizes}: " + "; ".join(p.text for p in parts) + "; means "
            + ", ".join(f"{n} {m:.3f}" for n, m in means.items()))
    learned = learned_accuracy(chance)
    if means[transformer] < learned:
        return Verdict("inconclusive", f"{text}: the Transformer did not learn the task (mean {means[transformer]:.3f} "
                       f"< {learned:.3f}, chance {chance:.3f}), so there is nothing to be comparable to", details)
    if means[one_layer] >= CEILING and means[best] >= CEILING:
        return Verdict("inconclusive", f"{text}: one- and two-layer models both at the ceiling {CEILING}: "
                       "these sizes are too easy to separate them", details)
    verdict, note = downgrade_if_still_improving(parts, still_improving)
    return Verdict(verdict, f"{text}: {note}" if note else text, details)


def nonlinearity_verdict(table: dict, *, linear: str, nonlinear: str, chance: float, still_improving=()) -> Verdict:
    """The ablation: two SSM layers without FNN nonlinearity (``linear``) against the same with it.

    On :func:`decisive_sizes`: (nonlinear - linear) at least :data:`MIN_ADVANTAGE` by its paired 95%
    interval (:func:`beats`: at or above holds, wholly below fails, across inconclusive), then
    :func:`downgrade_if_still_improving` (a ``holds`` is overturned by the linear model still
    improving, a ``fails`` by the nonlinear one). ``inconclusive`` before that with fewer than
    :data:`MIN_SEEDS` seeds, when the nonlinear model did not learn the task (then its advantage says
    nothing), or when both are at :data:`CEILING`.
    """
    names = [nonlinear, linear]
    sizes = decisive_sizes(_check_table(table, names))
    blocker = _seeds_and_learning(table, [nonlinear], sizes, chance)
    if blocker:
        return Verdict("inconclusive", f"{blocker} (the nonlinear model {nonlinear})", {"sizes": sizes})
    part = beats(table, nonlinear, linear, sizes)
    means = {n: mean_over(table, n, sizes) for n in names}
    details = {"sizes": sizes, "means": means,
               "nonlinear_minus_linear": asdict(paired_difference(table, nonlinear, linear, sizes)),
               "parts": [asdict(part)], "still_improving": sorted(still_improving)}
    text = f"sizes {sizes}: {part.text}; means " + ", ".join(f"{n} {m:.3f}" for n, m in means.items())
    if means[linear] >= CEILING and means[nonlinear] >= CEILING:
        return Verdict("inconclusive", f"{text}: both at the ceiling {CEILING}", details)
    verdict, note = downgrade_if_still_improving([part], still_improving)
    return Verdict(verdict, f"{text}: {note}" if note else text, details)


# ----------------------------------------------------------------------------- probe of layer 1
def layer_streams(model: SSMFNN, tokens: torch.Tensor) -> list[torch.Tensor]:
    """The residual stream of an :class:`SSMFNN` after the embedding and after each block:
    ``[z_0, z_1, ..., z_M]``, each ``(batch, L, width)``."""
    z = model.embed(tokens)
    streams = [z]
    for block in model.blocks:
        z = block(z)
        streams.append(z)
    return streams


def probe_accuracy(train_features: torch.Tensor, train_labels: torch.Tensor, test_features: torch.Tensor,
                   test_labels: torch.Tensor, classes: int, ridge: float = 1e-3) -> float:
    """A linear probe: ridge least squares from features (with a bias) to one-hot labels, fitted on
    the training rows, argmax-decoded on the test rows; returns the test accuracy.
    ``*_features: (rows, F)``, ``*_labels: (rows,)`` in ``[0, classes)``."""
    if train_features.dim() != 2 or train_features.shape[0] != train_labels.shape[0]:
        raise ValueError(f"features (rows, F) and labels (rows,) must match, got {tuple(train_features.shape)} "
                         f"and {tuple(train_labels.shape)}")

    def with_bias(x):
        x = x.double()
        return torch.cat([x, torch.ones(x.shape[0], 1, dtype=x.dtype, device=x.device)], dim=1)

    X, Y = with_bias(train_features), nn.functional.one_hot(train_labels, classes).double()
    gram = X.T @ X + ridge * X.shape[0] * torch.eye(X.shape[1], dtype=X.dtype, device=X.device)
    W = torch.linalg.solve(gram, X.T @ Y)
    return float((with_bias(test_features) @ W).argmax(-1).eq(test_labels).double().mean())


def previous_key_rows(config: ARConfig, tokens: torch.Tensor, stream: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
    """Rows of ``stream (batch, L, F)`` at the value positions of the pairs, and the key index
    at the position before each (the "shifted key" of the construction): ``(batch * N, F)``, ``(batch * N,)``."""
    values_at = torch.arange(config.num_pairs, device=tokens.device) * config.pair_length + config.key_length
    keys = tokens[:, values_at - 1] - config.vocabulary().offset("key")
    return stream[:, values_at].reshape(-1, stream.shape[-1]), keys.reshape(-1)


@torch.no_grad()
def previous_key_probe(model: SSMFNN, config: ARConfig, train_count: int = 2048, test_count: int = 1024,
                       seed: int = 7) -> dict:
    """Does the layer-1 stream at a value position carry the key just before it (linearly)?

    Fits :func:`probe_accuracy` on fresh recall instances for the stream after the embedding
    (``embedding``: the control, a value's embedding says nothing about its key, so about chance)
    and after each block (``layer1``, ...). ``chance``: ``1 / num_keys``.
    """
    if not isinstance(config, ARConfig) or config.query != "last" or config.key_length != 1:
        raise ConfigError(f"the previous-key probe needs a query-last recall format with 1-token keys, got {config}")
    device = next(model.parameters()).device
    was_training = model.training
    model.eval()
    try:
        rows = []
        for count, offset in ((train_count, 0), (test_count, 1)):
            tokens = task_tensors(config, count, seed * 2 + offset).tokens.to(device)
            rows.append([previous_key_rows(config, tokens, z) for z in layer_streams(model, tokens)])
    finally:
        model.train(was_training)
    names = ["embedding"] + [f"layer{i}" for i in range(1, len(rows[0]))]
    out = {name: probe_accuracy(*train, *test, classes=config.num_keys)
           for name, train, test in zip(names, rows[0], rows[1])}
    return {**out, "chance": 1.0 / config.num_keys}


# ----------------------------------------------------------------------------- whole-distribution checks
def every_instance(config: ARConfig | CopyConfig, limit: int = 1 << 16) -> TaskTensors:
    """Every instance of a small format as tensors (recall: :func:`~constructions.tasks.associative_recall.enumerate_instances`;
    copy: every string). Raises :class:`~constructions.errors.InfeasibleTaskError` above ``limit``."""
    check_format(config)
    if isinstance(config, ARConfig):
        return instance_tensors(config, ar.enumerate_instances(config, limit))
    if config.alphabet**config.length > limit:
        raise InfeasibleTaskError(f"{config} has {config.alphabet ** config.length} strings, more than {limit}")
    return instance_tensors(config, copying.assemble(config, copying.all_strings(config.alphabet, config.length)))


# ----------------------------------------------------------------------------- evidence and figures
def summary(sweep: Sweep) -> dict:
    """JSON-ready evidence: the setup, every point, and per model and size the mean accuracies
    with the seeds' spread (min, max) and the parameter count."""
    setup = sweep.setup
    out = {"setup": {**asdict(setup), "models": [m.name for m in setup.models], "matched_to": setup.matched_to.name},
           "formats": {size: str(setup.task_config(size)) for size in setup.sizes},
           "chance": {size: chance_accuracy(setup.task_config(size)) for size in setup.sizes},
           "points": [asdict(p) for p in sweep.points], "models": {}}
    for name in sorted({p.model for p in sweep.points}):
        mine = [p for p in sweep.points if p.model == name]
        out["models"][name] = {"parameters": {p.size: p.parameters for p in mine}, "by_size": {}}
        for size in sorted({p.size for p in mine}):
            at = [p for p in mine if p.size == size]
            out["models"][name]["by_size"][size] = {
                "token_accuracy": statistics.fmean(p.token_accuracy for p in at),
                "instance_accuracy": statistics.fmean(p.instance_accuracy for p in at),
                "token_accuracy_range": [min(p.token_accuracy for p in at), max(p.token_accuracy for p in at)],
                "seeds": len(at)}
    return out


def figure_spec(sweep: Sweep, metric: str = "token_accuracy") -> dict:
    """Report figure (``reports/figures.py`` format): mean accuracy against the task size, one series
    per model; the 95% t-interval over seeds is drawn as two dashed curves in the series' colour
    (the format's ``fits``), where there are at least two seeds."""
    setup = sweep.setup
    size_name = "number of pairs K" if setup.task == "recall" else "string length n"
    task = "associative recall (query last)" if setup.task == "recall" else "copying (teacher forcing)"
    spec = {"name": f"fig-c1-{setup.task}-{metric.replace('_', '-')}",
            "title": f"Fig. C.1 setting: {task}, {metric.replace('_', ' ')} on fresh instances",
            "xlabel": size_name, "ylabel": metric.replace("_", " "), "xscale": "linear", "yscale": "linear",
            "series": [], "fits": [],
            "note": f"mean over seeds {list(setup.seeds)}; dashed: 95% t-interval; chance "
                    + ", ".join(f"{chance_accuracy(setup.task_config(s)):.2f}" for s in sorted(set(setup.sizes)))}
    for name, rows in sweep.table(metric).items():
        sizes = sorted(rows)
        spec["series"].append({"label": name, "x": sizes, "y": [statistics.fmean(rows[s]) for s in sizes]})
        if all(len(rows[s]) >= 2 for s in sizes):
            intervals = [mean_interval(rows[s]) for s in sizes]
            for side in ("low", "high"):
                spec["fits"].append({"label": f"95% {side}", "of": name, "x": sizes,
                                     "y": [min(1.0, max(0.0, getattr(i, side))) for i in intervals]})
    return {f"figure:{spec['name']}": spec}
