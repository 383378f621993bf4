"""Training throughput of the Fig. C.1 models: one by one vs a batched ensemble, threads vs processes
(a benchmark, not a test).

    python benchmarks/training_throughput.py                      # recall K = 15, thorough shapes
    python benchmarks/training_throughput.py --task copy --size 24 --steps 20 --seeds 3
    python benchmarks/training_throughput.py --task copy --size 6 --width 32 --state 4 --hidden 64 --letters 4 --digits 4

For ``--seeds`` seeds of one model (``--model``, default the two-layer SSM+FNN of FNN depth 2; the
thorough profile's widths: 64 channels, state 8, FNN hidden 128, batch 256), it measures, in one run:

* **one by one**: each seed trained alone (:func:`training.trainer.train`), one after the other;
* **ensemble**: all seeds as one batched ensemble (:func:`training.ensemble.train_ensemble`);
* both on 1 thread and on ``--threads`` threads (``torch.set_num_threads``), and the ensemble in
  ``--processes`` processes of one thread each, each training its share of the seeds (what
  pytest-xdist workers do), at the same time;
* the machine's float32 matrix-multiply peak (a ``--peak-n`` square product, best of 3) on 1 thread
  and on ``--threads``, and each run's achieved FLOP/s: the matmul FLOPs of one training step
  (forward and backward, ``torch.utils.flop_counter``; FFTs and elementwise work are not counted, so
  this is a lower bound of the work done) times the steps, over the wall time.

It prints tokens per second per model (batch x L x steps / wall time / models), the ensemble /
one-by-one ratio, achieved FLOP/s as a fraction of the peak, and which of threads and processes is
faster. Times include the final evaluation of each model on ``batch`` training instances (small).
On a shared machine the numbers are inflated by the other load; compare ratios from one run.
"""

from __future__ import annotations

import argparse
import multiprocessing
import sys
import time
from dataclasses import replace
from pathlib import Path

import torch

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from training.appendix_c import SweepSetup, TRANSFORMER, sequence_length, ssm  # noqa: E402
from training.ensemble import train_ensemble  # noqa: E402
from training.trainer import loss_sum, scored, set_seed, train  # noqa: E402

MODELS = {"ssm1-fnn2": ssm(1, 2), "ssm2-fnn1": ssm(2, 1), "ssm2-fnn2": ssm(2, 2), "ssm2-fnn4": ssm(2, 4),
          "ssm2-linear": ssm(2, 0), "ssm2-fnn2-dense": ssm(2, 2, "dense"), "transformer": TRANSFORMER}


def make_setup(args) -> SweepSetup:
    return SweepSetup(args.task, (args.size,), models=(MODELS[args.model],), seeds=tuple(range(args.seeds)),
                      width=args.width, state_size=args.state, fnn_hidden=args.hidden, steps=args.steps,
                      batch_size=args.batch, letters=args.letters, digits=args.digits, alphabet=args.digits,
                      train_instances=max(4 * args.batch, 1024), test_instances=args.batch)


def members(setup: SweepSetup, seeds):
    spec, size = setup.models[0], setup.sizes[0]
    models, datas, configs = [], [], []
    for seed in seeds:
        set_seed(seed)
        models.append(setup.build(spec, size))
        datas.append(setup.data(size, seed)[0].data)
        configs.append(replace(setup.train_config(seed), final_train_examples=setup.batch_size,
                               eval_every=setup.steps))
    return models, datas, configs


def step_flops(setup: SweepSetup) -> int:
    """Matmul FLOPs of one training step (forward + backward) of one model."""
    from torch.utils.flop_counter import FlopCounterMode

    models, datas, configs = members(setup, (0,))
    model, (x, y), config = models[0], datas[0], configs[0]
    x, y = x[: setup.batch_size], y[: setup.batch_size]
    with FlopCounterMode(display=False) as counter:
        out = model(x)
        total, count = loss_sum(*scored(out, x, y, config.loss, config.positions), config.loss)
        (total / count).backward()
    return counter.get_total_flops()


def run(setup: SweepSetup, seeds, mode: str, threads: int) -> float:
    """Wall time of training ``seeds`` one by one or as an ensemble on ``threads`` threads."""
    torch.set_num_threads(threads)
    models, datas, configs = members(setup, seeds)
    start = time.perf_counter()
    if mode == "ensemble":
        train_ensemble(models, datas, configs)
    else:
        for m, d, c in zip(models, datas, configs):
            train(m, d, c)
    return time.perf_counter() - start


