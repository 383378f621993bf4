"""``python -m reports verify`` and ``export``: the suite's property checks on a network from a file.

    python -m reports export outer-product --config num_keys=4,num_values=4,num_pairs=3 --out net.safetensors
    python -m reports verify --task associative-recall --weights net.safetensors

``verify`` loads the file (:mod:`constructions.serialization`; no pickle code runs), measures the
network's resources (weights) and, on the random batch, what it stores while it runs (SSM state
bits, or a Transformer's KV cache), and runs three checks on the file's task format: a seeded random batch,
hypothesis-drawn instances (a failure is shrunk to a minimal counterexample) and, when the format
is small enough, every instance; for copying, also free-running greedy decoding of the random batch's
prompts in step mode (each layer carrying its state: one step per generated token). It prints a summary, writes ``verify.json`` and ``verify.md``
(atomically) and exits 0 if every check passed, 1 if one failed, 2 on a bad file or command line.

The file is untrusted: every size in it is checked against the limits of
:mod:`constructions.model_file.limits` before anything of that size is allocated, and the run is
sized from them (rows per chunk, instances whose memory is measured, whether the exhaustive check
runs). A bad file is reported by its error class and message in ``verify.json``/``verify.md`` too.
"""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path

import torch
from hypothesis import HealthCheck, given, settings
from hypothesis.errors import Unsatisfiable

from checks.strategies import packed_ar_instances, packed_ints
from claims.evidence import jsonable
from constructions.errors import InfeasibleTaskError, ModelFileError, ModelFileMetadataError, SuiteError
from constructions.model_file.limits import limit, ssm_layers
from constructions.copying import greedy_decode
from constructions.serialization import load, save
from constructions.tasks import associative_recall as ar
from constructions.tasks import copying
from constructions.tasks.ngram_lookup import NgramLookupConfig
from constructions.tasks.scattered_recall import ScatteredARConfig
from constructions.verification import verify

from . import arguments
from .locations import DEFAULT_OUT, describe_default_out
from .output import OutputError, prepare_directory, write_atomic

EXHAUSTIVE_LIMIT = limit("exhaustive_instances")
#: the tasks verify draws instances of (a ``scattered-recall`` file is run on data: ``python -m reports run-data``)
VERIFY_TASKS = ("associative-recall", "copying")


def _strings(config: copying.CopyConfig, ngram: int | None):
    string = packed_ints(config.length, config.alphabet)  # one draw per ~100 symbols: long strings in ms
    if ngram:
        string = string.filter(lambda s: not bool(copying.repeated_ngram(torch.tensor([s]), ngram, config.alphabet)[0]))
    return string.map(lambda s: copying.assemble(config, torch.tensor([s])))


def _instances(task: str, config, ngram: int | None):
    if task == "associative-recall":
        return packed_ar_instances(config)
    return _strings(config, ngram)


def _batch(task: str, config, size: int, seed: int, ngram: int | None) -> torch.Tensor:
    if task == "associative-recall":
        return ar.generate(config, size, seed).tokens
    batch = copying.generate(config, size, seed)
    keep = ~copying.repeated_ngram(batch.strings, ngram, config.alphabet) if ngram else torch.ones(size, dtype=torch.bool)
    return batch.tokens[keep]


def _instance_count(task: str, config) -> int:
    return ar.instance_count(config) if task == "associative-recall" else config.alphabet**config.length


def _exhaustive_skip(task: str, config, length: int, work: int) -> str | None:
    """Why the exhaustive check cannot run within the limits (None: it can)."""
    count = _instance_count(task, config)
    for name, total in (("exhaustive_instances", count), ("exhaustive_tokens", count * length),
                        ("exhaustive_work", count * work)):
        if total > limit(name):
            return f"{_size(count)} instances; {name} {_size(total)} is over the limit {limit(name)}"
    return None


def _size(n: int) -> str:
    """``n`` in digits, or as a power of two when it has too many (task sizes can be astronomical)."""
    return str(n) if n < 10**15 else f"about 2^{n.bit_length() - 1}"


