"""The self-contained HTML report (``report.html``): no external assets, works offline.

Figures are embedded as PNG data URIs (their SVG files sit beside the report for print quality);
CSS is inline; evidence is in collapsible blocks. Built from the same document as ``claims.json``.
"""

from __future__ import annotations

import base64
import html
import json
from pathlib import Path

from . import mutation_table
from .render import CAUGHT, GROUP_TITLES, PROVENANCE_NOTE, UNEXPECTED_LABEL, growth_rows

VERDICT_COLORS = {"holds": "#1a7f37", "fails": "#cf222e", "inconclusive": "#9a6700", "not-run": "#6e7781"}
PROVENANCE_COLORS = {"paper": "#0969da", "summary": "#1a7f37", "related": "#8250df", "reconstructed": "#bc4c00"}

CSS = """
body { font-family: system-ui, -apple-system, Segoe UI, Helvetica, Arial, sans-serif; margin: 2rem auto; max-width: 1180px;
       color: #1f2328; line-height: 1.45; padding: 0 1rem; }
h1 { font-size: 1.6rem; margin-bottom: .2rem; } h2 { margin-top: 2.2rem; border-bottom: 1px solid #d0d7de; }
h3 { margin-top: 1.8rem; } code, pre { font-family: ui-monospace, SFMono-Regular, Menlo, monospace; font-size: .85em; }
pre { background: #f6f8fa; padding: .6rem; overflow-x: auto; border-radius: 6px; white-space: pre-wrap; }
table { border-collapse: collapse; width: 100%; margin: .6rem 0; font-size: .9rem; }
th, td { border: 1px solid #d0d7de; padding: .3rem .5rem; vertical-align: top; text-align: left; }
th { background: #f6f8fa; }
.badge { display: inline-block; padding: .05rem .45rem; border-radius: 1rem; color: #fff; font-size: .78rem; white-space: nowrap; }
.summary { display: flex; gap: .8rem; flex-wrap: wrap; margin: 1rem 0; }
.summary div { border: 1px solid #d0d7de; border-radius: 8px; padding: .5rem 1rem; min-width: 7rem; }
.summary b { font-size: 1.5rem; display: block; }
.meta { color: #57606a; font-size: .9rem; }
.claim { border-top: 1px solid #d0d7de; padding-top: .4rem; }
figure { margin: .8rem 0; } figure img { max-width: 100%; border: 1px solid #d0d7de; }
details summary { cursor: pointer; color: #0969da; }
.unexpected { outline: 2px solid #cf222e; }
"""


def badge(text: str, color: str) -> str:
    return f'<span class="badge" style="background:{color}">{html.escape(text)}</span>'


def _anchor(claim_id: str) -> str:
    return "claim-" + claim_id.replace(".", "-").lower()


def _image(out: Path, relative: str) -> str:
    data = (out / relative).read_bytes()
    return "data:image/png;base64," + base64.b64encode(data).decode("ascii")


