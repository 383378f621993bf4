"""The genomic experiment of ``experiment.genomic-sparsity`` (claim C6a, known from summaries of the paper), on synthetic DNA.

**Claim** (summaries of the paper, C6a): on genomic (DNA) classification, the tokens that matter for a trained
SSM+FNN's decision are *sparse* (few positions carry the importance) and *input-dependent* (which
positions they are changes from one sequence to the next) -- the dynamic token selection the
paper's theorems are about.

**Data: synthetic, not the paper's.** No installed Python package ships real genomic sequences
(and nothing may be downloaded at run time), so the sequences are generated
(:func:`generate`): a background over ``A, C, G, T`` (i.i.d. uniform, or a first-order Markov
chain) with one class-defining motif planted once per sequence at a uniformly random start
(or, for the control, at a fixed start). A sequence is redrawn until the planted motif is the only
occurrence of *any* class motif in it, so the ground-truth important positions (the planted
window) are known for every sequence.

**Model.** :class:`~training.models.SSMFNN` on token ids (``input="tokens"``), read out at the last
position, trained with cross entropy (:func:`run_experiment`, on one CPU thread: these models are
tiny and more threads only contend).

**Importance** of position ``t`` for input ``x`` with true class ``y``, for the class *margin*
``s(x) = logit_y(x) - logsumexp_{c != y} logit_c(x)`` at the last position (unlike the
probability it does not saturate for confident predictions):

* occlusion (:func:`occlusion_importance`): ``s(x) - mean_b s(x with x_t := b)`` over the
  ``|V| - 1`` other bases ``b`` -- every substitution stays a valid DNA sequence; all ``L (|V|-1)``
  variants of a sequence go through the model in batched forward passes;
* gradient x input (:func:`gradient_input_importance`): ``<d s / d e_t, e_t>`` with ``e_t`` the
  embedded token (the output of ``model.embed``, captured by a forward hook), summed over the
  embedding dimension; one backward pass per batch.

**Metrics** (all batched), with ``k`` the motif length:

* sparsity (:func:`top_k_share`): the share of the total ``|importance|`` held by the ``k`` most
  important positions; importance spread uniformly gives ``k / L``;
* input dependence (:func:`top_k_overlap`): the mean Jaccard overlap of the top-``k`` position
  sets over all pairs of inputs; a model that always uses the same positions gives 1, independent
  random sets about ``k / (2L - k)``;
* agreement with the ground truth (:func:`motif_agreement`): the share of the top-``k`` positions
  that lie inside the planted motif (about ``k / L`` by chance).

**Verdict** (:func:`verdict`): ``inconclusive`` unless the test accuracy reaches
:data:`ACCURACY_MIN`; then ``holds`` when, for both importance measures, the mean top-``k`` share
reaches :data:`SPARSE_MIN_SHARE` and the mean top-``k`` overlap is at most
:data:`INPUT_DEPENDENT_MAX_OVERLAP`; otherwise ``fails`` (accurate, but importance is spread or
tied to fixed positions). The hand-built :class:`MotifScanner` (its important positions are known
exactly) gives ``holds`` on random-position data and ``fails`` on fixed-position data (tests of
the measures and the rule, ``tests/test_genomic.py``).

**Over seeds** (:func:`seeds_verdict`, what the check decides): one training run is one draw, and
the gradient x input share of the quick setup sits near the threshold (0.45-0.59 over seeds 0-5), so
the claim is judged on the seeds whose model learned (accuracy >= :data:`ACCURACY_MIN`), by 95%
Student-t intervals of the per-seed means, two-sided (:func:`claims.statistics.side_verdict`):
``holds`` when for both measures the share interval lies at or above :data:`SPARSE_MIN_SHARE` and the
overlap interval at or below :data:`INPUT_DEPENDENT_MAX_OVERLAP`; ``fails`` when one interval lies
wholly on the wrong side; ``inconclusive`` otherwise, or when fewer than two seeds learned.
"""

from __future__ import annotations

import math
import time
from dataclasses import asdict, dataclass, field

import torch
import torch.nn.functional as F
from torch import nn

from claims.statistics import mean_interval, side_verdict
from constructions.errors import ShapeError, TokenRangeError
from constructions.threads import one_thread

from .models import (
    SSMFNN,
    ConfigError,
    SSMFNNConfig,
    count_parameters,
    require_int,
    require_option,
)
from .trainer import TrainConfig, accuracy, set_seed, train

ALPHABET = "ACGT"
BACKGROUNDS: tuple[str, ...] = ("uniform", "markov")
MEASURES: tuple[str, ...] = ("occlusion", "gradient_input")

#: A GC-rich first-order Markov chain (rows: previous base A, C, G, T; columns: next base); the
#: ``"markov"`` background. Any row-stochastic 4 x 4 matrix may be given instead.
GC_RICH_TRANSITIONS: tuple[tuple[float, ...], ...] = (
    (0.20, 0.30, 0.30, 0.20),
    (0.15, 0.35, 0.35, 0.15),
    (0.15, 0.35, 0.35, 0.15),
    (0.20, 0.30, 0.30, 0.20),
)

#: Test accuracy a model must reach before its importance is judged. Chance is ``1 / classes``
#: (0.5 for two); below 0.9 the model has not learned to find the motif in a tenth of the inputs
#: or more, and what it attends to says nothing about the task: the verdict is ``inconclusive``.
ACCURACY_MIN = 0.9

