#!/usr/bin/env bash
# One run of everything a GPU record needs, on a machine with Python, a CUDA
# torch, numpy, matplotlib and pytest but no package registry:
#
#   0. install the docs stack from the wheels in .whl/ (benchmarks/fetch_gpu_wheels.sh
#      fetches them) into a virtual environment that sees the machine's packages,
#      so its torch is used as it is
#   1. pytest tests/test_on_devices.py
#   2. python -m lstm_demo check --json, float32 and float64, with TF32 off
#      (the verification) and with PyTorch's default flags (the TF32 effect)
#   3. python -m lstm_demo mutants --json, where this version has it
#   4. python benchmarks/speed.py (--json and --compile where it has them)
#   5. the full docs build (from scratch), then a tarball of the site
#
# Every step runs whatever happened before it and writes its output to a
# file; summary.txt lists each step's exit code and time, and the script exits
# with 1 if any step failed. Results land in $OUT (default benchmarks/gpu-out/):
# summary.txt, check-tf32-off.json, check-defaults.json, mutants.json,
# outputs.tar.gz (each page's executed output, even when the build failed),
# probe.txt, probe-cublas.txt (benchmarks/gpu_probe.py without and with
# CUBLAS_WORKSPACE_CONFIG), speed.json (or speed.txt), logs.tar.gz, html.tar.gz.
#
#   LSTM_DEMO_REQUIRE_CUDA=1 benchmarks/gpu_run.sh     # on the GPU machine: no GPU is an error
#   benchmarks/gpu_run.sh                              # anywhere: the same run on this machine's devices
#
# Settings (environment variables): PYTHON (default python3), WHEELS (default
# .whl), OUT, STEP_TIMEOUT (seconds a step may take, default 300), SPEED_ARGS
# (more arguments for benchmarks/speed.py). With LSTM_DEMO_REQUIRE_CUDA=1 the
# speed figures are taken on the GPUs alone.
set -u -o pipefail
cd "$(dirname "$0")/.."
ROOT=$PWD
PYTHON=${PYTHON:-python3}
WHEELS=${WHEELS:-$ROOT/.whl}
OUT=${OUT:-$ROOT/benchmarks/gpu-out}
STEP_TIMEOUT=${STEP_TIMEOUT:-300}
WORK=$(mktemp -d "${TMPDIR:-/tmp}/lstm-demo-gpu-run.XXXXXX")
LOGS=$WORK/logs
VENV=$WORK/venv
mkdir -p "$OUT" "$LOGS"
rm -f "$OUT"/summary.txt "$OUT"/*.json "$OUT"/*.txt "$OUT"/*.tar.gz
SUMMARY=$OUT/summary.txt
: >"$SUMMARY"
FAILED=0
export PYTHONPATH=$ROOT MPLBACKEND=Agg PYTHONUNBUFFERED=1 PYDEVD_DISABLE_FILE_VALIDATION=1

# step NAME STDOUT COMMAND...: run COMMAND for at most STEP_TIMEOUT seconds, stdout
# to STDOUT ("-": the step's log), stderr to the log; add a line to the summary.
step() {
  local name=$1 stdout=$2 log=$LOGS/$1.log start end rc ms
  shift 2
  echo "== $name" >&2
  { printf '$'; printf ' %q' "$@"; printf '\n'; } >"$log"
  start=$(date +%s%N)
  if [ "$stdout" = - ]; then
    timeout --kill-after=10 "$STEP_TIMEOUT" "$@" >>"$log" 2>&1
  else
    timeout --kill-after=10 "$STEP_TIMEOUT" "$@" >"$stdout" 2>>"$log"
  fi
  rc=$?
  end=$(date +%s%N)
  ms=$(((end - start) / 1000000))
  [ "$rc" -ne 0 ] && FAILED=1
  printf '%-16s rc=%-3s %5d.%d s\n' "$name" "$rc" $((ms / 1000)) $((ms % 1000 / 100)) | tee -a "$SUMMARY" >&2
}

note() { printf '%-16s %s\n' "$1" "$2" | tee -a "$SUMMARY" >&2; }

# --- 0. the environment --------------------------------------------------------
# A venv of the machine's Python that sees its packages: --system-site-packages
# reaches the base installation, and a .pth file adds the site-packages of the
# interpreter itself when that is a virtual environment (as on the GPU machines).
# shellcheck disable=SC2329  # run through bash -c, for the step's timeout
install() (
  set -e
  before=$("$PYTHON" -c 'import torch; print(torch.__version__, torch.__file__)')
  "$PYTHON" -m venv --system-site-packages --without-pip "$VENV"
  site=$("$VENV/bin/python" -c 'import sysconfig; print(sysconfig.get_path("purelib"))')
  "$PYTHON" - "$site/_lstm_demo_outer_site.pth" <<'EOF'
import site, sys
dirs = site.getsitepackages() + ([site.getusersitepackages()] if site.ENABLE_USER_SITE else [])
with open(sys.argv[1], "w") as pth:
    pth.write("import site; " + "; ".join(f"site.addsitedir({d!r})" for d in dirs) + "\n")
EOF
  echo "torch==${before%% *}" >"$WORK/torch-constraint.txt"
  ls "$WHEELS"/*.whl >/dev/null 2>&1 ||
    echo "No wheels in $WHEELS (benchmarks/fetch_gpu_wheels.sh fetches them): only what the machine has."
  # The machine's pip, run by the venv's Python (the .pth file makes it importable), installs into the venv.
  pip=("$VENV/bin/python" -m pip)
  "$VENV/bin/python" -c 'import pip' 2>/dev/null || pip=("$PYTHON" -m pip --python "$VENV/bin/python")
  # pip resolves against what the machine has and takes a wheel only for what is missing or too old.
  "${pip[@]}" install --disable-pip-version-check --no-index --find-links "$WHEELS" \
    --constraint "$WORK/torch-constraint.txt" \
    sphinx furo sphinx-gallery myst-nb jupyter-cache ipykernel sphinx-copybutton latex2mathml
  after=$("$VENV/bin/python" -c 'import torch; print(torch.__version__, torch.__file__)')
  echo "torch before: $before"
  echo "torch after:  $after"
  [ "$before" = "$after" ] || { echo "pip replaced the machine's torch" >&2; return 1; }
  "${pip[@]}" list --disable-pip-version-check --format=freeze
)
export -f install
export PYTHON VENV WHEELS WORK
step install - bash -c install
PY=$VENV/bin/python
[ -x "$PY" ] || PY=$PYTHON

export PY
# shellcheck disable=SC2016  # expanded by that bash
step environment - bash -c 'nvidia-smi || echo "nvidia-smi: not available"
  "$PY" -c "from lstm_demo import environment_report; print(environment_report())"'

GPU=$("$PY" -c 'import torch; print(torch.cuda.get_device_name(0) if torch.cuda.is_available() else "cpu")' 2>/dev/null |
  tr '[:upper:]' '[:lower:]' | tr -cs 'a-z0-9' '-' | sed 's/-$//')
note record "benchmarks/gpu-runs/$(date -u +%Y-%m-%d)-${GPU:-unknown}/"

# --- 1. the claims on every device, as tests --------------------------------------
step tests - "$PY" -m pytest tests/test_on_devices.py -p no:cacheprovider

# --- 2. check, TF32 off and with PyTorch's defaults ---------------------------------------
# TF32 off: the per-operator float32 flags where this torch has them, else the
# legacy switches; NVIDIA_TF32_OVERRIDE=0 also keeps cuBLAS and cuDNN from it.
NO_TF32='
import sys
import torch
from lstm_demo.cli import main
from lstm_demo.precision import precision_objects
flags = precision_objects()
if flags:
    for path in ("cuda.matmul", "cudnn.conv", "cudnn.rnn"):
        if path in flags:
            flags[path].fp32_precision = "ieee"
else:
    torch.backends.cuda.matmul.allow_tf32 = False
    torch.backends.cudnn.allow_tf32 = False
sys.exit(main(sys.argv[1:]))
'
DTYPES=(--dtype float32 --dtype float64)
step check-tf32-off "$OUT/check-tf32-off.json" env NVIDIA_TF32_OVERRIDE=0 "$PY" -c "$NO_TF32" check --json "${DTYPES[@]}"
step check-defaults "$OUT/check-defaults.json" "$PY" -m lstm_demo check --json "${DTYPES[@]}"

# --- 3. the mutants ---------------------------------------------------------------------
if "$PY" -m lstm_demo --help 2>/dev/null | grep -qE "^ +mutants( |$)"; then
  MUTANT_ARGS=(--json)
  "$PY" -m lstm_demo mutants --help 2>/dev/null | grep -q -- --dtype && MUTANT_ARGS+=("${DTYPES[@]}")
  step mutants "$OUT/mutants.json" env NVIDIA_TF32_OVERRIDE=0 "$PY" -c "$NO_TF32" mutants "${MUTANT_ARGS[@]}"
else
  note mutants "not available: this version of python -m lstm_demo has no mutants command"
fi

# --- 3b. what only a GPU shows: errors, determinism, dropout masks ---------------------------
step probe "$OUT/probe.txt" "$PY" benchmarks/gpu_probe.py
step probe-cublas "$OUT/probe-cublas.txt" env CUBLAS_WORKSPACE_CONFIG=:4096:8 "$PY" benchmarks/gpu_probe.py

# --- 4. speed ---------------------------------------------------------------------------
SPEED_HELP=$("$PY" benchmarks/speed.py --help 2>/dev/null)
SPEED=()
SPEED_FILE=$OUT/speed.txt
grep -q -- --compile <<<"$SPEED_HELP" && SPEED+=(--compile)
grep -q -- --json <<<"$SPEED_HELP" && SPEED+=(--json) && SPEED_FILE=$OUT/speed.json
if [ "${LSTM_DEMO_REQUIRE_CUDA:-}" = 1 ] && grep -q -- --device <<<"$SPEED_HELP"; then
  SPEED+=(--device cuda)
fi
# shellcheck disable=SC2086  # SPEED_ARGS is a list of words
step speed "$SPEED_FILE" "$PY" benchmarks/speed.py "${SPEED[@]}" ${SPEED_ARGS:-}

# --- 5. the site ------------------------------------------------------------------------
rm -rf docs/_build docs/auto_examples docs/sg_execution_times.rst
step docs - "$PY" -m sphinx -b html -W --keep-going -n docs docs/_build/html
# The pages' executed outputs, also when the build stopped before writing HTML: the
# gallery's generated .rst files and myst-nb's executed notebooks.
step outputs-tarball - tar -czf "$OUT/outputs.tar.gz" --ignore-failed-read docs/auto_examples docs/_build/jupyter_execute
if [ -n "$(ls -A docs/_build/html 2>/dev/null)" ]; then
  step html-tarball - tar -czf "$OUT/html.tar.gz" -C docs/_build html
else
  note html-tarball "no site: the docs build made none"
  FAILED=1
fi

note result "$([ "$FAILED" = 0 ] && echo 'every step passed' || echo 'a step FAILED')"
cp "$SUMMARY" "$LOGS/"
tar -czf "$OUT/logs.tar.gz" -C "$WORK" logs
rm -rf "$WORK"
exit "$FAILED"
