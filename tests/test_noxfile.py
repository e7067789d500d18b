"""The noxfile's choice of torch: the requirement, the system torch, and when the environment is rebuilt."""

from __future__ import annotations

import importlib.util
import re
import site
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]


@pytest.fixture(scope="module")
def noxfile():
    spec = importlib.util.spec_from_file_location("lstm_demo_noxfile", ROOT / "noxfile.py")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def test_default_is_the_pinned_torch(noxfile):
    choice = noxfile.torch_choice({})
    assert choice == ("torch==2.13.0", "")
    assert not choice.system


def test_an_empty_variable_means_the_default(noxfile):
    assert noxfile.torch_choice({"LSTM_DEMO_TORCH": "  ", "LSTM_DEMO_TORCH_INDEX": ""}) == (
        "torch==2.13.0",
        "",
    )


def test_requirement_and_index_are_taken_as_given(noxfile):
    environ = {"LSTM_DEMO_TORCH": "torch>=2.5", "LSTM_DEMO_TORCH_INDEX": "https://example.org/whl/cpu"}
    choice = noxfile.torch_choice(environ)
    assert choice == ("torch>=2.5", "https://example.org/whl/cpu")
    assert not choice.system


@pytest.mark.parametrize("value", ["system", "SYSTEM", " System "])
def test_system_uses_the_interpreters_torch(noxfile, value):
    choice = noxfile.torch_choice({"LSTM_DEMO_TORCH": value})
    assert choice == ("system", "")
    assert choice.system


def test_system_with_an_index_is_refused(noxfile):
    environ = {"LSTM_DEMO_TORCH": "system", "LSTM_DEMO_TORCH_INDEX": "https://example.org/whl/cpu"}
    with pytest.raises(
        ValueError, match=r"^Expected no LSTM_DEMO_TORCH_INDEX with LSTM_DEMO_TORCH=system"
    ) as info:
        noxfile.torch_choice(environ)
    assert "but got 'https://example.org/whl/cpu' instead." in str(info.value)


def test_stamp_changes_with_every_input(noxfile):
    system = noxfile.TorchChoice("system", "")
    pinned = noxfile.TorchChoice("torch==2.13.0", "")
    base = noxfile.stamp("[project]", system, "3.12.3", '{"version": "2.11.0+cu130"}')
    assert base == noxfile.stamp("[project]", system, "3.12.3", '{"version": "2.11.0+cu130"}')
    others = {
        noxfile.stamp("[project]", system, "3.12.3", '{"version": "2.11.1+cu130"}'),  # system torch upgraded
        noxfile.stamp("[project]\n", system, "3.12.3", '{"version": "2.11.0+cu130"}'),
        noxfile.stamp("[project]", system, "3.12.4", '{"version": "2.11.0+cu130"}'),
        noxfile.stamp("[project]", pinned, "3.12.3", ""),
        noxfile.stamp("[project]", noxfile.TorchChoice("torch==2.13.0", "https://x"), "3.12.3", ""),
    }
    assert len(others) == 5
    assert base not in others


def test_outer_site_pth_adds_each_folder_and_its_pth_files(noxfile, tmp_path, monkeypatch):
    env, outer, linked = tmp_path / "env", tmp_path / "outer", tmp_path / "linked"
    for folder in (env, outer, linked):
        folder.mkdir()
    (outer / "editable.pth").write_text(f"{linked}\n")
    (env / "_outer.pth").write_text(noxfile.outer_site_pth([str(outer)]))
    monkeypatch.setattr(sys, "path", list(sys.path))
    site.addsitedir(str(env))  # what Python's start-up does with the environment's site-packages
    assert sys.path[-3:] == [str(env), str(outer), str(linked)]


def test_nox_runs_the_browser_check_after_the_docs_build(noxfile):
    sessions = noxfile.nox.options.sessions
    assert "browser" in sessions
    assert sessions.index("docs") < sessions.index("browser")


