"""Claims about the variants: dropout, projections, flatten_parameters(), nn.GRU and nn.RNN, GRU's b_hn."""

from __future__ import annotations

import functools
import warnings

import torch
from torch import nn

from lstm_demo._copying import copy_module
from lstm_demo._random import cpu_random
from lstm_demo.biases import OPEN, move_bias_hh, set_bias
from lstm_demo.claims.registry import Forward, Found, Pairs, Place, claim, max_diff, pairs, quiet_projection
from lstm_demo.claims.sizes import BATCH, HIDDEN, IN, SEQ
from lstm_demo.layers import module_forward, run_stacked, split_and_stack, split_layers
from lstm_demo.scratch import gru_direction, run_gru, scratch_lstm
from lstm_demo.stepwise import run_stepwise


@claim(
    "dropout",
    "With dropout between layers, nn.LSTM equals its layers stacked with nn.Dropout between them: "
    "always in eval() mode, and in train() mode under the same random state where both draw masks "
    "from the same generator.",
    forward=module_forward,
)
def dropout(at: Place, *, forward: Forward) -> Found:
    """Claim: ``num_layers=2, dropout=p`` is layer 0, ``nn.Dropout(p)``, layer 1.

    In ``eval()`` mode dropout does nothing, on every device. In ``train()``
    mode the two draw random masks; on the CPU both draw them from the CPU
    generator in the same order, so under the same seed they are the same
    masks. cuDNN draws its masks from a generator of its own, so on a GPU the
    train-mode comparison is not made, and a note says so. The independent
    side runs the two-layer module; its layers with ``nn.Dropout`` between
    them are the reference.

    Examples
    --------
    >>> from lstm_demo.claims import dropout
    >>> list(dropout().comparisons)
    ['eval(): output', 'eval(): h_n', 'train(), same seed: output', 'train(), same seed: h_n']
    """
    lstm = at.lstm(IN, HIDDEN, num_layers=2, dropout=0.5)
    layer_0, layer_1 = split_layers(lstm)
    drop = nn.Dropout(0.5)
    x = at.randn(SEQ, BATCH, IN)
    lstm.eval()
    with torch.no_grad():
        out_eval, (h_eval, _) = forward(lstm, x)
        stacked_eval, (h_stacked, _) = run_stacked([layer_0.eval(), layer_1.eval()], x)
    found = {"eval(): output": (out_eval, stacked_eval), "eval(): h_n": (h_eval, h_stacked)}
    if at.device.type != "cpu":
        return found, (
            f"train() mode not compared on {at.device.type}: cuDNN can draw its own dropout masks",
        )
    lstm.train()
    with torch.no_grad():
        with cpu_random(at.seed + 3):  # the same masks for both: the same generator state
            out_train, (h_train, _) = forward(lstm, x)
        with cpu_random(at.seed + 3):
            y, (h_0, _) = layer_0(x)
            out_stacked, (h_1, _) = layer_1(drop(y))
    found["train(), same seed: output"] = (out_train, out_stacked)
    found["train(), same seed: h_n"] = (h_train, torch.cat([h_0, h_1]))
    return found


@claim(
    "projection",
    "With proj_size=P, h (and output) has P features and c keeps hidden_size: "
    "h = W_hr (o * tanh(c)), as the equations written out compute it.",
    forward=scratch_lstm,
)
def projection(at: Place, *, forward: Forward) -> Found:
    """Claim: ``nn.LSTM(proj_size=P)`` equals :func:`~lstm_demo.scratch.scratch_lstm` with ``W_hr``.

    Examples
    --------
    >>> from lstm_demo.claims import projection
    >>> result = projection()
    >>> result.holds, result.notes[0]
    (True, 'h_n (2, 3, 2), c_n (2, 3, 4): proj_size 2, hidden_size 4')
    """
    lstm = at.lstm(IN, HIDDEN, num_layers=2, proj_size=2)
    x = at.randn(SEQ, BATCH, IN)
    with torch.no_grad(), quiet_projection():
        output, (h_n, c_n) = lstm(x)
        found = pairs(forward(lstm, x), (output, (h_n, c_n)))
    return found, (f"h_n {tuple(h_n.shape)}, c_n {tuple(c_n.shape)}: proj_size 2, hidden_size {HIDDEN}",)


def _post_claims(
    module: nn.RNNBase, x: torch.Tensor, stepwise: Forward, stacked: Forward, prefix: str = ""
) -> Pairs:
    """The post's two claims on ``module``: its comparisons, labelled by claim."""
    with torch.no_grad():
        whole = module(x)
        found = {"one step at a time": stepwise(module, x), "stacked layers": stacked(module, x)}
    return {
        f"{prefix}{label}: {k}": pair
        for label, result in found.items()
        for k, pair in pairs(result, whole).items()
    }


@claim(
    "gru",
    "The post's two claims hold for nn.GRU (gates r, z, n): one step at a time, and num_layers=2 as two layers.",
    stepwise=run_stepwise,
    stacked=split_and_stack,
)
def gru(at: Place, *, stepwise: Forward, stacked: Forward) -> Pairs:
    """Claim: the post's two answers hold for ``nn.GRU`` too."""
    module = at.module(lambda: nn.GRU(IN, HIDDEN, num_layers=2))
    return _post_claims(module, at.randn(SEQ, BATCH, IN), stepwise, stacked)


