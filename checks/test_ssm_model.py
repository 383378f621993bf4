"""Checks of the SSM layer itself (claims ``model.*``).

* ``model.shift-kernel`` -- sympy proof by induction, for symbolic s and U, that the nilpotent
  shift realization's kernel is the filter, then agreement with the built tensors.
* ``model.accumulator`` -- sympy proof by induction that the scalar recurrence is the geometric
  filter (the prefix sum at lambda = 1).
* ``model.modes-agree`` -- hypothesis: the compute modes agree with the recurrence on random layers
  of every parameterization, stable, marginal (largest |lambda| exactly 1, prefix sums among them)
  and unstable (up to 1.5; ``ssm_layers(spectrum=...)``: stable layers in one test, marginal or unstable
  ones in another), and random inputs: within the largest
  output where the kernel is bounded, at every position within that position's own scale where it
  grows (and there the FFT refuses).

* ``model.step-mode`` -- hypothesis: step mode (``initial_state``/``step``, one token at a time) equals
  the convolutional modes on the same layers (its state equals ``states`` and ``state_after``), on whole
  random networks (``steps``, ``prefill``), and free-running decoding in step mode gives the tokens that
  re-running the prefix gives, on the copiers and on copiers with perturbed weights.

Each has a control showing that the same procedure rejects a broken variant.
"""

from __future__ import annotations

import math

import pytest
import sympy as sp
import torch
from sympy.simplify.simplify import sum_combine, sum_simplify
from hypothesis import given
from hypothesis import strategies as st

from checks.strategies import network_tokens, perturbed_copiers, ssm_inputs, ssm_layers, ssm_networks
from constructions.copying import fixed_length, greedy_decode, greedy_decode_rerunning, ngram
from constructions.embedding import TableEmbedding
from constructions.errors import IllConditionedModeError, NonCausalError
from constructions.fnn import FNN
from constructions.network import SSMNetwork
from constructions.precision import to_dtype
from constructions.ssm import DenseSSM, DiagonalSSM, ShiftSSM, SSMBank, SSMLayer, accumulator, causal_conv_fft, shifts
from constructions.tasks.copying import CopyConfig, assemble
from constructions.vocabulary import Vocabulary

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
TOLERANCE = {torch.float64: 1e-9, torch.float32: 1e-3}


def mode_discrepancy(layer, x) -> float:
    """Largest |difference| between the modes and the recurrence, relative to the largest |output|:
    the accuracy of the FFT, whose round-off is a few ulps of the largest output."""
    reference = layer(x, "recurrence")
    scale = max(1.0, float(reference.abs().max()))
    return max(float((layer(x, m) - reference).abs().max()) for m in layer.supported_modes() + ("auto",)) / scale


def absolute_layer(layer):
    """The layer with every parameter replaced by its absolute value (float64): its output on ``|x|`` is
    ``S_t = sum_s |C| |A|^s |B| |x_{t-s}| (+ |skip| |x_t|)``, the scale of output t's own sum."""
    kw = dict(skip=layer.skip.detach().abs().double(), lookahead=layer.lookahead)
    B, C = layer.B.detach().abs().double(), layer.C.detach().abs().double()
    if isinstance(layer, ShiftSSM):
        return ShiftSSM(C, **kw)
    if isinstance(layer, DiagonalSSM):
        return DiagonalSSM(layer.lam.detach().abs().double(), B, C, **kw)
    return DenseSSM(layer.A.detach().abs().double(), B, C, **kw)


def position_discrepancy(layer, x, modes) -> float:
    """Largest |difference| between ``modes`` and the recurrence at any position, relative to that
    position's own scale ``S_t`` (:func:`absolute_layer`): what the recurrence and a direct sum achieve
    (a few ulps of S_t each), and what a growing kernel needs, whose outputs span rho^L."""
    reference = layer(x, "recurrence")
    scale = absolute_layer(layer)(x.abs().double(), "recurrence").to(reference.dtype)
    worst = 0.0
    for m in modes:
        gap = (layer(x, m) - reference).abs()
        if bool((gap[scale == 0] != 0).any()):
            return math.inf  # an output whose every term is 0 must be exactly 0
        worst = max(worst, float((gap / scale.clamp(min=torch.finfo(scale.dtype).tiny)).max()))
    return worst


