r"""
Which output is the last one? Directions and layout
===================================================

Four questions readers ask once their LSTM runs: is ``output[:, -1]`` the
same as ``h_n``? What does ``bidirectional=True`` really compute, and where
in ``h_n`` is each direction? What does ``batch_first`` change? And what
shape do ``h_0`` and ``c_0`` take with ``batch_first=True``? Each answer is
shown with the code a reader would write, then run as a claim on every
device of the machine that built this page.
"""

# %%
# ``output[-1]`` and ``h_n``
# --------------------------
# :doc:`/shapes` draws which hidden states ``output`` and ``h_n`` hold, as
# one grid of layers, directions and time steps. Here is the code a reader
# writes against it. For one direction the two meet at the last step of the
# top layer: ``output[-1]`` is ``h_n[-1]`` (with ``batch_first=True``,
# ``output[:, -1]``).
import matplotlib.pyplot as plt
import torch
from torch import nn

import lstm_demo
from lstm_demo.claims import prove
from lstm_demo.devices import each_device

torch.manual_seed(0)
x = torch.randn(6, 3, 3)  # (seq_len, batch, input_size)
lstm = nn.LSTM(3, 4, num_layers=2)
output, (h_n, c_n) = lstm(x)
print("output", tuple(output.shape), " h_n", tuple(h_n.shape))
result = lstm_demo.compare(output[-1], h_n[-1])
print("output[-1] vs h_n[-1]:", result.verdict)
assert result.close, result

# %%
# With two directions, ``output`` has ``2 * H`` features: the forward
# direction's hidden states, then the backward direction's. The backward
# direction reads the sequence from its end, so its *final* state is the one
# at time step 0. ``output[-1, :, H:]`` is the backward direction after
# reading only the last step: taking ``output[-1]`` as "the summary of the
# sequence" from a bidirectional LSTM is a classic bug.
bi = nn.LSTM(3, 4, bidirectional=True)
output, (h_n, c_n) = bi(x)
H = bi.hidden_size
print("output", tuple(output.shape), " h_n", tuple(h_n.shape), " (num_layers * 2, batch, H)")
for name, mine, theirs, holds in [
    ("forward: output[-1, :, :H] vs h_n[0]", output[-1, :, :H], h_n[0], True),
    ("backward: output[0, :, H:] vs h_n[1]", output[0, :, H:], h_n[1], True),
    ("backward: output[-1, :, H:] vs h_n[1]", output[-1, :, H:], h_n[1], False),
]:
    result = lstm_demo.compare(mine, theirs)
    print(f"{name}: {result.verdict}")
    assert result.close == holds, result

# %%
# Where each direction's final state sits, for the first sequence of the
# batch and its first hidden unit: the forward half of ``output`` ends at
# ``h_n[0]`` on the last step, the backward half at ``h_n[1]`` on the first.
steps = range(x.shape[0])
fig, ax = plt.subplots(figsize=(7, 3.2), layout="constrained")
ax.plot(steps, output[:, 0, 0].detach(), "o-", label="forward half: output[t, 0, 0]")
ax.plot(steps, output[:, 0, H].detach(), "s-", label="backward half: output[t, 0, H]")
ax.plot([steps[-1]], [h_n[0, 0, 0].item()], "*", ms=18, color="tab:blue", label="h_n[0] (forward final)")
ax.plot([0], [h_n[1, 0, 0].item()], "*", ms=18, color="tab:orange", label="h_n[1] (backward final)")
ax.set(xlabel="time step t", ylabel="hidden unit 0", xticks=list(steps))
ax.set_title("Bidirectional: the backward direction ends at t = 0")
ax.legend(fontsize="small", loc="best")
plt.show()

# %%
# For several layers, ``h_n`` has ``num_layers * 2`` rows, layer by layer,
# forward then backward, so ``h_n.view(num_layers, 2, batch, H)[layer,
# direction]`` names them. A view cannot show that the rows mean that; runs
# of the parts can. :func:`lstm_demo.split_layers` splits a three-layer
# bidirectional LSTM into its layers, :func:`lstm_demo.split_directions`
# each layer into two one-direction LSTMs:
deep = nn.LSTM(3, 4, num_layers=3, bidirectional=True)
with torch.no_grad():
    output, (h_n, c_n) = deep(x)
