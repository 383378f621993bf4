"""The report set in the output folder (reports/output.py, reports/lock.py): replaced as one unit, only the
suite's own files removed or overwritten, no link followed out of the folder, one run at a time, and a run
that is killed, interrupted, fails or collects nothing leaves the previous report whole.

Most tests drive the writer directly or call ``main`` with the check run replaced (no real checks); the
kill tests run a small writer in a subprocess that SIGKILLs itself at a chosen step of the write phase
(``SSM_REPORT_TEST_KILL_AT``), at every step in turn, or is killed from outside at random moments
while it pauses at each step (``SSM_REPORT_TEST_STEP_DELAY``). Four tests run ``python -m reports`` on
one tiny claim: Ctrl-C and a concurrent run, bad ``--workers``, and a kill during the swap.
"""

from __future__ import annotations

import json
import os
import random
import signal
import socket
import subprocess
import sys
import time
from pathlib import Path

import pytest

from reports import cli, lock
from reports.collect import CheckResult
from reports.output import (JOURNAL_NAME, KILL_AT_ENV, MANIFEST_NAME, STEP_DELAY_ENV, OutputError, ReportSet,
                            check_report_names, check_report_set)
from reports.runner import RunResult
from tests.report_pause_plugin import PAUSE_FILE_ENV

REPO_ROOT = Path(__file__).resolve().parent.parent

OLD = {"claims.json": "old claims", "report.md": "old md", "report.html": "old html",
       "figures/kept.png": "old kept png", "figures/gone.svg": "old gone svg"}
NEW = {"claims.json": "new claims", "report.md": "new md", "report.html": "new html",
       "figures/kept.png": "new kept png", "figures/fresh.png": "new fresh png"}
USER = {"notes.txt": "my notes", "figures/thesis.png": "my thesis figure", "verify/verify.json": "{}"}
IN_THE_WAY = {"figures/fresh.png": "the user's own fresh.png"}  # at a name the new set uses; not the suite's
OLD_STATE = {**{p: None for p in NEW}, **OLD, **IN_THE_WAY}
NEW_STATE = {**{p: None for p in OLD}, **NEW}


def write_files(root: Path, files: dict[str, str]) -> None:
    for path, text in files.items():
        (root / path).parent.mkdir(parents=True, exist_ok=True)
        (root / path).write_text(text)


def commit(out: Path, files: dict[str, str]) -> list[str]:
    with ReportSet(out) as new:
        write_files(new.path, files)
        return new.commit({"started_at": "test"})


def state(out: Path) -> dict[str, str | None]:
    """The report names of the old and the new set: their content, or None where absent."""
    return {p: (out / p).read_text() if (out / p).is_file() else None for p in sorted(OLD.keys() | NEW.keys())}


def everything(out: Path) -> dict[str, object]:
    """Every entry under ``out`` (hidden ones and links included): path -> bytes, link target or 'dir'."""
    entries = {}
    for p in sorted(out.rglob("*")):
        rel = p.relative_to(out).as_posix()
        entries[rel] = ("link", os.readlink(p)) if p.is_symlink() else "dir" if p.is_dir() else p.read_bytes()
    return entries


def old_folder(out: Path, in_the_way: bool = True) -> Path:
    """An output folder holding the old set (written by the suite), the user's files and, optionally,
    a user file at a name the new set uses."""
    out.mkdir(parents=True)
    commit(out, OLD)
    write_files(out, USER)
    if in_the_way:
        write_files(out, IN_THE_WAY)
    return out


def assert_user_files_survive(out: Path) -> None:
    for path, text in USER.items():
        assert (out / path).read_text() == text, path
    way = [p.read_text() for p in (out / "figures").glob("fresh*.png")]
    assert IN_THE_WAY["figures/fresh.png"] in way


def assert_no_leftovers(out: Path) -> None:
    """Nothing of an unfinished write: no staging folder, journal, temporary file or lock."""
    assert sorted(p.name for p in out.iterdir() if p.name.startswith(".")) == [MANIFEST_NAME]


def clean_env(**extra: str) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith(("PYTEST_", "SSM_"))}
    return {**env, **extra}


