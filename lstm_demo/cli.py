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

``port`` rebuilds the nn.LSTM or nn.GRU of a saved ``state_dict``
(:func:`~lstm_demo.ports.module_from_state_dict`), writes it as an ONNX
model, a ``.keras`` model or Flax parameters (:func:`~lstm_demo.ports.save_port`),
reads the file back and runs it on a random input next to the module
(:func:`~lstm_demo.ports.run_saved`): it exits 1 if the two differ by more
than the tolerance, 2 for a file it cannot port.
"""

from __future__ import annotations

import argparse
import json
import re
import sys
import textwrap
import time
from collections.abc import Sequence
from typing import Any, TextIO

import torch

from lstm_demo import mutants as mutation
from lstm_demo.claims import CLAIMS, ClaimResult, Forward
from lstm_demo.comparison import compare
from lstm_demo.devices import available_devices, device_name, resolve_device
from lstm_demo.ports import (
    FLAX_KEY,
    INSTALL,
    SAVERS,
    Unavailable,
    default_runtime,
    module_from_state_dict,
    require,
    run_saved,
    save_port,
)
from lstm_demo.precision import full_precision
from lstm_demo.provenance import environment_report
from lstm_demo.tolerances import tolerance_for

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
    port = commands.add_parser(
        "port",
        help="convert a saved nn.LSTM/nn.GRU state_dict to ONNX, Keras or Flax, and check it (exit 1 if it differs)",
        description=(
            "Rebuild the nn.LSTM or nn.GRU of a state_dict saved with torch.save (read with "
            "weights_only=True: no code is unpickled; its configuration read from the names and shapes), "
            "write it for another framework, read that file back, run it and the module on one random "
            "input (float32 or the weights' dtype, seq_len 5, batch 2, seed 0) and print the greatest "
            "difference and the tolerance; exit 1 if it exceeds the tolerance, 2 if the file cannot be ported."
        ),
        epilog=PORT_EPILOG,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    port.add_argument("file", metavar="FILE", help="a state_dict saved with torch.save")
    port.add_argument("--to", required=True, choices=list(SAVERS), help="the framework to write for")
    port.add_argument("--out", required=True, metavar="PATH", help="the file to write (Keras: ending .keras)")
    port.add_argument(
        "--prefix",
        metavar="PREFIX",
        help="the recurrent module's prefix in a larger model's state_dict (rnn.); default: the only one",
    )
    return parser, {"check": check, "mutants": mutants, "port": port}


PORT_EPILOG = f"""\
what each target writes:
  onnx   an ONNX model (opset 14), one LSTM or GRU node per layer; inputs input [T, B, input_size],
         h0_l{{k}} (and c0_l{{k}}) [num_directions, B, H] per layer; outputs output, h_n (and c_n)
  keras  a Keras 3 .keras model (keras.saving.load_model): input (batch, time, input_size), outputs the
         last sequence, then h (and c) per layer and direction, nn.LSTM's order of h_n and c_n
  flax   an LSTM's parameters in a .npz, keys {FLAX_KEY.format(layer="K", direction="D", dense="DENSE", param="P")}
         (D: forward or backward; DENSE/P: dense_i/kernel, dense_h/kernel, dense_h/bias); load them into
         nnx.OptimizedLSTMCell(in_features, H, rngs=nnx.Rngs(0)) as
           params = numpy.load(PATH); cell.dense_i.kernel[...] = params["layer0/forward/dense_i/kernel"]
         and the same for dense_h.kernel and dense_h.bias. Flax's carry is (c, h), nn.LSTM's (h, c).
