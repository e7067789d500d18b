"""split_layers, run_stacked and stack_layers: a multi-layer module taken apart and put back together."""

from __future__ import annotations

import re

import pytest
import torch
from cases import CLASSES, MODULES, pairwise
from torch import nn

from lstm_demo import run_stacked, split_directions, split_layers, stack_layers

# (batch_first, batch): batch None is unbatched (seq_len, features) input.
LAYOUTS = [
    pytest.param((False, 2), id="seq-first"),
    pytest.param((True, 2), id="batch-first"),
    pytest.param((False, None), id="unbatched"),
]


def layer_params(rnn: nn.RNNBase, k: int) -> dict[str, torch.Tensor]:
    """Layer ``k``'s parameters of ``rnn``, renamed as layer 0 (``weight_ih_l2_reverse`` -> ``weight_ih_l0_reverse``)."""
    pattern = re.compile(rf"^(\w+)_l{k}(_reverse)?$")
    params = {}
    for name, param in rnn.named_parameters():
        match = pattern.match(name)
        if match:
            params[f"{match[1]}_l0{match[2] or ''}"] = param
    return params


# --- split_layers -------------------------------------------------------------------------------


@pytest.mark.parametrize("module", MODULES)
@pytest.mark.parametrize("bidirectional", [False, True], ids=["uni", "bi"])
def test_split_layers_copies_each_layers_parameters_bitwise(module, bidirectional):
    cls, kwargs = module
    rnn = cls(3, 4, num_layers=3, bidirectional=bidirectional, **kwargs)
    layers = split_layers(rnn)
    assert len(layers) == 3
    for k, layer in enumerate(layers):
        expected = layer_params(rnn, k)
        got = dict(layer.named_parameters())
        assert sorted(got) == sorted(expected)
        for name, param in got.items():
            assert torch.equal(param, expected[name]), name
            assert param.data_ptr() != expected[name].data_ptr(), name


def test_split_layers_parameter_names_by_hand():
    layers = split_layers(nn.LSTM(3, 4, num_layers=2, proj_size=2, bidirectional=True))
    assert sorted(n for n, _ in layers[1].named_parameters()) == sorted(
        f"{kind}_l0{suffix}"
        for kind in ("weight_ih", "weight_hh", "bias_ih", "bias_hh", "weight_hr")
        for suffix in ("", "_reverse")
    )


@pytest.mark.parametrize("cls", CLASSES)
def test_split_layers_parameters_are_copies(cls):
    rnn = cls(3, 4, num_layers=2)
    before = {name: p.detach().clone() for name, p in rnn.named_parameters()}
    with torch.no_grad():
        for layer in split_layers(rnn):
            for param in layer.parameters():
                param.fill_(7.0)
    for name, param in rnn.named_parameters():
        assert torch.equal(param, before[name]), name


@pytest.mark.parametrize(
    ("cls", "kwargs", "input_sizes"),
    [
        pytest.param(nn.LSTM, {}, [3, 4, 4], id="lstm"),
        pytest.param(nn.LSTM, {"bidirectional": True}, [3, 8, 8], id="lstm-bi"),
        pytest.param(nn.LSTM, {"proj_size": 2}, [3, 2, 2], id="lstm-proj"),
        pytest.param(nn.LSTM, {"proj_size": 2, "bidirectional": True}, [3, 4, 4], id="lstm-proj-bi"),
        pytest.param(nn.GRU, {"bidirectional": True}, [3, 8, 8], id="gru-bi"),
        pytest.param(nn.RNN, {}, [3, 4, 4], id="rnn"),
    ],
)
def test_split_layers_input_size_chain(cls, kwargs, input_sizes):
    layers = split_layers(cls(3, 4, num_layers=3, **kwargs))
    assert [layer.input_size for layer in layers] == input_sizes


@pytest.mark.parametrize("cls", CLASSES)
def test_split_layers_copies_configuration(cls):
    extra = {"proj_size": 2} if cls is nn.LSTM else {}
    if cls is nn.RNN:
        extra = {"nonlinearity": "relu"}
    rnn = cls(
        3, 4, num_layers=2, bias=False, batch_first=True, bidirectional=True, dtype=torch.float64, **extra
    )
    rnn.eval()
    for layer in split_layers(rnn):
        assert type(layer) is cls
        assert layer.num_layers == 1
        assert layer.hidden_size == 4
        assert layer.bias is False
        assert layer.batch_first is True
        assert layer.bidirectional is True
        assert layer.training is False
        assert layer.dropout == 0
        assert all(p.dtype == torch.float64 for p in layer.parameters())
        if cls is nn.LSTM:
            assert layer.proj_size == 2
        if cls is nn.RNN:
            assert layer.nonlinearity == "relu"


