"""Plausible wrong LSTMs, and proof that every check the site makes catches each one.

A check compares ``nn.LSTM`` with an independent computation of the same
thing: one step at a time, layers stacked by hand, the equations written
out, an ``nn.LSTMCell`` loop, the post's printed numbers, the CPU's result.
A check is only worth something if it fails when that independent side is
wrong. Each :class:`Mutant` here is such a wrong side: a function with
``nn.LSTM``'s forward contract, ``mutant(lstm, input, hx=None)``, computing
the equations of :mod:`lstm_demo.scratch` with one plausible mistake.
:func:`run` puts every mutant in place of every check's independent side, on
every device and dtype, and compares at every tolerance the site uses
(:func:`~lstm_demo.tolerances.site_tolerances`): each must be caught. As a
control, the check's own independent side must pass at the same
tolerances. :func:`smallest_caught` bisects the size of one bug, a forget-gate
bias offset, down to the smallest each check still catches.
"""

from __future__ import annotations

import copy
import dataclasses
import functools
import math
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import ClassVar, cast

import torch
from torch import nn

from lstm_demo import post
from lstm_demo._types import LSTMResult, LSTMState
from lstm_demo._types import Result as ModuleResult
from lstm_demo._validate import StackSpec, describe
from lstm_demo.claims import (
    BATCH,
    HIDDEN,
    IN,
    SEQ,
    Place,
    _olah_lstm,
    _row_vector_lstm,
    move_bias_hh,
    post_stepwise_model,
    run_cell_loop,
)
from lstm_demo.devices import Tolerance, available_devices, resolve_device
from lstm_demo.layers import run_stacked, split_layers
from lstm_demo.precision import full_precision
from lstm_demo.scratch import (
    GRUResult,
    _gru_direction,
    _run_gru,
    peephole_lstm,
    run_layers,
    scratch_gru,
    scratch_lstm,
)
from lstm_demo.stepwise import run_stepwise
from lstm_demo.tolerances import one_thread, site_tolerances

Forward = Callable[..., ModuleResult]


def _hard_sigmoid(x: torch.Tensor) -> torch.Tensor:
    """Keras's ``hard_sigmoid``: ``clip(0.2 x + 0.5, 0, 1)``."""
    return (0.2 * x + 0.5).clamp(0.0, 1.0)


@dataclass(frozen=True)
class Equations:
    """The LSTM equations with switches for the mistakes; the defaults compute ``nn.LSTM``."""

    gate_order: tuple[str, str, str, str] = ("i", "f", "g", "o")
    """Which gate each of the four row blocks is read as (PyTorch's order is i, f, g, o)."""
    hard_sigmoid: bool = False
    both_biases: bool = True
    carry_h: bool = True
    carry_c: bool = True
    tanh_c: bool = True
    forget_offset: float = 0.0
    """Added to the forget gate's pre-activation."""
    output_lags: bool = False
    """``output[t]`` holds the state before step ``t`` rather than after it."""
    layers_read_input: bool = False
    """Every layer reads the module's input instead of the layer below's output."""
    peephole: float = 0.0
    """A diagonal peephole weight, the same for every unit; ``c_{t-1}`` feeds i and f, ``c_t`` feeds o."""

    module_class: ClassVar[type[nn.RNNBase]] = nn.LSTM
    """The module these equations stand in for."""

    def __call__(self, lstm: nn.LSTM, input: torch.Tensor, hx: LSTMState | None = None) -> LSTMResult:
        """``lstm(input, hx)`` as these equations compute it (batched or not, ``batch_first`` either way)."""
        if not isinstance(lstm, nn.LSTM) or lstm.proj_size:
            msg = f"Expected lstm to be an nn.LSTM without proj_size, but got {describe(lstm)} instead."
            raise TypeError(msg)
        spec = StackSpec.of(lstm)
        spec.check_input(input)
        spec.check_hx(hx, input)
        return run_layers(lstm, input, hx, self._direction, layers_read_input=self.layers_read_input)

    def _direction(
        self,
        lstm: nn.LSTM,
        name: str,
        x: torch.Tensor,
        state: tuple[torch.Tensor, torch.Tensor],
        *,
        reverse: bool,
    ) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
        w_ih, w_hh = getattr(lstm, f"weight_ih_{name}"), getattr(lstm, f"weight_hh_{name}")
        projected = x @ w_ih.T
        if lstm.bias:
            projected = projected + getattr(lstm, f"bias_ih_{name}")
            if self.both_biases:
                projected = projected + getattr(lstm, f"bias_hh_{name}")
        sigmoid = _hard_sigmoid if self.hard_sigmoid else torch.sigmoid
        h0, c0 = state
        h, c = state
        last = h
        steps = range(x.shape[0] - 1, -1, -1) if reverse else range(x.shape[0])
        outputs: list[torch.Tensor] = [x.new_empty(0)] * x.shape[0]
        for t in steps:
            gates = dict(zip(self.gate_order, (projected[t] + h @ w_hh.T).chunk(4, dim=-1), strict=True))
            before = h
            c_prev = c if self.carry_c else c0
            peep = self.peephole * c_prev
            c = sigmoid(gates["f"] + self.forget_offset + peep) * c_prev + sigmoid(
                gates["i"] + peep
            ) * torch.tanh(gates["g"])
            h = sigmoid(gates["o"] + self.peephole * c) * (torch.tanh(c) if self.tanh_c else c)
            outputs[t] = before if self.output_lags else h
            last = h  # the final state reported as h_n, whatever is carried into the next step
            if not self.carry_h:
                h = h0
        return torch.stack(outputs), last, c


