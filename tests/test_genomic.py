"""The synthetic genomic experiment's library (``training/genomic/``): the planted-motif generator,
the batched importance measures against loop references and known answers, the metrics on toy
inputs, the verdict rule, figure specs, and errors that name the problem."""

from __future__ import annotations

import dataclasses

import pytest
import torch
from hypothesis import given, settings

from constructions.errors import ShapeError, TokenRangeError
from checks.strategies import seeds, site_configs
from training import SSMFNN, ConfigError
from training.genomic import (
    MOTIF_FILE,
    NEAR_MOTIF,
    OTHER_TF,
    SITE,
    MotifFileError,
    SiteConfig,
    generate_sites,
    load_motifs,
    parse_motifs,
    ACCURACY_MIN,
    AT_VERSUS_GC,
    MEASURES,
    CompositionCounter,
    GenomicConfig,
    GenomicSetup,
    ImportanceSummary,
    MotifScanner,
    PositionReader,
    class_margin,
    decode,
    encode,
    explain,
    figure_specs,
    generate,
    gradient_input_importance,
    importance,
    is_input_dependent,
    is_sparse,
    model_accuracy,
    motif_agreement,
    motif_occurrences,
    occlusion_importance,
    random_overlap,
    run_experiment,
    seeds_verdict,
    summarize,
    top_k_mask,
    top_k_overlap,
    top_k_share,
    verdict,
)

SMALL = GenomicConfig(length=24, motifs=("TATAAT", "CAGCTG"))


pytestmark = pytest.mark.usefixtures("training_sandbox")  # one thread, global RNG restored


def small_model(config: GenomicConfig = SMALL) -> SSMFNN:
    torch.manual_seed(0)
    return SSMFNN(GenomicSetup(data=config, width=8, fnn_hidden=8).model_config())


# ----------------------------------------------------------------------------- generator
def test_encode_decode_round_trip():
    assert decode(encode("GATTACA")) == "GATTACA"
    assert encode("ACGT").tolist() == [0, 1, 2, 3]


@pytest.mark.parametrize("background", ["uniform", "markov"])
def test_generator_is_pure_in_config_n_and_seed(background):
    config = dataclasses.replace(SMALL, background=background)
    a, b, c = generate(config, 50, seed=3), generate(config, 50, seed=3), generate(config, 50, seed=4)
    assert torch.equal(a.tokens, b.tokens) and torch.equal(a.labels, b.labels) and torch.equal(a.starts, b.starts)
    assert not torch.equal(a.tokens, c.tokens)


@pytest.mark.parametrize("background", ["uniform", "markov"])
def test_generator_plants_the_label_motif_at_the_start_and_nowhere_else(background):
    config = dataclasses.replace(SMALL, background=background)
    data = generate(config, 200, seed=1)
    motifs = config.motif_tokens()
    rows = torch.arange(len(data)).unsqueeze(1)
    planted = data.tokens[rows, data.starts.unsqueeze(1) + torch.arange(6)]
    assert torch.equal(planted, motifs[data.labels])
    assert (motif_occurrences(data.tokens, motifs).sum((1, 2)) == 1).all()
    mask = data.motif_mask()
    assert (mask.sum(1) == 6).all() and mask[rows.squeeze(1), data.starts].all()
    assert set(data.labels.tolist()) == {0, 1} and data.starts.min() >= 0 and data.starts.max() <= 24 - 6
    assert len(set(data.starts.tolist())) > 5  # positions vary with the input


def test_markov_background_follows_its_transitions():
    data = generate(GenomicConfig(length=400, background="markov"), 200, seed=0)
    background = data.tokens[~data.motif_mask()]
    gc = float(((background == 1) | (background == 2)).double().mean())
    assert 0.63 < gc < 0.72  # the GC-rich chain's stationary GC share is 0.68


def test_fixed_start_puts_every_motif_at_the_same_place():
    data = generate(dataclasses.replace(SMALL, fixed_start=9), 40, seed=0)
    assert (data.starts == 9).all()


