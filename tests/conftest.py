"""Shared fixtures: a fixed seed for every test, and helpers that build tiny modules and states."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from typing import Any

import pytest
import torch
from torch import nn


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
def random_hx() -> Callable[[nn.RNNBase, int | None], Any]:
    return _random_hx


@pytest.fixture
def random_input() -> Callable[[nn.RNNBase, int, int | None], torch.Tensor]:
    return _random_input


@pytest.fixture
def cudnn_fp32_state() -> Iterator[None]:
    """Restore cuDNN's float32 precision flags (new API and legacy allow_tf32) after a test."""
    cudnn = torch.backends.cudnn
    saved = (cudnn.fp32_precision, cudnn.conv.fp32_precision, cudnn.rnn.fp32_precision)
    try:
        yield
    finally:
        cudnn.fp32_precision, cudnn.conv.fp32_precision, cudnn.rnn.fp32_precision = saved
