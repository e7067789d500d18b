"""nn.LSTM as Flax nnx ``OptimizedLSTMCell`` s and back: :func:`~lstm_demo.ports.to_flax`, :func:`~lstm_demo.ports.lstm_from_flax`.

Flax's cell takes and returns its carry as ``(c, h)``, the other way round
from nn.LSTM's ``(h, c)``: :func:`~lstm_demo.ports.flax_run` takes and returns PyTorch's
order. JAX computes in float32 unless ``jax_enable_x64`` is on;
:func:`~lstm_demo.ports.flax_forward` turns it on (``jax.enable_x64``) for a float64 module.
"""

from __future__ import annotations

from collections.abc import Sequence
from contextlib import AbstractContextManager, nullcontext
from typing import Any

import numpy as np
import torch
from torch import nn

from lstm_demo._types import LSTMResult, LSTMState
from lstm_demo._validate import describe
from lstm_demo.ports.frameworks import require
from lstm_demo.ports.gates import flax_params, lstm_from_flax_params
from lstm_demo.ports.results import as_result, check_input

#: Flax's cells per layer: one, or ``(forward, backward)``.
Cells = tuple[Any, ...]


def _x64_off(dtype: torch.dtype) -> bool:
    return dtype == torch.float64 and not bool(require("jax").config.jax_enable_x64)


def to_flax(lstm: nn.LSTM) -> list[Cells]:
    """``lstm`` as Flax nnx ``OptimizedLSTMCell`` s: per layer, one cell per direction, with its weights.

    The weights are :func:`~lstm_demo.ports.flax_params`; the cells' dtype
    and parameter dtype are the module's.

    Raises
    ------
    TypeError
        If ``lstm`` is not an nn.LSTM.
    ValueError
        If it has a projection, or is float64 while JAX has x64 off (JAX
        would silently compute in float32: turn it on with
        ``jax.config.update("jax_enable_x64", True)`` or ``with
        jax.enable_x64(True):``).
    ~lstm_demo.ports.Unavailable
        If JAX or Flax is not installed.

    Examples
    --------
    >>> from torch import nn
    >>> from lstm_demo.ports import to_flax
    >>> [[type(cell).__name__ for cell in cells] for cells in to_flax(nn.LSTM(3, 4, num_layers=2))]
    [['OptimizedLSTMCell'], ['OptimizedLSTMCell']]
    """
    params = flax_params(lstm)  # checks the module before JAX is imported
    dtype = next(lstm.parameters()).dtype
    if _x64_off(dtype):
        msg = (
            "Expected jax_enable_x64 on for a float64 nn.LSTM, but got it off instead: JAX would "
            "compute in float32. Turn it on with jax.config.update('jax_enable_x64', True) or "
            "`with jax.enable_x64(True):`."
        )
        raise ValueError(msg)
    nnx, jnp = require("flax.nnx"), require("jax.numpy")
    name = str(dtype).removeprefix("torch.")
    layers = []
    for k, cells in enumerate(params):
        features = lstm.input_size if k == 0 else lstm.hidden_size * len(cells)
        built = []
        for arrays in cells:
            cell = nnx.OptimizedLSTMCell(
                features, lstm.hidden_size, dtype=name, param_dtype=name, rngs=nnx.Rngs(0)
            )
            cell.dense_i.kernel[...] = jnp.asarray(arrays["dense_i"]["kernel"])
            cell.dense_h.kernel[...] = jnp.asarray(arrays["dense_h"]["kernel"])
            cell.dense_h.bias[...] = jnp.asarray(arrays["dense_h"]["bias"])
            built.append(cell)
        layers.append(tuple(built))
    return layers


def _layers(cells: Any) -> list[Cells]:
    if type(cells).__name__ == "OptimizedLSTMCell":
        return [(cells,)]
    found = []
    for layer in cells if isinstance(cells, Sequence) else [cells]:
        if type(layer).__name__ == "OptimizedLSTMCell":
            found.append((layer,))
        elif isinstance(layer, Sequence):
            found.append(tuple(layer))
        else:
            found.append((layer,))  # not a cell: refused below, not iterated
    for layer in found:
        for cell in layer:
            if type(cell).__name__ != "OptimizedLSTMCell":
                msg = f"Expected Flax nnx OptimizedLSTMCells, but got {describe(cell)} instead."
                raise TypeError(msg)
    return found


