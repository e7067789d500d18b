"""
A tiny example
==============

One LSTM call, the devices it would run on, and the package version.
"""

# %%
# The devices, as every page of the site lists them first.
import torch
from torch import nn

import lstm_demo
from lstm_demo.devices import each_device

devices = each_device()

# %%
# One call, and the version of the package that made it.
output, _ = nn.LSTM(2, 3)(torch.ones(4, 1, 2))
print(tuple(output.shape), lstm_demo.__version__)
assert output.shape == (4, 1, 3)
