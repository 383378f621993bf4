"""Trained models, for the paper's experiments (not its constructions).

The rest of the suite builds *exact* networks with hand-set, frozen weights (``constructions/``).
This package instead *learns* weights from data, for the empirical side of the paper:

* the regression estimation rates (test error against the sample size ``n``), and
* Appendix C's copying and associative-recall experiments (SSM+FNN beside a Transformer of about
  the same size).

Modules:

* :mod:`training.models` -- :class:`~training.models.SSMFNN` (embedding, ``M`` x [depthwise
  SSM layer, token-wise FNN], linear readout; SSM kernels materialised and applied by FFT
  convolution, with a slow loop-over-time twin for tests), :class:`~training.models.CausalTransformer`
  (pre-LN, learned positions), their configs, :func:`~training.models.count_parameters` and
  :func:`~training.models.matched_transformer_config` (a Transformer of about the same size).
* :mod:`training.trainer` -- :class:`~training.trainer.TrainConfig`, :func:`~training.trainer.train`
  (seeded minibatch or full-batch AdamW, learning curve, final losses, wall time),
  :func:`~training.trainer.evaluate`, :func:`~training.trainer.accuracy`,
  :func:`~training.trainer.set_seed`; the measurement helpers every experiment shares,
  :func:`~training.trainer.eval_mode` (eval mode, restored after) and
  :func:`~training.trainer.eval_batches` (a model's outputs chunk by chunk).
* :mod:`training.plateau` -- the plateau early-stopping rule (:class:`~training.plateau.Plateau`), the
  same for every model; :class:`~training.trainer.TrainConfig` takes it, the result records the steps used.
* :mod:`training.ensemble` -- :func:`~training.ensemble.train_ensemble`: models of one shape trained as
  one batched ensemble (``vmap`` over stacked parameters), equal to training each alone up to rounding.
* :mod:`training.result_cache` -- trained models and results cached on disk as validated JSON, keyed by
  task, size, model, seed, settings and code version (resume and reuse).
* :mod:`training.regression_estimation` -- the estimation-rate experiment.
* :mod:`training.appendix_c` -- Fig. C.1 (copying and recall, ablations, probe), a package with one
  module per concept: tasks, models, metrics, runner, verdicts, probe, figures.
* :mod:`training.genomic` -- the synthetic genomic experiment, likewise: data, hand-built controls,
  importance measures, metrics, verdicts, runner, figures.

Shape legend (both model kinds): inputs ``(batch, L, in_features)`` floats or ``(batch, L)`` token
ids; outputs ``(batch, L, out_features)``; every output at position ``t`` depends on inputs at
positions ``<= t`` only (causal).
"""

from .models import (
    SSMFNN,
    CausalTransformer,
    ConfigError,
    SSMFNNConfig,
    TransformerConfig,
    count_parameters,
    matched_transformer_config,
    ssm_fnn_parameter_count,
    transformer_parameter_count,
)
from .trainer import TrainConfig, TrainResult, accuracy, evaluate, set_seed, train

__all__ = [
    "SSMFNN",
    "CausalTransformer",
    "ConfigError",
    "SSMFNNConfig",
    "TrainConfig",
    "TrainResult",
    "TransformerConfig",
    "accuracy",
    "count_parameters",
    "evaluate",
    "matched_transformer_config",
    "set_seed",
    "ssm_fnn_parameter_count",
    "train",
    "transformer_parameter_count",
]