parts = [lstm_demo.split_directions(layer) for layer in lstm_demo.split_layers(deep)]
by_layer = h_n.view(3, 2, 3, H)  # (num_layers, directions, batch, H)
c_by_layer = c_n.view(3, 2, 3, H)
print("h_n", tuple(h_n.shape), "-> view", tuple(by_layer.shape))

# %%
# Layer 0 reads ``x``; layer ``l + 1`` reads layer ``l``'s two directions,
# concatenated, as computed by the split modules themselves (not by
# ``deep``). Each direction's final ``(h, c)`` is compared with entry
# ``[layer, direction]`` of the views of ``h_n`` and ``c_n``, which is row
# ``2 * layer + direction``. Asserted close within float32's default
# tolerance; each line says whether it was also bitwise equal:
layer_input = x
with torch.no_grad():
    for layer, (fwd, bwd) in enumerate(parts):
        out_f, (h_f, c_f) = fwd(layer_input)
        out_b, (h_b, c_b) = bwd(layer_input.flip(0))
        for direction, h, c in [(0, h_f, c_f), (1, h_b, c_b)]:
            expected = torch.stack([by_layer[layer, direction], c_by_layer[layer, direction]])
            result = lstm_demo.compare(torch.cat([h, c]), expected)
            name = ("forward", "backward")[direction]
            print(
                f"layer {layer}, {name:8}: [{layer}, {direction}], row {2 * layer + direction}: {result.verdict}"
            )
            assert result.close, result
        layer_input = torch.cat([out_f, out_b.flip(0)], dim=-1)

# %%
# The last layer's split outputs, concatenated, are ``output`` itself:
result = lstm_demo.compare(layer_input, output)
print("split runs vs output:", result.verdict)
assert result.close, result

# %%
# On every device:
devices = each_device()
print()
prove("last-output", devices=devices)

# %%
# Bidirectional = two forward LSTMs
# ---------------------------------
# A bidirectional layer is two independent LSTMs: one with the ``*_l0``
# weights reading the sequence forward, one with the ``*_l0_reverse``
# weights reading it reversed, whose outputs are reversed back into the
# original time order before the two are concatenated.
# :func:`lstm_demo.split_directions` gives the two as ordinary ``nn.LSTM``.
forward, backward = lstm_demo.split_directions(bi)
print(forward, backward)
with torch.no_grad():
    out_f, (h_f, _) = forward(x)
    out_b, (h_b, _) = backward(x.flip(0))
    output, (h_n, _) = bi(x)
rebuilt = torch.cat([out_f, out_b.flip(0)], dim=-1)
for name, mine, theirs in [("output", rebuilt, output), ("h_n", torch.cat([h_f, h_b]), h_n)]:
    result = lstm_demo.compare(mine, theirs)
    print(f"{name}: {result.verdict}")
    assert result.close, result

# %%
# On every device:
print()
prove("bidirectional", devices=devices)

# %%
# What ``batch_first`` changes
# ----------------------------
# ``batch_first=True`` swaps the first two axes of ``input`` and ``output``,
# and nothing else: ``h_n`` and ``c_n`` are ``(num_layers * directions,
# batch, H)`` either way (``proj_size`` instead of ``H`` for ``h_n`` where
# it is set), so code that indexes ``h_n`` need not change. A
# ``PackedSequence`` carries its own layout, fixed when it was packed.
time_first = nn.LSTM(3, 4, num_layers=2)
batch_first = nn.LSTM(3, 4, num_layers=2, batch_first=True)
batch_first.load_state_dict(time_first.state_dict())
xb = x.transpose(0, 1)  # (batch, seq_len, input_size)
with torch.no_grad():
    out_t, (h_t, _) = time_first(x)
    out_b, (h_b, _) = batch_first(xb)