@pytest.mark.parametrize("overrides, match", [
    ({"motifs": ("TATAAT",)}, "at least two motifs"),
    ({"motifs": ("TATAAT", "CAG")}, "one length"),
    ({"motifs": ("TATAAT", "TATAAT")}, "distinct"),
    ({"motifs": ("TATANT", "CAGCTG")}, "string over ACGT"),
    ({"length": 5}, "exceeds the sequence length"),
    ({"background": "gc"}, "unknown background"),
    ({"transitions": ((1.0, 0.0),)}, "row-stochastic"),
    ({"fixed_start": 19}, "leaves no room"),
])
def test_bad_configs_name_the_problem(overrides, match):
    with pytest.raises(ConfigError, match=match):
        dataclasses.replace(SMALL, **overrides)


def test_bad_letters_and_impossible_motifs_raise():
    with pytest.raises(TokenRangeError, match="ACGT"):
        encode("ACGU")
    with pytest.raises(ConfigError, match="too likely"):  # one-letter motifs occur everywhere
        generate(GenomicConfig(length=50, motifs=("A", "C")), 10, seed=0, max_rounds=5)


# ----------------------------------------------------------------------------- importance
def occlusion_reference(model, tokens, labels):
    """The slow twin: one sequence, one position, one substitute base at a time."""
    with torch.no_grad():
        out = torch.zeros(tokens.shape, dtype=torch.float64)
        for i in range(tokens.shape[0]):
            x, y = tokens[i : i + 1], labels[i : i + 1]
            base = class_margin(model(x)[:, -1], y)
            for t in range(tokens.shape[1]):
                drops = []
                for b in range(4):
                    if b != int(x[0, t]):
                        changed = x.clone()
                        changed[0, t] = b
                        drops.append(float(base - class_margin(model(changed)[:, -1], y)))
                out[i, t] = sum(drops) / len(drops)
    return out


def test_batched_occlusion_equals_its_loop_reference():
    data = generate(SMALL, 3, seed=2)
    model = small_model()
    fast = occlusion_importance(model, data.tokens, data.labels, max_batch=100)  # several passes
    assert fast.shape == (3, 24)
    assert torch.allclose(fast.double(), occlusion_reference(model, data.tokens, data.labels), atol=1e-5)


def test_gradient_input_equals_a_finite_difference_along_the_embedding():
    data = generate(SMALL, 4, seed=5)
    model = small_model().double()
    scores = gradient_input_importance(model, data.tokens, data.labels, max_batch=3)
    assert scores.shape == (4, 24)
    e = model.embed(data.tokens).detach()
    h, t = 1e-6, 7  # d/de s(e + h e_t-direction) = <grad_t, e_t>

    def margin(z):
        handle = model.embed.register_forward_hook(lambda m, a, o: z)
        try:
            return class_margin(model(data.tokens)[:, -1], data.labels)
        finally:
            handle.remove()

    bump = torch.zeros_like(e)
    bump[:, t] = e[:, t]
    numeric = (margin(e + h * bump) - margin(e - h * bump)) / (2 * h)
    assert torch.allclose(scores[:, t].double(), numeric.detach(), atol=1e-5)
    assert model.training  # eval mode was restored


@pytest.mark.parametrize("measure", MEASURES)
def test_a_one_position_reader_is_found_exactly(measure):
    data = generate(SMALL, 10, seed=0)
    for position in (0, 5, SMALL.length - 1):
        reader = PositionReader(position, torch.tensor(AT_VERSUS_GC))
        scores = importance(reader, measure, data.tokens, data.labels)
        assert (scores[:, position].abs() > 0).all() and (scores.abs().argmax(1) == position).all()
        scores[:, position] = 0
        assert scores.abs().max() == 0


def _summaries(model, data):
    k = data.config.motif_length
    return [summarize(m, importance(model, m, data.tokens, data.labels), k, data.motif_mask()) for m in MEASURES]


