"""``python -m reports run-data`` (reports/run_data.py): a construction or a network file on every instance
of a data file in one of the field's formats; exit codes 0/1/2, named errors with line numbers, the
scope reported apart, streaming in chunks, faults caught."""

from __future__ import annotations

import importlib.util
import json
import pathlib
import string

import numpy as np
import pytest

from reports import run_data
from reports.verify import export_main

FIXTURES = pathlib.Path(__file__).resolve().parents[1] / "examples" / "external"


def make_fixtures():
    spec = importlib.util.spec_from_file_location("make_fixtures", FIXTURES / "make_fixtures.py")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def run(tmp_path, *argv) -> tuple[int, dict]:
    out = tmp_path / "out"
    code = run_data.main([*argv, "--out", str(out)])
    return code, json.loads((out / "run-data.json").read_text())


def ar_lines(count: int, pairs: int, seed: int = 0) -> list[str]:
    rng = np.random.default_rng(seed)
    lines = []
    for _ in range(count):
        keys = rng.choice(list(string.ascii_lowercase), size=pairs, replace=False)
        values = rng.choice(list(string.digits), size=pairs)
        q = int(rng.integers(pairs))
        lines.append("".join(k + v for k, v in zip(keys, values)) + keys[q] + values[q])
    return lines


def write_lines(path: pathlib.Path, lines: list[str]) -> pathlib.Path:
    path.write_text("\n".join(lines) + "\n")
    return path


# -- the fixtures: exit 0 where every instance is exact, 1 where some is not ---------------------------


@pytest.mark.parametrize("fmt, name, extra", [
    ("ar-text", "ar_text.txt", []),
    ("jelassi-copy", "jelassi_copy.txt", []),
    ("zoology-mqar", "zoology_mqar_v8192.npz", []),
    ("zoology-mqar", "zoology_mqar_zeros.json", []),
    ("zoology-mqar", "zoology_mqar_v80.jsonl", ["--vocab-size", "80", "--construction", "binary-attention"]),
])
def test_default_constructions_answer_every_fixture_instance_and_exit_0(tmp_path, capsys, fmt, name, extra):
    code, result = run(tmp_path, "--format", fmt, "--data", str(FIXTURES / name), *extra)
    assert code == 0 and result["exit_code"] == 0 and result["passed"]
    t = result["totals"]
    assert t["exact"] == t["instances"] > 0 and t["exact_answers"] == t["answers"]
    printed = capsys.readouterr().out
    assert f"{t['instances']}/{t['instances']} instances exact" in printed
    if not extra:  # the default is named, with the reason
        assert f"construction: {run_data.DATA_FORMATS[fmt].default} (" in printed and result["source"]["why"]


def test_misses_outside_the_scope_are_reported_apart_and_fail_unless_scope_only(tmp_path, capsys):
    """Random fillers at a vocabulary of 80 repeat queried keys with other values: the clipped outer
    product misses exactly there (the predicate), never inside its scope."""
    args = ("--format", "zoology-mqar", "--data", str(FIXTURES / "zoology_mqar_v80.jsonl"), "--vocab-size", "80")
    code, result = run(tmp_path, *args)
    t = result["totals"]
    assert code == 1 and t["failed_inside_scope"] == 0 and t["outside_scope_missed"] > 0
    assert t["exact"] == t["instances"] - t["outside_scope_missed"]
    assert "foreign-value-after-query" in result["scope"]["predicate"] and result["scope"]["misses_count_as_failures"]
    assert result["outside_scope"] and result["outside_scope"][0]["where"].startswith("line ")
    assert "first misses outside the scope:" in capsys.readouterr().out
    code, result = run(tmp_path, *args, "--scope-only")
    assert code == 0 and result["totals"]["outside_scope_missed"] == t["outside_scope_missed"]
    assert not result["scope"]["misses_count_as_failures"]


