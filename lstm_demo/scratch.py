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
multiplied by ``weight_hr_l{k}``: :math:`h_t = W_{hr} (o_t \\odot \\tanh(c_t))`, so
``h`` has ``proj_size`` features while ``c`` keeps ``hidden_size``.
"""

from __future__ import annotations

import functools
from collections.abc import Callable
from typing import TypeAlias

import torch
from torch import nn
from torch.nn import functional as F

from lstm_demo._types import LSTMResult, LSTMState
from lstm_demo._validate import StackSpec, describe

#: ``nn.GRU``'s forward result ``(output, h_n)``.
GRUResult: TypeAlias = "tuple[torch.Tensor, torch.Tensor]"

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
    peephole: torch.Tensor | None = None,
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
    peephole : torch.Tensor, optional
        ``(3, hidden_size)``: diagonal peephole weights ``w_ci, w_cf, w_co``
        (Gers & Schmidhuber), which ``nn.LSTM`` does not have. With them,
        ``c_{t-1}`` also feeds the input and forget gates (``+ w_ci * c_{t-1}``,
        ``+ w_cf * c_{t-1}``) and ``c_t`` the output gate (``+ w_co * c_t``).

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
    return _from_gates(gates, c, weight_hr, peephole)


def _from_gates(
    gates: torch.Tensor,
    c: torch.Tensor,
    weight_hr: torch.Tensor | None,
    peephole: torch.Tensor | None = None,
) -> tuple[torch.Tensor, torch.Tensor]:
    """The new ``(h, c)`` from the four gates' pre-activations (and peepholes, ``(3, hidden_size)``)."""
    i, f, g, o = gates.chunk(4, dim=-1)
    if peephole is not None:
        i, f = i + peephole[0] * c, f + peephole[1] * c
    c = torch.sigmoid(f) * c + torch.sigmoid(i) * torch.tanh(g)
    if peephole is not None:
        o = o + peephole[2] * c
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
    lstm: nn.RNNBase,
    input: torch.Tensor,
    hx: LSTMState | None,
    direction: Direction,
    *,
    layers_read_input: bool = False,
    dropout_always: bool = False,
) -> LSTMResult:
    """``lstm(input, hx)`` with each layer and direction computed by ``direction``; checked input only.

    Handles what every layer and direction share: ``batch_first``, unbatched
    input, zeros for a missing ``hx``, the rows of ``h_n``/``c_n``, dropout
    between layers. ``layers_read_input`` feeds every layer the module's
    input instead of the layer below's output (a mistake the mutants make). ``dropout_always``
    drops out in ``eval()`` mode too (another).
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
            x = F.dropout(x, lstm.dropout, training=lstm.training or dropout_always)
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
    StackSpec.checked(lstm, input, hx, what="lstm", kind=nn.LSTM)
    return run_layers(lstm, input, hx, _direction)


def peephole_lstm(
    lstm: nn.LSTM, input: torch.Tensor, peephole: torch.Tensor | None = None, hx: LSTMState | None = None
) -> LSTMResult:
    """A one-layer LSTM with peephole connections, using ``lstm``'s weights and biases.

    The peephole LSTM of Gers & Schmidhuber: besides ``x_t`` and
    ``h_{t-1}``, the input and forget gates read ``c_{t-1}`` and the output
    gate reads ``c_t``, each through a diagonal weight (one number per unit);
    see :func:`lstm_cell`. ``nn.LSTM`` has no peepholes: with
    ``peephole=None`` this computes what ``lstm(input, hx)`` computes.

    Parameters
    ----------
    lstm : nn.LSTM
        One layer, one direction, no ``proj_size``; its forward is never called.
    input : torch.Tensor
        As for ``lstm`` (``batch_first`` either way, batched or unbatched).
    peephole : torch.Tensor, optional
        ``(3, hidden_size)``: the rows ``w_ci, w_cf, w_co``, on ``lstm``'s
        device and dtype.
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
        If ``lstm`` is not an ``nn.LSTM`` or ``peephole`` not a tensor.
    ValueError
        If ``lstm`` has more than one layer, two directions or a projection, or
        ``peephole``, ``input`` or ``hx`` have the wrong shape, device or dtype.

    Examples
    --------
    >>> import torch
    >>> from torch import nn
    >>> from lstm_demo.scratch import peephole_lstm
    >>> lstm, x = nn.LSTM(3, 4), torch.randn(5, 2, 3)
    >>> torch.testing.assert_close(peephole_lstm(lstm, x), lstm(x))
    >>> output, (h_n, c_n) = peephole_lstm(lstm, x, torch.full((3, 4), 0.5))
    >>> output.shape, bool((output - lstm(x)[0]).abs().max() > 1e-3)
    (torch.Size([5, 2, 4]), True)
    """
    if not isinstance(lstm, nn.LSTM):
        msg = f"Expected lstm to be an nn.LSTM, but got {describe(lstm)} instead."
        raise TypeError(msg)
    if lstm.num_layers != 1 or lstm.bidirectional or lstm.proj_size:
        msg = (
            "Expected an nn.LSTM with one layer, one direction and no proj_size, but got "
            f"num_layers={lstm.num_layers}, bidirectional={lstm.bidirectional}, "
            f"proj_size={lstm.proj_size} instead."
        )
        raise ValueError(msg)
    spec = StackSpec.of(lstm)
    if peephole is not None:
        if not isinstance(peephole, torch.Tensor):
            msg = f"Expected peephole to be a tensor or None, but got {describe(peephole)} instead."
            raise TypeError(msg)
        wanted = (3, spec.hidden_size)
        if tuple(peephole.shape) != wanted:
            msg = f"Expected peephole of shape {wanted}, but got {describe(peephole)} instead."
            raise ValueError(msg)
        if peephole.device != spec.device or peephole.dtype != spec.dtype:
            msg = (
                f"Expected peephole on {spec.device} in {spec.dtype}, but got {peephole.device} "
                f"in {peephole.dtype} instead."
            )
            raise ValueError(msg)
    spec.check(input, hx)

    def direction(
        lstm: nn.LSTM, name: str, x: torch.Tensor, state: tuple[torch.Tensor, torch.Tensor], *, reverse: bool
    ) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
        h, c = state
        outputs = []
        for x_t in x:
            h, c = lstm_cell(
                x_t,
                h,
                c,
                lstm.get_parameter("weight_ih_l0"),
                lstm.get_parameter("weight_hh_l0"),
                bias_ih=lstm.get_parameter("bias_ih_l0") if lstm.bias else None,
                bias_hh=lstm.get_parameter("bias_hh_l0") if lstm.bias else None,
                peephole=peephole,
            )
            outputs.append(h)
        return torch.stack(outputs), h, c

    return run_layers(lstm, input, hx, direction)


def gru_direction(
    gru: nn.GRU,
    name: str,
    x: torch.Tensor,
    state: tuple[torch.Tensor, torch.Tensor],
    *,
    reverse: bool,
    reset_after: bool = True,
    b_hn_inside: bool = True,
    update_offset: float = 0.0,
) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
    """One GRU layer and direction over time-first ``x``; the state's second tensor is unused.

    ``reset_after=False`` is Cho et al.'s form, ``W_hn (r * h) + b_hn``;
    ``b_hn_inside=False`` adds ``b_hn`` outside ``r``, as moving it into
    ``b_in`` does; ``update_offset`` is added to the update gate's
    pre-activation.
    """
    h = state[0]
    w_ih, w_hh = getattr(gru, f"weight_ih_{name}"), getattr(gru, f"weight_hh_{name}")
    w_hr, w_hz, w_hn = w_hh.chunk(3)
    projected = x @ w_ih.T
    b_hr: torch.Tensor | float = 0.0
    b_hz: torch.Tensor | float = 0.0
    b_hn: torch.Tensor | float = 0.0
    if gru.bias:
        projected = projected + getattr(gru, f"bias_ih_{name}")
        b_hr, b_hz, b_hn = getattr(gru, f"bias_hh_{name}").chunk(3)
    steps = range(x.shape[0] - 1, -1, -1) if reverse else range(x.shape[0])
    outputs: list[torch.Tensor] = [x.new_empty(0)] * x.shape[0]
    for t in steps:
        i_r, i_z, i_n = projected[t].chunk(3, dim=-1)
        r = torch.sigmoid(i_r + h @ w_hr.T + b_hr)
        z = torch.sigmoid(i_z + h @ w_hz.T + b_hz + update_offset)
        if not reset_after:
            n = torch.tanh(i_n + (r * h) @ w_hn.T + b_hn)
        elif b_hn_inside:
            n = torch.tanh(i_n + r * (h @ w_hn.T + b_hn))
        else:
            n = torch.tanh(i_n + r * (h @ w_hn.T) + b_hn)
        h = (1 - z) * n + z * h
        outputs[t] = h
    return torch.stack(outputs), h, h


def run_gru(gru: nn.GRU, input: torch.Tensor, hx: torch.Tensor | None, direction: Direction) -> GRUResult:
    """``gru(input, hx)`` with each layer and direction computed by ``direction``; checked input only."""
    state = None if hx is None else (hx, hx)
    output, (h_n, _) = run_layers(gru, input, state, direction)
    return output, h_n


def scratch_gru(
    gru: nn.GRU, input: torch.Tensor, hx: torch.Tensor | None = None, *, reset_after: bool = True
) -> GRUResult:
    """``gru(input, hx)``, computed from the GRU equations with ``gru``'s parameters.

    PyTorch's GRU, gates in the order r, z, n in ``weight_ih``/``weight_hh``
    and both biases:

    .. math::

        r_t &= \\sigma(W_{ir} x_t + b_{ir} + W_{hr} h_{t-1} + b_{hr}) \\\\
        z_t &= \\sigma(W_{iz} x_t + b_{iz} + W_{hz} h_{t-1} + b_{hz}) \\\\
        n_t &= \\tanh(W_{in} x_t + b_{in} + r_t \\odot (W_{hn} h_{t-1} + b_{hn})) \\\\
        h_t &= (1 - z_t) \\odot n_t + z_t \\odot h_{t-1}

    ``reset_after=False`` applies ``r_t`` before the product instead, as Cho
    et al. (2014) wrote the GRU: :math:`W_{hn} (r_t \\odot h_{t-1}) + b_{hn}`,
    which is not what ``nn.GRU`` computes.

    Parameters
    ----------
    gru : nn.GRU
        Any ``num_layers``, bidirectional, ``bias``, ``batch_first``; its
        forward is never called. Dropout between layers is applied as for
        :func:`scratch_lstm`.
    input : torch.Tensor
        As for ``gru``; a ``PackedSequence`` is not supported.
    hx : torch.Tensor, optional
        ``h_0`` as for ``gru``; zeros when omitted.
    reset_after : bool
        Where the reset gate is applied: after ``W_hn h`` (PyTorch) or before (Cho et al.).

    Returns
    -------
    output : torch.Tensor
    h_n : torch.Tensor
        Shaped as ``gru`` returns them.

    Raises
    ------
    TypeError
        If ``gru`` is not an ``nn.GRU``, ``reset_after`` not a bool, or
        ``input``/``hx`` have the wrong type.
    ValueError
        If ``input`` or ``hx`` have the wrong shape, device or dtype.

    Examples
    --------
    >>> import torch
    >>> from torch import nn
    >>> from lstm_demo.scratch import scratch_gru
    >>> gru, x = nn.GRU(3, 4, num_layers=2), torch.randn(5, 2, 3)
    >>> output, h_n = scratch_gru(gru, x)
    >>> output.shape, h_n.shape
    (torch.Size([5, 2, 4]), torch.Size([2, 2, 4]))
    >>> torch.testing.assert_close((output, h_n), gru(x))
    """
    StackSpec.checked(gru, input, hx, what="gru", kind=nn.GRU)
    if not isinstance(reset_after, bool):
        msg = f"Expected reset_after to be a bool, but got {describe(reset_after)} instead."
        raise TypeError(msg)
    return run_gru(gru, input, hx, functools.partial(gru_direction, reset_after=reset_after))
