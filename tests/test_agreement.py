"""lstm_demo.agreement: each precision setting measured against float64 on the CPU."""

from __future__ import annotations

import pytest
import torch
from torch import nn

from lstm_demo.agreement import Agreement, Agreements, Setting, agreement, settings
from lstm_demo.tolerances import tolerance_for

CPU = torch.device("cpu")


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
    lines = str(rows).splitlines()
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
    assert str(rows).splitlines()[-1].endswith("  NO")


def test_settings_on_mps_are_float32_only():
    assert [(s.label, s.dtype) for s in settings([torch.device("mps")])] == [("mps float32", torch.float32)]


def test_a_tf32_row_is_measured_only():
    gpu = torch.device("cuda", 0)
    tf32 = Setting("cuda:0 float32, cuDNN, TF32 allowed", gpu, torch.float32, {"cudnn_tf32": True})
    ieee = Setting("cuda:0 float32, cuDNN, TF32 off", gpu, torch.float32, {"cudnn_tf32": False})
    rows = Agreements(
        [
            Agreement("m", tf32, 2e-4, 1e-3, None, None, 2e-4),
            Agreement("m", ieee, 1e-7, 1e-6, tolerance_for(gpu, torch.float32), True, 1e-7),
        ]
    )
    lines = str(rows).splitlines()
    assert lines[2].endswith("  measured")
    assert lines[3].endswith("  yes")
    assert max(map(len, lines)) < 80  # the longest label a GPU setting has


def test_agreement_returns_rows_that_show_as_a_table():
    torch.manual_seed(0)
    rows = agreement("tiny", lambda: nn.LSTM(2, 2), torch.randn(3, 1, 2), [CPU])
    assert isinstance(rows, Agreements)
    assert str(rows) == str(rows.table())
    assert rows._repr_html_() == rows.table()._repr_html_()


def test_agreements_hold_only_agreements():
    with pytest.raises(TypeError, match=r"^Expected rows to hold Agreement, but got "):
        Agreements(["cpu float32"])  # type: ignore[list-item]
