"""The mutation-campaign machinery (:mod:`constructions.mutation_campaign`): mutants change exactly
what they say and are undone exactly; the campaign counts equivalent, caught and missed mutants
right, and refuses to run on a broken construction or with a mutant it cannot undo."""

from __future__ import annotations

import pytest
import torch

from checks.assertions import assert_exact
from constructions.associative_recall import outer_product
from constructions.copying import fixed_length, ngram
from constructions.mutation import apply_in_place, mutate
from constructions.mutation_campaign import (
    Mutant,
    Probe,
    all_mutants,
    perturbations,
    run_campaign,
    structural_mutants,
    weight_mutants,
)
from constructions.ssm import ShiftSSM
from constructions.tasks.associative_recall import ARConfig, enumerate_instances
from constructions.tasks.copying import CopyConfig, all_strings, assemble
from constructions.transformer import mqar_zoology
from constructions.verification import verify

RECALL = ARConfig(2, 2, 2, num_queries=2)


def snapshot(network: torch.nn.Module) -> dict[str, torch.Tensor]:
    return {n: (p.detach().to_dense() if p.is_sparse else p.detach()).clone() for n, p in network.named_parameters()}


def assert_same(network: torch.nn.Module, before: dict[str, torch.Tensor]) -> None:
    after = snapshot(network)
    assert after.keys() == before.keys()
    for name, tensor in before.items():
        assert torch.equal(after[name], tensor), name


def test_perturbations_are_zero_and_w_plus_one_and_differ():
    assert perturbations(2.0) == (0.0, 3.0)
    assert perturbations(-4.0) == (0.0, -3.0)
    assert perturbations(-1.0) == (0.0, -2.0)  # w + 1 would repeat the first


def test_weight_mutants_cover_every_nonzero_weight_but_the_shift_realization_b():
    network = outer_product.build(RECALL).network
    nonzeros = 0
    for prefix, module in network.named_modules():
        for attr, p in module.named_parameters(recurse=False):
            if not (isinstance(module, ShiftSSM) and attr == "B"):
                nonzeros += int((p != 0).sum())
    mutants = weight_mutants(network)
    assert len(mutants) == 2 * nonzeros
    assert not any(m.parameter.endswith("ssm.B") or ".groups.1.B" in m.parameter for m in mutants)
    assert len({(m.parameter, m.index, m.description) for m in mutants}) == len(mutants)


@pytest.mark.parametrize("build", [lambda: outer_product.build(RECALL), lambda: ngram.build(CopyConfig(2, 2), 1)],
                         ids=["dense", "sparse"])
def test_each_weight_mutant_sets_its_entry_and_is_undone_exactly(build):
    network = build().network
    before = snapshot(network)
    for mutant in weight_mutants(network):
        undo = mutant.apply(network)
        changed = {n for n, t in snapshot(network).items() if not torch.equal(t, before[n])}
        assert changed == {mutant.parameter}, mutant
        new = float(mutant.description.rsplit("-> ", 1)[1])
        assert float(snapshot(network)[mutant.parameter][mutant.index]) == new
        undo()
    assert_same(network, before)


def test_in_place_mutation_agrees_with_the_copying_mutate():
    construction = outer_product.build(RECALL)
    mutation = outer_product.mutations(RECALL)[0]
    copied = mutate(construction, mutation)
    tokens = enumerate_instances(RECALL).tokens
    undo = apply_in_place(construction.network, mutation)
    assert torch.equal(construction.outputs(tokens), copied.outputs(tokens))
    undo()
    assert verify(construction, tokens).ok and not verify(copied, tokens).ok


def test_structural_mutants_shift_lags_and_windows_by_one_and_are_undone():
    construction = fixed_length.build(CopyConfig(2, 3))  # one shift channel: x_{t-3}
    network = construction.network
    before_kernel = network.blocks[0].ssm.kernel(6)
    mutants = {m.description: m for m in structural_mutants(network)}
    later = next(m for d, m in mutants.items() if "lag 3 -> 4" in d)
    earlier = next(m for d, m in mutants.items() if "lag 3 -> 2" in d)
    longer = next(m for d, m in mutants.items() if "window 4 -> 5" in d)
    for mutant, taps in ((later, [0, 0, 0, 0, 1, 0]), (earlier, [0, 0, 1, 0, 0, 0]), (longer, [0, 0, 0, 1, 1, 0])):
        undo = mutant.apply(network)
        assert network.blocks[0].ssm.kernel(6)[0].tolist() == taps, mutant
        undo()
        assert torch.equal(network.blocks[0].ssm.kernel(6), before_kernel)
    assert not any("window 4 -> 3" in d for d in mutants)  # one tap: window - 1 would only cut the channel


