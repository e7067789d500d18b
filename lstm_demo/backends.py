"""Which library runs a recurrent module, and whether the last bits depend on it.

On a CPU, PyTorch can run ``nn.LSTM`` through oneDNN (the switch is
``torch.backends.mkldnn.enabled``) or through its own ATen kernels; on a
GPU through cuDNN. Whether autograd records the call can matter too: oneDNN
has separate forward paths for training and for inference. The two results
a claim compares then differ in the last bits, or not, depending on the
switch and the grad mode. :func:`whole_vs_stepwise_by_backend` and
:func:`claims_by_backend` measure that, with every switch they touch put
back afterwards (:func:`~lstm_demo.precision.onednn`).
"""

from __future__ import annotations

import copy
from collections.abc import Callable, Iterable, Iterator, Mapping, Sequence
from contextlib import contextmanager
from dataclasses import dataclass

import torch
from torch import nn

from lstm_demo._types import State, leaves, state_to
from lstm_demo._validate import check_module, describe
from lstm_demo.claims import CLAIMS, ClaimResult
from lstm_demo.comparison import Comparison, compare
from lstm_demo.devices import available_devices
from lstm_demo.display import Table
from lstm_demo.precision import onednn, precision_flags
from lstm_demo.stepwise import run_stepwise

# Autograd nodes that only move data around the node that did the work.
_LAYOUT_NODES = ("TransposeBackward", "SqueezeBackward", "UnsqueezeBackward", "ViewBackward", "CloneBackward")


def autograd_node(tensor: torch.Tensor) -> str:
    """The name of the autograd node that computed ``tensor``, past transposes and views.

    For the output of an ``nn.LSTM`` call this names the implementation that
    ran: ``MkldnnRnnLayerBackward0`` (oneDNN), ``CudnnRnnBackward0`` (cuDNN),
    ``StackBackward0`` (ATen's loop, which stacks the steps' outputs).
    ``"-"`` when autograd recorded nothing (``torch.no_grad()``, or no input
    or parameter that requires grad).

    Raises
    ------
    TypeError
        If ``tensor`` is not a tensor.

    Examples
    --------
    >>> import torch
    >>> from lstm_demo.backends import autograd_node
    >>> x = torch.ones(2, 3, requires_grad=True)
    >>> autograd_node((2 * x).transpose(0, 1))
    'MulBackward0'
    >>> autograd_node(x.detach())
    '-'
    """
    if not isinstance(tensor, torch.Tensor):
        msg = f"Expected tensor to be a torch.Tensor, but got {describe(tensor)} instead."
        raise TypeError(msg)
    node = tensor.grad_fn
    while node is not None and node.name().startswith(_LAYOUT_NODES) and node.next_functions:
        node = node.next_functions[0][0]
    return "-" if node is None else node.name()


def _flat(result: tuple[torch.Tensor, State]) -> torch.Tensor:
    """``output``, then every state tensor (:func:`lstm_demo._types.leaves`), flattened into one detached vector."""
    return torch.cat([t.detach().reshape(-1) for t in leaves(result).values()])


def _on_off(value: bool | None) -> str:
    return "n/a" if value is None else ("on" if value else "off")


@dataclass(frozen=True)
class BackendRun:
    """One run of the whole-sequence call and the step-by-step loop, under one setting."""

    device: torch.device
    grad: bool
    """Whether autograd was on (the module's parameters require grad, as by default)."""
    onednn: bool | None
    """``torch.backends.mkldnn.enabled`` during the run; None where it does not apply (GPUs)."""
    node: str
    """:func:`autograd_node` of the whole-sequence call's output: which implementation ran."""
    comparison: Comparison
    """Step by step against the whole sequence, over ``output`` and then the final state(s), flattened."""

    def row(self) -> tuple[str, ...]:
        """The run as the cells of a table row."""
        return (
            str(self.device),
            _on_off(self.grad),
            _on_off(self.onednn),
            self.node,
            self.comparison.verdict,
        )


def _check_devices(devices: object) -> list[torch.device]:
    if devices is None:
        return available_devices()
    if not isinstance(devices, Sequence) or isinstance(devices, str):
        msg = f"Expected devices to be a list of torch.device or str, but got {describe(devices)} instead."
        raise TypeError(msg)
    for device in devices:
        if not isinstance(device, (torch.device, str)):
            msg = f"Expected each device to be a torch.device or str, but got {describe(device)} instead."
            raise TypeError(msg)
    return [torch.device(device) for device in devices]