def test_ngram_copier_misses_only_strings_with_a_repeated_ngram(tmp_path):
    four_letters = [line for line in (FIXTURES / "jelassi_copy.txt").read_text().splitlines() if set(line) <= set("abcd$|.")]
    data = write_lines(tmp_path / "abcd.txt", four_letters)
    code, result = run(tmp_path, "--format", "jelassi-copy", "--data", str(data), "--construction", "ngram-lookup", "--ngram", "2")
    t = result["totals"]
    assert code == 1 and t["failed_inside_scope"] == 0 and t["outside_scope_missed"] > 0
    assert "repeated-ngram" in result["scope"]["predicate"]
    first = result["outside_scope"][0]
    assert first["text"].startswith("$") and first["text"] in four_letters  # the line as the file has it
    assert first["where"] == f"line {four_letters.index(first['text']) + 1}"
    assert run(tmp_path, "--format", "jelassi-copy", "--data", str(data), "--construction", "ngram-lookup",
               "--ngram", "2", "--scope-only")[0] == 0


@pytest.mark.parametrize("key", ["suffix", "prefix"])
def test_lookup_misses_only_ambiguous_continuations_and_passes_with_scope_only(tmp_path, capsys, key):
    """The fixture's four-letter lines repeat 3-grams: the default (suffix-prefix-lookup, n = 3 read
    from the file) misses exactly the ambiguous ones, which count as failures unless --scope-only
    (run on those lines only, to keep the test cheap)."""
    data = FIXTURES / f"jelassi_{key}.txt"
    lines = data.read_text().splitlines()
    code, result = run(tmp_path, "--format", f"jelassi-{key}", "--data", str(data))
    t = result["totals"]
    assert code == 1 and result["source"]["construction"] == "suffix-prefix-lookup"
    assert t["instances"] == len(lines) and t["failed_inside_scope"] == 0
    assert t["outside_scope_missed"] == t["outside_scope_instances"] > 0 and t["exact"] == t["instances"] - t["outside_scope_missed"]
    assert "continuation-ambiguous" in result["scope"]["predicate"]
    assert all(c["ngram"] == 3 and c["key"] == key for c in result["configs"])
    first = result["outside_scope"][0]
    assert first["where"] == f"line {lines.index(first['text']) + 1}"  # the line as the file has it
    four_letters = write_lines(tmp_path / "abcd.txt", [line for line in lines if set(line) <= set("abcd$|.")])
    code, result = run(tmp_path, "--format", f"jelassi-{key}", "--data", str(four_letters), "--scope-only")
    assert code == 0 and result["passed"] and not result["scope"]["misses_count_as_failures"]
    assert result["totals"]["outside_scope_missed"] > 0  # the misses are all on these lines


@pytest.mark.parametrize("key", ["suffix", "prefix"])
def test_the_lookup_transformers_miss_only_ambiguous_lines(tmp_path, key):
    data = str(FIXTURES / f"jelassi_{key}.txt")
    code, result = run(tmp_path, "--format", f"jelassi-{key}", "--data", data, "--construction", f"jelassi-{key}-transformer",
                       "--scope-only")
    t = result["totals"]
    assert code == 0 and t["failed_inside_scope"] == 0 and t["instances"] == 36
    assert 0 < t["outside_scope_missed"] <= t["outside_scope_instances"]  # earliest match: some ambiguous lines answered
    code, result = run(tmp_path, "--format", f"jelassi-{key}", "--data", data, "--construction", f"jelassi-{key}-transformer",
                       "--scope-only", "--inject-fault", f"jelassi-{key}-transformer:0")
    assert code == 1 and result["totals"]["failed_inside_scope"] > 0


