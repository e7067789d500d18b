"""The questions people ask about nn.LSTM, each a claim that runs on any device.

Every function here builds small seeded modules and inputs on the CPU, moves
them to ``device`` and ``dtype``, runs the experiment with TF32 off
(:func:`~lstm_demo.precision.full_precision`) and returns a
:class:`~lstm_demo.claims.ClaimResult`: what was compared, how it came out,
within :func:`~lstm_demo.devices.tolerance_for` that device and dtype. The
gallery pages show each one; ``python -m lstm_demo check`` runs them all.
"""

from __future__ import annotations

import functools
import textwrap
import warnings
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from typing import Any

import torch
from torch import nn
from torch.nn.utils.rnn import pack_padded_sequence, pad_packed_sequence

from lstm_demo._random import cpu_random
from lstm_demo.claims import (
    NUM_LAYERS_VS_STACKED,
    WHOLE_VS_STEPWISE,
    ClaimResult,
    claim_result,
    num_layers_vs_stacked,
    whole_vs_stepwise,
)
from lstm_demo.devices import each_device, resolve_device
from lstm_demo.layers import run_stacked, split_directions, split_layers
from lstm_demo.precision import full_precision
from lstm_demo.scratch import scratch_lstm
from lstm_demo.stepwise import run_stepwise

Question = Callable[..., ClaimResult]

DTYPES = (torch.float32, torch.float64)

# Sizes small enough for every page and check to run in milliseconds.
IN, HIDDEN, SEQ, BATCH = 3, 4, 6, 3


def _placement(device: Any, dtype: Any) -> tuple[torch.device, torch.dtype]:
    if dtype not in DTYPES:
        msg = f"Expected dtype torch.float32 or torch.float64, but got {dtype!r} instead."
        raise TypeError(msg)
    device = resolve_device(device)
    if device.type == "mps" and dtype == torch.float64:
        msg = "Expected dtype torch.float32 on mps, which has no float64, but got torch.float64 instead."
        raise ValueError(msg)
    return device, dtype


def _build(factory: Callable[[], nn.Module], seed: int, device: torch.device, dtype: torch.dtype) -> Any:
    """``factory()`` with parameters drawn from ``seed`` on the CPU, then moved; the caller's RNG untouched."""
    with cpu_random(seed):
        module = factory()
    return module.to(device=device, dtype=dtype)


def _randn(*shape: int, seed: int, device: torch.device, dtype: torch.dtype) -> torch.Tensor:
    generator = torch.Generator().manual_seed(seed)
    return torch.randn(*shape, generator=generator, dtype=torch.float64).to(device=device, dtype=dtype)


def _states(sentence: str) -> Callable[[Question], Question]:
    """Attach the sentence a question's claim states to it, as ``.claim``; run it with TF32 off.

    Every question runs inside :func:`~lstm_demo.precision.full_precision`,
    so its verdict never depends on the caller's TF32 flags.
    """

    def attach(question: Question) -> Question:
        @functools.wraps(question)
        def at_full_precision(*args: Any, **kwargs: Any) -> ClaimResult:
            with full_precision():
                return question(*args, **kwargs)

        at_full_precision.claim = sentence  # type: ignore[attr-defined]
        return at_full_precision

    return attach


@contextmanager
def _quiet_projection() -> Iterator[None]:
    """PyTorch warns once that oneDNN has no LSTM projection; the result is right either way."""
    with warnings.catch_warnings():
        warnings.filterwarnings("ignore", message="LSTM with projections is not supported with oneDNN")
        yield


LSTMCELL_LOOP = "An nn.LSTMCell in a Python loop, holding nn.LSTM's weights, equals nn.LSTM."


