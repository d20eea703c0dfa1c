"""Type-check the whole ``predesolv`` package, mapped folders included.

``pyproject.toml`` maps ``predesolv.systems``, ``predesolv.analysis`` and
``predesolv.forcefields`` to the top-level folders ``systems/``, ``analysis/`` and
``forcefields/`` (``[tool.setuptools.package-dir]``). mypy does not read that mapping: run
on the repository it finds no ``predesolv/systems`` and types every import from those folders
as ``Any``, so their files go unchecked. This script lays out the package as Python imports
it — a temporary ``predesolv/`` of symbolic links, the mapped folders linked in as
subpackages — runs mypy there with the repository's ``[tool.mypy]`` settings, and prints its
report with the repository's own paths.

Run: ``python scripts/typecheck.py`` (exit status: mypy's). The test suite runs it
(``tests/test_house_rules.py``).
"""

from __future__ import annotations

import re
import subprocess
import sys
import tempfile
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
MAPPED = ("systems", "analysis", "forcefields")


def shadow_tree(dest: Path) -> Path:
    """``dest/predesolv``: links to every entry of ``predesolv/`` plus the mapped folders."""
    pkg = dest / "predesolv"
    pkg.mkdir()
    for entry in (ROOT / "predesolv").iterdir():
        if entry.name != "__pycache__":
            (pkg / entry.name).symlink_to(entry)
    for name in MAPPED:
        (pkg / name).symlink_to(ROOT / name)
    return pkg


def to_repo_paths(report: str) -> str:
    """Rewrite ``predesolv/systems/x.py`` to ``systems/x.py`` (and the other mapped folders)."""
    return re.sub(rf"^predesolv/({'|'.join(MAPPED)})/", r"\1/", report, flags=re.M)


def run_mypy(extra: list[str] | None = None) -> subprocess.CompletedProcess[str]:
    """mypy on the laid-out package; stdout with repository paths."""
    with tempfile.TemporaryDirectory() as tmp:
        shadow_tree(Path(tmp))
        res = subprocess.run(
            [sys.executable, "-m", "mypy", "--config-file", str(ROOT / "pyproject.toml"),
             *(extra or []), "predesolv"], cwd=tmp, capture_output=True, text=True)
    res.stdout = to_repo_paths(res.stdout)
    return res


def main() -> int:
    res = run_mypy(sys.argv[1:])
    sys.stdout.write(res.stdout)
    sys.stderr.write(res.stderr)
    return res.returncode


if __name__ == "__main__":
    raise SystemExit(main())
