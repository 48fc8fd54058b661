"""The architecture as checks over the source (a small AST walk, nothing is imported):

- dependencies point one way: api → patrol → geo, api → maps → geo; geo/ imports no database, web or map code;
- no module uses another module's private names (``from x import _helper`` or ``x._helper``): a helper that two
  modules need is public in the module where it belongs;
- no import cycles between modules, counting the imports inside functions too (only ``if TYPE_CHECKING:`` blocks
  are left out): a function-level import hides a cycle, it does not remove it;
- no module over 700 lines unless the first paragraph of its docstring says why ("Long because …"), and no function
  over 80 lines (outside the migrations).
"""

from __future__ import annotations

import ast
import functools
import re
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
PACKAGES = ("geo", "patrol", "api", "maps")
FORBIDDEN = {
    "geo": {"sqlalchemy", "geoalchemy2", "fastapi", "starlette", "folium", "branca", "pydantic", "pydantic_settings",
            "patrol", "api", "maps"},
    "maps": {"sqlalchemy", "geoalchemy2", "fastapi", "starlette", "patrol", "api"},
    "patrol": {"fastapi", "starlette", "folium", "api", "maps"},
}
MAX_MODULE_LINES = 700
MAX_FUNCTION_LINES = 80
LONG_BECAUSE = "long because"
#: Migrations are written once and never edited again: their length is not a design smell.
FUNCTION_LENGTH_EXEMPT = ("patrol/core/migrations/",)


def _imports(path: Path) -> set[str]:
    tree = ast.parse(path.read_text(encoding="utf-8"))
    names = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            names |= {a.name.split(".")[0] for a in node.names}
        elif isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
            names.add(node.module.split(".")[0])
    return names


@pytest.mark.parametrize("package", sorted(FORBIDDEN))
def test_package_imports_only_downwards(package):
    files = sorted((ROOT / package).rglob("*.py"))
    assert files
    bad = {str(f.relative_to(ROOT)): sorted(_imports(f) & FORBIDDEN[package]) for f in files}
    assert {f: names for f, names in bad.items() if names} == {}


# ----------------------------------------------------------------------------------------- the project's modules


@dataclass(frozen=True)
class Module:
    name: str  # dotted: "patrol.cases.service"; a package is its __init__: "patrol.cases"
    path: Path
    is_package: bool

    @property
    def rel(self) -> str:
        return self.path.relative_to(ROOT).as_posix()

    @functools.cached_property
    def tree(self) -> ast.Module:
        return ast.parse(self.path.read_text(encoding="utf-8"), filename=str(self.path))


@functools.cache
def _modules() -> dict[str, Module]:
    found = {}
    for package in PACKAGES:
        for path in sorted((ROOT / package).rglob("*.py")):
            parts = list(path.relative_to(ROOT).with_suffix("").parts)
            is_package = parts[-1] == "__init__"
            if is_package:
                parts = parts[:-1]
            found[".".join(parts)] = Module(".".join(parts), path, is_package)
    return found


def _is_private(name: str) -> bool:
    return name.startswith("_") and not (name.startswith("__") and name.endswith("__"))


def _known(dotted: str) -> str | None:
    """The longest prefix of ``dotted`` that is a module of the project (``None`` if it is outside)."""
    parts = dotted.split(".")
    for k in range(len(parts), 0, -1):
        if ".".join(parts[:k]) in _modules():
            return ".".join(parts[:k])
    return None


def _is_type_checking(test: ast.expr) -> bool:
    return (isinstance(test, ast.Name) and test.id == "TYPE_CHECKING") or (
        isinstance(test, ast.Attribute) and test.attr == "TYPE_CHECKING")


def _runtime_nodes(node: ast.AST, in_function: bool = False) -> Iterator[tuple[ast.AST, bool]]:
    """Every node below ``node`` that runs at some point (``if TYPE_CHECKING:`` bodies left out), with whether it
    sits inside a function."""
    for child in ast.iter_child_nodes(node):
        if isinstance(child, ast.If) and _is_type_checking(child.test):
            for other in child.orelse:
                yield other, in_function
                yield from _runtime_nodes(other, in_function)
            continue
        yield child, in_function
        yield from _runtime_nodes(child, in_function or isinstance(child, (ast.FunctionDef, ast.AsyncFunctionDef,
                                                                            ast.Lambda)))


@dataclass(frozen=True)
class Use:
    source: str  # module that imports
    target: str  # project module imported (or whose attribute is imported)
    name: str | None  # the attribute taken from ``target`` (None: the module itself)
    line: int
    in_function: bool

    def where(self, module: Module) -> str:
        return f"{module.rel}:{self.line}{' (in a function)' if self.in_function else ''}"


