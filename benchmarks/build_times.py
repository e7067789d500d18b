"""Time the docs build against the pages' own computation.

Each build runs on a copy of docs/, examples/ and lstm_demo/ in a temporary
folder (the working tree is never touched). Repeated ``--repeats`` times:

* **cold**: from scratch, every example and page executed;
* **no-op**: the same tree built again, nothing changed;
* with ``--edits``, also: one example edited, then ``lstm_demo`` edited.

For each cold build the script also reads what the pages themselves cost:
the gallery's execution times (sphinx-gallery's own per-example timing, in
``sg_execution_times.rst``) and each myst-nb page's execution (its kernel's
start included, as myst-nb reports it). It prints medians with the spread
(min-max) and every run, in wall seconds, the peak resident memory of the
whole build (Sphinx plus the notebook kernels it starts), and two ratios:
cold build over the pages' compute, and no-op over cold. The machine's load
average is printed before and after: on a shared machine every figure grows.

    python benchmarks/build_times.py                     # cold and no-op, 3 repeats
    python benchmarks/build_times.py --repeats 5 --edits
    python benchmarks/build_times.py --tree ../other-checkout   # the same, for another checkout
    python benchmarks/build_times.py --fresh-clone       # also: the README's two commands on a fresh clone

Run it with the environment nox made (``.nox/lstm-demo/bin/python``), or any
environment with the dev dependency group installed.
"""

from __future__ import annotations

import argparse
import contextlib
import os
import platform
import re
import shutil
import statistics
import subprocess
import sys
import tempfile
import threading
import time
from pathlib import Path
from typing import NamedTuple

import psutil

ROOT = Path(__file__).resolve().parents[1]
IGNORE = shutil.ignore_patterns("_build", "auto_examples", "sg_execution_times.rst", "__pycache__")


class Run(NamedTuple):
    """One build: wall seconds, peak RSS of its process tree in bytes, what it printed, and when.

    ``stamps`` holds, for each line printed, the seconds since the start at which it came.
    """

    seconds: float
    peak: int
    output: str
    stamps: tuple[float, ...] = ()


#: The build's phases, each recognised by the first line that starts it (Sphinx's and its extensions' log).
PHASES = (
    ("start-up (Sphinx, extensions, conf.py)", ""),
    ("gallery (examples executed)", "generating gallery"),
    ("reading sources (myst-nb pages executed)", "reading sources"),
    ("writing pages", "writing output"),
    ("indices, viewcode, search page", "generating indices"),
    ("copying images and static files", "copying images"),
    ("search index, inventory, finish", "dumping search index"),
)


def _tree_rss(proc: psutil.Process) -> int:
    total = 0
    for p in [proc, *proc.children(recursive=True)]:
        with contextlib.suppress(psutil.Error):
            total += p.memory_info().rss
    return total


def run(cmd: list[str], cwd: Path, env: dict[str, str] | None = None) -> Run:
    """Run ``cmd``, sampling the memory of its process tree every 20 ms."""
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
    lines, stamps = [], []
    assert proc.stdout is not None
    for line in proc.stdout:
        lines.append(line)
        stamps.append(time.perf_counter() - start)
    proc.wait()
    elapsed = time.perf_counter() - start
    done.set()
    sampler.join()
    output = "".join(lines)
    if proc.returncode != 0:
        sys.exit(f"command failed: {' '.join(cmd)}\n{output[-3000:]}")
    return Run(elapsed, peak, output, tuple(stamps))


def phases(run: Run) -> dict[str, float]:
    """Seconds spent in each of :data:`PHASES`, from when its first line was printed to the next one's."""
    lines = run.output.splitlines()
    starts = [0.0]
    for _, marker in PHASES[1:]:
        found = next((run.stamps[i] for i, line in enumerate(lines) if marker in line), None)
        starts.append(starts[-1] if found is None else max(found, starts[-1]))
    ends = [*starts[1:], run.seconds]
    return {name: end - begin for (name, _), begin, end in zip(PHASES, starts, ends, strict=True)}


def project_copy(tree: Path, base: Path) -> Path:
    project = base / "project"
    for name in ("docs", "examples", "lstm_demo"):
        shutil.copytree(tree / name, project / name, ignore=IGNORE)
    return project


def build(project: Path) -> Run:
    env = {
        **os.environ,
        "PYTHONPATH": str(project),
        "MPLBACKEND": "Agg",
        "PYDEVD_DISABLE_FILE_VALIDATION": "1",
        # Each line as it is printed: the phases are timed by when their first line arrives.
        "PYTHONUNBUFFERED": "1",
    }
    docs = project / "docs"
    cmd = [sys.executable, "-m", "sphinx", "-b", "html", "-W", "--keep-going", "-n"]
    # The doctrees beside the site, not in it (Sphinx's default): what is published is html/ alone.
    doctrees = ["-d", str(docs / "_build" / "doctrees")]
    return run([*cmd, *doctrees, str(docs), str(docs / "_build" / "html")], cwd=project, env=env)


def clean(project: Path) -> None:
    docs = project / "docs"
    shutil.rmtree(docs / "_build", ignore_errors=True)
    shutil.rmtree(docs / "auto_examples", ignore_errors=True)
    (docs / "sg_execution_times.rst").unlink(missing_ok=True)


