"""An LSTM written out by hand: the equations ``nn.LSTM`` computes.

For one layer and one direction, with input ``x_t`` and the previous state
``(h_{t-1}, c_{t-1})``, PyTorch computes

.. math::

    i_t &= \\sigma(W_{ii} x_t + b_{ii} + W_{hi} h_{t-1} + b_{hi}) \\\\
    f_t &= \\sigma(W_{if} x_t + b_{if} + W_{hf} h_{t-1} + b_{hf}) \\\\
    g_t &= \\tanh(W_{ig} x_t + b_{ig} + W_{hg} h_{t-1} + b_{hg}) \\\\
    o_t &= \\sigma(W_{io} x_t + b_{io} + W_{ho} h_{t-1} + b_{ho}) \\\\
    c_t &= f_t \\odot c_{t-1} + i_t \\odot g_t \\\\
    h_t &= o_t \\odot \\tanh(c_t)

``weight_ih_l{k}`` stacks ``W_ii, W_if, W_ig, W_io`` in that order (4 blocks
of ``hidden_size`` rows), ``weight_hh_l{k}`` the ``W_h*`` blocks, and the two
bias vectors are both added. With ``proj_size > 0``, ``h_t`` is further
multiplied by ``weight_hr_l{k}``: ``h_t = W_{hr} (o_t \\odot \\tanh(c_t))``, so
``h`` has ``proj_size`` features while ``c`` keeps ``hidden_size``.
"""

from __future__ import annotations

from collections.abc import Callable

import torch
from torch import nn
from torch.nn import functional as F

from lstm_demo._types import LSTMResult, LSTMState
from lstm_demo._validate import StackSpec, describe

GATES = ("input", "forget", "cell", "output")
"""PyTorch's order of the four gates in ``weight_ih``, ``weight_hh`` and the biases."""


def lstm_cell(
    x: torch.Tensor,
    h: torch.Tensor,
    c: torch.Tensor,
    weight_ih: torch.Tensor,
    weight_hh: torch.Tensor,
    *,
    bias_ih: torch.Tensor | None = None,
    bias_hh: torch.Tensor | None = None,
    weight_hr: torch.Tensor | None = None,
) -> tuple[torch.Tensor, torch.Tensor]:
    """One LSTM step, the equations written out: returns ``(h_t, c_t)``.

    Parameters
    ----------
    x : torch.Tensor
        ``(batch, input_size)``.
    h, c : torch.Tensor
        The previous state: ``(batch, out_size)`` and ``(batch, hidden_size)``.
    weight_ih, weight_hh : torch.Tensor
        ``(4 * hidden_size, input_size)`` and ``(4 * hidden_size, out_size)``,
        gates in the order input, forget, cell, output.
    bias_ih, bias_hh : torch.Tensor, optional
        ``(4 * hidden_size,)`` each.
    weight_hr : torch.Tensor, optional
        ``(proj_size, hidden_size)``: the projection of ``h``.

    Examples
    --------
    One step by hand equals ``nn.LSTMCell``:

    >>> import torch
    >>> from torch import nn
    >>> from lstm_demo.scratch import lstm_cell
    >>> _ = torch.manual_seed(0)
    >>> cell = nn.LSTMCell(3, 4)
    >>> x, h, c = torch.randn(2, 3), torch.randn(2, 4), torch.randn(2, 4)
    >>> mine = lstm_cell(x, h, c, cell.weight_ih, cell.weight_hh, bias_ih=cell.bias_ih, bias_hh=cell.bias_hh)
    >>> torch.testing.assert_close(mine, cell(x, (h, c)))
    """
    gates = x @ weight_ih.T + h @ weight_hh.T
    if bias_ih is not None:
        gates = gates + bias_ih
    if bias_hh is not None:
        gates = gates + bias_hh
    return _from_gates(gates, c, weight_hr)


def _from_gates(
    gates: torch.Tensor, c: torch.Tensor, weight_hr: torch.Tensor | None
) -> tuple[torch.Tensor, torch.Tensor]:
    """The new ``(h, c)`` from the four gates' pre-activations."""
    i, f, g, o = gates.chunk(4, dim=-1)
    c = torch.sigmoid(f) * c + torch.sigmoid(i) * torch.tanh(g)
    h = torch.sigmoid(o) * torch.tanh(c)
    if weight_hr is not None:
        h = h @ weight_hr.T
    return h, c


def _direction(
    lstm: nn.LSTM, name: str, x: torch.Tensor, state: tuple[torch.Tensor, torch.Tensor], *, reverse: bool
) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
    """One layer and direction (``name`` like ``l0`` or ``l1_reverse``) over time-first ``x``."""
    h, c = state
    w_ih, w_hh = getattr(lstm, f"weight_ih_{name}"), getattr(lstm, f"weight_hh_{name}")
    w_hr = getattr(lstm, f"weight_hr_{name}") if lstm.proj_size else None
    # The input projection of every time step in one matrix product: it does
    # not depend on h, so it need not wait for the recurrence. Only h @ W_hh
    # stays inside the loop. Fast implementations (cuDNN, oneDNN) can do the same.
    projected = x @ w_ih.T
    if lstm.bias:
        projected = projected + getattr(lstm, f"bias_ih_{name}") + getattr(lstm, f"bias_hh_{name}")
    steps = range(x.shape[0] - 1, -1, -1) if reverse else range(x.shape[0])
    outputs: list[torch.Tensor] = [x.new_empty(0)] * x.shape[0]
    for t in steps:
        h, c = _from_gates(projected[t] + h @ w_hh.T, c, w_hr)
        outputs[t] = h
    return torch.stack(outputs), h, c


