"""The built site as a reader's browser shows it: Debian's chromium driven by Playwright.

Run by ``nox -s browser`` (which builds the site first and installs the
``browser`` dependency group); pytest collects this file only when it is named,
so ``nox -s tests`` never needs a browser. Every page of docs/_build/html is
served from 127.0.0.1 and opened in light and dark mode, at 1280 and 390 px,
with every request that would leave 127.0.0.1 refused: the site must work
offline. Each test below is one check over all pages, and its failure lists
every page that fails it, with what was seen; the full report and a screenshot
of each page go to docs/_build/.
"""

from __future__ import annotations

import contextlib
import functools
import http.server
import os
import threading
from collections.abc import Callable, Iterator
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any, NamedTuple, TypeVar

import pytest
from axe_playwright_python.base import AXE_SCRIPT
from playwright.sync_api import Browser, ConsoleMessage, Page, Route, ViewportSize, sync_playwright
from playwright.sync_api import Error as PlaywrightError

from browser.sitecheck import Finding, check_links, rank, raw_maths, report, site_pages

T = TypeVar("T")
ROOT = Path(__file__).resolve().parents[2]
SITE = Path(os.environ.get("LSTM_DEMO_SITE", ROOT / "docs" / "_build" / "html"))
SCREENSHOTS = SITE.parent / "screenshots"
REPORT = SITE.parent / "browser-report.txt"
CHROMIUM = "/usr/bin/chromium"
CHROMIUM_ARGS = [
    "--no-sandbox",
    "--disable-gpu",
    "--disable-background-networking",
    "--disable-component-update",
]
WIDE, NARROW = 1280, 390
WIDE_VIEW: ViewportSize = {"width": WIDE, "height": 900}
NARROW_VIEW: ViewportSize = {"width": NARROW, "height": 900}
MODES = ("light", "dark")
# The axe-core impacts that fail the check; "minor" and "moderate" ones are reported by Lighthouse.
FAILING_IMPACTS = ("serious", "critical")
# Questions a reader types into the search box, and the pages that answer them.
SEARCHES = {
    "stepwise": {"auto_examples/plot_01_whole_vs_stepwise.html"},
    "num_layers": {"auto_examples/plot_02_num_layers_vs_stacked.html"},
    "batch_first": {"shapes.html", "auto_examples/plot_06_directions_and_layout.html"},
    "proj_size": {"auto_examples/plot_08_dropout_projection_other_rnns.html", "shapes.html"},
    "padding": {"auto_examples/plot_07_padding_state_gradients.html"},
}
TOP = 3

# Elements wider than the page at 390 px, outermost first: what makes it scroll sideways.
_OVERFLOW_JS = """() => {
  const page = document.scrollingElement;
  const width = page.clientWidth;
  const wide = [];
  for (const element of document.body.querySelectorAll('*')) {
    const box = element.getBoundingClientRect();
    if (box.width === 0 || box.right <= width + 1) continue;
    if (wide.some(outer => outer.contains(element))) continue;
    wide.push(element);
  }
  const name = e => e.tagName.toLowerCase() + (e.id ? '#' + e.id : '')
    + (e.classList.length ? '.' + [...e.classList].slice(0, 2).join('.') : '');
  return {scrollWidth: page.scrollWidth, clientWidth: width,
          culprits: wide.slice(0, 3).map(e => `${name(e)} (${Math.round(e.getBoundingClientRect().right)} px)`)};
}"""

_TABLES_JS = """() => [...document.querySelectorAll('article table, main table')].map((table, index) => {
  const container = table.parentElement;
  const label = (table.querySelector('caption, th, td')?.textContent || '').split(/\\s+/).join(' ').trim().slice(0, 40);
  return {index, label, width: Math.round(table.getBoundingClientRect().width),
          room: container.clientWidth};
}).filter(t => t.width > t.room + 1)"""

_MATHS_JS = """() => {
  const maths = [...document.querySelectorAll('.math')];
  const typeset = maths.filter(m => m.querySelector('mjx-container')).length;
  const text = document.querySelector('article') || document.body;
  const copy = text.cloneNode(true);
  copy.querySelectorAll('pre, code, script, style, mjx-container, .highlight').forEach(e => e.remove());
  return {maths: maths.length, typeset, mathjax: Boolean(window.MathJax && window.MathJax.version),
          text: copy.textContent};
}"""

_WAIT_FOR_MATHJAX_JS = """async () => {
  const startup = window.MathJax && window.MathJax.startup;
  if (startup && startup.promise) await startup.promise;
}"""

_SEARCH_RESULTS_JS = """() => [...document.querySelectorAll('#search-results ul.search > li')]
  .map(item => item.querySelector('a')?.getAttribute('href') || '')"""


class Visit(NamedTuple):
    """What one page showed in one colour mode (layout: light mode only, at both widths)."""

    page: str
    mode: str
    errors: list[str]  # console errors and uncaught exceptions, with where they came from
    refused: list[str]  # URLs of requests that would have left 127.0.0.1
    theme: str  # furo's <body data-theme>
    axe: list[dict[str, Any]]  # violations of the failing impacts, at 1280 px
    maths: dict[str, Any]
    tables: dict[int, list[dict[str, Any]]]  # tables wider than their container, by viewport width
    overflow: dict[str, Any]  # the page's scroll width at 390 px


