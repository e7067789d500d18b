"""recover: invert LSTM steps to find a known input again, and refuse what cannot be inverted."""

from __future__ import annotations

import re

import pytest
import torch
from torch import nn

from lstm_demo.recover import InputRecovery, StepInversion, invert_step, recover_inputs

F64 = torch.float64


pytestmark = pytest.mark.usefixtures("one_thread")


def _cell(input_size: int = 3, hidden_size: int = 6, **kwargs) -> nn.LSTMCell:
    return nn.LSTMCell(input_size, hidden_size, dtype=F64, **kwargs)


def _state(*shape: int) -> tuple[torch.Tensor, torch.Tensor]:
    """A non-zero state: h in (-1, 1) as an LSTM's h is, c unbounded."""
    return torch.tanh(torch.randn(*shape, dtype=F64)), torch.randn(*shape, dtype=F64)


def _close(actual: torch.Tensor, expected: torch.Tensor, atol: float) -> bool:
    return actual.shape == expected.shape and bool((actual - expected).abs().max() <= atol)


# --------------------------------------------------------------------------------------------------
# invert_step
# --------------------------------------------------------------------------------------------------


def test_invert_step_recovers_a_batch():
    cell = _cell()
    x = torch.randn(4, 3, dtype=F64)
    with torch.no_grad():
        h, c = cell(x)
    result = invert_step(cell, h)
    assert isinstance(result, StepInversion)
    assert (tuple(result.input.shape), result.input.dtype) == ((4, 3), F64)
    assert _close(result.input, x, 1e-6)
    assert tuple(result.residual.shape) == (4,)
    assert result.max_residual < 1e-9
    assert _close(result.state[0], h, 1e-9)
    assert _close(result.state[1], c, 1e-9)
    assert not result.input.requires_grad


def test_invert_step_unbatched_target():
    cell = _cell()
    x = torch.randn(3, dtype=F64)
    with torch.no_grad():
        h, c = cell(x)
    assert tuple(h.shape) == (6,)
    result = invert_step(cell, h)
    assert tuple(result.input.shape) == (3,)
    assert tuple(result.residual.shape) == ()
    assert result.max_residual < 1e-9
    assert _close(result.input, x, 1e-6)
    assert _close(result.state[1], c, 1e-9)


def test_invert_step_target_with_grad():
    cell = _cell()
    x = torch.randn(2, 3, dtype=F64)
    h, _ = cell(x)
    assert h.requires_grad
    result = invert_step(cell, h)
    assert _close(result.input, x, 1e-6)


def test_invert_step_from_a_non_zero_state():
    cell = _cell()
    x = torch.randn(2, 3, dtype=F64)
    h0, c0 = _state(2, 6)
    with torch.no_grad():
        h, c = cell(x, (h0, c0))
    result = invert_step(cell, h, (h0, c0))
    assert _close(result.input, x, 1e-6)
    assert result.max_residual < 1e-9
    assert _close(result.state[1], c, 1e-9)
    # From zeros instead, the same target needs another input.
    from_zero = invert_step(cell, h)
    assert float((from_zero.input - x).abs().max()) > 1e-3


def test_invert_step_state_as_a_list():
    cell = _cell()
    x = torch.randn(2, 3, dtype=F64)
    h0, c0 = _state(2, 6)
    with torch.no_grad():
        h, _ = cell(x, (h0, c0))
    assert _close(invert_step(cell, h, [h0, c0]).input, x, 1e-6)


def test_invert_step_without_bias():
    cell = _cell(bias=False)
    assert cell.bias_ih is None
    x = torch.randn(3, 3, dtype=F64)
    with torch.no_grad():
        h, c = cell(x)
    result = invert_step(cell, h)
    assert _close(result.input, x, 1e-6)
    assert result.max_residual < 1e-9
    assert _close(result.state[1], c, 1e-9)


