"""lstm_demo: what PyTorch's nn.LSTM computes, shown by live runs.

The helpers stand in for a recurrent module's forward (``run_stepwise``,
``run_stacked``), take a module apart and put it back together
(``split_layers``, ``stack_layers``), and report how equal two results are
(``compare``), on every device this machine has (``available_devices``),
with the provenance of the run (``environment_report``).
"""

from lstm_demo._version import __version__
from lstm_demo.comparison import Comparison, compare
from lstm_demo.devices import available_devices
from lstm_demo.layers import run_stacked, split_directions, split_layers, stack_layers
from lstm_demo.provenance import environment_report
from lstm_demo.stepwise import run_stepwise

__all__ = [
    "Comparison",
    "__version__",
    "available_devices",
    "compare",
    "environment_report",
    "run_stacked",
    "run_stepwise",
    "split_directions",
    "split_layers",
    "stack_layers",
]
