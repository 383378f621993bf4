"""``python -m reports run-data``: a construction, or a network from a file, on every instance of a data
file written in one of the field's formats (issue #18 §3).

    python -m reports run-data --format zoology-mqar --data examples/external/zoology_mqar_v8192.npz
    python -m reports run-data --format jelassi-copy --data examples/external/jelassi_copy.txt --construction ngram-lookup --ngram 2
    python -m reports run-data --format ar-text --data examples/external/ar_text.txt --weights net.safetensors
    python -m reports run-data --format jelassi-suffix --data examples/external/jelassi_suffix.txt --scope-only

The file is read by its format's reader (:mod:`constructions.tasks.external`) in chunks of at most
``--chunk-rows`` instances; every chunk is answered by

* a **construction** of the suite (``--construction NAME``; without it the format's default,
  :data:`DATA_FORMATS`, and the output says which and why), built for the chunk's own format -- the
  token map the reader chose (``compact``: per chunk only the ids used, so a vocabulary of 8192 costs
  the 16 keys used, not 4095; answers as on the full vocabulary, ``tests/test_external_formats.py``) --
  and cached per config (at most :data:`CACHE_SIZE` kept); or
* a **network file** (``--weights FILE``, read as ``verify`` reads it: untrusted, limits, named errors),
  run on the file's tokens in the format's *full* map. Its task must be the format's
  (``scattered-recall`` for Zoology's MQAR, ``associative-recall`` for ``ar-text``, ``copying`` for
  ``jelassi-copy``, ``suffix-lookup`` / ``prefix-lookup`` for ``jelassi-suffix`` / ``jelassi-prefix``) and its config the one each chunk needs (vocabulary, pairs, queries, length):
  :class:`~constructions.errors.DataMismatchError` naming the line or row otherwise.

**Scope.** Some constructions are exact only on instances their claim covers: the clipped outer-product
memory not where a filler repeats the queried key with another value before the query; an n-gram
copier not on a string with a repeated n-gram; the n-gram lookup (``jelassi-suffix``, ``jelassi-prefix``)
not where an n-gram read during the answer has two followers in the string. Such answers are counted and listed apart, as *outside
the construction's scope*, with the predicate named. **Exit status**: 0 -- every instance exact; 1 --
some instance not exact; 2 -- a bad data or network file (the error class and its line or row, also
in ``run-data.json``), a network that does not fit the data, or a bad command line. Misses outside the
scope count as failures (exit 1) unless ``--scope-only`` is given, because exit 0 promises that the
answers on *this* data are right; ``--scope-only`` asks the other question, whether the construction
kept its stated claim (exit 0 when every answer inside the scope is exact). A miss inside the scope is
always a failure.

**Memory bound.** Held at once: one chunk (at most ``--chunk-rows`` instances of at most 4096 tokens:
``--chunk-rows`` x 4096 x 8 bytes, 32 MiB at the default 1024), the network's activations on at most
``max(1, 2^22 / floats per instance)`` rows (2^22 float64 values, 32 MiB; one instance at least), at
most :data:`CACHE_SIZE` built constructions, and at most ``--show`` failure records of each kind.
``.npz`` and ``.jsonl`` MQAR files and text files are streamed; a whole-array ``.json`` is read whole
(at most 256 MiB, the reader's limit).

Writes ``run-data.json`` and ``run-data.md`` atomically into ``--out`` (default ``run-data/`` beside
``verify/``).
"""

from __future__ import annotations

import argparse
import importlib
import json
import os
import sys
import time
from collections import OrderedDict
from contextlib import contextmanager
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Callable

import torch

import constructions.associative_recall  # noqa: F401  (register the injectable constructions for --inject-fault)
import constructions.copying  # noqa: F401
import constructions.lookup  # noqa: F401
import constructions.transformer  # noqa: F401
from constructions.errors import DataMismatchError, ModelFileError, RunDataError, SuiteError
from constructions.model_file.limits import forward_cost, limit
from constructions.mutation import FAULTS_ENV, active_faults, check_fault_indices, parse_faults
from constructions.tasks.scattered_recall import (ScatteredARConfig, foreign_value_after_query, repeated_cells,
                                                  values_after_query)
