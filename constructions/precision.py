"""Changing the floating-point precision of a whole construction.

``torch.nn.Module.to(torch.float32)`` casts complex parameters to *real* ones, discarding the
imaginary part of a complex diagonal SSM. :func:`to_dtype` keeps complex parameters complex.
"""

from __future__ import annotations

import torch
from torch import nn

_COMPLEX_OF = {torch.float16: torch.complex32, torch.float32: torch.complex64, torch.float64: torch.complex128}


def to_dtype(module: nn.Module, dtype: torch.dtype) -> nn.Module:
    """Cast real parameters and buffers to ``dtype`` and complex ones to its complex counterpart."""
    if dtype not in _COMPLEX_OF:
        raise TypeError(f"unsupported floating dtype {dtype}; use one of {list(_COMPLEX_OF)}")

    def cast(t: torch.Tensor) -> torch.Tensor:
        if t.is_complex():
            return t.to(_COMPLEX_OF[dtype])
        return t.to(dtype) if t.is_floating_point() else t

    return module._apply(cast)
