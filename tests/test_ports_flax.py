"""ports.flax: to_flax's cells, flax_forward against the module, lstm_from_flax of Flax's own cells, the carry order."""

from __future__ import annotations

import numpy as np
import pytest
import torch
from cases import BATCH, FLOAT64, IN, H, T, close
from torch import nn
from torch.nn.utils.rnn import pack_padded_sequence

from lstm_demo.ports import flax_forward, flax_run, lstm_from_flax, require, to_flax


@pytest.fixture(scope="module")
def jax():
    return require("jax")


@pytest.fixture(scope="module")
def nnx(jax):
    return require("flax.nnx")


def numpy(tensor: torch.Tensor) -> np.ndarray:
    return tensor.detach().numpy()


def flax_cell(nnx, seed: int, features: int = IN, dtype: str = "float32"):
    """A cell with Flax's own initialisation, and a bias drawn (Flax's is zeros)."""
    cell = nnx.OptimizedLSTMCell(features, H, dtype=dtype, param_dtype=dtype, rngs=nnx.Rngs(seed))
    cell.dense_h.bias[...] = np.random.default_rng(seed).standard_normal(4 * H).astype(dtype)
    return cell


# --- to_flax -----------------------------------------------------------------------------------


def test_to_flax_holds_the_transposed_weights(nnx):
    lstm = nn.LSTM(IN, H, num_layers=2, bidirectional=True)
    layers = to_flax(lstm)
    assert [[type(c).__name__ for c in cells] for cells in layers] == [["OptimizedLSTMCell"] * 2] * 2
    for k, cells in enumerate(layers):
        for cell, end in zip(cells, (f"_l{k}", f"_l{k}_reverse"), strict=True):
            assert cell.in_features == (IN if k == 0 else 2 * H)
            assert cell.hidden_features == H
            assert np.array_equal(
                np.asarray(cell.dense_i.kernel[...]), numpy(getattr(lstm, f"weight_ih{end}")).T
            )
            assert np.array_equal(
                np.asarray(cell.dense_h.kernel[...]), numpy(getattr(lstm, f"weight_hh{end}")).T
            )
            total = getattr(lstm, f"bias_ih{end}") + getattr(lstm, f"bias_hh{end}")
            assert np.array_equal(np.asarray(cell.dense_h.bias[...]), numpy(total))
            assert cell.dense_i.kernel[...].dtype == np.float32


def test_to_flax_float64_needs_x64(jax):
    assert not jax.config.jax_enable_x64
    lstm = nn.LSTM(IN, H, dtype=torch.float64)
    with pytest.raises(
        ValueError,
        match=r"^Expected jax_enable_x64 on for a float64 nn\.LSTM, but got it off instead: JAX would compute in float32\. "
        r"Turn it on with jax\.config\.update\('jax_enable_x64', True\) or `with jax\.enable_x64\(True\):`\.$",
    ):
        to_flax(lstm)
    with jax.enable_x64(True):
        ((cell,),) = to_flax(lstm)
        assert cell.dense_h.kernel[...].dtype == np.float64


def test_to_flax_refuses_other_modules(nnx):
    with pytest.raises(TypeError, match=r"^Expected an nn\.LSTM, but got an object of type GRU instead\.$"):
        to_flax(nn.GRU(IN, H))
    with pytest.raises(ValueError, match=r"Flax's LSTM has no projection"):
        to_flax(nn.LSTM(IN, H, proj_size=2))


# --- flax_forward against the module -------------------------------------------------------------


@pytest.mark.parametrize(
    ("options", "with_hx"),
    [
        ({}, False),
        ({}, True),
        ({"num_layers": 2, "bidirectional": True, "batch_first": True}, True),
        ({"bias": False, "batch_first": True}, False),
        ({"num_layers": 3}, True),
    ],
    ids=["lstm", "hx", "2-bidirectional-bf-hx", "no-bias-bf", "3-layers-hx"],
)
def test_flax_forward_computes_the_module(nnx, options, with_hx, sample):
    lstm = nn.LSTM(IN, H, **options)
    x, hx = sample(lstm, seq_len=T, batch=BATCH, hx=with_hx)
    output, (h_n, c_n) = flax_forward(lstm, x, hx)
    with torch.no_grad():
        expected, (eh, ec) = lstm(x, hx)
    assert output.shape == expected.shape
    assert h_n.shape == eh.shape
    close(output, expected)
    close(h_n, eh)
    close(c_n, ec)