def test_invert_step_lstm_without_bias():
    lstm = nn.LSTM(3, 6, bias=False, dtype=F64)
    x = torch.randn(1, 2, 3, dtype=F64)
    with torch.no_grad():
        out, _ = lstm(x)
    result = invert_step(lstm, out[0])
    assert _close(result.input, x[0], 1e-6)
    assert result.max_residual < 1e-9


def test_invert_step_lstm_and_cell_agree():
    cell = _cell()
    lstm = nn.LSTM(3, 6, dtype=F64)
    with torch.no_grad():
        for name in ("weight_ih", "weight_hh", "bias_ih", "bias_hh"):
            getattr(lstm, f"{name}_l0").copy_(getattr(cell, name))
    x = torch.randn(1, 2, 3, dtype=F64)
    h0, c0 = _state(2, 6)
    with torch.no_grad():
        out, (h_n, c_n) = lstm(x, (h0.unsqueeze(0), c0.unsqueeze(0)))
    target = out[0]
    assert torch.equal(target, h_n[0])
    from_lstm = invert_step(lstm, target, (h0, c0))
    from_cell = invert_step(cell, target, (h0, c0))
    assert _close(from_lstm.input, x[0], 1e-6)
    assert from_lstm.max_residual < 1e-9
    assert _close(from_lstm.state[1], c_n[0], 1e-9)
    assert torch.equal(from_lstm.input, from_cell.input)
    assert torch.equal(from_lstm.residual, from_cell.residual)
    assert torch.equal(from_lstm.state[0], from_cell.state[0])
    assert torch.equal(from_lstm.state[1], from_cell.state[1])


def test_invert_step_float32_module_uses_float64_weights():
    cell32 = nn.LSTMCell(3, 6)
    cell64 = nn.LSTMCell(3, 6, dtype=F64)
    with torch.no_grad():
        for name, param in cell64.named_parameters():
            param.copy_(getattr(cell32, name))
    x = torch.randn(2, 3, dtype=F64)
    with torch.no_grad():
        h64, _ = cell64(x)
    result = invert_step(cell32, h64)
    assert cell32.weight_ih.dtype == torch.float32  # untouched
    assert result.input.dtype == F64
    assert result.residual.dtype == F64
    # Float32 arithmetic could not get within 1e-9 of a float64 target.
    assert result.max_residual < 1e-9
    assert _close(result.input, x, 1e-6)


def test_invert_step_float32_target():
    cell = _cell()
    x = torch.randn(2, 3, dtype=F64)
    with torch.no_grad():
        h, _ = cell(x)
    result = invert_step(cell, h.float())
    assert result.input.dtype == F64
    # The target itself is rounded to float32: the fit is as good as that rounding.
    assert result.max_residual < 1e-7
    assert _close(result.input, x, 1e-5)


def test_invert_step_reports_an_unreachable_target():
    cell = _cell(input_size=2, hidden_size=6)
    x = torch.randn(2, 2, dtype=F64)
    with torch.no_grad():
        h, _ = cell(x)
    target = h.clone()
    target[0, 3] += 1e-2  # 6 equations, 2 unknowns: no input gives this
    result = invert_step(cell, target)
    assert tuple(result.residual.shape) == (2,)
    assert result.residual[0].item() > 1e-4
    assert result.residual[1].item() < 1e-9  # the untouched row is still matched
    assert result.max_residual > 1e-4
    assert _close(result.input[1], x[1], 1e-6)


def test_invert_step_max_iter_one_still_returns():
    cell = _cell()
    x = torch.randn(2, 3, dtype=F64)
    with torch.no_grad():
        h, _ = cell(x)
    result = invert_step(cell, h, max_iter=1)
    assert tuple(result.input.shape) == (2, 3)
    assert bool(torch.isfinite(result.input).all())
    assert result.max_residual < float((h.abs() + 1).max())


# ---- invert_step: what it refuses --------------------------------------------------------------


