"""Exponential pooling: an SSM between a pre- and a post-FNN is softmax attention (Lemma 3.3, G1).

Claim (``select.exp-pooling-is-softmax``, reconstructed): a pre-FNN mapping token ``x`` to
``(e^{beta mu(x)} v(x), e^{beta mu(x)})``, an SSM with kernel ``K_l = lambda^l`` for ``l < U`` on
both, and a post-FNN dividing the first by the second output, at every position ``t``::

    sum_{l<U} lambda^l e^{beta mu_{t-l}} v_{t-l} / sum_{l<U} lambda^l e^{beta mu_{t-l}}
        = sum_{l<U} softmax_l(beta mu_{t-l} + l ln lambda) v_{t-l}

softmax attention over the window with a linear recency bias ``l ln lambda``. As ``beta`` grows it
returns the value of the most important token (claim ``select.hard-selection-bound``).

Builders:

* :func:`pooling_ssm` -- the SSM: a shift SSM with taps ``lambda^l`` (window ``U``), or a
  geometric accumulator (infinite window).
* :func:`lookup_pooling_network` -- one-hot tokens: the pre-FNN is an exact table (PAPER.md G1),
  the network outputs the numerator and denominator; :func:`ratio` divides them.
* :func:`relu_pooling_network` -- token features ``(mu, v)`` in ``[0, 1]^2``: every step is a ReLU
  network (exp, product, division of :mod:`constructions.relu_approx`) with an error budget.
* :func:`softmax_attention` -- the reference, computed directly.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import torch

from .embedding import FeatureInput, TableEmbedding
from .errors import ShapeError
from .fnn import FNN
from .layout import Layout
from .network import SSMNetwork
from .relu_approx import exp_fnn, product_fnn, reciprocal_fnn, square_steps
from .ssm import DiagonalSSM, ShiftSSM
from .vocabulary import Vocabulary


def pooling_ssm(channels: int, lam: float, window: int | None, *, dtype=torch.float64, device=None):
    """``K_l = lambda^l`` on every channel, for ``l < window`` (``None``: every ``l``)."""
    if not lam > 0:
        raise ShapeError(f"lambda must be positive, got {lam}")
    if window is None:
        ones = torch.ones(channels, 1, dtype=dtype, device=device)
        return DiagonalSSM(ones * lam, ones, ones.clone())
    taps = lam ** torch.arange(window, dtype=dtype, device=device)
    return ShiftSSM(taps.expand(channels, window).clone())


def lookup_pooling_network(importance: torch.Tensor, values: torch.Tensor, beta: float, lam: float = 1.0,
                           window: int | None = None) -> SSMNetwork:
    """One-hot tokens ``0..V-1`` with importance ``mu: (V,)`` and values ``v: (V, d)``: outputs
    ``(numerator (d), denominator (1))`` at every position."""
    if importance.dim() != 1 or values.dim() != 2 or values.shape[0] != importance.shape[0]:
        raise ShapeError(f"importance must be (V,) and values (V, d), got {tuple(importance.shape)}, {tuple(values.shape)}")
    weight = torch.exp(beta * importance).unsqueeze(1)
    table = torch.cat([weight * values, weight], dim=1)
    d = values.shape[1]
    embedding = TableEmbedding(Vocabulary.of(token=importance.shape[0]), table, Layout.of(numerator=d, denominator=1))
    ssm = pooling_ssm(d + 1, lam, window, dtype=table.dtype, device=table.device)
    return SSMNetwork(embedding, [(ssm, FNN.identity(d + 1, dtype=table.dtype, device=table.device))])


def ratio(outputs: torch.Tensor) -> torch.Tensor:
    """Numerator / denominator of :func:`lookup_pooling_network`'s outputs: ``(..., d)``."""
    return outputs[..., :-1] / outputs[..., -1:]


