r"""
Whole sequence or one step at a time?
=====================================

The post's first question: when an LSTM reads a batch of sequences, does one
call on the whole sequence give the same outputs as feeding it one time step
at a time by hand, carrying the state ``(h, c)`` from each step to the next?

Yes. This page sets the experiment up as the post did, prints what the post
printed, compares the two runs time step by time step, and asserts the
comparison, so a wrong answer would have failed the build of this page.
Then it runs the same claim on every device of the machine that built it.

You will see:

* what ``nn.LSTM``'s parameters look like;
* that ``output[:, t]`` of one call equals the output of the ``t``-th
  single-step call, and that the final ``(h, c)`` agree too;
* what kind of "equal" that is on this machine: bitwise, or within a
  tolerance;
* what can change it, besides the model and the input: which library ran
  the LSTM (oneDNN or PyTorch's own kernels on a CPU, cuDNN on a GPU) and
  whether autograd was recording, each switched on and off in a table.
"""

# %%
# The model
# ---------
# As in the post, ``nn.LSTM(4, 5, batch_first=True)`` sits inside a small
# module, and every parameter is re-initialised uniformly in
# [-0.08, 0.08], the classic sequence-to-sequence recipe, instead of
# PyTorch's default U(-1/√5, 1/√5), 5 being the hidden size.
import matplotlib.pyplot as plt
import torch
from torch import nn

import lstm_demo
from lstm_demo.backends import autograd_node, whole_vs_stepwise_by_backend
from lstm_demo.claims import prove, whole_vs_stepwise
from lstm_demo.comparison import Comparisons
from lstm_demo.display import show
from lstm_demo.precision import onednn


class RNN(nn.Module):
    def __init__(self):
        super().__init__()
        self.rnn = nn.LSTM(4, 5, batch_first=True)

    def forward(self, x, state=None):
        return self.rnn(x, state)


torch.manual_seed(0)
model = RNN()
for param in model.parameters():
    nn.init.uniform_(param, -0.08, 0.08)
print(model)

# %%
# Its four parameters, printed as the post printed them. Each stacks the
# four gates' rows (20 = 4 x 5); which rows belong to which gate is on
# :ref:`sphx_glr_auto_examples_plot_05_equations_by_hand.py`.
for name, param in model.named_parameters():
    print(f"{name} {tuple(param.shape)}")
    print(param.data)

# %%
# The whole sequence at once
# --------------------------
# A batch of 2 sequences, 3 time steps each, 4 features per step. With
# ``batch_first=True`` the input is ``(batch, seq_len, features)`` and so is
# ``out``.
x = torch.randn(2, 3, 4)
out, (h_n, c_n) = model(x)
print("out:", out)

# %%
# One time step at a time: stepwise
# ---------------------------------
# Now the post's loop: feed ``x[:, t : t + 1]`` (still 3-D, a sequence of
# length 1) and pass the returned state into the next call. ``state=None``
# on the first call means zeros, as in the whole-sequence call.
state = None
r_outs = []
for t in range(x.size(1)):
    r_out, state = model(x[:, t : t + 1], state)
    print(f"r_out at t={t}:", r_out)
    r_outs.append(r_out)
print("the last r_out:", r_out)

# %%
# The comparison
# --------------
# Each single-step output against the matching time step of ``out``, then
# the final states. :func:`lstm_demo.compare` finds whether the values are
# bitwise equal, and otherwise how far apart they are;
# :class:`lstm_demo.comparison.Comparisons` lays them out, one row each. The page
# asserts closeness within :func:`torch.testing.assert_close`'s float32
# tolerance (``rtol=1.3e-6, atol=1e-5``). Bitwise equality is not asserted:
# the single-step calls and the whole-sequence call can do their arithmetic
# in another order, and float32 sums in another order can differ in the last
# bits. The table below says what this machine did; `Bitwise or not`_ below
# switches the possible causes on and off.
h_last, c_last = state
comparisons = {f"t={t}": lstm_demo.compare(r_out, out[:, t : t + 1]) for t, r_out in enumerate(r_outs)}
comparisons["h_n"] = lstm_demo.compare(h_last, h_n)
comparisons["c_n"] = lstm_demo.compare(c_last, c_n)
for result in comparisons.values():
    assert result.close, result
show(Comparisons(comparisons, caption="Each single-step call against the whole sequence"))

# %%
# The two runs, side by side: lines are the whole-sequence call, circles the
# single-step calls. Each colour is one of the 5 hidden units.
fig, axes = plt.subplots(1, 2, figsize=(8, 4), sharey=True, layout="constrained")
steps = range(1, x.size(1) + 1)
stepwise = torch.cat(r_outs, dim=1).detach()
for b, ax in enumerate(axes):
    for k in range(5):
        (line,) = ax.plot(steps, out[b, :, k].detach(), lw=1.5)
        ax.plot(steps, stepwise[b, :, k], "o", color=line.get_color(), ms=7, mfc="none")
    ax.set(title=f"sequence {b} of the batch", xlabel="time step", xticks=list(steps))
axes[0].set_ylabel("output (hidden state)")
fig.suptitle("Whole sequence (lines) vs one step at a time (circles)")
plt.show()

# %%
# The loop, done by the library
# -----------------------------
# :func:`lstm_demo.run_stepwise` is that loop for any unidirectional
# ``nn.LSTM``, ``nn.GRU`` or ``nn.RNN`` (any ``num_layers``, ``batch_first`` either way, batched or
# not) and returns exactly what the module's forward returns. It performs the
# same calls as the loop above, so here the results must be bitwise equal.
output, (h_step, c_step) = lstm_demo.run_stepwise(model.rnn, x)
print("bitwise equal to the hand loop:", torch.equal(output, stepwise))
assert torch.equal(output, stepwise)
assert torch.equal(h_step, h_last)
assert torch.equal(c_step, c_last)

