"""A linear probe of the trained SSM+FNN's layer 1: does it carry the key before a value?

:func:`layer_streams` returns the residual stream after the embedding and after each block;
:func:`previous_key_probe` fits a ridge least-squares probe (:func:`probe_accuracy`) from the
stream at each value position to the key just before it, on fresh recall instances; the embedding's
stream is the control (about chance). :data:`PROBE_CARRIES` and :data:`PROBE_CONTROL_SLACK` are the
checks' thresholds.
"""

from __future__ import annotations

import torch
from torch import nn

from constructions.tasks.associative_recall import ARConfig

from ..models import SSMFNN, ConfigError
from ..trainer import eval_mode, model_device
from .tasks import task_tensors


#: Probe thresholds: layer 1 *carries* the previous token when a linear probe decodes it with at
#: least this accuracy on fresh instances ...
PROBE_CARRIES = 0.9
#: ... and the control (the same probe on the token embedding alone) stays within this of chance.
PROBE_CONTROL_SLACK = 0.1


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
    device, rows = model_device(model), []
    with eval_mode(model):
        for count, offset in ((train_count, 0), (test_count, 1)):
            tokens = task_tensors(config, count, seed * 2 + offset).tokens.to(device)
            rows.append([previous_key_rows(config, tokens, z) for z in layer_streams(model, tokens)])
    names = ["embedding"] + [f"layer{i}" for i in range(1, len(rows[0]))]
    out = {name: probe_accuracy(*train, *test, classes=config.num_keys)
           for name, train, test in zip(names, rows[0], rows[1])}
    return {**out, "chance": 1.0 / config.num_keys}
