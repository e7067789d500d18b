"""_copying: copy_module copies parameters and buffers, and repacks a recurrent module's weights."""

from __future__ import annotations

import torch
from torch import nn

from lstm_demo._copying import copy_module


def test_a_copy_has_equal_weights_in_other_storage():
    torch.manual_seed(0)
    lstm = nn.LSTM(3, 4, num_layers=2)
    copied = copy_module(lstm)
    for (name, p), (other, q) in zip(lstm.named_parameters(), copied.named_parameters(), strict=True):
        assert name == other
        assert torch.equal(p, q)
        assert p.data_ptr() != q.data_ptr()
    with torch.no_grad():
        copied.weight_ih_l0.add_(1.0)
    assert not torch.equal(lstm.weight_ih_l0, copied.weight_ih_l0)  # the original is untouched


def test_flatten_parameters_is_called_on_a_recurrent_copy(monkeypatch):
    lstm, linear = nn.LSTM(3, 4), nn.Linear(3, 4)  # built first: nn.LSTM flattens itself when built
    calls = []
    monkeypatch.setattr(nn.LSTM, "flatten_parameters", lambda self: calls.append(type(self).__name__))
    copy_module(lstm)
    copy_module(linear)  # not recurrent: nothing to repack
    assert calls == ["LSTM"]
