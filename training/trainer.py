"""Seeded training and evaluation of the models in :mod:`training.models`.

Data are pairs of tensors ``(inputs, targets)`` with the same first (example) dimension:

* inputs: ``(n, L, in_features)`` floats or ``(n, L)`` token ids, as the model takes them;
* targets, ``loss="mse"``: ``(n, L, out_features)`` floats (every position), or ``(n, out_features)``
  (the last position only; allowed with ``positions="last"``);
* targets, ``loss="cross_entropy"``: ``(n, L)`` class ids, or ``(n,)`` with ``positions="last"``;
  the model's ``out_features`` is the number of classes (its outputs are logits).

``positions`` says which outputs are scored: ``"last"`` (position ``L - 1``: regression of one
value per sequence), ``"all"`` (every position: next-token style), or a callback
``mask(inputs, targets) -> bool (n, L)`` (e.g. only the answer positions of a copying or recall
instance). A loss is the mean over the scored entries (positions x output features for MSE,
positions for cross entropy).

Determinism: with the same seed, the same model initialisation (call :func:`set_seed` before
building the model) and the same number of CPU threads, two runs on the CPU give identical
learning curves. Minibatches come from a ``torch.Generator`` seeded with ``config.seed``, never
from the global RNG. On CUDA some kernels (FFT, index backward) are not bit-reproducible.
"""

from __future__ import annotations

import math
import random
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import asdict, dataclass, field

import torch
import torch.nn.functional as F
from torch import nn

from constructions.errors import ShapeError

from .models import ConfigError, count_parameters, require_int, require_option
from .plateau import Plateau, plateau_stop

PositionMask = Callable[[torch.Tensor, torch.Tensor], torch.Tensor]
Positions = str | PositionMask
Data = tuple[torch.Tensor, torch.Tensor]

LOSSES: tuple[str, ...] = ("mse", "cross_entropy")
POSITIONS: tuple[str, ...] = ("last", "all")
SCHEDULES: tuple[str, ...] = ("cosine", "constant")