def test_flax_forward_of_a_float64_module_turns_x64_on_for_the_run(jax, sample):
    lstm = nn.LSTM(IN, H, bidirectional=True, dtype=torch.float64)
    x, hx = sample(lstm, seq_len=T, batch=BATCH)
    output, (h_n, c_n) = flax_forward(lstm, x, hx)
    assert output.dtype == h_n.dtype == c_n.dtype == torch.float64
    with torch.no_grad():
        expected, (eh, ec) = lstm(x, hx)
    close(output, expected, FLOAT64)
    close(h_n, eh, FLOAT64)
    close(c_n, ec, FLOAT64)
    assert not jax.config.jax_enable_x64  # and off again after


def test_flax_forward_refusals(nnx):
    lstm = nn.LSTM(IN, H)
    packed = pack_padded_sequence(torch.randn(T, BATCH, IN), [T, T - 1])
    with pytest.raises(
        TypeError,
        match=r"^Expected input to be a 3-D tensor \(Flax takes no PackedSequence\), but got a PackedSequence instead\.$",
    ):
        flax_forward(lstm, packed)
    with pytest.raises(TypeError, match=r"^Expected an nn\.LSTM, but got an object of type GRU instead\.$"):
        flax_forward(nn.GRU(IN, H), torch.randn(T, BATCH, IN))


# --- the carry order ---------------------------------------------------------------------------


def test_flaxs_carry_is_c_then_h(nnx):
    cell = flax_cell(nnx, seed=3)
    rng = np.random.default_rng(4)
    x = rng.standard_normal((BATCH, T, IN)).astype(np.float32)
    h0, c0 = (rng.standard_normal((BATCH, H)).astype(np.float32) for _ in range(2))
    carry, ys = (c0, h0), []
    for t in range(T):  # Flax's cell, called by hand
        carry, y = cell(carry, x[:, t])
        ys.append(np.asarray(y))
    c, h = carry
    output, ((run_h, run_c),) = flax_run([(cell,)], x, [(h0, c0)])  # flax_run takes and gives (h, c)
    close(output, np.stack(ys, axis=1))
    close(run_h, h)
    close(run_c, c)
    assert np.array_equal(np.asarray(h), ys[-1])  # the output of the last step is h, the carry's second
    # The same step in PyTorch: nn.LSTMCell's (h, c) is Flax's (c, h) swapped.
    torch_cell = nn.LSTMCell(IN, H)
    with torch.no_grad():
        torch_cell.weight_ih.copy_(torch.from_numpy(np.array(cell.dense_i.kernel[...]).T))
        torch_cell.weight_hh.copy_(torch.from_numpy(np.array(cell.dense_h.kernel[...]).T))
        torch_cell.bias_ih.copy_(torch.from_numpy(np.array(cell.dense_h.bias[...])))
        torch_cell.bias_hh.zero_()
        h1, c1 = torch_cell(torch.from_numpy(x[:, 0]), (torch.from_numpy(h0), torch.from_numpy(c0)))
    (c1_flax, h1_flax), _ = cell((c0, h0), x[:, 0])
    close(h1_flax, h1)
    close(c1_flax, c1)


# --- lstm_from_flax of Flax's own cells -----------------------------------------------------------


