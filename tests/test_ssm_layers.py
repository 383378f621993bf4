"""The SSM layers themselves: measured windows, kernels against the matrices, lookahead, banks,
precision changes and the two causal convolutions."""

from __future__ import annotations

import copy
import math

import pytest
import torch
import torch.nn.functional as F
from hypothesis import example, given, settings
from hypothesis import strategies as st

from checks.strategies import seeds, ssm_inputs, ssm_layers
from constructions.errors import ShapeError
from constructions.precision import to_dtype
from constructions.ssm import (
    MODES,
    DenseSSM,
    DiagonalSSM,
    ShiftSSM,
    SSMBank,
    accumulator,
    causal_conv_direct,
    causal_conv_fft,
    fir,
    shifts,
)

F64 = torch.float64
CONCRETE_MODES = ("recurrence", "direct", "fft")


def t64(rows):
    return torch.tensor(rows, dtype=F64)


def randn(*shape, seed=0, dtype=F64):
    return torch.randn(*shape, generator=torch.Generator().manual_seed(seed), dtype=dtype)


# ----------------------------------------------------------------------------- window
def test_shift_window_ignores_trailing_zero_taps():
    assert ShiftSSM(t64([[1.0, 2.0, 0.0, 0.0]])).window() == 2
    assert ShiftSSM(t64([[1.0, 0.0, 0.0, 0.0]])).window() == 1


def test_shift_window_is_the_largest_over_channels():
    taps = t64([[1.0, 0.0, 0.0, 0.0, 0.0], [0.0, 0.0, 3.0, 0.0, 0.0], [0.0, 0.0, 0.0, 0.0, 0.0]])
    assert ShiftSSM(taps).window() == 3


def test_all_zero_layer_has_window_zero_and_skip_alone_gives_window_one():
    assert ShiftSSM(torch.zeros(2, 3, dtype=F64)).window() == 0
    assert ShiftSSM(torch.zeros(2, 3, dtype=F64), skip=t64([0.0, 1.0])).window() == 1


def test_shifts_builder_window_is_largest_amount_plus_one():
    assert shifts([0, 3, 1]).window() == 4
    assert shifts([0]).window() == 1


@pytest.mark.parametrize("lam", [1.0, 0.5, -0.9, 0.3 + 0.4j])
def test_accumulator_and_geometric_filters_have_infinite_window(lam):
    assert accumulator(2, lam).window() == math.inf


def test_diagonal_layer_with_zero_eigenvalues_has_window_one():
    layer = DiagonalSSM(torch.zeros(2, 3, dtype=F64), randn(2, 3, seed=1), randn(2, 3, seed=2))
    assert layer.window() == 1


def test_dense_layer_with_nilpotent_state_matrix_has_finite_window_equal_to_nilpotency_index():
    N = 4
    A = torch.diag_embed(randn(N - 1, seed=3).abs() + 0.5, offset=-1).unsqueeze(0)  # strictly lower: A^N = 0
    A = A + torch.tril(randn(N, N, seed=4), diagonal=-2)  # more strictly-lower entries keep it nilpotent
    B = torch.zeros(1, N, dtype=F64)
    B[0, 0] = 1
    C = torch.zeros(1, N, dtype=F64)
    C[0, -1] = 1  # C A^s B = (A^s)_{N-1, 0}: the product of the sub-diagonal at s = N - 1, zero from s = N on
    layer = DenseSSM(A, B, C)
    assert layer.window() == N
    assert layer.kernel(3 * N)[0, N:].eq(0).all()


def test_dense_layer_with_a_non_nilpotent_state_matrix_has_infinite_window():
    A = t64([[[0.0, 0.0], [1.0, 0.5]]])
    assert DenseSSM(A, t64([[1.0, 0.0]]), t64([[0.0, 1.0]])).window() == math.inf


def test_bank_window_is_the_largest_of_its_groups():
    assert SSMBank([shifts([0, 2]), shifts([4])]).window() == 5
    assert SSMBank([shifts([0, 2]), accumulator(1)]).window() == math.inf


