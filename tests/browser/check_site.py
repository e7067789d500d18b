"""The built site as a reader's browser shows it: Debian's chromium driven by Playwright.

Run by ``nox -s browser`` (which builds the site first and installs the
``browser`` dependency group); pytest collects this file only when it is named,
so ``nox -s tests`` never needs a browser. Every page of docs/_build/html is
served from 127.0.0.1 and loaded three times: light and dark mode at 1280 px,
light mode at 390 px (a phone), every check of that view done on that one
load. One chromium runs the loads, several at once, each in a browser context
of its own, with every request that would leave 127.0.0.1 refused: the site
must work offline. Each test below is one check over all pages, and its failure
lists every page that fails it, with what was seen; the full report and a
screenshot of each page go to docs/_build/.
"""

from __future__ import annotations

import asyncio
import contextlib
import functools
import http.server
import os
import threading
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any, NamedTuple

import pytest
from axe_playwright_python.base import AXE_SCRIPT
from playwright.async_api import Browser, BrowserContext, ConsoleMessage, Page, Route, async_playwright

from browser.sitecheck import Finding, check_links, maths_findings, rank, report, site_pages

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
# Loads in flight at once, each in its own context (and renderer process). Two per core:
# while one page waits on the network or the Python side, the other keeps the core busy.
WORKERS = int(os.environ.get("LSTM_DEMO_BROWSER_WORKERS", "") or max(2, 2 * (os.cpu_count() or 1)))
WIDE, NARROW = 1280, 390
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


class View(NamedTuple):
    """One way a page is loaded, and what is checked on that load."""

    name: str
    mode: str  # furo's colour mode: "light" or "dark"
    width: int
    axe: bool  # axe-core's rules, once per page and mode
    maths: bool  # the formulas typeset (the same in both modes: checked once)
    layout: bool  # sideways scroll (at 390 px)
    tables: bool  # tables that fit their container
    full_page: bool  # screenshot of the whole page (the phone's), not only the first screen


LIGHT = View("light", "light", WIDE, axe=True, maths=True, layout=False, tables=True, full_page=False)
DARK = View("dark", "dark", WIDE, axe=True, maths=False, layout=False, tables=False, full_page=False)
PHONE = View("phone", "light", NARROW, axe=False, maths=False, layout=True, tables=True, full_page=True)
VIEWS = (LIGHT, DARK, PHONE)

# Elements wider than the page, outermost first: what makes it scroll sideways.
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

# Sphinx marks each formula with class "math". MathJax typesets it in the browser into an
# <mjx-container>; KaTeX rendered at build time leaves a .katex span. The text left once
# code and typeset maths are removed must hold no LaTeX source.
# A formula is typeset when its element holds MathML (written at build time) that the
# browser lays out as maths: a <math> with a box of its own and a display of math.
_MATHS_JS = """() => {
  const maths = [...document.querySelectorAll('.math')];
  const laidOut = m => {
    const math = m.matches('math') ? m : m.querySelector('math');
    if (!math) return false;
    const box = math.getBoundingClientRect();
    return box.width > 0 && box.height > 0 && getComputedStyle(math).display.includes('math');
  };
  const text = document.querySelector('article') || document.body;
  const copy = text.cloneNode(true);
  copy.querySelectorAll('pre, code, script, style, .highlight, math').forEach(e => e.remove());
  return {maths: maths.length, typeset: maths.filter(laidOut).length,
          mathml: document.querySelectorAll('math').length, text: copy.textContent};
}"""

_AXE_JS = "() => axe.run(document, {resultTypes: ['violations']})"

