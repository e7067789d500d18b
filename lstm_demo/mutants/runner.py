"""The mutation suite: every mutant in place of every claim's independent side, at every tolerance.

A target is a registered claim (:data:`~lstm_demo.claims.CLAIMS`) or one of
the post's reproductions: the function the site runs, called with a mutant
for each of its independent sides. The control is the same call with the
correct sides, which is the claim's own run: its ``max_abs_diff`` is the
claim's, bit for bit.
"""

from __future__ import annotations

import dataclasses
import math
from collections.abc import Callable, Sequence
from dataclasses import dataclass

import torch

from lstm_demo.claims import CLAIMS, Claim, Forward
from lstm_demo.devices import available_devices, resolve_device
from lstm_demo.display import Table
from lstm_demo.mutants.catalogue import MUTANTS, STATE_ONLY, Mutant, PortMutant, counting
from lstm_demo.ports import Unavailable
from lstm_demo.post import reproduce_experiment_1, reproduce_experiment_2
from lstm_demo.precision import full_precision
from lstm_demo.tolerances import Tolerance, site_tolerances

#: ``(actual, expected)`` tensors a target compared.
Compared = list[tuple[torch.Tensor, torch.Tensor]]


@dataclass(frozen=True)
class Outcome:
    """What one run of a target found: its greatest difference, and what it compared."""

    max_abs_diff: float
    compared: Compared
    refused: str = ""
    """Why the comparison could not be made (shapes that differ), for a side that is caught by that alone."""


#: How :func:`~lstm_demo.compare` refuses tensors of different shapes.
SHAPES_DIFFER = "Expected tensors of the same shape"


@dataclass(frozen=True)
class Target:
    """A function the site runs, with its independent sides open to a mutant."""

    name: str
    """The claim's name (or the reproduction's), as ``--claim`` takes it."""
    what: str
    """What it compares, in words."""
    run: Callable[[torch.device, torch.dtype, Forward | None], Outcome]
    """``run(device, dtype, side)``: the target with ``side`` in every independent place, or its own (``None``)."""
    mutants: frozenset[str] | None = None
    """See :attr:`~lstm_demo.claims.Claim.mutants`."""
    printed: bool = False
    """Compared with printed outputs, so only the post's tolerance applies."""

    def tries(self, mutant: Mutant | PortMutant) -> bool:
        """Whether the target is tried with ``mutant``: every mutant, unless the target names the only ones it can show.

        A porting bug is tried only on its framework's claims.
        """
        if isinstance(mutant, PortMutant) and self.name not in mutant.claims:
            return False
        return self.mutants is None or mutant.name in self.mutants


def _claim_run(registered: Claim) -> Callable[[torch.device, torch.dtype, Forward | None], Outcome]:
    def run(device: torch.device, dtype: torch.dtype, side: Forward | None) -> Outcome:
        sides: dict[str, Forward] = {} if side is None else dict.fromkeys(registered.sides, side)
        try:
            result = registered(device, dtype, seed=0, **sides)
        except ValueError as error:
            if side is None or not str(error).startswith(SHAPES_DIFFER):
                raise
            return Outcome(math.inf, [], str(error))
        return Outcome(result.max_abs_diff, list(zip(result.actual, result.reference, strict=True)))

    return run


def claim_target(registered: Claim) -> Target:
    """The target of a registered claim: its sides, and the mutants it can show where it names them."""
    sides = ", ".join(f"{k}={getattr(v, '__name__', type(v).__name__)}" for k, v in registered.sides.items())
    return Target(
        registered.name,
        sides,
        _claim_run(registered),
        registered.mutants,
    )


def _reproduction(experiment: int) -> Callable[[torch.device, torch.dtype, Forward | None], Outcome]:
    def run(device: torch.device, dtype: torch.dtype, side: Forward | None) -> Outcome:
        if experiment == 1:
            found = (
                reproduce_experiment_1(device, dtype)
                if side is None
                else reproduce_experiment_1(device, dtype, whole=side, stepwise=side)
            )
        else:
            found = (
                reproduce_experiment_2(device, dtype)
                if side is None
                else reproduce_experiment_2(device, dtype, method_1=side, method_2=side)
            )
        return Outcome(found.max_difference, [(ours, found.printed) for ours in found.runs.values()])

    return run


#: Every target, by name: the claims, in their order, then the post's two reproductions.
TARGETS: dict[str, Target] = {name: claim_target(c) for name, c in CLAIMS.items()}
TARGETS["post-experiment-1"] = Target(
    "post-experiment-1",
    "whole=module_forward, stepwise=run_stepwise: the post's 30 printed outputs of experiment 1, "
    "from the input recovered for nn.LSTM (a mutant is not refitted an input of its own, so this "
    "check is optimistic)",
    _reproduction(1),
    frozenset(MUTANTS) - STATE_ONLY,  # the post printed outputs, not h_n or c_n
    printed=True,
)
TARGETS["post-experiment-2"] = Target(
    "post-experiment-2",
    "method_1=run_stepwise, method_2=split_and_stack: the post's 15 printed outputs of experiment 2",
    _reproduction(2),
    frozenset(MUTANTS) - STATE_ONLY,
    printed=True,
)


