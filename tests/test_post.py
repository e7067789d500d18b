"""post: the printed tables against values read off the saved page by eye, the models built from them,
and the reproductions of the post's outputs.

Every golden value here was copied by hand from ``original-post.txt`` (the saved page of the post; the
page lines quoted are its line numbers). The tests do not read that file, so they run without the seed.
"""

from __future__ import annotations

import dataclasses
import re

import pytest
import torch
from torch import nn

from lstm_demo.post import (
    EXPERIMENT_1,
    EXPERIMENT_2,
    PRINTED_TOLERANCE,
    Printed,
    Reproduction,
    experiment_1_lstm,
    experiment_1_outputs,
    experiment_1_step_outputs,
    experiment_2_inputs,
    experiment_2_lstm,
    experiment_2_outputs,
    parse_tensors,
    printed_count,
    recovered_experiment_1_input,
    reproduce_experiment_1,
    reproduce_experiment_2,
)
from lstm_demo.recover import InputRecovery

pytestmark = pytest.mark.usefixtures("one_thread")


# --------------------------------------------------------------------------------------------------
# The blocks, by eye. For each: the page lines, the first and last line of the block as the page shows
# them (gutter removed), one line from the middle with its page line number, the shape of ``value`` and
# a few elements of it.
# --------------------------------------------------------------------------------------------------

BLOCKS_1 = {
    "weight_ih_l0": {
        "lines": (97, 118),
        "first": "name: rnn.weight_ih_l0 torch.Size([20, 4])",
        "last": "[ 0.0420, 0.0477, -0.0551, 0.0526]], requires_grad=True)",
        "middle": (107, "[ 0.0456, 0.0009, -0.0051, -0.0497],"),
        "shape": (20, 4),
        "values": {(0, 0): 0.0449, (0, 3): 0.0395, (8, 1): 0.0009, (19, 0): 0.0420, (19, 3): 0.0526},
    },
    "weight_hh_l0": {
        "lines": (119, 140),
        "first": "name: rnn.weight_hh_l0 torch.Size([20, 5])",
        "last": "[-0.0605, -0.0516, 0.0641, -0.0779, 0.0699]], requires_grad=True)",
        "middle": (139, "[ 0.0738, 0.0166, 0.0372, -0.0009, 0.0514],"),
        "shape": (20, 5),
        "values": {(0, 0): -0.0148, (0, 4): -0.0271, (18, 3): -0.0009, (19, 0): -0.0605, (19, 4): 0.0699},
    },
    "bias_ih_l0": {
        "lines": (141, 145),
        "first": "name: rnn.bias_ih_l0 torch.Size([20])",
        "last": "0.0451, -0.0575, 0.0220, -0.0532], requires_grad=True)",
        "middle": (144, "0.0115, 0.0693, 0.0534, -0.0731, -0.0012, 0.0284, -0.0694, 0.0135,"),
        "shape": (20,),
        "values": {(0,): 0.0719, (7,): -0.0279, (8,): 0.0115, (19,): -0.0532},
    },
    "bias_hh_l0": {
        "lines": (146, 150),
        "first": "name: rnn.bias_hh_l0 torch.Size([20])",
        "last": "0.0008, 0.0734, -0.0651, 0.0419], requires_grad=True)",
        "middle": (149, "-0.0166, 0.0263, 0.0050, -0.0282, -0.0162, 0.0333, -0.0444, 0.0584,"),
        "shape": (20,),
        "values": {(0,): 0.0154, (8,): -0.0166, (16,): 0.0008, (19,): 0.0419},
    },
    "out": {
        "lines": (151, 157),
        "first": "out: tensor([[[ 0.0808, -0.0553, -0.0342, 0.0148, -0.0718],",
        "last": "grad_fn=<TransposeBackward0>)",
        "middle": (154, "[[ 0.0761, -0.0196, -0.0030, 0.0017, -0.0420],"),
        "shape": (2, 3, 5),
        "values": {(0, 0, 0): 0.0808, (0, 2, 4): -0.0875, (1, 0, 0): 0.0761, (1, 2, 4): -0.0549},
    },
    "r_out_t0": {
        "lines": (158, 160),
        "first": "r_out: tensor([[[ 0.0808, -0.0553, -0.0342, 0.0148, -0.0718]],",
        "last": "grad_fn=<TransposeBackward0>)",
        "middle": (159, "[[ 0.0761, -0.0196, -0.0030, 0.0017, -0.0420]]],"),
        "shape": (2, 1, 5),
        "values": {(0, 0, 0): 0.0808, (0, 0, 4): -0.0718, (1, 0, 0): 0.0761, (1, 0, 4): -0.0420},
    },
    "r_out_t1": {
        "lines": (161, 163),
        "first": "r_out: tensor([[[ 0.0570, -0.0712, -0.0422, 0.0514, -0.0905]],",
        "last": "grad_fn=<TransposeBackward0>)",
        "middle": (162, "[[ 0.0764, -0.0191, 0.0171, -0.0125, -0.0333]]],"),
        "shape": (2, 1, 5),
        "values": {(0, 0, 0): 0.0570, (0, 0, 4): -0.0905, (1, 0, 0): 0.0764, (1, 0, 4): -0.0333},
    },
    "r_out_t2": {
        "lines": (164, 166),
        "first": "r_out: tensor([[[ 0.0671, -0.0729, -0.0326, 0.0359, -0.0875]],",
        "last": "grad_fn=<TransposeBackward0>)",
        "middle": (165, "[[ 0.0501, -0.0520, -0.0162, 0.0257, -0.0549]]],"),
        "shape": (2, 1, 5),
        "values": {(0, 0, 0): 0.0671, (0, 0, 4): -0.0875, (1, 0, 0): 0.0501, (1, 0, 4): -0.0549},
    },
    "last_out": {
        "lines": (167, 169),
        "first": "out: tensor([[[ 0.0671, -0.0729, -0.0326, 0.0359, -0.0875]],",
        "last": "grad_fn=<TransposeBackward0>)",
        "middle": (168, "[[ 0.0501, -0.0520, -0.0162, 0.0257, -0.0549]]],"),
        "shape": (2, 1, 5),
        "values": {(0, 0, 0): 0.0671, (0, 0, 4): -0.0875, (1, 0, 0): 0.0501, (1, 0, 4): -0.0549},
    },
}