# ----------------------------------------------------------------------------- config
@dataclass(frozen=True)
class TrainConfig:
    """How to train; validated on construction (:class:`~training.models.ConfigError`).

    ``steps``: optimizer steps. ``batch_size``: examples per step, drawn without replacement
    epoch by epoch (a remainder smaller than a batch is skipped); ``None`` or ``>= n``: full batch.
    ``lr``, ``weight_decay``: AdamW's (decay applies to Linear and Embedding weights only, never
    to SSM parameters, biases or norms). ``seed``: the minibatch generator's seed.
    ``loss``: ``"mse"`` or ``"cross_entropy"``. ``positions``: ``"last"``, ``"all"`` or a mask
    callback (module docstring). ``grad_clip``: max global gradient norm (``None``: no clipping).
    ``schedule``: ``"cosine"`` (to 0 at ``steps``) or ``"constant"``, after ``warmup_steps`` of
    linear warm-up. ``eval_every``: steps between learning-curve records. ``eval_batch_size``:
    examples per forward pass in :func:`evaluate`. ``final_train_examples``: the final training loss
    (and accuracy) are measured on the first this many training examples, ``None``: on all of them
    (:func:`finish`); for i.i.d. examples the first ones are a uniform sample of the set.
    ``plateau``: a :class:`~training.plateau.Plateau` stopping rule applied to :func:`train`'s
    ``monitor`` (a held-out accuracy) at every record, ``eval_every`` steps apart; ``steps`` is then
    the cap (``None``: always ``steps`` steps). The learning-rate schedule is laid out over the cap
    either way, so a run stopped early has the schedule's rate at its stopping step.

    With ``positions="last"`` a model that can skip positions is asked for the last one only.
    ``columns``: the scored positions as fixed columns, the same in every example (a format's answer
    positions), or ``None``. With them a training step asks the model only for the outputs at these
    columns: ``model(inputs, at=columns)`` for a model that can skip the others
    (:attr:`~training.models.SSMFNN.selects_positions`: its last block's FNN and the readout then run at
    these tokens only; the same outputs, less work), ``model(inputs)[:, columns]`` otherwise; the loss
    is over these columns, and ``positions`` must select exactly them (checked on the first batch).

    ``autocast``: bfloat16 autocast of the training forward pass, **on CUDA only** (ignored on the
    CPU; :attr:`TrainResult.autocast` records whether it was used). bfloat16 keeps 8 significant
    bits (relative rounding ~4e-3), so curves with and without it agree only to about 1e-2
    relative, never bit for bit; SSM FFT convolutions run in float32 regardless, and final losses
    are always evaluated without autocast.
    """

    steps: int = 1000
    batch_size: int | None = 64
    lr: float = 1e-3
    weight_decay: float = 0.0
    seed: int = 0
    loss: str = "mse"
    positions: Positions = "last"
    grad_clip: float | None = 1.0
    schedule: str = "cosine"
    warmup_steps: int = 0
    eval_every: int = 100
    eval_batch_size: int = 1024
    autocast: bool = False
    final_train_examples: int | None = None
    plateau: Plateau | None = None
    columns: tuple[int, ...] | None = None

    def __post_init__(self):
        for name in ("steps", "eval_every", "eval_batch_size"):
            require_int(name, getattr(self, name), 1)
        if self.final_train_examples is not None:
            require_int("final_train_examples", self.final_train_examples, 1)
        require_int("warmup_steps", self.warmup_steps, 0)
        require_int("seed", self.seed, 0)
        if self.batch_size is not None:
            require_int("batch_size", self.batch_size, 1)
        if not self.lr > 0:
            raise ConfigError(f"lr must be positive, got {self.lr!r}")
        if not self.weight_decay >= 0:
            raise ConfigError(f"weight_decay must be >= 0, got {self.weight_decay!r}")
        if self.grad_clip is not None and not self.grad_clip > 0:
            raise ConfigError(f"grad_clip must be positive or None, got {self.grad_clip!r}")
        require_option("loss", self.loss, LOSSES)
        require_option("schedule", self.schedule, SCHEDULES)
        check_positions(self.positions)
        if self.plateau is not None and not isinstance(self.plateau, Plateau):
            raise ConfigError(f"plateau must be a training.plateau.Plateau or None, got {type(self.plateau).__name__}")
        if self.columns is not None:
            if not isinstance(self.columns, tuple) or not self.columns or self.positions == "last":
                raise ConfigError(f"columns must be a non-empty tuple of positions (with positions 'all' or a mask), "
                                  f"got {self.columns!r} with positions {self.positions!r}")
            for column in self.columns:
                require_int("a scored column", column, 0)

    def as_dict(self) -> dict:
        """JSON-friendly copy; a ``positions`` callback is recorded by its qualified name."""
        out = asdict(self)
        if callable(self.positions):
            out["positions"] = f"<mask {getattr(self.positions, '__qualname__', repr(self.positions))}>"
        return out


def check_positions(positions) -> None:
    if not callable(positions):
        require_option("positions", positions, POSITIONS)


