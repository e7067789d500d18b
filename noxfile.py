"""Sessions for building the site and running the checks.

    nox                 lint, tests, doctest, the docs build and the browser check (the CI command)
    nox -s lint         ruff (lint, formatting) and mypy --strict on lstm_demo
    nox -s tests        pytest but the docs-build tests; -- -k NAME for some tests (any of them)
    nox -s docs_tests   the docs-build tests (small sites built with the real configuration)
    nox -s docs         build the site into docs/_build/html
    nox -s docs -- --clean   rebuild from scratch, every example and page re-executed
    nox -s docs -- --changed-since origin/main   execute only the examples the changes can change
    nox -s doctest      the docstring examples (pytest --doctest-modules)
    nox -s browser      every page of the built site in Debian's chromium: console, maths,
                        accessibility (axe-core), layout at 390 px, search, links; screenshots
                        (LSTM_DEMO_SITE=folder: check a site built elsewhere, no build)
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
import re
import shutil
import subprocess
import sys
from collections.abc import Iterable, Mapping, Sequence
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

# The package (editable, with its published extras: the examples' and the ports') and the `dev` dependency
# group of pyproject.toml: test, docs, lint and benchmark tools.
_PROJECT = ("-e", f"{ROOT}[examples,ports]", "--group", f"{ROOT / 'pyproject.toml'}:dev")

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


# sphinx-gallery's `filename_pattern` in docs/conf.py, which reads this variable: the
# examples a build executes (the others get pages with their code and no outputs).
PATTERN_VARIABLE = "LSTM_DEMO_GALLERY_PATTERN"
EVERY_EXAMPLE = r"/plot_"
NO_EXAMPLE = r"^$"  # sphinx-gallery searches it in each example's full path: it matches none
# What every example's output depends on besides its own file: a change here runs them all.
_SHARED_INPUTS = ("lstm_demo/", "docs/conf.py", "docs/_", "pyproject.toml", "noxfile.py", "examples/")
_EXAMPLE = re.compile(r"examples/(plot_[^/]*\.py)")


def gallery_pattern(changed: Iterable[str]) -> str:
    """The `filename_pattern` that re-runs only what the changed files (paths from the root) can change.

    Every example when the package, the docs configuration and its build hooks,
    pyproject.toml, the noxfile or any other file of examples/ changed; else
    the changed ``examples/plot_*.py`` alone, and no example at all when none
    changed (a change to a page, a test or the README). The pages under docs/
    are executed by myst-nb in every build, whatever the pattern.
    """
    names = []
    for path in changed:
        example = _EXAMPLE.fullmatch(path)
        if example:
            names.append(example.group(1))
        elif path.startswith(_SHARED_INPUTS):
            return EVERY_EXAMPLE
    if not names:
        return NO_EXAMPLE
    return "/(" + "|".join(re.escape(name) for name in sorted(set(names))) + ")$"


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
    """pytest, but the docs-build tests (`nox -s docs_tests`); arguments after `--` go to pytest instead.

    They run in one process, where torch already uses every core; spread over
    workers they took longer. With arguments, pytest collects every test,
    docs-build tests included (e.g. `-- -k fresh`).
    """
    if session.posargs:
        _python(session, "-m", "pytest", *session.posargs)
        return
    _python(session, "-m", "pytest", "-m", "not docs")


@nox.session(default=False)
def docs_tests(session: nox.Session) -> None:
    """The docs-build tests: each builds a small site with the real configuration, on every core.

    Not in the default sessions (about a minute of builds); .ci/run and CI run them.
    """
    _python(session, "-m", "pytest", "-m", "docs", "-n", "auto", *session.posargs)


@nox.session
def doctest(session: nox.Session) -> None:
    """The package's docstring examples (pytest --doctest-modules).

    They are also the API page's only examples: no page of the docs has
    doctest or testcode blocks of its own (tests/test_noxfile.py checks), so
    Sphinx's doctest builder would run the same examples a second time.
    """
    _python(
        session, "-m", "pytest", "--doctest-modules", "lstm_demo", "-p", "no:cacheprovider", *session.posargs
    )


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
        session, "-m", "sphinx", "-b", "html", "-W", "--keep-going", "-n",
        "-d", str(DOCS / "_build" / "doctrees"), str(DOCS), str(HTML), *args,
        env=dict(env or {}),
    )  # fmt: skip


def _clean() -> None:
    for path in [DOCS / "_build", DOCS / "auto_examples", DOCS / "sg_execution_times.rst"]:
        if path.is_dir():
            shutil.rmtree(path)
        elif path.exists():
            path.unlink()


def _changed_since(session: nox.Session, ref: str) -> list[str]:
    """The files changed between ``ref`` and the working tree (committed or not), from the root."""
    base = session.run("git", "merge-base", ref, "HEAD", silent=True, external=True).strip()
    names = session.run("git", "diff", "--name-only", base, silent=True, external=True)
    return [line for line in names.splitlines() if line.strip()]


@nox.session
def docs(session: nox.Session) -> None:
    """Build the site, executing every example and page. `-- --clean` starts from scratch.

    `-- --changed-since REF` (a pull request's build: REF is its target branch)
    executes only the examples that the changes since REF can change (see
    gallery_pattern); the other examples' pages show their code without outputs.
    """
    args = list(session.posargs)
    env = {}
    if "--clean" in args:
        args.remove("--clean")
        _clean()
    if "--changed-since" in args:
        at = args.index("--changed-since")
        if at + 1 == len(args):
            session.error("Expected a git ref after --changed-since, e.g. origin/main, but got none")
        ref = args[at + 1]
        del args[at : at + 2]
        env[PATTERN_VARIABLE] = gallery_pattern(_changed_since(session, ref))
        session.log(f"Examples to execute (changes since {ref}): {PATTERN_VARIABLE}={env[PATTERN_VARIABLE]}")
    _build_html(session, *args, env=env)
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
    127.0.0.1 and loads each page in light and dark mode at 1280 px and in
    light mode at 390 px, several pages at once in one chromium; the report of
    every finding (and the slowest loads) goes to docs/_build/browser-report.txt
    and the screenshots to docs/_build/screenshots/. With LSTM_DEMO_SITE set
    to a built site's folder (e.g. CI's artifact of the docs job), that folder
    is checked as it is, with no build.
    """
    if not CHROMIUM.is_file():
        session.error(
            f"nox -s browser drives Debian's chromium at {CHROMIUM}, but there is none: "
            "install it with `apt-get install chromium` (the CI script does)"
        )
    _browser_tools(session)
    site = os.environ.get("LSTM_DEMO_SITE", "").strip()
    if not site:
        _build_html(session)
    _python(
        session, "-m", "pytest", str(ROOT / "tests" / "browser" / "check_site.py"), "-p", "no:cacheprovider",
        *session.posargs, env={"LSTM_DEMO_SITE": str(Path(site).resolve()) if site else str(HTML)},
    )  # fmt: skip
