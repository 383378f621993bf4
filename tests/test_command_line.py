"""The command line rejects nonsense with exit 2 before anything runs (issue #15, section 3).

Every probe runs in-process through ``reports.cli.main``: argparse's errors are ``SystemExit(2)``,
the checks made after parsing return 2; either way nothing is run and nothing is written.
"""

from __future__ import annotations

import argparse
import json

import pytest
from hypothesis import strategies as st

from checks import profiles
from constructions.mutation import INJECTABLE, check_fault_indices, example_faults
from reports import arguments
from reports import verify as verify_cli
from reports.cli import main

EXAMPLE = "examples/outer_product_k4_v4.safetensors"


def exit_code(argv: list[str]) -> int:
    """``main(argv)``'s exit status, whether it returns it or argparse raises ``SystemExit``."""
    try:
        return main(argv)
    except SystemExit as stop:
        return stop.code


@pytest.fixture
def copier(tmp_path):
    """A fixed-length copier for strings of 6 symbols over 3, exported to a file."""
    path = tmp_path / "copy.safetensors"
    assert main(["export", "fixed-length-shift", "--config", "alphabet=3,length=6", "--out", str(path)]) == 0
    return path


# ----------------------------------------------------------------------------- python -m reports
def test_an_empty_claims_list_exits_2_and_runs_nothing(capsys, tmp_path):
    for value in ("", " , "):
        assert exit_code(["--claims", value, "--out", str(tmp_path), "--quiet"]) == 2
        assert "--claims needs at least one claim id" in capsys.readouterr().err
    assert not list(tmp_path.iterdir())


@pytest.mark.parametrize("workers", ["abc", "-1", "1.5", "", str(arguments.max_workers() + 1)])
def test_workers_that_are_not_auto_or_a_count_in_range_exit_2(workers, capsys, tmp_path):
    assert exit_code(["--workers", workers, "--claims", "model.shift-kernel", "--out", str(tmp_path)]) == 2
    assert "argument --workers" in capsys.readouterr().err
    assert not list(tmp_path.iterdir())


def test_workers_accept_auto_zero_and_counts():
    assert [arguments.workers(w) for w in ("auto", "0", "3", str(arguments.max_workers()))] == [
        "auto", "0", "3", str(arguments.max_workers())]


@pytest.mark.parametrize("seed", ["-1", str(profiles.SEED_MAX + 1), "99999999999999999999", "1e3", "x"])
def test_a_seed_out_of_range_exits_2_for_the_report_and_for_verify(seed, capsys, tmp_path):
    assert exit_code(["--seed", seed, "--claims", "model.shift-kernel", "--out", str(tmp_path)]) == 2
    assert "argument --seed" in capsys.readouterr().err
    assert exit_code(["verify", "--task", "associative-recall", "--weights", EXAMPLE, "--seed", seed,
                      "--out", str(tmp_path)]) == 2
    assert "argument --seed" in capsys.readouterr().err
    assert not list(tmp_path.iterdir())


def test_a_suite_seed_out_of_range_is_refused_by_the_profile():
    assert profiles.SEED_MAX == 2**32 - 1 and arguments.seed(str(profiles.SEED_MAX)) == profiles.SEED_MAX
    with pytest.raises(KeyError, match="suite seed"):
        profiles.activate("quick", profiles.SEED_MAX + 1)
    profiles.activate("quick")