@_states(LSTMCELL_LOOP)
def lstmcell_loop(device: Any = "cpu", dtype: torch.dtype = torch.float32, *, seed: int = 0) -> ClaimResult:
    """Claim: ``nn.LSTMCell`` stepped in a loop equals ``nn.LSTM`` with the same weights.

    Parameters
    ----------
    device : str or torch.device
        One of :func:`~lstm_demo.available_devices`; ``"cuda"`` means the current GPU.
    dtype : torch.dtype
        ``torch.float32`` or ``torch.float64``.
    seed : int
        Seeds the module's parameters and the input.

    Examples
    --------
    >>> from lstm_demo.questions import lstmcell_loop
    >>> result = lstmcell_loop()
    >>> result.holds, list(result.comparisons)
    (True, ['output', 'h_n', 'c_n'])
    """
    device, dtype = _placement(device, dtype)
    lstm = _build(lambda: nn.LSTM(IN, HIDDEN), seed, device, dtype)
    cell = nn.utils.skip_init(nn.LSTMCell, IN, HIDDEN, device=device, dtype=dtype)  # weights copied next
    with torch.no_grad():
        for name in ("weight_ih", "weight_hh", "bias_ih", "bias_hh"):
            getattr(cell, name).copy_(getattr(lstm, f"{name}_l0"))
        x = _randn(SEQ, BATCH, IN, seed=seed + 1, device=device, dtype=dtype)
        h = c = torch.zeros(BATCH, HIDDEN, device=device, dtype=dtype)
        outputs = []
        for x_t in x:
            h, c = cell(x_t, (h, c))
            outputs.append(h)
        output, (h_n, c_n) = lstm(x)
    return claim_result(
        LSTMCELL_LOOP,
        device,
        dtype,
        {"output": (torch.stack(outputs), output), "h_n": (h[None], h_n), "c_n": (c[None], c_n)},
    )


LAST_OUTPUT = (
    "output[-1] equals h_n[-1] for a unidirectional LSTM; for a bidirectional one, "
    "h_n[-1] (the backward direction) equals the second half of output[0]."
)


@_states(LAST_OUTPUT)
def last_output(device: Any = "cpu", dtype: torch.dtype = torch.float32, *, seed: int = 0) -> ClaimResult:
    """Claim: where the last hidden state sits in ``output``, one direction and two.

    ``output`` holds the top layer's hidden state at every step. Going forward,
    the final state is the last step's, ``output[-1]``. Going backward, the
    final state is reached at the *first* time step, so for a bidirectional
    LSTM ``h_n[-1]`` is ``output[0, :, H:]``, while ``output[-1, :, H:]`` is the
    backward direction after a single step; the result's notes give how far
    apart that and ``h_n[-1]`` are.

    Examples
    --------
    >>> from lstm_demo.questions import last_output
    >>> last_output().holds
    True
    """
    device, dtype = _placement(device, dtype)
    uni = _build(lambda: nn.LSTM(IN, HIDDEN, num_layers=2), seed, device, dtype)
    bi = _build(lambda: nn.LSTM(IN, HIDDEN, num_layers=2, bidirectional=True), seed, device, dtype)
    x = _randn(SEQ, BATCH, IN, seed=seed + 1, device=device, dtype=dtype)
    with torch.no_grad():
        out_uni, (h_uni, _) = uni(x)
        out_bi, (h_bi, _) = bi(x)
    H = HIDDEN  # the equations' name for the hidden size
    wrong = (out_bi[-1, :, H:] - h_bi[-1]).abs().max().item()
    return claim_result(
        LAST_OUTPUT,
        device,
        dtype,
        {
            "one direction: output[-1] vs h_n[-1]": (out_uni[-1], h_uni[-1]),
            "forward: output[-1, :, :H] vs h_n[-2]": (out_bi[-1, :, :H], h_bi[-2]),
            "backward: output[0, :, H:] vs h_n[-1]": (out_bi[0, :, H:], h_bi[-1]),
        },
        notes=(f"bidirectional: output[-1, :, H:] is not h_n[-1]; max abs diff {wrong:.3g}",),
    )