# ----------------------------------------------------------------------------- result
@dataclass
class TrainResult:
    """What :func:`train` measured.

    ``curve``: ``(step, train_loss, eval_loss)`` every ``eval_every`` steps and at the last step;
    ``train_loss`` is the mean minibatch loss since the previous record, ``eval_loss`` the loss on
    the whole eval set (``None`` without one). ``final_train_loss`` / ``final_eval_loss``: losses of
    the final model on the whole training set (its first ``config.final_train_examples`` when set) /
    the whole eval set; accuracies (argmax = target at the scored positions) only for cross entropy.
    ``wall_time_s``: the whole call, evaluations included.
    ``config``: :meth:`TrainConfig.as_dict`. ``autocast``: whether bf16 autocast was used.
    ``monitored``: ``(step, value)`` of :func:`train`'s ``monitor`` at every curve record (empty
    without one). ``steps_used``: optimizer steps taken; ``stop_reason``: ``"max-steps"`` (the
    configured ``steps``), or ``"plateau"`` / ``"target"`` when ``config.plateau`` stopped the run
    (:mod:`training.plateau`). ``extra``: free-form metadata the caller may attach (task config, sample size ...).
    """

    curve: list[tuple[int, float, float | None]]
    final_train_loss: float
    final_eval_loss: float | None
    wall_time_s: float
    config: dict
    parameters: int
    device: str
    autocast: bool
    final_train_accuracy: float | None = None
    final_eval_accuracy: float | None = None
    monitored: list[tuple[int, float]] = field(default_factory=list)
    steps_used: int = 0
    stop_reason: str = "max-steps"
    extra: dict = field(default_factory=dict)

    def to_dict(self) -> dict:
        return asdict(self)


# ----------------------------------------------------------------------------- helpers
def set_seed(seed: int) -> None:
    """Seed Python's, NumPy's (if installed) and torch's global RNGs (model initialisation)."""
    random.seed(seed)
    torch.manual_seed(seed)
    try:
        import numpy as np
    except ImportError:  # pragma: no cover - numpy is a dependency of the suite
        return
    np.random.seed(seed)


def model_device(model: nn.Module) -> torch.device:
    """The device of the model's first parameter (of its first buffer when it has no parameter)."""
    tensor = next(model.parameters(), None)
    return (tensor if tensor is not None else next(model.buffers())).device


def check_data(name: str, data: Data) -> None:
    if not (isinstance(data, (tuple, list)) and len(data) == 2 and all(isinstance(t, torch.Tensor) for t in data)):
        raise ShapeError(f"{name} must be a pair of tensors (inputs, targets), got {type(data).__name__}")
    inputs, targets = data
    if inputs.shape[0] != targets.shape[0] or inputs.shape[0] == 0:
        raise ShapeError(f"{name}: inputs and targets need the same, non-zero number of examples, "
                         f"got {tuple(inputs.shape)} and {tuple(targets.shape)}")


def position_mask(inputs: torch.Tensor, targets: torch.Tensor, positions: Positions, shape) -> torch.Tensor:
    """Bool ``(batch, L)`` mask of the scored positions for ``"all"`` or a callback."""
    if positions == "all":
        return torch.ones(shape, dtype=torch.bool, device=targets.device)
    mask = positions(inputs, targets)
    if mask.shape != shape or mask.dtype != torch.bool:
        raise ShapeError(f"a positions mask must be bool {tuple(shape)}, got {mask.dtype} {tuple(mask.shape)}")
    return mask


def scored(outputs: torch.Tensor, inputs: torch.Tensor, targets: torch.Tensor, loss: str,
           positions: Positions) -> tuple[torch.Tensor, torch.Tensor]:
    """The scored predictions and targets, flattened over examples and positions.

    ``outputs: (batch, L, F)``. Returns ``(K, F)`` and ``(K, F)`` for MSE, ``(K, F)`` logits and
    ``(K,)`` class ids for cross entropy, ``K`` the number of scored positions.
    """
    per_position = targets.dim() == outputs.dim() - (1 if loss == "cross_entropy" else 0)
    if positions == "last":
        pred, tgt = outputs[:, -1], (targets[:, -1] if per_position else targets)
    elif not per_position:
        raise ShapeError(f"positions={positions!r} needs targets for every position, "
                         f"got shape {tuple(targets.shape)}")
    else:
        mask = position_mask(inputs, targets, positions, outputs.shape[:2])
        pred, tgt = outputs[mask], targets[mask]
    expected = pred.shape if loss == "mse" else pred.shape[:-1]
    if tgt.shape != expected:
        raise ShapeError(f"{loss} targets at the scored positions have shape {tuple(tgt.shape)}, "
                         f"expected {tuple(expected)}")
    return pred, tgt


