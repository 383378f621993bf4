"""Free-running greedy decoding by drafting the continuation from the context and verifying it in one pass.

Greedy decoding is sequential: generated token ``g_j`` is the network's prediction after ``prompt g_0 ...
g_{j-1}``. Checking a guess is not: run the network once, teacher forced, on ``prompt d_0 ... d_{k-1}`` for a
draft ``d``, and read its predictions ``p_0 ... p_k`` at the positions that predict the generated tokens. By
induction over ``j``: if ``d_i = p_i`` for every ``i < j``, then ``p_0 ... p_j`` are exactly ``g_0 ... g_j``
(each was computed on a prefix of correct tokens, and the network is causal). So one pass accepts the
draft up to its first disagreement, plus the network's own token there: a right draft turns ``|s| + 1``
sequential steps into one convolutional pass, a wrong one still fixes at least one more token.

The draft is made from the context alone, the prompt and the tokens accepted so far, never from the
targets (:func:`lookup_draft`): find the earliest occurrence of the context's longest suffix of at most
:data:`LOOKUP_MAX` tokens and propose what followed it, continued periodically (an LZ77-style copy;
prompt-lookup drafting, as in speculative decoding). Where the context's last token never occurred before,
the draft is the previous pass's predictions after the accepted ones (Jacobi decoding), or the last token
repeated. The copiers' own mechanism is such a lookup, so their drafts are right after the first token.

Procedure (:func:`draft_and_verify`), batched, each prompt with its own count ``a`` of accepted tokens:

1. a pass over the prompts alone gives ``g_0`` (the pass step mode's prefill makes);
2. at most :data:`MAX_PASSES` passes over ``prompt g_0 .. g_{a-1} d_a .. d_{k-1}`` (``k = steps - 1``: the
   last generated token is never fed), each accepting up to the first disagreement;
3. the prompts not done by then are decoded by ``sequential`` (step mode, or re-running the prefix for
   networks without one) from the prompt and their common accepted prefix.

A prediction that decodes to no token (``-1``, or outside the task's vocabulary) stops its prompt there, as
in :func:`~constructions.copying.decoding.greedy_decode` (:data:`NO_TOKEN` from that step on). Work: at
most ``MAX_PASSES + 1`` passes of the convolutional (or structured) forward over the whole sequence, plus the
sequential decoder's for what is left; the copiers need two passes (the prompt's and one whole one). The
outputs are the network's own, so the tokens equal step mode's wherever its outputs round alike (tested
token-equal on the copiers, perturbed copiers and Transformers: ``tests/test_draft_and_verify.py``).
"""

from __future__ import annotations

import numpy as np
import torch

from ..construction import Construction
from ..ssm import Mode
from ..verification import chunk_rows

#: what a decoding step that produced no token holds (and every later step of that prompt)
NO_TOKEN = -1


def is_no_token(ids: torch.Tensor, vocabulary: int | None) -> torch.Tensor:
    """Which decoded ``ids`` are no token of the task's vocabulary (``-1``, or ``>= vocabulary``; any id >= 0
    is one where ``vocabulary`` is ``None``): a free-running decoder cannot feed them back."""
    return (ids < 0) | (ids >= vocabulary) if vocabulary is not None else ids < 0

#: whole-sequence passes (after the prompts' own) before the prompts left are decoded sequentially
MAX_PASSES = 3

#: the longest context suffix :func:`lookup_draft` matches (the n-gram copier with n <= 8 reads no longer one)
LOOKUP_MAX = 8


def lookup_draft(context: np.ndarray, length: int) -> np.ndarray | None:
    """``length`` tokens that followed the earliest occurrence of ``context``'s longest suffix of at most
    :data:`LOOKUP_MAX` tokens (before the suffix itself), continued periodically (what follows the match, then
    what follows that, ...); ``None`` where the last token never occurred before. ``context``: 1-d int array.

    Candidates are the earlier positions of the last token, narrowed while a longer suffix still matches."""
    if len(context) < 2 or length <= 0:
        return None
    ends = np.flatnonzero(context[:-1] == context[-1])  # where a match of the suffix could end
    if len(ends) == 0:
        return None
    for back in range(1, min(LOOKUP_MAX, len(context) - 1)):
        longer = ends[ends >= back]
        longer = longer[context[longer - back] == context[-1 - back]]
        if len(longer) == 0:
            break
        ends = longer
    start = int(ends[0]) + 1  # the token after the earliest longest match
    period = len(context) - start
    return context[start + np.arange(length) % period]


