"""The numbers the post printed, kept as data, and its second experiment replayed.

The blog post this project grew from, 关于Pytorch中LSTM前向传播的一个验证
("A verification of LSTM forward propagation in PyTorch"), printed its
parameters, inputs and outputs but not all of its code. Each :class:`Printed`
block below is its printed output exactly as the saved page shows it
(``original-post.txt`` in the project's seed; ``lines`` gives where), except
for the saved page's line-number gutter, which ran into three lines ("85RNN(",
"68weight", "94inputs") and is removed there. :attr:`Printed.values` parses
the tensors out of the text, so the numbers used are the numbers printed, to
the digits printed.

Experiment 1 (the post's section 2) printed every parameter of
``nn.LSTM(4, 5, batch_first=True)`` and its outputs, but not its input.
Experiment 2 (section 3) printed the four weight matrices of
``nn.LSTM(3, 3, num_layers=2)``, its five inputs and outputs, but not its
biases. The post printed method 2's weights (the same values) and outputs
(the same values) again; those repeats are not kept.

Experiment 2 also replays from its seed alone
(``replay_experiment_2()``): today's PyTorch draws the same weights and
inputs from ``torch.manual_seed(1)``, and ``experiment_2_draws()`` measures
which draws of the random stream went where.
"""

from __future__ import annotations

import ast
import copy
import functools
import io
import math
from collections.abc import Callable, Iterable
from dataclasses import dataclass

import torch
from torch import nn

from lstm_demo._random import cpu_random
from lstm_demo.devices import device_name, resolve_device
from lstm_demo.layers import run_stacked, split_layers
from lstm_demo.precision import precision_flags
from lstm_demo.recover import InputRecovery, cell_params, cell_step, recover_inputs
from lstm_demo.stepwise import run_stepwise
from lstm_demo.tolerances import PRINTED_TOLERANCE


def parse_tensors(text: str) -> list[torch.Tensor]:
    """Every ``tensor([...])`` in printed text, as float64 tensors, in order.

    Examples
    --------
    >>> from lstm_demo.post import parse_tensors
    >>> parse_tensors("x: tensor([[ 0.1, -2.0]]) y: tensor([3.5e-02], grad_fn=<AddBackward0>)")
    [tensor([[ 0.1000, -2.0000]], dtype=torch.float64), tensor([0.0350], dtype=torch.float64)]
    """
    tensors = []
    start = text.find("tensor(")
    while start != -1:
        open_at = text.index("[", start)
        depth = 0
        for end in range(open_at, len(text)):
            depth += {"[": 1, "]": -1}.get(text[end], 0)
            if depth == 0:
                break
        literal = text[open_at : end + 1]
        tensors.append(torch.tensor(ast.literal_eval(literal), dtype=torch.float64))
        start = text.find("tensor(", end)
    return tensors


@dataclass(frozen=True)
class Printed:
    """One block of the post's printed output."""

    name: str
    """What the block holds, e.g. ``weight_ih_l0`` or ``out``."""
    lines: tuple[int, int]
    """First and last line of the block in the saved page."""
    text: str
    """The block as printed."""

    @property
    def values(self) -> list[torch.Tensor]:
        """The tensors in the block, as float64."""
        return parse_tensors(self.text)

    @property
    def value(self) -> torch.Tensor:
        """The block's one tensor (all of them stacked, for a block of several)."""
        values = self.values
        return values[0] if len(values) == 1 else torch.stack(values)


def _table(*blocks: Printed) -> dict[str, Printed]:
    return {block.name: block for block in blocks}


