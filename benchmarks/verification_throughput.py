"""Verification throughput of the suite's exact constructions (a benchmark, not a test).

    python benchmarks/verification_throughput.py                      # quick defaults, CPU (+ CUDA if present)
    python benchmarks/verification_throughput.py --lengths 256 4096 16384 --instances 32
    python benchmarks/verification_throughput.py --device cuda --dtype float32 --budget 60
    python benchmarks/verification_throughput.py --skip-search --profiles   # also time `python -m reports`

Every exact SSM+FNN construction the checks build (``constructions/associative_recall`` BUILDERS,
``constructions/copying``: the fixed-length shift and the n-gram lookup, teacher forced and free
running) is verified on seeded instances of its task with :func:`constructions.verification.verify`,
the entry point every exactness check goes through. Printed, all measured in one run:

1. **Throughput**: instances verified per second at ``--lengths`` (default L = 2^8 and 2^12, or
   the nearest length the task format allows: the ``used`` column; a format's own limit, such as
   the precision route's float64 significand, is printed instead), on ``--instances`` instances,
   or as many as fit a tenth of ``--budget`` and half of ``--max-memory-gb`` as predicted by a
   probe (a forward pass of the built network over L/16 tokens of one instance, scaled by
   L log L); a length where one instance is predicted past the budget is skipped.
2. **Checking overhead**: ``verify`` time / bare batched forward ``network(tokens)`` time on the
   same network and inputs (target <= 1.5x; printed, never asserted), with a breakdown of
   verify's work outside the forward pass (answer selection, reference answers, decoding, target
   codes, error, comparison, and ``other``: chunking, concatenation, bookkeeping).
3. **Ratios** on ``--ratio-instances`` instances: batched vs unbatched verification (one instance
   per call), FFT vs direct convolution (every SSM layer forced to ``mode="fft"`` / ``"direct"``;
   ``auto``, the default, takes a scan for prefix sums, direct for short windows, FFT otherwise);
   GPU vs CPU when CUDA is measured too; free-running greedy decoding of the copiers (step mode: the
   prompt in one pass, then one recurrence step per generated token; ``benchmarks/decoding_throughput.py``
   measures it against its target) vs teacher-forced verify. A forced mode or a greedy run predicted
   (from the previous length, as auto grew, times L^2 for direct) past a quarter of ``--budget``
   is skipped and its prediction printed.
4. **Largest L and |V|** that verify exactly (one instance per step) as L (powers of two, nearest
   format length) or the per-side vocabulary (keys = values, or the alphabet) doubles; growth
   stops at the first step predicted (from the previous step's time and memory and the
   construction's declared complexity, or the growth fitted on the last two steps if steeper)
   to exceed ``--budget`` seconds or ``--max-memory-gb`` (from L = 1024 on, a probe of the built
   network as in 1. may also stop it), at a failed verification, at the format's limit, or at
   the caps ``--max-length-exp`` / ``--max-vocab-exp`` (2^18). Peak resident memory at the end.
5. ``--profiles``: wall time of ``python -m reports --profile quick`` (and ``thorough`` with
   ``--thorough``) as subprocesses into a temporary directory; target: quick < 5 min on 2 cores.

Torch runs one intra-op thread by default (``--threads``), as each pytest-xdist worker of the
checks does on 2 cores (``claims/pytest_plugin.py``); on a busy machine, multi-threaded small ops
slow down by orders of magnitude, so compare thread counts only on an idle one.
Exact constructions run in float64 by default (``--dtype float32`` runs them with the float32
tolerance of ``EXACT_TOLERANCE``). Timings are the best of ``--repeats`` runs (one run from one
second on); verify and the bare forward pass alternate, at least 0.25 s in all, so that both see
the same machine load; CUDA timings synchronize.
"""

from __future__ import annotations

import argparse
import math
import os
import resource
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import torch

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from constructions.associative_recall import BUILDERS, precision_route  # noqa: E402
from constructions import sparse_path  # noqa: E402
from constructions.copying import fixed_length, greedy_decode, ngram  # noqa: E402
from constructions.errors import InfeasibleTaskError  # noqa: E402
from constructions.mutation import FAULTS_ENV  # noqa: E402
from constructions.tasks.associative_recall import ARConfig  # noqa: E402
from constructions.tasks.associative_recall import generate as generate_recall  # noqa: E402
from constructions.tasks.copying import CopyConfig, assemble, distinct_ngram_strings, repeated_ngram  # noqa: E402
from constructions.tasks.copying import generate as generate_copies  # noqa: E402
from constructions.verification import EXACT_TOLERANCE, verify  # noqa: E402

OVERHEAD_TARGET = 1.5
#: the wide constructions and the lengths where 4b compares the fast path with the dense one (the dense
#: path's longest exact lengths before the fast path: 4096 and 2047)
WIDE = {"outer-product": (1024, 4096), "ngram-lookup": (1024, 2048)}
QUICK_PROFILE_TARGET_S = 300.0


