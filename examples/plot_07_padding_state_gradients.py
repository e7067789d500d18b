r"""
Padded batches, state between calls, and gradients
===================================================

Four questions from training loops. Does packing a padded batch give each
sequence what it would get alone, and what goes wrong without packing? Does
``nn.LSTM`` remember anything from one call to the next? How is the state
carried across batches without the "backward through the graph a second
time" error, and what does ``detach()`` do to the gradients? And do
gradients through a step-by-step loop equal those through the fused call?
Each answer is shown with the code a reader would write, then run as a
claim on every device.
"""

# %%
# Packed sequences
# ----------------
# A batch of three sequences of lengths 6, 4 and 2, zero-padded to 6 steps.
# :func:`torch.nn.utils.rnn.pack_padded_sequence` tells the LSTM the true
# lengths; each sequence then stops at its own last step.
import textwrap

import matplotlib.pyplot as plt
import torch
from torch import nn
from torch.nn.utils.rnn import pack_padded_sequence, pad_packed_sequence

import lstm_demo
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
    print(f"sequence {b} (length {n}): output {same_out.verdict}")
    print(f"    h_n {same_h.verdict}; output[{n - 1}] vs h_n: {last.verdict}")
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
print("output[-1] vs h_n[0]:", bug.verdict)
assert not bug.close
assert torch.equal(output[-1, 1:], torch.zeros(2, 4))

# %%
# By default (``enforce_sorted=True``) the batch must come sorted by length,
# longest first, or ``pack_padded_sequence`` raises; PyTorch's docstring says
# that is only needed for ONNX export.
# ``enforce_sorted=False`` accepts the lengths in any order: the packed
# sequence records the permutation that sorts them (``sorted_indices``), and
# the results come back in the batch's order.
order = [1, 2, 0]  # lengths 4, 2, 6
unsorted = pack_padded_sequence(x[:, order], [lengths[i] for i in order], enforce_sorted=False)
print("sorted_indices:", unsorted.sorted_indices.tolist())
with torch.no_grad():
    out_u, (h_u, _) = lstm(unsorted)
result = lstm_demo.compare(h_u, h_n[:, order])
print("h_n, unsorted vs sorted (reordered):", result.verdict)
assert result.close, result

# %%
# ``lengths`` is read as a CPU int64 tensor. A list is turned into one, and
# an int32 tensor is converted; both pack the batch the same way:
as_list = pack_padded_sequence(x, lengths)
as_int32 = pack_padded_sequence(x, torch.tensor(lengths, dtype=torch.int32))
print("batch_sizes from a list:", as_list.batch_sizes.tolist(), " from int32:", as_int32.batch_sizes.tolist())
assert torch.equal(as_list.batch_sizes, as_int32.batch_sizes)
assert torch.equal(as_list.data, as_int32.data)

# %%
# ``lengths`` on a GPU is refused, even where the batch itself is on that
# GPU; the message below is PyTorch's, from a run on each GPU of the
# machine that built this page:
gpus = [device for device in lstm_demo.available_devices() if device.type == "cuda"]
for device in gpus:
    try:
        pack_padded_sequence(x.to(device), torch.tensor(lengths, device=device))
        refused = False
    except RuntimeError as error:
        print(f"{device}: RuntimeError: {error}")
        refused = True
    assert refused, device
if not gpus:
    print("No GPU on this machine: lengths on a GPU were not tried in this build.")

# %%
# On every device, sorted and unsorted:
devices = each_device()
print()
prove("packed", devices=devices)

# %%
# Padding without packing
# -----------------------
# Passed as a plain tensor, the padded batch is just a batch of three
# sequences of 6 steps: the LSTM runs the zeros as input. For a
# bidirectional LSTM both final states are then wrong for the shorter
# sequences: the forward direction's ``h_n`` is taken after the padding,
# and the backward direction reads the padding before the real steps.
bi = nn.LSTM(3, 4, bidirectional=True)
with torch.no_grad():
    _, (h_padded, _) = bi(x)  # not packed
    _, (h_true, _) = bi(pack_padded_sequence(x, lengths))
    with_padding = torch.stack([bi(x[:, b])[1][0] for b in range(3)], dim=1)  # each alone, padding included
for direction, name in enumerate(["forward", "backward"]):
    gap = (h_padded[direction] - h_true[direction]).abs().amax(dim=-1)
    print(f"{name} h_n, padded vs packed, lengths 6, 4, 2:", ", ".join(f"{g:.3g}" for g in gap.tolist()))
    assert gap[0] < 1e-5  # the full-length sequence has no padding
    assert (gap[1:] > 1e-3).all()
