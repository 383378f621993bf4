"""Reading a copying construction two ways: teacher forcing and free-running greedy decoding (in step
mode, by drafting and verifying in whole passes, and the slow reference twin that re-runs the prefix)."""

from __future__ import annotations

import numpy as np
import torch

from .. import sparse_path
from ..construction import Construction, OneHotCode
from ..errors import DecodingError, ShapeError, SparsePathUnavailableError, UnknownOptionError
from ..numpy_step import NUMPY_MAX_BATCH, numpy_stepper
from ..sparse_step import SparseStepper
from ..ssm import Mode
from .draft_and_verify import NO_TOKEN, draft_and_verify, is_no_token


def teacher_forced(construction: Construction, tokens: torch.Tensor, mode: Mode = "auto") -> torch.Tensor:
    """Predictions at the answer positions of whole sequences: ``(B, n+1)`` token ids."""
    return construction.answer(tokens, mode)


def copy_error_run(construction: Construction, n: int, strings: int, seed: int, chunk: int = 32) -> dict:
    """Copy ``strings`` uniform strings of the construction's format (teacher forced): counts of
    failed strings, of failures without a repeated n-gram, and of strings with a repeated n-gram."""
    from ..tasks.copying import generate, repeated_ngram

    config = construction.config
    failures = unexplained = repeats = done = 0
    while done < strings:
        batch = generate(config, min(chunk, strings - done), seed + done)
        wrong = (teacher_forced(construction, batch.tokens.to(construction.network.device)).cpu() != batch.targets).any(-1)
        rep = repeated_ngram(batch.strings, n, config.alphabet)
        failures += int(wrong.sum())
        unexplained += int((wrong & ~rep).sum())
        repeats += int(rep.sum())
        done += len(batch)
    return {"strings": strings, "failures": failures, "failures_without_repeated_ngram": unexplained,
            "strings_with_repeated_ngram": repeats}


#: ``greedy_decode``'s decoders: ``"step"`` one token after another (step mode; re-running the prefix for networks
#: without one), ``"draft"`` drafting from the context and verifying in whole passes (:mod:`.draft_and_verify`),
#: ``"auto"`` the draft up to :data:`DRAFT_MAX_BATCH` prompts and for networks without a step mode, else steps
DECODERS = ("auto", "step", "draft")

#: ``decoder="auto"`` drafts up to this many prompts: below it step mode's per-token cost is its fixed count of
#: dispatched operations, which a pass over the whole sequence undercuts; above it that count is shared by the batch
DRAFT_MAX_BATCH = 16


def greedy_decode(construction: Construction, prompts: torch.Tensor, steps: int, *, on_no_token: str = "stop",
                  prefill: Mode = "auto", decoder: str = "auto") -> torch.Tensor:
    """Feed ``prompts`` (``BOS s SEP``), append the network's prediction at the last position,
    ``steps`` times; returns the ``(B, steps)`` generated tokens. Every decoder gives these tokens.

    ``decoder="step"``: SSM networks decode in step mode (:meth:`~constructions.network.SSMNetwork.step`): the
    prompt is read at once in the convolutional mode ``prefill`` (:meth:`~constructions.network.SSMNetwork.prefill`),
    then each generated token is one step of every layer's recurrence, ``O(1)`` work per token in the
    length (a shift layer's ring buffer, an accumulator's sum). Where verification takes the structured
    path (wide networks with sparse signals, :mod:`constructions.sparse_path`), so do the prefill and the
    steps (:class:`~constructions.sparse_step.SparseStepper`: only the memory cells a token writes and reads);
    small dense networks at up to :data:`~constructions.numpy_step.NUMPY_MAX_BATCH` prompts step in numpy
    (:class:`~constructions.numpy_step.NumpyStepper`, its loop too), where torch's per-operation dispatch
    would be most of the cost. All apply the network's own weights and are tested equal to the dense torch
    step. Networks without a step mode (Transformers) re-run the prefix per token, as
    :func:`greedy_decode_rerunning`, the slow reference twin, does for every network (tested equal).

    ``decoder="draft"``: :func:`~constructions.copying.draft_and_verify.draft_and_verify`: the continuation is
    drafted from the context (the prompt and the tokens proved so far, never the targets) and a whole
    teacher-forced pass (mode ``prefill``) proves it up to its first disagreement with the network; the prompts
    left after a few passes go on in step mode. ``"auto"`` (:data:`DECODERS`): the draft up to
    :data:`DRAFT_MAX_BATCH` prompts and for networks without a step mode, else step mode.

    A prediction that decodes to no token of the vocabulary (``-1``: an output code no token has, as
    a +-1 code averaged between two symbols) cannot be fed back. ``on_no_token="stop"``: that prompt
    stops, its step and every later one hold :data:`NO_TOKEN` (a failed step, never equal to a
    target); ``"raise"``: :class:`~constructions.errors.DecodingError` saying at which step, for how
    many prompts, and the first of them."""
    _check_option(on_no_token)
    if decoder not in DECODERS:
        raise UnknownOptionError(f"decoder must be one of {DECODERS}, got {decoder!r}")
    if not isinstance(prompts, torch.Tensor) or prompts.dim() != 2 or prompts.shape[1] == 0:
        shape = tuple(prompts.shape) if isinstance(prompts, torch.Tensor) else type(prompts).__name__
        raise ShapeError(f"prompts must be token ids of shape (batch, length >= 1), got {shape}")
    if isinstance(steps, bool) or not isinstance(steps, int) or steps < 0:
        raise ShapeError(f"steps must be a whole number of tokens >= 0, got {steps!r}")
    decoder = auto_decoder(construction, prompts.shape[0]) if decoder == "auto" else decoder
    if decoder == "step" or steps == 0:
        return _sequential(construction, prompts, steps, on_no_token, prefill)
    generated = draft_and_verify(construction, prompts, steps, mode=prefill, vocabulary=_task_vocabulary(construction),
                                 sequential=lambda rest, k: _sequential(construction, rest, k, "stop", prefill))
    if on_no_token == "raise" and bool((generated == NO_TOKEN).any()):
        return _sequential(construction, prompts, steps, "raise", prefill)  # raises naming the step, as step by step
    return generated


