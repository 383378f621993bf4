"""C1: "SSM+FNN is comparable to Transformers", format by format (claims ``comparable.*``).

For each format (query-last AR, MQAR, query-first AR, copying) the SSM+FNN and Transformer
constructions of that format are built over the grids of :mod:`checks.side_by_side`, every resource
is measured and classified, and the rule of :mod:`claims.comparison` gives the verdict: ``holds``
when some SSM+FNN construction is, in every judged resource (parameters, width, depth, layers,
weight bound, weight bits) and over every grid variable, in a growth class at most that of every
Transformer construction, up to poly-log factors; ``fails`` when every SSM+FNN construction is in a
higher class in some resource. What the information limit lets grow (the SSM's state and window
span, the Transformer's context) is reported next to the limit, not judged.

Controls break each claim's own objects -- the constructions of its format -- and show the verdict
moves: an SSM+FNN construction padded with dead hidden units in proportion to the task size (still
exact) must turn a ``holds`` into ``fails``; Transformer constructions padded with ``|V|^2`` dead
units must turn the query-last and MQAR ``fails`` into ``holds``.
"""

from __future__ import annotations

import pytest

from checks import side_by_side as sbs
from checks.assertions import assert_exact
from claims.comparison import DEGREE_SLACK, JUDGED, LIMITED
from constructions.padding import pad_with_dead_units
from constructions.tasks.associative_recall import generate
from constructions.tasks.copying import CopyConfig
from constructions.tasks.copying import generate as generate_copies

pytestmark = pytest.mark.xdist_group("side-by-side")  # one worker measures the formats once


XLABELS = {"|V|": "|V| (keys = values)", "N": f"N pairs (|V| = {sbs.GRIDS.vocab_for_pairs})", "L": "string length L",
           "1/eps": f"1/eps (L = {sbs.GRIDS.copy_length_for_eps})"}


def figures(measured: sbs.Measured) -> dict:
    """The format's figures (only constructions of this format): parameters and width along the
    first variable, parameters (depth for query-last AR) along the second, and what the information
    limit lets grow next to the limit."""
    fmt = measured.format
    first, second = (v.name for v in fmt.variables)
    specs = [("parameters", first), ("width", first),
             ("width" if fmt is sbs.COPYING else "parameters", second)] + ([("depth", second)] if fmt is sbs.QUERY_LAST else [])
    ylabels = {"parameters": "nonzero parameters (SSM: outside the shift structure)",
               "width": "width (FNN / channels / d_model / MLP)", "depth": "FNN / MLP depth"}
    out = {}
    for resource, variable in specs:
        name = sbs.key(fmt, variable, resource)
        out[f"figure:{name}"] = sbs.figure(name, f"{fmt.name}: {resource} vs {variable}", XLABELS[variable], ylabels[resource],
                                           measured, variable, resource, note="same format only; dashed: fitted growth class")
    variable = first if fmt is sbs.COPYING else second  # the variable the limit grows with
    along = next(v for v in fmt.variables if v.name == variable)
    series = []
    for label, s in measured.series[variable].items():
        series += [{"label": f"{label}: {r.replace('_', ' ')}", "x": s.xs, "y": s.limited[r], "style": "-" if r == "state" else "-."}
                   for r in ("state", "window_span", "context") if r in s.limited]
    longest = max((s.xs for s in measured.series[variable].values()), key=len)
    series.append({"label": f"information limit: {fmt.limit_text}", "x": longest,
                   "y": [along.limit(along.point(x)) for x in longest], "style": "--"})
    name = sbs.key(fmt, variable, "not_judged")
    out[f"figure:{name}"] = {"name": name, "title": f"{fmt.name}: what the information limit lets grow (not judged)",
                             "xlabel": XLABELS[variable], "ylabel": "state entries, window span / context (tokens), limit (bits)",
                             "xscale": "log", "yscale": "log", "series": series, "fits": [],
                             "note": "SSM state entries and window span, Transformer context, and the information limit"}
    return out


def record_and_judge(fmt: sbs.Format, evidence) -> dict:
    measured = sbs.measure_format(fmt)
    verdict = measured.verdict()
    evidence.record(
        **sbs.tables_evidence(measured),
        **figures(measured),
        judged_resources=list(JUDGED), not_judged_resources=list(LIMITED), degree_slack=DEGREE_SLACK,
        information_limit=fmt.limit_text,
        grids={v.name: v.grids for v in fmt.variables},
        comparison=verdict["pairs"],
        verdict=verdict["verdict"], witness=verdict["witness"], reason=verdict["reason"],
    )
    return verdict