def test_split_layers_keeps_training_mode():
    assert [layer.training for layer in split_layers(nn.GRU(3, 4, num_layers=2))] == [True, True]


def test_split_layers_keeps_requires_grad():
    rnn = nn.GRU(3, 4, num_layers=2)
    rnn.weight_hh_l1.requires_grad_(False)
    layers = split_layers(rnn)
    assert layers[1].weight_hh_l0.requires_grad is False
    assert layers[1].weight_ih_l0.requires_grad is True
    assert layers[0].weight_hh_l0.requires_grad is True


def test_split_layers_of_a_subclass_gives_the_base_class():
    class MyLSTM(nn.LSTM):
        pass

    layers = split_layers(MyLSTM(3, 4, num_layers=2))
    assert [type(layer) for layer in layers] == [nn.LSTM, nn.LSTM]


def test_split_layers_repr():
    assert repr(split_layers(nn.LSTM(3, 4, num_layers=2, bidirectional=True))) == (
        "[LSTM(3, 4, bidirectional=True), LSTM(8, 4, bidirectional=True)]"
    )


def test_split_layers_non_rnn_module():
    with pytest.raises(
        TypeError,
        match=r"^Expected rnn to be an nn\.LSTM, nn\.GRU or nn\.RNN, but got an object of type Linear",
    ):
        split_layers(nn.Linear(3, 4))


# --- run_stacked --------------------------------------------------------------------------------


BIDIRECTIONAL = [pytest.param(False, id="uni"), pytest.param(True, id="bi")]
WITH_HX = [pytest.param(False, id="no-hx"), pytest.param(True, id="hx")]


# Every pair of values of any two factors (cases.pairwise), not all 60 combinations.
@pytest.mark.parametrize(
    ("module", "bidirectional", "layout", "with_hx"), pairwise(MODULES, BIDIRECTIONAL, LAYOUTS, WITH_HX)
)
def test_run_stacked_equals_forward(module, bidirectional, layout, with_hx, sample, assert_same_result):
    (cls, kwargs), (batch_first, batch) = module, layout
    rnn = cls(3, 4, num_layers=3, bidirectional=bidirectional, batch_first=batch_first, **kwargs)
    x, hx = sample(rnn, 5, batch, hx=with_hx)
    assert_same_result(run_stacked(split_layers(rnn), x, hx), rnn(x, hx), is_lstm=cls is nn.LSTM)


@pytest.mark.parametrize("cls", CLASSES)
def test_run_stacked_equals_forward_without_bias(cls, sample, assert_same_result):
    rnn = cls(3, 4, num_layers=2, bias=False)
    x, hx = sample(rnn, 4, 2)
    assert_same_result(run_stacked(split_layers(rnn), x, hx), rnn(x, hx), is_lstm=cls is nn.LSTM)


@pytest.mark.parametrize("cls", CLASSES)
def test_run_stacked_equals_forward_in_float64(cls, sample, assert_same_result):
    rnn = cls(3, 4, num_layers=2, bidirectional=True, dtype=torch.float64)
    x, hx = sample(rnn, 4, 2)
    result = run_stacked(split_layers(rnn), x, hx)
    assert result[0].dtype == torch.float64
    assert_same_result(result, rnn(x, hx), is_lstm=cls is nn.LSTM)


def test_run_stacked_gives_each_layer_its_rows_of_hx(sample):
    """Rows 2k, 2k + 1 of a bidirectional h_0 belong to layer k: running layer 1 alone on rows 2:4 agrees."""
    rnn = nn.GRU(3, 4, num_layers=3, bidirectional=True)
    x, hx = sample(rnn, 5, 2)
    layers = split_layers(rnn)
    output, h_n = run_stacked(layers, x, hx)

    out0, h0 = layers[0](x, hx[0:2])
    out1, h1 = layers[1](out0, hx[2:4])
    out2, h2 = layers[2](out1, hx[4:6])
    torch.testing.assert_close(output, out2)
    torch.testing.assert_close(h_n, torch.cat([h0, h1, h2]))
    # The rows matter: swapping layers 0 and 1's rows changes the result.
    swapped = hx[[2, 3, 0, 1, 4, 5]]
    assert not torch.allclose(run_stacked(layers, x, swapped)[0], output)


