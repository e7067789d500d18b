"""ports.frameworks: missing() and require() when a framework is absent; check and mutants skip its claims."""

from __future__ import annotations

import importlib
import importlib.util
import io
import json
import os
import re
import sys

import pytest
import torch
from torch import nn

from lstm_demo import mutants
from lstm_demo.cli import main
from lstm_demo.ports import FRAMEWORKS, INSTALL, Unavailable, frameworks, missing, require, to_keras

KERAS_MODULE = importlib.import_module("lstm_demo.ports.keras")  # where to_keras looks require up
REAL_IMPORT = importlib.import_module


def absent(monkeypatch, *names: str) -> None:
    """Make ``names`` look uninstalled to missing(): not imported, and not found."""
    real = importlib.util.find_spec
    for name in names:
        monkeypatch.delitem(sys.modules, name, raising=False)
    monkeypatch.setattr(
        importlib.util, "find_spec", lambda name, *a: None if name in names else real(name, *a)
    )


def import_fails(monkeypatch, *names: str) -> None:
    """Make importing ``names`` (or a submodule) raise ImportError, as an uninstalled package does."""

    def fake(name, package=None):
        if name.partition(".")[0] in names:
            msg = f"No module named {name.partition('.')[0]!r}"
            raise ModuleNotFoundError(msg)
        return REAL_IMPORT(name, package)

    monkeypatch.setattr(importlib, "import_module", fake)


def keras_unavailable(monkeypatch) -> None:
    """The Keras port as it behaves where Keras is not installed: its require raises Unavailable."""

    def fake(name):
        msg = f"Expected {name} to be installed for this port, but it is not (No module named 'keras'); {INSTALL} installs it."
        raise Unavailable(msg)

    monkeypatch.setattr(KERAS_MODULE, "require", fake)


# --- missing ----------------------------------------------------------------------------------


def test_nothing_is_missing_here():
    assert FRAMEWORKS == {"onnx": ("onnx", "onnxruntime"), "keras": ("keras",), "flax": ("jax", "flax")}
    assert [missing(f) for f in FRAMEWORKS] == [[], [], []]


def test_missing_names_the_absent_packages(monkeypatch):
    absent(monkeypatch, "keras", "onnxruntime", "jax")
    assert missing("keras") == ["keras"]
    assert missing("onnx") == ["onnxruntime"]
    assert missing("flax") == ["jax"]


def test_an_imported_package_is_not_missing(monkeypatch):
    import onnx

    monkeypatch.setattr(importlib.util, "find_spec", lambda name, *a: None)
    monkeypatch.setitem(sys.modules, "onnx", onnx)
    monkeypatch.delitem(sys.modules, "onnxruntime", raising=False)
    assert missing("onnx") == ["onnxruntime"]


def test_missing_an_unknown_framework():
    with pytest.raises(
        ValueError, match=r"^Expected a framework among onnx, keras, flax, but got 'tensorflow' instead\.$"
    ):
        missing("tensorflow")


# --- require -----------------------------------------------------------------------------------


def test_require_returns_the_module():
    import onnx

    assert require("onnx") is onnx
    assert require("onnx.reference") is sys.modules["onnx.reference"]


def test_require_raises_unavailable_with_the_install_hint(monkeypatch):
    import_fails(monkeypatch, "flax")
    with pytest.raises(Unavailable) as raised:
        require("flax.nnx")
    assert str(raised.value) == (
        "Expected flax.nnx to be installed for this port, but it is not (No module named 'flax'); "
        "pip install 'lstm-demo[ports]' installs it."
    )
    assert isinstance(raised.value, ImportError)
    assert isinstance(raised.value.__cause__, ModuleNotFoundError)
    assert INSTALL == "pip install 'lstm-demo[ports]'"


