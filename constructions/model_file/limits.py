"""Every limit a model file is held to, in one table, and the estimates checked against them.

A model file is small, but the sizes it declares are not: a 6 KB file can ask for a million-token
task, a 17 KB ``.pt`` file can hold a stride-0 view of 7 GB, and ``key_length = 2e9`` makes the
task's own arithmetic run for a minute. Each size is therefore checked against a limit *before*
anything of that size is allocated or computed, and a file over a limit raises
:class:`~constructions.errors.ModelFileLimitError` naming the value, the limit and what it bounds.

=======================  =============  ===========================================================
limit                    value          bounds
=======================  =============  ===========================================================
``file_bytes``           64 MiB         the model file (read whole into memory)
``header_bytes``         1 MiB          the safetensors JSON header; each metadata JSON string
``json_depth``           16             nesting of any JSON in the file (the format needs 6)
``tensors``              4096           tensors in the file
``tensor_rank``          4              dimensions of one tensor (a complex ``A`` has 4)
``weight_elements``      2^23           tensor elements in all, counted by logical shape (64 MiB
                                        as float64): a stride-0 ``.pt`` view counts in full
``blocks``               64             SSM+FNN blocks
``bank_groups``          256            groups of one SSM bank
``fnn_layers``           64             affine layers of one FNN
``sequence_length``      4096           tokens of one instance ``T`` (recall: ``N (n + 1) + Q n``,
                                        copying: ``2 L + 3``, lookup: ``L + n + A + 3``, prefix
                                        ``+ 4``), hence also ``num_pairs``, ``num_queries``,
                                        ``key_length``, ``length``, ``ngram``, ``answer_length``
                                        and ``lookahead``
``vocabulary``           2^20           tokens in the task's vocabulary (so ``num_keys``,
                                        ``num_values``, ``alphabet`` and the output code's tokens)
``instance_values``      2^24           floats one forward pass on one instance holds at once:
                                        ``(T + lookahead) x`` widest stage, plus the SSM kernels
``instance_work``        2^25           multiply-adds of one forward pass on one instance
                                        (:func:`forward_cost`; ~0.1 s): verify's default run does
                                        1200 such passes, batched
``exhaustive_instances`` 200 000        instances of verify's exhaustive check
``exhaustive_work``      2^34           instances x ``instance_work`` of the exhaustive check
``exhaustive_tokens``    2^25           instances x ``T`` of the exhaustive check (its token table)
``chunk_values``         2^22           floats verify runs at once: rows per chunk are
                                        ``chunk_values // instance_values`` (at least one)
``state_values``         2^23           SSM state entries verify measures at once (the memory
                                        measurement runs on as many instances as fit)
memory                   1/2 free       the loaded weights and one forward pass (float64) take at
                                        most half of the memory the machine has available
=======================  =============  ===========================================================

The limits sit well above the suite's own exported constructions (the largest quick-profile formats
are ``T = 2051``, ``|V| = 3 x 2^12``) and low enough that ``python -m reports verify`` with its
defaults finishes in seconds to a minute on 2 CPU cores for any file that passes them.
"""

from __future__ import annotations

import math
import os
from dataclasses import dataclass

from ..errors import ModelFileLimitError


@dataclass(frozen=True)
class Limit:
    name: str
    value: int
    bounds: str


LIMITS: dict[str, Limit] = {
    limit.name: limit
    for limit in (
        Limit("file_bytes", 64 << 20, "bytes of the model file"),
        Limit("header_bytes", 1 << 20, "bytes of the safetensors JSON header and of each metadata JSON string"),
        Limit("json_depth", 16, "nesting depth of any JSON in the file"),
        Limit("tensors", 4096, "tensors in the file"),
        Limit("tensor_rank", 4, "dimensions of one tensor"),
        Limit("weight_elements", 1 << 23, "tensor elements in all, by logical shape (64 MiB as float64)"),
        Limit("blocks", 64, "SSM+FNN blocks"),
        Limit("bank_groups", 256, "groups of one SSM bank"),
        Limit("fnn_layers", 64, "affine layers of one FNN"),
        Limit("sequence_length", 4096, "tokens of one instance (and num_pairs, num_queries, key_length, length, ngram, "
              "answer_length, lookahead)"),
        Limit("vocabulary", 1 << 20, "tokens in the task's vocabulary (num_keys, num_values, alphabet, code tokens)"),
        Limit("instance_values", 1 << 24, "floats held by one forward pass on one instance"),
        Limit("instance_work", 1 << 25, "multiply-adds of one forward pass on one instance"),
        Limit("exhaustive_instances", 200_000, "instances of verify's exhaustive check"),
        Limit("exhaustive_work", 1 << 34, "instances x multiply-adds per instance of verify's exhaustive check"),
        Limit("exhaustive_tokens", 1 << 25, "instances x tokens per instance of verify's exhaustive check"),
        Limit("chunk_values", 1 << 22, "floats verify runs at once (rows per chunk)"),
        Limit("state_values", 1 << 23, "SSM state entries verify measures at once"),
    )
}

