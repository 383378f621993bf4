"""Reading a copying construction two ways: teacher forcing and free-running greedy decoding."""

from __future__ import annotations

import torch

from ..construction import Construction
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


def greedy_decode(construction: Construction, prompts: torch.Tensor, steps: int, mode: Mode = "auto") -> torch.Tensor:
    """Feed ``prompts`` (``BOS s SEP``), append the network's prediction at the last position,
    ``steps`` times; returns the ``(B, steps)`` generated tokens. Each step reruns the network on
    the whole prefix (batched over instances): ``O(steps x length)`` work, a reference, not a
    fast decoder."""
    sequence = prompts
    generated = []
    with torch.no_grad():
        for _ in range(steps):
            out = construction.network(sequence, mode)[:, -1:]
            nxt = construction.code.decode(out)
            generated.append(nxt)
            sequence = torch.cat([sequence, nxt], dim=1)
    return torch.cat(generated, dim=1)
