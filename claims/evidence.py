"""Measured evidence that a check attaches to the claims it is linked to.

A check asks for the ``evidence`` fixture and records numbers::

    evidence.record(max_vocab=4096, max_length=1025)
    evidence.count("instances", len(batch))
    evidence.inconclusive("grid too small to separate the fits")   # ends the test

The values travel in the test report's ``user_properties`` (so they survive ``pytest -n auto``:
xdist ships each worker's reports to the controller) and :mod:`reports` joins them with the claim
registry. Values are converted to JSON-ready Python objects when recorded.
"""

from __future__ import annotations

import dataclasses
import math
from typing import Any

import pytest

EVIDENCE_KEY = "claim_evidence"
CLAIMS_KEY = "claim_links"
BREAKS_KEY = "control_breaks"  # {claim id: what of that claim's own object a control breaks}
INCONCLUSIVE_KEY = "inconclusive"


def jsonable(value: Any) -> Any:
    """A JSON-ready copy of ``value`` (tensors, numpy, sympy, dataclasses, inf and nan handled)."""
    if value is None or isinstance(value, (bool, str)):
        return value
    if isinstance(value, int):
        return value
    if isinstance(value, float):
        if math.isnan(value):
            return "nan"
        if math.isinf(value):
            return "inf" if value > 0 else "-inf"
        return value
    if hasattr(value, "to_dict"):
        return jsonable(value.to_dict())
    if dataclasses.is_dataclass(value) and not isinstance(value, type):
        return jsonable(dataclasses.asdict(value))
    if isinstance(value, dict):
        return {str(k): jsonable(v) for k, v in value.items()}
    if isinstance(value, (list, tuple, set, frozenset)):
        return [jsonable(v) for v in value]
    try:
        import torch

        if isinstance(value, torch.Tensor):
            return jsonable(value.detach().cpu().tolist())
    except ImportError:  # pragma: no cover
        pass
    try:
        import numpy as np

        if isinstance(value, np.ndarray):
            return jsonable(value.tolist())
        if isinstance(value, np.generic):
            return jsonable(value.item())
    except ImportError:  # pragma: no cover
        pass
    try:
        import sympy as sp

        if isinstance(value, sp.Basic):
            if value.is_Integer:
                return int(value)
            if value is sp.oo:
                return "inf"
            return str(value)
    except ImportError:  # pragma: no cover
        pass
    return str(value)


class Evidence:
    """Write-through record of one test's measurements (see module docstring)."""

    def __init__(self, user_properties: list):
        self._data: dict[str, Any] = {}
        user_properties.append((EVIDENCE_KEY, self._data))

    def record(self, **values: Any) -> None:
        for key, value in values.items():
            self._data[key] = jsonable(value)

    def count(self, key: str, n: int = 1) -> None:
        self._data[key] = self._data.get(key, 0) + int(n)

    def note_max(self, key: str, value: float) -> None:
        """Keep the largest value seen under ``key``; a NaN is kept as ``"nan"`` and never replaced."""
        old = self._data.get(key)
        if old == "nan":
            return
        if isinstance(value, float) and math.isnan(value):
            self._data[key] = "nan"
        elif old is None or float(value) > float(old):
            self._data[key] = jsonable(value)

    def inconclusive(self, reason: str) -> None:
        """End the test and mark its claim ``inconclusive`` (not a pass, not a failure)."""
        self._data[INCONCLUSIVE_KEY] = reason
        pytest.skip(f"inconclusive: {reason}")

    def as_dict(self) -> dict[str, Any]:
        return dict(self._data)

    def __repr__(self) -> str:
        return f"Evidence({sorted(self._data)})"