def discrepancies(layer, x) -> dict[str, float]:
    """The check of one layer (of each group of a bank): on a growing kernel (rho^(L-1) > FFT_MAX_GROWTH)
    the FFT must refuse and direct and auto agree with the recurrence at every position; otherwise every
    mode agrees with the recurrence within the largest output. ``{"bounded" | "growing": gap}``."""
    if isinstance(layer, SSMBank):
        parts = torch.split(x, [g.channels for g in layer.groups], dim=-1)
        assert torch.equal(layer(x), torch.cat([g(p) for g, p in zip(layer.groups, parts)], dim=-1))
        found: dict[str, float] = {}
        for group, part in zip(layer.groups, parts):
            for kind, gap in discrepancies(group, part).items():
                found[kind] = max(found.get(kind, 0.0), gap)
        if "growing" in found:
            with pytest.raises(IllConditionedModeError):
                layer(x, "fft")
        return found
    if layer.is_growing(x.shape[1] + layer.lookahead):
        with pytest.raises(IllConditionedModeError):
            layer(x, "fft")
        return {"growing": position_discrepancy(layer, x, ("direct", "auto"))}
    return {"bounded": mode_discrepancy(layer, x)}


def spectral_regime(layer) -> str:
    """The regime a layer is in, measured (a bank: its largest group's; shift layers are nilpotent)."""
    rho = max(g.spectral_radius() for g in (layer.groups if isinstance(layer, SSMBank) else [layer]))
    return "stable" if rho < 1 - 1e-9 else ("marginal" if rho <= 1 + 1e-9 else "unstable")


def check_modes(layer, xs, dtype, evidence) -> None:
    found = discrepancies(layer, xs)
    name = "float64" if dtype == torch.float64 else "float32"
    evidence.count(f"layers_checked_{name}")
    evidence.count(f"{spectral_regime(layer)}_layers_{name}")
    evidence.count(f"growing_layers_{name}", int("growing" in found))
    for kind, gap in found.items():
        evidence.note_max(f"max_relative_discrepancy_{kind}_{name}", gap)
    evidence.note_max("longest_sequence", xs.shape[1])
    worst = max(found.values())
    assert worst <= TOLERANCE[dtype], f"{type(layer).__name__}: modes differ by {worst:.3e} ({found})"


@pytest.mark.claim("model.modes-agree")
@pytest.mark.parametrize("spectrum", ["stable", "marginal-or-unstable"])
@given(data=st.data())
def test_recurrence_direct_and_fft_agree_in_float64(spectrum, data, evidence, device):
    layer = data.draw(ssm_layers(spectrum=spectrum)).to(device)
    xs = data.draw(ssm_inputs(layer.channels)).to(device)
    check_modes(layer, xs, torch.float64, evidence)


@pytest.mark.claim("model.modes-agree")
@pytest.mark.parametrize("spectrum", ["stable", "marginal-or-unstable"])
@given(data=st.data())
def test_recurrence_direct_and_fft_agree_in_float32(spectrum, data, evidence, device):
    layer = to_dtype(data.draw(ssm_layers(spectrum=spectrum)), torch.float32).to(device)
    xs = data.draw(ssm_inputs(layer.channels)).to(device=device, dtype=torch.float32)
    evidence.record(float32_tolerance=TOLERANCE[torch.float32])
    check_modes(layer, xs, torch.float32, evidence)


@pytest.mark.claim("model.modes-agree")
@pytest.mark.parametrize("lam, length", [(1.2, 200), (-1.2, 200), (1.004, 3000), (1.0 + 0.5j, 300)])
def test_a_growing_diagonal_layer_is_computed_at_every_position(lam, length, evidence):
    """The probes of issue #15 (lambda = 1.2, L = 200 gave y_0 = 6 instead of 1), and a slow growth over
    a long sequence (1.004^3000 ~ 2e5, more taps than GROWING_DIRECT_MAX), where auto takes the recurrence."""
    dtype = torch.complex128 if isinstance(lam, complex) else torch.float64
    layer = accumulator(2, lam, dtype=dtype)
    xs = torch.randn(2, length, 2, generator=torch.Generator().manual_seed(5), dtype=torch.float64)
    found = discrepancies(layer, xs)
    evidence.note_max("max_relative_discrepancy_growing_probes", found["growing"])
    assert found["growing"] <= TOLERANCE[torch.float64]
    assert float(layer(torch.ones(1, length, 2, dtype=torch.float64))[0, 0, 0]) == 1.0


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


