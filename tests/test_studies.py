"""`predesolv study`: every study's smoke size runs from one command and its table is what the
run's own files say (recomputed here independently)."""

from __future__ import annotations

import functools

import numpy as np
import pandas as pd
import pytest
from openmm import unit

from predesolv.cli import main
from predesolv.studies import registry, studies_root
from predesolv.studies.e1 import block_mean
from predesolv.studies.result import StudyResult
from predesolv.workflows.barrier_scan import SEED_BARRIERS_EV


def test_block_mean_on_a_known_series():
    # five blocks with means 1..5: mean 3, SEM = std([1..5], ddof=1) / sqrt(5)
    x = np.repeat([1.0, 2.0, 3.0, 4.0, 5.0], 4)
    m, sem = block_mean(x)
    assert m == 3.0
    assert sem == pytest.approx(np.sqrt(2.5) / np.sqrt(5), rel=1e-12)
    assert np.isnan(block_mean(np.array([2.0]))[1])


def test_e5_smoke(tmp_path, capsys):
    out = tmp_path / "e5"
    assert main(["study", "e5", "--size", "smoke", "--out", str(out)]) == 0
    t = pd.read_csv(out / "e5_barriers.csv")
    assert set(t.forcefield) == {"default", "fitted"} and len(t) == 4
    for _, r in t.iterrows():
        assert r.seed_barrier_eV == SEED_BARRIERS_EV[round(r.spacing_nm, 2)]
        assert r.residual_eV == pytest.approx(r.barrier_eV - r.seed_barrier_eV, abs=1e-5)
    # the fitted set raises the 0.40 nm AB barrier (0.20 -> 0.57 eV, docs/free_energy.md)
    b = t.set_index(["forcefield", "spacing_nm"]).barrier_eV
    assert b[("fitted", 0.40)] > 2 * b[("default", 0.40)]
    study = StudyResult.read(out)
    assert study.study == "E5" and study.size == "smoke"
    assert study.what_was_run.configs == ["default", "fitted"] and len(study.rows) == 4
    for v in study.verdicts:  # one per force field and stacking: all within 0.05 eV?
        mine = [r for r in study.rows if f"{r['forcefield']} {r['stacking']}" == v.name]
        assert mine and v.ok == all(abs(r["residual_eV"]) <= 0.05 for r in mine)
    # a second call without --resume/--overwrite refuses, naming both flags
    assert main(["study", "E5", "--out", str(out)]) == 2
    err = capsys.readouterr().err
    assert "--resume" in err and "--overwrite" in err


def test_e1_smoke_table_matches_the_run_files(tmp_path):
    out = tmp_path / "e1"
    assert main(["study", "E1", "--size", "smoke", "--out", str(out)]) == 0
    table = pd.read_csv(out / "e1_table.csv").set_index("system")
    assert list(table.index) == ["anion_free", "napf6_dme"]
    assert table.loc["anion_free", "anion_free"] and not table.loc["napf6_dme", "anion_free"]
    assert table.loc["anion_free", "net_charge_e"] == pytest.approx(2 * 0.8, abs=1e-9)
    for name in table.index:
        per = pd.read_csv(out / name / "analysis" / "coordination_per_frame.csv")
        assert table.loc[name, "CN_NaO"] == pytest.approx(per.cn_DME.mean(), rel=1e-6)
        assert table.loc[name, "DME_per_Na"] == pytest.approx(per.nmol_DME.mean(), rel=1e-6)
        assert table.loc[name, "frames"] == per.frame.nunique()
    assert np.isnan(table.loc["anion_free", "PF6_per_Na"])


def test_unknown_study_and_size_are_input_errors(capsys):
    assert main(["study", "E9"]) == 2
    err = capsys.readouterr().err
    assert "E9" in err and all(k in err for k in registry())


def test_an_unknown_config_name_is_an_input_error_and_writes_nothing(tmp_path, capsys):
    out = tmp_path / "E4"
    assert main(["study", "E4", "--size", "smoke", "--configs", "lone_dme_0.8nm,nope",
                 "--out", str(out)]) == 2
    err = capsys.readouterr().err
    assert "--configs: nope" in err and "lone_dme_0.6nm, lone_dme_0.8nm" in err
    assert "Traceback" not in err and not out.exists()
    assert main(["study", "E4", "--size", "smoke", "--configs", "lone_dme_0.8nm",
                 "--out", str(out), "--save-state", str(tmp_path / "s.tar.xz")]) == 2
    assert "--save-state" in capsys.readouterr().err and not out.exists()
    with pytest.raises(SystemExit):
        main(["study", "E4", "--configs", " , "])


def test_e7_smoke_rows_follow_eq1_from_the_minima(tmp_path):
    """The step energies are recomputed here from e7_minima.csv (lowest fully bound minimum
    per cluster size) and E[EC] in the study's summary: eq. 1 of Tang et al., independently."""
    out = tmp_path / "e7"
    assert main(["study", "E7", "--size", "smoke", "--out", str(out)]) == 0
    rows = pd.read_csv(out / "e7_static.csv")
    minima = pd.read_csv(out / "e7_minima.csv")
    e_ec = StudyResult.read(out).number("E_EC_kJ_per_mol").value
    assert set(rows.surface) == {"gas", "n_oxide (zigzag edge, face-on)"}
    for _, r in rows.iterrows():
        before, after = 7 - r.n, 6 - r.n
        m = minima[(minima.surface == r.surface)]
        eb = m[(m.n_EC == before) & (m.n_bound == before)].energy_kJ_per_mol.min()
        ea = m[(m.n_EC == after) & (m.n_bound == after)].energy_kJ_per_mol.min()
        want = (ea + e_ec - eb) / 96.48533212
        if np.isfinite(want):
            assert r.E_desolv_eV == pytest.approx(want, abs=1e-5)
        else:
            assert np.isnan(r.E_desolv_eV)


