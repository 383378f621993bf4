"""The plateau stopping rule (:mod:`training.plateau`) on synthetic accuracy curves, its agreement with
the verdicts' *still improving*, and :func:`training.trainer.train` stopping by it."""

from __future__ import annotations

import pytest
import torch
from hypothesis import given
from hypothesis import strategies as st

from checks.strategies import accuracy_curves
from training import ConfigError, TrainConfig
from training.appendix_c import STILL_IMPROVING, is_still_improving
from training.appendix_c.runner import still_improving
from training.models import SSMFNN, SSMFNNConfig
from training.plateau import Plateau, plateau_stop
from training.trainer import TrainResult, set_seed, train

pytestmark = pytest.mark.usefixtures("training_sandbox")

RULE = Plateau(patience=3, min_delta=0.01)


def first_stop(curve, rule=RULE):
    """``(evaluations seen, reason)`` of the first stop along ``curve``, or ``(len, None)``."""
    for n in range(1, len(curve) + 1):
        reason = plateau_stop(curve[:n], rule)
        if reason:
            return n, reason
    return len(curve), None


def test_a_curve_that_keeps_rising_by_more_than_delta_is_never_stopped():
    assert first_stop([0.1 + 0.02 * i for i in range(40)]) == (40, None)


def test_a_flat_curve_stops_after_patience_evaluations_without_a_gain():
    assert first_stop([0.5] * 10) == (4, "plateau")  # 3 evaluations after the first, none above it
    assert first_stop([0.2, 0.4, 0.6, 0.605, 0.603, 0.609, 0.7]) == (6, "plateau")  # +0.009 is not a gain


def test_noise_below_delta_on_a_plateau_does_not_keep_a_run_alive_but_a_real_gain_does():
    assert first_stop([0.60, 0.62, 0.615, 0.625, 0.61, 0.62]) == (5, "plateau")
    assert first_stop([0.60, 0.60, 0.60, 0.615, 0.62, 0.62, 0.62, 0.62]) == (7, "plateau")


def test_reaching_the_target_stops_at_once():
    assert first_stop([0.3, 0.9, 1.0, 0.99]) == (3, "target")
    assert first_stop([0.3, 0.96], Plateau(target=0.95)) == (2, "target")


def test_a_late_phase_transition_after_a_plateau_is_cut_off_the_stated_risk():
    curve = [0.25, 0.26, 0.25, 0.26, 0.25, 0.9, 1.0]
    assert first_stop(curve) == (4, "plateau")
    assert first_stop(curve, Plateau(patience=5)) == (7, "target")  # a longer patience waits it out


@given(curve=accuracy_curves(), patience=st.integers(1, 6), delta=st.sampled_from([0.0, 0.005, STILL_IMPROVING]))
def test_a_run_stopped_on_its_plateau_is_never_still_improving_in_the_verdicts_sense(curve, patience, delta):
    n, reason = first_stop(curve, Plateau(patience=patience, min_delta=delta))
    if reason == "plateau":
        assert not is_still_improving([(i, v) for i, v in enumerate(curve[:n])])


@given(curve=accuracy_curves(), patience=st.integers(1, 6))
def test_the_rule_looks_only_at_the_past_and_stops_on_target_or_stagnation(curve, patience):
    rule = Plateau(patience=patience)
    n, reason = first_stop(curve, rule)
    seen = curve[:n]
    if reason == "target":
        assert seen[-1] >= 1.0
    elif reason == "plateau":
        assert len(seen) > patience and max(seen[-patience:]) <= max(seen[:-patience]) + rule.min_delta
    else:
        assert n == len(curve)


@pytest.mark.parametrize("make, fragment", [
    (lambda: Plateau(patience=0), "patience"),
    (lambda: Plateau(min_delta=-0.1), "min_delta"),
    (lambda: Plateau(target=0.0), "target"),
    (lambda: TrainConfig(plateau={"patience": 3}), "plateau must be"),
])
def test_bad_plateau_settings_raise_naming_the_field(make, fragment):
    with pytest.raises(ConfigError, match=fragment):
        make()


# ----------------------------------------------------------------------------- in train()
def small_model():
    set_seed(0)
    return SSMFNN(SSMFNNConfig(input="tokens", vocab_size=4, width=4, state_size=2, layers=1, fnn_hidden=4,
                               out_features=4))


def token_data(n=64, length=6):
    tokens = torch.randint(0, 4, (n, length), generator=torch.Generator().manual_seed(0))
    return tokens, tokens.clone()


def scripted(values):
    """A monitor returning ``values`` one call at a time (a synthetic held-out accuracy curve)."""
    it = iter(values)
    return lambda model: next(it)


def test_train_stops_on_the_plateau_and_records_the_steps_used():
    config = TrainConfig(steps=100, batch_size=16, eval_every=5, loss="cross_entropy", positions="all",
                         plateau=Plateau(patience=2))
    result = train(small_model(), token_data(), config, monitor=scripted([0.3, 0.5, 0.505, 0.5, 0.9]))
    assert (result.steps_used, result.stop_reason) == (20, "plateau")
    assert [s for s, _ in result.monitored] == [5, 10, 15, 20] == [s for s, _, _ in result.curve]
    assert result.config["plateau"] == {"patience": 2, "min_delta": 0.01, "target": 1.0}


def test_train_stops_on_the_target_and_runs_to_the_cap_otherwise():
    config = TrainConfig(steps=20, batch_size=16, eval_every=5, loss="cross_entropy", positions="all",
                         plateau=Plateau(patience=2))
    assert train(small_model(), token_data(), config, monitor=scripted([0.2, 1.0])).stop_reason == "target"
    capped = train(small_model(), token_data(), config, monitor=scripted([0.2, 0.4, 0.6, 0.8]))
    assert (capped.steps_used, capped.stop_reason) == (20, "max-steps")
    plain = train(small_model(), token_data(), TrainConfig(steps=7, batch_size=16, loss="cross_entropy", positions="all"))
    assert (plain.steps_used, plain.stop_reason) == (7, "max-steps")


def test_a_plateau_rule_without_a_monitor_is_refused():
    with pytest.raises(ConfigError, match="needs a monitor"):
        train(small_model(), token_data(), TrainConfig(steps=5, plateau=Plateau(), loss="cross_entropy", positions="all"))


def test_still_improving_is_the_cap_hit_before_a_plateau_when_a_rule_is_set():
    def result(reason, monitored):
        return TrainResult([], 0.0, None, 0.0, {}, 0, "cpu", False, monitored=monitored, stop_reason=reason)
    rising = [(1, 0.5), (2, 0.7)]
    assert still_improving(result("max-steps", rising), RULE)
    assert not still_improving(result("plateau", rising), RULE) and not still_improving(result("target", rising), RULE)
    assert still_improving(result("max-steps", rising), None)  # without a rule: a new best at the end
    assert not still_improving(result("max-steps", [(1, 0.7), (2, 0.7)]), None)
