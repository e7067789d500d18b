#!/usr/bin/env bash
# Download the wheels that benchmarks/gpu_run.sh installs on a GPU machine
# that has Python, a CUDA torch, numpy, matplotlib and pytest but no package
# registry: the docs stack (Sphinx, furo, sphinx-gallery, myst-nb,
# jupyter-cache, ipykernel, sphinx-copybutton) and everything they need beyond
# what such a machine already has, one pinned version of each, for CPython
# 3.12 on x86-64 Linux. Then check that the set is closed: every requirement
# of every wheel is either another wheel of the set or a package the machine
# has (SYSTEM below).
#
#   benchmarks/fetch_gpu_wheels.sh            # into .whl/ (git-ignored)
#   benchmarks/fetch_gpu_wheels.sh DIR        # into DIR
#   GPU_PYTHON_VERSION=3.11.7 benchmarks/fetch_gpu_wheels.sh DIR   # wheels for another Python
#
# Some packages the machine has are carried all the same (Markdown, Jinja,
# Pygments, attrs, click, tabulate, psutil, typing_extensions, zipp): the docs
# stack needs recent releases of some (ipython psutil>=7, importlib_metadata
# zipp>=3.20), and pip on the machine takes a carried wheel only where the
# installed version does not do.
set -euo pipefail
cd "$(dirname "$0")/.."

DEST=${1:-.whl}
PYVER=${GPU_PYTHON_VERSION:-3.12}
PYTHON=${PYTHON:-python3}

# The versions of the project's own environment when these pins were taken.
PINS=(
  accessible-pygments==0.0.5 alabaster==1.0.0 asttokens==3.0.2 attrs==26.1.0 babel==2.19.0
  beautifulsoup4==4.15.0 click==8.5.1 comm==0.2.3 debugpy==1.8.22 docutils==0.22.4 executing==2.3.0
  fastjsonschema==2.22.3 furo==2025.12.19 imagesize==2.0.1 importlib_metadata==10.2.0
  ipykernel==7.4.0 ipython==9.18.1 ipython_pygments_lexers==1.1.1 jedi==0.20.1 Jinja2==3.1.6
  jsonschema==4.26.0 jsonschema-specifications==2025.9.1 jupyter-cache==1.0.1
  jupyter_client==8.10.0 jupyter_core==5.9.1 lazy-importer==0.1.0 markdown-it-py==4.3.0
  MarkupSafe==3.0.4 matplotlib-inline==0.2.2 mdit-py-plugins==0.7.0 mdurl==0.1.2
  myst-nb==1.4.0 myst-parser==5.2.0 nbclient==0.11.0 nbformat==5.11.1 nest-asyncio2==1.7.4
  parso==0.8.7 pexpect==4.9.0 platformdirs==4.14.8 prompt_toolkit==3.0.53 psutil==7.2.2 ptyprocess==0.7.0
  pure_eval==0.2.4 Pygments==2.21.0 pyzmq==27.3.0 referencing==0.37.0 roman-numerals==4.1.0
  rpds-py==2026.9.1 snowballstemmer==3.1.1 soupsieve==4.1.3 Sphinx==9.0.4
  sphinx-basic-ng==1.0.0b2 sphinx-copybutton==0.5.2 sphinx-gallery==0.22.1 latex2mathml==3.81.1
  sphinxcontrib-applehelp==2.0.0 sphinxcontrib-devhelp==2.0.0 sphinxcontrib-htmlhelp==2.1.0
  sphinxcontrib-jsmath==2.0.0 sphinxcontrib-qthelp==2.0.0 sphinxcontrib-serializinghtml==2.0.0
  SQLAlchemy==2.1.9 stack-data==0.6.3 tabulate==0.10.0 tornado==6.6.1 traitlets==5.16.1
  typing_extensions==4.16.0 tzdata==2026.6 wcwidth==0.9.4 zipp==4.1.2
)
# What the GPU machines have and the set relies on (their versions are the machine's).
SYSTEM="certifi charset-normalizer colorama filelock idna packaging pillow python-dateutil pyyaml
requests six urllib3 numpy matplotlib pytest"
# What gpu_run.sh asks pip for; the rest comes in as their requirements.
ROOTS="sphinx furo sphinx-gallery myst-nb jupyter-cache ipykernel sphinx-copybutton latex2mathml"

mkdir -p "$DEST"
rm -f "$DEST"/*.whl  # one version of each: a stale wheel next to a new one stops the install
"$PYTHON" -m pip download --quiet --disable-pip-version-check --no-deps --only-binary=:all: \
  --python-version "$PYVER" --implementation cp \
  --platform manylinux_2_28_x86_64 --platform manylinux_2_27_x86_64 --platform manylinux_2_17_x86_64 \
  --platform manylinux2014_x86_64 --platform manylinux1_x86_64 --platform any \
  -d "$DEST" "${PINS[@]}"

"$PYTHON" - "$DEST" "$PYVER" "$SYSTEM" "$ROOTS" <<'EOF'
"""Check that the wheels in DEST and the SYSTEM packages meet every requirement."""

import sys
import zipfile
from email.parser import Parser
from pathlib import Path

try:
    from packaging.requirements import Requirement
    from packaging.utils import canonicalize_name
    from packaging.version import Version
except ImportError:  # pip's own copy
    from pip._vendor.packaging.requirements import Requirement
    from pip._vendor.packaging.utils import canonicalize_name
    from pip._vendor.packaging.version import Version

dest, pyver, system, roots = Path(sys.argv[1]), sys.argv[2], sys.argv[3].split(), sys.argv[4].split()
full = pyver if pyver.count(".") == 2 else f"{pyver}.0"
target = {
    "python_version": full.rsplit(".", 1)[0], "python_full_version": full, "implementation_name": "cpython",
    "platform_python_implementation": "CPython", "sys_platform": "linux", "os_name": "posix",
    "platform_system": "Linux", "platform_machine": "x86_64", "extra": "",
}
wheels = {}
for path in sorted(dest.glob("*.whl")):
    with zipfile.ZipFile(path) as wheel:
        meta_name = next(n for n in wheel.namelist() if n.endswith(".dist-info/METADATA"))
        meta = Parser().parsestr(wheel.read(meta_name).decode())
    name = canonicalize_name(meta["Name"])
    if name in wheels:
        sys.exit(f"two wheels of {name}: keep one version")
    wheels[name] = (Version(meta["Version"]), meta.get_all("Requires-Dist") or [])
system = {canonicalize_name(n) for n in system}
problems = [f"{root}: no wheel" for root in roots if canonicalize_name(root) not in wheels]
for name, (_, requires) in wheels.items():
    for line in requires:
        req = Requirement(line)
        if req.marker is not None and not req.marker.evaluate(target):
            continue  # an extra, or another platform's
        dep = canonicalize_name(req.name)
        if dep in wheels:
            if not req.specifier.contains(wheels[dep][0], prereleases=True):
                problems.append(f"{name} needs {req}, the wheel is {wheels[dep][0]}")
        elif dep not in system:
            problems.append(f"{name} needs {req}: neither a wheel here nor on the machine")
if problems:
    sys.exit("The wheel set is not closed:\n  " + "\n  ".join(problems))
print(f"{len(wheels)} wheels in {dest}, every requirement met (with {len(system)} packages the machine has)")
EOF
du -sh "$DEST"