def _worker(args):
    setup, seeds = args
    return run(setup, seeds, "ensemble", 1)


def peak_flops(n: int, threads: int) -> float:
    torch.set_num_threads(threads)
    a, b = torch.randn(n, n), torch.randn(n, n)
    a @ b
    best = min(_timed(lambda: a @ b) for _ in range(3))
    return 2 * n**3 / best


def _timed(fn) -> float:
    start = time.perf_counter()
    fn()
    return time.perf_counter() - start


def main(argv=None) -> int:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--task", default="recall", choices=("recall", "copy"))
    p.add_argument("--size", type=int, default=15, help="recall pairs K or copy length n (default 15)")
    p.add_argument("--model", default="ssm2-fnn2", choices=sorted(MODELS))
    p.add_argument("--seeds", type=int, default=4)
    p.add_argument("--steps", type=int, default=30)
    p.add_argument("--batch", type=int, default=256)
    p.add_argument("--width", type=int, default=64, help="channels (default 64; the quick profile: 32)")
    p.add_argument("--state", type=int, default=8, help="state size per channel (default 8; quick: 4)")
    p.add_argument("--hidden", type=int, default=128, help="FNN hidden width (default 128; quick: 64)")
    p.add_argument("--letters", type=int, default=26, help="recall keys (default 26; quick: 4)")
    p.add_argument("--digits", type=int, default=10, help="recall values and copy alphabet (default 10; quick: 4)")
    p.add_argument("--threads", type=int, default=2)
    p.add_argument("--processes", type=int, default=2)
    p.add_argument("--peak-n", type=int, default=1024)
    args = p.parse_args(argv)
    setup = make_setup(args)
    seeds = list(range(args.seeds))
    L = sequence_length(setup.task_config(args.size))
    tokens = args.batch * L * args.steps  # per model
    flops = step_flops(setup) * args.steps  # per model
    peaks = {t: peak_flops(args.peak_n, t) for t in sorted({1, args.threads})}
    print(f"{args.model} on {setup.task_config(args.size)} (L = {L}), {args.seeds} seeds, {args.steps} steps of "
          f"{args.batch}; matmul FLOPs per model and step {flops / args.steps / 1e6:.1f} M; float32 matmul peak "
          + ", ".join(f"{t} thread(s) {v / 1e9:.1f} GFLOP/s" for t, v in peaks.items()))
    rows = {}
    for threads in sorted({1, args.threads}):
        for mode in ("one-by-one", "ensemble"):
            rows[(mode, f"{threads} thread(s)")] = (run(setup, seeds, mode, threads), peaks[threads])
    shares = [seeds[i :: args.processes] for i in range(args.processes)]
    ctx = multiprocessing.get_context("spawn")
    start = time.perf_counter()
    with ctx.Pool(args.processes) as pool:
        pool.map(_worker, [(setup, s) for s in shares if s])
    rows[("ensemble", f"{args.processes} processes x 1 thread")] = (time.perf_counter() - start,
                                                                   peaks[1] * args.processes)
    print(f"{'mode':<12} {'parallelism':<26} {'wall s':>8} {'tokens/s per model':>19} {'GFLOP/s':>8} {'of peak':>8}")
    for (mode, how), (wall, peak) in rows.items():
        achieved = flops * args.seeds / wall
        print(f"{mode:<12} {how:<26} {wall:8.2f} {tokens * args.seeds / wall / args.seeds:19.0f} "
              f"{achieved / 1e9:8.2f} {achieved / peak:8.1%}")
    one = rows[("one-by-one", "1 thread(s)")][0]
    print(f"ensemble / one-by-one speed-up, 1 thread: {one / rows[('ensemble', '1 thread(s)')][0]:.2f}x")
    if args.threads > 1:
        print(f"ensemble / one-by-one speed-up, {args.threads} threads: "
              f"{rows[('one-by-one', f'{args.threads} thread(s)')][0] / rows[('ensemble', f'{args.threads} thread(s)')][0]:.2f}x")
        threaded = rows[("ensemble", f"{args.threads} thread(s)")][0]
        processes = rows[("ensemble", f"{args.processes} processes x 1 thread")][0]
        faster = "processes" if processes < threaded else "threads"
        print(f"both cores: {args.threads} threads {threaded:.2f} s vs {args.processes} processes {processes:.2f} s "
              f"(process start-up included): {faster} faster by {max(threaded, processes) / min(threaded, processes):.2f}x")
    return 0


if __name__ == "__main__":
    sys.exit(main())
