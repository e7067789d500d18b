"""claims: the @claim decorator, every registered claim's values, the module claims, prove and ClaimResult."""

from __future__ import annotations

import math
import re

import pytest
import torch
from cases import CLASSES
from torch import nn

from lstm_demo import claims
from lstm_demo._copying import copy_module
from lstm_demo.biases import OPEN, set_bias
from lstm_demo.claims import (
    CLAIMS,
    ClaimResult,
    Place,
    claim,
    claim_result,
    move_bias_hh,
    num_layers_vs_stacked,
    on_each_device,
    prove,
    run_in_chunks,
    whole_vs_stepwise,
)
from lstm_demo.notations import olah_lstm
from lstm_demo.precision import describe_flags, full_precision, precision_flags
from lstm_demo.scratch import scratch_lstm
from lstm_demo.tolerances import tolerance_for

CPU = torch.device("cpu")
DTYPES = [pytest.param(torch.float32, id="float32"), pytest.param(torch.float64, id="float64")]
TOLERANCES = {torch.float32: (1.3e-6, 1e-5), torch.float64: (1e-7, 1e-7)}
MODULE_CLAIMS = [
    pytest.param(whole_vs_stepwise, id="whole_vs_stepwise"),
    pytest.param(num_layers_vs_stacked, id="num_layers_vs_stacked"),
]


# --- the decorator ---------------------------------------------------------------------------------


@pytest.fixture
def toy():
    """A claim registered for one test: ``x + x`` equals ``2 * x``, with what it saw in ``seen``."""
    seen: dict[str, object] = {}

    @claim("toy", "x + x equals 2 * x, whatever x is.")
    def toy_claim(at: Place):
        """A toy claim."""
        seen["place"] = at
        seen["flags"] = describe_flags()
        x = at.randn(4)
        return {"x + x": (x + x, 2 * x)}, (f"x[0] = {float(x[0]):.3f}",)

    toy_claim.seen = seen
    yield toy_claim
    del CLAIMS["toy"]


def test_the_decorator_registers_the_claim_by_name(toy):
    assert CLAIMS["toy"] is toy
    assert (toy.name, toy.sentence) == ("toy", "x + x equals 2 * x, whatever x is.")
    assert toy.__name__ == "toy_claim"
    assert toy.__doc__.startswith("A toy claim.\n\n    Examples\n")  # added: the claim's own doctest
    assert ">>> toy_claim().holds\n    True" in toy.__doc__


@pytest.mark.parametrize("dtype", DTYPES)
def test_the_decorator_builds_the_result(toy, dtype):
    result = toy("cpu", dtype, seed=3)
    assert isinstance(result, ClaimResult)
    assert (result.claim, result.device, result.dtype) == (toy.sentence, CPU, dtype)
    assert (result.tolerance.rtol, result.tolerance.atol) == TOLERANCES[dtype]
    assert list(result.comparisons) == ["x + x"]
    assert result.bitwise is True
    x = torch.randn(4, generator=torch.Generator().manual_seed(4), dtype=torch.float64).to(dtype)
    assert torch.equal(result.reference[0], 2 * x)
    assert result.notes == (f"x[0] = {float(x[0]):.3f}",)
    assert toy.seen["place"] == Place(CPU, dtype, 3)


def test_the_decorator_defaults_to_cpu_float32_seed_0(toy):
    assert toy().reference[0].dtype == torch.float32
    assert toy.seen["place"] == Place(CPU, torch.float32, 0)


def test_the_decorator_runs_the_claim_with_tf32_off(toy):
    with full_precision():
        tf32_off = describe_flags()
    with precision_flags(cudnn_tf32=True, matmul_tf32=True):
        tf32_on = describe_flags()
        toy()
        assert describe_flags() == tf32_on
    assert tf32_on != tf32_off
    assert toy.seen["flags"] == tf32_off


def test_a_claim_name_is_registered_once(toy):
    with pytest.raises(ValueError, match=r"^Expected a new claim name, but got 'toy' instead"):
        claim("toy", "Another sentence.")


@pytest.mark.parametrize(
    ("dtype", "shown"),
    [
        pytest.param(torch.float16, "torch.float16", id="float16"),
        pytest.param(torch.int64, "torch.int64", id="int64"),
        pytest.param("float32", "'float32'", id="str"),
    ],
)
def test_the_decorator_rejects_a_dtype(toy, dtype, shown):
    with pytest.raises(
        TypeError,
        match=rf"^Expected dtype torch\.float32 or torch\.float64, but got {re.escape(shown)} instead\.$",
    ):
        toy("cpu", dtype)
    assert "place" not in toy.seen  # refused before the claim ran


@pytest.mark.parametrize(
    ("device", "error", "message"),
    [
        pytest.param("cuda:0", ValueError, r"^Expected one of this machine's devices \(cpu\)", id="absent"),
        pytest.param("nonsense", ValueError, r"^Expected a device name such as 'cpu'", id="no-device"),
        pytest.param(
            3, TypeError, r"^Expected device to be a string or torch\.device, but got int", id="int"
        ),
    ],
)
def test_the_decorator_rejects_a_device(toy, monkeypatch, device, error, message):
    monkeypatch.setattr(torch.cuda, "is_available", lambda: False)
    monkeypatch.setattr(torch.backends.mps, "is_available", lambda: False)
    with pytest.raises(error, match=message):
        toy(device)
    assert "place" not in toy.seen


def test_float64_on_mps_is_refused(toy, monkeypatch):
    monkeypatch.setattr(torch.backends.mps, "is_available", lambda: True)
    with pytest.raises(ValueError, match=r"^Expected dtype torch\.float32 on mps, which has no float64"):
        toy("mps", torch.float64)


def test_place_draws_from_its_seed_and_leaves_the_global_random_state_alone():
    torch.manual_seed(1234)
    at = Place(CPU, torch.float64, seed=5)
    lstm = at.lstm(3, 4)
    x = at.randn(2, 3, offset=2)
    after = torch.rand(5)
    torch.manual_seed(1234)
    assert torch.equal(after, torch.rand(5))
    torch.manual_seed(5)
    assert torch.equal(lstm.weight_ih_l0, nn.LSTM(3, 4).weight_ih_l0.double())
    assert torch.equal(x, torch.randn(2, 3, generator=torch.Generator().manual_seed(7), dtype=torch.float64))


# --- every registered claim: its values on the CPU ----------------------------------------------

