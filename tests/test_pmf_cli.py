"""`predesolv pmf` end to end on an analytic double well (from_files), pulls, resume/skip,
bad input. Expected values come from the analytic potential, not from the code."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
import yaml

from predesolv.cli import main
from predesolv.testing import write_double_well

KT_300 = 0.00831446261815324 * 300.0


def _config(tmp: Path, dw, **pmf_over) -> dict:
    pmf = {
        "cv": {"type": "position", "group": [0], "axis": "x", "origin": f"{dw.center_nm} nm"},
        "windows": {"start": "-0.9 nm", "stop": "0.9 nm", "count": 13},
        "k": "400 kJ/mol/nm**2",
        "stages": [{"type": "nvt", "duration": "2 ps"},
                   {"type": "production", "duration": "60 ps"}],
        "sample_interval": "0.1 ps",
        "estimator": {"bins": 36, "bootstraps": 20,
                      "states": {"left": ["-0.6 nm", "-0.4 nm"], "right": ["0.4 nm", "0.6 nm"]},
                      "ranges": {"barrier": ["-0.5 nm", "0.2 nm"]}},
    }
    pmf.update(pmf_over)
    return {
        "system": {"from_files": {"system_xml": str(dw.system_xml), "pdb": str(dw.pdb)}},
        "simulation": {"platform": "Reference", "temperature": "300 K", "timestep": "2 fs",
                       "friction": "3 /ps", "seed": 3},
        "stages": [{"type": "minimize"}],
        "output": {"directory": str(tmp / "pmf")},
        "pmf": pmf,
    }


def _write(tmp: Path, cfg: dict, name: str = "pmf.yaml") -> Path:
    p = tmp / name
    p.write_text(yaml.safe_dump(cfg))
    return p


@pytest.fixture(scope="module")
def double_well_pmf(tmp_path_factory):
    tmp = tmp_path_factory.mktemp("dw")
    dw = write_double_well(tmp, height_kj_per_mol=10.0, a_nm=0.5, mass_amu=10.0)
    path = _write(tmp, _config(tmp, dw))
    assert main(["pmf", str(path), "--serial"]) == 0
    return tmp, dw, path


def test_double_well_pmf_matches_exact(double_well_pmf):
    tmp, dw, _ = double_well_pmf
    d = pd.read_csv(tmp / "pmf" / "pmf.csv")
    assert list(d.columns) == ["x_nm", "F_kJ_per_mol", "dF_kJ_per_mol", "F_kT", "F_eV"]
    x, F = d["x_nm"].to_numpy(), d["F_kJ_per_mol"].to_numpy()
    m = np.isfinite(F) & (np.abs(x) <= 0.85)
    assert m.sum() > 25
    exact = dw.exact_pmf_kj(x[m])
    shift = np.mean(F[m] - exact)
    rms_kT = np.sqrt(np.mean((F[m] - exact - shift) ** 2)) / KT_300
    assert rms_kT < 0.3
    barrier_kT = (np.interp(0.0, x, F) - 0.5 * (np.interp(-0.5, x, F) + np.interp(0.5, x, F))
                  ) / KT_300
    assert abs(barrier_kT - 10.0 / KT_300) < 0.3
    assert np.all(d["dF_kJ_per_mol"].to_numpy()[m] >= 0)
    b = json.loads((tmp / "pmf" / "barriers.json").read_text())
    lr = b["state_differences"][0]
    assert abs(lr["dF_kJ_per_mol"]) < 3 * lr["sigma_kJ_per_mol"] + 1.0  # symmetric well
    for name in ("pmf.png", "overlap.png", "histograms.png", "windows.csv", "overlap.csv"):
        assert (tmp / "pmf" / name).stat().st_size > 0


def test_windows_are_run_directories_and_rerun_skips(double_well_pmf, capsys):
    tmp, _, path = double_well_pmf
    w = tmp / "pmf" / "windows" / "w006"
    cfg = yaml.safe_load((w / "config.yaml").read_text())
    assert cfg["bias"]["center"] == "0 nm" and cfg["bias"]["k"].startswith("400")
    state = pd.read_csv(w / "state.csv")
    prod = state[state["stage"] == "production1"]
    assert len(prod) == 600  # 60 ps / 0.1 ps
    # the recorded CV is the particle's x - x0 (bias energy consistent with it)
    e = 0.5 * 400 * (prod["cv (nm)"] - prod["bias_center (nm)"]) ** 2
    np.testing.assert_allclose(prod["bias_energy (kJ/mol)"], e, rtol=1e-5, atol=1e-6)
    # an ordinary run directory: resume through `run` sees it complete
    assert main(["run", str(w / "config.yaml"), "--resume", "--out", str(w)]) == 0
    capsys.readouterr()
    assert main(["pmf", str(path)]) == 0
    assert "13 of 13 windows already complete" in capsys.readouterr().err


def test_pull_work_matches_spring_free_energy(tmp_path):
    """Slow pull of a particle in a stiff harmonic well: mean work -> the analytic ΔF of two
    springs in series, k K / (k + K) (c1² - c0²) / 2."""
    dw = write_double_well(tmp_path, height_kj_per_mol=0.0, a_nm=1.0, mass_amu=40.0,
                           start_s_nm=0.0)
    # replace the external force by a harmonic well K/2 (x - x0)^2 (K = 1000)
    xml = dw.system_xml.read_text().replace(
        "0.0*((x-3.0)^2/1.0^2-1)^2", "500.0*(x-3.0)^2")
    assert "500.0*(x-3.0)^2" in xml
    dw.system_xml.write_text(xml)
    cfg = _config(tmp_path, dw)
    cfg["pull"] = {"cv": cfg["pmf"]["cv"], "k": "1000 kJ/mol/nm**2", "target": "0.5 nm",
                   "speed": "10 nm/ns", "equilibration": "2 ps", "update_interval": 5}
    cfg["pmf"]["windows"] = {"start": "0 nm", "stop": "0.5 nm", "count": 3}
    cfg["pmf"]["stages"] = [{"type": "production", "duration": "2 ps"}]
    cfg["pmf"]["sample_interval"] = "0.02 ps"
    path = _write(tmp_path, cfg)
    main(["pmf", str(path), "--serial"])  # the estimate may warn: the pull is what is tested
    pull = pd.read_csv(tmp_path / "pmf" / "pull.csv")
    assert list(pull.columns) == ["time_ps", "step", "x_nm", "center_x_nm", "work_kJ_per_mol"]
    assert pull["center_x_nm"].iloc[-1] == pytest.approx(0.5)
    t = pull["time_ps"].to_numpy()
    c = pull["center_x_nm"].to_numpy()
    moving = c < 0.5 - 1e-9
    v = np.polyfit(t[moving], c[moving], 1)[0]
    assert v == pytest.approx(0.01, rel=1e-3)  # 10 nm/ns
    dF = 0.5 * (1000 * 1000 / 2000) * 0.5**2  # 62.5 kJ/mol
    assert abs(pull["work_kJ_per_mol"].iloc[-1] - dF) < 5.0
    # the particle sits between two equal springs: x -> c / 2 at the end of the pull
    assert abs(pull["x_nm"].iloc[-5:].mean() - 0.25) < 0.05
    # windows were seeded from the pull frames nearest their centres (0, 0.25, 0.5 nm):
    # w002 starts from the frame furthest along (x ~ 0.25), w000 near x = 0
    from openmm import app, unit

    def x0(w: str) -> float:
        pdb = app.PDBFile(str(tmp_path / "pmf" / "windows" / w / "topology.pdb"))
        return pdb.getPositions(asNumpy=True).value_in_unit(unit.nanometer)[0, 0] - 3.0

    assert abs(x0("w002") - pull["x_nm"].max()) < 0.02
    assert abs(x0("w000")) < 0.05


@pytest.mark.parametrize("change, field", [
    ({"windows": {"start": "-3.5 nm", "stop": "0.9 nm", "count": 5}}, "pmf.windows"),
    ({"k": "0 kJ/mol/nm**2"}, "k"),
    ({"k": "-5 kJ/mol/nm**2"}, "k"),
    ({"cv": {"type": "position", "group": "cation[0]"}}, "cation"),
    ({"cv": {"type": "position", "group": [7], "axis": "x", "origin": "3 nm"}}, "[0, 1)"),
    ({"sample_interval": "5 ps"}, "pmf.sample_interval"),
    ({"k": "400 kJ/mol"}, "k"),
])
def test_bad_input_exits_2_and_writes_nothing(tmp_path, capsys, change, field):
    dw = write_double_well(tmp_path / "in")
    path = _write(tmp_path, _config(tmp_path, dw, **change))
    assert main(["pmf", str(path)]) == 2
    err = capsys.readouterr().err
    assert field in err and "Traceback" not in err
    assert not (tmp_path / "pmf").exists()


def test_cv_on_frozen_atoms_refused(tmp_path, capsys):
    dw = write_double_well(tmp_path / "in")
    dw.system_xml.write_text(dw.system_xml.read_text().replace('mass="10', 'mass="0').replace(
        'mass="40', 'mass="0'))
    path = _write(tmp_path, _config(tmp_path, dw))
    assert main(["pmf", str(path)]) == 2
    assert "frozen" in capsys.readouterr().err
    assert not (tmp_path / "pmf").exists()


def test_pmf_verb_in_a_subprocess_help():
    out = subprocess.run([sys.executable, "-m", "predesolv", "pmf", "--help"],
                         capture_output=True, text=True, check=True).stdout
    assert "--serial" in out and "--estimate-only" in out


def test_charged_slit_cell_pmf_mechanics(tmp_path):
    """The insertion example, shrunk to seconds: 3 windows on the built 0.8 nm charged cell,
    a mid-plane wall and a coordination wall; pmf.csv + png with uncertainties."""
    import predesolv
    from predesolv.workflows.umbrella import run_pmf

    root = Path(__file__).resolve().parent.parent
    data = yaml.safe_load((root / "examples" / "pmf_slit_0.8nm.yaml").read_text())
    data.pop("pull")
    data["simulation"]["platform"] = "CPU"
    data["stages"] = [{"type": "minimize", "max_iterations": 100}]
    data["output"]["directory"] = str(tmp_path / "cell")
    pmf = data["pmf"]
    pmf["windows"] = {"values": ["-0.9 nm", "-0.8 nm", "-0.7 nm"]}
    # no pull here: the windows start from the start run, where the ion sits 0.52 nm below
    # the mid-plane, so the z wall is widened to hold it where it starts (a window whose
    # samples stay outside its wall is refused: tests/test_wallcheck.py)
    pmf["walls"][0].update(lower="-0.7 nm", upper="0.7 nm")
    pmf["walls"].append({"cv": {"type": "coordination", "partner": "DME", "r0": "0.30 nm"},
                         "upper": 8.0, "k": "50 kJ/mol"})
    pmf["stages"] = [{"type": "minimize", "max_iterations": 50},
                     {"type": "production", "duration": "0.8 ps"}]
    pmf["estimator"] = {"bins": 10, "bootstraps": 5, "decorrelate": False,
                        "min_effective_samples": 2}
    res = run_pmf(predesolv.load_config(data), serial=True)
    d = pd.read_csv(res.root / "pmf.csv")
    dF = d["dF_kJ_per_mol"].to_numpy()
    assert len(d) >= 3 and np.isfinite(dF).mean() >= 0.8 and np.nanmin(dF) >= 0
    assert (res.root / "pmf.png").stat().st_size > 0
    state = pd.read_csv(res.windows[0] / "state.csv")
    cv = state["cv (nm)"].to_numpy()
    assert np.all(np.abs(cv + 0.9) < 0.3)  # the restraint holds the ion near its window
    system = (res.windows[0] / "system.xml").read_text()
    assert system.count("predesolv_bias_") == 3  # bias + two walls in system.xml


def test_window_beyond_the_slit_refused(tmp_path, capsys):
    root = Path(__file__).resolve().parent.parent
    data = yaml.safe_load((root / "examples" / "pmf_slit_0.8nm.yaml").read_text())
    data["pmf"]["windows"] = {"start": "-0.5 nm", "stop": "1.8 nm", "count": 5}  # slit 1.5 nm
    data["output"]["directory"] = str(tmp_path / "out")
    path = _write(tmp_path, data)
    assert main(["validate", str(path), "--build"]) == 2
    err = capsys.readouterr().err
    assert "pmf.windows" in err and "beyond the slit" in err
    assert main(["pmf", str(path)]) == 2
    assert not (tmp_path / "out").exists()
