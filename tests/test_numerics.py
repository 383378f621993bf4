"""Numbers the library computes are right or refused (issue #15, section 4): every probe of the issue.

* growing SSM kernels (|lambda| > 1): right in ``auto``, refused by the FFT, an overflow is an error;
* non-finite inputs are an error, not silent NaN; a NaN output never passes ``verify``;
* a sequence of another length or layout than the construction's format is a named error;
* free-running decoding stops at a decoded "no token" instead of crashing;
* ``export`` offers only what the file format holds;
* a precision-route FAIL says the state needs more bits than float64 has, and ``--exact`` decides it.
"""

from __future__ import annotations

import json
import math

import pytest
import torch

from constructions.associative_recall import outer_product, precision_route
from constructions.copying import fixed_length, greedy_decode, teacher_forced
from constructions.copying.decoding import NO_TOKEN
from constructions.embedding import FeatureInput
from constructions.errors import (
    DecodingError,
    IllConditionedModeError,
    NonFiniteInputError,
    NumericalRangeError,
    SequenceLayoutError,
    ShapeError,
)
from constructions.exact_arithmetic import precision_shortfall, significand_bits, verify_exact
from constructions.fnn import FNN
from constructions.layout import Layout
from constructions.network import SSMNetwork
from constructions.ssm import (
    FFT_MAX_GROWTH,
    GROWING_DIRECT_MAX,
    DenseSSM,
    DiagonalSSM,
    SSMBank,
    accumulator,
    shifts,
)
from constructions.tasks import associative_recall as ar
from constructions.tasks import copying
from constructions.transformer import copy_jelassi
from constructions.verification import verify
from reports.cli import main
from reports.verify import exportable_constructions

F64 = torch.float64


def ones(length: int, channels: int = 1) -> torch.Tensor:
    return torch.ones(1, length, channels, dtype=F64)


def geometric_sums(lam: float, length: int) -> torch.Tensor:
    """``y_t = sum_{s <= t} lam^s``, exactly in Python floats step by step (the recurrence)."""
    out, h = [], 0.0
    for _ in range(length):
        h = lam * h + 1.0
        out.append(h)
    return torch.tensor(out, dtype=F64)


# ----------------------------------------------------------------------------- growing kernels
def test_lambda_1_2_at_200_tokens_is_right_at_every_position_in_auto_mode():
    layer = accumulator(1, 1.2)
    y = layer(ones(200))[0, :, 0]
    assert float(y[0]) == 1.0  # was 6.0 with the FFT
    assert float(((y - geometric_sums(1.2, 200)).abs() / geometric_sums(1.2, 200)).max()) < 1e-13


def test_the_fft_refuses_a_growing_kernel_naming_rho_and_the_modes_that_work():
    with pytest.raises(IllConditionedModeError, match=r"rho = 1\.2 > 1.*use 'auto', 'direct' or 'recurrence'"):
        accumulator(1, 1.2)(ones(200), "fft")


def test_lambda_10_at_400_tokens_is_an_overflow_error_in_every_mode_not_nan():
    layer = accumulator(1, 10.0)
    for mode in ("auto", "recurrence"):  # 10^309 / 9 > 1.8e308: y_309 is the first that does not fit
        with pytest.raises(NumericalRangeError, match="output overflows torch.float64 at position 309"):
            layer(ones(400), mode)
    with pytest.raises(NumericalRangeError, match="kernel of this DiagonalSSM overflows torch.float64 at tap 309"):
        layer(ones(400), "direct")
    y = layer(ones(300))  # 10^299 still fits: computed, and right
    assert torch.isfinite(y).all() and float(y[0, 0, 0]) == 1.0 and float(y[0, 2, 0]) == 111.0


@pytest.mark.parametrize("lam, length, chosen", [(1.2, 60, "direct"), (1.2, 200, "direct"), (1.004, 3000, "recurrence"),
                                                 (0.999, 3000, "fft"), (1.0001, 3000, "fft")])
