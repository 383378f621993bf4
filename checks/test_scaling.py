"""SSM+FNN and Transformer constructions side by side (claim ``transformer.vs-ssm.resources``).

Every construction is built over a grid -- associative recall over the vocabulary ``|V|``, copying
over the string length ``L`` (``D = 4`` symbols, n-grams long enough for error ``eps = 0.01``:
``n(L) = ceil(log(L^2 / eps) / log D)``) -- and each resource gets a growth class from its
measured counts and, where a closed form exists, from the closed form as well. The tables and the
figure data go into the evidence; the report draws the figures.

Where a closed form is used beyond the sizes that can be built (the n-gram copier's memory for
large n), it is first checked against measurements on the sizes that can.
"""

from __future__ import annotations

import functools
import math

import pytest
import sympy as sp

from checks import profiles
from checks.assertions import closed_form_mismatches
from claims.growth import fitted_curve, growth_class
from constructions.associative_recall import binary_query_first, outer_product
from constructions.copying import fixed_length, ngram
from constructions.resources import Resources, measure
from constructions.tasks.associative_recall import ARConfig
from constructions.tasks.copying import CopyConfig
from constructions.transformer import copy_jelassi, mqar_zoology
from constructions.transformer.model import TransformerResources

SIZES = profiles.current()
X = sp.Symbol("x", positive=True)
COPY_ALPHABET, COPY_EPS = 4, 0.01
COPY_LENGTHS = [2**e for e in range(4, 15)]


def comparable(r: Resources | TransformerResources, context: int) -> dict:
    """The resources both kinds of network have, under one name each. ``context`` is the sequence
    length: a layer that sees the whole sequence (prefix sum, full attention) spans all of it."""
    if isinstance(r, TransformerResources):
        return {"parameters": r.parameters, "width": max(r.d_model, r.mlp_width), "layers": r.num_layers,
                "depth": r.mlp_depth, "weight_bound": r.weight_bound, "weight_bits": r.weight_bits, "context_span": context}
    window = context if r.window == math.inf else min(int(r.window), context)
    return {"parameters": r.parameters, "parameters_outside_shift_structure": r.parameters - r.shift_structure_nonzeros,
            "width": max(r.fnn_width, r.channels), "layers": r.num_layers, "depth": r.fnn_depth,
            "weight_bound": r.weight_bound, "weight_bits": r.weight_bits, "context_span": window}


def classify_table(xs, rows: dict[str, dict[str, list]], closed: dict[str, dict[str, sp.Expr]]) -> dict:
    """Growth class of every (construction, resource)."""
    return {name: {res: growth_class(xs, ys, closed.get(name, {}).get(res), X) for res, ys in resources.items()}
            for name, resources in rows.items()}


def figure(name, title, xlabel, ylabel, grids, rows, resource, note="", table=None):
    """Figure data: one series per construction, and the fitted curve of its growth class where
    ``table`` has one; ``grids`` is one x grid for all, or a dict by name."""
    x_of = grids if isinstance(grids, dict) else {label: grids for label in rows}
    series = [{"label": label, "x": list(x_of[label]), "y": res[resource], "style": ":" if "closed form" in label else "-"}
              for label, res in rows.items() if resource in res]
    fits = []
    for s in series:
        row = (table or {}).get(s["label"], {}).get(resource)
        if row and row["class"] != "unclear":
            fits.append({"label": f"fit: {row['class']}", "of": s["label"], "x": s["x"], "y": fitted_curve(s["x"], s["y"], row)})
    return {"name": name, "title": title, "xlabel": xlabel, "ylabel": ylabel, "xscale": "log", "yscale": "log",
            "note": note, "series": series, "fits": fits}


# ----------------------------------------------------------------------------- recall vs |V|
def recall_grid():
    onehot = [2**e for e in SIZES.onehot_growth_exponents] + [2**e for e in range(max(SIZES.onehot_growth_exponents) + 1, 9)]
    binary = [2**e for e in SIZES.binary_growth_exponents]
    rows = {"SSM outer product (query last)": {}, "Transformer attention, Zoology (query last)": {},
            "SSM binary match (query first)": {}}
    for c in onehot:
        for name, r in (("SSM outer product (query last)", measure(outer_product.build(ARConfig(c, c, 1)).network)),
                        ("Transformer attention, Zoology (query last)", mqar_zoology.build(ARConfig(c, c, 1)).resources())):
            for k, v in comparable(r, 3).items():
                rows[name].setdefault(k, []).append(v)
    for c in binary:
        r = measure(binary_query_first.build(ARConfig(c, c, 1, query="first")).network)
        for k, v in comparable(r, 3).items():
            rows["SSM binary match (query first)"].setdefault(k, []).append(v)
    return onehot, binary, rows


