"""The docs build with the project's own configuration: a false claim fails it,
an edit to lstm_demo re-executes the pages while an unchanged tree re-executes
nothing, and a build that must show GPU results fails without a GPU.

Each test builds a two-page site in a temporary folder: the site's own
docs/conf.py and docs/_lstm_demo_build.py, a copy of lstm_demo (first on the
path, so edits never touch the working tree), and the pages of
tests/docs_project: one tiny sphinx-gallery example and one tiny myst-nb page.
The machinery is the real one; only the pages are small.
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
PAGES = Path(__file__).resolve().parent / "docs_project"
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
    """The two-page site: the real configuration and package, the fixture's pages."""
    project = tmp_path / "project"
    (project / "docs").mkdir(parents=True)
    for name in ("conf.py", "_lstm_demo_build.py", "_page_weight.py", "_reading_order.py"):
        shutil.copy2(ROOT / "docs" / name, project / "docs" / name)
    for folder in ("_static", "_templates", "_inventories"):
        shutil.copytree(ROOT / "docs" / folder, project / "docs" / folder)
    shutil.copy2(PAGES / "index.md", project / "docs" / "index.md")
    shutil.copytree(PAGES / "examples", project / "examples", ignore=BUILD_OUTPUTS)
    shutil.copytree(ROOT / "lstm_demo", project / "lstm_demo", ignore=BUILD_OUTPUTS)
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


def test_a_false_claim_fails_the_build(tmp_path: Path) -> None:
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
    example = project / "examples" / "plot_01_tiny.py"
    # The example and the page print the package version.
    pages = [html / "auto_examples" / "plot_01_tiny.html", html / "index.html"]

    cold = _build(project)
    _ok(cold)
    assert (_gallery_runs(cold), _notebook_runs(cold)) == (1, 1)

    # An unchanged tree executes nothing, and does not even import torch
    # (about a second of every no-op build).
    again = _build(project, importtime=True)
    _ok(again)
    assert (_gallery_runs(again), _notebook_runs(again)) == (0, 0)
    assert not re.search(r"\|\s+torch$", again.stderr, re.MULTILINE)

    # An edited example re-runs alone.
    example.write_text(example.read_text() + "\n# an edit\n")
    one = _build(project)
    _ok(one)
    assert (_gallery_runs(one), _notebook_runs(one)) == (1, 0)

    # An edit to lstm_demo re-executes every example and page: each prints
    # the package version, so the new one shows.
    version_file = project / "lstm_demo" / "_version.py"
    version_file.write_text('__version__ = "0.0.0+edited"\n')
    edited = _build(project)
    _ok(edited)
    assert (_gallery_runs(edited), _notebook_runs(edited)) == (1, 1)
    for page in pages:
        assert "0.0.0+edited" in page.read_text(), page.name


def test_a_gpu_build_fails_without_a_gpu(tmp_path: Path) -> None:
    """LSTM_DEMO_REQUIRE_CUDA=1: a build that must publish GPU results fails where there is none."""
    project = _project(tmp_path)

    require = _build(project, LSTM_DEMO_REQUIRE_CUDA="1")

    output = require.stdout + require.stderr
    if "cuda" in _torch_devices():
        _ok(require)
    else:
        assert require.returncode != 0
        assert "RuntimeError: Expected a CUDA device, since LSTM_DEMO_REQUIRE_CUDA=1" in output
        assert "plot_01_tiny.py" in output
