"""mutants.equations and mutants.catalogue: each mutant computes the mistake it names, and only where it can be made."""

from __future__ import annotations

import copy

import pytest
import torch
from torch import nn
from torch.nn.utils.rnn import pack_padded_sequence

from lstm_demo.biases import move_bias_hh
from lstm_demo.layers import split_layers
from lstm_demo.mutants import MUTANTS, Equations, GRUEquations, RNNEquations, counting, each_sequence
from lstm_demo.scratch import peephole_lstm, scratch_gru, scratch_lstm


def _lstm(*args, seed=0, **kwargs) -> nn.LSTM:
    torch.manual_seed(seed)
    return nn.LSTM(*args, **kwargs).double()


@pytest.mark.parametrize(
    ("kwargs", "shape"),
    [
        ({}, (5, 2, 3)),
        ({"batch_first": True}, (2, 5, 3)),
        ({"num_layers": 2, "bidirectional": True}, (5, 2, 3)),
        ({"num_layers": 2}, (5, 3)),
        ({"bias": False}, (5, 2, 3)),
    ],
    ids=["plain", "batch-first", "two-layers-bidirectional", "unbatched", "no-bias"],
)
def test_the_unmutated_equations_are_nn_lstm(kwargs, shape):
    lstm = _lstm(3, 4, **kwargs)
    x = torch.randn(*shape, dtype=torch.float64)
    hx = None
    if len(shape) == 3 and "batch_first" not in kwargs:
        rows = lstm.num_layers * (2 if lstm.bidirectional else 1)
        hx = (torch.randn(rows, 2, 4, dtype=torch.float64), torch.randn(rows, 2, 4, dtype=torch.float64))
    torch.testing.assert_close(Equations()(lstm, x, hx), lstm(x, hx))


def _move_forget_bias(lstm):
    lstm.bias_ih_l0[4:8] += 0.1  # the forget gate's rows: i, f, g, o blocks of 4


def _zero_bias_hh(lstm):
    lstm.bias_hh_l0.zero_()


def _swap_forget_and_cell_blocks(lstm):
    order = [*range(4), *range(8, 12), *range(4, 8), *range(12, 16)]
    for param in lstm.parameters():
        param.copy_(param[order])


@pytest.mark.parametrize(
    ("name", "change"),
    [
        ("forget-bias+0.1", _move_forget_bias),
        ("one-bias", _zero_bias_hh),
        ("gate-order", _swap_forget_and_cell_blocks),
    ],
)
def test_mutant_is_nn_lstm_with_changed_parameters(name, change):
    lstm, x = _lstm(3, 4), torch.randn(5, 2, 3, dtype=torch.float64)
    changed = copy.deepcopy(lstm)
    with torch.no_grad():
        change(changed)
    torch.testing.assert_close(MUTANTS[name](lstm, x), changed(x))


def test_h_not_carried_is_weight_hh_zeroed_from_a_zero_state():
    lstm, x = _lstm(3, 4), torch.randn(5, 2, 3, dtype=torch.float64)
    no_recurrence = copy.deepcopy(lstm)
    with torch.no_grad():
        no_recurrence.weight_hh_l0.zero_()
    output, (h_n, c_n) = MUTANTS["h-not-carried"](lstm, x)
    expected, (h_e, c_e) = no_recurrence(x)
    torch.testing.assert_close(output, expected)
    torch.testing.assert_close(c_n, c_e)
    # h_n is the last step's h, as a module that forgets to carry h would still report it.
    torch.testing.assert_close(h_n, h_e)
    assert not torch.equal(h_n, torch.zeros_like(h_n))


def test_c_not_carried_is_a_closed_forget_gate_from_a_zero_state():
    lstm, x = _lstm(3, 4), torch.randn(5, 2, 3, dtype=torch.float64)
    closed = copy.deepcopy(lstm)
    with torch.no_grad():
        closed.bias_ih_l0[4:8] = -1e4  # sigmoid(-1e4) is 0 in float64: f = 0
    torch.testing.assert_close(MUTANTS["c-not-carried"](lstm, x), closed(x))


