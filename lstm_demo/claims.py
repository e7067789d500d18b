"""The claims the site proves, each one function that runs it and reports.

A claim compares two ways of computing the same thing with one module and
one input, and returns a :class:`ClaimResult`. :func:`on_each_device` runs a
claim on every available device and also checks each GPU's result against
the CPU's.
"""

from __future__ import annotations

import copy
import dataclasses
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any

import torch
from torch import nn

from lstm_demo._validate import StackSpec, check_module
from lstm_demo.comparison import Comparison, compare
from lstm_demo.devices import Tolerance, device_name, each_device, tolerance_for
from lstm_demo.layers import run_stacked, split_layers
from lstm_demo.precision import full_precision
from lstm_demo.stepwise import run_stepwise


@dataclass(frozen=True)
class ClaimResult:
    """One claim, run once on one device: what was compared, and how it came out."""

    claim: str
    """The sentence the run tests."""
    device: torch.device
    dtype: torch.dtype
    tolerance: Tolerance
    """The tolerance every comparison used, and why."""
    comparisons: dict[str, Comparison]
    """What was compared (``output``, ``h_n``, ``c_n``, ...) and the result."""
    reference: tuple[torch.Tensor, ...] = dataclasses.field(repr=False, default=())
    """The module's own results, in the order of ``comparisons``, for comparing devices."""
    notes: tuple[str, ...] = ()
    """What else the run found that is worth saying (printed after the comparisons)."""

    @property
    def max_abs_diff(self) -> float:
        """The greatest absolute difference of any comparison."""
        return max((c.max_abs_diff for c in self.comparisons.values()), default=0.0)

    @property
    def holds(self) -> bool:
        """True when every comparison is close within the tolerance."""
        return all(c.close for c in self.comparisons.values())

    @property
    def bitwise(self) -> bool:
        """True when every comparison is bitwise equal."""
        return all(c.equal for c in self.comparisons.values())

    def assert_holds(self) -> None:
        """Raise ``AssertionError`` with the report unless the claim holds."""
        if not self.holds:
            msg = f"claim failed: {self.claim}\n{self}"
            raise AssertionError(msg)

    def __str__(self) -> str:
        verdict = "holds" if self.holds else "FAILS"
        dtype = str(self.dtype).removeprefix("torch.")
        width = max((len(k) for k in self.comparisons), default=0)
        width = max(width, len("tolerance"))
        lines = [f"{device_name(self.device)}, {dtype}: {verdict}"]
        lines.append(f"  {'tolerance':<{width}}  {self.tolerance}")
        lines += [f"  {name:<{width}}  {c.describe(tolerance=False)}" for name, c in self.comparisons.items()]
        lines += [f"  note: {note}" for note in self.notes]
        return "\n".join(lines)


def _leaves(result: tuple[torch.Tensor, Any], is_lstm: bool) -> dict[str, torch.Tensor]:
    output, state = result
    if is_lstm:
        return {"output": output, "h_n": state[0], "c_n": state[1]}
    return {"output": output, "h_n": state}


def claim_result(
    claim: str,
    device: torch.device,
    dtype: torch.dtype,
    pairs: dict[str, tuple[torch.Tensor, torch.Tensor]],
    *,
    notes: tuple[str, ...] = (),
) -> ClaimResult:
    """Compare each ``(actual, expected)`` pair within :func:`~lstm_demo.devices.tolerance_for` the device.

    The expected tensors become the result's ``reference``, for comparing devices.
    """
    tol = tolerance_for(device, dtype)
    comparisons = {k: compare(a, e, rtol=tol.rtol, atol=tol.atol) for k, (a, e) in pairs.items()}
    reference = tuple(e.detach() for _, e in pairs.values())
    return ClaimResult(claim, torch.device(device), dtype, tol, comparisons, reference, notes)


def _claim_result(claim: str, rnn: nn.RNNBase, actual: Any, expected: Any) -> ClaimResult:
    spec = StackSpec.of(rnn)
    got, want = _leaves(actual, spec.cls is nn.LSTM), _leaves(expected, spec.cls is nn.LSTM)
    return claim_result(claim, spec.device, spec.dtype, {k: (got[k], want[k]) for k in want})


def _check_deterministic(rnn: nn.RNNBase) -> None:
    """Raise unless two runs of ``rnn`` on the same input compute the same function."""
    check_module(rnn)
    if rnn.training and rnn.dropout > 0 and rnn.num_layers > 1:
        msg = (
            f"Expected rnn in eval() mode or with dropout=0, but got dropout={rnn.dropout} "
            "in train() mode instead: every call draws new random masks between layers, "
            "so two ways of running it cannot agree."
        )
        raise ValueError(msg)


WHOLE_VS_STEPWISE = "The whole sequence at once equals one time step at a time, carrying the state."
NUM_LAYERS_VS_STACKED = "A module with num_layers=N equals N single-layer modules stacked by hand."


