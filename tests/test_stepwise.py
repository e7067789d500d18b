"""run_stepwise: returns exactly what the module's own forward returns, and rejects bad input early."""

from __future__ import annotations

import itertools
import re

import pytest
import torch
from cases import MODULES, pairwise
from torch import nn
from torch.nn.utils.rnn import pack_padded_sequence

from lstm_demo import run_stepwise

# (batch_first, batch): batch None is unbatched (seq_len, features) input.
LAYOUTS = [
    pytest.param((False, 2), id="seq-first"),
    pytest.param((True, 2), id="batch-first"),
    pytest.param((False, None), id="unbatched"),
    pytest.param((True, None), id="unbatched-batch-first"),
]


NUM_LAYERS = [pytest.param(1, id="1-layer"), pytest.param(3, id="3-layers")]
WITH_HX = [pytest.param(False, id="no-hx"), pytest.param(True, id="hx")]
# Every pair of values of any two of the four factors, in 20 cases instead of all 80.
EQUALS_FORWARD = pairwise(MODULES, NUM_LAYERS, LAYOUTS, WITH_HX)


def test_the_cases_cover_every_pair_of_values():
    factors = [[p.values[0] for p in factor] for factor in (MODULES, NUM_LAYERS, LAYOUTS, WITH_HX)]
    rows = [
        [factor.index(value) for factor, value in zip(factors, case.values, strict=True)]
        for case in EQUALS_FORWARD
    ]
    assert len(rows) < 5 * 2 * 4 * 2
    for a, b in itertools.combinations(range(4), 2):
        covered = {(row[a], row[b]) for row in rows}
        assert covered == set(itertools.product(range(len(factors[a])), range(len(factors[b])))), (a, b)


@pytest.mark.parametrize(("module", "num_layers", "layout", "with_hx"), EQUALS_FORWARD)
def test_equals_forward(module, num_layers, layout, with_hx, sample, assert_same_result):
    (cls, kwargs), (batch_first, batch) = module, layout
    rnn = cls(3, 4, num_layers=num_layers, batch_first=batch_first, **kwargs)
    x, hx = sample(rnn, 5, batch, hx=with_hx)

    result = run_stepwise(rnn, x, hx)

    assert_same_result(result, rnn(x, hx), is_lstm=cls is nn.LSTM)
    seq_dim = 1 if (batch_first and batch is not None) else 0
    assert result[0].shape[seq_dim] == 5


@pytest.mark.parametrize("cls", [nn.LSTM, nn.GRU, nn.RNN], ids=["lstm", "gru", "rnn"])
def test_equals_forward_without_bias(cls, sample, assert_same_result):
    rnn = cls(3, 4, num_layers=2, bias=False)
    x, hx = sample(rnn, 4, 2)
    assert_same_result(run_stepwise(rnn, x, hx), rnn(x, hx), is_lstm=cls is nn.LSTM)


@pytest.mark.parametrize("cls", [nn.LSTM, nn.GRU, nn.RNN], ids=["lstm", "gru", "rnn"])
def test_equals_forward_in_float64(cls, sample, assert_same_result):
    rnn = cls(3, 4, num_layers=2, dtype=torch.float64)
    x, hx = sample(rnn, 4, 2)
    result = run_stepwise(rnn, x, hx)
    assert result[0].dtype == torch.float64
    assert_same_result(result, rnn(x, hx), is_lstm=cls is nn.LSTM)


@pytest.mark.parametrize("cls", [nn.LSTM, nn.GRU, nn.RNN], ids=["lstm", "gru", "rnn"])
@pytest.mark.parametrize("batch", [2, None], ids=["batched", "unbatched"])
def test_seq_len_one(cls, batch, sample, assert_same_result):
    rnn = cls(3, 4, num_layers=2)
    x, hx = sample(rnn, 1, batch)
    assert_same_result(run_stepwise(rnn, x, hx), rnn(x, hx), is_lstm=cls is nn.LSTM)


