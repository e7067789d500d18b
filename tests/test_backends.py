"""Tests for lstm_demo.backends: the oneDNN switch, autograd nodes, and the tables built on them."""

from __future__ import annotations

import dataclasses

import pytest
import torch
from torch import nn

from lstm_demo.backends import (
    BackendRun,
    BackendRuns,
    ClaimBackends,
    ClaimsByBackend,
    autograd_node,
    claims_by_backend,
    whole_vs_stepwise_by_backend,
)
from lstm_demo.claims import claim_result
from lstm_demo.comparison import compare
from lstm_demo.models import post_first_model
from lstm_demo.precision import onednn
from lstm_demo.stepwise import run_stepwise
from lstm_demo.tolerances import tolerance_for

ONEDNN_NODE = "MkldnnRnnLayerBackward0" if torch.backends.mkldnn.is_available() else "StackBackward0"


@pytest.fixture
def model() -> tuple[nn.LSTM, torch.Tensor]:
    torch.manual_seed(0)
    return post_first_model(), torch.randn(2, 3, 4)


# --- onednn ---------------------------------------------------------------


@pytest.mark.parametrize("enabled", [True, False])
def test_onednn_sets_and_restores(enabled: bool) -> None:
    before = torch.backends.mkldnn.enabled
    with onednn(enabled):
        assert torch.backends.mkldnn.enabled is enabled
    assert torch.backends.mkldnn.enabled is before


def test_onednn_restores_after_an_error() -> None:
    before = torch.backends.mkldnn.enabled
    msg = "inside"
    with pytest.raises(RuntimeError, match=msg), onednn(not before):
        raise RuntimeError(msg)
    assert torch.backends.mkldnn.enabled is before


@pytest.mark.parametrize("bad", [1, None, "off"])
def test_onednn_rejects_non_bool(bad: object) -> None:
    with (
        pytest.raises(TypeError, match=r"^Expected enabled to be True or False, but got "),
        onednn(bad),  # type: ignore[arg-type]
    ):
        pass


# --- autograd_node --------------------------------------------------------


def test_autograd_node_names_the_implementation(model: tuple[nn.LSTM, torch.Tensor]) -> None:
    lstm, x = model
    with onednn(True):
        assert autograd_node(lstm(x)[0]) == ONEDNN_NODE
    with onednn(False):
        assert autograd_node(lstm(x)[0]) == "StackBackward0"


def test_autograd_node_skips_layout_nodes() -> None:
    x = torch.ones(2, 3, requires_grad=True)
    assert autograd_node((x + 1).transpose(0, 1).unsqueeze(0)) == "AddBackward0"


def test_autograd_node_without_a_graph(model: tuple[nn.LSTM, torch.Tensor]) -> None:
    lstm, x = model
    with torch.no_grad():
        assert autograd_node(lstm(x)[0]) == "-"
    assert autograd_node(torch.ones(3)) == "-"


def test_autograd_node_rejects_non_tensor() -> None:
    with pytest.raises(TypeError, match=r"^Expected tensor to be a torch.Tensor, but got "):
        autograd_node([1.0])  # type: ignore[arg-type]


# --- whole_vs_stepwise_by_backend -------------------------------------------


def test_runs_cover_grad_and_onednn_on_the_cpu(model: tuple[nn.LSTM, torch.Tensor]) -> None:
    lstm, x = model
    runs = whole_vs_stepwise_by_backend(lstm, x, devices=["cpu"])
    settings = [(run.device, run.grad, run.onednn) for run in runs]
    cpu = torch.device("cpu")
    assert settings == [(cpu, True, True), (cpu, True, False), (cpu, False, True), (cpu, False, False)]
    assert [run.node for run in runs] == [ONEDNN_NODE, "StackBackward0", "-", "-"]
    for run in runs:
        assert run.comparison.numel == 2 * 3 * 5 + 2 * (2 * 5)
        assert run.comparison.max_abs_diff < 1e-6, run
    # The runs show themselves: a header and a line per run, and the same rows on a page.
    assert isinstance(runs, BackendRuns)
    assert str(runs) == str(runs.table())
    assert len(str(runs).splitlines()) == 1 + len(runs)
    assert runs._repr_html_() == runs.table()._repr_html_()


def test_runs_measure_what_a_direct_run_measures(model: tuple[nn.LSTM, torch.Tensor]) -> None:
    lstm, x = model
    runs = whole_vs_stepwise_by_backend(lstm, x, devices=[torch.device("cpu")])
    for run in runs:
        with onednn(run.onednn), torch.set_grad_enabled(run.grad):
            out, (h, c) = lstm(x)
            out_s, (h_s, c_s) = run_stepwise(lstm, x)
        pairs = [(out_s, out), (h_s, h), (c_s, c)]
        assert run.comparison.equal == all(torch.equal(a, b) for a, b in pairs)
        expected = max((a - b).abs().max().item() for a, b in pairs)
        assert run.comparison.max_abs_diff == expected


