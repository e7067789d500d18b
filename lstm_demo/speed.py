"""How fast each way of running an LSTM is: measured, never asserted.

Each implementation is warmed up, then timed in rounds: every round times
each implementation once, starting with a different one each round, so that
a machine getting busier or quieter during the run touches them all alike.
One measurement is a clock read around enough calls to last at least
``min_sample_time`` (one call for anything slower), with the garbage
collector off and the GPU synchronised before and after, as
:class:`torch.utils.benchmark.Timer` does. The clock is the wall clock
(``time.perf_counter``), except on the CPU at one thread: there it is the
calling thread's own CPU time (``time.thread_time``), which runs only while
that thread runs, so the time another program holds the core is not counted. A figure is the median of the
rounds, shown with its interquartile range (IQR) and the number of rounds;
a ratio to the fused call is the median, over rounds, of the two times of
the same round. The number of CPU threads is fixed for the whole measurement.
"""

from __future__ import annotations

import gc
import math
import statistics
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass

import torch
from torch import nn

from lstm_demo._random import cpu_random
from lstm_demo._validate import describe
from lstm_demo.devices import device_name, resolve_device
from lstm_demo.display import Table
from lstm_demo.precision import backend_enabled
from lstm_demo.scratch import scratch_lstm
from lstm_demo.stepwise import run_stepwise

#: The implementations' names, which key the timings and ratios; the fused call, ...
FUSED = "nn.LSTM (fused)"
#: ... run_stepwise, ...
STEPWISE = "run_stepwise"
#: ... an nn.LSTMCell in a Python loop, ...
CELL_LOOP = "nn.LSTMCell loop"
#: ... the equations written out, ...
SCRATCH = "scratch_lstm"
#: ... and that loop compiled (where torch.compile works).
COMPILED = "torch.compile(LSTMCell loop)"
#: Added to a name, the same implementation with its device's library (oneDNN, cuDNN) switched off.
LIBRARY_OFF = ", library off"

#: The fewest rounds a figure is the median of.
MIN_REPEATS = 5
#: The fewest calls of each implementation before its timing starts.
WARMUP_CALLS = 3


def quartiles(samples: Sequence[float]) -> tuple[float, float, float]:
    """The first quartile, the median and the third quartile of some samples.

    Linear interpolation between the sorted samples (``numpy.percentile``'s
    default, ``statistics.quantiles(method="inclusive")``).

    Parameters
    ----------
    samples : sequence of float
        At least one number.

    Returns
    -------
    tuple of float
        ``(q1, median, q3)``; the IQR is ``q3 - q1``.

    Raises
    ------
    ValueError
        If there are no samples.

    Examples
    --------
    >>> from lstm_demo.speed import quartiles
    >>> quartiles([5.0, 1.0, 4.0, 2.0, 3.0])
    (2.0, 3.0, 4.0)
    """
    if len(samples) == 0:
        msg = "Expected at least one sample, but got none instead."
        raise ValueError(msg)
    if len(samples) == 1:
        only = float(samples[0])
        return only, only, only
    q1, median, q3 = statistics.quantiles(samples, n=4, method="inclusive")
    return q1, median, q3


@dataclass(frozen=True)
class Timing:
    """One implementation at one size on one device: every round's time."""

    name: str
    device: torch.device
    batch: int
    hidden: int
    seq_len: int
    backward: bool
    """True when the time covers forward and backward."""
    threads: int
    """The number of CPU threads while timing (``torch.set_num_threads``)."""
    samples: tuple[float, ...]
    """Seconds per call, one measurement per round, in round order."""
    clock: str = "wall"
    """``"wall"`` (``time.perf_counter``) or ``"thread"`` (the timing thread's CPU time)."""

    @property
    def n(self) -> int:
        """How many measurements."""
        return len(self.samples)

    @property
    def median(self) -> float:
        """Median seconds per call."""
        return quartiles(self.samples)[1]

    @property
    def iqr(self) -> float:
        """Interquartile range of the seconds per call."""
        q1, _, q3 = quartiles(self.samples)
        return q3 - q1


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
    backend = torch.backends.cudnn if lstm.weight_ih_l0.device.type == "cuda" else torch.backends.mkldnn
    for name in (FUSED, STEPWISE, CELL_LOOP):
        found[name + LIBRARY_OFF] = _without(backend, found[name])
    return found


