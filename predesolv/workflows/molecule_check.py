"""Do the machine-learned potentials describe DME? Conformer energies against GFN2-xTB.

Before an MLIP is trusted with a molecule (Ren et al.'s co-intercalated DME; issue: "test
before trusting molecules", `docs/mlip.md`), four conformers of 1,2-dimethoxyethane, named by
the C–O–C–C, O–C–C–O and C–C–O–C dihedrals (t = 180°, g = +65°, g' = −65°): ttt, tgt, ttg and
tgg', are built from the shipped DME, optimised with GFN2-xTB (tblite, BFGS) with the three
dihedrals held (ASE ``FixInternals``), and then evaluated with each MLIP at the xTB geometry
(single point in a vacuum box). Each method's energies are taken relative to its own ttt.

Bannwarth, Ehlert, Grimme, *J. Chem. Theory Comput.* 15, 1652 (2019) (GFN2-xTB).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np

from predesolv.forcefields.parameterize import load_molecule
from predesolv.mlip.errors import require
from predesolv.mlip.models import load_calculator
from predesolv.mlip.structures import molecule_atoms

#: The three backbone dihedrals of DME by atom index in the shipped PDB
#: (C1-O1-C2-C3, O1-C2-C3-O2, C2-C3-O2-C4).
DME_DIHEDRALS = ((0, 1, 2, 3), (1, 2, 3, 4), (2, 3, 4, 5))
#: Conformers: name -> the three dihedrals (degrees).
DME_CONFORMERS = {"ttt": (180.0, 180.0, 180.0), "tgt": (180.0, 65.0, 180.0),
                  "ttg": (180.0, 180.0, 65.0), "tgg'": (180.0, 65.0, -65.0)}


@dataclass(frozen=True)
class ConformerEnergies:
    """Relative conformer energies (eV, each method against its own ttt) by method name."""

    conformers: tuple[str, ...]
    relative_eV: dict[str, tuple[float, ...]]

    def max_error_eV(self, method: str, reference: str = "gfn2-xtb") -> float:
        """Largest |ΔE(method) − ΔE(reference)| over the conformers (eV)."""
        a = np.array(self.relative_eV[method])
        b = np.array(self.relative_eV[reference])
        return float(np.max(np.abs(a - b)))


def _side(bonds: Sequence[tuple[int, int]], a2: int, a3: int) -> list[int]:
    """Atoms on the a3 side of the bond a2-a3 (a3 included)."""
    seen, todo = {a3}, [a3]
    while todo:
        i = todo.pop()
        for p, q in bonds:
            for x, y in ((p, q), (q, p)):
                if x == i and y not in seen and not (x == a3 and y == a2):
                    seen.add(y)
                    todo.append(y)
    return sorted(seen)


def dme_conformer(name: str) -> Any:
    """The shipped DME with its dihedrals set to conformer ``name`` (ASE Atoms, no cell); the
    side of each dihedral that turns is found from the shipped PDB's bonds."""
    top, _ = load_molecule("DME")
    bonds = [(b[0].index, b[1].index) for b in top.bonds()]
    atoms = molecule_atoms("DME")
    for (a, b, c, d), angle in zip(DME_DIHEDRALS, DME_CONFORMERS[name], strict=True):
        atoms.set_dihedral(a, b, c, d, angle, indices=_side(bonds, b, c))
    return atoms


def xtb_optimised(name: str, fmax: float = 0.02, max_steps: int = 300) -> Any:
    """Conformer ``name`` optimised with GFN2-xTB, its three dihedrals held."""
    constraints = require("ase.constraints", "molecule check")
    optimize = require("ase.optimize", "molecule check")
    atoms = dme_conformer(name)
    atoms.set_constraint(constraints.FixInternals(dihedrals_deg=[
        [atoms.get_dihedral(*d), list(d)] for d in DME_DIHEDRALS]))
    atoms.calc = load_calculator("gfn2-xtb")
    optimize.BFGS(atoms, logfile=None).run(fmax=fmax, steps=max_steps)
    return atoms


def conformer_energies(models: Sequence[str], dispersion: str = "d3zero",
                       box_nm: float = 2.0) -> ConformerEnergies:
    """ΔE of every conformer of :data:`DME_CONFORMERS` from GFN2-xTB and each MLIP."""
    names = tuple(DME_CONFORMERS)
    geoms = [xtb_optimised(n) for n in names]
    out: dict[str, tuple[float, ...]] = {}
    e = [float(g.get_potential_energy()) for g in geoms]
    out["gfn2-xtb"] = tuple(x - e[0] for x in e)
    for model in models:
        calc = load_calculator(model, dispersion=dispersion)
        energies = []
        for g in geoms:
            atoms = g.copy()
            atoms.set_constraint()
            atoms.cell = np.eye(3) * box_nm * 10.0
            atoms.center()
            atoms.pbc = True
            atoms.calc = calc
            energies.append(float(atoms.get_potential_energy()))
        out[model] = tuple(x - energies[0] for x in energies)
    return ConformerEnergies(names, out)
