"""Claims about what a GPU changes: cuDNN's training-mode backward, runs that repeat."""

from __future__ import annotations

import functools

import torch
from torch import nn

from lstm_demo._gradients import gradients
from lstm_demo.claims.registry import Forward, Found, Place, claim
from lstm_demo.claims.sizes import BATCH, HIDDEN, IN, SEQ
from lstm_demo.layers import module_forward
from lstm_demo.precision import cudnn


@claim(
    "eval-backward",
    "Without dropout, backward in eval() mode gives the gradients of train() mode computed the same "
    "way; where cuDNN refuses backward in eval() mode, both run on PyTorch's own kernels (cuDNN off).",
    forward=module_forward,
)
def eval_backward(at: Place, *, forward: Forward) -> Found:
    """Claim: ``eval()`` changes no gradient of an LSTM without dropout, even where cuDNN refuses it.

    cuDNN's RNN backward needs what its training-mode forward keeps; called
    after an ``eval()``-mode forward, PyTorch raises ``cudnn RNN backward can
    only be called in training mode``. The claim runs backward in both modes;
    where the ``eval()`` run raises, it runs both again inside
    :func:`~lstm_demo.precision.cudnn` (``False``), and its note quotes the
    error. The CPU never uses cuDNN, and its note says that ``eval()``
    backward ran. The independent side runs the ``eval()``-mode backward.

    Examples
    --------
    >>> from lstm_demo.claims import eval_backward
    >>> result = eval_backward()
    >>> result.holds, result.notes
    (True, ('eval() backward ran: no cuDNN on this device',))
    """
    lstm = at.lstm(IN, HIDDEN, num_layers=2)
    x = at.randn(SEQ, BATCH, IN)
    train = gradients(lstm.train(), x)
    try:
        evaluated = gradients(lstm.eval(), x, forward)
        note = (
            "eval() backward ran: no cuDNN on this device"
            if at.device.type != "cuda"
            else "eval() backward ran"
        )
    except RuntimeError as error:
        with cudnn(False):
            evaluated = gradients(lstm.eval(), x, forward)
            train = gradients(lstm.train(), x)
        note = f"cuDNN refused: {error}; both modes repeated with cuDNN off"
    return {f"gradient of {k}": (evaluated[k], train[k]) for k in train}, (note,)


@claim(
    "repeatable",
    "Two runs from the same seed repeat each other on one device, forward and backward, "
    "in train() mode with dropout between layers.",
    forward=module_forward,
)
def repeatable(at: Place, *, forward: Forward) -> Found:
    """Claim: the same seed gives the same dropout masks and the same results, run after run.

    ``nn.LSTM(3, 4, num_layers=3, dropout=0.5)`` in ``train()`` mode, run
    twice after ``torch.manual_seed(1234)`` (inside ``torch.random.fork_rng``, so
    the caller's random state is left alone). The note says whether the two
    runs were also bitwise equal. cuDNN draws its own dropout masks on a GPU,
    so the masks (and results) differ from the CPU's; they still repeat on the
    same device from the same seed. The independent side runs the second run;
    the first is ``nn.LSTM``'s.

    Examples
    --------
    >>> from lstm_demo.claims import repeatable
    >>> result = repeatable()
    >>> result.holds, result.bitwise, result.notes
    (True, True, ('bitwise equal: yes',))
    """
    lstm = at.module(functools.partial(nn.LSTM, IN, HIDDEN, num_layers=3, dropout=0.5)).train()
    x = at.randn(SEQ, BATCH, IN)
    gpus = [at.device] if at.device.type == "cuda" else []

    def run(side: Forward) -> dict[str, torch.Tensor]:
        with torch.random.fork_rng(devices=gpus):
            torch.manual_seed(1234)
            with torch.no_grad():
                output, (h_n, c_n) = side(lstm, x)
            torch.manual_seed(1234)
            grads = gradients(lstm, x, side)
        return {"output": output, "h_n": h_n, "c_n": c_n, **{f"gradient of {k}": g for k, g in grads.items()}}

    first, second = run(module_forward), run(forward)
    bitwise = all(torch.equal(first[k], second[k]) for k in first)
    return {k: (second[k], first[k]) for k in first}, (f"bitwise equal: {'yes' if bitwise else 'no'}",)