def test_the_suffix_lookup_ssm_memory_is_refused_on_the_full_map_and_each_transformer_takes_its_own_key(tmp_path):
    data = str(FIXTURES / "jelassi_suffix.txt")
    code, result = run(tmp_path, "--format", "jelassi-suffix", "--data", data, "--mapping", "full")
    assert code == 2 and "592704 cells" in result["error"]["message"]  # (26 + 2)^3 x 27: the SSM+FNN's memory is refused
    argv = ["--format", "jelassi-prefix", "--data", data, "--construction", "jelassi-suffix-transformer"]
    assert run_data.main([*argv, "--out", str(tmp_path / "prefix")]) == 2  # a suffix-key construction only
    argv = ["--format", "jelassi-suffix", "--data", data, "--construction", "jelassi-prefix-transformer"]
    assert run_data.main([*argv, "--out", str(tmp_path / "suffix")]) == 2  # a prefix-key construction only


@pytest.mark.parametrize("key", ["suffix", "prefix"])
def test_a_fault_in_the_lookup_construction_makes_run_data_exit_1(tmp_path, key):
    """On the fixture's four-letter lines (cheap: D = 4); the fault (the end flag never reads SEP) breaks
    unambiguous lines too, so even --scope-only fails."""
    four_letters = [line for line in (FIXTURES / f"jelassi_{key}.txt").read_text().splitlines() if set(line) <= set("abcd$|.")]
    data = str(write_lines(tmp_path / "abcd.txt", four_letters))
    assert run(tmp_path, "--format", f"jelassi-{key}", "--data", data, "--scope-only")[0] == 0
    code, result = run(tmp_path, "--format", f"jelassi-{key}", "--data", data, "--scope-only",
                       "--inject-fault", "suffix-prefix-lookup:0")
    assert code == 1 and result["faults"] == {"suffix-prefix-lookup": 0} and result["totals"]["failed_inside_scope"] > 0
    assert result["failures"][0]["where"].startswith("line ") and result["failures"][0]["wrong"]


def test_the_precision_route_on_the_ar_text_fixture_misses_only_past_53_state_bits(tmp_path):
    """Full map (26 keys, 10 values: w = 9): lines of N <= 3 pairs need at most 53 state bits and are exact;
    the misses are all on longer lines, named by the beyond-float64 scope (exit 1, or 0 with --scope-only)."""
    data = str(FIXTURES / "ar_text.txt")
    argv = ["--format", "ar-text", "--data", data, "--construction", "precision-route", "--mapping", "full"]
    code, result = run(tmp_path, *argv)
    t = result["totals"]
    assert code == 1 and t["failed_inside_scope"] == 0 and 0 < t["outside_scope_missed"] < t["outside_scope_instances"]
    assert t["instances"] - t["outside_scope_instances"] == sum(len(line) <= 8 for line in open(data).read().split())
    assert result["scope"]["predicate"].startswith("beyond-float64") and len(result["outside_scope"][0]["text"]) > 8
    assert run(tmp_path, *argv, "--scope-only")[0] == 0


# -- a broken construction is caught ---------------------------------------------------------------


def test_an_injected_fault_makes_run_data_exit_1(tmp_path, monkeypatch, capsys):
    data = str(FIXTURES / "ar_text.txt")
    code, result = run(tmp_path, "--format", "ar-text", "--data", data, "--inject-fault", "outer-product:0")
    assert code == 1 and result["faults"] == {"outer-product": 0} and result["failures"]
    assert result["failures"][0]["where"].startswith("line ") and result["failures"][0]["wrong"]
    assert "BROKEN ON PURPOSE" in capsys.readouterr().err
    monkeypatch.setenv("SSM_SUITE_FAULTS", "fixed-length-shift:1")  # as for pytest runs
    code, result = run(tmp_path, "--format", "jelassi-copy", "--data", str(FIXTURES / "jelassi_copy.txt"))
    assert code == 1 and result["totals"]["failed_inside_scope"] > 0
    monkeypatch.delenv("SSM_SUITE_FAULTS")
    assert run(tmp_path, "--format", "jelassi-copy", "--data", str(FIXTURES / "jelassi_copy.txt"))[0] == 0


# -- bad files: exit 2, the error named with its line or row -------------------------------------------


