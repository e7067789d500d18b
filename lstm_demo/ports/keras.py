"""nn.LSTM and nn.GRU as Keras 3 layers and back: :func:`~lstm_demo.ports.to_keras`, :func:`~lstm_demo.ports.lstm_from_keras`.

Keras 3 picks its backend when first imported (``KERAS_BACKEND``; PyTorch
here unless it says otherwise), so :func:`~lstm_demo.ports.keras_forward_on` runs another
backend (JAX) in a fresh Python process. Run as ``python -m
lstm_demo.ports.keras IN OUT``, this module is that process.
"""

from __future__ import annotations

import os
import subprocess
import sys
import tempfile
import warnings
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import numpy as np
import torch
from torch import nn

from lstm_demo._types import Result, State
from lstm_demo._validate import describe
from lstm_demo.ports.frameworks import require
from lstm_demo.ports.gates import keras_weights, module_from_keras_weights
from lstm_demo.ports.results import as_result, check_input


@contextmanager
def _quiet() -> Iterator[None]:
    """Keras 3.15's torch backend converts its tensors with ``np.array(x)``, which NumPy 2 warns about; the values are right."""
    with warnings.catch_warnings():
        warnings.filterwarnings("ignore", message="__array__ implementation doesn't accept a copy keyword")
        yield


#: The Keras layer classes a port reads, by name: nn.LSTM's and nn.GRU's counterparts.
KINDS = ("LSTM", "GRU")


def to_keras(module: nn.LSTM | nn.GRU) -> list[Any]:
    """``module`` as Keras 3 layers, one per layer: ``keras.layers.LSTM`` (or ``GRU``), built, with its weights.

    Each layer has ``return_sequences=True`` and ``return_state=True``;
    a bidirectional module's layers are ``keras.layers.Bidirectional``
    (``merge_mode="concat"``: forward then backward, as nn.LSTM's output). A
    GRU's have ``reset_after=True``, PyTorch's form. The layers take
    batch-major input ``(batch, time, features)``, Keras's only layout; run
    them in order, or with :func:`keras_run`. The weights are
    :func:`~lstm_demo.ports.keras_weights`; the layers' dtype is the module's.

    Raises
    ------
    TypeError
        If ``module`` is not an nn.LSTM or nn.GRU.
    ValueError
        If the LSTM has a projection.
    ~lstm_demo.ports.Unavailable
        If Keras is not installed.

    Examples
    --------
    >>> from torch import nn
    >>> from lstm_demo.ports import to_keras
    >>> [type(layer).__name__ for layer in to_keras(nn.LSTM(3, 4, num_layers=2, bidirectional=True))]
    ['Bidirectional', 'Bidirectional']
    """
    return keras_layers(
        module, keras_weights(module)
    )  # the weights check the module before Keras is imported


def keras_layers(
    module: nn.LSTM | nn.GRU,
    weights: Sequence[Sequence[np.ndarray]],
    *,
    first: int = 0,
    bidirectional: bool | None = None,
    **options: Any,
) -> list[Any]:
    """Built Keras 3 layers of ``module``'s kind, width and dtype, one per entry of ``weights``, holding those weights.

    What :func:`to_keras` returns for ``weights = keras_weights(module)``;
    other weights, Keras options (``recurrent_activation``, ``go_backwards``,
    ...) and ``bidirectional=False`` (one direction's layers of a
    bidirectional module) build the layers a port written another way
    would. ``first`` is the module's layer that ``weights[0]`` is (it sets the
    input width).

    Examples
    --------
    >>> from torch import nn
    >>> from lstm_demo.ports import keras_layers, keras_weights
    >>> gru = nn.GRU(3, 4)
    >>> (layer,) = keras_layers(gru, keras_weights(gru), recurrent_activation="hard_sigmoid")
    >>> layer.get_config()["recurrent_activation"], layer.get_config()["reset_after"]
    ('hard_sigmoid', True)
    """
    keras = require("keras")
    kind = "LSTM" if isinstance(module, nn.LSTM) else "GRU"
    dtype = str(next(module.parameters()).dtype).removeprefix("torch.")
    wrap = module.bidirectional if bidirectional is None else bidirectional
    settings: dict[str, Any] = {
        "return_sequences": True,
        "return_state": True,
        "use_bias": module.bias,
        "dtype": dtype,
        **({"reset_after": True} if kind == "GRU" else {}),
        **options,
    }
    layers = []
    for k, arrays in enumerate(weights, start=first):
        layer = getattr(keras.layers, kind)(module.hidden_size, **settings)
        if wrap:
            layer = keras.layers.Bidirectional(layer, merge_mode="concat", dtype=dtype)
        features = module.input_size if k == 0 else module.hidden_size * (2 if module.bidirectional else 1)
        with _quiet():
            layer.build((None, None, features))
            layer.set_weights(list(arrays))
        layers.append(layer)
    return layers


