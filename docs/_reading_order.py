"""The order a reader meets the pages in: the gallery's index and the site's table of contents.

The post's two questions come first, then what ``nn.LSTM`` returns and
computes, the questions readers ask next, grouped by theme, precision and
speed, and last the forensics of the post's own printed numbers.
sphinx-gallery sorts the examples with :class:`ReadingOrder`
(``within_subsection_order`` in conf.py); docs/index.md's tables of contents
list the same pages in the same order, which tests/test_reading_order.py
checks.
"""

from __future__ import annotations

from pathlib import Path

#: (section caption, [page]) in reading order; a page is a docs/ document name.
SECTIONS: list[tuple[str, list[str]]] = [
    (
        "The post's two questions",
        ["auto_examples/plot_01_whole_vs_stepwise", "auto_examples/plot_02_num_layers_vs_stacked"],
    ),
    ("What nn.LSTM returns and computes", ["shapes", "auto_examples/plot_05_equations_by_hand"]),
    (
        "Questions by theme",
        [
            "auto_examples/plot_06_directions_and_layout",
            "auto_examples/plot_07_padding_state_gradients",
            "auto_examples/plot_08_dropout_projection_other_rnns",
            "auto_examples/plot_11_notation",
            "auto_examples/plot_13_porting",
            "auto_examples/plot_12_gpu_only",
        ],
    ),
    (
        "Precision and speed",
        ["auto_examples/plot_09_precision_and_devices", "auto_examples/plot_10_speed"],
    ),
    (
        "The post's own numbers",
        [
            "auto_examples/plot_03_post_numbers_two_layers",
            "auto_examples/plot_04_post_numbers_recovered_input",
        ],
    ),
]

#: Every gallery script's file name, in reading order.
EXAMPLES: list[str] = [
    page.removeprefix("auto_examples/") + ".py"
    for _, pages in SECTIONS
    for page in pages
    if page.startswith("auto_examples/")
]


class ReadingOrder:
    """sphinx-gallery sort key: an example's place in :data:`EXAMPLES`; others after, by name."""

    def __init__(self, src_dir: str | Path) -> None:
        self.src_dir = src_dir

    def __call__(self, filename: str | Path) -> tuple[int, str]:
        name = Path(filename).name
        return (EXAMPLES.index(name) if name in EXAMPLES else len(EXAMPLES), name)

    def __repr__(self) -> str:
        # sphinx-gallery compares configurations by repr; one per class keeps a rebuild incremental.
        return f"{type(self).__name__}()"