def test_e7_xtb_smoke_steps_follow_eq1_from_the_xtb_minima(tmp_path):
    """GFN2-xTB column of the gas phase, recomputed here from e7_xtb_minima.csv and E[EC]
    (xTB) in the summary: eq. 1 over the lowest converged minimum of each size that kept
    every EC within 0.30 nm of Na+ (``E_desolv_xTB_eV``) or over all (``..._any_eV``)."""
    pytest.importorskip("tblite")
    out = tmp_path / "e7x"
    assert main(["study", "e7-xtb", "--size", "smoke", "--out", str(out)]) == 0
    rows = pd.read_csv(out / "e7_static.csv")
    xtb = pd.read_csv(out / "e7_xtb_minima.csv")
    result = StudyResult.read(out)
    assert result.study == "E7-xTB"
    e_ec = result.number("E_EC_xTB_eV").value
    assert set(rows.surface) == {"gas"} and xtb.converged.all()

    def lowest(k: int, bound: bool) -> float:
        m = xtb[(xtb.n_EC == k) & ((xtb.n_bound_after == k) | (not bound))]
        return m.xtb_energy_eV.min() if len(m) else np.nan

    for _, r in rows.iterrows():
        for col, bound in (("E_desolv_xTB_eV", True), ("E_desolv_xTB_any_eV", False)):
            want = lowest(6 - r.n, bound) + e_ec - lowest(7 - r.n, bound)
            got = r[col]
            assert (np.isnan(got) and np.isnan(want)) or got == pytest.approx(want, abs=1e-5)
    assert np.isfinite(rows.E_desolv_xTB_any_eV).all()
    assert (rows.E_desolv_xTB_any_eV > 0).all()  # removing an EC from a cation costs energy


def test_bad_e7_config_names_the_field(tmp_path):
    from predesolv.errors import ConfigError
    from predesolv.studies.e7 import run_e7

    (tmp_path / "static.yaml").write_text("surfaces:\n  - {kind: moon}\nn_starts: 1\n")
    with pytest.raises(ConfigError, match=r"surfaces\.0\.kind: Input should be 'gas'"):
        run_e7(tmp_path, tmp_path / "out", {"size": "smoke"})
    assert not (tmp_path / "out").exists()


def _shell_by_hand(run_dir, cutoffs):
    """First shell of cation[0] recomputed with plain NumPy: every coordinating atom within
    the cutoff (minimum image), molecules counted once, molecule centroids of heavy atoms
    made whole around the ion."""
    from predesolv.analysis.io import load_run

    u, md = load_run(run_dir)
    ins = md.geometry.insertion
    ion = md.groups["cation"][0]
    kinds = {"DME": md.groups["solvent_O:DME"], "PF6": md.groups.get("anion_coord", [])}
    rows = []
    for ts in u.trajectory:
        box = ts.dimensions[:3] / 10.0
        x = u.atoms.positions / 10.0
        row = {"insertion_nm": ((x[ion, 0] - ins.origin_nm) * ins.direction + box[0] / 2)
               % box[0] - box[0] / 2}
        for k, idx in kinds.items():
            idx = np.asarray(idx, dtype=int)
            d = x[idx] - x[ion]
            d -= box * np.round(d / box)
            close = idx[np.linalg.norm(d, axis=1) <= cutoffs[k]]
            res = {int(u.atoms[i].resindex) for i in close}
            row[f"cn_{k}"], row[f"nmol_{k}"] = len(close), len(res)
            if k == "DME":
                n_in = 0
                for r in res:
                    heavy = [a.ix for a in u.residues[r].atoms if a.mass > 1.5]
                    dd = x[heavy] - x[ion]
                    dd -= box * np.round(dd / box)
                    c = (x[ion] + dd).mean(axis=0)
                    s = ((c[0] - ins.origin_nm) * ins.direction + box[0] / 2) % box[0] \
                        - box[0] / 2
                    n_in += int(s >= 0)
                row["inside_DME"] = n_in
        rows.append(row)
    return pd.DataFrame(rows)


def test_e2_smoke_shell_path_matches_a_hand_count(e2_smoke):
    """E2 smoke runs from one command; the window-averaged shell in insertion_path.csv is
    recomputed here frame by frame with NumPy, and the verdict row uses the PMF's own file."""
    from predesolv.studies.insertion import PATH_CUTOFFS_NM

    out = e2_smoke
    path = pd.read_csv(out / "insertion_path.csv")
    path = path[path.config == "slit_0.6nm"]
    assert len(path) == 4 and set(path.spacing_nm) == {0.6}
    for _, w in path.iterrows():
        hand = _shell_by_hand(out / "slit_0.6nm" / "windows" / w.window, PATH_CUTOFFS_NM)
        for col in ("cn_DME", "nmol_DME", "cn_PF6", "nmol_PF6", "inside_DME"):
            assert w[col] == pytest.approx(hand[col].mean(), abs=1e-9), (w.window, col)
        assert w.insertion_nm == pytest.approx(hand.insertion_nm.mean(), abs=1e-4)
    study = StudyResult.read(out)
    row, _ = study.rows
    assert study.verdict("slit_0.6nm").sentence == row["sentence"]
    pmf = pd.read_csv(out / "slit_0.6nm" / "pmf.csv").dropna(subset=["F_kJ_per_mol"])
    assert row["deepest_sampled_nm"] == pytest.approx(pmf.x_nm.max())
    reservoir = pmf[pmf.x_nm <= -0.6]  # the start run may already have moved the ion nearer
    if reservoir.empty:
        assert row["F_reservoir_kJ_per_mol"] is None
    else:
        assert row["F_reservoir_kJ_per_mol"] == pytest.approx(reservoir.F_kJ_per_mol.mean())
    assert row["pull_start_nm"] < 0 and study.study == "E2"
    assert row["sentence"].startswith("0.6 nm")


