"""What produced a run: the provenance every executed page prints."""

from __future__ import annotations

import datetime
import platform
from dataclasses import dataclass, field

import torch

from lstm_demo._version import __version__
from lstm_demo.devices import available_devices, device_name
from lstm_demo.precision import describe_flags

#: Flags that act only on CUDA kernels (TF32 in cuBLAS matmuls, cuDNN convolutions and RNNs):
#: a report gives them only where a CUDA device runs, so a CPU run never lists a cuDNN setting.
CUDA_ONLY_FLAGS = frozenset({"CUDA matmul", "cuDNN conv", "cuDNN RNN", "matmul TF32", "cuDNN TF32"})


@dataclass(frozen=True)
class EnvironmentReport:
    """The versions, devices and precision flags of one run. ``str()`` prints it."""

    date: str
    """When the run happened, UTC, to the minute."""
    python: str
    """Python version."""
    platform: str
    """Operating system and machine, e.g. ``Linux x86_64``."""
    torch: str
    """``torch.__version__``."""
    lstm_demo: str
    """This package's version."""
    cuda: str | None
    """The CUDA version torch was built with (None for CPU builds)."""
    cudnn: int | None
    """cuDNN version, where available."""
    devices: list[str]
    """Every device of :func:`~lstm_demo.available_devices`, GPUs with their names."""
    threads: int
    """CPU threads torch uses."""
    default_dtype: str
    """torch's default floating-point dtype."""
    flags: dict[str, str] = field(default_factory=dict)
    """Precision flags (TF32 and float32 matmul precision) and deterministic algorithms;
    the CUDA and cuDNN ones (``CUDA_ONLY_FLAGS``) only where a CUDA device is available."""

    def __str__(self) -> str:
        lines = [
            f"date (UTC)      {self.date}",
            f"python          {self.python} on {self.platform}",
            f"torch           {self.torch} (CUDA {self.cuda or 'none'}, cuDNN {self.cudnn or 'none'})",
            f"lstm_demo       {self.lstm_demo}",
            f"devices         {', '.join(self.devices)}",
            f"CPU threads     {self.threads}",
            f"default dtype   {self.default_dtype}",
        ]
        lines += [f"{k:<15} {v}" for k, v in self.flags.items()]
        return "\n".join(lines)


def environment_report() -> EnvironmentReport:
    """The provenance of this run: date, versions, devices and precision flags.

    Examples
    --------
    >>> from lstm_demo import environment_report
    >>> report = environment_report()
    >>> report.devices[0]
    'cpu'
    >>> "torch" in str(report)
    True
    """
    available = torch.backends.cudnn.is_available()  # type: ignore[no-untyped-call]  # untyped in torch
    cudnn = torch.backends.cudnn.version() if available else None  # type: ignore[no-untyped-call]
    cuda_runs = torch.cuda.is_available()
    return EnvironmentReport(
        date=datetime.datetime.now(datetime.timezone.utc).strftime("%Y-%m-%d %H:%M"),
        python=platform.python_version(),
        platform=f"{platform.system()} {platform.machine()}",
        torch=torch.__version__,
        lstm_demo=__version__,
        cuda=torch.version.cuda,
        cudnn=cudnn,
        devices=[device_name(d) for d in available_devices()],
        threads=torch.get_num_threads(),
        default_dtype=str(torch.get_default_dtype()).removeprefix("torch."),
        flags={k: v for k, v in describe_flags().items() if cuda_runs or k not in CUDA_ONLY_FLAGS},
    )
