"""Query-last recall needs ``V^N`` states after the pairs (claim ``limits.query-last-state``).

The proof object (:mod:`constructions.limits.recall_states`) is a counting argument over the
prefixes (the pairs) of the query-last format; the checks run it exhaustively on small formats and
then read the consequence off networks with the sketch machinery of ``limits.single-layer``
(:mod:`constructions.limits.sketch`):

* **counting** -- on every small format: the answer classes number ``C(K, N) V^N``; every extension
  set has ``V^(K-N)`` members; two prefixes conflict iff their extension sets are disjoint
  (exhaustive over all pairs of classes); the fixed-key family of ``V^N`` classes conflicts
  pairwise, so the largest conflicting family is ``V^N`` (sympy closed forms; on tiny formats also
  an exact clique search); ``log2`` of it is ``N log2 V``. The exact fewest states (exact cover
  search on tiny formats) equals the known covering-array numbers and is at least ``V^N``;
* **networks with too few states collide** -- on the exhaustive prefix family, every network whose
  (exact or ``b``-bit) state after the pairs takes fewer distinct values than the fewest states the
  format needs has two prefixes with one state and different answers, found by the exhaustive
  collision search: quantized exact constructions, the two-layer constructions cut to one layer,
  random one-layer sketches;
* **the exact networks keep enough states** -- the outer-product and precision-route constructions
  keep every conflicting pair apart and reach at least that many distinct states, and their measured
  state bits (:func:`constructions.resources.measure_state`) are at least its ``log2``.

Controls break the proof object (an answer table with one query fewer, closed forms off by one) and
the state (a construction quantized to too few bits) and are caught.
"""

from __future__ import annotations

import functools
import math

import pytest
import sympy as sp
import torch

from checks import profiles
from constructions.associative_recall import binary_query_first, outer_product, precision_route
from constructions.limits import families
from constructions.limits import recall_states as rs
from constructions.limits.sketch import find_collision, one_layer, prefix_states
from constructions.limits.single_layer import random_single_layer
from constructions.resources import measure_state
from constructions.tasks.associative_recall import ARConfig

CLAIM = "limits.query-last-state"

#: per profile: formats counted exhaustively (K, V, N); the largest answer-class count for the
#: exact clique and cover searches; formats the networks are run on; state bits per entry of the
#: quantized readings; generic one-layer sketches (channels, state size, bits)
GRID = {
    "tiny": dict(counted=((2, 2, 1), (3, 2, 2), (4, 2, 2), (2, 3, 2)), search_limit=30,
                 networks=((3, 2, 2), (4, 2, 2)), bits=(0, 1, 2), sketches=((1, 1, 1), (1, 2, 1))),
    "quick": dict(counted=((2, 2, 1), (3, 2, 1), (2, 3, 2), (3, 2, 2), (3, 3, 2), (4, 2, 2), (4, 2, 3), (4, 3, 2),
                           (5, 2, 2), (4, 4, 2), (4, 4, 3)), search_limit=60,
                  networks=((3, 2, 2), (4, 2, 2), (3, 3, 2), (4, 2, 3)), bits=(0, 1, 2, 3),
                  sketches=((1, 1, 1), (1, 2, 1), (2, 1, 2), (1, 3, 1))),
    "thorough": dict(counted=((2, 2, 1), (3, 2, 1), (2, 3, 2), (3, 2, 2), (3, 3, 2), (4, 2, 2), (4, 2, 3), (4, 3, 2),
                              (5, 2, 2), (6, 2, 2), (5, 2, 3), (4, 4, 2), (4, 4, 3), (4, 3, 3), (5, 3, 2)), search_limit=80,
                     networks=((3, 2, 2), (4, 2, 2), (3, 3, 2), (4, 2, 3), (4, 4, 3), (5, 3, 3)), bits=(0, 1, 2, 3, 4, 6),
                     sketches=((1, 1, 1), (1, 2, 1), (2, 1, 2), (1, 3, 1), (2, 2, 2))),
}
SIZES = profiles.current()
G = GRID[SIZES.row]
K_, V_, N_ = sp.symbols("K V N", positive=True, integer=True)


@functools.lru_cache(maxsize=64)
def counted(K: int, V: int, N: int) -> rs.Counting:
    limit = G["search_limit"]
    return rs.certify(ARConfig(K, V, N), clique_limit=limit, cover_limit=limit)


