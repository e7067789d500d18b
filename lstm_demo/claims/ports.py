"""Claims about porting: the same LSTM in ONNX, Keras 3 and Flax nnx, both ways.

Each claim runs where its framework is installed and raises
:class:`~lstm_demo.ports.Unavailable` where it is not (``check`` says
which it skipped). The independent side is the framework's run of the
mapped weights (:func:`~lstm_demo.ports.onnx_forward`,
:func:`~lstm_demo.ports.keras_forward`,
:func:`~lstm_demo.ports.flax_forward`), compared with nn.LSTM at the
site's tolerance for the device and dtype: another implementation of the
same arithmetic, rounding in another order. The other way, weights drawn in
the framework's own layout are rebuilt as an nn.LSTM
(:func:`~lstm_demo.ports.lstm_from_onnx`, ...) and compared with the
framework's run of those weights.
"""

from __future__ import annotations

from typing import Any

import numpy as np
import torch
from torch import nn

from lstm_demo._copying import copy_module
from lstm_demo.claims.registry import Forward, Found, Pairs, Place, claim, pairs
from lstm_demo.claims.sizes import BATCH, HIDDEN, IN, SEQ
from lstm_demo.ports import (
    export,
    exported_weights,
    flax_forward,
    flax_run,
    keras_forward,
    keras_run,
    lstm_from_flax,
    lstm_from_keras,
    lstm_from_onnx,
    onnx_forward,
    onnx_model,
    onnx_weights,
    require,
    run_onnx,
)
from lstm_demo.ports.onnx import default_runtime

#: A configuration a port is checked on: a label, the module, its input and initial state.
Case = tuple[str, nn.RNNBase, torch.Tensor, Any]


def port_cases(at: Place, *, gru: bool = True) -> list[Case]:
    """The configurations every port is checked on: 1 layer, 2 bidirectional batch-first layers given (h0, c0), no bias, a GRU.

    Examples
    --------
    >>> from lstm_demo.claims import Place
    >>> from lstm_demo.claims.ports import port_cases
    >>> import torch
    >>> [label for label, *_ in port_cases(Place(torch.device("cpu"), torch.float32))]
    ['1 layer', '2 layers, bidirectional, batch_first, (h0, c0)', 'bias=False', 'GRU, 2 layers, bidirectional, h0']
    """
    states = 2 * 2
    h0, c0 = at.randn(states, BATCH, HIDDEN, offset=2), at.randn(states, BATCH, HIDDEN, offset=3)
    cases: list[Case] = [
        ("1 layer", at.lstm(IN, HIDDEN), at.randn(SEQ, BATCH, IN), None),
        (
            "2 layers, bidirectional, batch_first, (h0, c0)",
            at.lstm(IN, HIDDEN, num_layers=2, bidirectional=True, batch_first=True),
            at.randn(BATCH, SEQ, IN),
            (h0, c0),
        ),
        ("bias=False", at.lstm(IN, HIDDEN, bias=False), at.randn(SEQ, BATCH, IN), None),
    ]
    if gru:
        cases.append(
            (
                "GRU, 2 layers, bidirectional, h0",
                at.module(lambda: nn.GRU(IN, HIDDEN, num_layers=2, bidirectional=True)),
                at.randn(SEQ, BATCH, IN),
                h0,
            )
        )
    return cases


def _to(at: Place, side: Forward, cases: list[Case]) -> Pairs:
    found: Pairs = {}
    with torch.no_grad():
        for label, module, x, hx in cases:
            found.update({f"{label}: {k}": p for k, p in pairs(side(module, x, hx), module(x, hx)).items()})
    return found


def _tensor(array: Any, at: Place) -> torch.Tensor:
    return torch.from_numpy(np.array(array)).to(at.device)


def _numpy(at: Place, *shape: int, offset: int, scale: float = 0.5) -> np.ndarray:
    return (scale * at.randn(*shape, offset=offset)).cpu().numpy()


