"""compare: bitwise, close or not close, with hand-computed differences (dyadic values are exact in float32)."""

from __future__ import annotations

import math

import pytest
import torch

from lstm_demo import Comparison, compare

INF, NAN = math.inf, math.nan


def assert_close_accepts(actual: torch.Tensor, expected: torch.Tensor) -> bool:
    """torch.testing.assert_close's verdict with its default tolerances."""
    try:
        torch.testing.assert_close(actual, expected, equal_nan=False)
    except AssertionError:
        return False
    return True


def test_bitwise_equal():
    a = torch.tensor([[1.0, -2.0], [0.5, 3.0]])
    result = compare(a, a.clone())
    assert isinstance(result, Comparison)
    assert result.equal is True
    assert result.close is True
    assert result.max_abs_diff == 0.0
    assert result.max_rel_diff == 0.0
    assert result.mismatched == 0
    assert result.numel == 4
    assert (result.rtol, result.atol) == (1.3e-6, 1e-5)
    assert result.dtype == torch.float32
    assert str(result) == "bitwise equal (4 elements, float32)"


def test_close_not_equal():
    expected = torch.tensor([1.0, 2.0, 4.0])
    actual = torch.tensor([1.0 + 2**-20, 2.0, 4.0])
    result = compare(actual, expected)
    assert result.equal is False
    assert result.close is True
    assert result.max_abs_diff == 2**-20
    assert result.max_rel_diff == 2**-20
    assert result.where == (0,)
    assert result.mismatched == 0
    assert result.numel == 3
    assert str(result) == (
        "close, not bitwise equal: max abs diff 9.54e-07 at (0,), max rel diff 9.54e-07; "
        "all 3 elements within rtol=1.3e-06, atol=1e-05 (float32)"
    )


def test_not_close():
    expected = torch.tensor([0.25, 2.0, 4.0])
    actual = torch.tensor([0.5, 2.0, 5.0])
    result = compare(actual, expected)
    assert result.equal is False
    assert result.close is False
    assert result.mismatched == 2
    assert result.numel == 3
    # abs diffs (0.25, 0, 1): greatest at index 2; rel diffs (1, 0, 0.25): greatest 1.
    assert result.max_abs_diff == 1.0
    assert result.where == (2,)
    assert result.max_rel_diff == 1.0
    assert str(result) == (
        "NOT close: 2 / 3 (66.7%) elements outside rtol=1.3e-06, atol=1e-05 (float32); "
        "max abs diff 1 at (2,), max rel diff 1"
    )


def test_not_close_one_of_three():
    result = compare(torch.tensor([1.0, 3.0, 4.0]), torch.tensor([1.0, 2.0, 4.0]))
    assert (result.mismatched, result.where, result.max_abs_diff, result.max_rel_diff) == (1, (1,), 1.0, 0.5)
    assert str(result).startswith(
        "NOT close: 1 / 3 (33.3%) elements outside rtol=1.3e-06, atol=1e-05 (float32);"
    )


def test_where_is_a_multi_dimensional_index():
    expected = torch.zeros(2, 3)
    actual = expected.clone()
    actual[0, 1] = 2**-4
    actual[1, 2] = -(2**-3)
    result = compare(actual, expected)
    assert result.where == (1, 2)
    assert result.max_abs_diff == 2**-3
    assert result.max_rel_diff == INF  # a difference from 0 is infinitely large relative to it
    assert result.mismatched == 2


