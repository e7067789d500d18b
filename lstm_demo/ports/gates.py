"""nn.LSTM's and nn.GRU's weights in ONNX's, Keras 3's and Flax's layouts and gate orders, and back.

Pure numpy and torch: nothing here imports a framework. Each function maps
the weights one layer and direction at a time; the gate orders are
:data:`~lstm_demo.ports.GATE_ORDERS`.

=========  =================  ==================================================
framework  LSTM gates         weights of one layer and direction
=========  =================  ==================================================
PyTorch    i, f, g, o         ``weight_ih (4H, in)``, ``weight_hh (4H, H)``, ``bias_ih``, ``bias_hh``
ONNX       i, o, f, c         ``W [dirs, 4H, in]``, ``R [dirs, 4H, H]``, ``B [dirs, 8H] = [Wb, Rb]``
Keras 3    i, f, c, o         ``kernel (in, 4H)``, ``recurrent_kernel (H, 4H)``, one ``bias (4H)``
Flax nnx   i, f, g, o         ``dense_i.kernel (in, 4H)``, ``dense_h.kernel (H, 4H)``, ``dense_h.bias``
=========  =================  ==================================================

GRUs: PyTorch r, z, n; ONNX and Keras z, r, h (ONNX with
``linear_before_reset=1``, Keras with ``reset_after=True``: PyTorch's form,
``r * (W_hn h + b_hn)``), Keras's bias ``(2, 3H)``: the input's row, then the
recurrent one.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

import numpy as np
import torch
from torch import nn

from lstm_demo._validate import describe

#: Each framework's gate order, by the letters PyTorch's docs use (LSTM: i, f, g, o; GRU: r, z, n).
GATE_ORDERS: dict[str, dict[str, tuple[str, ...]]] = {
    "LSTM": {
        "torch": ("i", "f", "g", "o"),
        "onnx": ("i", "o", "f", "g"),  # ONNX's c is PyTorch's g
        "keras": ("i", "f", "g", "o"),  # Keras's c is PyTorch's g
        "flax": ("i", "f", "g", "o"),
    },
    "GRU": {
        "torch": ("r", "z", "n"),
        "onnx": ("z", "r", "n"),  # ONNX's h is PyTorch's n
        "keras": ("z", "r", "n"),
    },
}

#: Arrays as ONNX's LSTM/GRU node takes them for one layer: ``W``, ``R`` and ``B``.
OnnxLayer = dict[str, np.ndarray]


def _kind(module: object, what: str = "module") -> str:
    if isinstance(module, nn.LSTM):
        return "LSTM"
    if isinstance(module, nn.GRU):
        return "GRU"
    msg = f"Expected {what} to be an nn.LSTM or nn.GRU, but got {describe(module)} instead."
    raise TypeError(msg)


def _no_projection(module: nn.RNNBase, target: str) -> None:
    if isinstance(module, nn.LSTM) and module.proj_size > 0:
        msg = (
            f"Expected an nn.LSTM with proj_size=0 ({target}'s LSTM has no projection, so weight_hr "
            f"has nowhere to go), but got proj_size={module.proj_size} instead."
        )
        raise ValueError(msg)


def reorder(weight: np.ndarray, kind: str, source: str, target: str, axis: int = 0) -> np.ndarray:
    """``weight`` with its gate blocks along ``axis`` moved from ``source``'s order to ``target``'s.

    Examples
    --------
    >>> import numpy as np
    >>> from lstm_demo.ports import reorder
    >>> reorder(np.arange(4), "LSTM", "torch", "onnx").tolist()  # i, f, g, o -> i, o, f, c
    [0, 3, 1, 2]
    >>> reorder(np.arange(3), "GRU", "torch", "keras").tolist()  # r, z, n -> z, r, h
    [1, 0, 2]
    """
    orders = GATE_ORDERS[kind]
    blocks = np.split(weight, len(orders[source]), axis=axis)
    by_gate = dict(zip(orders[source], blocks, strict=True))
    return np.concatenate([by_gate[g] for g in orders[target]], axis=axis)


def _numpy(tensor: torch.Tensor) -> np.ndarray:
    array: np.ndarray = tensor.detach().cpu().numpy().copy()
    return array


def _suffix(direction: int) -> str:
    return "_reverse" if direction else ""


def _params(module: nn.RNNBase, layer: int, direction: int) -> dict[str, np.ndarray]:
    """One layer and direction's weights as numpy arrays; zeros for the biases of ``bias=False``."""
    end = f"_l{layer}{_suffix(direction)}"
    w_ih, w_hh = getattr(module, f"weight_ih{end}"), getattr(module, f"weight_hh{end}")
    found = {"weight_ih": _numpy(w_ih), "weight_hh": _numpy(w_hh)}
    for name in ("bias_ih", "bias_hh"):
        found[name] = (
            _numpy(getattr(module, f"{name}{end}"))
            if module.bias
            else np.zeros(len(found["weight_ih"]), found["weight_ih"].dtype)
        )
    return found