@pytest.mark.claim("transformer.vs-ssm.resources")
def test_recall_resources_side_by_side_over_the_vocabulary(evidence):
    onehot, binary, rows = recall_grid()
    K, V = sp.symbols("K V", positive=True, integer=True)
    c = sp.Symbol("c", positive=True, integer=True)
    n = sp.Symbol("n", positive=True, integer=True)
    g2, g3, zoo = outer_product.closed_form(), binary_query_first.closed_form(), mqar_zoology.closed_form()
    assert not closed_form_mismatches({"parameters": zoo["parameters"]},
                                      mqar_zoology.build(ARConfig(12, 12, 1)).resources(), {"c": 12})
    closed = {
        "SSM outer product (query last)": {"parameters": g2["parameters"].subs({K: X, V: X}), "width": g2["fnn_width"].subs({K: X, V: X})},
        "SSM binary match (query first)": {"parameters": g3["parameters"].subs({K: X, V: X, n: 1}),
                                           "width": g3["fnn_width"].subs({K: X, V: X, n: 1})},
        "Transformer attention, Zoology (query last)": {"parameters": zoo["parameters"].subs(c, X), "width": zoo["d_model"].subs(c, X)},
    }
    grids = {name: (binary if "binary" in name else onehot) for name in rows}
    table = {name: classify_table(grids[name], {name: res}, closed)[name] for name, res in rows.items()}
    # beyond what can be built (|V|^2 memory cells), the closed forms checked above carry the curves on
    extended = [2**e for e in range(2, 17)]
    for name in ("SSM outer product (query last)", "Transformer attention, Zoology (query last)"):
        label = f"{name}, closed form"
        grids[label] = extended
        rows[label] = {res: [int(closed[name][res].subs(X, v)) for v in extended] for res in ("parameters", "width")}
    evidence.record(
        **{"table:recall_growth_in_vocabulary": table,
           "figure:recall_parameters_vs_vocabulary": figure(
            "recall_parameters_vs_vocabulary", "Associative recall: parameters vs |V|", "|V| (keys = values)",
            "nonzero parameters", grids, rows, "parameters", table=table,
            note="closed-form curves: checked equal to the measured counts where both exist; dashed: fitted growth"),
           "figure:recall_width_vs_vocabulary": figure(
            "recall_width_vs_vocabulary", "Associative recall: width vs |V|", "|V| (keys = values)",
            "width (FNN / channels / d_model)", grids, rows, "width", table=table,
            note="closed-form curves: checked equal to the measured counts where both exist; dashed: fitted growth")},
    )
    unclear = [(name, res) for name, t in table.items() for res, row in t.items() if row["class"] == "unclear"]
    assert not unclear, f"growth not settled for {unclear}"
    assert table["SSM outer product (query last)"]["width"]["class"] == "polynomial"
    assert table["SSM binary match (query first)"]["parameters"]["class"] == "polylog"


# ----------------------------------------------------------------------------- copying vs L
def ngram_length(L: int) -> int:
    return math.ceil(math.log(L**2 / COPY_EPS) / math.log(COPY_ALPHABET))


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


def copy_grid():
    rows = {"SSM fixed-length shift": {}, "SSM n-gram lookup": {}, "Transformer n-gram lookup, Jelassi": {}}
    width, D, n = ngram_width_closed_form()
    for L in COPY_LENGTHS:
        context = 2 * L + 3
        for k, v in comparable(measure(fixed_length.build(CopyConfig(COPY_ALPHABET, L)).network), context).items():
            rows["SSM fixed-length shift"].setdefault(k, []).append(v)
        grams = ngram_length(L)
        for k, v in comparable(copy_jelassi.build(CopyConfig(COPY_ALPHABET, L), grams).resources(), context).items():
            rows["Transformer n-gram lookup, Jelassi"].setdefault(k, []).append(v)
        rows["SSM n-gram lookup"].setdefault("width", []).append(int(width.subs({D: COPY_ALPHABET, n: grams})))
        rows["SSM n-gram lookup"].setdefault("context_span", []).append(context)
    return rows


@functools.cache
def copy_table():
    rows = copy_grid()
    D, n = sp.symbols("D n", positive=True, integer=True)
    fixed = fixed_length.closed_form()
    grams = sp.log(X**2 / sp.Rational(1, 100)) / sp.log(COPY_ALPHABET)  # n(L) without the ceiling
    closed = {
        "SSM fixed-length shift": {"parameters": fixed["parameters"].subs({D: COPY_ALPHABET, n: X}),
                                   "width": fixed["fnn_width"].subs({D: COPY_ALPHABET})},
        "SSM n-gram lookup": {"width": (COPY_ALPHABET + 2) ** grams * (COPY_ALPHABET + 1)},
    }
    return rows, classify_table(COPY_LENGTHS, rows, closed)


@pytest.mark.claim("transformer.vs-ssm.resources")
def test_copying_resources_side_by_side_over_the_length(evidence):
    rows, table = copy_table()
    growing = {name: sorted(res for res, row in t.items() if row["class"] == "polynomial") for name, t in table.items()}
    evidence.record(
        **{"table:copy_growth_in_length": table}, polynomially_growing_resources=growing,
        ngram_lengths={str(L): ngram_length(L) for L in COPY_LENGTHS},
        **{"figure:copy_width_vs_length": figure(
            "copy_width_vs_length", "Copying (D = 4, eps = 0.01): width vs L", "string length L",
            "width (FNN / channels / d_model)", COPY_LENGTHS, rows, "width", table=table,
            note="n-gram SSM width from its closed form, checked against measurements for n <= 3; dashed: fitted growth"),
           "figure:copy_parameters_vs_length": figure(
            "copy_parameters_vs_length", "Copying: parameters vs L", "string length L", "nonzero parameters",
            COPY_LENGTHS, rows, "parameters", table=table),
           "figure:copy_window_vs_length": figure(
            "copy_window_vs_length", "Copying: span of the sequence a layer sees", "string length L",
            "window U (SSM) / context (attention)", COPY_LENGTHS, rows, "context_span")},
    )
    unclear = [(name, res) for name, t in table.items() for res, row in t.items() if row["class"] == "unclear"]
    assert not unclear, f"growth not settled for {unclear}"
