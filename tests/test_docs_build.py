"""The docs build with the project's own configuration: a false claim fails it,
and an edit to lstm_demo re-executes the pages while an unchanged tree
re-executes nothing.

Each test builds a copy of docs/, examples/ and lstm_demo/ in a temporary
folder, with that copy of lstm_demo first on the path, so edits never touch
the working tree.
"""

from __future__ import annotations

import os
import re
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
pytestmark = pytest.mark.docs

BUILD_OUTPUTS = shutil.ignore_patterns("_build", "auto_examples", "sg_execution_times.rst", "__pycache__")

FALSE_CLAIM = '''\
"""
A false claim
=============

This page claims that a one-layer LSTM equals one with a different seed.
"""

import torch
from torch import nn

import lstm_demo

torch.manual_seed(0)
a = nn.LSTM(2, 3)
torch.manual_seed(1)
b = nn.LSTM(2, 3)
x = torch.randn(4, 1, 2)
result = lstm_demo.compare(a(x)[0], b(x)[0])
print(result)
assert result.close, f"false claim: {result}"
'''


def _project(tmp_path: Path) -> Path:
    project = tmp_path / "project"
    for name in ("docs", "examples", "lstm_demo"):
        shutil.copytree(ROOT / name, project / name, ignore=BUILD_OUTPUTS)
    return project


def _build(project: Path, *, importtime: bool = False, **extra_env: str) -> subprocess.CompletedProcess[str]:
    env = {
        **os.environ,
        **extra_env,
        "PYTHONPATH": os.pathsep.join(filter(None, [str(project), os.environ.get("PYTHONPATH")])),
        "MPLBACKEND": "Agg",
        "PYDEVD_DISABLE_FILE_VALIDATION": "1",
    }
    docs = project / "docs"
    cmd = [sys.executable, *(["-X", "importtime"] if importtime else []), "-m", "sphinx"]
    cmd += ["-b", "html", "-W", "--keep-going", "-n"]
    return subprocess.run(
        [*cmd, str(docs), str(docs / "_build" / "html")],
        capture_output=True,
        text=True,
        env=env,
        cwd=project,  # `python -m` puts the working directory first on sys.path
        check=False,
        timeout=600,
    )


def _gallery_runs(result: subprocess.CompletedProcess[str]) -> int:
    """How many gallery examples the build executed, from sphinx-gallery's summary."""
    match = re.search(r"executed (\d+) out of (\d+) files?", result.stdout)
    assert match, result.stdout[-2000:]
    return int(match.group(1))


def _notebook_runs(result: subprocess.CompletedProcess[str]) -> int:
    """How many myst-nb pages the build executed."""
    return len(re.findall(r"Executed notebook in", result.stdout + result.stderr))


def _torch_devices() -> set[str]:
    import torch

    return {"cuda"} if torch.cuda.is_available() else {"cpu"}


def _ok(result: subprocess.CompletedProcess[str]) -> None:
    assert result.returncode == 0, result.stdout[-3000:] + result.stderr[-3000:]


def test_false_claim_fails_the_build(tmp_path: Path) -> None:
    project = _project(tmp_path)
    (project / "examples" / "plot_99_false_claim.py").write_text(FALSE_CLAIM)

    result = _build(project)

    assert result.returncode != 0
    output = result.stdout + result.stderr
    assert "plot_99_false_claim.py" in output
    assert "AssertionError: false claim: NOT close" in output


def test_fresh_on_change(tmp_path: Path) -> None:
    project = _project(tmp_path)
    html = project / "docs" / "_build" / "html"
    examples = sorted((project / "examples").glob("plot_*.py"))
    notebooks = [p for p in (project / "docs").glob("*.md") if "file_format: mystnb" in p.read_text()]
    assert len(examples) >= 4
    assert len(notebooks) >= 2
    everything = (len(examples), len(notebooks))
    # Every example and the shapes page print the package version in their provenance.
    pages = [html / "auto_examples" / f"{p.stem}.html" for p in examples] + [html / "shapes.html"]

    cold = _build(project)
    _ok(cold)
    assert (_gallery_runs(cold), _notebook_runs(cold)) == everything

    # An unchanged tree executes nothing, and does not even import torch
    # (about a second of every no-op build).
    again = _build(project, importtime=True)
    _ok(again)
    assert (_gallery_runs(again), _notebook_runs(again)) == (0, 0)
    assert not re.search(r"\|\s+torch$", again.stderr, re.MULTILINE)

    # An edited example re-runs alone.
    example = project / "examples" / "plot_01_whole_vs_stepwise.py"
    example.write_text(example.read_text() + "\n# an edit\n")
    one = _build(project)
    _ok(one)
    assert (_gallery_runs(one), _notebook_runs(one)) == (1, 0)

    # An edit to lstm_demo re-executes every example and page: each page
    # prints the package version in its provenance, so the new one shows.
    version_file = project / "lstm_demo" / "_version.py"
    version_file.write_text('__version__ = "0.0.0+edited"\n')
    edited = _build(project)
    _ok(edited)
    assert (_gallery_runs(edited), _notebook_runs(edited)) == everything
    for page in pages:
        assert "0.0.0+edited" in page.read_text(), page.name

    # Asking for a GPU re-executes everything too (the setting is part of the
    # fingerprint), and on a machine without one the build fails.
    require = _build(project, LSTM_DEMO_REQUIRE_CUDA="1")
    output = require.stdout + require.stderr
    if "cuda" in _torch_devices():
        _ok(require)
    else:
        assert require.returncode != 0
        assert "RuntimeError: Expected a CUDA device, since LSTM_DEMO_REQUIRE_CUDA=1" in output
        for example in examples:
            assert example.name in output
