"""Where a device's float32 rounding comes from: each implementation's error, with cuDNN on and off.

For every model of :data:`lstm_demo.tolerances.MODELS` and every way the
claims compute it (``nn.LSTM``, the equations written out, step by step, the
gradients of ``nn.LSTM``), prints the largest error against float64 on the
CPU, scaled by ``1 + |reference|`` as :func:`lstm_demo.tolerances.measure_rounding`
scales it, with TF32 off. On a GPU each row is measured twice: with cuDNN
(PyTorch's default for ``nn.LSTM`` on CUDA) and with
``torch.backends.cudnn.flags(enabled=False)`` (PyTorch's own CUDA kernels),
so the library that produced an error is shown by switching it off.

    python benchmarks/rounding_by_library.py [--dtype float32|float64]
"""

from __future__ import annotations

import argparse
import contextlib

import torch
from torch import nn

from lstm_demo import available_devices, run_stepwise
from lstm_demo._random import cpu_random
from lstm_demo.precision import full_precision
from lstm_demo.scratch import scratch_lstm
from lstm_demo.tolerances import MODELS, one_thread


def _leaves(result: tuple[torch.Tensor, tuple[torch.Tensor, torch.Tensor]]) -> list[torch.Tensor]:
    output, (h_n, c_n) = result
    return [output, h_n, c_n]


def _gradients(lstm: nn.LSTM, x: torch.Tensor) -> list[torch.Tensor]:
    x = x.detach().clone().requires_grad_(True)
    lstm.zero_grad()
    output, (h_n, c_n) = lstm(x)
    (output.sum() + h_n.sum() + c_n.sum()).backward()
    grads = [x.grad, *(p.grad for p in lstm.parameters())]
    return [g.detach().clone() for g in grads if g is not None]


def errors(device: torch.device, dtype: torch.dtype) -> dict[tuple[str, str], float]:
    """``{(model, implementation): scaled error}`` on ``device`` in ``dtype``, TF32 off."""
    found = {}
    for seed, (name, factory, shape) in enumerate(MODELS):
        with cpu_random(seed):
            reference_module = factory().double()
        x64 = torch.randn(*shape, generator=torch.Generator().manual_seed(100 + seed), dtype=torch.float64)
        with full_precision():
            with torch.no_grad():
                reference = _leaves(reference_module(x64))
            reference_grads = _gradients(reference_module, x64)
            module = reference_module.to(device=device, dtype=dtype)
            x = x64.to(device=device, dtype=dtype)
            runs = {}
            with torch.no_grad():
                runs["nn.LSTM"] = _leaves(module(x))
                runs["equations"] = _leaves(scratch_lstm(module, x))
                if not module.bidirectional:
                    runs["step by step"] = _leaves(run_stepwise(module, x))
            runs["gradients"] = _gradients(module, x)
        for implementation, values in runs.items():
            expected = reference_grads if implementation == "gradients" else reference
            found[name, implementation] = max(
                float(((got.double().cpu() - want).abs() / (1 + want.abs())).max())
                for got, want in zip(values, expected, strict=True)
            )
    return found


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--dtype", default="float32", choices=["float32", "float64"])
    dtype = getattr(torch, parser.parse_args().dtype)
    unit = torch.finfo(dtype).eps / 2
    print(f"torch {torch.__version__}, CUDA {torch.version.cuda}, cuDNN {torch.backends.cudnn.version()}")
    print(f"{dtype}: u = {unit:.3g}; each figure is the scaled error, then in units of u")
    with one_thread():
        for device in available_devices():
            settings = {"": contextlib.nullcontext}
            if device.type == "cuda":
                settings = {
                    "cuDNN on": lambda: torch.backends.cudnn.flags(enabled=True),
                    "cuDNN off": lambda: torch.backends.cudnn.flags(enabled=False),
                }
            for label, setting in settings.items():
                with setting():
                    table = errors(device, dtype)
                print(f"== {device} {label}".rstrip())
                for (model, implementation), error in table.items():
                    print(f"  {model:<44} {implementation:<13} {error:9.3g} {error / unit:9.1f} u")


if __name__ == "__main__":
    main()
