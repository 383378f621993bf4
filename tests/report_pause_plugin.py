"""A pytest plugin for the interruption tests (``tests/test_report_output.py``), loaded into a report run
with ``PYTEST_PLUGINS=tests.report_pause_plugin``: when ``SSM_TEST_PAUSE_FILE`` names a file, the run's
first check writes it (the run's pid) and then sleeps, so a test can signal the run or start a second
one while the checks are running."""

from __future__ import annotations

import os
import time
from pathlib import Path

import pytest

PAUSE_FILE_ENV = "SSM_TEST_PAUSE_FILE"


@pytest.hookimpl(tryfirst=True)
def pytest_runtest_call(item):
    marker = os.environ.get(PAUSE_FILE_ENV)
    if marker:
        Path(marker).write_text(str(os.getpid()))
        # short sleeps: Python runs a signal's handler in the main thread between bytecodes, so a Ctrl-C the
        # kernel handed to another thread (torch's) is acted on within 0.05 s, not after one long sleep
        deadline = time.monotonic() + 300
        while time.monotonic() < deadline:
            time.sleep(0.05)
