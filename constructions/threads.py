"""Run small tensor workloads on one CPU thread.

The suite's experiments run many tiny operations (networks of a few thousand parameters, least
squares with a few hundred columns). With more than one torch thread on the 2 shared cores of the
project's machines (and under pytest-xdist, where every worker has its own threads) they spend
their time contending, about 10x slower than on one thread. :func:`one_thread` sets one thread for
a block and restores the previous count afterwards, also on error; :func:`single_threaded` does the
same for a whole function.
"""

from __future__ import annotations

import contextlib
import functools
from collections.abc import Callable, Iterator
from typing import TypeVar

import torch

F = TypeVar("F", bound=Callable)


@contextlib.contextmanager
def one_thread(device: torch.device | str = "cpu") -> Iterator[None]:
    """One CPU thread inside the block when the work runs on ``device`` = the CPU; elsewhere (CUDA)
    the CPU only launches kernels and nothing changes."""
    if torch.device(device).type != "cpu":
        yield
        return
    threads = torch.get_num_threads()
    torch.set_num_threads(1)
    try:
        yield
    finally:
        torch.set_num_threads(threads)


def single_threaded(function: F) -> F:
    """Decorator: ``function`` runs inside :func:`one_thread`."""
    @functools.wraps(function)
    def wrapper(*args, **kwargs):
        with one_thread():
            return function(*args, **kwargs)

    return wrapper  # type: ignore[return-value]
