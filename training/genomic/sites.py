"""Synthetic DNA with planted JASPAR-sampled binding sites and decoys: the task of the genomic claim.

The data are **synthetic**: a synthetic background (i.i.d. uniform or a first-order Markov chain,
as in :mod:`~training.genomic.data`) with binding sites *sampled from real transcription-factor
matrices* (JASPAR 2024, :mod:`~training.genomic.motifs`) planted in it; never real genomic sequences.

**Classes.** Each class is one TF matrix ``c`` of :attr:`SiteConfig.classes`. A *site of class c* is
a window whose integer log-odds score under ``c`` reaches ``t_c``, the threshold at background
p-value :attr:`SiteConfig.site_p_value` (:meth:`~training.genomic.motifs.MotifMatrix.threshold`).

**One sequence** (:func:`generate_sites`): a class ``y`` (uniform); ``s`` sites of ``y``
(``s`` uniform in ``min_sites .. max_sites``), each drawn from ``y``'s column frequencies and
redrawn until it scores ``>= t_y`` (so every site differs); ``d`` decoys (``d`` uniform in
``0 .. max_decoys``), each, with equal chance, either

* a *near-motif*: a site of a class matrix ``c'`` (any class, ``y`` included) drawn as above, with
  ``decoy_mutations`` of its positions (chosen at random) set to that column's least likely base,
  redrawn until it scores below ``t_{c'}``; or
* a *site of another TF*: a draw from a matrix of :attr:`SiteConfig.decoys` (TFs that define no
  class), with no threshold;

all ``s + d`` items in random order at random non-overlapping places (stars and bars over the free
positions). **Label logic:** the label is ``y``; a sequence is redrawn (all of it) until the windows
that score as a site of *any* class are exactly its ``s`` planted sites of ``y`` -- no decoy, no
background window, no window across an item's edge scores as a site of any class. So the label is
the only class with a site, and decoys are below every class threshold by construction and check.

**Ground truth** (:class:`SiteData`): the planted sites' positions (:meth:`SiteData.motif_mask`,
the important tokens), the decoys' positions (:meth:`SiteData.decoy_mask`), every item's start,
kind and matrix. Everything is drawn in batched tensor operations from one seeded
``torch.Generator``: same ``(config, n, seed)``, same tensors.
"""

from __future__ import annotations

from dataclasses import dataclass

import torch

from ..models import ConfigError, require_int
from .data import _background, check_background
from .metrics import MAX_TOP_FRACTION
from .motifs import MotifMatrix, MotifSet, load_motifs

#: item kinds in :attr:`SiteData.kinds`
NONE, SITE, NEAR_MOTIF, OTHER_TF = 0, 1, 2, 3