def loss_sum(pred: torch.Tensor, tgt: torch.Tensor, loss: str) -> tuple[torch.Tensor, int]:
    """Summed loss over the scored entries (computed in at least float32) and their number."""
    pred = pred if pred.dtype == torch.float64 else pred.float()
    if loss == "mse":
        return (pred - tgt.to(pred.dtype)).square().sum(), tgt.numel()
    return F.cross_entropy(pred, tgt.long(), reduction="sum"), tgt.numel()


def chunks(data: Data, size: int, device: torch.device) -> Iterator[Data]:
    inputs, targets = data
    for start in range(0, inputs.shape[0], size):
        yield inputs[start : start + size].to(device), targets[start : start + size].to(device)


# ----------------------------------------------------------------------------- evaluation
@contextmanager
def eval_mode(model: nn.Module) -> Iterator[nn.Module]:
    """``model`` in eval mode inside the ``with`` block; its training flag is restored after, also
    when the block raises. Every measurement of a model (here, in the experiments) runs in one."""
    was_training = model.training
    model.eval()
    try:
        yield model
    finally:
        model.train(was_training)


def outputs_at_last(model: nn.Module, inputs: torch.Tensor) -> torch.Tensor | None:
    """The output at the last position alone, ``(batch, 1, F)``, from a model that can skip the others
    (:attr:`~training.models.SSMFNN.selects_positions`); ``None`` for any other model."""
    if not getattr(model, "selects_positions", False):
        return None
    return model(inputs, at=torch.tensor([inputs.shape[1] - 1], device=inputs.device))


def eval_batches(model: nn.Module, data: Data, batch_size: int,
                 positions: Positions | None = None) -> Iterator[tuple[torch.Tensor, torch.Tensor, torch.Tensor]]:
    """``(inputs, targets, outputs)`` chunk by chunk (on the model's device) with the model in
    :func:`eval_mode`; the caller's ``no_grad`` covers the forward passes, which run as it iterates.
    ``positions="last"``: a model that can skip the other outputs does (``outputs`` then ``(batch, 1, F)``,
    which :func:`scored` reads the same way)."""
    with eval_mode(model):
        for inputs, targets in chunks(data, batch_size, model_device(model)):
            last = outputs_at_last(model, inputs) if positions == "last" else None
            yield inputs, targets, model(inputs) if last is None else last


@torch.no_grad()
def loss_and_accuracy(model: nn.Module, data: Data, loss: str = "mse", positions: Positions = "last",
                      batch_size: int = 1024) -> tuple[float, float | None]:
    """``(mean loss, accuracy)`` of ``model`` on all of ``data`` in one pass (no autocast): the
    values of :func:`evaluate` and, for cross entropy, :func:`accuracy` (``None`` for MSE)."""
    require_option("loss", loss, LOSSES)
    check_positions(positions)
    check_data("data", data)
    total, count, hits = 0.0, 0, 0
    for inputs, targets, outputs in eval_batches(model, data, batch_size, positions):
        pred, tgt = scored(outputs, inputs, targets, loss, positions)
        s, k = loss_sum(pred, tgt, loss)
        total, count = total + float(s), count + k
        if loss == "cross_entropy":
            hits += int((pred.argmax(-1) == tgt).sum())
    return total / count, (hits / count if loss == "cross_entropy" else None)


def evaluate(model: nn.Module, data: Data, loss: str = "mse", positions: Positions = "last",
             batch_size: int = 1024) -> float:
    """Mean ``loss`` of ``model`` on all of ``data`` at the scored ``positions`` (no autocast)."""
    return loss_and_accuracy(model, data, loss, positions, batch_size)[0]


