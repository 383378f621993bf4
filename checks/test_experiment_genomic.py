"""The genomic experiment (claim ``experiment.genomic-sparsity``, C6a from summaries of the paper;
:mod:`training.genomic`).

**Synthetic data.** No installed package ships real genomic sequences and nothing is downloaded,
so the sequences are generated (``training/genomic/sites.py``): a synthetic uniform background with
1-2 (quick; 1-3 paper) binding sites of the label's class sampled from a real JASPAR 2024
transcription-factor matrix (every site differs) and up to 2 (3) decoys -- near-motifs (class sites
mutated below the class threshold) and sites of TFs that define no class. A sequence is kept only
when its planted sites are the only windows scoring as a site of any class (integer log-odds at
background p-value 3e-4 quick, 1e-4 paper), so the label is the only class with a site and the
truly important positions are known. Planted JASPAR-sampled sites in a synthetic background: never
real genomic sequences, and every record says so.

An SSM+FNN (dense ``A``, two layers, read out at the last position, cross entropy) is trained on
them for several seeds; on held-out sequences its token importance is measured by occlusion and by
gradient x input. Each seed gets its own verdict (``training.genomic.verdict``), recorded; the claim
is decided over the seeds that learned (accuracy >= 0.9) by two-sided 95% t-intervals
(``training.genomic.seeds_verdict``): mean top-``k`` share of ``|importance|`` >= 0.5 (``k`` = the most
positions the planted sites occupy, ``max_sites`` x the longest class matrix; uniform gives ``k / L``) and mean pairwise Jaccard overlap of the top-``k`` sets <= 0.25
(fixed positions give 1), for both measures; an interval wholly on the wrong side fails, one across
its threshold is inconclusive. One seed is not enough: with one seed the quick verdict flipped from
``holds`` to ``fails`` when an equivalent convolution path changed the training's rounding
(gradient x input share 0.592 -> 0.481; seeds 0-5 give 0.45-0.56).

Controls break the claim's own objects, reusing the trained models (``_RESULTS``; the module is one
xdist group): the trained networks explained on sequences with one site, no decoy, always at the same
start (importance can no longer move with the input: must not hold), and the same networks untrained (must not hold).
The measures and the rule on hand-built models with known important positions (a motif scanner, a
one-position reader, a bag-of-bases counter) are tests of the judge, in ``tests/test_genomic.py``.
Profiles: ``tiny`` (seconds, may well be ``inconclusive``), ``quick`` (L = 64, TBP vs CREB1, 4 seeds,
300 steps), ``paper`` (L = 256, Irf1 vs Nrf1, 4 seeds, width 64, at most 2000 steps with plateau
stopping: the largest length whose training and occlusion fit the profile's budget, about 25 minutes on
one core beside Fig. C.1 on the other, see ``SETUPS``), ``thorough`` (L = 1024, 5 seeds, meant for a GPU).
"""

from __future__ import annotations

import time
from dataclasses import replace

import pytest
import torch

from training.genomic import (
    ACCURACY_MIN,
    SITE,
    GenomicSetup,
    SiteConfig,
    describe_data,
    explain,
    figure_specs,
    generate_sites,
    model_accuracy,
    run_experiment,
    seeds_verdict,
)
from training.plateau import Plateau
from training.result_cache import cache_from_environment
from training.progress import say

#: the paper profile's task: two JASPAR classes (11 and 12 bases), 1-3 sites, up to 3 decoys (the other five
#: matrices); at L = 256 (paper) and 1024 (thorough)
PAPER_DATA = SiteConfig(length=256, classes=("Irf1", "Nrf1"), decoys=("MYB", "TBP", "CREB1", "SP1", "CEBPA"),
                        max_sites=3, max_decoys=3, site_p_value=1e-4)

