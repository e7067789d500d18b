"""Every tolerance the site uses, each derived from an error model and a live measurement.

The error model
---------------
Run in a floating-point dtype with unit roundoff ``u`` (``2**-24`` for
float32, ``2**-53`` for float64), an LSTM's result differs from the exact one
by some ``e`` that grows with the number of roundings (sizes, layers, time
steps) and with how the recurrence carries errors. Two computations of the
same function in the same dtype, each within ``e`` of the exact result, then
differ by at most ``2 e``. :func:`measure_rounding` measures ``e`` for the
claims' own models: the greatest difference of their results in ``dtype``
(``nn.LSTM`` on the whole sequence, the equations written out, one step at a
time, and the gradients of the input and of every parameter) from
``nn.LSTM`` in float64 on the CPU, each difference divided by
``1 + |reference|``, the scale :func:`~lstm_demo.compare` applies with
``atol = rtol`` (outputs lie below 1, weight gradients reach about 10). For
float64 the reference is itself float64, so the figure is how far float64
computations in different orders land apart.

The tolerances
--------------
* On the CPU, :func:`torch.testing.assert_close`'s defaults; their ``why``
  says how many times they cover ``2 e`` measured here.
* On a GPU, with TF32 off, a tolerance derived from the CPU's measurement:
  ``rtol = atol = SAFETY * 2 e``, rounded up to one significant digit. It
  rests on the CPU's figure rather than the GPU's, so a GPU that computes
  badly cannot widen its own tolerance. The precision page measures ``e`` on
  each GPU twice: with cuDNN off (PyTorch's own CUDA kernels, IEEE
  arithmetic in another order), where it asserts the allowance covers
  ``2 e`` at least ``MARGIN`` times; and with cuDNN on, whose float32 RNN
  kernels can round more, where it asserts the allowance still covers
  ``2 e`` (``CUDNN_MARGIN``) and prints by how much.
* The post's printed numbers: half of their last printed decimal.

TF32 never verifies a claim: claims run with it off
(:func:`~lstm_demo.precision.full_precision`), and the precision page shows
its effect as a measured size.
"""

from __future__ import annotations

import functools
import math
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field

import torch
from torch import nn

from lstm_demo._gradients import gradients
from lstm_demo._random import cpu_random
from lstm_demo._types import leaves
from lstm_demo.comparison import default_tolerance
from lstm_demo.devices import resolve_placement
from lstm_demo.models import post_first_model
from lstm_demo.precision import cudnn as cudnn_enabled
from lstm_demo.precision import full_precision
from lstm_demo.scratch import scratch_lstm
from lstm_demo.stepwise import run_stepwise

#: A derived tolerance allows this many times twice the measured rounding error.
SAFETY = 50
#: The precision page asserts every tolerance covers twice the rounding error measured
#: on each device at least this many times.
MARGIN = 10
#: With cuDNN's float32 RNN kernels the precision page asserts only that the GPU
#: tolerance covers twice the rounding error measured there.
CUDNN_MARGIN = 1

UNIT_ROUNDOFF: dict[torch.dtype, float] = {torch.float32: 2.0**-24, torch.float64: 2.0**-53}
"""Half the distance from 1 to the next number, the largest relative error of one rounding."""

#: The tolerance names, in the order the site lists them.
NAMES = ("cpu float32", "cpu float64", "gpu float32", "gpu float64", "post printed")

#: Half of the last printed decimal. A value printed to 4 decimals lies
#: within this of the printed value.
PRINTED_TOLERANCE = 5e-5


