"""post: the printed tables, the models built from them, the reproductions of the post's outputs, and
experiment 2 replayed from its seed.

The printed tables in ``lstm_demo.post`` are the post's data; the replay from the seed checks experiment 2's
against a live run, character for character.
"""

from __future__ import annotations

import dataclasses
import itertools
import re

import pytest
import torch
from torch import nn

from lstm_demo.post import (
    EXPERIMENT_1,
    EXPERIMENT_2,
    PRINTED_TOLERANCE,
    Draws,
    Printed,
    Reproduction,
    RoundingBudget,
    _stream_position,
    experiment_1_detection,
    experiment_1_lstm,
    experiment_1_outputs,
    experiment_1_step_outputs,
    experiment_2_draws,
    experiment_2_inputs,
    experiment_2_lstm,
    experiment_2_outputs,
    experiment_2_printout,
    parse_tensors,
    printed_count,
    recovered_experiment_1_input,
    replay_experiment_2,
    reproduce_experiment_1,
    reproduce_experiment_2,
    rounding_budget,
    same_text,
    search_seeds,
)
from lstm_demo.recover import InputRecovery, invert_step

pytestmark = pytest.mark.usefixtures("one_thread")


def test_tables_hold_printed_blocks_by_name():
    for table in (EXPERIMENT_1, EXPERIMENT_2):
        for name, block in table.items():
            assert isinstance(block, Printed)
            assert block.name == name
            first, last = block.lines
            assert len(block.text.splitlines()) == last - first + 1, name


def test_values_of_a_several_tensor_block():
    inputs = EXPERIMENT_2["inputs"].values
    assert len(inputs) == 5
    assert [tuple(t.shape) for t in inputs] == [(1, 3)] * 5
    outputs = EXPERIMENT_2["outputs"].values
    assert len(outputs) == 5
    assert [tuple(t.shape) for t in outputs] == [(1, 1, 3)] * 5
    assert len(EXPERIMENT_1["out"].values) == 1


def test_gutter_line_numbers_are_removed():
    # The saved page reads "85RNN(", "68weight weight_ih_l0 ..." and "94inputs: [...": line numbers of
    # the page's code gutter ran into the first word.
    for table in (EXPERIMENT_1, EXPERIMENT_2):
        for block in table.values():
            for artefact in ("85RNN", "68weight", "94inputs"):
                assert artefact not in block.text, block.name
            assert re.search(r"^\d+[A-Za-z]", block.text, flags=re.MULTILINE) is None, block.name
    assert EXPERIMENT_2["weight_ih_l0"].text.startswith("weight weight_ih_l0 after init:")
    assert EXPERIMENT_2["inputs"].text.startswith("inputs: [tensor(")


def test_texts_keep_what_the_post_printed_after_the_numbers():
    for name in ("weight_ih_l0", "weight_hh_l0", "bias_ih_l0", "bias_hh_l0"):
        text = EXPERIMENT_1[name].text
        assert text.count("requires_grad=True") == 1, name
        assert text.startswith(f"name: rnn.{name} torch.Size(["), name
        assert "param: Parameter containing:" in text, name
        assert "grad_fn" not in text, name
    for name in ("out", "r_out_t0", "r_out_t1", "r_out_t2", "last_out"):
        text = EXPERIMENT_1[name].text
        assert text.count("grad_fn=<TransposeBackward0>") == 1, name
        assert "requires_grad" not in text, name
    for name in ("weight_ih_l0", "weight_hh_l0", "weight_ih_l1", "weight_hh_l1"):
        text = EXPERIMENT_2[name].text
        assert text.count("requires_grad=True") == 1, name
        assert text.startswith(f"weight {name} after init: Parameter containing:"), name
    assert EXPERIMENT_2["outputs"].text.count("grad_fn=<StackBackward>") == 5
    assert EXPERIMENT_2["outputs"].text.count("grad_fn=<StackBackward0>") == 0
    assert [f"idx: {i}" in EXPERIMENT_2["outputs"].text for i in range(5)] == [True] * 5
    inputs = EXPERIMENT_2["inputs"].text
    assert "grad_fn" not in inputs
    assert "requires_grad" not in inputs


def test_the_post_printed_its_step_outputs_equal_to_the_whole_sequence():
    # Read off the page: each r_out is one time step of out, and the last out repeats r_out at t=2.
    out = EXPERIMENT_1["out"].value
    for t in range(3):
        assert torch.equal(EXPERIMENT_1[f"r_out_t{t}"].value[:, 0], out[:, t])
    assert torch.equal(EXPERIMENT_1["last_out"].value, EXPERIMENT_1["r_out_t2"].value)


def test_printed_is_frozen():
    block = EXPERIMENT_1["out"]
    with pytest.raises(dataclasses.FrozenInstanceError):
        block.text = "tensor([0.0])"  # type: ignore[misc]


# --------------------------------------------------------------------------------------------------
# parse_tensors
# --------------------------------------------------------------------------------------------------


def test_parse_nested_brackets():
    (t,) = parse_tensors("tensor([[[ 0.5, -0.25]],\n[[ 1.0, 2.0]]],\ngrad_fn=<TransposeBackward0>)")
    assert t.dtype == torch.float64
    assert tuple(t.shape) == (2, 1, 2)
    assert t.tolist() == [[[0.5, -0.25]], [[1.0, 2.0]]]


