"""lstm_demo.speed and benchmarks/speed.py: what is timed, the statistics, the report; never the figures."""

from __future__ import annotations

import importlib.util
import json
import time
from pathlib import Path

import pytest
import torch

from lstm_demo import speed
from lstm_demo.speed import (
    CELL_LOOP,
    COMPILED,
    FUSED,
    LIBRARY_OFF,
    SCRATCH,
    STEPWISE,
    Scaling,
    Timing,
    Timings,
    quartiles,
    ratio_quartiles,
    ratios,
    time_lstm,
)

CPU = torch.device("cpu")
TINY = {
    "batch": 2,
    "input_size": 3,
    "hidden": 4,
    "seq_len": 3,
    "repeats": 5,
    "min_sample_time": 1e-4,
    "warmup": 0,
}
TINY_ARGS = ["--batch", "2", "--input-size", "3", "--hidden", "4", "--seq-len", "3", "--repeats", "5"]
TINY_ARGS += ["--min-sample-time", "0.0001", "--device", "cpu", "--no-pages"]


def _timing(name: str, samples: tuple[float, ...], backward: bool = False) -> Timing:
    return Timing(name, CPU, 2, 4, 3, backward, 1, samples)


@pytest.fixture(scope="module")
def benchmark():
    path = Path(__file__).resolve().parents[1] / "benchmarks" / "speed.py"
    spec = importlib.util.spec_from_file_location("speed_benchmark", path)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


# The statistics, on numbers worked out by hand.


@pytest.mark.parametrize(
    ("samples", "expected"),
    [
        ([5.0, 1.0, 4.0, 2.0, 3.0], (2.0, 3.0, 4.0)),
        # positions 1.25, 2.5, 3.75 of the sorted samples: 2 + 0.25 * 2, (4 + 8) / 2, 8 + 0.75 * 8
        ([32.0, 1.0, 16.0, 2.0, 8.0, 4.0], (2.5, 6.0, 14.0)),
        ([7.0], (7.0, 7.0, 7.0)),
        ([3.0, 1.0], (1.5, 2.0, 2.5)),
    ],
)
def test_quartiles(samples, expected):
    assert quartiles(samples) == pytest.approx(expected, rel=1e-12)


def test_quartiles_of_nothing():
    with pytest.raises(ValueError, match=r"^Expected at least one sample, but got none"):
        quartiles([])


def test_timing_median_iqr_n():
    timing = _timing(FUSED, (0.010, 0.002, 0.004, 0.008, 0.006, 0.100))
    assert timing.n == 6
    # sorted 2, 4, 6, 8, 10, 100 ms: q1 at position 1.25 = 4.5, median 7, q3 at 3.75 = 9.5
    assert timing.median == pytest.approx(0.007, rel=1e-12)
    assert timing.iqr == pytest.approx(0.005, rel=1e-12)


def test_ratios_pair_the_rounds():
    fused = _timing(FUSED, (1.0, 2.0, 1.0, 4.0, 1.0))
    loop = _timing(STEPWISE, (3.0, 4.0, 2.0, 20.0, 3.0))
    # per round 3, 2, 2, 5, 3: the median is 3
    assert ratios([fused, loop]) == {FUSED: 1.0, STEPWISE: 3.0}
    # the machine slows down in rounds 2, 4 and 5 while the loop runs: per round 1, 2, 1, 2, 8,
    # median 2, where the ratio of the medians (8 / 1) would say 8
    fused = _timing(FUSED, (1.0, 4.0, 1.0, 4.0, 1.0))
    loop = _timing(STEPWISE, (1.0, 8.0, 1.0, 8.0, 8.0))
    assert ratios([fused, loop]) == {FUSED: 1.0, STEPWISE: 2.0}


