"""An nn.LSTM or nn.GRU rebuilt from a saved ``state_dict`` alone: its configuration read from the names and shapes.

A ``state_dict`` holds no class and no constructor arguments, but an
nn.LSTM's or nn.GRU's parameter names and shapes say all of them that
change what it computes: ``weight_ih_l{k}`` per layer (``num_layers``),
``_reverse`` names (``bidirectional``), ``bias_*`` names (``bias``),
``weight_hr`` names (``proj_size``), ``weight_ih_l0``'s columns
(``input_size``), and the gate rows: ``4H`` for an LSTM, ``3H`` for a GRU,
with ``H`` read from ``weight_hh``'s columns (or ``weight_hr``'s), so that 12
rows are an LSTM of ``H=3`` or a GRU of ``H=4`` as ``weight_hh`` says.
``batch_first`` and ``dropout`` are not in a ``state_dict``: the module is
built time-major, without dropout, which changes no weight's meaning.
"""

from __future__ import annotations

import re
from collections.abc import Mapping

import torch
from torch import nn

from lstm_demo._validate import describe

_PARAMETER = re.compile(r"(weight_ih|weight_hh|weight_hr|bias_ih|bias_hh)_l(\d+)(_reverse)?")
_FIRST = "weight_ih_l0"


def _tensors(state_dict: object) -> Mapping[str, torch.Tensor]:
    """``state_dict`` if it maps names to tensors; TypeError otherwise."""
    if not isinstance(state_dict, Mapping):
        msg = (
            f"Expected a state_dict (a mapping of names to tensors), but got {describe(state_dict)} instead."
        )
        raise TypeError(msg)
    for key, value in state_dict.items():
        if not isinstance(key, str) or not isinstance(value, torch.Tensor):
            hint = (
                " (a checkpoint? save or pass its model's state_dict)" if isinstance(value, Mapping) else ""
            )
            msg = (
                "Expected a state_dict (a mapping of names to tensors), but got "
                f"{key!r}: {describe(value)} instead{hint}."
            )
            raise TypeError(msg)
    return state_dict


def recurrent_prefixes(state_dict: Mapping[str, torch.Tensor]) -> list[str]:
    """The prefix of every recurrent module in ``state_dict``: each name ending ``weight_ih_l0``, less that.

    Raises
    ------
    TypeError
        If ``state_dict`` does not map names to tensors.

    Examples
    --------
    >>> from torch import nn
    >>> from lstm_demo.ports import recurrent_prefixes
    >>> model = nn.ModuleDict({"encoder": nn.LSTM(3, 4), "head": nn.Linear(4, 1), "decoder": nn.GRU(4, 4)})
    >>> recurrent_prefixes(model.state_dict())
    ['encoder.', 'decoder.']
    >>> recurrent_prefixes(nn.LSTM(3, 4).state_dict())
    ['']
    """
    return [key.removesuffix(_FIRST) for key in _tensors(state_dict) if key.endswith(_FIRST)]


def _choose_prefix(state_dict: Mapping[str, torch.Tensor], prefix: str | None) -> str:
    found = recurrent_prefixes(state_dict)
    if prefix is None:
        if len(found) == 1:
            return found[0]
        if not found:
            msg = (
                "Expected a state_dict with an nn.LSTM's or nn.GRU's weights (a name ending weight_ih_l0), "
                f"but got none among {len(state_dict)} names instead."
            )
            raise ValueError(msg)
        msg = (
            "Expected one recurrent module, or a prefix to choose one, but got "
            f"{len(found)} instead: {', '.join(repr(p) for p in found)}."
        )
        raise ValueError(msg)
    for candidate in (prefix, f"{prefix}."):
        if candidate in found:
            return candidate
    msg = (
        f"Expected a prefix among {', '.join(repr(p) for p in found) or 'none'} (names ending "
        f"weight_ih_l0), but got {prefix!r} instead."
    )
    raise ValueError(msg)


