"""The disk cache of trained results (:mod:`training.result_cache`) and the sweep's use of it: a hit
reuses a model exactly, a change of settings or code is a miss, a corrupt, tampered or foreign entry
is ignored with a note and retrained, an interrupted sweep resumes with the models it had not finished."""

from __future__ import annotations

import json
from dataclasses import replace

import pytest
import torch

from training import result_cache
from training.appendix_c import SweepSetup, run_sweep, ssm
from training.appendix_c.runner import cache_key
from training.result_cache import CACHE_ENV, ResultCache, cache_from_environment, decode_state, encode_state

pytestmark = pytest.mark.usefixtures("training_sandbox")

SETUP = SweepSetup("copy", (2,), models=(ssm(1, 1), ssm(2, 0)), seeds=(0, 1), width=8, state_size=2, fnn_hidden=8,
                   steps=3, batch_size=16, train_instances=32, test_instances=16, alphabet=3)


def strip(sweep):
    return [(p.model, p.size, p.seed, p.token_accuracy, p.final_train_loss, p.curve, p.steps_used) for p in sweep.points]


def trained_count(lines):
    return sum("trained" in line for line in lines)


def sweep(tmp_path, setup=SETUP, lines=None):
    store = ResultCache(tmp_path)
    return run_sweep(setup, store=store, progress=(lines.append if lines is not None else None)), store


def test_a_second_sweep_loads_every_model_and_gives_the_same_points_and_weights(tmp_path):
    lines = []
    first, store = sweep(tmp_path, lines=lines)
    assert (store.hits, store.misses, trained_count(lines)) == (0, 4, 4) and len(list(tmp_path.glob("*.json"))) == 4
    lines = []
    second, store = sweep(tmp_path, lines=lines)
    assert (store.hits, store.misses, trained_count(lines), store.notes) == (4, 0, 0, [])
    assert strip(second) == strip(first)
    for key, model in first.models.items():
        for (name, a), b in zip(model.state_dict().items(), second.models[key].state_dict().values()):
            assert torch.equal(a, b), name
    assert not list(tmp_path.glob("*.tmp"))


def test_another_setting_or_another_code_version_is_a_miss(tmp_path, monkeypatch):
    sweep(tmp_path)
    _, store = sweep(tmp_path, replace(SETUP, lr=SETUP.lr / 2))
    assert (store.hits, store.misses) == (0, 4)
    _, store = sweep(tmp_path, replace(SETUP, seeds=(1, 2)))  # seed 1 is the same model: reused
    assert (store.hits, store.misses) == (2, 2)
    monkeypatch.setattr(result_cache, "_CODE_VERSION", "another version of the training code")
    _, store = sweep(tmp_path)
    assert (store.hits, store.misses) == (0, 4)


def test_the_code_version_covers_the_training_modules_and_the_task_generators():
    assert result_cache.code_version() == result_cache.code_version() and len(result_cache.code_version()) == 64
    folders = {f.name for f in result_cache.CODE_FOLDERS}
    assert folders == {"training", "tasks"}


def entry_paths(tmp_path):
    return sorted(tmp_path.glob("*.json"))


@pytest.mark.parametrize("spoil, note", [
    (lambda text: text[: len(text) // 2], "not JSON"),
    (lambda text: json.dumps({**json.loads(text), "format": "something-else/1"}), "not a ssm-suite"),
    (lambda text: text.replace('"token_accuracy":', '"token_accuracy":1.5e0,"x":', 1), "SHA-256"),
])
def test_a_corrupt_or_tampered_entry_is_ignored_with_a_note_and_retrained(tmp_path, spoil, note):
    first, _ = sweep(tmp_path)
    path = entry_paths(tmp_path)[0]
    path.write_text(spoil(path.read_text()))
    lines = []
    second, store = sweep(tmp_path, lines=lines)
    assert (store.hits, trained_count(lines)) == (3, 1) and len(store.notes) == 1 and note in store.notes[0], store.notes
    assert strip(second) == strip(first)
    _, store = sweep(tmp_path)  # the retrained entry was rewritten
    assert (store.hits, store.notes) == (4, [])


def test_a_foreign_entry_under_the_requested_name_is_not_trusted(tmp_path):
    sweep(tmp_path)
    a, b = entry_paths(tmp_path)[:2]
    b.write_text(a.read_text())  # another model's valid entry, copied over this one's name
    _, store = sweep(tmp_path)
    assert store.hits == 3 and any("foreign" in n for n in store.notes), store.notes


def test_a_payload_that_does_not_fit_the_model_is_rejected(tmp_path):
    sweep(tmp_path)
    key = cache_key(SETUP, ssm(1, 1), 2, 0, torch.device("cpu"))
    store = ResultCache(tmp_path)
    payload = store.load(key)
    name = next(iter(payload["weights"]))
    payload["weights"][name]["shape"] = [1, 2, 3]
    store.store(key, payload)  # a valid entry (right key and checksum) whose weights do not fit
    lines = []
    _, store = sweep(tmp_path, lines=lines)
    assert trained_count(lines) == 1 and any("unusable payload" in n and "shape" in n for n in store.notes), store.notes


def test_an_interrupted_sweep_resumes_with_the_models_it_had_not_finished(tmp_path, monkeypatch):
    from training.appendix_c import runner
    real, calls = runner.train_one, []

    def train_then_stop(*args, **kwargs):
        if len(calls) == 3:
            raise KeyboardInterrupt
        calls.append(args[1].name)
        return real(*args, **kwargs)

    monkeypatch.setattr(runner, "train_one", train_then_stop)
    with pytest.raises(KeyboardInterrupt):
        sweep(tmp_path)
    assert len(entry_paths(tmp_path)) == 3 and not list(tmp_path.glob("*.tmp"))
    monkeypatch.setattr(runner, "train_one", real)
    lines = []
    resumed, store = sweep(tmp_path, lines=lines)
    assert (store.hits, trained_count(lines)) == (3, 1)
    assert strip(resumed) == strip(run_sweep(SETUP))


def test_weights_round_trip_exactly_and_refuse_other_shapes():
    model = torch.nn.Linear(3, 2)
    copy = torch.nn.Linear(3, 2)
    decode_state(json.loads(json.dumps(encode_state(model))), copy)
    assert torch.equal(model.weight, copy.weight) and torch.equal(model.bias, copy.bias)
    with pytest.raises(ValueError, match="differently"):
        decode_state(encode_state(model), torch.nn.Linear(3, 2, bias=False))
    with pytest.raises(ValueError, match="shape"):
        decode_state(encode_state(model), torch.nn.Linear(4, 2))


def test_the_cache_is_off_unless_the_environment_names_a_directory(monkeypatch, tmp_path):
    monkeypatch.delenv(CACHE_ENV, raising=False)
    assert cache_from_environment() is None
    monkeypatch.setenv(CACHE_ENV, "  ")
    assert cache_from_environment() is None
    monkeypatch.setenv(CACHE_ENV, str(tmp_path))
    assert cache_from_environment().directory == tmp_path


def test_an_unwritable_directory_is_noted_and_the_sweep_goes_on(tmp_path):
    blocker = tmp_path / "file"
    blocker.write_text("not a directory")
    first, store = sweep(blocker)
    assert len(first.points) == 4 and sum("could not write" in n for n in store.notes) == 4, store.notes
