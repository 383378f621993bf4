"""Checks of Lemma 3.3's pieces (claims ``select.*``): an SSM between FNNs selects tokens.

* ``select.exp-pooling-is-softmax`` -- sympy proves the pooled ratio is softmax attention with a
  recency bias, for symbolic window, scores and values; the built networks agree numerically.
* ``select.hard-selection-bound`` -- hypothesis hunts for inputs maximizing error / bound; the bound
  ``(U-1) e^{-Delta} max |v_j - v_*|`` must never be exceeded, and its beta-form gives ``eps``.
* ``select.relu-approx-polylog`` -- ReLU approximations of x^2, xy, e^x, 1/x and the whole pooling
  lemma: errors within their proven budgets, sizes poly-logarithmic in 1/eps (measured fit), while
  piecewise-linear interpolation (the control) is polynomial.
* ``select.key-query-two-layer`` -- the two-layer selection by key-query match (query first) is
  exact, with weights in {0, +-1, +-2} and width linear in the code length.
"""

from __future__ import annotations

import math

import pytest
import sympy as sp
import torch
from hypothesis import given, settings, target
from hypothesis import strategies as st
from sympy.simplify.simplify import sum_simplify

from checks import profiles
from checks.assertions import assert_exact
from claims.growth import empirical_growth, judge_polylog_measured
from constructions import relu_approx
from constructions.associative_recall import binary_query_first
from constructions.embedding import code_bits
from constructions.mutation import mutate
from constructions.pooling import lookup_pooling_network, ratio, relu_pooling_network, softmax_attention
from constructions.resources import fnn_resources, measure
from constructions.tasks.associative_recall import ARConfig, generate
from constructions.verification import verify

SIZES = profiles.current()
EPSILONS = [10.0**-k for k in range(1, 9)]

# ----------------------------------------------------------------------------- pooling = softmax
l = sp.symbols("l", integer=True, nonnegative=True)
U = sp.symbols("U", integer=True, positive=True)
beta = sp.symbols("beta", real=True)
lam = sp.symbols("lambda", positive=True)
mu, v = sp.IndexedBase("mu", real=True), sp.IndexedBase("v", real=True)


def pooling_equals_softmax(kernel) -> bool:
    """sympy: sum_l K_l e^{beta mu_l} v_l / sum_l K_l e^{beta mu_l} equals softmax attention with
    scores beta mu_l + l ln lambda, for symbolic U, beta, lambda > 0, mu, v (numerator and
    denominator separately, sums merged and their summands simplified)."""
    score = beta * mu[l] + l * sp.log(lam)
    pooled_num = sp.Sum(kernel(l) * sp.exp(beta * mu[l]) * v[l], (l, 0, U - 1))
    pooled_den = sp.Sum(kernel(l) * sp.exp(beta * mu[l]), (l, 0, U - 1))
    softmax_num = sp.Sum(sp.exp(score) * v[l], (l, 0, U - 1))
    softmax_den = sp.Sum(sp.exp(score), (l, 0, U - 1))
    return (sp.simplify(sum_simplify(pooled_num - softmax_num)) == 0
            and sp.simplify(sum_simplify(pooled_den - softmax_den)) == 0)


@pytest.mark.claim("select.exp-pooling-is-softmax")
def test_pooling_is_softmax_attention_symbolically(evidence):
    assert pooling_equals_softmax(lambda q: lam**q)
    evidence.record(identity="sum_l lambda^l e^{beta mu_l} v_l / sum_l lambda^l e^{beta mu_l} = "
                             "sum_l softmax_l(beta mu_l + l ln lambda) v_l, symbolic U, beta, lambda > 0")


@pytest.mark.claim("select.exp-pooling-is-softmax", role="control",
                  breaks="the SSM kernel: lambda^(2l) and 1 in place of lambda^l; the sympy identity must fail")
def test_softmax_identity_check_rejects_a_wrong_kernel(evidence):
    assert not pooling_equals_softmax(lambda q: lam ** (2 * q))
    assert not pooling_equals_softmax(lambda q: 1)
    evidence.record(control="the identity fails for K_l = lambda^(2l) and for K_l = 1 (lambda != 1)")


