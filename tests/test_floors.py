"""The house's floors: a floor imports only the floors below it, and no modules import in a cycle.

Every module under ``src/chainrule`` is parsed with ``ast`` (nothing is imported). Every import
counts, wherever it is written: at the top, inside a function, under ``if TYPE_CHECKING:``. An
import moved into a function still makes its module depend on the other one; it only hides a
cycle from Python, not from a reader. ``chainrule/X/...`` is on floor ``X``;
``chainrule/__init__.py`` is the package face, which gathers names from every floor, so only
the CLI (and the face itself) may import it.

``from chainrule.nn import model`` imports the module ``chainrule.nn.model``; ``from
chainrule.nn import Dense`` imports the package ``chainrule.nn`` (its ``__init__.py``).
Importing ``a.b.c`` also runs ``a/__init__`` and ``a/b/__init__``; those implicit imports are
not counted, or the face, which imports every floor, would put every module in one cycle.
"""

from __future__ import annotations

import ast
from collections.abc import Iterable
from dataclasses import dataclass
from pathlib import Path

import pytest

SOURCE_ROOT = Path(__file__).resolve().parents[1] / "src"
PACKAGE = "chainrule"
FACE = "the package face"  # chainrule/__init__.py

# A floor may import itself and the floors listed for it, nothing else.
LIBRARY_FLOORS = (
    "utils", "nn", "data", "training", "reporting", "explain", "classroom", "app", "sweep"
)  # fmt: skip
ALLOWED: dict[str, frozenset[str]] = {
    "utils": frozenset(),
    "nn": frozenset({"utils"}),
    "data": frozenset({"utils", "nn"}),
    "training": frozenset({"utils", "nn", "data"}),
    "reporting": frozenset({"utils", "nn", "data", "training"}),
    "explain": frozenset({"utils", "nn", "data", "reporting"}),  # not app: siblings
    "classroom": frozenset({"utils", "nn", "data", "reporting", "explain"}),  # exercises, check
    "app": frozenset({"utils", "nn", "data", "training", "reporting"}),  # not explain
    "sweep": frozenset({"utils", "nn", "data", "training", "reporting", "app"}),
    "serve": frozenset(LIBRARY_FLOORS),
    "cli": frozenset({*LIBRARY_FLOORS, "serve", FACE}),
    FACE: frozenset({*LIBRARY_FLOORS, "serve", "cli"}),
}
FLOORS = tuple(floor for floor in ALLOWED if floor != FACE)


@dataclass(frozen=True)
class Import:
    """One imported chainrule module and where it is imported."""

    importer: str  # dotted module name, e.g. "chainrule.nn.model"
    imported: str
    path: str  # relative to src/, for messages
    line: int


def module_name(path: Path, root: Path = SOURCE_ROOT) -> str:
    parts = list(path.relative_to(root).with_suffix("").parts)
    if parts[-1] == "__init__":
        parts.pop()
    return ".".join(parts)


def floor_of(module: str) -> str:
    parts = module.split(".")
    return FACE if len(parts) == 1 else parts[1]


def source_files(root: Path = SOURCE_ROOT) -> list[Path]:
    return sorted((root / PACKAGE).rglob("*.py"))


def all_modules(root: Path = SOURCE_ROOT) -> set[str]:
    return {module_name(path, root) for path in source_files(root)}


class _ImportFinder(ast.NodeVisitor):
    """Collects the chainrule imports of one module, at any depth."""

    def __init__(self, module: str, is_package: bool, known: set[str], path: str) -> None:
        self.module, self.known, self.path = module, known, path
        self.package = module if is_package else module.rpartition(".")[0]
        self.found: list[Import] = []

    def _add(self, imported: str, node: ast.stmt) -> None:
        if imported == PACKAGE or imported.startswith(PACKAGE + "."):
            self.found.append(Import(self.module, imported, self.path, node.lineno))

    def visit_Import(self, node: ast.Import) -> None:
        for alias in node.names:
            self._add(alias.name, node)

    def visit_ImportFrom(self, node: ast.ImportFrom) -> None:
        if node.level:  # relative: from . import x, from ..nn import y
            base = self.package.split(".")
            base = base[: len(base) - (node.level - 1)]
            source = ".".join(base + ([node.module] if node.module else []))
        else:
            source = node.module or ""
        for alias in node.names:
            submodule = f"{source}.{alias.name}"
            # `from chainrule.nn import model` imports the module chainrule.nn.model;
            # `from chainrule.nn import Dense` imports the package chainrule.nn.
            self._add(submodule if submodule in self.known else source, node)


