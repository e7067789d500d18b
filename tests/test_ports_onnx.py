"""ports.onnx: ONNX's own LSTM/GRU nodes against lstm_from_onnx, onnx_forward against the module, export, conformance."""

from __future__ import annotations

import numpy as np
import onnx
import onnxruntime as ort
import pytest
import torch
from cases import BATCH, FLOAT64, IN, H, T, close
from onnx import TensorProto, helper
from onnx.reference import ReferenceEvaluator
from torch import nn
from torch.nn.utils.rnn import pack_padded_sequence

from lstm_demo.ports import (
    OPSET,
    conformance_cases,
    default_runtime,
    export,
    exported_weights,
    gru_from_onnx,
    lstm_from_onnx,
    onnx_forward,
    onnx_model,
    onnx_weights,
    run_onnx,
)


def drawn(dirs: int, gates: int = 4, dtype=np.float32, seed: int = 0) -> dict[str, np.ndarray]:
    """ONNX weights drawn in ONNX's layout (not from any torch module)."""
    rng = np.random.default_rng(seed)
    return {
        "W": (0.5 * rng.standard_normal((dirs, gates * H, IN))).astype(dtype),
        "R": (0.5 * rng.standard_normal((dirs, gates * H, H))).astype(dtype),
        "B": (0.5 * rng.standard_normal((dirs, 2 * gates * H))).astype(dtype),
    }


RANKS = {"X": 3, "W": 3, "R": 3, "B": 2, "initial_h": 3, "initial_c": 3, "Y": 4, "Y_h": 3, "Y_c": 3}


def node_model(kind: str, names: list[str], elem=TensorProto.FLOAT, **attributes):
    """One ONNX ``kind`` node reading graph inputs ``names`` ("" for one left out), outputs Y, Y_h (, Y_c)."""
    outputs = ["Y", "Y_h", "Y_c"] if kind == "LSTM" else ["Y", "Y_h"]
    node = helper.make_node(kind, names, outputs, hidden_size=H, **attributes)

    def info(name: str):
        return helper.make_tensor_value_info(name, elem, [f"{name}_{k}" for k in range(RANKS[name])])

    graph = helper.make_graph([node], "node", [info(n) for n in names if n], [info(n) for n in outputs])
    model = helper.make_model(graph, opset_imports=[helper.make_opsetid("", OPSET)])
    onnx.checker.check_model(model)
    return model


def in_onnxruntime(model, feeds):
    options = ort.SessionOptions()
    options.log_severity_level = 3
    session = ort.InferenceSession(model.SerializeToString(), options, providers=["CPUExecutionProvider"])
    return session.run(None, feeds)


def as_onnx(output: torch.Tensor, dirs: int, layout: int = 0) -> np.ndarray:
    """nn.LSTM's output ``[T, B, dirs*H]`` (``[B, T, dirs*H]`` batch-first) as ONNX's Y."""
    y = output.detach().reshape(output.shape[0], output.shape[1], dirs, H)
    return (y if layout else y.transpose(1, 2)).numpy()


def states(dirs: int, dtype=np.float32, seed: int = 1) -> tuple[np.ndarray, np.ndarray]:
    rng = np.random.default_rng(seed)
    return tuple(rng.standard_normal((dirs, BATCH, H)).astype(dtype) for _ in range(2))


# --- ONNX Runtime's own node against lstm_from_onnx ---------------------------------------------


@pytest.mark.parametrize("direction", ["forward", "bidirectional"])
@pytest.mark.parametrize("bias", [True, False], ids=["B", "no-B"])
@pytest.mark.parametrize("initial", [False, True], ids=["zero-state", "initial-state"])
def test_onnxruntime_lstm_node_computes_lstm_from_onnx(direction, bias, initial):
    dirs = 2 if direction == "bidirectional" else 1
    weights = drawn(dirs, seed=dirs + 2 * bias)
    x = np.random.default_rng(7).standard_normal((T, BATCH, IN)).astype(np.float32)
    feeds = {"X": x, "W": weights["W"], "R": weights["R"]}
    names = ["X", "W", "R", "B" if bias else ""]
    if bias:
        feeds["B"] = weights["B"]
    h0, c0 = states(dirs)
    if initial:
        names += ["", "initial_h", "initial_c"]
        feeds.update(initial_h=h0, initial_c=c0)
    attributes = {"direction": direction} if dirs == 2 else {}
    y, y_h, y_c = in_onnxruntime(node_model("LSTM", names, **attributes), feeds)
    lstm = lstm_from_onnx(weights["W"], weights["R"], weights["B"] if bias else None, direction=direction)
    assert lstm.bias is bias
    with torch.no_grad():
        output, (h_n, c_n) = lstm(
            torch.from_numpy(x), (torch.from_numpy(h0), torch.from_numpy(c0)) if initial else None
        )
    assert y.shape == (T, dirs, BATCH, H)
    close(y, as_onnx(output, dirs))
    close(y_h, h_n)
    close(y_c, c_n)


