"""docs/_lstm_demo_build.py: the package fingerprint and the torch state reset."""

from __future__ import annotations

import sys
from pathlib import Path

import pytest
import torch

from lstm_demo.precision import precision_objects

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "docs"))
import _lstm_demo_build as glue


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