def test_e2_two_cv_smoke_reads_the_shell_from_the_surface(e2_smoke):
    """The two-CV config of E2 smoke: F(x) is the surface's projection, the shell at each
    depth the conditional mean CN recomputed here from fes.csv with NumPy (p ~ exp(-F/kT)
    over sampled bins), DME = CN / 2; and no verdict unless fes.json says converged."""
    import json

    root = e2_smoke / "slit_0.6nm_2cv"
    fes = pd.read_csv(root / "fes.csv").dropna(subset=["F (kJ/mol)"])
    meta = json.loads((root / "fes.json").read_text())
    kt = meta["temperature_kT_kJ_per_mol"]
    path = pd.read_csv(e2_smoke / "insertion_path.csv")
    path = path[path.config == "slit_0.6nm_2cv"].set_index("center_nm")
    xs = sorted(fes["x (nm)"].unique())
    assert len(path) == len(xs) > 0
    for x in xs:
        g = fes[fes["x (nm)"] == x]
        p = np.exp(-g["F (kJ/mol)"].to_numpy() / kt)
        want = float((p * g["cn"].to_numpy()).sum() / p.sum())
        got = path.loc[path.index[np.argmin(abs(path.index - x))]]
        assert got["cn_DME"] == pytest.approx(want, rel=1e-5)  # CSV: 6 digits
        assert got["nmol_DME"] == pytest.approx(want / 2, rel=1e-5)
    pmf = pd.read_csv(e2_smoke / "insertion_pmf.csv")
    proj = pd.read_csv(root / "fes_projection.csv")
    np.testing.assert_allclose(pmf[pmf.config == "slit_0.6nm_2cv"]["F_kJ_per_mol"],
                               proj["F (kJ/mol)"], rtol=1e-5)
    study = StudyResult.read(e2_smoke)
    _, row = study.rows
    assert row["n_windows"] == 9 and row["surface_converged"] == meta["converged"]
    if not meta["converged"]:
        assert row["reproduced"] is None and "not converged" in row["sentence"]
        assert "is reproduced" not in row["sentence"]


@pytest.mark.parametrize("study,configs", [("E3", ["slit_0.8nm", "slit_1.0nm"]),
                                           ("E4", ["lone_dme_0.6nm", "lone_dme_0.8nm"])])
def test_e3_e4_smoke(tmp_path, study, configs):
    out = tmp_path / study
    if study == "E4":  # one config alone first (--configs), then the rest with --resume
        assert main(["study", study, "--size", "smoke", "--out", str(out),
                     "--configs", "lone_dme_0.8nm"]) == 0
        alone = StudyResult.read(out)
        assert alone.what_was_run.configs == ["lone_dme_0.8nm"]
        assert [r["config"] for r in alone.rows] == ["lone_dme_0.8nm"]
        assert not (out / "lone_dme_0.6nm").exists()
        assert set(pd.read_csv(out / "insertion_pmf.csv").config) == {"lone_dme_0.8nm"}
        first = pd.read_csv(out / "lone_dme_0.8nm" / "pmf.csv")
    assert main(["study", study, "--size", "smoke", "--out", str(out),
                 *(["--resume"] if study == "E4" else [])]) == 0
    study = StudyResult.read(out)
    rows = study.rows
    assert study.what_was_run.configs == configs
    assert study.what_was_run.n_windows == sum(r["n_windows"] for r in rows)
    assert [r["config"] for r in rows] == configs
    assert all(r["pull_start_nm"] < 0 for r in rows)
    pmf = pd.read_csv(out / "insertion_pmf.csv")
    assert set(pmf.config) == set(configs)
    if study == "E4":
        assert rows[0]["pulled"] == "solvent" and "lone DME" in rows[0]["sentence"]
        # resumed, not rerun: the 0.8 nm PMF is the one the --configs call made
        pd.testing.assert_frame_equal(pd.read_csv(out / "lone_dme_0.8nm" / "pmf.csv"), first)
        # the 0.8 nm config runs two replicas: each one's value is in the row, recomputed
        # here from the replica columns of its own pmf.csv
        one = pd.read_csv(out / "lone_dme_0.8nm" / "pmf.csv")
        res = one[one.x_nm <= -0.6]
        reps = [c for c in one.columns if c.startswith("F_replica")]
        assert len(reps) == 2
        for c, got in zip(reps, rows[1]["F_max_connected_replicas_kJ_per_mol"], strict=True):
            reach = rows[1]["connected_to_nm"]
            want = one[one.x_nm <= reach + 1e-12][c].max() - res[c].mean()
            assert (got is None and not np.isfinite(want)) or got == pytest.approx(want)
        _check_cation_contacts(out / "lone_dme_0.8nm", 9, rows[1])
        assert "cation_bound_fraction_inside" not in rows[0]  # pure DME: no Na+ to count


def _check_cation_contacts(root, molecule, row):
    """The Na+-at-the-pulled-DME columns recomputed with mdtraj from each window's own
    trajectory: the molecule-th DME residue, its O atoms, every Na atom, periodic
    distances; the row's inside share weighted by frames."""
    import mdtraj as md

    path = pd.read_csv(root.parent / "insertion_path.csv")
    path = path[path.config == root.name]
    bound, frames = [], []
    for w in path.itertuples():
        t = md.load(str(root / "windows" / w.window / "trajectory.dcd"),
                    top=str(root / "windows" / w.window / "topology.pdb"))
        dme = [r for r in t.topology.residues if r.name == "DME"][molecule]
        o = [a.index for a in dme.atoms if a.element.symbol == "O"]
        na = [a.index for a in t.topology.atoms if a.element.symbol == "Na"]
        d = md.compute_distances(t, [(i, j) for i in na for j in o]).reshape(
            t.n_frames, len(na), len(o)).min(axis=2)
        assert w.min_cation_O_nm == pytest.approx(d.min(), abs=2e-4)
        assert w.cation_bound_fraction == pytest.approx((d < 0.31).any(axis=1).mean())
        bound.append((d < 0.31).any(axis=1).sum() if w.center_nm >= 0.3 - 1e-9 else 0)
        frames.append(t.n_frames if w.center_nm >= 0.3 - 1e-9 else 0)
    assert row["cation_bound_fraction_inside"] == pytest.approx(sum(bound) / sum(frames))
    # a packed state leaves the trajectories out: the digest then gives the same rows
    from predesolv.rundir import RunDir
    from predesolv.studies.insertion import digest_insertion, window_cv_rows

    digest_insertion(studies_root() / "E4" / "smoke", root.parent)
    assert not list((root.parent / "lone_dme_0.6nm").rglob("digest"))  # no Na+: none made
    for w in path.window:
        traj = RunDir(root / "windows" / w).trajectories()[0]
        traj.rename(traj.with_suffix(".moved"))
    again = pd.DataFrame(window_cv_rows(root, ("DME", molecule)))
    pd.testing.assert_frame_equal(
        again[["cation_bound_fraction", "min_cation_O_nm"]].reset_index(drop=True),
        path[["cation_bound_fraction", "min_cation_O_nm"]].reset_index(drop=True), atol=1e-6)


