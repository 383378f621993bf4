"""Assertions shared by the check modules; each records what it measured as evidence."""

from __future__ import annotations

import sympy as sp
import torch
from hypothesis import given

from checks import profiles
from checks.strategies import ar_instances

from constructions.construction import Construction
from constructions.resources import Resources
from constructions.ssm import Mode
from constructions.verification import verify


def assert_exact(construction: Construction, tokens: torch.Tensor, evidence=None, *, mode: Mode = "auto") -> None:
    """Every answer of ``construction`` on ``tokens`` equals the reference, outputs on target."""
    result = verify(construction, tokens, mode=mode)
    if evidence is not None:
        evidence.count("instances_checked", result.instances)
        evidence.count("answers_checked", result.answers)
        evidence.note_max("max_abs_output_error", result.max_abs_error)
        evidence.record(output_tolerance=result.tolerance)
        evidence.note_max("longest_sequence", tokens.shape[1])
    assert result.ok, f"{construction.name} on {construction.config}: {result.describe()}"


def drawn_instance_property(build, formats):
    """The property 'build(config) answers this drawn instance exactly', as a hypothesis test."""

    @profiles.control_settings()
    @given(case=ar_instances(formats))
    def exact_on(case):
        config, batch = case
        assert_exact(build(config), batch.tokens)

    return exact_on


def closed_form_mismatches(closed_form: dict[str, sp.Expr], measured: Resources, values: dict[str, int]) -> list[str]:
    """Names and values of every resource whose closed form differs from the measured count."""
    subs = {sym: values[sym.name] for expr in closed_form.values() for sym in expr.free_symbols}
    problems = []
    for name, expr in closed_form.items():
        predicted = expr.subs(subs)
        actual = getattr(measured, name)
        predicted_value = float("inf") if predicted == sp.oo else float(predicted)
        if predicted_value != float(actual):
            problems.append(f"{name}: closed form {expr} = {predicted} at {values}, measured {actual}")
    return problems


def exception_report(err: BaseException, limit: int = 1500) -> str:
    """The message of a caught failure plus hypothesis's notes (its minimal failing example)."""
    notes = "\n".join(getattr(err, "__notes__", []))
    text = f"{type(err).__name__}: {err}\n{notes}".strip()
    return text if len(text) <= limit else text[:limit] + " ..."