def test_ratio_quartiles_are_the_per_round_ratios_quartiles():
    fused = _timing(FUSED, (1.0, 2.0, 1.0, 4.0, 1.0))
    loop = _timing(STEPWISE, (3.0, 4.0, 2.0, 20.0, 3.0))  # per round 3, 2, 2, 5, 3
    found = ratio_quartiles([fused, loop])
    assert found[STEPWISE] == quartiles([3.0, 2.0, 2.0, 5.0, 3.0])
    assert found[STEPWISE][1] == ratios([fused, loop])[STEPWISE] == 3.0
    assert found[FUSED] == (1.0, 1.0, 1.0)


def test_the_library_off_runs_without_onednn_in_the_same_rounds(monkeypatch):
    seen = []
    real = torch.nn.LSTM.forward

    def spy(self, *args, **kwargs):
        seen.append(torch.backends.mkldnn.enabled)
        return real(self, *args, **kwargs)

    monkeypatch.setattr(torch.nn.LSTM, "forward", spy)
    before = torch.backends.mkldnn.enabled
    timings = time_lstm(names=(FUSED, FUSED + LIBRARY_OFF), **TINY)
    assert [t.name for t in timings] == [FUSED, "nn.LSTM (fused), library off"]
    assert {t.n for t in timings} == {5}
    assert True in seen
    assert False in seen  # the library-off calls ran with oneDNN switched off
    assert torch.backends.mkldnn.enabled is before  # and it is back as it was


def test_ratios_need_the_baseline_and_the_same_rounds():
    with pytest.raises(ValueError, match=r"^Expected a timing of 'nn.LSTM \(fused\)', but got only"):
        ratios([_timing(STEPWISE, (1.0,) * 5)])
    with pytest.raises(ValueError, match=r"^Expected timings of the same rounds, but got \[5, 6\] rounds"):
        ratios([_timing(FUSED, (1.0,) * 5), _timing(STEPWISE, (1.0,) * 6)])


def test_timings_print_their_report():
    timings = [
        _timing(FUSED, (0.002, 0.002, 0.003, 0.002, 0.001)),
        _timing(STEPWISE, (0.005, 0.004, 0.006, 0.005, 0.005)),
        _timing(FUSED, (0.004,) * 5, backward=True),
        _timing(STEPWISE, (0.006,) * 5, backward=True),
    ]
    lines = str(Timings(timings)).splitlines()
    assert lines[:2] == ["cpu, 1 CPU thread", "batch 2, hidden 4, 3 steps, float32"]
    assert lines[2].split() == ["forward", "median", "ms", "IQR", "ms", "n", "x", "fused"]
    # STEPWISE forward: median 5 ms, IQR 5 - 5 = 0, per round 2.5, 2, 2, 2.5, 5 -> 2.5
    assert lines[4].split() == [STEPWISE, "5.000", "0.000", "5", "2.50"]
    assert lines[3].split()[-4:] == ["2.000", "0.000", "5", "1.00"]
    assert lines[5].split()[:3] == ["forward", "+", "backward"]
    assert lines[7].split() == [STEPWISE, "6.000", "0.000", "5", "1.50"]
    assert max(len(line) for line in lines) < 79


# What is timed.


def test_every_implementation_is_timed_in_order_with_every_round():
    timings = time_lstm(**TINY)
    assert [t.name for t in timings] == [FUSED, STEPWISE, CELL_LOOP, SCRATCH]
    for t in timings:
        assert (t.device, t.batch, t.hidden, t.seq_len, t.backward) == (CPU, 2, 4, 3, False)
        assert t.n == 5
        assert len(t.samples) == 5
        assert all(s > 0 for s in t.samples)


def test_backward_a_chosen_subset_and_the_default_rounds():
    options = {k: v for k, v in TINY.items() if k != "repeats"}
    timings = time_lstm(backward=True, names=(STEPWISE, FUSED), **options)
    assert [(t.name, t.backward) for t in timings] == [(STEPWISE, True), (FUSED, True)]
    assert [t.n for t in timings] == [10, 10]