@pytest.mark.claim("model.modes-agree", role="control",
                  breaks="the auto mode's choice: the FFT convolution on a growing layer (lambda = 1.2, L = 200), as auto chose before issue #15")
def test_position_check_catches_the_fft_on_a_growing_layer(evidence):
    """The FFT's error is a few ulps of the largest output: the comparison within the largest output
    passes it, the comparison at every position must not."""
    layer = accumulator(1, 1.2)
    xs = torch.ones(1, 200, 1, dtype=torch.float64)
    fft = causal_conv_fft(xs, layer.kernel(200))
    reference = layer(xs, "recurrence")
    scale = absolute_layer(layer)(xs, "recurrence")
    per_position = float(((fft - reference).abs() / scale).max())
    within_largest = float((fft - reference).abs().max() / reference.abs().max())
    evidence.record(fft_y0=float(fft[0, 0, 0]), fft_position_discrepancy=per_position,
                    fft_discrepancy_within_largest_output=within_largest)
    assert within_largest <= TOLERANCE[torch.float64] < per_position


# ----------------------------------------------------------------------------- step mode
def stepped(layer, x):
    """``layer`` read one token at a time from its initial state: outputs ``(batch, L, D)`` and the last state."""
    state = layer.initial_state(x.shape[0])
    ys = []
    for t in range(x.shape[1]):
        y, state = layer.step(x[:, t], state)
        ys.append(y)
    return torch.stack(ys, dim=1), state


def step_output_gap(layer, x, y) -> tuple[str, float]:
    """How far step-mode outputs ``y`` of one layer (not a bank) are from its convolutional modes: on a growing
    kernel, from 'recurrence', 'direct' and 'auto' relative to each position's own scale S_t
    (:func:`position_discrepancy`); otherwise from every supported mode and 'auto' within max(1, largest |output|)."""
    if layer.is_growing(x.shape[1]):
        scale = absolute_layer(layer)(x.abs().double(), "recurrence").to(y.dtype)
        worst = 0.0
        for m in ("recurrence", "direct", "auto"):
            gap = (layer(x, m) - y).abs()
            if bool((gap[scale == 0] != 0).any()):
                return "growing", math.inf
            worst = max(worst, float((gap / scale.clamp(min=torch.finfo(scale.dtype).tiny)).max()))
        return "growing", worst
    scale = max(1.0, float(layer(x, "recurrence").abs().max()))
    return "bounded", max(float((layer(x, m) - y).abs().max()) for m in layer.supported_modes() + ("auto",)) / scale


def step_discrepancies(layer, x) -> dict[str, float]:
    """Step mode of ``layer`` (a bank stepped as one) against its convolutional modes, each group apart:
    ``{"bounded" | "growing": output gap, "state": gap}``, the state's gap being the largest of
    |state_vector - states(x)[:, -1]| and |state_after(x) - the stepped state|, relative to max(1, largest |entry|)."""
    y, state = stepped(layer, x)
    groups = layer.groups if isinstance(layer, SSMBank) else [layer]
    sizes = [g.channels for g in groups]
    found: dict[str, float] = {}
    for group, part, out in zip(groups, torch.split(x, sizes, dim=-1), torch.split(y, sizes, dim=-1)):
        kind, gap = step_output_gap(group, part, out)
        found[kind] = max(found.get(kind, 0.0), gap)
    h = layer.state_vector(state)
    reference = layer.states(x)[:, -1].reshape(h.shape)
    scale = max(1.0, float(reference.abs().max()))
    found["state"] = max(float((h - reference).abs().max()), float((layer.state_vector(layer.state_after(x)) - h).abs().max())) / scale
    return found


#: the longest sequence a layer is stepped through (a Python step per token; still both sides of the direct/FFT switch)
STEP_MAX_LENGTH = 96


#: the FFT's round-off is a few ulps of sum_s |K_s| max|x| (not of the output, which may cancel to 0): with
#: a kernel's l1 norm up to 1e6 that is below 1e6 * 2^-52 ~ 2e-10, inside the 1e-9 tolerance; a network with a
#: larger kernel (a non-normal dense A with 1e12 entries has K_1 = 1e12) is compared with the FFT no tighter
#: than its conditioning allows, so it is left out of the FFT comparison (counted in the evidence)
FFT_KERNEL_L1_MAX = 1e6


