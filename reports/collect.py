"""A pytest plugin that gathers per-test outcomes, durations and evidence during a report run.

It works the same in-process and under ``pytest -n auto``: xdist hands every worker's test reports
to the controller, and a report carries the test's ``user_properties`` (claim links and evidence),
so the controller sees everything without shared files.
"""

from __future__ import annotations

import re
import sys
import threading
import time
from dataclasses import dataclass, field
from typing import TextIO

import pytest

from claims.evidence import BREAKS_KEY, CLAIMS_KEY, EVIDENCE_KEY, INCONCLUSIVE_KEY

MESSAGE_LIMIT = 4000


#: ``--dist loadgroup`` reports a grouped test as ``<nodeid>@<group>``; the report names the test itself
XDIST_GROUP_SUFFIX = re.compile(r"@[\w.-]+$")


@dataclass
class CheckResult:
    nodeid: str
    links: list[tuple[str, str]] = field(default_factory=list)
    outcome: str = "not-run"  # passed failed error skipped inconclusive xfailed xpassed
    duration_s: float = 0.0
    evidence: dict = field(default_factory=dict)
    message: str | None = None
    examples: int | None = None  # hypothesis examples run (None: not a hypothesis test)
    breaks: dict = field(default_factory=dict)  # claim id -> what of its own object this control breaks

    @property
    def name(self) -> str:
        return self.nodeid.split("::", 1)[-1]

    def to_dict(self) -> dict:
        return {"test": self.nodeid, "outcome": self.outcome, "duration_s": round(self.duration_s, 3),
                "roles": sorted({role for _, role in self.links}), "breaks": self.breaks, "examples": self.examples,
                "evidence": self.evidence, "message": self.message}


#: how hypothesis introduces its shrunk example: "Falsifying example" before 6.16x, "Failing test case" since
COUNTEREXAMPLE_MARKERS = ("Falsifying example", "Failing test case")


def is_hypothesis_counterexample(text: str) -> bool:
    """Whether ``text`` carries hypothesis's report of a minimal failing example (any hypothesis version)."""
    return any(marker in text for marker in COUNTEREXAMPLE_MARKERS)


def _message(report) -> str:
    """The failure text, object addresses scrubbed (a report must not differ between identical runs)."""
    text = re.sub(r" at 0x[0-9a-fA-F]+", "", report.longreprtext or "")
    if is_hypothesis_counterexample(text):  # keep hypothesis's minimal example and the assertion
        keep = [ln for ln in text.splitlines() if ln.startswith("E ") or is_hypothesis_counterexample(ln)]
        text = "\n".join(keep) or text
    return text if len(text) <= MESSAGE_LIMIT else text[:MESSAGE_LIMIT] + "\n..."


def _examples(report) -> int | None:
    """Examples hypothesis ran, from the statistics its pytest plugin attaches to the report."""
    stats = report.__dict__.get("_hypothesis_stats")
    if not stats:
        return None
    return sum(int(a) + int(b) for a, b in re.findall(r"(\d+) passing(?: examples?)?, (\d+) failing", stats))


def _skip_reason(report) -> str:
    longrepr = report.longrepr
    if isinstance(longrepr, tuple) and len(longrepr) == 3:
        return str(longrepr[2]).removeprefix("Skipped: ")
    return str(longrepr)


