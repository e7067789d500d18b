"""The smallest bug each check catches: a forget-gate bias offset, bisected."""

from __future__ import annotations

import functools
import math
from collections.abc import Callable, Sequence
from dataclasses import dataclass

import torch

from lstm_demo.mutants.catalogue import OffsetMutant, counting
from lstm_demo.mutants.runner import TARGETS, Target, placements, ratio, tolerances_for
from lstm_demo.precision import full_precision
from lstm_demo.tolerances import site_tolerances


@dataclass(frozen=True)
class Smallest:
    """The smallest forget-gate bias offset a check catches at one tolerance."""

    claim: str
    device: str
    dtype: str
    tolerance: str
    offset: float
    """Smallest offset found caught, ``inf`` if even an offset of 1 passes."""
    not_caught: float
    """An offset just below it that passes; the two bracket the threshold."""
    caught_ratio: float = math.nan
    """The greatest ``|diff| / allowed`` at :attr:`offset`: above 1 (``nan`` where no offset was caught)."""
    passed_ratio: float = math.nan
    """The same at :attr:`not_caught`: at most 1 (``nan`` where no offset passed)."""


#: The bisection stops when the offset caught and the one not caught are this close in log10 (1.2%).
RESOLUTION = 0.005


def _named_ratio(ratios: Callable[[float], dict[str, float]], name: str, log_offset: float) -> float:
    return ratios(log_offset)[name]


def _threshold(ratio_at: Callable[[float], float]) -> tuple[float, float]:
    """``(low, high)`` in log10 of the offset: ``high`` caught, ``low`` not, at most RESOLUTION apart."""
    log_offset = -3.0
    for _ in range(8):  # the error is about linear in a small offset: aim where ratio_at is 1
        found = ratio_at(log_offset)
        if not 0 < found < math.inf:
            break
        step = -math.log10(found)
        log_offset = min(0.0, max(-16.0, log_offset + step))
        if abs(step) < 0.005:
            break
    high, width = log_offset + 0.01, 0.01
    while ratio_at(high) <= 1:
        if high >= 0:
            return 0.0, math.inf
        high, width = min(0.0, high + width), 2 * width
    low, width = min(log_offset, high) - 0.01, 0.01
    while ratio_at(low) > 1:
        if low <= -16:
            return -math.inf, low
        low, width = max(-16.0, low - width), 2 * width
    while high - low > RESOLUTION:
        middle = (low + high) / 2
        low, high = (low, middle) if ratio_at(middle) > 1 else (middle, high)
    return low, high


def smallest_caught(
    check: str,
    *,
    device: torch.device | str = "cpu",
    dtype: torch.dtype = torch.float32,
    tolerances: Sequence[str] | None = None,
) -> list[Smallest]:
    """The smallest forget-gate bias offset the check catches, per tolerance, bracketed by bisection.

    The mutant is :class:`Equations` with ``forget_offset`` (for a check
    on an ``nn.GRU``, :class:`GRUEquations` with ``update_offset``, the
    update gate ``z`` keeping the old state as the forget gate keeps
    ``c``). A few secant
    steps on a log scale aim at the size where the greatest
    ``|diff| / allowed`` reaches 1; then an offset that passes and one that
    is caught are found around it, and the bracket is halved until they are
    within :data:`RESOLUTION` decades (1.2%) of each other. At every tolerance
    of :func:`tolerances_for` the check, or those named in ``tolerances``.

    Raises
    ------
    TypeError
        If ``dtype`` is not float32 or float64.
    ValueError
        If ``check`` is not in :data:`TARGETS` or has no forget or update
        gate to move, or ``device`` is not one of this machine's, or a name in
        ``tolerances`` is not one the check is held to in ``dtype``.

    Examples
    --------
    >>> from lstm_demo.mutants import smallest_caught
    >>> [found] = smallest_caught("post-stepwise", tolerances=["cpu float32"])
    >>> found.tolerance, found.not_caught < found.offset < 1e-2
    ('cpu float32', True)
    """
    if check not in TARGETS:
        msg = f"Expected a check name from {', '.join(TARGETS)}, but got {check!r} instead."
        raise ValueError(msg)
    if not _shows_a_gate(TARGETS[check]):
        msg = f"Expected a check that compares with an independent side, but got {check!r} instead."
        raise ValueError(msg)
    ((device, dtype),) = placements([device], [dtype])
    spec = TARGETS[check]
    allowed = tolerances_for(spec, dtype)
    unknown = [n for n in tolerances or () if n not in allowed]
    if unknown:
        msg = f"Expected tolerance names from {', '.join(allowed)}, but got {', '.join(unknown)} instead."
        raise ValueError(msg)
    chosen_tolerances = {n: site_tolerances()[n] for n in tolerances or allowed}
    cache: dict[float, dict[str, float]] = {}

    def ratios(log_offset: float) -> dict[str, float]:
        if log_offset not in cache:
            with counting() as applied:
                outcome = spec.run(device, dtype, OffsetMutant(10.0**log_offset))
            if not applied:
                msg = f"Expected a check with a forget or update gate, but got {check!r} instead."
                raise ValueError(msg)
            cache[log_offset] = {n: ratio(outcome.compared, t) for n, t in chosen_tolerances.items()}
        return cache[log_offset]

    found = []
    with full_precision():
        for name in chosen_tolerances:
            low, high = _threshold(functools.partial(_named_ratio, ratios, name))
            caught = ratios(high)[name] if math.isfinite(high) else math.nan
            passed = ratios(low)[name] if math.isfinite(low) else math.nan
            dtype_name = str(dtype).removeprefix("torch.")
            found.append(
                Smallest(spec.name, str(device), dtype_name, name, 10.0**high, 10.0**low, caught, passed)
            )
    return found


def _shows_a_gate(target: Target) -> bool:
    """Whether a moved forget gate can show in the target (not one that compares a run with itself)."""
    return target.mutants is None or "forget-bias+0.1" in target.mutants


def bisectable() -> list[str]:
    """The targets :func:`smallest_caught` takes: those whose modules have a forget (or update) gate to move.

    A target restricted to some mutants (it compares a run with itself, as
    ``last-output`` does) cannot show a moved gate, and an ``nn.RNN`` has
    none.

    Examples
    --------
    >>> from lstm_demo.mutants import bisectable
    >>> "scratch" in bisectable(), "rnn" in bisectable(), "last-output" in bisectable()
    (True, False, False)
    """
    found = []
    with full_precision():
        for name, target in TARGETS.items():
            if not _shows_a_gate(target):
                continue
            with counting() as applied:
                target.run(torch.device("cpu"), torch.float64, OffsetMutant(0.1))
            if applied:
                found.append(name)
    return found
