"""``python -m reports export`` / ``verify`` and the model file format (constructions.serialization)."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
import torch
from safetensors import safe_open
from safetensors.torch import load_file, save_file

from constructions.associative_recall import binary_query_first
from constructions.copying import ngram
from constructions.errors import ModelFileContainerError, ModelFileError
from constructions.serialization import load, save
from constructions.tasks.associative_recall import ARConfig, generate
from constructions.tasks.copying import CopyConfig
from constructions.tasks.copying import generate as generate_strings
from constructions.verification import verify
from reports.cli import main
from reports.collect import is_hypothesis_counterexample

FAST = ["--examples", "30", "--batch", "100"]
EXAMPLE = Path(__file__).resolve().parent.parent / "examples" / "outer_product_k4_v4.safetensors"


def rewrite(src: Path, dst: Path, change_tensors=None, change_meta=None) -> Path:
    with safe_open(str(src), framework="pt") as f:
        meta = dict(f.metadata())
    tensors = load_file(str(src))
    if change_tensors:
        change_tensors(tensors)
    if change_meta:
        change_meta(meta)
    save_file(tensors, str(dst), metadata=meta)
    return dst


def test_the_committed_example_file_verifies(tmp_path, capsys):
    assert main(["verify", "--task", "associative-recall", "--weights", str(EXAMPLE), *FAST, "--out", str(tmp_path)]) == 0
    result = json.loads((tmp_path / "verify.json").read_text())
    assert result["passed"] and result["resources"]["parameters"] > 0
    # weights and state reported apart: the outer product's weights are 0/1 (2 signed bits), its
    # memory holds one 0/1 cell per (key, value) pair written
    assert result["resources"]["weight_bits"] == 2 and "bits" not in result["resources"]
    assert result["memory"]["state_bits"] > 0 and result["memory"]["widest_state_entry_bits"] == 1
    assert "PASS" in capsys.readouterr().out


@pytest.mark.parametrize("suffix", [".safetensors", ".pt"])
def test_export_verify_corrupt_verify_round_trip(tmp_path, suffix, capsys):
    model = tmp_path / f"net{suffix}"
    assert main(["export", "binary-query-first", "--config", "num_keys=8,num_values=8,num_pairs=3,query=first",
                 "--out", str(model)]) == 0
    assert main(["verify", "--task", "associative-recall", "--weights", str(model), *FAST, "--out", str(tmp_path / "ok")]) == 0
    construction = load(model)
    construction.network.blocks[1].ssm.C.data[0, 0] = 0.0  # one weight: the lowest value bit is never summed
    broken = save(construction, tmp_path / f"broken{suffix}")
    assert main(["verify", "--task", "associative-recall", "--weights", str(broken), *FAST, "--out", str(tmp_path / "bad")]) == 1
    result = json.loads((tmp_path / "bad" / "verify.json").read_text())
    assert not result["passed"]
    shrunk = next(c for c in result["checks"] if "counterexample" in c)
    assert is_hypothesis_counterexample(shrunk["counterexample"])
    assert "counterexample" in capsys.readouterr().err


def test_a_loaded_network_computes_what_was_saved(tmp_path):
    cases = ((binary_query_first.build(ARConfig(5, 6, 3, key_length=2, query="first")), generate),
             (ngram.build(CopyConfig(3, 5), 2), generate_strings))
    for construction, make in cases:
        again = load(save(construction, tmp_path / f"{construction.name}.safetensors"))
        tokens = make(construction.config, 20, 1).tokens
        assert torch.equal(construction.network(tokens), again.network(tokens))


def test_verify_of_a_missing_file_or_wrong_task_exits_2(tmp_path, capsys):
    assert main(["verify", "--task", "associative-recall", "--weights", str(tmp_path / "nope.safetensors")]) == 2
    assert "does not exist" in capsys.readouterr().err
    assert main(["verify", "--task", "copying", "--weights", str(EXAMPLE), "--out", str(tmp_path)]) == 2
    assert "holds a network for 'associative-recall'" in capsys.readouterr().err


def _bad_files(tmp_path: Path):
    def drop(t):
        del t["blocks.1.fnn.W1"]

    def extra(t):
        t["surplus"] = torch.zeros(1)

    def reshape(t):
        t["blocks.0.fnn.W1"] = torch.zeros(3, 3, dtype=torch.float64)

    def nan(t):
        t["blocks.0.fnn.b1"][0] = float("nan")

    def fmt(m):
        m["format"] = "something-else/9"

    def task(m):
        m["task"] = json.dumps({"name": "sorting", "config": {}})

    def arch(m):
        m["architecture"] = "{not json"

    def ssm_kind(m):
        a = json.loads(m["architecture"])
        a["blocks"][0]["ssm"] = {"kind": "wavelet"}
        m["architecture"] = json.dumps(a)

    return {
        "missing tensor": (rewrite(EXAMPLE, tmp_path / "a.safetensors", change_tensors=drop), "missing"),
        "unused tensor": (rewrite(EXAMPLE, tmp_path / "b.safetensors", change_tensors=extra), "not used"),
        "wrong shape": (rewrite(EXAMPLE, tmp_path / "c.safetensors", change_tensors=reshape), "blocks.0.fnn: layer 0"),
        "non-finite weight": (rewrite(EXAMPLE, tmp_path / "d.safetensors", change_tensors=nan), "non-finite"),
        "unknown format": (rewrite(EXAMPLE, tmp_path / "e.safetensors", change_meta=fmt), "expected 'ssm-suite-network/1'"),
        "unknown task": (rewrite(EXAMPLE, tmp_path / "f.safetensors", change_meta=task), "unknown task 'sorting'"),
        "malformed metadata": (rewrite(EXAMPLE, tmp_path / "g.safetensors", change_meta=arch), "malformed"),
        "unknown SSM kind": (rewrite(EXAMPLE, tmp_path / "h.safetensors", change_meta=ssm_kind), "unknown SSM kind 'wavelet'"),
    }


def test_malformed_model_files_are_rejected_naming_the_problem(tmp_path):
    for case, (path, words) in _bad_files(tmp_path).items():
        with pytest.raises(ModelFileError) as caught:
            load(path)
        assert words in str(caught.value), (case, str(caught.value))


def test_a_file_that_is_not_a_model_is_rejected(tmp_path):
    junk = tmp_path / "junk.safetensors"
    junk.write_bytes(b"\x00" * 40)
    with pytest.raises(ModelFileContainerError, match="not valid JSON"):
        load(junk)
    other = tmp_path / "weights.npz"
    other.write_bytes(b"")
    with pytest.raises(ModelFileError, match="use .safetensors or .pt"):
        load(other)


class NotAWeight:
    """An arbitrary object: a pickle holding it must not be loaded (weights_only)."""


def test_a_pickle_with_arbitrary_objects_is_not_executed(tmp_path):
    evil = tmp_path / "evil.pt"
    torch.save({"format": "ssm-suite-network/1", "tensors": {}, "payload": NotAWeight()}, evil)
    with pytest.raises(ModelFileError, match="cannot read"):
        load(evil)


def test_export_rejects_unknown_constructions_and_bad_configs(tmp_path, capsys):
    assert main(["export", "no-such-thing", "--config", "num_keys=2", "--out", str(tmp_path / "a.pt")]) == 2
    assert "unknown construction" in capsys.readouterr().err
    assert main(["export", "outer-product", "--config", "num_keys=2,num_pairs=5,num_values=2", "--out", str(tmp_path / "a.pt")]) == 2
    assert "distinct keys" in capsys.readouterr().err


def test_export_writes_no_file_that_loading_would_refuse(tmp_path, capsys):
    """The suffix lookup at alphabet 4, n = 3 stores a memory past the per-instance work limit: export names
    the limit, exits 2 and leaves nothing behind (no model file, no temporary file)."""
    out = tmp_path / "big.safetensors"
    assert main(["export", "suffix-prefix-lookup", "--config", "alphabet=4,length=12,ngram=3,answer_length=1",
                 "--out", str(out)]) == 2
    err = capsys.readouterr().err
    assert "would be refused on loading" in err and "limit" in err
    assert list(tmp_path.iterdir()) == []


def test_a_lookup_model_file_round_trips_and_its_task_sizes_are_checked_before_building(tmp_path, capsys):
    """Tasks suffix-lookup / prefix-lookup: export writes the SSM+FNN lookup, load answers as the built one;
    the task's sizes are held to the limits (tokens L + n + A + 3 or + 4) and named, the key is the name."""
    from constructions.errors import ModelFileLimitError, ModelFileMetadataError
    from constructions.tasks.ngram_lookup import NgramLookupConfig
    from constructions.tasks.ngram_lookup import generate as generate_lookup

    model = tmp_path / "prefix.safetensors"
    assert main(["export", "suffix-prefix-lookup", "--config", "alphabet=3,length=8,ngram=2,answer_length=2,key=prefix",
                 "--out", str(model)]) == 0
    loaded = load(model)
    assert loaded.name == "prefix-lookup" and loaded.config == NgramLookupConfig(3, 8, 2, 2, "prefix")
    tokens = generate_lookup(loaded.config, 64, 0).tokens
    from constructions.lookup import ngram_lookup

    assert torch.equal(loaded.answer(tokens), ngram_lookup.build(loaded.config).answer(tokens))

    def with_config(**change):
        def edit(m):
            task = json.loads(m["task"])
            task["config"].update(change)
            m["task"] = json.dumps(task)
        return rewrite(model, tmp_path / "edited.safetensors", change_meta=edit)

    for change, error, words in [
        ({"length": 4090}, ModelFileLimitError, "tokens per instance of the task 'prefix-lookup': 4098"),
        ({"answer_length": -1}, ModelFileMetadataError, "task.config.answer_length must be at least 0"),
        ({"ngram": 2**40}, ModelFileLimitError, "task.config.ngram"),
        ({"key": "suffix"}, ModelFileMetadataError, "unknown keys ['key']"),
        ({"answer_length": 7}, ModelFileMetadataError, "do not fit in a string of 8"),
    ]:
        with pytest.raises(error) as caught:
            load(with_config(**change))
        assert words in str(caught.value), (change, str(caught.value))


