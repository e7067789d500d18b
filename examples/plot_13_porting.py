r"""
Porting an LSTM: the same nn.LSTM in ONNX, Keras 3 and Flax
===========================================================

The same trained ``nn.LSTM`` runs in ONNX, Keras 3 and Flax nnx once four
things are mapped. The gates: ONNX stacks them i, o, f, c, where PyTorch
stacks i, f, g, o (ONNX's c is PyTorch's g); Keras and Flax keep PyTorch's
order. The weights: ONNX keeps PyTorch's ``(4H, in)`` rows, one
``[directions, 4H, in]`` array per layer; Keras and Flax take the transpose,
``(in, 4H)``. The biases: ONNX keeps both, ``B = [bias_ih, bias_hh]``; Keras
and Flax have one, their sum. The state: ONNX and Keras take ``h`` then
``c``, as PyTorch does; Flax's carry is ``(c, h)``. The activations need
nothing: every framework's default is PyTorch's sigmoid and tanh.
:mod:`lstm_demo.ports` does each mapping, and this page runs every one
against ``nn.LSTM``.
"""

# %%
# The mapping, verified
# ---------------------
# One LSTM of two bidirectional, batch-first layers, given ``(h0, c0)``, is
# run in each framework (ONNX Runtime for ONNX, Keras on its PyTorch
# backend, Flax on JAX) and compared with ``nn.LSTM``, float32, within
# ``torch.testing``'s tolerance. The second table names the run that
# verifies each row: the mapping, and where the catalogue of porting bugs
# (:data:`lstm_demo.mutants.PORT_MUTANTS`) has a wrong mapping for the row,
# that wrong mapping run the same way, which must miss. Keras on JAX runs in new Python processes (Keras picks
# its backend once per process); they start now and are read further down.
import copy
from concurrent.futures import ThreadPoolExecutor

import matplotlib.pyplot as plt
import numpy as np
import torch
from torch import nn

import lstm_demo
from lstm_demo import ports
from lstm_demo.claims import CLAIMS, Proof, Proofs
from lstm_demo.devices import each_device
from lstm_demo.display import Table, show
from lstm_demo.mutants import PORT_MUTANTS
from lstm_demo.tolerances import UNIT_ROUNDOFF, tolerance_for

torch.manual_seed(0)
lstm = nn.LSTM(3, 4, num_layers=2, bidirectional=True, batch_first=True)
x = torch.randn(2, 5, 3)  # (batch, seq_len, input_size)
hx = (torch.randn(4, 2, 4), torch.randn(4, 2, 4))  # (layers * directions, batch, hidden)

# Keras on JAX: the module in float32, then a float64 copy with JAX's x64 off and on.
lstm64, x64, hx64 = copy.deepcopy(lstm).double(), x.double(), tuple(t.double() for t in hx)
pool = ThreadPoolExecutor(3)
on_jax = {
    (dtype, flag): pool.submit(ports.keras_forward_on, "jax", module, inp, state, x64=flag)
    for dtype, flag, module, inp, state in [
        ("float32", False, lstm, x, hx),
        ("float64", False, lstm64, x64, hx64),
        ("float64", True, lstm64, x64, hx64),
    ]
}

with torch.no_grad():
    expected = lstm(x, hx)
    runs = {
        "ONNX Runtime": ports.onnx_forward(lstm, x, hx),
        "Keras 3": ports.keras_forward(lstm, x, hx),
        "Flax nnx": ports.flax_forward(lstm, x, hx),
    }
    wrong = {name: PORT_MUTANTS[name](lstm, x, hx) for name in PORT_MUTANTS}


def outputs(result):
    output, state = result
    return [output, *(state if isinstance(state, tuple) else (state,))]


def worst(result):
    """The comparison of output, h_n and c_n with nn.LSTM's with the greatest difference."""
    found = [lstm_demo.compare(a, b) for a, b in zip(outputs(result), outputs(expected), strict=True)]
    return max(found, key=lambda c: c.max_abs_diff)


