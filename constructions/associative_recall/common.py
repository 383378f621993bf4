"""What every associative-recall construction shares: its task's answer positions and reference."""

from __future__ import annotations

from ..construction import BinaryCode, Construction, OneHotCode
from ..network import SSMNetwork
from ..errors import InfeasibleTaskError
from ..tasks.associative_recall import ARConfig, reference_answers
from ..tasks.scattered_recall import ScatteredARConfig, reference_answers_at


def check_query_last(name: str, config) -> None:
    """Query-last recall with one-token keys: ``ARConfig(query="last", key_length=1)`` or queries
    anywhere after the pairs (:class:`ScatteredARConfig`); :class:`InfeasibleTaskError` otherwise."""
    if isinstance(config, ScatteredARConfig):
        return
    if not isinstance(config, ARConfig) or config.query != "last" or config.key_length != 1:
        raise InfeasibleTaskError(f"the {name} construction needs query-last recall with one-token keys "
                                  f"(ARConfig(query='last', key_length=1) or ScatteredARConfig), got {config!r}")


def recall_construction(name: str, network: SSMNetwork, config: ARConfig | ScatteredARConfig, code: OneHotCode | BinaryCode,
                        source: str) -> Construction:
    if isinstance(config, ScatteredARConfig):
        return Construction(name=name, network=network, config=config, code=code, answer_positions=None, reference=None,
                            source=source, reference_at=lambda tokens, positions: reference_answers_at(config, tokens, positions))
    return Construction(
        name=name,
        network=network,
        config=config,
        code=code,
        answer_positions=config.answer_positions(),
        reference=lambda tokens: reference_answers(config, tokens),
        source=source,
    )