@pytest.mark.claim("select.exp-pooling-is-softmax")
@given(vocab=st.integers(1, 12), d=st.integers(1, 3), length=st.integers(1, 60), window=st.none() | st.integers(1, 20),
       beta_=st.floats(0.0, 8.0), lam_=st.floats(0.3, 1.5), seed=st.integers(0, 2**31))
def test_pooling_network_equals_softmax_attention_numerically(vocab, d, length, window, beta_, lam_, seed, evidence):
    g = torch.Generator().manual_seed(seed)
    importance = torch.rand(vocab, generator=g, dtype=torch.float64)
    values = torch.randn(vocab, d, generator=g, dtype=torch.float64)
    tokens = torch.randint(0, vocab, (3, length), generator=g)
    pooled = ratio(lookup_pooling_network(importance, values, beta_, lam_, window)(tokens))
    reference = softmax_attention(importance[tokens], values[tokens], beta_, lam_, window)
    gap = float((pooled - reference).abs().max())
    evidence.note_max("max_abs_difference", gap)
    evidence.count("cases")
    assert gap <= 1e-9 * max(1.0, float(values.abs().max())), gap


# ----------------------------------------------------------------------------- hard selection
def selection_error_and_bound(scores, vals, lam_: float, bound_factor):
    """Pooled value at the last position of a window holding ``scores`` (mu, oldest first) and
    ``vals``; returns (error to the best token's value, the bound, gap Delta)."""
    Uw = scores.shape[0]
    lags = torch.arange(Uw - 1, -1, -1, dtype=torch.float64)
    total = scores + lags * math.log(lam_)
    best = int(total.argmax())
    others = torch.cat([total[:best], total[best + 1:]])
    gap = float(total[best] - others.max()) if Uw > 1 else math.inf
    weights = torch.softmax(total, 0)
    pooled = weights @ vals
    spread = float((vals - vals[best]).norm(dim=-1).max())
    error = float((pooled - vals[best]).norm())
    return error, bound_factor(Uw, gap) * spread, gap


def paper_bound(Uw, gap):
    return (Uw - 1) * math.exp(-gap)


def too_tight_bound(Uw, gap):
    return math.exp(-gap)


@st.composite
def selection_windows(draw):
    """Windows of scores and values; scores on a coarse grid and values at the corners are favoured,
    because ties among the runners-up and aligned values are where selection errors peak."""
    Uw = draw(st.integers(2, 16))
    d = draw(st.integers(1, 3))
    beta_ = draw(st.floats(0.1, 20.0))
    score = st.sampled_from([0.0, 0.25, 0.5, 0.75, 1.0]) | st.floats(0.0, 1.0)
    value = st.sampled_from([-1.0, 0.0, 1.0]) | st.floats(-1, 1)
    mus = torch.tensor(draw(st.lists(score, min_size=Uw, max_size=Uw)), dtype=torch.float64)
    vals = torch.tensor(draw(st.lists(st.lists(value, min_size=d, max_size=d), min_size=Uw, max_size=Uw)),
                        dtype=torch.float64)
    lam_ = draw(st.floats(0.5, 1.0))
    return beta_ * mus, vals, lam_


@pytest.mark.claim("select.hard-selection-bound")
@given(case=selection_windows())
def test_pooled_value_is_within_the_hard_selection_bound(case, evidence):
    scores, vals, lam_ = case
    error, bound, gap = selection_error_and_bound(scores, vals, lam_, paper_bound)
    if gap <= 0 or bound == 0:
        return
    target(error / bound, label="error / bound")
    evidence.note_max("max_error_over_bound", error / bound)
    evidence.count("windows")
    assert error <= bound * (1 + 1e-9) + 1e-15, f"error {error} > bound {bound} (gap {gap})"


