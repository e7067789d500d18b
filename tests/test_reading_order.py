"""docs/_reading_order.py: the gallery's order and the table of contents follow one reading path."""

from __future__ import annotations

import re
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT / "docs"))

from _reading_order import EXAMPLES, SECTIONS, ReadingOrder


def test_every_gallery_script_has_one_place_on_the_path():
    scripts = sorted(p.name for p in (ROOT / "examples").glob("plot_*.py"))
    assert sorted(EXAMPLES) == scripts
    assert len(set(EXAMPLES)) == len(EXAMPLES)


def test_the_landing_page_tables_of_contents_follow_the_path():
    text = (ROOT / "docs" / "index.md").read_text()
    found = [
        (caption, entries.split())
        for caption, entries in re.findall(
            r"```\{toctree\}\n:hidden:\n:caption: ([^\n]*)\n\n(.*?)```", text, re.DOTALL
        )
    ]
    assert found == [*SECTIONS, ("Reference", ["auto_examples/index", "api"])]


def test_the_post_comes_first_and_its_forensics_last():
    assert EXAMPLES[:2] == ["plot_01_whole_vs_stepwise.py", "plot_02_num_layers_vs_stacked.py"]
    assert EXAMPLES[-2:] == ["plot_03_post_numbers_two_layers.py", "plot_04_post_numbers_recovered_input.py"]
    assert SECTIONS[1][1][0] == "shapes"  # right after the post's two questions


@pytest.mark.parametrize(
    ("filename", "expected"),
    [
        ("examples/plot_02_num_layers_vs_stacked.py", (1, "plot_02_num_layers_vs_stacked.py")),
        ("/any/where/plot_03_post_numbers_two_layers.py", (11, "plot_03_post_numbers_two_layers.py")),
        ("plot_99_new.py", (13, "plot_99_new.py")),
    ],
)
def test_sort_key(filename, expected):
    assert ReadingOrder("examples")(filename) == expected


def test_sorting_puts_forensics_after_speed():
    key = ReadingOrder("examples")
    names = ["plot_03_post_numbers_two_layers.py", "plot_10_speed.py", "plot_01_whole_vs_stepwise.py"]
    assert sorted(names, key=key) == [
        "plot_01_whole_vs_stepwise.py",
        "plot_10_speed.py",
        "plot_03_post_numbers_two_layers.py",
    ]