mapped = {name: worst(result) for name, result in runs.items()}
missed = {name: worst(result) for name, result in wrong.items()}
for name, comparison in mapped.items():
    assert comparison.close, (name, comparison)
for name, comparison in missed.items():
    assert not comparison.close, (name, comparison)


def by(framework, mutant=None):
    """The framework's run, and the wrong mapping's: max abs diff from nn.LSTM, and the outcome."""
    text = f"{framework}: {mapped[framework].max_abs_diff:.2g}, {mapped[framework].outcome}"
    return text + (
        f"; {mutant}: {missed[mutant].max_abs_diff:.2g}, {missed[mutant].outcome}" if mutant else ""
    )


# The weights as each framework holds them, read from the arrays the mapping writes.
onnx_layer = ports.onnx_weights(lstm)[0]
keras_layer = ports.keras_weights(lstm)[0]
(flax_cell, _) = ports.flax_params(lstm)[0]


def shape(array):
    return "(" + ", ".join(map(str, np.shape(array))) + ")"


letters = {"onnx": {"g": "c"}, "keras": {"g": "c"}}  # ONNX's and Keras's name for PyTorch's g
order = {
    fw: ", ".join(letters.get(fw, {}).get(g, g) for g in gates)
    for fw, gates in ports.GATE_ORDERS["LSTM"].items()
}

# Round trips: each framework's weights back to an nn.LSTM, weight for weight.
backs = {
    "ONNX": ports.lstm_from_onnx(**onnx_layer, direction="bidirectional", layout=1),
    "Keras": ports.module_from_keras_weights("LSTM", [keras_layer], bidirectional=True, bias=True),
    "Flax": ports.lstm_from_flax_params([ports.flax_params(lstm)[0]]),
}
for name, back in backs.items():
    for p in ("weight_ih_l0", "weight_hh_l0", "weight_ih_l0_reverse", "weight_hh_l0_reverse"):
        assert torch.equal(getattr(back, p), getattr(lstm, p)), (name, p)
for end in ("_l0", "_l0_reverse"):
    bias_ih, bias_hh = getattr(lstm, f"bias_ih{end}"), getattr(lstm, f"bias_hh{end}")
    assert torch.equal(getattr(backs["ONNX"], f"bias_ih{end}"), bias_ih)
    assert torch.equal(getattr(backs["ONNX"], f"bias_hh{end}"), bias_hh)
    for name in ("Keras", "Flax"):  # one bias: the sum, in bias_ih, bias_hh zero
        assert torch.equal(getattr(backs[name], f"bias_ih{end}"), bias_ih + bias_hh)
        assert not getattr(backs[name], f"bias_hh{end}").any()

keras, nnx = ports.require("keras"), ports.require("flax.nnx")
keras_config = keras.layers.LSTM(4).get_config()
flax_default = nnx.OptimizedLSTMCell(3, 4, rngs=nnx.Rngs(0))

