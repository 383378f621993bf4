"""Fig. C.1's verdicts: the ordering and the nonlinearity ablation, two-sided, from paired intervals.

Each claimed relation ("A beats B by at least :data:`MIN_ADVANTAGE`", "A is within
:data:`TRANSFORMER_MARGIN` of B") is decided from the Student-t 95% interval of the paired (same
size, same seed) differences on the larger half of the task sizes (:func:`decisive_sizes`), by
:func:`claims.statistics.side_verdict` / :func:`~claims.statistics.margin_verdict`; a verdict that
a model still improving at the end of its budget (:func:`is_still_improving`) could overturn is
inconclusive (:func:`downgrade_if_still_improving`). Tables are ``{model: {size: [accuracy of each
seed]}}``. The thresholds are the named constants below, each with its rationale.
"""

from __future__ import annotations

import statistics
from dataclasses import asdict, dataclass, field

from claims.statistics import Interval, margin_verdict, mean_interval, side_verdict


#: A model has *learned* a task size when its mean accuracy is at least this fraction of the way
#: from chance to 1 (for recall with 10 digits: 0.55). Below it on every size, no model learned the
#: task and an ordering says nothing about dynamic token selection; the Transformer below it on the
#: decisive sizes leaves nothing to be "comparable to" (Fig. C.1 is inconclusive then).
LEARNED_FRACTION = 0.5
#: Smallest accuracy advantage (absolute, per answer token) that counts as "clearly better": the
#: claim "A beats B" holds when the paired 95% interval of (A - B) lies at or above it and fails when
#: it lies wholly below it (:func:`claims.statistics.side_verdict`). 0.05 is well above the binomial
#: noise of 1024 test answers (standard error <= 0.016) and far below the gaps Fig. C.1 shows
#: between one and two layers.
MIN_ADVANTAGE = 0.05
#: "About as accurate as the Transformer", two-sided: the paired 95% interval of
#: (two-layer - Transformer) lies inside ``[-TRANSFORMER_MARGIN, +TRANSFORMER_MARGIN]`` (holds),
#: wholly outside it (fails: clearly worse *or* clearly better), or across an end (inconclusive)
#: (:func:`claims.statistics.margin_verdict`). 0.10 is twice :data:`MIN_ADVANTAGE`: a gap that
#: small is not what Fig. C.1 separates models by.
TRANSFORMER_MARGIN = 0.10
#: Accuracy at which a model is at the task's ceiling; when the one-layer and the two-layer models
#: both reach it the task size is too easy to separate them (inconclusive, not a contradiction).
CEILING = 0.98
#: A model is *still improving* when its accuracy on :data:`MONITORED_INSTANCES` fresh instances
#: (neither training nor test instances) at the end of training exceeds its best earlier record (the
#: records are a quarter of the steps apart) by more than this (:func:`is_still_improving`). The cosine
#: schedule runs the last quarter at under 15% of the peak rate, so a new best by a fifth of
#: :data:`MIN_ADVANTAGE` there has not plateaued: more training could move it by more than the
#: verdicts' margins. A new *best*, not a rise from the record before: a model at its plateau
#: oscillates (the linear two-layer model on recall: 0.594, 0.631, 0.597, 0.628, and 0.63 test
#: accuracy at 200 and at 400 steps alike), a learning one exceeds every earlier level. The training
#: loss is no test either: cross entropy keeps falling by a few percent per quarter on models whose
#: accuracy no longer moves; nor is the accuracy on training instances, which that model raised by
#: 0.011-0.016 in the last quarter by fitting them. A verdict that a still-improving model could
#: overturn is inconclusive, ``holds`` as well as ``fails`` (:func:`downgrade_if_still_improving`).
STILL_IMPROVING = 0.01


#: Fewest seeds for an interval (a t-interval needs two paired differences at least).
MIN_SEEDS = 2


