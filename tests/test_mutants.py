"""mutants: every wrong LSTM is caught by every check it applies to, at every tolerance, on the CPU."""

from __future__ import annotations

import copy

import pytest
import torch
from torch import nn
from torch.nn.utils.rnn import pack_padded_sequence

from lstm_demo.claims import move_bias_hh
from lstm_demo.layers import split_layers
from lstm_demo.mutants import (
    CHECKS,
    CONTROL,
    MUTANTS,
    RESOLUTION,
    Check,
    Equations,
    GRUEquations,
    NotApplicableError,
    as_json,
    each_sequence,
    escapes,
    run,
    smallest_caught,
    table,
    tolerances_for,
)
from lstm_demo.scratch import peephole_lstm, scratch_gru
from lstm_demo.tolerances import site_tolerances

CPU_CHECKS = [name for name, check in CHECKS.items() if not check.gpu_only]
GRU_CHECKS = {"gru-bias", "cho-gru"}
GRU_MUTANTS = {"gru-reset-before", "gru-b_hn-outside-r"}


@pytest.fixture(scope="module")
def results():
    return run(devices=["cpu"])


def _lstm(*args, seed=0, **kwargs) -> nn.LSTM:
    torch.manual_seed(seed)
    return nn.LSTM(*args, **kwargs).double()


# --- the suite on the CPU ------------------------------------------------------------------------


@pytest.mark.parametrize("mutant", list(MUTANTS))
def test_every_mutant_is_caught_at_every_tolerance(results, mutant):
    rows = [r for r in results if r.mutant == mutant]
    assert rows, mutant
    missed = [(r.claim, r.dtype, r.tolerance, r.ratio) for r in rows if not r.caught]
    assert missed == []
    assert all(r.ratio > 1 and r.max_abs_diff > 0 for r in rows)
    # Held to every tolerance of both dtypes.
    assert {r.tolerance for r in rows} == set(site_tolerances())


def test_every_control_passes_at_every_tolerance(results):
    controls = [r for r in results if r.mutant == CONTROL]
    assert {r.claim for r in controls} == set(CPU_CHECKS)
    assert [r for r in controls if r.caught] == []
    assert escapes(results) == []


def test_which_mutants_apply_where(results):
    ran = {(r.mutant, r.claim) for r in results}
    layer_2 = {claim for mutant, claim in ran if mutant == "layer-2-gets-input"}
    # the two-layer models with input_size == hidden_size
    assert layer_2 == {"post-layers", "post-experiment-2", "eval-backward"}
    one_bias = {claim for mutant, claim in ran if mutant == "one-bias"}
    # the post's experiment 2 has zero biases; the GRU checks meet the GRU mutants only
    assert one_bias == set(CPU_CHECKS) - {"post-experiment-2", *GRU_CHECKS}
    # Mistakes that show only where a check exercises them: a given state on a batch_first
    # module, a call without a state after another, a packed batch.
    only = {
        "h0-batch-first": {"state-layout"},
        "stateful": {"no-hidden-memory"},
        "padding-as-steps": {"packed"},
    }
    for mutant, where in only.items():
        assert {claim for m, claim in ran if m == mutant} == where
    for mutant in set(MUTANTS) - {"layer-2-gets-input", "one-bias", *only, *GRU_MUTANTS}:
        assert {claim for m, claim in ran if m == mutant} == set(CPU_CHECKS) - GRU_CHECKS
    for mutant in GRU_MUTANTS:
        assert {claim for m, claim in ran if m == mutant} == GRU_CHECKS


def test_each_row_uses_the_tolerances_of_its_dtype(results):
    for r in results:
        if CHECKS[r.claim].printed:
            assert r.tolerance == "post printed"
        else:
            assert r.tolerance in {f"cpu {r.dtype}", f"gpu {r.dtype}", "post printed"}