@torch.no_grad()
def accuracy(model: nn.Module, data: Data, positions: Positions = "last", batch_size: int = 1024) -> float:
    """Fraction of scored positions whose argmax output is the target class (cross-entropy data)."""
    check_positions(positions)
    check_data("data", data)
    hits, count = 0, 0
    for inputs, targets, outputs in eval_batches(model, data, batch_size, positions):
        pred, tgt = scored(outputs, inputs, targets, "cross_entropy", positions)
        hits, count = hits + int((pred.argmax(-1) == tgt).sum()), count + tgt.numel()
    return hits / count


# ----------------------------------------------------------------------------- training
def batch_indices(n: int, batch_size: int | None, steps: int, generator: torch.Generator) -> Iterator[torch.Tensor]:
    """``steps`` index tensors: the whole set, or epochs of a seeded permutation cut into batches."""
    if batch_size is None or batch_size >= n:
        for _ in range(steps):
            yield torch.arange(n)
        return
    perm, start = torch.randperm(n, generator=generator), 0
    for _ in range(steps):
        if start + batch_size > n:
            perm, start = torch.randperm(n, generator=generator), 0
        yield perm[start : start + batch_size]
        start += batch_size


def make_optimizer(model: nn.Module, config: TrainConfig) -> torch.optim.AdamW:
    """AdamW; weight decay on the weights of Linear and Embedding modules only. The multi-tensor
    (``foreach``) update also on the CPU: these models have many small tensors, and the per-tensor
    loop took a third of a training step (4.5 vs 6.2 ms per step for the estimation SSM+FNN)."""
    decayed = {id(m.weight) for m in model.modules() if isinstance(m, (nn.Linear, nn.Embedding))}
    params = [p for p in model.parameters() if p.requires_grad]
    groups = [{"params": [p for p in params if id(p) in decayed], "weight_decay": config.weight_decay},
              {"params": [p for p in params if id(p) not in decayed], "weight_decay": 0.0}]
    return torch.optim.AdamW([g for g in groups if g["params"]], lr=config.lr, foreach=True)


def lr_factor(config: TrainConfig) -> Callable[[int], float]:
    """Multiplier of ``lr`` after ``step`` optimizer steps: linear warm-up, then cosine or constant."""
    def factor(step: int) -> float:
        if step < config.warmup_steps:
            return (step + 1) / config.warmup_steps
        if config.schedule == "constant":
            return 1.0
        progress = (step - config.warmup_steps) / max(1, config.steps - config.warmup_steps)
        return 0.5 * (1 + math.cos(math.pi * progress))
    return factor


def check_columns(inputs: torch.Tensor, targets: torch.Tensor, config: TrainConfig) -> None:
    """``config.columns`` must be exactly the positions ``config.positions`` scores in this batch."""
    shape = inputs.shape[:2]
    expected = torch.zeros(shape, dtype=torch.bool, device=targets.device)
    expected[:, list(config.columns)] = True
    if not torch.equal(position_mask(inputs, targets, config.positions, shape), expected):
        raise ConfigError(f"columns {config.columns} are not the positions {config.positions!r} scores")


def train_step(model: nn.Module, optimizer, scheduler, batch: Data, config: TrainConfig,
               use_autocast: bool) -> torch.Tensor:
    """One optimizer step on ``batch``; returns the (detached) mean loss."""
    inputs, targets = batch
    optimizer.zero_grad(set_to_none=True)
    with torch.autocast("cuda", dtype=torch.bfloat16, enabled=use_autocast):
        if config.positions == "last" and getattr(model, "selects_positions", False):
            outputs = outputs_at_last(model, inputs)  # (batch, 1, F)
        elif config.columns is None:
            outputs = model(inputs)
        else:
            columns = torch.tensor(config.columns, device=inputs.device)
            outputs = (model(inputs, at=columns) if getattr(model, "selects_positions", False)
                       else model(inputs)[:, columns])
            targets = targets[:, columns]
    positions = config.positions if config.columns is None else "all"
    total, count = loss_sum(*scored(outputs, inputs, targets, config.loss, positions), config.loss)
    loss = total / count
    loss.backward()
    if config.grad_clip is not None:
        nn.utils.clip_grad_norm_(model.parameters(), config.grad_clip)
    optimizer.step()
    scheduler.step()
    return loss.detach()