@pytest.mark.parametrize(
    ("actual", "expected", "dtype", "accepted"),
    [
        pytest.param(1.0 + 2**-17, 1.0, torch.float32, True, id="f32-within"),
        pytest.param(1.0 + 2**-16, 1.0, torch.float32, False, id="f32-outside"),
        pytest.param(2**-17, 0.0, torch.float32, True, id="f32-within-atol"),
        pytest.param(2**-16, 0.0, torch.float32, False, id="f32-outside-atol"),
        pytest.param(1024.0 + 2**-10, 1024.0, torch.float32, True, id="f32-within-rtol"),
        pytest.param(1024.0 + 2**-6, 1024.0, torch.float32, False, id="f32-outside-rtol"),
        pytest.param(1.0 + 2**-24, 1.0, torch.float64, True, id="f64-within"),
        pytest.param(1.0 + 2**-22, 1.0, torch.float64, False, id="f64-outside"),
    ],
)
def test_default_tolerances_agree_with_assert_close(actual, expected, dtype, accepted):
    a, e = torch.tensor([actual], dtype=dtype), torch.tensor([expected], dtype=dtype)
    assert assert_close_accepts(a, e) is accepted
    assert compare(a, e).close is accepted


def test_default_tolerances_agree_with_assert_close_at_float32_rounding():
    """A float32 pair within one rounding of the bound: assert_close (which tests in float32) accepts it.

    |a - e| = 1.0222e-5 and atol + rtol * |e| = 1.0222e-5 agree to 5 digits; compare
    must give assert_close's verdict, since pages print one and assert the other.
    """
    a = torch.tensor([float.fromhex("-0x1.5e062cp-3")])
    e = torch.tensor([float.fromhex("-0x1.5e0b88p-3")])
    assert assert_close_accepts(a, e)
    assert compare(a, e).close is True


def test_default_tolerances_agree_with_assert_close_on_random_pairs():
    expected = torch.randn(1000)
    actual = expected + torch.randn(1000) * 1e-5
    for k in range(1000):
        a, e = actual[k : k + 1], expected[k : k + 1]
        assert compare(a, e).close is assert_close_accepts(a, e), (a.item(), e.item())


def test_explicit_atol():
    expected = torch.zeros(3)
    actual = torch.tensor([0.0, 2**-3, 0.0])
    assert compare(actual, expected, rtol=0.0, atol=2**-3).close is True  # |d| <= atol, boundary included
    result = compare(actual, expected, rtol=0.0, atol=2**-4)
    assert result.close is False
    assert (result.rtol, result.atol) == (0.0, 2**-4)
    assert "outside rtol=0, atol=0.062" in str(result)


def test_explicit_rtol():
    expected = torch.tensor([4.0, 1.0])
    actual = torch.tensor([4.5, 1.0])
    assert compare(actual, expected, rtol=2**-3, atol=0.0).close is True  # 0.5 <= 0.125 * 4
    result = compare(actual, expected, rtol=2**-4, atol=0.0)
    assert result.close is False
    assert result.mismatched == 1
    assert (result.rtol, result.atol) == (2**-4, 0.0)


def test_zero_tolerance_is_exact():
    result = compare(torch.tensor([1.0 + 2**-23]), torch.tensor([1.0]), rtol=0.0, atol=0.0)
    assert result.close is False
    assert result.max_abs_diff == 2**-23


@pytest.mark.parametrize(
    ("actual", "expected"),
    [
        pytest.param([NAN], [1.0], id="nan-vs-number"),
        pytest.param([1.0], [NAN], id="number-vs-nan"),
        pytest.param([NAN], [NAN], id="nan-vs-nan"),
    ],
)
def test_nan_is_never_close(actual, expected):
    result = compare(torch.tensor(actual), torch.tensor(expected))
    assert result.equal is False
    assert result.close is False
    assert result.mismatched == 1
    assert result.max_abs_diff == INF
    assert result.max_rel_diff == INF  # reported as infinite, never as NaN
    assert not assert_close_accepts(torch.tensor(actual), torch.tensor(expected))


def test_nan_among_equal_values():
    a = torch.tensor([1.0, NAN, 3.0])
    result = compare(a, a.clone())
    assert (result.equal, result.close, result.mismatched, result.where) == (False, False, 1, (1,))
    assert str(result).startswith("NOT close: 1 / 3 (33.3%)")


