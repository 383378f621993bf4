"""The report's mutation table gathers every claim's ``mutation_campaign`` evidence (reports/mutation_table.py)."""

from __future__ import annotations

from reports import mutation_table

ROW = {"construction": "outer_product.build", "format": "K=2, V=2", "mutants": 10, "caught": 7, "equivalent": 2,
       "missed": 1, "caught_by_each_check": {"every instance": 7, "drawn": 5},
       "missed_list": [{"kind": "weight", "description": "blocks.0.ssm.C[0, 1]: 1 -> 0", "parameter": "blocks.0.ssm.C",
                        "index": [0, 1]}]}


def document(*evidence: dict) -> dict:
    """Campaigns are controls: the report keeps their evidence under ``control_evidence``."""
    return {"claims": [{"id": f"claim.{i}", "evidence": {}, "control_evidence": {"test_campaign": e}}
                       for i, e in enumerate(evidence)]}


def test_every_campaign_is_a_row_with_its_missed_mutants_and_checks():
    doc = document({"mutation_campaign": ROW}, {"other": 1}, {"mutation_campaign": {**ROW, "missed": 0, "missed_list": []}})
    lines = mutation_table.markdown(doc)
    assert lines[1] == "## Mutation campaign"
    rows = [line for line in lines if line.startswith("| claim.")]
    assert len(rows) == 2
    assert "| 10 | 7 | 2 | 1 | blocks.0.ssm.C[0, 1]: 1 -> 0 (blocks.0.ssm.C [0, 1]) | every instance: 7; drawn: 5 |" in rows[0]
    assert "| none |" in rows[1]
    page = mutation_table.to_html(doc)
    assert page.count("<tr>") == 3 and "Mutation campaign" in page and "blocks.0.ssm.C[0, 1]: 1 -&gt; 0" in page


def test_no_campaign_no_section():
    assert mutation_table.markdown(document({"other": 1})) == []
    assert mutation_table.to_html(document({"other": 1})) == ""
