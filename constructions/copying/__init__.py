"""Input copying constructions (Theorem 3.1 family; PAPER.md §4 G4).

* :func:`fixed_length.build` -- one shift channel by ``n``: exact for strings of the length it was
  built for; its window grows with the length.
* :func:`ngram.build` -- Jelassi et al.'s n-gram lookup with SSM+FNN, through the shared feature
  memory of :mod:`constructions.selection`: any length, exact on strings without a repeated n-gram.
"""

from . import fixed_length, ngram
from .decoding import greedy_decode, greedy_decode_rerunning, teacher_forced

__all__ = ["fixed_length", "ngram", "greedy_decode", "greedy_decode_rerunning", "teacher_forced"]