#: Mean share of ``|importance|`` the top-``k`` positions must hold for importance to count as
#: sparse. ``k`` positions are a ``k / L`` fraction of the sequence (at most
#: :data:`MAX_TOP_FRACTION`, so uniform importance gives at most a quarter); requiring that they
#: carry at least half of the total means importance is concentrated at least twice -- at the
#: quick scale (``k / L = 6 / 96``) eight times -- beyond uniform.
SPARSE_MIN_SHARE = 0.5

#: Mean pairwise Jaccard overlap of top-``k`` sets at or below which importance counts as
#: input-dependent. A model that always uses the same positions gives 1; independent random sets
#: give about ``k / (2L - k)`` (0.05 at the quick scale). A model that picks its ``k`` positions
#: among a fixed window of ``w`` positions (e.g. the last few, as a recency-weighted SSM does)
#: gives about ``k / (2w - k)``: 0.5 for ``w = 1.5 k``. At most 0.25 asks for top positions that
#: range, across inputs, at least as widely as random picks from a window of ``2.5 k`` positions:
#: importance that moves with the input, not a fixed neighbourhood of a motif's size.
INPUT_DEPENDENT_MAX_OVERLAP = 0.25

#: ``k / L`` above which the sparsity metric cannot separate concentrated from uniform importance
#: (uniform importance would already pass :data:`SPARSE_MIN_SHARE` at ``k / L = 1/2``).
MAX_TOP_FRACTION = 0.25


# ----------------------------------------------------------------------------- data
def encode(sequence: str) -> torch.Tensor:
    """``"ACGT..."`` -> token ids ``(len,)`` int64 (A=0, C=1, G=2, T=3); other letters raise."""
    bad = sorted(set(sequence) - set(ALPHABET))
    if bad:
        raise TokenRangeError(f"DNA sequences use the letters {ALPHABET}; got {bad} in {sequence!r}")
    return torch.tensor([ALPHABET.index(ch) for ch in sequence], dtype=torch.int64)


def decode(tokens: torch.Tensor) -> str:
    """Token ids ``(len,)`` -> ``"ACGT..."``."""
    check_tokens(tokens.reshape(1, -1))
    return "".join(ALPHABET[int(t)] for t in tokens.reshape(-1))


def check_tokens(tokens: torch.Tensor, vocab_size: int = len(ALPHABET)) -> None:
    """Raise unless ``tokens`` are integer ids ``(batch, L)`` in ``[0, vocab_size)``."""
    if not isinstance(tokens, torch.Tensor) or tokens.dim() != 2 or tokens.dtype not in (torch.int32, torch.int64):
        raise ShapeError(f"tokens must be integer ids of shape (batch, L), got "
                         f"{getattr(tokens, 'dtype', type(tokens).__name__)} {tuple(getattr(tokens, 'shape', ()))}")
    if tokens.numel() and (int(tokens.min()) < 0 or int(tokens.max()) >= vocab_size):
        raise TokenRangeError(f"token ids must lie in [0, {vocab_size}), got range "
                              f"[{int(tokens.min())}, {int(tokens.max())}]")


@dataclass(frozen=True)
class GenomicConfig:
    """Synthetic planted-motif DNA classification; validated on construction (:class:`ConfigError`).

    ``length``: L. ``motifs``: one motif per class (strings over ``ACGT``, all of one length ``m``,
    distinct). ``background``: ``"uniform"`` (i.i.d. bases) or ``"markov"`` (first-order chain with
    ``transitions``, default :data:`GC_RICH_TRANSITIONS`; the first base uniform).
    ``fixed_start``: ``None`` (the motif's start is uniform over ``0 .. L - m``, the experiment) or
    a start used for every sequence (the fixed-position control).
    """

    length: int = 96
    motifs: tuple[str, ...] = ("TATAAT", "CAGCTG")
    background: str = "uniform"
    transitions: tuple[tuple[float, ...], ...] | None = None
    fixed_start: int | None = None

    def __post_init__(self):
        require_int("length", self.length, 2)
        if not isinstance(self.motifs, tuple) or len(self.motifs) < 2:
            raise ConfigError(f"motifs must be a tuple of at least two motifs (one per class), got {self.motifs!r}")
        for motif in self.motifs:
            if not isinstance(motif, str) or not motif or set(motif) - set(ALPHABET):
                raise ConfigError(f"a motif must be a non-empty string over {ALPHABET}, got {motif!r}")
        if len({len(m) for m in self.motifs}) != 1 or len(set(self.motifs)) != len(self.motifs):
            raise ConfigError(f"motifs must be distinct and of one length, got {self.motifs!r}")
        if self.motif_length > self.length:
            raise ConfigError(f"motif length {self.motif_length} exceeds the sequence length {self.length}")
        require_option("background", self.background, BACKGROUNDS)
        if self.transitions is not None:
            P = torch.tensor(self.transitions, dtype=torch.float64)
            if P.shape != (4, 4) or (P < 0).any() or not torch.allclose(P.sum(1), torch.ones(4, dtype=torch.float64)):
                raise ConfigError(f"transitions must be a row-stochastic 4 x 4 matrix, got {self.transitions!r}")
        if self.fixed_start is not None:
            require_int("fixed_start", self.fixed_start, 0)
            if self.fixed_start > self.length - self.motif_length:
                raise ConfigError(f"fixed_start {self.fixed_start} leaves no room for a motif of length "
                                  f"{self.motif_length} in L = {self.length}")

    @property
    def motif_length(self) -> int:
        return len(self.motifs[0])

    @property
    def classes(self) -> int:
        return len(self.motifs)

    def motif_tokens(self) -> torch.Tensor:
        """``(classes, m)`` int64 token ids of the motifs."""
        return torch.stack([encode(m) for m in self.motifs])