def auto_decoder(construction: Construction, batch: int) -> str:
    """The decoder ``greedy_decode(decoder="auto")`` takes for ``batch`` prompts: ``"draft"`` up to
    :data:`DRAFT_MAX_BATCH` prompts and for networks without a step mode, else ``"step"``."""
    return "draft" if not hasattr(construction.network, "step") or batch <= DRAFT_MAX_BATCH else "step"


def _sequential(construction: Construction, prompts: torch.Tensor, steps: int, on_no_token: str, prefill: Mode):
    """``greedy_decode(decoder="step")``: step mode where the network has one, else re-running the prefix."""
    network = construction.network
    if not hasattr(network, "step"):
        return greedy_decode_rerunning(construction, prompts, steps, prefill, on_no_token=on_no_token)
    stepper, checked = None, _fed_ids_checked(construction)
    if steps > 0 and checked and prompts.shape[0] <= NUMPY_MAX_BATCH and _always_a_token(construction):
        out, state = _prefill(network, prompts, prefill)
        lean = numpy_stepper(network, state)
        if lean is not None:  # small batches: numpy's dispatch, the same weights (constructions/numpy_step.py)
            return _decode_numpy(construction, prompts, steps, out[:, -1].numpy(), lean)
        stepper = _stepper(network, state, prompts)

    def next_outputs(column: torch.Tensor | None) -> torch.Tensor:
        nonlocal stepper
        if column is None:
            if stepper is not None:
                return out[:, -1:]
            prefilled, state = _prefill(network, prompts, prefill)
            stepper = _stepper(network, state, prompts) if checked else _Checked(network, state)
            return prefilled[:, -1:]
        return stepper(column.view(-1)).unsqueeze(1)

    return _decode(construction, prompts, steps, next_outputs, on_no_token)


def _prefill(network, prompts: torch.Tensor, mode: Mode):
    """``network.prefill(prompts, mode)``; on the structured path (:func:`constructions.sparse_path.prefill`, the
    same weights) where verification takes it: ``mode="auto"``, a supported network and a wide dense pass."""
    if mode == "auto" and sparse_path.worth_it(network, prompts):
        try:
            return sparse_path.prefill(network, prompts)
        except SparsePathUnavailableError:
            pass
    return network.prefill(prompts, mode)


def _stepper(network, state: tuple, prompts: torch.Tensor):
    """The network's lean stepper for checked ids: on the structured path (:class:`constructions.sparse_step.SparseStepper`,
    the same weights) for the networks whose prompts verification would run there, else the dense
    :class:`~constructions.network.NetworkStepper`."""
    if sparse_path.worth_it(network, prompts):
        try:
            return SparseStepper(network, state)
        except SparsePathUnavailableError:
            pass
    return network.stepper(state)


def _fed_ids_checked(construction: Construction) -> bool:
    """Whether :func:`_decode` feeds back only ids the network's embedding takes (it stops a prompt at an id
    outside the task's vocabulary): then the network's lean :meth:`~constructions.network.SSMNetwork.stepper`
    may read them unchecked."""
    vocabulary = getattr(construction.network.embedding, "vocabulary", None)
    task = _task_vocabulary(construction)
    return vocabulary is not None and task is not None and task <= vocabulary.size


