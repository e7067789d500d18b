"""The recurrent equations with switches for plausible mistakes; their defaults compute ``nn.LSTM``, ``nn.GRU``, ``nn.RNN``.

Each class is a function with the module's forward contract,
``equations(module, input, hx=None)``: batched, unbatched or (for the LSTM)
packed input, ``batch_first`` either way, every layer and direction. A
:class:`~lstm_demo.mutants.Mutant` is one of them with one switch turned.
"""

from __future__ import annotations

import functools
import weakref
from dataclasses import dataclass
from typing import ClassVar, TypeAlias, cast, overload

import torch
from torch import nn
from torch.nn.utils.rnn import PackedSequence, pack_padded_sequence, pad_packed_sequence

from lstm_demo._types import LSTMResult, LSTMState
from lstm_demo._validate import StackSpec, describe
from lstm_demo.claims import Forward
from lstm_demo.scratch import GRUResult, gru_direction, run_gru, run_layers

#: What a forward takes as input: a tensor, or a packed batch.
Input: TypeAlias = "torch.Tensor | PackedSequence"
#: What ``nn.LSTM`` returns for a packed batch.
PackedResult: TypeAlias = "tuple[PackedSequence, LSTMState]"


def hard_sigmoid(x: torch.Tensor) -> torch.Tensor:
    """Keras 2's ``hard_sigmoid``: ``clip(0.2 x + 0.5, 0, 1)``."""
    return (0.2 * x + 0.5).clamp(0.0, 1.0)