def test_parse_scientific_notation():
    (t,) = parse_tensors("tensor([[-2.0928e-01, 3.4973e-01, 3.5858e-04],\n[ 1.5e+01, -2e-3, 0.0]])")
    assert t.tolist() == [[-0.20928, 0.34973, 0.00035858], [15.0, -0.002, 0.0]]
    assert t[0, 2].item() == 3.5858e-04


def test_parse_scientific_notation_in_the_post():
    assert EXPERIMENT_2["weight_ih_l1"].value[8, 2].item() == 0.00035858


def test_parse_several_tensors_in_order():
    tensors = parse_tensors("a: tensor([1.0, 2.0]) b: tensor([[3.0]]), c: tensor([[-4.5, 5.25]])")
    assert [tuple(t.shape) for t in tensors] == [(2,), (1, 1), (1, 2)]
    assert [t.tolist() for t in tensors] == [[1.0, 2.0], [[3.0]], [[-4.5, 5.25]]]
    assert all(t.dtype == torch.float64 for t in tensors)


@pytest.mark.parametrize(
    "suffix",
    ["grad_fn=<StackBackward>", "grad_fn=<AddBackward0>", "requires_grad=True", "dtype=torch.float64"],
)
def test_parse_ignores_keyword_suffixes(suffix: str):
    tensors = parse_tensors(f"tensor([[[ 0.0374, -0.0085, -0.0240]]], {suffix}) tensor([0.5], {suffix})")
    assert len(tensors) == 2
    assert tensors[0].tolist() == [[[0.0374, -0.0085, -0.0240]]]
    assert tensors[1].tolist() == [0.5]


def test_parse_integer_and_trailing_dot_literals_become_float64():
    (t,) = parse_tensors("tensor([1., 2, -3.])")
    assert t.dtype == torch.float64
    assert t.tolist() == [1.0, 2.0, -3.0]


@pytest.mark.parametrize("text", ["", "no tensors here", "Parameter containing: [0.1, 0.2]", "idx: 0\n====="])
def test_parse_text_without_tensors(text: str):
    assert parse_tensors(text) == []


# --------------------------------------------------------------------------------------------------
# The models
# --------------------------------------------------------------------------------------------------


def test_experiment_1_lstm_config_and_parameters():
    lstm = experiment_1_lstm()
    assert isinstance(lstm, nn.LSTM)
    assert repr(lstm) == "LSTM(4, 5, batch_first=True)"
    assert [(n, tuple(p.shape)) for n, p in lstm.named_parameters()] == [
        ("weight_ih_l0", (20, 4)),
        ("weight_hh_l0", (20, 5)),
        ("bias_ih_l0", (20,)),
        ("bias_hh_l0", (20,)),
    ]
    for param in lstm.parameters():
        assert param.dtype == torch.float32
        assert param.device == torch.device("cpu")
        assert param.requires_grad
    # The printed decimals, rounded to float32.
    assert lstm.weight_ih_l0[0, 0].item() == torch.tensor(0.0449, dtype=torch.float32).item()
    assert lstm.weight_hh_l0[19, 4].item() == torch.tensor(0.0699, dtype=torch.float32).item()
    assert lstm.bias_ih_l0[19].item() == torch.tensor(-0.0532, dtype=torch.float32).item()
    assert lstm.bias_hh_l0[16].item() == torch.tensor(0.0008, dtype=torch.float32).item()
    for name, param in lstm.named_parameters():
        assert torch.equal(param.detach(), EXPERIMENT_1[name].value.float()), name


def test_experiment_1_lstm_float64_holds_the_printed_decimals():
    lstm = experiment_1_lstm(dtype=torch.float64)
    assert repr(lstm) == "LSTM(4, 5, batch_first=True)"
    assert {p.dtype for p in lstm.parameters()} == {torch.float64}
    assert lstm.weight_ih_l0[0].tolist() == [0.0449, 0.0707, -0.0393, 0.0395]
    assert lstm.weight_hh_l0[0, 0].item() == -0.0148
    assert lstm.bias_ih_l0[0].item() == 0.0719
    assert lstm.bias_hh_l0[19].item() == 0.0419


@pytest.mark.parametrize("device", ["meta", torch.device("meta"), "cpu", torch.device("cpu")])
def test_experiment_1_lstm_device(device):
    lstm = experiment_1_lstm(device=device)
    assert {p.device for p in lstm.parameters()} == {torch.device(device)}
    assert tuple(lstm.weight_ih_l0.shape) == (20, 4)


