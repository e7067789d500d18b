"""Plausible wrong LSTMs, and proof that every check the site makes catches each one.

A check compares ``nn.LSTM`` with an independent computation of the same
thing: one step at a time, layers stacked by hand, the equations written
out, an ``nn.LSTMCell`` loop, the post's printed numbers, the CPU's result.
A check is only worth something if it fails when that independent side is
wrong. Each :class:`Mutant` here is such a wrong side: a function with
``nn.LSTM``'s forward contract, ``mutant(lstm, input, hx=None)``, computing
the equations of :mod:`lstm_demo.scratch` with one plausible mistake.
:func:`run` puts every mutant in place of every check's independent side, on
every device and dtype, and compares at every tolerance the site uses
(:func:`~lstm_demo.tolerances.site_tolerances`): each must be caught. As a
control, the check's own independent side must pass at the same
tolerances. :func:`smallest_caught` bisects the size of one bug, a forget-gate
bias offset, down to the smallest each check still catches.
"""

from __future__ import annotations

import copy
import dataclasses
import functools
import math
import weakref
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any, ClassVar, TypeAlias, cast, overload

import torch
from torch import nn
from torch.nn.utils.rnn import PackedSequence, pack_padded_sequence, pad_packed_sequence

from lstm_demo import post
from lstm_demo._gradients import gradients
from lstm_demo._types import LSTMResult, LSTMState
from lstm_demo._types import Result as ModuleResult
from lstm_demo._validate import StackSpec, describe
from lstm_demo.claims import (
    BATCH,
    HIDDEN,
    IN,
    SEQ,
    Place,
    _olah_lstm,
    _row_vector_lstm,
    move_bias_hh,
    post_stepwise_model,
    run_cell_loop,
)
from lstm_demo.devices import available_devices, resolve_device
from lstm_demo.layers import run_stacked, split_layers
from lstm_demo.precision import cudnn, full_precision
from lstm_demo.scratch import (
    GRUResult,
    gru_direction,
    peephole_lstm,
    run_gru,
    run_layers,
    scratch_gru,
    scratch_lstm,
)
from lstm_demo.stepwise import run_stepwise
from lstm_demo.tolerances import Tolerance, one_thread, site_tolerances

#: What a forward takes as input: a tensor, or a packed batch.
Input: TypeAlias = "torch.Tensor | PackedSequence"
#: What ``nn.LSTM`` returns for a packed batch.
PackedResult: TypeAlias = "tuple[PackedSequence, LSTMState]"
#: An independent side: ``forward(lstm, input, hx=None)`` with ``nn.LSTM``'s forward contract.
Forward = Callable[..., "ModuleResult | PackedResult"]


def _hard_sigmoid(x: torch.Tensor) -> torch.Tensor:
    """Keras's ``hard_sigmoid``: ``clip(0.2 x + 0.5, 0, 1)``."""
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

    module_class: ClassVar[type[nn.RNNBase]] = nn.LSTM
    """The module these equations stand in for."""

    @overload
    def __call__(self, lstm: nn.LSTM, input: torch.Tensor, hx: LSTMState | None = None) -> LSTMResult: ...

    @overload
    def __call__(self, lstm: nn.LSTM, input: PackedSequence, hx: LSTMState | None = None) -> PackedResult: ...

    def __call__(self, lstm: nn.LSTM, input: Input, hx: LSTMState | None = None) -> LSTMResult | PackedResult:
        """``lstm(input, hx)`` as these equations compute it (batched, unbatched or packed; ``batch_first`` either way)."""
        if not isinstance(lstm, nn.LSTM) or lstm.proj_size:
            msg = f"Expected lstm to be an nn.LSTM without proj_size, but got {describe(lstm)} instead."
            raise TypeError(msg)
        if isinstance(input, PackedSequence):
            return each_sequence(self, lstm, input, hx, padding_as_steps=self.padding_as_steps)
        spec = StackSpec.of(lstm)
        spec.check_input(input)
        spec.check_hx(hx, input)
        if self.stateful and hx is None:
            hx = _remembered(lstm, input)
        if self.hx_batch_first and lstm.batch_first and hx is not None and input.dim() == 3:
            if hx[0].shape[0] != hx[0].shape[1]:
                msg = f"Expected num_layers * directions == batch for the mistake, but got h_0 {tuple(hx[0].shape)} instead."
                raise NotApplicableError(msg)
            hx = (hx[0].transpose(0, 1), hx[1].transpose(0, 1))
        result = run_layers(lstm, input, hx, self._direction, layers_read_input=self.layers_read_input)
        if self.stateful:
            _MEMORY[lstm] = (result[1][0].detach(), result[1][1].detach())
        return result

    def _direction(
        self,
        lstm: nn.LSTM,
        name: str,
        x: torch.Tensor,
        state: tuple[torch.Tensor, torch.Tensor],
        *,
        reverse: bool,
    ) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
        w_ih, w_hh = getattr(lstm, f"weight_ih_{name}"), getattr(lstm, f"weight_hh_{name}")
        projected = x @ w_ih.T
        if lstm.bias:
            projected = projected + getattr(lstm, f"bias_ih_{name}")
            if self.both_biases:
                projected = projected + getattr(lstm, f"bias_hh_{name}")
        sigmoid = _hard_sigmoid if self.hard_sigmoid else torch.sigmoid
        h0, c0 = state
        h, c = state
        last = h
        steps = range(x.shape[0] - 1, -1, -1) if reverse else range(x.shape[0])
        outputs: list[torch.Tensor] = [x.new_empty(0)] * x.shape[0]
        for t in steps:
            gates = dict(zip(self.gate_order, (projected[t] + h @ w_hh.T).chunk(4, dim=-1), strict=True))
            before = h
            c_prev = c if self.carry_c else c0
            peep = self.peephole * c_prev
            c = sigmoid(gates["f"] + self.forget_offset + peep) * c_prev + sigmoid(
                gates["i"] + peep
            ) * torch.tanh(gates["g"])
            h = sigmoid(gates["o"] + self.peephole * c) * (torch.tanh(c) if self.tanh_c else c)
            outputs[t] = before if self.output_lags else h
            last = h  # the final state reported as h_n, whatever is carried into the next step
            if not self.carry_h:
                h = h0
        return torch.stack(outputs), last, c


