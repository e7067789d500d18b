"""claims: each claim holds for nn.LSTM/GRU/RNN, a false one is caught, and on_each_device copies, never moves."""

from __future__ import annotations

import pytest
import torch
from cases import CLASSES
from torch import nn

from lstm_demo.claims import (
    ClaimResult,
    claim_result,
    num_layers_vs_stacked,
    on_each_device,
    whole_vs_stepwise,
)
from lstm_demo.devices import tolerance_for

CPU = torch.device("cpu")
CLAIMS = [
    pytest.param(whole_vs_stepwise, id="whole_vs_stepwise"),
    pytest.param(num_layers_vs_stacked, id="num_layers_vs_stacked"),
]


def keys(cls) -> list[str]:
    return ["output", "h_n", "c_n"] if cls is nn.LSTM else ["output", "h_n"]


class OffWhenWholeLSTM(nn.LSTM):
    """An LSTM whose forward adds 1e-3 to its output when given more than one time step.

    Called one step at a time (run_stepwise) or through split layers it gives the true
    values; called on the whole sequence it does not: the claims must notice.
    """

    def forward(self, input, hx=None):
        output, state = super().forward(input, hx)
        if input.shape[0] > 1:
            output = output + 1e-3
        return output, state


@pytest.mark.parametrize("claim", CLAIMS)
@pytest.mark.parametrize("cls", CLASSES)
@pytest.mark.parametrize("with_hx", [False, True], ids=["no-hx", "hx"])
def test_claim_holds(claim, cls, with_hx, sample):
    rnn = cls(3, 4, num_layers=2)
    x, hx = sample(rnn, 5, 2, hx=with_hx)
    result = claim(rnn, x, hx)
    assert isinstance(result, ClaimResult)
    assert result.holds is True
    assert list(result.comparisons) == keys(cls)
    assert all(c.close for c in result.comparisons.values())
    assert (result.device, result.dtype) == (CPU, torch.float32)
    assert (result.tolerance.rtol, result.tolerance.atol) == (1.3e-6, 1e-5)
    assert all((c.rtol, c.atol) == (1.3e-6, 1e-5) for c in result.comparisons.values())
    expected_output = rnn(x, hx)[0]
    torch.testing.assert_close(result.reference[0], expected_output)
    result.assert_holds()


@pytest.mark.parametrize("claim", CLAIMS)
def test_claim_holds_for_lstm_with_projections_batch_first_unbatched(claim, sample):
    rnn = nn.LSTM(3, 4, num_layers=2, proj_size=2, batch_first=True)
    x, hx = sample(rnn, 5, None)
    result = claim(rnn, x, hx)
    assert result.holds is True
    assert [c.numel for c in result.comparisons.values()] == [5 * 2, 2 * 2, 2 * 4]


def test_num_layers_vs_stacked_holds_for_bidirectional(sample):
    rnn = nn.GRU(3, 4, num_layers=3, bidirectional=True)
    result = num_layers_vs_stacked(rnn, sample(rnn, 5, 2, hx=False)[0])
    assert result.holds is True
    assert result.comparisons["h_n"].numel == 6 * 2 * 4


def test_claim_uses_the_modules_dtype(sample):
    rnn = nn.LSTM(3, 4, num_layers=2, dtype=torch.float64)
    result = whole_vs_stepwise(rnn, sample(rnn, 5, 2, hx=False)[0])
    assert result.holds is True
    assert result.dtype == torch.float64
    assert (result.tolerance.rtol, result.tolerance.atol) == (1e-7, 1e-7)
    assert "cpu, float64: holds" in str(result)


def test_claim_runs_without_gradients(sample):
    rnn = nn.GRU(3, 4)
    result = whole_vs_stepwise(rnn, sample(rnn, 5, 2, hx=False)[0])
    assert not any(t.requires_grad for t in result.reference)


def test_str_of_a_result_that_holds(sample):
    rnn = nn.LSTM(3, 4)
    lines = str(whole_vs_stepwise(rnn, sample(rnn, 5, 2, hx=False)[0])).splitlines()
    assert lines[0] == "cpu, float32: holds"
    assert lines[1] == "  tolerance  rtol=1.3e-06, atol=1e-05 (torch.testing's default for float32)"
    assert [line.split()[0] for line in lines[2:]] == ["output", "h_n", "c_n"]