@dataclass(frozen=True)
class Tolerance:
    """A tolerance for :func:`lstm_demo.compare` and the reason for it.

    ``reason`` is the reason's text, or a function that writes it: a
    reason that rests on a measurement is measured when :attr:`why` is first
    read, never when the tolerance is made.

    Examples
    --------
    >>> from lstm_demo.tolerances import Tolerance
    >>> asked = []
    >>> tolerance = Tolerance(1e-5, 1e-5, lambda: asked.append(1) or "measured")
    >>> asked
    []
    >>> tolerance.why, tolerance.why, asked
    ('measured', 'measured', [1])
    """

    rtol: float
    """Relative tolerance."""
    atol: float
    """Absolute tolerance."""
    reason: str | Callable[[], str] = field(repr=False, compare=False)
    """Why this tolerance (:attr:`why`), or a function that says why."""
    name: str = ""
    """A short label (``float32 on a GPU, TF32 off: derived``); ``str()`` shows it, or ``why`` without one."""

    @functools.cached_property
    def why(self) -> str:
        """Why this tolerance, with its error model and the measurement it rests on."""
        return self.reason() if callable(self.reason) else self.reason

    def __str__(self) -> str:
        return f"rtol={self.rtol:.2g}, atol={self.atol:.2g} ({self.name or self.why})"


#: The claims' models, as (name, module factory, input shape), seeded in :func:`measure_rounding`.
MODELS: tuple[tuple[str, Callable[[], nn.LSTM], tuple[int, ...]], ...] = (
    ("LSTM(4, 5), U(-0.08, 0.08), 3 steps", post_first_model, (2, 3, 4)),
    ("LSTM(3, 3, 2 layers), 5 steps", lambda: nn.LSTM(3, 3, num_layers=2), (5, 1, 3)),
    (
        "LSTM(3, 4, 2 layers, bidirectional), 6 steps",
        lambda: nn.LSTM(3, 4, num_layers=2, bidirectional=True),
        (6, 3, 3),
    ),
    ("LSTM(3, 4), 12 steps", lambda: nn.LSTM(3, 4), (12, 2, 3)),
)


@dataclass(frozen=True)
class Rounding:
    """How far results in one dtype on one device land from float64 on the CPU."""

    device: torch.device
    dtype: torch.dtype
    max_abs_error: float
    """The measured ``e``, the greatest ``|result - reference| / (1 + |reference|)`` over the models,
    implementations and values."""
    max_value: float
    """The greatest ``|reference|`` those values had."""
    worst: str
    """Which model and implementation gave ``max_abs_error``."""

    @property
    def unit_roundoff(self) -> float:
        """``u`` of the dtype."""
        return UNIT_ROUNDOFF[self.dtype]

    @property
    def in_units(self) -> float:
        """The error in units of one rounding, ``e / u``."""
        return self.max_abs_error / self.unit_roundoff

    def __str__(self) -> str:
        dtype = str(self.dtype).removeprefix("torch.")
        return (
            f"{self.device}, {dtype}: e = {self.max_abs_error:.2g} ({self.in_units:.2g} u), "
            f"values up to {self.max_value:.2g}"
        )


def _gradients(lstm: nn.LSTM, x: torch.Tensor) -> list[torch.Tensor]:
    """The input's gradient, then every parameter's (:func:`lstm_demo._gradients.gradients`)."""
    return list(gradients(lstm, x).values())


@contextmanager
def one_thread() -> Iterator[None]:
    """Run a block on one CPU thread, then put the thread count back.

    The models measured and mutated here are tiny: a second thread only adds
    start-up and waiting, and on a busy machine it slows such loops several
    times over.
    """
    threads = torch.get_num_threads()
    torch.set_num_threads(1)
    try:
        yield
    finally:
        torch.set_num_threads(threads)


@functools.cache
def _measure(device: torch.device, dtype: torch.dtype, cudnn: bool) -> Rounding:
    with one_thread(), cudnn_enabled(cudnn):
        return _measure_on_one_thread(device, dtype)


