"""questions: every claim holds on the CPU in both dtypes, says what it compared, and refuses bad arguments."""

from __future__ import annotations

import re

import pytest
import torch

from lstm_demo import questions
from lstm_demo.claims import ClaimResult
from lstm_demo.questions import QUESTIONS

CPU = torch.device("cpu")
DTYPES = [pytest.param(torch.float32, id="float32"), pytest.param(torch.float64, id="float64")]
NAMES = list(QUESTIONS)

PACKED_KEYS = [
    f"{order}: {what}"
    for order in ("sorted", "unsorted")
    for what in ("output, real steps", "output, padding is zero", "h_n", "c_n")
]
GRADIENT_KEYS = ["d loss / d input"] + [
    f"d loss / d {kind}_l{layer}"
    for layer in (0, 1)
    for kind in ("weight_ih", "weight_hh", "bias_ih", "bias_hh")
]
POST_KEYS = [
    "one step at a time: output",
    "one step at a time: h_n",
    "stacked layers: output",
    "stacked layers: h_n",
]

#: What each question compares, written out from the issue's questions.
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
    "gradients": GRADIENT_KEYS,
    "dropout": ["eval(): output", "eval(): h_n", "train(), same seed: output", "train(), same seed: h_n"],
    "projection": ["output", "h_n", "c_n"],
    "gru": POST_KEYS,
    "rnn": [f"{n}, {k}" for n in ("tanh", "relu") for k in POST_KEYS],
    "flatten": ["output, weights replaced", "output, after flatten_parameters()"],
}

TOLERANCES = {torch.float32: (1.3e-6, 1e-5), torch.float64: (1e-7, 1e-7)}


@pytest.fixture
def cpu_only(monkeypatch):
    """This machine as one with only a CPU, whatever it has."""
    monkeypatch.setattr(torch.cuda, "is_available", lambda: False)
    monkeypatch.setattr(torch.backends.mps, "is_available", lambda: False)


def test_the_registry_names_every_question_in_page_order():
    assert list(EXPECTED_KEYS) == NAMES
    assert len(NAMES) == 15
    assert all(callable(q) for q in QUESTIONS.values())


# --- every question holds ------------------------------------------------------------------------


@pytest.mark.parametrize("dtype", DTYPES)
@pytest.mark.parametrize("name", NAMES)
def test_question_holds_on_cpu(name, dtype):
    result = QUESTIONS[name]("cpu", dtype)
    assert isinstance(result, ClaimResult)
    assert result.holds is True, str(result)
    result.assert_holds()
    assert list(result.comparisons) == EXPECTED_KEYS[name]
    assert result.device == CPU
    assert result.dtype == dtype
    assert (result.tolerance.rtol, result.tolerance.atol) == TOLERANCES[dtype]
    for label, comparison in result.comparisons.items():
        assert comparison.close is True, label
        assert comparison.dtype == dtype, label
        assert comparison.numel > 0, label
        assert (comparison.rtol, comparison.atol) == TOLERANCES[dtype], label
    assert str(result).startswith(f"cpu, {str(dtype).removeprefix('torch.')}: holds\n")


@pytest.mark.parametrize("name", NAMES)
def test_question_defaults_are_cpu_float32_seed_0(name):
    question = QUESTIONS[name]
    default = question()
    explicit = question(torch.device("cpu"), torch.float32, seed=0)
    assert (default.device, default.dtype) == (CPU, torch.float32)
    assert list(default.comparisons) == list(explicit.comparisons)
    for label in default.comparisons:
        assert default.comparisons[label].max_abs_diff == explicit.comparisons[label].max_abs_diff, label
    assert len(default.reference) == len(explicit.reference)
    for mine, theirs in zip(default.reference, explicit.reference, strict=True):
        assert torch.equal(mine, theirs)


@pytest.mark.parametrize("name", NAMES)
def test_question_states_its_claim(name):
    question = QUESTIONS[name]
    sentence = question.claim
    assert isinstance(sentence, str)
    assert len(sentence.split()) >= 8
    assert sentence.endswith(".")
    assert question().claim == sentence


def test_the_claims_are_all_different():
    sentences = [q.claim for q in QUESTIONS.values()]
    assert len(set(sentences)) == len(sentences)


