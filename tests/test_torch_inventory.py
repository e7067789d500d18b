"""docs/_torch_inventory.py: the intersphinx inventory of PyTorch's docs, written from the installed torch."""

from __future__ import annotations

import subprocess
import sys
import zlib
from pathlib import Path

import torch
from sphinx.util.inventory import InventoryFile

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT / "docs"))
import _torch_inventory as inventory

BASE = "https://docs.pytorch.org/docs/stable/"


def _load(data: bytes) -> dict[str, dict[str, str]]:
    """What intersphinx reads from the file: role -> name -> absolute URL."""
    loaded = InventoryFile.loads(data, uri=BASE)
    table = getattr(loaded, "data", loaded)  # an _Inventory from Sphinx 8.2, a dict before
    return {role: {name: _uri(item) for name, item in items.items()} for role, items in table.items()}


def _uri(item: object) -> str:
    return str(getattr(item, "uri", None) or item[2])  # type: ignore[index]  # a tuple before Sphinx 8.2


def _lines(data: bytes) -> list[str]:
    header_end = data.index(b"zlib.\n") + len(b"zlib.\n")
    return zlib.decompress(data[header_end:]).decode().splitlines()


def test_the_script_writes_the_same_bytes_twice(tmp_path: Path) -> None:
    first, second = tmp_path / "a.inv", tmp_path / "b.inv"
    run = [sys.executable, str(ROOT / "docs" / "_torch_inventory.py"), "--output"]
    done = subprocess.run([*run, str(first)], capture_output=True, text=True, check=True, cwd=tmp_path)
    subprocess.run([*run, str(second)], capture_output=True, text=True, check=True, cwd=tmp_path)
    assert first.read_bytes() == second.read_bytes()
    count = len(_lines(first.read_bytes()))
    assert done.stdout.strip() == f"{first}: {count} names from torch {torch.__version__}"


def test_names_land_on_pytorchs_pages(tmp_path: Path) -> None:
    output = tmp_path / "torch.inv"
    inventory.write(output)
    table = _load(output.read_bytes())
    expected = {
        ("py:class", "torch.nn.LSTM"): "generated/torch.nn.LSTM.html#torch.nn.LSTM",
        ("py:class", "torch.Tensor"): "tensors.html#torch.Tensor",
        ("py:class", "torch.device"): "tensor_attributes.html#torch.device",
        ("py:class", "torch.no_grad"): "generated/torch.no_grad.html#torch.no_grad",
        ("py:function", "torch.equal"): "generated/torch.equal.html#torch.equal",
        ("py:function", "torch.testing.assert_close"): "testing.html#torch.testing.assert_close",
        ("py:function", "torch.nn.utils.rnn.pack_padded_sequence"): (
            "generated/torch.nn.utils.rnn.pack_padded_sequence.html#torch.nn.utils.rnn.pack_padded_sequence"
        ),
        ("py:function", "torch.nn.init.xavier_normal_"): "nn.init.html#torch.nn.init.xavier_normal_",
        ("py:method", "torch.Tensor.view"): "generated/torch.Tensor.view.html#torch.Tensor.view",
        (
            "py:method",
            "torch.nn.Module.parameters",
        ): "generated/torch.nn.Module.html#torch.nn.Module.parameters",
        ("py:class", "torch.utils.benchmark.Timer"): "benchmark_utils.html#torch.utils.benchmark.Timer",
        ("py:attribute", "torch.backends.cudnn.allow_tf32"): "backends.html#torch.backends.cudnn.allow_tf32",
        ("py:module", "torch.nn"): "nn.html#module-torch.nn",
    }
    for (role, name), page in expected.items():
        assert table[role][name] == BASE + page, (role, name)
    # Private names and the legacy typed tensor classes are left out.
    every_name = {name for names in table.values() for name in names}
    assert not [n for n in every_name if any(part.startswith("_") for part in n.split("."))]
    assert "torch.FloatTensor" not in every_name


def test_header_names_the_torch_release() -> None:
    header = inventory.inventory_bytes([], "2.13").split(b"\n")[:4]
    assert header[1:3] == [b"# Project: PyTorch", b"# Version: 2.13"]
    assert inventory.torch_release("2.13.0+cu128") == "2.13"
    assert inventory.torch_release("2.9.1") == "2.9"


def test_the_shipped_inventory_is_this_torchs_when_the_release_matches(tmp_path: Path) -> None:
    """The committed file is the script's output for its torch release: a refresh changes nothing."""
    shipped = inventory.DEFAULT_OUTPUT.read_bytes()
    release = shipped.split(b"\n")[2].removeprefix(b"# Version: ").decode()
    assert release == inventory.torch_release(release + ".0")
    fresh = tmp_path / "torch.inv"
    inventory.write(fresh)
    if release == inventory.torch_release(torch.__version__):
        assert _lines(fresh.read_bytes()) == _lines(shipped)
    else:  # another torch: most names are the same release to release
        old, new = set(_lines(shipped)), set(_lines(fresh.read_bytes()))
        assert len(old & new) > 0.8 * len(old)
