"""The report's mutation table: every claim's ``mutation_campaign`` evidence in one table.

Each campaign (``checks/test_mutation_campaign.py``) records, per claim, the construction and
format it mutated, how many mutants it made, how many the claim's checks caught, how many are
equivalent (exact on the whole equivalence domain) and how many were missed, with the missed ones
listed by description, parameter and index.
"""

from __future__ import annotations

import html

KEY = "mutation_campaign"
COLUMNS = ("claim", "construction", "format", "mutants", "caught", "equivalent", "missed", "missed mutants",
           "mutants each check catches")
INTRO = ("Every nonzero weight of a small instance of each construction perturbed in turn (set to 0, and to w + 1), "
         "and structural mutants (off-by-one shift lags and windows, swapped SSM channels and FNN rows, off-by-one "
         "attention lags), each run against the claim's own checks. *Equivalent*: exact on every instance of the "
         "campaign's exhaustive domain (counted apart); *missed*: not equivalent, and no check of the claim caught it.")


def campaigns(document: dict) -> list[dict]:
    """Every recorded campaign, in the order of the claims (campaigns are controls: their evidence is
    the claim's control evidence)."""
    rows = []
    for claim in document["claims"]:
        for evidence in [*claim.get("control_evidence", {}).values(), *claim["evidence"].values()]:
            if isinstance(evidence.get(KEY), dict):
                rows.append({"claim": claim["id"], **evidence[KEY]})
    return rows


def _missed(row: dict) -> str:
    return "; ".join(f"{m['description']} ({m['parameter']} {m['index']})" for m in row.get("missed_list", [])) or "none"


def cells(row: dict) -> list[str]:
    each = "; ".join(f"{name}: {n}" for name, n in row.get("caught_by_each_check", {}).items())
    return [row["claim"], str(row.get("construction", "")), str(row.get("format", "")), str(row.get("mutants", "")),
            str(row.get("caught", "")), str(row.get("equivalent", "")), str(row.get("missed", "")), _missed(row), each]


def _escape(text: str) -> str:
    return text.replace("|", "\\|").replace("\n", " ")


def markdown(document: dict) -> list[str]:
    """The section's lines (none when no campaign ran)."""
    rows = campaigns(document)
    if not rows:
        return []
    return ["", "## Mutation campaign", "", INTRO, "", "| " + " | ".join(COLUMNS) + " |", "|---" * len(COLUMNS) + "|",
            *["| " + " | ".join(_escape(c) for c in cells(row)) + " |" for row in rows]]


def to_html(document: dict) -> str:
    rows = campaigns(document)
    if not rows:
        return ""
    head = "".join(f"<th>{html.escape(c)}</th>" for c in COLUMNS)
    body = "".join("<tr>" + "".join(f"<td>{html.escape(c)}</td>" for c in cells(row)) + "</tr>" for row in rows)
    intro = html.escape(INTRO).replace("*Equivalent*", "<i>Equivalent</i>").replace("*missed*", "<i>missed</i>")
    return f'<h2 id="mutation-campaign">Mutation campaign</h2><p>{intro}</p><table><tr>{head}</tr>{body}</table>'
