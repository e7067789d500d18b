"""
What only a GPU shows: eval() backward, repeatable runs, dropout masks
======================================================================

Three questions come up once an LSTM moves to a GPU:

* "cudnn RNN backward can only be called in training mode": why does
  backward fail after ``model.eval()``, and what are the ways out?
* Do two runs from the same seed give the same numbers, and what do
  ``torch.use_deterministic_algorithms`` and ``CUBLAS_WORKSPACE_CONFIG`` do
  for an LSTM?
* Does dropout between layers draw the same masks on the CPU and on a GPU?

Every section runs on each device this build has. A build without a GPU
shows what the CPU does and says that no GPU ran; the site published from a
GPU machine shows both.
"""

import matplotlib.pyplot as plt
import torch
from torch import nn

import lstm_demo
from lstm_demo import claims
from lstm_demo.claims import prove

devices = lstm_demo.available_devices()
gpus = [d for d in devices if d.type == "cuda"]
print("devices this build ran on:", ", ".join(str(d) for d in devices))
if not gpus:
    print("No GPU ran this build: each section below shows the CPU only.")

# %%
# The same seed, twice
# --------------------
# In ``train()`` mode with ``dropout`` between layers, every call draws new
# dropout masks: from the CPU's random generator on the CPU; on a GPU, cuDNN
# keeps a dropout state of its own, seeded from the GPU's generator, which
# ``torch.manual_seed`` seeds too (the claim below checks that it repeats).
# Seeded the same way, two
# runs draw the same masks and repeat each other; seeded differently, they
# differ. The figure shows the top layer's outputs of two runs, and how far
# apart they are, for the same seed and for another one (CPU).
lstm = nn.LSTM(3, 4, num_layers=3, dropout=0.5).train()
x = torch.randn(6, 3, 3)


def top_output(seed):
    torch.manual_seed(seed)
    with torch.no_grad():
        return lstm(x)[0][:, 0]  # (time, hidden) of the first sequence


first, same, other = top_output(1234), top_output(1234), top_output(99)
print("same seed: bitwise equal =", torch.equal(first, same))
print(f"another seed: max abs diff {(first - other).abs().max():.3g}")
assert torch.equal(first, same)
assert not torch.allclose(first, other)

fig, axes = plt.subplots(1, 3, figsize=(10, 3.4), constrained_layout=True)
largest = float((other - first).abs().max())
panels = [
    (first, "run 1, seed 1234", {}),
    ((same - first).abs(), "|run 2 - run 1|, seed 1234", {"vmin": 0, "vmax": largest}),
    ((other - first).abs(), "|run 2 - run 1|, seed 99", {"vmin": 0, "vmax": largest}),
]
for ax, (values, title, scale) in zip(axes, panels, strict=True):
    image = ax.imshow(values.T, cmap="viridis", **scale)
    ax.set_title(title, fontsize=11)
    ax.set_xlabel("time step", fontsize=10)
    ax.set_ylabel("hidden unit", fontsize=10)
    fig.colorbar(image, ax=ax, shrink=0.8)
plt.show()

# %%
# The claim runs this on every device, forward and backward, with the random
# state forked so the caller's stays as it was; each result says whether the
# two runs were bitwise equal:
prove(claims.repeatable)

# %%
# Run to run, and the determinism switches
# ----------------------------------------
# PyTorch's documentation of ``nn.LSTM`` warns that some versions of cuDNN
# and CUDA have non-deterministic RNN functions, and names
# ``CUBLAS_WORKSPACE_CONFIG=:16:8`` or ``:4096:2`` (set before CUDA starts) as
# the way to enforce determinism; ``torch.use_deterministic_algorithms(True)``
# makes operations use deterministic algorithms where PyTorch has them and
# raise where it has none (here with ``warn_only=True``, so it warns instead
# and the run goes on); ``torch.backends.cudnn.deterministic`` is documented
# for cuDNN's convolution algorithms, and the rows below measure whether it
# changes anything for an LSTM. This run measures, on each device, how far 5 repeated
# forward-and-backward runs of one model land from the first, with each
# setting. On a GPU a larger LSTM than the claims' (64 inputs, 128 hidden,
# 2 layers, 50 steps, batch 32), where cuDNN has more ways to split the work;
# on the CPU a smaller one (16 hidden, 20 steps, batch 8), to keep the page
# quick. No dropout:
import os

print("CUBLAS_WORKSPACE_CONFIG =", os.environ.get("CUBLAS_WORKSPACE_CONFIG"))


REPEATS = 5


def spread(device, repeats=REPEATS):
    """Largest |run - first run| over outputs and gradients, and how many runs were not bitwise equal."""
    torch.manual_seed(0)
    hidden, steps, batch = (128, 50, 32) if device.type == "cuda" else (16, 20, 8)
    model = nn.LSTM(64, hidden, num_layers=2).to(device)
    inputs = torch.randn(steps, batch, 64, device=device)
    runs = []
    for _ in range(repeats):
        model.zero_grad()
        output, _ = model(inputs)
        output.square().mean().backward()
        runs.append([output.detach(), *(p.grad.clone() for p in model.parameters())])
    worst = max(float((a - b).abs().max()) for run in runs[1:] for a, b in zip(run, runs[0], strict=True))
    unequal = sum(not all(torch.equal(a, b) for a, b in zip(run, runs[0], strict=True)) for run in runs[1:])
    return worst, unequal


