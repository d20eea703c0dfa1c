"""ParmEd export of a constant-charge cell to GROMACS and AMBER files."""

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


def test_export_roundtrip(tmp_path):
    ec = ElectrodeConfig(kind="slit", edge="armchair", width="1.5 nm", length="1.0 nm",
                         spacing="0.6 nm", layers_per_wall=2,
                         charge={"mode": "constant_charge", "sigma": "-0.05 C/m**2",
                                 "apply_to": "slit_walls", "neutralize": "counter_electrode"},
                         counter_electrode={"length": "0.5 nm"})
    b = build_cell(EL, ec, FF, seed=1)
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
