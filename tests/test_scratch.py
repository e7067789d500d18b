"""scratch: lstm_cell and scratch_lstm, the LSTM equations written out, against PyTorch's own modules."""

from __future__ import annotations

import math
import re

import pytest
import torch
from torch import nn
from torch.nn.utils.rnn import pack_padded_sequence

from lstm_demo.scratch import GATES, lstm_cell, peephole_lstm, scratch_gru, scratch_lstm

CONFIGS = [
    pytest.param({}, id="one-layer"),
    pytest.param({"num_layers": 3}, id="three-layers"),
    pytest.param({"bidirectional": True}, id="bidirectional"),
    pytest.param({"num_layers": 3, "bidirectional": True}, id="three-layers-bidirectional"),
    pytest.param({"proj_size": 2}, id="proj"),
    pytest.param(
        {"num_layers": 3, "bidirectional": True, "proj_size": 2}, id="three-layers-bidirectional-proj"
    ),
    pytest.param({"bias": False}, id="no-bias"),
    pytest.param(
        {"num_layers": 2, "bias": False, "bidirectional": True}, id="two-layers-bidirectional-no-bias"
    ),
    pytest.param({"batch_first": True}, id="batch-first"),
    pytest.param({"num_layers": 2, "batch_first": True, "proj_size": 3}, id="two-layers-batch-first-proj"),
    pytest.param({"num_layers": 3, "dropout": 0.5}, id="dropout-eval"),
]


def expected_shapes(lstm: nn.LSTM, seq_len: int, batch: int | None) -> tuple[tuple[int, ...], ...]:
    """Shapes of output, h_n and c_n as nn.LSTM's documentation gives them."""
    directions = 2 if lstm.bidirectional else 1
    out_size = lstm.proj_size or lstm.hidden_size
    rows = lstm.num_layers * directions
    if batch is None:
        return (seq_len, directions * out_size), (rows, out_size), (rows, lstm.hidden_size)
    output = (batch, seq_len) if lstm.batch_first else (seq_len, batch)
    return (*output, directions * out_size), (rows, batch, out_size), (rows, batch, lstm.hidden_size)


def assert_same_lstm_result(actual, expected) -> None:
    """``actual`` is structured as nn.LSTM's return value and close to ``expected``."""
    assert isinstance(actual, tuple)
    assert len(actual) == 2
    output, state = actual
    assert isinstance(output, torch.Tensor)
    assert isinstance(state, tuple)
    assert len(state) == 2
    torch.testing.assert_close(output, expected[0])
    torch.testing.assert_close(state[0], expected[1][0])
    torch.testing.assert_close(state[1], expected[1][1])


# --- scratch_lstm equals nn.LSTM -----------------------------------------------------------------


@pytest.mark.parametrize("config", CONFIGS)
@pytest.mark.parametrize("batch", [2, None], ids=["batched", "unbatched"])
@pytest.mark.parametrize("with_hx", [False, True], ids=["no-hx", "hx"])
def test_scratch_lstm_equals_nn_lstm(config, batch, with_hx, sample):
    lstm = nn.LSTM(3, 4, **config).eval()
    x, hx = sample(lstm, 5, batch, hx=with_hx)
    with torch.no_grad():
        expected = lstm(x, hx)
        actual = scratch_lstm(lstm, x, hx)
    assert_same_lstm_result(actual, expected)
    output, (h_n, c_n) = actual
    assert (output.shape, h_n.shape, c_n.shape) == expected_shapes(lstm, 5, batch)


@pytest.mark.parametrize("config", CONFIGS)
def test_scratch_lstm_equals_nn_lstm_in_float64(config, sample):
    lstm = nn.LSTM(3, 4, dtype=torch.float64, **config).eval()
    x, hx = sample(lstm, 6, 3)
    with torch.no_grad():
        actual = scratch_lstm(lstm, x, hx)
        expected = lstm(x, hx)
    assert actual[0].dtype == torch.float64
    assert actual[1][0].dtype == actual[1][1].dtype == torch.float64
    # assert_close's float64 default (rtol=1e-7, atol=1e-7) is far tighter than float32's.
    assert_same_lstm_result(actual, expected)


