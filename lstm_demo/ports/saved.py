"""An nn.LSTM or nn.GRU saved as a file another framework reads, and that file run: what ``python -m lstm_demo port`` does.

:func:`~lstm_demo.ports.save_port` writes ``onnx`` (the :func:`~lstm_demo.ports.onnx_model`
graph, ``onnx.save``), ``keras`` (a ``.keras`` model of the
:func:`~lstm_demo.ports.to_keras` layers, built with Keras's functional API:
``keras.Input((None, input_size))``, the layers in turn, outputs the last
sequence then every layer's final states) or ``flax`` (the
:func:`~lstm_demo.ports.flax_params` in a ``.npz``, keys
:data:`~lstm_demo.ports.FLAX_KEY`). :func:`~lstm_demo.ports.run_saved` reads the file back and runs it in its
framework, with the module's forward contract, so the two can be compared.
"""

from __future__ import annotations

import warnings
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import numpy as np
import torch
from torch import nn

from lstm_demo._types import Result
from lstm_demo._validate import describe
from lstm_demo.ports.flax import flax_forward
from lstm_demo.ports.frameworks import require
from lstm_demo.ports.gates import flax_params, lstm_from_flax_params
from lstm_demo.ports.keras import to_keras
from lstm_demo.ports.onnx import default_runtime, onnx_model, run_onnx
from lstm_demo.ports.results import as_result

#: The key of each array in a Flax ``.npz``: per layer and direction, the ``OptimizedLSTMCell``'s parameter path.
FLAX_KEY = "layer{layer}/{direction}/{dense}/{param}"
_DIRECTIONS = ("forward", "backward")
_FLAX_PARAMS = (("dense_i", "kernel"), ("dense_h", "kernel"), ("dense_h", "bias"))


@contextmanager
def _quiet() -> Iterator[None]:
    """Keras 3.15's torch backend converts its tensors with ``np.array(x)``, which NumPy 2 warns about; the values are right."""
    with warnings.catch_warnings():
        warnings.filterwarnings("ignore", message="__array__ implementation doesn't accept a copy keyword")
        yield


def _check(module: object) -> nn.LSTM | nn.GRU:
    if not isinstance(module, (nn.LSTM, nn.GRU)):
        msg = f"Expected an nn.LSTM or nn.GRU, but got {describe(module)} instead."
        raise TypeError(msg)
    return module


def _zeros_state(module: nn.LSTM | nn.GRU, batch: int, dtype: torch.dtype) -> np.ndarray:
    dirs = 2 if module.bidirectional else 1
    return np.zeros((dirs, batch, module.hidden_size), dtype=torch.empty((), dtype=dtype).numpy().dtype)


def save_onnx(module: nn.LSTM | nn.GRU, path: Path) -> None:
    """Write :func:`~lstm_demo.ports.onnx_model` of ``module`` to ``path`` (``onnx.save``)."""
    model = onnx_model(module)
    require("onnx").save(model, str(path))


def run_onnx_file(module: nn.LSTM | nn.GRU, path: Path, input: torch.Tensor) -> Result:
    """The ONNX model at ``path`` (``onnx.load``) on time-major ``input``, zero initial states, in :func:`~lstm_demo.ports.run_onnx`."""
    model = require("onnx").load(str(path))
    feeds = {"input": input.detach().cpu().numpy()}
    for value in model.graph.input:
        if value.name != "input":
            feeds[value.name] = _zeros_state(module, input.shape[1], input.dtype)
    output, *states = run_onnx(model, feeds, runtime=default_runtime(input.dtype))
    return as_result(module, output, states[0], states[-1], time_major=True)


def save_keras(module: nn.LSTM | nn.GRU, path: Path) -> None:
    """Write ``module`` as a Keras 3 ``.keras`` model: the :func:`~lstm_demo.ports.to_keras` layers, chained.

    Raises
    ------
    ValueError
        If ``path`` does not end ``.keras``, Keras 3's native format.
    """
    if Path(path).suffix != ".keras":
        msg = f"Expected a path ending .keras (Keras 3's model format), but got {str(path)!r} instead."
        raise ValueError(msg)
    layers = to_keras(module)
    keras = require("keras")
    dtype = str(next(module.parameters()).dtype).removeprefix("torch.")
    inputs = keras.Input((None, module.input_size), dtype=dtype, name="input")
    x, states = inputs, []
    with _quiet():
        for layer in layers:
            x, *finals = layer(x)
            states += finals
        model = keras.Model(inputs, [x, *states], name=f"nn_{type(module).__name__.lower()}")
        model.save(str(path))


def run_keras_file(module: nn.LSTM | nn.GRU, path: Path, input: torch.Tensor) -> Result:
    """The ``.keras`` model at ``path`` (``keras.saving.load_model``) on time-major ``input``, in nn.LSTM's shapes.

    Its outputs are the last sequence, then per layer and direction ``h``
    (and ``c``): nn.LSTM's order of ``h_n`` and ``c_n``.
    """
    keras = require("keras")
    with _quiet():
        model = keras.saving.load_model(str(path))
        outputs = [keras.ops.convert_to_numpy(o) for o in model(input.detach().cpu().numpy().swapaxes(0, 1))]
    per = 2 if isinstance(module, nn.LSTM) else 1
    states = outputs[1:]
    return as_result(module, outputs[0], states[0::per], states[1::per], time_major=False)


