"""``--dist loadgroup`` must keep an ``xdist_group`` on one worker: the training checks share trained
models within a module's group, and the quick report's time depends on it. With pytest 9.2 and
pytest-xdist 3.8 the grouping silently stopped (pytest-dev/pytest-xdist#1386); this test catches that."""

from __future__ import annotations

import os
import re
import subprocess
import sys


def test_loadgroup_keeps_a_group_on_one_worker(tmp_path):
    (tmp_path / "test_grouped.py").write_text(
        "import pytest\n"
        "pytestmark = pytest.mark.xdist_group('together')\n"
        "@pytest.mark.parametrize('i', range(6))\n"
        "def test_member(i):\n"
        "    pass\n")
    env = {k: v for k, v in os.environ.items() if not k.startswith(("PYTEST_", "SSM_"))}
    proc = subprocess.run([sys.executable, "-m", "pytest", "-n", "2", "--dist", "loadgroup", "-v", "-p", "no:cacheprovider",
                           "--rootdir", str(tmp_path), "-c", os.devnull, str(tmp_path)],
                          cwd=tmp_path, env=env, capture_output=True, text=True, timeout=120)
    assert proc.returncode == 0, proc.stdout[-2000:] + proc.stderr[-2000:]
    workers = set(re.findall(r"\[(gw\d+)\].*PASSED", proc.stdout))
    assert len(workers) == 1, f"the group ran on {sorted(workers)}:\n{proc.stdout[-2000:]}"
