"""ports.gates: gate orders, the ONNX/Keras/Flax weight layouts against hand-indexed parameters, round trips, bad input."""

from __future__ import annotations

import numpy as np
import pytest
import torch
from torch import nn

from lstm_demo.ports import (
    GATE_ORDERS,
    flax_params,
    gru_from_onnx,
    keras_weights,
    lstm_from_flax_params,
    lstm_from_onnx,
    module_from_keras_weights,
    onnx_weights,
    reorder,
)

H = 4  # hidden size of every module here
IN = 3


def blocks(weight: torch.Tensor, *indices: int) -> np.ndarray:
    """Rows ``k*H:(k+1)*H`` of ``weight`` for each gate index ``k``, stacked in the order given."""
    return np.concatenate([weight.detach().numpy()[k * H : (k + 1) * H] for k in indices])


def same_parameters(a: nn.Module, b: nn.Module) -> bool:
    named_a, named_b = dict(a.named_parameters()), dict(b.named_parameters())
    return named_a.keys() == named_b.keys() and all(torch.equal(named_a[k], named_b[k]) for k in named_a)


# --- reorder -------------------------------------------------------------------------------------


def test_gate_orders_name_every_gate_once():
    assert set(GATE_ORDERS) == {"LSTM", "GRU"}
    for kind, gates in (("LSTM", {"i", "f", "g", "o"}), ("GRU", {"r", "z", "n"})):
        for framework, order in GATE_ORDERS[kind].items():
            assert sorted(order) == sorted(gates), (kind, framework)


@pytest.mark.parametrize(
    ("kind", "source", "target", "permutation"),
    [
        ("LSTM", "torch", "onnx", [0, 3, 1, 2]),  # i f g o -> i o f g
        ("LSTM", "onnx", "torch", [0, 2, 3, 1]),  # i o f g -> i f g o
        ("LSTM", "torch", "keras", [0, 1, 2, 3]),
        ("LSTM", "torch", "flax", [0, 1, 2, 3]),
        ("GRU", "torch", "onnx", [1, 0, 2]),  # r z n -> z r n
        ("GRU", "onnx", "torch", [1, 0, 2]),
        ("GRU", "torch", "keras", [1, 0, 2]),
    ],
)
def test_reorder_moves_whole_blocks(kind, source, target, permutation):
    gates = len(permutation)
    weight = np.arange(gates * 2 * 5).reshape(gates * 2, 5)  # blocks of 2 rows
    moved = reorder(weight, kind, source, target)
    expected = np.concatenate([weight[2 * k : 2 * k + 2] for k in permutation])
    assert np.array_equal(moved, expected)


def test_reorder_along_columns_and_round_trip():
    weight = np.arange(3 * 8).reshape(3, 8)  # four blocks of 2 columns
    moved = reorder(weight, "LSTM", "torch", "onnx", axis=1)
    assert np.array_equal(moved, weight[:, [0, 1, 6, 7, 2, 3, 4, 5]])
    assert np.array_equal(reorder(moved, "LSTM", "onnx", "torch", axis=1), weight)


# --- onnx_weights ------------------------------------------------------------------------------


