"""The claims the site proves: each one registered function that runs it and reports.

A claim is a sentence about ``nn.LSTM`` ("running a sequence in chunks equals
one call") and the code that tests it. Each is one function decorated with
:func:`claim`, which gives it its name on the command line
(``python -m lstm_demo check --claim NAME``), its place in :data:`CLAIMS`,
argument checks, TF32 off (:func:`~lstm_demo.precision.full_precision`) and
its :class:`ClaimResult`. The function itself builds small seeded modules and
inputs where :class:`Place` says, and returns what it compares.

:func:`prove` is how a page runs a claim: on every device, printing each
result, failing unless all hold. It also takes the two claims about a
module of the reader's own (:func:`whole_vs_stepwise`,
:func:`num_layers_vs_stacked`), which :func:`on_each_device` runs on copies
of that module on every device.
"""

from __future__ import annotations

import copy
import dataclasses
import functools
import io
import textwrap
import warnings
from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass
from typing import Generic, Protocol, TypeAlias, TypeVar, cast, overload

import torch
from torch import nn
from torch.nn.utils.rnn import pack_padded_sequence, pad_packed_sequence

from lstm_demo._gradients import gradients as _gradients
from lstm_demo._random import cpu_random
from lstm_demo._types import Device, LSTMResult, Result, State, state_to
from lstm_demo._validate import StackSpec, check_module, describe
from lstm_demo.comparison import Comparison, compare
from lstm_demo.devices import device_name, each_device, resolve_placement
from lstm_demo.display import Stack, Table, rich_display
from lstm_demo.layers import run_stacked, split_directions, split_layers
from lstm_demo.precision import cudnn, full_precision
from lstm_demo.scratch import gru_direction, peephole_lstm, run_gru, scratch_gru, scratch_lstm
from lstm_demo.stepwise import run_stepwise
from lstm_demo.tolerances import Tolerance, tolerance_for

#: What a claim compares: a label and an ``(actual, expected)`` pair of tensors each.
Pairs: TypeAlias = "dict[str, tuple[torch.Tensor, torch.Tensor]]"

M = TypeVar("M", bound=nn.Module)

# Sizes small enough for every page and check to run in milliseconds.
IN, HIDDEN, SEQ, BATCH = 3, 4, 6, 3


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
    """The expected sides, in the order of ``comparisons``, for comparing devices."""
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
        return self.report()

    def report(self, width: int | None = 79) -> str:
        """The result as text: a header line, the tolerance, each comparison, the notes.

        Lines longer than ``width`` are folded under their value's column (the
        verdict comes first, so a page shows it without scrolling); ``None``
        leaves them whole, for a terminal.
        """
        verdict = "holds" if self.holds else "FAILS"
        dtype = str(self.dtype).removeprefix("torch.")
        column = max((len(k) for k in self.comparisons), default=0)
        column = max(column, len("tolerance"))
        rows = [("tolerance", str(self.tolerance))]
        rows += [(name, c.describe(tolerance=False)) for name, c in self.comparisons.items()]
        rows += [("note:", note) for note in self.notes]
        lines = [f"{device_name(self.device)}, {dtype}: {verdict}"]
        for name, text in rows:
            first = "  note: " if name == "note:" else f"  {name:<{column}}  "
            if width is None:
                lines.append(first + text)
            else:
                lines.append(
                    textwrap.fill(text, width, initial_indent=first, subsequent_indent=" " * len(first))
                )
        return "\n".join(lines)

    def _repr_html_(self) -> str:
        """The result as an HTML table: a column for its device, a row per comparison."""
        return results_table([self], self.claim)._repr_html_()


def _verdict(result: ClaimResult) -> str:
    if not result.holds:
        return "FAILS"
    return "holds, bitwise equal" if result.bitwise else "holds, within the tolerance"


def only_note(devices: Sequence[torch.device]) -> str | None:
    """The sentence a proof shows when no CUDA GPU took part in it; ``None`` when one did.

    ``None`` too for no devices: results that do not say where they ran.

    Examples
    --------
    >>> import torch
    >>> from lstm_demo.claims import only_note
    >>> only_note([torch.device("cpu")])
    'Only the CPU ran this: no CUDA GPU was among the devices.'
    """
    if not devices or any(d.type == "cuda" for d in devices):
        return None
    names = ", ".join(dict.fromkeys(device_name(d) for d in devices))
    who = "the CPU" if names == "cpu" else names
    return f"Only {who} ran this: no CUDA GPU was among the devices."


def results_table(results: Sequence[ClaimResult], sentence: str) -> Table:
    """Results of one claim, a column per device: the verdict, the tolerance, each comparison, the notes.

    The text is each result's :meth:`ClaimResult.report` under ``sentence``;
    the HTML table has the sentence as its caption. A comparison a device
    did not make (``output vs cpu`` on the CPU itself) reads ``n/a``.

    Examples
    --------
    >>> from lstm_demo.claims import batch_first, results_table
    >>> table = results_table([batch_first()], "batch_first transposes.")
    >>> table.header
    ('result', 'cpu, float32')
    >>> table.sections[0][1][0]
    ('verdict', 'holds, bitwise equal')
    """
    header = ("result", *(f"{device_name(r.device)}, {str(r.dtype).removeprefix('torch.')}" for r in results))
    labels = list(dict.fromkeys(label for r in results for label in r.comparisons))
    rows: list[tuple[str, ...]] = [
        ("verdict", *(_verdict(r) for r in results)),
        ("tolerance", *(str(r.tolerance) for r in results)),
    ]
    for label in labels:
        rows.append(
            (
                label,
                *(
                    r.comparisons[label].describe(tolerance=False) if label in r.comparisons else "n/a"
                    for r in results
                ),
            )
        )
    if any(r.notes for r in results):
        rows.append(("notes", *("\n".join(r.notes) or "none" for r in results)))
    note = only_note([r.device for r in results])
    text = "\n".join([_fill(sentence), *(r.report() for r in results), *([_fill(note)] if note else [])])
    return Table(
        text,
        caption=" ".join(sentence.split()),
        header=header,
        sections=[(None, rows)],
        notes=[note] if note else [],
    )


def _fill(text: str) -> str:
    return textwrap.fill(" ".join(text.strip().split("\n\n")[0].split()), width=79)


def claim_result(
    claim: str,
    device: Device,
    dtype: torch.dtype,
    pairs: Pairs,
    *,
    notes: tuple[str, ...] = (),
) -> ClaimResult:
    """Compare each ``(actual, expected)`` pair within :func:`~lstm_demo.tolerances.tolerance_for` the device.

    The expected tensors become the result's ``reference``, for comparing devices.

    Examples
    --------
    >>> import torch
    >>> from lstm_demo.claims import claim_result
    >>> result = claim_result("one is one", "cpu", torch.float32, {"x": (torch.ones(2), torch.ones(2))})
    >>> result.holds, result.bitwise
    (True, True)
    """
    tol = tolerance_for(device, dtype)
    comparisons = {k: compare(a, e, rtol=tol.rtol, atol=tol.atol) for k, (a, e) in pairs.items()}
    reference = tuple(e.detach() for _, e in pairs.values())
    return ClaimResult(claim, torch.device(device), dtype, tol, comparisons, reference, notes)


