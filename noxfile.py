"""Sessions for building the site and running the checks.

    nox                 lint, tests, doctest and the full docs build (the CI command)
    nox -s lint         ruff (lint, formatting) and mypy --strict on lstm_demo
    nox -s tests        pytest; the docs-build tests on every core; -- -k NAME for some tests
    nox -s docs         build the site into docs/_build/html
    nox -s docs -- --clean   rebuild from scratch, every example and page re-executed
    nox -s browser      every page of the built site in Debian's chromium: console, maths,
                        accessibility (axe-core), layout at 390 px, search, links; screenshots
    nox -s serve        rebuild and reload in the browser while you edit
    nox -s gpu          on a CUDA machine: tests and checks on every GPU, docs with GPU results

Every session uses one shared virtual environment, .nox/lstm-demo, created on
first use and reinstalled only when pyproject.toml or the torch requirement
changes. Choose the torch build without editing this file:

    LSTM_DEMO_TORCH       the torch requirement (default: torch==2.13.0), or
                          "system": keep the torch of the Python running nox
    LSTM_DEMO_TORCH_INDEX an index URL to take torch from, e.g. PyTorch's CPU-only wheels

With LSTM_DEMO_TORCH=system the environment sees that interpreter's packages
(--system-site-packages, plus its own site-packages when it is a virtual
environment), installs no torch, and fails if pip would replace the one found:
the way to use a CUDA torch that came with a cluster, conda or a vendor image.
"""

from __future__ import annotations

import hashlib
import json
import os
import shutil
import subprocess
import sys
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import NamedTuple

import nox

ROOT = Path(__file__).resolve().parent
DOCS = ROOT / "docs"
HTML = DOCS / "_build" / "html"
ENV = ROOT / ".nox" / "lstm-demo"
BIN = ENV / ("Scripts" if sys.platform == "win32" else "bin")
DEFAULT_TORCH = "torch==2.13.0"
SYSTEM = "system"
# What the interpreter running nox must print for LSTM_DEMO_TORCH=system.
_PROBE = "import json, torch; print(json.dumps({'version': torch.__version__, 'file': torch.__file__}))"

# The package (editable, with its published extra) and the `dev` dependency
# group of pyproject.toml: test, docs, lint and benchmark tools.
_PROJECT = ("-e", f"{ROOT}[examples]", "--group", f"{ROOT / 'pyproject.toml'}:dev")

nox.options.default_venv_backend = "none"
nox.options.sessions = ["lint", "tests", "doctest", "docs", "browser"]
# The browser the `browser` session drives: Debian's package (`apt-get install chromium`);
# Playwright's own browser downloads are not used.
CHROMIUM = Path("/usr/bin/chromium")


class TorchChoice(NamedTuple):
    """Which torch the shared environment gets, read from the environment variables."""

    requirement: str  # a pip requirement, or "system"
    index: str  # an index URL for that requirement, or ""

    @property
    def system(self) -> bool:
        """Whether the torch of the interpreter running nox is used as it is."""
        return self.requirement == SYSTEM


def torch_choice(environ: Mapping[str, str]) -> TorchChoice:
    """The torch requirement and index that ``LSTM_DEMO_TORCH``/``LSTM_DEMO_TORCH_INDEX`` ask for."""
    requirement = environ.get("LSTM_DEMO_TORCH", "").strip() or DEFAULT_TORCH
    index = environ.get("LSTM_DEMO_TORCH_INDEX", "").strip()
    if requirement.lower() == SYSTEM:
        if index:
            msg = (
                "Expected no LSTM_DEMO_TORCH_INDEX with LSTM_DEMO_TORCH=system (no torch is installed), "
                f"but got {index!r} instead."
            )
            raise ValueError(msg)
        return TorchChoice(SYSTEM, "")
    return TorchChoice(requirement, index)


def stamp(pyproject: str, choice: TorchChoice, python: str, system_torch: str = "") -> str:
    """What the environment was installed from: it is rebuilt when this changes.

    ``system_torch`` is the version and location of the interpreter's torch
    under ``LSTM_DEMO_TORCH=system``, so an upgraded system torch rebuilds too.
    """
    return hashlib.sha256(
        f"{pyproject}\n{choice.requirement}\n{choice.index}\n{python}\n{system_torch}".encode()
    ).hexdigest()