An LSTM with proj_size > 0 ports to none of them: their LSTMs have no projection.
"""


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
    if results.skipped:
        summary += f"; skipped {', '.join(results.skipped)}: a framework is not installed ({INSTALL})"
    if args.json:
        json.dump({**results.as_json(), "skipped": results.skipped}, out, indent=2)
        print(file=out)
        print(summary, file=err)
    else:
        print(results, file=out)
        print(summary, file=out)
    return 1 if bad else 0


def _load(path: str) -> Any:
    """``torch.load`` of ``path`` with ``weights_only=True``; ValueError with a one-line reason if it fails."""
    try:
        return torch.load(path, weights_only=True, map_location="cpu")
    except OSError as error:
        msg = f"Expected FILE to be a file torch.save wrote, but got {path!r}: {error.strerror or error} instead."
        raise ValueError(msg) from error
    except Exception as error:  # torch.load raises many kinds; each becomes one line
        found = re.search(r"Unsupported global: GLOBAL (\S+)", str(error))
        if found:
            msg = (
                f"Expected a state_dict of tensors, but got a file holding a {found[1]} instead "
                "(torch.load with weights_only=True unpickles no Python objects; save the model's "
                "state_dict())."
            )
        else:
            text = str(error)
            unpickler = re.search(r"WeightsUnpickler error:\s*(.+)", text)
            reason = (
                unpickler[1].strip()
                if unpickler
                else f"{type(error).__name__}: {text.splitlines()[0] if text else ''}"
            )
            msg = f"Expected a file torch.save wrote, but got {path!r}, which torch.load cannot read ({reason}) instead."
        raise ValueError(msg) from error


def _runs_in(to: str, dtype: torch.dtype) -> str:
    if to == "onnx":
        return "ONNX Runtime" if default_runtime(dtype) == "onnxruntime" else "onnx.reference"
    if to == "keras":
        return f"Keras {require('keras').__version__} ({require('keras').backend.backend()} backend)"
    return f"Flax {require('flax').__version__} nnx.OptimizedLSTMCell"


def port(args: argparse.Namespace, out: TextIO, err: TextIO) -> int:
    """Run the ``port`` command; return the exit code."""
    try:
        module = module_from_state_dict(_load(args.file), args.prefix)
        dtype = next(module.parameters()).dtype
        if dtype not in DTYPES.values():
            msg = f"Expected float32 or float64 weights, but got {str(dtype).removeprefix('torch.')} instead."
            raise ValueError(msg)
        x = torch.randn(5, 2, module.input_size, generator=torch.Generator().manual_seed(0), dtype=dtype)
        with torch.no_grad():
            expected = module(x)  # before the writer has the module: nothing it does changes this side
        try:
            save_port(module, args.to, args.out)
        except OSError as error:
            msg = f"Expected --out to be a path that can be written, but got {args.out!r}: {error.strerror or error} instead."
            raise ValueError(msg) from error
    except (TypeError, ValueError, OSError, Unavailable) as error:
        print(f"port: {error}", file=err)
        return 2
    name = str(dtype).removeprefix("torch.")
    print(f"read {module!r} ({name}) from {args.file}", file=out)
    print(f"wrote {args.out} for {args.to}", file=out)
    actual = run_saved(module, args.to, args.out, x)
    tolerance = tolerance_for("cpu", dtype)
    labels = ("output", "h_n", "c_n") if isinstance(module, torch.nn.LSTM) else ("output", "h_n")
    flat = [[r[0], *(r[1] if isinstance(r[1], tuple) else (r[1],))] for r in (actual, expected)]
    comparisons = {
        label: compare(a.to(e.dtype), e, rtol=tolerance.rtol, atol=tolerance.atol)
        for label, a, e in zip(labels, *flat, strict=True)
    }
    worst = max(c.max_abs_diff for c in comparisons.values())
    each = ", ".join(f"{label} {c.max_abs_diff:.2e}" for label, c in comparisons.items())
    close = all(c.close for c in comparisons.values())
    print(
        f"ran it in {_runs_in(args.to, dtype)} and the {type(module).__name__} on one random {name} input "
        f"(seq_len 5, batch 2, seed 0): greatest difference {worst:.2e} ({each}), tolerance "
        f"rtol={tolerance.rtol:.2g}, atol={tolerance.atol:.2g}: {'within' if close else 'EXCEEDS'} it",
        file=out,
    )
    return 0 if close else 1


def main(argv: Sequence[str] | None = None, *, out: TextIO | None = None, err: TextIO | None = None) -> int:
    """Entry point of ``python -m lstm_demo``; returns the exit code."""
    out = sys.stdout if out is None else out
    err = sys.stderr if err is None else err
    parser, commands = _parser()
    args = parser.parse_args(argv)
    if args.command == "port":
        return port(args, out, err)
    run = check if args.command == "check" else mutants
    return run(args, commands[args.command], out, err)
