"""Which devices a run uses: the machine's devices, checked names, and a line saying which ran."""

from __future__ import annotations

import os
import sys
import textwrap
from typing import TextIO

import torch

#: Set to 1 to turn "no CUDA GPU" from a printed note into an error.
REQUIRE_CUDA_ENV = "LSTM_DEMO_REQUIRE_CUDA"

_TRUE = {"1", "true", "yes", "on"}
_FALSE = {"", "0", "false", "no", "off"}


def available_devices() -> list[torch.device]:
    """The devices this machine can run: the CPU first, then each CUDA device, then MPS.

    Examples
    --------
    >>> from lstm_demo import available_devices
    >>> available_devices()[0]
    device(type='cpu')
    """
    devices = [torch.device("cpu")]
    if torch.cuda.is_available():
        devices += [torch.device("cuda", i) for i in range(torch.cuda.device_count())]
    mps = getattr(torch.backends, "mps", None)
    if mps is not None and mps.is_available():
        devices.append(torch.device("mps"))
    return devices


def cuda_required() -> bool:
    """Whether ``LSTM_DEMO_REQUIRE_CUDA`` asks for a CUDA GPU.

    Raises
    ------
    ValueError
        If the variable is set to something other than 1/0, true/false,
        yes/no or on/off.
    """
    value = os.environ.get(REQUIRE_CUDA_ENV, "").strip().lower()
    if value in _TRUE:
        return True
    if value in _FALSE:
        return False
    msg = (
        f"Expected {REQUIRE_CUDA_ENV} to be 1 or 0 (or true/false, yes/no, on/off), "
        f"but got {os.environ[REQUIRE_CUDA_ENV]!r} instead."
    )
    raise ValueError(msg)


def each_device(*, file: TextIO | None = None) -> list[torch.device]:
    """The devices a page or check runs on, after saying which they are.

    Prints one line naming the devices. Where there is no CUDA GPU it says
    so plainly, unless ``LSTM_DEMO_REQUIRE_CUDA=1``, which makes that an
    error: builds that must publish GPU results set it.

    Parameters
    ----------
    file : text stream, optional
        Where to print; standard output by default.

    Returns
    -------
    list of torch.device
        :func:`~lstm_demo.available_devices`.

    Raises
    ------
    RuntimeError
        If ``LSTM_DEMO_REQUIRE_CUDA=1`` and no CUDA device is available.
    """
    file = sys.stdout if file is None else file
    required = cuda_required()
    devices = available_devices()
    names = ", ".join(device_name(d) for d in devices)
    if not any(d.type == "cuda" for d in devices):
        if required:
            msg = (
                f"Expected a CUDA device, since {REQUIRE_CUDA_ENV}="
                f"{os.environ[REQUIRE_CUDA_ENV]}, but got none on this machine "
                f"(torch {torch.__version__}, built with CUDA {torch.version.cuda}): "
                "build on a machine with a GPU and a CUDA build of torch."
            )
            raise RuntimeError(msg)
        print(f"Running on: {names}.", file=file)
        kinds = " and ".join(dict.fromkeys(d.type.upper() for d in devices))
        note = (
            f"No CUDA GPU on the machine that ran this, so only {kinds} results appear "
            "below; on a machine with a GPU the same code also runs there and "
            "compares with the CPU."
        )
        print(textwrap.fill(note, width=79), file=file)
    else:
        print(f"Running on: {names}.", file=file)
    return devices


def resolve_device(device: torch.device | str) -> torch.device:
    """``device`` as a ``torch.device`` this machine has; ``cuda`` becomes ``cuda:N``, the current one.

    Raises
    ------
    TypeError
        If ``device`` is not a string or ``torch.device``.
    ValueError
        If it is not a device name, or not one of :func:`~lstm_demo.available_devices`.

    Examples
    --------
    >>> from lstm_demo.devices import resolve_device
    >>> resolve_device("cpu")
    device(type='cpu')
    """
    if not isinstance(device, (str, torch.device)):
        msg = f"Expected device to be a string or torch.device, but got {type(device).__name__} instead."
        raise TypeError(msg)
    try:
        resolved = torch.device(device)
    except RuntimeError as error:
        msg = f"Expected a device name such as 'cpu' or 'cuda:0', but got {device!r} instead ({error})."
        raise ValueError(msg) from None
    if resolved.type == "cuda" and resolved.index is None and torch.cuda.is_available():
        resolved = torch.device("cuda", torch.cuda.current_device())
    if resolved.type == "cpu" and resolved.index in (None, 0):
        resolved = torch.device("cpu")  # "cpu:0" is the CPU too
    available = available_devices()
    if resolved not in available:
        names = ", ".join(str(d) for d in available)
        msg = f"Expected one of this machine's devices ({names}), but got {str(device)!r} instead."
        raise ValueError(msg)
    return resolved


def resolve_placement(device: torch.device | str, dtype: torch.dtype) -> tuple[torch.device, torch.dtype]:
    """``device`` resolved as :func:`resolve_device` does, and ``dtype``, checked to be one a claim runs in.

    Raises
    ------
    TypeError
        If ``dtype`` is not ``torch.float32`` or ``torch.float64``, or
        ``device`` is not a string or ``torch.device``.
    ValueError
        If ``device`` is not one of this machine's, or is MPS with float64.

    Examples
    --------
    >>> import torch
    >>> from lstm_demo.devices import resolve_placement
    >>> resolve_placement("cpu", torch.float64)
    (device(type='cpu'), torch.float64)
    """
    if dtype not in (torch.float32, torch.float64):
        msg = f"Expected dtype torch.float32 or torch.float64, but got {dtype!r} instead."
        raise TypeError(msg)
    resolved = resolve_device(device)
    if resolved.type == "mps" and dtype == torch.float64:
        msg = "Expected dtype torch.float32 on mps, which has no float64, but got torch.float64 instead."
        raise ValueError(msg)
    return resolved, dtype


def device_name(device: torch.device) -> str:
    """``cpu``, or ``cuda:0 (NVIDIA H100 80GB HBM3)`` for a GPU."""
    if device.type == "cuda":
        return f"{device} ({torch.cuda.get_device_name(device)})"
    return str(device)