# axe-core's colour-contrast rule, most of axe's time on a page of highlighted code or API
# signatures, measures each element with text on its own. Elements alike in everything the
# contrast depends on (tag and classes, text colour, size, weight, shadow, opacity and
# positioning, over the same chain of ancestors' backgrounds, opacities and positioning)
# have the same contrast: the rule measures the first of each kind and skips the others
# (SKIP_CONTRAST); every other rule still sees every element.
SKIP_CONTRAST = "data-lstm-demo-contrast-seen"
_CONTRAST_ONCE_JS = f"""() => {{
  const backgrounds = new Map();
  const background = element => {{
    if (!element || element === document.documentElement) return '';
    let key = backgrounds.get(element);
    if (key === undefined) {{
      const s = getComputedStyle(element);
      key = [s.backgroundColor, s.backgroundImage, s.opacity, s.position, s.filter, s.mixBlendMode,
             s.transform].join(' ') + '<' + background(element.parentElement);
      backgrounds.set(element, key);
    }}
    return key;
  }};
  const seen = new Set();
  for (const element of document.body.querySelectorAll('*')) {{
    if (![...element.childNodes].some(n => n.nodeType === Node.TEXT_NODE && n.textContent.trim())) continue;
    const s = getComputedStyle(element);
    const key = [element.tagName, element.getAttribute('class'), s.color, s.fontSize, s.fontWeight,
                 s.textShadow, s.opacity, s.position, s.filter, s.mixBlendMode, s.transform,
                 s.webkitTextStrokeWidth, s.visibility].join(' ') + '|' + background(element.parentElement);
    if (seen.has(key)) element.setAttribute('{SKIP_CONTRAST}', '');
    else seen.add(key);
  }}
  axe.configure({{rules: [{{id: 'color-contrast', selector: '*:not([{SKIP_CONTRAST}])'}}]}});
  return seen.size;
}}"""

_SEARCH_RESULTS_JS = """() => [...document.querySelectorAll('#search-results ul.search > li')]
  .map(item => item.querySelector('a')?.getAttribute('href') || '')"""


class Visit(NamedTuple):
    """What one load of one page showed in one view."""

    page: str
    view: str
    errors: list[str]  # console errors and uncaught exceptions, with where they came from
    refused: list[str]  # URLs of requests that would have left 127.0.0.1
    theme: str  # furo's <body data-theme>
    axe: list[dict[str, Any]]  # violations of the failing impacts (views with axe only)
    maths: dict[str, Any]  # what _MATHS_JS saw (views with maths only)
    tables: list[dict[str, Any]]  # tables wider than their container (views with tables only)
    overflow: dict[str, Any]  # the page's scroll width (views with layout only)
    steps: dict[str, float]  # seconds each step took: load, layout, axe, screenshot

    @property
    def seconds(self) -> float:
        return sum(self.steps.values())


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


def _console_error(message: ConsoleMessage) -> str:
    url = message.location.get("url", "")
    return f"{message.text} ({url})" if url else message.text


class _Tab:
    """One context (its own storage and colour mode) with one page, reused for every load in its view."""

    def __init__(self, context: BrowserContext, page: Page) -> None:
        self.context, self.page = context, page
        self.errors: list[str] = []
        self.refused: list[str] = []
        page.on("console", lambda m: m.type == "error" and self.errors.append(_console_error(m)))
        page.on("pageerror", lambda e: self.errors.append(f"uncaught {e.name}: {e.message}"))

    @classmethod
    async def open(cls, browser: Browser, view: View) -> _Tab:
        context = await browser.new_context(
            viewport={"width": view.width, "height": 900}, color_scheme=view.mode, reduced_motion="reduce"
        )
        # furo keeps the reader's choice of light/dark/auto under this key.
        await context.add_init_script(f"localStorage.setItem('theme', '{view.mode}')")
        tab = cls(context, await context.new_page())
        await context.route("**/*", tab._local_only)
        return tab

    async def _local_only(self, route: Route) -> None:
        url = route.request.url
        if url.startswith(("http://127.0.0.1:", "data:", "blob:")):
            await route.continue_()
        else:
            self.refused.append(url)
            await route.abort()

    async def visit(self, base: str, page_path: str, view: View) -> Visit:
        self.errors.clear()
        self.refused.clear()
        page = self.page
        steps: dict[str, float] = {}
        clock = time.perf_counter()

        def lap(step: str) -> None:
            nonlocal clock
            now = time.perf_counter()
            steps[step] = now - clock
            clock = now

        await page.goto(base + page_path, wait_until="load")
        lap("load")
        theme = await page.evaluate("() => document.body.dataset.theme || ''")
        maths = await page.evaluate(_MATHS_JS) if view.maths else {}
        tables = await page.evaluate(_TABLES_JS) if view.tables else []
        overflow = await page.evaluate(_OVERFLOW_JS) if view.layout else {}
        lap("layout")
        axe = []
        if view.axe:
            await page.evaluate(AXE_SCRIPT)
            await page.evaluate(_CONTRAST_ONCE_JS)
            results = await page.evaluate(_AXE_JS)
            axe = [v for v in results["violations"] if v["impact"] in FAILING_IMPACTS]
            lap("axe")
        name = f"{page_path.removesuffix('.html').replace('/', '--')}-{view.mode}-{view.width}.png"
        await page.screenshot(path=SCREENSHOTS / name, full_page=view.full_page)
        lap("screenshot")
        # Errors logged by the checks' own scripts count too: they ran in the page.
        return Visit(
            page_path, view.name, list(self.errors), list(self.refused), theme, axe, maths, tables, overflow,
            steps,
        )  # fmt: skip

    async def search(self, base: str, query: str) -> list[str]:
        await self.page.goto(f"{base}search.html?q={query}", wait_until="load")
        # Sphinx's search fills in the summary line once every result is listed.
        await self.page.wait_for_function(
            "() => (document.querySelector('#search-results .search-summary')?.textContent || '').trim()",
            timeout=15_000,
        )
        return await self.page.evaluate(_SEARCH_RESULTS_JS)