@claim(
    "rnn",
    "The post's two claims hold for nn.RNN, tanh and relu: one step at a time, and num_layers=2 as two layers.",
    stepwise=run_stepwise,
    stacked=split_and_stack,
)
def rnn(at: Place, *, stepwise: Forward, stacked: Forward) -> Pairs:
    """Claim: the post's two answers hold for ``nn.RNN`` with either nonlinearity."""
    x = at.randn(SEQ, BATCH, IN)
    found: Pairs = {}
    for nonlinearity in ("tanh", "relu"):
        module = at.module(functools.partial(nn.RNN, IN, HIDDEN, num_layers=2, nonlinearity=nonlinearity))
        found.update(_post_claims(module, x, stepwise, stacked, prefix=f"{nonlinearity}, "))
    return found


@claim(
    "flatten",
    "Weights replaced by hand give the same results before and after flatten_parameters(), "
    "which only moves them back into one contiguous buffer.",
    forward=module_forward,
)
def flatten(at: Place, *, forward: Forward) -> Found:
    """Claim: ``flatten_parameters()`` changes where the weights live, not the results.

    Replacing a parameter's tensor (``weight.data = new``) takes it out of the
    single buffer cuDNN wants its weights in; on a GPU, the next forward warns
    ("RNN module weights are not part of single contiguous chunk of memory")
    and copies them on every call until ``flatten_parameters()`` packs them
    again. The CPU has no such buffer and never warns. Here every parameter
    is replaced by new values (1.5 times the old), so a forward that kept
    using the old weights would be caught; the reference is a copy of the
    module made after the replacement, with its own buffer. The notes say
    which warnings this run saw, and how far the new weights move the output.
    The independent side runs the module itself, before and after.

    Examples
    --------
    >>> from lstm_demo.claims import flatten
    >>> result = flatten()
    >>> result.holds, result.notes[0]
    (True, 'warning before flatten_parameters(): no; after: no')
    """
    lstm = at.lstm(IN, HIDDEN, num_layers=2)
    x = at.randn(SEQ, BATCH, IN)
    built = copy_module(lstm)
    with torch.no_grad():
        first, _ = forward(lstm, x)
        for param in lstm.parameters():
            param.data = param.data * 1.5  # new values in a fresh tensor, outside any flat buffer
    replaced = copy_module(lstm)  # the new weights, packed into a buffer of its own

    def run() -> tuple[torch.Tensor, bool]:
        with warnings.catch_warnings(record=True) as caught, torch.no_grad():
            warnings.simplefilter("always")
            output, _ = forward(lstm, x)
        return output, any("contiguous chunk of memory" in str(w.message) for w in caught)

    before, warned_before = run()
    lstm.flatten_parameters()
    after, warned_after = run()
    with torch.no_grad():
        expected, _ = replaced(x)
        original, _ = built(x)
    yes_no = {True: "yes", False: "no"}
    found = {
        "output, weights as built": (first, original),
        "output, weights replaced": (before, expected),
        "output, after flatten_parameters()": (after, expected),
    }
    return found, (
        f"warning before flatten_parameters(): {yes_no[warned_before]}; after: {yes_no[warned_after]}",
        f"the replaced weights move the output by {max_diff(expected, original):.3g}",
    )


@claim(
    "gru-bias",
    "In nn.GRU, b_hr and b_hz can move into b_ir and b_iz without changing anything, but b_hn cannot: "
    "it sits inside r * (W_hn h + b_hn), unless r is 1.",
    forward=module_forward,
)
def gru_bias(at: Place, *, forward: Forward) -> Found:
    """Claim: GRU's ``b_hn`` is not redundant; ``b_hr`` and ``b_hz`` are.

    :func:`~lstm_demo.biases.move_bias_hh` moves the r and z blocks (gates 0
    and 1) of every ``bias_hh`` into ``bias_ih``: ``nn.GRU`` gives the same
    output and ``h_n``. Moving the n block instead equals the written-out
    equations with ``b_hn`` added outside ``r``; the note says by how much
    that differs from ``nn.GRU``. With the reset gate held at exactly 1 (its
    ``bias_ih`` rows set to 50), moving ``b_hn`` changes nothing. The
    independent side runs the modules with moved biases.
    """
    module = at.module(lambda: nn.GRU(IN, HIDDEN, num_layers=2))
    x = at.randn(SEQ, BATCH, IN)
    outside = functools.partial(gru_direction, b_hn_inside=False)
    opened = set_bias(module, "bias_ih", 0, OPEN)
    with torch.no_grad():
        expected = module(x)
        found = pairs(forward(move_bias_hh(module, gates=[0, 1]), x), expected)
        n_moved = move_bias_hh(module, gates=[2])(x)
        more = {
            "b_hn moved vs b_hn outside r": pairs(n_moved, run_gru(module, x, None, outside)),
            "r held at 1, b_hn moved": pairs(forward(move_bias_hh(opened, gates=[2]), x), opened(x)),
        }
    for label, extra in more.items():
        found.update({f"{label}: {k}": pair for k, pair in extra.items()})
    return found, (f"b_hn moved into b_in: output differs by {max_diff(n_moved[0], expected[0]):.3g}",)