def test_rounds_rotate_the_order():
    log = []
    calls = {name: (lambda name=name: log.append(name)) for name in "abc"}
    samples = speed._rounds(calls, CPU, 5, 1e-12, 0.0)
    assert {name: len(values) for name, values in samples.items()} == {"a": 5, "b": 5, "c": 5}
    # WARMUP_CALLS warm-up calls each, then rounds each starting one further on
    assert speed.WARMUP_CALLS == 3
    assert "".join(log[:9]) == "aaabbbccc"
    assert "".join(log[9:]) == "abc" + "bca" + "cab" + "abc" + "bca"


def test_warm_up_lasts_its_seconds_before_the_rounds():
    starts = []

    def slow():
        starts.append(time.perf_counter())
        time.sleep(0.002)

    samples = speed._rounds({"slow": slow}, CPU, 5, 1e-12, 0.05)
    # one call per round at the end; before them, warm-up calls that lasted at least 0.05 s
    warm_up, rounds = starts[:-5], starts[-5:]
    assert len(warm_up) >= speed.WARMUP_CALLS
    assert rounds[0] - warm_up[0] >= 0.05
    assert len(samples["slow"]) == 5
    assert min(samples["slow"]) >= 0.002


def test_threads_are_pinned_while_timing_and_restored(monkeypatch):
    seen = []
    rounds = speed._rounds

    def spy(*args, **kwargs):
        seen.append(torch.get_num_threads())
        return rounds(*args, **kwargs)

    monkeypatch.setattr(speed, "_rounds", spy)
    before = torch.get_num_threads()
    pinned = 1 if before != 1 else 2
    timings = time_lstm(names=(FUSED,), threads=pinned, **TINY)
    assert seen == [pinned]
    assert timings[0].threads == pinned
    assert torch.get_num_threads() == before
    assert time_lstm(names=(FUSED,), **TINY)[0].threads == before


def test_timing_leaves_the_random_stream_alone():
    torch.manual_seed(3)
    expected = torch.rand(2)
    torch.manual_seed(3)
    time_lstm(names=(FUSED,), **TINY)
    assert torch.equal(torch.rand(2), expected)


# Bad input.


@pytest.mark.parametrize("size", ["batch", "input_size", "hidden", "seq_len"])
@pytest.mark.parametrize("bad", [0, -1, 2.5, True])
def test_sizes_must_be_positive_ints(size, bad):
    with pytest.raises(ValueError, match=rf"^Expected {size} to be a positive int, but got {bad!r}"):
        time_lstm(**{**TINY, size: bad})


@pytest.mark.parametrize("bad", [4, 0, 5.0, True])
def test_at_least_five_rounds(bad):
    with pytest.raises(ValueError, match=rf"^Expected repeats to be an int of at least 5, but got {bad!r}"):
        time_lstm(**{**TINY, "repeats": bad})


@pytest.mark.parametrize("bad", [0, -2, 1.5])
def test_threads_must_be_a_positive_int(bad):
    with pytest.raises(ValueError, match=rf"^Expected threads to be a positive int, but got {bad!r}"):
        time_lstm(threads=bad, **TINY)


@pytest.mark.parametrize("bad", [0, -0.1, "0.1", True, float("nan")])
def test_min_sample_time_must_be_positive(bad):
    with pytest.raises(
        ValueError,
        match=r"^Expected min_sample_time to be a positive number of seconds, but got ",
    ):
        time_lstm(**{**TINY, "min_sample_time": bad})


@pytest.mark.parametrize("bad", [-0.1, "0.1", True, float("nan")])
def test_warmup_must_be_a_number_of_seconds(bad):
    with pytest.raises(
        ValueError, match=r"^Expected warmup to be a number of seconds of at least 0, but got "
    ):
        time_lstm(**{**TINY, "warmup": bad})