def test_scratch_lstm_shapes_by_hand(sample):
    lstm = nn.LSTM(3, 4, num_layers=2, bidirectional=True, proj_size=2, batch_first=True)
    x, hx = sample(lstm, 7, 5)
    output, (h_n, c_n) = scratch_lstm(lstm, x, hx)
    assert output.shape == (5, 7, 4)  # (batch, seq_len, 2 * proj_size)
    assert h_n.shape == (4, 5, 2)  # (num_layers * 2, batch, proj_size)
    assert c_n.shape == (4, 5, 4)  # (num_layers * 2, batch, hidden_size)


def test_scratch_lstm_does_not_call_forward(sample):
    class NoForward(nn.LSTM):
        def forward(self, input, hx=None):
            msg = "scratch_lstm called the module's forward"
            raise AssertionError(msg)

    lstm = NoForward(3, 4, num_layers=2)
    x, hx = sample(lstm)
    output, (h_n, c_n) = scratch_lstm(lstm, x, hx)
    assert_same_lstm_result((output, (h_n, c_n)), nn.LSTM.forward(lstm, x, hx))


def test_scratch_lstm_default_hx_is_zeros(sample):
    lstm = nn.LSTM(3, 4, num_layers=2, bidirectional=True, proj_size=2)
    x, _ = sample(lstm, hx=False)
    zeros = (torch.zeros(4, 2, 2), torch.zeros(4, 2, 4))
    without = scratch_lstm(lstm, x)
    with_zeros = scratch_lstm(lstm, x, zeros)
    assert torch.equal(without[0], with_zeros[0])
    assert torch.equal(without[1][0], with_zeros[1][0])
    assert torch.equal(without[1][1], with_zeros[1][1])


def test_scratch_lstm_hx_changes_the_result(sample):
    lstm = nn.LSTM(3, 4)
    x, hx = sample(lstm)
    with_hx, _ = scratch_lstm(lstm, x, hx)
    without, _ = scratch_lstm(lstm, x)
    assert not torch.allclose(with_hx, without)
    torch.testing.assert_close(with_hx, lstm(x, hx)[0])


def test_scratch_lstm_leaves_inputs_and_module_unchanged(sample):
    lstm = nn.LSTM(3, 4, num_layers=2, dropout=0.5).eval()
    x, hx = sample(lstm)
    before = [t.clone() for t in (x, *hx)]
    params = {name: p.detach().clone() for name, p in lstm.named_parameters()}
    scratch_lstm(lstm, x, hx)
    assert all(torch.equal(a, b) for a, b in zip((x, *hx), before, strict=True))
    for name, param in lstm.named_parameters():
        assert torch.equal(param, params[name]), name
    assert lstm.training is False


# --- dropout -------------------------------------------------------------------------------------


def test_scratch_lstm_train_mode_dropout_is_applied(sample):
    lstm = nn.LSTM(3, 4, num_layers=3, dropout=0.5)
    x, hx = sample(lstm, 6, 3)
    train_output, (train_h, train_c) = scratch_lstm(lstm.train(), x, hx)
    eval_output, (eval_h, eval_c) = scratch_lstm(lstm.eval(), x, hx)
    assert train_output.shape == eval_output.shape == (6, 3, 4)
    assert train_h.shape == eval_h.shape == (3, 3, 4)
    assert train_c.shape == eval_c.shape == (3, 3, 4)
    assert not torch.allclose(train_output, eval_output)
    # Dropout acts between layers only: the first layer's final state is the same either way.
    torch.testing.assert_close(train_h[0], eval_h[0])
    torch.testing.assert_close(train_c[0], eval_c[0])
    assert not torch.allclose(train_h[1:], eval_h[1:])