def is_still_improving(accuracy_curve) -> bool:
    """Does the last monitored accuracy of ``[(step, accuracy), ...]`` exceed every earlier one by
    more than :data:`STILL_IMPROVING`?"""
    return len(accuracy_curve) >= 2 and accuracy_curve[-1][1] - max(a for _, a in accuracy_curve[:-1]) > STILL_IMPROVING


def decisive_sizes(sizes) -> list[int]:
    """The larger half of the task sizes (the largest one at least): where the claim should show."""
    ordered = sorted(sizes)
    return ordered[len(ordered) // 2 :]


def _check_table(table: dict, names: list[str]) -> list[int]:
    missing = [n for n in names if n not in table]
    if missing:
        raise ValueError(f"the accuracy table has no rows for {missing}; it has {sorted(table)}")
    sizes = sorted(table[names[0]])
    for n in names:
        if sorted(table[n]) != sizes or any(len(table[n][s]) != len(table[names[0]][s]) for s in sizes):
            raise ValueError(f"models {names} must have the same sizes and number of seeds to be paired")
    return sizes


def paired_difference(table: dict, better: str, worse: str, sizes: list[int]) -> Interval:
    """Interval of ``acc(better) - acc(worse)`` over the (size, seed) pairs of ``sizes``."""
    return mean_interval([b - w for s in sizes for b, w in zip(table[better][s], table[worse][s])])


def mean_over(table: dict, name: str, sizes: list[int]) -> float:
    return statistics.fmean(v for s in sizes for v in table[name][s])


@dataclass
class Verdict:
    verdict: str  # "holds" | "fails" | "inconclusive"
    reason: str
    details: dict = field(default_factory=dict)


def learned_accuracy(chance: float) -> float:
    """The mean accuracy from which a model counts as having learned a task (:data:`LEARNED_FRACTION`)."""
    return chance + LEARNED_FRACTION * (1 - chance)


def _seeds_and_learning(table: dict, names: list[str], sizes: list[int], chance: float) -> str | None:
    """The reason the comparison cannot be decided at all (too few seeds, nothing learned), or None."""
    seeds = min(len(table[names[0]][s]) for s in sizes)
    if seeds < MIN_SEEDS:
        return f"{seeds} seed(s): an interval needs at least {MIN_SEEDS}"
    learned = learned_accuracy(chance)
    if max(mean_over(table, n, [s]) for n in names for s in sizes) < learned:
        return f"no model learned the task (no mean accuracy reached {learned:.3f}, chance {chance:.3f})"
    return None


def best_two_layer(table: dict, candidates: list[str], sizes: list[int]) -> str:
    """The two-layer model (FNN depth) with the highest mean accuracy on ``sizes`` (ties: first)."""
    return max(candidates, key=lambda n: mean_over(table, n, sizes))


@dataclass(frozen=True)
class Part:
    """One paired comparison inside a verdict: its text, its own verdict, and the models whose further
    training could overturn that verdict (more training is taken to raise a model's accuracy)."""

    text: str
    verdict: str
    overturned_by: tuple[str, ...]


def beats(table: dict, better: str, worse: str, sizes: list[int], stopped_at_ceiling: dict | None = None) -> Part:
    """"``better`` is more accurate than ``worse`` by at least :data:`MIN_ADVANTAGE`": the paired
    interval at or above it holds (``worse`` still improving could overturn that), wholly below it
    fails (``better`` still improving could overturn that).

    A run the plateau rule stopped on reaching :data:`CEILING` (``stopped_at_ceiling``: ``{model: {size: [bool
    per seed]}}``) had not plateaued: training on could raise it up to 1. A ``fails`` stands only if it still
    fails with every such run of ``better`` at accuracy 1; otherwise the part is inconclusive."""
    gain = paired_difference(table, better, worse, sizes)
    verdict = side_verdict(gain.low, gain.high, MIN_ADVANTAGE, "above")
    text = f"{better} - {worse} = {gain} against >= {MIN_ADVANTAGE} ({verdict})"
    capped = {s: flags for s, flags in (stopped_at_ceiling or {}).get(better, {}).items() if s in sizes}
    if verdict == "fails" and any(any(flags) for flags in capped.values()):
        raised = {s: [1.0 if stopped else a for a, stopped in zip(v, capped.get(s, [False] * len(v)))]
                  for s, v in table[better].items()}
        best_case = paired_difference({**table, better: raised}, better, worse, sizes)
        if side_verdict(best_case.low, best_case.high, MIN_ADVANTAGE, "above") != "fails":
            runs = sum(sum(flags) for flags in capped.values())
            return Part(f"{text}, but {better} stopped at the ceiling {CEILING} in {runs} run(s), before its plateau: "
                        f"at accuracy 1 there the gain would be {best_case}, not wholly below (inconclusive)",
                        "inconclusive", ())
    return Part(text, verdict, (worse,) if verdict == "holds" else (better,) if verdict == "fails" else ())


def matches(table: dict, model: str, reference: str, sizes: list[int]) -> Part:
    """"``model`` is about as accurate as ``reference``": the paired interval of the difference
    inside ``+-TRANSFORMER_MARGIN`` holds (either still improving could pull them apart), wholly below
    or above it fails (the one behind still improving could overturn that)."""
    gap = paired_difference(table, model, reference, sizes)
    verdict = margin_verdict(gap.low, gap.high, TRANSFORMER_MARGIN)
    behind = model if gap.high < 0 else reference
    return Part(f"{model} - {reference} = {gap} against +-{TRANSFORMER_MARGIN} ({verdict})", verdict,
                (model, reference) if verdict == "holds" else (behind,) if verdict == "fails" else ())


def downgrade_if_still_improving(parts: list[Part], still_improving) -> tuple[str, str]:
    """``(verdict, note)`` of the parts together: ``fails`` when some part fails, ``holds`` when all
    hold, else ``inconclusive``; then a ``holds`` becomes ``inconclusive`` when a model that could
    overturn some part is still improving (:data:`STILL_IMPROVING`), and a ``fails`` when every failing
    part could be overturned so. ``note`` names those models (empty when nothing was downgraded)."""
    verdicts = [p.verdict for p in parts]
    verdict = "fails" if "fails" in verdicts else "holds" if all(v == "holds" for v in verdicts) else "inconclusive"
    improving = set(still_improving)
    if verdict == "holds":
        risky = sorted({m for p in parts for m in p.overturned_by if m in improving})
    elif verdict == "fails":
        failing = [p for p in parts if p.verdict == "fails"]
        at_risk = [sorted(m for m in p.overturned_by if m in improving) for p in failing]
        risky = sorted({m for ms in at_risk for m in ms}) if all(at_risk) else []
    else:
        risky = []
    if not risky:
        return verdict, ""
    return "inconclusive", (f"it would {'hold' if verdict == 'holds' else 'fail'}, but {', '.join(risky)} "
                            f"{'was' if len(risky) == 1 else 'were'} still improving (monitored accuracy at the end "
                            f"above every earlier record by more than {STILL_IMPROVING}), so more training could "
                            "overturn it")


def ordering_verdict(table: dict, *, one_layer: str, two_layer: list[str], transformer: str,
                     chance: float, still_improving=(), stopped_at_ceiling: dict | None = None) -> Verdict:
    """Fig. C.1's ordering, two-layer SSM+FNN (best FNN depth) ~ Transformer > one-layer SSM+FNN.

    On :func:`decisive_sizes`, from paired 95% intervals over (size, seed): (two - one) at least
    :data:`MIN_ADVANTAGE` (:func:`beats`) and (two - Transformer) within ``+-TRANSFORMER_MARGIN``
    (:func:`matches`, two-sided); ``holds`` when both hold, ``fails`` when either fails,
    ``inconclusive`` otherwise, then :func:`downgrade_if_still_improving`. ``inconclusive`` before
    any of that with fewer than :data:`MIN_SEEDS` seeds, when no model learned the task, when the
    Transformer did not (its mean below :func:`learned_accuracy`: nothing to be comparable to), or
    when the one- and two-layer models are both at :data:`CEILING`. Selecting the best depth on the
    test accuracies favours the two-layer side slightly; the selected depth is reported.
    ``stopped_at_ceiling``: the runs the plateau rule stopped at :data:`CEILING` (:func:`beats`).
    """
    if not two_layer:
        raise ValueError("ordering_verdict needs at least one two-layer model")
    names = [one_layer, *two_layer, transformer]
    sizes = decisive_sizes(_check_table(table, names))
    blocker = _seeds_and_learning(table, names, sizes, chance)
    if blocker:
        return Verdict("inconclusive", blocker, {"sizes": sizes})
    best = best_two_layer(table, two_layer, sizes)
    means = {n: mean_over(table, n, sizes) for n in names}
    parts = [beats(table, best, one_layer, sizes, stopped_at_ceiling), matches(table, best, transformer, sizes)]
    details = {"sizes": sizes, "best_two_layer": best, "means": means,
               "two_minus_one": asdict(paired_difference(table, best, one_layer, sizes)),
               "two_minus_transformer": asdict(paired_difference(table, best, transformer, sizes)),
               "parts": [asdict(p) for p in parts], "still_improving": sorted(still_improving)}
    text = (f"sizes {sizes}: " + "; ".join(p.text for p in parts) + "; means "
            + ", ".join(f"{n} {m:.3f}" for n, m in means.items()))
    learned = learned_accuracy(chance)
    if means[transformer] < learned:
        return Verdict("inconclusive", f"{text}: the Transformer did not learn the task (mean {means[transformer]:.3f} "
                       f"< {learned:.3f}, chance {chance:.3f}), so there is nothing to be comparable to", details)
    if means[one_layer] >= CEILING and means[best] >= CEILING:
        return Verdict("inconclusive", f"{text}: one- and two-layer models both at the ceiling {CEILING}: "
                       "these sizes are too easy to separate them", details)
    verdict, note = downgrade_if_still_improving(parts, still_improving)
    return Verdict(verdict, f"{text}: {note}" if note else text, details)


def nonlinearity_verdict(table: dict, *, linear: str, nonlinear: str, chance: float, still_improving=(),
                         stopped_at_ceiling: dict | None = None) -> Verdict:
    """The ablation: two SSM layers without FNN nonlinearity (``linear``) against the same with it.

    On :func:`decisive_sizes`: (nonlinear - linear) at least :data:`MIN_ADVANTAGE` by its paired 95%
    interval (:func:`beats`: at or above holds, wholly below fails, across inconclusive), then
    :func:`downgrade_if_still_improving` (a ``holds`` is overturned by the linear model still
    improving, a ``fails`` by the nonlinear one). ``inconclusive`` before that with fewer than
    :data:`MIN_SEEDS` seeds, when the nonlinear model did not learn the task (then its advantage says
    nothing), or when both are at :data:`CEILING`. ``stopped_at_ceiling``: as in :func:`beats`.
    """
    names = [nonlinear, linear]
    sizes = decisive_sizes(_check_table(table, names))
    blocker = _seeds_and_learning(table, [nonlinear], sizes, chance)
    if blocker:
        return Verdict("inconclusive", f"{blocker} (the nonlinear model {nonlinear})", {"sizes": sizes})
    part = beats(table, nonlinear, linear, sizes, stopped_at_ceiling)
    means = {n: mean_over(table, n, sizes) for n in names}
    details = {"sizes": sizes, "means": means,
               "nonlinear_minus_linear": asdict(paired_difference(table, nonlinear, linear, sizes)),
               "parts": [asdict(part)], "still_improving": sorted(still_improving)}
    text = f"sizes {sizes}: {part.text}; means " + ", ".join(f"{n} {m:.3f}" for n, m in means.items())
    if means[linear] >= CEILING and means[nonlinear] >= CEILING:
        return Verdict("inconclusive", f"{text}: both at the ceiling {CEILING}", details)
    verdict, note = downgrade_if_still_improving([part], still_improving)
    return Verdict(verdict, f"{text}: {note}" if note else text, details)
