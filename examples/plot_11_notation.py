r"""
From papers and tutorials to PyTorch's notation
===============================================

Most people meet the LSTM in Christopher Olah's "Understanding LSTM
Networks", in d2l.ai's chapter, or in Keras code, and the GRU in Cho et al.
(2014). Each writes the same cell in its own notation: one matrix on
``[h_{t-1}, x_t]``, row vectors times ``(in, H)`` matrices, a fused
``(in, 4H)`` kernel, a reset gate applied before or after a product. This
page translates each into PyTorch's parameters, runs the translation against
``nn.LSTM`` or ``nn.GRU``, and measures what the usual mistranslations cost.
PyTorch's gate-row layout (i, f, g, o in ``weight_ih``) is explained on page
:ref:`sphx_glr_auto_examples_plot_05_equations_by_hand.py`.
"""

# %%
# Olah: one matrix on ``[h_{t-1}, x_t]``
# --------------------------------------
# Olah writes :math:`f_t = \sigma(W_f \cdot [h_{t-1}, x_t] + b_f)`, and the
# same for :math:`i_t`, :math:`\tilde{C}_t` and :math:`o_t`. His :math:`W_f`
# reads the concatenation, so it is PyTorch's hidden rows and input rows of
# the forget gate side by side, ``[W_hf | W_if]``; his :math:`b_f` is the sum
# of the two bias vectors; his :math:`\tilde{C}_t` is PyTorch's :math:`g_t`.
import matplotlib.pyplot as plt
import torch
from torch import nn

import lstm_demo
from lstm_demo.claims import prove
from lstm_demo.devices import each_device
from lstm_demo.scratch import scratch_gru

torch.manual_seed(0)
lstm = nn.LSTM(3, 4)
H = lstm.hidden_size
x = torch.randn(6, 2, 3)  # (seq_len, batch, input_size)
with torch.no_grad():
    expected, (h_n, c_n) = lstm(x)

W = torch.cat([lstm.weight_hh_l0, lstm.weight_ih_l0], dim=1).detach()  # (4H, H + in)
b = (lstm.bias_ih_l0 + lstm.bias_hh_l0).detach()
W_i, W_f, W_C, W_o = W.split(H)  # PyTorch's row order: i, f, g, o
b_i, b_f, b_C, b_o = b.split(H)
print("W_f", tuple(W_f.shape), "= [W_hf | W_if]")


def olah(x, concat=lambda h, x_t: torch.cat([h, x_t], dim=-1)):
    h = C = torch.zeros(x.shape[1], H)
    outputs = []
    for x_t in x:
        hx = concat(h, x_t)
        f_t = torch.sigmoid(hx @ W_f.T + b_f)
        i_t = torch.sigmoid(hx @ W_i.T + b_i)
        C_tilde = torch.tanh(hx @ W_C.T + b_C)
        C = f_t * C + i_t * C_tilde
        o_t = torch.sigmoid(hx @ W_o.T + b_o)
        h = o_t * torch.tanh(C)
        outputs.append(h)
    return torch.stack(outputs)


differences = {}  # each comparison, for the figure at the end
result = lstm_demo.compare(olah(x), expected)
differences["Olah, W [h, x] + b"] = result
print("Olah's equations vs nn.LSTM:", result.verdict)
assert result.close, result

# %%
# The order inside the brackets matters: the same ``W`` on ``[x_t, h_{t-1}]``
# always has the right shape (both are ``in + H`` long), so nothing catches
# the swap, and it gives the wrong numbers.
result = lstm_demo.compare(olah(x, concat=lambda h, x_t: torch.cat([x_t, h], dim=-1)), expected)
differences["Olah, [x, h] instead"] = result
print("Olah's W on [x_t, h_(t-1)] vs nn.LSTM:", result.verdict)
assert not result.close

# %%
# d2l.ai: row vectors
# -------------------
# d2l.ai's LSTM from scratch multiplies row vectors from the right,
# ``X @ W_xi + H @ W_hi + b_i``, with ``W_xi`` of shape ``(in, H)``: PyTorch's
# input rows of the gate, transposed. d2l.ai lists its parameters in the
# order i, f, o, c; its ``C_tilde`` must read PyTorch's *third* block, ``g``,
# not the fourth.
W_xi, W_xf, W_xc, W_xo = lstm.weight_ih_l0.detach().T.split(H, dim=1)  # each (in, H)
W_hi, W_hf, W_hc, W_ho = lstm.weight_hh_l0.detach().T.split(H, dim=1)  # each (H, H)
state = C = torch.zeros(2, H)
outputs = []
for X in x:
    I_t = torch.sigmoid(X @ W_xi + state @ W_hi + b_i)
    F_t = torch.sigmoid(X @ W_xf + state @ W_hf + b_f)
    O_t = torch.sigmoid(X @ W_xo + state @ W_ho + b_o)
    C_tilde = torch.tanh(X @ W_xc + state @ W_hc + b_C)
    C = F_t * C + I_t * C_tilde
    state = O_t * torch.tanh(C)
    outputs.append(state)
result = lstm_demo.compare(torch.stack(outputs), expected)
differences["d2l, X W_x + H W_h + b"] = result
print("d2l.ai's equations vs nn.LSTM:", result.verdict)
assert result.close, result