@dataclass(frozen=True)
class SiteConfig:
    """The planted-site task (module docstring); validated on construction (:class:`ConfigError`).

    ``classes``/``decoys``: TF names (or matrix ids) in the motif file; ``top_k`` (``None``: the most
    positions sites can occupy, ``max_sites`` times the longest class matrix) is the ``k`` of the
    importance metrics and must be at most a quarter of ``length``. ``fixed_start``: one site, no
    decoys, always at this start (the fixed-position control).
    """

    length: int = 64
    classes: tuple[str, ...] = ("TBP", "CREB1")
    decoys: tuple[str, ...] = ("MYB", "SP1")
    min_sites: int = 1
    max_sites: int = 2
    max_decoys: int = 2
    decoy_mutations: int = 2
    site_p_value: float = 3e-4
    background: str = "uniform"
    transitions: tuple[tuple[float, ...], ...] | None = None
    fixed_start: int | None = None
    top_k: int | None = None

    def __post_init__(self):
        require_int("length", self.length, 2)
        motifs = self.motif_set()
        if not isinstance(self.classes, tuple) or len(self.classes) < 2 or len(set(self.classes)) != len(self.classes):
            raise ConfigError(f"classes must be a tuple of at least two distinct TF names, got {self.classes!r}")
        if not isinstance(self.decoys, tuple) or set(self.decoys) & set(self.classes):
            raise ConfigError(f"decoys must be a tuple of TFs that define no class, got {self.decoys!r}")
        for name in self.classes + self.decoys:
            motifs[name]  # noqa: B018 -- raises ConfigError naming the unknown TF
        require_int("min_sites", self.min_sites, 1)
        require_int("max_sites", self.max_sites, self.min_sites)
        require_int("max_decoys", self.max_decoys, 0)
        if not 0 < self.site_p_value < 1:
            raise ConfigError(f"site_p_value must lie in (0, 1), got {self.site_p_value!r}")
        check_background(self.background, self.transitions)
        shortest = min(m.length for m in self.class_matrices())
        require_int("decoy_mutations", self.decoy_mutations, 1)
        if self.decoy_mutations > shortest:
            raise ConfigError(f"decoy_mutations {self.decoy_mutations} exceeds the shortest class matrix ({shortest})")
        for m in self.class_matrices():
            if m.threshold(self.site_p_value) > m.best_score():
                raise ConfigError(f"no window scores as a site of {m.name} (length {m.length}) at p-value "
                                  f"{self.site_p_value:g}: its best 4^-{m.length} is rarer; choose a larger p-value")
        longest = max(m.length for m in self.class_matrices() + self.decoy_matrices())
        if (self.max_sites + self.max_decoys) * longest > self.length:
            raise ConfigError(f"{self.max_sites} sites and {self.max_decoys} decoys of up to {longest} bases do not "
                              f"fit in L = {self.length}")
        if self.top_k is not None:
            require_int("top_k", self.top_k, 1)
        if self.k / self.length > MAX_TOP_FRACTION:
            raise ConfigError(f"top_k / L = {self.k}/{self.length} exceeds {MAX_TOP_FRACTION}: uniform importance "
                              "would look sparse; lengthen the sequence or plant fewer sites")
        if self.fixed_start is not None:
            require_int("fixed_start", self.fixed_start, 0)
            if self.max_sites != 1 or self.max_decoys != 0:
                raise ConfigError("a fixed start plants one site and no decoy (max_sites=1, max_decoys=0)")
            if self.fixed_start > self.length - max(m.length for m in self.class_matrices()):
                raise ConfigError(f"fixed_start {self.fixed_start} leaves no room for a site in L = {self.length}")

    @staticmethod
    def motif_set() -> MotifSet:
        return load_motifs()

    def class_matrices(self) -> list[MotifMatrix]:
        return [self.motif_set()[c] for c in self.classes]

    def decoy_matrices(self) -> list[MotifMatrix]:
        return [self.motif_set()[c] for c in self.decoys]

    def thresholds(self) -> list[int]:
        return [m.threshold(self.site_p_value) for m in self.class_matrices()]

    @property
    def n_classes(self) -> int:
        return len(self.classes)

    @property
    def k(self) -> int:
        """The ``k`` of the importance metrics (:attr:`top_k` or ``max_sites`` x the longest class matrix)."""
        return self.top_k or self.max_sites * max(m.length for m in self.class_matrices())

    def describe(self) -> str:
        s = self.motif_set()
        return (f"synthetic DNA ({self.background} background, L = {self.length}) with {self.min_sites}-{self.max_sites} "
                f"planted sites sampled from {s.release} matrices ({', '.join(self.classes)}; p <= {self.site_p_value:g}) "
                f"and up to {self.max_decoys} decoys (near-motifs, {', '.join(self.decoys) or 'no'} sites); not real "
                "genomic sequences")


