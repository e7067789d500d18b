"""lstm_demo.display: text in a terminal, an accessible HTML table on a page, shown once either way."""

from __future__ import annotations

import sys
import types
import xml.etree.ElementTree as ET

import pytest

from lstm_demo import display
from lstm_demo.display import Stack, Table, escape, rich_display, show


def parse(markup: str) -> ET.Element:
    """The HTML as an element tree: it must be well-formed to parse at all."""
    return ET.fromstring(markup)


def cells(row: ET.Element) -> list[tuple[str, str]]:
    return [(cell.tag, "".join(cell.itertext())) for cell in row]


@pytest.fixture
def letters() -> Table:
    return Table(
        "a  1\nb  2",
        caption="Letters & <numbers>",
        header=("letter", "count", "verdict"),
        sections=[("vowels", [("a", "1", "yes")]), (None, [("b <i>", "2", "NOT close")])],
        notes=["Only the CPU ran this."],
        numeric=(1,),
    )


def test_table_is_its_text(letters: Table) -> None:
    assert isinstance(letters, str)
    assert str(letters) == "a  1\nb  2"
    assert letters.splitlines() == ["a  1", "b  2"]
    assert letters.header == ("letter", "count", "verdict")
    assert letters.sections == (("vowels", (("a", "1", "yes"),)), (None, (("b <i>", "2", "NOT close"),)))


def test_table_html_structure(letters: Table) -> None:
    root = parse(letters._repr_html_())
    assert root.tag == "div"
    assert root.get("class") == "lstm-demo-table-wrap"
    table = root.find("table")
    assert table is not None
    assert table.get("class") == "lstm-demo-table lstm-demo-stack"
    assert table.findtext("caption") == "Letters & <numbers>"
    assert [(th.get("scope"), th.text) for th in table.iterfind("thead/tr/th")] == [
        ("col", "letter"),
        ("col", "count"),
        ("col", "verdict"),
    ]
    first, second = table.findall("tbody")
    group, row = first.findall("tr")
    assert group.get("class") == "lstm-demo-group"
    heading = group.find("th")
    assert heading is not None
    assert (heading.get("scope"), heading.get("colspan"), heading.text) == ("rowgroup", "3", "vowels")
    assert cells(row) == [("th", "a"), ("td", "1"), ("td", "yes")]
    assert row[0].get("scope") == "row"
    assert [cell.get("data-label") for cell in row] == ["letter", "count", "verdict"]
    assert row[1].get("class") == "lstm-demo-num"
    assert row[2].get("class") is None
    (row,) = second.findall("tr")
    assert cells(row) == [("th", "b <i>"), ("td", "2"), ("td", "NOT close")]
    # The verdict is in the words; the class only adds weight.
    assert row[2].get("class") == "lstm-demo-bad"
    (note,) = root.findall("p")
    assert (note.get("class"), note.text) == ("lstm-demo-table-note", "Only the CPU ran this.")


def test_table_html_escapes_every_text(letters: Table) -> None:
    markup = letters._repr_html_()
    assert "<i>" not in markup
    assert "b &lt;i&gt;" in markup
    assert "Letters &amp; &lt;numbers&gt;" in markup


def test_escape_quotes() -> None:
    assert escape("a \"b\" & 'c' <d>") == "a &quot;b&quot; &amp; &#x27;c&#x27; &lt;d&gt;"


def test_two_column_tables_do_not_stack() -> None:
    table = Table("x", caption="c", header=("what", "value"), sections=[(None, [("x", "1")])])
    assert parse(table._repr_html_()).find("table").get("class") == "lstm-demo-table"  # type: ignore[union-attr]


def test_a_cell_of_several_lines_keeps_them() -> None:
    table = Table("x", caption="c", header=("what", "value"), sections=[(None, [("x", "one\ntwo")])])
    cell = parse(table._repr_html_()).find("table/tbody/tr/td")
    assert cell is not None
    assert (cell.get("class"), cell.text) == ("lstm-demo-lines", "one\ntwo")


def test_table_rejects_rows_unlike_the_header() -> None:
    with pytest.raises(ValueError, match=r"^Expected rows of 2 cells like the header, but got 3 cells in "):
        Table("x", caption="c", header=("a", "b"), sections=[(None, [("1", "2", "3")])])


def test_stack_joins_text_and_html(letters: Table) -> None:
    stack = Stack([letters, "plain <text>"])
    assert str(stack) == "a  1\nb  2\n\nplain <text>"
    markup = stack._repr_html_()
    assert markup.startswith(letters._repr_html_() + "\n")
    assert markup.endswith("<pre>plain &lt;text&gt;</pre>")