def add_target(target: Target) -> None:
    """Add a target that is not a registered claim (the post's reproductions)."""
    if target.name in TARGETS:
        msg = f"Expected a new target name, but got {target.name!r} instead, which is already one."
        raise ValueError(msg)
    TARGETS[target.name] = target


def tolerances_for(target: Target, dtype: torch.dtype) -> list[str]:
    """The names of the site's tolerances a target is held to in ``dtype``.

    Every tolerance of that dtype, CPU and GPU alike, and the post's; a
    comparison with printed numbers only the post's.

    Examples
    --------
    >>> import torch
    >>> from lstm_demo.mutants import TARGETS, tolerances_for
    >>> tolerances_for(TARGETS["scratch"], torch.float64)
    ['cpu float64', 'gpu float64', 'post printed']
    """
    if target.printed:
        return ["post printed"]
    name = str(dtype).removeprefix("torch.")
    return [f"cpu {name}", f"gpu {name}", "post printed"]


def ratio(compared: Compared, tolerance: Tolerance) -> float:
    """Greatest ``|actual - expected| / (atol + rtol |expected|)`` in float64: above 1 means caught."""
    worst = 0.0
    for actual, expected in compared:
        a, e = actual.detach().double().cpu(), expected.detach().double().cpu()
        if a.shape != e.shape:
            return math.inf
        diff = (a - e).abs()
        if not bool(torch.isfinite(diff).all()):
            return math.inf
        if diff.numel():
            worst = max(worst, float((diff / (tolerance.atol + tolerance.rtol * e.abs())).max()))
    return worst


@dataclass(frozen=True)
class Result:
    """One mutant (or the control) against one target, on one device and dtype, at one tolerance."""

    mutant: str
    """A :data:`MUTANTS` name, or ``"none (control)"`` for the target's own independent side."""
    claim: str
    device: str
    dtype: str
    tolerance: str
    caught: bool
    """Whether the comparison failed (for the control it must not)."""
    max_abs_diff: float
    ratio: float
    """Greatest ``|diff| / allowed``, above 1 when caught."""


CONTROL = "none (control)"


class Results(list[Result]):
    """What :func:`run` returns: every row, shown as one line per mutant and target.

    ``skipped`` names the targets whose framework is not installed.
    """

    def __init__(self, rows: Sequence[Result] = (), skipped: Sequence[str] = ()) -> None:
        super().__init__(rows)
        self.skipped: list[str] = list(skipped)

    @property
    def escapes(self) -> list[Result]:
        """The rows that make the suite fail, each a mutant not caught or a control caught."""
        return [r for r in self if r.caught == (r.mutant == CONTROL)]

    @property
    def tried(self) -> list[Result]:
        """The mutant rows (not the controls)."""
        return [r for r in self if r.mutant != CONTROL]

    def _rows(self) -> list[tuple[str, str, str]]:
        grouped: dict[tuple[str, str], list[Result]] = {}
        for r in self:
            grouped.setdefault((r.mutant, r.claim), []).append(r)
        rows = []
        for (mutant, claim), found in grouped.items():
            bad = Results(found).escapes
            control = mutant == CONTROL
            if bad:
                where = ", ".join(f"{r.device} {r.dtype} at {r.tolerance}" for r in bad)
                verdict = f"{'CAUGHT' if control else 'ESCAPES'}: {where}"
            else:
                worst = max(r.ratio for r in found) if control else min(r.ratio for r in found)
                if control:
                    verdict = f"passes (<= {worst:.2g} of allowed)"
                elif math.isinf(worst):
                    verdict = "caught (not even comparable: shapes or non-finite values)"
                else:
                    verdict = f"caught (>= {worst:.2g}x allowed)"
            rows.append((mutant, claim, verdict))
        return rows

    def table(self) -> Table:
        """One row per mutant and target: ``caught`` when every tolerance caught it, the control ``passes``.

        Each verdict also gives the smallest ``|diff| / allowed`` over the
        tolerances (the control: the largest).
        """
        rows = self._rows()
        width = max((len(m) for m, _, _ in rows), default=6)
        claim_width = max((len(c) for _, c, _ in rows), default=5)
        lines = [f"{'mutant':<{width}}  {'claim':<{claim_width}}  verdict"]
        lines += [f"{m:<{width}}  {c:<{claim_width}}  {v}" for m, c, v in rows]
        tried = self.tried
        caption = (
            f"{sum(r.caught for r in tried)} of {len(tried)} mutant runs caught; "
            f"{len(self) - len(tried)} control runs"
        )
        if self.skipped:
            caption += f"; skipped (framework not installed): {', '.join(self.skipped)}"
        return Table(
            "\n".join(lines),
            caption=caption,
            header=("mutant", "claim", "verdict"),
            sections=[(None, rows)],
        )

    def __str__(self) -> str:
        return str(self.table())

    def _repr_html_(self) -> str:
        return self.table()._repr_html_()

    def as_json(self) -> dict[str, object]:
        """The ``--json`` document: the tolerances with their derivations, then every result."""
        return {
            "tolerances": [
                {"name": name, "rtol": t.rtol, "atol": t.atol, "why": t.why}
                for name, t in site_tolerances().items()
            ],
            "results": [dataclasses.asdict(r) for r in self],
        }