def test_insertion_verdicts_follow_the_seed_table():
    """Hand-made PMFs and shell averages: the verdict compares DME kept inside with the
    seed's count (+/- 0.5) and a lone molecule's free-energy rise with 5 kT."""
    from predesolv.studies.insertion import verdict

    x = np.linspace(-0.9, 0.7, 17)
    pmf = pd.DataFrame({"x_nm": x, "F_kJ_per_mol": np.where(x < 0, 0.0, 40.0 * x)})
    windows = [{"center_nm": c, "insertion_nm": c, "nmol_DME": 3.0 if c < 0 else n_in,
                "cn_DME": 6.0 if c < 0 else 2 * n_in, "inside_DME": 0.0 if c < 0 else 1.0,
                "nmol_PF6": 0.0, "planar_fraction": 1.0}
               for c in x for n_in in [1.2]]
    row = verdict("a", "cation", 0.6, pmf, windows, 298.0)
    assert row["DME_reservoir"] == 3.0 and row["DME_inside"] == pytest.approx(1.2)
    assert row["dF_inside_kJ_per_mol"] == pytest.approx(40 * x[x >= 0.3 - 1e-9].mean())
    assert row["reproduced"] is True and "reproduced" in row["sentence"]
    # at 1.0 nm the seed keeps the whole shell: 1.2 of 3 DME is a failure
    assert verdict("b", "cation", 1.0, pmf, windows, 298.0)["reproduced"] is False
    # a lone DME: 40 kJ/mol/nm x 0.5 nm = 20 kJ/mol ~ 8 kT >= 5 kT -> does not enter
    lone = verdict("c", "solvent", 0.6, pmf, [], 298.0)
    assert lone["reproduced"] is True and lone["sentence"].startswith("0.6 nm, lone DME")
    flat = pmf.assign(F_kJ_per_mol=0.0)
    assert verdict("d", "solvent", 0.6, flat, [], 298.0)["reproduced"] is False
    # no window reached the reservoir: no number against it, and no verdict
    for kind, rows in (("cation", windows), ("solvent", [])):
        miss = verdict("e", kind, 0.6, pmf[pmf.x_nm > -0.5], rows, 298.0)
        assert miss["reproduced"] is None and "not sampled" in miss["sentence"]
        assert ("lone DME" in miss["sentence"]) == (kind == "solvent")
        assert "nan" not in miss["sentence"]


def test_a_two_cv_verdict_reads_the_shell_from_the_surface():
    """Surface rows (conditional mean CN per depth, DME = CN / 2): a converged surface gives
    a verdict on the DME kept inside (0.8 nm: 1 +/- 0.5), the sentence names where the count
    comes from and prints no 'nan'; an unconverged one gives none and says why."""
    from predesolv.studies.insertion import verdict
    from predesolv.studies.insertion2d import SurfaceStatus

    x = np.linspace(-0.9, 0.7, 17)
    pmf = pd.DataFrame({"x_nm": x, "F_kJ_per_mol": np.where(x < 0, 0.0, 5.0)})
    rows = [{"window": f"x={c:.3f}", "center_nm": c, "insertion_nm": c,
             "cn_DME": 6.0 if c < 0 else 2.2, "nmol_DME": 3.0 if c < 0 else 1.1} for c in x]
    ok = verdict("a", "cation", 0.8, pmf, rows, 298.0, SurfaceStatus(True, ""))
    assert ok["DME_inside"] == pytest.approx(1.1) and ok["reproduced"] is True
    assert "mean Na-O(DME) coordination / 2" in ok["sentence"] and "nan" not in ok["sentence"]
    assert ok["surface_converged"] is True
    no = verdict("b", "cation", 0.8, pmf, rows, 298.0, SurfaceStatus(False, "halves disagree"))
    assert no["reproduced"] is None and "not converged (halves disagree): no verdict" in \
        no["sentence"] and "reproduced" not in no["sentence"]


def test_lone_dme_verdicts_follow_the_seed_direction_and_need_agreeing_replicas():
    """At 0.8 and 1.0 nm the seed saw individual DME enter: reproduced when the windows connect
    the reservoir to x >= 0.3 nm and F there is < 5 kT above it (hand-made PMFs: a 4 kJ/mol
    step ~ 1.6 kT enters, a 20 kJ/mol ramp ~ 8 kT does not); with replica columns the verdict
    needs every replica's answer to agree, else none is written."""
    from predesolv.constants import kT_kJ_per_mol
    from predesolv.studies.insertion import verdict

    x = np.linspace(-0.9, 0.7, 17)
    low = pd.DataFrame({"x_nm": x, "F_kJ_per_mol": np.where(x < 0, 0.0, 4.0)})
    row = verdict("a", "solvent", 0.8, low, [], 298.0)
    assert row["dF_inside_kJ_per_mol"] == pytest.approx(4.0)
    assert row["reproduced"] is True and "individual DME" in row["sentence"]
    high = low.assign(F_kJ_per_mol=np.where(x < 0, 0.0, 50.0 * x))
    assert 50 * x[x >= 0.3 - 1e-9].mean() > 5 * kT_kJ_per_mol(298.0)
    assert verdict("b", "solvent", 1.0, high, [], 298.0)["reproduced"] is False
    gap = low.assign(F_kJ_per_mol=np.where((x > 0.05) & (x < 0.25), np.nan, low.F_kJ_per_mol))
    assert verdict("c", "solvent", 0.8, gap, [], 298.0)["reproduced"] is False  # not connected
    # replicas: both low -> a verdict; one low, one high -> none
    agree = low.assign(F_replica0_kJ_per_mol=low.F_kJ_per_mol,
                       F_replica1_kJ_per_mol=low.F_kJ_per_mol + np.where(x < 0, 0.0, 2.0))
    row = verdict("d", "solvent", 0.8, agree, [], 298.0)
    assert row["dF_inside_replicas_kJ_per_mol"] == pytest.approx([4.0, 6.0])
    assert row["reproduced"] is True and "replicas +4, +6 kJ/mol" in row["sentence"]
    split = agree.assign(F_replica1_kJ_per_mol=high.F_kJ_per_mol)
    row = verdict("e", "solvent", 0.8, split, [], 298.0)
    assert row["reproduced"] is None and "replicas disagree" in row["sentence"]
    half = agree.assign(F_replica1_kJ_per_mol=np.where(x < -0.5, np.nan, 0.0))
    row = verdict("g", "solvent", 0.8, half, [], 298.0)
    assert row["reproduced"] is None and "did not sample" in row["sentence"]
    # at 0.6 nm (pure DME) the seed's direction is the other one: the ramp is reproduced
    assert verdict("f", "solvent", 0.6, high, [], 298.0)["reproduced"] is True