class _QuietHandler(http.server.SimpleHTTPRequestHandler):
    def log_message(self, format: str, *args: Any) -> None:
        pass


@contextlib.contextmanager
def _serve(folder: Path) -> Iterator[str]:
    """``folder`` served over HTTP on a free port of 127.0.0.1; yields the base URL."""
    handler = functools.partial(_QuietHandler, directory=str(folder))
    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), handler)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{server.server_address[1]}/"
    finally:
        server.shutdown()
        server.server_close()
        thread.join()


def _local_only(refused: list[str]):
    def route(route: Route) -> None:
        url = route.request.url
        if url.startswith(("http://127.0.0.1:", "data:", "blob:")):
            route.continue_()
        else:
            refused.append(url)
            route.abort()

    return route


def _console_error(message: ConsoleMessage) -> str:
    url = message.location.get("url", "")
    return f"{message.text} ({url})" if url else message.text


def _screenshot(page: Page, page_path: str, mode: str, *, full_page: bool) -> None:
    width = page.viewport_size["width"] if page.viewport_size else WIDE
    name = f"{page_path.removesuffix('.html').replace('/', '--')}-{mode}-{width}.png"
    page.screenshot(path=SCREENSHOTS / name, full_page=full_page)


def _visit_all(browser: Browser, base: str, pages: list[str], mode: str) -> list[Visit]:
    """Open every page in ``mode``; in light mode, measure the layout at 1280 and 390 px too."""
    context = browser.new_context(viewport=WIDE_VIEW, color_scheme=mode, reduced_motion="reduce")
    # furo keeps the reader's choice of light/dark/auto under this key.
    context.add_init_script(f"localStorage.setItem('theme', '{mode}')")
    errors: list[str] = []
    refused: list[str] = []
    context.route("**/*", _local_only(refused))
    page = context.new_page()
    page.on("console", lambda message: message.type == "error" and errors.append(_console_error(message)))
    page.on("pageerror", lambda error: errors.append(f"uncaught {error.name}: {error.message}"))
    visits = []
    for page_path in pages:
        errors.clear()
        refused.clear()
        page.set_viewport_size(WIDE_VIEW)
        page.goto(base + page_path, wait_until="load")
        with contextlib.suppress(PlaywrightError):  # a MathJax that never loads: the maths check says so
            page.evaluate(_WAIT_FOR_MATHJAX_JS)
        theme = page.evaluate("() => document.body.dataset.theme || ''")
        axe = _axe(page)
        tables, overflow, maths = {}, {}, {}
        if mode == "light":
            maths = page.evaluate(_MATHS_JS)
            tables[WIDE] = page.evaluate(_TABLES_JS)
            _screenshot(page, page_path, mode, full_page=True)
            page.set_viewport_size(NARROW_VIEW)
            tables[NARROW] = page.evaluate(_TABLES_JS)
            overflow = page.evaluate(_OVERFLOW_JS)
            _screenshot(page, page_path, mode, full_page=True)
        else:
            _screenshot(page, page_path, mode, full_page=False)
        visits.append(
            Visit(page_path, mode, list(errors), list(refused), theme, axe, maths, tables, overflow)
        )
    context.close()
    return visits


def _axe(page: Page) -> list[dict[str, Any]]:
    page.evaluate(AXE_SCRIPT)
    results = page.evaluate("() => axe.run(document, {resultTypes: ['violations']})")
    return [v for v in results["violations"] if v["impact"] in FAILING_IMPACTS]


def _search(browser: Browser, base: str, query: str) -> list[str]:
    context = browser.new_context()
    context.route("**/*", _local_only([]))
    page = context.new_page()
    page.goto(f"{base}search.html?q={query}", wait_until="load")
    # Sphinx's search fills in the summary line once every result is listed.
    page.wait_for_function(
        "() => (document.querySelector('#search-results .search-summary')?.textContent || '').trim()",
        timeout=15_000,
    )
    hrefs = page.evaluate(_SEARCH_RESULTS_JS)
    context.close()
    return hrefs


class Run(NamedTuple):
    pages: list[str]
    visits: list[Visit]
    searches: dict[str, list[str]]


def _in_chromium(task: Callable[..., T], *args: Any) -> T:
    """``task(browser, *args)`` with a chromium of its own: one per thread, as Playwright requires."""
    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS)
        try:
            return task(browser, *args)
        finally:
            browser.close()


def _searches(browser: Browser, base: str) -> dict[str, list[str]]:
    return {query: _search(browser, base, query) for query in SEARCHES}


