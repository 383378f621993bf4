"""Transformer counterparts with explicit weights (PAPER.md §6): Jelassi et al.'s copying
Transformer and Zoology's attention solution of MQAR."""

from . import copy_jelassi, mqar_zoology
from .model import Block, Head, Transformer, TransformerResources

__all__ = ["copy_jelassi", "mqar_zoology", "Block", "Head", "Transformer", "TransformerResources"]