def save_flax(module: nn.LSTM | nn.GRU, path: Path) -> None:
    """Write :func:`~lstm_demo.ports.flax_params` of an nn.LSTM to ``path`` as a ``.npz``, keys :data:`FLAX_KEY`.

    The name is kept as given (``numpy.savez`` would add ``.npz``).

    Raises
    ------
    TypeError
        If ``module`` is not an nn.LSTM: Flax's ``OptimizedLSTMCell`` is an LSTM.
    """
    if not isinstance(module, nn.LSTM):
        msg = (
            "Expected an nn.LSTM for Flax (nnx.OptimizedLSTMCell is an LSTM cell), "
            f"but got {describe(module)} instead."
        )
        raise TypeError(msg)
    arrays: dict[str, Any] = {
        FLAX_KEY.format(layer=k, direction=_DIRECTIONS[d], dense=dense, param=param): cell[dense][param]
        for k, cells in enumerate(flax_params(module))
        for d, cell in enumerate(cells)
        for dense, param in _FLAX_PARAMS
    }
    with open(path, "wb") as file:
        np.savez(file, **arrays)


def load_flax_params(path: Path) -> list[tuple[dict[str, dict[str, np.ndarray]], ...]]:
    """The per-layer, per-direction ``OptimizedLSTMCell`` parameters of a ``.npz`` ``port --to flax`` wrote.

    Raises
    ------
    ValueError
        If its keys are not :data:`~lstm_demo.ports.FLAX_KEY`'s, layer by layer from 0.
    """
    with np.load(path, allow_pickle=False) as found:
        arrays = {key: found[key] for key in found.files}
    names = sorted(arrays)
    layers: list[tuple[dict[str, dict[str, np.ndarray]], ...]] = []
    while any(key.startswith(f"layer{len(layers)}/") for key in arrays):
        k = len(layers)
        directions = [d for d in _DIRECTIONS if f"layer{k}/{d}/dense_i/kernel" in arrays]
        cells = []
        for direction in directions:
            cell: dict[str, dict[str, np.ndarray]] = {"dense_i": {}, "dense_h": {}}
            for dense, param in _FLAX_PARAMS:
                key = FLAX_KEY.format(layer=k, direction=direction, dense=dense, param=param)
                if key not in arrays:
                    msg = f"Expected {key} in {path}, but got only {names} instead."
                    raise ValueError(msg)
                cell[dense][param] = arrays.pop(key)
            cells.append(cell)
        layers.append(tuple(cells))
    if arrays or not layers:
        msg = f"Expected only keys like {FLAX_KEY} from layer0, but got {sorted(arrays) or 'none'} instead."
        raise ValueError(msg)
    return layers


def run_flax_file(module: nn.LSTM | nn.GRU, path: Path, input: torch.Tensor) -> Result:
    """The Flax parameters at ``path`` in ``OptimizedLSTMCell`` s (:func:`~lstm_demo.ports.flax_forward`) on time-major ``input``."""
    lstm = lstm_from_flax_params(load_flax_params(path), batch_first=False)
    return flax_forward(lstm, input)


#: Each target's writer: ``(module, path) -> None``.
SAVERS: dict[str, Callable[[nn.LSTM | nn.GRU, Path], None]] = {
    "onnx": save_onnx,
    "keras": save_keras,
    "flax": save_flax,
}

#: Each target's reader and runner: ``(module, path, time-major input) -> (output, state)``.
RUNNERS: dict[str, Callable[[nn.LSTM | nn.GRU, Path, torch.Tensor], Result]] = {
    "onnx": run_onnx_file,
    "keras": run_keras_file,
    "flax": run_flax_file,
}


def _target(to: str) -> str:
    if to not in SAVERS:
        msg = f"Expected a target among {', '.join(SAVERS)}, but got {to!r} instead."
        raise ValueError(msg)
    return to


def save_port(module: nn.LSTM | nn.GRU, to: str, path: str | Path) -> None:
    """Write ``module`` to ``path`` in the format of ``to``: ``"onnx"``, ``"keras"`` or ``"flax"``.

    Raises
    ------
    TypeError
        If ``module`` is not an nn.LSTM or nn.GRU (or not an nn.LSTM, for Flax).
    ValueError
        If ``to`` is unknown, the LSTM has ``proj_size > 0`` (no target has
        a projection), or a Keras path does not end ``.keras``.
    ~lstm_demo.ports.Unavailable
        If the target's framework is not installed.

    Examples
    --------
    >>> import tempfile, torch
    >>> from pathlib import Path
    >>> from torch import nn
    >>> from lstm_demo.ports import run_saved, save_port
    >>> gru, x = nn.GRU(3, 4, num_layers=2), torch.randn(5, 2, 3)
    >>> with tempfile.TemporaryDirectory() as folder:
    ...     save_port(gru, "onnx", Path(folder) / "gru.onnx")
    ...     output, h_n = run_saved(gru, "onnx", Path(folder) / "gru.onnx", x)
    >>> torch.testing.assert_close(output, gru(x)[0]); h_n.shape
    torch.Size([2, 2, 4])
    """
    SAVERS[_target(to)](_check(module), Path(path))


def run_saved(module: nn.LSTM | nn.GRU, to: str, path: str | Path, input: torch.Tensor) -> Result:
    """The file :func:`~lstm_demo.ports.save_port` wrote, read back and run on ``input`` in its framework, zero initial states.

    ``input`` is time-major ``(seq_len, batch, input_size)`` (the module
    gives only the kind, layers and directions to read the outputs by); the
    result is in nn.LSTM's (or nn.GRU's) shapes, on the CPU.

    Raises
    ------
    TypeError
        If ``input`` is not a 3-D tensor.
    """
    if not isinstance(input, torch.Tensor) or input.dim() != 3:
        msg = f"Expected input to be a 3-D tensor (seq_len, batch, input_size), but got {describe(input)} instead."
        raise TypeError(msg)
    return RUNNERS[_target(to)](_check(module), Path(path), input)


__all__ = [
    "FLAX_KEY",
    "RUNNERS",
    "SAVERS",
    "load_flax_params",
    "run_saved",
    "save_port",
]