@pytest.fixture(scope="module")
def run() -> Run:
    if not (SITE / "index.html").is_file():
        pytest.fail(f"Expected a built site at {SITE}, but got no index.html there: run `nox -s docs`.")
    pages = site_pages(SITE)
    SCREENSHOTS.mkdir(parents=True, exist_ok=True)
    # Light and dark mode in two browsers at once: axe-core's colour-contrast rule, the
    # slowest part, keeps one core busy per browser.
    with _serve(SITE) as base, ThreadPoolExecutor(max_workers=len(MODES)) as pool:
        modes = [pool.submit(_in_chromium, _visit_all, base, pages, mode) for mode in MODES]
        searches = pool.submit(_in_chromium, _searches, base)
        visits = [visit for mode in modes for visit in mode.result()]
        return Run(pages, visits, searches.result())


@pytest.fixture(scope="module")
def findings(run: Run) -> Iterator[list[Finding]]:
    """Every finding of every check; the report of all of them is written once the checks ran."""
    found: list[Finding] = []
    yield found
    REPORT.write_text(report(found, pages=len(run.pages)) + "\n", encoding="utf-8")


def _check(findings: list[Finding], new: list[Finding], *, pages: int) -> None:
    findings.extend(new)
    if new:
        pytest.fail(report(new, pages=pages), pytrace=False)


def test_every_page_is_visited_in_both_modes(run: Run, findings: list[Finding]) -> None:
    assert "index.html" in run.pages
    assert "auto_examples/plot_01_whole_vs_stepwise.html" in run.pages
    assert [(v.page, v.mode) for v in run.visits] == [(p, m) for m in MODES for p in run.pages]
    new = [
        Finding(v.page, f"theme ({v.mode})", f"furo shows data-theme={v.theme!r}")
        for v in run.visits
        if v.theme != v.mode
    ]
    _check(findings, new, pages=len(run.pages))


def test_no_console_errors(run: Run, findings: list[Finding]) -> None:
    new = [
        Finding(v.page, f"console ({v.mode})", error) for v in run.visits for error in dict.fromkeys(v.errors)
    ]
    _check(findings, new, pages=len(run.pages))


def test_no_request_leaves_the_machine(run: Run, findings: list[Finding]) -> None:
    new = [
        Finding(v.page, "offline", f"requested {url}")
        for v in run.visits
        if v.mode == "light"
        for url in dict.fromkeys(v.refused)
    ]
    _check(findings, new, pages=len(run.pages))


def test_maths_is_typeset(run: Run, findings: list[Finding]) -> None:
    new = []
    for v in run.visits:
        if v.mode != "light" or not v.maths["maths"]:
            continue
        m = v.maths
        if m["typeset"] < m["maths"]:
            loaded = "MathJax loaded" if m["mathjax"] else "MathJax never loaded"
            new.append(
                Finding(v.page, "maths", f"{m['typeset']} of {m['maths']} formulas typeset ({loaded})")
            )
        new += [Finding(v.page, "maths", f"raw LaTeX in the text: {s!r}") for s in raw_maths(m["text"])]
    _check(findings, new, pages=len(run.pages))


def test_no_serious_accessibility_violations(run: Run, findings: list[Finding]) -> None:
    new = [
        Finding(
            v.page,
            f"axe ({v.mode})",
            f"{violation['impact']} {violation['id']} on {len(violation['nodes'])} elements, "
            f"e.g. {violation['nodes'][0]['target']}: {violation['help']}",
        )
        for v in run.visits
        for violation in v.axe
    ]
    _check(findings, new, pages=len(run.pages))


def test_no_sideways_scroll_on_a_phone(run: Run, findings: list[Finding]) -> None:
    new = [
        Finding(
            v.page,
            f"sideways scroll ({NARROW} px)",
            f"scrollWidth {o['scrollWidth']} > clientWidth {o['clientWidth']}; widest: "
            + ", ".join(o["culprits"]),
        )
        for v in run.visits
        if v.mode == "light"
        for o in [v.overflow]
        if o["scrollWidth"] > o["clientWidth"]
    ]
    _check(findings, new, pages=len(run.pages))


def test_tables_fit_their_container(run: Run, findings: list[Finding]) -> None:
    new = [
        Finding(
            v.page,
            f"table width ({width} px)",
            f"table {t['index'] + 1} ({t['label']!r}) is {t['width']} px wide in {t['room']} px",
        )
        for v in run.visits
        if v.mode == "light"
        for width, tables in v.tables.items()
        for t in tables
    ]
    _check(findings, new, pages=len(run.pages))


def test_search_finds_the_answering_page(run: Run, findings: list[Finding]) -> None:
    new = []
    for query, wanted in SEARCHES.items():
        results = run.searches[query]
        position = rank(results, wanted)
        if position is None or position > TOP:
            where = f"at rank {position}" if position else "not at all"
            new.append(
                Finding(
                    f"search.html?q={query}",
                    "search",
                    f"expected one of {sorted(wanted)} in the top {TOP}, but got it {where} "
                    f"among {len(results)} results (top {TOP}: {results[:TOP]})",
                )
            )
    _check(findings, new, pages=len(run.pages))


def test_local_links_and_anchors_resolve(run: Run, findings: list[Finding]) -> None:
    _check(findings, check_links(SITE, run.pages), pages=len(run.pages))
