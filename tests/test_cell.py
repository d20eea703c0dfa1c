"""Composite electrode/electrolyte cells: charges, neutrality, metadata, energies."""

import json
from pathlib import Path

import numpy as np
import openmm
import pytest
from openmm import unit

from predesolv.config.electrode import ElectrodeConfig
from predesolv.config.electrolyte import ElectrolyteConfig
from predesolv.config.forcefield import ForceFieldConfig
from predesolv.errors import BuildError
from predesolv.systems.cell import build_cell
from predesolv.systems.charges import nonbonded_force, sigma_to_charge

FF = ForceFieldConfig(nonbonded_cutoff="0.7 nm")
EL = ElectrolyteConfig(salt="NaPF6", solvents={"DME": 1.0}, n_salt=4, n_solvent=24)


def _slit(**kw):
    base = dict(kind="slit", edge="zigzag", width="1.5 nm", length="1.3 nm",
                spacing="0.8 nm", layers_per_wall=2)
    base.update(kw)
    return ElectrodeConfig(**base)


def _charges(system, idx):
    nb = nonbonded_force(system)
    return np.array([nb.getParticleParameters(int(i))[0].value_in_unit(unit.elementary_charge)
                     for i in idx])


@pytest.fixture(scope="module")
def charged():
    ec = _slit(charge={"mode": "constant_charge", "sigma": "-0.05 C/m**2",
                       "apply_to": "slit_walls", "neutralize": "counter_electrode"},
               counter_electrode={"length": "0.5 nm"})
    return build_cell(EL, ec, FF, seed=3)


def test_constant_charge_sigma_and_neutral(charged):
    md = charged.metadata.to_dict()
    g = md["groups"]
    area = md["charges"]["area_nm2"]
    q_w = _charges(charged.system, g["electrode:working"]).sum()
    assert abs(q_w - sigma_to_charge(-0.05, area)) < 1e-6
    assert md["charges"]["realised_sigma_C_m2"] == pytest.approx(-0.05, abs=1e-9)
    q_c = _charges(charged.system, g["electrode:counter"]).sum()
    assert abs(q_w + q_c) < 1e-6
    assert abs(_charges(charged.system, range(charged.n_atoms)).sum()) < 1e-6
    # only the slit walls carry the charge
    walls = _charges(charged.system, g["electrode:walls"])
    assert np.allclose(walls, 0.0)


def test_metadata_and_frozen(charged):
    md = json.loads(charged.metadata.to_json())  # JSON-serialisable
    geo = md["geometry"]
    assert geo["kind"] == "slit" and geo["insertion"]["axis"] == "x"
    assert geo["insertion"]["direction"] == 1
    assert abs(geo["spacing_nm"][0] - 0.8) < 1e-4
    names = [r["name"] for r in geo["regions"]]
    assert names[0] == "inside" and "mouth" in names
    inside = geo["regions"][0]["bounds_nm"]
    assert inside["x"][0] == pytest.approx(geo["insertion"]["origin_nm"])
    assert inside["z"][1] - inside["z"][0] == pytest.approx(0.8, abs=1e-9)
    assert set(geo["fixed_axes"]) == {"x", "y", "z"}
    assert sorted(charged.frozen_indices()) == md["groups"]["frozen"]
    assert set(md["groups"]["electrode"]) == set(md["groups"]["frozen"])
    # electrolyte outside the carbon: no electrolyte atom inside the slit region
    pos = charged.positions.value_in_unit(unit.nanometer)
    el = np.setdiff1d(np.arange(charged.n_atoms), md["groups"]["electrode"])
    x, z = pos[el, 0], pos[el, 2]
    inside_mask = ((x > inside["x"][0]) & (x < inside["x"][1]) & (z > inside["z"][0])
                   & (z < inside["z"][1]))
    assert not inside_mask.any()
    assert md["requires"]["fixed_box"] is False