class Collector:
    def __init__(self, stream: TextIO | None = sys.stderr):
        self.results: dict[str, CheckResult] = {}
        self.stream = stream
        self.total: int | None = None
        self.finished = 0
        self.started = time.monotonic()
        self.collection_errors: list[str] = []
        self.internal_errors: list[str] = []
        self.interrupted = False  # Ctrl-C (KeyboardInterrupt) stopped the run
        self._follower: threading.Thread | None = None  # prints the trained models' progress (follow)
        self._stop_following = threading.Event()

    # ----------------------------------------------------------------- hooks
    def pytest_collection_finish(self, session):
        if not hasattr(session.config, "workerinput"):
            self.total = len(session.items)
            self._say(f"collected {self.total} checks")

    @pytest.hookimpl(optionalhook=True)
    def pytest_xdist_node_collection_finished(self, node, ids):
        if self.total is None:
            self.total = len(ids)
            self._say(f"collected {self.total} checks on each of the xdist workers")

    def pytest_collectreport(self, report):
        if report.failed:
            self.collection_errors.append(f"{report.nodeid}: {report.longreprtext[:MESSAGE_LIMIT]}")

    def pytest_keyboard_interrupt(self, excinfo):
        self.interrupted = True

    def pytest_internalerror(self, excrepr):
        self.internal_errors.append(str(excrepr)[:MESSAGE_LIMIT])

    def pytest_runtest_logreport(self, report):
        nodeid = XDIST_GROUP_SUFFIX.sub("", report.nodeid)
        result = self.results.setdefault(nodeid, CheckResult(nodeid))
        props = dict(report.user_properties)
        result.links = [tuple(link) for link in props.get(CLAIMS_KEY, result.links)]
        result.evidence = dict(props.get(EVIDENCE_KEY, result.evidence))
        result.breaks = dict(props.get(BREAKS_KEY, result.breaks))
        result.duration_s += report.duration
        if report.when == "setup":
            if report.failed:
                result.outcome, result.message = "error", _message(report)
            elif report.skipped:
                result.outcome, result.message = "skipped", _skip_reason(report)
        elif report.when == "call":
            if hasattr(report, "wasxfail"):
                result.outcome = "xfailed" if report.skipped else "xpassed"
                result.message = _message(report) if report.skipped else report.wasxfail
            elif report.passed:
                result.outcome = "passed"
            elif report.failed:
                strict_xpass = "XPASS(strict)" in (report.longreprtext or "")
                result.outcome = "xpassed" if strict_xpass else "failed"
                result.message = _message(report)
            elif INCONCLUSIVE_KEY in result.evidence:
                result.outcome, result.message = "inconclusive", result.evidence[INCONCLUSIVE_KEY]
            else:
                result.outcome, result.message = "skipped", _skip_reason(report)
        elif report.when == "teardown":
            if report.failed and result.outcome != "failed":
                result.outcome, result.message = "error", _message(report)
            result.examples = _examples(report)
            self.finished += 1
            self._progress(result)

    # -------------------------------------------------------------- progress
    def follow(self, path: str, interval_s: float = 0.5) -> None:
        """Print the lines appended to ``path`` (the trained models' progress, :mod:`training.progress`)
        as they come, from a background thread, until :meth:`stop_following`."""
        stop = self._stop_following

        def run():
            offset, pending = 0, ""
            while True:
                stopping = stop.wait(interval_s)
                try:
                    with open(path, encoding="utf-8", errors="replace") as stream:
                        stream.seek(offset)
                        chunk = stream.read()
                        offset = stream.tell()
                except OSError:
                    chunk = ""
                pending += chunk
                *lines, pending = pending.split("\n")
                for line in lines:
                    self._say(f"        training: {line}")
                if stopping:
                    return

        self._follower = threading.Thread(target=run, name="training-progress", daemon=True)
        self._follower.start()

    def stop_following(self) -> None:
        """Print what is left of the followed file and stop following it (no-op when not following)."""
        if self._follower is not None:
            self._stop_following.set()
            self._follower.join(timeout=5)
            self._follower = None

    def _say(self, line: str) -> None:
        if self.stream is not None:
            print(line, file=self.stream, flush=True)

    def _progress(self, result: CheckResult) -> None:
        elapsed = time.monotonic() - self.started
        total = f"/{self.total}" if self.total else ""
        claims = ",".join(sorted({c for c, _ in result.links})) or "-"
        examples = f"{result.examples:>4} ex" if result.examples is not None else "       "
        self._say(f"[{self.finished:>3}{total}] {elapsed:6.1f}s  {result.outcome:<12} {result.duration_s:6.2f}s {examples}  "
                  f"{claims}  {result.name}")