def errors_by_implementation(
    device: torch.device, dtype: torch.dtype
) -> dict[tuple[str, str], tuple[float, float]]:
    """``{(model, implementation): (e, largest |reference|)}`` for every model of :data:`MODELS`.

    What :func:`measure_rounding` takes the worst of: each model run as
    ``nn.LSTM``, as the equations written out, step by step (unidirectional
    models) and backward ("gradients"), each error scaled by ``1 +
    |reference|``. Runs with TF32 off, on the calling thread's settings.

    Examples
    --------
    >>> import torch
    >>> from lstm_demo.tolerances import errors_by_implementation
    >>> found = errors_by_implementation(torch.device("cpu"), torch.float64)
    >>> sorted({implementation for _, implementation in found})
    ['equations', 'gradients', 'nn.LSTM', 'step by step']
    """
    found = {}
    for seed, (name, factory, shape) in enumerate(MODELS):
        with cpu_random(seed):
            reference_module = factory().double()
        x64 = torch.randn(*shape, generator=torch.Generator().manual_seed(100 + seed), dtype=torch.float64)
        with full_precision():
            with torch.no_grad():
                reference = list(leaves(reference_module(x64)).values())
            reference_grads = _gradients(reference_module, x64)
            module = reference_module.to(device=device, dtype=dtype)
            x = x64.to(device=device, dtype=dtype)
            runs: dict[str, list[torch.Tensor]] = {}
            with torch.no_grad():
                runs["nn.LSTM"] = list(leaves(module(x)).values())
                runs["equations"] = list(leaves(scratch_lstm(module, x)).values())
                if not module.bidirectional:
                    runs["step by step"] = list(leaves(run_stepwise(module, x)).values())
            runs["gradients"] = _gradients(module, x)
        for implementation, values in runs.items():
            expected = reference_grads if implementation == "gradients" else reference
            # Scaled like compare's atol + rtol * |expected| with atol = rtol: gradients reach 10.
            found[name, implementation] = (
                max(
                    float(((got.double().cpu() - want).abs() / (1 + want.abs())).max())
                    for got, want in zip(values, expected, strict=True)
                ),
                max(float(want.abs().max()) for want in expected),
            )
    return found


def _measure_on_one_thread(device: torch.device, dtype: torch.dtype) -> Rounding:
    found = errors_by_implementation(device, dtype)
    (name, implementation), (error, _) = max(found.items(), key=lambda item: item[1][0])
    largest = max(size for _, size in found.values())
    return Rounding(device, dtype, error, largest, f"{name}, {implementation}")


def measure_rounding(
    device: torch.device | str = "cpu", dtype: torch.dtype = torch.float32, *, cudnn: bool = True
) -> Rounding:
    """Measure ``e``: how far the claims' models in ``dtype`` on ``device`` land from float64 on the CPU.

    Each model of :data:`MODELS` is built from a fixed seed, run in float64
    on the CPU (the reference), then copied to ``device`` and ``dtype`` and
    run as ``nn.LSTM`` on the whole sequence, as the equations written out
    (:func:`~lstm_demo.scratch.scratch_lstm`), one step at a time
    (:func:`~lstm_demo.run_stepwise`, unidirectional models), and backward
    for the gradients of the input and of every parameter. Everything runs with TF32 off, on one CPU thread
    (``one_thread``). ``cudnn=False`` runs it with cuDNN switched off
    (:func:`~lstm_demo.precision.cudnn`), so that a CUDA device
    uses PyTorch's own kernels; the CPU never uses cuDNN. Measured once per
    process for each device, dtype and setting.

    Raises
    ------
    TypeError, ValueError
        As :func:`~lstm_demo.devices.resolve_placement`, for a device or
        dtype no claim runs in.

    Examples
    --------
    >>> import torch
    >>> from lstm_demo.tolerances import measure_rounding
    >>> rounding = measure_rounding("cpu", torch.float32)
    >>> 0 < rounding.max_abs_error < 1e-6
    True
    """
    if not isinstance(cudnn, bool):
        msg = f"Expected cudnn to be True or False, but got {cudnn!r} instead."
        raise TypeError(msg)
    resolved, dtype = resolve_placement(device, dtype)
    return _measure(resolved, dtype, cudnn or resolved.type != "cuda")


def _round_up(value: float) -> float:
    """``value`` rounded up to one significant digit: 9.5e-06 -> 1e-05, 1.7e-14 -> 2e-14."""
    exponent = math.floor(math.log10(value))
    digit = math.ceil(round(value / 10.0**exponent, 9))
    return float(f"{digit}e{exponent}")


