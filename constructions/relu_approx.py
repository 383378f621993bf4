"""ReLU networks that approximate x^2, xy, e^x and 1/x with size poly-logarithmic in 1/eps.

Lemma 3.3 (reconstructed, PAPER.md §4 G1) needs token-wise FNNs for ``e^x`` (the pre-FNN's
weights ``e^{beta mu}``), products (``e^{beta mu} v``) and a division (the post-FNN's ratio). Exact
ReLU networks cannot compute them; these builders approximate them, each with an error budget
``eps`` and a size that grows like a power of ``log(1/eps)`` (claim ``select.relu-approx-polylog``).
All are scalar token-wise maps; every size is measured by :mod:`constructions.resources`.

* :func:`square_fnn` (Yarotsky 2017): on [0, 1], ``f_m(x) = x - sum_{s=1}^m g_s(x) / 4^s`` with
  ``g`` the tent map and ``g_s`` its s-fold composition; ``|f_m(x) - x^2| <= 4^{-(m+1)}``. Depth
  ``m + 1``, width 3.
* :func:`product_fnn`: ``xy = ((x+y)/2)^2 - ((x-y)/2)^2`` on [0, B]^2, two squares side by side.
* :func:`exp_fnn`: on [-R, 0], ``e^x = (e^{x/2^k})^{2^k}``: a second-order Taylor start at
  ``u = x / 2^k`` then ``k`` squarings; error ``R^3 / (6 * 4^k) + 2^k * (square error)``.
* :func:`reciprocal_fnn`: on [a, 1], with ``u = 1 - x``, ``1/x ~ prod_{j<k} (1 + u^{2^j})``
  (truncation error ``(1-a)^{2^k} / a``), powers by squaring, the running product by
  :func:`product_fnn`.
* :func:`interpolation_fnn`: the piecewise-linear interpolant of any function on a uniform grid
  (exact at the knots): for smooth ``f`` its size grows like ``eps^{-1/2}``, the polynomial baseline
  the poly-log constructions are compared with.

Each builder returns ``(fnn, budget)`` where ``budget`` is the proven error bound of the built
network, so checks can compare measured errors with it.
"""

from __future__ import annotations

import math
from typing import Callable

import torch

from .errors import ShapeError
from .fnn import FNN

_KW = dict(dtype=torch.float64)


def _layers(spec) -> FNN:
    """An FNN from ``[(W, b), ...]`` given as nested lists."""
    return FNN([(torch.tensor(W, **_KW), torch.tensor(b, **_KW)) for W, b in spec])


def square_steps(eps: float) -> int:
    """Smallest ``m >= 1`` with ``4^{-(m+1)} <= eps``."""
    return max(1, math.ceil(math.log(1.0 / eps, 4) - 1))


def square_fnn(m: int) -> tuple[FNN, float]:
    """Yarotsky's square on [0, 1] with ``m`` tent compositions; error ``<= 4^{-(m+1)}``.

    Hidden layer ``s`` holds ``a_s = relu(g_{s-1})``, ``b_s = relu(g_{s-1} - 1/2)`` (so that
    ``g_s = 2 a_s - 4 b_s``) and ``c_s = relu(f_{s-1})``, with ``g_0 = f_0 = x``."""
    if m < 1:
        raise ShapeError(f"square_fnn needs m >= 1, got {m}")
    layers = [([[1.0], [1.0], [1.0]], [0.0, -0.5, 0.0])]  # a_1, b_1, c_1 from x
    for s in range(2, m + 1):
        scale = 4.0 ** -(s - 1)  # f_{s-1} = c_{s-1} - g_{s-1} / 4^(s-1)
        layers.append((
            [[2.0, -4.0, 0.0], [2.0, -4.0, 0.0], [-2.0 * scale, 4.0 * scale, 1.0]],
            [0.0, -0.5, 0.0],
        ))
    scale = 4.0**-m
    layers.append(([[-2.0 * scale, 4.0 * scale, 1.0]], [0.0]))  # f_m = c_m - g_m / 4^m
    fnn = _layers(layers)
    fnn.origin = "relu_approx.square"
    return fnn, 4.0 ** -(m + 1)


def product_fnn(m: int, bound: float = 1.0) -> tuple[FNN, float]:
    """``(x, y) -> xy`` on ``[0, bound]^2``; error ``<= bound^2 * 2 * 4^{-(m+1)}``."""
    sq, err = square_fnn(m)
    # s = (x + y) / (2 bound), d = |x - y| / (2 bound) = relu(.) + relu(-.): both in [0, 1]
    c = 1.0 / (2.0 * bound)
    split = FNN([
        (torch.tensor([[c, c], [c, -c], [-c, c]], **_KW), torch.zeros(3, **_KW)),
        (torch.tensor([[1.0, 0.0, 0.0], [0.0, 1.0, 1.0]], **_KW), torch.zeros(2, **_KW)),
    ])
    both = FNN.parallel(sq, sq)  # (s^2, d^2)
    out = FNN.affine([[bound**2, -(bound**2)]], [0.0])
    fnn = split.then(both).then(out)
    fnn.origin = "relu_approx.product"
    return fnn, bound**2 * 2 * err