def test_auto_takes_the_fft_only_while_the_kernel_grows_at_most_sixteenfold(lam, length, chosen, monkeypatch):
    import constructions.ssm as ssm

    used = []
    direct, fft = ssm.causal_conv_direct, ssm.causal_conv_fft
    monkeypatch.setattr(ssm, "causal_conv_fft", lambda x, k: used.append("fft") or fft(x, k))
    monkeypatch.setattr(ssm, "causal_conv_direct", lambda x, k: used.append("direct") or direct(x, k))
    layer = accumulator(1, lam)
    monkeypatch.setattr(layer, "_recurrence", lambda x, f=layer._recurrence: used.append("recurrence") or f(x))
    layer(ones(length))
    assert used == [chosen]
    assert layer.is_growing(length) == (lam > 1 and layer.growth(length) > FFT_MAX_GROWTH)
    assert (chosen == "recurrence") == (layer.is_growing(length) and length > GROWING_DIRECT_MAX)


def test_a_dense_growing_layer_and_a_bank_with_one_growing_group_are_right_and_refuse_the_fft():
    A = torch.tensor([[[1.1, 0.3], [0.0, 0.9]]], dtype=F64)
    dense = DenseSSM(A, torch.ones(1, 2, dtype=F64), torch.ones(1, 2, dtype=F64))
    assert dense.spectral_radius() == pytest.approx(1.1)
    x = torch.randn(2, 150, 1, generator=torch.Generator().manual_seed(0), dtype=F64)
    reference = dense(x, "recurrence")
    assert float(((dense(x) - reference).abs() / reference.abs().clamp(min=1)).max()) < 1e-12
    bank = SSMBank([dense, shifts([0, 2])])
    with pytest.raises(IllConditionedModeError):
        bank(torch.cat([x, x, x], dim=-1), "fft")


def test_marginal_and_stable_layers_keep_the_fft():
    assert not accumulator(1, -1.0).is_growing(1 << 16)
    assert not DiagonalSSM(torch.polar(torch.ones(1, 2, dtype=F64), torch.tensor([[0.3, 2.0]], dtype=F64)),
                           torch.ones(1, 2, dtype=torch.complex128), torch.ones(1, 2, dtype=torch.complex128)).is_growing(1 << 16)
    assert accumulator(1, 1.2).is_growing(200) and not accumulator(1, 1.2).is_growing(10)


# ----------------------------------------------------------------------------- non-finite inputs
@pytest.mark.parametrize("bad", [math.nan, math.inf, -math.inf])
def test_a_non_finite_layer_input_is_an_error_naming_its_position(bad):
    x = torch.zeros(1, 70, 2, dtype=F64)
    x[0, 5, 1] = bad
    for layer in (accumulator(2, 0.5), shifts([0, 3]), SSMBank([shifts([1]), accumulator(1, 1.0)])):
        with pytest.raises(NonFiniteInputError, match=r"index \(0, 5, 1\)"):
            layer(x)


def test_non_finite_features_into_a_network_are_an_error():
    layout = Layout.of(x=1)
    fnn = FNN([(torch.eye(1, dtype=F64), torch.zeros(1, dtype=F64))])
    network = SSMNetwork(FeatureInput(layout), [(shifts([0]), fnn)])
    x = torch.zeros(2, 4, 1, dtype=F64)
    assert torch.equal(network(x), x)
    x[1, 2, 0] = math.nan
    with pytest.raises(NonFiniteInputError, match="features"):
        network(x)


def test_an_fnn_that_overflows_is_an_error_naming_the_block():
    layout = Layout.of(x=1)
    big = FNN([(torch.full((1, 1), 1e300, dtype=F64), torch.zeros(1, dtype=F64))])
    network = SSMNetwork(FeatureInput(layout), [(shifts([0]), big)])
    with pytest.raises(NumericalRangeError, match="the FNN of block 0 overflows"):
        network(torch.full((1, 3, 1), 1e10, dtype=F64))


def test_verify_counts_a_nan_output_as_off_target_even_where_it_decodes_to_the_answer(monkeypatch):
    config = ar.ARConfig(4, 4, 2)
    construction = outer_product.build(config)
    batch = ar.generate(config, 8, 0)
    real = construction.outputs
    monkeypatch.setattr(construction, "outputs", lambda tokens, *args, **kwargs: real(tokens, *args, **kwargs) * math.nan)
    result = verify(construction, batch.tokens)
    assert not result.ok and result.max_abs_error == math.inf


# ----------------------------------------------------------------------------- layouts
def test_a_128_token_row_through_a_48_token_recall_format_is_a_layout_error():
    config = ar.ARConfig(16, 8, 16, num_queries=16)
    assert config.length == 48
    construction = outer_product.build(config)
    with pytest.raises(SequenceLayoutError, match="length 128, the format .* has length 48"):
        construction.answer(torch.randint(0, 16, (1, 128)))


