"""Mutation campaigns: do the checks of each exact construction catch it broken? (controls, §8 of
issue 14; the machinery is :mod:`constructions.mutation_campaign`).

For each claim whose object is a built network, one small format of its construction (an
*architecture*: the tensors are the same for every format listed with it) and:

* **mutants**: every nonzero weight set to 0 and to ``w + 1`` (``w - 1`` where ``w = -1``), and the
  structural mutants (off-by-one shift lags and windows, swapped SSM channels and FNN rows,
  off-by-one attention lags);
* **equivalent**: the mutant is exact (``verify``: decoded answers and outputs on target, or the
  claim's own exactness judge) on every instance of the *domain* -- every format of the claim at
  this architecture up to the stated size, exhaustively;
* **caught / missed**: every other mutant is run against each of the claim's OWN checks at this
  architecture: its exhaustive tiny formats, its seeded random batches and its hypothesis-drawn
  instances. Drawn checks are replayed: the claim's strategy, pinned to the architecture, is drawn
  once with the profile's number of examples and seed (what the claim's test draws, without
  shrinking), and every mutant meets the same examples in the same order, up to the first that
  fails. A mutant some check catches is caught (the table counts what each check catches); a
  mutant no check catches is missed.

Not counted as checks: resource checks (closed-form counts would catch every mutant that sets a
weight to 0 by its nonzero count, which says nothing about the checks of behaviour), and checks
at other architectures (a mutant is a change of these tensors). Teacher-forced exactness implies
the copiers' free-running decoding agrees, so the decoding comparison adds nothing here.

Each test records its table under ``mutation_campaign`` (the report gathers them into one table)
and fails when a mutant is missed or none is caught. Found with it: at alphabet 2, n = 2 (the
thorough format) the n-gram copier's 25 quick drawn strings missed 14 weights whose change breaks
only the string "1"; ``copy.ngram.exact`` now checks every string of every length for small
alphabets (``checks/test_copying.py``).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Callable

import pytest
import torch
from hypothesis import strategies as st

from checks import profiles
from checks.assertions import assert_exact
from checks.strategies import (ar_configs, ar_instances, fixed_length_strings, ngram_lookup_instances, ngram_strings,
                               sample_examples, seeds)
from checks.test_associative_recall import FAMILIES
from checks.test_copying import FIXED_LENGTH_TINY, NGRAM_EVERY_LENGTH, NGRAM_TINY
from checks.test_ngram_lookup import (LOOKUP_FORMATS, LOOKUP_TINY, every_lookup_instance, failures_match_ambiguity,
                                     failures_only_where_ambiguous)
from checks.test_precision_route import GRID as ROUTE_GRID
from checks.test_regression_extraction import assert_extracts_exactly, random_sequences
from checks.test_selection_lemma import key_query_batch
from checks.test_transformers import JELASSI_TINY, MQAR_BATCHES, MQAR_DRAWN, MQAR_TINY
from constructions.associative_recall import binary_query_first, outer_product, precision_route
from constructions.copying import fixed_length, ngram
from constructions.mutation_campaign import Probe, all_mutants, run_campaign
from constructions.regression.extraction import build_extraction
from constructions.regression.piecewise import TokenGrid
from constructions.regression.smooth_functions import GammaSmoothConfig, Smoothness, sample_gamma_smooth
from constructions.regression.smooth_relu import build_smooth_network, check_smooth_realization, random_grid_points
from constructions.tasks.associative_recall import ARConfig, enumerate_instances, generate
from constructions.tasks.copying import (
    CopyConfig,
    all_strings,
    assemble,
    longest_without_repeated_ngram,
    strings_without_repeated_ngram,
)
from constructions.tasks.copying import generate as generate_strings
from constructions.lookup import ngram_lookup
from constructions.tasks.ngram_lookup import NgramLookupConfig
from constructions.tasks.ngram_lookup import assemble as assemble_lookup
from constructions.tasks.ngram_lookup import generate as generate_lookup
from constructions.transformer import copy_jelassi, lookup_prefix, lookup_suffix, mqar_zoology

SIZES = profiles.current()
PERTURBATIONS = "0 and w + 1 (w - 1 where w = -1)"
STRUCTURAL = "off-by-one shift lags and windows, swapped SSM channels and FNN rows, off-by-one attention lags"


@dataclass(frozen=True)
class Formats:
    """The formats of one profile's campaigns (bigger ones in ``thorough``)."""

    outer_product: tuple[int, int]  # (K, V); every N, Q
    query_first: tuple[int, int, int]  # (K, V, largest N)
    ngram_keys: tuple[int, int, int, int]  # (K, V, key length, largest N)
    key_query_pairs: int  # largest N of the domain at the claim's bits = 2 format (K = V = 4)
    fixed_length: tuple[int, int]  # (alphabet, length)
    ngram_copy: tuple[int, int]  # (alphabet, n)
    jelassi: tuple[int, int]  # (alphabet, n)
    zoology: tuple[int, int]  # (K, V)
    precision_route: ARConfig
    extraction: tuple[TokenGrid, int, int, int]  # (grid, U, J, length of the enumerated sequences)
    smooth: tuple[float, int, int]  # (level T, seed, bits) of f_T on (a_1, a_2) = (1, 2), mixed
    lookup: tuple[int, int, int, int] = (2, 1, 1, 5)  # (alphabet, n, answer length, longest string of the domain)
    #: the lookup claims campaigned (measured on one loaded core at (2, 1, 1)): in every profile the
    #: Transformers' (344 and 460 mutants, 4-7 s and 8-11 s, about copy.ngram's campaign there); in thorough
    #: also the SSM+FNN lookup's (540 and 684 mutants, 20-35 s each)
    lookup_claims: tuple[str, ...] = ("transformer.lookup-suffix", "transformer.lookup-prefix")


