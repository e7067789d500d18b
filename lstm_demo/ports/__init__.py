"""nn.LSTM and nn.GRU to and from ONNX, Keras 3 and Flax nnx: the weight mappings, and runs that check them.

:mod:`~lstm_demo.ports.gates` maps the weights (numpy and torch only): gate
orders (:data:`GATE_ORDERS`), :func:`onnx_weights` / :func:`lstm_from_onnx`,
:func:`keras_weights`, :func:`flax_params`. The framework modules build and
run the same LSTM there, each importing its framework only when called
(:mod:`~lstm_demo.ports.frameworks`: ``pip install 'lstm-demo[ports]'``):
:mod:`~lstm_demo.ports.onnx` (:func:`onnx_model`, :func:`export`,
:func:`run_onnx`, :func:`onnx_forward`), :mod:`~lstm_demo.ports.keras`
(:func:`to_keras`, :func:`lstm_from_keras`, :func:`keras_forward`) and
:mod:`~lstm_demo.ports.flax` (:func:`to_flax`, :func:`lstm_from_flax`,
:func:`flax_forward`). Each ``*_forward`` has nn.LSTM's forward contract:
the independent side of the porting claims.
:mod:`~lstm_demo.ports.statedict` rebuilds the module of a saved
``state_dict`` (:func:`module_from_state_dict`, :func:`recurrent_prefixes`);
:mod:`~lstm_demo.ports.saved` writes a module as a file another framework
reads and runs that file (:func:`save_port`, :func:`run_saved`): ``python -m
lstm_demo port``.
"""

from lstm_demo.ports.flax import flax_forward, flax_run, lstm_from_flax, to_flax
from lstm_demo.ports.frameworks import FRAMEWORKS, INSTALL, Unavailable, missing, require
from lstm_demo.ports.gates import (
    GATE_ORDERS,
    OnnxLayer,
    flax_params,
    gru_from_onnx,
    keras_weights,
    lstm_from_flax_params,
    lstm_from_onnx,
    module_from_keras_weights,
    onnx_weights,
    reorder,
)
from lstm_demo.ports.keras import (
    BACKENDS,
    keras_forward,
    keras_forward_on,
    keras_layers,
    keras_run,
    lstm_from_keras,
    to_keras,
)
from lstm_demo.ports.onnx import (
    OPSET,
    RUNTIMES,
    Conformance,
    conformance_cases,
    default_runtime,
    export,
    exported_weights,
    onnx_forward,
    onnx_model,
    run_onnx,
)
from lstm_demo.ports.saved import FLAX_KEY, RUNNERS, SAVERS, load_flax_params, run_saved, save_port
from lstm_demo.ports.statedict import module_from_state_dict, recurrent_prefixes

__all__ = [
    "BACKENDS",
    "FLAX_KEY",
    "FRAMEWORKS",
    "GATE_ORDERS",
    "INSTALL",
    "OPSET",
    "RUNNERS",
    "RUNTIMES",
    "SAVERS",
    "Conformance",
    "OnnxLayer",
    "Unavailable",
    "conformance_cases",
    "default_runtime",
    "export",
    "exported_weights",
    "flax_forward",
    "flax_params",
    "flax_run",
    "gru_from_onnx",
    "keras_forward",
    "keras_forward_on",
    "keras_layers",
    "keras_run",
    "keras_weights",
    "load_flax_params",
    "lstm_from_flax",
    "lstm_from_flax_params",
    "lstm_from_keras",
    "lstm_from_onnx",
    "missing",
    "module_from_keras_weights",
    "module_from_state_dict",
    "onnx_forward",
    "onnx_model",
    "onnx_weights",
    "recurrent_prefixes",
    "reorder",
    "require",
    "run_onnx",
    "run_saved",
    "save_port",
    "to_flax",
    "to_keras",
]
