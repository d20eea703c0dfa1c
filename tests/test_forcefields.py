"""Force-field XML, charges and the OPLS geometric combining rule (hand calculations)."""

from __future__ import annotations

import itertools
import math

import numpy as np
import openmm
import pytest
from openmm import app, unit

from predesolv.config.forcefield import ForceFieldConfig
from predesolv.errors import BuildError, ConfigError
from predesolv.forcefields.nonbonded import LJ_FORCE_NAME, apply_combining_rule
from predesolv.forcefields.parameterize import (
    MOLECULE_RESIDUES,
    create_system,
    load_molecule,
)

# Independent copy of forcefields/PARAMETERS.md: type -> (charge e, sigma nm, epsilon kJ/mol)
TABLE = {
    "NA_Na": (1.0, 0.333045, 0.011598),
    "PF6_P": (1.34, 0.374, 0.8368), "PF6_F": (-0.39, 0.312, 0.2552),
    "CLO_Cl": (1.176, 0.350, 0.1177 * 4.184), "CLO_O": (-0.544, 0.290, 0.2099 * 4.184),
    "DME_O": (-0.40, 0.290, 0.58576), "DME_CM": (0.11, 0.350, 0.276144),
    "DME_CE": (0.14, 0.350, 0.276144), "DME_H": (0.03, 0.250, 0.12552),
    "EC_C": (0.86, 0.375, 0.43932), "EC_O": (-0.50, 0.296, 0.87864),
    "EC_OS": (-0.45, 0.300, 0.71128), "EC_CT": (0.21, 0.350, 0.276144),
    "EC_H": (0.03, 0.242, 0.06276),
    # acyclic carbonates: OPLS-AA ester types opls_465-469/490, carbonyl C from neutrality
    "DMC_C": (0.59, 0.375, 0.43932), "DMC_O": (-0.43, 0.296, 0.87864),
    "DMC_OS": (-0.33, 0.300, 0.71128), "DMC_CT": (0.16, 0.350, 0.276144),
    "DMC_H": (0.03, 0.242, 0.06276),
    "EMC_C": (0.59, 0.375, 0.43932), "EMC_O": (-0.43, 0.296, 0.87864),
    "EMC_OS": (-0.33, 0.300, 0.71128), "EMC_CM": (0.16, 0.350, 0.276144),
    "EMC_CE": (0.19, 0.350, 0.276144), "EMC_CT": (-0.18, 0.350, 0.276144),
    "EMC_H": (0.03, 0.242, 0.06276), "EMC_HT": (0.06, 0.250, 0.12552),
}
NET = {"NA": 1, "PF6": -1, "CLO": -1, "DME": 0, "EC": 0, "DMC": 0, "EMC": 0}
REF = openmm.Platform.getPlatformByName("Reference")


def _charges(system):
    nb = [f for f in system.getForces() if isinstance(f, openmm.NonbondedForce)][0]
    return np.array([nb.getParticleParameters(i)[0].value_in_unit(unit.elementary_charge)
                     for i in range(system.getNumParticles())])


def _merge(resnames, shifts):
    top = app.Topology()
    xyz = []
    for res, shift in zip(resnames, shifts, strict=False):
        t, x = load_molecule(res)
        chain = top.addChain()
        r = top.addResidue(res, chain)
        atoms = [top.addAtom(a.name, a.element, r) for a in t.atoms()]
        for b in t.bonds():
            top.addBond(atoms[b[0].index], atoms[b[1].index])
        xyz.append(x + np.asarray(shift))
    return top, np.vstack(xyz)


def _lj_energy(top, xyz, cfg):
    system, types = create_system(top, cfg)
    for f in system.getForces():
        f.setForceGroup(1 if f.getName().startswith(LJ_FORCE_NAME) else 0)
    ctx = openmm.Context(system, openmm.VerletIntegrator(1e-3), REF)
    ctx.setPositions(xyz * unit.nanometer)
    e = ctx.getState(getEnergy=True, groups={1}).getPotentialEnergy()
    return e.value_in_unit(unit.kilojoule_per_mole), types


def test_forcefield_found_by_name_via_entry_point():
    ff = app.ForceField("predesolv-electrolytes.xml")
    top, _ = load_molecule("DME")
    assert ff.createSystem(top).getNumParticles() == 16


