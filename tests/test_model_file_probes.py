"""The malformed model files of issue #15, one test each: ``verify`` refuses them with a named error
(exit 2, recorded in ``verify.json``/``verify.md``), within a bounded time and memory, before
allocating what they declare. ``tests/test_verify_fuzz.py`` covers the same ground at random; these
are the cases measured by hand before the fix (timings in the docstrings are from then)."""

from __future__ import annotations

import json
import os
from pathlib import Path

import pytest
import torch
from safetensors import safe_open
from safetensors.torch import load_file, save_file

from checks.malformed_files import MalformedFile, Mutation, run_verify
from reports.cli import main

EXAMPLE = Path(__file__).resolve().parent.parent / "examples" / "outer_product_k4_v4.safetensors"
#: every refusal below comes long before any network runs
SECONDS, RSS_GROWTH = 5.0, 256 << 20


def example_parts() -> tuple[dict[str, str], dict[str, torch.Tensor]]:
    with safe_open(str(EXAMPLE), framework="pt") as f:
        meta = dict(f.metadata())
    return meta, load_file(str(EXAMPLE))


def write_pt(path: Path, meta: dict, tensors) -> Path:
    torch.save({**meta, "tensors": tensors}, path)
    return path


def edited(path: Path, *, architecture=None, task=None, tensors=None, container: str = ".safetensors") -> Path:
    """The example with its architecture/task JSON or tensors edited (functions of the parsed values)."""
    meta, weights = example_parts()
    if architecture:
        meta["architecture"] = json.dumps(architecture(json.loads(meta["architecture"])))
    if task:
        meta["task"] = json.dumps(task(json.loads(meta["task"])))
    if tensors:
        weights = tensors(weights)
    path = path.with_suffix(container)
    if container == ".pt":
        return write_pt(path, meta, weights)
    save_file(weights, str(path), metadata=meta)
    return path


def refused(path: Path, tmp_path: Path, error: str, words: str, task: str = "associative-recall") -> dict:
    """Run verify on ``path``: exit 2 with ``error`` named in verify.json and verify.md, in bounded time and memory."""
    out = tmp_path / "out"
    run = run_verify(path, task, out)
    assert run["rc"] == 2, run
    assert "Traceback" not in run["stderr"]
    assert run["seconds"] < SECONDS and run["rss_growth"] < RSS_GROWTH, run
    recorded = json.loads((out / "verify.json").read_text())
    assert recorded["exit_code"] == 2 and recorded["error"]["type"] == error, recorded
    assert words in recorded["error"]["message"], recorded["error"]["message"]
    assert error in (out / "verify.md").read_text()
    return recorded


def with_config(**changes):
    return lambda t: {**t, "config": {**t["config"], **changes}}


def test_a_small_file_declaring_a_huge_task_is_refused_by_the_sequence_length_limit(tmp_path):
    """Before: a 5.6 KB file ran past 300 s at 4.3 GB."""
    path = edited(tmp_path / "huge", task=with_config(num_pairs=200_000, num_keys=400_000, num_values=4))
    assert path.stat().st_size < 16 << 10
    refused(path, tmp_path, "ModelFileLimitError", "sequence_length")


def test_a_key_length_of_two_billion_is_refused_at_once(tmp_path):
    """Before: 41 s to fail."""
    refused(edited(tmp_path / "keys", task=with_config(key_length=2_000_000_000)), tmp_path, "ModelFileLimitError", "sequence_length")


def test_a_huge_lookahead_is_refused_by_the_sequence_length_limit(tmp_path):
    def lookahead(a):
        a["blocks"][0]["ssm"]["lookahead"] = 10**9
        return a

    refused(edited(tmp_path / "ahead", architecture=lookahead), tmp_path, "ModelFileLimitError", "sequence_length")


def test_a_stride_0_expanded_tensor_in_a_pt_file_is_counted_by_its_logical_size(tmp_path):
    """Before: a 17 KB .pt file reached 7.1 GB."""
    def expanded(t):
        return {**t, "blocks.0.fnn.W1": torch.zeros(1, 1, dtype=torch.float64).expand(30_000, 30_000)}

    path = edited(tmp_path / "expanded", tensors=expanded, container=".pt")
    assert path.stat().st_size < 64 << 10
    refused(path, tmp_path, "ModelFileLimitError", "weight_elements")


def test_a_transposed_view_in_a_pt_file_loads_as_its_values(tmp_path, capsys):
    def transposed(t):
        return {**t, "pre_fnn.W1": t["pre_fnn.W1"].t().contiguous().t()}

    path = edited(tmp_path / "view", tensors=transposed, container=".pt")
    assert main(["verify", "--task", "associative-recall", "--weights", str(path), "--examples", "20", "--batch", "50",
                 "--out", str(tmp_path / "out")]) == 0


def test_a_safetensors_header_declaring_huge_shapes_is_refused_before_reading_data(tmp_path):
    meta, weights = example_parts()
    path = tmp_path / "shapes.safetensors"
    save_file(weights, str(path), metadata=meta)
    blob = path.read_bytes()
    size = int.from_bytes(blob[:8], "little")
    header = json.loads(blob[8:8 + size])
    header["pre_fnn.W1"]["shape"] = [2**31, 2**31]
    text = json.dumps(header).encode()
    path.write_bytes(len(text).to_bytes(8, "little") + text + blob[8 + size:])
    refused(path, tmp_path, "ModelFileLimitError", "")