def test_experiment_2_lstm_config_and_weights():
    lstm = experiment_2_lstm()
    assert isinstance(lstm, nn.LSTM)
    assert repr(lstm) == "LSTM(3, 3, num_layers=2)"
    assert (lstm.input_size, lstm.hidden_size, lstm.num_layers, lstm.batch_first) == (3, 3, 2, False)
    names = [n for n, _ in lstm.named_parameters()]
    assert names == [
        "weight_ih_l0",
        "weight_hh_l0",
        "bias_ih_l0",
        "bias_hh_l0",
        "weight_ih_l1",
        "weight_hh_l1",
        "bias_ih_l1",
        "bias_hh_l1",
    ]
    assert {p.dtype for p in lstm.parameters()} == {torch.float32}
    assert lstm.weight_ih_l0[0, 0].item() == torch.tensor(0.6025, dtype=torch.float32).item()
    assert lstm.weight_hh_l0[11, 2].item() == torch.tensor(-0.3627, dtype=torch.float32).item()
    assert lstm.weight_ih_l1[8, 2].item() == torch.tensor(3.5858e-04, dtype=torch.float32).item()
    assert lstm.weight_hh_l1[11, 2].item() == torch.tensor(0.8224, dtype=torch.float32).item()
    for name in ("weight_ih_l0", "weight_hh_l0", "weight_ih_l1", "weight_hh_l1"):
        assert torch.equal(getattr(lstm, name).detach(), EXPERIMENT_2[name].value.float()), name
    for name in ("bias_ih_l0", "bias_hh_l0", "bias_ih_l1", "bias_hh_l1"):
        assert torch.equal(getattr(lstm, name).detach(), torch.zeros(12)), name


def test_experiment_2_lstm_float64_and_device():
    lstm = experiment_2_lstm(dtype=torch.float64)
    assert {p.dtype for p in lstm.parameters()} == {torch.float64}
    assert lstm.weight_ih_l1[0].tolist() == [3.6955e-02, 7.1276e-02, -4.3073e-01]
    assert lstm.weight_hh_l1[-1].tolist() == [0.2533, 0.1532, 0.8224]
    meta = experiment_2_lstm(device="meta", bias="default")
    assert {p.device for p in meta.parameters()} == {torch.device("meta")}


def test_experiment_2_lstm_default_biases_are_pytorch_init_after_the_seed():
    lstm = experiment_2_lstm(bias="default")
    torch.manual_seed(1)
    reference = nn.LSTM(3, 3, num_layers=2)
    bound = 1 / 3**0.5
    for name in ("bias_ih_l0", "bias_hh_l0", "bias_ih_l1", "bias_hh_l1"):
        bias = getattr(lstm, name).detach()
        assert torch.equal(bias, getattr(reference, name).detach()), name
        assert bool((bias.abs() <= bound).all()), name
        assert bool((bias != 0).all()), name
    # The weights are still the printed ones, not the drawn ones.
    assert lstm.weight_ih_l0[0, 0].item() == torch.tensor(0.6025, dtype=torch.float32).item()
    assert not torch.equal(lstm.weight_ih_l0.detach(), reference.weight_ih_l0.detach())


def test_experiment_2_lstm_default_biases_follow_the_seed():
    def biases(seed: int) -> torch.Tensor:
        lstm = experiment_2_lstm(bias="default", seed=seed)
        return torch.cat([p.detach() for n, p in lstm.named_parameters() if n.startswith("bias")])

    assert tuple(biases(1).shape) == (48,)
    assert torch.equal(biases(1), biases(1))
    assert torch.equal(biases(7), biases(7))
    assert not torch.equal(biases(1), biases(7))
    assert int((biases(1) != biases(7)).sum()) == 48


@pytest.mark.parametrize("bias", ["default", "zero"])
def test_experiment_2_lstm_leaves_the_global_generator_alone(bias: str):
    torch.manual_seed(12345)
    saved = torch.random.get_rng_state()
    expected = torch.rand(4)
    torch.random.set_rng_state(saved)
    experiment_2_lstm(bias=bias, seed=1)
    assert torch.equal(torch.rand(4), expected)
    # And the call itself does not depend on the state it finds.
    torch.manual_seed(999)
    again = experiment_2_lstm(bias=bias, seed=1)
    torch.manual_seed(1)
    assert torch.equal(again.bias_ih_l1.detach(), experiment_2_lstm(bias=bias, seed=1).bias_ih_l1.detach())


@pytest.mark.parametrize("bias", ["random", "Zero", "", None, 0])
def test_experiment_2_lstm_bad_bias(bias):
    with pytest.raises(
        ValueError, match=re.escape("Expected bias to be one of ('zero', 'default'), but got ")
    ):
        experiment_2_lstm(bias=bias)


def test_experiment_2_lstm_bad_bias_message():
    with pytest.raises(
        ValueError, match=r"^Expected bias to be one of \('zero', 'default'\), but got 'random'"
    ):
        experiment_2_lstm(bias="random")


def test_experiment_outputs_and_inputs():
    out = experiment_1_outputs()
    assert (tuple(out.shape), out.dtype) == ((2, 3, 5), torch.float64)
    assert out[0, 0, 0].item() == 0.0808
    assert out[1, 2, 4].item() == -0.0549
    steps = experiment_1_step_outputs()
    assert (tuple(steps.shape), steps.dtype) == ((3, 2, 1, 5), torch.float64)
    assert steps[0, 0, 0, 0].item() == 0.0808
    assert steps[1, 1, 0, 4].item() == -0.0333
    assert steps[2, 1, 0, 4].item() == -0.0549
    inputs = experiment_2_inputs()
    assert (tuple(inputs.shape), inputs.dtype) == ((5, 1, 3), torch.float64)
    assert inputs[0, 0].tolist() == [1.5381, 1.4673, 1.5951]
    assert inputs[4, 0].tolist() == [1.1628, -0.3229, 1.8782]
    outputs = experiment_2_outputs()
    assert (tuple(outputs.shape), outputs.dtype) == ((5, 1, 3), torch.float64)
    assert torch.equal(outputs, EXPERIMENT_2["outputs"].value.reshape(5, 1, 3))


