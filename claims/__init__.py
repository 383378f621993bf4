"""The registry of claims the suite checks, the evidence checks record, and growth verdicts."""

from .registry import KINDS, PROVENANCES, VERDICTS, Claim, Registry, claim, load

__all__ = [
    "KINDS",
    "PROVENANCES",
    "VERDICTS",
    "Claim",
    "Registry",
    "claim",
    "load",
]