def _flat(layers: Any) -> list[Any]:
    if hasattr(layers, "layers") and not hasattr(layers, "forward_layer"):
        return list(layers.layers)  # a keras.Sequential or Model
    if isinstance(layers, Sequence) and not isinstance(layers, str):
        return list(layers)
    return [layers]


def _cell_config(layer: Any) -> tuple[str, bool, dict[str, Any]]:
    """``(kind, bidirectional, config)`` of a Keras LSTM/GRU layer or a Bidirectional around one."""
    name = type(layer).__name__
    if name == "Bidirectional":
        config = layer.get_config()
        if config.get("merge_mode") != "concat":
            msg = f"Expected a Bidirectional with merge_mode='concat' (nn.LSTM's output), but got {config.get('merge_mode')!r} instead."
            raise ValueError(msg)
        forward, backward = layer.forward_layer, layer.backward_layer
        kind, _, config = _cell_config(forward)
        back_kind, _, back_config = _cell_config(backward)
        if not back_config.get("go_backwards"):
            msg = "Expected a Bidirectional whose backward layer has go_backwards=True, but got go_backwards=False instead."
            raise ValueError(msg)
        same = {k: v for k, v in back_config.items() if k not in ("name", "go_backwards")}
        differ = sorted(k for k, v in same.items() if config.get(k) != v)
        if back_kind != kind or differ:
            msg = (
                "Expected a Bidirectional whose backward layer is configured as its forward layer "
                f"(nn.{kind} has one configuration for both directions), but got different {', '.join(differ) or 'kinds'} instead."
            )
            raise ValueError(msg)
        return kind, True, config
    if name not in KINDS:
        msg = f"Expected Keras LSTM, GRU or Bidirectional layers, but got {describe(layer)} instead."
        raise TypeError(msg)
    return name, False, layer.get_config()


def _activation(value: Any) -> str:
    return value if isinstance(value, str) else str(getattr(value, "__name__", value))


def lstm_from_keras(layers: Any, *, batch_first: bool = True) -> nn.LSTM | nn.GRU:
    """The ``nn.LSTM`` (or ``nn.GRU``) that computes what these built Keras 3 layers compute.

    ``layers``: one ``keras.layers.LSTM``/``GRU`` or ``Bidirectional``, a
    list of them (a stack, each layer reading the last one's sequence), or a
    ``keras.Sequential`` of them. Keras's one LSTM bias becomes
    ``bias_ih`` (``bias_hh`` zero: only the sum matters). Keras needs not be
    imported: the layers' configurations and ``get_weights()`` are read.

    Raises
    ------
    TypeError
        If a layer is not an LSTM, GRU or Bidirectional.
    ValueError
        Where nn.LSTM computes something else: an activation other than
        tanh or a recurrent activation other than sigmoid (``hard_sigmoid``,
        the default of Keras 2.2 and earlier), ``go_backwards``, ``stateful``, a GRU with
        ``reset_after=False``, layers of different kinds or widths, a
        Bidirectional that does not concatenate.

    Examples
    --------
    >>> import torch
    >>> from torch import nn
    >>> from lstm_demo.ports import lstm_from_keras, to_keras
    >>> lstm = nn.LSTM(3, 4, num_layers=2, batch_first=True)
    >>> back = lstm_from_keras(to_keras(lstm))
    >>> x = torch.randn(2, 5, 3)
    >>> torch.testing.assert_close(back(x)[0], lstm(x)[0], rtol=1e-6, atol=1e-6)
    """
    found = _flat(layers)
    if not found:
        msg = "Expected at least one Keras layer, but got none instead."
        raise ValueError(msg)
    configs = [_cell_config(layer) for layer in found]
    kinds = {(kind, bidirectional) for kind, bidirectional, _ in configs}
    if len(kinds) != 1:
        msg = f"Expected layers of one kind and direction, but got {sorted(kinds)} instead."
        raise ValueError(msg)
    ((kind, bidirectional),) = kinds
    for _, _, config in configs:
        wrong = {
            "activation": ("tanh", _activation(config.get("activation"))),
            "recurrent_activation": ("sigmoid", _activation(config.get("recurrent_activation"))),
        }
        for option, (want, got) in wrong.items():
            if got != want:
                msg = f"Expected {option}={want!r} (what nn.{kind} computes), but got {got!r} instead."
                raise ValueError(msg)
        for option in ("go_backwards", "stateful"):
            if config.get(option):
                msg = f"Expected {option}=False, but got {option}=True instead: nn.{kind} has no such option."
                raise ValueError(msg)
        if kind == "GRU" and not config.get("reset_after", True):
            msg = "Expected reset_after=True (PyTorch's GRU, r * (W_hn h + b_hn)), but got reset_after=False instead."
            raise ValueError(msg)
    biases = {bool(config.get("use_bias", True)) for _, _, config in configs}
    if len(biases) != 1:
        msg = "Expected use_bias the same in every layer, but got both True and False instead."
        raise ValueError(msg)
    units = {config["units"] for _, _, config in configs}
    if len(units) != 1:
        msg = f"Expected the same units in every layer (nn.{kind}'s hidden_size), but got {sorted(units)} instead."
        raise ValueError(msg)
    with _quiet():
        weights = [[np.asarray(w) for w in layer.get_weights()] for layer in found]
    return module_from_keras_weights(
        kind, weights, bidirectional=bidirectional, bias=biases.pop(), batch_first=batch_first
    )


