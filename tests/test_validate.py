"""_validate: every message the argument checks give, each for the argument it names.

The helpers that stand in for a module's forward (``run_stepwise``,
``run_stacked``, ``scratch_lstm``, ...) all check their arguments through
``StackSpec.checked`` or ``StackSpec.check``; this is the matrix of what
they say.
"""

from __future__ import annotations

import re

import pytest
import torch
from torch import nn
from torch.nn.utils.rnn import pack_padded_sequence

from lstm_demo._validate import StackSpec, check_module, describe


def exactly(message: str) -> str:
    """A pattern for ``pytest.raises(match=...)`` that matches ``message`` whole."""
    return f"^{re.escape(message)}$"


def spec(module: nn.RNNBase) -> StackSpec:
    return StackSpec.of(module)


# --- describe, check_module ----------------------------------------------------------------------


def test_describe_names_what_was_given():
    assert describe(torch.zeros(2, 3)) == "a tensor of shape (2, 3)"
    packed = pack_padded_sequence(torch.zeros(3, 2, 4), torch.tensor([3, 2]))
    assert describe(packed) == "a PackedSequence"
    assert describe([1, 2]) == "an object of type list"


@pytest.mark.parametrize(
    ("module", "what", "message"),
    [
        (nn.Linear(3, 4), "rnn", "Expected rnn to be an nn.LSTM, nn.GRU or nn.RNN, but got an object of type Linear instead."),
        (nn.LSTMCell(3, 4), "layers[1]", "Expected layers[1] to be an nn.LSTM, nn.GRU or nn.RNN, but got an object of type LSTMCell instead."),
        (torch.zeros(3), "rnn", "Expected rnn to be an nn.LSTM, nn.GRU or nn.RNN, but got a tensor of shape (3,) instead."),
    ],
)  # fmt: skip
def test_check_module_refuses_other_modules(module, what, message):
    with pytest.raises(TypeError, match=exactly(message)):
        check_module(module, what)


@pytest.mark.parametrize("cls", [nn.LSTM, nn.GRU, nn.RNN])
def test_check_module_returns_the_class(cls):
    assert check_module(cls(3, 4)) is cls


# --- StackSpec.checked: the module -----------------------------------------------------------------


@pytest.mark.parametrize(
    ("module", "kind", "what", "message"),
    [
        (nn.Linear(3, 4), None, "rnn", "Expected rnn to be an nn.LSTM, nn.GRU or nn.RNN, but got an object of type Linear instead."),
        (nn.GRU(3, 4), nn.LSTM, "lstm", "Expected lstm to be an nn.LSTM, but got an object of type GRU instead."),
        (nn.LSTM(3, 4), nn.GRU, "gru", "Expected gru to be an nn.GRU, but got an object of type LSTM instead."),
        ("lstm", nn.LSTM, "lstm", "Expected lstm to be an nn.LSTM, but got an object of type str instead."),
    ],
)  # fmt: skip
def test_checked_refuses_the_wrong_module(module, kind, what, message):
    with pytest.raises(TypeError, match=exactly(message)):
        StackSpec.checked(module, torch.zeros(5, 3), what=what, kind=kind)


def test_checked_returns_the_modules_spec():
    lstm = nn.LSTM(3, 4, num_layers=2, bidirectional=True, proj_size=2, batch_first=True)
    found = StackSpec.checked(lstm, torch.zeros(2, 5, 3), (torch.zeros(4, 2, 2), torch.zeros(4, 2, 4)))
    assert found == StackSpec.of(lstm)
    assert (found.cls, found.input_size, found.hidden_size, found.proj_size) == (nn.LSTM, 3, 4, 2)
    assert (found.num_layers, found.directions, found.batch_first, found.out_size) == (2, 2, True, 2)
    assert (found.device, found.dtype, found.name) == (torch.device("cpu"), torch.float32, "nn.LSTM")


