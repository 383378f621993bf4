"""Render a run as ``claims.json`` (machine-readable) and ``report.md`` (for reviewers)."""

from __future__ import annotations

import json
from collections import Counter

from claims.evidence import jsonable
from claims.registry import VERDICTS

from . import mutation_table
from .runner import RunResult
from .verdicts import ClaimRecord

SCHEMA_VERSION = 1

GROUP_TITLES = {
    "model": "Model layer: the SSM computations everything rests on",
    "C1": "C1: SSM+FNN comparable to Transformers at dynamic token selection",
    "C2": "C2: Input copying (Theorem 3.1)",
    "C3": "C3: Associative recall (Theorem 3.2)",
    "C4": "C4: Lemma 3.3, key-query selection by SSM with pre/post-FNN",
    "C5": "C5: Nonparametric regression, piecewise gamma-smooth targets",
    "C6": "C6: Experiments (Appendix C, genomic data)",
    "limits": "Limits behind the comparison",
}

PROVENANCE_NOTE = {
    "paper": "stated in the paper's abstract or quoted by its reviewers",
    "summary": "known only from third-party summaries of the paper (not its abstract, not a reviewer's quotation)",
    "related": "an exact result of another paper",
    "reconstructed": "our precise reading; not the paper's wording (its body could not be obtained)",
}

UNEXPECTED_LABEL = ("Unexpected verdicts (differ from the registry's expected verdict: what the mathematics predicts for "
                    "exact, bound and scaling claims, what the source reports for empirical ones)")

#: evidence keys that are maxima over tests (others: integer counts are summed)
MAXED_PREFIXES = ("max_", "largest_", "longest_", "most_")


CAUGHT = {True: "yes", False: "**no**", None: "not run"}


def rerun_command(claim_id: str, profile: str) -> str:
    return f"python -m reports --claims {claim_id}" + ("" if profile == "quick" else f" --profile {profile}")


def headline(record: ClaimRecord) -> str:
    """A short line of the most telling evidence, for the summary table: counts summed over the
    claim's checks, maxima (keys starting with max_/largest_/longest_/most_) maximized, growth
    verdicts named."""
    growth, sums, maxes = [], Counter(), {}
    for ev in record.evidence().values():
        for key, value in ev.items():
            if isinstance(value, bool):
                continue
            if key.startswith(MAXED_PREFIXES) and isinstance(value, (int, float)):
                maxes[key] = max(maxes.get(key, value), value)
            elif isinstance(value, int):
                sums[key] += value
            elif key.endswith("_growth") and isinstance(value, dict) and isinstance(value.get("empirical"), dict):
                cls = (value.get("symbolic") or {}).get("growth_class") or f"measured {value.get('verdict')}"
                growth.append(f"{key[:-7]}: {cls} (late slope {value['empirical']['late_slope']:.2f})")
    parts = [f"{k.replace('_', ' ')} {v:g}" for k, v in sums.items()]
    parts += [f"{k.replace('_', ' ')} {v:.3g}" for k, v in maxes.items()] + growth
    if not parts and record.verdict != "not-run":
        parts = [record.reason]
    return "; ".join(parts[:6])


def to_json(run: RunResult, records: list[ClaimRecord], environment: dict) -> dict:
    counts = Counter(r.verdict for r in records)
    return {
        "schema": SCHEMA_VERSION,
        "run": {
            "profile": run.options.profile,
            "device": run.options.device,
            "seed": run.options.seed,
            "seed_meaning": "hypothesis derandomized (examples fixed per test)" if run.options.seed is None else "every draw seeded by this value",
            "claims_selected": run.options.claims,
            "faults_injected": {name: index for name, index in run.options.faults.items()},
            "started_at": run.started_at,
            "duration_s": round(run.duration_s, 2),
            "pytest_exit_code": run.pytest_exit_code,
            "errors": run.errors,
            "environment": environment,
        },
        "summary": {v: counts.get(v, 0) for v in VERDICTS},
        "unexpected": [r.claim.id for r in records if r.unexpected],
        "claims": [
            {
                **r.claim.to_dict(),
                "verdict": r.verdict,
                "reason": r.reason,
                "headline": headline(r),
                "unexpected": r.unexpected,
                "evidence": r.evidence(),
                "controls": r.controls(),
                "control_evidence": r.control_evidence(),
                "failures": r.failures(),
                "tests": [t.to_dict() for t in r.tests],
                "duration_s": round(r.duration_s, 3),
                "rerun": rerun_command(r.claim.id, run.options.profile),
            }
            for r in records
        ],
    }


def growth_rows(table: dict) -> tuple[list[str], list[list[str]]]:
    """Header and rows for ``{construction: {resource: {"class": ..., "degree"?: ...}}}``."""
    resources = list(dict.fromkeys(r for row in table.values() for r in row))
    rows = []
    for name, row in table.items():
        cells = [name]
        for r in resources:
            cell = row.get(r)
            cells.append("" if cell is None else cell["class"] + (f" ({cell['degree']:g})" if "degree" in cell else ""))
        rows.append(cells)
    return ["construction", *resources], rows


def growth_table(title: str, table: dict) -> list[str]:
    """Markdown of :func:`growth_rows`."""
    header, rows = growth_rows(table)
    return [f"**{title}** (growth class of each resource; degree for polynomial growth):", "",
            "| " + " | ".join(header) + " |", "|---|" + "---|" * (len(header) - 1),
            *["| " + " | ".join(row) + " |" for row in rows]]


def json_text(document: dict) -> str:
    return json.dumps(jsonable(document), indent=2, sort_keys=False) + "\n"


