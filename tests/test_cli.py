"""python -m lstm_demo check and mutants: the tables, --json, the exit codes, and clear errors for bad arguments."""

from __future__ import annotations

import io
import json
import re
import runpy
import sys
from pathlib import Path

import pytest
import torch

from lstm_demo import claims
from lstm_demo.claims import CLAIMS
from lstm_demo.cli import main
from lstm_demo.mutants import CONTROL, MUTANTS, TARGETS, Equations, Mutant
from lstm_demo.scratch import scratch_lstm

ROOT = Path(__file__).resolve().parent.parent
NAMES = list(CLAIMS)
HEADER = "claim           device   dtype    max abs diff  tolerance                 verdict"
FLOAT32_TOL = "rtol=1.3e-06, atol=1e-05"
FLOAT64_TOL = "rtol=1e-07, atol=1e-07"


def row_pattern(name: str, dtype: str = "float32", tol: str = FLOAT32_TOL, verdict: str = "holds") -> str:
    """A table row as the issue describes it: claim, device, dtype, max abs diff, tolerance, verdict."""
    return (
        rf"^{re.escape(name)} +cpu +{dtype} +\d\.\d\de[+-]\d\d  {re.escape(tol)} +{verdict}( \(bitwise\))?$"
    )


@pytest.fixture(autouse=True)
def cpu_only(monkeypatch):
    """This machine as one with only a CPU, so the default devices are [cpu] wherever the tests run."""
    monkeypatch.setattr(torch.cuda, "is_available", lambda: False)
    monkeypatch.setattr(torch.backends.mps, "is_available", lambda: False)


def run(*argv: str) -> tuple[int, str, str]:
    out, err = io.StringIO(), io.StringIO()
    code = main(list(argv), out=out, err=err)
    return code, out.getvalue(), err.getvalue()


def rows(text: str) -> list[str]:
    """The table rows: lines that start with a claim name."""
    return [line for line in text.splitlines() if line.split(" ", 1)[0] in CLAIMS]


# --- the table -----------------------------------------------------------------------------------


def test_check_runs_every_claim_on_cpu():
    code, out, err = run("check")
    assert code == 0
    assert err == ""
    lines = out.splitlines()
    n = len(NAMES)
    assert lines[0] == f"torch {torch.__version__} on cpu; {n} claims"
    assert lines[1] == HEADER
    table = lines[2:-1]
    for name, line in zip(NAMES, table, strict=True):
        assert re.match(row_pattern(name), line), line
    assert re.fullmatch(rf"{n} of {n} runs hold, 0 fail \(\d+\.\d s\)", lines[-1]), lines[-1]


def test_check_rows_show_bitwise_where_bitwise():
    _, out, _ = run("check", "--claim", "flatten", "--claim", "dropout")
    # flatten runs one module twice on one input; dropout's masks are drawn in the same order.
    assert rows(out) == [
        f"flatten         cpu      float32      0.00e+00  {FLOAT32_TOL}  holds (bitwise)",
        f"dropout         cpu      float32      0.00e+00  {FLOAT32_TOL}  holds (bitwise)",
    ]


def test_check_selected_claims_in_the_order_given():
    code, out, _ = run("check", "--claim", "rnn", "--claim", "scratch", "--claim", "packed")
    assert code == 0
    lines = out.splitlines()
    assert lines[0] == f"torch {torch.__version__} on cpu; 3 claims"
    assert [line.split()[0] for line in rows(out)] == ["rnn", "scratch", "packed"]
    assert re.fullmatch(r"3 of 3 runs hold, 0 fail \(\d+\.\d s\)", lines[-1])


def test_check_float64():
    code, out, _ = run("check", "--dtype", "float64", "--claim", "gradients", "--claim", "projection")
    assert code == 0
    table = rows(out)
    assert len(table) == 2
    assert re.match(row_pattern("gradients", "float64", FLOAT64_TOL), table[0]), table[0]
    assert re.match(row_pattern("projection", "float64", FLOAT64_TOL), table[1]), table[1]


def test_check_two_dtypes_gives_two_rows_per_claim():
    code, out, _ = run(
        "check", "--dtype", "float32", "--dtype", "float64", "--claim", "rnn", "--claim", "flatten"
    )
    assert code == 0
    table = rows(out)
    for k, name in enumerate(["rnn", "flatten"]):
        assert re.match(row_pattern(name, "float32", FLOAT32_TOL), table[2 * k]), table[2 * k]
        assert re.match(row_pattern(name, "float64", FLOAT64_TOL), table[2 * k + 1]), table[2 * k + 1]
    assert out.splitlines()[-1].startswith("4 of 4 runs hold, 0 fail (")