def test_mixed_precision_energy_matches_reference(charged):
    energies = []
    for name, props in (("Reference", {}), ("CPU", {"Threads": "1"})):
        ctx = openmm.Context(charged.system, openmm.VerletIntegrator(0.001),
                             openmm.Platform.getPlatformByName(name), props)
        ctx.setPositions(charged.positions)
        energies.append(ctx.getState(getEnergy=True).getPotentialEnergy()
                        .value_in_unit(unit.kilojoule_per_mole))
    assert abs(energies[0]) < 1e6  # no frozen C-C constant left
    assert abs(energies[0] - energies[1]) < 1.0


def test_neutralise_with_electrolyte_removes_anions():
    ec = _slit(charge={"mode": "constant_charge", "total": "-1.6 e", "apply_to": "all",
                       "neutralize": "electrolyte"})
    b = build_cell(EL, ec, FF, seed=1)
    md = b.metadata.to_dict()
    # charge scaling 0.8: -1.6 e = two anions removed
    assert md["charges"]["realised_total_e"] == pytest.approx(-1.6)
    assert len(md["groups"]["cation"]) == 4
    assert len(md["groups"]["anion"]) == 2 * 7
    assert abs(_charges(b.system, range(b.n_atoms)).sum()) < 1e-6


def test_non_neutral_is_refused():
    ec = _slit(charge={"mode": "constant_charge", "total": "-0.1 e", "apply_to": "all",
                       "neutralize": "electrolyte"})
    with pytest.raises(BuildError, match="electrode.charge"):
        build_cell(EL, ec, FF, seed=1)


def test_box_too_small_is_refused():
    with pytest.raises(BuildError, match="layers_per_wall"):
        build_cell(EL, _slit(layers_per_wall=1, spacing="0.4 nm"), FF, seed=1)


def test_x_barostat_keeps_electrode_rigid(charged):
    """Zero-strength bonds make each electrode one barostat molecule: shape is kept."""
    system = openmm.XmlSerializer.clone(charged.system) if hasattr(
        openmm.XmlSerializer, "clone") else openmm.XmlSerializer.deserialize(
        openmm.XmlSerializer.serialize(charged.system))
    baro = openmm.MonteCarloAnisotropicBarostat(openmm.Vec3(1000, 1000, 1000), 300,
                                                True, False, False, 1)
    system.addForce(baro)
    integ = openmm.LangevinMiddleIntegrator(300, 1, 0.0005)
    ctx = openmm.Context(system, integ, openmm.Platform.getPlatformByName("CPU"),
                         {"Threads": "1"})
    ctx.setPositions(charged.positions)
    openmm.LocalEnergyMinimizer.minimize(ctx, 10, 50)
    integ.step(30)
    st = ctx.getState(getPositions=True)
    box0 = charged.metadata.geometry.extra["box_nm"]
    box1 = [st.getPeriodicBoxVectors()[k][k].value_in_unit(unit.nanometer) for k in range(3)]
    assert box1[0] != pytest.approx(box0[0], abs=1e-9)  # the barostat did act on x
    assert box1[1:] == pytest.approx(box0[1:], abs=1e-12)
    w = charged.metadata.groups["electrode:working"]
    p0 = charged.positions.value_in_unit(unit.nanometer)[w]
    p1 = st.getPositions(asNumpy=True).value_in_unit(unit.nanometer)[w]
    shift = p1 - p0
    assert np.allclose(shift, shift[0], atol=1e-6)  # rigid translation only