def test_scratch_lstm_train_mode_draws_new_masks_each_call(sample):
    lstm = nn.LSTM(3, 4, num_layers=2, dropout=0.5).train()
    x, _ = sample(lstm, 6, 3, hx=False)
    first, _ = scratch_lstm(lstm, x)
    second, _ = scratch_lstm(lstm, x)
    assert not torch.allclose(first, second)


def test_scratch_lstm_dropout_one_zeros_the_input_of_later_layers(sample):
    """With p=1 every mask is zero, so train mode is deterministic: compare with nn.LSTM itself."""
    lstm = nn.LSTM(3, 4, num_layers=3, dropout=1.0).train()
    x, hx = sample(lstm)
    output, (h_n, c_n) = scratch_lstm(lstm, x, hx)
    assert_same_lstm_result((output, (h_n, c_n)), lstm(x, hx))
    # By hand: the top layer read zeros, so it is one layer with layer 2's weights on a zero input.
    top = nn.LSTM(4, 4)
    with torch.no_grad():
        for name in ("weight_ih", "weight_hh", "bias_ih", "bias_hh"):
            getattr(top, f"{name}_l0").copy_(getattr(lstm, f"{name}_l2"))
    top_output, (top_h, top_c) = top(torch.zeros(5, 2, 4), (hx[0][2:], hx[1][2:]))
    torch.testing.assert_close(output, top_output)
    torch.testing.assert_close(h_n[2:], top_h)
    torch.testing.assert_close(c_n[2:], top_c)
    eval_output, _ = scratch_lstm(lstm.eval(), x, hx)
    assert not torch.allclose(eval_output, output)


def test_scratch_lstm_eval_mode_ignores_dropout(sample):
    lstm = nn.LSTM(3, 4, num_layers=2, dropout=0.9).eval()
    x, hx = sample(lstm)
    first = scratch_lstm(lstm, x, hx)
    second = scratch_lstm(lstm, x, hx)
    assert torch.equal(first[0], second[0])
    assert_same_lstm_result(first, lstm(x, hx))


# --- gradients -----------------------------------------------------------------------------------


@pytest.mark.parametrize(
    "config",
    [
        pytest.param({"num_layers": 2}, id="two-layers"),
        pytest.param({"num_layers": 2, "bidirectional": True, "proj_size": 2}, id="bidirectional-proj"),
        pytest.param({"batch_first": True, "bias": False}, id="batch-first-no-bias"),
    ],
)
def test_scratch_lstm_gradients_equal_nn_lstm(config, sample):
    lstm = nn.LSTM(3, 4, dtype=torch.float64, **config)
    x0, hx0 = sample(lstm, 5, 2)
    output_shape = expected_shapes(lstm, 5, 2)[0]
    weights = torch.randn(output_shape, dtype=torch.float64)

    def grads(forward):
        lstm.zero_grad()
        x = x0.clone().requires_grad_(True)
        h0, c0 = (t.clone().requires_grad_(True) for t in hx0)
        output, (h_n, c_n) = forward(x, (h0, c0))
        ((output * weights).sum() + (h_n**2).sum() + c_n.sum()).backward()
        found = {"input": x.grad, "h_0": h0.grad, "c_0": c0.grad}
        found.update({name: p.grad.clone() for name, p in lstm.named_parameters()})
        return found

    expected = grads(lstm)
    actual = grads(lambda x, hx: scratch_lstm(lstm, x, hx))
    assert sorted(actual) == sorted(expected)
    assert len(expected) == 3 + len(list(lstm.parameters()))
    for name, grad in expected.items():
        assert grad is not None, name
        assert grad.abs().sum() > 0, name
        torch.testing.assert_close(actual[name], grad, msg=lambda m, name=name: f"{name}: {m}")