def test_complex_values_under_a_real_name_are_an_error_not_a_dropped_imaginary_part(tmp_path):
    """Before: the imaginary part was dropped with a warning and verify passed (exit 0): a false pass."""
    def complex_weight(t):
        return {**t, "pre_fnn.W1": t["pre_fnn.W1"] + 1j * torch.ones_like(t["pre_fnn.W1"])}

    refused(edited(tmp_path / "complex", tensors=complex_weight, container=".pt"), tmp_path, "ModelFileDTypeError", "complex")


def test_float32_weights_load_exactly_and_the_conversion_is_recorded(tmp_path, capsys):
    def float32(t):
        return {name: v.to(torch.float32) for name, v in t.items()}

    path = edited(tmp_path / "single", tensors=float32)
    out = tmp_path / "out"
    assert main(["verify", "--task", "associative-recall", "--weights", str(path), "--examples", "20", "--batch", "50",
                 "--out", str(out)]) == 0
    recorded = json.loads((out / "verify.json").read_text())
    conversions = recorded["loaded"]["conversions"]
    assert {c["tensor"] for c in conversions} == set(example_parts()[1])
    assert all(c["stored_as"] == "float32" and c["loaded_as"] == "float64" for c in conversions)
    assert "dtypes converted on loading" in (out / "verify.md").read_text()


def test_bool_weights_are_refused_as_a_dtype_the_format_does_not_read(tmp_path):
    def boolean(t):
        return {**t, "blocks.0.ssm.skip": t["blocks.0.ssm.skip"] != 0}

    refused(edited(tmp_path / "bool", tensors=boolean), tmp_path, "ModelFileDTypeError", "bool")


def code_with(**changes):
    def edit(a):
        a["code"] = {**a["code"], **changes}
        return a
    return edit


@pytest.mark.parametrize("case, edit, error, words", [
    ("output width that does not match the code", code_with(tokens=[4, 5, 6]), "ModelFileMetadataError", "code"),
    ("code tokens that are not integers", code_with(tokens="abc"), "ModelFileMetadataError", "tokens"),
    ("an unknown code kind", code_with(kind="morse"), "ModelFileMetadataError", "morse"),
    ("clip of the wrong type", lambda a: {**a, "clip": "yes"}, "ModelFileMetadataError", "clip"),
    ("clip bounds that are not numbers", lambda a: {**a, "clip": [0, "one"]}, "ModelFileMetadataError", "clip"),
    ("blocks that are not a list", lambda a: {**a, "blocks": {"0": 1}}, "ModelFileMetadataError", "blocks"),
])
def test_architecture_metadata_that_does_not_fit_is_a_named_error(tmp_path, case, edit, error, words):
    refused(edited(tmp_path / "arch", architecture=edit), tmp_path, error, words)


@pytest.mark.parametrize("task", [[], None, "associative-recall", {"name": "associative-recall", "config": []}])
def test_task_json_that_is_not_an_object_is_a_named_error(tmp_path, task):
    refused(edited(tmp_path / "task", task=lambda _: task), tmp_path, "ModelFileMetadataError", "task")


def test_deeply_nested_json_is_refused_by_the_depth_limit(tmp_path):
    meta, weights = example_parts()
    meta["architecture"] = meta["architecture"][:-1] + ', "deep": ' + "[" * 100_000 + "]" * 100_000 + "}"
    path = tmp_path / "deep.safetensors"
    save_file(weights, str(path), metadata=meta)
    refused(path, tmp_path, "ModelFileLimitError", "json_depth")


@pytest.mark.parametrize("tensors", [[1, 2], "weights", {"pre_fnn.W1": [[1.0]]}])
def test_a_pt_file_whose_tensors_are_not_tensors_is_a_container_error(tmp_path, tensors):
    meta, _ = example_parts()
    refused(write_pt(tmp_path / "list.pt", meta, tensors), tmp_path, "ModelFileContainerError", "tensor")


def test_a_directory_is_named_a_directory(tmp_path):
    folder = tmp_path / "model.safetensors"
    folder.mkdir()
    refused(folder, tmp_path, "ModelFileAccessError", "is a directory")


def test_an_unreadable_file_is_named_not_readable(tmp_path, monkeypatch):
    path = tmp_path / "locked.safetensors"
    path.write_bytes(EXAMPLE.read_bytes())
    real_access = os.access
    monkeypatch.setattr(os, "access", lambda p, mode, **kw: False if Path(p) == path else real_access(p, mode, **kw))
    refused(path, tmp_path, "ModelFileAccessError", "not readable")


def test_a_weight_that_overflows_on_some_drawn_instances_is_one_named_error_without_shrinking(tmp_path):
    """Found by the thorough fuzz run: wrong answers on some drawn instances and an overflow on others made
    hypothesis raise an ExceptionGroup that escaped verify as a traceback, after ~80 s of shrinking."""
    case = MalformedFile(seed="outer-product", container=".safetensors",
                         changes=(Mutation("poke", ("blocks.0.fnn.W1", 15, 1e308)),))
    refused(case.write(tmp_path), tmp_path, "NumericalRangeError", "overflows")