def whole_vs_stepwise_by_backend(
    rnn: nn.RNNBase,
    input: torch.Tensor,
    hx: State | None = None,
    *,
    devices: Sequence[torch.device | str] | None = None,
) -> BackendRuns:
    """Whole sequence against step by step, with autograd on and off, oneDNN on and off, on every device.

    Each run feeds ``input`` to a copy of ``rnn`` in one call and through
    :func:`~lstm_demo.run_stepwise`, both under the same grad mode and
    switch, and compares the two. On a CPU that is four runs: autograd on
    and off, each with ``torch.backends.mkldnn.enabled`` True and False. On
    a GPU the oneDNN switch does not apply: two runs, with cuDNN's TF32 off,
    so that only the order of the arithmetic can differ. Every switch is put
    back afterwards.

    Parameters
    ----------
    rnn : nn.LSTM, nn.GRU or nn.RNN
        As for :func:`~lstm_demo.run_stepwise`; copied to each device.
    input : torch.Tensor
        As for :func:`~lstm_demo.run_stepwise`; moved to each device.
    hx : torch.Tensor or tuple of torch.Tensor, optional
        The initial state, moved to each device.
    devices : list of torch.device or str, optional
        Defaults to :func:`~lstm_demo.available_devices`.

    Returns
    -------
    BackendRuns
        The runs, device by device, autograd on first, oneDNN on first: a
        list that prints as a table.

    Raises
    ------
    TypeError
        If ``rnn`` is not an nn.LSTM, nn.GRU or nn.RNN, ``input`` is not a
        tensor, or ``devices`` is not a list of devices; and whatever
        :func:`~lstm_demo.run_stepwise` raises for its arguments, before
        anything runs.

    Examples
    --------
    >>> import torch
    >>> from torch import nn
    >>> from lstm_demo.backends import whole_vs_stepwise_by_backend
    >>> _ = torch.manual_seed(0)
    >>> runs = whole_vs_stepwise_by_backend(nn.LSTM(4, 5), torch.randn(3, 2, 4), devices=["cpu"])
    >>> [(run.grad, run.onednn) for run in runs]
    [(True, True), (True, False), (False, True), (False, False)]
    >>> len(str(runs).splitlines())  # a header and a row per run
    5
    """
    check_module(rnn)
    if not isinstance(input, torch.Tensor):
        msg = f"Expected input to be a torch.Tensor, but got {describe(input)} instead."
        raise TypeError(msg)
    devices = _check_devices(devices)
    runs = BackendRuns()
    for device in devices:
        model = copy.deepcopy(rnn).to(device)
        x, h0 = input.to(device), state_to(hx, device)
        switches: tuple[bool | None, ...] = (True, False) if device.type == "cpu" else (None,)
        for grad in (True, False):
            for switch in switches:
                with _setting(device, switch), torch.set_grad_enabled(grad):
                    stepwise = run_stepwise(model, x, h0)  # checks its arguments first
                    whole = model(x, h0)
                comparison = compare(_flat(stepwise), _flat(whole))
                runs.append(BackendRun(device, grad, switch, autograd_node(whole[0]), comparison))
    return runs


@contextmanager
def _setting(device: torch.device, switch: bool | None) -> Iterator[None]:
    if device.type == "cpu" and switch is not None:
        with onednn(switch):
            yield
    elif device.type == "cuda":
        with precision_flags(cudnn_tf32=False):
            yield
    else:
        yield


def _table(header: tuple[str, ...], rows: list[tuple[str, ...]], *, caption: str) -> Table:
    widths = [max(len(r[i]) for r in [header, *rows]) for i in range(len(header))]
    lines = [
        "  ".join(cell.ljust(w) for cell, w in zip(r, widths, strict=True)).rstrip() for r in [header, *rows]
    ]
    return Table("\n".join(lines), caption=caption, header=header, sections=[(None, rows)])


def _check_rows(what: str, rows: Sequence[object], cls: type) -> None:
    for row in rows:
        if not isinstance(row, cls):
            msg = f"Expected {what} to hold {cls.__name__}, but got {describe(row)} instead."
            raise TypeError(msg)


class BackendRuns(list[BackendRun]):
    """The runs of :func:`whole_vs_stepwise_by_backend`, shown as a table, one row each.

    Columns: the device, whether autograd recorded the call, whether oneDNN
    ran it, the autograd node of the whole-sequence call, and the comparison.
    ``str()`` is the plain-text table; on a page, as a code block's last
    value, it shows as an HTML table (:class:`~lstm_demo.display.Table`).

    Raises
    ------
    TypeError
        If it is given anything but :class:`BackendRun`.
    """

    def __init__(self, runs: Iterable[BackendRun] = ()) -> None:
        runs = list(runs)
        _check_rows("runs", runs, BackendRun)
        super().__init__(runs)

    def table(self) -> Table:
        """The runs as a :class:`~lstm_demo.display.Table`."""
        header = ("device", "autograd", "oneDNN", "autograd node", "step by step vs whole")
        caption = "Step by step against the whole sequence, under each setting"
        return _table(header, [run.row() for run in self], caption=caption)

    def __str__(self) -> str:
        return str(self.table())

    def _repr_html_(self) -> str:
        return self.table()._repr_html_()


