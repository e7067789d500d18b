"""Build-time glue between lstm_demo and Sphinx, importable by name.

Build glue, kept out of ``conf.py`` so the configuration stays picklable:

* **Fresh on change.** sphinx-gallery re-runs an example only when the
  example's own file changes, and myst-nb's cache keys on a page's code
  cells; neither notices an edit to ``lstm_demo/``, another torch, or a
  machine with other devices. :class:`SourceState` fingerprints what every
  page's output depends on: when the fingerprint differs from the one stored
  by the last successful build, every example and page executes again
  (:func:`clear_stale_gallery`, and a notebook cache named after the
  fingerprint).
* **No leakage between examples.** All gallery scripts run in the Sphinx
  process, one after another; :func:`reset_torch` puts torch's global state
  (seed, threads, default dtype, precision flags) back before each one, and
  :func:`reset_matplotlib` sets figure text large enough to read on a phone.
* **What the reader gets.** :func:`site_banner` says on every page which
  devices, torch and date built this copy; :func:`polish_page` makes wide
  code and output blocks reachable by keyboard, names the gallery's
  thumbnail links, points viewcode's ``[docs]`` links at the real anchors and
  gives every page a description; :func:`resolve_torch_alias` links
  ``nn.LSTM`` in docstrings to PyTorch's docs through the torch inventory.
"""

from __future__ import annotations

import datetime
import functools
import hashlib
import html
import importlib.metadata
import importlib.util
import logging
import os
import re
import shutil
import sys
from collections.abc import Mapping
from pathlib import Path
from typing import Any

from _page_weight import (
    MATH_RENDERER,
    _image_sizes,
    _plain_tokens,
    _visit_displaymath,
    _visit_math,
    defer_scripts,
    lighter_markup,
    prune_styles,
    size_images,
)

#: The build glue's files, docs/ relative: an edit to one re-runs every page (environment_fingerprint).
GLUE_FILES = ("_lstm_demo_build.py", "_page_weight.py")

#: Environment variables whose value changes what a page prints or whether it runs.
WATCHED_VARIABLES = ("LSTM_DEMO_REQUIRE_CUDA", "CUDA_VISIBLE_DEVICES", "HIP_VISIBLE_DEVICES")


def _gpu_models(root: Path = Path("/proc/driver/nvidia/gpus")) -> list[str]:
    """The model of each GPU the NVIDIA driver lists, e.g. ``NVIDIA H100 80GB HBM3``."""
    if not root.is_dir():
        return []
    models = []
    for gpu in sorted(root.iterdir()):
        try:
            info = (gpu / "information").read_text()
        except OSError:
            continue
        match = re.search(r"^Model:\s*(.+)$", info, re.MULTILINE)
        models.append(match.group(1).strip() if match else gpu.name)
    return models


def _torch_has_cuda() -> bool:
    """Whether the installed torch is a CUDA build (its CUDA library is there), read without importing it."""
    spec = importlib.util.find_spec("torch")
    if spec is None or not spec.submodule_search_locations:
        return False
    return any(Path(folder, "lib").glob("libtorch_cuda*") for folder in spec.submodule_search_locations)


def built_on(environ: Mapping[str, str] | None = None) -> dict[str, str]:
    """The devices, torch and date of this build, read without importing torch.

    The GPUs count when torch is a CUDA build, the NVIDIA driver lists them
    and ``CUDA_VISIBLE_DEVICES`` hides none: then every page ran on them
    too (``lstm_demo.available_devices``). The date is the day, UTC.
    """
    environ = os.environ if environ is None else environ
    try:
        torch_version = importlib.metadata.version("torch")
    except importlib.metadata.PackageNotFoundError:
        torch_version = "not installed"
    gpus = _gpu_models() if _torch_has_cuda() else []
    visible = environ.get("CUDA_VISIBLE_DEVICES")
    if visible is not None:
        gpus = _visible(gpus, visible)
    return {
        "devices": ", ".join(["CPU", *gpus]) if gpus else "CPU only (no GPU)",
        "gpus": str(len(gpus)),
        "torch": torch_version,
        "date": datetime.datetime.now(datetime.timezone.utc).strftime("%Y-%m-%d"),
    }


