"""Time the docs build: cold, no-op, one edited example, an edited lstm_demo.

Each scenario runs on a copy of docs/, examples/ and lstm_demo/ in a temporary
folder (the working tree is never touched) and is repeated; the script prints
the median and every run, in wall seconds, and the peak resident memory of
the whole build (Sphinx plus the notebook kernels it starts), sampled every
20 ms.

    python benchmarks/build_times.py                 # the four build scenarios, 3 repeats
    python benchmarks/build_times.py --repeats 5
    python benchmarks/build_times.py --fresh-clone   # also: the README's two commands on a fresh clone

Run it with the environment nox made (``.nox/lstm-demo/bin/python``), or any
environment with the docs extra installed.
"""

from __future__ import annotations

import argparse
import contextlib
import os
import platform
import shutil
import statistics
import subprocess
import sys
import tempfile
import threading
import time
from pathlib import Path

import psutil

ROOT = Path(__file__).resolve().parents[1]
IGNORE = shutil.ignore_patterns("_build", "auto_examples", "sg_execution_times.rst", "__pycache__")


def _tree_rss(proc: psutil.Process) -> int:
    total = 0
    for p in [proc, *proc.children(recursive=True)]:
        with contextlib.suppress(psutil.Error):
            total += p.memory_info().rss
    return total


def run(cmd: list[str], cwd: Path, env: dict[str, str] | None = None) -> tuple[float, int]:
    """Run ``cmd``; return (wall seconds, peak RSS of its process tree in bytes)."""
    start = time.perf_counter()
    proc = subprocess.Popen(
        cmd, cwd=cwd, env=env, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True
    )
    peak = 0
    done = threading.Event()

    def sample() -> None:
        nonlocal peak
        ps = psutil.Process(proc.pid)
        while not done.is_set():
            try:
                peak = max(peak, _tree_rss(ps))
            except psutil.Error:
                return
            time.sleep(0.02)

    sampler = threading.Thread(target=sample, daemon=True)
    sampler.start()
    output, _ = proc.communicate()
    elapsed = time.perf_counter() - start
    done.set()
    sampler.join()
    if proc.returncode != 0:
        sys.exit(f"command failed: {' '.join(cmd)}\n{output[-3000:]}")
    return elapsed, peak


def project_copy(base: Path) -> Path:
    project = base / "project"
    for name in ("docs", "examples", "lstm_demo"):
        shutil.copytree(ROOT / name, project / name, ignore=IGNORE)
    return project


def build(project: Path) -> tuple[float, int]:
    env = {
        **os.environ,
        "PYTHONPATH": str(project),
        "MPLBACKEND": "Agg",
        "PYDEVD_DISABLE_FILE_VALIDATION": "1",
    }
    docs = project / "docs"
    cmd = [sys.executable, "-m", "sphinx", "-q", "-b", "html", "-W", "--keep-going", "-n"]
    return run([*cmd, str(docs), str(docs / "_build" / "html")], cwd=project, env=env)


def clean(project: Path) -> None:
    docs = project / "docs"
    shutil.rmtree(docs / "_build", ignore_errors=True)
    shutil.rmtree(docs / "auto_examples", ignore_errors=True)
    (docs / "sg_execution_times.rst").unlink(missing_ok=True)


def touch_file(path: Path, n: int) -> None:
    path.write_text(path.read_text() + f"\n# benchmark edit {n}\n")


def report(name: str, runs: list[tuple[float, int]]) -> None:
    times = [t for t, _ in runs]
    peak = max(m for _, m in runs) / 2**20
    listed = ", ".join(f"{t:.2f}" for t in times)
    print(f"{name:<28} median {statistics.median(times):6.2f} s   runs [{listed}]   peak RSS {peak:6.0f} MiB")


def build_scenarios(repeats: int) -> None:
    with tempfile.TemporaryDirectory() as tmp:
        project = project_copy(Path(tmp))
        cold, noop, example, package = [], [], [], []
        for n in range(repeats):
            clean(project)
            cold.append(build(project))
            noop.append(build(project))
            touch_file(project / "examples" / "plot_01_whole_vs_stepwise.py", n)
            example.append(build(project))
            touch_file(project / "lstm_demo" / "__init__.py", n)
            package.append(build(project))
        report("cold build (all executed)", cold)
        report("no-op rebuild", noop)
        report("one example edited", example)
        report("lstm_demo edited", package)


def fresh_clone() -> None:
    """The README's two commands, `nox -s docs` then `nox`, on a fresh clone."""
    nox = shutil.which("nox")
    if nox is None:
        sys.exit("--fresh-clone needs nox on PATH (python -m pip install nox)")
    with tempfile.TemporaryDirectory() as tmp:
        clone = Path(tmp) / "clone"
        subprocess.run(["git", "clone", "--quiet", str(ROOT), str(clone)], check=True)
        report("fresh clone: nox -s docs", [run([nox, "-s", "docs"], cwd=clone)])
        report("then: nox (all checks)", [run([nox], cwd=clone)])


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--repeats", type=int, default=3, help="runs per scenario (default 3)")
    parser.add_argument(
        "--fresh-clone", action="store_true", help="also time the README's commands on a clone"
    )
    args = parser.parse_args()
    if args.repeats < 1:
        parser.error(f"expected --repeats of at least 1, but got {args.repeats}")
    print(f"{platform.node()}: {os.cpu_count()} CPUs, Python {platform.python_version()}, {sys.executable}")
    build_scenarios(args.repeats)
    if args.fresh_clone:
        fresh_clone()


if __name__ == "__main__":
    main()