@claim(
    "onnx",
    "An ONNX LSTM (or GRU) node given onnx_weights(lstm): W, R and each half of B = [bias_ih, bias_hh] "
    "with the gates reordered i, o, f, c (GRU z, r, h), computes nn.LSTM, in ONNX Runtime (float32) and "
    "onnx.reference (float64); lstm_from_onnx rebuilds weights drawn in ONNX's layout (forward and "
    "bidirectional, the node's default attributes) as the nn.LSTM the node computes.",
    onnx=onnx_forward,
)
def onnx_port(at: Place, *, onnx: Forward) -> Found:
    """Claim: nn.LSTM mapped to ONNX (:func:`~lstm_demo.ports.onnx_weights`) and back (:func:`~lstm_demo.ports.lstm_from_onnx`).

    To ONNX: every :func:`~lstm_demo.claims.ports.port_cases` configuration run by the side. From
    ONNX: weights drawn in ONNX's layout, forward and bidirectional, run in
    the same runtime and as ``lstm_from_onnx``'s module; then
    ``onnx_weights`` of that module, which must give the drawn arrays back
    (compared within the tolerance like every pair; the porting page asserts
    them bitwise equal).
    """
    found = _to(at, onnx, port_cases(at))
    runtime = default_runtime(at.dtype)
    for k, direction in enumerate(("forward", "bidirectional")):
        dirs = 1 if direction == "forward" else 2
        drawn = {
            "W": _numpy(at, dirs, 4 * HIDDEN, IN, offset=10 + k),
            "R": _numpy(at, dirs, 4 * HIDDEN, HIDDEN, offset=20 + k),
            "B": _numpy(at, dirs, 8 * HIDDEN, offset=30 + k),
        }
        x = at.randn(SEQ, BATCH, IN, offset=40 + k)
        lstm = lstm_from_onnx(drawn["W"], drawn["R"], drawn["B"], direction=direction).to(at.device)
        with torch.no_grad():
            ours = lstm(x)
        theirs = run_onnx(onnx_model([drawn], with_state=False), {"input": x.cpu().numpy()}, runtime=runtime)
        got = (_tensor(theirs[0], at), (_tensor(theirs[1], at), _tensor(theirs[2], at)))
        found.update({f"from ONNX, {direction}: {key}": p for key, p in pairs(got, ours).items()})
        back = onnx_weights(lstm)[0]
        found.update(
            {
                f"from ONNX, {direction}: onnx_weights gives {key} back": (
                    _tensor(back[key], at),
                    _tensor(drawn[key], at),
                )
                for key in "WRB"
            }
        )
    return found


def exported_forward(module: nn.LSTM | nn.GRU, input: torch.Tensor, hx: Any = None) -> Any:
    """``torch.onnx.export`` (the TorchScript exporter) of ``module`` on ``input``, run in ONNX Runtime (float32) or onnx.reference.

    The result in the module's shapes, for :func:`~lstm_demo.claims.onnx_export`.
    """
    on_cpu = None if hx is None else (tuple(t.cpu() for t in hx) if isinstance(hx, tuple) else hx.cpu())
    model = export(copy_module(module).cpu(), input.cpu(), on_cpu)
    names = [i.name for i in model.graph.input]
    state = () if hx is None else (hx if isinstance(hx, tuple) else (hx,))
    feeds = {n: t.detach().cpu().numpy() for n, t in zip(names, (input, *state), strict=False)}
    arrays = run_onnx(model, feeds, runtime=default_runtime(input.dtype))
    tensors = [torch.from_numpy(np.ascontiguousarray(a)).to(input.device) for a in arrays]
    return (tensors[0], (tensors[1], tensors[2])) if isinstance(module, nn.LSTM) else (tensors[0], tensors[1])


@claim(
    "onnx-export",
    "torch.onnx.export(dynamo=False) writes each nn.LSTM layer as one ONNX LSTM node whose W, R and B "
    "are onnx_weights(lstm), and the exported model computes nn.LSTM.",
    exported=exported_forward,
)
def onnx_export(at: Place, *, exported: Forward) -> Found:
    """Claim: the TorchScript exporter (``dynamo=False``) writes what :func:`~lstm_demo.ports.onnx_weights` says.

    A two-layer bidirectional LSTM, given ``(h0, c0)``: its exported nodes'
    weights against ``onnx_weights`` (the porting page asserts them bitwise equal), and the exported
    model's run against the module. The dynamo exporter, slower by seconds,
    is shown on the porting page.
    """
    lstm = at.lstm(IN, HIDDEN, num_layers=2, bidirectional=True)
    x = at.randn(SEQ, BATCH, IN)
    hx = (at.randn(4, BATCH, HIDDEN, offset=2), at.randn(4, BATCH, HIDDEN, offset=3))
    with torch.no_grad():
        found = {f"run: {k}": p for k, p in pairs(exported(lstm, x, hx), lstm(x, hx)).items()}
    written = exported_weights(export(copy_module(lstm).cpu(), x.cpu(), (hx[0].cpu(), hx[1].cpu())))
    for k, (ours, theirs) in enumerate(zip(onnx_weights(lstm), written, strict=True)):
        found.update(
            {
                f"layer {k}: exported {key}": (_tensor(theirs[key], at), _tensor(ours[key], at))
                for key in "WRB"
            }
        )
    return found


def _keras_drawn(at: Place, kind: str, bidirectional: bool, offset: int) -> list[Any]:
    """Keras layers with weights drawn in Keras's own layout (kernel, recurrent kernel, bias)."""
    keras = require("keras")
    gates = 4 if kind == "LSTM" else 3
    dtype = str(at.dtype).removeprefix("torch.")
    arrays = []
    for d in range(2 if bidirectional else 1):
        bias_shape = (gates * HIDDEN,) if kind == "LSTM" else (2, gates * HIDDEN)
        arrays += [
            _numpy(at, IN, gates * HIDDEN, offset=offset + 10 * d),
            _numpy(at, HIDDEN, gates * HIDDEN, offset=offset + 10 * d + 1),
            _numpy(at, *bias_shape, offset=offset + 10 * d + 2),
        ]
    options: dict[str, Any] = {
        "return_sequences": True,
        "return_state": True,
        "dtype": dtype,
    }
    if kind == "GRU":
        options["reset_after"] = True
    layer = getattr(keras.layers, kind)(HIDDEN, **options)
    if bidirectional:
        layer = keras.layers.Bidirectional(layer, dtype=dtype)
    layer.build((None, None, IN))
    layer.set_weights(arrays)
    return [layer]


