"""Transformer counterparts with explicit weights (PAPER.md §6): Jelassi et al.'s copying
Transformer, Zoology's attention solution of MQAR, and binary-code attention for query-last AR /
MQAR and query-first AR (the counterparts of the SSM+FNN binary constructions, same formats), and
Jelassi's copier turned to suffix and prefix n-gram lookup (the counterparts of the SSM+FNN lookup)."""

from . import binary_attention, binary_query_first, copy_jelassi, lookup_prefix, lookup_suffix, mqar_zoology
from .model import Block, Head, Transformer, TransformerResources

__all__ = ["binary_attention", "binary_query_first", "copy_jelassi", "lookup_prefix", "lookup_suffix", "mqar_zoology", "Block", "Head", "Transformer", "TransformerResources"]
