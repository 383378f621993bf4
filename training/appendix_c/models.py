"""The models Fig. C.1 compares, as specifications (:class:`ModelSpec`).

An SSM+FNN with ``layers`` blocks of FNN depth ``fnn_depth`` (0 = no nonlinearity) and a diagonal
or dense state matrix (:func:`ssm`), or the size-matched causal Transformer (:data:`TRANSFORMER`,
matched to :data:`MATCHED_TO`); :data:`FIG_C1_MODELS` and :data:`ABLATION_MODELS` are the sets the
checks train. The networks themselves are built by :meth:`~training.appendix_c.runner.SweepSetup.build`.
"""

from __future__ import annotations

from dataclasses import dataclass

from ..models import require_int, require_option


@dataclass(frozen=True)
class ModelSpec:
    """One model of the comparison. ``family``: ``"ssm"`` or ``"transformer"`` (size-matched;
    ``layers``/``fnn_depth``/``ssm_kind`` then unused)."""

    family: str
    layers: int = 2
    fnn_depth: int = 1
    ssm_kind: str = "diagonal"

    def __post_init__(self):
        require_option("model family", self.family, ("ssm", "transformer"))
        require_int("layers", self.layers, 1)
        require_int("fnn_depth", self.fnn_depth, 0)
        require_option("ssm_kind", self.ssm_kind, ("diagonal", "dense"))

    @property
    def name(self) -> str:
        if self.family == "transformer":
            return "transformer"
        kind = "" if self.ssm_kind == "diagonal" else "-dense"
        return f"ssm{self.layers}-" + ("linear" if self.fnn_depth == 0 else f"fnn{self.fnn_depth}") + kind


def ssm(layers: int, fnn_depth: int, ssm_kind: str = "diagonal") -> ModelSpec:
    return ModelSpec("ssm", layers, fnn_depth, ssm_kind)


TRANSFORMER = ModelSpec("transformer")
#: the two-layer SSM+FNN a Transformer is size-matched to (FNN depth 2)
MATCHED_TO = ssm(2, 2)
#: every model of Fig. C.1 and the ablations
FIG_C1_MODELS = (ssm(1, 2), ssm(2, 1), ssm(2, 2), ssm(2, 4), TRANSFORMER)
ABLATION_MODELS = (ssm(2, 0), ssm(2, 2, "dense"))