for device in devices:
    worst, unequal = spread(device)
    print(
        f"{device!s:<8} {'defaults':<36} max |run - run 1| = {worst:.3g}, {unequal} of {REPEATS - 1} runs not bitwise equal"
    )
    before = torch.backends.cudnn.deterministic
    torch.backends.cudnn.deterministic = True
    try:
        worst, unequal = spread(device)
    finally:
        torch.backends.cudnn.deterministic = before
    label = "cudnn.deterministic=True"
    print(
        f"{device!s:<8} {label:<36} max |run - run 1| = {worst:.3g}, {unequal} of {REPEATS - 1} runs not bitwise equal"
    )
    torch.use_deterministic_algorithms(True, warn_only=True)
    try:
        worst, unequal = spread(device)
    finally:
        torch.use_deterministic_algorithms(False)
    label = "deterministic algorithms (warn_only)"
    print(
        f"{device!s:<8} {label:<36} max |run - run 1| = {worst:.3g}, {unequal} of {REPEATS - 1} runs not bitwise equal"
    )

# %%
# What these lines show is a measurement of this build's machine, not a
# promise for another: a different GPU, CUDA or cuDNN version can choose
# other algorithms. ``python examples/plot_12_gpu_only.py`` measures yours.
#
# Dropout masks on the CPU and on a GPU
# -------------------------------------
# The same weights and input, the same seed, in ``train()`` mode with
# dropout 0.5 between layers. The CPU draws its masks from the CPU's random
# generator; a GPU draws them on the device (through cuDNN's own dropout
# state where cuDNN runs), from a different stream, so the two devices can
# drop different units: the run below says whether their outputs differ by
# far more than rounding. In ``eval()`` mode dropout is off, and the two
# agree within the GPU's float32 tolerance (TF32 off).
from lstm_demo.precision import full_precision
from lstm_demo.tolerances import tolerance_for

torch.manual_seed(0)
cpu_model = nn.LSTM(3, 4, num_layers=3, dropout=0.5)
x = torch.randn(6, 3, 3)
for device in gpus:
    gpu_model = nn.LSTM(3, 4, num_layers=3, dropout=0.5).to(device)
    gpu_model.load_state_dict(cpu_model.state_dict())
    with torch.no_grad(), full_precision():
        outputs = {}
        for mode in ("train", "eval"):
            cpu_model.train(mode == "train")
            gpu_model.train(mode == "train")
            torch.manual_seed(1234)
            on_cpu = cpu_model(x)[0]
            torch.manual_seed(1234)
            tol = tolerance_for(device, torch.float32)  # the site's GPU float32 tolerance, TF32 off
            on_gpu = gpu_model(x.to(device))[0].cpu()
            outputs[mode] = lstm_demo.compare(on_gpu, on_cpu, rtol=tol.rtol, atol=tol.atol)
    print(f"{device}, train(): {outputs['train']}")
    print(f"{device}, eval():  {outputs['eval']}")
    assert not outputs["train"].close
    assert outputs["eval"].close, outputs["eval"]
if not gpus:
    print("No GPU ran this build: there is no second device to compare the CPU's masks with.")

# %%
# ``eval()`` and backward
# -----------------------
# Backward after an ``eval()``-mode forward is common: saliency maps,
# adversarial inputs, gradients with respect to the input of a frozen model.
# On each device, the same model and input, backward after a forward in each
# mode, and again with cuDNN switched off (:func:`lstm_demo.precision.cudnn`,
# which sets ``torch.backends.cudnn.enabled`` for a block):
from lstm_demo.precision import cudnn

for device in devices:
    model = nn.LSTM(3, 4, num_layers=2).to(device)
    inputs = torch.randn(6, 3, 3, device=device, requires_grad=True)
    for mode, use_cudnn in (("train", True), ("eval", True), ("eval", False)):
        model.train(mode == "train")
        with cudnn(use_cudnn):
            try:
                model(inputs)[0].sum().backward()
                outcome = "backward ran"
            except RuntimeError as error:
                outcome = f"RuntimeError: {error}"
        switch = f"cudnn.enabled={use_cudnn}" + (" (unused on the CPU)" if device.type == "cpu" else "")
        print(f"{device!s:<8} {mode + '(),':<9} {switch}: {outcome}")

# %%
# On a GPU the error comes from the pair, cuDNN and ``eval()`` mode: either
# alone runs. cuDNN's RNN API has separate inference and training forward
# modes, and its backward can need values only the training forward keeps;
# PyTorch raises rather than compute a backward from an inference forward.
# The CPU never uses cuDNN. The ways out: switch cuDNN off around the
# forward and backward (PyTorch's own CUDA kernels run, which can be slower:
# page 10 times cuDNN against loops), or run the LSTM in ``train()`` mode,
# which changes nothing for a model without dropout. The claim checks that
# last point: without dropout, backward in ``eval()`` mode gives the
# gradients of ``train()`` mode computed the same way (on a GPU, with cuDNN
# off on both sides, since cuDNN refuses the ``eval()`` one):
prove(claims.eval_backward)

# %%
# What produced this page
# -----------------------
print(lstm_demo.environment_report())