def _visible(gpus: list[str], visible: str) -> list[str]:
    """The GPUs that ``CUDA_VISIBLE_DEVICES`` leaves: indices are kept up to the first invalid one."""
    items = [item.strip() for item in visible.split(",")]
    if not items[0].isdigit():
        # Empty or -1: no GPU. A GPU's UUID: which one is not read here, so the driver's list stays.
        return gpus if items[0].startswith(("GPU-", "MIG-")) else []
    kept = []
    for item in items:
        if not item.isdigit():
            break
        if int(item) < len(gpus):
            kept.append(gpus[int(item)])
    return kept


def site_banner(environ: Mapping[str, str] | None = None) -> str:
    """The line every page shows at its top (docs/_templates/page.html): what built this copy.

    A copy built without a GPU says so, and that the GPU results are on the
    published site; a Read the Docs pull-request preview says it is one.
    """
    environ = os.environ if environ is None else environ
    built = built_on(environ)
    text = (
        f"Last verified: {built['date']} (UTC), torch {html.escape(built['torch'])}, "
        f"on {html.escape(built['devices'])}."
    )
    if environ.get("READTHEDOCS_VERSION_TYPE") == "external":
        text += " A preview of a pull request, built without a GPU."
    elif built["gpus"] == "0":
        text += " A CPU-only copy: the published site also shows GPU results."
    return text


def environment_fingerprint(environ: Mapping[str, str] | None = None) -> dict[str, str]:
    """What, besides lstm_demo's source, a page's output depends on.

    Read without importing torch (that costs a second on every build): the
    installed torch's version (``2.13.0+cpu``, ``2.13.0+cu128``, ...), the
    Python version, the GPUs the NVIDIA driver lists, the variables in
    :data:`WATCHED_VARIABLES`, and this file, which resets torch between
    examples.
    """
    environ = os.environ if environ is None else environ
    try:
        torch_version = importlib.metadata.version("torch")
    except importlib.metadata.PackageNotFoundError:
        torch_version = "not installed"
    gpus = Path("/proc/driver/nvidia/gpus")
    return {
        "torch": torch_version,
        "python": sys.version,
        "nvidia gpus": ",".join(sorted(p.name for p in gpus.iterdir())) if gpus.is_dir() else "",
        **{name: environ.get(name, "") for name in WATCHED_VARIABLES},
        "build glue": hashlib.sha256(
            b"".join(Path(__file__).with_name(name).read_bytes() for name in GLUE_FILES)
        ).hexdigest(),
    }


class SourceState:
    """A fingerprint of a package's source files (and more), and the last built one.

    Parameters
    ----------
    package : Path
        The package folder; every ``*.py`` file under it counts, name and content.
    stamp : Path
        Where the last successful build stored its fingerprint.
    extra : mapping of str to str, optional
        Anything else that counts, e.g. :func:`environment_fingerprint`.
    """

    def __init__(self, package: Path, stamp: Path, extra: Mapping[str, str] | None = None) -> None:
        self.package = package
        self.stamp = stamp
        digest = hashlib.sha256()
        for path in sorted(package.rglob("*.py")):
            digest.update(path.relative_to(package).as_posix().encode())
            digest.update(b"\0")
            digest.update(path.read_bytes())
            digest.update(b"\0")
        for key, value in sorted((extra or {}).items()):
            digest.update(f"{key}={value}".encode())
            digest.update(b"\0")
        self.digest = digest.hexdigest()

    @property
    def changed(self) -> bool:
        """True unless the last successful build saw the same sources."""
        return stamp_differs(self.stamp, self.digest)


def stamp_differs(stamp: Path, digest: str) -> bool:
    """True unless ``stamp`` holds ``digest`` (no stamp: no successful build yet)."""
    try:
        return stamp.read_text().strip() != digest
    except FileNotFoundError:
        return True


def clear_stale_gallery(app: Any) -> None:
    """``builder-inited``, before sphinx-gallery: on a new fingerprint, remove the gallery's output.

    sphinx-gallery re-runs an example whose file changed or whose output is
    missing, so every example runs again. Its own ``run_stale_examples``
    would do the same, but as a setting that flips between builds it makes
    Sphinx rewrite every page of the next, unchanged build.
    """
    config = app.config
    if not config.lstm_demo_sources_stamp:
        return
    if not stamp_differs(Path(config.lstm_demo_sources_stamp), config.lstm_demo_sources):
        return
    gallery_dirs = getattr(config, "sphinx_gallery_conf", {}).get("gallery_dirs", [])
    for folder in [gallery_dirs] if isinstance(gallery_dirs, str) else gallery_dirs:
        shutil.rmtree(Path(app.srcdir, folder), ignore_errors=True)


