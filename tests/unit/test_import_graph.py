"""The layering, checked on the import graph (static, from the source files):

- no import cycle in the collection's Python, nor in the lab;
- module_utils imports no module, filter or doc fragment (modules and filters sit on top of it);
- the collection never imports the lab;
- in the lab, core imports neither services nor scenarios, and a service never imports a scenario.

Imports under ``if TYPE_CHECKING:`` are not imports at run time and are left out; imports inside
functions count (a cycle through a lazy import is still a cycle in the design).
"""

from __future__ import annotations

import ast
from collections.abc import Iterable
from pathlib import Path

COLLECTION_ROOT = Path(__file__).resolve().parents[2]
PLUGINS = "ansible_collections.atlas.hardening.plugins"


def module_name(path: Path, root: Path, prefix: str) -> str:
    parts = list(path.relative_to(root).with_suffix("").parts)
    if parts[-1] == "__init__":
        parts = parts[:-1]
    return ".".join([prefix, *parts]) if prefix else ".".join(parts)


def _is_type_checking(node: ast.If) -> bool:
    test = node.test
    return (isinstance(test, ast.Name) and test.id == "TYPE_CHECKING") or (
        isinstance(test, ast.Attribute) and test.attr == "TYPE_CHECKING")


def imports_of(source: str, module: str, is_package: bool, known: frozenset[str] = frozenset()) -> set[str]:
    """The modules ``module`` imports (absolute names; relative imports resolved).

    ``from package import name`` imports the submodule ``package.name`` when that is one of the
    ``known`` modules, else ``package`` itself.
    """
    found: set[str] = set()

    def visit(node: ast.AST) -> None:
        if isinstance(node, ast.If) and _is_type_checking(node):
            for child in node.orelse:
                visit(child)
            return
        if isinstance(node, ast.Import):
            found.update(alias.name for alias in node.names)
        elif isinstance(node, ast.ImportFrom):
            if node.level:
                base = module.split(".") if is_package else module.split(".")[:-1]
                base = base[: len(base) - (node.level - 1)] if node.level > 1 else base
                target = ".".join(base + ([node.module] if node.module else []))
            else:
                target = node.module or ""
            for alias in node.names:
                found.add(f"{target}.{alias.name}" if f"{target}.{alias.name}" in known else target)
        for child in ast.iter_child_nodes(node):
            visit(child)

    visit(ast.parse(source))
    return found


def build_graph(files: Iterable[tuple[Path, Path, str]]) -> dict[str, set[str]]:
    """{module: modules it imports, restricted to the modules of ``files``}."""
    sources = {}
    for path, root, prefix in files:
        sources[module_name(path, root, prefix)] = (path.read_text(encoding="utf-8"), path.name == "__init__.py")
    known = frozenset(sources)
    graph = {}
    for module, (source, is_package) in sources.items():
        graph[module] = {name for name in imports_of(source, module, is_package, known)
                         if name in sources and name != module}
    return graph


def cycles(graph: dict[str, set[str]]) -> list[list[str]]:
    """Strongly connected components with more than one module (Tarjan)."""
    index: dict[str, int] = {}
    low: dict[str, int] = {}
    stack: list[str] = []
    on_stack: set[str] = set()
    found: list[list[str]] = []

    def connect(node: str) -> None:
        index[node] = low[node] = len(index)
        stack.append(node)
        on_stack.add(node)
        for target in sorted(graph.get(node, ())):
            if target not in index:
                connect(target)
                low[node] = min(low[node], low[target])
            elif target in on_stack:
                low[node] = min(low[node], index[target])
        if low[node] == index[node]:
            component = []
            while True:
                member = stack.pop()
                on_stack.discard(member)
                component.append(member)
                if member == node:
                    break
            if len(component) > 1:
                found.append(sorted(component))

    for node in sorted(graph):
        if node not in index:
            connect(node)
    return found


def forbidden(graph: dict[str, set[str]], source_prefix: str, target_prefixes: tuple[str, ...]) -> list[str]:
    return sorted(f"{module} imports {target}" for module, targets in graph.items()
                  if module.startswith(source_prefix) for target in targets if target.startswith(target_prefixes))


def collection_files() -> list[tuple[Path, Path, str]]:
    root = COLLECTION_ROOT / "plugins"
    return [(path, root, PLUGINS) for path in sorted(root.rglob("*.py"))]


def lab_files() -> list[tuple[Path, Path, str]]:
    root = COLLECTION_ROOT / "tests" / "lab"
    return [(path, root, "") for path in sorted((root / "atlas_lab").rglob("*.py"))]


def all_imports(files: Iterable[tuple[Path, Path, str]]) -> dict[str, set[str]]:
    """Like build_graph, but keeping imports of modules outside ``files`` (to catch the lab)."""
    result = {}
    for path, root, prefix in files:
        module = module_name(path, root, prefix)
        result[module] = imports_of(path.read_text(encoding="utf-8"), module, path.name == "__init__.py")
    return result


# ---------------------------------------------------------------------------------------------
def test_the_checks_see_what_they_must_refuse() -> None:
    """The checker itself: a cycle and a forbidden import in a made-up graph are found."""
    graph = {"a.x": {"a.y"}, "a.y": {"a.z"}, "a.z": {"a.x"}, "a.w": {"a.x"}}
    assert cycles(graph) == [["a.x", "a.y", "a.z"]]
    assert forbidden({"p.module_utils.m": {"p.modules.k"}}, "p.module_utils", ("p.modules",)) == [
        "p.module_utils.m imports p.modules.k"]
    assert imports_of("from . import b\nfrom ..c import d\nif TYPE_CHECKING:\n    import e\n", "p.q.r", False,
                      frozenset({"p.q.b"})) == {"p.q.b", "p.c"}


def test_the_collection_has_no_import_cycle() -> None:
    assert cycles(build_graph(collection_files())) == []


def test_module_utils_import_no_module_filter_or_doc_fragment() -> None:
    graph = build_graph(collection_files())
    assert forbidden(graph, f"{PLUGINS}.module_utils", (f"{PLUGINS}.modules", f"{PLUGINS}.filter",
                                                        f"{PLUGINS}.doc_fragments")) == []


def test_the_collection_never_imports_the_lab() -> None:
    imports = all_imports(collection_files())
    assert sorted(f"{module} imports {target}" for module, targets in imports.items()
                  for target in targets if target == "atlas_lab" or target.startswith("atlas_lab.")) == []


def test_the_lab_has_no_cycle_and_services_never_import_scenarios() -> None:
    graph = build_graph(lab_files())
    assert cycles(graph) == []
    assert forbidden(graph, "atlas_lab.services", ("atlas_lab.scenarios",)) == []
    assert forbidden(graph, "atlas_lab.core", ("atlas_lab.scenarios", "atlas_lab.services")) == []
