"""run_analyses on the shipped synthetic run directory (tests/data/analysis_run)."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from predesolv.analysis import ANALYSES, load_run, parse_what, run_analyses
from predesolv.errors import AnalysisError

RUN = Path(__file__).parent / "data" / "analysis_run"


@pytest.fixture(scope="module")
def outputs(tmp_path_factory):
    d = tmp_path_factory.mktemp("run")
    run = d / "run"
    shutil.copytree(RUN, run)
    files = run_analyses(run, cutoffs_nm={"DME": 0.30, "PF6": 0.30})
    return run, files


def test_all_outputs_written(outputs):
    run, files = outputs
    expected = {
        "rdf.csv", "rdf.png", "cutoffs.csv", "coordination_per_frame.csv",
        "coordination_by_region.csv", "speciation.csv", "speciation.png", "cn_profile.csv",
        "cn_profile.png", "tracked_ion.csv", "tracked_events.csv", "tracked_ion.png",
        "residence_acf.csv", "residence_times.csv", "residence.png", "density_z.csv",
        "density_x.csv", "density_z.png", "density_x.png", "msd.csv", "diffusion.csv",
        "msd.png", "summary.json", "report.html",
    }
    assert set(files) == expected
    for p in files.values():
        assert p.parent == run / "analysis" and p.stat().st_size > 0


def test_report_shows_every_figure_and_its_table(outputs):
    """report.html: parses as HTML, every PNG embedded by relative name, the summary tables
    (cutoffs under the RDF) shown with their values, every CSV reachable."""
    from html.parser import HTMLParser

    run, files = outputs
    page = files["report.html"].read_text()

    class Collect(HTMLParser):
        def __init__(self):
            super().__init__()
            self.imgs, self.links, self.cells = [], [], []

        def handle_starttag(self, tag, attrs):
            a = dict(attrs)
            if tag == "img":
                self.imgs.append(a["src"])
            if tag == "a":
                self.links.append(a["href"])

        def handle_data(self, data):
            self.cells.append(data.strip())

    c = Collect()
    c.feed(page)
    pngs = sorted(n for n in files if n.endswith(".png"))
    assert sorted(c.imgs) == pngs
    cut = pd.read_csv(files["cutoffs.csv"])
    assert f"{cut.iloc[0, 1]:.4g}" in c.cells  # first cutoff value, formatted as shown
    shown_or_linked = set(c.links) | {n for n in files if n.endswith(".csv") and n in page}
    assert {n for n in files if n.endswith(".csv")} <= shown_or_linked


def test_known_answers_in_tables(outputs):
    run, files = outputs
    cut = pd.read_csv(files["cutoffs.csv"]).set_index("kind")
    assert cut.loc["DME", "cutoff_nm"] == 0.30 and cut.loc["DME", "source"] == "given"
    reg = pd.read_csv(files["coordination_by_region.csv"]).set_index("region")
    # the tracked ion is Na(DME)3 at the mouth and keeps one bidentate DME inside
    assert reg.loc["mouth", "cn_DME_mean"] == 6.0
    # inside for 14 frames: 3 DME at the crossing frame, then 1
    assert reg.loc["inside", "nmol_DME_mean"] == pytest.approx((3 + 13) / 14, rel=1e-6)
    spec = pd.read_csv(files["speciation.csv"])
    bulk = spec[spec["region"] == "bulk"].set_index("shell")["fraction"]
    # bulk: ions 1, 2 and (until it leaves) 0 are Na(DME)3; ion 3 is Na(DME)2(PF6)
    assert bulk["Na(DME)2(PF6)"] == pytest.approx(40 / (40 * 3 + 21))
    prof = pd.read_csv(files["cn_profile.csv"])
    inside = prof[(prof["s_lo_nm"] >= 0.2) & (prof["n_samples"] > 0)]
    outside = prof[(prof["s_hi_nm"] <= -0.1) & (prof["n_samples"] > 0)]
    assert (inside["cn_DME_mean"] == 2.0).all()
    assert (outside["cn_DME_mean"] >= 4.0).all()
    ev = pd.read_csv(files["tracked_events.csv"], keep_default_na=False)
    enter = ev[ev["event"] == "enter"]
    assert len(enter) == 1
    lost = ev[ev["event"] == "lost"]
    assert sorted(lost["molecule"]) == ["DME#2", "DME#3"]
    series = pd.read_csv(files["tracked_ion.csv"])
    assert series["members"].iloc[-1] == "DME#1"
    summary = json.loads(files["summary.json"].read_text())
    assert summary["frames"] == 40 and summary["tracked_ion"]["atom_index"] == 0
    diff = pd.read_csv(files["diffusion.csv"])
    assert {"species", "region", "D_3d_m2_s", "D_2d_m2_s", "fit_start_ps", "fit_end_ps"} <= set(
        diff.columns)
    dz = pd.read_csv(files["density_z.csv"])
    # number of cations recovered by integrating the density over the box volume
    u, _ = load_run(run)
    vol_nm3 = np.prod(u.dimensions[:3] / 10.0)
    n_na = dz["rho_cation_nm-3"].mean() * vol_nm3
    assert n_na == pytest.approx(4.0, rel=1e-6)


def test_what_subset_and_frame_slice(tmp_path):
    run = tmp_path / "run"
    shutil.copytree(RUN, run)
    files = run_analyses(run, "coordination,profile", step=2, out_dir=tmp_path / "out",
                         cutoffs_nm={"DME": 0.3, "PF6": 0.3})
    assert set(files) == {"cutoffs.csv", "coordination_per_frame.csv",
                          "coordination_by_region.csv", "cn_profile.csv", "cn_profile.png",
                          "summary.json", "report.html"}
    df = pd.read_csv(files["coordination_per_frame.csv"])
    assert sorted(df["frame"].unique()) == list(range(0, 40, 2))
    np.testing.assert_allclose(df["time_ps"], df["frame"] * 1.0, rtol=1e-6)  # DCD dt = 1 ps
    files = run_analyses(run, "coordination", step=4, dt_ps=2.5, out_dir=tmp_path / "o2",
                         cutoffs_nm={"DME": 0.3, "PF6": 0.3})
    df = pd.read_csv(files["coordination_per_frame.csv"])
    np.testing.assert_allclose(df["time_ps"], df["frame"] * 2.5)
    assert json.loads(files["summary.json"].read_text())["dt_ps"] == 10.0


def test_parse_what():
    assert parse_what(None) == list(ANALYSES)
    assert parse_what("msd, rdf") == ["rdf", "msd"]
    assert parse_what(["all"]) == list(ANALYSES)
    with pytest.raises(AnalysisError, match="unknown analysis bogus"):
        parse_what("rdf,bogus")


def test_errors(tmp_path):
    with pytest.raises(AnalysisError, match="run directory not found"):
        run_analyses(tmp_path / "nope")
    run = tmp_path / "run"
    shutil.copytree(RUN, run)
    with pytest.raises(AnalysisError, match="unknown option"):
        run_analyses(run, "rdf", cutof=1)
    with pytest.raises(AnalysisError, match="unknown kind"):
        run_analyses(run, "coordination", cutoffs_nm={"EC": 0.3})
    (run / "trajectory.dcd").rename(run / "other.dcd")
    with pytest.raises(AnalysisError, match="no trajectory"):
        run_analyses(run, "rdf")
    (run / "other.dcd").rename(run / "trajectory.dcd")
    md = json.loads((run / "metadata.json").read_text())
    del md["groups"]["cation"]
    del md["geometry"]
    (run / "metadata.json").write_text(json.dumps(md))
    with pytest.raises(AnalysisError, match="no group 'cation'"):
        run_analyses(run, "rdf")
    (run / "metadata.json").unlink()
    with pytest.raises(AnalysisError, match="metadata file not found"):
        run_analyses(run, "rdf")


def test_bulk_box_skips_profile_unless_asked(tmp_path):
    run = tmp_path / "run"
    shutil.copytree(RUN, run)
    md = json.loads((run / "metadata.json").read_text())
    del md["geometry"]
    (run / "metadata.json").write_text(json.dumps(md))
    files = run_analyses(run, None, cutoffs_nm={"DME": 0.3, "PF6": 0.3})
    assert "cn_profile.csv" not in files and "speciation.csv" in files
    with pytest.raises(AnalysisError, match="geometry.insertion"):
        run_analyses(run, "profile", cutoffs_nm={"DME": 0.3, "PF6": 0.3})


def test_neat_solvent_run_gets_density_and_msd_only(tmp_path):
    run = tmp_path / "run"
    shutil.copytree(RUN, run)
    md = json.loads((run / "metadata.json").read_text())
    for k in ("cation", "anion", "anion_coord"):
        del md["groups"][k]
    (run / "metadata.json").write_text(json.dumps(md))
    files = run_analyses(run, msd_max_lag=5)
    assert {"density_z.csv", "msd.csv", "diffusion.csv"} <= set(files)
    assert not {"rdf.csv", "coordination_per_frame.csv", "cn_profile.csv"} & set(files)
    assert json.loads(files["summary.json"].read_text())["analyses"] == ["density", "msd"]
    assert set(pd.read_csv(files["diffusion.csv"])["species"]) == {"DME"}
    with pytest.raises(AnalysisError, match="no group 'cation'"):
        run_analyses(run, "coordination")


def test_density_plot_puts_the_electrode_on_its_own_axis():
    """Electrode peaks (~1000 nm^-3) must not flatten the electrolyte curves: the electrolyte
    axis tops out near the electrolyte maximum, the electrode gets a right axis, and the
    legend says 'DME (coordinating atoms)', not the column name."""
    from predesolv.analysis.plots import plot_density

    x = np.linspace(0, 5, 101)
    dens = pd.DataFrame({"x_nm": x, "rho_cation_nm-3": 0.5 + 0.1 * np.sin(x),
                         "rho_DME_coord_nm-3": 2.0 + np.cos(x),
                         "rho_electrode_nm-3": np.where(np.abs(x - 1) < 0.05, 1000.0, 0.0)})
    fig = plot_density(dens)
    left, right = fig.axes
    assert left.get_ylim()[1] < 5.0 and right.get_ylim()[1] > 900.0
    labels = [t.get_text() for t in left.get_legend().get_texts()]
    assert labels == ["cation", "DME (coordinating atoms)", "electrode (right axis)"]
