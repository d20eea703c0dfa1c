"""Read a System XML + PDB (+ metadata JSON) into a :class:`~predesolv.built.BuiltSystem`.

Used for ``system.from_files`` configs and to load a run directory's inputs back
(:meth:`predesolv.rundir.RunDir.load_built`).
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import openmm
from openmm import app, unit

from predesolv.built import BuiltSystem
from predesolv.errors import ConfigError
from predesolv.metadata import Metadata, MetadataError


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
