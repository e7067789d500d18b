"""models: the modules more than one part of the site builds."""

from __future__ import annotations

import torch
from torch import nn

from lstm_demo.models import post_first_model
from lstm_demo.tolerances import MODELS


def test_post_first_model_is_the_posts_configuration():
    lstm = post_first_model()
    assert isinstance(lstm, nn.LSTM)
    assert (lstm.input_size, lstm.hidden_size, lstm.num_layers) == (4, 5, 1)
    assert lstm.batch_first
    assert lstm.bias
    assert not lstm.bidirectional


def test_every_parameter_is_uniform_in_the_posts_range():
    torch.manual_seed(0)
    values = torch.cat([p.detach().flatten() for p in post_first_model().parameters()])
    assert values.numel() == 4 * 5 * 4 + 5 * 5 * 4 + 2 * 5 * 4
    assert float(values.abs().max()) <= 0.08
    # PyTorch's default, U(-1/sqrt(5), 1/sqrt(5)), would put most values beyond 0.08.
    assert float(values.abs().max()) > 0.07
    assert abs(float(values.mean())) < 0.01


def test_the_values_follow_the_global_seed():
    torch.manual_seed(3)
    first = post_first_model()
    torch.manual_seed(3)
    second = post_first_model()
    third = post_first_model()
    for a, b, c in zip(first.parameters(), second.parameters(), third.parameters(), strict=True):
        assert torch.equal(a, b)
        assert not torch.equal(a, c)


def test_the_tolerances_measure_this_model():
    assert MODELS[0][1] is post_first_model
