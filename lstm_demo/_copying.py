"""Copies of modules that keep cuDNN's single weight buffer."""

from __future__ import annotations

import copy
from typing import TypeVar

from torch import nn

M = TypeVar("M", bound=nn.Module)


def copy_module(module: M) -> M:
    """A deep copy of ``module``; a recurrent one gets its weights packed into one buffer again.

    On a GPU a copied ``nn.LSTM``'s parameters no longer share the single
    buffer cuDNN reads them from, and every call would warn and re-pack them.

    Examples
    --------
    >>> import torch
    >>> from torch import nn
    >>> from lstm_demo._copying import copy_module
    >>> lstm = nn.LSTM(2, 3)
    >>> copied = copy_module(lstm)
    >>> copied is not lstm, torch.equal(copied.weight_ih_l0, lstm.weight_ih_l0)
    (True, True)
    """
    copied = copy.deepcopy(module)
    if isinstance(copied, nn.RNNBase):
        copied.flatten_parameters()
    return copied
