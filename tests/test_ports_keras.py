"""ports.keras: to_keras's layers, keras_forward against the module, lstm_from_keras of Keras's own layers, refusals."""

from __future__ import annotations

import numpy as np
import pytest
import torch
from cases import BATCH, FLOAT64, IN, H, T, close
from torch import nn
from torch.nn.utils.rnn import pack_padded_sequence

from lstm_demo.ports import (
    BACKENDS,
    keras_forward,
    keras_forward_on,
    keras_weights,
    lstm_from_keras,
    require,
    to_keras,
)

# Keras 3's torch backend converts tensors with np.array(x), which NumPy 2 warns about; the values are right.
KERAS_NUMPY_WARNING = "ignore:__array__ implementation doesn't accept a copy keyword"


@pytest.fixture(scope="module")
def keras():
    return require("keras")  # on PyTorch's backend, unless KERAS_BACKEND says otherwise


def numpy(value) -> np.ndarray:
    return value.detach().cpu().numpy() if isinstance(value, torch.Tensor) else np.asarray(value)


# --- to_keras ------------------------------------------------------------------------------------


@pytest.mark.filterwarnings(KERAS_NUMPY_WARNING)
def test_to_keras_builds_one_layer_per_layer(keras):
    layers = to_keras(nn.LSTM(IN, H, num_layers=2, bias=False))
    assert [type(layer).__name__ for layer in layers] == ["LSTM", "LSTM"]
    for layer in layers:
        config = layer.get_config()
        assert config["units"] == H
        assert config["return_sequences"] is True
        assert config["return_state"] is True
        assert config["use_bias"] is False
        assert config["activation"] == "tanh"
        assert config["recurrent_activation"] == "sigmoid"
        assert layer.built
    assert [w.shape for w in layers[1].get_weights()] == [(H, 4 * H), (H, 4 * H)]


@pytest.mark.filterwarnings(KERAS_NUMPY_WARNING)
def test_to_keras_of_a_bidirectional_gru(keras):
    gru = nn.GRU(IN, H, num_layers=2, bidirectional=True, dtype=torch.float64)
    layers = to_keras(gru)
    assert [type(layer).__name__ for layer in layers] == ["Bidirectional", "Bidirectional"]
    for layer in layers:
        assert layer.get_config()["merge_mode"] == "concat"
        inner = layer.forward_layer.get_config()
        assert type(layer.forward_layer).__name__ == "GRU"
        assert inner["reset_after"] is True
        assert layer.forward_layer.dtype == "float64"
    weights = layers[1].get_weights()
    assert [w.shape for w in weights] == [(2 * H, 3 * H), (H, 3 * H), (2, 3 * H)] * 2
    for got, expected in zip(weights, keras_weights(gru)[1], strict=True):
        assert np.array_equal(np.asarray(got), expected)


def test_to_keras_refuses_before_importing(keras):
    with pytest.raises(
        TypeError,
        match=r"^Expected module to be an nn\.LSTM or nn\.GRU, but got an object of type RNN instead\.$",
    ):
        to_keras(nn.RNN(IN, H))
    with pytest.raises(ValueError, match=r"Keras's LSTM has no projection"):
        to_keras(nn.LSTM(IN, H, proj_size=2))


# --- keras_forward against the module ------------------------------------------------------------


