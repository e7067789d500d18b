"""What a page of the site loads, kept light: build-time maths, sized images, deferred scripts.

Part of the build glue (docs/_lstm_demo_build.py calls these from its
``html-page-context`` handler and registers the maths renderer):

* **Maths at build time.** :func:`latex_to_mathml` writes each formula as
  MathML, which browsers typeset themselves: no maths engine or font is
  shipped with the pages, and equations render offline.
* **Less to load, less to lay out.** :func:`size_images` gives images their
  size and loads all but the first lazily, :func:`defer_scripts` keeps
  scripts from holding up the first paint, :func:`prune_styles` leaves out
  style sheets a page has nothing for, and :func:`lighter_markup` drops
  elements that change nothing on screen.
"""

from __future__ import annotations

import html
import re
from collections.abc import Mapping
from pathlib import Path
from typing import Any

#: ``html_math_renderer``: LaTeX becomes MathML as the page is written, so a page carries no maths
#: engine or font of its own; browsers typeset MathML themselves (MathML Core) and pass it on to
#: screen readers as maths.
MATH_RENDERER = "mathml"


def latex_to_mathml(latex: str, *, block: bool = False) -> str:
    """One formula as a ``<math>`` element (latex2mathml), the LaTeX kept as its ``alttext``.

    A display formula of several lines (``\\``) is typeset as a ``split``,
    its ``&`` aligning the lines, as Sphinx's MathJax renderer does.

    Examples
    --------
    >>> latex_to_mathml("h_t").startswith('<math xmlns="http://www.w3.org/1998/Math/MathML" display="inline"')
    True
    """
    from latex2mathml.converter import convert

    text = latex.strip()
    if block and "\\\\" in text and "\\begin" not in text:
        text = f"\\begin{{split}}{text}\\end{{split}}"
    markup = convert(text, display="block" if block else "inline")
    return markup.replace("<math ", f'<math alttext="{html.escape(latex.strip())}" ', 1)


def _visit_math(self: Any, node: Any) -> None:
    self.body.append(self.starttag(node, "span", "", CLASS="math notranslate nohighlight"))
    self.body.append(latex_to_mathml(node.astext()))
    self.body.append("</span>")
    from docutils import nodes

    raise nodes.SkipNode


def _visit_displaymath(self: Any, node: Any) -> None:
    from docutils import nodes
    from sphinx.util.math import get_node_equation_number

    # Scrolls sideways on a narrow screen, so it takes the keyboard focus, like a code block.
    self.body.append(
        self.starttag(
            node,
            "div",
            CLASS="math notranslate nohighlight",
            tabindex="0",
            role="group",
            **{"aria-label": "Equation"},
        )
    )
    if node.get("number"):
        number = get_node_equation_number(self, node)
        self.body.append(f'<span class="eqno">({number})')
        self.add_permalink_ref(node, "Link to this equation")
        self.body.append("</span>")
    parts = [part for part in node.astext().split("\n\n") if part.strip()]
    self.body.extend(latex_to_mathml(part, block=True) for part in parts)
    self.body.append("</div>\n")
    raise nodes.SkipNode


_IMG = re.compile(r"<img\b(?P<attrs>[^>]*?)\s*/?>")
_SRC = re.compile(r'\bsrc="(?P<src>[^"]+)"')
_PNG_SIGNATURE = b"\x89PNG\r\n\x1a\n"


def png_size(path: Path) -> tuple[int, int] | None:
    """A PNG file's width and height in pixels, read from its header; None for anything else."""
    try:
        with path.open("rb") as file:
            head = file.read(24)
    except OSError:
        return None
    if len(head) < 24 or not head.startswith(_PNG_SIGNATURE) or head[12:16] != b"IHDR":
        return None
    return int.from_bytes(head[16:20], "big"), int.from_bytes(head[20:24], "big")


def size_images(body: str, sizes: Mapping[str, tuple[int, int]]) -> str:
    """Give each ``<img>`` its width and height, and load all but a page's first image lazily.

    ``sizes`` maps an image's file name (the last part of its ``src``) to its
    pixel size. With both set, the browser keeps the image's room before the
    file arrives, so the text below it does not jump (layout shift); images
    further down the page load when the reader scrolls near them. The first
    image stays eager: it is often the largest thing the page paints first.
    """
    seen = 0

    def sized(match: re.Match[str]) -> str:
        nonlocal seen
        attrs = match.group("attrs")
        seen += 1
        src = _SRC.search(attrs)
        extra = ""
        size = sizes.get(src.group("src").rsplit("/", 1)[-1]) if src else None
        if size and " width=" not in attrs and " height=" not in attrs:
            extra += f' width="{size[0]}" height="{size[1]}"'
        if seen > 1 and " loading=" not in attrs:
            extra += ' loading="lazy"'
        if " decoding=" not in attrs:
            extra += ' decoding="async"'
        return f"<img{attrs}{extra} />"

    return _IMG.sub(sized, body)


def _image_sizes(app: Any) -> dict[str, tuple[int, int]]:
    """The pixel size of every PNG of the sources (sphinx-gallery's figures among them), by file name.

    Sphinx copies a page's images into ``_images/`` under their own file
    names; the sources are read once, when the first page is written.
    """
    sizes: dict[str, tuple[int, int]] | None = app.__dict__.get("_lstm_demo_image_sizes")
    if sizes is None:
        sizes = {}
        source = Path(app.srcdir)
        for path in sorted(source.rglob("*.png")):
            if "_build" in path.relative_to(source).parts:
                continue
            size = png_size(path)
            if size:
                sizes.setdefault(path.name, size)
        app.__dict__["_lstm_demo_image_sizes"] = sizes
    return sizes


