"""lstm_demo.precision: switches set for a block and restored; agreement with float64."""

from __future__ import annotations

import pytest
import torch
from torch import nn

from lstm_demo.devices import tolerance_for
from lstm_demo.precision import (
    Agreement,
    Setting,
    agreement,
    describe_flags,
    full_precision,
    precision_flags,
    precision_objects,
    restore_flags,
    save_flags,
    settings,
    table,
)

CPU = torch.device("cpu")


def _state() -> dict:
    return {
        "cudnn": torch.backends.cudnn.enabled,
        "cudnn.deterministic": torch.backends.cudnn.deterministic,
        "deterministic": torch.are_deterministic_algorithms_enabled(),
        "matmul": torch.get_float32_matmul_precision(),
        "fp32": {path: obj.fp32_precision for path, obj in precision_objects().items()},
    }


def test_this_torch_has_per_operator_flags():
    assert {"", "cuda.matmul", "cudnn.rnn"} <= set(precision_objects())


def test_each_switch_is_set_inside_and_restored_after():
    before = _state()
    with precision_flags(cudnn=False, cudnn_tf32=False, deterministic=True):
        assert torch.backends.cudnn.enabled is False
        assert torch.backends.cudnn.rnn.fp32_precision == "ieee"
        assert torch.are_deterministic_algorithms_enabled() is True
        assert torch.backends.cudnn.deterministic is True
    assert _state() == before
    with precision_flags(cudnn_tf32=True):
        assert torch.backends.cudnn.rnn.fp32_precision == "tf32"
    assert _state() == before


def test_none_leaves_a_switch_alone():
    before = _state()
    with precision_flags():
        assert _state() == before
    assert _state() == before


def _fail_inside() -> None:
    with precision_flags(cudnn=False, deterministic=True):
        msg = "inside"
        raise RuntimeError(msg)


def test_restored_after_an_exception():
    before = _state()
    with pytest.raises(RuntimeError, match="inside"):
        _fail_inside()
    assert _state() == before


def test_changes_made_inside_the_block_are_undone_too():
    # A page that flips a flag itself inside the block leaks nothing either.
    before = _state()
    with precision_flags(cudnn=True):
        torch.backends.cuda.matmul.allow_tf32 = True  # a legacy flag, which rewrites the per-operator one
        torch.set_float32_matmul_precision("medium")
    assert _state() == before


def test_save_and_restore_round_trip():
    saved = save_flags()
    try:
        torch.backends.cudnn.rnn.fp32_precision = "ieee"
        torch.use_deterministic_algorithms(True, warn_only=True)
        assert save_flags() != saved
    finally:
        restore_flags(saved)
    assert save_flags() == saved


def test_restore_puts_back_the_onednn_switch():
    saved = save_flags()
    assert saved["mkldnn.enabled"] is torch.backends.mkldnn.enabled
    try:
        torch.backends.mkldnn.enabled = not saved["mkldnn.enabled"]
        restore_flags(saved)
        assert torch.backends.mkldnn.enabled is saved["mkldnn.enabled"]
    finally:
        torch.backends.mkldnn.enabled = saved["mkldnn.enabled"]


@pytest.mark.parametrize("name", ["cudnn", "cudnn_tf32", "deterministic", "matmul_tf32"])
def test_a_switch_must_be_a_bool(name):
    before = _state()
    match = rf"^Expected {name} to be True, False or None, but got 1 instead\.$"
    with pytest.raises(TypeError, match=match), precision_flags(**{name: 1}):
        pass
    assert _state() == before


def test_settings_on_the_cpu():
    assert [(s.label, s.dtype, s.flags) for s in settings([CPU])] == [
        ("cpu float64", torch.float64, {}),
        ("cpu float32", torch.float32, {}),
    ]


def test_settings_on_a_gpu_cover_tf32_cudnn_and_determinism():
    found = settings([torch.device("cuda", 0)])
    assert [s.flags for s in found] == [
        {},
        {"cudnn_tf32": True},
        {"cudnn_tf32": False},
        {"cudnn": False, "matmul_tf32": False},
        {"deterministic": True, "cudnn_tf32": False},
    ]
    assert [s.dtype for s in found] == [torch.float64] + [torch.float32] * 4
    assert all(s.label.startswith("cuda:0 ") for s in found)
    # Only the TF32 setting is measured without a tolerance.
    assert [s.tf32 for s in found] == [False, True, False, False, False]