def test_a_bad_line_is_named_with_its_number_and_the_count_before_it_kept(tmp_path, capsys):
    lines = ar_lines(6, 3)
    lines[4] = lines[4][:-1] + ("0" if lines[4][-1] != "0" else "1")  # a wrong answer on line 5
    data = write_lines(tmp_path / "bad.txt", lines)
    code, result = run(tmp_path, "--format", "ar-text", "--data", str(data), "--chunk-rows", "2")
    assert code == 2 and result["exit_code"] == 2 and not result["passed"]
    assert result["error"]["type"] == "ExternalFormatError" and result["error"]["message"].startswith("line 5:")
    assert result["totals"]["instances"] == 4  # the two chunks before the bad line were run
    assert "error: ExternalFormatError: line 5:" in capsys.readouterr().err
    assert "ERROR" in (tmp_path / "out" / "run-data.md").read_text()


@pytest.mark.parametrize("content, error, where", [
    ('{"inputs": [1, 9, 1, 0], "labels": [-100, -100, 9, -100]}\n{"inputs": [1, 9], "labels": [-100]}\n',
     "ExternalFormatError", "line 2"),
    ('not json\n', "ExternalFormatError", "line 1"),
])
def test_a_bad_mqar_record_is_named(tmp_path, content, error, where):
    data = tmp_path / "bad.jsonl"
    data.write_text(content)
    code, result = run(tmp_path, "--format", "zoology-mqar", "--data", str(data), "--vocab-size", "16")
    assert code == 2 and result["error"]["type"] == error and where in result["error"]["message"]


def test_a_missing_data_file_exits_2(tmp_path):
    code, result = run(tmp_path, "--format", "ar-text", "--data", str(tmp_path / "absent.txt"))
    assert code == 2 and result["error"]["type"] == "FileNotFoundError"


# -- bad command lines: exit 2 before anything runs ----------------------------------------------------


@pytest.mark.parametrize("argv, says", [
    (["--format", "jelassi-suffix", "--data", "x.txt", "--construction", "ngram-lookup"], "does not take the format"),
    (["--format", "jelassi-prefix", "--data", "x.txt", "--vocab-size", "8"], "option of another format"),
    (["--format", "jelassi-copy", "--data", "x.txt", "--construction", "outer-product"], "does not take the format"),
    (["--format", "ar-text", "--data", "x.txt", "--alphabet", "4"], "option of another format"),
    (["--format", "ar-text", "--data", "x.txt", "--inject-fault", "outer-product:99"], "does not exist"),
    (["--format", "ar-text", "--data", "x.txt", "--inject-fault", "nothing:0"], "must be NAME:INDEX"),
    (["--format", "ar-text", "--data", "x.txt", "--weights", "n.pt", "--mapping", "compact"], "full map"),
    (["--format", "ar-text", "--data", "x.txt", "--weights", "n.pt", "--inject-fault", "outer-product:0"], "--weights"),
])
def test_bad_command_lines_exit_2_with_the_reason(tmp_path, capsys, argv, says):
    assert run_data.main([*argv, "--out", str(tmp_path)]) == 2
    assert says in capsys.readouterr().err


@pytest.mark.parametrize("argv", [
    ["--format", "csv", "--data", "x"],
    ["--format", "ar-text"],
    ["--format", "ar-text", "--data", "x", "--chunk-rows", "0"],
    ["--format", "ar-text", "--data", "x", "--construction", "outer-product", "--weights", "n.pt"],
    ["--format", "ar-text", "--data", "x", "--construction", "no-such"],
])
def test_argument_errors_exit_2(argv, capsys):
    with pytest.raises(SystemExit) as exit_:
        run_data.main(argv)
    assert exit_.value.code == 2


# -- a user's network file ---------------------------------------------------------------------------


def export(tmp_path, name: str, config: str, option: str = "") -> str:
    path = tmp_path / f"{name}.safetensors"
    assert export_main([name, "--config", config, "--option", option, "--out", str(path)]) == 0
    return str(path)


