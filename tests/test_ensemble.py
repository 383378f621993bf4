"""Batched ensembles (:mod:`training.ensemble`): training S models at once equals training each alone
with the same seed-derived initialisation, data and config, to a stated tolerance (float64: 1e-9
relative; float32: 1e-4), with and without a plateau stop; bad members are refused."""

from __future__ import annotations

from dataclasses import replace

import pytest
import torch
from hypothesis import given, settings
from hypothesis import strategies as st

from constructions.errors import ShapeError
from training import ConfigError, TrainConfig
from training.appendix_c import SweepSetup, TRANSFORMER, answer_mask, ssm
from training.ensemble import train_ensemble
from training.plateau import Plateau
from training.trainer import set_seed, train

pytestmark = pytest.mark.usefixtures("training_sandbox")

SETUP = SweepSetup("copy", (3,), models=(ssm(1, 1), ssm(2, 2, "dense"), ssm(2, 0), TRANSFORMER), seeds=(0, 1, 2),
                   width=8, state_size=2, fnn_hidden=8, steps=12, batch_size=16, train_instances=64, test_instances=16,
                   alphabet=3, lr=1e-2)


def members(spec, seeds, dtype):
    models = []
    for seed in seeds:
        set_seed(seed)
        models.append(SETUP.build(spec, 3).to(dtype))
    datas = [SETUP.data(3, seed)[0].data for seed in seeds]
    return models, datas


def config(seed, **changes):
    return replace(SETUP.train_config(seed), eval_every=4, **changes)


def close(a, b, rtol):
    return all(torch.allclose(x, y, rtol=rtol, atol=rtol) for x, y in zip(a, b))


def compare(spec, seeds, dtype, rtol, monitor_values=None, **changes):
    alone_models, datas = members(spec, seeds, dtype)
    batch_models, _ = members(spec, seeds, dtype)
    configs = [config(seed, **changes) for seed in seeds]

    def monitors():
        if monitor_values is None:
            return None
        return [(lambda it: (lambda m: next(it)))(iter(v)) for v in monitor_values]

    alone = [train(m, d, c, monitor=(monitors() or [None] * len(seeds))[i])
             for i, (m, d, c) in enumerate(zip(alone_models, datas, configs))]
    batch = train_ensemble(batch_models, datas, configs, monitors())
    for a, b, ma, mb in zip(alone, batch, alone_models, batch_models):
        assert (a.steps_used, a.stop_reason, a.monitored) == (b.steps_used, b.stop_reason, b.monitored)
        assert [s for s, _, _ in a.curve] == [s for s, _, _ in b.curve]
        assert close([torch.tensor(l) for _, l, _ in a.curve], [torch.tensor(l) for _, l, _ in b.curve], rtol)
        assert close(list(ma.state_dict().values()), list(mb.state_dict().values()), rtol)
        assert a.final_train_loss == pytest.approx(b.final_train_loss, rel=rtol, abs=rtol)
        assert a.final_train_accuracy == pytest.approx(b.final_train_accuracy, abs=1e-12 if dtype == torch.float64 else 0.02)


@pytest.mark.parametrize("spec", SETUP.models, ids=lambda m: m.name)
def test_an_ensemble_equals_each_member_trained_alone_in_float64(spec):
    compare(spec, SETUP.seeds, torch.float64, 1e-9)


def test_an_ensemble_equals_each_member_trained_alone_in_float32():
    compare(ssm(2, 2), SETUP.seeds, torch.float32, 1e-4)


@settings(max_examples=5, deadline=None)
@given(seeds=st.lists(st.integers(0, 1000), min_size=1, max_size=3, unique=True), clip=st.sampled_from([None, 0.05, 1.0]),
       spec=st.sampled_from(SETUP.models))
def test_ensembles_of_drawn_seeds_and_clipping_equal_training_alone(seeds, clip, spec):
    compare(spec, tuple(seeds), torch.float64, 1e-9, grad_clip=clip)


def test_members_stopped_by_the_plateau_rule_keep_the_parameters_of_their_stopping_step():
    curves = [[0.5, 0.5, 0.5], [0.2, 0.4, 1.0], [0.1, 0.3, 0.5]]  # plateau at 8 steps, target at 12, the cap
    compare(ssm(2, 2), SETUP.seeds, torch.float64, 1e-9, curves, plateau=Plateau(patience=1))


def test_bad_ensembles_are_refused_naming_the_problem():
    models, datas = members(ssm(1, 1), (0, 1), torch.float32)
    with pytest.raises(ConfigError, match="as many"):
        train_ensemble(models, datas[:1], [config(0), config(1)])
    with pytest.raises(ConfigError, match="more than its seed"):
        train_ensemble(models, datas, [config(0), config(1, lr=0.5)])
    other, _ = members(ssm(2, 2), (0,), torch.float32)
    with pytest.raises(ShapeError, match="member 1"):
        train_ensemble([models[0], other[0]], datas, [config(0), config(1)])
    with pytest.raises(ConfigError, match="needs a monitor"):
        train_ensemble(models, datas, [config(s, plateau=Plateau()) for s in (0, 1)])


def test_a_sweep_trained_as_ensembles_gives_the_points_of_the_one_by_one_sweep_to_rounding(tmp_path):
    from training.appendix_c import run_sweep
    from training.result_cache import ResultCache

    setup = replace(SETUP, models=(ssm(1, 1), TRANSFORMER), seeds=(0, 1), steps=8)
    alone = run_sweep(setup)
    lines = []
    batched = run_sweep(replace(setup, ensemble=True), store=ResultCache(tmp_path), progress=lines.append)
    assert [(p.model, p.seed, p.steps_used) for p in alone.points] == [(p.model, p.seed, p.steps_used) for p in batched.points]
    for a, b in zip(alone.points, batched.points):
        assert b.final_train_loss == pytest.approx(a.final_train_loss, rel=1e-4)
        assert b.token_accuracy == pytest.approx(a.token_accuracy, abs=0.02)
    assert sum("in an ensemble" in line for line in lines) == 4 and len(list(tmp_path.glob("*.json"))) == 4
    again = run_sweep(replace(setup, ensemble=True), store=ResultCache(tmp_path))
    assert [p.final_train_loss for p in again.points] == [p.final_train_loss for p in batched.points]