@pytest.mark.claim("select.hard-selection-bound")
@given(Uw=st.integers(2, 64), delta=st.floats(0.05, 1.0), eps=st.sampled_from(EPSILONS), seed=st.integers(0, 2**31))
def test_beta_from_margin_and_window_gives_error_eps(Uw, delta, eps, seed, evidence):
    """lambda = 1, importance margin delta, beta = (ln U + ln 1/eps) / delta: error <= eps * spread."""
    g = torch.Generator().manual_seed(seed)
    mus = torch.rand(Uw, generator=g, dtype=torch.float64) * 0.5
    best = int(torch.randint(0, Uw, (1,), generator=g))
    mus[best] = float(mus.max()) + delta
    vals = torch.rand(Uw, 2, generator=g, dtype=torch.float64) * 2 - 1
    beta_ = (math.log(Uw) + math.log(1 / eps)) / delta
    error, _, _ = selection_error_and_bound(beta_ * mus, vals, 1.0, paper_bound)
    spread = float((vals - vals[best]).norm(dim=-1).max())
    evidence.note_max("max_error_over_eps_spread", error / (eps * spread) if spread else 0.0)
    assert error <= eps * spread * (1 + 1e-9) + 1e-15


@pytest.mark.claim("select.hard-selection-bound")
def test_selection_error_decays_in_beta_within_the_bound(evidence):
    """Windows of 8 tokens with importance margin 0.25 (lambda = 1): the worst error over 64 windows
    against beta, beside the bound (U-1) e^{-beta delta} max |v_j - v_*|."""
    g = torch.Generator().manual_seed(11)
    Uw, delta, betas = 8, 0.25, [float(b) for b in range(0, 81, 4)]
    windows = []
    for _ in range(64):
        mus = torch.rand(Uw, generator=g, dtype=torch.float64) * 0.5
        best = int(torch.randint(0, Uw, (1,), generator=g))
        mus[best] = float(mus.max()) + delta
        windows.append((mus, torch.rand(Uw, 2, generator=g, dtype=torch.float64) * 2 - 1))
    errors, bounds = [], []
    for beta_ in betas:
        worst = max((selection_error_and_bound(beta_ * m, v, 1.0, paper_bound) for m, v in windows), key=lambda r: r[0] / r[1])
        errors.append(worst[0])
        bounds.append(worst[1])
        assert worst[0] <= worst[1] * (1 + 1e-9) + 1e-15
    evidence.record(**{"figure:selection_error_vs_beta": {
        "name": "selection_error_vs_beta", "title": "Exponential pooling: selection error vs beta (U = 8, margin 0.25)",
        "xlabel": "beta", "ylabel": "|pooled - best value|", "xscale": "linear", "yscale": "log",
        "series": [{"label": "worst error over 64 windows", "x": betas, "y": [max(e, 1e-300) for e in errors]},
                   {"label": "bound (U-1) e^(-beta delta) max|v - v*|", "x": betas, "y": bounds, "style": "--"}]}})


@pytest.mark.claim("select.hard-selection-bound", role="control",
                  breaks="the bound: the factor U - 1 dropped; the same hypothesis search must find a violation")
def test_bound_search_finds_violations_of_a_too_tight_bound(evidence):
    """Without the factor U - 1 the bound is false; the same search must find a counterexample."""

    @settings(max_examples=200)
    @given(case=selection_windows())
    def tight(case):
        scores, vals, lam_ = case
        error, bound, gap = selection_error_and_bound(scores, vals, lam_, too_tight_bound)
        if gap > 0 and bound > 0:
            target(error / bound)
            assert error <= bound * (1 + 1e-9)

    with pytest.raises(AssertionError) as caught:
        tight()
    evidence.record(control="e^{-Delta} max|v_j - v_*| (no factor U - 1) is violated",
                    counterexample=str(caught.value)[:300])


# ----------------------------------------------------------------------------- ReLU approximations
def _sup_error(fnn, f, lo, hi, points=20001):
    x = torch.linspace(lo, hi, points, dtype=torch.float64)
    return float((relu_approx.evaluate(fnn, x) - f(x)).abs().max())


