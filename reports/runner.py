"""Run the checks with pytest (optionally across processes with xdist) and collect their results."""

from __future__ import annotations

import contextlib
import io
import os
import sys
import tempfile
import time
from dataclasses import dataclass, field
from datetime import datetime, timezone

import pytest

from constructions.mutation import FAULTS_ENV
from training.progress import PROGRESS_ENV
from training.result_cache import CACHE_ENV

from .collect import CheckResult, Collector
from .locations import CHECKS_DIR, ROOT as REPO_ROOT

#: the claims plugin, by its module name: the name its ``pytest11`` entry point is registered under too
#: (pyproject.toml), so that ``-p``, the entry point and the checkout's conftest.py register it once
PLUGIN = "claims.pytest_plugin"


@dataclass
class RunOptions:
    profile: str = "quick"
    device: str = "cpu"
    claims: list[str] | None = None  # None: every claim
    seed: int | None = None  # None: derandomized hypothesis, as in CI
    workers: str = "auto"
    quiet: bool = False
    faults: dict[str, int] = field(default_factory=dict)  # constructions broken on purpose
    training_cache: str | None = None  # directory of the trained-results cache (training/result_cache.py); None: none

    def pytest_args(self) -> list[str]:
        """The whole pytest configuration of a report run, on the command line: the same in a source
        checkout and an installed package (pyproject.toml's [tool.pytest.ini_options] is not in a wheel).
        ``-c /dev/null`` keeps any configuration file found above the package (site-packages inside
        someone's project) out; the plugin comes by name (it registers the markers), conftest files
        are looked up only from ``checks/`` on."""
        args = [
            str(CHECKS_DIR), "--rootdir", str(REPO_ROOT), "-c", os.devnull, "--confcutdir", str(CHECKS_DIR),
            "-p", PLUGIN, "-p", "no:cacheprovider",
            "-q", "--tb=short", "-W", "ignore", "--suite-profile", self.profile, "--device", self.device, "-n", str(self.workers),
            # xdist_group marks keep a module's cached models on one worker
            "--dist", "loadgroup", "--no-loadscope-reorder",  # the training groups first (claims/pytest_plugin.py)
        ]
        if self.seed is not None:
            args += ["--suite-seed", str(self.seed)]
        if self.claims:
            args += ["--claims", ",".join(self.claims)]
        return args


@dataclass
class RunResult:
    options: RunOptions
    results: dict[str, CheckResult]
    pytest_exit_code: int
    started_at: str
    duration_s: float
    errors: list[str] = field(default_factory=list)
    interrupted: bool = False  # Ctrl-C stopped the checks: the results are partial

    @property
    def reportable(self) -> bool:
        """Whether the run may replace a report: it ran to the end, without errors, and checked something."""
        return not self.interrupted and not self.errors and self.pytest_exit_code in (pytest.ExitCode.OK, pytest.ExitCode.TESTS_FAILED)


def run_checks(options: RunOptions) -> RunResult:
    collector = Collector(None if options.quiet else sys.stderr)
    started_at = datetime.now(timezone.utc).isoformat(timespec="seconds")
    start = time.monotonic()
    pytest_output = io.StringIO()
    settings = {FAULTS_ENV: ",".join(f"{name}:{index}" for name, index in options.faults.items())}
    if options.training_cache:  # else the caller's SSM_SUITE_TRAINING_CACHE, if any, holds
        settings[CACHE_ENV] = options.training_cache
    progress = None
    if not options.quiet:  # one line per trained model, from every worker (training/progress.py)
        handle, progress = tempfile.mkstemp(prefix="ssm-suite-progress-", suffix=".log")
        os.close(handle)
        settings[PROGRESS_ENV] = progress
        collector.follow(progress)
    old = {name: os.environ.get(name) for name in settings}
    os.environ.update(settings)
    try:  # every path is absolute: the run stays in the current folder (never inside site-packages)
        with contextlib.redirect_stdout(pytest_output):
            code = int(pytest.main(options.pytest_args(), plugins=[collector]))
    finally:
        collector.stop_following()
        if progress is not None:
            with contextlib.suppress(OSError):
                os.unlink(progress)  # the temporary file this run made
        for name, value in old.items():
            if value is None:
                os.environ.pop(name, None)
            else:
                os.environ[name] = value
    errors = collector.collection_errors + collector.internal_errors
    if code not in (pytest.ExitCode.OK, pytest.ExitCode.TESTS_FAILED, pytest.ExitCode.NO_TESTS_COLLECTED) and not errors:
        errors.append(f"pytest stopped with exit code {code}:\n{pytest_output.getvalue()[-3000:]}")
    return RunResult(options, collector.results, code, started_at, time.monotonic() - start, errors, collector.interrupted)