@dataclass(frozen=True)
class Equations:
    """The LSTM equations with switches for the mistakes; the defaults compute ``nn.LSTM``."""

    gate_order: tuple[str, str, str, str] = ("i", "f", "g", "o")
    """Which gate each of the four row blocks is read as (PyTorch's order is i, f, g, o)."""
    hard_sigmoid: bool = False
    both_biases: bool = True
    carry_h: bool = True
    carry_c: bool = True
    tanh_c: bool = True
    forget_offset: float = 0.0
    """Added to the forget gate's pre-activation."""
    output_lags: bool = False
    """``output[t]`` holds the state before step ``t`` rather than after it."""
    layers_read_input: bool = False
    """Every layer reads the module's input instead of the layer below's output."""
    hx_batch_first: bool = False
    """A ``batch_first`` module reads a batched ``h_0``/``c_0`` as ``(batch, rows, H)``."""
    stateful: bool = False
    """A call without ``hx`` starts from the module's last ``(h_n, c_n)`` (Keras's ``stateful=True``)."""
    padding_as_steps: bool = False
    """A packed batch's padding is run as real steps, so ``h_n`` is taken after it."""
    peephole: float = 0.0
    """A diagonal peephole weight, the same for every unit; ``c_{t-1}`` feeds i and f, ``c_t`` feeds o."""
    flip_back: bool = True
    """Whether the backward direction's outputs are put back in time order (else left in the order computed)."""
    detach_state: bool = False
    """``(h, c)`` carried to the next step detached: the same values, gradients cut at every step."""
    projection_before_tanh: bool = False
    """With ``proj_size``, ``h = tanh(W_hr (o * c))`` instead of ``W_hr (o * tanh(c))``."""
    dropout_in_eval: bool = False
    """Dropout between layers in ``eval()`` mode too."""
    state_batch_first: bool = False
    """A ``batch_first`` module returns a batched ``h_n``/``c_n`` as ``(batch, rows, H)``."""
    state_sorted: bool = False
    """A packed batch's ``h_n``/``c_n`` left in the sorted order, ``unsorted_indices`` forgotten."""
    stale_weights: bool = False
    """The weights a module had at its first call, used again after they were replaced."""

    module_class: ClassVar[type[nn.RNNBase]] = nn.LSTM
    """The module these equations stand in for."""

    @overload
    def __call__(self, lstm: nn.LSTM, input: torch.Tensor, hx: LSTMState | None = None) -> LSTMResult: ...

    @overload
    def __call__(self, lstm: nn.LSTM, input: PackedSequence, hx: LSTMState | None = None) -> PackedResult: ...

    def __call__(self, lstm: nn.LSTM, input: Input, hx: LSTMState | None = None) -> LSTMResult | PackedResult:
        """``lstm(input, hx)`` as these equations compute it (batched, unbatched or packed; ``batch_first`` either way)."""
        if isinstance(input, PackedSequence):
            if not isinstance(lstm, nn.LSTM):
                msg = f"Expected lstm to be an nn.LSTM, but got {describe(lstm)} instead."
                raise TypeError(msg)
            packed, (h_n, c_n) = each_sequence(self, lstm, input, hx, padding_as_steps=self.padding_as_steps)
            if self.state_sorted and input.sorted_indices is not None:
                order = input.sorted_indices.to(h_n.device)
                return packed, (h_n.index_select(1, order), c_n.index_select(1, order))
            return packed, (h_n, c_n)
        StackSpec.checked(lstm, input, hx, what="lstm", kind=nn.LSTM)
        if self.stateful and hx is None:
            hx = remembered(lstm, input)
        if self.hx_batch_first and hx_reads_batch_first(lstm, input, hx):
            assert hx is not None  # hx_reads_batch_first says so
            hx = (hx[0].transpose(0, 1), hx[1].transpose(0, 1))
        if self.stale_weights and lstm not in _FIRST_WEIGHTS:
            _FIRST_WEIGHTS[lstm] = {n: p.detach().clone() for n, p in lstm.named_parameters()}
        result = run_layers(
            lstm,
            input,
            hx,
            self._direction,
            layers_read_input=self.layers_read_input,
            dropout_always=self.dropout_in_eval,
        )
        if self.stateful:
            _MEMORY[lstm] = (result[1][0].detach(), result[1][1].detach())
        if self.state_batch_first and lstm.batch_first and input.dim() == 3:
            output, (h_n, c_n) = result
            return output, (h_n.transpose(0, 1), c_n.transpose(0, 1))
        return result

    def _weight(self, lstm: nn.LSTM, name: str) -> torch.Tensor:
        """``lstm``'s parameter ``name``; with ``stale_weights``, as it was at the module's first call."""
        if self.stale_weights:
            return _FIRST_WEIGHTS[lstm][name]
        return cast("torch.Tensor", getattr(lstm, name))

    def _direction(
        self,
        lstm: nn.LSTM,
        name: str,
        x: torch.Tensor,
        state: tuple[torch.Tensor, torch.Tensor],
        *,
        reverse: bool,
    ) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
        w_ih, w_hh = self._weight(lstm, f"weight_ih_{name}"), self._weight(lstm, f"weight_hh_{name}")
        w_hr = self._weight(lstm, f"weight_hr_{name}") if lstm.proj_size else None
        projected = x @ w_ih.T
        if lstm.bias:
            projected = projected + self._weight(lstm, f"bias_ih_{name}")
            if self.both_biases:
                projected = projected + self._weight(lstm, f"bias_hh_{name}")
        sigmoid = hard_sigmoid if self.hard_sigmoid else torch.sigmoid
        h0, c0 = state
        h, c = state
        last, last_c = h, c
        steps = range(x.shape[0] - 1, -1, -1) if reverse else range(x.shape[0])
        outputs: list[torch.Tensor] = []
        for t in steps:
            gates = dict(zip(self.gate_order, (projected[t] + h @ w_hh.T).chunk(4, dim=-1), strict=True))
            before = h
            c_prev = c if self.carry_c else c0
            peep = self.peephole * c_prev
            c = sigmoid(gates["f"] + self.forget_offset + peep) * c_prev + sigmoid(
                gates["i"] + peep
            ) * torch.tanh(gates["g"])
            o = sigmoid(gates["o"] + self.peephole * c)
            if w_hr is not None and self.projection_before_tanh:
                h = torch.tanh((o * c) @ w_hr.T)
            else:
                h = o * (torch.tanh(c) if self.tanh_c else c)
                if w_hr is not None:
                    h = h @ w_hr.T
            outputs.append(before if self.output_lags else h)
            last, last_c = h, c  # the final state reported, whatever is carried into the next step
            if not self.carry_h:
                h = h0
            if self.detach_state:
                h, c = h.detach(), c.detach()
        if reverse and self.flip_back:
            outputs.reverse()  # computed from the last step back: put back in time order
        return torch.stack(outputs), last, last_c


