"""Checks of the SSM layer itself (claims ``model.*``).

* ``model.shift-kernel`` -- sympy proof by induction, for symbolic s and U, that the nilpotent
  shift realization's kernel is the filter, then agreement with the built tensors.
* ``model.accumulator`` -- sympy proof by induction that the scalar recurrence is the geometric
  filter (the prefix sum at lambda = 1).
* ``model.modes-agree`` -- hypothesis: recurrence, direct and FFT convolution agree on random
  stable layers (every |lambda| and dense spectral radius at most 0.99; see ``ssm_layers``) of every
  parameterization and random inputs. Unstable layers are not drawn (issue #15).

Each has a control showing that the same procedure rejects a broken variant.
"""

from __future__ import annotations

import pytest
import sympy as sp
import torch
from sympy.simplify.simplify import sum_combine, sum_simplify
from hypothesis import given
from hypothesis import strategies as st

from checks.strategies import ssm_inputs, ssm_layers
from constructions.precision import to_dtype
from constructions.ssm import ShiftSSM, SSMBank, causal_conv_fft

# ----------------------------------------------------------------------------- shift kernel
i, j, k, a = sp.symbols("i j k a", integer=True, positive=True)
s, u = sp.symbols("s u", integer=True, nonnegative=True)
U = sp.symbols("U", integer=True, positive=True)
c = sp.IndexedBase("c")


def shift_entry(row, col):
    """Entry (row, col) of J_U, 1-indexed: ones on the sub-diagonal."""
    return sp.KroneckerDelta(row, col + 1)


def cyclic_shift_entry(row, col):
    """A broken 'shift' that wraps around: J_U + e_1 e_U^T (not nilpotent)."""
    return sp.KroneckerDelta(row, col + 1) + sp.KroneckerDelta(row, 1) * sp.KroneckerDelta(col, U)


def canonical_deltas(expr):
    """Write every delta(p, q) as delta(p - q, 0), so equal conditions look equal to sympy."""
    return expr.replace(
        lambda z: isinstance(z, sp.KroneckerDelta), lambda z: sp.KroneckerDelta(sp.expand(z.args[0] - z.args[1]), 0)
    )


def power_entry_step_holds(entry) -> bool:
    """Induction step for (A^s)_{ij} = delta(i, j + s), symbolic s >= 0 and U:
    sum_{k=1}^{U} A_{ik} (A^s)_{kj} = delta(i, j + s + 1) for every row 1 <= i <= U (j >= 1).
    The rows are split into the cases 2 <= i <= U (i = a + 1, U = a + 1 + u) and i = 1."""
    step = sp.Sum(entry(i, k) * sp.KroneckerDelta(k, j + s), (k, 1, U)).doit()
    claim = sp.KroneckerDelta(i, j + s + 1)
    cases = ({i: a + 1, U: a + 1 + u}, {i: 1, U: 1 + u})
    return all(sp.simplify(canonical_deltas((step - claim).subs(case))) == 0 for case in cases)


@pytest.mark.claim("model.shift-kernel")
def test_shift_kernel_equals_filter_symbolically(evidence):
    # Base case: A^0 = I, i.e. (A^0)_{ij} = delta(i, j + 0).
    assert sp.KroneckerDelta(i, j + 0) == sp.KroneckerDelta(i, j)
    # Induction step, symbolic s and U.
    assert power_entry_step_holds(shift_entry)
    # Hence A^s B = A^s e_1 has entries delta(i, 1 + s), and C A^s B = sum_i c_i delta(i, 1 + s):
    kernel = sp.Sum(c[i] * sp.KroneckerDelta(i, 1 + s), (i, 1, U)).doit()
    expected = sp.Piecewise((c[s + 1], s + 1 <= U), (0, True))
    assert sp.simplify(kernel - expected) == 0
    evidence.record(
        induction_step="sum_k delta(i, k+1) delta(k, j+s) = delta(i, j+s+1) for 1 <= i <= U",
        kernel=str(kernel),
        meaning="C A^s B = c_{s+1} (1-indexed, i.e. tap s) for s < U and 0 for s >= U",
    )


@pytest.mark.claim("model.shift-kernel", role="control",
                  breaks="the realization: J_U replaced by the cyclic shift J_U + e_1 e_U^T; the sympy induction must reject it")
def test_shift_kernel_proof_rejects_a_wraparound_shift(evidence):
    assert power_entry_step_holds(shift_entry)
    assert not power_entry_step_holds(cyclic_shift_entry)
    evidence.record(control="the induction step fails for J_U + e_1 e_U^T (its kernel does not vanish at s >= U)")


@pytest.mark.claim("model.shift-kernel")
@given(layer=ssm_layers(max_state=8).filter(lambda l: isinstance(l, ShiftSSM)))
def test_shift_layer_tensors_realize_its_taps(layer, evidence):
    A, B, C, _ = layer.matrices()
    N = layer.state_size
    power = torch.eye(N, dtype=A.dtype).expand_as(A).clone()
    for step in range(N + 3):
        tap = torch.einsum("dn,dnm,dm->d", C, power, B)
        expected = layer.C[:, step] if step < N else torch.zeros_like(tap)
        assert torch.equal(tap, expected), f"C A^{step} B = {tap.tolist()}, taps give {expected.tolist()}"
        power = A @ power
    assert layer.window() <= N
    evidence.count("layers_checked")


# ----------------------------------------------------------------------------- accumulator
lam = sp.symbols("lambda")
t = sp.symbols("t", integer=True, positive=True)
x = sp.IndexedBase("x")


