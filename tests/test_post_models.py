"""post.models: the post's two models built from its printed numbers, and experiment 1's recovered input."""

from __future__ import annotations

import re

import pytest
import torch
from torch import nn

from lstm_demo.post import (
    EXPERIMENT_1,
    EXPERIMENT_2,
    experiment_1_lstm,
    experiment_1_outputs,
    experiment_1_step_outputs,
    experiment_2_inputs,
    experiment_2_lstm,
    experiment_2_outputs,
    recovered_experiment_1_input,
)
from lstm_demo.recover import InputRecovery

pytestmark = pytest.mark.usefixtures("one_thread")


def test_experiment_1_lstm_config_and_parameters():
    lstm = experiment_1_lstm()
    assert isinstance(lstm, nn.LSTM)
    assert repr(lstm) == "LSTM(4, 5, batch_first=True)"
    assert [(n, tuple(p.shape)) for n, p in lstm.named_parameters()] == [
        ("weight_ih_l0", (20, 4)),
        ("weight_hh_l0", (20, 5)),
        ("bias_ih_l0", (20,)),
        ("bias_hh_l0", (20,)),
    ]
    for param in lstm.parameters():
        assert param.dtype == torch.float32
        assert param.device == torch.device("cpu")
        assert param.requires_grad
    # The printed decimals, rounded to float32.
    assert lstm.weight_ih_l0[0, 0].item() == torch.tensor(0.0449, dtype=torch.float32).item()
    assert lstm.weight_hh_l0[19, 4].item() == torch.tensor(0.0699, dtype=torch.float32).item()
    assert lstm.bias_ih_l0[19].item() == torch.tensor(-0.0532, dtype=torch.float32).item()
    assert lstm.bias_hh_l0[16].item() == torch.tensor(0.0008, dtype=torch.float32).item()
    for name, param in lstm.named_parameters():
        assert torch.equal(param.detach(), EXPERIMENT_1[name].value.float()), name


def test_experiment_1_lstm_float64_holds_the_printed_decimals():
    lstm = experiment_1_lstm(dtype=torch.float64)
    assert repr(lstm) == "LSTM(4, 5, batch_first=True)"
    assert {p.dtype for p in lstm.parameters()} == {torch.float64}
    assert lstm.weight_ih_l0[0].tolist() == [0.0449, 0.0707, -0.0393, 0.0395]
    assert lstm.weight_hh_l0[0, 0].item() == -0.0148
    assert lstm.bias_ih_l0[0].item() == 0.0719
    assert lstm.bias_hh_l0[19].item() == 0.0419


@pytest.mark.parametrize("device", ["meta", torch.device("meta"), "cpu", torch.device("cpu")])
def test_experiment_1_lstm_device(device):
    lstm = experiment_1_lstm(device=device)
    assert {p.device for p in lstm.parameters()} == {torch.device(device)}
    assert tuple(lstm.weight_ih_l0.shape) == (20, 4)


def test_experiment_2_lstm_config_and_weights():
    lstm = experiment_2_lstm()
    assert isinstance(lstm, nn.LSTM)
    assert repr(lstm) == "LSTM(3, 3, num_layers=2)"
    assert (lstm.input_size, lstm.hidden_size, lstm.num_layers, lstm.batch_first) == (3, 3, 2, False)
    names = [n for n, _ in lstm.named_parameters()]
    assert names == [
        "weight_ih_l0",
        "weight_hh_l0",
        "bias_ih_l0",
        "bias_hh_l0",
        "weight_ih_l1",
        "weight_hh_l1",
        "bias_ih_l1",
        "bias_hh_l1",
    ]
    assert {p.dtype for p in lstm.parameters()} == {torch.float32}
    assert lstm.weight_ih_l0[0, 0].item() == torch.tensor(0.6025, dtype=torch.float32).item()
    assert lstm.weight_hh_l0[11, 2].item() == torch.tensor(-0.3627, dtype=torch.float32).item()
    assert lstm.weight_ih_l1[8, 2].item() == torch.tensor(3.5858e-04, dtype=torch.float32).item()
    assert lstm.weight_hh_l1[11, 2].item() == torch.tensor(0.8224, dtype=torch.float32).item()
    for name in ("weight_ih_l0", "weight_hh_l0", "weight_ih_l1", "weight_hh_l1"):
        assert torch.equal(getattr(lstm, name).detach(), EXPERIMENT_2[name].value.float()), name
    for name in ("bias_ih_l0", "bias_hh_l0", "bias_ih_l1", "bias_hh_l1"):
        assert torch.equal(getattr(lstm, name).detach(), torch.zeros(12)), name


def test_experiment_2_lstm_float64_and_device():
    lstm = experiment_2_lstm(dtype=torch.float64)
    assert {p.dtype for p in lstm.parameters()} == {torch.float64}
    assert lstm.weight_ih_l1[0].tolist() == [3.6955e-02, 7.1276e-02, -4.3073e-01]
    assert lstm.weight_hh_l1[-1].tolist() == [0.2533, 0.1532, 0.8224]
    meta = experiment_2_lstm(device="meta", bias="default")
    assert {p.device for p in meta.parameters()} == {torch.device("meta")}


