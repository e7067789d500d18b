"""Recover the input of an LSTM from its outputs: one step inverted at a time.

Given an LSTM's parameters, the state before a step and the hidden state
``h`` after it, find an input ``x`` that produces that ``h``. The post this
project grew from printed its model's parameters and outputs but never its
input; :func:`recover_inputs` finds one that reproduces every printed output.
"""

from __future__ import annotations

from dataclasses import dataclass

import torch
from torch import nn

from lstm_demo._validate import describe
from lstm_demo.scratch import lstm_cell


@dataclass(frozen=True)
class StepInversion:
    """The result of :func:`invert_step`."""

    input: torch.Tensor
    """The recovered input, ``(batch, input_size)`` or ``(input_size,)``, float64."""
    state: tuple[torch.Tensor, torch.Tensor]
    """``(h, c)`` after the step, computed from the recovered input, float64."""
    residual: torch.Tensor
    """Per batch row, the greatest ``|h - target|`` left: ``(batch,)`` or ``()``."""

    @property
    def max_residual(self) -> float:
        return float(self.residual.max())


@dataclass(frozen=True)
class InputRecovery:
    """The result of :func:`recover_inputs`."""

    input: torch.Tensor
    """The recovered input, laid out like the module's input, float64."""
    residuals: torch.Tensor
    """The greatest ``|h - target|`` per time step and batch row: ``(seq_len, batch)``."""
    state: tuple[torch.Tensor, torch.Tensor]
    """``(h_n, c_n)`` after the last step, laid out as the module returns them."""

    @property
    def max_residual(self) -> float:
        return float(self.residuals.max())

    def __str__(self) -> str:
        steps = ", ".join(f"{float(r.max()):.2g}" for r in self.residuals)
        return (
            f"recovered input of shape {tuple(self.input.shape)}; greatest |h - target| "
            f"per step: {steps}; overall {self.max_residual:.2g}"
        )


def cell_params(lstm: object) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
    """``(W_ih, W_hh, b_ih + b_hh)`` of a one-layer LSTM or an LSTMCell, in float64, for :func:`cell_step`."""
    if isinstance(lstm, nn.LSTMCell):
        names = ("weight_ih", "weight_hh", "bias_ih", "bias_hh")
        has_bias = lstm.bias
    elif isinstance(lstm, nn.LSTM):
        problems = []
        if lstm.num_layers != 1:
            problems.append(f"num_layers={lstm.num_layers}")
        if lstm.bidirectional:
            problems.append("bidirectional=True")
        if lstm.proj_size:
            problems.append(f"proj_size={lstm.proj_size}")
        if problems:
            msg = (
                "Expected a one-layer, unidirectional nn.LSTM without projection, but got "
                f"{', '.join(problems)} instead: invert one layer at a time (see split_layers)."
            )
            raise ValueError(msg)
        names = ("weight_ih_l0", "weight_hh_l0", "bias_ih_l0", "bias_hh_l0")
        has_bias = lstm.bias
    else:
        msg = f"Expected lstm to be an nn.LSTM or nn.LSTMCell, but got {describe(lstm)} instead."
        raise TypeError(msg)
    w_ih, w_hh = (getattr(lstm, n).detach().double() for n in names[:2])
    bias = torch.zeros(w_ih.shape[0], dtype=torch.float64, device=w_ih.device)
    if has_bias:
        bias = getattr(lstm, names[2]).detach().double() + getattr(lstm, names[3]).detach().double()
    return w_ih, w_hh, bias


def cell_step(
    x: torch.Tensor, h: torch.Tensor, c: torch.Tensor, params: tuple[torch.Tensor, torch.Tensor, torch.Tensor]
) -> tuple[torch.Tensor, torch.Tensor]:
    """One step of :func:`~lstm_demo.scratch.lstm_cell` with the parameters of :func:`cell_params`."""
    w_ih, w_hh, bias = params
    return lstm_cell(x, h, c, w_ih, w_hh, bias_ih=bias)


def _check_tensor(name: str, value: object, shape: tuple[int, ...], device: torch.device) -> torch.Tensor:
    if not isinstance(value, torch.Tensor):
        msg = f"Expected {name} to be a torch.Tensor, but got {describe(value)} instead."
        raise TypeError(msg)
    if tuple(value.shape) != shape:
        msg = f"Expected {name} of shape {shape}, but got {tuple(value.shape)} instead."
        raise ValueError(msg)
    if value.device != device:
        msg = f"Expected {name} on the module's device {device}, but got {value.device} instead."
        raise ValueError(msg)
    if not value.is_floating_point():
        msg = f"Expected {name} of a floating-point dtype, but got {value.dtype} instead."
        raise TypeError(msg)
    return value.detach().double()