def prune_caches(cache_root: Path, keep: Path) -> None:
    """Remove notebook caches of earlier package versions."""
    if not cache_root.is_dir():
        return
    for child in cache_root.iterdir():
        if child.is_dir() and child != keep:
            shutil.rmtree(child, ignore_errors=True)


_TORCH_DEFAULTS: dict[str, Any] = {}


def _torch_state() -> dict[str, Any]:
    import torch

    from lstm_demo.precision import save_flags

    return {
        "threads": torch.get_num_threads(),
        "default_dtype": torch.get_default_dtype(),
        "flags": save_flags(),
    }


def reset_torch(gallery_conf: dict[str, Any], fname: str | None) -> None:
    """sphinx-gallery ``reset_modules`` hook: torch's global state as at the first call.

    The first call happens before any example runs, so the state it sees is
    torch's own default for this process: seed, threads, default dtype, print
    options, and every precision switch (:func:`lstm_demo.precision.save_flags`).
    """
    import torch

    from lstm_demo.precision import restore_flags

    if not _TORCH_DEFAULTS:
        _TORCH_DEFAULTS.update(_torch_state())
    state = _TORCH_DEFAULTS
    torch.manual_seed(0)
    torch.set_num_threads(state["threads"])
    torch.set_default_dtype(state["default_dtype"])
    torch.set_printoptions(profile="default")
    restore_flags(state["flags"])


def _module_file(app: Any, modname: str) -> Path | None:
    """The source file of an lstm_demo module, found without importing it."""
    package = Path(app.config.lstm_demo_package)
    top, _, rest = modname.partition(".")
    if top != package.name:
        return None
    path = package.joinpath(*rest.split(".")) if rest else package / "__init__"
    path = path / "__init__.py" if path.is_dir() else path.with_suffix(".py")
    return path if path.is_file() else None


def find_source(app: Any, modname: str) -> tuple[str, dict[str, Any]] | None:
    """``viewcode-find-source`` for lstm_demo: read the file, never import it.

    Sphinx's viewcode otherwise imports every documented module to locate
    its file; for lstm_demo that imports torch (about a second), even when
    nothing changed. With the source given here, viewcode highlights the
    module pages again on every build (its rule for sources it did not
    find itself): part of every no-op build, which
    ``benchmarks/build_times.py`` times.
    """
    path = _module_file(app, modname)
    if path is None:
        return None
    source = path.read_text()
    return source, _tags(source, modname, str(path))


@functools.lru_cache(maxsize=64)
def _tags(source: str, modname: str, path: str) -> dict[str, Any]:
    """The module's tags, parsed once per source text: viewcode asks for every documented object."""
    from sphinx.pycode import ModuleAnalyzer

    return ModuleAnalyzer.for_string(source, modname, path).find_tags()


#: Figure text sizes for the gallery. A figure 800 px wide is shown 358 px wide
#: on a phone: at matplotlib's 10 pt, tick labels came out about 5 CSS pixels
#: tall. At 13 pt a long label can outgrow an example's fixed figure size, so
#: figures are saved with their whole text (``savefig.bbox``); sphinx-gallery's
#: 2x images keep the text sharp when zoomed.
MATPLOTLIB_RC = {
    "font.size": 13,
    "savefig.bbox": "tight",
    "axes.titlesize": "large",
    "axes.labelsize": "medium",
    "xtick.labelsize": "medium",
    "ytick.labelsize": "medium",
    "legend.fontsize": "medium",
    "lines.linewidth": 2.0,
    "lines.markersize": 7.0,
}


def reset_matplotlib(gallery_conf: dict[str, Any], fname: str | None) -> None:
    """sphinx-gallery ``reset_modules`` hook, after its own ``"matplotlib"`` reset: readable figure text.

    Examples name their text sizes relative to ``font.size`` ("small",
    "large"), so raising it scales every label, tick and legend of the page.
    """
    import matplotlib as mpl

    mpl.rcParams.update(MATPLOTLIB_RC)


# --- the pages as a reader meets them --------------------------------------------

_PRE = re.compile(r'(?:<div class="(?P<outer>[^"]*)">)?<div class="highlight">(?P<tag><pre)>')
_BARE_PRE = re.compile(r"<pre(?=[ >])(?![^>]*\btabindex=)")
_THUMB_LINK = re.compile(
    r'(<div class="sphx-glr-thumbcontainer"[^>]*>.*?<p>)<a class="reference internal" '
    r'href="(?P<href>[^"]*)"><span class="[^"]*">(?P<text>.*?)</span></a>',
    re.DOTALL,
)
_VIEWCODE_BACK = re.compile(r'(<a class="viewcode-back" href="(?P<page>[^"#]*)#)(?P<anchor>[^"]*)"')
_VIEWPORT = re.compile(r'<meta name="viewport"[^>]*>\n?')
_TAGS = re.compile(r"<[^>]+>")
_CAPTION = re.compile(r'<p class="caption" role="heading"(?![^>]*aria-level)')