#: What a stateful mutant remembers, per module: its last ``(h_n, c_n)``.
_MEMORY: weakref.WeakKeyDictionary[nn.Module, LSTMState] = weakref.WeakKeyDictionary()


def _remembered(lstm: nn.LSTM, input: torch.Tensor) -> LSTMState | None:
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


def _multi_layer_square(lstm: nn.LSTM) -> bool:
    """Layer 2 can read the input only where the input has as many features as layer 1's output."""
    return lstm.num_layers > 1 and lstm.input_size == lstm.hidden_size * (2 if lstm.bidirectional else 1)


def _has_bias_hh(lstm: nn.LSTM) -> bool:
    """Forgetting ``bias_hh`` changes nothing where it is zero (the post's experiment 2 has zero biases)."""
    return lstm.bias and any(
        bool(b.ne(0).any()) for n, b in lstm.named_parameters() if n.startswith("bias_hh")
    )


@dataclass(frozen=True)
class Mutant:
    """A plausible wrong LSTM: ``mutant(lstm, input, hx=None)`` returns what a buggy forward would."""

    name: str
    """Short name, as ``python -m lstm_demo mutants`` prints it."""
    bug: str
    """The mistake, in words."""
    equations: Equations | GRUEquations
    applies: Callable[[nn.LSTM], bool] = lambda lstm: True
    """Whether the mistake can be made on this module (e.g. a second layer exists)."""
    needs: frozenset[str] = frozenset()
    """What a check must exercise for the mistake to show (see :attr:`Check.exercises`)."""

    @overload
    def __call__(self, lstm: nn.LSTM, input: torch.Tensor, hx: LSTMState | None = None) -> LSTMResult: ...

    @overload
    def __call__(self, lstm: nn.LSTM, input: PackedSequence, hx: LSTMState | None = None) -> PackedResult: ...

    def __call__(self, lstm: nn.LSTM, input: Input, hx: LSTMState | None = None) -> LSTMResult | PackedResult:
        if not isinstance(lstm, self.equations.module_class) or not self.applies(lstm):
            msg = f"Expected a module the mistake {self.name!r} can be made on, but got {lstm} instead."
            raise NotApplicableError(msg)
        # A GRU mutant stands in for an nn.GRU, which the checks' LSTM types describe only loosely.
        equations = cast("Equations", self.equations)
        return equations(lstm, input, hx)


class NotApplicableError(ValueError):
    """A mutant's mistake cannot be made on this module (e.g. it has one layer only)."""


#: Every mutant, by name.
MUTANTS: dict[str, Mutant] = {
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
            lambda lstm: lstm.batch_first,
            frozenset({"hx"}),
        ),
        Mutant(
            "stateful",
            "a call without hx starts from the last call's (h_n, c_n), as Keras's stateful=True does",
            Equations(stateful=True),
            needs=frozenset({"calls"}),
        ),
        Mutant(
            "padding-as-steps",
            "a packed batch's padding run as real steps: h_n taken after the padding",
            Equations(padding_as_steps=True),
            needs=frozenset({"packed"}),
        ),
    )
}


# --- the checks -------------------------------------------------------------------------------------


def _leaves(result: ModuleResult | PackedResult) -> list[torch.Tensor]:
    output, state = result
    data = output.data if isinstance(output, PackedSequence) else output
    return [data, *state] if isinstance(state, tuple) else [data, state]


def _module_leaves(lstm: nn.LSTM, x: Input, hx: LSTMState | None = None) -> list[torch.Tensor]:
    return _leaves(lstm(x, hx))


#: A check's model and input, and optionally the initial state its forward is given.
Made: TypeAlias = "tuple[nn.LSTM, Input] | tuple[nn.LSTM, Input, LSTMState]"
#: How a check runs a forward for the values it compares: ``drive(forward, lstm, x, hx)``.
Drive: TypeAlias = "Callable[[Forward, nn.LSTM, Any, LSTMState | None], list[torch.Tensor]]"


