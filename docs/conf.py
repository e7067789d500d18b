"""Sphinx configuration for the lstm-demo site.

Every example and page executes at build time; a failing assertion in any of
them fails the build. See docs/_lstm_demo_build.py for how an edit to
lstm_demo/ re-executes them.
"""

from __future__ import annotations

import os
import sys
from pathlib import Path

DOCS = Path(__file__).resolve().parent
ROOT = DOCS.parent
sys.path.insert(0, str(DOCS))

from _lstm_demo_build import SourceState, environment_fingerprint, site_banner

project = "lstm-demo"
author = "the lstm-demo developers"
copyright = "2026, the lstm-demo developers"
# The package's version without importing it (and torch) on every build.
release = version = (ROOT / "lstm_demo" / "_version.py").read_text().split('"')[1]

extensions = [
    "sphinx.ext.autodoc",
    "sphinx.ext.doctest",
    "sphinx.ext.intersphinx",
    "sphinx.ext.napoleon",
    "sphinx.ext.viewcode",
    "sphinx_copybutton",
    "sphinx_gallery.gen_gallery",
    "myst_nb",
    "_lstm_demo_build",
]

exclude_patterns = [
    "_build",
    "Thumbs.db",
    ".DS_Store",
    "jupyter_execute",
    # sphinx-gallery writes a notebook beside each generated page; myst-nb
    # would read it as a second source of the same page.
    "auto_examples/**.ipynb",
    "auto_examples/**.py",
    "auto_examples/**.zip",
    "auto_examples/**.json",
    # sphinx-gallery's timing tables: benchmarks/build_times.py reads them; as pages no
    # page links to them, and they load their table scripts from CDNs.
    "sg_execution_times.rst",
    "auto_examples/sg_execution_times.rst",
]

# --- links to PyTorch's docs ---------------------------------------------------
# The build has no network: the inventory is written from the installed torch
# by docs/_torch_inventory.py (run it again after a torch upgrade). Types written
# as readers import them (nn.LSTM) resolve through _lstm_demo_build.resolve_torch_alias.
intersphinx_mapping = {
    "torch": ("https://docs.pytorch.org/docs/stable/", str(DOCS / "_inventories" / "torch.inv")),
}

nitpicky = True
nitpick_ignore_regex = [
    ("py:class", r"(TextIO|Any|Path)"),
    ("py:class", r"(callable|optional|sequence|sequence of .*|list of .*|tuple of .*|text stream)"),
    ("py:class", r"lstm_demo\.claims\.Claim"),
    ("py:class", r"numpy\.ndarray"),  # no numpy inventory offline
]

# --- fresh on change ----------------------------------------------------------
# A fingerprint of lstm_demo/ and of the environment (torch version, GPUs,
# LSTM_DEMO_REQUIRE_CUDA, ...): when it differs from the last successful build,
# every gallery example re-runs (_lstm_demo_build.clear_stale_gallery) and
# every myst-nb page re-executes (its cache lives in a folder named after the
# fingerprint).
_sources = SourceState(
    ROOT / "lstm_demo",
    DOCS / "auto_examples" / ".lstm_demo-sources",
    extra=environment_fingerprint(),
)
lstm_demo_sources = _sources.digest
lstm_demo_sources_stamp = str(_sources.stamp)
lstm_demo_package = str(_sources.package)

# --- sphinx-gallery -------------------------------------------------------------
sphinx_gallery_conf = {
    "examples_dirs": str(ROOT / "examples"),
    "gallery_dirs": "auto_examples",
    # Every example; a pull request's build runs only those its changes can change
    # (noxfile.py's `docs -- --changed-since REF` sets the variable).
    "filename_pattern": os.environ.get("LSTM_DEMO_GALLERY_PATTERN") or r"/plot_",
    "within_subsection_order": "_reading_order.ReadingOrder",
    "reset_modules": ("matplotlib", "_lstm_demo_build.reset_matplotlib", "_lstm_demo_build.reset_torch"),
    "reset_modules_order": "before",
    "capture_repr": ("_repr_html_", "__repr__"),
    "remove_config_comments": True,
    "download_all_examples": False,
    "show_memory": False,
    "min_reported_time": 1,
    # Each figure also at twice the pixels, for high-density screens.
    "image_srcset": ["2x"],
}

# --- myst-nb ------------------------------------------------------------------
nb_execution_mode = "cache"
nb_execution_cache_path = str(DOCS / "_build" / ".jupyter_cache" / _sources.digest[:16])
nb_execution_raise_on_error = True
nb_execution_timeout = 300
nb_kernel_rgx_aliases = {".*": "python3"}
nb_merge_streams = True
myst_enable_extensions = ["colon_fence", "dollarmath", "deflist"]

# --- API pages ----------------------------------------------------------------
autodoc_typehints = "none"
autodoc_member_order = "bysource"
autodoc_default_options = {"members": True}
napoleon_numpy_docstring = True
napoleon_google_docstring = False
napoleon_use_rtype = False
doctest_global_setup = "import torch\nfrom torch import nn\nimport lstm_demo"

# --- HTML -----------------------------------------------------------------------
html_theme = "furo"
# Maths as MathML, written at build time (_lstm_demo_build.latex_to_mathml): no maths engine to
# download, equations typeset offline by the browser itself.
html_math_renderer = "mathml"
html_title = "lstm-demo: what PyTorch's nn.LSTM computes, run live"
html_short_title = "lstm-demo"
html_static_path = ["_static"]
templates_path = ["_templates"]
html_css_files = ["tables.css", "lstm-demo.css"]
html_favicon = "_static/favicon.svg"
lstm_demo_description = (
    "What PyTorch's nn.LSTM really computes, shown by experiments that run on the CPU "
    "and every GPU each time the site is built."
)
# Every page says which devices, torch and day built this copy (docs/_templates/page.html).
html_context = {"lstm_demo_banner": site_banner()}
copybutton_prompt_text = r">>> |\.\.\. |\$ "
copybutton_prompt_is_regexp = True
