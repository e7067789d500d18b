"""What every port's runner shares: the input check, and a framework's arrays as nn.LSTM's result."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import numpy as np
import torch
from torch import nn

from lstm_demo._types import Result
from lstm_demo._validate import describe


def check_input(input: object, framework: str) -> None:
    """Raise ``TypeError`` unless ``input`` is a 3-D tensor (no framework here takes a PackedSequence)."""
    if not isinstance(input, torch.Tensor) or input.dim() != 3:
        msg = f"Expected input to be a 3-D tensor ({framework} takes no PackedSequence), but got {describe(input)} instead."
        raise TypeError(msg)


def as_result(
    module: nn.RNNBase,
    output: Any,
    h: Sequence[Any] | np.ndarray,
    c: Sequence[Any] | np.ndarray = (),
    *,
    time_major: bool,
    device: torch.device | str = "cpu",
) -> Result:
    """A framework's arrays as ``module``'s forward returns them, on ``device``.

    ``output`` is time-major or batch-major as ``time_major`` says and comes
    back in the module's layout; ``h`` (and ``c`` for an LSTM) are the final
    states, one ``(batch, H)`` array per layer and direction in nn.LSTM's
    order, or already stacked. The arrays keep the dtype the framework
    computed in.
    """
    y = torch.from_numpy(np.array(output)).to(device)
    if time_major == bool(module.batch_first):
        y = y.transpose(0, 1)
    h_n = torch.from_numpy(np.array(np.stack([np.asarray(a) for a in h]))).to(device)
    if isinstance(module, nn.LSTM):
        return y, (h_n, torch.from_numpy(np.array(np.stack([np.asarray(a) for a in c]))).to(device))
    return y, h_n