def exp_fnn(R: float, eps: float) -> tuple[FNN, float]:
    """``e^x`` on ``[-R, 0]`` within ``eps`` (see module docstring for the budget split)."""
    if R <= 0 or not 0 < eps < 1:
        raise ShapeError(f"exp_fnn needs R > 0 and 0 < eps < 1, got R={R}, eps={eps}")
    k = max(0, math.ceil(math.log(max(R**3 / (3 * eps), 1.0), 4)), math.ceil(math.log2(max(R, 1.0))))
    m = square_steps(eps / 2 ** (k + 2))
    sq, sq_err = square_fnn(m)
    u = 2.0**-k  # u = x / 2^k in [-1, 0]
    # y0 = 1 + u + u^2 / 2, with u^2 = square(-u): first a relu of -u, then the square network
    start = FNN([(torch.tensor([[-u], [-u]], **_KW), torch.zeros(2, **_KW))])  # (-u, -u), both >= 0
    start = start.then(FNN.parallel(sq, FNN.affine([[1.0]], [0.0])))  # (u^2, -u)
    start = start.then(FNN.affine([[0.5, -1.0]], [1.0]))  # 1 + u + u^2 / 2
    fnn = start
    for _ in range(k):
        fnn = fnn.then(sq)
    fnn.origin = "relu_approx.exp"
    taylor = (R / 2**k) ** 3 / 6
    budget = 2**k * (taylor + sq_err / 2) + (2**k - 1) * sq_err
    return fnn, budget


def reciprocal_fnn(a: float, eps: float) -> tuple[FNN, float]:
    """``1/x`` on ``[a, 1]`` within ``eps`` (``0 < a < 1``)."""
    if not 0 < a < 1 or not 0 < eps < 1:
        raise ShapeError(f"reciprocal_fnn needs 0 < a < 1 and 0 < eps < 1, got a={a}, eps={eps}")
    k = max(1, math.ceil(math.log2(math.log(2.0 / (a * eps)) / -math.log1p(-a))))
    bound = 2.0 / a  # running products stay in [1, 1/a], factors in [1, 2]
    m_prod = square_steps(eps / (4 * k * bound**2))
    m_sq = square_steps(eps * a / (4 * k * 2**k))
    prod, prod_err = product_fnn(m_prod, bound)
    sq, sq_err = square_fnn(m_sq)
    # state (p, z) with p = 1, z = u = 1 - x at the start
    fnn = FNN([(torch.tensor([[0.0], [-1.0]], **_KW), torch.tensor([1.0, 1.0], **_KW))])
    fnn = fnn.then(FNN([(torch.eye(2, **_KW), torch.zeros(2, **_KW))]))
    for j in range(k):
        # (p, z) -> (p * (1 + z), z^2): the product reads (p, 1 + z)
        shift = FNN.affine([[1.0, 0.0], [0.0, 1.0], [0.0, 1.0]], [0.0, 1.0, 0.0])
        step = FNN.parallel(prod, sq) if j < k - 1 else FNN.parallel(prod, FNN.affine([[0.0]], [0.0]))
        fnn = fnn.then(shift).then(step)
    fnn = fnn.then(FNN.affine([[1.0, 0.0]], [0.0]))
    fnn.origin = "relu_approx.reciprocal"
    truncation = (1 - a) ** (2**k) / a
    budget = truncation + k * (prod_err + bound * 2**k * sq_err)
    return fnn, budget


def interpolation_fnn(f: Callable[[torch.Tensor], torch.Tensor], lo: float, hi: float, pieces: int) -> FNN:
    """Piecewise-linear interpolant of ``f`` on ``pieces`` uniform intervals of [lo, hi] (exact at
    the knots; constant extension outside). Depth 2, width ``pieces + 1``."""
    if pieces < 1 or not hi > lo:
        raise ShapeError(f"interpolation_fnn needs pieces >= 1 and hi > lo, got {pieces}, [{lo}, {hi}]")
    knots = torch.linspace(lo, hi, pieces + 1, **_KW)
    values = f(knots)
    slopes = torch.diff(values) / torch.diff(knots)
    changes = torch.cat([slopes[:1], torch.diff(slopes)])  # slope added at each knot
    W1 = torch.ones(pieces + 1, 1, **_KW)
    b1 = torch.cat([-knots[:-1], -knots[-1:]])
    W2 = torch.cat([changes, -slopes[-1:]]).unsqueeze(0)  # the last unit switches the slope off at hi
    fnn = FNN([(W1, b1), (W2, values[:1].clone())])
    fnn.origin = "relu_approx.interpolation"
    return fnn


def evaluate(fnn: FNN, x: torch.Tensor) -> torch.Tensor:
    """Apply a scalar token-wise FNN to a 1-D tensor of points."""
    return fnn(x.reshape(-1, 1).to(torch.float64)).reshape(-1)
