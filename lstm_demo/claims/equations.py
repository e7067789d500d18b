"""Claims about what ``nn.LSTM`` computes: the post's two questions, the equations, the biases, no peepholes."""

from __future__ import annotations

from collections.abc import Callable

import torch
from torch import nn

from lstm_demo._types import LSTMResult
from lstm_demo.biases import move_bias_hh, set_bias
from lstm_demo.claims.proof import NUM_LAYERS_VS_STACKED, WHOLE_VS_STEPWISE
from lstm_demo.claims.registry import Forward, Found, Pairs, Place, claim, max_diff, pairs
from lstm_demo.claims.sizes import BATCH, HIDDEN, IN, SEQ
from lstm_demo.layers import module_forward, split_and_stack
from lstm_demo.models import post_first_model
from lstm_demo.scratch import peephole_lstm, scratch_lstm
from lstm_demo.stepwise import run_stepwise


@claim("post-stepwise", WHOLE_VS_STEPWISE, forward=run_stepwise)
def post_stepwise(at: Place, *, forward: Forward) -> Pairs:
    """The post's first question on its model: ``nn.LSTM(4, 5, batch_first=True)``, parameters in [-0.08, 0.08]."""
    lstm = at.module(post_first_model)
    x = at.randn(2, 3, 4)
    with torch.no_grad():
        return pairs(forward(lstm, x), lstm(x))


@claim("post-layers", NUM_LAYERS_VS_STACKED, forward=split_and_stack)
def post_layers(at: Place, *, forward: Forward) -> Pairs:
    """The post's second question on its model: ``nn.LSTM(3, 3, num_layers=2)``, five steps."""
    lstm = at.lstm(3, 3, num_layers=2)
    x = at.randn(5, 1, 3)
    with torch.no_grad():
        return pairs(forward(lstm, x), lstm(x))


@claim("scratch", "The LSTM equations written out in Python equal nn.LSTM.", forward=scratch_lstm)
def scratch(at: Place, *, forward: Forward) -> Pairs:
    """Claim: :func:`~lstm_demo.scratch.scratch_lstm` equals ``nn.LSTM``, two layers, both directions."""
    lstm = at.lstm(IN, HIDDEN, num_layers=2, bidirectional=True)
    x = at.randn(SEQ, BATCH, IN)
    with torch.no_grad():
        return pairs(forward(lstm, x), lstm(x))


def run_cell_loop(lstm: nn.LSTM, input: torch.Tensor) -> LSTMResult:
    """``nn.LSTMCell`` holding ``lstm``'s layer-0 weights, stepped over time-first batched ``input``.

    Returns what a one-layer ``lstm(input)`` returns: ``(output, (h_n, c_n))``.

    Examples
    --------
    >>> import torch
    >>> from torch import nn
    >>> from lstm_demo.claims import run_cell_loop
    >>> lstm, x = nn.LSTM(3, 4), torch.randn(5, 2, 3)
    >>> torch.testing.assert_close(run_cell_loop(lstm, x), lstm(x))
    """
    cell = nn.LSTMCell(lstm.input_size, lstm.hidden_size, device=input.device, dtype=input.dtype)
    with torch.no_grad():
        for name in ("weight_ih", "weight_hh", "bias_ih", "bias_hh"):
            getattr(cell, name).copy_(getattr(lstm, f"{name}_l0"))
    h = c = input.new_zeros(input.shape[1], lstm.hidden_size)
    outputs = []
    for x_t in input:
        h, c = cell(x_t, (h, c))
        outputs.append(h)
    return torch.stack(outputs), (h[None], c[None])


@claim(
    "lstmcell-loop",
    "An nn.LSTMCell in a Python loop, holding nn.LSTM's weights, equals nn.LSTM.",
    forward=run_cell_loop,
)
def lstmcell_loop(at: Place, *, forward: Forward) -> Pairs:
    """Claim: ``nn.LSTMCell`` stepped in a loop (:func:`run_cell_loop`) equals ``nn.LSTM`` with the same weights.

    Examples
    --------
    >>> from lstm_demo.claims import lstmcell_loop
    >>> result = lstmcell_loop()
    >>> result.holds, list(result.comparisons)
    (True, ['output', 'h_n', 'c_n'])
    """
    lstm = at.lstm(IN, HIDDEN)
    x = at.randn(SEQ, BATCH, IN)
    with torch.no_grad():
        return pairs(forward(lstm, x), lstm(x))