@dataclass
class GenomicData:
    """Generated sequences with their ground truth.

    ``tokens: (n, L)`` int64 ids, ``labels: (n,)`` classes, ``starts: (n,)`` planted motif starts;
    ``config`` and ``seed`` say how they were made.
    """

    tokens: torch.Tensor
    labels: torch.Tensor
    starts: torch.Tensor
    config: GenomicConfig
    seed: int

    def motif_mask(self) -> torch.Tensor:
        """Bool ``(n, L)``: the planted motif's positions (the ground-truth important tokens)."""
        positions = torch.arange(self.config.length, device=self.starts.device)
        offset = positions.unsqueeze(0) - self.starts.unsqueeze(1)
        return (offset >= 0) & (offset < self.config.motif_length)

    def to(self, device) -> GenomicData:
        return GenomicData(self.tokens.to(device), self.labels.to(device), self.starts.to(device), self.config, self.seed)

    def __len__(self) -> int:
        return self.tokens.shape[0]


def _background(config: GenomicConfig, n: int, generator: torch.Generator) -> torch.Tensor:
    if config.background == "uniform":
        return torch.randint(0, 4, (n, config.length), generator=generator)
    P = torch.tensor(config.transitions or GC_RICH_TRANSITIONS, dtype=torch.float64)
    out = torch.empty(n, config.length, dtype=torch.int64)
    out[:, 0] = torch.randint(0, 4, (n,), generator=generator)
    uniforms = torch.rand(config.length, n, 1, generator=generator, dtype=torch.float64)
    cumulative = P.cumsum(1)  # (4, 4)
    cumulative[:, -1] = 1.0 + 1e-12
    for t in range(1, config.length):  # vectorised over the n sequences
        out[:, t] = torch.searchsorted(cumulative[out[:, t - 1]], uniforms[t]).squeeze(1)
    return out


def motif_occurrences(tokens: torch.Tensor, motifs: torch.Tensor) -> torch.Tensor:
    """Bool ``(n, L - m + 1, classes)``: whether motif ``c`` starts at each window of each sequence."""
    windows = tokens.unfold(1, motifs.shape[1], 1)  # (n, L - m + 1, m)
    return (windows.unsqueeze(2) == motifs.to(tokens.device)).all(-1)


def _plant(config: GenomicConfig, n: int, generator: torch.Generator):
    tokens = _background(config, n, generator)
    labels = torch.randint(0, config.classes, (n,), generator=generator)
    m = config.motif_length
    if config.fixed_start is None:
        starts = torch.randint(0, config.length - m + 1, (n,), generator=generator)
    else:
        starts = torch.full((n,), config.fixed_start, dtype=torch.int64)
    columns = starts.unsqueeze(1) + torch.arange(m)  # (n, m)
    tokens.scatter_(1, columns, config.motif_tokens()[labels])
    return tokens, labels, starts


def generate(config: GenomicConfig, n: int, seed: int, max_rounds: int = 1000) -> GenomicData:
    """``n`` sequences, pure in ``(config, n, seed)``: same arguments, same tensors.

    Each sequence: background, a class drawn uniformly, its motif written at the start; redrawn
    (background, class and start together) until it contains exactly one occurrence of any class
    motif -- the planted one. ``max_rounds`` bounds the redraws (a motif the background almost
    always contains, e.g. a one-letter motif in a long sequence, raises :class:`ConfigError`).

    Example (``length=12, motifs=("TATA", "CGCG")``): label 1, start 5 ->
    ``"GATTA" + "CGCG" + "AAT"``: positions 5..8 are the important ones.
    """
    require_int("n", n, 1)
    generator = torch.Generator().manual_seed(seed)
    motifs = config.motif_tokens()
    tokens, labels, starts = _plant(config, n, generator)
    pending = torch.arange(n)  # rows not yet checked
    for _ in range(max_rounds):
        bad = pending[motif_occurrences(tokens[pending], motifs).sum((1, 2)) != 1]
        if not len(bad):
            return GenomicData(tokens, labels, starts, config, seed)
        tokens[bad], labels[bad], starts[bad] = _plant(config, len(bad), generator)
        pending = bad
    raise ConfigError(f"after {max_rounds} redraws some sequences still contain a second motif occurrence; "
                      f"the motifs {config.motifs} are too likely in a background of length {config.length}")


# ----------------------------------------------------------------------------- hand-built models
def one_hot_embedding(vocab_size: int = len(ALPHABET)) -> nn.Embedding:
    """A frozen ``nn.Embedding`` whose rows are the one-hot codes (``e_t`` is the token's indicator)."""
    embed = nn.Embedding(vocab_size, vocab_size)
    embed.weight.data.copy_(torch.eye(vocab_size))
    embed.weight.requires_grad_(False)
    return embed