FORMATS = {
    "tiny": Formats((2, 2), (4, 2, 3), (2, 2, 2, 3), 2, (2, 3), (2, 1), (2, 1), (2, 2), ARConfig(2, 2, 2),
                    (TokenGrid(4, 1, 1), 2, 1, 3), (1.5, 3, 2)),
    "quick": Formats((2, 2), (4, 2, 4), (2, 2, 2, 4), 3, (3, 4), (2, 1), (2, 1), (2, 2), ARConfig(2, 2, 2),
                     (TokenGrid(4, 1, 1), 2, 2, 3), (1.5, 3, 2)),
    "thorough": Formats((3, 3), (4, 4, 4), (2, 3, 2, 4), 4, (2, 6), (2, 2), (2, 2), (3, 3), ARConfig(3, 2, 3),
                        (TokenGrid(4, 1, 1), 3, 2, 4), (2.0, 3, 3), (2, 1, 1, 6),
                        ("lookup.suffix.exact", "lookup.prefix.exact", "transformer.lookup-suffix", "transformer.lookup-prefix")),
}
F = FORMATS[SIZES.row]


@dataclass
class Campaign:
    """One claim's campaign: the construction at one architecture, its domain and its checks."""

    claim: str
    construction: str
    format: str
    build: Callable[[Any], Any]  # config -> subject with the network
    reference: Any  # the config whose network the mutants are read from
    domain: Probe
    checks: list[Probe]

    def run(self):
        mutants = all_mutants(self.build(self.reference).network)
        checks = [p for p in self.checks if p.all_cases()]  # checks with no case at this architecture do not apply
        return run_campaign(self.build, mutants, self.domain, checks)


def short(module) -> str:
    """The module's name inside the package, e.g. ``transformer.binary_query_first``."""
    return module.__name__.removeprefix("constructions.").removeprefix("associative_recall.").removeprefix("copying.")


def every_instance(name: str, configs) -> Probe:
    return Probe(name, lambda: [(c, enumerate_instances(c).tokens) for c in configs], assert_exact)


def replayed(name: str, strategy: st.SearchStrategy, case: Callable[[Any], tuple[Any, Any]], check=assert_exact) -> Probe:
    """The claim's drawn check: ``strategy`` drawn once (the profile's number of examples), each
    example made a case by ``case``; a mutant meets them in the order drawn, up to the first that fails."""
    seed = profiles.current_seed() or 0
    return Probe(name, lambda: [case(example) for example in sample_examples(strategy, SIZES.max_examples, seed)], check)


