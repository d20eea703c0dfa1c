"""A global search for the minima of Na+(EC)n, and how far it has converged.

:func:`~.stepwise.minimise_cluster` minimises from random starts: near a carbon surface the
minima of one cluster size found that way spread by up to 1.6 eV, so the lowest of a few
is not the global one. This module adds

* **simulated annealing** (:func:`anneal_cluster`): each random start is heated to
  ``t_high_K`` and cooled linearly to ``t_low_K`` with Langevin dynamics, then minimised.
  While hot the cluster is held together by flat-bottom restraints that switch off for the
  final minimisation (the reported energy is the force field's, unbiased): every EC's
  carbonyl O within ``hold_nm`` of Na+ (an EC may rearrange in the shell but not leave it),
  and, near a slab, Na+ within ``lateral_nm`` of the site across the surface and no further
  out than ``max_height_nm`` (the cluster stays at the site it is asked about);
* **convergence against the number of starts** (:func:`convergence_rows`): the lowest
  fully bound minimum among the first 8, 32, 128, ... starts, and whether it moved by more
  than :data:`STABLE_EV` at the last count;
* **an ensemble value** (:func:`boltzmann_energy`): −kT ln Σ exp(−E_i/kT) over the distinct
  fully bound minima — energies only, no vibrational entropy (a harmonic-free estimate of
  how much the low-lying minima beside the lowest one matter at 298 K).

Simulated annealing as a global optimiser: Kirkpatrick, Gelatt & Vecchi, *Science* 220, 671
(1983), doi:10.1126/science.220.4598.671; for clusters, see Wales, *Energy Landscapes*
(Cambridge University Press, 2003), ch. 6.
"""

from __future__ import annotations

import math
from collections.abc import Callable
from dataclasses import dataclass

import numpy as np
import openmm
from openmm import unit

from predesolv.constants import KJ_PER_MOL_PER_EV, kT_kJ_per_mol

from .stepwise import (
    Minimum,
    Slab,
    build_system,
    carbonyl_oxygens,
    cluster_context,
    placed_starts,
    record_minimum,
)

#: A lowest minimum that moves by no more than this between the last two start counts is
#: called stable (eV; issue criterion: 0.02 eV).
STABLE_EV = 0.02
#: Minima closer than this in energy are counted as one in the ensemble value (kJ/mol):
#: the same basin reached from two starts.
SAME_MINIMUM_KJ_PER_MOL = 0.05
#: Global parameter scaling the annealing restraints (0 for the final minimisation).
K_HOLD = "k_hold_kj_per_mol_nm2"


@dataclass(frozen=True)
class AnnealProtocol:
    """One annealing run per start: heat to ``t_high_K``, cool linearly to ``t_low_K`` over
    ``steps`` Langevin steps of ``timestep_ps`` (in ``segments`` temperature plateaus),
    restraints of force constant ``k_hold`` (kJ/mol/nm²), then minimise unrestrained."""

    t_high_K: float = 600.0
    t_low_K: float = 50.0
    steps: int = 10000
    timestep_ps: float = 0.001
    friction_per_ps: float = 5.0
    segments: int = 20
    hold_nm: float = 0.35
    lateral_nm: float = 0.30
    max_height_nm: float = 1.2
    k_hold: float = 5000.0


def add_holds(system: openmm.System, slab: Slab, na: int, o_idx: list[int],
               protocol: AnnealProtocol) -> None:
    """Add the annealing restraints to ``system``, scaled by the global parameter
    :data:`K_HOLD` (kJ/mol/nm²; 0 switches them off).

    Parameters
    ----------
    system : openmm.System
        The cluster's System (slab atoms first, then Na+ at index ``na``).
    slab : Slab
        Its surface: with slab atoms, Na+ is also held within ``protocol.lateral_nm`` of
        ``slab.site_nm`` across ``slab.outward`` and at most ``protocol.max_height_nm``
        above it; without (gas phase), only the shell is held.
    na : int
        Index of Na+.
    o_idx : list of int
        Carbonyl oxygens held within ``protocol.hold_nm`` of Na+.
    protocol : AnnealProtocol
        The bounds.
    """
    shell = openmm.CustomBondForce(f"0.5*{K_HOLD}*step(r - r_hold)*(r - r_hold)^2")
    shell.addGlobalParameter(K_HOLD, 0.0)
    shell.addGlobalParameter("r_hold", protocol.hold_nm)
    for o in o_idx:
        shell.addBond(na, o, [])
    shell.setUsesPeriodicBoundaryConditions(len(slab.positions_nm) > 0)
    system.addForce(shell)
    if not len(slab.positions_nm):
        return
    # Positions in a Context are not wrapped, and Na+ stays within ~1 nm of the site.
    ux, uy, uz = (float(v) for v in slab.outward / np.linalg.norm(slab.outward))
    x0, y0, z0 = (float(v) for v in slab.site_nm)
    site = openmm.CustomExternalForce(
        f"0.5*{K_HOLD}*(step(lat - lat0)*(lat - lat0)^2 + step(h - h0)*(h - h0)^2);"
        "lat = sqrt(max(dx*dx + dy*dy + dz*dz - h*h, 0) + 1e-12);"
        f"h = dx*{ux} + dy*{uy} + dz*{uz};"
        f"dx = x - {x0}; dy = y - {y0}; dz = z - {z0}")
    site.addGlobalParameter(K_HOLD, 0.0)
    site.addGlobalParameter("lat0", protocol.lateral_nm)
    site.addGlobalParameter("h0", protocol.max_height_nm)
    site.addParticle(na, [])
    system.addForce(site)