#: One layer and direction of an LSTM over time-first input: ``(lstm, "l1_reverse", x, (h, c), reverse=True)``
#: to ``(output, h, c)``.
Direction = Callable[..., tuple[torch.Tensor, torch.Tensor, torch.Tensor]]


def run_layers(
    lstm: nn.LSTM,
    input: torch.Tensor,
    hx: LSTMState | None,
    direction: Direction,
    *,
    layers_read_input: bool = False,
) -> LSTMResult:
    """``lstm(input, hx)`` with each layer and direction computed by ``direction``; checked input only.

    Handles what every layer and direction share: ``batch_first``, unbatched
    input, zeros for a missing ``hx``, the rows of ``h_n``/``c_n``, dropout
    between layers. ``layers_read_input`` feeds every layer the module's
    input instead of the layer below's output (a mistake the mutants make).
    """
    spec = StackSpec.of(lstm)
    unbatched = input.dim() == 2
    x = input.unsqueeze(1) if unbatched else (input.transpose(0, 1) if lstm.batch_first else input)
    batch = x.shape[1]
    rows = spec.num_layers * spec.directions
    if hx is None:
        h0 = x.new_zeros(rows, batch, spec.out_size)
        c0 = x.new_zeros(rows, batch, spec.hidden_size)
    else:
        h0, c0 = (t.unsqueeze(1) for t in hx) if unbatched else hx
    suffixes = ["", "_reverse"][: spec.directions]
    input_x = x
    h_n, c_n = [], []
    for layer in range(spec.num_layers):
        outputs = []
        for d, suffix in enumerate(suffixes):
            row = layer * spec.directions + d
            source = input_x if layers_read_input else x
            out, h, c = direction(lstm, f"l{layer}{suffix}", source, (h0[row], c0[row]), reverse=d == 1)
            outputs.append(out)
            h_n.append(h)
            c_n.append(c)
        x = torch.cat(outputs, dim=-1)
        if layer < spec.num_layers - 1 and lstm.dropout > 0:
            x = F.dropout(x, lstm.dropout, training=lstm.training)
    output = x.squeeze(1) if unbatched else (x.transpose(0, 1) if lstm.batch_first else x)
    states = torch.stack(h_n), torch.stack(c_n)
    if unbatched:
        states = states[0].squeeze(1), states[1].squeeze(1)
    return output, states


def scratch_lstm(lstm: nn.LSTM, input: torch.Tensor, hx: LSTMState | None = None) -> LSTMResult:
    """``lstm(input, hx)``, computed from the equations with ``lstm``'s parameters.

    Same contract as ``nn.LSTM``'s forward: any ``num_layers``, bidirectional,
    ``proj_size``, ``bias``, ``batch_first``, batched or unbatched input, the
    same ``hx`` layout, the same return value. In ``train()`` mode with
    ``dropout > 0``, dropout is applied between layers as ``nn.LSTM`` does,
    with masks of its own.

    Parameters
    ----------
    lstm : nn.LSTM
        The module whose parameters to use (its forward is never called).
    input : torch.Tensor
        As for ``lstm``; a ``PackedSequence`` is not supported.
    hx : tuple of torch.Tensor, optional
        ``(h_0, c_0)`` as for ``lstm``; zeros when omitted.

    Returns
    -------
    output : torch.Tensor
    (h_n, c_n) : tuple of torch.Tensor
        Shaped as ``lstm`` returns them.

    Raises
    ------
    TypeError
        If ``lstm`` is not an ``nn.LSTM``, or ``input``/``hx`` have the wrong type.
    ValueError
        If ``input`` or ``hx`` have the wrong shape, device or dtype.

    Examples
    --------
    >>> import torch
    >>> from torch import nn
    >>> from lstm_demo.scratch import scratch_lstm
    >>> lstm = nn.LSTM(3, 4, num_layers=2, bidirectional=True)
    >>> x = torch.randn(5, 3)  # unbatched
    >>> output, (h_n, c_n) = scratch_lstm(lstm, x)
    >>> output.shape, h_n.shape, c_n.shape
    (torch.Size([5, 8]), torch.Size([4, 4]), torch.Size([4, 4]))
    >>> torch.testing.assert_close(output, lstm(x)[0])
    """
    if not isinstance(lstm, nn.LSTM):
        msg = f"Expected lstm to be an nn.LSTM, but got {describe(lstm)} instead."
        raise TypeError(msg)
    spec = StackSpec.of(lstm)
    spec.check_input(input)
    spec.check_hx(hx, input)

    return run_layers(lstm, input, hx, _direction)
