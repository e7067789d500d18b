"""The plausible wrong LSTMs (and GRUs and RNNs): :data:`MUTANTS`, each the equations with one mistake."""

from __future__ import annotations

import contextvars
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from typing import Any

import torch
from torch import nn
from torch.nn.utils.rnn import PackedSequence

from lstm_demo.mutants.equations import (
    Equations,
    GRUEquations,
    RNNEquations,
    first_weights,
    hx_reads_batch_first,
    remembered,
)
from lstm_demo.mutants.ports import (
    flax_carry_h_c,
    keras_backward_not_flipped,
    keras_hard_sigmoid,
    keras_one_bias,
    keras_reshaped,
    onnx_one_bias,
    onnx_torch_order,
)

#: Whether a mistake can be made on a call: ``applies(module, input, hx)``.
Applies = Callable[[Any, Any, Any], bool]

#: The names of the mutants that made their mistake since :func:`counting` began.
_APPLIED: contextvars.ContextVar[list[str] | None] = contextvars.ContextVar("applied", default=None)


@contextmanager
def counting() -> Iterator[list[str]]:
    """Collect, in the list it yields, the name of each mutant each time it makes its mistake."""
    applied: list[str] = []
    token = _APPLIED.set(applied)
    try:
        yield applied
    finally:
        _APPLIED.reset(token)


def _always(module: Any, input: Any, hx: Any) -> bool:
    return True


def _multi_layer_square(lstm: nn.LSTM, input: Any, hx: Any) -> bool:
    """Layer 2 can read the input only where the input has as many features as layer 1's output."""
    return lstm.num_layers > 1 and lstm.input_size == lstm.hidden_size * (2 if lstm.bidirectional else 1)


def _has_bias_hh(lstm: nn.LSTM, input: Any, hx: Any) -> bool:
    """Forgetting ``bias_hh`` changes nothing where it is zero (the post's experiment 2 has zero biases)."""
    return lstm.bias and any(
        bool(b.ne(0).any()) for n, b in lstm.named_parameters() if n.startswith("bias_hh")
    )


def _batch_first_state(lstm: nn.LSTM, input: Any, hx: Any) -> bool:
    return isinstance(input, torch.Tensor) and hx_reads_batch_first(lstm, input, hx)


def _packed(module: Any, input: Any, hx: Any) -> bool:
    return isinstance(input, PackedSequence)


def _bidirectional(module: nn.RNNBase, input: Any, hx: Any) -> bool:
    return bool(module.bidirectional)


def _projected(module: nn.LSTM, input: Any, hx: Any) -> bool:
    return module.proj_size > 0


def _dropout_in_eval(lstm: nn.LSTM, input: Any, hx: Any) -> bool:
    return not lstm.training and lstm.dropout > 0 and lstm.num_layers > 1


def _batch_first_output(lstm: nn.LSTM, input: Any, hx: Any) -> bool:
    return bool(lstm.batch_first) and isinstance(input, torch.Tensor) and input.dim() == 3


def _unsorted_packed(lstm: nn.LSTM, input: Any, hx: Any) -> bool:
    order = input.sorted_indices if isinstance(input, PackedSequence) else None
    return order is not None and not torch.equal(order.cpu(), torch.arange(len(order)))


def _from_memory(lstm: nn.LSTM, input: Any, hx: Any) -> bool:
    """A stateful module's mistake shows where a call without ``hx`` finds a state to start from."""
    return hx is None and isinstance(input, torch.Tensor) and remembered(lstm, input) is not None


def _replaced_since(lstm: nn.LSTM, input: Any, hx: Any) -> bool:
    """Stale weights show where the module's weights changed since its first call."""
    first = first_weights(lstm)
    return first is not None and any(not torch.equal(first[n], p) for n, p in lstm.named_parameters())


def _differentiated(module: Any, input: Any, hx: Any) -> bool:
    """A mistake in the gradients alone shows only where autograd records the call."""
    return torch.is_grad_enabled()