EXPERIMENT_1: dict[str, Printed] = _table(
    Printed(
        "weight_ih_l0",
        (97, 118),
        """\
name: rnn.weight_ih_l0 torch.Size([20, 4])
param: Parameter containing:
tensor([[ 0.0449, 0.0707, -0.0393, 0.0395],
[ 0.0645, -0.0325, 0.0488, -0.0596],
[ 0.0624, -0.0478, -0.0269, 0.0331],
[-0.0517, -0.0195, 0.0451, -0.0473],
[-0.0484, -0.0571, -0.0639, -0.0441],
[-0.0117, 0.0692, -0.0243, 0.0735],
[-0.0595, 0.0038, -0.0086, 0.0466],
[ 0.0254, 0.0347, 0.0495, 0.0562],
[ 0.0456, 0.0009, -0.0051, -0.0497],
[-0.0673, -0.0705, -0.0513, 0.0625],
[ 0.0251, 0.0018, -0.0748, 0.0668],
[ 0.0722, 0.0215, 0.0752, 0.0411],
[ 0.0584, 0.0039, 0.0678, 0.0541],
[-0.0537, 0.0217, 0.0074, -0.0665],
[ 0.0614, -0.0069, 0.0511, 0.0226],
[-0.0080, 0.0327, -0.0524, 0.0015],
[ 0.0308, -0.0742, -0.0100, -0.0072],
[-0.0191, -0.0472, 0.0721, 0.0302],
[-0.0441, 0.0121, -0.0346, 0.0012],
[ 0.0420, 0.0477, -0.0551, 0.0526]], requires_grad=True)""",
    ),
    Printed(
        "weight_hh_l0",
        (119, 140),
        """\
name: rnn.weight_hh_l0 torch.Size([20, 5])
param: Parameter containing:
tensor([[-0.0148, -0.0516, 0.0692, 0.0709, -0.0271],
[-0.0097, 0.0695, -0.0254, 0.0593, 0.0047],
[ 0.0134, -0.0035, -0.0379, -0.0302, 0.0038],
[-0.0277, 0.0703, 0.0463, 0.0604, -0.0431],
[ 0.0381, 0.0209, -0.0193, 0.0672, 0.0152],
[ 0.0761, -0.0743, -0.0116, 0.0341, 0.0542],
[-0.0195, -0.0670, -0.0298, -0.0319, -0.0263],
[-0.0087, 0.0492, 0.0289, -0.0410, -0.0386],
[ 0.0496, -0.0090, -0.0324, 0.0696, -0.0223],
[-0.0294, -0.0665, 0.0589, -0.0306, -0.0638],
[ 0.0753, -0.0558, 0.0510, 0.0738, 0.0045],
[-0.0210, -0.0420, -0.0287, 0.0511, -0.0410],
[ 0.0017, -0.0286, -0.0728, 0.0357, 0.0564],
[-0.0152, 0.0389, -0.0335, -0.0051, 0.0425],
[ 0.0673, 0.0345, -0.0648, -0.0781, 0.0205],
[-0.0342, -0.0217, 0.0453, 0.0501, -0.0570],
[-0.0381, 0.0469, -0.0716, -0.0330, -0.0564],
[-0.0537, 0.0374, 0.0703, -0.0208, 0.0104],
[ 0.0738, 0.0166, 0.0372, -0.0009, 0.0514],
[-0.0605, -0.0516, 0.0641, -0.0779, 0.0699]], requires_grad=True)""",
    ),
    Printed(
        "bias_ih_l0",
        (141, 145),
        """\
name: rnn.bias_ih_l0 torch.Size([20])
param: Parameter containing:
tensor([ 0.0719, 0.0595, 0.0036, 0.0694, 0.0378, 0.0128, -0.0564, -0.0279,
0.0115, 0.0693, 0.0534, -0.0731, -0.0012, 0.0284, -0.0694, 0.0135,
0.0451, -0.0575, 0.0220, -0.0532], requires_grad=True)""",
    ),
    Printed(
        "bias_hh_l0",
        (146, 150),
        """\
name: rnn.bias_hh_l0 torch.Size([20])
param: Parameter containing:
tensor([ 0.0154, 0.0417, -0.0557, -0.0170, -0.0160, 0.0391, 0.0685, -0.0552,
-0.0166, 0.0263, 0.0050, -0.0282, -0.0162, 0.0333, -0.0444, 0.0584,
0.0008, 0.0734, -0.0651, 0.0419], requires_grad=True)""",
    ),
    Printed(
        "out",
        (151, 157),
        """\
out: tensor([[[ 0.0808, -0.0553, -0.0342, 0.0148, -0.0718],
[ 0.0570, -0.0712, -0.0422, 0.0514, -0.0905],
[ 0.0671, -0.0729, -0.0326, 0.0359, -0.0875]],
[[ 0.0761, -0.0196, -0.0030, 0.0017, -0.0420],
[ 0.0764, -0.0191, 0.0171, -0.0125, -0.0333],
[ 0.0501, -0.0520, -0.0162, 0.0257, -0.0549]]],
grad_fn=<TransposeBackward0>)""",
    ),
    Printed(
        "r_out_t0",
        (158, 160),
        """\
r_out: tensor([[[ 0.0808, -0.0553, -0.0342, 0.0148, -0.0718]],
[[ 0.0761, -0.0196, -0.0030, 0.0017, -0.0420]]],
grad_fn=<TransposeBackward0>)""",
    ),
    Printed(
        "r_out_t1",
        (161, 163),
        """\
r_out: tensor([[[ 0.0570, -0.0712, -0.0422, 0.0514, -0.0905]],
[[ 0.0764, -0.0191, 0.0171, -0.0125, -0.0333]]],
grad_fn=<TransposeBackward0>)""",
    ),
    Printed(
        "r_out_t2",
        (164, 166),
        """\
r_out: tensor([[[ 0.0671, -0.0729, -0.0326, 0.0359, -0.0875]],
[[ 0.0501, -0.0520, -0.0162, 0.0257, -0.0549]]],
grad_fn=<TransposeBackward0>)""",
    ),
    Printed(
        "last_out",
        (167, 169),
        """\
out: tensor([[[ 0.0671, -0.0729, -0.0326, 0.0359, -0.0875]],
[[ 0.0501, -0.0520, -0.0162, 0.0257, -0.0549]]],
grad_fn=<TransposeBackward0>)""",
    ),
)

