"""environment_report: the provenance every executed page prints."""

from __future__ import annotations

import datetime
import platform

import pytest
import torch

import lstm_demo
import lstm_demo.provenance
from lstm_demo import environment_report
from lstm_demo.precision import describe_flags
from lstm_demo.provenance import CUDA_ONLY_FLAGS

LABELS = ["date (UTC)", "python", "torch", "lstm_demo", "devices", "CPU threads", "default dtype"]


@pytest.fixture
def restore_deterministic():
    """Restore torch's deterministic-algorithms setting after a test changes it."""
    was_on = torch.are_deterministic_algorithms_enabled()
    warn_only = torch.is_deterministic_algorithms_warn_only_enabled()
    try:
        yield
    finally:
        torch.use_deterministic_algorithms(was_on, warn_only=warn_only)


def test_fields():
    report = environment_report()
    assert report.torch == torch.__version__
    assert report.lstm_demo == lstm_demo.__version__
    assert report.python == platform.python_version()
    assert report.cuda == torch.version.cuda
    assert report.devices[0] == "cpu"
    assert len(report.devices) == len(lstm_demo.available_devices())
    assert report.threads == torch.get_num_threads()
    assert report.default_dtype == "float32"
    assert report.flags["deterministic"] == str(torch.are_deterministic_algorithms_enabled())
    assert report.flags["fp32 matmul"] == torch.get_float32_matmul_precision()


def test_date_is_now_in_utc_to_the_minute():
    before = datetime.datetime.now(datetime.timezone.utc).replace(second=0, microsecond=0)
    report = environment_report()
    after = datetime.datetime.now(datetime.timezone.utc)
    date = datetime.datetime.strptime(report.date, "%Y-%m-%d %H:%M").replace(tzinfo=datetime.timezone.utc)
    assert before <= date <= after


def test_default_dtype_follows_torch():
    previous = torch.get_default_dtype()
    torch.set_default_dtype(torch.float64)
    try:
        assert environment_report().default_dtype == "float64"
    finally:
        torch.set_default_dtype(previous)


def test_str_has_one_line_per_field():
    report = environment_report()
    lines = str(report).splitlines()
    assert len(lines) == len(LABELS) + len(report.flags)
    for line, label in zip(lines, [*LABELS, *report.flags], strict=True):
        assert line.startswith(label), (line, label)
    assert lines[0] == f"date (UTC)      {report.date}"
    assert lines[2].startswith(f"torch           {torch.__version__} (CUDA ")
    assert lines[4] == f"devices         {', '.join(report.devices)}"
    assert lines[5] == f"CPU threads     {torch.get_num_threads()}"
    assert lines[6] == "default dtype   float32"


def test_str_shows_a_changed_flag(restore_deterministic):
    torch.use_deterministic_algorithms(False)
    report = environment_report()
    assert report.flags["deterministic"] == "False"
    assert "deterministic   False" in str(report).splitlines()

    torch.use_deterministic_algorithms(True)
    report = environment_report()
    assert report.flags["deterministic"] == "True"
    assert "deterministic   True" in str(report).splitlines()


@pytest.mark.parametrize("cuda", [False, True])
def test_cuda_flags_only_where_cuda_runs(monkeypatch, cuda):
    """A CPU-only run lists no cuDNN or CUDA matmul setting: they would act on nothing."""
    monkeypatch.setattr(torch.cuda, "is_available", lambda: cuda)
    monkeypatch.setattr(lstm_demo.provenance, "available_devices", lambda: [torch.device("cpu")])
    report = environment_report()
    every_flag = describe_flags()
    cuda_flags = CUDA_ONLY_FLAGS & every_flag.keys()
    assert cuda_flags, every_flag  # this torch has CUDA flags to leave out
    assert report.flags.keys() == (every_flag.keys() if cuda else every_flag.keys() - cuda_flags)
    printed = str(report)
    assert all((f"\n{label} " in printed) == cuda for label in cuda_flags), printed
    assert "\nfp32 matmul " in printed
    assert "\ndeterministic " in printed


def test_report_with_cudnn_rnn_precision_set_by_the_new_api(precision_restored, monkeypatch):
    """PyTorch recommends torch.backends.cudnn.rnn.fp32_precision; a report must still be printable."""
    monkeypatch.setattr(torch.cuda, "is_available", lambda: True)
    monkeypatch.setattr(lstm_demo.provenance, "available_devices", lambda: [torch.device("cpu")])
    torch.backends.cudnn.rnn.fp32_precision = "ieee"
    report = environment_report()
    assert report.flags["cuDNN RNN"] == "ieee"
    assert "cuDNN RNN       ieee" in str(report).splitlines()