def test_lstm_proj_size_shapes(sample):
    rnn = nn.LSTM(3, 4, num_layers=2, proj_size=2, batch_first=True)
    output, (h_n, c_n) = run_stepwise(rnn, sample(rnn, 5, 6, hx=False)[0])
    assert output.shape == (6, 5, 2)
    assert h_n.shape == (2, 6, 2)
    assert c_n.shape == (2, 6, 4)


def test_carries_state_between_steps():
    """Step t sees the state of step t - 1: a constant input gives a changing output."""
    rnn = nn.GRU(1, 1)
    with torch.no_grad():
        rnn.weight_ih_l0.fill_(0.0)
        rnn.weight_hh_l0.fill_(0.0)
        rnn.bias_ih_l0.fill_(0.0)
        rnn.bias_hh_l0.fill_(0.0)
    # With all weights 0: r = z = 1/2, n = tanh(0) = 0, so h_t = h_{t-1} / 2.
    output, h_n = run_stepwise(rnn, torch.zeros(3, 1), torch.ones(1, 1))
    torch.testing.assert_close(output, torch.tensor([[0.5], [0.25], [0.125]]))
    torch.testing.assert_close(h_n, torch.tensor([[0.125]]))


# --- bad input: one test per case, each raised before any computation --------------------------


class CountingLSTM(nn.LSTM):
    """An nn.LSTM that counts calls of its forward."""

    calls = 0

    def forward(self, *args, **kwargs):
        type(self).calls += 1
        return super().forward(*args, **kwargs)


@pytest.fixture
def counting_lstm():
    CountingLSTM.calls = 0
    return CountingLSTM(3, 4, num_layers=2)


def test_counting_lstm_counts_each_step(counting_lstm):
    """Control for the tests below: a valid call runs forward once per time step."""
    run_stepwise(counting_lstm, torch.randn(5, 2, 3))
    assert CountingLSTM.calls == 5


def test_bad_c0_shape_raises_before_any_forward(counting_lstm):
    hx = (torch.zeros(2, 2, 4), torch.zeros(2, 2, 5))
    with pytest.raises(ValueError, match=r"Expected c_0 of shape \(2, 2, 4\)"):
        run_stepwise(counting_lstm, torch.randn(5, 2, 3), hx)
    assert CountingLSTM.calls == 0


def test_bad_c0_dtype_raises_before_any_forward(counting_lstm):
    hx = (torch.zeros(2, 2, 4), torch.zeros(2, 2, 4, dtype=torch.float64))
    with pytest.raises(ValueError, match=r"Expected c_0 of the module's dtype torch\.float32"):
        run_stepwise(counting_lstm, torch.randn(5, 2, 3), hx)
    assert CountingLSTM.calls == 0


def test_non_rnn_module():
    with pytest.raises(
        TypeError,
        match=r"^Expected rnn to be an nn\.LSTM, nn\.GRU or nn\.RNN, but got an object of type Linear instead\.$",
    ):
        run_stepwise(nn.Linear(3, 4), torch.randn(5, 3))


def test_bidirectional_module():
    with pytest.raises(
        ValueError, match=r"^Expected a unidirectional module, but got nn\.GRU with bidirectional=True"
    ):
        run_stepwise(nn.GRU(3, 4, bidirectional=True), torch.randn(5, 3))


@pytest.mark.parametrize("shape", [(5,), (5, 2, 3, 1)], ids=["1-d", "4-d"])
def test_input_wrong_ndim(shape):
    with pytest.raises(
        ValueError,
        match=rf"^Expected input of 3 dimensions \(seq_len, batch, features\) or 2 dimensions .* "
        rf"but got shape {re.escape(str(shape))}",
    ):
        run_stepwise(nn.LSTM(3, 4), torch.randn(shape))


def test_input_wrong_ndim_batch_first_layout():
    with pytest.raises(ValueError, match=r"^Expected input of 3 dimensions \(batch, seq_len, features\)"):
        run_stepwise(nn.LSTM(3, 4, batch_first=True), torch.randn(5))