# --------------------------------------------------------------------------------------------------
# printed_count
# --------------------------------------------------------------------------------------------------


def test_printed_count_of_the_post():
    # 20*4 + 20*5 + 20 + 20 parameters, 2*3*5 out, 4 blocks of 2*1*5 step outputs.
    assert printed_count(EXPERIMENT_1) == 80 + 100 + 20 + 20 + 30 + 4 * 10 == 290
    # 4 weights of 12*3, 5 inputs of 3, 5 outputs of 3.
    assert printed_count(EXPERIMENT_2) == 4 * 36 + 15 + 15 == 174


def test_printed_count_by_hand():
    table = {
        "a": Printed("a", (1, 1), "tensor([1.0, 2.0]) and tensor([[3.0], [4.0], [5.0]])"),
        "b": Printed("b", (2, 3), "tensor([[[0.5, 0.25]]])\n"),
        "c": Printed("c", (4, 4), "nothing printed"),
    }
    assert printed_count(table) == 2 + 3 + 2
    assert printed_count({}) == 0


# --------------------------------------------------------------------------------------------------
# Reproduction, by hand
# --------------------------------------------------------------------------------------------------


def _by_hand(printed: list, runs: dict[str, list], **kwargs) -> Reproduction:
    return Reproduction(
        "by hand",
        torch.device("cpu"),
        torch.float32,
        torch.tensor(printed, dtype=torch.float64),
        {name: torch.tensor(values, dtype=torch.float64) for name, values in runs.items()},
        **kwargs,
    )


def test_reproduction_counts_a_number_every_run_matches():
    printed = [0.0449, 0.0707, -0.0393, 0.0395]
    result = _by_hand(
        printed,
        {
            # off by 4e-5 (counts), 6e-5 (does not), exact, exact
            "a": [0.0449 + 4e-5, 0.0707 - 6e-5, -0.0393, 0.0395],
            # exact, exact, off by 1e-3 (only run a matches: does not count), exact
            "b": [0.0449, 0.0707, -0.0393 + 1e-3, 0.0395],
        },
    )
    assert result.tolerance == PRINTED_TOLERANCE == 5e-5
    assert result.total == 4
    assert result.reproduced == 2
    assert result.holds is False
    assert result.max_difference == pytest.approx(1e-3, abs=1e-12)
    diffs = result.differences
    assert list(diffs) == ["a", "b"]
    assert diffs["a"].tolist() == pytest.approx([4e-5, 6e-5, 0.0, 0.0], abs=1e-12)
    assert diffs["b"].tolist() == pytest.approx([0.0, 0.0, 1e-3, 0.0], abs=1e-12)
    with pytest.raises(AssertionError, match="the post's numbers were not reproduced"):
        result.assert_holds()


def test_reproduction_of_negative_differences():
    result = _by_hand([-0.0085, 0.0374], {"only": [-0.0085 - 4e-5, 0.0374 + 6e-5]})
    assert (result.reproduced, result.total, result.holds) == (1, 2, False)


def test_reproduction_tolerance_is_inclusive():
    # Dyadic numbers: the differences are exact.
    printed = [0.5, 0.25]
    runs = {"run": [0.5 + 2**-15, 0.25 - 2**-15]}
    assert _by_hand(printed, runs, tolerance=2**-15).reproduced == 2
    assert _by_hand(printed, runs, tolerance=2**-16).reproduced == 0
    assert _by_hand(printed, runs, tolerance=2**-15).max_difference == 2**-15


def test_reproduction_that_holds():
    result = _by_hand([[0.5, -0.25], [0.125, 1.0]], {"x": [[0.5, -0.25], [0.125, 1.0 + 2**-16]]})
    assert (result.reproduced, result.total, result.holds) == (4, 4, True)
    assert result.max_difference == 2**-16
    result.assert_holds()  # does not raise


def test_reproduction_str_and_table_by_hand():
    result = _by_hand(
        [[0.5, -0.25], [0.125, 0.0449]],
        {"first": [[0.5, -0.25], [0.125, 0.0449]], "second run": [[0.5 + 2**-15, -0.25], [0.125, 0.0]]},
    )
    assert (result.reproduced, result.total) == (3, 4)
    text = str(result)
    assert text.startswith("cpu, float32: 3 of 4 printed numbers reproduced by every run")
    assert "greatest |ours - post| 0.045" in text
    assert "5e-05" in text
    table = result.table().splitlines()
    assert len(table) == 5
    assert table[0].split() == ["position", "post", "first", "second", "run", "|diff|"]
    assert table[0].startswith("position")
    assert table[0].endswith("|diff|")
    assert table[1][:12] == "(0, 0)      "
    assert table[1][12:21] == "   0.5000"
    assert table[1].split()[2:] == ["0.5000", "0.500000", "0.500031", "3.1e-05"]
    assert table[2].split()[2:] == ["-0.2500", "-0.250000", "-0.250000", "0.0e+00"]
    assert table[4][:12].strip() == "(1, 1)"
    assert table[4].split()[2:] == ["0.0449", "0.044900", "0.000000", "4.5e-02"]


def test_reproduction_str_float64():
    result = Reproduction(
        "by hand", torch.device("cpu"), torch.float64, torch.tensor([0.5]), {"r": torch.tensor([0.5])}
    )
    text = str(result)
    assert text.startswith("cpu, float64: 1 of 1 printed numbers reproduced by every run")
    assert re.search(r"greatest \|ours - post\| 0(?![.\d])", text) is not None
    assert "5e-05" in text


