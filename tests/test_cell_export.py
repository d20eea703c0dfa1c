"""ParmEd export of a constant-charge cell to GROMACS and AMBER files."""

import json

import numpy as np
import parmed
import pytest
from openmm import unit

from predesolv.config.electrode import ElectrodeConfig
from predesolv.config.electrolyte import ElectrolyteConfig
from predesolv.config.forcefield import ForceFieldConfig
from predesolv.errors import BuildError
from predesolv.systems.cell import build_cell
from predesolv.systems.cell_export import export_system
from predesolv.systems.charges import nonbonded_force

FF = ForceFieldConfig(nonbonded_cutoff="0.7 nm")
EL = ElectrolyteConfig(salt="NaPF6", solvents={"DME": 1.0}, n_salt=2, n_solvent=16)


def charged_slit(edge: str, spacing: str, seed: int):
    """A small constant-charge slit cell (2 sheets per wall, sigma = -0.05 C/m^2)."""
    ec = ElectrodeConfig(kind="slit", edge=edge, width="1.5 nm", length="1.0 nm",
                         spacing=spacing, layers_per_wall=2,
                         charge={"mode": "constant_charge", "sigma": "-0.05 C/m**2",
                                 "apply_to": "slit_walls", "neutralize": "counter_electrode"},
                         counter_electrode={"length": "0.5 nm"})
    return build_cell(EL, ec, FF, seed=seed)


def test_export_roundtrip(tmp_path):
    b = charged_slit("armchair", "0.6 nm", seed=1)
    nb = nonbonded_force(b.system)
    q = np.array([nb.getParticleParameters(i)[0].value_in_unit(unit.elementary_charge)
                  for i in range(b.n_atoms)])
    files = export_system(b, tmp_path, ("gromacs", "amber"))
    gro = parmed.load_file(files["gromacs"][0], xyz=files["gromacs"][1])
    amb = parmed.load_file(files["amber"][0], xyz=files["amber"][1])
    for s in (gro, amb):
        assert len(s.atoms) == b.n_atoms
        qs = np.array([a.charge for a in s.atoms])
        np.testing.assert_allclose(qs, q, atol=1e-4)
        assert abs(qs.sum()) < 1e-3
    np.testing.assert_allclose(gro.coordinates / 10.0,
                               b.positions.value_in_unit(unit.nanometer), atol=2e-3)


def test_export_refuses_constant_potential(tmp_path):
    ec = ElectrodeConfig(kind="slit", edge="zigzag", width="1.5 nm", length="1.0 nm",
                         spacing="0.8 nm", layers_per_wall=2,
                         charge={"mode": "constant_potential", "delta_v": "1 V"},
                         counter_electrode={"length": "0.5 nm"})
    b = build_cell(EL, ec, FF, seed=1)
    with pytest.raises(BuildError, match="constant-potential"):
        export_system(b, tmp_path)


def test_export_keeps_the_frozen_electrode_and_matches_openmm(tmp_path):
    """Without the electrode treatment the read-back GROMACS slit cell holds ~1e8 kJ/mol of
    C-C LJ (bonded carbons 0.142 nm apart). With it: the export and the OpenMM System differ
    by a constant (electrode-electrode terms only), checked by moving the electrolyte; the
    forces on the electrolyte agree; the index groups and the .mdp fragment say what to
    freeze. Expected values come from ParmEd's own reading of the files."""
    b = charged_slit("zigzag", "0.8 nm", seed=2)
    frozen = list(b.frozen_indices())
    files = export_system(b, tmp_path, ("gromacs", "amber"))
    top, gro, ndx, mdp = files["gromacs"]
    text = open(top).read()
    assert "[ nonbond_params ]" in text
    groups, name = {}, None
    for line in open(ndx):
        if line.startswith("["):
            name = line.strip("[] \n")
            groups[name] = []
        else:
            groups[name] += [int(v) - 1 for v in line.split()]
    assert groups["Electrode"] == sorted(frozen)
    assert sorted(groups["Electrode"] + groups["Electrolyte"]) == list(range(b.n_atoms))
    frag = open(mdp).read()
    assert "freezegrps     = Electrode" in frag and "rvdw           = 0.7" in frag
    report = json.load(open(files["check"][0]))
    for fmt in ("gromacs", "amber"):
        r = report[fmt]
        assert abs(r["offset_change_kJ_per_mol"]) < 0.05, (fmt, r)
        # measured 1.3 of an rms 376 kJ/mol/nm, from the harmonic stand-in for the PF6
        # sin^2(2 theta) angle (the two angle forces change by 27.873 vs 27.875 kJ/mol)
        assert r["max_force_diff_kJ_per_mol_nm"] < 0.01 * r["rms_force_kJ_per_mol_nm"], (fmt, r)
    # the AMBER export keeps the OpenMM exclusions: only the ParmEd torsion offset remains
    assert abs(report["amber"]["offset_kJ_per_mol"]) < 200.0
    # the GROMACS export has no C-C LJ at all: far below the ~1e8 kJ/mol of the plain export
    assert abs(report["gromacs"]["offset_kJ_per_mol"]) < 1e4