@pytest.mark.parametrize(
    ("module", "kind"), [(nn.GRU(3, 6), "GRU"), (nn.Linear(3, 6), "Linear"), (nn.GRUCell(3, 6), "GRUCell")]
)
def test_invert_step_not_an_lstm(module: nn.Module, kind: str):
    message = f"Expected lstm to be an nn.LSTM or nn.LSTMCell, but got an object of type {kind} instead."
    with pytest.raises(TypeError, match=f"^{re.escape(message)}"):
        invert_step(module, torch.zeros(6))


@pytest.mark.parametrize(
    ("kwargs", "setting"),
    [
        ({"num_layers": 2}, "num_layers=2"),
        ({"bidirectional": True}, "bidirectional=True"),
        ({"proj_size": 2}, "proj_size=2"),
        ({"num_layers": 3, "bidirectional": True}, "num_layers=3, bidirectional=True"),
    ],
)
def test_invert_step_lstm_it_cannot_invert(kwargs: dict, setting: str):
    lstm = nn.LSTM(3, 6, **kwargs)
    message = (
        "Expected a one-layer, unidirectional nn.LSTM without projection, but got "
        f"{setting} instead: invert one layer at a time (see split_layers)."
    )
    with pytest.raises(ValueError, match=f"^{re.escape(message)}"):
        invert_step(lstm, torch.zeros(6))


@pytest.mark.parametrize(
    ("target", "described"),
    [
        ([0.1] * 6, "an object of type list"),
        (None, "an object of type NoneType"),
        (0.5, "an object of type float"),
    ],
)
def test_invert_step_target_not_a_tensor(target, described: str):
    message = f"Expected target to be a torch.Tensor, but got {described} instead."
    with pytest.raises(TypeError, match=f"^{re.escape(message)}"):
        invert_step(_cell(), target)


@pytest.mark.parametrize("shape", [(), (1, 2, 6), (2, 5), (7,), (2, 6, 1)])
def test_invert_step_target_of_the_wrong_shape(shape: tuple[int, ...]):
    message = f"Expected target of shape (batch, 6) or (6,), but got {shape} instead."
    with pytest.raises(ValueError, match=f"^{re.escape(message)}"):
        invert_step(_cell(), torch.zeros(shape, dtype=F64))


@pytest.mark.parametrize(
    ("value", "index", "printed"),
    [(1.0, (1, 2), "1"), (1.5, (0, 5), "1.5"), (-1.0, (1, 0), "-1"), (-3.25, (0, 0), "-3.25")],
)
def test_invert_step_target_out_of_range(value: float, index: tuple[int, int], printed: str):
    target = torch.full((2, 6), 0.5, dtype=F64)
    target[index] = value
    message = (
        "Expected every element of target in (-1, 1), the range of h = o * tanh(c), "
        f"but got {printed} at {index} instead."
    )
    with pytest.raises(ValueError, match=f"^{re.escape(message)}"):
        invert_step(_cell(), target)


def test_invert_step_unbatched_target_out_of_range():
    target = torch.zeros(6)
    target[4] = -1.0
    with pytest.raises(ValueError, match=re.escape("but got -1 at (4,) instead.")):
        invert_step(_cell(), target)


def test_invert_step_target_just_inside_the_range_is_accepted():
    cell = _cell()
    target = torch.full((6,), 0.999, dtype=F64)
    result = invert_step(cell, target, max_iter=2)
    assert tuple(result.input.shape) == (3,)


@pytest.mark.parametrize("dtype", [torch.int64, torch.int32, torch.bool])
def test_invert_step_integer_target(dtype: torch.dtype):
    message = f"Expected target of a floating-point dtype, but got {dtype} instead."
    with pytest.raises(TypeError, match=f"^{re.escape(message)}"):
        invert_step(_cell(), torch.zeros(2, 6, dtype=dtype))