@pytest.mark.parametrize("layer", [shifts([0, 2]), accumulator(2, 0.5)], ids=["window-3", "infinite"])
def test_kernel_length_is_the_window_capped_by_the_sequence_length(layer):
    w = layer.window()
    for length in (1, 2, 3, 10):
        expected = length if w == math.inf else max(1, min(int(w), length))
        assert layer.kernel_length(length) == expected


# ----------------------------------------------------------------------------- kernel vs matrices
def kernel_from_matrices(layer, length: int) -> torch.Tensor:
    """``K_0 = Re(C B) + D``, ``K_s = Re(C A^s B)``, by repeated multiplication of the dense matrices."""
    A, B, C, D = layer.matrices()
    state = B.unsqueeze(-1)  # (D, N, 1): A^s B
    taps = []
    for _ in range(length):
        taps.append((C.unsqueeze(-1) * state).sum(-2).squeeze(-1).real)
        state = A @ state
    K = torch.stack(taps, dim=-1).to(layer.dtype)
    K[:, 0] += D
    return K


def groups(layer):
    return list(layer.groups) if isinstance(layer, SSMBank) else [layer]


def one_layer_of_each_kind():
    """Explicit examples, so that every parameterization is checked whatever hypothesis draws."""
    complex128 = dict(dtype=torch.complex128)
    stable = torch.linalg.matrix_exp(-randn(2, 3, 3, seed=20).abs())
    return [
        ShiftSSM(randn(2, 4, seed=21), skip=randn(2, seed=22)),
        DiagonalSSM(randn(2, 3, seed=23).tanh(), randn(2, 3, seed=24), randn(2, 3, seed=25)),
        DiagonalSSM(torch.polar(torch.full((2, 3), 0.9, dtype=F64), randn(2, 3, seed=26)),
                    randn(2, 3, seed=27).to(**complex128), randn(2, 3, seed=28).to(**complex128)),
        DenseSSM(stable / torch.linalg.eigvals(stable).abs().amax(-1)[:, None, None] * 0.9,
                 randn(2, 3, seed=29), randn(2, 3, seed=30), skip=randn(2, seed=31)),
        SSMBank([ShiftSSM(randn(1, 2, seed=32)), accumulator(1, 0.5)]),
    ]


def with_examples(argname, values):
    def decorate(test):
        for value in values:
            test = example(**{argname: value, "extra": 0})(test)
        return test

    return decorate


@given(layer=ssm_layers(), extra=st.integers(0, 5))
@with_examples("layer", one_layer_of_each_kind())
def test_kernel_equals_c_a_power_b_from_the_matrices(layer, extra):
    for group in groups(layer):
        length = 2 * group.state_size + extra
        expected = kernel_from_matrices(group, length)
        got = group.kernel(length)
        assert got.shape == (group.channels, length) and got.dtype == group.dtype
        torch.testing.assert_close(got, expected, rtol=1e-9, atol=1e-12)


@given(layer=ssm_layers(), length=st.integers(0, 20))
def test_bank_kernel_is_the_concatenation_of_its_groups(layer, length):
    expected = torch.cat([g.kernel(length) for g in groups(layer)], dim=0)
    torch.testing.assert_close(layer.kernel(length), expected, rtol=0, atol=0)


def test_shift_kernel_is_its_taps_then_zeros_with_the_skip_added_at_lag_zero():
    taps = t64([[1.0, 2.0, 3.0], [0.0, -1.0, 0.5]])
    layer = ShiftSSM(taps, skip=t64([10.0, 20.0]))
    expected = torch.cat([taps, torch.zeros(2, 2, dtype=F64)], dim=1)
    expected[:, 0] += t64([10.0, 20.0])
    assert torch.equal(layer.kernel(5), expected)
    assert torch.equal(layer.kernel(2), expected[:, :2])


