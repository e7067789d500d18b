"""What the post's printed digits allow: its seed looked for, and how far rounding can move an output.

:func:`search_seeds` looks for printed numbers in seeds' random streams;
:func:`rounding_budget` measures how far rounding to the printed digits can
move an LSTM's outputs; :func:`experiment_1_detection` how small a change to
a printed output the input's recovery detects.
"""

from __future__ import annotations

import copy
import math
from collections.abc import Iterable
from dataclasses import dataclass

import torch
from torch import nn

from lstm_demo.post.models import experiment_1_lstm, experiment_1_outputs, recovered_experiment_1_input
from lstm_demo.recover import cell_params, cell_step
from lstm_demo.tolerances import PRINTED_TOLERANCE


def search_seeds(
    printed: Iterable[torch.Tensor],
    seeds: Iterable[int],
    draws: int,
    *,
    low: float = -0.08,
    high: float = 0.08,
    dtype: torch.dtype = torch.float32,
    window: int = 4,
) -> list[tuple[int, int]]:
    """Where, in the first ``draws`` of each seed's stream, printed numbers were drawn.

    For each seed, fills ``torch.empty(draws, dtype=dtype)`` with
    ``uniform_(low, high)`` from a generator seeded with it (the global one
    is not touched), rounds the values to 4 decimals as the post printed
    them, and looks for ``window`` consecutive draws equal to ``window``
    consecutive numbers of any tensor in ``printed`` (flattened; a tensor
    filled by ``uniform_`` is drawn in that order).

    Returns
    -------
    list of (seed, position)
        Every match: the seed and the draw where it starts.

    Examples
    --------
    >>> import torch
    >>> from lstm_demo.post import search_seeds
    >>> row = torch.empty(8).uniform_(-0.08, 0.08, generator=torch.Generator().manual_seed(7))[3:7]
    >>> search_seeds([row.double().round(decimals=4)], seeds=range(10), draws=50)
    [(7, 3)]
    """
    if window < 1 or draws < window:
        msg = f"Expected 1 <= window <= draws, but got window={window}, draws={draws} instead."
        raise ValueError(msg)
    lowest = round(low * 1e4)
    size = round(high * 1e4) - lowest + 1
    windows = (
        torch.cat(
            [(t.detach().double().flatten() * 1e4).round().long().unfold(0, window, 1) for t in printed]
        )
        - lowest
    )
    wanted = {tuple(w) for w in windows.tolist()}
    # A cheap filter first: is each value of the window among those printed at its place?
    allowed = torch.zeros(window, size + 1, dtype=torch.bool)
    for j in range(window):
        allowed[j, windows[:, j].clamp(0, size)] = True
    generator = torch.Generator()
    seeds = list(seeds)
    n = draws - window + 1
    matches = []
    for first in range(0, len(seeds), 256):
        block = seeds[first : first + 256]
        values = torch.empty(len(block), draws, dtype=dtype)
        for row, seed in zip(values, block, strict=True):
            generator.manual_seed(seed)
            row.uniform_(low, high, generator=generator)
        q = ((values.double() * 1e4).round().long() - lowest).clamp(0, size)
        hit = allowed[0][q[:, :n]]
        for j in range(1, window):
            hit &= allowed[j][q[:, j : j + n]]
        for row, at in hit.nonzero().tolist():
            if tuple(q[row, at : at + window].tolist()) in wanted:
                matches.append((block[row], at))
    return matches


@dataclass(frozen=True)
class RoundingBudget:
    """How far rounding printed numbers to their last digit can move an LSTM's outputs."""

    what: str
    """What was perturbed."""
    random: torch.Tensor
    """Per trial, the greatest ``|out(perturbed) - out|``: ``(trials,)``, float64."""
    worst_case: float
    """The greatest move any output can make, to first order, is ``5e-5`` times the sum of ``|d out / d v|``."""

    def __str__(self) -> str:
        quartiles = self.random.quantile(torch.tensor([0.25, 0.5, 0.75], dtype=torch.float64))
        q1, median, q3 = (float(v) for v in quartiles)
        return (
            f"{self.what}, each moved by U(-5e-5, 5e-5), {len(self.random)} trials:\n"
            f"  greatest output move per trial: median {median:.2g} "
            f"(IQR {q1:.2g} to {q3:.2g}), max {float(self.random.max()):.2g}\n"
            f"  worst case to first order: {self.worst_case:.2g}"
        )