def test_onnxruntime_gru_node_with_linear_before_reset_computes_gru_from_onnx():
    weights = drawn(2, gates=3)
    x = np.random.default_rng(7).standard_normal((T, BATCH, IN)).astype(np.float32)
    h0, _ = states(2)
    model = node_model(
        "GRU", ["X", "W", "R", "B", "", "initial_h"], direction="bidirectional", linear_before_reset=1
    )
    y, y_h = in_onnxruntime(model, {"X": x, **weights, "initial_h": h0})
    gru = gru_from_onnx(**weights, direction="bidirectional")
    with torch.no_grad():
        output, h_n = gru(torch.from_numpy(x), torch.from_numpy(h0))
    close(y, as_onnx(output, 2))
    close(y_h, h_n)
    # ONNX's default, linear_before_reset=0, is another GRU: the same weights give other numbers.
    y0, _ = in_onnxruntime(
        node_model("GRU", ["X", "W", "R", "B", "", "initial_h"], direction="bidirectional"),
        {"X": x, **weights, "initial_h": h0},
    )
    assert float(np.abs(y0 - y).max()) > 1e-3


def test_onnxruntime_refuses_layout_1_and_onnx_reference_runs_it():
    weights = drawn(1)
    model = node_model("LSTM", ["X", "W", "R", "B"], layout=1)
    x = np.random.default_rng(7).standard_normal((BATCH, T, IN)).astype(np.float32)
    with pytest.raises(Exception, match=r"Batchwise recurrent operations \(layout == 1\) are not supported"):
        in_onnxruntime(model, {"X": x, **weights})
    y, y_h, y_c = ReferenceEvaluator(model).run(None, {"X": x, **weights})
    lstm = lstm_from_onnx(**weights, layout=1)
    assert lstm.batch_first
    with torch.no_grad():
        output, (h_n, c_n) = lstm(torch.from_numpy(x))
    assert y.shape == (BATCH, T, 1, H)  # layout 1: [B, T, dirs, H]; Y_h [B, dirs, H]
    close(y, as_onnx(output, 1, layout=1))
    close(y_h, h_n.transpose(0, 1))
    close(y_c, c_n.transpose(0, 1))


def test_onnx_reference_runs_float64_and_onnxruntime_does_not():
    weights = drawn(2, dtype=np.float64)
    x = np.random.default_rng(7).standard_normal((T, BATCH, IN))
    model = node_model("LSTM", ["X", "W", "R", "B"], TensorProto.DOUBLE, direction="bidirectional")
    y, y_h, y_c = ReferenceEvaluator(model).run(None, {"X": x, **weights})
    assert y.dtype == np.float64
    lstm = lstm_from_onnx(**weights, direction="bidirectional")
    assert lstm.weight_ih_l0.dtype == torch.float64
    with torch.no_grad():
        output, (h_n, c_n) = lstm(torch.from_numpy(x))
    close(y, as_onnx(output, 2), FLOAT64)
    close(y_h, h_n, FLOAT64)
    close(y_c, c_n, FLOAT64)
    with pytest.raises(Exception, match="LSTM operator does not support double"):
        in_onnxruntime(model, {"X": x, **weights})
    assert default_runtime(torch.float64) == "reference"
    assert default_runtime(torch.float32) == "onnxruntime"


# --- onnx_model and onnx_forward against the module -----------------------------------------------


@pytest.mark.parametrize(
    ("cls", "options"),
    [
        (nn.LSTM, {}),
        (nn.LSTM, {"num_layers": 2}),
        (nn.LSTM, {"bidirectional": True}),
        (nn.LSTM, {"num_layers": 2, "bidirectional": True, "batch_first": True}),
        (nn.LSTM, {"bias": False, "batch_first": True}),
        (nn.GRU, {}),
        (nn.GRU, {"num_layers": 2, "bidirectional": True, "batch_first": True}),
    ],
    ids=[
        "lstm",
        "2-layers",
        "bidirectional",
        "2-bidirectional-batch-first",
        "no-bias",
        "gru",
        "gru-2-bidir-bf",
    ],
)
@pytest.mark.parametrize("with_hx", [False, True], ids=["no-hx", "hx"])
def test_onnx_forward_computes_the_module(cls, options, with_hx, sample):
    module = cls(IN, H, **options)
    x, hx = sample(module, seq_len=T, batch=BATCH, hx=with_hx)
    output, state = onnx_forward(module, x, hx)
    with torch.no_grad():
        expected_output, expected_state = module(x, hx)
    assert output.shape == expected_output.shape
    close(output, expected_output)
    if cls is nn.LSTM:
        close(state[0], expected_state[0])
        close(state[1], expected_state[1])
    else:
        assert isinstance(state, torch.Tensor)
        close(state, expected_state)