def _everything(task: str, config, ngram: int | None) -> torch.Tensor:
    if task == "associative-recall":
        return ar.enumerate_instances(config, EXHAUSTIVE_LIMIT).tokens
    strings = copying.all_strings(config.alphabet, config.length)
    if ngram:
        strings = strings[~copying.repeated_ngram(strings, ngram, config.alphabet)]
    return copying.assemble(config, strings).tokens


def _check_ngram(task: str, config, ngram: int | None) -> None:
    """``--ngram n`` must leave some string to check: a copy format whose strings are longer than
    ``D^n + n - 1`` repeats an n-gram in every string."""
    if ngram is None:
        return
    if task != "copying":
        raise InfeasibleTaskError(f"--ngram restricts copying strings; the task is {task!r}")
    n, L, D = ngram, config.length, config.alphabet
    if n < L and D ** min(n, 64) < L - n + 1:  # L - n + 1 n-grams, at most D^n distinct ones
        raise InfeasibleTaskError(
            f"--ngram {n} leaves no string to check: every string of length {L} over {D} symbols repeats some "
            f"{n}-gram (the longest string without a repeated {n}-gram has D^n + n - 1 = {copying.longest_without_repeated_ngram(D, n)} symbols)")


def _record(name: str, result) -> dict:
    """A float check (:class:`Verification`) or an exact one (:class:`ExactVerification`: no tolerance)."""
    return {"check": name, "passed": result.ok, "instances": result.instances, "wrong_answers": result.wrong_answers,
            "max_abs_error": getattr(result, "max_abs_error", 0.0), "tolerance": getattr(result, "tolerance", 0.0),
            "first_failure": result.first_failure}


def _free_running(construction, tokens: torch.Tensor, exact: bool) -> dict:
    """Copying: the random batch's prompts ``BOS s SEP`` decoded free-running in step mode
    (:func:`~constructions.copying.greedy_decode`); passes when every generated copy equals ``s EOS``."""
    name = f"free-running greedy decoding of the random batch ({len(tokens)}, step mode)"
    if exact:
        return {"check": name, "passed": None, "skipped": "--exact checks the teacher-forced answers in rational "
                "arithmetic; free-running decoding runs in the file's dtype"}
    s = construction.config.length
    generated = greedy_decode(construction, tokens[:, : s + 2], s + 1, decoder="step")  # not one more teacher-forced pass
    wrong = (generated != tokens[:, s + 2 :]).any(-1)
    first = None
    if bool(wrong.any()):
        row = int(wrong.nonzero()[0])
        first = {"tokens": tokens[row].tolist(), "generated": generated[row].tolist()}
    return {"check": name, "passed": not bool(wrong.any()), "instances": len(tokens), "wrong_answers": int(wrong.sum()),
            "first_failure": first}


def _state_entries(network) -> int:
    """Real state entries per token of the largest SSM layer (complex entries count twice)."""
    return max((sum(g.channels * g.state_size * (2 if g.C.is_complex() else 1) for g in ssm_layers(b.ssm))
                for b in network.blocks), default=0)