# ----------------------------------------------------------------------------- associative recall
def recall_campaign(claim: str, arch: ARConfig, domain_formats: list[ARConfig]) -> Campaign:
    family = next(f for f in FAMILIES if f.claim == claim)
    K, V, n = arch.num_keys, arch.num_values, arch.key_length
    pinned = dict(min_keys=K, max_keys=K, min_values=V, max_values=V, key_lengths=(n,))
    tiny = [c for c in family.tiny if (c.num_keys, c.num_values, c.key_length) == (K, V, n)]
    return Campaign(
        claim, f"{short(family.module)}.build", describe_recall(domain_formats), family.module.build, arch,
        every_instance("domain", domain_formats),
        [every_instance("every instance of its tiny formats", tiny),
         replayed("its seeded random batches", st.tuples(family.batches(**pinned), seeds),
                  lambda ex: (ex[0], generate(ex[0], SIZES.batch, ex[1]).tokens)),
         replayed("its hypothesis-drawn instances", ar_instances(family.drawn(**pinned)), lambda ex: (ex[0], ex[1].tokens))],
    )


def describe_recall(formats: list[ARConfig]) -> str:
    c = formats[0]
    pairs = sorted({f.num_pairs for f in formats})
    queries = sorted({f.num_queries for f in formats})
    text = f"K={c.num_keys}, V={c.num_values}" + (f", key length {c.key_length}" if c.key_length > 1 else "")
    text += f", query {c.query}, N in {pairs}" + (f", Q in {queries}" if c.query == "last" else "")
    return text


def recall_formats(K: int, V: int, largest_pairs: int, query: str = "last", key_length: int = 1, queries: bool = True):
    return [ARConfig(K, V, N, num_queries=Q, key_length=key_length, query=query)
            for N in range(1, largest_pairs + 1) for Q in (range(1, N + 1) if queries and query == "last" else (1,))]


def outer_product_campaign() -> Campaign:
    K, V = F.outer_product
    return recall_campaign("ar.outer-product.exact", ARConfig(K, V, 1), recall_formats(K, V, K))


def query_first_campaign() -> Campaign:
    K, V, N = F.query_first
    return recall_campaign("ar.query-first.exact", ARConfig(K, V, 1, query="first"), recall_formats(K, V, N, "first"))


def ngram_keys_campaign() -> Campaign:
    K, V, n, N = F.ngram_keys
    return recall_campaign("ar.ngram-keys.exact", ARConfig(K, V, 1, key_length=n, query="first"),
                           recall_formats(K, V, N, "first", key_length=n))


def binary_attention_campaign() -> Campaign:
    K, V = F.outer_product  # the same query-last formats as the outer product's
    return recall_campaign("transformer.binary-recall.exact", ARConfig(K, V, 1), recall_formats(K, V, K))


def attention_query_first_campaign() -> Campaign:
    K, V, N = F.query_first
    return recall_campaign("transformer.binary-query-first.exact", ARConfig(K, V, 1, query="first"),
                           recall_formats(K, V, N, "first"))


def key_query_campaign() -> Campaign:
    """The claim's check is one seeded batch per code width; the mutants are of its bits = 2 network."""
    config, tokens = key_query_batch(2)
    domain = recall_formats(config.num_keys, config.num_values, F.key_query_pairs, "first")
    return Campaign("select.key-query-two-layer", "binary_query_first.build", describe_recall(domain),
                    binary_query_first.build, config, every_instance("domain", domain),
                    [Probe("its seeded batch (bits = 2)", lambda: [(config, tokens)], assert_exact)])


