"""What "SSM+FNN is comparable to Transformers" (C1) means in this suite, as a rule on growth classes.

The paper's abstract says SSMs with FNNs "are comparable to Transformers in extracting the essential
tokens depending on the input". The suite's operationalisation (reconstructed, stated in every
``comparable.*`` claim record):

* **Resources judged** (:data:`JUDGED`), read off the built tensors of both kinds of network under one
  name each (:func:`judged`): ``parameters`` (nonzero entries; for an SSM outside the shift structure
  ``J_U``, which is its window), ``width`` (SSM: largest FNN width or channel count; Transformer:
  ``d_model`` or MLP width), ``depth`` (FNN / MLP depth), ``layers`` (SSM layers / attention blocks),
  ``weight_bound`` and ``weight_bits``.
* **Resources not judged** (:data:`LIMITED`, :func:`limited`): what PAPER.md §5's information limit
  lets (forces to) grow -- the SSM's state and the span of its window, the Transformer's context.
  They are reported next to the limit (``N log2 |V|`` bits for query-last recall, ``L log2 D`` for
  copying), never judged.
* **Classes**: each resource of each construction gets a growth class over each grid variable
  (:func:`claims.growth.growth_class`). Constant and poly-log count as one class; polynomial classes
  are compared by degree, allowing :data:`DEGREE_SLACK` (relative) for degrees measured from slopes.
* **Pair rule** (:func:`compare_pair`): an SSM+FNN construction is *at most* a Transformer
  construction when, in every judged resource and every grid variable, its class is at most the
  Transformer's; it is *not comparable* when some judged resource is in a higher class; otherwise
  (a class ``unclear`` or a resource not measured) the pair is ``unclear``.
* **Format rule** (:func:`format_verdict`): ``holds`` when some SSM+FNN construction is at most every
  Transformer construction of the same format (so: at most the best one, resource by resource);
  ``fails`` when every SSM+FNN construction is not comparable to some Transformer construction;
  ``inconclusive`` otherwise. The reason names, for each failing pair, the resource and the two
  classes.

Field names of the measured resources live only in :data:`SSM_FIELDS` and
:data:`TRANSFORMER_FIELDS` (and :data:`WEIGHT_BITS`): a renamed field is a one-line change.
"""

from __future__ import annotations

import math
from typing import Any, Callable, Mapping

#: Name of the field holding the weights' fixed-point bits, in both kinds of resources.
WEIGHT_BITS = "weight_bits"

#: Resources judged by the comparison, in report order.
JUDGED = ("parameters", "width", "depth", "layers", "weight_bound", "weight_bits")

#: Resources the information limit lets grow: reported, not judged.
LIMITED = ("state", "window_span", "shift_structure", "context")

#: Relative slack when comparing polynomial degrees (degrees measured from log-log slopes are
#: noisy; claims.growth.POLY_SLOPE_RTOL allows the same for a polynomial class).
DEGREE_SLACK = 0.15


def _largest(a, b):
    """``max`` for numbers, ``Max`` for sympy expressions (closed forms)."""
    if isinstance(a, (int, float)) and isinstance(b, (int, float)):
        return max(a, b)
    import sympy as sp

    return sp.Max(a, b)


Getter = Callable[[str], Any]

#: judged resource -> how to read it from an SSM+FNN's resources (``get(field)``: a measured
#: :class:`constructions.resources.Resources` attribute, or a closed-form entry of the same name)
SSM_FIELDS: dict[str, Callable[[Getter], Any]] = {
    "parameters": lambda get: get("parameters") - get("shift_structure_nonzeros"),
    "width": lambda get: _largest(get("fnn_width"), get("channels")),
    "depth": lambda get: get("fnn_depth"),
    "layers": lambda get: get("num_layers"),
    "weight_bound": lambda get: get("weight_bound"),
    "weight_bits": lambda get: get(WEIGHT_BITS),
}

#: the same for a Transformer's :class:`constructions.transformer.model.TransformerResources`
TRANSFORMER_FIELDS: dict[str, Callable[[Getter], Any]] = {
    "parameters": lambda get: get("parameters"),
    "width": lambda get: _largest(get("d_model"), get("mlp_width")),
    "depth": lambda get: get("mlp_depth"),
    "layers": lambda get: get("num_layers"),
    "weight_bound": lambda get: get("weight_bound"),
    "weight_bits": lambda get: get(WEIGHT_BITS),
}


def _fields(kind: str) -> dict:
    if kind == "ssm":
        return SSM_FIELDS
    if kind == "transformer":
        return TRANSFORMER_FIELDS
    raise ValueError(f"kind must be 'ssm' or 'transformer', got {kind!r}")


def judged(kind: str, resources) -> dict[str, float]:
    """The judged resources of measured ``resources`` (an SSM's or a Transformer's)."""
    return {name: read(lambda f: getattr(resources, f)) for name, read in _fields(kind).items()}


def judged_closed_form(kind: str, closed_form: Mapping[str, Any]) -> dict[str, Any]:
    """The judged resources of a construction's closed form (a dict of sympy expressions named like
    the measured fields); a resource whose fields are not all in the closed form is left out."""
    out = {}
    for name, read in _fields(kind).items():
        try:
            out[name] = read(lambda f: closed_form[f])
        except KeyError:
            continue
    return out