def test_plain_pytest_collects_no_browser_test():
    """`nox -s tests` (pytest over tests/) needs no browser: check_site.py runs only when named."""
    collect = [sys.executable, "-m", "pytest", "--collect-only", "-q", "-p", "no:cacheprovider"]
    found = subprocess.run(
        [*collect, "tests/browser", "tests/test_sitecheck.py"],
        cwd=ROOT,
        capture_output=True,
        text=True,
        check=False,
    )
    assert found.returncode == 0, found.stdout + found.stderr
    assert "tests/test_sitecheck.py::test_resolve_lands_where_a_browser_does" in found.stdout
    assert "check_site" not in found.stdout


@pytest.mark.parametrize(
    ("changed", "pattern"),
    [
        (["examples/plot_03_gates.py"], r"/(plot_03_gates\.py)$"),
        (
            ["examples/plot_07_padding.py", "docs/shapes.md", "examples/plot_01_whole.py", "README.md"],
            r"/(plot_01_whole\.py|plot_07_padding\.py)$",
        ),
        (["docs/shapes.md", "tests/test_cli.py", ".github/workflows/ci.yml"], r"^$"),
        ([], r"^$"),
        (["examples/plot_03_gates.py", "lstm_demo/stepwise.py"], r"/plot_"),
        (["docs/conf.py"], r"/plot_"),
        (["docs/_lstm_demo_build.py"], r"/plot_"),
        (["pyproject.toml"], r"/plot_"),
        (["noxfile.py"], r"/plot_"),
        (["examples/GALLERY_HEADER.rst"], r"/plot_"),
        (["examples/sub/plot_04.py"], r"/plot_"),
    ],
)
def test_gallery_pattern_runs_what_the_changes_can_change(noxfile, changed, pattern):
    assert noxfile.gallery_pattern(changed) == pattern


def test_gallery_pattern_selects_exactly_the_changed_examples_by_full_path(noxfile):
    """sphinx-gallery searches the pattern in each example's full path."""
    pattern = re.compile(noxfile.gallery_pattern(["examples/plot_01_a.py", "examples/plot_1.py"]))
    examples = ["/src/examples/plot_01_a.py", "/src/examples/plot_1.py", "/src/examples/plot_01_ab.py"]
    assert [path for path in examples if pattern.search(path)] == examples[:2]
    assert not re.search(noxfile.NO_EXAMPLE, "/src/examples/plot_01_a.py")
    assert all(re.search(noxfile.EVERY_EXAMPLE, path) for path in examples)


# The directives of sphinx.ext.doctest, in MyST and in reStructuredText.
_DOCTEST_DIRECTIVE = re.compile(
    r"^\s*(?:```\{|:::\{|\.\. )(?:doctest|testcode|testoutput|testsetup|testcleanup)\b", re.MULTILINE
)


def test_the_docs_pages_have_no_doctest_blocks_of_their_own():
    """`nox -s doctest` runs the docstrings only: a page's own doctest or testcode block would go untested."""
    sources = [
        path for folder in ("docs", "examples") for path in sorted((ROOT / folder).glob("*.*"))
        if path.suffix in {".md", ".rst", ".py", ".txt"}
    ]  # fmt: skip
    assert any(path.name == "api.md" for path in sources)
    with_blocks = [
        path.name for path in sources if _DOCTEST_DIRECTIVE.search(path.read_text(encoding="utf-8"))
    ]
    assert with_blocks == []
    assert _DOCTEST_DIRECTIVE.search("text\n```{doctest}\n>>> 1\n1\n```\n")
    assert _DOCTEST_DIRECTIVE.search(".. testcode::\n\n   print(1)\n")


def test_ci_runs_the_default_sessions_and_the_docs_build_tests(noxfile):
    """The docs-build tests are not a default session, so .ci/run runs them after `nox`."""
    assert "docs_tests" not in noxfile.nox.options.sessions
    commands = [line.strip() for line in (ROOT / ".ci" / "run").read_text().splitlines()]
    assert commands.index("python3 -m nox") < commands.index("python3 -m nox -s docs_tests")
