"""Build-time glue between lstm_demo and Sphinx, importable by name.

Two jobs, kept out of ``conf.py`` so the configuration stays picklable:

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
  (seed, threads, default dtype, precision flags) back before each one.
"""

from __future__ import annotations

import functools
import hashlib
import importlib.metadata
import os
import shutil
import sys
from collections.abc import Mapping
from pathlib import Path
from typing import Any

#: Environment variables whose value changes what a page prints or whether it runs.
WATCHED_VARIABLES = ("LSTM_DEMO_REQUIRE_CUDA", "CUDA_VISIBLE_DEVICES", "HIP_VISIBLE_DEVICES")


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
        "build glue": hashlib.sha256(Path(__file__).read_bytes()).hexdigest(),
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


def setup(app: Any) -> dict[str, Any]:
    """Sphinx extension: store the package fingerprint once a build has succeeded.

    ``conf.py`` sets ``lstm_demo_sources`` to :attr:`SourceState.digest`; as an
    ``"env"`` value, a new fingerprint makes Sphinx re-read every page.
    """
    app.add_config_value("lstm_demo_sources", "", "env", str)
    app.add_config_value("lstm_demo_sources_stamp", "", "", str)
    app.add_config_value("lstm_demo_package", "", "", str)
    app.connect("viewcode-find-source", find_source)
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
