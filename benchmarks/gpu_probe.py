"""What an LSTM does on this machine's GPU that the CPU cannot show: errors, determinism, dropout.

Prints, for each CUDA device (or a line saying there is none):

* the error ``eval()`` + backward raises under cuDNN, and whether backward
  works with cuDNN off or in ``train()`` mode;
* the error ``pack_padded_sequence`` raises for ``lengths`` on the GPU, and
  what it does with int32 lengths;
* run-to-run differences of an LSTM's output and gradients over repeated
  runs: with PyTorch's defaults, with ``torch.backends.cudnn.deterministic``
  and with ``torch.use_deterministic_algorithms(True)``;
* whether dropout masks drawn from the same seed agree between two GPU runs,
  and between the CPU and the GPU.

Records, not assertions: this is run by ``benchmarks/gpu_run.sh`` and its
output kept with the GPU record. ``python benchmarks/gpu_probe.py``.
"""

from __future__ import annotations

import os
import sys
import traceback
import warnings

import torch
from torch import nn
from torch.nn.utils.rnn import pack_padded_sequence

REPEATS = 10


def _error(fn: object) -> str:
    try:
        fn()  # type: ignore[operator]
    except Exception as error:  # noqa: BLE001  (recording whatever PyTorch raises)
        return f"{type(error).__name__}: {error}"
    return "no error"


def _model(device: torch.device, dropout: float = 0.0) -> nn.LSTM:
    torch.manual_seed(0)
    return nn.LSTM(64, 128, num_layers=2, dropout=dropout).to(device)


def _run(lstm: nn.LSTM, x: torch.Tensor) -> list[torch.Tensor]:
    lstm.zero_grad()
    output, (h, c) = lstm(x)
    (output.square().mean() + h.sum() + c.sum()).backward()
    return [output.detach().clone(), *(p.grad.clone() for p in lstm.parameters())]


def _spread(lstm: nn.LSTM, x: torch.Tensor) -> tuple[float, float, int]:
    """Largest difference of output and of gradients from the first run, over REPEATS runs; runs not bitwise equal."""
    first = _run(lstm, x)
    out_diff = grad_diff = 0.0
    unequal = 0
    for _ in range(REPEATS - 1):
        again = _run(lstm, x)
        out_diff = max(out_diff, float((again[0] - first[0]).abs().max()))
        grads = [float((a - b).abs().max()) for a, b in zip(again[1:], first[1:], strict=True)]
        grad_diff = max(grad_diff, *grads)
        unequal += not all(torch.equal(a, b) for a, b in zip(again, first, strict=True))
    return out_diff, grad_diff, unequal


def probe(device: torch.device) -> None:
    print(f"== {device}: {torch.cuda.get_device_name(device)}")
    x = torch.randn(50, 32, 64, device=device, requires_grad=True)

    lstm = _model(device).eval()
    print("eval() + backward, cuDNN on :", _error(lambda: lstm(x)[0].sum().backward()))
    with torch.backends.cudnn.flags(enabled=False):
        print("eval() + backward, cuDNN off:", _error(lambda: lstm(x)[0].sum().backward()))
    lstm.train()
    print("train() + backward, cuDNN on:", _error(lambda: lstm(x)[0].sum().backward()))
    with torch.no_grad():
        lstm.eval()
        print("eval() + no_grad forward    :", _error(lambda: lstm(x)))

    padded = torch.randn(3, 5, 64, device=device)
    print(
        "lengths on the GPU          :",
        _error(
            lambda: pack_padded_sequence(padded, torch.tensor([5, 3, 2], device=device), batch_first=True)
        ),
    )
    print(
        "lengths int32 on the CPU    :",
        _error(
            lambda: pack_padded_sequence(padded, torch.tensor([5, 3, 2], dtype=torch.int32), batch_first=True)
        ),
    )
    print(
        "lengths as a list           :",
        _error(lambda: pack_padded_sequence(padded, [5, 3, 2], batch_first=True)),
    )

    lstm = _model(device).train()
    for label, flags in (
        ("defaults", {}),
        ("cudnn.deterministic=True", {"deterministic": True}),
        ("cudnn.benchmark=True", {"benchmark": True}),
    ):
        with torch.backends.cudnn.flags(**{"enabled": True, **flags}):
            out_diff, grad_diff, unequal = _spread(lstm, x)
        print(
            f"run to run, {label:<28}: output {out_diff:.3g}, gradients {grad_diff:.3g}, {unequal}/{REPEATS - 1} runs not bitwise equal"
        )
    torch.use_deterministic_algorithms(True)
    try:
        out_diff, grad_diff, unequal = _spread(lstm, x)
        print(
            f"run to run, {'use_deterministic_algorithms':<28}: output {out_diff:.3g}, gradients {grad_diff:.3g}, {unequal}/{REPEATS - 1} runs not bitwise equal"
        )
    except Exception as error:  # noqa: BLE001
        print(f"use_deterministic_algorithms(True): {type(error).__name__}: {error}")
    finally:
        torch.use_deterministic_algorithms(False)
    print("CUBLAS_WORKSPACE_CONFIG =", os.environ.get("CUBLAS_WORKSPACE_CONFIG"))

    # Dropout between layers: the same seed twice on the GPU, and on the CPU.
    x_cpu = torch.randn(20, 4, 64)
    outs = {}
    for where in ("cpu", "gpu", "gpu again"):
        dev = torch.device("cpu") if where == "cpu" else device
        lstm = _model(torch.device("cpu"), dropout=0.5).to(dev).train()
        torch.manual_seed(123)
        with torch.no_grad():
            outs[where] = lstm(x_cpu.to(dev))[0].cpu()
    print(
        "dropout, same seed, gpu vs gpu again: max diff", float((outs["gpu"] - outs["gpu again"]).abs().max())
    )
    print("dropout, same seed, gpu vs cpu      : max diff", float((outs["gpu"] - outs["cpu"]).abs().max()))
    lstm = _model(torch.device("cpu"), dropout=0.5).to(device).eval()
    lstm_cpu = _model(torch.device("cpu"), dropout=0.5).eval()
    with torch.no_grad():
        print(
            "dropout, eval(), gpu vs cpu         : max diff",
            float((lstm(x_cpu.to(device))[0].cpu() - lstm_cpu(x_cpu)[0]).abs().max()),
        )


def main() -> int:
    print("torch", torch.__version__, "CUDA", torch.version.cuda, "cuDNN", torch.backends.cudnn.version())
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        nn.LSTM(3, 4, num_layers=1, dropout=0.5)
    print(
        "dropout with num_layers=1   :",
        "; ".join(f"{w.category.__name__}: {w.message}" for w in caught) or "no warning",
    )
    print("proj_size == hidden_size    :", _error(lambda: nn.LSTM(3, 4, proj_size=4)))
    if not torch.cuda.is_available():
        print("no CUDA device: nothing more to probe")
        return 0
    for index in range(torch.cuda.device_count()):
        try:
            probe(torch.device("cuda", index))
        except Exception:  # noqa: BLE001
            traceback.print_exc(file=sys.stdout)
    return 0


if __name__ == "__main__":
    sys.exit(main())