rows = [
    (
        "gate order",
        order["torch"],
        order["onnx"],
        order["keras"],
        order["flax"],
        by("ONNX Runtime", "onnx-torch-gate-order") + "; " + by("Keras 3") + "; " + by("Flax nnx"),
    ),
    (
        "weights, layer 0",
        f"weight_ih {shape(lstm.weight_ih_l0)}, weight_hh {shape(lstm.weight_hh_l0)} per direction",
        f"W {shape(onnx_layer['W'])}, R {shape(onnx_layer['R'])}: directions stacked",
        f"kernel {shape(keras_layer[0])}, recurrent_kernel {shape(keras_layer[1])}: the transposes",
        (
            f"dense_i.kernel {shape(flax_cell['dense_i']['kernel'])}, "
            f"dense_h.kernel {shape(flax_cell['dense_h']['kernel'])}: the transposes"
        ),
        "back to nn.LSTM (lstm_from_onnx, module_from_keras_weights, lstm_from_flax_params): "
        "every weight bitwise equal; " + by("Keras 3", "keras-reshape"),
    ),
    (
        "biases",
        f"bias_ih {shape(lstm.bias_ih_l0)}, bias_hh {shape(lstm.bias_hh_l0)}",
        f"B {shape(onnx_layer['B'])} = [bias_ih, bias_hh]",
        f"bias {shape(keras_layer[2])} = bias_ih + bias_hh",
        f"dense_h.bias {shape(flax_cell['dense_h']['bias'])} = bias_ih + bias_hh",
        by("ONNX Runtime", "onnx-one-bias") + "; " + by("Keras 3", "keras-one-bias"),
    ),
    (
        "state",
        "(h, c)",
        "initial_h, initial_c; Y_h, Y_c",
        "initial_state [h, c] (bidirectional: h_f, c_f, h_b, c_b)",
        "carry (c, h)",
        "each run above given (h0, c0); " + by("Flax nnx", "flax-carry-h-c"),
    ),
    (
        "directions, layout",
        "bidirectional=True; batch_first",
        "direction='bidirectional'; layout 0 (time-major) here",
        "Bidirectional(merge_mode='concat'); batch-major only",
        "one cell per direction, the backward one reading the sequence from the end",
        by("Keras 3", "keras-backward-not-flipped"),
    ),
    (
        "activations",
        "sigmoid, tanh, tanh (fixed)",
        "Sigmoid, Tanh, Tanh: the node's default, no activations attribute written",
        (
            f"recurrent_activation={keras_config['recurrent_activation']!r}, "
            f"activation={keras_config['activation']!r} (Keras 3's defaults)"
        ),
        (
            f"gate_fn={flax_default.gate_fn.__name__}, activation_fn={flax_default.activation_fn.__name__} "
            "(defaults)"
        ),
        by("ONNX Runtime") + "; " + by("Keras 3", "keras-hard-sigmoid"),
    ),
]
assert keras_config["recurrent_activation"] == "sigmoid"
assert keras_config["activation"] == "tanh"
assert (flax_default.gate_fn.__name__, flax_default.activation_fn.__name__) == ("sigmoid", "tanh")
header = ("", "PyTorch", "ONNX", "Keras 3", "Flax nnx")
mapping = [row[:5] for row in rows]
show(
    Table(
        "\n".join(" | ".join(row) for row in [header, *mapping]),
        caption="nn.LSTM in ONNX, Keras 3 and Flax nnx (layer 0 of 2 bidirectional layers)",
        header=header,
        sections=[(None, mapping)],
    )
)
checked = [(row[0], row[5]) for row in rows]
show(
    Table(
        "\n".join(" | ".join(row) for row in [("", "verified by"), *checked]),
        caption=f"Each row of the mapping, run: float32, within {tolerance_for('cpu', torch.float32)}",
        header=("", "verified by"),
        sections=[(None, checked)],
        notes=["Each number: the greatest absolute difference from nn.LSTM over output, h_n and c_n."],
    )
)

# %%
# The four porting claims
# -----------------------
# The mapping as :mod:`lstm_demo.claims` states it, on every device, in
# float32 and float64: one layer, two bidirectional batch-first layers given
# ``(h0, c0)``, ``bias=False`` and (ONNX and Keras) a two-layer
# bidirectional GRU, each run in the framework; then weights drawn in the
# framework's own layout, rebuilt as an ``nn.LSTM`` (Keras's GRU as an
# ``nn.GRU``). ONNX's float64 runs in ``onnx.reference`` (what ONNX Runtime
# does with a float64 LSTM is shown below). The export claim runs
# ``torch.onnx.export(dynamo=False)`` on one two-layer bidirectional LSTM
# given ``(h0, c0)``.
#
# .. raw:: html
#
#    <details class="lstm-demo-fold"><summary>Each claim's comparisons, float32 and float64</summary>

