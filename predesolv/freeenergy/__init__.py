"""Free energies along collective variables: CVs, biases and their energies.

* :mod:`.cv`, :mod:`.coordination` — :class:`PositionCV`, :class:`DistanceCV`,
  :class:`CoordinationCV`, :class:`SumCV`: one definition evaluated as an OpenMM force
  (``to_force``) and with NumPy (``from_positions``);
* :mod:`.groups` — :func:`resolve_group`: ``"cation[0]"``, ``"solvent:DME#3"``, atom indices,
  ``"sel:<MDAnalysis selection>"``;
* :mod:`.definitions` — CVs from metadata (insertion coordinate, coordination per kind);
* :mod:`.restraints` — harmonic biases and flat-bottom walls as System transforms (centre and
  force constant are global parameters: one Context serves every window) and the reduced
  bias energies MBAR needs.
"""

from .coordination import CoordinationCV, rational_switch
from .cv import DistanceCV, PositionCV, SumCV
from .definitions import (
    coordination_cvs,
    cv_timeseries,
    distance_cv,
    partner_groups,
    position_cv,
)
from .groups import element_masses, resolve_group
from .restraints import (
    FlatBottom,
    HarmonicBias,
    add_flat_bottom,
    add_harmonic_bias,
    flat_bottom_energy_kj,
    harmonic_energy_kj,
    kt_kj_per_mol,
    reduced_harmonic_bias,
)

__all__ = [
    "CoordinationCV",
    "DistanceCV",
    "FlatBottom",
    "HarmonicBias",
    "PositionCV",
    "SumCV",
    "add_flat_bottom",
    "add_harmonic_bias",
    "coordination_cvs",
    "cv_timeseries",
    "distance_cv",
    "element_masses",
    "flat_bottom_energy_kj",
    "harmonic_energy_kj",
    "kt_kj_per_mol",
    "partner_groups",
    "position_cv",
    "rational_switch",
    "reduced_harmonic_bias",
    "resolve_group",
]