@pytest.mark.parametrize(
    ("state", "described"),
    [
        (torch.zeros(2, 6, dtype=F64), "a tensor of shape (2, 6)"),
        ((torch.zeros(2, 6, dtype=F64),), "an object of type tuple"),
        ((torch.zeros(2, 6),) * 3, "an object of type tuple"),
        ({"h": 0, "c": 0}, "an object of type dict"),
    ],
)
def test_invert_step_state_not_a_pair(state, described: str):
    message = f"Expected state to be a tuple (h, c) of two tensors, but got {described} instead."
    with pytest.raises(TypeError, match=f"^{re.escape(message)}"):
        invert_step(_cell(), torch.zeros(2, 6, dtype=F64), state)


def test_invert_step_state_element_not_a_tensor():
    h0 = torch.zeros(2, 6, dtype=F64)
    message = "Expected state[1] (c) to be a torch.Tensor, but got an object of type float instead."
    with pytest.raises(TypeError, match=f"^{re.escape(message)}"):
        invert_step(_cell(), torch.zeros(2, 6, dtype=F64), (h0, 0.0))


@pytest.mark.parametrize(
    ("h_shape", "c_shape", "which", "got"),
    [
        ((1, 6), (2, 6), "state[0] (h)", (1, 6)),
        ((2, 6), (6,), "state[1] (c)", (6,)),
        ((1, 2, 6), (1, 2, 6), "state[0] (h)", (1, 2, 6)),
    ],
)
def test_invert_step_state_of_the_wrong_shape(h_shape, c_shape, which: str, got: tuple[int, ...]):
    state = (torch.zeros(h_shape, dtype=F64), torch.zeros(c_shape, dtype=F64))
    message = f"Expected {which} of shape (2, 6), but got {got} instead."
    with pytest.raises(ValueError, match=f"^{re.escape(message)}"):
        invert_step(_cell(), torch.zeros(2, 6, dtype=F64), state)


def test_invert_step_integer_state():
    state = (torch.zeros(2, 6, dtype=torch.int64), torch.zeros(2, 6, dtype=F64))
    message = "Expected state[0] (h) of a floating-point dtype, but got torch.int64 instead."
    with pytest.raises(TypeError, match=f"^{re.escape(message)}"):
        invert_step(_cell(), torch.zeros(2, 6, dtype=F64), state)


@pytest.mark.parametrize(
    ("max_iter", "shown"), [(0, "0"), (-1, "-1"), (2.5, "2.5"), (True, "True"), ("5", "'5'")]
)
def test_invert_step_bad_max_iter(max_iter, shown: str):
    message = f"Expected max_iter to be a positive int, but got {shown} instead."
    with pytest.raises(ValueError, match=f"^{re.escape(message)}"):
        invert_step(_cell(), torch.zeros(2, 6, dtype=F64), max_iter=max_iter)


def test_invert_step_target_on_another_device():
    message = "Expected target on the module's device cpu, but got meta instead."
    with pytest.raises(ValueError, match=f"^{re.escape(message)}"):
        invert_step(_cell(), torch.zeros(2, 6, dtype=F64, device="meta"))
    # The same target on the CPU is fine.
    assert tuple(invert_step(_cell(), torch.zeros(2, 6, dtype=F64)).input.shape) == (2, 3)


def test_invert_step_state_on_another_device():
    state = (torch.zeros(2, 6, dtype=F64), torch.zeros(2, 6, dtype=F64, device="meta"))
    message = "Expected state[1] (c) on the module's device cpu, but got meta instead."
    with pytest.raises(ValueError, match=f"^{re.escape(message)}"):
        invert_step(_cell(), torch.zeros(2, 6, dtype=F64), state)


# --------------------------------------------------------------------------------------------------
# recover_inputs
# --------------------------------------------------------------------------------------------------