from constructions.verification import MAX_TOKENS_PER_CHUNK, checked_answers

from . import arguments
from .locations import DEFAULT_OUT, describe_default_out
from .output import OutputError, prepare_directory, write_atomic

#: built constructions kept (one per distinct chunk config; least recently used dropped first)
CACHE_SIZE = 4
#: seconds between progress lines (stderr)
PROGRESS_SECONDS = 2.0
#: a memory of more cells than this is not built (outer product ``K V``, n-gram copier ``D^n (D + 1)``)
MAX_MEMORY_CELLS = 1 << 16


# ----------------------------------------------------------------------------- scope predicates
def _foreign(config, instances, n):
    if isinstance(config, ScatteredARConfig):
        return foreign_value_after_query(config, instances.tokens, instances.query_positions)
    return None


def _foreign_or_repeated(config, instances, n):
    if isinstance(config, ScatteredARConfig):
        t, p = instances.tokens, instances.query_positions
        return foreign_value_after_query(config, t, p) | repeated_cells(config, t, p)
    return None


def _not_once(config, instances, n):
    if isinstance(config, ScatteredARConfig):
        return values_after_query(config, instances.tokens, instances.query_positions) != 1
    return None


def _ambiguous_continuation(config, instances, n):
    from constructions.tasks.ngram_lookup import continuation_ambiguous

    return continuation_ambiguous(config, instances.strings, instances.grams).unsqueeze(-1).expand(-1, config.answer_length + 1)


def _beyond_float64(config, instances, n):
    from constructions.associative_recall.precision_route import SIGNIFICAND_BITS, float_exact

    beyond = not float_exact(config, SIGNIFICAND_BITS[torch.float64])
    return torch.full((len(instances.tokens), config.num_queries), beyond)


def _repeated_ngram(config, instances, n):
    from constructions.tasks.copying import repeated_ngram

    return repeated_ngram(instances.strings, n, config.alphabet).unsqueeze(-1).expand(-1, config.length + 1)


@dataclass(frozen=True)
class Runner:
    """A construction ``run-data`` can build: ``module.build(config[, n], **options)``; ``scope(config,
    instances, n)`` marks the answers ``(B, Q)`` outside its stated scope (``None``: none are), as
    ``scope_name`` says; ``cells(config, n)``: the size of its memory, refused over
    :data:`MAX_MEMORY_CELLS` before building."""

    module: str
    kind: str
    options: dict = field(default_factory=dict)
    takes_ngram: bool = False
    scope: Callable | None = None
    scope_name: str | None = None
    cells: Callable | None = None

    def build(self, config, n: int):
        if self.cells is not None and self.cells(config, n) > MAX_MEMORY_CELLS:
            raise RunDataError(f"{config}: the memory would have {self.cells(config, n)} cells, over {MAX_MEMORY_CELLS}; "
                               "use a smaller --ngram, fewer --chunk-rows (the compact map keeps per chunk only the ids used) "
                               "or another --construction")
        builder = importlib.import_module(self.module).build
        return builder(config, n, **self.options) if self.takes_ngram else builder(config, **self.options)


FOREIGN = ("foreign-value-after-query: before the query position, the queried key occurs again followed by "
           "another value (a random filler; scattered_recall.foreign_value_after_query)")
_pairs = lambda c, n: c.num_keys * c.num_values  # noqa: E731
_ngrams = lambda c, n: c.alphabet**n * (c.alphabet + 1)  # noqa: E731
_lookup_cells = lambda c, n: (c.alphabet + 2) ** c.ngram * (c.alphabet + 1)  # noqa: E731

