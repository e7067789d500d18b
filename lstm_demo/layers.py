"""Take a multi-layer recurrent module apart into single layers, and back."""

from __future__ import annotations

import dataclasses
from collections.abc import Sequence
from typing import Any

import torch
from torch import nn

from lstm_demo._types import Result, State
from lstm_demo._validate import StackSpec, base_class, check_module, describe


def _param_names(layer: int, bidirectional: bool, bias: bool, proj: bool) -> list[tuple[str, str]]:
    """(name in a single-layer module, name in the stack) for one layer."""
    kinds = ["weight_ih", "weight_hh"]
    if bias:
        kinds += ["bias_ih", "bias_hh"]
    if proj:
        kinds.append("weight_hr")
    suffixes = ["", "_reverse"] if bidirectional else [""]
    return [(f"{k}_l0{s}", f"{k}_l{layer}{s}") for s in suffixes for k in kinds]


def _new_module(
    cls: type[nn.RNNBase],
    *,
    input_size: int,
    num_layers: int,
    like: nn.RNNBase,
    bidirectional: bool | None = None,
) -> nn.RNNBase:
    """A fresh module of ``cls`` configured like ``like`` except for its size (and directions)."""
    param = next(like.parameters())
    kwargs: dict[str, Any] = {  # the constructor arguments of nn.LSTM, nn.GRU or nn.RNN alike
        "input_size": input_size,
        "hidden_size": like.hidden_size,
        "num_layers": num_layers,
        "bias": like.bias,
        "batch_first": like.batch_first,
        "bidirectional": like.bidirectional if bidirectional is None else bidirectional,
        "device": param.device,
        "dtype": param.dtype,
    }
    if cls is nn.LSTM:
        kwargs["proj_size"] = like.proj_size
    if cls is nn.RNN:
        kwargs["nonlinearity"] = like.nonlinearity
    # Every parameter is overwritten next: draw nothing from the caller's random streams.
    with torch.random.fork_rng(devices=[param.device] if param.device.type == "cuda" else []):
        module = cls(**kwargs)
    module.train(like.training)
    return module


def _copy_params(dst: nn.Module, src: nn.Module, names: list[tuple[str, str]], *, to_stack: bool) -> None:
    with torch.no_grad():
        for single, stacked in names:
            d, s = (stacked, single) if to_stack else (single, stacked)
            target, source = getattr(dst, d), getattr(src, s)
            target.copy_(source)
            target.requires_grad_(source.requires_grad)


def split_layers(rnn: nn.RNNBase) -> list[nn.RNNBase]:
    """Split a multi-layer module into single-layer modules of the same class.

    Layer ``k`` of ``rnn`` becomes a module with ``num_layers=1`` holding a
    copy of ``weight_ih_lk``, ``weight_hh_lk`` (and the biases, ``weight_hr_lk``
    and the ``_reverse`` direction where present) as its layer 0. Each copy
    has the same device, dtype, ``bias``, ``batch_first``, ``proj_size``,
    ``bidirectional`` and training mode as ``rnn``; layer ``k + 1`` takes
    ``num_directions * out_size`` inputs, the features of layer ``k``'s output.

    The dropout ``rnn`` applies between layers belongs to no single layer and
    is dropped: compare with ``rnn`` in ``eval()`` mode or with ``dropout=0``.

    Parameters
    ----------
    rnn : nn.LSTM, nn.GRU or nn.RNN
        Any number of layers. Subclasses are split into their PyTorch base
        class.

    Returns
    -------
    list of nn.Module
        ``rnn.num_layers`` single-layer modules, first layer first. Their
        parameters are copies: changing them leaves ``rnn`` unchanged.

    Raises
    ------
    TypeError
        If ``rnn`` is not an nn.LSTM, nn.GRU or nn.RNN.

    Examples
    --------
    The two layers of a ``num_layers=2`` LSTM, as the post built them by hand:

    >>> from torch import nn
    >>> from lstm_demo import split_layers
    >>> layers = split_layers(nn.LSTM(3, 4, num_layers=2, bidirectional=True))
    >>> layers
    [LSTM(3, 4, bidirectional=True), LSTM(8, 4, bidirectional=True)]
    """
    cls = check_module(rnn)
    out_size = getattr(rnn, "proj_size", 0) or rnn.hidden_size
    directions = 2 if rnn.bidirectional else 1
    layers = []
    for k in range(rnn.num_layers):
        input_size = rnn.input_size if k == 0 else directions * out_size
        layer = _new_module(cls, input_size=input_size, num_layers=1, like=rnn)
        names = _param_names(k, rnn.bidirectional, rnn.bias, bool(getattr(rnn, "proj_size", 0)))
        _copy_params(layer, rnn, names, to_stack=False)
        layers.append(layer)
    return layers