def test_no_tanh_on_c_one_step_by_hand():
    lstm, x = _lstm(3, 4), torch.randn(1, 2, 3, dtype=torch.float64)
    gates = x[0] @ lstm.weight_ih_l0.T + lstm.bias_ih_l0 + lstm.bias_hh_l0
    _, (_, c) = lstm(x)
    output, _ = MUTANTS["no-tanh-on-c"](lstm, x)
    torch.testing.assert_close(output[0], torch.sigmoid(gates[:, 12:]) * c[0])


def test_hard_sigmoid_one_step_by_hand():
    lstm, x = _lstm(3, 4), torch.randn(1, 2, 3, dtype=torch.float64)
    i, _, g, o = (x[0] @ lstm.weight_ih_l0.T + lstm.bias_ih_l0 + lstm.bias_hh_l0).chunk(4, dim=-1)
    hard = [(0.2 * v + 0.5).clamp(0, 1) for v in (i, o)]
    c = hard[0] * torch.tanh(g)
    output, (_, c_n) = MUTANTS["hard-sigmoid"](lstm, x)
    torch.testing.assert_close(c_n[0], c)
    torch.testing.assert_close(output[0], hard[1] * torch.tanh(c))


def test_off_by_one_step_outputs_the_state_before_each_step():
    lstm, x = _lstm(3, 4), torch.randn(5, 2, 3, dtype=torch.float64)
    output, (h_n, _) = MUTANTS["off-by-one-step"](lstm, x)
    expected, (h_e, _) = lstm(x)
    assert torch.equal(output[0], torch.zeros(2, 4, dtype=torch.float64))
    torch.testing.assert_close(output[1:], expected[:-1])
    torch.testing.assert_close(h_n, h_e)


def test_h0_batch_first_reads_the_state_transposed():
    lstm = _lstm(3, 4, num_layers=2, batch_first=True)
    x = torch.randn(2, 5, 3, dtype=torch.float64)  # batch 2 == num_layers 2
    h_0, c_0 = torch.randn(2, 2, 4, dtype=torch.float64), torch.randn(2, 2, 4, dtype=torch.float64)
    found = MUTANTS["h0-batch-first"](lstm, x, (h_0, c_0))
    torch.testing.assert_close(found, lstm(x, (h_0.transpose(0, 1), c_0.transpose(0, 1))))
    # Unbatched input and a missing state are read as PyTorch reads them.
    torch.testing.assert_close(
        MUTANTS["h0-batch-first"](lstm, x[0], (h_0[:, 0], c_0[:, 0])), lstm(x[0], (h_0[:, 0], c_0[:, 0]))
    )
    torch.testing.assert_close(MUTANTS["h0-batch-first"](lstm, x), lstm(x))


def test_stateful_starts_from_the_last_calls_state():
    lstm = _lstm(3, 4, num_layers=2)
    first, second = torch.randn(5, 2, 3, dtype=torch.float64), torch.randn(4, 2, 3, dtype=torch.float64)
    stateful = MUTANTS["stateful"]
    out_1, state = stateful(lstm, first)
    torch.testing.assert_close((out_1, state), lstm(first))  # nothing remembered yet: zeros
    torch.testing.assert_close(stateful(lstm, second), lstm(second, state))
    # A given state is used as given; another batch size starts from zeros.
    hx = torch.randn(2, 2, 4, dtype=torch.float64), torch.randn(2, 2, 4, dtype=torch.float64)
    torch.testing.assert_close(stateful(lstm, second, hx), lstm(second, hx))
    torch.testing.assert_close(stateful(lstm, first[:, :1]), lstm(first[:, :1]))
    # Each module remembers its own state.
    other = _lstm(3, 4, num_layers=2, seed=1)
    torch.testing.assert_close(stateful(other, second), other(second))


@pytest.mark.parametrize("enforce_sorted", [True, False], ids=["sorted", "unsorted"])
def test_equations_and_each_sequence_take_a_packed_batch(enforce_sorted):
    lstm = _lstm(3, 4, num_layers=2, bidirectional=True)
    lengths = [5, 3, 1] if enforce_sorted else [3, 5, 1]
    packed = pack_padded_sequence(
        torch.randn(5, 3, 3, dtype=torch.float64), lengths, enforce_sorted=enforce_sorted
    )
    hx = torch.randn(4, 3, 4, dtype=torch.float64), torch.randn(4, 3, 4, dtype=torch.float64)
    output, state = lstm(packed, hx)
    for found in (Equations()(lstm, packed, hx), each_sequence(lambda m, x, h: m(x, h), lstm, packed, hx)):
        torch.testing.assert_close(found[0].data, output.data)
        assert torch.equal(found[0].batch_sizes, output.batch_sizes)
        torch.testing.assert_close(found[1], state)