PACKED_KEYS = [
    f"{order}: {what}"
    for order in ("sorted", "unsorted")
    for what in ("output, real steps", "output, padding is zero", "h_n", "c_n")
]
LSTM_PORT_CASES = ["1 layer", "2 layers, bidirectional, batch_first, (h0, c0)", "bias=False"]
GRU_PORT_CASE = "GRU, 2 layers, bidirectional, h0"
#: Every porting claim first runs its side on the port cases: outputs and states, a GRU's without c_n.
PORT_KEYS = [f"{case}: {what}" for case in LSTM_PORT_CASES for what in ("output", "h_n", "c_n")]
PORT_KEYS_WITH_GRU = [*PORT_KEYS, f"{GRU_PORT_CASE}: output", f"{GRU_PORT_CASE}: h_n"]
POST_KEYS = [
    "one step at a time: output",
    "one step at a time: h_n",
    "stacked layers: output",
    "stacked layers: h_n",
]
#: What each claim compares: a claim registered without an entry here has no test.
EXPECTED_KEYS = {
    "post-stepwise": ["output", "h_n", "c_n"],
    "post-layers": ["output", "h_n", "c_n"],
    "scratch": ["output", "h_n", "c_n"],
    "lstmcell-loop": ["output", "h_n", "c_n"],
    "last-output": [
        "one direction: output[-1] vs h_n[-1]",
        "forward: output[-1, :, :H] vs h_n[-2]",
        "backward: output[0, :, H:] vs h_n[-1]",
    ],
    "bidirectional": ["output", "h_n[0] (forward)", "h_n[1] (backward)", "c_n"],
    "batch-first": ["output (transposed)", "h_n", "c_n"],
    "packed": PACKED_KEYS,
    "chunked": [
        "output",
        "h_n",
        "c_n",
        "output, detach() between chunks",
        "h_n, detach() between chunks",
        "c_n, detach() between chunks",
        "d output[-1] / d input",
        "with detach(): gradient before the last chunk",
        "with detach(): gradient in the last chunk",
    ],
    "state-layout": [
        "output (transposed)",
        "h_n",
        "c_n",
        "unbatched: output",
        "unbatched: h_n",
        "unbatched: c_n",
    ],
    "no-hidden-memory": [
        f"{how}: {what}"
        for how in ("second call, no state", "(h, c) passed on")
        for what in ("output", "h_n", "c_n")
    ],
    "truncated-bptt": [
        "d loss / d chunk 2 input",
        *(f"d loss / d {kind}_l0" for kind in ("weight_ih", "weight_hh", "bias_ih", "bias_hh")),
        "full backprop: d loss / d chunk 2 input",
    ],
    "padded-unpacked": ["output", "h_n", "c_n", "forward direction, real steps: output"],
    "gradients": ["d loss / d input"]
    + [
        f"d loss / d {kind}_l{layer}"
        for layer in (0, 1)
        for kind in ("weight_ih", "weight_hh", "bias_ih", "bias_hh")
    ],
    "dropout": ["eval(): output", "eval(): h_n", "train(), same seed: output", "train(), same seed: h_n"],
    "projection": ["output", "h_n", "c_n"],
    "gru": POST_KEYS,
    "rnn": [f"{n}, {k}" for n in ("tanh", "relu") for k in POST_KEYS],
    "flatten": ["output, weights as built", "output, weights replaced", "output, after flatten_parameters()"],
    "two-biases": [
        "output",
        "h_n",
        "c_n",
        "forget 1 + 1 vs 2 + 0: output",
    ],
    "no-peepholes": ["output", "h_n", "c_n", "c_1(2 c_0) - c_1(c_0) vs c_1(c_0) - c_1(0)"],
    "olah-notation": [f"{who}: {k}" for who in ("Olah", "d2l") for k in ("output", "h_n", "c_n")],
    "row-vector": ["output", "h_n", "c_n"],
    "gru-bias": [
        "output",
        "h_n",
        "b_hn moved vs b_hn outside r: output",
        "b_hn moved vs b_hn outside r: h_n",
        "r held at 1, b_hn moved: output",
        "r held at 1, b_hn moved: h_n",
    ],
    "cho-gru": ["output", "h_n", "r held at 1, Cho's form: output", "r held at 1, Cho's form: h_n"],
    "eval-backward": [
        f"gradient of {n}"
        for n in (
            "input",
            *(f"{w}_l{k}" for k in range(2) for w in ("weight_ih", "weight_hh", "bias_ih", "bias_hh")),
        )
    ],
    "repeatable": [
        "output",
        "h_n",
        "c_n",
        *(
            f"gradient of {n}"
            for n in (
                "input",
                *(f"{w}_l{k}" for k in range(3) for w in ("weight_ih", "weight_hh", "bias_ih", "bias_hh")),
            )
        ),
    ],
    "onnx": [
        *PORT_KEYS_WITH_GRU,
        *(
            f"from ONNX, {direction}: {what}"
            for direction in ("forward", "bidirectional")
            for what in ("output", "h_n", "c_n", *(f"onnx_weights gives {k} back" for k in "WRB"))
        ),
    ],
    "onnx-export": [
        "run: output",
        "run: h_n",
        "run: c_n",
        *(f"layer {k}: exported {w}" for k in range(2) for w in "WRB"),
    ],
    "keras": [
        *PORT_KEYS_WITH_GRU,
        *(
            f"from Keras, LSTM{b}: {what}"
            for b in ("", ", bidirectional")
            for what in ("output", "h_n", "c_n")
        ),
        "from Keras, GRU: output",
        "from Keras, GRU: h_n",
    ],
    "flax": [
        *PORT_KEYS,
        *(
            f"from Flax, {d}: {what}"
            for d in ("forward", "bidirectional")
            for what in ("output", "h_n", "c_n")
        ),
    ],
}


def test_every_registered_claim_is_tested_here():
    assert sorted(CLAIMS) == sorted(EXPECTED_KEYS)


@pytest.mark.parametrize("dtype", DTYPES)
@pytest.mark.parametrize("name", list(EXPECTED_KEYS))
def test_claim_holds_on_cpu(name, dtype):
    result = CLAIMS[name]("cpu", dtype)
    assert result.holds is True, str(result)
    assert list(result.comparisons) == EXPECTED_KEYS[name]
    assert all(c.numel > 0 and c.dtype == dtype for c in result.comparisons.values())
    assert len(result.reference) == len(result.comparisons)
    other = CLAIMS[name]("cpu", dtype, seed=1)
    assert other.holds is True
    assert not all(torch.equal(a, b) for a, b in zip(result.reference, other.reference, strict=True))