def judge(fmt: sbs.Format, evidence) -> None:
    verdict = record_and_judge(fmt, evidence)
    if verdict["verdict"] == "inconclusive":
        evidence.inconclusive(verdict["reason"])
    assert verdict["verdict"] == "holds", verdict["reason"]


@pytest.mark.claim("comparable.ar-query-last")
def test_query_last_recall_ssm_against_attention(evidence):
    judge(sbs.QUERY_LAST, evidence)


@pytest.mark.claim("comparable.mqar")
def test_mqar_ssm_against_attention(evidence):
    judge(sbs.MQAR, evidence)


@pytest.mark.claim("comparable.ar-query-first")
def test_query_first_recall_ssm_against_attention(evidence):
    judge(sbs.QUERY_FIRST, evidence)


@pytest.mark.claim("comparable.copying")
def test_copying_ssm_against_attention(evidence):
    judge(sbs.COPYING, evidence)


# ----------------------------------------------------------------------------- controls
def _size(point: sbs.Point) -> int:
    """The task size a padding grows with: |V| for recall, L for copying."""
    return point.config.length if isinstance(point.config, CopyConfig) else point.config.num_values


def _still_exact(entry: sbs.Entry, point: sbs.Point, count: int) -> None:
    """The padded construction answers exactly what the original does (only its size changed)."""
    config = point.config
    tokens = generate_copies(config, 16, 0).tokens if isinstance(config, CopyConfig) else generate(config, 16, 0).tokens
    assert_exact(pad_with_dead_units(entry.build(point), count), tokens)


def _flip(fmt: sbs.Format, labels, count, expected: str, evidence, max_points=None) -> None:
    """Pad the constructions ``labels`` of ``fmt`` with ``count(point)`` dead units, judged from
    their measurements (their closed forms no longer apply): the verdict must become ``expected``."""
    first = fmt.variables[0]
    for label in labels:
        entry = fmt.entry(label)
        point = first.point(first.grids[entry.encoding][0])
        _still_exact(entry, point, count(point))
    variant = sbs.variant(fmt, {label: sbs.padded(fmt.entry(label), count, keep_closed_form=False) for label in labels},
                          max_points)
    measured = sbs.measure_format(variant)
    verdict = measured.verdict()
    evidence.record(padded=list(labels), verdict_with_padding=verdict["verdict"], reason_with_padding=verdict["reason"],
                    **{f"table:control_{sbs.key(variant, v, 'growth_with_dead_units')}": measured.tables[v] for v in measured.tables})
    assert verdict["verdict"] == expected, verdict["reason"]


@pytest.mark.claim("comparable.ar-query-first", role="control",
                   breaks="the SSM+FNN binary match, padded with |V| dead hidden units (still exact)")
def test_query_first_verdict_fails_for_an_ssm_padded_in_proportion_to_the_vocabulary(evidence):
    _flip(sbs.QUERY_FIRST, [sbs.BINARY_MATCH.label], _size, "fails", evidence, max_points={"|V|": 2**16})  # 2^16 units at most


@pytest.mark.claim("comparable.copying", role="control",
                   breaks="the SSM+FNN fixed-length copier, padded with L dead hidden units (still exact)")
def test_copying_verdict_fails_for_an_ssm_padded_in_proportion_to_the_length(evidence):
    _flip(sbs.COPYING, ["SSM+FNN fixed-length shift"], _size, "fails", evidence)


def _vocab_squared(point: sbs.Point) -> int:
    """|V|^2 units: on the one-hot grid (at most 2^20 units), where the one-hot constructions are built."""
    return point.config.num_values**2


@pytest.mark.claim("comparable.ar-query-last", role="control",
                   breaks="every Transformer construction of the format, padded with |V|^2 dead MLP units (still exact)")
def test_query_last_verdict_holds_against_transformers_padded_by_vocab_squared(evidence):
    _flip(sbs.QUERY_LAST, [sbs.ZOOLOGY.label, sbs.BINARY_ATTENTION.label], _vocab_squared, "holds", evidence,
          max_points={"|V|": 2 ** max(sbs.GRIDS.onehot_vocab_exponents)})


@pytest.mark.claim("comparable.mqar", role="control",
                   breaks="every Transformer construction of the format, padded with |V|^2 dead MLP units (still exact)")
def test_mqar_verdict_holds_against_transformers_padded_by_vocab_squared(evidence):
    _flip(sbs.MQAR, [sbs.ZOOLOGY.label, sbs.BINARY_ATTENTION.label], _vocab_squared, "holds", evidence,
          max_points={"|V|": 2 ** max(sbs.GRIDS.onehot_vocab_exponents)})
