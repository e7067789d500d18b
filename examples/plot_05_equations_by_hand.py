r"""
What ``nn.LSTM`` computes, by hand
==================================

``nn.LSTM`` is a handful of matrix products and element-wise functions. This
page writes one step out by hand, with PyTorch's own parameters, next to
``nn.LSTMCell`` and ``nn.LSTM``; shows which rows of ``weight_ih`` and
``weight_hh`` belong to which gate; and runs a from-scratch LSTM
(:func:`lstm_demo.scratch.scratch_lstm`) against ``nn.LSTM`` with every
option: layers, both directions, ``batch_first``, ``proj_size``.

For input :math:`x_t` and the previous state :math:`(h_{t-1}, c_{t-1})`:

.. math::

    i_t &= \sigma(W_{ii} x_t + b_{ii} + W_{hi} h_{t-1} + b_{hi}) \\
    f_t &= \sigma(W_{if} x_t + b_{if} + W_{hf} h_{t-1} + b_{hf}) \\
    g_t &= \tanh(W_{ig} x_t + b_{ig} + W_{hg} h_{t-1} + b_{hg}) \\
    o_t &= \sigma(W_{io} x_t + b_{io} + W_{ho} h_{t-1} + b_{ho}) \\
    c_t &= f_t \odot c_{t-1} + i_t \odot g_t \\
    h_t &= o_t \odot \tanh(c_t)
"""

# %%
# Where the gates live in the weights
# -----------------------------------
# ``weight_ih_l0`` stacks :math:`W_{ii}, W_{if}, W_{ig}, W_{io}` (in that
# order, PyTorch's i, f, g, o) into one ``(4 * hidden_size, input_size)``
# matrix; ``weight_hh_l0`` does the same with the :math:`W_{h\cdot}`, and each
# bias vector has ``4 * hidden_size`` entries in the same order. The post's
# first model, ``nn.LSTM(4, 5)``, has 20 rows:
import matplotlib.pyplot as plt
import torch
from torch import nn

import lstm_demo
from lstm_demo.claims import Proofs, prove
from lstm_demo.devices import each_device
from lstm_demo.scratch import GATES, scratch_lstm

torch.manual_seed(0)
lstm = nn.LSTM(4, 5)
H = lstm.hidden_size
for name, param in lstm.named_parameters():
    print(f"{name:<14} {tuple(param.shape)}")

fig, axes = plt.subplots(1, 2, figsize=(7, 5), layout="constrained", width_ratios=[4, 5])
for ax, name in zip(axes, ["weight_ih_l0", "weight_hh_l0"], strict=True):
    weights = getattr(lstm, name).detach()
    image = ax.imshow(weights, cmap="RdBu", vmin=-0.45, vmax=0.45, aspect="auto")
    for k in range(1, 4):
        ax.axhline(k * H - 0.5, color="black", lw=1.5)
    ax.set_yticks(
        [k * H + (H - 1) / 2 for k in range(4)],
        [f"{g} gate\nrows {k * H}-{k * H + H - 1}" for k, g in enumerate(GATES)],
    )
    ax.set_xticks(range(weights.shape[1]))
    ax.set(title=name, xlabel="input feature" if name == "weight_ih_l0" else "unit of $h_{t-1}$")
axes[1].set_yticks([])
fig.colorbar(image, ax=axes, shrink=0.6, label="weight")
fig.suptitle("nn.LSTM(4, 5): four gates stacked, in the order i, f, g, o")
plt.show()

# %%
# One step by hand
# ----------------
# Slice each gate's rows out of the parameters and write the equations as
# they stand. The state starts at zeros, as it does when ``hx`` is omitted.
x = torch.randn(2, 4)  # a batch of 2, one time step
h = torch.zeros(2, H)
c = torch.zeros(2, H)
W_ih, W_hh = lstm.weight_ih_l0.detach(), lstm.weight_hh_l0.detach()
b = (lstm.bias_ih_l0 + lstm.bias_hh_l0).detach()


def gate(k):
    rows = slice(k * H, (k + 1) * H)
    return x @ W_ih[rows].T + h @ W_hh[rows].T + b[rows]


i, f, g, o = torch.sigmoid(gate(0)), torch.sigmoid(gate(1)), torch.tanh(gate(2)), torch.sigmoid(gate(3))
c_1 = f * c + i * g
h_1 = o * torch.tanh(c_1)
print("i =", i, "\nf =", f, "\ng =", g, "\no =", o)
print("c_1 =", c_1)
print("h_1 =", h_1)

# %%
# ``nn.LSTMCell`` holding the same weights computes one step;
# ``nn.LSTM`` on a sequence of length 1 does too. All three agree, within
# float32's default tolerance (the products may be summed in another order):
cell = nn.LSTMCell(4, 5)
cell.load_state_dict({k.removesuffix("_l0"): v for k, v in lstm.state_dict().items()})
with torch.no_grad():
    h_cell, c_cell = cell(x, (h, c))
    out_lstm, (h_lstm, c_lstm) = lstm(x.unsqueeze(0))
