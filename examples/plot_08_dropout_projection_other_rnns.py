r"""
Dropout, projections, GRU and RNN, and ``flatten_parameters``
=============================================================

The rest of ``nn.LSTM``'s options, and its siblings. What does ``dropout``
do between layers, and can it be rebuilt by hand? What does ``proj_size``
change in the shapes and the equations? Do the post's two answers hold for
``nn.GRU`` and ``nn.RNN``, and can GRU's biases be merged as LSTM's can? And what is the warning about weights "not part
of single contiguous chunk of memory"? Each answer is shown with the code a
reader would write, then run as a claim on every device.
"""

# %%
# Dropout between layers
# ----------------------
# ``nn.LSTM(num_layers=2, dropout=p)`` applies dropout to layer 0's output
# before layer 1 reads it (never after the last layer). In ``eval()`` mode
# that does nothing, so the module equals its two layers stacked. In
# ``train()`` mode it draws a random mask; on the CPU it draws it from the
# CPU generator exactly as ``nn.Dropout`` does, so under the same seed the
# two layers with an ``nn.Dropout(p)`` between them give the same numbers.
import copy
import warnings

import matplotlib.pyplot as plt
import torch
from torch import nn

import lstm_demo
from lstm_demo.claims import Proofs, prove
from lstm_demo.devices import each_device

torch.manual_seed(0)
lstm = nn.LSTM(3, 4, num_layers=2, dropout=0.5)
layer_0, layer_1 = lstm_demo.split_layers(lstm)
drop = nn.Dropout(0.5)
x = torch.randn(6, 3, 3)

torch.manual_seed(7)
with torch.no_grad():
    out_module, _ = lstm(x)
torch.manual_seed(7)
with torch.no_grad():
    y, _ = layer_0(x)
    out_stacked, _ = layer_1(drop(y))
result = lstm_demo.compare(out_stacked, out_module)
print("train(), same seed, CPU:", result.verdict)
assert result.close, result

torch.manual_seed(8)
with torch.no_grad():
    other_mask, _ = lstm(x)
other = lstm_demo.compare(other_mask, out_module)
print("train(), another seed:", other.verdict)
assert not other.close

# %%
# Every output of the module in ``train()`` mode against the hand-stacked
# layers: under the same seed on the diagonal, under another seed off it.
fig, ax = plt.subplots(figsize=(4.6, 4.2), layout="constrained")
ax.plot(out_module.flatten(), other_mask.flatten(), ".", alpha=0.6, label="nn.LSTM, another seed")
ax.plot(out_module.flatten(), out_stacked.flatten(), "o", mfc="none", label="layers + nn.Dropout, same seed")
ax.axline((0, 0), slope=1, color="gray", lw=0.8)
ax.set(xlabel="nn.LSTM(dropout=0.5), train(), seed 7", ylabel="the other run")
ax.set_title("Dropout between layers, CPU")
ax.legend(fontsize="small")
plt.show()

# %%
# On a GPU, cuDNN can draw the dropout mask from its own random state, so
# the masks of ``nn.LSTM`` and of ``nn.Dropout`` can differ even under one
# seed; the claim below compares ``train()`` mode on the CPU only, and its
# note says so on other devices.
# ``eval()`` mode is compared on every device.
devices = each_device()
print()
prove("dropout", devices=devices)

# %%
# ``dropout`` with one layer
# --------------------------
# With ``num_layers=1`` there is no "between layers", so ``dropout`` has
# nothing to act on. PyTorch says so when the module is built; the warning,
# caught from a live call:
with warnings.catch_warnings(record=True) as caught:
    warnings.simplefilter("always")
    single = nn.LSTM(3, 4, dropout=0.5)
for warning in caught:
    print(f"{warning.category.__name__}: {warning.message}")
assert [w.category for w in caught] == [UserWarning]

