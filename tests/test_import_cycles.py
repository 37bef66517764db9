"""No import cycle among the repository's own modules: user_messages, example_project and tests.

A cycle works until someone moves an import to the top of a file or imports the other module
first; then it fails with a half-initialised module. Every import statement counts, also the ones
inside functions and under ``if TYPE_CHECKING:``, since a lazy import is how a cycle hides.
Importing ``a.b.c`` runs ``a`` and ``a.b`` first, so a module also depends on its packages.
"""

from __future__ import annotations

import ast
from pathlib import Path

from tests.repository import REPOSITORY, own_files

OWN_PACKAGES = ("user_messages", "example_project", "tests")


def own_modules(root: Path, packages: tuple[str, ...]) -> dict[str, Path]:
    """Every module under ``packages`` by dotted name (a package by its ``__init__.py``)."""
    modules = {}
    for package in packages:
        for path in own_files(root / package):
            if path.suffix != ".py":
                continue
            parts = path.relative_to(root).with_suffix("").parts
            if parts[-1] == "__init__":
                parts = parts[:-1]
            modules[".".join(parts)] = path
    return modules


def imported_by(name: str, path: Path, modules: dict[str, Path]) -> set[str]:
    """The own modules that importing ``name`` may import, wherever the import statement is."""
    package = name if path.name == "__init__.py" else name.rpartition(".")[0]
    named = set()
    for node in ast.walk(ast.parse(path.read_text(), str(path))):
        if isinstance(node, ast.Import):
            named.update(alias.name for alias in node.names)
        elif isinstance(node, ast.ImportFrom):
            source = node.module or ""
            if node.level:
                base = package.split(".")[: len(package.split(".")) - node.level + 1]
                source = ".".join([*base, node.module] if node.module else base)
            for alias in node.names:
                # `from package import module` needs the module; `from module import name`,
                # the module.
                submodule = f"{source}.{alias.name}"
                named.add(submodule if submodule in modules else source)
    # Importing a.b.c runs a and a.b first, except those already running: the importer's own.
    own_packages = {name.rsplit(".", depth)[0] for depth in range(name.count(".") + 1)}
    packages = set()
    for module in named:
        parts = module.split(".")
        packages.update(".".join(parts[:end]) for end in range(1, len(parts)))
    return ((named | (packages - own_packages)) & modules.keys()) - {name}


def import_cycles(modules: dict[str, Path]) -> list[list[str]]:
    """One cycle per group of modules that import each other, as a path back to its start."""
    graph = {name: sorted(imported_by(name, path, modules)) for name, path in modules.items()}
    # Tarjan's strongly connected components, iteratively: each component of more than one
    # module holds a cycle.
    index: dict[str, int] = {}
    lowlink: dict[str, int] = {}
    stack: list[str] = []
    on_stack: set[str] = set()
    components = []
    for start in sorted(graph):
        if start in index:
            continue
        work = [(start, iter(graph[start]))]
        index[start] = lowlink[start] = len(index)
        stack.append(start)
        on_stack.add(start)
        while work:
            node, successors = work[-1]
            successor = next(successors, None)
            if successor is None:
                work.pop()
                if work:
                    parent = work[-1][0]
                    lowlink[parent] = min(lowlink[parent], lowlink[node])
                if lowlink[node] == index[node]:
                    component = set()
                    while True:
                        member = stack.pop()
                        on_stack.discard(member)
                        component.add(member)
                        if member == node:
                            break
                    if len(component) > 1:
                        components.append(component)
            elif successor not in index:
                index[successor] = lowlink[successor] = len(index)
                stack.append(successor)
                on_stack.add(successor)
                work.append((successor, iter(graph[successor])))
            elif successor in on_stack:
                lowlink[node] = min(lowlink[node], index[successor])
    return [cycle_within(component, graph) for component in components]


def cycle_within(component: set[str], graph: dict[str, list[str]]) -> list[str]:
    """A shortest path from the component's first module back to itself, inside the component."""
    first = min(component)
    paths = {first: [first]}
    frontier = [first]
    while frontier:
        following = []
        for node in frontier:
            for successor in graph[node]:
                if successor == first:
                    return [*paths[node], first]
                if successor in component and successor not in paths:
                    paths[successor] = [*paths[node], successor]
                    following.append(successor)
        frontier = following
    raise AssertionError(f"{sorted(component)} holds no cycle")  # a component always does


def test_the_repository_has_no_import_cycle():
    modules = own_modules(REPOSITORY, OWN_PACKAGES)
    # The walk found the code (a wrong root would find nothing, and so no cycle).
    assert {"user_messages.api", "example_project.settings", "tests.conftest"} <= modules.keys()

    cycles = [" -> ".join(cycle) for cycle in import_cycles(modules)]

    assert cycles == []


def write(root: Path, files: dict[str, str]) -> None:
    for name, text in files.items():
        (root / name).parent.mkdir(parents=True, exist_ok=True)
        (root / name).write_text(text)


def test_a_cycle_through_a_lazy_import_is_found_and_named(tmp_path):
    # The shape of the cycle this test was written for: a command imports a helper inside a
    # function, and the helper imports the command back (relatively here, for the resolution).
    write(
        tmp_path,
        {
            "app/__init__.py": "",
            "app/commands/__init__.py": "",
            "app/commands/loadtest.py": (
                "def handle():\n    from app.commands._realtime import RealtimeBench\n"
            ),
            "app/commands/_realtime.py": (
                "class RealtimeBench:\n    def run(self):\n        from .loadtest import handle\n"
            ),
            "app/commands/_other.py": "from app.commands import loadtest\n",
        },
    )

    cycles = import_cycles(own_modules(tmp_path, ("app",)))

    assert cycles == [["app.commands._realtime", "app.commands.loadtest", "app.commands._realtime"]]


def test_a_module_depends_on_the_packages_it_imports_from_but_not_on_its_own(tmp_path):
    # pkg imports pkg.sub.thing, which imports a sibling: no cycle, pkg is already running.
    # other.leaf imports pkg (if only to type-check), which reaches other.leaf again: a cycle.
    write(
        tmp_path,
        {
            "pkg/__init__.py": "from pkg.sub import thing\n",
            "pkg/sub/__init__.py": "",
            "pkg/sub/helper.py": "",
            "pkg/sub/thing.py": "from pkg.sub import helper\nimport other.leaf\n",
            "other/__init__.py": "",
            "other/leaf.py": (
                "from typing import TYPE_CHECKING\n\nif TYPE_CHECKING:\n    import pkg\n"
            ),
        },
    )

    cycles = import_cycles(own_modules(tmp_path, ("pkg", "other")))

    assert cycles == [["other.leaf", "pkg", "pkg.sub.thing", "other.leaf"]]
