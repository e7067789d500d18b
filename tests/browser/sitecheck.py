"""What the browser check of the built site decides without a browser.

The pages of the site, the local links of a page and whether each one lands
on a file and an element of that file, where a search result ranks, and the
report that lists every finding. ``check_site.py`` drives chromium and hands
what it saw to these functions; they are unit-tested on small hand-made sites.
"""

from __future__ import annotations

import posixpath
import re
from collections.abc import Iterable, Mapping, Sequence
from html.parser import HTMLParser
from pathlib import Path
from typing import Any, NamedTuple
from urllib.parse import unquote, urlsplit

# Folders of a Sphinx build that hold assets, not pages.
ASSET_FOLDERS = frozenset({"_static", "_sources", "_images", "_downloads"})

# LaTeX source that a page shows only when its maths was never typeset (as MathML, at build time).
RAW_MATHS = re.compile(r"\\begin\{[A-Za-z*]+\}|\$\$|\\\(|\\\[")


class Finding(NamedTuple):
    """One thing wrong with one page: which page, which check failed and what it saw."""

    page: str  # relative to the site root, e.g. "auto_examples/plot_01_whole_vs_stepwise.html"
    check: str  # e.g. "axe (dark)", "links"
    detail: str


class Target(NamedTuple):
    """Where a local link lands: a file relative to the site root and a fragment ("" for none)."""

    path: str
    fragment: str


def site_pages(root: Path) -> list[str]:
    """Every HTML page of the built site at ``root``, as sorted paths relative to it."""
    pages = []
    for path in root.rglob("*.html"):
        relative = path.relative_to(root)
        if relative.parts[0] not in ASSET_FOLDERS:
            pages.append(relative.as_posix())
    return sorted(pages)


# The attribute that holds the URL an element links to or loads.
_URL_ATTRIBUTES = {"a": "href", "area": "href", "link": "href", "img": "src", "script": "src"}


class _PageParser(HTMLParser):
    """The ids a page defines (``id=`` on any element, ``name=`` on ``<a>``) and the URLs it uses."""

    def __init__(self) -> None:
        super().__init__(convert_charrefs=True)
        self.ids: set[str] = set()
        self.urls: list[str] = []

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        values = dict(attrs)
        if values.get("id"):
            self.ids.add(values["id"])  # type: ignore[arg-type]
        if tag == "a" and values.get("name"):
            self.ids.add(values["name"])  # type: ignore[arg-type]
        attribute = _URL_ATTRIBUTES.get(tag)
        url = values.get(attribute) if attribute else None
        if url is not None:
            self.urls.append(url.strip())


def parse_page(html: str) -> tuple[set[str], list[str]]:
    """The ids an HTML page defines and the URLs (href/src) it links to, in order."""
    parser = _PageParser()
    parser.feed(html)
    parser.close()
    return parser.ids, parser.urls


def resolve(page: str, url: str) -> Target | None:
    """Where ``url``, found on ``page``, lands in the site; ``None`` for a link that leaves it.

    Relative paths resolve against the page's folder, a path ending in ``/``
    means its ``index.html``, and a query string (``search.html?q=...``) is
    not part of the file. Percent-escapes are decoded in the path and the
    fragment, as a browser does.
    """
    parts = urlsplit(url)
    if parts.scheme or parts.netloc or url.startswith("//"):
        return None  # http:, mailto:, javascript:, data: and protocol-relative URLs
    fragment = unquote(parts.fragment)
    if not parts.path:
        return Target(page, fragment)
    path = unquote(parts.path)
    joined = path.lstrip("/") if path.startswith("/") else posixpath.join(posixpath.dirname(page), path)
    normal = posixpath.normpath(joined)
    if path.endswith("/") or normal == ".":
        normal = posixpath.join("" if normal == "." else normal, "index.html")
    return Target(normal, fragment)


def _fragment_found(fragment: str, ids: set[str]) -> bool:
    # An empty fragment and "#top" scroll to the top of any HTML page.
    return fragment in ids or not fragment or fragment.lower() == "top"


def check_links(root: Path, pages: Iterable[str]) -> list[Finding]:
    """A finding for each local link or asset of ``pages`` whose file or ``#id`` is missing."""
    ids_of: dict[str, set[str]] = {}

    def ids(path: str) -> set[str]:
        if path not in ids_of:
            ids_of[path] = parse_page((root / path).read_text(encoding="utf-8"))[0]
        return ids_of[path]

    findings = []
    for page in pages:
        page_ids, urls = parse_page((root / page).read_text(encoding="utf-8"))
        ids_of[page] = page_ids
        for url in dict.fromkeys(urls):  # each URL once per page, in page order
            target = resolve(page, url)
            if target is None:
                continue
            file = root / target.path
            if target.path.startswith("../") or not file.is_file():
                findings.append(Finding(page, "links", f"{url!r}: no file {target.path}"))
            elif target.path.endswith(".html") and not _fragment_found(target.fragment, ids(target.path)):
                findings.append(
                    Finding(
                        page, "links", f"{url!r}: {target.path} has no element with id {target.fragment!r}"
                    )
                )
    return findings


def raw_maths(text: str, *, limit: int = 3) -> list[str]:
    """Up to ``limit`` snippets of ``text`` around LaTeX source that was never typeset."""
    snippets = []
    shown = 0  # where the last snippet ends: a match inside it is not shown twice
    for match in RAW_MATHS.finditer(text):
        if match.start() < shown:
            continue
        start, shown = max(match.start() - 20, 0), match.end() + 30
        snippets.append(" ".join(text[start:shown].split()))
        if len(snippets) == limit:
            break
    return snippets


def maths_findings(seen: Mapping[str, Any]) -> list[str]:
    """What is wrong with a page's maths, from what the browser counted on it.

    ``seen`` holds ``maths`` (the elements Sphinx marked as formulas),
    ``typeset`` (those holding MathML the browser lays out as maths),
    ``mathml`` (``<math>`` elements anywhere on the page) and ``text`` (the
    page's text without code and maths): every formula must be typeset, and
    no LaTeX source may be left in the text.
    """
    problems = []
    if seen["typeset"] < seen["maths"]:
        renderer = "MathML on the page, not laid out as maths" if seen["mathml"] else "no MathML on the page"
        problems.append(f"{seen['typeset']} of {seen['maths']} formulas typeset ({renderer})")
    problems += [f"raw LaTeX in the text: {s!r}" for s in raw_maths(seen["text"])]
    return problems


def result_page(href: str) -> str:
    """The page a search result links to, relative to the site root (query and fragment dropped)."""
    target = resolve("search.html", href)
    return target.path if target else href


def rank(results: Sequence[str], wanted: Iterable[str]) -> int | None:
    """The 1-based rank of the first result that is one of the ``wanted`` pages, or ``None``."""
    wanted = set(wanted)
    for position, href in enumerate(results, start=1):
        if result_page(href) in wanted:
            return position
    return None


def report(findings: Sequence[Finding], *, pages: int) -> str:
    """Every finding, grouped by check and then by page, under a count for each check."""
    if not findings:
        return f"All checks passed on {pages} pages."
    by_check: dict[str, list[Finding]] = {}
    for finding in findings:
        by_check.setdefault(finding.check, []).append(finding)
    lines = [f"{len(findings)} findings on {len({f.page for f in findings})} of {pages} pages:"]
    lines += [f"  {check}: {len(found)}" for check, found in sorted(by_check.items())]
    for check, found in sorted(by_check.items()):
        lines.append("")
        lines.append(f"== {check} ({len(found)})")
        lines += [f"{f.page}: {f.detail}" for f in sorted(found)]
    return "\n".join(lines)