def test_e7_300k_steps_from_a_hand_made_pmf():
    """F(CN) = 10 (CN - 3)^2 kJ/mol, sampled on a grid that misses the whole numbers: the
    steps are F(n-1) - F(n) of the interpolated curve, computed here by hand; a bootstrap σ
    of 0.5 kJ/mol at every bin gives sqrt(0.5^2 + 0.5^2) per step."""
    from predesolv.studies.e7_300k import step_rows, three_to_two, whole_number_free_energies

    cn = np.arange(0.55, 5.6, 0.1)
    pmf = pd.DataFrame({"cn": cn, "F_kJ_per_mol": 10 * (cn - 3) ** 2,
                        "dF_kJ_per_mol": np.full(len(cn), 0.5)})
    f = whole_number_free_energies(pmf)
    assert sorted(f) == [1, 2, 3, 4, 5]
    exact = {n: 10 * (n - 3) ** 2 for n in f}
    for n in f:  # linear interpolation of a parabola on a 0.1 grid: error <= 10 * 0.05^2
        assert abs(f[n] - exact[n]) <= 10 * 0.05**2 + 1e-9
    rows = step_rows("pristine_zigzag", f, whole_number_free_energies(pmf, "dF_kJ_per_mol"))
    assert [r["step"] for r in rows] == ["5→4", "4→3", "3→2", "2→1"]
    r32 = next(r for r in rows if r["n_from"] == 3)
    assert r32["dG_kJ_per_mol"] == pytest.approx(f[2] - f[3])
    assert r32["dG_eV"] == pytest.approx((f[2] - f[3]) / 96.48533212)
    assert r32["sigma_kJ_per_mol"] == pytest.approx(0.5 * 2**0.5)
    # combined σ of a difference of two steps: 0.5 * 2 kJ/mol = 0.0104 eV; 2σ = 0.021 eV
    ox = [dict(r, surface="n_oxide_zigzag", dG_eV=r["dG_eV"] - 0.05) for r in rows]
    assert "n_oxide_zigzag" in three_to_two(rows + ox) and "(lower;" in three_to_two(rows + ox)
    near = [dict(r, surface="n_oxide_armchair", dG_eV=r["dG_eV"] - 0.01) for r in rows]
    assert "not distinguishable" in three_to_two(rows + near)
    bare = step_rows("pristine_zigzag", f) + [dict(r, sigma_eV=float("nan")) for r in ox]
    assert "no uncertainty" in three_to_two(bare)
    assert "needs a pristine" in three_to_two(ox)
    # face-on surfaces are compared with the face-on pristine only, never with an edge
    face = [dict(r, surface="n_oxide_zigzag_face_on", dG_eV=r["dG_eV"] - 0.05) for r in rows]
    text = three_to_two(rows + ox + face)
    assert "(edge-on): pristine_zigzag" in text
    assert "(face-on): needs a pristine surface of this geometry" in text
    flat = [dict(r, surface="pristine_zigzag_face_on", dG_eV=r["dG_eV"] + 0.2) for r in rows]
    text = three_to_two(rows + face + flat)
    assert "(face-on): pristine_zigzag_face_on" in text and "difference -0.25 eV" in text


def test_oxide_sentence_weights_windows_by_frames():
    from predesolv.studies.e7_shell import oxide_sentence

    rows = [{"surface": "n_oxide_zigzag", "cn_centre": c, "cutoff_nm": 0.31, "frames": f,
             "oxide_O_in_shell": x} for c, f, x in ((1.0, 100, 1.0), (3.0, 300, 0.0),
                                                     (4.0, 50, 0.5))]
    s = oxide_sentence(rows)
    # CN <= 3: (100 * 1 + 300 * 0) / 400 = 25 %; CN > 3: 50 %
    assert s == ("n_oxide_zigzag: N–O oxygen within 0.31 nm of Na⁺ in 25 % of the frames of "
                 "windows at CN ≤ 3, 50 % at CN > 3.")
    bare = [dict(r, surface="pristine_zigzag", oxide_O_in_shell=float("nan")) for r in rows]
    assert oxide_sentence(bare).startswith("no oxide dopant")
    assert oxide_sentence(bare + rows) == s


def _mic(pos: np.ndarray, box: np.ndarray, i: int, j: np.ndarray) -> np.ndarray:
    """Minimum-image distances (nm) from atom i to atoms j of an orthorhombic box."""
    d = pos[j] - pos[i]
    return np.linalg.norm(d - box * np.round(d / box), axis=-1)


def test_e7_300k_smoke(tmp_path):
    out = tmp_path / "e7h"
    assert main(["study", "e7-300k", "--size", "smoke", "--out", str(out)]) == 0
    study = StudyResult.read(out)
    assert study.study == "E7-300K" and study.verdict("three_to_two").sentence.startswith("3→2")
    pmf = pd.read_csv(out / "e7_300k_pmf.csv")
    assert set(pmf.surface) == {"n_oxide_zigzag", "n_oxide_zigzag_face_on"}
    steps = pd.read_csv(out / "e7_300k_steps.csv")
    for _, r in steps.iterrows():
        assert r.step == f"{r.n_from}→{r.n_from - 1}"
    # the wall (0.55 nm, 5000 kJ/mol/nm2) kept the ion at the frozen N in every window,
    # within 5 thermal widths sqrt(kT/k) of its bound (the excursion the study allows):
    # the minimum-image Na-N distance measured on the trajectories, not the CV's own record
    from predesolv.analysis.io import load_run

    shell = pd.read_csv(out / "e7_300k_shell.csv").set_index(["surface", "window"])
    assert study.verdict("oxide_in_shell").sentence.startswith("n_oxide_zigzag: N–O oxygen")
    width = 5 * np.sqrt(0.0083144626 * 298 / 5000)  # 5 thermal widths at the walls' k
    for surface, cation in (("n_oxide_zigzag", 1), ("n_oxide_zigzag_face_on", 5)):
        for w in sorted((out / surface / "windows").glob("w*")):
            u, md = load_run(w)
            na, n = md.groups["cation"][cation], md.groups["dopant_site:n_oxide"][0]
            ec = md.groups["solvent_O:EC"]
            ins = md.geometry.insertion
            # the N-oxide's O: the one oxygen of the dopant residue, bonded to its N (0.13 nm)
            (ox,) = [i for i in md.groups["dopant:n_oxide"] if u.atoms[i].name.startswith("O")]
            counts, near = [], []
            for ts in u.trajectory:
                pos, box = u.atoms.positions / 10.0, ts.dimensions[:3] / 10.0
                mic = functools.partial(_mic, pos, box)
                assert mic(na, np.array([n]))[0] < 0.55 + width, (surface, w.name)
                if surface.endswith("face_on"):  # over the sheet: >= 0.25 nm inside the mouth
                    assert (pos[na, 0] - ins.origin_nm) * ins.direction > 0.25 - width
                assert mic(n, np.array([ox]))[0] < 0.16
                counts.append(int((mic(na, np.asarray(ec)) < 0.31).sum()))
                near.append(bool(mic(na, np.array([ox]))[0] < 0.31))
            row = shell.loc[(surface, w.name)]
            assert row["frames"] == len(counts)
            assert row["cn_EC_O"] == pytest.approx(np.mean(counts))
            assert row["oxide_O_in_shell"] == pytest.approx(np.mean(near))


