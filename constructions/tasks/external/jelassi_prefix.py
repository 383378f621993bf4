"""Jelassi et al. 2024 ("Repeat After Me") prefix n-gram lookup: reader and writer (format ``jelassi-prefix``).

Format: one instance per line, ``$`` an n-gram ``g`` ``|`` the string ``s`` ``|`` the answer ``a`` (what
follows the first occurrence of ``g`` in ``s``) ``.``; letters as in ``jelassi-copy``, no spaces, trailing
``*`` dropped; ``n = len(g)`` (3 in their data; the reader's ``ngram``, if given, must match). Example
(two lines)::

    $ell|hellohelp|oh.
    $bca|abcab|b.

A line is the instance of ``NgramLookupConfig(alphabet, len(s), len(g), len(a), key="prefix")`` whose
tokens (``BOS g SEP s SEP a EOS``) are the line's (:mod:`.jelassi_lookup`: the map, the batches).

Errors (:class:`~constructions.errors.ExternalFormatError`, naming the line): a missing ``$`` or ``.``, a
number of ``|`` other than two, an empty n-gram or string, an n-gram of another length than ``ngram``, a
character outside the alphabet (named, with its column), an n-gram that does not occur in ``s``, an
answer longer than what follows its first occurrence, an answer that differs from it.
"""

from __future__ import annotations

from typing import Iterable, Iterator

from .common import DEFAULT_CHUNK_ROWS, External
from . import jelassi_lookup

FORMAT = "jelassi-prefix"
to_line = jelassi_lookup.to_line


def read(source, *, alphabet: int = 26, ngram: int | None = None, mapping: str = "full",
         chunk_rows: int = DEFAULT_CHUNK_ROWS) -> Iterator[External]:
    """Batches of :class:`~constructions.tasks.ngram_lookup.LookupBatch` (key ``"prefix"``)."""
    return jelassi_lookup.read("prefix", FORMAT, source, alphabet=alphabet, ngram=ngram, mapping=mapping, chunk_rows=chunk_rows)


def write(batches: Iterable[External], destination) -> None:
    """The instances as lines ``$g|s|a.`` in the order of their origin (a path or a text file)."""
    jelassi_lookup.write(batches, destination)
