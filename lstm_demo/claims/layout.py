"""Claims about where things sit: output vs h_n, the two directions, batch_first, the state's layout."""

from __future__ import annotations

import torch

from lstm_demo.claims.registry import Forward, Found, Pairs, Place, claim
from lstm_demo.claims.sizes import BATCH, HIDDEN, IN, SEQ
from lstm_demo.layers import module_forward, split_directions

#: The mutants ``last-output`` can show: it compares a module's output with its own ``h_n``.
_LAYOUT_MUTANTS = ("off-by-one-step", "backward-not-flipped")


@claim(
    "last-output",
    "output[-1] equals h_n[-1] for a unidirectional LSTM; for a bidirectional one, "
    "h_n[-1] (the backward direction) equals the second half of output[0].",
    mutants=_LAYOUT_MUTANTS,
    forward=module_forward,
)
def last_output(at: Place, *, forward: Forward) -> Found:
    """Claim: where the last hidden state sits in ``output``, one direction and two.

    ``output`` holds the top layer's hidden state at every step. Going forward,
    the final state is the last step's, ``output[-1]``. Going backward, the
    final state is reached at the *first* time step, so for a bidirectional
    LSTM ``h_n[-1]`` is ``output[0, :, H:]``, while ``output[-1, :, H:]`` is the
    backward direction after a single step; the result's notes give how far
    apart that and ``h_n[-1]`` are. Both sides come from one call, so only a
    mistake in where the states are put can show (:attr:`Claim.mutants`).
    """
    uni = at.lstm(IN, HIDDEN, num_layers=2)
    bi = at.lstm(IN, HIDDEN, num_layers=2, bidirectional=True)
    x = at.randn(SEQ, BATCH, IN)
    with torch.no_grad():
        out_uni, (h_uni, _) = forward(uni, x)
        out_bi, (h_bi, _) = forward(bi, x)
    H = HIDDEN  # the equations' name for the hidden size
    wrong = (out_bi[-1, :, H:] - h_bi[-1]).abs().max().item()
    found = {
        "one direction: output[-1] vs h_n[-1]": (out_uni[-1], h_uni[-1]),
        "forward: output[-1, :, :H] vs h_n[-2]": (out_bi[-1, :, :H], h_bi[-2]),
        "backward: output[0, :, H:] vs h_n[-1]": (out_bi[0, :, H:], h_bi[-1]),
    }
    note = f"bidirectional: output[-1, :, H:] is not h_n[-1]; max abs diff {wrong:.3g}"
    return found, (note,)


@claim(
    "bidirectional",
    "A bidirectional LSTM equals a forward LSTM on the sequence and another on the reversed "
    "sequence, its output reversed back, concatenated.",
    forward=module_forward,
)
def bidirectional(at: Place, *, forward: Forward) -> Pairs:
    """Claim: bidirectional = forward on ``x`` + forward on ``x.flip(0)``, flipped back, concatenated.

    Uses :func:`~lstm_demo.split_directions`. Also checks the ``h_n``
    layout ``(num_layers * 2, batch, H)``: row 0 the forward direction's final
    state, row 1 the backward's. The independent side runs the bidirectional
    module; its two directions, each a one-directional ``nn.LSTM``, are the reference.
    """
    bi = at.lstm(IN, HIDDEN, bidirectional=True)
    forward_lstm, backward_lstm = split_directions(bi)
    x = at.randn(SEQ, BATCH, IN)
    with torch.no_grad():
        output, (h_n, c_n) = forward(bi, x)
        out_f, (h_f, c_f) = forward_lstm(x)
        out_b, (h_b, c_b) = backward_lstm(x.flip(0))
    return {
        "output": (output, torch.cat([out_f, out_b.flip(0)], dim=-1)),
        "h_n[0] (forward)": (h_n[0], h_f[0]),
        "h_n[1] (backward)": (h_n[1], h_b[0]),
        "c_n": (c_n, torch.cat([c_f, c_b])),
    }