# ----------------------------------------------------------------------------- task formats
@dataclass(frozen=True)
class Format:
    """One task format: an ``ARConfig`` or a ``CopyConfig``, and the n-gram length of the n-gram copier."""

    config: Any
    n: int | None = None

    @property
    def length(self) -> int:
        c = self.config
        return c.sequence_length if isinstance(c, CopyConfig) else c.length

    @property
    def vocab(self) -> int:
        """Per-side vocabulary: keys (= values in the vocabulary sweeps) for recall, the alphabet for copying."""
        return self.config.alphabet if isinstance(self.config, CopyConfig) else self.config.num_keys

    @property
    def vocab_size(self) -> int:
        return self.config.vocabulary().size

    @property
    def label(self) -> str:
        c = self.config
        if isinstance(c, CopyConfig):
            return f"D={c.alphabet} |s|={c.length}" + (f" n={self.n}" if self.n else "")
        text = f"K={c.num_keys} V={c.num_values} N={c.num_pairs}"
        text += f" Q={c.num_queries}" if c.num_queries > 1 else ""
        return text + (f" n={c.key_length}" if c.key_length > 1 else "")


def outer_product_for_length(L: int, dtype) -> Format:
    """``2N + Q = L`` with ``Q <= N``: the fewest pairs (hence keys and width), the most queries."""
    N = max(1, math.ceil(L / 3))
    Q = max(1, min(N, L - 2 * N))
    return Format(ARConfig(N, 4, N, num_queries=Q))


