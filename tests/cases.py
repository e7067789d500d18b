"""Parameter lists shared by several test modules."""

from __future__ import annotations

import pytest
from torch import nn

# (class, extra constructor arguments), with readable ids.
MODULES = [
    pytest.param((nn.LSTM, {}), id="lstm"),
    pytest.param((nn.LSTM, {"proj_size": 2}), id="lstm-proj"),
    pytest.param((nn.GRU, {}), id="gru"),
    pytest.param((nn.RNN, {}), id="rnn-tanh"),
    pytest.param((nn.RNN, {"nonlinearity": "relu"}), id="rnn-relu"),
]
CLASSES = [pytest.param(nn.LSTM, id="lstm"), pytest.param(nn.GRU, id="gru"), pytest.param(nn.RNN, id="rnn")]