def states_needed(config: ARConfig) -> int:
    """The fewest states the format needs: the exact cover search where it ran, else ``V^N``."""
    c = counted(config.num_keys, config.num_values, config.num_pairs)
    return c.fewest_states if c.fewest_states is not None else c.fixed_key_family


# ----------------------------------------------------------------------------- counting
@pytest.mark.claim(CLAIM)
def test_counting_argument_holds_on_every_prefix_of_small_formats(evidence):
    rows = []
    for K, V, N in G["counted"]:
        c = counted(K, V, N)
        assert not c.problems, f"K={K}, V={V}, N={N}: " + "; ".join(c.problems)
        assert c.conflict_iff_disjoint_extensions and c.fixed_key_family_conflicts_pairwise
        rows.append(c.to_dict())
        evidence.count("prefixes enumerated", c.prefixes)
        evidence.count("formats counted")
    searched = [r for r in rows if r["largest_conflicting_family"] is not None]
    assert searched, "no format small enough for the exact clique search"
    evidence.record(counting=rows, closed_forms={k: str(e) for k, e in rs.closed_forms().items()},
                    exact_searches=f"clique and cover searched exactly up to {G['search_limit']} answer classes")


@pytest.mark.claim(CLAIM)
def test_fewest_states_are_the_covering_numbers_and_can_exceed_v_to_the_n(evidence):
    found = {}
    for K, V, N in G["counted"]:
        c = counted(K, V, N)
        if c.fewest_states is None:
            continue
        assert c.fewest_states >= V**N
        known = rs.fewest_states_closed_form(K, V, N)
        assert known is None or c.fewest_states == known, (K, V, N, c.fewest_states, known)
        found[f"K={K}, V={V}, N={N}"] = {"fewest_states": c.fewest_states, "V^N": V**N, "closed_form": known}
    above = [k for k, r in found.items() if r["fewest_states"] > r["V^N"]]
    assert any(r["closed_form"] is not None for r in found.values()), f"no searched format has a known value: {found}"
    evidence.record(fewest_states=found, formats_needing_more_than_V_to_the_N=above,
                    meaning="V^N (N log2 V bits) is the counting bound; the exact minimum is the covering-array number, "
                            "larger for some formats")


# ----------------------------------------------------------------------------- networks
@functools.lru_cache(maxsize=16)
def networks_for(config: ARConfig) -> dict:
    """Networks to read the consequence off: the exact query-last constructions, and the two-layer
    constructions cut after their first layer (exact states, too little memory)."""
    nets = {"outer-product": outer_product.build(config).network,
            "precision-route": precision_route.build(config).network}
    nets["outer-product cut to one layer"] = one_layer(nets["outer-product"])
    nets["precision-route cut to one layer"] = one_layer(nets["precision-route"])
    return nets


def collision_row(name: str, states: torch.Tensor, family, needed: int, bits: int | None) -> dict:
    """Search the family's prefixes for two with one state (``states``: the network's after each
    prefix, read with ``bits`` per entry) and different answers; if the states take fewer values
    than ``needed``, the collision must be found."""
    result = find_collision(states, family.answers, bits)
    row = {"network": name, "bits_per_entry": bits, "distinct_states": result.distinct_sketches, "states_needed": needed,
           "collision_found": result.collision is not None}
    if result.distinct_sketches < needed:
        assert result.collision is not None, f"{name} ({bits} bits): {result.to_dict()} -- fewer states than the count, no collision"
    return row


@pytest.mark.claim(CLAIM)
def test_networks_with_fewer_states_than_the_count_have_colliding_prefixes(evidence):
    rows, forced = [], 0
    for K, V, N in G["networks"]:
        config = ARConfig(K, V, N)
        family = families.recall_query_last(config)
        needed = states_needed(config)
        for name, network in networks_for(config).items():
            states = prefix_states(network, family.prefixes)
            for bits in (None, *G["bits"]):
                row = collision_row(name, states, family, needed, bits)
                forced += row["distinct_states"] < needed
                rows.append({"format": str(config), **row})
        for seed, (channels, state, bits) in enumerate(G["sketches"]):
            states = prefix_states(random_single_layer(config.vocabulary(), channels, state, seed), family.prefixes)
            row = collision_row(f"random one layer ({channels} x {state} entries)", states, family, needed, bits)
            forced += row["distinct_states"] < needed
            rows.append({"format": str(config), **row})
    assert forced, "no network had fewer states than the count: the consequence was not exercised"
    evidence.count("networks with fewer states than the count, shown to collide", forced)
    evidence.record(collisions=rows)