def zoology_campaign() -> Campaign:
    K, V = F.zoology
    domain = recall_formats(K, V, K)
    pinned = dict(min_keys=K, max_keys=K, min_values=V, max_values=V)
    return Campaign(
        "transformer.mqar-zoology-4.3", "mqar_zoology.build", describe_recall(domain), mqar_zoology.build, domain[0],
        every_instance("domain", domain),
        [every_instance("every instance of its tiny formats", [c for c in MQAR_TINY if (c.num_keys, c.num_values) == (K, V)]),
         replayed("its seeded random batches", st.tuples(ar_configs(**{**MQAR_BATCHES, **pinned}), seeds),
                  lambda ex: (ex[0], generate(ex[0], SIZES.batch, ex[1]).tokens)),
         replayed("its hypothesis-drawn instances", ar_instances(ar_configs(**{**MQAR_DRAWN, **pinned})),
                  lambda ex: (ex[0], ex[1].tokens))],
    )


def precision_route_campaign() -> Campaign:
    """The network's depth depends on N: the architecture is the whole format."""
    arch = F.precision_route
    return Campaign(
        "limits.precision-route", "precision_route.build", describe_recall([arch]), precision_route.build, arch,
        every_instance("domain", [arch]),
        [every_instance("every instance of its tiny formats", [c for c in ROUTE_GRID[SIZES.row].exhaustive if c == arch]),
         replayed("its seeded random batches", st.tuples(st.just(arch), seeds),
                  lambda ex: (ex[0], generate(ex[0], SIZES.batch, ex[1]).tokens)),
         replayed("its hypothesis-drawn instances", ar_instances(st.just(arch)), lambda ex: (ex[0], ex[1].tokens))],
    )


# ----------------------------------------------------------------------------- copying
def strings_without_repeats(D: int, n: int, lengths) -> list[tuple[CopyConfig, torch.Tensor]]:
    """Every string over ``D`` symbols without a repeated n-gram, of each length, as copy instances."""
    return [(CopyConfig(D, length), assemble(CopyConfig(D, length), strings_without_repeated_ngram(D, n, length)).tokens)
            for length in lengths]


def ngram_family_campaign(claim: str, module, arch: tuple[int, int], tiny, every_length=()) -> Campaign:
    """``tiny``: the claim's (alphabet, length, n) formats checked on every string; ``every_length``:
    its (alphabet, n) checked on every string of every length."""
    D, n = arch
    every = range(1, longest_without_repeated_ngram(D, n) + 1)
    tiny_lengths = [length for a, length, k in tiny if (a, k) == (D, n)] + (list(every) if (D, n) in every_length else [])
    drawn = ngram_strings(alphabets=st.just(D), ns=st.just(n))
    return Campaign(
        claim, f"{short(module)}.build", f"alphabet {D}, n = {n}, every length without a repeated {n}-gram",
        lambda config: module.build(config, n), CopyConfig(D, 1),
        Probe("domain", lambda: strings_without_repeats(D, n, every), assert_exact),
        [Probe("every string of its tiny formats", lambda: strings_without_repeats(D, n, sorted(set(tiny_lengths))), assert_exact),
         replayed("its hypothesis-drawn strings", drawn,
                  lambda ex: (CopyConfig(D, len(ex[2])), assemble(CopyConfig(D, len(ex[2])), torch.tensor([ex[2]])).tokens))],
    )


def ngram_copy_campaign() -> Campaign:
    return ngram_family_campaign("copy.ngram.exact", ngram, F.ngram_copy, NGRAM_TINY, NGRAM_EVERY_LENGTH)


def jelassi_campaign() -> Campaign:
    return ngram_family_campaign("transformer.copy-jelassi-2.3", copy_jelassi, F.jelassi, JELASSI_TINY)


def fixed_length_campaign() -> Campaign:
    """The window is the length: the architecture is the whole format."""
    D, length = F.fixed_length
    config = CopyConfig(D, length)
    every = lambda: [(config, assemble(config, all_strings(D, length)).tokens)]  # noqa: E731
    return Campaign(
        "copy.fixed-length.exact", "fixed_length.build", f"alphabet {D}, length {length}", fixed_length.build, config,
        Probe("domain", every, assert_exact),
        [Probe("every string of its tiny formats", every if (D, length) in FIXED_LENGTH_TINY else lambda: [], assert_exact),
         replayed("its seeded random strings", seeds, lambda seed: (config, generate_strings(config, SIZES.batch, seed).tokens)),
         replayed("its hypothesis-drawn strings", fixed_length_strings(st.just(config)),
                  lambda ex: (config, assemble(config, torch.tensor([ex[1]])).tokens))],
    )