# --- lstm_cell -----------------------------------------------------------------------------------


def test_gate_order():
    assert GATES == ("input", "forget", "cell", "output")


@pytest.mark.parametrize("dtype", [torch.float32, torch.float64], ids=["float32", "float64"])
def test_lstm_cell_equals_nn_lstmcell(dtype):
    cell = nn.LSTMCell(3, 4, dtype=dtype)
    x, h, c = (torch.randn(2, n, dtype=dtype) for n in (3, 4, 4))
    actual = lstm_cell(x, h, c, cell.weight_ih, cell.weight_hh, bias_ih=cell.bias_ih, bias_hh=cell.bias_hh)
    expected = cell(x, (h, c))
    assert isinstance(actual, tuple)
    assert len(actual) == 2
    assert actual[0].shape == actual[1].shape == (2, 4)
    torch.testing.assert_close(actual, expected)


def test_lstm_cell_without_biases_equals_nn_lstmcell_without_bias():
    cell = nn.LSTMCell(3, 4, bias=False)
    x, h, c = torch.randn(2, 3), torch.randn(2, 4), torch.randn(2, 4)
    torch.testing.assert_close(lstm_cell(x, h, c, cell.weight_ih, cell.weight_hh), cell(x, (h, c)))


def test_lstm_cell_adds_both_biases():
    cell = nn.LSTMCell(3, 4)
    x, h, c = torch.randn(2, 3), torch.randn(2, 4), torch.randn(2, 4)
    only_ih = lstm_cell(x, h, c, cell.weight_ih, cell.weight_hh, bias_ih=cell.bias_ih + cell.bias_hh)
    both = lstm_cell(x, h, c, cell.weight_ih, cell.weight_hh, bias_ih=cell.bias_ih, bias_hh=cell.bias_hh)
    torch.testing.assert_close(only_ih, both)
    torch.testing.assert_close(both, cell(x, (h, c)))
    one_bias = lstm_cell(x, h, c, cell.weight_ih, cell.weight_hh, bias_ih=cell.bias_ih)
    assert not torch.allclose(one_bias[1], both[1])


def test_lstm_cell_by_hand_with_zero_weights():
    """All weights and biases zero: every gate pre-activation is 0, so i = f = o = 1/2 and g = 0."""
    x, h, c = torch.randn(2, 3), torch.randn(2, 4), torch.tensor([[1.0, -2.0, 0.0, 4.0]] * 2)
    h_t, c_t = lstm_cell(x, h, c, torch.zeros(16, 3), torch.zeros(16, 4))
    expected_c = torch.tensor([[0.5, -1.0, 0.0, 2.0]] * 2)  # f * c + i * g = c / 2
    torch.testing.assert_close(c_t, expected_c)
    torch.testing.assert_close(h_t, 0.5 * torch.tanh(expected_c))  # o * tanh(c)


def test_lstm_cell_gate_blocks_by_hand():
    """A bias that saturates only the forget gate's block (rows H..2H) keeps c: blocks are i, f, g, o."""
    H = 4
    x, h, c = torch.randn(2, 3), torch.randn(2, H), torch.randn(2, H)
    bias = torch.zeros(4 * H)
    bias[H : 2 * H] = 100.0  # forget gate: sigmoid(100) == 1 in float32
    bias[0:H] = -100.0  # input gate: sigmoid(-100) ~ 0
    h_t, c_t = lstm_cell(x, h, c, torch.zeros(4 * H, 3), torch.zeros(4 * H, H), bias_ih=bias)
    torch.testing.assert_close(c_t, c)
    torch.testing.assert_close(h_t, 0.5 * torch.tanh(c))


