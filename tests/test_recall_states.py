"""The counting objects of ``constructions.limits.recall_states`` on hand-made cases."""

from __future__ import annotations

import pytest
import torch

from constructions.errors import InfeasibleTaskError
from constructions.limits import recall_states as rs
from constructions.limits.sketch import UNDEFINED
from constructions.tasks.associative_recall import ARConfig

U = UNDEFINED


def test_prefixes_conflict_only_on_a_common_query_with_different_answers():
    rows = torch.tensor([[5, 6, U], [5, U, 7], [4, U, 7], [U, U, 8]])
    conflict = rs.conflicts(rows)
    assert conflict.tolist() == [[False, False, True, False],  # 0, 1 agree on key 0; 0, 2 differ on it; 0, 3 share no key
                                 [False, False, True, True],   # 1, 2 differ on key 0; 1, 3 on key 2
                                 [True, True, False, True],
                                 [False, True, True, False]]


def test_extensions_are_the_total_functions_agreeing_where_defined():
    functions = rs.total_functions(2, torch.tensor([10, 11]))
    assert functions.tolist() == [[10, 10], [10, 11], [11, 10], [11, 11]]
    ext = rs.extensions(torch.tensor([[10, U], [U, 11], [10, 11]]), functions)
    assert ext.tolist() == [[True, True, False, False], [False, True, False, True], [False, True, False, False]]


def test_largest_clique_of_hand_graphs():
    triangle_and_point = torch.zeros(4, 4, dtype=torch.bool)
    for i, j in ((0, 1), (1, 2), (0, 2)):
        triangle_and_point[i, j] = triangle_and_point[j, i] = True
    assert rs.largest_clique(triangle_and_point) == 3
    assert rs.largest_clique(torch.zeros(3, 3, dtype=torch.bool)) == 1
    assert rs.largest_clique(torch.ones(5, 5, dtype=torch.bool)) == 5


def test_fewest_states_of_four_keys_two_values_two_pairs_is_five():
    """CAN(2; 4, 2) = 5: four total functions cannot cover every (pair of keys, pair of values)."""
    c = rs.certify(ARConfig(4, 2, 2), clique_limit=30, cover_limit=30)
    assert not c.problems
    assert (c.answer_classes, c.fixed_key_family, c.largest_conflicting_family, c.fewest_states) == (24, 4, 4, 5)


@pytest.mark.parametrize("K, V, N, known", [(5, 2, 1, 2), (4, 3, 3, 27), (4, 2, 2, 5), (5, 2, 2, 6), (10, 2, 2, 6),
                                            (11, 2, 2, 7), (4, 3, 2, 9), (5, 3, 2, None), (6, 4, 3, None)])
def test_fewest_states_closed_forms(K, V, N, known):
    assert rs.fewest_states_closed_form(K, V, N) == known


def test_the_exact_cover_search_stops_at_its_node_limit():
    config = ARConfig(4, 2, 2)
    functions = rs.total_functions(4, config.vocabulary().ids("value", torch.arange(2)))
    ext = rs.extensions(rs.answer_classes(rs.recall_query_last(config).answers), functions)
    assert rs.fewest_states(ext, 1) == 5
    with pytest.raises(InfeasibleTaskError, match="nodes"):
        rs.fewest_states(ext, 1, node_limit=3)