def test_onnx_weights_are_torchs_rows_in_i_o_f_c_order():
    lstm = nn.LSTM(IN, H, num_layers=2, bidirectional=True)
    layers = onnx_weights(lstm)
    assert len(layers) == 2
    assert {k: v.shape for k, v in layers[0].items()} == {
        "W": (2, 4 * H, IN),
        "R": (2, 4 * H, H),
        "B": (2, 8 * H),
    }
    assert {k: v.shape for k, v in layers[1].items()} == {
        "W": (2, 4 * H, 2 * H),
        "R": (2, 4 * H, H),
        "B": (2, 8 * H),
    }
    for k, layer in enumerate(layers):
        for d, end in enumerate((f"_l{k}", f"_l{k}_reverse")):
            w_ih, w_hh = getattr(lstm, f"weight_ih{end}"), getattr(lstm, f"weight_hh{end}")
            b_ih, b_hh = getattr(lstm, f"bias_ih{end}"), getattr(lstm, f"bias_hh{end}")
            W, R, B = layer["W"][d], layer["R"][d], layer["B"][d]
            assert np.array_equal(W[0:H], w_ih.detach().numpy()[0:H])  # i
            assert np.array_equal(W[H : 2 * H], w_ih.detach().numpy()[3 * H : 4 * H])  # o
            assert np.array_equal(W[2 * H : 3 * H], w_ih.detach().numpy()[H : 2 * H])  # f
            assert np.array_equal(W[3 * H : 4 * H], w_ih.detach().numpy()[2 * H : 3 * H])  # c = g
            assert np.array_equal(R, blocks(w_hh, 0, 3, 1, 2))
            assert np.array_equal(B[: 4 * H], blocks(b_ih.unsqueeze(1), 0, 3, 1, 2)[:, 0])
            assert np.array_equal(B[4 * H :], blocks(b_hh.unsqueeze(1), 0, 3, 1, 2)[:, 0])


def test_onnx_weights_of_a_gru_are_z_r_h():
    gru = nn.GRU(IN, H)
    (layer,) = onnx_weights(gru)
    assert layer["W"].shape == (1, 3 * H, IN)
    assert np.array_equal(layer["W"][0], blocks(gru.weight_ih_l0, 1, 0, 2))
    assert np.array_equal(layer["R"][0], blocks(gru.weight_hh_l0, 1, 0, 2))
    bias = np.concatenate([blocks(b.unsqueeze(1), 1, 0, 2)[:, 0] for b in (gru.bias_ih_l0, gru.bias_hh_l0)])
    assert np.array_equal(layer["B"][0], bias)


@pytest.mark.parametrize("cls", [nn.LSTM, nn.GRU])
def test_onnx_weights_without_bias_give_zero_b(cls):
    module = cls(IN, H, bias=False, dtype=torch.float64)
    (layer,) = onnx_weights(module)
    gates = 4 if cls is nn.LSTM else 3
    assert layer["B"].shape == (1, 2 * gates * H)
    assert layer["B"].dtype == np.float64
    assert not layer["B"].any()


def test_onnx_weights_are_copies():
    lstm = nn.LSTM(IN, H)
    (layer,) = onnx_weights(lstm)
    layer["W"][:] = 0
    assert bool(lstm.weight_ih_l0.ne(0).all())


# --- from ONNX, bit for bit -----------------------------------------------------------------------


@pytest.mark.parametrize("bidirectional", [False, True], ids=["forward", "bidirectional"])
@pytest.mark.parametrize("bias", [True, False], ids=["bias", "no-bias"])
@pytest.mark.parametrize("dtype", [torch.float32, torch.float64], ids=["float32", "float64"])
def test_lstm_from_onnx_inverts_onnx_weights(bidirectional, bias, dtype):
    lstm = nn.LSTM(IN, H, bidirectional=bidirectional, bias=bias, dtype=dtype)
    (layer,) = onnx_weights(lstm)
    direction = "bidirectional" if bidirectional else "forward"
    back = lstm_from_onnx(layer["W"], layer["R"], layer["B"] if bias else None, direction=direction)
    assert same_parameters(back, lstm)
    assert (back.bias, back.bidirectional, back.batch_first) == (bias, bidirectional, False)
    assert back.weight_ih_l0.dtype == dtype


def test_lstm_from_onnx_draws_back_the_given_arrays():
    rng = np.random.default_rng(0)
    drawn = {
        "W": rng.standard_normal((2, 4 * H, IN)).astype(np.float32),
        "R": rng.standard_normal((2, 4 * H, H)).astype(np.float32),
        "B": rng.standard_normal((2, 8 * H)).astype(np.float32),
    }
    lstm = lstm_from_onnx(**drawn, direction="bidirectional", layout=1)
    assert lstm.batch_first
    # ONNX's o block (rows H:2H) is weight_ih's rows 3H:4H.
    assert torch.equal(lstm.weight_ih_l0_reverse[3 * H :], torch.from_numpy(drawn["W"][1, H : 2 * H]))
    assert torch.equal(
        lstm.bias_hh_l0[H : 2 * H], torch.from_numpy(drawn["B"][0, 4 * H + 2 * H : 4 * H + 3 * H])
    )
    back = onnx_weights(lstm)[0]
    assert all(np.array_equal(back[k], drawn[k]) for k in "WRB")