def derived(rounding: Rounding) -> float:
    """``SAFETY * 2 e`` rounded up to one significant digit, ``e`` at least one rounding (``u``).

    Examples
    --------
    >>> import torch
    >>> from lstm_demo.tolerances import Rounding, derived
    >>> derived(Rounding(torch.device("cpu"), torch.float32, 9.5e-8, 1.0, "a model"))
    1e-05
    """
    return _round_up(SAFETY * 2 * max(rounding.max_abs_error, rounding.unit_roundoff))


def coverage(tolerance: Tolerance, rounding: Rounding) -> float:
    """How many times ``tolerance`` covers ``2 e`` at worst: ``min(atol, rtol) / (2 e)``.

    ``e`` is measured relative to ``1 + |reference|``, so at a reference of
    size ``r`` two computations may differ by ``2 e (1 + r)``, and the
    tolerance allows ``atol + rtol r``. Their ratio lies between
    ``atol / (2 e)`` (at ``r = 0``) and ``rtol / (2 e)`` (as ``r`` grows); the
    smaller is the guarantee for every size.

    Examples
    --------
    >>> import torch
    >>> from lstm_demo.tolerances import Rounding, Tolerance, coverage
    >>> round(coverage(Tolerance(1e-5, 1e-5, "why"), Rounding(torch.device("cpu"), torch.float32, 1e-7, 1.0, "m")), 6)
    50.0
    >>> round(coverage(Tolerance(1.3e-6, 1e-5, "why"), Rounding(torch.device("cpu"), torch.float32, 1e-7, 1.0, "m")), 6)
    6.5
    """
    return min(tolerance.atol, tolerance.rtol) / (2 * max(rounding.max_abs_error, rounding.unit_roundoff))


_MODEL = (
    "Error model: a result in {dtype} lies within e of the exact one, so two computations of it "
    "within 2e of each other; e measured as the greatest |{dtype} - float64 reference| / "
    "(1 + |reference|) over the "
    "claims' models (nn.LSTM, the equations, step by step, the input and weight gradients) on this CPU: "
    "{e:.2g} ({units:.2g} u, u = 2**-{bits}; at {worst})."
)


def _why_measured(rounding: Rounding) -> str:
    dtype = str(rounding.dtype).removeprefix("torch.")
    bits = round(-math.log2(rounding.unit_roundoff))
    return _MODEL.format(
        dtype=dtype, e=rounding.max_abs_error, units=rounding.in_units, bits=bits, worst=rounding.worst
    )


def _cpu_why(dtype: torch.dtype) -> str:
    name = str(dtype).removeprefix("torch.")
    rtol, atol = default_tolerance(dtype)
    rounding = measure_rounding("cpu", dtype)
    cpu = Tolerance(rtol, atol, "")
    why = (
        f"torch.testing's default for {name} (rtol {rtol:g}, atol {atol:g}). {_why_measured(rounding)} "
        f"At worst (min(atol, rtol) / 2e) it covers 2e {coverage(cpu, rounding):.2g} times."
    )
    if dtype == torch.float64:
        e32 = measure_rounding("cpu", torch.float32)
        why += (
            f" Loose: float32-sized errors (e = {e32.max_abs_error:.2g} measured) pass it too, so "
            "float64 results are also checked at the GPU float64 tolerance by the mutation suite."
        )
    return why


@functools.cache
def _cpu(dtype: torch.dtype) -> Tolerance:
    """:func:`torch.testing.assert_close`'s default for ``dtype``; its ``why`` measures this CPU when read."""
    name = str(dtype).removeprefix("torch.")
    rtol, atol = default_tolerance(dtype)
    return Tolerance(rtol, atol, functools.partial(_cpu_why, dtype), f"torch.testing's default for {name}")


