"""save_port and run_saved: the files each target gets, read back, and the refusals raised before anything is written."""

from __future__ import annotations

import re

import numpy as np
import pytest
import torch
from torch import nn

from lstm_demo.ports import FLAX_KEY, flax_params, load_flax_params, run_saved, save_port


def test_flax_npz_keys_and_arrays_are_flax_params(tmp_path):
    lstm = nn.LSTM(3, 4, num_layers=2, bidirectional=True)
    path = tmp_path / "params"  # no .npz: the name is kept as given
    save_port(lstm, "flax", path)
    assert sorted(p.name for p in tmp_path.iterdir()) == ["params"]
    with np.load(path) as found:
        assert sorted(found.files) == sorted(
            FLAX_KEY.format(layer=k, direction=d, dense=dense, param=param)
            for k in range(2)
            for d in ("forward", "backward")
            for dense, param in (("dense_i", "kernel"), ("dense_h", "kernel"), ("dense_h", "bias"))
        )
        assert found["layer1/backward/dense_i/kernel"].shape == (8, 16)
    back = load_flax_params(path)
    expected = flax_params(lstm)
    for got_cells, want_cells in zip(back, expected, strict=True):
        for got, want in zip(got_cells, want_cells, strict=True):
            for dense in ("dense_i", "dense_h"):
                for param, array in want[dense].items():
                    assert np.array_equal(got[dense][param], array)


def test_onnx_file_runs_like_the_module(tmp_path):
    torch.manual_seed(0)
    lstm, x = nn.LSTM(3, 4, num_layers=2, bidirectional=True), torch.randn(5, 2, 3)
    save_port(lstm, "onnx", tmp_path / "m.onnx")
    output, (h_n, c_n) = run_saved(lstm, "onnx", tmp_path / "m.onnx", x)
    expected, (h, c) = lstm(x)
    torch.testing.assert_close(output, expected)
    torch.testing.assert_close(h_n, h)
    torch.testing.assert_close(c_n, c)


def _raises(error, message):
    return pytest.raises(error, match=f"^{re.escape(message)}$")


def test_refusals_write_nothing(tmp_path):
    lstm = nn.LSTM(3, 4)
    with _raises(ValueError, "Expected a target among onnx, keras, flax, but got 'tflite' instead."):
        save_port(lstm, "tflite", tmp_path / "m")
    with _raises(
        ValueError,
        f"Expected a path ending .keras (Keras 3's model format), but got '{tmp_path / 'm.h5'}' instead.",
    ):
        save_port(lstm, "keras", tmp_path / "m.h5")
    with _raises(
        TypeError,
        "Expected an nn.LSTM for Flax (nnx.OptimizedLSTMCell is an LSTM cell), but got an object of type GRU instead.",
    ):
        save_port(nn.GRU(3, 4), "flax", tmp_path / "m.npz")
    with _raises(TypeError, "Expected an nn.LSTM or nn.GRU, but got an object of type RNN instead."):
        save_port(nn.RNN(3, 4), "onnx", tmp_path / "m.onnx")
    for target in ("onnx", "flax"):
        name = {"onnx": "ONNX", "flax": "Flax"}[target]
        with _raises(
            ValueError,
            f"Expected an nn.LSTM with proj_size=0 ({name}'s LSTM has no projection, so weight_hr has nowhere "
            "to go), but got proj_size=2 instead.",
        ):
            save_port(nn.LSTM(3, 4, proj_size=2), target, tmp_path / "m")
    assert list(tmp_path.iterdir()) == []


def test_run_saved_refuses_a_non_tensor_input(tmp_path):
    with _raises(
        TypeError,
        "Expected input to be a 3-D tensor (seq_len, batch, input_size), but got a tensor of shape (2, 3) instead.",
    ):
        run_saved(nn.LSTM(3, 4), "onnx", tmp_path / "m.onnx", torch.zeros(2, 3))


def test_load_flax_params_refuses_other_keys(tmp_path):
    path = tmp_path / "other.npz"
    np.savez(path, **{"layer0/forward/dense_i/kernel": np.zeros((3, 16), np.float32), "extra": np.zeros(1)})
    with _raises(
        ValueError,
        f"Expected layer0/forward/dense_h/kernel in {path}, but got only ['extra', 'layer0/forward/dense_i/kernel'] instead.",
    ):
        load_flax_params(path)
    np.savez(path, extra=np.zeros(1))
    with _raises(ValueError, f"Expected only keys like {FLAX_KEY} from layer0, but got ['extra'] instead."):
        load_flax_params(path)
