"""post.printed: the post's printed blocks, verbatim, and the tensors parsed out of them."""

from __future__ import annotations

import dataclasses
import re

import pytest
import torch

from lstm_demo.post import (
    EXPERIMENT_1,
    EXPERIMENT_2,
    Printed,
    parse_tensors,
    printed_count,
)

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