# ----------------------------------------------------------------------------- what a swap keeps and removes
def test_a_commit_replaces_the_set_keeps_the_users_files_and_records_the_new_set_in_the_manifest(tmp_path):
    out = old_folder(tmp_path / "out", in_the_way=False)
    notes = commit(out, NEW)
    assert state(out) == NEW_STATE  # figures/gone.svg, the old set's own, is removed
    assert all((out / p).read_text() == t for p, t in USER.items())
    assert check_report_set(out) == []
    manifest = json.loads((out / MANIFEST_NAME).read_text())
    assert sorted(manifest["files"]) == sorted(NEW)
    assert notes == []
    assert_no_leftovers(out)


def test_a_file_at_a_name_of_the_new_set_that_the_suite_did_not_write_is_kept_aside_not_overwritten(tmp_path):
    out = old_folder(tmp_path / "out")
    notes = commit(out, NEW)
    assert (out / "figures/fresh.png").read_text() == NEW["figures/fresh.png"]
    (aside,) = (out / "figures").glob("fresh.kept-*.png")
    assert aside.read_text() == IN_THE_WAY["figures/fresh.png"]
    assert any("fresh.png" in n and aside.name in n and "no record of writing it" in n for n in notes), notes


def test_a_folder_without_a_manifest_loses_nothing_its_report_files_are_kept_aside(tmp_path):
    """An older version wrote no manifest: nothing there counts as the suite's own."""
    out = tmp_path / "out"
    write_files(out, {"report.html": "legacy html", "figures/kept.png": "legacy png", "figures/old-run.png": "legacy other"})
    commit(out, NEW)
    assert state(out) | {"figures/gone.svg": None} == NEW_STATE
    assert [p.read_text() for p in out.glob("report.kept-*.html")] == ["legacy html"]
    assert [p.read_text() for p in (out / "figures").glob("kept.kept-*.png")] == ["legacy png"]
    assert (out / "figures/old-run.png").read_text() == "legacy other"  # not ours, not in the way: untouched


def test_an_old_figure_changed_since_the_suite_wrote_it_is_left_in_place(tmp_path):
    out = old_folder(tmp_path / "out", in_the_way=False)
    (out / "figures/gone.svg").write_text("annotated by hand")
    notes = commit(out, NEW)
    assert (out / "figures/gone.svg").read_text() == "annotated by hand"
    assert any("gone.svg" in n and "changed since this suite wrote it" in n for n in notes), notes
    assert check_report_set(out) == []  # the new set is whole; the changed file is not part of it


def test_a_manifest_listing_files_outside_the_report_set_cannot_make_the_suite_delete_them(tmp_path):
    import hashlib

    out = old_folder(tmp_path / "out", in_the_way=False)
    victim = tmp_path / "victim.txt"
    victim.write_text("precious")
    manifest = json.loads((out / MANIFEST_NAME).read_text())
    for path, text in (("../victim.txt", "precious"), ("notes.txt", USER["notes.txt"]), ("figures/../notes.txt", USER["notes.txt"])):
        manifest["files"][path] = {"sha256": hashlib.sha256(text.encode()).hexdigest(), "bytes": len(text)}
    (out / MANIFEST_NAME).write_text(json.dumps(manifest))
    commit(out, NEW)
    assert victim.read_text() == "precious"
    assert (out / "notes.txt").read_text() == USER["notes.txt"]


def test_a_symlinked_figures_folder_is_refused_and_its_target_untouched(tmp_path):
    out = old_folder(tmp_path / "out", in_the_way=False)
    elsewhere = tmp_path / "thesis"
    elsewhere.mkdir()
    (elsewhere / "thesis.png").write_text("my thesis figure")
    (elsewhere / "kept.png").write_text("a figure of mine that shares a name")
    for p in (out / "figures").iterdir():
        p.unlink()
    (out / "figures").rmdir()
    (out / "figures").symlink_to(elsewhere, target_is_directory=True)
    before = everything(elsewhere)
    with pytest.raises(OutputError, match=r"figures' is a symlink \(to .*thesis'\)"):
        check_report_names(out)
    with pytest.raises(OutputError, match="figures' is a symlink"):  # a link that appears during a run: the swap refuses too
        commit(out, NEW)
    assert everything(elsewhere) == before
    assert state(out) == {**OLD_STATE, "figures/kept.png": "a figure of mine that shares a name", "figures/gone.svg": None,
                          "figures/fresh.png": None}
    assert_no_leftovers(out)