def test_last_output_reports_how_far_the_wrong_row_is():
    (note,) = claims.last_output().notes
    match = re.fullmatch(r"bidirectional: output\[-1, :, H:\] is not h_n\[-1\]; max abs diff (\S+)", note)
    assert match, note
    assert float(match[1]) > 0.01


def test_packed_note_lists_the_padded_rows_gap():
    result = claims.packed()
    (note,) = result.notes
    match = re.fullmatch(
        r"padded output\[-1\] vs h_n\[-1\], per sequence of lengths 6, 4, 2: (\S+), (\S+), (\S+) .*", note
    )
    assert match, note
    # The full-length sequence's output[-1] is h_n[-1]; the others' output[-1] is zero padding.
    assert match[1] == "0"
    assert float(match[2]) > 0.01
    assert float(match[3]) > 0.01
    assert result.comparisons["sorted: output, padding is zero"].equal is True
    assert result.comparisons["sorted: output, padding is zero"].numel == 6 * 4  # 6 padded rows
    assert result.comparisons["sorted: output, real steps"].numel == 12 * 4


def test_chunked_detach_stops_the_gradient():
    result = claims.chunked()
    before = result.comparisons["with detach(): gradient before the last chunk"]
    assert before.equal is True
    assert before.numel == 8 * 2 * 3  # 8 steps, batch 2, 3 features
    (note,) = result.notes
    match = re.fullmatch(r"without detach\(\), the gradient reaches step 0: max \|grad\[:8\]\| = (\S+)", note)
    assert match, note
    assert float(match[1]) > 0


def test_run_in_chunks_carries_the_state():
    lstm = nn.LSTM(3, 4)
    x = torch.randn(12, 2, 3)
    whole, _, grad = run_in_chunks(lstm, x)
    carried, (h_c, c_c), grad_c = run_in_chunks(lstm, x, 5)  # chunks of 5, 5 and 2
    expected, (h_n, c_n) = lstm(x)
    torch.testing.assert_close(whole, expected.detach())
    torch.testing.assert_close(carried, expected.detach())
    torch.testing.assert_close((h_c, c_c), (h_n.detach(), c_n.detach()))
    torch.testing.assert_close(grad_c, grad)
    assert grad.shape == x.shape
    assert x.grad is None  # the caller's input is not touched


# --- state and padding: state-layout, no-hidden-memory, truncated-bptt, padded-unpacked -------------


def test_state_layout_a_batch_first_h0_fails_or_runs_silently():
    result = claims.state_layout()
    assert result.comparisons["h_n"].numel == 3 * 3 * 4  # num_layers 3, batch 3, hidden 4
    assert result.comparisons["unbatched: h_n"].numel == 3 * 4
    (note,) = result.notes
    match = re.fullmatch(
        r"h_0 laid out batch-first \(transposed\) runs without an error where num_layers == batch "
        r"== 3; its output is off by up to (\S+)",
        note,
    )
    assert match, note
    assert float(match[1]) > 0.01
    # Where num_layers != batch, PyTorch refuses the batch-first layout.
    lstm = nn.LSTM(3, 4, num_layers=2, batch_first=True)
    with pytest.raises(RuntimeError, match=re.escape("Expected hidden[0] size (2, 3, 4), got [3, 2, 4]")):
        lstm(torch.randn(3, 5, 3), (torch.zeros(3, 2, 4), torch.zeros(3, 2, 4)))


def test_no_hidden_memory_measures_two_calls_against_one():
    result = claims.no_hidden_memory()
    assert result.comparisons["second call, no state: output"].numel == 6 * 3 * 4
    assert result.comparisons["(h, c) passed on: h_n"].numel == 2 * 3 * 4
    (note,) = result.notes
    match = re.fullmatch(
        r"two calls without passing \(h, c\) vs one call: the second chunk's output is off by up to "
        r"(\S+) \(first step (\S+), last step (\S+)\); h_n by up to (\S+)",
        note,
    )
    assert match, note
    most, first, last, h_n = (float(g) for g in match.groups())
    assert most == first > last > 0  # the missing state matters most at the chunk's first step
    assert most > 0.01
    assert h_n > 0


def test_truncated_bptt_measures_what_detach_changes():
    result = claims.truncated_bptt()
    assert result.comparisons["d loss / d chunk 2 input"].numel == 6 * 2 * 3
    assert result.comparisons["d loss / d weight_hh_l0"].numel == 16 * 4
    assert result.comparisons["full backprop: d loss / d chunk 2 input"].close is True
    weights, chunk_1 = result.notes
    match = re.fullmatch(
        r"full backprop vs detach\(\), max \|difference\| / max \|full gradient\|: "
        r"weight_ih_l0 (\S+), weight_hh_l0 (\S+), bias_ih_l0 (\S+), bias_hh_l0 (\S+)",
        weights,
    )
    assert match, weights
    assert all(float(g) > 0.05 for g in match.groups())
    match = re.fullmatch(r"full backprop also reaches chunk 1's input: max \|gradient\| (\S+)", chunk_1)
    assert match, chunk_1
    assert float(match[1]) > 0.01


@pytest.mark.parametrize("dtype", DTYPES)
def test_padded_unpacked_h_n_is_wrong_for_the_shorter_sequences(dtype):
    result = claims.padded_unpacked(dtype=dtype)
    assert result.comparisons["output"].numel == 6 * 3 * 8
    assert result.comparisons["forward direction, real steps: output"].numel == (6 + 4 + 2) * 4
    for note, direction in zip(result.notes, ("forward", "backward"), strict=True):
        match = re.fullmatch(
            rf"padded h_n vs true h_n, {direction} direction, lengths 6, 4, 2: (\S+), (\S+), (\S+)", note
        )
        assert match, note
        full, *shorter = (float(g) for g in match.groups())
        assert full <= TOLERANCES[dtype][1]  # the full-length sequence has no padding
        assert all(g > 0.01 for g in shorter)


@pytest.mark.parametrize("dtype", DTYPES)
def test_dropout_on_cpu_compares_train_mode_bitwise(dtype):
    result = claims.dropout(dtype=dtype)
    assert result.notes == ()
    assert result.comparisons["train(), same seed: output"].equal is True
    eval_output, train_output = result.reference[0], result.reference[2]
    assert not torch.allclose(eval_output, train_output)


def test_flatten_never_warns_on_cpu():
    result = claims.flatten()
    assert result.notes[0] == "warning before flatten_parameters(): no; after: no"
    assert result.bitwise is True
    # The replaced weights are new values: a forward that kept the old ones would be caught.
    moved = float(result.notes[1].rsplit(" ", 1)[1])
    assert moved > 0.01


