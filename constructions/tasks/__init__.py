"""Typed task formats with pure, seeded generators and direct reference answers."""

from .associative_recall import ARBatch, ARConfig, enumerate_instances, generate, reference_answers
from .sampling import as_generator, sample_distinct

__all__ = [
    "ARBatch",
    "ARConfig",
    "enumerate_instances",
    "generate",
    "reference_answers",
    "as_generator",
    "sample_distinct",
]