@pytest.mark.parametrize("name", ["report.html", "claims.json", MANIFEST_NAME])
def test_a_symlink_at_a_report_files_name_is_refused_naming_it(name, tmp_path):
    out = tmp_path / "out"
    out.mkdir()
    (tmp_path / "mine").write_text("mine")
    (out / name).symlink_to(tmp_path / "mine")
    with pytest.raises(OutputError, match=f"{name}' is a symlink"):
        check_report_names(out)


def test_a_symlink_at_a_figures_name_is_moved_aside_and_never_written_through(tmp_path):
    out = old_folder(tmp_path / "out", in_the_way=False)
    target = tmp_path / "outside.png"
    target.write_text("outside the folder")
    (out / "figures/fresh.png").symlink_to(target)
    notes = commit(out, NEW)
    assert target.read_text() == "outside the folder"
    (aside,) = (out / "figures").glob("fresh.kept-*.png")
    assert aside.is_symlink() and aside.resolve() == target
    assert (out / "figures/fresh.png").read_text() == NEW["figures/fresh.png"]
    assert any("it is a symlink" in n for n in notes), notes


# ----------------------------------------------------------------------------- SIGKILL in the write phase
WRITER = r"""
import json, sys
from pathlib import Path
from reports import lock
from reports.output import ReportSet, recover
out, files = Path(sys.argv[1]), json.loads(sys.argv[2])
with lock.held(out) as held:
    print(held.stale_message() or "", *recover(out), sep="\n", flush=True)
    if files:
        with ReportSet(out) as new:
            for path, text in files.items():
                (new.path / path).parent.mkdir(exist_ok=True)
                (new.path / path).write_text(text)
            new.commit({"started_at": "the new run"})
"""


def writer(out: Path, files: dict[str, str], **env: str) -> subprocess.Popen:
    """A report run's write phase (lock, recovery, staging, commit) in a subprocess; ``files`` empty: recovery only."""
    return subprocess.Popen([sys.executable, "-c", WRITER, str(out), json.dumps(files)], cwd=REPO_ROOT,
                            env=clean_env(**env), stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)


def finish(proc: subprocess.Popen) -> tuple[int, str, str]:
    out, err = proc.communicate(timeout=60)
    return proc.returncode, out, err


def recover_in_a_new_run(out: Path) -> str:
    rc, stdout, stderr = finish(writer(out, {}))
    assert rc == 0, stderr
    return stdout


def test_sigkill_at_every_step_of_the_write_phase_leaves_the_old_or_the_new_set_never_a_mix(tmp_path):
    """Step n = the n-th mutating step (staging writes, journal, each rename and removal, manifest, clean-up);
    every step is killed in turn, so every point between two system calls that change the folder is tried."""
    outcomes = []
    for n in range(100):
        out = old_folder(tmp_path / f"kill-{n}")
        rc, _, err = finish(writer(out, NEW, **{KILL_AT_ENV: str(n)}))
        if rc == 0:  # n is past the last step: the write completed
            assert state(out) == NEW_STATE
            break
        assert rc == -signal.SIGKILL, err
        swapping = (out / JOURNAL_NAME).exists()
        if not swapping:  # no journal: the folder already holds one whole set
            assert state(out) in (OLD_STATE, NEW_STATE), n
        notes = recover_in_a_new_run(out)
        assert "took over the lock" in notes  # the killed run never released it
        assert state(out) in (OLD_STATE, NEW_STATE), n
        assert check_report_set(out) == [], n
        assert_user_files_survive(out)
        assert_no_leftovers(out)
        outcomes.append((swapping, state(out) == NEW_STATE))
    else:
        pytest.fail("the write did not complete within 100 steps")
    became_new = [new for _, new in outcomes]
    assert became_new == sorted(became_new), "once committed, a later kill must not bring the old set back"
    assert not became_new[0] and became_new[-1]
    assert any(swapping for swapping, _ in outcomes), "no kill fell inside the swap"
    assert all(new for swapping, new in outcomes if swapping), "a swap interrupted after its journal is rolled forward"


def test_sigkill_while_completing_an_interrupted_swap_is_completed_by_the_run_after(tmp_path):
    for m in range(100):
        out = old_folder(tmp_path / f"kill-{m}")
        rc, _, _ = finish(writer(out, NEW, **{KILL_AT_ENV: "install report.md"}))
        assert rc == -signal.SIGKILL and (out / JOURNAL_NAME).exists()
        rc, _, err = finish(writer(out, {}, **{KILL_AT_ENV: str(m)}))  # the next run, killed while it completes the swap
        notes = recover_in_a_new_run(out)
        assert state(out) == NEW_STATE, (m, notes)
        assert check_report_set(out) == []
        assert_user_files_survive(out)
        assert_no_leftovers(out)
        if rc == 0:
            break
        assert rc == -signal.SIGKILL, err
    else:
        pytest.fail("the recovery did not complete within 100 steps")
    assert m > 3  # several steps of the recovery were killed