@claim(
    "batch-first",
    "batch_first=True transposes input and output, and leaves h_n and c_n as they are.",
    forward=module_forward,
)
def batch_first(at: Place, *, forward: Forward) -> Found:
    """Claim: ``batch_first`` changes ``input``/``output`` only, never ``h_n``/``c_n``.

    The independent side runs the ``batch_first=True`` module; the
    ``batch_first=False`` one on the transposed input is the reference.
    """
    time_first = at.lstm(IN, HIDDEN, num_layers=2)
    first = at.lstm(IN, HIDDEN, num_layers=2, batch_first=True)
    x = at.randn(BATCH, SEQ, IN)  # (batch, seq_len, features)
    with torch.no_grad():
        out_bf, (h_bf, c_bf) = forward(first, x)
        out_tf, (h_tf, c_tf) = time_first(x.transpose(0, 1))
    found = {
        "output (transposed)": (out_bf.transpose(0, 1), out_tf),
        "h_n": (h_bf, h_tf),
        "c_n": (c_bf, c_tf),
    }
    return found, (f"h_n has shape {tuple(h_bf.shape)} (num_layers, batch, hidden_size) either way",)


@claim(
    "state-layout",
    "(h_0, c_0) is (num_layers * directions, batch, hidden_size) with batch_first=True too: "
    "such a module given (h_0, c_0) equals the batch_first=False module on the transposed input "
    "with the same state; unbatched input ignores batch_first.",
    forward=module_forward,
)
def state_layout(at: Place, *, forward: Forward) -> Found:
    """Claim: ``batch_first`` never applies to ``h_0``/``c_0``, and unbatched input ignores it.

    Three layers and a batch of three, so ``num_layers * directions == batch``:
    the one case where an ``h_0`` laid out batch-first, ``(batch, num_layers,
    hidden_size)``, has the expected shape and runs without an error. The
    note says how far the result then is from the right one. The independent
    side runs the ``batch_first=True`` module.

    Examples
    --------
    >>> from lstm_demo.claims import state_layout
    >>> result = state_layout()
    >>> result.holds, list(result.comparisons)[:3]
    (True, ['output (transposed)', 'h_n', 'c_n'])
    """
    first = at.lstm(IN, HIDDEN, num_layers=BATCH, batch_first=True)
    time_first = at.lstm(IN, HIDDEN, num_layers=BATCH)
    x = at.randn(BATCH, SEQ, IN)  # (batch, seq_len, features)
    h_0, c_0 = at.randn(BATCH, BATCH, HIDDEN, offset=2), at.randn(BATCH, BATCH, HIDDEN, offset=3)
    single = at.randn(SEQ, IN, offset=4)  # unbatched: (seq_len, features)
    with torch.no_grad():
        out_bf, (h_bf, c_bf) = forward(first, x, (h_0, c_0))
        out_tf, (h_tf, c_tf) = time_first(x.transpose(0, 1), (h_0, c_0))
        # cuDNN takes only contiguous states: h_0[:, 0] is a strided view.
        h_single, c_single = h_0[:, 0].contiguous(), c_0[:, 0].contiguous()
        one_bf, (h1_bf, c1_bf) = forward(first, single, (h_single, c_single))
        one_tf, (h1_tf, c1_tf) = time_first(single, (h_single, c_single))
        # A batch-first state is its own contiguous tensor (cuDNN also refuses a strided view).
        wrong, _ = first(x, (h_0.transpose(0, 1).contiguous(), c_0.transpose(0, 1).contiguous()))
    found = {
        "output (transposed)": (out_bf.transpose(0, 1), out_tf),
        "h_n": (h_bf, h_tf),
        "c_n": (c_bf, c_tf),
        "unbatched: output": (one_bf, one_tf),
        "unbatched: h_n": (h1_bf, h1_tf),
        "unbatched: c_n": (c1_bf, c1_tf),
    }
    note = (
        f"h_0 laid out batch-first (transposed) runs without an error where num_layers == batch "
        f"== {BATCH}; its output is off by up to {(wrong - out_bf).abs().max():.3g}"
    )
    return found, (note,)
