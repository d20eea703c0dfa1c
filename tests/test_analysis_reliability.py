"""Warnings where analysis numbers mean little: analytic inputs, thresholds checked by hand."""

from __future__ import annotations

import json

import numpy as np
import pandas as pd
import pytest

from predesolv.analysis.reliability import (
    DEFAULT_CUTOFFS_NM,
    checked_cutoffs,
    diffusion_warnings,
    minimum_clarity,
    msd_slope,
    residence_warnings,
)


def test_residence_warnings_by_pairs_and_span():
    taus = pd.DataFrame({"region": ["mouth", "bulk", "bulk", "inside"],
                         "kind": ["PF6", "DME", "PF6", "DME"],
                         "tau_ps": [0.4, 2.0, 30.0, np.nan], "n_pairs": [1, 50, 40, 0]})
    w = residence_warnings(taus, span_ps=100.0)
    assert len(w) == 2
    assert "PF6 / mouth" in w[0] and "1 ion–partner pair" in w[0]
    assert "PF6 / bulk" in w[1] and "30 ps" in w[1] and "100 ps" in w[1]  # 5 x 30 > 100
    assert residence_warnings(taus.iloc[[1]], span_ps=10.0) == []  # 5 x 2 = 10: resolved


def test_msd_slope_is_the_power_law_exponent():
    t = np.linspace(0.1, 50, 200)
    assert msd_slope(t, 6 * 0.01 * t, 1, 50) == pytest.approx(1.0)
    assert msd_slope(t, 3.0 * t**2, 1, 50) == pytest.approx(2.0)
    assert np.isnan(msd_slope(t, 6 * t, 60, 70))


def _msd_tables(fit: tuple[float, float], power: float) -> tuple[pd.DataFrame, pd.DataFrame]:
    t = np.linspace(0.0, 100.0, 201)
    msd = pd.DataFrame({"species": "cation", "region": "all", "lag_ps": t,
                        "msd_3d_nm2": 0.01 * t**power})
    diff = pd.DataFrame({"species": ["cation"], "region": ["all"], "fit_start_ps": [fit[0]],
                         "fit_end_ps": [fit[1]]})
    return msd, diff


def test_diffusion_warnings_short_window_and_non_diffusive():
    assert "too short" in diffusion_warnings(*_msd_tables((0.8, 2.0), 1.0))[0]
    assert diffusion_warnings(*_msd_tables((20.0, 80.0), 1.0)) == []
    w = diffusion_warnings(*_msd_tables((20.0, 80.0), 0.5))  # sub-diffusive: caging
    assert len(w) == 1 and "slope 0.50" in w[0]


def _rdf(r: np.ndarray, dip: bool) -> pd.DataFrame:
    """First peak at 0.24 nm, true minimum at 0.34 nm, second shell at 0.45 nm; with
    ``dip``, a sharp notch inside the first peak at 0.27 nm."""
    g = 30 * np.exp(-((r - 0.24) / 0.012) ** 2) + 8 * np.exp(-((r - 0.27) / 0.02) ** 2) \
        + 10 * np.exp(-((r - 0.45) / 0.04) ** 2)
    if dip:
        g[np.argmin(np.abs(r - 0.275))] = 0.0
    return pd.DataFrame({"kind": "PF6", "r_nm": r, "g": g})


def test_a_notch_inside_the_first_peak_is_not_a_clear_minimum():
    r = np.arange(0.0025, 0.6, 0.005)
    clean = _rdf(r, dip=False)
    r_true = float(r[(r > 0.3) & (r < 0.4)][np.argmin(clean["g"][(r > 0.3) & (r < 0.4)])])
    depth, deeper = minimum_clarity(r, clean["g"].to_numpy(), r_true)
    assert depth < 0.5 and deeper == pytest.approx(0.0, abs=0.02)
    cut, src, w = checked_cutoffs(clean, {"PF6": r_true})
    assert cut == {"PF6": r_true} and src == {"PF6": "rdf_first_minimum"} and w == []
    notched = _rdf(r, dip=True)
    cut, src, w = checked_cutoffs(notched, {"PF6": 0.2775})
    assert cut["PF6"] == DEFAULT_CUTOFFS_NM["PF6"] and src["PF6"] == "default"
    assert "not clear" in w[0] and "0.3475" in w[0]


def test_analyze_writes_the_warnings_into_summary_and_report(tmp_path):
    """The short test run: its residence pairs and MSD windows are flagged in summary.json
    and report.html."""
    import shutil
    from pathlib import Path

    from predesolv.cli import main

    run = tmp_path / "run"
    shutil.copytree(Path(__file__).parent / "data" / "napf6_dme_run", run)
    assert main(["analyze", str(run), "--what", "rdf,coordination,residence,msd"]) == 0
    summary = json.loads((run / "analysis" / "summary.json").read_text())
    text = " ".join(summary["warnings"])
    assert "diffusion" in text and "residence" in text
    assert any(w.split(":")[0] in (run / "analysis" / "report.html").read_text()
               for w in summary["warnings"])