def test_lstm_from_onnx_takes_tensors():
    lstm = nn.LSTM(IN, H)
    (layer,) = onnx_weights(lstm)
    back = lstm_from_onnx(*(torch.from_numpy(layer[k]) for k in "WRB"))
    assert same_parameters(back, lstm)


def test_gru_from_onnx_inverts_onnx_weights():
    gru = nn.GRU(IN, H, bidirectional=True)
    (layer,) = onnx_weights(gru)
    back = gru_from_onnx(**layer, direction="bidirectional")
    assert isinstance(back, nn.GRU)
    assert same_parameters(back, gru)


# --- from ONNX: refusals ---------------------------------------------------------------------------


def lstm_arrays(dirs: int = 1, dtype=np.float32) -> dict[str, np.ndarray]:
    return {
        "W": np.ones((dirs, 4 * H, IN), dtype),
        "R": np.ones((dirs, 4 * H, H), dtype),
        "B": np.ones((dirs, 8 * H), dtype),
    }


def test_nonzero_peepholes_are_refused():
    with pytest.raises(
        ValueError, match=r"^Expected no peepholes \(P all zeros or None\), but got P with nonzero"
    ):
        lstm_from_onnx(**lstm_arrays(), P=np.full((1, 3 * H), 0.5, np.float32))


def test_zero_peepholes_are_accepted():
    lstm = lstm_from_onnx(**lstm_arrays(), P=np.zeros((1, 3 * H), np.float32))
    assert isinstance(lstm, nn.LSTM)
    assert bool(lstm.weight_ih_l0.eq(1).all())


def test_reverse_direction_says_to_flip():
    with pytest.raises(ValueError, match="reverse-only direction") as raised:
        lstm_from_onnx(**lstm_arrays(), direction="reverse")
    message = str(raised.value)
    assert message.startswith(
        'Expected direction "forward" or "bidirectional", but got "reverse" instead: nn.LSTM'
    )
    assert "torch.flip(x, [0])" in message
    assert "lstm_from_onnx(W, R, B)" in message
    with pytest.raises(ValueError, match=r"nn\.GRU has no reverse-only direction") as raised:
        gru_from_onnx(np.ones((1, 3 * H, IN)), np.ones((1, 3 * H, H)), direction="reverse")
    assert "gru_from_onnx(W, R, B)" in str(raised.value)


def test_unknown_direction_and_layout():
    with pytest.raises(
        ValueError, match=r"^Expected direction \"forward\" or \"bidirectional\", but got 'both' instead\.$"
    ):
        lstm_from_onnx(**lstm_arrays(), direction="both")
    with pytest.raises(
        ValueError, match=r"^Expected layout 0 \(time-major\) or 1 \(batch-major\), but got 2 instead\.$"
    ):
        lstm_from_onnx(**lstm_arrays(), layout=2)


def test_wrong_shapes_say_what_was_expected():
    arrays = lstm_arrays(dirs=2)
    with pytest.raises(
        ValueError, match=r"^Expected W of shape \[1, 16, 3\] \(num_directions=1 for \"forward\""
    ):
        lstm_from_onnx(**arrays)
    arrays = lstm_arrays()
    arrays["R"] = np.ones((1, 4 * H, H + 1), np.float32)
    with pytest.raises(ValueError, match=r"hidden_size=5 from R\), but got \[1, 16, 3\] instead\.$"):
        lstm_from_onnx(**arrays)
    arrays = lstm_arrays()
    arrays["B"] = np.ones((1, 4 * H), np.float32)  # one bias of two
    with pytest.raises(ValueError, match=r"^Expected B of shape \[1, 32\] .* but got \[1, 16\] instead\.$"):
        lstm_from_onnx(**arrays)
    arrays = lstm_arrays()
    arrays["W"] = np.ones((4 * H, IN), np.float32)
    with pytest.raises(
        ValueError,
        match=r"^Expected W to be a 3-D float32 or float64 array, but got an array of dtype float32 and shape \(16, 3\) instead\.$",
    ):
        lstm_from_onnx(**arrays)