def test_lstm_cell_with_projection_equals_one_step_of_nn_lstm():
    lstm = nn.LSTM(3, 4, proj_size=2)
    x, h, c = torch.randn(1, 5, 3), torch.randn(1, 5, 2), torch.randn(1, 5, 4)
    output, (h_n, c_n) = lstm(x, (h, c))
    h_t, c_t = lstm_cell(
        x[0],
        h[0],
        c[0],
        lstm.weight_ih_l0,
        lstm.weight_hh_l0,
        bias_ih=lstm.bias_ih_l0,
        bias_hh=lstm.bias_hh_l0,
        weight_hr=lstm.weight_hr_l0,
    )
    assert h_t.shape == (5, 2)  # proj_size
    assert c_t.shape == (5, 4)  # hidden_size
    torch.testing.assert_close(h_t, output[0])
    torch.testing.assert_close(h_t, h_n[0])
    torch.testing.assert_close(c_t, c_n[0])


def test_lstm_cell_projection_multiplies_h_by_weight_hr():
    cell = nn.LSTMCell(3, 4)
    x, h, c = torch.randn(2, 3), torch.randn(2, 4), torch.randn(2, 4)
    weight_hr = torch.randn(2, 4)
    weights = (cell.weight_ih, cell.weight_hh)
    biases = {"bias_ih": cell.bias_ih, "bias_hh": cell.bias_hh}
    h_proj, c_proj = lstm_cell(x, h, c, *weights, **biases, weight_hr=weight_hr)
    h_cell, c_cell = cell(x, (h, c))
    torch.testing.assert_close(c_proj, c_cell)
    torch.testing.assert_close(h_proj, h_cell @ weight_hr.T)


# --- errors --------------------------------------------------------------------------------------


def re_shape(shape: tuple[int, ...]) -> str:
    return str(shape).replace("(", r"\(").replace(")", r"\)")


def test_scratch_lstm_rejects_a_gru():
    with pytest.raises(TypeError, match=r"^Expected lstm to be an nn\.LSTM, but got an object of type GRU"):
        scratch_lstm(nn.GRU(3, 4), torch.randn(5, 2, 3))


def test_scratch_lstm_rejects_an_rnn():
    with pytest.raises(TypeError, match=r"^Expected lstm to be an nn\.LSTM, but got an object of type RNN"):
        scratch_lstm(nn.RNN(3, 4), torch.randn(5, 2, 3))


def test_scratch_lstm_rejects_a_non_rnn_module():
    # The message must not offer nn.GRU or nn.RNN: scratch_lstm refuses them too.
    with pytest.raises(
        TypeError, match=r"^Expected lstm to be an nn\.LSTM, but got an object of type Linear"
    ):
        scratch_lstm(nn.Linear(3, 4), torch.randn(5, 2, 3))


@pytest.mark.parametrize("shape", [(5,), (5, 2, 3, 1)], ids=["1-d", "4-d"])
def test_scratch_lstm_wrong_input_ndim(shape):
    with pytest.raises(
        ValueError,
        match=r"^Expected input of 3 dimensions \(seq_len, batch, features\) or 2 dimensions",
    ):
        scratch_lstm(nn.LSTM(3, 4), torch.randn(*shape))


def test_scratch_lstm_wrong_input_ndim_batch_first():
    with pytest.raises(ValueError, match=r"^Expected input of 3 dimensions \(batch, seq_len, features\)"):
        scratch_lstm(nn.LSTM(3, 4, batch_first=True), torch.randn(2, 5, 3, 1))


@pytest.mark.parametrize("shape", [(5, 2, 4), (5, 2)], ids=["batched", "unbatched"])
def test_scratch_lstm_wrong_input_features(shape):
    with pytest.raises(
        ValueError,
        match=r"^Expected input with 3 features in its last dimension \(the module's input_size\),",
    ):
        scratch_lstm(nn.LSTM(3, 4), torch.randn(*shape))


def test_scratch_lstm_empty_sequence():
    with pytest.raises(
        ValueError,
        match=r"^Expected at least one time step, but got shape \(0, 2, 3\) with seq_len 0",
    ):
        scratch_lstm(nn.LSTM(3, 4), torch.randn(0, 2, 3))


