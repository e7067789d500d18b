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

* what ``nn.LSTM``'s parameters look like and which rows belong to which gate;
* that ``output[:, t]`` of one call equals the output of the ``t``-th
  single-step call, and that the final ``(h, c)`` agree too;
* what kind of "equal" that is on this machine: bitwise, or within a
  tolerance.
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
from lstm_demo.claims import on_each_device, whole_vs_stepwise


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
# Its four parameters. ``weight_ih_l0`` stacks the input weights of the four
# gates, in PyTorch's order input, forget, cell (g) and output: rows 0-4 are
# the input gate, 5-9 the forget gate, 10-14 the cell candidate, 15-19 the
# output gate. ``weight_hh_l0`` does the same for the previous hidden state,
# and the two bias vectors are simply added.
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
# One time step at a time
# -----------------------
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
# the final states. :func:`lstm_demo.compare` reports whether the values are
# bitwise equal, and otherwise how far apart they are; the page asserts
# closeness within :func:`torch.testing.assert_close`'s float32 tolerance
# (``rtol=1.3e-6, atol=1e-5``). Bitwise equality is not asserted: a fused
# implementation may compute the input projections of all time steps in one
# matrix product, whose summation order can differ from one step's product in
# the last bits. The lines below say what this machine did.
for t, r_out in enumerate(r_outs):
    result = lstm_demo.compare(r_out, out[:, t : t + 1])
    print(f"t={t}: {result}")
    assert result.close, result

h_last, c_last = state
for name, mine, theirs in [("h_n", h_last, h_n), ("c_n", c_last, c_n)]:
    result = lstm_demo.compare(mine, theirs)
    print(f"{name}: {result}")
    assert result.close, result

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
# :func:`lstm_demo.run_stepwise` is that loop for any ``nn.LSTM``, ``nn.GRU``
# or ``nn.RNN`` (any ``num_layers``, ``batch_first`` either way, batched or
# not) and returns exactly what the module's forward returns. It performs the
# same calls as the loop above, so here the results must be bitwise equal.
output, (h_step, c_step) = lstm_demo.run_stepwise(model.rnn, x)
print("bitwise equal to the hand loop:", torch.equal(output, stepwise))
assert torch.equal(output, stepwise)
assert torch.equal(h_step, h_last)
assert torch.equal(c_step, c_last)

# %%
# On every device
# ---------------
# The same claim, run on a copy of the model on every device this machine
# has. On a GPU the result is also compared with the CPU's, within a
# tolerance that says why it is what it is.
results = on_each_device(whole_vs_stepwise, model.rnn, x)
print(results[0].claim)
for result in results:
    print(result)
    result.assert_holds()

# %%
# What produced this page
# -----------------------
print(lstm_demo.environment_report())
