"""Developer tool: regenerate ``forcefields/molecules/*.pdb`` (not imported by predesolv).

Geometries: RDKit ETKDG embedding + MMFF94 optimisation for the organic solvents, ideal
octahedral PF6- (P-F 0.1606 nm, CL&P) and tetrahedral ClO4- (Cl-O 0.1506 nm), then a
vacuum minimisation with predesolv's own force field so that the shipped geometry sits in
the force-field minimum. Run: ``python scripts/make_molecules.py`` (needs rdkit, which
predesolv does not install).
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import openmm
from openmm import app, unit

HERE = Path(__file__).resolve().parent.parent / "forcefields"
OUT = HERE / "molecules"

# residue -> (SMILES with explicit atom order of heavy atoms, heavy atom names, H names per heavy)
SOLVENTS = {
    "DME": ("COCCOC", ["C1", "O1", "C2", "C3", "O2", "C4"],
            {0: ["H11", "H12", "H13"], 2: ["H21", "H22"], 3: ["H31", "H32"],
             5: ["H41", "H42", "H43"]}),
    "EC": ("O=C1OCCO1", ["O", "C", "OS1", "C1", "C2", "OS2"],
           {3: ["H11", "H12"], 4: ["H21", "H22"]}),
    "DMC": ("O=C(OC)OC", ["O", "C", "OS1", "C1", "OS2", "C2"],
            {3: ["H11", "H12", "H13"], 5: ["H21", "H22", "H23"]}),
    "EMC": ("O=C(OC)OCC", ["O", "C", "OS1", "C1", "OS2", "C2", "C3"],
            {3: ["H11", "H12", "H13"], 5: ["H21", "H22"], 6: ["H31", "H32", "H33"]}),
}


def _solvent(name: str) -> tuple[list[str], list[str], np.ndarray, list[tuple[int, int]]]:
    from rdkit import Chem
    from rdkit.Chem import AllChem

    smi, heavy, hnames = SOLVENTS[name]
    mol = Chem.AddHs(Chem.MolFromSmiles(smi))
    AllChem.EmbedMolecule(mol, randomSeed=7)
    AllChem.MMFFOptimizeMolecule(mol)
    names = list(heavy) + [""] * (mol.GetNumAtoms() - len(heavy))
    counters = {k: 0 for k in hnames}
    for atom in mol.GetAtoms():
        if atom.GetSymbol() == "H":
            parent = atom.GetNeighbors()[0].GetIdx()
            names[atom.GetIdx()] = hnames[parent][counters[parent]]
            counters[parent] += 1
    elems = [a.GetSymbol() for a in mol.GetAtoms()]
    xyz = mol.GetConformer().GetPositions() / 10.0
    bonds = [(b.GetBeginAtomIdx(), b.GetEndAtomIdx()) for b in mol.GetBonds()]
    return names, elems, xyz, bonds


def _ion(name: str):
    if name == "NA":
        return ["NA"], ["Na"], np.zeros((1, 3)), []
    if name == "PF6":
        d = 0.1606
        v = np.array([[1, 0, 0], [-1, 0, 0], [0, 1, 0], [0, -1, 0], [0, 0, 1], [0, 0, -1]])
        xyz = np.vstack([np.zeros(3), d * v])
        return (["P"] + [f"F{i}" for i in range(1, 7)], ["P"] + ["F"] * 6, xyz,
                [(0, i) for i in range(1, 7)])
    d = 0.1506 / np.sqrt(3.0)
    v = np.array([[1, 1, 1], [1, -1, -1], [-1, 1, -1], [-1, -1, 1]])
    xyz = np.vstack([np.zeros(3), d * v])
    return (["CL"] + [f"O{i}" for i in range(1, 5)], ["Cl"] + ["O"] * 4, xyz,
            [(0, i) for i in range(1, 5)])


def main() -> None:
    OUT.mkdir(exist_ok=True)
    ff = app.ForceField(str(HERE / "predesolv-electrolytes.xml"))
    for res in ["NA", "PF6", "CLO", "DME", "EC", "DMC", "EMC"]:
        names, elems, xyz, bonds = _solvent(res) if res in SOLVENTS else _ion(res)
        top = app.Topology()
        chain = top.addChain()
        r = top.addResidue(res, chain)
        atoms = [top.addAtom(n, app.Element.getBySymbol(e), r)
                 for n, e in zip(names, elems, strict=True)]
        for i, j in bonds:
            top.addBond(atoms[i], atoms[j])
        xyz = xyz - xyz.mean(axis=0)
        if len(atoms) > 1:
            system = ff.createSystem(top, nonbondedMethod=app.NoCutoff, constraints=None)
            ctx = openmm.Context(system, openmm.VerletIntegrator(1e-3),
                                 openmm.Platform.getPlatformByName("Reference"))
            ctx.setPositions(xyz * unit.nanometer)
            openmm.LocalEnergyMinimizer.minimize(ctx, 1e-3, 5000)
            xyz = ctx.getState(getPositions=True).getPositions(asNumpy=True)
            xyz = xyz.value_in_unit(unit.nanometer)
            xyz = xyz - xyz.mean(axis=0)
        with open(OUT / f"{res}.pdb", "w") as fh:
            app.PDBFile.writeFile(top, xyz * 10 * unit.angstrom, fh, keepIds=True)
        print(res, len(atoms))


if __name__ == "__main__":
    main()
