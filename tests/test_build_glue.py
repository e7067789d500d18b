"""docs/_lstm_demo_build.py and docs/_page_weight.py: the package fingerprint, the resets, and what every page gets."""

from __future__ import annotations

import re
import sys
from pathlib import Path

import pytest
import torch

from lstm_demo.precision import precision_objects

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "docs"))
import _lstm_demo_build as glue
import _page_weight as weight


@pytest.fixture
def torch_state(monkeypatch: pytest.MonkeyPatch):
    """Start each reset test from no snapshot; put torch's global state back afterwards."""
    saved = glue._torch_state()
    monkeypatch.setattr(glue, "_TORCH_DEFAULTS", {})
    yield
    glue._TORCH_DEFAULTS.clear()
    glue._TORCH_DEFAULTS.update(saved)
    glue.reset_torch({}, None)


@pytest.fixture
def package(tmp_path: Path) -> Path:
    pkg = tmp_path / "pkg"
    (pkg / "sub").mkdir(parents=True)
    (pkg / "__init__.py").write_text("x = 1\n")
    (pkg / "sub" / "mod.py").write_text("y = 2\n")
    (pkg / "notes.txt").write_text("not source\n")
    return pkg


def test_fingerprint_is_stable_and_follows_every_source_file(package: Path, tmp_path: Path) -> None:
    stamp = tmp_path / "stamp"
    first = glue.SourceState(package, stamp).digest
    assert glue.SourceState(package, stamp).digest == first
    (package / "notes.txt").write_text("edited, but not a .py file\n")
    assert glue.SourceState(package, stamp).digest == first
    (package / "sub" / "mod.py").write_text("y = 3\n")
    assert glue.SourceState(package, stamp).digest != first


def test_a_renamed_file_changes_the_fingerprint(package: Path, tmp_path: Path) -> None:
    before = glue.SourceState(package, tmp_path / "stamp").digest
    (package / "sub" / "mod.py").rename(package / "sub" / "other.py")
    assert glue.SourceState(package, tmp_path / "stamp").digest != before


def test_changed_compares_with_the_stamp(package: Path, tmp_path: Path) -> None:
    stamp = tmp_path / "auto_examples" / ".stamp"
    state = glue.SourceState(package, stamp)
    assert state.changed is True  # no stamp yet: first build
    stamp.parent.mkdir()
    stamp.write_text(state.digest + "\n")
    assert glue.SourceState(package, stamp).changed is False
    (package / "__init__.py").write_text("x = 2\n")
    assert glue.SourceState(package, stamp).changed is True


def test_prune_caches_keeps_only_the_current_one(tmp_path: Path) -> None:
    root = tmp_path / ".jupyter_cache"
    for name in ("old1", "old2", "current"):
        (root / name).mkdir(parents=True)
        (root / name / "file").write_text(name)
    glue.prune_caches(root, keep=root / "current")
    assert sorted(p.name for p in root.iterdir()) == ["current"]
    glue.prune_caches(tmp_path / "missing", keep=tmp_path / "missing" / "x")  # no folder: nothing to do


@pytest.mark.usefixtures("torch_state")
def test_reset_torch_restores_the_state_of_its_first_call() -> None:
    threads = torch.get_num_threads()
    glue.reset_torch({}, None)  # the snapshot, before any example
    torch.set_default_dtype(torch.float64)
    torch.use_deterministic_algorithms(True)
    torch.set_float32_matmul_precision("medium")
    torch.set_num_threads(1)
    torch.manual_seed(123)

    glue.reset_torch({}, "plot_next.py")

    assert torch.get_default_dtype() == torch.float32
    assert torch.are_deterministic_algorithms_enabled() is False
    assert torch.get_float32_matmul_precision() == "highest"
    assert torch.get_num_threads() == threads
    expected = torch.Generator().manual_seed(0)
    assert torch.equal(torch.rand(3), torch.rand(3, generator=expected))