def imports_in(
    source: str, module: str, is_package: bool, known: set[str], path: str = "?"
) -> list[Import]:
    """Every chainrule import in ``source``, the text of ``module``."""
    finder = _ImportFinder(module, is_package, known, path)
    finder.visit(ast.parse(source, filename=path))
    return finder.found


def all_imports(root: Path = SOURCE_ROOT) -> list[Import]:
    known = all_modules(root)
    found: list[Import] = []
    for path in source_files(root):
        found += imports_in(
            path.read_text(encoding="utf-8"),
            module_name(path, root),
            path.name == "__init__.py",
            known,
            str(path.relative_to(root)),
        )
    return found


def rule(floor: str) -> str:
    if floor == FACE:
        return f"{FACE} may import anything"
    allowed = [name for name in ALLOWED if name in ALLOWED[floor]]
    return f"{floor} may import only {', '.join(allowed) if allowed else 'nothing of chainrule'}"


def floor_violations(imports: Iterable[Import]) -> list[str]:
    """One line per import of a floor its importer may not use."""
    lines = []
    for record in imports:
        own, theirs = floor_of(record.importer), floor_of(record.imported)
        if theirs != own and theirs not in ALLOWED[own]:
            lines.append(
                f"{record.path}:{record.line}: {record.importer} imports {record.imported}"
                f" ({theirs}): {rule(own)}"
            )
    return lines


def import_cycles(imports: Iterable[Import]) -> list[list[Import]]:
    """One cycle (a list of imports, each importing the next's importer) per tangle of modules.

    The tangles are the strongly connected components of the import graph (Tarjan); a
    shortest cycle through each is reported so that the message shows what to untangle.
    """
    edges: dict[str, dict[str, Import]] = {}
    for record in imports:
        if record.importer != record.imported:
            edges.setdefault(record.importer, {}).setdefault(record.imported, record)
    index: dict[str, int] = {}
    low: dict[str, int] = {}
    stack: list[str] = []
    on_stack: set[str] = set()
    components: list[set[str]] = []

    def connect(node: str) -> None:
        index[node] = low[node] = len(index)
        stack.append(node)
        on_stack.add(node)
        for target in edges.get(node, {}):
            if target not in index:
                connect(target)
                low[node] = min(low[node], low[target])
            elif target in on_stack:
                low[node] = min(low[node], index[target])
        if low[node] == index[node]:
            component = set()
            while True:
                member = stack.pop()
                on_stack.discard(member)
                component.add(member)
                if member == node:
                    break
            if len(component) > 1:
                components.append(component)

    for node in sorted(edges):
        if node not in index:
            connect(node)
    return [_shortest_cycle(min(c), c, edges) for c in sorted(components, key=min)]


def _shortest_cycle(start: str, members: set[str], edges: dict[str, dict[str, Import]]):
    paths: dict[str, list[Import]] = {start: []}
    frontier = [start]
    while frontier:
        following = []
        for node in frontier:
            for target, record in sorted(edges.get(node, {}).items()):
                if target == start:
                    return [*paths[node], record]
                if target in members and target not in paths:
                    paths[target] = [*paths[node], record]
                    following.append(target)
        frontier = following
    raise AssertionError(f"no cycle through {start}")  # a component always has one


def describe_cycle(cycle: list[Import]) -> str:
    steps = " -> ".join(f"{r.importer} ({r.path}:{r.line})" for r in cycle)
    return (
        f"import cycle: {steps} -> {cycle[0].importer}; move what they share into a module "
        "both can import (an import inside a function still counts)"
    )


# --- the checks on chainrule itself ------------------------------------------------------------


@pytest.fixture(scope="module")
def imports() -> list[Import]:
    return all_imports()


def test_every_package_under_chainrule_is_a_floor():
    entries = {
        path.stem if path.suffix == ".py" else path.name
        for path in (SOURCE_ROOT / PACKAGE).iterdir()
        if (path.is_dir() and (path / "__init__.py").is_file()) or path.suffix == ".py"
    }
    assert entries - {"__init__"} == set(FLOORS), "add a new floor to ALLOWED in this test"


