"""The object builders hand to the runner: System, Topology, positions and metadata.

Builders (``predesolv.systems``) return a :class:`BuiltSystem`; the runner writes it into
the run directory (``system.xml``, ``topology.pdb``, ``metadata.json``) and analysis reads
those files back without ever importing a builder.

``metadata`` is a JSON-serialisable dict with this shape (all lengths in nm, indices are
0-based atom indices into the topology)::

    {
      "schema_version": 1,
      "units": {"length": "nm", "charge": "e"},
      "species": {"cation": "Na", "anion": "PF6", "solvents": ["DME"]},
      "groups": {                       # name -> sorted list of atom indices
        "cation": [...], "anion": [...], "anion_coord": [...],
        "solvent:DME": [...], "solvent_O:DME": [...],
        "electrode": [...], "frozen": [...], ...
      },
      "geometry": {                     # only for cells with an electrode
        "kind": "slit" | "stagewise_pore" | "surface",
        "insertion": {"axis": "x", "origin_nm": 3.2, "direction": 1},
        "regions": [                    # first match wins; an atom matching none is "bulk"
          {"name": "inside", "bounds_nm": {"x": [3.2, 6.0], "z": [1.1, 1.7]}},
          {"name": "mouth",  "bounds_nm": {"x": [2.4, 3.2], "z": [0.8, 2.0]}}
        ],
        "fixed_axes": ["z"],            # axes a barostat must not scale
        ...                             # builder-specific geometry (spacing_nm, ...)
      },
      "charges": {...},                 # realised electrode charges, sigma, mode
      "provenance": {...}               # builder name, version, force-field files, seed
    }
"""

from __future__ import annotations

import copy
from dataclasses import dataclass, field
from typing import Any

import numpy as np
import openmm
from openmm import app, unit

METADATA_SCHEMA_VERSION = 1


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
    metadata : dict
        JSON-serialisable description (see module docstring).
    """

    system: openmm.System
    topology: app.Topology
    positions: unit.Quantity
    metadata: dict[str, Any] = field(default_factory=dict)

    def __post_init__(self) -> None:
        n_sys = self.system.getNumParticles()
        n_top = self.topology.getNumAtoms()
        pos = np.asarray(self.positions.value_in_unit(unit.nanometer))
        if n_sys != n_top or pos.shape != (n_top, 3):
            raise ValueError(
                f"BuiltSystem is inconsistent: System has {n_sys} particles, Topology "
                f"{n_top} atoms, positions shape {pos.shape}"
            )
        md = copy.deepcopy(self.metadata) if self.metadata else {}
        md.setdefault("schema_version", METADATA_SCHEMA_VERSION)
        md.setdefault("units", {"length": "nm", "charge": "e"})
        md.setdefault("groups", {})
        self.metadata = md

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
