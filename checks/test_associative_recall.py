"""Checks of the associative-recall family (Theorem 3.2; claims ``ar.*``) and of the binary-code
attention constructions that are their Transformer counterparts in the same formats (claims
``transformer.binary-recall.exact``, ``transformer.binary-query-first.exact``).

For each construction: exactness on hypothesis-drawn instances (shrinkable), on seeded random
batches up to the profile's largest vocabulary and length, and exhaustively on tiny formats;
controls showing that every single-weight mutation listed by the construction is caught; closed-form
resource counts (sympy) equal to the measured ones; growth verdicts from both.
"""

from __future__ import annotations

from dataclasses import dataclass
from types import ModuleType

import pytest
import torch
import sympy as sp
from hypothesis import given
from hypothesis import strategies as st

from checks import profiles
from checks.assertions import assert_exact, closed_form_mismatches, drawn_instance_property, exception_report
from checks.strategies import ar_configs, ar_instances, seeds
from claims.growth import empirical_growth, judge_polylog, judge_polynomial, symbolic_growth
from constructions.associative_recall import binary_query_first, outer_product
from constructions.mutation import mutate
from constructions.resources import measure
from constructions.tasks.associative_recall import ARConfig, enumerate_instances, generate
from constructions.transformer import binary_attention
from constructions.transformer import binary_query_first as attention_query_first

SIZES = profiles.current()


@dataclass(frozen=True)
class Family:
    """One exactness claim and everything needed to check it."""

    claim: str
    module: ModuleType  # build(config, device=...), mutations(config)
    drawn_bounds: dict  # ar_configs arguments: small formats for element-by-element (shrinkable) instances
    batch_bounds: dict  # ar_configs arguments: formats up to the profile's largest, for seeded batches
    largest: ARConfig  # the profile's largest format, always checked
    tiny: tuple[ARConfig, ...]  # checked on every instance
    mutated: ARConfig  # a format to read the mutation list from
    mutation_formats: st.SearchStrategy[ARConfig]  # where hypothesis hunts for the mutation's counterexample

    def drawn(self, **pinned) -> st.SearchStrategy[ARConfig]:
        """Formats of drawn instances (``pinned`` overrides bounds, e.g. one vocabulary)."""
        return ar_configs(**{**self.drawn_bounds, **pinned})

    def batches(self, **pinned) -> st.SearchStrategy[ARConfig]:
        return ar_configs(**{**self.batch_bounds, **pinned})

    def __repr__(self) -> str:  # short, for falsifying examples
        return f"Family({self.claim})"