def test_runs_leave_the_switches_as_they_were(model: tuple[nn.LSTM, torch.Tensor]) -> None:
    lstm, x = model
    before = torch.backends.mkldnn.enabled, torch.is_grad_enabled()
    whole_vs_stepwise_by_backend(lstm, x, devices=["cpu"])
    assert (torch.backends.mkldnn.enabled, torch.is_grad_enabled()) == before


def test_runs_with_an_initial_state_and_a_gru() -> None:
    torch.manual_seed(1)
    gru = nn.GRU(3, 2)
    runs = whole_vs_stepwise_by_backend(gru, torch.randn(4, 1, 3), torch.randn(1, 1, 2), devices=["cpu"])
    assert len(runs) == 4
    assert all(run.comparison.numel == 4 * 2 + 2 for run in runs)
    assert all(run.comparison.close for run in runs)


@pytest.mark.parametrize(
    ("kwargs", "message"),
    [
        ({"rnn": nn.Linear(4, 5)}, r"^Expected rnn to be an nn.LSTM, nn.GRU or nn.RNN, but got "),
        ({"input": [[1.0]]}, r"^Expected input to be a torch.Tensor, but got "),
        ({"devices": "cpu"}, r"^Expected devices to be a list of torch.device or str, but got "),
        ({"devices": [0]}, r"^Expected each device to be a torch.device or str, but got "),
    ],
)
def test_runs_reject_bad_arguments(model: tuple[nn.LSTM, torch.Tensor], kwargs: dict, message: str) -> None:
    lstm, x = model
    arguments = {"rnn": lstm, "input": x, "devices": ["cpu"], **kwargs}
    with pytest.raises(TypeError, match=message):
        whole_vs_stepwise_by_backend(arguments.pop("rnn"), arguments.pop("input"), **arguments)


def test_runs_raise_run_stepwise_errors_and_restore_the_switch(model: tuple[nn.LSTM, torch.Tensor]) -> None:
    lstm, _ = model
    before = torch.backends.mkldnn.enabled
    with pytest.raises(ValueError, match=r"^Expected"):
        whole_vs_stepwise_by_backend(lstm, torch.randn(2, 3, 7), devices=["cpu"])
    assert torch.backends.mkldnn.enabled is before


def test_backend_runs_show_as_a_table() -> None:
    same = compare(torch.ones(3), torch.ones(3))
    apart = compare(torch.tensor([1.0, 2.0]), torch.tensor([1.0, 2.25]))
    runs = [
        BackendRun(torch.device("cpu"), True, False, "StackBackward0", apart),
        BackendRun(torch.device("cuda:0"), False, None, "-", same),
    ]
    assert str(BackendRuns(runs)).splitlines() == [
        "device  autograd  oneDNN  autograd node   step by step vs whole",
        "cpu     on        off     StackBackward0  NOT close, max abs diff 0.25",
        "cuda:0  off       n/a     -               bitwise equal",
    ]


def test_backend_runs_hold_only_backend_runs() -> None:
    with pytest.raises(TypeError, match=r"^Expected runs to hold BackendRun, but got "):
        BackendRuns([("cpu", "on")])  # type: ignore[list-item]


# --- claims_by_backend ------------------------------------------------------


def _recording(seen: list[tuple[bool, torch.device, torch.dtype]], apart: float = 0.0):
    def question(device: torch.device, dtype: torch.dtype):
        seen.append((torch.backends.mkldnn.enabled, torch.device(device), dtype))
        pair = (torch.tensor([1.0 + apart], dtype=dtype), torch.tensor([1.0], dtype=dtype))
        return claim_result("a claim", torch.device(device), dtype, {"output": pair})

    return question


def test_claims_run_with_onednn_on_then_off() -> None:
    seen: list = []
    before = torch.backends.mkldnn.enabled
    rows = claims_by_backend({"one": _recording(seen)}, dtype=torch.float64)
    cpu = torch.device("cpu")
    assert seen == [(True, cpu, torch.float64), (False, cpu, torch.float64)]
    assert torch.backends.mkldnn.enabled is before
    assert [row.name for row in rows] == ["one"]
    assert rows[0].on.bitwise
    assert rows[0].off is not None
    assert rows[0].off.bitwise
    assert isinstance(rows, ClaimsByBackend)
    assert str(rows).splitlines()[1].split() == ["one", "bitwise", "equal", "bitwise", "equal", "no"]


def test_claims_run_once_off_the_cpu() -> None:
    seen: list = []
    rows = claims_by_backend({"one": _recording(seen)}, device="cuda:0")
    assert [(device, dtype) for _, device, dtype in seen] == [(torch.device("cuda:0"), torch.float32)]
    assert rows[0].off is None
    assert rows[0].row() == ("one", "bitwise equal", "n/a", "n/a")
    assert rows[0].switch_changed_bits is None