@pytest.mark.parametrize("floor", [*FLOORS, FACE])
def test_a_floor_imports_only_the_floors_below_it(imports, floor):
    own = [record for record in imports if floor_of(record.importer) == floor]
    violations = floor_violations(own)
    if violations:
        pytest.fail("\n".join(violations), pytrace=False)


def test_no_module_imports_itself_through_others(imports):
    cycles = import_cycles(imports)
    if cycles:
        pytest.fail("\n".join(describe_cycle(cycle) for cycle in cycles), pytrace=False)


@pytest.mark.parametrize("floor", FLOORS)
def test_each_floor_says_what_it_is_for(floor):
    init = SOURCE_ROOT / PACKAGE / floor / "__init__.py"
    docstring = ast.get_docstring(ast.parse(init.read_text(encoding="utf-8"))) or ""
    first_line = docstring.strip().split("\n", 1)[0]
    assert len(first_line.split()) >= 4, (
        f"{init.relative_to(SOURCE_ROOT)}: the docstring's first line should say what the "
        f"{floor} floor is for, found {first_line!r}"
    )


# --- the checker itself, on made-up modules ----------------------------------------------------


def _fake(modules: dict[str, str]) -> list[Import]:
    """Imports of made-up modules {dotted name: source}; names ending in '.__init__' are packages."""
    names = {name.removesuffix(".__init__") for name in modules}
    found: list[Import] = []
    for name, source in modules.items():
        module, path = name.removesuffix(".__init__"), name.replace(".", "/") + ".py"
        found += imports_in(source, module, name.endswith(".__init__"), names, path)
    return found


def test_imports_inside_functions_and_from_the_face_break_the_rule():
    found = _fake(
        {
            "chainrule.__init__": "",
            "chainrule.training.__init__": "",
            "chainrule.training.trainer": "",
            "chainrule.nn.model": (
                "import numpy\n"
                "from chainrule import __version__\n"
                "def fit():\n"
                "    from chainrule.training import trainer\n"
                "    import chainrule.training\n"
            ),
        }
    )
    assert floor_violations(found) == [
        "chainrule/nn/model.py:2: chainrule.nn.model imports chainrule (the package face): "
        "nn may import only utils",
        "chainrule/nn/model.py:4: chainrule.nn.model imports chainrule.training.trainer "
        "(training): nn may import only utils",
        "chainrule/nn/model.py:5: chainrule.nn.model imports chainrule.training (training): "
        "nn may import only utils",
    ]


def test_relative_imports_resolve_and_the_sibling_floors_may_not_meet():
    found = _fake(
        {
            "chainrule.explain.__init__": "from . import worked\n",
            "chainrule.explain.worked": "from ..app.recipes import load_recipe\n",
            "chainrule.app.recipes": "",
        }
    )
    assert [record.imported for record in found] == [
        "chainrule.explain.worked",
        "chainrule.app.recipes",
    ]
    assert floor_violations(found) == [
        "chainrule/explain/worked.py:1: chainrule.explain.worked imports chainrule.app.recipes "
        "(app): explain may import only utils, nn, data, reporting"
    ]


def test_a_cycle_hidden_in_a_function_or_a_type_check_is_still_a_cycle():
    found = _fake(
        {
            "chainrule.nn.model": "from chainrule.nn.model_file import save\n",
            "chainrule.nn.model_file": "def load():\n    from chainrule.nn.model import Model\n",
            "chainrule.nn.layers.__init__": "from chainrule.nn.layers.dense import Dense\n",
            "chainrule.nn.layers.dense": (
                "from typing import TYPE_CHECKING\n"
                "if TYPE_CHECKING:\n"
                "    from chainrule.nn.layers import Activation\n"
            ),
            "chainrule.nn.losses": "from chainrule.nn.labels import names\n",
            "chainrule.nn.labels": "from chainrule.utils.registry import Registry\n",
        }
    )
    assert [describe_cycle(cycle) for cycle in import_cycles(found)] == [
        "import cycle: chainrule.nn.layers (chainrule/nn/layers/__init__.py:1) -> "
        "chainrule.nn.layers.dense (chainrule/nn/layers/dense.py:3) -> chainrule.nn.layers; "
        "move what they share into a module both can import (an import inside a function "
        "still counts)",
        "import cycle: chainrule.nn.model (chainrule/nn/model.py:1) -> chainrule.nn.model_file "
        "(chainrule/nn/model_file.py:2) -> chainrule.nn.model; move what they share into a "
        "module both can import (an import inside a function still counts)",
    ]
