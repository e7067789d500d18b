"""Claims about notation: Olah's and d2l.ai's LSTM, row-vector kernels, Cho et al.'s GRU."""

from __future__ import annotations

import torch
from torch import nn

from lstm_demo.biases import OPEN, set_bias
from lstm_demo.claims.registry import Forward, Found, Place, claim, max_diff, pairs
from lstm_demo.claims.sizes import BATCH, HIDDEN, IN, SEQ
from lstm_demo.notations import d2l_lstm, olah_lstm, row_vector_lstm
from lstm_demo.scratch import scratch_gru


@claim(
    "olah-notation",
    "Olah's W [h_{t-1}, x_t] + b, with W = [W_hh | W_ih] per gate and b = bias_ih + bias_hh, equals "
    "nn.LSTM, and so does d2l.ai's row-vector form, whose candidate C~_t is PyTorch's g_t.",
    olah=olah_lstm,
    d2l=d2l_lstm,
)
def olah_notation(at: Place, *, olah: Forward, d2l: Forward) -> Found:
    """Claim: Olah's "Understanding LSTM Networks" equations and d2l.ai's LSTM from scratch equal ``nn.LSTM``.

    Olah writes each gate as one matrix on the concatenation ``[h_{t-1},
    x_t]``: that matrix is ``weight_hh`` and ``weight_ih``'s rows for the gate
    side by side, and his ``b`` is the sum of PyTorch's two biases. d2l.ai
    multiplies row vectors, ``X W_xi + H W_hi + b_i``, so its ``W_xi`` is
    ``weight_ih``'s rows for the gate, transposed; its ``C_tilde`` uses the
    third block, PyTorch's ``g``. The note gives how far the same ``W`` on
    ``[x_t, h_{t-1}]`` (the other order) is.

    Examples
    --------
    >>> from lstm_demo.claims import olah_notation
    >>> result = olah_notation()
    >>> result.holds, list(result.comparisons)[:3]
    (True, ['Olah: output', 'Olah: h_n', 'Olah: c_n'])
    """
    lstm = at.lstm(IN, HIDDEN)
    x = at.randn(SEQ, BATCH, IN)
    with torch.no_grad():
        expected = lstm(x)
        found = {"Olah": olah(lstm, x), "d2l": d2l(lstm, x)}
        swapped, _ = olah_lstm(lstm, x, x_first=True)
    compared = {
        f"{label}: {k}": pair
        for label, result in found.items()
        for k, pair in pairs(result, expected).items()
    }
    return compared, (
        f"Olah's W on [x_t, h_(t-1)] (the other order): output differs by {max_diff(swapped, expected[0]):.3g}",
    )


@claim(
    "row-vector",
    "Row-vector code x @ kernel + h @ recurrent_kernel + bias, with kernel = weight_ih.T of shape "
    "(in, 4H) in the gate order i, f, g, o (Keras's i, f, c, o), equals nn.LSTM.",
    forward=row_vector_lstm,
)
def row_vector(at: Place, *, forward: Forward) -> Found:
    """Claim: the transposed, fused ``(in, 4H)`` layout of Keras and row-vector code equals ``nn.LSTM``.

    Keras's ``LSTM`` keeps ``kernel`` ``(in, 4H)``, ``recurrent_kernel``
    ``(H, 4H)`` and one ``bias`` of ``4H``, gates in the order i, f, c, o:
    PyTorch's ``weight_ih.T``, ``weight_hh.T`` and ``bias_ih + bias_hh``. The
    note gives how far the same kernel read in TensorFlow 1's ``LSTMCell``
    order i, j, f, o (``j`` its candidate) is.

    Examples
    --------
    >>> from lstm_demo.claims import row_vector
    >>> result = row_vector()
    >>> result.holds, list(result.comparisons)
    (True, ['output', 'h_n', 'c_n'])
    """
    lstm = at.lstm(IN, HIDDEN)
    x = at.randn(SEQ, BATCH, IN)
    with torch.no_grad():
        expected = lstm(x)
        found = pairs(forward(lstm, x), expected)
        tf_order, _ = row_vector_lstm(lstm, x, order=("i", "g", "f", "o"))
    return found, (
        f"the kernel read in the order i, j, f, o as i, f, g, o: output differs by {max_diff(tf_order, expected[0]):.3g}",
    )


@claim(
    "cho-gru",
    "nn.GRU applies the reset gate after the hidden product, r * (W_hn h + b_hn), as its equations "
    "written out do; Cho et al.'s form W_hn (r * h) + b_hn is another function, equal only where r is 1.",
    forward=scratch_gru,
)
def cho_gru(at: Place, *, forward: Forward) -> Found:
    """Claim: ``nn.GRU`` equals :func:`~lstm_demo.scratch.scratch_gru`, PyTorch's form, two layers.

    The note gives how far Cho et al.'s form (``reset_after=False``) is from
    it. With the reset gate held at exactly 1 (its ``bias_ih`` rows set to
    50) the two forms are the same function, which the last comparisons show.
    """
    gru = at.module(lambda: nn.GRU(IN, HIDDEN, num_layers=2))
    x = at.randn(SEQ, BATCH, IN)
    opened = set_bias(gru, "bias_ih", 0, OPEN)
    with torch.no_grad():
        expected = gru(x)
        found = pairs(forward(gru, x), expected)
        cho, _ = scratch_gru(gru, x, reset_after=False)
        more = pairs(scratch_gru(opened, x, reset_after=False), opened(x))
    found.update({f"r held at 1, Cho's form: {k}": pair for k, pair in more.items()})
    return found, (f"Cho et al.'s form, r before W_hn: output differs by {max_diff(cho, expected[0]):.3g}",)