def test_claims_by_backend_runs_the_real_claims() -> None:
    from lstm_demo.claims import CLAIMS

    rows = claims_by_backend({"batch-first": CLAIMS["batch-first"], "rnn": CLAIMS["rnn"]})
    assert [row.name for row in rows] == ["batch-first", "rnn"]
    for row in rows:
        assert row.on.holds
        assert row.off is not None
        assert row.off.holds


def test_claims_by_backend_show_as_a_table() -> None:
    tol = tolerance_for("cpu", torch.float32)
    results = {
        name: _recording([], apart)(torch.device("cpu"), torch.float32)
        for name, apart in [("same", 0.0), ("near", 2**-20), ("far", 10 * tol.atol + 1)]
    }
    rows = [ClaimBackends(name, result, result) for name, result in results.items()]
    assert str(ClaimsByBackend(rows)).splitlines() == [
        "claim  oneDNN on              oneDNN off             module's bits moved",
        "same   bitwise equal          bitwise equal          no",
        "near   max abs diff 9.54e-07  max abs diff 9.54e-07  no",
        "far    FAILS, max abs diff 1  FAILS, max abs diff 1  no",
    ]


def test_the_switch_is_seen_in_the_modules_own_bits() -> None:
    from lstm_demo.claims import CLAIMS

    # An nn.GRU leaves its bits alone when oneDNN is switched.
    (row,) = claims_by_backend({"gru": CLAIMS["gru"]})
    assert row.switch_changed_bits is False
    assert row.row()[-1] == "no"
    # Results whose module side differs in one bit say "yes".
    same = _recording([], 0.0)(torch.device("cpu"), torch.float32)
    reference = same.reference[0].clone()
    reference.view(-1)[0] = torch.nextafter(reference.view(-1)[0], torch.tensor(2.0))
    moved = dataclasses.replace(same, reference=(reference, *same.reference[1:]))
    assert ClaimBackends("x", same, moved).switch_changed_bits is True
    assert ClaimBackends("x", same, moved).row()[-1] == "yes"


@pytest.mark.parametrize(
    ("kwargs", "message"),
    [
        (
            {"claims": [_recording([])]},
            r"^Expected claims to be a mapping of names to claims, but got ",
        ),
        ({"claims": {"one": 1}}, r"^Expected claims to be a mapping of names to claims, but got "),
        (
            {"claims": {"one": _recording([])}, "device": 0},
            r"^Expected device to be a torch.device or str",
        ),
    ],
)
def test_claims_reject_bad_arguments(kwargs: dict, message: str) -> None:
    with pytest.raises(TypeError, match=message):
        claims_by_backend(**kwargs)


def test_claims_by_backend_hold_only_claim_backends() -> None:
    with pytest.raises(TypeError, match=r"^Expected rows to hold ClaimBackends, but got "):
        ClaimsByBackend(["one"])  # type: ignore[list-item]


# --- on a page: the tables as HTML ------------------------------------------------------------

import xml.etree.ElementTree as ET


def _html_rows(markup: str) -> list[list[str]]:
    root = ET.fromstring(markup)
    return [["".join(cell.itertext()) for cell in row] for row in root.iterfind("table/tbody/tr")]


def test_backend_runs_html() -> None:
    apart = compare(torch.tensor([1.0, 2.0]), torch.tensor([1.0, 2.25]))
    runs = [BackendRun(torch.device("cpu"), True, False, "StackBackward0", apart)]
    markup = BackendRuns(runs)._repr_html_()
    root = ET.fromstring(markup)
    assert root.findtext("table/caption") == "Step by step against the whole sequence, under each setting"
    assert [(th.get("scope"), th.text) for th in root.iterfind("table/thead/tr/th")] == [
        ("col", "device"),
        ("col", "autograd"),
        ("col", "oneDNN"),
        ("col", "autograd node"),
        ("col", "step by step vs whole"),
    ]
    assert _html_rows(markup) == [["cpu", "on", "off", "StackBackward0", "NOT close, max abs diff 0.25"]]
    assert 'data-label="step by step vs whole" class="lstm-demo-bad"' in markup


def test_claims_by_backend_html() -> None:
    tol = tolerance_for("cpu", torch.float32)
    near = _recording([], 2**-20)(torch.device("cpu"), torch.float32)
    far = _recording([], 10 * tol.atol + 1)(torch.device("cpu"), torch.float32)
    rows = [ClaimBackends("near <1>", near, near), ClaimBackends("far", far, None)]
    markup = ClaimsByBackend(rows)._repr_html_()
    assert "near &lt;1&gt;" in markup
    assert _html_rows(markup) == [
        ["near <1>", "max abs diff 9.54e-07", "max abs diff 9.54e-07", "no"],
        ["far", "FAILS, max abs diff 1", "n/a", "n/a"],
    ]
    assert ET.fromstring(markup).findtext("table/caption", "").startswith("Each claim with oneDNN on and off")
