"""The pages use lstm_demo's public API only: no private name, and every name they import is documented."""

from __future__ import annotations

import ast
import importlib
import re
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
API = (ROOT / "docs" / "api.md").read_text()
CELL = re.compile(r"^```\{code-cell\}[^\n]*\n(.*?)^```", re.DOTALL | re.MULTILINE)


def _sources() -> list[tuple[str, str]]:
    pages = [(p.name, p.read_text()) for p in sorted((ROOT / "examples").glob("*.py"))]
    for page in sorted((ROOT / "docs").glob("*.md")):
        cells = [
            re.sub(r"^(:[a-z_-]+:.*|---\n(?:.*\n)*?---)\n", "", c, flags=re.MULTILINE)
            for c in CELL.findall(page.read_text())
        ]
        pages.append((page.name, "\n".join(cells)))
    return pages


def imported(source: str) -> list[tuple[str, str]]:
    """Every ``(module, name)`` a page takes from lstm_demo: ``from m import n``, ``import m``, ``m.n``."""
    tree = ast.parse(source)
    found: list[tuple[str, str]] = []
    aliases: dict[str, str] = {}
    for node in ast.walk(tree):
        if isinstance(node, ast.ImportFrom) and (node.module or "").split(".")[0] == "lstm_demo":
            for alias in node.names:
                found.append((node.module or "", alias.name))
                aliases[alias.asname or alias.name] = f"{node.module}.{alias.name}"
        elif isinstance(node, ast.Import):
            for alias in node.names:
                if alias.name.split(".")[0] == "lstm_demo":
                    if "." in alias.name:
                        found.append(tuple(alias.name.rsplit(".", 1)))  # type: ignore[arg-type]
                    aliases[alias.asname or alias.name.split(".")[0]] = (
                        alias.name if alias.asname else "lstm_demo"
                    )
    for node in ast.walk(tree):
        if isinstance(node, ast.Attribute) and isinstance(node.value, ast.Name) and node.value.id in aliases:
            found.append((aliases[node.value.id], node.attr))
    return found


PAGES = _sources()


def test_the_pages_are_found():
    names = [name for name, _ in PAGES]
    assert "plot_01_whole_vs_stepwise.py" in names
    assert "shapes.md" in names or "plot_13_shapes.py" in names
    assert all(imported(source) for name, source in PAGES if name.startswith("plot_"))


@pytest.mark.parametrize(("page", "source"), PAGES, ids=[name for name, _ in PAGES])
def test_no_page_uses_a_private_name(page, source):
    private = [f"{m}.{n}" for m, n in imported(source) if any(p.startswith("_") for p in [*m.split("."), n])]
    assert private == [], page


@pytest.mark.parametrize(("page", "source"), PAGES, ids=[name for name, _ in PAGES])
def test_every_name_a_page_uses_is_public_and_documented(page, source):
    undocumented = []
    for module, name in imported(source):
        target = importlib.import_module(module)
        try:
            value = getattr(target, name)
        except AttributeError:  # a submodule not imported yet
            value = importlib.import_module(f"{module}.{name}")
        if isinstance(value, type(target)):  # a submodule: documented by its page in the API reference
            documented = f"lstm_demo.{value.__name__.removeprefix('lstm_demo.')}" in API
        else:
            public = getattr(target, "__all__", None)
            documented = (public is not None and name in public) or f"{module}.{name}" in API
        if not documented:
            undocumented.append(f"{module}.{name}")
    assert undocumented == [], page


def test_a_private_import_is_found():
    found = imported("from lstm_demo.claims.registry import _EXAMPLE\nimport lstm_demo\nlstm_demo._version")
    assert found == [("lstm_demo.claims.registry", "_EXAMPLE"), ("lstm_demo", "_version")]