def to_html(document: dict, out: Path) -> str:
    run, claims, env = document["run"], document["claims"], document["run"]["environment"]
    parts = [
        "<!DOCTYPE html>", '<html lang="en"><head><meta charset="utf-8">',
        '<meta name="viewport" content="width=device-width, initial-scale=1">',
        "<title>SSM theory checks: report</title>", f"<style>{CSS}</style></head><body>",
        "<h1>SSM theory checks</h1>",
        '<p class="meta">Checks of <i>State Space Models are Provably Comparable to Transformers in Dynamic Token '
        "Selection</i> (Nishikawa &amp; Suzuki, ICLR 2025) and the results it builds on. Every verdict comes from this run.</p>",
        f'<p class="meta">profile <b>{html.escape(run["profile"])}</b> &middot; device <b>{html.escape(run["device"])}</b>'
        + (f' ({html.escape(env["gpu"])})' if env.get("gpu") else "")
        + f' &middot; seed {html.escape(str(run["seed"]) if run["seed"] is not None else "none (derandomized)")}'
        f' &middot; commit <code>{html.escape(str(env.get("git_commit")))}</code>'
        f' &middot; started {html.escape(run["started_at"])} &middot; {run["duration_s"]} s</p>',
        '<div class="summary">',
    ]
    for verdict, n in document["summary"].items():
        parts.append(f'<div>{badge(verdict, VERDICT_COLORS[verdict])}<b>{n}</b>claims</div>')
    parts.append("</div>")
    unexpected = document["unexpected"]
    parts.append(f"<p>{html.escape(UNEXPECTED_LABEL)}: {html.escape(', '.join(unexpected)) if unexpected else 'none'}.</p>")
    if run["faults_injected"]:
        parts.append(f'<p class="unexpected"><b>Constructions broken on purpose in this run (--inject-fault): '
                     f'{html.escape(str(run["faults_injected"]))}. Verdicts about them describe the broken versions.</b></p>')
    if run["errors"]:
        parts.append("<h2>Errors of the run</h2>" + "".join(f"<pre>{html.escape(e)}</pre>" for e in run["errors"]))
    parts.append(
        "<p><b>Reading a verdict.</b> <i>holds</i>: every check linked to the claim passed, and at least one control "
        "broke the claim's own construction, estimator or proof object and the checks caught it; <i>fails</i>: a check found a counterexample or a contradicting measurement; "
        "<i>inconclusive</i>: the evidence does not decide; <i>not-run</i>: no check ran. "
        "<b>Provenance.</b> " + "; ".join(f"{badge(p, PROVENANCE_COLORS[p])} {html.escape(t)}" for p, t in PROVENANCE_NOTE.items())
        + ".</p>")

    for group, title in GROUP_TITLES.items():
        members = [c for c in claims if c["paper_claims"][0] == group]
        if not members:
            continue
        parts.append(f"<h2>{html.escape(title)}</h2><table><tr><th>claim</th><th>as its source states it</th><th>provenance</th>"
                     "<th>verdict</th><th>key evidence</th></tr>")
        for c in members:
            cls = ' class="unexpected"' if c["unexpected"] else ""
            parts.append(
                f'<tr{cls}><td><a href="#{_anchor(c["id"])}"><code>{html.escape(c["id"])}</code></a><br>{html.escape(c["title"])}</td>'
                f'<td>{html.escape(c["stated"])}</td><td>{badge(c["provenance"], PROVENANCE_COLORS[c["provenance"]])}</td>'
                f'<td>{badge(c["verdict"], VERDICT_COLORS[c["verdict"]])}</td><td>{html.escape(c["headline"])}</td></tr>')
        parts.append("</table>")

    parts.append(mutation_table.to_html(document))
    parts.append("<h2>Details</h2>")
    for c in claims:
        parts.append(f'<section class="claim" id="{_anchor(c["id"])}"><h3><code>{html.escape(c["id"])}</code>: '
                     f'{html.escape(c["title"])}</h3>')
        parts.append(f'<p><b>Stated</b> {badge(c["provenance"], PROVENANCE_COLORS[c["provenance"]])} {html.escape(c["stated"])}</p>')
        parts.append(f'<p><b>Checked as</b>: {html.escape(c["checked_as"])}</p>')
        parts.append(f'<p class="meta">source: {html.escape(c["source"])} &middot; kind: {html.escape(c["kind"])} &middot; '
                     f'paper claims: {html.escape(", ".join(c["paper_claims"]))}</p>')
        parts.append(f'<p>verdict {badge(c["verdict"], VERDICT_COLORS[c["verdict"]])} (expected {html.escape(c["expected"])})'
                     f' &mdash; {html.escape(c["reason"])}</p>')
        if c["notes"]:
            parts.append(f"<p class=\"meta\">notes: {html.escape(c['notes'])}</p>")
        parts.append(f'<p>Re-run just this claim: <code>{html.escape(c["rerun"])}</code></p>')
        if c["tests"]:
            parts.append("<table><tr><th>check</th><th>role</th><th>outcome</th><th>examples</th><th>time</th></tr>")
            for t in c["tests"]:
                examples = "" if t.get("examples") is None else str(t["examples"])
                parts.append(f'<tr><td><code>{html.escape(t["test"])}</code></td><td>{html.escape(", ".join(t["roles"]))}</td>'
                             f'<td>{html.escape(t["outcome"])}</td><td>{examples}</td><td>{t["duration_s"]:.2f} s</td></tr>')
            parts.append("</table>")
        if c["controls"]:
            parts.append("<p>Controls (each breaks this claim's own object; caught = the checks failed on the broken version):</p>"
                         "<table><tr><th>control</th><th>what it breaks</th><th>caught</th></tr>")
            parts += [f'<tr><td><code>{html.escape(k["test"])}</code></td><td>{html.escape(k["breaks"] or "")}</td>'
                      f'<td>{html.escape(CAUGHT[k["caught"]].strip("*"))}</td></tr>' for k in c["controls"]]
            parts.append("</table>")
        else:
            parts.append("<p>Controls: none (so this claim cannot hold: no control shows its checks can fail).</p>")
        for ev in c["evidence"].values():
            for key, table in ev.items():
                if key.startswith("table:"):
                    header, rows = growth_rows(table)
                    parts.append(f"<p><b>{html.escape(key.removeprefix('table:').replace('_', ' '))}</b></p><table><tr>"
                                 + "".join(f"<th>{html.escape(h)}</th>" for h in header) + "</tr>")
                    parts += ["<tr>" + "".join(f"<td>{html.escape(v)}</td>" for v in row) + "</tr>" for row in rows]
                    parts.append("</table>")
        for fig in c.get("figures", []):
            parts.append(f'<figure><img alt="{html.escape(fig["title"])}" src="{_image(out, fig["png"])}">'
                         f'<figcaption class="meta">{html.escape(fig["title"])} (<a href="{html.escape(fig["svg"])}">SVG</a>)'
                         "</figcaption></figure>")
        for f in c["failures"]:
            parts.append(f'<p><b>Counterexample / message from <code>{html.escape(f["test"])}</code> ({html.escape(f["outcome"])}):</b></p>'
                         f'<pre>{html.escape(str(f["message"]))}</pre>')
        for label, key in (("evidence (measured numbers)", "evidence"), ("evidence of the controls (the broken versions)", "control_evidence")):
            if c[key]:
                shown = {t: {k: v for k, v in ev.items() if not k.startswith(("figure:", "table:"))} for t, ev in c[key].items()}
                parts.append(f"<details><summary>{label}</summary><pre>{html.escape(json.dumps(shown, indent=1))}</pre></details>")
        parts.append("</section>")

    parts.append("<h2>Environment</h2><table>")
    rows = [("Python", env["python"]), ("platform", env["platform"]), ("device", env["device"]), ("GPU", env.get("gpu") or "-"),
            ("git commit", str(env.get("git_commit"))), ("profile", run["profile"]), ("seed", str(run["seed"])),
            ("started", run["started_at"]), ("duration", f'{run["duration_s"]} s'),
            ("pytest exit code", str(run["pytest_exit_code"]))]
    rows += [(name, version or "not installed") for name, version in env["packages"].items()]
    parts += [f"<tr><th>{html.escape(k)}</th><td>{html.escape(v)}</td></tr>" for k, v in rows]
    parts.append("</table></body></html>")
    return "\n".join(parts) + "\n"