devices = each_device()
results = {}
for name in ("onnx", "onnx-export", "keras", "flax"):
    results[name] = [CLAIMS[name](d, dtype) for d in devices for dtype in (torch.float32, torch.float64)]
    for result in results[name]:
        result.assert_holds()
    print(f"{name}: {', '.join(r.verdict for r in results[name])}")
show(Proofs([Proof(found, CLAIMS[name].sentence) for name, found in results.items()]))

# %%
# .. raw:: html
#
#    </details>
#
# Keras on the JAX backend
# ------------------------
# The same layers on Keras's JAX backend, each in its own process. JAX
# computes in float32 unless its ``x64`` flag is on. The float64 runs are
# set beside the same Keras layers on Keras's PyTorch backend, in float64, in
# this process, twice: with Keras's default ``use_cudnn="auto"`` (the ports'
# layers), and with ``use_cudnn=False``, Keras's own loop:
with torch.no_grad():
    reference = {"float32": expected, "float64": lstm64(x64, hx64)}
    keras_torch = ports.keras_forward(lstm64, x64, hx64)
    own_loop = ports.keras_layers(lstm64, ports.keras_weights(lstm64), use_cudnn=False)
    keras_own = ports.keras_forward(lstm64, x64, hx64, layers=own_loop)
on_torch = max(
    (
        lstm_demo.compare(a, b)
        for a, b in zip(outputs(keras_torch), outputs(reference["float64"]), strict=True)
    ),
    key=lambda c: c.max_abs_diff,
)
on_torch_own = max(
    (lstm_demo.compare(a, b) for a, b in zip(outputs(keras_own), outputs(reference["float64"]), strict=True)),
    key=lambda c: c.max_abs_diff,
)
jax_runs = {}
for (dtype, x64_flag), future in on_jax.items():
    result, computed = future.result()
    # x64 off, a float64 model comes back in float32: compared as float64, at float64's tolerance
    pairs = zip(outputs(result), outputs(reference[dtype]), strict=True)
    found = [lstm_demo.compare(a.to(b.dtype), b) for a, b in pairs]
    jax_runs[dtype, x64_flag] = (computed, max(found, key=lambda c: c.max_abs_diff))
pool.shutdown()
for (dtype, x64_flag), (computed, comparison) in jax_runs.items():
    print(
        f"{dtype} model, x64 {'on' if x64_flag else 'off'}: computed in {computed}, "
        f"max abs diff {comparison.max_abs_diff:.3g} ({comparison.outcome} at {dtype}'s tolerance)"
    )
print(f"float64 model on Keras's PyTorch backend: max abs diff {on_torch.max_abs_diff:.3g}")

f32 = jax_runs["float32", False][1]
assert f32.close, f32
assert jax_runs["float64", False][0] == "float32"
assert jax_runs["float64", True][0] == "float64"

# %%
# Float64's precision is out of reach through Keras 3's own LSTM loop, on
# either backend: with x64 on, the float64 model returns float64 arrays, but
# its error stays many orders of magnitude above float64's unit roundoff, as
# does the PyTorch backend's with ``use_cudnn=False``. Only the default
# ``use_cudnn="auto"`` on PyTorch reaches float64's rounding; in Keras 3.15's
# source that setting calls torch's own LSTM kernel once the weights are laid
# out, so there the port's weights, not Keras's arithmetic, are what is
# checked. Float64's tolerance, ``torch.testing``'s ``rtol = atol = 1e-7``, is
# wider than float32's rounding of these outputs, so it does not tell the two
# apart; the comparison with float64's unit roundoff does. JAX's own float64
# is not where the precision goes: its ``tanh``, x64 on, run in this process,
# is within float64's rounding of PyTorch's:
error = jax_runs["float64", True][1].max_abs_diff
u32, u64 = UNIT_ROUNDOFF[torch.float32], UNIT_ROUNDOFF[torch.float64]
for label, diff in (
    ("JAX, x64 on", error),
    ("PyTorch backend, use_cudnn=False", on_torch_own.max_abs_diff),
    ('PyTorch backend, use_cudnn="auto"', on_torch.max_abs_diff),
):
    print(f"{label}: {diff:.3g} = {diff / u64:.3g} float64 unit roundoffs = {diff / u32:.2g} float32 ones")
