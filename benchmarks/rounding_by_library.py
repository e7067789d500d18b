"""Where a device's float32 rounding comes from: each implementation's error, with cuDNN on and off.

For every model of :data:`lstm_demo.tolerances.MODELS` and every way the
claims compute it (``nn.LSTM``, the equations written out, step by step, the
gradients of ``nn.LSTM``), prints the largest error against float64 on the
CPU, scaled by ``1 + |reference|`` as :func:`lstm_demo.tolerances.measure_rounding`
scales it, with TF32 off. On a GPU each row is measured twice: with cuDNN
(PyTorch's default for ``nn.LSTM`` on CUDA) and with
``lstm_demo.precision.cudnn(False)`` (PyTorch's own CUDA kernels),
so the library that produced an error is shown by switching it off.

    python benchmarks/rounding_by_library.py [--dtype float32|float64]
"""

from __future__ import annotations

import argparse

import torch

from lstm_demo import available_devices
from lstm_demo.precision import cudnn
from lstm_demo.tolerances import errors_by_implementation, one_thread


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--dtype", default="float32", choices=["float32", "float64"])
    dtype = getattr(torch, parser.parse_args().dtype)
    unit = torch.finfo(dtype).eps / 2
    print(f"torch {torch.__version__}, CUDA {torch.version.cuda}, cuDNN {torch.backends.cudnn.version()}")
    print(f"{dtype}: u = {unit:.3g}; each figure is the scaled error, then in units of u")
    with one_thread():
        for device in available_devices():
            settings = {"cuDNN on": True, "cuDNN off": False} if device.type == "cuda" else {"": True}
            for label, enabled in settings.items():
                with cudnn(enabled):
                    table = errors_by_implementation(device, dtype)
                print(f"== {device} {label}".rstrip())
                for (model, implementation), (error, _) in table.items():
                    print(f"  {model:<44} {implementation:<13} {error:9.3g} {error / unit:9.1f} u")


if __name__ == "__main__":
    main()
