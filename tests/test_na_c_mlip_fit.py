"""Classical Na–C term fitted to MLIP energies: data geometry, fit, OpenMM force, barriers,
and the committed results (docs/results/na_c_mlip, forcefields/sets/na-c-mlip-*.yaml)."""

from __future__ import annotations

import itertools
from pathlib import Path

import numpy as np
import openmm
import pandas as pd
import pytest
import yaml
from openmm import unit

from predesolv.analysis.pmf import KJ_PER_MOL_PER_EV
from predesolv.config.forcefield import ForceFieldConfig
from predesolv.forcefields.parameter_sets import sets_dir
from predesolv.systems.ion_slit import build_ion_slit
from predesolv.workflows.barrier_scan import effective_pair, scan_one
from predesolv.workflows.na_c_mlip_barrier import classical_barrier
from predesolv.workflows.na_c_mlip_data import (
    carbon,
    carbon_distances,
    configurations,
)
from predesolv.workflows.na_c_mlip_fit import CUTOFF_NM, FormFit, fit_all, fit_form
from predesolv.workflows.na_c_mlip_report import SET_NAMES, NaCMlipFitDir

ROOT = Path(__file__).resolve().parents[1]
RESULTS = ROOT / "docs/results/na_c_mlip"


def _brute_distances(cfg, cutoff: float) -> np.ndarray:
    """Every carbon image within ``cutoff`` by explicit loops over +-2 cells (no wrapping)."""
    pore = carbon(cfg.spacing_nm, cfg.stacking)
    out = []
    for i, j, k in itertools.product(range(-2, 3), repeat=3):
        shift = np.array([i, j, k]) * pore.box_nm
        for c in pore.positions_nm:
            r = float(np.linalg.norm(c + shift - np.asarray(cfg.xyz_nm)))
            if r < cutoff:
                out.append(r)
    return np.sort(out)


@pytest.mark.parametrize("index", [0, 17, 60, 150, 260, 392])
def test_carbon_distances_match_explicit_images(index):
    cfg = configurations()[index]
    mine = carbon_distances(cfg, CUTOFF_NM)
    ref = _brute_distances(cfg, CUTOFF_NM)
    assert len(mine) == len(ref) and len(ref) > 100
    np.testing.assert_allclose(mine, ref, atol=1e-9)


def test_held_out_rule_and_sizes():
    cfgs = configurations()
    held = {c.group for c in cfgs if c.held_out}
    assert held == {"AA 0.40 nm", "AA 0.45 nm", "AA 0.50 nm", "AA 0.55 nm", "AA 0.60 nm",
                    "AA 0.70 nm", "AB 0.45 nm", "AB 0.55 nm"}
    for c in cfgs:  # Na never closer than 0.17 nm to a plane in a slit
        if c.group != "sheet":
            assert min(c.height_nm, c.spacing_nm - c.height_nm) >= 0.17 - 1e-9


def test_fit_recovers_a_known_born_mayer_term():
    """Energies made from a known A exp(-r/rho) - C4/r^4 + c (explicit-image sums) are fitted
    back exactly; the wrong forms are worse."""
    cfgs = configurations()
    a, rho, c4, c = 6790.56, 0.0225, 3.6e-4, -1.27
    dist = [_brute_distances(cf, CUTOFF_NM) if k % 40 == 0 else carbon_distances(cf, CUTOFF_NM)
            for k, cf in enumerate(cfgs)]
    e = np.array([a * np.sum(np.exp(-r / rho)) - c4 * np.sum(r ** -4.0) + c for r in dist])
    fit = fit_form("born-mayer-c4", cfgs, e, dist)
    assert fit.rho_nm == pytest.approx(rho)
    assert fit.coef_eV["A"] == pytest.approx(a, rel=1e-6)
    assert fit.coef_eV["C4"] == pytest.approx(c4, rel=1e-6)
    assert fit.coef_eV["c"] == pytest.approx(c, abs=1e-6)
    assert fit.held_out_rmse_eV < 1e-6
    assert fit_form("lj-12-6", cfgs, e, dist).held_out_rmse_eV > 10 * fit.held_out_rmse_eV


def test_openmm_pair_potential_equals_the_formula():
    """The OpenMM correction force gives the Born–Mayer + C4 + C6 pair sum (explicit loops)."""
    a_kj, rho, c4, c6 = 6.5e5, 0.0225, 0.035, 0.002
    ff = ForceFieldConfig(pair_potentials=[{
        "type1": "NA_Na", "type2": "CAR_C", "A": f"{a_kj} kJ/mol", "rho": f"{rho} nm",
        "C4": f"{c4} kJ/mol*nm**4", "C6": f"{c6} kJ/mol*nm**6"}])
    built = build_ion_slit(0.5, ("Na",), stacking="AB", forcefield=ff)
    assert any(f.getName() == "predesolv_LJ_pair" for f in built.system.getForces())
    pos = np.asarray(built.positions.value_in_unit(unit.nanometer))
    ion = int(built.metadata.groups["cation"][0])
    carbons = pos[np.asarray(built.metadata.groups["electrode"])]
    box = np.asarray(built.metadata.ion_slit().box_nm)
    ctx = openmm.Context(built.system, openmm.VerletIntegrator(0.001),
                         openmm.Platform.getPlatformByName("Reference"))

    def omm(p):
        q = pos.copy()
        q[ion] = p
        ctx.setPositions(q * unit.nanometer)
        return ctx.getState(getEnergy=True).getPotentialEnergy().value_in_unit(
            unit.kilojoule_per_mole)

    def formula(p):
        total = 0.0
        for cpos in carbons:
            d = cpos - p
            d -= box * np.round(d / box)
            r = float(np.linalg.norm(d))
            if r < 1.0:
                total += a_kj * np.exp(-r / rho) - c4 / r**4 - c6 / r**6
        return total

    p1 = pos[ion].copy()
    for shift in ([0.05, 0.07, 0.06], [-0.11, 0.02, -0.04], [0.2, -0.13, 0.0]):
        p2 = p1 + np.array(shift)
        assert omm(p2) - omm(p1) == pytest.approx(formula(p2) - formula(p1), rel=1e-6)


