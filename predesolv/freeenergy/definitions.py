"""CVs from group specs and metadata (built cells) or a topology (users' own systems).

:func:`position_cv` defaults to the insertion coordinate of a cell
(``metadata.geometry.insertion``: axis, origin at the mouth, direction), :func:`distance_cv`
joins two group specs, :func:`coordination_cvs` gives one coordination CV per coordinating
kind (each solvent's ``solvent_O:<NAME>`` group, the anion's ``anion_coord``) and their sum
over solvents, with ``r0`` defaulting to the first RDF minimum the analysis uses
(:func:`predesolv.analysis.rdf.default_r0_nm`). :func:`cv_timeseries` evaluates a CV on
every frame of a trajectory.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

import numpy as np

from predesolv.errors import ConfigError
from predesolv.metadata import ANION_COORD, Metadata, solvent_o_group

from .coordination import CoordinationCV
from .cv import DistanceCV, PositionCV, SumCV
from .groups import GroupSpec, resolve_group

SOLVENT_TOTAL = "solvent"
"""Key of the summed solvent coordination in :func:`coordination_cvs`."""


def position_cv(group: GroupSpec, metadata: Metadata | None = None, topology: Any = None, *,
                axis: str | None = None, origin_nm: float | None = None,
                direction: int | None = None, center_nm: float | None = None,
                weights: Any = None, field: str | None = None) -> PositionCV:
    """Position of a group along an axis, by default the insertion coordinate of a cell.

    Parameters
    ----------
    group : group spec
        See :func:`~predesolv.freeenergy.groups.resolve_group` (``"cation[0]"``, ...).
    metadata : Metadata, optional
        Groups and ``geometry.insertion`` (the default axis, origin and direction).
    topology : optional
        For ``#k`` and ``sel:`` specs.
    axis, origin_nm, direction, center_nm, weights
        Override the insertion defaults (see :class:`PositionCV`); required without an
        insertion coordinate in the metadata (``direction`` then defaults to +1).
    field : str, optional
        YAML field named in errors.

    Raises
    ------
    ConfigError
        No axis or origin given and none in the metadata; bad group spec.
    """
    atoms = resolve_group(group, metadata, topology, field=field)
    ins = None if metadata is None or metadata.geometry is None else metadata.geometry.insertion
    if ins is not None:
        axis = ins.axis if axis is None else axis
        origin_nm = ins.origin_nm if origin_nm is None else origin_nm
        direction = ins.direction if direction is None else direction
    if axis is None or origin_nm is None:
        raise ConfigError(f"{field or 'position CV'}: the metadata has no insertion coordinate "
                          "(geometry.insertion); give axis and origin_nm")
    return PositionCV(atoms, axis=axis, origin_nm=float(origin_nm),
                      direction=1 if direction is None else int(direction), center_nm=center_nm,
                      weights=None if weights is None else tuple(float(w) for w in weights))


def distance_cv(group_a: GroupSpec, group_b: GroupSpec, metadata: Metadata | None = None,
                topology: Any = None, *, field: str | None = None) -> DistanceCV:
    """Minimum-image distance between the centres of mass of two group specs (nm)."""
    return DistanceCV(resolve_group(group_a, metadata, topology, field=field),
                      resolve_group(group_b, metadata, topology, field=field))


def partner_groups(metadata: Metadata) -> dict[str, str]:
    """Coordinating kinds and their metadata groups, as the analysis pairs them.

    Returns
    -------
    dict of str to str
        ``{"DME": "solvent_O:DME", ..., "PF6": "anion_coord"}`` (kinds with empty groups
        are left out; the anion kind is ``species.anion`` or ``"anion"``).
    """
    out = {s: solvent_o_group(s) for s in metadata.solvent_names()
           if metadata.groups.get(solvent_o_group(s))}
    if metadata.groups.get(ANION_COORD):
        out[metadata.species.anion or "anion"] = ANION_COORD
    return out


def _r0_of(r0_nm: float | Mapping[str, float], kind: str, field: str | None) -> float:
    if isinstance(r0_nm, Mapping):
        if kind not in r0_nm:
            raise ConfigError(f"{field or 'coordination CV'}: no r0 for {kind!r}; given for "
                              f"{', '.join(sorted(r0_nm)) or 'nothing'}")
        return float(r0_nm[kind])
    return float(r0_nm)


def coordination_cvs(cation: GroupSpec, metadata: Metadata, r0_nm: float | Mapping[str, float],
                     topology: Any = None, *, n: int = 6, m: int = 12, d0_nm: float = 0.0,
                     d_max_nm: float | None = None, field: str | None = None
                     ) -> dict[str, Any]:
    """Coordination CVs of one cation: one per coordinating kind and the solvent sum.

    Parameters
    ----------
    cation : group spec
        Must name exactly one atom (``"cation[0]"``).
    metadata : Metadata
        Supplies the ``solvent_O:<NAME>`` and ``anion_coord`` groups.
    r0_nm : float or dict of str to float
        Switching length per kind, nm (e.g. :func:`predesolv.analysis.rdf.default_r0_nm`).
    n, m, d0_nm, d_max_nm
        See :class:`~predesolv.freeenergy.cv.CoordinationCV`.

    Returns
    -------
    dict of str to CV
        ``{"DME": CoordinationCV, ..., "PF6": CoordinationCV, "solvent": SumCV}``; the
        ``"solvent"`` entry sums the solvent kinds (present when there is at least one).
    """
    atoms = resolve_group(cation, metadata, topology, field=field)
    if len(atoms) != 1:
        raise ConfigError(f"{field or 'coordination CV'}: {cation!r} names {len(atoms)} atoms; "
                          "a coordination CV needs one cation (e.g. 'cation[0]')")
    kinds = partner_groups(metadata)
    if not kinds:
        raise ConfigError(f"{field or 'coordination CV'}: metadata has no 'solvent_O:<NAME>' "
                          "or 'anion_coord' group to coordinate the cation")
    out: dict[str, Any] = {
        kind: CoordinationCV(atoms[0], tuple(metadata.groups[g]), _r0_of(r0_nm, kind, field),
                             n=n, m=m, d0_nm=d0_nm, d_max_nm=d_max_nm)
        for kind, g in kinds.items()}
    solvents = [out[s] for s in metadata.solvent_names() if s in out]
    if solvents:
        out[SOLVENT_TOTAL] = SumCV(tuple(solvents))
    return out


def cv_timeseries(cv: Any, universe: Any, masses: Any = None, start: int | None = None,
                  stop: int | None = None, step: int | None = None) -> np.ndarray:
    """CV value on each frame of an MDAnalysis trajectory.

    Parameters
    ----------
    cv : PositionCV or DistanceCV or CoordinationCV or SumCV
    universe : MDAnalysis.Universe
        Positions in Å (converted to nm); orthorhombic box per frame.
    masses : array_like, optional
        Centre-of-mass weights per atom; default: the Universe's masses (element masses).
    start, stop, step : int, optional
        Frame slice.

    Returns
    -------
    ndarray, shape (n_frames,)
        Values in the CV's unit (nm or dimensionless).
    """
    m = np.asarray(universe.atoms.masses, dtype=float) if masses is None else masses
    out = []
    for ts in universe.trajectory[start:stop:step]:
        box = None if ts.dimensions is None else ts.dimensions[:3] / 10.0
        out.append(cv.from_positions(ts.positions / 10.0, box, m))
    return np.asarray(out, dtype=float)