def test_the_scanner_gradient_is_the_motif_indicator_and_its_importance_is_judged_sparse_and_input_dependent():
    data = generate(dataclasses.replace(SMALL, length=64), 20, seed=4)  # L = 24: windows of 6 overlap too often
    scanner = MotifScanner(SMALL.motif_tokens())
    assert model_accuracy(scanner, data) == 1.0
    assert torch.equal(gradient_input_importance(scanner, data.tokens, data.labels), data.motif_mask().float())
    assert torch.equal(top_k_mask(occlusion_importance(scanner, data.tokens, data.labels), 6), data.motif_mask())
    summaries = _summaries(scanner, data)
    assert all(s.motif_agreement == 1.0 for s in summaries)  # the top-k positions are the planted window
    assert verdict(1.0, summaries)[0] == "holds"


def test_a_scanner_whose_motif_never_moves_is_judged_tied_to_fixed_positions():
    """Motif always at the same start: the scanner is still always right, its importance still
    sparse, but tied to one window (overlap 1): the rule must say ``fails``."""
    data = generate(dataclasses.replace(SMALL, fixed_start=9), 20, seed=7)
    scanner = MotifScanner(SMALL.motif_tokens())
    summaries = _summaries(scanner, data)
    assert model_accuracy(scanner, data) >= ACCURACY_MIN
    assert all(s.top_k_overlap == 1.0 and not is_input_dependent(s) for s in summaries)
    assert verdict(1.0, summaries)[0] == "fails"


def test_bag_of_bases_importance_is_not_judged_sparse():
    data = generate(SMALL, 20, seed=7)
    assert not any(is_sparse(s) for s in _summaries(CompositionCounter(torch.tensor(AT_VERSUS_GC)), data))


def test_importance_rejects_bad_tokens_and_labels():
    model = small_model()
    good = generate(SMALL, 2, seed=0)
    with pytest.raises(TokenRangeError, match=r"\[0, 4\)"):
        occlusion_importance(model, good.tokens + 1, good.labels)
    with pytest.raises(ShapeError, match="batch, L"):
        gradient_input_importance(model, good.tokens[0], good.labels)
    with pytest.raises(ShapeError, match="labels must have shape"):
        occlusion_importance(model, good.tokens, good.labels[:1])
    with pytest.raises(ShapeError, match="labels must lie"):
        gradient_input_importance(model, good.tokens, good.labels + 5)
    with pytest.raises(ConfigError, match="unknown importance measure"):
        importance(model, "saliency", good.tokens, good.labels)
    with pytest.raises(ConfigError, match="nn.Embedding"):
        occlusion_importance(torch.nn.Linear(2, 2), good.tokens, good.labels)


# ----------------------------------------------------------------------------- metrics
def test_top_k_share_on_known_rows():
    scores = torch.tensor([[3.0, -1.0, 0.0, 0.0], [1.0, 1.0, 1.0, 1.0], [0.0, 0.0, 0.0, 0.0]])
    assert top_k_share(scores, 1).tolist() == [0.75, 0.25, 0.25]  # an all-zero row counts as uniform
    assert top_k_share(scores, 2).tolist() == [1.0, 0.5, 0.5]


def test_top_k_overlap_on_known_sets():
    same = torch.tensor([[5.0, 4.0, 0.0, 0.0, 0.0, 0.0]] * 3)
    assert top_k_overlap(same, 2) == 1.0
    disjoint = torch.tensor([[1.0, 1.0, 0, 0, 0, 0], [0, 0, 1.0, 1.0, 0, 0], [0, 0, 0, 0, 1.0, 1.0]])
    assert top_k_overlap(disjoint, 2) == 0.0
    half = torch.tensor([[1.0, 1.0, 0, 0], [0, 1.0, 1.0, 0]])
    assert top_k_overlap(half, 2) == pytest.approx(1 / 3)


def test_random_overlap_matches_sampling():
    g = torch.Generator().manual_seed(0)
    scores = torch.rand(400, 40, generator=g)
    assert top_k_overlap(scores, 5) == pytest.approx(random_overlap(40, 5), abs=0.01)
    assert random_overlap(10, 10) == 1.0