@pytest.mark.parametrize("claim", CLAIMS)
def test_a_false_claim_is_detected(claim, sample):
    rnn = OffWhenWholeLSTM(3, 4, num_layers=2)
    result = claim(rnn, sample(rnn, 5, 2, hx=False)[0])
    assert result.holds is False
    assert result.bitwise is False
    output = result.comparisons["output"]
    assert output.close is False
    assert output.mismatched == output.numel == 5 * 2 * 4
    assert output.max_abs_diff == pytest.approx(1e-3, rel=1e-3)
    assert result.comparisons["h_n"].close is True
    assert result.comparisons["c_n"].close is True
    assert "cpu, float32: FAILS" in str(result)

    with pytest.raises(AssertionError, match=r"(?s)^claim failed: .*FAILS.*output\s+NOT close: 40 / 40"):
        result.assert_holds()


@pytest.mark.parametrize("claim", CLAIMS)
def test_claim_rejects_dropout_in_train_mode(claim, sample):
    rnn = nn.LSTM(3, 4, num_layers=2, dropout=0.5)
    with pytest.raises(
        ValueError,
        match=r"^Expected rnn in eval\(\) mode or with dropout=0, but got dropout=0\.5 in train\(\) mode",
    ):
        claim(rnn, sample(rnn, 5, 2, hx=False)[0])


@pytest.mark.parametrize("claim", CLAIMS)
def test_claim_with_dropout_in_eval_mode(claim, sample):
    rnn = nn.LSTM(3, 4, num_layers=2, dropout=0.5).eval()
    result = claim(rnn, sample(rnn, 5, 2, hx=False)[0])
    assert result.holds is True


@pytest.mark.parametrize("claim", CLAIMS)
def test_claim_with_non_rnn_module(claim):
    with pytest.raises(
        TypeError,
        match=r"^Expected rnn to be an nn\.LSTM, nn\.GRU or nn\.RNN, but got an object of type Linear instead\.$",
    ):
        claim(nn.Linear(3, 4), torch.randn(5, 2, 3), None)


@pytest.mark.parametrize("claim", CLAIMS)
def test_claim_with_bad_hx(claim):
    with pytest.raises(ValueError, match=r"^Expected h_0 of shape \(2, 2, 4\)"):
        claim(nn.GRU(3, 4, num_layers=2), torch.randn(5, 2, 3), torch.zeros(1, 2, 4))


# --- on_each_device ------------------------------------------------------------------------------


@pytest.mark.parametrize("claim", CLAIMS)
def test_on_each_device_cpu_only(claim, sample):
    rnn = nn.GRU(3, 4, num_layers=2)
    results = on_each_device(claim, rnn, sample(rnn, 5, 2, hx=False)[0], devices=[CPU])
    assert len(results) == 1
    assert results[0].holds is True
    assert list(results[0].comparisons) == ["output", "h_n"]


@pytest.mark.parametrize("cls", CLASSES)
def test_on_each_device_compares_later_devices_with_the_first(cls, sample):
    rnn = cls(3, 4, num_layers=2)
    x, hx = sample(rnn, 5, 2)
    first, second = on_each_device(whole_vs_stepwise, rnn, x, hx, devices=[CPU, CPU])
    assert list(first.comparisons) == keys(cls)
    assert list(second.comparisons) == keys(cls) + [f"{k} vs cpu" for k in keys(cls)]
    for name in keys(cls):
        assert second.comparisons[f"{name} vs cpu"].equal is True, name
    assert second.holds is True


def test_on_each_device_reports_a_false_claim(sample):
    rnn = OffWhenWholeLSTM(3, 4)
    (result,) = on_each_device(whole_vs_stepwise, rnn, sample(rnn, 5, 2, hx=False)[0], devices=[CPU])
    assert result.holds is False


def test_on_each_device_does_not_move_or_change_the_module(sample):
    rnn = nn.LSTM(3, 4, num_layers=2)
    params = list(rnn.parameters())
    values = [p.detach().clone() for p in params]
    x, hx = sample(rnn, 5, 2)
    x_before = x.clone()
    on_each_device(num_layers_vs_stacked, rnn, x, hx, devices=[CPU, CPU])
    assert all(a is b for a, b in zip(rnn.parameters(), params, strict=True))
    assert all(p.device == CPU for p in rnn.parameters())
    assert all(torch.equal(p, v) for p, v in zip(rnn.parameters(), values, strict=True))
    assert torch.equal(x, x_before)
    assert rnn.training is True


