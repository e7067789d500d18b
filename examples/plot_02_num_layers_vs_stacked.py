r"""
``num_layers=2`` or two LSTMs stacked by hand?
===============================================

The post's second question: is ``nn.LSTM(3, 3, num_layers=2)`` the same
thing as two single-layer LSTMs, the second reading the first one's output?

Yes. This page repeats the experiment the post copied from a discussion it
linked to: one two-layer LSTM fed five inputs one at a time (method 1), then
two ``nn.LSTM(3, 3)`` holding the same weights (method 2). It prints both
methods' outputs, compares them, asserts the comparison, and checks that the
final states ``h_n`` and ``c_n`` of the two-layer module are the two layers'
final states stacked. Then it runs the claim on every device.
"""

# %%
# Method 1: one module with ``num_layers=2``
# ------------------------------------------
# As the post's run did: build the module after ``torch.manual_seed(1)``,
# draw the five inputs, then give the weights Xavier-normal values and the
# biases zeros before printing them ("after init"). In that order today's
# PyTorch draws the very numbers the post printed (page 03 replays them and
# compares the text).
import matplotlib.pyplot as plt
import torch
from torch import nn

import lstm_demo
from lstm_demo.backends import whole_vs_stepwise_by_backend
from lstm_demo.claims import Proofs, num_layers_vs_stacked, prove, whole_vs_stepwise
from lstm_demo.comparison import Comparisons
from lstm_demo.devices import each_device
from lstm_demo.display import show

torch.manual_seed(1)
lstm = nn.LSTM(3, 3, num_layers=2)
inputs = [torch.randn(1, 3) for _ in range(5)]  # five feature vectors, (1, 3) each
for name, param in lstm.named_parameters():
    if name.startswith("weight"):
        nn.init.xavier_normal_(param)
        print(f"weight {name} after init:", param.data)
    else:
        nn.init.zeros_(param)

# %%
# The five inputs, drawn above, one ``(1, 3)`` feature vector each.
print("inputs:")
for i in inputs:
    print(i)

# %%
# Each input becomes a sequence of length 1 and batch 1, shape ``(1, 1, 3)``,
# and the state ``hidden = (h, c)`` is carried from call to call. Layer 1's
# output is what the module returns.
hidden = None
method_1 = []
for idx, i in enumerate(inputs):
    out, hidden = lstm(i.view(1, 1, -1), hidden)
    print("idx:", idx)
    print(out)
    method_1.append(out)

# %%
# Method 2: two single-layer LSTMs
# --------------------------------
# ``lstm1`` gets layer 0's weights (``weight_ih_l0``, ``weight_hh_l0`` and
# the biases), ``lstm2`` layer 1's. Layer 1 of the two-layer module reads the
# 3 hidden features of layer 0, so ``lstm2`` takes 3 inputs too.
lstm1, lstm2 = nn.LSTM(3, 3), nn.LSTM(3, 3)
with torch.no_grad():
    for target, layer in [(lstm1, 0), (lstm2, 1)]:
        for kind in ["weight_ih", "weight_hh", "bias_ih", "bias_hh"]:
            getattr(target, f"{kind}_l0").copy_(getattr(lstm, f"{kind}_l{layer}"))

hidden_1 = hidden_2 = None
method_2 = []
for idx, i in enumerate(inputs):
    out_1, hidden_1 = lstm1(i.view(1, 1, -1), hidden_1)
    out_2, hidden_2 = lstm2(out_1, hidden_2)
    print("idx:", idx)
    print(out_2)
    method_2.append(out_2)

# %%
# The comparison
# --------------
# Method 2 against method 1 at every ``idx``, within
# :func:`torch.testing.assert_close`'s float32 tolerance (``rtol=1.3e-6,
# atol=1e-5``); each row says whether this run was also bitwise equal. Both
# methods do the same arithmetic in the same order (per step, layer 0, then
# layer 1), one two-layer call against two one-layer calls; but the claim is
# about the function the two compute, and a library can order its sums
# differently for a two-layer call than for two one-layer calls, so
# closeness is what is asserted.
pairs = enumerate(zip(method_1, method_2, strict=True))
comparisons = {f"idx {idx}": lstm_demo.compare(two, one) for idx, (one, two) in pairs}
for result in comparisons.values():
    assert result.close, result
