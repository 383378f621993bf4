"""Reading a copying construction two ways: teacher forcing and free-running greedy decoding."""

from __future__ import annotations

import torch

from ..construction import Construction
from ..errors import DecodingError, UnknownOptionError
from ..ssm import Mode


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


#: what a decoding step that produced no token holds (and every later step of that prompt)
NO_TOKEN = -1


def greedy_decode(construction: Construction, prompts: torch.Tensor, steps: int, mode: Mode = "auto", *,
                  on_no_token: str = "stop") -> torch.Tensor:
    """Feed ``prompts`` (``BOS s SEP``), append the network's prediction at the last position,
    ``steps`` times; returns the ``(B, steps)`` generated tokens. Each step reruns the network on
    the whole prefix (batched over instances): ``O(steps x length)`` work, a reference, not a
    fast decoder.

    A prediction that decodes to no token of the vocabulary (``-1``: an output code no token has, as
    a +-1 code averaged between two symbols) cannot be fed back. ``on_no_token="stop"``: that prompt
    stops, its step and every later one hold :data:`NO_TOKEN` (a failed step, never equal to a
    target); ``"raise"``: :class:`~constructions.errors.DecodingError` saying at which step, for how
    many prompts, and the first of them."""
    if on_no_token not in ("stop", "raise"):
        raise UnknownOptionError(f"on_no_token must be 'stop' or 'raise', got {on_no_token!r}")
    vocabulary = construction.config.vocabulary().size if hasattr(construction.config, "vocabulary") else None
    sequence = prompts
    stopped = torch.zeros(prompts.shape[0], 1, dtype=torch.bool, device=prompts.device)
    generated = []
    with torch.no_grad():
        for step in range(steps):
            out = construction.network(sequence, mode)[:, -1:]
            nxt = construction.code.decode(out)
            none = (nxt < 0) | (nxt >= vocabulary) if vocabulary is not None else nxt < 0
            if on_no_token == "raise" and bool((none & ~stopped).any()):
                rows = (none & ~stopped).nonzero()[:, 0]
                first = int(rows[0])
                raise DecodingError(
                    f"step {step} (position {sequence.shape[1]}): the output decodes to no token ({int(nxt[first, 0])}) "
                    f"for {len(rows)} of {len(prompts)} prompts, the first #{first} "
                    f"{sequence[first].tolist()}; a free-running decoder cannot feed it back")
            stopped |= none
            nxt = torch.where(stopped, torch.full_like(nxt, NO_TOKEN), nxt)
            generated.append(nxt)
            sequence = torch.cat([sequence, torch.where(stopped, prompts[:, -1:], nxt)], dim=1)  # stopped: any valid token
    return torch.cat(generated, dim=1) if generated else prompts.new_zeros(prompts.shape[0], 0)