EXPERIMENT_2: dict[str, Printed] = _table(
    Printed(
        "weight_ih_l0",
        (241, 253),
        """\
weight weight_ih_l0 after init: Parameter containing:
tensor([[ 0.6025, -0.1577, -0.0990],
[-0.5255, 0.4554, 0.4651],
[ 0.1428, 0.1414, -0.0291],
[ 0.1248, 0.3465, -0.5053],
[ 0.6295, -0.8635, -0.3394],
[ 0.1072, 0.0786, 0.3427],
[ 0.5352, -0.2032, 0.8816],
[ 0.3727, -0.1608, -0.6332],
[-0.3745, 0.1903, -0.1654],
[-0.0460, -0.2148, 0.7737],
[-0.1980, -0.8980, -0.3470],
[-0.1130, 0.6074, 0.1844]], requires_grad=True)""",
    ),
    Printed(
        "weight_hh_l0",
        (254, 266),
        """\
weight weight_hh_l0 after init: Parameter containing:
tensor([[-0.0719, -0.0122, 0.2626],
[ 0.3887, -0.3044, -0.4356],
[-0.8422, 0.2204, 0.1151],
[ 0.4171, 0.1116, -0.2114],
[ 0.2061, -0.3204, -0.0983],
[ 0.4791, -0.5683, -0.3928],
[-0.3196, -0.1726, -0.0732],
[-0.3058, -0.5667, -0.0211],
[-0.0832, -0.3168, 0.1241],
[-0.4197, 0.0525, 0.0741],
[ 0.3849, 0.0481, -0.3130],
[ 0.5788, 0.6312, -0.3627]], requires_grad=True)""",
    ),
    Printed(
        "weight_ih_l1",
        (267, 279),
        """\
weight weight_ih_l1 after init: Parameter containing:
tensor([[ 3.6955e-02, 7.1276e-02, -4.3073e-01],
[-5.2666e-01, 2.7323e-02, 1.2894e-01],
[ 3.7136e-01, 3.3969e-01, 1.9601e-01],
[ 3.5802e-01, -4.3600e-01, -1.7962e-01],
[ 8.3209e-01, 1.7189e-01, 2.2195e-01],
[-2.1302e-02, -1.6867e-01, -1.3460e-01],
[ 1.3446e-01, 1.7708e-01, -5.6676e-01],
[-2.3697e-01, -2.8254e-02, -2.2063e-01],
[-2.0928e-01, 3.4973e-01, 3.5858e-04],
[-5.0565e-01, -6.8619e-02, 3.7702e-01],
[-9.0796e-02, -1.7238e-01, 4.7868e-01],
[-1.1565e-01, -6.7956e-02, -2.1049e-01]], requires_grad=True)""",
    ),
    Printed(
        "weight_hh_l1",
        (280, 292),
        """\
weight weight_hh_l1 after init: Parameter containing:
tensor([[-0.3017, -0.0811, -0.6554],
[ 0.2665, -0.2052, -0.0577],
[ 0.5493, -0.5094, 0.2167],
[ 0.1210, -0.3868, -0.2293],
[-0.0991, 0.6744, -0.0114],
[-0.0343, -0.6136, 0.4856],
[ 0.0505, 0.3920, -0.1662],
[ 0.1163, -0.1296, 0.2505],
[-0.1373, -0.8803, -0.4666],
[-0.0230, -0.0346, -0.8451],
[ 0.2032, 0.1847, -0.0758],
[ 0.2533, 0.1532, 0.8224]], requires_grad=True)""",
    ),
    Printed(
        "inputs",
        (293, 293),
        """\
inputs: [tensor([[1.5381, 1.4673, 1.5951]]), tensor([[-1.5279, 1.0156, -0.2020]]), tensor([[-1.2865, 0.8231, -0.6101]]), tensor([[-1.2960, -0.9434, 0.6684]]), tensor([[ 1.1628, -0.3229, 1.8782]])]""",
    ),
    Printed(
        "outputs",
        (294, 308),
        """\
idx: 0
tensor([[[ 0.0374, -0.0085, -0.0240]]], grad_fn=<StackBackward>)
==========
idx: 1
tensor([[[ 0.0073, -0.0110, -0.0296]]], grad_fn=<StackBackward>)
==========
idx: 2
tensor([[[-0.0314, -0.0147, -0.0136]]], grad_fn=<StackBackward>)
==========
idx: 3
tensor([[[-0.0458, -0.0118, -0.0254]]], grad_fn=<StackBackward>)
==========
idx: 4
tensor([[[-0.0096, -0.0281, -0.0440]]], grad_fn=<StackBackward>)
==========""",
    ),
)


def experiment_1_lstm(
    *, device: torch.device | str | None = None, dtype: torch.dtype = torch.float32
) -> nn.LSTM:
    """The post's first model: ``nn.LSTM(4, 5, batch_first=True)`` with the printed parameters.

    Examples
    --------
    >>> from lstm_demo.post import experiment_1_lstm
    >>> lstm = experiment_1_lstm()
    >>> lstm
    LSTM(4, 5, batch_first=True)
    >>> print(f"{lstm.weight_ih_l0[0, 0].item():.4f}")
    0.0449
    """
    with cpu_random():  # every parameter is overwritten: leave the caller's stream alone
        lstm = nn.LSTM(4, 5, batch_first=True, device=device, dtype=dtype)
    with torch.no_grad():
        for name, param in lstm.named_parameters():
            param.copy_(EXPERIMENT_1[name].value)
    return lstm


def experiment_1_outputs() -> torch.Tensor:
    """The printed ``out`` of the whole-sequence call, shape ``(batch=2, seq_len=3, 5)``, float64."""
    return EXPERIMENT_1["out"].value


def experiment_1_step_outputs() -> torch.Tensor:
    """The printed ``r_out`` of the three single-step calls, stacked: ``(3, batch=2, 1, 5)``, float64."""
    return torch.stack([EXPERIMENT_1[f"r_out_t{t}"].value for t in range(3)])