def test_projection_and_batch_first_notes_give_the_shapes():
    result = claims.projection()
    assert result.notes == ("h_n (2, 3, 2), c_n (2, 3, 4): proj_size 2, hidden_size 4",)
    assert result.reference[1].shape == (2, 3, 2)
    assert claims.batch_first().notes == (
        "h_n has shape (2, 3, 4) (num_layers, batch, hidden_size) either way",
    )


def test_gradients_and_bidirectional_compare_every_element():
    gradients = claims.gradients()
    assert gradients.comparisons["d loss / d input"].numel == 6 * 3 * 3
    assert gradients.comparisons["d loss / d weight_hh_l1"].numel == 16 * 4
    bidirectional = claims.bidirectional()
    assert bidirectional.comparisons["output"].numel == 6 * 3 * 8
    assert bidirectional.comparisons["c_n"].numel == 2 * 3 * 4


@pytest.fixture
def off_scratch(monkeypatch):
    """scratch_lstm, as the claims see it, off by 1e-3 in its output."""
    real = scratch_lstm

    def off(lstm, input, hx=None):
        output, state = real(lstm, input, hx)
        return output + 1e-3, state

    # scratch and projection compare nn.LSTM with scratch_lstm: their independent side.
    for name in ("scratch", "projection"):
        assert CLAIMS[name].sides["forward"] is real
        monkeypatch.setitem(CLAIMS[name].sides, "forward", off)


@pytest.mark.parametrize("name", ["scratch", "projection"])
def test_a_claim_that_does_not_hold_is_reported(off_scratch, name):
    result = CLAIMS[name]()
    assert (result.holds, result.bitwise) == (False, False)
    output = result.comparisons["output"]
    assert output.mismatched == output.numel
    assert result.max_abs_diff == pytest.approx(1e-3, rel=1e-3)
    assert result.comparisons["h_n"].close is True
    assert str(result).startswith("cpu, float32: FAILS\n")
    with pytest.raises(AssertionError, match=r"^claim failed: "):
        result.assert_holds()
    assert claims.lstmcell_loop().holds is True  # other claims do not use scratch_lstm


# --- claims about a module of the reader's own ---------------------------------------------------


def keys(cls) -> list[str]:
    return ["output", "h_n", "c_n"] if cls is nn.LSTM else ["output", "h_n"]


class OffWhenWholeLSTM(nn.LSTM):
    """An LSTM whose forward adds 1e-3 to its output when given more than one time step.

    Called one step at a time (run_stepwise) or through split layers it gives the true
    values; called on the whole sequence it does not: the claims must notice.
    """

    def forward(self, input, hx=None):
        output, state = super().forward(input, hx)
        if input.shape[0] > 1:
            output = output + 1e-3
        return output, state


@pytest.mark.parametrize("claim", MODULE_CLAIMS)
@pytest.mark.parametrize("cls", CLASSES)
@pytest.mark.parametrize("with_hx", [False, True], ids=["no-hx", "hx"])
def test_module_claim_holds(claim, cls, with_hx, sample):
    rnn = cls(3, 4, num_layers=2)
    x, hx = sample(rnn, 5, 2, hx=with_hx)
    result = claim(rnn, x, hx)
    assert result.holds is True
    assert list(result.comparisons) == keys(cls)
    assert (result.device, result.dtype) == (CPU, torch.float32)
    assert (result.tolerance.rtol, result.tolerance.atol) == (1.3e-6, 1e-5)
    torch.testing.assert_close(result.reference[0], rnn(x, hx)[0])
    assert not any(t.requires_grad for t in result.reference)


@pytest.mark.parametrize("claim", MODULE_CLAIMS)
def test_module_claim_holds_for_lstm_with_projections_batch_first_unbatched(claim, sample):
    rnn = nn.LSTM(3, 4, num_layers=2, proj_size=2, batch_first=True)
    x, hx = sample(rnn, 5, None)
    result = claim(rnn, x, hx)
    assert result.holds is True
    assert [c.numel for c in result.comparisons.values()] == [5 * 2, 2 * 2, 2 * 4]


def test_module_claim_uses_the_modules_dtype(sample):
    rnn = nn.GRU(3, 4, num_layers=3, bidirectional=True, dtype=torch.float64)
    result = num_layers_vs_stacked(rnn, sample(rnn, 5, 2, hx=False)[0])
    assert result.holds is True
    assert result.dtype == torch.float64
    assert (result.tolerance.rtol, result.tolerance.atol) == (1e-7, 1e-7)
    assert result.comparisons["h_n"].numel == 6 * 2 * 4


@pytest.mark.parametrize("claim", MODULE_CLAIMS)
def test_a_false_module_claim_is_detected(claim, sample):
    rnn = OffWhenWholeLSTM(3, 4, num_layers=2)
    result = claim(rnn, sample(rnn, 5, 2, hx=False)[0])
    assert result.holds is False
    output = result.comparisons["output"]
    assert output.mismatched == output.numel == 5 * 2 * 4
    assert output.max_abs_diff == pytest.approx(1e-3, rel=1e-3)
    assert result.comparisons["h_n"].close is True
    with pytest.raises(AssertionError, match=r"(?s)^claim failed: .*FAILS.*output\s+NOT close: 40 / 40"):
        result.assert_holds()


@pytest.mark.parametrize("claim", MODULE_CLAIMS)
def test_module_claim_and_dropout(claim, sample):
    rnn = nn.LSTM(3, 4, num_layers=2, dropout=0.5)
    x = sample(rnn, 5, 2, hx=False)[0]
    with pytest.raises(
        ValueError, match=r"^Expected rnn in eval\(\) mode or with dropout=0, but got dropout=0\.5"
    ):
        claim(rnn, x)
    assert claim(rnn.eval(), x).holds is True


@pytest.mark.parametrize(
    ("rnn", "x", "hx", "error", "message"),
    [
        pytest.param(
            nn.Linear(3, 4),
            torch.randn(5, 2, 3),
            None,
            TypeError,
            r"^Expected rnn to be an nn\.LSTM",
            id="module",
        ),
        pytest.param(
            nn.GRU(3, 4),
            [[1.0, 2.0, 3.0]],
            None,
            TypeError,
            r"^Expected input to be a torch\.Tensor",
            id="input",
        ),
        pytest.param(
            nn.GRU(3, 4, num_layers=2),
            torch.randn(5, 2, 3),
            torch.zeros(1, 2, 4),
            ValueError,
            r"^Expected h_0 of shape \(2, 2, 4\)",
            id="hx",
        ),
    ],
)
def test_module_claims_reject_bad_arguments(rnn, x, hx, error, message):
    for run in (whole_vs_stepwise, num_layers_vs_stacked):
        with pytest.raises(error, match=message):
            run(rnn, x, hx)
    with pytest.raises(error, match=message):
        on_each_device(whole_vs_stepwise, rnn, x, hx, devices=[CPU])