def test_motif_agreement_and_summary():
    scores = torch.tensor([[0.0, 2.0, 3.0, 0.0, 0.0, 0.0, 0.0, 0.0], [1.0, 0.0, 0.0, 0.0, 0.0, 0.0, 0.0, 5.0]])
    motif = torch.tensor([[False, True, True, False, False, False, False, False],
                          [False, False, False, False, False, False, True, True]])
    assert motif_agreement(scores, motif, 2).tolist() == [1.0, 0.5]
    s = summarize("occlusion", scores, 2, motif)
    assert (s.top_k_share, s.uniform_share, s.motif_agreement, s.chance_agreement) == (1.0, 0.25, 0.75, 0.25)
    assert s.top_k_overlap == 0.0


@pytest.mark.parametrize("call, error, match", [
    (lambda: top_k_share(torch.ones(2, 4), 5), ConfigError, r"k must be an integer in \[1, L = 4\]"),
    (lambda: top_k_share(torch.ones(2, 4), 0), ConfigError, "k must be"),
    (lambda: top_k_mask(torch.ones(4), 1), ShapeError, r"\(n, L\)"),
    (lambda: top_k_share(torch.ones(2, 4, dtype=torch.int64), 1), ShapeError, "float"),
    (lambda: top_k_share(torch.tensor([[1.0, float("nan")]]), 1), ShapeError, "non-finite"),
    (lambda: top_k_overlap(torch.ones(1, 8), 1), ShapeError, "at least two inputs"),
    (lambda: summarize("occlusion", torch.ones(2, 8), 3), ConfigError, "k / L"),
    (lambda: motif_agreement(torch.ones(2, 8), torch.ones(2, 7, dtype=torch.bool), 1), ShapeError, "motif_mask"),
])
def test_bad_metric_inputs_raise(call, error, match):
    with pytest.raises(error, match=match):
        call()


# ----------------------------------------------------------------------------- verdict, figures
def summary(share: float, overlap: float) -> ImportanceSummary:
    return ImportanceSummary("occlusion", 6, 64, share, 6 / 64, overlap, 0.05, None, None)


def test_verdict_rule():
    assert verdict(0.8, [summary(0.9, 0.05)])[0] == "inconclusive"
    assert verdict(0.95, [summary(0.9, 0.05), summary(0.6, 0.1)])[0] == "holds"
    decision, reason = verdict(0.95, [summary(0.9, 0.05), summary(0.2, 0.1)])
    assert decision == "fails" and "spread" in reason
    decision, reason = verdict(0.95, [summary(0.9, 0.9)])
    assert decision == "fails" and "same positions" in reason
    with pytest.raises(ValueError):
        verdict(1.0, [])


def test_seeds_verdict_decides_on_intervals_over_the_seeds_that_learned():
    def seed(share, overlap=0.05):
        return [summary(0.8, 0.05), dataclasses.replace(summary(share, overlap), measure="gradient_input")]

    decision, reason, intervals = seeds_verdict([0.95, 0.99, 0.97], [seed(0.7), seed(0.72), seed(0.69)])
    assert decision == "holds" and intervals["gradient_input"]["top_k_share"]["low"] >= 0.5
    decision, reason, _ = seeds_verdict([0.95, 0.99, 0.97], [seed(0.3), seed(0.32), seed(0.29)])
    assert decision == "fails" and "gradient_input importance is spread" in reason
    decision, reason, _ = seeds_verdict([0.95, 0.99, 0.97], [seed(0.7, 0.9), seed(0.7, 0.92), seed(0.7, 0.91)])
    assert decision == "fails" and "same positions" in reason
    decision, reason, _ = seeds_verdict([0.95, 0.99, 0.97], [seed(0.45), seed(0.56), seed(0.5)])
    assert decision == "inconclusive" and "reaches across" in reason
    # a seed that did not learn is left out; one learned seed cannot give an interval
    decision, reason, _ = seeds_verdict([0.95, 0.6], [seed(0.7), seed(0.1)])
    assert decision == "inconclusive" and "1 of 2 seeds learned" in reason
    assert seeds_verdict([0.95, 0.6, 0.97], [seed(0.7), seed(0.1), seed(0.72)])[0] == "holds"
    with pytest.raises(ValueError):
        seeds_verdict([0.9], [])


