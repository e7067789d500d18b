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
asserted. :func:`lstm_demo.speed.time_lstm` warms each implementation up,
then times them in rounds, each round starting with a different one, so
that a change in the machine's load during the run touches them all alike.
Each figure is the median of its rounds, printed with the interquartile
range (IQR) and the number of rounds ``n``; a ratio to the fused call is
the median of the rounds' own ratios. The number of CPU threads is fixed while
timing. The CPU sizes are kept small so that the page builds in seconds.
The IQR says how much the rounds of one run spread; how far two runs
apart can land is measured too, below, by timing the same sizes again
at the end of the page.
"""

# %%
# Four ways, one run
# ------------------
# One CPU thread (the number set with ``torch.set_num_threads``): with more, a parallel region waits for its slowest
# thread, and a core busy with something else can make that one slow (the
# section on threads below times both ways). At one thread on the CPU the
# clock is the timing thread's own CPU time (the table says so): it stops
# while another program holds the core, which the wall clock would count.
# Each implementation first runs for a tenth of a second untimed, then ten
# rounds follow.
from dataclasses import replace

import matplotlib.pyplot as plt
import numpy as np
import torch

import lstm_demo
import lstm_demo.precision
from lstm_demo.devices import each_device
from lstm_demo.display import Stack, show
from lstm_demo.speed import (
    CELL_LOOP,
    FUSED,
    LIBRARY_OFF,
    STEPWISE,
    Scaling,
    quartiles,
    ratio_quartiles,
    ratios,
    time_lstm,
)

THREADS = 1
WARMUP = 0.1
devices = each_device()

# %%
# Ten rounds each on the CPU at batch 16, hidden 128 and 50 steps; the GPU
# gets the larger default sizes (batch 32, hidden 256, 100 steps).
sizes = {
    "cpu": {"batch": 16, "hidden": 128, "seq_len": 50},
    "cuda": {"batch": 32, "hidden": 256, "seq_len": 100},
}
measured = {}
tables = []
for device in devices:
    options = {"threads": THREADS, "repeats": 10, "warmup": WARMUP, **sizes.get(device.type, sizes["cpu"])}
    on_gpu = device.type == "cuda"
    try:  # torch.compile needs a working Triton and compiler; time it where it works
        timings = time_lstm(device, compiled=on_gpu, **options)
    except Exception as error:  # noqa: BLE001 - say why, then time the rest
        print(f"torch.compile does not work here ({type(error).__name__});")
        print("timing without it")
        timings = time_lstm(device, **options)
    timings += time_lstm(device, backward=True, **options)
    measured[device] = (options, timings)
    tables.append(timings)
show(Stack(tables))

# %%
# Every measurement as a point, the median as a bar. The points spread as
# single measurements do; a median of several moves less.
fig, axes = plt.subplots(
    len(devices), 2, figsize=(9, 3.2 * len(devices)), layout="constrained", squeeze=False
)
for row, (device, (_, timings)) in zip(axes, measured.items(), strict=True):
    for ax, backward in zip(row, (False, True), strict=True):
        group = [t for t in timings if t.backward == backward]
        for i, t in enumerate(group):
            ax.plot([i] * t.n, [s * 1e3 for s in t.samples], "o", alpha=0.5)
            ax.hlines(t.median * 1e3, i - 0.3, i + 0.3, color="black")
        ax.set_xticks(range(len(group)), [t.name for t in group], rotation=15)
        what = "forward + backward" if backward else "forward"
        ax.set(ylim=(0, None), ylabel="ms per call", title=f"{device}, {what}")
plt.show()


# %%
# Why the loop can be slower
# --------------------------
# Each step of a loop is a separate trip through Python and PyTorch's
# dispatcher, and its small matrix products can keep few cores (or few GPU
# multiprocessors) busy. The fused call runs the whole recurrence in one
# library call, which its ``grad_fn`` names, and that library can compute
# the input projection of all steps in one product.
def library_call(device):
    lstm = torch.nn.LSTM(64, 128).to(device)
    output, _ = lstm(torch.randn(50, 16, 64, device=device))
    return type(output.grad_fn).__name__


for device in devices:
    print(f"{device}: {library_call(device)}")

# %%
# That library can be switched off (oneDNN on the CPU, cuDNN on a GPU). The
# fused call and the two loops, each with the library on and off, are timed
# here in the same rounds (so the machine's load touches both alike), which
# shows what the library is worth on this machine. The other reasons above
# are possibilities: nothing here switches them off.
BOTH = (FUSED, STEPWISE, CELL_LOOP, *(name + LIBRARY_OFF for name in (FUSED, STEPWISE, CELL_LOOP)))
switched = {}
for device, (options, _) in measured.items():
    library = torch.backends.cudnn if device.type == "cuda" else torch.backends.mkldnn
    with lstm_demo.precision.backend_enabled(library, False):
        print(f"{device}: {library.__name__.split('.')[-1]} off, grad_fn {library_call(device)}")
    switched[device] = time_lstm(device, names=BOTH, **options)
show(Stack(switched.values()))

# %%
# Why run_stepwise is slower than an nn.LSTMCell loop
# ----------------------------------------------------
# Both loops take one step per call. :func:`lstm_demo.run_stepwise` calls the
# whole ``nn.LSTM`` module on a sequence of length one, so each step goes
# through the library call above, with whatever that library does per call
# (on the CPU, oneDNN can put the weights into its own layout each time), and through
# ``nn.LSTM.forward``'s checks of its arguments; ``nn.LSTMCell`` computes one
# step with PyTorch's own kernels. Per round of the table above, each
# call's time over the nn.LSTMCell loop's with the library on: the median
# (and quartiles) of those ratios. The loop with the library off is the
# control: nn.LSTMCell does not use the library, so it stays near 1.


def spread(quartile):
    q1, median, q3 = quartile
    return f"{median:.2f} (IQR {q1:.2f}-{q3:.2f})"


for device, timings in switched.items():
    per_round = ratio_quartiles(list(timings), CELL_LOOP)
    library = "cuDNN" if device.type == "cuda" else "oneDNN"
    print(f"{device}, forward, over the nn.LSTMCell loop ({library} on):")
    for name in (STEPWISE, STEPWISE + LIBRARY_OFF, CELL_LOOP + LIBRARY_OFF):
        print(f"  {name:<32} {spread(per_round[name])}")

# %%
# What is left with the library off is not switched off here: it can be
# ATen's own LSTM per call (which stacks and unbinds its state even for one
# step), ``nn.LSTM.forward``'s checks of its arguments and
# :func:`~lstm_demo.run_stepwise`'s own slicing of the sequence.

# %%
# How much the figures move
# -------------------------
# A build measures its own rounds. Splitting the ten rounds above into
# their first and second five gives two measurements of the same run, n = 5
# each; this is how far their ratios to the fused call are apart: the
# spread within one run.
halves_widest = 0.0
for device, (_, timings) in measured.items():
    print(f"{device}: ratio to the fused call, rounds 1-5, rounds 6-10, apart")
    for backward in (False, True):
        group = [t for t in timings if t.backward == backward]
        first = ratios([replace(t, samples=t.samples[:5]) for t in group])
        second = ratios([replace(t, samples=t.samples[5:]) for t in group])
        for t in group[1:]:
            apart = abs(first[t.name] / second[t.name] - 1)
            halves_widest = max(halves_widest, apart)
            what = "fwd+bwd" if backward else "fwd"
            line = f"{first[t.name]:6.2f} {second[t.name]:6.2f} {apart:6.0%}"
            print(f"  {t.name:<28} {what:<8} {line}")
print(f"widest: {halves_widest:.0%}")

# %%
# Two halves of one run share their warm-up and their machine's load, so two
# separate runs can differ by more than this: the end of the page times the
# same sizes again, in a second run, and says how far the two runs' ratios
# are apart. Other load, another number of threads, another machine or
# another PyTorch build can move the times much further, and can even change
# which loop is faster: the figures describe the machine and the run that
# built this page.
#
# Scaling
# -------
# Time per call of the fused call and :func:`lstm_demo.run_stepwise`,
# forward only, as the sequence grows (hidden size fixed) and as the hidden
# size grows (length fixed), five rounds per point. The loop's fixed cost
# per step can matter most where each step's arithmetic is cheapest.
grids = {
    "cpu": {"seq_len": [16, 64, 256], "hidden": [64, 256, 512]},
    "cuda": {"seq_len": [16, 64, 256, 1024, 4096], "hidden": [64, 256, 1024, 2048]},
}
base = {"batch": 8, "hidden": 64, "seq_len": 32}


def forward_times(device, **size):
    options = {**base, **size, "threads": THREADS, "repeats": 5, "warmup": WARMUP}
    return time_lstm(device, names=(FUSED, STEPWISE), **options)


scaling = {
    (device, axis): Scaling([forward_times(device, **{axis: value}) for value in values], axis)
    for device in devices
    for axis, values in grids.get(device.type, grids["cpu"]).items()
}

# %%
# Each median with its IQR, and the loop's ratio to the fused call:
show(Stack(scaling.values()))

# %%
# The plot shows the same medians, the IQR as error bars:
fig, axes = plt.subplots(1, 2, figsize=(9, 3.8), layout="constrained")
for (device, axis), points in scaling.items():
    ax = axes[0 if axis == "seq_len" else 1]
    for i, name in enumerate((FUSED, STEPWISE)):
        x = [getattr(timings[i], axis) for timings in points]
        q1, median, q3 = np.array([quartiles(timings[i].samples) for timings in points]).T
        yerr = [median - q1, q3 - median]
        ax.errorbar(x, median, yerr=yerr, fmt="o-", capsize=3, label=f"{name}, {device}")
for ax, axis in zip(axes, ("seq_len", "hidden"), strict=True):
    ticks = sorted({v for d in devices for v in grids.get(d.type, grids["cpu"])[axis]})
    ax.set(xscale="log", yscale="log")
    ax.set_xticks(ticks, [str(value) for value in ticks])
    ax.minorticks_off()
axes[0].set(xlabel="sequence length (hidden 64, batch 8)", ylabel="seconds per forward call")
axes[1].set(xlabel="hidden size (32 steps, batch 8)")
axes[0].legend(fontsize="small")
fig.suptitle("Fused nn.LSTM vs one step at a time")
plt.show()

# %%
# One thread or all of them
# -------------------------
# The same CPU measurement of the fused call and the loop at one thread and
# at the machine's default number of threads (``torch.get_num_threads()``
# when the page started), both by the wall clock, with each time's relative
# IQR (IQR over median): how much the rounds of each spread.
all_threads = torch.get_num_threads()
cpu_options = {**measured[torch.device("cpu")][0], "repeats": 10}
by_threads = {}
for threads in sorted({1, all_threads}):
    options = {**cpu_options, "threads": threads, "clock": "wall"}
    by_threads[threads] = time_lstm("cpu", names=(FUSED, STEPWISE), **options)
for threads, timings in by_threads.items():
    spread = ", ".join(f"{t.name} {t.iqr / t.median:.0%}" for t in timings)
    print(f"{threads} thread(s): x fused {ratios(list(timings))[STEPWISE]:.2f}; relative IQR {spread}")
widest = {threads: max(t.iqr / t.median for t in timings) for threads, timings in by_threads.items()}
if len(widest) > 1:
    more = max(widest, key=widest.get)
    print(f"here the rounds spread more at {more} thread(s): widest relative IQR {widest[more]:.0%}")

# %%
# With more threads each call can finish sooner, and the rounds can spread
# more when another program takes a core; one thread is what this
# page's other figures use, so they compare across machines with different
# numbers of cores. Which of the two spread more on the machine that built
# this page is printed above (on a machine of one core there is one case).
#
# A second run
# ------------
# The first measurement again, on the CPU, now at the end of the page: its
# own warm-up and ten rounds, a second run of the same sizes. How far the
# two runs' ratios to the fused call are apart is the between-run spread;
# whether it came out larger or smaller than the spread between the two
# halves of the first run (medians of five rounds, not ten) is printed below.
cpu = torch.device("cpu")
options, first_run = measured[cpu]
second_run = time_lstm(cpu, **options) + time_lstm(cpu, backward=True, **options)
print("ratio to the fused call: first run, second run, apart")
between = 0.0
for backward in (False, True):
    first = ratios([t for t in first_run if t.backward == backward])
    second = ratios([t for t in second_run if t.backward == backward])
    for name in list(first)[1:]:
        apart = abs(first[name] / second[name] - 1)
        between = max(between, apart)
        what = "fwd+bwd" if backward else "fwd"
        print(f"  {name:<28} {what:<8} {first[name]:6.2f} {second[name]:6.2f} {apart:6.0%}")
relation = "larger than" if between > halves_widest else "no larger than"
print(
    f"widest between the two runs: {between:.0%}, {relation} the {halves_widest:.0%} between the first run's halves"
)

# %%
# ``benchmarks/speed.py`` makes the same comparison between two processes:
# run it twice with ``--json`` and compare the ``ratio`` fields.
#
# What produced this page
# -----------------------
print(lstm_demo.environment_report())
