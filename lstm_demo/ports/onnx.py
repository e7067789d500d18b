"""nn.LSTM and nn.GRU as ONNX graphs: built from :func:`~lstm_demo.ports.onnx_weights`, exported, and run.

:func:`~lstm_demo.ports.onnx_model` writes the graph the mapping says (one ``LSTM`` or
``GRU`` node per layer), :func:`~lstm_demo.ports.export` is ``torch.onnx.export`` of the
module, :func:`~lstm_demo.ports.run_onnx` runs either in ONNX Runtime (float32: it has no
float64 LSTM) or ``onnx.reference`` (any dtype), and :func:`~lstm_demo.ports.onnx_forward`
is the whole round trip with the module's forward contract, the
independent side of the ONNX claims.
"""

from __future__ import annotations

import tempfile
import warnings
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import torch
from torch import nn

from lstm_demo._types import Result, State
from lstm_demo.ports.frameworks import require
from lstm_demo.ports.gates import OnnxLayer, lstm_from_onnx, onnx_weights
from lstm_demo.ports.results import as_result, check_input

#: The ONNX operator set the graphs are written in (LSTM's ``layout`` came in 14).
OPSET = 14

#: The runtimes :func:`run_onnx` runs a graph in.
RUNTIMES = ("onnxruntime", "reference")


def _check_layers(layers: Sequence[OnnxLayer]) -> tuple[str, int, int]:
    """``(kind, num_directions, hidden_size)`` of per-layer weights, read from their shapes."""
    if not layers:
        msg = "Expected at least one layer of ONNX weights, but got none instead."
        raise ValueError(msg)
    r = layers[0]["R"]
    dirs, rows, hidden = r.shape
    gates = rows // hidden
    if gates not in (3, 4) or rows != gates * hidden:
        msg = f"Expected R of shape [num_directions, 4H or 3H, H], but got {list(r.shape)} instead."
        raise ValueError(msg)
    return ("LSTM" if gates == 4 else "GRU"), dirs, hidden


def onnx_model(source: nn.LSTM | nn.GRU | Sequence[OnnxLayer], *, with_state: bool = True) -> Any:
    """The ONNX model the weight mapping describes: one ``LSTM`` (or ``GRU``) node per layer.

    Inputs ``input`` ``[T, B, input]`` (time-major: ONNX Runtime refuses
    ``layout=1``), and with ``with_state`` one ``h0_l{k}`` (and ``c0_l{k}``)
    ``[num_directions, B, H]`` per layer; outputs ``output`` ``[T, B,
    num_directions * H]`` and ``h_n`` (and ``c_n``) ``[num_layers *
    num_directions, B, H]``, nn.LSTM's shapes. Between layers each node's
    ``Y`` ``[T, num_directions, B, H]`` is transposed and reshaped into the
    next one's input. A GRU's nodes say ``linear_before_reset=1``.

    Parameters
    ----------
    source : nn.LSTM, nn.GRU, or list of dict
        A module (its :func:`~lstm_demo.ports.onnx_weights` are used), or
        those weights, one ``{"W", "R", "B"}`` per layer.

    Examples
    --------
    >>> from torch import nn
    >>> from lstm_demo.ports import onnx_model
    >>> model = onnx_model(nn.LSTM(3, 4, num_layers=2))
    >>> [node.op_type for node in model.graph.node]
    ['LSTM', 'Transpose', 'Reshape', 'LSTM', 'Transpose', 'Reshape', 'Concat', 'Concat']
    """
    onnx = require("onnx")
    helper, numpy_helper = onnx.helper, onnx.numpy_helper
    layers = onnx_weights(source) if isinstance(source, nn.Module) else list(source)
    kind, dirs, hidden = _check_layers(layers)
    dtype = layers[0]["W"].dtype
    elem = onnx.TensorProto.DOUBLE if dtype == np.float64 else onnx.TensorProto.FLOAT
    states = ("h", "c") if kind == "LSTM" else ("h",)
    nodes, inits, inputs = (
        [],
        [],
        [helper.make_tensor_value_info("input", elem, ["T", "B", layers[0]["W"].shape[-1]])],
    )
    inits.append(numpy_helper.from_array(np.array([0, 0, -1], dtype=np.int64), "merge_directions"))
    x = "input"
    finals: dict[str, list[str]] = {s: [] for s in states}
    for k, arrays in enumerate(layers):
        names = [x]
        for key in ("W", "R", "B"):
            inits.append(numpy_helper.from_array(np.ascontiguousarray(arrays[key]), f"{key}_l{k}"))
            names.append(f"{key}_l{k}")
        names.append("")  # sequence_lens
        if with_state:
            for s in states:
                inputs.append(helper.make_tensor_value_info(f"{s}0_l{k}", elem, [dirs, "B", hidden]))
                names.append(f"{s}0_l{k}")
        outputs = [f"Y_l{k}"] + [f"Y{s}_l{k}" for s in states]
        attributes: dict[str, Any] = {"hidden_size": hidden}
        if dirs == 2:
            attributes["direction"] = "bidirectional"
        if kind == "GRU":
            attributes["linear_before_reset"] = 1
        nodes.append(helper.make_node(kind, names, outputs, name=f"{kind.lower()}_l{k}", **attributes))
        nodes.append(helper.make_node("Transpose", [f"Y_l{k}"], [f"Yt_l{k}"], perm=[0, 2, 1, 3]))
        x = "output" if k == len(layers) - 1 else f"X_l{k + 1}"
        nodes.append(helper.make_node("Reshape", [f"Yt_l{k}", "merge_directions"], [x]))
        for s in states:
            finals[s].append(f"Y{s}_l{k}")
    for s in states:
        nodes.append(helper.make_node("Concat", finals[s], [f"{s}_n"], axis=0))
    outputs = [helper.make_tensor_value_info("output", elem, ["T", "B", dirs * hidden])]
    outputs += [
        helper.make_tensor_value_info(f"{s}_n", elem, [len(layers) * dirs, "B", hidden]) for s in states
    ]
    graph = helper.make_graph(nodes, f"nn.{kind}", inputs, outputs, initializer=inits)
    model = helper.make_model(
        graph, opset_imports=[helper.make_opsetid("", OPSET)], producer_name="lstm_demo"
    )
    onnx.checker.check_model(model)
    return model