def _anchor(claim_id: str) -> str:
    return claim_id.replace(".", "-").lower()


def _cell(text: str) -> str:
    return str(text).replace("|", "\\|").replace("\n", " ")


def to_markdown(document: dict) -> str:
    run, claims = document["run"], document["claims"]
    env = run["environment"]
    lines = [
        "# SSM theory checks: report",
        "",
        "Checks of *State Space Models are Provably Comparable to Transformers in Dynamic Token Selection* "
        "(Nishikawa & Suzuki, ICLR 2025) and the results it builds on. Every verdict below comes from this run.",
        "",
        f"- profile **{run['profile']}**, device **{run['device']}**"
        + (f" ({env['gpu']})" if env.get("gpu") else "")
        + f", seed {run['seed'] if run['seed'] is not None else 'none (derandomized)'}",
        f"- commit `{env.get('git_commit')}`, started {run['started_at']}, took {run['duration_s']} s, pytest exit code {run['pytest_exit_code']}",
        "- " + ", ".join(f"{k} {v}" for k, v in env["packages"].items() if v) + f", Python {env['python']}",
        "",
        "## Summary",
        "",
        "| verdict | claims |",
        "|---|---|",
        *[f"| {v} | {n} |" for v, n in document["summary"].items()],
        "",
        f"{UNEXPECTED_LABEL}: " + (", ".join(document["unexpected"]) if document["unexpected"] else "none") + ".",
    ]
    if run["faults_injected"]:
        lines += ["", f"**Constructions broken on purpose in this run (--inject-fault): {run['faults_injected']}. "
                      "Verdicts about them describe the broken versions.**"]
    if run["errors"]:
        lines += ["", "**The run had errors:**", "", *[f"```\n{e}\n```" for e in run["errors"]]]
    lines += [
        "",
        "How to read a verdict: **holds** -- every check linked to the claim passed, and at least one control broke the "
        "claim's own construction, estimator or proof object and the checks caught it; **fails** -- a check found a counterexample or a measurement contradicting the claim (details below); "
        "**inconclusive** -- the evidence does not decide (or a check could not be shown able to fail); **not-run** -- "
        "no check of the claim ran (none exists yet, or it was not selected).",
        "",
        "Provenance: " + "; ".join(f"**{p}** = {note}" for p, note in PROVENANCE_NOTE.items()) + ". Each claim is given "
        "as its source states it (**Stated**) and as the suite checks it (**Checked as**: format, sizes, thresholds).",
    ]
    for group, title in GROUP_TITLES.items():
        members = [c for c in claims if c["paper_claims"][0] == group]
        if not members:
            continue
        lines += ["", f"## {title}", "", "| claim | provenance | verdict | key evidence |", "|---|---|---|---|"]
        for c in members:
            flag = " (unexpected)" if c["unexpected"] else ""
            lines.append(f"| [{c['id']}](#{_anchor(c['id'])}) {_cell(c['title'])} | {c['provenance']} | "
                         f"**{c['verdict']}**{flag} | {_cell(c['headline'])} |")
    lines += mutation_table.markdown(document)
    lines += ["", "## Details"]
    for c in claims:
        lines += [
            "",
            f'<a id="{_anchor(c["id"])}"></a>',
            f"### {c['id']}: {c['title']}",
            "",
            f"**Stated** ({c['provenance']}: {PROVENANCE_NOTE[c['provenance']]}): {c['stated']}",
            "",
            f"**Checked as**: {c['checked_as']}",
            "",
            f"- source: {c['source']}; kind: {c['kind']}; paper claims: {', '.join(c['paper_claims'])}",
            f"- verdict: **{c['verdict']}** (expected {c['expected']}) -- {c['reason']}",
            f"- re-run just this claim: `{c['rerun']}`",
        ]
        if c["notes"]:
            lines.append(f"- notes: {c['notes']}")
        if c["tests"]:
            lines += ["", "| check | outcome | examples | time |", "|---|---|---|---|"]
            lines += [f"| `{t['test']}` {'(control)' if t['roles'] == ['control'] else ''} | {t['outcome']} | "
                      f"{t['examples'] if t.get('examples') is not None else ''} | {t['duration_s']:.2f} s |" for t in c["tests"]]
        if c["controls"]:
            lines += ["", "Controls (each breaks this claim's own object; caught = the checks failed on the broken version):", "",
                      "| control | what it breaks | caught |", "|---|---|---|"]
            lines += [f"| `{k['test']}` | {_cell(k['breaks'] or '')} | {CAUGHT[k['caught']]} |" for k in c["controls"]]
        else:
            lines += ["", "Controls: none (so this claim cannot hold: no control shows its checks can fail)."]
        for ev in c["evidence"].values():
            for key, table in ev.items():
                if key.startswith("table:"):
                    lines += ["", *growth_table(key.removeprefix("table:").replace("_", " "), table)]
        for fig in c.get("figures", []):
            lines += ["", f"![{fig['title']}]({fig['png']}) ([SVG]({fig['svg']}))"]
        for label, key in (("Evidence", "evidence"), ("Evidence of the controls (the broken versions)", "control_evidence")):
            if c[key]:
                shown = {t: {k: v for k, v in ev.items() if not k.startswith(("figure:", "table:"))} for t, ev in c[key].items()}
                lines += ["", f"{label} (figure data are in claims.json):", "", "```json", json.dumps(shown, indent=1)[:8000], "```"]
        for f in c["failures"]:
            lines += ["", f"Counterexample / message from `{f['test']}` ({f['outcome']}):", "", "```", str(f["message"])[:4000], "```"]
    return "\n".join(lines) + "\n"
