"""The gradients the claims, the tolerances and the mutation suite compare."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import torch
from torch import nn


def _call(module: nn.Module, x: torch.Tensor) -> Any:
    return module(x)


def gradients(
    rnn: nn.RNNBase, input: torch.Tensor, forward: Callable[..., Any] | None = None
) -> dict[str, torch.Tensor]:
    """``d (output.sum() + every final state's sum) / d (input, each parameter)``, by name, input first.

    ``forward(rnn, input)`` computes the result (``rnn(input)`` by default), so
    a stand-in for the module's forward can be differentiated the same way.
    Uses :func:`torch.autograd.grad`: the parameters' ``.grad`` are left as
    they were. A parameter the forward never used gets a zero gradient.

    Examples
    --------
    >>> import torch
    >>> from torch import nn
    >>> from lstm_demo._gradients import gradients
    >>> grads = gradients(nn.LSTM(3, 4), torch.randn(5, 2, 3))
    >>> list(grads)
    ['input', 'weight_ih_l0', 'weight_hh_l0', 'bias_ih_l0', 'bias_hh_l0']
    """
    run: Callable[..., Any] = forward if forward is not None else _call
    names, params = zip(*rnn.named_parameters(), strict=True)
    with torch.enable_grad():
        x = input.detach().clone().requires_grad_(True)
        output, state = run(rnn, x)
        states = state if isinstance(state, tuple) else (state,)
        loss = output.sum() + sum(s.sum() for s in states)
        wrt = [x, *params]
        found = torch.autograd.grad(loss, wrt, allow_unused=True)
    return {
        name: torch.zeros_like(w) if g is None else g
        for name, w, g in zip(["input", *names], wrt, found, strict=True)
    }
