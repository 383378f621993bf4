"""Progress lines of trained models (training/progress.py) reach the report's stream through the
collector's follower (reports/collect.py), from any process, and a plain run stays quiet."""

from __future__ import annotations

import io
import subprocess
import sys

from reports.collect import Collector
from training.progress import PROGRESS_ENV, say


def test_say_appends_one_whitespace_normalised_line_per_call(tmp_path, monkeypatch):
    path = tmp_path / "progress.log"
    monkeypatch.setenv(PROGRESS_ENV, str(path))
    say("recall size 5 seed 0 ssm2-fnn2: trained,\n 300 steps")
    say("copy size 4 seed 1 transformer: from the disk cache")
    assert path.read_text().splitlines() == ["recall size 5 seed 0 ssm2-fnn2: trained, 300 steps",
                                             "copy size 4 seed 1 transformer: from the disk cache"]


def test_say_does_nothing_without_the_variable(tmp_path, monkeypatch):
    monkeypatch.delenv(PROGRESS_ENV, raising=False)
    monkeypatch.chdir(tmp_path)
    say("a line")
    assert list(tmp_path.iterdir()) == []


def test_the_collector_prints_lines_another_process_appends_and_the_rest_when_stopped(tmp_path):
    path = tmp_path / "progress.log"
    path.write_text("")
    stream = io.StringIO()
    collector = Collector(stream)
    collector.follow(str(path), interval_s=0.05)
    code = ("import sys; sys.path.insert(0, sys.argv[1]); from training.progress import say; "
            "[say(f'model {i}') for i in range(3)]")
    env = {PROGRESS_ENV: str(path)}
    subprocess.run([sys.executable, "-c", code, str(__import__("pathlib").Path(__file__).parents[1])], env=env,
                   check=True, timeout=60)
    collector.stop_following()
    lines = [line.strip() for line in stream.getvalue().splitlines()]
    assert lines == ["training: model 0", "training: model 1", "training: model 2"]
    collector.stop_following()  # a second stop is a no-op
