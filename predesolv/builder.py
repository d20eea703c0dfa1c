"""Turn the ``system`` config block into a :class:`~predesolv.built.BuiltSystem`.

Dispatch only: user files are read here; builders live in :mod:`predesolv.systems`.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import numpy as np
import openmm
from openmm import app, unit

from predesolv.built import BuiltSystem
from predesolv.config.system import SystemConfig
from predesolv.errors import ConfigError
from predesolv.metadata import Metadata, MetadataError

#: Barostat forces removed from an input System (the stages decide the ensemble).
BAROSTAT_TYPES = (
    openmm.MonteCarloBarostat,
    openmm.MonteCarloAnisotropicBarostat,
    openmm.MonteCarloMembraneBarostat,
    openmm.MonteCarloFlexibleBarostat,
)


def load_files(system_xml: str, pdb: str, metadata: str | None = None) -> BuiltSystem:
    """Load a user's serialized System and PDB.

    Raises
    ------
    ConfigError
        The XML is not an OpenMM System, the PDB cannot be read, the particle counts differ,
        or the system is periodic but the PDB has no box.
    """
    try:
        system = openmm.XmlSerializer.deserialize(Path(system_xml).read_text())
    except Exception as exc:  # OpenMM raises a bare Exception subclass for bad XML
        raise ConfigError(
            f"cannot read {system_xml} as an OpenMM System XML ({str(exc).splitlines()[0]}); "
            f"write it with openmm.XmlSerializer.serialize(system)", "system.from_files.system_xml"
        ) from None
    if not isinstance(system, openmm.System):
        raise ConfigError(
            f"{system_xml} holds a {type(system).__name__}, not a System",
            "system.from_files.system_xml",
        )
    try:
        pdbfile = app.PDBFile(pdb)
    except Exception as exc:  # PDBFile raises ValueError/KeyError/IndexError for bad files
        raise ConfigError(f"cannot read PDB {pdb}: {exc}", "system.from_files.pdb") from None
    top = pdbfile.topology
    if top.getNumAtoms() != system.getNumParticles():
        raise ConfigError(
            f"{pdb} has {top.getNumAtoms()} atoms but {system_xml} has "
            f"{system.getNumParticles()} particles; they must describe the same system",
            "system.from_files",
        )
    positions = pdbfile.getPositions(asNumpy=True)
    if not np.all(np.isfinite(positions.value_in_unit(unit.nanometer))):
        raise ConfigError(f"{pdb} has non-finite (nan/inf) coordinates",
                          "system.from_files.pdb")
    if system.usesPeriodicBoundaryConditions():
        if top.getPeriodicBoxVectors() is None:
            top.setPeriodicBoxVectors(system.getDefaultPeriodicBoxVectors())
        _check_box_fits_cutoff(system, top, pdb)
    md = Metadata()
    if metadata:
        try:
            md = Metadata.load(metadata)
        except MetadataError as exc:
            raise ConfigError(str(exc), "system.from_files.metadata") from None
    md.provenance["source"] = {"system_xml": system_xml, "pdb": pdb}
    return BuiltSystem(system=system, topology=top, positions=positions, metadata=md)


def _check_box_fits_cutoff(system: openmm.System, top: app.Topology, pdb: str) -> None:
    """Every perpendicular box width must be at least twice every nonbonded cutoff.

    Raises
    ------
    ConfigError
        Naming ``system.from_files.pdb``, the shortest width and the cutoff.
    """
    vecs = np.asarray([v.value_in_unit(unit.nanometer) for v in top.getPeriodicBoxVectors()])
    vol = abs(np.linalg.det(vecs))
    widths = [vol / np.linalg.norm(np.cross(vecs[(k + 1) % 3], vecs[(k + 2) % 3]))
              for k in range(3)]
    cutoffs = [f.getCutoffDistance().value_in_unit(unit.nanometer)
               for f in system.getForces()
               if isinstance(f, (openmm.NonbondedForce, openmm.CustomNonbondedForce))
               and f.usesPeriodicBoundaryConditions()]
    if cutoffs and min(widths) < 2 * max(cutoffs):
        raise ConfigError(
            f"the periodic box of {pdb} is {min(widths):.3f} nm wide along its shortest "
            f"direction, less than twice the nonbonded cutoff {max(cutoffs):g} nm; use a larger "
            f"box (CRYST1) or a shorter cutoff", "system.from_files.pdb")


def build_system(cfg: SystemConfig) -> BuiltSystem:
    """Build (or load) the system the ``system`` block describes. Never runs MD."""
    if cfg.from_files is not None:
        f = cfg.from_files
        return load_files(f.system_xml, f.pdb, f.metadata)
    seed = int(cfg.seed if cfg.seed is not None else 0)
    if cfg.ion_slit is not None:
        from predesolv.systems.ion_slit import build_ion_slit

        s = cfg.ion_slit
        return build_ion_slit(s.spacing.value_in_unit(unit.nanometer), s.ions,
                              stacking=s.stacking, edge=s.edge,
                              layers_per_wall=s.layers_per_wall, forcefield=cfg.forcefield)
    if cfg.electrode is not None:
        from predesolv.systems.cell import build_cell

        return build_cell(cfg.electrolyte, cfg.electrode, cfg.forcefield, seed)
    from predesolv.systems.electrolyte import build_electrolyte

    assert cfg.electrolyte is not None  # SystemConfig requires one source of the system
    return build_electrolyte(cfg.electrolyte, cfg.forcefield, seed)


def prepare_system(built: BuiltSystem, simulation: Any) -> openmm.System:
    """The System a run integrates: a copy of ``built.system`` without barostats (the stages
    choose the ensemble) and, when ``simulation.hydrogen_mass`` is set, with hydrogen masses
    repartitioned. Used by ``predesolv build`` and the runner, so a built folder holds the
    System the run will use. Repartitioning is idempotent (a System whose hydrogens already
    have the target mass is unchanged), so preparing twice never changes masses twice.
    """
    import copy
    import sys

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