def test_check_explicit_device():
    code, out, _ = run("check", "--device", "cpu", "--claim", "flatten")
    assert code == 0
    assert len(rows(out)) == 1
    assert re.match(row_pattern("flatten"), rows(out)[0])


def test_check_verbose_prints_every_comparison():
    code, out, _ = run("check", "-v", "--claim", "flatten", "--claim", "rnn")
    assert code == 0
    lines = out.splitlines()
    assert re.match(row_pattern("flatten"), lines[2]), lines[2]
    width = len("output, after flatten_parameters()")
    assert lines[3:9] == [
        f"      {'tolerance':<{width}}  {FLOAT32_TOL} (torch.testing's default for float32)",
        f"      {'output, weights as built':<{width}}  bitwise equal (72 elements)",
        f"      {'output, weights replaced':<{width}}  bitwise equal (72 elements)",
        "      output, after flatten_parameters()  bitwise equal (72 elements)",
        "      note: warning before flatten_parameters(): no; after: no",
        "      note: the replaced weights move the output by 0.117",
    ]
    assert re.match(row_pattern("rnn"), lines[9]), lines[9]
    rnn_labels = [line[6:].split("  ")[0] for line in lines[11:19]]
    assert rnn_labels == [
        f"{n}, {w}: {leaf}"
        for n in ("tanh", "relu")
        for w in ("one step at a time", "stacked layers")
        for leaf in ("output", "h_n")
    ]
    assert len(lines) == 20


def test_check_without_verbose_prints_no_comparisons():
    _, out, _ = run("check", "--claim", "batch-first")
    assert "bitwise equal (72 elements)" not in out
    assert "note:" not in out
    assert len(out.splitlines()) == 4  # header, columns, one row, summary


def test_list_prints_every_claim():
    code, out, err = run("check", "--list")
    assert code == 0
    assert err == ""
    lines = out.splitlines()
    named = [line.split()[0] for line in lines[:-1] if not line.startswith(" ")]
    assert named == NAMES
    text = " ".join(" ".join(lines).split())
    for name, registered in CLAIMS.items():
        assert registered.sentence in text, name
    assert "mutation check: forward=run_stepwise" in text  # post-stepwise's independent side
    assert "mutation check: stepwise=run_stepwise, stacked=split_and_stack" in text  # gru's and rnn's
    assert (
        lines[-1]
        == f"{len(NAMES)} of {len(NAMES)} claims have a mutation check (python -m lstm_demo mutants)"
    )
    assert all(len(line) <= 100 for line in lines)
    assert HEADER not in out


# --- --json --------------------------------------------------------------------------------------


def test_json_output():
    code, out, err = run("check", "--json", "--claim", "scratch", "--claim", "flatten", "--dtype", "float64")
    assert code == 0
    data = json.loads(out)
    assert sorted(data) == ["environment", "results"]
    environment = data["environment"]
    assert environment["torch"] == torch.__version__
    assert environment["devices"] == ["cpu"]
    assert {"python", "platform", "lstm_demo", "cuda", "cudnn", "date", "flags"} <= set(environment)
    results = data["results"]
    assert [r["claim"] for r in results] == ["scratch", "flatten"]
    for record, name in zip(results, ["scratch", "flatten"], strict=True):
        assert record["holds"] is True
        assert record["sentence"] == CLAIMS[name].sentence
        assert record["device"] == "cpu"
        assert record["dtype"] == "float64"
        assert record["tolerance"]["rtol"] == 1e-7
        assert record["tolerance"]["atol"] == 1e-7
        assert record["tolerance"]["why"].startswith("torch.testing's default for float64 (rtol 1e-07")
        assert "measured" in record["tolerance"]["why"]
        assert isinstance(record["max_abs_diff"], float)
        assert record["max_abs_diff"] < 1e-7
    assert list(results[0]["comparisons"]) == ["output", "h_n", "c_n"]
    output = results[0]["comparisons"]["output"]
    assert sorted(output) == ["close", "equal", "max_abs_diff", "max_rel_diff", "mismatched", "numel"]
    assert output["close"] is True
    assert output["mismatched"] == 0
    assert output["numel"] == 6 * 3 * 8
    assert results[1]["notes"][0] == "warning before flatten_parameters(): no; after: no"
    assert results[1]["bitwise"] is True
    # Progress goes to stderr, so stdout is nothing but the JSON.
    err_lines = err.splitlines()
    assert err_lines[0] == f"torch {torch.__version__} on cpu; 2 claims"
    assert err_lines[1:3] == ["scratch on cpu: holds", "flatten on cpu: holds"]
    assert re.fullmatch(r"2 of 2 runs hold, 0 fail \(\d+\.\d s\)", err_lines[3])
    assert len(err_lines) == 4
    assert HEADER not in out