def test_run_stacked_of_hand_built_layers():
    layers = [nn.LSTM(3, 4), nn.LSTM(4, 4)]
    x = torch.randn(5, 2, 3)
    output, (h_n, c_n) = run_stacked(layers, x)
    out0, (h0, c0) = layers[0](x)
    out1, (h1, c1) = layers[1](out0)
    torch.testing.assert_close(output, out1)
    torch.testing.assert_close(h_n, torch.cat([h0, h1]))
    torch.testing.assert_close(c_n, torch.cat([c0, c1]))
    assert h_n.shape == (2, 2, 4)


def test_run_stacked_accepts_a_tuple_of_layers(assert_same_result):
    rnn = nn.RNN(3, 4, num_layers=2)
    x = torch.randn(5, 2, 3)
    assert_same_result(run_stacked(tuple(split_layers(rnn)), x), rnn(x), is_lstm=False)


# --- stack_layers -------------------------------------------------------------------------------


@pytest.mark.parametrize("module", MODULES)
@pytest.mark.parametrize("bidirectional", [False, True], ids=["uni", "bi"])
def test_stack_layers_inverts_split_layers(module, bidirectional):
    cls, kwargs = module
    rnn = cls(3, 4, num_layers=3, bidirectional=bidirectional, batch_first=True, **kwargs)
    stacked = stack_layers(split_layers(rnn))
    assert type(stacked) is cls
    assert repr(stacked) == repr(rnn)
    expected = rnn.state_dict()
    got = stacked.state_dict()
    assert list(got) == list(expected)
    for name, value in got.items():
        assert torch.equal(value, expected[name]), name
    for attr in (
        "input_size",
        "hidden_size",
        "num_layers",
        "bias",
        "batch_first",
        "bidirectional",
        "dropout",
    ):
        assert getattr(stacked, attr) == getattr(rnn, attr), attr
    if cls is nn.LSTM:
        assert stacked.proj_size == rnn.proj_size
    if cls is nn.RNN:
        assert stacked.nonlinearity == rnn.nonlinearity


@pytest.mark.parametrize("cls", CLASSES)
def test_stack_layers_without_bias_in_float64(cls):
    rnn = cls(3, 4, num_layers=2, bias=False, dtype=torch.float64)
    stacked = stack_layers(split_layers(rnn))
    assert stacked.bias is False
    assert all(p.dtype == torch.float64 for p in stacked.parameters())
    assert sorted(stacked.state_dict()) == sorted(rnn.state_dict())
    for name, value in stacked.state_dict().items():
        assert torch.equal(value, rnn.state_dict()[name]), name


def test_stack_layers_drops_dropout():
    rnn = nn.LSTM(3, 4, num_layers=2, dropout=0.5)
    stacked = stack_layers(split_layers(rnn))
    assert stacked.dropout == 0
    assert repr(stacked) == "LSTM(3, 4, num_layers=2)"


def test_stack_layers_keeps_training_mode_of_first_layer():
    layers = split_layers(nn.GRU(3, 4, num_layers=2).eval())
    assert stack_layers(layers).training is False
    layers[0].train()
    assert stack_layers(layers).training is True


def test_stack_layers_of_hand_built_layers(assert_same_result):
    layers = [nn.GRU(3, 4), nn.GRU(4, 4)]
    stacked = stack_layers(layers)
    assert repr(stacked) == "GRU(3, 4, num_layers=2)"
    assert torch.equal(stacked.weight_ih_l1, layers[1].weight_ih_l0)
    assert torch.equal(stacked.bias_hh_l0, layers[0].bias_hh_l0)
    x = torch.randn(5, 2, 3)
    assert_same_result(stacked(x), run_stacked(layers, x), is_lstm=False)