def outer_site_pth(site_dirs: Sequence[str]) -> str:
    """A ``.pth`` file's text that adds ``site_dirs`` (with their own .pth files) after the env's own.

    ``--system-site-packages`` only reaches the base installation's packages;
    when nox runs from a virtual environment, its torch lives in that
    environment's site-packages, which this file adds.
    """
    return "import site; " + "; ".join(f"site.addsitedir({d!r})" for d in site_dirs) + "\n"


def _system_torch(session: nox.Session) -> dict[str, str]:
    """The version and file of the torch that the interpreter running nox imports."""
    found = subprocess.run([sys.executable, "-c", _PROBE], capture_output=True, text=True, check=False)
    if found.returncode != 0:
        session.error(
            f"LSTM_DEMO_TORCH=system uses the torch of the Python running nox ({sys.executable}), "
            f"but it cannot import torch:\n{found.stderr.strip()}\n"
            "Run nox with the Python that has your torch: `python -m pip install nox`, "
            "then `python -m nox ...` with that python"
        )
    return json.loads(found.stdout.strip().splitlines()[-1])


def _torch_of(session: nox.Session, python: str) -> dict[str, str]:
    """The version and file of the torch that ``python`` imports."""
    printed = session.run(python, "-c", _PROBE, silent=True, external=True)
    return json.loads(printed.strip().splitlines()[-1])


def _site_dirs() -> list[str]:
    """The site-packages of the interpreter running nox (its user site too, where it is used)."""
    import site

    dirs = list(site.getsitepackages())
    user = site.getusersitepackages() if site.ENABLE_USER_SITE else ""
    if user and Path(user).is_dir():
        dirs.append(user)
    return dirs


def _env(session: nox.Session) -> Path:
    """The shared environment, (re)installed when its requirements changed."""
    try:
        choice = torch_choice(os.environ)
    except ValueError as error:
        session.error(str(error).rstrip("."))  # nox adds its own full stop
    marker = ENV / ".lstm-demo-installed"
    system_torch = _system_torch(session) if choice.system else {}
    wanted = stamp(
        (ROOT / "pyproject.toml").read_text(),
        choice,
        sys.version,
        json.dumps(system_torch, sort_keys=True) if system_torch else "",
    )
    if marker.is_file() and marker.read_text() == wanted:
        return BIN / "python"
    what = f"the system's torch {system_torch['version']}" if choice.system else choice.requirement
    session.log(f"Creating the shared environment {ENV} with {what}")
    if ENV.exists():
        shutil.rmtree(ENV)
    # virtualenv (a dependency of nox) brings its own pip: unlike the standard
    # venv module it needs no python3-venv package on Debian-like systems.
    system_site = ["--system-site-packages"] if choice.system else []
    session.run(sys.executable, "-m", "virtualenv", "--quiet", *system_site, str(ENV), external=True)
    python = str(BIN / "python")
    pip = [python, "-m", "pip", "install", "--quiet", "--disable-pip-version-check"]
    # `--group` (PEP 735 dependency groups) needs pip 25.1 or newer.
    session.run(*pip, "pip>=25.1", external=True)
    if choice.system:
        site_packages = session.run(
            python, "-c", "import sysconfig; print(sysconfig.get_path('purelib'))", silent=True, external=True
        ).strip()
        Path(site_packages, "_lstm_demo_outer_site.pth").write_text(outer_site_pth(_site_dirs()))
        seen = _torch_of(session, python)
        if seen != system_torch:
            session.error(f"The new environment imports torch {seen}, not the system's {system_torch}.")
        # The constraint keeps pip from replacing that torch to satisfy anything.
        constraint = ENV / "torch-constraint.txt"
        constraint.write_text(f"torch=={system_torch['version']}\n")
        session.run(*pip, "--constraint", str(constraint), *_PROJECT, external=True)
        after = _torch_of(session, python)
        if after != system_torch:
            session.error(f"pip replaced the system's torch {system_torch} with {after}.")
    else:
        # torch first: once it is there, the package's open `torch` requirement is
        # met and pip does not pull another build.
        index = ["--index-url", choice.index] if choice.index else []
        session.run(*pip, choice.requirement, *index, external=True)
        session.run(*pip, *_PROJECT, external=True)
    marker.write_text(wanted)
    return BIN / "python"