def module_from_state_dict(
    state_dict: Mapping[str, torch.Tensor], prefix: str | None = None
) -> nn.LSTM | nn.GRU:
    """The nn.LSTM or nn.GRU whose ``state_dict`` this is (or holds under ``prefix``), with its weights.

    Parameters
    ----------
    state_dict : Mapping[str, torch.Tensor]
        A module's ``state_dict()``, or a larger model's.
    prefix : str, optional
        The recurrent module's prefix in a larger model's ``state_dict``
        (``"rnn."``; the trailing dot may be left out). Without it, the
        ``state_dict`` must hold exactly one recurrent module
        (:func:`~lstm_demo.ports.recurrent_prefixes`).

    Returns
    -------
    nn.LSTM or nn.GRU
        On the CPU, in the weights' dtype, ``batch_first=False``, its
        parameters copies of the tensors.

    Raises
    ------
    TypeError
        If ``state_dict`` does not map names to tensors.
    ValueError
        If it holds no recurrent module, several without ``prefix``, or one
        that is not an nn.LSTM or nn.GRU (an nn.RNN's ``H`` rows), with
        layers missing, names nn.LSTM does not have, or shapes that do not
        fit together; before anything is built.

    Examples
    --------
    >>> from torch import nn
    >>> from lstm_demo.ports import module_from_state_dict
    >>> module_from_state_dict(nn.LSTM(3, 4, num_layers=2, bidirectional=True).state_dict())
    LSTM(3, 4, num_layers=2, bidirectional=True)
    >>> # 12 gate rows: weight_hh's 4 columns make it a GRU of hidden_size 4, not an LSTM of 3
    >>> module_from_state_dict(nn.GRU(3, 4, bias=False).state_dict())
    GRU(3, 4, bias=False)
    >>> model = nn.ModuleDict({"rnn": nn.LSTM(3, 4, proj_size=2), "head": nn.Linear(2, 1)})
    >>> module_from_state_dict(model.state_dict(), prefix="rnn")
    LSTM(3, 4, proj_size=2)
    >>> module_from_state_dict({"weight": nn.Linear(2, 1).weight})
    Traceback (most recent call last):
        ...
    ValueError: Expected a state_dict with an nn.LSTM's or nn.GRU's weights (a name ending weight_ih_l0), but got none among 1 names instead.
    """
    tensors = _tensors(state_dict)
    chosen = _choose_prefix(tensors, prefix)
    own: dict[str, torch.Tensor] = {}
    for key, value in tensors.items():
        if not key.startswith(chosen) or "." in key[len(chosen) :]:
            continue  # another module's, or a submodule's
        name = key[len(chosen) :]
        if not _PARAMETER.fullmatch(name):
            msg = (
                f"Expected only nn.LSTM or nn.GRU parameter names under {chosen!r} (weight_ih_l0, ...), "
                f"but got {key!r} instead."
            )
            raise ValueError(msg)
        own[name] = value
    layers = sorted({int(m[2]) for m in map(_PARAMETER.fullmatch, own) if m})
    with_ih = [k for k in layers if f"weight_ih_l{k}" in own]
    if with_ih != list(range(layers[-1] + 1)):
        msg = (
            f"Expected weight_ih_l0 to weight_ih_l{layers[-1]} under {chosen!r} (layers 0 to {layers[-1]}), "
            f"but got weight_ih for layers {with_ih} only instead."
        )
        raise ValueError(msg)
    w_ih, w_hh = own["weight_ih_l0"], own.get("weight_hh_l0")
    if w_ih.dim() != 2 or w_hh is None or w_hh.dim() != 2:
        got = "no weight_hh_l0" if w_hh is None else f"{list(w_ih.shape)} and {list(w_hh.shape)}"
        msg = f"Expected 2-D weight_ih_l0 and weight_hh_l0 under {chosen!r}, but got {got} instead."
        raise ValueError(msg)
    w_hr = own.get("weight_hr_l0")
    proj_size, hidden = (
        (0, w_hh.shape[1]) if w_hr is None or w_hr.dim() != 2 else (w_hr.shape[0], w_hr.shape[1])
    )
    rows = w_ih.shape[0]
    kinds: dict[int, type[nn.LSTM | nn.GRU]] = {4: nn.LSTM, 3: nn.GRU}
    gates = rows // hidden if hidden else 0
    if gates not in kinds or rows != gates * hidden or (proj_size and gates != 4):
        msg = (
            f"Expected {chosen}weight_ih_l0 with 4H rows (an nn.LSTM) or 3H rows (an nn.GRU), H={hidden} "
            f"from weight_{'hr' if proj_size else 'hh'}_l0's columns, but got {rows} rows instead"
            + (" (an nn.RNN's: H rows)." if rows == hidden else ".")
        )
        raise ValueError(msg)
    if not w_ih.is_floating_point() or any(t.dtype != w_ih.dtype for t in own.values()):
        msg = f"Expected floating-point weights of one dtype under {chosen!r}, but got {sorted({str(t.dtype) for t in own.values()})} instead."
        raise ValueError(msg)
    module: nn.LSTM | nn.GRU = kinds[gates](
        w_ih.shape[1],
        hidden,
        num_layers=layers[-1] + 1,
        bias="bias_ih_l0" in own or "bias_hh_l0" in own,
        bidirectional="weight_ih_l0_reverse" in own,
        dtype=w_ih.dtype,
        **({"proj_size": proj_size} if proj_size else {}),
    )
    expected = {name: tuple(p.shape) for name, p in module.named_parameters()}
    for name in sorted(expected.keys() - own.keys()):
        msg = f"Expected {chosen}{name} (a parameter of {module!r}), but got no such name instead."
        raise ValueError(msg)
    for name in sorted(own.keys() - expected.keys()):
        msg = f"Expected only the parameters of {module!r} under {chosen!r}, but got {chosen}{name} too instead."
        raise ValueError(msg)
    for name, shape in expected.items():
        if tuple(own[name].shape) != shape:
            msg = (
                f"Expected {chosen}{name} of shape {list(shape)} (for {module!r}), "
                f"but got {list(own[name].shape)} instead."
            )
            raise ValueError(msg)
    module.load_state_dict(own)
    return module


__all__ = ["module_from_state_dict", "recurrent_prefixes"]