def test_padding_as_steps_is_the_unpacked_padded_batch():
    lstm = _lstm(3, 4, bidirectional=True)
    x = torch.randn(5, 3, 3, dtype=torch.float64)
    lengths = [3, 5, 2]
    for b, n in enumerate(lengths):
        x[n:, b] = 0
    _, (h_n, c_n) = MUTANTS["padding-as-steps"](lstm, pack_padded_sequence(x, lengths, enforce_sorted=False))
    _, (h_padded, c_padded) = lstm(x)
    torch.testing.assert_close((h_n, c_n), (h_padded, c_padded))
    _, (h_true, _) = lstm(pack_padded_sequence(x, lengths, enforce_sorted=False))
    assert (h_n - h_true).abs().amax(dim=(0, 2)).gt(0.01).tolist() == [
        True,
        False,
        True,
    ]  # not the length-5 one


def test_layer_2_gets_input_runs_layer_2_on_the_input():
    lstm, x = _lstm(3, 3, num_layers=2), torch.randn(5, 2, 3, dtype=torch.float64)
    _, second = split_layers(lstm)
    output, _ = MUTANTS["layer-2-gets-input"](lstm, x)
    torch.testing.assert_close(output, second(x)[0])


def test_peephole_mutant_is_peephole_lstm_with_every_weight_a_half():
    lstm = _lstm(3, 4)
    x = torch.randn(5, 2, 3, dtype=torch.float64)
    torch.testing.assert_close(
        MUTANTS["peephole"](lstm, x), peephole_lstm(lstm, x, torch.full((3, 4), 0.5, dtype=torch.float64))
    )


def test_gru_mutants_are_the_gru_written_out_with_one_change():
    torch.manual_seed(0)
    gru = nn.GRU(3, 4, num_layers=2).double()
    x = torch.randn(5, 2, 3, dtype=torch.float64)
    torch.testing.assert_close(GRUEquations()(gru, x), gru(x))
    torch.testing.assert_close(MUTANTS["gru-reset-before"](gru, x), scratch_gru(gru, x, reset_after=False))
    # b_hn outside r is what nn.GRU computes once b_hn is moved into b_in
    torch.testing.assert_close(MUTANTS["gru-b_hn-outside-r"](gru, x), move_bias_hh(gru, gates=[2])(x))


def test_gru_equations_refuse_an_lstm():
    with pytest.raises(
        TypeError, match=r"^Expected gru to be an nn\.GRU, but got an object of type LSTM instead\.$"
    ):
        GRUEquations()(nn.LSTM(3, 4), torch.randn(5, 2, 3))


@pytest.mark.parametrize(
    ("mutant", "module", "x"),
    [
        ("gru-reset-before", nn.LSTM(3, 4), torch.randn(5, 2, 3)),
        ("peephole", nn.GRU(3, 4), torch.randn(5, 2, 3)),
        ("rnn-nonlinearity", nn.GRU(3, 4), torch.randn(5, 2, 3)),
        ("layer-2-gets-input", nn.LSTM(3, 3), torch.randn(5, 2, 3)),
        ("h0-batch-first", nn.LSTM(3, 4), torch.randn(5, 2, 3)),
        ("backward-not-flipped", nn.LSTM(3, 4), torch.randn(5, 2, 3)),
        ("projection-before-tanh", nn.LSTM(3, 4), torch.randn(5, 2, 3)),
        ("padding-as-steps", nn.LSTM(3, 4), torch.randn(5, 2, 3)),
    ],
    ids=["gru-mutant-on-lstm", "lstm-mutant-on-gru", "rnn-mutant-on-gru", "one-layer", "no-batch-first",
         "one-direction", "no-projection", "not-packed"],
)  # fmt: skip
def test_where_the_mistake_cannot_be_made_the_mutant_is_the_module(mutant, module, x):
    with counting() as applied:
        found = MUTANTS[mutant](module, x)
    assert applied == []
    expected = module(x)
    assert torch.equal(found[0], expected[0])