def test_row_swaps_and_head_lags_are_undone():
    for construction in (outer_product.build(RECALL), ngram.build(CopyConfig(2, 2), 1), mqar_zoology.build(RECALL)):
        network = construction.network
        before = snapshot(network)
        lags = [h.lag for h in network.modules() if hasattr(h, "lag")]
        for mutant in structural_mutants(network):
            undo = mutant.apply(network)
            undo()
        assert_same(network, before)
        assert [h.lag for h in network.modules() if hasattr(h, "lag")] == lags
    kinds = {m.description.split(": ")[1].split(" ")[0] for m in structural_mutants(mqar_zoology.build(RECALL).network)}
    assert "exact" in kinds  # the lag-1 head is shifted


def every_instance(configs, name="domain") -> Probe:
    return Probe(name, lambda: [(c, enumerate_instances(c).tokens) for c in configs], assert_exact)


def test_a_weak_check_misses_mutants_that_an_exhaustive_one_catches():
    """One instance of one format catches fewer mutants than every instance; what it misses is listed."""
    domain = [ARConfig(2, 2, 1), ARConfig(2, 2, 2), RECALL]
    weak = Probe("one instance", lambda: [(RECALL, enumerate_instances(RECALL).tokens[:1])], assert_exact)
    mutants = all_mutants(outer_product.build(RECALL).network)
    result = run_campaign(outer_product.build, mutants, every_instance(domain), [weak, every_instance(domain, "exhaustive")])
    summary = result.summary()
    assert summary["mutants"] == len(mutants) == summary["caught"] + summary["equivalent"] + summary["missed"]
    assert summary["missed"] == 0  # the exhaustive check catches every mutant that is not equivalent
    assert 0 < summary["caught_by_each_check"]["one instance"] < summary["caught_by_each_check"]["exhaustive"]
    weak_only = run_campaign(outer_product.build, mutants, every_instance(domain), [weak])
    assert weak_only.count("missed") == summary["caught_by_each_check"]["exhaustive"] - summary["caught_by_each_check"]["one instance"]
    listed = weak_only.summary()["missed_list"][0]
    assert set(listed) == {"kind", "description", "parameter", "index"}


def test_equivalent_mutants_are_exact_on_the_whole_domain():
    config = CopyConfig(3, 4)
    cases = [(config, assemble(config, all_strings(3, 4)).tokens)]
    domain = Probe("domain", lambda: cases, assert_exact)
    mutants = all_mutants(fixed_length.build(config).network)
    result = run_campaign(fixed_length.build, mutants, domain, [domain])
    equivalent = [o.mutant for o in result.outcomes if o.verdict == "equivalent"]
    assert equivalent and result.count("missed") == 0
    construction = fixed_length.build(config)
    for mutant in equivalent:
        undo = mutant.apply(construction.network)
        assert verify(construction, cases[0][1]).ok, mutant
        undo()


def test_a_broken_construction_or_a_mutant_that_is_not_undone_stops_the_campaign():
    domain = every_instance([RECALL])
    broken = lambda config: mutate(outer_product.build(config), outer_product.mutations(config)[0])  # noqa: E731
    with pytest.raises(AssertionError, match="unbroken construction is not exact"):
        run_campaign(broken, [], domain, [])

    def cut_without_undo(network):
        network.blocks[0].ssm.C.data.zero_()
        return lambda: None

    sticky = Mutant("weight", "every tap of SSM 1 cut, never restored", "blocks.0.ssm.C", (), cut_without_undo)
    with pytest.raises(AssertionError, match="not undone"):
        run_campaign(outer_product.build, [sticky], domain, [domain])


def test_probe_cases_are_computed_once_and_only_when_needed():
    calls = []
    probe = Probe("counted", lambda: calls.append(1) or [(RECALL, enumerate_instances(RECALL).tokens)], assert_exact)
    assert not calls
    probe.all_cases()
    probe.all_cases()
    assert calls == [1]