@pytest.mark.parametrize(
    ("cls", "options", "with_hx"),
    [
        (nn.LSTM, {}, False),
        (nn.LSTM, {"batch_first": True}, True),
        (nn.LSTM, {"bidirectional": True}, True),
        (nn.LSTM, {"num_layers": 2, "bidirectional": True, "batch_first": True}, True),
        (nn.LSTM, {"num_layers": 3, "bias": False}, False),
        (nn.GRU, {}, False),
        (nn.GRU, {"num_layers": 2, "bidirectional": True}, True),
    ],
    ids=[
        "lstm",
        "batch-first-hx",
        "bidirectional-hx",
        "2-bidirectional-bf-hx",
        "3-no-bias",
        "gru",
        "gru-2-bidir-hx",
    ],
)
def test_keras_forward_computes_the_module(keras, cls, options, with_hx, sample):
    module = cls(IN, H, **options)
    x, hx = sample(module, seq_len=T, batch=BATCH, hx=with_hx)
    output, state = keras_forward(module, x, hx)
    with torch.no_grad():
        expected_output, expected_state = module(x, hx)
    assert output.shape == expected_output.shape
    close(output, expected_output)
    if cls is nn.LSTM:
        assert state[0].shape == expected_state[0].shape
        close(state[0], expected_state[0])
        close(state[1], expected_state[1])
    else:
        assert isinstance(state, torch.Tensor)
        close(state, expected_state)


def test_keras_forward_in_float64(keras, sample):
    lstm = nn.LSTM(IN, H, num_layers=2, bidirectional=True, dtype=torch.float64)
    x, hx = sample(lstm, seq_len=T, batch=BATCH)
    output, (h_n, c_n) = keras_forward(lstm, x, hx)
    assert output.dtype == torch.float64
    with torch.no_grad():
        expected, (eh, ec) = lstm(x, hx)
    close(output, expected, FLOAT64)
    close(h_n, eh, FLOAT64)
    close(c_n, ec, FLOAT64)


def test_keras_forward_rejects_a_packed_sequence(keras):
    lstm = nn.LSTM(IN, H)
    packed = pack_padded_sequence(torch.randn(T, BATCH, IN), [T, T - 1])
    with pytest.raises(
        TypeError,
        match=r"^Expected input to be a 3-D tensor \(Keras takes no PackedSequence\), but got a PackedSequence instead\.$",
    ):
        keras_forward(lstm, packed)


# --- lstm_from_keras of layers built in Keras -----------------------------------------------------


def drawn_layer(keras, kind: str, bidirectional: bool, features: int = IN, seed: int = 0, **options):
    """A Keras layer built in Keras with weights drawn in Keras's own layout."""
    rng = np.random.default_rng(seed)
    gates = 4 if kind == "LSTM" else 3
    bias_shape = (gates * H,) if kind == "LSTM" else (2, gates * H)
    arrays = []
    for _ in range(2 if bidirectional else 1):
        arrays += [
            (0.5 * rng.standard_normal(shape)).astype(np.float32)
            for shape in ((features, gates * H), (H, gates * H), bias_shape)
        ]
    layer = getattr(keras.layers, kind)(H, return_sequences=True, return_state=True, **options)
    if bidirectional:
        layer = keras.layers.Bidirectional(layer)
    layer.build((None, None, features))
    layer.set_weights(arrays)
    return layer, arrays


@pytest.mark.filterwarnings(KERAS_NUMPY_WARNING)
@pytest.mark.parametrize(
    ("kind", "bidirectional"), [("LSTM", False), ("LSTM", True), ("GRU", False), ("GRU", True)]
)
def test_lstm_from_keras_computes_kerass_own_layer(keras, kind, bidirectional):
    layer, arrays = (
        drawn_layer(keras, kind, bidirectional, reset_after=True)
        if kind == "GRU"
        else drawn_layer(keras, kind, bidirectional)
    )
    x = np.random.default_rng(5).standard_normal((BATCH, T, IN)).astype(np.float32)
    output, *finals = (keras.ops.convert_to_numpy(a) for a in layer(x))
    module = lstm_from_keras(layer)
    assert isinstance(module, nn.LSTM if kind == "LSTM" else nn.GRU)
    assert (module.batch_first, module.bidirectional, module.bias) == (True, bidirectional, True)
    # Keras's kernel is weight_ih.T: its columns are the rows of weight_ih (GRU gates z, r, h -> r, z, n).
    kernel = arrays[0]
    expected_rows = (
        kernel.T if kind == "LSTM" else np.concatenate([kernel.T[H : 2 * H], kernel.T[:H], kernel.T[2 * H :]])
    )
    assert np.array_equal(numpy(module.weight_ih_l0), expected_rows)
    with torch.no_grad():
        ours, state = module(torch.from_numpy(x))
    close(output, ours)
    per = 2 if kind == "LSTM" else 1
    h = np.stack(finals[0::per])  # a Bidirectional's states are h_f, c_f, h_b, c_b
    close(h, state[0] if kind == "LSTM" else state)
    if kind == "LSTM":
        close(np.stack(finals[1::per]), state[1])