def test_na_carbon_pair_override_in_slit_cell_runs():
    """A fitted Na-C cross term (pair override) on a slit cell with excluded frozen C-C pairs:
    every LJ force carries the same exclusions, the override is applied, and a Context runs."""
    from pathlib import Path

    import yaml

    from predesolv.builder import build_system
    from predesolv.config import parse_config
    from predesolv.forcefields.nonbonded import lj_forces

    root = Path(__file__).resolve().parents[1]
    data = yaml.safe_load((root / "examples" / "default.yaml").read_text())
    data["system"]["forcefield"]["pair_overrides"] = [
        {"type1": "NA_Na", "type2": "CAR_C", "sigma": "0.26 nm", "epsilon": "0.5 kJ/mol"}]
    cfg = parse_config(data, base_dir=root / "examples")
    built = build_system(cfg.system)
    forces = lj_forces(built.system)
    assert len(forces) >= 2
    n_excl = {f.getNumExclusions() for f in forces}
    assert len(n_excl) == 1, n_excl
    nb = next(f for f in built.system.getForces() if isinstance(f, openmm.NonbondedForce))
    assert nb.getNumExceptions() == forces[0].getNumExclusions()
    ctx = openmm.Context(built.system, openmm.VerletIntegrator(0.001),
                         openmm.Platform.getPlatformByName("CPU"))
    ctx.setPeriodicBoxVectors(*built.topology.getPeriodicBoxVectors())
    ctx.setPositions(built.positions)
    e = ctx.getState(getEnergy=True).getPotentialEnergy().value_in_unit(unit.kilojoule_per_mole)
    assert np.isfinite(e)


def test_restrained_flexible_electrode_moves_but_stays_near_sites():
    """flexible: atoms keep mass, the restraint energy is 0.5 k |dr|^2, and MD keeps the
    measured slit spacing within thermal spread of the requested d."""
    k = 5000.0  # kJ/mol/nm^2
    ec = _slit(charge={"mode": "constant_charge", "sigma": "-0.05 C/m**2",
                       "apply_to": "slit_walls", "neutralize": "counter_electrode"},
               counter_electrode={"length": "0.5 nm"},
               flexible={"restraint_k": f"{k} kJ/mol/nm**2"})
    built = build_cell(EL, ec, FF, seed=3)
    g = built.metadata.groups
    el = np.array(g["electrode"])
    assert g["frozen"] == [] and built.frozen_indices() == []
    assert g["electrode:restrained"] == sorted(el.tolist())
    assert built.metadata.extra["electrode_model"]["restraint_k_kJ_mol_nm2"] == k
    assert built.system.getParticleMass(int(el[0])).value_in_unit(unit.dalton) > 11
    # Restraint energy of a known displacement: 0.5 * k * 0.01^2 per displaced atom.
    for f in built.system.getForces():
        f.setForceGroup(1 if f.getName() == "predesolv_electrode_restraint" else 0)
    ctx = openmm.Context(built.system, openmm.VerletIntegrator(0.001),
                         openmm.Platform.getPlatformByName("Reference"))
    ctx.setPeriodicBoxVectors(*built.topology.getPeriodicBoxVectors())
    pos = built.positions.value_in_unit(unit.nanometer).copy()
    pos[el[:3], 2] += 0.01
    ctx.setPositions(pos)
    e = ctx.getState(getEnergy=True, groups={1}).getPotentialEnergy()
    assert e.value_in_unit(unit.kilojoule_per_mole) == pytest.approx(3 * 0.5 * k * 1e-4)
    # Short Langevin run: electrode atoms move, by about sqrt(3 kT / k) = 0.035 nm at most.
    del ctx
    integ = openmm.LangevinMiddleIntegrator(300, 1, 0.001)
    ctx = openmm.Context(built.system, integ, openmm.Platform.getPlatformByName("CPU"))
    ctx.setPeriodicBoxVectors(*built.topology.getPeriodicBoxVectors())
    ctx.setPositions(built.positions)
    openmm.LocalEnergyMinimizer.minimize(ctx, 10, 200)
    ctx.setVelocitiesToTemperature(300, 1)
    integ.step(200)
    new = ctx.getState(getPositions=True).getPositions(asNumpy=True).value_in_unit(unit.nanometer)
    box = np.diag(np.array([v.value_in_unit(unit.nanometer)
                            for v in built.topology.getPeriodicBoxVectors()]))
    d = new[el] - built.positions.value_in_unit(unit.nanometer)[el]
    d -= np.round(d / box) * box
    disp = np.linalg.norm(d, axis=1)
    assert disp.mean() > 1e-3 and disp.max() < 0.2


def test_flexible_with_constant_potential_is_refused():
    with pytest.raises(ValueError, match="flexible"):
        _slit(charge={"mode": "constant_potential", "delta_v": "1 V"},
              counter_electrode={"length": "0.5 nm"},
              flexible={"restraint_k": "5000 kJ/mol/nm**2"})


