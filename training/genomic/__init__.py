"""The genomic experiment of ``experiment.genomic-sparsity`` (claim C6a, known from summaries of the paper), on synthetic DNA.

**Claim** (summaries of the paper, C6a): on genomic (DNA) classification, the tokens that matter for a trained
SSM+FNN's decision are *sparse* (few positions carry the importance) and *input-dependent* (which
positions they are changes from one sequence to the next) -- the dynamic token selection the
paper's theorems are about.

**Data: synthetic, not the paper's.** No installed Python package ships real genomic sequences
(and nothing may be downloaded at run time; the public genomic benchmarks ship coordinates, not
sequences), so the sequences are generated. The experiment's task (:mod:`~training.genomic.sites`,
:func:`generate_sites`): a synthetic background over ``A, C, G, T`` with 1-3 binding sites of the
label's class *sampled from a real transcription-factor matrix* (JASPAR 2024, shipped in
``jaspar_motifs.json``, :mod:`~training.genomic.motifs`; every site differs), and decoys: near-motifs
(class sites mutated below the class threshold) and sites of TFs that define no class. A window is
a site of class ``c`` when its integer log-odds score reaches ``c``'s threshold at a background
p-value; a sequence is redrawn until its planted sites are the only such windows, so the label is
the only class with a site and the ground-truth important positions (the planted sites) are known
for every sequence. The original task (:func:`generate`: one exact motif string planted once) stays
for the hand-built controls of the measures (``tests/test_genomic.py``).

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

**Metrics** (all batched), with ``k`` = ``config.k`` (the site task: ``max_sites`` times the longest
class matrix, the most positions the planted sites occupy; the exact-motif task: the motif length):

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

**Modules** (every public name is importable from the package itself):

* :mod:`~training.genomic.data` -- the alphabet, the backgrounds, :class:`GenomicConfig`, :func:`generate`;
* :mod:`~training.genomic.motifs` -- the shipped JASPAR matrices (:func:`load_motifs`), integer scores, thresholds;
* :mod:`~training.genomic.sites` -- the planted-site task: :class:`SiteConfig`, :func:`generate_sites`;
* :mod:`~training.genomic.hand_built` -- the hand-built controls (:class:`MotifScanner`, ...);
* :mod:`~training.genomic.measures` -- occlusion and gradient x input;
* :mod:`~training.genomic.metrics` -- top-``k`` share, overlap, motif agreement, :func:`summarize`;
* :mod:`~training.genomic.verdicts` -- the thresholds, :func:`verdict`, :func:`seeds_verdict`;
* :mod:`~training.genomic.runner` -- :class:`GenomicSetup`, :func:`run_experiment` (optional plateau stopping);
* :mod:`~training.genomic.figures` -- the report figures.
"""

from .data import (
    ALPHABET,
    BACKGROUNDS,
    GC_RICH_TRANSITIONS,
    GenomicConfig,
    GenomicData,
    check_tokens,
    decode,
    encode,
    generate,
    motif_occurrences,
)
from .figures import figure_specs
from .motifs import MOTIF_FILE, MotifFileError, MotifMatrix, MotifSet, load_motifs, parse_motifs
from .sites import NEAR_MOTIF, OTHER_TF, SITE, SiteConfig, SiteData, generate_sites
from .hand_built import AT_VERSUS_GC, CompositionCounter, MotifScanner, PositionReader, one_hot_embedding
from .measures import MEASURES, class_margin, gradient_input_importance, importance, occlusion_importance
from .metrics import (
    MAX_TOP_FRACTION,
    ImportanceSummary,
    jaccard_matrix,
    motif_agreement,
    random_overlap,
    summarize,
    top_k_mask,
    top_k_overlap,
    top_k_share,
)
from .runner import (
    FINAL_TRAIN_SAMPLES,
    GenomicResult,
    GenomicSetup,
    ModelReport,
    describe_data,
    explain,
    make_data,
    model_accuracy,
    run_experiment,
)
from .verdicts import (
    ACCURACY_MIN,
    INPUT_DEPENDENT_MAX_OVERLAP,
    SPARSE_MIN_SHARE,
    is_input_dependent,
    is_sparse,
    seeds_verdict,
    verdict,
)

__all__ = [
    "ACCURACY_MIN",
    "ALPHABET",
    "AT_VERSUS_GC",
    "BACKGROUNDS",
    "CompositionCounter",
    "FINAL_TRAIN_SAMPLES",
    "GC_RICH_TRANSITIONS",
    "GenomicConfig",
    "GenomicData",
    "GenomicResult",
    "GenomicSetup",
    "INPUT_DEPENDENT_MAX_OVERLAP",
    "ImportanceSummary",
    "MAX_TOP_FRACTION",
    "MEASURES",
    "MOTIF_FILE",
    "ModelReport",
    "MotifFileError",
    "MotifMatrix",
    "MotifScanner",
    "MotifSet",
    "NEAR_MOTIF",
    "OTHER_TF",
    "PositionReader",
    "SITE",
    "SPARSE_MIN_SHARE",
    "SiteConfig",
    "SiteData",
    "check_tokens",
    "class_margin",
    "decode",
    "describe_data",
    "encode",
    "explain",
    "figure_specs",
    "generate",
    "generate_sites",
    "gradient_input_importance",
    "importance",
    "is_input_dependent",
    "is_sparse",
    "jaccard_matrix",
    "load_motifs",
    "make_data",
    "model_accuracy",
    "motif_agreement",
    "motif_occurrences",
    "occlusion_importance",
    "one_hot_embedding",
    "parse_motifs",
    "random_overlap",
    "run_experiment",
    "seeds_verdict",
    "summarize",
    "top_k_mask",
    "top_k_overlap",
    "top_k_share",
    "verdict",
]
