"""Readers and writers for the field's data formats (issue #18 §1): each returns the suite's own typed
config and instances, with the map from the file's tokens to the suite's ids recorded.

======================  ===================================================  ====================================
format                  module                                               instances
======================  ===================================================  ====================================
``zoology-mqar``        :mod:`.zoology_mqar` (Zoology's ``inputs``/``labels``)  ``ScatteredARBatch`` (queries anywhere)
``jelassi-copy``        :mod:`.jelassi_copy` (``$s|s.`` lines)                  ``CopyBatch``
``jelassi-suffix``      :mod:`.jelassi_suffix` (``$s|ga.`` lines)               ``LookupBatch`` (key ``suffix``)
``jelassi-prefix``      :mod:`.jelassi_prefix` (``$g|s|a.`` lines)              ``LookupBatch`` (key ``prefix``)
``ar-text``             :mod:`.ar_text` (``t4a2c4o1k2c4`` lines)                ``ARBatch`` (query last)
======================  ===================================================  ====================================

Every reader is ``read(source, *, mapping=..., chunk_rows=...) -> Iterator[External]`` (batches of at most
``chunk_rows`` instances, bounded memory) and every writer ``write(batches, destination)``; bad records
raise :class:`~constructions.errors.ExternalFormatError` naming the line or row.
"""

from . import ar_text, jelassi_copy, jelassi_prefix, jelassi_suffix, zoology_mqar
from .common import LIMITS, External, TokenMap

FORMATS = {module.FORMAT: module for module in (zoology_mqar, jelassi_copy, jelassi_suffix, jelassi_prefix, ar_text)}

__all__ = ["FORMATS", "LIMITS", "External", "TokenMap", "ar_text", "jelassi_copy", "jelassi_prefix", "jelassi_suffix", "zoology_mqar"]