def _multi_layer_square(lstm: nn.LSTM) -> bool:
    """Layer 2 can read the input only where the input has as many features as layer 1's output."""
    return lstm.num_layers > 1 and lstm.input_size == lstm.hidden_size * (2 if lstm.bidirectional else 1)


def _has_bias_hh(lstm: nn.LSTM) -> bool:
    """Forgetting ``bias_hh`` changes nothing where it is zero (the post's experiment 2 has zero biases)."""
    return lstm.bias and any(
        bool(b.ne(0).any()) for n, b in lstm.named_parameters() if n.startswith("bias_hh")
    )


@dataclass(frozen=True)
class Mutant:
    """A plausible wrong LSTM: ``mutant(lstm, input, hx=None)`` returns what a buggy forward would."""

    name: str
    """Short name, as ``python -m lstm_demo mutants`` prints it."""
    bug: str
    """The mistake, in words."""
    equations: Equations | GRUEquations
    applies: Callable[[nn.LSTM], bool] = lambda lstm: True
    """Whether the mistake can be made on this module (e.g. a second layer exists)."""

    def __call__(self, lstm: nn.LSTM, input: torch.Tensor, hx: LSTMState | None = None) -> ModuleResult:
        if not isinstance(lstm, self.equations.module_class) or not self.applies(lstm):
            msg = f"Expected a module the mistake {self.name!r} can be made on, but got {lstm} instead."
            raise NotApplicableError(msg)
        return self.equations(lstm, input, hx)


class NotApplicableError(ValueError):
    """A mutant's mistake cannot be made on this module (e.g. it has one layer only)."""


#: Every mutant, by name.
MUTANTS: dict[str, Mutant] = {
    m.name: m
    for m in (
        Mutant(
            "gate-order",
            "blocks read as i, g, f, o (TensorFlow's i, j, f, o order)",
            Equations(gate_order=("i", "g", "f", "o")),
        ),
        Mutant(
            "hard-sigmoid",
            "gates through Keras 2's hard sigmoid, clip(0.2x + 0.5, 0, 1)",
            Equations(hard_sigmoid=True),
        ),
        Mutant(
            "one-bias", "only bias_ih added; bias_hh forgotten", Equations(both_biases=False), _has_bias_hh
        ),
        Mutant("h-not-carried", "h_0 fed to every step instead of the last h", Equations(carry_h=False)),
        Mutant("c-not-carried", "c reset to c_0 at every step", Equations(carry_c=False)),
        Mutant("no-tanh-on-c", "h = o * c, without tanh", Equations(tanh_c=False)),
        Mutant("forget-bias+0.1", "forget gate's bias off by 0.1", Equations(forget_offset=0.1)),
        Mutant("off-by-one-step", "output[t] is the state before step t", Equations(output_lags=True)),
        Mutant(
            "layer-2-gets-input",
            "layer 2 fed the input instead of layer 1's output",
            Equations(layers_read_input=True),
            _multi_layer_square,
        ),
    )
}