def fft_well_conditioned(network, length: int) -> bool:
    """Every SSM kernel of ``network`` over ``length`` taps has l1 norm at most :data:`FFT_KERNEL_L1_MAX` per channel."""
    layers = [g for b in network.blocks for g in (b.ssm.groups if isinstance(b.ssm, SSMBank) else [b.ssm])]
    return all(float(g.kernel(length).abs().sum(-1).max()) <= FFT_KERNEL_L1_MAX for g in layers)


def network_step_discrepancy(network, tokens, split: int) -> float:
    """``network.steps(tokens)`` against ``network(tokens, mode)`` for 'recurrence', 'direct', 'auto' and (where
    :func:`fft_well_conditioned`) 'fft', and against ``prefill(tokens[:, :split])`` continued by ``steps``;
    relative to max(1, largest |output|)."""
    y, _ = network.steps(tokens)
    scale = max(1.0, float(network(tokens, "recurrence").abs().max()))
    modes = ("recurrence", "direct", "auto") + (("fft",) if fft_well_conditioned(network, tokens.shape[1]) else ())
    gaps = [float((network(tokens, m) - y).abs().max()) for m in modes]
    head, state = network.prefill(tokens[:, :split])
    tail, _ = network.steps(tokens[:, split:], state)
    gaps.append(float((torch.cat([head, tail], dim=1) - y).abs().max()))
    return max(gaps) / scale


@pytest.mark.claim("model.step-mode")
@pytest.mark.parametrize("spectrum", ["stable", "marginal-or-unstable"])
@given(data=st.data())
def test_step_mode_equals_the_convolutional_modes_on_every_layer_kind(spectrum, data, evidence, device):
    layer = data.draw(ssm_layers(spectrum=spectrum, allow_lookahead=False)).to(device)
    xs = data.draw(ssm_inputs(layer.channels, max_length=STEP_MAX_LENGTH)).to(device)
    found = step_discrepancies(layer, xs)
    evidence.count("layers_stepped")
    evidence.count(f"{spectral_regime(layer)}_layers_stepped")
    evidence.count("growing_layers_stepped", int("growing" in found))
    evidence.count("banks_stepped", int(isinstance(layer, SSMBank)))
    for kind, gap in found.items():
        evidence.note_max(f"max_relative_step_discrepancy_{kind}", gap)
    evidence.record(tolerance_float64=TOLERANCE[torch.float64])
    assert max(found.values()) <= TOLERANCE[torch.float64], f"{type(layer).__name__}: step mode differs ({found})"


@pytest.mark.claim("model.step-mode")
@given(layer=ssm_layers(max_state=4).filter(lambda l: any(g.lookahead for g in (l.groups if isinstance(l, SSMBank) else [l]))))
def test_a_layer_that_looks_ahead_has_no_step_mode(layer, evidence):
    with pytest.raises(NonCausalError, match="looks ahead"):
        layer.initial_state(2)
    evidence.count("lookahead_layers_refused")


@pytest.mark.claim("model.step-mode")
@given(data=st.data())
def test_a_network_in_step_mode_equals_its_convolutional_modes(data, evidence):
    network = data.draw(ssm_networks(spectrum=data.draw(st.sampled_from(["stable", "marginal"]), label="spectrum")))
    tokens = data.draw(network_tokens(network.embedding.vocabulary.size, max_length=40))
    split = data.draw(st.integers(0, tokens.shape[1]), label="prefill")
    gap = network_step_discrepancy(network, tokens, split)
    evidence.count("networks_stepped")
    evidence.count("networks_left_out_of_the_fft_comparison", int(not fft_well_conditioned(network, tokens.shape[1])))
    evidence.note_max("max_relative_network_step_discrepancy", gap)
    evidence.note_max("most_blocks", len(network.blocks))
    assert gap <= TOLERANCE[torch.float64], f"network step mode differs by {gap:.3e}"