#: the weights and one forward pass may take at most this share of the machine's available memory
MEMORY_SHARE = 0.5


def limit(name: str) -> int:
    return LIMITS[name].value


def check(name: str, value: int, what: str) -> int:
    """Raise :class:`ModelFileLimitError` if ``value`` is over limit ``name``; return ``value``."""
    bound = LIMITS[name]
    if value > bound.value:
        raise ModelFileLimitError(f"{what}: {value}, over the limit {bound.value} ({bound.name}: {bound.bounds})")
    return value


def available_memory() -> int | None:
    """Bytes the machine can give without swapping (``MemAvailable``), or ``None`` if unknown."""
    try:
        with open("/proc/meminfo") as f:
            for line in f:
                if line.startswith("MemAvailable:"):
                    return int(line.split()[1]) * 1024
    except (OSError, ValueError, IndexError):
        pass
    try:
        return os.sysconf("SC_AVPHYS_PAGES") * os.sysconf("SC_PAGE_SIZE")
    except (ValueError, OSError, AttributeError):
        return None


def check_memory(needed: int, what: str) -> None:
    """Raise :class:`ModelFileLimitError` if ``needed`` bytes exceed the share of free memory."""
    free = available_memory()
    if free is not None and needed > MEMORY_SHARE * free:
        raise ModelFileLimitError(f"{what} needs about {needed >> 20} MiB, more than half of the "
                                  f"{free >> 20} MiB this machine has available")


# ----------------------------------------------------------------------------- cost of a forward pass
@dataclass(frozen=True)
class ForwardCost:
    """Estimated cost of one forward pass on one instance of ``length`` tokens: ``values`` floats
    held at once (widest stage over the padded length, plus the largest SSM kernel table) and
    ``work`` multiply-adds. Upper estimates from the tensors' shapes, not measurements."""

    length: int
    values: int
    work: int


def _layer_cost(layer, length: int) -> tuple[int, int, int]:
    """(kernel values, work, activation width per token) of one SSM layer (not a bank)."""
    from ..ssm import GROWING_DIRECT_MAX, DenseSSM, DiagonalSSM, ShiftSSM

    D, N = layer.channels, layer.state_size
    T = length + layer.lookahead
    K = max(2 * N, T)  # the window is measured on 2N taps, the convolution needs up to T
    # direct (kernel <= 64 taps) or FFT (~5 log2 2T <= 64 per tap); a growing kernel takes the direct
    # convolution up to GROWING_DIRECT_MAX taps, the recurrence (N, dense N^2, per token) beyond
    taps = min(T, GROWING_DIRECT_MAX) if layer.is_growing(T) else 64
    conv = D * T * max(taps, N * N)
    if isinstance(layer, ShiftSSM):
        return D * K, D * K + conv, D
    if isinstance(layer, DiagonalSSM):
        return D * N * min(K, layer.KERNEL_CHUNK), D * N * K + conv, D
    if isinstance(layer, DenseSSM):
        return D * N * (K + N), D * N**3 * math.ceil(math.log2(K)) + D * N * N * K + conv, D
    return D * K, D * K + conv, D


def forward_cost(network, length: int) -> ForwardCost:
    """:class:`ForwardCost` of an :class:`~constructions.network.SSMNetwork` on ``length`` tokens."""
    T = length + max((g.lookahead for b in network.blocks for g in ssm_layers(b.ssm)), default=0)
    widths = [network.embedding.out_features]
    work = T * network.embedding.out_features
    fnns = ([network.pre_fnn] if network.pre_fnn is not None else []) + [b.fnn for b in network.blocks]
    for fnn in fnns:
        widths += [W.shape[0] for W in fnn.weights] + [fnn.weights[0].shape[1]]
        work += T * sum(W.numel() for W in fnn.weights)
    kernels = 0
    for block in network.blocks:
        costs = [_layer_cost(g, length) for g in ssm_layers(block.ssm)]
        kernels = max(kernels, sum(c[0] for c in costs))
        work += sum(c[1] for c in costs)
        widths.append(2 * sum(c[2] for c in costs))  # FFT pads to twice the length
    return ForwardCost(length, T * max(widths) + kernels, work)


def ssm_layers(ssm) -> list:
    """The layers of an SSM block: a bank's groups, or the layer itself."""
    from ..ssm import SSMBank

    return list(ssm.groups) if isinstance(ssm, SSMBank) else [ssm]


def check_network(network, length: int, weight_elements: int) -> ForwardCost:
    """Check one forward pass of ``network`` on ``length`` tokens against ``instance_values``,
    ``instance_work`` and the machine's memory (with the ``weight_elements`` loaded)."""
    cost = forward_cost(network, length)
    check("instance_values", cost.values, f"floats held by one forward pass on {length} tokens (estimate)")
    check("instance_work", cost.work, f"multiply-adds of one forward pass on {length} tokens (estimate)")
    check_memory(8 * (2 * weight_elements + 8 * cost.values), "the network and one forward pass")
    return cost
