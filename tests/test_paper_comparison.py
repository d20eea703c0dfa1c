"""docs/paper_comparison.md is exactly what scripts/paper_comparison.py makes from the
committed outputs (the acceptance check: regenerate, get the same file)."""

from __future__ import annotations

import runpy
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]


def test_paper_comparison_is_regenerated_identically():
    script = runpy.run_path(str(ROOT / "scripts" / "paper_comparison.py"))
    assert script["render"]() == (ROOT / "docs" / "paper_comparison.md").read_text()