BIASES = ("zero", "default")


def experiment_2_lstm(
    *,
    bias: str = "zero",
    seed: int = 1,
    device: torch.device | str | None = None,
    dtype: torch.dtype = torch.float32,
) -> nn.LSTM:
    """The post's second model: ``nn.LSTM(3, 3, num_layers=2)`` with the printed weights.

    The post did not print the biases. ``bias="zero"`` sets them to zero;
    ``bias="default"`` keeps PyTorch's default initialisation,
    ``U(-1/sqrt(3), 1/sqrt(3))``, drawn after ``torch.manual_seed(seed)``.
    With ``seed=1`` these are the biases the post's module was built with
    (the first draws after its ``torch.manual_seed(1)``, see
    ``replay_experiment_2()``), before the post set new parameters.

    Raises
    ------
    ValueError
        If ``bias`` is not ``"zero"`` or ``"default"``.

    Examples
    --------
    >>> from lstm_demo.post import experiment_2_lstm
    >>> lstm = experiment_2_lstm()
    >>> lstm, lstm.bias_ih_l1.abs().max().item()
    (LSTM(3, 3, num_layers=2), 0.0)
    """
    if bias not in BIASES:
        msg = f"Expected bias to be one of {BIASES}, but got {bias!r} instead."
        raise ValueError(msg)
    # Drawn on the CPU, then moved: the same biases whichever the device.
    with cpu_random(seed):
        lstm = nn.LSTM(3, 3, num_layers=2, dtype=dtype)
    lstm = lstm.to(device)
    with torch.no_grad():
        for name, param in lstm.named_parameters():
            if name.startswith("weight"):
                param.copy_(EXPERIMENT_2[name].value)
            elif bias == "zero":
                param.zero_()
    return lstm


def experiment_2_inputs() -> torch.Tensor:
    """The five printed inputs as one sequence, ``(seq_len=5, batch=1, 3)``, float64."""
    return EXPERIMENT_2["inputs"].value


def experiment_2_outputs() -> torch.Tensor:
    """The five printed outputs (``idx`` 0 to 4), ``(seq_len=5, batch=1, 3)``, float64."""
    return EXPERIMENT_2["outputs"].value.reshape(5, 1, 3)


def printed_count(table: dict[str, Printed]) -> int:
    """How many numbers a table holds, e.g. for "reproduced N of the post's numbers"."""
    return sum(math.prod(t.shape) for block in table.values() for t in block.values)


@functools.cache
def recovered_experiment_1_input() -> InputRecovery:
    """The input the post never printed, recovered from its printed outputs.

    :func:`~lstm_demo.recover.recover_inputs` on :func:`experiment_1_lstm`
    in float64, on the CPU. Computed once per process.
    """
    return recover_inputs(experiment_1_lstm(dtype=torch.float64), experiment_1_outputs())


@dataclass(frozen=True)
class Reproduction:
    """The post's printed numbers next to the ones a live run computed."""

    experiment: str
    device: torch.device
    dtype: torch.dtype
    printed: torch.Tensor
    """The post's numbers, float64 on the CPU."""
    runs: dict[str, torch.Tensor]
    """Each way of computing them, by name, with values shaped like ``printed`` (float64, on the CPU)."""
    tolerance: float = PRINTED_TOLERANCE

    @property
    def differences(self) -> dict[str, torch.Tensor]:
        """``|ours - printed|`` for each run."""
        return {name: (ours - self.printed).abs() for name, ours in self.runs.items()}

    @property
    def max_difference(self) -> float:
        return max(float(d.max()) for d in self.differences.values())

    @property
    def reproduced(self) -> int:
        """How many printed numbers every run matches within the tolerance."""
        within = torch.stack([d <= self.tolerance for d in self.differences.values()]).all(dim=0)
        return int(within.sum())

    @property
    def total(self) -> int:
        return self.printed.numel()

    @property
    def holds(self) -> bool:
        return self.reproduced == self.total

    def assert_holds(self) -> None:
        """Raise ``AssertionError`` unless every printed number is reproduced."""
        if not self.holds:
            msg = f"the post's numbers were not reproduced:\n{self}\n{self.table()}"
            raise AssertionError(msg)

    def __str__(self) -> str:
        dtype = str(self.dtype).removeprefix("torch.")
        return (
            f"{device_name(self.device)}, {dtype}: {self.reproduced} of {self.total} printed numbers "
            f"reproduced by every run\n"
            f"  greatest |ours - post| {self.max_difference:.2g}, allowed {self.tolerance:g}"
        )

    def table(self) -> str:
        """Every number: where, the post's value, each run's value, the greatest difference."""
        names = list(self.runs)
        widths = [max(12, len(n) + 2) for n in names]
        header = f"{'position':<12}{'post':>9}"
        header += "".join(f"{n:>{w}}" for n, w in zip(names, widths, strict=True)) + f"{'|diff|':>10}"
        lines = [header]
        diffs = torch.stack(list(self.differences.values())).amax(dim=0)
        for flat in range(self.total):
            index = tuple(int(i) for i in torch.unravel_index(torch.tensor(flat), self.printed.shape))
            row = f"{index!s:<12}{float(self.printed[index]):>9.4f}"
            row += "".join(
                f"{float(self.runs[n][index]):>{w}.6f}" for n, w in zip(names, widths, strict=True)
            )
            lines.append(row + f"{float(diffs[index]):>10.1e}")
        return "\n".join(lines)