def test_scratch_lstm_non_tensor_input():
    with pytest.raises(
        TypeError, match=r"^Expected input to be a torch\.Tensor, but got an object of type list"
    ):
        scratch_lstm(nn.LSTM(3, 4), [[1.0, 2.0, 3.0]])


def test_scratch_lstm_packed_input():
    packed = pack_padded_sequence(torch.randn(5, 2, 3), [5, 3])
    with pytest.raises(
        TypeError, match=r"^Expected input to be a padded tensor, but got a PackedSequence instead"
    ):
        scratch_lstm(nn.LSTM(3, 4), packed)


def test_scratch_lstm_input_dtype_mismatch():
    with pytest.raises(
        ValueError,
        match=r"^Expected input of the module's dtype torch\.float32, but got torch\.float64",
    ):
        scratch_lstm(nn.LSTM(3, 4), torch.randn(5, 2, 3, dtype=torch.float64))


def test_scratch_lstm_hx_a_single_tensor():
    with pytest.raises(
        TypeError,
        match=r"^Expected hx to be a tuple \(h_0, c_0\) of two tensors for nn\.LSTM,",
    ):
        scratch_lstm(nn.LSTM(3, 4), torch.randn(5, 2, 3), torch.zeros(1, 2, 4))


def test_scratch_lstm_hx_of_three_tensors():
    hx = (torch.zeros(1, 2, 4),) * 3
    with pytest.raises(
        TypeError, match=r"^Expected hx to be a tuple \(h_0, c_0\) of two tensors for nn\.LSTM"
    ):
        scratch_lstm(nn.LSTM(3, 4), torch.randn(5, 2, 3), hx)


def test_scratch_lstm_h0_wrong_shape():
    hx = (torch.zeros(2, 2, 4), torch.zeros(2, 2, 4))
    with pytest.raises(
        ValueError,
        match=r"^Expected h_0 of shape \(1, 2, 4\) \(num_layers \* num_directions, batch, out_size\)",
    ):
        scratch_lstm(nn.LSTM(3, 4), torch.randn(5, 2, 3), hx)


def test_scratch_lstm_c0_of_proj_size():
    # With proj_size, c_0 keeps hidden_size features: (2, 2, 2) is h_0's shape, not c_0's.
    hx = (torch.zeros(2, 2, 2), torch.zeros(2, 2, 2))
    with pytest.raises(
        ValueError,
        match=r"^Expected c_0 of shape \(2, 2, 4\) \(num_layers \* num_directions, batch, hidden_size\)",
    ):
        scratch_lstm(nn.LSTM(3, 4, bidirectional=True, proj_size=2), torch.randn(5, 2, 3), hx)


def test_scratch_lstm_batched_hx_for_unbatched_input():
    hx = (torch.zeros(1, 1, 4), torch.zeros(1, 1, 4))
    with pytest.raises(
        ValueError,
        match=r"^Expected h_0 of shape \(1, 4\) \(num_layers \* num_directions, out_size\)",
    ):
        scratch_lstm(nn.LSTM(3, 4), torch.randn(5, 3), hx)


def test_scratch_lstm_hx_of_non_tensors():
    with pytest.raises(
        TypeError, match=r"^Expected c_0 to be a torch\.Tensor, but got an object of type list"
    ):
        scratch_lstm(nn.LSTM(3, 4), torch.randn(5, 2, 3), (torch.zeros(1, 2, 4), [0.0]))


def test_scratch_lstm_hx_dtype_mismatch():
    hx = (torch.zeros(1, 2, 4, dtype=torch.float64), torch.zeros(1, 2, 4))
    with pytest.raises(
        ValueError,
        match=r"^Expected h_0 of the module's dtype torch\.float32, but got torch\.float64",
    ):
        scratch_lstm(nn.LSTM(3, 4), torch.randn(5, 2, 3), hx)


