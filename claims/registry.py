"""The claims registry: what the suite checks, where each statement comes from, how it is judged.

A claim is data validated against a schema (a misspelt field or an unknown provenance is an
error, as in mathlib's theorem lists). Checks link to claims with ``@pytest.mark.claim("id")``;
reports join the registry with the results of a run. Verdicts are never stored here: they come
from running the checks.

Provenance (PAPER.md): ``paper`` -- stated in the paper's abstract or quoted by its reviewers;
``summary`` -- known only from third-party summaries of the paper (neither the abstract nor a
reviewer's quotation); ``related`` -- another paper's exact result; ``reconstructed`` -- our precise
reading of a claim whose exact text is unavailable. A reconstruction is never presented as the
paper's wording.

Each record keeps apart the claim *as its source states it* (``stated``, in the source's terms and
no more precise than the source) and *how the suite checks it* (``checked_as``: the format, sizes,
thresholds and verdict rule of the operationalisation).
"""

from __future__ import annotations

import difflib
import re
from dataclasses import dataclass, fields
from typing import Iterable

from constructions.errors import RegistryError, UnknownClaimError

PROVENANCES = ("paper", "summary", "related", "reconstructed")
KINDS = ("exact", "bound", "scaling", "empirical")
VERDICTS = ("holds", "fails", "inconclusive", "not-run")
PAPER_CLAIMS = ("model", "C1", "C2", "C3", "C4", "C5", "C6", "limits")
ID_PATTERN = re.compile(r"^[a-z]+(\.[A-Za-z0-9]+(-[A-Za-z0-9]+)*)+$")


@dataclass(frozen=True)
class Claim:
    """One checkable statement.

    ``paper_claims`` groups it under PAPER.md §1's C1..C6 (or ``model`` / ``limits``);
    ``stated`` is the claim in its source's words (or, for ``reconstructed``, our statement of it);
    ``checked_as`` is what the checks test; ``expected`` is what the mathematics says the run should find (``--strict`` turns any other
    verdict into an error); ``notes`` records how the statement was sharpened and why.
    """

    id: str
    title: str
    stated: str  # the claim as its source states it
    checked_as: str  # the suite's operationalisation: format, sizes, thresholds, verdict rule
    provenance: str
    source: str
    kind: str
    paper_claims: tuple[str, ...]
    expected: str = "holds"
    notes: str = ""

    def __post_init__(self):
        if not ID_PATTERN.match(self.id):
            raise RegistryError(f"claim id {self.id!r} must look like 'family.name' (letters, digits, dashes)")
        for name in ("title", "stated", "checked_as", "source"):
            if not isinstance(getattr(self, name), str) or not getattr(self, name).strip():
                raise RegistryError(f"claim {self.id}: field {name!r} must be a non-empty string")
        for name, allowed in (("provenance", PROVENANCES), ("kind", KINDS), ("expected", VERDICTS[:3])):
            if getattr(self, name) not in allowed:
                raise RegistryError(f"claim {self.id}: {name} must be one of {allowed}, got {getattr(self, name)!r}")
        if not self.paper_claims or any(p not in PAPER_CLAIMS for p in self.paper_claims):
            raise RegistryError(f"claim {self.id}: paper_claims must be a non-empty subset of {PAPER_CLAIMS}")

    def to_dict(self) -> dict:
        return {f.name: (list(v) if isinstance(v := getattr(self, f.name), tuple) else v) for f in fields(self)}


def claim(**record) -> Claim:
    """Build a :class:`Claim` from a record, naming misspelt or missing fields clearly."""
    known = {f.name for f in fields(Claim)}
    unknown = set(record) - known
    if unknown:
        raise RegistryError(f"claim {record.get('id', '?')}: unknown field(s) {sorted(unknown)}; known: {sorted(known)}")
    record["paper_claims"] = tuple(record.get("paper_claims", ()))
    try:
        return Claim(**record)
    except TypeError as err:
        raise RegistryError(f"claim {record.get('id', '?')}: {err}") from None


class Registry:
    """An ordered, duplicate-free collection of claims."""

    def __init__(self, claims: Iterable[Claim]):
        self._claims: dict[str, Claim] = {}
        for c in claims:
            if c.id in self._claims:
                raise RegistryError(f"claim id {c.id!r} is registered twice")
            self._claims[c.id] = c

    def __iter__(self):
        return iter(self._claims.values())

    def __len__(self) -> int:
        return len(self._claims)

    def __contains__(self, claim_id: str) -> bool:
        return claim_id in self._claims

    def ids(self) -> list[str]:
        return list(self._claims)

    def get(self, claim_id: str) -> Claim:
        try:
            return self._claims[claim_id]
        except KeyError:
            close = difflib.get_close_matches(claim_id, self._claims, n=3)
            hint = f"; did you mean {', '.join(close)}?" if close else "; 'python -m reports --list' lists them"
            raise UnknownClaimError(f"unknown claim id {claim_id!r}{hint}") from None

    def select(self, claim_ids: Iterable[str] | None) -> list[Claim]:
        """The claims with these ids (all of them for ``None``), every id checked."""
        if claim_ids is None:
            return list(self)
        return [self.get(i) for i in dict.fromkeys(claim_ids)]


def load() -> Registry:
    """The suite's registry (:mod:`claims.catalogue`)."""
    from .catalogue import CATALOGUE

    return Registry(CATALOGUE)