def test_exported_networks_run_on_a_file_of_each_format(tmp_path):
    ar = write_lines(tmp_path / "ar.txt", ar_lines(20, 3))
    net = export(tmp_path, "outer-product", "num_keys=26,num_values=10,num_pairs=3,num_queries=1")
    code, result = run(tmp_path, "--format", "ar-text", "--data", str(ar), "--weights", net)
    assert code == 0 and result["totals"]["exact"] == 20 and result["mapping"] == "full"
    copy = write_lines(tmp_path / "copy.txt", [f"${s}|{s}." for s in ("abcdab", "ddddcc", "bacdba")])
    net = export(tmp_path, "fixed-length-shift", "alphabet=4,length=6")
    code, result = run(tmp_path, "--format", "jelassi-copy", "--data", str(copy), "--weights", net)
    assert code == 0 and result["totals"]["exact"] == 3
    rng = np.random.default_rng(1)
    inputs, labels = make_fixtures().zoology_rows(rng, 12, 16, 3, 20, random_fillers=False)
    np.savez(tmp_path / "mqar.npz", inputs=inputs, labels=labels)
    net = export(tmp_path, "outer-product", "num_keys=7,num_values=8,num_pairs=3,num_queries=3,length=20", "clip_counts=1")
    code, result = run(tmp_path, "--format", "zoology-mqar", "--data", str(tmp_path / "mqar.npz"), "--vocab-size", "16",
                       "--weights", net)
    assert code == 0 and result["totals"]["exact"] == 12 and result["source"]["task"] == "scattered-recall"


def test_a_mismatched_network_is_a_named_error(tmp_path):
    net = export(tmp_path, "outer-product", "num_keys=26,num_values=10,num_pairs=3,num_queries=1")
    code, result = run(tmp_path, "--format", "ar-text", "--data", str(FIXTURES / "ar_text.txt"), "--weights", net)
    assert code == 2 and result["error"]["type"] == "DataMismatchError"
    assert result["error"]["message"].startswith("line ") and "num_pairs" in result["error"]["message"]
    code, result = run(tmp_path, "--format", "jelassi-copy", "--data", str(FIXTURES / "jelassi_copy.txt"), "--weights", net)
    assert code == 2 and result["error"]["type"] == "DataMismatchError" and "'associative-recall'" in result["error"]["message"]
    code, result = run(tmp_path, "--format", "zoology-mqar", "--data", str(FIXTURES / "zoology_mqar_v80.jsonl"),
                       "--vocab-size", "80", "--weights", str(FIXTURES.parent / "outer_product_k4_v4.safetensors"))
    assert code == 2 and "'scattered-recall'" in result["error"]["message"]
    broken = tmp_path / "broken.safetensors"
    broken.write_bytes(b"not a model file")
    code, result = run(tmp_path, "--format", "ar-text", "--data", str(FIXTURES / "ar_text.txt"), "--weights", str(broken))
    assert code == 2 and result["error"]["type"].startswith("ModelFile") and result["error"]["about"] == "network"


def lookup_lines(key: str, config: str, count: int, seed: int, ambiguous: bool = False) -> list[str]:
    """Lines of ``jelassi-{key}`` drawn for ``config`` (``alphabet=..,length=..,ngram=..,answer_length=..``): each line
    is its instance's token sequence in characters (the format's rule); only unambiguous ones, or only ambiguous ones."""
    import torch

    from constructions.tasks.external import jelassi_lookup
    from constructions.tasks.ngram_lookup import NgramLookupConfig, continuation_ambiguous, generate

    fields = {k: int(v) for k, v in (item.split("=") for item in config.split(","))}
    c = NgramLookupConfig(**fields, key=key)
    batch = generate(c, 8 * count, seed)
    keep = continuation_ambiguous(c, batch.strings, batch.grams) == ambiguous
    letters = torch.tensor([ord(x) for x in jelassi_lookup.LETTERS[: c.alphabet] + "$|."])
    return ["".join(map(chr, letters[t].tolist())) for t in batch.tokens[keep][:count]]


