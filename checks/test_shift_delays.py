"""The worked example of README "Adding a theorem check" (claim ``model.shift-delays``)."""

import pytest
import torch
from hypothesis import given
from hypothesis import strategies as st

from constructions.ssm import shifts


def delay_error(layer, k, length):
    x = torch.arange(1.0, length + 1, dtype=torch.float64).reshape(1, length, 1)
    expected = torch.nn.functional.pad(x, (0, 0, k, 0))[:, :length]
    return float((layer(x) - expected).abs().max())


@pytest.mark.claim("model.shift-delays")
@given(k=st.integers(0, 20), length=st.integers(1, 200))
def test_shift_by_k_delays_by_k(k, length, evidence):
    evidence.count("cases")
    assert delay_error(shifts([k]), k, length) == 0


@pytest.mark.claim("model.shift-delays", role="control", breaks="the shift: by 3 where a delay by 2 is checked")
def test_delay_check_catches_an_off_by_one_shift(evidence):
    assert delay_error(shifts([3]), 2, 10) > 0
