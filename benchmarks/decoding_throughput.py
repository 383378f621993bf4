"""Free-running decoding vs teacher-forced verification (a benchmark, not a test).

    python benchmarks/decoding_throughput.py                           # L = 256, 1024, 4096; batches 1, 32, 256
    python benchmarks/decoding_throughput.py --lengths 4096 --batches 64 --cases fixed-length-shift

For each copier (the fixed-length shift and the n-gram lookup, on the formats of
``benchmarks/verification_throughput.py``: ``2|s| + 3 = L``), ``batch`` seeded strings are

* verified teacher forced: :func:`constructions.verification.verify` on the whole sequences (one
  convolutional pass), and
* decoded free running: :func:`constructions.copying.greedy_decode` from the prompts ``BOS s SEP``,
  ``|s| + 1`` tokens, with the decoder it takes by default (``decoder``: ``draft`` up to 16 prompts, drafting
  the continuation from the context and proving it in whole passes, ``constructions/copying/draft_and_verify.py``;
  ``step`` beyond, one step of every layer's recurrence per token after reading the prompt at once), and in
  step mode alone (``step s``, ``step ratio``),

and the line prints the times and ratios against the target (the default decoder within :data:`TARGET_RATIO` x
of teacher-forced verification at L = 4096; printed, never asserted), and whether the decoded copies are exact
(and both decoders' tokens the same). ``--rerun-max-length`` also times the slow reference twin
(:func:`~constructions.copying.greedy_decode_rerunning`: the whole prefix per token) up to that length.
Step mode's per-token cost is a fixed count of dispatched operations (torch's or, at small batches of
small dense networks, numpy's: ``constructions/numpy_step.py``) plus work proportional to the batch, so
its ratio falls as the batch grows. Each line also prints step mode's time per generated token (``us/tok``),
the target's budget per generated token (``budget``: 3 x verify's time / generated tokens), and the budget in
dispatches of a tiny torch and numpy operation measured at the start (``dispatches``: how many operations a
step may make to meet the target); the closing lines name the rows whose default decoder misses the target,
and those where step mode alone would. Times are the best of ``--repeats``; one torch thread (``--threads``);
on a busy machine both sides slow down, the per-step overhead more.
"""

from __future__ import annotations

import argparse
import importlib.util
import sys
import time
from pathlib import Path

import torch

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from constructions.copying import greedy_decode, greedy_decode_rerunning  # noqa: E402
from constructions.copying.decoding import auto_decoder  # noqa: E402
from constructions.verification import verify  # noqa: E402

TARGET_RATIO = 3.0
TARGET_LENGTH = 4096


def _formats():
    """``verification_throughput``'s copy cases (formats, instance generators, builders), loaded as a module."""
    spec = importlib.util.spec_from_file_location("verification_throughput", ROOT / "benchmarks" / "verification_throughput.py")
    module = importlib.util.module_from_spec(spec)
    sys.modules[spec.name] = module
    spec.loader.exec_module(module)
    return {name: case for name, case in module.CASES.items() if case.copier}


def best_of(fn, repeats: int) -> tuple[float, object]:
    best, out = float("inf"), None
    for _ in range(repeats):
        start = time.perf_counter()
        out = fn()
        best = min(best, time.perf_counter() - start)
    return best, out


def dispatch_costs(repeats: int = 20000) -> tuple[float, float]:
    """Seconds of one tiny torch and one tiny numpy operation (an addition of 3 numbers), best of 5 runs."""
    import numpy as np

    costs = []
    for x in (torch.zeros(3), np.zeros(3)):
        best = float("inf")
        for _ in range(5):
            start = time.perf_counter()
            for _ in range(repeats):
                x + x
            best = min(best, (time.perf_counter() - start) / repeats)
        costs.append(best)
    return costs[0], costs[1]


def measure(case, length: int, batch: int, repeats: int, rerun_max: int) -> dict:
    fmt = case.for_length(length, torch.float64)
    construction = case.build(fmt, torch.float64, "cpu")
    tokens = case.tokens(fmt, batch, 1)
    s = fmt.config.length
    prompts, copies = tokens[:, : s + 2], tokens[:, s + 2 :]
    verify_s, result = best_of(lambda: verify(construction, tokens), repeats)
    decode_s, generated = best_of(lambda: greedy_decode(construction, prompts, s + 1), repeats)
    step_s, stepped = best_of(lambda: greedy_decode(construction, prompts, s + 1, decoder="step"), repeats)
    row = {"case": case.name, "length": fmt.length, "format": fmt.label, "batch": batch, "verify_s": verify_s,
           "decoder": auto_decoder(construction, batch), "decode_s": decode_s, "ratio": decode_s / verify_s,
           "step_s": step_s, "step_ratio": step_s / verify_s,
           "exact": result.ok and bool(torch.equal(generated, copies)) and bool(torch.equal(stepped, copies)),
           "per_token_s": step_s / (s + 1), "budget_s": TARGET_RATIO * verify_s / (s + 1)}
    if fmt.length <= rerun_max:
        rerun_s, slow = best_of(lambda: greedy_decode_rerunning(construction, prompts, s + 1), 1)
        row.update(rerun_s=rerun_s, rerun_ratio=rerun_s / verify_s, twins_equal=bool(torch.equal(slow, generated)))
    return row


