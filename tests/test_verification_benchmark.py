"""The helpers of ``benchmarks/verification_throughput.py`` on tiny sizes (seconds, not a benchmark run)."""

from __future__ import annotations

import importlib.util
import math
import sys
from pathlib import Path

import pytest
import torch

PATH = Path(__file__).resolve().parent.parent / "benchmarks" / "verification_throughput.py"


@pytest.fixture(scope="module")
def bench():
    spec = importlib.util.spec_from_file_location("verification_throughput", PATH)
    module = importlib.util.module_from_spec(spec)
    sys.modules[spec.name] = module  # dataclasses look their module up while the file runs
    threads = torch.get_num_threads()
    torch.set_num_threads(1)  # tiny tensors: one thread is fastest, and immune to a busy machine
    try:
        spec.loader.exec_module(module)
        yield module
    finally:
        torch.set_num_threads(threads)
        sys.modules.pop(spec.name, None)


def fake(bench, verify_s, forward_s, **breakdown):
    return bench.Throughput("fake", "cpu", 256, 255, "fake", 8, 0.01, verify_s, forward_s, True, 0.0,
                            {"forward": forward_s, **breakdown})


def test_overhead_is_verify_time_over_forward_time(bench):
    assert bench.overhead_ratio(3.0, 2.0) == 1.5
    t = fake(bench, 0.3, 0.2, reference=0.06, decode=0.01, other=0.03)
    assert t.overhead == pytest.approx(0.3 / 0.2)
    assert t.instances_per_s == pytest.approx(8 / 0.3)
    name, share = t.dominant_extra()
    assert name == "reference" and share == pytest.approx(0.2)
    assert fake(bench, 0.1, 0.1).overhead == 1.0


def test_predictions_scale_by_the_declared_or_fitted_exponent(bench):
    assert bench.predict(2.0, 4, 16, 2.0) == pytest.approx(32.0)
    step = lambda x, s: bench.Step(x, None, s, s, 0.0, True)  # noqa: E731
    assert bench.growth_exponent([step(4, 1.0)], 1.1) == 1.1
    assert bench.growth_exponent([step(4, 1.0), step(8, 8.0)], 1.1) == pytest.approx(3.0)  # steeper: fitted
    assert bench.growth_exponent([step(4, 1.0), step(8, 1.5)], 2.0) == 2.0  # flatter: declared
    assert bench.growth_exponent([step(4, 0.001), step(8, 0.1)], 1.0) == 1.0  # too small to fit


@pytest.mark.parametrize("name", ["outer-product", "binary-query-first", "binary-query-first n=3", "precision-route",
                                  "fixed-length-shift", "ngram-lookup"])
def test_measuring_one_construction_gives_finite_positive_numbers(bench, name):
    case = bench.CASES[name]
    fmt = case.for_length(12, torch.float64)
    t, construction, tokens = bench.measure_throughput(case, fmt, 2, repeats=1, target_length=12)
    assert t.ok and t.instances == 2 and tokens.shape == (2, fmt.length) and t.length == fmt.length
    for value in (t.build_s, t.verify_s, t.forward_s, t.instances_per_s, t.overhead):
        assert math.isfinite(value) and value > 0
    assert t.overhead == pytest.approx(t.verify_s / t.forward_s)
    assert set(t.breakdown) >= {"forward", "reference", "decode", "target", "other"}
    assert all(math.isfinite(v) and v >= 0 for v in t.breakdown.values())
    batched, unbatched = bench.batched_vs_unbatched(construction, tokens, "cpu", 1)
    assert batched > 0 and unbatched > 0
    if case.copier:
        seconds, exact = bench.measure_greedy(construction, fmt, tokens, "cpu")
        assert seconds > 0 and exact


def test_formats_take_the_nearest_length_the_task_allows(bench):
    used = {name: case.for_length(256, torch.float64).length for name, case in bench.CASES.items()}
    assert used["outer-product"] == 256  # 2N + Q
    assert used["binary-query-first"] == 255 and used["binary-query-first n=3"] == 255  # n + N (n + 1)
    assert used["fixed-length-shift"] == 255 and used["ngram-lookup"] == 255  # 2|s| + 3
    assert used["precision-route"] == 13  # 2N + 1 with 2 N w - 1 <= 53


def test_ngram_strings_never_repeat_an_ngram(bench):
    from constructions.tasks.copying import de_bruijn, distinct_ngram_strings, repeated_ngram

    seq = de_bruijn(3, 3)
    assert len(seq) == 27
    grams = {tuple(g) for g in torch.cat([seq, seq[:2]]).unfold(0, 3, 1).tolist()}
    assert len(grams) == 27  # every 3-gram once, cyclically
    strings = distinct_ngram_strings(3, 3, 29, 16, seed=1)
    assert strings.shape == (16, 29) and not bool(repeated_ngram(strings, 3, 3).any())


def test_search_stops_at_the_budget_the_cap_and_the_format_limit(bench):
    case = bench.CASES["fixed-length-shift"]
    s = bench.search_largest(case, "L", budget=1e-9, min_exp=4, max_exp=8)
    assert len(s.steps) == 1 and s.largest.fmt.length == 15 and "predicted" in s.stopped
    s = bench.search_largest(case, "|V|", min_exp=2, max_exp=3)
    assert [step.x for step in s.steps] == [4, 8] and "cap" in s.stopped
    assert all(step.seconds > 0 and step.memory_gib > 0 for step in s.steps)
    s = bench.search_largest(bench.CASES["precision-route"], "L", min_exp=3, max_exp=8)
    assert s.largest.fmt.length == 13 and "format limit" in s.stopped


def test_profile_commands_and_their_timing(bench, tmp_path):
    argv = bench.profile_command("quick", tmp_path)
    assert argv[1:5] == ["-m", "reports", "--profile", "quick"] and str(tmp_path) in argv
    seconds, code = bench.time_command([sys.executable, "-c", "pass"])
    assert seconds > 0 and code == 0
