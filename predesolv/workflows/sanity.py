"""Refuse PMF settings that cannot give a meaningful answer, before anything is written.

* **A force constant the time step cannot integrate.** A harmonic restraint of constant k on a
  group's centre of mass (or on the distance of two groups) oscillates with
  ω = sqrt(k / m), m the group's total mass (the reduced mass for a distance; the mobile
  group's alone when the other is frozen). The Langevin integrator resolves it only with many
  steps per period; ω Δt above :data:`MAX_OMEGA_DT` (about 10 steps per period) is refused.
* **Windows closer than they can be told apart.** Neighbouring centres closer than
  :data:`MIN_SPACING_SIGMA` thermal widths σ = sqrt(kT/k) sample the same configurations.
* **A pull target the CV cannot reach** (beyond half the box along a position CV's axis, or
  beyond half the shortest box edge for a minimum-image distance).
"""

from __future__ import annotations

import math
from typing import Any

import numpy as np
from openmm import unit

from predesolv.config.freeenergy import DistanceCVSpec, PositionCVSpec
from predesolv.constants import kT_kJ_per_mol
from predesolv.errors import ConfigError
from predesolv.freeenergy.bias import resolve_cv

#: Largest ω Δt of a restraint (rad; 2π/10: ten steps per oscillation period).
MAX_OMEGA_DT = 2 * math.pi / 10
#: Smallest spacing of neighbouring window centres, in thermal widths sqrt(kT/k).
MIN_SPACING_SIGMA = 0.1


def _mass(system: Any, atoms: tuple[int, ...]) -> float:
    return float(sum(system.getParticleMass(int(i)).value_in_unit(unit.dalton) for i in atoms))


def restraint_mass_amu(spec: Any, built: Any, field: str) -> float | None:
    """The mass (amu) a restraint on ``spec`` moves: a group's total, or the reduced mass of
    a distance (the mobile group's when the other is frozen); None for other CVs."""

    if isinstance(spec, PositionCVSpec):
        return _mass(built.system, resolve_cv(spec, built, field).atoms)
    if isinstance(spec, DistanceCVSpec):
        cv = resolve_cv(spec, built, field).cv
        ma, mb = _mass(built.system, cv.group_a), _mass(built.system, cv.group_b)
        if ma == 0 or mb == 0:
            return ma or mb
        return ma * mb / (ma + mb)
    return None


def check_stiffness(mass_amu: float | None, k: float, dt_ps: float, field: str) -> None:
    """Refuse ``k`` (kJ/mol/nm²) on a restrained mass (amu, :func:`restraint_mass_amu`;
    None or 0: not checked) when ω Δt exceeds :data:`MAX_OMEGA_DT`."""
    if not mass_amu:
        return
    omega_dt = math.sqrt(k / mass_amu) * dt_ps
    if not omega_dt <= MAX_OMEGA_DT:
        k_max = (MAX_OMEGA_DT / dt_ps) ** 2 * mass_amu
        raise ConfigError(
            f"k = {k:.4g} kJ/mol/nm² on a group of {mass_amu:.4g} amu oscillates with ω Δt = "
            f"{omega_dt:.3g} at Δt = {dt_ps:g} ps (allowed <= {MAX_OMEGA_DT:.2f}, ten steps "
            f"per period): lower k to at most {k_max:.4g} kJ/mol/nm² or shorten "
            f"simulation.timestep", field)


def check_spacing(centers: list[float], ks: list[float], temperature_K: float,
                  cv_unit: str, field: str = "pmf.windows") -> None:
    """Refuse neighbouring centres closer than :data:`MIN_SPACING_SIGMA` thermal widths."""
    order = np.argsort(centers)
    c = np.asarray(centers, float)[order]
    k = np.asarray(ks, float)[order]
    kT = kT_kJ_per_mol(temperature_K)
    for i in range(len(c) - 1):
        sigma = math.sqrt(kT / max(k[i], k[i + 1]))
        if c[i + 1] - c[i] < MIN_SPACING_SIGMA * sigma:
            u = f" {cv_unit}" if cv_unit else ""
            raise ConfigError(
                f"centres {c[i]:.4g} and {c[i + 1]:.4g}{u} are {c[i + 1] - c[i]:.3g}{u} apart, "
                f"less than {MIN_SPACING_SIGMA:g} of a window's thermal width sqrt(kT/k) = "
                f"{sigma:.3g}{u}: they sample the same configurations; use fewer windows",
                field)


def check_pull_target(spec: Any, target: float, built: Any) -> None:
    """Refuse a pull target the CV cannot reach in this box."""
    box = built.topology.getPeriodicBoxVectors()
    if box is None:
        return
    lengths = [box[i][i].value_in_unit(unit.nanometer) for i in range(3)]
    if isinstance(spec, PositionCVSpec):

        axis = resolve_cv(spec, built, "pull.cv").cv.axis
        half = lengths["xyz".index(axis)] / 2
        if abs(target) > half:
            raise ConfigError(f"{target:g} nm lies beyond half the box along {axis} "
                              f"({half:.4g} nm), where the position wraps; keep |target| <= "
                              f"{half:.4g} nm", "pull.target")
    elif isinstance(spec, DistanceCVSpec) and target > min(lengths) / 2:
        raise ConfigError(f"{target:g} nm exceeds half the shortest box edge "
                          f"({min(lengths) / 2:.4g} nm), the longest minimum-image distance",
                          "pull.target")


def check_pmf_sanity(cfg: Any, built: Any) -> None:
    """All three checks on a ``pmf`` config (and its pull, walls)."""
    pmf, dt = cfg.pmf, cfg.simulation.timestep.value_in_unit(unit.picosecond)
    ks = pmf.force_constants()
    m = restraint_mass_amu(pmf.cv, built, "pmf.cv")
    for i, k in enumerate(ks):
        check_stiffness(m, k, dt, f"pmf.k[{i}]" if isinstance(pmf.k, list) else "pmf.k")
    for i, w in enumerate(pmf.walls):
        check_stiffness(restraint_mass_amu(w.cv, built, f"pmf.walls[{i}].cv"),
                        w.cv.force_constant(w.k, "k"), dt, f"pmf.walls[{i}].k")
    check_spacing(pmf.centers(), ks, cfg.simulation.temperature.value_in_unit(unit.kelvin),
                  pmf.cv.unit)
    if pmf.cv2 is not None:
        k2 = pmf.cv2.k_value
        check_stiffness(restraint_mass_amu(pmf.cv2.cv, built, "pmf.cv2.cv"), k2, dt,
                        "pmf.cv2.k")
        check_spacing(pmf.cv2.centers(), [k2] * len(pmf.cv2.centers()),
                      cfg.simulation.temperature.value_in_unit(unit.kelvin), pmf.cv2.cv.unit,
                      "pmf.cv2.windows")
    if cfg.pull is not None:
        p = cfg.pull
        check_stiffness(restraint_mass_amu(p.cv, built, "pull.cv"),
                        p.cv.force_constant(p.k, "k"), dt, "pull.k")
        check_pull_target(p.cv, p.cv.value(p.target, "target"), built)


__all__ = ["MAX_OMEGA_DT", "MIN_SPACING_SIGMA", "check_pmf_sanity", "check_pull_target",
           "check_spacing", "check_stiffness", "restraint_mass_amu"]
