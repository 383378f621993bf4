"""Plateau early stopping: one rule, the same for every model, instead of a fixed step count.

**The rule** (:func:`plateau_stop`). A model's held-out accuracy ``a_1, a_2, ...`` is measured every
``eval_every`` training steps (:class:`~training.trainer.TrainConfig`, on instances that are neither
trained on nor scored: the ``monitor`` of :func:`~training.trainer.train`). After evaluation ``n``
training stops

* with reason ``"target"`` when ``a_n >= target`` (default 1.0: nothing left to learn), or
* with reason ``"plateau"`` when ``n > patience`` and the best of the last ``patience`` evaluations
  exceeds the best before them by at most ``min_delta``:
  ``max(a_{n-p+1} .. a_n) <= max(a_1 .. a_{n-p}) + min_delta``;

otherwise it goes on, up to the step cap ``TrainConfig.steps`` (reason ``"max-steps"``). The steps used
and the reason are recorded (:attr:`~training.trainer.TrainResult.steps_used`,
:attr:`~training.trainer.TrainResult.stop_reason`).

**Rationale.** A fixed budget either wastes most of its steps on models that learned the task early
(the tiny recall models reach their final accuracy in a fraction of the quick profile's steps) or
stops slow learners while they still improve (the quick one-layer models), and then a verdict has
to be declared inconclusive for want of training. Stopping on held-out accuracy, with the same rule
for every model, spends the budget where it still changes an accuracy. ``min_delta`` defaults to
0.01, the verdicts' :data:`~training.appendix_c.verdicts.STILL_IMPROVING` (a fifth of the smallest
advantage they count): a new best by less is below what the verdicts resolve. It also makes the two
notions agree: a run stopped by the plateau rule has, at its last record ``a_n``,
``a_n - max(a_1 .. a_{n-1}) <= min_delta``, so it is never *still improving* in the verdicts' sense
(:func:`~training.appendix_c.verdicts.is_still_improving`); only a run that hit the cap can be.
``patience`` evaluations (default 4) must pass without such a gain: held-out accuracies on 1024
instances fluctuate by about 0.015 (one binomial standard error at 0.5), so one flat evaluation says
little, four in a row are a plateau at the measured resolution. The risk, stated: a model that sits
on a plateau for ``patience`` evaluations and then leaves it (a late phase transition) is stopped on
the plateau; a larger ``patience`` or ``eval_every`` trades time for that risk, and the step cap
stays in any case.
"""

from __future__ import annotations

from dataclasses import dataclass

from .models import ConfigError, require_int

#: why a run stopped: the held-out accuracy reached the target, it plateaued, or the step cap
STOP_REASONS: tuple[str, ...] = ("target", "plateau", "max-steps")


@dataclass(frozen=True)
class Plateau:
    """The stopping rule's parameters (module docstring); validated on construction."""

    patience: int = 4
    min_delta: float = 0.01
    target: float = 1.0

    def __post_init__(self):
        require_int("plateau patience", self.patience, 1)
        if not (isinstance(self.min_delta, (int, float)) and 0 <= self.min_delta < 1):
            raise ConfigError(f"plateau min_delta must lie in [0, 1), got {self.min_delta!r}")
        if not (isinstance(self.target, (int, float)) and 0 < self.target <= 1):
            raise ConfigError(f"plateau target must lie in (0, 1], got {self.target!r}")


def plateau_stop(values: list[float], rule: Plateau) -> str | None:
    """``"target"``, ``"plateau"`` or ``None`` (go on) after the held-out accuracies ``values`` (oldest
    first), by the rule of the module docstring."""
    if not values:
        return None
    if values[-1] >= rule.target:
        return "target"
    p = rule.patience
    if len(values) > p and max(values[-p:]) <= max(values[:-p]) + rule.min_delta:
        return "plateau"
    return None
