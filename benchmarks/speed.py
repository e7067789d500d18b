"""Fused nn.LSTM vs run_stepwise vs an nn.LSTMCell loop vs scratch_lstm, and the docs pages' cost.

Prints, for each device of this machine (or --device), the median time of
one call and its ratio to the fused call, measured in the same run, forward
and forward+backward, at batch 32, hidden 256, 100 steps (change with the
options). Then, unless --no-pages, the wall time of the precision and speed
gallery scripts run on their own: what they add to a docs build.

    python benchmarks/speed.py
    python benchmarks/speed.py --device cuda --compile --min-run-time 1
"""

from __future__ import annotations

import argparse
import os
import subprocess
import sys
import time
from pathlib import Path

from lstm_demo.devices import available_devices, resolve_device
from lstm_demo.speed import report, time_lstm

ROOT = Path(__file__).resolve().parents[1]
PAGES = ["examples/plot_09_precision_and_devices.py", "examples/plot_10_speed.py"]


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--device", action="append", help="default: every device of this machine")
    parser.add_argument("--batch", type=int, default=32)
    parser.add_argument("--hidden", type=int, default=256)
    parser.add_argument("--seq-len", type=int, default=100)
    parser.add_argument(
        "--min-run-time", type=float, default=0.5, help="seconds per measurement (default 0.5)"
    )
    parser.add_argument("--compile", action="store_true", help="also time torch.compile of the LSTMCell loop")
    parser.add_argument("--no-pages", action="store_true", help="skip timing the gallery scripts")
    args = parser.parse_args()
    try:
        devices = [resolve_device(d) for d in args.device] if args.device else available_devices()
    except (TypeError, ValueError) as error:
        parser.error(str(error))
    sizes = {"batch": args.batch, "hidden": args.hidden, "seq_len": args.seq_len}
    for device in devices:
        timings = []
        for backward in (False, True):
            timings += time_lstm(
                device, backward=backward, compiled=args.compile, min_run_time=args.min_run_time, **sizes
            )
        print(report(timings))
    if args.no_pages:
        return
    env = {**os.environ, "MPLBACKEND": "Agg"}
    for page in PAGES:
        start = time.perf_counter()
        subprocess.run([sys.executable, page], cwd=ROOT, env=env, check=True, capture_output=True)
        print(
            f"{page}: {time.perf_counter() - start:.2f} s on its own (a docs build also imports torch once)"
        )


if __name__ == "__main__":
    main()