def test_experiment_records_and_figures_are_well_formed(tmp_path):
    from reports.figures import draw

    setup = GenomicSetup(data=GenomicConfig(length=32), train_samples=64, test_samples=32, explained_samples=4,
                         width=8, fnn_hidden=8, steps=3, top_k_grid=(1, 6, 64))
    result = run_experiment(setup)
    assert result.verdict in ("holds", "fails", "inconclusive") and result.parameters > 0
    assert result.trained.test_accuracy == model_accuracy(result.model, generate(setup.data, 32, seed=2))
    record = result.summary()
    assert set(record["trained"]["summaries"]) == set(MEASURES)
    assert "synthetic" in record["data"]
    specs = figure_specs(result)
    for key, spec in specs.items():
        assert key == f"figure:{spec['name']}"
        assert all(len(s["x"]) == len(s["y"]) for s in spec["series"])
        assert len(draw(spec, tmp_path / "figures")) == 2
    shares = specs["figure:genomic-top-k-share"]["series"]
    assert all(s["x"] == [1, 6] for s in shares)  # k beyond L dropped


def test_a_cached_genomic_model_gives_the_same_result_and_a_tampered_entry_is_retrained(tmp_path):
    from training.result_cache import ResultCache

    setup = GenomicSetup(data=GenomicConfig(length=32), train_samples=64, test_samples=32, explained_samples=4,
                         width=8, fnn_hidden=8, steps=3, top_k_grid=(1, 6))
    first = run_experiment(setup, store=ResultCache(tmp_path))
    store = ResultCache(tmp_path)
    again = run_experiment(setup, store=store)
    assert (first.cached, again.cached, store.hits) == (False, True, 1)
    assert again.trained.test_accuracy == first.trained.test_accuracy and again.steps_used == first.steps_used
    for measure in MEASURES:
        assert torch.equal(again.trained.scores[measure], first.trained.scores[measure])
    other = run_experiment(dataclasses.replace(setup, seed=1), store=ResultCache(tmp_path))
    assert not other.cached  # another seed is another entry
    (entry,) = [p for p in tmp_path.glob("*.json") if '"seed":0' in p.read_text()]
    entry.write_text(entry.read_text().replace('"steps_used":3', '"steps_used":4'))
    store = ResultCache(tmp_path)
    retrained = run_experiment(setup, store=store)
    assert not retrained.cached and any("SHA-256" in note for note in store.notes)


def test_a_diverged_training_run_counts_as_a_seed_that_did_not_learn():
    """Training at an absurd learning rate overflows the weights: the run is recorded as diverged
    (accuracy NaN, no importance), its verdict is inconclusive, and over seeds it is left out."""
    setup = GenomicSetup(data=GenomicConfig(length=32), train_samples=64, test_samples=32, explained_samples=4,
                         width=8, fnn_hidden=8, steps=5, lr=1e12, top_k_grid=(1, 6))
    result = run_experiment(setup)
    assert result.trained.diverged and "not finite" in result.trained.diverged
    assert result.verdict == "inconclusive" and "diverged" in result.reason
    assert result.trained.summaries == {} and result.summary()["trained"]["diverged"]
    learned = [summary(0.8, 0.05), dataclasses.replace(summary(0.7, 0.05), measure="gradient_input")]
    decision, reason, _ = seeds_verdict([0.95, result.trained.test_accuracy, 0.97],
                                        [learned, list(result.trained.summaries.values()), learned])
    assert "2 of 3 seeds learned" in reason and decision == "holds"


