"""The post's experiment 2, replayed from its seed alone, and the draws of the random stream each call took.

Today's PyTorch draws the same weights and inputs from ``torch.manual_seed(1)``
as the post's run did: :func:`replay_experiment_2` rebuilds them without
reading a printed number, :func:`experiment_2_printout` prints them as the
post's script did, and :func:`experiment_2_draws` measures which draws of
the random stream went where.
"""

from __future__ import annotations

import io
from collections.abc import Callable
from dataclasses import dataclass

import torch
from torch import nn

from lstm_demo._random import cpu_random
from lstm_demo.devices import resolve_device

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