# --- the checks -------------------------------------------------------------------------------------


def _leaves(result: ModuleResult) -> list[torch.Tensor]:
    output, state = result
    return [output, *state] if isinstance(state, tuple) else [output, state]


def _module_leaves(lstm: nn.LSTM, x: torch.Tensor) -> list[torch.Tensor]:
    return _leaves(lstm(x))


@dataclass(frozen=True)
class Check:
    """A claim's comparison with its independent side left open.

    ``setup(device, dtype)`` builds the claim's model and input there;
    ``expected(lstm, x)`` is the side that stays (``nn.LSTM``'s results, the
    post's printed numbers, the CPU's results); the independent side is any
    ``forward(lstm, x)``, the claim's own being ``real``.
    """

    name: str
    claim: str
    setup: Callable[[torch.device, torch.dtype], tuple[nn.LSTM, torch.Tensor]]
    real: Forward
    expected: Callable[[nn.LSTM, torch.Tensor], list[torch.Tensor]] = _module_leaves
    printed: bool = False
    """Compared with printed outputs, so only the post's tolerance applies."""
    gpu_only: bool = False

    def actual(self, forward: Forward, lstm: nn.LSTM, x: torch.Tensor) -> list[torch.Tensor]:
        """What ``forward`` gives for the compared values: every result, or the output alone (printed)."""
        with torch.no_grad():
            result = forward(lstm, x)
        return [result[0]] if self.printed else _leaves(result)

    def pairs(
        self, forward: Forward, device: torch.device, dtype: torch.dtype
    ) -> tuple[nn.LSTM, list[tuple[torch.Tensor, torch.Tensor]]]:
        """The module, and ``(actual, expected)`` pairs in float64 on the CPU, with ``forward`` as the independent side."""
        lstm, x = self.setup(device, dtype)
        with torch.no_grad():
            expected = self.expected(lstm, x)
        actual = self.actual(forward, lstm, x)
        return lstm, [(a.double().cpu(), e.double().cpu()) for a, e in zip(actual, expected, strict=True)]


def _post_1_model(device: torch.device, dtype: torch.dtype) -> tuple[nn.LSTM, torch.Tensor]:
    at = Place(device, dtype)
    return at.module(post_stepwise_model), at.randn(2, 3, 4)


def _two_layers(device: torch.device, dtype: torch.dtype) -> tuple[nn.LSTM, torch.Tensor]:
    at = Place(device, dtype)
    return at.lstm(3, 3, num_layers=2), at.randn(5, 1, 3)


def _scratch_model(device: torch.device, dtype: torch.dtype) -> tuple[nn.LSTM, torch.Tensor]:
    at = Place(device, dtype)
    return at.lstm(IN, HIDDEN, num_layers=2, bidirectional=True), at.randn(SEQ, BATCH, IN)


def _one_layer(device: torch.device, dtype: torch.dtype) -> tuple[nn.LSTM, torch.Tensor]:
    at = Place(device, dtype)
    return at.lstm(IN, HIDDEN), at.randn(SEQ, BATCH, IN)


def _stacked(lstm: nn.LSTM, x: torch.Tensor, hx: LSTMState | None = None) -> ModuleResult:
    return run_stacked(split_layers(lstm), x, hx)


