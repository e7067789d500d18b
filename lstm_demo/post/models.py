"""The post's two models, built from its printed numbers, and the input it never printed, recovered.

Experiment 1's module takes every printed parameter; experiment 2's takes
the printed weights and either zero or default-initialised biases, which the
post did not print.
"""

from __future__ import annotations

import functools

import torch
from torch import nn

from lstm_demo._random import cpu_random
from lstm_demo.post.printed import EXPERIMENT_1, EXPERIMENT_2
from lstm_demo.recover import InputRecovery, recover_inputs


def experiment_1_lstm(
    *, device: torch.device | str | None = None, dtype: torch.dtype = torch.float32
) -> nn.LSTM:
    """The post's first model: ``nn.LSTM(4, 5, batch_first=True)`` with the printed parameters.

    Examples
    --------
    >>> from lstm_demo.post import experiment_1_lstm
    >>> lstm = experiment_1_lstm()
    >>> lstm
    LSTM(4, 5, batch_first=True)
    >>> print(f"{lstm.weight_ih_l0[0, 0].item():.4f}")
    0.0449
    """
    with cpu_random():  # every parameter is overwritten: leave the caller's stream alone
        lstm = nn.LSTM(4, 5, batch_first=True, device=device, dtype=dtype)
    with torch.no_grad():
        for name, param in lstm.named_parameters():
            param.copy_(EXPERIMENT_1[name].value)
    return lstm


def experiment_1_outputs() -> torch.Tensor:
    """The printed ``out`` of the whole-sequence call, shape ``(batch=2, seq_len=3, 5)``, float64."""
    return EXPERIMENT_1["out"].value


def experiment_1_step_outputs() -> torch.Tensor:
    """The printed ``r_out`` of the three single-step calls, stacked: ``(3, batch=2, 1, 5)``, float64."""
    return torch.stack([EXPERIMENT_1[f"r_out_t{t}"].value for t in range(3)])


BIASES = ("zero", "default")


def experiment_2_lstm(
    *,
    bias: str = "zero",
    seed: int = 1,
    device: torch.device | str | None = None,
    dtype: torch.dtype = torch.float32,
) -> nn.LSTM:
    """The post's second model: ``nn.LSTM(3, 3, num_layers=2)`` with the printed weights.

    The post did not print the biases. ``bias="zero"`` sets them to zero;
    ``bias="default"`` keeps PyTorch's default initialisation,
    ``U(-1/sqrt(3), 1/sqrt(3))``, drawn after ``torch.manual_seed(seed)``.
    With ``seed=1`` these are the biases the post's module was built with
    (the first draws after its ``torch.manual_seed(1)``, see
    ``replay_experiment_2()``), before the post set new parameters.

    Raises
    ------
    ValueError
        If ``bias`` is not ``"zero"`` or ``"default"``.

    Examples
    --------
    >>> from lstm_demo.post import experiment_2_lstm
    >>> lstm = experiment_2_lstm()
    >>> lstm, lstm.bias_ih_l1.abs().max().item()
    (LSTM(3, 3, num_layers=2), 0.0)
    """
    if bias not in BIASES:
        msg = f"Expected bias to be one of {BIASES}, but got {bias!r} instead."
        raise ValueError(msg)
    # Drawn on the CPU, then moved: the same biases whichever the device.
    with cpu_random(seed):
        lstm = nn.LSTM(3, 3, num_layers=2, dtype=dtype)
    lstm = lstm.to(device)
    with torch.no_grad():
        for name, param in lstm.named_parameters():
            if name.startswith("weight"):
                param.copy_(EXPERIMENT_2[name].value)
            elif bias == "zero":
                param.zero_()
    return lstm


def experiment_2_inputs() -> torch.Tensor:
    """The five printed inputs as one sequence, ``(seq_len=5, batch=1, 3)``, float64."""
    return EXPERIMENT_2["inputs"].value


def experiment_2_outputs() -> torch.Tensor:
    """The five printed outputs (``idx`` 0 to 4), ``(seq_len=5, batch=1, 3)``, float64."""
    return EXPERIMENT_2["outputs"].value.reshape(5, 1, 3)


@functools.cache
def recovered_experiment_1_input() -> InputRecovery:
    """The input the post never printed, recovered from its printed outputs.

    :func:`~lstm_demo.recover.recover_inputs` on :func:`experiment_1_lstm`
    in float64, on the CPU. Computed once per process.
    """
    return recover_inputs(experiment_1_lstm(dtype=torch.float64), experiment_1_outputs())