@claim(
    "two-biases",
    "nn.LSTM adds two bias vectors, bias_ih and bias_hh, and only their sum matters: bias_hh moved "
    "into bias_ih gives the same output, h_n and c_n; a forget bias of 1 set in both is a forget bias of 2.",
    forward=module_forward,
)
def two_biases(at: Place, *, forward: Forward) -> Found:
    """Claim: only ``bias_ih + bias_hh`` matters; "forget bias 1" in both vectors is a forget bias of 2.

    :func:`~lstm_demo.biases.move_bias_hh` moves every ``bias_hh`` into
    ``bias_ih``. Then the forget gate's rows (``H:2H``, PyTorch's gate order
    i, f, g, o) are set to 1 in both vectors, as a "forget bias = 1" recipe
    applied to every bias parameter does: that equals 2 in ``bias_ih`` and 0
    in ``bias_hh``. The note gives how far that is from the forget bias of 1
    the recipe meant. The independent side runs the modules with moved or
    set biases; ``nn.LSTM`` with the original ones is the reference.

    Examples
    --------
    >>> from lstm_demo.claims import two_biases
    >>> result = two_biases()
    >>> result.holds, list(result.comparisons)
    (True, ['output', 'h_n', 'c_n', 'forget 1 + 1 vs 2 + 0: output'])
    """
    lstm = at.lstm(IN, HIDDEN, num_layers=2)
    x = at.randn(SEQ, BATCH, IN)
    merged = move_bias_hh(lstm)
    both = set_bias(set_bias(lstm, "bias_ih", 1, 1.0), "bias_hh", 1, 1.0)  # the recipe, on both vectors
    two = set_bias(set_bias(lstm, "bias_ih", 1, 2.0), "bias_hh", 1, 0.0)
    meant = set_bias(set_bias(lstm, "bias_ih", 1, 1.0), "bias_hh", 1, 0.0)
    with torch.no_grad():
        found = pairs(forward(merged, x), lstm(x))
        out_both, _ = forward(both, x)
        out_two, _ = two(x)
        out_meant, _ = meant(x)
    found["forget 1 + 1 vs 2 + 0: output"] = (out_both, out_two)
    return found, (
        f"forget bias 1 in both vectors vs 1 in total: output differs by {max_diff(out_both, out_meant):.3g}",
    )


def _without_peepholes(
    lstm: nn.LSTM, input: torch.Tensor, hx: tuple[torch.Tensor, torch.Tensor]
) -> LSTMResult:
    """:func:`~lstm_demo.scratch.peephole_lstm` with no peephole weights: the equations ``nn.LSTM`` computes."""
    return peephole_lstm(lstm, input, None, hx)


@claim(
    "no-peepholes",
    "nn.LSTM has no peephole connections: its gates read x_t and h_{t-1} only, as the equations "
    "without peepholes compute, so c_1 is affine in c_0; a peephole LSTM with the same weights differs.",
    forward=_without_peepholes,
)
def no_peepholes(at: Place, *, forward: Forward) -> Found:
    """Claim: ``nn.LSTM`` equals :func:`~lstm_demo.scratch.peephole_lstm` without peepholes, not with them.

    From a random ``(h_0, c_0)``. The gates do not read ``c``, so one step's
    ``c_1 = f * c_0 + i * g`` is affine in ``c_0``: with ``c_0`` doubled,
    ``c_1`` moves by as much as from zero to ``c_0``. The notes give how far
    a peephole LSTM (Gers & Schmidhuber; peephole weights drawn from N(0, 1))
    with the same other weights is from ``nn.LSTM``, and how far its ``c_1``
    is from affine.
    """
    lstm = at.lstm(IN, HIDDEN)
    x = at.randn(SEQ, BATCH, IN)
    hx = (at.randn(1, BATCH, HIDDEN, offset=2), at.randn(1, BATCH, HIDDEN, offset=3))
    peephole = at.randn(3, HIDDEN, offset=4)
    c_0 = hx[1]
    with torch.no_grad():
        expected = lstm(x, hx)
        found = pairs(forward(lstm, x, hx), expected)

        def c_1(step: Callable[[torch.Tensor], LSTMResult], c: torch.Tensor) -> torch.Tensor:
            return step(c)[1][1]

        def module_step(c: torch.Tensor) -> LSTMResult:
            result: LSTMResult = lstm(x[:1], (hx[0], c))
            return result

        def peephole_step(c: torch.Tensor) -> LSTMResult:
            return peephole_lstm(lstm, x[:1], peephole, (hx[0], c))

        zero = torch.zeros_like(c_0)
        linear = {
            label: (c_1(f, 2 * c_0) - c_1(f, c_0), c_1(f, c_0) - c_1(f, zero))
            for label, f in (("nn.LSTM", module_step), ("peephole", peephole_step))
        }
        with_peepholes, _ = peephole_lstm(lstm, x, peephole, hx)
    found["c_1(2 c_0) - c_1(c_0) vs c_1(c_0) - c_1(0)"] = linear["nn.LSTM"]
    return found, (
        f"peephole LSTM, same weights: output differs by {max_diff(with_peepholes, expected[0]):.3g}",
        f"peephole LSTM: c_1 off affine in c_0 by {max_diff(*linear['peephole']):.3g}",
    )