def invert_step(
    lstm: nn.LSTM | nn.LSTMCell,
    target: torch.Tensor,
    state: tuple[torch.Tensor, torch.Tensor] | None = None,
    *,
    max_iter: int = 100,
) -> StepInversion:
    """Find the input of one LSTM step that produces the hidden state ``target``.

    Minimises ``sum((h(x) - target)**2)`` over the input ``x`` with L-BFGS
    in float64, starting from zeros, where ``h(x)`` is one step of ``lstm``
    from ``state``. With more hidden units than inputs there are more
    equations than unknowns, so a small residual is evidence that ``target``
    really came from this LSTM; a target printed to 4 decimals can be
    matched to about ``5e-5``.

    Parameters
    ----------
    lstm : nn.LSTM or nn.LSTMCell
        One layer, unidirectional, without ``proj_size``.
    target : torch.Tensor
        The hidden state after the step, ``(batch, hidden_size)`` or
        ``(hidden_size,)``. Every element must lie in (-1, 1), the range of
        ``h = o * tanh(c)``.
    state : tuple of torch.Tensor, optional
        ``(h, c)`` before the step, each shaped like ``target``; zeros when
        omitted.
    max_iter : int
        L-BFGS iterations per round; up to 10 rounds run until the loss stops
        falling.

    Returns
    -------
    StepInversion
        The input (float64), the state after the step, and the residual.

    Raises
    ------
    TypeError
        If ``lstm`` is not an nn.LSTM or nn.LSTMCell, or ``target`` or
        ``state`` are not tensors of the right kind.
    ValueError
        If ``lstm`` has several layers, two directions or a projection; if
        shapes or devices do not match; if ``|target| >= 1`` anywhere; or if
        ``max_iter < 1``.

    Examples
    --------
    Recover a known input from the hidden state it produced:

    >>> import torch
    >>> from torch import nn
    >>> from lstm_demo.recover import invert_step
    >>> _ = torch.manual_seed(0)
    >>> cell = nn.LSTMCell(3, 6, dtype=torch.float64)
    >>> x = torch.randn(2, 3, dtype=torch.float64)
    >>> h, c = cell(x)
    >>> result = invert_step(cell, h.detach())
    >>> result.max_residual < 1e-10, torch.allclose(result.input, x, atol=1e-6)
    (True, True)
    """
    w_ih, w_hh, bias = cell_params(lstm)
    hidden, input_size = w_hh.shape[1], w_ih.shape[1]
    device = w_ih.device
    if not isinstance(target, torch.Tensor):
        msg = f"Expected target to be a torch.Tensor, but got {describe(target)} instead."
        raise TypeError(msg)
    if target.dim() not in (1, 2) or target.shape[-1] != hidden:
        msg = (
            f"Expected target of shape (batch, {hidden}) or ({hidden},), "
            f"but got {tuple(target.shape)} instead."
        )
        raise ValueError(msg)
    t = _check_tensor("target", target, tuple(target.shape), device)
    if not bool((t.abs() < 1).all()):
        where = tuple(int(i) for i in torch.unravel_index(t.abs().argmax(), t.shape))
        msg = (
            "Expected every element of target in (-1, 1), the range of h = o * tanh(c), "
            f"but got {float(t[where]):.4g} at {where} instead."
        )
        raise ValueError(msg)
    if isinstance(max_iter, bool) or not isinstance(max_iter, int) or max_iter < 1:
        msg = f"Expected max_iter to be a positive int, but got {max_iter!r} instead."
        raise ValueError(msg)
    if state is None:
        h0 = c0 = torch.zeros_like(t)
    else:
        if not (isinstance(state, (tuple, list)) and len(state) == 2):
            msg = f"Expected state to be a tuple (h, c) of two tensors, but got {describe(state)} instead."
            raise TypeError(msg)
        h0 = _check_tensor("state[0] (h)", state[0], tuple(t.shape), device)
        c0 = _check_tensor("state[1] (c)", state[1], tuple(t.shape), device)

    params = (w_ih, w_hh, bias)
    x = torch.zeros(*t.shape[:-1], input_size, dtype=torch.float64, device=device, requires_grad=True)
    optimizer = torch.optim.LBFGS(
        [x],
        lr=1.0,
        max_iter=max_iter,
        history_size=20,
        tolerance_grad=1e-16,
        tolerance_change=1e-24,
        line_search_fn="strong_wolfe",
    )

    def loss_fn() -> torch.Tensor:
        optimizer.zero_grad()
        loss = (cell_step(x, h0, c0, params)[0] - t).pow(2).sum()
        loss.backward()  # type: ignore[no-untyped-call]  # torch leaves Tensor.backward untyped
        return loss

    best = float("inf")
    for _ in range(10):
        with torch.enable_grad():
            optimizer.step(loss_fn)  # type: ignore[no-untyped-call]  # torch leaves LBFGS.step untyped
        with torch.no_grad():
            loss = float((cell_step(x, h0, c0, params)[0] - t).pow(2).sum())
        if loss >= best * (1 - 1e-9):
            break
        best = loss
    with torch.no_grad():
        found = x.detach()
        h, c = cell_step(found, h0, c0, params)
        residual = (h - t).abs().amax(dim=-1)
    return StepInversion(found, (h, c), residual)


