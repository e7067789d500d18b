"""How far one model lands from float64 on the CPU under each precision setting.

:func:`settings` lists the ways the precision page runs a model on the
devices at hand (a device, a dtype and :func:`~lstm_demo.precision.precision_flags`);
:func:`agreement` runs one model under each and measures it against a
float64 run on the CPU, within :func:`~lstm_demo.tolerances.tolerance_for`
the setting where TF32 is off.
"""

from __future__ import annotations

import copy
from collections.abc import Callable, Iterable
from dataclasses import dataclass

import torch
from torch import nn

from lstm_demo._types import Result, leaves
from lstm_demo._validate import describe
from lstm_demo.comparison import compare
from lstm_demo.display import Table
from lstm_demo.precision import precision_flags
from lstm_demo.tolerances import Tolerance, tolerance_for


@dataclass(frozen=True)
class Setting:
    """One way of running a model: a device, a dtype and precision switches."""

    label: str
    device: torch.device
    dtype: torch.dtype
    flags: dict[str, bool]

    @property
    def tf32(self) -> bool:
        """Whether this setting lets float32 run on TF32 tensor cores; such a setting is measured, never verified."""
        return self.dtype == torch.float32 and bool(
            self.flags.get("cudnn_tf32") or self.flags.get("matmul_tf32")
        )


def settings(devices: list[torch.device]) -> list[Setting]:
    """The settings the precision page compares, for the devices at hand.

    On the CPU: float32 and float64. On each CUDA device: float64; float32
    with cuDNN's TF32 allowed and not; float32 with cuDNN disabled; float32
    with deterministic algorithms.
    """
    found = []
    for device in devices:
        name = "cpu" if device.type == "cpu" else str(device)
        if device.type == "cuda":
            found += [
                Setting(f"{name} float64 (cuDNN)", device, torch.float64, {}),
                Setting(f"{name} float32, cuDNN, TF32 allowed", device, torch.float32, {"cudnn_tf32": True}),
                Setting(f"{name} float32, cuDNN, TF32 off", device, torch.float32, {"cudnn_tf32": False}),
                Setting(
                    f"{name} float32, cuDNN disabled",
                    device,
                    torch.float32,
                    {"cudnn": False, "matmul_tf32": False},
                ),
                Setting(
                    f"{name} float32, deterministic",
                    device,
                    torch.float32,
                    {"deterministic": True, "cudnn_tf32": False},
                ),
            ]
        elif device.type == "cpu":
            found += [
                Setting(f"{name} float64", device, torch.float64, {}),
                Setting(f"{name} float32", device, torch.float32, {}),
            ]
        else:  # MPS has no float64
            found.append(Setting(f"{name} float32", device, torch.float32, {}))
    return found


@dataclass(frozen=True)
class Agreement:
    """One model under one setting, measured against float64 on the CPU."""

    model: str
    setting: Setting
    max_abs_diff: float
    max_rel_diff: float
    """Greatest ``|diff| / |reference|`` over elements whose reference exceeds 1e-3 in size."""
    tolerance: Tolerance | None
    """:func:`~lstm_demo.tolerances.tolerance_for` the setting; None where TF32 is allowed (measured only)."""
    close: bool | None
    """Whether every element is within ``tolerance`` of the reference; None where TF32 is allowed."""
    vs_cpu_float32: float | None = None
    """For float32 settings, the greatest difference from the same model in float32 on the CPU."""


def _flat(result: Result) -> torch.Tensor:
    """The output and every final state (:func:`lstm_demo._types.leaves`), flattened into one vector."""
    return torch.cat([t.flatten() for t in leaves(result).values()])