def test_a_35_symbol_string_through_a_30_symbol_copier_is_a_layout_error():
    construction = fixed_length.build(copying.CopyConfig(4, 30))
    tokens = copying.generate(copying.CopyConfig(4, 35), 1, 0).tokens
    for read in (construction.answer, construction.outputs, lambda t: verify(construction, t),
                 lambda t: teacher_forced(construction, t)):
        with pytest.raises(SequenceLayoutError, match="length 73, the format CopyConfig"):
            read(tokens)


@pytest.mark.parametrize("position, token, role", [(1, 2, "value"), (0, 5, "key"), (4, 6, "key")])
def test_a_token_in_the_wrong_role_is_a_layout_error_naming_position_and_role(position, token, role):
    config = ar.ARConfig(4, 4, 2)  # k v k v q: keys 0-3, values 4-7
    construction = outer_product.build(config)
    tokens = ar.generate(config, 3, 0).tokens.clone()
    tokens[2, position] = token  # a key where a value belongs, a value where a key or the query belongs
    with pytest.raises(SequenceLayoutError, match=f"instance 2: position {position} holds token .* a {role} token"):
        construction.answer(tokens)


def test_copy_layout_requires_bos_sep_and_eos_in_their_places():
    config = copying.CopyConfig(3, 4)
    tokens = copying.generate(config, 2, 0).tokens
    for position, role in ((0, "BOS"), (5, "SEP"), (10, "EOS")):
        broken = tokens.clone()
        broken[1, position] = 0
        with pytest.raises(SequenceLayoutError, match=f"position {position} holds token 0, but .* a {role} token"):
            config.check_tokens(broken)
    config.check_tokens(tokens)


def test_query_first_layout_and_the_exact_twin_check_the_layout_too():
    config = ar.ARConfig(4, 4, 2, query="first")
    roles = [r[0] for r in config.position_roles()]
    assert roles == ["query0", "key", "value", "key", "value"]
    construction = precision_route.build(ar.ARConfig(4, 4, 2))
    with pytest.raises(SequenceLayoutError):
        verify_exact(construction, torch.zeros(1, 7, dtype=torch.long))


def test_out_of_vocabulary_tokens_are_still_named_by_the_network_and_a_layout_error_is_a_shape_error():
    construction = outer_product.build(ar.ARConfig(4, 4, 2))
    tokens = ar.generate(ar.ARConfig(4, 4, 2), 1, 0).tokens.clone()
    tokens[0, 0] = 99
    with pytest.raises(Exception, match="outside the vocabulary"):
        construction.answer(tokens)
    assert issubclass(SequenceLayoutError, ShapeError)


# ----------------------------------------------------------------------------- greedy decoding
def jelassi_softmax_case():
    """The n = 2 Jelassi Transformer (softmax heads) on every string of 8 symbols over 3: free-running
    decoding meets outputs that decode to no token on strings with a repeated 2-gram."""
    config = copying.CopyConfig(3, 8)
    return config, copy_jelassi.build(config, 2, kind="softmax"), copying.assemble(config, copying.all_strings(3, 8))


def test_greedy_decoding_stops_a_prompt_at_a_decoded_no_token_instead_of_crashing():
    config, construction, batch = jelassi_softmax_case()
    generated = greedy_decode(construction, batch.prompts(), config.length + 1)
    stopped = (generated == NO_TOKEN).any(-1)
    assert int(stopped.sum()) > 0
    first = (generated == NO_TOKEN).int().argmax(-1)
    steps = torch.arange(generated.shape[1])
    assert torch.equal((generated == NO_TOKEN)[stopped], (steps >= first[stopped, None]))  # stopped for good
    assert bool(copying.repeated_ngram(batch.strings[stopped], 2, config.alphabet).all())
    ok = ~stopped & ~copying.repeated_ngram(batch.strings, 2, config.alphabet)
    assert torch.equal(generated[ok], batch.targets[ok])


def test_greedy_decoding_can_raise_saying_which_step_and_how_many_prompts():
    config, construction, batch = jelassi_softmax_case()
    with pytest.raises(DecodingError, match=r"step \d+ \(position \d+\): the output decodes to no token \(-1\) for \d+ of 6561 "
                                            r"prompts, the first #\d+ \[.*\]; a free-running decoder cannot feed it back"):
        greedy_decode(construction, batch.prompts(), config.length + 1, on_no_token="raise")


