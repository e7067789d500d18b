"""Claims about sequences: packing, padding, chunks and carried state, gradients through time."""

from __future__ import annotations

from collections.abc import Callable

import torch
from torch import nn
from torch.nn.utils.rnn import pack_padded_sequence, pad_packed_sequence

from lstm_demo._copying import copy_module
from lstm_demo._types import LSTMState
from lstm_demo.claims.registry import Forward, Found, Pairs, Place, claim
from lstm_demo.claims.sizes import BATCH, HIDDEN, IN, SEQ
from lstm_demo.layers import module_forward
from lstm_demo.stepwise import run_stepwise


@claim(
    "packed",
    "A packed padded batch equals running each sequence alone at its true length; "
    "h_n is taken at each sequence's last real step.",
    forward=module_forward,
)
def packed(at: Place, *, forward: Forward) -> Found:
    """Claim: ``pack_padded_sequence`` equals each sequence run alone; also with ``enforce_sorted=False``.

    Three sequences of lengths 6, 4 and 2, zero-padded to 6, run through
    :func:`~torch.nn.utils.rnn.pack_padded_sequence` (sorted), and through it
    again in the unsorted order 2, 6, 4 with ``enforce_sorted=False``. The
    notes give how far the padded ``output[-1]`` is from ``h_n`` for the
    shorter sequences: reading the last row of a padded output is the classic
    bug. The independent side runs the packed batches.
    """
    lstm = at.lstm(IN, HIDDEN)
    x = at.randn(SEQ, BATCH, IN)
    found: Pairs = {}
    notes = []
    for label, lengths in (("sorted", [6, 4, 2]), ("unsorted", [2, 6, 4])):
        padded = x.clone()
        for b, n in enumerate(lengths):
            padded[n:, b] = 0
        with torch.no_grad():
            packed_input = pack_padded_sequence(padded, lengths, enforce_sorted=label == "sorted")
            out_packed, (h_n, c_n) = forward(lstm, packed_input)
            output, _ = pad_packed_sequence(out_packed, total_length=SEQ)
            alone = [lstm(padded[:n, b : b + 1]) for b, n in enumerate(lengths)]
        valid = torch.cat([output[:n, b] for b, n in enumerate(lengths)])
        pad = torch.cat([output[n:, b] for b, n in enumerate(lengths)])
        found[f"{label}: output, real steps"] = (valid, torch.cat([o[:, 0] for o, _ in alone]))
        found[f"{label}: output, padding is zero"] = (pad, torch.zeros_like(pad))
        found[f"{label}: h_n"] = (h_n, torch.cat([h for _, (h, _) in alone], dim=1))
        found[f"{label}: c_n"] = (c_n, torch.cat([c for _, (_, c) in alone], dim=1))
        if label == "sorted":
            gap = (output[-1] - h_n[-1]).abs().amax(dim=-1)
            notes.append(
                "padded output[-1] vs h_n[-1], per sequence of lengths 6, 4, 2: "
                + ", ".join(f"{g:.3g}" for g in gap.tolist())
                + " (the shorter ones' output[-1] is padding)"
            )
    return found, tuple(notes)