@pytest.mark.parametrize("path", sorted(
    str(p.relative_to(studies_root())) for sid in ("E2", "E3", "E4", "E7-300K")
    for p in (studies_root() / sid / "paper").glob("*.yaml")))
def test_paper_configs_build_and_pull_from_the_front(path):
    """Every paper-size PMF config builds and passes the pmf checks without MD, and the group
    it pulls is built in front of the electrode face (x < 0): a group behind the slab would
    be dragged through the graphite. A face-on config (an electrolyte-filled slit) pulls a
    group built inside the slit, past the 0.25 nm its wall keeps."""
    import predesolv
    from predesolv.freeenergy.groups import resolve_group
    from predesolv.workflows.umbrella import check_pmf

    cfg = predesolv.load_config(studies_root() / path)
    built = predesolv.build(cfg)
    check_pmf(cfg, built)
    cv = cfg.pmf.cv
    spec = cv.cation if cv.type == "coordination" else cv.group
    atoms = resolve_group(spec, built.metadata, built.topology)
    ins = built.metadata.geometry.insertion
    x_box = built.topology.getPeriodicBoxVectors()[0][0].value_in_unit(unit.nanometer)
    x = built.positions.value_in_unit(unit.nanometer)[atoms[0]][0]
    s = ((x - ins.origin_nm) * ins.direction + x_box / 2) % x_box - x_box / 2
    if cfg.system.electrode.fill_slit:  # face-on: built inside the electrolyte-filled slit
        depth = cfg.system.electrode.length.value_in_unit(unit.nanometer)
        assert 0.25 < s < depth, (path, spec, s)
    else:
        assert -2.0 < s < 0.0, (path, spec, s)
    # and away from the periodic cut of every wall (a wall there traps it: test_periodic_cut)
    from predesolv.freeenergy.bias import refuse_start_at_cut

    for w in [*cfg.pull.walls, *cfg.pmf.walls]:
        refuse_start_at_cut(w.cv, built, built.positions, "wall")
    # a distance wall to a dopant's N must be reachable from the electrolyte: the N's depth
    # behind the edge face plus a Na+ contact distance in front of it (0.35 nm, past the
    # edge H) must fit under the wall, or the wall presses the ion into the edge
    for w in cfg.pmf.walls:
        if w.cv.type == "distance" and str(w.cv.group_b).startswith("dopant_site:"):
            n_atom = resolve_group(w.cv.group_b, built.metadata, built.topology)[0]
            x_n = built.positions.value_in_unit(unit.nanometer)[n_atom][0]
            depth = (x_n - ins.origin_nm) * ins.direction
            assert depth + 0.35 <= w.bounds()[1], (path, depth)


def test_planar_fraction_counts_only_frames_with_a_shell():
    from predesolv.studies.insertion import planar_fraction

    frames = pd.DataFrame({"shell_z_extent_nm": [np.nan, 0.05, 0.2, 0.09]})
    assert planar_fraction(frames) == pytest.approx(2 / 3)
    assert np.isnan(planar_fraction(frames.iloc[:1]))


def test_connected_range_stops_at_the_first_empty_bin():
    from predesolv.studies.insertion import connected_range

    pmf = pd.DataFrame({"x_nm": [0.3, -0.3, -0.1, 0.1, 0.5, 0.0],
                        "F_kJ_per_mol": [90.0, 0.0, 5.0, np.nan, 95.0, 20.0]})
    assert connected_range(pmf) == (0.0, (0.1, 0.3))
    assert connected_range(pmf.dropna()) == (0.5, None)


def _interrupt_after_first_checkpoint(window):
    """Make a finished window look killed right after its first checkpoint (the end of its
    minimisation): its progress record keeps only that checkpoint, the newer checkpoint and
    the final state are gone; state.csv and the trajectory keep the rows written after it,
    as after a kill (the runner cuts them back on resume)."""
    from predesolv.rundir import Progress, RunDir

    rd = RunDir(window)
    progress = rd.read_progress()
    newest, first = progress.checkpoints
    assert first.stage == "minimize0" and first.frames == 0
    for name in (newest.chk, newest.xml, "final_state.xml"):
        (window / name).unlink()
    rd.write_progress(Progress([first], False))
    return newest