def test_onnx_forward_in_float64_runs_onnx_reference(sample):
    lstm = nn.LSTM(IN, H, num_layers=2, bidirectional=True, dtype=torch.float64)
    x, hx = sample(lstm, seq_len=T, batch=BATCH)
    output, (h_n, c_n) = onnx_forward(lstm, x, hx)
    assert output.dtype == torch.float64
    with torch.no_grad():
        expected, (eh, ec) = lstm(x, hx)
    close(output, expected, FLOAT64)
    close(h_n, eh, FLOAT64)
    close(c_n, ec, FLOAT64)


def test_onnx_forward_runs_the_weights_it_is_given():
    lstm = nn.LSTM(IN, H)
    x = torch.randn(T, BATCH, IN)
    other = nn.LSTM(IN, H)
    output, _ = onnx_forward(lstm, x, weights=onnx_weights(other))
    with torch.no_grad():
        close(output, other(x)[0])
        assert float((output - lstm(x)[0]).abs().max()) > 1e-3


def test_onnx_model_graph():
    model = onnx_model(nn.LSTM(IN, H, num_layers=2, bidirectional=True))
    assert [i.name for i in model.graph.input] == ["input", "h0_l0", "c0_l0", "h0_l1", "c0_l1"]
    assert [o.name for o in model.graph.output] == ["output", "h_n", "c_n"]
    lstm_nodes = [n for n in model.graph.node if n.op_type == "LSTM"]
    assert len(lstm_nodes) == 2
    for node in lstm_nodes:
        attributes = {a.name: helper.get_attribute_value(a) for a in node.attribute}
        assert attributes == {"hidden_size": H, "direction": b"bidirectional"}
    gru = onnx_model(nn.GRU(IN, H), with_state=False)
    assert [i.name for i in gru.graph.input] == ["input"]
    (node,) = [n for n in gru.graph.node if n.op_type == "GRU"]
    assert {a.name: helper.get_attribute_value(a) for a in node.attribute} == {
        "hidden_size": H,
        "linear_before_reset": 1,
    }
    assert gru.opset_import[0].version == OPSET


def test_onnx_model_refuses_weights_that_are_not_a_layer():
    with pytest.raises(
        ValueError, match=r"^Expected at least one layer of ONNX weights, but got none instead\.$"
    ):
        onnx_model([])
    bad = drawn(1)
    bad["R"] = np.ones((1, 5 * H, H), np.float32)
    with pytest.raises(
        ValueError,
        match=r"^Expected R of shape \[num_directions, 4H or 3H, H\], but got \[1, 20, 4\] instead\.$",
    ):
        onnx_model([bad])


def test_onnx_forward_rejects_a_packed_sequence():
    lstm = nn.LSTM(IN, H)
    packed = pack_padded_sequence(torch.randn(T, BATCH, IN), [T, T - 2])
    with pytest.raises(
        TypeError,
        match=r"^Expected input to be a 3-D tensor \(an ONNX graph takes no PackedSequence\), but got a PackedSequence instead\.$",
    ):
        onnx_forward(lstm, packed)
    with pytest.raises(TypeError, match=r"but got a tensor of shape \(6, 3\) instead\.$"):
        onnx_forward(lstm, torch.randn(T, IN))


def test_onnx_forward_refuses_other_modules():
    with pytest.raises(
        TypeError,
        match=r"^Expected module to be an nn\.LSTM or nn\.GRU, but got an object of type RNN instead\.$",
    ):
        onnx_forward(nn.RNN(IN, H), torch.randn(T, BATCH, IN))


def test_run_onnx_bad_runtime():
    model = onnx_model(nn.LSTM(IN, H), with_state=False)
    with pytest.raises(
        ValueError, match=r"^Expected runtime among onnxruntime, reference, but got 'tvm' instead\.$"
    ):
        run_onnx(model, {"input": np.zeros((T, BATCH, IN), np.float32)}, runtime="tvm")


def test_run_onnx_both_runtimes_agree():
    lstm = nn.LSTM(IN, H, bidirectional=True)
    model = onnx_model(lstm, with_state=False)
    feeds = {"input": torch.randn(T, BATCH, IN).numpy()}
    for a, b in zip(run_onnx(model, feeds), run_onnx(model, feeds, runtime="reference"), strict=True):
        close(a, b)