@dataclass(frozen=True)
class Mutant:
    """A plausible wrong LSTM: ``mutant(module, input, hx=None)`` returns what a buggy forward would.

    Where the mistake cannot be made (another class of module, no second
    layer, zero ``bias_hh``, ...) it returns the module's own result. The
    mutation suite counts only the claims in which the mistake was made where
    it can show (:attr:`shows`, :func:`counting`).
    """

    name: str
    """Short name, as ``python -m lstm_demo mutants`` prints it."""
    bug: str
    """The mistake, in words."""
    equations: Equations | GRUEquations | RNNEquations
    applies: Applies = _always
    """Whether the mistake can be made on this call (else the module's own result is returned)."""
    shows: Applies = _always
    """Whether the mistake, made, can change what this call returns or its gradients (else not counted)."""

    def __call__(self, module: nn.RNNBase, input: Any, hx: Any = None) -> Any:
        if not isinstance(module, self.equations.module_class) or not self.applies(module, input, hx):
            return module(input, hx)
        applied = _APPLIED.get()
        if applied is not None and self.shows(module, input, hx):
            applied.append(self.name)
        equations: Callable[..., Any] = self.equations  # the class was checked above
        return equations(module, input, hx)


@dataclass(frozen=True)
class PortMutant:
    """A porting bug: ``mutant(module, input, hx=None)`` runs the module in another framework, mapped one wrong way.

    It is tried only on the claims of its framework (:attr:`claims`), and
    like a :class:`Mutant` returns the module's own result where its
    mistake cannot be made (another class of module, no ``bias_hh``, not
    bidirectional).
    """

    name: str
    bug: str
    port: Callable[..., Any]
    """The wrong port, with the module's forward contract."""
    claims: frozenset[str]
    """The claims whose independent side it is a wrong version of."""
    classes: tuple[type[nn.RNNBase], ...] = (nn.LSTM, nn.GRU)
    applies: Applies = _always
    shows: Applies = _always

    def __call__(self, module: nn.RNNBase, input: Any, hx: Any = None) -> Any:
        if not isinstance(module, self.classes) or not self.applies(module, input, hx):
            return module(input, hx)
        applied = _APPLIED.get()
        if applied is not None and self.shows(module, input, hx):
            applied.append(self.name)
        return self.port(module, input, hx)


_ONNX = frozenset({"onnx", "onnx-export"})

#: The porting bugs, by name: each tried on its framework's claims only.
PORT_MUTANTS: dict[str, PortMutant] = {
    m.name: m
    for m in (
        PortMutant(
            "onnx-torch-gate-order",
            "ONNX W, R and B left in PyTorch's gate order (i, f, g, o), not reordered to i, o, f, c",
            onnx_torch_order,
            _ONNX,
        ),
        PortMutant(
            "onnx-one-bias",
            "ONNX B = [bias_ih, 0]: the recurrent bias left out",
            onnx_one_bias,
            _ONNX,
            applies=_has_bias_hh,
        ),
        PortMutant(
            "keras-one-bias",
            "Keras's bias = bias_ih alone (bias_hh not added)",
            keras_one_bias,
            frozenset({"keras"}),
            applies=_has_bias_hh,
        ),
        PortMutant(
            "keras-reshape",
            "Keras kernel = weight_ih.reshape(in, 4H), a reshape where weight_ih.T belongs",
            keras_reshaped,
            frozenset({"keras"}),
        ),
        PortMutant(
            "keras-hard-sigmoid",
            "Keras layers built with recurrent_activation='hard_sigmoid'",
            keras_hard_sigmoid,
            frozenset({"keras"}),
        ),
        PortMutant(
            "keras-backward-not-flipped",
            "a hand-built Keras bidirectional layer: go_backwards=True output concatenated unflipped",
            keras_backward_not_flipped,
            frozenset({"keras"}),
            applies=_bidirectional,
        ),
        PortMutant(
            "flax-carry-h-c",
            "Flax's carry passed and read as (h, c), nn.LSTM's order, where Flax's is (c, h)",
            flax_carry_h_c,
            frozenset({"flax"}),
            classes=(nn.LSTM,),
        ),
    )
}

