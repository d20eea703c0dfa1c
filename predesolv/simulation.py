"""How a built system becomes an OpenMM Simulation: one definition for the runner and the API.

:func:`prepare_system` (barostats removed, hydrogen masses repartitioned),
:func:`make_integrator` and :func:`stage_seed` (the integrator of a stage and its seed), and
:func:`create_simulation` (all of it, as the runner sets up a stage). :class:`BuiltSystem`
stays plain data; this module sets it in motion.
"""

from __future__ import annotations

import copy
import sys

import openmm
from openmm import app, unit

from predesolv.built import BuiltSystem
from predesolv.config.simulation import SimulationConfig
from predesolv.errors import ConfigError
from predesolv.platforms import select_platform

#: Barostat forces removed from an input System (the stages decide the ensemble).
BAROSTAT_TYPES = (
    openmm.MonteCarloBarostat,
    openmm.MonteCarloAnisotropicBarostat,
    openmm.MonteCarloMembraneBarostat,
    openmm.MonteCarloFlexibleBarostat,
)


def prepare_system(built: BuiltSystem, simulation: SimulationConfig) -> openmm.System:
    """The System a run integrates: a copy of ``built.system`` without barostats (the stages
    choose the ensemble) and, when ``simulation.hydrogen_mass`` is set, with hydrogen masses
    repartitioned. Used by ``predesolv build`` and the runner, so a built folder holds the
    System the run will use. Repartitioning is idempotent (a System whose hydrogens already
    have the target mass is unchanged), so preparing twice never changes masses twice.
    """
    system = copy.deepcopy(built.system)
    for idx in reversed(range(system.getNumForces())):
        if isinstance(system.getForce(idx), BAROSTAT_TYPES):
            system.removeForce(idx)
            sys.stderr.write("note: removed a barostat from the input System; the stages "
                             "decide the ensemble\n")
    if simulation.hydrogen_mass is not None:
        repartition_hydrogen_mass(system, built.topology, simulation.hydrogen_mass)
    return system


def repartition_hydrogen_mass(
    system: openmm.System, topology: app.Topology, hydrogen_mass: unit.Quantity
) -> int:
    """Hydrogen mass repartitioning: set each H to ``hydrogen_mass``, taking the difference
    from the heavy atom it is bonded to. Frozen (mass 0) atoms are left alone.

    Returns
    -------
    int
        Number of hydrogens changed.

    Raises
    ------
    ConfigError
        A heavy atom would end up with mass ≤ 0 (``simulation.hydrogen_mass`` too large).
    """
    target = hydrogen_mass.value_in_unit(unit.dalton)
    n = 0
    for bond in topology.bonds():
        a, b = bond[0], bond[1]
        for h, heavy in ((a, b), (b, a)):
            if h.element is None or h.element.symbol != "H":
                continue
            if heavy.element is not None and heavy.element.symbol == "H":
                continue
            mh = system.getParticleMass(h.index).value_in_unit(unit.dalton)
            mx = system.getParticleMass(heavy.index).value_in_unit(unit.dalton)
            if mh == 0 or mx == 0:
                continue
            delta = target - mh
            if mx - delta <= 0.5:
                raise ConfigError(
                    f"{hydrogen_mass} leaves atom {heavy.name} ({heavy.index}) with mass "
                    f"{mx - delta:.3f} Da; use a smaller hydrogen mass (3-4 amu is usual)",
                    "simulation.hydrogen_mass",
                )
            system.setParticleMass(h.index, target * unit.dalton)
            system.setParticleMass(heavy.index, (mx - delta) * unit.dalton)
            n += 1
    return n


def stage_seed(seed: int, index: int) -> int:
    """The seed of stage ``index`` from ``simulation.seed`` (never 0: OpenMM's "random")."""
    return (seed + 7919 * (index + 1)) % (2**31 - 2) + 1


def make_integrator(simulation: SimulationConfig, stage_index: int = 0) -> openmm.Integrator:
    """The integrator of stage ``stage_index``: ``LangevinMiddleIntegrator`` at
    ``simulation.temperature``/``friction``/``timestep``, its random seed derived from
    ``simulation.seed`` (one definition for the runner and ``BuiltSystem.create_simulation``).
    """
    integrator = openmm.LangevinMiddleIntegrator(simulation.temperature, simulation.friction,
                                                 simulation.timestep)
    integrator.setRandomNumberSeed(stage_seed(int(simulation.seed or 0), stage_index))
    return integrator


def create_simulation(built: BuiltSystem, simulation: SimulationConfig, platform: str | None = None,
                      stage_index: int = 0, velocities: bool = True) -> app.Simulation:
    """An ``openmm.app.Simulation`` set up exactly as the runner sets up a stage.

    Same System preparation (barostats removed, hydrogen masses repartitioned as
    ``simulation.hydrogen_mass`` asks), same integrator and seed, constraints from the
    System, same platform choice (``auto`` = fastest usable) and properties; positions and
    box vectors set; velocities drawn from Maxwell-Boltzmann at ``simulation.temperature``
    with the stage's seed, as the runner starts an MD stage that follows no other (frozen
    particles stay at rest). Attach your own reporters and step it.

    Parameters
    ----------
    simulation : predesolv.config.simulation.SimulationConfig
        The ``simulation`` block (``cfg.simulation`` of a loaded config).
    platform : str, optional
        Overrides ``simulation.platform`` (``"CPU"``, ``"CUDA"``, ...).
    stage_index : int
        Stage whose integrator and velocity seeds to use (the runner's derivation).
    velocities : bool
        Draw velocities (default); False leaves them at zero (e.g. to minimise first).
    """
    plat, props = select_platform(platform or simulation.platform, simulation.precision,
                                  simulation.device_index, simulation.cpu_threads)
    sim = app.Simulation(built.topology, prepare_system(built, simulation),
                         make_integrator(simulation, stage_index), plat, dict(props))
    box = built.topology.getPeriodicBoxVectors()
    if box is not None:
        sim.context.setPeriodicBoxVectors(*box)
    sim.context.setPositions(built.positions)
    if velocities:
        sim.context.setVelocitiesToTemperature(
            simulation.temperature, stage_seed(int(simulation.seed or 0), stage_index))
    return sim
