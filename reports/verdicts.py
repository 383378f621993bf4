"""From test results to one verdict per claim (holds, fails, inconclusive, not-run).

Rules, applied to the tests linked to a claim:

* no evidence test ran (none exists, all deselected or skipped) -> ``not-run``;
* an evidence test errored (the check itself broke) -> ``inconclusive``;
* an evidence test failed (or an expected failure happened: ``xfailed``) -> ``fails``;
* an evidence test ended inconclusive -> ``inconclusive``;
* a control (a test that breaks this claim's own construction, estimator or proof object and passes
  when the claim's checks catch it) ran and did not pass -> ``inconclusive``: the checks missed a
  broken version of the claim's object;
* no control passed -> ``inconclusive``: no control shows these checks can fail;
* otherwise -> ``holds`` (``xpassed``, an expected failure that did not happen, counts as holding).

A failure needs no control: a counterexample or a contradicting measurement speaks for itself.

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

    def role_of(self, test: CheckResult) -> set[str]:
        return {role for c, role in test.links if c == self.claim.id}

    def evidence(self) -> dict:
        """Measurements of the claim's own checks (not of its controls)."""
        return {t.name: t.evidence for t in self.tests if t.evidence and "evidence" in self.role_of(t)}

    def control_evidence(self) -> dict:
        """Measurements of the controls: what the broken versions did."""
        return {t.name: t.evidence for t in self.tests if t.evidence and self.role_of(t) == {"control"}}

    def controls(self) -> list[dict]:
        """Each control: what of the claim's own object it breaks, and whether the checks caught it."""
        return [{"test": t.name, "breaks": t.breaks.get(self.claim.id), "outcome": t.outcome,
                 "caught": {"passed": True, "skipped": None, "not-run": None}.get(t.outcome, False)}
                for t in self.tests if "control" in self.role_of(t)]

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
        return "inconclusive", f"a control's broken version was not caught, so the checks are not shown able to fail: {names(weak)}"
    caught = [t for t in controls if t.outcome == "passed"]
    if not caught:
        return "inconclusive", (f"{len(ran)} checks passed, but no control shows these checks can fail (none breaks this "
                                "claim's own construction, estimator or proof object and is caught)")
    skipped = [t for t in evidence if t.outcome == "skipped"]
    note = f" ({len(skipped)} skipped: {names(skipped)})" if skipped else ""
    return "holds", f"{len(ran)} checks passed, {len(caught)} controls caught their broken versions{note}"


def aggregate(claims: list[Claim], results: dict[str, CheckResult]) -> list[ClaimRecord]:
    records = []
    for claim in claims:
        tests = sorted((r for r in results.values() if any(c == claim.id for c, _ in r.links)), key=lambda r: r.nodeid)
        verdict, reason = verdict_for(claim.id, tests)
        records.append(ClaimRecord(claim, verdict, reason, tests))
    return records
