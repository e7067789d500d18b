"""mutants.runner and mutants.smallest: every wrong LSTM is caught by every claim it is tried on, on the CPU."""

from __future__ import annotations

import pytest
import torch

from lstm_demo.claims import CLAIMS
from lstm_demo.mutants import (
    CONTROL,
    MUTANTS,
    RESOLUTION,
    TARGETS,
    Equations,
    Mutant,
    OffsetMutant,
    Result,
    Results,
    bisectable,
    counting,
    run,
    smallest_caught,
    tolerances_for,
)
from lstm_demo.tolerances import site_tolerances

CPU = torch.device("cpu")
GRU_CLAIMS = {"gru", "gru-bias", "cho-gru"}
RNN_CLAIMS = {"rnn"}
LSTM_CLAIMS = set(CLAIMS) - GRU_CLAIMS - RNN_CLAIMS
POST = {"post-experiment-1", "post-experiment-2"}
PORT_CLAIMS = {"onnx", "onnx-export", "keras", "flax"}


@pytest.fixture(scope="module")
def results():
    return run(devices=["cpu"])


@pytest.mark.parametrize("mutant", list(MUTANTS))
def test_every_mutant_is_caught_at_every_tolerance(results, mutant):
    rows = [r for r in results if r.mutant == mutant]
    assert rows, mutant
    missed = [(r.claim, r.dtype, r.tolerance, r.ratio) for r in rows if not r.caught]
    assert missed == []
    assert all(r.ratio > 1 and r.max_abs_diff > 0 for r in rows)
    assert {r.tolerance for r in rows} == set(site_tolerances())  # both dtypes' and the post's


def test_every_control_passes_and_every_claim_has_a_mutation_check(results):
    controls = [r for r in results if r.mutant == CONTROL]
    assert {r.claim for r in controls} == set(TARGETS) == {*CLAIMS, *POST}
    assert [r for r in controls if r.caught] == []
    assert results.escapes == []
    assert {r.claim for r in results.tried} == set(TARGETS)


@pytest.mark.parametrize("dtype", [torch.float32, torch.float64], ids=["float32", "float64"])
def test_the_control_is_the_claims_own_run(results, dtype):
    name = str(dtype).removeprefix("torch.")
    controls = {r.claim: r.max_abs_diff for r in results if r.mutant == CONTROL and r.dtype == name}
    for claim, registered in CLAIMS.items():
        assert controls[claim] == registered("cpu", dtype).max_abs_diff, claim  # bit for bit


def test_which_mutants_are_tried_where(results):
    ran: dict[str, set[str]] = {}
    for r in results.tried:
        ran.setdefault(r.mutant, set()).add(r.claim)
    # Only the place-finding mistakes can show in last-output, which compares a run with itself.
    plain = LSTM_CLAIMS - {"last-output"} | POST
    for mutant in ("gate-order", "hard-sigmoid", "h-not-carried", "c-not-carried", "no-tanh-on-c"):
        assert ran[mutant] == plain, mutant
    assert ran["off-by-one-step"] == LSTM_CLAIMS | POST
    assert ran["one-bias"] == plain - {"post-experiment-2"}  # its biases are zero
    # The porting claims run bidirectional modules too (onnx-export's only module is one).
    assert ran["backward-not-flipped"] == {
        "scratch", "last-output", "bidirectional", "padded-unpacked", *PORT_CLAIMS,
    }  # fmt: skip
    # the two-layer models with input_size == hidden_size
    assert ran["layer-2-gets-input"] == {"post-layers", "post-experiment-2"}
    assert ran["h0-batch-first"] == {"state-layout"}
    # Counted where a call without a state follows another call on the same module.
    assert ran["stateful"] == {
        "chunked", "no-hidden-memory", "truncated-bptt", "dropout", "flatten", "olah-notation",
        "repeatable", "post-experiment-1", "post-experiment-2",
    }  # fmt: skip
    assert ran["padding-as-steps"] == ran["h_n-sorted"] == {"packed"}
    # Counted where autograd records the call.
    assert ran["state-detached"] == {"chunked", "truncated-bptt", "gradients", "eval-backward", "repeatable"}
    assert ran["projection-before-tanh"] == {"projection"}
    assert ran["dropout-in-eval"] == {"dropout"}
    assert ran["stale-weights"] == {"flatten"}  # the one claim that replaces a module's weights
    # The batch_first modules; the post's reproductions compare outputs only.
    # The porting claims' batch_first bidirectional LSTM too (onnx-export's module is time-major).
    assert ran["h_n-batch-first"] == {"post-stepwise", "batch-first", "state-layout", "onnx", "keras", "flax"}
    # ONNX's and Keras's claims run a GRU too; Flax's port is an LSTM's only.
    assert ran["gru-reset-before"] == ran["gru-b_hn-outside-r"] == GRU_CLAIMS | {"onnx", "keras"}
    assert ran["rnn-nonlinearity"] == RNN_CLAIMS