def rounding_budget(
    lstm: nn.LSTM,
    x: torch.Tensor,
    *,
    parameters: Iterable[str],
    include_input: bool,
    trials: int = 200,
    seed: int = 0,
) -> RoundingBudget:
    """How much rounding to 4 printed decimals can move ``lstm(x)``'s output.

    Each trial adds independent ``U(-5e-5, 5e-5)`` noise, half of the last
    printed decimal, to every value of the named ``parameters`` (and, with
    ``include_input``, of ``x``), runs the module in float64 and records the
    greatest move of any output. The first-order worst case takes, for each
    output, ``5e-5`` times the sum of ``|d out / d v|`` over every perturbed
    value ``v``, and keeps the greatest. The noise comes from a generator
    seeded with ``seed``; the global random state is not touched.

    Examples
    --------
    >>> from lstm_demo.post import experiment_2_inputs, experiment_2_lstm, rounding_budget
    >>> weights = ["weight_ih_l0", "weight_hh_l0", "weight_ih_l1", "weight_hh_l1"]
    >>> budget = rounding_budget(
    ...     experiment_2_lstm(dtype=torch.float64), experiment_2_inputs(),
    ...     parameters=weights, include_input=True, trials=20)
    >>> tuple(budget.random.shape), budget.worst_case > float(budget.random.max())
    ((20,), True)
    """
    names = list(parameters)
    own = dict(lstm.named_parameters())
    unknown = [name for name in names if name not in own]
    if unknown or not names:
        msg = f"Expected names of lstm's parameters ({', '.join(own)}), but got {names} instead."
        raise ValueError(msg)
    if isinstance(trials, bool) or not isinstance(trials, int) or trials < 1:
        msg = f"Expected trials to be a positive int, but got {trials!r} instead."
        raise ValueError(msg)
    lstm = copy.deepcopy(lstm).double()
    own = dict(lstm.named_parameters())
    x = x.detach().double()
    base = [own[name].detach().clone() for name in names]

    def outputs(*values: torch.Tensor) -> torch.Tensor:
        params = dict(zip(names, values[: len(names)], strict=True))
        output: torch.Tensor = torch.func.functional_call(
            lstm, params, (values[-1] if include_input else x,)
        )[0]
        return output

    values = (*base, x) if include_input else tuple(base)
    generator = torch.Generator().manual_seed(seed)
    with torch.no_grad():
        reference = outputs(*values)
        moves = []
        for _ in range(trials):
            noisy = [
                v + (torch.rand(v.shape, dtype=v.dtype, generator=generator) * 2 - 1) * PRINTED_TOLERANCE
                for v in values
            ]
            moves.append(float((outputs(*noisy) - reference).abs().max()))
    jacobian = torch.autograd.functional.jacobian(  # type: ignore[no-untyped-call]  # untyped in torch
        outputs, values
    )
    sensitivity = sum(j.abs().flatten(start_dim=reference.dim()).sum(dim=-1) for j in jacobian)
    what = ", ".join(names) + (" and the input" if include_input else "")
    return RoundingBudget(
        what, torch.tensor(moves, dtype=torch.float64), float(sensitivity.max()) * PRINTED_TOLERANCE
    )


def experiment_1_detection() -> tuple[torch.Tensor, torch.Tensor]:
    """The smallest change to each printed output of experiment 1 that its recovery detects.

    Changing one printed output ``out[b, t, k]`` changes the target of one
    time step of :func:`~lstm_demo.recover.recover_inputs`; the change is
    detected when the refitted step's greatest residual ``|h - target|``
    exceeds :data:`~lstm_demo.tolerances.PRINTED_TOLERANCE`. To first order around the recovered
    input, a refit leaves the residual ``r - delta * P[:, k]``, where ``r``
    is the residual of the printed table and ``P`` projects out the
    directions the step's 4 inputs can follow (``I - J J^+``, ``J`` the
    5x4 Jacobian of ``h`` by ``x``). Solving for the first component to
    leave ``5e-5`` gives ``delta``.

    Returns
    -------
    tuple of torch.Tensor
        The smallest increase and the smallest decrease detected, each
        shaped like the printed ``out``: ``(batch=2, seq_len=3, 5)``, float64
        (``inf`` where none would be).
    """
    lstm = experiment_1_lstm(dtype=torch.float64)
    params = cell_params(lstm)
    printed = experiment_1_outputs()
    x = recovered_experiment_1_input().input
    batch, steps, hidden = printed.shape
    up = torch.full_like(printed, math.inf)
    down = torch.full_like(printed, math.inf)
    h = c = torch.zeros(batch, hidden, dtype=torch.float64)
    for t in range(steps):
        for b in range(batch):

            def h_of(xb: torch.Tensor, b: int = b, h: torch.Tensor = h, c: torch.Tensor = c) -> torch.Tensor:
                return cell_step(xb, h[b], c[b], params)[0]

            jac = torch.autograd.functional.jacobian(  # type: ignore[no-untyped-call]  # untyped in torch
                h_of, x[b, t]
            )  # (hidden, input)
            residual = h_of(x[b, t]) - printed[b, t]
            projector = torch.eye(hidden, dtype=torch.float64) - jac @ torch.linalg.pinv(jac)
            for sign, found in ((1.0, up), (-1.0, down)):
                # Raising target k by delta moves the refitted residual h - target by -delta * P[:, k].
                slope = -sign * projector
                with torch.no_grad():
                    crossings = torch.stack(
                        [
                            (PRINTED_TOLERANCE - residual[:, None]) / slope,
                            (-PRINTED_TOLERANCE - residual[:, None]) / slope,
                        ]
                    )
                crossings = torch.where(crossings > 0, crossings, math.inf)
                found[b, t] = crossings.amin(dim=(0, 1))
        with torch.no_grad():
            h, c = cell_step(x[:, t], h, c, params)
    return up, down