@dataclass(frozen=True)
class Place:
    """Where a claim runs: a device, a dtype and a seed; builds its modules and inputs there.

    Modules and inputs are drawn on the CPU from the seed (so every device
    gets the same numbers), then moved; the caller's random state is left
    alone.
    """

    device: torch.device
    dtype: torch.dtype
    seed: int = 0

    def module(self, factory: Callable[[], M]) -> M:
        """``factory()`` with parameters drawn from the seed on the CPU, then moved here."""
        with cpu_random(self.seed):
            module = factory()
        return module.to(device=self.device, dtype=self.dtype)

    def lstm(self, *args: int, **kwargs: float | bool) -> nn.LSTM:
        """``nn.LSTM(*args, **kwargs)`` built by :meth:`module`."""
        return self.module(lambda: nn.LSTM(*args, **kwargs))

    def randn(self, *shape: int, offset: int = 1) -> torch.Tensor:
        """A standard normal tensor drawn in float64 from ``seed + offset``, then moved here."""
        generator = torch.Generator().manual_seed(self.seed + offset)
        return torch.randn(*shape, generator=generator, dtype=torch.float64).to(self.device, self.dtype)


#: What a claim's function returns: its pairs, or its pairs and notes.
Found: TypeAlias = "Pairs | tuple[Pairs, tuple[str, ...]]"


class Claim(Protocol):
    """A registered claim: call it with a device, a dtype and a seed for its :class:`ClaimResult`."""

    name: str
    """Its name on the command line and in :data:`CLAIMS`."""
    sentence: str
    """What it claims."""
    __name__: str

    def __call__(
        self, device: Device = "cpu", dtype: torch.dtype = torch.float32, *, seed: int = 0
    ) -> ClaimResult:
        """Run the claim on ``device`` in ``dtype``."""
        ...


#: Every registered claim by name, in the order the pages show them.
CLAIMS: dict[str, Claim] = {}


_EXAMPLE = """

    Examples
    --------
    >>> from lstm_demo.claims import {name}
    >>> {name}().holds
    True
    """


def claim(name: str, sentence: str) -> Callable[[Callable[[Place], Found]], Claim]:
    """Register a function of a :class:`Place` as the claim ``name``, which states ``sentence``.

    The function builds its modules and inputs with the place's helpers and
    returns ``{label: (actual, expected)}`` (and optionally notes). A
    docstring without an ``Examples`` section gets one that runs the claim. The
    decorated claim is called as ``claim(device="cpu", dtype=torch.float32,
    *, seed=0)``: it checks the device and dtype
    (:func:`~lstm_demo.devices.resolve_placement`), runs the function with
    TF32 off (:func:`~lstm_demo.precision.full_precision`) and compares every
    pair within :func:`~lstm_demo.tolerances.tolerance_for` that device and
    dtype, in a :class:`ClaimResult`.

    Raises
    ------
    ValueError
        If a claim of that name is already registered.

    Examples
    --------
    >>> import torch
    >>> from lstm_demo.claims import CLAIMS, claim
    >>> @claim("doubling", "x + x equals 2 * x.")
    ... def doubling(at):
    ...     x = at.randn(3)
    ...     return {"x + x": (x + x, 2 * x)}
    >>> result = doubling("cpu", torch.float64)
    >>> doubling.name, result.holds, result.bitwise
    ('doubling', True, True)
    >>> del CLAIMS["doubling"]
    """
    if name in CLAIMS:
        msg = f"Expected a new claim name, but got {name!r} instead, which is already registered."
        raise ValueError(msg)

    def register(function: Callable[[Place], Found]) -> Claim:
        def run(device: Device = "cpu", dtype: torch.dtype = torch.float32, *, seed: int = 0) -> ClaimResult:
            resolved, dtype = resolve_placement(device, dtype)
            with full_precision():
                found = function(Place(resolved, dtype, seed))
            pairs, notes = found if isinstance(found, tuple) else (found, ())
            return claim_result(sentence, resolved, dtype, pairs, notes=notes)

        run.__name__ = function.__name__
        run.__qualname__ = function.__qualname__
        run.__module__ = function.__module__
        run.__doc__ = function.__doc__ or ""
        if "Examples" not in run.__doc__:
            run.__doc__ += _EXAMPLE.format(name=function.__name__)
        registered = cast("Claim", run)  # a function with the attributes set next
        registered.name = name
        registered.sentence = sentence
        CLAIMS[name] = registered
        return registered

    return register


def _copy(module: M) -> M:
    """A deep copy of ``module``; a recurrent one gets its weights packed into one buffer again.

    On a GPU a copied ``nn.LSTM``'s parameters no longer share the single
    buffer cuDNN reads them from, and every call would warn and re-pack them.
    """
    copied = copy.deepcopy(module)
    if isinstance(copied, nn.RNNBase):
        copied.flatten_parameters()
    return copied


def _leaves(result: Result) -> dict[str, torch.Tensor]:
    output, state = result
    if isinstance(state, tuple):
        return {"output": output, "h_n": state[0], "c_n": state[1]}
    return {"output": output, "h_n": state}


def _pairs(actual: Result, expected: Result) -> Pairs:
    got, want = _leaves(actual), _leaves(expected)
    return {k: (got[k], want[k]) for k in want}


@contextmanager
def _quiet_projection() -> Iterator[None]:
    """PyTorch warns once that oneDNN has no LSTM projection; the result is right either way."""
    with warnings.catch_warnings():
        warnings.filterwarnings("ignore", message="LSTM with projections is not supported with oneDNN")
        yield


# --- claims about a module of the reader's own ------------------------------------------------

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
    return claim_result(sentence, spec.device, spec.dtype, _pairs(actual, whole))


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
    return _module_claim(
        NUM_LAYERS_VS_STACKED, rnn, input, hx, lambda: run_stacked(split_layers(rnn), input, hx)
    )


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
    (:func:`results_table`). When no CUDA GPU ran it, it says so once.
    """

    sentence: str
    """What the claim states."""

    def __init__(self, results: Sequence[V], sentence: str) -> None:
        super().__init__(results)
        self.sentence = sentence

    def table(self) -> Table:
        """The proof as a :class:`~lstm_demo.display.Table`: text, and HTML for a page."""
        if all(isinstance(r, ClaimResult) for r in self):
            return results_table(cast("list[ClaimResult]", list(self)), self.sentence)
        devices = [getattr(r, "device", None) for r in self]
        header = ("device", "holds", "what it found")
        rows = [
            (device_name(d) if isinstance(d, torch.device) else "-", "yes" if r.holds else "NO", str(r))
            for d, r in zip(devices, self, strict=True)
        ]
        note = only_note([d for d in devices if isinstance(d, torch.device)])
        text = "\n".join([_fill(self.sentence), *map(str, self), *([_fill(note)] if note else [])])
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


# --- the registered claims, in the order the pages show them ------------------------------------


def post_stepwise_model() -> nn.LSTM:
    """The model of :func:`post_stepwise`: ``nn.LSTM(4, 5, batch_first=True)``, parameters uniform in [-0.08, 0.08]."""
    lstm = nn.LSTM(4, 5, batch_first=True)
    for param in lstm.parameters():
        nn.init.uniform_(param, -0.08, 0.08)
    return lstm


@claim("post-stepwise", WHOLE_VS_STEPWISE)
def post_stepwise(at: Place) -> Pairs:
    """The post's first question on its model: ``nn.LSTM(4, 5, batch_first=True)``, parameters in [-0.08, 0.08]."""
    lstm = at.module(post_stepwise_model)
    x = at.randn(2, 3, 4)
    with torch.no_grad():
        return _pairs(run_stepwise(lstm, x), lstm(x))


