"""n-gram lookup with a suffix or a prefix key (Jelassi et al. 2024's lookup tasks; issue #18 §2).

* :func:`ngram_lookup.build` -- SSM+FNN: the n-gram copier's memory over the string, queried by the
  n-gram after it (suffix) or by the n-gram broadcast from before it (prefix); exact wherever the
  continuation is unambiguous (:func:`constructions.tasks.ngram_lookup.continuation_ambiguous`).
"""

from . import ngram_lookup

__all__ = ["ngram_lookup"]