@pytest.mark.filterwarnings(KERAS_NUMPY_WARNING)
def test_lstm_from_keras_of_a_stack(keras):
    first, _ = drawn_layer(keras, "LSTM", False, seed=1)
    second, _ = drawn_layer(keras, "LSTM", False, features=H, seed=2)
    x = np.random.default_rng(5).standard_normal((BATCH, T, IN)).astype(np.float32)
    y1 = first(x)[0]
    y2 = keras.ops.convert_to_numpy(second(y1)[0])
    module = lstm_from_keras([first, second], batch_first=False)
    assert (module.num_layers, module.batch_first) == (2, False)
    with torch.no_grad():
        ours, _ = module(torch.from_numpy(x).transpose(0, 1))
    close(y2, ours.transpose(0, 1))
    from_sequential = lstm_from_keras(keras.Sequential([first, second]))  # its layers are read
    assert all(
        torch.equal(a, b) for a, b in zip(from_sequential.parameters(), module.parameters(), strict=True)
    )


@pytest.mark.filterwarnings(KERAS_NUMPY_WARNING)
def test_lstm_from_keras_takes_a_layer_without_bias(keras):
    layer = keras.layers.LSTM(H, use_bias=False, return_sequences=True, return_state=True)
    layer.build((None, None, IN))
    module = lstm_from_keras(layer)
    assert not module.bias
    x = np.random.default_rng(5).standard_normal((BATCH, T, IN)).astype(np.float32)
    with torch.no_grad():
        close(keras.ops.convert_to_numpy(layer(x)[0]), module(torch.from_numpy(x))[0])


def built(keras, layer, features=IN):
    layer.build((None, None, features))
    return layer


@pytest.mark.parametrize(
    ("make", "match"),
    [
        (
            lambda k: k.layers.LSTM(H, recurrent_activation="hard_sigmoid"),
            r"^Expected recurrent_activation='sigmoid' \(what nn\.LSTM computes\), but got 'hard_sigmoid' instead\.$",
        ),
        (
            lambda k: k.layers.GRU(H, activation="relu"),
            r"^Expected activation='tanh' \(what nn\.GRU computes\), but got 'relu' instead\.$",
        ),
        (
            lambda k: k.layers.LSTM(H, go_backwards=True),
            r"^Expected go_backwards=False, but got go_backwards=True instead: nn\.LSTM has no such option\.$",
        ),
        (
            lambda k: k.layers.LSTM(H, stateful=True),
            r"^Expected stateful=False, but got stateful=True instead: nn\.LSTM has no such option\.$",
        ),
        (
            lambda k: k.layers.GRU(H, reset_after=False),
            r"^Expected reset_after=True \(PyTorch's GRU, r \* \(W_hn h \+ b_hn\)\), but got reset_after=False instead\.$",
        ),
        (
            lambda k: [k.layers.LSTM(H), k.layers.GRU(H)],
            r"^Expected layers of one kind and direction, but got \[\('GRU', False\), \('LSTM', False\)\] instead\.$",
        ),
        (
            lambda k: [k.layers.LSTM(H), k.layers.Bidirectional(k.layers.LSTM(H))],
            r"^Expected layers of one kind and direction, but got \[\('LSTM', False\), \('LSTM', True\)\] instead\.$",
        ),
        (
            lambda k: [k.layers.LSTM(H), k.layers.LSTM(H + 1)],
            r"^Expected the same units in every layer \(nn\.LSTM's hidden_size\), but got \[4, 5\] instead\.$",
        ),
        (
            lambda k: [k.layers.LSTM(H), k.layers.LSTM(H, use_bias=False)],
            r"^Expected use_bias the same in every layer, but got both True and False instead\.$",
        ),
        (
            lambda k: k.layers.Bidirectional(k.layers.LSTM(H), merge_mode="sum"),
            r"^Expected a Bidirectional with merge_mode='concat' \(nn\.LSTM's output\), but got 'sum' instead\.$",
        ),
        (lambda k: [], r"^Expected at least one Keras layer, but got none instead\.$"),
    ],
    ids=[
        "hard-sigmoid",
        "relu",
        "go-backwards",
        "stateful",
        "reset-before",
        "mixed-kinds",
        "mixed-directions",
        "units",
        "use-bias",
        "merge-sum",
        "none",
    ],
)
def test_lstm_from_keras_refuses_what_nn_lstm_does_not_compute(keras, make, match):
    with pytest.raises(ValueError, match=match):
        lstm_from_keras(make(keras))