def whole_vs_stepwise(rnn: nn.RNNBase, input: torch.Tensor, hx: Any = None) -> ClaimResult:
    """Claim: ``rnn(input, hx)`` equals :func:`~lstm_demo.run_stepwise` on the same input.

    Takes the arguments of :func:`~lstm_demo.run_stepwise` and raises as it
    does, and ``ValueError`` for a module in ``train()`` mode with dropout
    between layers. Runs without gradients and with TF32 off
    (:func:`~lstm_demo.precision.full_precision`), on the module's device and dtype, and
    compares ``output``, ``h_n`` (and ``c_n``) within
    :func:`~lstm_demo.devices.tolerance_for` that device.

    Examples
    --------
    >>> import torch
    >>> from torch import nn
    >>> from lstm_demo.claims import whole_vs_stepwise
    >>> _ = torch.manual_seed(0)
    >>> result = whole_vs_stepwise(nn.GRU(4, 5), torch.randn(3, 2, 4))
    >>> result.holds, list(result.comparisons)
    (True, ['output', 'h_n'])
    """
    _check_deterministic(rnn)
    with torch.no_grad(), full_precision():
        stepwise = run_stepwise(rnn, input, hx)
        whole = rnn(input, hx)
    return _claim_result(WHOLE_VS_STEPWISE, rnn, stepwise, whole)


def num_layers_vs_stacked(rnn: nn.RNNBase, input: torch.Tensor, hx: Any = None) -> ClaimResult:
    """Claim: ``rnn(input, hx)`` equals its layers, split and run one after another.

    Uses :func:`~lstm_demo.split_layers` and :func:`~lstm_demo.run_stacked`,
    whose errors it raises. A module in ``train()`` mode with dropout between
    layers raises ``ValueError``: its random masks have no counterpart in the
    stacked layers. Runs with TF32 off (:func:`~lstm_demo.precision.full_precision`).

    Examples
    --------
    >>> import torch
    >>> from torch import nn
    >>> from lstm_demo.claims import num_layers_vs_stacked
    >>> _ = torch.manual_seed(0)
    >>> result = num_layers_vs_stacked(nn.LSTM(3, 3, num_layers=2), torch.randn(5, 1, 3))
    >>> result.holds, list(result.comparisons)
    (True, ['output', 'h_n', 'c_n'])
    """
    _check_deterministic(rnn)
    with torch.no_grad(), full_precision():
        stacked = run_stacked(split_layers(rnn), input, hx)
        whole = rnn(input, hx)
    return _claim_result(NUM_LAYERS_VS_STACKED, rnn, stacked, whole)


Claim = Callable[[nn.RNNBase, torch.Tensor, Any], ClaimResult]


def _to(value: Any, device: torch.device) -> Any:
    if value is None:
        return None
    if isinstance(value, torch.Tensor):
        return value.to(device)
    return tuple(v.to(device) for v in value)


def on_each_device(
    claim: Claim,
    rnn: nn.RNNBase,
    input: torch.Tensor,
    hx: Any = None,
    *,
    devices: Sequence[torch.device] | None = None,
) -> list[ClaimResult]:
    """Run ``claim`` on copies of ``rnn``, ``input`` and ``hx`` on every device.

    The first device is the reference (the CPU, from
    :func:`~lstm_demo.devices.each_device`). On every other device the result
    also holds ``output vs cpu`` (and ``h_n vs cpu``, ...) comparisons, within
    :func:`~lstm_demo.devices.tolerance_for` that device: the same module gives
    the same numbers there, up to that tolerance.

    Parameters
    ----------
    claim : callable
        :func:`whole_vs_stepwise`, :func:`num_layers_vs_stacked` or any
        function of ``(rnn, input, hx)`` returning a :class:`ClaimResult`.
    rnn, input, hx
        As for ``claim``; they are copied, never moved.
    devices : sequence of torch.device, optional
        Defaults to :func:`~lstm_demo.devices.each_device`, which prints the
        devices and honours ``LSTM_DEMO_REQUIRE_CUDA``.

    Returns
    -------
    list of ClaimResult
        One per device, in order.

    Examples
    --------
    >>> import torch
    >>> from torch import nn
    >>> from lstm_demo.claims import on_each_device, whole_vs_stepwise
    >>> results = on_each_device(
    ...     whole_vs_stepwise, nn.LSTM(2, 3), torch.ones(4, 2), devices=[torch.device("cpu")]
    ... )
    >>> [r.holds for r in results]
    [True]
    """
    check_module(rnn)
    spec = StackSpec.of(rnn)
    spec.check_input(input)
    spec.check_hx(hx, input)
    if devices is None:
        devices = each_device()
    if len(devices) == 0:
        msg = "Expected at least one device, but got an empty list instead."
        raise ValueError(msg)
    results: list[ClaimResult] = []
    for device in devices:
        result = claim(copy.deepcopy(rnn).to(device), input.to(device), _to(hx, device))
        if results:
            first = results[0]
            tol = result.tolerance
            extra = {
                f"{name} vs {first.device}": compare(
                    mine, theirs.to(mine.device), rtol=tol.rtol, atol=tol.atol
                )
                for name, mine, theirs in zip(
                    result.comparisons, result.reference, first.reference, strict=True
                )
            }
            result = dataclasses.replace(result, comparisons={**result.comparisons, **extra})
        results.append(result)
    return results