def query_first_for_length(key_length: int):
    """``n + N (n + 1) = L`` (query, then N pairs of an n-token key and a value); K^n >= N keys."""

    def config(L: int, dtype) -> Format:
        n = key_length
        low = max(1, (L - n) // (n + 1))
        N = min((low, low + 1), key=lambda p: (abs(n + p * (n + 1) - L), p))
        K = 2
        while K**n < N:
            K *= 2
        return Format(ARConfig(K, max(K, 16), N, key_length=n, query="first"))

    return config


def precision_route_for_length(L: int, dtype) -> Format:
    """One query, ``L = 2N + 1``; N is capped by the significand (``2 N w - 1 <= p``) and by K."""
    p = precision_route.SIGNIFICAND_BITS.get(dtype, 24)
    best = None
    for K in (2, 4, 8, 16, 32, 64):
        N = min((L - 1) // 2 or 1, precision_route.largest_exact_pairs(K, 2, p))
        if N >= 1 and (best is None or N > best.num_pairs):
            best = ARConfig(K, 2, N)
    return Format(best or ARConfig(2, 2, 1))


def copy_for_length(L: int, dtype) -> Format:
    return Format(CopyConfig(16, max(1, (L - 3) // 2)))  # 2|s| + 3 = L, ties to the shorter


def ngram_for_length(L: int, dtype) -> Format:
    """The narrowest n-gram copier whose strings of length ``|s| = (L - 3) / 2`` can avoid repeating an
    n-gram (:func:`constructions.copying.ngram.narrowest_format`; the strings are de Bruijn windows)."""
    s = max(1, (L - 3) // 2)
    D, n = ngram.narrowest_format(s)
    return Format(CopyConfig(D, s), n)


# ----------------------------------------------------------------------------- instances
def recall_tokens(fmt: Format, instances: int, seed: int) -> torch.Tensor:
    return generate_recall(fmt.config, instances, seed).tokens


def copy_tokens(fmt: Format, instances: int, seed: int) -> torch.Tensor:
    return generate_copies(fmt.config, instances, seed).tokens


def ngram_tokens(fmt: Format, instances: int, seed: int) -> torch.Tensor:
    c = fmt.config
    strings = distinct_ngram_strings(c.alphabet, fmt.n, c.length, instances, seed)
    assert not bool(repeated_ngram(strings, fmt.n, c.alphabet).any())  # the copier's precondition
    return assemble(c, strings).tokens


# ----------------------------------------------------------------------------- the constructions
def _exact_in(fmt: Format, dtype) -> str | None:
    """Why the precision route cannot be exact in ``dtype`` on this format (None: it can)."""
    p = precision_route.SIGNIFICAND_BITS.get(dtype, 24)
    if not precision_route.float_exact(fmt.config, p):
        return f"2Nw - 1 = {precision_route.memory_bits(fmt.config) - 1} state bits > {p}-bit significand"
    return None


@dataclass(frozen=True)
class Case:
    """One construction on its task: how to build it, lay out formats and draw instances."""

    name: str
    claim: str
    build: Callable[[Format, torch.dtype, Any], Any]
    for_length: Callable[[int, torch.dtype], Format]
    for_vocab: Callable[[int, torch.dtype], Format]
    tokens: Callable[[Format, int, int], torch.Tensor]
    #: declared growth exponents of a step's time and memory as L or |V| doubles (upper-bound-ish)
    length_exponent: float
    vocab_exponent: float
    copier: bool = False
    #: the growth exponent of a step on the structured fast path (wide constructions): about L log L
    fast_exponent: float | None = None
    limit: Callable[[Format, torch.dtype], str | None] = lambda fmt, dtype: None


def _recall_builder(name):
    return lambda fmt, dtype, device: BUILDERS[name](fmt.config, dtype=dtype, device=device)


CASES: dict[str, Case] = {
    c.name: c
    for c in (
        Case("outer-product", "ar.outer-product.exact", _recall_builder("outer-product"), outer_product_for_length,
             lambda v, dt: Format(ARConfig(v, v, min(v, 4), num_queries=min(v, 4))), recall_tokens, 2.0, 2.0,
             fast_exponent=1.2),
        Case("binary-query-first", "ar.query-first.exact", _recall_builder("binary-query-first"), query_first_for_length(1),
             lambda v, dt: Format(ARConfig(v, v, min(v, 8), query="first")), recall_tokens, 1.1, 0.3),
        Case("binary-query-first n=3", "ar.ngram-keys.exact", _recall_builder("binary-query-first"), query_first_for_length(3),
             lambda v, dt: Format(ARConfig(v, v, min(v**3, 8), key_length=3, query="first")), recall_tokens, 1.1, 0.3),
        Case("precision-route", "limits.precision-route", _recall_builder("precision-route"), precision_route_for_length,
             lambda v, dt: Format(ARConfig(v, v, 1)), recall_tokens, 1.1, 0.6, limit=_exact_in),
        Case("fixed-length-shift", "copy.fixed-length.exact",
             lambda fmt, dtype, device: fixed_length.build(fmt.config, dtype=dtype, device=device),
             copy_for_length, lambda v, dt: Format(CopyConfig(v, 16)), copy_tokens, 1.1, 2.0, copier=True),
        Case("ngram-lookup", "copy.ngram.exact",
             lambda fmt, dtype, device: ngram.build(fmt.config, fmt.n, dtype=dtype, device=device),
             ngram_for_length, lambda v, dt: Format(CopyConfig(v, min(16, v * v + 1)), 2), ngram_tokens, 2.3, 3.0,
             copier=True, fast_exponent=1.2),
    )
}


# ----------------------------------------------------------------------------- timing and memory
def sync(device) -> None:
    if torch.device(device).type == "cuda":
        torch.cuda.synchronize()


def timed(fn, device, repeats: int = 3) -> tuple[float, Any]:
    """Best wall time of ``fn()`` over ``repeats`` runs (one run if the first takes >= 1 s), and its result."""
    best, result = math.inf, None
    for i in range(max(1, repeats)):
        sync(device)
        start = time.perf_counter()
        result = fn()
        sync(device)
        best = min(best, time.perf_counter() - start)
        if best >= 1.0:
            break
    return best, result


def timed_pair(first, second, device, repeats: int = 3, min_total: float = 0.25, max_runs: int = 20):
    """Best times of ``first()`` and ``second()`` run alternately (so that both see the same machine
    load) at least ``repeats`` times and until ``min_total`` seconds are spent (at most ``max_runs``;
    once if a run takes >= 1 s). Returns ``(seconds_first, result_first, seconds_second)``."""
    best_a = best_b = math.inf
    result, total, runs = None, 0.0, 0
    while True:
        a, result = timed(first, device, 1)
        b, _ = timed(second, device, 1)
        best_a, best_b, total, runs = min(best_a, a), min(best_b, b), total + a + b, runs + 1
        if max(best_a, best_b) >= 1.0 or runs >= max_runs or (runs >= repeats and total >= min_total):
            return best_a, result, best_b


_PEAK_KIB = 0


def _status_kib(key: str) -> int | None:
    try:
        with open("/proc/self/status") as f:
            for line in f:
                if line.startswith(key + ":"):
                    return int(line.split()[1])
    except OSError:
        pass
    return None


def _maxrss_kib() -> int:
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss  # KiB on Linux


def peak_rss_gib() -> float:
    """Peak resident memory of the process so far (also across the per-step resets of ``VmHWM``)."""
    return max(_PEAK_KIB, _status_kib("VmHWM") or 0, _maxrss_kib()) / 2**20


def rss_gib() -> float:
    return (_status_kib("VmRSS") or _maxrss_kib()) / 2**20


def reset_step_peak(device) -> None:
    """Start a step's memory measurement: Linux's resident high-water mark (``clear_refs`` 5), CUDA's peak."""
    global _PEAK_KIB
    _PEAK_KIB = max(_PEAK_KIB, _status_kib("VmHWM") or 0, _maxrss_kib())
    try:
        with open("/proc/self/clear_refs", "w") as f:
            f.write("5")
    except OSError:
        pass  # the high-water mark then only grows: steps read as at most the run's peak
    if torch.device(device).type == "cuda":
        torch.cuda.reset_peak_memory_stats()


def step_peak_gib(device) -> float:
    """Peak memory of the step since :func:`reset_step_peak`: GPU memory on CUDA, resident memory on CPU."""
    if torch.device(device).type == "cuda":
        return torch.cuda.max_memory_allocated() / 2**30
    return (_status_kib("VmHWM") or _maxrss_kib()) / 2**20


# ----------------------------------------------------------------------------- measurements
def overhead_ratio(verify_s: float, forward_s: float) -> float:
    """Checking overhead: verify time over the bare forward time (1.0 = free checking)."""
    return verify_s / forward_s


#: verify over forward, assumed when predicting verify times from a probe of the forward pass
PREDICTED_OVERHEAD = 1.5


def probe(construction, tokens: torch.Tensor, device, fraction: int = 16) -> tuple[float, float]:
    """Predicted ``(seconds, GiB)`` to verify one instance of ``tokens``'s length, from a bare
    forward pass over its first ``L / fraction`` tokens (at least 64; the layers are causal, so any
    prefix runs) scaled by ``L log L``. Probing the built network catches what a cost model misses
    (e.g. the switch from dense to sparse weights as the width grows)."""
    L = tokens.shape[1]
    ell = min(L, max(64, L // fraction))
    reset_step_peak(device)
    base = step_peak_gib(device)
    fast = sparse_path.worth_it(construction.network, tokens[:1])  # the path verify will take
    forward = (lambda: sparse_path.forward(construction.network, tokens[:1, :ell])) if fast else (
        lambda: construction.network(tokens[:1, :ell]))
    with torch.no_grad():
        seconds, _ = timed(forward, device, 1)
    memory = max(0.0, step_peak_gib(device) - base)
    scale = (L / ell) * math.log2(max(2, L)) / math.log2(max(2, ell))
    return PREDICTED_OVERHEAD * seconds * scale, memory * L / ell


@dataclass
class Throughput:
    case: str
    device: str
    target_length: int
    length: int
    label: str
    instances: int
    build_s: float
    verify_s: float
    forward_s: float
    ok: bool
    max_abs_error: float
    breakdown: dict[str, float] = field(default_factory=dict)

    @property
    def instances_per_s(self) -> float:
        return self.instances / self.verify_s

    @property
    def overhead(self) -> float:
        return overhead_ratio(self.verify_s, self.forward_s)

    def dominant_extra(self) -> tuple[str, float]:
        """verify's largest cost outside the forward pass and its share of the verify time."""
        extra = {k: v for k, v in self.breakdown.items() if k != "forward"}
        name = max(extra, key=extra.get) if extra else "-"
        return name, (extra.get(name, 0.0) / self.verify_s if self.verify_s else 0.0)


def verify_breakdown(construction, tokens: torch.Tensor, device, repeats: int, verify_s: float, forward_s: float,
                     mode: str = "auto") -> dict[str, float]:
    """The steps of ``verify`` (one chunk) timed one by one on the same inputs; ``other`` is what
    the measured ``verify_s`` leaves after the measured ``forward_s`` and these steps."""
    tol = EXACT_TOLERANCE.get(construction.network.dtype, 1e-4)
    parts: dict[str, float] = {"forward": forward_s}
    with torch.no_grad():
        out = construction.network(tokens, mode)
        positions = construction.answer_positions.to(out.device)
        parts["select answers"], outputs = timed(lambda: out[:, positions], device, repeats)
        parts["reference"], expected = timed(lambda: construction.reference(tokens).to(out.device), device, repeats)
        parts["decode"], got = timed(lambda: construction.code.decode(outputs), device, repeats)
        parts["target"], target = timed(lambda: construction.target(expected), device, repeats)
        parts["error"], error = timed(lambda: (outputs - target).abs().amax(-1), device, repeats)
        parts["compare"], _ = timed(lambda: bool(((got != expected) | (error > tol)).any()), device, repeats)
    parts["other"] = max(0.0, verify_s - sum(parts.values()))
    return parts


def measure_throughput(case: Case, fmt: Format, instances: int, *, device="cpu", dtype=torch.float64,
                       repeats: int = 3, seed: int = 0, target_length: int | None = None, mode: str = "auto"):
    """Build ``case`` on ``fmt``, verify ``instances`` seeded instances; time verify and the bare
    forward pass (alternately) and verify's other steps. Returns ``(Throughput, construction, tokens)``."""
    build_s, construction = timed(lambda: case.build(fmt, dtype, device), device, 1)
    tokens = case.tokens(fmt, instances, seed).to(device)

    def forward():
        with torch.no_grad():
            return construction.network(tokens, mode)

    verify_s, result, forward_s = timed_pair(lambda: verify(construction, tokens, mode=mode), forward, device, repeats)
    parts = verify_breakdown(construction, tokens, device, repeats, verify_s, forward_s, mode)
    t = Throughput(case.name, str(device), target_length or fmt.length, fmt.length, fmt.label, instances, build_s,
                   verify_s, forward_s, result.ok, result.max_abs_error, parts)
    return t, construction, tokens


def batched_vs_unbatched(construction, tokens: torch.Tensor, device, repeats: int) -> tuple[float, float]:
    """Seconds to verify ``tokens`` in one call and one instance per call (run alternately)."""
    batched, _, unbatched = timed_pair(lambda: verify(construction, tokens),
                                       lambda: [verify(construction, tokens[i : i + 1]) for i in range(tokens.shape[0])],
                                       device, repeats)
    return batched, unbatched


def measure_greedy(construction, fmt: Format, tokens: torch.Tensor, device) -> tuple[float, bool]:
    """Free-running greedy decoding of ``BOS s SEP`` for |s| + 1 steps; (seconds, all copies exact)."""
    s = fmt.config.length
    seconds, generated = timed(lambda: greedy_decode(construction, tokens[:, : s + 2], s + 1), device, 1)
    return seconds, bool(torch.equal(generated, tokens[:, s + 2 :]))


# ----------------------------------------------------------------------------- largest L and |V|
@dataclass
class Step:
    x: int  # the target L or per-side vocabulary of the step
    fmt: Format
    seconds: float  # build + instances + verify
    verify_s: float
    memory_gib: float  # the step's peak (resident on CPU, allocated on CUDA)
    ok: bool
    path: str = "dense"  # the forward pass verify took: "dense" or "sparse" (the structured fast path)


@dataclass
class Search:
    case: str
    axis: str  # "L" or "|V|"
    steps: list[Step]
    stopped: str

    @property
    def largest(self) -> Step | None:
        good = [s for s in self.steps if s.ok]
        return good[-1] if good else None


def predict(value: float, x_prev: float, x_next: float, exponent: float) -> float:
    """Scale a measured ``value`` at ``x_prev`` to ``x_next`` by ``(x_next / x_prev) ** exponent``."""
    return value * (x_next / x_prev) ** exponent


def growth_exponent(steps: list[Step], declared: float, attr: str = "seconds", floor: float = 0.05) -> float:
    """The declared exponent, or the one fitted on the last two steps if steeper (and measurable)."""
    if len(steps) >= 2:
        a, b = steps[-2], steps[-1]
        va, vb = getattr(a, attr), getattr(b, attr)
        if va > floor and vb > floor and b.x > a.x:
            return max(declared, math.log(vb / va) / math.log(b.x / a.x))
    return declared


def search_largest(case: Case, axis: str, *, device="cpu", dtype=torch.float64, budget: float = 20.0,
                   max_memory_gib: float = 8.0, max_exp: int = 20, min_exp: int | None = None,
                   instances: int = 1, seed: int = 0) -> Search:
    """Double L (``axis="L"``) or the per-side vocabulary (``"|V|"``) while verification stays exact
    and the next step is predicted to fit ``budget`` seconds and ``max_memory_gib``."""
    steps: list[Step] = []
    declared = case.length_exponent if axis == "L" else case.vocab_exponent
    start = (6 if axis == "L" else 1) if min_exp is None else min_exp
    for e in range(start, max_exp + 1):
        x = 2**e
        try:
            fmt = case.for_length(x, dtype) if axis == "L" else case.for_vocab(x, dtype)
        except InfeasibleTaskError as err:
            return Search(case.name, axis, steps, f"format limit: {err}")
        if steps and (fmt.length if axis == "L" else fmt.vocab) <= (steps[-1].fmt.length if axis == "L" else steps[-1].fmt.vocab):
            return Search(case.name, axis, steps, f"format limit: {axis} stays {fmt.length if axis == 'L' else fmt.vocab} ({fmt.label})")
        why = case.limit(fmt, dtype)
        if why:
            return Search(case.name, axis, steps, f"format limit at {axis} = 2^{e}: {why}")
        if steps:
            last = steps[-1]
            if last.path == "sparse" and case.fast_exponent is not None:
                declared = case.fast_exponent
            t_next = predict(last.seconds, last.x, x, growth_exponent(steps, declared))
            base = rss_gib() if torch.device(device).type == "cpu" else 0.0
            extra = max(0.0, last.memory_gib - base)
            m_next = base + predict(extra, last.x, x, growth_exponent(steps, declared, "memory_gib", 0.25))
            if t_next > budget:
                return Search(case.name, axis, steps, f"next step (2^{e}) predicted {t_next:.0f} s > budget {budget:g} s")
            if m_next > max_memory_gib:
                return Search(case.name, axis, steps, f"next step (2^{e}) predicted {m_next:.1f} GiB > {max_memory_gib:g} GiB")
        try:
            reset_step_peak(device)
            start_t = time.perf_counter()
            construction = case.build(fmt, dtype, device)
            tokens = case.tokens(fmt, instances, seed).to(device)
            built_s, built_gib = time.perf_counter() - start_t, step_peak_gib(device)
            fast = sparse_path.worth_it(construction.network, tokens)
            if axis == "L" and fmt.length >= 1024 and not fast:  # a probe of the built network, as in the throughput table
                # (not on the fast path: its fixed per-call costs make a short prefix a poor predictor; the growth rule decides)
                p_s, p_gib = probe(construction, tokens, device)
                p_s, p_gib = built_s + instances * p_s, built_gib + instances * p_gib
                if p_s > budget or p_gib > max_memory_gib:
                    return Search(case.name, axis, steps, f"next step (2^{e}) probed: predicted {p_s:.0f} s, {p_gib:.1f} GiB")
                reset_step_peak(device)
            path = "sparse" if fast else "dense"
            verify_s, result = timed(lambda: verify(construction, tokens), device, 1)
            seconds = built_s + verify_s
            memory = max(built_gib, step_peak_gib(device))
            construction = tokens = None  # free the step's tensors before the next one
        except (RuntimeError, MemoryError, InfeasibleTaskError) as err:
            return Search(case.name, axis, steps, f"error at 2^{e}: {type(err).__name__}: {str(err)[:80]}")
        steps.append(Step(x, fmt, seconds, verify_s, memory, result.ok, path))
        if not result.ok:
            return Search(case.name, axis, steps, f"verification failed at 2^{e} (max |error| {result.max_abs_error:.1e})")
    return Search(case.name, axis, steps, f"cap 2^{max_exp} reached (--max-{'length' if axis == 'L' else 'vocab'}-exp)")


# ----------------------------------------------------------------------------- report profiles
def profile_command(profile: str, out_dir: Path, device: str = "cpu") -> list[str]:
    return [sys.executable, "-m", "reports", "--profile", profile, "--device", device, "--out", str(out_dir), "--quiet"]


def time_command(argv: list[str], cwd: Path = ROOT) -> tuple[float, int]:
    start = time.perf_counter()
    done = subprocess.run(argv, cwd=cwd, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, check=False)
    return time.perf_counter() - start, done.returncode


# ----------------------------------------------------------------------------- main
def _device_list(requested: list[str]) -> list[str]:
    devices = []
    for d in requested:
        if d == "auto":
            devices += ["cpu"] + (["cuda"] if torch.cuda.is_available() else [])
        elif d.startswith("cuda") and not torch.cuda.is_available():
            raise SystemExit(f"--device {d}: CUDA is not available")
        else:
            devices.append(d)
    return list(dict.fromkeys(devices))


def main(argv=None) -> int:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--lengths", type=int, nargs="+", default=[2**8, 2**12], help="target sequence lengths")
    p.add_argument("--instances", type=int, default=16, help="instances per measurement (fewer where the probe predicts more than budget / 10)")
    p.add_argument("--ratio-instances", type=int, default=4,
                   help="instances for batched vs one-per-call and for auto vs FFT vs direct")
    p.add_argument("--greedy-instances", type=int, default=1, help="instances for free-running decoding")
    p.add_argument("--cases", nargs="+", choices=sorted(CASES), default=list(CASES), help="constructions to run")
    p.add_argument("--device", nargs="+", default=["auto"], help="cpu, cuda, or auto (cpu, and cuda if available)")
    p.add_argument("--dtype", default="float64", choices=["float64", "float32"])
    p.add_argument("--threads", type=int, default=1,
                   help="torch intra-op threads (default 1, as each of the 2 pytest-xdist workers on 2 cores; 0: torch's choice)")
    p.add_argument("--repeats", type=int, default=3, help="runs per measurement below 1 s (best is kept)")
    p.add_argument("--budget", type=float, default=20.0, help="seconds: skip / stop at a step predicted to take longer")
    p.add_argument("--max-memory-gb", type=float, default=8.0, help="GiB: stop growing at a step predicted to need more")
    p.add_argument("--max-length-exp", type=int, default=18, help="cap of the L search (2^N)")
    p.add_argument("--max-vocab-exp", type=int, default=18, help="cap of the |V| search (2^N per side)")
    p.add_argument("--skip-search", action="store_true", help="skip the largest-L / largest-|V| search")
    p.add_argument("--profiles", action="store_true", help="also time `python -m reports --profile quick`")
    p.add_argument("--thorough", action="store_true", help="with --profiles: also time --profile thorough")
    args = p.parse_args(argv)
    if args.threads:
        torch.set_num_threads(args.threads)
    devices, dtype = _device_list(args.device), getattr(torch, args.dtype)
    cases = [CASES[name] for name in args.cases]
    lengths = sorted(set(args.lengths))
    began = time.perf_counter()

    print(f"torch {torch.__version__}, {torch.get_num_threads()} threads, {os.cpu_count()} CPUs, {args.dtype}, "
          f"devices {', '.join(devices)}; budget {args.budget:g} s/step, memory {args.max_memory_gb:g} GiB")
    load = os.getloadavg()[0] if hasattr(os, "getloadavg") else 0.0
    cores = len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else os.cpu_count() or 1
    print(f"load average {load:.1f} on {cores} usable cores")
    if load > cores - 0.5 and torch.get_num_threads() > 1:
        print("WARNING: the CPU is busy: multi-threaded torch ops slow down badly under contention (timings are "
              "then pessimistic); compare with --threads 1")
    if os.environ.get(FAULTS_ENV):
        print(f"WARNING: {FAULTS_ENV}={os.environ[FAULTS_ENV]} breaks constructions on purpose; verify will fail")

    rows: dict[tuple[str, str, int], Throughput] = {}
    batching: dict[tuple[str, str], tuple[int, int, float, float]] = {}
    modes: dict[tuple[str, str, int], dict[str, tuple[float | None, bool | None]]] = {}
    greedy: dict[tuple[str, str, int], tuple[int, float | None, bool | None, str]] = {}

    # ---------------------------------------------------------------- 1-3: throughput, overhead, ratios
    for device in devices:
        print(f"\n== 1. verification throughput on {device} (instances verified per second, mode auto) ==")
        print(f"{'construction':<24} {'L':>6} {'used':>6} {'format':<26} {'inst':>5} {'build s':>8} "
              f"{'verify s':>9} {'inst/s':>10} {'exact':>5}")
        for case in cases:
            prev: Throughput | None = None
            prev_modes: dict[str, float] = {}
            for L in lengths:
                fmt = case.for_length(L, dtype)
                why = case.limit(fmt, dtype)
                if prev is not None and fmt.length == prev.length:
                    print(f"{case.name:<24} {L:>6} {fmt.length:>6} {fmt.label:<26} same format as L = {prev.target_length}"
                          + (" (format limit)" if case.name == "precision-route" else ""))
                    continue
                built = case.build(fmt, dtype, device)
                seconds, memory = probe(built, case.tokens(fmt, 1, 0).to(device), device)
                built = None
                if seconds > args.budget or memory > args.max_memory_gb:
                    print(f"{case.name:<24} {L:>6} {fmt.length:>6} {fmt.label:<26} skipped: one instance predicted "
                          f"{seconds:.0f} s, {memory:.1f} GiB (budget {args.budget:g} s, {args.max_memory_gb:g} GiB)")
                    continue
                n = min(args.instances, int(args.budget / 10 / max(seconds, 1e-9)),
                        int(args.max_memory_gb / 2 / max(memory, 1e-9)))
                n = max(1, n)
                t, construction, tokens = measure_throughput(case, fmt, n, device=device, dtype=dtype,
                                                             repeats=args.repeats, target_length=L)
                rows[(case.name, device, L)] = t
                note = f"  ({why})" if why else ""
                print(f"{case.name:<24} {L:>6} {t.length:>6} {t.label:<26} {t.instances:>5} {t.build_s:8.3f} "
                      f"{t.verify_s:9.4f} {t.instances_per_s:10.4g} {'yes' if t.ok else 'NO':>5}{note}", flush=True)

                # on a few instances: batched vs unbatched (first length), auto vs FFT vs direct
                k = min(args.ratio_instances, t.instances)
                few = tokens[:k]
                if prev is None:
                    b, u = batched_vs_unbatched(construction, few, device, args.repeats)
                    batching[(case.name, device)] = (t.length, k, b, u)
                auto_s = t.verify_s if k == t.instances else timed(lambda: verify(construction, few), device, args.repeats)[0]
                measured = {"auto": (auto_s, True, ""), "instances": (k, None, "")}
                for mode in ("fft", "direct"):
                    if mode in prev_modes:  # as auto grew, times L (fft: log L) more; direct's long windows are O(L U)
                        r = t.length / prev.length
                        factor = r * r if mode == "direct" else math.log2(t.length) / math.log2(prev.length)
                        guess = prev_modes[mode] * (auto_s / prev_modes["auto"]) * factor
                        if guess > args.budget / 4:
                            measured[mode] = (None, None, f"pred. {guess:.0f} s")
                            continue
                    secs, res = timed(lambda: verify(construction, few, mode=mode), device, args.repeats)
                    measured[mode] = (secs, res.ok, "")
                    prev_modes[mode] = secs
                prev_modes["auto"] = auto_s
                modes[(case.name, device, L)] = measured
                # free-running greedy decoding of the copiers
                if case.copier:
                    # |s| + 1 passes of one instance over 3/4 of the length on average; the probe
                    # (one instance) and the batched forward both bound a single instance's pass
                    steps = fmt.config.length + 1
                    per_instance = 0.75 * steps * min(t.forward_s / t.instances, seconds / PREDICTED_OVERHEAD)
                    if per_instance > args.budget / 4:
                        greedy[(case.name, device, L)] = (0, None, None, f"predicted {per_instance:.0f} s/instance")
                    else:
                        g = max(1, min(args.greedy_instances, t.instances, int(args.budget / 4 / per_instance)))
                        secs, ok = measure_greedy(construction, fmt, tokens[:g], device)
                        greedy[(case.name, device, L)] = (g, secs, ok, "")
                prev = t
                construction = tokens = None  # free the step's tensors before the next one

        print(f"\n== 2. checking overhead on {device}: verify / bare forward (target <= {OVERHEAD_TARGET}x) ==")
        print(f"{'construction':<24} {'used':>6} {'inst':>5} {'verify s':>9} {'forward s':>9} {'ratio':>6} {'met':>4}  "
              f"{'largest extra (share of verify)':<34} breakdown, % of verify")
        for case in cases:
            for L in lengths:
                t = rows.get((case.name, device, L))
                if t is None:
                    continue
                name, share = t.dominant_extra()
                parts = " ".join(f"{k.split()[0]} {100 * v / t.verify_s:.0f}" for k, v in t.breakdown.items())
                print(f"{case.name:<24} {t.length:>6} {t.instances:>5} {t.verify_s:9.4f} {t.forward_s:9.4f} "
                      f"{t.overhead:6.2f} {'yes' if t.overhead <= OVERHEAD_TARGET else 'NO':>4}  "
                      f"{f'{name} ({100 * share:.0f}%)':<34} {parts}")

        print(f"\n== 3. ratios on {device} ==")
        print("batched vs unbatched (one instance per verify call), first length measured:")
        print(f"{'construction':<24} {'used':>6} {'inst':>5} {'batched s':>10} {'unbatched s':>12} {'speed-up':>9}")
        for case in cases:
            if (case.name, device) in batching:
                used, k, b, u = batching[(case.name, device)]
                print(f"{case.name:<24} {used:>6} {k:>5} {b:10.4f} {u:12.4f} {u / b:8.1f}x")
        print("FFT vs direct convolution (every SSM layer forced to one mode; exact? = verify ok in that mode):")
        print(f"{'construction':<24} {'used':>6} {'inst':>5} {'auto s':>9} {'fft s':>9} {'direct s':>9} "
              f"{'direct/fft':>10} {'exact fft/direct':>17}")
        for case in cases:
            for L in lengths:
                if (case.name, device, L) not in modes:
                    continue
                t, m = rows[(case.name, device, L)], modes[(case.name, device, L)]
                cell = lambda mode: f"{m[mode][0]:9.4f}" if m[mode][0] else f"{m[mode][2] or '-':>9}"  # noqa: E731
                auto = m["auto"][0]
                ratio = f"{m['direct'][0] / m['fft'][0]:9.2f}x" if m["fft"][0] and m["direct"][0] else f"{'-':>10}"
                ex = "/".join({True: "yes", False: "NO", None: "-"}[m[k][1]] for k in ("fft", "direct"))
                print(f"{case.name:<24} {t.length:>6} {m['instances'][0]:>5} {auto:9.4f} {cell('fft')} {cell('direct')} "
                      f"{ratio} {ex:>17}")
        if greedy:
            print("free-running greedy decoding (copying.decoding.greedy_decode: step mode) "
                  "vs teacher-forced verify:")
            print(f"{'construction':<24} {'used':>6} {'inst':>5} {'greedy s':>9} {'inst/s':>10} {'slow-down':>10} {'exact':>5}")
            for case in cases:
                for L in lengths:
                    if (case.name, device, L) not in greedy:
                        continue
                    g, secs, ok, note = greedy[(case.name, device, L)]
                    t = rows[(case.name, device, L)]
                    if secs is None:
                        print(f"{case.name:<24} {t.length:>6} {'-':>5} skipped: {note} > budget / 4")
                        continue
                    slow = (secs / g) / (t.verify_s / t.instances)
                    print(f"{case.name:<24} {t.length:>6} {g:>5} {secs:9.3f} {g / secs:10.4g} {slow:9.0f}x "
                          f"{'yes' if ok else 'NO':>5}")

    if "cpu" in devices and any(d != "cpu" for d in devices):
        for d in devices:
            if d == "cpu":
                continue
            print(f"\nGPU vs CPU ({d} / cpu, instances verified per second):")
            print(f"{'construction':<24} {'used':>6} {'cpu inst/s':>11} {d + ' inst/s':>11} {'ratio':>8}")
            for case in cases:
                for L in lengths:
                    a, b = rows.get((case.name, "cpu", L)), rows.get((case.name, d, L))
                    if a and b:
                        print(f"{case.name:<24} {a.length:>6} {a.instances_per_s:11.4g} {b.instances_per_s:11.4g} "
                              f"{b.instances_per_s / a.instances_per_s:7.1f}x")

    # ---------------------------------------------------------------- 4: largest L and |V|
    if not args.skip_search:
        for device in devices:
            print(f"\n== 4. largest L and |V| that verify exactly on {device} (1 instance per step) ==")
            print("(verify takes the structured fast path for the wide constructions on long inputs: the 'path' column)")
            print(f"{'construction':<24} {'axis':<4} {'largest':>8} {'|vocab|':>8} {'format':<30} {'step s':>7} "
                  f"{'verify s':>8} {'peak GiB':>8} {'path':>6}  stopped because")
            for case in cases:
                for axis in ("L", "|V|"):
                    s = search_largest(case, axis, device=device, dtype=dtype, budget=args.budget,
                                       max_memory_gib=args.max_memory_gb,
                                       max_exp=args.max_length_exp if axis == "L" else args.max_vocab_exp)
                    best = s.largest
                    if best is None:
                        print(f"{case.name:<24} {axis:<4} {'-':>8} {'-':>8} {'-':<30} {'-':>7} {'-':>8} {'-':>8} {'-':>6}  {s.stopped}")
                        continue
                    size = best.fmt.length if axis == "L" else best.fmt.vocab
                    print(f"{case.name:<24} {axis:<4} {size:>8} {best.fmt.vocab_size:>8} {best.fmt.label:<30} "
                          f"{best.seconds:7.2f} {best.verify_s:8.2f} {best.memory_gib:8.2f} {best.path:>6}  {s.stopped}", flush=True)

    # ---------------------------------------------------------------- 4b: structured fast path vs dense
    if not args.skip_search:
        for device in devices:
            print(f"\n== 4b. structured fast path (constructions/sparse_path.py) vs dense forward on {device}, "
                  "verify of 1 instance (build excluded) ==")
            print(f"{'construction':<24} {'used':>6} {'format':<30} {'dense s':>8} {'fast s':>8} {'dense/fast':>10} "
                  f"{'exact d/f':>9}")
            for case in cases:
                if case.name not in WIDE:
                    continue
                for L in WIDE[case.name]:
                    fmt = case.for_length(L, dtype)
                    construction = case.build(fmt, dtype, device)
                    tokens = case.tokens(fmt, 1, 0).to(device)
                    d, rd = timed(lambda: verify(construction, tokens, path="dense"), device, args.repeats)
                    f, rf = timed(lambda: verify(construction, tokens, path="sparse"), device, args.repeats)
                    print(f"{case.name:<24} {fmt.length:>6} {fmt.label:<30} {d:8.3f} {f:8.3f} {d / f:9.1f}x "
                          f"{('yes' if rd.ok else 'NO') + '/' + ('yes' if rf.ok else 'NO'):>9}", flush=True)
                    construction = tokens = None

    # ---------------------------------------------------------------- 5: report profiles
    if args.profiles:
        print("\n== 5. end-to-end `python -m reports` (subprocess, temporary output directory) ==")
        profiles = ["quick"] + (["thorough"] if args.thorough else [])
        for profile in profiles:
            device = "cuda" if profile == "thorough" and torch.cuda.is_available() else "cpu"
            with tempfile.TemporaryDirectory() as out:
                secs, code = time_command(profile_command(profile, Path(out), device))
            target = f"target < {QUICK_PROFILE_TARGET_S / 60:.0f} min on 2 CPU cores: " + (
                "met" if secs < QUICK_PROFILE_TARGET_S else "NOT met") if profile == "quick" else "no target"
            print(f"--profile {profile:<9} --device {device}: {secs:8.1f} s (exit {code}); {target}")

    print(f"\npeak resident memory {peak_rss_gib():.2f} GiB; wall time {time.perf_counter() - began:.0f} s")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