_OUTPUT_CLASSES = {"sphx-glr-script-out", "output", "highlight-myst-ansi"}


def keyboard_scrollable(body: str) -> str:
    """Make every ``<pre>`` reachable by keyboard, with a name: code and output boxes scroll sideways.

    A box that scrolls must take the focus, or a keyboard user cannot
    scroll it (WCAG 2.1.1). Code is named "Code", a run's output "Output".
    """

    def named(match: re.Match[str]) -> str:
        outer = set((match.group("outer") or "").split())
        label = "Output" if outer & _OUTPUT_CLASSES else "Code"
        start, end = match.span("tag")
        text = match.group(0)
        tag = f'<pre tabindex="0" role="group" aria-label="{label}"'
        return text[: start - match.start()] + tag + text[end - match.start() :]

    body = _PRE.sub(named, body)
    return _BARE_PRE.sub('<pre tabindex="0" role="group" aria-label="Preformatted text"', body)


def name_thumbnails(body: str) -> str:
    """Give each gallery thumbnail's link the example's title: its own text is hidden by sphinx-gallery's CSS."""

    def named(match: re.Match[str]) -> str:
        label = _TAGS.sub("", match.group("text")).replace('"', "&quot;")
        return match.group(0).replace(
            '<a class="reference internal" ', f'<a class="reference internal" aria-label="{label}" ', 1
        )

    return _THUMB_LINK.sub(named, body)


def level_captions(html_text: str) -> str:
    """Give toctree captions the heading level their ``role="heading"`` needs (ARIA requires one)."""
    return _CAPTION.sub('<p class="caption" role="heading" aria-level="2"', html_text)


def fix_viewcode_backlinks(body: str, module: str, anchors: Mapping[str, set[str]]) -> str:
    """Point a module page's ``[docs]`` links at the anchors the API page has.

    viewcode stores one module prefix per source file, the one of the first
    object documented from it, so when the API page documents
    ``lstm_demo.available_devices`` and then ``lstm_demo.devices.each_device``,
    every link from ``lstm_demo/devices.py`` says ``lstm_demo.each_device``.
    ``anchors`` maps a page (as linked) to the object anchors it has.
    """
    parents = module.split(".")
    prefixes = [".".join(parents[:i]) for i in range(len(parents), 0, -1)]

    def fixed(match: re.Match[str]) -> str:
        page, anchor = match.group("page"), match.group("anchor")
        known = anchors.get(page.rsplit("/", 1)[-1], set())
        if anchor in known:
            return match.group(0)
        parts = anchor.split(".")
        for cut in range(1, len(parts)):
            name = ".".join(parts[cut:])
            for prefix in prefixes:
                if f"{prefix}.{name}" in known:
                    return f'{match.group(1)}{prefix}.{name}"'
        return match.group(0)

    return _VIEWCODE_BACK.sub(fixed, body)


def _object_anchors(app: Any) -> dict[str, set[str]]:
    """The Python objects' anchors, per output page name (``api.html``)."""
    anchors: dict[str, set[str]] = {}
    for entry in app.env.get_domain("py").objects.values():
        page = app.builder.get_target_uri(entry.docname).rsplit("/", 1)[-1]
        anchors.setdefault(page, set()).add(entry.node_id)
    return anchors


def polish_page(app: Any, pagename: str, templatename: str, context: dict[str, Any], doctree: Any) -> None:
    """``html-page-context``: what axe-core and a reader's browser ask of every page.

    The viewport tag comes once, from furo's template: docutils' HTML writer
    adds a second to the page's meta tags, which Sphinx passes on. Runs after
    furo's own handler, whose navigation tree it edits.
    """
    title = _TAGS.sub("", context.get("title") or "")
    description = app.config.lstm_demo_description
    if pagename != app.config.root_doc and title:
        description = f"{html.unescape(title)}: {description}"
    tag = f'<meta name="description" content="{html.escape(description)}" />\n'
    # viewcode's module pages come without meta tags of their own.
    context["metatags"] = tag + _VIEWPORT.sub("", context.get("metatags", ""))
    navigation = context.get("furo_navigation_tree")
    if navigation:
        context["furo_navigation_tree"] = level_captions(navigation)
    defer_scripts(context, pagename)
    body = context.get("body")
    if not body:
        return
    prune_styles(context, body)
    body = level_captions(name_thumbnails(keyboard_scrollable(body)))
    body = size_images(body, _image_sizes(app))
    body = lighter_markup(body, *_plain_tokens(app))
    if pagename.startswith("_modules/"):
        module = pagename.removeprefix("_modules/").replace("/", ".")
        body = fix_viewcode_backlinks(body, module, _object_anchors(app))
    context["body"] = body