# ----------------------------------------------------------------------------- n-gram lookup
def lookup_campaign(claim: str, module, key: str, judge) -> Campaign:
    """The network depends on (alphabet, n, A), not on L: the domain is every instance (every string, every
    position of g) of every length up to the longest, judged by the claim's own judge (the SSM+FNN: fails
    exactly where ambiguous; the Transformers: only where ambiguous)."""
    D, n, A, longest = F.lookup
    check = lambda construction, batch: judge(construction, batch)  # noqa: E731
    cases = lambda formats: lambda: [(b.config, b) for f in formats for b in every_lookup_instance(key, *f)]  # noqa: E731
    seeded = [NgramLookupConfig(a, length, k, answer, key) for a, length, k, answer in LOOKUP_FORMATS if (a, k, answer) == (D, n, A)]
    return Campaign(
        claim, f"{short(module)}.build", f"alphabet {D}, n = {n}, A = {A}, key {key}: every instance of lengths {n + A}..{longest}",
        module.build, NgramLookupConfig(D, n + A, n, A, key),
        Probe("domain", cases([(D, n, A, longest)]), check),
        [Probe("every instance of its tiny formats", cases([t for t in LOOKUP_TINY if t[:3] == (D, n, A)]), check),
         Probe("its seeded uniform batches", lambda: [(c, generate_lookup(c, SIZES.batch, c.length + n)) for c in seeded], check),
         replayed("its hypothesis-drawn instances", ngram_lookup_instances(key=key, max_length=12, architecture=(D, n, A)),
                  lambda ex: (ex[0], assemble_lookup(*ex).tokens))],
    )


LOOKUP_CAMPAIGNS = {
    "lookup.suffix.exact": (ngram_lookup, "suffix", failures_match_ambiguity),
    "lookup.prefix.exact": (ngram_lookup, "prefix", failures_match_ambiguity),
    "transformer.lookup-suffix": (lookup_suffix, "suffix", failures_only_where_ambiguous),
    "transformer.lookup-prefix": (lookup_prefix, "prefix", failures_only_where_ambiguous),
}


# ----------------------------------------------------------------------------- regression
def grid_sequences(grid: TokenGrid, length: int) -> torch.Tensor:
    """Every sequence of ``length`` grid tokens: ``(tokens^length, length, 1 + d)``."""
    digits = torch.cartesian_prod(*[torch.arange(2**grid.feature_bits)] * grid.features).reshape(-1, grid.features)
    levels = torch.arange(grid.levels).repeat_interleave(len(digits))
    tokens = grid.tokens(levels, digits.repeat(grid.levels, 1))
    index = torch.cartesian_prod(*[torch.arange(len(tokens))] * length).reshape(-1, length)
    return tokens[index]


def extraction_campaign() -> Campaign:
    grid, U, J, length = F.extraction
    spec = (grid, U, J)
    return Campaign(
        "regression.extract-topJ", "extraction.build_extraction",
        f"Q={grid.levels}, b={grid.feature_bits}, d={grid.features}, U={U}, J={J}; every sequence of {length} tokens",
        lambda s: build_extraction(*s), spec,
        Probe("domain", lambda: [(spec, grid_sequences(grid, length))], assert_extracts_exactly),
        [replayed("its hypothesis-drawn sequences", seeds, lambda seed: (spec, random_sequences(grid, seed, SIZES.row)),
                  assert_extracts_exactly)],
    )


def smooth_campaign() -> Campaign:
    level, seed, bits = F.smooth
    f_T = sample_gamma_smooth(GammaSmoothConfig(Smoothness("mixed", (1.0, 2.0)), level, 1.0, seed)).truncate(level)

    def realizes(network, points):
        check = check_smooth_realization(network, f_T, points)
        assert check.exact, check

    grid = torch.cartesian_prod(*[torch.arange(2**bits)] * 2).to(torch.float64) / 2**bits
    return Campaign(
        "regression.approximation", "smooth_relu.build_smooth_network",
        f"f_T of a mixed (1, 2)-smooth function (T = {level}, seed {seed}), {bits}-bit inputs; every grid point",
        lambda b: build_smooth_network(f_T, b), bits,
        Probe("domain", lambda: [(bits, grid)], realizes),
        [replayed("its hypothesis-drawn grid points", seeds,
                  lambda s: (bits, random_grid_points(2, bits, 64, torch.Generator().manual_seed(s))), realizes)],
    )