def test_each_row_uses_the_tolerances_of_its_dtype(results):
    for r in results:
        if r.claim in POST:
            assert r.tolerance == "post printed"
        else:
            assert r.tolerance in {f"cpu {r.dtype}", f"gpu {r.dtype}", "post printed"}


def test_a_mutant_that_escapes_is_reported(results):
    fake = Results([*results[:3], Result("x", "scratch", "cpu", "float32", "cpu float32", False, 0.0, 0.0)])
    assert fake.escapes == fake[3:]
    assert str(fake).splitlines()[-1].split() == [
        "x", "scratch", "ESCAPES:", "cpu", "float32", "at", "cpu", "float32",
    ]  # fmt: skip


def test_the_table_has_one_line_per_mutant_and_claim(results):
    lines = str(results).splitlines()
    assert lines[0].split() == ["mutant", "claim", "verdict"]
    assert len(lines) == 1 + len({(r.mutant, r.claim) for r in results})
    assert all("caught (" in line or "passes (<=" in line for line in lines[1:])
    html = results._repr_html_()
    assert html.count("<tr") == len(lines)  # a header row and one row per line
    assert f"{len(results.tried)} mutant runs caught" in html


def test_json_document(results):
    data = results.as_json()
    assert [t["name"] for t in data["tolerances"]] == list(site_tolerances())
    assert set(data["results"][0]) == {
        "mutant", "claim", "device", "dtype", "tolerance", "caught", "max_abs_diff", "ratio",
    }  # fmt: skip
    assert len(data["results"]) == len(results)


def test_a_side_with_other_shapes_is_caught_not_a_crash():
    def transposed_state(module, input, hx=None):
        output, (h_n, c_n) = module(input, hx)
        return output, (h_n.transpose(0, 1), c_n.transpose(0, 1))

    outcome = TARGETS["batch-first"].run(CPU, torch.float32, transposed_state)
    assert outcome.max_abs_diff == float("inf")
    assert outcome.refused.startswith("Expected tensors of the same shape, but got actual (3, 2, 4)")
    with pytest.raises(ValueError, match=r"^Expected tensors of the same shape"):
        CLAIMS["batch-first"](forward=transposed_state)  # the claim itself refuses, as a page would


def test_a_correct_mutant_escapes_every_claim_it_is_tried_on():
    correct = Mutant("correct", "no mistake at all", Equations())
    with counting() as applied:
        outcome = TARGETS["scratch"].run(CPU, torch.float64, correct)
    assert applied == ["correct"]
    assert outcome.max_abs_diff < 1e-12
    assert outcome.max_abs_diff == CLAIMS["scratch"]("cpu", torch.float64, forward=correct).max_abs_diff


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


