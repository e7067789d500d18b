"""What one run of a claim found: :class:`ClaimResult`, shown as text or as one HTML table."""

from __future__ import annotations

import dataclasses
import textwrap
from collections.abc import Sequence
from dataclasses import dataclass

import torch

from lstm_demo.comparison import Comparison
from lstm_demo.devices import device_name
from lstm_demo.display import Table
from lstm_demo.tolerances import Tolerance


def fill(text: str) -> str:
    """The first paragraph of ``text`` on one line, folded at 79 columns."""
    return textwrap.fill(" ".join(text.strip().split("\n\n")[0].split()), width=79)


def only_note(devices: Sequence[torch.device]) -> str | None:
    """The sentence a proof shows when no CUDA GPU took part in it; ``None`` when one did.

    ``None`` too for no devices: results that do not say where they ran.

    Examples
    --------
    >>> import torch
    >>> from lstm_demo.claims import only_note
    >>> only_note([torch.device("cpu")])
    'Only the CPU ran this: no CUDA GPU was among the devices.'
    """
    if not devices or any(d.type == "cuda" for d in devices):
        return None
    names = ", ".join(dict.fromkeys(device_name(d) for d in devices))
    who = "the CPU" if names == "cpu" else names
    return f"Only {who} ran this: no CUDA GPU was among the devices."


@dataclass(frozen=True)
class ClaimResult:
    """One claim, run once on one device: what was compared, and how it came out."""

    claim: str
    """The sentence the run tests."""
    device: torch.device
    dtype: torch.dtype
    tolerance: Tolerance
    """The tolerance every comparison used, and why."""
    comparisons: dict[str, Comparison]
    """What was compared (``output``, ``h_n``, ``c_n``, ...) and the result."""
    reference: tuple[torch.Tensor, ...] = dataclasses.field(repr=False, default=())
    """The expected sides, in the order of ``comparisons``, for comparing devices."""
    notes: tuple[str, ...] = ()
    """What else the run found that is worth saying (printed after the comparisons)."""
    actual: tuple[torch.Tensor, ...] = dataclasses.field(repr=False, default=())
    """The actual sides, in the order of ``comparisons``: what the mutation suite holds to other tolerances."""

    @property
    def max_abs_diff(self) -> float:
        """The greatest absolute difference of any comparison."""
        return max((c.max_abs_diff for c in self.comparisons.values()), default=0.0)

    @property
    def holds(self) -> bool:
        """True when every comparison is close within the tolerance."""
        return all(c.close for c in self.comparisons.values())

    @property
    def bitwise(self) -> bool:
        """True when every comparison is bitwise equal."""
        return all(c.equal for c in self.comparisons.values())

    @property
    def verdict(self) -> str:
        """``holds, bitwise equal``, ``holds, within the tolerance`` or ``FAILS``."""
        if not self.holds:
            return "FAILS"
        return "holds, bitwise equal" if self.bitwise else "holds, within the tolerance"

    def assert_holds(self) -> None:
        """Raise ``AssertionError`` with the report unless the claim holds."""
        if not self.holds:
            msg = f"claim failed: {self.claim}\n{self}"
            raise AssertionError(msg)

    def __str__(self) -> str:
        return self.report()

    def report(self, width: int | None = 79) -> str:
        """The result as text: a header line, the tolerance, each comparison, the notes.

        Lines longer than ``width`` are folded under their value's column (the
        verdict comes first, so a page shows it without scrolling); ``None``
        leaves them whole, for a terminal.
        """
        verdict = "holds" if self.holds else "FAILS"
        dtype = str(self.dtype).removeprefix("torch.")
        column = max((len(k) for k in self.comparisons), default=0)
        column = max(column, len("tolerance"))
        rows = [("tolerance", str(self.tolerance))]
        rows += [(name, c.describe(tolerance=False)) for name, c in self.comparisons.items()]
        rows += [("note:", note) for note in self.notes]
        lines = [f"{device_name(self.device)}, {dtype}: {verdict}"]
        for name, text in rows:
            first = "  note: " if name == "note:" else f"  {name:<{column}}  "
            if width is None:
                lines.append(first + text)
            else:
                lines.append(
                    textwrap.fill(text, width, initial_indent=first, subsequent_indent=" " * len(first))
                )
        return "\n".join(lines)

    @staticmethod
    def table(results: Sequence[ClaimResult], sentence: str) -> Table:
        """Results of one claim, a column per device: the verdict, the tolerance, each comparison, the notes.

        The text is each result's :meth:`report` under ``sentence``; the HTML
        table has the sentence as its caption. A comparison a device did not
        make (``output vs cpu`` on the CPU itself) reads ``n/a``.

        Examples
        --------
        >>> from lstm_demo.claims import ClaimResult, batch_first
        >>> table = ClaimResult.table([batch_first()], "batch_first transposes.")
        >>> table.header
        ('result', 'cpu, float32')
        >>> table.sections[0][1][0]
        ('verdict', 'holds, bitwise equal')
        """
        header = (
            "result",
            *(f"{device_name(r.device)}, {str(r.dtype).removeprefix('torch.')}" for r in results),
        )
        labels = list(dict.fromkeys(label for r in results for label in r.comparisons))
        rows: list[tuple[str, ...]] = [
            ("verdict", *(r.verdict for r in results)),
            ("tolerance", *(str(r.tolerance) for r in results)),
        ]
        for label in labels:
            cells = (
                r.comparisons[label].describe(tolerance=False) if label in r.comparisons else "n/a"
                for r in results
            )
            rows.append((label, *cells))
        if any(r.notes for r in results):
            rows.append(("notes", *("\n".join(r.notes) or "none" for r in results)))
        note = only_note([r.device for r in results])
        text = "\n".join([fill(sentence), *(r.report() for r in results), *([fill(note)] if note else [])])
        return Table(
            text,
            caption=" ".join(sentence.split()),
            header=header,
            sections=[(None, rows)],
            notes=[note] if note else [],
        )

    def _repr_html_(self) -> str:
        """The result as an HTML table: a column for its device, a row per comparison."""
        return ClaimResult.table([self], self.claim)._repr_html_()