def _post_setup(experiment: int) -> Callable[[torch.device, torch.dtype], tuple[nn.LSTM, torch.Tensor]]:
    def setup(device: torch.device, dtype: torch.dtype) -> tuple[nn.LSTM, torch.Tensor]:
        if experiment == 1:
            lstm = post.experiment_1_lstm(device=device, dtype=dtype)
            return lstm, post.recovered_experiment_1_input().input.to(device=device, dtype=dtype)
        lstm = post.experiment_2_lstm(device=device, dtype=dtype)
        return lstm, post.experiment_2_inputs().to(device=device, dtype=dtype)

    return setup


def _printed(experiment: int) -> Callable[[nn.LSTM, torch.Tensor], list[torch.Tensor]]:
    def printed(lstm: nn.LSTM, x: torch.Tensor) -> list[torch.Tensor]:
        return [post.experiment_1_outputs() if experiment == 1 else post.experiment_2_outputs()]

    return printed


def _on_the_cpu(lstm: nn.LSTM, x: torch.Tensor) -> list[torch.Tensor]:
    """The same module and input, copied to the CPU and run there."""
    return _leaves(copy.deepcopy(lstm).cpu()(x.cpu()))


def _module(lstm: nn.LSTM, x: torch.Tensor, hx: LSTMState | None = None) -> LSTMResult:
    result: LSTMResult = lstm(x, hx)
    return result


_CHECKS = (
    Check(
        "post-stepwise",
        "one step at a time (run_stepwise) vs the whole sequence; LSTM(4, 5), U(-0.08, 0.08)",
        _post_1_model,
        run_stepwise,
    ),
    Check(
        "post-layers",
        "two layers stacked by hand (run_stacked) vs num_layers=2; LSTM(3, 3)",
        _two_layers,
        _stacked,
    ),
    Check(
        "scratch",
        "the equations written out vs nn.LSTM; 2 layers, bidirectional",
        _scratch_model,
        scratch_lstm,
    ),
    Check(
        "lstmcell-loop",
        "an nn.LSTMCell loop vs nn.LSTM",
        _one_layer,
        run_cell_loop,
    ),
    Check(
        "post-experiment-1",
        "the post's 30 printed outputs of experiment 1, from the input recovered for nn.LSTM "
        "(a mutant is not refitted an input of its own, so this check is optimistic)",
        _post_setup(1),
        _module,
        _printed(1),
        printed=True,
    ),
    Check(
        "post-experiment-2",
        "the post's 15 printed outputs of experiment 2 (method 2, layers stacked)",
        _post_setup(2),
        _stacked,
        _printed(2),
        printed=True,
    ),
    Check(
        "cpu-vs-gpu",
        "the same module on a GPU vs on the CPU; LSTM(3, 3, 2 layers)",
        _two_layers,
        _module,
        _on_the_cpu,
        gpu_only=True,
    ),
)
# --- biases, peepholes, notations and the GRU ---------------------------------------------------------


@dataclass(frozen=True)
class GRUEquations:
    """The GRU equations with switches for the mistakes; the defaults compute ``nn.GRU``."""

    reset_after: bool = True
    """Whether ``r`` is applied after the product, ``r * (W_hn h + b_hn)`` (PyTorch), or before it (Cho et al.)."""
    b_hn_inside: bool = True
    """``b_hn`` inside ``r * (...)``; outside it is what moving ``b_hn`` into ``b_in`` computes."""
    update_offset: float = 0.0
    """Added to the update gate's pre-activation."""

    module_class: ClassVar[type[nn.RNNBase]] = nn.GRU
    """The module these equations stand in for."""

    def __call__(self, gru: nn.RNNBase, input: torch.Tensor, hx: torch.Tensor | None = None) -> GRUResult:
        """``gru(input, hx)`` as these equations compute it (batched or not, ``batch_first`` either way)."""
        if not isinstance(gru, nn.GRU):
            msg = f"Expected gru to be an nn.GRU, but got {describe(gru)} instead."
            raise TypeError(msg)
        spec = StackSpec.of(gru)
        spec.check_input(input)
        spec.check_hx(hx, input)
        direction = functools.partial(
            _gru_direction,
            reset_after=self.reset_after,
            b_hn_inside=self.b_hn_inside,
            update_offset=self.update_offset,
        )
        return _run_gru(gru, input, hx, direction)