@dataclass(frozen=True)
class Check:
    """A claim's comparison with its independent side left open.

    ``setup(device, dtype)`` builds the claim's model and input there, and
    optionally an initial state ``hx``; ``expected(lstm, x)`` (``expected(lstm,
    x, hx)`` where there is a state) is the side that stays (``nn.LSTM``'s
    results, the post's printed numbers, the CPU's results); the independent
    side is any ``forward(lstm, x, hx=None)``, the claim's own being ``real``.
    By default the forward is called once and every result compared; a
    ``drive(forward, lstm, x, hx)`` calls it as the claim does (twice,
    passing the state on; or backpropagating, under ``torch.enable_grad()``)
    and returns the values to compare.
    """

    name: str
    claim: str
    setup: Callable[[torch.device, torch.dtype], Made]
    real: Forward
    expected: Callable[..., list[torch.Tensor]] = _module_leaves
    printed: bool = False
    """Compared with printed outputs, so only the post's tolerance applies."""
    gpu_only: bool = False
    drive: Drive | None = None
    """How the forward is run for the compared values; default one call, every result."""
    exercises: frozenset[str] = frozenset()
    """What the check exercises beyond one call from zeros, for :attr:`Mutant.needs`, among ``"hx"`` (a
    given initial state), ``"calls"`` (a call without ``hx`` after another) and ``"packed"`` (a packed batch)."""

    def build(self, device: torch.device, dtype: torch.dtype) -> tuple[nn.LSTM, Input, LSTMState | None]:
        """``setup(device, dtype)`` as ``(lstm, x, hx)``, ``hx`` ``None`` where the setup gives none."""
        made = self.setup(device, dtype)
        return (made[0], made[1], made[2]) if len(made) == 3 else (made[0], made[1], None)

    def reference(self, lstm: nn.LSTM, x: Input, hx: LSTMState | None = None) -> list[torch.Tensor]:
        """The side that stays (a reference that backpropagates turns gradients on itself)."""
        with torch.no_grad():
            return self.expected(lstm, x) if hx is None else self.expected(lstm, x, hx)

    def tries(self, forward: Forward) -> bool:
        """Whether the check can catch ``forward``: a mutant's needs are all exercised."""
        return not isinstance(forward, Mutant) or forward.needs <= self.exercises

    def actual(
        self, forward: Forward, lstm: nn.LSTM, x: Input, hx: LSTMState | None = None
    ) -> list[torch.Tensor]:
        """What ``forward`` gives for the compared values: every result, or the output alone (printed)."""
        with torch.no_grad():
            if self.drive is not None:
                return self.drive(forward, lstm, x, hx)
            result = forward(lstm, x) if hx is None else forward(lstm, x, hx)
        return _leaves(result)[:1] if self.printed else _leaves(result)

    def pairs(
        self, forward: Forward, device: torch.device, dtype: torch.dtype
    ) -> tuple[nn.LSTM, list[tuple[torch.Tensor, torch.Tensor]]]:
        """The module, and ``(actual, expected)`` pairs in float64 on the CPU, with ``forward`` as the independent side."""
        lstm, x, hx = self.build(device, dtype)
        expected = self.reference(lstm, x, hx)
        actual = self.actual(forward, lstm, x, hx)
        return lstm, [(a.double().cpu(), e.double().cpu()) for a, e in zip(actual, expected, strict=True)]


def _post_1_model(device: torch.device, dtype: torch.dtype) -> tuple[nn.LSTM, torch.Tensor]:
    at = Place(device, dtype)
    return at.module(post_stepwise_model), at.randn(2, 3, 4)


def _two_layers(device: torch.device, dtype: torch.dtype) -> tuple[nn.LSTM, torch.Tensor]:
    at = Place(device, dtype)
    return at.lstm(3, 3, num_layers=2), at.randn(5, 1, 3)


def _scratch_model(device: torch.device, dtype: torch.dtype) -> tuple[nn.LSTM, torch.Tensor]:
    at = Place(device, dtype)
    return at.lstm(IN, HIDDEN, num_layers=2, bidirectional=True), at.randn(SEQ, BATCH, IN)


def _one_layer(device: torch.device, dtype: torch.dtype) -> tuple[nn.LSTM, torch.Tensor]:
    at = Place(device, dtype)
    return at.lstm(IN, HIDDEN), at.randn(SEQ, BATCH, IN)


def _stacked(lstm: nn.LSTM, x: torch.Tensor, hx: LSTMState | None = None) -> ModuleResult:
    return run_stacked(split_layers(lstm), x, hx)


def _post_setup(experiment: int) -> Callable[[torch.device, torch.dtype], tuple[nn.LSTM, torch.Tensor]]:
    def setup(device: torch.device, dtype: torch.dtype) -> tuple[nn.LSTM, torch.Tensor]:
        if experiment == 1:
            lstm = post.experiment_1_lstm(device=device, dtype=dtype)
            return lstm, post.recovered_experiment_1_input().input.to(device=device, dtype=dtype)
        lstm = post.experiment_2_lstm(device=device, dtype=dtype)
        return lstm, post.experiment_2_inputs().to(device=device, dtype=dtype)

    return setup


def _printed(experiment: int) -> Callable[[nn.LSTM, torch.Tensor], list[torch.Tensor]]:
    def printed(lstm: nn.LSTM, x: torch.Tensor) -> list[torch.Tensor]:
        return [post.experiment_1_outputs() if experiment == 1 else post.experiment_2_outputs()]

    return printed


