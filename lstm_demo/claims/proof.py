"""How a page proves a claim: :func:`prove`, on every device, and the two claims about a reader's own module.

:func:`prove` runs a registered claim (or any function of a device and a
dtype returning a result) on every device, prints each result, and fails
unless all hold. It also takes the two claims about a module of the
reader's own (:func:`whole_vs_stepwise`, :func:`num_layers_vs_stacked`),
which :func:`on_each_device` runs on copies of that module on every device.
"""

from __future__ import annotations

import copy
import dataclasses
import io
from collections.abc import Callable, Sequence
from typing import Generic, Protocol, TypeAlias, TypeVar, cast, overload

import torch
from torch import nn

from lstm_demo._types import Result, State, state_to
from lstm_demo._validate import StackSpec, check_module, describe
from lstm_demo.claims.registry import CLAIMS, claim_result, pairs
from lstm_demo.claims.result import ClaimResult, fill, only_note
from lstm_demo.comparison import compare
from lstm_demo.devices import device_name, each_device
from lstm_demo.display import Stack, Table, rich_display
from lstm_demo.layers import split_and_stack
from lstm_demo.precision import full_precision
from lstm_demo.stepwise import run_stepwise

WHOLE_VS_STEPWISE = "The whole sequence at once equals one time step at a time, carrying the state."
NUM_LAYERS_VS_STACKED = "A module with num_layers=N equals N single-layer modules stacked by hand."

#: A claim about a given module and input: ``whole_vs_stepwise`` or ``num_layers_vs_stacked``.
ModuleClaim: TypeAlias = "Callable[[nn.RNNBase, torch.Tensor, State | None], ClaimResult]"


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


def _module_claim(
    sentence: str, rnn: nn.RNNBase, input: torch.Tensor, hx: State | None, other: Callable[[], Result]
) -> ClaimResult:
    _check_deterministic(rnn)
    with torch.no_grad(), full_precision():
        actual = other()
        whole = rnn(input, hx)
    spec = StackSpec.of(rnn)
    return claim_result(sentence, spec.device, spec.dtype, pairs(actual, whole))


def whole_vs_stepwise(rnn: nn.RNNBase, input: torch.Tensor, hx: State | None = None) -> ClaimResult:
    """Claim: ``rnn(input, hx)`` equals :func:`~lstm_demo.run_stepwise` on the same input.

    Takes the arguments of :func:`~lstm_demo.run_stepwise` and raises as it
    does, and ``ValueError`` for a module in ``train()`` mode with dropout
    between layers. Runs without gradients and with TF32 off
    (:func:`~lstm_demo.precision.full_precision`), on the module's device and dtype, and
    compares ``output``, ``h_n`` (and ``c_n``) within
    :func:`~lstm_demo.tolerances.tolerance_for` that device.

    Examples
    --------
    >>> import torch
    >>> from torch import nn
    >>> from lstm_demo.claims import whole_vs_stepwise
    >>> result = whole_vs_stepwise(nn.GRU(4, 5), torch.randn(3, 2, 4))
    >>> result.holds, list(result.comparisons)
    (True, ['output', 'h_n'])
    """
    return _module_claim(WHOLE_VS_STEPWISE, rnn, input, hx, lambda: run_stepwise(rnn, input, hx))


def num_layers_vs_stacked(rnn: nn.RNNBase, input: torch.Tensor, hx: State | None = None) -> ClaimResult:
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
    >>> result = num_layers_vs_stacked(nn.LSTM(3, 3, num_layers=2), torch.randn(5, 1, 3))
    >>> result.holds, list(result.comparisons)
    (True, ['output', 'h_n', 'c_n'])
    """
    _check_deterministic(rnn)
    return _module_claim(NUM_LAYERS_VS_STACKED, rnn, input, hx, lambda: split_and_stack(rnn, input, hx))


def on_each_device(
    claim: ModuleClaim,
    rnn: nn.RNNBase,
    input: torch.Tensor,
    hx: State | None = None,
    *,
    devices: Sequence[torch.device] | None = None,
) -> list[ClaimResult]:
    """Run ``claim`` on copies of ``rnn``, ``input`` and ``hx`` on every device.

    The first device is the reference (the CPU, from
    :func:`~lstm_demo.devices.each_device`). On every other device the result
    also holds ``output vs cpu`` (and ``h_n vs cpu``, ...) comparisons, within
    :func:`~lstm_demo.tolerances.tolerance_for` that device: the same module gives
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
    StackSpec.checked(rnn, input, hx)
    if devices is None:
        devices = each_device()
    if len(devices) == 0:
        msg = "Expected at least one device, but got an empty list instead."
        raise ValueError(msg)
    results: list[ClaimResult] = []
    for device in devices:
        result = claim(copy.deepcopy(rnn).to(device), input.to(device), state_to(hx, device))
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


class Verdict(Protocol):
    """What a claim run returns: whether it holds, an assertion, and a printable report."""

    @property
    def holds(self) -> bool:
        """Whether the claim held."""
        ...

    def assert_holds(self) -> None:
        """Raise ``AssertionError`` with the report unless the claim held."""
        ...


V = TypeVar("V", bound=Verdict)


