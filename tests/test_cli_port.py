"""python -m lstm_demo port: each target written, read back and checked; exit 1 for a wrong port; exit 2, one clear line, for each bad file."""

from __future__ import annotations

import io
import re
import sys
import warnings
from pathlib import Path

import numpy as np
import pytest
import torch
from torch import nn

from lstm_demo.cli import main
from lstm_demo.ports import SAVERS, require
from lstm_demo.ports.saved import save_onnx

TOLERANCE = "tolerance rtol=1.3e-06, atol=1e-05"
FIGURE = r"\d\.\d\de[+-]\d\d"


def run(*argv: str) -> tuple[int, str, str]:
    out, err = io.StringIO(), io.StringIO()
    code = main(["port", *argv], out=out, err=err)
    return code, out.getvalue(), err.getvalue()


class Tagger(nn.Module):
    """A model with an nn.LSTM attribute: its state_dict holds rnn.weight_ih_l0, ..."""

    def __init__(self) -> None:
        super().__init__()
        self.embed = nn.Embedding(10, 3)
        self.rnn = nn.LSTM(3, 5, batch_first=True)
        self.head = nn.Linear(5, 2)


class Thing:
    """A plain Python object: torch.load with weights_only=True refuses to unpickle it."""

    def __init__(self) -> None:
        self.weights = torch.zeros(3)


@pytest.fixture(scope="module")
def saved(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Path]:
    """State dicts and other files, written once for the module's tests."""
    folder = tmp_path_factory.mktemp("saved")
    torch.manual_seed(0)
    modules: dict[str, object] = {
        "lstm": nn.LSTM(3, 4, num_layers=2, bidirectional=True).state_dict(),
        "gru": nn.GRU(3, 4, num_layers=2, bidirectional=True).state_dict(),
        "tagger": Tagger().state_dict(),
        "proj": nn.LSTM(3, 4, proj_size=2).state_dict(),
        "linear": nn.Linear(3, 2).state_dict(),
        "two": nn.ModuleDict({"encoder": nn.LSTM(3, 4), "decoder": nn.GRU(4, 4)}).state_dict(),
        "half": nn.LSTM(3, 4, dtype=torch.float16).state_dict(),
        "thing": Thing(),
        "checkpoint": {"model": nn.LSTM(3, 4).state_dict(), "epoch": 3},
    }
    paths = {}
    for name, value in modules.items():
        paths[name] = folder / f"{name}.pt"
        torch.save(value, paths[name])
    paths["text"] = folder / "notes.pt"
    paths["text"].write_text("not a file torch.save wrote\n")
    paths["hello"] = folder / "hello.pt"
    paths["hello"].write_text("hello\n")
    return paths


def _module(path: Path, cls: type[nn.LSTM | nn.GRU]) -> nn.LSTM | nn.GRU:
    """The 2-layer bidirectional module of ``path``, built here from its known configuration."""
    module = cls(3, 4, num_layers=2, bidirectional=True)
    module.load_state_dict(torch.load(path, weights_only=True))
    return module


def _input() -> torch.Tensor:
    return torch.randn(5, 2, 3, generator=torch.Generator().manual_seed(0))


def _greatest(expected: nn.LSTM | nn.GRU, arrays: list[np.ndarray]) -> str:
    """The greatest difference between ``expected``'s outputs and ``arrays``, as the command prints it."""
    with torch.no_grad():
        output, state = expected(_input())
    tensors = [output, *(state if isinstance(state, tuple) else (state,))]
    return f"{max(float((torch.from_numpy(np.asarray(a)) - t).abs().max()) for a, t in zip(arrays, tensors, strict=True)):.2e}"


def _lines(out: str, kind: str, path: Path, runs_in: str) -> str:
    """Check the three lines of a successful port; return the greatest difference printed."""
    lines = out.splitlines()
    repr_ = f"{kind}(3, 4, num_layers=2, bidirectional=True)"
    assert lines[0] == f"read {repr_} (float32) from {path}"
    states = r"h_n \S+, c_n \S+" if kind == "LSTM" else r"h_n \S+"
    found = re.fullmatch(
        rf"ran it in {runs_in} and the {kind} on one random float32 input \(seq_len 5, batch 2, seed 0\): "
        rf"greatest difference ({FIGURE}) \(output {FIGURE}, {states}\), {re.escape(TOLERANCE)}: within it",
        lines[2],
    )
    assert found, lines[2]
    assert len(lines) == 3
    assert float(found[1]) <= 1e-5
    return found[1]


def _onnx_outputs(path: Path, module: nn.LSTM | nn.GRU) -> list[np.ndarray]:
    """The ONNX file run in an onnxruntime session of its own, zero initial states."""
    ort = require("onnxruntime")
    session = ort.InferenceSession(str(path), providers=["CPUExecutionProvider"])
    feeds = {"input": _input().numpy()}
    for value in session.get_inputs()[1:]:
        feeds[value.name] = np.zeros((2, 2, 4), np.float32)
    return session.run(None, feeds)