def run_onnx(
    model: Any, feeds: Mapping[str, np.ndarray], *, runtime: str = "onnxruntime"
) -> list[np.ndarray]:
    """Every output of ``model`` on ``feeds``, run in ONNX Runtime (CPU) or ``onnx.reference``.

    Raises
    ------
    ValueError
        If ``runtime`` is not one of :data:`RUNTIMES`.

    Examples
    --------
    >>> import numpy as np
    >>> from torch import nn
    >>> from lstm_demo.ports import onnx_model, run_onnx
    >>> model = onnx_model(nn.GRU(3, 4), with_state=False)
    >>> [a.shape for a in run_onnx(model, {"input": np.zeros((5, 2, 3), np.float32)})]
    [(5, 2, 4), (1, 2, 4)]
    """
    if runtime not in RUNTIMES:
        msg = f"Expected runtime among {', '.join(RUNTIMES)}, but got {runtime!r} instead."
        raise ValueError(msg)
    if runtime == "reference":
        evaluator = require("onnx.reference").ReferenceEvaluator(model)
        return [np.asarray(a) for a in evaluator.run(None, dict(feeds))]
    ort = require("onnxruntime")
    options = ort.SessionOptions()
    # Fatal only: ONNX Runtime's refusals come back as exceptions, not as log lines.
    options.log_severity_level = 4
    session = ort.InferenceSession(model.SerializeToString(), options, providers=["CPUExecutionProvider"])
    return [np.asarray(a) for a in session.run(None, dict(feeds))]


def default_runtime(dtype: torch.dtype) -> str:
    """ONNX Runtime for float32; ``onnx.reference`` for float64, which ONNX Runtime's LSTM does not run."""
    return "reference" if dtype == torch.float64 else "onnxruntime"


def _feeds(module: nn.RNNBase, input: Any, hx: State | None) -> dict[str, np.ndarray]:
    check_input(input, "an ONNX graph")
    x = input.transpose(0, 1) if module.batch_first else input
    feeds = {"input": x.detach().cpu().numpy()}
    if hx is None:
        dirs = 2 if module.bidirectional else 1
        zero = torch.zeros(module.num_layers * dirs, x.shape[1], module.hidden_size, dtype=input.dtype)
        hx = (zero, zero) if isinstance(module, nn.LSTM) else zero
    states = dict(zip(("h", "c"), hx if isinstance(hx, tuple) else (hx,), strict=False))
    dirs = 2 if module.bidirectional else 1
    for s, tensor in states.items():
        for k in range(module.num_layers):
            feeds[f"{s}0_l{k}"] = tensor[k * dirs : (k + 1) * dirs].detach().cpu().numpy()
    return feeds