assert error > 1e6 * u64
assert on_torch_own.max_abs_diff > 1e6 * u64
assert error > 1e3 * max(on_torch.max_abs_diff, u64)
assert on_torch_own.max_abs_diff > 1e3 * max(on_torch.max_abs_diff, u64)
assert jax_runs["float64", False][1].close  # float32's arithmetic, within float64's tolerance

jax, jnp = ports.require("jax"), ports.require("jax.numpy")
grid = torch.linspace(-6, 6, 10_001, dtype=torch.float64)
with jax.enable_x64(True):
    jax_tanh = torch.from_numpy(np.array(jnp.tanh(jnp.asarray(grid.numpy()))))
tanh_error = float((jax_tanh - torch.tanh(grid)).abs().max())
print(f"jax.numpy.tanh in float64 against torch.tanh, 10,001 points in [-6, 6]: {tanh_error:.3g}")
assert jax_tanh.dtype == torch.float64
assert tanh_error < 4 * u64

# %%
# The exporters' traps
# --------------------
# ``torch.onnx.export`` has two exporters: the TorchScript one
# (``dynamo=False``, deprecated) and ``dynamo=True`` (``torch.export`` and
# onnxscript). What each does with an LSTM depends on the release; every
# outcome below is what this build's torch and ONNX Runtime did, printed from
# the run (the exception's first line where one was raised).
#
# .. raw:: html
#
#    <details class="lstm-demo-fold"><summary>Projections, dynamic shapes, float64, batch-major layout</summary>
#
# First the exporters on a plain LSTM: both write one ``LSTM`` node per layer
# whose ``W``, ``R`` and ``B`` are :func:`~lstm_demo.ports.onnx_weights`,
# bitwise equal, and the dynamo export, traced on 5 steps, runs in ONNX
# Runtime as ``nn.LSTM`` does.
plain = nn.LSTM(3, 4, num_layers=2, bidirectional=True)  # time-major
x5, x8 = torch.randn(5, 2, 3), torch.randn(8, 2, 3)


def first_line(error, width=200):
    """The exception's type and the first line of its message, cut at ``width`` characters."""
    lines = str(error).strip().splitlines()
    line = lines[0] if lines else ""
    return f"{type(error).__name__}: {line if len(line) <= width else line[:width] + ' [...]'}"


exported = {
    "TorchScript": ports.export(plain, x5, dynamic=True),
    "dynamo": ports.export(plain, x5, dynamo=True, dynamic=True),
}
for name, model in exported.items():
    written = ports.exported_weights(model)
    same = [
        np.array_equal(w[k], m[k])
        for w, m in zip(written, ports.onnx_weights(plain), strict=True)
        for k in "WRB"
    ]
    print(f"{name}: {len(written)} LSTM nodes, W, R and B bitwise equal to onnx_weights: {all(same)}")
    assert len(written) == plain.num_layers
    assert all(same)

with torch.no_grad():
    dynamo_out = ports.run_onnx(exported["dynamo"], {"input": x5.numpy()})[0]
    result = lstm_demo.compare(torch.from_numpy(dynamo_out), plain(x5)[0])
print("dynamo export, 5 steps, in ONNX Runtime vs nn.LSTM:", result.verdict)
assert result.close, result

# %%
# Dynamic shapes: both exports were traced on 5 steps with time and batch
# marked dynamic, then run on 8 steps:
with torch.no_grad():
    want8 = plain(x8)[0]