for name, mine, theirs in [
    ("h, by hand vs nn.LSTMCell", h_1, h_cell),
    ("c, by hand vs nn.LSTMCell", c_1, c_cell),
    ("h, by hand vs nn.LSTM", h_1, h_lstm[0]),
    ("c, by hand vs nn.LSTM", c_1, c_lstm[0]),
]:
    result = lstm_demo.compare(mine, theirs)
    print(f"{name}: {result.verdict}")
    assert result.close, result

# %%
# The input projection first, then the loop
# -----------------------------------------
# In the equations, :math:`W_{i\cdot} x_t` does not depend on the state, so
# the input projections of *all* time steps can be computed before the
# recurrence starts, as one ``(seq_len * batch, input_size) @ (input_size, 4H)``
# product. Only :math:`W_{h\cdot} h_{t-1}` must wait for the previous step.
# One large product can keep the hardware busier than ``seq_len`` small
# ones, so an implementation may do it: :func:`~lstm_demo.scratch.scratch_lstm`
# does, and so does PyTorch's own CPU loop (the one that runs with oneDNN
# off). The same sums, grouped into another product, can round differently
# in the last bits; the run below says whether they did here. Page
# :ref:`sphx_glr_auto_examples_plot_01_whole_vs_stepwise.py` switches the
# grouping on and off and shows it is what separates the whole-sequence call
# from the step-by-step loop when oneDNN is off.
sequence = torch.randn(7, 2, 4)  # (seq_len, batch, input_size)
all_at_once = sequence @ W_ih.T  # (7, 2, 20): every step's input projection
one_at_a_time = torch.stack([x_t @ W_ih.T for x_t in sequence])
result = lstm_demo.compare(all_at_once, one_at_a_time)
print("one product vs one per step:", result.verdict)
assert result.close, result

# %%
# From scratch, every option
# --------------------------
# :func:`lstm_demo.scratch.scratch_lstm` runs those equations for any
# ``nn.LSTM``: each layer and direction projects its whole input first, then
# loops over time (backwards for the reverse direction); layer ``k + 1`` reads
# the concatenated directions of layer ``k``. Here it takes a three-layer,
# bidirectional, batch-first LSTM with a projection and a random initial
# state, and returns what ``nn.LSTM`` returns:
import warnings

big = nn.LSTM(4, 6, num_layers=3, bidirectional=True, batch_first=True, proj_size=3)
x = torch.randn(2, 7, 4)  # (batch, seq_len, input_size)
hx = (torch.randn(6, 2, 3), torch.randn(6, 2, 6))
with torch.no_grad(), warnings.catch_warnings():
    # PyTorch notes once that oneDNN has no LSTM projection and falls back.
    warnings.filterwarnings("ignore", message="LSTM with projections")
    expected, (h_n, c_n) = big(x, hx)
    mine, (h_mine, c_mine) = scratch_lstm(big, x, hx)
print("output", tuple(mine.shape), " h_n", tuple(h_mine.shape), " c_n", tuple(c_mine.shape))
for name, a, e in [("output", mine, expected), ("h_n", h_mine, h_n), ("c_n", c_mine, c_n)]:
    result = lstm_demo.compare(a, e)
    print(f"{name}: {result.verdict}")
    assert result.close, result

# %%
# On every device
# ---------------
# The same claims as :mod:`lstm_demo.claims` states them, on every
# device of the machine that built this page: the equations against
# ``nn.LSTM`` (two layers, both directions), ``nn.LSTMCell`` in a loop against
# ``nn.LSTM``, and the projection ``h = W_hr (o * tanh(c))``.
devices = each_device()
proofs = [prove(name, devices=devices) for name in ("scratch", "lstmcell-loop", "projection")]
Proofs(proofs)

# %%
# Two biases, one sum
# -------------------
# Every gate adds two bias vectors, ``bias_ih`` next to :math:`W_{i\cdot} x_t`
# and ``bias_hh`` next to :math:`W_{h\cdot} h_{t-1}`, and nothing else ever
# reads them: only their sum enters the equations, so one vector would do.
# cuDNN's RNN functions also take one bias per matrix product, which can be
# why PyTorch keeps two. Moving all of ``bias_hh`` into ``bias_ih`` leaves
# ``output``, ``h_n`` and ``c_n`` the same, within float32's default
# tolerance: ``(W x + b_ih) + b_hh`` and ``W x + (b_ih + b_hh)`` are the same
# sum grouped another way, which can round differently. The run says whether
# it did here.
import copy

merged = copy.deepcopy(lstm)
with torch.no_grad():
    merged.bias_ih_l0 += merged.bias_hh_l0
    merged.bias_hh_l0.zero_()
    sequence = torch.randn(7, 2, 4)
    before = lstm(sequence)
    after = merged(sequence)