def test_shift_state_matrix_is_the_sparse_sub_diagonal_shift():
    layer = ShiftSSM(randn(2, 4))
    A, B, _, _ = layer.matrices()
    J = torch.diag_embed(torch.ones(3, dtype=F64), offset=-1)
    assert layer.state_matrix().is_sparse
    assert torch.equal(A, J.expand(2, 4, 4))
    assert torch.equal(B, torch.eye(4, dtype=F64)[0].expand(2, 4))


def test_diagonal_kernel_is_geometric_and_zero_eigenvalue_gives_one_at_lag_zero():
    layer = accumulator(1, 0.5)
    assert torch.equal(layer.kernel(5), t64([[1.0, 0.5, 0.25, 0.125, 0.0625]]))
    zero = DiagonalSSM(torch.zeros(1, 1, dtype=torch.complex128), torch.ones(1, 1, dtype=torch.complex128),
                       torch.ones(1, 1, dtype=torch.complex128))
    assert torch.equal(zero.kernel(3), t64([[1.0, 0.0, 0.0]]))  # 0^0 = 1, even for complex zero


@pytest.mark.parametrize("chunk", [1, 4, 7])
def test_diagonal_kernel_is_the_same_across_chunk_boundaries(chunk, monkeypatch):
    layer = DiagonalSSM(t64([[0.9, -0.7], [0.5, 0.99]]), randn(2, 2, seed=5), randn(2, 2, seed=6))
    whole = layer.kernel(23)
    monkeypatch.setattr(DiagonalSSM, "KERNEL_CHUNK", chunk)
    torch.testing.assert_close(layer.kernel(23), whole, rtol=1e-12, atol=1e-14)
    assert layer.kernel(0).shape == (2, 0)


# ----------------------------------------------------------------------------- outputs and modes
def test_accumulator_output_is_the_prefix_sum_in_every_mode():
    x = randn(2, 9, 3, seed=7)
    layer = accumulator(3)
    assert "scan" in layer.supported_modes()
    for mode in ("auto",) + layer.supported_modes():
        torch.testing.assert_close(layer(x, mode), x.cumsum(dim=1), rtol=1e-12, atol=1e-12)


def test_shifts_output_is_the_input_delayed_per_channel_in_every_mode():
    x = randn(1, 6, 3, seed=8)
    layer = shifts([0, 1, 3])
    for mode in ("auto",) + layer.supported_modes():
        y = layer(x, mode)
        torch.testing.assert_close(y[..., 0], x[..., 0], rtol=0, atol=1e-12)  # fft: round-off only
        torch.testing.assert_close(y[..., 1], F.pad(x[..., 1], (1, 0))[:, :6], rtol=0, atol=1e-12)
        torch.testing.assert_close(y[..., 2], F.pad(x[..., 2], (3, 0))[:, :6], rtol=0, atol=1e-12)


def test_fir_builder_convolves_with_its_taps():
    taps = t64([[1.0, -2.0, 0.5]])
    x = t64([[[1.0], [0.0], [0.0], [2.0], [0.0]]])
    y = fir(taps)(x, "recurrence")
    assert torch.equal(y[0, :, 0], t64([1.0, -2.0, 0.5, 2.0, -4.0]))


@pytest.mark.parametrize("layer", [shifts([0, 2]), accumulator(2)], ids=["shift", "accumulator"])
def test_every_mode_accepts_an_empty_sequence(layer):
    x = torch.zeros(1, 0, 2, dtype=F64)
    for mode in ("auto",) + layer.supported_modes():
        assert layer(x, mode).shape == (1, 0, 2)


# ----------------------------------------------------------------------------- lookahead
def with_lookahead(layer, lookahead: int):
    """A copy of ``layer`` (or of every group of a bank) with the given lookahead."""
    copied = copy.deepcopy(layer)
    for group in groups(copied):
        group.lookahead = lookahead
    return copied