for name, model in exported.items():
    try:
        got = torch.from_numpy(ports.run_onnx(model, {"input": x8.numpy()})[0])
        outcome = lstm_demo.compare(got, want8).verdict if got.shape == want8.shape else "another shape"
        print(
            f"{name} export run on 8 steps: output {tuple(got.shape)}, nn.LSTM's {tuple(want8.shape)}; {outcome}"
        )
    except Exception as error:  # noqa: BLE001 - what ONNX Runtime raised is the finding
        print(f"{name} export run on 8 steps: ONNX Runtime refused it: {first_line(error)}")

# %%
# ``proj_size``: ONNX's LSTM node has no projection, so an exporter must
# write something else, or refuse:
projected = nn.LSTM(3, 4, proj_size=2)
for name, dynamo in (("TorchScript", False), ("dynamo", True)):
    try:
        model = ports.export(projected, x5, dynamo=dynamo)
    except Exception as error:  # noqa: BLE001 - the exporter's refusal is the finding
        print(f"{name}: refused: {first_line(error)}")
        continue
    kinds = sorted({node.op_type for node in model.graph.node} & {"LSTM", "Loop", "Scan"})
    try:
        got = torch.from_numpy(ports.run_onnx(model, {model.graph.input[0].name: x5.numpy()})[0])
    except Exception as error:  # noqa: BLE001
        print(
            f"{name}: exported ({', '.join(kinds) or 'no LSTM node'}); ONNX Runtime refused it: {first_line(error)}"
        )
        continue
    with torch.no_grad():
        want = projected(x5)[0]
    outcome = lstm_demo.compare(got, want).verdict if got.shape == want.shape else f"shape {tuple(got.shape)}"
    print(f"{name}: exported ({', '.join(kinds) or 'no LSTM node'}); in ONNX Runtime vs nn.LSTM: {outcome}")

# %%
# Float64: the graph :func:`~lstm_demo.ports.onnx_model` writes for a float64
# module is valid ONNX, and ``onnx.reference`` runs it; ONNX Runtime:
plain64 = copy.deepcopy(plain).double()
double = ports.onnx_model(plain64, with_state=False)
feeds = {"input": x5.double().numpy()}
with torch.no_grad():
    want = plain64(x5.double())[0]
ran = torch.from_numpy(ports.run_onnx(double, feeds, runtime="reference")[0])
print("onnx.reference, float64, vs nn.LSTM:", lstm_demo.compare(ran, want).verdict)
assert lstm_demo.compare(ran, want).close
try:
    ports.run_onnx(double, feeds, runtime="onnxruntime")
    print("ONNX Runtime ran the float64 LSTM")
except Exception as error:  # noqa: BLE001
    print(f"ONNX Runtime: {first_line(error)}")

# %%
# Batch-major ``layout=1`` (the node attribute that matches
# ``batch_first=True``, since opset 14): one node written with
# ``onnx.helper``, run in both runtimes.
onnx = ports.require("onnx")
batch_first = nn.LSTM(3, 4, batch_first=True)
weights = ports.onnx_weights(batch_first)[0]
node = onnx.helper.make_node("LSTM", ["X", "W", "R", "B"], ["Y", "Y_h", "Y_c"], hidden_size=4, layout=1)
graph = onnx.helper.make_graph(
    [node],
    "layout_1",
    [onnx.helper.make_tensor_value_info("X", onnx.TensorProto.FLOAT, ["B", "T", 3])],
    [onnx.helper.make_tensor_value_info("Y", onnx.TensorProto.FLOAT, None)],
    initializer=[onnx.numpy_helper.from_array(a, k) for k, a in weights.items()],
)
layout_1 = onnx.helper.make_model(graph, opset_imports=[onnx.helper.make_opsetid("", ports.OPSET)])
xb = torch.randn(2, 5, 3)
with torch.no_grad():
    want = batch_first(xb)[0]
