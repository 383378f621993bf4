"""From test results to one verdict per claim (holds, fails, inconclusive, not-run).

Rules, applied to the tests linked to a claim:

* no evidence test ran (none exists, all deselected or skipped) -> ``not-run``;
* an evidence test errored (the check itself broke) -> ``inconclusive``;
* an evidence test failed (or an expected failure happened: ``xfailed``) -> ``fails``;
* an evidence test ended inconclusive -> ``inconclusive``;
* a control test (one showing the check can fail) did not pass -> ``inconclusive``: the
  check has not been shown able to detect a broken construction;
* otherwise -> ``holds`` (``xpassed``, an expected failure that did not happen, counts as holding).

A verdict other than the registry's ``expected`` is flagged ``unexpected`` (``not-run`` never is).
"""

from __future__ import annotations

from dataclasses import dataclass, field

from claims.registry import Claim

from .collect import CheckResult


@dataclass
class ClaimRecord:
    claim: Claim
    verdict: str
    reason: str
    tests: list[CheckResult] = field(default_factory=list)

    @property
    def duration_s(self) -> float:
        return sum(t.duration_s for t in self.tests)

    @property
    def unexpected(self) -> bool:
        return self.verdict != "not-run" and self.verdict != self.claim.expected

    def evidence(self) -> dict:
        return {t.name: t.evidence for t in self.tests if t.evidence}

    def failures(self) -> list[dict]:
        """Tests whose message a reader needs: failures (with hypothesis's minimal example), errors."""
        return [{"test": t.name, "outcome": t.outcome, "message": t.message} for t in self.tests if t.outcome in NOTEWORTHY]


NOTEWORTHY = ("failed", "error", "xfailed", "xpassed", "inconclusive")


def verdict_for(claim_id: str, tests: list[CheckResult]) -> tuple[str, str]:
    def has_role(t, wanted):
        return any(c == claim_id and role == wanted for c, role in t.links)

    evidence = [t for t in tests if has_role(t, "evidence")]
    controls = [t for t in tests if has_role(t, "control")]
    ran = [t for t in evidence if t.outcome not in ("skipped", "not-run")]
    if not ran:
        return "not-run", "no check of this claim ran" if evidence else "no check is linked to this claim yet"
    names = lambda ts: ", ".join(t.name for t in ts)  # noqa: E731
    if errored := [t for t in ran if t.outcome == "error"]:
        return "inconclusive", f"the check itself errored: {names(errored)}"
    if failed := [t for t in ran if t.outcome in ("failed", "xfailed")]:
        return "fails", f"failed: {names(failed)}"
    if unsure := [t for t in ran if t.outcome == "inconclusive"]:
        return "inconclusive", "; ".join(f"{t.name}: {t.message}" for t in unsure)
    if weak := [t for t in controls if t.outcome not in ("passed", "skipped", "not-run")]:
        return "inconclusive", f"a control did not pass, so the check is not shown able to fail: {names(weak)}"
    skipped = [t for t in evidence if t.outcome == "skipped"]
    note = f" ({len(skipped)} skipped: {names(skipped)})" if skipped else ""
    return "holds", f"{len(ran)} checks passed, {len([c for c in controls if c.outcome == 'passed'])} controls passed{note}"


def aggregate(claims: list[Claim], results: dict[str, CheckResult]) -> list[ClaimRecord]:
    records = []
    for claim in claims:
        tests = sorted((r for r in results.values() if any(c == claim.id for c, _ in r.links)), key=lambda r: r.nodeid)
        verdict, reason = verdict_for(claim.id, tests)
        records.append(ClaimRecord(claim, verdict, reason, tests))
    return records