@pytest.mark.parametrize("batch_first", [False, True])
def test_recover_inputs_batched(batch_first: bool):
    lstm = nn.LSTM(3, 6, batch_first=batch_first, dtype=F64)
    x = torch.randn((2, 4, 3) if batch_first else (4, 2, 3), dtype=F64)
    with torch.no_grad():
        out, (h_n, c_n) = lstm(x)
    found = recover_inputs(lstm, out)
    assert isinstance(found, InputRecovery)
    assert (tuple(found.input.shape), found.input.dtype) == (tuple(x.shape), F64)
    assert _close(found.input, x, 1e-6)
    assert tuple(found.residuals.shape) == (4, 2)
    assert found.max_residual < 1e-9
    assert tuple(found.state[0].shape) == tuple(found.state[1].shape) == (1, 2, 6)
    assert _close(found.state[0], h_n, 1e-9)
    assert _close(found.state[1], c_n, 1e-9)


@pytest.mark.parametrize("batch_first", [False, True])
def test_recover_inputs_with_hx(batch_first: bool):
    lstm = nn.LSTM(3, 6, batch_first=batch_first, dtype=F64)
    x = torch.randn((2, 4, 3) if batch_first else (4, 2, 3), dtype=F64)
    hx = _state(1, 2, 6)
    with torch.no_grad():
        out, (h_n, c_n) = lstm(x, hx)
    found = recover_inputs(lstm, out, hx)
    assert _close(found.input, x, 1e-6)
    assert found.max_residual < 1e-9
    assert _close(found.state[0], h_n, 1e-9)
    assert _close(found.state[1], c_n, 1e-9)


def test_recover_inputs_unbatched():
    lstm = nn.LSTM(3, 6, dtype=F64)
    x = torch.randn(4, 3, dtype=F64)
    with torch.no_grad():
        out, (h_n, c_n) = lstm(x)
    assert tuple(out.shape) == (4, 6)
    found = recover_inputs(lstm, out)
    assert tuple(found.input.shape) == (4, 3)
    assert _close(found.input, x, 1e-6)
    assert tuple(found.residuals.shape) == (4, 1)
    assert found.max_residual < 1e-9
    assert tuple(found.state[0].shape) == (1, 6)
    assert _close(found.state[0], h_n, 1e-9)
    assert _close(found.state[1], c_n, 1e-9)


def test_recover_inputs_unbatched_with_hx():
    lstm = nn.LSTM(3, 6, batch_first=True, dtype=F64)  # batch_first does not apply to unbatched input
    x = torch.randn(4, 3, dtype=F64)
    hx = _state(1, 6)
    with torch.no_grad():
        out, (h_n, c_n) = lstm(x, hx)
    found = recover_inputs(lstm, out, hx)
    assert _close(found.input, x, 1e-6)
    assert _close(found.state[0], h_n, 1e-9)
    assert _close(found.state[1], c_n, 1e-9)


def test_recover_inputs_float32_module():
    lstm = nn.LSTM(3, 6)
    x = torch.randn(4, 2, 3)
    with torch.no_grad():
        out, _ = lstm(x)
    found = recover_inputs(lstm, out, max_iter=50)
    assert found.input.dtype == F64
    # float32 outputs: matched to float32 rounding, not better.
    assert found.max_residual < 1e-6
    assert _close(found.input, x.double(), 1e-4)


def test_recover_inputs_passes_max_iter_on():
    lstm = nn.LSTM(3, 6, dtype=F64)
    out = torch.zeros(2, 1, 6, dtype=F64)
    with pytest.raises(
        ValueError, match=re.escape("Expected max_iter to be a positive int, but got 0 instead.")
    ):
        recover_inputs(lstm, out, max_iter=0)


