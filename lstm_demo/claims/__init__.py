"""The claims the site proves: each one registered function that runs it and reports.

A claim is a sentence about ``nn.LSTM`` ("running a sequence in chunks equals
one call") and the code that tests it. Each is one function decorated with
:func:`claim` (in ``lstm_demo.claims.registry``), which gives it its name on
the command line (``python -m lstm_demo check --claim NAME``), its place in
:data:`CLAIMS`, argument checks, TF32 off and its :class:`ClaimResult`. Its
independent side (what it compares with ``nn.LSTM``) is a keyword argument
with the correct default, so the mutation suite runs the very same claim
with a wrong LSTM in that place.

:func:`prove` (in ``lstm_demo.claims.proof``) is how a page runs a claim.
The claims live in one module per page family, imported here in the order
the pages show them, which is the order of :data:`CLAIMS`:
:mod:`~lstm_demo.claims.equations`, :mod:`~lstm_demo.claims.layout`,
:mod:`~lstm_demo.claims.sequences`, :mod:`~lstm_demo.claims.variants`,
:mod:`~lstm_demo.claims.notation`, :mod:`~lstm_demo.claims.gpu`,
:mod:`~lstm_demo.claims.ports` (these need ``pip install 'lstm-demo[ports]'``).
"""

from lstm_demo.biases import move_bias_hh

# isort: off
# The page families in the order the pages show them: registering in this order is the order of CLAIMS.
from lstm_demo.claims.result import ClaimResult, only_note
from lstm_demo.claims.registry import (
    CLAIMS,
    Claim,
    Forward,
    Pairs,
    Place,
    claim,
    claim_result,
)
from lstm_demo.claims.proof import (
    NUM_LAYERS_VS_STACKED,
    WHOLE_VS_STEPWISE,
    Proof,
    Proofs,
    num_layers_vs_stacked,
    on_each_device,
    prove,
    whole_vs_stepwise,
)
from lstm_demo.layers import module_forward, split_and_stack
from lstm_demo.claims.equations import (
    lstmcell_loop,
    no_peepholes,
    post_layers,
    post_stepwise,
    run_cell_loop,
    scratch,
    two_biases,
)
from lstm_demo.claims.layout import batch_first, bidirectional, last_output, state_layout
from lstm_demo.claims.sequences import (
    chunked,
    gradients,
    no_hidden_memory,
    packed,
    padded_unpacked,
    run_in_chunks,
    truncated_bptt,
)
from lstm_demo.claims.variants import dropout, flatten, gru, gru_bias, projection, rnn
from lstm_demo.claims.notation import cho_gru, olah_notation, row_vector
from lstm_demo.claims.gpu import eval_backward, repeatable
from lstm_demo.claims.ports import flax_port, keras_port, onnx_export, onnx_port

# isort: on

__all__ = [
    "CLAIMS",
    "NUM_LAYERS_VS_STACKED",
    "WHOLE_VS_STEPWISE",
    "Claim",
    "ClaimResult",
    "Forward",
    "Pairs",
    "Place",
    "Proof",
    "Proofs",
    "batch_first",
    "bidirectional",
    "cho_gru",
    "chunked",
    "claim",
    "claim_result",
    "dropout",
    "eval_backward",
    "flatten",
    "flax_port",
    "gradients",
    "gru",
    "gru_bias",
    "keras_port",
    "last_output",
    "lstmcell_loop",
    "module_forward",
    "move_bias_hh",
    "no_hidden_memory",
    "no_peepholes",
    "num_layers_vs_stacked",
    "olah_notation",
    "on_each_device",
    "only_note",
    "onnx_export",
    "onnx_port",
    "packed",
    "padded_unpacked",
    "post_layers",
    "post_stepwise",
    "projection",
    "prove",
    "repeatable",
    "rnn",
    "row_vector",
    "run_cell_loop",
    "run_in_chunks",
    "scratch",
    "split_and_stack",
    "state_layout",
    "truncated_bptt",
    "two_biases",
    "whole_vs_stepwise",
]