def test_on_each_device_gives_the_claim_copies(sample):
    """A claim that changes the module it gets changes a copy, a fresh one per device."""
    rnn = nn.GRU(3, 4)
    before = {name: p.detach().clone() for name, p in rnn.named_parameters()}
    x, hx = sample(rnn)
    received = []

    def zeroing_claim(module, input, hx):
        received.append(module)
        with torch.no_grad():
            for param in module.parameters():
                param.zero_()
        return whole_vs_stepwise(module, input, hx)

    on_each_device(zeroing_claim, rnn, x, hx, devices=[CPU, CPU])
    assert len(received) == 2
    assert received[0] is not rnn
    assert received[1] is not rnn
    assert received[0] is not received[1]
    for name, param in rnn.named_parameters():
        assert torch.equal(param, before[name]), name


def test_on_each_device_defaults_to_each_device(monkeypatch, capsys, sample):
    monkeypatch.setattr(torch.cuda, "is_available", lambda: False)
    monkeypatch.delenv("LSTM_DEMO_REQUIRE_CUDA", raising=False)
    rnn = nn.RNN(3, 4)
    results = on_each_device(whole_vs_stepwise, rnn, sample(rnn, 5, 2, hx=False)[0])
    assert [r.device for r in results] == [CPU]
    assert "Running on: cpu.\nNo CUDA GPU" in capsys.readouterr().out


def test_on_each_device_no_devices():
    with pytest.raises(ValueError, match=r"^Expected at least one device, but got an empty list instead\.$"):
        on_each_device(whole_vs_stepwise, nn.LSTM(3, 4), torch.randn(5, 2, 3), devices=[])


def test_on_each_device_non_rnn_module():
    with pytest.raises(
        TypeError, match=r"^Expected rnn to be an nn\.LSTM, nn\.GRU or nn\.RNN, but got an object"
    ):
        on_each_device(whole_vs_stepwise, nn.Linear(3, 4), torch.randn(5, 2, 3), devices=[CPU])


def test_on_each_device_non_tensor_input():
    with pytest.raises(
        TypeError, match=r"^Expected input to be a torch\.Tensor, but got an object of type list instead\.$"
    ):
        on_each_device(whole_vs_stepwise, nn.GRU(3, 4), [[1.0, 2.0, 3.0]], devices=[CPU])


def test_on_each_device_hx_of_non_tensors():
    with pytest.raises(
        TypeError, match=r"^Expected h_0 to be a torch\.Tensor, but got an object of type list"
    ):
        on_each_device(whole_vs_stepwise, nn.LSTM(3, 4), torch.randn(5, 2, 3), ([0.0], [0.0]), devices=[CPU])


# --- claim_result, notes, max_abs_diff -----------------------------------------------------------


def test_claim_result_compares_each_pair():
    expected = torch.tensor([1.0, 2.0, 4.0])
    result = claim_result(
        "Three ways agree.",
        "cpu",
        torch.float32,
        {
            "same": (expected.clone(), expected),
            "close": (expected + 2**-22, expected),
            "off": (torch.tensor([1.0, 2.5, 4.0]), expected),
        },
    )
    assert result.claim == "Three ways agree."
    assert result.device == CPU
    assert isinstance(result.device, torch.device)
    assert result.dtype == torch.float32
    assert (result.tolerance.rtol, result.tolerance.atol) == (1.3e-6, 1e-5)
    assert list(result.comparisons) == ["same", "close", "off"]
    same, close, off = result.comparisons.values()
    assert (same.equal, same.close, same.max_abs_diff) == (True, True, 0.0)
    assert (close.equal, close.close, close.max_abs_diff) == (False, True, 2**-22)
    assert (off.equal, off.close, off.max_abs_diff, off.mismatched, off.where) == (False, False, 0.5, 1, (1,))
    assert all((c.rtol, c.atol) == (1.3e-6, 1e-5) for c in result.comparisons.values())
    assert result.max_abs_diff == 0.5
    assert result.holds is False
    assert result.bitwise is False
    assert result.notes == ()