def touch_file(path: Path, n: int) -> None:
    path.write_text(path.read_text() + f"\n# benchmark edit {n}\n")


def gallery_seconds(project: Path) -> float:
    """The gallery's total execution time, as sphinx-gallery measured it."""
    text = (project / "docs" / "sg_execution_times.rst").read_text()
    match = re.search(r"\*\*(\d+):(\d+\.\d+)\*\* total execution time", text)
    if match is None:
        sys.exit("no total execution time in sg_execution_times.rst")
    return int(match.group(1)) * 60 + float(match.group(2))


def notebook_seconds(output: str) -> float:
    """The myst-nb pages' execution, kernel start included, from the build's log."""
    return sum(float(s) for s in re.findall(r"Executed notebook in ([\d.]+) seconds", output))


def site_bytes(project: Path) -> int:
    """The built site's size on disk: every file under docs/_build/html."""
    html = project / "docs" / "_build" / "html"
    return sum(path.stat().st_size for path in html.rglob("*") if path.is_file())


def describe(values: list[float]) -> str:
    listed = ", ".join(f"{v:.2f}" for v in values)
    return (
        f"median {statistics.median(values):6.2f} s  (min {min(values):.2f}, max {max(values):.2f}, "
        f"n={len(values)})   runs [{listed}]"
    )


def report(name: str, runs: list[Run]) -> None:
    peak = max(r.peak for r in runs) / 2**20
    print(f"{name:<30} {describe([r.seconds for r in runs])}   peak RSS {peak:5.0f} MiB")


def load() -> str:
    return " ".join(f"{x:.2f}" for x in os.getloadavg())


def build_scenarios(tree: Path, repeats: int, edits: bool) -> None:
    with tempfile.TemporaryDirectory() as tmp:
        project = project_copy(tree, Path(tmp))
        cold, noop, example, package = [], [], [], []
        gallery, notebooks = [], []
        for n in range(repeats):
            clean(project)
            cold.append(build(project))
            size = site_bytes(project)
            gallery.append(gallery_seconds(project))
            notebooks.append(notebook_seconds(cold[-1].output))
            noop.append(build(project))
            if edits:
                touch_file(project / "examples" / "plot_01_whole_vs_stepwise.py", n)
                example.append(build(project))
                touch_file(project / "lstm_demo" / "__init__.py", n)
                package.append(build(project))
        print(f"built site: {size / 2**20:.1f} MiB (docs/_build/html)")
        report("cold build (all executed)", cold)
        split = [phases(r) for r in cold]
        for name, _ in PHASES:
            print(f"{'  ' + name:<44} {describe([p[name] for p in split])}")
        report("no-op rebuild", noop)
        split = [phases(r) for r in noop]
        for name, _ in PHASES:
            print(f"{'  ' + name:<44} {describe([p[name] for p in split])}")
        if edits:
            report("one example edited", example)
            report("lstm_demo edited", package)
        compute = [g + b for g, b in zip(gallery, notebooks, strict=True)]
        print(f"{'  gallery scripts (own time)':<30} {describe(gallery)}")
        print(f"{'  myst-nb pages (with kernel)':<30} {describe(notebooks)}")
        print(f"{'  pages compute (sum)':<30} {describe(compute)}")
        cold_s = statistics.median(r.seconds for r in cold)
        noop_s = statistics.median(r.seconds for r in noop)

        def each(values: list[float], percent: bool = False) -> str:
            shown = [f"{v:.1%}" if percent else f"{v:.2f}" for v in values]
            return f"(each build: {', '.join(shown)})"

        over_compute = [r.seconds / c for r, c in zip(cold, compute, strict=True)]
        over_gallery = [r.seconds / g for r, g in zip(cold, gallery, strict=True)]
        noop_share = [n.seconds / c.seconds for n, c in zip(noop, cold, strict=True)]
        print(
            f"cold / pages compute:  {cold_s / statistics.median(compute):.2f}  {each(over_compute)}  (goal: at most 2.5)"
        )
        print(f"cold / gallery's own:  {cold_s / statistics.median(gallery):.2f}  {each(over_gallery)}")
        print(
            f"no-op / cold:          {noop_s / cold_s:.1%}  {each(noop_share, percent=True)}  (goal: at most 10%)"
        )


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
    parser.add_argument("--edits", action="store_true", help="also time an edited example and lstm_demo")
    parser.add_argument("--tree", type=Path, default=ROOT, help="the checkout to build (default: this one)")
    parser.add_argument(
        "--fresh-clone", action="store_true", help="also time the README's commands on a clone"
    )
    args = parser.parse_args()
    if args.repeats < 1:
        parser.error(f"expected --repeats of at least 1, but got {args.repeats}")
    print(f"{platform.node()}: {os.cpu_count()} CPUs, Python {platform.python_version()}, {sys.executable}")
    print(f"tree: {args.tree.resolve()}   load average (1, 5, 15 min) before: {load()}")
    build_scenarios(args.tree.resolve(), args.repeats, args.edits)
    print(f"load average after: {load()}")
    if args.fresh_clone:
        fresh_clone()


if __name__ == "__main__":
    main()