def main(argv=None) -> None:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--lengths", type=int, nargs="+", default=[256, 1024, TARGET_LENGTH])
    p.add_argument("--batches", type=int, nargs="+", default=[1, 32, 256])
    p.add_argument("--cases", nargs="+", default=None, help="copier names (default: both)")
    p.add_argument("--ngram-max-batch", type=int, default=8,
                   help="largest batch for the n-gram copier (its memory is tens of thousands of cells wide at L = 4096)")
    p.add_argument("--repeats", type=int, default=2)
    p.add_argument("--rerun-max-length", type=int, default=256)
    p.add_argument("--threads", type=int, default=1)
    args = p.parse_args(argv)
    torch.set_num_threads(args.threads)
    cases = _formats()
    names = args.cases or list(cases)
    torch_op, numpy_op = dispatch_costs()
    print(f"free-running decoding vs teacher-forced verify; target: decode <= {TARGET_RATIO:g}x verify at "
          f"L = {TARGET_LENGTH}; torch threads {args.threads}; one tiny operation: torch {torch_op * 1e6:.2f} us, "
          f"numpy {numpy_op * 1e6:.2f} us")
    print(f"{'construction':<20} {'L':>5} {'format':<18} {'batch':>5} {'verify s':>9} {'decoder':>7} {'decode s':>9} "
          f"{'ratio':>7} {'target':>6} {'exact':>5} {'step s':>8} {'step ratio':>10} {'us/tok':>8} {'budget':>8} "
          f"{'dispatches':>14} {'rerun s':>8} {'rerun ratio':>11}")
    missed, step_missed = [], []
    for name in names:
        for length in args.lengths:
            for batch in args.batches:
                if "ngram" in name and batch > args.ngram_max_batch:
                    continue
                r = measure(cases[name], length, batch, args.repeats, args.rerun_max_length)
                at_target = abs(r["length"] - TARGET_LENGTH) <= 3
                target = ("met" if r["ratio"] <= TARGET_RATIO else "NOT") if at_target else "-"
                rerun = (f"{r['rerun_s']:8.3f} {r['rerun_ratio']:10.0f}x" + ("" if r["twins_equal"] else " (twins differ!)")
                         if "rerun_s" in r else f"{'-':>8} {'-':>11}")
                ops = f"{r['budget_s'] / torch_op:5.1f} / {r['budget_s'] / numpy_op:5.1f}"
                print(f"{name:<20} {r['length']:>5} {r['format']:<18} {batch:>5} {r['verify_s']:9.4f} {r['decoder']:>7} "
                      f"{r['decode_s']:9.4f} {r['ratio']:6.2f}x {target:>6} {'yes' if r['exact'] else 'NO':>5} "
                      f"{r['step_s']:8.4f} {r['step_ratio']:9.2f}x {r['per_token_s'] * 1e6:8.1f} "
                      f"{r['budget_s'] * 1e6:8.1f} {ops:>14} {rerun}", flush=True)
                missed += [r] if target == "NOT" else []
                step_missed += [r] if at_target and r["step_ratio"] > TARGET_RATIO else []
    print("dispatches: the budget per generated token in tiny torch / numpy operations")
    for r in missed:
        print(f"NOT met: {r['case']} L = {r['length']} batch {r['batch']} ({r['decoder']}): {r['ratio']:.2f}x")
    for r in step_missed:
        print(f"step mode alone: {r['case']} L = {r['length']} batch {r['batch']}: {r['step_ratio']:.1f}x; a generated "
              f"token may take {r['budget_s'] * 1e6:.1f} us ({r['budget_s'] / torch_op:.0f} torch or "
              f"{r['budget_s'] / numpy_op:.0f} numpy dispatches), a step takes {r['per_token_s'] * 1e6:.1f} us "
              "(dispatched from Python per token: embedding, every layer, the read-out, the decoder's choice)")


if __name__ == "__main__":
    main()
