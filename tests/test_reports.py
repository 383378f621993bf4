"""The report: command-line errors, atomic file writing, verdict rules, and one end-to-end run."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

from claims.registry import claim
from reports import output
from reports.cli import main
from reports.collect import is_hypothesis_counterexample
from reports import collect
from reports.output import OutputError, prepare_directory, write_atomic
from reports.render import headline
from reports.verdicts import aggregate, verdict_for

REPO_ROOT = Path(__file__).resolve().parent.parent


# ----------------------------------------------------------------------------- command line
def test_unknown_claim_id_exits_2_with_a_clear_message(capsys, tmp_path):
    assert main(["--claims", "not.a.claim", "--out", str(tmp_path), "--quiet"]) == 2
    err = capsys.readouterr().err
    assert "error: unknown claim id 'not.a.claim'" in err
    assert "--list" in err
    assert not list(tmp_path.iterdir())  # nothing was run or written


def test_misspelt_claim_id_exits_2_suggesting_the_close_match(capsys, tmp_path):
    assert main(["--claims", "model.shift-kernal", "--out", str(tmp_path), "--quiet"]) == 2
    assert "did you mean model.shift-kernel" in capsys.readouterr().err


def test_one_unknown_id_among_comma_separated_ids_exits_2(capsys, tmp_path):
    assert main(["--claims", "model.shift-kernel,not.a.claim", "--out", str(tmp_path), "--quiet"]) == 2
    assert "'not.a.claim'" in capsys.readouterr().err


@pytest.mark.parametrize("where", ["inside", "is"], ids=["out-inside-a-file", "out-is-a-file"])
def test_unwritable_output_path_exits_2_naming_the_path(where, capsys, tmp_path):
    regular = tmp_path / "regular-file"
    regular.write_text("not a directory")
    out = regular / "reports" if where == "inside" else regular
    assert main(["--claims", "model.shift-kernel", "--out", str(out), "--quiet"]) == 2
    err = capsys.readouterr().err
    assert err.startswith("error: cannot write reports to")
    assert repr(str(out)) in err
    assert regular.read_text() == "not a directory"


def test_unknown_profile_is_a_usage_error_with_exit_2(capsys):
    with pytest.raises(SystemExit) as exit_info:
        main(["--profile", "enormous"])
    assert exit_info.value.code == 2
    assert "enormous" in capsys.readouterr().err


def test_list_prints_every_registered_claim_and_exits_0(capsys):
    from claims.registry import load

    assert main(["--list"]) == 0
    lines = capsys.readouterr().out.splitlines()
    assert [line.split()[0] for line in lines] == load().ids()


# ----------------------------------------------------------------------------- writing files
def test_prepare_directory_creates_nested_directories_and_leaves_no_probe_file(tmp_path):
    out = prepare_directory(tmp_path / "a" / "b")
    assert out.is_dir() and not list(out.iterdir())


def test_prepare_directory_inside_a_regular_file_is_an_output_error_naming_the_path(tmp_path):
    regular = tmp_path / "f"
    regular.write_text("x")
    with pytest.raises(OutputError, match="cannot write reports to .*f/sub"):
        prepare_directory(regular / "sub")


def test_write_atomic_replaces_the_content_and_leaves_no_temporary_file(tmp_path):
    target = tmp_path / "claims.json"
    write_atomic(target, "first\n")
    assert target.read_text(encoding="utf-8") == "first\n"
    write_atomic(target, "second, with unicode: λ ≤ ∞\n")
    assert target.read_text(encoding="utf-8") == "second, with unicode: λ ≤ ∞\n"
    assert [p.name for p in tmp_path.iterdir()] == ["claims.json"]


def test_write_atomic_failing_at_the_rename_keeps_the_old_content_and_no_temporary_file(tmp_path, monkeypatch):
    target = tmp_path / "report.md"
    write_atomic(target, "old report\n")

    def failing_replace(src, dst):
        raise OSError("disk on fire")

    monkeypatch.setattr(output.os, "replace", failing_replace)
    with pytest.raises(OSError, match="disk on fire"):
        write_atomic(target, "new report\n")
    assert target.read_text() == "old report\n"
    assert [p.name for p in tmp_path.iterdir()] == ["report.md"]


def test_write_atomic_failing_while_writing_keeps_the_old_content_and_no_temporary_file(tmp_path, monkeypatch):
    target = tmp_path / "report.md"
    write_atomic(target, "old report\n")

    def failing_fsync(fd):
        raise KeyboardInterrupt  # even an interrupt must not leave the temporary file behind

    monkeypatch.setattr(output.os, "fsync", failing_fsync)
    with pytest.raises(KeyboardInterrupt):
        write_atomic(target, "new report\n")
    assert target.read_text() == "old report\n"
    assert [p.name for p in tmp_path.iterdir()] == ["report.md"]


def test_write_atomic_creates_a_new_file(tmp_path):
    write_atomic(tmp_path / "new.txt", "hello")
    assert (tmp_path / "new.txt").read_text() == "hello"


# ----------------------------------------------------------------------------- verdicts
def a_claim(claim_id: str, expected: str = "holds"):
    return claim(id=claim_id, title="A test claim", stated="Something holds.", checked_as="Checked so.", provenance="reconstructed",
                 source="tests", kind="exact", paper_claims=["model"], expected=expected)


def result(name: str, outcome: str, *links: tuple[str, str], message: str | None = None, duration: float = 0.0):
    return collect.CheckResult(f"checks/test_x.py::{name}", list(links), outcome, duration, {}, message)


def ev(claim_id):
    return (claim_id, "evidence")


def ctl(claim_id):
    return (claim_id, "control")


def verdict(tests, claim_id="test.a"):
    return verdict_for(claim_id, tests)[0]


def test_all_evidence_and_controls_passing_holds():
    v, reason = verdict_for("test.a", [result("e1", "passed", ev("test.a")), result("e2", "passed", ev("test.a")),
                                       result("c", "passed", ctl("test.a"))])
    assert v == "holds"
    assert "2 checks passed, 1 controls caught their broken versions" in reason


def test_passing_evidence_without_a_passing_control_is_inconclusive():
    v, reason = verdict_for("test.a", [result("e", "passed", ev("test.a"))])
    assert v == "inconclusive" and "no control shows these checks can fail" in reason
    v, _ = verdict_for("test.a", [result("e", "passed", ev("test.a")), result("c", "skipped", ctl("test.a"))])
    assert v == "inconclusive"


def test_a_failure_needs_no_control():
    assert verdict([result("e", "failed", ev("test.a"))]) == "fails"


def test_a_failed_evidence_test_fails_the_claim_naming_the_test():
    v, reason = verdict_for("test.a", [result("good", "passed", ev("test.a")), result("bad", "failed", ev("test.a"))])
    assert v == "fails" and "bad" in reason and "good" not in reason


def test_an_expected_failure_that_happened_fails_the_claim():
    assert verdict([result("e", "xfailed", ev("test.a"))]) == "fails"


def test_an_expected_failure_that_did_not_happen_holds():
    assert verdict([result("e", "xpassed", ev("test.a")), result("c", "passed", ctl("test.a"))]) == "holds"


def test_a_failed_control_makes_the_claim_inconclusive_not_failed():
    v, reason = verdict_for("test.a", [result("e", "passed", ev("test.a")), result("c", "failed", ctl("test.a"))])
    assert v == "inconclusive" and "control" in reason and "c" in reason


@pytest.mark.parametrize("outcome", ["error", "xfailed", "inconclusive"])
def test_a_control_that_did_not_pass_makes_the_claim_inconclusive(outcome):
    assert verdict([result("e", "passed", ev("test.a")), result("c", outcome, ctl("test.a"))]) == "inconclusive"


@pytest.mark.parametrize("outcome", ["skipped", "not-run"])
def test_a_skipped_or_unrun_control_does_not_spoil_a_holding_claim(outcome):
    tests = [result("e", "passed", ev("test.a")), result("c1", "passed", ctl("test.a")), result("c2", outcome, ctl("test.a"))]
    assert verdict(tests) == "holds"


def test_an_errored_evidence_test_makes_the_claim_inconclusive():
    v, reason = verdict_for("test.a", [result("e", "error", ev("test.a"), message="fixture broke")])
    assert v == "inconclusive" and "errored" in reason and "e" in reason


def test_an_error_outranks_a_failure_as_the_rules_list_it_first():
    assert verdict([result("e1", "error", ev("test.a")), result("e2", "failed", ev("test.a"))]) == "inconclusive"


def test_an_inconclusive_evidence_test_makes_the_claim_inconclusive_with_its_reason():
    v, reason = verdict_for("test.a", [result("e", "inconclusive", ev("test.a"), message="grid too small")])
    assert v == "inconclusive" and "grid too small" in reason


def test_a_failure_outranks_an_inconclusive_test():
    assert verdict([result("e1", "inconclusive", ev("test.a")), result("e2", "failed", ev("test.a"))]) == "fails"


def test_no_linked_test_is_not_run():
    v, reason = verdict_for("test.a", [])
    assert v == "not-run" and "no check is linked" in reason


@pytest.mark.parametrize("outcome", ["skipped", "not-run"])
def test_only_skipped_or_unrun_evidence_is_not_run(outcome):
    v, reason = verdict_for("test.a", [result("e", outcome, ev("test.a")), result("c", "failed", ctl("test.a"))])
    assert v == "not-run" and "no check of this claim ran" in reason


def test_controls_alone_do_not_make_a_claim_run():
    assert verdict([result("c", "passed", ctl("test.a"))]) == "not-run"


def test_skipped_evidence_beside_passing_evidence_holds_and_is_mentioned():
    v, reason = verdict_for("test.a", [result("e1", "passed", ev("test.a")), result("e2", "skipped", ev("test.a")),
                                       result("c", "passed", ctl("test.a"))])
    assert v == "holds" and "1 skipped: e2" in reason


def test_tests_of_other_claims_do_not_count():
    assert verdict([result("e", "passed", ev("test.a")), result("c", "passed", ctl("test.a")),
                    result("x", "failed", ev("test.b"))]) == "holds"
    assert verdict([result("e", "passed", ev("test.a")), result("c", "passed", ctl("test.b"))]) == "inconclusive"


@pytest.mark.parametrize("shared_outcome, verdict_a, verdict_b",
                         [("failed", "fails", "inconclusive"), ("passed", "holds", "holds")])
def test_a_test_that_is_evidence_for_one_claim_and_control_for_another(shared_outcome, verdict_a, verdict_b):
    shared = result("shared", shared_outcome, ev("test.a"), ctl("test.b"))
    b_evidence = result("b_only", "passed", ev("test.b"))
    a_control = result("c_a", "passed", ctl("test.a"))
    records = aggregate([a_claim("test.a"), a_claim("test.b")], {t.nodeid: t for t in (shared, b_evidence, a_control)})
    assert [(r.claim.id, r.verdict) for r in records] == [("test.a", verdict_a), ("test.b", verdict_b)]
    assert [t.name for t in records[0].tests] == ["c_a", "shared"]
    assert [t.name for t in records[1].tests] == ["b_only", "shared"]  # sorted by node id


def test_control_evidence_is_kept_apart_from_the_claims_own_evidence():
    own = collect.CheckResult("checks/test_x.py::own", [ev("test.a")], "passed", 0.0, {"instances": 3})
    control = collect.CheckResult("checks/test_x.py::ctl", [ctl("test.a")], "passed", 0.0, {"wrong_answers": 161},
                                  breaks={"test.a": "one weight of the construction"})
    (record,) = aggregate([a_claim("test.a")], {t.nodeid: t for t in (own, control)})
    assert record.evidence() == {"own": {"instances": 3}}
    assert record.control_evidence() == {"ctl": {"wrong_answers": 161}}
    assert record.controls() == [{"test": "ctl", "breaks": "one weight of the construction", "outcome": "passed", "caught": True}]
    assert "wrong answers" not in headline(record) and "instances 3" in headline(record)


def test_aggregate_keeps_claim_order_sums_durations_and_collects_failures():
    tests = [result("z_pass", "passed", ev("test.a"), duration=1.5), result("a_fail", "failed", ev("test.a"),
             message="counterexample", duration=0.25), result("other", "passed", ev("test.c"))]
    records = aggregate([a_claim("test.b"), a_claim("test.a")], {t.nodeid: t for t in tests})
    assert [r.claim.id for r in records] == ["test.b", "test.a"]
    b, a = records
    assert (b.verdict, b.tests, b.duration_s) == ("not-run", [], 0.0)
    assert a.verdict == "fails" and a.duration_s == 1.75
    assert [t.name for t in a.tests] == ["a_fail", "z_pass"]
    assert a.failures() == [{"test": "a_fail", "outcome": "failed", "message": "counterexample"}]


@pytest.mark.parametrize(
    "expected, outcome, unexpected",
    [("holds", "passed", False), ("holds", "failed", True), ("fails", "failed", False), ("fails", "passed", True),
     ("inconclusive", "inconclusive", False), ("holds", "skipped", False), ("fails", "skipped", False)],
)
def test_a_verdict_is_unexpected_when_it_differs_from_the_expected_one_and_the_claim_ran(expected, outcome, unexpected):
    tests = {"t": result("t", outcome, ev("test.a")), "c": result("c", "passed", ctl("test.a"))}
    (record,) = aggregate([a_claim("test.a", expected)], tests)
    assert record.unexpected is unexpected


# ----------------------------------------------------------------------------- end to end
def run_reports(*args: str) -> subprocess.CompletedProcess:
    """``python -m reports ...`` in a fresh interpreter (a nested in-process pytest would change this process's
    hypothesis profile and could see this run's xdist worker state)."""
    env = {k: v for k, v in os.environ.items() if not k.startswith(("PYTEST_", "SSM_"))}
    return subprocess.run([sys.executable, "-m", "reports", *args], cwd=REPO_ROOT, env=env, capture_output=True,
                          text=True, timeout=300)


def check_single_claim_report(out: Path, claim_id: str) -> dict:
    document = json.loads((out / "claims.json").read_text(encoding="utf-8"))
    assert [c["id"] for c in document["claims"]] == [claim_id]  # only the selected claim
    (record,) = document["claims"]
    for field in ("id", "checked_as", "provenance", "verdict", "evidence", "duration_s"):
        assert field in record, field
    assert record["verdict"] == "holds", record["reason"]
    assert document["run"]["claims_selected"] == [claim_id]
    assert document["run"]["errors"] == []
    assert document["summary"]["holds"] == 1
    assert claim_id in (out / "report.md").read_text(encoding="utf-8")
    assert claim_id in (out / "report.html").read_text(encoding="utf-8")
    assert sorted(p.name for p in out.iterdir()) == [".ssm-report-manifest.json", "claims.json", "report.html", "report.md"]
    return record


def test_end_to_end_report_of_one_claim(tmp_path):
    proc = run_reports("--profile", "quick", "--claims", "model.shift-kernel", "--workers", "0", "--quiet",
                       "--out", str(tmp_path))
    assert proc.returncode == 0, proc.stderr[-3000:]
    record = check_single_claim_report(tmp_path, "model.shift-kernel")
    roles = sorted(r for t in record["tests"] for r in t["roles"])
    assert roles == ["control", "evidence", "evidence"]
    assert all(t["outcome"] == "passed" for t in record["tests"])
    assert any(t["examples"] for t in record["tests"]), "hypothesis example counts were not collected"


def test_end_to_end_report_of_one_claim_with_the_tiny_profile(tmp_path):
    proc = run_reports("--profile", "tiny", "--claims", "model.shift-kernel", "--workers", "0", "--quiet",
                       "--out", str(tmp_path))
    assert proc.returncode == 0, proc.stderr[-3000:]
    check_single_claim_report(tmp_path, "model.shift-kernel")


@pytest.mark.parametrize("stats", [
    "  - during generate phase (0.10 seconds):\n    - 7 passing examples, 1 failing examples, 0 invalid examples",  # < 6.16x
    "  - during generate phase (0.10 seconds):\n    - 7 passing, 1 failing, and 0 invalid test cases",  # 6.17x
])
def test_hypothesis_example_counts_are_read_from_either_statistics_format(stats):
    report = type("Report", (), {})()
    report._hypothesis_stats = stats + "\n  - during shrink phase (0.01 seconds):\n    - 2 passing, 3 failing, and 0 invalid test cases"
    assert collect._examples(report) == 13


@pytest.mark.parametrize("text", ["Falsifying example: f(x=1)", "Failing test case: f(x=1)"])
def test_hypothesis_counterexamples_are_recognised_in_either_wording(text):
    assert collect.is_hypothesis_counterexample(f"E   AssertionError\n{text}")
    assert not collect.is_hypothesis_counterexample("E   AssertionError: plain failure")


# ----------------------------------------------------------------------------- broken constructions, determinism, HTML
def load_document(out: Path) -> dict:
    return json.loads((out / "claims.json").read_text(encoding="utf-8"))


def test_an_injected_fault_flips_its_claim_to_fails_with_a_minimal_counterexample(tmp_path):
    proc = run_reports("--profile", "tiny", "--claims", "ar.outer-product.exact", "--inject-fault", "outer-product:0",
                       "--workers", "0", "--quiet", "--out", str(tmp_path))
    assert proc.returncode == 0, proc.stderr[-3000:]
    document = load_document(tmp_path)
    (record,) = document["claims"]
    assert record["verdict"] == "fails"
    assert document["run"]["faults_injected"] == {"outer-product": 0}
    assert any(is_hypothesis_counterexample(f["message"] or "") for f in record["failures"])
    for report in ("report.md", "report.html"):
        assert "broken on purpose" in (tmp_path / report).read_text(encoding="utf-8")


@pytest.mark.parametrize("fault, claims", [
    ("binary-query-first:3", ("ar.polylog.vocab", "ar.query-first.polylog")),  # |V| dead units
    ("binary-query-first:4", ("ar.query-first.polylog",)),  # query broadcast by a window as long as the sequence
    ("fixed-length-shift:2", ("copy.polylog.window-free",)),  # dead units growing with the length
    ("outer-product:3", ("ar.outer-product.polynomial",)),  # dead units growing like |V|^3
])
def test_an_injected_growth_fault_flips_its_growth_claims_to_fails(fault, claims, tmp_path):
    """The network stays exact but a resource grows where the claim says it does not: the claim fails."""
    proc = run_reports("--profile", "tiny", "--claims", *claims, "--inject-fault", fault, "--workers", "0", "--quiet",
                       "--out", str(tmp_path))
    assert proc.returncode == 0, proc.stderr[-3000:]
    verdicts = {c["id"]: (c["verdict"], c["reason"]) for c in load_document(tmp_path)["claims"]}
    assert all(v == "fails" for v, _ in verdicts.values()), verdicts


def test_every_growth_fault_is_listed():
    from constructions.mutation import fault_catalogue

    listed = "\n".join(fault_catalogue())
    for fault in ("binary-query-first:3", "binary-query-first:4", "fixed-length-shift:2", "outer-product:3"):
        assert fault in listed


def test_the_extraction_is_injectable_and_its_fault_flips_extract_topj_to_fails(tmp_path):
    listed = run_reports("--list-faults")
    assert listed.returncode == 0 and "extraction:0" in listed.stdout, listed.stdout
    proc = run_reports("--profile", "tiny", "--claims", "regression.extract-topJ", "--inject-fault", "extraction:0",
                       "--workers", "0", "--quiet", "--out", str(tmp_path))
    assert proc.returncode == 0, proc.stderr[-3000:]
    document = load_document(tmp_path)
    (record,) = document["claims"]
    assert record["verdict"] == "fails", record["reason"]
    assert document["run"]["faults_injected"] == {"extraction": 0}


def test_an_unknown_fault_is_a_usage_error(capsys):
    from reports.cli import main

    assert main(["--inject-fault", "no-such-construction:0"]) == 2
    assert "must be NAME:INDEX" in capsys.readouterr().err


def strip_timings(document: dict) -> dict:
    """The document without what may differ between two identical runs: timestamps and durations."""
    document = json.loads(json.dumps(document))
    document["run"].pop("started_at")
    document["run"].pop("duration_s")
    for claim in document["claims"]:
        claim.pop("duration_s")
        for test in claim["tests"]:
            test.pop("duration_s")
    return document


def test_same_profile_and_seed_give_the_same_claims_json_apart_from_timings(tmp_path):
    claims = ("ar.query-first.exact", "select.hard-selection-bound", "model.modes-agree")
    documents = []
    for run in ("first", "second"):
        proc = run_reports("--profile", "tiny", "--seed", "5", "--claims", *claims, "--workers", "0", "--quiet",
                           "--out", str(tmp_path / run))
        assert proc.returncode == 0, proc.stderr[-3000:]
        documents.append(strip_timings(load_document(tmp_path / run)))
    assert documents[0] == documents[1]


def test_html_report_has_every_claim_and_its_figures(tmp_path):
    from html.parser import HTMLParser

    proc = run_reports("--profile", "tiny", "--claims", "comparable.copying", "model.shift-kernel",
                       "--workers", "0", "--quiet", "--out", str(tmp_path))
    assert proc.returncode == 0, proc.stderr[-3000:]

    class Page(HTMLParser):
        def __init__(self):
            super().__init__()
            self.ids, self.images, self.links = set(), [], []

        def handle_starttag(self, tag, attrs):
            attrs = dict(attrs)
            if "id" in attrs:
                self.ids.add(attrs["id"])
            if tag == "img":
                self.images.append(attrs["src"])
            if tag == "a":
                self.links.append(attrs.get("href", ""))

    page = Page()
    page.feed((tmp_path / "report.html").read_text(encoding="utf-8"))
    document = load_document(tmp_path)
    for claim in document["claims"]:
        assert "claim-" + claim["id"].replace(".", "-").lower() in page.ids
    figures = [f for c in document["claims"] for f in c["figures"]]
    assert figures and len(page.images) == len(figures)
    assert all(src.startswith("data:image/png;base64,") for src in page.images)  # self-contained
    for link in page.links:
        if link.startswith("#"):
            assert link[1:] in page.ids, link
        else:
            assert (tmp_path / link).is_file(), link  # the SVG files beside the report


def test_strict_turns_an_unexpected_verdict_into_exit_1(tmp_path):
    proc = run_reports("--profile", "tiny", "--claims", "copy.fixed-length.exact", "--inject-fault", "fixed-length-shift:0",
                       "--workers", "0", "--quiet", "--strict", "--out", str(tmp_path))
    assert proc.returncode == 1, proc.stderr[-2000:]
    assert "unexpected verdicts for copy.fixed-length.exact" in proc.stderr


def test_xdist_workers_merge_to_the_same_verdicts_and_evidence_as_one_process(tmp_path):
    claims = ("model.shift-kernel", "ar.outer-product.polynomial", "select.shared-structure")
    documents = {}
    for workers in ("0", "2"):
        proc = run_reports("--profile", "tiny", "--claims", *claims, "--workers", workers, "--quiet",
                           "--out", str(tmp_path / workers))
        assert proc.returncode == 0, proc.stderr[-3000:]
        documents[workers] = strip_timings(load_document(tmp_path / workers))
    for one, many in zip(documents["0"]["claims"], documents["2"]["claims"]):
        assert (one["id"], one["verdict"], one["evidence"]) == (many["id"], many["verdict"], many["evidence"])
        assert [t["outcome"] for t in one["tests"]] == [t["outcome"] for t in many["tests"]]


def test_loadgroup_suffix_is_dropped_from_test_names():
    from reports.collect import XDIST_GROUP_SUFFIX

    grouped = "checks/test_experiment_fig_c1.py::test_two_layer[recall]@appendix-c"
    assert XDIST_GROUP_SUFFIX.sub("", grouped) == "checks/test_experiment_fig_c1.py::test_two_layer[recall]"
    plain = "checks/test_copying.py::test_x[a@b-1]"
    assert XDIST_GROUP_SUFFIX.sub("", plain) == plain


def test_drawing_figures_writes_each_as_png_and_svg_and_removes_nothing(tmp_path):
    """Old figures are removed by the swap of the report set, and only if the suite wrote them
    (tests/test_report_output.py); drawing only adds files to the new set's staging folder."""
    from reports.figures import FIGURE_PREFIX, draw_all

    folder = tmp_path / "figures"
    folder.mkdir()
    (folder / "old-figure.png").write_bytes(b"stale")
    spec = {"name": "fresh", "title": "t", "xlabel": "x", "ylabel": "y", "series": [{"label": "a", "x": [1, 2], "y": [1, 4]}]}
    document = {"claims": [{"id": "c", "evidence": {"test_x": {FIGURE_PREFIX + "fresh": spec}}}]}
    draw_all(document, tmp_path)
    assert sorted(p.name for p in folder.iterdir()) == ["fresh.png", "fresh.svg", "old-figure.png"]
    assert document["claims"][0]["figures"][0]["png"] == "figures/fresh.png"


@pytest.mark.parametrize("name", ["../escape", "sub/dir", ".hidden", ""])
def test_a_figure_name_that_is_not_one_plain_file_name_is_refused(name, tmp_path):
    from reports.figures import draw

    with pytest.raises(ValueError, match="one plain file name"):
        draw({"name": name, "series": [{"label": "a", "x": [1], "y": [1]}]}, tmp_path / "figures")
    assert not list(tmp_path.iterdir())