def anneal_cluster(slab: Slab, n_ec: int, n_starts: int, seed: int = 0,
                   platform: str = "CPU", protocol: AnnealProtocol | None = None,
                   bound_nm: float = 0.30, first_start: int = 0,
                   on_minimum: Callable[[Minimum], None] | None = None,
                   stop: Callable[[], bool] | None = None) -> list[Minimum]:
    """Minima of slab + Na+(EC)n from ``n_starts`` annealed random starts (slab frozen).

    Parameters
    ----------
    slab : Slab
        The surface (or :func:`~.stepwise.gas_phase`).
    n_ec : int
        EC molecules in the cluster (0-6).
    n_starts : int
        Random starts (:func:`~.stepwise.cluster_start`), each annealed and minimised.
    seed : int
        Seeds the starts and the velocities; the same seed gives the same starts.
    protocol : AnnealProtocol, optional
        The temperature programme and restraints (defaults: 600 -> 50 K over 10 ps).
    bound_nm : float
        An EC counts as bound when its carbonyl O ends within this of Na+ (nm).
    first_start : int
        Anneal only starts ``first_start .. n_starts - 1`` (extending a finished search):
        the same start positions and initial velocities as a run of all ``n_starts``; the
        thermostat's random stream is seeded ``seed + 1 + first_start``, so the
        trajectories (not the starts) differ from that run's.
    on_minimum : callable, optional
        Called with each :class:`Minimum` as soon as it is found (a caller that saves them
        loses at most the start under way when it is stopped or killed).
    stop : callable, optional
        Asked before each start; when it returns True the search ends there and returns
        the minima found so far.

    Returns
    -------
    list of Minimum
        One per start that could be placed (``start`` is its index); energies in kJ/mol.
    """
    p = protocol or AnnealProtocol()
    system, top, n_slab = build_system(slab, n_ec)
    o_idx = carbonyl_oxygens(top, n_slab)
    add_holds(system, slab, n_slab, o_idx, p)
    integrator = openmm.LangevinMiddleIntegrator(p.t_high_K * unit.kelvin,
                                                 p.friction_per_ps / unit.picosecond,
                                                 p.timestep_ps * unit.picosecond)
    integrator.setRandomNumberSeed(seed + 1 + first_start)
    ctx = cluster_context(system, integrator, platform)
    temps = np.linspace(p.t_high_K, p.t_low_K, max(p.segments, 1))
    per_segment = max(p.steps // len(temps), 1)
    out = []
    for i, xyz in placed_starts(slab, n_ec, n_starts, seed, first_start):
        if stop is not None and stop():
            break
        ctx.setPositions(xyz * unit.nanometer)
        ctx.setParameter(K_HOLD, p.k_hold)
        openmm.LocalEnergyMinimizer.minimize(ctx, 10.0, 2000)
        ctx.setVelocitiesToTemperature(p.t_high_K * unit.kelvin, seed * 100003 + i + 1)
        for t in temps:
            integrator.setTemperature(float(t) * unit.kelvin)
            integrator.step(per_segment)
        ctx.setParameter(K_HOLD, 0.0)
        openmm.LocalEnergyMinimizer.minimize(ctx, 1.0, 20000)
        out.append(record_minimum(ctx, slab, o_idx, i, bound_nm))
        if on_minimum is not None:
            on_minimum(out[-1])
    return out


def lowest_bound(minima: list[Minimum], n_ec: int, n_starts: int | None = None) -> float:
    """The lowest energy (kJ/mol) among the minima with every EC bound, from the first
    ``n_starts`` starts (all when None); NaN when there is none."""
    e = [m.energy_kJ_per_mol for m in minima
         if m.n_bound == n_ec and (n_starts is None or m.start < n_starts)]
    return min(e) if e else math.nan


def convergence_rows(minima: dict[int, list[Minimum]], counts: list[int], label: str
                     ) -> list[dict[str, object]]:
    """Per cluster size and start count: the lowest fully bound minimum (kJ/mol), its change
    from the previous count (eV) and, at the last count, whether it is stable
    (|change| <= :data:`STABLE_EV`)."""
    rows: list[dict[str, object]] = []
    for k, mins in minima.items():
        prev = math.nan
        for j, n in enumerate(counts):
            e = lowest_bound(mins, k, n)
            change = (e - prev) / KJ_PER_MOL_PER_EV
            last = j == len(counts) - 1
            rows.append({"surface": label, "n_EC": k, "n_starts": n,
                         "E_lowest_kJ_per_mol": e,
                         "change_eV": change if j else math.nan,
                         "stable": bool(last and j and abs(change) <= STABLE_EV)})
            prev = e
    return rows


def boltzmann_energy(energies_kJ_per_mol: list[float], temperature_K: float) -> float:
    """−kT ln Σ_i exp(−E_i/kT) (kJ/mol) over distinct minima (energies within
    :data:`SAME_MINIMUM_KJ_PER_MOL` of one another count once); NaN for none."""
    e = np.sort(np.asarray([v for v in energies_kJ_per_mol if math.isfinite(v)], float))
    if not e.size:
        return math.nan
    distinct = e[np.concatenate([[True], np.diff(e) > SAME_MINIMUM_KJ_PER_MOL])]
    kt = kT_kJ_per_mol(temperature_K)
    return float(distinct[0] - kt * np.log(np.sum(np.exp(-(distinct - distinct[0]) / kt))))


__all__ = ["K_HOLD", "STABLE_EV", "AnnealProtocol", "add_holds", "anneal_cluster",
           "boltzmann_energy", "convergence_rows", "lowest_bound"]