def test_the_cpu_at_one_thread_reads_its_own_cpu_time(monkeypatch):
    read = []

    def ticks():  # a thread clock that moves 1 ms per reading: every measurement by it is the same
        read.append("thread")
        return len(read) * 1e-3

    monkeypatch.setitem(speed.CLOCKS, "thread", ticks)
    one = time_lstm(names=(FUSED,), threads=1, **TINY)
    assert read
    assert one[0].clock == "thread"
    assert one[0].samples == pytest.approx((one[0].samples[0],) * 5, rel=1e-9)
    assert one[0].samples[0] > 0
    assert str(one).splitlines()[0] == "cpu, 1 CPU thread (its CPU time)"
    read.clear()
    two = time_lstm(names=(FUSED,), threads=2, **TINY)
    assert read == []
    assert two[0].clock == "wall"
    assert min(two[0].samples) > 0
    assert str(two).splitlines()[0] == "cpu, 2 CPU threads"
    wall = time_lstm(names=(FUSED,), threads=1, clock="wall", **TINY)
    assert read == []
    assert wall[0].clock == "wall"


@pytest.mark.parametrize(("clock", "threads"), [("thread", 2), ("cpu", 1), (None, 1)])
def test_clock_must_be_one_that_applies(clock, threads):
    if clock is None:
        clock = 1  # not a name
    with pytest.raises(
        ValueError, match=r"^Expected clock to be 'wall', or 'thread' on the CPU at one thread, but got "
    ):
        time_lstm(names=(FUSED,), threads=threads, clock=clock, **TINY)


def test_unknown_implementation():
    with pytest.raises(ValueError, match=r"^Expected implementation names from .*, but got \['fast'\]"):
        time_lstm(names=("fast",), **TINY)


def test_compiled_is_named_only_when_compiled():
    with pytest.raises(ValueError, match=r"but got \['torch.compile\(LSTMCell loop\)'\]"):
        time_lstm(names=(COMPILED,), **TINY)


def test_a_device_this_machine_lacks():
    with pytest.raises(ValueError, match=r"^Expected one of this machine's devices"):
        time_lstm("cuda:7", **TINY)


# benchmarks/speed.py


def test_benchmark_json_schema(benchmark, capsys):
    benchmark.main(["--json", *TINY_ARGS])
    document = json.loads(capsys.readouterr().out)
    assert set(document) == {"threads", "warmup", "sizes", "repeats", "results"}
    assert document["threads"] == 1
    assert document["warmup"] == 0.2
    assert document["sizes"] == {"batch": 2, "input_size": 3, "hidden": 4, "seq_len": 3}
    results = document["results"]
    keys = {"device", "name", "backward", "median_ms", "iqr_ms", "n", "ratio"}
    assert all(set(r) == keys for r in results)
    # no torch.compile on the CPU unless asked
    names = [FUSED, STEPWISE, CELL_LOOP, SCRATCH]
    assert [(r["device"], r["name"], r["backward"]) for r in results] == [
        ("cpu", name, backward) for backward in (False, True) for name in names
    ]
    for r in results:
        assert r["n"] == 5
        assert r["median_ms"] > 0
        assert r["iqr_ms"] >= 0
        assert r["ratio"] > 0
    assert [r["ratio"] for r in results if r["name"] == FUSED] == [1.0, 1.0]


def test_benchmark_tables(benchmark, capsys):
    benchmark.main([*TINY_ARGS, "--repeats", "6"])
    lines = capsys.readouterr().out.splitlines()
    assert lines[:2] == ["cpu, 1 CPU thread (its CPU time)", "batch 2, hidden 4, 3 steps, float32"]
    assert lines[3].split()[:2] == ["nn.LSTM", "(fused)"]
    assert lines[3].split()[-2:] == ["6", "1.00"]


