"""The fitted Na–C term: the fit recovers a known pair from OpenMM barriers, the shipped
parameter set is what a YAML selects, and the committed E5 table is reproduced."""

from __future__ import annotations

from pathlib import Path

import pandas as pd
import pytest
import yaml
from openmm import unit

from predesolv.cli import main
from predesolv.config.forcefield import ForceFieldConfig
from predesolv.forcefields.parameter_sets import available_sets, sets_dir
from predesolv.workflows.barrier_scan import scan_one
from predesolv.workflows.na_c_fit import SlitScan, fit_na_c

ROOT = Path(__file__).resolve().parents[1]
SET = "na-c-ren2026"


def _override(sigma: float, eps: float) -> ForceFieldConfig:
    return ForceFieldConfig(pair_overrides=[{"type1": "NA_Na", "type2": "CAR_C",
                                             "sigma": f"{sigma} nm",
                                             "epsilon": f"{eps} kJ/mol"}])


def test_fit_recovers_a_known_pair_from_openmm_barriers():
    """Targets made by full OpenMM barrier scans with a known pair (sigma 0.26 nm, eps 2 kJ/mol)
    and that pair's own one-sheet height: the fit, which scales one eps = 1 surface per
    sigma, must return the pair."""
    sigma0, eps0 = 0.26, 2.0
    targets = {d: scan_one(d, "AB", forcefield=_override(sigma0, eps0), grid_nm=0.02).barrier_eV
               for d in (0.40, 0.45)}
    h0, _ = SlitScan.build(1.6, "AB", 0.02, z_above_wall=0.6).adsorption(sigma0)
    fit = fit_na_c("AB", targets, target_height_nm=h0, sigma_range_nm=(0.25, 0.27),
                   sigma_step_nm=0.005, grid_nm=0.02)
    assert fit.best.sigma_nm == pytest.approx(sigma0, abs=0.0011)
    assert fit.best.epsilon_kJ_per_mol == pytest.approx(eps0, rel=0.05)
    assert max(abs(r) for r in fit.residuals_eV) < 0.005


def test_yaml_selects_the_shipped_set_and_records_its_numbers():
    raw = yaml.safe_load((sets_dir() / f"{SET}.yaml").read_text())["pair_overrides"][0]
    assert SET in available_sets()
    ff = ForceFieldConfig(parameter_sets=[SET])
    (o,) = ff.pair_overrides
    assert (o.type1, o.type2) == ("NA_Na", "CAR_C")
    assert f"{o.sigma.value_in_unit(unit.nanometer):.5f} nm" == raw["sigma"]
    assert f"{o.epsilon.value_in_unit(unit.kilojoule_per_mole):.5f} kJ/mol" == raw["epsilon"]
    # reloading the resolved config (as a resumed run does) does not add the pair twice
    again = ForceFieldConfig(**{**ff.model_dump(mode="json")})
    assert len(again.pair_overrides) == 1
    # an explicit override of the same pair wins over the set
    mine = ForceFieldConfig(parameter_sets=[SET], pair_overrides=[
        {"type1": "CAR_C", "type2": "NA_Na", "sigma": "0.3 nm", "epsilon": "0.1 kJ/mol"}])
    assert [o.sigma.value_in_unit(unit.nanometer) for o in mine.pair_overrides] == [0.3]


def test_unknown_set_is_a_clean_input_error(tmp_path, capsys):
    cfg = yaml.safe_load((ROOT / "examples" / "barrier_scan.yaml").read_text())
    cfg["forcefield"]["parameter_sets"] = ["no-such-set"]
    (tmp_path / "c.yaml").write_text(yaml.safe_dump(cfg))
    assert main(["barrier-scan", str(tmp_path / "c.yaml"), "--out", str(tmp_path / "o")]) == 2
    err = capsys.readouterr().err
    assert "no-such-set" in err and SET in err and "Traceback" not in err
    assert not (tmp_path / "o").exists()


def test_committed_e5_row_is_reproduced():
    """docs/results/na_c_fit/barriers.csv (from `predesolv fit-na-c`): the fitted AB barrier
    at 0.45 nm, recomputed through a config that selects the shipped set."""
    table = pd.read_csv(ROOT / "docs" / "results" / "na_c_fit" / "barriers.csv")
    row = table[(table.forcefield == "fitted") & (table.stacking == "AB")
                & (table.spacing_nm.round(2) == 0.45)].iloc[0]
    got = scan_one(0.45, "AB", forcefield=ForceFieldConfig(parameter_sets=[SET]), grid_nm=0.005)
    assert got.barrier_eV == pytest.approx(row.barrier_eV, abs=1e-4)


def test_fit_refuses_to_overwrite(tmp_path, capsys):
    (tmp_path / "fit.json").write_text("{}")
    assert main(["fit-na-c", "--out", str(tmp_path)]) == 2
    assert "--overwrite" in capsys.readouterr().err