def _on_the_cpu(lstm: nn.LSTM, x: torch.Tensor) -> list[torch.Tensor]:
    """The same module and input, copied to the CPU and run there."""
    return _leaves(copy.deepcopy(lstm).cpu()(x.cpu()))


def _module(lstm: nn.LSTM, x: torch.Tensor, hx: LSTMState | None = None) -> LSTMResult:
    result: LSTMResult = lstm(x, hx)
    return result


def _state_layout(device: torch.device, dtype: torch.dtype) -> Made:
    """``batch_first=True`` with ``num_layers == batch``: an ``h_0`` read batch-first still fits."""
    at = Place(device, dtype)
    lstm = at.lstm(IN, HIDDEN, num_layers=BATCH, batch_first=True)
    hx = at.randn(BATCH, BATCH, HIDDEN, offset=2), at.randn(BATCH, BATCH, HIDDEN, offset=3)
    return lstm, at.randn(BATCH, SEQ, IN), hx


def _time_first(lstm: nn.LSTM, x: torch.Tensor, hx: LSTMState | None = None) -> LSTMResult:
    """The same module with ``batch_first=False``, on the transposed input, with the same state."""
    other = copy.deepcopy(lstm)
    other.batch_first = False
    output, state = other(x.transpose(0, 1), hx)
    return output.transpose(0, 1), state


def _two_chunks(device: torch.device, dtype: torch.dtype) -> Made:
    at = Place(device, dtype)
    return at.lstm(IN, HIDDEN), at.randn(12, BATCH, IN)


def _two_calls(forward: Forward, lstm: nn.LSTM, x: torch.Tensor, hx: LSTMState | None) -> list[torch.Tensor]:
    """Chunk 1, then chunk 2 without a state, then chunk 2 given chunk 1's state."""
    _, state = forward(lstm, x[:6])
    return [*_leaves(forward(lstm, x[6:])), *_leaves(forward(lstm, x[6:], state))]


def _fresh_then_whole(lstm: nn.LSTM, x: torch.Tensor) -> list[torch.Tensor]:
    """A copy of the module on chunk 2 from explicit zeros; one call over both chunks."""
    zeros = x.new_zeros(lstm.num_layers, x.shape[1], lstm.hidden_size)
    whole, (h_n, c_n) = lstm(x)
    return [*_leaves(copy.deepcopy(lstm)(x[6:], (zeros, zeros))), whole[6:], h_n, c_n]


def _chunk_2_gradients(lstm: nn.LSTM, output: torch.Tensor, second: torch.Tensor) -> list[torch.Tensor]:
    """Chunk 2's output and the gradients of a fixed random weighting of it, w.r.t. its input and every parameter."""
    weights = torch.randn(output.shape, generator=torch.Generator().manual_seed(2), dtype=torch.float64)
    loss = (output * weights.to(output)).sum()
    wrt = [second, *lstm.parameters()]
    found = torch.autograd.grad(loss, wrt, allow_unused=True)  # a mutant may leave a parameter out
    return [
        output.detach(),
        *(torch.zeros_like(w) if g is None else g for w, g in zip(wrt, found, strict=True)),
    ]


def _detached_carry(
    forward: Forward, lstm: nn.LSTM, x: torch.Tensor, hx: LSTMState | None
) -> list[torch.Tensor]:
    """Chunk 1, its state detached, then chunk 2 from it, backpropagated."""
    with torch.enable_grad():
        _, (h, c) = cast("LSTMResult", forward(lstm, x[:6]))
        second = x[6:].clone().requires_grad_(True)
        output, _ = cast("LSTMResult", forward(lstm, second, (h.detach(), c.detach())))
        return _chunk_2_gradients(lstm, output, second)


def _from_a_constant(lstm: nn.LSTM, x: torch.Tensor) -> list[torch.Tensor]:
    """Chunk 1 without gradients, then chunk 2 from its state as a constant, backpropagated."""
    with torch.no_grad():
        _, state = lstm(x[:6])
    with torch.enable_grad():
        second = x[6:].clone().requires_grad_(True)
        output, _ = lstm(second, state)
        return _chunk_2_gradients(lstm, output, second)


_LENGTHS = [2, 6, 4]


def _padded(device: torch.device, dtype: torch.dtype) -> tuple[nn.LSTM, torch.Tensor]:
    """A bidirectional LSTM and a batch of lengths 2, 6 and 4, zero-padded to 6."""
    at = Place(device, dtype)
    x = at.randn(SEQ, BATCH, IN)
    for b, n in enumerate(_LENGTHS):
        x[n:, b] = 0
    return at.lstm(IN, HIDDEN, bidirectional=True), x


def _packed(device: torch.device, dtype: torch.dtype) -> Made:
    lstm, x = _padded(device, dtype)
    return lstm, pack_padded_sequence(x, _LENGTHS, enforce_sorted=False)


def _each_with_padding(lstm: nn.LSTM, x: torch.Tensor, hx: LSTMState | None = None) -> LSTMResult:
    """Each sequence of the batch alone (unbatched), its padding run as real steps."""
    results = [lstm(x[:, b]) for b in range(x.shape[1])]
    output = torch.stack([o for o, _ in results], dim=1)
    return output, (
        torch.stack([h for _, (h, _) in results], dim=1),
        torch.stack([c for _, (_, c) in results], dim=1),
    )