CAMPAIGNS: dict[str, tuple[Callable[[], Campaign], str]] = {
    "ar.outer-product.exact": (outer_product_campaign, f"outer_product.build at K = {F.outer_product[0]}, V = {F.outer_product[1]}"),
    "ar.query-first.exact": (query_first_campaign, f"binary_query_first.build at K = {F.query_first[0]}, V = {F.query_first[1]}"),
    "ar.ngram-keys.exact": (ngram_keys_campaign, f"binary_query_first.build at K = {F.ngram_keys[0]}, V = {F.ngram_keys[1]}, "
                                                 f"keys of {F.ngram_keys[2]} tokens"),
    "transformer.binary-recall.exact": (binary_attention_campaign, f"binary_attention.build at K = {F.outer_product[0]}, "
                                                                   f"V = {F.outer_product[1]}"),
    "transformer.binary-query-first.exact": (attention_query_first_campaign, f"the query-first binary attention at "
                                                                             f"K = {F.query_first[0]}, V = {F.query_first[1]}"),
    "select.key-query-two-layer": (key_query_campaign, "binary_query_first.build at K = V = 4 (bits = 2)"),
    "copy.fixed-length.exact": (fixed_length_campaign, f"fixed_length.build at alphabet {F.fixed_length[0]}, length {F.fixed_length[1]}"),
    "copy.ngram.exact": (ngram_copy_campaign, f"ngram.build at alphabet {F.ngram_copy[0]}, n = {F.ngram_copy[1]}"),
    "transformer.copy-jelassi-2.3": (jelassi_campaign, f"copy_jelassi.build at alphabet {F.jelassi[0]}, n = {F.jelassi[1]}"),
    "transformer.mqar-zoology-4.3": (zoology_campaign, f"mqar_zoology.build at K = {F.zoology[0]}, V = {F.zoology[1]}"),
    "limits.precision-route": (precision_route_campaign, f"precision_route.build at {F.precision_route}"),
    "regression.extract-topJ": (extraction_campaign, f"the extraction network at Q = {F.extraction[0].levels}, "
                                                     f"b = {F.extraction[0].feature_bits}, U = {F.extraction[1]}, J = {F.extraction[2]}"),
    "regression.approximation": (smooth_campaign, f"the smooth part's ReLU network (T = {F.smooth[0]}, {F.smooth[2]}-bit inputs)"),
    **{claim: (lambda claim=claim, spec=spec: lookup_campaign(claim, *spec),
               f"{short(spec[0])}.build ({spec[1]} key) at alphabet {F.lookup[0]}, n = {F.lookup[1]}, A = {F.lookup[2]}")
       for claim, spec in LOOKUP_CAMPAIGNS.items() if claim in F.lookup_claims},
}


@pytest.mark.parametrize("claim", [
    pytest.param(claim, id=claim, marks=pytest.mark.claim(
        claim, role="control", breaks=f"every nonzero weight of {what}, perturbed in turn ({PERTURBATIONS}), and {STRUCTURAL}"))
    for claim, (_, what) in CAMPAIGNS.items()])
def test_mutation_campaign_catches_every_mutant_that_breaks_the_construction(claim, evidence):
    campaign = CAMPAIGNS[claim][0]()
    result = campaign.run()
    table = result.summary(claim=claim, construction=campaign.construction, format=campaign.format,
                           perturbations=PERTURBATIONS, profile=SIZES.row)
    evidence.record(mutation_campaign=table)
    assert table["caught"] > 0, f"no mutant of {campaign.construction} was caught"
    assert not result.missed, (f"{len(result.missed)} of {table['mutants']} mutants of {campaign.construction} at "
                               f"{campaign.format} pass every check: " + "; ".join(str(m) for m in table["missed_list"][:10]))