SETUPS = {
    "tiny": GenomicSetup(data=SiteConfig(length=48, max_sites=1, max_decoys=1), train_samples=512, test_samples=256,
                         explained_samples=8, width=16, fnn_hidden=32, steps=60),
    # L = 64, TBP vs CREB1 (1-2 sites, up to 2 decoys), 2048 sequences, 300 steps
    "quick": GenomicSetup(data=SiteConfig()),
    # L = 256: at L = 1024 one training step took 1.4 s and one forward pass over 1024 sequences 14 s on a
    # loaded core, so 1500 steps and the occlusion of 16 sequences (49,152 variants) alone exceed the budget.
    # Diagonal A at lr 1e-2 (dense A diverged at 1e-2; at 5e-3 one of 3 seeds learned within 1500 steps), at
    # most 2000 steps, plateau patience 8. Width 64: at width 32 (FNN 64) seeds 2 and 3 stopped on the
    # plateau near 0.79 that every seed passes through (3 of 5 learned; state 16 did not change that); at
    # width 64 all of seeds 0-4 left it after 1300-2000 steps, with FNN width 128 and with 64 (probes before
    # this choice, same seeds); FNN 64 costs 0.69x of 128 per step, which the 30-minute budget needs
    "paper": GenomicSetup(data=PAPER_DATA, train_samples=8192, test_samples=1024, explained_samples=16, width=64,
                          fnn_hidden=64, steps=2000, dt_min=1e-3, lr=1e-2, ssm_kind="diagonal",
                          plateau=Plateau(patience=8), eval_every=100, top_k_grid=(1, 2, 4, 8, 12, 16, 36, 64, 128)),
    "thorough": GenomicSetup(data=replace(PAPER_DATA, length=1024), train_samples=16384, test_samples=2048,
                             explained_samples=64, width=64,
                             fnn_hidden=128, steps=3000, dt_min=1e-3, dt_max=1.0, lr=3e-3,
                             top_k_grid=(1, 2, 4, 8, 12, 16, 36, 64, 128)),
}

#: training seeds per profile (the claim is decided over the seeds whose model learned)
#: paper: 4 seeds at width 64 are what the 30-minute budget holds beside Fig. C.1 (a seed takes about 5.5 minutes
#: of one core, training and explaining; with 5 the profile measured over 30 minutes)
SEEDS = {"tiny": (0, 1), "quick": (0, 1, 2, 3), "paper": (0, 1, 2, 3), "thorough": (0, 1, 2, 3, 4)}

#: sequences for the controls (the trained networks explained on other inputs: no training)
CONTROL_SAMPLES = {"tiny": 8, "quick": 32, "paper": 16, "thorough": 64}

#: the experiment's results by (profile, device), reused by the controls of one process
_RESULTS: dict = {}

#: the disk cache of trained models each (profile, device) used (``None``: none), for the evidence
_STORES: dict = {}

#: one xdist worker runs this module (``--dist loadgroup``), so ``_RESULTS`` is shared
pytestmark = [pytest.mark.xdist_group("genomic"), pytest.mark.usefixtures("training_sandbox")]


def _results(sizes, device):
    key = (sizes.name, str(device))
    if key not in _RESULTS:
        _RESULTS[key] = []
        store = _STORES[key] = cache_from_environment()  # when SSM_SUITE_TRAINING_CACHE names a directory
        for seed in SEEDS[sizes.name]:
            result = run_experiment(replace(SETUPS[sizes.name], seed=seed), device, store)
            origin = "from the disk cache" if result.cached else "trained"
            say(f"genomic L {result.setup.data.length} seed {seed}: {origin}, {result.steps_used} steps "
                f"({result.stop_reason}), test accuracy {result.trained.test_accuracy:.3f}, "
                f"{result.train_seconds:.1f} s + {result.importance_seconds:.1f} s explaining")
            _RESULTS[key].append(result)
    return _RESULTS[key]


def _over_seeds(reports):
    return seeds_verdict([r.test_accuracy for r in reports], [list(r.summaries.values()) for r in reports])