def _directions(module: nn.RNNBase) -> int:
    return 2 if module.bidirectional else 1


def onnx_weights(module: nn.LSTM | nn.GRU) -> list[OnnxLayer]:
    """``module``'s weights as ONNX's LSTM (or GRU) node takes them: one dict per layer.

    Each dict holds ``W`` ``[num_directions, G*H, input]``, ``R``
    ``[num_directions, G*H, H]`` and ``B`` ``[num_directions, 2*G*H]`` (``G``
    = 4 gates for an LSTM, 3 for a GRU), numpy arrays of the module's dtype,
    gates in ONNX's order (LSTM i, o, f, c; GRU z, r, h), ``B`` the input
    biases then the recurrent ones (zeros when the module has ``bias=False``).
    A GRU's node must say ``linear_before_reset=1``, PyTorch's form.

    Raises
    ------
    TypeError
        If ``module`` is not an nn.LSTM or nn.GRU.
    ValueError
        If the LSTM has ``proj_size > 0``: ONNX's LSTM has no projection.

    Examples
    --------
    >>> from torch import nn
    >>> from lstm_demo.ports import onnx_weights
    >>> layers = onnx_weights(nn.LSTM(3, 4, num_layers=2, bidirectional=True))
    >>> [{k: v.shape for k, v in layer.items()} for layer in layers]
    [{'W': (2, 16, 3), 'R': (2, 16, 4), 'B': (2, 32)}, {'W': (2, 16, 8), 'R': (2, 16, 4), 'B': (2, 32)}]
    """
    kind = _kind(module)
    _no_projection(module, "ONNX")
    layers = []
    for layer in range(module.num_layers):
        found: dict[str, list[np.ndarray]] = {"W": [], "R": [], "B": []}
        for direction in range(_directions(module)):
            p = _params(module, layer, direction)
            found["W"].append(reorder(p["weight_ih"], kind, "torch", "onnx"))
            found["R"].append(reorder(p["weight_hh"], kind, "torch", "onnx"))
            biases = [reorder(p[b], kind, "torch", "onnx") for b in ("bias_ih", "bias_hh")]
            found["B"].append(np.concatenate(biases))
        layers.append({k: np.stack(v) for k, v in found.items()})
    return layers


def _array(value: Any, name: str, ndim: int) -> np.ndarray:
    if isinstance(value, torch.Tensor):
        value = _numpy(value)
    if not isinstance(value, np.ndarray) or value.dtype not in (np.float32, np.float64) or value.ndim != ndim:
        got = (
            f"an array of dtype {value.dtype} and shape {value.shape}"
            if isinstance(value, np.ndarray)
            else describe(value)
        )
        msg = f"Expected {name} to be a {ndim}-D float32 or float64 array, but got {got} instead."
        raise ValueError(msg)
    return value


def _expect_shape(name: str, array: np.ndarray, shape: tuple[int, ...], where: str) -> None:
    if array.shape != shape:
        msg = f"Expected {name} of shape {list(shape)} ({where}), but got {list(array.shape)} instead."
        raise ValueError(msg)


_DIRECTIONS = {"forward": 1, "bidirectional": 2}
_REVERSE = (
    'Expected direction "forward" or "bidirectional", but got "reverse" instead: nn.LSTM has no '
    "reverse-only direction. Flip the sequence in time (torch.flip(x, [0]) time-major), run the "
    "lstm_from_onnx(W, R, B) of the same weights, and flip its output back."
)