def decoders_agree(construction, tokens) -> tuple[bool, int]:
    """Free-running decoding of the prompts of ``tokens`` in step mode and by re-running the prefix:
    (the same tokens?, how many steps the two decoders' output differs from the copy)."""
    s = construction.config.length
    prompts = tokens[:, : s + 2]
    fast = greedy_decode(construction, prompts, s + 1, decoder="step")
    slow = greedy_decode_rerunning(construction, prompts, s + 1)
    return bool(torch.equal(fast, slow)), int((slow != tokens[:, s + 2 :]).sum())


@pytest.mark.claim("model.step-mode")
@given(case=perturbed_copiers())
def test_free_running_decoding_in_step_mode_equals_rerunning_the_prefix(case, evidence):
    same, wrong = decoders_agree(*case)
    evidence.count("strings_decoded_both_ways")
    evidence.count("perturbed_copiers_with_wrong_tokens", int(wrong > 0))
    assert same, "step-mode decoding and re-running the prefix generated different tokens"


@pytest.mark.claim("model.step-mode", role="control",
                  breaks="the step mode's state update: h_t = B x_t (the A h_(t-1) term dropped) for diagonal and dense "
                  "layers, and a shift ring buffer whose position never advances")
def test_step_checks_catch_a_state_update_that_drops_a_term(monkeypatch, evidence):
    g = torch.Generator().manual_seed(11)
    r = lambda *shape: torch.rand(*shape, generator=g, dtype=torch.float64) - 0.5  # noqa: E731
    layers = [DiagonalSSM(r(2, 3), r(2, 3), r(2, 3)), DenseSSM(r(2, 3, 3), r(2, 3), r(2, 3)), ShiftSSM(r(2, 4)),
              SSMBank([accumulator(1), shifts([2])])]
    xs = torch.randn(2, 30, 2, generator=g, dtype=torch.float64)
    good = [max(step_discrepancies(layer, xs).values()) for layer in layers]
    network = SSMNetwork(TableEmbedding(Vocabulary.of(token=3), r(3, 2)),
                         [(DiagonalSSM(r(2, 3), r(2, 3), r(2, 3)), FNN([(r(4, 2), r(4)), (r(2, 4), r(2))])),
                          (ShiftSSM(r(2, 4)), FNN([(r(1, 2), r(1))]))])
    tokens = torch.randint(0, network.embedding.vocabulary.size, (2, 20), generator=g)
    good_network = network_step_discrepancy(network, tokens, 7)

    monkeypatch.setattr(SSMLayer, "_step", lambda self, x_t, h: self._advance(x_t, torch.zeros_like(h)))
    monkeypatch.setattr(ShiftSSM, "_step", _stuck_ring(ShiftSSM._step))
    bad = [max(step_discrepancies(layer, xs).values()) for layer in layers]
    bad_network = network_step_discrepancy(network, tokens, 7)
    evidence.record(correct_step_discrepancies=good, broken_step_discrepancies=bad,
                    correct_network_discrepancy=good_network, broken_network_discrepancy=bad_network)
    assert max(good) <= TOLERANCE[torch.float64] and good_network <= TOLERANCE[torch.float64]
    assert min(bad) > TOLERANCE[torch.float64] and bad_network > TOLERANCE[torch.float64]


def _stuck_ring(step):
    """A shift step that writes every token into the same slot (its position never advances)."""
    from dataclasses import replace

    def stuck(self, x_t, state):
        y, after = step(self, x_t, state)
        return y, replace(after, position=state.position)

    return stuck


@pytest.mark.claim("model.step-mode", role="control",
                  breaks="step-mode decoding's prefill: the shift layers' state after the prompt misses its last token")
def test_decoding_check_catches_a_prefill_that_drops_the_last_prompt_token(monkeypatch, evidence):
    config = CopyConfig(4, 6)
    tokens = assemble(config, torch.tensor([[0, 1, 2, 3, 1, 0], [3, 3, 2, 0, 1, 2]])).tokens
    constructions = [fixed_length.build(config), ngram.build(config, 2)]
    agree = [decoders_agree(c, tokens)[0] for c in constructions]
    original = ShiftSSM.state_after
    monkeypatch.setattr(ShiftSSM, "state_after", lambda self, x: original(self, x[:, :-1]))
    broken = [decoders_agree(c, tokens)[0] for c in constructions]
    evidence.record(decoders_agree=agree, decoders_agree_with_broken_prefill=broken)
    assert all(agree) and not any(broken)
