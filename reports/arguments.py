"""Argument types of the command line: every value is checked when it is parsed.

Each function takes the text argparse read and returns the value, or raises
``argparse.ArgumentTypeError`` naming what is wrong; argparse then prints
``error: argument --NAME: <message>`` and exits with status 2 before anything runs.

* seeds: integers ``0 .. SEED_MAX`` (:data:`checks.profiles.SEED_MAX`, ``2^32 - 1``: every seed
  the checks derive from it still fits torch's 64-bit generators);
* ``--workers``: ``auto`` or an integer ``0 .. max_workers()`` (``0``: in-process);
* counts (``--examples``, ``--batch``, ``--ngram``): integers ``>= 1``;
* output directories: a non-empty path (``--out ""`` would write into the current folder).
"""

from __future__ import annotations

import argparse
import os
from pathlib import Path

from checks.profiles import SEED_MAX


def _integer(text: str) -> int:
    try:
        return int(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected an integer, got {text!r}") from None


def seed(text: str) -> int:
    value = _integer(text)
    if not 0 <= value <= SEED_MAX:
        raise argparse.ArgumentTypeError(f"a seed is an integer from 0 to {SEED_MAX} (2^32 - 1), got {value}")
    return value


def positive_int(text: str) -> int:
    value = _integer(text)
    if value < 1:
        raise argparse.ArgumentTypeError(f"must be an integer >= 1, got {value}")
    return value


def max_workers() -> int:
    """The most pytest-xdist processes ``--workers`` starts: 4 per core, at least 64."""
    return max(64, 4 * (os.cpu_count() or 1))


def workers(text: str) -> str:
    if text == "auto":
        return text
    try:
        value = int(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected 'auto' or a number of processes (0: in-process), got {text!r}") from None
    if not 0 <= value <= max_workers():
        raise argparse.ArgumentTypeError(f"the number of processes must lie in 0 .. {max_workers()} (0: in-process), got {value}")
    return str(value)


def output_directory(text: str) -> Path:
    if not text.strip():
        raise argparse.ArgumentTypeError("the output directory must be a non-empty path (use '.' for the current folder)")
    return Path(text)