@pytest.mark.parametrize("out", ["", "  "])
def test_an_empty_output_directory_exits_2_and_writes_nothing_into_the_current_folder(out, capsys, tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    assert exit_code(["--out", out, "--claims", "model.shift-kernel", "--quiet"]) == 2
    assert "argument --out" in capsys.readouterr().err
    assert exit_code(["verify", "--task", "associative-recall", "--weights", EXAMPLE, "--out", out]) == 2
    assert "argument --out" in capsys.readouterr().err
    assert not list(tmp_path.iterdir())


def test_a_fault_index_beyond_the_constructions_faults_exits_2_naming_the_range(capsys, tmp_path):
    assert exit_code(["--inject-fault", "outer-product:99", "--claims", "ar.outer-product.exact", "--out", str(tmp_path)]) == 2
    err = capsys.readouterr().err
    assert "outer-product:99 does not exist" in err and "outer-product:0 .. outer-product:3" in err
    assert not list(tmp_path.iterdir())


def test_an_empty_training_cache_directory_exits_2(capsys, tmp_path):
    assert exit_code(["--training-cache", " ", "--claims", "model.shift-kernel", "--out", str(tmp_path)]) == 2
    assert "argument --training-cache" in capsys.readouterr().err
    assert not list(tmp_path.iterdir())


@pytest.mark.parametrize("name", sorted(INJECTABLE))
def test_every_listed_fault_index_is_accepted_and_the_next_one_refused(name):
    count = len(example_faults(name))
    assert count >= 1
    check_fault_indices({name: count - 1})
    with pytest.raises(ValueError, match=f"{name}:{count} does not exist"):
        check_fault_indices({name: count})


# ----------------------------------------------------------------------------- python -m reports verify
@pytest.mark.parametrize("option, value", [("--examples", "0"), ("--examples", "-3"), ("--batch", "0"),
                                           ("--ngram", "0"), ("--ngram", "-1"), ("--examples", "many")])
def test_verify_counts_below_one_exit_2(option, value, capsys, tmp_path):
    argv = ["verify", "--task", "associative-recall", "--weights", EXAMPLE, option, value, "--out", str(tmp_path)]
    assert exit_code(argv) == 2
    assert f"argument {option}" in capsys.readouterr().err
    assert not list(tmp_path.iterdir())


def test_verify_with_an_ngram_that_leaves_no_string_exits_2_naming_the_longest_length(copier, capsys, tmp_path):
    out = tmp_path / "verify"
    assert exit_code(["verify", "--task", "copying", "--weights", str(copier), "--ngram", "1", "--out", str(out)]) == 2
    err = capsys.readouterr().err
    assert "--ngram 1 leaves no string to check" in err and "D^n + n - 1 = 3" in err
    recorded = json.loads((out / "verify.json").read_text())
    assert recorded["exit_code"] == 2 and recorded["error"]["type"] == "InfeasibleTaskError" and not recorded["checks"]


def test_verify_with_an_ngram_on_a_recall_task_exits_2(capsys, tmp_path):
    assert exit_code(["verify", "--task", "associative-recall", "--weights", EXAMPLE, "--ngram", "2", "--out", str(tmp_path)]) == 2
    assert "--ngram restricts copying strings" in capsys.readouterr().err


def test_verify_with_an_ngram_longer_than_the_string_checks_every_string(copier, tmp_path):
    assert exit_code(["verify", "--task", "copying", "--weights", str(copier), "--ngram", "1000000000",
                      "--examples", "5", "--batch", "20", "--out", str(tmp_path)]) == 0


def test_verify_reports_a_check_it_could_not_draw_as_skipped_not_passed(copier, capsys, tmp_path, monkeypatch):
    """Strings without a repeated n-gram exist but hypothesis cannot find them (here: none is ever drawn);
    the other checks still decide, and the skipped one says why."""
    monkeypatch.setattr(verify_cli, "_strings", lambda config, ngram: st.nothing())
    assert exit_code(["verify", "--task", "copying", "--weights", str(copier), "--ngram", "2", "--examples", "5",
                      "--out", str(tmp_path)]) == 0
    out = capsys.readouterr().out
    assert "skipped (hypothesis found too few strings without a repeated 2-gram" in out
    assert "pass  every instance" in out


def test_argument_types_raise_argparse_errors_naming_the_value():
    with pytest.raises(argparse.ArgumentTypeError, match="got 0"):
        arguments.positive_int("0")
    with pytest.raises(argparse.ArgumentTypeError, match="non-empty"):
        arguments.output_directory("")