def _error_figure(name: str, title: str, errors: dict, sizes: list[int]) -> dict:
    """Measured error, proven budget and eps against 1/eps; the network size on the same axes."""
    inv = [1 / float(k) for k in errors]
    return {"name": name, "title": title, "xlabel": "1 / eps", "ylabel": "error  /  nonzero parameters",
            "xscale": "log", "yscale": "log",
            "series": [{"label": "measured sup error", "x": inv, "y": [max(v["sup_error"], 1e-300) for v in errors.values()]},
                       {"label": "proven budget", "x": inv, "y": [v["budget"] for v in errors.values()], "style": "--"},
                       {"label": "eps", "x": inv, "y": [float(k) for k in errors], "style": ":"},
                       {"label": "nonzero parameters", "x": inv, "y": sizes}]}


GADGETS = {
    "square on [0,1]": (lambda eps: relu_approx.square_fnn(relu_approx.square_steps(eps)), lambda x: x * x, 0.0, 1.0),
    "exp on [-4,0]": (lambda eps: relu_approx.exp_fnn(4.0, eps), torch.exp, -4.0, 0.0),
    "reciprocal on [0.1,1]": (lambda eps: relu_approx.reciprocal_fnn(0.1, eps), lambda x: 1 / x, 0.1, 1.0),
}
ROUNDOFF = 1e-12  # float64 evaluation error allowed beyond the exact-arithmetic budgets


@pytest.mark.claim("select.relu-approx-polylog")
@pytest.mark.parametrize("name", list(GADGETS))
def test_relu_gadget_error_within_budget_and_size_polylog(name, evidence):
    build, f, lo, hi = GADGETS[name]
    sizes, errors = [], {}
    for eps in EPSILONS:
        fnn, budget = build(eps)
        err = _sup_error(fnn, f, lo, hi)
        errors[f"{eps:.0e}"] = {"sup_error": err, "budget": budget}
        assert err <= budget + ROUNDOFF and budget <= eps, f"{name} at eps={eps}: error {err}, budget {budget}"
        sizes.append(fnn_resources(fnn, name).nonzeros)
    verdict = judge_polylog_measured(empirical_growth([1 / e for e in EPSILONS], sizes))
    slug = name.split(" ")[0]
    evidence.record(**{f"{name}": {"errors": errors, "nonzeros": sizes}, "nonzeros_growth": verdict,
                       f"figure:relu_{slug}_vs_eps": _error_figure(f"relu_{slug}_vs_eps", f"ReLU {name}: error and size vs eps",
                                                                   errors, sizes)})
    if verdict.verdict == "inconclusive":
        evidence.inconclusive(verdict.reason)
    assert verdict.verdict == "holds", verdict.reason


@pytest.mark.claim("select.relu-approx-polylog")
@given(x=st.floats(0.0, 1.0), y=st.floats(0.0, 1.0), m=st.integers(1, 12))
def test_relu_product_error_within_budget_at_searched_points(x, y, m, evidence):
    fnn, budget = relu_approx.product_fnn(m, 1.0)
    err = abs(float(fnn(torch.tensor([[x, y]], dtype=torch.float64))) - x * y)
    target(err / budget)
    evidence.note_max("max_error_over_budget", err / budget)
    assert err <= budget + ROUNDOFF


@pytest.mark.claim("select.relu-approx-polylog", role="control",
                  breaks="the approximant: piecewise-linear interpolation of e^x in place of the squaring-based network; its size must not be judged poly-log")
def test_polylog_judge_rejects_piecewise_linear_interpolation(evidence):
    """The interpolant needs (R^2 / (8 eps))^(1/2) pieces for e^x: its size is polynomial in 1/eps."""
    sizes, grid = [], EPSILONS[:6]  # 1e-6 already needs 1415 pieces
    for eps in grid:
        pieces = math.ceil(math.sqrt(16 / (8 * eps)))
        fnn = relu_approx.interpolation_fnn(torch.exp, -4.0, 0.0, pieces)
        assert _sup_error(fnn, torch.exp, -4.0, 0.0) <= eps * (1 + 1e-6)
        sizes.append(fnn_resources(fnn, "interp").nonzeros)
    verdict = judge_polylog_measured(empirical_growth([1 / e for e in grid], sizes))
    evidence.record(interpolation_nonzeros=sizes, interpolation_growth=verdict)
    assert verdict.verdict == "fails"