def test_equal_infinities_are_close():
    expected = torch.tensor([INF, -INF, 1.0])
    result = compare(expected.clone(), expected)
    assert (result.equal, result.close) == (True, True)
    assert str(result) == "bitwise equal (3 elements, float32)"


def test_equal_infinities_do_not_hide_a_finite_difference():
    expected = torch.tensor([INF, 1.0])
    result = compare(torch.tensor([INF, 1.0 + 2**-20]), expected)
    assert (result.equal, result.close, result.mismatched) == (False, True, 0)
    assert result.max_abs_diff == 2**-20
    assert result.where == (1,)


@pytest.mark.parametrize(
    ("actual", "expected"),
    [
        pytest.param(INF, -INF, id="inf-vs-minus-inf"),
        pytest.param(-INF, INF, id="minus-inf-vs-inf"),
        pytest.param(1.0, INF, id="number-vs-inf"),
        pytest.param(INF, 1.0, id="inf-vs-number"),
    ],
)
def test_unequal_infinities_are_not_close(actual, expected):
    a, e = torch.tensor([actual]), torch.tensor([expected])
    assert not assert_close_accepts(a, e)
    result = compare(a, e)
    assert result.equal is False
    assert result.close is False
    assert result.mismatched == 1
    assert result.max_abs_diff == INF


def test_empty_tensors():
    result = compare(torch.empty(0, 3), torch.empty(0, 3))
    assert (result.equal, result.close, result.mismatched, result.numel) == (True, True, 0, 0)
    assert (result.max_abs_diff, result.max_rel_diff, result.where) == (0.0, 0.0, None)
    assert str(result) == "bitwise equal (0 elements, float32)"


def test_zero_dim_tensors():
    equal = compare(torch.tensor(2.5), torch.tensor(2.5))
    assert (equal.equal, equal.numel) == (True, 1)
    result = compare(torch.tensor(3.0), torch.tensor(2.0))
    assert (result.close, result.where, result.max_abs_diff, result.max_rel_diff) == (False, (), 1.0, 0.5)
    assert str(result) == (
        "NOT close: 1 / 1 (100.0%) elements outside rtol=1.3e-06, atol=1e-05 (float32); "
        "max abs diff 1 at (), max rel diff 0.5"
    )


def test_float64():
    expected = torch.tensor([1.0, 2.0], dtype=torch.float64)
    result = compare(expected + torch.tensor([0.0, 2**-30], dtype=torch.float64), expected)
    assert (result.equal, result.close) == (False, True)
    assert (result.rtol, result.atol) == (1e-7, 1e-7)
    assert result.max_abs_diff == 2**-30
    assert result.max_rel_diff == 2**-31
    assert result.dtype == torch.float64
    assert str(result).endswith("(float64)")


def test_integer_tensors_must_match_exactly():
    result = compare(torch.tensor([1, 2, 3]), torch.tensor([1, 2, 4]))
    assert (result.rtol, result.atol) == (0.0, 0.0)
    assert (result.equal, result.close, result.mismatched) == (False, False, 1)
    assert (result.where, result.max_abs_diff, result.max_rel_diff) == ((2,), 1.0, 0.25)
    assert str(result) == (
        "NOT close: 1 / 3 (33.3%) elements outside rtol=0, atol=0 (int64); max abs diff 1 at (2,), max rel diff 0.25"
    )
    assert str(compare(torch.tensor([1, 2]), torch.tensor([1, 2]))) == "bitwise equal (2 elements, int64)"
    assert compare(torch.tensor([1, 2, 3]), torch.tensor([1, 2, 4]), rtol=0, atol=1).close is True


def test_tensors_that_require_grad():
    expected = torch.tensor([1.0, 2.0], requires_grad=True)
    assert compare(expected * 1, expected).equal is True


# --- bad input -----------------------------------------------------------------------------------


