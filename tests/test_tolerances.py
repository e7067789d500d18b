"""tolerances: measured rounding, and every tolerance's derivation."""

from __future__ import annotations

import copy
import re

import pytest
import torch
from torch import nn

from lstm_demo.devices import Tolerance
from lstm_demo.post import PRINTED_TOLERANCE
from lstm_demo.tolerances import (
    MARGIN,
    NAMES,
    SAFETY,
    Rounding,
    coverage,
    derived,
    measure_rounding,
    site_tolerances,
)

CPU = torch.device("cpu")


def test_float32_rounding_covers_a_model_measured_here():
    # One of the claims' models, float32 against float64, computed here.
    torch.manual_seed(0)
    lstm = nn.LSTM(3, 3, num_layers=2).double()
    x = torch.randn(5, 1, 3, dtype=torch.float64)
    with torch.no_grad():
        error = (copy.deepcopy(lstm).float()(x.float())[0].double() - lstm(x)[0]).abs().max().item()
    rounding = measure_rounding("cpu", torch.float32)
    assert rounding.unit_roundoff == 2.0**-24
    assert 0 < error < 50 * 2.0**-24  # a few roundings, not more
    assert 0 < rounding.max_abs_error < 50 * 2.0**-24
    assert rounding.in_units == rounding.max_abs_error / 2.0**-24
    assert 0.3 < rounding.max_value < 20  # weight gradients reach about 10


def test_float64_rounding_is_float64_sized():
    rounding = measure_rounding(CPU, torch.float64)
    assert rounding.unit_roundoff == 2.0**-53
    assert rounding.max_abs_error < 50 * 2.0**-53
    assert str(rounding).startswith("cpu, float64: e = ")


def test_measure_rounding_is_measured_once_per_device_and_dtype():
    assert measure_rounding("cpu", torch.float32) is measure_rounding(CPU, torch.float32)


def test_cudnn_switch_leaves_the_cpu_measurement_alone():
    # The CPU never runs cuDNN: switching it off measures the same thing, once.
    assert measure_rounding("cpu", torch.float32, cudnn=False) is measure_rounding("cpu", torch.float32)
    assert torch.backends.cudnn.enabled


def test_measure_rounding_cudnn_must_be_a_bool():
    with pytest.raises(TypeError, match=r"^Expected cudnn to be True or False, but got 'no' instead\.$"):
        measure_rounding("cpu", torch.float32, cudnn="no")


@pytest.mark.parametrize(
    ("args", "error", "match"),
    [
        (
            ("cpu", torch.float16),
            TypeError,
            r"^Expected dtype torch.float32 or torch.float64, but got torch.float16 instead\.$",
        ),
        (("cuda:7", torch.float32), ValueError, r"^Expected one of this machine's devices"),
        (
            (3, torch.float32),
            TypeError,
            r"^Expected device to be a string or torch.device, but got int instead\.$",
        ),
    ],
    ids=["dtype", "device", "device-type"],
)
def test_measure_rounding_bad_arguments(args, error, match):
    with pytest.raises(error, match=match):
        measure_rounding(*args)


@pytest.mark.parametrize(
    ("error", "dtype", "expected"),
    [
        (9.5e-8, torch.float32, 1e-5),
        (1.2e-7, torch.float32, 2e-5),
        (2.2e-16, torch.float64, 3e-14),
        (0.0, torch.float64, 2e-14),
    ],
)
def test_derived_is_safety_times_twice_the_error_rounded_up(error, dtype, expected):
    # 50 x 2 x 9.5e-8 = 9.5e-6 -> 1e-5; 1.2e-5 -> 2e-5; 2.2e-14 -> 3e-14; at least one rounding: 1.1e-14 -> 2e-14.
    assert derived(Rounding(CPU, dtype, error, 1.0, "m")) == pytest.approx(expected, rel=1e-12)


def test_coverage():
    tol = Tolerance(1e-5, 1e-5, "why")
    assert coverage(tol, Rounding(CPU, torch.float32, 1e-7, 1.0, "m")) == pytest.approx(50)
    # rtol smaller than atol: large references are the worst case
    tighter = Tolerance(1.3e-6, 1e-5, "why")
    assert coverage(tighter, Rounding(CPU, torch.float32, 1e-7, 1.0, "m")) == pytest.approx(6.5)


def test_site_tolerances_names_and_values():
    tolerances = site_tolerances()
    assert tuple(tolerances) == NAMES
    assert (tolerances["cpu float32"].rtol, tolerances["cpu float32"].atol) == (1.3e-6, 1e-5)
    assert (tolerances["cpu float64"].rtol, tolerances["cpu float64"].atol) == (1e-7, 1e-7)
    assert (tolerances["post printed"].rtol, tolerances["post printed"].atol) == (0.0, PRINTED_TOLERANCE)
    for dtype in (torch.float32, torch.float64):
        name = str(dtype).removeprefix("torch.")
        gpu = tolerances[f"gpu {name}"]
        assert gpu.atol == gpu.rtol == derived(measure_rounding("cpu", dtype))


@pytest.mark.parametrize("name", NAMES)
def test_every_why_states_its_measured_figure(name):
    why = site_tolerances()[name].why
    e32 = measure_rounding("cpu", torch.float32).max_abs_error
    e64 = measure_rounding("cpu", torch.float64).max_abs_error
    figure = f"{e64 if name.endswith('float64') else e32:.2g}"
    assert f"e = {figure}" in why or f"this CPU: {figure}" in why
    assert len(why) > 100


@pytest.mark.parametrize("name", ["cpu float32", "cpu float64", "gpu float32", "gpu float64"])
def test_every_computed_tolerance_covers_the_cpu_error_with_margin(name):
    tol = site_tolerances()[name]
    dtype = torch.float64 if name.endswith("float64") else torch.float32
    # torch.testing's defaults on the CPU cover the worst case at least once (float32's rtol is the
    # tighter part); the derived GPU tolerances cover the CPU's 2e SAFETY times.
    assert coverage(tol, measure_rounding("cpu", dtype)) >= (MARGIN if name.startswith("gpu") else 1)
    if name.startswith("gpu"):
        assert coverage(tol, measure_rounding("cpu", dtype)) >= SAFETY
        match = re.search(r"rounded up to (\S+) ", tol.why)
        assert float(match.group(1)) == tol.atol
