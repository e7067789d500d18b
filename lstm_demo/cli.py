"""``python -m lstm_demo check`` and ``mutants``: the site's claims and checks on this machine.

``check`` is the way a reader verifies the site's claims on their own
PyTorch build and GPU: each claim of :data:`lstm_demo.claims.CLAIMS`
runs on every device (or those chosen), with TF32 off whatever the caller's
flags, a row is printed as each finishes, and the exit code says whether
everything held (0), something failed (1), or the arguments were wrong (2).

``mutants`` runs every claim with every wrong LSTM of :mod:`lstm_demo.mutants`
in place of its independent sides, on every device and dtype, at every
tolerance the site uses: it exits 1 if any mutant passes a claim (or a claim
fails its own correct side, the control), 2 for bad arguments.
"""

from __future__ import annotations

import argparse
import json
import sys
import textwrap
import time
from collections.abc import Sequence
from typing import TextIO

import torch

from lstm_demo import mutants as mutation
from lstm_demo.claims import CLAIMS, ClaimResult, Forward
from lstm_demo.devices import available_devices, device_name, resolve_device
from lstm_demo.ports import INSTALL, Unavailable
from lstm_demo.precision import full_precision
from lstm_demo.provenance import environment_report

DTYPES = {"float32": torch.float32, "float64": torch.float64}
COLUMNS = f"{'claim':<15} {'device':<8} {'dtype':<8} {'max abs diff':>12}  {'tolerance':<25} verdict"


def _parser() -> tuple[argparse.ArgumentParser, dict[str, argparse.ArgumentParser]]:
    parser = argparse.ArgumentParser(
        prog="python -m lstm_demo",
        description="Check what PyTorch's nn.LSTM computes, on this machine's PyTorch and devices.",
    )
    commands = parser.add_subparsers(dest="command", metavar="COMMAND", required=True)
    check = commands.add_parser(
        "check",
        help="run the claims and print a table (exit 1 if any fails)",
        description="Run every claim (or those chosen) on every device and print one row per run.",
    )
    check.add_argument(
        "--device",
        action="append",
        metavar="DEVICE",
        help="cpu, cuda, cuda:1, mps, ... (repeatable; default: every device of this machine)",
    )
    check.add_argument(
        "--dtype",
        action="append",
        metavar="DTYPE",
        help=f"{' or '.join(DTYPES)} (repeatable; default: float32)",
    )
    check.add_argument(
        "--claim",
        action="append",
        metavar="NAME",
        help="a claim to run (repeatable; default: all; see --list)",
    )
    check.add_argument("--list", action="store_true", help="list the claims and exit")
    check.add_argument(
        "--json", action="store_true", help="print the results as JSON (progress goes to stderr)"
    )
    check.add_argument("-v", "--verbose", action="store_true", help="print every comparison of every claim")
    mutants = commands.add_parser(
        "mutants",
        help="run every claim with wrong LSTMs in place of its independent side (exit 1 if any passes)",
        description=(
            "Put each plausible wrong LSTM in place of each claim's independent side, on every device "
            "and dtype, and compare at every tolerance the site uses; exit 1 if any mutant is not caught."
        ),
    )
    mutants.add_argument(
        "--device",
        action="append",
        metavar="DEVICE",
        help="cpu, cuda, cuda:1, mps, ... (repeatable; default: every device of this machine)",
    )
    mutants.add_argument(
        "--dtype",
        action="append",
        metavar="DTYPE",
        help=f"{' or '.join(DTYPES)} (repeatable; default: both)",
    )
    mutants.add_argument(
        "--mutant", action="append", metavar="NAME", help="a mutant to run (repeatable; default: all)"
    )
    mutants.add_argument(
        "--claim", action="append", metavar="NAME", help="a claim to run (repeatable; default: all)"
    )
    mutants.add_argument("--list", action="store_true", help="list the mutants and claims and exit")
    mutants.add_argument("--json", action="store_true", help="print the tolerances and results as JSON")
    return parser, {"check": check, "mutants": mutants}


def _choose(
    parser: argparse.ArgumentParser, args: argparse.Namespace
) -> tuple[list[str], list[torch.device], list[torch.dtype]]:
    names = list(dict.fromkeys(args.claim or CLAIMS))  # each once, in the order given
    unknown = [n for n in names if n not in CLAIMS]
    if unknown:
        parser.error(f"Expected claim names from {', '.join(CLAIMS)}, but got {', '.join(unknown)} instead.")
    return names, _devices(parser, args), _dtypes(parser, args, ["float32"])