def _python(session: nox.Session, *args: str, **kwargs: object) -> None:
    env = {"MPLBACKEND": "Agg", "PYDEVD_DISABLE_FILE_VALIDATION": "1", **kwargs.pop("env", {})}  # type: ignore[dict-item]
    session.run(str(_env(session)), *args, external=True, env=env, **kwargs)  # type: ignore[arg-type]


@nox.session
def lint(session: nox.Session) -> None:
    """ruff (lint and formatting) and mypy --strict on the package."""
    _python(session, "-m", "ruff", "check", *session.posargs, ".")
    _python(session, "-m", "ruff", "format", "--check", ".")
    _python(session, "-m", "mypy")  # files and strictness: [tool.mypy] in pyproject.toml


@nox.session
def tests(session: nox.Session) -> None:
    """pytest, docs-build tests included; arguments after `--` go to one pytest run instead.

    The docs-build tests run on every core (pytest-xdist): each builds a site
    in its own processes. The others run in one process, where torch already
    uses every core; spread over workers they took longer.
    """
    if session.posargs:
        _python(session, "-m", "pytest", *session.posargs)
        return
    _python(session, "-m", "pytest", "-m", "not docs")
    _python(session, "-m", "pytest", "-m", "docs", "-n", "auto")


@nox.session
def doctest(session: nox.Session) -> None:
    """The package's docstring examples, and Sphinx's doctest builder over the docs."""
    _python(session, "-m", "pytest", "--doctest-modules", "lstm_demo", "-p", "no:cacheprovider")
    _python(
        session, "-m", "sphinx", "-b", "doctest", "-W", "--keep-going",
        str(DOCS), str(DOCS / "_build" / "doctest"), *session.posargs,
    )  # fmt: skip


def _browser_tools(session: nox.Session) -> None:
    """The `browser` dependency group, added to the shared environment once per (re)install of it."""
    python = str(_env(session))
    marker = ENV / ".lstm-demo-browser-installed"
    # The environment's own stamp: when it is rebuilt (pyproject.toml or torch changed), so is this.
    wanted = (ENV / ".lstm-demo-installed").read_text()
    if marker.is_file() and marker.read_text() == wanted:
        return
    constraint = ENV / "torch-constraint.txt"  # LSTM_DEMO_TORCH=system: keep the system's torch
    keep = ["--constraint", str(constraint)] if constraint.is_file() else []
    session.run(
        python, "-m", "pip", "install", "--quiet", "--disable-pip-version-check", *keep,
        "--group", f"{ROOT / 'pyproject.toml'}:browser", external=True,
    )  # fmt: skip
    marker.write_text(wanted)


def _build_html(session: nox.Session, *args: str, env: Mapping[str, str] | None = None) -> None:
    """The HTML site into docs/_build/html; an up-to-date build is a no-op of a few seconds."""
    _python(
        session, "-m", "sphinx", "-b", "html", "-W", "--keep-going", "-n", str(DOCS), str(HTML), *args,
        env=dict(env or {}),
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
    _build_html(session, *args)
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
            "to a CUDA build (on Linux, PyPI's torch is one), or to `system` to use the CUDA "
            "torch of the Python running nox, and run again."
        )
    env = {"LSTM_DEMO_REQUIRE_CUDA": "1"}
    _python(session, "-m", "pytest", "tests/test_on_devices.py", *session.posargs, env=env)
    _python(session, "-m", "lstm_demo", "check", "--dtype", "float32", "--dtype", "float64", env=env)
    _build_html(session, env=env)
    session.log(f"Built the site with GPU results: open {HTML / 'index.html'}")


@nox.session
def browser(session: nox.Session) -> None:
    """Every page of the site in chromium, offline; arguments after `--` go to pytest.

    Builds the site first (a no-op when it is up to date), serves it on
    127.0.0.1 and opens each page in light and dark mode; the report of every
    finding goes to docs/_build/browser-report.txt and the screenshots to
    docs/_build/screenshots/.
    """
    if not CHROMIUM.is_file():
        session.error(
            f"nox -s browser drives Debian's chromium at {CHROMIUM}, but there is none: "
            "install it with `apt-get install chromium` (the CI script does)"
        )
    _browser_tools(session)
    _build_html(session)
    _python(
        session, "-m", "pytest", str(ROOT / "tests" / "browser" / "check_site.py"), "-p", "no:cacheprovider",
        *session.posargs, env={"LSTM_DEMO_SITE": str(HTML)},
    )  # fmt: skip
