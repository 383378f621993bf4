"""What every associative-recall construction shares: its task's answer positions and reference."""

from __future__ import annotations

from ..construction import BinaryCode, Construction, OneHotCode
from ..network import SSMNetwork
from ..tasks.associative_recall import ARConfig, reference_answers


def recall_construction(name: str, network: SSMNetwork, config: ARConfig, code: OneHotCode | BinaryCode, source: str) -> Construction:
    return Construction(
        name=name,
        network=network,
        config=config,
        code=code,
        answer_positions=config.answer_positions(),
        reference=lambda tokens: reference_answers(config, tokens),
        source=source,
    )