BIDIRECTIONAL = (
    "A bidirectional LSTM equals a forward LSTM on the sequence and another on the reversed "
    "sequence, its output reversed back, concatenated."
)


@_states(BIDIRECTIONAL)
def bidirectional(device: Any = "cpu", dtype: torch.dtype = torch.float32, *, seed: int = 0) -> ClaimResult:
    """Claim: bidirectional = forward on ``x`` + forward on ``x.flip(0)``, flipped back, concatenated.

    Uses :func:`~lstm_demo.split_directions`. Also checks the ``h_n``
    layout ``(num_layers * 2, batch, H)``: row 0 the forward direction's final
    state, row 1 the backward's.

    Examples
    --------
    >>> from lstm_demo.questions import bidirectional
    >>> bidirectional().holds
    True
    """
    device, dtype = _placement(device, dtype)
    bi = _build(lambda: nn.LSTM(IN, HIDDEN, bidirectional=True), seed, device, dtype)
    forward, backward = split_directions(bi)
    x = _randn(SEQ, BATCH, IN, seed=seed + 1, device=device, dtype=dtype)
    with torch.no_grad():
        output, (h_n, c_n) = bi(x)
        out_f, (h_f, c_f) = forward(x)
        out_b, (h_b, c_b) = backward(x.flip(0))
    return claim_result(
        BIDIRECTIONAL,
        device,
        dtype,
        {
            "output": (torch.cat([out_f, out_b.flip(0)], dim=-1), output),
            "h_n[0] (forward)": (h_f[0], h_n[0]),
            "h_n[1] (backward)": (h_b[0], h_n[1]),
            "c_n": (torch.cat([c_f, c_b]), c_n),
        },
    )


BATCH_FIRST = "batch_first=True transposes input and output, and leaves h_n and c_n as they are."


@_states(BATCH_FIRST)
def batch_first(device: Any = "cpu", dtype: torch.dtype = torch.float32, *, seed: int = 0) -> ClaimResult:
    """Claim: ``batch_first`` changes ``input``/``output`` only, never ``h_n``/``c_n``.

    Examples
    --------
    >>> from lstm_demo.questions import batch_first
    >>> batch_first().holds
    True
    """
    device, dtype = _placement(device, dtype)
    time_first = _build(lambda: nn.LSTM(IN, HIDDEN, num_layers=2), seed, device, dtype)
    first = _build(lambda: nn.LSTM(IN, HIDDEN, num_layers=2, batch_first=True), seed, device, dtype)
    x = _randn(BATCH, SEQ, IN, seed=seed + 1, device=device, dtype=dtype)  # (batch, seq_len, features)
    with torch.no_grad():
        out_bf, (h_bf, c_bf) = first(x)
        out_tf, (h_tf, c_tf) = time_first(x.transpose(0, 1))
    return claim_result(
        BATCH_FIRST,
        device,
        dtype,
        {"output (transposed)": (out_bf.transpose(0, 1), out_tf), "h_n": (h_bf, h_tf), "c_n": (c_bf, c_tf)},
        notes=(f"h_n has shape {tuple(h_bf.shape)} (num_layers, batch, hidden_size) either way",),
    )


PACKED = (
    "A packed padded batch equals running each sequence alone at its true length; "
    "h_n is taken at each sequence's last real step."
)


