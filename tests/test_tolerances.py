"""tolerances: measured rounding, and every tolerance's derivation."""

from __future__ import annotations

import copy
import re

import pytest
import torch
from torch import nn

from lstm_demo import tolerances
from lstm_demo.tolerances import (
    MARGIN,
    NAMES,
    PRINTED_TOLERANCE,
    SAFETY,
    Rounding,
    Tolerance,
    coverage,
    derived,
    measure_rounding,
    site_tolerances,
    tolerance_for,
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


# --- tolerance_for -------------------------------------------------------------------------------


def test_tolerance_cpu_float32_is_torch_testing_default():
    tol = tolerance_for("cpu", torch.float32)
    assert (tol.rtol, tol.atol) == (1.3e-6, 1e-5)
    assert str(tol) == "rtol=1.3e-06, atol=1e-05 (torch.testing's default for float32)"


def test_tolerance_cpu_float64_is_torch_testing_default():
    tol = tolerance_for(CPU, torch.float64)
    assert (tol.rtol, tol.atol) == (1e-7, 1e-7)


@pytest.mark.parametrize("device", ["cuda", torch.device("cuda", 0)], ids=["str", "device"])
def test_tolerance_cuda_float64_is_far_below_float32_rounding(device):
    tol = tolerance_for(device, torch.float64)
    float32 = measure_rounding("cpu", torch.float32)
    # A float32-sized error must fail it: the allowance sits many orders of magnitude below one.
    assert tol.atol < float32.max_abs_error / 1e6
    assert tol.rtol < float32.max_abs_error / 1e6
    assert "measured" in tol.why
    assert "5e-5" in tol.why  # PyTorch's own figure, cited for comparison only
    assert (tol.rtol, tol.atol) != (1e-7, 5e-5)


@pytest.mark.parametrize("precision", ["tf32", "ieee"])
def test_tolerance_cuda_float32_ignores_the_tf32_flags(precision_restored, precision):
    # Claims are verified with TF32 off: the caller's flags never widen the tolerance.
    torch.backends.cudnn.rnn.fp32_precision = precision
    tol = tolerance_for("cuda", torch.float32)
    assert tol.atol < 1e-4
    assert tol.rtol < 1e-4
    assert "TF32 off" in tol.why
    assert tol == tolerance_for("cuda:0", torch.float32)


@pytest.mark.parametrize("allow_tf32", [True, False], ids=["allowed", "not-allowed"])
def test_tolerance_cuda_float32_ignores_legacy_allow_tf32(precision_restored, allow_tf32):
    torch.backends.cudnn.allow_tf32 = allow_tf32
    tol = tolerance_for("cuda", torch.float32)
    assert tol.atol == derived(measure_rounding("cpu", torch.float32))


def test_tolerance_cuda_float32_is_derived_from_the_cpu_measurement():
    tol = tolerance_for("cuda", torch.float32)
    rounding = measure_rounding("cpu", torch.float32)
    assert tol.atol == tol.rtol
    assert tol.atol >= SAFETY * 2 * rounding.max_abs_error
    assert tol.atol <= 2 * SAFETY * 2 * rounding.max_abs_error  # rounded up to one digit: at most doubled
    assert f"{rounding.max_abs_error:.2g}" in tol.why


def test_tolerance_str_shows_its_name_and_why_holds_the_derivation():
    tol = tolerance_for("cpu", torch.float64)
    rounding = measure_rounding("cpu", torch.float64)
    assert str(tol) == "rtol=1e-07, atol=1e-07 (torch.testing's default for float64)"
    assert f"{rounding.max_abs_error:.2g}" in tol.why
    assert "Error model" in tol.why


def test_tolerance_other_dtypes_are_torch_testing_defaults():
    tol = tolerance_for("cpu", torch.float16)
    assert (tol.rtol, tol.atol) == (1e-3, 1e-5)
    assert tol.why == "torch.testing's default for float16"


def test_a_cpu_tolerance_measures_nothing_until_its_why_is_read(monkeypatch):
    # Its size is torch.testing's default; only the derivation rests on a measurement.
    def refuse(*args, **kwargs):
        msg = "measured"
        raise AssertionError(msg)

    monkeypatch.setattr(tolerances, "measure_rounding", refuse)
    tolerances._cpu.cache_clear()
    try:
        tol = tolerance_for("cpu", torch.float32)
        assert str(tol) == "rtol=1.3e-06, atol=1e-05 (torch.testing's default for float32)"
        with pytest.raises(AssertionError, match="measured"):
            _ = tol.why
    finally:
        tolerances._cpu.cache_clear()


def test_tolerance_without_cudnn_ignores_the_matmul_flag(precision_restored):
    torch.backends.cudnn.enabled = False
    torch.backends.cuda.matmul.fp32_precision = "ieee"
    tol = tolerance_for("cuda", torch.float32)
    torch.backends.cuda.matmul.fp32_precision = "tf32"
    assert tolerance_for("cuda", torch.float32) == tol