def test_lookahead_reads_the_future_and_zeros_past_the_end():
    x = t64([[[1.0], [2.0], [3.0], [4.0], [5.0]]])
    layer = ShiftSSM(t64([[1.0]]), lookahead=2)
    for mode in ("auto",) + layer.supported_modes():  # fft: round-off only
        torch.testing.assert_close(layer(x, mode)[0, :, 0], t64([3.0, 4.0, 5.0, 0.0, 0.0]), rtol=0, atol=1e-12)
    assert torch.equal(layer(x, "recurrence")[0, :, 0], t64([3.0, 4.0, 5.0, 0.0, 0.0]))


@settings(max_examples=15)
@given(layer=ssm_layers(max_state=4, allow_lookahead=False), lookahead=st.integers(1, 4), seed=seeds,
       length=st.integers(1, 12))
def test_lookahead_output_at_t_is_the_causal_output_at_t_plus_lookahead(layer, lookahead, seed, length):
    x = randn(2, length, layer.channels, seed=seed % 1000)
    ahead = with_lookahead(layer, lookahead)
    z = layer(F.pad(x, (0, 0, 0, lookahead)), "recurrence")  # causal output, zeros after the end
    for mode in CONCRETE_MODES:
        y = ahead(x, mode)
        assert y.shape == x.shape
        torch.testing.assert_close(y, z[:, lookahead:], rtol=1e-9, atol=1e-9)
        if length > lookahead:  # inside the sequence, the future is the input itself
            torch.testing.assert_close(y[:, : length - lookahead], layer(x, mode)[:, lookahead:], rtol=1e-9, atol=1e-9)


# ----------------------------------------------------------------------------- banks
def test_bank_splits_channels_in_order_and_concatenates_outputs():
    g1 = ShiftSSM(randn(2, 3, seed=9), skip=t64([0.5, -1.0]))
    g2 = accumulator(1, 0.5)
    g3 = DiagonalSSM(torch.full((2, 2), 0.3 + 0.4j), randn(2, 2, seed=10).to(torch.complex128),
                     randn(2, 2, seed=11).to(torch.complex128))
    bank = SSMBank([g1, g2, g3])
    assert bank.channels == 5
    assert bank.state_size == 2 * 3 + 1 * 1 + 2 * 2
    assert bank.dtype == F64
    x = randn(3, 7, 5, seed=12)
    for mode in ("auto",) + bank.supported_modes():
        expected = torch.cat([g1(x[..., :2], mode), g2(x[..., 2:3], mode), g3(x[..., 3:], mode)], dim=-1)
        assert torch.equal(bank(x, mode), expected)


def test_bank_parameter_names_say_group_and_kind():
    bank = SSMBank([shifts([1]), accumulator(1)])
    names = [name for name, _ in bank.named_parameter_tensors()]
    assert "group0.ShiftSSM.A" in names and "group1.DiagonalSSM.A" in names
    assert len(names) == 8


# ----------------------------------------------------------------------------- precision
def complex_layer():
    lam = torch.polar(t64([[0.9, 0.5]]), t64([[0.3, -1.2]]))
    B = torch.complex(t64([[1.0, 0.5]]), t64([[0.25, -1.0]]))
    C = torch.complex(t64([[0.5, -0.5]]), t64([[1.0, 2.0]]))
    return DiagonalSSM(lam, B, C, skip=t64([0.25]))


def test_to_dtype_float32_keeps_complex_parameters_complex():
    layer = complex_layer()
    lam64 = layer.lam.detach().clone()
    to_dtype(layer, torch.float32)
    assert layer.lam.dtype == torch.complex64 and layer.B.dtype == torch.complex64 and layer.C.dtype == torch.complex64
    assert layer.skip.dtype == torch.float32 and layer.dtype == torch.float32
    assert torch.equal(layer.lam.detach(), lam64.to(torch.complex64))  # imaginary parts kept
    assert layer.lam.imag.abs().max() > 0.1


