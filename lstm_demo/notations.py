"""Notations of papers and tutorials, written as functions with ``nn.LSTM``'s forward contract.

Each takes a one-layer ``nn.LSTM`` and a time-first batched input and
returns what ``lstm(input)`` returns, computed the way the source writes
the equations: Olah's "Understanding LSTM Networks" (one matrix on ``[h_{t-1},
x_t]``), d2l.ai's row vectors, and the fused ``(in, 4H)`` kernel of Keras
and row-vector code.
"""

from __future__ import annotations

import torch
from torch import nn

from lstm_demo._types import LSTMResult


def olah_lstm(lstm: nn.LSTM, input: torch.Tensor, *, x_first: bool = False) -> LSTMResult:
    """Olah's form, one layer, time-first batched input: ``W [h_{t-1}, x_t] + b`` per gate.

    ``x_first`` concatenates ``[x_t, h_{t-1}]`` instead, with the same ``W``.
    """
    W = torch.cat(
        [lstm.get_parameter("weight_hh_l0"), lstm.get_parameter("weight_ih_l0")], dim=1
    )  # (4H, H + in): [W_h | W_x] per gate
    b = lstm.get_parameter("bias_ih_l0") + lstm.get_parameter("bias_hh_l0")
    W_i, W_f, W_C, W_o = W.chunk(4)
    b_i, b_f, b_C, b_o = b.chunk(4)
    h = C = input.new_zeros(input.shape[1], lstm.hidden_size)
    outputs = []
    for x_t in input:
        hx = torch.cat([x_t, h] if x_first else [h, x_t], dim=-1)
        f = torch.sigmoid(hx @ W_f.T + b_f)
        i = torch.sigmoid(hx @ W_i.T + b_i)
        C_tilde = torch.tanh(hx @ W_C.T + b_C)
        C = f * C + i * C_tilde
        o = torch.sigmoid(hx @ W_o.T + b_o)
        h = o * torch.tanh(C)
        outputs.append(h)
    return torch.stack(outputs), (h[None], C[None])


def d2l_lstm(lstm: nn.LSTM, input: torch.Tensor) -> LSTMResult:
    """d2l.ai's form, one layer, time-first batched input: ``X W_x + H W_h + b`` per gate, row vectors."""
    H = lstm.hidden_size
    W_xi, W_xf, W_xc, W_xo = torch.split(lstm.get_parameter("weight_ih_l0").T, H, dim=1)  # each (in, H)
    W_hi, W_hf, W_hc, W_ho = torch.split(lstm.get_parameter("weight_hh_l0").T, H, dim=1)  # each (H, H)
    b_i, b_f, b_c, b_o = torch.split(lstm.get_parameter("bias_ih_l0") + lstm.get_parameter("bias_hh_l0"), H)
    state = C = input.new_zeros(input.shape[1], H)
    outputs = []
    for X in input:
        I = torch.sigmoid(X @ W_xi + state @ W_hi + b_i)  # d2l's name
        F = torch.sigmoid(X @ W_xf + state @ W_hf + b_f)
        O = torch.sigmoid(X @ W_xo + state @ W_ho + b_o)
        C_tilde = torch.tanh(X @ W_xc + state @ W_hc + b_c)
        C = F * C + I * C_tilde
        state = O * torch.tanh(C)
        outputs.append(state)
    return torch.stack(outputs), (state[None], C[None])


def row_vector_lstm(
    lstm: nn.LSTM, input: torch.Tensor, *, order: tuple[str, str, str, str] = ("i", "f", "g", "o")
) -> LSTMResult:
    """One layer from a Keras-style fused kernel ``(in, 4H)``, time-first batched input.

    ``order`` says which gate each block of columns is read as.
    """
    kernel = lstm.get_parameter("weight_ih_l0").T  # (in, 4H)
    recurrent_kernel = lstm.get_parameter("weight_hh_l0").T  # (H, 4H)
    bias = lstm.get_parameter("bias_ih_l0") + lstm.get_parameter("bias_hh_l0")  # (4H,)
    h = c = input.new_zeros(input.shape[1], lstm.hidden_size)
    outputs = []
    for x_t in input:
        z = x_t @ kernel + h @ recurrent_kernel + bias  # (batch, 4H)
        gate = dict(zip(order, z.chunk(4, dim=-1), strict=True))
        i, f, o = torch.sigmoid(gate["i"]), torch.sigmoid(gate["f"]), torch.sigmoid(gate["o"])
        c = f * c + i * torch.tanh(gate["g"])
        h = o * torch.tanh(c)
        outputs.append(h)
    return torch.stack(outputs), (h[None], c[None])