# --------------------------------------------------------------------------------------------------
# The reproductions
# --------------------------------------------------------------------------------------------------


def test_reproduce_experiment_2_holds():
    result = reproduce_experiment_2()
    assert result.experiment == "experiment 2"
    assert result.device == torch.device("cpu")
    assert result.dtype == torch.float32
    assert result.tolerance == 5e-5
    assert result.holds is True
    assert result.reproduced == result.total == 15
    assert 0 < result.max_difference < 5e-5
    assert list(result.runs) == ["num_layers=2", "stacked"]
    assert torch.equal(result.printed, experiment_2_outputs())
    for name, run in result.runs.items():
        assert (tuple(run.shape), run.dtype, run.device) == ((5, 1, 3), torch.float64, torch.device("cpu"))
        assert abs(run[0, 0, 0].item() - 0.0374) <= 5e-5, name
        assert abs(run[4, 0, 2].item() - (-0.0440)) <= 5e-5, name
    result.assert_holds()


def test_reproduce_experiment_2_with_default_biases_does_not_hold():
    result = reproduce_experiment_2(bias="default")
    assert result.reproduced == 0
    assert result.total == 15
    assert result.holds is False
    assert result.max_difference > 1e-2
    with pytest.raises(AssertionError, match="not reproduced") as info:
        result.assert_holds()
    message = str(info.value)
    assert "0 of 15 printed numbers reproduced" in message
    assert "position" in message
    assert "(4, 0, 2)" in message


def test_reproduce_experiment_2_bad_bias():
    with pytest.raises(ValueError, match="Expected bias to be one of"):
        reproduce_experiment_2(bias="none")


def test_reproduce_experiment_2_float64():
    result = reproduce_experiment_2(dtype=torch.float64)
    assert result.dtype == torch.float64
    assert result.holds is True
    assert result.reproduced == 15
    assert result.max_difference < 5e-5
    assert str(result).startswith("cpu, float64: 15 of 15 printed numbers reproduced by every run")


def test_reproduce_experiment_2_str_and_table():
    result = reproduce_experiment_2()
    text = str(result)
    assert text.startswith("cpu, float32: 15 of 15 printed numbers reproduced by every run")
    assert f"greatest |ours - post| {result.max_difference:.2g}" in text
    assert "5e-05" in text
    lines = result.table().splitlines()
    assert lines[0].split() == ["position", "post", "num_layers=2", "stacked", "|diff|"]
    rows = lines[1:]
    positions = [row[:12].strip() for row in rows]
    assert positions == [f"({t}, 0, {k})" for t in range(5) for k in range(3)]
    assert [float(row[12:21]) for row in rows] == experiment_2_outputs().flatten().tolist()
    for row in rows:
        post, method_1, stacked, diff = (float(v) for v in row[12:].split())
        assert abs(method_1 - post) <= 5e-5
        assert abs(stacked - post) <= 5e-5
        assert 0 <= diff <= 5e-5


def test_reproduce_experiment_1_holds():
    result = reproduce_experiment_1()
    assert result.experiment == "experiment 1"
    assert (result.device, result.dtype) == (torch.device("cpu"), torch.float32)
    assert result.reproduced == result.total == 30
    assert result.holds is True
    assert result.max_difference < 5e-5
    assert list(result.runs) == ["whole sequence", "one step at a time"]
    assert tuple(result.printed.shape) == (2, 3, 5)
    assert result.printed[0, 0, 0].item() == 0.0808
    assert result.printed[1, 2, 4].item() == -0.0549
    for name, run in result.runs.items():
        assert (tuple(run.shape), run.dtype) == ((2, 3, 5), torch.float64), name
        assert abs(run[0, 0, 0].item() - 0.0808) <= 5e-5, name
        assert abs(run[1, 2, 4].item() - (-0.0549)) <= 5e-5, name
    assert str(result).startswith("cpu, float32: 30 of 30 printed numbers reproduced by every run")
    result.assert_holds()


def test_reproduce_experiment_1_float64():
    result = reproduce_experiment_1(dtype=torch.float64)
    assert result.dtype == torch.float64
    assert (result.reproduced, result.total, result.holds) == (30, 30, True)
    assert result.max_difference < 5e-5


def test_recovered_experiment_1_input():
    found = recovered_experiment_1_input()
    assert isinstance(found, InputRecovery)
    assert found is recovered_experiment_1_input()  # computed once
    assert (tuple(found.input.shape), found.input.dtype) == ((2, 3, 4), torch.float64)
    assert tuple(found.residuals.shape) == (3, 2)
    assert found.max_residual < 5e-5
    assert bool(torch.isfinite(found.input).all())
    # Run a plain float64 nn.LSTM(4, 5, batch_first=True), loaded by hand from the table, on it.
    lstm = nn.LSTM(4, 5, batch_first=True, dtype=torch.float64)
    with torch.no_grad():
        for name, param in lstm.named_parameters():
            param.copy_(EXPERIMENT_1[name].value)
        out, (h_n, _) = lstm(found.input)
    assert abs(out[0, 0, 0].item() - 0.0808) <= 5e-5
    assert abs(out[0, 2, 4].item() - (-0.0875)) <= 5e-5
    assert abs(out[1, 2, 4].item() - (-0.0549)) <= 5e-5
    assert float((out - experiment_1_outputs()).abs().max()) <= 5e-5
    assert torch.allclose(found.state[0], h_n, rtol=0, atol=1e-12)


