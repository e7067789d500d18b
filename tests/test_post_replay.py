"""post.replay: experiment 2 replayed from its seed, checked against the printed text character for character."""

from __future__ import annotations

import itertools
import re

import pytest
import torch

from lstm_demo.post import (
    EXPERIMENT_2,
    PRINTED_TOLERANCE,
    Draws,
    experiment_2_draws,
    experiment_2_inputs,
    experiment_2_outputs,
    experiment_2_printout,
    replay_experiment_2,
    same_text,
)
from lstm_demo.post.replay import _stream_position

pytestmark = pytest.mark.usefixtures("one_thread")


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