@_states(PACKED)
def packed(device: Any = "cpu", dtype: torch.dtype = torch.float32, *, seed: int = 0) -> ClaimResult:
    """Claim: ``pack_padded_sequence`` equals each sequence run alone; also with ``enforce_sorted=False``.

    Three sequences of lengths 6, 4 and 2, zero-padded to 6, run through
    :func:`~torch.nn.utils.rnn.pack_padded_sequence` (sorted), and through it
    again in the unsorted order 2, 6, 4 with ``enforce_sorted=False``. The
    notes give how far the padded ``output[-1]`` is from ``h_n`` for the
    shorter sequences: reading the last row of a padded output is the classic
    bug.

    Examples
    --------
    >>> from lstm_demo.questions import packed
    >>> packed().holds
    True
    """
    device, dtype = _placement(device, dtype)
    lstm = _build(lambda: nn.LSTM(IN, HIDDEN), seed, device, dtype)
    x = _randn(SEQ, BATCH, IN, seed=seed + 1, device=device, dtype=dtype)
    pairs: dict[str, tuple[torch.Tensor, torch.Tensor]] = {}
    notes = []
    for label, lengths in (("sorted", [6, 4, 2]), ("unsorted", [2, 6, 4])):
        padded = x.clone()
        for b, n in enumerate(lengths):
            padded[n:, b] = 0
        with torch.no_grad():
            packed_input = pack_padded_sequence(padded, lengths, enforce_sorted=label == "sorted")
            out_packed, (h_n, c_n) = lstm(packed_input)
            output, _ = pad_packed_sequence(out_packed, total_length=SEQ)
            alone = [lstm(padded[:n, b : b + 1]) for b, n in enumerate(lengths)]
        valid = torch.cat([output[:n, b] for b, n in enumerate(lengths)])
        pad = torch.cat([output[n:, b] for b, n in enumerate(lengths)])
        pairs[f"{label}: output, real steps"] = (valid, torch.cat([o[:, 0] for o, _ in alone]))
        pairs[f"{label}: output, padding is zero"] = (pad, torch.zeros_like(pad))
        pairs[f"{label}: h_n"] = (h_n, torch.cat([h for _, (h, _) in alone], dim=1))
        pairs[f"{label}: c_n"] = (c_n, torch.cat([c for _, (_, c) in alone], dim=1))
        if label == "sorted":
            gap = (output[-1] - h_n[-1]).abs().amax(dim=-1)
            notes.append(
                "padded output[-1] vs h_n[-1], per sequence of lengths 6, 4, 2: "
                + ", ".join(f"{g:.3g}" for g in gap.tolist())
                + " (the shorter ones' output[-1] is padding)"
            )
    return claim_result(PACKED, device, dtype, pairs, notes=tuple(notes))


CHUNKED = (
    "Running a long sequence in chunks, passing (h, c) on, equals one call; "
    "detach() between chunks changes gradients, not outputs."
)


@_states(CHUNKED)
def chunked(device: Any = "cpu", dtype: torch.dtype = torch.float32, *, seed: int = 0) -> ClaimResult:
    """Claim: chunks with the state carried equal one call (truncated backpropagation through time).

    A sequence of 12 steps in 3 chunks of 4. With ``detach()`` between
    chunks, the outputs are the same, and the gradient of the last output
    with respect to the input stops at the last chunk: zero for the first 8
    steps. Without ``detach()``, the gradient equals the one-call gradient.

    Examples
    --------
    >>> from lstm_demo.questions import chunked
    >>> chunked().holds
    True
    """
    device, dtype = _placement(device, dtype)
    lstm = _build(lambda: nn.LSTM(IN, HIDDEN), seed, device, dtype)
    base = _randn(12, 2, IN, seed=seed + 1, device=device, dtype=dtype)

    def run(chunk: int | None, detach: bool) -> tuple[torch.Tensor, tuple[torch.Tensor, ...], torch.Tensor]:
        x = base.clone().requires_grad_(True)
        if chunk is None:
            output, state = lstm(x)
        else:
            state, outputs = None, []
            for start in range(0, 12, chunk):
                out, state = lstm(x[start : start + chunk], state)
                outputs.append(out)
                if detach:
                    state = tuple(s.detach() for s in state)
            output = torch.cat(outputs)
        output[-1].sum().backward()
        return output.detach(), tuple(s.detach() for s in state), x.grad

    whole, (h, c), grad = run(None, detach=False)
    carried, (h_c, c_c), grad_c = run(4, detach=False)
    detached, (h_d, c_d), grad_d = run(4, detach=True)
    return claim_result(
        CHUNKED,
        device,
        dtype,
        {
            "output": (carried, whole),
            "h_n": (h_c, h),
            "c_n": (c_c, c),
            "output, detach() between chunks": (detached, whole),
            "h_n, detach() between chunks": (h_d, h),
            "c_n, detach() between chunks": (c_d, c),
            "d output[-1] / d input": (grad_c, grad),
            "with detach(): gradient before the last chunk": (grad_d[:8], torch.zeros_like(grad_d[:8])),
            "with detach(): gradient in the last chunk": (grad_d[8:], grad[8:]),
        },
        notes=(
            f"without detach(), the gradient reaches step 0: max |grad[:8]| = {grad[:8].abs().max():.3g}",
        ),
    )