BLOCKS_2 = {
    "weight_ih_l0": {
        "lines": (241, 253),
        "first": "weight weight_ih_l0 after init: Parameter containing:",
        "last": "[-0.1130, 0.6074, 0.1844]], requires_grad=True)",
        "middle": (247, "[ 0.1072, 0.0786, 0.3427],"),
        "shape": (12, 3),
        "values": {(0, 0): 0.6025, (0, 2): -0.0990, (11, 0): -0.1130, (11, 2): 0.1844},
    },
    "weight_hh_l0": {
        "lines": (254, 266),
        "first": "weight weight_hh_l0 after init: Parameter containing:",
        "last": "[ 0.5788, 0.6312, -0.3627]], requires_grad=True)",
        "middle": (257, "[-0.8422, 0.2204, 0.1151],"),
        "shape": (12, 3),
        "values": {(0, 0): -0.0719, (0, 2): 0.2626, (11, 0): 0.5788, (11, 2): -0.3627},
    },
    "weight_ih_l1": {
        "lines": (267, 279),
        "first": "weight weight_ih_l1 after init: Parameter containing:",
        "last": "[-1.1565e-01, -6.7956e-02, -2.1049e-01]], requires_grad=True)",
        "middle": (276, "[-2.0928e-01, 3.4973e-01, 3.5858e-04],"),
        "shape": (12, 3),
        "values": {(0, 0): 3.6955e-02, (8, 2): 3.5858e-04, (11, 0): -1.1565e-01, (11, 2): -2.1049e-01},
    },
    "weight_hh_l1": {
        "lines": (280, 292),
        "first": "weight weight_hh_l1 after init: Parameter containing:",
        "last": "[ 0.2533, 0.1532, 0.8224]], requires_grad=True)",
        "middle": (289, "[-0.1373, -0.8803, -0.4666],"),
        "shape": (12, 3),
        "values": {(0, 0): -0.3017, (0, 2): -0.6554, (11, 0): 0.2533, (11, 2): 0.8224},
    },
    "inputs": {
        "lines": (293, 293),
        "first": (
            "inputs: [tensor([[1.5381, 1.4673, 1.5951]]), tensor([[-1.5279, 1.0156, -0.2020]]), "
            "tensor([[-1.2865, 0.8231, -0.6101]]), tensor([[-1.2960, -0.9434, 0.6684]]), "
            "tensor([[ 1.1628, -0.3229, 1.8782]])]"
        ),
        "last": (
            "inputs: [tensor([[1.5381, 1.4673, 1.5951]]), tensor([[-1.5279, 1.0156, -0.2020]]), "
            "tensor([[-1.2865, 0.8231, -0.6101]]), tensor([[-1.2960, -0.9434, 0.6684]]), "
            "tensor([[ 1.1628, -0.3229, 1.8782]])]"
        ),
        "middle": (
            293,
            "inputs: [tensor([[1.5381, 1.4673, 1.5951]]), tensor([[-1.5279, 1.0156, -0.2020]]), ",
        ),
        "shape": (5, 1, 3),
        "values": {
            (0, 0, 0): 1.5381,
            (0, 0, 2): 1.5951,
            (1, 0, 2): -0.2020,
            (4, 0, 0): 1.1628,
            (4, 0, 2): 1.8782,
        },
    },
    "outputs": {
        "lines": (294, 308),
        "first": "idx: 0",
        "last": "==========",
        "middle": (301, "tensor([[[-0.0314, -0.0147, -0.0136]]], grad_fn=<StackBackward>)"),
        "shape": (5, 1, 1, 3),
        "values": {(0, 0, 0, 0): 0.0374, (0, 0, 0, 2): -0.0240, (4, 0, 0, 0): -0.0096, (4, 0, 0, 2): -0.0440},
    },
}