def test_actual_not_a_tensor():
    with pytest.raises(
        TypeError, match=r"^Expected actual to be a torch\.Tensor, but got an object of type list"
    ):
        compare([1.0], torch.tensor([1.0]))


def test_expected_not_a_tensor():
    with pytest.raises(
        TypeError,
        match=r"^Expected expected to be a torch\.Tensor, but got an object of type float",
    ):
        compare(torch.tensor(1.0), 1.0)


def test_dtype_mismatch():
    with pytest.raises(
        TypeError,
        match=r"^Expected tensors of the same dtype, but got actual torch\.float32",
    ):
        compare(torch.zeros(2), torch.zeros(2, dtype=torch.float64))


def test_shape_mismatch():
    with pytest.raises(
        ValueError,
        match=r"^Expected tensors of the same shape, but got actual \(2, 3\) and expected \(3, 2\)",
    ):
        compare(torch.zeros(2, 3), torch.zeros(3, 2))


def test_only_rtol_given():
    with pytest.raises(
        ValueError,
        match=r"^Expected both rtol and atol or neither, but got rtol=0\.1 and atol=None",
    ):
        compare(torch.zeros(2), torch.zeros(2), rtol=0.1)


def test_only_atol_given():
    with pytest.raises(
        ValueError,
        match=r"^Expected both rtol and atol or neither, but got rtol=None and atol=0\.1",
    ):
        compare(torch.zeros(2), torch.zeros(2), atol=0.1)


@pytest.mark.parametrize(("rtol", "atol"), [(-0.1, 0.0), (0.0, -0.1)], ids=["rtol", "atol"])
def test_negative_tolerance(rtol, atol):
    with pytest.raises(
        ValueError,
        match=rf"^Expected non-negative tolerances, but got rtol={rtol} and atol={atol}",
    ):
        compare(torch.zeros(2), torch.zeros(2), rtol=rtol, atol=atol)


@pytest.mark.parametrize(("rtol", "atol"), [(math.nan, 1e-5), (1e-5, math.nan)], ids=["nan-rtol", "nan-atol"])
def test_nan_tolerance(rtol, atol):
    with pytest.raises(ValueError, match=r"^Expected non-negative tolerances, but got rtol=nan|and atol=nan"):
        compare(torch.ones(2), torch.ones(2), rtol=rtol, atol=atol)


def test_one_element_is_singular():
    assert str(compare(torch.ones(1), torch.ones(1))) == "bitwise equal (1 element, float32)"


# --- on a page: Comparison._repr_html_ and Comparisons ------------------------------------------

import xml.etree.ElementTree as ET

from lstm_demo.comparison import COLUMNS, Comparisons


def _rows(markup: str) -> list[list[str]]:
    root = ET.fromstring(markup)
    return [["".join(cell.itertext()) for cell in row] for row in root.iterfind("table/tbody/tr")]


def test_cells_say_each_figure():
    # 2.25 vs 2.0: |diff| 0.25, relative 0.125, 1 of 2 elements outside the float32 tolerance
    result = compare(torch.tensor([1.0, 2.25]), torch.tensor([1.0, 2.0]))
    assert result.outcome == "NOT close"
    assert result.cells() == (
        "NOT close",
        "0.25",
        "(1,)",
        "0.125",
        "1 / 2 (50.0%)",
        "rtol=1.3e-06, atol=1e-05 (float32)",
    )
    assert compare(torch.ones(2), torch.ones(2)).outcome == "bitwise equal"
    assert compare(torch.tensor([1.0 + 2**-20]), torch.tensor([1.0])).outcome == "close, not bitwise equal"
    empty = compare(torch.ones(0), torch.ones(0))
    assert empty.cells() == ("bitwise equal", "0", "-", "0", "0 / 0", "rtol=1.3e-06, atol=1e-05 (float32)")