def test_sigkill_from_outside_at_random_moments_leaves_the_old_or_the_new_set(tmp_path):
    """The writer pauses 20 ms at each step (staging, renames, removals), so a kill at a random moment
    lands anywhere, also inside a step; seeded, and the property holds at every moment."""
    rng = random.Random(15)
    seen = set()
    for trial in range(10):
        out = old_folder(tmp_path / f"trial-{trial}")
        proc = writer(out, NEW, **{STEP_DELAY_ENV: "0.02"})
        time.sleep(rng.uniform(0.0, 0.8))
        proc.kill()
        finish(proc)
        recover_in_a_new_run(out)
        assert state(out) in (OLD_STATE, NEW_STATE), trial
        assert check_report_set(out) == []
        assert_user_files_survive(out)
        assert_no_leftovers(out)
        seen.add(state(out) == NEW_STATE)
    assert seen == {False, True}, "the kill moments should cover both sides of the commit"


# ----------------------------------------------------------------------------- the lock
def test_a_second_writer_into_a_locked_folder_is_refused_naming_the_holder(tmp_path):
    with lock.held(tmp_path):
        with pytest.raises(lock.OutputBusyError) as refused:
            lock.acquire(tmp_path)
    message = str(refused.value)
    assert "another report run is writing to" in message
    assert f"pid {os.getpid()} on host {socket.gethostname()}" in message
    assert not (tmp_path / lock.LOCK_NAME).exists()  # released and removed
    lock.release(lock.acquire(tmp_path))  # free again


def dead_pid() -> int:
    proc = subprocess.Popen([sys.executable, "-c", "pass"])
    proc.wait()
    return proc.pid


def test_a_stale_lock_of_a_dead_run_is_taken_over_with_a_message(tmp_path):
    pid = dead_pid()
    (tmp_path / lock.LOCK_NAME).write_text(json.dumps({"pid": pid, "host": socket.gethostname(),
                                                       "started_at": "2025-01-01T00:00:00+00:00", "command": "python -m reports"}))
    with lock.held(tmp_path) as held:
        message = held.stale_message()
        assert json.loads((tmp_path / lock.LOCK_NAME).read_text())["pid"] == os.getpid()
    assert "took over the lock" in message and f"pid {pid} on host" in message and "2025-01-01" in message
    assert f"pid {pid} is no longer running" in message
    assert not (tmp_path / lock.LOCK_NAME).exists()


def test_a_symlinked_lock_file_is_an_error_naming_it(tmp_path):
    (tmp_path / "elsewhere").write_text("x")
    (tmp_path / lock.LOCK_NAME).symlink_to(tmp_path / "elsewhere")
    with pytest.raises(OutputError, match=r"ssm-report.lock' is a symlink"):
        lock.acquire(tmp_path)
    assert (tmp_path / "elsewhere").read_text() == "x"


# ----------------------------------------------------------------------------- the command line, check run replaced
FIGURE = {"name": "shift", "title": "t", "xlabel": "x", "ylabel": "y", "series": [{"label": "a", "x": [1, 2], "y": [1, 4]}]}


def fake_run(code: int = 0, *, errors=(), interrupted=False, figure: dict | None = None):
    """A stand-in for ``run_checks``: a RunResult as pytest would have given it, without running checks."""
    def run_checks(options):
        evidence = {f"figure:{figure['name']}": figure} if figure else {}
        results = {"checks/test_x.py::test_x": CheckResult("checks/test_x.py::test_x", [("model.shift-kernel", "evidence")],
                                                           "passed", 0.0, evidence)}
        return RunResult(options, results, code, "2025-01-01T00:00:00+00:00", 0.0, list(errors), interrupted)
    return run_checks


def run_main(monkeypatch, out: Path, run_checks) -> int:
    monkeypatch.setattr(cli, "run_checks", run_checks)
    return cli.main(["--claims", "model.shift-kernel", "--profile", "tiny", "--workers", "0", "--quiet", "--out", str(out)])


