"""Regenerate tests/data/nacl_water.{xml,pdb}: 2 NaCl in a 2.0 nm TIP3P box (amber14).

A small "bring your own system" input for runner tests: ``python tests/data/make_nacl_water.py``.
"""

from pathlib import Path

import openmm
from openmm import app, unit

here = Path(__file__).resolve().parent
ff = app.ForceField("amber14-all.xml", "amber14/tip3p.xml")
top = app.Topology()
mod = app.Modeller(top, [])
mod.addSolvent(ff, boxSize=openmm.Vec3(2.0, 2.0, 2.0) * unit.nanometer, positiveIon="Na+",
               negativeIon="Cl-", ionicStrength=0.3 * unit.molar, neutralize=True)
system = ff.createSystem(mod.topology, nonbondedMethod=app.PME,
                         nonbondedCutoff=0.9 * unit.nanometer, constraints=app.HBonds)
(here / "nacl_water.xml").write_text(openmm.XmlSerializer.serialize(system))
with open(here / "nacl_water.pdb", "w") as fh:
    app.PDBFile.writeFile(mod.topology, mod.positions, fh)
print(mod.topology.getNumAtoms(), "atoms")
