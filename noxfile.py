"""Sessions for building the site and running the checks.

    nox                 lint, tests, doctest and the full docs build (the CI command)
    nox -s docs         build the site into docs/_build/html
    nox -s docs -- --clean   rebuild from scratch, every example and page re-executed
    nox -s serve        rebuild and reload in the browser while you edit
    nox -s gpu          on a CUDA machine: tests and checks on every GPU, docs with GPU results

Every session uses one shared virtual environment, .nox/lstm-demo, created on
first use and reinstalled only when pyproject.toml or the torch requirement
changes. Choose the torch build without editing this file:

    LSTM_DEMO_TORCH       the torch requirement (default: torch==2.13.0)
    LSTM_DEMO_TORCH_INDEX an index URL to take torch from, e.g. PyTorch's CPU-only wheels
"""

from __future__ import annotations

import hashlib
import os
import shutil
import sys
from pathlib import Path

import nox

ROOT = Path(__file__).resolve().parent
DOCS = ROOT / "docs"
HTML = DOCS / "_build" / "html"
ENV = ROOT / ".nox" / "lstm-demo"
BIN = ENV / ("Scripts" if sys.platform == "win32" else "bin")
TORCH = os.environ.get("LSTM_DEMO_TORCH", "torch==2.13.0")
TORCH_INDEX = os.environ.get("LSTM_DEMO_TORCH_INDEX", "")

nox.options.default_venv_backend = "none"
nox.options.sessions = ["lint", "tests", "doctest", "docs"]


def _env(session: nox.Session) -> Path:
    """The shared environment, (re)installed when its requirements changed."""
    stamp = ENV / ".lstm-demo-installed"
    wanted = hashlib.sha256(
        "\n".join([(ROOT / "pyproject.toml").read_text(), TORCH, TORCH_INDEX, sys.version]).encode()
    ).hexdigest()
    if stamp.is_file() and stamp.read_text() == wanted:
        return BIN / "python"
    session.log(f"Creating the shared environment {ENV} with {TORCH}")
    if ENV.exists():
        shutil.rmtree(ENV)
    # virtualenv (a dependency of nox) brings its own pip: unlike the standard
    # venv module it needs no python3-venv package on Debian-like systems.
    session.run(sys.executable, "-m", "virtualenv", "--quiet", str(ENV), external=True)
    python = str(BIN / "python")
    pip = [python, "-m", "pip", "install", "--quiet", "--disable-pip-version-check"]
    # torch first: once it is there, the package's open `torch` requirement is
    # met and pip does not pull another build.
    session.run(*pip, TORCH, *(["--index-url", TORCH_INDEX] if TORCH_INDEX else []), external=True)
    session.run(*pip, "-e", f"{ROOT}[dev]", external=True)
    stamp.write_text(wanted)
    return BIN / "python"


def _python(session: nox.Session, *args: str, **kwargs: object) -> None:
    env = {"MPLBACKEND": "Agg", "PYDEVD_DISABLE_FILE_VALIDATION": "1", **kwargs.pop("env", {})}  # type: ignore[dict-item]
    session.run(str(_env(session)), *args, external=True, env=env, **kwargs)  # type: ignore[arg-type]


@nox.session
def lint(session: nox.Session) -> None:
    """ruff: lint and formatting."""
    _python(session, "-m", "ruff", "check", *session.posargs, ".")
    _python(session, "-m", "ruff", "format", "--check", ".")


@nox.session
def tests(session: nox.Session) -> None:
    """pytest, docs-build tests included."""
    _python(session, "-m", "pytest", *session.posargs)


@nox.session
def doctest(session: nox.Session) -> None:
    """The package's docstring examples, and Sphinx's doctest builder over the docs."""
    _python(session, "-m", "pytest", "--doctest-modules", "lstm_demo", "-p", "no:cacheprovider")
    _python(
        session, "-m", "sphinx", "-b", "doctest", "-W", "--keep-going",
        str(DOCS), str(DOCS / "_build" / "doctest"), *session.posargs,
    )  # fmt: skip


def _clean() -> None:
    for path in [DOCS / "_build", DOCS / "auto_examples", DOCS / "sg_execution_times.rst"]:
        if path.is_dir():
            shutil.rmtree(path)
        elif path.exists():
            path.unlink()


@nox.session
def docs(session: nox.Session) -> None:
    """Build the site, executing every example and page. `-- --clean` starts from scratch."""
    args = list(session.posargs)
    if "--clean" in args:
        args.remove("--clean")
        _clean()
    _python(session, "-m", "sphinx", "-b", "html", "-W", "--keep-going", "-n", str(DOCS), str(HTML), *args)
    session.log(f"Built the site: open {HTML / 'index.html'}")


@nox.session(default=False)
def serve(session: nox.Session) -> None:
    """Build, serve on http://127.0.0.1:8000 and rebuild on every change."""
    _python(
        session, "-m", "sphinx_autobuild", str(DOCS), str(HTML), "-n", "--keep-going",
        "--watch", str(ROOT / "lstm_demo"), "--watch", str(ROOT / "examples"),
        "--ignore", str(DOCS / "auto_examples"), "--ignore", str(DOCS / "sg_execution_times.rst"),
        *session.posargs,
    )  # fmt: skip


@nox.session(default=False)
def gpu(session: nox.Session) -> None:
    """On a CUDA machine: the tests, `python -m lstm_demo check` and the docs build, each requiring a GPU."""
    python = str(_env(session))
    probe = "import torch; print(torch.cuda.is_available(), torch.__version__, torch.version.cuda)"
    available, version, cuda = session.run(python, "-c", probe, silent=True, external=True).split()
    if available != "True":
        session.error(
            f"nox -s gpu needs a CUDA GPU and a CUDA build of torch, but torch {version} "
            f"(built with CUDA {cuda}) sees none here. On a GPU machine, set LSTM_DEMO_TORCH "
            "to a CUDA build (on Linux, PyPI's torch is one) and run again."
        )
    env = {"LSTM_DEMO_REQUIRE_CUDA": "1"}
    _python(session, "-m", "pytest", "tests/test_on_devices.py", *session.posargs, env=env)
    _python(session, "-m", "lstm_demo", "check", "--dtype", "float32", "--dtype", "float64", env=env)
    _python(session, "-m", "sphinx", "-b", "html", "-W", "--keep-going", "-n", str(DOCS), str(HTML), env=env)
    session.log(f"Built the site with GPU results: open {HTML / 'index.html'}")
