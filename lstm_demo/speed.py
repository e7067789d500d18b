"""How fast each way of running an LSTM is: timed, never asserted.

Timings use :class:`torch.utils.benchmark.Timer`, which synchronises CUDA
around every measurement, after a warm-up call; each figure is the median of
the timer's blocks, and ratios are taken between figures of the same run.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

import torch
from torch import nn
from torch.utils import benchmark

from lstm_demo._random import cpu_random
from lstm_demo.devices import device_name, resolve_device
from lstm_demo.scratch import scratch_lstm
from lstm_demo.stepwise import run_stepwise

FUSED = "nn.LSTM (fused)"
STEPWISE = "run_stepwise"
CELL_LOOP = "nn.LSTMCell loop"
SCRATCH = "scratch_lstm"
COMPILED = "torch.compile(LSTMCell loop)"


@dataclass(frozen=True)
class Timing:
    """One implementation at one size on one device."""

    name: str
    device: torch.device
    batch: int
    hidden: int
    seq_len: int
    backward: bool
    """True when the time covers forward and backward."""
    seconds: float
    """Median time of one call."""

    def __str__(self) -> str:
        what = "fwd+bwd" if self.backward else "fwd"
        return f"{self.name:<30} {what:<8} {self.seconds * 1e3:10.3f} ms"


def _cell_loop(cell: nn.LSTMCell, x: torch.Tensor) -> torch.Tensor:
    h = c = torch.zeros(x.shape[1], cell.hidden_size, device=x.device, dtype=x.dtype)
    outputs = []
    for x_t in x:
        h, c = cell(x_t, (h, c))
        outputs.append(h)
    return torch.stack(outputs)


def _candidates(
    lstm: nn.LSTM, cell: nn.LSTMCell, compiled: bool
) -> dict[str, Callable[[torch.Tensor], torch.Tensor]]:
    found = {
        FUSED: lambda x: lstm(x)[0],
        STEPWISE: lambda x: run_stepwise(lstm, x)[0],
        CELL_LOOP: lambda x: _cell_loop(cell, x),
        SCRATCH: lambda x: scratch_lstm(lstm, x)[0],
    }
    if compiled:
        loop = torch.compile(_cell_loop)
        found[COMPILED] = lambda x: loop(cell, x)
    return found


def time_lstm(
    device: torch.device | str = "cpu",
    *,
    batch: int = 32,
    input_size: int = 64,
    hidden: int = 256,
    seq_len: int = 100,
    backward: bool = False,
    names: tuple[str, ...] | None = None,
    compiled: bool = False,
    min_run_time: float = 0.2,
) -> list[Timing]:
    """Time each implementation of one single-layer LSTM forward (and backward).

    Parameters
    ----------
    device : str or torch.device
        Where to run.
    batch, input_size, hidden, seq_len : int
        The sizes.
    backward : bool
        Time forward plus ``output.sum().backward()``.
    names : tuple of str, optional
        Which implementations (default: all but the compiled one).
    compiled : bool
        Also time ``torch.compile`` of the ``nn.LSTMCell`` loop (its
        compilation happens in the warm-up, outside the timing).
    min_run_time : float
        Seconds each measurement runs for at least.

    Returns
    -------
    list of Timing
        In the order of ``names``.

    Raises
    ------
    ValueError
        If a size is not positive or a name is unknown.

    Examples
    --------
    >>> from lstm_demo.speed import time_lstm
    >>> timings = time_lstm(batch=2, hidden=8, seq_len=4, min_run_time=0.01)
    >>> [t.name for t in timings]
    ['nn.LSTM (fused)', 'run_stepwise', 'nn.LSTMCell loop', 'scratch_lstm']
    """
    for name, size in (
        ("batch", batch),
        ("input_size", input_size),
        ("hidden", hidden),
        ("seq_len", seq_len),
    ):
        if isinstance(size, bool) or not isinstance(size, int) or size < 1:
            msg = f"Expected {name} to be a positive int, but got {size!r} instead."
            raise ValueError(msg)
    device = resolve_device(device)
    with cpu_random(0):
        lstm = nn.LSTM(input_size, hidden).to(device)
        cell = nn.LSTMCell(input_size, hidden).to(device)
        x = torch.randn(seq_len, batch, input_size).to(device)
    candidates = _candidates(lstm, cell, compiled)
    names = tuple(n for n in candidates if n != COMPILED or compiled) if names is None else names
    unknown = [n for n in names if n not in candidates]
    if unknown:
        msg = f"Expected implementation names from {list(candidates)}, but got {unknown} instead."
        raise ValueError(msg)
    timings = []
    for name in names:
        forward = candidates[name]

        def call(forward: Callable[[torch.Tensor], torch.Tensor] = forward) -> None:
            if backward:
                forward(x).sum().backward()
            else:
                with torch.no_grad():
                    forward(x)
            if device.type == "mps":  # torch.utils.benchmark synchronises CUDA only
                torch.mps.synchronize()

        call()  # warm-up: allocations, cuDNN plans, compilation
        timer = benchmark.Timer(stmt="call()", globals={"call": call})
        measurement = timer.blocked_autorange(min_run_time=min_run_time)
        timings.append(Timing(name, device, batch, hidden, seq_len, backward, measurement.median))
    return timings


def ratios(timings: list[Timing], baseline: str = FUSED) -> dict[str, float]:
    """Each timing divided by the baseline's, from the same list (the same run)."""
    base = next(t.seconds for t in timings if t.name == baseline)
    return {t.name: t.seconds / base for t in timings}


def report(timings: list[Timing]) -> str:
    """The timings with their ratio to the fused call, and what they were measured on."""
    first = timings[0]
    threads = f", {torch.get_num_threads()} CPU threads" if first.device.type == "cpu" else ""
    sizes = f"batch {first.batch}, hidden {first.hidden}, {first.seq_len} steps, float32"
    lines = [f"{device_name(first.device)}{threads}; {sizes}"]
    for backward in (False, True):
        group = [t for t in timings if t.backward == backward]
        if not group:
            continue
        relative = ratios(group)
        lines += [f"  {t}   x{relative[t.name]:6.2f} the fused call" for t in group]
    return "\n".join(lines)
