"""The numbers the post printed, kept as data, and what the site does with them.

The blog post this project grew from, 关于Pytorch中LSTM前向传播的一个验证
("A verification of LSTM forward propagation in PyTorch"), printed its
parameters, inputs and outputs but not all of its code. One module per idea:

* ``lstm_demo.post.printed``: the printed blocks, verbatim
  (``EXPERIMENT_1``, ``EXPERIMENT_2``), and the tensors parsed out of them;
* ``lstm_demo.post.models``: the post's two models built from those
  numbers, and experiment 1's input, which the post never printed, recovered;
* ``lstm_demo.post.reproduction``: the printed outputs next to a live run's;
* ``lstm_demo.post.replay``: experiment 2 rebuilt from its seed alone
  (``replay_experiment_2()``), and which draws of the random stream went where;
* ``lstm_demo.post.forensics``: experiment 1's seed looked for, and how far
  rounding to the printed digits can move an output.

Every public name is importable from ``lstm_demo.post`` itself.
"""

from lstm_demo.post.forensics import RoundingBudget, experiment_1_detection, rounding_budget, search_seeds
from lstm_demo.post.models import (
    BIASES,
    experiment_1_lstm,
    experiment_1_outputs,
    experiment_1_step_outputs,
    experiment_2_inputs,
    experiment_2_lstm,
    experiment_2_outputs,
    recovered_experiment_1_input,
)
from lstm_demo.post.printed import EXPERIMENT_1, EXPERIMENT_2, Printed, parse_tensors, printed_count
from lstm_demo.post.replay import (
    EXPERIMENT_2_SEED,
    Draws,
    experiment_2_draws,
    experiment_2_printout,
    replay_experiment_2,
    same_text,
)
from lstm_demo.post.reproduction import Reproduction, reproduce_experiment_1, reproduce_experiment_2
from lstm_demo.tolerances import PRINTED_TOLERANCE

__all__ = [
    "BIASES",
    "EXPERIMENT_1",
    "EXPERIMENT_2",
    "EXPERIMENT_2_SEED",
    "PRINTED_TOLERANCE",
    "Draws",
    "Printed",
    "Reproduction",
    "RoundingBudget",
    "experiment_1_detection",
    "experiment_1_lstm",
    "experiment_1_outputs",
    "experiment_1_step_outputs",
    "experiment_2_draws",
    "experiment_2_inputs",
    "experiment_2_lstm",
    "experiment_2_outputs",
    "experiment_2_printout",
    "parse_tensors",
    "printed_count",
    "recovered_experiment_1_input",
    "replay_experiment_2",
    "reproduce_experiment_1",
    "reproduce_experiment_2",
    "rounding_budget",
    "same_text",
    "search_seeds",
]