for runtime in ports.RUNTIMES:
    try:
        (y,) = ports.run_onnx(layout_1, {"X": xb.numpy()}, runtime=runtime)
        got = torch.from_numpy(y[:, :, 0])  # Y is [B, T, directions, H] in layout 1
        print(
            f"{runtime}, layout=1: ran; vs nn.LSTM(batch_first=True): {lstm_demo.compare(got, want).verdict}"
        )
    except Exception as error:  # noqa: BLE001
        print(f"{runtime}, layout=1: {first_line(error)}")

# %%
# .. raw:: html
#
#    </details>
#
# ONNX's own conformance cases
# ----------------------------
# ONNX's test suite has its own LSTM cases (``onnx.backend.test``). Each
# rebuilt by :func:`~lstm_demo.ports.lstm_from_onnx` as an ``nn.LSTM`` and
# compared with the outputs ONNX expects, or refused where no ``nn.LSTM``
# computes the node:
#
# .. raw:: html
#
#    <details class="lstm-demo-fold"><summary>The cases, run as nn.LSTM</summary>

cases = ports.conformance_cases()
case_rows = [
    (
        c.name,
        ", ".join(f"{k}={v}" for k, v in c.attributes.items()),
        f"max abs diff {c.max_abs_diff:.3g}" if c.refused == "" else f"refused: {c.refused}",
    )
    for c in cases
]
for c in cases:
    assert c.refused != "" or c.max_abs_diff < tolerance_for("cpu", torch.float32).atol, c
show(
    Table(
        "\n".join(" | ".join(row) for row in case_rows),
        caption=f"ONNX {onnx.__version__}'s LSTM conformance cases, as nn.LSTM",
        header=("case", "attributes", "nn.LSTM vs ONNX's expected output"),
        sections=[(None, case_rows)],
    )
)

# %%
# Their weights are constants (``W = weight_scale * ones``), so every gate's
# rows are the same and any gate order computes the same thing: these cases
# cannot catch a gate-order bug. Checked on every case's ``W``, ``R``, both
# halves of ``B`` and ``P``, read back from the case (``collect_testcases``
# returns the list collected above):
collected = ports.require("onnx.backend.test.case.node").collect_testcases(op_type="LSTM")


def gates_alike(array, blocks):
    """Whether the gate blocks along axis 1 of ``array`` are all equal."""
    first, *rest = np.split(array, blocks, axis=1)
    return all(np.array_equal(first, other) for other in rest)


for case in collected:
    inputs, _ = case.data_sets[0]
    named = dict(zip(case.model.graph.node[0].input, inputs, strict=False))
    parts = {"W": (named["W"], 4), "R": (named["R"], 4)}
    if "B" in named:
        halves = np.split(named["B"], 2, axis=1)
        parts.update({"B's first half": (halves[0], 4), "B's second half": (halves[1], 4)})
    if "P" in named:
        parts["P"] = (named["P"], 3)
    alike = {name: gates_alike(array, blocks) for name, (array, blocks) in parts.items()}
    print(f"{case.name}: every gate's block equal in {', '.join(k for k, v in alike.items() if v)}")
    assert all(alike.values()), (case.name, alike)

# %%
# .. raw:: html
#
#    </details>
#
# The porting bugs each claim catches
# -----------------------------------
# Each of :data:`~lstm_demo.mutants.PORT_MUTANTS` is a plausible wrong
# port, run in place of its framework's independent side in the very same
# claims, in float32 and float64 at every tolerance the site uses: each must
# be caught, and each claim's own run (the control) must pass.
outcome = lstm_demo.mutants.run(
    devices=["cpu"], mutants=list(PORT_MUTANTS), checks=["onnx", "onnx-export", "keras", "flax"]
)
assert outcome.escapes == [], outcome.escapes
assert not outcome.skipped, outcome.skipped
assert {r.mutant for r in outcome.tried} == set(PORT_MUTANTS)  # each made its mistake somewhere
caught = sum(r.caught for r in outcome.tried)
print(f"{len(outcome.tried)} mutant runs, {caught} caught; escapes: {len(outcome.escapes)}")
show(outcome)