def test_find_source_reads_the_package_without_importing_it(package: Path) -> None:
    (package / "sub" / "mod.py").write_text("import does_not_exist\n\n\ndef f():\n    return 1\n")
    app = type("App", (), {"config": type("Config", (), {"lstm_demo_package": str(package)})()})()

    source, tags = glue.find_source(app, "pkg.sub.mod")

    assert source.startswith("import does_not_exist")  # importing it would fail
    assert tags == {"f": ("def", 4, 5)}  # def on line 4, its body ends on line 5
    assert glue.find_source(app, "pkg")[0] == "x = 1\n"
    assert glue.find_source(app, "torch.nn") is None
    assert glue.find_source(app, "pkg.missing") is None


@pytest.mark.usefixtures("torch_state")
def test_reset_torch_switches_onednn_back_on() -> None:
    before = torch.backends.mkldnn.enabled
    glue.reset_torch({}, None)
    try:
        torch.backends.mkldnn.enabled = not before  # a page that switched the library off and forgot
        glue.reset_torch({}, "plot_next.py")
        assert torch.backends.mkldnn.enabled is before
    finally:
        torch.backends.mkldnn.enabled = before


def test_reset_torch_restores_per_operator_precision_flags() -> None:
    backends = torch.backends
    before = {path: obj.fp32_precision for path, obj in precision_objects().items()}
    assert before["cudnn.rnn"] in {"tf32", "ieee", "none"}  # this torch has the per-operator flags
    glue.reset_torch({}, None)
    # The reset itself changes nothing (writing the legacy flags would).
    assert {p: o.fp32_precision for p, o in precision_objects().items()} == before
    backends.cudnn.rnn.fp32_precision = "ieee"
    backends.cuda.matmul.allow_tf32 = True
    torch.set_float32_matmul_precision("medium")

    glue.reset_torch({}, "plot_next.py")

    assert {p: o.fp32_precision for p, o in precision_objects().items()} == before


def test_the_environment_is_part_of_the_fingerprint(package: Path, tmp_path: Path) -> None:
    plain = glue.environment_fingerprint({})
    required = glue.environment_fingerprint({"LSTM_DEMO_REQUIRE_CUDA": "1"})
    assert plain["LSTM_DEMO_REQUIRE_CUDA"] == ""
    assert required["LSTM_DEMO_REQUIRE_CUDA"] == "1"
    # The installed distribution, read without importing it: PyPI's wheels
    # leave the local part (+cu128) out of the distribution's version.
    assert torch.__version__.split("+")[0] == plain["torch"].split("+")[0]
    assert glue.environment_fingerprint({"CUDA_VISIBLE_DEVICES": "1"}) != plain

    stamp = tmp_path / "stamp"
    assert glue.SourceState(package, stamp, plain).digest == glue.SourceState(package, stamp, plain).digest
    assert glue.SourceState(package, stamp, plain).digest != glue.SourceState(package, stamp, required).digest
    assert glue.SourceState(package, stamp, plain).digest != glue.SourceState(package, stamp).digest


def _gallery_app(tmp_path: Path, digest: str) -> object:
    config = type(
        "Config",
        (),
        {
            "lstm_demo_sources": digest,
            "lstm_demo_sources_stamp": str(tmp_path / "auto_examples" / ".stamp"),
            "sphinx_gallery_conf": {"gallery_dirs": "auto_examples"},
        },
    )()
    return type("App", (), {"config": config, "srcdir": tmp_path})()


def _gallery_output(tmp_path: Path, stamp: str) -> Path:
    output = tmp_path / "auto_examples"
    output.mkdir()
    (output / ".stamp").write_text(f"{stamp}\n")
    (output / "plot_01.rst").write_text("generated")
    return output


def test_a_new_fingerprint_clears_the_gallery_output(tmp_path: Path) -> None:
    output = _gallery_output(tmp_path, "old digest")

    glue.clear_stale_gallery(_gallery_app(tmp_path, "new digest"))

    assert not output.exists()
    glue.clear_stale_gallery(_gallery_app(tmp_path, "new digest"))  # nothing left: nothing to do


def test_the_same_fingerprint_keeps_the_gallery_output(tmp_path: Path) -> None:
    output = _gallery_output(tmp_path, "digest")

    glue.clear_stale_gallery(_gallery_app(tmp_path, "digest"))

    assert (output / "plot_01.rst").read_text() == "generated"


# --- what the reader gets -------------------------------------------------------