def test_recover_inputs_str():
    lstm = nn.LSTM(3, 6, dtype=F64)
    with torch.no_grad():
        out, _ = lstm(torch.randn(4, 2, 3, dtype=F64))
    text = str(recover_inputs(lstm, out))
    assert text.startswith("recovered input of shape (4, 2, 3); greatest |h - target| per step: ")
    steps = text.split("per step: ")[1].split(";", maxsplit=1)[0].split(", ")
    assert len(steps) == 4
    assert all(float(s) < 1e-9 for s in steps)
    assert float(text.split("; overall ")[1]) < 1e-9


def test_input_recovery_str_by_hand():
    found = InputRecovery(
        input=torch.zeros(2, 3, 4),
        residuals=torch.tensor([[1e-3, 2e-3], [5e-6, 0.0], [0.0, 0.0]]),
        state=(torch.zeros(1, 2, 5), torch.zeros(1, 2, 5)),
    )
    assert found.max_residual == pytest.approx(2e-3)
    assert str(found) == (
        "recovered input of shape (2, 3, 4); greatest |h - target| per step: 0.002, 5e-06, 0; overall 0.002"
    )


# ---- recover_inputs: what it refuses -----------------------------------------------------------


@pytest.mark.parametrize(
    ("module", "kind"), [(nn.LSTMCell(3, 6), "LSTMCell"), (nn.GRU(3, 6), "GRU"), (nn.Linear(3, 6), "Linear")]
)
def test_recover_inputs_not_an_lstm(module: nn.Module, kind: str):
    message = f"Expected lstm to be an nn.LSTM, but got an object of type {kind} instead."
    with pytest.raises(TypeError, match=f"^{re.escape(message)}"):
        recover_inputs(module, torch.zeros(4, 2, 6))


@pytest.mark.parametrize(
    ("kwargs", "setting"),
    [
        ({"num_layers": 2}, "num_layers=2"),
        ({"bidirectional": True}, "bidirectional=True"),
        ({"proj_size": 2}, "proj_size=2"),
    ],
)
def test_recover_inputs_lstm_it_cannot_invert(kwargs: dict, setting: str):
    with pytest.raises(ValueError, match=f"but got {re.escape(setting)} instead: invert one layer at a time"):
        recover_inputs(nn.LSTM(3, 6, **kwargs), torch.zeros(4, 2, 6))


def test_recover_inputs_output_not_a_tensor():
    message = "Expected output to be a torch.Tensor, but got an object of type tuple instead."
    lstm = nn.LSTM(3, 6)
    with pytest.raises(TypeError, match=f"^{re.escape(message)}"):
        recover_inputs(lstm, lstm(torch.zeros(4, 2, 3)))  # the whole (output, (h_n, c_n)) pair


@pytest.mark.parametrize(
    ("batch_first", "shape", "layout"),
    [
        (False, (4, 2, 5), "(seq_len, batch, hidden_size)"),
        (True, (2, 4, 5), "(batch, seq_len, hidden_size)"),
        (False, (1, 4, 2, 6), "(seq_len, batch, hidden_size)"),
        (True, (6,), "(batch, seq_len, hidden_size)"),
        (False, (4, 7), "(seq_len, batch, hidden_size)"),
    ],
)
def test_recover_inputs_output_of_the_wrong_shape(batch_first: bool, shape: tuple[int, ...], layout: str):
    message = (
        f"Expected output of shape {layout} or (seq_len, hidden_size) with hidden_size=6, "
        f"but got {shape} instead."
    )
    with pytest.raises(ValueError, match=f"^{re.escape(message)}"):
        recover_inputs(nn.LSTM(3, 6, batch_first=batch_first), torch.zeros(shape))


def test_recover_inputs_output_out_of_range():
    out = torch.zeros(4, 2, 6)
    out[2, 1, 3] = 1.0
    # Step 2 is the first to fail; the message gives the index within that step.
    with pytest.raises(ValueError, match=re.escape("but got 1 at (1, 3) instead.")):
        recover_inputs(nn.LSTM(3, 6), out)