# The post's 15 printed outputs of experiment 2 (idx 0 to 4), as printed.
EXPERIMENT_2_PRINTED = [
    ["0.0374", "-0.0085", "-0.0240"],
    ["0.0073", "-0.0110", "-0.0296"],
    ["-0.0314", "-0.0147", "-0.0136"],
    ["-0.0458", "-0.0118", "-0.0254"],
    ["-0.0096", "-0.0281", "-0.0440"],
]

ALL_BLOCKS = [("experiment 1", EXPERIMENT_1, BLOCKS_1), ("experiment 2", EXPERIMENT_2, BLOCKS_2)]
BLOCK_CASES = [
    pytest.param(table[name], expected, id=f"{which}-{name}")
    for which, table, blocks in ALL_BLOCKS
    for name, expected in blocks.items()
]


def test_tables_hold_exactly_the_blocks_read_off_the_page():
    assert list(EXPERIMENT_1) == list(BLOCKS_1)
    assert list(EXPERIMENT_2) == list(BLOCKS_2)
    for table in (EXPERIMENT_1, EXPERIMENT_2):
        for name, block in table.items():
            assert isinstance(block, Printed)
            assert block.name == name


@pytest.mark.parametrize(("block", "expected"), BLOCK_CASES)
def test_block_lines_point_at_the_block_on_the_page(block: Printed, expected: dict):
    first, last = expected["lines"]
    assert block.lines == (first, last)
    text_lines = block.text.splitlines()
    assert len(text_lines) == last - first + 1
    assert text_lines[0] == expected["first"]
    assert text_lines[-1] == expected["last"]
    page_line, content = expected["middle"]
    assert text_lines[page_line - first].startswith(content)


@pytest.mark.parametrize(("block", "expected"), BLOCK_CASES)
def test_block_value_matches_the_printed_numbers(block: Printed, expected: dict):
    value = block.value
    assert value.dtype == torch.float64
    assert tuple(value.shape) == expected["shape"]
    for index, printed in expected["values"].items():
        assert value[index].item() == printed, index


def test_printed_shapes_of_every_block():
    assert {name: tuple(b.value.shape) for name, b in EXPERIMENT_1.items()} == {
        "weight_ih_l0": (20, 4),
        "weight_hh_l0": (20, 5),
        "bias_ih_l0": (20,),
        "bias_hh_l0": (20,),
        "out": (2, 3, 5),
        "r_out_t0": (2, 1, 5),
        "r_out_t1": (2, 1, 5),
        "r_out_t2": (2, 1, 5),
        "last_out": (2, 1, 5),
    }
    assert {name: tuple(b.value.shape) for name, b in EXPERIMENT_2.items()} == {
        "weight_ih_l0": (12, 3),
        "weight_hh_l0": (12, 3),
        "weight_ih_l1": (12, 3),
        "weight_hh_l1": (12, 3),
        "inputs": (5, 1, 3),
        "outputs": (5, 1, 1, 3),
    }


def test_whole_rows_as_printed():
    assert EXPERIMENT_1["weight_ih_l0"].value[0].tolist() == [0.0449, 0.0707, -0.0393, 0.0395]
    assert EXPERIMENT_1["weight_hh_l0"].value[-1].tolist() == [-0.0605, -0.0516, 0.0641, -0.0779, 0.0699]
    assert EXPERIMENT_1["out"].value[1, 1].tolist() == [0.0764, -0.0191, 0.0171, -0.0125, -0.0333]
    assert EXPERIMENT_2["weight_ih_l1"].value[8].tolist() == [-2.0928e-01, 3.4973e-01, 3.5858e-04]
    assert EXPERIMENT_2["inputs"].value[:, 0].tolist() == [
        [1.5381, 1.4673, 1.5951],
        [-1.5279, 1.0156, -0.2020],
        [-1.2865, 0.8231, -0.6101],
        [-1.2960, -0.9434, 0.6684],
        [1.1628, -0.3229, 1.8782],
    ]
    assert EXPERIMENT_2["outputs"].value.reshape(5, 3).tolist() == [
        [float(s) for s in row] for row in EXPERIMENT_2_PRINTED
    ]


def test_values_of_a_several_tensor_block():
    inputs = EXPERIMENT_2["inputs"].values
    assert len(inputs) == 5
    assert [tuple(t.shape) for t in inputs] == [(1, 3)] * 5
    assert inputs[2].tolist() == [[-1.2865, 0.8231, -0.6101]]
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
        ValueError, match=r"^Expected bias to be one of \('zero', 'default'\), but got 'random' instead\.$"
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
    assert outputs[:, 0].tolist() == [[float(s) for s in row] for row in EXPERIMENT_2_PRINTED]


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
    assert result.printed.tolist() == [[[float(s) for s in row]] for row in EXPERIMENT_2_PRINTED]
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
    assert len(lines) == 16
    assert lines[0].split() == ["position", "post", "num_layers=2", "stacked", "|diff|"]
    rows = lines[1:]
    positions = [row[:12].strip() for row in rows]
    assert positions == [f"({t}, 0, {k})" for t in range(5) for k in range(3)]
    assert [row[12:21].strip() for row in rows] == [s for row in EXPERIMENT_2_PRINTED for s in row]
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
    assert len(result.table().splitlines()) == 31
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
