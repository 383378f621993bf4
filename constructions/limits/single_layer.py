"""Single SSM layers with a pre- and a post-FNN, for the limit ``limits.single-layer``.

The suite's one-layer networks come from two places: :func:`~constructions.limits.sketch.one_layer`
cuts a two-layer construction after its first block, and :func:`random_single_layer` draws a generic
one: one-hot tokens, a random token-wise pre-FNN into ``channels`` features, a real diagonal SSM with
``state_size`` modes per channel (decays in ``(0.3, 0.95)``), and an identity post-FNN (which
post-FNN follows does not matter: it sees the prefix only through the layer's state). Its sketch has
``channels * state_size`` entries.
"""

from __future__ import annotations

import torch

from ..embedding import OneHotEmbedding
from ..errors import require_positive_int
from ..fnn import FNN
from ..network import SSMNetwork
from ..ssm import DiagonalSSM
from ..vocabulary import Vocabulary


def random_single_layer(vocabulary: Vocabulary, channels: int, state_size: int, seed: int, *, dtype=torch.float64) -> SSMNetwork:
    require_positive_int("channels", channels)
    require_positive_int("state_size", state_size)
    g = torch.Generator().manual_seed(seed)
    draw = lambda *shape: torch.randn(*shape, generator=g, dtype=dtype)  # noqa: E731
    pre = FNN([(draw(channels, vocabulary.size), draw(channels))], origin="limits.random_pre_fnn")
    lam = 0.3 + 0.65 * torch.rand(channels, state_size, generator=g, dtype=dtype)
    ssm = DiagonalSSM(lam, draw(channels, state_size), draw(channels, state_size))
    return SSMNetwork(OneHotEmbedding(vocabulary, dtype=dtype), [(ssm, FNN.identity(channels, dtype=dtype))], pre_fnn=pre)