#: How the docs write torch's names, and the names PyTorch documents them under:
#: ``nn.LSTM`` as readers import it (``from torch import nn``), and
#: ``torch.nn.modules.rnn.LSTM`` as autodoc writes a class's home ("alias of ...").
TORCH_ALIASES = (
    (re.compile(r"^nn\."), "torch.nn."),
    (re.compile(r"^F\."), "torch.nn.functional."),
    (re.compile(r"^torch\.nn\.modules\.\w+\."), "torch.nn."),
)


def resolve_torch_alias(app: Any, env: Any, node: Any, contnode: Any) -> Any:
    """``missing-reference``, after intersphinx: ``nn.LSTM`` links to ``torch.nn.LSTM``.

    Docstrings name types as their readers import them (``rnn : nn.LSTM``);
    PyTorch's inventory has the public names (:data:`TORCH_ALIASES`). A
    ``:func:`` reference to what PyTorch documents as a class
    (``torch.no_grad``, used as a function) is looked up as a class too.
    """
    from sphinx.ext.intersphinx import missing_reference

    if node.get("refdomain") != "py":
        return None
    target = node.get("reftarget", "")
    for pattern, public in TORCH_ALIASES:
        target = pattern.sub(public, target)
    if not target.startswith("torch."):
        return None
    retry = node.deepcopy()
    retry["reftarget"] = target
    found = missing_reference(app, env, retry, contnode)
    if found is None and node.get("reftype") == "func":
        retry["reftype"] = "class"
        found = missing_reference(app, env, retry, contnode)
    return found


class _DropConfigDumps(logging.Filter):
    """Drop the info lines where myst-parser and myst-nb print their whole configuration."""

    def filter(self, record: logging.LogRecord) -> bool:
        return not str(record.msg).startswith(("\x1b[01mmyst v", "myst v", "myst-nb v", "\x1b[01mmyst-nb v"))


def setup(app: Any) -> dict[str, Any]:
    """Sphinx extension: store the package fingerprint once a build has succeeded.

    ``conf.py`` sets ``lstm_demo_sources`` to :attr:`SourceState.digest`; as an
    ``"env"`` value, a new fingerprint makes Sphinx re-read every page.
    """
    app.add_config_value("lstm_demo_sources", "", "env", str)
    app.add_config_value("lstm_demo_sources_stamp", "", "", str)
    app.add_config_value("lstm_demo_package", "", "", str)
    app.add_config_value("lstm_demo_description", "", "html", str)
    app.add_html_math_renderer(MATH_RENDERER, (_visit_math, None), (_visit_displaymath, None))
    app.connect("viewcode-find-source", find_source)
    app.connect("html-page-context", polish_page, priority=900)
    # After intersphinx's own lookup (priority 500).
    app.connect("missing-reference", resolve_torch_alias, priority=900)
    for name in ("sphinx.myst_parser.sphinx_ext.main", "sphinx.myst_nb.sphinx_ext"):
        logging.getLogger(name).addFilter(_DropConfigDumps())
    # sphinx-gallery runs the examples on builder-inited, at the default priority 500.
    app.connect("builder-inited", clear_stale_gallery, priority=400)

    def finished(app: Any, exception: BaseException | None) -> None:
        config = app.config
        if exception is not None or not config.lstm_demo_sources_stamp:
            return
        stamp = Path(config.lstm_demo_sources_stamp)
        stamp.parent.mkdir(parents=True, exist_ok=True)
        stamp.write_text(config.lstm_demo_sources + "\n")
        cache = Path(config.nb_execution_cache_path)
        prune_caches(cache.parent, keep=cache)

    # After sphinx-gallery's check of failed examples (priority 500): a build
    # whose examples failed stores nothing, so the next build runs them again.
    app.connect("build-finished", finished, priority=900)
    return {"parallel_read_safe": True, "parallel_write_safe": True}