class Run(NamedTuple):
    pages: list[str]
    visits: list[Visit]
    searches: dict[str, list[str]]
    seconds: float


async def _check_site(base: str, pages: list[str]) -> tuple[list[Visit], dict[str, list[str]]]:
    """Every page in every view, and every search, on ``WORKERS`` loads at a time in one chromium."""
    # The longest pages first, so that no long load is left running alone at the end.
    size = {page: (SITE / page).stat().st_size for page in pages}
    jobs: asyncio.Queue[tuple[str, str, View]] = asyncio.Queue()
    for page in sorted(pages, key=lambda p: -size[p]):
        for view in VIEWS:
            jobs.put_nowait(("visit", page, view))
    for query in SEARCHES:
        jobs.put_nowait(("search", query, LIGHT))
    visits: list[Visit] = []
    searches: dict[str, list[str]] = {}

    async def worker(browser: Browser) -> None:
        tabs: dict[str, _Tab] = {}
        try:
            while not jobs.empty():
                kind, what, view = jobs.get_nowait()
                if view.name not in tabs:
                    tabs[view.name] = await _Tab.open(browser, view)
                tab = tabs[view.name]
                if kind == "visit":
                    visits.append(await tab.visit(base, what, view))
                else:
                    searches[what] = await tab.search(base, what)
        finally:
            for tab in tabs.values():
                await tab.context.close()

    async with async_playwright() as playwright:
        browser = await playwright.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS)
        try:
            await asyncio.gather(*(worker(browser) for _ in range(WORKERS)))
        finally:
            await browser.close()
    order = {(page, view.name): i for i, (page, view) in enumerate((p, v) for v in VIEWS for p in pages)}
    visits.sort(key=lambda v: order[v.page, v.view])
    return visits, searches


@pytest.fixture(scope="module")
def run() -> Run:
    if not (SITE / "index.html").is_file():
        pytest.fail(f"Expected a built site at {SITE}, but got no index.html there: run `nox -s docs`.")
    pages = site_pages(SITE)
    SCREENSHOTS.mkdir(parents=True, exist_ok=True)
    start = time.perf_counter()
    with _serve(SITE) as base:
        visits, searches = asyncio.run(_check_site(base, pages))
    return Run(pages, visits, searches, time.perf_counter() - start)