#: Every mutant, by name: the wrong LSTMs, then the porting bugs.
MUTANTS: dict[str, Mutant | PortMutant] = {
    m.name: m
    for m in (
        Mutant(
            "gate-order",
            "blocks read as i, g, f, o (TensorFlow's i, j, f, o order)",
            Equations(gate_order=("i", "g", "f", "o")),
        ),
        Mutant(
            "hard-sigmoid",
            "gates through Keras 2's hard sigmoid, clip(0.2x + 0.5, 0, 1)",
            Equations(hard_sigmoid=True),
        ),
        Mutant(
            "one-bias", "only bias_ih added; bias_hh forgotten", Equations(both_biases=False), _has_bias_hh
        ),
        Mutant("h-not-carried", "h_0 fed to every step instead of the last h", Equations(carry_h=False)),
        Mutant("c-not-carried", "c reset to c_0 at every step", Equations(carry_c=False)),
        Mutant("no-tanh-on-c", "h = o * c, without tanh", Equations(tanh_c=False)),
        Mutant("forget-bias+0.1", "forget gate's bias off by 0.1", Equations(forget_offset=0.1)),
        Mutant("off-by-one-step", "output[t] is the state before step t", Equations(output_lags=True)),
        Mutant(
            "layer-2-gets-input",
            "layer 2 fed the input instead of layer 1's output",
            Equations(layers_read_input=True),
            _multi_layer_square,
        ),
        Mutant(
            "h0-batch-first",
            "a batch_first module reads h_0 and c_0 as (batch, num_layers * directions, H)",
            Equations(hx_batch_first=True),
            _batch_first_state,
        ),
        Mutant(
            "stateful",
            "a call without hx starts from the last call's (h_n, c_n), as Keras's stateful=True does",
            Equations(stateful=True),
            shows=_from_memory,
        ),
        Mutant(
            "padding-as-steps",
            "a packed batch run at its padded length: the padding run as real steps, h_n taken after it",
            Equations(padding_as_steps=True),
            _packed,
        ),
        Mutant(
            "backward-not-flipped",
            "the backward direction's output left in the order it was computed, not flipped back",
            Equations(flip_back=False),
            _bidirectional,
        ),
        Mutant(
            "state-detached",
            "(h, c) detached between steps: the same outputs, gradients cut at every step",
            Equations(detach_state=True),
            shows=_differentiated,
        ),
        Mutant(
            "projection-before-tanh",
            "with proj_size, h = tanh(W_hr (o * c)): the projection applied before the tanh",
            Equations(projection_before_tanh=True),
            _projected,
        ),
        Mutant(
            "dropout-in-eval",
            "dropout between layers in eval() mode too",
            Equations(dropout_in_eval=True),
            _dropout_in_eval,
        ),
        Mutant(
            "h_n-batch-first",
            "a batch_first module returns h_n and c_n as (batch, num_layers * directions, H)",
            Equations(state_batch_first=True),
            _batch_first_output,
        ),
        Mutant(
            "h_n-sorted",
            "a packed batch given unsorted: h_n and c_n left in the sorted order (unsorted_indices forgotten)",
            Equations(state_sorted=True),
            _unsorted_packed,
        ),
        Mutant(
            "stale-weights",
            "the weights of the module's first call used again after they were replaced",
            Equations(stale_weights=True),
            shows=_replaced_since,
        ),
        Mutant(
            "peephole",
            "peephole connections (c_(t-1) into i and f, c_t into o), weight 0.5",
            Equations(peephole=0.5),
        ),
        Mutant(
            "gru-reset-before",
            "GRU: r applied before the product, W_hn (r * h) + b_hn (Cho et al.'s form)",
            GRUEquations(reset_after=False),
        ),
        Mutant(
            "gru-b_hn-outside-r",
            "GRU: b_hn added outside r, as if moved into b_in",
            GRUEquations(b_hn_inside=False),
        ),
        Mutant(
            "rnn-nonlinearity",
            "RNN: relu where the module says tanh, tanh where it says relu",
            RNNEquations(swap_nonlinearity=True),
        ),
    )
}
MUTANTS.update(PORT_MUTANTS)


@dataclass(frozen=True)
class OffsetMutant:
    """The forget gate's bias moved by ``offset`` (for an ``nn.GRU``, the update gate's): a bug of any size."""

    offset: float

    def __call__(self, module: nn.RNNBase, input: Any, hx: Any = None) -> Any:
        if isinstance(module, nn.GRU):
            equations: Equations | GRUEquations = GRUEquations(update_offset=self.offset)
        elif isinstance(module, nn.LSTM):
            equations = Equations(forget_offset=self.offset)
        else:
            return module(input, hx)
        applied = _APPLIED.get()
        if applied is not None:
            applied.append("offset")
        run: Callable[..., Any] = equations  # the class was checked above
        return run(module, input, hx)


#: The mutants whose mistake is in ``h_n``/``c_n`` alone: a comparison of outputs cannot show them.
STATE_ONLY = frozenset({"h_n-batch-first", "h_n-sorted"})
