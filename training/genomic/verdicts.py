"""The genomic verdicts: one trained model (:func:`verdict`) and over seeds (:func:`seeds_verdict`).

Thresholds, each with its rationale: :data:`ACCURACY_MIN` (the model learned the task),
:data:`SPARSE_MIN_SHARE` (importance concentrated), :data:`INPUT_DEPENDENT_MAX_OVERLAP`
(importance moves with the input). Over seeds, 95% Student-t intervals of the learned seeds'
means decide each side two-sided (:func:`claims.statistics.side_verdict`).
"""

from __future__ import annotations

from claims.statistics import mean_interval, side_verdict

from .metrics import ImportanceSummary


#: Test accuracy a model must reach before its importance is judged. Chance is ``1 / classes``
#: (0.5 for two); below 0.9 the model has not learned to find the motif in a tenth of the inputs
#: or more, and what it attends to says nothing about the task: the verdict is ``inconclusive``.
ACCURACY_MIN = 0.9

#: Mean share of ``|importance|`` the top-``k`` positions must hold for importance to count as
#: sparse. ``k`` positions are a ``k / L`` fraction of the sequence (at most
#: :data:`MAX_TOP_FRACTION`, so uniform importance gives at most a quarter); requiring that they
#: carry at least half of the total means importance is concentrated at least twice -- at the
#: quick scale (``k / L = 6 / 96``) eight times -- beyond uniform.
SPARSE_MIN_SHARE = 0.5

#: Mean pairwise Jaccard overlap of top-``k`` sets at or below which importance counts as
#: input-dependent. A model that always uses the same positions gives 1; independent random sets
#: give about ``k / (2L - k)`` (0.05 at the quick scale). A model that picks its ``k`` positions
#: among a fixed window of ``w`` positions (e.g. the last few, as a recency-weighted SSM does)
#: gives about ``k / (2w - k)``: 0.5 for ``w = 1.5 k``. At most 0.25 asks for top positions that
#: range, across inputs, at least as widely as random picks from a window of ``2.5 k`` positions:
#: importance that moves with the input, not a fixed neighbourhood of a motif's size.
INPUT_DEPENDENT_MAX_OVERLAP = 0.25


def is_sparse(summary: ImportanceSummary) -> bool:
    return summary.top_k_share >= SPARSE_MIN_SHARE


def is_input_dependent(summary: ImportanceSummary) -> bool:
    return summary.top_k_overlap <= INPUT_DEPENDENT_MAX_OVERLAP


def verdict(test_accuracy: float, summaries: list[ImportanceSummary]) -> tuple[str, str]:
    """``(verdict, reason)``: the rule of :mod:`training.genomic`, for every summary given."""
    if not test_accuracy >= ACCURACY_MIN:  # NaN (a diverged model) included
        return "inconclusive", (f"not learned: test accuracy {test_accuracy:.3f} < {ACCURACY_MIN}; "
                                "the importance of a model that has not learned the task says nothing")
    if not summaries:
        raise ValueError("a verdict needs at least one importance summary")
    parts, failed = [], []
    for s in summaries:
        text = (f"{s.measure}: top-{s.k} share {s.top_k_share:.3f} (uniform {s.uniform_share:.3f}, "
                f"need >= {SPARSE_MIN_SHARE}), overlap {s.top_k_overlap:.3f} (random {s.random_overlap:.3f}, "
                f"need <= {INPUT_DEPENDENT_MAX_OVERLAP})")
        parts.append(text)
        if not is_sparse(s):
            failed.append(f"{s.measure} importance is spread")
        if not is_input_dependent(s):
            failed.append(f"{s.measure} importance sits at the same positions across inputs")
    head = f"test accuracy {test_accuracy:.3f}; " + "; ".join(parts)
    if failed:
        return "fails", f"{head}: " + ", ".join(failed)
    return "holds", head


def seeds_verdict(accuracies: list[float], summaries: list[list[ImportanceSummary]]) -> tuple[str, str, dict]:
    """``(verdict, reason, intervals)`` over training seeds (the package docstring): ``accuracies[i]`` and
    ``summaries[i]`` (one per measure) of seed ``i``; intervals over the seeds that learned."""
    if len(accuracies) != len(summaries) or not summaries:
        raise ValueError("need one accuracy and one list of summaries per seed, at least one seed")
    learned = [run for acc, run in zip(accuracies, summaries) if acc >= ACCURACY_MIN]
    head = f"{len(learned)} of {len(accuracies)} seeds learned (test accuracy >= {ACCURACY_MIN})"
    if len(learned) < 2:
        return "inconclusive", f"{head}: an interval over seeds needs two", {}
    intervals, parts, wrong, undecided = {}, [], [], []
    for i, measure in enumerate(s.measure for s in learned[0]):
        share = mean_interval([run[i].top_k_share for run in learned])
        overlap = mean_interval([run[i].top_k_overlap for run in learned])
        intervals[measure] = {"top_k_share": vars(share), "top_k_overlap": vars(overlap)}
        parts.append(f"{measure}: top-{learned[0][i].k} share {share.mean:.3f} [{share.low:.3f}, {share.high:.3f}] "
                     f"(need >= {SPARSE_MIN_SHARE}), overlap {overlap.mean:.3f} [{overlap.low:.3f}, {overlap.high:.3f}] "
                     f"(need <= {INPUT_DEPENDENT_MAX_OVERLAP})")
        checks = (("share", "spread", side_verdict(share.low, share.high, SPARSE_MIN_SHARE, "above")),
                  ("overlap", "tied to the same positions",
                   side_verdict(overlap.low, overlap.high, INPUT_DEPENDENT_MAX_OVERLAP, "below")))
        for quantity, failure, decided in checks:
            if decided == "fails":
                wrong.append(f"{measure} importance is {failure}")
            elif decided == "inconclusive":
                undecided.append(f"the {measure} {quantity} interval reaches across its threshold")
    reason = f"{head}; " + "; ".join(parts)
    if wrong:
        return "fails", f"{reason}: " + ", ".join(wrong), intervals
    if undecided:
        return "inconclusive", f"{reason}: " + ", ".join(undecided), intervals
    return "holds", reason, intervals