@pytest.mark.parametrize("res", ["EC", "DMC", "EMC", "DME"])
def test_solvent_charges_and_lj_match_the_parameter_table(res):
    """Every atom's charge and geometric-rule LJ coefficients (a = 2 sqrt(eps) sigma^6,
    b = 2 sqrt(eps) sigma^3) equal the independent TABLE copy of PARAMETERS.md."""
    top, _ = load_molecule(res)
    system, types = create_system(top, ForceFieldConfig(charge_scaling=1.0))
    lj = [f for f in system.getForces() if f.getName() == LJ_FORCE_NAME][0]
    q = _charges(system)
    for i, t in enumerate(types):
        qt, sig, eps = TABLE[t]
        assert q[i] == pytest.approx(qt, abs=1e-12), t
        a, b = lj.getParticleParameters(i)
        assert (a, b) == pytest.approx((2 * eps**0.5 * sig**6, 2 * eps**0.5 * sig**3),
                                       rel=1e-9), t


@pytest.mark.parametrize("res", MOLECULE_RESIDUES)
def test_every_molecule_parameterises_with_exact_net_charge(res):
    top, xyz = load_molecule(res)
    system, types = create_system(top, ForceFieldConfig(charge_scaling=1.0))
    q = _charges(system)
    assert q.sum() == pytest.approx(NET[res], abs=1e-9)
    assert len(types) == top.getNumAtoms() == system.getNumParticles()
    # the shipped geometry is bonded sensibly: every bond within 0.02 nm of 0.13 +- 0.04
    for a, b in top.bonds():
        assert 0.09 < np.linalg.norm(xyz[a.index] - xyz[b.index]) < 0.17


@pytest.mark.parametrize("res,scale", [("NA", 0.8), ("PF6", 0.8), ("CLO", 0.75),
                                       ("DME", 0.8)])
def test_charge_scaling_applies_to_ions_only(res, scale):
    top, _ = load_molecule(res)
    system, _ = create_system(top, ForceFieldConfig(charge_scaling=scale))
    assert _charges(system).sum() == pytest.approx(NET[res] * scale, abs=1e-9)


def test_charge_scaling_default_is_documented_value():
    assert ForceFieldConfig().charge_scaling == 0.8


def _hand_lj(types_a, xa, types_b, xb, rule="geometric", overrides=None):
    e = 0.0
    pairs_a = list(zip(types_a, xa, strict=True))
    pairs_b = list(zip(types_b, xb, strict=True))
    for (ta, ra), (tb, rb) in itertools.product(pairs_a, pairs_b):
        _, sa, ea = TABLE[ta]
        _, sb, eb = TABLE[tb]
        s = math.sqrt(sa * sb) if rule == "geometric" else 0.5 * (sa + sb)
        eps = math.sqrt(ea * eb)
        if overrides and frozenset((ta, tb)) in overrides:
            s, eps = overrides[frozenset((ta, tb))]
        r = float(np.linalg.norm(ra - rb))
        e += 4 * eps * ((s / r) ** 12 - (s / r) ** 6)
    return e


@pytest.mark.parametrize("pair,shift", [(("DME", "DME"), (0.45, 0.1, 0.05)),
                                        (("NA", "EC"), (0.40, 0.0, 0.0)),
                                        (("NA", "DME"), (0.0, 0.42, 0.0)),
                                        (("PF6", "NA"), (0.36, 0.0, 0.0))])
@pytest.mark.parametrize("rule", ["geometric", "lorentz-berthelot"])
def test_intermolecular_lj_matches_hand_calculation(pair, shift, rule):
    cfg = ForceFieldConfig(combining_rule=rule, charge_scaling=1.0, constraints="none")
    top, xyz = _merge(pair, [(0, 0, 0), shift])
    n_a = load_molecule(pair[0])[0].getNumAtoms()
    e_ab, types = _lj_energy(top, xyz, cfg)
    e_a, _ = _lj_energy(*_merge(pair[:1], [(0, 0, 0)]), cfg)
    e_b, _ = _lj_energy(*_merge(pair[1:], [shift]), cfg)
    hand = _hand_lj(types[:n_a], xyz[:n_a], types[n_a:], xyz[n_a:], rule)
    assert e_ab - e_a - e_b == pytest.approx(hand, rel=1e-6, abs=1e-6)
    assert abs(hand) > 0.05  # the check is not vacuous


def test_geometric_and_lb_differ_for_na_o():
    # sigma(Na)=0.333, sigma(O_EC)=0.296: geometric 0.31397 vs LB 0.31452 nm
    top, xyz = _merge(("NA", "EC"), [(0, 0, 0), (0.40, 0.0, 0.0)])
    g, _ = _lj_energy(top, xyz, ForceFieldConfig(constraints="none"))
    lb, _ = _lj_energy(top, xyz, ForceFieldConfig(constraints="none",
                                                  combining_rule="lorentz-berthelot"))
    assert abs(g - lb) > 1e-4


