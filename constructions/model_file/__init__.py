"""Reading model files that nobody vouches for: bounded, typed, every problem named.

* :mod:`.limits` -- every limit a model file and ``python -m reports verify`` are held to, in one
  table (:data:`~.limits.LIMITS`), and the size and cost estimates they are checked against.
* :mod:`.containers` -- the two containers (safetensors, weights-only ``.pt``) read with every size
  checked before anything is allocated, and the dtype policy (what is converted to float64 exactly,
  what is refused).
* :mod:`.schema` -- the ``architecture`` and ``task`` JSON checked against the format before any
  object is built from it.

:mod:`constructions.serialization` builds the network from what these hand it. Every problem raises
a subclass of :class:`~constructions.errors.ModelFileError` that names it.
"""