@pytest.mark.parametrize("cls", CLASSES)
def test_on_each_device_compares_later_devices_with_the_first(cls, sample):
    rnn = cls(3, 4, num_layers=2)
    x, hx = sample(rnn, 5, 2)
    first, second = on_each_device(whole_vs_stepwise, rnn, x, hx, devices=[CPU, CPU])
    assert list(first.comparisons) == keys(cls)
    assert list(second.comparisons) == keys(cls) + [f"{k} vs cpu" for k in keys(cls)]
    assert all(second.comparisons[f"{k} vs cpu"].equal for k in keys(cls))


def test_on_each_device_gives_the_claim_copies(sample):
    """A claim that changes the module it gets changes a copy, a fresh one per device."""
    rnn = nn.GRU(3, 4)
    before = {name: p.detach().clone() for name, p in rnn.named_parameters()}
    x, hx = sample(rnn)
    received = []

    def zeroing_claim(module, input, hx):
        received.append(module)
        with torch.no_grad():
            for param in module.parameters():
                param.zero_()
        return whole_vs_stepwise(module, input, hx)

    on_each_device(zeroing_claim, rnn, x, hx, devices=[CPU, CPU])
    assert len({id(m) for m in received}) == 2
    assert all(m is not rnn for m in received)
    for name, param in rnn.named_parameters():
        assert torch.equal(param, before[name]), name


def test_on_each_device_no_devices():
    with pytest.raises(ValueError, match=r"^Expected at least one device, but got an empty list instead\.$"):
        on_each_device(whole_vs_stepwise, nn.LSTM(3, 4), torch.randn(5, 2, 3), devices=[])


# --- prove: the one way a page runs a claim ------------------------------------------------------


def test_prove_runs_a_registered_claim_by_name_or_function(capsys):
    by_name = prove("rnn", devices=[CPU, CPU], dtype=torch.float64)
    printed = capsys.readouterr().out.splitlines()
    assert printed[:2] == [
        "The post's two claims hold for nn.RNN, tanh and relu: one step at a time, and",
        "num_layers=2 as two layers.",
    ]
    assert printed.count("cpu, float64: holds") == 2
    assert [r.dtype for r in by_name] == [torch.float64, torch.float64]
    (by_function,) = prove(claims.rnn, devices=[CPU])
    assert by_function.comparisons.keys() == by_name[0].comparisons.keys()


def test_prove_runs_a_module_claim_on_copies(capsys, sample):
    rnn = nn.LSTM(3, 4, num_layers=2)
    x, hx = sample(rnn)
    results = prove(num_layers_vs_stacked, rnn, x, hx, devices=[CPU, CPU])
    printed = capsys.readouterr().out
    assert printed.startswith("A module with num_layers=N equals N single-layer modules stacked by hand.\n")
    assert list(results[1].comparisons)[-1] == "c_n vs cpu"


def test_prove_fails_a_claim_that_does_not_hold(off_scratch, capsys):
    with pytest.raises(AssertionError, match=r"^claim failed: The LSTM equations written out"):
        prove("scratch", devices=[CPU])
    assert "cpu, float32: FAILS" in capsys.readouterr().out


def test_prove_defaults_to_each_device(monkeypatch, capsys):
    monkeypatch.setattr(torch.cuda, "is_available", lambda: False)
    monkeypatch.delenv("LSTM_DEMO_REQUIRE_CUDA", raising=False)
    assert [r.device for r in prove("batch-first")] == [CPU]
    printed = capsys.readouterr().out
    # Said once, by the proof, not by each_device's note as well.
    assert printed.startswith("batch_first=True transposes input and output")
    assert printed.endswith("\nOnly the CPU ran this: no CUDA GPU was among the devices.\n")
    assert "Running on" not in printed


def test_prove_runs_any_function_of_device_and_dtype(capsys):
    seen = []

    def quarters(device, dtype):
        seen.append((device, dtype))
        x = torch.ones(3, dtype=dtype, device=device)
        return claim_result("Halving twice is a quarter.", device, dtype, {"x / 2 / 2": (x / 2 / 2, x / 4)})

    results = prove(quarters, devices=[CPU, CPU], dtype=torch.float64)
    assert seen == [(CPU, torch.float64), (CPU, torch.float64)]
    assert [r.bitwise for r in results] == [True, True]
    assert capsys.readouterr().out.splitlines()[:2] == ["Halving twice is a quarter.", "cpu, float64: holds"]


class Reported:
    """A result of another kind: prove needs only holds, assert_holds and str."""

    holds = False

    def assert_holds(self):
        msg = "not reproduced"
        raise AssertionError(msg)

    def __str__(self):
        return "0 of 3 reproduced"


def test_prove_names_a_function_by_its_docstring_and_asserts_its_results(capsys):
    def reproduce(device, dtype):
        """The post's three numbers,
        reproduced.

        Not printed: only the first paragraph is.
        """
        return Reported()

    with pytest.raises(AssertionError, match=r"^not reproduced$"):
        prove(reproduce, devices=[CPU])
    assert capsys.readouterr().out == "The post's three numbers, reproduced.\n0 of 3 reproduced\n"


def test_prove_rejects_an_unknown_name_and_a_module_claim_without_its_arguments():
    with pytest.raises(ValueError, match=r"^Expected a claim name from post-stepwise, post-layers, "):
        prove("no-such-claim", devices=[CPU])
    with pytest.raises(TypeError, match=r"^Expected rnn to be an nn\.LSTM, nn\.GRU or nn\.RNN"):
        prove(whole_vs_stepwise, devices=[CPU])
    with pytest.raises(ValueError, match=r"^Expected an input for rnn, but got an object of type NoneType"):
        prove(whole_vs_stepwise, nn.GRU(3, 4), devices=[CPU])


# --- claim_result and ClaimResult ---------------------------------------------------------------


