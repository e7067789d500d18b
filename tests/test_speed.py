"""lstm_demo.speed: what is timed, and the report; the figures themselves are never asserted."""

from __future__ import annotations

import pytest
import torch

from lstm_demo.speed import CELL_LOOP, FUSED, SCRATCH, STEPWISE, Timing, ratios, report, time_lstm

CPU = torch.device("cpu")
TINY = {"batch": 2, "input_size": 3, "hidden": 4, "seq_len": 3, "min_run_time": 0.001}


def test_every_implementation_is_timed_in_order():
    timings = time_lstm(**TINY)
    assert [t.name for t in timings] == [FUSED, STEPWISE, CELL_LOOP, SCRATCH]
    for t in timings:
        assert (t.device, t.batch, t.hidden, t.seq_len, t.backward) == (CPU, 2, 4, 3, False)
        assert t.seconds > 0


def test_backward_and_a_chosen_subset():
    timings = time_lstm(backward=True, names=(STEPWISE, FUSED), **TINY)
    assert [(t.name, t.backward) for t in timings] == [(STEPWISE, True), (FUSED, True)]


def test_timing_leaves_the_random_stream_alone():
    torch.manual_seed(3)
    expected = torch.rand(2)
    torch.manual_seed(3)
    time_lstm(names=(FUSED,), **TINY)
    assert torch.equal(torch.rand(2), expected)


def test_ratios_and_report_use_the_same_run():
    timings = [
        Timing(FUSED, CPU, 2, 4, 3, False, 0.002),
        Timing(STEPWISE, CPU, 2, 4, 3, False, 0.005),
        Timing(FUSED, CPU, 2, 4, 3, True, 0.004),
        Timing(STEPWISE, CPU, 2, 4, 3, True, 0.006),
    ]
    assert ratios(timings[:2]) == {FUSED: 1.0, STEPWISE: 2.5}
    lines = report(timings).splitlines()
    assert lines[0] == f"cpu, {torch.get_num_threads()} CPU threads; batch 2, hidden 4, 3 steps, float32"
    assert lines[2] == f"  {STEPWISE:<30} {'fwd':<8} {5.0:10.3f} ms   x  2.50 the fused call"
    assert lines[4] == f"  {STEPWISE:<30} {'fwd+bwd':<8} {6.0:10.3f} ms   x  1.50 the fused call"


@pytest.mark.parametrize("size", ["batch", "input_size", "hidden", "seq_len"])
@pytest.mark.parametrize("bad", [0, -1, 2.5, True])
def test_sizes_must_be_positive_ints(size, bad):
    with pytest.raises(
        ValueError, match=rf"^Expected {size} to be a positive int, but got {bad!r} instead\.$"
    ):
        time_lstm(**{**TINY, size: bad})


def test_unknown_implementation():
    with pytest.raises(
        ValueError, match=r"^Expected implementation names from .*, but got \['fast'\] instead\.$"
    ):
        time_lstm(names=("fast",), **TINY)


def test_a_device_this_machine_lacks():
    with pytest.raises(ValueError, match=r"^Expected one of this machine's devices"):
        time_lstm("cuda:7", **TINY)