def keras_run(
    layers: Sequence[Any], input: np.ndarray, states: Sequence[Sequence[np.ndarray]] | None = None
) -> tuple[np.ndarray, list[list[np.ndarray]]]:
    """Run built Keras recurrent layers in order on batch-major ``input``: the last sequence, and each layer's final states.

    ``states``: per layer, the initial states Keras takes (``[h, c]``; a
    Bidirectional's ``[h_f, c_f, h_b, c_b]``; a GRU's without the ``c``). The
    arrays come back as Keras computed them (their dtype is the backend's).
    """
    keras = require("keras")
    x: Any = input
    finals = []
    with _quiet():
        for k, layer in enumerate(layers):
            initial = None if states is None else [np.asarray(s) for s in states[k]]
            out = layer(x, initial_state=initial) if initial is not None else layer(x)
            x = out[0]
            finals.append([keras.ops.convert_to_numpy(s) for s in out[1:]])
        return keras.ops.convert_to_numpy(x), finals


def _keras_states(module: nn.RNNBase, hx: State | None) -> list[list[np.ndarray]] | None:
    if hx is None:
        return None
    tensors = hx if isinstance(hx, tuple) else (hx,)
    dirs = 2 if module.bidirectional else 1
    per_layer = []
    for k in range(module.num_layers):
        arrays = []
        for d in range(dirs):
            arrays += [t[k * dirs + d].detach().cpu().numpy() for t in tensors]
        per_layer.append(arrays)
    return per_layer


def _as_result(
    module: nn.RNNBase, output: np.ndarray, finals: list[list[np.ndarray]], like: torch.Tensor
) -> Result:
    """Keras's last sequence and per-layer final states (``h, c`` per direction) as nn.LSTM's result."""
    per = 2 if isinstance(module, nn.LSTM) else 1
    states = [a for arrays in finals for a in arrays]
    c = states[1::per] if per == 2 else []
    return as_result(module, output, states[0::per], c, time_major=False, device=like.device)


def keras_forward(
    module: nn.LSTM | nn.GRU,
    input: torch.Tensor,
    hx: State | None = None,
    *,
    layers: Sequence[Any] | None = None,
) -> Result:
    """``module(input, hx)`` computed by Keras 3: :func:`to_keras` of the module, run by :func:`keras_run`.

    ``input`` and ``hx`` in the module's layout; the result in nn.LSTM's (or
    nn.GRU's) shapes, in the dtype Keras computed in. ``layers`` are run
    instead of ``to_keras(module)``, which then gives only the layout and the
    state's shape: how layers built elsewhere are checked.

    Examples
    --------
    >>> import torch
    >>> from torch import nn
    >>> from lstm_demo.ports import keras_forward
    >>> gru, x = nn.GRU(3, 4, bidirectional=True), torch.randn(5, 2, 3)
    >>> output, h_n = keras_forward(gru, x)
    >>> torch.testing.assert_close(output, gru(x)[0]); h_n.shape
    torch.Size([2, 2, 4])
    """
    check_input(input, "Keras")
    run = to_keras(module) if layers is None else layers
    x = input if module.batch_first else input.transpose(0, 1)
    output, finals = keras_run(run, x.detach().cpu().numpy(), _keras_states(module, hx))
    return _as_result(module, output, finals, input)