@pytest.mark.parametrize("name", NAMES)
def test_seed_changes_the_values_not_the_verdict(name):
    question = QUESTIONS[name]
    first, again, other = question(seed=0), question(seed=0), question(seed=1)
    assert first.holds is True
    assert other.holds is True
    assert list(other.comparisons) == list(first.comparisons)
    # The module's own results, one per comparison, are what the seed changes.
    assert len(first.reference) == len(first.comparisons), "reference holds one tensor per comparison"
    assert all(torch.equal(a, b) for a, b in zip(first.reference, again.reference, strict=True))
    assert not all(torch.equal(a, b) for a, b in zip(first.reference, other.reference, strict=True))


@pytest.mark.parametrize("name", NAMES)
def test_question_leaves_the_global_random_state_alone(name):
    torch.manual_seed(1234)
    QUESTIONS[name]()
    after = torch.rand(5)
    torch.manual_seed(1234)
    assert torch.equal(after, torch.rand(5))


# --- what particular questions find --------------------------------------------------------------


def test_last_output_reports_how_far_the_wrong_row_is():
    result = questions.last_output()
    (note,) = result.notes
    match = re.fullmatch(r"bidirectional: output\[-1, :, H:\] is not h_n\[-1\]; max abs diff (\S+)", note)
    assert match, note
    assert float(match[1]) > 0.01


@pytest.mark.parametrize("dtype", DTYPES)
def test_packed_note_lists_the_padded_rows_gap(dtype):
    (note,) = questions.packed(dtype=dtype).notes
    match = re.fullmatch(
        r"padded output\[-1\] vs h_n\[-1\], per sequence of lengths 6, 4, 2: (\S+), (\S+), (\S+) "
        r"\(the shorter ones' output\[-1\] is padding\)",
        note,
    )
    assert match, note
    gaps = [float(g) for g in match.groups()]
    # The full-length sequence's output[-1] is h_n[-1]; the others' output[-1] is zero padding.
    assert match[1] == "0"
    assert gaps[1] > 0.01
    assert gaps[2] > 0.01


def test_packed_padding_is_bitwise_zero():
    result = questions.packed()
    assert result.comparisons["sorted: output, padding is zero"].equal is True
    assert result.comparisons["unsorted: output, padding is zero"].equal is True
    # 6 steps x 3 sequences, of which 6 + 4 + 2 real: 6 padded rows of 4 features.
    assert result.comparisons["sorted: output, padding is zero"].numel == 6 * 4
    assert result.comparisons["sorted: output, real steps"].numel == 12 * 4


def test_chunked_detach_stops_the_gradient():
    result = questions.chunked()
    before = result.comparisons["with detach(): gradient before the last chunk"]
    assert before.equal is True
    assert before.numel == 8 * 2 * 3  # 8 steps, batch 2, 3 features
    assert result.comparisons["with detach(): gradient in the last chunk"].numel == 4 * 2 * 3
    (note,) = result.notes
    match = re.fullmatch(r"without detach\(\), the gradient reaches step 0: max \|grad\[:8\]\| = (\S+)", note)
    assert match, note
    assert float(match[1]) > 0


@pytest.mark.parametrize("dtype", DTYPES)
def test_dropout_on_cpu_compares_train_mode_bitwise(dtype):
    result = questions.dropout(dtype=dtype)
    assert result.notes == ()
    assert result.comparisons["train(), same seed: output"].equal is True
    assert result.comparisons["train(), same seed: h_n"].equal is True
    assert result.comparisons["train(), same seed: output"].numel == 6 * 3 * 4


def test_dropout_in_train_mode_differs_from_eval_mode():
    result = questions.dropout()
    eval_output = result.reference[0]
    train_output = result.reference[2]
    assert eval_output.shape == train_output.shape == (6, 3, 4)
    assert not torch.allclose(eval_output, train_output)


@pytest.mark.parametrize("dtype", DTYPES)
def test_flatten_never_warns_on_cpu(dtype):
    result = questions.flatten(dtype=dtype)
    assert result.notes == ("warning before flatten_parameters(): no; after: no",)
    assert result.bitwise is True


def test_projection_note_gives_the_shapes():
    result = questions.projection()
    assert result.notes == ("h_n (2, 3, 2), c_n (2, 3, 4): proj_size 2, hidden_size 4",)
    assert result.reference[1].shape == (2, 3, 2)
    assert result.reference[2].shape == (2, 3, 4)