def _gradients_of(forward: Forward, lstm: nn.LSTM, x: torch.Tensor) -> list[torch.Tensor]:
    """The gradients of ``output.sum() + h_n.sum() + c_n.sum()`` through ``forward``, input first."""
    return list(gradients(lstm, x, forward).values())


def _in_eval_mode(forward: Forward, lstm: nn.LSTM, x: Any, hx: LSTMState | None) -> list[torch.Tensor]:
    """Backward through ``forward`` with the module in eval() mode (cuDNN off: cuDNN refuses it)."""
    with cudnn(False):
        return _gradients_of(forward, lstm.eval(), x)


def _in_train_mode(lstm: nn.LSTM, x: Any) -> list[torch.Tensor]:
    """``nn.LSTM``'s gradients in train() mode, cuDNN off like the eval() side."""
    with cudnn(False):
        return _gradients_of(_module, lstm.train(), x)


def _dropout_model(device: torch.device, dtype: torch.dtype) -> Made:
    at = Place(device, dtype)
    lstm = at.module(functools.partial(nn.LSTM, IN, HIDDEN, num_layers=3, dropout=0.5)).train()
    return lstm, at.randn(SEQ, BATCH, IN)


def _seeded(forward: Forward, lstm: nn.LSTM, x: Any, hx: LSTMState | None = None) -> list[torch.Tensor]:
    """``forward``'s results after ``torch.manual_seed(1234)``, the caller's random state left alone."""
    with torch.random.fork_rng(devices=[x.device] if x.device.type == "cuda" else []):
        torch.manual_seed(1234)
        return _leaves(forward(lstm, x))


_CHECKS = (
    Check(
        "post-stepwise",
        "one step at a time (run_stepwise) vs the whole sequence; LSTM(4, 5), U(-0.08, 0.08)",
        _post_1_model,
        run_stepwise,
    ),
    Check(
        "post-layers",
        "two layers stacked by hand (run_stacked) vs num_layers=2; LSTM(3, 3)",
        _two_layers,
        _stacked,
    ),
    Check(
        "scratch",
        "the equations written out vs nn.LSTM; 2 layers, bidirectional",
        _scratch_model,
        scratch_lstm,
    ),
    Check(
        "lstmcell-loop",
        "an nn.LSTMCell loop vs nn.LSTM",
        _one_layer,
        run_cell_loop,
    ),
    Check(
        "post-experiment-1",
        "the post's 30 printed outputs of experiment 1, from the input recovered for nn.LSTM "
        "(a mutant is not refitted an input of its own, so this check is optimistic)",
        _post_setup(1),
        _module,
        _printed(1),
        printed=True,
    ),
    Check(
        "post-experiment-2",
        "the post's 15 printed outputs of experiment 2 (method 2, layers stacked)",
        _post_setup(2),
        _stacked,
        _printed(2),
        printed=True,
    ),
    Check(
        "cpu-vs-gpu",
        "the same module on a GPU vs on the CPU; LSTM(3, 3, 2 layers)",
        _two_layers,
        _module,
        _on_the_cpu,
        gpu_only=True,
    ),
    Check(
        "state-layout",
        "the batch_first=False module on the transposed input vs batch_first=True, same (h_0, c_0); "
        "num_layers == batch == 3, so a batch-first h_0 fits",
        _state_layout,
        _time_first,
        exercises=frozenset({"hx"}),
    ),
    Check(
        "no-hidden-memory",
        "two calls vs a fresh module from zeros (no state passed) and one call (state passed)",
        _two_chunks,
        _module,
        _fresh_then_whole,
        drive=_two_calls,
        exercises=frozenset({"hx", "calls"}),
    ),
    Check(
        "truncated-bptt",
        "gradients of chunk 2's loss, state detached vs chunk 1 run without gradients",
        _two_chunks,
        _module,
        _from_a_constant,
        drive=_detached_carry,
        exercises=frozenset({"hx"}),
    ),
    Check(
        "padded-unpacked",
        "each sequence alone, padding as steps, vs the padded batch; bidirectional",
        _padded,
        _each_with_padding,
    ),
    Check(
        "packed",
        "each sequence alone at its true length vs the packed batch (enforce_sorted=False); bidirectional",
        _packed,
        functools.partial(each_sequence, _module),
        exercises=frozenset({"packed"}),
    ),
    Check(
        "eval-backward",
        "gradients with the module in eval() mode vs nn.LSTM's in train() mode, no dropout; cuDNN off",
        _two_layers,
        _module,
        _in_train_mode,
        drive=_in_eval_mode,
    ),
    Check(
        "repeatable",
        "a second run from the same seed vs nn.LSTM's first, train() mode, dropout 0.5 between 3 layers",
        _dropout_model,
        _module,
        functools.partial(_seeded, _module),
        drive=_seeded,
    ),
)
# --- biases, peepholes, notations and the GRU ---------------------------------------------------------


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

    def __call__(self, gru: nn.RNNBase, input: torch.Tensor, hx: torch.Tensor | None = None) -> GRUResult:
        """``gru(input, hx)`` as these equations compute it (batched or not, ``batch_first`` either way)."""
        if not isinstance(gru, nn.GRU):
            msg = f"Expected gru to be an nn.GRU, but got {describe(gru)} instead."
            raise TypeError(msg)
        spec = StackSpec.of(gru)
        spec.check_input(input)
        spec.check_hx(hx, input)
        direction = functools.partial(
            gru_direction,
            reset_after=self.reset_after,
            b_hn_inside=self.b_hn_inside,
            update_offset=self.update_offset,
        )
        return run_gru(gru, input, hx, direction)