def _task_vocabulary(construction: Construction) -> int | None:
    """The size of the task's vocabulary (ids ``0 .. size - 1`` are tokens), where the format has one."""
    return construction.config.vocabulary().size if hasattr(construction.config, "vocabulary") else None


class _Checked:
    """:meth:`~constructions.network.SSMNetwork.step` with every check, as a stepper."""

    def __init__(self, network, state):
        self.network, self.h = network, state

    def __call__(self, ids_t):
        out, self.h = self.network.step(ids_t, self.h)
        return out


def greedy_decode_rerunning(construction: Construction, prompts: torch.Tensor, steps: int, mode: Mode = "auto", *,
                            on_no_token: str = "stop") -> torch.Tensor:
    """:func:`greedy_decode` by re-running the network on the whole prefix for every token (batched over
    instances) in the convolutional ``mode``: ``O(steps x length)`` work, the slow reference twin of
    step-mode decoding (and the decoder of networks without a step mode)."""
    _check_option(on_no_token)
    sequence = prompts

    def next_outputs(column: torch.Tensor | None) -> torch.Tensor:
        nonlocal sequence
        if column is not None:
            sequence = torch.cat([sequence, column], dim=1)
        return construction.network(sequence, mode)[:, -1:]

    return _decode(construction, prompts, steps, next_outputs, on_no_token)


def _check_option(on_no_token: str) -> None:
    if on_no_token not in ("stop", "raise"):
        raise UnknownOptionError(f"on_no_token must be 'stop' or 'raise', got {on_no_token!r}")


def _decode(construction: Construction, prompts: torch.Tensor, steps: int, next_outputs, on_no_token: str) -> torch.Tensor:
    """The greedy loop shared by both decoders: ``next_outputs(None)`` gives the outputs ``(B, 1, d)`` after
    the prompts, ``next_outputs(column)`` those after feeding one more token per prompt (``(B, 1)``)."""
    vocabulary = _task_vocabulary(construction)
    stopped = torch.zeros(prompts.shape[0], 1, dtype=torch.bool, device=prompts.device)
    last, no_token = prompts[:, -1:], torch.full_like(stopped, NO_TOKEN, dtype=torch.long)
    generated = []
    with torch.inference_mode():  # no autograd bookkeeping per op; the tokens leave as ordinary tensors (cat below)
        for step in range(steps):
            out = next_outputs(None if step == 0 else torch.where(stopped, last, generated[-1]))  # stopped: any valid token
            nxt = construction.code.decode(out)
            none = is_no_token(nxt, vocabulary)
            if on_no_token == "raise" and bool((none & ~stopped).any()):
                rows = (none & ~stopped).nonzero()[:, 0]
                first = int(rows[0])
                prefix = prompts[first].tolist() + [int(g[first, 0]) for g in generated]
                raise DecodingError(
                    f"step {step} (position {len(prefix)}): the output decodes to no token ({int(nxt[first, 0])}) "
                    f"for {len(rows)} of {len(prompts)} prompts, the first #{first} "
                    f"{prefix}; a free-running decoder cannot feed it back")
            stopped |= none
            generated.append(torch.where(stopped, no_token, nxt))
    return torch.cat(generated, dim=1) if generated else prompts.new_zeros(prompts.shape[0], 0)


def _decode_numpy(construction: Construction, prompts: torch.Tensor, steps: int, out: np.ndarray, stepper) -> torch.Tensor:
    """:func:`_decode`'s loop in numpy for a :class:`~constructions.numpy_step.NumpyStepper` (its bookkeeping would cost
    more torch dispatches than the step itself), for a code whose every output decodes to a token of the
    vocabulary (:func:`_always_a_token`: no prompt ever stops): the same tokens. ``out``: the outputs ``(B, d)``
    after the prompts."""
    table = np.asarray(construction.code.tokens)
    generated = np.empty((prompts.shape[0], steps), dtype=np.int64)
    generated[:, 0] = table[out.argmax(-1)]
    with np.errstate(over="ignore", invalid="ignore"):  # an overflow is the stepper's to name (NumericalRangeError)
        for step in range(1, steps):
            generated[:, step] = table[stepper(generated[:, step - 1]).argmax(-1)]
    return torch.from_numpy(generated).to(prompts.device)


def _always_a_token(construction: Construction) -> bool:
    """Every output of the construction's code decodes to a token of the task's vocabulary (a one-hot code of
    vocabulary tokens): a free-running decoder never meets a no-token."""
    code, config = construction.code, construction.config
    return isinstance(code, OneHotCode) and hasattr(config, "vocabulary") \
        and all(0 <= t < config.vocabulary().size for t in code.tokens)