def test_to_dtype_float32_layer_computes_what_the_float64_layer_does():
    layer64 = complex_layer()
    layer32 = to_dtype(copy.deepcopy(layer64), torch.float32)
    x = randn(2, 20, 1, seed=13)
    for mode in CONCRETE_MODES:
        torch.testing.assert_close(layer32(x.float(), mode).double(), layer64(x, mode), rtol=1e-4, atol=1e-5)


def test_to_dtype_round_trip_through_float64_is_exact_and_leaves_real_layers_real():
    layer = to_dtype(shifts([0, 2], dtype=torch.float32), torch.float64)
    assert layer.C.dtype == F64 and not layer.C.is_complex()
    back = to_dtype(to_dtype(complex_layer(), torch.float64), torch.float64)
    assert torch.equal(back.lam, complex_layer().lam)


def test_to_dtype_rejects_a_non_floating_dtype():
    with pytest.raises(TypeError, match="int64"):
        to_dtype(shifts([0]), torch.int64)


# ----------------------------------------------------------------------------- convolutions
def naive_causal_conv(x: torch.Tensor, k: torch.Tensor) -> torch.Tensor:
    """``y[b, t, d] = sum_{s <= t, s < K} k[d, s] x[b, t - s, d]`` by explicit loops."""
    batch, length, channels = x.shape
    y = torch.zeros_like(x)
    for b in range(batch):
        for t in range(length):
            for d in range(channels):
                y[b, t, d] = sum(k[d, s] * x[b, t - s, d] for s in range(min(t + 1, k.shape[1])))
    return y


@settings(max_examples=30)
@given(batch=st.integers(1, 2), length=st.integers(1, 9), channels=st.integers(1, 3), taps=st.integers(1, 12),
       seed=seeds)
def test_direct_and_fft_convolutions_equal_the_naive_double_loop(batch, length, channels, taps, seed):
    g = torch.Generator().manual_seed(seed)
    x = torch.randn(batch, length, channels, generator=g, dtype=F64)
    k = torch.randn(channels, taps, generator=g, dtype=F64)
    expected = naive_causal_conv(x, k)
    torch.testing.assert_close(causal_conv_direct(x, k), expected, rtol=1e-12, atol=1e-12)
    torch.testing.assert_close(causal_conv_fft(x, k), expected, rtol=1e-10, atol=1e-10)


@settings(max_examples=10)
@given(data=st.data())
def test_layer_modes_agree_with_the_naive_convolution_of_their_kernel(data):
    layer = data.draw(ssm_layers(max_state=4, allow_lookahead=False))
    x = data.draw(ssm_inputs(layer.channels, max_batch=2, max_length=12))
    expected = naive_causal_conv(x, layer.kernel(x.shape[1]))
    for mode in ("auto",) + layer.supported_modes():
        torch.testing.assert_close(layer(x, mode), expected, rtol=1e-9, atol=1e-9)


def state_by_recurrence(layer, x):
    """The slow twin of ``final_state``: ``h_t = A h_{t-1} + B x_t``, one token at a time."""
    h = torch.zeros(x.shape[0], layer.channels, layer.state_size, dtype=layer.C.dtype)
    for t in range(x.shape[1]):
        h = layer._transition(h) + layer.B * x[:, t, :].unsqueeze(-1)
    return h


def assert_final_state_matches_the_recurrence(layer, x):
    got = layer.final_state(x)
    if isinstance(layer, SSMBank):
        expected = torch.cat([state_by_recurrence(g, part).reshape(x.shape[0], -1).to(got.dtype)
                              for g, part in zip(layer.groups, torch.split(x, [g.channels for g in layer.groups], -1))], 1)
    else:
        expected = state_by_recurrence(layer, x)
    torch.testing.assert_close(got, expected, rtol=1e-9, atol=1e-12)


@given(layer=ssm_layers(allow_lookahead=False), data=st.data())
def test_final_state_equals_the_state_the_recurrence_reaches(layer, data):
    assert_final_state_matches_the_recurrence(layer, data.draw(ssm_inputs(layer.channels, max_length=40)))