# %%
# Both translations, as :mod:`lstm_demo.claims` states them, on every device
# (the note: the other concatenation order, measured there):
devices = each_device()
prove("olah-notation", devices=devices)

# %%
# Keras: one fused ``(in, 4H)`` kernel
# ------------------------------------
# Keras's ``LSTM`` keeps ``kernel`` of shape ``(in, 4H)``,
# ``recurrent_kernel`` ``(H, 4H)`` and one ``bias`` of ``4H``, gates in the
# order i, f, c, o: PyTorch's ``weight_ih.T``, ``weight_hh.T`` and
# ``bias_ih + bias_hh``, in the same order. TensorFlow 1's ``LSTMCell`` split
# its fused matrix as i, j, f, o instead (``j`` the candidate), used one
# kernel on the concatenation ``[x_t, h_{t-1}]``, and added its
# ``forget_bias`` (1.0 by default) at run time rather than storing it: weights
# moved from it need their blocks reordered, the kernel split, and 1 added
# to the forget gate's bias.
kernel = lstm.weight_ih_l0.detach().T  # (in, 4H)
recurrent_kernel = lstm.weight_hh_l0.detach().T  # (H, 4H)
bias = b  # (4H,)
print("kernel", tuple(kernel.shape), " recurrent_kernel", tuple(recurrent_kernel.shape))


def row_vector(x, order="ifgo"):
    h = c = torch.zeros(x.shape[1], H)
    outputs = []
    for x_t in x:
        z = x_t @ kernel + h @ recurrent_kernel + bias  # (batch, 4H)
        gate = dict(zip(order, z.split(H, dim=-1), strict=True))
        c = torch.sigmoid(gate["f"]) * c + torch.sigmoid(gate["i"]) * torch.tanh(gate["g"])
        h = torch.sigmoid(gate["o"]) * torch.tanh(c)
        outputs.append(h)
    return torch.stack(outputs)


result = lstm_demo.compare(row_vector(x), expected)
differences["Keras, x @ kernel, i f c o"] = result
print("x @ kernel, gates i, f, g, o vs nn.LSTM:", result.verdict)
assert result.close, result
result = lstm_demo.compare(row_vector(x, order="igfo"), expected)
differences["Keras kernel read as i, j, f, o"] = result
print("the same kernel read as i, j, f, o vs nn.LSTM:", result.verdict)
assert not result.close

# %%
# On every device:
prove("row-vector", devices=devices)

# %%
# Cho et al.'s GRU and PyTorch's
# ------------------------------
# Cho et al. (2014) apply the reset gate to the state before the product,
# :math:`n_t = \tanh(W_{in} x_t + b_{in} + W_{hn}(r_t \odot h_{t-1}) + b_{hn})`.
# PyTorch's documentation writes, and ``nn.GRU`` computes, the reset gate
# after it, :math:`r_t \odot (W_{hn} h_{t-1} + b_{hn})`; Keras calls that
# choice ``reset_after``. With the same weights they are two different
# functions. :func:`lstm_demo.scratch.scratch_gru` writes out either:
gru = nn.GRU(3, 4)
with torch.no_grad():
    gru_expected, _ = gru(x)
    after, _ = scratch_gru(gru, x)  # r * (W_hn h + b_hn)
    before, _ = scratch_gru(gru, x, reset_after=False)  # W_hn (r * h) + b_hn
result = lstm_demo.compare(after, gru_expected)
differences["GRU, r after W_hn h"] = result
print("r applied after W_hn h vs nn.GRU: ", result.verdict)
assert result.close, result
result = lstm_demo.compare(before, gru_expected)
differences["Cho, r before W_hn"] = result
print("r applied before W_hn (Cho) vs nn.GRU:", result.verdict)
assert not result.close

# %%
# The claim toggles the cause: with the reset gate held at exactly 1 (its
# ``bias_ih`` rows set to 50, where the sigmoid rounds to 1), the two forms
# agree. Its note gives the difference of Cho's form on every device.
prove("cho-gru", devices=devices)

# %%
# What each translation is off by
# -------------------------------
# The greatest absolute difference from ``nn.LSTM`` or ``nn.GRU`` of every
# run above, float32, on the CPU: green where the comparison was asserted
# close, red where it was asserted not close. A bar at the left edge means
# bitwise equal (a difference of zero has no place on a log scale).
# sphinx_gallery_thumbnail_number = 1
floor = 1e-9  # where a bitwise-equal (zero) difference is drawn
diffs = [r.max_abs_diff for r in differences.values()]
fig, ax = plt.subplots(figsize=(7.5, 3.6), layout="constrained")
ax.barh(
    list(differences),
    [max(d, floor) for d in diffs],
    color=["tab:green" if r.close else "tab:red" for r in differences.values()],
)
ax.set_xscale("log")
ax.set_xlim(floor, 5)
ax.invert_yaxis()
for y, d in enumerate(diffs):
    ax.annotate(f"{d:.2g}", (max(d, floor), y), xytext=(3, 0), textcoords="offset points", va="center")
ax.set(xlabel="max |difference| from PyTorch's module (log scale)")
ax.set_title("Translated to PyTorch: right (green), wrong (red)")
plt.show()
for label, r in differences.items():
    print(f"{label:<31} {r.verdict}")

# %%
# What produced this page
# -----------------------
print(lstm_demo.environment_report())