@claim("post-layers", NUM_LAYERS_VS_STACKED)
def post_layers(at: Place) -> Pairs:
    """The post's second question on its model: ``nn.LSTM(3, 3, num_layers=2)``, five steps."""
    lstm = at.lstm(3, 3, num_layers=2)
    x = at.randn(5, 1, 3)
    with torch.no_grad():
        return _pairs(run_stacked(split_layers(lstm), x), lstm(x))


@claim("scratch", "The LSTM equations written out in Python equal nn.LSTM.")
def scratch(at: Place) -> Pairs:
    """Claim: :func:`~lstm_demo.scratch.scratch_lstm` equals ``nn.LSTM``, two layers, both directions."""
    lstm = at.lstm(IN, HIDDEN, num_layers=2, bidirectional=True)
    x = at.randn(SEQ, BATCH, IN)
    with torch.no_grad():
        return _pairs(scratch_lstm(lstm, x), lstm(x))


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


@claim("lstmcell-loop", "An nn.LSTMCell in a Python loop, holding nn.LSTM's weights, equals nn.LSTM.")
def lstmcell_loop(at: Place) -> Pairs:
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
        return _pairs(run_cell_loop(lstm, x), lstm(x))


@claim(
    "last-output",
    "output[-1] equals h_n[-1] for a unidirectional LSTM; for a bidirectional one, "
    "h_n[-1] (the backward direction) equals the second half of output[0].",
)
def last_output(at: Place) -> Found:
    """Claim: where the last hidden state sits in ``output``, one direction and two.

    ``output`` holds the top layer's hidden state at every step. Going forward,
    the final state is the last step's, ``output[-1]``. Going backward, the
    final state is reached at the *first* time step, so for a bidirectional
    LSTM ``h_n[-1]`` is ``output[0, :, H:]``, while ``output[-1, :, H:]`` is the
    backward direction after a single step; the result's notes give how far
    apart that and ``h_n[-1]`` are.
    """
    uni = at.lstm(IN, HIDDEN, num_layers=2)
    bi = at.lstm(IN, HIDDEN, num_layers=2, bidirectional=True)
    x = at.randn(SEQ, BATCH, IN)
    with torch.no_grad():
        out_uni, (h_uni, _) = uni(x)
        out_bi, (h_bi, _) = bi(x)
    H = HIDDEN  # the equations' name for the hidden size
    wrong = (out_bi[-1, :, H:] - h_bi[-1]).abs().max().item()
    pairs = {
        "one direction: output[-1] vs h_n[-1]": (out_uni[-1], h_uni[-1]),
        "forward: output[-1, :, :H] vs h_n[-2]": (out_bi[-1, :, :H], h_bi[-2]),
        "backward: output[0, :, H:] vs h_n[-1]": (out_bi[0, :, H:], h_bi[-1]),
    }
    note = f"bidirectional: output[-1, :, H:] is not h_n[-1]; max abs diff {wrong:.3g}"
    return pairs, (note,)


@claim(
    "bidirectional",
    "A bidirectional LSTM equals a forward LSTM on the sequence and another on the reversed "
    "sequence, its output reversed back, concatenated.",
)
def bidirectional(at: Place) -> Pairs:
    """Claim: bidirectional = forward on ``x`` + forward on ``x.flip(0)``, flipped back, concatenated.

    Uses :func:`~lstm_demo.split_directions`. Also checks the ``h_n``
    layout ``(num_layers * 2, batch, H)``: row 0 the forward direction's final
    state, row 1 the backward's.
    """
    bi = at.lstm(IN, HIDDEN, bidirectional=True)
    forward, backward = split_directions(bi)
    x = at.randn(SEQ, BATCH, IN)
    with torch.no_grad():
        output, (h_n, c_n) = bi(x)
        out_f, (h_f, c_f) = forward(x)
        out_b, (h_b, c_b) = backward(x.flip(0))
    return {
        "output": (torch.cat([out_f, out_b.flip(0)], dim=-1), output),
        "h_n[0] (forward)": (h_f[0], h_n[0]),
        "h_n[1] (backward)": (h_b[0], h_n[1]),
        "c_n": (torch.cat([c_f, c_b]), c_n),
    }


@claim("batch-first", "batch_first=True transposes input and output, and leaves h_n and c_n as they are.")
def batch_first(at: Place) -> Found:
    """Claim: ``batch_first`` changes ``input``/``output`` only, never ``h_n``/``c_n``."""
    time_first = at.lstm(IN, HIDDEN, num_layers=2)
    first = at.lstm(IN, HIDDEN, num_layers=2, batch_first=True)
    x = at.randn(BATCH, SEQ, IN)  # (batch, seq_len, features)
    with torch.no_grad():
        out_bf, (h_bf, c_bf) = first(x)
        out_tf, (h_tf, c_tf) = time_first(x.transpose(0, 1))
    pairs = {
        "output (transposed)": (out_bf.transpose(0, 1), out_tf),
        "h_n": (h_bf, h_tf),
        "c_n": (c_bf, c_tf),
    }
    return pairs, (f"h_n has shape {tuple(h_bf.shape)} (num_layers, batch, hidden_size) either way",)


@claim(
    "packed",
    "A packed padded batch equals running each sequence alone at its true length; "
    "h_n is taken at each sequence's last real step.",
)
def packed(at: Place) -> Found:
    """Claim: ``pack_padded_sequence`` equals each sequence run alone; also with ``enforce_sorted=False``.

    Three sequences of lengths 6, 4 and 2, zero-padded to 6, run through
    :func:`~torch.nn.utils.rnn.pack_padded_sequence` (sorted), and through it
    again in the unsorted order 2, 6, 4 with ``enforce_sorted=False``. The
    notes give how far the padded ``output[-1]`` is from ``h_n`` for the
    shorter sequences: reading the last row of a padded output is the classic
    bug.
    """
    lstm = at.lstm(IN, HIDDEN)
    x = at.randn(SEQ, BATCH, IN)
    pairs: Pairs = {}
    notes = []
    for label, lengths in (("sorted", [6, 4, 2]), ("unsorted", [2, 6, 4])):
        padded = x.clone()
        for b, n in enumerate(lengths):
            padded[n:, b] = 0
        with torch.no_grad():
            packed_input = pack_padded_sequence(padded, lengths, enforce_sorted=label == "sorted")
            out_packed, (h_n, c_n) = lstm(packed_input)
            output, _ = pad_packed_sequence(out_packed, total_length=SEQ)
            alone = [lstm(padded[:n, b : b + 1]) for b, n in enumerate(lengths)]
        valid = torch.cat([output[:n, b] for b, n in enumerate(lengths)])
        pad = torch.cat([output[n:, b] for b, n in enumerate(lengths)])
        pairs[f"{label}: output, real steps"] = (valid, torch.cat([o[:, 0] for o, _ in alone]))
        pairs[f"{label}: output, padding is zero"] = (pad, torch.zeros_like(pad))
        pairs[f"{label}: h_n"] = (h_n, torch.cat([h for _, (h, _) in alone], dim=1))
        pairs[f"{label}: c_n"] = (c_n, torch.cat([c for _, (_, c) in alone], dim=1))
        if label == "sorted":
            gap = (output[-1] - h_n[-1]).abs().amax(dim=-1)
            notes.append(
                "padded output[-1] vs h_n[-1], per sequence of lengths 6, 4, 2: "
                + ", ".join(f"{g:.3g}" for g in gap.tolist())
                + " (the shorter ones' output[-1] is padding)"
            )
    return pairs, tuple(notes)


