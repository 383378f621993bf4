"""Associative recall constructions (Theorem 3.2 family; PAPER.md §4 G2, G3).

* :func:`outer_product.build` -- query last (AR and MQAR), one-hot tokens, outer-product memory:
  exact, width ``|K||V| + |K|`` (polynomial; the Hyena/H3 mechanism).
* :func:`binary_query_first.build` -- query first, binary codes, n-gram keys: exact, width and
  nonzeros ``O(n log |V|)``, weights in {0, +-1, +-2}.
* :func:`precision_route.build` -- query last, binary codes, all pairs packed into one memory
  channel: width ``O(log |V|)``, FNN depth ``N w + 2``, state precision ``2 N w`` bits.
"""

from . import binary_query_first, outer_product, precision_route

BUILDERS = {
    "outer-product": outer_product.build,
    "binary-query-first": binary_query_first.build,
    "precision-route": precision_route.build,
}