def test_json_keeps_the_order_the_claims_were_asked_in():
    code, out, _ = run("check", "--json", "--claim", "rnn", "--claim", "batch-first", "--claim", "rnn")
    assert code == 0
    results = json.loads(out)["results"]
    assert [r["claim"] for r in results] == ["rnn", "batch-first"]  # each once
    assert all(r["holds"] is True for r in results)
    assert all((r["tolerance"]["rtol"], r["tolerance"]["atol"]) == (1.3e-6, 1e-5) for r in results)


# --- failures --------------------------------------------------------------------------------------


@pytest.fixture
def off_scratch(monkeypatch):
    """scratch_lstm, as the claims see it, off by 1e-3 in its output."""
    real = scratch_lstm
    for name in ("scratch", "projection"):  # their independent side
        assert claims.CLAIMS[name].sides["forward"] is real
        monkeypatch.setitem(
            claims.CLAIMS[name].sides, "forward", lambda *args: (real(*args)[0] + 1e-3, real(*args)[1])
        )


def test_a_failing_claim_exits_1_and_shows_its_comparisons(off_scratch):
    code, out, _ = run("check", "--claim", "scratch", "--claim", "rnn")
    assert code == 1
    lines = out.splitlines()
    assert re.match(row_pattern("scratch", verdict="FAILS"), lines[2]), lines[2]
    assert lines[2].endswith(" FAILS")
    assert " 1.00e-03  " in lines[2]
    # Without -v, the failing claim's comparisons are printed below its row.
    assert lines[3] == f"      tolerance  {FLOAT32_TOL} (torch.testing's default for float32)"
    assert re.match(
        r"^      output     NOT close: 144 / 144 \(100\.0%\) elements outside the tolerance", lines[4]
    )
    assert lines[5].startswith("      h_n        ")
    assert lines[6].startswith("      c_n        ")
    assert re.match(row_pattern("rnn"), lines[7]), lines[7]
    assert re.fullmatch(r"1 of 2 runs hold, 1 fail \(\d+\.\d s\)", lines[8])
    assert len(lines) == 9


def test_a_failing_claim_in_json(off_scratch):
    code, out, err = run("check", "--json", "--claim", "projection")
    assert code == 1
    (record,) = json.loads(out)["results"]
    assert record["holds"] is False
    assert record["comparisons"]["output"]["close"] is False
    assert record["comparisons"]["h_n"]["close"] is True
    assert record["max_abs_diff"] == pytest.approx(1e-3, rel=1e-3)
    assert "projection on cpu: FAILS" in err.splitlines()
    assert err.splitlines()[-1].startswith("0 of 1 runs hold, 1 fail (")


@pytest.fixture
def broken_rnn(monkeypatch):
    def broken(device="cpu", dtype=torch.float32, *, seed=0):
        msg = "boom"
        raise RuntimeError(msg)

    broken.sentence = "A claim whose code raises."
    monkeypatch.setitem(CLAIMS, "rnn", broken)


def test_an_exception_in_a_claim_is_an_error_row(broken_rnn):
    code, out, _ = run("check", "--claim", "rnn", "--claim", "gru")
    assert code == 1
    lines = out.splitlines()
    assert lines[2] == "rnn             cpu      float32  ERROR RuntimeError('boom')"
    assert re.match(row_pattern("gru"), lines[3]), lines[3]
    assert re.fullmatch(r"1 of 2 runs hold, 1 fail \(\d+\.\d s\)", lines[4])


def test_an_exception_in_a_claim_in_json(broken_rnn):
    code, out, err = run("check", "--json", "--claim", "rnn", "--dtype", "float32", "--dtype", "float64")
    assert code == 1
    records = json.loads(out)["results"]
    assert len(records) == 2
    for record, dtype in zip(records, ["float32", "float64"], strict=True):
        assert record["claim"] == "rnn"
        assert record["device"] == "cpu"
        assert record["holds"] is False
        assert record["error"] == "RuntimeError('boom')"
        # Which of the two runs failed must be told apart.
        assert record.get("dtype") == dtype, record
    assert "rnn             cpu      float32  ERROR RuntimeError('boom')" in err.splitlines()