def test_a_model_with_non_finite_importance_is_reported_diverged():
    model = small_model()
    with torch.no_grad():
        next(model.parameters()).fill_(float("inf"))
    data = generate(SMALL, 4, seed=0)
    report = explain("broken", model, data, 1.0)
    assert report.diverged and "not finite" in report.diverged and report.test_accuracy != report.test_accuracy


# ----------------------------------------------------------------------------- JASPAR matrices, planted sites
def test_the_shipped_jaspar_file_holds_seven_matrices_of_lengths_6_to_12_under_cc_by():
    motifs = load_motifs()
    assert motifs.release == "JASPAR2024" and "CC BY 4.0" in motifs.licence and "Rauluseviciute" in motifs.attribution
    assert [m.length for m in motifs.motifs] == list(range(6, 13))
    assert motifs["MA0102.5"] is motifs["CEBPA"]
    for m in motifs.motifs:
        sums = m.count_tensor().sum(0)
        assert (m.count_tensor() >= 0).all() and float(sums.max() - sums.min()) <= 1e-3 * float(sums.max())


def test_integer_thresholds_are_the_exact_background_tail():
    """Enumerating every 6- and 7-mer: the threshold is the smallest score whose uniform tail is <= p."""
    for name in ("MYB", "TBP"):
        m = load_motifs()[name]
        every = torch.cartesian_prod(*[torch.arange(4)] * m.length)  # (4^m, m)
        scores = m.scores(every)[:, 0]
        for p in (1e-2, 1e-3):
            t = m.threshold(p)
            assert float((scores >= t).double().mean()) <= p < float((scores >= t - 1).double().mean())


@pytest.mark.parametrize("edit, match", [
    (lambda d: d.pop("licence"), "licence"),
    (lambda d: d.update(motifs=[]), "at least one matrix"),
    (lambda d: d["motifs"][0]["counts"].pop("T"), "exactly the rows"),
    (lambda d: d["motifs"][0]["counts"]["A"].append(1.0), "one length"),
    (lambda d: d["motifs"][0]["counts"]["C"].__setitem__(0, -1.0), "non-negative"),
    (lambda d: d["motifs"][0]["counts"]["C"].__setitem__(0, float("nan")), "finite"),
    (lambda d: d["motifs"][0]["counts"]["C"].__setitem__(0, 5000.0), "same positive count"),
    (lambda d: d["motifs"][1].update(name=d["motifs"][0]["name"]), "repeats a name"),
])
def test_a_malformed_motif_file_names_the_problem(edit, match):
    import json

    document = json.loads(MOTIF_FILE.read_text(encoding="utf-8"))
    edit(document)
    with pytest.raises(MotifFileError, match=match):
        parse_motifs(document)


def test_an_unreadable_motif_file_raises_a_motif_file_error(tmp_path):
    with pytest.raises(MotifFileError, match="cannot read"):
        load_motifs(tmp_path / "missing.json")
    (tmp_path / "bad.json").write_text("{", encoding="utf-8")
    with pytest.raises(MotifFileError, match="not JSON"):
        load_motifs(tmp_path / "bad.json")


