"""The object builders hand to the runner: System, Topology, positions and metadata.

Builders (``predesolv.systems``) return a :class:`BuiltSystem`; the runner writes it into
the run directory (``system.xml``, ``topology.pdb``, ``metadata.json``) and analysis reads
those files back without ever importing a builder.

``metadata`` is a :class:`predesolv.metadata.Metadata` (typed; its module docstring shows
the JSON written to ``metadata.json``). A plain dict of that JSON shape is accepted and
checked on construction.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np
import openmm
from openmm import app, unit

from predesolv.errors import BuildError
from predesolv.metadata import Metadata


@dataclass
class BuiltSystem:
    """A parameterised system ready to simulate.

    Attributes
    ----------
    system : openmm.System
        Forces, masses (0 for frozen particles), constraints and periodic box.
    topology : openmm.app.Topology
        Atoms, residues, chains and bonds; periodic box vectors set.
    positions : openmm.unit.Quantity
        Shape (n_atoms, 3), length units.
    metadata : Metadata
        Atom groups, geometry, charges (a dict of the ``metadata.json`` shape is converted).
    """

    system: openmm.System
    topology: app.Topology
    positions: unit.Quantity
    metadata: Metadata = field(default_factory=Metadata)

    def __post_init__(self) -> None:
        n_sys = self.system.getNumParticles()
        n_top = self.topology.getNumAtoms()
        pos = np.asarray(self.positions.value_in_unit(unit.nanometer))
        if n_sys != n_top or pos.shape != (n_top, 3):
            raise BuildError(
                f"BuiltSystem is inconsistent: System has {n_sys} particles, Topology "
                f"{n_top} atoms, positions shape {pos.shape}"
            )
        if not isinstance(self.metadata, Metadata):
            self.metadata = Metadata.from_dict(dict(self.metadata or {}), "BuiltSystem.metadata")
        if self.metadata.groups.max_index() >= n_sys:
            raise BuildError(
                f"BuiltSystem metadata groups index atom {self.metadata.groups.max_index()} "
                f"but the System has {n_sys} particles"
            )

    @property
    def n_atoms(self) -> int:
        """Number of particles."""
        return self.system.getNumParticles()

    def frozen_indices(self) -> list[int]:
        """Indices of particles with zero mass (not moved by the integrator)."""
        return [
            i
            for i in range(self.system.getNumParticles())
            if self.system.getParticleMass(i).value_in_unit(unit.dalton) == 0.0
        ]