GRADIENTS = "Backward through the step-by-step loop equals backward through the fused call."


@_states(GRADIENTS)
def gradients(device: Any = "cpu", dtype: torch.dtype = torch.float32, *, seed: int = 0) -> ClaimResult:
    """Claim: input and weight gradients agree between :func:`~lstm_demo.run_stepwise` and the fused call.

    The loss weighs every output and both final states with fixed random
    weights, so every gradient is exercised.

    Examples
    --------
    >>> from lstm_demo.questions import gradients
    >>> result = gradients()
    >>> result.holds, len(result.comparisons)
    (True, 9)
    """
    device, dtype = _placement(device, dtype)
    lstm = _build(lambda: nn.LSTM(IN, HIDDEN, num_layers=2), seed, device, dtype)
    x0 = _randn(SEQ, BATCH, IN, seed=seed + 1, device=device, dtype=dtype)
    weights = _randn(SEQ, BATCH, HIDDEN, seed=seed + 2, device=device, dtype=dtype)

    def grads(forward: Callable[..., Any]) -> dict[str, torch.Tensor]:
        lstm.zero_grad()
        x = x0.clone().requires_grad_(True)
        output, (h_n, c_n) = forward(lstm, x)
        ((output * weights).sum() + h_n.sum() + c_n.sum()).backward()
        found = {"input": x.grad}
        found.update({name: p.grad.clone() for name, p in lstm.named_parameters()})
        return found

    fused = grads(lambda m, x: m(x))
    stepwise = grads(run_stepwise)
    return claim_result(GRADIENTS, device, dtype, {f"d loss / d {k}": (stepwise[k], fused[k]) for k in fused})


DROPOUT = (
    "With dropout between layers, nn.LSTM equals its layers stacked with nn.Dropout between them: "
    "always in eval() mode, and in train() mode under the same random state where both draw masks "
    "from the same generator."
)


@_states(DROPOUT)
def dropout(device: Any = "cpu", dtype: torch.dtype = torch.float32, *, seed: int = 0) -> ClaimResult:
    """Claim: ``num_layers=2, dropout=p`` is layer 0, ``nn.Dropout(p)``, layer 1.

    In ``eval()`` mode dropout does nothing, on every device. In ``train()``
    mode the two draw random masks; on the CPU both draw them from the CPU
    generator in the same order, so under the same seed they are the same
    masks. cuDNN draws its masks from a generator of its own, so on a GPU the
    train-mode comparison is not made, and a note says so.

    Examples
    --------
    >>> from lstm_demo.questions import dropout
    >>> list(dropout().comparisons)
    ['eval(): output', 'eval(): h_n', 'train(), same seed: output', 'train(), same seed: h_n']
    """
    device, dtype = _placement(device, dtype)
    lstm = _build(lambda: nn.LSTM(IN, HIDDEN, num_layers=2, dropout=0.5), seed, device, dtype)
    layer_0, layer_1 = split_layers(lstm)
    drop = nn.Dropout(0.5)
    x = _randn(SEQ, BATCH, IN, seed=seed + 1, device=device, dtype=dtype)
    lstm.eval()
    with torch.no_grad():
        out_eval, (h_eval, _) = lstm(x)
        stacked_eval, (h_stacked, _) = run_stacked([layer_0.eval(), layer_1.eval()], x)
    pairs = {"eval(): output": (stacked_eval, out_eval), "eval(): h_n": (h_stacked, h_eval)}
    notes: tuple[str, ...] = ()
    if device.type == "cpu":
        lstm.train()
        with torch.no_grad():
            with cpu_random(seed + 3):  # the same masks for both: the same generator state
                out_train, (h_train, _) = lstm(x)
            with cpu_random(seed + 3):
                y, (h_0, _) = layer_0(x)
                out_stacked, (h_1, _) = layer_1(drop(y))
        pairs["train(), same seed: output"] = (out_stacked, out_train)
        pairs["train(), same seed: h_n"] = (torch.cat([h_0, h_1]), h_train)
    else:
        notes = (f"train() mode not compared on {device.type}: cuDNN can draw its own dropout masks",)
    return claim_result(DROPOUT, device, dtype, pairs, notes=notes)