def test_one_four_pairs_use_geometric_rule_and_half_scaling():
    top, _ = load_molecule("DME")
    system, types = create_system(top, ForceFieldConfig(charge_scaling=1.0,
                                                        constraints="none"))
    nb = [f for f in system.getForces() if isinstance(f, openmm.NonbondedForce)][0]
    lj = [f for f in system.getForces() if f.getName() == LJ_FORCE_NAME][0]
    assert lj.getNumExclusions() == nb.getNumExceptions()
    n14 = 0
    for k in range(nb.getNumExceptions()):
        i, j, qq, sig, eps = nb.getExceptionParameters(k)
        if eps.value_in_unit(unit.kilojoule_per_mole) == 0:
            continue
        n14 += 1
        qi, si, ei = TABLE[types[i]]
        qj, sj, ej = TABLE[types[j]]
        assert sig.value_in_unit(unit.nanometer) == pytest.approx(math.sqrt(si * sj))
        assert eps.value_in_unit(unit.kilojoule_per_mole) == pytest.approx(
            0.5 * math.sqrt(ei * ej))
        assert qq.value_in_unit(unit.elementary_charge ** 2) == pytest.approx(0.5 * qi * qj)
    assert n14 == 21  # DME: 3 + 3 + 9 + 3 + 3 proper 1-4 pairs
    for i in range(system.getNumParticles()):  # LJ no longer in NonbondedForce
        assert nb.getParticleParameters(i)[2].value_in_unit(unit.kilojoule_per_mole) == 0


def test_pair_override_takes_effect():
    ov = {frozenset(("NA_Na", "EC_O")): (0.25, 1.5)}
    cfg = ForceFieldConfig(constraints="none", pair_overrides=[
        {"type1": "EC_O", "type2": "NA_Na", "sigma": "0.25 nm", "epsilon": "1.5 kJ/mol"}])
    top, xyz = _merge(("NA", "EC"), [(0, 0, 0), (0.40, 0.0, 0.0)])
    e_ab, types = _lj_energy(top, xyz, cfg)
    e_b, _ = _lj_energy(*_merge(("EC",), [(0.40, 0.0, 0.0)]), cfg)
    hand = _hand_lj(types[:1], xyz[:1], types[1:], xyz[1:], overrides=ov)
    plain = _hand_lj(types[:1], xyz[:1], types[1:], xyz[1:])
    assert e_ab - e_b == pytest.approx(hand, rel=1e-6)
    assert abs(hand - plain) > 0.01


def test_apply_combining_rule_refuses_bad_input():
    top, _ = load_molecule("EC")
    system, types = create_system(top, ForceFieldConfig())
    with pytest.raises(BuildError, match="already applied"):
        apply_combining_rule(system, types)
    ff = app.ForceField("predesolv-electrolytes.xml")
    fresh = ff.createSystem(top)
    with pytest.raises(BuildError, match="one type name per particle"):
        apply_combining_rule(fresh, types[:-1])
    with pytest.raises(ConfigError, match="not in the System"):
        apply_combining_rule(fresh, types, pair_overrides={("NA_Na", "EC_O"): (0.3, 0.1)})
    with pytest.raises(ConfigError, match="unknown combining rule"):
        apply_combining_rule(fresh, types, rule="arithmetic")


def test_override_with_unknown_type_name_is_an_error():
    top, _ = load_molecule("NA")
    cfg = ForceFieldConfig(pair_overrides=[{"type1": "NA_Na", "type2": "C_graphite_typo",
                                            "sigma": "0.3 nm", "epsilon": "0.1 kJ/mol"}])
    with pytest.raises(ConfigError, match="not defined"):
        create_system(top, cfg)


