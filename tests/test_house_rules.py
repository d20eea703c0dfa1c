"""The house rules, checked on every CI run: lint, types, module and function size, public APIs.

These run the same tools a reviewer would (ruff, mypy) so that "ruff + type checker clean in
CI" is enforced by the README's test command, not by memory.
"""

from __future__ import annotations

import ast
import re
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
PACKAGE_DIRS = ("predesolv", "systems", "analysis", "forcefields")
MAX_MODULE_LINES = 600
MAX_FUNCTION_LINES = 80
# Private modules/names of other libraries that must not be imported (public APIs only).
PRIVATE_IMPORT = re.compile(r"^(openmm|MDAnalysis|mdtraj|parmed|pymbar|numpy|scipy|pydantic"
                            r"|yaml|matplotlib|pandas|freud|dask)(\.\w+)*\.(_\w+|internal)\b")


def _sources() -> list[Path]:
    return sorted(p for d in PACKAGE_DIRS for p in (ROOT / d).rglob("*.py")
                  if not p.name.startswith("_make_"))


def _tool(name: str) -> str:
    exe = Path(sys.executable).with_name(name)
    found = str(exe) if exe.exists() else shutil.which(name)
    if found is None:
        pytest.skip(f"{name} is not installed (pip install -e '.[test]')")
    return found


def test_ruff_clean():
    res = subprocess.run([_tool("ruff"), "check", str(ROOT)], capture_output=True, text=True)
    assert res.returncode == 0, res.stdout + res.stderr


def test_mypy_clean_on_the_whole_package():
    """mypy on the package as Python imports it (scripts/typecheck.py lays out the mapped
    folders as subpackages): 0 errors, and every source file of the four folders checked."""
    _tool("mypy")
    res = subprocess.run([sys.executable, str(ROOT / "scripts" / "typecheck.py")],
                         capture_output=True, text=True, cwd=ROOT)
    assert res.returncode == 0, res.stdout + res.stderr
    checked = int(re.search(r"(\d+) source files", res.stdout).group(1))
    assert checked >= len(list(_package_sources())), res.stdout


def _package_sources() -> list[Path]:
    return [p for d in PACKAGE_DIRS for p in (ROOT / d).rglob("*.py")
            if "__pycache__" not in p.parts]


@pytest.mark.parametrize("path", _sources() + sorted((ROOT / "scripts").glob("*.py")),
                         ids=lambda p: str(p.relative_to(ROOT)))
def test_module_and_function_size(path):
    """The package's modules and the scripts a user runs (benchmarks, validation, the paper
    comparison): under 600 lines a module, 80 a function."""
    text = path.read_text()
    assert len(text.splitlines()) <= MAX_MODULE_LINES, f"{path.name} is over {MAX_MODULE_LINES}"
    long = [f"{node.name} ({node.end_lineno - node.lineno + 1} lines)"
            for node in ast.walk(ast.parse(text))
            if isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef))
            and node.end_lineno - node.lineno + 1 > MAX_FUNCTION_LINES]
    assert not long, f"{path.name}: functions over {MAX_FUNCTION_LINES} lines: {long}"


@pytest.mark.parametrize("path", _sources() + sorted((ROOT / "tests").glob("*.py")),
                         ids=lambda p: str(p.relative_to(ROOT)))
def test_no_private_imports(path):
    bad = []
    for node in ast.walk(ast.parse(path.read_text())):
        if isinstance(node, ast.ImportFrom) and node.module:
            mod = node.module
            names = [a.name for a in node.names]
            if PRIVATE_IMPORT.match(mod + ".x") or (
                    mod.split(".")[0] in {"openmm", "MDAnalysis", "mdtraj", "parmed", "pymbar"}
                    and any(n.startswith("_") for n in names)):
                bad.append(f"from {mod} import {', '.join(names)}")
            if path.parent.name == "tests" and mod.startswith("predesolv") and any(
                    n.startswith("_") and not n.startswith("__") for n in names):
                bad.append(f"test imports private predesolv name: from {mod} import {names}")
        elif isinstance(node, ast.Import):
            bad += [f"import {a.name}" for a in node.names if PRIVATE_IMPORT.match(a.name)]
    assert not bad, bad
