"""Bulk electrolyte builder: counts, neutrality, packing, energies and input errors."""

from __future__ import annotations

import numpy as np
import openmm
import pydantic
import pytest
from openmm import unit

from predesolv.config.electrolyte import ElectrolyteConfig
from predesolv.config.forcefield import ForceFieldConfig
from predesolv.errors import BuildError, ConfigError
from predesolv.systems.electrolyte import (
    build_electrolyte,
    compute_composition,
    count_summary,
    electrolyte_species,
    molar_mass,
)
from predesolv.systems.packing import min_intermolecular_distance, pack_molecules

FF_SMALL = ForceFieldConfig(nonbonded_cutoff="0.8 nm")


@pytest.fixture(scope="module")
def dme_box():
    cfg = ElectrolyteConfig(salt="NaPF6", solvents={"DME": 1.0}, concentration="1.0 M",
                            box_length="2.0 nm")
    return build_electrolyte(cfg, FF_SMALL, seed=3)


def _charges(system):
    nb = [f for f in system.getForces() if isinstance(f, openmm.NonbondedForce)][0]
    return np.array([nb.getParticleParameters(i)[0].value_in_unit(unit.elementary_charge)
                     for i in range(system.getNumParticles())])


def test_molar_masses():
    assert molar_mass("DME") == pytest.approx(90.122, abs=0.01)
    assert molar_mass("EC") == pytest.approx(88.062, abs=0.01)
    assert molar_mass("PF6") + molar_mass("NA") == pytest.approx(167.95, abs=0.02)


def test_counts_for_molarity_in_box():
    cfg = ElectrolyteConfig(salt="NaPF6", solvents={"DME": 1.0}, concentration="1.0 M",
                            box_length="2.0 nm")
    comp = compute_composition(cfg)
    assert comp.n_salt == round(0.602214076 * 8.0)  # 1 M = 0.6022 ion pairs / nm^3
    # solvent fills the rest at the experimental density of DME (0.8637 g/cm3)
    v_salt = 70.9 / 602.214076
    expected = (8.0 - comp.n_salt * v_salt) * 0.8637 * 602.214076 / 90.122
    assert comp.n_solvent["DME"] == round(expected)


def test_volume_and_mole_fractions():
    vol = ElectrolyteConfig(solvents={"EC": 0.5, "DMC": 0.5}, n_salt=0, n_solvent=200,
                            temperature="298 K")
    c = compute_composition(vol).n_solvent
    # equal volumes: n_EC/n_DMC = (rho_EC/M_EC)/(rho_DMC/M_DMC) ~ 1.29 at 298 K
    assert c["EC"] + c["DMC"] == 200
    assert c["EC"] / c["DMC"] == pytest.approx(1.29, abs=0.03)
    mole = vol.model_copy(update={"fraction_basis": "mole"})
    assert compute_composition(mole).n_solvent == {"EC": 100, "DMC": 100}


def test_bulk_box_neutral_counts_groups(dme_box):
    counts = count_summary(dme_box)
    comp = dme_box.metadata.composition
    assert counts["NA"] == counts["PF6"] == comp["n_salt"] == 5
    assert counts["DME"] == comp["n_solvent"]["DME"]
    assert dme_box.n_atoms == 5 * 8 + 16 * counts["DME"] <= 1000
    q = _charges(dme_box.system)
    assert q.sum() == pytest.approx(0.0, abs=1e-9)
    g = dme_box.metadata.groups
    assert q[g["cation"]].sum() == pytest.approx(5 * 0.8)      # default charge scaling
    assert q[g["anion"]].sum() == pytest.approx(-5 * 0.8)
    assert len(g["anion_coord"]) == 30
    assert len(g["solvent_O:DME"]) == len(g["solvent_Oall:DME"]) == 2 * counts["DME"]
    assert len(g["solvent:DME"]) == 16 * counts["DME"]
    box = dme_box.topology.getPeriodicBoxVectors()
    assert box[0][0].value_in_unit(unit.nanometer) == pytest.approx(2.0)
    nb = [f for f in dme_box.system.getForces() if isinstance(f, openmm.NonbondedForce)][0]
    assert nb.getNonbondedMethod() == openmm.NonbondedForce.PME
    assert dme_box.system.getNumConstraints() > 0  # HBonds


