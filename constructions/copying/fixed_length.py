"""Copying strings of one fixed length with one shift channel (PAPER.md §4 G4).

Claim (``copy.fixed-length.exact``, reconstructed): for the format ``BOS s SEP s EOS`` with
``|s| = n`` over an alphabet of ``D`` symbols, the network predicts every next token exactly, on
every string of length ``n``.

Mechanism: the embedding writes each token as one number (symbol ``a`` as ``a``, SEP as ``D``); an SSM shifts that channel by ``n``
(window ``n + 1``): at position ``p`` of the copy, ``x_{p-n}`` is the symbol to write next, and
at the last position the shifted token is SEP, which the read-out maps to EOS. The read-out
decodes the integer with hat functions ``h_v(y) = relu(y-v+1) - 2 relu(y-v) + relu(y-v-1)``,
exact at integers.

Resources: 1 SSM layer of 1 channel with window ``n + 1`` (the shift's state has ``n + 1``
entries: the window carries the growth with the length), FNN depth 2 and width ``3(D + 1)``,
embedding table ``D + 3`` numbers; nothing else depends on ``n``.

Source: PAPER.md §4 G4; the "one shift channel" reading of copying with a window as long as the
string; reconstructed.
"""

from __future__ import annotations

import sympy as sp
import torch

from ..construction import Construction
from ..embedding import TableEmbedding
from ..fnn import FNN
from ..layout import AffineMap, Layout
from ..mutation import injectable
from ..network import SSMNetwork
from ..ssm import shifts
from ..tasks.copying import CopyConfig
from .common import copy_construction

NAME = "fixed-length-shift"
SOURCE = "PAPER.md §4 G4 (one shift channel); reconstructed"


@injectable(NAME)
def build(config: CopyConfig, *, dtype=torch.float64, device=None) -> Construction:
    D, n = config.alphabet, config.length
    kw = dict(dtype=dtype, device=device)
    vocab = config.vocabulary()
    # each token as one number: symbol a -> a, SEP -> D (read out as EOS), BOS -> D + 1, EOS -> D + 2
    table = torch.tensor([*range(D), D + 1, D, D + 2], **kw).unsqueeze(1)
    embedding = TableEmbedding(vocab, table, Layout.of(token=1))
    ssm = shifts([n], **kw)
    hats = Layout.of(up=D + 1, mid=D + 1, down=D + 1)
    levels = torch.arange(D + 1, **kw)
    first = AffineMap(Layout.of(token=1), hats, **kw)
    for part, offset in (("up", 1.0), ("mid", 0.0), ("down", -1.0)):
        first.connect(part, "token", torch.ones(D + 1, **kw)).add_bias(part, offset - levels)
    decode = AffineMap(hats, Layout.of(prediction=D + 1), **kw)
    decode.connect("prediction", "up", 1).connect("prediction", "mid", -2).connect("prediction", "down", 1)
    network = SSMNetwork(embedding, [(ssm, FNN.from_maps(first, decode, origin="copying.hat_decoder"))])
    return copy_construction(NAME, network, config, SOURCE)


def closed_form() -> dict[str, sp.Expr]:
    """Resource counts in terms of the alphabet size ``D`` and the string length ``n``."""
    D, n = sp.symbols("D n", positive=True, integer=True)
    return {
        "num_layers": sp.Integer(1),
        "window": n + 1,
        "channels": sp.Integer(1),
        "state_size": n + 1,
        "fnn_depth": sp.Integer(2),
        "fnn_width": 3 * (D + 1),
        "fnn_nonzeros": 9 * D + 7,  # weights 3(D+1) + 3(D+1); biases 3D + 1 (two of them are 0)
        "ssm_nonzeros": n + 2,  # one tap, B = e_1, n ones of J_{n+1}
        "shift_structure_nonzeros": n,  # the n ones of J_{n+1}: the window
        "embedding_parameters": D + 2,  # token ids 1 .. D+2
        "parameters": 10 * D + n + 11,
        "weight_bound": D + 2,
    }


def mutations(config: CopyConfig):
    from ..mutation import Mutation

    D, n = config.alphabet, config.length
    return [
        Mutation("the shift channel is cut", "blocks.0.ssm.C", (0, n), 0.0),
        Mutation("symbol 0's hat is moved to 1", "blocks.0.fnn.biases.0", (D + 1,), -1.0),
    ]


def growth_faults(config: CopyConfig):
    """A change that keeps the copier exact but makes its parameters outside the window grow with the
    length, where ``copy.polylog.window-free`` says they stay poly-log: ``n`` dead hidden units."""
    from ..mutation import DeadUnits

    return [DeadUnits("n/16 dead hidden units in the read-out (exact; parameters outside the window grow linearly in n)",
                      0, config.length // 16 + 1)]