@dataclass(frozen=True)
class ClaimBackends:
    """One claim run twice on one device: oneDNN on, then off (None where it does not apply)."""

    name: str
    on: ClaimResult
    off: ClaimResult | None

    @property
    def switch_changed_bits(self) -> bool | None:
        """Whether the module's own results (the claim's reference) differ bitwise between the settings.

        ``False`` means switching oneDNN changed no bit of what the module
        computed in this claim; ``None`` where the switch does not apply.
        """
        if self.off is None:
            return None
        return not all(torch.equal(a, b) for a, b in zip(self.on.reference, self.off.reference, strict=True))

    def row(self) -> tuple[str, ...]:
        """The claim as the cells of a table row: its name, a verdict per setting, and the switch's effect."""
        cells = [self.name, _result_cell(self.on)]
        cells.append("n/a" if self.off is None else _result_cell(self.off))
        changed = self.switch_changed_bits
        cells.append("n/a" if changed is None else ("yes" if changed else "no"))
        return tuple(cells)


def _result_cell(result: ClaimResult) -> str:
    if not result.holds:
        return f"FAILS, max abs diff {result.max_abs_diff:.3g}"
    return "bitwise equal" if result.bitwise else f"max abs diff {result.max_abs_diff:.3g}"


class ClaimsByBackend(list[ClaimBackends]):
    """The rows of :func:`claims_by_backend`, shown as a table (plain text, and HTML on a page).

    Raises
    ------
    TypeError
        If it is given anything but :class:`ClaimBackends`.
    """

    def __init__(self, rows: Iterable[ClaimBackends] = ()) -> None:
        rows = list(rows)
        _check_rows("rows", rows, ClaimBackends)
        super().__init__(rows)

    def table(self) -> Table:
        """The rows as a :class:`~lstm_demo.display.Table`."""
        header = ("claim", "oneDNN on", "oneDNN off", "module's bits moved")
        caption = "Each claim with oneDNN on and off, and whether the switch moved the module's bits"
        return _table(header, [row.row() for row in self], caption=caption)

    def __str__(self) -> str:
        return str(self.table())

    def _repr_html_(self) -> str:
        return self.table()._repr_html_()


def claims_by_backend(
    claims: Mapping[str, Callable[..., ClaimResult]] | None = None,
    *,
    device: torch.device | str = "cpu",
    dtype: torch.dtype = torch.float32,
) -> ClaimsByBackend:
    """Run each claim with oneDNN on and off; say which came out bitwise equal.

    Parameters
    ----------
    claims : optional
        A dict of name to claim, each called as ``claim(device, dtype)`` and
        returning a :class:`~lstm_demo.claims.ClaimResult`. Defaults to
        :data:`lstm_demo.claims.CLAIMS`.
    device : torch.device or str
        On a device other than the CPU the oneDNN switch does not apply and
        each claim runs once.
    dtype : torch.dtype
        Passed to each claim.

    Returns
    -------
    ClaimsByBackend
        In the order of ``claims``: a list that prints as a table. Whether each claim holds is left to
        the caller to assert.

    Raises
    ------
    TypeError
        If ``claims`` is not a mapping of names to callables, or
        ``device`` is not a device.

    Examples
    --------
    >>> from lstm_demo.backends import claims_by_backend
    >>> from lstm_demo.claims import batch_first
    >>> rows = claims_by_backend({"batch-first": batch_first})
    >>> [(row.name, row.on.holds, row.off.holds) for row in rows]
    [('batch-first', True, True)]
    >>> print(str(rows).splitlines()[0])
    claim        oneDNN on      oneDNN off     module's bits moved
    """
    if claims is None:
        claims = CLAIMS
    if not isinstance(claims, Mapping) or not all(
        isinstance(k, str) and callable(v) for k, v in claims.items()
    ):
        msg = f"Expected claims to be a mapping of names to claims, but got {describe(claims)} instead."
        raise TypeError(msg)
    if not isinstance(device, (torch.device, str)):
        msg = f"Expected device to be a torch.device or str, but got {describe(device)} instead."
        raise TypeError(msg)
    device = torch.device(device)
    rows = ClaimsByBackend()
    for name, run in claims.items():
        if device.type != "cpu":
            rows.append(ClaimBackends(name, run(device, dtype), None))
            continue
        with onednn(True):
            on = run(device, dtype)
        with onednn(False):
            off = run(device, dtype)
        rows.append(ClaimBackends(name, on, off))
    return rows