# %%
# And it does nothing: ``train()`` and ``eval()`` give the same output
# (asserted bitwise).
with torch.no_grad():
    out_train, _ = single.train()(x)
    out_eval, _ = single.eval()(x)
print("one layer, dropout=0.5, train() vs eval():", lstm_demo.compare(out_train, out_eval).verdict)
assert torch.equal(out_train, out_eval)

# %%
# ``proj_size``: a smaller ``h``
# ------------------------------
# With ``proj_size=P``, each step's hidden state is projected down:
# :math:`h_t = W_{hr}(o_t \odot \tanh(c_t))` with ``weight_hr_l{k}`` of shape
# ``(P, hidden_size)``. So ``output`` and ``h_n`` have ``P`` features, ``c_n``
# keeps ``hidden_size``, and ``weight_hh`` reads the ``P``-feature ``h``.
proj = nn.LSTM(3, 4, num_layers=2, proj_size=2)
for name, param in proj.named_parameters():
    print(f"{name:<14} {tuple(param.shape)}")
with torch.no_grad(), warnings.catch_warnings():
    warnings.filterwarnings("ignore", message="LSTM with projections")  # oneDNN falls back, said once
    output, (h_n, c_n) = proj(x)
print("output", tuple(output.shape), " h_n", tuple(h_n.shape), " c_n", tuple(c_n.shape))
assert output.shape == (6, 3, 2)
assert h_n.shape == (2, 3, 2)
assert c_n.shape == (2, 3, 4)

# %%
# The equations with :math:`W_{hr}`, written out in
# :func:`lstm_demo.scratch.scratch_lstm`, give the same numbers:
print()
prove("projection", devices=devices)

# %%
# ``proj_size`` must be smaller than ``hidden_size``: a projection to as many
# features or more would not make ``h`` smaller. The error from a live call:
refused = None
try:
    nn.LSTM(3, 4, proj_size=4)
except ValueError as error:
    refused = error
    print(f"ValueError: {error}")
assert refused is not None

# %%
# ``nn.GRU`` and ``nn.RNN``
# -------------------------
# The post's two questions have the same answers for the other recurrent
# modules. ``nn.GRU`` stacks its gates in the order r, z, n (reset, update,
# new) in ``weight_ih``/``weight_hh``; ``nn.RNN`` has a single block and a
# ``tanh`` or ``relu`` nonlinearity. Their state is ``h`` alone, no ``c``.
gru = nn.GRU(3, 4, num_layers=2)
for name, p in gru.named_parameters():
    if name.endswith("l0"):
        print(name, tuple(p.shape))

# %%
# The gate order, shown by a run: one GRU step by hand, slicing the rows in
# the order r, z, n, equals ``nn.GRUCell`` holding layer 0's weights. (The
# reset gate ``r`` multiplies the *recurrent* part of ``n``, bias included.)
cell = nn.GRUCell(3, 4)
cell.load_state_dict({k.removesuffix("_l0"): v for k, v in gru.state_dict().items() if k.endswith("_l0")})
x_t, h = torch.randn(2, 3), torch.randn(2, 4)
gi = x_t @ cell.weight_ih.T + cell.bias_ih
gh = h @ cell.weight_hh.T + cell.bias_hh
(i_r, i_z, i_n), (h_r, h_z, h_n_) = gi.chunk(3, dim=-1), gh.chunk(3, dim=-1)
r, z = torch.sigmoid(i_r + h_r), torch.sigmoid(i_z + h_z)
n = torch.tanh(i_n + r * h_n_)
by_hand = (1 - z) * n + z * h
result = lstm_demo.compare(by_hand, cell(x_t, h))
print("GRU step by hand (r, z, n) vs nn.GRUCell:", result.verdict)
assert result.close, result
with torch.no_grad():
    stepwise, h_step = lstm_demo.run_stepwise(gru, x)
    stacked, h_stacked = lstm_demo.run_stacked(lstm_demo.split_layers(gru), x)
    expected, h_n = gru(x)