def reproduce_experiment_1(
    device: torch.device | str = "cpu", dtype: torch.dtype = torch.float32
) -> Reproduction:
    """The post's 30 printed outputs of experiment 1, from the recovered input.

    Runs :func:`experiment_1_lstm` on :func:`recovered_experiment_1_input`
    (cast to ``dtype``) on ``device``, once on the whole sequence and once one
    step at a time (:func:`~lstm_demo.run_stepwise`). On a GPU, cuDNN's TF32
    is switched off for the run (:func:`~lstm_demo.precision.precision_flags`):
    the post computed in full float32, and TF32's rounding alone can move the
    fourth decimal.

    Examples
    --------
    >>> from lstm_demo.post import reproduce_experiment_1
    >>> result = reproduce_experiment_1()
    >>> result.reproduced, result.total, list(result.runs)
    (30, 30, ['whole sequence', 'one step at a time'])
    """
    device = resolve_device(device)
    lstm = experiment_1_lstm(device=device, dtype=dtype)
    x = recovered_experiment_1_input().input.to(device=device, dtype=dtype)
    with torch.no_grad(), precision_flags(cudnn_tf32=False):
        whole, _ = lstm(x)
        stepwise, _ = run_stepwise(lstm, x)
    runs = {"whole sequence": whole, "one step at a time": stepwise}
    return Reproduction(
        "experiment 1",
        device,
        dtype,
        experiment_1_outputs(),
        {name: out.detach().cpu().double() for name, out in runs.items()},
    )


def reproduce_experiment_2(
    device: torch.device | str = "cpu", dtype: torch.dtype = torch.float32, *, bias: str = "zero"
) -> Reproduction:
    """The post's 15 printed outputs of experiment 2, from its printed weights and inputs.

    Runs :func:`experiment_2_lstm` (with ``bias``) on the printed inputs on
    ``device``, the way the post's method 1 did (the two-layer module, one
    input per call), and as two single-layer LSTMs from
    :func:`~lstm_demo.split_layers`, one after the other, each fed the whole
    sequence by :func:`~lstm_demo.run_stacked` (the post's method 2 stepped
    both layers one input at a time). On a GPU, cuDNN's TF32 is switched off
    for the run, as in :func:`reproduce_experiment_1`.

    Examples
    --------
    >>> from lstm_demo.post import reproduce_experiment_2
    >>> reproduce_experiment_2().holds, reproduce_experiment_2(bias="default").holds
    (True, False)
    """
    device = resolve_device(device)
    lstm = experiment_2_lstm(bias=bias, device=device, dtype=dtype)
    x = experiment_2_inputs().to(device=device, dtype=dtype)
    with torch.no_grad(), precision_flags(cudnn_tf32=False):
        method_1, _ = run_stepwise(lstm, x)
        method_2, _ = run_stacked(split_layers(lstm), x)
    runs = {"num_layers=2": method_1, "stacked": method_2}
    return Reproduction(
        "experiment 2",
        device,
        dtype,
        experiment_2_outputs(),
        {name: out.detach().cpu().double() for name, out in runs.items()},
    )


# --------------------------------------------------------------------------------------------------
# Experiment 2, replayed from its seed
# --------------------------------------------------------------------------------------------------

#: The seed of the post's experiment 2, whose method-2 listing begins with ``torch.manual_seed(1)``.
EXPERIMENT_2_SEED = 1


def _experiment_2_script(
    mark: Callable[[str], None], *, inputs_first: bool = False
) -> tuple[nn.LSTM, list[torch.Tensor]]:
    """The post's experiment 2 after its seed, calling ``mark(stage)`` after each call."""

    def draw_inputs() -> list[torch.Tensor]:
        inputs = []
        for i in range(5):
            inputs.append(torch.randn(1, 3))
            mark(f"inputs[{i}] = torch.randn(1, 3)")
        return inputs

    if inputs_first:
        inputs = draw_inputs()
    lstm = nn.LSTM(3, 3, num_layers=2)
    mark("nn.LSTM(3, 3, num_layers=2)")
    if not inputs_first:
        inputs = draw_inputs()
    for name, param in lstm.named_parameters():
        if name.startswith("weight"):
            nn.init.xavier_normal_(param)
            mark(f"xavier_normal_({name})")
        else:
            nn.init.zeros_(param)
            mark(f"zeros_({name})")
    return lstm, inputs