show(Comparisons(comparisons, caption="Method 2 against method 1, at each idx"))

# %%
# The final states. The two-layer module returns ``h_n`` and ``c_n`` of
# shape ``(num_layers, batch, hidden_size) = (2, 1, 3)``: row 0 is layer 0's
# final state, row 1 layer 1's. So they must equal the final states of
# ``lstm1`` and ``lstm2``, stacked.
h_n, c_n = hidden
print("h_n shape:", tuple(h_n.shape), " c_n shape:", tuple(c_n.shape))
comparisons = {
    "h_n": lstm_demo.compare(torch.cat([hidden_1[0], hidden_2[0]]), h_n),
    "c_n": lstm_demo.compare(torch.cat([hidden_1[1], hidden_2[1]]), c_n),
}
for result in comparisons.values():
    assert result.close, result
show(
    Comparisons(
        comparisons, caption="lstm1 and lstm2's final states, stacked, against the two-layer module's"
    )
)

# %%
# Both methods over the five inputs: lines are method 1, circles method 2,
# one colour per hidden unit of the top layer.
fig, ax = plt.subplots(figsize=(6.5, 3.4), layout="constrained")
one = torch.cat(method_1).detach().reshape(5, 3)
two = torch.cat(method_2).detach().reshape(5, 3)
for k in range(3):
    (line,) = ax.plot(range(5), one[:, k], lw=1.5, label=f"unit {k}")
    ax.plot(range(5), two[:, k], "o", color=line.get_color(), ms=8, mfc="none")
ax.set(xlabel="idx (input fed)", ylabel="output of layer 1", xticks=range(5))
ax.set_title("num_layers=2 (lines) vs two stacked LSTMs (circles)")
ax.legend(loc="best", fontsize="small")
plt.show()

# %%
# The copying, done by the library
# --------------------------------
# :func:`lstm_demo.split_layers` does the weight copying above for any
# ``nn.LSTM``, ``nn.GRU`` or ``nn.RNN`` (``proj_size``, bidirectional layers,
# with or without bias), and :func:`lstm_demo.run_stacked` runs the layers
# one after another, returning what the multi-layer module returns. The split
# layers hold exactly the weights copied by hand:
layers = lstm_demo.split_layers(lstm)
print(layers)
for layer, by_hand in zip(layers, [lstm1, lstm2], strict=True):
    for name, param in layer.named_parameters():
        assert torch.equal(param, getattr(by_hand, name)), name
print("split_layers holds the same parameters as lstm1 and lstm2, bit for bit")

# %%
# On every device
# ---------------
# The claim on a copy of the module on every device, on the five inputs as
# one sequence of shape ``(5, 1, 3)``. Method 1 fed them one call at a time,
# which is the first experiment's claim for a two-layer module, so that runs
# too. On a GPU, each result is also compared with the CPU's.
#
# The whole-sequence call can differ from the step-by-step one in the last
# bits. Which library runs the
# LSTM, and whether autograd records the call, can each decide that; the
# claims below run under :func:`torch.no_grad`. The table on
# :ref:`sphx_glr_auto_examples_plot_01_whole_vs_stepwise.py` switches both
# causes on and off; this is the same table for this two-layer module and
# these five inputs. Every difference stays inside the tolerance.
devices = each_device()
sequence = torch.stack(inputs)  # (seq_len=5, batch=1, features=3)
runs = whole_vs_stepwise_by_backend(lstm, sequence, devices=devices)
for run in runs:
    assert run.comparison.close, run
show(runs)

# %%
# The claims on every device:
stacked = prove(num_layers_vs_stacked, lstm, sequence, devices=devices)
results = prove(whole_vs_stepwise, lstm, sequence, devices=devices)
Proofs([stacked, results])

# %%
# The step-by-step claim runs like the table's CPU row with autograd off and
# this build's oneDNN setting; the page checks that the two agree.
by_setting = {(run.grad, run.onednn): run for run in runs if run.device.type == "cpu"}
no_grad_default = by_setting[False, torch.backends.mkldnn.enabled]
print("step by step, bitwise on the CPU:", results[0].bitwise)
assert results[0].bitwise == no_grad_default.comparison.equal

# %%
# What produced this page
# -----------------------
print(lstm_demo.environment_report())
