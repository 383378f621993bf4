"""Theorem 3.1's poly-log reading, decided from the built copiers (claims ``copy.polylog.length``
and ``copy.polylog.window-free``).

Summaries of the paper say a two-layer SSM+FNN copies length-``L`` strings with error ``eps`` using
poly-logarithmically many parameters in ``L`` (and ``1/eps``). Whether the window ``U`` of an SSM
filter counts as parameters decides the question (PAPER.md §5: a fixed-window, finite-precision
SSM+FNN must have ``U >= L`` or a state of ``L log2 D`` bits), so the suite checks both readings:

* ``copy.polylog.length`` -- the window counts: parameters are all nonzero entries of the built
  tensors, the shift structure ``J_U`` that realizes a window included (``U - 1`` per channel);
* ``copy.polylog.window-free`` -- the window is free: the shift structure is left out.

Each copier of the suite is built over ``L = 2^4 .. 2^14`` at ``eps = 0.01`` and over
``eps = 4^-1 .. 4^-10`` at ``L = 256`` (``D = 4`` symbols). It must copy with error at most
``eps``: the fixed-length shift copier is verified exact on random strings at every ``L`` (error 0
for every ``eps``); the n-gram copier's error is at most ``L^2 D^-n <= eps`` by its choice of
``n(L, eps) = ceil(log(L^2/eps) / log D)`` (claims ``copy.ngram.error-bound`` and
``limits.ngram-2.4``), and its width beyond the sizes that can be built comes from its closed
form, checked against measurements where both exist (``transformer.vs-ssm.resources``). Every
counted resource -- parameters, width, FNN depth, weight bound, weight bits -- gets a growth class
in ``L`` and in ``1/eps`` (:func:`claims.growth.growth_class`). A construction is a poly-log copier
when it copies and none of its counted resources grows polynomially; the verdict:

* holds when some construction is a poly-log copier;
* fails when every construction copies but has a counted resource that grows polynomially (named);
* inconclusive otherwise (a growth class left unclear, or no construction that copies).
"""

from __future__ import annotations

import functools
import math

import pytest
import sympy as sp
import torch

from checks import profiles
from checks.assertions import assert_exact
from claims.growth import growth_class
from constructions.copying import fixed_length, ngram
from constructions.limits.window import truncated
from constructions.mutation import mutate
from constructions.resources import measure
from constructions.tasks.copying import CopyConfig, generate

SIZES = profiles.current()
ALPHABET = 4
LENGTHS = [2**e for e in range(4, 15)]
EPSILON_AT, EPSILONS = 256, [4.0**-k for k in range(1, 11)]  # powers of D: n(L, eps) steps by one, no ceiling jitter
EPSILON_FOR_LENGTHS = 0.01
X = sp.Symbol("x", positive=True)
POLYLOG = ("constant", "polylog")


def ngram_length(L: int, eps: float) -> int:
    return math.ceil(math.log(L**2 / eps) / math.log(ALPHABET))


@functools.cache
def _fixed_length_resources(L: int, fault: str | None) -> dict:
    """Counted resources of the fixed-length copier for strings of length ``L`` (``fault``: ``"dead"``
    for its growth fault, ``"cut"`` for its window cut to 16 taps), and whether it copies."""
    config = CopyConfig(ALPHABET, L)
    construction = fixed_length.build(config)
    if fault == "dead":
        construction = mutate(construction, fixed_length.growth_faults(config)[0])
    if fault == "cut":
        construction.network = truncated(construction.network, 16)
    tokens = generate(config, 2, L).tokens
    try:
        assert_exact(construction, tokens)
        copies = True
    except AssertionError:
        copies = False
    r = measure(construction.network)
    return {"copies": copies, "parameters": r.parameters, "parameters_outside_window": r.parameters - r.shift_structure_nonzeros,
            "width": max(r.fnn_width, r.channels), "depth": r.fnn_depth, "weight_bound": r.weight_bound, "weight_bits": r.weight_bits,
            "window": r.window}


def fixed_length_rows(fault: str | None = None) -> dict:
    """``{grid: {resource: [values]}}`` over L (at eps = 0.01) and over 1/eps (at L = 256): the same
    network for every eps, since it is exact."""
    over_L = [_fixed_length_resources(L, fault) for L in LENGTHS]
    at = _fixed_length_resources(EPSILON_AT, fault)
    return {"L": {k: [row[k] for row in over_L] for k in at}, "1/eps": {k: [at[k]] * len(EPSILONS) for k in at}}