# --- peephole_lstm --------------------------------------------------------------------------------


@pytest.mark.parametrize("batch_first", [False, True])
def test_peephole_lstm_without_peepholes_is_nn_lstm(batch_first, sample):
    torch.manual_seed(0)
    lstm = nn.LSTM(3, 4, batch_first=batch_first).double()
    x, hx = sample(lstm)
    torch.testing.assert_close(peephole_lstm(lstm, x, None, hx), lstm(x, hx))
    torch.testing.assert_close(peephole_lstm(lstm, x[0]), lstm(x[0]))  # unbatched


def test_peephole_lstm_one_step_by_hand():
    lstm = nn.LSTM(1, 1).double()
    with torch.no_grad():
        for p in lstm.parameters():
            p.zero_()
    x = torch.zeros(1, 1, 1, dtype=torch.float64)
    c_0 = torch.full((1, 1, 1), 2.0, dtype=torch.float64)
    peephole = torch.tensor([[0.5], [-1.0], [0.25]], dtype=torch.float64)
    output, (h_n, c_n) = peephole_lstm(lstm, x, peephole, (torch.zeros_like(c_0), c_0))
    # All weights zero: i = sigmoid(0.5 * 2), f = sigmoid(-1 * 2), g = tanh(0) = 0, o = sigmoid(0.25 * c_1).
    c_1 = 2.0 / (1 + math.exp(2.0))
    assert c_n.item() == pytest.approx(c_1, rel=1e-12)
    assert h_n.item() == pytest.approx(math.tanh(c_1) / (1 + math.exp(-0.25 * c_1)), rel=1e-12)
    assert torch.equal(output, h_n)


def test_lstm_cell_peepholes_read_c():
    torch.manual_seed(0)
    cell = nn.LSTMCell(3, 4)
    x, h, c = torch.randn(2, 3), torch.randn(2, 4), torch.randn(2, 4)
    weights = (cell.weight_ih, cell.weight_hh)
    biases = {"bias_ih": cell.bias_ih, "bias_hh": cell.bias_hh}
    zero = lstm_cell(x, h, c, *weights, **biases, peephole=torch.zeros(3, 4))
    torch.testing.assert_close(zero, cell(x, (h, c)))
    h_p, c_p = lstm_cell(x, h, c, *weights, **biases, peephole=torch.ones(3, 4))
    assert (h_p - zero[0]).abs().max() > 0.01
    assert (c_p - zero[1]).abs().max() > 0.01


@pytest.mark.parametrize(
    ("kwargs", "error", "message"),
    [
        ({"lstm": nn.GRU(3, 4)}, TypeError, "Expected lstm to be an nn.LSTM, but got an object of type GRU"),
        (
            {"lstm": nn.LSTM(3, 4, num_layers=2)},
            ValueError,
            (
                "Expected an nn.LSTM with one layer, one direction and no proj_size, but got num_layers=2, "
                "bidirectional=False, proj_size=0 instead."
            ),
        ),
        (
            {"lstm": nn.LSTM(3, 4, bidirectional=True)},
            ValueError,
            (
                "Expected an nn.LSTM with one layer, one direction and no proj_size, but got num_layers=1, "
                "bidirectional=True"
            ),
        ),
        (
            {"peephole": [0.5]},
            TypeError,
            "Expected peephole to be a tensor or None, but got an object of type list",
        ),
        (
            {"peephole": torch.zeros(4)},
            ValueError,
            "Expected peephole of shape (3, 4), but got a tensor of shape (4,)",
        ),
        (
            {"peephole": torch.zeros(3, 4, dtype=torch.float64)},
            ValueError,
            "Expected peephole on cpu in torch.float32, but got cpu in torch.float64 instead.",
        ),
        ({"input": torch.zeros(5, 2, 2)}, ValueError, "Expected input"),
    ],
    ids=["gru", "two-layers", "bidirectional", "peephole-list", "peephole-shape", "peephole-dtype", "input"],
)
def test_peephole_lstm_bad_input(kwargs, error, message):
    arguments = {"lstm": nn.LSTM(3, 4), "input": torch.zeros(5, 2, 3), "peephole": None, **kwargs}
    with pytest.raises(error, match="^" + re.escape(message)):
        peephole_lstm(**arguments)