PROJECTION = (
    "With proj_size=P, h (and output) has P features and c keeps hidden_size: "
    "h = W_hr (o * tanh(c)), as the equations written out compute it."
)


@_states(PROJECTION)
def projection(device: Any = "cpu", dtype: torch.dtype = torch.float32, *, seed: int = 0) -> ClaimResult:
    """Claim: ``nn.LSTM(proj_size=P)`` equals :func:`~lstm_demo.scratch.scratch_lstm` with ``W_hr``.

    Examples
    --------
    >>> from lstm_demo.questions import projection
    >>> result = projection()
    >>> result.holds, result.notes[0]
    (True, 'h_n (2, 3, 2), c_n (2, 3, 4): proj_size 2, hidden_size 4')
    """
    device, dtype = _placement(device, dtype)
    lstm = _build(lambda: nn.LSTM(IN, HIDDEN, num_layers=2, proj_size=2), seed, device, dtype)
    x = _randn(SEQ, BATCH, IN, seed=seed + 1, device=device, dtype=dtype)
    with torch.no_grad(), _quiet_projection():
        output, (h_n, c_n) = lstm(x)
        mine, (h_mine, c_mine) = scratch_lstm(lstm, x)
    return claim_result(
        PROJECTION,
        device,
        dtype,
        {"output": (mine, output), "h_n": (h_mine, h_n), "c_n": (c_mine, c_n)},
        notes=(f"h_n {tuple(h_n.shape)}, c_n {tuple(c_n.shape)}: proj_size 2, hidden_size {HIDDEN}",),
    )


SCRATCH = "The LSTM equations written out in Python equal nn.LSTM."


@_states(SCRATCH)
def scratch(device: Any = "cpu", dtype: torch.dtype = torch.float32, *, seed: int = 0) -> ClaimResult:
    """Claim: :func:`~lstm_demo.scratch.scratch_lstm` equals ``nn.LSTM``, two layers, both directions.

    Examples
    --------
    >>> from lstm_demo.questions import scratch
    >>> scratch().holds
    True
    """
    device, dtype = _placement(device, dtype)
    lstm = _build(lambda: nn.LSTM(IN, HIDDEN, num_layers=2, bidirectional=True), seed, device, dtype)
    x = _randn(SEQ, BATCH, IN, seed=seed + 1, device=device, dtype=dtype)
    with torch.no_grad():
        output, (h_n, c_n) = lstm(x)
        mine, (h_mine, c_mine) = scratch_lstm(lstm, x)
    return claim_result(
        SCRATCH, device, dtype, {"output": (mine, output), "h_n": (h_mine, h_n), "c_n": (c_mine, c_n)}
    )


