"""Accuracies of a model on task tensors: per answer token and per instance.

:func:`answer_correctness` is the batched argmax-equals-target table over the scored positions
(in eval mode, through the trainer's :func:`~training.trainer.eval_batches`); :func:`accuracies`
reduces it to the per-answer-token accuracy and the instance accuracy (every answer of an
instance right: the string-level copy success of Jelassi et al.).
"""

from __future__ import annotations

import torch
from torch import nn

from ..trainer import eval_batches, model_device
from .tasks import TaskTensors, scored_positions


@torch.no_grad()
def answer_correctness(model: nn.Module, tensors: TaskTensors, batch_size: int = 1024) -> torch.Tensor:
    """``(count, answers)`` bool: is the argmax prediction at each scored position the target?"""
    positions = scored_positions(tensors.config).to(model_device(model))
    rows = [(outputs[:, positions].argmax(-1) == targets[:, positions]).cpu()  # (batch, answers)
            for _, targets, outputs in eval_batches(model, tensors.data, batch_size)]
    return torch.cat(rows)


def accuracies(model: nn.Module, tensors: TaskTensors) -> tuple[float, float]:
    """``(per-answer-token accuracy, instance accuracy)`` of ``model`` on ``tensors``."""
    correct = answer_correctness(model, tensors)
    return float(correct.float().mean()), float(correct.all(-1).float().mean())
