"""Re-rank force-field minima of gas-phase Na+(EC)n clusters with GFN2-xTB.

The force field's lowest minima of each cluster size (:func:`~.stepwise.minimise_cluster`,
every EC bound) are re-optimised with GFN2-xTB (tblite through ASE, charge +1 for the
cluster, 0 for one EC; BFGS to ``fmax``) and the stepwise desolvation energies of Tang et
al.'s eq. 1 are formed again from the lowest xTB energy of each size:

    E_desolv(n) = E[Na+(EC)_(6-n)] + E[EC] - E[Na+(EC)_(7-n)]

An xTB minimum in which an EC left the shell (carbonyl O beyond ``bound_nm`` of Na+) is not
used for its size. Gas phase only: GFN2-xTB's SCF does not converge for the periodic carbon
slabs (the surfaces stay force-field only). Needs the ``ml`` extra (tblite, ase).

Bannwarth, Ehlert, Grimme, J. Chem. Theory Comput. 15, 1652 (2019),
doi:10.1021/acs.jctc.8b01176 (GFN2-xTB).
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Any

import numpy as np
from openmm import app

from predesolv.mlip import load_calculator, positions_nm, to_atoms

from .stepwise import Minimum, Slab, build_system, ec_template


@dataclass(frozen=True)
class XtbMinimum:
    """One re-optimised cluster: size, the force-field start it came from, its force-field
    energy (kJ/mol), the xTB energy (eV), BFGS steps, converged, EC still bound."""

    n_ec: int
    start: int
    ff_energy_kJ_per_mol: float
    xtb_energy_eV: float
    steps: int
    converged: bool
    n_bound: int


def _optimise(top: app.Topology, xyz_nm: np.ndarray, charge: int, fmax: float,
              max_steps: int) -> tuple[Any, int, bool]:
    """(ASE Atoms at the xTB minimum, steps, converged) from ``xyz_nm`` (not periodic)."""
    from ase.optimize import BFGS  # optional dependency (the ml extra)

    atoms = to_atoms(top, xyz_nm)
    atoms.pbc = False
    atoms.calc = load_calculator("gfn2-xtb", charge=charge)
    opt = BFGS(atoms, logfile=None)
    converged = bool(opt.run(fmax=fmax, steps=max_steps))
    return atoms, int(opt.nsteps), converged


def rerank_size(slab: Slab, n_ec: int, minima: list[Minimum], n_keep: int,
                fmax_eV_per_A: float = 0.05, max_steps: int = 300,
                bound_nm: float = 0.30) -> list[XtbMinimum]:
    """Re-optimise the ``n_keep`` lowest fully bound force-field minima of Na+(EC)n.

    Parameters
    ----------
    slab : Slab
        :func:`~.stepwise.gas_phase` (no slab atoms).
    n_ec : int
    minima : list of Minimum
        With positions (:func:`~.stepwise.minimise_cluster`).
    n_keep : int
        How many of the lowest fully bound minima to re-optimise.
    fmax_eV_per_A : float
        BFGS force criterion (eV/Å).
    max_steps : int
    bound_nm : float
        Na–O(carbonyl) distance within which an EC counts as bound (nm).

    Returns
    -------
    list of XtbMinimum
        In order of increasing force-field energy.
    """
    if len(slab.positions_nm):
        raise ValueError("xTB re-ranking is for gas-phase clusters only")
    _, top, _ = build_system(slab, n_ec)
    o_idx = [a.index for a in top.atoms() if a.residue.name == "EC" and a.name == "O"]
    bound = sorted((m for m in minima if m.n_bound == n_ec and m.positions_nm is not None),
                   key=lambda m: m.energy_kJ_per_mol)[:n_keep]
    out = []
    for m in bound:
        assert m.positions_nm is not None
        atoms, steps, ok = _optimise(top, m.positions_nm, 1, fmax_eV_per_A, max_steps)
        xyz = positions_nm(atoms)
        n_bound = int(np.sum(np.linalg.norm(xyz[o_idx] - xyz[0], axis=1) < bound_nm))
        out.append(XtbMinimum(n_ec, m.start, m.energy_kJ_per_mol,
                              float(atoms.get_potential_energy()), steps, ok, n_bound))
    return out


def xtb_ec_energy_eV(fmax_eV_per_A: float = 0.05, max_steps: int = 300) -> float:
    """E[EC] (eV): one EC optimised alone with GFN2-xTB (charge 0)."""
    top, xyz = ec_template()
    atoms, _, ok = _optimise(top, xyz, 0, fmax_eV_per_A, max_steps)
    if not ok:
        raise RuntimeError("GFN2-xTB optimisation of a lone EC did not converge")
    return float(atoms.get_potential_energy())


def xtb_steps(minima: dict[int, list[XtbMinimum]], e_ec_eV: float,
              bound_only: bool = True) -> dict[int, float]:
    """E_desolv(n) (eV), n = 1..6, from the lowest converged xTB energy of each size — of
    the minima that kept every EC in the first shell (``bound_only``, the force field's
    definition), or of all (the cluster's lowest arrangement, EC in a second shell
    included) — NaN where a size has none."""
    best = {}
    for k, ms in minima.items():
        ok = [m.xtb_energy_eV for m in ms if m.converged and (m.n_bound == k or not bound_only)]
        best[k] = min(ok) if ok else math.nan
    return {n: best.get(6 - n, math.nan) + e_ec_eV - best.get(7 - n, math.nan)
            for n in range(1, 7)}


__all__ = ["XtbMinimum", "rerank_size", "xtb_ec_energy_eV", "xtb_steps"]
