"""The claim registry: :func:`claim` registers a function as a claim in :data:`CLAIMS`.

A claim is a sentence about ``nn.LSTM`` and the function that tests it. The
function gets a :class:`Place` (device, dtype, seed) to build its modules
and inputs there, and, as keyword arguments, its *independent sides*: the
implementations it compares against ``nn.LSTM`` (``forward=run_stepwise``,
``forward=scratch_lstm``, or the module's own call where the claim is about
how the module is used). The registration declares each side with its
correct default; the mutation suite (:mod:`lstm_demo.mutants`) calls the
same registered claim with a wrong LSTM in those places.
"""

from __future__ import annotations

import warnings
from collections.abc import Callable, Collection, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from typing import Any, Protocol, TypeAlias, TypeVar, cast

import torch
from torch import nn

from lstm_demo._random import cpu_random
from lstm_demo._types import Device, Result, leaves
from lstm_demo.claims.result import ClaimResult
from lstm_demo.comparison import compare
from lstm_demo.devices import resolve_placement
from lstm_demo.precision import full_precision
from lstm_demo.tolerances import one_thread, tolerance_for

#: What a claim compares: a label and an ``(actual, expected)`` pair of tensors each.
Pairs: TypeAlias = "dict[str, tuple[torch.Tensor, torch.Tensor]]"
#: What a claim's function returns: its pairs, or its pairs and notes.
Found: TypeAlias = "Pairs | tuple[Pairs, tuple[str, ...]]"
#: An independent side: ``forward(module, input, hx=None)`` with the module's forward contract.
Forward: TypeAlias = "Callable[..., Any]"

M = TypeVar("M", bound=nn.Module)


def pairs(actual: Result, expected: Result) -> Pairs:
    """``{output, h_n[, c_n]: (actual, expected)}`` for two forward results."""
    got, want = leaves(actual), leaves(expected)
    return {k: (got[k], want[k]) for k in want}


def max_diff(a: torch.Tensor, b: torch.Tensor) -> float:
    """The greatest ``|a - b|``, for a claim's notes."""
    return float((a - b).abs().max())


@contextmanager
def quiet_projection() -> Iterator[None]:
    """PyTorch warns once that oneDNN has no LSTM projection; the result is right either way."""
    with warnings.catch_warnings():
        warnings.filterwarnings("ignore", message="LSTM with projections is not supported with oneDNN")
        yield


def claim_result(
    claim: str,
    device: Device,
    dtype: torch.dtype,
    found: Pairs,
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
    comparisons = {k: compare(a, e, rtol=tol.rtol, atol=tol.atol) for k, (a, e) in found.items()}
    reference = tuple(e.detach() for _, e in found.values())
    actual = tuple(a.detach() for a, _ in found.values())
    return ClaimResult(claim, torch.device(device), dtype, tol, comparisons, reference, notes, actual)


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


class Claim(Protocol):
    """A registered claim: call it with a device, a dtype and a seed for its :class:`ClaimResult`.

    Keyword arguments named in :attr:`sides` replace an independent side.
    """

    name: str
    """Its name on the command line and in :data:`CLAIMS`."""
    sentence: str
    """What it claims."""
    sides: dict[str, Forward]
    """Each independent side by its keyword, with its correct default."""
    mutants: frozenset[str] | None
    """The only mutants that can show in its comparisons, where it compares a run with itself."""
    __name__: str

    def __call__(
        self, device: Device = "cpu", dtype: torch.dtype = torch.float32, *, seed: int = 0, **sides: Forward
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


def claim(
    name: str,
    sentence: str,
    *,
    mutants: Collection[str] | None = None,
    **sides: Forward,
) -> Callable[[Callable[..., Found]], Claim]:
    """Register a function of a :class:`Place` as the claim ``name``, which states ``sentence``.

    The function builds its modules and inputs with the place's helpers,
    runs each independent side it is given as a keyword argument (``sides``
    declares them, each with its correct default), and returns ``{label:
    (actual, expected)}`` (and optionally notes). A docstring without an
    ``Examples`` section gets one that runs the claim. The decorated claim
    is called as ``claim(device="cpu", dtype=torch.float32, *, seed=0,
    **sides)``: it checks the device and dtype
    (:func:`~lstm_demo.devices.resolve_placement`), runs the function with
    TF32 off (:func:`~lstm_demo.precision.full_precision`) on one CPU thread
    (:func:`~lstm_demo.tolerances.one_thread`: the models are tiny and a
    second thread only slows them; their results do not depend on the
    thread count, though the bits can differ between CPUs, AVX2 or AVX-512,
    and PyTorch builds, which the tolerances cover) and compares every
    pair within :func:`~lstm_demo.tolerances.tolerance_for` that device and
    dtype, in a :class:`ClaimResult`.

    Parameters
    ----------
    name, sentence : str
        Its name in :data:`CLAIMS` and on the command line, and what it claims.
    mutants : sequence of str, optional
        See :attr:`Claim.mutants`; default: every mutant.
    **sides : callable
        The independent sides, by keyword, with their correct defaults.

    Raises
    ------
    ValueError
        If a claim of that name is already registered.

    Examples
    --------
    >>> import torch
    >>> from lstm_demo.claims import CLAIMS, claim
    >>> @claim("doubling", "x + x equals 2 * x.", double=lambda x: 2 * x)
    ... def doubling(at, *, double):
    ...     x = at.randn(3)
    ...     return {"x + x": (x + x, double(x))}
    >>> result = doubling("cpu", torch.float64)
    >>> doubling.name, result.holds, result.bitwise
    ('doubling', True, True)
    >>> doubling(double=lambda x: 3 * x).holds
    False
    >>> del CLAIMS["doubling"]
    """
    if name in CLAIMS:
        msg = f"Expected a new claim name, but got {name!r} instead, which is already registered."
        raise ValueError(msg)
    declared = dict(sides)

    def register(function: Callable[..., Found]) -> Claim:
        def run(
            device: Device = "cpu", dtype: torch.dtype = torch.float32, *, seed: int = 0, **replaced: Forward
        ) -> ClaimResult:
            unknown = [k for k in replaced if k not in declared]
            if unknown:
                msg = (
                    f"Expected independent sides of {name!r} among {', '.join(declared) or 'none'}, "
                    f"but got {', '.join(unknown)} instead."
                )
                raise TypeError(msg)
            resolved, dtype = resolve_placement(device, dtype)
            with full_precision(), one_thread():
                found = function(Place(resolved, dtype, seed), **{**declared, **replaced})
            compared, notes = found if isinstance(found, tuple) else (found, ())
            return claim_result(sentence, resolved, dtype, compared, notes=notes)

        run.__name__ = function.__name__
        run.__qualname__ = function.__qualname__
        run.__module__ = function.__module__
        run.__doc__ = function.__doc__ or ""
        if "Examples" not in run.__doc__:
            run.__doc__ += _EXAMPLE.format(name=function.__name__)
        registered = cast("Claim", run)  # a function with the attributes set next
        registered.name = name
        registered.sentence = sentence
        registered.sides = declared
        registered.mutants = None if mutants is None else frozenset(mutants)
        CLAIMS[name] = registered
        return registered

    return register
