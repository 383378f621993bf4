"""Real transcription-factor motif matrices (JASPAR), shipped as a small JSON file, and their scores.

**The file** (:data:`MOTIF_FILE`, ``jaspar_motifs.json``): position frequency matrices (counts per
column, rows ``A, C, G, T``) of seven transcription factors of the JASPAR 2024 CORE collection, one
per length 6..12 (MYB, TBP, CREB1, SP1, CEBPA, Irf1, Nrf1), with matrix ids, names, release, licence
(CC BY 4.0) and citation. It was written once by ``training/genomic/make_jaspar_motifs.py`` (a
developer script run in a throwaway venv with ``pyjaspar``; the suite never imports ``pyjaspar``).
:func:`load_motifs` validates it (:class:`MotifFileError` names the problem): the keys, four rows
of equal length 1..:data:`MAX_MOTIF_LENGTH`, finite non-negative counts, every column summing to the
matrix's site count within :data:`COLUMN_SUM_TOLERANCE`, distinct names and ids.

**Scores** (:class:`MotifMatrix`), integers so that the label rule is exact:

* frequencies with Biopython/JASPAR's pseudocount ``sqrt(N) / 4`` per base (``N`` the column's
  count): ``f[b, j] = (count[b, j] + sqrt(N_j) / 4) / (N_j + sqrt(N_j))``;
* integer log-odds against a uniform background, in hundredths of a bit:
  ``W[j, b] = round(100 log2(f[b, j] / 0.25))``; a window's score is ``sum_j W[j, x_j]``;
* the site threshold at background p-value ``p`` (:meth:`MotifMatrix.threshold`): the smallest
  integer ``t`` with ``P(score >= t) <= p`` for a window of i.i.d. uniform bases, from the exact
  distribution of the integer score (a convolution over the columns, no sampling).

Sites are sampled from the matrix's own column frequencies ``count / N`` (:meth:`MotifMatrix.sample`),
so every sampled site differs as the binding sites behind the matrix do.
"""

from __future__ import annotations

import functools
import json
import math
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import torch

from ..models import ConfigError
from .data import ALPHABET

#: the shipped matrices (``make_jaspar_motifs.py`` writes it)
MOTIF_FILE = Path(__file__).with_name("jaspar_motifs.json")

#: the longest matrix the loader accepts (the exact score distribution has at most ~10^4 points a column)
MAX_MOTIF_LENGTH = 16

#: relative spread allowed between a matrix's column sums (JASPAR's normalised matrices, e.g. SP1
#: MA0079.5, store counts rounded to 1e-6 of 1000 sites; HT-SELEX matrices that differ by percent
#: are refused)
COLUMN_SUM_TOLERANCE = 1e-3

#: integer score units per bit of log-odds
SCORE_SCALE = 100


class MotifFileError(ConfigError):
    """The motif file is missing, not JSON, or a matrix in it is malformed (the message says which)."""


@dataclass(frozen=True)
class MotifMatrix:
    """One JASPAR position frequency matrix: ``counts[b][j]`` for base ``b`` (``A, C, G, T``) at column ``j``."""

    matrix_id: str
    name: str
    counts: tuple[tuple[float, ...], ...]

    @property
    def length(self) -> int:
        return len(self.counts[0])

    def count_tensor(self) -> torch.Tensor:
        """``(4, m)`` float64 counts."""
        return torch.tensor(self.counts, dtype=torch.float64)

    def sampling_frequencies(self) -> torch.Tensor:
        """``(m, 4)``: the column frequencies ``count / N`` sites are sampled from."""
        c = self.count_tensor()
        return (c / c.sum(0)).T.contiguous()

    @functools.cached_property
    def weights(self) -> torch.Tensor:
        """``(m, 4)`` int64: the integer log-odds ``W[j, b]`` (module docstring)."""
        c = self.count_tensor()
        n = c.sum(0)
        f = (c + n.sqrt() / 4) / (n + n.sqrt())
        return torch.round(SCORE_SCALE * torch.log2(f / 0.25)).to(torch.int64).T.contiguous()

    def scores(self, tokens: torch.Tensor) -> torch.Tensor:
        """``(n, L - m + 1)`` int64: the score of every window of ``tokens (n, L)`` (``L >= m``)."""
        windows = tokens.unfold(1, self.length, 1)  # (n, W, m)
        W = self.weights.to(tokens.device)
        return W[torch.arange(self.length, device=tokens.device), windows].sum(-1)

    def threshold(self, p_value: float) -> int:
        """The smallest integer score ``t`` with ``P(score >= t) <= p_value`` under i.i.d. uniform bases."""
        return _threshold(self.weights.numpy().tobytes(), self.length, float(p_value))

    def best_score(self) -> int:
        return int(self.weights.max(1).values.sum())

    def sample(self, n: int, generator: torch.Generator) -> torch.Tensor:
        """``(n, m)`` int64 token ids: sites drawn column by column from :meth:`sampling_frequencies`."""
        probs = self.sampling_frequencies()  # (m, 4)
        u = torch.rand(n, self.length, 1, generator=generator, dtype=torch.float64)
        cumulative = probs.cumsum(1)
        cumulative[:, -1] = 1.0 + 1e-12
        return (u > cumulative.unsqueeze(0)).sum(-1)