#: Keras's backends :func:`keras_forward_on` runs.
BACKENDS = ("torch", "jax")


def keras_forward_on(
    backend: str,
    module: nn.LSTM | nn.GRU,
    input: torch.Tensor,
    hx: State | None = None,
    *,
    x64: bool = False,
) -> tuple[Result, str]:
    """:func:`keras_forward` on another Keras backend, in a new Python process: the result and its dtype.

    The process gets ``KERAS_BACKEND=backend`` (and for JAX,
    ``JAX_ENABLE_X64`` as ``x64`` says); the module and inputs travel as
    tensors (``torch.save``, read back with ``weights_only=True``). The
    dtype is the one Keras computed in, which need not be the module's: JAX
    without x64 computes float64 layers in float32.

    Raises
    ------
    ValueError
        If ``backend`` is not one of :data:`BACKENDS`.
    RuntimeError
        If the process fails, with its last lines of output.
    """
    if backend not in BACKENDS:
        msg = f"Expected backend among {', '.join(BACKENDS)}, but got {backend!r} instead."
        raise ValueError(msg)
    if not isinstance(module, (nn.LSTM, nn.GRU)):
        msg = f"Expected an nn.LSTM or nn.GRU, but got {describe(module)} instead."
        raise TypeError(msg)
    config = {
        "kind": "LSTM" if isinstance(module, nn.LSTM) else "GRU",
        "input_size": module.input_size,
        "hidden_size": module.hidden_size,
        "num_layers": module.num_layers,
        "bias": module.bias,
        "batch_first": module.batch_first,
        "bidirectional": module.bidirectional,
    }
    state = {k: v.detach().cpu() for k, v in module.state_dict().items()}
    tensors = () if hx is None else (hx if isinstance(hx, tuple) else (hx,))
    env = {
        **os.environ,
        "KERAS_BACKEND": backend,
        "JAX_ENABLE_X64": "1" if x64 else "0",
        "JAX_PLATFORMS": "cpu",
    }
    with tempfile.TemporaryDirectory() as folder:
        given, got = Path(folder) / "in.pt", Path(folder) / "out.pt"
        torch.save(
            {"config": config, "state": state, "input": input.detach().cpu(), "hx": list(tensors)}, given
        )
        done = subprocess.run(
            [sys.executable, "-m", "lstm_demo.ports.keras", str(given), str(got)],
            env=env,
            capture_output=True,
            text=True,
            check=False,
        )
        if done.returncode:
            tail = "\n".join((done.stdout + done.stderr).strip().splitlines()[-5:])
            msg = f"Expected the Keras {backend} process to succeed, but it exited {done.returncode}:\n{tail}"
            raise RuntimeError(msg)
        found = torch.load(got, weights_only=True)
    arrays = [t.to(input.device) for t in found["result"]]
    result: Result = (
        (arrays[0], (arrays[1], arrays[2])) if config["kind"] == "LSTM" else (arrays[0], arrays[1])
    )
    return result, str(found["dtype"])


def _main(given: str, got: str) -> None:
    """The process :func:`keras_forward_on` starts: rebuild the module, run it in Keras, save the result."""
    payload = torch.load(given, weights_only=True)
    config = dict(payload["config"])
    cls = nn.LSTM if config.pop("kind") == "LSTM" else nn.GRU
    dtype = payload["input"].dtype
    module = cls(**config, dtype=dtype)
    module.load_state_dict(payload["state"])
    hx = payload["hx"]
    state = None if not hx else (tuple(hx) if len(hx) == 2 else hx[0])
    layers = to_keras(module)
    x = payload["input"] if module.batch_first else payload["input"].transpose(0, 1)
    output, finals = keras_run(layers, x.numpy(), _keras_states(module, state))
    computed = str(output.dtype)
    y, final = _as_result(module, output, finals, payload["input"])
    leaves = [y, *(final if isinstance(final, tuple) else (final,))]
    torch.save({"result": [t.contiguous() for t in leaves], "dtype": computed}, got)


if __name__ == "__main__":
    _main(*sys.argv[1:3])


__all__ = [
    "BACKENDS",
    "KINDS",
    "keras_forward",
    "keras_forward_on",
    "keras_run",
    "lstm_from_keras",
    "to_keras",
]