def _absolute(module: Module, node: ast.ImportFrom) -> str:
    if node.level == 0:
        return node.module or ""
    base = module.name.split(".")
    base = base if module.is_package else base[:-1]
    base = base[: len(base) - (node.level - 1)]
    return ".".join(base + ([node.module] if node.module else []))


def _import_uses(name: str, node: ast.Import, in_function: bool, aliases: dict[str, str]) -> list[Use]:
    found = []
    for alias in node.names:
        target = _known(alias.name)
        if target is None:
            continue
        found.append(Use(name, target, None, node.lineno, in_function))
        if alias.asname:
            aliases[alias.asname] = target
        else:  # ``import a.b.c`` binds ``a``
            top = alias.name.split(".")[0]
            if top in _modules():
                aliases[top] = top
    return found


def _import_from_uses(name: str, module, node: ast.ImportFrom, in_function: bool,
                      aliases: dict[str, str]) -> list[Use]:
    base = _absolute(module, node)
    if _known(base) != base:
        return []
    found = []
    for alias in node.names:
        sub = f"{base}.{alias.name}"
        if sub in _modules():
            found.append(Use(name, sub, None, node.lineno, in_function))
            aliases[alias.asname or alias.name] = sub
        else:
            found.append(Use(name, base, alias.name, node.lineno, in_function))
    return found


def _private_attribute_use(name: str, node: ast.Attribute, in_function: bool, aliases: dict[str, str]) -> Use | None:
    chain, value = [], node.value
    while isinstance(value, ast.Attribute):
        chain.append(value.attr)
        value = value.value
    if isinstance(value, ast.Name) and value.id in aliases:
        dotted = ".".join([aliases[value.id], *reversed(chain)])
        if dotted in _modules():
            return Use(name, dotted, node.attr, node.lineno, in_function)
    return None


@functools.cache
def _uses(name: str) -> tuple[Use, ...]:
    """What module ``name`` takes from the project's other modules: imports (``import a.b``, ``from a import b``)
    and attributes of imported modules (``b._helper``)."""
    module = _modules()[name]
    found: list[Use] = []
    aliases: dict[str, str] = {}  # local name bound to a project module → that module
    nodes = list(_runtime_nodes(module.tree))
    for node, in_function in nodes:
        if isinstance(node, ast.Import):
            found += _import_uses(name, node, in_function, aliases)
        elif isinstance(node, ast.ImportFrom):
            found += _import_from_uses(name, module, node, in_function, aliases)
    for node, in_function in nodes:
        if isinstance(node, ast.Attribute) and _is_private(node.attr):
            use = _private_attribute_use(name, node, in_function, aliases)
            if use is not None:
                found.append(use)
    return tuple(u for u in found if u.target != name)


def _same_package_private_module(use: Use) -> bool:
    """``geo/_checks.py`` is private to ``geo``: its own package (and below) may import it."""
    parts = use.target.split(".")
    private = [k for k, p in enumerate(parts) if _is_private(p)]
    if not private:
        return False
    owner = ".".join(parts[: private[0]])
    return use.source == owner or use.source.startswith(owner + ".")


# ------------------------------------------------------------------------------------------------- the new checks


def _some(lines: list[int], shown: int = 8) -> str:
    more = f" and {len(lines) - shown} more" if len(lines) > shown else ""
    return ", ".join(map(str, lines[:shown])) + more


def test_no_module_uses_another_modules_private_names():
    offences: dict[tuple[str, str], tuple[set[str], set[int]]] = {}  # (file, module used) → (names, lines)
    for name, module in _modules().items():
        for use in _uses(name):
            private_name = use.name is not None and _is_private(use.name)
            private_module = use.name is None and any(_is_private(p) for p in use.target.split("."))
            if private_name or (private_module and not _same_package_private_module(use)):
                names, lines = offences.setdefault((module.rel, use.target), (set(), set()))
                names.add(use.name or "(the private module itself)")
                lines.add(use.line)
    report = [f"{rel} uses {target}: {', '.join(sorted(names))}  [lines {_some(sorted(lines))}]"
              for (rel, target), (names, lines) in sorted(offences.items())]
    assert not report, (f"{len(report)} modules use another module's private names (make the helper public where it "
                        "belongs, or move it):\n  " + "\n  ".join(report))


def _import_graph() -> dict[str, dict[str, list[Use]]]:
    """module → imported module → the imports, leaving out a package's imports of its own submodules (re-exports:
    importing a submodule runs its package's __init__ first anyway, so that is no cycle)."""
    graph: dict[str, dict[str, list[Use]]] = {name: {} for name in _modules()}
    for name, module in _modules().items():
        for use in _uses(name):
            if module.is_package and use.target.startswith(name + "."):
                continue
            graph[name].setdefault(use.target, []).append(use)
    return graph