def _from_onnx(
    kind: str,
    W: Any,
    R: Any,
    B: Any,
    *,
    direction: str,
    layout: int,
) -> nn.RNNBase:
    gates = 4 if kind == "LSTM" else 3
    if direction == "reverse":
        raise ValueError(
            _REVERSE.replace("nn.LSTM", f"nn.{kind}").replace("lstm_from", f"{kind.lower()}_from")
        )
    if direction not in _DIRECTIONS:
        msg = f'Expected direction "forward" or "bidirectional", but got {direction!r} instead.'
        raise ValueError(msg)
    if layout not in (0, 1):
        msg = f"Expected layout 0 (time-major) or 1 (batch-major), but got {layout!r} instead."
        raise ValueError(msg)
    w, r = _array(W, "W", 3), _array(R, "R", 3)
    dirs = _DIRECTIONS[direction]
    hidden = r.shape[-1]
    where = f'num_directions={dirs} for "{direction}", {gates} gates, hidden_size={hidden} from R'
    _expect_shape("W", w, (dirs, gates * hidden, w.shape[-1]), where)
    _expect_shape("R", r, (dirs, gates * hidden, hidden), where)
    b = None
    if B is not None:
        b = _array(B, "B", 2)
        _expect_shape("B", b, (dirs, 2 * gates * hidden), where)
    if r.dtype != w.dtype or (b is not None and b.dtype != w.dtype):
        msg = f"Expected W, R and B of one dtype, but got {w.dtype}, {r.dtype} and {None if b is None else b.dtype} instead."
        raise ValueError(msg)
    dtype = torch.float64 if w.dtype == np.float64 else torch.float32
    cls = nn.LSTM if kind == "LSTM" else nn.GRU
    module = cls(
        w.shape[-1],
        hidden,
        bias=b is not None,
        batch_first=layout == 1,
        bidirectional=dirs == 2,
        dtype=dtype,
    )
    with torch.no_grad():
        for d in range(dirs):
            end = f"_l0{_suffix(d)}"
            getattr(module, f"weight_ih{end}").copy_(torch.from_numpy(reorder(w[d], kind, "onnx", "torch")))
            getattr(module, f"weight_hh{end}").copy_(torch.from_numpy(reorder(r[d], kind, "onnx", "torch")))
            if b is not None:
                w_b, r_b = np.split(b[d], 2)
                getattr(module, f"bias_ih{end}").copy_(torch.from_numpy(reorder(w_b, kind, "onnx", "torch")))
                getattr(module, f"bias_hh{end}").copy_(torch.from_numpy(reorder(r_b, kind, "onnx", "torch")))
    return module


def lstm_from_onnx(
    W: Any,
    R: Any,
    B: Any = None,
    *,
    direction: str = "forward",
    layout: int = 0,
    P: Any = None,
) -> nn.LSTM:
    """The one-layer ``nn.LSTM`` that computes what an ONNX ``LSTM`` node with these inputs computes.

    The node's default attributes are assumed (sigmoid, tanh, tanh; no
    ``clip``; ``input_forget=0``): the only ones ``nn.LSTM`` computes.

    Parameters
    ----------
    W, R : numpy.ndarray or torch.Tensor
        ``[num_directions, 4H, input]`` and ``[num_directions, 4H, H]``,
        gates i, o, f, c; float32 or float64 (the module's dtype).
    B : numpy.ndarray or torch.Tensor, optional
        ``[num_directions, 8H]``; without it the module has ``bias=False``
        (ONNX's missing ``B`` is zeros).
    direction : str
        The node's ``direction``, ``"forward"`` or ``"bidirectional"``;
        ``"bidirectional"`` gives ``bidirectional=True``.
    layout : int
        The node's ``layout``, 0 or 1: 1 (batch-major) gives ``batch_first=True``.
    P : numpy.ndarray or torch.Tensor, optional
        Peephole weights ``[num_directions, 3H]``: only all zeros (or
        ``None``) is accepted.

    Raises
    ------
    ValueError
        For peepholes (``nn.LSTM`` has none), ``direction="reverse"``
        (``nn.LSTM`` has no reverse-only direction: flip the sequence), or
        arrays of the wrong shape or dtype; before anything is built.

    Examples
    --------
    >>> import torch
    >>> from torch import nn
    >>> from lstm_demo.ports import lstm_from_onnx, onnx_weights
    >>> lstm = nn.LSTM(3, 4, bidirectional=True)
    >>> rebuilt = lstm_from_onnx(**onnx_weights(lstm)[0], direction="bidirectional")
    >>> all(torch.equal(a, b) for a, b in zip(rebuilt.parameters(), lstm.parameters()))
    True
    >>> lstm_from_onnx(**onnx_weights(lstm)[0])
    Traceback (most recent call last):
        ...
    ValueError: Expected W of shape [1, 16, 3] (num_directions=1 for "forward", 4 gates, hidden_size=4 from R), but got [2, 16, 3] instead.
    """
    if P is not None:
        p = _array(P, "P", 2)
        if bool(np.any(p != 0)):
            msg = (
                "Expected no peepholes (P all zeros or None), but got P with nonzero weights instead: "
                "nn.LSTM has no peephole connections (c into the i, f and o gates), so no nn.LSTM "
                "computes this node."
            )
            raise ValueError(msg)
    module = _from_onnx("LSTM", W, R, B, direction=direction, layout=layout)
    assert isinstance(module, nn.LSTM)
    return module