def split_directions(rnn: nn.RNNBase) -> tuple[nn.RNNBase, nn.RNNBase]:
    """The two directions of a one-layer bidirectional module, as unidirectional modules.

    The first holds the ``*_l0`` parameters and reads the sequence forward;
    the second holds the ``*_l0_reverse`` parameters: run it on the reversed
    sequence (``input.flip(time_dim)``) and reverse its output back to get
    the backward half of ``rnn``'s output. Each is a copy with the same
    device, dtype, ``bias``, ``batch_first``, ``proj_size`` and mode.

    Raises
    ------
    TypeError
        If ``rnn`` is not an nn.LSTM, nn.GRU or nn.RNN.
    ValueError
        If ``rnn`` is not bidirectional or has more than one layer (layer
        ``k + 1`` of a bidirectional stack reads both directions of layer
        ``k``, so only whole layers can be split off: see :func:`split_layers`).

    Examples
    --------
    >>> from torch import nn
    >>> from lstm_demo.layers import split_directions
    >>> split_directions(nn.GRU(3, 4, bidirectional=True))
    (GRU(3, 4), GRU(3, 4))
    """
    cls = check_module(rnn)
    if not rnn.bidirectional or rnn.num_layers != 1:
        msg = (
            "Expected a one-layer bidirectional module, but got "
            f"num_layers={rnn.num_layers}, bidirectional={rnn.bidirectional} instead; "
            "split a multi-layer module into layers with split_layers first."
        )
        raise ValueError(msg)
    proj = bool(getattr(rnn, "proj_size", 0))
    directions = []
    for suffix in ("", "_reverse"):
        layer = _new_module(cls, input_size=rnn.input_size, num_layers=1, like=rnn, bidirectional=False)
        names = [(single, f"{single}{suffix}") for single, _ in _param_names(0, False, rnn.bias, proj)]
        _copy_params(layer, rnn, names, to_stack=False)
        directions.append(layer)
    return directions[0], directions[1]


def _check_layers(layers: object, what: str) -> StackSpec:
    """Check that ``layers`` form one multi-layer module; return its spec."""
    if isinstance(layers, nn.ModuleList):
        layers = list(layers)
    if not isinstance(layers, Sequence) or isinstance(layers, nn.Module):
        msg = f"Expected {what} to be a list of single-layer modules, but got {describe(layers)} instead."
        raise TypeError(msg)
    if len(layers) == 0:
        msg = f"Expected at least one layer in {what}, but got an empty list instead."
        raise ValueError(msg)
    for k, layer in enumerate(layers):
        check_module(layer, f"{what}[{k}]")
        if layer.num_layers != 1:
            msg = (
                f"Expected single-layer modules, but got {what}[{k}] with "
                f"num_layers={layer.num_layers} instead; split it with split_layers first."
            )
            raise ValueError(msg)
    first = StackSpec.of(layers[0])
    for k, layer in enumerate(layers[1:], start=1):
        spec = StackSpec.of(layer)
        if spec.cls is not first.cls:
            msg = (
                f"Expected every layer to be {first.name} like {what}[0], "
                f"but got {spec.name} at {what}[{k}] instead."
            )
            raise TypeError(msg)
        for attr in ("hidden_size", "proj_size", "bidirectional", "batch_first", "device", "dtype"):
            if getattr(spec, attr) != getattr(first, attr):
                msg = (
                    f"Expected every layer to have {attr}={getattr(first, attr)} like "
                    f"{what}[0], but got {attr}={getattr(spec, attr)} at {what}[{k}] instead."
                )
                raise ValueError(msg)
        for attr in ("bias", "nonlinearity"):
            if getattr(layer, attr, None) != getattr(layers[0], attr, None):
                msg = (
                    f"Expected every layer to have {attr}={getattr(layers[0], attr)} like "
                    f"{what}[0], but got {attr}={getattr(layer, attr)} at {what}[{k}] instead."
                )
                raise ValueError(msg)
        expected_in = first.directions * first.out_size
        if spec.input_size != expected_in:
            msg = (
                f"Expected {what}[{k}] to take input_size={expected_in} (the output "
                f"features of {what}[{k - 1}]), but got input_size={spec.input_size} instead."
            )
            raise ValueError(msg)
    return dataclasses.replace(first, num_layers=len(layers))