def test_agreement_measures_against_float64_on_the_cpu():
    def build():
        torch.manual_seed(0)
        return nn.LSTM(3, 4, num_layers=2)

    x = torch.randn(5, 2, 3)
    rows = agreement("tiny", build, x, [CPU])
    assert [r.setting.label for r in rows] == ["cpu float64", "cpu float32"]
    assert rows[0].max_abs_diff == 0.0
    assert rows[0].close
    # float32 against float64, computed here independently of agreement():
    module = build()
    with torch.no_grad():
        out64, (h64, c64) = module.double()(x.double())
        out32, (h32, c32) = build()(x)
    expected = max((a.double() - b).abs().max().item() for a, b in [(out32, out64), (h32, h64), (c32, c64)])
    assert rows[1].max_abs_diff == pytest.approx(expected, rel=0, abs=0)
    assert 0 < rows[1].max_abs_diff < 1e-5
    assert rows[1].close
    assert (rows[1].tolerance.rtol, rows[1].tolerance.atol) == (1.3e-6, 1e-5)
    lines = table(rows).splitlines()
    assert lines[0] == "tiny"
    assert lines[1].split() == ["setting", "max", "abs", "max", "rel", "vs", "cpu32", "within"]
    assert rows[0].vs_cpu_float32 is None  # a float64 setting
    assert rows[1].vs_cpu_float32 == 0.0  # CPU float32 against itself
    assert lines[3].split()[:2] == ["cpu", "float32"]
    assert lines[3].endswith("0.00e+00  yes")
    assert lines[2].split()[-2:] == ["-", "yes"]


def test_agreement_reports_a_module_that_is_not_close():
    class Noisy(nn.LSTM):
        def forward(self, x, hx=None):
            output, state = super().forward(x, hx)
            return output + (1e-3 if output.dtype == torch.float32 else 0.0), state

    def build():
        torch.manual_seed(0)
        return Noisy(3, 4)

    rows = agreement("noisy", build, torch.randn(5, 2, 3), [CPU])
    assert rows[0].close is True
    assert rows[1].close is False
    assert rows[1].max_abs_diff == pytest.approx(1e-3, rel=1e-3)
    assert table(rows).splitlines()[-1].endswith("  NO")


def test_settings_on_mps_are_float32_only():
    assert [(s.label, s.dtype) for s in settings([torch.device("mps")])] == [("mps float32", torch.float32)]


def test_matmul_tf32_is_set_inside_and_restored_after():
    before = _state()
    with precision_flags(matmul_tf32=True):
        assert torch.backends.cuda.matmul.fp32_precision == "tf32"
    with precision_flags(matmul_tf32=False):
        assert torch.backends.cuda.matmul.fp32_precision == "ieee"
    assert _state() == before


def test_full_precision_turns_tf32_off_whatever_the_caller_set():
    before = _state()
    with precision_flags(cudnn_tf32=True, matmul_tf32=True):
        with full_precision():
            assert torch.backends.cudnn.rnn.fp32_precision == "ieee"
            assert torch.backends.cuda.matmul.fp32_precision == "ieee"
        assert torch.backends.cudnn.rnn.fp32_precision == "tf32"
        assert torch.backends.cuda.matmul.fp32_precision == "tf32"
    assert _state() == before


def test_a_tf32_row_is_measured_only():
    gpu = torch.device("cuda", 0)
    tf32 = Setting("cuda:0 float32, cuDNN, TF32 allowed", gpu, torch.float32, {"cudnn_tf32": True})
    ieee = Setting("cuda:0 float32, cuDNN, TF32 off", gpu, torch.float32, {"cudnn_tf32": False})
    rows = [
        Agreement("m", tf32, 2e-4, 1e-3, None, None, 2e-4),
        Agreement("m", ieee, 1e-7, 1e-6, tolerance_for(gpu, torch.float32), True, 1e-7),
    ]
    lines = table(rows).splitlines()
    assert lines[2].endswith("  measured")
    assert lines[3].endswith("  yes")
    assert max(map(len, lines)) < 80  # the longest label a GPU setting has


@pytest.mark.parametrize("allow", [True, False], ids=["allowed", "not-allowed"])
def test_restored_after_a_legacy_cudnn_flag_and_still_readable(allow):
    before = save_flags()
    with precision_flags(cudnn_tf32=not allow):
        torch.backends.cudnn.allow_tf32 = allow  # a legacy write inside the block
    assert save_flags() == before
    assert torch.backends.cudnn.allow_tf32 == before["legacy_tf32"][0]


def test_describe_flags_reports_the_switches_in_force():
    with precision_flags(cudnn_tf32=True, deterministic=True):
        flags = describe_flags()
    assert flags["cuDNN RNN"] == "tf32"
    assert flags["deterministic"] == "True"
    with full_precision():
        assert describe_flags()["cuDNN RNN"] == "ieee"


def test_cudnn_switch_sets_and_restores_only_enabled():
    from lstm_demo.precision import cudnn

    before = save_flags()
    with cudnn(False):
        assert torch.backends.cudnn.enabled is False
    assert torch.backends.cudnn.enabled is True
    assert save_flags() == before


def test_cudnn_switch_restores_after_an_error_and_inside_full_precision():
    from lstm_demo.precision import cudnn

    seen = []

    def fails() -> None:
        with cudnn(False):
            seen.append(torch.backends.cudnn.enabled)
            raise ZeroDivisionError

    with full_precision(), pytest.raises(ZeroDivisionError):
        fails()
    assert seen == [False]
    assert torch.backends.cudnn.enabled is True


def test_cudnn_switch_takes_a_bool():
    from lstm_demo.precision import cudnn

    with (
        pytest.raises(TypeError, match=r"^Expected enabled to be True or False, but got 0 instead\.$"),
        cudnn(0),
    ):
        pass