def replay_experiment_2(
    *,
    device: torch.device | str | None = None,
    dtype: torch.dtype = torch.float32,
    inputs_first: bool = False,
) -> tuple[nn.LSTM, torch.Tensor]:
    """The post's second experiment, rebuilt from its seed alone.

    After ``torch.manual_seed(1)``: build ``nn.LSTM(3, 3, num_layers=2)``
    (its default initialisation draws from the stream), draw five inputs with
    ``torch.randn(1, 3)``, then ``nn.init.xavier_normal_`` on each weight in
    ``named_parameters`` order and zero biases. Nothing here reads the post's
    printed numbers. The draws happen on the CPU generator in float32, as the
    post ran; the module and inputs are then moved to ``device`` and cast to
    ``dtype``. The caller's random state is left as it was found (the draws
    happen in a fork of the CPU generator; no GPU generator is touched).
    ``inputs_first=True`` draws the five inputs before building the module,
    the order the post's data rule out.

    Returns
    -------
    tuple of nn.LSTM and torch.Tensor
        The module, and the five inputs as one sequence
        ``(seq_len=5, batch=1, input_size=3)``.

    Examples
    --------
    >>> import torch
    >>> from lstm_demo.post import experiment_2_inputs, replay_experiment_2
    >>> lstm, inputs = replay_experiment_2()
    >>> lstm, tuple(inputs.shape)
    (LSTM(3, 3, num_layers=2), (5, 1, 3))
    >>> bool((inputs.double() - experiment_2_inputs()).abs().max() <= 5e-5)
    True
    """
    if not isinstance(dtype, torch.dtype) or not dtype.is_floating_point:
        msg = f"Expected dtype to be a floating-point torch.dtype, but got {dtype!r} instead."
        raise TypeError(msg)
    device = resolve_device("cpu" if device is None else device)
    with cpu_random(EXPERIMENT_2_SEED):
        lstm, inputs = _experiment_2_script(lambda stage: None, inputs_first=inputs_first)
    return lstm.to(device=device, dtype=dtype), torch.stack(inputs).to(device=device, dtype=dtype)


def experiment_2_printout(lstm: nn.LSTM, inputs: torch.Tensor) -> dict[str, str]:
    """What the post's experiment-2 script printed, for these weights and inputs.

    One block per printed weight and one for the inputs, keyed like
    ``EXPERIMENT_2``, each formatted as the post's labels show it was
    printed (``print("weight", name, "after init:", weight)`` and
    ``print("inputs:", inputs)`` with the inputs a list of five ``(1, 3)``
    tensors), with PyTorch's default print options. Compare with
    :func:`same_text`.

    Examples
    --------
    >>> from lstm_demo.post import EXPERIMENT_2, experiment_2_printout, replay_experiment_2, same_text
    >>> printout = experiment_2_printout(*replay_experiment_2())
    >>> print(printout["inputs"][:44])
    inputs: [tensor([[1.5381, 1.4673, 1.5951]]),
    >>> same_text(printout["inputs"], EXPERIMENT_2["inputs"].text)
    True
    """
    blocks = {}
    # The post printed with the default options (4 decimals, scientific notation when the
    # magnitudes call for it); torch._tensor_str.printoptions restores the caller's afterwards.
    with torch._tensor_str.printoptions(profile="default"):
        for name, weight in lstm.named_parameters():
            if name.startswith("weight"):
                buffer = io.StringIO()
                print("weight", name, "after init:", weight, file=buffer, end="")
                blocks[name] = buffer.getvalue()
        buffer = io.StringIO()
        print("inputs:", list(inputs.detach().cpu()), file=buffer, end="")
        blocks["inputs"] = buffer.getvalue()
    return blocks


def same_text(ours: str, printed: str) -> bool:
    """Whether two printouts are the same character for character, whitespace aside.

    Every run of spaces, tabs and newlines counts as one space: the saved
    page lost torch's alignment spaces and indentation.

    Examples
    --------
    >>> from lstm_demo.post import same_text
    >>> same_text("tensor([[-1.5279,  1.0156],\\n        [ 0.5, 1.0]])", "tensor([[-1.5279, 1.0156],\\n[ 0.5, 1.0]])")
    True
    >>> same_text("tensor([1.0156])", "tensor([1.0157])"), same_text("[ 0.5]", "[0.5]")
    (False, False)
    """
    return " ".join(ours.split()) == " ".join(printed.split())


@dataclass(frozen=True)
class Draws:
    """One stage of the post's experiment-2 script and the draws of the random stream it took."""

    stage: str
    """The call, e.g. ``xavier_normal_(weight_ih_l0)``."""
    start: int
    """Position in the stream before the call (draws since the seed)."""
    stop: int
    """Position after it."""

    @property
    def count(self) -> int:
        return self.stop - self.start


def _stream_position(reference: torch.Tensor, probe: int = 64) -> int:
    """Where the CPU generator stands in ``reference``: how many draws it has made since the seed.

    Draws ``probe`` values with ``torch.rand`` from a copy of the current state (the state
    is put back) and finds them in ``reference``, the same seed's first ``torch.rand`` draws.
    """
    state = torch.get_rng_state()
    ahead = torch.rand(probe)
    torch.set_rng_state(state)
    found = (reference.unfold(0, probe, 1) == ahead).all(dim=1).nonzero().flatten()
    if len(found) != 1:
        msg = f"Expected the generator's next draws once in the reference stream, but found them {len(found)} times instead."
        raise RuntimeError(msg)
    return int(found[0])