result = lstm_demo.compare(h_padded, with_padding)
print("padded h_n vs each sequence alone with its padding:", result.verdict)
assert result.close, result

# %%
# On every device; the notes measure, per direction, how far the padded
# ``h_n`` is from each sequence's true one:
print()
prove("padded-unpacked", devices=devices)

# %%
# No state between calls
# ----------------------
# Keras layers built with ``stateful=True`` keep their last state from one
# call to the next. ``nn.LSTM`` has no such switch: a call without
# ``(h_0, c_0)`` starts from zeros, whatever ran before. Two calls on the
# two halves of a sequence:
long = torch.randn(12, 2, 3)
first, second = long[:6], long[6:]
zeros = torch.zeros(1, 2, 4)
with torch.no_grad():
    whole, _ = lstm(long)
    _, state = lstm(first)
    out_second, _ = lstm(second)  # no state given
    out_zeros, _ = lstm(second, (zeros, zeros))
    out_carried, _ = lstm(second, state)
for name, mine, theirs, holds in [
    ("second call vs the same call from zeros", out_second, out_zeros, True),
    ("second call vs one call over both", out_second, whole[6:], False),
    ("second call given (h, c) vs one call over both", out_carried, whole[6:], True),
]:
    result = lstm_demo.compare(mine, theirs)
    print(f"{name}: {result.verdict}")
    assert result.close == holds, result

# %%
# On every device, with a fresh copy of the module for the call from
# zeros; the note measures how far the two calls are from one call:
print()
prove("no-hidden-memory", devices=devices)

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
# .. literalinclude:: ../../lstm_demo/claims/sequences.py
#    :pyobject: run_in_chunks
#
# Here, the gradient of the last output with respect to every input step,
# with and without ``detach()``:
whole, _, grad_whole = run_in_chunks(lstm, long)
carried, _, grad_carried = run_in_chunks(lstm, long, 4)
detached, _, grad_detached = run_in_chunks(lstm, long, 4, detach=True)
for name, out in [("chunks, state carried", carried), ("chunks, state detached", detached)]:
    result = lstm_demo.compare(out, whole)
    print(f"output, {name} vs one call: {result.verdict}")
    assert result.close, result

# %%
# The gradient per input step, summed over batch and features:
grad_whole, grad_carried, grad_detached = (
    g.abs().sum(dim=(1, 2)) for g in (grad_whole, grad_carried, grad_detached)
)
same_grad = lstm_demo.compare(grad_carried, grad_whole)
print("gradient, chunks carrying the state vs one call:", same_grad.verdict)
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
# Carrying state across batches in training
# -----------------------------------------
# A training loop that passes the state from one batch to the next, and
# calls ``backward()`` on each batch's loss, fails at the second batch: the
# state still belongs to the first batch's graph, whose saved tensors the
# first ``backward()`` freed. This is PyTorch's message, caught from the
# loop:
state = None
try:
    for chunk in long.split(6):
        output, state = lstm(chunk, state)
        output.pow(2).mean().backward()
    failed = False
except RuntimeError as error:
    print(textwrap.fill(f"RuntimeError: {error}", 79))
    failed = True
assert failed

# %%
# The fix is to ``detach()`` the state before passing it on. The same loop,
# each batch's gradients kept:
lstm.zero_grad()
state, gradients = None, []
for chunk in long.split(6):
    if state is not None:
        state = tuple(s.detach() for s in state)
    output, state = lstm(chunk, state)
    output.pow(2).mean().backward()
    gradients.append(lstm.weight_hh_l0.grad.clone())
    lstm.zero_grad()
print("batches trained:", len(gradients))

# %%
# ``detach()`` makes the carried state a constant for the next batch. Batch
# 2's gradient then equals that of batch 2 run alone from the state computed
# without gradients; with the graph kept, it is the gradient through both
# batches, which differs:
with torch.no_grad():
    _, constant = lstm(first)
lstm(second, constant)[0].pow(2).mean().backward()
alone = lstm.weight_hh_l0.grad.clone()
lstm.zero_grad()
lstm(second, lstm(first)[1])[0].pow(2).mean().backward()  # through both batches
through_both = lstm.weight_hh_l0.grad.clone()
lstm.zero_grad()
for name, theirs, holds in [
    ("batch 2 alone from a constant", alone, True),
    ("through both", through_both, False),
]:
    result = lstm_demo.compare(gradients[1], theirs)
    print(f"d loss / d weight_hh_l0, detach() vs {name}: {result.verdict}")
    assert result.close == holds, result

# %%
# On every device, for chunk 2's input and every parameter; the notes
# measure how far full backpropagation is from the detached one:
print()
prove("truncated-bptt", devices=devices)

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