ONEHOT, BINARY, LENGTH = SIZES.onehot_vocab_max, SIZES.binary_vocab_max, SIZES.length_max
FAMILIES = (
    Family(
        "ar.outer-product.exact",
        outer_product,
        drawn_bounds=dict(query="last", max_keys=ONEHOT, max_values=ONEHOT, max_queries=4, max_length=48),
        batch_bounds=dict(query="last", max_keys=ONEHOT, max_values=ONEHOT, max_queries=4, max_length=LENGTH),
        largest=ARConfig(ONEHOT, ONEHOT, ONEHOT, num_queries=ONEHOT),
        # one key, one value, one pair: the trivial formats the strategies draw only rarely
        tiny=(ARConfig(2, 2, 2, num_queries=2), ARConfig(3, 2, 2), ARConfig(3, 3, 3, num_queries=2),
              ARConfig(1, 3, 1), ARConfig(3, 1, 2, num_queries=2)),
        mutated=ARConfig(4, 4, 4),
        mutation_formats=ar_configs(query="last", min_keys=2, max_keys=4, max_values=4, max_queries=3, max_length=16),
    ),
    Family(
        "ar.query-first.exact",
        binary_query_first,
        drawn_bounds=dict(query="first", max_keys=BINARY, max_values=BINARY, max_length=48),
        batch_bounds=dict(query="first", max_keys=BINARY, max_values=BINARY, max_length=LENGTH),
        # length >= length_max where the vocabulary has enough distinct keys
        largest=ARConfig(BINARY, BINARY, min(BINARY, LENGTH // 2), query="first"),
        tiny=(ARConfig(3, 3, 2, query="first"), ARConfig(4, 2, 3, query="first"), ARConfig(5, 3, 3, query="first"),
              ARConfig(1, 3, 1, query="first"), ARConfig(3, 1, 2, query="first")),
        mutated=ARConfig(8, 8, 4, query="first"),
        mutation_formats=ar_configs(query="first", min_keys=2, max_keys=8, max_values=8, max_length=24),
    ),
    Family(
        "ar.ngram-keys.exact",
        binary_query_first,
        drawn_bounds=dict(query="first", min_keys=2, max_keys=8, max_values=16, key_lengths=(2, 3), max_length=48),
        batch_bounds=dict(query="first", min_keys=2, max_keys=64, max_values=BINARY, key_lengths=(2, 3), max_length=LENGTH),
        largest=ARConfig(64, BINARY, LENGTH // 4, key_length=3, query="first"),
        tiny=(ARConfig(2, 2, 3, key_length=2, query="first"), ARConfig(2, 3, 2, key_length=3, query="first"),
              ARConfig(2, 1, 3, key_length=2, query="first"), ARConfig(1, 2, 1, key_length=3, query="first")),
        mutated=ARConfig(4, 8, 4, key_length=2, query="first"),
        mutation_formats=ar_configs(query="first", min_keys=2, max_keys=4, max_values=8, key_lengths=(2,), max_length=24),
    ),
    Family(
        "transformer.binary-recall.exact",
        binary_attention,
        drawn_bounds=dict(query="last", max_keys=BINARY, max_values=BINARY, max_queries=6, max_length=48),
        # attention costs length^2 per head: seeded batches up to a quarter of the longest length, the
        # largest format at the full length
        batch_bounds=dict(query="last", max_keys=BINARY, max_values=BINARY, max_queries=16, max_length=LENGTH // 4),
        largest=ARConfig(BINARY, BINARY, min(BINARY, LENGTH // 3), num_queries=min(BINARY, LENGTH // 3)),
        tiny=(ARConfig(2, 2, 2, num_queries=2), ARConfig(3, 2, 2), ARConfig(4, 3, 3, num_queries=2),
              ARConfig(1, 3, 1), ARConfig(3, 1, 2, num_queries=2)),
        mutated=ARConfig(4, 4, 4),
        mutation_formats=ar_configs(query="last", min_keys=2, max_keys=8, max_values=8, max_queries=3, max_length=16),
    ),
    Family(
        "transformer.binary-query-first.exact",
        attention_query_first,
        drawn_bounds=dict(query="first", max_keys=BINARY, max_values=BINARY, max_length=48),
        batch_bounds=dict(query="first", max_keys=BINARY, max_values=BINARY, max_length=LENGTH // 4),
        largest=ARConfig(BINARY, BINARY, min(BINARY, LENGTH // 2), query="first"),
        tiny=(ARConfig(3, 3, 2, query="first"), ARConfig(4, 2, 3, query="first"), ARConfig(5, 3, 3, query="first"),
              ARConfig(1, 3, 1, query="first"), ARConfig(3, 1, 2, query="first")),
        mutated=ARConfig(8, 8, 4, query="first"),
        mutation_formats=ar_configs(query="first", min_keys=2, max_keys=8, max_values=8, max_length=24),
    ),
)


def each_family():
    return pytest.mark.parametrize(
        "family", [pytest.param(f, marks=pytest.mark.claim(f.claim), id=f.claim) for f in FAMILIES]
    )


def each_mutation():
    return pytest.mark.parametrize(
        "family, index",
        [pytest.param(f, i, id=f"{f.claim}-{i}", marks=pytest.mark.claim(
            f.claim, role="control", breaks=f"one weight of the {f.module.NAME} network: {m.description}"))
         for f in FAMILIES for i, m in enumerate(f.module.mutations(f.mutated))],
    )


def _check_batch(family, config, tokens, evidence, device):
    assert_exact(family.module.build(config, device=device), tokens.to(device), evidence)
    evidence.note_max("largest_vocabulary", max(config.num_keys, config.num_values))
    evidence.note_max("most_pairs", config.num_pairs)
    evidence.note_max("longest_key", config.key_length)


@each_family()
@given(data=st.data())
def test_answers_drawn_instances_exactly(family, data, evidence, device):
    config, batch = data.draw(ar_instances(family.drawn()), label="instance")
    _check_batch(family, config, batch.tokens, evidence, device)


@each_family()
@given(data=st.data())
def test_answers_random_batches_exactly(family, data, evidence, device):
    config, seed = data.draw(family.batches(), label="format"), data.draw(seeds, label="seed")
    _check_batch(family, config, generate(config, SIZES.batch, seed).tokens, evidence, device)


@each_family()
def test_answers_the_profiles_largest_format_exactly(family, evidence, device):
    config = family.largest
    _check_batch(family, config, generate(config, SIZES.batch, 0).tokens, evidence, device)
    evidence.record(largest_format=str(config))


@each_family()
def test_answers_every_instance_of_tiny_formats(family, evidence, device):
    for config in family.tiny:
        batch = enumerate_instances(config, limit=SIZES.exhaustive_limit)
        assert_exact(family.module.build(config, device=device), batch.tokens.to(device), evidence)
        evidence.count("exhaustive_formats")
    evidence.record(tiny_formats=[str(c) for c in family.tiny])


@each_mutation()
def test_check_catches_single_weight_mutation(family, index, evidence):
    """The drawn-instance property must fail on the mutated construction; keep the minimal example."""
    module = family.module

    def broken_build(config):
        return mutate(module.build(config), module.mutations(config)[index])

    with pytest.raises(AssertionError) as caught:
        drawn_instance_property(broken_build, family.mutation_formats)()
    evidence.record(mutation=str(module.mutations(family.mutated)[index]), counterexample=exception_report(caught.value))


# ----------------------------------------------------------------------------- resources
K, V, n = sp.symbols("K V n", positive=True, integer=True)
X = sp.Symbol("x", positive=True)


def _measured_grid(module, configs):
    return [(config, module.build(config).resources()) for config in configs]


def _check_closed_form(module, configs, evidence):
    problems = []
    for config, measured in _measured_grid(module, configs):
        values = {"K": config.num_keys, "V": config.num_values, "n": config.key_length}
        problems += closed_form_mismatches(module.closed_form(), measured, values)
    evidence.record(closed_form={name: str(expr) for name, expr in module.closed_form().items()},
                    closed_form_grid_points=len(configs))
    assert not problems, "\n".join(problems)


@pytest.mark.claim("ar.outer-product.polynomial")
def test_outer_product_closed_form_equals_measured_counts(evidence):
    grid = [ARConfig(k, v, min(k, 3), num_queries=min(k, 3)) for k in (1, 2, 3, 5, 8, 13) for v in (1, 2, 4, 7, 16)]
    _check_closed_form(outer_product, grid, evidence)


@pytest.mark.claim("ar.query-first.polylog")
def test_query_first_closed_form_equals_measured_counts(evidence):
    grid = [ARConfig(k, v, p, key_length=kl, query="first")
            for k in (2, 3, 4, 5, 8, 9, 100, 1024, 1025) for v in (1, 2, 3, 17, 4096) for kl in (1, 2, 3) for p in (1, 2)
            if p <= k**kl]
    _check_closed_form(binary_query_first, grid, evidence)


def _growth(module, exponents, resource, substitutions, fault: int | None = None):
    """Symbolic class of the closed form and measured counts of ``resource`` over ``|K| = |V| = 2^e``;
    with ``fault``, of the construction with growth fault ``growth_faults(config)[fault]`` applied."""
    configs = [ARConfig(2**e, 2**e, 1, query="first" if module is binary_query_first else "last") for e in exponents]
    built = [module.build(c) if fault is None else mutate(module.build(c), module.growth_faults(c)[fault]) for c in configs]
    measured = [float(getattr(measure(c.network), resource)) for c in built]
    expr = module.closed_form()[resource].subs(substitutions)
    return symbolic_growth(expr, X), empirical_growth([2.0**e for e in exponents], measured)


@pytest.mark.claim("transformer.binary-recall.exact")
def test_binary_attention_closed_form_equals_measured_counts_for_any_pairs(evidence):
    grid = [ARConfig(k, v, p, num_queries=q) for k in (1, 2, 3, 4, 5, 8, 9, 1024, 1025) for v in (1, 2, 3, 17, 4096)
            for p, q in ((1, 1), (2, 1), (2, 2)) if p <= k]
    _check_closed_form(binary_attention, grid, evidence)


@pytest.mark.claim("transformer.binary-query-first.exact")
def test_query_first_attention_closed_form_equals_measured_counts_for_any_pairs(evidence):
    grid = [ARConfig(k, v, p, query="first") for k in (1, 2, 3, 4, 5, 8, 9, 1024, 1025) for v in (1, 2, 3, 17, 4096)
            for p in (1, 2) if p <= k]
    _check_closed_form(attention_query_first, grid, evidence)


@pytest.mark.claim("transformer.binary-recall.exact", role="control", breaks="the closed form of the parameter count")
@pytest.mark.claim("transformer.binary-query-first.exact", role="control", breaks="the closed form of the parameter count")
@pytest.mark.parametrize("module", [binary_attention, attention_query_first], ids=lambda m: m.NAME)
def test_attention_closed_form_check_catches_a_count_off_by_one(module, evidence):
    config = ARConfig(5, 6, 2, query="first" if module is attention_query_first else "last")
    wrong = {**module.closed_form(), "parameters": module.closed_form()["parameters"] + 1}
    problems = closed_form_mismatches(wrong, module.build(config).resources(), {"K": 5, "V": 6})
    evidence.record(caught=problems)
    assert problems


@pytest.mark.claim("ar.outer-product.polynomial")
@pytest.mark.parametrize("resource", ["fnn_width", "parameters"])
def test_outer_product_grows_like_vocab_squared(resource, evidence):
    symbolic, empirical = _growth(outer_product, SIZES.onehot_growth_exponents, resource, {K: X, V: X})
    verdict = judge_polynomial(symbolic, empirical, degree=2)
    evidence.record(**{f"{resource}_growth": verdict})
    assert verdict.verdict == "holds", verdict.reason


@pytest.mark.claim("ar.query-first.polylog")
@pytest.mark.parametrize("resource", ["fnn_width", "parameters", "fnn_nonzeros"])
def test_query_first_resources_are_polylog_in_vocab(resource, evidence):
    symbolic, empirical = _growth(binary_query_first, SIZES.binary_growth_exponents, resource, {K: X, V: X, n: 1})
    verdict = judge_polylog(symbolic, empirical)
    evidence.record(**{f"{resource}_growth": verdict})
    if verdict.verdict == "inconclusive":
        evidence.inconclusive(verdict.reason)
    assert verdict.verdict == "holds", verdict.reason


def query_first_resources_by_pairs(build=binary_query_first.build) -> dict:
    """(parameters, width, depth, weight bound, weight bits) of the query-first network at |V| = 4096 for
    1..1000 pairs."""
    counts = {}
    for pairs in (1, 7, 100, 1000):
        r = measure(build(ARConfig(4096, 4096, pairs, query="first")).network)
        counts[pairs] = (r.parameters, r.fnn_width, r.fnn_depth, r.weight_bound, r.weight_bits)
    return counts


@pytest.mark.claim("ar.query-first.polylog")
def test_query_first_resources_do_not_depend_on_pairs_or_length(evidence):
    counts = query_first_resources_by_pairs()
    evidence.record(resources_by_pairs={str(p): c for p, c in counts.items()})
    assert len(set(counts.values())) == 1, counts
    weights_ok = counts[1][3] <= 2 and counts[1][2] == 4
    evidence.record(weight_bound=counts[1][3], fnn_depth=counts[1][2], weight_bits=counts[1][4])
    assert weights_ok


DEAD_UNITS, LONG_WINDOW = 0, 1  # indices into binary_query_first.growth_faults(config)


@pytest.mark.claim("ar.query-first.polylog", role="control",
                   breaks="the binary query-first network: |V| dead hidden units added (still exact; parameters linear in |V|)")
@pytest.mark.claim("ar.polylog.vocab", role="control",
                   breaks="the binary query-first network: |V| dead hidden units added (still exact; parameters linear in |V|)")
def test_growth_check_catches_dead_units_proportional_to_the_vocabulary(evidence):
    symbolic, empirical = _growth(binary_query_first, SIZES.binary_growth_exponents, "parameters", {K: X, V: X, n: 1},
                                  fault=DEAD_UNITS)
    verdict = judge_polylog(symbolic, empirical)
    config = ARConfig(64, 64, 2, query="first")
    grown = mutate(binary_query_first.build(config), binary_query_first.growth_faults(config)[DEAD_UNITS])
    assert_exact(grown, generate(config, SIZES.batch, 0).tokens)  # exactness does not see it
    mismatches = closed_form_mismatches(binary_query_first.closed_form(), measure(grown.network), {"K": 64, "V": 64, "n": 1})
    evidence.record(grown_parameters_growth=verdict, closed_form_mismatches=mismatches)
    assert verdict.verdict == "fails", verdict.reason
    assert mismatches


@pytest.mark.claim("ar.query-first.polylog", role="control",
                   breaks="the binary query-first network: the query broadcast by a window as long as the sequence in "
                          "place of a prefix sum (still exact; parameters grow with N)")
def test_independence_check_catches_a_window_as_long_as_the_sequence(evidence):
    def grown(config):
        return mutate(binary_query_first.build(config), binary_query_first.growth_faults(config)[LONG_WINDOW])

    counts = query_first_resources_by_pairs(grown)
    evidence.record(grown_resources_by_pairs={str(p): c for p, c in counts.items()})
    assert len(set(counts.values())) > 1


@pytest.mark.claim("ar.outer-product.polynomial", role="control",
                   breaks="the outer-product network: |K| |V|^2 dead hidden units added (still exact; parameters like "
                          "|V|^3), and a closed form off by one")
def test_degree_check_catches_cubic_growth_and_a_closed_form_off_by_one(evidence):
    symbolic, empirical = _growth(outer_product, SIZES.onehot_growth_exponents, "parameters", {K: X, V: X}, fault=0)
    verdict = judge_polynomial(symbolic, empirical, degree=2)
    config = ARConfig(5, 6, 2)
    wrong = {**outer_product.closed_form(), "parameters": outer_product.closed_form()["parameters"] + 1}
    off_by_one = closed_form_mismatches(wrong, measure(outer_product.build(config).network), {"K": 5, "V": 6, "n": 1})
    evidence.record(grown_parameters_growth=verdict, off_by_one_mismatches=off_by_one)
    assert verdict.verdict != "holds", verdict.reason  # the degree-2 check does not pass on it
    assert off_by_one


# ----------------------------------------------------------------------------- Theorem 3.2
@pytest.mark.claim("ar.polylog.vocab")
def test_a_two_layer_polylog_construction_solves_recall(evidence, device):
    """Exhibit the witness: two SSM layers, exact at the largest vocabulary of the profile, poly-log."""
    config = ARConfig(SIZES.binary_vocab_max, SIZES.binary_vocab_max, num_pairs=min(64, SIZES.binary_vocab_max), query="first")
    construction = binary_query_first.build(config, device=device)
    resources = measure(construction.network)
    assert resources.num_layers == 2
    tokens = generate(config, SIZES.batch, 0).tokens.to(device)
    assert_exact(construction, tokens, evidence)
    symbolic, empirical = _growth(binary_query_first, SIZES.binary_growth_exponents, "parameters", {K: X, V: X, n: 1})
    verdict = judge_polylog(symbolic, empirical)
    outer = measure(outer_product.build(ARConfig(64, 64, 1)).network)
    evidence.record(
        format="query first (the query precedes the pairs); binary token codes",
        witness=binary_query_first.NAME,
        resources_at_largest_vocab=resources.summary(),
        state_on_the_checked_batch=construction.memory(tokens),
        parameters_growth=verdict,
        window="infinite: the prefix-sum SSMs span the whole sequence (one parameter per channel)",
        query_last_note="in the query-last format the suite's exact construction is the outer product, "
                        f"{outer.parameters} parameters already at |V| = 64 (polynomial); any model whose state after "
                        "the pairs is all it keeps needs at least N log2 |V| state bits there (limits.query-last-state), "
                        "and the suite's poly-log one packs them into one channel of 2 N w - 1 significant bits "
                        "(limits.precision-route)",
    )
    if verdict.verdict == "inconclusive":
        evidence.inconclusive(verdict.reason)
    assert verdict.verdict == "holds", verdict.reason


@pytest.mark.claim("ar.outer-product.exact")
def test_outer_product_exact_at_the_profiles_long_length(evidence, device):
    """MQAR of ``L = wide_length`` tokens (``N = ceil(L/3)`` pairs over as many keys, 4 values, the rest
    queries; width ``5 N``): verified on the structured fast path, which ``verify`` takes for such
    inputs, and the dense twin agrees on the outputs at a sixteenth of the length."""
    import time

    from constructions import sparse_path

    def config_for(L):
        N = -(-L // 3)
        return ARConfig(N, 4, N, num_queries=L - 2 * N)

    config = config_for(SIZES.wide_length)
    construction = outer_product.build(config, device=device)
    tokens = generate(config, 1, SIZES.wide_length).tokens.to(device)
    start = time.perf_counter()
    assert_exact(construction, tokens, evidence)
    evidence.record(long_length=config.length, long_length_format=str(config), long_length_seconds=round(time.perf_counter() - start, 2),
                    long_length_path="sparse" if sparse_path.worth_it(construction.network, tokens) else "dense")
    small = config_for(SIZES.wide_length // 16)
    twin = outer_product.build(small, device=device)
    tokens = generate(small, 2, 1).tokens.to(device)
    assert torch.equal(twin.outputs(tokens, path="sparse"), twin.outputs(tokens, path="dense"))