def test_stack_layers_parameters_are_copies():
    layers = [nn.RNN(3, 4), nn.RNN(4, 4)]
    stacked = stack_layers(layers)
    before = {name: p.detach().clone() for name, p in stacked.named_parameters()}
    with torch.no_grad():
        layers[1].weight_ih_l0.fill_(7.0)
    assert torch.equal(stacked.weight_ih_l1, before["weight_ih_l1"])


def test_stack_layers_of_subclasses_gives_nn_lstm():
    class MyLSTM(nn.LSTM):
        pass

    stacked = stack_layers([MyLSTM(3, 4), MyLSTM(4, 4)])
    assert type(stacked) is nn.LSTM
    assert stacked.num_layers == 2


# --- bad layer lists: the same errors from run_stacked and stack_layers --------------------------


def call_run_stacked(layers):
    return run_stacked(layers, torch.randn(5, 2, 3))


FUNCTIONS = [pytest.param(call_run_stacked, id="run_stacked"), pytest.param(stack_layers, id="stack_layers")]


@pytest.mark.parametrize("function", FUNCTIONS)
def test_empty_list(function):
    with pytest.raises(ValueError, match=r"^Expected at least one layer in layers, but got an empty list"):
        function([])


@pytest.mark.parametrize("function", FUNCTIONS)
def test_a_single_module_not_a_list(function):
    with pytest.raises(
        TypeError,
        match=r"^Expected layers to be a list of single-layer modules, but got an object of type LSTM",
    ):
        function(nn.LSTM(3, 4))


@pytest.mark.parametrize("function", FUNCTIONS)
def test_non_rnn_module_in_list(function):
    with pytest.raises(
        TypeError,
        match=r"^Expected layers\[1\] to be an nn\.LSTM, nn\.GRU or nn\.RNN,",
    ):
        function([nn.LSTM(3, 4), nn.Linear(4, 4)])


@pytest.mark.parametrize("function", FUNCTIONS)
def test_mixed_classes(function):
    with pytest.raises(
        TypeError,
        match=r"^Expected every layer to be nn\.LSTM like layers\[0\], but got nn\.GRU at layers\[1\]",
    ):
        function([nn.LSTM(3, 4), nn.GRU(4, 4)])


@pytest.mark.parametrize("function", FUNCTIONS)
def test_multi_layer_module_in_list(function):
    with pytest.raises(
        ValueError,
        match=r"^Expected single-layer modules, but got layers\[1\] with num_layers=2 instead;",
    ):
        function([nn.LSTM(3, 4), nn.LSTM(4, 4, num_layers=2)])


@pytest.mark.parametrize("function", FUNCTIONS)
def test_input_size_chain_broken(function):
    with pytest.raises(
        ValueError,
        match=r"^Expected layers\[2\] to take input_size=4 \(the output features of layers\[1\]\),",
    ):
        function([nn.GRU(3, 4), nn.GRU(4, 4), nn.GRU(5, 4)])


@pytest.mark.parametrize("function", FUNCTIONS)
def test_input_size_chain_of_bidirectional_layers(function):
    """A bidirectional layer's output has 2 * hidden_size features."""
    with pytest.raises(
        ValueError, match=r"^Expected layers\[1\] to take input_size=8 .* but got input_size=4"
    ):
        function([nn.GRU(3, 4, bidirectional=True), nn.GRU(4, 4, bidirectional=True)])


@pytest.mark.parametrize("function", FUNCTIONS)
@pytest.mark.parametrize(
    ("second", "attr", "first_value", "second_value"),
    [
        pytest.param(nn.LSTM(4, 5), "hidden_size", 4, 5, id="hidden_size"),
        pytest.param(nn.LSTM(4, 4, proj_size=2), "proj_size", 0, 2, id="proj_size"),
        pytest.param(nn.LSTM(4, 4, bidirectional=True), "bidirectional", False, True, id="bidirectional"),
        pytest.param(nn.LSTM(4, 4, batch_first=True), "batch_first", False, True, id="batch_first"),
        pytest.param(nn.LSTM(4, 4, bias=False), "bias", True, False, id="bias"),
        pytest.param(
            nn.LSTM(4, 4, dtype=torch.float64), "dtype", "torch.float32", "torch.float64", id="dtype"
        ),
    ],
)
def test_layer_configuration_mismatch(function, second, attr, first_value, second_value):
    message = (
        rf"^Expected every layer to have {attr}={re.escape(str(first_value))} like layers\[0\], "
        rf"but got {attr}={re.escape(str(second_value))} at layers\[1\] instead\.$"
    )
    with pytest.raises(ValueError, match=message):
        function([nn.LSTM(3, 4), second])


