"""lstm_demo's imports point down: no cycle, no import inside a function, no other module's private name.

Read from the source with :mod:`ast`, so a lazy import that would dodge a
cycle at run time is caught too.
"""

from __future__ import annotations

import ast
from pathlib import Path

PACKAGE = Path(__file__).resolve().parent.parent / "lstm_demo"


def _module_name(path: Path) -> str:
    parts = path.relative_to(PACKAGE.parent).with_suffix("").parts
    return ".".join(parts[:-1] if parts[-1] == "__init__" else parts)


MODULES = {_module_name(path): path for path in sorted(PACKAGE.rglob("*.py"))}
TREES = {name: ast.parse(path.read_text(encoding="utf-8"), str(path)) for name, path in MODULES.items()}


def _absolute(module: str, node: ast.ImportFrom) -> str:
    """The module ``from ... import`` names, with a relative import resolved."""
    if not node.level:
        return node.module or ""
    package = (
        module if module in MODULES and MODULES[module].name == "__init__.py" else module.rpartition(".")[0]
    )
    for _ in range(node.level - 1):
        package = package.rpartition(".")[0]
    return f"{package}.{node.module}" if node.module else package


def imported(module: str, tree: ast.Module | None = None) -> list[tuple[str, str | None, ast.stmt]]:
    """``(module imported, name taken from it or None, the statement)`` for every lstm_demo import in ``module``.

    ``from lstm_demo import post`` imports the module ``lstm_demo.post``, not a
    name of the package.
    """
    found: list[tuple[str, str | None, ast.stmt]] = []
    for node in ast.walk(TREES[module] if tree is None else tree):
        if isinstance(node, ast.Import):
            found += [(alias.name, None, node) for alias in node.names if alias.name in MODULES]
        elif isinstance(node, ast.ImportFrom):
            source = _absolute(module, node)
            if source not in MODULES:
                continue
            for alias in node.names:
                submodule = f"{source}.{alias.name}"
                if submodule in MODULES:
                    found.append((submodule, None, node))
                else:
                    found.append((source, alias.name, node))
    return found


def _graph() -> dict[str, set[str]]:
    return {module: {target for target, _, _ in imported(module) if target != module} for module in MODULES}


def _cycles(graph: dict[str, set[str]]) -> list[list[str]]:
    """Every strongly connected group of more than one module (Tarjan), each as a sorted list."""
    index: dict[str, int] = {}
    low: dict[str, int] = {}
    stack: list[str] = []
    on_stack: set[str] = set()
    groups: list[list[str]] = []

    def visit(node: str) -> None:
        index[node] = low[node] = len(index)
        stack.append(node)
        on_stack.add(node)
        for target in sorted(graph[node]):
            if target not in index:
                visit(target)
                low[node] = min(low[node], low[target])
            elif target in on_stack:
                low[node] = min(low[node], index[target])
        if low[node] == index[node]:
            group = []
            while True:
                member = stack.pop()
                on_stack.discard(member)
                group.append(member)
                if member == node:
                    break
            if len(group) > 1:
                groups.append(sorted(group))

    for node in sorted(graph):
        if node not in index:
            visit(node)
    return groups


def test_the_package_is_found():
    assert {"lstm_demo", "lstm_demo.comparison", "lstm_demo.tolerances", "lstm_demo.precision"} <= set(
        MODULES
    )


def test_the_cycle_finder_finds_a_cycle():
    # A check that cannot fail proves nothing: a made-up graph with one cycle, and one module outside it.
    graph = {"a": {"b"}, "b": {"c"}, "c": {"a"}, "d": {"a"}}
    assert _cycles(graph) == [["a", "b", "c"]]
    assert _cycles({"a": {"b"}, "b": set()}) == []


def test_no_import_cycle_among_lstm_demo_modules():
    assert _cycles(_graph()) == []


def test_imports_stay_at_module_level():
    # An import inside a function or class runs late: the way a cycle is hidden rather than broken.
    late = []
    for module, tree in TREES.items():
        for scope in ast.walk(tree):
            if not isinstance(scope, (ast.FunctionDef, ast.AsyncFunctionDef, ast.ClassDef)):
                continue
            for node in ast.walk(scope):
                if isinstance(node, (ast.Import, ast.ImportFrom)):
                    late.append(f"{MODULES[module].name}:{node.lineno} in {scope.name}")
    assert late == []


def _private_imports(trees: dict[str, ast.Module]) -> list[str]:
    found = []
    for module, tree in trees.items():
        for source, name, node in imported(module, tree):
            if name is not None and name.startswith("_") and not name.startswith("__"):
                found.append(f"{module}:{node.lineno} imports {name} from {source}")
    return found


def test_the_private_name_finder_finds_one():
    # A private name counts; a private module (lstm_demo._types) and a public name do not.
    source = "from lstm_demo.scratch import _hidden, visible\nfrom lstm_demo import _types\n"
    found = _private_imports({"lstm_demo.example": ast.parse(source)})
    assert found == ["lstm_demo.example:1 imports _hidden from lstm_demo.scratch"]


def test_no_module_imports_another_modules_private_name():
    assert _private_imports(TREES) == []