def test_experiment_2_lstm_reseeds_no_gpu_generator(monkeypatch):
    # torch.manual_seed would also reseed every CUDA generator; the builder must not.
    calls = []
    monkeypatch.setattr(torch.cuda, "manual_seed_all", calls.append)
    monkeypatch.setattr(torch.cuda, "manual_seed", calls.append)
    experiment_2_lstm(bias="default", seed=3)
    assert calls == []


def test_experiment_1_lstm_leaves_the_random_stream_alone():
    torch.manual_seed(5)
    expected = torch.rand(3)
    torch.manual_seed(5)
    experiment_1_lstm()
    assert torch.equal(torch.rand(3), expected)


# --------------------------------------------------------------------------------------------------
# Experiment 2, replayed from its seed
# --------------------------------------------------------------------------------------------------

WEIGHTS_2 = ("weight_ih_l0", "weight_hh_l0", "weight_ih_l1", "weight_hh_l1")


def _half_last_digit(printed: torch.Tensor, significant: int | None) -> torch.Tensor:
    """Half of the last printed digit of each value: 4 decimals, or ``significant`` digits."""
    if significant is None:
        return torch.full_like(printed, PRINTED_TOLERANCE)
    exponent = torch.floor(torch.log10(printed.abs()))
    return 0.5 * 10 ** (exponent - (significant - 1))


def test_replay_gives_the_printed_weights():
    lstm, _ = replay_experiment_2()
    for name in WEIGHTS_2:
        printed = EXPERIMENT_2[name].value
        ours = getattr(lstm, name).detach().double()
        bound = _half_last_digit(printed, 5 if name == "weight_ih_l1" else None)
        assert bool(((ours - printed).abs() <= bound).all()), name
    assert sum(EXPERIMENT_2[name].value.numel() for name in WEIGHTS_2) == 144


def test_replay_biases_are_zero_and_config_is_the_posts():
    lstm, inputs = replay_experiment_2()
    assert repr(lstm) == "LSTM(3, 3, num_layers=2)"
    for name, param in lstm.named_parameters():
        assert param.dtype == torch.float32
        if name.startswith("bias"):
            assert torch.equal(param.detach(), torch.zeros(12)), name
    assert (tuple(inputs.shape), inputs.dtype) == ((5, 1, 3), torch.float32)


def test_replay_gives_the_printed_inputs_and_outputs():
    lstm, inputs = replay_experiment_2()
    assert float((inputs.double() - experiment_2_inputs()).abs().max()) <= PRINTED_TOLERANCE
    outputs, hidden = [], None
    with torch.no_grad():
        for x in inputs:
            out, hidden = lstm(x.view(1, 1, -1), hidden)
            outputs.append(out)
    assert float((torch.cat(outputs).double() - experiment_2_outputs()).abs().max()) <= PRINTED_TOLERANCE


def test_replay_printout_is_the_posts_text():
    printout = experiment_2_printout(*replay_experiment_2())
    assert list(printout) == [*WEIGHTS_2, "inputs"]
    for name, text in printout.items():
        assert same_text(text, EXPERIMENT_2[name].text), name
    # Torch's own alignment is there: the page lost it, the comparison ignores it.
    assert printout["inputs"] != EXPERIMENT_2["inputs"].text
    assert "3.5858e-04" in printout["weight_ih_l1"]


def test_printout_uses_default_print_options_and_restores_the_callers():
    lstm, inputs = replay_experiment_2()
    torch.set_printoptions(precision=2, sci_mode=True)
    try:
        printout = experiment_2_printout(lstm, inputs)
        assert torch._tensor_str.PRINT_OPTS.precision == 2
        assert torch._tensor_str.PRINT_OPTS.sci_mode is True
    finally:
        torch.set_printoptions(profile="default")
    assert same_text(printout["weight_hh_l0"], EXPERIMENT_2["weight_hh_l0"].text)


def test_printout_of_other_numbers_differs():
    lstm, inputs = replay_experiment_2()
    with torch.no_grad():
        lstm.weight_hh_l1[3, 1] += 1e-3
    printout = experiment_2_printout(lstm, inputs + 1e-3)
    assert not same_text(printout["weight_hh_l1"], EXPERIMENT_2["weight_hh_l1"].text)
    assert not same_text(printout["inputs"], EXPERIMENT_2["inputs"].text)
    assert same_text(printout["weight_ih_l0"], EXPERIMENT_2["weight_ih_l0"].text)


@pytest.mark.parametrize(
    ("ours", "printed", "same"),
    [
        ("tensor([[ 0.6025, -0.1577]])", "tensor([[ 0.6025, -0.1577]])", True),
        (
            "tensor([[-1.5279,  1.0156],\n        [ 0.5,  1.0]])",
            "tensor([[-1.5279, 1.0156],\n[ 0.5, 1.0]])",
            True,
        ),
        ("  a\tb\n", "a b", True),
        ("tensor([1.0156])", "tensor([1.0157])", False),
        ("[ 0.5]", "[0.5]", False),
        ("grad_fn=<StackBackward0>", "grad_fn=<StackBackward>", False),
    ],
)
def test_same_text(ours: str, printed: str, same: bool):
    assert same_text(ours, printed) is same