def assert_keeps_enough_states(name: str, network, config: ARConfig, bits: int | None = None) -> dict:
    """Exact query-last networks: no colliding prefixes, at least as many distinct states after the
    pairs as the format needs, and measured state bits at least its log2."""
    family = families.recall_query_last(config)
    needed = states_needed(config)
    result = find_collision(prefix_states(network, family.prefixes), family.answers, bits)
    assert result.collision is None, f"{name} on {config} ({bits} bits per entry): colliding prefixes {result.to_dict()}"
    assert result.distinct_sketches >= needed, f"{name}: {result.distinct_sketches} distinct states, the format needs {needed}"
    state = measure_state(network, family.prefixes)
    assert state.state_bits >= math.log2(needed), f"{name}: {state.state_bits} state bits < log2 {needed}"
    return {"network": name, "format": str(config), "distinct_states": result.distinct_sketches, "states_needed": needed,
            "state_bits_needed": round(math.log2(needed), 4), "measured_state_bits": state.state_bits,
            "measured_state_bits_per_layer": [layer.bits for layer in state.layers]}


@pytest.mark.claim(CLAIM)
def test_exact_query_last_networks_keep_at_least_that_many_states(evidence):
    rows = []
    for K, V, N in G["networks"]:
        config = ARConfig(K, V, N)
        for name in ("outer-product", "precision-route"):
            rows.append(assert_keeps_enough_states(name, networks_for(config)[name], config))
    evidence.record(exact_networks=rows)


@pytest.mark.claim(CLAIM)
def test_query_first_escapes_the_count(evidence):
    """Scope: the count is about query-LAST recall. With the query first, the state need not keep
    every value: on every query-first instance (cut before the last value, where the answer is
    read) the binary query-first construction reaches fewer distinct states than V^N and is exact."""
    config = ARConfig(4, 4, 3, query="first")
    family = families.recall_query_first(config)
    result = find_collision(prefix_states(binary_query_first.build(config).network, family.prefixes), family.answers)
    assert result.collision is None
    assert result.distinct_sketches < config.num_values**config.num_pairs, result.to_dict()
    evidence.record(query_first={"format": str(config), "prefixes": len(family.prefixes),
                                 "distinct_states": result.distinct_sketches, "V^N": config.num_values**config.num_pairs})


# ----------------------------------------------------------------------------- controls
@pytest.mark.claim(CLAIM, role="control", breaks="the count's proof object: the answer table with one query fewer")
def test_count_with_one_query_fewer_is_rejected(evidence):
    caught = {}
    for K, V, N in ((3, 2, 2), (4, 2, 2), (2, 3, 2)):
        config = ARConfig(K, V, N)
        table = families.recall_query_last(config).answers
        broken = rs.certify(config, table[:, :-1], clique_limit=G["search_limit"])
        assert broken.problems, f"{config}: the count without query {K - 1} passed"
        caught[str(config)] = list(broken.problems)
    evidence.record(caught=caught)


@pytest.mark.claim(CLAIM, role="control", breaks="the closed forms the counts are compared with, each off by one")
def test_closed_forms_off_by_one_are_rejected(evidence):
    caught = {}
    for name in ("answer_classes", "extensions_per_prefix", "largest_conflicting_family"):
        for delta in (1, -1):
            forms = {**rs.closed_forms(), name: rs.closed_forms()[name] + delta}
            broken = rs.certify(ARConfig(3, 2, 2), forms=forms)
            assert broken.problems, f"{name} {delta:+d} passed"
            caught[f"{name} {delta:+d}"] = broken.problems[0]
    evidence.record(caught=caught)


@pytest.mark.claim(CLAIM, role="control", breaks="the state: the precision route's states quantized to too few bits per entry")
def test_a_construction_quantized_to_too_few_bits_is_caught(evidence):
    config = ARConfig(3, 2, 2)
    network = networks_for(config)["precision-route"]
    assert_keeps_enough_states("precision-route", network, config)  # exact states: kept apart
    with pytest.raises(AssertionError, match="colliding prefixes") as caught:
        assert_keeps_enough_states("precision-route", network, config, bits=2)
    evidence.record(caught=str(caught.value).splitlines()[0][:400])