MUTANTS.update(
    (m.name, m)
    for m in (
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
    )
)


def _offset_mutant(module: nn.Module, offset: float) -> Equations | GRUEquations:
    """The forget gate's bias moved by ``offset``; for an ``nn.GRU``, the update gate's."""
    return (
        GRUEquations(update_offset=offset) if isinstance(module, nn.GRU) else Equations(forget_offset=offset)
    )


def _gru_two_layers(device: torch.device, dtype: torch.dtype) -> tuple[nn.LSTM, torch.Tensor]:
    at = Place(device, dtype)
    gru = at.module(lambda: nn.GRU(IN, HIDDEN, num_layers=2))
    # A check's module is typed nn.LSTM; an nn.GRU here meets the GRU mutants only (Mutant.__call__).
    return cast("nn.LSTM", gru), at.randn(SEQ, BATCH, IN)


def _two_layers_4(device: torch.device, dtype: torch.dtype) -> tuple[nn.LSTM, torch.Tensor]:
    at = Place(device, dtype)
    return at.lstm(IN, HIDDEN, num_layers=2), at.randn(SEQ, BATCH, IN)


def _biases_moved(lstm: nn.LSTM, x: torch.Tensor) -> ModuleResult:
    result: ModuleResult = move_bias_hh(lstm)(x)
    return result


def _gru_rz_moved(gru: nn.GRU, x: torch.Tensor) -> ModuleResult:
    result: ModuleResult = move_bias_hh(gru, gates=[0, 1])(x)
    return result


def _without_peepholes(lstm: nn.LSTM, x: torch.Tensor) -> ModuleResult:
    return peephole_lstm(lstm, x, None)


_NOTATION_CHECKS = (
    Check("two-biases", "bias_hh moved into bias_ih vs nn.LSTM; 2 layers", _two_layers_4, _biases_moved),
    Check(
        "no-peepholes",
        "the equations without peepholes (lstm_cell) vs nn.LSTM",
        _one_layer,
        _without_peepholes,
    ),
    Check("olah-notation", "Olah's W [h, x] + b vs nn.LSTM", _one_layer, _olah_lstm),
    Check("row-vector", "x @ kernel (in, 4H), gates i, f, g, o vs nn.LSTM", _one_layer, _row_vector_lstm),
    Check("gru-bias", "b_hr, b_hz moved into b_ir, b_iz vs nn.GRU; 2 layers", _gru_two_layers, _gru_rz_moved),
    Check("cho-gru", "the GRU equations written out vs nn.GRU; 2 layers", _gru_two_layers, scratch_gru),
)

#: Every check, by the claim name ``python -m lstm_demo check`` uses where there is one.
CHECKS: dict[str, Check] = {check.name: check for check in (*_CHECKS, *_NOTATION_CHECKS)}


def tolerances_for(check: Check, dtype: torch.dtype) -> list[str]:
    """The names of the site's tolerances a check is held to in ``dtype``.

    Every tolerance of that dtype, CPU and GPU alike, and the post's; a
    comparison with printed numbers only the post's.

    Examples
    --------
    >>> import torch
    >>> from lstm_demo.mutants import CHECKS, tolerances_for
    >>> tolerances_for(CHECKS["scratch"], torch.float64)
    ['cpu float64', 'gpu float64', 'post printed']
    """
    if check.printed:
        return ["post printed"]
    name = str(dtype).removeprefix("torch.")
    return [f"cpu {name}", f"gpu {name}", "post printed"]


def _ratio(pairs: list[tuple[torch.Tensor, torch.Tensor]], tolerance: Tolerance) -> float:
    """Greatest ``|actual - expected| / (atol + rtol |expected|)``: above 1 means caught."""
    worst = 0.0
    for actual, expected in pairs:
        allowed = tolerance.atol + tolerance.rtol * expected.abs()
        diff = (actual - expected).abs()
        if not bool(torch.isfinite(diff).all()):
            return math.inf
        worst = max(worst, float((diff / allowed).max()))
    return worst


@dataclass(frozen=True)
class Result:
    """One mutant (or the control) against one check, on one device and dtype, at one tolerance."""

    mutant: str
    """A :data:`MUTANTS` name, or ``"none (control)"`` for the check's own independent side."""
    claim: str
    device: str
    dtype: str
    tolerance: str
    caught: bool
    """Whether the comparison failed (for the control it must not)."""
    max_abs_diff: float
    ratio: float
    """Greatest ``|diff| / allowed``, above 1 when caught."""


CONTROL = "none (control)"


def _placements(
    devices: Sequence[torch.device], dtypes: Sequence[torch.dtype]
) -> list[tuple[torch.device, torch.dtype]]:
    return [(d, t) for d in devices for t in dtypes if not (d.type == "mps" and t == torch.float64)]