MUTANTS.update(
    (m.name, m)
    for m in (
        Mutant(
            "peephole",
            "peephole connections (c_(t-1) into i and f, c_t into o), weight 0.5",
            Equations(peephole=0.5),
        ),
        Mutant(
            "gru-reset-before",
            "GRU: r applied before the product, W_hn (r * h) + b_hn (Cho et al.'s form)",
            GRUEquations(reset_after=False),
        ),
        Mutant(
            "gru-b_hn-outside-r",
            "GRU: b_hn added outside r, as if moved into b_in",
            GRUEquations(b_hn_inside=False),
        ),
    )
)


def _offset_mutant(module: nn.Module, offset: float) -> Equations | GRUEquations:
    """The forget gate's bias moved by ``offset``; for an ``nn.GRU``, the update gate's."""
    return (
        GRUEquations(update_offset=offset) if isinstance(module, nn.GRU) else Equations(forget_offset=offset)
    )


def _gru_two_layers(device: torch.device, dtype: torch.dtype) -> tuple[nn.LSTM, torch.Tensor]:
    at = Place(device, dtype)
    gru = at.module(lambda: nn.GRU(IN, HIDDEN, num_layers=2))
    # A check's module is typed nn.LSTM; an nn.GRU here meets the GRU mutants only (Mutant.__call__).
    return cast("nn.LSTM", gru), at.randn(SEQ, BATCH, IN)


def _two_layers_4(device: torch.device, dtype: torch.dtype) -> tuple[nn.LSTM, torch.Tensor]:
    at = Place(device, dtype)
    return at.lstm(IN, HIDDEN, num_layers=2), at.randn(SEQ, BATCH, IN)


def _biases_moved(lstm: nn.LSTM, x: torch.Tensor) -> ModuleResult:
    result: ModuleResult = move_bias_hh(lstm)(x)
    return result


def _gru_rz_moved(gru: nn.GRU, x: torch.Tensor) -> ModuleResult:
    result: ModuleResult = move_bias_hh(gru, gates=[0, 1])(x)
    return result


def _without_peepholes(lstm: nn.LSTM, x: torch.Tensor) -> ModuleResult:
    return peephole_lstm(lstm, x, None)


_NOTATION_CHECKS = (
    Check("two-biases", "bias_hh moved into bias_ih vs nn.LSTM; 2 layers", _two_layers_4, _biases_moved),
    Check(
        "no-peepholes",
        "the equations without peepholes (lstm_cell) vs nn.LSTM",
        _one_layer,
        _without_peepholes,
    ),
    Check("olah-notation", "Olah's W [h, x] + b vs nn.LSTM", _one_layer, _olah_lstm),
    Check("row-vector", "x @ kernel (in, 4H), gates i, f, g, o vs nn.LSTM", _one_layer, _row_vector_lstm),
    Check("gru-bias", "b_hr, b_hz moved into b_ir, b_iz vs nn.GRU; 2 layers", _gru_two_layers, _gru_rz_moved),
    Check("cho-gru", "the GRU equations written out vs nn.GRU; 2 layers", _gru_two_layers, scratch_gru),
)

#: Every check, by the claim name ``python -m lstm_demo check`` uses where there is one.
CHECKS: dict[str, Check] = {check.name: check for check in (*_CHECKS, *_NOTATION_CHECKS)}


def tolerances_for(check: Check, dtype: torch.dtype) -> list[str]:
    """The names of the site's tolerances a check is held to in ``dtype``.

    Every tolerance of that dtype, CPU and GPU alike, and the post's; a
    comparison with printed numbers only the post's.

    Examples
    --------
    >>> import torch
    >>> from lstm_demo.mutants import CHECKS, tolerances_for
    >>> tolerances_for(CHECKS["scratch"], torch.float64)
    ['cpu float64', 'gpu float64', 'post printed']
    """
    if check.printed:
        return ["post printed"]
    name = str(dtype).removeprefix("torch.")
    return [f"cpu {name}", f"gpu {name}", "post printed"]


