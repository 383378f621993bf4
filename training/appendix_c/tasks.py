"""Fig. C.1's task formats and their training tensors.

The paper's formats (:func:`recall_format`: query-last recall, keys from 26 letters, values from
10 digits; :func:`copy_format`: ``BOS x_1..x_n SEP x_1..x_n EOS``), what is scored in them
(:func:`scored_positions`, :func:`chance_accuracy`), and seeded instances from the suite's
generators (:mod:`constructions.tasks`) as ``tokens``/``targets`` tensors (:class:`TaskTensors`,
:func:`task_tensors`; :func:`every_instance` for a small format's whole distribution). Targets are
:data:`IGNORE` off the scored positions, so :func:`answer_mask` is the trainer's ``positions``.
"""

from __future__ import annotations

from dataclasses import dataclass

import torch

from constructions.errors import InfeasibleTaskError
from constructions.tasks import associative_recall as ar
from constructions.tasks import copying
from constructions.tasks.associative_recall import ARConfig
from constructions.tasks.copying import CopyConfig

from ..models import ConfigError, require_int


#: target id of the positions that are not scored
IGNORE = -1
#: the paper's recall alphabet: letters as keys, digits as values
LETTERS, DIGITS = 26, 10
TASKS: tuple[str, ...] = ("recall", "copy")


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


def every_instance(config: ARConfig | CopyConfig, limit: int = 1 << 16) -> TaskTensors:
    """Every instance of a small format as tensors (recall: :func:`~constructions.tasks.associative_recall.enumerate_instances`;
    copy: every string). Raises :class:`~constructions.errors.InfeasibleTaskError` above ``limit``."""
    check_format(config)
    if isinstance(config, ARConfig):
        return instance_tensors(config, ar.enumerate_instances(config, limit))
    if config.alphabet**config.length > limit:
        raise InfeasibleTaskError(f"{config} has {config.alphabet ** config.length} strings, more than {limit}")
    return instance_tensors(config, copying.assemble(config, copying.all_strings(config.alphabet, config.length)))
