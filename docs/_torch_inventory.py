"""Write the intersphinx inventory of PyTorch's reference docs that the site links to.

The build has no network, so it cannot download PyTorch's ``objects.inv``.
This script writes one from the installed torch instead: each public name
is placed where PyTorch's reference docs document it (for instance
``torch.nn.LSTM`` on ``generated/torch.nn.LSTM.html``). ``conf.py`` gives the
file to intersphinx, which links the API page's types and the gallery's code
to PyTorch's docs; sphinx-gallery reads the same inventory for its code
links.

Refresh it after a torch upgrade, from the repository root::

    python docs/_torch_inventory.py

The output depends only on the installed torch (names sorted, fixed
compression level), so two runs with one torch write the same bytes.
"""

from __future__ import annotations

import argparse
import importlib
import inspect
import zlib
from collections.abc import Iterable, Iterator
from pathlib import Path
from types import ModuleType
from typing import NamedTuple

DEFAULT_OUTPUT = Path(__file__).resolve().parent / "_inventories" / "torch.inv"

#: Documented where ``generated/torch.X.html`` is not: the tensor and its attribute classes.
_TORCH_PAGES = {
    "Tensor": "tensors.html",
    "dtype": "tensor_attributes.html",
    "device": "tensor_attributes.html",
    "layout": "tensor_attributes.html",
    "memory_format": "tensor_attributes.html",
    "finfo": "type_info.html",
    "iinfo": "type_info.html",
    "Size": "size.html",
}

#: torch.backends switches, documented as attributes (or functions) on ``backends.html``.
_BACKENDS = (
    "cuda.is_built",
    "cuda.matmul.allow_tf32",
    "cuda.matmul.allow_fp16_reduced_precision_reduction",
    "cuda.matmul.allow_bf16_reduced_precision_reduction",
    "cudnn.version",
    "cudnn.is_available",
    "cudnn.enabled",
    "cudnn.allow_tf32",
    "cudnn.deterministic",
    "cudnn.benchmark",
    "mkldnn.is_available",
    "mps.is_available",
)

#: Modules with a page of their own.
_MODULE_PAGES = {
    "torch": "torch.html",
    "torch.nn": "nn.html",
    "torch.nn.functional": "nn.functional.html",
    "torch.nn.init": "nn.init.html",
    "torch.testing": "testing.html",
    "torch.cuda": "cuda.html",
    "torch.backends": "backends.html",
    "torch.autograd": "autograd.html",
    "torch.utils.benchmark": "benchmark_utils.html",
}


class Entry(NamedTuple):
    """One line of an inventory: a name, its role, and its page and anchor."""

    name: str
    role: str  # "py:class", "py:function", ...
    uri: str  # relative to PyTorch's docs root


def _role(obj: object, *, member: bool = False) -> str:
    if inspect.isclass(obj):
        return "py:class"
    if callable(obj):
        return "py:method" if member else "py:function"
    return "py:attribute" if member else "py:data"


def _public(names: Iterable[str]) -> Iterator[str]:
    return (n for n in names if not n.startswith("_"))


def _generated(module: ModuleType, prefix: str, names: Iterable[str]) -> Iterator[Entry]:
    """Names that PyTorch's autosummary documents on a page each: ``generated/<name>.html``."""
    for name in _public(names):
        obj = getattr(module, name, None)
        if obj is None or inspect.ismodule(obj):
            continue
        full = f"{prefix}.{name}"
        yield Entry(full, _role(obj), f"generated/{full}.html#{full}")


def _on_page(module: ModuleType, prefix: str, names: Iterable[str], page: str) -> Iterator[Entry]:
    """Names documented together on one page, each under its own anchor."""
    for name in _public(names):
        obj = getattr(module, name, None)
        if obj is None or inspect.ismodule(obj):
            continue
        full = f"{prefix}.{name}"
        yield Entry(full, _role(obj), f"{page}#{full}")


def _functions(module: ModuleType) -> list[str]:
    """A module's public functions (for modules without ``__all__``)."""
    return [
        n
        for n, obj in vars(module).items()
        if not n.startswith("_") and (inspect.isfunction(obj) or inspect.isbuiltin(obj))
    ]


def _lookup(root: ModuleType, dotted: str) -> object | None:
    obj: object = root
    for part in dotted.split("."):
        obj = getattr(obj, part, None)
        if obj is None:
            return None
    return obj