def test_checked_checks_the_input_before_the_state():
    # Both are wrong: the input's message comes first, as the module's forward reads it first.
    with pytest.raises(ValueError, match=r"^Expected input with 3 features"):
        StackSpec.checked(nn.GRU(3, 4), torch.zeros(5, 7), torch.zeros(9, 9))
    with pytest.raises(ValueError, match=r"^Expected h_0 of shape"):
        StackSpec.checked(nn.GRU(3, 4), torch.zeros(5, 3), torch.zeros(9, 9))


# --- the input -----------------------------------------------------------------------------------

TIME_FIRST = "(seq_len, batch, features)"
BATCH_FIRST = "(batch, seq_len, features)"


@pytest.mark.parametrize(
    ("batch_first", "input", "error", "message"),
    [
        (False, [[1.0]], TypeError, "Expected input to be a torch.Tensor, but got an object of type list instead."),
        (False, torch.zeros(5), ValueError, f"Expected input of 3 dimensions {TIME_FIRST} or 2 dimensions (seq_len, features) for unbatched input, but got shape (5,) instead."),
        (False, torch.zeros(5, 2, 3, 1), ValueError, f"Expected input of 3 dimensions {TIME_FIRST} or 2 dimensions (seq_len, features) for unbatched input, but got shape (5, 2, 3, 1) instead."),
        (True, torch.zeros(5), ValueError, f"Expected input of 3 dimensions {BATCH_FIRST} or 2 dimensions (seq_len, features) for unbatched input, but got shape (5,) instead."),
        (False, torch.zeros(5, 2, 4), ValueError, "Expected input with 3 features in its last dimension (the module's input_size), but got shape (5, 2, 4) instead."),
        (True, torch.zeros(5, 4), ValueError, "Expected input with 3 features in its last dimension (the module's input_size), but got shape (5, 4) instead."),
        (False, torch.zeros(0, 2, 3), ValueError, "Expected at least one time step, but got shape (0, 2, 3) with seq_len 0 instead."),
        (True, torch.zeros(2, 0, 3), ValueError, "Expected at least one time step, but got shape (2, 0, 3) with seq_len 0 instead."),
        (True, torch.zeros(0, 3), ValueError, "Expected at least one time step, but got shape (0, 3) with seq_len 0 instead."),
        (False, torch.zeros(5, 2, 3, dtype=torch.float64), ValueError, "Expected input of the module's dtype torch.float32, but got torch.float64 instead."),
        (False, torch.zeros(5, 2, 3, device="meta"), ValueError, "Expected input on the module's device cpu, but got meta instead."),
    ],
)  # fmt: skip
def test_check_input(batch_first, input, error, message):
    with pytest.raises(error, match=exactly(message)):
        spec(nn.LSTM(3, 4, batch_first=batch_first)).check_input(input)


def test_check_input_refuses_a_packed_sequence():
    packed = pack_padded_sequence(torch.zeros(3, 2, 3), torch.tensor([3, 2]))
    message = (
        "Expected input to be a padded tensor, but got a PackedSequence instead: this helper does not "
        "support packed input. Run the module itself on packed input, or pad it with "
        "torch.nn.utils.rnn.pad_packed_sequence first."
    )
    with pytest.raises(TypeError, match=exactly(message)):
        spec(nn.LSTM(3, 4)).check_input(packed)


@pytest.mark.parametrize(
    ("batch_first", "shape"),
    [(False, (5, 2, 3)), (True, (2, 5, 3)), (False, (5, 3)), (True, (5, 3)), (False, (1, 1, 3))],
)
def test_check_input_accepts_every_layout(batch_first, shape):
    spec(nn.GRU(3, 4, batch_first=batch_first)).check_input(torch.zeros(shape))


def test_check_input_in_float64():
    spec(nn.LSTM(3, 4).double()).check_input(torch.zeros(5, 2, 3, dtype=torch.float64))
    with pytest.raises(
        ValueError,
        match=exactly("Expected input of the module's dtype torch.float64, but got torch.float32 instead."),
    ):
        spec(nn.LSTM(3, 4).double()).check_input(torch.zeros(5, 2, 3))


# --- the initial state -----------------------------------------------------------------------------

