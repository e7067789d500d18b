"""The browser check's decisions that need no browser: pages, links and anchors, search ranks, the report."""

from __future__ import annotations

from pathlib import Path

import pytest
from browser.sitecheck import (
    Finding,
    Target,
    check_links,
    maths_findings,
    parse_page,
    rank,
    raw_maths,
    report,
    resolve,
    site_pages,
)


def _site(root: Path, files: dict[str, str]) -> Path:
    for name, text in files.items():
        path = root / name
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(text, encoding="utf-8")
    return root


def test_site_pages_are_the_html_files_outside_the_asset_folders(tmp_path):
    _site(
        tmp_path,
        {
            "index.html": "",
            "auto_examples/plot_01.html": "",
            "_modules/lstm_demo/stepwise.html": "",
            "_static/furo.html": "",
            "_sources/index.md.txt": "",
            "_images/plot.png": "",
        },
    )
    assert site_pages(tmp_path) == [
        "_modules/lstm_demo/stepwise.html",
        "auto_examples/plot_01.html",
        "index.html",
    ]


def test_parse_page_reads_ids_anchor_names_and_every_url():
    ids, urls = parse_page(
        '<h1 id="title">T</h1><a name="old"></a><a href="x.html#y">x</a>'
        '<img src="_images/a.png"><script src="_static/s.js"></script>'
        '<link rel="stylesheet" href="_static/furo.css"><a>no href</a><span name="not-an-anchor"></span>'
    )
    assert ids == {"title", "old"}
    assert urls == ["x.html#y", "_images/a.png", "_static/s.js", "_static/furo.css"]


@pytest.mark.parametrize(
    ("page", "url", "target"),
    [
        ("index.html", "#top-level", Target("index.html", "top-level")),
        ("index.html", "shapes.html", Target("shapes.html", "")),
        (
            "auto_examples/plot_01.html",
            "../api.html#lstm_demo.run_stepwise",
            Target("api.html", "lstm_demo.run_stepwise"),
        ),
        ("_modules/lstm_demo/stepwise.html", "../../api.html#x", Target("api.html", "x")),
        ("index.html", "auto_examples/", Target("auto_examples/index.html", "")),
        ("auto_examples/plot_01.html", "./", Target("auto_examples/index.html", "")),
        ("auto_examples/plot_01.html", "..", Target("index.html", "")),
        ("index.html", "search.html?q=lstm#results", Target("search.html", "results")),
        ("index.html", "my%20page.html#caf%C3%A9", Target("my page.html", "café")),
        ("auto_examples/plot_01.html", "/shapes.html", Target("shapes.html", "")),
        ("index.html", "../outside.html", Target("../outside.html", "")),
    ],
)
def test_resolve_lands_where_a_browser_does(page, url, target):
    assert resolve(page, url) == target


@pytest.mark.parametrize(
    "url",
    [
        "https://pytorch.org/docs",
        "mailto:a@b.c",
        "javascript:void(0)",
        "data:image/png;base64,AA",
        "//cdn/x.js",
    ],
)
def test_resolve_leaves_links_off_the_site_alone(url):
    assert resolve("index.html", url) is None


def test_check_links_reports_each_missing_file_and_anchor_once(tmp_path):
    _site(
        tmp_path,
        {
            "index.html": (
                '<a href="#intro">here</a><a href="#intro">again</a><a href="#gone">gone</a><a href="#">top</a>'
                '<p id="intro"></p><a href="api.html#lstm_demo.compare">ok</a>'
                '<a href="api.html#lstm_demo.stepwise.run_stepwise">viewcode</a>'
                '<a href="missing.html">missing</a><img src="_images/plot.png">'
                '<a href="_sources/index.md.txt#anything">source</a><a href="https://example.org/#x">out</a>'
            ),
            "api.html": '<dt id="lstm_demo.compare"></dt>',
            "_sources/index.md.txt": "",
        },
    )
    findings = check_links(tmp_path, ["index.html", "api.html"])
    assert findings == [
        Finding("index.html", "links", "'#gone': index.html has no element with id 'gone'"),
        Finding(
            "index.html",
            "links",
            "'api.html#lstm_demo.stepwise.run_stepwise': api.html has no element with id "
            "'lstm_demo.stepwise.run_stepwise'",
        ),
        Finding("index.html", "links", "'missing.html': no file missing.html"),
        Finding("index.html", "links", "'_images/plot.png': no file _images/plot.png"),
    ]