# --- torch.onnx.export -----------------------------------------------------------------------


@pytest.fixture(scope="module")
def exported_lstm():
    torch.manual_seed(3)
    lstm = nn.LSTM(IN, H, num_layers=2, bidirectional=True)
    x = torch.randn(T, BATCH, IN)
    hx = (torch.randn(4, BATCH, H), torch.randn(4, BATCH, H))
    return lstm, x, hx


def test_export_writes_onnx_weights_and_computes_the_module(exported_lstm):
    lstm, x, hx = exported_lstm
    model = export(lstm, x, hx)
    assert [n.op_type for n in model.graph.node].count("LSTM") == 2
    assert [i.name for i in model.graph.input] == ["input", "h0", "c0"]
    written = exported_weights(model)
    assert len(written) == 2
    for ours, theirs in zip(onnx_weights(lstm), written, strict=True):
        assert set(theirs) == set("WRB")
        for key in "WRB":
            assert theirs[key].dtype == ours[key].dtype
            assert np.array_equal(theirs[key], ours[key]), key  # bit for bit
    output, h_n, c_n = in_onnxruntime(model, {"input": x.numpy(), "h0": hx[0].numpy(), "c0": hx[1].numpy()})
    with torch.no_grad():
        expected, (eh, ec) = lstm(x, hx)
    close(output, expected)
    close(h_n, eh)
    close(c_n, ec)


def test_export_of_a_gru_with_dynamic_axes_runs_other_sizes():
    gru = nn.GRU(IN, H, batch_first=True)
    model = export(gru, torch.randn(BATCH, T, IN), dynamic=True)
    (written,) = exported_weights(model)
    (ours,) = onnx_weights(gru)
    assert all(np.array_equal(written[k], ours[k]) for k in "WRB")
    x = torch.randn(BATCH + 3, T + 4, IN)  # other batch and time than traced
    output, h_n = in_onnxruntime(model, {"input": x.numpy()})
    with torch.no_grad():
        expected, eh = gru(x)
    close(output, expected)
    close(h_n, eh)


def test_dynamo_export_writes_the_same_weights(exported_lstm):
    lstm, x, hx = exported_lstm
    model = export(lstm, x, hx, dynamo=True)
    written = exported_weights(model)
    assert len(written) == 2
    for ours, theirs in zip(onnx_weights(lstm), written, strict=True):
        assert all(np.array_equal(theirs[k], ours[k]) for k in "WRB")
    names = [i.name for i in model.graph.input]
    output, h_n, c_n = in_onnxruntime(
        model, dict(zip(names, (x.numpy(), hx[0].numpy(), hx[1].numpy()), strict=True))
    )
    with torch.no_grad():
        expected, (eh, ec) = lstm(x, hx)
    close(output, expected)
    close(h_n, eh)
    close(c_n, ec)


# --- ONNX's conformance cases ---------------------------------------------------------------------


@pytest.fixture(scope="module")
def conformance():
    return {c.name: c for c in conformance_cases()}


def test_conformance_cases_that_nn_lstm_computes_match(conformance):
    matched = {
        "test_lstm_defaults": ("Y_h",),
        "test_lstm_with_initial_bias": ("Y_h",),
        "test_lstm_batchwise": ("Y", "Y_h"),
        "test_lstm_bidirectional": ("Y_h", "Y_c"),
    }
    for name, compared in matched.items():
        case = conformance[name]
        assert case.refused == "", name
        assert case.compared == compared, name
        assert case.max_abs_diff is not None
        assert case.max_abs_diff <= 1e-6, name  # float32 cases, rounding differences only
    assert conformance["test_lstm_batchwise"].attributes["layout"] == 1
    assert conformance["test_lstm_bidirectional"].attributes["direction"] == "bidirectional"


def test_conformance_cases_with_peepholes_or_reverse_are_refused(conformance):
    peepholes, reverse = conformance["test_lstm_with_peepholes"], conformance["test_lstm_reverse"]
    assert peepholes.max_abs_diff is None
    assert reverse.max_abs_diff is None
    assert (peepholes.compared, reverse.compared) == ((), ())
    assert peepholes.refused.startswith(
        "Expected no peepholes (P all zeros or None), but got P with nonzero weights"
    )
    assert reverse.refused.startswith(
        'Expected direction "forward" or "bidirectional", but got "reverse" instead'
    )
    assert "torch.flip" in reverse.refused
    assert set(conformance) == {
        "test_lstm_defaults",
        "test_lstm_with_initial_bias",
        "test_lstm_with_peepholes",
        "test_lstm_batchwise",
        "test_lstm_reverse",
        "test_lstm_bidirectional",
    }