# %%
# Bitwise or not
# --------------
# Which code ran the LSTM? The autograd node behind ``out`` names it:
# ``MkldnnRnnLayerBackward0`` is oneDNN (Intel's library, which CPU builds of
# PyTorch can use for ``nn.LSTM``), ``StackBackward0``
# PyTorch's own CPU loop, ``CudnnRnnBackward0`` cuDNN on an NVIDIA GPU.
print("out was computed by:", autograd_node(out))
with onednn(False):
    print("with torch.backends.mkldnn.enabled = False:", autograd_node(model(x)[0]))

# %%
# Two switches can change the bits: the library (on a CPU,
# ``torch.backends.mkldnn.enabled``; it does not apply to a GPU, hence
# ``n/a``), and whether autograd records the call (a library can compute a
# forward pass for training otherwise than one for inference). The table
# runs the whole sequence and :func:`lstm_demo.run_stepwise` under each
# setting, on every device, and compares ``output``, ``h_n`` and ``c_n``
# together. On a GPU it runs with cuDNN's TF32 off, so both ways compute in
# full float32.
runs = whole_vs_stepwise_by_backend(model.rnn, x)
for run in runs:
    assert run.comparison.close, run
show(runs)

# %%
# The comparison above ran with autograd on, as the post's code did (and as
# training does): on a CPU that is the table's first row. The claim at the
# end of this page runs under :func:`torch.no_grad` (as inference does): the
# third row. The page checks that it agrees with its own table:
by_setting = {(run.grad, run.onednn): run for run in runs if run.device.type == "cpu"}
hand_loop = [(stepwise, out), (h_last, h_n), (c_last, c_n)]
hand_loop_bitwise = all(torch.equal(a, b) for a, b in hand_loop)
print("the comparison above, bitwise:", hand_loop_bitwise)
assert hand_loop_bitwise == by_setting[True, torch.backends.mkldnn.enabled].comparison.equal

# %%
# With oneDNN on, whether autograd records a call can change its bits. Here
# is each call alone, with autograd on against under ``no_grad``: the
# whole-sequence call, and each length-1 call of the loop.
with torch.no_grad():
    out_ng, _ = model(x)
    steps_ng = lstm_demo.run_stepwise(model.rnn, x)[0]
print("whole sequence, autograd on vs no_grad:", lstm_demo.compare(out, out_ng).verdict)
print("step by step, autograd on vs no_grad:", lstm_demo.compare(stepwise, steps_ng).verdict)

# %%
# With oneDNN off, PyTorch's own CPU loop runs, and it computes the input
# projections ``W_ih x_t + b_ih`` of all time steps in one matrix product
# before it steps through time; a length-1 call makes one product per step.
# That grouping is the cause there, and switching it shows it. The hand loop
# below runs the same operations as PyTorch's, once with the products
# grouped, once step by step:
W_ih, W_hh, b_ih, b_hh = (p.detach() for p in model.rnn.parameters())


def by_hand(projections):
    h = c = torch.zeros(x.size(0), 5)
    hs = []
    for t in range(x.size(1)):
        i, f, g, o = torch.nn.functional.linear(h, W_hh, b_hh).add_(projections[:, t]).chunk(4, 1)
        c = f.sigmoid().mul(c).add_(i.sigmoid().mul(g.tanh()))
        h = o.sigmoid().mul(c.tanh())
        hs.append(h)
    return torch.stack(hs, dim=1)


# %%
# Grouped, the products are one ``(2 * 3, 4) @ (4, 20)`` product; step by
# step, three ``(2, 4) @ (4, 20)`` ones. They can differ in the last bits:
grouped = torch.nn.functional.linear(x, W_ih, b_ih)
per_step = torch.stack([torch.nn.functional.linear(x[:, t], W_ih, b_ih) for t in range(3)], 1)
print("input projections, grouped vs per step:", lstm_demo.compare(grouped, per_step).verdict)

# %%
# Each way of grouping, against ``nn.LSTM`` with oneDNN off: the grouped hand
# loop gives the whole-sequence call's bits, the per-step one the loop's.
# Asserted bitwise, on the CPU, where this is PyTorch's code path.
with onednn(False), torch.no_grad():
    aten_whole = model(x)[0]
    aten_steps = lstm_demo.run_stepwise(model.rnn, x)[0]
for name, mine, theirs in [
    ("grouped hand loop vs whole sequence", by_hand(grouped), aten_whole),
    ("per-step hand loop vs step by step", by_hand(per_step), aten_steps),
]:
    result = lstm_demo.compare(mine, theirs)
    print(f"{name}: {result.verdict}")
    assert result.equal, result

# %%
# On every device
# ---------------
# The same claim, run on a copy of the model on every device this machine
# has, by :func:`lstm_demo.claims.whole_vs_stepwise`. It runs under
# :func:`torch.no_grad`, like the table's "autograd off" rows, with the
# library this build picks by default. On a GPU the result is also compared
# with the CPU's, within a tolerance that says why it is what it is.
results = prove(whole_vs_stepwise, model.rnn, x)
results

# %%
# On the CPU this is the table's "autograd off" row with the library this
# build uses by default, and the page checks that the two agree:
print("bitwise on the CPU:", results[0].bitwise)
assert results[0].bitwise == by_setting[False, torch.backends.mkldnn.enabled].comparison.equal

# %%
# What produced this page
# -----------------------
print(lstm_demo.environment_report())