for name, mine, theirs in [
    ("one step at a time", stepwise, expected),
    ("two stacked GRUs", stacked, expected),
]:
    result = lstm_demo.compare(mine, theirs)
    print(f"nn.GRU, {name}: {result.verdict}")
    assert result.close, result

# %%
# On every device, ``nn.GRU``, then ``nn.RNN`` with both nonlinearities:
Proofs([prove("gru", devices=devices), prove("rnn", devices=devices)])

# %%
# GRU's ``b_hn`` is not redundant
# -------------------------------
# For ``nn.LSTM`` only ``bias_ih + bias_hh`` matters (page
# :ref:`sphx_glr_auto_examples_plot_05_equations_by_hand.py`). For
# ``nn.GRU`` that holds for the r and z blocks, but not for n: ``b_hn`` sits
# inside :math:`r_t \odot (W_{hn} h_{t-1} + b_{hn})`, so it is scaled by the
# reset gate while ``b_in`` is not. Move the r and z blocks (rows ``0:2H``)
# of ``bias_hh`` into ``bias_ih`` and nothing changes; move the n block
# (rows ``2H:3H``) and the output changes:
Hg = gru.hidden_size


def moved(rows):
    """A copy of ``gru`` with ``bias_hh[rows]`` added to ``bias_ih`` and zeroed, in every layer."""
    copy_ = copy.deepcopy(gru)
    with torch.no_grad():
        for name, bias_hh in copy_.named_parameters():
            if name.startswith("bias_hh"):
                getattr(copy_, name.replace("hh", "ih"))[rows] += bias_hh[rows]
                bias_hh[rows] = 0
    return copy_


with torch.no_grad():
    expected, _ = gru(x)
    rz_moved, _ = moved(slice(0, 2 * Hg))(x)
    n_moved, _ = moved(slice(2 * Hg, 3 * Hg))(x)
result = lstm_demo.compare(rz_moved, expected)
print("b_hr, b_hz moved into b_ir, b_iz:", result.verdict)
assert result.close, result
result = lstm_demo.compare(n_moved, expected)
print("b_hn moved into b_in:           ", result.verdict)
assert not result.close

# %%
# The claim also toggles the cause: with the reset gate held at exactly 1
# (its ``bias_ih`` rows set to 50, where the sigmoid rounds to 1), moving
# ``b_hn`` changes nothing; and the moved model equals the GRU equations
# written out with ``b_hn`` outside :math:`r_t`. Its note gives how far
# moving ``b_hn`` is from ``nn.GRU``, on every device.
print()
prove("gru-bias", devices=devices)

# %%
# ``flatten_parameters`` and the contiguous-weights warning
# ---------------------------------------------------------
# On a GPU, ``nn.LSTM`` allocates all of a module's weights in one
# contiguous buffer for cuDNN. Replacing a parameter's tensor by hand
# (``lstm.weight_hh_l0.data = new_tensor``, a common way to load weights)
# moves it out of that buffer. The next forward on a GPU can then warn "RNN
# module weights are not part of single contiguous chunk of memory"; in
# PyTorch's words the weights "need to be compacted at every call, possibly
# greatly increasing memory usage", and ``lstm.flatten_parameters()``
# compacts them again. The claim asserts that the numbers do not change. Its
# note says which warnings this run saw on each device (the claim records
# every warning, with ``warnings.simplefilter("always")``).
# On the CPU ``flatten_parameters()`` does nothing (its docstring: "this
# works only if the module is on the GPU and cuDNN is enabled. Otherwise,
# it's a no-op"), so the CPU row is a control, not evidence.
if not any(d.type == "cuda" for d in devices):
    print("This build had no CUDA GPU, so the warning itself could not be shown here.")
print()
prove("flatten", devices=devices)

# %%
# What produced this page
# -----------------------
print(lstm_demo.environment_report())