# --- bad arguments exit 2 ------------------------------------------------------------------------


def bad(capsys, *argv: str) -> str:
    """Run with ``argv``, expect exit code 2, return the last line of stderr."""
    out, err = io.StringIO(), io.StringIO()
    with pytest.raises(SystemExit) as exit_info:
        main(list(argv), out=out, err=err)
    assert exit_info.value.code == 2
    assert out.getvalue() == ""
    captured = capsys.readouterr()
    assert captured.out == ""
    return captured.err.strip().splitlines()[-1]


def test_unknown_claim(capsys):
    message = bad(capsys, "check", "--claim", "rnn", "--claim", "nope")
    assert message == (
        f"python -m lstm_demo check: error: Expected claim names from {', '.join(NAMES)}, but got nope instead."
    )


def test_dtype_float16(capsys):
    message = bad(capsys, "check", "--dtype", "float16")
    assert (
        message
        == "python -m lstm_demo check: error: Expected --dtype float32 or float64, but got 'float16' instead."
    )


def test_device_cuda_on_a_cpu_only_machine(capsys):
    message = bad(capsys, "check", "--device", "cuda")
    assert message == (
        "python -m lstm_demo check: error: Expected one of this machine's devices (cpu), but got 'cuda' instead."
    )


def test_device_bogus(capsys):
    message = bad(capsys, "check", "--device", "bogus")
    assert message.startswith(
        "python -m lstm_demo check: error: Expected a device name such as 'cpu' or 'cuda:0', "
        "but got 'bogus' instead ("
    )


def test_no_subcommand(capsys):
    message = bad(capsys)
    assert message == "python -m lstm_demo: error: the following arguments are required: COMMAND"


def test_unknown_subcommand(capsys):
    message = bad(capsys, "verify")
    assert message.startswith("python -m lstm_demo: error: argument COMMAND: invalid choice: 'verify'")


def test_unknown_option(capsys):
    message = bad(capsys, "check", "--fast")
    assert message == "python -m lstm_demo: error: unrecognized arguments: --fast"


# --- python -m lstm_demo -------------------------------------------------------------------------


def test_module_entry_point(monkeypatch, capsys):
    # What `python -m lstm_demo check --claim rnn` runs, in this process (a new
    # interpreter would spend seconds importing torch again).
    monkeypatch.setattr(sys, "argv", ["lstm_demo", "check", "--claim", "rnn"])
    with pytest.raises(SystemExit) as exited:
        runpy.run_module("lstm_demo", run_name="__main__", alter_sys=True)
    assert exited.value.code == 0
    lines = capsys.readouterr().out.splitlines()
    assert lines[0].startswith(f"torch {torch.__version__} on cpu")
    assert lines[0].endswith("; 1 claim")
    assert lines[1] == HEADER
    assert re.match(row_pattern("rnn"), lines[2]), lines[2]
    runs = len(lines) - 3
    assert re.fullmatch(rf"{runs} of {runs} runs hold, 0 fail \(\d+\.\d s\)", lines[-1]), lines[-1]


def test_a_claim_named_twice_runs_once():
    out, err = io.StringIO(), io.StringIO()
    assert main(["check", "--claim", "rnn", "--claim", "gru", "--claim", "rnn"], out=out, err=err) == 0
    rows = [line.split()[0] for line in out.getvalue().splitlines()[2:-1]]
    assert rows == ["rnn", "gru"]


# --- python -m lstm_demo mutants -------------------------------------------------------------------


