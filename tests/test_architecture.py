"""The house rules of docs/ARCHITECTURE.md, read from the source with ``ast``: no import cycle in
zoo/, registry/ or plugins/ (imports inside functions count too), imports between rooms only go
down, registry/ imports nothing of ours above it, and no module grows past 400 lines."""

from __future__ import annotations

import ast
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent
PACKAGES = ("zoo", "registry", "plugins")
MAX_LINES = 400

# Rooms from the bottom up. An import into another room must go to a lower rank; within a room
# anything goes (the cycle test still applies). The `zoo` package itself is the public surface.
RANKS = {
    "registry": 0,
    "zoo.atomic": 1, "zoo.imaging": 1,
    "zoo.photo": 2, "zoo.sdk": 2,  # zoo.sdk: the plugin kit, above registry and zoo.imaging only
    "zoo.inference": 3, "zoo.runtimes": 3,  # zoo.runtimes: onnx/openvino backends, graph cache (under zoo.weights)
    "zoo.weights": 4,
    "zoo.training": 5, "zoo.bench": 5,
    "zoo.api": 6, "zoo.testing": 6, "zoo.distributed": 6,  # zoo.distributed: the Ray engine's driver and API
    "zoo": 7,  # the package: the public names, re-exported from registry and zoo.api
    "zoo.serve": 8,  # zoo serve's web app: drives zoo.api, zoo.inference and zoo.photo for the page
    "zoo.cli": 9, "zoo.__main__": 10,
}


def module_name(path: Path) -> str:
    parts = list(path.relative_to(ROOT).with_suffix("").parts)
    return ".".join(parts[:-1] if parts[-1] == "__init__" else parts)


def all_modules() -> dict[str, Path]:
    return {module_name(p): p for pkg in PACKAGES for p in sorted((ROOT / pkg).rglob("*.py"))}


def imports_of(name: str, path: Path, known: set[str]) -> set[str]:
    """Our modules that ``name`` imports anywhere in its body: ``from X import Y`` counts as X.Y
    where that is a module, else as X; relative imports are resolved against the package."""
    package = name if path.name == "__init__.py" else name.rpartition(".")[0]
    found = set()
    for node in ast.walk(ast.parse(path.read_text(), str(path))):
        if isinstance(node, ast.Import):
            found |= {alias.name for alias in node.names}
        elif isinstance(node, ast.ImportFrom):
            base = node.module or ""
            if node.level:
                anchor = package.split(".")[: len(package.split(".")) - node.level + 1]
                base = ".".join([*anchor, base] if base else anchor)
            for alias in node.names:
                found.add(f"{base}.{alias.name}" if f"{base}.{alias.name}" in known else base)
    return {m for m in found if m in known and m != name}


@pytest.fixture(scope="module")
def graph() -> dict[str, set[str]]:
    modules = all_modules()
    return {name: imports_of(name, path, set(modules)) for name, path in modules.items()}


def cycles(graph: dict[str, set[str]]) -> list[list[str]]:
    """Strongly connected components with more than one module (Tarjan)."""
    index, low, stack, on_stack, found = {}, {}, [], set(), []

    def visit(v: str) -> None:
        index[v] = low[v] = len(index)
        stack.append(v)
        on_stack.add(v)
        for w in sorted(graph[v]):
            if w not in index:
                visit(w)
                low[v] = min(low[v], low[w])
            elif w in on_stack:
                low[v] = min(low[v], index[w])
        if low[v] == index[v]:
            component = []
            while True:
                w = stack.pop()
                on_stack.discard(w)
                component.append(w)
                if w == v:
                    break
            if len(component) > 1:
                found.append(sorted(component))

    for v in sorted(graph):
        if v not in index:
            visit(v)
    return found


def room(module: str) -> str | None:
    """The longest RANKS key that is ``module`` or a package above it."""
    parts = module.split(".")
    for n in range(len(parts), 0, -1):
        if ".".join(parts[:n]) in RANKS:
            return ".".join(parts[:n])
    return None


def test_no_import_cycle(graph):
    assert cycles(graph) == [], "import cycles (each list imports itself round): see docs/ARCHITECTURE.md"


def test_the_cycle_finder_finds_a_cycle():
    assert cycles({"a": {"b"}, "b": {"c"}, "c": {"a"}, "d": {"a"}}) == [["a", "b", "c"]]


def test_imports_between_rooms_go_down(graph):
    upward = [f"{src} -> {dst}" for src, dsts in graph.items() if src.startswith("zoo")
              for dst in dsts if room(dst) is not None and room(src) != room(dst)
              and RANKS[room(dst)] >= RANKS[room(src)]]
    assert upward == [], "imports that go up or sideways between rooms (see RANKS and docs/ARCHITECTURE.md)"


def test_every_zoo_module_has_a_room(graph):
    assert [m for m in graph if m.startswith("zoo") and room(m) is None] == []


def test_registry_is_the_bottom(graph):
    above = [f"{src} -> {dst}" for src, dsts in graph.items() if src.startswith("registry")
             for dst in dsts if not dst.startswith("registry")]
    assert above == []


def test_the_application_never_imports_a_plugin(graph):
    """Plugins, built-in ones too, are found through entry points only."""
    assert [f"{s} -> {d}" for s, ds in graph.items() if not s.startswith("plugins")
            for d in ds if d.startswith("plugins")] == []


def test_no_module_over_the_size_limit():
    long = {name: n for name, path in all_modules().items() if (n := len(path.read_text().splitlines())) > MAX_LINES}
    assert long == {}, f"split these modules (over {MAX_LINES} lines)"