def test_an_lstm_that_escapes_is_reported(results):
    fake = [*results[:3], type(results[0])("x", "scratch", "cpu", "float32", "cpu float32", False, 0.0, 0.0)]
    assert escapes(fake) == fake[3:]
    assert table(fake).splitlines()[-1].split() == [
        "x",
        "scratch",
        "ESCAPES:",
        "cpu",
        "float32",
        "at",
        "cpu",
        "float32",
    ]


def test_table_has_one_line_per_mutant_and_check(results):
    lines = table(results).splitlines()
    assert lines[0].split() == ["mutant", "check", "verdict"]
    assert len(lines) == 1 + len({(r.mutant, r.claim) for r in results})
    assert all("caught (>=" in line or "passes (<=" in line for line in lines[1:])


def test_json_document(results):
    data = as_json(results)
    assert [t["name"] for t in data["tolerances"]] == list(site_tolerances())
    assert all(
        (t["why"] and "measured" in t["why"]) or t["name"] == "post printed" for t in data["tolerances"]
    )
    assert set(data["results"][0]) == {
        "mutant", "claim", "device", "dtype", "tolerance", "caught", "max_abs_diff", "ratio",
    }  # fmt: skip
    assert len(data["results"]) == len(results)


# --- the mutants compute what they say -------------------------------------------------------------


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


def test_h0_batch_first_needs_a_batch_first_module_and_a_square_state():
    with pytest.raises(NotApplicableError, match=r"^Expected a module the mistake 'h0-batch-first' can be"):
        MUTANTS["h0-batch-first"](_lstm(3, 4), torch.randn(5, 2, 3, dtype=torch.float64))
    lstm, x = _lstm(3, 4, num_layers=2, batch_first=True), torch.randn(3, 5, 3, dtype=torch.float64)
    hx = torch.zeros(2, 3, 4, dtype=torch.float64), torch.zeros(2, 3, 4, dtype=torch.float64)
    with pytest.raises(
        NotApplicableError,
        match=r"^Expected num_layers \* directions == batch for the mistake, but got h_0 \(2, 3, 4\) instead\.$",
    ):
        MUTANTS["h0-batch-first"](lstm, x, hx)


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


def test_a_check_of_the_first_form_still_runs():
    def setup(device, dtype):
        return _lstm(3, 4).to(device, dtype), torch.randn(5, 2, 3, dtype=dtype)

    check = Check("plain", "nn.LSTM vs itself", setup, lambda lstm, x, hx=None: lstm(x, hx))
    assert check.build(torch.device("cpu"), torch.float64)[2] is None
    _, pairs = check.pairs(MUTANTS["gate-order"], torch.device("cpu"), torch.float64)
    assert [a.shape for a, _ in pairs] == [(5, 2, 4), (1, 2, 4), (1, 2, 4)]
    assert not torch.allclose(*pairs[0])
    assert check.tries(MUTANTS["gate-order"]) is True
    assert check.tries(MUTANTS["stateful"]) is False


def test_the_gradient_check_compares_every_gradient():
    lstm, pairs = CHECKS["truncated-bptt"].pairs(
        MUTANTS["forget-bias+0.1"], torch.device("cpu"), torch.float64
    )
    # chunk 2's output, then d loss / d chunk 2 input and each parameter
    assert [tuple(e.shape) for _, e in pairs] == [
        (6, 3, 4),
        (6, 3, 3),
        *(tuple(p.shape) for p in lstm.parameters()),
    ]
    assert all(not torch.allclose(a, e) for a, e in pairs)
    _, control = CHECKS["truncated-bptt"].pairs(
        CHECKS["truncated-bptt"].real, torch.device("cpu"), torch.float64
    )
    assert all(torch.equal(a, e) for a, e in control)


def test_layer_2_gets_input_runs_layer_2_on_the_input():
    lstm, x = _lstm(3, 3, num_layers=2), torch.randn(5, 2, 3, dtype=torch.float64)
    _, second = split_layers(lstm)
    output, _ = MUTANTS["layer-2-gets-input"](lstm, x)
    torch.testing.assert_close(output, second(x)[0])


