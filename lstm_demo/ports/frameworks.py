"""The frameworks a port needs, imported when a port first runs, with a clear error when one is missing.

ONNX, Keras 3 and JAX/Flax are optional (``pip install 'lstm-demo[ports]'``)
and slow to import (seconds each), so :mod:`lstm_demo.ports` imports one only
when a function that runs it is called: the weight mappings of
:mod:`lstm_demo.ports.gates` need none of them. This is the one place that
imports them.
"""

from __future__ import annotations

import importlib
import importlib.util
import os
import sys
from types import ModuleType

#: The packages each port runs on.
FRAMEWORKS: dict[str, tuple[str, ...]] = {
    "onnx": ("onnx", "onnxruntime"),
    "keras": ("keras",),
    "flax": ("jax", "flax"),
}

#: How to install them all.
INSTALL = "pip install 'lstm-demo[ports]'"


class Unavailable(ImportError):
    """A port's framework is not installed: its claims are skipped, its functions raise this."""


def missing(framework: str) -> list[str]:
    """The packages ``framework`` (``"onnx"``, ``"keras"`` or ``"flax"``) needs that are not installed.

    Examples
    --------
    >>> from lstm_demo.ports import missing
    >>> missing("no such framework")
    Traceback (most recent call last):
        ...
    ValueError: Expected a framework among onnx, keras, flax, but got 'no such framework' instead.
    """
    if framework not in FRAMEWORKS:
        msg = f"Expected a framework among {', '.join(FRAMEWORKS)}, but got {framework!r} instead."
        raise ValueError(msg)
    return [p for p in FRAMEWORKS[framework] if p not in sys.modules and importlib.util.find_spec(p) is None]


def require(name: str) -> ModuleType:
    """The module ``name`` (``"onnx"``, ``"onnxruntime"``, ``"keras"``, ``"jax"``, ``"flax.nnx"``, ...).

    Keras 3 picks its backend when first imported: PyTorch, unless
    ``KERAS_BACKEND`` says otherwise.

    Raises
    ------
    Unavailable
        If the package is not installed, saying how to install it.
    """
    if name.partition(".")[0] == "keras" and "keras" not in sys.modules:
        os.environ.setdefault("KERAS_BACKEND", "torch")
    try:
        return importlib.import_module(name)
    except ImportError as error:
        msg = (
            f"Expected {name} to be installed for this port, but it is not ({error}); {INSTALL} installs it."
        )
        raise Unavailable(msg) from error
