"""``python -m reports verify`` and ``export``: the suite's property checks on a network from a file.

    python -m reports export outer-product --config num_keys=4,num_values=4,num_pairs=3 --out net.safetensors
    python -m reports verify --task associative-recall --weights net.safetensors

``verify`` loads the file (:mod:`constructions.serialization`; no pickle code runs), measures the
network's resources (weights) and, on the random batch, what it stores while it runs (SSM state
bits, or a Transformer's KV cache), and runs three checks on the file's task format: a seeded random batch,
hypothesis-drawn instances (a failure is shrunk to a minimal counterexample) and, when the format
is small enough, every instance. It prints a summary, writes ``verify.json`` and ``verify.md``
(atomically) and exits 0 if every check passed, 1 if one failed, 2 on a bad file or command line.
"""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path

import torch
from hypothesis import HealthCheck, given, settings
from hypothesis.errors import Unsatisfiable
from hypothesis import strategies as st

from claims.evidence import jsonable
from constructions.errors import InfeasibleTaskError, ModelFileError, SuiteError
from constructions.serialization import TASKS, load, save
from constructions.tasks import associative_recall as ar
from constructions.tasks import copying
from constructions.verification import verify

from . import arguments
from .output import OutputError, prepare_directory, write_atomic

EXHAUSTIVE_LIMIT = 200_000


def _strings(config: copying.CopyConfig, ngram: int | None):
    string = st.lists(st.integers(0, config.alphabet - 1), min_size=config.length, max_size=config.length)
    if ngram:
        string = string.filter(lambda s: not bool(copying.repeated_ngram(torch.tensor([s]), ngram, config.alphabet)[0]))
    return string.map(lambda s: copying.assemble(config, torch.tensor([s])))


def _instances(task: str, config, ngram: int | None):
    if task == "associative-recall":
        from checks.strategies import ar_instances

        return ar_instances(st.just(config)).map(lambda case: case[1])
    return _strings(config, ngram)


def _batch(task: str, config, size: int, seed: int, ngram: int | None) -> torch.Tensor:
    if task == "associative-recall":
        return ar.generate(config, size, seed).tokens
    batch = copying.generate(config, size, seed)
    keep = ~copying.repeated_ngram(batch.strings, ngram, config.alphabet) if ngram else torch.ones(size, dtype=torch.bool)
    return batch.tokens[keep]


def _everything(task: str, config, ngram: int | None) -> torch.Tensor | None:
    if task == "associative-recall":
        return ar.enumerate_instances(config).tokens if ar.instance_count(config) <= EXHAUSTIVE_LIMIT else None
    if config.alphabet**config.length > EXHAUSTIVE_LIMIT:
        return None
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
    file_task = "associative-recall" if isinstance(construction.config, ar.ARConfig) else "copying"
    if file_task != task:
        raise ModelFileError(f"{path} holds a network for {file_task!r}, but --task says {task!r}")
    config = construction.config
    _check_ngram(task, config, ngram)
    if exact:
        from constructions.exact_arithmetic import ExactNetwork, verify_exact

        twin = ExactNetwork(construction.network)
        check = lambda c, t: verify_exact(c, t, exact=twin)  # noqa: E731
    else:
        check = verify
    tokens = _batch(task, config, batch, seed, ngram)
    if len(tokens):
        checks = [_record(f"random batch of {batch} (seed {seed})", check(construction, tokens))]
    else:
        checks = [{"check": f"random batch of {batch} (seed {seed})", "passed": None,
                   "skipped": f"none of the {batch} random strings is free of repeated {ngram}-grams"}]
    memory = construction.memory(tokens) if len(tokens) else None

    @settings(max_examples=examples, derandomize=True, database=None, deadline=None,
              suppress_health_check=[HealthCheck.too_slow, HealthCheck.filter_too_much])
    @given(instance=_instances(task, config, ngram))
    def drawn(instance):
        result = check(construction, instance.tokens)
        if not result.ok:
            failing["tokens"] = instance.tokens  # the last failing one: hypothesis's minimal example
        assert result.ok, result.describe()

    failing: dict = {}
    try:
        drawn()
        checks.append({"check": f"{examples} hypothesis-drawn instances", "passed": True})
    except AssertionError as err:
        notes = "\n".join(getattr(err, "__notes__", []))
        checks.append({"check": f"{examples} hypothesis-drawn instances", "passed": False,
                       "counterexample": f"{err}\n{notes}".strip()})
    except Unsatisfiable:  # strings without a repeated n-gram exist (_check_ngram) but are too rare to draw
        checks.append({"check": f"{examples} hypothesis-drawn instances", "passed": None,
                       "skipped": f"hypothesis found too few strings without a repeated {ngram}-gram among random ones"})
    everything = _everything(task, config, ngram)
    if everything is not None and (not exact or len(everything) <= EXACT_EXHAUSTIVE_LIMIT):
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
            "resources": construction.resources().summary(), "memory": memory, "checks": checks,
            "precision": diagnosis, "passed": passed}