def test_gru_shapes_count_three_gates():
    with pytest.raises(
        ValueError, match=r"^Expected W of shape \[1, 12, 3\] \(num_directions=1 for \"forward\", 3 gates"
    ):
        gru_from_onnx(np.ones((1, 4 * H, IN)), np.ones((1, 3 * H, H)))


def test_mixed_dtypes_are_refused():
    arrays = lstm_arrays()
    arrays["R"] = arrays["R"].astype(np.float64)
    with pytest.raises(
        ValueError,
        match=r"^Expected W, R and B of one dtype, but got float32, float64 and float32 instead\.$",
    ):
        lstm_from_onnx(**arrays)
    arrays = lstm_arrays()
    with pytest.raises(
        ValueError,
        match=r"^Expected W, R and B of one dtype, but got float32, float32 and float64 instead\.$",
    ):
        lstm_from_onnx(arrays["W"], arrays["R"], arrays["B"].astype(np.float64))


@pytest.mark.parametrize(
    "value", [np.ones((1, 4 * H, IN), np.int64), [[[1.0]]], "W"], ids=["int", "list", "str"]
)
def test_non_float_arrays_are_refused(value):
    arrays = lstm_arrays()
    arrays["W"] = value
    with pytest.raises(
        ValueError, match=r"^Expected W to be a 3-D float32 or float64 array, but got .* instead\.$"
    ) as raised:
        lstm_from_onnx(**arrays)
    if isinstance(value, np.ndarray):
        assert "dtype int64" in str(raised.value)
    else:
        assert f"an object of type {type(value).__name__}" in str(raised.value)


def test_gru_linear_before_reset_0_is_refused():
    with pytest.raises(
        ValueError,
        match=r"^Expected linear_before_reset=1 \(PyTorch's GRU: r \* \(W_hn h \+ b_hn\)\), but got 0 instead: .*Cho et al",
    ):
        gru_from_onnx(np.ones((1, 3 * H, IN)), np.ones((1, 3 * H, H)), linear_before_reset=0)


# --- modules the mappings refuse ----------------------------------------------------------------


@pytest.mark.parametrize("mapping", [onnx_weights, keras_weights, flax_params], ids=["onnx", "keras", "flax"])
def test_projection_is_refused(mapping):
    target = {onnx_weights: "ONNX", keras_weights: "Keras", flax_params: "Flax"}[mapping]
    with pytest.raises(
        ValueError,
        match=rf"^Expected an nn\.LSTM with proj_size=0 \({target}'s LSTM has no projection.*but got proj_size=2 instead\.$",
    ):
        mapping(nn.LSTM(IN, H, proj_size=2))


@pytest.mark.parametrize("mapping", [onnx_weights, keras_weights], ids=["onnx", "keras"])
@pytest.mark.parametrize("module", [nn.RNN(IN, H), nn.Linear(IN, H), "lstm"], ids=["rnn", "linear", "str"])
def test_non_lstm_modules_are_refused(mapping, module):
    with pytest.raises(
        TypeError,
        match=rf"^Expected module to be an nn\.LSTM or nn\.GRU, but got an object of type {type(module).__name__} instead\.$",
    ):
        mapping(module)


def test_flax_params_takes_only_an_lstm():
    with pytest.raises(TypeError, match=r"^Expected an nn\.LSTM, but got an object of type GRU instead\.$"):
        flax_params(nn.GRU(IN, H))


# --- Keras -------------------------------------------------------------------------------------


