"""post.reproduction: the post's printed outputs next to a live run's."""

from __future__ import annotations

import re

import pytest
import torch

from lstm_demo.post import (
    PRINTED_TOLERANCE,
    Reproduction,
    experiment_2_outputs,
    reproduce_experiment_1,
    reproduce_experiment_2,
)

pytestmark = pytest.mark.usefixtures("one_thread")


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