@pytest.fixture(scope="module")
def findings(run: Run) -> Iterator[list[Finding]]:
    """Every finding of every check; the report of all of them is written once the checks ran."""
    found: list[Finding] = []
    yield found
    slowest = sorted(run.visits, key=lambda v: -v.seconds)[:5]
    summary = f"{len(run.visits)} loads of {len(run.pages)} pages and {len(run.searches)} searches"
    timing = [
        f"{summary} in {run.seconds:.1f} s, {WORKERS} at a time; slowest loads:",
        *(f"  {v.seconds:5.1f} s  {v.page} ({v.view})" for v in slowest),
        "seconds by step, summed over the loads: "
        + ", ".join(
            f"{step} {sum(v.steps.get(step, 0) for v in run.visits):.1f}" for step in run.visits[0].steps
        ),
    ]
    REPORT.write_text(
        report(found, pages=len(run.pages)) + "\n\n" + "\n".join(timing) + "\n", encoding="utf-8"
    )


def _check(findings: list[Finding], new: list[Finding], *, pages: int) -> None:
    findings.extend(new)
    if new:
        pytest.fail(report(new, pages=pages), pytrace=False)


def _in(run: Run, flag: str) -> list[tuple[Visit, View]]:
    """The visits of the views that check ``flag`` (e.g. "axe"), with their view."""
    views = {view.name: view for view in VIEWS}
    return [(v, views[v.view]) for v in run.visits if getattr(views[v.view], flag)]


def test_every_page_is_visited_in_every_view(run: Run, findings: list[Finding]) -> None:
    assert "index.html" in run.pages
    assert "auto_examples/plot_01_whole_vs_stepwise.html" in run.pages
    assert [(v.page, v.view) for v in run.visits] == [(p, view.name) for view in VIEWS for p in run.pages]
    assert sorted(run.searches) == sorted(SEARCHES)
    modes = {view.name: view.mode for view in VIEWS}
    new = [
        Finding(v.page, f"theme ({v.view})", f"furo shows data-theme={v.theme!r}, not {modes[v.view]!r}")
        for v in run.visits
        if v.theme != modes[v.view]
    ]
    _check(findings, new, pages=len(run.pages))


def test_no_console_errors(run: Run, findings: list[Finding]) -> None:
    new = [
        Finding(v.page, f"console ({v.view})", error) for v in run.visits for error in dict.fromkeys(v.errors)
    ]
    _check(findings, new, pages=len(run.pages))


def test_no_request_leaves_the_machine(run: Run, findings: list[Finding]) -> None:
    seen = {(v.page, url) for v in run.visits for url in v.refused}
    new = [Finding(page, "offline", f"requested {url}") for page, url in sorted(seen)]
    _check(findings, new, pages=len(run.pages))


def test_maths_is_typeset(run: Run, findings: list[Finding]) -> None:
    new = [
        Finding(v.page, "maths", problem) for v, _ in _in(run, "maths") for problem in maths_findings(v.maths)
    ]
    _check(findings, new, pages=len(run.pages))


def test_no_serious_accessibility_violations(run: Run, findings: list[Finding]) -> None:
    new = [
        Finding(
            v.page,
            f"axe ({view.mode})",
            f"{violation['impact']} {violation['id']} on {len(violation['nodes'])} elements, "
            f"e.g. {violation['nodes'][0]['target']}: {violation['help']}",
        )
        for v, view in _in(run, "axe")
        for violation in v.axe
    ]
    _check(findings, new, pages=len(run.pages))


def test_no_sideways_scroll_on_a_phone(run: Run, findings: list[Finding]) -> None:
    new = [
        Finding(
            v.page,
            f"sideways scroll ({view.width} px)",
            f"scrollWidth {o['scrollWidth']} > clientWidth {o['clientWidth']}; widest: "
            + ", ".join(o["culprits"]),
        )
        for v, view in _in(run, "layout")
        for o in [v.overflow]
        if o["scrollWidth"] > o["clientWidth"]
    ]
    _check(findings, new, pages=len(run.pages))


def test_tables_fit_their_container(run: Run, findings: list[Finding]) -> None:
    new = [
        Finding(
            v.page,
            f"table width ({view.width} px)",
            f"table {t['index'] + 1} ({t['label']!r}) is {t['width']} px wide in {t['room']} px",
        )
        for v, view in _in(run, "tables")
        for t in v.tables
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
