"""Plausible porting bugs: nn.LSTM run in ONNX, Keras 3 or Flax with the weights mapped one wrong way.

Each function has the module's forward contract and runs the framework, as
the porting claims' sides do, with one mistake people make when they port
an LSTM by hand: gates left in PyTorch's order for ONNX, one bias of two,
a reshape where a transpose belongs, ``hard_sigmoid`` gates (the default of Keras 2.2 and
earlier), a
hand-built bidirectional layer whose backward output is not flipped back,
Flax's carry passed as ``(h, c)``.
"""

from __future__ import annotations

from typing import Any

import numpy as np
import torch
from torch import nn

from lstm_demo._copying import copy_module
from lstm_demo._types import Result
from lstm_demo.ports import (
    flax_forward,
    keras_forward,
    keras_layers,
    keras_weights,
    onnx_forward,
    onnx_weights,
    require,
    to_keras,
)


def onnx_torch_order(module: nn.LSTM | nn.GRU, input: torch.Tensor, hx: Any = None) -> Result:
    """ONNX run with W, R and B in PyTorch's gate order (i, f, g, o; r, z, n): not reordered."""
    dirs = 2 if module.bidirectional else 1
    layers = []
    for k in range(module.num_layers):
        found: dict[str, list[np.ndarray]] = {"W": [], "R": [], "B": []}
        for d in range(dirs):
            end = f"_l{k}{'_reverse' if d else ''}"
            w, r = (getattr(module, f"{n}{end}").detach().cpu().numpy() for n in ("weight_ih", "weight_hh"))
            biases = [
                getattr(module, f"{n}{end}").detach().cpu().numpy()
                if module.bias
                else np.zeros(len(w), w.dtype)
                for n in ("bias_ih", "bias_hh")
            ]
            found["W"].append(w)
            found["R"].append(r)
            found["B"].append(np.concatenate(biases))
        layers.append({key: np.stack(v) for key, v in found.items()})
    return onnx_forward(module, input, hx, weights=layers)


def onnx_one_bias(module: nn.LSTM | nn.GRU, input: torch.Tensor, hx: Any = None) -> Result:
    """ONNX run with B = [bias_ih, 0]: the recurrent bias (B's second half) left out."""
    layers = onnx_weights(module)
    for layer in layers:
        layer["B"][:, layer["B"].shape[1] // 2 :] = 0
    return onnx_forward(module, input, hx, weights=layers)


def keras_one_bias(module: nn.LSTM | nn.GRU, input: torch.Tensor, hx: Any = None) -> Result:
    """Keras run with bias_ih alone as Keras's bias (LSTM), or the recurrent row zero (GRU)."""
    copied = copy_module(module).cpu()
    with torch.no_grad():
        for name, param in copied.named_parameters():
            if name.startswith("bias_hh"):
                param.zero_()
    return keras_forward(module, input, hx, layers=to_keras(copied))


def keras_reshaped(module: nn.LSTM | nn.GRU, input: torch.Tensor, hx: Any = None) -> Result:
    """Keras run with kernel = weight_ih.reshape(in, 4H) (and the recurrent kernel alike): a reshape, not a transpose."""
    per = 3 if module.bias else 2
    arrays = keras_weights(module)
    for weights in arrays:
        for start in range(0, len(weights), per):
            for i in (start, start + 1):
                weights[i] = np.ascontiguousarray(weights[i].T).reshape(weights[i].shape)
    return keras_forward(module, input, hx, layers=keras_layers(module, arrays))


def keras_hard_sigmoid(module: nn.LSTM | nn.GRU, input: torch.Tensor, hx: Any = None) -> Result:
    """Keras run with ``recurrent_activation="hard_sigmoid"`` (Keras 2.2's default), which Keras 3 computes as relu6(x + 3) / 6."""
    return keras_forward(
        module,
        input,
        hx,
        layers=keras_layers(module, keras_weights(module), recurrent_activation="hard_sigmoid"),
    )


class _HandBuiltBidirectional:
    """A forward layer and a ``go_backwards=True`` layer side by side, outputs concatenated as computed."""

    def __init__(self, forward: Any, backward: Any) -> None:
        self.forward, self.backward = forward, backward

    def __call__(self, x: Any, initial_state: Any = None) -> list[Any]:
        keras = require("keras")
        half = None if initial_state is None else len(initial_state) // 2
        f = self.forward(x) if half is None else self.forward(x, initial_state=initial_state[:half])
        b = self.backward(x) if half is None else self.backward(x, initial_state=initial_state[half:])
        return [keras.ops.concatenate([f[0], b[0]], axis=-1), *f[1:], *b[1:]]  # b[0] not flipped back


def keras_backward_not_flipped(module: nn.LSTM | nn.GRU, input: torch.Tensor, hx: Any = None) -> Result:
    """Keras run of a hand-built bidirectional layer whose ``go_backwards`` output is left in reversed time."""
    layers = []
    for k, weights in enumerate(keras_weights(module)):
        half = len(weights) // 2
        forward, backward = (
            keras_layers(module, [part], first=k, bidirectional=False, go_backwards=backwards)[0]
            for part, backwards in ((weights[:half], False), (weights[half:], True))
        )
        layers.append(_HandBuiltBidirectional(forward, backward))
    return keras_forward(module, input, hx, layers=layers)


def flax_carry_h_c(lstm: nn.LSTM, input: torch.Tensor, hx: Any = None) -> Result:
    """Flax run with the carry passed and read as ``(h, c)``, nn.LSTM's order, where Flax's is ``(c, h)``."""
    swapped = None if hx is None else (hx[1], hx[0])
    output, (c_as_h, h_as_c) = flax_forward(lstm, input, swapped)
    return output, (h_as_c, c_as_h)


__all__ = [
    "flax_carry_h_c",
    "keras_backward_not_flipped",
    "keras_hard_sigmoid",
    "keras_one_bias",
    "keras_reshaped",
    "onnx_one_bias",
    "onnx_torch_order",
]
