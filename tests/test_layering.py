"""The package's import graph: no cycles, no function-level imports of predesolv modules,
lower layers never import higher ones, Dask in one module.

The graph is built from the source (``ast``), independently of Python's import machinery:
every ``import``/``from ... import`` of a predesolv module anywhere in a file (top level,
inside functions, under ``if TYPE_CHECKING:``) is an edge to the most specific module it
names (``from predesolv.rundir import RunDir`` -> ``predesolv.rundir``; ``from predesolv.x
import y`` -> ``predesolv.x.y`` when ``y`` is a module). A package's ``__init__`` counts as
the package's own module; importing ``predesolv.a.b`` is not counted as importing
``predesolv.a`` (as pydeps and import-linter count it).
"""

from __future__ import annotations

import ast
import subprocess
import sys
from collections import defaultdict
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
#: Import package -> folder (pyproject's [tool.setuptools.package-dir]).
FOLDERS = {"predesolv": "predesolv", "predesolv.systems": "systems",
           "predesolv.analysis": "analysis", "predesolv.forcefields": "forcefields"}


def _modules() -> dict[str, Path]:
    mods: dict[str, Path] = {}
    for pkg, folder in FOLDERS.items():
        for path in sorted((ROOT / folder).rglob("*.py")):
            parts = list(path.relative_to(ROOT / folder).with_suffix("").parts)
            if pkg == "predesolv" and parts[0] in ("systems", "analysis", "forcefields"):
                continue
            name = ".".join([pkg, *parts])
            mods[name.removesuffix(".__init__")] = path
    return mods


MODULES = _modules()


def _resolve(name: str) -> str:
    while name and name not in MODULES:
        name = name.rpartition(".")[0]
    return name


def _targets(node: ast.AST, module: str, is_package: bool) -> list[str]:
    if isinstance(node, ast.Import):
        return [_resolve(a.name) for a in node.names if a.name.startswith("predesolv")]
    if not isinstance(node, ast.ImportFrom):
        return []
    if node.level:
        base = module.split(".") if is_package else module.split(".")[:-1]
        base = base[:len(base) - (node.level - 1)]
        mod = ".".join(base + ([node.module] if node.module else []))
    else:
        mod = node.module or ""
    if not mod.startswith("predesolv"):
        return []
    return [f"{mod}.{a.name}" if f"{mod}.{a.name}" in MODULES else _resolve(mod)
            for a in node.names]


def _graph() -> tuple[dict[str, set[str]], list[str]]:
    """Edges module -> modules, and the function-level imports as "file:line module"."""
    edges: dict[str, set[str]] = defaultdict(set)
    nested: list[str] = []
    for module, path in MODULES.items():
        tree = ast.parse(path.read_text())
        functions = [n for n in ast.walk(tree)
                     if isinstance(n, (ast.FunctionDef, ast.AsyncFunctionDef))]
        in_function = {id(n) for f in functions for n in ast.walk(f)}
        for node in ast.walk(tree):
            targets = [t for t in _targets(node, module, path.name == "__init__.py")
                       if t and t != module]
            edges[module].update(targets)
            if targets and id(node) in in_function:
                nested.append(f"{path.relative_to(ROOT)}:{node.lineno} {targets}")
    return edges, nested


def _cycles(edges: dict[str, set[str]]) -> list[list[str]]:
    """Strongly connected components with more than one module (Tarjan, iterative)."""
    index: dict[str, int] = {}
    low: dict[str, int] = {}
    stack: list[str] = []
    on_stack: set[str] = set()
    found: list[list[str]] = []
    for root in sorted(MODULES):
        if root in index:
            continue
        work = [(root, iter(sorted(edges.get(root, ()))))]
        index[root] = low[root] = len(index)
        stack.append(root)
        on_stack.add(root)
        while work:
            v, children = work[-1]
            w = next(children, None)
            if w is not None:
                if w not in index:
                    index[w] = low[w] = len(index)
                    stack.append(w)
                    on_stack.add(w)
                    work.append((w, iter(sorted(edges.get(w, ())))))
                elif w in on_stack:
                    low[v] = min(low[v], index[w])
                continue
            work.pop()
            if work:
                low[work[-1][0]] = min(low[work[-1][0]], low[v])
            if low[v] == index[v]:
                comp = []
                while True:
                    w = stack.pop()
                    on_stack.discard(w)
                    comp.append(w)
                    if w == v:
                        break
                if len(comp) > 1:
                    found.append(sorted(comp))
    return found