# --- scratch_gru ----------------------------------------------------------------------------------


@pytest.mark.parametrize(
    "kwargs",
    [{}, {"num_layers": 2}, {"bidirectional": True, "num_layers": 2}, {"batch_first": True}, {"bias": False}],
    ids=["one-layer", "two-layers", "bidirectional", "batch-first", "no-bias"],
)
def test_scratch_gru_equals_nn_gru(kwargs, sample):
    torch.manual_seed(0)
    gru = nn.GRU(3, 4, **kwargs).double()
    x, hx = sample(gru)
    torch.testing.assert_close(scratch_gru(gru, x, hx), gru(x, hx))
    torch.testing.assert_close(scratch_gru(gru, x), gru(x))


def test_scratch_gru_unbatched():
    gru = nn.GRU(3, 4)
    x = torch.randn(5, 3)
    output, h_n = scratch_gru(gru, x)
    assert (output.shape, h_n.shape) == ((5, 4), (1, 4))
    torch.testing.assert_close((output, h_n), gru(x))


def test_scratch_gru_cho_form_one_step_by_hand():
    # One unit, h_0 = 1: PyTorch's n reads r * (W_hn h + b_hn), Cho's W_hn (r * h) + b_hn.
    gru = nn.GRU(1, 1).double()
    with torch.no_grad():
        gru.weight_ih_l0.zero_()
        gru.weight_hh_l0.copy_(torch.tensor([[0.0], [0.0], [2.0]]))  # W_hr, W_hz, W_hn
        gru.bias_ih_l0.zero_()
        gru.bias_hh_l0.copy_(torch.tensor([0.0, 0.0, 1.0]))  # b_hr, b_hz, b_hn
    x = torch.zeros(1, 1, 1, dtype=torch.float64)
    h_0 = torch.ones(1, 1, 1, dtype=torch.float64)
    # r = z = sigmoid(0) = 0.5; h_1 = 0.5 n + 0.5 h_0.
    _, after = scratch_gru(gru, x, h_0)
    _, before = scratch_gru(gru, x, h_0, reset_after=False)
    assert after.item() == pytest.approx(0.5 * math.tanh(0.5 * (2.0 + 1.0)) + 0.5, rel=1e-12)
    assert before.item() == pytest.approx(0.5 * math.tanh(2.0 * 0.5 + 1.0) + 0.5, rel=1e-12)
    torch.testing.assert_close(after, gru(x, h_0)[1])


@pytest.mark.parametrize(
    ("gru", "kwargs", "error", "message"),
    [
        (nn.LSTM(3, 4), {}, TypeError, "Expected gru to be an nn.GRU, but got an object of type LSTM"),
        (
            nn.GRU(3, 4),
            {"reset_after": 1},
            TypeError,
            "Expected reset_after to be a bool, but got an object of type int",
        ),
        (nn.GRU(3, 4), {"hx": (torch.zeros(1, 2, 4),)}, TypeError, "Expected hx"),
    ],
    ids=["lstm", "reset-after-int", "hx-tuple"],
)
def test_scratch_gru_bad_input(gru, kwargs, error, message):
    with pytest.raises(error, match="^" + re.escape(message)):
        scratch_gru(gru, torch.zeros(5, 2, 3), **kwargs)


def test_scratch_gru_wrong_input_features():
    with pytest.raises(ValueError, match=r"^Expected input"):
        scratch_gru(nn.GRU(3, 4), torch.zeros(5, 2, 2))