def test_benchmark_compares_with_an_earlier_run(benchmark, capsys, tmp_path):
    earlier = [
        {"device": "cpu", "name": FUSED, "backward": False, "ratio": 1.0},
        {"device": "cpu", "name": STEPWISE, "backward": False, "ratio": 4.0},
        {"device": "cpu", "name": CELL_LOOP, "backward": True, "ratio": 2.0},
    ]
    now = [
        {"device": "cpu", "name": FUSED, "backward": False, "ratio": 1.0},
        {"device": "cpu", "name": STEPWISE, "backward": False, "ratio": 5.0},
        {"device": "cpu", "name": CELL_LOOP, "backward": True, "ratio": 1.5},
        {"device": "cpu", "name": SCRATCH, "backward": True, "ratio": 9.0},  # not in the earlier run
    ]
    moved = benchmark.agreement(earlier, now)
    assert [(m["name"], m["earlier"], m["now"]) for m in moved] == [
        (STEPWISE, 4.0, 5.0),
        (CELL_LOOP, 2.0, 1.5),
    ]
    assert [m["apart"] for m in moved] == pytest.approx([0.25, 0.25], rel=1e-12)
    first = tmp_path / "first.json"
    first.write_text(json.dumps({"results": earlier}))
    benchmark.main(["--json", *TINY_ARGS, "--against", str(first)])
    captured = capsys.readouterr()
    document = json.loads(captured.out)
    assert document["against"]["file"] == str(first)
    # the two in both runs; the fused call, 1 by definition, left out
    assert [(m["name"], m["backward"]) for m in document["against"]["ratios"]] == [
        (STEPWISE, False),
        (CELL_LOOP, True),
    ]
    assert captured.err.startswith("widest move between the two runs: ")


@pytest.mark.parametrize(
    ("argv", "message"),
    [
        (["--repeats", "3"], "Expected repeats to be an int of at least 5, but got 3 instead."),
        (["--batch", "0"], "argument --batch: expected a positive int, but got '0' instead"),
        (["--threads", "-1"], "argument --threads: expected a positive int, but got '-1' instead"),
        (["--min-sample-time", "0"], "Expected min_sample_time to be a positive number of seconds"),
        (["--device", "cuda:7"], "Expected one of this machine's devices"),
    ],
)
def test_benchmark_bad_arguments(benchmark, capsys, argv, message):
    with pytest.raises(SystemExit) as exit_:
        benchmark.main([*argv, "--no-pages", "--json"])
    assert exit_.value.code == 2
    assert message in capsys.readouterr().err


def test_benchmark_keeps_its_timings_when_a_page_fails(benchmark, capsys, monkeypatch, tmp_path):
    failing, passing = tmp_path / "fails.py", tmp_path / "passes.py"
    failing.write_text("raise SystemExit(3)\n")
    passing.write_text("print('ok')\n")
    monkeypatch.setattr(benchmark, "PAGES", [str(failing), str(passing)])
    with pytest.raises(SystemExit) as exit_:
        benchmark.main(["--json", *(a for a in TINY_ARGS if a != "--no-pages")])
    assert exit_.value.code == 1
    document = json.loads(capsys.readouterr().out)
    assert len(document["results"]) == 8
    assert [(p["page"], p["returncode"]) for p in document["pages"]] == [(str(failing), 3), (str(passing), 0)]


# --- on a page: the reports as HTML -------------------------------------------------------------

import xml.etree.ElementTree as ET


def _html_rows(markup: str) -> list[list[str]]:
    root = ET.fromstring(markup)
    return [["".join(cell.itertext()) for cell in row] for row in root.iterfind("table/tbody/tr")]


def test_timings_html_has_every_figure():
    timings = [
        _timing(FUSED, (0.002, 0.002, 0.003, 0.002, 0.001)),
        _timing(STEPWISE, (0.005, 0.004, 0.006, 0.005, 0.005)),
        _timing(FUSED, (0.004,) * 5, backward=True),
        _timing(STEPWISE, (0.006,) * 5, backward=True),
    ]
    markup = Timings(timings)._repr_html_()
    root = ET.fromstring(markup)
    assert root.findtext("table/caption") == "cpu, 1 CPU thread: batch 2, hidden 4, 3 steps, float32"
    assert [th.text for th in root.iterfind("table/thead/tr/th")] == [
        "implementation",
        "median ms",
        "IQR ms",
        "n",
        "x fused",
    ]
    # the same figures as test_timings_print_their_report, one group of rows per pass
    assert _html_rows(markup) == [
        ["forward"],
        [FUSED, "2.000", "0.000", "5", "1.00"],
        [STEPWISE, "5.000", "0.000", "5", "2.50"],
        ["forward + backward"],
        [FUSED, "4.000", "0.000", "5", "1.00"],
        [STEPWISE, "6.000", "0.000", "5", "1.50"],
    ]
    assert [th.get("scope") for th in root.iterfind("table/tbody/tr/th")] == ["rowgroup", "row", "row"] * 2