class MotifScanner(nn.Module):
    """A hand-built detector whose important positions are known exactly (controls).

    ``logit_c(x) = relu(max_w matches_c(x, w) - (m - 1))`` at every position, ``matches_c(x, w)``
    the number of positions where motif ``c`` agrees with ``x`` in window ``w``: 1 when motif ``c``
    occurs, else 0. On :func:`generate`'s data it is always right; the true class's margin has
    gradient only at the planted window (``<grad, e_t> = 1`` there, 0 elsewhere) and occluding a
    planted base drops it by 1, any other base by at most 1/3. ``inputs (batch, L)`` ->
    ``(batch, L, classes)`` (the same logits at every position, like a model read at the last one).
    """

    def __init__(self, motifs: torch.Tensor):
        super().__init__()
        self.embed = one_hot_embedding()
        self.register_buffer("motifs", F.one_hot(motifs, len(ALPHABET)).float())  # (classes, m, 4)

    def forward(self, inputs: torch.Tensor) -> torch.Tensor:
        check_tokens(inputs)
        e = self.embed(inputs)  # (batch, L, 4)
        m = self.motifs.shape[1]
        windows = e.unfold(1, m, 1)  # (batch, L - m + 1, 4, m)
        matches = torch.einsum("bwvm,cmv->bwc", windows, self.motifs)
        logits = torch.relu(matches.max(1).values - (m - 1))  # (batch, classes)
        return logits.unsqueeze(1).expand(-1, inputs.shape[1], -1)


class PositionReader(nn.Module):
    """A hand-built model whose logits depend on the token at one fixed ``position`` only.

    ``logits = table[x_position]`` (``table: (V, classes)``, the embedded token's one-hot code times
    ``table``), the same at every output position. Its importance is known exactly: for the margin
    ``s``, ``<d s / d e_t, e_t> = s(x)`` at ``t = position`` and 0 elsewhere, and occluding any
    other position changes nothing.
    """

    def __init__(self, position: int, table: torch.Tensor):
        super().__init__()
        require_int("position", position, 0)
        self.position = position
        self.embed = one_hot_embedding(table.shape[0])
        self.register_buffer("table", table.float())

    def forward(self, inputs: torch.Tensor) -> torch.Tensor:
        check_tokens(inputs, self.table.shape[0])
        if self.position >= inputs.shape[1]:
            raise ShapeError(f"position {self.position} is outside sequences of length {inputs.shape[1]}")
        logits = self.embed(inputs)[:, self.position] @ self.table  # (batch, classes)
        return logits.unsqueeze(1).expand(-1, inputs.shape[1], -1)


class CompositionCounter(nn.Module):
    """A hand-built bag-of-bases model: ``logits = mean_t table[x_t]`` -- importance spread evenly.

    Every position contributes ``table[x_t] / L`` whatever its place, so its importance is as
    spread as base composition allows: the control for the sparsity metric. With ``table`` scoring
    A/T for class 0 and C/G for class 1 it is the composition shortcut of the default motifs
    (``TATAAT`` is A/T-rich, ``CAGCTG`` C/G-rich): better than chance, far from the motif detector.
    """

    def __init__(self, table: torch.Tensor):
        super().__init__()
        self.embed = one_hot_embedding(table.shape[0])
        self.register_buffer("table", table.float())

    def forward(self, inputs: torch.Tensor) -> torch.Tensor:
        check_tokens(inputs, self.table.shape[0])
        logits = self.embed(inputs).mean(1) @ self.table  # (batch, classes)
        return logits.unsqueeze(1).expand(-1, inputs.shape[1], -1)


#: ``CompositionCounter`` table for the default motifs: A and T vote class 0, C and G class 1.
AT_VERSUS_GC = ((1.0, -1.0), (-1.0, 1.0), (-1.0, 1.0), (1.0, -1.0))


# ----------------------------------------------------------------------------- importance
def class_margin(logits: torch.Tensor, labels: torch.Tensor) -> torch.Tensor:
    """``logit_y - logsumexp_{c != y} logit_c`` for ``logits (n, classes)``, ``labels (n,)`` -> ``(n,)``."""
    true = logits.gather(1, labels.unsqueeze(1)).squeeze(1)
    others = logits.masked_fill(F.one_hot(labels, logits.shape[1]).bool(), float("-inf"))
    return true - torch.logsumexp(others, dim=1)


def _check_importance_inputs(model: nn.Module, tokens: torch.Tensor, labels: torch.Tensor) -> int:
    vocab = model.embed.num_embeddings if isinstance(getattr(model, "embed", None), nn.Embedding) else None
    if vocab is None:
        raise ConfigError("token importance needs a model with an nn.Embedding called `embed`")
    check_tokens(tokens, vocab)
    if labels.dim() != 1 or labels.shape[0] != tokens.shape[0]:
        raise ShapeError(f"labels must have shape ({tokens.shape[0]},), got {tuple(labels.shape)}")
    return vocab


def _margin_at_last(model: nn.Module, tokens: torch.Tensor, labels: torch.Tensor) -> torch.Tensor:
    logits = model(tokens)[:, -1].float()  # (n, classes)
    if (labels < 0).any() or (labels >= logits.shape[1]).any():
        raise ShapeError(f"labels must lie in [0, {logits.shape[1]}), got range [{int(labels.min())}, {int(labels.max())}]")
    return class_margin(logits, labels)