@pytest.mark.parametrize(
    ("kwargs", "error", "match"),
    [
        ({"mutants": ["nope"]}, ValueError, r"^Expected mutant names from gate-order, .*, but got nope instead\.$"),
        ({"checks": ["nope"]}, ValueError, r"^Expected check names from post-stepwise, .*, but got nope instead\.$"),
        ({"dtypes": [torch.float16]}, TypeError, r"^Expected dtypes torch.float32 or torch.float64, but got torch.float16"),
        ({"devices": []}, ValueError, r"^Expected at least one device and one dtype, but got 0 and 2 instead\.$"),
        ({"devices": ["cuda:7"]}, ValueError, r"^Expected one of this machine's devices"),
    ],
    ids=["mutant", "check", "dtype", "no-devices", "device"],
)  # fmt: skip
def test_run_bad_arguments(kwargs, error, match):
    with pytest.raises(error, match=match):
        run(**kwargs)


def test_tolerances_for_a_claim():
    assert tolerances_for(TARGETS["scratch"], torch.float32) == ["cpu float32", "gpu float32", "post printed"]


# --- the smallest bug each claim catches ---------------------------------------------------------


@pytest.mark.parametrize("check", ["post-stepwise", "cho-gru", "post-experiment-2"])
def test_smallest_caught_brackets_the_threshold(check):
    found = smallest_caught(check)
    assert [s.tolerance for s in found] == tolerances_for(TARGETS[check], torch.float32)
    for s in found:
        assert 0 < s.not_caught < s.offset < 1
        assert s.offset / s.not_caught <= 10**RESOLUTION * (1 + 1e-12)
        tol = site_tolerances()[s.tolerance]
        for offset, caught in ((s.offset, True), (s.not_caught, False)):
            outcome = TARGETS[check].run(CPU, torch.float32, OffsetMutant(offset))
            failures = sum(
                not torch.allclose(a.double(), e.double(), rtol=tol.rtol, atol=tol.atol)
                for a, e in outcome.compared
            )
            assert (failures > 0) is caught, (s, offset)


def test_smallest_caught_tighter_tolerances_catch_smaller_bugs():
    found = {s.tolerance: s.offset for s in smallest_caught("scratch", dtype=torch.float64)}
    assert found["gpu float64"] < found["cpu float64"] < found["post printed"]
    chosen = smallest_caught("scratch", dtype=torch.float64, tolerances=["gpu float64"])
    assert [(s.tolerance, s.offset) for s in chosen] == [("gpu float64", found["gpu float64"])]


@pytest.mark.parametrize(
    ("kwargs", "error", "match"),
    [
        ({"check": "nope"}, ValueError, r"^Expected a check name from post-stepwise, .*, but got 'nope' instead\.$"),
        ({"check": "rnn"}, ValueError, r"^Expected a check with a forget or update gate, but got 'rnn' instead\.$"),
        (
            {"check": "last-output"},
            ValueError,
            r"^Expected a check that compares with an independent side, but got 'last-output' instead\.$",
        ),
        ({"check": "scratch", "dtype": torch.float16}, TypeError, r"^Expected dtypes torch.float32 or torch.float64"),
        ({"check": "scratch", "device": "cuda:7"}, ValueError, r"^Expected one of this machine's devices"),
        (
            {"check": "scratch", "tolerances": ["cpu float64"]},
            ValueError,
            r"^Expected tolerance names from cpu float32, gpu float32, post printed, but got cpu float64 instead\.$",
        ),
    ],
    ids=["check", "no-gate", "self-compared", "dtype", "device", "tolerance"],
)  # fmt: skip
def test_smallest_caught_bad_arguments(kwargs, error, match):
    check = kwargs.pop("check")
    with pytest.raises(error, match=match):
        smallest_caught(check, **kwargs)


def test_bisectable_is_every_claim_with_a_gate_to_move_and_an_independent_side():
    assert bisectable() == [n for n in TARGETS if n not in {"rnn", "last-output"}]