def draft_and_verify(construction: Construction, prompts: torch.Tensor, steps: int, *, mode: Mode,
                     sequential, vocabulary: int | None) -> torch.Tensor:
    """The ``(B, steps)`` greedily generated tokens of ``prompts`` (``(B, P)`` ids), decoded as the module
    says; a prompt that meets no token holds :data:`NO_TOKEN` from that step on. ``mode``: the SSM mode of the
    passes (``"auto"`` takes the structured path where verification would); ``sequential(prompts, steps)``:
    the decoder for the prompts not done after :data:`MAX_PASSES` (the same tokens, stopping at no token);
    ``vocabulary``: the task's vocabulary size (``None``: any id >= 0 is a token)."""
    B, P = prompts.shape
    generated = np.full((B, steps), NO_TOKEN, dtype=np.int64)
    if steps == 0:
        return torch.from_numpy(generated).to(prompts.device)
    context = prompts.cpu().numpy()
    first = _predictions(construction, prompts, mode, vocabulary, P - 1)[:, 0]
    generated[:, 0] = first
    accepted = np.where(first == NO_TOKEN, steps, 1)  # a prompt stopped at no token is done
    guesses: list[np.ndarray | None] = [None] * B  # each prompt's last pass's predictions: its Jacobi draft
    for _ in range(MAX_PASSES):
        rows = np.flatnonzero(accepted < steps)
        if len(rows) == 0:
            break
        drafts = np.stack([_draft(context[r], generated[r], guesses[r], int(accepted[r])) for r in rows])
        fed = torch.from_numpy(np.concatenate([context[rows], drafts[:, : steps - 1]], axis=1)).to(prompts.device)
        predicted = _predictions(construction, fed, mode, vocabulary, P - 1)
        accepted[rows] = _accept(generated, rows, accepted[rows], drafts, predicted)
        for r, guess in zip(rows, np.where(predicted == NO_TOKEN, drafts, predicted)):
            guesses[r] = guess
    rows = np.flatnonzero(accepted < steps)
    if len(rows):
        common = int(accepted[rows].min())  # one prompt length for the whole sequential batch
        resumed = torch.from_numpy(np.concatenate([context[rows], generated[rows, :common]], axis=1)).to(prompts.device)
        generated[rows, common:] = sequential(resumed, steps - common).cpu().numpy()
    return torch.from_numpy(generated).to(prompts.device)


def _draft(prompt: np.ndarray, generated: np.ndarray, guess: np.ndarray | None, accepted: int) -> np.ndarray:
    """The draft of one prompt: its accepted tokens, then :func:`lookup_draft`'s continuation of the context, or
    the last pass's predictions after them (Jacobi), or the last token repeated."""
    context = np.concatenate([prompt, generated[:accepted]])
    rest = len(generated) - accepted
    more = lookup_draft(context, rest)
    if more is None:
        more = guess[accepted:] if guess is not None else np.full(rest, context[-1])
    return np.concatenate([generated[:accepted], more])


def _accept(generated: np.ndarray, rows: np.ndarray, accepted: np.ndarray, drafts: np.ndarray,
            predicted: np.ndarray) -> np.ndarray:
    """Write into ``generated[rows]`` the predictions each pass proved (those up to and including the first that
    differs from the draft, or the first no-token, which stops its prompt); returns the new accepted counts."""
    steps = generated.shape[1]
    cols = np.arange(steps)
    differs = np.zeros_like(predicted, dtype=bool)
    differs[:, : steps - 1] = predicted[:, : steps - 1] != drafts[:, : steps - 1]
    ends = differs | (predicted == NO_TOKEN) | (cols == steps - 1)
    ends &= cols >= accepted[:, None]
    end = ends.argmax(1)  # the last proved prediction of each row
    proved = (cols >= accepted[:, None]) & (cols <= end[:, None])
    stopped = predicted[np.arange(len(rows)), end] == NO_TOKEN
    block = generated[rows]
    block = np.where(proved, predicted, block)
    block = np.where(stopped[:, None] & (cols >= end[:, None]), NO_TOKEN, block)
    generated[rows] = block
    return np.where(stopped, steps, end + 1)


def _predictions(construction: Construction, tokens: torch.Tensor, mode: Mode, vocabulary: int | None,
                 start: int) -> np.ndarray:
    """The tokens the network predicts at positions ``start, start + 1, ...`` of ``tokens`` (teacher forced,
    in row chunks as verification runs them, :func:`~constructions.verification.chunk_rows`),
    :data:`NO_TOKEN` where an output decodes to none."""
    rows = chunk_rows(tokens.shape[1])
    parts = []
    with torch.inference_mode():
        for chunk in torch.split(tokens, rows):
            ids = construction.code.decode(construction.network_outputs(chunk, mode)[:, start:])
            parts.append(torch.where(is_no_token(ids, vocabulary), NO_TOKEN, ids).cpu().numpy())
    return np.concatenate(parts)
