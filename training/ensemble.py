"""Batched ensembles: several models of one shape trained together, as if each were trained alone.

Small models on a CPU spend most of a training step in per-operation overhead (dispatch, autograd
bookkeeping, many small matrix products): a width-32 SSM+FNN on a batch of 256 short sequences runs
far below the machine's matrix-multiply peak. :func:`train_ensemble` stacks the parameters of ``S``
models of the same architecture (``torch.func.stack_module_state``) and runs their forward and
backward passes as one ``torch.vmap``-ed computation, so each operation is issued once for all members
on ``S`` times more data: fewer, larger products (``benchmarks/training_throughput.py`` measures the
gain in tokens per second per model).

**Equal to training each member alone** (:func:`~training.trainer.train` with the member's own
model, data and :class:`~training.trainer.TrainConfig`), up to floating-point reassociation:

* each member draws its minibatches from its own ``torch.Generator`` seeded with its config's seed
  (:func:`~training.trainer.batch_indices`), on its own data;
* the loss is the sum of the members' mean losses, so each member's gradient is that of its own loss
  (members share no parameter);
* gradient clipping is per member (the global norm of that member's gradients, as
  ``clip_grad_norm_``); AdamW is elementwise, so one optimizer over the stacked tensors is ``S``
  optimizers with the same hyper-parameters; weight decay applies to the same (Linear and Embedding)
  weights, and the learning-rate schedule is the same function of the step;
* the curve records, the ``monitor`` and the plateau rule (:mod:`training.plateau`) are evaluated per
  member on the member's own module, into which its slice of the stacked parameters is copied at every
  record; a member the rule stops keeps the parameters of its stopping step (the batch goes on
  computing it until every member has stopped or the cap is reached: wasted work, never a changed
  result); the final losses are :func:`~training.trainer.finish`'s, per member.

``tests/test_ensemble.py`` checks the equality in float64 (curves and parameters to 1e-9 relative)
and float32 (1e-4) on tiny setups, with and without a plateau stop.

The configs may differ only in ``seed``; every model must have the same parameter and buffer names and
shapes (:class:`~constructions.errors.ShapeError` otherwise).
"""

from __future__ import annotations

import copy
import time
from collections.abc import Callable, Sequence
from dataclasses import replace

import torch
from torch import nn
from torch.func import functional_call, stack_module_state

from constructions.errors import ShapeError

from .models import ConfigError
from .plateau import plateau_stop
from .trainer import (
    Data,
    TrainConfig,
    TrainResult,
    batch_indices,
    check_data,
    finish,
    loss_sum,
    lr_factor,
    model_device,
    scored,
)


def check_members(models: Sequence[nn.Module], datas: Sequence[Data], configs: Sequence[TrainConfig]) -> None:
    if not models or not (len(models) == len(datas) == len(configs)):
        raise ConfigError(f"an ensemble needs as many data sets and configs as models (at least one), got "
                          f"{len(models)} models, {len(datas)} data sets, {len(configs)} configs")
    first = [(n, tuple(t.shape), t.dtype) for n, t in models[0].state_dict().items()]
    for i, model in enumerate(models[1:], start=1):
        if [(n, tuple(t.shape), t.dtype) for n, t in model.state_dict().items()] != first:
            raise ShapeError(f"ensemble member {i} has other parameter names, shapes or dtypes than member 0")
    for i, config in enumerate(configs):
        if replace(config, seed=0) != replace(configs[0], seed=0):
            raise ConfigError(f"ensemble member {i}'s TrainConfig differs from member 0's in more than its seed")
    for i, data in enumerate(datas):
        check_data(f"member {i}'s train_data", data)


def decayed_names(model: nn.Module) -> set[str]:
    """Parameter names of Linear and Embedding weights (:func:`~training.trainer.make_optimizer`'s decay)."""
    ids = {id(m.weight) for m in model.modules() if isinstance(m, (nn.Linear, nn.Embedding))}
    return {name for name, p in model.named_parameters() if id(p) in ids}


def clip_per_member(grads: list[torch.Tensor], max_norm: float) -> None:
    """``clip_grad_norm_`` for each member: the global 2-norm of member ``s``'s gradients (index ``s``
    of every stacked gradient), and its gradients scaled by ``min(1, max_norm / (norm + 1e-6))``."""
    norms = torch.stack([g.reshape(g.shape[0], -1).norm(dim=1) for g in grads]).norm(dim=0)  # (S,)
    factor = (max_norm / (norms + 1e-6)).clamp(max=1.0)
    for g in grads:
        g.mul_(factor.view(-1, *([1] * (g.dim() - 1))).to(g.dtype))