@pytest.mark.parametrize("stacking,spacing", [("AB", 0.40), ("AA", 0.45)])
def test_classical_barrier_matches_the_openmm_barrier_scan(stacking, spacing):
    """The same 12-6 pair (the default Na–C mix) gives the same barrier through
    na_c_mlip_barrier (NumPy sums) and barrier_scan (OpenMM energies, its own grid)."""
    sigma, eps_kj = effective_pair()
    eps = eps_kj / KJ_PER_MOL_PER_EV
    fit = FormFit("lj-12-6", {"a": 4 * eps * sigma**12, "b": 4 * eps * sigma**6, "c": 0.0},
                  None, None, np.zeros(0), 0.0, 0.0, 0.0)
    ref = scan_one(spacing, stacking)
    mine = classical_barrier(fit, spacing, stacking)
    assert ref.E_saddle_kJ_per_mol - ref.E_site_kJ_per_mol > 3.0
    assert mine.barrier_eV * KJ_PER_MOL_PER_EV == pytest.approx(
        ref.E_saddle_kJ_per_mol - ref.E_site_kJ_per_mol, abs=0.5)


def test_both_terms_for_one_pair_is_refused():
    with pytest.raises(ValueError, match="keep one term per pair"):
        ForceFieldConfig(pair_overrides=[{"type1": "NA_Na", "type2": "CAR_C",
                                          "sigma": "0.3 nm", "epsilon": "1 kJ/mol"}],
                         pair_potentials=[{"type1": "CAR_C", "type2": "NA_Na",
                                           "A": "1 kJ/mol", "rho": "0.02 nm"}])


@pytest.mark.parametrize("model", list(SET_NAMES))
def test_committed_fit_reproduces_from_committed_energies(model):
    """Refitting the committed MLIP energies gives the committed errors and the shipped set."""
    cfgs = configurations()
    energies = NaCMlipFitDir(RESULTS).read_energies(cfgs)
    fits = fit_all(cfgs, energies[model], [carbon_distances(c, CUTOFF_NM) for c in cfgs])
    table = pd.read_csv(RESULTS / "fits.csv")
    for _, row in table[table["model"] == model].iterrows():
        assert fits[row["form"]].held_out_rmse_eV == pytest.approx(row["held_out_rmse_eV"],
                                                                   rel=1e-4)
    shipped = table[(table["model"] == model) & table["shipped"]].iloc[0]
    fit = fits[shipped["form"]]
    (pot,) = yaml.safe_load((sets_dir() / f"{SET_NAMES[model]}.yaml").read_text())[
        "pair_potentials"]
    assert float(pot["rho"].split()[0]) == pytest.approx(fit.rho_nm)
    assert float(pot["A"].split()[0]) == pytest.approx(fit.coef_eV["A"] * KJ_PER_MOL_PER_EV,
                                                       rel=1e-5)
    # the set loads through the config layer and builds
    ff = ForceFieldConfig(parameter_sets=[SET_NAMES[model]])
    assert len(ff.pair_potentials) == 1
    built = build_ion_slit(0.5, ("Na",), stacking="AB", forcefield=ff)
    assert any(f.getName() == "predesolv_LJ_pair" for f in built.system.getForces())


def test_docs_show_the_committed_tables_and_numbers():
    """docs/mlip.md carries the generated tables and the numbers of its text as committed."""
    import json

    from predesolv.workflows.na_c_mlip_report import barriers_markdown, fits_markdown

    doc = (ROOT / "docs/mlip.md").read_text()
    assert "\n".join(fits_markdown(RESULTS)) in doc
    assert "\n".join(barriers_markdown(RESULTS)) in doc
    well = json.loads((RESULTS / "fit.json").read_text())["sheet_well"]
    for key, label in (("chgnet-0.3.0 born-mayer-c4", "na-c-mlip-chgnet"),
                       ("sevennet-0 born-mayer-c4", "na-c-mlip-sevennet")):
        w = well[key]
        assert f"{w['energy_eV']:.2f} eV at {w['height_nm']:.3f} nm (`{label}`)" in doc.replace(
            "−", "-")
    d = well["default Na-C mix"]
    assert f"{d['energy_eV']:.3f} eV at {d['height_nm']:.3f} nm" in doc.replace("−", "-")
    table = pd.read_csv(RESULTS / "energies.csv")
    mid = table[(table["group"] == "AB 0.60 nm") & (table["site"] == "hollow")
                & (np.isclose(table["height_nm"], 0.30))]["E_mlip chgnet-0.3.0"].iloc[0]
    one = table[(table["group"] == "sheet") & (table["site"] == "hollow")
                & (np.isclose(table["height_nm"], 0.30))]["E_mlip chgnet-0.3.0"].iloc[0]
    assert f"at {mid:.3f} eV, against {one:.3f} eV".replace("-", "−") in doc


def test_barrier_scan_refuses_a_pair_potential():
    from predesolv.errors import PredesolvRuntimeError

    ff = ForceFieldConfig(parameter_sets=["na-c-mlip-sevennet"])
    with pytest.raises(PredesolvRuntimeError, match="classical_barrier"):
        scan_one(0.5, "AB", forcefield=ff)