@given(config=site_configs(), seed=seeds)
@settings(max_examples=20, deadline=None)
def test_planted_sites_are_the_only_windows_scoring_as_sites_and_decoys_stay_below(config, seed):
    """Site counts within bounds, sites of the label's class only, the only windows of any class at
    or above its threshold; near-motifs below their matrix's threshold; masks cover exactly the items;
    items never overlap."""
    data = generate_sites(config, 24, seed=seed)
    assert data.tokens.shape == (24, config.length) and int(data.tokens.min()) >= 0 and int(data.tokens.max()) < 4
    counts = data.site_counts()
    assert ((counts >= config.min_sites) & (counts <= config.max_sites)).all()
    decoys = ((data.kinds == NEAR_MOTIF) | (data.kinds == OTHER_TF)).sum(1)
    assert (decoys <= config.max_decoys).all()
    assert (data.matrices[data.kinds == SITE] == data.labels.unsqueeze(1).expand_as(data.kinds)[data.kinds == SITE]).all()
    for c, (matrix, t) in enumerate(zip(config.class_matrices(), config.thresholds())):
        hits = (matrix.scores(data.tokens) >= t).nonzero().tolist()
        mine = ((data.kinds == SITE) & (data.labels.unsqueeze(1) == c)).nonzero()
        assert sorted(map(tuple, hits)) == sorted((int(i), int(data.starts[i, j])) for i, j in mine.tolist())
    rows, slots = (data.kinds == NEAR_MOTIF).nonzero(as_tuple=True)
    for i, j in zip(rows.tolist(), slots.tolist()):
        matrix = config.class_matrices()[int(data.matrices[i, j])]
        start = int(data.starts[i, j])
        window = data.tokens[i : i + 1, start : start + matrix.length]
        assert int(matrix.scores(window)[0, 0]) < matrix.threshold(config.site_p_value)
    used = data.kinds != 0
    assert torch.equal(data.motif_mask().sum(1), (data.lengths * (data.kinds == SITE)).sum(1))
    assert torch.equal((data.motif_mask() | data.decoy_mask()).sum(1), (data.lengths * used).sum(1))  # no overlap
    assert not (data.motif_mask() & data.decoy_mask()).any()


@given(config=site_configs(max_length=96), seed=seeds)
@settings(max_examples=5, deadline=None)
def test_the_site_generator_is_pure_in_config_n_and_seed(config, seed):
    a, b = generate_sites(config, 8, seed), generate_sites(config, 8, seed)
    assert all(torch.equal(getattr(a, f), getattr(b, f)) for f in ("tokens", "labels", "starts", "kinds", "matrices"))


def test_sampled_sites_differ_and_positions_vary():
    data = generate_sites(SiteConfig(length=128, site_p_value=1e-3), 200, seed=0)  # TBP, CREB1: 16 and 65 site strings
    sites = {tuple(data.tokens[i, s : s + int(n)].tolist()) for i, s, n, kind in
             zip(*[t.flatten().tolist() for t in (torch.arange(200).unsqueeze(1).expand_as(data.starts), data.starts,
                                                   data.lengths, data.kinds)]) if kind == SITE}
    assert len(sites) > 30  # sampled from the matrix, not one consensus string
    assert len(set(data.starts[data.kinds == SITE].tolist())) > 40
    assert set(data.site_counts().tolist()) == {1, 2}


def test_a_fixed_start_plants_one_site_there_and_no_decoy():
    data = generate_sites(SiteConfig(max_sites=1, max_decoys=0, fixed_start=20), 30, seed=1)
    assert (data.starts[:, 0] == 20).all() and (data.kinds[:, 0] == SITE).all()


@pytest.mark.parametrize("overrides, match", [
    ({"classes": ("TBP",)}, "at least two distinct"),
    ({"classes": ("CREB1", "GATA9")}, "no motif 'GATA9'"),
    ({"decoys": ("CREB1",)}, "define no class"),
    ({"classes": ("MYB", "SP1"), "decoys": (), "site_p_value": 1e-5}, "no window scores as a site of MYB"),
    ({"length": 35}, "do not fit"),
    ({"length": 60, "max_decoys": 0}, "top_k / L"),
    ({"fixed_start": 3}, "one site and no decoy"),
    ({"decoy_mutations": 9}, "exceeds the shortest"),
    ({"transitions": ((1.0, 0.0),)}, "row-stochastic"),
])
def test_bad_site_configs_name_the_problem(overrides, match):
    with pytest.raises(ConfigError, match=match):
        SiteConfig(**overrides)


def test_every_data_description_says_synthetic_and_not_real_sequences():
    from training.genomic import describe_data

    text = describe_data(SiteConfig())
    assert "synthetic" in text and "JASPAR2024" in text and "not real genomic sequences" in text
    assert "synthetic" in describe_data(SMALL) and "not the paper's" in describe_data(SMALL)
