r"""
Padded batches, long sequences and gradients
============================================

Three questions from training loops. Does packing a padded batch give each
sequence what it would get alone, and where is its last state? Can a long
sequence be fed in chunks, carrying ``(h, c)``, and what does ``detach()``
between the chunks change? And do gradients through a step-by-step loop
equal those through the fused call? Each answer is shown with the code a
reader would write, then run as a claim on every device.
"""

# %%
# Packed sequences
# ----------------
# A batch of three sequences of lengths 6, 4 and 2, zero-padded to 6 steps.
# :func:`torch.nn.utils.rnn.pack_padded_sequence` tells the LSTM the true
# lengths; each sequence then stops at its own last step.
import matplotlib.pyplot as plt
import torch
from torch import nn
from torch.nn.utils.rnn import pack_padded_sequence, pad_packed_sequence

import lstm_demo
from lstm_demo.backends import verdict
from lstm_demo.claims import prove, run_in_chunks
from lstm_demo.devices import each_device

torch.manual_seed(0)
lstm = nn.LSTM(3, 4)
lengths = [6, 4, 2]
x = torch.randn(6, 3, 3)  # (seq_len, batch, input_size)
for b, n in enumerate(lengths):
    x[n:, b] = 0  # padding
with torch.no_grad():
    out_packed, (h_n, c_n) = lstm(pack_padded_sequence(x, lengths))
    output, out_lengths = pad_packed_sequence(out_packed)
print("padded output", tuple(output.shape), " lengths", out_lengths.tolist(), " h_n", tuple(h_n.shape))

# %%
# Each sequence alone, at its true length, gives the same outputs and the
# same final state; ``h_n[:, b]`` is the state after sequence ``b``'s last
# *real* step, ``output[lengths[b] - 1, b]``:
for b, n in enumerate(lengths):
    with torch.no_grad():
        alone, (h_alone, _) = lstm(x[:n, b])
    same_out = lstm_demo.compare(output[:n, b], alone)
    same_h = lstm_demo.compare(h_n[0, b], h_alone[0])
    last = lstm_demo.compare(output[n - 1, b], h_n[0, b])
    print(f"sequence {b} (length {n}): output {verdict(same_out)}")
    print(f"    h_n {verdict(same_h)}; output[{n - 1}] vs h_n: {verdict(last)}")
    assert same_out.close, same_out
    assert same_h.close, same_h
    assert last.close, last

# %%
# The classic bug: ``output[-1]`` of the padded output. After
# ``pad_packed_sequence`` the padded steps are zeros, so for every sequence
# shorter than the longest sequence, ``output[-1]`` is zeros, not its last
# state.
print("output[-1]:", output[-1])
print("h_n[0]:   ", h_n[0])
bug = lstm_demo.compare(output[-1], h_n[0])
print("output[-1] vs h_n[0]:", verdict(bug))
assert not bug.close
assert torch.equal(output[-1, 1:], torch.zeros(2, 4))

# %%
# ``enforce_sorted=False`` accepts the lengths in any order: the packed
# sequence records the permutation that sorts them (``sorted_indices``), and
# the results come back in the batch's order.
order = [1, 2, 0]  # lengths 4, 2, 6
unsorted = pack_padded_sequence(x[:, order], [lengths[i] for i in order], enforce_sorted=False)
print("sorted_indices:", unsorted.sorted_indices.tolist())
with torch.no_grad():
    out_u, (h_u, _) = lstm(unsorted)
result = lstm_demo.compare(h_u, h_n[:, order])
print("h_n, unsorted vs sorted (reordered):", verdict(result))
assert result.close, result

# %%
# On every device, sorted and unsorted:
devices = each_device()
print()
prove("packed", devices=devices)

# %%
# Carrying state across chunks
# ----------------------------
# A stateful model reads a long sequence in chunks, passing ``(h, c)`` from
# one call to the next: the outputs equal one call on the whole sequence.
# For truncated backpropagation through time, the state is ``detach()``-ed
# between chunks: the values stay the same, but gradients no longer flow
# into earlier chunks. :func:`lstm_demo.claims.run_in_chunks` does the
# chunked call and backpropagates the last output:
#
# .. literalinclude:: ../../lstm_demo/claims.py
#    :pyobject: run_in_chunks
#
# Here, the gradient of the last output with respect to every input step,
# with and without ``detach()``:
long = torch.randn(12, 2, 3)
whole, _, grad_whole = run_in_chunks(lstm, long)
carried, _, grad_carried = run_in_chunks(lstm, long, 4)
detached, _, grad_detached = run_in_chunks(lstm, long, 4, detach=True)
for name, out in [("chunks, state carried", carried), ("chunks, state detached", detached)]:
    result = lstm_demo.compare(out, whole)
    print(f"output, {name} vs one call: {verdict(result)}")
    assert result.close, result

# %%
# The gradient per input step, summed over batch and features:
grad_whole, grad_carried, grad_detached = (
    g.abs().sum(dim=(1, 2)) for g in (grad_whole, grad_carried, grad_detached)
)
same_grad = lstm_demo.compare(grad_carried, grad_whole)
print("gradient, chunks carrying the state vs one call:", verdict(same_grad))
assert same_grad.close, same_grad
assert torch.equal(grad_detached[:8], torch.zeros(8))

fig, ax = plt.subplots(figsize=(7, 3.2), layout="constrained")
ax.semilogy(range(12), grad_whole, "o-", label="one call (or chunks, state carried)")
ax.semilogy(range(12), grad_detached.clamp_min(1e-12), "s--", label="chunks of 4, detach() between")
ax.axvspan(7.5, 11.5, color="tab:green", alpha=0.12, label="last chunk")
ax.set(xlabel="input time step", ylabel="sum |d sum(output[-1]) / d x_t|", ylim=(1e-6, None))
ax.set_title("detach() stops the gradient at the chunk boundary")
ax.legend(fontsize="small")
plt.show()

# %%
# On every device:
print()
prove("chunked", devices=devices)

# %%
# Gradients, fused and step by step
# ---------------------------------
# Backpropagating through :func:`lstm_demo.run_stepwise` (a Python loop of
# one-step calls) gives the same input and weight gradients as
# backpropagating through one fused call; the claim below weighs every
# output and both final states, so every gradient is exercised.
print()
prove("gradients", devices=devices)

# %%
# What produced this page
# -----------------------
print(lstm_demo.environment_report())
