r"""
Speed: the fused call, the loop, and from scratch
=================================================

The step-by-step loop computes what ``nn.LSTM`` computes; how much slower is
it? This page times, in one run, the fused ``nn.LSTM`` call,
:func:`lstm_demo.run_stepwise` (a Python loop of one-step calls), an
``nn.LSTMCell`` loop, and :func:`lstm_demo.scratch.scratch_lstm` (the
equations in Python), forward and forward plus backward, and then how the
fused call and the loop scale with the sequence length and the hidden size.
On a GPU it also times ``torch.compile`` of the ``nn.LSTMCell`` loop, forward,
where compiling works.

The figures are what the machine that built this page measured, with its
device, threads and sizes printed beside them: they are shown, never
asserted. Each is the median of :class:`torch.utils.benchmark.Timer`'s
blocks after a warm-up call, with CUDA synchronised around every block.
The CPU sizes are kept small so that the page builds in seconds.
"""

# %%
# Four ways, one run
# ------------------
import matplotlib.pyplot as plt
import torch

import lstm_demo
from lstm_demo.devices import each_device
from lstm_demo.speed import FUSED, STEPWISE, report, time_lstm

devices = each_device()
for device in devices:
    on_gpu = device.type == "cuda"
    budget = 0.2 if on_gpu else 0.05
    try:  # torch.compile needs a working Triton and compiler; time it where it works
        timings = time_lstm(device, min_run_time=budget, compiled=on_gpu)
    except Exception as error:  # noqa: BLE001 - say why, then time the rest
        print(f"torch.compile does not work here ({type(error).__name__}: {error}); timing without it")
        timings = time_lstm(device, min_run_time=budget)
    timings += time_lstm(device, backward=True, min_run_time=budget)
    print(report(timings))

# %%
# Each call of the loop is a separate trip through Python and the
# dispatcher, with small matrix products that keep few cores (or few GPU
# multiprocessors) busy; the fused call computes the input projection of
# all steps in one product and runs the recurrence in one kernel (cuDNN on a
# GPU, oneDNN on the CPU). The loop's fixed cost per step matters most where
# each step's arithmetic is cheapest (small hidden sizes, and GPUs), so the
# gap is expected to be widest there; the figures below are what this
# machine measured, not a promise.
#
# Scaling
# -------
# Time per call of the fused call and :func:`lstm_demo.run_stepwise`,
# forward only, as the sequence grows (hidden size fixed) and as the hidden
# size grows (length fixed).
sizes = {
    "cpu": {"seq": [16, 64, 256, 1024], "hidden": [64, 128, 256, 512, 1024]},
    "cuda": {"seq": [16, 64, 256, 1024, 4096], "hidden": [64, 128, 256, 512, 1024, 2048]},
}
fig, axes = plt.subplots(1, 2, figsize=(9, 3.8), layout="constrained")
for device in devices:
    grid = sizes["cuda" if device.type == "cuda" else "cpu"]
    budget = 0.1 if device.type == "cuda" else 0.02
    by_seq = {n: [] for n in (FUSED, STEPWISE)}
    for seq_len in grid["seq"]:
        for t in time_lstm(
            device, batch=8, hidden=64, seq_len=seq_len, names=(FUSED, STEPWISE), min_run_time=budget
        ):
            by_seq[t.name].append(t.seconds)
    by_hidden = {n: [] for n in (FUSED, STEPWISE)}
    for hidden in grid["hidden"]:
        for t in time_lstm(
            device, batch=8, hidden=hidden, seq_len=32, names=(FUSED, STEPWISE), min_run_time=budget
        ):
            by_hidden[t.name].append(t.seconds)
    threads = f", {torch.get_num_threads()} CPU threads" if device.type == "cpu" else ""
    print(f"{lstm_demo.devices.device_name(device)}{threads}, batch 8, float32, forward, ms per call")
    print("  seq_len (hidden 64):  " + "  ".join(f"{s:>7}" for s in grid["seq"]))
    for name, values in by_seq.items():
        print(f"  {name:<20}  " + "  ".join(f"{v * 1e3:7.2f}" for v in values))
        axes[0].loglog(grid["seq"], values, "o-", label=f"{name}, {device}")
    print("  hidden (32 steps):    " + "  ".join(f"{h:>7}" for h in grid["hidden"]))
    for name, values in by_hidden.items():
        print(f"  {name:<20}  " + "  ".join(f"{v * 1e3:7.2f}" for v in values))
        axes[1].loglog(grid["hidden"], values, "o-", label=f"{name}, {device}")
axes[0].set(xlabel="sequence length (hidden 64, batch 8)", ylabel="seconds per forward call")
axes[1].set(xlabel="hidden size (32 steps, batch 8)")
axes[0].legend(fontsize="small")
fig.suptitle("Fused nn.LSTM vs one step at a time")
plt.show()

# %%
# What produced this page
# -----------------------
print(lstm_demo.environment_report())