@functools.cache
def _gpu(dtype: torch.dtype) -> Tolerance:
    """The GPU tolerance for ``dtype``: its size is derived from this CPU's rounding, measured here."""
    name = str(dtype).removeprefix("torch.")
    rounding = measure_rounding("cpu", dtype)
    allowed = derived(rounding)
    why = (
        f"{name} on a GPU with TF32 off. {_why_measured(rounding)} "
        f"Allowed: {SAFETY} x 2e = {SAFETY * 2 * rounding.max_abs_error:.2g}, rounded up to "
        f"{allowed:g} (rtol and atol). The precision page measures e on each GPU with cuDNN off "
        f"(PyTorch's own kernels) and asserts the tolerance covers 2e at least {MARGIN} times there; "
        f"cuDNN's kernels can round more, and there it asserts at least {CUDNN_MARGIN} time."
    )
    if dtype == torch.float64:
        why += " For comparison, PyTorch's own CPU-vs-cuDNN RNN test allows 5e-5 in float64."
    return Tolerance(allowed, allowed, why, f"{name} on a GPU, TF32 off: derived")


def _printed_why() -> str:
    e32 = measure_rounding("cpu", torch.float32)
    return (
        "Half of the last printed decimal: the post printed its outputs to 4 decimals, so each lies "
        f"within {PRINTED_TOLERANCE:g} of what its run computed. A bar, not a bound from an error "
        "model: a run here starts from the printed, rounded parameters (experiment 1 also from a "
        "recovered input), which moves the outputs by more than float32 rounding "
        f"(e = {e32.max_abs_error:.2g} on this CPU). The post's pages measure that move: within the "
        "bar for experiment 2, whose first-order worst case page 03 asserts is under it; not for "
        "experiment 1, where 5e-5 is a bar the recovery clears rather than a derived bound."
    )


_PRINTED = Tolerance(0.0, PRINTED_TOLERANCE, _printed_why, "the post's 4 printed decimals")


def site_tolerances() -> dict[str, Tolerance]:
    """Every tolerance the site uses, by name (``NAMES``), each with its derivation as ``why``.

    Measures the CPU's rounding (:func:`measure_rounding`) once per process:
    the GPU tolerances' sizes rest on it, and every ``why`` quotes it.

    Examples
    --------
    >>> from lstm_demo.tolerances import site_tolerances
    >>> tolerances = site_tolerances()
    >>> list(tolerances)
    ['cpu float32', 'cpu float64', 'gpu float32', 'gpu float64', 'post printed']
    >>> tolerances["post printed"].atol
    5e-05
    """
    return {
        "cpu float32": _cpu(torch.float32),
        "cpu float64": _cpu(torch.float64),
        "gpu float32": _gpu(torch.float32),
        "gpu float64": _gpu(torch.float64),
        "post printed": _PRINTED,
    }


def tolerance_for(device: torch.device | str, dtype: torch.dtype) -> Tolerance:
    """The tolerance a claim on ``device`` in ``dtype`` is verified within, and its derivation.

    On the CPU: :func:`torch.testing.assert_close`'s default for ``dtype``. On
    a GPU: a tolerance derived from the rounding error measured on this CPU
    (:func:`measure_rounding`), for IEEE arithmetic with TF32 off, which is
    how every claim runs (:func:`~lstm_demo.precision.full_precision`). It does
    not follow the caller's TF32 flags: TF32's effect is a size the precision
    page measures, never a tolerance that verifies a claim. ``why`` states the
    error model and the measured figure. A CPU tolerance measures nothing
    until its ``why`` is read; a GPU one measures the CPU's rounding once per
    process, for its size.

    Examples
    --------
    >>> import torch
    >>> from lstm_demo.tolerances import tolerance_for
    >>> print(tolerance_for("cpu", torch.float32))
    rtol=1.3e-06, atol=1e-05 (torch.testing's default for float32)
    >>> "measured" in tolerance_for("cuda", torch.float64).why
    True
    """
    device = torch.device(device)
    name = str(dtype).removeprefix("torch.")
    if dtype not in (torch.float32, torch.float64):
        rtol, atol = default_tolerance(dtype)
        return Tolerance(
            rtol, atol, f"torch.testing's default for {name}", f"torch.testing's default for {name}"
        )
    return _cpu(dtype) if device.type == "cpu" else _gpu(dtype)