def test_claim_result_compares_each_pair():
    expected = torch.tensor([1.0, 2.0, 4.0], requires_grad=True)
    result = claim_result(
        "Three ways agree.",
        "cpu",
        torch.float32,
        {
            "same": (expected.detach().clone(), expected),
            "close": (expected.detach() + 2**-22, expected),
            "off": (torch.tensor([1.0, 2.5, 4.0]), expected),
        },
    )
    assert (result.claim, result.device, result.dtype) == ("Three ways agree.", CPU, torch.float32)
    same, close, off = result.comparisons.values()
    assert (same.equal, same.close, same.max_abs_diff) == (True, True, 0.0)
    assert (close.equal, close.close, close.max_abs_diff) == (False, True, 2**-22)
    assert (off.equal, off.close, off.max_abs_diff, off.mismatched, off.where) == (False, False, 0.5, 1, (1,))
    assert (result.max_abs_diff, result.holds, result.bitwise) == (0.5, False, False)
    assert not any(t.requires_grad for t in result.reference)


def test_claim_result_float64_tolerance():
    one = torch.ones(3, dtype=torch.float64)
    result = claim_result("A claim.", "cpu", torch.float64, {"x": (one + 1e-8, one), "y": (one + 1e-6, one)})
    assert (result.tolerance.rtol, result.tolerance.atol) == (1e-7, 1e-7)
    assert result.comparisons["x"].close is True
    assert result.comparisons["y"].close is False  # within float32's tolerance, not float64's


def test_str_of_a_claim_result_with_notes():
    t = torch.tensor([1.0, 2.0])
    result = claim_result(
        "A claim.", "cpu", torch.float32, {"output": (t, t)}, notes=("first", "second: 0.5")
    )
    assert str(result).splitlines() == [
        "cpu, float32: holds",
        "  tolerance  rtol=1.3e-06, atol=1e-05 (torch.testing's default for float32)",
        "  output     bitwise equal (2 elements)",
        "  note: first",
        "  note: second: 0.5",
    ]


def test_str_of_a_failing_claim_result():
    result = claim_result(
        "A claim.",
        "cpu",
        torch.float32,
        {"a long label": (torch.tensor([1.0, 2.0]), torch.tensor([1.0, 2.5]))},
    )
    assert str(result).splitlines() == [
        "cpu, float32: FAILS",
        "  tolerance     rtol=1.3e-06, atol=1e-05 (torch.testing's default for float32)",
        # folded at 79 columns, under the verdict's column
        "  a long label  NOT close: 1 / 2 (50.0%) elements outside the tolerance; max",
        "                abs diff 0.5 at (1,), max rel diff 0.2",
    ]
    assert result.report(width=None).splitlines()[2] == (
        "  a long label  NOT close: 1 / 2 (50.0%) elements outside the tolerance; "
        "max abs diff 0.5 at (1,), max rel diff 0.2"
    )
    with pytest.raises(AssertionError, match=r"^claim failed: A claim\.\ncpu, float32: FAILS\n"):
        result.assert_holds()


def test_a_result_without_comparisons():
    result = ClaimResult("Nothing compared.", CPU, torch.float32, tolerance_for(CPU, torch.float32), {})
    assert (result.max_abs_diff, result.notes, result.reference) == (0.0, (), ())
    assert (
        str(result).splitlines()[1]
        == "  tolerance  rtol=1.3e-06, atol=1e-05 (torch.testing's default for float32)"
    )


def test_claim_result_mismatched_shapes():
    with pytest.raises(
        ValueError, match=r"^Expected tensors of the same shape, but got actual \(2,\) and expected \(3,\)"
    ):
        claim_result("A claim.", "cpu", torch.float32, {"x": (torch.zeros(2), torch.zeros(3))})


# --- eval-backward and repeatable ------------------------------------------------------------------


@pytest.mark.parametrize("dtype", [torch.float32, torch.float64])
def test_eval_backward_holds_on_the_cpu_with_every_gradient(dtype):
    from lstm_demo.claims import eval_backward

    result = eval_backward("cpu", dtype)
    assert result.holds
    assert result.notes == ("eval() backward ran: no cuDNN on this device",)
    weights = ("weight_ih", "weight_hh", "bias_ih", "bias_hh")
    names = [f"gradient of {n}" for n in ("input", *(f"{w}_l{k}" for k in (0, 1) for w in weights))]
    assert list(result.comparisons) == names


def test_claim_gradients_match_autograd_grad():
    from lstm_demo._gradients import gradients as _gradients

    lstm = nn.LSTM(3, 4)
    x = torch.randn(5, 2, 3)
    grads = _gradients(lstm, x)
    x_ = x.clone().requires_grad_(True)
    output, (h_n, c_n) = lstm(x_)
    expected = torch.autograd.grad(output.sum() + h_n.sum() + c_n.sum(), [x_, *lstm.parameters()])
    assert list(grads) == ["input", "weight_ih_l0", "weight_hh_l0", "bias_ih_l0", "bias_hh_l0"]
    for got, want in zip(grads.values(), expected, strict=True):
        torch.testing.assert_close(got, want)
    assert all(p.grad is None for p in lstm.parameters())  # left as it found them


@pytest.mark.parametrize("dtype", [torch.float32, torch.float64])
def test_repeatable_holds_bitwise_on_the_cpu(dtype):
    from lstm_demo.claims import repeatable

    result = repeatable("cpu", dtype)
    assert result.holds
    assert result.bitwise
    assert result.notes == ("bitwise equal: yes",)
    assert list(result.comparisons)[:3] == ["output", "h_n", "c_n"]


def test_repeatable_model_really_drops_out():
    # Without the seed, two train() runs of the claim's model differ: the claim is not vacuous.
    lstm = nn.LSTM(3, 4, num_layers=3, dropout=0.5).train()
    x = torch.randn(6, 3, 3)
    with torch.no_grad():
        assert not torch.equal(lstm(x)[0], lstm(x)[0])


def test_repeatable_leaves_the_random_state_alone():
    from lstm_demo.claims import repeatable

    torch.manual_seed(7)
    expected = torch.rand(3)
    torch.manual_seed(7)
    repeatable("cpu")
    assert torch.equal(torch.rand(3), expected)


# --- biases, peepholes and notations -------------------------------------------------------------


def _note_value(note: str, pattern: str) -> float:
    match = re.fullmatch(pattern, note)
    assert match, note
    return float(match[1])


def test_two_biases_forget_bias_of_one_in_both_is_two():
    result = claims.two_biases()
    recipe = result.comparisons["forget 1 + 1 vs 2 + 0: output"]
    assert recipe.close
    assert recipe.numel == 6 * 3 * 4  # the module's output, compared with 2 in bias_ih alone
    (note,) = result.notes
    gap = _note_value(note, r"forget bias 1 in both vectors vs 1 in total: output differs by (\S+)")
    assert 0.01 < gap < 1