def lstm_from_flax(cells: Any, *, batch_first: bool = True) -> nn.LSTM:
    """The ``nn.LSTM`` that computes what these Flax nnx ``OptimizedLSTMCell`` s compute.

    ``cells``: one cell, or per layer a cell or ``(forward, backward)``
    cells. The one bias becomes ``bias_ih`` (``bias_hh`` zero).
    ``batch_first`` defaults to ``nnx.RNN``'s batch-major layout.

    Raises
    ------
    TypeError
        If a cell is not an ``OptimizedLSTMCell``.
    ValueError
        If a cell's gate function is not sigmoid or its activation not
        tanh, or the layers' widths do not chain.

    Examples
    --------
    >>> import torch
    >>> from torch import nn
    >>> from lstm_demo.ports import lstm_from_flax, to_flax
    >>> lstm = nn.LSTM(3, 4, bidirectional=True, bias=False)
    >>> back = lstm_from_flax(to_flax(lstm), batch_first=False)
    >>> all(torch.equal(a, b) for a, b in zip(back.parameters(), lstm.parameters()))
    True
    """
    layers = _layers(cells)
    for layer in layers:
        for cell in layer:
            for option, want in (("gate_fn", "sigmoid"), ("activation_fn", "tanh")):
                got = getattr(getattr(cell, option), "__name__", repr(getattr(cell, option)))
                if got != want:
                    msg = f"Expected {option}={want} (what nn.LSTM computes), but got {got} instead."
                    raise ValueError(msg)
    params = [
        tuple(
            {
                "dense_i": {"kernel": np.asarray(cell.dense_i.kernel[...])},
                "dense_h": {
                    "kernel": np.asarray(cell.dense_h.kernel[...]),
                    "bias": np.asarray(cell.dense_h.bias[...]),
                },
            }
            for cell in layer
        )
        for layer in layers
    ]
    return lstm_from_flax_params(params, batch_first=batch_first)


def flax_run(
    layers: Sequence[Cells], input: Any, state: Sequence[tuple[Any, Any]] | None = None
) -> tuple[Any, list[tuple[Any, Any]]]:
    """Run Flax cells over batch-major ``input`` step by step: the last layer's sequence and every ``(h, c)``.

    ``state``: one ``(h, c)`` per layer and direction, in nn.LSTM's order
    (layer 0 forward, layer 0 backward, ...); zeros if omitted. Each cell
    is called with the carry ``(c, h)``, Flax's order. The backward cell
    reads the sequence from the end, and its outputs are put back in time
    order.
    """
    jnp = require("jax.numpy")
    x = jnp.asarray(input)
    finals: list[tuple[Any, Any]] = []
    steps = x.shape[1]
    for k, cells in enumerate(layers):
        outputs = []
        for d, cell in enumerate(cells):
            hidden = cell.hidden_features
            if state is None:
                h = c = jnp.zeros((x.shape[0], hidden), dtype=x.dtype)
            else:
                h, c = (jnp.asarray(s) for s in state[k * len(cells) + d])
            carry = (c, h)  # Flax's order
            ys = [None] * steps
            for t in reversed(range(steps)) if d else range(steps):
                carry, ys[t] = cell(carry, x[:, t])
            c, h = carry
            finals.append((h, c))
            outputs.append(jnp.stack(ys, axis=1))
        x = jnp.concatenate(outputs, axis=-1)
    return x, finals


def flax_forward(lstm: nn.LSTM, input: torch.Tensor, hx: LSTMState | None = None) -> LSTMResult:
    """``lstm(input, hx)`` computed by Flax: :func:`to_flax` of the module, run by :func:`flax_run`.

    A float64 module runs with ``jax.enable_x64(True)``. ``input`` and
    ``hx`` in the module's layout; the result in nn.LSTM's shapes.

    Examples
    --------
    >>> import torch
    >>> from torch import nn
    >>> from lstm_demo.ports import flax_forward
    >>> lstm, x = nn.LSTM(3, 4), torch.randn(5, 2, 3)
    >>> output, (h_n, c_n) = flax_forward(lstm, x)
    >>> torch.testing.assert_close(output, lstm(x)[0]); c_n.shape
    torch.Size([1, 2, 4])
    """
    check_input(input, "Flax")
    if not isinstance(lstm, nn.LSTM):
        msg = f"Expected an nn.LSTM, but got {describe(lstm)} instead."
        raise TypeError(msg)
    jax = require("jax")
    x64: AbstractContextManager[Any] = jax.enable_x64(True) if _x64_off(input.dtype) else nullcontext()
    with x64:
        layers = to_flax(lstm)
        x = input if lstm.batch_first else input.transpose(0, 1)
        state = None
        if hx is not None:
            state = [
                (hx[0][i].detach().cpu().numpy(), hx[1][i].detach().cpu().numpy()) for i in range(len(hx[0]))
            ]
        output, finals = flax_run(layers, x.detach().cpu().numpy(), state)
        h, c = zip(*finals, strict=True)
        y, (h_n, c_n) = as_result(lstm, output, h, c, time_major=False, device=input.device)
    return y, (h_n, c_n)


__all__ = ["flax_forward", "flax_run", "lstm_from_flax", "to_flax"]