def _merged(claim: str, results: dict[str, ClaimResult]) -> ClaimResult:
    """One result from several claims' results, their comparisons prefixed by label."""
    first = next(iter(results.values()))
    comparisons = {f"{label}: {k}": c for label, r in results.items() for k, c in r.comparisons.items()}
    reference = tuple(t for r in results.values() for t in r.reference)
    return ClaimResult(claim, first.device, first.dtype, first.tolerance, comparisons, reference)


def _post_claims(module: nn.RNNBase, x: torch.Tensor) -> dict[str, ClaimResult]:
    return {
        "one step at a time": whole_vs_stepwise(module, x),
        "stacked layers": num_layers_vs_stacked(module, x),
    }


GRU = "The post's two claims hold for nn.GRU (gates r, z, n): one step at a time, and num_layers=2 as two layers."


@_states(GRU)
def gru(device: Any = "cpu", dtype: torch.dtype = torch.float32, *, seed: int = 0) -> ClaimResult:
    """Claim: the post's two answers hold for ``nn.GRU`` too.

    Examples
    --------
    >>> from lstm_demo.questions import gru
    >>> gru().holds
    True
    """
    device, dtype = _placement(device, dtype)
    module = _build(lambda: nn.GRU(IN, HIDDEN, num_layers=2), seed, device, dtype)
    x = _randn(SEQ, BATCH, IN, seed=seed + 1, device=device, dtype=dtype)
    return _merged(GRU, _post_claims(module, x))


RNN = "The post's two claims hold for nn.RNN, tanh and relu: one step at a time, and num_layers=2 as two layers."


@_states(RNN)
def rnn(device: Any = "cpu", dtype: torch.dtype = torch.float32, *, seed: int = 0) -> ClaimResult:
    """Claim: the post's two answers hold for ``nn.RNN`` with either nonlinearity.

    Examples
    --------
    >>> from lstm_demo.questions import rnn
    >>> rnn().holds
    True
    """
    device, dtype = _placement(device, dtype)
    x = _randn(SEQ, BATCH, IN, seed=seed + 1, device=device, dtype=dtype)
    results = {}
    for nonlinearity in ("tanh", "relu"):
        module = _build(
            lambda n=nonlinearity: nn.RNN(IN, HIDDEN, num_layers=2, nonlinearity=n), seed, device, dtype
        )
        results.update({f"{nonlinearity}, {k}": r for k, r in _post_claims(module, x).items()})
    return _merged(RNN, results)


FLATTEN = (
    "Weights replaced by hand give the same results before and after flatten_parameters(), "
    "which only moves them back into one contiguous buffer."
)


@_states(FLATTEN)
def flatten(device: Any = "cpu", dtype: torch.dtype = torch.float32, *, seed: int = 0) -> ClaimResult:
    """Claim: ``flatten_parameters()`` changes where the weights live, not the results.

    Replacing a parameter's tensor (``weight.data = new``) takes it out of the
    single buffer cuDNN wants its weights in; on a GPU, the next forward warns
    ("RNN module weights are not part of single contiguous chunk of memory")
    and copies them on every call until ``flatten_parameters()`` packs them
    again. The CPU has no such buffer and never warns. The notes say which
    warnings this run saw.

    Examples
    --------
    >>> from lstm_demo.questions import flatten
    >>> result = flatten()
    >>> result.holds, result.notes
    (True, ('warning before flatten_parameters(): no; after: no',))
    """
    device, dtype = _placement(device, dtype)
    lstm = _build(lambda: nn.LSTM(IN, HIDDEN, num_layers=2), seed, device, dtype)
    x = _randn(SEQ, BATCH, IN, seed=seed + 1, device=device, dtype=dtype)
    with torch.no_grad():
        reference, _ = lstm(x)
        for name, param in list(lstm.named_parameters()):
            param.data = param.data.clone()  # a fresh tensor, outside any flat buffer
            del name

    def forward() -> tuple[torch.Tensor, bool]:
        with warnings.catch_warnings(record=True) as caught, torch.no_grad():
            warnings.simplefilter("always")
            output, _ = lstm(x)
        return output, any("contiguous chunk of memory" in str(w.message) for w in caught)

    before, warned_before = forward()
    lstm.flatten_parameters()
    after, warned_after = forward()
    yes_no = {True: "yes", False: "no"}
    return claim_result(
        FLATTEN,
        device,
        dtype,
        {
            "output, weights replaced": (before, reference),
            "output, after flatten_parameters()": (after, reference),
        },
        notes=(
            f"warning before flatten_parameters(): {yes_no[warned_before]}; after: {yes_no[warned_after]}",
        ),
    )