class Proof(list[V], Generic[V]):
    """What :func:`prove` returns: one result per device, and the sentence they test.

    A list of the results, printed as the sentence and each result's report;
    on a built page (its last value) one HTML table with a column per device
    (:meth:`ClaimResult.table`). When no CUDA GPU ran it, it says so once.
    """

    sentence: str
    """What the claim states."""

    def __init__(self, results: Sequence[V], sentence: str) -> None:
        super().__init__(results)
        self.sentence = sentence

    def table(self) -> Table:
        """The proof as a :class:`~lstm_demo.display.Table`: text, and HTML for a page."""
        if all(isinstance(r, ClaimResult) for r in self):
            return ClaimResult.table(cast("list[ClaimResult]", list(self)), self.sentence)
        devices = [getattr(r, "device", None) for r in self]
        header = ("device", "holds", "what it found")
        rows = [
            (device_name(d) if isinstance(d, torch.device) else "-", "yes" if r.holds else "NO", str(r))
            for d, r in zip(devices, self, strict=True)
        ]
        note = only_note([d for d in devices if isinstance(d, torch.device)])
        text = "\n".join([fill(self.sentence), *map(str, self), *([fill(note)] if note else [])])
        return Table(
            text, caption=self.sentence, header=header, sections=[(None, rows)], notes=[note] if note else []
        )

    def __str__(self) -> str:
        return str(self.table())

    def __repr__(self) -> str:
        return f"Proof({list.__repr__(self)}, {self.sentence!r})"

    def _repr_html_(self) -> str:
        return self.table()._repr_html_()


class Proofs(Stack):
    """Several proofs (or other results) shown one after another: ``Proofs([prove(a), prove(b)])``.

    As the last value of a page's code block it shows each one's table; a
    terminal, where :func:`prove` already printed them, shows nothing for it.
    """


@overload
def prove(
    claim: str,
    rnn: None = None,
    input: None = None,
    hx: None = None,
    *,
    devices: Sequence[torch.device] | None = None,
    dtype: torch.dtype = torch.float32,
) -> Proof[ClaimResult]: ...


@overload
def prove(
    claim: Callable[..., V],
    rnn: nn.RNNBase | None = None,
    input: torch.Tensor | None = None,
    hx: State | None = None,
    *,
    devices: Sequence[torch.device] | None = None,
    dtype: torch.dtype = torch.float32,
) -> Proof[V]: ...


def prove(
    claim: str | Callable[..., Verdict],
    rnn: nn.RNNBase | None = None,
    input: torch.Tensor | None = None,
    hx: State | None = None,
    *,
    devices: Sequence[torch.device] | None = None,
    dtype: torch.dtype = torch.float32,
) -> Sequence[Verdict]:
    """Run a claim on every device, show what it states and each result, and fail unless all hold.

    The one way a page proves a claim. ``claim`` is a registered claim or
    its name, or any function of ``(device, dtype)`` returning a result with
    ``holds`` and ``assert_holds`` (such as the post's reproductions): it
    runs in ``dtype`` on each device. Or it is :func:`whole_vs_stepwise` or
    :func:`num_layers_vs_stacked` with ``rnn``, ``input`` and ``hx``: it
    runs on copies of them on each device (:func:`on_each_device`, which
    also compares each GPU with the CPU).

    Parameters
    ----------
    claim : callable or str
        A claim of :data:`CLAIMS`, its name, a function of ``(device,
        dtype)``, or a claim about a module.
    rnn, input, hx
        The module, input and initial state, for a claim about a module only.
    devices : sequence of torch.device, optional
        Defaults to :func:`~lstm_demo.devices.each_device` (which prints them).
    dtype : torch.dtype
        ``torch.float32`` or ``torch.float64``, for a claim run by device.

    Returns
    -------
    Proof
        A list of one result per device, in order. Printed in a terminal
        (``prove`` prints it there); on a built page, where the block's
        last value is shown, make it that value for one HTML table.

    Raises
    ------
    AssertionError
        If the claim fails on any device.
    ValueError
        If ``claim`` is a name no claim has.

    Examples
    --------
    >>> import torch
    >>> from lstm_demo.claims import prove
    >>> _ = prove("batch-first", devices=[torch.device("cpu")])  # doctest: +ELLIPSIS
    batch_first=True transposes input and output, and leaves h_n and c_n as they
    are.
    cpu, float32: holds
    ...
    """
    if isinstance(claim, str):
        if claim not in CLAIMS:
            msg = f"Expected a claim name from {', '.join(CLAIMS)}, but got {claim!r} instead."
            raise ValueError(msg)
        claim = CLAIMS[claim]
    # The proof itself says when only the CPU ran; each_device still refuses
    # a machine without a GPU where LSTM_DEMO_REQUIRE_CUDA=1.
    chosen = each_device(file=io.StringIO()) if devices is None else devices
    results: Sequence[Verdict]
    if rnn is None:
        results = [claim(device, dtype) for device in chosen]
    else:
        if input is None:
            msg = f"Expected an input for rnn, but got {describe(input)} instead."
            raise ValueError(msg)
        results = on_each_device(cast("ModuleClaim", claim), rnn, input, hx, devices=chosen)
    sentence = getattr(claim, "sentence", None) or getattr(results[0], "claim", None) or claim.__doc__ or ""
    proof = Proof(results, " ".join(sentence.strip().split("\n\n")[0].split()))
    if not rich_display():
        print(proof)
    for result in results:
        result.assert_holds()
    return proof