@pytest.mark.parametrize("layer", [g for g in one_layer_of_each_kind() if not getattr(g, "lookahead", 0)], ids=repr)
def test_final_state_equals_the_recurrence_for_each_kind_of_layer(layer):
    x = torch.randn(2, 30, layer.channels, dtype=torch.float64, generator=torch.Generator().manual_seed(0))
    assert_final_state_matches_the_recurrence(layer, x)


def test_final_state_of_a_shift_layer_is_the_last_inputs_newest_first():
    x = torch.arange(1.0, 6.0, dtype=torch.float64).reshape(1, 5, 1)
    assert ShiftSSM(torch.ones(1, 3, dtype=torch.float64)).final_state(x).tolist() == [[[5.0, 4.0, 3.0]]]


def states_by_recurrence(layer, x, dtype):
    """Every state ``h_t`` by the recurrence: ``(batch, L, state entries)``, a bank's groups concatenated."""
    if isinstance(layer, SSMBank):
        parts = torch.split(x, [g.channels for g in layer.groups], -1)
        return torch.cat([states_by_recurrence(g, part, dtype) for g, part in zip(layer.groups, parts)], dim=2)
    h = torch.zeros(x.shape[0], layer.channels, layer.state_size, dtype=layer.C.dtype)
    out = []
    for t in range(x.shape[1]):
        h = layer._transition(h) + layer.B * x[:, t, :].unsqueeze(-1)
        out.append(h.reshape(x.shape[0], -1).to(dtype))
    return torch.stack(out, dim=1)


@given(layer=ssm_layers(allow_lookahead=False), data=st.data())
def test_states_at_every_position_equal_the_recurrence_and_end_in_the_final_state(layer, data):
    x = data.draw(ssm_inputs(layer.channels, max_length=40))
    got = layer.states(x)
    flat = got if isinstance(layer, SSMBank) else got.reshape(*got.shape[:2], -1)
    torch.testing.assert_close(flat, states_by_recurrence(layer, x, flat.dtype), rtol=1e-9, atol=1e-12)
    torch.testing.assert_close(flat[:, -1], layer.final_state(x).reshape(x.shape[0], -1).to(flat.dtype), rtol=1e-9, atol=1e-12)


def test_states_of_a_shift_layer_are_the_last_inputs_and_of_an_accumulator_the_prefix_sums():
    x = torch.arange(1.0, 5.0, dtype=F64).reshape(1, 4, 1)
    assert ShiftSSM(torch.ones(1, 3, dtype=F64)).states(x)[0, :, 0].tolist() == [[1, 0, 0], [2, 1, 0], [3, 2, 1], [4, 3, 2]]
    assert accumulator(1).states(x)[0, :, 0, 0].tolist() == [1, 3, 6, 10]
    # a dense nilpotent A (A^2 B = 0): the state window is N = 2 taps, exact
    dense = DenseSSM(t64([[[0.0, 0.0], [0.5, 0.0]]]), t64([[1.0, 0.0]]), t64([[1.0, 1.0]]))
    assert dense.states(x)[0, :, 0].tolist() == [[1, 0], [2, 0.5], [3, 1], [4, 1.5]]


def test_states_of_a_two_sided_layer_are_refused():
    one = torch.ones(1, 1, dtype=F64)
    for layer in (ShiftSSM(torch.ones(1, 3, dtype=F64), lookahead=1), DiagonalSSM(one, one, one, lookahead=2)):
        with pytest.raises(ShapeError, match="two-sided"):
            layer.states(torch.zeros(1, 4, 1, dtype=F64))


def test_final_state_of_a_two_sided_layer_is_refused():
    layer = ShiftSSM(torch.ones(1, 3, dtype=torch.float64), lookahead=1)
    with pytest.raises(ShapeError, match="two-sided"):
        layer.final_state(torch.zeros(1, 4, 1, dtype=torch.float64))
