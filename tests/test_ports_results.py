"""lstm_demo.ports.results: the input check every port shares, and a framework's arrays as nn.LSTM's result."""

from __future__ import annotations

import numpy as np
import pytest
import torch
from torch import nn
from torch.nn.utils.rnn import pack_sequence

from lstm_demo.ports.results import as_result, check_input


def test_check_input_refuses_a_packed_sequence_and_a_2d_tensor():
    packed = pack_sequence([torch.zeros(3, 2)])
    with pytest.raises(
        TypeError,
        match=r"^Expected input to be a 3-D tensor \(Keras takes no PackedSequence\), but got a PackedSequence instead\.$",
    ):
        check_input(packed, "Keras")
    with pytest.raises(TypeError, match=r"but got a tensor of shape \(5, 2\) instead\.$"):
        check_input(torch.zeros(5, 2), "Flax")
    check_input(torch.zeros(5, 2, 3), "Flax")  # a 3-D tensor passes


@pytest.mark.parametrize(
    ("time_major", "batch_first", "shape"),
    [(True, False, (5, 2, 4)), (True, True, (2, 5, 4)), (False, False, (5, 2, 4)), (False, True, (2, 5, 4))],
)
def test_as_result_puts_the_output_in_the_modules_layout(time_major, batch_first, shape):
    lstm = nn.LSTM(3, 4, batch_first=batch_first)
    produced = np.arange(40, dtype=np.float32).reshape((5, 2, 4) if time_major else (2, 5, 4))
    h, c = [np.ones((2, 4), np.float32)], [np.full((2, 4), 2, np.float32)]
    output, (h_n, c_n) = as_result(lstm, produced, h, c, time_major=time_major)
    assert tuple(output.shape) == shape
    # element (t=1, b=0) is the same number whichever layout it went through
    at = (1, 0) if time_major else (0, 1)
    assert output[(1, 0) if not batch_first else (0, 1)][0].item() == produced[at][0]
    assert torch.equal(h_n, torch.ones(1, 2, 4))
    assert torch.equal(c_n, torch.full((1, 2, 4), 2.0))


def test_as_result_of_a_gru_is_output_and_h_n_in_the_computed_dtype():
    gru = nn.GRU(3, 4, bidirectional=True)
    output, h_n = as_result(gru, np.zeros((5, 2, 8)), [np.zeros((2, 4))] * 2, time_major=True)
    assert isinstance(h_n, torch.Tensor)
    assert tuple(h_n.shape) == (2, 2, 4)
    assert output.dtype == torch.float64  # the framework's dtype, not the module's
