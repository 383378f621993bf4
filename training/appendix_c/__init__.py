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
during training (:data:`STILL_IMPROVING`) and, with ``SweepSetup.plateau``, stops it by the plateau
rule of :mod:`training.plateau` (the same for every model; steps used and the reason recorded); its final training loss is measured on the first
:data:`FINAL_TRAIN_INSTANCES` training instances. The sets depend on (size, seed) only, so all models of
one seed see the same data (paired comparisons). One CPU thread, deterministic.

**Verdicts** (:func:`ordering_verdict`, :func:`nonlinearity_verdict`) are two-sided: each claimed
relation ("A beats B by at least 0.05", "A is within 0.10 of B") is decided from the Student-t 95%
interval of the paired (same size, same seed) differences on the larger half of the task sizes
(:func:`claims.statistics.side_verdict`, :func:`~claims.statistics.margin_verdict`), and a verdict
that a model still improving at the end of its budget could overturn is inconclusive
(:func:`downgrade_if_still_improving`); the thresholds are named constants of
:mod:`~training.appendix_c.verdicts`, each with its rationale.

**Modules** (every public name is importable from the package itself):

* :mod:`~training.appendix_c.tasks` -- formats, scored positions, chance, training tensors, every
  instance of a small format;
* :mod:`~training.appendix_c.models` -- :class:`ModelSpec` and the compared model sets;
* :mod:`~training.appendix_c.metrics` -- per-answer-token and instance accuracy;
* :mod:`~training.appendix_c.runner` -- :class:`SweepSetup`, :func:`run_sweep`, :class:`Sweep`;
* :mod:`~training.appendix_c.verdicts` -- thresholds, paired intervals, the two verdicts,
  :func:`is_still_improving`;
* :mod:`~training.appendix_c.probe` -- the linear probe of layer 1;
* :mod:`~training.appendix_c.decoding` -- free-running copying (step mode for the SSM+FNNs);
* :mod:`~training.appendix_c.figures` -- the evidence summary and the report figures.
"""

from .decoding import free_running_accuracy, free_running_copies
from .figures import figure_spec, summary
from .metrics import accuracies, answer_correctness
from .models import ABLATION_MODELS, FIG_C1_MODELS, MATCHED_TO, TRANSFORMER, ModelSpec, ssm
from .probe import (
    PROBE_CARRIES,
    PROBE_CONTROL_SLACK,
    layer_streams,
    previous_key_probe,
    previous_key_rows,
    probe_accuracy,
)
from .runner import (
    FINAL_TRAIN_INSTANCES,
    MONITOR_SEED_OFFSET,
    MONITORED_INSTANCES,
    SWEEP_PLATEAU,
    Sweep,
    SweepPoint,
    SweepSetup,
    accuracy_table,
    run_sweep,
    train_one,
)
from .tasks import (
    DIGITS,
    IGNORE,
    LETTERS,
    TASKS,
    TaskTensors,
    answer_mask,
    chance_accuracy,
    check_format,
    copy_format,
    every_instance,
    instance_tensors,
    recall_format,
    scored_positions,
    sequence_length,
    task_tensors,
    vocab_size,
)
from .verdicts import (
    CEILING,
    LEARNED_FRACTION,
    MIN_ADVANTAGE,
    MIN_SEEDS,
    STILL_IMPROVING,
    TRANSFORMER_MARGIN,
    Part,
    Verdict,
    beats,
    best_two_layer,
    decisive_sizes,
    downgrade_if_still_improving,
    is_still_improving,
    learned_accuracy,
    matches,
    mean_over,
    nonlinearity_verdict,
    ordering_verdict,
    paired_difference,
)

__all__ = [
    "FINAL_TRAIN_INSTANCES",
    "ABLATION_MODELS",
    "CEILING",
    "DIGITS",
    "FIG_C1_MODELS",
    "IGNORE",
    "LEARNED_FRACTION",
    "LETTERS",
    "MATCHED_TO",
    "MIN_ADVANTAGE",
    "MIN_SEEDS",
    "MONITORED_INSTANCES",
    "MONITOR_SEED_OFFSET",
    "ModelSpec",
    "PROBE_CARRIES",
    "PROBE_CONTROL_SLACK",
    "Part",
    "STILL_IMPROVING",
    "SWEEP_PLATEAU",
    "Sweep",
    "SweepPoint",
    "SweepSetup",
    "TASKS",
    "TRANSFORMER",
    "TRANSFORMER_MARGIN",
    "TaskTensors",
    "Verdict",
    "accuracies",
    "accuracy_table",
    "answer_correctness",
    "answer_mask",
    "beats",
    "best_two_layer",
    "chance_accuracy",
    "check_format",
    "copy_format",
    "decisive_sizes",
    "downgrade_if_still_improving",
    "every_instance",
    "figure_spec",
    "free_running_accuracy",
    "free_running_copies",
    "instance_tensors",
    "is_still_improving",
    "layer_streams",
    "learned_accuracy",
    "matches",
    "mean_over",
    "nonlinearity_verdict",
    "ordering_verdict",
    "paired_difference",
    "previous_key_probe",
    "previous_key_rows",
    "probe_accuracy",
    "recall_format",
    "run_sweep",
    "scored_positions",
    "sequence_length",
    "ssm",
    "summary",
    "task_tensors",
    "train_one",
    "vocab_size",
]
