"""biases: set_bias sets one gate block of every bias vector, and refuses other names."""

from __future__ import annotations

import pytest
import torch
from torch import nn

from lstm_demo.biases import OPEN, set_bias


def test_set_bias_sets_one_gate_block_of_every_layer_and_direction():
    torch.manual_seed(0)
    lstm = nn.LSTM(3, 2, num_layers=2, bidirectional=True)
    changed = set_bias(lstm, "bias_hh", 2, 0.5)  # the g block: rows 4 and 5
    for name, bias in changed.named_parameters():
        original = lstm.get_parameter(name)
        if name.startswith("bias_hh"):
            assert bias[4:6].tolist() == [0.5, 0.5]
            assert torch.equal(bias[:4], original[:4])
            assert torch.equal(bias[6:], original[6:])
        else:
            assert torch.equal(bias, original)
    assert not torch.equal(lstm.bias_hh_l0[4:6], torch.full((2,), 0.5))  # the original is untouched


def test_open_holds_a_sigmoid_at_exactly_one():
    for dtype in (torch.float32, torch.float64):
        assert torch.sigmoid(torch.tensor(OPEN - 5.0, dtype=dtype)).item() == 1.0


def test_set_bias_refuses_another_parameter_name():
    with pytest.raises(
        ValueError, match=r"^Expected which to be 'bias_ih' or 'bias_hh', but got 'weight_ih' instead\.$"
    ):
        set_bias(nn.LSTM(3, 2), "weight_ih", 0, 1.0)