def test_move_bias_hh_moves_every_layer_and_keeps_the_sum():
    torch.manual_seed(0)
    lstm = nn.LSTM(2, 3, num_layers=2, bidirectional=True)
    moved = move_bias_hh(lstm)
    for suffix in ("l0", "l1", "l0_reverse", "l1_reverse"):
        assert torch.equal(getattr(moved, f"bias_hh_{suffix}"), torch.zeros(12))
        total = getattr(lstm, f"bias_ih_{suffix}") + getattr(lstm, f"bias_hh_{suffix}")
        assert torch.equal(getattr(moved, f"bias_ih_{suffix}"), total)
        assert torch.equal(getattr(moved, f"weight_hh_{suffix}"), getattr(lstm, f"weight_hh_{suffix}"))
    assert bool(lstm.bias_hh_l0.ne(0).all())  # the original is untouched


def test_move_bias_hh_chosen_gates_of_a_gru():
    gru = nn.GRU(2, 2)
    with torch.no_grad():
        gru.bias_ih_l0.copy_(torch.arange(6.0))
        gru.bias_hh_l0.copy_(torch.full((6,), 10.0))
    moved = move_bias_hh(gru, gates=[2])
    assert moved.bias_ih_l0.tolist() == [0.0, 1.0, 2.0, 3.0, 14.0, 15.0]
    assert moved.bias_hh_l0.tolist() == [10.0, 10.0, 10.0, 10.0, 0.0, 0.0]


@pytest.mark.parametrize(
    ("rnn", "gates", "error", "message"),
    [
        (
            nn.Linear(2, 2),
            None,
            TypeError,
            "Expected rnn to be an nn.LSTM, nn.GRU or nn.RNN, but got an object",
        ),
        (nn.LSTM(2, 2, bias=False), None, ValueError, "Expected a module with bias=True, but got bias=False"),
        (nn.LSTM(2, 2), [4], ValueError, "Expected gates from 0 to 3 for an LSTM, but got [4] instead."),
        (nn.GRU(2, 2), [3], ValueError, "Expected gates from 0 to 2 for an GRU, but got [3] instead."),
        (nn.GRU(2, 2), [], ValueError, "Expected gates from 0 to 2 for an GRU, but got [] instead."),
        (nn.RNN(2, 2), [True], ValueError, "Expected gates from 0 to 0 for an RNN, but got [True] instead."),
    ],
    ids=["not-rnn", "no-bias", "lstm-gate-4", "gru-gate-3", "no-gates", "bool-gate"],
)
def test_move_bias_hh_bad_input(rnn, gates, error, message):
    with pytest.raises(error, match="^" + re.escape(message)):
        move_bias_hh(rnn, gates)


def test_no_peepholes_notes_measure_the_peephole_lstm():
    result = claims.no_peepholes()
    linear = result.comparisons["c_1(2 c_0) - c_1(c_0) vs c_1(c_0) - c_1(0)"]
    assert linear.numel == 3 * 4
    differs, nonlinear = result.notes
    assert _note_value(differs, r"peephole LSTM, same weights: output differs by (\S+)") > 0.01
    assert _note_value(nonlinear, r"peephole LSTM: c_1 off affine in c_0 by (\S+)") > 0.01


def test_olah_and_row_vector_notes_measure_the_wrong_orders():
    (olah,) = claims.olah_notation().notes
    assert (
        _note_value(olah, r"Olah's W on \[x_t, h_\(t-1\)\] \(the other order\): output differs by (\S+)")
        > 0.01
    )
    (tf,) = claims.row_vector().notes
    assert (
        _note_value(tf, r"the kernel read in the order i, j, f, o as i, f, g, o: output differs by (\S+)")
        > 0.01
    )


def test_olah_form_one_step_by_hand():
    # One step from zeros: W [h, x] + b with W = [W_hh | W_ih] per gate; h_0 = 0 leaves W_ih x + b.
    lstm = nn.LSTM(1, 1).double()
    with torch.no_grad():
        lstm.weight_ih_l0.copy_(torch.tensor([[1.0], [2.0], [3.0], [4.0]]))
        lstm.weight_hh_l0.fill_(5.0)
        lstm.bias_ih_l0.zero_()
        lstm.bias_hh_l0.zero_()
    x = torch.tensor([[[0.5]]], dtype=torch.float64)
    output, (h_n, c_n) = olah_lstm(lstm, x)

    def sig(v):
        return 1 / (1 + math.exp(-v))

    c = sig(0.5) * math.tanh(1.5)
    assert c_n.item() == pytest.approx(c, rel=1e-12)
    assert output.item() == pytest.approx(sig(2.0) * math.tanh(c), rel=1e-12)
    assert torch.equal(h_n, output)


def test_gru_bias_note_and_cho_gru_note():
    result = claims.gru_bias()
    (note,) = result.notes
    assert _note_value(note, r"b_hn moved into b_in: output differs by (\S+)") > 0.01
    (cho,) = claims.cho_gru().notes
    assert _note_value(cho, r"Cho et al.'s form, r before W_hn: output differs by (\S+)") > 0.01


def test_gru_bias_with_r_held_at_one_the_reset_gate_is_exactly_one():
    gru = nn.GRU(3, 4)
    opened = set_bias(gru, "bias_ih", 0, OPEN)
    x = torch.randn(5, 2, 3)
    r = torch.sigmoid(x @ opened.weight_ih_l0[:4].T + opened.bias_ih_l0[:4] + opened.bias_hh_l0[:4])
    assert bool(r.eq(1).all())  # the sigmoid of about 50 rounds to exactly 1


# --- how results are shown: text in a terminal, one HTML table on a page ----------------------

import dataclasses
import xml.etree.ElementTree as ET

from lstm_demo import display
from lstm_demo.claims import Proof, Proofs, only_note

GPU = torch.device("cuda:0")


def _table(markup: str) -> tuple[list[str], list[list[str]], list[str]]:
    root = ET.fromstring(markup)
    header = ["".join(th.itertext()) for th in root.iterfind("table/thead/tr/th")]
    rows = [["".join(cell.itertext()) for cell in row] for row in root.iterfind("table/tbody/tr")]
    notes = ["".join(p.itertext()) for p in root.iterfind("p")]
    return header, rows, notes


def _halves(device=CPU, apart=0.0):
    # 1 / 2 exactly, or off by ``apart``
    x = torch.tensor([1.0, 3.0])
    return claim_result("Halving <x> & back.", device, torch.float32, {"x / 2": (x / 2 + apart, x * 0.5)})