def test_keras_weights_of_an_lstm_are_transposes_and_one_bias():
    lstm = nn.LSTM(IN, H, num_layers=2)
    layers = keras_weights(lstm)
    assert [[w.shape for w in layer] for layer in layers] == [
        [(IN, 4 * H), (H, 4 * H), (4 * H,)],
        [(H, 4 * H), (H, 4 * H), (4 * H,)],
    ]
    for k, (kernel, recurrent, bias) in enumerate(layers):
        assert np.array_equal(kernel, getattr(lstm, f"weight_ih_l{k}").detach().numpy().T)
        assert np.array_equal(recurrent, getattr(lstm, f"weight_hh_l{k}").detach().numpy().T)
        total = getattr(lstm, f"bias_ih_l{k}") + getattr(lstm, f"bias_hh_l{k}")
        assert np.array_equal(bias, total.detach().numpy())
        assert kernel.flags.c_contiguous
        assert recurrent.flags.c_contiguous


def test_keras_weights_of_a_bidirectional_gru_are_z_r_h_forward_then_backward():
    gru = nn.GRU(IN, H, bidirectional=True)
    (arrays,) = keras_weights(gru)
    assert [a.shape for a in arrays] == [(IN, 3 * H), (H, 3 * H), (2, 3 * H)] * 2
    for d, end in enumerate(("_l0", "_l0_reverse")):
        kernel, recurrent, bias = arrays[3 * d : 3 * d + 3]
        assert np.array_equal(kernel, blocks(getattr(gru, f"weight_ih{end}"), 1, 0, 2).T)
        assert np.array_equal(recurrent, blocks(getattr(gru, f"weight_hh{end}"), 1, 0, 2).T)
        # Keras's z columns are PyTorch's rows H:2H.
        assert np.array_equal(kernel[:, :H], getattr(gru, f"weight_ih{end}").detach().numpy()[H : 2 * H].T)
        assert np.array_equal(bias[0], blocks(getattr(gru, f"bias_ih{end}").unsqueeze(1), 1, 0, 2)[:, 0])
        assert np.array_equal(bias[1], blocks(getattr(gru, f"bias_hh{end}").unsqueeze(1), 1, 0, 2)[:, 0])


def test_keras_weights_without_bias_have_no_bias():
    (arrays,) = keras_weights(nn.LSTM(IN, H, bias=False, bidirectional=True))
    assert [a.shape for a in arrays] == [(IN, 4 * H), (H, 4 * H)] * 2


@pytest.mark.parametrize(
    ("cls", "options"),
    [
        (nn.GRU, {"num_layers": 2}),
        (nn.GRU, {"bidirectional": True, "bias": False}),
        (nn.LSTM, {"num_layers": 2, "bidirectional": True, "bias": False}),
    ],
)
def test_module_from_keras_weights_round_trips_bit_for_bit(cls, options):
    module = cls(IN, H, dtype=torch.float64, **options)
    kind = cls.__name__
    back = module_from_keras_weights(
        kind,
        keras_weights(module),
        bidirectional=options.get("bidirectional", False),
        bias=options.get("bias", True),
    )
    assert type(back) is cls
    assert back.batch_first
    assert back.weight_ih_l0.dtype == torch.float64
    assert same_parameters(back, module)


def test_module_from_keras_weights_puts_an_lstms_bias_in_bias_ih():
    lstm = nn.LSTM(IN, H)
    back = module_from_keras_weights(
        "LSTM", keras_weights(lstm), bidirectional=False, bias=True, batch_first=False
    )
    assert not back.batch_first
    assert torch.equal(back.bias_ih_l0, (lstm.bias_ih_l0 + lstm.bias_hh_l0).detach())
    assert not back.bias_hh_l0.any()
    x = torch.randn(5, 2, IN)
    torch.testing.assert_close(back(x)[0], lstm(x)[0])