@pytest.mark.parametrize("function", FUNCTIONS)
def test_rnn_nonlinearity_mismatch(function):
    with pytest.raises(
        ValueError,
        match=r"^Expected every layer to have nonlinearity=tanh like layers\[0\],",
    ):
        function([nn.RNN(3, 4), nn.RNN(4, 4, nonlinearity="relu")])


def test_layers_on_different_devices():
    with pytest.raises(
        ValueError, match=r"^Expected every layer to have device=cpu like layers\[0\], but got device=meta"
    ):
        stack_layers([nn.LSTM(3, 4), nn.LSTM(4, 4, device="meta")])


# --- run_stacked: bad input and hx, raised before any layer runs ---------------------------------


class CountingGRU(nn.GRU):
    """An nn.GRU that counts calls of its forward."""

    calls = 0

    def forward(self, *args, **kwargs):
        type(self).calls += 1
        return super().forward(*args, **kwargs)


@pytest.fixture
def counting_layers():
    CountingGRU.calls = 0
    return [CountingGRU(3, 4), CountingGRU(4, 4), CountingGRU(4, 4)]


def test_counting_layers_count_each_layer(counting_layers):
    """Control for the tests below: a valid call runs each layer once."""
    run_stacked(counting_layers, torch.randn(5, 2, 3))
    assert CountingGRU.calls == 3


def test_run_stacked_bad_hx_shape_raises_before_any_layer_runs(counting_layers):
    with pytest.raises(
        ValueError,
        match=r"^Expected h_0 of shape \(3, 2, 4\) \(num_layers \* num_directions, batch, out_size\)",
    ):
        run_stacked(counting_layers, torch.randn(5, 2, 3), torch.zeros(2, 2, 4))
    assert CountingGRU.calls == 0


def test_run_stacked_broken_chain_raises_before_any_layer_runs(counting_layers):
    counting_layers.append(CountingGRU(5, 4))
    with pytest.raises(ValueError, match=r"^Expected layers\[3\] to take input_size=4"):
        run_stacked(counting_layers, torch.randn(5, 2, 3))
    assert CountingGRU.calls == 0


def test_run_stacked_input_wrong_feature_size():
    with pytest.raises(
        ValueError,
        match=r"^Expected input with 3 features in its last dimension \(the module's input_size\),",
    ):
        run_stacked([nn.LSTM(3, 4), nn.LSTM(4, 4)], torch.randn(5, 2, 4))


def test_run_stacked_non_tensor_input():
    with pytest.raises(
        TypeError, match=r"^Expected input to be a torch\.Tensor, but got an object of type list"
    ):
        run_stacked([nn.LSTM(3, 4)], [[1.0, 2.0, 3.0]])


def test_run_stacked_lstm_hx_a_tensor():
    with pytest.raises(
        TypeError, match=r"^Expected hx to be a tuple \(h_0, c_0\) of two tensors for nn\.LSTM"
    ):
        run_stacked([nn.LSTM(3, 4), nn.LSTM(4, 4)], torch.randn(5, 2, 3), torch.zeros(2, 2, 4))


def test_run_stacked_bidirectional_c0_wrong_shape():
    layers = [nn.LSTM(3, 4, bidirectional=True), nn.LSTM(8, 4, bidirectional=True)]
    hx = (torch.zeros(4, 2, 4), torch.zeros(2, 2, 4))
    with pytest.raises(ValueError, match=r"^Expected c_0 of shape \(4, 2, 4\) .* but got \(2, 2, 4\)"):
        run_stacked(layers, torch.randn(5, 2, 3), hx)


def test_run_stacked_input_dtype_mismatch():
    with pytest.raises(
        ValueError,
        match=r"^Expected input of the module's dtype torch\.float32, but got torch\.float64",
    ):
        run_stacked([nn.GRU(3, 4)], torch.randn(5, 2, 3, dtype=torch.float64))


