"""Results as HTML tables on the built site, as plain text everywhere else.

A :class:`Table` is a ``str`` (the plain-text table a terminal prints) that
also has ``_repr_html_``: sphinx-gallery and myst-nb show the last value of a
code block through it, as a ``<table>`` the site's ``tables.css`` lays out for
wide and narrow screens. :func:`show` returns a value for such a page to
display, and prints it anywhere else, so each result appears once either way.
"""

from __future__ import annotations

import html
import re
import sys
from collections.abc import Iterable, Sequence

#: The class of every table this module writes; ``docs/_static/tables.css`` styles it.
CSS_CLASS = "lstm-demo-table"

#: Cells that start with one of these say something failed; the text says it, bold adds emphasis.
_BAD = ("FAILS", "NOT ", "NO", "ERROR")


def rich_display() -> bool:
    """True where the last value of a code block is shown through ``_repr_html_``.

    That is inside a sphinx-gallery run (its output tee replaces
    ``sys.stdout``) or a Jupyter kernel (myst-nb executes pages in one); not
    in a terminal, a plain ``python`` run, pytest or doctest.

    Examples
    --------
    >>> from lstm_demo.display import rich_display
    >>> rich_display()
    False
    """
    if type(sys.stdout).__module__.startswith("sphinx_gallery"):
        return True
    ipython = sys.modules.get("IPython")
    get_ipython = getattr(ipython, "get_ipython", None)
    shell = get_ipython() if callable(get_ipython) else None
    return shell is not None and hasattr(shell, "kernel")


def show(value: object) -> object | None:
    """Print ``value`` in a terminal; on a built page, return it to be displayed.

    Make ``show(...)`` the last line of a code block (of a gallery script or
    a notebook cell): sphinx-gallery and myst-nb display a block's last value
    only. Running the script with ``python`` prints ``str(value)`` instead,
    so the result appears once either way.

    Examples
    --------
    >>> from lstm_demo.display import show
    >>> show("printed, as a terminal would")
    printed, as a terminal would
    """
    if rich_display():
        return value
    print(value)
    return None


def escape(text: object) -> str:
    """``str(text)`` with ``&``, ``<``, ``>`` and quotes escaped for HTML."""
    return html.escape(str(text), quote=True)


# A number in scientific notation ("7.45e-09", "rtol=1.3e-06"): kept on one line, since a browser
# may otherwise break it after the exponent's hyphen.
_SCIENTIFIC = re.compile(r"\d+(?:\.\d+)?e[-+]\d+")


def _unbroken_numbers(escaped: str) -> str:
    return _SCIENTIFIC.sub(lambda m: f'<span class="lstm-demo-nowrap">{m.group(0)}</span>', escaped)


def _cell(tag: str, text: str, label: str | None, *, scope: str | None = None, numeric: bool = False) -> str:
    classes = ["lstm-demo-num"] if numeric else []
    if text.startswith(_BAD):
        classes.append("lstm-demo-bad")
    if "\n" in text:
        classes.append("lstm-demo-lines")
    attributes = f' scope="{scope}"' if scope else ""
    if label:
        attributes += f' data-label="{escape(label)}"'
    if classes:
        attributes += f' class="{" ".join(classes)}"'
    return f"<{tag}{attributes}>{_unbroken_numbers(escape(text))}</{tag}>"


class Table(str):
    """A plain-text table (the string itself) that renders as an accessible HTML table.

    Parameters
    ----------
    text : str
        What a terminal prints.
    caption : str
        The table's ``<caption>``: what it shows.
    header : sequence of str
        The column headings (``<th scope="col">``).
    sections : sequence of tuple
        Groups of rows, each ``(heading, rows)`` with an optional heading
        (``None`` for none; a ``<th scope="rowgroup">`` line), and rows of
        as many strings as ``header``. The first cell of each row is its
        heading (``<th scope="row">``).
    notes : sequence of str
        Sentences shown under the table.
    numeric : sequence of int
        Columns of numbers, right-aligned.

    Raises
    ------
    ValueError
        If a row has more or fewer cells than ``header``.

    Examples
    --------
    >>> from lstm_demo.display import Table
    >>> table = Table("a  1", caption="Letters", header=("letter", "n"), sections=[(None, [("a", "1")])])
    >>> print(table)
    a  1
    >>> '<th scope="row" data-label="letter">a</th>' in table._repr_html_()
    True
    """

    caption: str
    header: tuple[str, ...]
    sections: tuple[tuple[str | None, tuple[tuple[str, ...], ...]], ...]
    notes: tuple[str, ...]
    numeric: frozenset[int]

    def __new__(  # noqa: PYI034 - typing.Self needs Python 3.11
        cls,
        text: str,
        *,
        caption: str,
        header: Sequence[str],
        sections: Iterable[tuple[str | None, Iterable[Sequence[str]]]],
        notes: Sequence[str] = (),
        numeric: Iterable[int] = (),
    ) -> Table:
        self = super().__new__(cls, text)
        self.caption = caption
        self.header = tuple(header)
        self.sections = tuple((heading, tuple(tuple(row) for row in rows)) for heading, rows in sections)
        self.notes = tuple(notes)
        self.numeric = frozenset(numeric)
        for _, rows in self.sections:
            for row in rows:
                if len(row) != len(self.header):
                    msg = (
                        f"Expected rows of {len(self.header)} cells like the header, "
                        f"but got {len(row)} cells in {row!r} instead."
                    )
                    raise ValueError(msg)
        return self

    def _repr_html_(self) -> str:
        columns = len(self.header)
        head = "".join(f'<th scope="col">{escape(h)}</th>' for h in self.header)
        # Tables of three or more columns stack their cells on narrow screens.
        width = " lstm-demo-stack" if columns > 2 else ""
        parts = [
            f'<div class="{CSS_CLASS}-wrap">',
            f'<table class="{CSS_CLASS}{width}">',
            f"<caption>{escape(self.caption)}</caption>",
            f"<thead><tr>{head}</tr></thead>",
        ]
        for heading, rows in self.sections:
            parts.append("<tbody>")
            if heading is not None:
                parts.append(
                    f'<tr class="lstm-demo-group"><th scope="rowgroup" colspan="{columns}">'
                    f"{escape(heading)}</th></tr>"
                )
            for row in rows:
                cells = [_cell("th", row[0], self.header[0], scope="row")]
                for i, (text, label) in enumerate(zip(row[1:], self.header[1:], strict=True), start=1):
                    cells.append(_cell("td", text, label, numeric=i in self.numeric))
                parts.append(f"<tr>{''.join(cells)}</tr>")
            parts.append("</tbody>")
        parts.append("</table>")
        parts += [f'<p class="{CSS_CLASS}-note">{escape(note)}</p>' for note in self.notes]
        parts.append("</div>")
        return "\n".join(parts)


class Stack(list[object]):
    """Several results shown one after another: their HTML on a page, their text joined by blank lines."""

    def __str__(self) -> str:
        return "\n\n".join(str(item) for item in self)

    def _repr_html_(self) -> str:
        return "\n".join(
            item._repr_html_() if hasattr(item, "_repr_html_") else f"<pre>{escape(item)}</pre>"
            for item in self
        )
