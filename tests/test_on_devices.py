"""Every claim on every device this machine has: the CPU here, and each GPU where
there is one (``nox -s gpu`` runs this file with ``LSTM_DEMO_REQUIRE_CUDA=1``).

Nothing is skipped: the device list is whatever the machine has, and a
machine that must have a GPU fails the first test when it has none.
"""

from __future__ import annotations

import pytest
import torch

from lstm_demo import available_devices, post
from lstm_demo.claims import CLAIMS, num_layers_vs_stacked, on_each_device, whole_vs_stepwise
from lstm_demo.devices import cuda_required

DEVICES = [pytest.param(d, id=str(d)) for d in available_devices()]
# Every device in float32; float64 wherever the device has it (MPS has not).
PLACEMENTS = [
    pytest.param(d, dtype, id=f"{d}-{str(dtype).removeprefix('torch.')}")
    for d in available_devices()
    for dtype in (torch.float32, torch.float64)
    if not (d.type == "mps" and dtype == torch.float64)
]


def test_a_required_gpu_is_present():
    devices = available_devices()
    assert devices[0] == torch.device("cpu")
    if cuda_required():
        assert any(d.type == "cuda" for d in devices), "LSTM_DEMO_REQUIRE_CUDA=1 but no CUDA device"


@pytest.mark.parametrize(("device", "dtype"), PLACEMENTS)
@pytest.mark.parametrize("name", list(CLAIMS))
def test_every_question_holds(name, device, dtype):
    result = CLAIMS[name](device, dtype)
    assert result.device == device
    assert result.dtype == dtype
    result.assert_holds()


@pytest.mark.parametrize("device", DEVICES)
def test_the_post_numbers_are_reproduced(device):
    for reproduce in (post.reproduce_experiment_1, post.reproduce_experiment_2):
        result = reproduce(device)
        assert result.device == device
        assert (result.reproduced, result.holds) == (result.total, True)


@pytest.mark.parametrize("claim", [whole_vs_stepwise, num_layers_vs_stacked], ids=["stepwise", "stacked"])
def test_every_device_agrees_with_the_cpu(claim):
    torch.manual_seed(0)
    lstm = torch.nn.LSTM(3, 4, num_layers=2)
    x = torch.randn(6, 2, 3)
    results = on_each_device(claim, lstm, x, devices=available_devices())
    assert [r.device for r in results] == available_devices()
    for result in results:
        result.assert_holds()
    for result in results[1:]:  # each GPU's output and states against the CPU's
        assert {k for k in result.comparisons if k.endswith("vs cpu")} == {
            "output vs cpu",
            "h_n vs cpu",
            "c_n vs cpu",
        }


@pytest.mark.parametrize("device", DEVICES)
def test_dropout_says_what_it_compared(device):
    result = CLAIMS["dropout"](device)
    if device.type == "cpu":
        assert "train(), same seed: output" in result.comparisons
        assert result.notes == ()
    else:  # cuDNN keeps its own dropout random state
        assert "train(), same seed: output" not in result.comparisons
        assert result.notes == (
            f"train() mode not compared on {device.type}: cuDNN can draw its own dropout masks",
        )


@pytest.mark.parametrize("device", DEVICES)
def test_the_post_reproductions_leave_the_precision_flags_alone(device):
    from lstm_demo.precision import save_flags

    before = save_flags()
    post.reproduce_experiment_2(device)
    assert save_flags() == before