def recover_inputs(
    lstm: nn.LSTM,
    output: torch.Tensor,
    hx: tuple[torch.Tensor, torch.Tensor] | None = None,
    *,
    max_iter: int = 100,
) -> InputRecovery:
    """Recover a whole input sequence from an LSTM's ``output``, one step at a time.

    Inverts each time step with :func:`invert_step`, carrying the state
    computed from the inputs recovered so far, as the module itself carries
    it.

    Parameters
    ----------
    lstm : nn.LSTM
        One layer, unidirectional, without ``proj_size``; ``batch_first``
        either way.
    output : torch.Tensor
        What ``lstm`` returned as ``output``: ``(seq_len, batch, hidden_size)``,
        ``(batch, seq_len, hidden_size)`` when ``batch_first``, or unbatched
        ``(seq_len, hidden_size)``.
    hx : tuple of torch.Tensor, optional
        ``(h_0, c_0)`` as for ``lstm``: ``(1, batch, hidden_size)`` each, or
        ``(1, hidden_size)`` unbatched. Zeros when omitted.
    max_iter : int
        Passed on to :func:`invert_step`.

    Returns
    -------
    InputRecovery
        The input, laid out as ``lstm`` takes it (float64), the residual per
        step and batch row, and the final state.

    Raises
    ------
    TypeError, ValueError
        As :func:`invert_step`, and for an ``output`` or ``hx`` of the wrong
        type or shape.

    Examples
    --------
    >>> import torch
    >>> from torch import nn
    >>> from lstm_demo.recover import recover_inputs
    >>> _ = torch.manual_seed(0)
    >>> lstm = nn.LSTM(3, 5, batch_first=True, dtype=torch.float64)
    >>> x = torch.randn(2, 4, 3, dtype=torch.float64)
    >>> output, _ = lstm(x)
    >>> found = recover_inputs(lstm, output.detach())
    >>> found.input.shape, found.max_residual < 1e-10
    (torch.Size([2, 4, 3]), True)
    """
    if not isinstance(lstm, nn.LSTM):
        msg = f"Expected lstm to be an nn.LSTM, but got {describe(lstm)} instead."
        raise TypeError(msg)
    cell_params(lstm)  # one layer, one direction, no projection
    if not isinstance(output, torch.Tensor):
        msg = f"Expected output to be a torch.Tensor, but got {describe(output)} instead."
        raise TypeError(msg)
    if output.dim() not in (2, 3) or output.shape[-1] != lstm.hidden_size:
        layout = "(batch, seq_len, hidden_size)" if lstm.batch_first else "(seq_len, batch, hidden_size)"
        msg = (
            f"Expected output of shape {layout} or (seq_len, hidden_size) with hidden_size="
            f"{lstm.hidden_size}, but got {tuple(output.shape)} instead."
        )
        raise ValueError(msg)
    batched = output.dim() == 3
    steps = output.transpose(0, 1) if (batched and lstm.batch_first) else output  # time first
    rows = steps.shape[1:-1]
    if steps.shape[0] == 0 or 0 in rows:
        msg = (
            "Expected output with at least one time step (seq_len >= 1) and one sequence, "
            f"but got shape {tuple(output.shape)} instead."
        )
        raise ValueError(msg)
    if hx is None:
        state = None
    else:
        if not (isinstance(hx, (tuple, list)) and len(hx) == 2):
            msg = f"Expected hx to be a tuple (h_0, c_0) of two tensors, but got {describe(hx)} instead."
            raise TypeError(msg)
        shape = (1, *rows, lstm.hidden_size)
        for name, tensor in zip(("h_0", "c_0"), hx, strict=True):
            _check_tensor(name, tensor, shape, output.device)
        state = (hx[0][0], hx[1][0])
    inputs, residuals = [], []
    for target in steps:
        step = invert_step(lstm, target, state, max_iter=max_iter)
        inputs.append(step.input)
        residuals.append(step.residual)
        state = step.state
    found = torch.stack(inputs)
    if batched and lstm.batch_first:
        found = found.transpose(0, 1)
    assert state is not None  # at least one step: checked above
    h_n, c_n = (s.unsqueeze(0) for s in state)
    return InputRecovery(found, torch.stack(residuals).reshape(len(steps), -1), (h_n, c_n))
