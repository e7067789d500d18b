"""Precision switches, set for a block and put back.

``torch.backends`` holds global switches that change what an LSTM computes:
cuDNN on or off, oneDNN on or off, TF32 tensor cores for float32,
deterministic algorithms. :func:`precision_flags` sets them for the length of
a ``with`` block and restores every one afterwards, so a page that changes
them leaks nothing into the next; :func:`cudnn`, :func:`onednn` and
:func:`full_precision` are the switches the claims use. This module imports
only torch: every other module may use it. How far each setting lands from
float64 is measured in :mod:`lstm_demo.agreement`.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from contextlib import contextmanager
from typing import Protocol, TypedDict, cast

import torch

# Per-operator float32 precision flags of newer torch releases, most general
# first. Where they exist the legacy allow_tf32 flags are views of them, and
# writing a legacy flag rewrites them, so both kinds are saved and restored.
_PRECISION_PATHS = (
    "",
    "cuda.matmul",
    "cudnn",
    "cudnn.conv",
    "cudnn.rnn",
    "mkldnn",
    "mkldnn.matmul",
    "mkldnn.conv",
    "mkldnn.rnn",
)


class Fp32Flag(Protocol):
    """A ``torch.backends`` object with a per-operator float32 precision: ``"ieee"``, ``"tf32"`` or ``"none"``."""

    fp32_precision: str


#: What :func:`save_flags` saves and :func:`restore_flags` puts back, by the switch's path in ``torch``.
Flags = TypedDict(
    "Flags",
    {
        "cudnn.enabled": bool,
        "cudnn.benchmark": bool,
        "cudnn.deterministic": bool,
        "mkldnn.enabled": bool,
        "deterministic": bool,
        "deterministic.warn_only": bool,
        "fp32": dict[str, str],
        "matmul_precision": str,
        "legacy_tf32": tuple[bool | None, bool | None],
    },
)


def precision_objects() -> dict[str, Fp32Flag]:
    """The ``torch.backends`` objects with a per-operator ``fp32_precision``, by dotted path."""
    found = {}
    for path in _PRECISION_PATHS:
        obj: object = torch.backends
        for part in filter(None, path.split(".")):
            obj = getattr(obj, part, None)
        if obj is not None and hasattr(obj, "fp32_precision"):
            found[path] = cast("Fp32Flag", obj)
    return found


def save_flags() -> Flags:
    """Every precision switch :func:`precision_flags` may touch, and the float32 precision flags."""
    state: Flags = {
        "cudnn.enabled": torch.backends.cudnn.enabled,
        "cudnn.benchmark": torch.backends.cudnn.benchmark,
        "cudnn.deterministic": torch.backends.cudnn.deterministic,
        "mkldnn.enabled": bool(torch.backends.mkldnn.enabled),
        "deterministic": torch.are_deterministic_algorithms_enabled(),
        "deterministic.warn_only": torch.is_deterministic_algorithms_warn_only_enabled(),
        "fp32": {path: obj.fp32_precision for path, obj in precision_objects().items()},
        "matmul_precision": torch.get_float32_matmul_precision(),
        "legacy_tf32": (
            _legacy(lambda: torch.backends.cudnn.allow_tf32),
            _legacy(lambda: torch.backends.cuda.matmul.allow_tf32),
        ),
    }
    return state


def _legacy(read: Callable[[], bool]) -> bool | None:
    """A legacy ``allow_tf32`` flag; None where torch refuses to read it (legacy and per-operator flags mixed)."""
    try:
        return bool(read())
    except RuntimeError:
        return None


def restore_flags(state: Flags) -> None:
    """Put back what :func:`save_flags` saved: the float32 matmul precision first, then the per-operator flags."""
    torch.backends.cudnn.enabled = state["cudnn.enabled"]
    torch.backends.cudnn.benchmark = state["cudnn.benchmark"]
    torch.backends.cudnn.deterministic = state["cudnn.deterministic"]
    torch.backends.mkldnn.enabled = state["mkldnn.enabled"]  # type: ignore[assignment]  # torch types the flag as its descriptor
    deterministic = (state["deterministic"], state["deterministic.warn_only"])
    if deterministic != (
        torch.are_deterministic_algorithms_enabled(),
        torch.is_deterministic_algorithms_warn_only_enabled(),
    ):
        # Only when changed: its first call imports torch._inductor, seconds on a small machine.
        torch.use_deterministic_algorithms(deterministic[0], warn_only=deterministic[1])
    # The legacy flags first: writing one rewrites the per-operator flags, and
    # torch keeps the legacy value apart, so restoring only the per-operator
    # strings after `allow_tf32 = False` would leave `allow_tf32` unreadable.
    cudnn_tf32, matmul_tf32 = state["legacy_tf32"]
    if cudnn_tf32 is not None:
        torch.backends.cudnn.allow_tf32 = cudnn_tf32
    if matmul_tf32 is not None:
        torch.backends.cuda.matmul.allow_tf32 = matmul_tf32
    torch.set_float32_matmul_precision(state["matmul_precision"])
    objects = precision_objects()
    for path, value in state["fp32"].items():
        if objects[path].fp32_precision != value:
            objects[path].fp32_precision = value


def _set_cudnn_tf32(allow: bool) -> None:
    rnn = getattr(torch.backends.cudnn, "rnn", None)
    if rnn is not None and hasattr(rnn, "fp32_precision"):
        rnn.fp32_precision = "tf32" if allow else "ieee"
    else:
        torch.backends.cudnn.allow_tf32 = allow


def _set_matmul_tf32(allow: bool) -> None:
    # The legacy flag: it rewrites torch.backends.cuda.matmul.fp32_precision to "tf32" or
    # "ieee" and keeps torch.get_float32_matmul_precision() readable, which writing
    # "tf32" into the per-operator flag directly does not.
    torch.backends.cuda.matmul.allow_tf32 = allow


@contextmanager
def precision_flags(
    *,
    cudnn: bool | None = None,
    cudnn_tf32: bool | None = None,
    deterministic: bool | None = None,
    matmul_tf32: bool | None = None,
) -> Iterator[None]:
    """Set precision switches for a ``with`` block; restore every one afterwards.

    ``None`` leaves a switch as it is. Whatever happens in the block, every
    switch, and the per-operator float32 precision flags, is put back.

    Parameters
    ----------
    cudnn : bool, optional
        ``torch.backends.cudnn.enabled``: False runs PyTorch's own CUDA
        kernels instead of cuDNN's.
    cudnn_tf32 : bool, optional
        Whether cuDNN may use TF32 for float32 RNNs: ``torch.backends.cudnn.
        rnn.fp32_precision`` (``"tf32"`` or ``"ieee"``) where this torch has it,
        else ``torch.backends.cudnn.allow_tf32``.
    deterministic : bool, optional
        ``torch.use_deterministic_algorithms`` and
        ``torch.backends.cudnn.deterministic``.
    matmul_tf32 : bool, optional
        Whether CUDA matrix products in float32 may use TF32 (PyTorch's own
        RNN kernels, used when cuDNN is disabled, multiply with them), through
        ``torch.backends.cuda.matmul.allow_tf32``, which newer torch releases
        mirror into ``torch.backends.cuda.matmul.fp32_precision``.

    Raises
    ------
    TypeError
        If a switch is given something other than True, False or None.

    Examples
    --------
    >>> import torch
    >>> from lstm_demo.precision import precision_flags
    >>> before = torch.are_deterministic_algorithms_enabled()
    >>> with precision_flags(deterministic=True):
    ...     torch.are_deterministic_algorithms_enabled()
    True
    >>> torch.are_deterministic_algorithms_enabled() == before
    True
    """
    switches = (
        ("cudnn", cudnn),
        ("cudnn_tf32", cudnn_tf32),
        ("deterministic", deterministic),
        ("matmul_tf32", matmul_tf32),
    )
    for name, value in switches:
        if value is not None and not isinstance(value, bool):
            msg = f"Expected {name} to be True, False or None, but got {value!r} instead."
            raise TypeError(msg)
    state = save_flags()
    try:
        if cudnn is not None:
            torch.backends.cudnn.enabled = cudnn
        if cudnn_tf32 is not None:
            _set_cudnn_tf32(cudnn_tf32)
        if matmul_tf32 is not None:
            _set_matmul_tf32(matmul_tf32)
        if deterministic is not None:
            torch.use_deterministic_algorithms(deterministic)
            torch.backends.cudnn.deterministic = deterministic
        yield
    finally:
        restore_flags(state)


@contextmanager
def cudnn(enabled: bool) -> Iterator[None]:
    """Set ``torch.backends.cudnn.enabled`` for a ``with`` block; restore it afterwards.

    With ``False``, CUDA recurrent modules run PyTorch's own CUDA kernels
    instead of cuDNN's; the CPU never uses cuDNN. Unlike
    ``torch.backends.cudnn.flags(enabled=...)``, which also re-applies the
    TF32 switches through PyTorch's older API and raises once the newer
    per-operator ones (:func:`full_precision`) have set
    cuDNN's convolutions and RNNs apart, this touches nothing else.

    Raises
    ------
    TypeError
        If ``enabled`` is not True or False.

    Examples
    --------
    >>> import torch
    >>> from lstm_demo.precision import cudnn
    >>> with cudnn(False):
    ...     torch.backends.cudnn.enabled
    False
    >>> torch.backends.cudnn.enabled
    True
    """
    with backend_enabled(torch.backends.cudnn, enabled):
        yield


@contextmanager
def onednn(enabled: bool) -> Iterator[None]:
    """Set ``torch.backends.mkldnn.enabled`` for a ``with`` block; restore it afterwards.

    With ``False``, CPU recurrent modules run PyTorch's own ATen kernels
    instead of oneDNN's. The switch is put back whatever happens in the block.

    Raises
    ------
    TypeError
        If ``enabled`` is not True or False.

    Examples
    --------
    >>> import torch
    >>> from lstm_demo.precision import onednn
    >>> before = torch.backends.mkldnn.enabled
    >>> with onednn(False):
    ...     torch.backends.mkldnn.enabled
    False
    >>> torch.backends.mkldnn.enabled == before
    True
    """
    with backend_enabled(torch.backends.mkldnn, enabled):
        yield


@contextmanager
def backend_enabled(backend: object, enabled: bool) -> Iterator[None]:
    """Set ``backend.enabled`` (``torch.backends.cudnn``, ``torch.backends.mkldnn``) for a block, then restore it.

    Raises
    ------
    TypeError
        If ``enabled`` is not True or False.

    Examples
    --------
    >>> import torch
    >>> from lstm_demo.precision import backend_enabled
    >>> with backend_enabled(torch.backends.mkldnn, False):
    ...     torch.backends.mkldnn.enabled
    False
    """
    if not isinstance(enabled, bool):
        msg = f"Expected enabled to be True or False, but got {enabled!r} instead."
        raise TypeError(msg)
    before = getattr(backend, "enabled")  # noqa: B009  (typed as object: any torch.backends module)
    try:
        setattr(backend, "enabled", enabled)  # noqa: B010
        yield
    finally:
        setattr(backend, "enabled", before)  # noqa: B010


@contextmanager
def full_precision() -> Iterator[None]:
    """TF32 off for cuDNN's RNNs and for CUDA matrix products, for a ``with`` block.

    Every claim runs inside it, so what a claim verifies is IEEE float32 or
    float64 arithmetic whatever the caller's flags; TF32's effect is measured
    on the precision page instead. The flags are put back afterwards, as
    :func:`precision_flags` does.

    Examples
    --------
    >>> import torch
    >>> from lstm_demo.precision import full_precision
    >>> with full_precision():
    ...     torch.backends.cudnn.rnn.fp32_precision, torch.backends.cuda.matmul.fp32_precision
    ('ieee', 'ieee')
    """
    with precision_flags(cudnn_tf32=False, matmul_tf32=False):
        yield


def _read(flag: Callable[[], object]) -> str:
    try:
        return str(flag())
    except RuntimeError:  # torch refuses to read a legacy flag once per-operator flags differ
        return "mixed (set per operator)"


# The per-operator float32 precision flags the report shows, by their path in torch.backends.
_FLAG_LABELS = {
    "": "fp32 precision",
    "cuda.matmul": "CUDA matmul",
    "cudnn.conv": "cuDNN conv",
    "cudnn.rnn": "cuDNN RNN",
}


def describe_flags() -> dict[str, str]:
    """The precision flags as an environment report prints them: per operator where this torch has them, else the legacy ones.

    Examples
    --------
    >>> from lstm_demo.precision import describe_flags, precision_flags
    >>> with precision_flags(deterministic=True):
    ...     describe_flags()["deterministic"]
    'True'
    """
    backends = torch.backends
    objects = precision_objects()
    if objects:
        flags = {
            label: str(objects[path].fp32_precision)
            for path, label in _FLAG_LABELS.items()
            if path in objects
        }
    else:
        flags = {
            "matmul TF32": _read(lambda: backends.cuda.matmul.allow_tf32),
            "cuDNN TF32": _read(lambda: backends.cudnn.allow_tf32),
        }
    flags["fp32 matmul"] = _read(torch.get_float32_matmul_precision)
    flags["deterministic"] = str(torch.are_deterministic_algorithms_enabled())
    return flags