def softmax_attention(importance: torch.Tensor, values: torch.Tensor, beta: float, lam: float = 1.0,
                      window: int | None = None) -> torch.Tensor:
    """Reference: ``importance: (B, L)``, ``values: (B, L, d)`` -> ``(B, L, d)``, attention of every
    position over ``[t - U + 1, t]`` with scores ``beta mu + l ln lambda``."""
    B, L = importance.shape
    U = L if window is None else window
    t = torch.arange(L).unsqueeze(1)
    s = torch.arange(L).unsqueeze(0)
    lag = (t - s).to(importance.dtype)
    allowed = (t >= s) & (t - s < U)
    scores = beta * importance.unsqueeze(1) + lag * math.log(lam)  # (B, t, s)
    scores = scores.masked_fill(~allowed, float("-inf"))
    return torch.softmax(scores, dim=-1) @ values


@dataclass
class PoolingBudget:
    """Proven error bound of :func:`relu_pooling_network`, and its parts."""

    weights_and_products: float  # 2 e^beta U (2 eta_exp + eta_product)
    reciprocal: float
    division_product: float

    @property
    def total(self) -> float:
        return self.weights_and_products + self.reciprocal + self.division_product


def relu_pooling_network(beta: float, window: int, eps: float) -> tuple[SSMNetwork, PoolingBudget]:
    """Exponential pooling with every map a ReLU network; features ``(mu, v)`` in ``[0, 1]^2``.

    pre-FNN: ``w = exp(beta (mu - 1))`` in ``[e^{-beta}, 1]`` and ``p = w v``; SSM: window sums
    ``P, W`` of ``p, w`` (``lambda = 1``); post-FNN: ``(P / U') * 1 / (W / U')`` with
    ``U' = 1.01 U`` so that ``W / U'`` lies in ``[a, 1]``, ``a = e^{-beta} / (2 U')``.

    Error analysis: with ``|w^ - w| <= eta_e``, ``|p^ - w^ v| <= eta_p`` and ``W >= e^{-beta}``,
    ``|P^/W^ - P/W| <= 2 e^beta U (2 eta_e + eta_p)`` (while ``U eta_e <= e^{-beta} / 2``); the
    reciprocal adds ``eta_r`` (the numerator is at most 1) and the last product ``eta_d``. The
    budget gives each of the four terms ``eps / 4``.
    """
    if window < 1 or beta <= 0 or not 0 < eps < 1:
        raise ShapeError(f"need window >= 1, beta > 0, 0 < eps < 1; got {window}, {beta}, {eps}")
    shrunk = 1.01 * window
    a = math.exp(-beta) / (2 * shrunk)
    exp_net, exp_err = exp_fnn(beta, eps * math.exp(-beta) / (16 * window))
    prod_net, prod_err = product_fnn(square_steps(eps * math.exp(-beta) / (16 * window)), 1.0)
    recip_net, recip_err = reciprocal_fnn(a, eps / 4)
    bound = 1.0 / a + 1.0
    div_net, div_err = product_fnn(square_steps(eps / (8 * bound**2)), bound)

    identity = FNN.affine([[1.0]], [0.0])
    # pre-FNN: (mu, v) -> (beta (mu - 1), v) -> (w, v) -> (w, v, w) -> (w v, w)
    scale = FNN.affine([[beta, 0.0], [0.0, 1.0]], [-beta, 0.0])
    dup = FNN.affine([[1.0, 0.0], [0.0, 1.0], [1.0, 0.0]], [0.0, 0.0, 0.0])
    pre = scale.then(FNN.parallel(exp_net, identity)).then(dup).then(FNN.parallel(prod_net, identity))
    ssm = ShiftSSM(torch.ones(2, window, dtype=torch.float64))
    # post-FNN: (P, W) -> (P / U', W / U') -> (P / U', 1 / (W / U')) -> their product
    shrink = FNN.affine([[1.0 / shrunk, 0.0], [0.0, 1.0 / shrunk]], [0.0, 0.0])
    post = shrink.then(FNN.parallel(identity, recip_net)).then(div_net)
    post.origin = "pooling.relu_division"
    network = SSMNetwork(FeatureInput(Layout.of(mu=1, v=1)), [(ssm, post)], pre_fnn=pre)
    budget = PoolingBudget(2 * math.exp(beta) * window * (2 * exp_err + prod_err), recip_err, div_err)
    return network, budget
