"""Jelassi et al. 2024 ("Repeat After Me") suffix n-gram lookup: reader and writer (format ``jelassi-suffix``).

Format: one instance per line, ``$`` the string ``s`` ``|`` an n-gram ``g`` of ``s`` and the answer ``a``
(what follows the first occurrence of ``g`` in ``s``) ``.``; letters as in ``jelassi-copy``, no spaces,
trailing ``*`` dropped. ``g`` and ``a`` are not separated: ``n`` is the reader's ``ngram`` (default 3,
as in their data). Example (two lines, n = 3: ``g = ell``, ``a = oh``; ``g = bca``, ``a = b``)::

    $hellohelp|elloh.
    $abcab|bcab.

A line is the instance of
``NgramLookupConfig(alphabet, len(s), n, len(a), key="suffix")`` whose tokens (``BOS s SEP g a EOS``) are
the line's (:mod:`.jelassi_lookup`: the map, the batches).

Errors (:class:`~constructions.errors.ExternalFormatError`, naming the line): a missing ``$``, ``|`` or
``.``, more than one ``|``, an empty string, fewer than ``n`` letters after the ``|``, a character
outside the alphabet (named, with its column), an n-gram that does not occur in ``s``, an answer longer
than what follows its first occurrence, an answer that differs from it (the first differing character).
"""

from __future__ import annotations

from typing import Iterable, Iterator

from .common import DEFAULT_CHUNK_ROWS, External
from . import jelassi_lookup

FORMAT = "jelassi-suffix"
to_line = jelassi_lookup.to_line


def read(source, *, alphabet: int = 26, ngram: int = jelassi_lookup.DEFAULT_NGRAM, mapping: str = "full",
         chunk_rows: int = DEFAULT_CHUNK_ROWS) -> Iterator[External]:
    """Batches of :class:`~constructions.tasks.ngram_lookup.LookupBatch` (key ``"suffix"``)."""
    return jelassi_lookup.read("suffix", FORMAT, source, alphabet=alphabet, ngram=ngram, mapping=mapping, chunk_rows=chunk_rows)


def write(batches: Iterable[External], destination) -> None:
    """The instances as lines ``$s|ga.`` in the order of their origin (a path or a text file)."""
    jelassi_lookup.write(batches, destination)