def ngram_rows() -> dict:
    """The n-gram copier's width from its closed form (checked against measurements in
    checks/test_scaling.py), over L and over 1/eps; it copies with error <= L^2 D^-n <= eps."""
    D, n = sp.symbols("D n", positive=True, integer=True)
    width = ngram.closed_form()["fnn_width"]

    def at(L, eps):
        return int(width.subs({D: ALPHABET, n: ngram_length(L, eps)}))

    return {"L": {"copies": [True] * len(LENGTHS), "width": [at(L, EPSILON_FOR_LENGTHS) for L in LENGTHS]},
            "1/eps": {"copies": [True] * len(EPSILONS), "width": [at(EPSILON_AT, e) for e in EPSILONS]}}


GRIDS = {"L": LENGTHS, "1/eps": [1 / e for e in EPSILONS]}
COUNTED = {"window counts": ("parameters", "width", "depth", "weight_bound", "weight_bits"),
           "window free": ("parameters_outside_window", "width", "depth", "weight_bound", "weight_bits")}


def copier_verdict(constructions: dict[str, dict], reading: str) -> tuple[str, str, dict]:
    """``(verdict, reason, table)`` of the poly-log question under ``reading`` (a key of ``COUNTED``)
    for ``{name: {grid: {resource: values}}}`` (module docstring). The reason is built from the
    measured classes."""
    table, growing, unclear, copiers = {}, {}, {}, []
    for name, grids in constructions.items():
        if not all(all(g["copies"]) for g in grids.values()):
            table[name] = {"copies": {"class": "no: it does not copy on every grid point"}}
            continue
        copiers.append(name)
        row = {}
        for grid, resources in grids.items():
            for resource in COUNTED[reading]:
                if resource in resources:
                    row[f"{resource} in {grid}"] = growth_class(GRIDS[grid], resources[resource])
        table[name] = row
        growing[name] = [f"{k} ({v['class']}{', degree %.2f' % v['late_slope'] if v['class'] == 'polynomial' else ''})"
                         for k, v in row.items() if v["class"] not in POLYLOG + ("unclear",)]
        unclear[name] = [k for k, v in row.items() if v["class"] == "unclear"]
    polylog = [name for name in copiers if not growing[name] and not unclear[name]]
    if polylog:
        return "holds", f"{', '.join(polylog)}: every counted resource ({reading}) is poly-log in L and 1/eps", table
    if copiers and all(growing[name] for name in copiers):
        return "fails", "every copier has a counted resource ({}) growing polynomially: {}".format(
            reading, "; ".join(f"{name}: {', '.join(growing[name])}" for name in copiers)), table
    return "inconclusive", f"copiers {copiers}; growth unclear for {unclear}; growing {growing}", table


def all_copiers() -> dict:
    return {"SSM fixed-length shift (1 layer)": fixed_length_rows(), "SSM n-gram lookup (2 layers)": ngram_rows()}


def decide(reading: str, constructions: dict, evidence) -> None:
    verdict, reason, table = copier_verdict(constructions, reading)
    evidence.record(**{f"table:copy_growth_{reading.replace(' ', '_')}": {
        name: {res: cell for res, cell in row.items()} for name, row in table.items()}},
        reading=reading, verdict=verdict, reason=reason,
        ngram_lengths={"over L": {str(L): ngram_length(L, EPSILON_FOR_LENGTHS) for L in LENGTHS},
                       "over 1/eps": {str(e): ngram_length(EPSILON_AT, e) for e in EPSILONS}})
    if verdict == "inconclusive":
        evidence.inconclusive(reason)
    assert verdict == "holds", reason


@pytest.mark.claim("copy.polylog.length")
def test_copying_with_the_window_counted_as_parameters(evidence):
    decide("window counts", all_copiers(), evidence)


@pytest.mark.claim("copy.polylog.window-free")
def test_copying_with_the_window_free(evidence):
    decide("window free", all_copiers(), evidence)


CUT = "the fixed-length copier's window cut to 16 taps (every counted resource constant): it no longer copies, and " \
      "the check must not count it as a poly-log copier"


@pytest.mark.claim("copy.polylog.length", role="control", breaks=CUT)
@pytest.mark.claim("copy.polylog.window-free", role="control", breaks=CUT)
def test_a_copier_cut_to_a_constant_window_is_not_counted(evidence):
    for reading in COUNTED:
        verdict, reason, table = copier_verdict({"cut fixed-length shift": fixed_length_rows("cut")}, reading)
        assert verdict != "holds", reason
    evidence.record(cut_copier=table)


@pytest.mark.claim("copy.polylog.window-free", role="control",
                   breaks="the fixed-length copier: L/16 dead hidden units added (still exact; parameters outside the "
                          "window grow linearly in L)")
def test_dead_units_growing_with_the_length_are_caught(evidence):
    verdict, reason, table = copier_verdict({"fixed-length shift + dead units": fixed_length_rows("dead")}, "window free")
    evidence.record(grown=table, grown_verdict=verdict)
    assert verdict == "fails", reason