def run_in_chunks(
    lstm: nn.LSTM,
    input: torch.Tensor,
    chunk: int | None = None,
    *,
    detach: bool = False,
    forward: Forward = module_forward,
) -> tuple[torch.Tensor, tuple[torch.Tensor, torch.Tensor], torch.Tensor]:
    """Run ``input`` through ``lstm`` in chunks of ``chunk`` steps, passing ``(h, c)`` on; backpropagate the last output.

    ``chunk=None`` runs it in one call. With ``detach=True`` the state is
    detached between chunks, as truncated backpropagation through time does.
    ``forward(lstm, chunk, state)`` runs each chunk (``lstm(chunk, state)``
    by default).

    Returns
    -------
    output, (h_n, c_n), grad
        The output and final state (detached), and the gradient of
        ``output[-1].sum()`` with respect to ``input``, shaped like it.

    Examples
    --------
    >>> import torch
    >>> from torch import nn
    >>> from lstm_demo.claims import run_in_chunks
    >>> output, (h_n, c_n), grad = run_in_chunks(nn.LSTM(3, 4), torch.randn(12, 2, 3), 4, detach=True)
    >>> bool(grad[:8].eq(0).all()), bool(grad[8:].ne(0).any())
    (True, True)
    """
    with torch.enable_grad():
        x = input.detach().clone().requires_grad_(True)
        state: LSTMState | None = None
        outputs = []
        for start in range(0, len(x), chunk or len(x)):
            out, state = forward(lstm, x[start : start + (chunk or len(x))], state)
            outputs.append(out)
            if detach:
                state = (state[0].detach(), state[1].detach())
        output = torch.cat(outputs)
        (grad,) = torch.autograd.grad(output[-1].sum(), [x])
    assert state is not None  # at least one chunk ran
    return output.detach(), (state[0].detach(), state[1].detach()), grad


@claim(
    "chunked",
    "Running a long sequence in chunks, passing (h, c) on, equals one call; "
    "detach() between chunks changes gradients, not outputs.",
    forward=module_forward,
)
def chunked(at: Place, *, forward: Forward) -> Found:
    """Claim: chunks with the state carried equal one call (truncated backpropagation through time).

    A sequence of 12 steps in 3 chunks of 4. With ``detach()`` between
    chunks, the outputs are the same, and the gradient of the last output
    with respect to the input stops at the last chunk: zero for the first 8
    steps. Without ``detach()``, the gradient equals the one-call gradient.
    The independent side runs the chunks; one call of ``nn.LSTM`` is the reference.
    The zero gradient before the last chunk is what ``detach()`` does in
    autograd, whatever the side computes: shown, not a check of the side.
    """
    lstm = at.lstm(IN, HIDDEN)
    x = at.randn(12, 2, IN)
    whole, (h, c), grad = run_in_chunks(lstm, x)
    carried, (h_c, c_c), grad_c = run_in_chunks(lstm, x, 4, forward=forward)
    detached, (h_d, c_d), grad_d = run_in_chunks(lstm, x, 4, detach=True, forward=forward)
    found = {
        "output": (carried, whole),
        "h_n": (h_c, h),
        "c_n": (c_c, c),
        "output, detach() between chunks": (detached, whole),
        "h_n, detach() between chunks": (h_d, h),
        "c_n, detach() between chunks": (c_d, c),
        "d output[-1] / d input": (grad_c, grad),
        "with detach(): gradient before the last chunk": (grad_d[:8], torch.zeros_like(grad_d[:8])),
        "with detach(): gradient in the last chunk": (grad_d[8:], grad[8:]),
    }
    return found, (
        f"without detach(), the gradient reaches step 0: max |grad[:8]| = {grad[:8].abs().max():.3g}",
    )


@claim(
    "no-hidden-memory",
    "nn.LSTM keeps no state between calls: a call without (h_0, c_0) equals a fresh module's call "
    "from zeros, whatever ran before; passing (h, c) on makes two calls equal one call.",
    forward=module_forward,
)
def no_hidden_memory(at: Place, *, forward: Forward) -> Found:
    """Claim: a second call starts from zeros unless given the first call's ``(h, c)``.

    A sequence of 12 steps in two chunks of 6, through a two-layer module.
    The second call without a state is compared with a deep copy of the
    module, made before any call, given explicit zeros; with the state
    carried, with one call over both chunks. The notes say how far the two
    calls without a state are from the one call. The independent side runs
    the module's three calls on the chunks; the copy and the one call are
    ``nn.LSTM``'s.
    """
    lstm = at.lstm(IN, HIDDEN, num_layers=2)
    fresh = copy_module(lstm)
    x = at.randn(12, BATCH, IN)
    zeros = x.new_zeros(2, BATCH, HIDDEN)
    with torch.no_grad():
        whole, (h, c) = lstm(x)
        _, state = forward(lstm, x[:6])
        second, (h_2, c_2) = forward(lstm, x[6:])  # no state given
        carried, (h_c, c_c) = forward(lstm, x[6:], state)
        from_zeros, (h_z, c_z) = fresh(x[6:], (zeros, zeros))
    found = {
        "second call, no state: output": (second, from_zeros),
        "second call, no state: h_n": (h_2, h_z),
        "second call, no state: c_n": (c_2, c_z),
        "(h, c) passed on: output": (carried, whole[6:]),
        "(h, c) passed on: h_n": (h_c, h),
        "(h, c) passed on: c_n": (c_c, c),
    }
    gap = (second - whole[6:]).abs().amax(dim=(1, 2))
    note = (
        f"two calls without passing (h, c) vs one call: the second chunk's output is off by up to "
        f"{gap.max():.3g} (first step {gap[0]:.3g}, last step {gap[-1]:.3g}); h_n by up to "
        f"{(h_2 - h).abs().max():.3g}"
    )
    return found, (note,)