def _dtypes(
    parser: argparse.ArgumentParser, args: argparse.Namespace, default: list[str]
) -> list[torch.dtype]:
    dtypes = []
    for name in dict.fromkeys(args.dtype or default):
        if name not in DTYPES:
            parser.error(f"Expected --dtype {' or '.join(DTYPES)}, but got {name!r} instead.")
        dtypes.append(DTYPES[name])
    return dtypes


def _devices(parser: argparse.ArgumentParser, args: argparse.Namespace) -> list[torch.device]:
    devices = []
    for name in args.device or [str(d) for d in available_devices()]:
        try:
            device = resolve_device(name)
        except (TypeError, ValueError) as error:
            parser.error(str(error))
        if device not in devices:
            devices.append(device)
    return devices


def _row(name: str, result: ClaimResult) -> str:
    dtype = str(result.dtype).removeprefix("torch.")
    tol = f"rtol={result.tolerance.rtol:.2g}, atol={result.tolerance.atol:.2g}"
    verdict = "holds" if result.holds else "FAILS"
    bitwise = " (bitwise)" if result.bitwise and result.holds else ""
    return f"{name:<15} {result.device!s:<8} {dtype:<8} {result.max_abs_diff:>12.2e}  {tol:<25} {verdict}{bitwise}"


def _as_json(name: str, result: ClaimResult) -> dict[str, object]:
    return {
        "claim": name,
        "sentence": result.claim,
        "device": str(result.device),
        "dtype": str(result.dtype).removeprefix("torch."),
        "holds": result.holds,
        "bitwise": result.bitwise,
        "max_abs_diff": result.max_abs_diff,
        "tolerance": {
            "rtol": result.tolerance.rtol,
            "atol": result.tolerance.atol,
            "why": result.tolerance.why,
        },
        "comparisons": {
            label: {
                "equal": c.equal,
                "close": c.close,
                "max_abs_diff": c.max_abs_diff,
                "max_rel_diff": c.max_rel_diff,
                "mismatched": c.mismatched,
                "numel": c.numel,
            }
            for label, c in result.comparisons.items()
        },
        "notes": list(result.notes),
    }


def _sides(sides: dict[str, Forward]) -> str:
    """A claim's independent sides as ``forward=run_stepwise``, or ``none``."""
    return ", ".join(f"{k}={getattr(v, '__name__', type(v).__name__)}" for k, v in sides.items()) or "none"


def check(args: argparse.Namespace, parser: argparse.ArgumentParser, out: TextIO, err: TextIO) -> int:
    """Run the ``check`` command; return the exit code."""
    if args.list:
        width = max(map(len, CLAIMS))
        for name, registered in CLAIMS.items():
            lines = textwrap.wrap(registered.sentence, width=100 - width - 2)
            lines += textwrap.wrap(f"mutation check: {_sides(registered.sides)}", width=100 - width - 2)
            print(f"{name:<{width}}  {lines[0]}", file=out)
            for line in lines[1:]:
                print(f"{'':<{width}}  {line}", file=out)
        unchecked = [n for n, c in CLAIMS.items() if not c.sides]
        print(
            f"{len(CLAIMS) - len(unchecked)} of {len(CLAIMS)} claims have a mutation check"
            + (f"; none: {', '.join(unchecked)}" if unchecked else "")
            + " (python -m lstm_demo mutants)",
            file=out,
        )
        return 0
    names, devices, dtypes = _choose(parser, args)
    report = environment_report()
    progress = err if args.json else out
    claims = f"{len(names)} claim{'' if len(names) == 1 else 's'}"
    chosen = ", ".join(device_name(d) for d in devices)
    print(f"torch {report.torch} on {chosen}; {claims}", file=progress)
    if not args.json:
        print(COLUMNS, file=out)
    records: list[dict[str, object]] = []
    started = time.perf_counter()
    skipped: list[str] = []
    with full_precision():
        failed = _run_claims(
            args,
            names=names,
            devices=devices,
            dtypes=dtypes,
            records=records,
            skipped=skipped,
            out=out,
            err=err,
        )
    total = len(records) - len(skipped)
    summary = f"{total - failed} of {total} runs hold, {failed} fail ({time.perf_counter() - started:.1f} s)"
    if skipped:
        summary += f"; skipped {', '.join(dict.fromkeys(skipped))}: a framework is not installed ({INSTALL})"
    if args.json:
        json.dump({"environment": report.__dict__, "results": records}, out, indent=2, default=str)
        print(file=out)
        print(summary, file=err)
    else:
        print(summary, file=out)
    return 1 if failed else 0