BOND = 0.142  # nm, C-C


@pytest.mark.parametrize("edge", ["zigzag", "armchair"])
@pytest.mark.parametrize("stacking", ["AB", "AA"])
def test_sigma_per_lattice_area(edge, stacking):
    """Charge on the slit walls / (2 walls x cells x cell length x box y) equals sigma; the
    cell lengths come from the honeycomb by hand (zigzag edge: 3 b along x, sqrt(3) b along
    y; armchair: the reverse), not from the builder."""
    ec = ElectrodeConfig(kind="slit", edge=edge, stacking=stacking, width="1.5 nm",
                         length="2.0 nm", spacing="1.0 nm", layers_per_wall=2,
                         charge={"mode": "constant_charge", "sigma": "-0.05 C/m**2",
                                 "apply_to": "slit_walls", "neutralize": "counter_electrode"},
                         counter_electrode={"length": "0.5 nm"})
    b = build_cell(EL, ec, FF, seed=3)
    cell_x, cell_y = (3 * BOND, 3**0.5 * BOND) if edge == "zigzag" else (3**0.5 * BOND, 3 * BOND)
    n_x, n_y = round(2.0 / cell_x), max(2, round(1.5 / cell_y))
    area_nm2 = 2 * (n_x * cell_x) * (n_y * cell_y)
    q = _charges(b.system, b.metadata.groups["electrode:slit_walls"]).sum()
    sigma = q * 1.602176634e-19 / (area_nm2 * 1e-18)
    assert sigma == pytest.approx(-0.05, rel=1e-6)


def test_sigma_all_is_per_exposed_area():
    """apply_to: all spreads the charge over the whole electrode; sigma refers to every
    surface the electrolyte touches: two edge faces (box y x box z) + both slit walls."""
    ec = _slit(charge={"mode": "constant_charge", "sigma": "-0.05 C/m**2", "apply_to": "all",
                       "neutralize": "counter_electrode"}, counter_electrode={"length": "0.5 nm"})
    b = build_cell(EL, ec, FF, seed=3)
    cell_x, cell_y = 3 * BOND, 3**0.5 * BOND
    n_x, n_y = round(1.3 / cell_x), max(2, round(1.5 / cell_y))
    box_y = n_y * cell_y
    box_z = 0.8 + 3 * 0.335  # d + (2 x layers_per_wall - 1) graphite gaps
    area_nm2 = 2 * box_y * box_z + 2 * (n_x * cell_x) * box_y
    q = _charges(b.system, b.metadata.groups["electrode:working"]).sum()
    assert q * 1.602176634e-19 / (area_nm2 * 1e-18) == pytest.approx(-0.05, rel=1e-6)


def test_thin_reservoir_warning(tmp_path, capsys):
    """validate --build warns for the 1.0 nm reservoirs of the demo cell, not for the
    science example (reservoir widths computed here from the built positions)."""
    from predesolv.cli import main

    root = Path(__file__).resolve().parents[1] / "examples"
    assert main(["validate", "--build", str(root / "default.yaml")]) == 0
    err = capsys.readouterr().err
    assert err.count("warning: reservoir") == 2 and "< 2 nm" in err
    assert main(["validate", "--build", str(root / "e2_slit_0.6nm.yaml")]) == 0
    assert "warning" not in capsys.readouterr().err
    from predesolv.builder import build_system
    from predesolv.config import load_config

    b = build_system(load_config(root / "e2_slit_0.6nm.yaml").system)
    x = b.positions.value_in_unit(unit.nanometer)[:, 0]
    el = np.setdiff1d(np.arange(b.n_atoms), b.metadata.groups["electrode"])
    w = sorted(b.metadata.groups["electrode:working"])
    lo_w, hi_w = x[w].min(), x[w].max()
    front = x[el][x[el] < lo_w]
    assert lo_w - front.min() > 2.5  # electrolyte spans > 2.5 nm in front of the mouth
    assert hi_w > lo_w