BATCHED_H = "(num_layers * num_directions, batch, out_size)"
BATCHED_C = "(num_layers * num_directions, batch, hidden_size)"
UNBATCHED_H = "(num_layers * num_directions, out_size)"
UNBATCHED_C = "(num_layers * num_directions, hidden_size)"


def zeros(*shape: int, **kwargs) -> torch.Tensor:
    return torch.zeros(shape, **kwargs)


@pytest.mark.parametrize(
    ("module", "input", "hx", "error", "message"),
    [
        # nn.LSTM: a pair (h_0, c_0)
        (nn.LSTM(3, 4), zeros(5, 2, 3), zeros(1, 2, 4), TypeError, "Expected hx to be a tuple (h_0, c_0) of two tensors for nn.LSTM, but got a tensor of shape (1, 2, 4) instead."),
        (nn.LSTM(3, 4), zeros(5, 2, 3), (zeros(1, 2, 4),), TypeError, "Expected hx to be a tuple (h_0, c_0) of two tensors for nn.LSTM, but got an object of type tuple instead."),
        (nn.LSTM(3, 4), zeros(5, 2, 3), (zeros(1, 2, 4),) * 3, TypeError, "Expected hx to be a tuple (h_0, c_0) of two tensors for nn.LSTM, but got an object of type tuple instead."),
        (nn.LSTM(3, 4), zeros(5, 2, 3), (None, zeros(1, 2, 4)), TypeError, "Expected h_0 to be a torch.Tensor, but got an object of type NoneType instead."),
        (nn.LSTM(3, 4), zeros(5, 2, 3), (zeros(1, 2, 4), 0.0), TypeError, "Expected c_0 to be a torch.Tensor, but got an object of type float instead."),
        (nn.LSTM(3, 4), zeros(5, 2, 3), (zeros(1, 3, 4), zeros(1, 2, 4)), ValueError, f"Expected h_0 of shape (1, 2, 4) {BATCHED_H} for this input, but got (1, 3, 4) instead."),
        (nn.LSTM(3, 4), zeros(5, 2, 3), (zeros(1, 2, 4), zeros(2, 2, 4)), ValueError, f"Expected c_0 of shape (1, 2, 4) {BATCHED_C} for this input, but got (2, 2, 4) instead."),
        # rows: num_layers * num_directions
        (nn.LSTM(3, 4, num_layers=2, bidirectional=True), zeros(5, 2, 3), (zeros(2, 2, 4), zeros(2, 2, 4)), ValueError, f"Expected h_0 of shape (4, 2, 4) {BATCHED_H} for this input, but got (2, 2, 4) instead."),
        # proj_size: h_0 has out_size features, c_0 hidden_size
        (nn.LSTM(3, 4, proj_size=2), zeros(5, 2, 3), (zeros(1, 2, 4), zeros(1, 2, 4)), ValueError, f"Expected h_0 of shape (1, 2, 2) {BATCHED_H} for this input, but got (1, 2, 4) instead."),
        (nn.LSTM(3, 4, proj_size=2), zeros(5, 2, 3), (zeros(1, 2, 2), zeros(1, 2, 2)), ValueError, f"Expected c_0 of shape (1, 2, 4) {BATCHED_C} for this input, but got (1, 2, 2) instead."),
        # batch_first: the batch is the input's first dimension, the state stays (rows, batch, size)
        (nn.LSTM(3, 4, batch_first=True), zeros(2, 5, 3), (zeros(1, 5, 4), zeros(1, 5, 4)), ValueError, f"Expected h_0 of shape (1, 2, 4) {BATCHED_H} for this input, but got (1, 5, 4) instead."),
        (nn.LSTM(3, 4, batch_first=True), zeros(2, 5, 3), (zeros(2, 1, 4), zeros(2, 1, 4)), ValueError, f"Expected h_0 of shape (1, 2, 4) {BATCHED_H} for this input, but got (2, 1, 4) instead."),
        # unbatched input: no batch dimension in the state either
        (nn.LSTM(3, 4), zeros(5, 3), (zeros(1, 1, 4), zeros(1, 1, 4)), ValueError, f"Expected h_0 of shape (1, 4) {UNBATCHED_H} for this input, but got (1, 1, 4) instead."),
        (nn.LSTM(3, 4), zeros(5, 3), (zeros(1, 4), zeros(1, 3)), ValueError, f"Expected c_0 of shape (1, 4) {UNBATCHED_C} for this input, but got (1, 3) instead."),
        # nn.GRU and nn.RNN: one tensor h_0
        (nn.GRU(3, 4), zeros(5, 2, 3), (zeros(1, 2, 4), zeros(1, 2, 4)), TypeError, "Expected hx to be a tensor h_0 for nn.GRU, but got an object of type tuple instead."),
        (nn.RNN(3, 4), zeros(5, 2, 3), [zeros(1, 2, 4)], TypeError, "Expected hx to be a tensor h_0 for nn.RNN, but got an object of type list instead."),
        (nn.GRU(3, 4, num_layers=3), zeros(5, 2, 3), zeros(1, 2, 4), ValueError, f"Expected h_0 of shape (3, 2, 4) {BATCHED_H} for this input, but got (1, 2, 4) instead."),
        (nn.RNN(3, 4, batch_first=True), zeros(2, 5, 3), zeros(1, 5, 4), ValueError, f"Expected h_0 of shape (1, 2, 4) {BATCHED_H} for this input, but got (1, 5, 4) instead."),
        (nn.GRU(3, 4, bidirectional=True), zeros(5, 3), zeros(1, 4), ValueError, f"Expected h_0 of shape (2, 4) {UNBATCHED_H} for this input, but got (1, 4) instead."),
        # placement: the module's dtype and device
        (nn.LSTM(3, 4), zeros(5, 2, 3), (zeros(1, 2, 4, dtype=torch.float64), zeros(1, 2, 4)), ValueError, "Expected h_0 of the module's dtype torch.float32, but got torch.float64 instead."),
        (nn.LSTM(3, 4), zeros(5, 2, 3), (zeros(1, 2, 4), zeros(1, 2, 4, dtype=torch.float16)), ValueError, "Expected c_0 of the module's dtype torch.float32, but got torch.float16 instead."),
        (nn.GRU(3, 4), zeros(5, 2, 3), zeros(1, 2, 4, device="meta"), ValueError, "Expected h_0 on the module's device cpu, but got meta instead."),
        (nn.LSTM(3, 4), zeros(5, 2, 3), (zeros(1, 2, 4), zeros(1, 2, 4, device="meta")), ValueError, "Expected c_0 on the module's device cpu, but got meta instead."),
    ],
)  # fmt: skip
def test_check_hx(module, input, hx, error, message):
    with pytest.raises(error, match=exactly(message)):
        spec(module).check_hx(hx, input)
    # The same message through the one check every helper runs.
    with pytest.raises(error, match=exactly(message)):
        StackSpec.checked(module, input, hx)


@pytest.mark.parametrize(
    ("module", "input", "hx"),
    [
        (nn.LSTM(3, 4), zeros(5, 2, 3), None),
        (nn.LSTM(3, 4), zeros(5, 2, 3), (zeros(1, 2, 4), zeros(1, 2, 4))),
        (nn.LSTM(3, 4), zeros(5, 2, 3), [zeros(1, 2, 4), zeros(1, 2, 4)]),
        (nn.LSTM(3, 4, proj_size=2, num_layers=2), zeros(5, 3), (zeros(2, 2), zeros(2, 4))),
        (nn.LSTM(3, 4, batch_first=True), zeros(2, 5, 3), (zeros(1, 2, 4), zeros(1, 2, 4))),
        (nn.GRU(3, 4, bidirectional=True), zeros(5, 2, 3), zeros(2, 2, 4)),
        (nn.RNN(3, 4), zeros(5, 3), zeros(1, 4)),
    ],
)
def test_check_hx_accepts_what_the_module_accepts(module, input, hx):
    spec(module).check_hx(hx, input)
    module(input, None if hx is None else (tuple(hx) if isinstance(hx, list) else hx))  # the module agrees