@pytest.mark.parametrize("kind", ["lstm", "gru"])
def test_to_onnx(saved, tmp_path, kind):
    out_path = tmp_path / f"{kind}.onnx"
    code, out, err = run(str(saved[kind]), "--to", "onnx", "--out", str(out_path))
    assert (code, err) == (0, "")
    cls = nn.LSTM if kind == "lstm" else nn.GRU
    printed = _lines(out, cls.__name__, saved[kind], "ONNX Runtime")
    assert out.splitlines()[1] == f"wrote {out_path} for onnx"
    model = require("onnx").load(str(out_path))
    require("onnx").checker.check_model(model)
    assert [n.op_type for n in model.graph.node if n.op_type in ("LSTM", "GRU")] == [cls.__name__] * 2
    module = _module(saved[kind], cls)
    assert printed == _greatest(module, _onnx_outputs(out_path, module))


@pytest.mark.parametrize("kind", ["lstm", "gru"])
def test_to_keras(saved, tmp_path, kind):
    keras = require("keras")
    out_path = tmp_path / f"{kind}.keras"
    code, out, err = run(str(saved[kind]), "--to", "keras", "--out", str(out_path))
    assert (code, err) == (0, "")
    cls = nn.LSTM if kind == "lstm" else nn.GRU
    printed = _lines(
        out, cls.__name__, saved[kind], rf"Keras {re.escape(keras.__version__)} \(torch backend\)"
    )
    with warnings.catch_warnings():  # Keras 3.15's torch backend converts with np.array(x); NumPy 2 warns
        warnings.filterwarnings("ignore", message="__array__ implementation doesn't accept a copy keyword")
        model = keras.saving.load_model(str(out_path))
        outputs = [keras.ops.convert_to_numpy(o) for o in model(_input().numpy().swapaxes(0, 1))]
    assert [type(layer).__name__ for layer in model.layers] == [
        "InputLayer",
        "Bidirectional",
        "Bidirectional",
    ]
    per = 2 if cls is nn.LSTM else 1
    states = [np.stack(outputs[1 + i :: per]) for i in range(per)]
    module = _module(saved[kind], cls)
    assert printed == _greatest(module, [outputs[0].swapaxes(0, 1), *states])


def test_to_flax(saved, tmp_path):
    out_path = tmp_path / "lstm.npz"
    code, out, err = run(str(saved["lstm"]), "--to", "flax", "--out", str(out_path))
    assert (code, err) == (0, "")
    flax = require("flax")
    printed = _lines(
        out, "LSTM", saved["lstm"], rf"Flax {re.escape(flax.__version__)} nnx\.OptimizedLSTMCell"
    )
    module = _module(saved["lstm"], nn.LSTM)
    with np.load(out_path) as params:
        assert len(params.files) == 2 * 2 * 3
        kernel = params["layer1/backward/dense_h/kernel"]
        assert np.array_equal(kernel, module.weight_hh_l1_reverse.detach().numpy().T)
        bias = params["layer0/forward/dense_h/bias"]
        assert np.array_equal(bias, (module.bias_ih_l0 + module.bias_hh_l0).detach().numpy())
    assert float(printed) <= 1e-5


def test_a_prefix_chooses_the_lstm_of_a_larger_model(saved, tmp_path):
    for prefix in ("rnn.", "rnn", None):
        options = [] if prefix is None else ["--prefix", prefix]
        code, out, err = run(
            str(saved["tagger"]), "--to", "onnx", "--out", str(tmp_path / "m.onnx"), *options
        )
        assert (code, err) == (0, "")
        assert out.splitlines()[0] == f"read LSTM(3, 5) (float32) from {saved['tagger']}"
        assert out.splitlines()[2].endswith(f"{TOLERANCE}: within it")


def test_a_wrong_port_exits_1(saved, tmp_path, monkeypatch):
    def wrong(module, path):  # layer 0's input gate rows moved by one gate, as a mapping bug would
        with torch.no_grad():
            module.weight_ih_l0.copy_(module.weight_ih_l0.roll(4, 0))  # in place: the command ran it already
        save_onnx(module, path)

    monkeypatch.setitem(SAVERS, "onnx", wrong)
    code, out, err = run(str(saved["lstm"]), "--to", "onnx", "--out", str(tmp_path / "m.onnx"))
    assert (code, err) == (1, "")
    found = re.search(rf"greatest difference ({FIGURE}) .*, {re.escape(TOLERANCE)}: EXCEEDS it$", out)
    assert found, out
    assert float(found[1]) > 1e-3


def test_flax_help_says_how_to_load_the_params(capsys):
    with pytest.raises(SystemExit) as exit_:
        main(["port", "--help"])
    assert exit_.value.code == 0
    text = capsys.readouterr().out
    assert "layerK/D/DENSE/P" in text
    assert 'cell.dense_i.kernel[...] = params["layer0/forward/dense_i/kernel"]' in text
    assert "proj_size > 0 ports to none of them" in text