@claim(
    "keras",
    "Keras 3's LSTM with kernel = weight_ih.T, recurrent_kernel = weight_hh.T (gates i, f, c, o: "
    "PyTorch's order) and one bias = bias_ih + bias_hh computes nn.LSTM (GRU: z, r, h, "
    "reset_after=True, bias rows [bias_ih; bias_hh]); lstm_from_keras rebuilds Keras's layers as that nn.LSTM.",
    keras=keras_forward,
)
def keras_port(at: Place, *, keras: Forward) -> Found:
    """Claim: nn.LSTM and nn.GRU mapped to Keras 3 (:func:`~lstm_demo.ports.to_keras`) and back (:func:`~lstm_demo.ports.lstm_from_keras`).

    On the backend Keras was imported with (PyTorch unless ``KERAS_BACKEND``
    says otherwise). From Keras: weights drawn in Keras's layout for an
    LSTM, a bidirectional LSTM and a GRU, run by Keras and by
    ``lstm_from_keras``'s module. The layers keep Keras's default
    ``use_cudnn="auto"``, with which Keras 3.15 on PyTorch runs the layer with
    torch's own LSTM kernel (``torch._VF.lstm``) once it has laid the weights
    out: the claim checks the mapping, not another implementation's
    arithmetic. Keras's own loop (``use_cudnn=False``) rounds float64 layers
    far more (the porting page measures it).
    """
    found = _to(at, keras, port_cases(at))
    for k, (kind, bidirectional) in enumerate((("LSTM", False), ("LSTM", True), ("GRU", False))):
        layers = _keras_drawn(at, kind, bidirectional, offset=100 + 50 * k)
        x = at.randn(BATCH, SEQ, IN, offset=70 + k)
        output, finals = keras_run(layers, x.cpu().numpy())
        module = lstm_from_keras(layers).to(at.device)
        with torch.no_grad():
            ours = module(x)
        states = [_tensor(a, at) for a in finals[0]]
        per = 2 if kind == "LSTM" else 1
        h = torch.stack(states[0::per])
        got = (_tensor(output, at), (h, torch.stack(states[1::per])) if kind == "LSTM" else h)
        label = f"{kind}{', bidirectional' if bidirectional else ''}"
        found.update({f"from Keras, {label}: {key}": p for key, p in pairs(got, ours).items()})
    return found


@claim(
    "flax",
    "Flax nnx's OptimizedLSTMCell with dense_i.kernel = weight_ih.T, dense_h.kernel = weight_hh.T "
    "(gates i, f, g, o) and dense_h.bias = bias_ih + bias_hh computes nn.LSTM, its carry (c, h) being "
    "nn.LSTM's (h, c) swapped; lstm_from_flax rebuilds the cells as that nn.LSTM.",
    flax=flax_forward,
)
def flax_port(at: Place, *, flax: Forward) -> Found:
    """Claim: nn.LSTM mapped to Flax nnx (:func:`~lstm_demo.ports.to_flax`) and back (:func:`~lstm_demo.ports.lstm_from_flax`).

    From Flax: cells with Flax's own initialisation (``nnx.Rngs(seed)``) and a
    bias drawn, forward and bidirectional, run by :func:`~lstm_demo.ports.flax_run`
    and by ``lstm_from_flax``'s module.
    """
    found = _to(at, flax, port_cases(at, gru=False))
    nnx, jax = require("flax.nnx"), require("jax")
    name = str(at.dtype).removeprefix("torch.")
    with jax.enable_x64(at.dtype == torch.float64):
        for k, dirs in enumerate((1, 2)):
            cells = []
            for d in range(dirs):
                cell = nnx.OptimizedLSTMCell(
                    IN, HIDDEN, dtype=name, param_dtype=name, rngs=nnx.Rngs(at.seed + 10 * k + d)
                )
                cell.dense_h.bias[...] = _numpy(at, 4 * HIDDEN, offset=50 + 10 * k + d)
                cells.append(cell)
            x = at.randn(BATCH, SEQ, IN, offset=60 + k)
            output, finals = flax_run([tuple(cells)], x.cpu().numpy())
            lstm = lstm_from_flax([tuple(cells)]).to(at.device)
            with torch.no_grad():
                ours = lstm(x)
            got = (
                _tensor(output, at),
                (
                    torch.stack([_tensor(h, at) for h, _ in finals]),
                    torch.stack([_tensor(c, at) for _, c in finals]),
                ),
            )
            label = "bidirectional" if dirs == 2 else "forward"
            found.update({f"from Flax, {label}: {key}": p for key, p in pairs(got, ours).items()})
    return found