def test_layer_2_gets_input_does_not_apply_to_one_layer():
    with pytest.raises(
        NotApplicableError, match=r"^Expected a module the mistake 'layer-2-gets-input' can be"
    ):
        MUTANTS["layer-2-gets-input"](_lstm(3, 3), torch.randn(5, 2, 3, dtype=torch.float64))


@pytest.mark.parametrize(
    ("module", "got"),
    [(nn.GRU(3, 4), "an object of type GRU"), (nn.LSTM(3, 4, proj_size=2), "an object of type LSTM")],
    ids=["gru", "projection"],
)
def test_equations_refuse_other_modules(module, got):
    with pytest.raises(
        TypeError, match=rf"^Expected lstm to be an nn.LSTM without proj_size, but got {got} instead\.$"
    ):
        Equations()(module, torch.randn(5, 2, 3))


# --- the smallest bug each check catches ---------------------------------------------------------


@pytest.mark.parametrize("check", ["post-stepwise", "post-experiment-2"])
def test_smallest_caught_brackets_the_threshold(check):
    found = smallest_caught(check)
    assert [s.tolerance for s in found] == tolerances_for(CHECKS[check], torch.float32)
    for s in found:
        assert 0 < s.not_caught < s.offset < 1
        assert s.offset / s.not_caught <= 10**RESOLUTION * (1 + 1e-12)
        tol = site_tolerances()[s.tolerance]
        for offset, caught in ((s.offset, True), (s.not_caught, False)):
            _, pairs = CHECKS[check].pairs(
                Equations(forget_offset=offset), torch.device("cpu"), torch.float32
            )
            failures = 0
            for actual, expected in pairs:
                try:
                    torch.testing.assert_close(
                        actual.double(), expected.double(), rtol=tol.rtol, atol=tol.atol
                    )
                except AssertionError:
                    failures += 1
            assert (failures > 0) is caught, (s, offset)


def test_smallest_caught_tighter_tolerances_catch_smaller_bugs():
    found = {s.tolerance: s.offset for s in smallest_caught("scratch", dtype=torch.float64)}
    assert found["gpu float64"] < found["cpu float64"] < found["post printed"]
    chosen = smallest_caught("scratch", dtype=torch.float64, tolerances=["gpu float64"])
    assert [(s.tolerance, s.offset) for s in chosen] == [("gpu float64", found["gpu float64"])]


@pytest.mark.parametrize(
    ("kwargs", "error", "match"),
    [
        (
            {"check": "nope"},
            ValueError,
            r"^Expected a check name from post-stepwise, .*, but got 'nope' instead\.$",
        ),
        (
            {"check": "cpu-vs-gpu"},
            ValueError,
            r"^Expected a GPU for check 'cpu-vs-gpu', but got cpu instead\.$",
        ),
        (
            {"check": "scratch", "dtype": torch.float16},
            TypeError,
            r"^Expected dtypes torch.float32 or torch.float64",
        ),
        ({"check": "scratch", "device": "cuda:7"}, ValueError, r"^Expected one of this machine's devices"),
        (
            {"check": "post-experiment-1", "tolerances": ["cpu float32"]},
            ValueError,
            r"^Expected tolerance names from post printed, but got cpu float32 instead\.$",
        ),
    ],
    ids=["check", "gpu-only", "dtype", "device", "tolerance"],
)
def test_smallest_caught_bad_arguments(kwargs, error, match):
    check = kwargs.pop("check")
    with pytest.raises(error, match=match):
        smallest_caught(check, **kwargs)


@pytest.mark.parametrize(
    ("kwargs", "error", "match"),
    [
        (
            {"mutants": ["nope"]},
            ValueError,
            r"^Expected mutant names from gate-order, .*, but got nope instead\.$",
        ),
        (
            {"checks": ["nope"]},
            ValueError,
            r"^Expected check names from post-stepwise, .*, but got nope instead\.$",
        ),
        (
            {"dtypes": [torch.float16]},
            TypeError,
            r"^Expected dtypes torch.float32 or torch.float64, but got torch.float16",
        ),
        (
            {"devices": []},
            ValueError,
            r"^Expected at least one device and one dtype, but got 0 and 2 instead\.$",
        ),
        ({"devices": ["cuda:7"]}, ValueError, r"^Expected one of this machine's devices"),
    ],
    ids=["mutant", "check", "dtype", "no-devices", "device"],
)
def test_run_bad_arguments(kwargs, error, match):
    with pytest.raises(error, match=match):
        run(**kwargs)


