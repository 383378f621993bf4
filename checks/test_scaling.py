"""Resources of the SSM+FNN and Transformer constructions, format by format (claim
``transformer.vs-ssm.resources``).

The constructions, formats and grids are those of :mod:`checks.side_by_side` (recall over ``|V|`` and
``N``; copying over ``L`` and ``1/eps``, n-grams of length ``n(L, eps) = ceil(log(L^2/eps)/log D)``).
``transformer.vs-ssm.resources``: at every grid point each construction's closed form equals its
measured counts, and every judged resource gets a settled growth class. The comparison itself (C1)
is in ``checks/test_comparison.py``; its figures show one format at a time.
"""

from __future__ import annotations

import dataclasses

import pytest
import sympy as sp

from checks import side_by_side as sbs
from constructions.copying import ngram
from constructions.resources import measure
from constructions.tasks.copying import CopyConfig

pytestmark = pytest.mark.xdist_group("side-by-side")  # one worker measures the formats once

EACH_FORMAT = pytest.mark.parametrize("fmt", sbs.FORMATS, ids=lambda f: f.name.replace(" ", "-"))


@pytest.mark.claim("transformer.vs-ssm.resources")
@EACH_FORMAT
def test_closed_forms_equal_the_measured_counts_at_every_grid_point(fmt, evidence):
    measured = sbs.measure_format(fmt)
    evidence.count("grid_points_with_closed_forms_checked", sum(
        len(s.xs) for v in measured.series.values() for label, s in v.items() if not fmt.entry(label).closed_form_only))
    evidence.record(closed_forms={e.label: sorted(e.closed_form) for e in fmt.entries if not e.closed_form_only})
    assert not measured.mismatches, "\n".join(measured.mismatches[:20])


@pytest.mark.claim("transformer.vs-ssm.resources")
@EACH_FORMAT
def test_every_judged_resource_gets_a_settled_growth_class(fmt, evidence):
    measured = sbs.measure_format(fmt)
    evidence.record(**{f"table:{sbs.key(fmt, v)}": t for v, t in measured.tables.items()})
    evidence.count("growth_classes", sum(len(row) for t in measured.tables.values() for row in t.values()))
    assert not measured.unclear(), f"growth not settled for {measured.unclear()}"


def ngram_width_closed_form():
    D, n = sp.symbols("D n", positive=True, integer=True)
    return ngram.closed_form()["fnn_width"], D, n


@pytest.mark.claim("transformer.vs-ssm.resources")
def test_ngram_copier_width_closed_form_matches_measurements(evidence):
    width, D, n = ngram_width_closed_form()
    checked = []
    for alphabet in (2, 3, 4):
        for grams in (1, 2, 3):
            r = measure(ngram.build(CopyConfig(alphabet, 4), grams).network)
            predicted = int(width.subs({D: alphabet, n: grams}))
            checked.append((alphabet, grams, predicted, max(r.fnn_width, r.channels)))
    evidence.record(ngram_width_checked=checked)
    assert all(p == m for *_, p, m in checked), checked


# ----------------------------------------------------------------------------- controls
@pytest.mark.claim("transformer.vs-ssm.resources", role="control",
                   breaks="the SSM+FNN binary match: |V| dead hidden units added, its closed form kept")
def test_a_construction_padded_beyond_its_closed_form_is_caught(evidence):
    fmt = sbs.QUERY_FIRST
    padded = sbs.padded(sbs.BINARY_MATCH, lambda p: p.config.num_values, keep_closed_form=True)
    variant = sbs.measure_format(sbs.variant(fmt, {sbs.BINARY_MATCH.label: padded}, max_points={"|V|": 2**12}))
    mismatches, unclear = variant.mismatches, variant.unclear()
    evidence.record(caught_unclear_classes=unclear, caught_closed_form_mismatches=mismatches[:3])
    assert mismatches and any(label == padded.label for _, label, _ in unclear), (mismatches[:3], unclear)


@pytest.mark.claim("transformer.vs-ssm.resources", role="control",
                   breaks="the closed form of the query-first attention's parameters (off by one)")
def test_a_closed_form_off_by_one_is_caught(evidence):
    entry = sbs.ATTENTION_QUERY_FIRST
    wrong = dataclasses.replace(entry, label=f"{entry.label}, closed form + 1",
                                closed_form={**entry.closed_form, "parameters": entry.closed_form["parameters"] + 1})
    mismatches = sbs.measure_format(sbs.variant(sbs.QUERY_FIRST, {entry.label: wrong})).mismatches
    evidence.record(caught_closed_form_mismatches=mismatches[:3])
    assert mismatches and all("parameters" in m for m in mismatches)
