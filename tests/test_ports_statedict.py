"""module_from_state_dict and recurrent_prefixes: the configuration read back from names and shapes, and each refusal."""

from __future__ import annotations

import re

import pytest
import torch
from torch import nn

from lstm_demo.ports import module_from_state_dict, recurrent_prefixes


class Tagger(nn.Module):
    """A larger model with an nn.LSTM attribute, as a reader's checkpoint would hold."""

    def __init__(self) -> None:
        super().__init__()
        self.embed = nn.Embedding(10, 3)
        self.rnn = nn.LSTM(3, 5, num_layers=2, bidirectional=True, batch_first=True)
        self.head = nn.Linear(10, 2)


def _same(rebuilt: nn.Module, original: nn.Module) -> bool:
    a, b = rebuilt.state_dict(), original.state_dict()
    return a.keys() == b.keys() and all(torch.equal(a[k], b[k]) for k in a)


CONFIGS = [
    (nn.LSTM, {"input_size": 3, "hidden_size": 4}),
    (nn.LSTM, {"input_size": 3, "hidden_size": 4, "num_layers": 2, "bidirectional": True}),
    (nn.LSTM, {"input_size": 2, "hidden_size": 3, "num_layers": 3, "bias": False}),
    (nn.LSTM, {"input_size": 3, "hidden_size": 6, "num_layers": 2, "proj_size": 2, "bidirectional": True}),
    (nn.LSTM, {"input_size": 3, "hidden_size": 4, "dtype": torch.float64}),
    (nn.GRU, {"input_size": 3, "hidden_size": 4}),
    (nn.GRU, {"input_size": 5, "hidden_size": 2, "num_layers": 2, "bidirectional": True, "bias": False}),
]


@pytest.mark.parametrize(("cls", "options"), CONFIGS, ids=lambda v: getattr(v, "__name__", None))
def test_the_configuration_and_weights_come_back(cls, options):
    torch.manual_seed(0)
    original = cls(**options)
    rebuilt = module_from_state_dict(original.state_dict())
    assert type(rebuilt) is cls
    for name in ("input_size", "hidden_size", "num_layers", "bias", "bidirectional", "proj_size"):
        assert getattr(rebuilt, name) == getattr(original, name), name
    assert rebuilt.batch_first is False
    assert _same(rebuilt, original)
    x = torch.randn(5, 2, original.input_size, dtype=original.weight_ih_l0.dtype)
    assert torch.equal(rebuilt(x)[0], original(x)[0])


def test_twelve_rows_are_an_lstm_or_a_gru_as_weight_hh_says():
    lstm = module_from_state_dict(nn.LSTM(2, 3).state_dict())  # 12 rows, H=3
    gru = module_from_state_dict(nn.GRU(2, 4).state_dict())  # 12 rows, H=4
    assert (type(lstm), lstm.hidden_size) == (nn.LSTM, 3)
    assert (type(gru), gru.hidden_size) == (nn.GRU, 4)


def test_a_prefix_chooses_the_module_inside_a_model():
    torch.manual_seed(0)
    model = Tagger()
    state = model.state_dict()
    for prefix in ("rnn.", "rnn", None):
        rebuilt = module_from_state_dict(state, prefix)
        assert repr(rebuilt) == "LSTM(3, 5, num_layers=2, bidirectional=True)"
        assert _same(rebuilt, model.rnn)


def test_recurrent_prefixes_in_the_order_of_the_state_dict():
    model = nn.ModuleDict({"b": nn.GRU(2, 2), "a": nn.Sequential(nn.Linear(2, 2), nn.LSTM(2, 3))})
    assert recurrent_prefixes(model.state_dict()) == ["b.", "a.1."]
    assert recurrent_prefixes(nn.Linear(2, 2).state_dict()) == []
    assert recurrent_prefixes(nn.LSTM(2, 2, bidirectional=True).state_dict()) == [""]


def _lstm_state(**options: object) -> dict[str, torch.Tensor]:
    return dict(nn.LSTM(3, 4, **options).state_dict())


def _without(state: dict[str, torch.Tensor], *names: str) -> dict[str, torch.Tensor]:
    return {k: v for k, v in state.items() if k not in names}


