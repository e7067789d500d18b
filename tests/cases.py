"""Parameter lists shared by several test modules, and all-pairs combinations of them."""

from __future__ import annotations

import itertools
from collections.abc import Sequence
from typing import Any

import numpy as np
import pytest
import torch
from torch import nn

from lstm_demo.tolerances import Tolerance, tolerance_for

# (class, extra constructor arguments), with readable ids.
MODULES = [
    pytest.param((nn.LSTM, {}), id="lstm"),
    pytest.param((nn.LSTM, {"proj_size": 2}), id="lstm-proj"),
    pytest.param((nn.GRU, {}), id="gru"),
    pytest.param((nn.RNN, {}), id="rnn-tanh"),
    pytest.param((nn.RNN, {"nonlinearity": "relu"}), id="rnn-relu"),
]
CLASSES = [pytest.param(nn.LSTM, id="lstm"), pytest.param(nn.GRU, id="gru"), pytest.param(nn.RNN, id="rnn")]


def _pairs(row: Sequence[int]) -> set[tuple[int, int, int, int]]:
    """The (factor, value, factor, value) pairs one row of value indices covers."""
    return {(i, row[i], j, row[j]) for i, j in itertools.combinations(range(len(row)), 2)}


def pairwise(*factors: Sequence[Any]) -> list[Any]:
    """A few rows in which every pair of values of any two factors appears at least once.

    ``factors`` are lists of values or of ``pytest.param``; each row is a
    ``pytest.param`` of one value per factor, its id the values' ids joined
    by ``-``. The rows are chosen greedily (each adds the most pairs not yet
    covered), in a fixed order: far fewer than the full product once there
    are more than two factors, e.g. 20 instead of 80 for sizes 5, 4, 2, 2.
    """
    sizes = [len(values) for values in factors]
    wanted = set().union(*(_pairs(row) for row in itertools.product(*map(range, sizes))))
    rows: list[tuple[int, ...]] = []
    while wanted:
        best = max(itertools.product(*map(range, sizes)), key=lambda row: len(_pairs(row) & wanted))
        rows.append(best)
        wanted -= _pairs(best)
    return [_param(factors, row) for row in rows]


def _param(factors: Sequence[Sequence[Any]], row: Sequence[int]) -> Any:
    values, ids = [], []
    for values_of, index in zip(factors, row, strict=True):
        value = values_of[index]
        if isinstance(value, type(pytest.param(None))):
            values.append(value.values[0])
            ids.append(str(value.id))
        else:
            values.append(value)
            ids.append(str(value))
    return pytest.param(*values, id="-".join(ids))


# The ports' tests: sizes, the CPU tolerances, and a comparison of a framework's arrays with tensors.
H, IN, T, BATCH = 4, 3, 6, 2
FLOAT32 = tolerance_for("cpu", torch.float32)
FLOAT64 = tolerance_for("cpu", torch.float64)


def as_tensor(value: Any) -> torch.Tensor:
    """A tensor of ``value``'s values: a tensor as it is, an array (numpy or a framework's) copied."""
    return value.detach().cpu() if isinstance(value, torch.Tensor) else torch.from_numpy(np.array(value))


def close(actual: Any, expected: Any, tolerance: Tolerance = FLOAT32) -> None:
    """``actual`` equals ``expected`` within ``tolerance`` (``actual`` cast to ``expected``'s dtype)."""
    expected = as_tensor(expected)
    torch.testing.assert_close(
        as_tensor(actual).to(expected.dtype), expected, rtol=tolerance.rtol, atol=tolerance.atol
    )
