"""Checks shared by every public helper: they run before any computation.

Each check raises ``TypeError`` or ``ValueError`` with a message of the form
"Expected ..., but got ... instead." so a reader sees what to fix, not a deep
torch traceback.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import cast

import torch
from torch import nn
from torch.nn.utils.rnn import PackedSequence

RNN_CLASSES: tuple[type[nn.RNNBase], ...] = (nn.LSTM, nn.GRU, nn.RNN)


def base_class(module: nn.RNNBase) -> type[nn.RNNBase]:
    """The PyTorch class (nn.LSTM, nn.GRU or nn.RNN) a module is an instance of."""
    for cls in RNN_CLASSES:
        if isinstance(module, cls):
            return cls
    raise AssertionError  # pragma: no cover - check_module runs first


def describe(value: object) -> str:
    """A short description of a value for error messages."""
    if isinstance(value, torch.Tensor):
        return f"a tensor of shape {tuple(value.shape)}"
    if isinstance(value, PackedSequence):
        return "a PackedSequence"
    return f"an object of type {type(value).__name__}"


def check_module(module: object, what: str = "rnn") -> type[nn.RNNBase]:
    """Raise ``TypeError`` unless ``module`` is an nn.LSTM, nn.GRU or nn.RNN."""
    if not isinstance(module, RNN_CLASSES):
        msg = f"Expected {what} to be an nn.LSTM, nn.GRU or nn.RNN, but got {describe(module)} instead."
        raise TypeError(msg)
    return base_class(module)


def module_placement(module: nn.Module) -> tuple[torch.device, torch.dtype]:
    """Device and dtype of a module's first parameter."""
    param = next(module.parameters())
    return param.device, param.dtype


