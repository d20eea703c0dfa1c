"""Frozen-electrode bookkeeping on a System: masses, exclusions, rigid bodies, fixed charges.

Functions here act on a System made by
:func:`predesolv.forcefields.parameterize.create_system` (one ``NonbondedForce`` with the
charges, one ``CustomNonbondedForce`` named ``predesolv_LJ`` with LJ).
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np
import openmm
from openmm import unit
from scipy.spatial import cKDTree

from predesolv.constants import ELEMENTARY_CHARGE_C
from predesolv.errors import BuildError
from predesolv.forcefields.nonbonded import LJ_FORCE_NAME, add_lj_exclusions, nonbonded_force

__all__ = ["nonbonded_force"]  # re-exported: the one NonbondedForce finder

RIGID_FORCE_NAME = "predesolv_electrode_rigid_body"
"""Name of the zero-strength bond force that makes each electrode one barostat molecule."""


def lj_force(system: openmm.System) -> openmm.CustomNonbondedForce | None:
    """The ``predesolv_LJ`` CustomNonbondedForce, or ``None``."""
    for f in system.getForces():
        if isinstance(f, openmm.CustomNonbondedForce) and f.getName() == LJ_FORCE_NAME:
            return f
    return None


def freeze(system: openmm.System, indices: Sequence[int]) -> int:
    """Set the mass of ``indices`` to 0 and drop constraints touching them.

    Returns
    -------
    int
        Number of constraints removed.
    """
    idx = set(int(i) for i in indices)
    for i in idx:
        system.setParticleMass(i, 0.0)
    removed = 0
    for k in reversed(range(system.getNumConstraints())):
        i, j, _ = system.getConstraintParameters(k)
        if i in idx or j in idx:
            system.removeConstraint(k)
            removed += 1
    return removed


FROZEN_PARAMETER = "fz"
"""Per-particle parameter (1 = frozen electrode atom) added to the LJ force."""


def zero_frozen_pair_lj(system: openmm.System, frozen: Sequence[int]) -> None:
    """Switch off LJ between pairs of frozen atoms in the ``predesolv_LJ`` force.

    The LJ energy expression ``E`` becomes ``(1 - fz1*fz2) * E`` with a new per-particle
    parameter ``fz`` (1 for ``frozen``, 0 otherwise). Frozen atoms need no mutual forces, and
    their mutual LJ is a constant (about 1e8 kJ/mol for bonded C-C pairs at 0.142 nm) that
    ruins single/mixed-precision energies. Unlike exclusions this costs almost nothing, needs
    no exception (which ``ConstantPotentialForce`` forbids on electrode particles) and keeps
    the exclusion lists of all nonbonded forces identical (OpenMM's CPU platform requires it).

    Raises
    ------
    BuildError
        No ``predesolv_LJ`` force, or it was already modified.
    """
    lj = lj_force(system)
    if lj is None:
        raise BuildError(f"no {LJ_FORCE_NAME} force: apply the combining rule first")
    names = [lj.getPerParticleParameterName(k) for k in range(lj.getNumPerParticleParameters())]
    if FROZEN_PARAMETER in names:
        raise BuildError("zero_frozen_pair_lj was already applied to this System")
    expr = lj.getEnergyFunction()
    main, sep, rest = expr.partition(";")
    lj.setEnergyFunction(f"(1-{FROZEN_PARAMETER}1*{FROZEN_PARAMETER}2)*({main}){sep}{rest}")
    lj.addPerParticleParameter(FROZEN_PARAMETER)
    fz = set(int(i) for i in frozen)
    for i in range(lj.getNumParticles()):
        params = list(lj.getParticleParameters(i))
        lj.setParticleParameters(i, params + [1.0 if i in fz else 0.0])


def wrap_into_box(positions: np.ndarray, box: np.ndarray) -> np.ndarray:
    """Positions (nm, shape (n, 3)) wrapped into ``[0, L)`` of an orthorhombic box.

    ``np.mod`` alone maps a tiny negative coordinate (-1e-17) to exactly ``L``, which
    periodic k-d trees reject; such values are folded to 0.
    """
    pts = np.mod(positions, box)
    return np.where(pts >= box, pts - box, pts)


def close_pairs(positions: np.ndarray, indices: Sequence[int],
                box: Sequence[float] | np.ndarray, cutoff: float) -> np.ndarray:
    """Pairs (shape (m, 2), global indices, i < j) of ``indices`` closer than ``cutoff`` nm.

    Periodic in all three directions of the orthorhombic ``box`` (nm).
    """
    idx = np.asarray(indices, dtype=int)
    if cutoff <= 0 or len(idx) < 2:
        return np.zeros((0, 2), dtype=int)
    b = np.asarray(box, float)
    pts = wrap_into_box(np.asarray(positions, float)[idx], b)
    pairs = cKDTree(pts, boxsize=b).query_pairs(cutoff, output_type="ndarray")
    out = idx[pairs]
    out.sort(axis=1)
    return out


def exclude_pairs(system: openmm.System, pairs: np.ndarray) -> int:
    """Exclude ``pairs`` from every nonbonded interaction (NonbondedForce and all LJ forces).

    Existing NonbondedForce exceptions of those pairs are replaced by a zero exception; every
    predesolv LJ force (main and per-pair overrides) gets the same exclusions through
    :func:`predesolv.forcefields.nonbonded.add_lj_exclusions`, because OpenMM needs identical
    exclusion lists in all nonbonded forces.

    Returns
    -------
    int
        Number of new NonbondedForce exceptions.
    """
    nb = nonbonded_force(system)
    existing = {}
    for k in range(nb.getNumExceptions()):
        i, j, *_ = nb.getExceptionParameters(k)
        existing[(min(i, j), max(i, j))] = k
    new = 0
    for i, j in pairs.tolist():
        key = (i, j)
        if key in existing:
            nb.setExceptionParameters(existing[key], i, j, 0.0, 1.0, 0.0)
        else:
            nb.addException(i, j, 0.0, 1.0, 0.0)
            new += 1
    add_lj_exclusions(system, pairs.tolist())
    return new


RESTRAINT_FORCE_NAME = "predesolv_electrode_restraint"


def restrain(system: openmm.System, indices: Sequence[int], positions: np.ndarray,
             k: unit.Quantity) -> openmm.CustomExternalForce:
    """Tether each atom of ``indices`` to its position with ``0.5 k |r - r0|^2``.

    The distance is the periodic (minimum-image) one, so an atom near a box face is not
    pulled across the box. Used for restrained flexible electrodes.

    Parameters
    ----------
    system : openmm.System
    indices : sequence of int
    positions : ndarray, shape (n_atoms, 3)
        Reference positions in nm (all atoms of the system).
    k : Quantity
        Force constant (energy / length**2).
    """
    k_val = k.value_in_unit(unit.kilojoule_per_mole / unit.nanometer**2)
    f = openmm.CustomExternalForce("0.5*k_el*periodicdistance(x, y, z, x0, y0, z0)^2")
    f.setName(RESTRAINT_FORCE_NAME)
    f.addGlobalParameter("k_el", k_val)
    for name in ("x0", "y0", "z0"):
        f.addPerParticleParameter(name)
    for i in indices:
        f.addParticle(int(i), [float(v) for v in positions[int(i)]])
    system.addForce(f)
    return f


def add_rigid_body_bonds(system: openmm.System, bodies: Sequence[Sequence[int]]) -> None:
    """Tie each group of frozen atoms into one "molecule" with zero-strength bonds.

    OpenMM's Monte Carlo barostats scale molecule centres; an unbonded frozen atom is its own
    molecule and would be moved. A chain of ``k = 0`` bonds makes each electrode one
    molecule, so a barostat translates it as a whole and never changes its shape (interlayer
    spacing included). The bonds contribute no energy or force.
    """
    f = openmm.HarmonicBondForce()
    f.setName(RIGID_FORCE_NAME)
    for body in bodies:
        b = list(body)
        for a, c in zip(b[:-1], b[1:], strict=True):
            f.addBond(int(a), int(c), 0.1, 0.0)
    if f.getNumBonds():
        system.addForce(f)


def total_charge(system: openmm.System, indices: Sequence[int] | None = None) -> float:
    """Sum of NonbondedForce charges (e) over ``indices`` (all particles if ``None``)."""
    nb = nonbonded_force(system)
    rng = range(system.getNumParticles()) if indices is None else indices
    return float(sum(nb.getParticleParameters(int(i))[0].value_in_unit(unit.elementary_charge)
                     for i in rng))


def spread_charge(system: openmm.System, indices: Sequence[int], total: float) -> float:
    """Add ``total / len(indices)`` e to each of ``indices`` (on top of template charges).

    Returns
    -------
    float
        Charge added per atom (e).
    """
    if len(indices) == 0:
        raise BuildError("no electrode atoms selected to carry the charge")
    nb = nonbonded_force(system)
    dq = total / len(indices)
    for i in indices:
        q, s, e = nb.getParticleParameters(int(i))
        nb.setParticleParameters(int(i), q.value_in_unit(unit.elementary_charge) + dq, s, e)
    return dq


E_PER_NM2_PER_C_M2 = 1.0 / (ELEMENTARY_CHARGE_C * 1e18)
"""Conversion: sigma in C/m^2 times this gives e/nm^2."""


def sigma_to_charge(sigma_c_m2: float, area_nm2: float) -> float:
    """Total charge (e) of a surface with density ``sigma_c_m2`` (C/m^2) and area (nm^2)."""
    return sigma_c_m2 * E_PER_NM2_PER_C_M2 * area_nm2


def charge_to_sigma(q_e: float, area_nm2: float) -> float:
    """Surface density (C/m^2) of total charge ``q_e`` (e) over ``area_nm2`` (nm^2)."""
    return q_e / area_nm2 / E_PER_NM2_PER_C_M2
