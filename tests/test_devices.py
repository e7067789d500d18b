"""devices: which devices a run uses, and LSTM_DEMO_REQUIRE_CUDA."""

from __future__ import annotations

import io

import pytest
import torch

from lstm_demo import available_devices
from lstm_demo.devices import (
    cuda_required,
    device_name,
    each_device,
    resolve_device,
    resolve_placement,
)

CPU = torch.device("cpu")


@pytest.fixture
def no_gpu(monkeypatch):
    """This machine as one without a CUDA GPU, whatever it has."""
    monkeypatch.setattr(torch.cuda, "is_available", lambda: False)


@pytest.fixture
def one_gpu(monkeypatch):
    """This machine as one with a single CUDA GPU named 'Fake GPU 80GB'."""
    monkeypatch.setattr(torch.cuda, "is_available", lambda: True)
    monkeypatch.setattr(torch.cuda, "device_count", lambda: 1)
    monkeypatch.setattr(torch.cuda, "get_device_name", lambda device=None: "Fake GPU 80GB")


@pytest.fixture
def require_cuda(monkeypatch):
    def set_value(value: str | None) -> None:
        if value is None:
            monkeypatch.delenv("LSTM_DEMO_REQUIRE_CUDA", raising=False)
        else:
            monkeypatch.setenv("LSTM_DEMO_REQUIRE_CUDA", value)

    return set_value


# --- available_devices ---------------------------------------------------------------------------


def test_available_devices_on_this_machine():
    devices = available_devices()
    assert devices[0] == CPU
    assert all(isinstance(d, torch.device) for d in devices)
    cuda = [d for d in devices if d.type == "cuda"]
    expected_cuda = torch.cuda.device_count() if torch.cuda.is_available() else 0
    assert cuda == [torch.device("cuda", i) for i in range(expected_cuda)]


def test_available_devices_without_gpu(no_gpu):
    assert available_devices() == [CPU]


def test_available_devices_with_one_gpu(one_gpu):
    assert available_devices() == [CPU, torch.device("cuda", 0)]


def test_device_name(one_gpu):
    assert device_name(CPU) == "cpu"
    assert device_name(torch.device("cuda", 0)) == "cuda:0 (Fake GPU 80GB)"


# --- LSTM_DEMO_REQUIRE_CUDA ----------------------------------------------------------------------


@pytest.mark.parametrize("value", ["1", "true", "YES", "on", " On "])
def test_cuda_required_true(require_cuda, value):
    require_cuda(value)
    assert cuda_required() is True


@pytest.mark.parametrize("value", ["", "0", "false", "no", "off", "OFF", None], ids=repr)
def test_cuda_required_false(require_cuda, value):
    require_cuda(value)
    assert cuda_required() is False


def test_cuda_required_bad_value(require_cuda):
    require_cuda("maybe")
    with pytest.raises(
        ValueError,
        match=r"^Expected LSTM_DEMO_REQUIRE_CUDA to be 1 or 0 \(or true/false, yes/no, on/off\), "
        r"but got 'maybe' instead\.$",
    ):
        cuda_required()


# --- each_device ---------------------------------------------------------------------------------


def test_each_device_without_gpu_prints_a_note(no_gpu, require_cuda):
    require_cuda(None)
    out = io.StringIO()
    assert each_device(file=out) == [CPU]
    lines = out.getvalue().splitlines()
    assert lines[0] == "Running on: cpu."
    note = " ".join(lines[1:])
    assert note.startswith("No CUDA GPU on the machine that ran this, so only CPU results appear below")
    assert note.endswith("compares with the CPU.")
    assert all(len(line) <= 79 for line in lines)


def test_each_device_prints_to_stdout_by_default(no_gpu, require_cuda, capsys):
    require_cuda("0")
    assert each_device() == [CPU]
    assert capsys.readouterr().out.startswith("Running on: cpu.\nNo CUDA GPU")


def test_each_device_requiring_cuda_without_gpu(no_gpu, require_cuda):
    require_cuda("1")
    out = io.StringIO()
    with pytest.raises(
        RuntimeError,
        match=r"^Expected a CUDA device, since LSTM_DEMO_REQUIRE_CUDA=1, but got none on this machine",
    ):
        each_device(file=out)
    assert out.getvalue() == ""


def test_each_device_bad_require_value_without_gpu(no_gpu, require_cuda):
    require_cuda("maybe")
    with pytest.raises(ValueError, match=r"^Expected LSTM_DEMO_REQUIRE_CUDA to be 1 or 0"):
        each_device(file=io.StringIO())


def test_each_device_bad_require_value_with_gpu(one_gpu, require_cuda):
    # A typo in the variable is an error on a GPU machine too, not silently ignored.
    require_cuda("maybe")
    with pytest.raises(ValueError, match=r"but got 'maybe' instead"):
        each_device(file=io.StringIO())


def test_each_device_requiring_cuda_names_the_value(no_gpu, require_cuda):
    require_cuda("true")
    with pytest.raises(RuntimeError, match=r"since LSTM_DEMO_REQUIRE_CUDA=true, but got none"):
        each_device(file=io.StringIO())


