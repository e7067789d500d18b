"""Type aliases for what recurrent modules take and return."""

from __future__ import annotations

from typing import TypeAlias

import torch

#: A recurrent module's state: ``h`` (``nn.GRU``, ``nn.RNN``) or ``(h, c)`` (``nn.LSTM``).
State: TypeAlias = "torch.Tensor | tuple[torch.Tensor, torch.Tensor]"

#: What a recurrent module's forward returns: ``(output, h_n)`` or ``(output, (h_n, c_n))``.
Result: TypeAlias = "tuple[torch.Tensor, State]"

#: ``nn.LSTM``'s state ``(h, c)`` and forward result ``(output, (h_n, c_n))``.
LSTMState: TypeAlias = "tuple[torch.Tensor, torch.Tensor]"
LSTMResult: TypeAlias = "tuple[torch.Tensor, LSTMState]"


def state_to(state: State | None, device: torch.device | str) -> State | None:
    """``state`` (``None``, ``h`` or ``(h, c)``) on ``device``."""
    if state is None or isinstance(state, torch.Tensor):
        return None if state is None else state.to(device)
    return state[0].to(device), state[1].to(device)


#: A device as the helpers take it: ``"cpu"``, ``"cuda:0"`` or a ``torch.device``.
Device: TypeAlias = "torch.device | str"