@functools.lru_cache(maxsize=64)
def _threshold(weights: bytes, length: int, p_value: float) -> int:
    W = np.frombuffer(weights, dtype=np.int64).reshape(length, 4)
    low = int(W.min(1).sum())
    pmf = np.ones(1)
    for j in range(length):  # the exact distribution of sum_j W[j, x_j], offsets from the running minimum
        column = np.zeros(int(W[j].max() - W[j].min()) + 1)
        np.add.at(column, W[j] - W[j].min(), 0.25)
        pmf = np.convolve(pmf, column)
    tail = np.cumsum(pmf[::-1])[::-1]  # tail[i] = P(score >= low + i)
    ok = np.nonzero(tail <= p_value * (1 + 1e-12))[0]
    if not len(ok):  # pragma: no cover - tail[-1] = 4^-m > 0 always has a next integer with 0
        return low + len(pmf)
    return low + int(ok[0])


@dataclass(frozen=True)
class MotifSet:
    """The matrices of a motif file, with its release, licence and attribution."""

    release: str
    licence: str
    attribution: str
    motifs: tuple[MotifMatrix, ...]

    def __getitem__(self, key: str) -> MotifMatrix:
        """A matrix by TF name (``"CEBPA"``) or matrix id (``"MA0102.5"``)."""
        for m in self.motifs:
            if key in (m.name, m.matrix_id):
                return m
        raise ConfigError(f"no motif {key!r} in {self.release}; the file has "
                          f"{[f'{m.name} ({m.matrix_id})' for m in self.motifs]}")

    @property
    def names(self) -> tuple[str, ...]:
        return tuple(m.name for m in self.motifs)


def _matrix(i: int, entry) -> MotifMatrix:
    where = f"motif {i}"
    if not isinstance(entry, dict):
        raise MotifFileError(f"{where} must be an object, got {type(entry).__name__}")
    for key in ("matrix_id", "name"):
        if not isinstance(entry.get(key), str) or not entry[key]:
            raise MotifFileError(f"{where} needs a non-empty string {key!r}, got {entry.get(key)!r}")
    where = f"motif {entry['name']} ({entry['matrix_id']})"
    counts = entry.get("counts")
    if not isinstance(counts, dict) or sorted(counts) != sorted(ALPHABET):
        raise MotifFileError(f"{where}: counts must have exactly the rows {list(ALPHABET)}, got "
                             f"{sorted(counts) if isinstance(counts, dict) else type(counts).__name__}")
    rows = [counts[b] for b in ALPHABET]
    if not all(isinstance(r, list) for r in rows) or len({len(r) for r in rows}) != 1:
        raise MotifFileError(f"{where}: the four rows must be lists of one length, got lengths "
                             f"{[len(r) if isinstance(r, list) else None for r in rows]}")
    m = len(rows[0])
    if not 1 <= m <= MAX_MOTIF_LENGTH:
        raise MotifFileError(f"{where}: length {m} is outside 1..{MAX_MOTIF_LENGTH}")
    if not all(isinstance(c, (int, float)) and not isinstance(c, bool) and math.isfinite(c) and c >= 0
               for r in rows for c in r):
        raise MotifFileError(f"{where}: counts must be finite non-negative numbers")
    sums = [sum(r[j] for r in rows) for j in range(m)]
    if min(sums) <= 0 or (max(sums) - min(sums)) > COLUMN_SUM_TOLERANCE * max(sums):
        raise MotifFileError(f"{where}: every column must sum to the same positive count (within "
                             f"{COLUMN_SUM_TOLERANCE:g} relative), got column sums {min(sums)} .. {max(sums)}")
    return MotifMatrix(entry["matrix_id"], entry["name"], tuple(tuple(float(c) for c in r) for r in rows))


def parse_motifs(document) -> MotifSet:
    """A :class:`MotifSet` from the decoded JSON ``document``; :class:`MotifFileError` on a malformed one."""
    if not isinstance(document, dict):
        raise MotifFileError(f"a motif file holds a JSON object, got {type(document).__name__}")
    for key in ("release", "licence", "attribution"):
        if not isinstance(document.get(key), str) or not document[key]:
            raise MotifFileError(f"a motif file states its {key!r} (a non-empty string), got {document.get(key)!r}")
    entries = document.get("motifs")
    if not isinstance(entries, list) or not entries:
        raise MotifFileError("a motif file lists at least one matrix under 'motifs'")
    motifs = tuple(_matrix(i, e) for i, e in enumerate(entries))
    for key in ("name", "matrix_id"):
        values = [getattr(m, key) for m in motifs]
        if len(set(values)) != len(values):
            raise MotifFileError(f"the motif file repeats a {key}: {values}")
    return MotifSet(document["release"], document["licence"], document["attribution"], motifs)


@functools.lru_cache(maxsize=4)
def load_motifs(path: Path | str = MOTIF_FILE) -> MotifSet:
    """The validated matrices of ``path`` (default: the shipped JASPAR file)."""
    try:
        document = json.loads(Path(path).read_text(encoding="utf-8"))
    except OSError as error:
        raise MotifFileError(f"cannot read the motif file {path}: {error}") from error
    except json.JSONDecodeError as error:
        raise MotifFileError(f"the motif file {path} is not JSON: {error}") from error
    return parse_motifs(document)