@dataclass
class SiteData:
    """Generated sequences with their ground truth (module docstring).

    ``tokens (n, L)``, ``labels (n,)``; per item slot ``j`` (``max_sites + max_decoys`` slots, unused
    ones ``kinds == NONE``): ``starts (n, J)`` (-1 when unused), ``lengths (n, J)``, ``kinds (n, J)``
    (``SITE``, ``NEAR_MOTIF``, ``OTHER_TF``), ``matrices (n, J)`` (index into ``classes`` for sites
    and near-motifs, into ``decoys`` for other TFs).
    """

    tokens: torch.Tensor
    labels: torch.Tensor
    starts: torch.Tensor
    lengths: torch.Tensor
    kinds: torch.Tensor
    matrices: torch.Tensor
    config: SiteConfig
    seed: int

    def _mask(self, kinds: tuple[int, ...]) -> torch.Tensor:
        positions = torch.arange(self.config.length, device=self.tokens.device).view(1, 1, -1)
        offset = positions - self.starts.unsqueeze(-1)  # (n, J, L)
        use = torch.isin(self.kinds, torch.tensor(kinds, device=self.kinds.device)).unsqueeze(-1)
        return (use & (offset >= 0) & (offset < self.lengths.unsqueeze(-1))).any(1)

    def motif_mask(self) -> torch.Tensor:
        """Bool ``(n, L)``: the planted sites' positions (the ground-truth important tokens)."""
        return self._mask((SITE,))

    def decoy_mask(self) -> torch.Tensor:
        """Bool ``(n, L)``: the decoys' positions."""
        return self._mask((NEAR_MOTIF, OTHER_TF))

    def site_counts(self) -> torch.Tensor:
        return (self.kinds == SITE).sum(1)

    def to(self, device) -> SiteData:
        moved = [t.to(device) for t in (self.tokens, self.labels, self.starts, self.lengths, self.kinds, self.matrices)]
        return SiteData(*moved, self.config, self.seed)

    def __len__(self) -> int:
        return self.tokens.shape[0]


def _draw_sites(matrix: MotifMatrix, n: int, threshold: int, generator: torch.Generator, above: bool) -> torch.Tensor:
    """``(n, m)`` sites of ``matrix`` scoring ``>= threshold`` (``above``), by batched rejection."""
    out, have = [], 0
    for _ in range(1000):
        if have >= n:
            break
        x = matrix.sample(max(2 * (n - have), 64), generator)
        x = x[(matrix.scores(x)[:, 0] >= threshold) == above]
        out.append(x)
        have += len(x)
    else:  # pragma: no cover - thresholds are validated reachable
        raise ConfigError(f"could not draw {n} sites of {matrix.name} at score >= {threshold}")
    return torch.cat(out)[:n]


def _near_motifs(matrix: MotifMatrix, n: int, threshold: int, mutations: int, generator: torch.Generator):
    """``(n, m)`` near-motifs: sites with ``mutations`` random positions set to the column's least likely
    base, kept when they score below ``threshold``."""
    out, have = [], 0
    worst = matrix.weights.argmin(1)  # (m,)
    for _ in range(1000):
        if have >= n:
            break
        x = _draw_sites(matrix, max(n - have, 16), threshold, generator, above=True)
        pick = torch.rand(len(x), matrix.length, generator=generator).argsort(1)[:, :mutations]
        x.scatter_(1, pick, worst[pick])
        x = x[matrix.scores(x)[:, 0] < threshold]
        out.append(x)
        have += len(x)
    else:  # pragma: no cover
        raise ConfigError(f"could not mutate sites of {matrix.name} below its threshold")
    return torch.cat(out)[:n]


