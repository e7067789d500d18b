"""Shared fixtures: a fixed seed for every test, random inputs and states for a module, precision flag restore."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from typing import Any

import pytest
import torch
from torch import nn

from lstm_demo import tolerances
from lstm_demo.precision import precision_flags


@pytest.fixture(autouse=True)
def _seed() -> None:
    torch.manual_seed(0)


def _random_hx(rnn: nn.RNNBase, batch: int | None) -> Any:
    """A random non-zero initial state laid out as ``rnn`` expects (``batch=None``: unbatched)."""
    rows = rnn.num_layers * (2 if rnn.bidirectional else 1)
    proj_size = getattr(rnn, "proj_size", 0)
    out_size = proj_size or rnn.hidden_size
    lead = (rows,) if batch is None else (rows, batch)
    dtype = next(rnn.parameters()).dtype
    h_0 = torch.randn(*lead, out_size, dtype=dtype)
    if isinstance(rnn, nn.LSTM):
        return h_0, torch.randn(*lead, rnn.hidden_size, dtype=dtype)
    return h_0


def _random_input(rnn: nn.RNNBase, seq_len: int, batch: int | None) -> torch.Tensor:
    """A random input for ``rnn``: ``batch=None`` gives unbatched ``(seq_len, input_size)``."""
    dtype = next(rnn.parameters()).dtype
    if batch is None:
        return torch.randn(seq_len, rnn.input_size, dtype=dtype)
    if rnn.batch_first:
        return torch.randn(batch, seq_len, rnn.input_size, dtype=dtype)
    return torch.randn(seq_len, batch, rnn.input_size, dtype=dtype)


@pytest.fixture
def sample() -> Callable[..., tuple[torch.Tensor, Any]]:
    """``sample(rnn, seq_len=5, batch=2, hx=True)``: a random input and non-zero ``hx`` for ``rnn``.

    ``batch=None`` gives unbatched input and state; ``hx=False`` gives ``None`` for ``hx``.
    """

    def make(rnn: nn.RNNBase, seq_len: int = 5, batch: int | None = 2, hx: bool = True):
        return _random_input(rnn, seq_len, batch), (_random_hx(rnn, batch) if hx else None)

    return make


@pytest.fixture
def precision_restored() -> Iterator[None]:
    """Every precision switch (TF32, cuDNN, determinism, oneDNN) as it was, whatever the test sets."""
    with precision_flags():
        yield


def _assert_same_result(actual, expected, is_lstm: bool) -> None:
    """``actual`` has the structure of ``expected`` (a module's forward result) and its values."""
    output, state = actual
    expected_output, expected_state = expected
    torch.testing.assert_close(output, expected_output)
    if is_lstm:
        assert isinstance(state, tuple)
        assert len(state) == 2
        torch.testing.assert_close(state[0], expected_state[0])
        torch.testing.assert_close(state[1], expected_state[1])
    else:
        assert isinstance(state, torch.Tensor)
        torch.testing.assert_close(state, expected_state)


@pytest.fixture
def assert_same_result():
    """Check a stand-in's result against a module's forward: structure, shapes and values."""
    return _assert_same_result


@pytest.fixture(scope="module")
def one_thread():
    """Tiny ops: one thread is many times faster than several when the machine is busy."""
    with tolerances.one_thread():
        yield