def hx_reads_batch_first(lstm: nn.LSTM, input: torch.Tensor, hx: LSTMState | None) -> bool:
    """Whether a batch-first misreading of ``hx`` runs: ``batch_first``, a batched input, a square state."""
    return bool(lstm.batch_first and hx is not None and input.dim() == 3 and hx[0].shape[0] == hx[0].shape[1])


#: What a stateful mutant remembers, per module: its last ``(h_n, c_n)``.
_MEMORY: weakref.WeakKeyDictionary[nn.Module, LSTMState] = weakref.WeakKeyDictionary()
#: What a mutant with stale weights keeps, per module: its parameters at its first call.
_FIRST_WEIGHTS: weakref.WeakKeyDictionary[nn.Module, dict[str, torch.Tensor]] = weakref.WeakKeyDictionary()


def first_weights(lstm: nn.Module) -> dict[str, torch.Tensor] | None:
    """The parameters a mutant with stale weights kept at the module's first call, if it was called."""
    return _FIRST_WEIGHTS.get(lstm)


def remembered(lstm: nn.LSTM, input: torch.Tensor) -> LSTMState | None:
    """The module's last ``(h_n, c_n)``, where it fits this input's batch (else none: zeros)."""
    state = _MEMORY.get(lstm)
    if state is None:
        return None
    batched = input.dim() == 3
    batch = input.shape[0 if lstm.batch_first else 1] if batched else None
    fits = state[0].dim() == input.dim() and (not batched or state[0].shape[1] == batch)
    return state if fits else None


def each_sequence(
    forward: Forward,
    lstm: nn.LSTM,
    packed: PackedSequence,
    hx: LSTMState | None = None,
    *,
    padding_as_steps: bool = False,
) -> PackedResult:
    """``lstm(packed, hx)`` computed by running each sequence alone, unbatched, through ``forward``.

    Each sequence runs at its true length; with ``padding_as_steps`` it runs
    with its padding as real steps (the bug of an unpacked padded batch), so
    its final state is taken after the padding. Returns a packed output laid
    out as ``packed`` is, and ``(h_n, c_n)`` in the batch's order, as
    ``nn.LSTM`` does.

    Examples
    --------
    >>> import torch
    >>> from torch import nn
    >>> from torch.nn.utils.rnn import pack_padded_sequence
    >>> from lstm_demo.mutants import each_sequence
    >>> lstm = nn.LSTM(3, 4)
    >>> packed = pack_padded_sequence(torch.randn(5, 2, 3), [3, 5], enforce_sorted=False)
    >>> output, (h_n, c_n) = each_sequence(lambda m, x, hx: m(x, hx), lstm, packed)
    >>> torch.testing.assert_close(h_n, lstm(packed)[1][0])
    >>> output.data.shape, h_n.shape
    (torch.Size([8, 4]), torch.Size([1, 2, 4]))
    """
    padded, lengths = pad_packed_sequence(packed)  # (T, B, F), in the batch's order
    results: list[LSTMResult] = []
    for b, n in enumerate(lengths.tolist()):
        state = None if hx is None else (hx[0][:, b], hx[1][:, b])
        steps = padded[: len(padded) if padding_as_steps else n, b]  # unbatched: (steps, features)
        results.append(cast("LSTMResult", forward(lstm, steps, state)))
    out_padded = padded.new_zeros(len(padded), len(lengths), results[0][0].shape[-1])
    for b, n in enumerate(lengths.tolist()):
        out_padded[:n, b] = results[b][0][:n]
    order = packed.sorted_indices if packed.sorted_indices is not None else torch.arange(len(lengths))
    sorted_output = out_padded.index_select(1, order.to(out_padded.device))
    data = pack_padded_sequence(sorted_output, lengths[order.cpu()]).data
    output = PackedSequence(data, packed.batch_sizes, packed.sorted_indices, packed.unsorted_indices)
    h_n = torch.stack([r[1][0] for r in results], dim=1)
    c_n = torch.stack([r[1][1] for r in results], dim=1)
    return output, (h_n, c_n)


