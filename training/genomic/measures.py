"""Token importance of a classifier read at the last position: occlusion and gradient x input.

Both explain the class *margin* ``s(x) = logit_y(x) - logsumexp_{c != y} logit_c(x)``
(:func:`class_margin`). :func:`occlusion_importance`: ``s(x) - mean_b s(x with x_t := b)`` over the
other tokens, every variant in batched forward passes; :func:`gradient_input_importance`:
``<d s / d e_t, e_t>`` for the embedded token ``e_t`` (a forward hook on ``model.embed``), one
backward pass per batch. :func:`importance` picks one of :data:`MEASURES` by name.
"""

from __future__ import annotations

import torch
import torch.nn.functional as F
from torch import nn

from constructions.errors import ShapeError

from ..models import ConfigError, require_option
from ..trainer import eval_mode, model_device, outputs_at_last
from .data import check_tokens


MEASURES: tuple[str, ...] = ("occlusion", "gradient_input")


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
    last = outputs_at_last(model, tokens)  # a model that can skip the other positions computes this one alone
    logits = (model(tokens) if last is None else last)[:, -1].float()  # (n, classes)
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
    device = model_device(model)
    tokens, labels = tokens.to(device), labels.to(device)
    with eval_mode(model):
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


def gradient_input_importance(model: nn.Module, tokens: torch.Tensor, labels: torch.Tensor,
                              max_batch: int = 1024) -> torch.Tensor:
    """``(n, L)``: ``<d s / d e_t, e_t>``, ``e_t = model.embed(x)_t`` (summed over the embedding).

    A forward hook on ``model.embed`` swaps its output for a leaf tensor, so the gradient is taken
    with respect to the embedded tokens whatever the model's parameters require; one backward pass
    per chunk of ``max_batch`` sequences (each margin depends on its own sequence only, so the
    gradient of their sum gives every sequence's gradient). Eval mode, restored after.
    """
    _check_importance_inputs(model, tokens, labels)
    device = model_device(model)
    tokens, labels = tokens.to(device), labels.to(device)
    captured: list[torch.Tensor] = []

    def leaf(module, args, output):
        z = output.detach().requires_grad_(True)
        captured.append(z)
        return z

    with eval_mode(model):
        handle = model.embed.register_forward_hook(leaf)
        try:
            out = []
            for start in range(0, tokens.shape[0], max_batch):
                captured.clear()
                rows = slice(start, start + max_batch)
                with torch.enable_grad():
                    margin = _margin_at_last(model, tokens[rows], labels[rows])
                    (grad,) = torch.autograd.grad(margin.sum(), captured[0])
                out.append((grad * captured[0].detach()).sum(-1).float())
            return torch.cat(out)
        finally:
            handle.remove()


def importance(model: nn.Module, measure: str, tokens: torch.Tensor, labels: torch.Tensor) -> torch.Tensor:
    """``(n, L)`` importance by ``measure`` (``"occlusion"`` or ``"gradient_input"``)."""
    require_option("importance measure", measure, MEASURES)
    fn = occlusion_importance if measure == "occlusion" else gradient_input_importance
    return fn(model, tokens, labels)
