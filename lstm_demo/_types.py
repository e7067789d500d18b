"""Type aliases for what recurrent modules take and return."""

from __future__ import annotations

from typing import TypeAlias

import torch

#: A recurrent module's state: ``h`` (``nn.GRU``, ``nn.RNN``) or ``(h, c)`` (``nn.LSTM``).
State: TypeAlias = "torch.Tensor | tuple[torch.Tensor, torch.Tensor]"

#: What a recurrent module's forward returns: ``(output, h_n)`` or ``(output, (h_n, c_n))``.
Result: TypeAlias = "tuple[torch.Tensor, State]"

#: A device as the helpers take it: ``"cpu"``, ``"cuda:0"`` or a ``torch.device``.
Device: TypeAlias = "torch.device | str"