@claim(
    "truncated-bptt",
    "With the carried state detached, the gradients of chunk 2's loss equal those of chunk 2 run "
    "alone from that state given as a constant; without detach() the weights' gradients differ.",
    forward=module_forward,
)
def truncated_bptt(at: Place, *, forward: Forward) -> Found:
    """Claim: ``detach()`` on the carried state turns chunk 1's result into a constant for chunk 2's loss.

    Chunks of 6 steps; the loss weighs chunk 2's output with fixed random
    weights. Compared: the gradients with respect to chunk 2's input and
    every parameter, with the state detached, and with chunk 1 run under
    ``torch.no_grad()`` (its state a constant). Chunk 2's input gradient is
    also the same with full backpropagation; the notes say how far the
    weights' gradients are from full backpropagation through both chunks.
    The independent side runs the detached and the full runs; the run from a
    constant is ``nn.LSTM``'s. The full-backprop comparison of chunk 2's
    input gradient holds for any forward (both of its sides are the
    independent side's): an identity of autograd, shown, not a check.
    """
    lstm = at.lstm(IN, HIDDEN)
    x = at.randn(12, 2, IN)
    weights = at.randn(6, 2, HIDDEN, offset=2)

    def grads(carry: Callable[[torch.Tensor], LSTMState], run: Forward) -> dict[str, torch.Tensor]:
        first, second = x[:6].clone().requires_grad_(True), x[6:].clone().requires_grad_(True)
        output, _ = run(lstm, second, carry(first))
        loss = (output * weights).sum()
        wrt = [second, first, *lstm.parameters()]
        found = torch.autograd.grad(loss, wrt, allow_unused=True)
        names = ["chunk 2 input", "chunk 1 input", *(n for n, _ in lstm.named_parameters())]
        return {n: torch.zeros_like(w) if g is None else g for n, w, g in zip(names, wrt, found, strict=True)}

    def detached(first: torch.Tensor) -> LSTMState:
        _, (h, c) = forward(lstm, first)
        return h.detach(), c.detach()

    def constant(first: torch.Tensor) -> LSTMState:
        with torch.no_grad():
            _, (h, c) = lstm(first)
        return h, c

    def carried(first: torch.Tensor) -> LSTMState:
        _, (h, c) = forward(lstm, first)
        return h, c

    with torch.enable_grad():
        with_detach = grads(detached, forward)
        alone = grads(constant, module_forward)
        full = grads(carried, forward)
    found = {
        f"d loss / d {name}": (with_detach[name], alone[name]) for name in alone if name != "chunk 1 input"
    }
    found["full backprop: d loss / d chunk 2 input"] = (full["chunk 2 input"], with_detach["chunk 2 input"])
    gaps = ", ".join(
        f"{n} {float((full[n] - with_detach[n]).abs().max() / full[n].abs().max()):.3g}"
        for n, _ in lstm.named_parameters()
    )
    return found, (
        f"full backprop vs detach(), max |difference| / max |full gradient|: {gaps}",
        f"full backprop also reaches chunk 1's input: max |gradient| {full['chunk 1 input'].abs().max():.3g}",
    )