def train(model: nn.Module, train_data: Data, config: TrainConfig, eval_data: Data | None = None,
          monitor: Callable[[nn.Module], float] | None = None) -> TrainResult:
    """Train ``model`` in place on ``train_data`` (on the device of its parameters).

    Data stay where they are and are moved batch by batch. Returns the learning curve and the
    final losses (see :class:`TrainResult`). ``monitor(model)``, if given, is called at every curve
    record (e.g. an accuracy, to tell whether the model was still improving at the end); it must
    not change the model's parameters or draw from the global RNG, so training is unchanged.
    With ``config.plateau`` the monitor is required: its values decide when training stops
    (:func:`training.plateau.plateau_stop`), and the steps used and the reason are recorded.
    """
    check_data("train_data", train_data)
    if config.plateau is not None and monitor is None:
        raise ConfigError("a plateau stopping rule needs a monitor (the held-out accuracy it watches)")
    if eval_data is not None:
        check_data("eval_data", eval_data)
    start, device = time.perf_counter(), model_device(model)
    use_autocast = config.autocast and device.type == "cuda"
    optimizer = make_optimizer(model, config)
    scheduler = torch.optim.lr_scheduler.LambdaLR(optimizer, lr_factor(config))
    generator = torch.Generator().manual_seed(config.seed)

    def eval_loss(data: Data) -> float:
        return evaluate(model, data, config.loss, config.positions, config.eval_batch_size)

    model.train()
    curve, monitored, running, since = [], [], torch.zeros((), device=device, dtype=torch.float64), 0
    indices = batch_indices(train_data[0].shape[0], config.batch_size, config.steps, generator)
    step, stop = 0, None
    for step, idx in enumerate(indices, start=1):
        batch = (train_data[0][idx].to(device), train_data[1][idx].to(device))
        if step == 1 and config.columns is not None:
            check_columns(*batch, config)
        running, since = running + train_step(model, optimizer, scheduler, batch, config, use_autocast), since + 1
        if step % config.eval_every == 0 or step == config.steps:
            curve.append((step, float(running) / since, None if eval_data is None else eval_loss(eval_data)))
            if monitor is not None:
                monitored.append((step, float(monitor(model))))
                model.train()
            running, since = torch.zeros_like(running), 0
            if config.plateau is not None and (stop := plateau_stop([v for _, v in monitored], config.plateau)):
                break
    result = finish(model, train_data, eval_data, config, curve, start, use_autocast)
    result.monitored, result.steps_used, result.stop_reason = monitored, step, stop or "max-steps"
    return result


def finish(model, train_data, eval_data, config, curve, start, use_autocast) -> TrainResult:
    """Final losses (and accuracies for cross entropy) of the trained model, as a :class:`TrainResult`:
    one pass over the eval set and one over the training set, or over its first
    ``config.final_train_examples`` (at the thorough Fig. C.1 setup one pass over its 65,536 training
    instances took 20-35 s on a loaded CPU, the time of several hundred training steps)."""
    def losses(data):
        if data is None:
            return None, None
        return loss_and_accuracy(model, data, config.loss, config.positions, config.eval_batch_size)

    if config.final_train_examples is not None:
        train_data = (train_data[0][: config.final_train_examples], train_data[1][: config.final_train_examples])
    (train_loss, train_acc), (eval_loss, eval_acc) = losses(train_data), losses(eval_data)
    device = model_device(model)
    if device.type == "cuda":
        torch.cuda.synchronize(device)
    return TrainResult(curve=curve, final_train_loss=train_loss, final_eval_loss=eval_loss,
                       wall_time_s=time.perf_counter() - start, config=config.as_dict(),
                       parameters=count_parameters(model), device=str(device), autocast=use_autocast,
                       final_train_accuracy=train_acc, final_eval_accuracy=eval_acc)