H100 = "NVIDIA H100 80GB HBM3"


@pytest.fixture
def two_gpus(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    """A CUDA torch on a machine whose driver lists two GPUs (read from files like /proc's)."""
    for bus, model in [("0000:01:00.0", H100), ("0000:02:00.0", "NVIDIA A100-SXM4-40GB")]:
        (tmp_path / bus).mkdir()
        (tmp_path / bus / "information").write_text(f"Model: \t\t {model}\nIRQ:   \t\t 42\n")
    real = glue._gpu_models
    monkeypatch.setattr(glue, "_gpu_models", lambda: real(tmp_path))
    monkeypatch.setattr(glue, "_torch_has_cuda", lambda: True)


def test_banner_of_a_gpu_build_names_the_gpus_and_torch(two_gpus: None) -> None:
    import importlib.metadata

    banner = glue.site_banner({})
    torch_version = importlib.metadata.version("torch")
    assert banner.startswith("Last verified: ")
    assert f"torch {torch_version}, on CPU, {H100}, NVIDIA A100-SXM4-40GB." in banner
    assert "CPU only" not in banner


@pytest.mark.parametrize(
    ("visible", "devices"),
    [("1", "CPU, NVIDIA A100-SXM4-40GB"), ("1,0", f"CPU, NVIDIA A100-SXM4-40GB, {H100}"),
     ("0,-1,1", f"CPU, {H100}"), ("", "CPU only (no GPU)"), ("-1", "CPU only (no GPU)"),
     ("GPU-8d3f", f"CPU, {H100}, NVIDIA A100-SXM4-40GB")],
)  # fmt: skip
def test_banner_follows_cuda_visible_devices(two_gpus: None, visible: str, devices: str) -> None:
    assert glue.built_on({"CUDA_VISIBLE_DEVICES": visible})["devices"] == devices


def test_banner_of_a_cpu_build_says_so(monkeypatch: pytest.MonkeyPatch, two_gpus: None) -> None:
    monkeypatch.setattr(glue, "_torch_has_cuda", lambda: False)  # a CPU torch sees no GPU
    banner = glue.site_banner({})
    assert "on CPU only (no GPU). A CPU-only copy: the published site also shows GPU results." in banner
    preview = glue.site_banner({"READTHEDOCS_VERSION_TYPE": "external"})
    assert preview.endswith("A preview of a pull request, built without a GPU.")


def test_banner_date_is_today_in_utc() -> None:
    import datetime

    before = datetime.datetime.now(datetime.timezone.utc).date()
    built = datetime.date.fromisoformat(glue.built_on({})["date"])
    assert before <= built <= datetime.datetime.now(datetime.timezone.utc).date()


CODE_AND_OUTPUT = (
    '<div class="highlight-Python notranslate"><div class="highlight"><pre><span>x</span></pre></div></div>\n'
    '<div class="sphx-glr-script-out highlight-none notranslate"><div class="highlight"><pre>1</pre></div></div>\n'
    '<div class="output stream highlight-myst-ansi notranslate"><div class="highlight"><pre>2</pre></div></div>\n'
    '<div class="output_subarea"><pre class="raw">3</pre><pre tabindex="-1">4</pre></div>'
)


def test_every_pre_takes_the_keyboard_focus_and_has_a_name() -> None:
    body = glue.keyboard_scrollable(CODE_AND_OUTPUT)
    tags = re.findall(r"<pre[^>]*>", body)
    assert tags == [
        '<pre tabindex="0" role="group" aria-label="Code">',
        '<pre tabindex="0" role="group" aria-label="Output">',
        '<pre tabindex="0" role="group" aria-label="Output">',
        '<pre tabindex="0" role="group" aria-label="Preformatted text" class="raw">',
        '<pre tabindex="-1">',  # a page's own choice stays
    ]
    assert glue.keyboard_scrollable(body) == body  # twice is once


def test_thumbnail_links_get_the_examples_title() -> None:
    card = (
        '<div class="sphx-glr-thumbcontainer" tooltip="t"><img alt="" src="a.png" />\n'
        '<p><a class="reference internal" href="plot_02.html"><span class="doc">'
        "<code>num_layers=2</code> or two LSTMs &quot;stacked&quot;?</span></a></p>\n</div>"
    )
    named = glue.name_thumbnails(card + card.replace("plot_02", "plot_03"))
    labels = re.findall(r'<a class="reference internal" aria-label="([^"]*)" href="([^"]*)"', named)
    assert labels == [
        ("num_layers=2 or two LSTMs &quot;stacked&quot;?", "plot_02.html"),
        ("num_layers=2 or two LSTMs &quot;stacked&quot;?", "plot_03.html"),
    ]


def test_viewcode_backlinks_point_at_the_documented_names() -> None:
    anchors = {
        "api.html": {
            "lstm_demo.available_devices",
            "lstm_demo.devices.each_device",
            "lstm_demo.Comparison.close",
        }
    }
    body = "".join(
        f'<a class="viewcode-back" href="../../api.html#{anchor}">[docs]</a>'
        for anchor in ["lstm_demo.available_devices", "lstm_demo.each_device", "lstm_demo.unknown"]
    )
    fixed = glue.fix_viewcode_backlinks(body, "lstm_demo.devices", anchors)
    assert re.findall(r'href="([^"]*)"', fixed) == [
        "../../api.html#lstm_demo.available_devices",
        "../../api.html#lstm_demo.devices.each_device",
        "../../api.html#lstm_demo.unknown",  # not documented anywhere: left as it was
    ]
    method = '<a class="viewcode-back" href="../api.html#lstm_demo.comparison.Comparison.close">'
    fixed = glue.fix_viewcode_backlinks(method, "lstm_demo.comparison", anchors)
    assert 'href="../api.html#lstm_demo.Comparison.close"' in fixed


def test_pages_get_one_viewport_and_a_description() -> None:
    class Config:
        lstm_demo_description = "What nn.LSTM computes."
        root_doc = "index"

    class App:
        config = Config()

    docutils_meta = '<meta name="viewport" content="width=device-width, initial-scale=1" />\n'
    for pagename, title, description in [
        ("index", "What does <code>nn.LSTM</code> compute?", "What nn.LSTM computes."),
        ("shapes", "The shapes &amp; sizes", "The shapes &amp; sizes: What nn.LSTM computes."),
    ]:
        context = {"metatags": docutils_meta, "title": title, "body": ""}
        glue.polish_page(App(), pagename, "page.html", context, None)
        assert context["metatags"] == f'<meta name="description" content="{description}" />\n'


def test_reset_matplotlib_enlarges_figure_text_after_matplotlibs_reset() -> None:
    import matplotlib as mpl

    with mpl.rc_context():
        mpl.rcdefaults()
        glue.reset_matplotlib({}, None)
        assert mpl.rcParams["font.size"] == glue.MATPLOTLIB_RC["font.size"] > mpl.rcParamsDefault["font.size"]
        assert mpl.rcParams["legend.fontsize"] == "medium"
        assert mpl.rcParams["savefig.bbox"] == "tight"  # no label cut off at the larger size


def test_nn_names_resolve_to_torch_names_through_intersphinx(monkeypatch: pytest.MonkeyPatch) -> None:
    from docutils import nodes
    from sphinx import addnodes
    from sphinx.ext import intersphinx

    known = {("class", "torch.nn.LSTM"), ("class", "torch.no_grad")}
    asked: list[tuple[str, str]] = []

    def missing_reference(app, env, node, contnode):
        asked.append((node["reftype"], node["reftarget"]))
        return nodes.reference("", "", refuri=node["reftarget"]) if asked[-1] in known else None

    monkeypatch.setattr(intersphinx, "missing_reference", missing_reference)

    def resolve(reftype: str, target: str, domain: str = "py"):
        asked.clear()
        node = addnodes.pending_xref("", refdomain=domain, reftype=reftype, reftarget=target)
        found = glue.resolve_torch_alias(None, None, node, nodes.literal())
        assert node["reftarget"] == target  # the page's own node is left as it was
        return found["refuri"] if found is not None else None

    assert resolve("class", "nn.LSTM") == "torch.nn.LSTM"
    assert resolve("class", "torch.nn.modules.rnn.LSTM") == "torch.nn.LSTM"  # autodoc's "alias of"
    assert resolve("func", "torch.no_grad") == "torch.no_grad"
    assert asked == [("func", "torch.no_grad"), ("class", "torch.no_grad")]
    assert resolve("class", "nn.Missing") is None
    assert resolve("class", "lstm_demo.claims.Claim") is None
    assert asked == []  # not a torch name: intersphinx is not asked again
    assert resolve("class", "nn.LSTM", domain="std") is None


def test_toctree_captions_get_a_heading_level() -> None:
    caption = '<p class="caption" role="heading"><span class="caption-text">Questions</span></p>'
    leveled = glue.level_captions(caption + caption)
    assert leveled.count('<p class="caption" role="heading" aria-level="2">') == 2
    assert glue.level_captions(leveled) == leveled


# --- maths, images, scripts and styles: what a page loads ---------------------------------------


def test_maths_becomes_mathml_with_its_latex_as_alttext() -> None:
    import xml.etree.ElementTree as ET

    inline = weight.latex_to_mathml(r"h_{t-1}")
    root = ET.fromstring(inline)
    assert root.tag == "{http://www.w3.org/1998/Math/MathML}math"
    assert root.get("display") == "inline"
    assert root.get("alttext") == "h_{t-1}"
    assert "".join(root.itertext()) == "ht\u22121"  # h, then the subscript t - 1 with a minus sign
    block = ET.fromstring(weight.latex_to_mathml("i_t &= a \\\\\n h_t &= b", block=True))
    assert block.get("display") == "block"
    # two lines, aligned at "=": a table of two rows of two cells
    rows = block.findall(".//{http://www.w3.org/1998/Math/MathML}mtr")
    assert [len(row) for row in rows] == [2, 2]
    assert ET.fromstring(weight.latex_to_mathml("a < b")).get("alttext") == "a < b"  # escaped, then parsed


def _png(path: Path, width: int, height: int) -> Path:
    import zlib

    header = width.to_bytes(4, "big") + height.to_bytes(4, "big") + bytes([8, 2, 0, 0, 0])
    chunk = b"IHDR" + header
    path.write_bytes(
        b"\x89PNG\r\n\x1a\n" + len(header).to_bytes(4, "big") + chunk + zlib.crc32(chunk).to_bytes(4, "big")
    )
    return path


def test_png_size_reads_the_header(tmp_path: Path) -> None:
    assert weight.png_size(_png(tmp_path / "a.png", 800, 451)) == (800, 451)
    (tmp_path / "b.svg").write_text("<svg/>")
    assert weight.png_size(tmp_path / "b.svg") is None
    assert weight.png_size(tmp_path / "missing.png") is None


def test_images_get_their_size_and_all_but_the_first_load_lazily() -> None:
    body = (
        '<img src="../_images/a.png" alt="first" class = "x"/>\n'
        '<img alt="" src="../_images/b.png" />\n'
        '<img src="unknown.png" alt="" width="10" loading="eager">'
    )
    sized = weight.size_images(body, {"a.png": (800, 451), "b.png": (400, 280)})
    assert re.findall(r"<img[^>]*>", sized) == [
        '<img src="../_images/a.png" alt="first" class = "x" width="800" height="451" decoding="async" />',
        '<img alt="" src="../_images/b.png" width="400" height="280" loading="lazy" decoding="async" />',
        '<img src="unknown.png" alt="" width="10" loading="eager" decoding="async" />',
    ]
    assert weight.size_images(sized, {"a.png": (1, 1)}) == sized  # twice is once


def test_scripts_are_deferred_and_unused_styles_left_out() -> None:
    from sphinx.builders.html._assets import _CascadingStyleSheet, _JavaScript

    scripts = [_JavaScript("_static/doctools.js"), _JavaScript(None, body="var x = 1;")]
    styles = [
        _CascadingStyleSheet(name)
        for name in ("_static/styles/furo.css", "_static/mystnb.abc.css", "_static/sg_gallery.css",
                     "_static/sg_gallery-binder.css", "_static/sg_gallery-dataframe.css")
    ]  # fmt: skip
    context = {"script_files": scripts, "css_files": styles}
    weight.defer_scripts(context)
    # an inline script cannot defer
    assert [s.attributes.get("defer") for s in context["script_files"]] == ["defer", None]
    assert "defer" not in scripts[0].attributes  # Sphinx's own objects, which every page shares, stay
    search = {"script_files": scripts}
    weight.defer_scripts(search, "search")
    assert search["script_files"] == scripts  # searchtools.js, a plain script there, needs them first
    weight.prune_styles(context, '<div class="sphx-glr-script-out">')
    assert [s.filename for s in context["css_files"]] == ["_static/styles/furo.css", "_static/sg_gallery.css"]
    context = {"css_files": styles}
    weight.prune_styles(context, '<div class="cell docutils container">')
    assert [s.filename for s in context["css_files"]] == ["_static/styles/furo.css", "_static/mystnb.abc.css"]


LIGHT_CSS = """pre { line-height: 125%; }
.highlight { background: #f2f2f2; color: #1E1E1E }
.highlight .k { color: #A12; font-weight: bold }
.highlight .n { color: #1E1E1E }
.highlight .o { color: #163 }
.highlight .p { color: #1e1e1e }
.highlight .w { color: #1E1E1E }"""
DARK_CSS = """.highlight { background: #202020; color: #D0D0D0 }
.highlight .k { color: #6AB; font-weight: bold }
.highlight .n { color: #D0D0D0 }
.highlight .o { color: #D0D0D0 }
.highlight .p { color: #D0D0D0 }
.highlight .w { color: #666 }"""


def test_plain_tokens_are_those_coloured_like_the_code_in_every_style() -> None:
    same, colour_only = weight.plain_tokens([LIGHT_CSS, DARK_CSS])
    assert same == {"n", "p"}  # .o matches in dark only, .w in light only; .k is bold
    assert colour_only == {"n", "o", "p", "w"}


def test_lighter_markup_keeps_the_text_and_the_coloured_tokens() -> None:
    same, colour_only = weight.plain_tokens([LIGHT_CSS, DARK_CSS])
    code = (
        '<div class="highlight"><pre tabindex="0"><span class="k">def</span><span class="w"> </span>'
        '<span class="n">f</span><span class="p">(</span><span class="n">x</span><span class="p">):</span>'
        '<span class="w">\n    </span><span class="n">x</span><span class="o">+</span><span class="w">x</span>'
        '<a href="t.html"><span class="n">t</span></a><span class="p">.</span>'
        "</pre></div>"
    )
    inline = '<p><span class="n">kept</span> <code class="docutils literal"><span class="pre">a,</span> <span class="pre">b</span></code></p>'
    lighter = weight.lighter_markup(code + inline, same, colour_only)
    assert lighter == (
        '<div class="highlight"><pre tabindex="0"><span class="k">def</span> f(x):\n    x'
        '<span class="o">+</span><span class="w">x</span>'  # a visible .w keeps its colour
        '<a href="t.html"><span class="n">t</span></a>.</pre></div>'  # so does a link's token
        '<p><span class="n">kept</span> <code class="docutils literal">a, b</code></p>'  # outside code: kept
    )
    assert re.sub("<[^>]+>", "", lighter) == re.sub("<[^>]+>", "", code + inline)


def test_module_pages_get_a_description_too() -> None:
    class Config:
        lstm_demo_description = "What nn.LSTM computes."
        root_doc = "index"

    class App:
        config = Config()

    context = {"title": "lstm_demo.speed", "body": ""}  # viewcode's context: no meta tags
    glue.polish_page(App(), "_modules/lstm_demo/speed", "page.html", context, None)
    assert (
        context["metatags"]
        == '<meta name="description" content="lstm_demo.speed: What nn.LSTM computes." />\n'
    )


def test_image_sizes_come_from_the_sources_not_the_build(tmp_path: Path) -> None:
    (tmp_path / "auto_examples" / "images").mkdir(parents=True)
    (tmp_path / "_build" / "html" / "_images").mkdir(parents=True)
    _png(tmp_path / "auto_examples" / "images" / "fig.png", 811, 411)
    _png(tmp_path / "_build" / "html" / "_images" / "old.png", 5, 5)

    class App:
        srcdir = str(tmp_path)

    assert weight._image_sizes(App()) == {"fig.png": (811, 411)}