def test_no_overlaps_and_whole_molecules(dme_box):
    xyz = dme_box.positions.value_in_unit(unit.nanometer)
    mol = np.array([a.residue.index for a in dme_box.topology.atoms()])
    assert min_intermolecular_distance(xyz, mol, [2.0] * 3) > 0.14
    for a, b in dme_box.topology.bonds():
        assert np.linalg.norm(xyz[a.index] - xyz[b.index]) < 0.2


def test_finite_energy_after_short_minimisation(dme_box):
    ctx = openmm.Context(dme_box.system, openmm.VerletIntegrator(0.001),
                         openmm.Platform.getPlatformByName("CPU"))
    ctx.setPositions(dme_box.positions)
    openmm.LocalEnergyMinimizer.minimize(ctx, 100.0, 30)
    e = ctx.getState(getEnergy=True).getPotentialEnergy().value_in_unit(
        unit.kilojoule_per_mole)
    assert np.isfinite(e) and e < 0


def test_carbonate_mixture_with_perchlorate_and_unscaled_charges():
    cfg = ElectrolyteConfig(salt="NaClO4", solvents={"EC": 0.5, "DMC": 0.5}, n_salt=3,
                            n_solvent=60)
    built = build_electrolyte(cfg, ForceFieldConfig(nonbonded_cutoff="0.8 nm",
                                                    charge_scaling=1.0), seed=1)
    counts = count_summary(built)
    assert counts["NA"] == counts["CLO"] == 3 and counts["EC"] + counts["DMC"] == 60
    q = _charges(built.system)
    g = built.metadata.groups
    assert q.sum() == pytest.approx(0, abs=1e-9)
    assert q[g["anion"]].sum() == pytest.approx(-3.0)
    assert len(g["anion_coord"]) == 12
    assert len(g["solvent_O:EC"]) == counts["EC"]          # carbonyl O only
    assert len(g["solvent_Oall:DMC"]) == 3 * counts["DMC"]
    assert built.metadata.species.to_dict() == {"cation": "Na", "anion": "ClO4",
                                                  "solvents": ["EC", "DMC"]}


def test_same_seed_same_positions():
    cfg = ElectrolyteConfig(solvents={"DMC": 1.0}, n_salt=1, n_solvent=30)
    ff = ForceFieldConfig(nonbonded_cutoff="0.7 nm")
    a = build_electrolyte(cfg, ff, seed=11).positions.value_in_unit(unit.nanometer)
    b = build_electrolyte(cfg, ff, seed=11).positions.value_in_unit(unit.nanometer)
    np.testing.assert_allclose(a, b)


def test_pack_into_region_around_fixed_atoms():
    comp = compute_composition(ElectrolyteConfig(solvents={"DME": 1.0}, n_salt=1,
                                                 n_solvent=8))
    region = [((0.0, 0.0, 1.2), (2.5, 2.5, 2.5))]
    species = electrolyte_species(comp, "NaPF6", regions=region)
    gx, gy = np.meshgrid(np.arange(0, 2.5, 0.14), np.arange(0, 2.5, 0.14))
    sheet = np.column_stack([gx.ravel(), gy.ravel(), np.full(gx.size, 1.0)])
    xyz = pack_molecules(species, [2.5, 2.5, 2.5], seed=5, tolerance=0.2, fixed=sheet)
    assert len(xyz) == 8 + 8 * 16
    d = xyz[:, None, :] - sheet[None, :, :]
    d -= np.round(d / 2.5) * 2.5
    assert np.sqrt((d ** 2).sum(-1)).min() > 0.14
    z = np.where(xyz[:, 2] < 0.2, xyz[:, 2] + 2.5, xyz[:, 2])  # region touches the box edge
    assert (z > 1.1).all() and (z < 2.7).all()