def gru_from_onnx(
    W: Any,
    R: Any,
    B: Any = None,
    *,
    direction: str = "forward",
    layout: int = 0,
    linear_before_reset: int = 1,
) -> nn.GRU:
    """The one-layer ``nn.GRU`` an ONNX ``GRU`` node with these inputs computes (gates z, r, h).

    Only ``linear_before_reset=1`` is PyTorch's GRU, ``r * (W_hn h + b_hn)``;
    ONNX's default, 0, is Cho et al.'s ``W_hn (r * h)``, which no ``nn.GRU``
    computes.

    Raises
    ------
    ValueError
        For ``linear_before_reset=0``, ``direction="reverse"``, or arrays of
        the wrong shape or dtype.

    Examples
    --------
    >>> import torch
    >>> from torch import nn
    >>> from lstm_demo.ports import gru_from_onnx, onnx_weights
    >>> gru = nn.GRU(3, 4)
    >>> rebuilt = gru_from_onnx(**onnx_weights(gru)[0])
    >>> all(torch.equal(a, b) for a, b in zip(rebuilt.parameters(), gru.parameters()))
    True
    """
    if linear_before_reset != 1:
        msg = (
            f"Expected linear_before_reset=1 (PyTorch's GRU: r * (W_hn h + b_hn)), but got "
            f"{linear_before_reset!r} instead: ONNX's default computes W_hn (r * h), Cho et al.'s "
            "form, which no nn.GRU computes."
        )
        raise ValueError(msg)
    module = _from_onnx("GRU", W, R, B, direction=direction, layout=layout)
    assert isinstance(module, nn.GRU)
    return module


def keras_weights(module: nn.LSTM | nn.GRU) -> list[list[np.ndarray]]:
    """``module``'s weights as Keras 3's ``set_weights`` takes them, one list per layer.

    An LSTM layer gives ``[kernel (in, 4H), recurrent_kernel (H, 4H), bias
    (4H)]`` (``weight_ih.T``, ``weight_hh.T``, ``bias_ih + bias_hh``; gates i,
    f, c, o, PyTorch's order), a GRU layer ``[kernel (in, 3H),
    recurrent_kernel (H, 3H), bias (2, 3H)]`` in the order z, r, h, for
    ``reset_after=True``. A bidirectional layer gives the forward
    direction's arrays then the backward's, the order of
    ``keras.layers.Bidirectional``'s weights. Without biases
    (``bias=False``) the list has no bias: the layer takes ``use_bias=False``.

    Raises
    ------
    TypeError
        If ``module`` is not an nn.LSTM or nn.GRU.
    ValueError
        If the LSTM has ``proj_size > 0``: Keras's LSTM has no projection.

    Examples
    --------
    >>> from torch import nn
    >>> from lstm_demo.ports import keras_weights
    >>> [w.shape for w in keras_weights(nn.LSTM(3, 4))[0]]
    [(3, 16), (4, 16), (16,)]
    >>> [w.shape for w in keras_weights(nn.GRU(3, 4, bidirectional=True))[0]]
    [(3, 12), (4, 12), (2, 12), (3, 12), (4, 12), (2, 12)]
    """
    kind = _kind(module)
    _no_projection(module, "Keras")
    layers = []
    for layer in range(module.num_layers):
        arrays: list[np.ndarray] = []
        for direction in range(_directions(module)):
            p = _params(module, layer, direction)
            arrays += [
                np.ascontiguousarray(reorder(p["weight_ih"], kind, "torch", "keras").T),
                np.ascontiguousarray(reorder(p["weight_hh"], kind, "torch", "keras").T),
            ]
            if module.bias:
                b_ih, b_hh = (reorder(p[b], kind, "torch", "keras") for b in ("bias_ih", "bias_hh"))
                arrays.append(b_ih + b_hh if kind == "LSTM" else np.stack([b_ih, b_hh]))
        layers.append(arrays)
    return layers