def _cycles(graph: dict[str, dict[str, list[Use]]]) -> list[list[str]]:
    """The strongly connected components of more than one module (Tarjan, iterative), each sorted."""
    index: dict[str, int] = {}
    low: dict[str, int] = {}
    stack: list[str] = []
    on_stack: set[str] = set()
    found: list[list[str]] = []
    for root in sorted(graph):
        if root in index:
            continue
        work = [(root, iter(sorted(graph[root])))]
        index[root] = low[root] = len(index)
        stack.append(root)
        on_stack.add(root)
        while work:
            node, children = work[-1]
            child = next(children, None)
            if child is not None:
                if child not in index:
                    index[child] = low[child] = len(index)
                    stack.append(child)
                    on_stack.add(child)
                    work.append((child, iter(sorted(graph[child]))))
                elif child in on_stack:
                    low[node] = min(low[node], index[child])
                continue
            work.pop()
            if work:
                low[work[-1][0]] = min(low[work[-1][0]], low[node])
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
    return sorted(found)


def test_the_walk_sees_function_level_imports_but_not_type_checking_ones():
    tree = ast.parse("import a\nif TYPE_CHECKING:\n    import b\nelse:\n    import c\ndef f():\n    import d\n")
    seen = {(n.names[0].name, inside) for n, inside in _runtime_nodes(tree) if isinstance(n, ast.Import)}
    assert seen == {("a", False), ("c", False), ("d", True)}


def test_the_cycle_finder_finds_cycles_and_only_cycles():
    use = Use("x", "y", None, 1, False)
    graph = {"a": {"b": [use]}, "b": {"c": [use]}, "c": {"a": [use], "d": [use]}, "d": {}, "e": {"d": [use]}}
    assert _cycles(graph) == [["a", "b", "c"]]
    assert _cycles({"a": {"b": [use]}, "b": {}}) == []


def test_no_import_cycles():
    graph = _import_graph()
    report = []
    for component in _cycles(graph):
        members = set(component)
        report.append(f"cycle of {len(component)} modules: {', '.join(component)}")
        for source in component:
            for target, uses in sorted(graph[source].items()):
                if target in members:
                    places = ", ".join(dict.fromkeys(u.where(_modules()[source]) for u in uses))
                    report.append(f"    {source} -> {target}  [{places}]")
    assert not report, ("import cycles (function-level imports included; move code so that dependencies point one "
                        "way):\n  " + "\n  ".join(report))


def _functions(tree: ast.AST, prefix: str = "") -> Iterator[tuple[str, ast.AST]]:
    for node in ast.iter_child_nodes(tree):
        if isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef)):
            yield f"{prefix}{node.name}", node
            yield from _functions(node, f"{prefix}{node.name}.")
        elif isinstance(node, ast.ClassDef):
            yield from _functions(node, f"{prefix}{node.name}.")
        else:
            yield from _functions(node, prefix)


def _length(node: ast.AST) -> int:
    first = min([node.lineno, *(d.lineno for d in getattr(node, "decorator_list", []))])
    return node.end_lineno - first + 1


def test_the_size_checks_measure_what_they_say():
    source = "class A:\n    @staticmethod\n    def f():\n        def g():\n            pass\n        return 1\n"
    tree = ast.parse(source)
    assert [(name, _length(node)) for name, node in _functions(tree)] == [("A.f", 5), ("A.f.g", 2)]  # decorators count


def test_modules_and_functions_are_of_a_readable_size():
    offences = []
    for module in _modules().values():
        lines = len(module.path.read_text(encoding="utf-8").splitlines())
        docstring = ast.get_docstring(module.tree) or ""
        first_paragraph = " ".join(docstring.split("\n\n")[0].split()).lower()
        if lines > MAX_MODULE_LINES and not re.search(LONG_BECAUSE + r"\W+\w+", first_paragraph):
            offences.append(f"{module.rel}: {lines} lines (over {MAX_MODULE_LINES}, and the first paragraph of its "
                            "docstring does not say 'Long because …')")
        if module.rel.startswith(FUNCTION_LENGTH_EXEMPT):
            continue
        for name, node in _functions(module.tree):
            if _length(node) > MAX_FUNCTION_LINES:
                offences.append(f"{module.rel}:{node.lineno}: {name} is {_length(node)} lines "
                                f"(over {MAX_FUNCTION_LINES})")
    assert not offences, "too long to read in one go:\n  " + "\n  ".join(offences)