def test_run_a_chosen_subset():
    found = run(devices=["cpu"], dtypes=[torch.float64], mutants=["c-not-carried"], checks=["lstmcell-loop"])
    assert [(r.mutant, r.claim, r.dtype, r.tolerance) for r in found] == [
        (CONTROL, "lstmcell-loop", "float64", "cpu float64"),
        (CONTROL, "lstmcell-loop", "float64", "gpu float64"),
        (CONTROL, "lstmcell-loop", "float64", "post printed"),
        ("c-not-carried", "lstmcell-loop", "float64", "cpu float64"),
        ("c-not-carried", "lstmcell-loop", "float64", "gpu float64"),
        ("c-not-carried", "lstmcell-loop", "float64", "post printed"),
    ]


# --- biases, peepholes, notations and the GRU ----------------------------------------------------

#: Each new check, and the mutant written for the mistake it is about.
NOTATION_CATCHES = {
    "two-biases": "one-bias",
    "no-peepholes": "peephole",
    "olah-notation": "gate-order",
    "row-vector": "gate-order",
    "gru-bias": "gru-b_hn-outside-r",
    "cho-gru": "gru-reset-before",
}


@pytest.mark.parametrize(("check", "mutant"), list(NOTATION_CATCHES.items()))
def test_notation_checks_catch_their_mutant_and_pass_their_control(results, check, mutant):
    rows = [r for r in results if r.claim == check]
    controls = [r for r in rows if r.mutant == CONTROL]
    caught = [r for r in rows if r.mutant == mutant]
    every = set(site_tolerances())
    assert {(r.dtype, r.tolerance) for r in controls} == {
        (d, t) for d in ("float32", "float64") for t in tolerances_for(CHECKS[check], getattr(torch, d))
    }
    assert {r.tolerance for r in controls} == every
    assert [r for r in controls if r.caught] == []
    assert all(r.ratio < 0.1 for r in controls), [(r.tolerance, r.ratio) for r in controls]
    assert {r.tolerance for r in caught} == every
    assert all(r.caught and r.ratio > 10 for r in caught), [(r.tolerance, r.ratio) for r in caught]


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


@pytest.mark.parametrize(
    ("mutant", "module"),
    [("gru-reset-before", nn.LSTM(3, 4)), ("peephole", nn.GRU(3, 4))],
    ids=["gru-mutant-on-lstm", "lstm-mutant-on-gru"],
)
def test_mutants_do_not_apply_to_the_other_class(mutant, module):
    with pytest.raises(
        NotApplicableError, match=rf"^Expected a module the mistake '{mutant}' can be made on"
    ):
        MUTANTS[mutant](module, torch.randn(5, 2, 3))


def test_gru_equations_refuse_an_lstm():
    with pytest.raises(
        TypeError, match=r"^Expected gru to be an nn\.GRU, but got an object of type LSTM instead\.$"
    ):
        GRUEquations()(nn.LSTM(3, 4), torch.randn(5, 2, 3))


def test_smallest_caught_on_a_gru_check_moves_the_update_gate():
    found = smallest_caught("cho-gru", tolerances=["cpu float32"])
    [s] = found
    assert 0 < s.not_caught < s.offset < 1e-2
    _, pairs = CHECKS["cho-gru"].pairs(
        GRUEquations(update_offset=s.offset), torch.device("cpu"), torch.float32
    )
    tol = site_tolerances()["cpu float32"]
    assert any(not torch.allclose(a, e, rtol=tol.rtol, atol=tol.atol) for a, e in pairs)