def experiment_2_draws(*, inputs_first: bool = False) -> list[Draws]:
    """Which draws of the random stream each call of ``replay_experiment_2()`` took.

    A draw is one float32 ``torch.rand`` value of the CPU generator. The
    count is measured, not derived: after each call the generator's next
    draws are looked up in a reference stream of ``torch.rand`` draws from
    the same seed, which gives its position. ``inputs_first=True`` measures
    the script with the five inputs drawn before the module is built.

    Examples
    --------
    >>> from lstm_demo.post import experiment_2_draws
    >>> [(d.stage, d.count) for d in experiment_2_draws()[:3]]
    [('nn.LSTM(3, 3, num_layers=2)', 192), ('inputs[0] = torch.randn(1, 3)', 8), ('inputs[1] = torch.randn(1, 3)', 4)]
    """
    reference = torch.rand(2048, generator=torch.Generator().manual_seed(EXPERIMENT_2_SEED))
    draws: list[Draws] = []
    with cpu_random(EXPERIMENT_2_SEED):
        start = _stream_position(reference)

        def mark(stage: str) -> None:
            nonlocal start
            stop = _stream_position(reference)
            draws.append(Draws(stage, start, stop))
            start = stop

        _experiment_2_script(mark, inputs_first=inputs_first)
    return draws


# --------------------------------------------------------------------------------------------------
# Experiment 1: looking for its seed, and how much the printed digits allow
# --------------------------------------------------------------------------------------------------


def search_seeds(
    printed: Iterable[torch.Tensor],
    seeds: Iterable[int],
    draws: int,
    *,
    low: float = -0.08,
    high: float = 0.08,
    dtype: torch.dtype = torch.float32,
    window: int = 4,
) -> list[tuple[int, int]]:
    """Where, in the first ``draws`` of each seed's stream, printed numbers were drawn.

    For each seed, fills ``torch.empty(draws, dtype=dtype)`` with
    ``uniform_(low, high)`` from a generator seeded with it (the global one
    is not touched), rounds the values to 4 decimals as the post printed
    them, and looks for ``window`` consecutive draws equal to ``window``
    consecutive numbers of any tensor in ``printed`` (flattened; a tensor
    filled by ``uniform_`` is drawn in that order).

    Returns
    -------
    list of (seed, position)
        Every match: the seed and the draw where it starts.

    Examples
    --------
    >>> import torch
    >>> from lstm_demo.post import search_seeds
    >>> row = torch.empty(8).uniform_(-0.08, 0.08, generator=torch.Generator().manual_seed(7))[3:7]
    >>> search_seeds([row.double().round(decimals=4)], seeds=range(10), draws=50)
    [(7, 3)]
    """
    if window < 1 or draws < window:
        msg = f"Expected 1 <= window <= draws, but got window={window}, draws={draws} instead."
        raise ValueError(msg)
    lowest = round(low * 1e4)
    size = round(high * 1e4) - lowest + 1
    windows = (
        torch.cat(
            [(t.detach().double().flatten() * 1e4).round().long().unfold(0, window, 1) for t in printed]
        )
        - lowest
    )
    wanted = {tuple(w) for w in windows.tolist()}
    # A cheap filter first: is each value of the window among those printed at its place?
    allowed = torch.zeros(window, size + 1, dtype=torch.bool)
    for j in range(window):
        allowed[j, windows[:, j].clamp(0, size)] = True
    generator = torch.Generator()
    seeds = list(seeds)
    n = draws - window + 1
    matches = []
    for first in range(0, len(seeds), 256):
        block = seeds[first : first + 256]
        values = torch.empty(len(block), draws, dtype=dtype)
        for row, seed in zip(values, block, strict=True):
            generator.manual_seed(seed)
            row.uniform_(low, high, generator=generator)
        q = ((values.double() * 1e4).round().long() - lowest).clamp(0, size)
        hit = allowed[0][q[:, :n]]
        for j in range(1, window):
            hit &= allowed[j][q[:, j : j + n]]
        for row, at in hit.nonzero().tolist():
            if tuple(q[row, at : at + window].tolist()) in wanted:
                matches.append((block[row], at))
    return matches


@dataclass(frozen=True)
class RoundingBudget:
    """How far rounding printed numbers to their last digit can move an LSTM's outputs."""

    what: str
    """What was perturbed."""
    random: torch.Tensor
    """Per trial, the greatest ``|out(perturbed) - out|``: ``(trials,)``, float64."""
    worst_case: float
    """The greatest move any output can make, to first order, is ``5e-5`` times the sum of ``|d out / d v|``."""

    def __str__(self) -> str:
        quartiles = self.random.quantile(torch.tensor([0.25, 0.5, 0.75], dtype=torch.float64))
        q1, median, q3 = (float(v) for v in quartiles)
        return (
            f"{self.what}, each moved by U(-5e-5, 5e-5), {len(self.random)} trials:\n"
            f"  greatest output move per trial: median {median:.2g} "
            f"(IQR {q1:.2g} to {q3:.2g}), max {float(self.random.max()):.2g}\n"
            f"  worst case to first order: {self.worst_case:.2g}"
        )