for name, mine, theirs in zip(
    ["output", "h_n", "c_n"], [after[0], *after[1]], [before[0], *before[1]], strict=True
):
    result = lstm_demo.compare(mine, theirs)
    print(f"{name}, bias_hh moved into bias_ih: {result.verdict}")
    assert result.close, result


# %%
# So set a forget-gate bias in *one* of the two, and zero the same rows of
# the other (left alone, they keep their random initial values). A common
# recipe starts the forget gate open by setting its bias to 1 (rows
# ``H:2H``, the second block above) in every parameter whose name contains
# "bias", which sets it in both vectors: the forget gate then starts with a
# bias of 2, not 1. The module's own outputs show it: the recipe computes
# what a bias of 2 in ``bias_ih`` alone computes, and not what 1 does.
def with_forget_bias(ih, hh):
    changed = copy.deepcopy(lstm)
    with torch.no_grad():
        changed.bias_ih_l0[H : 2 * H] = ih
        changed.bias_hh_l0[H : 2 * H] = hh
        return changed(sequence)[0]


recipe = copy.deepcopy(lstm)
with torch.no_grad():
    for name, param in recipe.named_parameters():
        if "bias" in name:
            param[H : 2 * H] = 1.0
    recipe_output = recipe(sequence)[0]
as_two = lstm_demo.compare(recipe_output, with_forget_bias(2.0, 0.0))
as_one = lstm_demo.compare(recipe_output, with_forget_bias(1.0, 0.0))
print("recipe (1 in both) vs 2 in bias_ih, 0 in bias_hh:", as_two.verdict)
print("recipe (1 in both) vs 1 in bias_ih, 0 in bias_hh:", as_one.verdict)
assert as_two.close, as_two
assert not as_one.close, as_one

# %%
# On every device, with two layers: the biases moved, and the recipe against
# a bias of 2 in ``bias_ih`` alone (each asserted within its tolerance; the
# table says where it was also bitwise equal). The note gives how far the
# recipe's outputs are from those of the forget bias of 1 it meant.
prove("two-biases", devices=devices)

# %%
# No peepholes
# ------------
# Some LSTMs let the gates look at the cell state: the peephole LSTM of Gers
# and Schmidhuber feeds :math:`c_{t-1}` into the input and forget gates and
# :math:`c_t` into the output gate, each through a diagonal weight
# (TensorFlow 1's ``LSTMCell(use_peepholes=True)`` is one). ``nn.LSTM`` has
# none: the parameter list at the top of this page is all it has, and its
# gates read :math:`x_t` and :math:`h_{t-1}` only. One consequence can be
# checked from outside: with ``x_1`` and ``h_0`` fixed, :math:`c_1 = f_1
# \odot c_0 + i_1 \odot g_1` is affine in :math:`c_0`, so doubling
# :math:`c_0` moves :math:`c_1` by as much as going from zero to :math:`c_0`.
# That rules out peepholes into the input and forget gates; one into the
# output gate would change :math:`h_1` only, which the comparison with the
# equations below catches.
x_1 = torch.randn(1, 2, 4)  # one time step
h_0, c_0 = torch.randn(1, 2, H), torch.randn(1, 2, H)


def c_1(c_start):
    with torch.no_grad():
        _, (_, c_next) = lstm(x_1, (h_0, c_start))
    return c_next


result = lstm_demo.compare(c_1(2 * c_0) - c_1(c_0), c_1(c_0) - c_1(torch.zeros_like(c_0)))
print("c_1(2 c_0) - c_1(c_0) vs c_1(c_0) - c_1(0):", result.verdict)
assert result.close, result

# %%
# A peephole LSTM with the same weights, plus peephole weights
# :math:`w_{ci}, w_{cf}, w_{co}` (one number per unit each),
# :func:`lstm_demo.scratch.peephole_lstm`, is another function: without
# peepholes it gives ``nn.LSTM``'s results, with them it does not.
from lstm_demo.scratch import peephole_lstm

peephole = torch.randn(3, H)  # rows w_ci, w_cf, w_co
with torch.no_grad():
    expected, _ = lstm(sequence, (h_0, c_0))
    without, _ = peephole_lstm(lstm, sequence, None, (h_0, c_0))
    with_peepholes, _ = peephole_lstm(lstm, sequence, peephole, (h_0, c_0))
result = lstm_demo.compare(without, expected)
print("no peepholes vs nn.LSTM:", result.verdict)
assert result.close, result
result = lstm_demo.compare(with_peepholes, expected)
print("peepholes vs nn.LSTM:", result.verdict)
assert not result.close

# %%
# On every device:
prove("no-peepholes", devices=devices)

# %%
# What produced this page
# -----------------------
print(lstm_demo.environment_report())