@pytest.mark.parametrize("cls", CLASSES)
def test_layers_in_a_module_list(cls, sample, assert_same_result):
    """An nn.ModuleList of layers, the usual way to keep them in a model, works like a list."""
    rnn = cls(3, 4, num_layers=2)
    layers = nn.ModuleList(split_layers(rnn))
    x, hx = sample(rnn, 4, 2)
    assert_same_result(run_stacked(layers, x, hx), rnn(x, hx), is_lstm=cls is nn.LSTM)
    stacked = stack_layers(layers)
    assert stacked.num_layers == 2
    for name, param in rnn.named_parameters():
        assert torch.equal(getattr(stacked, name), param), name


# --- split_directions ----------------------------------------------------------------------------


BIDIRECTIONAL_MODULES = [
    pytest.param((nn.LSTM, {}), id="lstm"),
    pytest.param((nn.LSTM, {"proj_size": 2}), id="lstm-proj"),
    pytest.param((nn.LSTM, {"bias": False}), id="lstm-no-bias"),
    pytest.param((nn.GRU, {}), id="gru"),
    pytest.param((nn.RNN, {}), id="rnn-tanh"),
    pytest.param((nn.RNN, {"nonlinearity": "relu"}), id="rnn-relu"),
]


def direction_params(rnn: nn.RNNBase, suffix: str) -> dict[str, torch.Tensor]:
    """The parameters of one direction of layer 0, by their name in a unidirectional module."""
    return {
        name.removesuffix(suffix): p for name, p in rnn.named_parameters() if name.endswith(f"_l0{suffix}")
    }


@pytest.mark.parametrize("module", BIDIRECTIONAL_MODULES)
def test_split_directions_copies_each_directions_parameters_bitwise(module):
    cls, kwargs = module
    rnn = cls(3, 4, bidirectional=True, **kwargs)
    forward, backward = split_directions(rnn)
    for direction, suffix in ((forward, ""), (backward, "_reverse")):
        expected = direction_params(rnn, suffix)
        got = dict(direction.named_parameters())
        assert sorted(got) == sorted(expected)
        for name, param in got.items():
            assert torch.equal(param, expected[name]), name
            assert param.data_ptr() != expected[name].data_ptr(), name


def test_split_directions_parameter_names_by_hand():
    forward, backward = split_directions(nn.LSTM(3, 4, proj_size=2, bidirectional=True))
    names = ["bias_hh_l0", "bias_ih_l0", "weight_hh_l0", "weight_hr_l0", "weight_ih_l0"]
    assert sorted(n for n, _ in forward.named_parameters()) == names
    assert sorted(n for n, _ in backward.named_parameters()) == names
    assert backward.weight_ih_l0.shape == (16, 3)
    assert backward.weight_hh_l0.shape == (16, 2)
    assert backward.weight_hr_l0.shape == (2, 4)


@pytest.mark.parametrize(("module", "layout", "with_hx"), pairwise(BIDIRECTIONAL_MODULES, LAYOUTS, WITH_HX))
def test_split_directions_reproduce_the_bidirectional_output(module, layout, with_hx, sample):
    cls, kwargs = module
    batch_first, batch = layout
    rnn = cls(3, 4, bidirectional=True, batch_first=batch_first, **kwargs)
    x, hx = sample(rnn, 5, batch, hx=with_hx)
    time_dim = 1 if (batch_first and batch is not None) else 0
    is_lstm = cls is nn.LSTM

    def rows(state, k):
        if state is None:
            return None
        if is_lstm:
            return tuple(s[k : k + 1] for s in state)
        return state[k : k + 1]

    forward, backward = split_directions(rnn)
    output, state = rnn(x, hx)
    out_f, state_f = forward(x, rows(hx, 0))
    out_b, state_b = backward(x.flip(time_dim), rows(hx, 1))
    torch.testing.assert_close(torch.cat([out_f, out_b.flip(time_dim)], dim=-1), output)
    # h_n (and c_n): row 0 is the forward direction's final state, row 1 the backward's.
    if is_lstm:
        (h_f, c_f), (h_b, c_b), (h_n, c_n) = state_f, state_b, state
        torch.testing.assert_close(torch.cat([c_f, c_b]), c_n)
    else:
        h_f, h_b, h_n = state_f, state_b, state
    torch.testing.assert_close(torch.cat([h_f, h_b]), h_n)