def test_require_sets_kerass_backend_to_torch_unless_told(monkeypatch):
    imported = []
    monkeypatch.setattr(importlib, "import_module", lambda name, package=None: imported.append(name) or name)
    monkeypatch.delitem(sys.modules, "keras", raising=False)
    monkeypatch.delenv("KERAS_BACKEND", raising=False)
    assert require("keras") == "keras"
    assert os.environ["KERAS_BACKEND"] == "torch"
    monkeypatch.setenv("KERAS_BACKEND", "jax")
    require("keras.layers")
    assert os.environ["KERAS_BACKEND"] == "jax"
    assert imported == ["keras", "keras.layers"]


def test_a_port_checks_the_module_before_it_requires_its_framework(monkeypatch):
    keras_unavailable(monkeypatch)
    with pytest.raises(TypeError, match=r"^Expected module to be an nn\.LSTM or nn\.GRU"):
        to_keras(nn.RNN(3, 4))
    with pytest.raises(Unavailable, match=r"^Expected keras to be installed for this port"):
        to_keras(nn.LSTM(3, 4))
    assert frameworks.require is require  # the patch is the Keras port's own lookup only


# --- check and mutants skip a claim whose framework is missing ------------------------------------


def run_cli(*argv: str) -> tuple[int, str, str]:
    out, err = io.StringIO(), io.StringIO()
    code = main(list(argv), out=out, err=err)
    return code, out.getvalue(), err.getvalue()


def test_check_skips_the_keras_claim(monkeypatch):
    keras_unavailable(monkeypatch)
    code, out, err = run_cli("check", "--claim", "keras", "--claim", "scratch", "--device", "cpu")
    assert code == 0
    assert err == ""
    lines = out.splitlines()
    (skipped,) = [line for line in lines if line.startswith("keras ")]
    assert re.fullmatch(
        r"keras +cpu +float32 +SKIPPED: Expected keras to be installed for this port, but it is not .*",
        skipped,
    )
    assert INSTALL in skipped
    assert next(line for line in lines if line.startswith("scratch ")).endswith(("holds", "holds (bitwise)"))
    assert re.fullmatch(
        r"1 of 1 runs hold, 0 fail \(\d+\.\d s\); skipped keras: a framework is not installed "
        r"\(pip install 'lstm-demo\[ports\]'\)",
        lines[-1],
    )


def test_check_json_records_the_skip(monkeypatch):
    keras_unavailable(monkeypatch)
    code, out, err = run_cli("check", "--claim", "keras", "--device", "cpu", "--dtype", "float64", "--json")
    assert code == 0
    (record,) = json.loads(out)["results"]
    assert record["claim"] == "keras"
    assert record["dtype"] == "float64"
    assert record["skipped"].startswith("Expected keras to be installed")
    assert err.splitlines()[-1].startswith("0 of 0 runs hold, 0 fail")
    assert "skipped keras" in err.splitlines()[-1]


def test_mutants_skip_a_target_whose_framework_is_missing(monkeypatch):
    keras_unavailable(monkeypatch)
    results = mutants.run(
        devices=["cpu"], dtypes=[torch.float32], mutants=["keras-reshape"], checks=["keras", "scratch"]
    )
    assert results.skipped == ["keras"]
    assert {r.claim for r in results} == {"scratch"}
    assert "keras-reshape" not in {
        r.mutant for r in results
    }  # a Keras mutant is tried on Keras's claims only
    assert results.table().caption.endswith("; skipped (framework not installed): keras")


def test_the_mutants_command_says_what_it_skipped(monkeypatch):
    keras_unavailable(monkeypatch)
    code, out, _ = run_cli("mutants", "--claim", "keras", "--device", "cpu", "--dtype", "float32")
    assert code == 0
    assert re.fullmatch(
        r"0 of 0 mutant runs caught, 0 escapes \(\d+\.\d s\); skipped keras: a framework is not installed "
        r"\(pip install 'lstm-demo\[ports\]'\)",
        out.splitlines()[-1],
    )
    code, out, _ = run_cli("mutants", "--claim", "keras", "--device", "cpu", "--dtype", "float32", "--json")
    assert json.loads(out)["skipped"] == ["keras"]