@_states(WHOLE_VS_STEPWISE)
def post_stepwise(device: Any = "cpu", dtype: torch.dtype = torch.float32, *, seed: int = 0) -> ClaimResult:
    """The post's first question on its model: ``nn.LSTM(4, 5, batch_first=True)``, parameters in [-0.08, 0.08].

    Examples
    --------
    >>> from lstm_demo.questions import post_stepwise
    >>> post_stepwise().holds
    True
    """
    device, dtype = _placement(device, dtype)

    def model() -> nn.LSTM:
        lstm = nn.LSTM(4, 5, batch_first=True)
        for param in lstm.parameters():
            nn.init.uniform_(param, -0.08, 0.08)
        return lstm

    lstm = _build(model, seed, device, dtype)
    return whole_vs_stepwise(lstm, _randn(2, 3, 4, seed=seed + 1, device=device, dtype=dtype))


@_states(NUM_LAYERS_VS_STACKED)
def post_layers(device: Any = "cpu", dtype: torch.dtype = torch.float32, *, seed: int = 0) -> ClaimResult:
    """The post's second question on its model: ``nn.LSTM(3, 3, num_layers=2)``, five steps.

    Examples
    --------
    >>> from lstm_demo.questions import post_layers
    >>> post_layers().holds
    True
    """
    device, dtype = _placement(device, dtype)
    lstm = _build(lambda: nn.LSTM(3, 3, num_layers=2), seed, device, dtype)
    return num_layers_vs_stacked(lstm, _randn(5, 1, 3, seed=seed + 1, device=device, dtype=dtype))


#: Every question, by the name ``python -m lstm_demo check --claim NAME`` takes, in page order.
QUESTIONS: dict[str, Question] = {
    "post-stepwise": post_stepwise,
    "post-layers": post_layers,
    "scratch": scratch,
    "lstmcell-loop": lstmcell_loop,
    "last-output": last_output,
    "bidirectional": bidirectional,
    "batch-first": batch_first,
    "packed": packed,
    "chunked": chunked,
    "gradients": gradients,
    "dropout": dropout,
    "projection": projection,
    "gru": gru,
    "rnn": rnn,
    "flatten": flatten,
}


def prove(
    question: Question, devices: list[torch.device] | None = None, dtype: torch.dtype = torch.float32
) -> None:
    """Run ``question`` on every device, print each result, and fail unless all hold.

    What a gallery page does at the end of each section: the claim's sentence,
    then one report per device.

    Parameters
    ----------
    question : callable
        One of :data:`QUESTIONS`.
    devices : list of torch.device, optional
        Defaults to :func:`~lstm_demo.devices.each_device` (which prints them).
    dtype : torch.dtype
        ``torch.float32`` or ``torch.float64``.

    Raises
    ------
    AssertionError
        If the claim fails on any device.

    Examples
    --------
    >>> import torch
    >>> from lstm_demo.questions import batch_first, prove
    >>> prove(batch_first, [torch.device("cpu")])  # doctest: +ELLIPSIS
    batch_first=True transposes input and output, and leaves h_n and c_n as they
    are.
    cpu, float32: holds
    ...
    """
    if devices is None:
        devices = each_device()
    print(textwrap.fill(question.claim, width=79))  # type: ignore[attr-defined]
    results = [question(device, dtype) for device in devices]
    for result in results:
        print(result)
    for result in results:
        result.assert_holds()
