"""Run the checks with pytest (optionally across processes with xdist) and collect their results."""

from __future__ import annotations

import contextlib
import io
import os
import sys
import time
from dataclasses import dataclass, field
from datetime import datetime, timezone
from pathlib import Path

import pytest

from constructions.mutation import FAULTS_ENV

from .collect import CheckResult, Collector

REPO_ROOT = Path(__file__).resolve().parent.parent
CHECKS_DIR = REPO_ROOT / "checks"


@dataclass
class RunOptions:
    profile: str = "quick"
    device: str = "cpu"
    claims: list[str] | None = None  # None: every claim
    seed: int | None = None  # None: derandomized hypothesis, as in CI
    workers: str = "auto"
    quiet: bool = False
    faults: dict[str, int] = field(default_factory=dict)  # constructions broken on purpose

    def pytest_args(self) -> list[str]:
        args = [
            str(CHECKS_DIR), "--rootdir", str(REPO_ROOT), "-p", "no:cacheprovider", "-o", "addopts=",
            "-q", "--tb=short", "-W", "ignore", "--suite-profile", self.profile, "--device", self.device, "-n", str(self.workers),
            # as pyproject's addopts (cleared above): xdist_group marks keep a module's cached models on one worker
            "--dist", "loadgroup",
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
    old_cwd, old_faults = os.getcwd(), os.environ.get(FAULTS_ENV)
    os.environ[FAULTS_ENV] = ",".join(f"{name}:{index}" for name, index in options.faults.items())
    try:
        os.chdir(REPO_ROOT)  # conftest and plugin discovery relative to the repository
        with contextlib.redirect_stdout(pytest_output):
            code = int(pytest.main(options.pytest_args(), plugins=[collector]))
    finally:
        os.chdir(old_cwd)
        if old_faults is None:
            os.environ.pop(FAULTS_ENV, None)
        else:
            os.environ[FAULTS_ENV] = old_faults
    errors = collector.collection_errors + collector.internal_errors
    if code not in (pytest.ExitCode.OK, pytest.ExitCode.TESTS_FAILED, pytest.ExitCode.NO_TESTS_COLLECTED) and not errors:
        errors.append(f"pytest stopped with exit code {code}:\n{pytest_output.getvalue()[-3000:]}")
    return RunResult(options, collector.results, code, started_at, time.monotonic() - start, errors, collector.interrupted)
