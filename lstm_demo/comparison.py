"""Compare two tensors and say how equal they are: bitwise, close, or not."""

from __future__ import annotations

from collections.abc import Iterator, Mapping
from dataclasses import dataclass

import torch

from lstm_demo._validate import describe
from lstm_demo.display import Table

#: The default ``(rtol, atol)`` of :func:`torch.testing.assert_close` per dtype,
#: as its documentation lists them.
DEFAULT_TOLERANCES: dict[torch.dtype, tuple[float, float]] = {
    torch.float16: (1e-3, 1e-5),
    torch.bfloat16: (1.6e-2, 1e-5),
    torch.float32: (1.3e-6, 1e-5),
    torch.float64: (1e-7, 1e-7),
    torch.complex32: (1e-3, 1e-5),
    torch.complex64: (1.3e-6, 1e-5),
    torch.complex128: (1e-7, 1e-7),
}


def default_tolerance(dtype: torch.dtype) -> tuple[float, float]:
    """``(rtol, atol)`` that :func:`torch.testing.assert_close` uses for ``dtype``.

    Integer and boolean dtypes get ``(0, 0)``: their values must match exactly.

    Examples
    --------
    >>> import torch
    >>> from lstm_demo.comparison import default_tolerance
    >>> default_tolerance(torch.float32)
    (1.3e-06, 1e-05)
    """
    return DEFAULT_TOLERANCES.get(dtype, (0.0, 0.0))


@dataclass(frozen=True, kw_only=True)
class Comparison:
    """How ``actual`` compares with ``expected``, element by element.

    ``close`` uses the rule of :func:`torch.testing.assert_close`:
    ``|actual - expected| <= atol + rtol * |expected|`` for every element
    (NaN is never close). ``equal`` is :func:`torch.equal`: same values bit
    for bit. ``str()`` gives a one-line report.
    """

    equal: bool
    """True when the tensors are bitwise equal (:func:`torch.equal`)."""
    close: bool
    """True when every element is within ``atol + rtol * |expected|``."""
    max_abs_diff: float
    """Greatest ``|actual - expected|``."""
    max_rel_diff: float
    """Greatest ``|actual - expected| / |expected|``."""
    where: tuple[int, ...] | None
    """Index of the greatest absolute difference (None for empty tensors)."""
    mismatched: int
    """Number of elements outside the tolerance."""
    numel: int
    """Number of elements compared."""
    rtol: float
    """Relative tolerance used."""
    atol: float
    """Absolute tolerance used."""
    dtype: torch.dtype
    """dtype of the tensors."""

    def __str__(self) -> str:
        return self.describe()

    def describe(self, *, tolerance: bool = True) -> str:
        """The one-line report; ``tolerance=False`` leaves out the tolerances and dtype.

        Examples
        --------
        >>> import torch
        >>> from lstm_demo import compare
        >>> result = compare(torch.tensor([1.0, 2.0]), torch.tensor([1.0, 2.5]))
        >>> result.describe(tolerance=False)
        'NOT close: 1 / 2 (50.0%) elements outside the tolerance; max abs diff 0.5 at (1,), max rel diff 0.2'
        """
        dtype = str(self.dtype).removeprefix("torch.")
        elements = f"{self.numel} element{'' if self.numel == 1 else 's'}"
        if self.equal:
            return f"bitwise equal ({elements}" + (f", {dtype})" if tolerance else ")")
        tol = f"rtol={self.rtol:.2g}, atol={self.atol:.2g} ({dtype})" if tolerance else "the tolerance"
        diff = f"max abs diff {self.max_abs_diff:.3g} at {self.where}, max rel diff {self.max_rel_diff:.3g}"
        if self.close:
            within = f"; all {elements} within {tol}" if tolerance else ""
            return f"close, not bitwise equal: {diff}{within}"
        share = 100 * self.mismatched / self.numel
        return f"NOT close: {self.mismatched} / {self.numel} ({share:.1f}%) elements outside {tol}; {diff}"

    @property
    def outcome(self) -> str:
        """``bitwise equal``, ``close, not bitwise equal`` or ``NOT close``, the words of a table's verdict column."""
        if self.equal:
            return "bitwise equal"
        return "close, not bitwise equal" if self.close else "NOT close"

    @property
    def verdict(self) -> str:
        """The comparison in a few words, bitwise equal or else close (or not) with the greatest difference.

        Short enough for a table cell or a line of a page; ``str(comparison)``
        says more (where, the relative difference, the tolerance).

        Examples
        --------
        >>> import torch
        >>> from lstm_demo import compare
        >>> compare(torch.tensor([1.0, 2.0]), torch.tensor([1.0, 2.5])).verdict
        'NOT close, max abs diff 0.5'
        >>> compare(torch.tensor([1.0]), torch.tensor([1.0])).verdict
        'bitwise equal'
        """
        if self.equal:
            return "bitwise equal"
        return f"{'close' if self.close else 'NOT close'}, max abs diff {self.max_abs_diff:.3g}"

    def cells(self) -> tuple[str, ...]:
        """The comparison as the cells of a row of ``COLUMNS``."""
        if self.numel == 0:
            return (self.outcome, "0", "-", "0", "0 / 0", self._tolerance())
        share = 100 * self.mismatched / self.numel
        return (
            self.outcome,
            f"{self.max_abs_diff:.3g}",
            str(self.where),
            f"{self.max_rel_diff:.3g}",
            f"{self.mismatched} / {self.numel} ({share:.1f}%)",
            self._tolerance(),
        )

    def _tolerance(self) -> str:
        return f"rtol={self.rtol:.2g}, atol={self.atol:.2g} ({str(self.dtype).removeprefix('torch.')})"

    def table(self, label: str = "actual vs expected") -> Table:
        """The comparison as a :class:`~lstm_demo.display.Table`: its one-line report, and a row on a page.

        Examples
        --------
        >>> import torch
        >>> from lstm_demo.comparison import compare
        >>> table = compare(torch.tensor([1.0, 2.0]), torch.tensor([1.0, 2.5])).table()
        >>> print(table)
        NOT close: 1 / 2 (50.0%) elements outside rtol=1.3e-06, atol=1e-05 (float32); max abs diff 0.5 at (1,), max rel diff 0.2
        >>> table.sections[0][1][0][:3]
        ('actual vs expected', 'NOT close', '0.5')
        """
        rows = [(label, *self.cells())]
        return Table(
            str(self),
            caption=f"{label}: {self.outcome}",
            header=COLUMNS,
            sections=[(None, rows)],
            numeric=(2, 4),
        )

    def _repr_html_(self) -> str:
        return self.table()._repr_html_()


