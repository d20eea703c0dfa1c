"""docs/paper_comparison.md is exactly what scripts/paper_comparison.py makes from the
committed outputs (the acceptance check: regenerate, get the same file)."""

from __future__ import annotations

import runpy
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]


def test_paper_comparison_is_regenerated_identically():
    """Run by path, as the docs say (runpy does not put scripts/ on sys.path): the script
    finds its two sibling modules itself."""
    script = runpy.run_path(str(ROOT / "scripts" / "paper_comparison.py"))
    assert script["render"]() == (ROOT / "docs" / "paper_comparison.md").read_text()


def test_a_dopant_lowers_a_step_only_beyond_both_searches_tolerance():
    """Hand-made converged rows: N-oxide 1.00/1.002 eV (mean 1.001) against pristine 1.20 eV
    lowers the step by 0.20 eV; against pristine 1.03 eV (0.029 eV, inside 2 x 0.02 eV) it
    does not; an unconverged pristine row gives no sentence, nor does the gas phase; a
    face-on dopant at an edge with no pristine ribbon of its own is set against the other
    edge's, saying so (edge-on it is not)."""
    pc = runpy.run_path(str(ROOT / "scripts" / "paper_comparison_tang.py"))

    def row(surface, e, method="random", converged=True):
        return {"surface": surface, "method": method, "step": "3->2 EC", "E_desolv_eV": e,
                "converged": converged}

    dop = [row("n_oxide (zigzag edge, face-on)", 1.0),
           row("n_oxide (zigzag edge, face-on)", 1.002, "anneal"), row("gas", 0.9)]
    (line,) = pc["_doped_against_pristine"](dop + [row("pristine (zigzag edge, face-on)", 1.2)])
    assert "n_oxide 1.00 eV against pristine 1.20 eV" in line and "lowers it by 0.20 eV" in line
    (line,) = pc["_doped_against_pristine"](dop + [row("pristine (zigzag edge, face-on)", 1.03)])
    assert "does not change it" in line
    assert pc["_doped_against_pristine"](
        dop + [row("pristine (zigzag edge, face-on)", 1.2, converged=False)]) == []
    # face-on, no pristine armchair ribbon: against the zigzag one, and the sentence says so;
    # edge-on there is no such stand-in
    arm = [row("n_oxide (armchair edge, face-on)", 0.97), row("pristine (zigzag edge, face-on)",
                                                              1.2)]
    (line,) = pc["_doped_against_pristine"](arm)
    assert "n_oxide 0.97 eV against pristine 1.20 eV (zigzag edge: no pristine armchair" in line
    assert "lowers it by 0.23 eV" in line
    assert pc["_doped_against_pristine"]([row("n_oxide (armchair edge, edge-on)", 0.97),
                                          row("pristine (zigzag edge, face-on)", 1.2)]) == []