def run_in_chunks(
    lstm: nn.LSTM, input: torch.Tensor, chunk: int | None = None, *, detach: bool = False
) -> tuple[torch.Tensor, tuple[torch.Tensor, torch.Tensor], torch.Tensor]:
    """Run ``input`` through ``lstm`` in chunks of ``chunk`` steps, passing ``(h, c)`` on; backpropagate the last output.

    ``chunk=None`` runs it in one call. With ``detach=True`` the state is
    detached between chunks, as truncated backpropagation through time does.

    Returns
    -------
    output, (h_n, c_n), grad
        The output and final state (detached), and the gradient of
        ``output[-1].sum()`` with respect to ``input``, shaped like it.

    Examples
    --------
    >>> import torch
    >>> from torch import nn
    >>> from lstm_demo.claims import run_in_chunks
    >>> output, (h_n, c_n), grad = run_in_chunks(nn.LSTM(3, 4), torch.randn(12, 2, 3), 4, detach=True)
    >>> bool(grad[:8].eq(0).all()), bool(grad[8:].ne(0).any())
    (True, True)
    """
    x = input.detach().clone().requires_grad_(True)
    state: tuple[torch.Tensor, torch.Tensor] | None = None
    outputs = []
    for start in range(0, len(x), chunk or len(x)):
        out, state = lstm(x[start : start + (chunk or len(x))], state)
        outputs.append(out)
        if detach:
            state = (state[0].detach(), state[1].detach())
    output = torch.cat(outputs)
    output[-1].sum().backward()  # type: ignore[no-untyped-call]  # untyped in torch
    assert state is not None  # at least one chunk ran
    assert x.grad is not None
    return output.detach(), (state[0].detach(), state[1].detach()), x.grad


@claim(
    "chunked",
    "Running a long sequence in chunks, passing (h, c) on, equals one call; "
    "detach() between chunks changes gradients, not outputs.",
)
def chunked(at: Place) -> Found:
    """Claim: chunks with the state carried equal one call (truncated backpropagation through time).

    A sequence of 12 steps in 3 chunks of 4. With ``detach()`` between
    chunks, the outputs are the same, and the gradient of the last output
    with respect to the input stops at the last chunk: zero for the first 8
    steps. Without ``detach()``, the gradient equals the one-call gradient.
    """
    lstm = at.lstm(IN, HIDDEN)
    x = at.randn(12, 2, IN)
    whole, (h, c), grad = run_in_chunks(lstm, x)
    carried, (h_c, c_c), grad_c = run_in_chunks(lstm, x, 4)
    detached, (h_d, c_d), grad_d = run_in_chunks(lstm, x, 4, detach=True)
    pairs = {
        "output": (carried, whole),
        "h_n": (h_c, h),
        "c_n": (c_c, c),
        "output, detach() between chunks": (detached, whole),
        "h_n, detach() between chunks": (h_d, h),
        "c_n, detach() between chunks": (c_d, c),
        "d output[-1] / d input": (grad_c, grad),
        "with detach(): gradient before the last chunk": (grad_d[:8], torch.zeros_like(grad_d[:8])),
        "with detach(): gradient in the last chunk": (grad_d[8:], grad[8:]),
    }
    return pairs, (
        f"without detach(), the gradient reaches step 0: max |grad[:8]| = {grad[:8].abs().max():.3g}",
    )


@claim(
    "state-layout",
    "(h_0, c_0) is (num_layers * directions, batch, hidden_size) with batch_first=True too: "
    "such a module given (h_0, c_0) equals the batch_first=False module on the transposed input "
    "with the same state; unbatched input ignores batch_first.",
)
def state_layout(at: Place) -> Found:
    """Claim: ``batch_first`` never applies to ``h_0``/``c_0``, and unbatched input ignores it.

    Three layers and a batch of three, so ``num_layers * directions == batch``:
    the one case where an ``h_0`` laid out batch-first, ``(batch, num_layers,
    hidden_size)``, has the expected shape and runs without an error. The
    note says how far the result then is from the right one.

    Examples
    --------
    >>> from lstm_demo.claims import state_layout
    >>> result = state_layout()
    >>> result.holds, list(result.comparisons)[:3]
    (True, ['output (transposed)', 'h_n', 'c_n'])
    """
    first = at.lstm(IN, HIDDEN, num_layers=BATCH, batch_first=True)
    time_first = at.lstm(IN, HIDDEN, num_layers=BATCH)
    x = at.randn(BATCH, SEQ, IN)  # (batch, seq_len, features)
    h_0, c_0 = at.randn(BATCH, BATCH, HIDDEN, offset=2), at.randn(BATCH, BATCH, HIDDEN, offset=3)
    single = at.randn(SEQ, IN, offset=4)  # unbatched: (seq_len, features)
    with torch.no_grad():
        out_bf, (h_bf, c_bf) = first(x, (h_0, c_0))
        out_tf, (h_tf, c_tf) = time_first(x.transpose(0, 1), (h_0, c_0))
        # cuDNN takes only contiguous states: h_0[:, 0] is a strided view.
        h_single, c_single = h_0[:, 0].contiguous(), c_0[:, 0].contiguous()
        one_bf, (h1_bf, c1_bf) = first(single, (h_single, c_single))
        one_tf, (h1_tf, c1_tf) = time_first(single, (h_single, c_single))
        # A batch-first state is its own contiguous tensor (cuDNN also refuses a strided view).
        wrong, _ = first(x, (h_0.transpose(0, 1).contiguous(), c_0.transpose(0, 1).contiguous()))
    pairs = {
        "output (transposed)": (out_bf.transpose(0, 1), out_tf),
        "h_n": (h_bf, h_tf),
        "c_n": (c_bf, c_tf),
        "unbatched: output": (one_bf, one_tf),
        "unbatched: h_n": (h1_bf, h1_tf),
        "unbatched: c_n": (c1_bf, c1_tf),
    }
    note = (
        f"h_0 laid out batch-first (transposed) runs without an error where num_layers == batch "
        f"== {BATCH}; its output is off by up to {(wrong - out_bf).abs().max():.3g}"
    )
    return pairs, (note,)


@claim(
    "no-hidden-memory",
    "nn.LSTM keeps no state between calls: a call without (h_0, c_0) equals a fresh module's call "
    "from zeros, whatever ran before; passing (h, c) on makes two calls equal one call.",
)
def no_hidden_memory(at: Place) -> Found:
    """Claim: a second call starts from zeros unless given the first call's ``(h, c)``.

    A sequence of 12 steps in two chunks of 6, through a two-layer module.
    The second call without a state is compared with a deep copy of the
    module, made before any call, given explicit zeros; with the state
    carried, with one call over both chunks. The notes say how far the two
    calls without a state are from the one call.
    """
    lstm = at.lstm(IN, HIDDEN, num_layers=2)
    fresh = _copy(lstm)
    x = at.randn(12, BATCH, IN)
    zeros = x.new_zeros(2, BATCH, HIDDEN)
    with torch.no_grad():
        whole, (h, c) = lstm(x)
        _, state = lstm(x[:6])
        second, (h_2, c_2) = lstm(x[6:])  # no state given
        carried, (h_c, c_c) = lstm(x[6:], state)
        from_zeros, (h_z, c_z) = fresh(x[6:], (zeros, zeros))
    pairs = {
        "second call, no state: output": (second, from_zeros),
        "second call, no state: h_n": (h_2, h_z),
        "second call, no state: c_n": (c_2, c_z),
        "(h, c) passed on: output": (carried, whole[6:]),
        "(h, c) passed on: h_n": (h_c, h),
        "(h, c) passed on: c_n": (c_c, c),
    }
    gap = (second - whole[6:]).abs().amax(dim=(1, 2))
    note = (
        f"two calls without passing (h, c) vs one call: the second chunk's output is off by up to "
        f"{gap.max():.3g} (first step {gap[0]:.3g}, last step {gap[-1]:.3g}); h_n by up to "
        f"{(h_2 - h).abs().max():.3g}"
    )
    return pairs, (note,)