@pytest.mark.trains(order=2, by_profile={"paper": 0})  # paper: the longest run, it starts at once
@pytest.mark.claim("experiment.genomic-sparsity")
def test_trained_ssm_fnn_importance_is_sparse_and_input_dependent(sizes, device, evidence):
    start = time.perf_counter()
    results = _results(sizes, device)
    decision, reason, intervals = _over_seeds([r.trained for r in results])
    shown = next((r for r in results if r.trained.test_accuracy >= ACCURACY_MIN),
                 next((r for r in results if not r.trained.diverged), None))
    store = _STORES[(sizes.name, str(device))]
    per_seed = [{"seed": r.setup.seed, "test_accuracy": r.trained.test_accuracy, "verdict": r.verdict,
                 "diverged": r.trained.diverged,
                 **{f"{m}_{key}": getattr(s, key) for m, s in r.trained.summaries.items()
                    for key in ("top_k_share", "top_k_overlap", "motif_agreement")}} for r in results]
    evidence.record(genomic=shown.summary() if shown else "every seed diverged", seeds=per_seed, intervals_over_learned_seeds=intervals,
                    verdict_over_seeds=reason, seconds=round(time.perf_counter() - start, 2),
                    steps_used=[r.steps_used for r in results], stop_reasons=[r.stop_reason for r in results],
                    train_seconds=[round(r.train_seconds, 1) for r in results],
                    from_cache=[r.cached for r in results],
                    **({} if store is None else {"training_cache": store.summary()}),
                    data=describe_data(SETUPS[sizes.name].data), **(figure_specs(shown) if shown else {}))
    if decision == "inconclusive":
        evidence.inconclusive(reason)
    assert decision == "holds", reason


@pytest.mark.claim("experiment.genomic-sparsity", role="control",
                   breaks="the input dependence of what is explained: the trained SSM+FNNs explained on sequences "
                          "with one site, no decoy, always at the same start")
def test_trained_models_explained_where_the_motif_never_moves_are_not_judged_input_dependent(sizes, device, evidence):
    """Each seed's trained network explained on sequences with one site at one fixed start and no decoy
    (a part of its training distribution, so it stays accurate): the important tokens cannot move
    with the input any more, and the claim's check over the seeds must not hold. ``k`` follows the
    explained data's definition (the most positions its planted sites occupy: one site's length)."""
    config = SETUPS[sizes.name].data
    fixed = replace(config, max_sites=1, max_decoys=0, fixed_start=config.length // 2)
    data = generate_sites(fixed, CONTROL_SAMPLES[sizes.name], seed=7).to(device)
    reports = [explain(f"seed {r.setup.seed} on a fixed motif position", r.model, data, model_accuracy(r.model, data))
               for r in _results(sizes, device)]
    decision, reason, intervals = _over_seeds(reports)
    evidence.record(fixed_position={"verdict": decision, "reason": reason, "intervals": intervals,
                                    "accuracies": [r.test_accuracy for r in reports]})
    assert decision != "holds", reason


@pytest.mark.claim("experiment.genomic-sparsity", role="control",
                   breaks="the SSM+FNN's training: the same architecture and seeds at initialisation")
def test_the_untrained_networks_are_not_judged_sparse_and_input_dependent(sizes, device, evidence):
    """The networks of every seed before training (explained by the experiment on the same inputs as
    the trained ones): the claim's check over the seeds must not hold."""
    results = _results(sizes, device)
    decision, reason, intervals = _over_seeds([r.untrained for r in results])
    evidence.record(untrained={"verdict": decision, "reason": reason, "intervals": intervals,
                               "accuracies": [r.untrained.test_accuracy for r in results]})
    assert decision != "holds", reason


def test_generator_plants_sites_that_alone_score_as_sites(sizes):
    """The profile's data (a generator test, no claim): the windows scoring as a site of any class are
    exactly the planted sites of the label's class, at their recorded starts."""
    config = SETUPS[sizes.name].data
    data = generate_sites(config, 4 * CONTROL_SAMPLES[sizes.name], seed=11)
    for c, (matrix, threshold) in enumerate(zip(config.class_matrices(), config.thresholds())):
        hits = (matrix.scores(data.tokens) >= threshold).nonzero()  # (hits, 2): sequence, start
        planted = ((data.kinds == SITE) & (data.labels.unsqueeze(1) == c)).nonzero()  # (sites, 2): sequence, slot
        expected = torch.stack([planted[:, 0], data.starts[planted[:, 0], planted[:, 1]]], 1)
        assert sorted(map(tuple, hits.tolist())) == sorted(map(tuple, expected.tolist()))