# --- where the value is shown -----------------------------------------------------------------


def test_a_terminal_prints(capsys: pytest.CaptureFixture[str], letters: Table) -> None:
    assert rich_display() is False
    assert show(letters) is None
    assert capsys.readouterr().out == "a  1\nb  2\n"


class GalleryTee:
    """Stands in for sphinx-gallery's output tee, which replaces sys.stdout while a script runs."""

    def write(self, text: str) -> int:
        return len(text)

    def flush(self) -> None:
        pass


GalleryTee.__module__ = "sphinx_gallery.gen_rst"


def test_sphinx_gallery_gets_the_value(monkeypatch: pytest.MonkeyPatch, letters: Table) -> None:
    monkeypatch.setattr(sys, "stdout", GalleryTee())
    assert rich_display() is True
    assert show(letters) is letters


def _ipython(shell: object) -> types.ModuleType:
    module = types.ModuleType("IPython")
    module.get_ipython = lambda: shell  # type: ignore[attr-defined]
    return module


def test_a_jupyter_kernel_gets_the_value(monkeypatch: pytest.MonkeyPatch, capsys, letters: Table) -> None:
    monkeypatch.setitem(sys.modules, "IPython", _ipython(types.SimpleNamespace(kernel=object())))
    assert rich_display() is True
    assert show(letters) is letters
    assert capsys.readouterr().out == ""


def test_a_terminal_ipython_prints(monkeypatch: pytest.MonkeyPatch, capsys, letters: Table) -> None:
    monkeypatch.setitem(sys.modules, "IPython", _ipython(types.SimpleNamespace()))
    assert rich_display() is False
    monkeypatch.setitem(sys.modules, "IPython", _ipython(None))
    assert rich_display() is False
    assert show(letters) is None
    assert capsys.readouterr().out == "a  1\nb  2\n"


def test_show_asks_rich_display(monkeypatch: pytest.MonkeyPatch, capsys) -> None:
    monkeypatch.setattr(display, "rich_display", lambda: True)
    assert show("value") == "value"
    assert capsys.readouterr().out == ""


# --- the precision page's table ------------------------------------------------------------------


def test_agreements_html_groups_rows_by_model() -> None:
    import torch

    from lstm_demo.agreement import Agreement, Agreements, Setting
    from lstm_demo.tolerances import tolerance_for

    cpu = torch.device("cpu")
    setting = Setting("cpu float32", cpu, torch.float32, {})
    rows = [
        Agreement("post 1 <small>", setting, 9.59e-9, 1.91e-7, tolerance_for(cpu, torch.float32), True, 0.0),
        Agreement("large", setting, 8e-2, 2.45e-5, tolerance_for(cpu, torch.float32), False, 0.0),
    ]
    shown = Agreements(rows)
    assert str(shown).splitlines()[0] == "post 1 <small>"
    root = parse(shown._repr_html_())
    assert root.findtext("table/caption") == "Each setting against float64 on the CPU, per model"
    assert [th.text for th in root.iterfind("table/thead/tr/th")] == [
        "setting",
        "max abs diff",
        "max rel diff",
        "vs cpu float32",
        "within tolerance",
    ]
    assert [cells(row) for row in root.iterfind("table/tbody/tr")] == [
        [("th", "post 1 <small>")],
        [("th", "cpu float32"), ("td", "9.59e-09"), ("td", "1.91e-07"), ("td", "0.00e+00"), ("td", "yes")],
        [("th", "large")],
        [("th", "cpu float32"), ("td", "8.00e-02"), ("td", "2.45e-05"), ("td", "0.00e+00"), ("td", "NO")],
    ]
    assert [p.text for p in root.iterfind("p")] == [
        "No GPU ran: this run had no CUDA device, so no TF32, cuDNN or GPU rows."
    ]


def test_scientific_numbers_are_kept_on_one_line():
    from lstm_demo.display import Table

    cell = "max abs diff 7.45e-09, rtol=1.3e-06"
    table = Table(f"x  {cell}", caption="Numbers", header=("a", "b"), sections=[(None, [("x", cell)])])
    html = table._repr_html_()
    assert '<span class="lstm-demo-nowrap">7.45e-09</span>' in html
    assert '<span class="lstm-demo-nowrap">1.3e-06</span>' in html
    assert "max abs diff " in html