def test_replay_leaves_the_callers_random_state_alone():
    torch.manual_seed(123)
    torch.randn(1)  # leaves a cached normal in the state
    before = torch.random.get_rng_state()
    expected = torch.randn(3)
    torch.random.set_rng_state(before)
    replay_experiment_2()
    experiment_2_draws()
    assert torch.equal(torch.random.get_rng_state(), before)
    assert torch.equal(torch.randn(3), expected)


def test_replay_does_not_depend_on_the_callers_state():
    torch.manual_seed(5)
    first, first_inputs = replay_experiment_2()
    torch.manual_seed(6)
    torch.rand(1000)
    second, second_inputs = replay_experiment_2()
    assert torch.equal(first_inputs, second_inputs)
    assert all(map(torch.equal, first.parameters(), second.parameters()))


def test_replay_reseeds_no_gpu_generator(monkeypatch):
    calls = []
    monkeypatch.setattr(torch.cuda, "manual_seed_all", calls.append)
    monkeypatch.setattr(torch.cuda, "manual_seed", calls.append)
    replay_experiment_2()
    experiment_2_draws()
    assert calls == []


def test_replay_dtype_and_device():
    lstm32, inputs32 = replay_experiment_2()
    lstm64, inputs64 = replay_experiment_2(dtype=torch.float64, device="cpu")
    assert {p.dtype for p in lstm64.parameters()} == {torch.float64}
    assert inputs64.dtype == torch.float64
    # Drawn in float32 as the post did, then cast.
    assert torch.equal(inputs64, inputs32.double())
    for a, b in zip(lstm32.parameters(), lstm64.parameters(), strict=True):
        assert torch.equal(a.detach().double(), b.detach())


@pytest.mark.parametrize(
    ("dtype", "shown"), [(torch.int64, "torch.int64"), ("float32", "'float32'"), (None, "None")]
)
def test_replay_bad_dtype(dtype, shown: str):
    message = f"Expected dtype to be a floating-point torch.dtype, but got {shown} instead."
    with pytest.raises(TypeError, match=f"^{re.escape(message)}"):
        replay_experiment_2(dtype=dtype)


def test_inputs_first_gives_the_weights_but_not_the_inputs():
    lstm, inputs = replay_experiment_2()
    early, early_inputs = replay_experiment_2(inputs_first=True)
    assert all(map(torch.equal, lstm.parameters(), early.parameters()))
    assert float((early_inputs.double() - experiment_2_inputs()).abs().max()) > 0.1
    assert not torch.equal(early_inputs, inputs)


def test_draw_accounting():
    lstm, _ = replay_experiment_2()
    draws = experiment_2_draws()
    assert all(isinstance(d, Draws) for d in draws)
    assert [d.stage for d in draws] == [
        "nn.LSTM(3, 3, num_layers=2)",
        *[f"inputs[{i}] = torch.randn(1, 3)" for i in range(5)],
        *[
            f"{'xavier_normal_' if n.startswith('weight') else 'zeros_'}({n})"
            for n, _ in lstm.named_parameters()
        ],
    ]
    # One uniform per value of the module; Box-Muller pairs of two-draw uniforms, the second normal kept
    # for the next call (15 normals: 8 pairs); 36 uniforms and 16 redrawn for each 12x3 weight.
    assert draws[0].count == sum(p.numel() for p in lstm.parameters()) == 192
    assert [d.count for d in draws[1:6]] == [8, 4, 8, 4, 8]
    assert [d.count for d in draws[6:]] == [52, 52, 0, 0, 52, 52, 0, 0]
    assert draws[0].start == 0
    assert all(a.stop == b.start for a, b in itertools.pairwise(draws))
    assert draws[-1].stop == 192 + 32 + 4 * 52


def test_draw_accounting_inputs_first():
    draws = experiment_2_draws(inputs_first=True)
    assert [d.count for d in draws[:6]] == [8, 4, 8, 4, 8, 192]
    assert draws[5].stage == "nn.LSTM(3, 3, num_layers=2)"
    assert draws[6].start == 224  # where the Xavier draws start either way
    assert [d.start for d in draws if d.stage.startswith("xavier")] == [224, 276, 328, 380]


def test_draw_accounting_measures_the_stream():
    # The position is read from the generator: drawing first moves every stage by as many draws.
    reference = torch.rand(2048, generator=torch.Generator().manual_seed(1))
    with torch.random.fork_rng(devices=[]):
        torch.manual_seed(1)
        assert _stream_position(reference) == 0
        torch.rand(37)
        assert _stream_position(reference) == 37
        torch.rand(3, dtype=torch.float64)  # two draws per float64 uniform
        assert _stream_position(reference) == 43
        torch.rand(2048)
        with pytest.raises(RuntimeError, match="found them 0 times instead"):
            _stream_position(reference)


# --------------------------------------------------------------------------------------------------
# Experiment 1: seeds, rounding, detection
# --------------------------------------------------------------------------------------------------


