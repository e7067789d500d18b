"""The post's printed outputs next to a live run's: how many of them a run reproduces."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import torch
from torch import nn

from lstm_demo.devices import device_name, resolve_device
from lstm_demo.layers import module_forward, split_and_stack
from lstm_demo.post.models import (
    experiment_1_lstm,
    experiment_1_outputs,
    experiment_2_inputs,
    experiment_2_lstm,
    experiment_2_outputs,
    recovered_experiment_1_input,
)
from lstm_demo.precision import precision_flags
from lstm_demo.stepwise import run_stepwise
from lstm_demo.tolerances import PRINTED_TOLERANCE

#: A run of the post's model: ``forward(lstm, input)``, returning what ``lstm(input)`` returns.
Forward = Callable[..., Any]


@dataclass(frozen=True)
class Reproduction:
    """The post's printed numbers next to the ones a live run computed."""

    experiment: str
    device: torch.device
    dtype: torch.dtype
    printed: torch.Tensor
    """The post's numbers, float64 on the CPU."""
    runs: dict[str, torch.Tensor]
    """Each way of computing them, by name, with values shaped like ``printed`` (float64, on the CPU)."""
    tolerance: float = PRINTED_TOLERANCE

    @property
    def differences(self) -> dict[str, torch.Tensor]:
        """``|ours - printed|`` for each run."""
        return {name: (ours - self.printed).abs() for name, ours in self.runs.items()}

    @property
    def max_difference(self) -> float:
        return max(float(d.max()) for d in self.differences.values())

    @property
    def reproduced(self) -> int:
        """How many printed numbers every run matches within the tolerance."""
        within = torch.stack([d <= self.tolerance for d in self.differences.values()]).all(dim=0)
        return int(within.sum())

    @property
    def total(self) -> int:
        return self.printed.numel()

    @property
    def holds(self) -> bool:
        return self.reproduced == self.total

    def assert_holds(self) -> None:
        """Raise ``AssertionError`` unless every printed number is reproduced."""
        if not self.holds:
            msg = f"the post's numbers were not reproduced:\n{self}\n{self.table()}"
            raise AssertionError(msg)

    def __str__(self) -> str:
        dtype = str(self.dtype).removeprefix("torch.")
        return (
            f"{device_name(self.device)}, {dtype}: {self.reproduced} of {self.total} printed numbers "
            f"reproduced by every run\n"
            f"  greatest |ours - post| {self.max_difference:.2g}, allowed {self.tolerance:g}"
        )

    def table(self) -> str:
        """Every number: where, the post's value, each run's value, the greatest difference."""
        names = list(self.runs)
        widths = [max(12, len(n) + 2) for n in names]
        header = f"{'position':<12}{'post':>9}"
        header += "".join(f"{n:>{w}}" for n, w in zip(names, widths, strict=True)) + f"{'|diff|':>10}"
        lines = [header]
        diffs = torch.stack(list(self.differences.values())).amax(dim=0)
        for flat in range(self.total):
            index = tuple(int(i) for i in torch.unravel_index(torch.tensor(flat), self.printed.shape))
            row = f"{index!s:<12}{float(self.printed[index]):>9.4f}"
            row += "".join(
                f"{float(self.runs[n][index]):>{w}.6f}" for n, w in zip(names, widths, strict=True)
            )
            lines.append(row + f"{float(diffs[index]):>10.1e}")
        return "\n".join(lines)


def _reproduce(
    experiment: str, lstm: nn.LSTM, x: torch.Tensor, runs: dict[str, Forward], printed: torch.Tensor
) -> Reproduction:
    """Each run's output of ``lstm`` on ``x``, TF32 off, next to the ``printed`` numbers."""
    with torch.no_grad(), precision_flags(cudnn_tf32=False):
        outputs = {name: run(lstm, x)[0].detach().cpu().double() for name, run in runs.items()}
    return Reproduction(experiment, x.device, x.dtype, printed, outputs)


def reproduce_experiment_1(
    device: torch.device | str = "cpu",
    dtype: torch.dtype = torch.float32,
    *,
    whole: Forward = module_forward,
    stepwise: Forward = run_stepwise,
) -> Reproduction:
    """The post's 30 printed outputs of experiment 1, from the recovered input.

    Runs :func:`experiment_1_lstm` on :func:`recovered_experiment_1_input`
    (cast to ``dtype``) on ``device``, once on the whole sequence and once one
    step at a time (:func:`~lstm_demo.run_stepwise`). On a GPU, cuDNN's TF32
    is switched off for the run (:func:`~lstm_demo.precision.precision_flags`):
    the post computed in full float32, and TF32's rounding alone can move the
    fourth decimal. ``whole`` and ``stepwise`` are the two runs, as
    functions of ``(lstm, input)``: the mutation suite puts wrong LSTMs there.

    Examples
    --------
    >>> from lstm_demo.post import reproduce_experiment_1
    >>> result = reproduce_experiment_1()
    >>> result.reproduced, result.total, list(result.runs)
    (30, 30, ['whole sequence', 'one step at a time'])
    """
    device = resolve_device(device)
    lstm = experiment_1_lstm(device=device, dtype=dtype)
    x = recovered_experiment_1_input().input.to(device=device, dtype=dtype)
    runs = {"whole sequence": whole, "one step at a time": stepwise}
    return _reproduce("experiment 1", lstm, x, runs, experiment_1_outputs())


def reproduce_experiment_2(
    device: torch.device | str = "cpu",
    dtype: torch.dtype = torch.float32,
    *,
    bias: str = "zero",
    method_1: Forward = run_stepwise,
    method_2: Forward = split_and_stack,
) -> Reproduction:
    """The post's 15 printed outputs of experiment 2, from its printed weights and inputs.

    Runs :func:`experiment_2_lstm` (with ``bias``) on the printed inputs on
    ``device``, the way the post's method 1 did (the two-layer module, one
    input per call), and as two single-layer LSTMs from
    :func:`~lstm_demo.split_layers`, one after the other, each fed the whole
    sequence by :func:`~lstm_demo.run_stacked` (the post's method 2 stepped
    both layers one input at a time). On a GPU, cuDNN's TF32 is switched off
    for the run, as in :func:`reproduce_experiment_1`. ``method_1`` and
    ``method_2`` are the two runs, as functions of ``(lstm, input)``.

    Examples
    --------
    >>> from lstm_demo.post import reproduce_experiment_2
    >>> reproduce_experiment_2().holds, reproduce_experiment_2(bias="default").holds
    (True, False)
    """
    device = resolve_device(device)
    lstm = experiment_2_lstm(bias=bias, device=device, dtype=dtype)
    x = experiment_2_inputs().to(device=device, dtype=dtype)
    return _reproduce(
        "experiment 2", lstm, x, {"num_layers=2": method_1, "stacked": method_2}, experiment_2_outputs()
    )