def test_input_wrong_feature_size():
    with pytest.raises(
        ValueError,
        match=r"^Expected input with 3 features in its last dimension \(the module's input_size\), "
        r"but got shape \(5, 2, 7\) instead\.$",
    ):
        run_stepwise(nn.LSTM(3, 4), torch.randn(5, 2, 7))


@pytest.mark.parametrize(
    ("batch_first", "shape"),
    [(False, (0, 2, 3)), (True, (2, 0, 3)), (False, (0, 3)), (True, (0, 3))],
    ids=["seq-first", "batch-first", "unbatched", "unbatched-batch-first"],
)
def test_input_seq_len_zero(batch_first, shape):
    with pytest.raises(
        ValueError, match=r"^Expected at least one time step, but got shape .* with seq_len 0"
    ):
        run_stepwise(nn.LSTM(3, 4, batch_first=batch_first), torch.randn(shape))


def test_packed_sequence_input():
    packed = pack_padded_sequence(torch.randn(5, 2, 3), torch.tensor([5, 3]))
    with pytest.raises(
        TypeError, match=r"^Expected input to be a padded tensor, but got a PackedSequence instead"
    ):
        run_stepwise(nn.LSTM(3, 4), packed)


def test_non_tensor_input():
    with pytest.raises(
        TypeError, match=r"^Expected input to be a torch\.Tensor, but got an object of type list"
    ):
        run_stepwise(nn.LSTM(3, 4), [[0.0, 1.0, 2.0]])


def test_lstm_hx_a_tensor():
    with pytest.raises(
        TypeError,
        match=r"^Expected hx to be a tuple \(h_0, c_0\) of two tensors for nn\.LSTM,",
    ):
        run_stepwise(nn.LSTM(3, 4), torch.randn(5, 2, 3), torch.zeros(1, 2, 4))


def test_lstm_hx_tuple_of_three():
    hx = (torch.zeros(1, 2, 4),) * 3
    with pytest.raises(
        TypeError, match=r"^Expected hx to be a tuple \(h_0, c_0\) .* but got an object of type tuple"
    ):
        run_stepwise(nn.LSTM(3, 4), torch.randn(5, 2, 3), hx)


def test_lstm_c0_not_a_tensor():
    with pytest.raises(
        TypeError, match=r"^Expected c_0 to be a torch\.Tensor, but got an object of type NoneType"
    ):
        run_stepwise(nn.LSTM(3, 4), torch.randn(5, 2, 3), (torch.zeros(1, 2, 4), None))


def test_gru_hx_a_tuple():
    with pytest.raises(
        TypeError,
        match=r"^Expected hx to be a tensor h_0 for nn\.GRU, but got an object of type tuple",
    ):
        run_stepwise(nn.GRU(3, 4), torch.randn(5, 2, 3), (torch.zeros(1, 2, 4), torch.zeros(1, 2, 4)))


@pytest.mark.parametrize(
    ("which", "h_shape", "c_shape", "message"),
    [
        pytest.param(
            "h_0",
            (2, 3, 4),
            (2, 2, 4),
            r"^Expected h_0 of shape \(2, 2, 4\) \(num_layers \* num_directions, batch, out_size\) "
            r"for this input, but got \(2, 3, 4\) instead\.$",
            id="h0-wrong-batch",
        ),
        pytest.param(
            "h_0",
            (1, 2, 4),
            (2, 2, 4),
            r"^Expected h_0 of shape \(2, 2, 4\) .* but got \(1, 2, 4\) instead\.$",
            id="h0-wrong-layers",
        ),
        pytest.param(
            "c_0",
            (2, 2, 4),
            (2, 2, 5),
            r"^Expected c_0 of shape \(2, 2, 4\) \(num_layers \* num_directions, batch, hidden_size\) "
            r"for this input, but got \(2, 2, 5\) instead\.$",
            id="c0-wrong-size",
        ),
    ],
)
def test_lstm_hx_wrong_shape_batched(which, h_shape, c_shape, message):
    hx = (torch.zeros(h_shape), torch.zeros(c_shape))
    with pytest.raises(ValueError, match=message):
        run_stepwise(nn.LSTM(3, 4, num_layers=2), torch.randn(5, 2, 3), hx)