@dataclass(frozen=True)
class GRUEquations:
    """The GRU equations with switches for the mistakes; the defaults compute ``nn.GRU``."""

    reset_after: bool = True
    """Whether ``r`` is applied after the product, ``r * (W_hn h + b_hn)`` (PyTorch), or before it (Cho et al.)."""
    b_hn_inside: bool = True
    """``b_hn`` inside ``r * (...)``; outside it is what moving ``b_hn`` into ``b_in`` computes."""
    update_offset: float = 0.0
    """Added to the update gate's pre-activation."""

    module_class: ClassVar[type[nn.RNNBase]] = nn.GRU
    """The module these equations stand in for."""

    def __call__(self, gru: nn.GRU, input: torch.Tensor, hx: torch.Tensor | None = None) -> GRUResult:
        """``gru(input, hx)`` as these equations compute it (batched or not, ``batch_first`` either way)."""
        StackSpec.checked(gru, input, hx, what="gru", kind=nn.GRU)
        direction = functools.partial(
            gru_direction,
            reset_after=self.reset_after,
            b_hn_inside=self.b_hn_inside,
            update_offset=self.update_offset,
        )
        return run_gru(gru, input, hx, direction)


@dataclass(frozen=True)
class RNNEquations:
    """The Elman RNN's equations, ``h_t = act(W_ih x_t + b_ih + W_hh h_{t-1} + b_hh)``; the defaults compute ``nn.RNN``."""

    swap_nonlinearity: bool = False
    """Use ``relu`` where the module says ``tanh``, and ``tanh`` where it says ``relu``."""

    module_class: ClassVar[type[nn.RNNBase]] = nn.RNN
    """The module these equations stand in for."""

    def __call__(self, rnn: nn.RNNBase, input: torch.Tensor, hx: torch.Tensor | None = None) -> GRUResult:
        """``rnn(input, hx)`` as these equations compute it (batched or not, ``batch_first`` either way)."""
        StackSpec.checked(rnn, input, hx, what="rnn", kind=nn.RNN)
        tanh = (rnn.nonlinearity == "tanh") != self.swap_nonlinearity
        activation = torch.tanh if tanh else torch.relu

        def direction(
            module: nn.RNNBase, name: str, x: torch.Tensor, state: LSTMState, *, reverse: bool
        ) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
            h = state[0]
            w_ih, w_hh = getattr(module, f"weight_ih_{name}"), getattr(module, f"weight_hh_{name}")
            projected = x @ w_ih.T
            if module.bias:
                projected = (
                    projected + getattr(module, f"bias_ih_{name}") + getattr(module, f"bias_hh_{name}")
                )
            steps = range(x.shape[0] - 1, -1, -1) if reverse else range(x.shape[0])
            outputs: dict[int, torch.Tensor] = {}
            for t in steps:
                h = activation(projected[t] + h @ w_hh.T)
                outputs[t] = h
            return torch.stack([outputs[t] for t in range(x.shape[0])]), h, h

        state = None if hx is None else (hx, hx)
        output, (h_n, _) = run_layers(rnn, input, state, direction)
        return output, h_n