def test_random_packer_works_at_low_density():
    comp = compute_composition(ElectrolyteConfig(solvents={"EC": 1.0}, n_salt=1,
                                                 n_solvent=10))
    xyz = pack_molecules(electrolyte_species(comp, "NaPF6"), [3.0] * 3, seed=2,
                         packer="random")
    assert len(xyz) == 8 + 100


@pytest.mark.parametrize("kwargs,match", [
    (dict(salt="LiPF6"), "unknown salt 'LiPF6'"),
    (dict(solvents={"THF": 1.0}), "unknown solvent 'THF'"),
    (dict(solvents={"EC": 0.5, "DMC": 0.4}), "must sum to 1"),
    (dict(n_salt=-1, concentration=None), "greater than or equal to 0"),
    (dict(box_length=None), "exactly one of 'box_length'"),
])
def test_bad_config_values_are_rejected(kwargs, match):
    base = dict(salt="NaPF6", solvents={"DME": 1.0}, concentration="1 M", box_length="3 nm")
    base.update(kwargs)
    with pytest.raises(pydantic.ValidationError, match=match):
        ElectrolyteConfig(**base)


def test_builder_rechecks_constructed_configs():
    bad = ElectrolyteConfig.model_construct(
        salt="NaPF6", solvents={"DME": 0.7}, fraction_basis="volume", concentration=None,
        n_salt=1, box_length=None, n_solvent=10, temperature=298 * unit.kelvin,
        packing_tolerance=0.2 * unit.nanometer)
    with pytest.raises(ConfigError, match="electrolyte.solvents: solvent fractions sum"):
        compute_composition(bad)
    neg = bad.model_copy(update={"solvents": {"DME": 1.0}, "n_solvent": -4})
    with pytest.raises(ConfigError, match="electrolyte.n_solvent"):
        compute_composition(neg)


def test_impossible_concentration_and_small_box():
    with pytest.raises(BuildError, match="cannot fit"):
        compute_composition(ElectrolyteConfig(concentration="20 M", n_solvent=50))
    with pytest.raises(BuildError, match="more than the box volume"):
        compute_composition(ElectrolyteConfig(n_salt=200, box_length="2 nm"))
    with pytest.raises(BuildError, match="2 x nonbonded_cutoff"):
        build_electrolyte(ElectrolyteConfig(concentration="1 M", box_length="1.8 nm"),
                          ForceFieldConfig(nonbonded_cutoff="1.0 nm"), seed=1)


def test_anion_free_box_carries_the_cations_charge_and_no_anion():
    """E1's like-for-like box (Na+ in DME, no anion): net charge is the scaled cation charge
    (2 x 0.8 e), there is no anion, and the recorded density is the mass of what was packed
    (element masses, independent of the builder) over the box volume."""
    cfg = ElectrolyteConfig(solvents={"DME": 1.0}, n_salt=2, n_solvent=30, anion_free=True)
    built = build_electrolyte(cfg, ForceFieldConfig(nonbonded_cutoff="0.8 nm"), seed=3)
    counts = count_summary(built)
    assert counts == {"NA": 2, "DME": 30}
    nb = [f for f in built.system.getForces() if f.__class__.__name__ == "NonbondedForce"][0]
    q = sum(nb.getParticleParameters(i)[0].value_in_unit(unit.elementary_charge)
            for i in range(nb.getNumParticles()))
    assert q == pytest.approx(1.6, abs=1e-9)
    assert built.metadata.groups["anion"] == []
    mass = {"Na": 22.98977, "C": 12.011, "O": 15.9994, "H": 1.008}
    grams = sum(mass[a.element.symbol] for a in built.topology.atoms()) / 6.02214076e23
    L = built.metadata.composition["box_length_nm"]
    assert built.metadata.composition["initial_density_g_cm3"] == pytest.approx(
        grams / (L**3 * 1e-21), rel=1e-6)
    assert built.metadata.composition["anion_free"] is True