def rounding_budget(
    lstm: nn.LSTM,
    x: torch.Tensor,
    *,
    parameters: Iterable[str],
    include_input: bool,
    trials: int = 200,
    seed: int = 0,
) -> RoundingBudget:
    """How much rounding to 4 printed decimals can move ``lstm(x)``'s output.

    Each trial adds independent ``U(-5e-5, 5e-5)`` noise, half of the last
    printed decimal, to every value of the named ``parameters`` (and, with
    ``include_input``, of ``x``), runs the module in float64 and records the
    greatest move of any output. The first-order worst case takes, for each
    output, ``5e-5`` times the sum of ``|d out / d v|`` over every perturbed
    value ``v``, and keeps the greatest. The noise comes from a generator
    seeded with ``seed``; the global random state is not touched.

    Examples
    --------
    >>> from lstm_demo.post import experiment_2_inputs, experiment_2_lstm, rounding_budget
    >>> weights = ["weight_ih_l0", "weight_hh_l0", "weight_ih_l1", "weight_hh_l1"]
    >>> budget = rounding_budget(
    ...     experiment_2_lstm(dtype=torch.float64), experiment_2_inputs(),
    ...     parameters=weights, include_input=True, trials=20)
    >>> tuple(budget.random.shape), budget.worst_case > float(budget.random.max())
    ((20,), True)
    """
    names = list(parameters)
    own = dict(lstm.named_parameters())
    unknown = [name for name in names if name not in own]
    if unknown or not names:
        msg = f"Expected names of lstm's parameters ({', '.join(own)}), but got {names} instead."
        raise ValueError(msg)
    if isinstance(trials, bool) or not isinstance(trials, int) or trials < 1:
        msg = f"Expected trials to be a positive int, but got {trials!r} instead."
        raise ValueError(msg)
    lstm = copy.deepcopy(lstm).double()
    own = dict(lstm.named_parameters())
    x = x.detach().double()
    base = [own[name].detach().clone() for name in names]

    def outputs(*values: torch.Tensor) -> torch.Tensor:
        params = dict(zip(names, values[: len(names)], strict=True))
        output: torch.Tensor = torch.func.functional_call(
            lstm, params, (values[-1] if include_input else x,)
        )[0]
        return output

    values = (*base, x) if include_input else tuple(base)
    generator = torch.Generator().manual_seed(seed)
    with torch.no_grad():
        reference = outputs(*values)
        moves = []
        for _ in range(trials):
            noisy = [
                v + (torch.rand(v.shape, dtype=v.dtype, generator=generator) * 2 - 1) * PRINTED_TOLERANCE
                for v in values
            ]
            moves.append(float((outputs(*noisy) - reference).abs().max()))
    jacobian = torch.autograd.functional.jacobian(  # type: ignore[no-untyped-call]  # untyped in torch
        outputs, values
    )
    sensitivity = sum(j.abs().flatten(start_dim=reference.dim()).sum(dim=-1) for j in jacobian)
    what = ", ".join(names) + (" and the input" if include_input else "")
    return RoundingBudget(
        what, torch.tensor(moves, dtype=torch.float64), float(sensitivity.max()) * PRINTED_TOLERANCE
    )


def experiment_1_detection() -> tuple[torch.Tensor, torch.Tensor]:
    """The smallest change to each printed output of experiment 1 that its recovery detects.

    Changing one printed output ``out[b, t, k]`` changes the target of one
    time step of :func:`~lstm_demo.recover.recover_inputs`; the change is
    detected when the refitted step's greatest residual ``|h - target|``
    exceeds :data:`~lstm_demo.tolerances.PRINTED_TOLERANCE`. To first order around the recovered
    input, a refit leaves the residual ``r - delta * P[:, k]``, where ``r``
    is the residual of the printed table and ``P`` projects out the
    directions the step's 4 inputs can follow (``I - J J^+``, ``J`` the
    5x4 Jacobian of ``h`` by ``x``). Solving for the first component to
    leave ``5e-5`` gives ``delta``.

    Returns
    -------
    tuple of torch.Tensor
        The smallest increase and the smallest decrease detected, each
        shaped like the printed ``out``: ``(batch=2, seq_len=3, 5)``, float64
        (``inf`` where none would be).
    """
    lstm = experiment_1_lstm(dtype=torch.float64)
    params = cell_params(lstm)
    printed = experiment_1_outputs()
    x = recovered_experiment_1_input().input
    batch, steps, hidden = printed.shape
    up = torch.full_like(printed, math.inf)
    down = torch.full_like(printed, math.inf)
    h = c = torch.zeros(batch, hidden, dtype=torch.float64)
    for t in range(steps):
        for b in range(batch):

            def h_of(xb: torch.Tensor, b: int = b, h: torch.Tensor = h, c: torch.Tensor = c) -> torch.Tensor:
                return cell_step(xb, h[b], c[b], params)[0]

            jac = torch.autograd.functional.jacobian(  # type: ignore[no-untyped-call]  # untyped in torch
                h_of, x[b, t]
            )  # (hidden, input)
            residual = h_of(x[b, t]) - printed[b, t]
            projector = torch.eye(hidden, dtype=torch.float64) - jac @ torch.linalg.pinv(jac)
            for sign, found in ((1.0, up), (-1.0, down)):
                # Raising target k by delta moves the refitted residual h - target by -delta * P[:, k].
                slope = -sign * projector
                with torch.no_grad():
                    crossings = torch.stack(
                        [
                            (PRINTED_TOLERANCE - residual[:, None]) / slope,
                            (-PRINTED_TOLERANCE - residual[:, None]) / slope,
                        ]
                    )
                crossings = torch.where(crossings > 0, crossings, math.inf)
                found[b, t] = crossings.amin(dim=(0, 1))
        with torch.no_grad():
            h, c = cell_step(x[:, t], h, c, params)
    return up, down
