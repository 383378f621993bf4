"""What a diagonal SSM can realize (claim ``model.diagonal-realizes``; reconstructed).

Claim, in math (the reviewer's question "what if A must be diagonal?", PAPER.md §2):

1. **DFT nodes.** For every real kernel ``c`` on ``[0, L)`` and ``N >= L``, the diagonal SSM with
   ``lambda_j = exp(2 pi i j / N)``, ``B = 1``, ``C = fft(c, N) / N`` has kernel ``K_s = c_s``
   (``s < L``), ``K_s = 0`` (``L <= s < N``) and ``K_{s+N} = K_s``; ``cond_2`` of its Vandermonde
   matrix is 1 and ``max|C| <= max|c|``.
2. **Real nodes.** With ``L`` real nodes in ``(0, 1)`` (here ``j / (L+1)``) the weights ``C`` that
   realize the shift filters grow exponentially in ``L``; for *any* real nodes in ``[0, 1]``
   realizing the shift at lag ``L-1`` needs ``sum_j |B_j C_j| >= 2^(2L-3)`` (Chebyshev).
3. **No exact window.** If ``K_s = sum_j w_j lambda_j^s`` (all ``lambda_j != 0``) vanishes for all
   ``s >= U`` with ``U >= 1``, then ``K_{U-1} = 0``; so a diagonal SSM (zero nodes only touch
   ``K_0``; ``Re`` only doubles the nodes into ``lambda, conj(lambda)``) has no exact window
   ``U >= 2``. The nilpotent shift has window exactly ``U``.

What is checked, and how (tolerances are module constants, recorded with the evidence):

* DFT, shift filters at every lag ``k < L`` and random kernels (hypothesis): window error
  ``<= 1e-12 * L * max|c|`` measured from the built layer's ``kernel``; ``|cond_2(V) - 1| <= 1e-12 N``
  (numpy, per channel, ``V`` from the layer's ``lam`` and ``B``; cond is scale invariant, so this
  is also the cond of the unitary ``V / sqrt(N)``); ``max|C| <= max|c|``; tail 0 on ``[L, N)``
  (within the same tolerance), first tail tap above it at ``N + k``; period ``N``.
* A real construction: the fixed-length copier (``constructions/copying/fixed_length.py``) with its
  ShiftSSM swapped for the DFT realization copies exactly for ``N >= n + 2`` and fails on every
  string at ``N = n + 1 = U`` (the periodic image of lag ``n`` at ``n + N`` reaches the last answer
  position ``2n + 1``). A delay network (shift by ``k``) realized with ``N`` DFT nodes decodes
  exactly on sequences of length ``<= N + k`` and first fails at length ``N + k + 1``.
* Real nodes: exact (``Fraction``) inverse Vandermonde for ``L`` on the profile's grid: ``max|C|``
  over all lags, exact ``cond_1``; float64 realization error from the layer's kernel; the fit
  ``ln max|C| = a + b L`` must be exponential (criterion: :func:`semilog_growth`); the ``L`` where
  the float64 error exceeds ``1e-6`` is recorded. The Chebyshev bound is proved in sympy and
  compared with exact weights, also for random rational nodes.
* No window: the backward-step certificate for ``N`` symbolic nonzero nodes, ``N`` up to the
  profile's bound, in exact polynomial arithmetic (what exactly is proved: see
  :func:`test_no_diagonal_window_proof`); random diagonal layers measure windows in
  ``{0, 1, inf}``; ShiftSSM windows are exactly ``U``.
* Controls: a node moved by ``1e-6`` or one weight of ``C`` zeroed is caught (every node, every
  weight); a copier with one weight zeroed is caught; polynomial sequences are not called
  exponential; the window certificate is unavailable for the nilpotent ``J_U`` and for a zero
  node; the Chebyshev bound fails for unit-circle and for spread-out nodes.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from fractions import Fraction

import numpy as np
import pytest
import sympy as sp
import torch
from hypothesis import given
from hypothesis import strategies as st
from sympy.polys.rings import ring

from checks import profiles
from constructions.copying import fixed_length
from constructions.diagonal_realization import (
    REALIZATION_RTOL,
    chebyshev_weight_bound,
    condition_numbers,
    diagonalize_shifts,
    equispaced_fractions,
    exact_condition_1,
    exact_inverse_vandermonde,
    kernel_report,
    realize_dft,
    realize_real,
)
from constructions.mutation import Mutation, mutate
from constructions.ssm import DiagonalSSM, ShiftSSM, shifts
from constructions.tasks.copying import CopyConfig, all_strings, assemble, generate
from constructions.verification import verify

F64 = torch.float64
CLAIM = "model.diagonal-realizes"


@dataclass(frozen=True)
class Grid:
    dft_lengths: tuple[int, ...]  # L for the all-lags shift batches (each with N = L, L + 1, 2L)
    dft_random_max: int  # largest L of the hypothesis kernels
    delay_cases: tuple[tuple[int, int], ...]  # (L, N) of the delay networks
    copy_lengths: tuple[int, ...]  # string lengths n of the swapped copier
    copy_strings: int  # random strings per copier format (all strings when fewer exist)
    real_lengths: tuple[int, ...]  # L of the real-node growth grid
    bound_random_max: int  # largest L of the random-node Chebyshev check
    proof_max_nodes: int  # the no-window certificate is proved for 1..this many nodes


GRID = {
    "tiny": Grid(tuple(range(1, 9)), 12, ((1, 1), (3, 3), (3, 5)), (1, 2, 3), 16, tuple(range(2, 13)), 6, 6),
    "quick": Grid(tuple(range(1, 33)) + (48, 63, 64, 65), 64, ((1, 1), (4, 4), (5, 9), (16, 16), (16, 40)), (1, 2, 3, 5, 8, 13), 64,
                  tuple(range(2, 25)), 10, 12),
    "thorough": Grid(tuple(range(1, 97)) + (127, 128, 129, 255, 256, 257), 256, ((1, 1), (4, 4), (5, 9), (16, 16), (16, 40), (64, 64), (100, 257)),
                     (1, 2, 3, 5, 8, 13, 21, 34, 64), 512, tuple(range(2, 41)), 16, 16),
}

#: |cond_2(V) - 1| allowed for the DFT Vandermonde, per node (numpy SVD round-off)
COND_ATOL_PER_NODE = 1e-12
#: relative slack on max|C| <= max|c| (the bound is an equality for constant kernels with L = N)
WEIGHT_RTOL = 1e-12
#: a float64 realization "breaks" when its window error exceeds this
BREAK_ERROR = 1e-6
#: the size of a node perturbation / the kernel scale the controls use
NODE_PERTURBATION = 1e-6


def grid(sizes) -> Grid:
    return GRID[sizes.row]


def eye(L: int) -> torch.Tensor:
    """All shift filters of length ``L`` at once: channel ``k`` is ``e_k``."""
    return torch.eye(L, dtype=F64)


# ----------------------------------------------------------------------------- DFT realization
def dft_problems(layer: DiagonalSSM, target: torch.Tensor) -> tuple[list[str], dict]:
    """Everything part 1 of the claim says about a DFT realization of ``target (D, L)``, measured
    from ``layer``: window error, tail on ``[L, N)``, period ``N``, cond 1, weight bound. Returns
    the list of violations (empty: all hold) and the measurements."""
    L, N = target.shape[1], layer.state_size
    report = kernel_report(layer, target, horizon=2 * N + L, period=N)
    cond = condition_numbers(layer, L)
    max_C = float(layer.C.detach().abs().max())
    measured = {"L": L, "N": N, "window_error": report.window_error, "tolerance": report.tolerance,
                "tail_before_N": report.gap_max, "period_error": report.period_error,
                "cond_minus_1": float(np.abs(cond - 1).max()), "max_C": max_C, "max_c": report.scale,
                "first_tail_lag": report.first_tail_lag, "window": report.measured_window}
    problems = []
    if not report.exact:
        problems.append(f"window error {report.window_error:.3e} > {report.tolerance:.3e}")
    if measured["tail_before_N"] > report.tolerance:
        problems.append(f"kernel on [L, N) is {measured['tail_before_N']:.3e}, not 0")
    if report.period_error > report.tolerance:
        problems.append(f"kernel is not N-periodic: error {report.period_error:.3e}")
    if measured["cond_minus_1"] > COND_ATOL_PER_NODE * N:
        problems.append(f"cond_2(V) differs from 1 by {measured['cond_minus_1']:.3e}")
    if max_C > report.scale * (1 + WEIGHT_RTOL):
        problems.append(f"max|C| = {max_C:.6g} exceeds max|c| = {report.scale:.6g}")
    return problems, measured


@pytest.mark.claim(CLAIM)
def test_dft_realizes_every_shift_filter(sizes, evidence):
    worst = {"window_error_over_L": 0.0, "cond_minus_1": 0.0, "period_error": 0.0, "max_C_times_N": 0.0}
    for L in grid(sizes).dft_lengths:
        for N in sorted({L, L + 1, 2 * L}):
            layer = realize_dft(eye(L), N)
            problems, m = dft_problems(layer, eye(L))
            assert not problems, f"L={L}, N={N}: {problems}"
            # outside the window: first nonzero tap of channel k is its periodic image N + k
            assert m["first_tail_lag"] == tuple(N + k for k in range(L)), f"L={L}, N={N}: {m['first_tail_lag']}"
            assert m["window"] == math.inf
            worst["window_error_over_L"] = max(worst["window_error_over_L"], m["window_error"] / L)
            worst["cond_minus_1"] = max(worst["cond_minus_1"], m["cond_minus_1"])
            worst["period_error"] = max(worst["period_error"], m["period_error"])
            worst["max_C_times_N"] = max(worst["max_C_times_N"], m["max_C"] * N)
            evidence.count("shift_filters_realized", L)
    evidence.record(dft_shift_lengths=list(grid(sizes).dft_lengths), dft_state_sizes="N = L, L + 1, 2L",
                    realization_tolerance=f"{REALIZATION_RTOL} * L * max|c|",
                    cond_tolerance=f"{COND_ATOL_PER_NODE} * N", **{f"dft_shift_{k}": v for k, v in worst.items()},
                    dft_first_tail_lag="N + k for the shift at lag k (measured, every case)")


@st.composite
def kernels(draw, max_length: int):
    L = draw(st.integers(1, max_length))
    D = draw(st.integers(1, 3))
    scale = draw(st.sampled_from([1.0, 1e-3, 1e3]))
    values = draw(st.lists(st.floats(-1, 1, allow_nan=False, allow_subnormal=False), min_size=D * L, max_size=D * L))
    N = L + draw(st.integers(0, L))
    return torch.tensor(values, dtype=F64).reshape(D, L) * scale, N


@pytest.mark.claim(CLAIM)
@given(data=st.data())
def test_dft_realizes_random_kernels(data, sizes, evidence):
    target, N = data.draw(kernels(grid(sizes).dft_random_max))
    layer = realize_dft(target, N)
    problems, m = dft_problems(layer, target)
    assert not problems, problems
    evidence.count("random_kernels")
    evidence.note_max("random_kernel_longest_L", m["L"])
    evidence.note_max("random_kernel_window_error_relative", m["window_error"] / max(m["max_c"], 1e-300))
    evidence.note_max("random_kernel_cond_minus_1", m["cond_minus_1"])
    evidence.note_max("random_kernel_max_C_over_max_c", m["max_C"] / max(m["max_c"], 1e-300))


# ----------------------------------------------------------------------------- constructions
def copier_answers_wrong(construction, tokens) -> torch.Tensor:
    """``(B, n+1)`` bool: decoded answer differs from the reference."""
    with torch.no_grad():
        return construction.answer(tokens) != construction.reference(tokens)


def copier_tokens(config: CopyConfig, strings: int) -> torch.Tensor:
    if config.alphabet ** config.length <= strings:
        return assemble(config, all_strings(config.alphabet, config.length)).tokens
    return generate(config, strings, seed=config.length).tokens


@pytest.mark.claim(CLAIM)
def test_copier_with_diagonal_shift_copies_until_periodicity_bites(sizes, evidence):
    """Fixed-length copier (one shift by n, window U = n + 1) with its ShiftSSM swapped for the DFT
    realization with N states: exact for N >= n + 2 (including N >= sequence length 2n + 3), fails
    on every string at N = n + 1, and only at the last answer (position 2n + 1 sees x_0 = BOS through
    the periodic image at lag n + N)."""
    rows = []
    for n in grid(sizes).copy_lengths:
        config = CopyConfig(3, n)
        original = fixed_length.build(config)
        tokens = copier_tokens(config, grid(sizes).copy_strings)
        assert not copier_answers_wrong(original, tokens).any()
        for N in (n + 1, n + 2, config.sequence_length):
            swapped = diagonalize_shifts(original, extra_state=N - (n + 1))
            assert swapped.network.blocks[0].ssm.window() == math.inf
            result = verify(swapped, tokens)
            wrong = copier_answers_wrong(swapped, tokens)
            if N >= n + 2:
                assert result.ok, f"n={n}, N={N}: {result.describe()}"
            else:
                assert not result.ok
                assert bool(wrong[:, -1].all()) and not bool(wrong[:, :-1].any()), f"n={n}, N={N}: wrong at {wrong.nonzero().tolist()[:5]}"
            rows.append({"n": n, "N": N, "sequence_length": config.sequence_length, "strings": tokens.shape[0],
                         "exact": result.ok, "wrong_answers": int(wrong.sum()),
                         "max_abs_output_error": result.max_abs_error if result.ok else None})
            evidence.count("copier_strings_checked", tokens.shape[0])
    evidence.record(copier_swapped=rows, copier_smallest_exact_N="n + 2 (one more than the shift's state n + 1)",
                    copier_failure_at_N_eq_U="every string, last answer only (SEP + BOS seen instead of SEP)")


def delay_first_failures(layer, T: int, seed: int) -> list[int | None]:
    """Run a layer whose channel k should delay by k on one integer sequence (values 1..9, the same
    in every channel) of length T; per channel, the first position whose rounded output differs
    from ``x_{t-k}`` (None: none). Causal, so the outputs on a prefix of length T' are the first T'
    outputs: the first failing *length* is this position + 1."""
    g = torch.Generator().manual_seed(seed)
    D = layer.channels
    x = torch.randint(1, 10, (1, T, 1), generator=g).to(F64).expand(1, T, D).contiguous()
    y = layer(x).round()
    k = torch.arange(D)
    t = torch.arange(T)
    src = t.unsqueeze(1) - k.unsqueeze(0)  # (T, D)
    expected = torch.where(src >= 0, x[0, src.clamp(min=0), 0], torch.zeros((), dtype=F64))
    bad = (y[0] != expected)  # (T, D)
    return [int(bad[:, d].nonzero()[0]) if bool(bad[:, d].any()) else None for d in range(D)]


@pytest.mark.claim(CLAIM)
def test_delay_network_fails_first_at_length_N_plus_k_plus_1(sizes, evidence):
    rows = []
    for L, N in grid(sizes).delay_cases:
        T = 2 * N + L + 1
        fails = delay_first_failures(realize_dft(eye(L), N), T, seed=L * 1000 + N)
        assert fails == [N + k for k in range(L)], f"L={L}, N={N}: first failing positions {fails}"
        assert delay_first_failures(shifts(list(range(L))), T, seed=L * 1000 + N) == [None] * L  # nilpotent: never
        rows.append({"L": L, "N": N, "first_failing_length_per_lag": [f + 1 for f in fails]})
        evidence.count("delays_checked", L)
    evidence.record(delay_first_failing_length="N + k + 1 for the shift by k (exact on every length <= N + k)",
                    delay_cases=rows)


# ----------------------------------------------------------------------------- real nodes
def semilog_growth(xs, ys) -> dict:
    """Is ``y`` exponential in ``x``? Least squares ``ln y = a + b x``; local slopes
    ``d ln y / dx`` averaged over the first and last third of the grid.

    Exponential when ``b >= 0.1``, ``R^2 >= 0.98``, the ``ln y ~ x`` fit is at least as good as the
    power fit ``ln y ~ ln x``, and the late local slope is at least 0.8 x the early one (a power
    law ``x^p`` has slopes ``p / x``, falling by the grid's ratio ``x_max / x_min``). The criterion
    needs a grid that spans a large ratio of ``x`` (here ``L`` from 2)."""
    x, ly = np.asarray(xs, dtype=float), np.log(np.asarray(ys, dtype=float))
    if x.size < 4 or np.any(np.diff(x) <= 0) or np.any(x <= 0):
        raise ValueError("need at least 4 increasing positive sizes")

    def fit(u):
        b, a = np.polyfit(u, ly, 1)
        resid = ly - (a + b * u)
        total = np.sum((ly - ly.mean()) ** 2)
        return float(b), float(a), (1.0 - float(np.sum(resid**2) / total)) if total > 0 else 1.0

    b, a, r2 = fit(x)
    _, _, r2_power = fit(np.log(x))
    local = np.diff(ly) / np.diff(x)
    third = max(1, local.size // 3)
    early, late = float(np.mean(local[:third])), float(np.mean(local[-third:]))
    exponential = b >= 0.1 and r2 >= 0.98 and r2 >= r2_power and late >= 0.8 * early
    return {"rate_per_L": b, "base": math.exp(b), "intercept": a, "r2": r2, "r2_power_fit": r2_power,
            "early_rate": early, "late_rate": late, "exponential": bool(exponential)}


@pytest.mark.claim(CLAIM)
def test_real_nodes_need_exponentially_large_weights(sizes, evidence):
    rows = []
    for L in grid(sizes).real_lengths:
        nodes = equispaced_fractions(L)
        W = exact_inverse_vandermonde(nodes)  # C for the shift at lag k is column k
        max_C = max(abs(v) for row in W for v in row)
        layer = realize_real(eye(L))
        report = kernel_report(layer, eye(L), horizon=4 * L)
        rows.append({"L": L, "max_C_exact": float(max_C), "cond1_exact": float(exact_condition_1(nodes)),
                     "cond2_numpy": float(condition_numbers(layer, L)[0]), "max_C_float64": float(layer.C.abs().max()),
                     "float64_window_error": report.window_error, "tail_max_on_L_4L": report.tail_max})
        evidence.count("real_node_layers")
    growth = semilog_growth([r["L"] for r in rows], [r["max_C_exact"] for r in rows])
    cond_growth = semilog_growth([r["L"] for r in rows], [r["cond1_exact"] for r in rows])
    broken = [r["L"] for r in rows if not r["float64_window_error"] <= BREAK_ERROR]
    evidence.record(real_nodes="lambda_j = j/(L+1), j = 1..L", real_grid=f"L = {rows[0]['L']}..{rows[-1]['L']}",
                    max_C_exponential_fit=growth, cond1_exponential_fit=cond_growth, real_rows=rows,
                    float64_break_L=broken[0] if broken else None, break_threshold=BREAK_ERROR,
                    float64_break_note="first L whose float64 realization error exceeds 1e-6 (None: not on this grid)")
    assert growth["exponential"], f"max|C| does not grow exponentially: {growth}"
    assert cond_growth["exponential"], f"cond_1(V) does not grow exponentially: {cond_growth}"


# ----------------------------------------------------------------------------- Chebyshev bound
x_sym = sp.Symbol("x")
n_sym = sp.Symbol("n", integer=True, nonnegative=True)
theta = sp.Symbol("theta", real=True)


def cosine_recurrence_holds(shift: int = 1) -> bool:
    """Symbolic n: cos((n+1)t) + cos((n-1)t) = 2 cos t cos(nt) (with ``shift`` = 1; other values
    give a wrong identity, for the control)."""
    e = sp.cos((n_sym + shift) * theta) + sp.cos((n_sym - 1) * theta) - 2 * sp.cos(theta) * sp.cos(n_sym * theta)
    return sp.simplify(sp.expand_trig(sp.expand(e))) == 0


def chebyshev_facts(degree: int) -> bool:
    """sympy's T_m satisfy T_0 = 1, T_1 = x, T_{m+1} = 2x T_m - T_{m-1} for m < degree (so with the
    cosine recurrence, T_m(cos t) = cos(mt) and |T_m| <= 1 on [-1, 1]), and T_degree(2x - 1) has
    leading coefficient 2^(2 degree - 1)."""
    T = [sp.chebyshevt(m, x_sym) for m in range(degree + 2)]
    ok = T[0] == 1 and T[1] == x_sym
    ok = ok and all(sp.expand(T[m + 1] - 2 * x_sym * T[m] + T[m - 1]) == 0 for m in range(1, degree + 1))
    return bool(ok and sp.Poly(T[degree].subs(x_sym, 2 * x_sym - 1), x_sym).LC() == 2 ** (2 * degree - 1))


def chebyshev_bound_measure(nodes: list[Fraction]) -> tuple[Fraction, bool, bool]:
    """Exact weights realizing the shift at lag L-1 on ``nodes``: ``(sum |C_j|, bound holds,
    identity sum_j C_j p(nodes_j) = 2^(2L-3) holds)`` with ``p = T_{L-1}(2x - 1)``."""
    L = len(nodes)
    W = exact_inverse_vandermonde(nodes)
    weights = [W[j][L - 1] for j in range(L)]
    p = sp.Poly(sp.chebyshevt(L - 1, 2 * x_sym - 1), x_sym)
    coeffs = [Fraction(int(c)) for c in reversed(p.all_coeffs())]
    p_at = lambda v: sum(c * v**i for i, c in enumerate(coeffs))  # noqa: E731
    total = sum(abs(w) for w in weights)
    identity = sum(w * p_at(v) for w, v in zip(weights, nodes)) == chebyshev_weight_bound(L)
    return total, total >= chebyshev_weight_bound(L), identity


@pytest.mark.claim(CLAIM)
def test_chebyshev_lower_bound_for_any_real_nodes(sizes, evidence):
    assert cosine_recurrence_holds()
    lengths = grid(sizes).real_lengths
    assert chebyshev_facts(max(lengths) - 1)
    rows = []
    for L in lengths:
        total, holds, identity = chebyshev_bound_measure(equispaced_fractions(L))
        assert identity and holds, f"L={L}: sum|C| = {float(total):.6g} < 2^(2L-3) or the identity fails"
        rows.append({"L": L, "sum_abs_C": float(total), "bound": chebyshev_weight_bound(L),
                     "ratio": float(total / chebyshev_weight_bound(L))})
    evidence.record(chebyshev_bound="sum_j |B_j C_j| >= 2^(2L-3) for the shift at lag L-1, any real nodes in [0,1]",
                    chebyshev_proved=f"T_m recurrence and leading coefficient for m <= {max(lengths) - 1}; cosine identity for symbolic n",
                    chebyshev_equispaced=rows)


@st.composite
def rational_nodes(draw, max_length: int):
    L = draw(st.integers(2, max_length))
    den = draw(st.integers(L + 1, 1000))
    nums = draw(st.lists(st.integers(1, den - 1), min_size=L, max_size=L, unique=True))
    return [Fraction(v, den) for v in nums]


@pytest.mark.claim(CLAIM)
@given(nodes=rational_nodes(max_length=GRID[profiles.current().row].bound_random_max))
def test_chebyshev_lower_bound_on_random_nodes(nodes, evidence):
    total, holds, identity = chebyshev_bound_measure(nodes)
    assert identity, "sum_j C_j p(lambda_j) != leading coefficient of p"
    assert holds, f"nodes {nodes}: sum|C| = {float(total)} < {chebyshev_weight_bound(len(nodes))}"
    evidence.count("random_node_sets")
    evidence.note_max("random_nodes_longest_L", len(nodes))


# ----------------------------------------------------------------------------- no exact window
def backward_step_available(a0) -> bool:
    """The recurrence lets one step back (K_{U-1} from K_U..K_{U+N-1}) only if ``a_0`` is nonzero at
    every admissible point: here, a nonzero monomial in the nonzero node symbols."""
    return a0 != 0 and len(a0.terms()) == 1


def diagonal_certificate(nonzero_nodes: int, zero_nodes: int = 0) -> dict:
    """For ``A = diag(lambda_1..lambda_m, 0..0)`` in ZZ[lambda] (exact polynomial arithmetic):
    the coefficients ``a_r`` of ``chi(z) = prod_j (z - lambda_j)``; ``annihilates``: ``chi(lambda_j)
    = 0`` computed from the *expanded* ``a_r`` for every node; ``backward_step``: see
    :func:`backward_step_available`."""
    R, *gens = ring([f"lambda_{j}" for j in range(1, nonzero_nodes + 1)] or ["unused"], sp.ZZ)
    nodes = list(gens[:nonzero_nodes]) + [R(0)] * zero_nodes
    a = [R(1)]  # low degree first
    for lam in nodes:
        a = [(a[r - 1] if r > 0 else R(0)) - (a[r] * lam if r < len(a) else R(0)) for r in range(len(a) + 1)]
    def chi(v):  # Horner with the expanded coefficients
        acc = R(0)
        for coefficient in reversed(a):
            acc = acc * v + coefficient
        return acc

    annihilates = all(chi(lam) == 0 for lam in nodes)
    signed_product = (-1) ** len(nodes) * math.prod(nodes, start=R(1))
    return {"a": a, "annihilates": annihilates, "a0_is_signed_product": a[0] == signed_product,
            "backward_step": backward_step_available(a[0])}


def matrix_certificate(A: sp.Matrix) -> dict:
    """Same for a general (numeric) matrix: Cayley-Hamilton checked by computing chi(A)."""
    z = sp.Symbol("z")
    coeffs = list(reversed(A.charpoly(z).all_coeffs()))  # low degree first
    chi_A = sp.zeros(*A.shape)
    for r, c in enumerate(coeffs):
        chi_A += c * A**r
    R, _ = ring(["unused"], sp.ZZ)
    return {"a": coeffs, "annihilates": chi_A == sp.zeros(*A.shape), "backward_step": backward_step_available(R(int(coeffs[0])))}


def kernel_recurrence_identity(N: int) -> bool:
    """Symbolic lag U: sum_r alpha_r K_{U-1+r} = sum_j w_j lambda_j^(U-1) sum_r alpha_r lambda_j^r for
    K_s = sum_j w_j lambda_j^s and free alpha_0..alpha_N (the exponent law that turns chi(lambda_j) = 0
    into the kernel recurrence)."""
    U = sp.Symbol("U", integer=True, positive=True)
    lam = sp.symbols(f"lambda_1:{N + 1}", nonzero=True)
    w = sp.symbols(f"w_1:{N + 1}")
    alpha = sp.symbols(f"alpha_0:{N + 1}")
    K = lambda s: sum(wj * lj**s for wj, lj in zip(w, lam))  # noqa: E731
    lhs = sum(alpha[r] * K(U - 1 + r) for r in range(N + 1))
    rhs = sum(w[j] * lam[j] ** (U - 1) * sum(alpha[r] * lam[j] ** r for r in range(N + 1)) for j in range(N))
    return sp.expand(lhs - rhs, power_exp=True) == 0


@pytest.mark.claim(CLAIM)
def test_no_diagonal_window_proof(sizes, evidence):
    """Proved, for every N <= the profile's bound and symbolic nonzero complex nodes lambda_1..lambda_N,
    weights w_j and lag U >= 1: (i) the expanded coefficients a_r of chi(z) = prod (z - lambda_j)
    satisfy chi(lambda_j) = 0; (ii) a_0 = (-1)^N prod lambda_j (nonzero); (iii) the exponent law, so
    sum_{r=0}^N a_r K_{U-1+r} = 0 for K_s = sum_j w_j lambda_j^s. Hence K_s = 0 for all s >= U
    forces a_0 K_{U-1} = 0, i.e. K_{U-1} = 0: by induction the kernel vanishes on all s >= 0.
    For a DiagonalSSM with N states: zero nodes add only to K_0, and K_s = Re(sum_j w_j lambda_j^s)
    is a kernel on the 2N nodes lambda_j, conj(lambda_j); so no exact window U >= 2 for complex
    layers with 2N <= bound (real layers: N <= bound). The argument is the same for symbolic N;
    sympy checks it for each N up to the bound."""
    bound = grid(sizes).proof_max_nodes
    for N in range(1, bound + 1):
        cert = diagonal_certificate(N)
        assert cert["annihilates"] and cert["a0_is_signed_product"] and cert["backward_step"], f"N={N}: {cert}"
    for N in range(1, min(bound, 8) + 1):
        assert kernel_recurrence_identity(N), f"exponent law fails at N={N}"
    evidence.record(no_window_proved_for_nodes=f"1..{bound}", exponent_law_checked_for=f"N <= {min(bound, 8)} (symbolic U)",
                    no_window_consequence=f"complex DiagonalSSM with N <= {bound // 2} states or real with N <= {bound}: window in {{0, 1, inf}}")


@st.composite
def nonzero_diagonal_layers(draw):
    D, N = draw(st.integers(1, 3)), draw(st.integers(1, 6))
    floats = lambda lo, hi: st.lists(st.floats(lo, hi, allow_nan=False), min_size=D * N, max_size=D * N)  # noqa: E731
    radius = torch.tensor(draw(floats(0.5, 1.0)), dtype=F64).reshape(D, N)
    phase = torch.tensor(draw(floats(-math.pi, math.pi)), dtype=F64).reshape(D, N)
    if draw(st.booleans()):  # real nodes of either sign
        lam = radius * torch.sign(phase + 1e-9).to(F64)
        C = torch.tensor(draw(floats(0.1, 1.0)), dtype=F64).reshape(D, N)
    else:
        lam = torch.polar(radius, phase)
        C = torch.polar(torch.tensor(draw(floats(0.1, 1.0)), dtype=F64).reshape(D, N), phase.flip(-1))
    return DiagonalSSM(lam, torch.ones_like(C), C)


@pytest.mark.claim(CLAIM)
@given(layer=nonzero_diagonal_layers())
def test_diagonal_layers_have_no_window_of_two_or_more(layer, evidence):
    w = layer.window()
    assert w in (0, 1, math.inf), f"measured window {w} of a diagonal layer"
    evidence.count("diagonal_layers_window_measured")


@pytest.mark.claim(CLAIM)
def test_nilpotent_shift_has_exact_window(sizes, evidence):
    g = torch.Generator().manual_seed(0)
    top = max(grid(sizes).real_lengths)
    for U in range(1, top + 1):
        assert shifts([U - 1]).window() == U
        taps = torch.randn(3, U, generator=g, dtype=F64)
        taps[:, -1] = 1.0
        assert ShiftSSM(taps).window() == U
    evidence.record(shift_windows=f"ShiftSSM window == U exactly for U = 1..{top}")


# ----------------------------------------------------------------------------- controls
def _single_changes(layer: DiagonalSSM, target: torch.Tensor, change: str) -> tuple[DiagonalSSM, torch.Tensor]:
    """A layer of D*N channels: channel (d, j) is channel d of ``layer`` with node j moved by
    NODE_PERTURBATION (radially) or weight C[d, j] set to 0; and the matching targets."""
    D, N = layer.channels, layer.state_size
    lam = layer.lam.detach().repeat_interleave(N, dim=0)  # (D*N, N): row d*N + j
    C = layer.C.detach().repeat_interleave(N, dim=0).clone()
    rows, cols = torch.arange(D * N), torch.arange(N).repeat(D)
    if change == "node":
        lam = lam.clone()
        lam[rows, cols] *= 1 + NODE_PERTURBATION
    else:
        C[rows, cols] = 0
    return DiagonalSSM(lam, torch.ones_like(C), C), target.repeat_interleave(N, dim=0)


@pytest.mark.claim(CLAIM, role="control",
                  breaks="the DFT realization: every node perturbed, or every C weight zeroed, one at a time")
@pytest.mark.parametrize("change", ["node", "weight"])
@pytest.mark.parametrize("L, N", [(2, 2), (8, 8), (8, 13)])
def test_dft_check_catches_every_single_change(change, L, N, evidence):
    layer = realize_dft(eye(L), N)
    assert not dft_problems(layer, eye(L))[0]
    broken, targets = _single_changes(layer, eye(L), change)
    report = kernel_report(broken, targets, horizon=2 * N + L)
    caught = [e > report.tolerance for e in report.channel_errors]
    assert all(caught), f"{change} changes not caught at channels {[i for i, c in enumerate(caught) if not c]}"
    assert dft_problems(broken, targets)[0]
    evidence.record(**{f"control_{change}_L{L}_N{N}_smallest_error": min(report.channel_errors),
                       f"control_{change}_L{L}_N{N}_tolerance": report.tolerance})


@pytest.mark.claim(CLAIM, role="control",
                  breaks="the diagonal copier: each of its C weights zeroed in turn")
def test_swapped_copier_with_one_weight_zeroed_is_caught(evidence):
    config = CopyConfig(3, 4)
    swapped = diagonalize_shifts(fixed_length.build(config), extra_state=1)
    tokens = copier_tokens(config, 81)
    assert verify(swapped, tokens).ok
    for j in range(swapped.network.blocks[0].ssm.state_size):
        broken = mutate(swapped, Mutation(f"C[0, {j}] zeroed", "blocks.0.ssm.C", (0, j), 0.0))
        assert not verify(broken, tokens).ok, f"zeroing C[0, {j}] of the diagonal copier went unnoticed"
    evidence.record(control_copier="every single zeroed C weight of the diagonal copier is caught")


@pytest.mark.claim(CLAIM, role="control",
                  breaks="the diagonal premise: nilpotent J_U (U = 2..6) and a diagonal with a zero node; the no-window certificate must not be issued")
def test_window_certificate_is_unavailable_for_nilpotent_and_zero_nodes(evidence):
    for U in range(2, 7):
        J = sp.Matrix(U, U, lambda i, j: 1 if i == j + 1 else 0)
        cert = matrix_certificate(J)
        assert cert["annihilates"] and not cert["backward_step"], f"J_{U}: {cert}"
        assert shifts([U - 1]).window() == U  # and the window is real
    cert = diagonal_certificate(3, zero_nodes=1)
    assert cert["annihilates"] and not cert["backward_step"]
    zero_node = DiagonalSSM(torch.tensor([[0.0, 0.5]], dtype=F64), torch.ones(1, 2, dtype=F64), torch.tensor([[1.0, 0.0]], dtype=F64))
    assert zero_node.window() == 1  # a zero node gives K_0 only: window 1, allowed
    evidence.record(control_certificates="J_U (U = 2..6) and diag with a zero node: a_0 = 0, no backward step")


@pytest.mark.claim(CLAIM, role="control",
                  breaks="the Chebyshev bound's premise: real nodes 1..L outside [0, 1], and a wrong recurrence in its symbolic step")
def test_chebyshev_bound_check_fails_off_the_unit_interval(evidence):
    assert not cosine_recurrence_holds(shift=2)  # the symbolic step rejects a wrong recurrence
    rows = []
    for L in (3, 5, 8):
        spread = [Fraction(j) for j in range(1, L + 1)]  # real nodes 1..L: outside [0, 1]
        total, holds, identity = chebyshev_bound_measure(spread)
        assert identity and not holds, f"L={L}: nodes 1..L gave sum|C| = {float(total)}"
        dft = realize_dft(eye(L), L)  # unit-circle nodes: sum|C| for lag L-1 is 1
        dft_total = float(dft.C[L - 1].abs().sum())
        assert dft_total < chebyshev_weight_bound(L)
        rows.append({"L": L, "spread_nodes_sum_abs_C": float(total), "dft_sum_abs_C": dft_total,
                     "bound": chebyshev_weight_bound(L)})
    evidence.record(control_chebyshev=rows)