def _ratio(pairs: list[tuple[torch.Tensor, torch.Tensor]], tolerance: Tolerance) -> float:
    """Greatest ``|actual - expected| / (atol + rtol |expected|)``: above 1 means caught."""
    worst = 0.0
    for actual, expected in pairs:
        allowed = tolerance.atol + tolerance.rtol * expected.abs()
        diff = (actual - expected).abs()
        if not bool(torch.isfinite(diff).all()):
            return math.inf
        worst = max(worst, float((diff / allowed).max()))
    return worst


@dataclass(frozen=True)
class Result:
    """One mutant (or the control) against one check, on one device and dtype, at one tolerance."""

    mutant: str
    """A :data:`MUTANTS` name, or ``"none (control)"`` for the check's own independent side."""
    claim: str
    device: str
    dtype: str
    tolerance: str
    caught: bool
    """Whether the comparison failed (for the control it must not)."""
    max_abs_diff: float
    ratio: float
    """Greatest ``|diff| / allowed``, above 1 when caught."""


CONTROL = "none (control)"


def _placements(
    devices: Sequence[torch.device], dtypes: Sequence[torch.dtype]
) -> list[tuple[torch.device, torch.dtype]]:
    return [(d, t) for d in devices for t in dtypes if not (d.type == "mps" and t == torch.float64)]


def _validated(
    devices: Sequence[torch.device | str] | None, dtypes: Sequence[torch.dtype] | None
) -> tuple[list[torch.device], list[torch.dtype]]:
    chosen = [resolve_device(d) for d in devices] if devices is not None else available_devices()
    dtypes = list(dtypes) if dtypes is not None else [torch.float32, torch.float64]
    for dtype in dtypes:
        if dtype not in (torch.float32, torch.float64):
            msg = f"Expected dtypes torch.float32 or torch.float64, but got {dtype!r} instead."
            raise TypeError(msg)
    if not chosen or not dtypes:
        msg = f"Expected at least one device and one dtype, but got {len(chosen)} and {len(dtypes)} instead."
        raise ValueError(msg)
    return list(dict.fromkeys(chosen)), list(dict.fromkeys(dtypes))


def run(
    *,
    devices: Sequence[torch.device | str] | None = None,
    dtypes: Sequence[torch.dtype] | None = None,
    mutants: Sequence[str] | None = None,
    checks: Sequence[str] | None = None,
) -> list[Result]:
    """Every mutant against every check it applies to, on every device and dtype, at every tolerance.

    Also one control row per check, device, dtype and tolerance: the check's
    own independent side, which must pass. GPU-only checks (``cpu-vs-gpu``)
    run on GPUs only. Everything runs with TF32 off, on one CPU thread.

    Parameters
    ----------
    devices : sequence of str or torch.device, optional
        Default: :func:`~lstm_demo.available_devices`.
    dtypes : sequence of torch.dtype, optional
        Default: float32 and float64 (float64 is skipped on MPS).
    mutants, checks : sequence of str, optional
        Names from :data:`MUTANTS` and :data:`CHECKS`; default all.

    Raises
    ------
    TypeError
        If a dtype is not float32 or float64.
    ValueError
        If a device is not this machine's, or a name is unknown.

    Examples
    --------
    >>> from lstm_demo.mutants import run
    >>> results = run(devices=["cpu"], mutants=["no-tanh-on-c"], checks=["post-stepwise"])
    >>> sorted({(r.mutant, r.caught) for r in results})
    [('no-tanh-on-c', True), ('none (control)', False)]
    """
    chosen_devices, chosen_dtypes = _validated(devices, dtypes)
    for label, names, known in (("mutant", mutants, MUTANTS), ("check", checks, CHECKS)):
        unknown = [n for n in names or () if n not in known]
        if unknown:
            msg = f"Expected {label} names from {', '.join(known)}, but got {', '.join(unknown)} instead."
            raise ValueError(msg)
    tolerances = site_tolerances()
    results = []
    with full_precision(), one_thread():
        for check in (CHECKS[n] for n in (checks or CHECKS)):
            for device, dtype in _placements(chosen_devices, chosen_dtypes):
                if check.gpu_only and device.type == "cpu":
                    continue
                sides: dict[str, Forward] = {CONTROL: check.real}
                sides.update({n: MUTANTS[n] for n in mutants or MUTANTS})
                lstm, x = check.setup(device, dtype)
                with torch.no_grad():
                    expected = [e.double().cpu() for e in check.expected(lstm, x)]
                for name, forward in sides.items():
                    try:
                        actual = check.actual(forward, lstm, x)
                    except NotApplicableError:
                        continue
                    pairs = [(a.double().cpu(), e) for a, e in zip(actual, expected, strict=True)]
                    diff = max(float((a - e).abs().max()) for a, e in pairs)
                    for tolerance_name in tolerances_for(check, dtype):
                        ratio = _ratio(pairs, tolerances[tolerance_name])
                        results.append(
                            Result(
                                name,
                                check.name,
                                str(device),
                                str(dtype).removeprefix("torch."),
                                tolerance_name,
                                ratio > 1,
                                diff,
                                ratio,
                            )
                        )
    return results