def limited(kind: str, resources, context: int) -> dict[str, int]:
    """The resources the information limit lets grow, at a sequence of length ``context``: the
    SSM's state entries, the span of its longest window (the whole sequence for an infinite one)
    and the nonzeros of its shift structure; the Transformer's context."""
    if kind == "ssm":
        window = context if resources.window == math.inf else min(int(resources.window), context)
        return {"state": resources.state_size, "window_span": window, "shift_structure": resources.shift_structure_nonzeros}
    _fields(kind)
    return {"context": context}


# ----------------------------------------------------------------------------- the rule
def rank(cell: Mapping | None) -> tuple[int, float] | None:
    """Order of a growth class: (0, 0) constant or poly-log, (1, degree) polynomial, (2, inf)
    super-polynomial; ``None`` when unclear or not measured."""
    if not cell:
        return None
    cls = cell.get("class")
    if cls in ("constant", "polylog"):
        return (0, 0.0)
    if cls == "polynomial":
        return (1, float(cell.get("degree", cell.get("late_slope", math.nan))))
    if cls == "superpolynomial":
        return (2, math.inf)
    return None


def at_most(ssm: Mapping | None, transformer: Mapping | None) -> str:
    """``"yes"`` when the SSM's class is at most the Transformer's up to poly-log factors, ``"no"``
    when it is higher, ``"unclear"`` when either class is unclear or missing."""
    s, t = rank(ssm), rank(transformer)
    if s is None or t is None or math.isnan(s[1]) or math.isnan(t[1]):
        return "unclear"
    if s[0] != t[0]:
        return "yes" if s[0] < t[0] else "no"
    if s[0] == 1:
        return "yes" if s[1] <= t[1] * (1 + DEGREE_SLACK) + 1e-12 else "no"
    return "yes"


def describe(cell: Mapping | None) -> str:
    if not cell:
        return "not measured"
    return cell["class"] + (f" (degree {cell['degree']:g})" if "degree" in cell else "")


def compare_pair(ssm: Mapping[str, Mapping[str, Mapping]], transformer: Mapping[str, Mapping[str, Mapping]]) -> dict:
    """One SSM+FNN construction against one Transformer construction. Both arguments map a grid
    variable to a growth table row ``{resource: cell}``. Returns ``{"verdict": "at most" | "not
    comparable" | "unclear", "higher": [...], "unclear": [...]}``; each listed item names the variable,
    the resource and both classes."""
    higher, unsure = [], []
    for variable in sorted(set(ssm) | set(transformer)):
        s_row, t_row = ssm.get(variable, {}), transformer.get(variable, {})
        for resource in JUDGED:
            answer = at_most(s_row.get(resource), t_row.get(resource))
            if answer == "yes":
                continue
            item = {"variable": variable, "resource": resource, "ssm": describe(s_row.get(resource)),
                    "transformer": describe(t_row.get(resource))}
            (higher if answer == "no" else unsure).append(item)
    verdict = "not comparable" if higher else ("unclear" if unsure else "at most")
    return {"verdict": verdict, "higher": higher, "unclear": unsure}


def format_verdict(ssm: Mapping[str, Mapping], transformer: Mapping[str, Mapping]) -> dict:
    """The verdict for one format: ``ssm`` and ``transformer`` map construction names to
    ``{variable: {resource: cell}}``. Returns ``{"verdict", "reason", "pairs", "witness"}``."""
    if not ssm or not transformer:
        raise ValueError("a comparison needs at least one SSM+FNN and one Transformer construction")
    pairs = {s: {t: compare_pair(ssm[s], transformer[t]) for t in transformer} for s in ssm}
    witnesses = [s for s, row in pairs.items() if all(p["verdict"] == "at most" for p in row.values())]
    if witnesses:
        reason = (f"{witnesses[0]} is at most every Transformer construction ({', '.join(transformer)}) "
                  "in every judged resource, up to poly-log factors")
        return {"verdict": "holds", "reason": reason, "pairs": pairs, "witness": witnesses[0]}

    def why(s):
        parts = []
        for t, p in pairs[s].items():
            for item in p["higher"]:
                parts.append(f"{item['resource']} in {item['variable']}: {item['ssm']} vs {item['transformer']} ({t})")
        return "; ".join(parts)

    beaten = [s for s, row in pairs.items() if any(p["verdict"] == "not comparable" for p in row.values())]
    if len(beaten) == len(pairs):
        reason = "no SSM+FNN construction is comparable: " + " | ".join(f"{s}: {why(s)}" for s in beaten)
        return {"verdict": "fails", "reason": reason, "pairs": pairs, "witness": None}
    open_ = [s for s in pairs if s not in beaten]
    detail = "; ".join(f"{s}: {item['resource']} in {item['variable']} ({item['ssm']} vs {item['transformer']}, {t})"
                       for s in open_ for t, p in pairs[s].items() for item in p["unclear"])
    return {"verdict": "inconclusive", "reason": "the growth classes do not settle the comparison: " + detail,
            "pairs": pairs, "witness": None}