@pytest.mark.parametrize("value", [None, "1"], ids=["not-required", "required"])
def test_each_device_with_one_gpu(one_gpu, require_cuda, value):
    require_cuda(value)
    out = io.StringIO()
    assert each_device(file=out) == [CPU, torch.device("cuda", 0)]
    assert out.getvalue() == "Running on: cpu, cuda:0 (Fake GPU 80GB).\n"


def test_each_device_names_mps_in_the_note(no_gpu, require_cuda, monkeypatch):
    # A Mac: no CUDA, but MPS. The note must not say that only CPU results follow.
    require_cuda(None)
    monkeypatch.setattr(torch.backends.mps, "is_available", lambda: True)
    out = io.StringIO()
    assert each_device(file=out) == [CPU, torch.device("mps")]
    note = " ".join(out.getvalue().splitlines()[1:])
    assert "only CPU and MPS results appear below" in note


# --- resolve_device ------------------------------------------------------------------------------


@pytest.mark.parametrize("device", ["cpu", torch.device("cpu")], ids=["str", "device"])
def test_resolve_device_cpu(device):
    resolved = resolve_device(device)
    assert isinstance(resolved, torch.device)
    assert resolved == CPU
    assert resolved.index is None


@pytest.fixture
def current_gpu(monkeypatch):
    """Make ``torch.cuda.current_device()`` return a given index, as on a machine with GPUs."""

    def set_current(index: int) -> None:
        monkeypatch.setattr(torch.cuda, "current_device", lambda: index)

    return set_current


@pytest.mark.parametrize("device", ["cuda", torch.device("cuda"), "cuda:0"], ids=["str", "device", "cuda:0"])
def test_resolve_device_cuda_on_a_one_gpu_machine(one_gpu, current_gpu, device):
    current_gpu(0)
    resolved = resolve_device(device)
    assert resolved == torch.device("cuda", 0)
    assert resolved.index == 0


def test_resolve_device_cuda_is_the_current_gpu(monkeypatch, current_gpu):
    monkeypatch.setattr(torch.cuda, "is_available", lambda: True)
    monkeypatch.setattr(torch.cuda, "device_count", lambda: 2)
    current_gpu(1)
    assert resolve_device("cuda") == torch.device("cuda", 1)
    assert resolve_device("cuda:0") == torch.device("cuda", 0)


def test_resolve_device_a_gpu_the_machine_lacks(one_gpu, current_gpu):
    current_gpu(0)
    with pytest.raises(
        ValueError,
        match=r"^Expected one of this machine's devices \(cpu, cuda:0\), but got 'cuda:1' instead\.$",
    ):
        resolve_device("cuda:1")


@pytest.mark.parametrize("device", ["cuda", "cuda:0", torch.device("cuda")], ids=["cuda", "cuda:0", "device"])
def test_resolve_device_cuda_without_gpu(no_gpu, monkeypatch, device):
    monkeypatch.setattr(torch.backends.mps, "is_available", lambda: False)
    with pytest.raises(
        ValueError,
        match=rf"^Expected one of this machine's devices \(cpu\), but got '{device!s}'",
    ):
        resolve_device(device)


def test_resolve_device_mps_without_mps(no_gpu, monkeypatch):
    monkeypatch.setattr(torch.backends.mps, "is_available", lambda: False)
    with pytest.raises(ValueError, match=r"^Expected one of this machine's devices \(cpu\), but got 'mps'"):
        resolve_device("mps")


@pytest.mark.parametrize("name", ["nonsense", "", "cuda:x", "gpu"])
def test_resolve_device_not_a_device_name(name):
    with pytest.raises(
        ValueError,
        match=rf"^Expected a device name such as 'cpu' or 'cuda:0', but got '{name}'",
    ):
        resolve_device(name)


@pytest.mark.parametrize(
    ("device", "kind"), [(3, "int"), (None, "NoneType"), (0.0, "float"), (["cpu"], "list")], ids=repr
)
def test_resolve_device_wrong_type(device, kind):
    with pytest.raises(
        TypeError, match=rf"^Expected device to be a string or torch\.device, but got {kind} instead\.$"
    ):
        resolve_device(device)


def test_resolve_device_accepts_cpu_with_an_index():
    assert resolve_device("cpu:0") == torch.device("cpu")
    assert resolve_device(torch.device("cpu", 0)) == torch.device("cpu")


def test_resolve_device_refuses_a_cpu_index_other_than_0():
    with pytest.raises(ValueError, match=r"^Expected one of this machine's devices \(cpu\), but got 'cpu:1'"):
        resolve_device("cpu:1")


def test_resolve_placement_checks_the_dtype_then_the_device(no_gpu):
    assert resolve_placement("cpu", torch.float64) == (CPU, torch.float64)
    with pytest.raises(
        TypeError, match=r"^Expected dtype torch\.float32 or torch\.float64, but got torch\.float16"
    ):
        resolve_placement("cuda", torch.float16)
    with pytest.raises(ValueError, match=r"^Expected one of this machine's devices \(cpu\), but got 'cuda'"):
        resolve_placement("cuda", torch.float32)
