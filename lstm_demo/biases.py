"""Where ``nn.LSTM``'s, ``nn.GRU``'s and ``nn.RNN``'s two bias vectors go: moved, or set gate by gate."""

from __future__ import annotations

from collections.abc import Sequence
from typing import TypeVar

import torch
from torch import nn

from lstm_demo._copying import copy_module
from lstm_demo._validate import check_module

M = TypeVar("M", bound=nn.RNNBase)

#: Gates per block of rows in each class's weights: nn.LSTM i, f, g, o; nn.GRU r, z, n; nn.RNN one.
_GATE_COUNT = {nn.LSTM: 4, nn.GRU: 3, nn.RNN: 1}

#: A bias that holds a sigmoid at exactly 1, since sigmoid(50 - a few) rounds to 1 in float32 and float64.
OPEN = 50.0


def move_bias_hh(rnn: M, gates: Sequence[int] | None = None) -> M:
    """A copy of ``rnn`` with ``bias_hh`` moved into ``bias_ih``, in every layer and direction.

    Each moved block of rows is added to ``bias_ih`` and zeroed in
    ``bias_hh``, so their sum stays the same; ``rnn`` is not changed.

    Parameters
    ----------
    rnn : nn.LSTM, nn.GRU or nn.RNN
        A module with ``bias=True``.
    gates : sequence of int, optional
        The gate blocks to move, by position in the module's gate order
        (``nn.LSTM``: 0-3 for i, f, g, o; ``nn.GRU``: 0-2 for r, z, n;
        ``nn.RNN``: 0). Default: all.

    Raises
    ------
    TypeError
        If ``rnn`` is not an ``nn.LSTM``, ``nn.GRU`` or ``nn.RNN``.
    ValueError
        If ``rnn`` has no biases, or a gate is not one of its gates.

    Examples
    --------
    >>> import torch
    >>> from torch import nn
    >>> from lstm_demo.biases import move_bias_hh
    >>> gru = nn.GRU(3, 2)
    >>> moved = move_bias_hh(gru, gates=[0, 1])  # r and z, not n
    >>> moved.bias_hh_l0.tolist()[:4], bool(moved.bias_hh_l0[4:].ne(0).all())
    ([0.0, 0.0, 0.0, 0.0], True)
    >>> torch.testing.assert_close(moved.bias_ih_l0 + moved.bias_hh_l0, gru.bias_ih_l0 + gru.bias_hh_l0)
    """
    cls = check_module(rnn)
    if not rnn.bias:
        msg = "Expected a module with bias=True, but got bias=False instead."
        raise ValueError(msg)
    count = _GATE_COUNT[cls]
    chosen = list(range(count)) if gates is None else list(gates)
    wrong = [g for g in chosen if isinstance(g, bool) or not isinstance(g, int) or not 0 <= g < count]
    if wrong or not chosen:
        msg = f"Expected gates from 0 to {count - 1} for an {cls.__name__}, but got {chosen} instead."
        raise ValueError(msg)
    moved = copy_module(rnn)
    with torch.no_grad():
        for name, bias_hh in _biases(moved, "bias_hh"):
            bias_ih = getattr(moved, name.replace("bias_hh", "bias_ih"))
            for rows in (_gate_rows(rnn, g) for g in chosen):
                bias_ih[rows] += bias_hh[rows]
                bias_hh[rows] = 0
    return moved


def _biases(module: nn.RNNBase, which: str) -> list[tuple[str, torch.Tensor]]:
    """Every ``bias_ih`` (or ``bias_hh``) parameter of every layer and direction, by name."""
    return [(name, p) for name, p in module.named_parameters() if name.startswith(which)]


def _gate_rows(module: nn.RNNBase, gate: int) -> slice:
    """The rows of gate block ``gate`` in a bias vector."""
    return slice(gate * module.hidden_size, (gate + 1) * module.hidden_size)


def set_bias(rnn: M, which: str, gate: int, value: float) -> M:
    """A copy of ``rnn`` with gate block ``gate`` of every ``bias_ih`` or ``bias_hh`` (``which``) set to ``value``.

    Examples
    --------
    >>> from torch import nn
    >>> from lstm_demo.biases import set_bias
    >>> set_bias(nn.LSTM(2, 1), "bias_ih", 1, 2.0).bias_ih_l0.tolist()[1]
    2.0
    """
    if which not in ("bias_ih", "bias_hh"):
        msg = f"Expected which to be 'bias_ih' or 'bias_hh', but got {which!r} instead."
        raise ValueError(msg)
    changed = copy_module(rnn)
    with torch.no_grad():
        for _, bias in _biases(changed, which):
            bias[_gate_rows(rnn, gate)] = value
    return changed