def test_module_from_keras_weights_refusals():
    arrays = keras_weights(nn.LSTM(IN, H))
    with pytest.raises(ValueError, match=r"^Expected kind 'LSTM' or 'GRU', but got 'RNN' instead\.$"):
        module_from_keras_weights("RNN", arrays, bidirectional=False, bias=True)
    with pytest.raises(
        ValueError,
        match=r"^Expected 6 arrays per layer \(bidirectional=True, bias=True\), but got \[3\] instead\.$",
    ):
        module_from_keras_weights("LSTM", arrays, bidirectional=True, bias=True)
    with pytest.raises(ValueError, match=r"^Expected 2 arrays per layer"):
        module_from_keras_weights("LSTM", [], bidirectional=False, bias=False)
    wrong = [[arrays[0][0], arrays[0][1][:, : 3 * H], arrays[0][2]]]  # recurrent kernel of a GRU's width
    with pytest.raises(
        ValueError,
        match=r"^Expected weight_hh_l0\.T of shape \[4, 16\] \(from the first layer\), but got \[4, 12\] instead\.$",
    ):
        module_from_keras_weights("LSTM", wrong, bidirectional=False, bias=True)


# --- Flax --------------------------------------------------------------------------------------


def test_flax_params_are_transposes_in_torchs_order_and_one_bias():
    lstm = nn.LSTM(IN, H, bidirectional=True)
    ((forward, backward),) = flax_params(lstm)
    for cell, end in ((forward, "_l0"), (backward, "_l0_reverse")):
        assert set(cell) == {"dense_i", "dense_h"}
        assert set(cell["dense_i"]) == {"kernel"}
        assert np.array_equal(cell["dense_i"]["kernel"], getattr(lstm, f"weight_ih{end}").detach().numpy().T)
        assert np.array_equal(cell["dense_h"]["kernel"], getattr(lstm, f"weight_hh{end}").detach().numpy().T)
        total = getattr(lstm, f"bias_ih{end}") + getattr(lstm, f"bias_hh{end}")
        assert np.array_equal(cell["dense_h"]["bias"], total.detach().numpy())


def test_flax_params_without_bias_have_a_zero_bias():
    ((cell,),) = flax_params(nn.LSTM(IN, H, bias=False))
    assert cell["dense_h"]["bias"].shape == (4 * H,)
    assert not cell["dense_h"]["bias"].any()


@pytest.mark.parametrize("options", [{}, {"num_layers": 2, "bidirectional": True}, {"bias": False}])
def test_lstm_from_flax_params_round_trips(options):
    lstm = nn.LSTM(IN, H, dtype=torch.float64, **options)
    back = lstm_from_flax_params(flax_params(lstm), batch_first=False)
    if lstm.bias:  # Flax's one bias is bias_ih + bias_hh
        assert torch.equal(back.bias_ih_l0, (lstm.bias_ih_l0 + lstm.bias_hh_l0).detach())
        assert not back.bias_hh_l0.any()
        for name, param in lstm.named_parameters():
            if name.startswith("weight"):
                assert torch.equal(getattr(back, name), param), name
        x = torch.randn(5, 2, IN, dtype=torch.float64)
        torch.testing.assert_close(back(x)[0], lstm(x)[0])
    else:
        assert not back.bias
        assert same_parameters(back, lstm)
    assert back.weight_ih_l0.dtype == torch.float64
    assert (back.num_layers, back.bidirectional) == (lstm.num_layers, lstm.bidirectional)


def test_lstm_from_flax_params_refusals():
    cell = flax_params(nn.LSTM(IN, H))[0][0]
    with pytest.raises(
        ValueError, match=r"^Expected one or two cells in every layer, but got \[\] instead\.$"
    ):
        lstm_from_flax_params([])
    with pytest.raises(
        ValueError, match=r"^Expected one or two cells in every layer, but got \[1, 2\] instead\.$"
    ):
        lstm_from_flax_params([(cell,), (cell, cell)])
    with pytest.raises(
        ValueError, match=r"^Expected one or two cells in every layer, but got \[3\] instead\.$"
    ):
        lstm_from_flax_params([(cell, cell, cell)])
    with pytest.raises(
        ValueError,
        match=r"^Expected weight_ih_l1\.T of shape \[4, 16\] \(from the first layer\), but got \[3, 16\] instead\.$",
    ):
        lstm_from_flax_params([(cell,), (cell,)])  # layer 2 reads H features, not IN