@torch.no_grad()
def occlusion_importance(model: nn.Module, tokens: torch.Tensor, labels: torch.Tensor,
                         max_batch: int = 4096) -> torch.Tensor:
    """``(n, L)``: ``s(x) - mean_b s(x with x_t := b)`` over the ``V - 1`` other tokens ``b``.

    ``s`` is the class margin at the last position (module docstring). All ``L (V - 1)`` variants
    of a sequence are built at once and run in forward passes of at most ``max_batch`` sequences
    (whole sequences' variant sets per pass). The model is put in eval mode (restored after).
    """
    vocab = _check_importance_inputs(model, tokens, labels)
    n, L = tokens.shape
    device = next(model.buffers(), next(model.parameters(), None)).device
    tokens, labels = tokens.to(device), labels.to(device)
    was_training = model.training
    model.eval()
    try:
        shifts = torch.arange(1, vocab, device=device)  # the V - 1 substitutions b = x_t + j (mod V)
        diagonal = torch.eye(L, dtype=torch.bool, device=device)  # (variant position t, position)
        per_pass = max(1, max_batch // (L * (vocab - 1)))
        out = []
        for start in range(0, n, per_pass):
            x, y = tokens[start : start + per_pass], labels[start : start + per_pass]
            b = x.shape[0]
            substituted = (x.unsqueeze(1) + shifts.view(1, -1, 1)) % vocab  # (b, V-1, L)
            variants = torch.where(diagonal.view(1, L, 1, L), substituted.unsqueeze(1), x.view(b, 1, 1, L))
            occluded = _margin_at_last(model, variants.reshape(-1, L), y.repeat_interleave(L * (vocab - 1)))
            base = _margin_at_last(model, x, y)
            out.append(base.unsqueeze(1) - occluded.view(b, L, vocab - 1).mean(-1))
        return torch.cat(out)
    finally:
        model.train(was_training)


def gradient_input_importance(model: nn.Module, tokens: torch.Tensor, labels: torch.Tensor,
                              max_batch: int = 1024) -> torch.Tensor:
    """``(n, L)``: ``<d s / d e_t, e_t>``, ``e_t = model.embed(x)_t`` (summed over the embedding).

    A forward hook on ``model.embed`` swaps its output for a leaf tensor, so the gradient is taken
    with respect to the embedded tokens whatever the model's parameters require; one backward pass
    per chunk of ``max_batch`` sequences (each margin depends on its own sequence only, so the
    gradient of their sum gives every sequence's gradient). Eval mode, restored after.
    """
    _check_importance_inputs(model, tokens, labels)
    device = next(model.buffers(), next(model.parameters(), None)).device
    tokens, labels = tokens.to(device), labels.to(device)
    captured: list[torch.Tensor] = []

    def leaf(module, args, output):
        z = output.detach().requires_grad_(True)
        captured.append(z)
        return z

    was_training = model.training
    model.eval()
    handle = model.embed.register_forward_hook(leaf)
    try:
        out = []
        for start in range(0, tokens.shape[0], max_batch):
            captured.clear()
            with torch.enable_grad():
                margin = _margin_at_last(model, tokens[start : start + max_batch], labels[start : start + max_batch])
                (grad,) = torch.autograd.grad(margin.sum(), captured[0])
            out.append((grad * captured[0].detach()).sum(-1).float())
        return torch.cat(out)
    finally:
        handle.remove()
        model.train(was_training)


def importance(model: nn.Module, measure: str, tokens: torch.Tensor, labels: torch.Tensor) -> torch.Tensor:
    """``(n, L)`` importance by ``measure`` (``"occlusion"`` or ``"gradient_input"``)."""
    require_option("importance measure", measure, MEASURES)
    fn = occlusion_importance if measure == "occlusion" else gradient_input_importance
    return fn(model, tokens, labels)


# ----------------------------------------------------------------------------- metrics
def _check_scores(scores: torch.Tensor, k: int) -> None:
    if not isinstance(scores, torch.Tensor) or scores.dim() != 2 or not scores.is_floating_point():
        raise ShapeError(f"importance must be a float tensor (n, L), got "
                         f"{getattr(scores, 'dtype', type(scores).__name__)} {tuple(getattr(scores, 'shape', ()))}")
    if isinstance(k, bool) or not isinstance(k, int) or not 1 <= k <= scores.shape[1]:
        raise ConfigError(f"k must be an integer in [1, L = {scores.shape[1]}], got {k!r}")
    if not torch.isfinite(scores).all():
        raise ShapeError("importance contains non-finite values")


def top_k_mask(scores: torch.Tensor, k: int) -> torch.Tensor:
    """Bool ``(n, L)``: the ``k`` positions of largest ``|importance|`` of each row."""
    _check_scores(scores, k)
    idx = scores.abs().topk(k, dim=1).indices
    return torch.zeros_like(scores, dtype=torch.bool).scatter_(1, idx, True)


def top_k_share(scores: torch.Tensor, k: int) -> torch.Tensor:
    """``(n,)``: share of the row's total ``|importance|`` held by its top ``k`` positions.

    Uniform importance gives ``k / L``; so does an all-zero row (nothing stands out).
    """
    _check_scores(scores, k)
    a = scores.abs().double()
    total = a.sum(1)
    top = a.topk(k, dim=1).values.sum(1)
    uniform = torch.full_like(total, k / scores.shape[1])
    return torch.where(total > 0, top / total.clamp_min(1e-300), uniform)


def top_k_overlap(scores: torch.Tensor, k: int) -> float:
    """Mean Jaccard overlap ``|S_i & S_j| / |S_i | S_j|`` of the top-``k`` sets over all pairs ``i < j``.

    1 for a model that always uses the same positions; about ``k / (2L - k)`` for independent
    random sets. Needs at least two rows.
    """
    mask = top_k_mask(scores, k).double()
    n = mask.shape[0]
    if n < 2:
        raise ShapeError(f"an overlap across inputs needs at least two inputs, got {n}")
    return float(jaccard_matrix(mask)[torch.triu_indices(n, n, 1).unbind()].mean())


def jaccard_matrix(mask: torch.Tensor) -> torch.Tensor:
    """``(n, n)`` Jaccard overlaps of the rows of a 0/1 matrix ``(n, L)`` (empty pairs: 1)."""
    inter = mask @ mask.T
    sizes = mask.sum(1)
    union = sizes.unsqueeze(0) + sizes.unsqueeze(1) - inter
    return torch.where(union > 0, inter / union.clamp_min(1), torch.ones_like(inter))


def motif_agreement(scores: torch.Tensor, motif_mask: torch.Tensor, k: int) -> torch.Tensor:
    """``(n,)``: share of the top-``k`` positions that lie in the planted motif (``motif_mask (n, L)``)."""
    mask = top_k_mask(scores, k)
    if motif_mask.shape != scores.shape or motif_mask.dtype != torch.bool:
        raise ShapeError(f"motif_mask must be bool {tuple(scores.shape)}, got {motif_mask.dtype} {tuple(motif_mask.shape)}")
    return (mask & motif_mask.to(mask.device)).sum(1).double() / k


def random_overlap(length: int, k: int) -> float:
    """Expected Jaccard overlap of two independent uniformly random ``k``-subsets of ``L`` positions."""
    # E|S & T| = k^2 / L; the exact expectation of the ratio, by the hypergeometric law of |S & T|
    total = 0.0
    for i in range(max(0, 2 * k - length), k + 1):
        p = math.comb(k, i) * math.comb(length - k, k - i) / math.comb(length, k)
        total += p * i / (2 * k - i)
    return total


@dataclass
class ImportanceSummary:
    """The metrics of one importance measure on a set of inputs (all means over the inputs)."""

    measure: str
    k: int
    length: int
    top_k_share: float
    uniform_share: float
    top_k_overlap: float
    random_overlap: float
    motif_agreement: float | None
    chance_agreement: float | None

    def to_dict(self) -> dict:
        return asdict(self)


def summarize(measure: str, scores: torch.Tensor, k: int, motif_mask: torch.Tensor | None = None) -> ImportanceSummary:
    """:class:`ImportanceSummary` of importance ``scores (n, L)`` at ``k`` (``k / L <= 1/4``)."""
    _check_scores(scores, k)
    L = scores.shape[1]
    if k / L > MAX_TOP_FRACTION:
        raise ConfigError(f"k / L = {k}/{L} exceeds {MAX_TOP_FRACTION}: uniform importance would look sparse")
    agreement = None if motif_mask is None else float(motif_agreement(scores, motif_mask, k).mean())
    chance = None if motif_mask is None else float(motif_mask.sum(1).double().mean()) / L
    return ImportanceSummary(measure, k, L, float(top_k_share(scores, k).mean()), k / L, top_k_overlap(scores, k),
                             random_overlap(L, k), agreement, chance)


def is_sparse(summary: ImportanceSummary) -> bool:
    return summary.top_k_share >= SPARSE_MIN_SHARE


def is_input_dependent(summary: ImportanceSummary) -> bool:
    return summary.top_k_overlap <= INPUT_DEPENDENT_MAX_OVERLAP


def verdict(test_accuracy: float, summaries: list[ImportanceSummary]) -> tuple[str, str]:
    """``(verdict, reason)``: the rule of the module docstring, for every summary given."""
    if not summaries:
        raise ValueError("a verdict needs at least one importance summary")
    if not test_accuracy >= ACCURACY_MIN:
        return "inconclusive", (f"not learned: test accuracy {test_accuracy:.3f} < {ACCURACY_MIN}; "
                                "the importance of a model that has not learned the task says nothing")
    parts, failed = [], []
    for s in summaries:
        text = (f"{s.measure}: top-{s.k} share {s.top_k_share:.3f} (uniform {s.uniform_share:.3f}, "
                f"need >= {SPARSE_MIN_SHARE}), overlap {s.top_k_overlap:.3f} (random {s.random_overlap:.3f}, "
                f"need <= {INPUT_DEPENDENT_MAX_OVERLAP})")
        parts.append(text)
        if not is_sparse(s):
            failed.append(f"{s.measure} importance is spread")
        if not is_input_dependent(s):
            failed.append(f"{s.measure} importance sits at the same positions across inputs")
    head = f"test accuracy {test_accuracy:.3f}; " + "; ".join(parts)
    if failed:
        return "fails", f"{head}: " + ", ".join(failed)
    return "holds", head


def seeds_verdict(accuracies: list[float], summaries: list[list[ImportanceSummary]]) -> tuple[str, str, dict]:
    """``(verdict, reason, intervals)`` over training seeds (module docstring): ``accuracies[i]`` and
    ``summaries[i]`` (one per measure) of seed ``i``; intervals over the seeds that learned."""
    if len(accuracies) != len(summaries) or not summaries:
        raise ValueError("need one accuracy and one list of summaries per seed, at least one seed")
    learned = [run for acc, run in zip(accuracies, summaries) if acc >= ACCURACY_MIN]
    head = f"{len(learned)} of {len(accuracies)} seeds learned (test accuracy >= {ACCURACY_MIN})"
    if len(learned) < 2:
        return "inconclusive", f"{head}: an interval over seeds needs two", {}
    intervals, parts, wrong, undecided = {}, [], [], []
    for i, measure in enumerate(s.measure for s in learned[0]):
        share = mean_interval([run[i].top_k_share for run in learned])
        overlap = mean_interval([run[i].top_k_overlap for run in learned])
        intervals[measure] = {"top_k_share": vars(share), "top_k_overlap": vars(overlap)}
        parts.append(f"{measure}: top-{learned[0][i].k} share {share.mean:.3f} [{share.low:.3f}, {share.high:.3f}] "
                     f"(need >= {SPARSE_MIN_SHARE}), overlap {overlap.mean:.3f} [{overlap.low:.3f}, {overlap.high:.3f}] "
                     f"(need <= {INPUT_DEPENDENT_MAX_OVERLAP})")
        checks = (("share", "spread", side_verdict(share.low, share.high, SPARSE_MIN_SHARE, "above")),
                  ("overlap", "tied to the same positions",
                   side_verdict(overlap.low, overlap.high, INPUT_DEPENDENT_MAX_OVERLAP, "below")))
        for quantity, failure, decided in checks:
            if decided == "fails":
                wrong.append(f"{measure} importance is {failure}")
            elif decided == "inconclusive":
                undecided.append(f"the {measure} {quantity} interval reaches across its threshold")
    reason = f"{head}; " + "; ".join(parts)
    if wrong:
        return "fails", f"{reason}: " + ", ".join(wrong), intervals
    if undecided:
        return "inconclusive", f"{reason}: " + ", ".join(undecided), intervals
    return "holds", reason, intervals


# ----------------------------------------------------------------------------- experiment
@dataclass(frozen=True)
class GenomicSetup:
    """One run of the experiment: data, model and training sizes (the check's profiles)."""

    data: GenomicConfig = GenomicConfig(length=64)
    train_samples: int = 2048
    test_samples: int = 512
    explained_samples: int = 32
    width: int = 32
    state_size: int = 8
    layers: int = 2
    fnn_depth: int = 2
    fnn_hidden: int = 64
    ssm_kind: str = "dense"
    layer_norm: bool = False
    dt_min: float = 1e-2
    dt_max: float = 1.0
    steps: int = 300
    batch_size: int = 64
    lr: float = 1e-2
    seed: int = 0
    top_k_grid: tuple[int, ...] = (1, 2, 4, 6, 8, 12, 16, 24)

    def __post_init__(self):
        for name in ("train_samples", "test_samples", "steps", "batch_size"):
            require_int(name, getattr(self, name), 1)
        require_int("explained_samples", self.explained_samples, 2)

    def model_config(self) -> SSMFNNConfig:
        return SSMFNNConfig(input="tokens", vocab_size=len(ALPHABET), width=self.width, state_size=self.state_size,
                            layers=self.layers, fnn_depth=self.fnn_depth, fnn_hidden=self.fnn_hidden,
                            ssm_kind=self.ssm_kind, out_features=self.data.classes, layer_norm=self.layer_norm,
                            dt_min=self.dt_min,
                            dt_max=self.dt_max)

    def train_config(self) -> TrainConfig:
        return TrainConfig(steps=self.steps, batch_size=self.batch_size, lr=self.lr, seed=self.seed,
                           loss="cross_entropy", positions="last", warmup_steps=min(20, self.steps // 10),
                           eval_every=max(1, self.steps // 10))


@dataclass
class ModelReport:
    """What one model (trained or untrained) gave: accuracy, per-measure summaries, importance."""

    name: str
    test_accuracy: float
    summaries: dict[str, ImportanceSummary]
    scores: dict[str, torch.Tensor] = field(repr=False)
    top_k_curve: dict[str, list[float]] = field(default_factory=dict)

    def to_dict(self) -> dict:
        return {"name": self.name, "test_accuracy": self.test_accuracy,
                "summaries": {m: s.to_dict() for m, s in self.summaries.items()}, "top_k_curve": self.top_k_curve}


def explain(name: str, model: nn.Module, data: GenomicData, test_accuracy: float,
            k_grid: tuple[int, ...] = ()) -> ModelReport:
    """Both importance measures of ``model`` on ``data`` (true labels), their summaries at ``k = m``
    and the mean top-``k`` share for each ``k`` in ``k_grid`` (those ``<= L``)."""
    k = data.config.motif_length
    scores, summaries, curve = {}, {}, {}
    for measure in MEASURES:
        s = importance(model, measure, data.tokens, data.labels).cpu()
        scores[measure] = s
        summaries[measure] = summarize(measure, s, k, data.motif_mask().cpu())
        curve[measure] = [float(top_k_share(s, kk).mean()) for kk in k_grid if kk <= s.shape[1]]
    return ModelReport(name, test_accuracy, summaries, scores, curve)


@dataclass
class GenomicResult:
    """The experiment's outcome: both models' reports, the verdict, timings and setup; ``model`` is
    the trained network (not serialised)."""

    setup: GenomicSetup
    trained: ModelReport
    untrained: ModelReport
    explained: GenomicData
    verdict: str
    reason: str
    parameters: int
    train_seconds: float
    importance_seconds: float
    curve: list = field(default_factory=list)
    model: nn.Module | None = field(default=None, repr=False)

    def summary(self) -> dict:
        return {"setup": asdict(self.setup), "parameters": self.parameters, "verdict": self.verdict,
                "reason": self.reason, "trained": self.trained.to_dict(), "untrained": self.untrained.to_dict(),
                "train_seconds": round(self.train_seconds, 2), "importance_seconds": round(self.importance_seconds, 2),
                "learning_curve": self.curve, "data": "synthetic planted-motif DNA (training/genomic.py), "
                "not the paper's genomic data"}


def model_accuracy(model: nn.Module, data: GenomicData) -> float:
    return accuracy(model, (data.tokens, data.labels), positions="last")


def run_experiment(setup: GenomicSetup, device: torch.device | str = "cpu") -> GenomicResult:
    """Generate data, train the SSM+FNN, measure accuracy and importance (trained and untrained).

    On the CPU torch runs on one thread (restored after): the models are tiny, more threads only
    contend. Data and model live on ``device``.
    """
    device = torch.device(device)
    with one_thread(device):
        return _run(setup, device)


def _run(setup: GenomicSetup, device: torch.device) -> GenomicResult:
    train_data = generate(setup.data, setup.train_samples, seed=setup.seed * 1000 + 1).to(device)
    test_data = generate(setup.data, setup.test_samples, seed=setup.seed * 1000 + 2).to(device)
    explained = generate(setup.data, setup.explained_samples, seed=setup.seed * 1000 + 3).to(device)
    set_seed(setup.seed)
    untrained_model = SSMFNN(setup.model_config()).to(device)
    set_seed(setup.seed)
    model = SSMFNN(setup.model_config()).to(device)
    start = time.perf_counter()
    result = train(model, (train_data.tokens, train_data.labels), setup.train_config(),
                   eval_data=(test_data.tokens, test_data.labels))
    train_seconds = time.perf_counter() - start
    start = time.perf_counter()
    trained = explain("trained", model, explained, model_accuracy(model, test_data), setup.top_k_grid)
    untrained = explain("untrained", untrained_model, explained, model_accuracy(untrained_model, test_data),
                        setup.top_k_grid)
    importance_seconds = time.perf_counter() - start
    decision, reason = verdict(trained.test_accuracy, list(trained.summaries.values()))
    return GenomicResult(setup, trained, untrained, explained.to("cpu"), decision, reason, count_parameters(model),
                         train_seconds, importance_seconds, [list(c) for c in result.curve], model)


# ----------------------------------------------------------------------------- figures
def figure_specs(result: GenomicResult, inputs: int = 3) -> dict:
    """Report figures (``reports/figures.py`` format).

    * importance along the sequence for the first ``inputs`` explained sequences (trained model,
      each measure's ``|importance|`` scaled to a maximum of 1 and offset by the input's index),
      the planted motif's positions marked by a bar above the curves;
    * mean top-``k`` share against ``k`` for the trained and untrained model, both measures, with
      the uniform share ``k / L``.
    """
    data, L = result.explained, result.setup.data.length
    positions = list(range(L))
    along = {"name": "genomic-importance-along-sequence",
             "title": "Token importance along the sequence (trained SSM+FNN, synthetic DNA)",
             "xlabel": "position", "ylabel": "|importance| / max (offset by input)", "series": [],
             "note": f"bars above the curves: planted motif positions; L = {L}, motifs {list(result.setup.data.motifs)}"}
    for i in range(min(inputs, len(data))):
        for measure, style in (("occlusion", "-"), ("gradient_input", ":")):
            a = result.trained.scores[measure][i].abs()
            a = a / a.max().clamp_min(1e-30)
            along["series"].append({"label": f"input {i} {measure}", "x": positions, "y": (a + 1.2 * i).tolist(),
                                    "style": style})
        motif = data.motif_mask()[i].nonzero().squeeze(1).tolist()  # consecutive: drawn as a bar
        along["series"].append({"label": f"input {i} motif", "x": motif, "y": [1.2 * i + 1.08] * len(motif),
                                "style": "-"})
    ks = [k for k in result.setup.top_k_grid if k <= L]
    share = {"name": "genomic-top-k-share", "title": "Share of |importance| in the top-k positions",
             "xlabel": "k", "ylabel": "mean top-k share", "series": [],
             "note": f"motif length {result.setup.data.motif_length}; uniform importance gives k / L"}
    for report in (result.trained, result.untrained):
        for measure, style in (("occlusion", "-"), ("gradient_input", "--")):
            share["series"].append({"label": f"{report.name} {measure}", "x": ks,
                                    "y": report.top_k_curve[measure], "style": style})
    share["series"].append({"label": "uniform k / L", "x": ks, "y": [k / L for k in ks], "style": ":"})
    return {f"figure:{along['name']}": along, f"figure:{share['name']}": share}
