"""0 K migration barrier of one Na between two rigid graphene sheets with an ASE calculator
(study E5-MLIP; Ren et al. 2026, Fig. 4e).

The sheets are :func:`predesolv.systems.closed_pore.bilayer_cavity` (periodic in the plane,
AB or AA, carbon fixed). The Na site is the lowest of a few relaxed starts (over a hexagon
centre of the lower sheet, over an atom, over a bond; Na free in x, y and z). The hop goes
from that site to the same site one graphene lattice vector further along y (0.246 nm), so
both ends are the same minimum by symmetry; a climbing-image nudged elastic band (ASE
``NEB``, ``climb=True``, improved tangent, FIRE on the images; the inner images nudged
0.05 Å off the straight line so a symmetric band can relax) gives the saddle, with Na free
in all three directions on every image. Barrier = highest image − end energy (eV).

Relaxed sheets (``relax_carbon=True``): after the Na site is found on the rigid sheets, every
atom is relaxed with each sheet's centre of mass held (ASE ``FixSubsetCom``: the sheets may
buckle and pucker under the Na but cannot drift, so the spacing and the stacking registry
stay); the end image carries the same carbon displacement field moved one lattice vector
along with the Na, and every NEB image relaxes carbon too.

Henkelman, Uberuaga, Jónsson, *J. Chem. Phys.* 113, 9901 (2000), doi:10.1063/1.1329672
(climbing-image NEB).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import numpy as np

from predesolv.mlip.errors import require
from predesolv.mlip.structures import ANGSTROM_PER_NM, add_atoms
from predesolv.systems.closed_pore import PoreCarbon, bilayer_cavity, lateral_sites
from predesolv.systems.graphene import CC_BOND_NM

from .pore_filling import framework_atoms, relax_mobile

#: Graphene lattice constant (nm): the hop length.
LATTICE_NM = float(np.sqrt(3) * CC_BOND_NM)


@dataclass(frozen=True)
class MigrationResult:
    """A barrier and how it was found.

    Attributes
    ----------
    barrier_eV : float
        Highest NEB image minus the end (site) energy.
    site_xyz_nm : tuple of float
        The relaxed site (nm).
    site_height_nm : float
        Na height above the lower sheet (nm).
    image_energies_eV : tuple of float
        Every image relative to the first (eV).
    converged : bool
        The NEB reached ``fmax`` within ``max_steps``.
    steps : int
        NEB optimiser steps.
    """

    barrier_eV: float
    site_xyz_nm: tuple[float, float, float]
    site_height_nm: float
    image_energies_eV: tuple[float, ...]
    converged: bool
    steps: int


def _with_na(pore: PoreCarbon, xyz_nm: np.ndarray, calc: Any) -> Any:
    atoms = add_atoms(framework_atoms(pore), "Na", xyz_nm)
    atoms.calc = calc
    return atoms


def _sheets(pore: PoreCarbon) -> list[list[int]]:
    """Atom indices of the lower and the upper sheet."""
    mid = float(np.mean(pore.region("cavity").z_nm))
    z = pore.positions_nm[:, 2]
    return [np.flatnonzero(z < mid).tolist(), np.flatnonzero(z >= mid).tolist()]


def _carbon_constraints(pore: PoreCarbon, relax_carbon: bool) -> list[Any]:
    constraints = require("ase.constraints", "migration")
    if not relax_carbon:
        return [constraints.FixAtoms(indices=list(range(len(pore.symbols))))]
    return [constraints.FixSubsetCom(indices=idx) for idx in _sheets(pore)]


def shifted_end(pore: PoreCarbon, start: Any) -> Any:
    """The start structure with its Na and its carbon displacement field moved one lattice
    vector along y (carbon i takes the displacement of the carbon one lattice vector behind)."""
    shift = np.array([0.0, LATTICE_NM, 0.0])
    ref = pore.positions_nm
    disp = start.positions[:len(ref)] / ANGSTROM_PER_NM - ref
    behind = (ref - shift) % pore.box_nm
    d = ref[None, :, :] - behind[:, None, :]
    d -= pore.box_nm * np.round(d / pore.box_nm)
    source = np.argmin(np.linalg.norm(d, axis=2), axis=1)
    end = start.copy()
    end.positions[:len(ref)] = (ref + disp[source]) * ANGSTROM_PER_NM
    end.positions[-1] += shift * ANGSTROM_PER_NM
    return end


def _relax_all(atoms: Any, pore: PoreCarbon, calc: Any, fmax: float, max_steps: int) -> float:
    optimize = require("ase.optimize", "migration")
    atoms.set_constraint(_carbon_constraints(pore, True))
    atoms.calc = calc
    optimize.BFGS(atoms, logfile=None).run(fmax=fmax, steps=max_steps)
    return float(atoms.get_potential_energy())


def relaxed_site(pore: PoreCarbon, calc: Any, fmax: float, max_steps: int) -> tuple[Any, float]:
    """The lowest of three relaxed Na starts on the mid-plane (hexagon centre, atom, bond of
    the lower sheet): (ASE Atoms, energy eV)."""
    mid = float(np.mean(pore.region("cavity").z_nm))
    starts = list(lateral_sites(pore).values())
    best = None
    for xy in starts:
        atoms = _with_na(pore, np.array([*xy, mid]), calc)
        e, _, _ = relax_mobile(atoms, len(pore.symbols), fmax, max_steps)
        if best is None or e < best[1]:
            best = (atoms, e)
    assert best is not None
    return best


def neb_barrier(spacing_nm: float, calc: Any, *, stacking: str = "AB",
                n_cells: tuple[int, int] = (2, 4), n_images: int = 5, fmax: float = 0.05,
                max_steps: int = 300, relax_carbon: bool = False) -> MigrationResult:
    """Climbing-image NEB of one Na hopping one lattice vector along y between two sheets
    ``spacing_nm`` apart, rigid or relaxed (module docstring).

    Parameters
    ----------
    spacing_nm : float
        Carbon plane to carbon plane (nm).
    calc : ase calculator
    stacking : {"AB", "AA"}
    n_cells : (int, int)
        Graphene cells of the periodic sheets (Na–Na image distance >= 0.85 nm at (2, 4)).
    n_images : int
        Images between the two ends.
    fmax : float
        Force criterion of the site relaxation and of the NEB (eV/Å).
    max_steps : int
        Step cap of each optimisation.
    relax_carbon : bool
        Relax the sheets (each sheet's centre of mass held) at the ends and on every image.
    """
    mep = require("ase.mep", "migration")
    optimize = require("ase.optimize", "migration")
    pore = bilayer_cavity(spacing_nm, n_cells, stacking=stacking)
    start, _ = relaxed_site(pore, calc, fmax, max_steps)
    if relax_carbon:
        _relax_all(start, pore, calc, fmax, max_steps)
        end = shifted_end(pore, start)
        _relax_all(end, pore, calc, fmax, max_steps)
    else:
        end = start.copy()
        end.positions[-1] += np.array([0.0, LATTICE_NM * ANGSTROM_PER_NM, 0.0])
    images = [start] + [start.copy() for _ in range(n_images)] + [end]
    for im in images:
        im.set_constraint(_carbon_constraints(pore, relax_carbon))
        im.calc = calc
    band = mep.NEB(images, climb=True, allow_shared_calculator=True, method="improvedtangent")
    band.interpolate()
    # a straight band through a symmetric bridge has no perpendicular force: nudge the
    # inner images off it (0.05 Å, fixed seed) so the band can leave a higher-order saddle
    rng = np.random.default_rng(0)
    for im in images[1:-1]:
        im.positions[-1] += rng.normal(scale=0.05, size=3) * np.array([1.0, 0.0, 1.0])
    opt = optimize.FIRE(band, logfile=None)
    converged = bool(opt.run(fmax=fmax, steps=max_steps))
    energies = np.array([im.get_potential_energy() for im in images])
    energies -= energies[0]
    site = start.positions[-1] / ANGSTROM_PER_NM
    return MigrationResult(float(energies.max()), (float(site[0]), float(site[1]), float(site[2])),
                           float(site[2] - pore.region("cavity").z_nm[0]),
                           tuple(float(x) for x in energies), converged, int(opt.nsteps))