@claim(
    "padded-unpacked",
    "Without packing, a padded batch runs its zero padding as real steps: h_n equals each sequence "
    "run alone with its padding, not at its true length, in both directions.",
    forward=module_forward,
)
def padded_unpacked(at: Place, *, forward: Forward) -> Found:
    """Claim: a padded batch that is not packed gives each sequence the padding as input.

    A bidirectional LSTM and three sequences of lengths 6, 4 and 2,
    zero-padded to 6 and passed as a plain tensor. The forward direction's
    outputs at the real steps are still right (the padding comes after
    them); its ``h_n`` is taken after the padding, and the backward
    direction reads the padding first. The notes give how far the padded
    ``h_n`` is from the true one (each sequence alone at its true length),
    per direction. The independent side runs the padded batch; each
    sequence alone is ``nn.LSTM``'s.
    """
    bi = at.lstm(IN, HIDDEN, bidirectional=True)
    lengths = [6, 4, 2]
    x = at.randn(SEQ, BATCH, IN)
    for b, n in enumerate(lengths):
        x[n:, b] = 0
    with torch.no_grad():
        output, (h_n, c_n) = forward(bi, x)
        with_padding = [bi(x[:, b]) for b in range(BATCH)]  # unbatched: (seq_len, features)
        true = [bi(x[:n, b]) for b, n in enumerate(lengths)]
    forward_real = torch.cat([output[:n, b, :HIDDEN] for b, n in enumerate(lengths)])
    found = {
        "output": (output, torch.stack([o for o, _ in with_padding], dim=1)),
        "h_n": (h_n, torch.stack([h for _, (h, _) in with_padding], dim=1)),
        "c_n": (c_n, torch.stack([c for _, (_, c) in with_padding], dim=1)),
        "forward direction, real steps: output": (
            forward_real,
            torch.cat([o[:, :HIDDEN] for o, _ in true]),
        ),
    }
    true_h = torch.stack([h for _, (h, _) in true], dim=1)
    gap = (h_n - true_h).abs().amax(dim=-1)  # (directions, batch)
    notes = tuple(
        f"padded h_n vs true h_n, {name} direction, lengths 6, 4, 2: "
        + ", ".join(f"{g:.3g}" for g in gap[d].tolist())
        for d, name in enumerate(("forward", "backward"))
    )
    return found, notes


@claim(
    "gradients",
    "Backward through the step-by-step loop equals backward through the fused call.",
    forward=run_stepwise,
)
def gradients(at: Place, *, forward: Forward) -> Pairs:
    """Claim: input and weight gradients agree between :func:`~lstm_demo.run_stepwise` and the fused call.

    The loss weighs every output and both final states with fixed random
    weights, so every gradient is exercised.

    Examples
    --------
    >>> from lstm_demo.claims import gradients
    >>> result = gradients()
    >>> result.holds, len(result.comparisons)
    (True, 9)
    """
    lstm = at.lstm(IN, HIDDEN, num_layers=2)
    x0 = at.randn(SEQ, BATCH, IN)
    weights = at.randn(SEQ, BATCH, HIDDEN, offset=2)
    names, params = zip(*lstm.named_parameters(), strict=True)

    def grads(run: Forward) -> dict[str, torch.Tensor]:
        with torch.enable_grad():
            x = x0.clone().requires_grad_(True)
            output, state = run(lstm, x)
            loss = (output * weights).sum() + sum(s.sum() for s in state)
            found = torch.autograd.grad(loss, [x, *params], allow_unused=True)
        return {
            name: torch.zeros_like(w) if g is None else g
            for name, w, g in zip(["input", *names], [x0, *params], found, strict=True)
        }

    fused = grads(module_forward)
    stepwise = grads(forward)
    return {f"d loss / d {k}": (stepwise[k], fused[k]) for k in fused}