def torch_entries(torch: ModuleType) -> list[Entry]:
    """Every entry of the inventory for this torch, sorted by name and role."""
    nn = importlib.import_module("torch.nn")
    functional = importlib.import_module("torch.nn.functional")
    init = importlib.import_module("torch.nn.init")
    rnn = importlib.import_module("torch.nn.utils.rnn")
    testing = importlib.import_module("torch.testing")
    autograd = importlib.import_module("torch.autograd")
    benchmark = importlib.import_module("torch.utils.benchmark")

    entries: list[Entry] = []
    # torch.*: functions and classes, each on a generated page, except the tensor classes.
    top = [n for n in torch.__all__ if not n.endswith(("Storage", "Tensor")) or n == "Tensor"]
    for entry in _generated(torch, "torch", top):
        short = entry.name.removeprefix("torch.")
        page = _TORCH_PAGES.get(short)
        entries.append(entry._replace(uri=f"{page}#{entry.name}") if page else entry)
    # torch.Tensor's methods and attributes.
    for name in _public(dir(torch.Tensor)):
        full = f"torch.Tensor.{name}"
        entries.append(
            Entry(full, _role(getattr(torch.Tensor, name), member=True), f"generated/{full}.html#{full}")
        )
    # torch.nn: the modules (nn.LSTM, ...), and nn.Module's methods on its page.
    entries += _generated(nn, "torch.nn", [*nn.modules.__all__, "Parameter"])
    for name, obj in vars(nn.Module).items():
        if not name.startswith("_") and callable(obj):
            full = f"torch.nn.Module.{name}"
            entries.append(Entry(full, "py:method", f"generated/torch.nn.Module.html#{full}"))
    entries += _generated(functional, "torch.nn.functional", _functions(functional))
    entries += _on_page(init, "torch.nn.init", _functions(init), "nn.init.html")
    entries += _generated(rnn, "torch.nn.utils.rnn", rnn.__all__)
    entries += _on_page(testing, "torch.testing", ["assert_close", "make_tensor"], "testing.html")
    entries += _generated(autograd, "torch.autograd", ["grad", "backward"])
    entries += _on_page(benchmark, "torch.utils.benchmark", ["Timer", "Measurement"], "benchmark_utils.html")
    cuda = torch.cuda
    entries += _generated(cuda, "torch.cuda", getattr(cuda, "__all__", _functions(cuda)))
    for dotted in _BACKENDS:
        obj = _lookup(torch.backends, dotted)
        if obj is not None:
            full = f"torch.backends.{dotted}"
            role = "py:function" if callable(obj) else "py:attribute"
            entries.append(Entry(full, role, f"backends.html#{full}"))
    entries += [Entry(name, "py:module", f"{page}#module-{name}") for name, page in _MODULE_PAGES.items()]
    return sorted(set(entries))


def inventory_bytes(entries: Iterable[Entry], version: str) -> bytes:
    """An intersphinx inventory (format version 2) holding ``entries``."""
    header = f"# Sphinx inventory version 2\n# Project: PyTorch\n# Version: {version}\n"
    header += "# The remainder of this file is compressed using zlib.\n"
    lines = []
    for name, role, uri in entries:
        # "$" is the format's shorthand for "the anchor is the name".
        short = uri[: -len(name)] + "$" if uri.endswith("#" + name) else uri
        lines.append(f"{name} {role} 1 {short} -\n")
    return header.encode() + zlib.compress("".join(lines).encode(), 9)


def torch_release(version: str) -> str:
    """``2.13.0+cpu`` -> ``2.13``: the release whose reference docs the names come from."""
    return ".".join(version.split("+", maxsplit=1)[0].split(".")[:2])


def write(output: Path = DEFAULT_OUTPUT) -> tuple[int, str]:
    """Write the inventory of the installed torch; return its entry count and torch version."""
    torch = importlib.import_module("torch")
    entries = torch_entries(torch)
    output.parent.mkdir(parents=True, exist_ok=True)
    output.write_bytes(inventory_bytes(entries, torch_release(torch.__version__)))
    return len(entries), torch.__version__


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--output", type=Path, default=DEFAULT_OUTPUT, help="default: %(default)s")
    args = parser.parse_args(argv)
    count, version = write(args.output)
    print(f"{args.output}: {count} names from torch {version}")


if __name__ == "__main__":
    main()
