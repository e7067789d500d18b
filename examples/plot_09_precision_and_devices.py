r"""
Precision: float64, float32, TF32, cuDNN and the CPU
====================================================

The same LSTM gives slightly different numbers in float32 and float64, on
the CPU and on a GPU, with cuDNN and without, with TF32 tensor cores allowed
or not. How far apart, and which tolerance is honest for each? This page
runs the post's two models and a larger one (hidden size 256, two layers,
100 time steps) under every setting the machine that built it can run, and
measures each against a float64 run on the CPU, the closest thing to the
exact answer here.

Every switch the page turns is turned inside
:func:`lstm_demo.precision.precision_flags`, which puts all of them back
afterwards, so nothing leaks into the next page.
"""

# %%
# The settings
# ------------
# On the CPU: float64 (the reference) and float32. On each CUDA GPU: float64
# with cuDNN; float32 with cuDNN, TF32 allowed (PyTorch's default for cuDNN
# RNNs) and not; float32 with cuDNN disabled (PyTorch's own CUDA kernels);
# float32 with deterministic algorithms.
import math

import matplotlib.pyplot as plt
import torch
from torch import nn

import lstm_demo
from lstm_demo.devices import each_device
from lstm_demo.precision import agreement, save_flags, settings, table

flags_before = save_flags()
devices = each_device()
for setting in settings(devices):
    print(f"{setting.label:<40} flags: {setting.flags or 'as they are'}")

# %%
# Three models
# ------------
# The post's two models, as it set them up, and a larger one. Each is built
# on the CPU from a fixed seed, then copied to every setting's device and
# dtype.


def post_1():
    torch.manual_seed(0)
    lstm = nn.LSTM(4, 5, batch_first=True)
    for param in lstm.parameters():
        nn.init.uniform_(param, -0.08, 0.08)
    return lstm


def post_2():
    torch.manual_seed(1)
    return nn.LSTM(3, 3, num_layers=2)


def large():
    torch.manual_seed(2)
    return nn.LSTM(32, 256, num_layers=2)


generator = torch.Generator().manual_seed(3)
models = {
    "post 1: LSTM(4, 5)": (post_1, torch.randn(2, 3, 4, generator=generator)),
    "post 2: LSTM(3, 3, 2 layers)": (post_2, torch.randn(5, 1, 3, generator=generator)),
    "LSTM(32, 256, 2 layers), 100 steps": (large, torch.randn(100, 4, 32, generator=generator)),
}
rows = []
for name, (build, x) in models.items():
    rows += agreement(name, build, x, devices)
print(table(rows))

# %%
# What the differences mean
# -------------------------
# * **float32 vs float64.** float32 keeps 24 significant bits: each rounding
#   is off by at most :math:`2^{-24} \approx 6 \times 10^{-8}` relative. An
#   LSTM's values are mostly below 1 in size and its gates squash errors
#   rather than grow them, so after many sums and steps the difference stays
#   around :math:`10^{-7}` absolute. :func:`torch.testing.assert_close`'s
#   float32 default, ``rtol=1.3e-6, atol=1e-5``, leaves room for that;
#   this site uses it on the CPU.
# * **TF32.** On Ampere and newer GPUs, cuDNN may multiply float32 matrices
#   with TF32 tensor cores: 10 mantissa bits, so each product is rounded to
#   about :math:`2^{-11} \approx 4.9 \times 10^{-4}` relative. That is what
#   PyTorch does for cuDNN RNNs unless told otherwise
#   (``torch.backends.cudnn.rnn.fp32_precision = "ieee"``, or the older
#   ``torch.backends.cudnn.allow_tf32 = False``). How far that moves an
#   LSTM depends on the sizes and the number of time steps; each product's
#   rounding is about :math:`10^{-3.3}` relative, so
#   :func:`lstm_demo.devices.tolerance_for` allows ``rtol=1e-2, atol=1e-3``
#   there, and the table shows what this machine's GPUs measured.
# * **float64 on a GPU.** cuDNN sums in another order than the CPU; in
#   float64 that is invisible at any tolerance that matters. PyTorch's own
#   test suite compares CPU and cuDNN RNN results within ``5e-5`` (its
#   ``_test_RNN_cpu_vs_cudnn`` in ``test_nn.py``); this site uses the same
#   absolute tolerance for float64 on a GPU.
#
# The column "vs cpu fp32" compares each float32 setting with the same
# model in float32 on the CPU directly: the difference between devices,
# rather than from the exact answer. The last column is
# :func:`lstm_demo.compare` of every output and
# final-state element against the reference, within
# :func:`lstm_demo.devices.tolerance_for` the setting (under its flags); the
# page asserts it for every row.
for row in rows:
    assert row.close, row
print(f"all {len(rows)} rows within their tolerance")

# %%
# The same table as a picture: each setting's greatest difference from
# float64 on the CPU, per model, on a log scale (white: identical).
labels = list(dict.fromkeys(r.setting.label for r in rows))
names = list(models)
grid = torch.full((len(labels), len(names)), float("nan"))
for r in rows:
    if r.max_abs_diff > 0:
        grid[labels.index(r.setting.label), names.index(r.model)] = math.log10(r.max_abs_diff)
fig, ax = plt.subplots(figsize=(7.5, 0.5 * len(labels) + 2), layout="constrained")
image = ax.imshow(grid, cmap="viridis", vmin=-17, vmax=-2, aspect="auto")
ax.set_xticks(range(len(names)), names, rotation=15, ha="right")
ax.set_yticks(range(len(labels)), labels)
for i in range(len(labels)):
    for j in range(len(names)):
        value = grid[i, j]
        exact = math.isnan(value)
        ax.text(
            j,
            i,
            "exact" if exact else f"1e{value:.1f}",
            ha="center",
            va="center",
            color="k" if exact else "w",
        )
fig.colorbar(image, ax=ax, label="log10 max |diff| vs CPU float64")
ax.set_title("How far each setting lands from float64 on the CPU")
plt.show()

# %%
# Nothing leaks
# -------------
# Every switch is back where it was before the page ran (asserted), and the
# provenance below shows their values:
assert save_flags() == flags_before
print("every precision switch is as it was before this page ran")
print(lstm_demo.environment_report())
