"""The C1 comparison rule (claims.comparison) on synthetic growth tables: it tests the judge, not
a claim (the claims' own controls are in checks/test_comparison.py)."""

from __future__ import annotations

import math
from types import SimpleNamespace

import pytest
import sympy as sp

from claims.comparison import (DEGREE_SLACK, JUDGED, at_most, compare_pair, format_verdict, judged, judged_closed_form,
                               limited)

CONST, POLYLOG = {"class": "constant"}, {"class": "polylog"}
UNCLEAR = {"class": "unclear"}


def poly(degree):
    return {"class": "polynomial", "degree": degree}


def row(**cells):
    """A growth row with every judged resource constant unless given."""
    return {r: cells.get(r, CONST) for r in JUDGED}


@pytest.mark.parametrize("ssm, transformer, answer", [
    (CONST, POLYLOG, "yes"), (POLYLOG, CONST, "yes"), (POLYLOG, POLYLOG, "yes"),  # one class up to poly-log factors
    (poly(1), POLYLOG, "no"), (POLYLOG, poly(1), "yes"),
    (poly(2), poly(1), "no"), (poly(1), poly(2), "yes"), (poly(2), poly(2), "yes"),
    (poly(1 + DEGREE_SLACK / 2), poly(1), "yes"), (poly(1 + 2 * DEGREE_SLACK), poly(1), "no"),
    ({"class": "superpolynomial"}, poly(5), "no"),
    (UNCLEAR, CONST, "unclear"), (CONST, UNCLEAR, "unclear"), (None, CONST, "unclear"),
])
def test_classes_are_compared_up_to_polylog_factors_and_by_degree(ssm, transformer, answer):
    assert at_most(ssm, transformer) == answer


def test_a_pair_names_the_higher_resource_with_both_classes():
    result = compare_pair({"|V|": row(width=poly(2))}, {"|V|": row(width=POLYLOG)})
    assert result["verdict"] == "not comparable"
    assert result["higher"] == [{"variable": "|V|", "resource": "width", "ssm": "polynomial (degree 2)", "transformer": "polylog"}]


def test_a_pair_is_unclear_when_only_unclear_classes_stand_in_the_way():
    result = compare_pair({"N": row(depth=UNCLEAR)}, {"N": row()})
    assert result["verdict"] == "unclear" and result["unclear"][0]["resource"] == "depth"


def test_a_resource_missing_on_one_side_is_unclear():
    ssm = {"L": {"width": POLYLOG}}
    assert compare_pair(ssm, {"L": row()})["verdict"] == "unclear"


def test_every_variable_counts():
    assert compare_pair({"|V|": row(), "N": row(depth=poly(1))}, {"|V|": row(), "N": row()})["verdict"] == "not comparable"


def test_format_holds_when_one_ssm_is_at_most_every_transformer():
    ssm = {"wide": {"|V|": row(width=poly(2))}, "lean": {"|V|": row(width=POLYLOG)}}
    transformer = {"one-hot": {"|V|": row(width=poly(1))}, "binary": {"|V|": row(width=POLYLOG)}}
    result = format_verdict(ssm, transformer)
    assert result["verdict"] == "holds" and result["witness"] == "lean"


def test_format_compares_with_the_best_transformer_resource_by_resource():
    ssm = {"s": {"|V|": row(width=poly(1))}}
    transformer = {"one-hot": {"|V|": row(width=poly(1))}, "binary": {"|V|": row(width=POLYLOG)}}
    result = format_verdict(ssm, transformer)
    assert result["verdict"] == "fails"
    assert "width in |V|: polynomial (degree 1) vs polylog (binary)" in result["reason"]


def test_format_fails_when_every_ssm_is_beaten_and_is_inconclusive_when_one_is_only_unclear():
    transformer = {"t": {"N": row()}}
    beaten = {"a": {"N": row(depth=poly(1))}, "b": {"N": row(parameters=poly(1))}}
    assert format_verdict(beaten, transformer)["verdict"] == "fails"
    open_ = {"a": {"N": row(depth=poly(1))}, "b": {"N": row(parameters=UNCLEAR)}}
    result = format_verdict(open_, transformer)
    assert result["verdict"] == "inconclusive" and "b: parameters in N" in result["reason"]


def test_format_needs_both_kinds():
    with pytest.raises(ValueError, match="at least one"):
        format_verdict({}, {"t": {}})


def test_resources_are_read_under_one_name_for_both_kinds():
    ssm = SimpleNamespace(parameters=50, shift_structure_nonzeros=8, fnn_width=6, channels=9, fnn_depth=4, num_layers=2,
                          weight_bound=2.0, weight_bits=3, state_size=30, window=math.inf)
    assert judged("ssm", ssm) == {"parameters": 42, "width": 9, "depth": 4, "layers": 2, "weight_bound": 2.0, "weight_bits": 3}
    assert limited("ssm", ssm, context=17) == {"state": 30, "window_span": 17, "shift_structure": 8}
    t = SimpleNamespace(parameters=40, d_model=12, mlp_width=20, mlp_depth=0, num_layers=2, weight_bound=1.0, weight_bits=2)
    assert judged("transformer", t)["width"] == 20 and limited("transformer", t, context=17) == {"context": 17}
    with pytest.raises(ValueError, match="kind"):
        judged("rnn", t)


def test_closed_forms_are_read_under_the_same_names_and_missing_fields_leave_a_resource_out():
    x = sp.Symbol("x", positive=True)
    closed = judged_closed_form("ssm", {"parameters": 3 * x, "shift_structure_nonzeros": x, "fnn_width": x, "channels": 2 * x,
                                        "num_layers": sp.Integer(2)})
    assert closed["parameters"] == 2 * x and closed["width"] == sp.Max(x, 2 * x) and closed["layers"] == 2
    assert "depth" not in closed and "weight_bits" not in closed