def test_batch_first_note_gives_the_state_shape():
    assert questions.batch_first().notes == (
        "h_n has shape (2, 3, 4) (num_layers, batch, hidden_size) either way",
    )


def test_gradients_compare_every_parameter():
    result = questions.gradients()
    assert len(result.comparisons) == 9
    assert result.comparisons["d loss / d input"].numel == 6 * 3 * 3
    assert result.comparisons["d loss / d weight_hh_l1"].numel == 16 * 4


def test_bidirectional_compares_both_directions_halves():
    result = questions.bidirectional()
    assert result.comparisons["output"].numel == 6 * 3 * 8
    assert result.comparisons["c_n"].numel == 2 * 3 * 4


# --- a claim that does not hold is reported ------------------------------------------------------


@pytest.mark.parametrize("name", ["scratch", "projection"])
def test_a_claim_that_does_not_hold_is_reported(off_scratch, name):
    result = QUESTIONS[name]()
    assert result.holds is False
    assert result.bitwise is False
    output = result.comparisons["output"]
    assert output.close is False
    assert output.mismatched == output.numel
    assert output.max_abs_diff == pytest.approx(1e-3, rel=1e-3)
    assert result.max_abs_diff == pytest.approx(1e-3, rel=1e-3)
    assert result.comparisons["h_n"].close is True
    assert result.comparisons["c_n"].close is True
    assert str(result).startswith("cpu, float32: FAILS\n")
    with pytest.raises(AssertionError, match=r"^claim failed: "):
        result.assert_holds()


def test_other_claims_are_unaffected_by_a_broken_scratch_lstm(off_scratch):
    assert questions.lstmcell_loop().holds is True


# --- bad arguments -------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("dtype", "shown"),
    [
        pytest.param(torch.float16, "torch.float16", id="float16"),
        pytest.param(torch.bfloat16, "torch.bfloat16", id="bfloat16"),
        pytest.param(torch.int64, "torch.int64", id="int64"),
        pytest.param(int, "<class 'int'>", id="int"),
        pytest.param("float32", "'float32'", id="str"),
    ],
)
@pytest.mark.parametrize("name", NAMES)
def test_question_rejects_a_dtype(name, dtype, shown):
    with pytest.raises(
        TypeError,
        match=rf"^Expected dtype torch\.float32 or torch\.float64, but got {re.escape(shown)} instead\.$",
    ):
        QUESTIONS[name]("cpu", dtype)


@pytest.mark.parametrize("device", ["cuda", "cuda:0", torch.device("cuda")], ids=["cuda", "cuda:0", "device"])
@pytest.mark.parametrize("name", NAMES)
def test_question_rejects_a_device_this_machine_lacks(name, device, cpu_only):
    with pytest.raises(
        ValueError,
        match=rf"^Expected one of this machine's devices \(cpu\), but got '{re.escape(str(device))}' instead\.$",
    ):
        QUESTIONS[name](device)


@pytest.mark.parametrize("name", NAMES)
def test_question_rejects_a_device_name_that_is_no_device(name):
    with pytest.raises(
        ValueError, match=r"^Expected a device name such as 'cpu' or 'cuda:0', but got 'nonsense' instead \("
    ):
        QUESTIONS[name]("nonsense", torch.float64)


@pytest.mark.parametrize("device", [3, None], ids=["int", "None"])
@pytest.mark.parametrize("name", NAMES)
def test_question_rejects_a_device_of_the_wrong_type(name, device):
    kind = type(device).__name__
    with pytest.raises(
        TypeError, match=rf"^Expected device to be a string or torch\.device, but got {kind} instead\.$"
    ):
        QUESTIONS[name](device)


def test_float64_on_mps_is_refused(monkeypatch):
    monkeypatch.setattr(torch.backends.mps, "is_available", lambda: True)
    with pytest.raises(ValueError, match=r"^Expected dtype torch.float32 on mps, which has no float64"):
        QUESTIONS["scratch"]("mps", torch.float64)


def test_prove_prints_and_returns_nothing(capsys):
    assert questions.prove(QUESTIONS["rnn"], [torch.device("cpu")]) is None
    printed = capsys.readouterr().out.splitlines()
    assert printed[2] == "cpu, float32: holds"