def test_claim_result_html_one_column_for_its_device():
    header, rows, notes = _table(_halves()._repr_html_())
    assert header == ["result", "cpu, float32"]
    assert rows == [
        ["verdict", "holds, bitwise equal"],
        ["tolerance", str(tolerance_for("cpu", torch.float32))],
        ["x / 2", "bitwise equal (2 elements)"],
    ]
    assert notes == ["Only the CPU ran this: no CUDA GPU was among the devices."]
    markup = _halves()._repr_html_()
    assert "<caption>Halving &lt;x&gt; &amp; back.</caption>" in markup


def test_a_failing_result_says_so_in_words():
    # 0.5 + 1 against 0.5: 1 of 2 elements outside rtol=1.3e-6, atol=1e-5
    result = _halves(apart=torch.tensor([1.0, 0.0]))
    _, rows, _ = _table(result._repr_html_())
    assert rows[0] == ["verdict", "FAILS"]
    assert rows[2] == [
        "x / 2",
        "NOT close: 1 / 2 (50.0%) elements outside the tolerance; max abs diff 1 at (0,), max rel diff 2",
    ]
    assert '<td data-label="cpu, float32" class="lstm-demo-bad">FAILS</td>' in result._repr_html_()


def test_proof_on_the_cpu_only_says_it_once(capsys):
    proof = prove("batch-first", devices=[CPU])
    assert isinstance(proof, Proof)
    assert (
        proof.sentence == "batch_first=True transposes input and output, and leaves h_n and c_n as they are."
    )
    printed = capsys.readouterr().out
    assert printed == str(proof) + "\n"
    assert printed.count("Only the CPU ran this") == 1
    assert printed.count("cpu, float32: holds") == 1
    header, rows, notes = _table(proof._repr_html_())
    assert header == ["result", "cpu, float32"]
    assert [row[0] for row in rows] == ["verdict", "tolerance", "output (transposed)", "h_n", "c_n", "notes"]
    assert rows[0] == ["verdict", "holds, bitwise equal"]
    assert notes == ["Only the CPU ran this: no CUDA GPU was among the devices."]


def test_proof_with_a_gpu_has_its_column_and_no_cpu_only_note(monkeypatch):
    monkeypatch.setattr(torch.cuda, "get_device_name", lambda device=None: "Test GPU")
    cpu = _halves()
    gpu = dataclasses.replace(_halves(apart=2**-22), device=GPU)
    gpu = dataclasses.replace(gpu, comparisons={**gpu.comparisons, "x / 2 vs cpu": gpu.comparisons["x / 2"]})
    proof = Proof([cpu, gpu], "Halving.")
    header, rows, notes = _table(proof._repr_html_())
    assert header == ["result", "cpu, float32", "cuda:0 (Test GPU), float32"]
    assert rows[0] == ["verdict", "holds, bitwise equal", "holds, within the tolerance"]
    assert rows[3][0] == "x / 2 vs cpu"
    assert rows[3][1] == "n/a"
    assert rows[3][2].startswith("close, not bitwise equal: max abs diff 2.38e-07")
    assert notes == []
    assert "Only" not in str(proof)
    assert only_note([CPU, GPU]) is None


def test_only_note_names_other_devices():
    assert only_note([CPU]) == "Only the CPU ran this: no CUDA GPU was among the devices."
    assert (
        only_note([CPU, torch.device("mps")]) == "Only cpu, mps ran this: no CUDA GPU was among the devices."
    )
    assert only_note([CPU, CPU]) == only_note([CPU])
    assert only_note([]) is None


def test_results_table_text_is_the_reports():
    results = [_halves(), _halves()]
    shown = ClaimResult.table(results, "Halving.")
    assert shown.splitlines()[0] == "Halving."
    assert str(shown) == "\n".join(["Halving.", results[0].report(), results[1].report(), only_note([CPU])])


def test_proof_of_another_kind_of_result():
    class Found:
        holds = True
        device = CPU

        def assert_holds(self):
            pass

        def __str__(self):
            return "3 of 3 <printed> numbers\n  greatest 1e-05"

    header, rows, notes = _table(Proof([Found()], "The post's numbers.")._repr_html_())
    assert header == ["device", "holds", "what it found"]
    assert rows == [["cpu", "yes", "3 of 3 <printed> numbers\n  greatest 1e-05"]]
    assert notes == ["Only the CPU ran this: no CUDA GPU was among the devices."]


def test_prove_prints_nothing_where_the_page_shows_its_value(monkeypatch, capsys):
    monkeypatch.setattr(claims.proof, "rich_display", lambda: True)
    proof = prove("batch-first", devices=[CPU])
    assert capsys.readouterr().out == ""
    assert _table(proof._repr_html_())[1][0] == ["verdict", "holds, bitwise equal"]


def test_proofs_show_one_after_another():
    first, second = Proof([_halves()], "First."), Proof([_halves()], "Second.")
    shown = Proofs([first, second])
    assert str(shown) == f"{first}\n\n{second}"
    markup = shown._repr_html_()
    assert markup == first._repr_html_() + "\n" + second._repr_html_()
    assert markup.count("<table") == 2
    assert isinstance(shown, display.Stack)


# --- what cuDNN requires, checked on the CPU ---------------------------------------------------------


def test_every_claim_gives_its_modules_contiguous_states(monkeypatch):
    # cuDNN raises "rnn: hx is not contiguous" for a strided state; the CPU accepts one. Every claim
    # runs here with nn.LSTM/nn.GRU/nn.RNN refusing a strided state the way cuDNN does.
    for cls in (nn.LSTM, nn.GRU, nn.RNN):
        original = cls.forward

        def forward(self, input, hx=None, _original=original):
            states = hx if isinstance(hx, tuple) else (hx,)
            strided = [tuple(s.shape) for s in states if s is not None and not s.is_contiguous()]
            assert strided == [], f"{type(self).__name__} given a strided state {strided}"
            return _original(self, input, hx)

        monkeypatch.setattr(cls, "forward", forward)
    for name, run in CLAIMS.items():
        assert run("cpu", torch.float32).holds, name


def test_claim_copies_keep_their_weights_in_one_buffer(monkeypatch):

    flattened = []
    monkeypatch.setattr(nn.LSTM, "flatten_parameters", lambda self: flattened.append(self))  # noqa: PLW0108  (a method)
    lstm = nn.LSTM(3, 4)
    copied = copy_module(lstm)
    assert flattened[-1] is copied  # packed after the copy (unpickling may pack it once before)
    assert copied is not lstm
    assert all(torch.equal(a, b) for a, b in zip(copied.parameters(), lstm.parameters(), strict=True))