@claim(
    "truncated-bptt",
    "With the carried state detached, the gradients of chunk 2's loss equal those of chunk 2 run "
    "alone from that state given as a constant; without detach() the weights' gradients differ.",
)
def truncated_bptt(at: Place) -> Found:
    """Claim: ``detach()`` on the carried state turns chunk 1's result into a constant for chunk 2's loss.

    Chunks of 6 steps; the loss weighs chunk 2's output with fixed random
    weights. Compared: the gradients with respect to chunk 2's input and
    every parameter, with the state detached, and with chunk 1 run under
    ``torch.no_grad()`` (its state a constant). Chunk 2's input gradient is
    also the same with full backpropagation; the notes say how far the
    weights' gradients are from full backpropagation through both chunks.
    """
    lstm = at.lstm(IN, HIDDEN)
    x = at.randn(12, 2, IN)
    weights = at.randn(6, 2, HIDDEN, offset=2)

    def grads(carry: Callable[[torch.Tensor], tuple[torch.Tensor, torch.Tensor]]) -> dict[str, torch.Tensor]:
        first, second = x[:6].clone().requires_grad_(True), x[6:].clone().requires_grad_(True)
        output, _ = lstm(second, carry(first))
        loss = (output * weights).sum()
        found = torch.autograd.grad(loss, [second, first, *lstm.parameters()], allow_unused=True)
        names = ["chunk 2 input", "chunk 1 input", *(n for n, _ in lstm.named_parameters())]
        return {n: torch.zeros_like(first) if g is None else g for n, g in zip(names, found, strict=True)}

    def detached(first: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        _, (h, c) = lstm(first)
        return h.detach(), c.detach()

    def constant(first: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        with torch.no_grad():
            _, (h, c) = lstm(first)
        return h, c

    def carried(first: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        _, (h, c) = lstm(first)
        return h, c

    with_detach, alone, full = grads(detached), grads(constant), grads(carried)
    pairs = {
        f"d loss / d {name}": (with_detach[name], alone[name]) for name in alone if name != "chunk 1 input"
    }
    pairs["full backprop: d loss / d chunk 2 input"] = (full["chunk 2 input"], with_detach["chunk 2 input"])
    gaps = ", ".join(
        f"{n} {float((full[n] - with_detach[n]).abs().max() / full[n].abs().max()):.3g}"
        for n, _ in lstm.named_parameters()
    )
    return pairs, (
        f"full backprop vs detach(), max |difference| / max |full gradient|: {gaps}",
        f"full backprop also reaches chunk 1's input: max |gradient| {full['chunk 1 input'].abs().max():.3g}",
    )


@claim(
    "padded-unpacked",
    "Without packing, a padded batch runs its zero padding as real steps: h_n equals each sequence "
    "run alone with its padding, not at its true length, in both directions.",
)
def padded_unpacked(at: Place) -> Found:
    """Claim: a padded batch that is not packed gives each sequence the padding as input.

    A bidirectional LSTM and three sequences of lengths 6, 4 and 2,
    zero-padded to 6 and passed as a plain tensor. The forward direction's
    outputs at the real steps are still right (the padding comes after
    them); its ``h_n`` is taken after the padding, and the backward
    direction reads the padding first. The notes give how far the padded
    ``h_n`` is from the true one (each sequence alone at its true length),
    per direction.
    """
    bi = at.lstm(IN, HIDDEN, bidirectional=True)
    lengths = [6, 4, 2]
    x = at.randn(SEQ, BATCH, IN)
    for b, n in enumerate(lengths):
        x[n:, b] = 0
    with torch.no_grad():
        output, (h_n, c_n) = bi(x)
        with_padding = [bi(x[:, b]) for b in range(BATCH)]  # unbatched: (seq_len, features)
        true = [bi(x[:n, b]) for b, n in enumerate(lengths)]
    forward_real = torch.cat([output[:n, b, :HIDDEN] for b, n in enumerate(lengths)])
    pairs = {
        "output": (output, torch.stack([o for o, _ in with_padding], dim=1)),
        "h_n": (h_n, torch.stack([h for _, (h, _) in with_padding], dim=1)),
        "c_n": (c_n, torch.stack([c for _, (_, c) in with_padding], dim=1)),
        "forward direction, real steps: output": (
            forward_real,
            torch.cat([o[:, :HIDDEN] for o, _ in true]),
        ),
    }
    true_h = torch.stack([h for _, (h, _) in true], dim=1)
    gap = (h_n - true_h).abs().amax(dim=-1)  # (directions, batch)
    notes = tuple(
        f"padded h_n vs true h_n, {name} direction, lengths 6, 4, 2: "
        + ", ".join(f"{g:.3g}" for g in gap[d].tolist())
        for d, name in enumerate(("forward", "backward"))
    )
    return pairs, notes


@claim("gradients", "Backward through the step-by-step loop equals backward through the fused call.")
def gradients(at: Place) -> Pairs:
    """Claim: input and weight gradients agree between :func:`~lstm_demo.run_stepwise` and the fused call.

    The loss weighs every output and both final states with fixed random
    weights, so every gradient is exercised.

    Examples
    --------
    >>> from lstm_demo.claims import gradients
    >>> result = gradients()
    >>> result.holds, len(result.comparisons)
    (True, 9)
    """
    lstm = at.lstm(IN, HIDDEN, num_layers=2)
    x0 = at.randn(SEQ, BATCH, IN)
    weights = at.randn(SEQ, BATCH, HIDDEN, offset=2)

    def grads(forward: Callable[[nn.LSTM, torch.Tensor], Result]) -> dict[str, torch.Tensor]:
        lstm.zero_grad()
        x = x0.clone().requires_grad_(True)
        output, state = forward(lstm, x)
        loss = (output * weights).sum() + sum(s.sum() for s in state)
        loss.backward()  # type: ignore[no-untyped-call]  # untyped in torch
        found = {"input": x.grad}
        found.update({name: p.grad for name, p in lstm.named_parameters()})
        return {name: g.clone() for name, g in found.items() if g is not None}

    fused = grads(lambda m, x: m(x))
    stepwise = grads(run_stepwise)
    return {f"d loss / d {k}": (stepwise[k], fused[k]) for k in fused}


@claim(
    "dropout",
    "With dropout between layers, nn.LSTM equals its layers stacked with nn.Dropout between them: "
    "always in eval() mode, and in train() mode under the same random state where both draw masks "
    "from the same generator.",
)
def dropout(at: Place) -> Found:
    """Claim: ``num_layers=2, dropout=p`` is layer 0, ``nn.Dropout(p)``, layer 1.

    In ``eval()`` mode dropout does nothing, on every device. In ``train()``
    mode the two draw random masks; on the CPU both draw them from the CPU
    generator in the same order, so under the same seed they are the same
    masks. cuDNN draws its masks from a generator of its own, so on a GPU the
    train-mode comparison is not made, and a note says so.

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
        out_eval, (h_eval, _) = lstm(x)
        stacked_eval, (h_stacked, _) = run_stacked([layer_0.eval(), layer_1.eval()], x)
    pairs = {"eval(): output": (stacked_eval, out_eval), "eval(): h_n": (h_stacked, h_eval)}
    if at.device.type != "cpu":
        return pairs, (
            f"train() mode not compared on {at.device.type}: cuDNN can draw its own dropout masks",
        )
    lstm.train()
    with torch.no_grad():
        with cpu_random(at.seed + 3):  # the same masks for both: the same generator state
            out_train, (h_train, _) = lstm(x)
        with cpu_random(at.seed + 3):
            y, (h_0, _) = layer_0(x)
            out_stacked, (h_1, _) = layer_1(drop(y))
    pairs["train(), same seed: output"] = (out_stacked, out_train)
    pairs["train(), same seed: h_n"] = (torch.cat([h_0, h_1]), h_train)
    return pairs


@claim(
    "projection",
    "With proj_size=P, h (and output) has P features and c keeps hidden_size: "
    "h = W_hr (o * tanh(c)), as the equations written out compute it.",
)
def projection(at: Place) -> Found:
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
    with torch.no_grad(), _quiet_projection():
        output, (h_n, c_n) = lstm(x)
        pairs = _pairs(scratch_lstm(lstm, x), (output, (h_n, c_n)))
    return pairs, (f"h_n {tuple(h_n.shape)}, c_n {tuple(c_n.shape)}: proj_size 2, hidden_size {HIDDEN}",)


def _post_claims(module: nn.RNNBase, x: torch.Tensor, prefix: str = "") -> Pairs:
    """The post's two claims on ``module``: its comparisons, labelled by claim."""
    with torch.no_grad():
        whole = module(x)
        found = {
            "one step at a time": run_stepwise(module, x),
            "stacked layers": run_stacked(split_layers(module), x),
        }
    return {
        f"{prefix}{label}: {k}": pair
        for label, result in found.items()
        for k, pair in _pairs(result, whole).items()
    }


@claim(
    "gru",
    "The post's two claims hold for nn.GRU (gates r, z, n): one step at a time, and num_layers=2 as two layers.",
)
def gru(at: Place) -> Pairs:
    """Claim: the post's two answers hold for ``nn.GRU`` too."""
    module = at.module(lambda: nn.GRU(IN, HIDDEN, num_layers=2))
    return _post_claims(module, at.randn(SEQ, BATCH, IN))


@claim(
    "rnn",
    "The post's two claims hold for nn.RNN, tanh and relu: one step at a time, and num_layers=2 as two layers.",
)
def rnn(at: Place) -> Pairs:
    """Claim: the post's two answers hold for ``nn.RNN`` with either nonlinearity."""
    x = at.randn(SEQ, BATCH, IN)
    pairs: Pairs = {}
    for nonlinearity in ("tanh", "relu"):
        module = at.module(functools.partial(nn.RNN, IN, HIDDEN, num_layers=2, nonlinearity=nonlinearity))
        pairs.update(_post_claims(module, x, prefix=f"{nonlinearity}, "))
    return pairs


@claim(
    "flatten",
    "Weights replaced by hand give the same results before and after flatten_parameters(), "
    "which only moves them back into one contiguous buffer.",
)
def flatten(at: Place) -> Found:
    """Claim: ``flatten_parameters()`` changes where the weights live, not the results.

    Replacing a parameter's tensor (``weight.data = new``) takes it out of the
    single buffer cuDNN wants its weights in; on a GPU, the next forward warns
    ("RNN module weights are not part of single contiguous chunk of memory")
    and copies them on every call until ``flatten_parameters()`` packs them
    again. The CPU has no such buffer and never warns. The notes say which
    warnings this run saw.

    Examples
    --------
    >>> from lstm_demo.claims import flatten
    >>> result = flatten()
    >>> result.holds, result.notes
    (True, ('warning before flatten_parameters(): no; after: no',))
    """
    lstm = at.lstm(IN, HIDDEN, num_layers=2)
    x = at.randn(SEQ, BATCH, IN)
    with torch.no_grad():
        reference, _ = lstm(x)
        for param in lstm.parameters():
            param.data = param.data.clone()  # a fresh tensor, outside any flat buffer

    def forward() -> tuple[torch.Tensor, bool]:
        with warnings.catch_warnings(record=True) as caught, torch.no_grad():
            warnings.simplefilter("always")
            output, _ = lstm(x)
        return output, any("contiguous chunk of memory" in str(w.message) for w in caught)

    before, warned_before = forward()
    lstm.flatten_parameters()
    after, warned_after = forward()
    yes_no = {True: "yes", False: "no"}
    pairs = {
        "output, weights replaced": (before, reference),
        "output, after flatten_parameters()": (after, reference),
    }
    return pairs, (
        f"warning before flatten_parameters(): {yes_no[warned_before]}; after: {yes_no[warned_after]}",
    )


# --- biases, peepholes, and the notations of papers and tutorials -------------------------------

#: Gates per block of rows in each class's weights: nn.LSTM i, f, g, o; nn.GRU r, z, n; nn.RNN one.
_GATE_COUNT = {nn.LSTM: 4, nn.GRU: 3, nn.RNN: 1}

#: A bias that holds a sigmoid at exactly 1: sigmoid(50 - a few) rounds to 1 in float32 and float64.
OPEN = 50.0


def move_bias_hh(rnn: M, gates: Sequence[int] | None = None) -> M:
    """A copy of ``rnn`` with ``bias_hh`` moved into ``bias_ih``, in every layer and direction.

    Each moved block of rows is added to ``bias_ih`` and zeroed in
    ``bias_hh``, so their sum stays the same; ``rnn`` is not changed.

    Parameters
    ----------
    rnn : nn.LSTM, nn.GRU or nn.RNN
        A module with ``bias=True``.
    gates : sequence of int, optional
        The gate blocks to move, by position in the module's gate order
        (``nn.LSTM``: 0-3 for i, f, g, o; ``nn.GRU``: 0-2 for r, z, n;
        ``nn.RNN``: 0). Default: all.

    Raises
    ------
    TypeError
        If ``rnn`` is not an ``nn.LSTM``, ``nn.GRU`` or ``nn.RNN``.
    ValueError
        If ``rnn`` has no biases, or a gate is not one of its gates.

    Examples
    --------
    >>> import torch
    >>> from torch import nn
    >>> from lstm_demo.claims import move_bias_hh
    >>> gru = nn.GRU(3, 2)
    >>> moved = move_bias_hh(gru, gates=[0, 1])  # r and z, not n
    >>> moved.bias_hh_l0.tolist()[:4], bool(moved.bias_hh_l0[4:].ne(0).all())
    ([0.0, 0.0, 0.0, 0.0], True)
    >>> torch.testing.assert_close(moved.bias_ih_l0 + moved.bias_hh_l0, gru.bias_ih_l0 + gru.bias_hh_l0)
    """
    cls = check_module(rnn)
    if not rnn.bias:
        msg = "Expected a module with bias=True, but got bias=False instead."
        raise ValueError(msg)
    count = _GATE_COUNT[cls]
    chosen = list(range(count)) if gates is None else list(gates)
    wrong = [g for g in chosen if isinstance(g, bool) or not isinstance(g, int) or not 0 <= g < count]
    if wrong or not chosen:
        msg = f"Expected gates from 0 to {count - 1} for an {cls.__name__}, but got {chosen} instead."
        raise ValueError(msg)
    moved = _copy(rnn)
    H = cast("int", rnn.hidden_size)
    with torch.no_grad():
        for name, bias_hh in moved.named_parameters():
            if name.startswith("bias_hh"):
                bias_ih = getattr(moved, name.replace("bias_hh", "bias_ih"))
                for g in chosen:
                    bias_ih[g * H : (g + 1) * H] += bias_hh[g * H : (g + 1) * H]
                    bias_hh[g * H : (g + 1) * H] = 0
    return moved


def _set_bias(rnn: M, which: str, gate: int, value: float) -> M:
    """A copy of ``rnn`` with gate block ``gate`` of every ``bias_ih`` or ``bias_hh`` (``which``) set to ``value``."""
    changed = _copy(rnn)
    H = cast("int", rnn.hidden_size)
    with torch.no_grad():
        for name, bias in changed.named_parameters():
            if name.startswith(which):
                bias[gate * H : (gate + 1) * H] = value
    return changed


def _max_diff(a: torch.Tensor, b: torch.Tensor) -> float:
    return float((a - b).abs().max())


@claim(
    "two-biases",
    "nn.LSTM adds two bias vectors, bias_ih and bias_hh, and only their sum matters: bias_hh moved "
    "into bias_ih gives the same output, h_n and c_n; a forget bias of 1 set in both is a forget bias of 2.",
)
def two_biases(at: Place) -> Found:
    """Claim: only ``bias_ih + bias_hh`` matters; "forget bias 1" in both vectors is a forget bias of 2.

    :func:`move_bias_hh` moves every ``bias_hh`` into ``bias_ih``. Then the
    forget gate's rows (``H:2H``, PyTorch's gate order i, f, g, o) are set to
    1 in both vectors, as a "forget bias = 1" recipe applied to every bias
    parameter does: that equals 2 in ``bias_ih`` and 0 in ``bias_hh``. The
    note gives how far that is from the forget bias of 1 the recipe meant.

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
    both = _set_bias(_set_bias(lstm, "bias_ih", 1, 1.0), "bias_hh", 1, 1.0)  # the recipe, on both vectors
    two = _set_bias(_set_bias(lstm, "bias_ih", 1, 2.0), "bias_hh", 1, 0.0)
    meant = _set_bias(_set_bias(lstm, "bias_ih", 1, 1.0), "bias_hh", 1, 0.0)
    with torch.no_grad():
        pairs = _pairs(merged(x), lstm(x))
        out_both, _ = both(x)
        out_two, _ = two(x)
        out_meant, _ = meant(x)
    pairs["forget 1 + 1 vs 2 + 0: output"] = (out_both, out_two)
    return pairs, (
        f"forget bias 1 in both vectors vs 1 in total: output differs by {_max_diff(out_both, out_meant):.3g}",
    )


@claim(
    "no-peepholes",
    "nn.LSTM has no peephole connections: its gates read x_t and h_{t-1} only, as the equations "
    "without peepholes compute, so c_1 is affine in c_0; a peephole LSTM with the same weights differs.",
)
def no_peepholes(at: Place) -> Found:
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
        pairs = _pairs(peephole_lstm(lstm, x, None, hx), expected)

        def c_1(forward: Callable[[torch.Tensor], LSTMResult], c: torch.Tensor) -> torch.Tensor:
            return forward(c)[1][1]

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
    pairs["c_1(2 c_0) - c_1(c_0) vs c_1(c_0) - c_1(0)"] = linear["nn.LSTM"]
    return pairs, (
        f"peephole LSTM, same weights: output differs by {_max_diff(with_peepholes, expected[0]):.3g}",
        f"peephole LSTM: c_1 off affine in c_0 by {_max_diff(*linear['peephole']):.3g}",
    )


def _olah_lstm(lstm: nn.LSTM, input: torch.Tensor, *, x_first: bool = False) -> LSTMResult:
    """Olah's form, one layer, time-first batched input: ``W [h_{t-1}, x_t] + b`` per gate.

    ``x_first`` concatenates ``[x_t, h_{t-1}]`` instead, with the same ``W``.
    """
    W = torch.cat(
        [lstm.get_parameter("weight_hh_l0"), lstm.get_parameter("weight_ih_l0")], dim=1
    )  # (4H, H + in): [W_h | W_x] per gate
    b = lstm.get_parameter("bias_ih_l0") + lstm.get_parameter("bias_hh_l0")
    W_i, W_f, W_C, W_o = W.chunk(4)
    b_i, b_f, b_C, b_o = b.chunk(4)
    h = C = input.new_zeros(input.shape[1], lstm.hidden_size)
    outputs = []
    for x_t in input:
        hx = torch.cat([x_t, h] if x_first else [h, x_t], dim=-1)
        f = torch.sigmoid(hx @ W_f.T + b_f)
        i = torch.sigmoid(hx @ W_i.T + b_i)
        C_tilde = torch.tanh(hx @ W_C.T + b_C)
        C = f * C + i * C_tilde
        o = torch.sigmoid(hx @ W_o.T + b_o)
        h = o * torch.tanh(C)
        outputs.append(h)
    return torch.stack(outputs), (h[None], C[None])


def _d2l_lstm(lstm: nn.LSTM, input: torch.Tensor) -> LSTMResult:
    """d2l.ai's form, one layer, time-first batched input: ``X W_x + H W_h + b`` per gate, row vectors."""
    H = lstm.hidden_size
    W_xi, W_xf, W_xc, W_xo = torch.split(lstm.get_parameter("weight_ih_l0").T, H, dim=1)  # each (in, H)
    W_hi, W_hf, W_hc, W_ho = torch.split(lstm.get_parameter("weight_hh_l0").T, H, dim=1)  # each (H, H)
    b_i, b_f, b_c, b_o = torch.split(lstm.get_parameter("bias_ih_l0") + lstm.get_parameter("bias_hh_l0"), H)
    state = C = input.new_zeros(input.shape[1], H)
    outputs = []
    for X in input:
        I = torch.sigmoid(X @ W_xi + state @ W_hi + b_i)  # d2l's name
        F = torch.sigmoid(X @ W_xf + state @ W_hf + b_f)
        O = torch.sigmoid(X @ W_xo + state @ W_ho + b_o)
        C_tilde = torch.tanh(X @ W_xc + state @ W_hc + b_c)
        C = F * C + I * C_tilde
        state = O * torch.tanh(C)
        outputs.append(state)
    return torch.stack(outputs), (state[None], C[None])


@claim(
    "olah-notation",
    "Olah's W [h_{t-1}, x_t] + b, with W = [W_hh | W_ih] per gate and b = bias_ih + bias_hh, equals "
    "nn.LSTM, and so does d2l.ai's row-vector form, whose candidate C~_t is PyTorch's g_t.",
)
def olah_notation(at: Place) -> Found:
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
        found = {"Olah": _olah_lstm(lstm, x), "d2l": _d2l_lstm(lstm, x)}
        swapped, _ = _olah_lstm(lstm, x, x_first=True)
    pairs = {
        f"{label}: {k}": pair
        for label, result in found.items()
        for k, pair in _pairs(result, expected).items()
    }
    return pairs, (
        f"Olah's W on [x_t, h_(t-1)] (the other order): output differs by {_max_diff(swapped, expected[0]):.3g}",
    )


def _row_vector_lstm(
    lstm: nn.LSTM, input: torch.Tensor, *, order: tuple[str, str, str, str] = ("i", "f", "g", "o")
) -> LSTMResult:
    """One layer from a Keras-style fused kernel ``(in, 4H)``, time-first batched input.

    ``order`` says which gate each block of columns is read as.
    """
    kernel = lstm.get_parameter("weight_ih_l0").T  # (in, 4H)
    recurrent_kernel = lstm.get_parameter("weight_hh_l0").T  # (H, 4H)
    bias = lstm.get_parameter("bias_ih_l0") + lstm.get_parameter("bias_hh_l0")  # (4H,)
    h = c = input.new_zeros(input.shape[1], lstm.hidden_size)
    outputs = []
    for x_t in input:
        z = x_t @ kernel + h @ recurrent_kernel + bias  # (batch, 4H)
        gate = dict(zip(order, z.chunk(4, dim=-1), strict=True))
        i, f, o = torch.sigmoid(gate["i"]), torch.sigmoid(gate["f"]), torch.sigmoid(gate["o"])
        c = f * c + i * torch.tanh(gate["g"])
        h = o * torch.tanh(c)
        outputs.append(h)
    return torch.stack(outputs), (h[None], c[None])


@claim(
    "row-vector",
    "Row-vector code x @ kernel + h @ recurrent_kernel + bias, with kernel = weight_ih.T of shape "
    "(in, 4H) in the gate order i, f, g, o (Keras's i, f, c, o), equals nn.LSTM.",
)
def row_vector(at: Place) -> Found:
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
        pairs = _pairs(_row_vector_lstm(lstm, x), expected)
        tf_order, _ = _row_vector_lstm(lstm, x, order=("i", "g", "f", "o"))
    return pairs, (
        f"the kernel read in the order i, j, f, o as i, f, g, o: output differs by {_max_diff(tf_order, expected[0]):.3g}",
    )


def _gru(at: Place) -> nn.GRU:
    return at.module(lambda: nn.GRU(IN, HIDDEN, num_layers=2))


@claim(
    "gru-bias",
    "In nn.GRU, b_hr and b_hz can move into b_ir and b_iz without changing anything, but b_hn cannot: "
    "it sits inside r * (W_hn h + b_hn), unless r is 1.",
)
def gru_bias(at: Place) -> Found:
    """Claim: GRU's ``b_hn`` is not redundant; ``b_hr`` and ``b_hz`` are.

    :func:`move_bias_hh` moves the r and z blocks (gates 0 and 1) of every
    ``bias_hh`` into ``bias_ih``: ``nn.GRU`` gives the same output and
    ``h_n``. Moving the n block instead equals the written-out equations
    with ``b_hn`` added outside ``r``; the note says by how much that differs
    from ``nn.GRU``. With the reset gate held at exactly 1 (its ``bias_ih``
    rows set to 50), moving ``b_hn`` changes nothing.
    """
    gru = _gru(at)
    x = at.randn(SEQ, BATCH, IN)
    outside = functools.partial(gru_direction, b_hn_inside=False)
    opened = _set_bias(gru, "bias_ih", 0, OPEN)
    with torch.no_grad():
        expected = gru(x)
        pairs = _pairs(move_bias_hh(gru, gates=[0, 1])(x), expected)
        n_moved = move_bias_hh(gru, gates=[2])(x)
        found = {
            "b_hn moved vs b_hn outside r": _pairs(n_moved, run_gru(gru, x, None, outside)),
            "r held at 1, b_hn moved": _pairs(move_bias_hh(opened, gates=[2])(x), opened(x)),
        }
    for label, more in found.items():
        pairs.update({f"{label}: {k}": pair for k, pair in more.items()})
    return pairs, (f"b_hn moved into b_in: output differs by {_max_diff(n_moved[0], expected[0]):.3g}",)


@claim(
    "cho-gru",
    "nn.GRU applies the reset gate after the hidden product, r * (W_hn h + b_hn), as its equations "
    "written out do; Cho et al.'s form W_hn (r * h) + b_hn is another function, equal only where r is 1.",
)
def cho_gru(at: Place) -> Found:
    """Claim: ``nn.GRU`` equals :func:`~lstm_demo.scratch.scratch_gru`, PyTorch's form, two layers.

    The note gives how far Cho et al.'s form (``reset_after=False``) is from
    it. With the reset gate held at exactly 1 (its ``bias_ih`` rows set to
    50) the two forms are the same function, which the last comparisons show.
    """
    gru = _gru(at)
    x = at.randn(SEQ, BATCH, IN)
    opened = _set_bias(gru, "bias_ih", 0, OPEN)
    with torch.no_grad():
        expected = gru(x)
        pairs = _pairs(scratch_gru(gru, x), expected)
        cho, _ = scratch_gru(gru, x, reset_after=False)
        more = _pairs(scratch_gru(opened, x, reset_after=False), opened(x))
    pairs.update({f"r held at 1, Cho's form: {k}": pair for k, pair in more.items()})
    return pairs, (f"Cho et al.'s form, r before W_hn: output differs by {_max_diff(cho, expected[0]):.3g}",)


# --- what a GPU changes: cuDNN's training-mode backward, repeatable runs -----------------------------


@claim(
    "eval-backward",
    "Without dropout, backward in eval() mode gives the gradients of train() mode computed the same "
    "way; where cuDNN refuses backward in eval() mode, both run on PyTorch's own kernels (cuDNN off).",
)
def eval_backward(at: Place) -> Found:
    """Claim: ``eval()`` changes no gradient of an LSTM without dropout, even where cuDNN refuses it.

    cuDNN's RNN backward needs what its training-mode forward keeps; called
    after an ``eval()``-mode forward, PyTorch raises ``cudnn RNN backward can
    only be called in training mode``. The claim runs backward in both modes;
    where the ``eval()`` run raises, it runs both again inside
    :func:`~lstm_demo.precision.cudnn` (``False``), and its note quotes the
    error. The CPU never uses cuDNN, and its note says that ``eval()``
    backward ran.

    Examples
    --------
    >>> from lstm_demo.claims import eval_backward
    >>> result = eval_backward()
    >>> result.holds, result.notes
    (True, ('eval() backward ran: no cuDNN on this device',))
    """
    lstm = at.lstm(IN, HIDDEN, num_layers=2)
    x = at.randn(SEQ, BATCH, IN)
    train = _gradients(lstm.train(), x)
    try:
        evaluated = _gradients(lstm.eval(), x)
        note = (
            "eval() backward ran: no cuDNN on this device"
            if at.device.type != "cuda"
            else "eval() backward ran"
        )
    except RuntimeError as error:
        with cudnn(False):
            evaluated = _gradients(lstm.eval(), x)
            train = _gradients(lstm.train(), x)
        note = f"cuDNN refused: {error}; both modes repeated with cuDNN off"
    return {f"gradient of {k}": (evaluated[k], train[k]) for k in train}, (note,)


@claim(
    "repeatable",
    "Two runs from the same seed repeat each other on one device, forward and backward, "
    "in train() mode with dropout between layers.",
)
def repeatable(at: Place) -> Found:
    """Claim: the same seed gives the same dropout masks and the same results, run after run.

    ``nn.LSTM(3, 4, num_layers=3, dropout=0.5)`` in ``train()`` mode, run
    twice after ``torch.manual_seed(1234)`` (inside ``torch.random.fork_rng``, so
    the caller's random state is left alone). The note says whether the two
    runs were also bitwise equal. cuDNN draws its own dropout masks on a GPU,
    so the masks (and results) differ from the CPU's; they still repeat on the
    same device from the same seed.

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

    def run() -> dict[str, torch.Tensor]:
        with torch.random.fork_rng(devices=gpus):
            torch.manual_seed(1234)
            with torch.no_grad():
                output, (h_n, c_n) = lstm(x)
            torch.manual_seed(1234)
            grads = _gradients(lstm, x)
        return {"output": output, "h_n": h_n, "c_n": c_n, **{f"gradient of {k}": g for k, g in grads.items()}}

    first, second = run(), run()
    bitwise = all(torch.equal(first[k], second[k]) for k in first)
    return {k: (second[k], first[k]) for k in first}, (f"bitwise equal: {'yes' if bitwise else 'no'}",)