def test_claim_result_reference_is_the_expected_tensors_detached():
    expected_a = torch.tensor([1.0, 2.0], requires_grad=True)
    expected_b = torch.tensor([[3.0]], requires_grad=True)
    actual_a, actual_b = torch.tensor([1.0, 2.0]), torch.tensor([[3.0]])
    result = claim_result(
        "A claim.", CPU, torch.float32, {"a": (actual_a, expected_a), "b": (actual_b, expected_b)}
    )
    assert len(result.reference) == 2
    assert torch.equal(result.reference[0], torch.tensor([1.0, 2.0]))
    assert torch.equal(result.reference[1], torch.tensor([[3.0]]))
    assert not any(t.requires_grad for t in result.reference)
    assert result.holds is True
    assert result.bitwise is True
    assert result.max_abs_diff == 0.0


def test_claim_result_float64_tolerance():
    one = torch.ones(3, dtype=torch.float64)
    result = claim_result("A claim.", "cpu", torch.float64, {"x": (one + 1e-8, one), "y": (one + 1e-6, one)})
    assert (result.tolerance.rtol, result.tolerance.atol) == (1e-7, 1e-7)
    assert result.comparisons["x"].close is True
    assert result.comparisons["y"].close is False  # within float32's tolerance, not float64's
    assert result.max_abs_diff == pytest.approx(1e-6, rel=1e-9)
    assert "cpu, float64: FAILS" in str(result)


def test_claim_result_notes_are_printed_last():
    t = torch.tensor([1.0, 2.0])
    result = claim_result(
        "A claim.", "cpu", torch.float32, {"output": (t, t)}, notes=("first finding", "second: 0.5")
    )
    assert result.notes == ("first finding", "second: 0.5")
    assert str(result).splitlines() == [
        "cpu, float32: holds",
        "  tolerance  rtol=1.3e-06, atol=1e-05 (torch.testing's default for float32)",
        "  output     bitwise equal (2 elements)",
        "  note: first finding",
        "  note: second: 0.5",
    ]


def test_str_of_a_failing_claim_result():
    result = claim_result(
        "A claim.",
        "cpu",
        torch.float32,
        {"a long label": (torch.tensor([1.0, 2.0]), torch.tensor([1.0, 2.5]))},
        notes=("why",),
    )
    assert str(result).splitlines() == [
        "cpu, float32: FAILS",
        "  tolerance     rtol=1.3e-06, atol=1e-05 (torch.testing's default for float32)",
        (
            "  a long label  NOT close: 1 / 2 (50.0%) elements outside the tolerance; "
            "max abs diff 0.5 at (1,), max rel diff 0.2"
        ),
        "  note: why",
    ]
    with pytest.raises(AssertionError, match=r"^claim failed: A claim\.\ncpu, float32: FAILS\n"):
        result.assert_holds()


def test_claim_result_max_abs_diff_is_the_greatest_of_any_comparison():
    zero = torch.zeros(4)
    result = claim_result(
        "A claim.",
        "cpu",
        torch.float32,
        {
            "small": (torch.tensor([0.0, 0.25, 0.0, 0.0]), zero),
            "large": (torch.tensor([0.0, 0.0, -0.75, 0.0]), zero),
            "none": (zero.clone(), zero),
        },
    )
    assert [c.max_abs_diff for c in result.comparisons.values()] == [0.25, 0.75, 0.0]
    assert result.max_abs_diff == 0.75


def test_max_abs_diff_without_comparisons_is_zero():
    result = ClaimResult("Nothing compared.", CPU, torch.float32, tolerance_for(CPU, torch.float32), {})
    assert result.max_abs_diff == 0.0
    assert result.notes == ()
    assert result.reference == ()


def test_str_of_a_result_without_comparisons():
    # max_abs_diff allows a result without comparisons; str() must too.
    result = ClaimResult("Nothing compared.", CPU, torch.float32, tolerance_for(CPU, torch.float32), {})
    lines = str(result).splitlines()
    assert len(lines) == 2
    assert lines[0].startswith("cpu, float32: ")
    assert lines[1] == "  tolerance  rtol=1.3e-06, atol=1e-05 (torch.testing's default for float32)"


def test_claim_result_mismatched_shapes():
    with pytest.raises(
        ValueError,
        match=r"^Expected tensors of the same shape, but got actual \(2,\) and expected \(3,\) instead\.$",
    ):
        claim_result("A claim.", "cpu", torch.float32, {"x": (torch.zeros(2), torch.zeros(3))})