def test_override_in_periodic_box_with_long_range_correction():
    """Override force works with PME and a cutoff; only the overridden pair changes."""
    top, xyz = _merge(("NA", "EC", "DME"), [(0, 0, 0), (0.40, 0.0, 0.0), (1.0, 1.0, 1.0)])
    top.setPeriodicBoxVectors(np.eye(3) * 2.0 * unit.nanometer)
    energies = {}
    for label, ov in [("plain", []), ("override", [{"type1": "NA_Na", "type2": "EC_O",
                                                    "sigma": "0.25 nm",
                                                    "epsilon": "1.5 kJ/mol"}])]:
        cfg = ForceFieldConfig(constraints="none", nonbonded_cutoff="0.9 nm",
                               pair_overrides=ov, dispersion_correction=False)
        energies[label], types = _lj_energy(top, xyz, cfg)
    i_o = types.index("EC_O")
    r = float(np.linalg.norm(xyz[0] - xyz[i_o]))
    s_d, e_d = math.sqrt(0.333045 * 0.296), math.sqrt(0.011598 * 0.87864)

    def lj(s, e):
        return 4 * e * ((s / r) ** 12 - (s / r) ** 6)

    assert energies["override"] - energies["plain"] == pytest.approx(
        lj(0.25, 1.5) - lj(s_d, e_d), rel=1e-4, abs=2e-4)

    cfg = ForceFieldConfig(nonbonded_cutoff="0.9 nm", pair_overrides=[
        {"type1": "NA_Na", "type2": "EC_O", "sigma": "0.25 nm", "epsilon": "1.5 kJ/mol"}])
    system, _ = create_system(top, cfg)
    names = {f.getName(): f for f in system.getForces()}
    assert names[LJ_FORCE_NAME + "_override"].getUseLongRangeCorrection()
    assert names[LJ_FORCE_NAME].getUseLongRangeCorrection()


def test_atom_types_found_when_atom_names_differ():
    from predesolv.forcefields.nonbonded import atom_type_names
    from predesolv.forcefields.parameterize import load_forcefield

    top, _ = load_molecule("DMC")
    for k, atom in enumerate(top.atoms()):
        atom.name = f"X{k}"
    types = atom_type_names(top, load_forcefield())
    assert types.count("DMC_O") == 1 and types.count("DMC_OS") == 2
    assert types.count("DMC_H") == 6 and types[1] == "DMC_C"


@pytest.mark.parametrize("resname", ["EMC", "EC", "DME", "PF6"])
def test_graph_matching_equals_name_matching(resname):
    """Renamed atoms get the same types by bond-graph matching as by their real names."""
    from predesolv.forcefields.nonbonded import atom_type_names
    from predesolv.forcefields.parameterize import load_forcefield

    ff = load_forcefield()
    top, _ = load_molecule(resname)
    by_name = atom_type_names(top, ff)
    for k, atom in enumerate(top.atoms()):
        atom.name = f"X{k}"
    assert atom_type_names(top, ff) == by_name


def test_add_lj_exclusions_reaches_override_forces():
    from predesolv.forcefields.nonbonded import add_lj_exclusions, lj_forces

    top, xyz = _merge(("NA", "EC"), [(0, 0, 0), (0.40, 0.0, 0.0)])
    cfg = ForceFieldConfig(pair_overrides=[{"type1": "NA_Na", "type2": "EC_O",
                                            "sigma": "0.25 nm", "epsilon": "1.5 kJ/mol"}])
    system, _ = create_system(top, cfg)
    forces = lj_forces(system)
    assert len(forces) == 2
    before = [f.getNumExclusions() for f in forces]
    assert add_lj_exclusions(system, [(0, 2), (2, 0), (0, 3)]) == 2
    assert [f.getNumExclusions() for f in forces] == [b + 2 for b in before]


def test_package_helper_gives_the_documented_model_and_plain_forcefield_does_not():
    """``predesolv.forcefields.model.create_system`` = the builders' model (geometric LJ, ions x
    0.8); a System from ``app.ForceField`` alone has full ionic charges and LB mixing. The
    expected charges come from the independent TABLE; the expected LJ from the hand sum."""
    from predesolv.forcefields import model

    top, xyz = _merge(("NA", "DME", "PF6"), [(0, 0, 0), (0.0, 0.42, 0.0), (0.36, 0.0, 0.0)])
    helper = model.create_system(top, constraints="none")
    plain = app.ForceField("predesolv-electrolytes.xml").createSystem(top)
    assert _charges(helper)[0] == pytest.approx(0.8 * TABLE["NA_Na"][0], abs=1e-12)
    assert _charges(plain)[0] == pytest.approx(TABLE["NA_Na"][0], abs=1e-12)
    assert any(f.getName() == LJ_FORCE_NAME for f in helper.getForces())
    assert not any(isinstance(f, openmm.CustomNonbondedForce) for f in plain.getForces())
    e_helper, _ = _lj_energy(top, xyz, ForceFieldConfig(constraints="none"))
    for f in helper.getForces():
        f.setForceGroup(1 if f.getName().startswith(LJ_FORCE_NAME) else 0)
    ctx = openmm.Context(helper, openmm.VerletIntegrator(1e-3), REF)
    ctx.setPositions(xyz * unit.nanometer)
    e = ctx.getState(getEnergy=True, groups={1}).getPotentialEnergy()
    assert e.value_in_unit(unit.kilojoule_per_mole) == pytest.approx(e_helper, rel=1e-9)