def _memory(construction, tokens: torch.Tensor, rows: int) -> dict | None:
    """The state the network reaches, measured on as many instances as ``state_values`` allows."""
    if not len(tokens):
        return None
    entries = tokens.shape[1] * max(1, _state_entries(construction.network))
    fit = min(rows, limit("state_values") // entries)
    if fit < 1:
        return {"not_measured": f"one instance's states hold {entries} entries, over the limit "
                                f"{limit('state_values')} (state_values)"}
    return construction.memory(tokens[:fit])


#: ``--exact`` checks every instance only up to this many (Python rational arithmetic: ms per instance)
EXACT_EXHAUSTIVE_LIMIT = 5_000


def _precision_diagnosis(construction, checks: list[dict], failing: torch.Tensor | None, rerun: str) -> str | None:
    """Why a float run failed, where the exact twin shows it: on the first failing instance the network is
    right in rational arithmetic and its SSM state needs more bits than the dtype holds."""
    from constructions.exact_arithmetic import precision_shortfall

    if failing is None:
        first = next((c["first_failure"] for c in checks if c["passed"] is False and c.get("first_failure")), None)
        failing = None if first is None else torch.tensor([first["tokens"]], device=construction.network.device)
    shortfall = None if failing is None else precision_shortfall(construction, failing)
    return None if shortfall is None else shortfall.describe(rerun)


def verify_file(path: Path, task: str, *, examples: int, batch: int, seed: int, ngram: int | None,
                exact: bool = False) -> dict:
    """The checks on the network in ``path``; ``exact``: in rational arithmetic
    (:func:`~constructions.exact_arithmetic.verify_exact`, zero tolerance, slow) instead of the file's dtype."""
    construction = load(path)
    file_task = construction.name  # the file's task name (load names the construction by it)
    if file_task != task:
        raise ModelFileMetadataError(f"{path} holds a network for {file_task!r}, but --task says {task!r}")
    config = construction.config
    _check_ngram(task, config, ngram)
    loaded = construction.notes["file"]
    cost = loaded["forward_pass_estimate"]
    rows = max(1, limit("chunk_values") // cost["floats"])
    if exact:
        from constructions.exact_arithmetic import ExactNetwork, verify_exact

        twin = ExactNetwork(construction.network)
        check = lambda c, t: verify_exact(c, t, exact=twin)  # noqa: E731
    else:
        check = lambda c, t: verify(c, t, rows_per_chunk=rows)  # noqa: E731
    tokens = _batch(task, config, batch, seed, ngram)
    if len(tokens):
        checks = [_record(f"random batch of {batch} (seed {seed})", check(construction, tokens))]
    else:
        checks = [{"check": f"random batch of {batch} (seed {seed})", "passed": None,
                   "skipped": f"none of the {batch} random strings is free of repeated {ngram}-grams"}]
    if task == "copying" and len(tokens):
        checks.append(_free_running(construction, tokens, exact))
    memory = _memory(construction, tokens, rows)

    @settings(max_examples=examples, derandomize=True, database=None, deadline=None, report_multiple_bugs=False,
              suppress_health_check=[HealthCheck.too_slow, HealthCheck.filter_too_much])
    @given(instance=_instances(task, config, ngram))
    def drawn(instance):
        if refused:
            return
        try:
            result = check(construction, instance.tokens)
        except SuiteError as err:  # the network cannot be run on this instance (an overflow): a named error, no shrinking
            refused.append(err)
            return
        if not result.ok:
            failing["tokens"] = instance.tokens  # the last failing one: hypothesis's minimal example
        assert result.ok, result.describe()

    failing: dict = {}
    refused: list[SuiteError] = []
    try:
        drawn()
        if refused:
            raise refused[0]
        checks.append({"check": f"{examples} hypothesis-drawn instances", "passed": True})
    except AssertionError as err:
        notes = "\n".join(getattr(err, "__notes__", []))
        checks.append({"check": f"{examples} hypothesis-drawn instances", "passed": False,
                       "counterexample": f"{err}\n{notes}".strip()})
    except Unsatisfiable:  # strings without a repeated n-gram exist (_check_ngram) but are too rare to draw
        checks.append({"check": f"{examples} hypothesis-drawn instances", "passed": None,
                       "skipped": f"hypothesis found too few strings without a repeated {ngram}-gram among random ones"})
    skip = _exhaustive_skip(task, config, loaded["tokens_per_instance"], cost["multiply_adds"])
    if skip is None and exact and _instance_count(task, config) > EXACT_EXHAUSTIVE_LIMIT:
        skip = f"--exact checks every instance only up to {EXACT_EXHAUSTIVE_LIMIT}"
    if skip is None:
        everything = _everything(task, config, ngram)
        checks.append(_record(f"every instance ({len(everything)})", check(construction, everything)))
    ran = [c for c in checks if c["passed"] is not None]
    if not ran:
        raise InfeasibleTaskError(f"no instance could be checked: {'; '.join(c['skipped'] for c in checks)}; "
                                  "choose a larger --ngram or --batch")
    passed = all(c["passed"] for c in ran)
    rerun = f"python -m reports verify --task {task} --weights {path} --exact" + (f" --ngram {ngram}" if ngram else "")
    diagnosis = None if passed or exact else _precision_diagnosis(construction, checks, failing.get("tokens"), rerun)
    return {"file": str(path), "task": task, "config": jsonable(config), "restricted_to_strings_without_repeated_ngram": ngram,
            "arithmetic": "exact rational" if exact else str(construction.network.dtype).replace("torch.", ""),
            "loaded": loaded, "exhaustive_check_skipped": skip,
            "resources": construction.resources().summary(), "memory": memory, "checks": checks,
            "precision": diagnosis, "passed": passed, "exit_code": 0 if passed else 1}


def error_result(path: Path, task: str, err: Exception) -> dict:
    """What ``verify.json`` records when the file (or the run) raised a named error: exit code 2."""
    return {"file": str(path), "task": task, "passed": False, "exit_code": 2, "checks": [],
            "error": {"type": type(err).__name__, "message": str(err), "file": isinstance(err, ModelFileError)}}


def _status(check: dict) -> str:
    return {True: "pass", False: "FAIL"}.get(check["passed"], f"skipped ({check.get('skipped')})")


def to_markdown(result: dict) -> str:
    if "error" in result:
        error = result["error"]
        return "\n".join([f"# Verification of `{result['file']}`", "", f"Task: **{result['task']}**", "",
                          f"Result: **ERROR** (exit 2): `{error['type']}`", "", "```", error["message"], "```",
                          "", "No check ran: the file was refused before any network was run." if result["error"]["file"]
                          else "No check completed: the network could not be run as the file says."]) + "\n"
    lines = [f"# Verification of `{result['file']}`", "", f"Task: **{result['task']}**, format `{result['config']}`, "
             f"arithmetic: {result['arithmetic']}", "", f"Result: **{'PASS' if result['passed'] else 'FAIL'}**", ""]
    if result.get("precision"):
        lines += [f"Why: {result['precision']}.", ""]
    lines += ["| check | result |", "|---|---|"]
    lines += [f"| {c['check']} | {_status(c)} |" for c in result["checks"]]
    lines += ["", "Measured resources (weights):", "", "```json", json.dumps(result["resources"], indent=1), "```"]
    lines += ["", "Measured memory on the random batch (SSM state bits, or a Transformer's KV cache):", "",
              "```json", json.dumps(result["memory"], indent=1), "```"]
    conversions = result.get("loaded", {}).get("conversions", [])
    if conversions:
        lines += ["", f"dtypes converted on loading (exactly, to float64): {len(conversions)} tensors", "",
                  "| tensor | stored as |", "|---|---|"]
        lines += [f"| `{c['tensor']}` | {c['stored_as']} |" for c in conversions]
    if result.get("exhaustive_check_skipped"):
        lines += ["", f"Exhaustive check not run: {result['exhaustive_check_skipped']}."]
    for c in result["checks"]:
        if c["passed"] is False:
            detail = c.get("counterexample") or json.dumps(c.get("first_failure"), indent=1)
            lines += ["", f"Counterexample ({c['check']}):", "", "```", str(detail), "```"]
    return "\n".join(lines) + "\n"


def verify_main(argv: list[str]) -> int:
    p = argparse.ArgumentParser(prog="python -m reports verify", description=__doc__,
                                formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--task", required=True, choices=VERIFY_TASKS)
    p.add_argument("--weights", required=True, type=Path, help="model file (.safetensors or .pt, suite format)")
    p.add_argument("--examples", type=arguments.positive_int, default=200, help="hypothesis-drawn instances (default 200)")
    p.add_argument("--batch", type=arguments.positive_int, default=1000, help="random instances (default 1000)")
    p.add_argument("--seed", type=arguments.seed, default=0, help="seed of the random batch, 0 .. 2^32 - 1 (default 0)")
    p.add_argument("--ngram", type=arguments.positive_int, default=None, help="copying: only strings without a repeated n-gram")
    p.add_argument("--out", type=arguments.output_directory, default=DEFAULT_OUT / "verify",
                   help=f"where verify.json/.md go (default: verify/ under {describe_default_out()})")
    p.add_argument("--exact", action="store_true",
                   help="run the network's exact rational twin instead of its dtype (slow: use a smaller --batch and --examples; "
                   f"every instance only up to {EXACT_EXHAUSTIVE_LIMIT}); decides a FAIL that float64's 53 bits explain")
    args = p.parse_args(argv)
    try:
        out = prepare_directory(args.out)
    except OutputError as err:
        print(f"error: {err}", file=sys.stderr)
        return 2
    try:
        result = verify_file(args.weights, args.task, examples=args.examples, batch=args.batch, seed=args.seed, ngram=args.ngram,
                             exact=args.exact)
    except SuiteError as err:  # ModelFileError and its subclasses: a bad file, named
        print(f"error: {type(err).__name__}: {err}", file=sys.stderr)
        result = error_result(args.weights, args.task, err)
    write_atomic(out / "verify.json", json.dumps(jsonable(result), indent=2) + "\n")
    write_atomic(out / "verify.md", to_markdown(result))
    if "error" in result:
        print(f"wrote {out / 'verify.md'} and {out / 'verify.json'}")
        return 2
    for c in result["checks"]:
        print(f"{_status(c)}  {c['check']}")
    print(f"{'PASS' if result['passed'] else 'FAIL'}: {args.weights} ({args.task}); resources {result['resources']}; "
          f"memory {result['memory']}")
    if not result["passed"]:  # the shrunk (minimal) counterexample first, if hypothesis found one
        failed = [c for c in result["checks"] if c["passed"] is False]
        bad = next((c for c in failed if c.get("counterexample")), failed[0])
        print("counterexample:\n" + str(bad.get("counterexample") or json.dumps(bad.get("first_failure"))), file=sys.stderr)
        if result["precision"]:
            print(f"why: {result['precision']}", file=sys.stderr)
    print(f"wrote {out / 'verify.md'} and {out / 'verify.json'}")
    return 0 if result["passed"] else 1


def _parse_assignments(text: str) -> dict:
    values = {}
    for item in filter(None, (part.strip() for part in text.split(","))):
        key, sep, value = item.partition("=")
        if not sep:
            raise ValueError(f"expected key=value, got {item!r}")
        values[key.strip()] = int(value) if value.strip().lstrip("-").isdigit() else value.strip()
    return values


def exportable_constructions() -> dict[str, str]:
    """Construction name -> module, for what ``export`` can write: the SSM+FNN constructions of the
    tasks the file format holds (recall, copying and n-gram lookup, :data:`EXPORTABLE_PACKAGES`); not the
    Transformers (``constructions.transformer``) or the regression networks."""
    from constructions.mutation import INJECTABLE

    return {name: module for name, module in INJECTABLE.items() if module.startswith(EXPORTABLE_PACKAGES)}


#: the packages whose constructions solve a task of the model-file format (associative recall, copying, n-gram lookup)
EXPORTABLE_PACKAGES = ("constructions.associative_recall.", "constructions.copying.", "constructions.lookup.")


def export_main(argv: list[str]) -> int:
    import importlib

    exportable = exportable_constructions()
    p = argparse.ArgumentParser(prog="python -m reports export", description="Write one of the suite's constructions to a model file.")
    p.add_argument("construction", help="one of: " + ", ".join(sorted(exportable)))
    p.add_argument("--config", required=True, help="task format as key=value pairs, e.g. num_keys=4,num_values=4,num_pairs=3")
    p.add_argument("--option", default="", help="builder options as key=value pairs, e.g. n=3")
    p.add_argument("--out", required=True, type=Path, help="file to write (.safetensors or .pt)")
    args = p.parse_args(argv)
    if args.construction not in exportable:
        from constructions.mutation import INJECTABLE

        module = INJECTABLE.get(args.construction, "")
        what = (f"{args.construction!r} is a Transformer: the file format holds SSM+FNN networks"
                if module.startswith("constructions.transformer.")
                else f"{args.construction!r} solves a task the file format does not hold (it holds recall, copying and n-gram lookup)"
                if module else f"unknown construction {args.construction!r}")
        print(f"error: {what}; choose one of {sorted(exportable)}", file=sys.stderr)
        return 2
    module = importlib.import_module(exportable[args.construction])
    try:
        fields = _parse_assignments(args.config)
        config_type = ((ScatteredARConfig if "length" in fields else ar.ARConfig) if "num_keys" in fields
                       else NgramLookupConfig if "ngram" in fields else copying.CopyConfig)
        construction = module.build(config_type(**fields), **_parse_assignments(args.option))
        save(construction, args.out)
    except (TypeError, ValueError, SuiteError, OSError) as err:
        print(f"error: {err}", file=sys.stderr)
        return 2
    print(f"wrote {args.out}")
    return 0