def test_verify_checks_a_loaded_copy_network_on_strings_without_repeats(tmp_path):
    model = save(ngram.build(CopyConfig(3, 6), 3), tmp_path / "copier.safetensors")
    assert main(["verify", "--task", "copying", "--weights", str(model), "--ngram", "3", *FAST, "--out", str(tmp_path)]) == 0
    assert main(["verify", "--task", "copying", "--weights", str(model), *FAST, "--out", str(tmp_path / "all")]) == 1
    assert verify(load(model), generate_strings(CopyConfig(3, 6), 5, 0).tokens).instances == 5


def test_verify_in_chunks_gives_the_same_verdict_and_first_failure_as_one_pass(monkeypatch):
    import constructions.verification as verification

    config = ARConfig(num_keys=8, num_values=8, num_pairs=3, query="first")
    construction = binary_query_first.build(config)
    construction.network.blocks[1].ssm.C.data[0, 0] = 0.0  # wrong on some instances only
    tokens = generate(config, 64, seed=3).tokens
    whole = verify(construction, tokens)
    monkeypatch.setattr(verification, "MAX_TOKENS_PER_CHUNK", 5 * tokens.shape[1])  # chunks of 5 rows
    chunked = verify(construction, tokens)
    assert 0 < whole.wrong_answers < whole.answers
    assert chunked == whole


def test_verify_of_tokens_with_a_wrong_rank_names_the_shape():
    construction = binary_query_first.build(ARConfig(num_keys=8, num_values=8, num_pairs=3, query="first"))
    with pytest.raises(ValueError, match="shape|rank|dimension"):
        verify(construction, torch.zeros(7, dtype=torch.long))