def test_comparison_html_is_one_row_table():
    # 3.0 vs 2.0 in float64: |diff| 1, relative 0.5
    result = compare(
        torch.tensor([1.0, 3.0], dtype=torch.float64), torch.tensor([1.0, 2.0], dtype=torch.float64)
    )
    root = ET.fromstring(result._repr_html_())
    assert root.findtext("table/caption") == "actual vs expected: NOT close"
    assert [th.text for th in root.iterfind("table/thead/tr/th")] == list(COLUMNS)
    assert _rows(result._repr_html_()) == [
        [
            "actual vs expected",
            "NOT close",
            "1",
            "(1,)",
            "0.5",
            "1 / 2 (50.0%)",
            "rtol=1e-07, atol=1e-07 (float64)",
        ]
    ]
    assert str(result.table("mine vs theirs")) == str(result)
    assert _rows(result.table("mine vs theirs")._repr_html_())[0][0] == "mine vs theirs"


def test_table_of_labelled_comparisons():
    same = compare(torch.ones(3), torch.ones(3))
    apart = compare(torch.tensor([2.0]), torch.tensor([1.0]))
    shown = Comparisons({"t=0": same, "h_n <last>": apart}, caption="steps & states")
    assert list(shown) == ["t=0", "h_n <last>"]
    assert shown["h_n <last>"] is apart
    assert len(shown) == 2
    assert (shown.close, shown.equal) == (False, False)
    assert (Comparisons({"t=0": same}, caption="c").close, Comparisons({"t=0": same}, caption="c").equal) == (
        True,
        True,
    )
    assert str(shown).splitlines() == [
        "t=0: bitwise equal (3 elements)",
        "h_n <last>: NOT close: 1 / 1 (100.0%) elements outside the tolerance; max abs diff 1 at (0,), max rel diff 1",
        "tolerance: rtol=1.3e-06, atol=1e-05 (float32)",
    ]
    # Tolerances that differ stay on their lines.
    wide = compare(torch.tensor([2.0]), torch.tensor([1.0]), rtol=0.0, atol=2.0)
    assert str(Comparisons({"a": same, "b": wide}, caption="c")).splitlines() == [f"a: {same}", f"b: {wide}"]
    markup = shown._repr_html_()
    assert "h_n &lt;last&gt;" in markup
    assert "steps &amp; states" in markup
    assert _rows(markup) == [
        ["t=0", "bitwise equal", "0", "(0,)", "0", "0 / 3 (0.0%)", "rtol=1.3e-06, atol=1e-05 (float32)"],
        ["h_n <last>", "NOT close", "1", "(0,)", "1", "1 / 1 (100.0%)", "rtol=1.3e-06, atol=1e-05 (float32)"],
    ]


@pytest.mark.parametrize(
    ("comparisons", "caption", "error", "message"),
    [
        ([1], "c", TypeError, r"^Expected comparisons to be a mapping of str to Comparison, but got "),
        ({"x": 0.5}, "c", TypeError, r"^Expected comparisons to be a mapping of str to Comparison, but got "),
        ({1: None}, "c", TypeError, r"^Expected comparisons to be a mapping of str to Comparison, but got "),
        ({}, 3, TypeError, r"^Expected caption to be a str, but got "),
    ],
)
def test_comparisons_reject_bad_arguments(comparisons, caption, error, message):
    with pytest.raises(error, match=message):
        Comparisons(comparisons, caption=caption)


@pytest.mark.parametrize(
    ("actual", "expected", "words"),
    [
        ([1.0, 2.0], [1.0, 2.0], "bitwise equal"),
        ([1.0, 2.0 + 2**-22], [1.0, 2.0], "close, max abs diff 2.38e-07"),
        ([1.0, 3.0], [1.0, 2.0], "NOT close, max abs diff 1"),
    ],
)
def test_verdict(actual: list[float], expected: list[float], words: str) -> None:
    assert compare(torch.tensor(actual), torch.tensor(expected)).verdict == words