@pytest.mark.parametrize(
    ("h_shape", "c_shape", "message"),
    [
        pytest.param(
            (2, 1, 4),
            (2, 4),
            r"^Expected h_0 of shape \(2, 4\) \(num_layers \* num_directions, out_size\) "
            r"for this input, but got \(2, 1, 4\) instead\.$",
            id="h0-batched",
        ),
        pytest.param(
            (2, 4),
            (2, 1, 4),
            r"^Expected c_0 of shape \(2, 4\) \(num_layers \* num_directions, hidden_size\) "
            r"for this input, but got \(2, 1, 4\) instead\.$",
            id="c0-batched",
        ),
    ],
)
def test_lstm_hx_wrong_shape_unbatched(h_shape, c_shape, message):
    hx = (torch.zeros(h_shape), torch.zeros(c_shape))
    with pytest.raises(ValueError, match=message):
        run_stepwise(nn.LSTM(3, 4, num_layers=2), torch.randn(5, 3), hx)


def test_lstm_proj_h0_with_hidden_size():
    """With proj_size, h_0 ends in proj_size: hidden_size there is wrong."""
    hx = (torch.zeros(1, 2, 4), torch.zeros(1, 2, 4))
    with pytest.raises(ValueError, match=r"^Expected h_0 of shape \(1, 2, 2\) .* but got \(1, 2, 4\)"):
        run_stepwise(nn.LSTM(3, 4, proj_size=2), torch.randn(5, 2, 3), hx)


def test_lstm_proj_c0_with_proj_size():
    """With proj_size, c_0 still ends in hidden_size."""
    hx = (torch.zeros(1, 2, 2), torch.zeros(1, 2, 2))
    with pytest.raises(ValueError, match=r"^Expected c_0 of shape \(1, 2, 4\) .* but got \(1, 2, 2\)"):
        run_stepwise(nn.LSTM(3, 4, proj_size=2), torch.randn(5, 2, 3), hx)


def test_gru_h0_wrong_shape_unbatched():
    with pytest.raises(ValueError, match=r"^Expected h_0 of shape \(1, 4\) .* but got \(1, 1, 4\)"):
        run_stepwise(nn.GRU(3, 4), torch.randn(5, 3), torch.zeros(1, 1, 4))


def test_input_dtype_mismatch():
    with pytest.raises(
        ValueError,
        match=r"^Expected input of the module's dtype torch\.float32, but got torch\.float64",
    ):
        run_stepwise(nn.LSTM(3, 4), torch.randn(5, 2, 3, dtype=torch.float64))


def test_hx_dtype_mismatch():
    with pytest.raises(
        ValueError,
        match=r"^Expected h_0 of the module's dtype torch\.float64, but got torch\.float32",
    ):
        run_stepwise(
            nn.GRU(3, 4, dtype=torch.float64), torch.randn(5, 2, 3, dtype=torch.float64), torch.zeros(1, 2, 4)
        )


def test_input_device_mismatch():
    """A module on the meta device and an input on the CPU: the only mismatch a CPU can build."""
    with pytest.raises(ValueError, match=r"^Expected input on the module's device meta, but got cpu"):
        run_stepwise(nn.LSTM(3, 4, device="meta"), torch.randn(5, 2, 3))


def test_hx_device_mismatch():
    hx = (torch.zeros(1, 2, 4), torch.zeros(1, 2, 4, device="meta"))
    with pytest.raises(ValueError, match=r"^Expected c_0 on the module's device cpu, but got meta"):
        run_stepwise(nn.LSTM(3, 4), torch.randn(5, 2, 3), hx)