def placements(
    devices: Sequence[torch.device | str] | None, dtypes: Sequence[torch.dtype] | None
) -> list[tuple[torch.device, torch.dtype]]:
    """Every (device, dtype) asked for, checked; float64 is skipped on MPS."""
    chosen = [resolve_device(d) for d in devices] if devices is not None else available_devices()
    dtypes = list(dtypes) if dtypes is not None else [torch.float32, torch.float64]
    for dtype in dtypes:
        if dtype not in (torch.float32, torch.float64):
            msg = f"Expected dtypes torch.float32 or torch.float64, but got {dtype!r} instead."
            raise TypeError(msg)
    if not chosen or not dtypes:
        msg = f"Expected at least one device and one dtype, but got {len(chosen)} and {len(dtypes)} instead."
        raise ValueError(msg)
    return [
        (d, t)
        for d in dict.fromkeys(chosen)
        for t in dict.fromkeys(dtypes)
        if not (d.type == "mps" and t == torch.float64)
    ]


def _check_names(label: str, names: Sequence[str] | None, known: Sequence[str]) -> None:
    unknown = [n for n in names or () if n not in known]
    if unknown:
        msg = f"Expected {label} names from {', '.join(known)}, but got {', '.join(unknown)} instead."
        raise ValueError(msg)


def run(
    *,
    devices: Sequence[torch.device | str] | None = None,
    dtypes: Sequence[torch.dtype] | None = None,
    mutants: Sequence[str] | None = None,
    checks: Sequence[str] | None = None,
) -> Results:
    """Every mutant against every target it applies to, on every device and dtype, at every tolerance.

    Also one control row per target, device, dtype and tolerance: the
    target's own run, which must pass. A mutant is counted against a target
    only where it made its mistake in that run where it can show (a GRU
    mutant never does on an LSTM; a stateful one only where a call without a
    state follows another; one in the gradients only where autograd records
    the call). A mutant whose results do not even have the shapes the claim
    compares is caught. Everything runs with TF32 off, as every claim does.

    Parameters
    ----------
    devices : sequence of str or torch.device, optional
        Default: :func:`~lstm_demo.available_devices`.
    dtypes : sequence of torch.dtype, optional
        Default: float32 and float64 (float64 is skipped on MPS).
    mutants, checks : sequence of str, optional
        Names from :data:`MUTANTS` and :data:`TARGETS`; default all.

    Raises
    ------
    TypeError
        If a dtype is not float32 or float64.
    ValueError
        If a device is not this machine's, or a name is unknown.

    Examples
    --------
    >>> from lstm_demo.mutants import run
    >>> results = run(devices=["cpu"], mutants=["no-tanh-on-c"], checks=["post-stepwise"])
    >>> sorted({(r.mutant, r.caught) for r in results})
    [('no-tanh-on-c', True), ('none (control)', False)]
    """
    chosen = placements(devices, dtypes)
    _check_names("mutant", mutants, list(MUTANTS))
    _check_names("check", checks, list(TARGETS))
    tolerances = site_tolerances()
    results = Results()
    with full_precision():
        for target in (TARGETS[n] for n in (checks or TARGETS)):
            try:
                target.run(chosen[0][0], chosen[0][1], None)
            except Unavailable:
                results.skipped.append(target.name)
                continue
            for device, dtype in chosen:
                names = tolerances_for(target, dtype)
                sides: dict[str, Mutant | PortMutant | None] = {CONTROL: None}
                sides.update({n: MUTANTS[n] for n in mutants or MUTANTS if target.tries(MUTANTS[n])})
                for name, side in sides.items():
                    with counting() as applied:
                        outcome = target.run(device, dtype, side)
                    if side is not None and not applied:
                        continue  # the mistake could not be made on this target's modules
                    for tolerance in names:
                        r = math.inf if outcome.refused else ratio(outcome.compared, tolerances[tolerance])
                        results.append(
                            Result(
                                name,
                                target.name,
                                str(device),
                                str(dtype).removeprefix("torch."),
                                tolerance,
                                r > 1,
                                outcome.max_abs_diff,
                                r,
                            )
                        )
    return results