def _draw(config: SiteConfig, n: int, generator: torch.Generator):
    L, S, D = config.length, config.max_sites, config.max_decoys
    J = S + D
    classes, decoys, thresholds = config.class_matrices(), config.decoy_matrices(), config.thresholds()
    width = max(m.length for m in classes + decoys)
    tokens = _background(config, n, generator)
    labels = torch.randint(0, len(classes), (n,), generator=generator)
    n_sites = torch.randint(config.min_sites, S + 1, (n,), generator=generator)
    n_decoys = torch.randint(0, D + 1, (n,), generator=generator)
    slot = torch.arange(J)
    kinds = torch.where(slot < S, torch.where(slot < n_sites.unsqueeze(1), SITE, NONE),
                        torch.where(slot - S < n_decoys.unsqueeze(1), NEAR_MOTIF, NONE))  # (n, J)
    other = torch.rand(n, J, generator=generator) < (0.5 if decoys else 0.0)
    kinds = torch.where((kinds == NEAR_MOTIF) & other, OTHER_TF, kinds)
    matrices = torch.where(kinds == SITE, labels.unsqueeze(1), torch.randint(0, len(classes), (n, J), generator=generator))
    if decoys:
        matrices = torch.where(kinds == OTHER_TF, torch.randint(0, len(decoys), (n, J), generator=generator), matrices)
    content = torch.zeros(n, J, width, dtype=torch.int64)
    lengths = torch.zeros(n, J, dtype=torch.int64)
    for kind, family in ((SITE, classes), (NEAR_MOTIF, classes), (OTHER_TF, decoys)):
        for i, matrix in enumerate(family):
            where = (kinds == kind) & (matrices == i)
            count = int(where.sum())
            if not count:
                continue
            if kind == SITE:
                drawn = _draw_sites(matrix, count, thresholds[i], generator, above=True)
            elif kind == NEAR_MOTIF:
                drawn = _near_motifs(matrix, count, thresholds[i], config.decoy_mutations, generator)
            else:
                drawn = matrix.sample(count, generator)
            content[where, : matrix.length] = drawn
            lengths[where] = matrix.length
    # places: items in random order, the free positions split at random (stars and bars)
    order = torch.rand(n, J, generator=generator).argsort(1)
    ordered = lengths.gather(1, order)
    free = L - lengths.sum(1)  # (n,)
    gaps = (torch.rand(n, J, generator=generator, dtype=torch.float64) * (free + 1).unsqueeze(1)).floor().long()
    gaps = gaps.sort(1).values
    ordered_starts = gaps + ordered.cumsum(1) - ordered
    starts = torch.empty_like(ordered_starts).scatter_(1, order, ordered_starts)
    if config.fixed_start is not None:
        starts = torch.full_like(starts, config.fixed_start)
    starts = torch.where(kinds == NONE, -1, starts)
    columns = starts.unsqueeze(-1) + torch.arange(width)  # (n, J, width)
    used = torch.arange(width) < lengths.unsqueeze(-1)
    rows = torch.arange(n).view(n, 1, 1).expand_as(columns)
    tokens[rows[used], columns[used]] = content[used]
    return tokens, labels, starts, lengths, kinds, matrices


def _rows_as_labelled(config: SiteConfig, tokens, labels, starts, kinds) -> torch.Tensor:
    """Bool ``(n,)``: the windows scoring as a site of any class are exactly the planted sites."""
    ok = torch.ones(len(tokens), dtype=torch.bool)
    for c, (matrix, t) in enumerate(zip(config.class_matrices(), config.thresholds())):
        hits = matrix.scores(tokens) >= t  # (n, W)
        planted = torch.zeros_like(hits)
        mine = (kinds == SITE) & (labels.unsqueeze(1) == c)
        rows = torch.arange(len(tokens)).unsqueeze(1).expand_as(starts)
        planted[rows[mine], starts[mine]] = True
        ok &= (hits == planted).all(1)
    return ok


def generate_sites(config: SiteConfig, n: int, seed: int, max_rounds: int = 1000) -> SiteData:
    """``n`` sequences of the planted-site task, pure in ``(config, n, seed)`` (module docstring).

    Rows whose windows do not score exactly as labelled are redrawn whole, at most ``max_rounds``
    times (:class:`ConfigError` then: the threshold is too lax for the length).
    """
    require_int("n", n, 1)
    generator = torch.Generator().manual_seed(seed)
    tokens, labels, starts, lengths, kinds, matrices = _draw(config, n, generator)
    pending = torch.arange(n)
    for _ in range(max_rounds):
        bad = pending[~_rows_as_labelled(config, tokens[pending], labels[pending], starts[pending], kinds[pending])]
        if not len(bad):
            return SiteData(tokens, labels, starts, lengths, kinds, matrices, config, seed)
        redrawn = _draw(config, len(bad), generator)
        for whole, part in zip((tokens, labels, starts, lengths, kinds, matrices), redrawn):
            whole[bad] = part
        pending = bad
    raise ConfigError(f"after {max_rounds} redraws some sequences still hold a window scoring as an unplanted site; "
                      f"site_p_value {config.site_p_value:g} is too lax for L = {config.length}")
