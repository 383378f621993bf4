"""``python -m reports``: run the checks and write ``report.html``, ``report.md`` and ``claims.json``.

Also ``python -m reports verify --task TASK --weights FILE`` (the property checks on a network
from a file) and ``python -m reports export CONSTRUCTION ...`` (write a construction to a file).

Exit status: 0 -- the run completed (whatever the verdicts); 1 -- ``--strict`` and some verdict
differs from the registry's expectation; 2 -- bad command line (unknown claim id, unwritable output
directory, unknown profile, a value out of range) or the output directory is in use by another run; 3 -- the
run itself had errors (a check could not be collected or crashed pytest) or collected no check; 130 -- interrupted
(Ctrl-C). The report set in the output directory is replaced only by a run that completed
(exit 0 or 1), as one unit; otherwise the previous report is left as it was.
"""

from __future__ import annotations

import argparse
import sys
import traceback
from pathlib import Path

from checks.profiles import PROFILES
from claims.registry import load
from constructions.errors import UnknownClaimError

import constructions.associative_recall  # noqa: F401  (registers the injectable constructions)
import constructions.copying  # noqa: F401
import constructions.lookup  # noqa: F401
import constructions.regression.extraction  # noqa: F401
import constructions.regression.smooth_relu  # noqa: F401
import constructions.transformer  # noqa: F401
from constructions.mutation import check_fault_indices, fault_catalogue, parse_faults

from . import arguments, environment, lock
from .figures import draw_all
from .html import to_html
from .locations import DEFAULT_OUT, ROOT, describe_default_out
from .output import MANIFEST_NAME, OutputError, ReportSet, check_report_names, prepare_directory, recover
from .render import json_text, to_json, to_markdown
from .runner import RunOptions, RunResult, run_checks
from .verdicts import aggregate


def parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(prog="python -m reports", description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--profile", default="quick", choices=sorted(PROFILES), help="check sizes (default: quick)")
    p.add_argument("--device", default="cpu", choices=["cpu", "cuda"], help="device for the checks (default: cpu)")
    p.add_argument("--out", type=arguments.output_directory, default=DEFAULT_OUT, help=f"output directory (default: {describe_default_out()})")
    p.add_argument("--claims", nargs="+", metavar="ID", help="only these claim ids (space or comma separated)")
    p.add_argument("--seed", type=arguments.seed, default=None,
                   help="seed every random draw, 0 .. 2^32 - 1 (default: derandomized, as in CI)")
    p.add_argument("--workers", type=arguments.workers, default="auto",
                   help="pytest-xdist processes: a number, 'auto' (default) or 0 for in-process")
    p.add_argument("--strict", action="store_true", help="exit 1 if any verdict differs from the expected one")
    p.add_argument("--quiet", action="store_true", help="no progress output")
    p.add_argument("--list", action="store_true", help="list the registered claims and exit")
    p.add_argument("--inject-fault", action="append", default=[], metavar="NAME:INDEX",
                   help="break a construction on purpose (one weight changed) to see its claims fail; see --list-faults")
    p.add_argument("--list-faults", action="store_true", help="list the faults --inject-fault accepts and exit")
    p.add_argument("--training-cache", type=arguments.output_directory, default=None, metavar="DIR",
                   help="cache trained models and their results in DIR: a rerun with the same code and settings "
                        "reuses them, an interrupted one resumes (default: no cache)")
    return p


def main(argv: list[str] | None = None) -> int:
    argv = sys.argv[1:] if argv is None else argv
    if argv and argv[0] in ("verify", "export"):
        from .verify import export_main, verify_main

        return (verify_main if argv[0] == "verify" else export_main)(argv[1:])
    if argv and argv[0] == "run-data":
        from .run_data import main as run_data_main

        return run_data_main(argv[1:])
    args = parser().parse_args(argv)
    registry = load()
    if args.list:
        for c in registry:
            print(f"{c.id:<36} {c.provenance:<14} {c.kind:<10} {c.title}")
        return 0
    if args.list_faults:
        print("\n".join(fault_catalogue()))
        return 0
    try:
        faults = parse_faults(",".join(args.inject_fault))
        check_fault_indices(faults)
    except ValueError as err:
        print(f"error: {err}", file=sys.stderr)
        return 2
    ids = None
    if args.claims:
        ids = [i.strip() for arg in args.claims for i in arg.split(",") if i.strip()]
    if args.claims is not None and not ids:  # `--claims ""` selects nothing; it must not mean "every claim"
        print("error: --claims needs at least one claim id (python -m reports --list); omit it to run every claim", file=sys.stderr)
        return 2
    try:
        selected = registry.select(ids)
        out = prepare_directory(args.out)
        check_report_names(out)
    except (UnknownClaimError, OutputError) as err:
        print(f"error: {err}", file=sys.stderr)
        return 2
    if args.device == "cuda":
        import torch

        if not torch.cuda.is_available():
            print("error: --device cuda was requested but CUDA is not available", file=sys.stderr)
            return 2
    options = RunOptions(profile=args.profile, device=args.device, claims=ids, seed=args.seed,
                         workers=args.workers, quiet=args.quiet, faults=faults,
                         training_cache=None if args.training_cache is None else str(args.training_cache.resolve()))
    try:
        with lock.held(out) as held:
            for note in (held.warning, held.stale_message(), *recover(out)):
                if note:
                    print(f"note: {note}", file=sys.stderr)
            return run_and_write(options, selected, out, args.strict)
    except KeyboardInterrupt:  # while locking or completing an earlier swap (idempotent: the next run goes on)
        print(f"interrupted: {_previous(out)}", file=sys.stderr)
        return 130
    except OutputError as err:  # the folder is locked by another run, or an interrupted swap cannot be completed
        print(f"error: {err}", file=sys.stderr)
        return 2


def _previous(out: Path) -> str:
    if (out / MANIFEST_NAME).exists() or (out / "report.html").exists():
        return f"the previous report in {str(out)!r} is left as it was"
    return f"no report was written to {str(out)!r}"


def _not_written(run: RunResult, out: Path) -> int:
    if run.interrupted:
        print(f"interrupted while the checks ran: {_previous(out)}", file=sys.stderr)
        return 130
    for e in run.errors:
        print(f"error: {e}", file=sys.stderr)
    if not run.errors:
        print(f"error: no check was collected for the selected claims (pytest exit code {run.pytest_exit_code})", file=sys.stderr)
    print(f"the run did not complete: {_previous(out)}", file=sys.stderr)
    return 3


def run_and_write(options: RunOptions, selected, out: Path, strict: bool) -> int:
    """Run the checks and, if the run completed, swap its report set into ``out`` as one unit."""
    report_set = ReportSet(out)
    try:
        run = run_checks(options)
        if not run.reportable:
            return _not_written(run, out)
        records = aggregate(selected, run.results)
        document = to_json(run, records, environment.describe(ROOT, options.device))
        with report_set:
            draw_all(document, report_set.path)
            report_set.write_text("claims.json", json_text(document))
            report_set.write_text("report.md", to_markdown(document))
            report_set.write_text("report.html", to_html(document, report_set.path))
            notes = report_set.commit({"started_at": run.started_at, "profile": options.profile,
                                       "claims_selected": options.claims, "seed": options.seed})
    except KeyboardInterrupt:
        if report_set.journal_written:  # signals are held during the swap: it completed before this arrived
            print(f"interrupted after the new report was written to {str(out)!r}", file=sys.stderr)
        else:
            print(f"interrupted: {_previous(out)}", file=sys.stderr)
        return 130
    except Exception as err:  # noqa: BLE001 -- any failure while writing: say what happened to the report
        traceback.print_exc()
        if report_set.journal_written:
            print(f"error: the new report set could not be swapped in completely ({err}); the next run into "
                  f"{str(out)!r} completes the swap", file=sys.stderr)
        else:
            print(f"error: the run failed ({err!r}): {_previous(out)}", file=sys.stderr)
        return 3
    for note in notes:
        print(f"note: {note}", file=sys.stderr)
    if not options.quiet:
        summary = ", ".join(f"{n} {v}" for v, n in document["summary"].items() if n)
        print(f"{len(records)} claims: {summary}. Wrote {out / 'report.html'}, report.md and claims.json", file=sys.stderr)
    if strict and document["unexpected"]:
        print(f"strict: unexpected verdicts for {', '.join(document['unexpected'])}", file=sys.stderr)
        return 1
    return 0