def reported_folder(tmp_path: Path, monkeypatch) -> Path:
    """An output folder with a report written by the command line (one figure) and the user's files."""
    out = tmp_path / "out"
    assert run_main(monkeypatch, out, fake_run(figure=FIGURE)) == 0
    write_files(out, USER)
    return out


def test_a_completed_run_replaces_its_own_figures_and_keeps_the_users(tmp_path, monkeypatch):
    out = reported_folder(tmp_path, monkeypatch)
    assert sorted(p.name for p in (out / "figures").iterdir()) == ["shift.png", "shift.svg", "thesis.png"]
    assert run_main(monkeypatch, out, fake_run(figure={**FIGURE, "name": "other"})) == 0
    assert sorted(p.name for p in (out / "figures").iterdir()) == ["other.png", "other.svg", "thesis.png"]
    assert all((out / p).read_text() == t for p, t in USER.items())
    assert check_report_set(out) == []
    assert_no_leftovers(out)


def raises(exception):
    def run_checks(options):
        raise exception
    return run_checks


@pytest.mark.parametrize("run_checks, code, said", [
    (fake_run(2, interrupted=True, errors=["pytest stopped with exit code 2"]), 130, "interrupted while the checks ran"),
    (raises(KeyboardInterrupt), 130, "interrupted: the previous report"),
    (fake_run(4, errors=["pytest stopped with exit code 4:\nERROR: usage: ..."]), 3, "exit code 4"),
    (fake_run(3, errors=["INTERNALERROR> boom"]), 3, "INTERNALERROR> boom"),
    (fake_run(2, errors=["checks/test_x.py: ImportError"]), 3, "ImportError"),
    (fake_run(5), 3, "no check was collected for the selected claims"),
    (raises(RuntimeError("a bug")), 3, "a bug"),
], ids=["ctrl-c-in-pytest", "ctrl-c-outside-pytest", "usage-error", "internal-error", "collection-error", "nothing-collected",
        "crash"])
def test_a_run_that_does_not_complete_leaves_the_previous_report_whole(run_checks, code, said, tmp_path, monkeypatch, capsys):
    out = reported_folder(tmp_path, monkeypatch)
    before = everything(out)
    capsys.readouterr()
    assert run_main(monkeypatch, out, run_checks) == code
    err = capsys.readouterr().err
    assert said in err and f"the previous report in {str(out)!r} is left as it was" in err, err
    assert everything(out) == before


@pytest.mark.parametrize("where, exception, code", [("draw_all", KeyboardInterrupt, 130), ("to_markdown", RuntimeError("render bug"), 3)])
def test_ctrl_c_or_a_crash_while_the_report_is_written_leaves_the_previous_report_whole(where, exception, code, tmp_path,
                                                                                         monkeypatch, capsys):
    out = reported_folder(tmp_path, monkeypatch)
    before = everything(out)

    def broken(*args, **kwargs):
        raise exception

    monkeypatch.setattr(cli, where, broken)
    assert run_main(monkeypatch, out, fake_run(figure=FIGURE)) == code
    assert "left as it was" in capsys.readouterr().err
    assert everything(out) == before


def test_a_run_into_a_folder_another_run_holds_stops_before_the_checks_with_exit_2(tmp_path, monkeypatch, capsys):
    out = reported_folder(tmp_path, monkeypatch)
    before = everything(out)
    with lock.held(out):
        assert run_main(monkeypatch, out, raises(AssertionError("the checks must not run"))) == 2
        assert everything(out) | {lock.LOCK_NAME: None} == before | {lock.LOCK_NAME: None}
    err = capsys.readouterr().err
    assert f"error: another report run is writing to {str(out)!r} (pid {os.getpid()}" in err


def test_a_symlinked_figures_folder_is_a_command_line_error_before_the_checks_run(tmp_path, monkeypatch, capsys):
    out, elsewhere = tmp_path / "out", tmp_path / "elsewhere"
    out.mkdir()
    elsewhere.mkdir()
    (elsewhere / "thesis.png").write_text("mine")
    (out / "figures").symlink_to(elsewhere, target_is_directory=True)
    assert run_main(monkeypatch, out, raises(AssertionError("the checks must not run"))) == 2
    assert "figures' is a symlink" in capsys.readouterr().err
    assert everything(elsewhere) == {"thesis.png": b"mine"}


