"""What the copying constructions share: the answer positions and reference of the copy format."""

from __future__ import annotations

from ..construction import Construction, OneHotCode
from ..network import SSMNetwork
from ..tasks.copying import CopyConfig, reference_next_tokens


def prediction_code(config: CopyConfig) -> OneHotCode:
    """Output channels: the ``D`` symbols, then EOS (what a copier ever has to predict)."""
    return OneHotCode((*range(config.alphabet), config.eos))


def copy_construction(name: str, network: SSMNetwork, config: CopyConfig, source: str, **notes) -> Construction:
    return Construction(
        name=name,
        network=network,
        config=config,
        code=prediction_code(config),
        answer_positions=config.answer_positions(),
        reference=lambda tokens: reference_next_tokens(config, tokens),
        source=source,
        notes=notes,
    )