@dataclass(frozen=True)
class StackSpec:
    """What a (possibly multi-layer) recurrent stack expects of its inputs.

    Built from one module or from a list of single-layer modules, so that
    ``run_stepwise`` and ``run_stacked`` check inputs the same way.
    """

    cls: type[nn.RNNBase]
    input_size: int
    hidden_size: int
    proj_size: int
    num_layers: int
    bidirectional: bool
    batch_first: bool
    device: torch.device
    dtype: torch.dtype

    @classmethod
    def of(cls, module: nn.RNNBase) -> StackSpec:
        device, dtype = module_placement(module)
        return cls(
            cls=base_class(module),
            input_size=module.input_size,
            hidden_size=module.hidden_size,
            proj_size=getattr(module, "proj_size", 0),
            num_layers=module.num_layers,
            bidirectional=module.bidirectional,
            batch_first=module.batch_first,
            device=device,
            dtype=dtype,
        )

    @classmethod
    def checked(
        cls,
        module: object,
        input: object,
        hx: object = None,
        *,
        what: str = "rnn",
        kind: type[nn.RNNBase] | None = None,
    ) -> StackSpec:
        """The spec of ``module``, once ``module``, ``input`` and ``hx`` are checked for its forward.

        The one argument check of every helper that stands in for a module's
        forward: ``module`` is an nn.LSTM, nn.GRU or nn.RNN (or, with
        ``kind``, that class), ``input`` a tensor it accepts
        (:meth:`check_input`) and ``hx`` ``None`` or a state for that input
        (:meth:`check_hx`). ``what`` names the module in the messages.

        Raises
        ------
        TypeError, ValueError
            "Expected ..., but got ... instead.", before any computation.

        Examples
        --------
        >>> import torch
        >>> from torch import nn
        >>> from lstm_demo._validate import StackSpec
        >>> StackSpec.checked(nn.GRU(3, 4, num_layers=2), torch.zeros(5, 3)).num_layers
        2
        >>> StackSpec.checked(nn.GRU(3, 4), torch.zeros(5, 3), what="lstm", kind=nn.LSTM)
        Traceback (most recent call last):
        ...
        TypeError: Expected lstm to be an nn.LSTM, but got an object of type GRU instead.
        """
        if kind is None:
            check_module(module, what)
        elif not isinstance(module, kind):
            msg = f"Expected {what} to be an nn.{kind.__name__}, but got {describe(module)} instead."
            raise TypeError(msg)
        spec = cls.of(cast("nn.RNNBase", module))
        spec.check(input, hx)
        return spec

    def check(self, input: object, hx: object = None) -> None:
        """Raise unless ``input`` (:meth:`check_input`) and then ``hx`` (:meth:`check_hx`) suit this stack."""
        self.check_input(input)
        self.check_hx(hx, cast("torch.Tensor", input))

    @property
    def name(self) -> str:
        return f"nn.{self.cls.__name__}"

    @property
    def directions(self) -> int:
        return 2 if self.bidirectional else 1

    @property
    def out_size(self) -> int:
        """Features of ``output`` per direction and of ``h_n``."""
        return self.proj_size or self.hidden_size

    def check_input(self, input: object) -> None:
        """Raise unless ``input`` is what this stack's forward accepts."""
        if isinstance(input, PackedSequence):
            msg = (
                "Expected input to be a padded tensor, but got a PackedSequence "
                "instead: this helper does not support packed input. Run the module "
                "itself on packed input, or pad it with "
                "torch.nn.utils.rnn.pad_packed_sequence first."
            )
            raise TypeError(msg)
        if not isinstance(input, torch.Tensor):
            msg = f"Expected input to be a torch.Tensor, but got {describe(input)} instead."
            raise TypeError(msg)
        layout = "(batch, seq_len, features)" if self.batch_first else "(seq_len, batch, features)"
        if input.dim() not in (2, 3):
            msg = (
                f"Expected input of 3 dimensions {layout} or 2 dimensions "
                f"(seq_len, features) for unbatched input, but got shape "
                f"{tuple(input.shape)} instead."
            )
            raise ValueError(msg)
        if input.shape[-1] != self.input_size:
            msg = (
                f"Expected input with {self.input_size} features in its last dimension "
                f"(the module's input_size), but got shape {tuple(input.shape)} instead."
            )
            raise ValueError(msg)
        time_dim = 1 if (self.batch_first and input.dim() == 3) else 0
        if input.shape[time_dim] == 0:
            msg = (
                f"Expected at least one time step, but got shape {tuple(input.shape)} with seq_len 0 instead."
            )
            raise ValueError(msg)
        self._check_placement("input", input)

    def check_hx(self, hx: object, input: torch.Tensor) -> None:
        """Raise unless ``hx`` is a valid initial state for ``input``."""
        if hx is None:
            return
        rows = self.num_layers * self.directions
        batch_shape: tuple[int, ...] = ()
        if input.dim() == 3:
            batch_shape = (input.shape[0 if self.batch_first else 1],)
        if self.cls is nn.LSTM:
            if not (isinstance(hx, (tuple, list)) and len(hx) == 2):
                msg = (
                    f"Expected hx to be a tuple (h_0, c_0) of two tensors for "
                    f"{self.name}, but got {describe(hx)} instead."
                )
                raise TypeError(msg)
            expected = {
                "h_0": (rows, *batch_shape, self.out_size),
                "c_0": (rows, *batch_shape, self.hidden_size),
            }
            tensors = dict(zip(expected, hx, strict=True))
        else:
            if not isinstance(hx, torch.Tensor):
                msg = f"Expected hx to be a tensor h_0 for {self.name}, but got {describe(hx)} instead."
                raise TypeError(msg)
            expected = {"h_0": (rows, *batch_shape, self.out_size)}
            tensors = {"h_0": hx}
        for name, tensor in tensors.items():
            if not isinstance(tensor, torch.Tensor):
                msg = f"Expected {name} to be a torch.Tensor, but got {describe(tensor)} instead."
                raise TypeError(msg)
            if tuple(tensor.shape) != expected[name]:
                layout = "(num_layers * num_directions, "
                layout += "batch, " if batch_shape else ""
                layout += "hidden_size)" if name == "c_0" else "out_size)"
                msg = (
                    f"Expected {name} of shape {expected[name]} {layout} for this input, "
                    f"but got {tuple(tensor.shape)} instead."
                )
                raise ValueError(msg)
            self._check_placement(name, tensor)

    def _check_placement(self, name: str, tensor: torch.Tensor) -> None:
        if tensor.device != self.device:
            msg = f"Expected {name} on the module's device {self.device}, but got {tensor.device} instead."
            raise ValueError(msg)
        if tensor.dtype != self.dtype:
            msg = f"Expected {name} of the module's dtype {self.dtype}, but got {tensor.dtype} instead."
            raise ValueError(msg)