def test_the_cycle_finder_finds_a_planted_cycle():
    """The checker itself: a three-module ring and a self-contained chain."""
    ring = {"a": {"b"}, "b": {"c"}, "c": {"a"}, "d": {"a"}}
    saved = dict(MODULES)
    try:
        MODULES.clear()
        MODULES.update({m: Path(m) for m in "abcd"})
        assert _cycles(ring) == [["a", "b", "c"]]
        assert _cycles({"a": {"b"}, "b": {"c"}}) == []
    finally:
        MODULES.clear()
        MODULES.update(saved)


def test_the_graph_sees_the_mapped_folders():
    """systems/, analysis/ and forcefields/ are part of the graph (not just predesolv/)."""
    edges, _ = _graph()
    assert "predesolv.systems.cell" in MODULES and "predesolv.analysis.pipeline" in MODULES
    assert "predesolv.builder" in edges and "predesolv.systems.cell" in edges["predesolv.builder"]


def test_no_import_cycle_among_package_modules():
    edges, _ = _graph()
    assert _cycles(edges) == []


def test_no_function_level_imports_of_package_modules():
    """Imports of predesolv modules sit at module top level (function-level imports are for
    optional third-party dependencies only), so the graph above is the whole truth."""
    _, nested = _graph()
    assert nested == []


#: Layer -> the package modules (prefixes) it must never import.
FORBIDDEN = {
    # the engine: builds, runs and records MD; knows no free-energy code (biases reach it
    # as System transforms, predesolv.transforms) and no analysis or workflow
    ("predesolv.runner", "predesolv.builder", "predesolv.rundir", "predesolv.stage_io",
     "predesolv.simulation", "predesolv.transforms", "predesolv.built",
     "predesolv.system_files", "predesolv.reporters", "predesolv.provenance"):
        ("predesolv.freeenergy", "predesolv.workflows", "predesolv.studies",
         "predesolv.analysis", "predesolv.api", "predesolv.cli"),
    # CV and bias primitives: below the runner (and below analysis, which reads run folders)
    ("predesolv.freeenergy",):
        ("predesolv.runner", "predesolv.builder", "predesolv.rundir", "predesolv.analysis",
         "predesolv.workflows", "predesolv.studies", "predesolv.api", "predesolv.cli"),
    # builders: config in, BuiltSystem out
    ("predesolv.systems", "predesolv.forcefields", "predesolv.config"):
        ("predesolv.builder", "predesolv.runner", "predesolv.rundir", "predesolv.workflows",
         "predesolv.studies", "predesolv.analysis", "predesolv.api", "predesolv.cli"),
    # analysis reads run folders; it drives nothing
    ("predesolv.analysis",):
        ("predesolv.runner", "predesolv.builder", "predesolv.workflows",
         "predesolv.studies", "predesolv.api", "predesolv.cli"),
    ("predesolv.workflows",): ("predesolv.studies", "predesolv.api", "predesolv.cli"),
}


def _under(module: str, prefixes: tuple[str, ...]) -> bool:
    return any(module == p or module.startswith(p + ".") for p in prefixes)


def test_lower_layers_never_import_higher_ones():
    edges, _ = _graph()
    bad = [f"{a} -> {b}" for layer, banned in FORBIDDEN.items()
           for a in sorted(edges) if _under(a, layer)
           for b in sorted(edges[a]) if _under(b, banned)]
    assert bad == []


def test_dask_is_confined_to_one_module():
    """Only predesolv.workflows.distributed imports dask, distributed or dask_jobqueue."""
    users = []
    for module, path in MODULES.items():
        for node in ast.walk(ast.parse(path.read_text())):
            names = ([a.name for a in node.names] if isinstance(node, ast.Import)
                     else [node.module or ""] if isinstance(node, ast.ImportFrom) else [])
            if any(n.split(".")[0] in ("dask", "distributed", "dask_jobqueue") for n in names):
                users.append(module)
    assert sorted(set(users)) == ["predesolv.workflows.distributed"]


def test_every_module_imports_in_a_fresh_interpreter():
    """Python's own check, through the package ``__init__`` files: every module imports."""
    code = ("import importlib, sys\n"
            f"for m in {sorted(MODULES)!r}:\n"
            "    if m != 'predesolv.__main__':\n"
            "        importlib.import_module(m)\n")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True,
                         cwd=ROOT, timeout=300)
    assert out.returncode == 0, out.stderr[-2000:]