def escapes(results: list[Result]) -> list[Result]:
    """The rows that make the suite fail: a mutant not caught, or a control caught."""
    return [r for r in results if r.caught == (r.mutant == CONTROL)]


def table(results: list[Result]) -> str:
    """Results as text: one line per mutant and check, one verdict per device, dtype and tolerance.

    A verdict is ``caught`` when every tolerance caught it (the control:
    ``passes`` when none did), else the tolerances it escaped. Each line also
    gives the smallest ``|diff| / allowed`` over the tolerances (``x`` factor).
    """
    rows: dict[tuple[str, str], list[Result]] = {}
    for r in results:
        rows.setdefault((r.mutant, r.claim), []).append(r)
    width = max(len(m) for m, _ in rows)
    check_width = max(len(c) for _, c in rows)
    lines = [f"{'mutant':<{width}}  {'check':<{check_width}}  verdict"]
    for (mutant, claim), found in rows.items():
        bad = escapes(found)
        control = mutant == CONTROL
        if bad:
            where = ", ".join(f"{r.device} {r.dtype} at {r.tolerance}" for r in bad)
            verdict = f"{'CAUGHT' if control else 'ESCAPES'}: {where}"
        else:
            worst = max(r.ratio for r in found) if control else min(r.ratio for r in found)
            verdict = (
                f"passes (<= {worst:.2g} of allowed)" if control else f"caught (>= {worst:.2g}x allowed)"
            )
        lines.append(f"{mutant:<{width}}  {claim:<{check_width}}  {verdict}")
    return "\n".join(lines)


# --- the smallest bug each check catches -----------------------------------------------------------------


@dataclass(frozen=True)
class Smallest:
    """The smallest forget-gate bias offset a check catches at one tolerance."""

    claim: str
    device: str
    dtype: str
    tolerance: str
    offset: float
    """Smallest offset found caught, ``inf`` if even an offset of 1 passes."""
    not_caught: float
    """An offset just below it that passes; the two bracket the threshold."""


#: The bisection stops when the offset caught and the one not caught are this close in log10 (1.2%).
RESOLUTION = 0.005


def _named_ratio(ratios: Callable[[float], dict[str, float]], name: str, log_offset: float) -> float:
    return ratios(log_offset)[name]


def _threshold(ratio_at: Callable[[float], float]) -> tuple[float, float]:
    """``(low, high)`` in log10 of the offset: ``high`` caught, ``low`` not, at most RESOLUTION apart."""
    log_offset = -3.0
    for _ in range(8):  # the error is about linear in a small offset: aim where ratio_at is 1
        ratio = ratio_at(log_offset)
        if not 0 < ratio < math.inf:
            break
        step = -math.log10(ratio)
        log_offset = min(0.0, max(-16.0, log_offset + step))
        if abs(step) < 0.005:
            break
    high, width = log_offset + 0.01, 0.01
    while ratio_at(high) <= 1:
        if high >= 0:
            return 0.0, math.inf
        high, width = min(0.0, high + width), 2 * width
    low, width = min(log_offset, high) - 0.01, 0.01
    while ratio_at(low) > 1:
        if low <= -16:
            return -math.inf, low
        low, width = max(-16.0, low - width), 2 * width
    while high - low > RESOLUTION:
        middle = (low + high) / 2
        low, high = (low, middle) if ratio_at(middle) > 1 else (middle, high)
    return low, high


