"""Plausible wrong LSTMs, and proof that every claim the site makes catches each one that can show in it.

A claim compares ``nn.LSTM`` with an independent computation of the same
thing: one step at a time, layers stacked by hand, the equations written
out, an ``nn.LSTMCell`` loop, the post's printed numbers, or the module's
own call where the claim is about how the module is used. A check is only
worth something if it fails when that independent side is wrong. Each
:class:`Mutant` (``lstm_demo.mutants.catalogue``) is such a wrong side: a
function with the module's forward contract computing the equations of
``lstm_demo.mutants.equations`` with one plausible mistake.
:func:`run` (``lstm_demo.mutants.runner``) calls every registered claim
with every mutant in place of its independent sides, on every device and
dtype, and compares at every tolerance the site uses
(:func:`~lstm_demo.tolerances.site_tolerances`): each must be caught. The
control is the claim's own run, which must pass. :func:`smallest_caught`
(``lstm_demo.mutants.smallest``) bisects the size of one bug, a
forget-gate bias offset, down to the smallest each claim still catches.
"""

from lstm_demo.mutants.catalogue import MUTANTS, PORT_MUTANTS, Mutant, OffsetMutant, counting
from lstm_demo.mutants.equations import Equations, GRUEquations, RNNEquations, each_sequence, hard_sigmoid
from lstm_demo.mutants.runner import (
    CONTROL,
    TARGETS,
    Outcome,
    Result,
    Results,
    Target,
    add_target,
    claim_target,
    ratio,
    run,
    tolerances_for,
)
from lstm_demo.mutants.smallest import RESOLUTION, Smallest, bisectable, smallest_caught

__all__ = [
    "CONTROL",
    "MUTANTS",
    "PORT_MUTANTS",
    "RESOLUTION",
    "TARGETS",
    "Equations",
    "GRUEquations",
    "Mutant",
    "OffsetMutant",
    "Outcome",
    "RNNEquations",
    "Result",
    "Results",
    "Smallest",
    "Target",
    "add_target",
    "bisectable",
    "claim_target",
    "counting",
    "each_sequence",
    "hard_sigmoid",
    "ratio",
    "run",
    "smallest_caught",
    "tolerances_for",
]
