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


def leaves(result: tuple[object, State]) -> dict[str, torch.Tensor]:
    """A forward's result as named tensors: ``output``, ``h_n`` and, for ``nn.LSTM``, ``c_n``.

    A packed ``output`` (:class:`~torch.nn.utils.rnn.PackedSequence`) gives
    its ``data``. The one way every claim, check and table flattens a
    result.

    Examples
    --------
    >>> import torch
    >>> from torch import nn
    >>> from lstm_demo._types import leaves
    >>> {k: tuple(v.shape) for k, v in leaves(nn.LSTM(3, 4)(torch.zeros(5, 2, 3))).items()}
    {'output': (5, 2, 4), 'h_n': (1, 2, 4), 'c_n': (1, 2, 4)}
    >>> list(leaves(nn.GRU(3, 4)(torch.zeros(5, 3))))
    ['output', 'h_n']
    """
    output, state = result
    data = output if isinstance(output, torch.Tensor) else output.data  # type: ignore[attr-defined]
    if isinstance(state, tuple):
        return {"output": data, "h_n": state[0], "c_n": state[1]}
    return {"output": data, "h_n": state}
