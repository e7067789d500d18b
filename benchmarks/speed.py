"""Fused nn.LSTM vs run_stepwise vs an nn.LSTMCell loop vs scratch_lstm, and the docs pages' cost.

Prints, for each device of this machine (or --device), the median time of
one call over --repeats interleaved rounds, its IQR and the number of
rounds, and its ratio to the fused call measured in the same rounds,
forward and forward+backward, at batch 32, hidden 256, 100 steps (change
with the options), with the CPU threads pinned (--threads, default 1: the
figures depend least on whatever else the machine runs). On a GPU it also
times torch.compile of the LSTMCell loop, forward (--no-compile to skip;
--compile to time it on the CPU too, where compiling is slow). Then, unless
--no-pages, the wall time of the precision and speed gallery scripts run
on their own: what they add to a docs build.

    python benchmarks/speed.py
    python benchmarks/speed.py --json --no-pages
    python benchmarks/speed.py --device cuda --repeats 21

--json prints {"threads", "warmup", "sizes", "repeats", "results": [{"device",
"name", "backward", "median_ms", "iqr_ms", "n", "ratio"}, ...]} (and "pages":
[{"page", "seconds"}, ...] unless --no-pages) instead of the tables.

Two runs of one machine can land further apart than the IQR of one: time it
twice and compare, with --against the first run's JSON:

    python benchmarks/speed.py --json --no-pages > first.json
    python benchmarks/speed.py --json --no-pages --against first.json

adds "against": {"file", "ratios": [{"device", "name", "backward", "earlier",
"now", "apart"}, ...]}, apart being |now / earlier - 1|, and prints the widest
move on stderr.
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import time
from pathlib import Path

import torch

from lstm_demo.devices import available_devices, resolve_device
from lstm_demo.speed import MIN_REPEATS, Timings, ratios, time_lstm

ROOT = Path(__file__).resolve().parents[1]
PAGES = ["examples/plot_09_precision_and_devices.py", "examples/plot_10_speed.py"]


def _positive_int(text: str) -> int:
    value = int(text)
    if value < 1:
        msg = f"expected a positive int, but got {text!r} instead"
        raise argparse.ArgumentTypeError(msg)
    return value


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--device", action="append", help="default: every device of this machine")
    parser.add_argument("--batch", type=_positive_int, default=32)
    parser.add_argument("--input-size", type=_positive_int, default=64)
    parser.add_argument("--hidden", type=_positive_int, default=256)
    parser.add_argument("--seq-len", type=_positive_int, default=100)
    parser.add_argument(
        "--repeats",
        type=_positive_int,
        default=15,
        help=f"rounds, so measurements per figure (at least {MIN_REPEATS}; default 15)",
    )
    parser.add_argument(
        "--min-sample-time",
        type=float,
        default=0.005,
        help="seconds one measurement lasts at least (default 0.005)",
    )
    parser.add_argument("--threads", type=_positive_int, default=1, help="CPU threads, pinned (default 1)")
    parser.add_argument(
        "--warmup",
        type=float,
        default=0.2,
        help="seconds each implementation runs before it is timed (default 0.2)",
    )
    parser.add_argument(
        "--compile",
        action=argparse.BooleanOptionalAction,
        default=None,
        help="time torch.compile of the LSTMCell loop, forward (default: on GPUs only)",
    )
    parser.add_argument("--json", action="store_true", help="print JSON instead of tables")
    parser.add_argument(
        "--against",
        type=Path,
        metavar="FILE",
        help="an earlier run's --json output: also print how far each ratio moved since",
    )
    parser.add_argument("--no-pages", action="store_true", help="skip timing the gallery scripts")
    return parser


def _time_device(device: torch.device, args: argparse.Namespace, sizes: dict) -> Timings:
    options = {
        "repeats": args.repeats,
        "min_sample_time": args.min_sample_time,
        "threads": args.threads,
        "warmup": args.warmup,
        **sizes,
    }
    compiled = device.type == "cuda" if args.compile is None else args.compile
    try:
        timings = time_lstm(device, compiled=compiled, **options)
    except ValueError:
        raise
    except Exception as error:  # torch.compile needs a working Triton and compiler
        if args.compile:
            raise
        print(
            f"torch.compile does not work on {device} ({type(error).__name__}); timing without it",
            file=sys.stderr,
        )
        timings = time_lstm(device, **options)
    return timings + time_lstm(device, backward=True, **options)


def agreement(earlier: list[dict], now: list[dict]) -> list[dict]:
    """Each ratio of ``now`` beside the same one of ``earlier``, and how far apart (``|now / earlier - 1|``)."""
    before = {(r["device"], r["name"], r["backward"]): r["ratio"] for r in earlier}
    moved = []
    for r in now:
        key = (r["device"], r["name"], r["backward"])
        if key in before and r["ratio"] != 1.0:
            apart = abs(r["ratio"] / before[key] - 1)
            moved.append({"device": key[0], "name": key[1], "backward": key[2],
                          "earlier": before[key], "now": r["ratio"], "apart": apart})  # fmt: skip
    return moved


def main(argv: list[str] | None = None) -> None:
    """Time every device, print tables or JSON, then the pages' cost."""
    parser = _parser()
    args = parser.parse_args(argv)
    sizes = {
        "batch": args.batch,
        "input_size": args.input_size,
        "hidden": args.hidden,
        "seq_len": args.seq_len,
    }
    try:
        devices = [resolve_device(d) for d in args.device] if args.device else available_devices()
        results = []
        for device in devices:
            timings = _time_device(device, args, sizes)
            if not args.json:
                print(timings)
            for backward in (False, True):
                group = [t for t in timings if t.backward == backward]
                relative = ratios(group)
                results += [
                    {
                        "device": str(t.device),
                        "name": t.name,
                        "backward": t.backward,
                        "median_ms": t.median * 1e3,
                        "iqr_ms": t.iqr * 1e3,
                        "n": t.n,
                        "ratio": relative[t.name],
                    }
                    for t in group
                ]
    except (TypeError, ValueError) as error:
        parser.error(str(error))
    pages = []
    failures = 0
    if not args.no_pages:
        env = {**os.environ, "MPLBACKEND": "Agg"}
        for page in PAGES:
            start = time.perf_counter()
            ran = subprocess.run([sys.executable, page], cwd=ROOT, env=env, check=False, capture_output=True)
            seconds = time.perf_counter() - start
            # A page that fails is recorded as failed; the timings above still stand.
            pages.append({"page": page, "seconds": seconds, "returncode": ran.returncode})
            if not args.json:
                failed = "" if ran.returncode == 0 else f", FAILED (exit {ran.returncode})"
                print(f"{page}: {seconds:.2f} s on its own (a docs build also imports torch once){failed}")
            failures += ran.returncode != 0
    moved = agreement(json.loads(args.against.read_text())["results"], results) if args.against else []
    if args.json:
        document = {
            "threads": args.threads,
            "warmup": args.warmup,
            "sizes": sizes,
            "repeats": args.repeats,
            "results": results,
        }
        if pages:
            document["pages"] = pages
        if args.against:
            document["against"] = {"file": str(args.against), "ratios": moved}
        print(json.dumps(document, indent=1))
    elif args.against:
        print(f"ratios to the fused call, {args.against} then this run:")
        for m in moved:
            what = "fwd+bwd" if m["backward"] else "fwd"
            print(
                f"  {m['device']:<8} {m['name']:<30} {what:<8} {m['earlier']:6.2f} {m['now']:6.2f} {m['apart']:6.0%}"
            )
    if moved:
        print(f"widest move between the two runs: {max(m['apart'] for m in moved):.0%}", file=sys.stderr)
    if failures:
        sys.exit(1)


if __name__ == "__main__":
    main()