def test_timings_reject_no_timings():
    with pytest.raises(TypeError, match=r"^Expected timings to be a non-empty list of Timing, but got "):
        Timings([])
    with pytest.raises(TypeError, match=r"^Expected timings to be a non-empty list of Timing, but got "):
        Timings([0.1])


def test_time_lstm_returns_timings_that_add_up():
    forward = time_lstm(names=(FUSED, STEPWISE), **TINY)
    both = forward + time_lstm(names=(FUSED, STEPWISE), backward=True, **TINY)
    assert type(forward) is Timings
    assert type(both) is Timings
    assert [(t.name, t.backward) for t in both] == [
        (FUSED, False), (STEPWISE, False), (FUSED, True), (STEPWISE, True)
    ]  # fmt: skip
    text = str(both).splitlines()
    assert [line.split()[0] for line in text[2:]] == [
        "forward",
        "nn.LSTM",
        STEPWISE,
        "forward",
        "nn.LSTM",
        STEPWISE,
    ]
    assert str(both) == str(both.table())
    assert both._repr_html_() == both.table()._repr_html_()


def _point(seq_len: int, fused: float, loop: float) -> list[Timing]:
    return [
        Timing(FUSED, CPU, 8, 4, seq_len, False, 1, (fused,) * 5),
        Timing(STEPWISE, CPU, 8, 4, seq_len, False, 1, (loop,) * 5),
    ]


def test_scaling_text_and_html():
    points = [_point(16, 0.001, 0.004), _point(64, 0.002, 0.010)]
    shown = Scaling(points, "seq_len")
    assert shown.axis == "seq_len"
    assert [type(point) for point in shown] == [Timings, Timings]
    assert str(shown).splitlines()[0] == "cpu, 1 CPU thread; batch 8, float32, forward"
    assert str(shown).splitlines()[2].split() == [
        "16",
        "1.00",
        "(",
        "0.00)",
        "4.00",
        "(",
        "0.00)",
        "5",
        "4.00",
    ]
    assert str(shown).splitlines()[3].split() == [
        "64",
        "2.00",
        "(",
        "0.00)",
        "10.00",
        "(",
        "0.00)",
        "5",
        "5.00",
    ]
    markup = shown._repr_html_()
    assert _html_rows(markup) == [
        ["16", "1.00", "0.00", "4.00", "0.00", "5", "4.00"],
        ["64", "2.00", "0.00", "10.00", "0.00", "5", "5.00"],
    ]
    assert [th.text for th in ET.fromstring(markup).iterfind("table/thead/tr/th")] == [
        "seq_len",
        f"{FUSED}, median ms",
        f"{FUSED}, IQR ms",
        f"{STEPWISE}, median ms",
        f"{STEPWISE}, IQR ms",
        "n",
        "x fused",
    ]


@pytest.mark.parametrize(
    ("points", "axis", "error", "message"),
    [
        (
            [_point(16, 1.0, 2.0)],
            "steps",
            ValueError,
            r"^Expected axis to be 'seq_len', 'hidden' or 'batch', but got 'steps' instead\.$",
        ),
        (
            [],
            "seq_len",
            TypeError,
            r"^Expected points to be a non-empty sequence of lists of Timing, but got ",
        ),
        ([[1.0]], "seq_len", TypeError, r"^Expected each point to be a non-empty list of Timing, but got "),
        (
            [_point(16, 1.0, 2.0), _point(32, 1.0, 2.0)[::-1]],
            "seq_len",
            ValueError,
            r"^Expected every point to time ",
        ),
        ([_point(16, 1.0, 2.0)[1:]], "seq_len", ValueError, r"^Expected a timing of 'nn.LSTM \(fused\)'"),
    ],
)
def test_scaling_rejects_bad_arguments(points, axis, error, message):
    with pytest.raises(error, match=message):
        Scaling(points, axis)