@pytest.mark.parametrize(
    "output_shape", [(0, 2, 6), (0, 6)], ids=["no time steps", "no time steps, unbatched"]
)
def test_recover_inputs_empty_sequence(output_shape: tuple[int, ...]):
    # An output with no time steps has no input to recover: it should be refused like any other bad
    # shape, with a ValueError that names seq_len (not torch.stack's "expects a non-empty TensorList").
    with pytest.raises(ValueError, match="seq_len"):
        recover_inputs(nn.LSTM(3, 6), torch.zeros(output_shape))


@pytest.mark.parametrize(
    ("hx", "described"),
    [
        (torch.zeros(1, 2, 6), "a tensor of shape (1, 2, 6)"),
        ((torch.zeros(1, 2, 6),), "an object of type tuple"),
        ([torch.zeros(1, 2, 6)] * 3, "an object of type list"),
    ],
)
def test_recover_inputs_hx_not_a_pair(hx, described: str):
    message = f"Expected hx to be a tuple (h_0, c_0) of two tensors, but got {described} instead."
    with pytest.raises(TypeError, match=f"^{re.escape(message)}"):
        recover_inputs(nn.LSTM(3, 6), torch.zeros(4, 2, 6), hx)


@pytest.mark.parametrize(
    ("output_shape", "hx_shapes", "message"),
    [
        ((4, 2, 6), ((2, 6), (1, 2, 6)), "Expected h_0 of shape (1, 2, 6), but got (2, 6) instead."),
        ((4, 2, 6), ((1, 2, 6), (1, 1, 6)), "Expected c_0 of shape (1, 2, 6), but got (1, 1, 6) instead."),
        ((4, 2, 6), ((2, 2, 6), (2, 2, 6)), "Expected h_0 of shape (1, 2, 6), but got (2, 2, 6) instead."),
        ((4, 6), ((1, 1, 6), (1, 1, 6)), "Expected h_0 of shape (1, 6), but got (1, 1, 6) instead."),
    ],
)
def test_recover_inputs_hx_of_the_wrong_shape(output_shape, hx_shapes, message: str):
    hx = tuple(torch.zeros(shape) for shape in hx_shapes)
    with pytest.raises(ValueError, match=f"^{re.escape(message)}"):
        recover_inputs(nn.LSTM(3, 6), torch.zeros(output_shape), hx)


def test_recover_inputs_hx_of_the_wrong_shape_batch_first():
    # batch_first lays out the output, never hx: (1, batch, hidden) either way.
    hx = (torch.zeros(2, 1, 6), torch.zeros(1, 2, 6))
    with pytest.raises(
        ValueError, match=re.escape("Expected h_0 of shape (1, 2, 6), but got (2, 1, 6) instead.")
    ):
        recover_inputs(nn.LSTM(3, 6, batch_first=True), torch.zeros(2, 4, 6), hx)


def test_recover_inputs_hx_element_not_a_tensor():
    # A wrong type is a TypeError everywhere else (invert_step's state, recover_inputs' output and hx).
    hx = (0.0, torch.zeros(1, 2, 6))
    with pytest.raises(TypeError, match=re.escape("h_0")):
        recover_inputs(nn.LSTM(3, 6), torch.zeros(4, 2, 6), hx)


def test_recover_inputs_integer_hx():
    hx = (torch.zeros(1, 2, 6, dtype=torch.int64), torch.zeros(1, 2, 6))
    with pytest.raises(TypeError, match=re.escape("of a floating-point dtype, but got torch.int64 instead.")):
        recover_inputs(nn.LSTM(3, 6), torch.zeros(4, 2, 6), hx)


def test_recover_inputs_empty_batch():
    with pytest.raises(
        ValueError,
        match=r"at least one time step \(seq_len >= 1\) and one sequence, but got shape \(4, 0, 6\)",
    ):
        recover_inputs(nn.LSTM(3, 6), torch.zeros(4, 0, 6))
