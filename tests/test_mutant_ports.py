"""mutants.ports: every porting bug is caught by its framework's claims at every tolerance, and tried nowhere else."""

from __future__ import annotations

import pytest
import torch
from torch import nn

from lstm_demo.claims import CLAIMS
from lstm_demo.mutants import CONTROL, MUTANTS, TARGETS, counting, run
from lstm_demo.mutants.catalogue import PORT_MUTANTS, PortMutant
from lstm_demo.tolerances import site_tolerances

PORT_CLAIMS = ["onnx", "onnx-export", "keras", "flax"]
CLAIMS_OF = {
    "onnx-torch-gate-order": {"onnx", "onnx-export"},
    "onnx-one-bias": {"onnx", "onnx-export"},
    "keras-one-bias": {"keras"},
    "keras-reshape": {"keras"},
    "keras-hard-sigmoid": {"keras"},
    "keras-backward-not-flipped": {"keras"},
    "flax-carry-h-c": {"flax"},
}


@pytest.fixture(scope="module")
def results():
    return run(
        devices=["cpu"], dtypes=[torch.float32, torch.float64], mutants=list(PORT_MUTANTS), checks=PORT_CLAIMS
    )


def test_the_porting_mutants_are_registered():
    assert set(PORT_MUTANTS) == set(CLAIMS_OF)
    assert all(MUTANTS[name] is m for name, m in PORT_MUTANTS.items())
    assert all(isinstance(m, PortMutant) for m in PORT_MUTANTS.values())
    assert set(PORT_CLAIMS) <= set(CLAIMS)


@pytest.mark.parametrize("name", list(CLAIMS_OF))
def test_each_porting_mutant_is_caught_by_its_claims_at_every_tolerance(results, name):
    rows = [r for r in results if r.mutant == name]
    assert {r.claim for r in rows} == CLAIMS_OF[name]
    assert {r.dtype for r in rows} == {"float32", "float64"}
    for claim in CLAIMS_OF[name]:
        found = {r.tolerance for r in rows if r.claim == claim}
        assert found == set(site_tolerances()), claim  # cpu and gpu of both dtypes, and the post's
    missed = [(r.claim, r.dtype, r.tolerance, r.ratio) for r in rows if not r.caught]
    assert missed == []
    assert all(r.ratio > 1 and r.max_abs_diff > 0 for r in rows)


def test_the_porting_claims_controls_pass(results):
    controls = [r for r in results if r.mutant == CONTROL]
    assert {r.claim for r in controls} == set(PORT_CLAIMS)
    assert [r for r in controls if r.caught] == []
    assert results.escapes == []
    assert results.skipped == []


@pytest.mark.parametrize("name", list(CLAIMS_OF))
def test_each_porting_mutant_is_tried_on_its_frameworks_claims_only(name):
    mutant = PORT_MUTANTS[name]
    assert mutant.claims == CLAIMS_OF[name]
    assert {t for t, target in TARGETS.items() if target.tries(mutant)} == CLAIMS_OF[name]


def test_the_equation_mutants_are_still_tried_on_the_porting_claims():
    assert TARGETS["keras"].tries(MUTANTS["gate-order"])
    assert TARGETS["onnx"].tries(MUTANTS["gru-reset-before"])


# --- where the mistake cannot be made, the module's own result ---------------------------------


def own_result(mutant, module, x, hx=None) -> tuple[bool, list[str]]:
    """Whether ``mutant`` returned ``module(x, hx)`` bit for bit, and what it counted."""
    with counting() as applied, torch.no_grad():
        got = mutant(module, x, hx)
        expected = module(x, hx)
    flat = lambda r: [r[0], *(r[1] if isinstance(r[1], tuple) else (r[1],))]
    same = all(torch.equal(a, b) for a, b in zip(flat(got), flat(expected), strict=True))
    return same, list(applied)


@pytest.mark.parametrize("name", ["onnx-one-bias", "keras-one-bias"])
def test_one_bias_does_not_apply_without_bias_hh(name):
    x = torch.randn(5, 2, 3)
    assert own_result(PORT_MUTANTS[name], nn.LSTM(3, 4, bias=False), x) == (True, [])
    zeroed = nn.LSTM(3, 4)
    with torch.no_grad():
        zeroed.bias_hh_l0.zero_()
    assert own_result(PORT_MUTANTS[name], zeroed, x) == (True, [])
    same, applied = own_result(PORT_MUTANTS[name], nn.LSTM(3, 4), x)
    assert (same, applied) == (False, [name])


def test_backward_not_flipped_applies_to_bidirectional_modules_only():
    mutant = PORT_MUTANTS["keras-backward-not-flipped"]
    x = torch.randn(5, 2, 3)
    assert own_result(mutant, nn.LSTM(3, 4), x) == (True, [])
    assert own_result(mutant, nn.GRU(3, 4, num_layers=2), x) == (True, [])
    same, applied = own_result(mutant, nn.LSTM(3, 4, bidirectional=True), x)
    assert (same, applied) == (False, ["keras-backward-not-flipped"])


def test_the_flax_mutant_applies_to_an_lstm_only():
    mutant = PORT_MUTANTS["flax-carry-h-c"]
    x = torch.randn(5, 2, 3)
    assert own_result(mutant, nn.GRU(3, 4), x) == (True, [])
    assert own_result(mutant, nn.RNN(3, 4), x) == (True, [])
    hx = (torch.randn(1, 2, 4), torch.randn(1, 2, 4))
    same, applied = own_result(mutant, nn.LSTM(3, 4), x, hx)
    assert (same, applied) == (False, ["flax-carry-h-c"])


@pytest.mark.parametrize("name", ["onnx-torch-gate-order", "keras-reshape", "keras-hard-sigmoid"])
def test_the_other_porting_mutants_make_their_mistake_on_an_lstm_and_a_gru(name):
    x = torch.randn(5, 2, 3)
    for module in (nn.LSTM(3, 4), nn.GRU(3, 4)):
        same, applied = own_result(PORT_MUTANTS[name], module, x)
        assert (same, applied) == (False, [name]), type(module).__name__
    assert own_result(PORT_MUTANTS[name], nn.RNN(3, 4), x) == (True, [])
