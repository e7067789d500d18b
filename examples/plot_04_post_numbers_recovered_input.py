r"""
The post's numbers, reproduced: the input it never printed
==========================================================

The post's first experiment printed all four parameters of its
``nn.LSTM(4, 5, batch_first=True)`` and every output, but not the input. Can
its 30 printed outputs still be reproduced?

Yes, by recovering the input. An LSTM step maps the input ``x`` (4 numbers
per sequence) and the previous state to the hidden state ``h`` (5 numbers).
Knowing the parameters, the state and ``h``, find the ``x`` that produces
``h``: 5 equations and 4 unknowns per sequence and step, so an input that
fits all 5 printed numbers to their 4 decimals is evidence that the printed table is
self-consistent, not just that a solver can fit anything. Step by step,
carrying the state the recovered inputs produce, the whole input comes back.
Then the model runs on it, whole sequence and one step at a time, and every
one of the post's outputs is put next to this build's.
"""

# %%
# What the post printed
# ---------------------
# Verbatim from the saved page (:mod:`lstm_demo.post` keeps the blocks and
# their line numbers), then parsed into tensors.
import matplotlib.pyplot as plt
import torch

import lstm_demo
from lstm_demo import post
from lstm_demo.devices import each_device
from lstm_demo.recover import recover_inputs

for block in post.EXPERIMENT_1.values():
    print(f"--- {block.name}, lines {block.lines[0]}-{block.lines[1]} of the saved page")
    print(block.text)

# %%
# The model, from the printed parameters
# --------------------------------------
# All four parameters were printed, so :func:`lstm_demo.post.experiment_1_lstm`
# needs no guess. The recovery works in float64, so that its own rounding is
# far below the 4 printed decimals.
lstm64 = post.experiment_1_lstm(dtype=torch.float64)
printed_out = post.experiment_1_outputs()
print(lstm64)
print("printed out:", tuple(printed_out.shape), "(batch, seq_len, hidden_size)")

# %%
# Recovering the input
# --------------------
# :func:`lstm_demo.recover.recover_inputs` inverts one time step at a time
# with :func:`lstm_demo.recover.invert_step`: L-BFGS minimises
# ``sum((h(x) - h_printed)**2)`` over ``x``, starting from zeros; the state it
# carries to the next step is the one the recovered ``x`` produces, as the
# module itself would carry it. The residual is the greatest
# ``|h(x) - h_printed|`` left: below ``5e-5``, half of the last printed
# decimal, the recovered input reproduces the printed digits.
recovery = recover_inputs(lstm64, printed_out)
print(recovery)
print("recovered input (batch, seq_len, input_size):")
print(recovery.input)
assert recovery.max_residual < post.PRINTED_TOLERANCE

# %%
# Is a small residual evidence, or would any table fit? A control: change one
# printed number, ``out[0, 1, 2]``, by ``0.001`` and recover again. With one
# equation more than unknowns per step, the altered step can no longer be
# fitted, and its residual jumps far above half a printed decimal.
altered = printed_out.clone()
altered[0, 1, 2] += 1e-3
control = recover_inputs(lstm64, altered)
for name, found in [("printed table", recovery), ("altered table", control)]:
    per_step = ", ".join(f"{float(r):.1e}" for r in found.residuals.amax(dim=1))
    print(f"greatest residual per time step, {name}: {per_step}")
assert control.residuals[1, 0] > post.PRINTED_TOLERANCE

# %%
# The residual of each of the 30 printed numbers, per sequence of the batch
# and time step: all far below half a printed decimal.
with torch.no_grad():
    ours64, _ = lstm64(recovery.input)
residual = (ours64 - printed_out).abs()
fig, ax = plt.subplots(figsize=(8, 3.4), layout="constrained")
ax.axhline(post.PRINTED_TOLERANCE, color="tab:red", ls="--", label="5e-5: half a printed decimal")
for b in range(2):
    for t in range(3):
        ax.semilogy([b * 15 + t * 5 + k for k in range(5)], residual[b, t], "o", label=f"sequence {b}, t={t}")
ax.set(xlabel="printed output (sequence, time step, unit)", ylabel="|h(recovered x) - printed|")
ax.set_title("Residual of the recovered input, float64")
ax.legend(fontsize="x-small", loc="upper left", bbox_to_anchor=(1.01, 1))
plt.show()

# %%
# The 30 numbers, side by side
# ----------------------------
# Now the post's experiment itself, in float32 as the post ran it: the whole
# sequence in one call, and one step at a time carrying ``(h, c)``, both on
# the recovered input. :func:`lstm_demo.post.reproduce_experiment_1` lines
# their outputs up with the printed ones; the assertion fails the build if
# any is further than ``5e-5`` away.
result = post.reproduce_experiment_1()
print(result.table())
print(result)
result.assert_holds()

# %%
# The post's step-by-step outputs ``r_out`` are the same numbers as its
# ``out``, time step by time step, as printed:
steps = post.experiment_1_step_outputs()  # (3 steps, batch, 1, 5)
for t in range(3):
    assert torch.equal(steps[t, :, 0], printed_out[:, t])
print("the printed r_out at t = 0, 1, 2 equal the printed out[:, t], digit for digit")

# %%
# On every device
# ---------------
# The reproduction, in float32, on every device of this machine (on a GPU
# with cuDNN's TF32 off, as the post computed in full float32).
for device in each_device():
    result = post.reproduce_experiment_1(device)
    print(result)
    result.assert_holds()

# %%
# What produced this page
# -----------------------
print(lstm_demo.environment_report())