def train_ensemble(models: Sequence[nn.Module], datas: Sequence[Data], configs: Sequence[TrainConfig],
                   monitors: Sequence[Callable[[nn.Module], float]] | None = None) -> list[TrainResult]:
    """Train ``models[s]`` on ``datas[s]`` with ``configs[s]`` for every member ``s`` at once (module
    docstring); the models are updated in place and one :class:`TrainResult` per member is returned,
    as :func:`~training.trainer.train` would give (no eval set; ``monitors[s]`` as its ``monitor``;
    ``wall_time_s`` is the whole ensemble's).
    bf16 autocast is not supported here (``config.autocast`` must be off)."""
    check_members(models, datas, configs)
    config = configs[0]
    if config.autocast:
        raise ConfigError("train_ensemble does not support autocast")
    if config.plateau is not None and monitors is None:
        raise ConfigError("a plateau stopping rule needs a monitor (the held-out accuracy it watches)")
    start, device, S = time.perf_counter(), model_device(models[0]), len(models)
    params, buffers = stack_module_state(list(models))
    base = copy.deepcopy(models[0]).to("meta")

    def member_forward(p, b, x):
        return functional_call(base, (p, b), (x,))

    forward = torch.vmap(member_forward)
    decayed = decayed_names(models[0])
    groups = [{"params": [params[n] for n in params if n in decayed], "weight_decay": config.weight_decay},
              {"params": [params[n] for n in params if n not in decayed], "weight_decay": 0.0}]
    optimizer = torch.optim.AdamW([g for g in groups if g["params"]], lr=config.lr, foreach=True)
    scheduler = torch.optim.lr_scheduler.LambdaLR(optimizer, lr_factor(config))
    streams = [batch_indices(d[0].shape[0], config.batch_size, config.steps, torch.Generator().manual_seed(c.seed))
               for d, c in zip(datas, configs)]
    curves = [[] for _ in range(S)]
    monitored = [[] for _ in range(S)]
    running, since = torch.zeros(S, dtype=torch.float64, device=device), 0
    stopped: list[str | None] = [None] * S
    used = [0] * S
    for model in models:
        model.train()

    def write_back(s: int) -> None:
        with torch.no_grad():
            for name, tensor in models[s].named_parameters():
                tensor.copy_(params[name][s])
            for name, tensor in models[s].named_buffers():
                tensor.copy_(buffers[name][s])

    for step in range(1, config.steps + 1):
        idx = [next(stream) for stream in streams]
        inputs = torch.stack([d[0][i] for d, i in zip(datas, idx)]).to(device)
        targets = torch.stack([d[1][i] for d, i in zip(datas, idx)]).to(device)
        optimizer.zero_grad(set_to_none=True)
        outputs = forward(params, buffers, inputs)  # (S, batch, L, F)
        losses = []
        for s in range(S):
            total, count = loss_sum(*scored(outputs[s], inputs[s], targets[s], config.loss, config.positions), config.loss)
            losses.append(total / count)
        losses = torch.stack(losses)
        losses.sum().backward()
        if config.grad_clip is not None:
            clip_per_member([params[n].grad for n in params if params[n].grad is not None], config.grad_clip)
        optimizer.step()
        scheduler.step()
        running, since = running + losses.detach().to(torch.float64), since + 1
        if step % config.eval_every == 0 or step == config.steps:
            for s in range(S):
                if stopped[s]:
                    continue
                write_back(s)
                used[s] = step
                curves[s].append((step, float(running[s]) / since, None))
                if monitors is not None:
                    monitored[s].append((step, float(monitors[s](models[s]))))
                    models[s].train()
                if config.plateau is not None:
                    stopped[s] = plateau_stop([v for _, v in monitored[s]], config.plateau)
            running, since = torch.zeros_like(running), 0
            if all(stopped):
                break
    results = []
    for s in range(S):
        result = finish(models[s], datas[s], None, configs[s], curves[s], start, False)
        result.monitored, result.steps_used, result.stop_reason = monitored[s], used[s], stopped[s] or "max-steps"
        results.append(result)
    return results

