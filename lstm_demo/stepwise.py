"""Feed a sequence through a recurrent module one time step at a time."""

from __future__ import annotations

import torch
from torch import nn

from lstm_demo._types import Result, State
from lstm_demo._validate import StackSpec


def run_stepwise(rnn: nn.RNNBase, input: torch.Tensor, hx: State | None = None) -> Result:
    """Run ``rnn`` one time step at a time, carrying the state between steps.

    This is the loop the post wrote by hand: call the module on a sequence of
    length 1, keep the state it returns, pass that state to the next call.
    The result has exactly the form of ``rnn(input, hx)``, so the two can be
    compared element for element.

    Parameters
    ----------
    rnn : nn.LSTM, nn.GRU or nn.RNN
        A unidirectional module with any ``num_layers``, ``batch_first``
        either way and (for ``nn.LSTM``) any ``proj_size``.
    input : torch.Tensor
        ``(seq_len, batch, input_size)``, or ``(batch, seq_len, input_size)``
        when ``rnn.batch_first``, or unbatched ``(seq_len, input_size)``.
        Same device and dtype as ``rnn``. A ``PackedSequence`` is not supported.
    hx : torch.Tensor or tuple of torch.Tensor, optional
        The initial state, laid out as for ``rnn``: ``h_0`` of shape
        ``(num_layers, batch, out_size)`` (``(num_layers, out_size)`` when
        unbatched), and for ``nn.LSTM`` the pair ``(h_0, c_0)`` with ``c_0`` of
        shape ``(num_layers, batch, hidden_size)``. ``out_size`` is
        ``proj_size`` if set, else ``hidden_size``. Zeros when omitted.

    Returns
    -------
    output : torch.Tensor
        The last layer's output at every step, shaped like ``rnn``'s output.
    h_n : torch.Tensor or tuple of torch.Tensor
        The final state, ``(h_n, c_n)`` for ``nn.LSTM``.

    Raises
    ------
    TypeError
        If ``rnn`` is not an nn.LSTM, nn.GRU or nn.RNN, ``input`` is not a
        tensor (or is a ``PackedSequence``), or ``hx`` has the wrong type.
    ValueError
        If ``rnn`` is bidirectional, or ``input`` or ``hx`` has the wrong
        shape, device or dtype.

    Notes
    -----
    In ``train()`` mode with ``dropout > 0`` every call draws its own dropout
    mask, so the two ways agree only in ``eval()`` mode or without dropout.

    Examples
    --------
    Stepping through a batch-first LSTM gives the outputs of one call:

    >>> import torch
    >>> from torch import nn
    >>> from lstm_demo import run_stepwise
    >>> _ = torch.manual_seed(0)
    >>> lstm = nn.LSTM(4, 5, batch_first=True)
    >>> x = torch.randn(2, 3, 4)
    >>> output, (h_n, c_n) = run_stepwise(lstm, x)
    >>> output.shape, h_n.shape, c_n.shape
    (torch.Size([2, 3, 5]), torch.Size([1, 2, 5]), torch.Size([1, 2, 5]))
    >>> expected, _ = lstm(x)
    >>> torch.testing.assert_close(output, expected)
    """
    spec = StackSpec.checked(rnn, input, hx)
    if spec.bidirectional:
        msg = (
            f"Expected a unidirectional module, but got {spec.name} with "
            "bidirectional=True instead: its backward direction starts at the last "
            "time step, so the sequence cannot be fed one step at a time in a single "
            "forward pass. Run the module on the whole sequence instead."
        )
        raise ValueError(msg)

    time_dim = 1 if (spec.batch_first and input.dim() == 3) else 0
    state = hx
    outputs = []
    for t in range(input.shape[time_dim]):
        step_output, state = rnn(input.narrow(time_dim, t, 1), state)
        outputs.append(step_output)
    assert state is not None  # check_input lets no empty sequence through
    return torch.cat(outputs, dim=time_dim), state