@pytest.mark.parametrize("key", ["suffix", "prefix"])
def test_an_exported_lookup_network_runs_on_lookup_lines_and_a_mismatch_is_named(tmp_path, key):
    """The SSM+FNN lookup as a model file (task suffix-lookup / prefix-lookup; D = 4, n = 2: the file stores its
    (D + 2)^n (D + 1)-cell memory dense): exit 0 on unambiguous lines, 1 on ambiguous ones, 2 with
    DataMismatchError naming the line where a line's format is not the network's."""
    config = "alphabet=4,length=10,ngram=2,answer_length=2"
    net = export(tmp_path, "suffix-prefix-lookup", f"{config},key={key}")
    fmt = ["--format", f"jelassi-{key}", "--alphabet", "4"]
    data = write_lines(tmp_path / "exact.txt", lookup_lines(key, config, 20, 1))
    code, result = run(tmp_path, *fmt, "--data", str(data), "--weights", net)
    assert code == 0 and result["totals"]["exact"] == 20 and result["source"]["task"] == f"{key}-lookup"
    data = write_lines(tmp_path / "ambiguous.txt", lookup_lines(key, config, 5, 2, ambiguous=True))
    code, result = run(tmp_path, *fmt, "--data", str(data), "--weights", net)
    assert code == 1 and result["totals"]["exact"] == 0  # the SSM+FNN misses every ambiguous line
    longer = lookup_lines(key, config, 3, 3) + lookup_lines(key, "alphabet=4,length=11,ngram=2,answer_length=2", 1, 4)
    code, result = run(tmp_path, *fmt, "--data", str(write_lines(tmp_path / "longer.txt", longer)), "--weights", net)
    assert code == 2 and result["error"]["type"] == "DataMismatchError" and result["totals"]["instances"] == 3
    assert result["error"]["message"].startswith("line 4") and "length 11 (network: 10)" in result["error"]["message"]
    other = "prefix" if key == "suffix" else "suffix"
    code, result = run(tmp_path, "--format", f"jelassi-{other}", "--alphabet", "4", "--data", str(data), "--weights", net)
    assert code == 2 and result["error"]["type"] == "DataMismatchError" and f"'{key}-lookup'" in result["error"]["message"]


# -- streaming ------------------------------------------------------------------------------------------


def test_a_file_larger_than_one_chunk_is_streamed_in_bounded_chunks(tmp_path, monkeypatch, capsys):
    data = write_lines(tmp_path / "long.txt", ar_lines(3000, 4, seed=5))
    monkeypatch.setattr(run_data, "PROGRESS_SECONDS", 0.0)  # a progress line per batch
    code, result = run(tmp_path, "--format", "ar-text", "--data", str(data), "--chunk-rows", "256")
    t = result["totals"]
    assert code == 0 and t["instances"] == t["exact"] == 3000
    assert t["largest_chunk"] <= 256 and t["batches"] == 12  # ceil(3000 / 256): never more held at once
    assert "256 instances x 4096 tokens" in result["memory_bound"]
    assert capsys.readouterr().err.count("run-data: ") == 12
    run(tmp_path, "--format", "ar-text", "--data", str(data), "--chunk-rows", "256", "--quiet")
    assert "run-data: " not in capsys.readouterr().err


def test_constructions_are_built_once_per_chunk_config_and_the_cache_is_bounded(tmp_path, monkeypatch):
    built = []
    runner = run_data.CONSTRUCTIONS["outer-product"]
    original = run_data.Runner.build

    def counting(self, config, n):
        built.append(config)
        return original(self, config, n)

    monkeypatch.setattr(run_data.Runner, "build", counting)
    lines = ar_lines(40, 3) + ar_lines(40, 5, seed=1)
    code, result = run(tmp_path, "--format", "ar-text", "--data", str(write_lines(tmp_path / "two.txt", lines)),
                       "--mapping", "full", "--chunk-rows", "10")
    assert code == 0 and runner.module.endswith("outer_product")
    assert len(built) == 2 == len(set(built)) == len(result["configs"])  # N = 3 and N = 5, each built once