def test_lstm_from_keras_refuses_other_layers(keras):
    with pytest.raises(
        TypeError,
        match=r"^Expected Keras LSTM, GRU or Bidirectional layers, but got an object of type Dense instead\.$",
    ):
        lstm_from_keras([keras.layers.LSTM(H), keras.layers.Dense(H)])
    with pytest.raises(TypeError, match=r"but got an object of type SimpleRNN instead\.$"):
        lstm_from_keras(keras.layers.SimpleRNN(H))


# --- another backend ---------------------------------------------------------------------------


def test_keras_forward_on_a_bad_backend():
    assert BACKENDS == ("torch", "jax")
    with pytest.raises(
        ValueError, match=r"^Expected backend among torch, jax, but got 'tensorflow' instead\.$"
    ):
        keras_forward_on("tensorflow", nn.LSTM(IN, H), torch.randn(T, BATCH, IN))
    with pytest.raises(
        TypeError, match=r"^Expected an nn\.LSTM or nn\.GRU, but got an object of type RNN instead\.$"
    ):
        keras_forward_on("jax", nn.RNN(IN, H), torch.randn(T, BATCH, IN))


def test_keras_forward_on_jax_computes_the_module(sample):
    lstm = nn.LSTM(IN, H, num_layers=2, bidirectional=True, batch_first=True)
    x, hx = sample(lstm, seq_len=T, batch=BATCH)
    (output, (h_n, c_n)), dtype = keras_forward_on("jax", lstm, x, hx)
    assert dtype == "float32"
    with torch.no_grad():
        expected, (eh, ec) = lstm(x, hx)
    assert output.shape == expected.shape
    close(output, expected)
    close(h_n, eh)
    close(c_n, ec)


def test_keras_forward_on_jax_without_x64_computes_float64_in_float32(sample):
    gru = nn.GRU(IN, H, dtype=torch.float64)
    x, hx = sample(gru, seq_len=T, batch=BATCH)
    (output, h_n), dtype = keras_forward_on("jax", gru, x, hx, x64=False)
    assert dtype == "float32"  # JAX without x64 computes the float64 layers in float32
    assert output.dtype == torch.float32
    with torch.no_grad():
        expected, eh = gru(x, hx)
    close(output, expected)  # float32's accuracy, not float64's
    close(h_n, eh)
    assert float((output.double() - expected).abs().max()) > 0


def test_lstm_from_keras_checks_a_bidirectionals_backward_layer_too(keras):
    # A backward layer configured unlike the forward one computes something no nn.LSTM does.
    layer = keras.layers.Bidirectional(
        keras.layers.LSTM(H),
        backward_layer=keras.layers.LSTM(H, go_backwards=True, recurrent_activation="hard_sigmoid"),
    )
    with pytest.raises(
        ValueError,
        match=r"^Expected a Bidirectional whose backward layer is configured as its forward layer "
        r"\(nn\.LSTM has one configuration for both directions\), but got different recurrent_activation instead\.$",
    ):
        lstm_from_keras(layer)
