"""What the analysis figures say: labels, shaded extents, counts, fit windows (synthetic data,
expected values written by hand)."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from predesolv.analysis import run_analyses
from predesolv.analysis.geometry import Geometry, Region
from predesolv.analysis.plots import (
    plot_msd,
    plot_profile,
    plot_rdf,
    plot_residence,
    plot_speciation,
)

RUN = Path(__file__).parent / "data" / "analysis_run"


def _legend(ax) -> list[str]:
    return [t.get_text() for t in ax.get_legend().get_texts()]


@pytest.mark.parametrize("direction, origin", [(1, 3.0), (-1, 5.0)])
def test_slit_extent_in_insertion_coordinates(direction, origin):
    """The inside box spans x = 3..5 nm; from either mouth it is 0..2 nm deep."""
    geo = Geometry(regions=(Region("inside", {"x": (3.0, 5.0), "z": (1.0, 2.0)}),
                            Region("mouth", {"x": (2.5, 3.0)})),
                   axis="x", origin_nm=origin, direction=direction)
    assert geo.insertion_extent_nm("inside") == pytest.approx((0.0, 2.0))
    assert geo.insertion_extent_nm("nowhere") is None
    assert Geometry(regions=geo.regions).insertion_extent_nm("inside") is None


def test_rdf_legend_says_what_is_counted_and_labels_cutoffs():
    r = np.linspace(0.1, 0.8, 50)
    rdf = pd.concat([pd.DataFrame({"kind": k, "r_nm": r, "g": 1 + np.sin(8 * r)})
                     for k in ("DME", "PF6")])
    fig = plot_rdf(rdf, {"DME": 0.31, "PF6": np.nan},
                   labels={"DME": "Na–O(DME)", "PF6": "Na–F(PF6)"})
    assert _legend(fig.axes[0]) == ["Na–O(DME)", "Na–O(DME) shell cutoff 0.310 nm",
                                    "Na–F(PF6)"]


def test_profile_shades_the_slit_and_drops_empty_bins():
    prof = pd.DataFrame({"s_mid_nm": [-0.25, 0.25, 0.75], "n_samples": [4, 0, 9],
                         "cn_DME_mean": [4.0, np.nan, 2.0], "cn_DME_sem": [0.1, np.nan, 0.2],
                         "cn_total_mean": [5.0, np.nan, 3.0]})
    fig = plot_profile(prof, ["DME"], labels={"DME": "Na–O(DME)"}, slit_nm=(0.0, 2.0),
                       regions=["mouth", "inside"])
    ax = fig.axes[0]
    assert sorted(_legend(ax)) == ["CN Na–O(DME)", "CN total", "mouth", "slit interior"]
    span = ax.patches[0]  # the shaded slit interior
    assert (span.get_x(), span.get_x() + span.get_width()) == (0.0, 2.0)
    total = [ln for ln in ax.lines if ln.get_label() == "CN total"][0]
    assert list(total.get_xdata()) == [-0.25, 0.75]
    assert "mouth, inside" in ax.get_title()
    legend_box = ax.get_legend().get_bbox_to_anchor().transformed(ax.transAxes.inverted())
    assert legend_box.y1 <= 0.0  # below the axes, off the data


def test_speciation_counts_and_empty_regions():
    spec = pd.DataFrame({"region": ["all", "all", "bulk", "bulk"],
                         "shell": ["Na(DME)3", "Na(DME)2", "Na(DME)3", "Na(DME)2"],
                         "count": [30, 10, 30, 10], "fraction": [0.75, 0.25, 0.75, 0.25]})
    fig = plot_speciation(spec, regions=["all", "inside", "bulk"])
    ax = fig.axes[0]
    texts = [t.get_text() for t in ax.texts]
    assert texts == ["n = 40", "no ions", "n = 40"]
    assert [t.get_text() for t in ax.get_xticklabels()] == ["all", "inside", "bulk"]
    assert ax.get_xlabel() == "region"


def test_residence_labels_tau_and_says_when_it_is_not_reached():
    lag = np.arange(6) * 2.0
    acf = pd.concat([pd.DataFrame({"region": "all", "kind": "DME", "lag_ps": lag,
                                   "C": np.exp(-lag / 3.0)}),
                     pd.DataFrame({"region": "inside", "kind": "DME", "lag_ps": lag,
                                   "C": 1.0 - 0.01 * lag})])
    taus = pd.DataFrame({"region": ["all", "inside"], "kind": ["DME", "DME"],
                         "tau_ps": [4.0, np.nan]})
    labels = _legend(plot_residence(acf, taus).axes[0])
    assert labels == ["DME / all: τ = 4 ps", "DME / inside: τ not reached (> 10 ps)",
                      "C = 1/e (defines τ)"]


def test_msd_panels_per_species_with_fit_window_and_d():
    lag = np.arange(1, 11, dtype=float)
    rows = [pd.DataFrame({"species": sp, "region": reg, "lag_ps": lag,
                          "msd_3d_nm2": 0.01 * lag, "n_samples": 5})
            for sp in ("cation", "DME") for reg in ("all", "inside")]
    diff = pd.DataFrame({"species": ["cation", "cation", "DME", "DME"],
                         "region": ["all", "inside", "all", "inside"],
                         "D_3d_m2_s": [1.5e-9, np.nan, 2e-9, np.nan],
                         "D_2d_m2_s": [np.nan, 3e-10, np.nan, np.nan],
                         "fit_start_ps": 1.0, "fit_end_ps": 5.0})
    fig = plot_msd(pd.concat(rows), diff)
    assert [a.get_title() for a in fig.axes] == ["cation", "DME"]
    assert _legend(fig.axes[0]) == ["all: D$_{3D}$ = 1.50e-09 m$^2$/s",
                                    "inside: D$_{2D}$ = 3.00e-10 m$^2$/s", "fit window"]
    assert _legend(fig.axes[1])[1] == "inside: D not fitted"


def test_profile_defaults_to_mouth_and_inside(tmp_path):
    """An ion in the reservoir behind the slit must not be binned on the insertion axis:
    by default the CN profile uses the mouth and inside regions only."""
    run = tmp_path / "run"
    shutil.copytree(RUN, run)
    files = run_analyses(run, "profile", cutoffs_nm={"DME": 0.30, "PF6": 0.30})
    summary = json.loads(files["summary.json"].read_text())
    assert summary["profile_regions"] == ["mouth", "inside"]
    prof = pd.read_csv(files["cn_profile.csv"])
    sampled = prof[prof["n_samples"] > 0]
    # the mouth is 0.5 nm deep and the slit 2 nm long: nothing binned outside [-0.5, 2)
    assert sampled["s_lo_nm"].min() >= -0.5 - 1e-9 and sampled["s_hi_nm"].max() <= 2.0 + 1e-9


def test_verbose_shows_progress_on_every_trajectory_pass(tmp_path, capsys):
    """verbose=True: a tqdm bar for the coordination pass (MDAnalysis), the RDFs, each
    density axis and the MSD positions; verbose=False: none."""
    run = tmp_path / "run"
    shutil.copytree(RUN, run)
    run_analyses(run, "rdf,coordination,density,msd", cutoffs_nm={"DME": 0.30, "PF6": 0.30},
                 verbose=True, out_dir=tmp_path / "a")
    err = capsys.readouterr().err
    for desc in ("density z", "density x", "MSD positions"):
        assert desc in err
    assert err.count("it/s") + err.count("s/it") >= 5
    run_analyses(run, "density", out_dir=tmp_path / "b")
    assert "density z" not in capsys.readouterr().err