BAD = [
    (
        [1, 2],
        TypeError,
        "Expected a state_dict (a mapping of names to tensors), but got an object of type list instead.",
    ),
    (
        {"weight_ih_l0": [1.0]},
        TypeError,
        (
            "Expected a state_dict (a mapping of names to tensors), but got 'weight_ih_l0': an object of type "
            "list instead."
        ),
    ),
    (
        {"model": {"weight_ih_l0": torch.zeros(16, 3)}, "epoch": 3},
        TypeError,
        (
            "Expected a state_dict (a mapping of names to tensors), but got 'model': an object of type dict "
            "instead (a checkpoint? save or pass its model's state_dict)."
        ),
    ),
    (
        dict(nn.Linear(2, 1).state_dict()),
        ValueError,
        (
            "Expected a state_dict with an nn.LSTM's or nn.GRU's weights (a name ending weight_ih_l0), but got "
            "none among 2 names instead."
        ),
    ),
    (
        dict(nn.ModuleDict({"enc": nn.LSTM(2, 2), "dec": nn.GRU(2, 2)}).state_dict()),
        ValueError,
        "Expected one recurrent module, or a prefix to choose one, but got 2 instead: 'enc.', 'dec.'.",
    ),
    (
        dict(nn.RNN(3, 4).state_dict()),
        ValueError,
        (
            "Expected weight_ih_l0 with 4H rows (an nn.LSTM) or 3H rows (an nn.GRU), H=4 from weight_hh_l0's "
            "columns, but got 4 rows instead (an nn.RNN's: H rows)."
        ),
    ),
    (
        {"weight_ih_l0": torch.zeros(10, 3), "weight_hh_l0": torch.zeros(10, 4)},
        ValueError,
        (
            "Expected weight_ih_l0 with 4H rows (an nn.LSTM) or 3H rows (an nn.GRU), H=4 from weight_hh_l0's "
            "columns, but got 10 rows instead."
        ),
    ),
    (
        _without(
            _lstm_state(num_layers=3), *[f"{w}_l1" for w in ("weight_ih", "weight_hh", "bias_ih", "bias_hh")]
        ),
        ValueError,
        "Expected weight_ih_l0 to weight_ih_l2 under '' (layers 0 to 2), but got weight_ih for layers [0, 2] only instead.",
    ),
    (
        _without(_lstm_state(), "weight_hh_l0"),
        ValueError,
        "Expected 2-D weight_ih_l0 and weight_hh_l0 under '', but got no weight_hh_l0 instead.",
    ),
    (
        _without(_lstm_state(bidirectional=True), "bias_hh_l0_reverse"),
        ValueError,
        (
            "Expected bias_hh_l0_reverse (a parameter of LSTM(3, 4, bidirectional=True)), but got no such "
            "name instead."
        ),
    ),
    (
        {**_lstm_state(), "weight_ih_l0_reverse": torch.zeros(16, 3)},
        ValueError,
        (
            "Expected bias_hh_l0_reverse (a parameter of LSTM(3, 4, bidirectional=True)), but got no such "
            "name instead."
        ),
    ),
    (
        {**_lstm_state(), "weight_hr_l1": torch.zeros(2, 4)},
        ValueError,
        "Expected weight_ih_l0 to weight_ih_l1 under '' (layers 0 to 1), but got weight_ih for layers [0] only instead.",
    ),
    (
        {**_lstm_state(), "scale": torch.ones(())},
        ValueError,
        (
            "Expected only nn.LSTM or nn.GRU parameter names under '' (weight_ih_l0, ...), but got 'scale' "
            "instead."
        ),
    ),
    (
        {**_lstm_state(), "bias_ih_l0": torch.zeros(15)},
        ValueError,
        "Expected bias_ih_l0 of shape [16] (for LSTM(3, 4)), but got [15] instead.",
    ),
    (
        {**_lstm_state(), "bias_ih_l0": torch.zeros(16, dtype=torch.float64)},
        ValueError,
        (
            "Expected floating-point weights of one dtype under '', but got ['torch.float32', 'torch.float64'] "
            "instead."
        ),
    ),
]


@pytest.mark.parametrize(("state", "error", "message"), BAD)
def test_a_bad_state_dict_is_refused_with_the_reason(state, error, message):
    with pytest.raises(error, match=f"^{re.escape(message)}$"):
        module_from_state_dict(state)


def test_an_unknown_prefix_lists_the_prefixes():
    message = "Expected a prefix among 'rnn.' (names ending weight_ih_l0), but got 'encoder.' instead."
    with pytest.raises(ValueError, match=f"^{re.escape(message)}$"):
        module_from_state_dict(Tagger().state_dict(), prefix="encoder.")


def test_recurrent_prefixes_refuses_a_non_state_dict():
    message = "Expected a state_dict (a mapping of names to tensors), but got a tensor of shape (3,) instead."
    with pytest.raises(TypeError, match=f"^{re.escape(message)}$"):
        recurrent_prefixes(torch.zeros(3))  # type: ignore[arg-type]