def agreement(
    name: str,
    build: Callable[[], nn.RNNBase],
    input: torch.Tensor,
    devices: list[torch.device],
) -> Agreements:
    """Run ``build()`` on ``input`` under every :func:`settings`; measure each against CPU float64.

    ``build`` makes the module on the CPU (seed it inside); it is copied to
    each setting's device and dtype. The output and every final state count.
    Settings without TF32 are checked within
    :func:`~lstm_demo.tolerances.tolerance_for` their device and dtype; those
    with TF32 allowed are measured only (``close`` and ``tolerance`` None):
    the site verifies no claim at TF32's precision.
    """
    reference_module = build().double()
    with torch.no_grad():
        reference = _flat(reference_module(input.double()))
        cpu_float32 = _flat(copy.deepcopy(reference_module).float()(input.float())).double()
    found = Agreements()
    for setting in settings(devices):
        module = copy.deepcopy(reference_module).to(device=setting.device, dtype=setting.dtype)
        x = input.to(device=setting.device, dtype=setting.dtype)
        with precision_flags(**setting.flags), torch.no_grad():
            values = _flat(module(x)).double().cpu()
        diff = (values - reference).abs()
        scale = reference.abs()
        rel = (diff / scale)[scale > 1e-3]
        tolerance = None if setting.tf32 else tolerance_for(setting.device, setting.dtype)
        close = None
        if tolerance is not None:
            close = compare(values, reference, rtol=tolerance.rtol, atol=tolerance.atol).close
        vs_32 = float((values - cpu_float32).abs().max()) if setting.dtype == torch.float32 else None
        rel_max = float(rel.max()) if rel.numel() else 0.0
        found.append(Agreement(name, setting, float(diff.max()), rel_max, tolerance, close, vs_32))
    return found


class Agreements(list[Agreement]):
    """Agreements, shown as a text table: a heading line per model, then one line per setting.

    Columns: the greatest absolute and relative difference from CPU float64;
    for float32 settings, the greatest difference from CPU float32 (the
    direct CPU-versus-GPU comparison, ``vs cpu32``); and whether every element
    is within the setting's tolerance of CPU float64 (``yes``/``NO``), or
    ``measured`` for TF32 settings, which have no tolerance. Lines stay
    under 80 characters for every setting :func:`settings` makes. ``str()``
    is the text; on a page, as a code block's last value, the same rows show
    as an HTML table (:class:`~lstm_demo.display.Table`).

    Raises
    ------
    TypeError
        If it is given anything but :class:`Agreement`.
    """

    def __init__(self, rows: Iterable[Agreement] = ()) -> None:
        rows = list(rows)
        for row in rows:
            if not isinstance(row, Agreement):
                msg = f"Expected rows to hold Agreement, but got {describe(row)} instead."
                raise TypeError(msg)
        super().__init__(rows)

    def table(self) -> Table:
        """The rows as a :class:`~lstm_demo.display.Table`."""
        rows = self
        width = max(len(r.setting.label) for r in rows)
        header = f"{'setting':<{width}}  {'max abs':>9}  {'max rel':>9}  {'vs cpu32':>9}  within"
        lines: list[str] = []
        sections: dict[str, list[tuple[str, ...]]] = {}
        previous = None
        for r in rows:
            if r.model != previous:
                lines += [r.model, header]
                previous = r.model
            vs_32 = "-" if r.vs_cpu_float32 is None else f"{r.vs_cpu_float32:.2e}"
            verdict = "measured" if r.tolerance is None else ("yes" if r.close else "NO")
            lines.append(
                f"{r.setting.label:<{width}}  {r.max_abs_diff:>9.2e}  {r.max_rel_diff:>9.2e}  {vs_32:>9}  {verdict}"
            )
            cells = (r.setting.label, f"{r.max_abs_diff:.2e}", f"{r.max_rel_diff:.2e}", vs_32, verdict)
            sections.setdefault(r.model, []).append(cells)
        no_gpu = not any(r.setting.device.type == "cuda" for r in rows)
        notes = ["No GPU ran: this run had no CUDA device, so no TF32, cuDNN or GPU rows."] if no_gpu else []
        return Table(
            "\n".join(lines),
            caption="Each setting against float64 on the CPU, per model",
            header=("setting", "max abs diff", "max rel diff", "vs cpu float32", "within tolerance"),
            sections=sections.items(),
            notes=notes,
            numeric=(1, 2, 3),
        )

    def __str__(self) -> str:
        return str(self.table())

    def _repr_html_(self) -> str:
        return self.table()._repr_html_()