def onnx_forward(
    module: nn.LSTM | nn.GRU,
    input: torch.Tensor,
    hx: State | None = None,
    *,
    weights: Sequence[OnnxLayer] | None = None,
) -> Result:
    """``module(input, hx)`` computed by ONNX: :func:`onnx_model` of its weights, run by :func:`run_onnx`.

    ONNX Runtime for float32, ``onnx.reference`` for float64. ``input`` and
    ``hx`` in the module's layout, the result in nn.LSTM's (or nn.GRU's)
    shapes, on the input's device. ``weights`` (one ``{"W", "R", "B"}`` per
    layer) are run instead of :func:`~lstm_demo.ports.onnx_weights` of the
    module, which then gives only the layout and the state's shape: how
    weights from elsewhere (or mapped another way) are checked.

    Raises
    ------
    TypeError
        If ``module`` is not an nn.LSTM or nn.GRU, or ``input`` not a 3-D tensor.
    ValueError
        If the LSTM has a projection.

    Examples
    --------
    >>> import torch
    >>> from torch import nn
    >>> from lstm_demo.ports import onnx_forward
    >>> lstm, x = nn.LSTM(3, 4, batch_first=True), torch.randn(2, 5, 3)
    >>> output, (h_n, c_n) = onnx_forward(lstm, x)
    >>> torch.testing.assert_close(output, lstm(x)[0]); output.shape
    torch.Size([2, 5, 4])
    """
    feeds = _feeds(module, input, hx)
    model = onnx_model(module if weights is None else weights)
    output, *states = run_onnx(model, feeds, runtime=default_runtime(input.dtype))
    return as_result(module, output, states[0], states[-1], time_major=True, device=input.device)


class _Flattened(nn.Module):
    """A recurrent module whose forward returns ``output, h_n[, c_n]``: what an exporter takes."""

    def __init__(self, module: nn.RNNBase) -> None:
        super().__init__()
        self.module = module

    def forward(self, input: torch.Tensor, *state: torch.Tensor) -> tuple[torch.Tensor, ...]:
        hx = None if not state else (state[0] if len(state) == 1 else (state[0], state[1]))
        output, final = self.module(input, hx)
        return (output, *final) if isinstance(final, tuple) else (output, final)


def export(
    module: nn.LSTM | nn.GRU,
    input: torch.Tensor,
    hx: State | None = None,
    *,
    dynamo: bool = False,
    dynamic: bool = False,
) -> Any:
    """``torch.onnx.export`` of ``module`` traced on ``input`` (and ``hx``): the ONNX model it writes.

    The module is wrapped so the graph's outputs are ``output, h_n[, c_n]``.
    ``dynamic`` marks time and batch as dynamic (``dynamic_axes`` for the
    legacy exporter, ``dynamic_shapes`` for dynamo). The legacy exporter's
    deprecation warning is silenced; any error the exporter raises is
    raised.

    Examples
    --------
    >>> import torch
    >>> from torch import nn
    >>> from lstm_demo.ports import export
    >>> model = export(nn.LSTM(3, 4), torch.randn(5, 2, 3))
    >>> [node.op_type for node in model.graph.node if node.op_type == "LSTM"]
    ['LSTM']
    """
    onnx = require("onnx")
    state = () if hx is None else (hx if isinstance(hx, tuple) else (hx,))
    args = (input, *state)
    names = ["input"] + [f"{s}0" for s in ("h", "c")[: len(state)]]
    wrapped = _Flattened(module).eval()
    if dynamo:
        require("onnxscript")
        shapes = None
        if dynamic:
            time, batch = torch.export.Dim("time"), torch.export.Dim("batch")
            layout = {1: time, 0: batch} if module.batch_first else {0: time, 1: batch}
            shapes = (layout, *({1: batch} for _ in state))
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            program = torch.onnx.export(
                wrapped, args, input_names=names, dynamo=True, dynamic_shapes=shapes, verbose=False
            )
        assert program is not None  # torch.onnx.export returns the program when no file is given
        return program.model_proto
    axes = None
    if dynamic:
        time_batch = {1: "time", 0: "batch"} if module.batch_first else {0: "time", 1: "batch"}
        axes = {"input": time_batch, **{n: {1: "batch"} for n in names[1:]}}
    with tempfile.TemporaryDirectory() as folder, warnings.catch_warnings():
        warnings.simplefilter("ignore")  # the legacy exporter's DeprecationWarning
        path = Path(folder) / "model.onnx"
        torch.onnx.export(wrapped, args, path, input_names=names, dynamo=False, dynamic_axes=axes)
        return onnx.load(str(path))


def exported_weights(model: Any) -> list[OnnxLayer]:
    """The ``W``, ``R`` and ``B`` of every ``LSTM`` or ``GRU`` node of an ONNX model, in node order.

    Read from the model's initializers (or ``Constant`` nodes), so they can
    be compared with :func:`~lstm_demo.ports.onnx_weights` of the module
    that was exported.

    Examples
    --------
    >>> import numpy as np, torch
    >>> from torch import nn
    >>> from lstm_demo.ports import export, exported_weights, onnx_weights
    >>> lstm = nn.LSTM(3, 4)
    >>> found, = exported_weights(export(lstm, torch.randn(5, 2, 3)))
    >>> all(np.array_equal(found[k], onnx_weights(lstm)[0][k]) for k in "WRB")
    True
    """
    numpy_helper = require("onnx").numpy_helper
    known = {i.name: numpy_helper.to_array(i) for i in model.graph.initializer}
    for node in model.graph.node:
        if node.op_type == "Constant" and node.attribute:
            known[node.output[0]] = numpy_helper.to_array(node.attribute[0].t)
    layers = []
    for node in model.graph.node:
        if node.op_type in ("LSTM", "GRU"):
            inputs = list(node.input) + [""] * 3
            layers.append({k: known[n] for k, n in zip("WRB", inputs[1:4], strict=True) if n in known})
    return layers