#: every construction run-data builds, by name (the injectable name of its module, so --inject-fault applies)
CONSTRUCTIONS: dict[str, Runner] = {
    "outer-product-clipped": Runner("constructions.associative_recall.outer_product", "SSM+FNN", {"clip_counts": True},
                                    scope=_foreign, scope_name=FOREIGN, cells=_pairs),
    "outer-product": Runner("constructions.associative_recall.outer_product", "SSM+FNN", scope=_foreign_or_repeated,
                            scope_name=FOREIGN + "; or repeated-cells: a (key, value) pair written twice before the query "
                            "(scattered_recall.repeated_cells; the unclipped count 2 leaks)", cells=_pairs),
    "zoology-attention": Runner("constructions.transformer.mqar_zoology", "Transformer", scope=_not_once,
                                scope_name="values-after-query != 1: the queried key is followed by a value other than once "
                                "before the query (scattered_recall.values_after_query; linear attention sums them)"),
    "binary-attention": Runner("constructions.transformer.binary_attention", "Transformer"),
    "precision-route": Runner("constructions.associative_recall.precision_route", "SSM+FNN", scope=_beyond_float64,
                              scope_name="beyond-float64: the packed memory state needs 2 N w - 1 significant bits, over "
                              "float64's 53 (precision_route.float_exact; w = key + value code bits; in exact rational "
                              "arithmetic the network answers these too: claim limits.precision-route)"),
    "fixed-length-shift": Runner("constructions.copying.fixed_length", "SSM+FNN"),
    "ngram-lookup": Runner("constructions.copying.ngram", "SSM+FNN", takes_ngram=True, scope=_repeated_ngram,
                           scope_name="repeated-ngram: the string repeats an n-gram (copying.repeated_ngram, n = --ngram)",
                           cells=_ngrams),
    "jelassi-transformer": Runner("constructions.transformer.copy_jelassi", "Transformer", takes_ngram=True,
                                  scope=_repeated_ngram, scope_name="repeated-ngram: the string repeats an n-gram "
                                  "(copying.repeated_ngram, n = --ngram)"),
    "suffix-prefix-lookup": Runner("constructions.lookup.ngram_lookup", "SSM+FNN", scope=_ambiguous_continuation,
                                   scope_name="continuation-ambiguous: an n-gram read during the answer occurs in the string "
                                   "followed by another letter or at its end (ngram_lookup.continuation_ambiguous, n = the "
                                   "file's)", cells=_lookup_cells),
    "jelassi-suffix-transformer": Runner("constructions.transformer.lookup_suffix", "Transformer", scope=_ambiguous_continuation,
                                         scope_name="continuation-ambiguous (as suffix-prefix-lookup; its earliest-match "
                                         "hardmax answers some of these too)"),
    "jelassi-prefix-transformer": Runner("constructions.transformer.lookup_prefix", "Transformer", scope=_ambiguous_continuation,
                                         scope_name="continuation-ambiguous (as suffix-prefix-lookup; its earliest-match "
                                         "hardmax answers some of these too)"),
}


# ----------------------------------------------------------------------------- the format registry
@dataclass(frozen=True)
class DataFormat:
    """One ``--format``: its reader (module ``constructions.tasks.external.<reader>``), the reader's options
    taken from the command line, the model-file task a ``--weights`` network must hold, the constructions
    that take it and the default among them, and why that one."""

    name: str
    reader: str
    options: tuple[str, ...]
    task: str
    constructions: tuple[str, ...]
    default: str
    why: str


_LOOKUP_WHY = ("the suite's SSM+FNN n-gram lookup (claims lookup.suffix.exact, lookup.prefix.exact), built per (string, "
               "n-gram, answer) length; exact where the continuation is unambiguous (the scope)")