def test_experiment_2_lstm_default_biases_are_pytorch_init_after_the_seed():
    lstm = experiment_2_lstm(bias="default")
    torch.manual_seed(1)
    reference = nn.LSTM(3, 3, num_layers=2)
    bound = 1 / 3**0.5
    for name in ("bias_ih_l0", "bias_hh_l0", "bias_ih_l1", "bias_hh_l1"):
        bias = getattr(lstm, name).detach()
        assert torch.equal(bias, getattr(reference, name).detach()), name
        assert bool((bias.abs() <= bound).all()), name
        assert bool((bias != 0).all()), name
    # The weights are still the printed ones, not the drawn ones.
    assert lstm.weight_ih_l0[0, 0].item() == torch.tensor(0.6025, dtype=torch.float32).item()
    assert not torch.equal(lstm.weight_ih_l0.detach(), reference.weight_ih_l0.detach())


def test_experiment_2_lstm_default_biases_follow_the_seed():
    def biases(seed: int) -> torch.Tensor:
        lstm = experiment_2_lstm(bias="default", seed=seed)
        return torch.cat([p.detach() for n, p in lstm.named_parameters() if n.startswith("bias")])

    assert tuple(biases(1).shape) == (48,)
    assert torch.equal(biases(1), biases(1))
    assert torch.equal(biases(7), biases(7))
    assert not torch.equal(biases(1), biases(7))
    assert int((biases(1) != biases(7)).sum()) == 48


@pytest.mark.parametrize("bias", ["default", "zero"])
def test_experiment_2_lstm_leaves_the_global_generator_alone(bias: str):
    torch.manual_seed(12345)
    saved = torch.random.get_rng_state()
    expected = torch.rand(4)
    torch.random.set_rng_state(saved)
    experiment_2_lstm(bias=bias, seed=1)
    assert torch.equal(torch.rand(4), expected)
    # And the call itself does not depend on the state it finds.
    torch.manual_seed(999)
    again = experiment_2_lstm(bias=bias, seed=1)
    torch.manual_seed(1)
    assert torch.equal(again.bias_ih_l1.detach(), experiment_2_lstm(bias=bias, seed=1).bias_ih_l1.detach())


@pytest.mark.parametrize("bias", ["random", "Zero", "", None, 0])
def test_experiment_2_lstm_bad_bias(bias):
    with pytest.raises(
        ValueError, match=re.escape("Expected bias to be one of ('zero', 'default'), but got ")
    ):
        experiment_2_lstm(bias=bias)


def test_experiment_2_lstm_bad_bias_message():
    with pytest.raises(
        ValueError, match=r"^Expected bias to be one of \('zero', 'default'\), but got 'random'"
    ):
        experiment_2_lstm(bias="random")


def test_experiment_outputs_and_inputs():
    out = experiment_1_outputs()
    assert (tuple(out.shape), out.dtype) == ((2, 3, 5), torch.float64)
    assert out[0, 0, 0].item() == 0.0808
    assert out[1, 2, 4].item() == -0.0549
    steps = experiment_1_step_outputs()
    assert (tuple(steps.shape), steps.dtype) == ((3, 2, 1, 5), torch.float64)
    assert steps[0, 0, 0, 0].item() == 0.0808
    assert steps[1, 1, 0, 4].item() == -0.0333
    assert steps[2, 1, 0, 4].item() == -0.0549
    inputs = experiment_2_inputs()
    assert (tuple(inputs.shape), inputs.dtype) == ((5, 1, 3), torch.float64)
    assert inputs[0, 0].tolist() == [1.5381, 1.4673, 1.5951]
    assert inputs[4, 0].tolist() == [1.1628, -0.3229, 1.8782]
    outputs = experiment_2_outputs()
    assert (tuple(outputs.shape), outputs.dtype) == ((5, 1, 3), torch.float64)
    assert torch.equal(outputs, EXPERIMENT_2["outputs"].value.reshape(5, 1, 3))


def test_recovered_experiment_1_input():
    found = recovered_experiment_1_input()
    assert isinstance(found, InputRecovery)
    assert found is recovered_experiment_1_input()  # computed once
    assert (tuple(found.input.shape), found.input.dtype) == ((2, 3, 4), torch.float64)
    assert tuple(found.residuals.shape) == (3, 2)
    assert found.max_residual < 5e-5
    assert bool(torch.isfinite(found.input).all())
    # Run a plain float64 nn.LSTM(4, 5, batch_first=True), loaded by hand from the table, on it.
    lstm = nn.LSTM(4, 5, batch_first=True, dtype=torch.float64)
    with torch.no_grad():
        for name, param in lstm.named_parameters():
            param.copy_(EXPERIMENT_1[name].value)
        out, (h_n, _) = lstm(found.input)
    assert abs(out[0, 0, 0].item() - 0.0808) <= 5e-5
    assert abs(out[0, 2, 4].item() - (-0.0875)) <= 5e-5
    assert abs(out[1, 2, 4].item() - (-0.0549)) <= 5e-5
    assert float((out - experiment_1_outputs()).abs().max()) <= 5e-5
    assert torch.allclose(found.state[0], h_n, rtol=0, atol=1e-12)


def test_experiment_2_lstm_reseeds_no_gpu_generator(monkeypatch):
    # torch.manual_seed would also reseed every CUDA generator; the builder must not.
    calls = []
    monkeypatch.setattr(torch.cuda, "manual_seed_all", calls.append)
    monkeypatch.setattr(torch.cuda, "manual_seed", calls.append)
    experiment_2_lstm(bias="default", seed=3)
    assert calls == []


def test_experiment_1_lstm_leaves_the_random_stream_alone():
    torch.manual_seed(5)
    expected = torch.rand(3)
    torch.manual_seed(5)
    experiment_1_lstm()
    assert torch.equal(torch.rand(3), expected)