def test_mutants_every_one_caught_exits_0():
    code, out, err = run("mutants", "--claim", "post-stepwise", "--claim", "post-layers")
    assert code == 0, out
    assert err == ""
    lines = out.splitlines()
    assert lines[0] == f"torch {torch.__version__} on cpu; TF32 off"
    assert lines[1].split() == ["mutant", "claim", "verdict"]
    body = lines[2:-1]
    # Neither claim gives a state, calls twice, packs or backpropagates, is bidirectional or
    # projected, so only the plain LSTM mutants make their mistake there, and layer 2 gets no
    # input on post-stepwise's single layer; post-stepwise's module is batch_first, so h_n can be misplaced.
    plain = ["gate-order", "hard-sigmoid", "one-bias", "h-not-carried", "c-not-carried", "no-tanh-on-c"]
    plain += ["forget-bias+0.1", "off-by-one-step", "peephole"]
    controls = [line for line in body if line.startswith(CONTROL)]
    assert [line.split()[2] for line in controls] == ["post-stepwise", "post-layers"]
    tried = {tuple(line.split()[:2]) for line in body if not line.startswith(CONTROL)}
    assert tried == {(m, "post-stepwise") for m in [*plain, "h_n-batch-first"]} | {
        (m, "post-layers") for m in [*plain, "layer-2-gets-input"]
    }
    assert all("caught (" in line for line in body if not line.startswith(CONTROL))
    assert re.fullmatch(r"(\d+) of \1 mutant runs caught, 0 escapes \(\d+\.\d s\)", lines[-1])


def test_mutants_json_schema():
    code, out, err = run("mutants", "--json", "--claim", "lstmcell-loop", "--mutant", "no-tanh-on-c")
    assert code == 0
    data = json.loads(out)
    assert sorted(data) == ["results", "skipped", "tolerances"]
    assert data["skipped"] == []  # every framework is installed here
    assert [t["name"] for t in data["tolerances"]] == [
        "cpu float32", "cpu float64", "gpu float32", "gpu float64", "post printed",
    ]  # fmt: skip
    for tolerance in data["tolerances"]:
        assert sorted(tolerance) == ["atol", "name", "rtol", "why"]
        assert isinstance(tolerance["rtol"], float)
        assert isinstance(tolerance["atol"], float)
        assert re.search(r"\d\.?\d*e-\d\d", tolerance["why"])  # a measured figure, printed
    results = data["results"]
    assert len(results) == 2 * 2 * 3  # control and mutant, two dtypes, three tolerances each
    for record in results:
        assert {"mutant", "claim", "device", "dtype", "tolerance", "caught"} <= set(record)
        assert record["device"] == "cpu"
        assert record["caught"] is (record["mutant"] == "no-tanh-on-c")
    assert err.splitlines()[0] == f"torch {torch.__version__} on cpu; TF32 off"
    assert re.fullmatch(r"6 of 6 mutant runs caught, 0 escapes \(\d+\.\d s\)", err.splitlines()[-1])


def test_a_mutant_that_escapes_exits_1(monkeypatch):
    # A "mutant" that computes nn.LSTM exactly: every check must let it pass, so it escapes.
    monkeypatch.setitem(MUTANTS, "correct", Mutant("correct", "no mistake at all", Equations()))
    code, out, _ = run("mutants", "--claim", "scratch", "--mutant", "correct", "--dtype", "float32")
    assert code == 1
    line = next(line for line in out.splitlines() if line.startswith("correct"))
    assert line.split()[:3] == ["correct", "scratch", "ESCAPES:"]
    assert "cpu float32 at cpu float32, cpu float32 at gpu float32, cpu float32 at post printed" in line
    assert out.splitlines()[-1].startswith("0 of 3 mutant runs caught, 3 escapes")


def test_mutants_list():
    code, out, _ = run("mutants", "--list")
    assert code == 0
    names = [line.split()[0] for line in out.splitlines() if line.startswith("  ")]
    assert names == [*MUTANTS, *TARGETS]
    only = [line.split()[0] for line in out.splitlines() if "(only: " in line]
    assert only == ["last-output", "post-experiment-1", "post-experiment-2"]
    assert "  scratch" in out
    assert (
        next(line for line in out.splitlines() if line.startswith("  scratch")).split()[1]
        == "forward=scratch_lstm"
    )


@pytest.mark.parametrize(
    ("argv", "message"),
    [
        (
            ["--mutant", "nope"],
            f"Expected --mutant names from {', '.join(MUTANTS)}, but got nope instead.",
        ),
        (
            ["--claim", "nope"],
            f"Expected --claim names from {', '.join(TARGETS)}, but got nope instead.",
        ),
        (["--dtype", "float16"], "Expected --dtype float32 or float64, but got 'float16' instead."),
        (["--device", "cuda"], "Expected one of this machine's devices (cpu), but got 'cuda' instead."),
    ],
    ids=["mutant", "claim", "dtype", "device"],
)
def test_mutants_bad_arguments(capsys, argv, message):
    assert bad(capsys, "mutants", *argv) == f"python -m lstm_demo mutants: error: {message}"
