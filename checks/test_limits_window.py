"""Every construction fails once its window is shorter than the task needs (claim ``limits.window``).

For each SSM+FNN construction and a family of instances, the task's needed receptive field
``R*`` is computed from the tokens alone (the smallest ``R`` at which no two instances agree on the
last ``R`` tokens before an answer yet need different answers). The construction is then rebuilt
with every layer cut to a window ``U`` (``constructions.limits.window.truncated``); for every ``U``
whose receptive field is below ``R*`` the check must find a pair of instances that the network
answers alike (outputs measured equal) although their answers differ -- a proof that it fails. With
the window long enough to cover the whole sequence, the truncated network is exact again.

Control: with ``R*`` overstated by one, the same check demands a failing input at a window that
suffices, finds none and says so: the check is not satisfied by any window that is merely short.
"""

from __future__ import annotations

import dataclasses

import pytest

from constructions.associative_recall import binary_query_first, outer_product
from constructions.copying import fixed_length, ngram
from constructions.limits.window import needed_receptive_field, receptive_field, truncated, window_witness
from constructions.tasks.associative_recall import ARConfig, enumerate_instances
from constructions.tasks.copying import CopyConfig, all_strings, assemble, repeated_ngram
from constructions.verification import verify

CLAIM = "limits.window"


def recall(module, config):
    return module.build(config), enumerate_instances(config).tokens


def copies(module, config, **kw):
    strings = all_strings(config.alphabet, config.length)
    if module is ngram:
        strings = strings[~repeated_ngram(strings, kw["n"], config.alphabet)]
    return module.build(config, **kw), assemble(config, strings).tokens


#: per profile: (name, construction and its instance family) -- enumerated exhaustively
GRID = {
    "tiny": lambda: {
        "outer-product": recall(outer_product, ARConfig(3, 2, 2)),
        "binary-query-first": recall(binary_query_first, ARConfig(3, 2, 2, query="first")),
        "fixed-length-shift": copies(fixed_length, CopyConfig(2, 3)),
        "ngram-lookup": copies(ngram, CopyConfig(3, 4), n=2),
    },
    "quick": lambda: {
        "outer-product": recall(outer_product, ARConfig(4, 3, 3)),
        "binary-query-first": recall(binary_query_first, ARConfig(4, 3, 3, query="first")),
        "fixed-length-shift": copies(fixed_length, CopyConfig(3, 5)),
        "ngram-lookup": copies(ngram, CopyConfig(3, 7), n=2),
    },
    "thorough": lambda: {
        "outer-product": recall(outer_product, ARConfig(4, 4, 4)),
        "binary-query-first": recall(binary_query_first, ARConfig(5, 3, 4, query="first")),
        "fixed-length-shift": copies(fixed_length, CopyConfig(3, 7)),
        "ngram-lookup": copies(ngram, CopyConfig(4, 8), n=2),
    },
}


@pytest.fixture(scope="module")
def cases(request):
    from checks import profiles

    return GRID[profiles.current().row]()


NAMES = ("outer-product", "binary-query-first", "fixed-length-shift", "ngram-lookup")


def failing_short_windows(construction, tokens, needed: int, first_window: int = 1) -> list[dict]:
    """The claim's check for one construction: every window from ``first_window`` on whose receptive
    field is below ``needed`` has a measured witness pair (equal outputs, different correct answers, a
    wrong answer); raises AssertionError naming the first window without one."""
    rows, window = [], first_window
    while True:
        short = dataclasses.replace(construction, network=truncated(construction.network, window))
        R = receptive_field(short.network)
        if R >= needed:
            return rows
        witness = window_witness(short, tokens)
        assert witness is not None, f"window {window} (receptive field {R} < {needed}): no witness pair found"
        assert witness.proves_failure, witness.to_dict()
        result = verify(short, tokens)
        assert result.wrong_answers > 0
        rows.append({"window": window, "receptive_field": R, "wrong_answers": result.wrong_answers,
                     "answers": result.answers, "witness": witness.to_dict()})
        window += 1


@pytest.mark.parametrize("name", NAMES)
@pytest.mark.claim(CLAIM)
def test_every_window_below_the_needed_distance_has_a_failing_input(name, cases, evidence):
    construction, tokens = cases[name]
    needed = needed_receptive_field(construction, tokens)
    rows = failing_short_windows(construction, tokens, needed)
    assert rows, "no window below the needed distance was tried"
    evidence.record(short_windows={"construction": name, "needed_receptive_field": needed,
                                   "sequence_length": tokens.shape[1], "instances": tokens.shape[0],
                                   "layers": len(construction.network.blocks), "windows_failing": rows})
    evidence.count("short-window networks shown to fail", len(rows))


@pytest.mark.parametrize("name", NAMES)
@pytest.mark.claim(CLAIM)
def test_a_window_covering_the_sequence_leaves_the_construction_exact(name, cases, evidence):
    construction, tokens = cases[name]
    full = dataclasses.replace(construction, network=truncated(construction.network, tokens.shape[1]))
    assert window_witness(full, tokens) is None
    result = verify(full, tokens)
    assert result.ok, result.describe()
    evidence.record(full_window={"construction": name, "window": tokens.shape[1], "instances": tokens.shape[0]})


@pytest.mark.parametrize("name", NAMES)
@pytest.mark.claim(CLAIM, role="control",
                   breaks="the needed receptive field R*: overstated by one, so the check demands a failing input at "
                          "a window that suffices; it must find none and say so")
def test_an_overstated_needed_receptive_field_is_caught(name, cases, evidence):
    construction, tokens = cases[name]
    needed = needed_receptive_field(construction, tokens)
    sufficient = next(w for w in range(1, tokens.shape[1] + 1)  # the windows below it are the evidence test's
                      if receptive_field(truncated(construction.network, w)) >= needed)
    with pytest.raises(AssertionError, match="no witness pair found") as caught:
        failing_short_windows(construction, tokens, needed + 1, first_window=sufficient)
    evidence.record(overstated={"construction": name, "needed_receptive_field": needed, "caught": str(caught.value)[:200]})