@dataclass(frozen=True)
class Conformance:
    """One of ONNX's own LSTM conformance cases, run through :func:`~lstm_demo.ports.lstm_from_onnx`."""

    name: str
    """The case's name in ONNX's test suite (``test_lstm_defaults``, ...)."""
    attributes: dict[str, Any]
    """The node's attributes."""
    max_abs_diff: float | None
    """Greatest difference from the case's expected outputs; ``None`` where nn.LSTM was refused."""
    refused: str
    """The ``ValueError`` lstm_from_onnx raised, or ``""``."""
    compared: tuple[str, ...] = ()
    """The node's outputs compared (``"Y"``, ``"Y_h"``, ``"Y_c"``: those the case has); none where refused."""


def conformance_cases() -> list[Conformance]:
    """ONNX's LSTM conformance cases (``onnx.backend.test``), each rebuilt as an nn.LSTM and run.

    The cases' weights are constants (every gate the same), so they test the
    layout and direction semantics, not the gate order. Cases with peepholes
    or ``direction="reverse"`` are refused with the reason; the rest are
    compared with the outputs ONNX expects.
    """
    node_cases = require("onnx.backend.test.case.node")
    with warnings.catch_warnings():
        # Collecting imports every operator's cases, whose numpy builds warn (overflow in Cast, ...).
        warnings.simplefilter("ignore")
        cases = node_cases.collect_testcases(op_type="LSTM")
    helper = require("onnx").helper
    found = []
    for case in cases:
        node = case.model.graph.node[0]
        attributes = {a.name: helper.get_attribute_value(a) for a in node.attribute}
        attributes = {k: (v.decode() if isinstance(v, bytes) else v) for k, v in attributes.items()}
        inputs, expected = case.data_sets[0]
        named = dict(zip(node.input, inputs, strict=False))
        roles = dict(
            zip(
                ("X", "W", "R", "B", "sequence_lens", "initial_h", "initial_c", "P"), node.input, strict=False
            )
        )
        arrays = {role: named[name] for role, name in roles.items() if name}
        try:
            lstm = lstm_from_onnx(
                arrays["W"],
                arrays["R"],
                arrays.get("B"),
                direction=attributes.get("direction", "forward"),
                layout=attributes.get("layout", 0),
                P=arrays.get("P"),
            )
        except ValueError as error:
            found.append(Conformance(case.name, attributes, None, str(error)))
            continue
        x = torch.from_numpy(arrays["X"])
        state = None
        if "initial_h" in arrays:
            # ONNX's initial states are [B, dirs, H] in layout 1; nn.LSTM's always [dirs, B, H].
            h0, c0 = (torch.from_numpy(arrays[k]) for k in ("initial_h", "initial_c"))
            state = (h0.transpose(0, 1), c0.transpose(0, 1)) if lstm.batch_first else (h0, c0)
        with torch.no_grad():
            output, (h_n, c_n) = lstm(x, state)
        dirs = 2 if lstm.bidirectional else 1
        # ONNX's Y is [T, dirs, B, H] (layout 0) or [B, T, dirs, H] (layout 1); nn.LSTM's [T, B, dirs*H].
        if lstm.batch_first:
            y = output.reshape(output.shape[0], output.shape[1], dirs, -1)
            h, c = h_n.transpose(0, 1), c_n.transpose(0, 1)
        else:
            y = output.reshape(output.shape[0], output.shape[1], dirs, -1).transpose(1, 2)
            h, c = h_n, c_n
        ours = {"Y": y, "Y_h": h, "Y_c": c}
        # The node names the outputs it has ("" for one left out); the case expects those, in that order.
        present = [role for role, name in zip(ours, node.output, strict=False) if name]
        diffs = [
            float((ours[role] - torch.from_numpy(e)).abs().max())
            if tuple(ours[role].shape) == e.shape
            else float("inf")
            for role, e in zip(present, expected, strict=True)
        ]
        found.append(Conformance(case.name, attributes, max(diffs), "", tuple(present)))
    return found


__all__ = [
    "OPSET",
    "RUNTIMES",
    "Conformance",
    "conformance_cases",
    "default_runtime",
    "export",
    "exported_weights",
    "onnx_forward",
    "onnx_model",
    "run_onnx",
]