#: The columns of :class:`Comparisons`' table: what was compared, then :meth:`Comparison.cells`.
COLUMNS = (
    "compared",
    "verdict",
    "max abs diff",
    "at index",
    "max rel diff",
    "outside the tolerance",
    "tolerance",
)


class Comparisons(Mapping[str, Comparison]):
    """Several labelled comparisons, shown as one table: a row each.

    A mapping of label to :class:`Comparison`, in the order given. Its text
    (``str()``, what a terminal prints) is a line ``label: report`` per
    comparison, and the tolerance once when they share it; on a page (as a
    code block's last value) it is an HTML table with the columns of
    ``COLUMNS``, which narrow screens show as a card per comparison.

    Parameters
    ----------
    comparisons : dict
        Label to comparison, in the order to show.
    caption : str
        What the table shows.

    Raises
    ------
    TypeError
        If ``comparisons`` is not a mapping of strings to comparisons, or
        ``caption`` is not a string.

    Examples
    --------
    >>> import torch
    >>> from lstm_demo.comparison import Comparisons, compare
    >>> a = torch.tensor([1.0, 2.0])
    >>> found = Comparisons({"a vs a": compare(a, a.clone())}, caption="a with itself")
    >>> print(found)
    a vs a: bitwise equal (2 elements)
    tolerance: rtol=1.3e-06, atol=1e-05 (float32)
    >>> found.equal, found["a vs a"].close
    (True, True)
    """

    def __init__(self, comparisons: Mapping[str, Comparison], *, caption: str) -> None:
        if not isinstance(comparisons, Mapping) or not all(
            isinstance(k, str) and isinstance(v, Comparison) for k, v in comparisons.items()
        ):
            msg = f"Expected comparisons to be a mapping of str to Comparison, but got {describe(comparisons)} instead."
            raise TypeError(msg)
        if not isinstance(caption, str):
            msg = f"Expected caption to be a str, but got {describe(caption)} instead."
            raise TypeError(msg)
        self._comparisons = dict(comparisons)
        self.caption = caption

    def __getitem__(self, label: str) -> Comparison:
        return self._comparisons[label]

    def __iter__(self) -> Iterator[str]:
        return iter(self._comparisons)

    def __len__(self) -> int:
        return len(self._comparisons)

    @property
    def equal(self) -> bool:
        """Whether every comparison is bitwise equal."""
        return all(c.equal for c in self.values())

    @property
    def close(self) -> bool:
        """Whether every comparison is within its tolerance."""
        return all(c.close for c in self.values())

    def table(self) -> Table:
        """The comparisons as a :class:`~lstm_demo.display.Table`: the text of ``str()``, a row each on a page."""
        tolerances = {c._tolerance() for c in self.values()}
        if len(tolerances) == 1:  # said once, under the lines
            lines = [f"{label}: {c.describe(tolerance=False)}" for label, c in self.items()]
            text = "\n".join([*lines, f"tolerance: {tolerances.pop()}"])
        else:
            text = "\n".join(f"{label}: {c}" for label, c in self.items())
        rows = [(label, *c.cells()) for label, c in self.items()]
        return Table(text, caption=self.caption, header=COLUMNS, sections=[(None, rows)], numeric=(2, 4))

    def __str__(self) -> str:
        return str(self.table())

    def __repr__(self) -> str:
        return f"Comparisons({self._comparisons!r}, caption={self.caption!r})"

    def _repr_html_(self) -> str:
        return self.table()._repr_html_()