def module_from_keras_weights(
    kind: str,
    layers: Sequence[Sequence[np.ndarray]],
    *,
    bidirectional: bool,
    bias: bool,
    batch_first: bool = True,
) -> nn.LSTM | nn.GRU:
    """The ``nn.LSTM`` or ``nn.GRU`` whose :func:`keras_weights` are ``layers``.

    Keras's one LSTM bias becomes ``bias_ih``, with ``bias_hh`` zero (only
    their sum matters). ``batch_first`` defaults to Keras's batch-major
    layout.

    Examples
    --------
    >>> import torch
    >>> from torch import nn
    >>> from lstm_demo.ports import keras_weights, module_from_keras_weights
    >>> gru = nn.GRU(3, 4, num_layers=2)
    >>> back = module_from_keras_weights("GRU", keras_weights(gru), bidirectional=False, bias=True)
    >>> all(torch.equal(a, b) for a, b in zip(back.parameters(), gru.parameters()))
    True
    """
    if kind not in GATE_ORDERS:
        msg = f"Expected kind 'LSTM' or 'GRU', but got {kind!r} instead."
        raise ValueError(msg)
    dirs = 2 if bidirectional else 1
    per_direction = 3 if bias else 2
    if not layers or any(len(arrays) != dirs * per_direction for arrays in layers):
        msg = (
            f"Expected {dirs * per_direction} arrays per layer (bidirectional={bidirectional}, "
            f"bias={bias}), but got {[len(a) for a in layers]} instead."
        )
        raise ValueError(msg)
    first = np.asarray(layers[0][0])
    hidden = np.asarray(layers[0][1]).shape[0]
    dtype = torch.float64 if first.dtype == np.float64 else torch.float32
    cls = nn.LSTM if kind == "LSTM" else nn.GRU
    module = cls(
        first.shape[0],
        hidden,
        num_layers=len(layers),
        bias=bias,
        batch_first=batch_first,
        bidirectional=bidirectional,
        dtype=dtype,
    )
    with torch.no_grad():
        for layer, arrays in enumerate(layers):
            for d in range(dirs):
                own = [np.asarray(a) for a in arrays[d * per_direction : (d + 1) * per_direction]]
                end = f"_l{layer}{_suffix(d)}"
                for name, array in (("weight_ih", own[0]), ("weight_hh", own[1])):
                    param = getattr(module, f"{name}{end}")
                    _expect_shape(f"{name}{end}.T", array, tuple(param.shape[::-1]), "from the first layer")
                    param.copy_(torch.from_numpy(reorder(array.T, kind, "keras", "torch")))
                if bias:
                    b = own[2]
                    b_ih, b_hh = (b, np.zeros_like(b)) if kind == "LSTM" else (b[0], b[1])
                    getattr(module, f"bias_ih{end}").copy_(
                        torch.from_numpy(reorder(b_ih, kind, "keras", "torch"))
                    )
                    getattr(module, f"bias_hh{end}").copy_(
                        torch.from_numpy(reorder(b_hh, kind, "keras", "torch"))
                    )
    return module


