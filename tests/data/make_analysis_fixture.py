"""Regenerate tests/data/analysis_run (synthetic run directory for analysis tests).

Run from the repository root:  python tests/data/make_analysis_fixture.py
"""

from pathlib import Path

from predesolv.testing import make_run

if __name__ == "__main__":
    out = make_run(Path(__file__).parent / "analysis_run", n_complexes=4, n_free_dme=2,
                   n_frames=40, seed=0)
    print(f"wrote {out}")