def test_a_journal_that_cannot_be_read_stops_the_run_with_exit_2_naming_it_and_changes_nothing(tmp_path, monkeypatch, capsys):
    out = reported_folder(tmp_path, monkeypatch)
    (out / JOURNAL_NAME).write_text('{"format": "ssm-report-swap/1", "staging": "../elsewhere"')
    before = everything(out)
    assert run_main(monkeypatch, out, raises(AssertionError("the checks must not run"))) == 2
    err = capsys.readouterr().err
    assert f"{str(out / JOURNAL_NAME)!r} records an interrupted swap of the report set but cannot be read" in err
    assert everything(out) == before


# ----------------------------------------------------------------------------- python -m reports, for real
def report_command(out: Path, *extra: str) -> list[str]:
    return [sys.executable, "-m", "reports", "--profile", "tiny", "--claims", "model.shift-kernel", "--workers", "0",
            "--quiet", "--out", str(out), *extra]


def _signals_as_from_a_shell() -> None:
    """In the child before exec: Ctrl-C unblocked and at its default, as a command started from a shell has it
    (a child inherits its parent's signal mask and ignored signals, and a pytest-xdist worker's are not a
    user's: two CI runs saw the run outlive its SIGINT by 120 s, never a run outside xdist)."""
    signal.pthread_sigmask(signal.SIG_SETMASK, [])
    signal.signal(signal.SIGINT, signal.SIG_DFL)


def test_ctrl_c_during_the_checks_keeps_the_old_report_and_a_concurrent_run_is_refused_at_once(tmp_path):
    out = old_folder(tmp_path / "out")
    before = everything(out)
    paused = tmp_path / "paused"
    first = subprocess.Popen(report_command(out), cwd=REPO_ROOT, stderr=subprocess.PIPE, text=True,
                             env=clean_env(PYTEST_PLUGINS="tests.report_pause_plugin", **{PAUSE_FILE_ENV: str(paused)}),
                             preexec_fn=_signals_as_from_a_shell)
    try:
        deadline = time.monotonic() + 240
        while not paused.exists():
            assert first.poll() is None, first.communicate()[1][-3000:]
            assert time.monotonic() < deadline, "the first run never reached its checks"
            time.sleep(0.1)
        second = subprocess.run(report_command(out), cwd=REPO_ROOT, env=clean_env(), capture_output=True, text=True, timeout=300)
        assert second.returncode == 2, second.stderr[-3000:]
        assert f"another report run is writing to {str(out)!r} (pid {first.pid} on host {socket.gethostname()}" in second.stderr
        first.send_signal(signal.SIGINT)
        _, err = first.communicate(timeout=120)
    finally:
        if first.poll() is None:
            first.kill()
            first.communicate()
    assert first.returncode == 130, err[-3000:]
    assert f"interrupted while the checks ran: the previous report in {str(out)!r} is left as it was" in err
    assert everything(out) == before


def test_a_run_with_bad_workers_leaves_the_previous_report_whole(tmp_path):
    out = old_folder(tmp_path / "out")
    before = everything(out)
    proc = subprocess.run(report_command(out, "--workers", "abc"), cwd=REPO_ROOT, env=clean_env(), capture_output=True,
                          text=True, timeout=300)
    assert proc.returncode in (2, 3), proc.stderr[-3000:]  # 2 once the command line checks --workers itself
    assert everything(out) == before


def test_a_report_run_killed_during_its_swap_is_completed_by_the_next_run(tmp_path, monkeypatch, capsys):
    out = old_folder(tmp_path / "out")
    killed = subprocess.run(report_command(out), cwd=REPO_ROOT, env=clean_env(**{KILL_AT_ENV: "install report.md"}),
                            capture_output=True, text=True, timeout=300)
    assert killed.returncode == -signal.SIGKILL, killed.stderr[-3000:]
    assert "model.shift-kernel" in (out / "claims.json").read_text() and (out / "report.html").read_text() == OLD["report.html"]
    assert check_report_set(out) == [f"a swap of the report set is in progress or was interrupted ({JOURNAL_NAME} exists)"]
    assert run_main(monkeypatch, out, fake_run(5)) == 3  # the next run completes the swap first, then collects nothing
    err = capsys.readouterr().err
    assert "took over the lock" in err and "completed the swap of the report set" in err
    assert check_report_set(out) == []
    assert "model.shift-kernel" in (out / "report.html").read_text()
    assert not list((out / "figures").glob("[gk]*"))  # the old set's figures (this claim draws none) went with the swap
    assert_user_files_survive(out)
    assert_no_leftovers(out)
