"""lstm_demo.precision: switches set for a block and restored."""

from __future__ import annotations

import pytest
import torch

from lstm_demo.precision import (
    describe_flags,
    full_precision,
    precision_flags,
    precision_objects,
    restore_flags,
    save_flags,
)


def _state() -> dict:
    return {
        "cudnn": torch.backends.cudnn.enabled,
        "cudnn.deterministic": torch.backends.cudnn.deterministic,
        "deterministic": torch.are_deterministic_algorithms_enabled(),
        "matmul": torch.get_float32_matmul_precision(),
        "fp32": {path: obj.fp32_precision for path, obj in precision_objects().items()},
    }


def test_this_torch_has_per_operator_flags():
    assert {"", "cuda.matmul", "cudnn.rnn"} <= set(precision_objects())


def test_each_switch_is_set_inside_and_restored_after():
    before = _state()
    with precision_flags(cudnn=False, cudnn_tf32=False, deterministic=True):
        assert torch.backends.cudnn.enabled is False
        assert torch.backends.cudnn.rnn.fp32_precision == "ieee"
        assert torch.are_deterministic_algorithms_enabled() is True
        assert torch.backends.cudnn.deterministic is True
    assert _state() == before
    with precision_flags(cudnn_tf32=True):
        assert torch.backends.cudnn.rnn.fp32_precision == "tf32"
    assert _state() == before


def test_none_leaves_a_switch_alone():
    before = _state()
    with precision_flags():
        assert _state() == before
    assert _state() == before


def _fail_inside() -> None:
    with precision_flags(cudnn=False, deterministic=True):
        msg = "inside"
        raise RuntimeError(msg)


def test_restored_after_an_exception():
    before = _state()
    with pytest.raises(RuntimeError, match="inside"):
        _fail_inside()
    assert _state() == before


def test_changes_made_inside_the_block_are_undone_too():
    # A page that flips a flag itself inside the block leaks nothing either.
    before = _state()
    with precision_flags(cudnn=True):
        torch.backends.cuda.matmul.allow_tf32 = True  # a legacy flag, which rewrites the per-operator one
        torch.set_float32_matmul_precision("medium")
    assert _state() == before


def test_save_and_restore_round_trip():
    saved = save_flags()
    try:
        torch.backends.cudnn.rnn.fp32_precision = "ieee"
        torch.use_deterministic_algorithms(True, warn_only=True)
        assert save_flags() != saved
    finally:
        restore_flags(saved)
    assert save_flags() == saved


def test_restore_puts_back_the_onednn_switch():
    saved = save_flags()
    assert saved["mkldnn.enabled"] is torch.backends.mkldnn.enabled
    try:
        torch.backends.mkldnn.enabled = not saved["mkldnn.enabled"]
        restore_flags(saved)
        assert torch.backends.mkldnn.enabled is saved["mkldnn.enabled"]
    finally:
        torch.backends.mkldnn.enabled = saved["mkldnn.enabled"]


@pytest.mark.parametrize("name", ["cudnn", "cudnn_tf32", "deterministic", "matmul_tf32"])
def test_a_switch_must_be_a_bool(name):
    before = _state()
    match = rf"^Expected {name} to be True, False or None, but got 1 instead\.$"
    with pytest.raises(TypeError, match=match), precision_flags(**{name: 1}):
        pass
    assert _state() == before


def test_matmul_tf32_is_set_inside_and_restored_after():
    before = _state()
    with precision_flags(matmul_tf32=True):
        assert torch.backends.cuda.matmul.fp32_precision == "tf32"
    with precision_flags(matmul_tf32=False):
        assert torch.backends.cuda.matmul.fp32_precision == "ieee"
    assert _state() == before


def test_full_precision_turns_tf32_off_whatever_the_caller_set():
    before = _state()
    with precision_flags(cudnn_tf32=True, matmul_tf32=True):
        with full_precision():
            assert torch.backends.cudnn.rnn.fp32_precision == "ieee"
            assert torch.backends.cuda.matmul.fp32_precision == "ieee"
        assert torch.backends.cudnn.rnn.fp32_precision == "tf32"
        assert torch.backends.cuda.matmul.fp32_precision == "tf32"
    assert _state() == before


@pytest.mark.parametrize("allow", [True, False], ids=["allowed", "not-allowed"])
def test_restored_after_a_legacy_cudnn_flag_and_still_readable(allow):
    before = save_flags()
    with precision_flags(cudnn_tf32=not allow):
        torch.backends.cudnn.allow_tf32 = allow  # a legacy write inside the block
    assert save_flags() == before
    assert torch.backends.cudnn.allow_tf32 == before["legacy_tf32"][0]


def test_describe_flags_reports_the_switches_in_force():
    with precision_flags(cudnn_tf32=True, deterministic=True):
        flags = describe_flags()
    assert flags["cuDNN RNN"] == "tf32"
    assert flags["deterministic"] == "True"
    with full_precision():
        assert describe_flags()["cuDNN RNN"] == "ieee"


def test_cudnn_switch_sets_and_restores_only_enabled():
    from lstm_demo.precision import cudnn

    before = save_flags()
    with cudnn(False):
        assert torch.backends.cudnn.enabled is False
    assert torch.backends.cudnn.enabled is True
    assert save_flags() == before


def test_cudnn_switch_restores_after_an_error_and_inside_full_precision():
    from lstm_demo.precision import cudnn

    seen = []

    def fails() -> None:
        with cudnn(False):
            seen.append(torch.backends.cudnn.enabled)
            raise ZeroDivisionError

    with full_precision(), pytest.raises(ZeroDivisionError):
        fails()
    assert seen == [False]
    assert torch.backends.cudnn.enabled is True


def test_cudnn_switch_takes_a_bool():
    from lstm_demo.precision import cudnn

    with (
        pytest.raises(TypeError, match=r"^Expected enabled to be True or False, but got 0 instead\.$"),
        cudnn(0),
    ):
        pass