@pytest.mark.claim("select.relu-approx-polylog", role="control",
                   breaks="the squaring network: one tent composition fewer than eps needs (m - 1 for m = "
                          "square_steps(eps)); the error check must see the error exceed eps")
def test_error_check_catches_a_squaring_network_one_step_short(evidence):
    short = {}
    for eps in EPSILONS:
        m = relu_approx.square_steps(eps)
        if m > 1:
            fnn, _ = relu_approx.square_fnn(m - 1)
            short[f"{eps:.0e}"] = _sup_error(fnn, lambda x: x * x, 0.0, 1.0)
    caught = {k: v for k, v in short.items() if v > float(k)}
    evidence.record(short_square_errors=short, caught_at=sorted(caught))
    assert caught, short


@pytest.mark.claim("select.relu-approx-polylog")
def test_relu_pooling_lemma_error_below_eps_with_polylog_size(evidence):
    """Lemma 3.3 end to end with ReLU networks only (beta = 4, window 8): error <= eps."""
    g = torch.Generator().manual_seed(0)
    x = torch.rand(16, 24, 2, generator=g, dtype=torch.float64)
    reference = softmax_attention(x[..., 0], x[..., 1:], 4.0, 1.0, 8)[..., 0]
    grid = EPSILONS[:6]  # below 1e-6 float64 round-off in the division dominates (see budget notes)
    sizes, rows = [], {}
    for eps in grid:
        network, budget = relu_pooling_network(4.0, 8, eps)
        err = float((network(x)[..., 0] - reference).abs().max())
        rows[f"{eps:.0e}"] = {"error": err, "budget": budget.total}
        assert err <= eps and err <= budget.total + ROUNDOFF, f"eps={eps}: error {err}, budget {budget.total}"
        sizes.append(measure(network).parameters)
    verdict = judge_polylog_measured(empirical_growth([1 / e for e in grid], sizes))
    evidence.record(pooling_lemma=rows, parameters=sizes, parameters_growth=verdict,
                    **{"figure:pooling_lemma_vs_eps": _error_figure("pooling_lemma_vs_eps",
                                                                    "Pooling lemma with ReLU networks (beta 4, U 8): error and size vs eps",
                                                                    {k: {"sup_error": v["error"], "budget": v["budget"]} for k, v in rows.items()},
                                                                    sizes)})
    if verdict.verdict == "inconclusive":
        evidence.inconclusive(verdict.reason)
    assert verdict.verdict == "holds", verdict.reason


# ----------------------------------------------------------------------------- two-layer key-query
def key_query_batch(bits: int):
    """The format ``2^bits`` keys and values (at most 64 pairs, query first) and its seeded batch."""
    K = 2**bits
    config = ARConfig(K, K, min(K, 64), query="first")
    return config, generate(config, SIZES.batch, bits).tokens


@pytest.mark.claim("select.key-query-two-layer")
@pytest.mark.parametrize("bits", [2, 4, 8, 12])
def test_two_layer_key_query_selection_is_exact_with_small_weights(bits, evidence, device):
    config, tokens = key_query_batch(bits)
    construction = binary_query_first.build(config, device=device)
    assert_exact(construction, tokens.to(device), evidence)
    r = measure(construction.network)
    m = code_bits(config.num_keys)
    evidence.record(**{f"m{m}": {"fnn_width": r.fnn_width, "weight_bound": r.weight_bound, "layers": r.num_layers}})
    assert r.num_layers == 2 and r.weight_bound <= 2 and r.fnn_width == 3 * m + 1


@pytest.mark.claim("select.key-query-two-layer", role="control",
                  breaks="one weight of the binary query-first network (selection gadget or SSM taps), one mutation per case")
@pytest.mark.parametrize("index", range(3))
def test_key_query_check_catches_single_weight_mutation(index, evidence):
    config = ARConfig(256, 256, 64, query="first")
    broken = mutate(binary_query_first.build(config), binary_query_first.mutations(config)[index])
    result = verify(broken, generate(config, 4 * SIZES.batch, 99).tokens)
    evidence.record(mutation=str(binary_query_first.mutations(config)[index]), wrong_answers=result.wrong_answers,
                    first_failure=result.first_failure)
    assert not result.ok