# ----------------------------------------------------------------------------- export
def test_export_offers_and_writes_only_ssm_fnn_constructions(tmp_path, capsys):
    offered = exportable_constructions()
    assert "jelassi-transformer" not in offered and "zoology-attention" not in offered
    assert not any(m.startswith("constructions.transformer.") for m in offered.values())
    assert "extraction" not in offered  # a regression network: a task the file format does not hold
    assert main(["export", "extraction", "--config", "alphabet=3,length=8", "--out", str(tmp_path / "x.pt")]) == 2
    assert "does not hold" in capsys.readouterr().err
    configs = {"fixed-length-shift": "alphabet=3,length=4", "ngram-lookup": "alphabet=3,length=4",
               "suffix-prefix-lookup": "alphabet=3,length=6,ngram=2,answer_length=1"}
    for name in offered:
        config = configs.get(name, "num_keys=4,num_values=4,num_pairs=2" + (",query=first" if "query-first" in name else ""))
        assert main(["export", name, "--config", config, "--out", str(tmp_path / f"{name}.safetensors")]) == 0, name
    with pytest.raises(SystemExit):
        main(["export", "--help"])
    shown = capsys.readouterr().out
    assert "jelassi" not in shown and "zoology" not in shown and "binary-attention" not in shown


def test_exporting_a_transformer_is_refused_saying_why(tmp_path, capsys):
    assert main(["export", "zoology-attention", "--config", "num_keys=4,num_values=4,num_pairs=2", "--out",
                 str(tmp_path / "z.safetensors")]) == 2
    assert "is a Transformer: the file format holds SSM+FNN networks" in capsys.readouterr().err


# ----------------------------------------------------------------------------- precision route
def test_a_precision_route_failure_names_the_state_bits_float64_lacks():
    config = ar.ARConfig(8, 8, 8)  # 2 N w - 1 = 95 bits
    construction = precision_route.build(config)
    result = verify(construction, ar.generate(config, 20, 0).tokens)
    assert not result.ok
    assert "the SSM state needs up to 95 significant bits, float64 holds 53" in result.describe()
    assert "--exact" in result.describe()
    assert significand_bits(F64) == 53 and significand_bits(torch.float32) == 24
    fits = precision_route.build(ar.ARConfig(4, 4, 4))  # 2 N w - 1 = 31 bits
    assert verify(fits, ar.generate(ar.ARConfig(4, 4, 4), 20, 0).tokens).note is None


def test_verify_of_a_precision_route_file_says_why_it_fails_and_exact_passes(tmp_path, capsys):
    path = tmp_path / "route.safetensors"
    assert main(["export", "precision-route", "--config", "num_keys=8,num_values=8,num_pairs=8", "--out", str(path)]) == 0
    out = tmp_path / "verify"
    assert main(["verify", "--task", "associative-recall", "--weights", str(path), "--examples", "5", "--batch", "20",
                 "--out", str(out)]) == 1
    err = capsys.readouterr().err
    assert "why: the SSM state needs" in err and "float64 holds 53" in err
    assert f"python -m reports verify --task associative-recall --weights {path} --exact" in err
    saved = json.loads((out / "verify.json").read_text())
    assert "float64 holds 53" in saved["precision"] and saved["arithmetic"] == "float64"
    assert "Why: the SSM state needs" in (out / "verify.md").read_text()
    assert main(["verify", "--task", "associative-recall", "--weights", str(path), "--examples", "5", "--batch", "20",
                 "--out", str(out), "--exact"]) == 0
    assert json.loads((out / "verify.json").read_text())["arithmetic"] == "exact rational"


def test_a_network_that_is_wrong_in_exact_arithmetic_gets_no_precision_excuse():
    """A precision-route network with key bit 0 never written (its first fault) fails in rational
    arithmetic too: float64's 53 bits do not explain that failure."""
    from constructions.mutation import mutate

    config = ar.ARConfig(8, 8, 8)
    construction = precision_route.build(config)
    broken = mutate(construction, precision_route.mutations(config)[0])
    tokens = ar.generate(config, 12, 0).tokens
    exact = verify_exact(broken, tokens)
    assert not exact.ok
    instance = tokens[exact.first_failure["index"]].unsqueeze(0)
    assert precision_shortfall(broken, instance) is None
    sound = precision_shortfall(construction, instance)
    assert sound is None or sound.state_bits > 53  # the sound network fails only for want of bits, if at all