def run_stacked(layers: Sequence[nn.RNNBase], input: torch.Tensor, hx: State | None = None) -> Result:
    """Run single-layer modules one after another, as one multi-layer module would.

    Layer ``k + 1`` reads the output of layer ``k``. The result has the form of
    the multi-layer module's forward: ``output`` of the last layer, and the
    final states of all layers stacked in the module's order (layer-major,
    then direction).

    Parameters
    ----------
    layers : sequence of nn.LSTM, nn.GRU or nn.RNN
        Single-layer modules of one class (a list or an ``nn.ModuleList``),
        for example from :func:`split_layers`, each taking the previous one's
        output features.
    input : torch.Tensor
        As for the multi-layer module: ``(seq_len, batch, input_size)``,
        ``(batch, seq_len, input_size)`` when ``batch_first``, or unbatched
        ``(seq_len, input_size)``. A ``PackedSequence`` is not supported.
    hx : torch.Tensor or tuple of torch.Tensor, optional
        The multi-layer initial state: ``h_0`` of shape
        ``(num_layers * num_directions, batch, out_size)`` (and ``c_0`` for
        LSTMs); rows ``k * num_directions`` onwards belong to layer ``k``.

    Returns
    -------
    output : torch.Tensor
        The last layer's output.
    h_n : torch.Tensor or tuple of torch.Tensor
        All layers' final states, ``(h_n, c_n)`` for LSTMs, each of shape
        ``(num_layers * num_directions, batch, ...)``.

    Raises
    ------
    TypeError
        If ``layers`` is not a list of nn.LSTM/nn.GRU/nn.RNN of one class,
        or ``input``/``hx`` have the wrong type.
    ValueError
        If ``layers`` is empty, holds a multi-layer module, or its layers do
        not chain (sizes, directions, device, dtype); or if ``input``/``hx``
        have the wrong shape, device or dtype.

    Examples
    --------
    Two hand-stacked layers equal the ``num_layers=2`` module they came from:

    >>> import torch
    >>> from torch import nn
    >>> from lstm_demo import run_stacked, split_layers
    >>> _ = torch.manual_seed(1)
    >>> lstm = nn.LSTM(3, 3, num_layers=2)
    >>> x = torch.randn(5, 1, 3)
    >>> output, (h_n, c_n) = run_stacked(split_layers(lstm), x)
    >>> h_n.shape
    torch.Size([2, 1, 3])
    >>> expected, _ = lstm(x)
    >>> torch.testing.assert_close(output, expected)
    """
    spec = _check_layers(layers, "layers")
    spec.check(input, hx)

    is_lstm = spec.cls is nn.LSTM
    rows = spec.directions
    x = input
    h_n: list[torch.Tensor] = []
    c_n: list[torch.Tensor] = []
    for k, layer in enumerate(layers):
        rows_k = slice(k * rows, (k + 1) * rows)
        state: State | None
        if hx is None:
            state = None
        elif isinstance(hx, tuple):
            state = hx[0][rows_k], hx[1][rows_k]
        else:
            state = hx[rows_k]
        x, final = layer(x, state)
        h_n.append(final[0] if is_lstm else final)
        c_n += [final[1]] if is_lstm else []
    if is_lstm:
        return x, (torch.cat(h_n, dim=0), torch.cat(c_n, dim=0))
    return x, torch.cat(h_n, dim=0)


def stack_layers(layers: Sequence[nn.RNNBase]) -> nn.RNNBase:
    """Build one multi-layer module from single-layer modules: the inverse of :func:`split_layers`.

    Parameters
    ----------
    layers : sequence of nn.LSTM, nn.GRU or nn.RNN
        Single-layer modules of one class (a list or an ``nn.ModuleList``) whose sizes chain, with the same
        ``hidden_size``, ``proj_size``, ``bias``, ``batch_first``,
        ``bidirectional``, device and dtype.

    Returns
    -------
    nn.LSTM, nn.GRU or nn.RNN
        A module with ``num_layers=len(layers)``, ``dropout=0`` and copies of
        the layers' parameters, in the first layer's training mode.

    Raises
    ------
    TypeError
        If ``layers`` is not a list of nn.LSTM/nn.GRU/nn.RNN of one class.
    ValueError
        If ``layers`` is empty, holds a multi-layer module, or its layers do
        not chain.

    Examples
    --------
    >>> from torch import nn
    >>> from lstm_demo import stack_layers
    >>> stack_layers([nn.GRU(3, 4), nn.GRU(4, 4)])
    GRU(3, 4, num_layers=2)
    """
    spec = _check_layers(layers, "layers")
    first = layers[0]
    module = _new_module(base_class(first), input_size=spec.input_size, num_layers=len(layers), like=first)
    for k, layer in enumerate(layers):
        names = _param_names(k, spec.bidirectional, first.bias, bool(spec.proj_size))
        _copy_params(module, layer, names, to_stack=True)
    return module


def module_forward(rnn: nn.Module, input: Any, hx: State | None = None) -> Any:
    """``rnn(input, hx)``: a module's own forward, as a function of the module.

    The side of a claim about how the module itself is used, where a
    stand-in for its forward (a wrong LSTM, in the mutation suite) can take
    its place.

    Examples
    --------
    >>> import torch
    >>> from torch import nn
    >>> from lstm_demo.layers import module_forward
    >>> lstm, x = nn.LSTM(3, 4), torch.randn(5, 2, 3)
    >>> torch.equal(module_forward(lstm, x)[0], lstm(x)[0])
    True
    """
    return rnn(input, hx)


def split_and_stack(rnn: nn.RNNBase, input: torch.Tensor, hx: State | None = None) -> Result:
    """``rnn``'s layers split (:func:`~lstm_demo.split_layers`) and run one after another (:func:`~lstm_demo.run_stacked`).

    Takes and returns what ``rnn(input, hx)`` does.

    Examples
    --------
    >>> import torch
    >>> from torch import nn
    >>> from lstm_demo.layers import split_and_stack
    >>> lstm, x = nn.LSTM(3, 3, num_layers=2), torch.randn(5, 1, 3)
    >>> torch.testing.assert_close(split_and_stack(lstm, x), lstm(x))
    """
    return run_stacked(split_layers(rnn), input, hx)