def test_counting_records_each_mistake_made():
    lstm, x = _lstm(3, 4), torch.randn(5, 2, 3, dtype=torch.float64)
    with counting() as applied:
        MUTANTS["gate-order"](lstm, x)
        MUTANTS["gate-order"](lstm, x)
        MUTANTS["gru-reset-before"](lstm, x)  # an LSTM: not made
    assert applied == ["gate-order", "gate-order"]
    MUTANTS["gate-order"](lstm, x)  # outside counting(): nothing recorded, nothing raised
    assert applied == ["gate-order", "gate-order"]


@pytest.mark.parametrize(
    ("module", "got"),
    [(nn.GRU(3, 4), "an object of type GRU"), (nn.RNN(3, 4), "an object of type RNN")],
    ids=["gru", "rnn"],
)
def test_equations_refuse_other_modules(module, got):
    with pytest.raises(TypeError, match=rf"^Expected lstm to be an nn.LSTM, but got {got} instead\.$"):
        Equations()(module, torch.randn(5, 2, 3))


def test_rnn_equations_refuse_an_lstm():
    with pytest.raises(
        TypeError, match=r"^Expected rnn to be an nn\.RNN, but got an object of type LSTM instead\.$"
    ):
        RNNEquations()(nn.LSTM(3, 4), torch.randn(5, 2, 3))


def test_the_unmutated_equations_with_a_projection_are_nn_lstm():
    lstm = _lstm(3, 4, num_layers=2, proj_size=2, bidirectional=True)
    x = torch.randn(5, 2, 3, dtype=torch.float64)
    torch.testing.assert_close(Equations()(lstm, x), lstm(x))


def test_projection_before_tanh_one_step_by_hand():
    lstm, x = _lstm(3, 4, proj_size=2), torch.randn(1, 2, 3, dtype=torch.float64)
    i, _, g, o = (x[0] @ lstm.weight_ih_l0.T + lstm.bias_ih_l0 + lstm.bias_hh_l0).chunk(4, dim=-1)
    c = torch.sigmoid(i) * torch.tanh(g)
    output, (_, c_n) = MUTANTS["projection-before-tanh"](lstm, x)
    torch.testing.assert_close(c_n[0], c)
    torch.testing.assert_close(output[0], torch.tanh((torch.sigmoid(o) * c) @ lstm.weight_hr_l0.T))


@pytest.mark.parametrize("nonlinearity", ["tanh", "relu"])
def test_rnn_equations_are_nn_rnn_and_the_mutant_swaps_the_nonlinearity(nonlinearity):
    torch.manual_seed(0)
    rnn = nn.RNN(3, 4, num_layers=2, nonlinearity=nonlinearity, bidirectional=True).double()
    x = torch.randn(5, 2, 3, dtype=torch.float64)
    torch.testing.assert_close(RNNEquations()(rnn, x), rnn(x))
    other = nn.RNN(
        3, 4, num_layers=2, nonlinearity="relu" if nonlinearity == "tanh" else "tanh", bidirectional=True
    )
    other = other.double().requires_grad_(False)
    other.load_state_dict(rnn.state_dict())
    torch.testing.assert_close(MUTANTS["rnn-nonlinearity"](rnn, x), other(x))


def test_backward_not_flipped_leaves_the_backward_output_in_computed_order():
    lstm, x = _lstm(3, 4, bidirectional=True), torch.randn(5, 2, 3, dtype=torch.float64)
    output, state = MUTANTS["backward-not-flipped"](lstm, x)
    expected, expected_state = lstm(x)
    torch.testing.assert_close(output[..., :4], expected[..., :4])  # the forward direction is right
    torch.testing.assert_close(output[..., 4:], expected[..., 4:].flip(0))
    torch.testing.assert_close(state, expected_state)