def _without(
    backend: object, run: Callable[[torch.Tensor], torch.Tensor]
) -> Callable[[torch.Tensor], torch.Tensor]:
    """``run`` with ``backend`` (oneDNN, cuDNN) switched off for each call, then back as it was."""

    def off(x: torch.Tensor) -> torch.Tensor:
        with backend_enabled(backend, False):
            return run(x)

    return off


def _synchronize(device: torch.device) -> None:
    if device.type == "cuda":
        torch.cuda.synchronize(device)
    elif device.type == "mps":
        torch.mps.synchronize()


#: The clocks a measurement can read: the wall clock, or the calling thread's CPU time.
CLOCKS: dict[str, Callable[[], float]] = {"wall": time.perf_counter, "thread": time.thread_time}


def _clock(call: Callable[[], None], device: torch.device, number: int, clock: str = "wall") -> float:
    """Seconds per call of ``number`` calls in a row, by ``clock`` (a key of :data:`CLOCKS`)."""
    now = CLOCKS[clock]
    collecting = gc.isenabled()
    gc.disable()
    try:
        _synchronize(device)
        start = now()
        for _ in range(number):
            call()
        _synchronize(device)
        return (now() - start) / number
    finally:
        if collecting:
            gc.enable()


def _rounds(
    calls: dict[str, Callable[[], None]],
    device: torch.device,
    repeats: int,
    min_sample_time: float,
    warmup: float,
    *,
    clock: str = "wall",
) -> dict[str, tuple[float, ...]]:
    numbers = {}
    for name, call in calls.items():
        # Warm-up: allocations, oneDNN/cuDNN plans, compilation, caches; then the calls per
        # measurement from the median of the last warm-up calls.
        seen: list[float] = []
        spent = 0.0
        while len(seen) < WARMUP_CALLS or spent < warmup:
            seen.append(_clock(call, device, 1))  # the wall clock: how long a measurement lasts
            spent += seen[-1]
        per_call = max(statistics.median(seen[-WARMUP_CALLS:]), 1e-9)
        numbers[name] = max(1, math.ceil(min_sample_time / per_call))
    order = list(calls)
    samples: dict[str, list[float]] = {name: [] for name in order}
    for round_ in range(repeats):
        start = round_ % len(order)
        for name in order[start:] + order[:start]:
            samples[name].append(_clock(calls[name], device, numbers[name], clock))
    return {name: tuple(values) for name, values in samples.items()}