def test_e2_state_saved_small_and_continued_in_another_folder(e2_smoke, tmp_path):
    """--save-state packs the study without the finished windows' trajectories (their shell
    digests instead) and without finished runs' checkpoints; --continue unpacks it into
    another folder, resumes the one interrupted window from its checkpoint and re-collects:
    the finished windows' rows equal the original study's, and the resumed window's row is
    recomputed from its new trajectory by hand."""
    import shutil
    import tarfile

    from predesolv.rundir import RunDir
    from predesolv.state_archive import MANIFEST, read_state
    from predesolv.studies.insertion import PATH_CUTOFFS_NM

    src = tmp_path / "src"
    shutil.copytree(e2_smoke, src)
    windows = src / "slit_0.6nm" / "windows"
    newest = _interrupt_after_first_checkpoint(windows / "w003")
    archive = tmp_path / "e2.tar.xz"
    assert main(["study", "E2", "--size", "smoke", "--out", str(src),
                 "--save-state", str(archive)]) == 0
    state = read_state(archive)
    left = set(state.left_out)
    for w in ("w000", "w001", "w002"):
        assert f"slit_0.6nm/windows/{w}/trajectory.dcd" in left
        kept = [n for n in tarfile.open(archive).getnames()
                if n.startswith(f"slit_0.6nm/windows/{w}/checkpoints/")]
        newest_xml = RunDir(e2_smoke / "slit_0.6nm/windows" / w).read_progress().latest.xml
        assert kept == [f"slit_0.6nm/windows/{w}/{newest_xml}"]  # for --extend, nothing more
    assert not any("slit_0.6nm/windows/w003" in n for n in left)  # unfinished: kept whole
    # the two-CV windows: their shell comes from the surface, so no digest is needed
    assert "slit_0.6nm_2cv/windows/w008/trajectory.dcd" in left
    with tarfile.open(archive) as tar:
        names = set(tar.getnames())
    assert MANIFEST in names and "slit_0.6nm/pull/trajectory.dcd" in names
    assert "slit_0.6nm/windows/w003/trajectory.dcd" in names
    assert "slit_0.6nm/windows/w000/digest/shell_path.csv" in names
    assert archive.stat().st_size < 0.2 * state.bytes_in  # what a copy or a commit carries

    new = tmp_path / "elsewhere"
    assert main(["study", "E2", "--size", "smoke", "--out", str(new),
                 "--continue", str(archive)]) == 0
    w3 = new / "slit_0.6nm" / "windows" / "w003"
    assert "resuming at stage minimize0" in (w3 / "log.txt").read_text()
    steps = pd.read_csv(w3 / "state.csv")["step"]
    assert len(steps) == newest.state_rows and steps.is_unique  # every sample once
    for w in ("w000", "w001", "w002"):
        assert ((new / "slit_0.6nm/windows" / w / "state.csv").read_bytes()
                == (e2_smoke / "slit_0.6nm/windows" / w / "state.csv").read_bytes())
    before = pd.read_csv(e2_smoke / "insertion_path.csv").set_index("window")
    after = pd.read_csv(new / "insertion_path.csv").set_index("window")
    cols = ["cn_DME", "nmol_DME", "cn_PF6", "nmol_PF6", "inside_DME", "insertion_nm"]
    pd.testing.assert_frame_equal(after.loc[["w000", "w001", "w002"], cols],
                                  before.loc[["w000", "w001", "w002"], cols])
    # the surface is re-estimated from the same samples (no bootstraps): the same file
    assert ((new / "slit_0.6nm_2cv" / "fes.csv").read_bytes()
            == (e2_smoke / "slit_0.6nm_2cv" / "fes.csv").read_bytes())
    hand = _shell_by_hand(w3, PATH_CUTOFFS_NM)
    assert len(hand) == newest.frames
    for col in ("cn_DME", "nmol_DME", "cn_PF6", "nmol_PF6"):
        assert after.loc["w003", col] == pytest.approx(hand[col].mean(), abs=1e-9), col


def test_a_digest_made_with_other_parameters_is_refused(e2_smoke, tmp_path):
    """Without its trajectory a window's shell comes from its digest, and only when the
    digest was made for the same ion and cutoffs; a stale one is refused, never used."""
    import shutil

    from predesolv.errors import RunDirectoryError
    from predesolv.rundir import RunDir
    from predesolv.studies.insertion import window_shell_frames

    w = tmp_path / "w000"
    shutil.copytree(e2_smoke / "slit_0.6nm" / "windows" / "w000", w)
    with_traj = window_shell_frames(RunDir(w), 0)
    (w / "trajectory.dcd").unlink()
    pd.testing.assert_frame_equal(window_shell_frames(RunDir(w), 0), with_traj)
    with pytest.raises(RunDirectoryError, match="made with"):
        window_shell_frames(RunDir(w), 1)
    shutil.rmtree(w / "digest")
    with pytest.raises(RunDirectoryError, match="no shell_path digest"):
        window_shell_frames(RunDir(w), 0)


def test_a_state_with_a_path_outside_its_folder_is_not_unpacked(tmp_path):
    import io
    import tarfile

    from predesolv.errors import RunDirectoryError
    from predesolv.state_archive import MANIFEST, StudyState, unpack_state

    archive = tmp_path / "evil.tar.xz"
    with tarfile.open(archive, "w:xz") as tar:
        for name, data in ((MANIFEST, StudyState("E2", "smoke").to_json().encode()),
                           ("../escaped.txt", b"x")):
            info = tarfile.TarInfo(name)
            info.size = len(data)
            tar.addfile(info, io.BytesIO(data))
    with pytest.raises(RunDirectoryError, match="'..'"):
        unpack_state(archive, tmp_path / "out", "E2", "smoke")
    assert not (tmp_path / "escaped.txt").exists()
    with pytest.raises(RunDirectoryError, match="holds study E2 \\(smoke\\), not E3"):
        unpack_state(archive, tmp_path / "out", "E3", "smoke")


def test_a_coordination_switch_past_half_the_box_is_refused_before_anything_runs(tmp_path,
                                                                                  capsys):
    """E2's smoke cell is 1.6 nm tall: the default d_max = 3 r0 = 0.93 nm of the shell CV
    reaches past half of it, where distances stop being minimum-image. validate --build
    names the field; the config's own d_max (0.75 nm) passes."""
    import yaml

    path = studies_root() / "E2" / "smoke" / "slit_0.6nm_2cv.yaml"
    data = yaml.safe_load(path.read_text())
    assert data["pmf"]["cv2"]["cv"]["d_max"] == "0.75 nm"
    del data["pmf"]["cv2"]["cv"]["d_max"]
    bad = tmp_path / "bad.yaml"
    bad.write_text(yaml.safe_dump(data))
    assert main(["validate", str(bad), "--build"]) == 2
    err = capsys.readouterr().err
    assert "pmf.cv2.cv.d_max" in err and "0.93 nm" in err
    assert main(["validate", str(path), "--build"]) == 0