def test_state_detached_gives_the_same_values_and_other_gradients():
    lstm = _lstm(3, 4)
    x = torch.randn(5, 2, 3, dtype=torch.float64, requires_grad=True)
    found, (h_n, c_n) = MUTANTS["state-detached"](lstm, x)
    expected, (h_e, c_e) = lstm(x)
    torch.testing.assert_close((found, h_n, c_n), (expected, h_e, c_e))
    (mutated,) = torch.autograd.grad(found.sum(), [x])
    (right,) = torch.autograd.grad(expected.sum(), [x])
    torch.testing.assert_close(mutated[-1], right[-1])  # the last step's input reaches only itself
    assert float((mutated[0] - right[0]).abs().max()) > 1e-3  # earlier steps lose the path through time


def test_scratch_lstm_is_the_unmutated_equations_on_every_layer_and_direction():
    lstm, x = _lstm(3, 4, num_layers=2, bidirectional=True), torch.randn(5, 2, 3, dtype=torch.float64)
    torch.testing.assert_close(Equations()(lstm, x), scratch_lstm(lstm, x))


def test_state_detached_keeps_the_last_c_differentiable():
    lstm = _lstm(3, 4)
    x = torch.randn(5, 2, 3, dtype=torch.float64, requires_grad=True)
    _, (h_n, c_n) = MUTANTS["state-detached"](lstm, x)
    assert h_n.requires_grad
    assert c_n.requires_grad
    (mutated,) = torch.autograd.grad(c_n.sum(), [x])
    (right,) = torch.autograd.grad(lstm(x)[1][1].sum(), [x])
    torch.testing.assert_close(mutated[-1], right[-1])  # the last step is differentiated as nn.LSTM's
    assert bool(mutated[:-1].eq(0).all())  # earlier steps are cut off


def test_dropout_in_eval_drops_out_in_eval_mode_only():
    lstm = _lstm(3, 4, num_layers=2, dropout=0.5).eval()
    x = torch.randn(5, 2, 3, dtype=torch.float64)
    torch.manual_seed(3)
    found, _ = MUTANTS["dropout-in-eval"](lstm, x)
    first, second = split_layers(lstm)
    torch.manual_seed(3)
    y, _ = first(x)
    expected, _ = second(nn.functional.dropout(y, 0.5, training=True))
    torch.testing.assert_close(found, expected)
    with counting() as applied:
        MUTANTS["dropout-in-eval"](lstm.train(), x)
    assert applied == []  # train() mode drops out anyway: the mistake cannot be made


def test_h_n_batch_first_transposes_the_state_of_a_batch_first_module():
    lstm, x = _lstm(3, 4, num_layers=2, batch_first=True), torch.randn(3, 5, 3, dtype=torch.float64)
    output, (h_n, c_n) = MUTANTS["h_n-batch-first"](lstm, x)
    expected, (h_e, c_e) = lstm(x)
    torch.testing.assert_close(output, expected)
    assert h_n.shape == (3, 2, 4)
    torch.testing.assert_close((h_n, c_n), (h_e.transpose(0, 1), c_e.transpose(0, 1)))


def test_h_n_sorted_forgets_the_unsorted_indices():
    lstm = _lstm(3, 4)
    packed = pack_padded_sequence(torch.randn(5, 3, 3, dtype=torch.float64), [2, 5, 3], enforce_sorted=False)
    _, (h_n, c_n) = MUTANTS["h_n-sorted"](lstm, packed)
    _, (h_e, c_e) = lstm(packed)
    order = packed.sorted_indices
    assert order.tolist() == [1, 2, 0]
    torch.testing.assert_close((h_n, c_n), (h_e[:, order], c_e[:, order]))
    with counting() as applied:  # sorted already: no order to forget
        MUTANTS["h_n-sorted"](lstm, pack_padded_sequence(torch.randn(5, 2, 3, dtype=torch.float64), [5, 3]))
    assert applied == []


def test_stale_weights_uses_the_first_calls_weights_and_counts_only_once_they_changed():
    lstm, x = _lstm(3, 4), torch.randn(5, 2, 3, dtype=torch.float64)
    before = copy.deepcopy(lstm)
    with counting() as applied:
        torch.testing.assert_close(MUTANTS["stale-weights"](lstm, x), lstm(x))
        assert applied == []  # the weights have not changed yet
        with torch.no_grad():
            for param in lstm.parameters():
                param.mul_(1.5)
        torch.testing.assert_close(MUTANTS["stale-weights"](lstm, x), before(x))
    assert applied == ["stale-weights"]