def defer_scripts(context: dict[str, Any], pagename: str = "") -> None:
    """Load every script file of a page with ``defer``: none holds up the first paint.

    Deferred scripts still run in their order, after the page is parsed,
    which is when Sphinx's and furo's scripts do their work. The search page
    is left as it is: its template adds ``searchtools.js`` as a plain script
    at the end of the page, which needs ``doctools.js`` to have run.
    """
    if pagename == "search":
        return
    scripts = context.get("script_files")
    if not isinstance(scripts, list):
        return
    context["script_files"] = [_deferred(script) for script in scripts]


def _deferred(script: Any) -> Any:
    """A copy of a script file with ``defer``: Sphinx hands every page the same objects."""
    attributes = getattr(script, "attributes", None)
    if not getattr(script, "filename", None) or not isinstance(attributes, dict) or "async" in attributes:
        return script
    return type(script)(script.filename, priority=script.priority, **{**attributes, "defer": "defer"})


_COLOUR_ONLY = re.compile(
    r"^\.highlight \.(?P<token>[\w-]+) \{ color: (?P<colour>#[0-9A-Fa-f]+) \}", re.MULTILINE
)
_CODE_COLOUR = re.compile(r"^\.highlight \{[^}]*\bcolor: (?P<colour>#[0-9A-Fa-f]+)", re.MULTILINE)
_HIGHLIGHTED = re.compile(r'(<div class="highlight"><pre[^>]*>)(.*?)(</pre>)', re.DOTALL)
_TOKEN = re.compile(r'<span class="(?P<token>[\w-]+)">(?P<text>[^<]*)</span>')
_WORD = re.compile(r'<span class="pre">([^<]*)</span>')
_LINK = re.compile(r"(<a\b[^>]*>.*?</a>)", re.DOTALL)


def plain_tokens(stylesheets: list[str]) -> tuple[frozenset[str], frozenset[str]]:
    """Pygments token classes that need no element of their own, from the light and dark style sheets.

    Returns the classes coloured like the code around them in every style
    (``.n``, ``.p`` in furo's styles), and the classes styled by a colour
    alone (their whitespace shows nothing, whatever the colour).
    """
    same: set[str] | None = None
    colour_only: set[str] | None = None
    for css in stylesheets:
        base = _CODE_COLOUR.search(css)
        rules = {m.group("token"): m.group("colour").lower() for m in _COLOUR_ONLY.finditer(css)}
        here = {t for t, c in rules.items() if base and c == base.group("colour").lower()}
        same = here if same is None else same & here
        colour_only = set(rules) if colour_only is None else colour_only & set(rules)
    return frozenset(same or ()), frozenset(colour_only or ())


def lighter_markup(body: str, same: frozenset[str], colour_only: frozenset[str]) -> str:
    """Fewer elements, the same look: the DOM a phone lays out is what slows a long page.

    In highlighted code, a token whose class colours it like the code around
    it (``same``), or that is whitespace styled by colour alone
    (``colour_only``), becomes plain text; Sphinx's ``<span class="pre">``
    around each word of inline code goes too (``code.literal`` keeps words
    from hyphenating, tables.css). With those spans goes their
    ``white-space: nowrap``: inline code can now wrap between words on a
    narrow screen, which keeps it from pushing a page sideways.
    """

    def plain(match: re.Match[str]) -> str:
        token, text = match.group("token"), match.group("text")
        if token in same or (token in colour_only and text.isspace()):
            return text
        return match.group(0)

    def block(match: re.Match[str]) -> str:
        # A link's own tokens stay: they keep the code's colour, which axe-core's
        # link-in-text-block rule measures against the text around the link.
        parts = _LINK.split(match.group(2))
        code = "".join(part if i % 2 else _TOKEN.sub(plain, part) for i, part in enumerate(parts))
        return match.group(1) + code + match.group(3)

    return _WORD.sub(r"\1", _HIGHLIGHTED.sub(block, body))


def _plain_tokens(app: Any) -> tuple[frozenset[str], frozenset[str]]:
    cached = app.__dict__.get("_lstm_demo_plain_tokens")
    if cached is None:
        sheets = [
            highlighter.get_stylesheet()
            for highlighter in (
                getattr(app.builder, "highlighter", None),
                getattr(app.builder, "dark_highlighter", None),
            )
            if highlighter is not None
        ]
        cached = app.__dict__["_lstm_demo_plain_tokens"] = (
            plain_tokens(sheets) if sheets else (frozenset(), frozenset())
        )
    return cached


#: Style sheets a page loads only when its body has what they style: (file name start, marker in the body).
#: sphinx-gallery's binder and dataframe styles have nothing to style here (no binder links, no pandas).
PAGE_STYLES = (
    ("mystnb.", 'class="cell'),
    ("sg_gallery-binder", "binder-badge"),
    ("sg_gallery-dataframe", "dataframe"),
    ("sg_gallery", "sphx-glr"),
)


def prune_styles(context: dict[str, Any], body: str) -> None:
    """Leave out the style sheets of :data:`PAGE_STYLES` that a page has nothing for.

    Every style sheet holds up the page's first paint until it has loaded;
    myst-nb's, for notebook cells, is the largest of them.
    """
    styles = context.get("css_files")
    if not isinstance(styles, list):
        return
    kept = []
    for sheet in styles:
        name = str(getattr(sheet, "filename", sheet)).rsplit("/", 1)[-1]
        needs = next((marker for start, marker in PAGE_STYLES if name.startswith(start)), None)
        if needs is None or needs in body:
            kept.append(sheet)
    context["css_files"] = kept