#: ``--format`` -> :class:`DataFormat`. A new reader in constructions/tasks/external needs one line here.
DATA_FORMATS: dict[str, DataFormat] = {f.name: f for f in (
    DataFormat("zoology-mqar", "zoology_mqar", ("vocab_size", "num_pairs", "num_passes"), "scattered-recall",
               ("outer-product-clipped", "outer-product", "zoology-attention", "binary-attention"), "outer-product-clipped",
               "the suite's SSM+FNN recall memory for queries anywhere, clipped so that pairs written twice (repeated "
               "passes, fillers) do not leak; exact outside one stated case (the scope); binary-attention (a Transformer) "
               "answers every instance"),
    DataFormat("jelassi-copy", "jelassi_copy", ("alphabet",), "copying",
               ("fixed-length-shift", "ngram-lookup", "jelassi-transformer"), "fixed-length-shift",
               "the suite's SSM+FNN copier exact on every string of its length (claim copy.fixed-length.exact), built per "
               "length; ngram-lookup (poly-log, --ngram n) is exact only on strings without a repeated n-gram"),
    DataFormat("jelassi-suffix", "jelassi_suffix", ("alphabet", "ngram"), "suffix-lookup",
               ("suffix-prefix-lookup", "jelassi-suffix-transformer"),
               "suffix-prefix-lookup", _LOOKUP_WHY),
    DataFormat("jelassi-prefix", "jelassi_prefix", ("alphabet", "ngram"), "prefix-lookup",
               ("suffix-prefix-lookup", "jelassi-prefix-transformer"), "suffix-prefix-lookup", _LOOKUP_WHY),
    DataFormat("ar-text", "ar_text", (), "associative-recall",
               ("outer-product", "outer-product-clipped", "zoology-attention", "binary-attention", "precision-route"),
               "outer-product",
               "the suite's SSM+FNN recall memory (claim ar.outer-product.exact); the lines have distinct keys and no "
               "fillers, so it is exact on every line"),
)}


def available(fmt: DataFormat) -> str | None:
    """Why ``fmt`` cannot run yet (no reader, or no construction registered), or None."""
    from constructions.tasks.external import FORMATS

    if fmt.name not in FORMATS:
        return (f"format {fmt.name} is not available yet: constructions/tasks/external has no reader for it "
                f"(readers now: {', '.join(sorted(FORMATS))})")
    if not fmt.constructions:
        return f"format {fmt.name} is not available yet: no construction is registered for it in reports/run_data.py"
    return None


# ----------------------------------------------------------------------------- running
@contextmanager
def _faults(spec: str | None):
    """``--inject-fault``: the builders read :data:`FAULTS_ENV` (as ``python -m reports`` sets it)."""
    if not spec:
        yield
        return
    old = os.environ.get(FAULTS_ENV)
    os.environ[FAULTS_ENV] = spec
    try:
        yield
    finally:
        if old is None:
            os.environ.pop(FAULTS_ENV, None)
        else:
            os.environ[FAULTS_ENV] = old