def _validated(
    devices: Sequence[torch.device | str] | None, dtypes: Sequence[torch.dtype] | None
) -> tuple[list[torch.device], list[torch.dtype]]:
    chosen = [resolve_device(d) for d in devices] if devices is not None else available_devices()
    dtypes = list(dtypes) if dtypes is not None else [torch.float32, torch.float64]
    for dtype in dtypes:
        if dtype not in (torch.float32, torch.float64):
            msg = f"Expected dtypes torch.float32 or torch.float64, but got {dtype!r} instead."
            raise TypeError(msg)
    if not chosen or not dtypes:
        msg = f"Expected at least one device and one dtype, but got {len(chosen)} and {len(dtypes)} instead."
        raise ValueError(msg)
    return list(dict.fromkeys(chosen)), list(dict.fromkeys(dtypes))


def run(
    *,
    devices: Sequence[torch.device | str] | None = None,
    dtypes: Sequence[torch.dtype] | None = None,
    mutants: Sequence[str] | None = None,
    checks: Sequence[str] | None = None,
) -> list[Result]:
    """Every mutant against every check it applies to, on every device and dtype, at every tolerance.

    Also one control row per check, device, dtype and tolerance: the check's
    own independent side, which must pass. GPU-only checks (``cpu-vs-gpu``)
    run on GPUs only. Everything runs with TF32 off, on one CPU thread.

    Parameters
    ----------
    devices : sequence of str or torch.device, optional
        Default: :func:`~lstm_demo.available_devices`.
    dtypes : sequence of torch.dtype, optional
        Default: float32 and float64 (float64 is skipped on MPS).
    mutants, checks : sequence of str, optional
        Names from :data:`MUTANTS` and :data:`CHECKS`; default all.

    Raises
    ------
    TypeError
        If a dtype is not float32 or float64.
    ValueError
        If a device is not this machine's, or a name is unknown.

    Examples
    --------
    >>> from lstm_demo.mutants import run
    >>> results = run(devices=["cpu"], mutants=["no-tanh-on-c"], checks=["post-stepwise"])
    >>> sorted({(r.mutant, r.caught) for r in results})
    [('no-tanh-on-c', True), ('none (control)', False)]
    """
    chosen_devices, chosen_dtypes = _validated(devices, dtypes)
    for label, names, known in (("mutant", mutants, MUTANTS), ("check", checks, CHECKS)):
        unknown = [n for n in names or () if n not in known]
        if unknown:
            msg = f"Expected {label} names from {', '.join(known)}, but got {', '.join(unknown)} instead."
            raise ValueError(msg)
    tolerances = site_tolerances()
    results = []
    with full_precision(), one_thread():
        for check in (CHECKS[n] for n in (checks or CHECKS)):
            for device, dtype in _placements(chosen_devices, chosen_dtypes):
                if check.gpu_only and device.type == "cpu":
                    continue
                sides: dict[str, Forward] = {CONTROL: check.real}
                sides.update({n: MUTANTS[n] for n in mutants or MUTANTS if check.tries(MUTANTS[n])})
                lstm, x, hx = check.build(device, dtype)
                expected = [e.double().cpu() for e in check.reference(lstm, x, hx)]
                for name, forward in sides.items():
                    try:
                        actual = check.actual(forward, lstm, x, hx)
                    except NotApplicableError:
                        continue
                    pairs = [(a.double().cpu(), e) for a, e in zip(actual, expected, strict=True)]
                    diff = max(float((a - e).abs().max()) for a, e in pairs)
                    for tolerance_name in tolerances_for(check, dtype):
                        ratio = _ratio(pairs, tolerances[tolerance_name])
                        results.append(
                            Result(
                                name,
                                check.name,
                                str(device),
                                str(dtype).removeprefix("torch."),
                                tolerance_name,
                                ratio > 1,
                                diff,
                                ratio,
                            )
                        )
    return results


def escapes(results: list[Result]) -> list[Result]:
    """The rows that make the suite fail: a mutant not caught, or a control caught."""
    return [r for r in results if r.caught == (r.mutant == CONTROL)]


def table(results: list[Result]) -> str:
    """Results as text: one line per mutant and check, one verdict per device, dtype and tolerance.

    A verdict is ``caught`` when every tolerance caught it (the control:
    ``passes`` when none did), else the tolerances it escaped. Each line also
    gives the smallest ``|diff| / allowed`` over the tolerances (``x`` factor).
    """
    rows: dict[tuple[str, str], list[Result]] = {}
    for r in results:
        rows.setdefault((r.mutant, r.claim), []).append(r)
    width = max(len(m) for m, _ in rows)
    check_width = max(len(c) for _, c in rows)
    lines = [f"{'mutant':<{width}}  {'check':<{check_width}}  verdict"]
    for (mutant, claim), found in rows.items():
        bad = escapes(found)
        control = mutant == CONTROL
        if bad:
            where = ", ".join(f"{r.device} {r.dtype} at {r.tolerance}" for r in bad)
            verdict = f"{'CAUGHT' if control else 'ESCAPES'}: {where}"
        else:
            worst = max(r.ratio for r in found) if control else min(r.ratio for r in found)
            verdict = (
                f"passes (<= {worst:.2g} of allowed)" if control else f"caught (>= {worst:.2g}x allowed)"
            )
        lines.append(f"{mutant:<{width}}  {claim:<{check_width}}  {verdict}")
    return "\n".join(lines)


# --- the smallest bug each check catches -----------------------------------------------------------------