@pytest.mark.parametrize("bidirectional", [False, True], ids=["forward", "bidirectional"])
def test_lstm_from_flax_computes_flaxs_own_cells(nnx, bidirectional):
    first = tuple(flax_cell(nnx, seed=10 + d) for d in range(2 if bidirectional else 1))
    second = tuple(flax_cell(nnx, seed=20 + d, features=len(first) * H) for d in range(len(first)))
    x = np.random.default_rng(5).standard_normal((BATCH, T, IN)).astype(np.float32)
    # The layers run by hand: each cell over time (the backward one from the end), outputs concatenated.
    seq = x
    finals = []
    for cells in (first, second):
        outputs = []
        for d, cell in enumerate(cells):
            carry = (np.zeros((BATCH, H), np.float32),) * 2
            ys = [None] * T
            for t in reversed(range(T)) if d else range(T):
                carry, ys[t] = cell(carry, seq[:, t])
            finals.append(carry)
            outputs.append(np.stack([np.asarray(y) for y in ys], axis=1))
        seq = np.concatenate(outputs, axis=-1)
    lstm = lstm_from_flax([first, second])
    assert (lstm.num_layers, lstm.bidirectional, lstm.batch_first, lstm.bias) == (
        2,
        bidirectional,
        True,
        True,
    )
    assert np.array_equal(numpy(lstm.weight_ih_l1), np.asarray(second[0].dense_i.kernel[...]).T)
    assert np.array_equal(numpy(lstm.bias_ih_l0), np.asarray(first[0].dense_h.bias[...]))
    assert not lstm.bias_hh_l0.any()
    with torch.no_grad():
        output, (h_n, c_n) = lstm(torch.from_numpy(x))
    close(seq, output)
    close(np.stack([np.asarray(h) for _, h in finals]), h_n)
    close(np.stack([np.asarray(c) for c, _ in finals]), c_n)


def test_lstm_from_flax_of_one_cell_and_in_float64(jax, nnx):
    with jax.enable_x64(True):
        cell = flax_cell(nnx, seed=1, dtype="float64")
        lstm = lstm_from_flax(cell, batch_first=False)
        assert lstm.weight_ih_l0.dtype == torch.float64
        assert (lstm.num_layers, lstm.bidirectional, lstm.batch_first) == (1, False, False)
        x = np.random.default_rng(5).standard_normal((BATCH, T, IN))
        output, _ = flax_run([(cell,)], x)
        assert np.asarray(output).dtype == np.float64
    with torch.no_grad():
        ours, _ = lstm(torch.from_numpy(x).transpose(0, 1))
    close(output, ours.transpose(0, 1), FLOAT64)


def test_lstm_from_flax_refuses_other_gate_functions(jax, nnx):
    hard = nnx.OptimizedLSTMCell(IN, H, gate_fn=jax.nn.hard_sigmoid, rngs=nnx.Rngs(0))
    with pytest.raises(
        ValueError,
        match=r"^Expected gate_fn=sigmoid \(what nn\.LSTM computes\), but got hard_sigmoid instead\.$",
    ):
        lstm_from_flax(hard)
    relu = nnx.OptimizedLSTMCell(IN, H, activation_fn=jax.nn.relu, rngs=nnx.Rngs(0))
    with pytest.raises(
        ValueError, match=r"^Expected activation_fn=tanh \(what nn\.LSTM computes\), but got relu instead\.$"
    ):
        lstm_from_flax([(flax_cell(nnx, 0),), (relu,)])


def test_lstm_from_flax_refuses_what_is_not_a_cell(nnx):
    linear = nnx.Linear(IN, H, rngs=nnx.Rngs(0))
    with pytest.raises(
        TypeError, match=r"^Expected Flax nnx OptimizedLSTMCells, but got an object of type Linear instead\.$"
    ):
        lstm_from_flax([(linear,)])
    with pytest.raises(
        TypeError,
        match=r"^Expected Flax nnx OptimizedLSTMCells, but got an object of type LSTMCell instead\.$",
    ):
        lstm_from_flax([nnx.LSTMCell(IN, H, rngs=nnx.Rngs(0))])
    with pytest.raises(
        ValueError,
        match=r"^Expected weight_ih_l1\.T of shape \[4, 16\] \(from the first layer\), but got \[3, 16\] instead\.$",
    ):
        lstm_from_flax([flax_cell(nnx, 0), flax_cell(nnx, 1)])  # the second reads IN features, not H
