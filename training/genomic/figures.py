"""Report figures of a genomic result (``reports/figures.py`` format).

:func:`figure_specs`: importance along the sequence for a few explained inputs (planted motif
marked) and the mean top-``k`` share against ``k``, trained against untrained, with the uniform
share ``k / L``.
"""

from __future__ import annotations

from .runner import GenomicResult, describe_data


def figure_specs(result: GenomicResult, inputs: int = 3) -> dict:
    """Report figures (``reports/figures.py`` format).

    * importance along the sequence for the first ``inputs`` explained sequences (trained model,
      each measure's ``|importance|`` scaled to a maximum of 1 and offset by the input's index),
      the planted motif's positions marked by a bar above the curves;
    * mean top-``k`` share against ``k`` for the trained and untrained model, both measures, with
      the uniform share ``k / L``.
    """
    data, L = result.explained, result.setup.data.length
    positions = list(range(L))
    along = {"name": "genomic-importance-along-sequence",
             "title": "Token importance along the sequence (trained SSM+FNN, synthetic DNA)",
             "xlabel": "position", "ylabel": "|importance| / max (offset by input)", "series": [],
             "note": f"marks above the curves: planted site positions; L = {L}; {describe_data(result.setup.data)}"}
    for i in range(min(inputs, len(data))):
        for measure, style in (("occlusion", "-"), ("gradient_input", ":")):
            a = result.trained.scores[measure][i].abs()
            a = a / a.max().clamp_min(1e-30)
            along["series"].append({"label": f"input {i} {measure}", "x": positions, "y": (a + 1.2 * i).tolist(),
                                    "style": style})
        motif = data.motif_mask()[i].nonzero().squeeze(1).tolist()  # one or several sites: drawn as marks
        along["series"].append({"label": f"input {i} sites", "x": motif, "y": [1.2 * i + 1.08] * len(motif),
                                "style": "" if len(motif) and motif[-1] - motif[0] >= len(motif) else "-"})
    ks = [k for k in result.setup.top_k_grid if k <= L]
    share = {"name": "genomic-top-k-share", "title": "Share of |importance| in the top-k positions",
             "xlabel": "k", "ylabel": "mean top-k share", "series": [],
             "note": f"judged at k = {result.setup.data.k}; uniform importance gives k / L"}
    for report in (result.trained, result.untrained):
        for measure, style in (("occlusion", "-"), ("gradient_input", "--")):
            share["series"].append({"label": f"{report.name} {measure}", "x": ks,
                                    "y": report.top_k_curve[measure], "style": style})
    share["series"].append({"label": "uniform k / L", "x": ks, "y": [k / L for k in ks], "style": ":"})
    return {f"figure:{along['name']}": along, f"figure:{share['name']}": share}