PROJECTION = (
    "port: Expected an nn.LSTM with proj_size=0 ({}'s LSTM has no projection, so weight_hr has nowhere "
    "to go), but got proj_size=2 instead."
)


@pytest.mark.parametrize(
    ("file", "to", "out", "message"),
    [
        (
            "text",
            "onnx",
            "m.onnx",
            (
                "port: Expected a file torch.save wrote, but got '{file}', which torch.load cannot read "
                "(Unsupported operand 110) instead."
            ),
        ),
        (
            "hello",
            "onnx",
            "m.onnx",
            (
                "port: Expected a file torch.save wrote, but got '{file}', which torch.load cannot read "
                "(KeyError: 101) instead."
            ),
        ),
        (
            "lstm",
            "onnx",
            "no/such/folder/m.onnx",
            (
                "port: Expected --out to be a path that can be written, but got '{out}': No such file or "
                "directory instead."
            ),
        ),
        (
            "thing",
            "onnx",
            "m.onnx",
            (
                "port: Expected a state_dict of tensors, but got a file holding a {thing} instead "
                "(torch.load with weights_only=True unpickles no Python objects; save the model's state_dict())."
            ),
        ),
        (
            "missing",
            "onnx",
            "m.onnx",
            (
                "port: Expected FILE to be a file torch.save wrote, but got '{file}': No such file or directory "
                "instead."
            ),
        ),
        (
            "linear",
            "onnx",
            "m.onnx",
            (
                "port: Expected a state_dict with an nn.LSTM's or nn.GRU's weights (a name ending weight_ih_l0), "
                "but got none among 2 names instead."
            ),
        ),
        (
            "two",
            "onnx",
            "m.onnx",
            (
                "port: Expected one recurrent module, or a prefix to choose one, but got 2 instead: 'encoder.', "
                "'decoder.'."
            ),
        ),
        (
            "checkpoint",
            "onnx",
            "m.onnx",
            (
                "port: Expected a state_dict (a mapping of names to tensors), but got 'model': an object of type "
                "OrderedDict instead (a checkpoint? save or pass its model's state_dict)."
            ),
        ),
        ("proj", "onnx", "m.onnx", PROJECTION.format("ONNX")),
        ("proj", "keras", "m.keras", PROJECTION.format("Keras")),
        ("proj", "flax", "m.npz", PROJECTION.format("Flax")),
        (
            "gru",
            "flax",
            "m.npz",
            (
                "port: Expected an nn.LSTM for Flax (nnx.OptimizedLSTMCell is an LSTM cell), but got an object "
                "of type GRU instead."
            ),
        ),
        (
            "lstm",
            "keras",
            "m.h5",
            "port: Expected a path ending .keras (Keras 3's model format), but got '{out}' instead.",
        ),
        ("half", "onnx", "m.onnx", "port: Expected float32 or float64 weights, but got float16 instead."),
    ],
)
def test_a_file_that_cannot_be_ported_exits_2_with_one_line(saved, tmp_path, file, to, out, message):
    path = saved[file] if file in saved else tmp_path / "missing.pt"
    code, printed, err = run(str(path), "--to", to, "--out", str(tmp_path / out))
    assert (code, printed) == (2, "")
    assert err == message.format(file=path, out=tmp_path / out, thing=f"{Thing.__module__}.Thing") + "\n"
    assert not (tmp_path / out).exists()


def test_an_unknown_prefix_exits_2(saved, tmp_path):
    code, out, err = run(
        str(saved["two"]), "--to", "onnx", "--out", str(tmp_path / "m.onnx"), "--prefix", "rnn."
    )
    assert (code, out) == (2, "")
    assert err == (
        "port: Expected a prefix among 'encoder.', 'decoder.' (names ending weight_ih_l0), but got 'rnn.' "
        "instead.\n"
    )


def test_a_missing_framework_exits_2_saying_how_to_install_it(saved, tmp_path, monkeypatch):
    monkeypatch.setitem(sys.modules, "onnx", None)  # `import onnx` now raises ImportError
    code, out, err = run(str(saved["lstm"]), "--to", "onnx", "--out", str(tmp_path / "m.onnx"))
    assert (code, out) == (2, "")
    assert re.fullmatch(
        r"port: Expected onnx to be installed for this port, but it is not \(.+\); "
        r"pip install 'lstm-demo\[ports\]' installs it\.\n",
        err,
    ), err


def test_a_bad_target_is_an_argument_error(saved, capsys):
    with pytest.raises(SystemExit) as exit_:
        main(["port", str(saved["lstm"]), "--to", "tflite", "--out", "m"])
    assert exit_.value.code == 2
    assert (
        "argument --to: invalid choice: 'tflite' (choose from 'onnx', 'keras', 'flax')"
        in capsys.readouterr().err
    )