# %%
# GRUs: z, r, h, and where the reset gate goes
# --------------------------------------------
# ``nn.GRU`` stacks r, z, n; ONNX and Keras both stack z, r, h (their h is
# PyTorch's n). PyTorch's GRU applies the reset gate after the recurrent
# product, ``r * (W_hn h + b_hn)``: ONNX's ``linear_before_reset=1`` and
# Keras's ``reset_after=True`` (Keras 3's default), which the ports write.
# The claims' GRU rows, from the runs above:
print("GRU gate order:", {fw: ", ".join(g) for fw, g in ports.GATE_ORDERS["GRU"].items()})
gru_rows = [
    (f"{name}: {label}", *(r.comparisons[label].verdict for r in found))
    for name, found in results.items()
    for label in found[0].comparisons
    if "GRU" in label
]
show(
    Table(
        "\n".join(" | ".join(row) for row in gru_rows),
        caption="The porting claims' GRU comparisons: to ONNX and Keras, 2 bidirectional layers given h0; "
        "from Keras, one layer",
        header=(
            "claim: comparison",
            *(f"{r.device}, {str(r.dtype).removeprefix('torch.')}" for r in results["onnx"]),
        ),
        sections=[(None, gru_rows)],
    )
)

# %%
# ONNX's default, ``linear_before_reset=0``, is Cho et al.'s form,
# ``W_hn (r * h)``, which no ``nn.GRU`` computes (page
# :ref:`sphx_glr_auto_examples_plot_11_notation.py` measures the difference),
# so :func:`~lstm_demo.ports.gru_from_onnx` refuses it:
gru = nn.GRU(3, 4)
refused = None
try:
    ports.gru_from_onnx(**ports.onnx_weights(gru)[0], linear_before_reset=0)
except ValueError as error:
    refused = error
    print(f"ValueError: {error}")
assert refused is not None

# %%
# How far each framework lands from nn.LSTM
# -----------------------------------------
# Every element of ``output``, ``h_n`` and ``c_n`` of the table's run
# (two bidirectional layers, float32), each framework against ``nn.LSTM``:
# its absolute difference on a log scale, and the bitwise-equal elements (a
# difference of zero has no place on a log scale) as crosses at the bottom.
# The dashed line is float32's ``atol``; each element is allowed that plus
# ``rtol`` times its size.
# sphinx_gallery_thumbnail_number = 1
floor = 1e-10
tolerance = tolerance_for("cpu", torch.float32)
fig, ax = plt.subplots(figsize=(7.5, 3.8), layout="constrained")
rng = np.random.default_rng(0)
for k, result in enumerate(runs.values()):
    diff = torch.cat(
        [(a - b).abs().flatten() for a, b in zip(outputs(result), outputs(expected), strict=True)]
    )
    diff = diff.double().numpy()
    jitter = k + rng.uniform(-0.25, 0.25, diff.size)
    nonzero = diff > 0
    ax.plot(jitter[nonzero], diff[nonzero], ".", alpha=0.6, label=None)
    ax.plot(jitter[~nonzero], np.full((~nonzero).sum(), floor), "x", color="black", alpha=0.6)
    ax.annotate(
        f"{(~nonzero).sum()} of {diff.size} bitwise equal",
        (k, floor),
        xytext=(0, -14),
        textcoords="offset points",
        ha="center",
        fontsize="small",
    )
ax.axhline(tolerance.atol, color="gray", ls="--", lw=0.8, label=f"float32 atol, {tolerance.atol:.0e}")
ax.legend(loc="upper right", fontsize="small")
ax.set_yscale("log")
ax.set_ylim(floor / 10, 1e-4)
ax.set_xticks(range(len(runs)), list(runs))
ax.set(ylabel="|framework - nn.LSTM| (log scale)")
ax.set_title("output, h_n and c_n: each port against nn.LSTM, float32")
plt.show()

# %%
# What produced this page
# -----------------------
print(lstm_demo.environment_report())