def smallest_caught(
    check: str,
    *,
    device: torch.device | str = "cpu",
    dtype: torch.dtype = torch.float32,
    tolerances: Sequence[str] | None = None,
) -> list[Smallest]:
    """The smallest forget-gate bias offset the check catches, per tolerance, bracketed by bisection.

    The mutant is :class:`Equations` with ``forget_offset`` (for a check
    on an ``nn.GRU``, :class:`GRUEquations` with ``update_offset``, the
    update gate ``z`` keeping the old state as the forget gate keeps
    ``c``). A few secant
    steps on a log scale aim at the size where the greatest
    ``|diff| / allowed`` reaches 1; then an offset that passes and one that
    is caught are found around it, and the bracket is halved until they are
    within :data:`RESOLUTION` decades (1.2%) of each other. At every tolerance
    of :func:`tolerances_for` the check, or those named in ``tolerances``.

    Raises
    ------
    TypeError
        If ``dtype`` is not float32 or float64.
    ValueError
        If ``check`` is not in :data:`CHECKS`, or needs a GPU and ``device``
        is the CPU, or ``device`` is not one of this machine's, or a name in
        ``tolerances`` is not one the check is held to in ``dtype``.

    Examples
    --------
    >>> from lstm_demo.mutants import smallest_caught
    >>> [found] = smallest_caught("post-experiment-2")
    >>> found.tolerance, found.not_caught < found.offset < 1e-2
    ('post printed', True)
    """
    if check not in CHECKS:
        msg = f"Expected a check name from {', '.join(CHECKS)}, but got {check!r} instead."
        raise ValueError(msg)
    chosen, (dtype,) = _validated([device], [dtype])
    device = chosen[0]
    spec = CHECKS[check]
    if spec.gpu_only and device.type == "cpu":
        msg = f"Expected a GPU for check {check!r}, but got {device} instead."
        raise ValueError(msg)
    allowed = tolerances_for(spec, dtype)
    unknown = [n for n in tolerances or () if n not in allowed]
    if unknown:
        msg = f"Expected tolerance names from {', '.join(allowed)}, but got {', '.join(unknown)} instead."
        raise ValueError(msg)
    chosen_tolerances = {n: site_tolerances()[n] for n in tolerances or allowed}
    cache: dict[float, dict[str, float]] = {}
    with full_precision(), one_thread(), torch.no_grad():
        lstm, x = spec.setup(device, dtype)
        expected = [e.double().cpu() for e in spec.expected(lstm, x)]

    def ratios(log_offset: float) -> dict[str, float]:
        if log_offset not in cache:
            actual = spec.actual(_offset_mutant(lstm, 10.0**log_offset), lstm, x)
            pairs = [(a.double().cpu(), e) for a, e in zip(actual, expected, strict=True)]
            cache[log_offset] = {n: _ratio(pairs, t) for n, t in chosen_tolerances.items()}
        return cache[log_offset]

    found = []
    with full_precision(), one_thread():
        for name in chosen_tolerances:
            low, high = _threshold(functools.partial(_named_ratio, ratios, name))
            found.append(
                Smallest(
                    spec.name, str(device), str(dtype).removeprefix("torch."), name, 10.0**high, 10.0**low
                )
            )
    return found


def as_json(results: list[Result]) -> dict[str, object]:
    """The ``--json`` document: the tolerances with their derivations, then every result."""
    return {
        "tolerances": [
            {"name": name, "rtol": t.rtol, "atol": t.atol, "why": t.why}
            for name, t in site_tolerances().items()
        ],
        "results": [dataclasses.asdict(r) for r in results],
    }
