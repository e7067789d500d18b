"""Models more than one part of the site builds, defined once.

Imports only torch, so that the claims, the tolerances' measurement and the
tests can all build the same module.
"""

from __future__ import annotations

from torch import nn


def post_first_model() -> nn.LSTM:
    """The post's first model: ``nn.LSTM(4, 5, batch_first=True)``, every parameter uniform in [-0.08, 0.08].

    The post's section 2 built it so (``nn.init.uniform_(param, -0.08,
    0.08)`` on each parameter). The values come from the global random
    generator: seed it first for the same module every time.

    Examples
    --------
    >>> import torch
    >>> from lstm_demo.models import post_first_model
    >>> _ = torch.manual_seed(0)
    >>> lstm = post_first_model()
    >>> lstm
    LSTM(4, 5, batch_first=True)
    >>> all(bool(p.abs().max() <= 0.08) for p in lstm.parameters())
    True
    """
    lstm = nn.LSTM(4, 5, batch_first=True)
    for param in lstm.parameters():
        nn.init.uniform_(param, -0.08, 0.08)
    return lstm