def compare(
    actual: torch.Tensor,
    expected: torch.Tensor,
    *,
    rtol: float | None = None,
    atol: float | None = None,
) -> Comparison:
    """Compare ``actual`` with ``expected``: bitwise, and within a tolerance.

    Parameters
    ----------
    actual, expected : torch.Tensor
        Same shape and dtype. They may live on different devices: both are
        compared on the CPU.
    rtol, atol : float, optional
        Give both or neither. By default, those of
        :func:`torch.testing.assert_close` for the dtype (float32:
        ``rtol=1.3e-6, atol=1e-5``; float64: ``1e-7, 1e-7``).

    Returns
    -------
    Comparison
        ``equal`` (bitwise), ``close``, the greatest differences and where,
        the number of mismatched elements and the tolerances used.

    Raises
    ------
    TypeError
        If either argument is not a tensor, or their dtypes differ.
    ValueError
        If their shapes differ, only one tolerance is given, or a tolerance
        is negative.

    Examples
    --------
    >>> import torch
    >>> from lstm_demo import compare
    >>> a = torch.tensor([1.0, 2.0, 3.0])
    >>> print(compare(a, a.clone()))
    bitwise equal (3 elements, float32)
    >>> print(compare(a + 2**-20, a))
    close, not bitwise equal: max abs diff 9.54e-07 at (0,), max rel diff 9.54e-07; all 3 elements within rtol=1.3e-06, atol=1e-05 (float32)
    >>> result = compare(a, torch.tensor([1.0, 2.5, 3.0]))
    >>> result.close, result.mismatched, result.where
    (False, 1, (1,))
    """
    for name, value in (("actual", actual), ("expected", expected)):
        if not isinstance(value, torch.Tensor):
            msg = f"Expected {name} to be a torch.Tensor, but got {describe(value)} instead."
            raise TypeError(msg)
    if actual.dtype != expected.dtype:
        msg = (
            f"Expected tensors of the same dtype, but got actual {actual.dtype} "
            f"and expected {expected.dtype} instead."
        )
        raise TypeError(msg)
    if actual.shape != expected.shape:
        msg = (
            f"Expected tensors of the same shape, but got actual {tuple(actual.shape)} "
            f"and expected {tuple(expected.shape)} instead."
        )
        raise ValueError(msg)
    if (rtol is None) != (atol is None):
        msg = f"Expected both rtol and atol or neither, but got rtol={rtol} and atol={atol} instead."
        raise ValueError(msg)
    if rtol is None or atol is None:
        rtol, atol = default_tolerance(actual.dtype)
    if not (rtol >= 0 and atol >= 0):  # also refuses NaN
        msg = f"Expected non-negative tolerances, but got rtol={rtol} and atol={atol} instead."
        raise ValueError(msg)

    a = actual.detach().cpu()
    e = expected.detach().cpu()
    if a.dtype == torch.bool:
        a, e = a.to(torch.uint8), e.to(torch.uint8)
    equal = torch.equal(a, e)
    numel = a.numel()
    if numel == 0:
        return Comparison(
            equal=equal, close=True, max_abs_diff=0.0, max_rel_diff=0.0, where=None,
            mismatched=0, numel=0, rtol=rtol, atol=atol, dtype=actual.dtype,
        )  # fmt: skip

    # Closeness is decided as torch.testing.assert_close decides it: by
    # torch.isclose in the tensors' own dtype. Wider copies only report.
    within = torch.isclose(a, e, rtol=rtol, atol=atol)
    wide = torch.complex128 if a.is_complex() else torch.float64
    a, e = a.to(wide), e.to(wide)
    abs_diff = (a - e).abs()
    both_nan = torch.isnan(a) & torch.isnan(e)
    abs_diff = torch.where(torch.isnan(abs_diff) & ~both_nan, torch.inf, abs_diff)
    abs_diff = torch.where(both_nan, torch.inf, abs_diff)
    same = a == e  # also covers equal infinities
    abs_diff = torch.where(same, 0.0, abs_diff)
    rel_diff = abs_diff / e.abs()
    rel_diff = torch.where(torch.isnan(rel_diff), torch.inf, rel_diff)
    rel_diff = torch.where(abs_diff == 0, 0.0, rel_diff)
    flat = int(abs_diff.argmax())
    where = tuple(int(i) for i in torch.unravel_index(torch.tensor(flat), a.shape))
    mismatched = int((~within).sum())
    return Comparison(
        equal=equal,
        close=mismatched == 0,
        max_abs_diff=float(abs_diff.max()),
        max_rel_diff=float(rel_diff.max()),
        where=where,
        mismatched=mismatched,
        numel=numel,
        rtol=rtol,
        atol=atol,
        dtype=actual.dtype,
    )