def _rows_at_once(construction, length: int) -> int:
    """Rows of one network pass: ``chunk_values`` floats (the verify limit), or verify's token bound."""
    try:
        floats = forward_cost(construction.network, length).values
    except (AttributeError, TypeError):  # a Transformer: no SSM cost model
        return max(1, MAX_TOKENS_PER_CHUNK // (64 * length))
    return max(1, limit("chunk_values") // max(1, floats))


def _answer(construction, instances) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor, torch.Tensor]:
    """``(expected, got, exact, positions)``, each ``(B, Q)``, in network passes of bounded size."""
    tokens = instances.tokens
    scattered = construction.answer_positions is None
    positions = instances.query_positions if scattered else construction.answer_positions.unsqueeze(0).expand(len(tokens), -1)
    rows = _rows_at_once(construction, tokens.shape[1])
    parts = [checked_answers(construction, t, positions=p if scattered else None)
             for t, p in zip(torch.split(tokens, rows), torch.split(positions, rows))]
    expected, got, exact = (torch.cat(x) for x in zip(*parts))
    return expected, got, exact, positions


def _external_token(batch, i: int, ids: list[int]) -> list:
    """Internal ids of instance ``i`` in the file's tokens (characters for text); ``None`` for an id
    that stands for no token (a decoded answer outside the vocabulary)."""
    table = batch.mapping.select([i]).external[0].tolist()
    out = []
    for t in ids:
        e = table[t] if 0 <= t < len(table) and table[t] >= 0 else None
        out.append(chr(e) if (e is not None and batch.mapping.text) else e)
    return out


def _record(reader, batch, i: int, expected, got, exact, positions) -> dict:
    """A failing instance as the file has it: its line or row, the text (lines) or inputs (arrays), and
    each wrong answer at its token position, in the file's tokens."""
    wrong = (~exact[i]).nonzero().flatten().tolist()[:8]
    text = reader.to_line(batch, i) if hasattr(reader, "to_line") else None
    record = {"where": batch.where(i), "text": text}
    if text is None:
        record["inputs"] = batch.mapping.select([i]).to_external(batch.instances.tokens[i : i + 1])[0].tolist()
    e = _external_token(batch, i, [int(expected[i, j]) for j in wrong])
    g = _external_token(batch, i, [int(got[i, j]) for j in wrong])
    record["wrong"] = [{"position": int(positions[i, j]), "expected": a, "got": b,
                        **({"note": "right token, output off the exact code by more than the tolerance"} if a == b else {})}
                       for j, a, b in zip(wrong, e, g)]
    record["wrong_answers"] = int((~exact[i]).sum())
    return record


def describe_record(r: dict) -> str:
    body = r["text"] if r["text"] is not None else f"inputs {r['inputs']}"
    answers = "; ".join(f"at token {w['position']}: expected {w['expected']!r}, got {w['got']!r}"
                        + (f" ({w['note']})" if w.get("note") else "") for w in r["wrong"])
    more = f" (+{r['wrong_answers'] - len(r['wrong'])} more)" if r["wrong_answers"] > len(r["wrong"]) else ""
    return f"{r['where']}: {body}  --  {answers}{more}"


def _check_fits(network, batch, fmt: DataFormat, path) -> None:
    if network.config != batch.config:
        mine, theirs = asdict(network.config), asdict(batch.config)
        differ = ", ".join(f"{k} {theirs[k]} (network: {mine.get(k)})" for k in theirs if theirs[k] != mine.get(k))
        raise DataMismatchError(f"{batch.where(0)} needs {batch.config} in the format's full map, but {path} is a network "
                                f"for {network.config}: {differ}")


@dataclass
class Totals:
    instances: int = 0
    exact: int = 0
    answers: int = 0
    exact_answers: int = 0
    outside_scope_instances: int = 0
    outside_scope_missed: int = 0
    failed_inside_scope: int = 0
    batches: int = 0
    largest_chunk: int = 0


#: reader options a ``--weights`` network sets from its own config (the prefix lookup's n is each line's ``len(g)``,
#: checked against the network's line by line)
NETWORK_OPTIONS = {"jelassi-copy": ("alphabet",), "jelassi-suffix": ("alphabet", "ngram"), "jelassi-prefix": ("alphabet",)}


def run(fmt: DataFormat, data: Path, args, progress: Callable[[str], None], totals: Totals) -> dict:
    """Every instance of ``data``: the counts (into ``totals``, which keep what was counted when a named
    :class:`~constructions.errors.SuiteError` stops the run: a bad record, a network that does not
    fit), the first failures, the scope."""
    reader = importlib.import_module(f"constructions.tasks.external.{fmt.reader}")
    options = {k: getattr(args, k) for k in fmt.options if getattr(args, k, None) is not None}
    if args.weights is not None:
        from constructions.serialization import load

        network = load(args.weights)
        if network.name != fmt.task:
            raise DataMismatchError(f"{args.weights} holds a network for the task {network.name!r}; the format {fmt.name} "
                                    f"needs {fmt.task!r}")
        for option in NETWORK_OPTIONS.get(fmt.name, ()):  # the reader reads the lines as the network's format
            mine = getattr(network.config, option)
            if options.get(option, mine) != mine:
                raise DataMismatchError(f"--{option} {options[option]}, but {args.weights} is a network for {option} {mine}")
            options[option] = mine
        runner, mapping, name = None, "full", None
    else:
        name = args.construction or fmt.default
        runner, mapping = CONSTRUCTIONS[name], args.mapping or "compact"
    ngram = args.ngram if args.ngram is not None else 2  # the copiers' n; the lookup readers default to their own
    failures, outside, configs, scoped = [], [], [], False
    cache: OrderedDict = OrderedDict()
    started = last = time.monotonic()
    for batch in reader.read(data, mapping=mapping, chunk_rows=args.chunk_rows, **options):
        if runner is None:
            _check_fits(network, batch, fmt, args.weights)
            construction = network
        else:
            construction = cache.pop(batch.config, None) or runner.build(batch.config, ngram)
            cache[batch.config] = construction
            while len(cache) > CACHE_SIZE:
                cache.popitem(last=False)
        if batch.config not in configs and len(configs) < 32:
            configs.append(batch.config)
        expected, got, exact, positions = _answer(construction, batch.instances)
        scope = runner.scope(batch.config, batch.instances, ngram) if runner and runner.scope else None
        scoped = scoped or scope is not None
        scope = torch.zeros_like(exact) if scope is None else scope
        missed = ~exact
        inside_fail = (missed & ~scope).any(-1)
        out_inst = scope.any(-1)
        totals.instances += len(batch)
        totals.exact += int(exact.all(-1).sum())
        totals.answers += exact.numel()
        totals.exact_answers += int(exact.sum())
        totals.outside_scope_instances += int(out_inst.sum())
        totals.outside_scope_missed += int((missed.any(-1) & ~inside_fail).sum())
        totals.failed_inside_scope += int(inside_fail.sum())
        totals.batches += 1
        totals.largest_chunk = max(totals.largest_chunk, len(batch))
        for i in inside_fail.nonzero().flatten().tolist():
            if len(failures) >= args.show:
                break
            failures.append(_record(reader, batch, i, expected, got, exact, positions))
        for i in (missed.any(-1) & ~inside_fail).nonzero().flatten().tolist():
            if len(outside) >= args.show:
                break
            outside.append(_record(reader, batch, i, expected, got, exact, positions))
        now = time.monotonic()
        if now - last >= PROGRESS_SECONDS:
            progress(f"run-data: {totals.batches} batches, {totals.instances} instances read, {totals.exact} exact "
                     f"({now - started:.1f} s)")
            last = now
    failed = totals.failed_inside_scope + (0 if args.scope_only else totals.outside_scope_missed)
    return {
        "totals": asdict(totals), "configs": [{"type": type(c).__name__, **asdict(c)} for c in configs],
        "mapping": mapping, "failures": failures, "outside_scope": outside,
        "scope": None if not scoped else {
            "predicate": runner.scope_name, "misses_count_as_failures": not args.scope_only},
        "passed": failed == 0, "exit_code": 0 if failed == 0 else 1,
        "seconds": round(time.monotonic() - started, 3),
    }


# ----------------------------------------------------------------------------- output
def to_markdown(result: dict) -> str:
    src = result["source"]
    lines = [f"# run-data: `{result['data']}` ({result['format']})", ""]
    what = (f"network file `{src['weights']}`" if src.get("weights") else
            f"construction **{src['construction']}** ({src['kind']})" + (f", chosen by default: {src['why']}" if src.get("why") else ""))
    lines += [f"Ran: {what}. Token map: {result.get('mapping')}.", ""]
    if result.get("faults"):
        lines += [f"**Broken on purpose** (injected faults): {result['faults']}", ""]
    if "error" in result:
        e = result["error"]
        lines += [f"Result: **ERROR** (exit 2): `{e['type']}`", "", "```", e["message"], "```", ""]
        if result.get("totals", {}).get("instances"):
            t = result["totals"]
            lines += [f"Before the error: {t['exact']}/{t['instances']} instances exact."]
        return "\n".join(lines) + "\n"
    t = result["totals"]
    verdict = "PASS" if result["passed"] else "FAIL"
    lines += [f"Result: **{verdict}** (exit {result['exit_code']}): {t['exact']}/{t['instances']} instances exact "
              f"({t['exact_answers']}/{t['answers']} answers), {t['batches']} batches (one per chunk and shape) of at most {result['chunk_rows']} instances.", ""]
    if result["scope"]:
        s = result["scope"]
        lines += [f"Outside the construction's scope ({s['predicate']}): {t['outside_scope_instances']} instances, "
                  f"{t['outside_scope_missed']} of them missed, which "
                  f"{'count as failures' if s['misses_count_as_failures'] else 'do not count (--scope-only)'}; "
                  f"failed inside the scope: {t['failed_inside_scope']}.", ""]
    for title, records in (("First failures", result["failures"]), ("First misses outside the scope", result["outside_scope"])):
        if records:
            lines += [f"{title}:", "", "```"] + [describe_record(r) for r in records] + ["```", ""]
    lines += [f"Memory bound: {result['memory_bound']}"]
    return "\n".join(lines) + "\n"


def parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(prog="python -m reports run-data", description=__doc__,
                                formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--format", required=True, choices=sorted(DATA_FORMATS), help="the data file's format")
    p.add_argument("--data", required=True, type=Path, help="the data file")
    source = p.add_mutually_exclusive_group()
    source.add_argument("--construction", choices=sorted(CONSTRUCTIONS), help="a suite construction (default: the format's)")
    source.add_argument("--weights", type=Path, help="a network file (.safetensors or .pt, as verify reads it)")
    p.add_argument("--ngram", type=arguments.positive_int, default=None,
                   help="n of the n-gram copiers (default 2); jelassi-suffix: n of the file's lines (default 3, as in "
                   "Jelassi et al.'s data); jelassi-prefix: if given, every line's n-gram must have n letters")
    p.add_argument("--mapping", choices=("compact", "full"), default=None,
                   help="token map for a construction (default compact: the ids used; --weights always runs the full map)")
    p.add_argument("--vocab-size", dest="vocab_size", type=arguments.positive_int, default=None, help="zoology-mqar: vocabulary (default 8192)")
    p.add_argument("--num-pairs", dest="num_pairs", type=arguments.positive_int, default=None, help="zoology-mqar: pairs (default: the first row's labels)")
    p.add_argument("--num-passes", dest="num_passes", type=arguments.positive_int, default=None, help="zoology-mqar: passes of the pairs (default 1)")
    p.add_argument("--alphabet", type=arguments.positive_int, default=None, help="jelassi-copy, -suffix, -prefix: letters (default 26)")
    p.add_argument("--chunk-rows", dest="chunk_rows", type=arguments.positive_int, default=1024, help="instances read at once (default 1024)")
    p.add_argument("--show", type=arguments.positive_int, default=5, help="failures listed of each kind (default 5)")
    p.add_argument("--scope-only", dest="scope_only", action="store_true",
                   help="misses outside the construction's stated scope do not count as failures (they are still reported)")
    p.add_argument("--inject-fault", dest="inject_fault", action="append", default=[], metavar="NAME:INDEX",
                   help="break the construction on purpose (python -m reports --list-faults)")
    p.add_argument("--quiet", action="store_true", help="no progress lines")
    p.add_argument("--out", type=arguments.output_directory, default=DEFAULT_OUT / "run-data",
                   help=f"where run-data.json/.md go (default: run-data/ under {describe_default_out()})")
    return p


def _command_line_error(args, fmt: DataFormat) -> str | None:
    why = available(fmt)
    if why:
        return why
    name = args.construction or fmt.default
    if args.weights is None and name not in fmt.constructions:
        return f"construction {name} does not take the format {fmt.name}; choose one of {', '.join(fmt.constructions)}"
    if args.weights is not None and args.inject_fault:
        return "--inject-fault breaks a suite construction; a --weights network is run as the file has it"
    if args.weights is not None and args.mapping == "compact":
        return "--weights runs the file's tokens in the format's full map (the network's own ids); --mapping compact is for constructions"
    for option in ("vocab_size", "num_pairs", "num_passes", "alphabet"):
        if getattr(args, option) is not None and option not in fmt.options:
            return f"--{option.replace('_', '-')} is an option of another format, not of {fmt.name}"
    if args.inject_fault:
        faults = parse_faults(",".join(args.inject_fault))
        check_fault_indices(faults)
    return None


def main(argv: list[str]) -> int:
    args = parser().parse_args(argv)
    fmt = DATA_FORMATS[args.format]
    try:
        problem = _command_line_error(args, fmt)
    except ValueError as err:  # a bad --inject-fault
        problem = str(err)
    if problem:
        print(f"error: {problem}", file=sys.stderr)
        return 2
    try:
        out = prepare_directory(args.out)
    except OutputError as err:
        print(f"error: {err}", file=sys.stderr)
        return 2
    name = None if args.weights else (args.construction or fmt.default)
    source = ({"weights": str(args.weights), "task": fmt.task} if args.weights else
              {"construction": name, "kind": CONSTRUCTIONS[name].kind, "module": CONSTRUCTIONS[name].module,
               "why": None if args.construction else fmt.why})
    result = {"command": "run-data", "format": fmt.name, "data": str(args.data), "source": source,
              "chunk_rows": args.chunk_rows, "memory_bound": memory_bound(args.chunk_rows)}
    if not args.weights:
        chosen = "chosen" if args.construction else f"the default for {fmt.name}: {fmt.why}"
        print(f"construction: {name} ({CONSTRUCTIONS[name].kind}; {chosen})")
    totals = Totals()
    progress = (lambda line: None) if args.quiet else (lambda line: print(line, file=sys.stderr, flush=True))
    try:
        with _faults(",".join(args.inject_fault)):
            faults = active_faults() if not args.weights else {}
            if faults:
                result["faults"] = faults
                print(f"BROKEN ON PURPOSE: faults {faults} injected", file=sys.stderr)
            result.update(run(fmt, args.data, args, progress, totals))
    except (SuiteError, OSError) as err:  # a bad data or network file, a network that does not fit: named
        kind = "network" if isinstance(err, ModelFileError) else "data" if not isinstance(err, RunDataError) else "run"
        print(f"error: {type(err).__name__}: {err}", file=sys.stderr)
        result.update({"passed": False, "exit_code": 2, "totals": asdict(totals),
                       "error": {"type": type(err).__name__, "message": str(err), "about": kind}})
    write_atomic(out / "run-data.json", json.dumps(_jsonable(result), indent=2) + "\n")
    write_atomic(out / "run-data.md", to_markdown(result))
    if "error" not in result:
        t = result["totals"]
        print(f"{args.data}: {t['exact']}/{t['instances']} instances exact ({t['exact_answers']}/{t['answers']} answers)")
        if result["scope"]:
            print(f"outside the construction's scope: {t['outside_scope_instances']} instances ({t['outside_scope_missed']} "
                  f"missed, {'not counted: --scope-only' if args.scope_only else 'counted as failures'}); "
                  f"predicate {result['scope']['predicate']}")
        for title, records in (("first failures", result["failures"]), ("first misses outside the scope", result["outside_scope"])):
            if records:
                print(f"{title}:")
                for r in records:
                    print(f"  {describe_record(r)}")
        print(f"{'PASS' if result['passed'] else 'FAIL'} (exit {result['exit_code']})")
    print(f"wrote {out / 'run-data.md'} and {out / 'run-data.json'}")
    return result["exit_code"]


def memory_bound(chunk_rows: int) -> str:
    tokens = limit("sequence_length")
    return (f"one chunk of at most {chunk_rows} instances x {tokens} tokens ({chunk_rows * tokens * 8 // 2**20} MiB of ids), "
            f"network passes of at most {limit('chunk_values')} float64 values (or one instance), at most {CACHE_SIZE} built "
            "constructions, at most --show failure records of each kind")


def _jsonable(x):
    from claims.evidence import jsonable

    return jsonable(x)