@dataclass(frozen=True)
class Smallest:
    """The smallest forget-gate bias offset a check catches at one tolerance."""

    claim: str
    device: str
    dtype: str
    tolerance: str
    offset: float
    """Smallest offset found caught, ``inf`` if even an offset of 1 passes."""
    not_caught: float
    """An offset just below it that passes; the two bracket the threshold."""


#: The bisection stops when the offset caught and the one not caught are this close in log10 (1.2%).
RESOLUTION = 0.005


def _named_ratio(ratios: Callable[[float], dict[str, float]], name: str, log_offset: float) -> float:
    return ratios(log_offset)[name]


def _threshold(ratio_at: Callable[[float], float]) -> tuple[float, float]:
    """``(low, high)`` in log10 of the offset: ``high`` caught, ``low`` not, at most RESOLUTION apart."""
    log_offset = -3.0
    for _ in range(8):  # the error is about linear in a small offset: aim where ratio_at is 1
        ratio = ratio_at(log_offset)
        if not 0 < ratio < math.inf:
            break
        step = -math.log10(ratio)
        log_offset = min(0.0, max(-16.0, log_offset + step))
        if abs(step) < 0.005:
            break
    high, width = log_offset + 0.01, 0.01
    while ratio_at(high) <= 1:
        if high >= 0:
            return 0.0, math.inf
        high, width = min(0.0, high + width), 2 * width
    low, width = min(log_offset, high) - 0.01, 0.01
    while ratio_at(low) > 1:
        if low <= -16:
            return -math.inf, low
        low, width = max(-16.0, low - width), 2 * width
    while high - low > RESOLUTION:
        middle = (low + high) / 2
        low, high = (low, middle) if ratio_at(middle) > 1 else (middle, high)
    return low, high


def smallest_caught(
    check: str,
    *,
    device: torch.device | str = "cpu",
    dtype: torch.dtype = torch.float32,
    tolerances: Sequence[str] | None = None,
) -> list[Smallest]:
    """The smallest forget-gate bias offset the check catches, per tolerance, bracketed by bisection.

    The mutant is :class:`Equations` with ``forget_offset`` (for a check
    on an ``nn.GRU``, :class:`GRUEquations` with ``update_offset``, the
    update gate ``z`` keeping the old state as the forget gate keeps
    ``c``). A few secant
    steps on a log scale aim at the size where the greatest
    ``|diff| / allowed`` reaches 1; then an offset that passes and one that
    is caught are found around it, and the bracket is halved until they are
    within :data:`RESOLUTION` decades (1.2%) of each other. At every tolerance
    of :func:`tolerances_for` the check, or those named in ``tolerances``.

    Raises
    ------
    TypeError
        If ``dtype`` is not float32 or float64.
    ValueError
        If ``check`` is not in :data:`CHECKS`, or needs a GPU and ``device``
        is the CPU, or ``device`` is not one of this machine's, or a name in
        ``tolerances`` is not one the check is held to in ``dtype``.

    Examples
    --------
    >>> from lstm_demo.mutants import smallest_caught
    >>> [found] = smallest_caught("post-experiment-2")
    >>> found.tolerance, found.not_caught < found.offset < 1e-2
    ('post printed', True)
    """
    if check not in CHECKS:
        msg = f"Expected a check name from {', '.join(CHECKS)}, but got {check!r} instead."
        raise ValueError(msg)
    chosen, (dtype,) = _validated([device], [dtype])
    device = chosen[0]
    spec = CHECKS[check]
    if spec.gpu_only and device.type == "cpu":
        msg = f"Expected a GPU for check {check!r}, but got {device} instead."
        raise ValueError(msg)
    allowed = tolerances_for(spec, dtype)
    unknown = [n for n in tolerances or () if n not in allowed]
    if unknown:
        msg = f"Expected tolerance names from {', '.join(allowed)}, but got {', '.join(unknown)} instead."
        raise ValueError(msg)
    chosen_tolerances = {n: site_tolerances()[n] for n in tolerances or allowed}
    cache: dict[float, dict[str, float]] = {}
    with full_precision(), one_thread():
        lstm, x, hx = spec.build(device, dtype)
        expected = [e.double().cpu() for e in spec.reference(lstm, x, hx)]

    def ratios(log_offset: float) -> dict[str, float]:
        if log_offset not in cache:
            actual = spec.actual(_offset_mutant(lstm, 10.0**log_offset), lstm, x, hx)
            pairs = [(a.double().cpu(), e) for a, e in zip(actual, expected, strict=True)]
            cache[log_offset] = {n: _ratio(pairs, t) for n, t in chosen_tolerances.items()}
        return cache[log_offset]

    found = []
    with full_precision(), one_thread():
        for name in chosen_tolerances:
            low, high = _threshold(functools.partial(_named_ratio, ratios, name))
            found.append(
                Smallest(
                    spec.name, str(device), str(dtype).removeprefix("torch."), name, 10.0**high, 10.0**low
                )
            )
    return found


def as_json(results: list[Result]) -> dict[str, object]:
    """The ``--json`` document: the tolerances with their derivations, then every result."""
    return {
        "tolerances": [
            {"name": name, "rtol": t.rtol, "atol": t.atol, "why": t.why}
            for name, t in site_tolerances().items()
        ],
        "results": [dataclasses.asdict(r) for r in results],
    }