def _run_claims(
    args: argparse.Namespace,
    *,
    names: list[str],
    devices: list[torch.device],
    dtypes: list[torch.dtype],
    records: list[dict[str, object]],
    skipped: list[str],
    out: TextIO,
    err: TextIO,
) -> int:
    """Run each claim on each device and dtype, print a row each, append its record; return the failures.

    A claim whose framework is not installed is skipped (its name is appended to ``skipped``), not failed.
    """
    progress = err if args.json else out
    failed = 0
    for name in names:
        for device in devices:
            for dtype in dtypes:
                try:
                    result = CLAIMS[name](device, dtype)
                except Unavailable as error:
                    skipped.append(name)
                    print(
                        f"{name:<15} {device!s:<8} {str(dtype).removeprefix('torch.'):<8} SKIPPED: {error}",
                        file=progress,
                    )
                    records.append(
                        {
                            "claim": name,
                            "device": str(device),
                            "dtype": str(dtype).removeprefix("torch."),
                            "skipped": str(error),
                        }
                    )
                    continue
                except Exception as error:  # noqa: BLE001 - report it as a failed claim and go on
                    failed += 1
                    message = (
                        f"{name:<15} {device!s:<8} {str(dtype).removeprefix('torch.'):<8} ERROR {error!r}"
                    )
                    print(message, file=progress)
                    records.append(
                        {
                            "claim": name,
                            "device": str(device),
                            "dtype": str(dtype).removeprefix("torch."),
                            "holds": False,
                            "error": repr(error),
                        }
                    )
                    continue
                failed += not result.holds
                records.append(_as_json(name, result))
                if args.json:
                    print(f"{name} on {device}: {'holds' if result.holds else 'FAILS'}", file=err)
                else:
                    print(_row(name, result), file=out)
                    if args.verbose or not result.holds:
                        print(
                            "\n".join(f"    {line}" for line in result.report(width=None).splitlines()[1:]),
                            file=out,
                        )
                progress.flush()
    return failed


def mutants(args: argparse.Namespace, parser: argparse.ArgumentParser, out: TextIO, err: TextIO) -> int:
    """Run the ``mutants`` command; return the exit code."""
    if args.list:
        width = max(map(len, [*mutation.MUTANTS, *mutation.TARGETS]))
        print("mutants:", file=out)
        for name, mutant in mutation.MUTANTS.items():
            print(f"  {name:<{width}}  {mutant.bug}", file=out)
        print("claims (each run with every mutant in place of its independent sides):", file=out)
        for name, target in mutation.TARGETS.items():
            only = f" (only: {', '.join(sorted(target.mutants))})" if target.mutants is not None else ""
            print(f"  {name:<{width}}  {target.what}{only}", file=out)
        return 0
    for label, chosen, known in (
        ("--mutant", args.mutant, mutation.MUTANTS),
        ("--claim", args.claim, mutation.TARGETS),
    ):
        unknown = [n for n in chosen or () if n not in known]
        if unknown:
            parser.error(
                f"Expected {label} names from {', '.join(known)}, but got {', '.join(unknown)} instead."
            )
    devices = _devices(parser, args)
    dtypes = _dtypes(parser, args, list(DTYPES))
    progress = err if args.json else out
    chosen = ", ".join(device_name(d) for d in devices)
    print(f"torch {torch.__version__} on {chosen}; TF32 off", file=progress)
    started = time.perf_counter()
    results = mutation.run(
        devices=devices,
        dtypes=dtypes,
        mutants=list(dict.fromkeys(args.mutant)) if args.mutant else None,
        checks=list(dict.fromkeys(args.claim)) if args.claim else None,
    )
    bad = results.escapes
    tried = results.tried
    summary = (
        f"{len(tried) - sum(not r.caught for r in tried)} of {len(tried)} mutant runs caught, "
        f"{len(bad)} escape{'' if len(bad) == 1 else 's'} ({time.perf_counter() - started:.1f} s)"
    )
    if args.json:
        json.dump(results.as_json(), out, indent=2)
        print(file=out)
        print(summary, file=err)
    else:
        print(results, file=out)
        print(summary, file=out)
    return 1 if bad else 0


def main(argv: Sequence[str] | None = None, *, out: TextIO | None = None, err: TextIO | None = None) -> int:
    """Entry point of ``python -m lstm_demo``; returns the exit code."""
    out = sys.stdout if out is None else out
    err = sys.stderr if err is None else err
    parser, commands = _parser()
    args = parser.parse_args(argv)
    run = check if args.command == "check" else mutants
    return run(args, commands[args.command], out, err)