def _check_positive_int(name: str, value: object, least: int = 1) -> None:
    if isinstance(value, bool) or not isinstance(value, int) or value < least:
        what = "a positive int" if least == 1 else f"an int of at least {least}"
        msg = f"Expected {name} to be {what}, but got {value!r} instead."
        raise ValueError(msg)


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
    repeats: int = 10,
    min_sample_time: float = 0.005,
    threads: int | None = None,
    warmup: float = 0.05,
    clock: str | None = None,
) -> Timings:
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
        Which implementations (default: all but the compiled one). The
        fused call and the two loops also come with :data:`LIBRARY_OFF`
        added to their names: the same call with the device's library
        (oneDNN on the CPU, cuDNN on a GPU) switched off, timed in the same
        rounds as the others.
    compiled : bool
        Also time ``torch.compile`` of the ``nn.LSTMCell`` loop (its
        compilation happens in the warm-up, outside the timing).
    repeats : int
        Rounds, so measurements of each implementation (at least 5).
    min_sample_time : float
        Seconds one measurement lasts at least: faster calls are repeated
        within it and their mean is the measurement.
    threads : int, optional
        CPU threads to pin while timing (default: the current
        ``torch.get_num_threads()``); restored afterwards.
    warmup : float
        Seconds each implementation runs before its timing starts (and
        at least ``WARMUP_CALLS``, three, calls).
    clock : str, optional
        ``"wall"`` or ``"thread"`` (the calling thread's CPU time, for the
        CPU at one thread only). Default: ``"thread"`` where it applies,
        else ``"wall"``.

    Returns
    -------
    Timings
        A :class:`Timing` per name, in the order of ``names``, each with
        ``repeats`` samples; printed or shown on a page, their report.

    Raises
    ------
    ValueError
        If a size, ``repeats`` or ``threads`` is not an int in range,
        ``min_sample_time`` is not a positive number, ``warmup`` is negative, a name is unknown or
        the device is not one of this machine's, or ``clock`` is unknown or
        ``"thread"`` where more than one thread or a GPU computes.

    Examples
    --------
    >>> from lstm_demo.speed import time_lstm
    >>> timings = time_lstm(batch=2, hidden=8, seq_len=4, min_sample_time=1e-4)
    >>> [(t.name, t.n) for t in timings]  # doctest: +NORMALIZE_WHITESPACE
    [('nn.LSTM (fused)', 10), ('run_stepwise', 10),
     ('nn.LSTMCell loop', 10), ('scratch_lstm', 10)]
    """
    for name, size in (
        ("batch", batch),
        ("input_size", input_size),
        ("hidden", hidden),
        ("seq_len", seq_len),
    ):
        _check_positive_int(name, size)
    _check_positive_int("repeats", repeats, MIN_REPEATS)
    if threads is not None:
        _check_positive_int("threads", threads)
    if (
        isinstance(min_sample_time, bool)
        or not isinstance(min_sample_time, (int, float))
        or not min_sample_time > 0
    ):
        msg = f"Expected min_sample_time to be a positive number of seconds, but got {min_sample_time!r} instead."
        raise ValueError(msg)
    if isinstance(warmup, bool) or not isinstance(warmup, (int, float)) or not warmup >= 0:
        msg = f"Expected warmup to be a number of seconds of at least 0, but got {warmup!r} instead."
        raise ValueError(msg)
    known: tuple[str, ...] = (FUSED, STEPWISE, CELL_LOOP, SCRATCH, COMPILED)
    names = tuple(n for n in known if n != COMPILED or compiled) if names is None else names
    known += tuple(n + LIBRARY_OFF for n in (FUSED, STEPWISE, CELL_LOOP))
    unknown = [n for n in names if n not in known or (n == COMPILED and not compiled)]
    if unknown:
        available = [n for n in known if n != COMPILED or compiled]
        msg = f"Expected implementation names from {available}, but got {unknown} instead."
        raise ValueError(msg)
    device = resolve_device(device)
    with cpu_random(0):
        lstm = nn.LSTM(input_size, hidden).to(device)
        cell = nn.LSTMCell(input_size, hidden).to(device)
        x = torch.randn(seq_len, batch, input_size).to(device)
    candidates = _candidates(lstm, cell, compiled)
    calls: dict[str, Callable[[], None]] = {}
    for name in names:
        forward = candidates[name]

        def call(forward: Callable[[torch.Tensor], torch.Tensor] = forward) -> None:
            if backward:
                forward(x).sum().backward()  # type: ignore[no-untyped-call]  # untyped in torch
            else:
                with torch.no_grad():
                    forward(x)

        calls[name] = call
    before = torch.get_num_threads()
    pinned = before if threads is None else threads
    alone = device.type == "cpu" and pinned == 1
    chosen = ("thread" if alone else "wall") if clock is None else clock
    if chosen not in CLOCKS or (chosen == "thread" and not alone):
        msg = (
            "Expected clock to be 'wall', or 'thread' on the CPU at one thread, but got "
            f"{clock!r} on {device} at {pinned} thread{'s' if pinned != 1 else ''} instead."
        )
        raise ValueError(msg)
    torch.set_num_threads(pinned)
    try:
        samples = _rounds(calls, device, repeats, float(min_sample_time), float(warmup), clock=chosen)
    finally:
        torch.set_num_threads(before)
    return Timings(
        [
            Timing(name, device, batch, hidden, seq_len, backward, pinned, samples[name], chosen)
            for name in names
        ]
    )


def ratio_quartiles(timings: list[Timing], baseline: str = FUSED) -> dict[str, tuple[float, float, float]]:
    """Each implementation's per-round ratio to the baseline as ``(q1, median, q3)``: :func:`ratios` with its spread.

    Examples
    --------
    >>> import torch
    >>> from lstm_demo.speed import FUSED, STEPWISE, Timing, ratio_quartiles
    >>> cpu = torch.device("cpu")
    >>> fused = Timing(FUSED, cpu, 2, 4, 3, False, 1, (1.0, 2.0, 1.0))
    >>> loop = Timing(STEPWISE, cpu, 2, 4, 3, False, 1, (3.0, 4.0, 2.0))
    >>> ratio_quartiles([fused, loop])[STEPWISE]
    (2.0, 2.0, 2.5)
    """
    base = _baseline(timings, baseline)
    return {t.name: quartiles([a / b for a, b in zip(t.samples, base.samples, strict=True)]) for t in timings}


def _baseline(timings: list[Timing], baseline: str) -> Timing:
    base = next((t for t in timings if t.name == baseline), None)
    if base is None:
        msg = f"Expected a timing of {baseline!r}, but got only {[t.name for t in timings]} instead."
        raise ValueError(msg)
    rounds = {t.n for t in timings}
    if len(rounds) != 1:
        msg = f"Expected timings of the same rounds, but got {sorted(rounds)} rounds instead."
        raise ValueError(msg)
    return base


def ratios(timings: list[Timing], baseline: str = FUSED) -> dict[str, float]:
    """Each implementation's time over the baseline's, the median over rounds.

    Round ``i`` of every timing was measured in the same round of the same
    run, so each round gives one ratio; the median of those is less moved
    by the machine's load changing during the run than a ratio of medians.

    Parameters
    ----------
    timings : list of Timing
        From one :func:`time_lstm` call (the same rounds).
    baseline : str
        The implementation the others are divided by.

    Returns
    -------
    dict
        Name to ratio (the baseline's is 1.0).

    Raises
    ------
    ValueError
        If the baseline is missing or the timings have different numbers of
        rounds.

    Examples
    --------
    >>> import torch
    >>> from lstm_demo.speed import FUSED, STEPWISE, Timing, ratios
    >>> cpu = torch.device("cpu")
    >>> fused = Timing(FUSED, cpu, 2, 4, 3, False, 1, (1.0, 2.0, 1.0))
    >>> loop = Timing(STEPWISE, cpu, 2, 4, 3, False, 1, (3.0, 4.0, 2.0))
    >>> ratios([fused, loop])
    {'nn.LSTM (fused)': 1.0, 'run_stepwise': 2.0}
    """
    return {name: median for name, (_, median, _) in ratio_quartiles(timings, baseline).items()}


def _check_timings(name: str, timings: object) -> tuple[Timing, ...]:
    if not isinstance(timings, Sequence) or not timings or not all(isinstance(t, Timing) for t in timings):
        msg = f"Expected {name} to be a non-empty list of Timing, but got {describe(timings)} instead."
        raise TypeError(msg)
    return tuple(timings)


def _threads(timing: Timing) -> str:
    threads = f"{timing.threads} CPU thread{'s' if timing.threads != 1 else ''}"
    return threads + (" (its CPU time)" if timing.clock == "thread" else "")


class Timings(tuple[Timing, ...]):
    """What :func:`time_lstm` returns: its timings, in order, and their report.

    A tuple of :class:`Timing`; printed (``str``), the plain-text report with
    median, IQR, n and ratio to the fused call, and what they ran on; on a
    page (``_repr_html_``, as a code block's last value) the same figures as
    an HTML table (:class:`~lstm_demo.display.Table`), with a group of rows
    for the forward pass and one for forward and backward. Adding two
    ``Timings`` (``+``) gives one report of both.

    Raises
    ------
    TypeError
        If it is made of anything but a non-empty sequence of :class:`Timing`.

    Examples
    --------
    >>> import torch
    >>> from lstm_demo.speed import FUSED, STEPWISE, Timing, Timings
    >>> cpu = torch.device("cpu")
    >>> fused = Timing(FUSED, cpu, 2, 4, 3, False, 1, (1e-3, 2e-3, 1e-3))
    >>> loop = Timing(STEPWISE, cpu, 2, 4, 3, False, 1, (3e-3, 4e-3, 2e-3))
    >>> print(Timings([fused, loop]))
    cpu, 1 CPU thread
    batch 2, hidden 4, 3 steps, float32
      forward                       median ms    IQR ms   n  x fused
      nn.LSTM (fused)                   1.000     0.500   3     1.00
      run_stepwise                      3.000     1.000   3     2.00
    """

    def __new__(cls, timings: Sequence[Timing]) -> Timings:  # noqa: PYI034 - typing.Self needs Python 3.11
        return super().__new__(cls, _check_timings("timings", timings))

    def __add__(self, other: object) -> Timings:
        if not isinstance(other, tuple):
            return NotImplemented
        return Timings((*self, *other))

    def passes(self) -> dict[bool, tuple[Timing, ...]]:
        """The timings by pass: ``False`` for forward, ``True`` for forward and backward (those timed)."""
        groups: dict[bool, tuple[Timing, ...]] = {}
        for backward in (False, True):
            group = tuple(t for t in self if t.backward == backward)
            if group:
                groups[backward] = group
        return groups

    def table(self) -> Table:
        """The report as a :class:`~lstm_demo.display.Table`: the text is ``str(self)``."""
        first = self[0]
        lines = [
            f"{device_name(first.device)}, {_threads(first)}",
            f"batch {first.batch}, hidden {first.hidden}, {first.seq_len} steps, float32",
        ]
        sections = []
        for backward, group in self.passes().items():
            relative = ratios(list(group))
            what = "forward + backward" if backward else "forward"
            lines.append(f"  {what:<28}  median ms    IQR ms   n  x fused")
            lines += [
                f"  {t.name:<28} {t.median * 1e3:10.3f} {t.iqr * 1e3:9.3f} {t.n:3d} {relative[t.name]:8.2f}"
                for t in group
            ]
            rows = [
                (t.name, f"{t.median * 1e3:.3f}", f"{t.iqr * 1e3:.3f}", str(t.n), f"{relative[t.name]:.2f}")
                for t in group
            ]
            sections.append((what, rows))
        return Table(
            "\n".join(lines),
            caption=f"{lines[0]}: {lines[1]}",
            header=("implementation", "median ms", "IQR ms", "n", "x fused"),
            sections=sections,
            numeric=(1, 2, 3, 4),
        )

    def __str__(self) -> str:
        return str(self.table())

    def _repr_html_(self) -> str:
        return self.table()._repr_html_()


class Scaling(tuple[Timings, ...]):
    """Timings at several sizes: a row per size, each implementation's median and IQR, and the ratio.

    Printed, the plain-text table; on a page, an HTML table
    (:class:`~lstm_demo.display.Table`).

    Parameters
    ----------
    points : sequence
        One :func:`time_lstm` result per size, each holding ``FUSED`` and
        one other implementation, in the same order at every size.
    axis : str
        The size that changes from point to point: ``"seq_len"``,
        ``"hidden"`` or ``"batch"``.

    Raises
    ------
    TypeError
        If ``points`` is not a non-empty sequence of non-empty lists of Timing.
    ValueError
        If ``axis`` is not one of the three sizes, or a point lacks ``FUSED``
        or times other implementations than the first point.

    Examples
    --------
    >>> import torch
    >>> from lstm_demo.speed import FUSED, STEPWISE, Scaling, Timing
    >>> cpu = torch.device("cpu")
    >>> fused = Timing(FUSED, cpu, 8, 4, 16, False, 1, (1e-3,) * 5)
    >>> loop = Timing(STEPWISE, cpu, 8, 4, 16, False, 1, (4e-3,) * 5)
    >>> print(Scaling([[fused, loop]], "seq_len"))
    cpu, 1 CPU thread; batch 8, float32, forward
      seq_len  nn.LSTM (fused) ms (IQR)  run_stepwise ms (IQR)    n  x fused
           16             1.00 (  0.00)          4.00 (  0.00)    5     4.00
    """

    axis: str

    def __new__(cls, points: Sequence[Sequence[Timing]], axis: str) -> Scaling:  # noqa: PYI034
        if axis not in ("seq_len", "hidden", "batch"):
            msg = f"Expected axis to be 'seq_len', 'hidden' or 'batch', but got {axis!r} instead."
            raise ValueError(msg)
        if not isinstance(points, Sequence) or not points:
            msg = (
                "Expected points to be a non-empty sequence of lists of Timing, "
                f"but got {describe(points)} instead."
            )
            raise TypeError(msg)
        checked = [Timings(_check_timings("each point", point)) for point in points]
        names = [t.name for t in checked[0]]
        for timings in checked:
            if [t.name for t in timings] != names:
                msg = f"Expected every point to time {names}, but got {[t.name for t in timings]} instead."
                raise ValueError(msg)
            ratios(list(timings))  # each point needs the fused call
        self = super().__new__(cls, checked)
        self.axis = axis
        return self

    def table(self) -> Table:
        """The rows as a :class:`~lstm_demo.display.Table`: the text is ``str(self)``."""
        axis = self.axis
        names = [t.name for t in self[0]]
        other = next((name for name in names if name != FUSED), FUSED)
        first = self[0][0]
        what = "forward + backward" if first.backward else "forward"
        fixed = "" if axis == "batch" else f"batch {first.batch}, "
        title = f"{device_name(first.device)}, {_threads(first)}; {fixed}float32, {what}"
        heads = [f"{name} ms (IQR)" for name in names]
        widths = [max(len(h), 17) for h in heads]
        lines = [
            title,
            f"  {axis:>7}  "
            + "  ".join(f"{h:>{w}}" for h, w in zip(heads, widths, strict=True))
            + "    n  x fused",
        ]
        rows = []
        for timings in self:
            ratio = ratios(list(timings))[other]
            size = getattr(timings[0], axis)
            cells = "  ".join(
                f"{f'{t.median * 1e3:8.2f} ({t.iqr * 1e3:6.2f})':>{w}}"
                for t, w in zip(timings, widths, strict=True)
            )
            lines.append(f"  {size:>7}  {cells}  {timings[0].n:3d}  {ratio:7.2f}")
            row = [str(size)]
            for t in timings:
                row += [f"{t.median * 1e3:.2f}", f"{t.iqr * 1e3:.2f}"]
            rows.append((*row, str(timings[0].n), f"{ratio:.2f}"))
        header = [axis]
        for name in names:
            header += [f"{name}, median ms", f"{name}, IQR ms"]
        header += ["n", "x fused"]
        return Table(
            "\n".join(lines),
            caption=f"{title}, by {axis}",
            header=header,
            sections=[(None, rows)],
            numeric=range(1, len(header)),
        )

    def __str__(self) -> str:
        return str(self.table())

    def _repr_html_(self) -> str:
        return self.table()._repr_html_()
