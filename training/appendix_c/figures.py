"""Evidence and report figures of a sweep.

:func:`summary`: the JSON-ready evidence (setup, every point, per model and size the mean
accuracies, the seeds' spread and the parameter count). :func:`figure_spec`: mean accuracy
against the task size, one series per model, with the 95% t-interval over seeds
(``reports/figures.py`` format).
"""

from __future__ import annotations

import statistics
from dataclasses import asdict

from claims.statistics import mean_interval

from .runner import Sweep
from .tasks import chance_accuracy


def summary(sweep: Sweep) -> dict:
    """JSON-ready evidence: the setup, every point, and per model and size the mean accuracies
    with the seeds' spread (min, max) and the parameter count."""
    setup = sweep.setup
    out = {"setup": {**asdict(setup), "models": [m.name for m in setup.models], "matched_to": setup.matched_to.name},
           "formats": {size: str(setup.task_config(size)) for size in setup.sizes},
           "chance": {size: chance_accuracy(setup.task_config(size)) for size in setup.sizes},
           "points": [asdict(p) for p in sweep.points], "models": {}}
    for name in sorted({p.model for p in sweep.points}):
        mine = [p for p in sweep.points if p.model == name]
        out["models"][name] = {"parameters": {p.size: p.parameters for p in mine}, "by_size": {}}
        for size in sorted({p.size for p in mine}):
            at = [p for p in mine if p.size == size]
            out["models"][name]["by_size"][size] = {
                "token_accuracy": statistics.fmean(p.token_accuracy for p in at),
                "instance_accuracy": statistics.fmean(p.instance_accuracy for p in at),
                "token_accuracy_range": [min(p.token_accuracy for p in at), max(p.token_accuracy for p in at)],
                "seeds": len(at)}
    return out


def figure_spec(sweep: Sweep, metric: str = "token_accuracy") -> dict:
    """Report figure (``reports/figures.py`` format): mean accuracy against the task size, one series
    per model; the 95% t-interval over seeds is drawn as two dashed curves in the series' colour
    (the format's ``fits``), where there are at least two seeds."""
    setup = sweep.setup
    size_name = "number of pairs K" if setup.task == "recall" else "string length n"
    task = "associative recall (query last)" if setup.task == "recall" else "copying (teacher forcing)"
    spec = {"name": f"fig-c1-{setup.task}-{metric.replace('_', '-')}",
            "title": f"Fig. C.1 setting: {task}, {metric.replace('_', ' ')} on fresh instances",
            "xlabel": size_name, "ylabel": metric.replace("_", " "), "xscale": "linear", "yscale": "linear",
            "series": [], "fits": [],
            "note": f"mean over seeds {list(setup.seeds)}; dashed: 95% t-interval; chance "
                    + ", ".join(f"{chance_accuracy(setup.task_config(s)):.2f}" for s in sorted(set(setup.sizes)))}
    for name, rows in sweep.table(metric).items():
        sizes = sorted(rows)
        spec["series"].append({"label": name, "x": sizes, "y": [statistics.fmean(rows[s]) for s in sizes]})
        if all(len(rows[s]) >= 2 for s in sizes):
            intervals = [mean_interval(rows[s]) for s in sizes]
            for side in ("low", "high"):
                spec["fits"].append({"label": f"95% {side}", "of": name, "x": sizes,
                                     "y": [min(1.0, max(0.0, getattr(i, side))) for i in intervals]})
    return {f"figure:{spec['name']}": spec}