def _planted(seed: int, dtype: torch.dtype = torch.float32) -> torch.Tensor:
    """The weight_ih_l0 a script seeded with ``seed`` would print: module built, then uniform_(-0.08, 0.08)."""
    with torch.random.fork_rng(devices=[]):
        torch.manual_seed(seed)
        lstm = nn.LSTM(4, 5, batch_first=True, dtype=dtype)
        for param in lstm.parameters():
            nn.init.uniform_(param, -0.08, 0.08)
    return lstm.weight_ih_l0.detach().double().round(decimals=4)


@pytest.mark.parametrize("dtype", [torch.float32, torch.float64])
def test_search_seeds_finds_a_planted_seed(dtype: torch.dtype):
    printed = _planted(1234, dtype)
    found = search_seeds([printed], range(1230, 1240), 1000, dtype=dtype)
    assert {seed for seed, _ in found} == {1234}
    # The module's default init takes 220 values, then uniform_ fills weight_ih_l0 from the next one.
    assert min(at for _, at in found) == 220
    assert len(found) == printed.numel() - 3  # every window of 4 inside the 80 values


def test_search_seeds_misses_what_is_not_there():
    printed = _planted(1234)
    assert search_seeds([printed], [1233, 1235], 1000) == []
    assert search_seeds([printed], [1234], 200) == []  # the draws start at 220
    assert search_seeds([printed], [1234], 1000, low=-0.05, high=0.05) == []


def test_search_seeds_finds_the_experiment_1_parameters_nowhere_in_small_seeds():
    printed = [
        EXPERIMENT_1[name].value for name in ("weight_ih_l0", "weight_hh_l0", "bias_ih_l0", "bias_hh_l0")
    ]
    assert search_seeds(printed, range(50), 1000) == []


@pytest.mark.parametrize(("window", "draws"), [(0, 10), (5, 4), (-1, 10)])
def test_search_seeds_bad_window(window: int, draws: int):
    message = f"Expected 1 <= window <= draws, but got window={window}, draws={draws} instead."
    with pytest.raises(ValueError, match=f"^{re.escape(message)}"):
        search_seeds([torch.zeros(4)], [0], draws, window=window)


def test_rounding_budget_of_experiment_2():
    budget = rounding_budget(
        experiment_2_lstm(dtype=torch.float64),
        experiment_2_inputs(),
        parameters=WEIGHTS_2,
        include_input=True,
        trials=50,
    )
    assert isinstance(budget, RoundingBudget)
    assert (tuple(budget.random.shape), budget.random.dtype) == ((50,), torch.float64)
    assert bool((budget.random > 0).all())
    # The first-order worst case bounds every random trial (to first order; the moves are tiny).
    assert float(budget.random.max()) <= budget.worst_case
    assert budget.worst_case < PRINTED_TOLERANCE
    assert str(budget).startswith(
        "weight_ih_l0, weight_hh_l0, weight_ih_l1, weight_hh_l1 and the input, each moved"
    )
    assert "50 trials" in str(budget)


def test_rounding_budget_grows_with_what_is_perturbed_and_leaves_the_rng_alone():
    lstm, x = experiment_2_lstm(dtype=torch.float64), experiment_2_inputs()
    before = torch.random.get_rng_state()
    one = rounding_budget(lstm, x, parameters=["weight_hh_l1"], include_input=False, trials=5)
    every = rounding_budget(lstm, x, parameters=WEIGHTS_2, include_input=True, trials=5)
    assert torch.equal(torch.random.get_rng_state(), before)
    assert 0 < one.worst_case < every.worst_case
    assert torch.equal(
        one.random,
        rounding_budget(lstm, x, parameters=["weight_hh_l1"], include_input=False, trials=5).random,
    )


@pytest.mark.parametrize("names", [["weight_ih_l9"], [], ["bias", "weight_hh_l0"]])
def test_rounding_budget_bad_parameter_names(names: list[str]):
    with pytest.raises(ValueError, match=re.escape("Expected names of lstm's parameters (weight_ih_l0, ")):
        rounding_budget(experiment_2_lstm(), experiment_2_inputs(), parameters=names, include_input=False)


@pytest.mark.parametrize(("trials", "shown"), [(0, "0"), (-3, "-3"), (2.0, "2.0"), (True, "True")])
def test_rounding_budget_bad_trials(trials, shown: str):
    message = f"Expected trials to be a positive int, but got {shown} instead."
    with pytest.raises(ValueError, match=f"^{re.escape(message)}"):
        rounding_budget(
            experiment_2_lstm(),
            experiment_2_inputs(),
            parameters=WEIGHTS_2,
            include_input=False,
            trials=trials,
        )


def test_experiment_1_detection_agrees_with_a_refit():
    up, down = experiment_1_detection()
    assert tuple(up.shape) == tuple(down.shape) == (2, 3, 5)
    assert bool(torch.isfinite(up).all())
    assert bool(torch.isfinite(down).all())
    assert bool((up > 0).all())
    assert bool((down > 0).all())
    # Checked against the nonlinear refit for one output: 5% below goes unnoticed, 5% above does not.
    lstm = experiment_1_lstm(dtype=torch.float64)
    x = recovered_experiment_1_input().input
    with torch.no_grad():
        _, (h, c) = lstm(x[:, :1])
    for factor, detected in ((0.95, False), (1.05, True)):
        target = experiment_1_outputs()[:, 1].clone()
        target[0, 2] += factor * float(up[0, 1, 2])
        assert (invert_step(lstm, target, (h[0], c[0])).max_residual > PRINTED_TOLERANCE) is detected
