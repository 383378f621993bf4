"""Figures for the report, drawn from figure specifications that checks put in their evidence.

A check records ``evidence.record(**{"figure:<name>": spec})`` with ``spec`` a dict: ``name``,
``title``, ``xlabel``, ``ylabel``, ``xscale``/``yscale`` (``"log"`` or ``"linear"``), optional
``note``, ``series``: a list of ``{"label", "x", "y", "style"?}``, and ``fits``: fitted curves
``{"label", "of", "x", "y", "style"?, "legend"?}`` drawn (dashed unless ``style`` says otherwise) in the
colour of the series they fit, in the legend only when ``legend`` is true. The report draws each one as PNG and
SVG under ``figures/`` of the staging folder of the new report set (``reports/output.py``: the set is
swapped in as one unit, and old figures are removed there, only if the suite wrote them; SVG without
timestamps, so reruns are byte-identical) and links it from the claim's section. The data stay in
``claims.json``, so anyone can redraw them.
"""

from __future__ import annotations

import os
from pathlib import Path

from .output import is_plain_name

FIGURE_PREFIX = "figure:"


def figure_specs(claim: dict) -> list[dict]:
    specs = []
    for evidence in claim["evidence"].values():
        for key, value in evidence.items():
            if key.startswith(FIGURE_PREFIX) and isinstance(value, dict) and value.get("series"):
                specs.append(value)
    return specs


def draw(spec: dict, directory: Path) -> list[str]:
    """Draw one figure; returns the written paths relative to the report directory."""
    if not is_plain_name(str(spec["name"])):
        raise ValueError(f"a figure's name must be one plain file name, not {spec['name']!r}")
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    plt.rcParams["svg.hashsalt"] = "ssm-suite"  # deterministic SVG ids
    directory.mkdir(parents=True, exist_ok=True)
    fig, ax = plt.subplots(figsize=(6.4, 4.2), dpi=110)
    colors = {}
    for series in spec["series"]:
        xs = [float(v) for v in series["x"]]
        ys = [float(v) if not isinstance(v, str) else float("nan") for v in series["y"]]
        (line,) = ax.plot(xs, ys, series.get("style", "-"), marker="o", markersize=3, label=series["label"])
        colors[series["label"]] = line.get_color()
    for fit in spec.get("fits", []):  # fitted growth curves: dashed, in their series' colour
        ax.plot([float(v) for v in fit["x"]], [float(v) for v in fit["y"]], fit.get("style", "--"), linewidth=1,
                color=colors.get(fit.get("of")), alpha=0.8, label=fit["label"] if fit.get("legend") else None)
    ax.set_xscale(spec.get("xscale", "linear"))
    ax.set_yscale(spec.get("yscale", "linear"))
    ax.set_xlabel(spec.get("xlabel", ""))
    ax.set_ylabel(spec.get("ylabel", ""))
    ax.set_title(spec.get("title", spec["name"]), fontsize=10)
    ax.grid(True, which="both", alpha=0.3)
    ax.legend(fontsize=8)
    if spec.get("note"):
        fig.text(0.01, 0.01, spec["note"], fontsize=7, alpha=0.8)
    fig.tight_layout(rect=(0, 0.03, 1, 1))
    written = []
    for suffix, kwargs in ((".png", {"metadata": {"Software": None}}), (".svg", {"metadata": {"Date": None, "Creator": None}})):
        path = directory / f"{spec['name']}{suffix}"
        fig.savefig(path, **kwargs)
        written.append(f"{directory.name}/{path.name}")
    plt.close(fig)
    return written


def draw_all(document: dict, out: Path) -> None:
    """Draw every claim's figures into ``out/figures`` (``out``: the new report set's staging folder) and
    list them under ``claim["figures"]``. The figures are drawn by one process per core (about a second
    each, mostly tick-label layout: 34 of them took 33 s on one core)."""
    jobs = [(claim, spec) for claim in document["claims"] for spec in figure_specs(claim)]
    directory = out / "figures"
    workers = min(len(jobs), os.cpu_count() or 1)
    if workers > 1:
        from concurrent.futures import ProcessPoolExecutor

        with ProcessPoolExecutor(workers) as pool:
            drawn = list(pool.map(draw, [spec for _, spec in jobs], [directory] * len(jobs)))
    else:
        drawn = [draw(spec, directory) for _, spec in jobs]
    for claim in document["claims"]:
        claim["figures"] = []
    for (claim, spec), (png, svg) in zip(jobs, drawn):
        claim["figures"].append({"title": spec.get("title", spec["name"]), "png": png, "svg": svg})
