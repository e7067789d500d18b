"""post.forensics: the seed search, the rounding budget, and what experiment 1's recovery detects."""

from __future__ import annotations

import re

import pytest
import torch
from torch import nn

from lstm_demo.post import (
    EXPERIMENT_1,
    PRINTED_TOLERANCE,
    RoundingBudget,
    experiment_1_detection,
    experiment_1_lstm,
    experiment_1_outputs,
    experiment_2_inputs,
    experiment_2_lstm,
    recovered_experiment_1_input,
    rounding_budget,
    search_seeds,
)
from lstm_demo.recover import invert_step

pytestmark = pytest.mark.usefixtures("one_thread")


WEIGHTS_2 = ("weight_ih_l0", "weight_hh_l0", "weight_ih_l1", "weight_hh_l1")


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
