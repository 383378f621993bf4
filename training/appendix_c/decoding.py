"""Free-running copying by the trained models: ``BOS s SEP`` read, then ``n`` tokens generated greedily,
each fed back (Jelassi et al.'s generation, not teacher forcing).

An SSM+FNN (:class:`~training.models.SSMFNN`) decodes in its step mode
(:meth:`~training.models.SSMFNN.step`): every token costs the same, whatever the position. A model
without one (the Transformer) re-runs the whole prefix for every generated token.

**Identity used as a check.** Greedy decoding is right on a whole string exactly when teacher forcing
predicts every copied symbol right: if every teacher-forced prediction is right, each token fed back
is the true one, so the generated string is the teacher-forced predictions; if the generated string
is right, the tokens fed back were the true ones, so the predictions were the teacher-forced ones.
Per instance the two must agree (tests/test_appendix_c.py, and the Fig. C.1 copy evidence on every
trained model); per token free running may be worse (one wrong token is fed back and errors compound).
"""

from __future__ import annotations

import torch
from torch import nn

from constructions.tasks.copying import CopyConfig

from ..models import SSMFNN, ConfigError
from ..trainer import model_device
from .metrics import answer_correctness
from .tasks import TaskTensors


@torch.no_grad()
def free_running_copies(model: nn.Module, tensors: TaskTensors, batch_size: int = 1024) -> torch.Tensor:
    """``(count, n)`` token ids ``model`` generates greedily after each ``BOS s SEP`` of ``tensors``
    (a copy format), in eval mode; step mode for an :class:`~training.models.SSMFNN`."""
    config = tensors.config
    if not isinstance(config, CopyConfig):
        raise ConfigError(f"free-running copying needs a copy format, got {type(config).__name__}")
    was_training = model.training
    model.eval()
    try:
        device = model_device(model)
        prompts = tensors.tokens[:, : config.length + 2].to(device)
        rows = [_generate(model, chunk, config.length) for chunk in prompts.split(batch_size)]
    finally:
        model.train(was_training)
    return torch.cat(rows).cpu()


def _generate(model: nn.Module, prompts: torch.Tensor, steps: int) -> torch.Tensor:
    generated = []
    if isinstance(model, SSMFNN):
        state = model.initial_state(prompts.shape[0])
        for t in range(prompts.shape[1]):
            out, state = model.step(prompts[:, t], state)
        for _ in range(steps):
            generated.append(out.argmax(-1))
            out, state = model.step(generated[-1], state)
    else:  # no step mode: the whole prefix again for every token
        sequence = prompts
        for _ in range(steps):
            generated.append(model(sequence)[:, -1].argmax(-1))
            sequence = torch.cat([sequence, generated[-1].unsqueeze(1)], dim=1)
    return torch.stack(generated, dim=1)


def free_running_accuracy(model: nn.Module, tensors: TaskTensors) -> dict:
    """Free-running copying of ``tensors``' strings: per-token and per-string accuracy, and the number
    of strings on which it disagrees with teacher forcing about being right (0 by the module's identity)."""
    generated = free_running_copies(model, tensors)
    right = generated == tensors.instances.strings
    forced = answer_correctness(model, tensors).all(-1)
    return {"token_accuracy": float(right.float().mean()), "instance_accuracy": float(right.all(-1).float().mean()),
            "strings": len(right), "disagreements_with_teacher_forcing": int((right.all(-1) != forced).sum())}