def flax_params(lstm: nn.LSTM) -> list[tuple[dict[str, dict[str, np.ndarray]], ...]]:
    """``lstm``'s weights as Flax nnx's ``OptimizedLSTMCell`` holds them: per layer, one dict per direction.

    Each dict is ``{"dense_i": {"kernel": (in, 4H)}, "dense_h": {"kernel":
    (H, 4H), "bias": (4H,)}}``: ``weight_ih.T``, ``weight_hh.T`` and
    ``bias_ih + bias_hh``, gates i, f, g, o (PyTorch's order). Flax's
    ``dense_h`` always has a bias: zeros for ``bias=False``.

    Raises
    ------
    TypeError
        If ``lstm`` is not an nn.LSTM.
    ValueError
        If it has ``proj_size > 0``.

    Examples
    --------
    >>> from torch import nn
    >>> from lstm_demo.ports import flax_params
    >>> (cell,) = flax_params(nn.LSTM(3, 4))[0]
    >>> cell["dense_i"]["kernel"].shape, cell["dense_h"]["kernel"].shape, cell["dense_h"]["bias"].shape
    ((3, 16), (4, 16), (16,))
    """
    if not isinstance(lstm, nn.LSTM):
        msg = f"Expected an nn.LSTM, but got {describe(lstm)} instead."
        raise TypeError(msg)
    _no_projection(lstm, "Flax")
    layers = []
    for layer in range(lstm.num_layers):
        cells = []
        for direction in range(_directions(lstm)):
            p = _params(lstm, layer, direction)
            cells.append(
                {
                    "dense_i": {"kernel": np.ascontiguousarray(p["weight_ih"].T)},
                    "dense_h": {
                        "kernel": np.ascontiguousarray(p["weight_hh"].T),
                        "bias": p["bias_ih"] + p["bias_hh"],
                    },
                }
            )
        layers.append(tuple(cells))
    return layers


def lstm_from_flax_params(
    layers: Sequence[Sequence[Mapping[str, Mapping[str, np.ndarray]]]], *, batch_first: bool = True
) -> nn.LSTM:
    """The ``nn.LSTM`` whose :func:`flax_params` are ``layers`` (one or two cells' params per layer).

    Flax's one bias becomes ``bias_ih``, ``bias_hh`` zero; where every bias
    is zero the module gets ``bias=False`` (the same function). ``batch_first``
    defaults to ``nnx.RNN``'s batch-major layout.

    Examples
    --------
    >>> import torch
    >>> from torch import nn
    >>> from lstm_demo.ports import flax_params, lstm_from_flax_params
    >>> lstm = nn.LSTM(3, 4, num_layers=2, bidirectional=True, bias=False)
    >>> back = lstm_from_flax_params(flax_params(lstm), batch_first=False)
    >>> all(torch.equal(a, b) for a, b in zip(back.parameters(), lstm.parameters()))
    True
    """
    if not layers or len({len(cells) for cells in layers}) != 1 or len(layers[0]) not in (1, 2):
        msg = f"Expected one or two cells in every layer, but got {[len(c) for c in layers]} instead."
        raise ValueError(msg)
    first = np.asarray(layers[0][0]["dense_i"]["kernel"])
    hidden = np.asarray(layers[0][0]["dense_h"]["kernel"]).shape[0]
    has_bias = any(bool(np.any(np.asarray(c["dense_h"]["bias"]) != 0)) for cells in layers for c in cells)
    lstm = nn.LSTM(
        first.shape[0],
        hidden,
        num_layers=len(layers),
        bias=has_bias,
        batch_first=batch_first,
        bidirectional=len(layers[0]) == 2,
        dtype=torch.float64 if first.dtype == np.float64 else torch.float32,
    )
    with torch.no_grad():
        for layer, cells in enumerate(layers):
            for d, cell in enumerate(cells):
                end = f"_l{layer}{_suffix(d)}"
                for name, array in (
                    ("weight_ih", np.asarray(cell["dense_i"]["kernel"])),
                    ("weight_hh", np.asarray(cell["dense_h"]["kernel"])),
                ):
                    param = getattr(lstm, f"{name}{end}")
                    _expect_shape(f"{name}{end}.T", array, tuple(param.shape[::-1]), "from the first layer")
                    param.copy_(torch.from_numpy(array.T.copy()))
                if has_bias:
                    getattr(lstm, f"bias_ih{end}").copy_(
                        torch.from_numpy(np.asarray(cell["dense_h"]["bias"]).copy())
                    )
                    getattr(lstm, f"bias_hh{end}").zero_()
    return lstm