def _status(check: dict) -> str:
    return {True: "pass", False: "FAIL"}.get(check["passed"], f"skipped ({check.get('skipped')})")


def to_markdown(result: dict) -> str:
    lines = [f"# Verification of `{result['file']}`", "", f"Task: **{result['task']}**, format `{result['config']}`, "
             f"arithmetic: {result['arithmetic']}", "", f"Result: **{'PASS' if result['passed'] else 'FAIL'}**", ""]
    if result.get("precision"):
        lines += [f"Why: {result['precision']}.", ""]
    lines += ["| check | result |", "|---|---|"]
    lines += [f"| {c['check']} | {_status(c)} |" for c in result["checks"]]
    lines += ["", "Measured resources (weights):", "", "```json", json.dumps(result["resources"], indent=1), "```"]
    lines += ["", "Measured memory on the random batch (SSM state bits, or a Transformer's KV cache):", "",
              "```json", json.dumps(result["memory"], indent=1), "```"]
    for c in result["checks"]:
        if c["passed"] is False:
            detail = c.get("counterexample") or json.dumps(c.get("first_failure"), indent=1)
            lines += ["", f"Counterexample ({c['check']}):", "", "```", str(detail), "```"]
    return "\n".join(lines) + "\n"


def verify_main(argv: list[str]) -> int:
    p = argparse.ArgumentParser(prog="python -m reports verify", description=__doc__,
                                formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--task", required=True, choices=TASKS)
    p.add_argument("--weights", required=True, type=Path, help="model file (.safetensors or .pt, suite format)")
    p.add_argument("--examples", type=arguments.positive_int, default=200, help="hypothesis-drawn instances (default 200)")
    p.add_argument("--batch", type=arguments.positive_int, default=1000, help="random instances (default 1000)")
    p.add_argument("--seed", type=arguments.seed, default=0, help="seed of the random batch, 0 .. 2^32 - 1 (default 0)")
    p.add_argument("--ngram", type=arguments.positive_int, default=None, help="copying: only strings without a repeated n-gram")
    p.add_argument("--out", type=arguments.output_directory, default=Path("reports/out/verify"), help="where verify.json/.md go")
    p.add_argument("--exact", action="store_true",
                   help="run the network's exact rational twin instead of its dtype (slow: use a smaller --batch and --examples; "
                   f"every instance only up to {EXACT_EXHAUSTIVE_LIMIT}); decides a FAIL that float64's 53 bits explain")
    args = p.parse_args(argv)
    try:
        out = prepare_directory(args.out)
        result = verify_file(args.weights, args.task, examples=args.examples, batch=args.batch, seed=args.seed, ngram=args.ngram,
                             exact=args.exact)
    except (ModelFileError, OutputError, SuiteError) as err:
        print(f"error: {err}", file=sys.stderr)
        return 2
    write_atomic(out / "verify.json", json.dumps(jsonable(result), indent=2) + "\n")
    write_atomic(out / "verify.md", to_markdown(result))
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
    """Construction name -> module, for what ``export`` can write: the task constructions (a
    ``build(config)`` for a recall or copy format; not the regression networks) that are SSM+FNN
    networks -- the file format holds no Transformer (those under ``constructions.transformer``)."""
    import importlib

    from constructions.mutation import INJECTABLE

    return {name: module for name, module in INJECTABLE.items()
            if not module.startswith("constructions.transformer.") and hasattr(importlib.import_module(module), "build")}


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

        transformer = INJECTABLE.get(args.construction, "").startswith("constructions.transformer.")
        what = (f"{args.construction!r} is a Transformer: the file format holds SSM+FNN networks" if transformer
                else f"unknown construction {args.construction!r}")
        print(f"error: {what}; choose one of {sorted(exportable)}", file=sys.stderr)
        return 2
    module = importlib.import_module(exportable[args.construction])
    try:
        fields = _parse_assignments(args.config)
        config_type = ar.ARConfig if "num_keys" in fields else copying.CopyConfig
        construction = module.build(config_type(**fields), **_parse_assignments(args.option))
        save(construction, args.out)
    except (TypeError, ValueError, SuiteError, OSError) as err:
        print(f"error: {err}", file=sys.stderr)
        return 2
    print(f"wrote {args.out}")
    return 0