def test_split_directions_halves_by_hand(sample):
    """Output features 0..H are the forward direction's, H..2H the backward's, read right to left."""
    rnn = nn.GRU(3, 4, bidirectional=True)
    x, _ = sample(rnn, 6, 2, hx=False)
    forward, backward = split_directions(rnn)
    output, h_n = rnn(x)
    out_b, h_b = backward(x.flip(0))
    torch.testing.assert_close(output[:, :, 4:], out_b.flip(0))
    # The backward direction's final state is its output at the *first* time step.
    torch.testing.assert_close(h_n[1], output[0, :, 4:])
    torch.testing.assert_close(h_b[0], output[0, :, 4:])
    torch.testing.assert_close(forward(x)[1][0], output[-1, :, :4])


@pytest.mark.parametrize("cls", CLASSES)
def test_split_directions_copies_configuration(cls):
    extra = {"proj_size": 2} if cls is nn.LSTM else {}
    if cls is nn.RNN:
        extra = {"nonlinearity": "relu"}
    rnn = cls(3, 4, bias=False, batch_first=True, bidirectional=True, dtype=torch.float64, **extra).eval()
    directions = split_directions(rnn)
    assert isinstance(directions, tuple)
    assert len(directions) == 2
    for direction in directions:
        assert type(direction) is cls
        assert direction.num_layers == 1
        assert direction.input_size == 3
        assert direction.hidden_size == 4
        assert direction.bidirectional is False
        assert direction.bias is False
        assert direction.batch_first is True
        assert direction.training is False
        assert all(p.dtype == torch.float64 for p in direction.parameters())
        if cls is nn.LSTM:
            assert direction.proj_size == 2
        if cls is nn.RNN:
            assert direction.nonlinearity == "relu"


def test_split_directions_keeps_training_mode_and_requires_grad():
    rnn = nn.LSTM(3, 4, bidirectional=True)
    rnn.weight_hh_l0_reverse.requires_grad_(False)
    forward, backward = split_directions(rnn)
    assert (forward.training, backward.training) == (True, True)
    assert forward.weight_hh_l0.requires_grad is True
    assert backward.weight_hh_l0.requires_grad is False
    assert backward.weight_ih_l0.requires_grad is True


def test_split_directions_parameters_are_copies():
    rnn = nn.GRU(3, 4, bidirectional=True)
    before = rnn.weight_ih_l0_reverse.detach().clone()
    _, backward = split_directions(rnn)
    with torch.no_grad():
        backward.weight_ih_l0.add_(1.0)
    assert torch.equal(rnn.weight_ih_l0_reverse, before)


def test_split_directions_repr():
    assert repr(split_directions(nn.GRU(3, 4, bidirectional=True))) == "(GRU(3, 4), GRU(3, 4))"


@pytest.mark.parametrize("cls", CLASSES)
def test_split_directions_of_a_unidirectional_module(cls):
    with pytest.raises(
        ValueError,
        match=r"^Expected a one-layer bidirectional module, but got num_layers=1, bidirectional=False",
    ):
        split_directions(cls(3, 4))


@pytest.mark.parametrize("cls", CLASSES)
def test_split_directions_of_two_layers(cls):
    with pytest.raises(
        ValueError,
        match=r"^Expected a one-layer bidirectional module, but got num_layers=2, bidirectional=True",
    ):
        split_directions(cls(3, 4, num_layers=2, bidirectional=True))


def test_split_directions_after_split_layers():
    """The way the error points: split_layers first, then each layer's directions."""
    rnn = nn.LSTM(3, 4, num_layers=2, bidirectional=True)
    layer_1 = split_layers(rnn)[1]
    forward, backward = split_directions(layer_1)
    assert forward.input_size == backward.input_size == 8
    assert torch.equal(backward.weight_hh_l0, rnn.weight_hh_l1_reverse)


@pytest.mark.parametrize(
    ("value", "kind"),
    [(nn.Linear(3, 4), "Linear"), (nn.LSTMCell(3, 4), "LSTMCell"), ("lstm", "str")],
    ids=["linear", "lstmcell", "str"],
)
def test_split_directions_non_rnn_module(value, kind):
    with pytest.raises(
        TypeError,
        match=rf"^Expected rnn to be an nn\.LSTM, nn\.GRU or nn\.RNN, but got an object of type {kind}",
    ):
        split_directions(value)
