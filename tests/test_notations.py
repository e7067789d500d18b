"""notations: Olah's, d2l.ai's and the row-vector forms equal nn.LSTM; read in another order they do not."""

from __future__ import annotations

import pytest
import torch
from torch import nn

from lstm_demo.notations import d2l_lstm, olah_lstm, row_vector_lstm


@pytest.fixture
def lstm_and_input():
    torch.manual_seed(0)
    return nn.LSTM(3, 4).double(), torch.randn(6, 2, 3, dtype=torch.float64)


@pytest.mark.parametrize(
    "notation", [olah_lstm, d2l_lstm, row_vector_lstm], ids=["olah", "d2l", "row-vector"]
)
def test_each_notation_is_nn_lstm(lstm_and_input, notation):
    lstm, x = lstm_and_input
    output, (h_n, c_n) = notation(lstm, x)
    assert output.shape == (6, 2, 4)
    assert h_n.shape == c_n.shape == (1, 2, 4)
    torch.testing.assert_close((output, (h_n, c_n)), lstm(x))


def test_the_other_orders_are_other_functions(lstm_and_input):
    lstm, x = lstm_and_input
    with torch.no_grad():
        expected, _ = lstm(x)
        swapped, _ = olah_lstm(lstm, x, x_first=True)
        tf_order, _ = row_vector_lstm(lstm, x, order=("i", "g", "f", "o"))
    assert float((swapped - expected).abs().max()) > 1e-2
    assert float((tf_order - expected).abs().max()) > 1e-2