print("time first: output", tuple(out_t.shape), " h_n", tuple(h_t.shape))
print("batch first: output", tuple(out_b.shape), " h_n", tuple(h_b.shape))
assert h_t.shape == h_b.shape
result = lstm_demo.compare(out_b.transpose(0, 1), out_t)
print("output, transposed back:", result.verdict)
assert result.close, result

# %%
# On every device:
print()
prove("batch-first", devices=devices)

# %%
# ``h_0`` and ``c_0`` are never batch-first
# -----------------------------------------
# The initial state follows ``h_n``: ``(num_layers * directions, batch,
# hidden_size)``, whatever ``batch_first`` says. Laid out batch-first,
# ``(batch, num_layers, hidden_size)``, the state is refused; this is
# PyTorch's own message, caught from the call:
h_0 = torch.randn(3, 2, 4)  # (batch, num_layers, hidden_size): the wrong layout
c_0 = torch.randn(3, 2, 4)
try:
    batch_first(xb, (h_0, c_0))
    refused = False
except RuntimeError as error:
    print(f"RuntimeError: {error}")
    refused = True
assert refused

# %%
# The right layout is the one ``h_n`` has. Given the same ``(h_0, c_0)``,
# the ``batch_first=True`` module on ``xb`` equals the ``batch_first=False``
# module on ``x``, its output transposed. Asserted close within float32's
# default tolerance; each line says whether it was also bitwise equal:
# (num_layers, batch, hidden_size), made contiguous: cuDNN refuses a strided state
h_0, c_0 = h_0.transpose(0, 1).contiguous(), c_0.transpose(0, 1).contiguous()
with torch.no_grad():
    out_b, (h_b, c_b) = batch_first(xb, (h_0, c_0))
    out_t, (h_t, c_t) = time_first(x, (h_0, c_0))
print("h_0", tuple(h_0.shape), " h_n", tuple(h_b.shape))
for name, mine, theirs in [("output", out_b.transpose(0, 1), out_t), ("h_n", h_b, h_t), ("c_n", c_b, c_t)]:
    result = lstm_demo.compare(mine, theirs)
    print(f"{name}, batch_first=True vs False: {result.verdict}")
    assert result.close, result

# %%
# Unbatched input, ``(seq_len, input_size)``, has no batch axis for
# ``batch_first`` to move: both modules read it, and its state
# ``(num_layers, hidden_size)``, the same way. One sequence of the batch,
# alone, gives that sequence's row of the batched run:
single = x[:, 0]  # (seq_len, input_size)
with torch.no_grad():
    out_1b, (h_1b, _) = batch_first(single, (h_0[:, 0], c_0[:, 0]))
    out_1t, (h_1t, _) = time_first(single, (h_0[:, 0], c_0[:, 0]))
for name, mine, theirs in [
    ("unbatched, batch_first=True vs False", out_1b, out_1t),
    ("unbatched vs the batch's sequence 0", out_1b, out_t[:, 0]),
]:
    result = lstm_demo.compare(mine, theirs)
    print(f"{name}: {result.verdict}")
    assert result.close, result

# %%
# The nasty case: where ``num_layers * directions`` equals the batch size,
# a state laid out batch-first has the expected shape, and PyTorch cannot
# tell. Three layers and a batch of three: the call runs without an error,
# each layer starting from states meant for other sequences.
three = nn.LSTM(3, 4, num_layers=3, batch_first=True)
per_sequence = torch.randn(3, 3, 4), torch.randn(3, 3, 4)  # (batch, num_layers, H): one state per sequence
with torch.no_grad():
    wrong, _ = three(xb, per_sequence)  # no error
    right, _ = three(xb, tuple(s.transpose(0, 1) for s in per_sequence))
result = lstm_demo.compare(wrong, right)
print("batch-first state, num_layers == batch: no error; output vs the right layout:", result.verdict)
assert not result.close

# %%
# On every device, including that unbatched input ignores ``batch_first``;
# the note measures the silent case:
print()
prove("state-layout", devices=devices)

# %%
# What produced this page
# -----------------------
print(lstm_demo.environment_report())