def accumulator_step_holds(kernel) -> bool:
    """Induction step: if h_{t-1} = sum_{s=0}^{t-1} kernel(s) x_{t-1-s}, then
    lam h_{t-1} + x_t = sum_{s=0}^{t} kernel(s) x_{t-s}. Every manipulation is sympy's: the
    split of the sum into its s = 0 term and the rest, the index shift, and the merge of sums."""
    f = kernel(s) * x[t - s]
    h_t = sp.Sum(f, (s, 0, t))
    head, tail = sp.Sum(f, (s, 0, 0)), sp.Sum(f, (s, 1, t))
    if sp.simplify(sum_combine([head, tail]) - h_t) != 0:
        return False
    lam_h_prev = sp.Sum(lam * kernel(s) * x[t - 1 - s], (s, 0, t - 1)).change_index(s, s + 1)
    return sp.simplify(sum_simplify(lam_h_prev + x[t] - head.doit() - tail)) == 0


@pytest.mark.claim("model.accumulator")
def test_accumulator_is_geometric_filter_symbolically(evidence):
    # Base: h_0 = x_0 = lam^0 x_0.
    assert sp.Sum(lam**s * x[0 - s], (s, 0, 0)).doit() == x[0]
    assert accumulator_step_holds(lambda q: lam**q)
    # lambda = 1: the prefix sum sum_{tau <= t} x_tau.
    prefix = sp.Sum((lam**s * x[t - s]).subs(lam, 1), (s, 0, t))
    tau = sp.symbols("tau", integer=True)
    assert sp.simplify(prefix.change_index(s, t - s, tau) - sp.Sum(x[tau], (tau, 0, t))) == 0
    evidence.record(kernel="K_s = lambda^s", prefix_sum="lambda = 1: y_t = sum_{tau <= t} x_tau")


@pytest.mark.claim("model.accumulator", role="control",
                  breaks="the kernel: lambda^(s+1) and (s+1) lambda^s in place of lambda^s; the sympy induction must reject both")
def test_accumulator_proof_rejects_a_wrong_kernel(evidence):
    assert not accumulator_step_holds(lambda q: lam ** (q + 1))
    assert not accumulator_step_holds(lambda q: (q + 1) * lam**q)
    evidence.record(control="the induction rejects K_s = lambda^(s+1) and K_s = (s+1) lambda^s")


# ----------------------------------------------------------------------------- modes agree
TOLERANCE = {torch.float64: 1e-9, torch.float32: 1e-3}  # relative to the output scale


def mode_discrepancy(layer, x) -> float:
    """Largest |difference| between the three modes, relative to the largest |output|."""
    reference = layer(x, "recurrence")
    scale = max(1.0, float(reference.abs().max()))
    return max(float((layer(x, m) - reference).abs().max()) for m in layer.supported_modes() + ("auto",)) / scale


@pytest.mark.claim("model.modes-agree")
@given(data=st.data())
def test_recurrence_direct_and_fft_agree_in_float64(data, evidence, device):
    layer = data.draw(ssm_layers()).to(device)
    xs = data.draw(ssm_inputs(layer.channels)).to(device)
    gap = mode_discrepancy(layer, xs)
    evidence.count("layers_checked")
    evidence.note_max("max_relative_discrepancy_float64", gap)
    evidence.note_max("longest_sequence", xs.shape[1])
    assert gap <= TOLERANCE[torch.float64], f"{type(layer).__name__}: modes differ by {gap:.3e}"


@pytest.mark.claim("model.modes-agree")
@given(data=st.data())
def test_recurrence_direct_and_fft_agree_in_float32(data, evidence, device):
    layer = to_dtype(data.draw(ssm_layers()), torch.float32).to(device)
    xs = data.draw(ssm_inputs(layer.channels)).to(device=device, dtype=torch.float32)
    gap = mode_discrepancy(layer, xs)
    evidence.note_max("max_relative_discrepancy_float32", gap)
    evidence.record(float32_tolerance=TOLERANCE[torch.float32])
    assert gap <= TOLERANCE[torch.float32], f"{type(layer).__name__}: float32 modes differ by {gap:.3e}"


@pytest.mark.claim("model.modes-agree")
@pytest.mark.parametrize("dev", ["cpu", pytest.param("cuda", marks=pytest.mark.gpu)])
def test_modes_agree_on_each_device_at_length_4096(dev, evidence):
    g = torch.Generator().manual_seed(7)
    layer = SSMBank([ShiftSSM(torch.randn(4, 33, generator=g, dtype=torch.float64))])
    xs = torch.randn(2, 4096, 4, generator=g, dtype=torch.float64)
    layer, xs = layer.to(dev), xs.to(dev)
    gap = mode_discrepancy(layer, xs)
    evidence.record(**{f"relative_discrepancy_{dev}_L4096": gap})
    assert gap <= TOLERANCE[torch.float64]


@pytest.mark.claim("model.modes-agree", role="control",
                  breaks="the FFT mode: a convolution without zero padding (circular), compared with the recurrence")
def test_mode_comparison_catches_a_circular_fft(evidence):
    """An FFT without enough zero padding wraps the tail of the input around; the check must see it."""
    g = torch.Generator().manual_seed(3)
    layer = ShiftSSM(torch.randn(2, 16, generator=g, dtype=torch.float64))
    xs = torch.randn(1, 64, 2, generator=g, dtype=torch.float64)
    k = layer.kernel(16)

    def circular(xv, kv):
        n = xv.shape[1]
        return torch.fft.irfft(torch.fft.rfft(xv.transpose(1, 2), n=n) * torch.fft.rfft(kv, n=n), n=n).transpose(1, 2)

    reference = layer(xs, "recurrence")
    good = float((causal_conv_fft(xs, k) - reference).abs().max())
    bad = float((circular(xs, k) - reference).abs().max())
    evidence.record(correct_fft_error=good, circular_fft_error=bad)
    assert good <= TOLERANCE[torch.float64] < bad