def test_check_links_refuses_a_link_out_of_the_site_folder(tmp_path):
    _site(tmp_path / "html", {"index.html": '<a href="../secret.html">x</a>'})
    (tmp_path / "secret.html").write_text("")
    assert check_links(tmp_path / "html", ["index.html"]) == [
        Finding("index.html", "links", "'../secret.html': no file ../secret.html")
    ]


def test_raw_maths_finds_latex_left_untypeset():
    gap = " and then some words of prose between the formulas, " * 2
    text = rf"The cell state is $$c_t = f_t \odot c_{{t-1}}$${gap}\begin{{aligned}} h_t \end{{aligned}}{gap}\(x_t\)."
    snippets = raw_maths(text, limit=10)
    assert len(snippets) == 3  # the $$ display, \begin (not \end) and \(, each shown once
    assert snippets[0].startswith("The cell state is $$c_t")
    assert r"\begin{aligned}" in snippets[1]
    assert snippets[2].endswith(r"\(x_t\).")
    assert raw_maths("A price of $3 and a tensor's shape (2, 3).") == []
    assert len(raw_maths(gap.join(["$$"] * 10))) == 3


def _seen(maths=0, typeset=0, mathml=0, text="Prose."):
    return {"maths": maths, "typeset": typeset, "mathml": mathml, "text": text}


def test_maths_findings_accept_mathml_laid_out_with_no_source_left():
    assert maths_findings(_seen(maths=4, typeset=4, mathml=4)) == []
    assert maths_findings(_seen(mathml=3)) == []  # MathML with no Sphinx wrapper
    assert maths_findings(_seen()) == []  # a page without maths


def test_maths_findings_name_untypeset_formulas_and_what_the_page_had():
    assert maths_findings(_seen(maths=4, typeset=1, mathml=4)) == [
        "1 of 4 formulas typeset (MathML on the page, not laid out as maths)"
    ]
    assert maths_findings(_seen(maths=2)) == ["0 of 2 formulas typeset (no MathML on the page)"]


def test_maths_findings_report_latex_source_left_in_the_text():
    # The wrapped formulas are MathML, but a $$ block the build never saw stays raw.
    found = maths_findings(_seen(maths=1, typeset=1, mathml=1, text="so $$h_t = o_t$$ holds"))
    assert found == ["raw LaTeX in the text: 'so $$h_t = o_t$$ holds'"]


def test_rank_is_the_first_result_on_a_wanted_page():
    results = [
        "index.html?highlight=stepwise#the-site",
        "shapes.html",
        "auto_examples/plot_01_whole_vs_stepwise.html?highlight=stepwise#feed-it",
    ]
    assert rank(results, {"auto_examples/plot_01_whole_vs_stepwise.html"}) == 3
    assert rank(results, {"shapes.html", "index.html"}) == 1
    assert rank(results, {"api.html"}) is None
    assert rank([], {"api.html"}) is None


def test_report_groups_every_finding_by_check_with_counts():
    findings = [
        Finding("shapes.html", "axe (dark)", "serious color-contrast on 2 elements"),
        Finding("index.html", "links", "'#x': index.html has no element with id 'x'"),
        Finding("api.html", "axe (dark)", "critical link-name on 1 elements"),
    ]
    assert report(findings, pages=33).splitlines() == [
        "3 findings on 3 of 33 pages:",
        "  axe (dark): 2",
        "  links: 1",
        "",
        "== axe (dark) (2)",
        "api.html: critical link-name on 1 elements",
        "shapes.html: serious color-contrast on 2 elements",
        "",
        "== links (1)",
        "index.html: '#x': index.html has no element with id 'x'",
    ]
    assert report([], pages=33) == "All checks passed on 33 pages."