def test_only_short_counts_a_two_cv_window_as_the_surface_estimator_does(e2_smoke):
    """pmf --extend --only-short picks windows by window_samples: for a two-CV window its
    count must be the 2D estimator's (frames / g of each CV, the poorer CV), so that it
    extends exactly the windows the estimator would refuse. Checked on every window of the
    E2 smoke surface against the estimator's own fes_windows.csv and against frames / g
    recomputed here with pymbar."""
    from pymbar import timeseries

    from predesolv.rundir import RunDir
    from predesolv.workflows.extension import window_samples

    root = e2_smoke / "slit_0.6nm_2cv"
    table = pd.read_csv(root / "fes_windows.csv").set_index("window")
    for w in sorted((root / "windows").iterdir()):
        got = window_samples(RunDir(w))
        est = table.loc[w.name]
        assert got.n_effective == pytest.approx(min(est.n_effective_x, est.n_effective_cn),
                                                rel=1e-9), w.name
        df = pd.read_csv(w / "state.csv")
        prod = df[df["stage"] == df["stage"].iloc[-1]]
        by_hand = [len(prod) / timeseries.statistical_inefficiency(prod[c].to_numpy(float))
                   for c in ("cv (nm)", "cv2 (1)")]
        assert got.n_frames == len(prod) == est.n_frames
        assert got.n_effective == pytest.approx(min(by_hand), rel=1e-6), w.name


def test_e6_potential_differences_by_hand():
    """ΔV(d1 -> d2) = -(ΔF_ins(d2) - ΔF_ins(d1)) / F, F = 96.485 kJ/mol/V, σ the two states'
    σ combined; a pair with an unusable state gets no number and says why."""
    from predesolv.studies.e6 import potential_rows

    a = {"state": "E2/a", "spacing_nm": 0.6, "dF_ins_kJ_per_mol": -10.0,
         "sigma_kJ_per_mol": 1.0, "usable": True, "why_not": ""}
    b = dict(a, state="E3/b", spacing_nm=0.8, dF_ins_kJ_per_mol=-4.0, sigma_kJ_per_mol=2.0)
    c = dict(a, state="E3/c", spacing_nm=1.0, usable=False, why_not="one CV")
    rows = potential_rows([a, b, c])
    assert [r["pair"] for r in rows] == ["0.6 → 0.8 nm", "0.6 → 1.0 nm", "0.8 → 1.0 nm"]
    assert rows[0]["dV_V"] == pytest.approx(-6.0 / 96.4853321)
    assert rows[0]["sigma_V"] == pytest.approx(np.hypot(1.0, 2.0) / 96.4853321)
    assert "ΔV = -0.062 ± 0.023 V" in rows[0]["sentence"] and "relative only" in rows[0][
        "sentence"]
    for r in rows[1:]:
        assert not r["usable"] and np.isnan(r["dV_V"]) and "E3/c: one CV" in r["sentence"]


def test_e6_smoke_reads_the_e2_rows_and_writes_no_number_from_unconverged_ones(e2_smoke,
                                                                              tmp_path, capsys):
    """E6 reads E2 smoke from the sibling folder E2-smoke; its one-CV row and its unconverged
    surface give no potential difference, and the sentence says why for each. Without the
    source study the command is an input error naming what to run."""
    assert main(["study", "E6", "--size", "smoke", "--out", str(tmp_path / "E6-smoke")]) == 2
    assert "predesolv study E2 --size smoke" in capsys.readouterr().err
    (tmp_path / "E2-smoke").symlink_to(e2_smoke, target_is_directory=True)
    assert main(["study", "E6", "--size", "smoke", "--out", str(tmp_path / "E6-smoke")]) == 0
    (pair,) = pd.read_csv(tmp_path / "E6-smoke" / "e6_potentials.csv").to_dict("records")
    assert not pair["usable"] and np.isnan(pair["dV_V"])
    assert "E2/slit_0.6nm: one CV" in pair["sentence"]
    assert "E2/slit_0.6nm_2cv: its two-CV surface is not converged" in pair["sentence"]
    states = pd.read_csv(tmp_path / "E6-smoke" / "e6_states.csv")
    rows = {r["config"]: r for r in StudyResult.read(e2_smoke).rows}
    assert states["dF_ins_kJ_per_mol"].tolist() == pytest.approx(
        [rows[c]["dF_inside_kJ_per_mol"] if rows[c]["dF_inside_kJ_per_mol"] is not None
         else np.nan for c in ("slit_0.6nm", "slit_0.6nm_2cv")], nan_ok=True)


def test_a_lone_dme_row_counts_the_frames_with_a_cation_at_it():
    """Hand-made windows: reservoir windows bound in 50 % of their 10 frames; inside
    (x >= 0.3 nm) four windows of 10 frames at 0 % and one of 30 frames at 100 %: 30/70 =
    43 % (frames weigh, not windows: their mean would say 20 %), 50 % in the reservoir, both
    said in the sentence."""
    from predesolv.studies.insertion import verdict

    x = np.linspace(-0.9, 0.7, 17)
    pmf = pd.DataFrame({"x_nm": x, "F_kJ_per_mol": np.zeros_like(x)})
    windows = [{"center_nm": c, "insertion_nm": c, "insertion_max_nm": c,
                "n_frames": 30.0 if c > 0.65 else 10.0,
                "cation_bound_fraction": 0.5 if c < 0 else (1.0 if c > 0.65 else 0.0),
                "min_cation_O_nm": 0.25} for c in x]
    row = verdict("a", "solvent", 0.8, pmf, windows, 298.0)
    n_in = 10 * int(np.sum((x >= 0.3 - 1e-9) & (x <= 0.65))) + 30
    assert row["cation_bound_fraction_inside"] == pytest.approx(30 / n_in)
    assert row["cation_bound_fraction_reservoir"] == pytest.approx(0.5)
    assert f"in {100 * 30 / n_in:.0f} % of the frames" in row["sentence"]
    assert "(reservoir windows: 50 %)" in row["sentence"]
    assert "cation_bound_fraction_inside" not in verdict(
        "b", "solvent", 0.8, pmf, [{k: v for k, v in w.items() if "cation" not in k}
                                   for w in windows], 298.0)
    windows[-1]["cation_bound_fraction"] = float("nan")  # not measured (old packed state)
    row = verdict("c", "solvent", 0.8, pmf, windows, 298.0)
    assert np.isnan(row["cation_bound_fraction_inside"]) and "a Na+ lay" not in row["sentence"]
    assert row["cation_bound_fraction_reservoir"] == pytest.approx(0.5)
